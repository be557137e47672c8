/*
 * The TLS record layer of a connection whose handshake another process
 * made (see tls_rec.h): kgpd carries a resigned stream's bytes to the
 * app itself, as it does a moved CONNECT's, once proxyd has connected,
 * made the handshake, and given it the keys.  This is a record layer,
 * not a TLS stack, as Linux's kTLS is: it reads 5-byte record headers
 * and content the AEAD authenticated, nothing else.
 *
 * Sealing: the stream's bytes in application-data records of at most
 * TLS_REC_PLAINMAX bytes.  TLS 1.3 (RFC 8446 5.2): the content type
 * inside, no padding, the header as additional data, the nonce the
 * direction's IV XOR the record number.  TLS 1.2 (RFC 5288, 7905): GCM
 * with an 8-byte explicit nonce (the record number) after the 4-byte
 * implicit salt; ChaCha20-Poly1305 with the 1.3 nonce; the additional
 * data the number, type, version and plaintext length.
 *
 * Opening: whole records only (what is left of a record stays in the
 * buffer for the next call), lengths checked before anything is read.
 * Application data goes to the caller; close_notify is the end; any
 * other alert, a record that does not authenticate, a content type or
 * handshake message not expected here is an error that ends the
 * connection (the caller's stream), never more.  Handshake messages
 * after the handshake: TLS 1.3 NewSessionTicket is dropped (a session to
 * resume is proxyd's business, and it read the first ones already),
 * KeyUpdate moves the reading direction to its next secret and, when the
 * peer asks, answers with one of its own and moves the writing
 * direction; TLS 1.2 HelloRequest is ignored (no renegotiation).
 *
 * Key material is wiped when the layer is freed.
 */
#include <sys/types.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "tls_rec.h"

#define REC_HDR		5
#define REC_TAG		16
#define REC_EXPLICIT	8		/* TLS 1.2 GCM's explicit nonce */
#define REC_MAX13	(TLS_REC_PLAINMAX + 256)	/* RFC 8446 5.2 */
#define REC_MAX12	(TLS_REC_PLAINMAX + 2048)	/* RFC 5246 6.2.3 */
#define HS_MAX		(64 * 1024)	/* a post-handshake message */

#define CT_ALERT	21
#define CT_HANDSHAKE	22
#define CT_DATA		23

#define HS_HELLOREQ	0
#define HS_TICKET	4
#define HS_KEYUPDATE	24

struct tls_rec {
	uint16_t		 version;
	uint16_t		 cipher;
	size_t			 keylen;
	size_t			 secretlen;
	const EVP_MD		*md;
	struct tls_rec_dir	 wr, rd;
	EVP_CIPHER_CTX		*wctx, *rctx;
	struct evbuffer		*hs;	/* 1.3: a handshake message in part */
	uint64_t		 records;	/* records opened */
	int			 eof;
	char			 err[128];
};

static const EVP_CIPHER *
rec_cipher(uint16_t cipher)
{
	switch (cipher) {
	case TLS_REC_AES128GCM:
		return (EVP_aes_128_gcm());
	case TLS_REC_AES256GCM:
		return (EVP_aes_256_gcm());
	case TLS_REC_CHACHA20:
		return (EVP_chacha20_poly1305());
	}
	return (NULL);
}

/* The length of a cipher's key. */
size_t
tls_rec_keylen(uint16_t cipher)
{
	return (cipher == TLS_REC_AES128GCM ? 16 : 32);
}

/* The hash of a cipher's suite: SHA-384 for AES-256-GCM, else SHA-256. */
size_t
tls_rec_secretlen(uint16_t cipher)
{
	return (cipher == TLS_REC_AES256GCM ? 48 : 32);
}

static const EVP_MD *
rec_md(uint16_t cipher)
{
	return (tls_rec_secretlen(cipher) == 48 ? EVP_sha384() : EVP_sha256());
}

