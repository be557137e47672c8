/*
 * Unit tests of TLS resigning's certificates (server/x509.c) and of the
 * KGP worker's side of it (server/mint.c), with the CA process played
 * here: a leaf for a name and for an address verifies against the CA
 * with X509_verify_cert() (purpose TLS server, the name or the address
 * checked) and fails for another name; it has exactly one SAN, serverAuth,
 * CA:FALSE, a short validity that never outlives its CA; names that are
 * no host (wildcards, lists, spaces, bad labels) are refused.  mint.c:
 * a leaf and its key that fit, the chain leaf + CA, a name asked again
 * costs no request, callers of one name share one request, the least
 * recently used leaf goes past MINT_CACHE_MAX, a wrong answer (another
 * key, another name, another CA; a CA process that signs with another
 * key, until one of its leaves verifies and again for the next one), a
 * refusal, the CA's death and its silence (MINT_TIMEOUT_MS) each reach
 * the caller as an error, the rate limit refuses a burst past
 * MINT_BURST, and a cancelled caller hears nothing.  The messages to and from the CA are checked as the parent
 * checks them before it relays them.
 */
#include <sys/types.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <event2/event.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "imsg_server.h"
#include "server.h"

#define NREQ	2048

/* the CA of the tests, and the requests mint.c sent it */
static X509		*ca;
static EVP_PKEY		*cakey;
static char		*capem;
static size_t		 capemlen;
static struct srv_ca_req reqs[NREQ];
static size_t		 nreqs;
static struct event_base *base;

/* what a caller heard */
struct heard {
	int		 calls;
	int		 ok;
	char		 err[512];
	X509		*leaf;		/* what cb was given, referenced */
	EVP_PKEY	*key;
	X509		*ca;
};

static int
fake_send(const void *p, size_t len)
{
	assert_true(len > offsetof(struct srv_ca_req, pub));
	assert_true(len <= sizeof(struct srv_ca_req));
	assert_int_equal(srv_ca_req_valid(p, len), 0);
	assert_true(nreqs < NREQ);
	memset(&reqs[nreqs], 0, sizeof(reqs[nreqs]));
	memcpy(&reqs[nreqs], p, len);
	nreqs++;
	return (0);
}

static void
heard_cb(const struct mint_leaf *leaf, const char *errstr, void *arg)
{
	struct heard	*h = arg;

	h->calls++;
	if (leaf == NULL) {
		assert_non_null(errstr);
		strlcpy(h->err, errstr, sizeof(h->err));
		return;
	}
	assert_null(errstr);
	h->ok = 1;
	X509_free(h->leaf);
	EVP_PKEY_free(h->key);
	X509_free(h->ca);
	assert_int_equal(X509_up_ref(leaf->x509), 1);
	assert_int_equal(EVP_PKEY_up_ref(leaf->pkey), 1);
	assert_int_equal(X509_up_ref(leaf->ca), 1);
	h->leaf = leaf->x509;
	h->key = leaf->pkey;
	h->ca = leaf->ca;
	assert_true(leaf->notafter > time(NULL));
}

static void
heard_clear(struct heard *h)
{
	X509_free(h->leaf);
	EVP_PKEY_free(h->key);
	X509_free(h->ca);
	memset(h, 0, sizeof(*h));
}

/*
 * ca_leaf() for the key pair k, as the CA process gets its public key,
 * and the leaf as the KGP worker gets it
 */
static X509 *
leaf_with(X509 *c, EVP_PKEY *ck, const char *name, EVP_PKEY *k, time_t now,
    const char **errstr)
{
	uint8_t		 spki[X509_P256_SPKI_LEN];
	const uint8_t	*pt;
	unsigned char	*der = NULL;
	const unsigned char *p;
	X509		*x, *y;
	int		 len;

	assert_int_equal(x509_p256_spki(k, spki, sizeof(spki)),
	    X509_P256_SPKI_LEN);
	pt = x509_p256_point(spki, sizeof(spki));
	assert_non_null(pt);
	if ((x = ca_leaf(c, ck, name, pt, now, errstr)) == NULL)
		return (NULL);
	/* as the KGP worker gets it: DER */
	len = i2d_X509(x, &der);
	assert_true(len > 0);
	p = der;
	y = d2i_X509(NULL, &p, len);
	assert_non_null(y);
	OPENSSL_free(der);
	X509_free(x);
	return (y);
}

