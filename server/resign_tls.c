/*
 * The TLS that the entry proxy speaks to the browsers whose connections
 * it resigns, on OpenSSL directly: one server context (SSL_CTX), made
 * at start, and each connection given its leaf's certificate, key and
 * chain as it begins (SSL_use_cert_and_key(), a few microseconds), from
 * the objects mint.c keeps with the leaf.  Through libtls each leaf
 * needed a whole context of its own (tls_configure(): an OpenSSL 3
 * SSL_CTX set up and the key's PEM decoded again, 1.3 ms a leaf on an
 * idle machine, 2.4 ms under load), on the way of every new host's first
 * handshake.
 *
 * The settings are libtls's defaults for a server: TLS 1.2 and 1.3, the
 * AEAD ciphers with forward secrecy, the groups X25519, P-256 and P-384,
 * no renegotiation, no session tickets nor cache,
 * ALPN "http/1.1" when the browser offers it.  The socket I/O is
 * kgp_tls's, the buffers of the KGP link's TLS (this file's BIO calls
 * kgp_tls_raw_read() and kgp_tls_raw_write()), and the calls answer as
 * libtls's do: a count, 0 at close_notify, TLS_WANT_POLLIN,
 * TLS_WANT_POLLOUT, or -1 with resign_tls_error() saying why.
 *
 * A browser forwarded by another node has no socket here: its end is
 * in-process (a node link's stream, resign.c), and another BIO reads
 * the end's input and appends to its output, RESIGN_BUF_MAX at most
 * waiting there (then TLS_WANT_POLLOUT, as a full socket).
 *
 * No leaf (resign.c's 502 inside TLS): the KGP endpoint's own key pair,
 * parsed once by resign_tls_init().
 */
#include <sys/types.h>

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <tls.h>

#include "http.h"
#include "kgp_tls.h"
#include "log.h"
#include "server.h"
#include "resign_int.h"

#define RESIGN_TLS_CIPHERS	"ECDHE+AESGCM:ECDHE+CHACHA20:DHE+AESGCM:DHE+CHACHA20"
#define RESIGN_TLS_GROUPS	"X25519:P-256:P-384"
#define RESIGN_TLS_ALPN		"\x08http/1.1"

struct resign_tls {
	SSL		*ssl;
	struct kgp_tls	*io;		/* NULL: local's */
	struct resign	*local;		/* a browser's in-process end */
	char		 err[256];
};

static SSL_CTX		*rtls_ctx;
static BIO_METHOD	*rtls_bio;
static BIO_METHOD	*rtls_lbio;	/* in-process ends */

static struct resign_tls *rtls_new(struct kgp_tls *, struct resign *,
		    const struct mint_leaf *, const char **);
/* the KGP endpoint's key pair and chain: no leaf */
static X509		*rtls_kgp_crt;
static EVP_PKEY		*rtls_kgp_key;
static STACK_OF(X509)	*rtls_kgp_chain;
/* the CA, every leaf's chain */
static X509		*rtls_ca;
static STACK_OF(X509)	*rtls_ca_chain;

static int
rtls_bio_read(BIO *b, char *buf, int len)
{
	ssize_t	 n;

	BIO_clear_retry_flags(b);
	if (len <= 0)
		return (0);
	if ((n = kgp_tls_raw_read(BIO_get_data(b), buf, len)) ==
	    TLS_WANT_POLLIN) {
		BIO_set_retry_read(b);
		return (-1);
	}
	return (n);
}

static int
rtls_bio_write(BIO *b, const char *buf, int len)
{
	ssize_t	 n;

	BIO_clear_retry_flags(b);
	if (len <= 0)
		return (0);
	if ((n = kgp_tls_raw_write(BIO_get_data(b), buf, len)) ==
	    TLS_WANT_POLLOUT) {
		BIO_set_retry_write(b);
		return (-1);
	}
	return (n);
}

/* A flush is the pump's (resign_tls_flush()), after all is encrypted. */
static long
rtls_bio_ctrl(BIO *b, int cmd, long num, void *ptr)
{
	switch (cmd) {
	case BIO_CTRL_FLUSH:
		return (1);
	case BIO_CTRL_PENDING:
		return (kgp_tls_buffered(BIO_get_data(b)));
	case BIO_CTRL_WPENDING:
		return (kgp_tls_unsent(BIO_get_data(b)));
	default:
		return (0);
	}
}

