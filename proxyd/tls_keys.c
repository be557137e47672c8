/*
 * The record keys of a TLS connection to an app, exported (see
 * common/tls_rec.h), so that kgpd can carry its application data itself
 * once proxyd made the handshake: proxyd keeps what needs judgement
 * (connecting, SNI, verification, sessions), kgpd the records.
 *
 * OpenSSL 3.0 gives no record keys, so they are made as the peer made
 * them.  TLS 1.3: the two application traffic secrets, which OpenSSL
 * hands the key log callback (CLIENT_TRAFFIC_SECRET_0,
 * SERVER_TRAFFIC_SECRET_0); key and IV are expanded from them
 * (tls_rec_derive13()).  TLS 1.2: the key block expanded from the
 * session's master secret and the two randoms with the TLS PRF (RFC 5246
 * 6.3), no MAC keys for an AEAD suite.
 *
 * Record numbers: OpenSSL's message callback sees every record header
 * it reads and writes; the counts when the handshake is done
 * (SSL_CB_HANDSHAKE_DONE, the first time) are the base.  TLS 1.3
 * numbers the records under the application secrets from 0, TLS 1.2
 * counted the Finished as 0, so its next is 1.  A KeyUpdate seen (either
 * way) makes a connection one not exported: its secrets are no longer
 * the logged ones.  Nor is a connection with bytes OpenSSL read and did
 * not give yet (SSL_has_pending()): what is left of the app's bytes
 * must all be below, in the socket's buffer, for kgpd to open.
 *
 * Only AEAD suites (AES-GCM, ChaCha20-Poly1305), which is all the client
 * offers (relay_tls.c); anything else stays in proxyd.
 */
#include <sys/types.h>

#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/ssl.h>

#include "text.h"
#include "tls_rec.h"
#include "tls_keys.h"

struct tls_track {
	uint8_t		 csecret[TLS_REC_SECRETMAX];
	uint8_t		 ssecret[TLS_REC_SECRETMAX];
	size_t		 clen, slen;
	uint64_t	 rd, wr;	/* record headers read, written */
	uint64_t	 rd0, wr0;	/* ... when the handshake was done */
	int		 done;
	int		 updated;	/* a KeyUpdate went either way */
};

static int	 track_idx = -1;

static void
track_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl,
    void *argp)
{
	struct tls_track	*t = ptr;

	(void)parent;
	(void)ad;
	(void)idx;
	(void)argl;
	(void)argp;
	if (t != NULL)
		freezero(t, sizeof(*t));
}

static struct tls_track *
track_get(const SSL *ssl)
{
	struct tls_track	*t;

	if ((t = SSL_get_ex_data(ssl, track_idx)) != NULL)
		return (t);
	if ((t = calloc(1, sizeof(*t))) == NULL)
		return (NULL);
	if (SSL_set_ex_data((SSL *)(uintptr_t)ssl, track_idx, t) != 1) {
		free(t);
		return (NULL);
	}
	return (t);
}

/* "LABEL <client random> <secret>", both in hex: the secret kept. */
static void
track_keylog(const SSL *ssl, const char *line)
{
	struct tls_track	*t;
	const char		*p;
	uint8_t			*dst;
	size_t			*dlen, n;

	if (strncmp(line, "CLIENT_TRAFFIC_SECRET_0 ", 24) == 0)
		p = line + 24;
	else if (strncmp(line, "SERVER_TRAFFIC_SECRET_0 ", 24) == 0)
		p = line + 24;
	else
		return;
	if ((t = track_get(ssl)) == NULL)
		return;
	if (line[0] == 'C') {
		dst = t->csecret;
		dlen = &t->clen;
	} else {
		dst = t->ssecret;
		dlen = &t->slen;
	}
	if ((p = strchr(p, ' ')) == NULL)
		return;
	p++;
	n = strlen(p) / 2;
	*dlen = n <= TLS_REC_SECRETMAX && hexdecode(p, dst, n) == 0 ? n : 0;
}

static void
track_msg(int write_p, int version, int content_type, const void *buf,
    size_t len, SSL *ssl, void *arg)
{
	struct tls_track	*t;
	const uint8_t		*b = buf;

	(void)version;
	(void)arg;
	if ((t = track_get(ssl)) == NULL)
		return;
	if (content_type == SSL3_RT_HEADER) {
		if (write_p)
			t->wr++;
		else
			t->rd++;
	} else if (content_type == SSL3_RT_HANDSHAKE && t->done && len > 0 &&
	    b[0] == SSL3_MT_KEY_UPDATE)
		t->updated = 1;
}

static void
track_info(const SSL *ssl, int where, int ret)
{
	struct tls_track	*t;

	(void)ret;
	if ((where & SSL_CB_HANDSHAKE_DONE) == 0 ||
	    (t = track_get(ssl)) == NULL || t->done)
		return;
	t->done = 1;
	t->rd0 = t->rd;
	t->wr0 = t->wr;
}

/*
 * A context's connections tracked for tls_keys_export().  Before the
 * sandbox: the key log and message callbacks cost a little on every
 * handshake and record.  Returns 0, or -1.
 */
int
tls_keys_ctx(SSL_CTX *ctx)
{
	if (track_idx == -1 && (track_idx = SSL_get_ex_new_index(0, NULL, NULL,
	    NULL, track_free)) == -1)
		return (-1);
	SSL_CTX_set_keylog_callback(ctx, track_keylog);
	SSL_CTX_set_msg_callback(ctx, track_msg);
	SSL_CTX_set_info_callback(ctx, track_info);
	return (0);
}

