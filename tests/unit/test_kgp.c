/*
 * Unit tests of the KGP frame codec (common/kgp.c): the header and its
 * sequence numbers, the connection payloads (HELLO, WELCOME, code + text,
 * u32, u64), the KGP v1 forms that decode only to be refused by name,
 * and the rejections of malformed frames.
 */
#include <sys/types.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "kgp.h"

/* a frame whose payload is the given bytes */
static struct kgp_frame
frame(uint8_t type, uint32_t stream, const void *payload, size_t len)
{
	struct kgp_frame	 f;

	memset(&f, 0, sizeof(f));
	f.type = type;
	f.len = len;
	f.stream = stream;
	f.payload = payload;
	return (f);
}

static void
test_hdr_encode_wire(void **state)
{
	uint8_t		 buf[KGP_HDRLEN];
	const uint8_t	 want[KGP_HDRLEN] = {
		7, 0, 0x01, 0x2c, 0x01, 0x02, 0x03, 0x04, 0, 0, 0, 0
	};
	const uint8_t	 want_seq[KGP_HDRLEN] = {
		8, 0, 0, 4, 0, 0, 0, 5, 0x0a, 0x0b, 0x0c, 0x0d
	};

	(void)state;
	memset(buf, 0xaa, sizeof(buf));
	kgp_encode_hdr(buf, KGP_DATA, 300, 0x01020304);
	assert_memory_equal(buf, want, sizeof(want));

	/* the sequence number: the last four bytes, big-endian */
	memset(buf, 0xaa, sizeof(buf));
	kgp_encode_hdr_seq(buf, KGP_WINDOW, 4, 5, 0x0a0b0c0d);
	assert_memory_equal(buf, want_seq, sizeof(want_seq));
}

static void
test_hdr_roundtrip(void **state)
{
	uint8_t			 buf[KGP_HDRLEN + 4];
	struct kgp_frame	 f;
	const char		*errstr = NULL;
	uint32_t		 seq;
	uint8_t			 t;

	(void)state;
	for (t = 1; t <= KGP_TYPE_MAX; t++) {
		seq = kgp_type_numbered(t) ? 0x80000000U + t : 0;
		kgp_encode_hdr_seq(buf, t, 4, 0xfffffffe, seq);
		memcpy(buf + KGP_HDRLEN, "abcd", 4);
		if (kgp_decode_hdr(buf, sizeof(buf), &f, &errstr) != 0)
			fail_msg("%s: %s", kgp_type_name(t), errstr);
		assert_int_equal(f.type, t);
		assert_int_equal(f.flags, 0);
		assert_int_equal(f.len, 4);
		assert_int_equal(f.stream, 0xfffffffe);
		assert_int_equal(f.seq, seq);
		assert_ptr_equal(f.payload, buf + KGP_HDRLEN);
		assert_memory_equal(f.payload, "abcd", 4);
	}
	/* the largest payload and the largest sequence are accepted */
	kgp_encode_hdr_seq(buf, KGP_DATA, KGP_MAXPAYLOAD, 1, 0xffffffff);
	assert_int_equal(kgp_decode_hdr(buf, KGP_HDRLEN, &f, &errstr), 0);
	assert_int_equal(f.len, KGP_MAXPAYLOAD);
	assert_int_equal(f.seq, 0xffffffff);
}

/*
 * Which frames are numbered, and a header whose sequence does not match
 * its type is refused either way.
 */
static void
test_hdr_seq_rules(void **state)
{
	uint8_t			 buf[KGP_HDRLEN];
	struct kgp_frame	 f;
	const char		*errstr;
	uint8_t			 t;
	int			 numbered;

	(void)state;
	for (t = 1; t <= KGP_TYPE_MAX; t++) {
		numbered = t == KGP_OPEN || t == KGP_ACCEPT ||
		    t == KGP_REFUSE || t == KGP_DATA || t == KGP_WINDOW ||
		    t == KGP_FIN || t == KGP_RST;
		if (kgp_type_numbered(t) != numbered)
			fail_msg("%s: numbered %d", kgp_type_name(t),
			    kgp_type_numbered(t));
		errstr = NULL;
		if (numbered) {
			/* kgp_encode_hdr() writes sequence 0 */
			kgp_encode_hdr(buf, t, 0, 1);
			if (kgp_decode_hdr(buf, sizeof(buf), &f, &errstr) !=
			    -1)
				fail_msg("%s without a sequence accepted",
				    kgp_type_name(t));
			assert_non_null(strstr(errstr, "without a sequence"));
		} else {
			kgp_encode_hdr_seq(buf, t, 0, 0, 1);
			if (kgp_decode_hdr(buf, sizeof(buf), &f, &errstr) !=
			    -1)
				fail_msg("%s with a sequence accepted",
				    kgp_type_name(t));
			assert_non_null(strstr(errstr, "unnumbered"));
			kgp_encode_hdr_seq(buf, t, 0, 0, 0xffffffff);
			assert_int_equal(kgp_decode_hdr(buf, sizeof(buf), &f,
			    &errstr), -1);
		}
	}
	assert_int_equal(kgp_type_numbered(0), 0);
	assert_int_equal(kgp_type_numbered(KGP_TYPE_MAX + 1), 0);
	assert_int_equal(kgp_type_numbered(0xff), 0);
}

