/*
 * Unit tests of common/tls_rec.c (a TLS record layer with keys made
 * elsewhere) and proxyd/tls_keys.c (the keys exported from an OpenSSL
 * client): an OpenSSL client and server make the handshake in process
 * over a BIO pair, the client's keys are exported, and from then on our
 * record layer speaks for the client to the OpenSSL server, both ways:
 * TLS 1.3 and 1.2, AES-128-GCM, AES-256-GCM and ChaCha20-Poly1305.  The
 * bytes must arrive exact, whatever the cut of the reads; the server's
 * session tickets, KeyUpdate and close_notify must be handled; a record
 * tampered with must be refused.  And the layer must work where kgpd
 * runs it: after kgpd's sandbox (seccomp, Landlock) is on, with no
 * system call or file OpenSSL would want lazily.
 */
#include <sys/types.h>
#include <sys/wait.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/buffer.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <tls.h>

#include "sandbox.h"
#include "tls_rec.h"
#include "tls_keys.h"
#include "testcert.h"

#define BIG	(100 * 1024 + 33)	/* several full records, one not */
#define PAIRBUF	(1024 * 1024)

struct pair {
	SSL_CTX		*sctx, *cctx;
	SSL		*s, *c;
	BIO		*sb, *cb;	/* the server's end, the client's */
	struct tls_rec	*r;
	struct tls_rec_keys k;
};

static uint8_t *
pattern(size_t n, unsigned int seed)
{
	uint8_t	*p;
	size_t	 i;

	assert_non_null(p = malloc(n));
	for (i = 0; i < n; i++)
		p[i] = (uint8_t)(i * 131 + seed + (i >> 9));
	return (p);
}

static void
server_ctx(struct pair *p, int version, const char *ciphers)
{
	BIO		*b;
	X509		*x;
	EVP_PKEY	*key;

	assert_non_null(p->sctx = SSL_CTX_new(TLS_server_method()));
	b = BIO_new_mem_buf(test_cert, -1);
	assert_non_null(x = PEM_read_bio_X509(b, NULL, NULL, NULL));
	BIO_free(b);
	b = BIO_new_mem_buf(test_key, -1);
	assert_non_null(key = PEM_read_bio_PrivateKey(b, NULL, NULL, NULL));
	BIO_free(b);
	assert_int_equal(SSL_CTX_use_certificate(p->sctx, x), 1);
	assert_int_equal(SSL_CTX_use_PrivateKey(p->sctx, key), 1);
	X509_free(x);
	EVP_PKEY_free(key);
	assert_int_equal(SSL_CTX_set_min_proto_version(p->sctx, version), 1);
	assert_int_equal(SSL_CTX_set_max_proto_version(p->sctx, version), 1);
	if (version == TLS1_3_VERSION)
		assert_int_equal(SSL_CTX_set_ciphersuites(p->sctx, ciphers),
		    1);
	else
		assert_int_equal(SSL_CTX_set_cipher_list(p->sctx, ciphers), 1);
}

/* Both ends, the handshake made; the tickets read by OpenSSL or not. */
static void
pair_setup(struct pair *p, int version, const char *ciphers,
    int read_tickets)
{
	int	 cdone = 0, sdone = 0, i, r;
	char	 b[1];

	memset(p, 0, sizeof(*p));
	server_ctx(p, version, ciphers);
	assert_non_null(p->cctx = SSL_CTX_new(TLS_client_method()));
	assert_int_equal(tls_keys_ctx(p->cctx), 0);
	assert_int_equal(SSL_CTX_set_min_proto_version(p->cctx,
	    TLS1_2_VERSION), 1);
	assert_non_null(p->s = SSL_new(p->sctx));
	assert_non_null(p->c = SSL_new(p->cctx));
	assert_int_equal(BIO_new_bio_pair(&p->sb, PAIRBUF, &p->cb, PAIRBUF),
	    1);
	SSL_set_bio(p->s, p->sb, p->sb);
	SSL_set_bio(p->c, p->cb, p->cb);
	SSL_set_accept_state(p->s);
	SSL_set_connect_state(p->c);
	for (i = 0; i < 20 && !(cdone && sdone); i++) {
		if (!cdone)
			cdone = SSL_do_handshake(p->c) == 1;
		if (!sdone)
			sdone = SSL_do_handshake(p->s) == 1;
	}
	assert_true(cdone && sdone);
	assert_int_equal(SSL_version(p->c), version);
	if (read_tickets) {
		r = SSL_read(p->c, b, 1);
		assert_int_equal(r, -1);
		assert_int_equal(SSL_get_error(p->c, r), SSL_ERROR_WANT_READ);
	}
	assert_int_equal(tls_keys_export(p->c, &p->k, &(const char *){ NULL }),
	    0);
	assert_non_null(p->r = tls_rec_new(&p->k));
}

