/*
 * TLS to the app (see relay_int.h), for absolute-form "https://"
 * requests: the ones a resigning entry proxy sends down the tunnel.
 * Once the app's socket is connected, its bufferevent goes under a
 * filter bufferevent that the rest of the relay uses as the app's side
 * as before: plaintext in and out, ciphertext below.  OpenSSL reads and
 * writes through a BIO of ours (common/bio_bev.c) on the socket's
 * buffers, so the TLS engine never touches the socket itself.
 *
 * On OpenSSL directly: one client context (SSL_CTX), made with the
 * configuration, and an SSL a connection (a few microseconds).  Through
 * libtls each connection needed a context of its own (tls_configure():
 * an OpenSSL 3 SSL_CTX set up, the CA certificates parsed again, about
 * 0.76 ms under load), on the way of every resigned connection's first
 * request.
 *
 * The client: SNI set to the host (none for an address), TLS 1.2 and
 * 1.3, the AEAD ciphers with forward secrecy.  No verification by
 * default: intranet certificates are self-signed.  With verification
 * (sc --cacert-file, --cacert-system: PROXY_F_VERIFY and the CA
 * certificates that come before the configuration, IMSG_PROXY_CA) the
 * app's chain must lead to one of them and name the host (its address,
 * for an address).  A handshake that fails is the exchange's 502, with
 * the reason.
 *
 * Sessions are resumed: the last session (a TLS 1.3 ticket, or a TLS 1.2
 * session) an app's host and port gave is offered on the next connection
 * to it, which then needs no certificate, verification nor key exchange
 * of a full handshake.  The cache keeps PROXYD_TLS_SESSIONS of them,
 * the least recently used goes first; a session past its lifetime, or
 * whose connection failed, is dropped.  The one setting of verification
 * a process has is the sessions' too: a resumed session was verified
 * with it, for that name.
 *
 * The same filter, with the same configuration, is TLS to an https://
 * upstream proxy (-x https://, PAC "HTTPS"; relay_via.c): SNI and the
 * name verified are the proxy's, and what the relay queued waits above
 * it until the proxy's CONNECT is through (u->vstate is VIA_NONE again).
 * Once its handshake is done the filter reports BEV_EVENT_CONNECTED, as
 * the socket did, and relay_via.c goes on; the app's TLS, for https://,
 * is a second filter over this one.  One configuration for both, as in
 * Sauce Connect 5 (forwarder): --cacert-file and --cacert-system turn
 * verification on for the proxy and the apps alike.
 *
 * Such a connection's bytes are not the socket's, so it is never lent or
 * spliced to kgpd (relay_move.c); it is kept alive for the next request
 * to the same host, port and scheme.  But on a stream bound to the app
 * (relay_http.c), the app's TLS connection moves to kgpd with its record
 * keys (up_tls_export(), tls_keys.c), and kgpd carries its records
 * itself from then on.
 *
 * Below relay_up.c (which starts it), above nothing of the relay.
 */
#include <sys/types.h>
#include <sys/queue.h>
#include <sys/socket.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#include "bio_bev.h"
#include "log.h"
#include "proxyd.h"
#include "relay_int.h"
#include "tls_keys.h"
#include "tls_rec.h"

#define UP_TLS_CIPHERS	"ECDHE+AESGCM:ECDHE+CHACHA20:DHE+AESGCM:DHE+CHACHA20"
#define UP_TLS_GROUPS	"X25519:P-256:P-384"
#define UP_TLS_RECORD	16384		/* plaintext written at a time */

/* the session cache's key: host, a space, port */
#define UP_TLS_KEYLEN	(SC_HOST_LEN + 8)

/* what the filter's functions and the BIO share */
struct up_tls {
	SSL			*ssl;
	struct bio_bev		 bio;		/* the socket's bufferevent */
	struct bufferevent	*bev;		/* the filter: the relay's */
	struct stream		*s;
	int			 done;		/* the handshake */
	int			 proxy;		/* to the upstream proxy */
	int			 failed;	/* TLS failed: no session kept */
	char			 key[UP_TLS_KEYLEN];
};