static void
test_hdr_rejects(void **state)
{
	uint8_t			 buf[KGP_HDRLEN];
	struct kgp_frame	 f;
	const char		*errstr;

	(void)state;
	/* short */
	kgp_encode_hdr(buf, KGP_DATA, 1, 1);
	errstr = NULL;
	assert_int_equal(kgp_decode_hdr(buf, KGP_HDRLEN - 1, &f, &errstr), -1);
	assert_non_null(errstr);
	assert_int_equal(kgp_decode_hdr(buf, 0, &f, &errstr), -1);

	/* type 0 and types past the last one */
	kgp_encode_hdr(buf, 0, 0, 0);
	errstr = NULL;
	assert_int_equal(kgp_decode_hdr(buf, sizeof(buf), &f, &errstr), -1);
	assert_non_null(errstr);
	kgp_encode_hdr(buf, KGP_TYPE_MAX + 1, 0, 0);
	assert_int_equal(kgp_decode_hdr(buf, sizeof(buf), &f, &errstr), -1);
	kgp_encode_hdr(buf, 0xff, 0, 0);
	assert_int_equal(kgp_decode_hdr(buf, sizeof(buf), &f, &errstr), -1);

	/* unknown flags */
	kgp_encode_hdr(buf, KGP_DATA, 1, 1);
	buf[1] = 0x80;
	errstr = NULL;
	assert_int_equal(kgp_decode_hdr(buf, sizeof(buf), &f, &errstr), -1);
	assert_non_null(errstr);

	/* a length past the maximum payload */
	kgp_encode_hdr(buf, KGP_DATA, KGP_MAXPAYLOAD + 1, 1);
	errstr = NULL;
	assert_int_equal(kgp_decode_hdr(buf, sizeof(buf), &f, &errstr), -1);
	assert_non_null(errstr);
	kgp_encode_hdr(buf, KGP_DATA, 0xffff, 1);
	assert_int_equal(kgp_decode_hdr(buf, sizeof(buf), &f, &errstr), -1);
}

/* several frames back to back decode one after the other */
static void
test_hdr_sequence(void **state)
{
	uint8_t			 buf[256];
	struct kgp_frame	 f;
	const char		*errstr;
	size_t			 off = 0, i;

	(void)state;
	for (i = 0; i < 5; i++) {
		kgp_encode_hdr_seq(buf + off, KGP_DATA, i + 1, i + 1, i + 1);
		memset(buf + off + KGP_HDRLEN, 'a' + i, i + 1);
		off += KGP_HDRLEN + i + 1;
	}
	for (i = 0, off = 0; i < 5; i++) {
		assert_int_equal(kgp_decode_hdr(buf + off, sizeof(buf) - off,
		    &f, &errstr), 0);
		assert_int_equal(f.len, i + 1);
		assert_int_equal(f.stream, i + 1);
		assert_int_equal(f.seq, i + 1);
		assert_int_equal(f.payload[0], 'a' + i);
		assert_int_equal(kgp_frame_check(&f, &errstr), 0);
		off += KGP_HDRLEN + f.len;
	}
}

static void
check_ok(uint8_t type, uint32_t stream, size_t len)
{
	static const uint8_t	 zero[64];
	struct kgp_frame	 f = frame(type, stream, zero, len);
	const char		*errstr = NULL;

	if (kgp_frame_check(&f, &errstr) != 0)
		fail_msg("%s stream %u len %zu rejected: %s",
		    kgp_type_name(type), stream, len, errstr);
}

static void
check_bad(uint8_t type, uint32_t stream, size_t len)
{
	static const uint8_t	 zero[64];
	struct kgp_frame	 f = frame(type, stream, zero, len);
	const char		*errstr = NULL;

	if (kgp_frame_check(&f, &errstr) != -1)
		fail_msg("%s stream %u len %zu accepted",
		    kgp_type_name(type), stream, len);
	assert_non_null(errstr);
}