/* The CA process, played: sign request i (with another key: wrong). */
static void
answer(size_t i, int result, EVP_PKEY *other, const char *othername)
{
	static struct srv_ca_rep rep;
	const uint8_t		*pt;
	unsigned char		*d = rep.der;
	const char		*errstr;
	X509			*x;
	int			 len;

	memset(&rep, 0, sizeof(rep));
	rep.reqid = reqs[i].reqid;
	rep.result = result;
	if (result == SRV_CA_OK) {
		pt = x509_p256_point(reqs[i].pub, reqs[i].publen);
		assert_non_null(pt);
		if (other != NULL)
			x = leaf_with(ca, cakey, othername ? othername :
			    reqs[i].name, other, time(NULL), &errstr);
		else
			x = ca_leaf(ca, cakey, othername ? othername :
			    reqs[i].name, pt, time(NULL), &errstr);
		assert_non_null(x);
		len = i2d_X509(x, &d);
		assert_true(len > 0);
		rep.len = len;
		X509_free(x);
	}
	assert_int_equal(srv_ca_rep_valid(&rep,
	    offsetof(struct srv_ca_rep, der) + rep.len), 0);
	mint_answer(&rep, offsetof(struct srv_ca_rep, der) + rep.len);
}

static int
setup(void **state)
{
	char	*key;
	size_t	 keylen;

	if (ca_generate("sc-server CA test", &capem, &capemlen, &key,
	    &keylen) == -1)
		return (-1);
	ca = x509_read(capem, capemlen);
	cakey = x509_read_key(key, keylen);
	freezero(key, keylen + 1);
	if (ca == NULL || cakey == NULL)
		return (-1);
	if ((base = event_base_new()) == NULL)
		return (-1);
	return (0);
}

static int
teardown(void **state)
{
	X509_free(ca);
	EVP_PKEY_free(cakey);
	free(capem);
	event_base_free(base);
	return (0);
}

static int
mint_setup(void **state)
{
	nreqs = 0;
	return (mint_init(base, capem, capemlen, fake_send));
}

static int
mint_teardown(void **state)
{
	mint_free();
	return (0);
}

/* X509_verify_cert() of leaf against the CA, as a TLS server for name */
static int
verify(X509 *leaf, const char *name, int ip)
{
	X509_STORE	*store;
	X509_STORE_CTX	*ctx;
	X509_VERIFY_PARAM *param;
	int		 r;

	store = X509_STORE_new();
	assert_non_null(store);
	assert_int_equal(X509_STORE_add_cert(store, ca), 1);
	ctx = X509_STORE_CTX_new();
	assert_int_equal(X509_STORE_CTX_init(ctx, store, leaf, NULL), 1);
	param = X509_STORE_CTX_get0_param(ctx);
	X509_VERIFY_PARAM_set_purpose(param, X509_PURPOSE_SSL_SERVER);
	if (ip)
		assert_int_equal(X509_VERIFY_PARAM_set1_ip_asc(param, name),
		    1);
	else
		assert_int_equal(X509_VERIFY_PARAM_set1_host(param, name, 0),
		    1);
	r = X509_verify_cert(ctx);
	X509_STORE_CTX_free(ctx);
	X509_STORE_free(store);
	return (r);
}

static X509 *
leaf_for(const char *name, EVP_PKEY **keyp)
{
	EVP_PKEY	*k;
	X509		*x;
	const char	*errstr;

	k = x509_genkey();
	assert_non_null(k);
	x = leaf_with(ca, cakey, name, k, time(NULL), &errstr);
	if (keyp != NULL)
		*keyp = k;
	else
		EVP_PKEY_free(k);
	return (x);
}

/* One SAN, of type type, that says name. */
static void
check_san(X509 *x, int type, const char *name)
{
	GENERAL_NAMES	*gens;
	GENERAL_NAME	*g;
	int		 crit;

	gens = X509_get_ext_d2i(x, NID_subject_alt_name, &crit, NULL);
	assert_non_null(gens);
	assert_int_equal(sk_GENERAL_NAME_num(gens), 1);
	g = sk_GENERAL_NAME_value(gens, 0);
	assert_int_equal(g->type, type);
	if (type == GEN_DNS)
		assert_string_equal((const char *)ASN1_STRING_get0_data(
		    g->d.dNSName), name);
	GENERAL_NAMES_free(gens);
}