/* a session to offer again, host and port's last */
struct up_sess {
	TAILQ_ENTRY(up_sess)	 entry;
	SSL_SESSION		*sess;
	char			 key[UP_TLS_KEYLEN];
};
TAILQ_HEAD(up_sessq, up_sess);

static SSL_CTX		*tls_ctx;
static uint8_t		*tls_ca;
static size_t		 tls_calen;
/* most recently used first */
static struct up_sessq	 tls_sessions = TAILQ_HEAD_INITIALIZER(tls_sessions);
static size_t		 tls_nsessions;

static enum bufferevent_filter_result up_tls_in(struct evbuffer *,
		    struct evbuffer *, ev_ssize_t, enum bufferevent_flush_mode,
		    void *);
static enum bufferevent_filter_result up_tls_out(struct evbuffer *,
		    struct evbuffer *, ev_ssize_t, enum bufferevent_flush_mode,
		    void *);
static int	 up_tls_pump_out(struct up_tls *, struct evbuffer *);
static int	 up_tls_done(struct up_tls *);
static void	 up_tls_free(void *);
static void	 up_tls_fail(struct up_tls *, const char *);
static int	 up_tls_result(struct up_tls *, int, const char *);
static int	 up_tls_handshake(struct up_tls *);

/* A chunk of CA certificates (PEM), before the configuration. */
int
up_tls_ca(const void *buf, size_t len)
{
	uint8_t	*p;

	if (tls_ctx != NULL || len > SC_CA_MAX - tls_calen)
		return (-1);
	if ((p = realloc(tls_ca, tls_calen + len)) == NULL)
		return (-1);
	memcpy(p + tls_calen, buf, len);
	tls_ca = p;
	tls_calen += len;
	return (0);
}

/* The cache's entry for key, or NULL. */
static struct up_sess *
up_sess_find(const char *key)
{
	struct up_sess	*e;

	TAILQ_FOREACH(e, &tls_sessions, entry)
		if (strcmp(e->key, key) == 0)
			return (e);
	return (NULL);
}

static void
up_sess_drop(struct up_sess *e)
{
	TAILQ_REMOVE(&tls_sessions, e, entry);
	tls_nsessions--;
	SSL_SESSION_free(e->sess);
	free(e);
}

/*
 * OpenSSL has a new session for a connection (after the handshake in
 * TLS 1.2, with each ticket in TLS 1.3): its host and port's now.
 * Returns 1, the session ours, or 0.
 */
static int
up_sess_new(SSL *ssl, SSL_SESSION *sess)
{
	struct up_tls	*t = SSL_get_app_data(ssl);
	struct up_sess	*e;

	if (t == NULL || !SSL_SESSION_is_resumable(sess))
		return (0);
	if ((e = up_sess_find(t->key)) != NULL) {
		SSL_SESSION_free(e->sess);
		TAILQ_REMOVE(&tls_sessions, e, entry);
	} else {
		if (tls_nsessions >= PROXYD_TLS_SESSIONS)
			up_sess_drop(TAILQ_LAST(&tls_sessions, up_sessq));
		if ((e = calloc(1, sizeof(*e))) == NULL)
			return (0);
		strlcpy(e->key, t->key, sizeof(e->key));
		tls_nsessions++;
	}
	e->sess = sess;
	TAILQ_INSERT_HEAD(&tls_sessions, e, entry);
	/* TLS 1.3: a warm-up's connection has its ticket: it may move */
	if (!t->proxy && t->done && SSL_version(ssl) >= TLS1_3_VERSION)
		move_tls_ready(t->s);
	return (1);
}