static void
test_frame_check(void **state)
{
	(void)state;
	/* connection frames live on stream 0 */
	check_ok(KGP_HELLO, 0, 30);
	check_bad(KGP_HELLO, 1, 30);
	check_ok(KGP_WELCOME, 0, 10);
	check_bad(KGP_WELCOME, 5, 10);
	check_ok(KGP_ERROR, 0, 2);
	check_ok(KGP_ERROR, 0, 40);
	check_bad(KGP_ERROR, 0, 1);
	check_bad(KGP_ERROR, 3, 2);
	check_ok(KGP_PING, 0, 8);
	check_bad(KGP_PING, 0, 7);
	check_bad(KGP_PING, 0, 9);
	check_bad(KGP_PING, 2, 8);
	check_ok(KGP_PONG, 0, 8);
	check_bad(KGP_PONG, 0, 0);
	/* GOAWAY: code and text, like ERROR */
	check_ok(KGP_GOAWAY, 0, 2);
	check_ok(KGP_GOAWAY, 0, 4);
	check_ok(KGP_GOAWAY, 0, 40);
	check_bad(KGP_GOAWAY, 0, 0);
	check_bad(KGP_GOAWAY, 0, 1);
	check_bad(KGP_GOAWAY, 1, 2);
	/* ACK: a u32 on stream 0 */
	check_ok(KGP_ACK, 0, 4);
	check_bad(KGP_ACK, 0, 0);
	check_bad(KGP_ACK, 0, 3);
	check_bad(KGP_ACK, 0, 5);
	check_bad(KGP_ACK, 0, 8);
	check_bad(KGP_ACK, 1, 4);
	check_bad(KGP_ACK, 0xffffffff, 4);

	/* stream frames never on stream 0 */
	check_ok(KGP_OPEN, 1, 0);
	check_ok(KGP_OPEN, 1, 20);
	check_bad(KGP_OPEN, 0, 20);
	check_ok(KGP_ACCEPT, 9, 0);
	check_bad(KGP_ACCEPT, 9, 1);
	check_bad(KGP_ACCEPT, 0, 0);
	check_ok(KGP_REFUSE, 9, 2);
	check_ok(KGP_REFUSE, 9, 20);
	check_bad(KGP_REFUSE, 9, 1);
	check_ok(KGP_DATA, 1, 1);
	check_ok(KGP_DATA, 0xffffffff, 64);
	check_bad(KGP_DATA, 1, 0);
	check_bad(KGP_DATA, 0, 10);
	check_ok(KGP_WINDOW, 1, 4);
	check_bad(KGP_WINDOW, 1, 8);
	check_bad(KGP_WINDOW, 0, 4);
	check_ok(KGP_FIN, 1, 0);
	check_bad(KGP_FIN, 1, 1);
	check_ok(KGP_RST, 1, 2);
	check_bad(KGP_RST, 1, 0);
	check_bad(KGP_RST, 1, 4);
}

static struct kgp_hello
sample_hello(void)
{
	struct kgp_hello	 h;

	memset(&h, 0, sizeof(h));
	h.vmin = 2;
	h.vmax = 2;
	h.window = 256 * 1024;
	h.conn_index = 3;
	strlcpy(h.tunnel_id, "0123456789abcdef0123456789abcdef",
	    sizeof(h.tunnel_id));
	strlcpy(h.secret, "s3cr3t-Secret", sizeof(h.secret));
	h.session = 0x0102030405060708ULL;
	h.recv_seq = 0xa0b0c0d0;
	return (h);
}

static void
test_hello_roundtrip(void **state)
{
	struct kgp_hello	 h = sample_hello(), out;
	struct kgp_frame	 f;
	uint8_t			 buf[256];
	const char		*errstr = NULL;
	size_t			 n;
	const uint8_t		 tail[12] = {
		1, 2, 3, 4, 5, 6, 7, 8, 0xa0, 0xb0, 0xc0, 0xd0
	};

	(void)state;
	n = kgp_hello_encode(buf, sizeof(buf), &h);
	assert_int_equal(n, 10 + 1 + 32 + 1 + 13 + 12);
	/*
	 * The wire: big-endian integers, length-prefixed strings, then
	 * the session and the last sequence received.
	 */
	assert_int_equal(buf[0], 0);
	assert_int_equal(buf[1], 2);
	assert_int_equal(buf[3], 2);
	assert_int_equal(buf[4], 0x00);
	assert_int_equal(buf[5], 0x04);		/* 256 KiB */
	assert_int_equal(buf[6], 0x00);
	assert_int_equal(buf[9], 3);
	assert_int_equal(buf[10], 32);
	assert_memory_equal(buf + 11, h.tunnel_id, 32);
	assert_int_equal(buf[43], 13);
	assert_memory_equal(buf + 44, h.secret, 13);
	assert_memory_equal(buf + 57, tail, sizeof(tail));

	f = frame(KGP_HELLO, 0, buf, n);
	assert_int_equal(kgp_frame_check(&f, &errstr), 0);
	assert_int_equal(kgp_hello_decode(&f, &out, &errstr), 0);
	assert_int_equal(out.vmin, 2);
	assert_int_equal(out.vmax, 2);
	assert_int_equal(out.window, 256 * 1024);
	assert_int_equal(out.conn_index, 3);
	assert_string_equal(out.tunnel_id, h.tunnel_id);
	assert_string_equal(out.secret, h.secret);
	assert_true(out.session == 0x0102030405060708ULL);
	assert_int_equal(out.recv_seq, 0xa0b0c0d0);

	/* a client that speaks 1 and 2 still sends the v2 fields */
	h.vmin = 1;
	n = kgp_hello_encode(buf, sizeof(buf), &h);
	f = frame(KGP_HELLO, 0, buf, n);
	assert_int_equal(kgp_hello_decode(&f, &out, &errstr), 0);
	assert_int_equal(out.vmin, 1);
	assert_int_equal(out.vmax, 2);
	assert_true(out.session == h.session);
	h.vmin = 2;

	/* the longest id and secret */
	memset(h.tunnel_id, 'i', KGP_IDLEN);
	h.tunnel_id[KGP_IDLEN] = '\0';
	memset(h.secret, 's', KGP_IDLEN);
	h.secret[KGP_IDLEN] = '\0';
	n = kgp_hello_encode(buf, sizeof(buf), &h);
	assert_int_equal(n, 12 + 2 * KGP_IDLEN + 12);
	f = frame(KGP_HELLO, 0, buf, n);
	assert_int_equal(kgp_hello_decode(&f, &out, &errstr), 0);
	assert_string_equal(out.tunnel_id, h.tunnel_id);
	assert_string_equal(out.secret, h.secret);

	/* a buffer one byte too small */
	assert_int_equal(kgp_hello_encode(buf, n - 1, &h), 0);
}