/* Whether keys are of a version and cipher this layer has: 0, or -1. */
int
tls_rec_check(const struct tls_rec_keys *k)
{
	if (k->version != TLS_REC_V12 && k->version != TLS_REC_V13)
		return (-1);
	if (rec_cipher(k->cipher) == NULL)
		return (-1);
	return (0);
}

/*
 * HKDF-Expand-Label (RFC 8446 7.1) for an output no longer than the
 * hash, which HKDF-Expand makes in one HMAC: HMAC(secret, info || 1).
 */
static int
rec_expand(const EVP_MD *md, const uint8_t *secret, size_t secretlen,
    const char *label, uint8_t *out, size_t outlen)
{
	uint8_t		 info[2 + 1 + 255 + 1 + 1], h[EVP_MAX_MD_SIZE];
	unsigned int	 hlen = sizeof(h);
	size_t		 ll, n = 0;

	ll = strlen(label);
	if (outlen > (size_t)EVP_MD_get_size(md) || 6 + ll > 255)
		return (-1);
	info[n++] = outlen >> 8;
	info[n++] = outlen & 0xff;
	info[n++] = 6 + ll;
	memcpy(info + n, "tls13 ", 6);
	n += 6;
	memcpy(info + n, label, ll);
	n += ll;
	info[n++] = 0;		/* no context */
	info[n++] = 1;		/* T(1) */
	if (HMAC(md, secret, secretlen, info, n, h, &hlen) == NULL)
		return (-1);
	memcpy(out, h, outlen);
	explicit_bzero(h, sizeof(h));
	return (0);
}

/*
 * TLS 1.3: a direction's key and IV from its traffic secret (RFC 8446
 * 7.3).  Returns 0, or -1.
 */
int
tls_rec_derive13(uint16_t cipher, struct tls_rec_dir *d)
{
	const EVP_MD	*md;
	size_t		 sl;

	if (rec_cipher(cipher) == NULL)
		return (-1);
	sl = tls_rec_secretlen(cipher);
	md = rec_md(cipher);
	if (rec_expand(md, d->secret, sl, "key", d->key,
	    tls_rec_keylen(cipher)) == -1 ||
	    rec_expand(md, d->secret, sl, "iv", d->iv, TLS_REC_IVLEN) == -1)
		return (-1);
	return (0);
}

/* A cipher context keyed for one direction; NULL on failure. */
static EVP_CIPHER_CTX *
rec_ctx(const struct tls_rec *r, const struct tls_rec_dir *d, int enc)
{
	EVP_CIPHER_CTX	*c;

	if ((c = EVP_CIPHER_CTX_new()) == NULL)
		return (NULL);
	if (EVP_CipherInit_ex(c, rec_cipher(r->cipher), NULL, NULL, NULL,
	    enc) != 1 ||
	    EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_SET_IVLEN, TLS_REC_IVLEN,
	    NULL) != 1 ||
	    EVP_CipherInit_ex(c, NULL, NULL, d->key, NULL, enc) != 1) {
		EVP_CIPHER_CTX_free(c);
		return (NULL);
	}
	return (c);
}

/* The layer for a connection's keys; NULL if they are not of ours. */
struct tls_rec *
tls_rec_new(const struct tls_rec_keys *k)
{
	struct tls_rec	*r;

	if (tls_rec_check(k) == -1 || k->wr.seq == UINT64_MAX ||
	    k->rd.seq == UINT64_MAX)
		return (NULL);
	if ((r = calloc(1, sizeof(*r))) == NULL)
		return (NULL);
	r->version = k->version;
	r->cipher = k->cipher;
	r->keylen = tls_rec_keylen(k->cipher);
	r->secretlen = tls_rec_secretlen(k->cipher);
	r->md = rec_md(k->cipher);
	r->wr = k->wr;
	r->rd = k->rd;
	if ((r->wctx = rec_ctx(r, &r->wr, 1)) == NULL ||
	    (r->rctx = rec_ctx(r, &r->rd, 0)) == NULL ||
	    (r->hs = evbuffer_new()) == NULL) {
		tls_rec_free(r);
		return (NULL);
	}
	return (r);
}