/* The session to offer to key, if there is one still good: set. */
static void
up_sess_offer(SSL *ssl, const char *key)
{
	struct up_sess	*e;
	time_t		 now = time(NULL);

	if ((e = up_sess_find(key)) == NULL)
		return;
	if (SSL_SESSION_get_time(e->sess) + SSL_SESSION_get_timeout(e->sess) <=
	    now || SSL_set_session(ssl, e->sess) != 1) {
		ERR_clear_error();
		up_sess_drop(e);
		return;
	}
	TAILQ_REMOVE(&tls_sessions, e, entry);
	TAILQ_INSERT_HEAD(&tls_sessions, e, entry);
}

/* A connection to key failed: its session is not offered again. */
static void
up_sess_forget(const char *key)
{
	struct up_sess	*e;

	if ((e = up_sess_find(key)) != NULL)
		up_sess_drop(e);
}

/* The CA certificates sent (PEM), into the context's store. */
static int
up_tls_store(void)
{
	X509_STORE		*store;
	STACK_OF(X509_INFO)	*info;
	X509_INFO		*xi;
	BIO			*bio;
	int			 i, n = 0;

	if ((store = SSL_CTX_get_cert_store(tls_ctx)) == NULL ||
	    (bio = BIO_new_mem_buf(tls_ca, tls_calen)) == NULL)
		return (-1);
	info = PEM_X509_INFO_read_bio(bio, NULL, NULL, NULL);
	BIO_free(bio);
	if (info == NULL)
		return (-1);
	for (i = 0; i < sk_X509_INFO_num(info); i++) {
		xi = sk_X509_INFO_value(info, i);
		if (xi->x509 == NULL)
			continue;
		if (X509_STORE_add_cert(store, xi->x509) != 1) {
			sk_X509_INFO_pop_free(info, X509_INFO_free);
			return (-1);
		}
		n++;
	}
	sk_X509_INFO_pop_free(info, X509_INFO_free);
	return (n > 0 ? n : -1);
}

/*
 * OpenSSL made ready before the sandbox: what it would load lazily
 * (its strings, its algorithms: a context made and freed) and the BIO's
 * methods.  Returns 0, or -1.
 */
int
up_tls_init(void)
{
	SSL_CTX	*ctx;

	if (OPENSSL_init_ssl(OPENSSL_INIT_NO_LOAD_CONFIG |
	    OPENSSL_INIT_LOAD_SSL_STRINGS | OPENSSL_INIT_LOAD_CRYPTO_STRINGS,
	    NULL) != 1 || (ctx = SSL_CTX_new(TLS_client_method())) == NULL)
		return (-1);
	SSL_CTX_free(ctx);
	return (bio_bev_init());
}

/*
 * The client's configuration, once: verify (against the CA certificates
 * sent, which must be there) or not.  Returns 0, or -1 with a log line.
 */
int
up_tls_config(int verify)
{
	int	 n;

	if (tls_ctx != NULL)
		return (-1);
	ERR_clear_error();
	if ((tls_ctx = SSL_CTX_new(TLS_client_method())) == NULL ||
	    SSL_CTX_set_min_proto_version(tls_ctx, TLS1_2_VERSION) != 1 ||
	    SSL_CTX_set_cipher_list(tls_ctx, UP_TLS_CIPHERS) != 1 ||
	    SSL_CTX_set1_groups_list(tls_ctx, UP_TLS_GROUPS) != 1)
		goto fail;
	SSL_CTX_set_options(tls_ctx, SSL_OP_NO_RENEGOTIATION);
	/* the keys of a connection, for its move to kgpd (tls_keys.c) */
	if (tls_keys_ctx(tls_ctx) == -1)
		goto fail;
	SSL_CTX_set_mode(tls_ctx, SSL_MODE_AUTO_RETRY);
	SSL_CTX_set_session_cache_mode(tls_ctx, SSL_SESS_CACHE_CLIENT |
	    SSL_SESS_CACHE_NO_INTERNAL_STORE);
	SSL_CTX_sess_set_new_cb(tls_ctx, up_sess_new);
	if (verify) {
		if (tls_ca == NULL) {
			log_warnx("TLS to the apps: verification without a "
			    "CA certificate");
			goto bad;
		}
		if ((n = up_tls_store()) == -1) {
			log_warnx("TLS to the apps: no CA certificate in the "
			    "%zu bytes sent", tls_calen);
			goto bad;
		}
		SSL_CTX_set_verify(tls_ctx, SSL_VERIFY_PEER, NULL);
		log_debug("TLS to the apps: verified against %d CA "
		    "certificates (%zu bytes)", n, tls_calen);
	} else
		SSL_CTX_set_verify(tls_ctx, SSL_VERIFY_NONE, NULL);
	freezero(tls_ca, tls_calen);
	tls_ca = NULL;
	tls_calen = 0;
	return (0);
 fail:
	log_warnx("TLS to the apps: %s",
	    ERR_error_string(ERR_get_error(), NULL));
 bad:
	SSL_CTX_free(tls_ctx);
	tls_ctx = NULL;
	return (-1);
}