static void
test_hello_truncated(void **state)
{
	struct kgp_hello	 h = sample_hello(), out;
	struct kgp_frame	 f;
	uint8_t			 buf[256];
	const char		*errstr;
	size_t			 n, i;

	(void)state;
	n = kgp_hello_encode(buf, sizeof(buf), &h);
	assert_true(n > 0);
	for (i = 0; i < n; i++) {
		f = frame(KGP_HELLO, 0, buf, i);
		errstr = NULL;
		if (kgp_hello_decode(&f, &out, &errstr) != -1)
			fail_msg("HELLO truncated to %zu bytes accepted", i);
		assert_non_null(errstr);
	}
	/* a trailing byte */
	buf[n] = 'x';
	f = frame(KGP_HELLO, 0, buf, n + 1);
	assert_int_equal(kgp_hello_decode(&f, &out, &errstr), -1);
}

static void
expect_bad_hello(struct kgp_hello *h, const uint8_t *raw, size_t rawlen)
{
	struct kgp_hello	 out;
	struct kgp_frame	 f;
	uint8_t			 buf[256];
	const char		*errstr = NULL;
	size_t			 n;

	if (raw != NULL) {
		memcpy(buf, raw, rawlen);
		n = rawlen;
	} else
		n = kgp_hello_encode(buf, sizeof(buf), h);
	assert_true(n > 0);
	f = frame(KGP_HELLO, 0, buf, n);
	assert_int_equal(kgp_hello_decode(&f, &out, &errstr), -1);
	assert_non_null(errstr);
}

static void
test_hello_rejects(void **state)
{
	struct kgp_hello	 h;
	uint8_t			 buf[256];
	size_t			 n;

	(void)state;
	h = sample_hello();
	h.vmin = 0;
	expect_bad_hello(&h, NULL, 0);
	h = sample_hello();
	h.vmin = 2;
	h.vmax = 1;
	expect_bad_hello(&h, NULL, 0);
	h = sample_hello();
	h.window = KGP_MAXPAYLOAD - 1;
	expect_bad_hello(&h, NULL, 0);
	h = sample_hello();
	h.window = KGP_MAX_WINDOW + 1;
	expect_bad_hello(&h, NULL, 0);
	h = sample_hello();
	h.window = 0;
	expect_bad_hello(&h, NULL, 0);

	/* credentials must be printable: a space, a control byte, 0x7f */
	h = sample_hello();
	h.tunnel_id[3] = ' ';
	expect_bad_hello(&h, NULL, 0);
	h = sample_hello();
	h.secret[0] = '\n';
	expect_bad_hello(&h, NULL, 0);
	h = sample_hello();
	h.secret[0] = 0x7f;
	expect_bad_hello(&h, NULL, 0);

	/* an id length past the limit, with the bytes there */
	h = sample_hello();
	n = kgp_hello_encode(buf, sizeof(buf), &h);
	memset(buf + 10, 0, sizeof(buf) - 10);
	buf[10] = KGP_IDLEN + 1;
	memset(buf + 11, 'a', KGP_IDLEN + 1);
	buf[11 + KGP_IDLEN + 1] = 1;
	buf[12 + KGP_IDLEN + 1] = 's';
	expect_bad_hello(NULL, buf, 13 + KGP_IDLEN + 1);

	/* a string length that runs past the payload */
	n = kgp_hello_encode(buf, sizeof(buf), &h);
	buf[10] = 200;
	expect_bad_hello(NULL, buf, n);

	/* the limits themselves are accepted */
	h = sample_hello();
	h.window = KGP_MAXPAYLOAD;
	n = kgp_hello_encode(buf, sizeof(buf), &h);
	{
		struct kgp_frame	 f = frame(KGP_HELLO, 0, buf, n);
		struct kgp_hello	 out;
		const char		*errstr;

		assert_int_equal(kgp_hello_decode(&f, &out, &errstr), 0);
		h.window = KGP_MAX_WINDOW;
		n = kgp_hello_encode(buf, sizeof(buf), &h);
		f = frame(KGP_HELLO, 0, buf, n);
		assert_int_equal(kgp_hello_decode(&f, &out, &errstr), 0);
		/* an empty secret is well formed (authentication says no) */
		h.secret[0] = '\0';
		n = kgp_hello_encode(buf, sizeof(buf), &h);
		f = frame(KGP_HELLO, 0, buf, n);
		assert_int_equal(kgp_hello_decode(&f, &out, &errstr), 0);
		assert_string_equal(out.secret, "");
	}
}