static void
pair_free(struct pair *p)
{
	tls_rec_free(p->r);
	SSL_free(p->s);
	SSL_free(p->c);
	SSL_CTX_free(p->sctx);
	SSL_CTX_free(p->cctx);
}

/* The ciphertext in buf to the server, through the client's end. */
static void
to_server(struct pair *p, struct evbuffer *buf)
{
	size_t	 n;
	int	 w;

	while ((n = evbuffer_get_length(buf)) > 0) {
		w = BIO_write(p->cb, evbuffer_pullup(buf, n), n);
		assert_true(w > 0);
		evbuffer_drain(buf, w);
	}
}

/* What the server wrote, from the client's end. */
static void
from_server(struct pair *p, struct evbuffer *buf)
{
	char	 b[4096];
	int	 n;

	while ((n = BIO_read(p->cb, b, sizeof(b))) > 0)
		evbuffer_add(buf, b, n);
}

/* Our records to the server: it reads the same bytes. */
static void
send_check(struct pair *p, const uint8_t *data, size_t len)
{
	struct evbuffer	*out;
	uint8_t		*got;
	size_t		 n = 0;
	int		 r;

	assert_non_null(out = evbuffer_new());
	assert_non_null(got = malloc(len + 1));
	assert_int_equal(tls_rec_seal(p->r, data, len, out), 0);
	to_server(p, out);
	while (n < len) {
		r = SSL_read(p->s, got + n, len + 1 - n);
		assert_true(r > 0);
		n += r;
	}
	assert_int_equal(n, len);
	assert_memory_equal(got, data, len);
	free(got);
	evbuffer_free(out);
}

/*
 * The server's bytes, opened by our layer from pieces of cut bytes at a
 * time (1: a byte at a time): the same bytes come out.
 */
static void
recv_check(struct pair *p, const uint8_t *data, size_t len, size_t cut)
{
	struct evbuffer	*wire, *in, *plain, *reply;
	size_t		 m;

	assert_non_null(wire = evbuffer_new());
	assert_non_null(in = evbuffer_new());
	assert_non_null(plain = evbuffer_new());
	assert_non_null(reply = evbuffer_new());
	assert_int_equal(SSL_write(p->s, data, len), (int)len);
	from_server(p, wire);
	while (evbuffer_get_length(wire) > 0) {
		m = evbuffer_get_length(wire);
		if (m > cut)
			m = cut;
		evbuffer_remove_buffer(wire, in, m);
		assert_int_equal(tls_rec_open(p->r, in, plain, reply),
		    TLS_REC_OK);
	}
	assert_int_equal(evbuffer_get_length(in), 0);
	assert_int_equal(evbuffer_get_length(reply), 0);
	assert_int_equal(evbuffer_get_length(plain), len);
	assert_memory_equal(evbuffer_pullup(plain, -1), data, len);
	evbuffer_free(wire);
	evbuffer_free(in);
	evbuffer_free(plain);
	evbuffer_free(reply);
}

/* The server's close_notify is our end; ours is the server's. */
static void
close_check(struct pair *p)
{
	struct evbuffer	*in, *plain, *out;
	char		 b[16];
	int		 r;

	assert_non_null(in = evbuffer_new());
	assert_non_null(plain = evbuffer_new());
	assert_non_null(out = evbuffer_new());
	assert_int_equal(tls_rec_close(p->r, out), 0);
	to_server(p, out);
	r = SSL_read(p->s, b, sizeof(b));
	assert_int_equal(r, 0);
	assert_int_equal(SSL_get_error(p->s, r), SSL_ERROR_ZERO_RETURN);
	assert_true(SSL_shutdown(p->s) >= 0);
	from_server(p, in);
	assert_int_equal(tls_rec_open(p->r, in, plain, out), TLS_REC_EOF);
	assert_int_equal(evbuffer_get_length(plain), 0);
	evbuffer_free(in);
	evbuffer_free(plain);
	evbuffer_free(out);
}