/* Whether host is an address (no SNI; the address verified). */
static int
up_tls_isaddr(const char *host)
{
	struct in6_addr	 a;

	return (inet_pton(AF_INET, host, &a) == 1 ||
	    inet_pton(AF_INET6, host, &a) == 1);
}

/*
 * The app's socket s->u.bev is connected (or the upstream proxy's, for
 * proxy, or the way through it, a filter already): TLS over it, the
 * handshake begun.  u->bev becomes the filter.  Returns 0, or -1 (the
 * caller answers 502, u->tls_err says why).
 */
int
up_tls_start(struct stream *s, int proxy)
{
	struct upstream		*u = &s->u;
	struct bufferevent	*f;
	struct up_tls		*t;
	const char		*host, *port;
	BIO			*bio;
	int			 r;

	if (tls_ctx == NULL) {
		/* a stream before IMSG_PROXY_CONFIG */
		strlcpy(u->tls_err, "proxyd has no TLS configuration yet",
		    sizeof(u->tls_err));
		return (-1);
	}
	host = proxy ? u->via->host : u->host;
	port = proxy ? u->via->port : u->port;
	ERR_clear_error();
	if ((t = calloc(1, sizeof(*t))) == NULL ||
	    (t->ssl = SSL_new(tls_ctx)) == NULL ||
	    (bio = bio_bev_new(&t->bio)) == NULL) {
		if (t != NULL)
			SSL_free(t->ssl);
		free(t);
		ERR_clear_error();
		strlcpy(u->tls_err, "out of memory", sizeof(u->tls_err));
		return (-1);
	}
	t->s = s;
	/* straight to the socket, when below is the socket itself */
	t->bio.bev = u->bev;
	t->bio.direct = bufferevent_get_underlying(u->bev) == NULL &&
	    bufferevent_getfd(u->bev) != -1;
	t->proxy = proxy;
	snprintf(t->key, sizeof(t->key), "%s %s", host, port);
	SSL_set_bio(t->ssl, bio, bio);
	SSL_set_app_data(t->ssl, t);
	SSL_set_connect_state(t->ssl);
	if (up_tls_isaddr(host))
		r = X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(t->ssl),
		    host) == 1;
	else
		/* SSL_set_tlsext_host_name() as such: its cast drops const */
		r = SSL_ctrl(t->ssl, SSL_CTRL_SET_TLSEXT_HOSTNAME,
		    TLSEXT_NAMETYPE_host_name, (void *)(uintptr_t)host) == 1 &&
		    SSL_set1_host(t->ssl, host) == 1;
	if (!r) {
		snprintf(u->tls_err, sizeof(u->tls_err), "bad server name %.100s",
		    host);
		ERR_clear_error();
		SSL_free(t->ssl);
		free(t);
		return (-1);
	}
	up_sess_offer(t->ssl, t->key);
	f = bufferevent_filter_new(u->bev, up_tls_in, up_tls_out,
	    BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS, up_tls_free, t);
	if (f == NULL) {
		strlcpy(u->tls_err, "out of memory", sizeof(u->tls_err));
		SSL_free(t->ssl);
		free(t);
		return (-1);
	}
	t->bev = f;
	bufferevent_setcb(f, app_read, app_write, app_event, s);
	bufferevent_setwatermark(f, EV_WRITE, RELAY_WRITE_LOW, 0);
	/* what the relay queued before the connect is plaintext: above */
	evbuffer_add_buffer(bufferevent_get_output(f),
	    bufferevent_get_output(u->bev));
	u->bev = f;
	u->tls = 1;
	if (proxy)
		u->vtls = t;
	else
		u->atls = t;
	bufferevent_enable(f, EV_READ | EV_WRITE);
	/* the ClientHello */
	if ((r = up_tls_handshake(t)) == -1)
		return (-1);
	if (r == 0)
		t->done = 1;
	return (0);
}