/*
 * A KGP v1 HELLO (vmax 1) ends after the secret: it decodes, with
 * session 0, so that the server can refuse the version by name.  From
 * vmax 2 on, the session and the sequence are required.
 */
static void
test_hello_versions(void **state)
{
	struct kgp_hello	 h = sample_hello(), out;
	struct kgp_frame	 f;
	uint8_t			 buf[256];
	const char		*errstr;
	size_t			 n, v1len;

	(void)state;
	h.vmin = h.vmax = 1;
	n = kgp_hello_encode(buf, sizeof(buf), &h);
	v1len = n - 12;

	/* v1: the same bytes without the last 12 */
	f = frame(KGP_HELLO, 0, buf, v1len);
	errstr = NULL;
	if (kgp_hello_decode(&f, &out, &errstr) != 0)
		fail_msg("v1 HELLO rejected: %s", errstr);
	assert_int_equal(out.vmin, 1);
	assert_int_equal(out.vmax, 1);
	assert_true(out.session == 0);
	assert_int_equal(out.recv_seq, 0);
	assert_string_equal(out.tunnel_id, h.tunnel_id);
	assert_string_equal(out.secret, h.secret);
	/* a v1 HELLO with the v2 fields has trailing bytes */
	f = frame(KGP_HELLO, 0, buf, n);
	errstr = NULL;
	assert_int_equal(kgp_hello_decode(&f, &out, &errstr), -1);
	assert_non_null(errstr);
	/* ... and so has one with a part of them */
	f = frame(KGP_HELLO, 0, buf, v1len + 1);
	assert_int_equal(kgp_hello_decode(&f, &out, &errstr), -1);

	/* v2 without the 12 bytes, or with a part of them */
	h = sample_hello();
	n = kgp_hello_encode(buf, sizeof(buf), &h);
	for (size_t cut = 1; cut <= 12; cut++) {
		f = frame(KGP_HELLO, 0, buf, n - cut);
		errstr = NULL;
		if (kgp_hello_decode(&f, &out, &errstr) != -1)
			fail_msg("v2 HELLO short of %zu bytes accepted", cut);
		assert_non_null(errstr);
	}
	/* ... or with one more */
	buf[n] = 0;
	f = frame(KGP_HELLO, 0, buf, n + 1);
	assert_int_equal(kgp_hello_decode(&f, &out, &errstr), -1);
	/* vmin 1, vmax 2 needs them too */
	h.vmin = 1;
	n = kgp_hello_encode(buf, sizeof(buf), &h);
	f = frame(KGP_HELLO, 0, buf, n - 12);
	assert_int_equal(kgp_hello_decode(&f, &out, &errstr), -1);
	/* a later version: the same layout */
	h.vmin = 2;
	h.vmax = 7;
	n = kgp_hello_encode(buf, sizeof(buf), &h);
	f = frame(KGP_HELLO, 0, buf, n);
	assert_int_equal(kgp_hello_decode(&f, &out, &errstr), 0);
	assert_int_equal(out.vmax, 7);
	assert_true(out.session == h.session);

	/* session 0 is not a session */
	h = sample_hello();
	h.session = 0;
	n = kgp_hello_encode(buf, sizeof(buf), &h);
	f = frame(KGP_HELLO, 0, buf, n);
	errstr = NULL;
	assert_int_equal(kgp_hello_decode(&f, &out, &errstr), -1);
	assert_non_null(errstr);
	/* any other is, in either half; recv_seq may be anything */
	h.session = 1;
	h.recv_seq = 0;
	n = kgp_hello_encode(buf, sizeof(buf), &h);
	f = frame(KGP_HELLO, 0, buf, n);
	assert_int_equal(kgp_hello_decode(&f, &out, &errstr), 0);
	assert_true(out.session == 1);
	assert_int_equal(out.recv_seq, 0);
	h.session = 0xffffffff00000000ULL;
	h.recv_seq = 0xffffffff;
	n = kgp_hello_encode(buf, sizeof(buf), &h);
	f = frame(KGP_HELLO, 0, buf, n);
	assert_int_equal(kgp_hello_decode(&f, &out, &errstr), 0);
	assert_true(out.session == 0xffffffff00000000ULL);
	assert_int_equal(out.recv_seq, 0xffffffff);
}