/* A public key to the CA as OpenSSL writes it; what is not one refused */
static void
test_p256_spki(void **state)
{
	uint8_t		 spki[X509_P256_SPKI_LEN], bad[X509_P256_SPKI_LEN];
	unsigned char	*der = NULL;
	EVP_PKEY	*k;
	int		 len;

	k = x509_genkey();
	assert_non_null(k);
	assert_int_equal(x509_p256_spki(k, spki, sizeof(spki) - 1), -1);
	assert_int_equal(x509_p256_spki(k, spki, sizeof(spki)),
	    X509_P256_SPKI_LEN);
	len = i2d_PUBKEY(k, &der);
	assert_int_equal(len, X509_P256_SPKI_LEN);
	assert_memory_equal(der, spki, len);
	OPENSSL_free(der);
	assert_ptr_equal(x509_p256_point(spki, sizeof(spki)), spki + 26);
	assert_null(x509_p256_point(spki, sizeof(spki) - 1));
	memcpy(bad, spki, sizeof(bad));
	bad[20] ^= 1;		/* another curve's OID */
	assert_null(x509_p256_point(bad, sizeof(bad)));
	memcpy(bad, spki, sizeof(bad));
	bad[26] = 0x02;		/* compressed */
	assert_null(x509_p256_point(bad, sizeof(bad)));
	memcpy(bad, spki, sizeof(bad));
	bad[sizeof(bad) - 1] ^= 1;	/* off the curve */
	assert_null(x509_p256_point(bad, sizeof(bad)));
	EVP_PKEY_free(k);
}

static void
test_leaf_dns(void **state)
{
	X509		*x;
	EVP_PKEY	*k;
	time_t		 now = time(NULL), t;
	int		 days, secs;

	x = leaf_for("app.example.com", &k);
	assert_non_null(x);
	assert_int_equal(verify(x, "app.example.com", 0), 1);
	assert_int_equal(verify(x, "other.example.com", 0), 0);
	assert_int_equal(verify(x, "x.app.example.com", 0), 0);
	assert_int_equal(X509_check_private_key(x, k), 1);
	check_san(x, GEN_DNS, "app.example.com");
	assert_true(X509_get_extended_key_usage(x) & XKU_SSL_SERVER);
	assert_int_equal(X509_check_ca(x), 0);
	/* from an hour ago, for CA_LEAF_DAYS */
	t = now - CA_LEAF_BEFORE_SEC + 5;
	assert_true(X509_cmp_time(X509_get0_notBefore(x), &t) < 0);
	assert_int_equal(ASN1_TIME_diff(&days, &secs, X509_get0_notBefore(x),
	    X509_get0_notAfter(x)), 1);
	assert_int_equal(days * 86400 + secs,
	    CA_LEAF_DAYS * 86400 + CA_LEAF_BEFORE_SEC);
	X509_free(x);
	EVP_PKEY_free(k);
}

static void
test_leaf_ip(void **state)
{
	X509	*x;

	x = leaf_for("10.214.1.1", NULL);
	assert_non_null(x);
	check_san(x, GEN_IPADD, NULL);
	assert_int_equal(verify(x, "10.214.1.1", 1), 1);
	assert_int_equal(verify(x, "10.214.1.2", 1), 0);
	X509_free(x);
	x = leaf_for("fd00::1", NULL);
	assert_non_null(x);
	assert_int_equal(verify(x, "fd00::1", 1), 1);
	assert_int_equal(verify(x, "fd00::2", 1), 0);
	X509_free(x);
	/* a name longer than a CN may be: SAN only */
	x = leaf_for("a23456789012345678901234567890123456789012345678901234567890"
	    ".example.com", NULL);
	assert_non_null(x);
	assert_int_equal(verify(x, "a234567890123456789012345678901234567890"
	    "12345678901234567890.example.com", 0), 1);
	X509_free(x);
}