/* The handshake goes on: 0 when it is done, 1 to wait, -1: failed. */
static int
up_tls_handshake(struct up_tls *t)
{
	int	 r;

	ERR_clear_error();
	if ((r = SSL_do_handshake(t->ssl)) == 1)
		return (0);
	if ((r = up_tls_result(t, r, "handshake")) == 0) {
		up_sess_forget(t->key);
		up_tls_fail(t, "handshake: closed by the app");
		return (-1);
	}
	return (r);
}

/*
 * What an SSL call on t that returned rv means: -1 with u->tls_err and
 * a log line (the session is forgotten), 1 to wait for the app's bytes,
 * or 0 for the app's close_notify.
 */
static int
up_tls_result(struct up_tls *t, int rv, const char *what)
{
	char		 why[160];
	const char	*reason;
	unsigned long	 e;
	long		 vr;
	int		 saved = errno;

	switch (SSL_get_error(t->ssl, rv)) {
	case SSL_ERROR_WANT_READ:
	case SSL_ERROR_WANT_WRITE:
		return (1);
	case SSL_ERROR_ZERO_RETURN:
		return (0);
	case SSL_ERROR_SYSCALL:
		if (ERR_peek_last_error() != 0)
			break;
		snprintf(why, sizeof(why), "%s: %s", what, saved != 0 ?
		    strerror(saved) : "end of file");
		goto out;
	default:
		break;
	}
	if ((SSL_get_verify_mode(t->ssl) & SSL_VERIFY_PEER) &&
	    (vr = SSL_get_verify_result(t->ssl)) != X509_V_OK)
		snprintf(why, sizeof(why), "certificate verification "
		    "failed: %s", X509_verify_cert_error_string(vr));
	else {
		if ((e = ERR_peek_last_error()) == 0 ||
		    (reason = ERR_reason_error_string(e)) == NULL)
			reason = "unknown error";
		snprintf(why, sizeof(why), "%s failed: %s", what, reason);
	}
 out:
	ERR_clear_error();
	up_sess_forget(t->key);
	up_tls_fail(t, why);
	return (-1);
}

/*
 * A handshake's bytes to the https:// proxy (relay_via.c), ahead of what
 * the relay queued: -1 with u->tls_err when TLS failed.
 */
int
up_tls_send(struct stream *s, const void *buf, size_t len)
{
	struct up_tls	*t = s->u.vtls;
	const char	*p = buf;
	int		 w;

	while (len > 0) {
		/*
		 * The BIO takes everything: only a peer that wants to talk
		 * first (a renegotiation) makes OpenSSL wait, and a loop here
		 * would never end.
		 */
		ERR_clear_error();
		w = SSL_write(t->ssl, p, len > INT_MAX ? INT_MAX : len);
		if (w <= 0) {
			if (up_tls_result(t, w, "write") != -1)
				up_tls_fail(t, "the proxy's TLS wants to read "
				    "first, or closed");
			return (-1);
		}
		p += w;
		len -= w;
	}
	return (0);
}