static void
test_welcome(void **state)
{
	struct kgp_welcome	 w, out;
	struct kgp_frame	 f;
	uint8_t			 buf[32];
	const uint8_t		 want[15] = {
		0, 2, 0, 0x04, 0, 0, 0, 0x01, 0x86, 0xa0,
		1, 0x11, 0x22, 0x33, 0x44
	};
	const char		*errstr = NULL;
	size_t			 n, len;

	(void)state;
	memset(&w, 0, sizeof(w));
	w.version = 2;
	w.window = 256 * 1024;
	w.max_streams = KGP_DEFAULT_MAXSTREAMS;
	w.resumed = 1;
	w.recv_seq = 0x11223344;
	n = kgp_welcome_encode(buf, sizeof(buf), &w);
	assert_int_equal(n, 15);
	assert_memory_equal(buf, want, sizeof(want));
	assert_int_equal(kgp_welcome_encode(buf, 14, &w), 0);
	assert_int_equal(kgp_welcome_encode(buf, 10, &w), 0);
	n = kgp_welcome_encode(buf, 15, &w);
	assert_int_equal(n, 15);

	f = frame(KGP_WELCOME, 0, buf, n);
	assert_int_equal(kgp_frame_check(&f, &errstr), 0);
	memset(&out, 0xee, sizeof(out));
	assert_int_equal(kgp_welcome_decode(&f, &out, &errstr), 0);
	assert_int_equal(out.version, 2);
	assert_int_equal(out.window, 256 * 1024);
	assert_int_equal(out.max_streams, KGP_DEFAULT_MAXSTREAMS);
	assert_int_equal(out.resumed, 1);
	assert_int_equal(out.recv_seq, 0x11223344);

	/* a fresh session */
	w.resumed = 0;
	w.recv_seq = 0;
	n = kgp_welcome_encode(buf, sizeof(buf), &w);
	f = frame(KGP_WELCOME, 0, buf, n);
	assert_int_equal(kgp_welcome_decode(&f, &out, &errstr), 0);
	assert_int_equal(out.resumed, 0);
	assert_int_equal(out.recv_seq, 0);

	/* a v1 WELCOME: 10 bytes, decoded as not resumed */
	w.version = 1;
	w.resumed = 1;
	w.recv_seq = 99;
	kgp_welcome_encode(buf, sizeof(buf), &w);
	f = frame(KGP_WELCOME, 0, buf, 10);
	memset(&out, 0xee, sizeof(out));
	assert_int_equal(kgp_welcome_decode(&f, &out, &errstr), 0);
	assert_int_equal(out.version, 1);
	assert_int_equal(out.window, 256 * 1024);
	assert_int_equal(out.max_streams, KGP_DEFAULT_MAXSTREAMS);
	assert_int_equal(out.resumed, 0);
	assert_int_equal(out.recv_seq, 0);

	/* the resume flag is 0 or 1 */
	w.version = 2;
	w.resumed = 2;
	n = kgp_welcome_encode(buf, sizeof(buf), &w);
	f = frame(KGP_WELCOME, 0, buf, n);
	errstr = NULL;
	assert_int_equal(kgp_welcome_decode(&f, &out, &errstr), -1);
	assert_non_null(errstr);
	w.resumed = 0xff;
	kgp_welcome_encode(buf, sizeof(buf), &w);
	assert_int_equal(kgp_welcome_decode(&f, &out, &errstr), -1);
	w.resumed = 0;

	/* every other length */
	n = kgp_welcome_encode(buf, sizeof(buf), &w);
	for (len = 0; len <= sizeof(buf); len++) {
		if (len == 10 || len == 15)
			continue;
		f = frame(KGP_WELCOME, 0, buf, len);
		errstr = NULL;
		if (kgp_welcome_decode(&f, &out, &errstr) != -1)
			fail_msg("WELCOME of %zu bytes accepted", len);
		assert_non_null(errstr);
	}

	/* a window out of range, no streams allowed: in both lengths */
	for (len = 10; len <= 15; len += 5) {
		w.window = 1;
		kgp_welcome_encode(buf, sizeof(buf), &w);
		f = frame(KGP_WELCOME, 0, buf, len);
		errstr = NULL;
		assert_int_equal(kgp_welcome_decode(&f, &out, &errstr), -1);
		assert_non_null(errstr);
		w.window = KGP_MAXPAYLOAD - 1;
		kgp_welcome_encode(buf, sizeof(buf), &w);
		assert_int_equal(kgp_welcome_decode(&f, &out, &errstr), -1);
		w.window = KGP_MAX_WINDOW + 1;
		kgp_welcome_encode(buf, sizeof(buf), &w);
		assert_int_equal(kgp_welcome_decode(&f, &out, &errstr), -1);
		w.window = KGP_MAXPAYLOAD;
		kgp_welcome_encode(buf, sizeof(buf), &w);
		assert_int_equal(kgp_welcome_decode(&f, &out, &errstr), 0);
		w.window = KGP_MAX_WINDOW;
		kgp_welcome_encode(buf, sizeof(buf), &w);
		assert_int_equal(kgp_welcome_decode(&f, &out, &errstr), 0);
		w.window = 256 * 1024;
		w.max_streams = 0;
		kgp_welcome_encode(buf, sizeof(buf), &w);
		assert_int_equal(kgp_welcome_decode(&f, &out, &errstr), -1);
		w.max_streams = 1;
		kgp_welcome_encode(buf, sizeof(buf), &w);
		assert_int_equal(kgp_welcome_decode(&f, &out, &errstr), 0);
		w.max_streams = KGP_DEFAULT_MAXSTREAMS;
	}
}