/* A whole conversation: big and small both ways, cut reads, close. */
static void
talk(int version, const char *ciphers, int read_tickets, uint16_t cipher)
{
	struct pair	 p;
	uint8_t		*a, *b;

	pair_setup(&p, version, ciphers, read_tickets);
	assert_int_equal(p.k.cipher, cipher);
	assert_int_equal(p.k.version, version == TLS1_3_VERSION ?
	    TLS_REC_V13 : TLS_REC_V12);
	a = pattern(BIG, 1);
	b = pattern(BIG, 2);
	send_check(&p, (const uint8_t *)"GET / HTTP/1.1\r\n\r\n", 18);
	recv_check(&p, (const uint8_t *)"HTTP/1.1 200 OK\r\n", 17, 1);
	send_check(&p, a, BIG);
	recv_check(&p, b, BIG, 7);
	recv_check(&p, b, BIG, 16384 + 5 + 3);
	send_check(&p, a, 1);
	recv_check(&p, b + 5, 1, 1);
	close_check(&p);
	free(a);
	free(b);
	pair_free(&p);
}

static void
t13_aes128_tickets_read(void **state)
{
	(void)state;
	talk(TLS1_3_VERSION, "TLS_AES_128_GCM_SHA256", 1, TLS_REC_AES128GCM);
}

static void
t13_aes128_tickets_ours(void **state)
{
	(void)state;
	/* the server's two tickets come to our layer: dropped */
	talk(TLS1_3_VERSION, "TLS_AES_128_GCM_SHA256", 0, TLS_REC_AES128GCM);
}

static void
t13_aes256(void **state)
{
	(void)state;
	talk(TLS1_3_VERSION, "TLS_AES_256_GCM_SHA384", 1, TLS_REC_AES256GCM);
}

static void
t13_chacha(void **state)
{
	(void)state;
	talk(TLS1_3_VERSION, "TLS_CHACHA20_POLY1305_SHA256", 0,
	    TLS_REC_CHACHA20);
}

static void
t12_aes128(void **state)
{
	(void)state;
	talk(TLS1_2_VERSION, "ECDHE-ECDSA-AES128-GCM-SHA256", 0,
	    TLS_REC_AES128GCM);
}

static void
t12_aes256(void **state)
{
	(void)state;
	talk(TLS1_2_VERSION, "ECDHE-ECDSA-AES256-GCM-SHA384", 0,
	    TLS_REC_AES256GCM);
}

static void
t12_chacha(void **state)
{
	(void)state;
	talk(TLS1_2_VERSION, "ECDHE-ECDSA-CHACHA20-POLY1305", 1,
	    TLS_REC_CHACHA20);
}

/* Records OpenSSL wrote and read after the handshake are counted. */
static void
t13_after_openssl(void **state)
{
	struct pair	 p;
	char		 b[64];
	int		 i;

	(void)state;
	memset(&p, 0, sizeof(p));
	pair_setup(&p, TLS1_3_VERSION, "TLS_AES_128_GCM_SHA256", 1);
	tls_rec_free(p.r);
	/* three records each way through OpenSSL, then ours */
	for (i = 0; i < 3; i++) {
		assert_int_equal(SSL_write(p.c, "req", 3), 3);
		assert_int_equal(SSL_read(p.s, b, sizeof(b)), 3);
		assert_int_equal(SSL_write(p.s, "answer", 6), 6);
		assert_int_equal(SSL_read(p.c, b, sizeof(b)), 6);
	}
	assert_int_equal(tls_keys_export(p.c, &p.k, &(const char *){ NULL }),
	    0);
	assert_int_equal(p.k.wr.seq, 3);
	assert_int_equal(p.k.rd.seq, 3 + 2);	/* and the two tickets */
	assert_non_null(p.r = tls_rec_new(&p.k));
	send_check(&p, (const uint8_t *)"more", 4);
	recv_check(&p, (const uint8_t *)"answered", 8, 3);
	pair_free(&p);
}