/*
 * The filter goes (bufferevent_free()): so does the TLS connection.  One
 * that did not fail ends as if shut down (no close_notify: the socket
 * goes with it), else OpenSSL would take the session for a bad one and
 * never offer it again.
 */
static void
up_tls_free(void *arg)
{
	struct up_tls	*t = arg;

	if (t->done && !t->failed) {
		SSL_set_quiet_shutdown(t->ssl, 1);
		(void)SSL_shutdown(t->ssl);
		ERR_clear_error();
	}
	SSL_free(t->ssl);
	free(t);
}

/* What went wrong, for the 502, and a log line. */
static void
up_tls_fail(struct up_tls *t, const char *why)
{
	struct upstream	*u = &t->s->u;

	t->failed = 1;
	strlcpy(u->tls_err, why != NULL ? why : "TLS failed",
	    sizeof(u->tls_err));
	if (t->proxy)
		log_debug("stream %u: TLS with upstream proxy %s: %s",
		    t->s->id, u->via->shown, u->tls_err);
	else
		log_debug("stream %u: TLS with %s port %s: %s", t->s->id,
		    u->host, u->port, u->tls_err);
}

/* Plaintext out, encrypted into the socket's output.  -1: failed. */
static int
up_tls_pump_out(struct up_tls *t, struct evbuffer *src)
{
	unsigned char	*p;
	size_t		 n;
	int		 w;

	while ((n = evbuffer_get_length(src)) > 0) {
		if (n > UP_TLS_RECORD)
			n = UP_TLS_RECORD;
		if ((p = evbuffer_pullup(src, n)) == NULL)
			return (-1);
		ERR_clear_error();
		if ((w = SSL_write(t->ssl, p, n)) <= 0) {
			if ((w = up_tls_result(t, w, "write")) == -1)
				return (-1);
			if (w == 0) {
				up_tls_fail(t, "closed by the app");
				return (-1);
			}
			return (0);
		}
		evbuffer_drain(src, w);
	}
	return (0);
}

/*
 * The handshake is through: to the app, what waited for it goes now; to
 * a proxy, relay_via.c's turn (CONNECT, or the request).  -1: failed.
 */
static int
up_tls_done(struct up_tls *t)
{
	struct stream	*s = t->s;
	const char	*resumed;

	t->done = 1;
	s->u.tls_wait = 0;
	resumed = SSL_session_reused(t->ssl) ? ", resumed" : "";
	if (t->proxy) {
		log_debug("stream %u: TLS with upstream proxy %s: %s, %s%s",
		    s->id, s->u.via->shown, SSL_get_version(t->ssl),
		    SSL_get_cipher_name(t->ssl), resumed);
		bufferevent_trigger_event(t->bev, BEV_EVENT_CONNECTED,
		    BEV_TRIG_DEFER_CALLBACKS);
		return (0);
	}
	up_timer_stop(s);
	up_head_timer(s);
	log_debug("stream %u: TLS with %s port %s: %s, %s%s", s->id,
	    s->u.host, s->u.port, SSL_get_version(t->ssl),
	    SSL_get_cipher_name(t->ssl), resumed);
	if (up_tls_pump_out(t, bufferevent_get_output(t->bev)) == -1)
		return (-1);
	bufferevent_trigger(t->bev, EV_WRITE, BEV_TRIG_DEFER_CALLBACKS);
	/* TLS 1.2: a warm-up's connection may move with its request */
	if (SSL_version(t->ssl) < TLS1_3_VERSION)
		move_tls_ready(s);
	return (0);
}