/* ACK: the last sequence received, a u32 on stream 0 */
static void
test_ack(void **state)
{
	uint8_t			 buf[KGP_HDRLEN + 4];
	struct kgp_frame	 f;
	const char		*errstr;
	uint32_t		 v = 0;

	(void)state;
	kgp_encode_hdr(buf, KGP_ACK, 4, 0);
	buf[12] = 0xde;
	buf[13] = 0xad;
	buf[14] = 0xbe;
	buf[15] = 0xef;
	assert_int_equal(kgp_decode_hdr(buf, sizeof(buf), &f, &errstr), 0);
	assert_int_equal(f.type, KGP_ACK);
	assert_int_equal(f.seq, 0);
	assert_int_equal(kgp_frame_check(&f, &errstr), 0);
	assert_int_equal(kgp_u32_decode(&f, &v, &errstr), 0);
	assert_int_equal(v, 0xdeadbeef);
	/* unnumbered itself */
	kgp_encode_hdr_seq(buf, KGP_ACK, 4, 0, 1);
	assert_int_equal(kgp_decode_hdr(buf, sizeof(buf), &f, &errstr), -1);
	/* on a stream */
	kgp_encode_hdr(buf, KGP_ACK, 4, 3);
	assert_int_equal(kgp_decode_hdr(buf, sizeof(buf), &f, &errstr), 0);
	errstr = NULL;
	assert_int_equal(kgp_frame_check(&f, &errstr), -1);
	assert_non_null(errstr);
	/* the wrong size */
	kgp_encode_hdr(buf, KGP_ACK, 2, 0);
	assert_int_equal(kgp_decode_hdr(buf, sizeof(buf), &f, &errstr), 0);
	assert_int_equal(kgp_frame_check(&f, &errstr), -1);
	assert_int_equal(kgp_u32_decode(&f, &v, &errstr), -1);
}

static void
test_code(void **state)
{
	struct kgp_frame	 f;
	uint8_t			 buf[64];
	char			 text[16];
	uint16_t		 code = 0;
	const char		*errstr = NULL;
	size_t			 n;

	(void)state;
	n = kgp_code_encode(buf, sizeof(buf), KGP_E_AUTH, "not authorized");
	assert_int_equal(n, 2 + 14);
	assert_int_equal(buf[0], 0);
	assert_int_equal(buf[1], KGP_E_AUTH);
	f = frame(KGP_ERROR, 0, buf, n);
	assert_int_equal(kgp_frame_check(&f, &errstr), 0);
	assert_int_equal(kgp_code_decode(&f, &code, text, sizeof(text),
	    &errstr), 0);
	assert_int_equal(code, KGP_E_AUTH);
	assert_string_equal(text, "not authorized");

	/* text is cut to the buffer, always terminated */
	assert_int_equal(kgp_code_decode(&f, &code, text, 4, &errstr), 0);
	assert_string_equal(text, "not");

	/* control bytes are not passed on to logs */
	memcpy(buf + 2, "a\nb\033c", 6);
	f = frame(KGP_REFUSE, 1, buf, 8);
	assert_int_equal(kgp_code_decode(&f, &code, text, sizeof(text),
	    &errstr), 0);
	assert_string_equal(text, "a?b?c?");

	/* code alone, no text wanted */
	n = kgp_code_encode(buf, sizeof(buf), 0x1234, NULL);
	assert_int_equal(n, 2);
	f = frame(KGP_RST, 1, buf, n);
	assert_int_equal(kgp_code_decode(&f, &code, NULL, 0, &errstr), 0);
	assert_int_equal(code, 0x1234);
	assert_int_equal(kgp_code_decode(&f, &code, text, sizeof(text),
	    &errstr), 0);
	assert_string_equal(text, "");

	/* encode cuts the text to the buffer; too small a buffer */
	n = kgp_code_encode(buf, 5, KGP_E_RESET, "abcdef");
	assert_int_equal(n, 5);
	assert_memory_equal(buf + 2, "abc", 3);
	assert_int_equal(kgp_code_encode(buf, 1, KGP_E_RESET, "x"), 0);

	/* GOAWAY carries the same */
	n = kgp_code_encode(buf, sizeof(buf), KGP_E_SHUTDOWN, "maintenance");
	f = frame(KGP_GOAWAY, 0, buf, n);
	assert_int_equal(kgp_frame_check(&f, &errstr), 0);
	assert_int_equal(kgp_code_decode(&f, &code, text, sizeof(text),
	    &errstr), 0);
	assert_int_equal(code, KGP_E_SHUTDOWN);
	assert_string_equal(text, "maintenance");

	/* short */
	f = frame(KGP_ERROR, 0, buf, 1);
	errstr = NULL;
	assert_int_equal(kgp_code_decode(&f, &code, text, sizeof(text),
	    &errstr), -1);
	assert_non_null(errstr);
	f = frame(KGP_ERROR, 0, buf, 0);
	assert_int_equal(kgp_code_decode(&f, &code, text, sizeof(text),
	    &errstr), -1);
}