void
tls_rec_free(struct tls_rec *r)
{
	if (r == NULL)
		return;
	EVP_CIPHER_CTX_free(r->wctx);
	EVP_CIPHER_CTX_free(r->rctx);
	if (r->hs != NULL)
		evbuffer_free(r->hs);
	explicit_bzero(r, sizeof(*r));
	free(r);
}

const char *
tls_rec_error(const struct tls_rec *r)
{
	return (r->err);
}

/* How many records were opened: the app's records, counted. */
uint64_t
tls_rec_records(const struct tls_rec *r)
{
	return (r->records);
}

static void
rec_seqbe(uint8_t *p, uint64_t seq)
{
	int	 i;

	for (i = 7; i >= 0; i--) {
		p[i] = seq & 0xff;
		seq >>= 8;
	}
}

/* The per-record nonce: the IV XOR the number (1.3, 1.2 ChaCha20). */
static void
rec_nonce(const struct tls_rec *r, const struct tls_rec_dir *d,
    uint8_t *nonce)
{
	uint8_t		 s[8];
	int		 i;

	memcpy(nonce, d->iv, TLS_REC_IVLEN);
	if (r->version == TLS_REC_V12 && r->cipher != TLS_REC_CHACHA20) {
		rec_seqbe(nonce + 4, d->seq);
		return;
	}
	rec_seqbe(s, d->seq);
	for (i = 0; i < 8; i++)
		nonce[4 + i] ^= s[i];
}

/*
 * A record's additional data into aad (13 bytes at most): 1.3 its
 * header, 1.2 its number, type, version and plaintext length n.
 * Returns its length.
 */
static size_t
rec_aad(const struct tls_rec *r, const uint8_t *hdr, uint64_t seq,
    uint8_t ct, size_t n, uint8_t *aad)
{
	if (r->version == TLS_REC_V13) {
		memcpy(aad, hdr, REC_HDR);
		return (REC_HDR);
	}
	rec_seqbe(aad, seq);
	aad[8] = ct;
	aad[9] = 3;
	aad[10] = 3;
	aad[11] = n >> 8;
	aad[12] = n & 0xff;
	return (13);
}

/*
 * One record of type ct with n <= TLS_REC_PLAINMAX bytes of content,
 * onto out.  Returns 0, or -1.
 */
static int
rec_seal1(struct tls_rec *r, uint8_t ct, const uint8_t *in, size_t n,
    struct evbuffer *out)
{
	uint8_t		 rec[REC_HDR + REC_EXPLICIT + TLS_REC_PLAINMAX + 1 +
			    REC_TAG];
	uint8_t		 nonce[TLS_REC_IVLEN], aad[13];
	uint8_t		*p;
	size_t		 clen, aadlen, elen = 0;
	int		 l, l2;

	if (r->wr.seq == UINT64_MAX) {
		snprintf(r->err, sizeof(r->err), "record numbers used up");
		return (-1);
	}
	if (r->version == TLS_REC_V13)
		clen = n + 1 + REC_TAG;
	else {
		if (r->cipher != TLS_REC_CHACHA20)
			elen = REC_EXPLICIT;
		clen = elen + n + REC_TAG;
	}
	rec[0] = r->version == TLS_REC_V13 ? CT_DATA : ct;
	rec[1] = 3;
	rec[2] = 3;
	rec[3] = clen >> 8;
	rec[4] = clen & 0xff;
	rec_nonce(r, &r->wr, nonce);
	aadlen = rec_aad(r, rec, r->wr.seq, ct, n, aad);
	/* 1.2 GCM: the explicit nonce (the record number) in the clear */
	memcpy(rec + REC_HDR, nonce + 4, elen);
	p = rec + REC_HDR + elen;
	if (EVP_EncryptInit_ex(r->wctx, NULL, NULL, NULL, nonce) != 1 ||
	    EVP_EncryptUpdate(r->wctx, NULL, &l, aad, aadlen) != 1)
		goto fail;
	l = 0;
	if (n > 0 && EVP_EncryptUpdate(r->wctx, p, &l, in, n) != 1)
		goto fail;
	if (r->version == TLS_REC_V13) {
		if (EVP_EncryptUpdate(r->wctx, p + l, &l2, &ct, 1) != 1)
			goto fail;
		l += l2;
	}
	if (EVP_EncryptFinal_ex(r->wctx, p + l, &l2) != 1)
		goto fail;
	l += l2;
	if ((size_t)l + REC_TAG + elen != clen ||
	    EVP_CIPHER_CTX_ctrl(r->wctx, EVP_CTRL_AEAD_GET_TAG, REC_TAG,
	    p + l) != 1)
		goto fail;
	r->wr.seq++;
	if (evbuffer_add(out, rec, REC_HDR + clen) == -1) {
		snprintf(r->err, sizeof(r->err), "out of memory");
		return (-1);
	}
	return (0);
 fail:
	snprintf(r->err, sizeof(r->err), "sealing a record failed");
	return (-1);
}

