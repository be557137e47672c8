/*
 * TLS to the app (see relay_int.h), for absolute-form "https://"
 * requests: the ones a resigning entry proxy sends down the tunnel.
 * Once the app's socket is connected, its bufferevent goes under a
 * filter bufferevent that the rest of the relay uses as the app's side
 * as before: plaintext in and out, ciphertext below.  libtls reads and
 * writes through callbacks (tls_connect_cbs()) on the socket's buffers,
 * so the TLS engine never touches the socket itself.
 *
 * The client: SNI set to the host (libtls sends none for an address),
 * TLS 1.2 and 1.3.  No verification by default: intranet certificates
 * are self-signed.  With verification (sc --cacert-file, --cacert-system:
 * PROXY_F_VERIFY and the CA certificates that come before the
 * configuration, IMSG_PROXY_CA) the app's chain must lead to one of
 * them and name the host.  A handshake that fails is the exchange's 502,
 * with libtls' reason.
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
 * Such a connection stays in proxyd: its bytes are not the socket's, so
 * it is never moved, lent or spliced to kgpd (relay_move.c); it is kept
 * alive for the next request to the same host, port and scheme.
 *
 * Below relay_up.c (which starts it), above nothing of the relay.
 */
#include <sys/types.h>
#include <sys/queue.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <tls.h>

#include "evread.h"
#include "log.h"
#include "proxyd.h"
#include "relay_int.h"

/* what the filter's functions and libtls' callbacks share */
struct up_tls {
	struct tls		*ctx;
	struct bufferevent	*below;		/* the socket's */
	struct bufferevent	*bev;		/* the filter: the relay's */
	struct stream		*s;
	int			 done;		/* the handshake */
	int			 proxy;		/* to the upstream proxy */
	int			 direct;	/* below is the socket itself */
};

static struct tls_config	*tls_cfg;
static uint8_t			*tls_ca;
static size_t			 tls_calen;

static ssize_t	 up_tls_read_cb(struct tls *, void *, size_t, void *);
static ssize_t	 up_tls_write_cb(struct tls *, const void *, size_t, void *);
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

/* A chunk of CA certificates (PEM), before the configuration. */
int
up_tls_ca(const void *buf, size_t len)
{
	uint8_t	*p;

	if (tls_cfg != NULL || len > SC_CA_MAX - tls_calen)
		return (-1);
	if ((p = realloc(tls_ca, tls_calen + len)) == NULL)
		return (-1);
	memcpy(p + tls_calen, buf, len);
	tls_ca = p;
	tls_calen += len;
	return (0);
}

/*
 * The client's configuration, once: verify (against the CA certificates
 * sent, which must be there) or not.  Returns 0, or -1 with a log line.
 */
int
up_tls_config(int verify)
{
	if (tls_cfg != NULL)
		return (-1);
	if ((tls_cfg = tls_config_new()) == NULL) {
		log_warnx("%s: tls_config_new", __func__);
		return (-1);
	}
	if (tls_config_set_protocols(tls_cfg, TLS_PROTOCOL_TLSv1_2 |
	    TLS_PROTOCOL_TLSv1_3) == -1)
		goto fail;
	if (verify) {
		if (tls_ca == NULL) {
			log_warnx("TLS to the apps: verification without a "
			    "CA certificate");
			goto bad;
		}
		if (tls_config_set_ca_mem(tls_cfg, tls_ca, tls_calen) == -1)
			goto fail;
		log_debug("TLS to the apps: verified against %zu bytes of CA "
		    "certificates", tls_calen);
	} else {
		tls_config_insecure_noverifycert(tls_cfg);
		tls_config_insecure_noverifyname(tls_cfg);
		tls_config_insecure_noverifytime(tls_cfg);
	}
	freezero(tls_ca, tls_calen);
	tls_ca = NULL;
	tls_calen = 0;
	return (0);
 fail:
	log_warnx("TLS to the apps: %s", tls_config_error(tls_cfg));
 bad:
	tls_config_free(tls_cfg);
	tls_cfg = NULL;
	return (-1);
}

/* libtls reads ciphertext from the socket's input buffer. */
static ssize_t
up_tls_read_cb(struct tls *ctx, void *buf, size_t len, void *arg)
{
	struct up_tls	*t = arg;
	int		 n;

	n = evbuffer_remove(bufferevent_get_input(t->below), buf, len);
	if (n <= 0)
		return (TLS_WANT_POLLIN);
	return (n);
}

/*
 * ... and writes it to the socket's output buffer, all of it; straight
 * to the socket when nothing waits there (and the socket is below, not
 * another TLS): a bufferevent would arm its write event, wait a turn of
 * the loop and disarm it, two epoll_ctl for each request to the app.
 */