/* An in-process end (r->local): its input, at its end 0. */
static int
rtls_lbio_read(BIO *b, char *buf, int len)
{
	struct resign	*r = BIO_get_data(b);
	size_t		 n;

	BIO_clear_retry_flags(b);
	if (len <= 0)
		return (0);
	if ((n = bufferevent_read(r->local, buf, len)) > 0)
		return (n);
	if (r->local_eof)
		return (0);
	BIO_set_retry_read(b);
	return (-1);
}

static int
rtls_lbio_write(BIO *b, const char *buf, int len)
{
	struct resign	*r = BIO_get_data(b);

	BIO_clear_retry_flags(b);
	if (len <= 0)
		return (0);
	if (evbuffer_get_length(bufferevent_get_output(r->local)) >=
	    RESIGN_BUF_MAX) {
		BIO_set_retry_write(b);
		return (-1);
	}
	if (bufferevent_write(r->local, buf, len) == -1)
		return (-1);
	return (len);
}

static long
rtls_lbio_ctrl(BIO *b, int cmd, long num, void *ptr)
{
	struct resign	*r = BIO_get_data(b);

	switch (cmd) {
	case BIO_CTRL_FLUSH:
		return (1);
	case BIO_CTRL_PENDING:
		return (evbuffer_get_length(bufferevent_get_input(r->local)));
	default:
		return (0);
	}
}

/* ALPN: http/1.1 when the browser offers it, else none. */
static int
rtls_alpn(SSL *ssl, const unsigned char **out, unsigned char *outlen,
    const unsigned char *in, unsigned int inlen, void *arg)
{
	unsigned char	*sel;

	if (SSL_select_next_proto(&sel, outlen,
	    (const unsigned char *)RESIGN_TLS_ALPN,
	    sizeof(RESIGN_TLS_ALPN) - 1, in, inlen) != OPENSSL_NPN_NEGOTIATED)
		return (SSL_TLSEXT_ERR_NOACK);
	*out = sel;
	return (SSL_TLSEXT_ERR_OK);
}

/*
 * The KGP endpoint's certificate (with what follows it in crt, its
 * chain) and key, PEM, for the connections that get no leaf.
 */
