/*
 * Unit tests of server/sni.c, the ClientHello that the entry proxy reads
 * before TLS begins: OpenSSL's own ClientHello (with and without SNI)
 * gives its name, fed whole and a byte at a time (0 until it is whole,
 * then its length); split over two records; bytes that cannot begin one
 * fail at the first byte; a record or handshake of another type, a
 * record of a bad length, more than the hello in its records, a hello
 * past SNI_HELLO_MAX, lengths that do not add up, an extension twice,
 * two host names; names: uppercase lowered, an IPv4 address taken,
 * empty labels, a trailing dot, a leading or trailing '-', a label past
 * 63, a last label of digits that is no address, a character outside
 * the host name set: each refused, saying why.
 */
#include <sys/types.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/bio.h>
#include <openssl/ssl.h>

#include "server.h"

#define BUF	(SNI_HELLO_MAX + 1024)

/* OpenSSL's ClientHello for name (NULL: no SNI), as a client sends it */
static size_t
openssl_hello(const char *name, uint8_t *out, size_t cap)
{
	SSL_CTX	*ctx;
	SSL	*ssl;
	BIO	*rb, *wb;
	int	 n;

	assert_non_null(ctx = SSL_CTX_new(TLS_client_method()));
	assert_non_null(ssl = SSL_new(ctx));
	rb = BIO_new(BIO_s_mem());
	wb = BIO_new(BIO_s_mem());
	SSL_set_bio(ssl, rb, wb);
	/* the macro casts to void *: a copy of our own, not a const one */
	if (name != NULL) {
		char	 host[256];

		strlcpy(host, name, sizeof(host));
		assert_int_equal(SSL_set_tlsext_host_name(ssl, host), 1);
	}
	SSL_set_connect_state(ssl);
	assert_int_equal(SSL_do_handshake(ssl), -1);
	n = BIO_read(wb, out, cap);
	assert_true(n > 0);
	SSL_free(ssl);
	SSL_CTX_free(ctx);
	return (n);
}

/* a ClientHello body of the given extensions, in one record */
static size_t
hello_with(const uint8_t *ext, size_t extlen, int with_ext, uint8_t *out)
{
	uint8_t	 body[BUF];
	size_t	 n = 0, hs;

	body[n++] = 3;
	body[n++] = 3;
	memset(body + n, 0, 32);
	n += 32;
	body[n++] = 0;			/* session id */
	body[n++] = 0;
	body[n++] = 2;
	body[n++] = 0x13;
	body[n++] = 0x01;		/* one cipher suite */
	body[n++] = 1;
	body[n++] = 0;			/* compression: null */
	if (with_ext) {
		body[n++] = extlen >> 8;
		body[n++] = extlen & 0xff;
		memcpy(body + n, ext, extlen);
		n += extlen;
	}
	hs = 4 + n;
	out[0] = 22;
	out[1] = 3;
	out[2] = 1;
	out[3] = hs >> 8;
	out[4] = hs & 0xff;
	out[5] = 1;
	out[6] = 0;
	out[7] = n >> 8;
	out[8] = n & 0xff;
	memcpy(out + 9, body, n);
	return (5 + hs);
}

/* a server_name extension of one host name */
static size_t
sni_ext(const char *name, uint8_t *out)
{
	size_t	 len = strlen(name);

	out[0] = 0;
	out[1] = 0;
	out[2] = (len + 5) >> 8;
	out[3] = (len + 5) & 0xff;
	out[4] = (len + 3) >> 8;
	out[5] = (len + 3) & 0xff;
	out[6] = 0;
	out[7] = len >> 8;
	out[8] = len & 0xff;
	memcpy(out + 9, name, len);
	return (9 + len);
}

static ssize_t
parse(const uint8_t *buf, size_t len, char *name, const char **errstr)
{
	return (sni_parse(buf, len, name, CERT_NAME_MAX + 1, errstr));
}

static void
test_openssl(void **state)
{
	uint8_t		 buf[BUF];
	char		 name[CERT_NAME_MAX + 1];
	const char	*errstr;
	size_t		 len, i;

	len = openssl_hello("WWW.Example.com", buf, sizeof(buf));
	assert_int_equal(parse(buf, len, name, &errstr), len);
	assert_string_equal(name, "www.example.com");
	/* a byte at a time: more needed until the last */
	for (i = 0; i < len; i++)
		assert_int_equal(parse(buf, i, name, &errstr), 0);
	/* bytes after it (early data) are not its */
	memcpy(buf + len, "\x17\x03\x03", 3);
	assert_int_equal(parse(buf, len + 3, name, &errstr), len);

	len = openssl_hello(NULL, buf, sizeof(buf));
	assert_int_equal(parse(buf, len, name, &errstr), len);
	assert_string_equal(name, "");

	len = openssl_hello("10.1.2.3", buf, sizeof(buf));
	assert_int_equal(parse(buf, len, name, &errstr), len);
	assert_string_equal(name, "10.1.2.3");
}