/* Same, TLS 1.2: the Finished was number 0. */
static void
t12_after_openssl(void **state)
{
	struct pair	 p;
	char		 b[64];

	(void)state;
	memset(&p, 0, sizeof(p));
	pair_setup(&p, TLS1_2_VERSION, "ECDHE-ECDSA-AES256-GCM-SHA384", 0);
	tls_rec_free(p.r);
	assert_int_equal(SSL_write(p.c, "req", 3), 3);
	assert_int_equal(SSL_read(p.s, b, sizeof(b)), 3);
	assert_int_equal(SSL_write(p.s, "answer", 6), 6);
	assert_int_equal(SSL_read(p.c, b, sizeof(b)), 6);
	assert_int_equal(tls_keys_export(p.c, &p.k, &(const char *){ NULL }),
	    0);
	assert_int_equal(p.k.wr.seq, 2);
	assert_int_equal(p.k.rd.seq, 2);
	assert_non_null(p.r = tls_rec_new(&p.k));
	send_check(&p, (const uint8_t *)"more", 4);
	recv_check(&p, (const uint8_t *)"answered", 8, 3);
	pair_free(&p);
}

/*
 * The server updates its keys and asks for ours: we read on with its
 * next keys, answer with a KeyUpdate, and write with our next ones.
 */
static void
t13_keyupdate(void **state)
{
	struct pair	 p;
	struct evbuffer	*in, *plain, *reply;
	int		 i;

	(void)state;
	pair_setup(&p, TLS1_3_VERSION, "TLS_AES_256_GCM_SHA384", 0);
	assert_non_null(in = evbuffer_new());
	assert_non_null(plain = evbuffer_new());
	assert_non_null(reply = evbuffer_new());
	for (i = 0; i < 2; i++) {
		assert_int_equal(SSL_key_update(p.s,
		    SSL_KEY_UPDATE_REQUESTED), 1);
		assert_int_equal(SSL_write(p.s, "after", 5), 5);
		from_server(&p, in);
		assert_int_equal(tls_rec_open(p.r, in, plain, reply),
		    TLS_REC_OK);
		assert_int_equal(evbuffer_get_length(plain), 5);
		assert_memory_equal(evbuffer_pullup(plain, -1), "after", 5);
		evbuffer_drain(plain, 5);
		/* our KeyUpdate, then data under our new keys */
		assert_true(evbuffer_get_length(reply) > 0);
		to_server(&p, reply);
		send_check(&p, (const uint8_t *)"ours", 4);
		recv_check(&p, (const uint8_t *)"theirs", 6, 2);
	}
	/* one not requested: no answer */
	assert_int_equal(SSL_key_update(p.s, SSL_KEY_UPDATE_NOT_REQUESTED), 1);
	assert_int_equal(SSL_write(p.s, "x", 1), 1);
	from_server(&p, in);
	assert_int_equal(tls_rec_open(p.r, in, plain, reply), TLS_REC_OK);
	assert_int_equal(evbuffer_get_length(reply), 0);
	assert_int_equal(evbuffer_get_length(plain), 1);
	send_check(&p, (const uint8_t *)"still", 5);
	close_check(&p);
	evbuffer_free(in);
	evbuffer_free(plain);
	evbuffer_free(reply);
	pair_free(&p);
}

/* A connection whose keys OpenSSL updated is not exported. */
static void
t13_updated_not_exported(void **state)
{
	struct pair	 p;
	struct tls_rec_keys k;
	const char	*why = NULL;
	char		 b[8];

	(void)state;
	pair_setup(&p, TLS1_3_VERSION, "TLS_AES_128_GCM_SHA256", 1);
	assert_int_equal(SSL_key_update(p.c, SSL_KEY_UPDATE_NOT_REQUESTED), 1);
	assert_int_equal(SSL_write(p.c, "x", 1), 1);
	assert_int_equal(SSL_read(p.s, b, sizeof(b)), 1);
	assert_int_equal(tls_keys_export(p.c, &k, &why), -1);
	assert_string_equal(why, "keys updated");
	pair_free(&p);
}

/* Nor one whose bytes OpenSSL holds, read but not given. */
static void
t13_pending_not_exported(void **state)
{
	struct pair	 p;
	struct tls_rec_keys k;
	const char	*why = NULL;
	char		 b[2];

	(void)state;
	pair_setup(&p, TLS1_3_VERSION, "TLS_AES_128_GCM_SHA256", 1);
	assert_int_equal(SSL_write(p.s, "four", 4), 4);
	assert_int_equal(SSL_read(p.c, b, 2), 2);
	assert_int_equal(tls_keys_export(p.c, &k, &why), -1);
	assert_string_equal(why, "bytes pending");
	pair_free(&p);
}