static int
rtls_kgp_pair(const char *crt, size_t crtlen, const char *key,
    size_t keylen)
{
	BIO	*bio;
	X509	*x;

	if ((bio = BIO_new_mem_buf(crt, crtlen)) == NULL ||
	    (rtls_kgp_crt = PEM_read_bio_X509(bio, NULL, NULL, NULL)) ==
	    NULL || (rtls_kgp_chain = sk_X509_new_null()) == NULL) {
		BIO_free(bio);
		return (-1);
	}
	while ((x = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL)
		if (sk_X509_push(rtls_kgp_chain, x) == 0) {
			X509_free(x);
			BIO_free(bio);
			return (-1);
		}
	BIO_free(bio);
	ERR_clear_error();	/* the end of the PEM */
	if ((bio = BIO_new_mem_buf(key, keylen)) == NULL)
		return (-1);
	rtls_kgp_key = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
	BIO_free(bio);
	if (rtls_kgp_key == NULL ||
	    X509_check_private_key(rtls_kgp_crt, rtls_kgp_key) != 1)
		return (-1);
	return (0);
}

/*
 * The server context and the KGP key pair (PEM), before the sandbox.
 * Returns 0, or -1 with a log line.
 */
int
resign_tls_init(const char *crt, size_t crtlen, const char *key,
    size_t keylen)
{
	if ((rtls_ctx = SSL_CTX_new(TLS_server_method())) == NULL ||
	    SSL_CTX_set_min_proto_version(rtls_ctx, TLS1_2_VERSION) != 1 ||
	    SSL_CTX_set_cipher_list(rtls_ctx, RESIGN_TLS_CIPHERS) != 1 ||
	    SSL_CTX_set1_groups_list(rtls_ctx, RESIGN_TLS_GROUPS) != 1 ||
	    SSL_CTX_set_num_tickets(rtls_ctx, 0) != 1) {
		log_warnx("%s: the TLS context: %s", __func__,
		    ERR_error_string(ERR_get_error(), NULL));
		return (-1);
	}
	SSL_CTX_set_options(rtls_ctx, SSL_OP_NO_RENEGOTIATION |
	    SSL_OP_NO_TICKET | SSL_OP_CIPHER_SERVER_PREFERENCE);
	SSL_CTX_set_session_cache_mode(rtls_ctx, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_mode(rtls_ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
	    SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	SSL_CTX_set_alpn_select_cb(rtls_ctx, rtls_alpn, NULL);

	if ((rtls_bio = BIO_meth_new(BIO_get_new_index() |
	    BIO_TYPE_SOURCE_SINK, "resign")) == NULL ||
	    BIO_meth_set_read(rtls_bio, rtls_bio_read) != 1 ||
	    BIO_meth_set_write(rtls_bio, rtls_bio_write) != 1 ||
	    BIO_meth_set_ctrl(rtls_bio, rtls_bio_ctrl) != 1 ||
	    (rtls_lbio = BIO_meth_new(BIO_get_new_index() |
	    BIO_TYPE_SOURCE_SINK, "resign-local")) == NULL ||
	    BIO_meth_set_read(rtls_lbio, rtls_lbio_read) != 1 ||
	    BIO_meth_set_write(rtls_lbio, rtls_lbio_write) != 1 ||
	    BIO_meth_set_ctrl(rtls_lbio, rtls_lbio_ctrl) != 1) {
		log_warnx("%s: out of memory", __func__);
		return (-1);
	}
	if (rtls_kgp_pair(crt, crtlen, key, keylen) == -1) {
		log_warnx("%s: the KGP key pair: %s", __func__,
		    ERR_error_string(ERR_get_error(), NULL));
		return (-1);
	}
	return (0);
}

/* The CA as a chain, made once (mint.c's CA lives as long as we do). */
static STACK_OF(X509) *
rtls_chain(X509 *ca)
{
	if (rtls_ca_chain != NULL && rtls_ca == ca)
		return (rtls_ca_chain);
	sk_X509_pop_free(rtls_ca_chain, X509_free);
	rtls_ca = NULL;
	if ((rtls_ca_chain = sk_X509_new_null()) == NULL)
		return (NULL);
	if (X509_up_ref(ca) != 1 || sk_X509_push(rtls_ca_chain, ca) == 0) {
		sk_X509_pop_free(rtls_ca_chain, X509_free);
		rtls_ca_chain = NULL;
		return (NULL);
	}
	rtls_ca = ca;
	return (rtls_ca_chain);
}

/*
 * TLS as the server on fd with leaf (NULL: the KGP key pair), the
 * ClientHello's len bytes already read from it (raw) first.  NULL on
 * failure, *errstr saying why.  The object never owns fd.
 */
struct resign_tls *
resign_tls_accept(int fd, const struct mint_leaf *leaf, const void *raw,
    size_t len, const char **errstr)
{
	struct kgp_tls	*io;

	*errstr = "out of memory";
	if ((io = kgp_tls_raw(fd)) == NULL)
		return (NULL);
	if (kgp_tls_preload(io, raw, len) == -1) {
		kgp_tls_free(io);
		return (NULL);
	}
	return (rtls_new(io, NULL, leaf, errstr));
}

/* The same on r's in-process end (r->local), the raw bytes put back. */
struct resign_tls *
resign_tls_accept_local(struct resign *r, const struct mint_leaf *leaf,
    const void *raw, size_t len, const char **errstr)
{
	*errstr = "out of memory";
	if (evbuffer_prepend(bufferevent_get_input(r->local), raw, len) == -1)
		return (NULL);
	return (rtls_new(NULL, r, leaf, errstr));
}

/* TLS over io, or over local's end: the object owns io, even on failure. */
static struct resign_tls *
rtls_new(struct kgp_tls *io, struct resign *local,
    const struct mint_leaf *leaf, const char **errstr)
{
	struct resign_tls	*t;
	STACK_OF(X509)		*chain;
	BIO			*bio;
	int			 ok;

	*errstr = "out of memory";
	if (rtls_ctx == NULL) {
		*errstr = "no TLS context";
		kgp_tls_free(io);
		return (NULL);
	}
	if ((t = calloc(1, sizeof(*t))) == NULL) {
		kgp_tls_free(io);
		return (NULL);
	}
	t->io = io;
	t->local = local;
	ERR_clear_error();
	if ((t->ssl = SSL_new(rtls_ctx)) == NULL ||
	    (bio = BIO_new(io != NULL ? rtls_bio : rtls_lbio)) == NULL)
		goto fail;
	BIO_set_data(bio, io != NULL ? (void *)io : (void *)local);
	BIO_set_init(bio, 1);
	SSL_set_bio(t->ssl, bio, bio);
	if (leaf != NULL)
		ok = (chain = rtls_chain(leaf->ca)) != NULL &&
		    SSL_use_cert_and_key(t->ssl, leaf->x509, leaf->pkey, chain,
		    1) == 1;
	else
		ok = SSL_use_cert_and_key(t->ssl, rtls_kgp_crt, rtls_kgp_key,
		    rtls_kgp_chain, 1) == 1;
	if (!ok) {
		*errstr = "the certificate does not fit its key";
		goto fail;
	}
	SSL_set_accept_state(t->ssl);
	return (t);
 fail:
	ERR_clear_error();
	resign_tls_free(t);
	return (NULL);
}

void
resign_tls_free(struct resign_tls *t)
{
	if (t == NULL)
		return;
	SSL_free(t->ssl);
	kgp_tls_free(t->io);
	free(t);
}

/* What an SSL call that returned rv means, as libtls would say it. */
static int
rtls_result(struct resign_tls *t, int rv, const char *what)
{
	unsigned long	 e;
	int		 saved = errno;

	switch (SSL_get_error(t->ssl, rv)) {
	case SSL_ERROR_WANT_READ:
		return (TLS_WANT_POLLIN);
	case SSL_ERROR_WANT_WRITE:
		return (TLS_WANT_POLLOUT);
	case SSL_ERROR_ZERO_RETURN:
		snprintf(t->err, sizeof(t->err), "%s: closed by the peer",
		    what);
		return (0);
	case SSL_ERROR_SYSCALL:
		if ((e = ERR_peek_last_error()) != 0)
			break;
		snprintf(t->err, sizeof(t->err), "%s: %s", what, saved != 0 ?
		    strerror(saved) : "end of file");
		return (-1);
	default:
		break;
	}
	e = ERR_peek_last_error();
	snprintf(t->err, sizeof(t->err), "%s failed: %s", what,
	    e != 0 ? ERR_error_string(e, NULL) : "unknown error");
	ERR_clear_error();
	return (-1);
}

/* 0 when the handshake is done, else as resign_tls_read(). */
int
resign_tls_handshake(struct resign_tls *t)
{
	int	 rv;

	ERR_clear_error();
	errno = 0;
	if ((rv = SSL_do_handshake(t->ssl)) == 1)
		return (0);
	if ((rv = rtls_result(t, rv, "handshake")) == 0)
		rv = -1;
	return (rv);
}

ssize_t
resign_tls_read(struct resign_tls *t, void *buf, size_t len)
{
	int	 rv;

	ERR_clear_error();
	errno = 0;
	if ((rv = SSL_read(t->ssl, buf, len > INT_MAX ? INT_MAX : len)) > 0)
		return (rv);
	return (rtls_result(t, rv, "read"));
}

/* What is written is only buffered: resign_tls_flush() sends it. */
ssize_t
resign_tls_write(struct resign_tls *t, const void *buf, size_t len)
{
	int	 rv;

	ERR_clear_error();
	errno = 0;
	if ((rv = SSL_write(t->ssl, buf, len > INT_MAX ? INT_MAX : len)) > 0)
		return (rv);
	if ((rv = rtls_result(t, rv, "write")) == 0)
		rv = -1;
	return (rv);
}

/* close_notify, buffered. */
void
resign_tls_close(struct resign_tls *t)
{
	ERR_clear_error();
	if (SSL_is_init_finished(t->ssl))
		(void)SSL_shutdown(t->ssl);
	ERR_clear_error();
}

/* 0 when all is out, TLS_WANT_POLLOUT, -1 (errno). */
int
resign_tls_flush(struct resign_tls *t)
{
	return (t->io != NULL ? kgp_tls_flush(t->io) : 0);
}

/* Bytes read from the socket that TLS has not taken yet. */
size_t
resign_tls_buffered(struct resign_tls *t)
{
	if (t->io == NULL)
		return (evbuffer_get_length(bufferevent_get_input(
		    t->local->local)));
	return (kgp_tls_buffered(t->io));
}

/* Encrypted and not out yet (an in-process end's output: none). */
size_t
resign_tls_unsent(struct resign_tls *t)
{
	return (t->io != NULL ? kgp_tls_unsent(t->io) : 0);
}

/* No byte has moved for a while: the buffers that are empty go. */
void
resign_tls_trim(struct resign_tls *t)
{
	if (t->io != NULL)
		kgp_tls_trim(t->io, 1);
}

const char *
resign_tls_error(struct resign_tls *t)
{
	return (t->err[0] != '\0' ? t->err : "unknown error");
}

const char *
resign_tls_version(struct resign_tls *t)
{
	return (SSL_get_version(t->ssl));
}