/* A CA that ends in two days: its leaves end with it, not after. */
static void
test_leaf_within_ca(void **state)
{
	X509		*c, *x;
	EVP_PKEY	*k, *lk;
	X509_NAME	*n;
	const char	*errstr;
	time_t		 now = time(NULL), end = now + 2 * 86400;

	k = x509_genkey();
	c = X509_new();
	assert_int_equal(X509_set_version(c, 2), 1);
	assert_int_equal(x509_serial(c), 0);
	assert_non_null(X509_time_adj_ex(X509_getm_notBefore(c), 0, 0, &now));
	assert_non_null(X509_time_adj_ex(X509_getm_notAfter(c), 0, 0, &end));
	n = X509_get_subject_name(c);
	X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC,
	    (const unsigned char *)"short CA", -1, -1, 0);
	X509_set_issuer_name(c, n);
	X509_set_pubkey(c, k);
	assert_int_equal(x509_addext(c, c, NID_basic_constraints,
	    "critical,CA:TRUE"), 0);
	assert_true(X509_sign(c, k, EVP_sha256()) > 0);
	assert_int_equal(ca_check(c, k, (char[64]){ 0 }, 64), 0);
	assert_int_equal(ca_check(c, cakey, (char[64]){ 0 }, 64), -1);
	assert_int_equal(ca_check(ca, cakey, (char[64]){ 0 }, 64), 0);

	lk = x509_genkey();
	x = leaf_with(c, k, "app.example", lk, now, &errstr);
	assert_non_null(x);
	assert_int_equal(ASN1_TIME_compare(X509_get0_notAfter(x),
	    X509_get0_notAfter(c)), 0);
	assert_int_equal(ASN1_TIME_compare(X509_get0_notBefore(x),
	    X509_get0_notBefore(c)), 0);
	X509_free(x);
	/* expired: none */
	x = leaf_with(c, k, "app.example", lk, end + 10, &errstr);
	assert_null(x);
	assert_non_null(errstr);
	/* a leaf is no CA */
	x = leaf_for("app.example", NULL);
	assert_int_equal(ca_check(x, NULL, (char[64]){ 0 }, 64), -1);
	X509_free(x);
	X509_free(c);
	EVP_PKEY_free(k);
	EVP_PKEY_free(lk);
}

static void
test_names(void **state)
{
	static const char *good[] = {
		"app", "app.example.com", "a-b.c_d.example", "10.0.0.1",
		"::1", "fd00::1", "xn--bcher-kva.example", "a1.b2.c3d",
		NULL
	};
	static const char *bad[] = {
		"", "*.example.com", "*", "a*b.example", "app.example.com.",
		"App.Example", "a..b", ".a", "a.", "-a.example", "a-.example",
		"a b", "a,DNS:evil.example", "a/b", "a:b", "1.2.3.256",
		"010.0.0.1", "1.2.3", "[::1]", "FD00::1", "fd00:0:0::1",
		"a\nb", "a@b", "ex\xc3\xa4mple",
		"a234567890123456789012345678901234567890123456789012345678901234"
		    ".example",
		NULL
	};
	static const char *canon[][2] = {
		{ "App.Example.COM", "app.example.com" },
		{ "app.example.", "app.example" },
		{ "[::1]", "::1" },
		{ "[FD00:0:0::1]", "fd00::1" },
		{ "10.0.0.1", "10.0.0.1" },
		{ NULL, NULL }
	};
	char	 buf[CERT_NAME_MAX + 1], big[300];
	int	 i;

	for (i = 0; good[i] != NULL; i++)
		assert_true(cert_name_valid(good[i]));
	for (i = 0; bad[i] != NULL; i++) {
		if (cert_name_valid(bad[i]))
			fail_msg("\"%s\" taken", bad[i]);
		if (leaf_for(bad[i], NULL) != NULL)
			fail_msg("a leaf for \"%s\"", bad[i]);
	}
	/* 253 bytes: taken; 254: not */
	memset(big, 0, sizeof(big));
	for (i = 0; i < 253; i++)
		big[i] = i % 2 == 1 ? '.' : 'a';
	big[252] = 'b';
	assert_true(cert_name_valid(big));
	big[253] = 'c';
	big[252] = '.';
	assert_false(cert_name_valid(big));
	for (i = 0; canon[i][0] != NULL; i++) {
		assert_int_equal(cert_name_canon(canon[i][0], buf,
		    sizeof(buf)), 0);
		assert_string_equal(buf, canon[i][1]);
	}
	assert_int_equal(cert_name_canon("*.example", buf, sizeof(buf)), -1);
	assert_int_equal(cert_name_canon("", buf, sizeof(buf)), -1);
	assert_int_equal(cert_name_canon(".", buf, sizeof(buf)), -1);
	assert_int_equal(cert_name_canon("[]", buf, sizeof(buf)), -1);
}