/* A byte of a record changed, anywhere past its header: refused. */
static void
tampered(int version, const char *ciphers)
{
	struct pair	 p;
	struct evbuffer	*in, *plain, *reply;
	uint8_t		*b;
	size_t		 len, at;

	for (at = 5; at < 5 + 10 + 16; at += 7) {
		pair_setup(&p, version, ciphers, 1);
		assert_non_null(in = evbuffer_new());
		assert_non_null(plain = evbuffer_new());
		assert_non_null(reply = evbuffer_new());
		assert_int_equal(SSL_write(p.s, "0123456789", 10), 10);
		from_server(&p, in);
		len = evbuffer_get_length(in);
		assert_true(at < len);
		b = evbuffer_pullup(in, -1);
		b[at] ^= 0x20;
		assert_int_equal(tls_rec_open(p.r, in, plain, reply),
		    TLS_REC_ERR);
		assert_non_null(strstr(tls_rec_error(p.r),
		    "does not authenticate"));
		assert_int_equal(evbuffer_get_length(plain), 0);
		evbuffer_free(in);
		evbuffer_free(plain);
		evbuffer_free(reply);
		pair_free(&p);
	}
}

static void
tampered13(void **state)
{
	(void)state;
	tampered(TLS1_3_VERSION, "TLS_CHACHA20_POLY1305_SHA256");
}

static void
tampered12(void **state)
{
	(void)state;
	tampered(TLS1_2_VERSION, "ECDHE-ECDSA-AES128-GCM-SHA256");
}

/* Headers that are no record of ours: refused before anything is read. */
static void
bad_headers(void **state)
{
	static const uint8_t	 hdrs[][5] = {
		{ 99, 3, 3, 0, 20 },		/* no such type */
		{ 22, 3, 3, 0, 40 },		/* 1.3: outer type not 23 */
		{ 23, 2, 0, 0, 20 },		/* SSL 2? */
		{ 23, 3, 3, 0x48, 0x01 },	/* longer than 2^14 + 256 */
		{ 23, 3, 3, 0, 16 },		/* shorter than a tag */
	};
	struct pair	 p;
	struct evbuffer	*in, *plain, *reply;
	size_t		 i;

	(void)state;
	pair_setup(&p, TLS1_3_VERSION, "TLS_AES_128_GCM_SHA256", 1);
	assert_non_null(plain = evbuffer_new());
	assert_non_null(reply = evbuffer_new());
	for (i = 0; i < sizeof(hdrs) / sizeof(hdrs[0]); i++) {
		assert_non_null(in = evbuffer_new());
		evbuffer_add(in, hdrs[i], 5);
		assert_int_equal(tls_rec_open(p.r, in, plain, reply),
		    TLS_REC_ERR);
		evbuffer_free(in);
	}
	evbuffer_free(plain);
	evbuffer_free(reply);
	pair_free(&p);
}

/*
 * Two layers facing each other (one's wr is the other's rd), with keys
 * made from fixed secrets: bytes both ways and a KeyUpdate asked for.
 * Returns 0 when every byte came through, else the step that failed.
 */