/* The bytes of in, sealed in records onto out.  Returns 0, or -1. */
int
tls_rec_seal(struct tls_rec *r, const void *in, size_t n,
    struct evbuffer *out)
{
	const uint8_t	*p = in;
	size_t		 m;

	while (n > 0) {
		m = n > TLS_REC_PLAINMAX ? TLS_REC_PLAINMAX : n;
		if (rec_seal1(r, CT_DATA, p, m, out) == -1)
			return (-1);
		p += m;
		n -= m;
	}
	return (0);
}

/*
 * One record of content type ct (21 alert, 22 handshake, 23 data) with
 * n <= TLS_REC_PLAINMAX bytes, onto out: for the tests, which play the
 * app's side.  Returns 0, or -1.
 */
int
tls_rec_seal_type(struct tls_rec *r, uint8_t ct, const void *in, size_t n,
    struct evbuffer *out)
{
	if (n > TLS_REC_PLAINMAX || (ct != CT_ALERT && ct != CT_HANDSHAKE &&
	    ct != CT_DATA)) {
		snprintf(r->err, sizeof(r->err), "no such record");
		return (-1);
	}
	return (rec_seal1(r, ct, in, n, out));
}

/* close_notify, sealed onto out.  Returns 0, or -1. */
int
tls_rec_close(struct tls_rec *r, struct evbuffer *out)
{
	static const uint8_t	 alert[2] = { 1, 0 };

	return (rec_seal1(r, CT_ALERT, alert, sizeof(alert), out));
}

/* A direction to its next traffic secret (1.3 KeyUpdate). */
static int
rec_update(struct tls_rec *r, struct tls_rec_dir *d, EVP_CIPHER_CTX **c,
    int enc)
{
	uint8_t		 next[TLS_REC_SECRETMAX];
	EVP_CIPHER_CTX	*n;

	if (rec_expand(r->md, d->secret, r->secretlen, "traffic upd", next,
	    r->secretlen) == -1)
		return (-1);
	memcpy(d->secret, next, r->secretlen);
	explicit_bzero(next, sizeof(next));
	if (tls_rec_derive13(r->cipher, d) == -1 ||
	    (n = rec_ctx(r, d, enc)) == NULL)
		return (-1);
	EVP_CIPHER_CTX_free(*c);
	*c = n;
	d->seq = 0;
	return (0);
}