/* What a caller got: leaf (for name, with key) and the CA, verified */
static void
check_heard(struct heard *h, const char *name, int ip)
{
	assert_int_equal(h->calls, 1);
	assert_true(h->ok);
	assert_non_null(h->leaf);
	assert_non_null(h->key);
	assert_non_null(h->ca);
	assert_int_equal(X509_cmp(h->ca, ca), 0);
	assert_int_equal(X509_check_private_key(h->leaf, h->key), 1);
	assert_int_equal(verify(h->leaf, name, ip), 1);
}

static void
test_mint_get(void **state)
{
	struct heard		 a, b, c;
	struct mint_wait	*w;

	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	memset(&c, 0, sizeof(c));
	/* two callers, one request; the name canonical */
	assert_non_null(mint_get("App.Example.", heard_cb, &a));
	assert_non_null(mint_get("app.example", heard_cb, &b));
	assert_int_equal(nreqs, 1);
	assert_string_equal(reqs[0].name, "app.example");
	assert_int_equal(a.calls + b.calls, 0);
	answer(0, SRV_CA_OK, NULL, NULL);
	check_heard(&a, "app.example", 0);
	check_heard(&b, "app.example", 0);
	/* again: at once, no request, the same leaf */
	assert_null(mint_get("app.example", heard_cb, &c));
	assert_int_equal(nreqs, 1);
	check_heard(&c, "app.example", 0);
	assert_ptr_equal(c.leaf, a.leaf);
	heard_clear(&c);
	/* an address (IPv6 in brackets, as a CONNECT has it) */
	assert_non_null(mint_get("[fd00::7]", heard_cb, &c));
	assert_int_equal(nreqs, 2);
	answer(1, SRV_CA_OK, NULL, NULL);
	check_heard(&c, "fd00::7", 1);
	heard_clear(&c);
	/* a cancelled caller hears nothing; the leaf is kept all the same */
	w = mint_get("gone.example", heard_cb, &c);
	assert_non_null(w);
	mint_cancel(w);
	answer(2, SRV_CA_OK, NULL, NULL);
	assert_int_equal(c.calls, 0);
	assert_null(mint_get("gone.example", heard_cb, &c));
	assert_int_equal(c.calls, 1);
	assert_int_equal(nreqs, 3);
	heard_clear(&a);
	heard_clear(&b);
	heard_clear(&c);
}

static void
test_mint_errors(void **state)
{
	struct heard	 h;
	EVP_PKEY	*other;

	memset(&h, 0, sizeof(h));
	/* not a name: at once */
	assert_null(mint_get("*.example.com", heard_cb, &h));
	assert_int_equal(h.calls, 1);
	assert_int_equal(nreqs, 0);
	assert_non_null(strstr(h.err, "not a host name"));
	heard_clear(&h);
	/* the CA signs another key */
	other = x509_genkey();
	assert_non_null(mint_get("a.example", heard_cb, &h));
	answer(0, SRV_CA_OK, other, NULL);
	assert_int_equal(h.calls, 1);
	assert_false(h.ok);
	assert_non_null(strstr(h.err, "does not fit"));
	heard_clear(&h);
	EVP_PKEY_free(other);
	/* ... or for another name */
	assert_non_null(mint_get("b.example", heard_cb, &h));
	answer(1, SRV_CA_OK, NULL, "evil.example");
	assert_int_equal(h.calls, 1);
	assert_non_null(strstr(h.err, "does not fit"));
	heard_clear(&h);
	/* refused, or no CA */
	assert_non_null(mint_get("c.example", heard_cb, &h));
	answer(2, SRV_CA_REFUSED, NULL, NULL);
	assert_non_null(strstr(h.err, "refused"));
	heard_clear(&h);
	assert_non_null(mint_get("d.example", heard_cb, &h));
	answer(3, SRV_CA_UNAVAIL, NULL, NULL);
	assert_non_null(strstr(h.err, "no CA process"));
	heard_clear(&h);
	/* the CA process dies: what was asked fails now */
	assert_non_null(mint_get("e.example", heard_cb, &h));
	mint_ca_state(0);
	assert_int_equal(h.calls, 1);
	assert_non_null(strstr(h.err, "gone"));
	/* its late answer is nobody's */
	answer(4, SRV_CA_OK, NULL, NULL);
	assert_int_equal(h.calls, 1);
	heard_clear(&h);
	/* a failure is not kept: the name is asked again */
	assert_non_null(mint_get("a.example", heard_cb, &h));
	assert_int_equal(nreqs, 6);
	answer(5, SRV_CA_OK, NULL, NULL);
	check_heard(&h, "a.example", 0);
	heard_clear(&h);
}