static void
test_u32_u64(void **state)
{
	const uint8_t		 b[9] = {
		0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09
	};
	struct kgp_frame	 f;
	uint32_t		 v32 = 0;
	uint64_t		 v64 = 0;
	const char		*errstr;

	(void)state;
	f = frame(KGP_WINDOW, 1, b, 4);
	assert_int_equal(kgp_u32_decode(&f, &v32, &errstr), 0);
	assert_int_equal(v32, 0x01020304);
	f = frame(KGP_WINDOW, 1, b, 3);
	errstr = NULL;
	assert_int_equal(kgp_u32_decode(&f, &v32, &errstr), -1);
	assert_non_null(errstr);
	f = frame(KGP_WINDOW, 1, b, 5);
	assert_int_equal(kgp_u32_decode(&f, &v32, &errstr), -1);

	f = frame(KGP_PING, 0, b, 8);
	assert_int_equal(kgp_u64_decode(&f, &v64, &errstr), 0);
	assert_true(v64 == 0x0102030405060708ULL);
	f = frame(KGP_PING, 0, b, 7);
	errstr = NULL;
	assert_int_equal(kgp_u64_decode(&f, &v64, &errstr), -1);
	assert_non_null(errstr);
	f = frame(KGP_PING, 0, b, 9);
	assert_int_equal(kgp_u64_decode(&f, &v64, &errstr), -1);
	f = frame(KGP_PING, 0, b, 0);
	assert_int_equal(kgp_u64_decode(&f, &v64, &errstr), -1);
}

static void
test_names(void **state)
{
	(void)state;
	assert_string_equal(kgp_type_name(KGP_HELLO), "HELLO");
	assert_string_equal(kgp_type_name(KGP_DATA), "DATA");
	assert_string_equal(kgp_type_name(KGP_GOAWAY), "GOAWAY");
	assert_string_equal(kgp_type_name(KGP_ACK), "ACK");
	assert_string_equal(kgp_type_name(KGP_TYPE_MAX), "ACK");
	assert_string_equal(kgp_type_name(0), "NONE");
	assert_string_equal(kgp_type_name(KGP_TYPE_MAX + 1), "UNKNOWN");
	assert_string_equal(kgp_type_name(255), "UNKNOWN");
	assert_string_equal(kgp_code_name(KGP_E_AUTH), "not authorized");
	assert_string_equal(kgp_code_name(KGP_E_INTERNAL), "internal error");
	assert_string_equal(kgp_code_name(KGP_E_INTERNAL + 1),
	    "unknown error");
	assert_string_equal(kgp_code_name(0xffff), "unknown error");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hdr_encode_wire),
		cmocka_unit_test(test_hdr_roundtrip),
		cmocka_unit_test(test_hdr_seq_rules),
		cmocka_unit_test(test_hdr_rejects),
		cmocka_unit_test(test_hdr_sequence),
		cmocka_unit_test(test_frame_check),
		cmocka_unit_test(test_hello_roundtrip),
		cmocka_unit_test(test_hello_truncated),
		cmocka_unit_test(test_hello_rejects),
		cmocka_unit_test(test_hello_versions),
		cmocka_unit_test(test_welcome),
		cmocka_unit_test(test_ack),
		cmocka_unit_test(test_code),
		cmocka_unit_test(test_u32_u64),
		cmocka_unit_test(test_names),
	};

	return (cmocka_run_group_tests_name("kgp", tests, NULL, NULL));
}