static int
facing(uint16_t version, uint16_t cipher)
{
	struct tls_rec_keys	 ka, kb;
	struct tls_rec		*a, *b;
	struct evbuffer		*wire, *plain, *reply;
	static const uint8_t	 ku[5] = { 24, 0, 0, 1, 1 };
	uint8_t			 msg[3000];
	size_t			 i;
	int			 ret = 1;

	memset(&ka, 0, sizeof(ka));
	ka.version = version;
	ka.cipher = cipher;
	for (i = 0; i < TLS_REC_SECRETMAX; i++) {
		ka.wr.secret[i] = i;
		ka.rd.secret[i] = 255 - i;
	}
	for (i = 0; i < sizeof(msg); i++)
		msg[i] = i * 7;
	if (tls_rec_derive13(cipher, &ka.wr) == -1 ||
	    tls_rec_derive13(cipher, &ka.rd) == -1)
		return (2);
	kb = ka;
	kb.wr = ka.rd;
	kb.rd = ka.wr;
	a = tls_rec_new(&ka);
	b = tls_rec_new(&kb);
	wire = evbuffer_new();
	plain = evbuffer_new();
	reply = evbuffer_new();
	if (a == NULL || b == NULL || wire == NULL || plain == NULL ||
	    reply == NULL)
		return (3);
	if (tls_rec_seal(a, msg, sizeof(msg), wire) == -1 ||
	    tls_rec_open(b, wire, plain, reply) != TLS_REC_OK ||
	    evbuffer_get_length(plain) != sizeof(msg) ||
	    memcmp(evbuffer_pullup(plain, -1), msg, sizeof(msg)) != 0)
		return (4);
	evbuffer_drain(plain, sizeof(msg));
	if (version == TLS_REC_V13) {
		/* b asks a for new keys: a answers, both move on */
		if (tls_rec_seal_type(b, 22, ku, sizeof(ku), wire) == -1 ||
		    tls_rec_open(a, wire, plain, reply) != TLS_REC_OK ||
		    evbuffer_get_length(reply) == 0)
			return (5);
		/* b's own next keys: by a KeyUpdate that asks nothing */
		evbuffer_free(wire);
		wire = evbuffer_new();
		if (tls_rec_seal_type(a, 23, "x", 1, reply) == -1 ||
		    tls_rec_open(b, reply, plain, wire) != TLS_REC_OK ||
		    evbuffer_get_length(plain) != 1)
			return (6);
		evbuffer_drain(plain, 1);
	}
	/* (b's KeyUpdate was sealed by hand: its own keys did not move) */
	if (tls_rec_seal(a, msg, 100, wire) == -1 ||
	    tls_rec_close(a, wire) == -1 ||
	    tls_rec_open(b, wire, plain, reply) != TLS_REC_EOF ||
	    evbuffer_get_length(plain) != 100)
		return (7);
	ret = 0;
	tls_rec_free(a);
	tls_rec_free(b);
	evbuffer_free(wire);
	evbuffer_free(plain);
	evbuffer_free(reply);
	return (ret);
}

/*
 * kgpd's sandbox: the child starts as kgpd does (tzset, tls_init), its
 * sandbox goes on, then every version and cipher works.  A system call
 * outside the allowlist kills it (SIGSYS), a failure is its exit code.
 * First of the tests, so that OpenSSL has done nothing more before than
 * it has in kgpd.
 */
static void
sandboxed(void **state)
{
	static const uint16_t	 ciphers[] = { TLS_REC_AES128GCM,
				    TLS_REC_AES256GCM, TLS_REC_CHACHA20 };
	pid_t			 pid;
	size_t			 i;
	int			 st, r;

	(void)state;
	if ((pid = fork()) == 0) {
		tzset();
		if (tls_init() == -1)
			_exit(90);
		sandbox_kgpd();
		for (i = 0; i < 3; i++) {
			if ((r = facing(TLS_REC_V13, ciphers[i])) != 0 ||
			    (r = facing(TLS_REC_V12, ciphers[i])) != 0)
				_exit(10 * (i + 1) + r);
		}
		_exit(0);
	}
	assert_true(pid > 0);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	if (WIFSIGNALED(st))
		fail_msg("the sandboxed child died of signal %d", WTERMSIG(st));
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
}

/* Keys of a version or cipher not ours make no layer. */
static void
bad_keys(void **state)
{
	struct tls_rec_keys	 k;

	(void)state;
	memset(&k, 0, sizeof(k));
	k.version = 0x0302;
	k.cipher = TLS_REC_AES128GCM;
	assert_null(tls_rec_new(&k));
	k.version = TLS_REC_V13;
	k.cipher = 9;
	assert_null(tls_rec_new(&k));
	k.cipher = TLS_REC_CHACHA20;
	k.rd.seq = UINT64_MAX;
	assert_null(tls_rec_new(&k));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(sandboxed),
		cmocka_unit_test(t13_aes128_tickets_read),
		cmocka_unit_test(t13_aes128_tickets_ours),
		cmocka_unit_test(t13_aes256),
		cmocka_unit_test(t13_chacha),
		cmocka_unit_test(t12_aes128),
		cmocka_unit_test(t12_aes256),
		cmocka_unit_test(t12_chacha),
		cmocka_unit_test(t13_after_openssl),
		cmocka_unit_test(t12_after_openssl),
		cmocka_unit_test(t13_keyupdate),
		cmocka_unit_test(t13_updated_not_exported),
		cmocka_unit_test(t13_pending_not_exported),
		cmocka_unit_test(tampered13),
		cmocka_unit_test(tampered12),
		cmocka_unit_test(bad_headers),
		cmocka_unit_test(bad_keys),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