/* 1.3's handshake messages after the handshake, whole ones. */
static int
rec_handshake13(struct tls_rec *r, struct evbuffer *reply)
{
	uint8_t		 h[4], ku[5];
	size_t		 len;

	while (evbuffer_get_length(r->hs) >= 4) {
		evbuffer_copyout(r->hs, h, 4);
		len = (size_t)h[1] << 16 | (size_t)h[2] << 8 | h[3];
		if (len > HS_MAX) {
			snprintf(r->err, sizeof(r->err), "handshake message "
			    "of %zu bytes", len);
			return (-1);
		}
		if (evbuffer_get_length(r->hs) < 4 + len)
			return (0);
		switch (h[0]) {
		case HS_TICKET:
			/* proxyd keeps sessions; this one is not kept */
			evbuffer_drain(r->hs, 4 + len);
			break;
		case HS_KEYUPDATE:
			if (len != 1) {
				snprintf(r->err, sizeof(r->err), "KeyUpdate of "
				    "%zu bytes", len);
				return (-1);
			}
			evbuffer_remove(r->hs, ku, 5);
			if (ku[4] > 1) {
				snprintf(r->err, sizeof(r->err), "KeyUpdate "
				    "request %u", ku[4]);
				return (-1);
			}
			if (rec_update(r, &r->rd, &r->rctx, 0) == -1) {
				snprintf(r->err, sizeof(r->err), "KeyUpdate "
				    "failed");
				return (-1);
			}
			if (ku[4] == 1) {
				/* ours, not requesting, then our new keys */
				ku[0] = HS_KEYUPDATE;
				ku[1] = 0;
				ku[2] = 0;
				ku[3] = 1;
				ku[4] = 0;
				if (rec_seal1(r, CT_HANDSHAKE, ku, 5,
				    reply) == -1)
					return (-1);
				if (rec_update(r, &r->wr, &r->wctx, 1) == -1) {
					snprintf(r->err, sizeof(r->err),
					    "KeyUpdate failed");
					return (-1);
				}
			}
			break;
		default:
			snprintf(r->err, sizeof(r->err), "handshake message %u "
			    "after the handshake", h[0]);
			return (-1);
		}
	}
	return (0);
}

/* An alert's content: close_notify is the end, anything else an error. */
static int
rec_alert(struct tls_rec *r, const uint8_t *p, size_t n)
{
	if (n != 2) {
		snprintf(r->err, sizeof(r->err), "alert of %zu bytes", n);
		return (TLS_REC_ERR);
	}
	if (p[1] == 0) {
		r->eof = 1;
		return (TLS_REC_EOF);
	}
	snprintf(r->err, sizeof(r->err), "alert %u (level %u) from the peer",
	    p[1], p[0]);
	return (TLS_REC_ERR);
}

/*
 * The whole records in in, opened: application data onto plain, what
 * the peer asked for (a KeyUpdate) sealed onto reply.  A record in part
 * stays in in.  Returns TLS_REC_OK, TLS_REC_EOF (close_notify; what
 * follows is not read), or TLS_REC_ERR (tls_rec_error() says why).
 */
int
tls_rec_open(struct tls_rec *r, struct evbuffer *in, struct evbuffer *plain,
    struct evbuffer *reply)
{
	uint8_t		 rec[REC_HDR + REC_MAX12], out[REC_MAX12];
	uint8_t		 nonce[TLS_REC_IVLEN], aad[13], hdr[REC_HDR];
	uint8_t		*c, ct;
	size_t		 len, max, elen, n, aadlen;
	int		 l, l2, ret;