/* TLS 1.2's key block: client key, server key, client IV, server IV. */
static int
keys_block12(SSL *ssl, const EVP_MD *md, uint8_t *out, size_t outlen)
{
	EVP_KDF		*kdf;
	EVP_KDF_CTX	*kctx;
	OSSL_PARAM	 params[4];
	uint8_t		 ms[TLS_REC_SECRETMAX], seed[13 + 2 * SSL3_RANDOM_SIZE];
	size_t		 mslen;
	int		 ret = -1;

	mslen = SSL_SESSION_get_master_key(SSL_get_session(ssl), ms,
	    sizeof(ms));
	if (mslen != sizeof(ms))
		goto done;
	memcpy(seed, "key expansion", 13);
	if (SSL_get_server_random(ssl, seed + 13, SSL3_RANDOM_SIZE) !=
	    SSL3_RANDOM_SIZE ||
	    SSL_get_client_random(ssl, seed + 13 + SSL3_RANDOM_SIZE,
	    SSL3_RANDOM_SIZE) != SSL3_RANDOM_SIZE)
		goto done;
	if ((kdf = EVP_KDF_fetch(NULL, OSSL_KDF_NAME_TLS1_PRF, NULL)) == NULL)
		goto done;
	kctx = EVP_KDF_CTX_new(kdf);
	EVP_KDF_free(kdf);
	if (kctx == NULL)
		goto done;
	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST,
	    (char *)(uintptr_t)EVP_MD_get0_name(md), 0);
	params[1] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SECRET,
	    ms, mslen);
	params[2] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SEED,
	    seed, sizeof(seed));
	params[3] = OSSL_PARAM_construct_end();
	if (EVP_KDF_derive(kctx, out, outlen, params) == 1)
		ret = 0;
	EVP_KDF_CTX_free(kctx);
 done:
	explicit_bzero(ms, sizeof(ms));
	return (ret);
}

/*
 * The record keys of ssl, a client's connection whose handshake is done,
 * into k: what this end writes is the client's direction.  With k NULL,
 * whether they could be: every check, no key derived.  Returns 0, or -1
 * with *why saying why the connection cannot be handed over.
 */
int
tls_keys_export(SSL *ssl, struct tls_rec_keys *k, const char **why)
{
	struct tls_rec_keys	 none;
	struct tls_track	*t;
	const SSL_CIPHER	*c;
	const EVP_MD		*md;
	uint8_t			 kb[2 * TLS_REC_KEYMAX + 2 * TLS_REC_IVLEN];
	size_t			 kl, il;
	int			 nid, check = k == NULL;

	if (check)
		k = &none;
	memset(k, 0, sizeof(*k));
	if (track_idx == -1 || (t = SSL_get_ex_data(ssl, track_idx)) == NULL ||
	    !t->done || !SSL_is_init_finished(ssl)) {
		*why = "handshake not done";
		return (-1);
	}
	if (t->updated) {
		*why = "keys updated";
		return (-1);
	}
	if (SSL_has_pending(ssl) || SSL_get_shutdown(ssl) != 0) {
		*why = "bytes pending";
		return (-1);
	}
	if ((c = SSL_get_current_cipher(ssl)) == NULL) {
		*why = "no cipher";
		return (-1);
	}
	nid = SSL_CIPHER_get_cipher_nid(c);
	if (nid == NID_aes_128_gcm)
		k->cipher = TLS_REC_AES128GCM;
	else if (nid == NID_aes_256_gcm)
		k->cipher = TLS_REC_AES256GCM;
	else if (nid == NID_chacha20_poly1305)
		k->cipher = TLS_REC_CHACHA20;
	else {
		*why = "not an AEAD cipher of ours";
		return (-1);
	}
	kl = tls_rec_keylen(k->cipher);
	switch (SSL_version(ssl)) {
	case TLS1_3_VERSION:
		k->version = TLS_REC_V13;
		if (t->clen != tls_rec_secretlen(k->cipher) ||
		    t->slen != t->clen) {
			*why = "no traffic secrets";
			goto fail;
		}
		if (check)
			break;
		memcpy(k->wr.secret, t->csecret, t->clen);
		memcpy(k->rd.secret, t->ssecret, t->slen);
		if (tls_rec_derive13(k->cipher, &k->wr) == -1 ||
		    tls_rec_derive13(k->cipher, &k->rd) == -1) {
			*why = "key derivation failed";
			goto fail;
		}
		k->wr.seq = t->wr - t->wr0;
		k->rd.seq = t->rd - t->rd0;
		break;
	case TLS1_2_VERSION:
		k->version = TLS_REC_V12;
		if (check)
			break;
		il = k->cipher == TLS_REC_CHACHA20 ? 12 : 4;
		if ((md = SSL_CIPHER_get_handshake_digest(c)) == NULL ||
		    keys_block12(ssl, md, kb, 2 * kl + 2 * il) == -1) {
			*why = "key derivation failed";
			goto fail;
		}
		memcpy(k->wr.key, kb, kl);
		memcpy(k->rd.key, kb + kl, kl);
		memcpy(k->wr.iv, kb + 2 * kl, il);
		memcpy(k->rd.iv, kb + 2 * kl + il, il);
		explicit_bzero(kb, sizeof(kb));
		k->wr.seq = 1 + t->wr - t->wr0;
		k->rd.seq = 1 + t->rd - t->rd0;
		break;
	default:
		*why = "not TLS 1.2 or 1.3";
		return (-1);
	}
	return (0);
 fail:
	explicit_bzero(k, sizeof(*k));
	return (-1);
}