static void
test_records(void **state)
{
	uint8_t		 buf[BUF], two[BUF];
	char		 name[CERT_NAME_MAX + 1];
	const char	*errstr;
	size_t		 len, hs, cut = 40;

	/* split over two records */
	len = openssl_hello("split.test", buf, sizeof(buf));
	hs = len - 5;
	memcpy(two, buf, 5 + cut);
	two[3] = cut >> 8;
	two[4] = cut & 0xff;
	two[5 + cut] = 22;
	two[6 + cut] = 3;
	two[7 + cut] = 3;
	two[8 + cut] = (hs - cut) >> 8;
	two[9 + cut] = (hs - cut) & 0xff;
	memcpy(two + 10 + cut, buf + 5 + cut, hs - cut);
	assert_int_equal(parse(two, len + 5, name, &errstr), len + 5);
	assert_string_equal(name, "split.test");
	assert_int_equal(parse(two, 5 + cut + 3, name, &errstr), 0);

	/* garbage fails at its first byte */
	assert_int_equal(parse((const uint8_t *)"G", 1, name, &errstr), -1);
	assert_string_equal(errstr, "not a TLS ClientHello");
	/* another record type, another major version */
	buf[0] = 23;
	assert_int_equal(parse(buf, 1, name, &errstr), -1);
	buf[0] = 22;
	buf[1] = 2;
	assert_int_equal(parse(buf, 2, name, &errstr), -1);
	buf[1] = 3;
	/* another handshake message */
	buf[5] = 2;
	assert_int_equal(parse(buf, 6, name, &errstr), -1);
	buf[5] = 1;
	/* a record of length 0, or past 2^14 */
	memcpy(two, buf, 5);
	two[3] = two[4] = 0;
	assert_int_equal(parse(two, 5, name, &errstr), -1);
	two[3] = 0x40;
	two[4] = 0x01;
	assert_int_equal(parse(two, 5, name, &errstr), -1);
	/* a hello longer than the limit, said at its header */
	memcpy(two, buf, 9);
	two[6] = (SNI_HELLO_MAX + 1) >> 16;
	two[7] = ((SNI_HELLO_MAX + 1) >> 8) & 0xff;
	two[8] = (SNI_HELLO_MAX + 1) & 0xff;
	assert_int_equal(parse(two, 9, name, &errstr), -1);
	assert_string_equal(errstr, "a ClientHello longer than the limit");
	/* a record holding more than the hello */
	memcpy(two, buf, len);
	two[len] = 0;
	hs = len - 5 + 1;
	two[3] = hs >> 8;
	two[4] = hs & 0xff;
	assert_int_equal(parse(two, len + 1, name, &errstr), -1);
	/* lengths inside that do not add up */
	len = hello_with(NULL, 0, 0, two);
	assert_true(parse(two, len, name, &errstr) > 0);	/* no extensions */
	two[9 + 2 + 32] = 33;		/* a session id past 32 */
	assert_int_equal(parse(two, len, name, &errstr), -1);
}

static void
test_extensions(void **state)
{
	uint8_t		 buf[BUF], ext[BUF];
	char		 name[CERT_NAME_MAX + 1];
	const char	*errstr;
	size_t		 n, len;

	n = sni_ext("a.test", ext);
	len = hello_with(ext, n, 1, buf);
	assert_int_equal(parse(buf, len, name, &errstr), len);
	assert_string_equal(name, "a.test");
	/* the extension twice */
	memcpy(ext + n, ext, n);
	len = hello_with(ext, 2 * n, 1, buf);
	assert_int_equal(parse(buf, len, name, &errstr), -1);
	assert_string_equal(errstr, "a ClientHello with an extension twice");
	/* two host names in one list */
	n = sni_ext("a.test", ext);
	memcpy(ext + n, ext + 6, n - 6);
	ext[3] += n - 6;
	ext[5] += n - 6;
	len = hello_with(ext, 2 * n - 6, 1, buf);
	assert_int_equal(parse(buf, len, name, &errstr), -1);
	assert_string_equal(errstr, "a ClientHello with two host names");
	/* an extension longer than the rest */
	n = sni_ext("a.test", ext);
	ext[3]++;
	len = hello_with(ext, n, 1, buf);
	assert_int_equal(parse(buf, len, name, &errstr), -1);
}

static void
test_names(void **state)
{
	const char	*bad[] = { "a..b", ".a", "a.", "-a.b", "a-.b", "a.b-",
	    "a b", "a/b", "a:b", "app.999", "1.2.3", "1.2.3.4.5", "\xc3\xa9.test",
	    "a*.test", "" };
	uint8_t		 buf[BUF], ext[BUF];
	char		 name[CERT_NAME_MAX + 1], big[300];
	const char	*errstr;
	size_t		 i, n, len;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		n = sni_ext(bad[i], ext);
		len = hello_with(ext, n, 1, buf);
		assert_int_equal(parse(buf, len, name, &errstr), -1);
		assert_string_equal(errstr, "the SNI is not a host name");
	}
	/* a label of 63 and one of 64; a name of 253 and of 254 */
	memset(big, 'a', sizeof(big));
	memcpy(big + 63, ".test", 6);
	n = sni_ext(big, ext);
	len = hello_with(ext, n, 1, buf);
	assert_int_equal(parse(buf, len, name, &errstr), len);
	big[63] = 'a';
	memcpy(big + 64, ".test", 6);
	n = sni_ext(big, ext);
	len = hello_with(ext, n, 1, buf);
	assert_int_equal(parse(buf, len, name, &errstr), -1);
	for (i = 0; i < 253; i++)
		big[i] = i % 50 == 49 ? '.' : 'b';
	big[253] = '\0';
	n = sni_ext(big, ext);
	len = hello_with(ext, n, 1, buf);
	assert_int_equal(parse(buf, len, name, &errstr), len);
	assert_int_equal(strlen(name), 253);
	big[253] = 'b';
	big[254] = '\0';
	n = sni_ext(big, ext);
	len = hello_with(ext, n, 1, buf);
	assert_int_equal(parse(buf, len, name, &errstr), -1);
	/* under_scores and digits in labels but the last */
	n = sni_ext("x_1.2b.test", ext);
	len = hello_with(ext, n, 1, buf);
	assert_int_equal(parse(buf, len, name, &errstr), len);
	assert_string_equal(name, "x_1.2b.test");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_openssl),
		cmocka_unit_test(test_records),
		cmocka_unit_test(test_extensions),
		cmocka_unit_test(test_names),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