static ssize_t
up_tls_write_cb(struct tls *ctx, const void *buf, size_t len, void *arg)
{
	struct up_tls	*t = arg;

	if ((t->direct ? bev_write_buf(t->below, buf, len) :
	    evbuffer_add(bufferevent_get_output(t->below), buf, len)) == -1)
		return (-1);
	return (len);
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
	int			 r;

	if (tls_cfg == NULL) {
		/* a stream before IMSG_PROXY_CONFIG */
		strlcpy(u->tls_err, "proxyd has no TLS configuration yet",
		    sizeof(u->tls_err));
		return (-1);
	}
	if ((t = calloc(1, sizeof(*t))) == NULL ||
	    (t->ctx = tls_client()) == NULL) {
		free(t);
		strlcpy(u->tls_err, "out of memory", sizeof(u->tls_err));
		return (-1);
	}
	t->s = s;
	t->below = u->bev;
	t->proxy = proxy;
	t->direct = bufferevent_get_underlying(u->bev) == NULL &&
	    bufferevent_getfd(u->bev) != -1;
	if (tls_configure(t->ctx, tls_cfg) == -1 ||
	    tls_connect_cbs(t->ctx, up_tls_read_cb, up_tls_write_cb, t,
	    proxy ? u->via->host : u->host) == -1) {
		strlcpy(u->tls_err, tls_error(t->ctx), sizeof(u->tls_err));
		tls_free(t->ctx);
		free(t);
		return (-1);
	}
	f = bufferevent_filter_new(u->bev, up_tls_in, up_tls_out,
	    BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS, up_tls_free, t);
	if (f == NULL) {
		strlcpy(u->tls_err, "out of memory", sizeof(u->tls_err));
		tls_free(t->ctx);
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
	bufferevent_enable(f, EV_READ | EV_WRITE);
	/* the ClientHello */
	if ((r = tls_handshake(t->ctx)) == -1) {
		strlcpy(u->tls_err, tls_error(t->ctx), sizeof(u->tls_err));
		return (-1);
	}
	if (r == 0)
		t->done = 1;
	return (0);
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
	ssize_t		 w;

	while (len > 0) {
		/*
		 * The write callback takes everything: only a peer that wants
		 * to talk first (a renegotiation) makes libtls wait, and a
		 * loop here would never end.
		 */
		w = tls_write(t->ctx, p, len);
		if (w == TLS_WANT_POLLIN || w == TLS_WANT_POLLOUT) {
			up_tls_fail(t, "the proxy's TLS wants to read first");
			return (-1);
		}
		if (w == -1) {
			up_tls_fail(t, tls_error(t->ctx));
			return (-1);
		}
		p += w;
		len -= w;
	}
	return (0);
}

/* The filter goes (bufferevent_free()): so does the TLS context. */
static void
up_tls_free(void *arg)
{
	struct up_tls	*t = arg;

	tls_free(t->ctx);
	free(t);
}

/* What went wrong, for the 502, and a log line. */
static void
up_tls_fail(struct up_tls *t, const char *why)
{
	struct upstream	*u = &t->s->u;

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
	ssize_t		 w;

	while ((n = evbuffer_get_length(src)) > 0) {
		if (n > 16384)
			n = 16384;
		if ((p = evbuffer_pullup(src, n)) == NULL)
			return (-1);
		w = tls_write(t->ctx, p, n);
		if (w == TLS_WANT_POLLIN || w == TLS_WANT_POLLOUT)
			return (0);
		if (w == -1) {
			up_tls_fail(t, tls_error(t->ctx));
			return (-1);
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

	t->done = 1;
	s->u.tls_wait = 0;
	if (t->proxy) {
		log_debug("stream %u: TLS with upstream proxy %s: %s, %s",
		    s->id, s->u.via->shown, tls_conn_version(t->ctx),
		    tls_conn_cipher(t->ctx));
		bufferevent_trigger_event(t->bev, BEV_EVENT_CONNECTED,
		    BEV_TRIG_DEFER_CALLBACKS);
		return (0);
	}
	up_timer_stop(s);
	up_head_timer(s);
	log_debug("stream %u: TLS with %s port %s: %s, %s", s->id, s->u.host,
	    s->u.port, tls_conn_version(t->ctx), tls_conn_cipher(t->ctx));
	if (up_tls_pump_out(t, bufferevent_get_output(t->bev)) == -1)
		return (-1);
	bufferevent_trigger(t->bev, EV_WRITE, BEV_TRIG_DEFER_CALLBACKS);
	return (0);
}

/* The app sent ciphertext: the handshake, then plaintext up. */
static enum bufferevent_filter_result
up_tls_in(struct evbuffer *src, struct evbuffer *dst, ev_ssize_t limit,
    enum bufferevent_flush_mode mode, void *arg)
{
	struct up_tls		*t = arg;
	struct evbuffer_iovec	 v;
	ssize_t			 r;
	size_t			 left;
	int			 got = 0;

	if (!t->done) {
		if ((r = tls_handshake(t->ctx)) == TLS_WANT_POLLIN ||
		    r == TLS_WANT_POLLOUT)
			return (BEV_NEED_MORE);
		if (r == -1) {
			up_tls_fail(t, tls_error(t->ctx));
			return (BEV_ERROR);
		}
		if (up_tls_done(t) == -1)
			return (BEV_ERROR);
	}
	for (;;) {
		if (limit >= 0 && (ev_ssize_t)evbuffer_get_length(dst) >=
		    limit)
			break;
		if (evbuffer_reserve_space(dst, 16384, &v, 1) != 1)
			return (BEV_ERROR);
		left = evbuffer_get_length(src);
		r = tls_read(t->ctx, v.iov_base, v.iov_len);
		/*
		 * libtls reads without SSL_MODE_AUTO_RETRY: a record that is
		 * no data (a session ticket) ends the call, and the next
		 * record may be here already.
		 */
		if ((r == TLS_WANT_POLLIN || r == TLS_WANT_POLLOUT) &&
		    evbuffer_get_length(src) > 0 &&
		    evbuffer_get_length(src) < left)
			continue;
		if (r == TLS_WANT_POLLIN || r == TLS_WANT_POLLOUT || r == 0)
			break;	/* more to come; 0: the app's close_notify */
		if (r == -1) {
			up_tls_fail(t, tls_error(t->ctx));
			return (BEV_ERROR);
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

/* The end: the configuration goes. */
void
up_tls_shutdown(void)
{
	if (tls_cfg != NULL)
		tls_config_free(tls_cfg);
	tls_cfg = NULL;
	freezero(tls_ca, tls_calen);
	tls_ca = NULL;
	tls_calen = 0;
}