/* name asked for, and its request i answered signed with key: refused */
static void
refused_signed_by(const char *name, size_t i, EVP_PKEY *key)
{
	struct heard	 h;
	EVP_PKEY	*good = cakey;

	memset(&h, 0, sizeof(h));
	assert_non_null(mint_get(name, heard_cb, &h));
	cakey = key;
	answer(i, SRV_CA_OK, NULL, NULL);
	cakey = good;
	assert_int_equal(h.calls, 1);
	assert_false(h.ok);
	assert_non_null(strstr(h.err, "does not fit"));
	heard_clear(&h);
}

/*
 * A CA process that signs with another key than the CA's (the issuer
 * the same): its leaves are refused until one verifies, and a new CA
 * process is checked again.
 */
static void
test_mint_signer(void **state)
{
	struct heard	 h;
	EVP_PKEY	*good = cakey, *bad;

	memset(&h, 0, sizeof(h));
	bad = x509_genkey();
	assert_non_null(bad);
	/* a new CA process with the wrong key: its trial, then a leaf */
	mint_ca_state(1);
	assert_int_equal(nreqs, 1);
	cakey = bad;
	answer(0, SRV_CA_OK, NULL, NULL);
	cakey = good;
	refused_signed_by("s1.example", 1, bad);
	/* the CA's key: taken */
	assert_non_null(mint_get("s2.example", heard_cb, &h));
	answer(2, SRV_CA_OK, NULL, NULL);
	check_heard(&h, "s2.example", 0);
	heard_clear(&h);
	/* another CA process: checked again */
	mint_ca_state(1);
	assert_int_equal(nreqs, 4);
	refused_signed_by("s3.example", 4, bad);
	EVP_PKEY_free(bad);
}

static void
stop_loop(int fd, short ev, void *arg)
{
	event_base_loopexit(base, NULL);
}

static void
heard_stop(const struct mint_leaf *leaf, const char *errstr, void *arg)
{
	heard_cb(leaf, errstr, arg);
	event_base_loopexit(base, NULL);
}

/* The CA says nothing: the caller hears so after MINT_TIMEOUT_MS. */
static void
test_mint_timeout(void **state)
{
	struct heard	 h;
	struct event	*guard;
	struct timespec	 t0, t1;
	struct timeval	 tv = { MINT_TIMEOUT_MS / 1000 + 3, 0 };
	long		 ms;

	memset(&h, 0, sizeof(h));
	guard = evtimer_new(base, stop_loop, NULL);
	evtimer_add(guard, &tv);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_non_null(mint_get("silent.example", heard_stop, &h));
	event_base_dispatch(base);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	event_free(guard);
	ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) /
	    1000000;
	assert_int_equal(h.calls, 1);
	assert_non_null(strstr(h.err, "did not answer"));
	assert_true(ms >= MINT_TIMEOUT_MS - 10);
	assert_true(ms < MINT_TIMEOUT_MS + 2000);
	heard_clear(&h);
}

/*
 * A burst of new names: MINT_BURST at once, then the rate limit; past
 * MINT_CACHE_MAX, the least recently used leaf goes (asked again, it
 * is a new request) and the one used recently stays.
 */