/* The app sent ciphertext: the handshake, then plaintext up. */
static enum bufferevent_filter_result
up_tls_in(struct evbuffer *src, struct evbuffer *dst, ev_ssize_t limit,
    enum bufferevent_flush_mode mode, void *arg)
{
	struct up_tls		*t = arg;
	struct evbuffer_iovec	 v;
	size_t			 left;
	int			 r, got = 0;

	if (!t->done) {
		if ((r = up_tls_handshake(t)) == -1)
			return (BEV_ERROR);
		if (r == 1)
			return (BEV_NEED_MORE);
		if (up_tls_done(t) == -1)
			return (BEV_ERROR);
	}
	for (;;) {
		if (limit >= 0 && (ev_ssize_t)evbuffer_get_length(dst) >=
		    limit)
			break;
		if (evbuffer_reserve_space(dst, UP_TLS_RECORD, &v, 1) != 1)
			return (BEV_ERROR);
		left = evbuffer_get_length(src);
		ERR_clear_error();
		if ((r = SSL_read(t->ssl, v.iov_base, v.iov_len > INT_MAX ?
		    INT_MAX : v.iov_len)) <= 0) {
			if ((r = up_tls_result(t, r, "read")) == -1)
				return (BEV_ERROR);
			/*
			 * A record that is no data (a session ticket) may
			 * end the call, and the next record be here already.
			 */
			if (r == 1 && evbuffer_get_length(src) > 0 &&
			    evbuffer_get_length(src) < left)
				continue;
			break;	/* more to come; 0: the app's close_notify */
		}
		v.iov_len = r;
		evbuffer_commit_space(dst, &v, 1);
		got = 1;
	}
	return (got ? BEV_OK : BEV_NEED_MORE);
}

/* The relay wrote plaintext for the app: encrypted, once handshaken. */
static enum bufferevent_filter_result
up_tls_out(struct evbuffer *src, struct evbuffer *dst, ev_ssize_t limit,
    enum bufferevent_flush_mode mode, void *arg)
{
	struct up_tls	*t = arg;

	/* to a proxy: the request waits for the way through it */
	if (!t->done || (t->proxy && t->s->u.vstate != VIA_NONE))
		return (BEV_NEED_MORE);
	if (up_tls_pump_out(t, src) == -1)
		return (BEV_ERROR);
	return (BEV_OK);
}

/* The end: the configuration and the sessions go. */
void
up_tls_shutdown(void)
{
	struct up_sess	*e;

	while ((e = TAILQ_FIRST(&tls_sessions)) != NULL)
		up_sess_drop(e);
	SSL_CTX_free(tls_ctx);
	tls_ctx = NULL;
	freezero(tls_ca, tls_calen);
	tls_ca = NULL;
	tls_calen = 0;
}

/*
 * The app's TLS connection, for its move to kgpd: its record keys (k
 * NULL: only whether it could give them, tls_keys_export()) and the
 * ciphertext below the filter that OpenSSL has not read (*left, the
 * socket's input).  Only TLS straight to the app, its handshake done,
 * nothing pending above or inside OpenSSL.  Returns 0, or -1 with *why.
 */
int
up_tls_export(struct stream *s, struct tls_rec_keys *k, struct evbuffer **left,
    const char **why)
{
	struct up_tls		*t = s->u.atls;
	struct bufferevent	*under;

	if (t == NULL || !t->done || t->failed || s->u.vtls != NULL ||
	    s->u.bev != t->bev ||
	    (under = bufferevent_get_underlying(t->bev)) == NULL ||
	    bufferevent_getfd(under) == -1) {
		*why = "not TLS straight to the app";
		return (-1);
	}
	if (evbuffer_get_length(bufferevent_get_input(t->bev)) > 0 ||
	    evbuffer_get_length(bufferevent_get_output(t->bev)) > 0) {
		*why = "plaintext waiting";
		return (-1);
	}
	if (tls_keys_export(t->ssl, k, why) == -1)
		return (-1);
	*left = bufferevent_get_input(under);
	return (0);
}