	if (r->eof)
		return (TLS_REC_EOF);
	max = r->version == TLS_REC_V13 ? REC_MAX13 : REC_MAX12;
	elen = r->version == TLS_REC_V12 && r->cipher != TLS_REC_CHACHA20 ?
	    REC_EXPLICIT : 0;
	while (evbuffer_get_length(in) >= REC_HDR) {
		evbuffer_copyout(in, hdr, REC_HDR);
		ct = hdr[0];
		len = (size_t)hdr[3] << 8 | hdr[4];
		if (hdr[1] != 3 || (ct != CT_DATA && ct != CT_ALERT &&
		    ct != CT_HANDSHAKE) ||
		    (r->version == TLS_REC_V13 && ct != CT_DATA)) {
			snprintf(r->err, sizeof(r->err), "record of type %u, "
			    "version %u.%u", ct, hdr[1], hdr[2]);
			return (TLS_REC_ERR);
		}
		if (len > max || len < elen + REC_TAG +
		    (r->version == TLS_REC_V13 ? 1 : 0)) {
			snprintf(r->err, sizeof(r->err), "record of %zu bytes",
			    len);
			return (TLS_REC_ERR);
		}
		if (evbuffer_get_length(in) < REC_HDR + len)
			break;
		if (r->rd.seq == UINT64_MAX) {
			snprintf(r->err, sizeof(r->err), "record numbers used "
			    "up");
			return (TLS_REC_ERR);
		}
		evbuffer_remove(in, rec, REC_HDR + len);
		n = len - elen - REC_TAG;
		c = rec + REC_HDR + elen;
		rec_nonce(r, &r->rd, nonce);
		/* 1.2 GCM: the explicit nonce as the record has it */
		memcpy(nonce + 4, rec + REC_HDR, elen);
		aadlen = rec_aad(r, rec, r->rd.seq, ct, n, aad);
		l = 0;
		if (EVP_DecryptInit_ex(r->rctx, NULL, NULL, NULL, nonce) != 1 ||
		    EVP_DecryptUpdate(r->rctx, NULL, &l2, aad, aadlen) != 1 ||
		    (n > 0 && EVP_DecryptUpdate(r->rctx, out, &l, c,
		    n) != 1) ||
		    EVP_CIPHER_CTX_ctrl(r->rctx, EVP_CTRL_AEAD_SET_TAG, REC_TAG,
		    c + n) != 1 ||
		    EVP_DecryptFinal_ex(r->rctx, out + l, &l2) != 1) {
			snprintf(r->err, sizeof(r->err), "record %llu does not "
			    "authenticate", (unsigned long long)r->rd.seq);
			return (TLS_REC_ERR);
		}
		r->rd.seq++;
		r->records++;
		if (r->version == TLS_REC_V13) {
			/* the content type: the last byte not zero */
			while (n > 0 && out[n - 1] == 0)
				n--;
			if (n == 0) {
				snprintf(r->err, sizeof(r->err), "record "
				    "without a content type");
				return (TLS_REC_ERR);
			}
			ct = out[--n];
			if (n > TLS_REC_PLAINMAX) {
				snprintf(r->err, sizeof(r->err), "record of "
				    "%zu bytes of content", n);
				return (TLS_REC_ERR);
			}
		}
		if (ct != CT_HANDSHAKE && evbuffer_get_length(r->hs) > 0) {
			/* RFC 8446 5.1: a message's records are together */
			snprintf(r->err, sizeof(r->err), "record of type %u "
			    "inside a handshake message", ct);
			return (TLS_REC_ERR);
		}
		switch (ct) {
		case CT_DATA:
			if (n > 0 && evbuffer_add(plain, out, n) == -1) {
				snprintf(r->err, sizeof(r->err), "out of "
				    "memory");
				return (TLS_REC_ERR);
			}
			break;
		case CT_ALERT:
			ret = rec_alert(r, out, n);
			explicit_bzero(out, sizeof(out));
			return (ret);
		case CT_HANDSHAKE:
			if (r->version == TLS_REC_V12) {
				/* HelloRequest: no renegotiation here */
				if (n != 4 || out[0] != HS_HELLOREQ ||
				    out[1] != 0 || out[2] != 0 || out[3] != 0) {
					snprintf(r->err, sizeof(r->err),
					    "handshake message %u after the "
					    "handshake", out[0]);
					return (TLS_REC_ERR);
				}
				break;
			}
			if (n == 0 || evbuffer_get_length(r->hs) + n >
			    HS_MAX + 4) {
				snprintf(r->err, sizeof(r->err), "handshake "
				    "record of %zu bytes", n);
				return (TLS_REC_ERR);
			}
			evbuffer_add(r->hs, out, n);
			if (rec_handshake13(r, reply) == -1)
				return (TLS_REC_ERR);
			break;
		default:
			snprintf(r->err, sizeof(r->err), "content type %u", ct);
			return (TLS_REC_ERR);
		}
	}
	explicit_bzero(out, sizeof(out));
	return (TLS_REC_OK);
}