static void
test_mint_rate_lru(void **state)
{
	struct heard	 h;
	char		 name[64];
	int		 i, made = 0, limited = 0;
	size_t		 before;
	struct timespec	 pause = { 0, 20 * 1000 * 1000 }, t0, t1;
	double		 sec;

	/* asked for at once, answered after (MINT_PENDING_MAX > burst) */
	memset(&h, 0, sizeof(h));
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (i = 0; limited == 0 && i < MINT_PENDING_MAX; i++) {
		snprintf(name, sizeof(name), "n%d.example", i);
		if (mint_get(name, heard_cb, &h) == NULL) {
			assert_non_null(strstr(h.err, "rate limit"));
			limited++;
			continue;
		}
		made++;
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	sec = (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
	assert_true(limited > 0);
	assert_true(made >= MINT_BURST);
	assert_true(made <= MINT_BURST + sec * MINT_RATE + 1);
	assert_int_equal(nreqs, made);
	for (before = 0; before < nreqs; before++)
		answer(before, SRV_CA_OK, NULL, NULL);
	/* fill the cache past its bound, at the rate allowed */
	for (i = 0; made <= MINT_CACHE_MAX; i++) {
		snprintf(name, sizeof(name), "m%d.example", i);
		before = nreqs;
		if (i % 64 == 0) {
			/* n1 stays in use */
			h.calls = 0;
			assert_null(mint_get("n1.example", heard_cb, &h));
			assert_int_equal(nreqs, before);
		}
		if (mint_get(name, heard_cb, &h) == NULL) {
			nanosleep(&pause, NULL);
			i--;
			continue;
		}
		answer(before, SRV_CA_OK, NULL, NULL);
		made++;
	}
	before = nreqs;
	h.calls = 0;
	assert_null(mint_get("n1.example", heard_cb, &h));
	assert_int_equal(nreqs, before);
	while (mint_get("n0.example", heard_cb, &h) == NULL) {
		assert_non_null(strstr(h.err, "rate limit"));
		nanosleep(&pause, NULL);
	}
	assert_int_equal(nreqs, before + 1);
	answer(before, SRV_CA_OK, NULL, NULL);
	heard_clear(&h);
}

/* What the parent checks before it relays a request or an answer. */
static void
test_messages(void **state)
{
	static struct srv_ca_req q;
	static struct srv_ca_rep r;
	size_t	 qh = offsetof(struct srv_ca_req, pub);
	size_t	 rh = offsetof(struct srv_ca_rep, der);

	memset(&q, 0, sizeof(q));
	strlcpy(q.name, "app.example", sizeof(q.name));
	q.publen = 91;
	assert_int_equal(srv_ca_req_valid(&q, qh + 91), 0);
	assert_int_equal(srv_ca_req_valid(&q, qh + 90), -1);
	assert_int_equal(srv_ca_req_valid(&q, qh), -1);
	q.publen = 0;
	assert_int_equal(srv_ca_req_valid(&q, qh), -1);
	q.publen = sizeof(q.pub) + 1;
	assert_int_equal(srv_ca_req_valid(&q, sizeof(q) + 1), -1);
	q.publen = 91;
	strlcpy(q.name, "*.example", sizeof(q.name));
	assert_int_equal(srv_ca_req_valid(&q, qh + 91), -1);
	memset(q.name, 'a', sizeof(q.name));	/* no NUL */
	assert_int_equal(srv_ca_req_valid(&q, qh + 91), -1);
	strlcpy(q.name, "app.example", sizeof(q.name));
	q.pad[1] = 1;
	assert_int_equal(srv_ca_req_valid(&q, qh + 91), -1);

	memset(&r, 0, sizeof(r));
	r.result = SRV_CA_UNAVAIL;
	assert_int_equal(srv_ca_rep_valid(&r, rh), 0);
	r.result = SRV_CA_OK;
	assert_int_equal(srv_ca_rep_valid(&r, rh), -1);
	r.len = 500;
	assert_int_equal(srv_ca_rep_valid(&r, rh + 500), 0);
	assert_int_equal(srv_ca_rep_valid(&r, rh + 499), -1);
	r.result = SRV_CA_FAILED;
	assert_int_equal(srv_ca_rep_valid(&r, rh + 500), -1);
	r.result = 9;
	r.len = 0;
	assert_int_equal(srv_ca_rep_valid(&r, rh), -1);
	assert_int_equal(srv_ca_rep_valid(&r, rh - 1), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_p256_spki),
		cmocka_unit_test(test_leaf_dns),
		cmocka_unit_test(test_leaf_ip),
		cmocka_unit_test(test_leaf_within_ca),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_messages),
		cmocka_unit_test_setup_teardown(test_mint_get, mint_setup,
		    mint_teardown),
		cmocka_unit_test_setup_teardown(test_mint_errors, mint_setup,
		    mint_teardown),
		cmocka_unit_test_setup_teardown(test_mint_signer, mint_setup,
		    mint_teardown),
		cmocka_unit_test_setup_teardown(test_mint_timeout, mint_setup,
		    mint_teardown),
		cmocka_unit_test_setup_teardown(test_mint_rate_lru,
		    mint_setup, mint_teardown),
	};

	return (cmocka_run_group_tests(tests, setup, teardown));
}
