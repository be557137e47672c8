/*
 * TLS resigning at the entry proxy.  A CONNECT that the tunnel's rules
 * do not pass through (by default none is) is answered 200 here; then
 * the browser's ClientHello is read and looked at before any TLS
 * library sees it (sni.c: bytes that are not one, or an SNI that is no
 * host name, close the connection with a log line and cost nothing
 * else); a leaf for its SNI, else the CONNECT's host (an address gets
 * an IP SAN), comes from mint.c; and this process speaks TLS to the
 * browser with it, the ClientHello's bytes first.  The TLS server
 * context of each leaf is made once and kept with it (mint.c's cache).
 *
 * No leaf (the CA does not answer in time, the rate limit, a name that
 * no certificate can carry): the log says why, and the handshake goes on
 * with the KGP endpoint's own certificate, so that a browser that does
 * not check (curl -k) reads a 502 that says why; a browser that checks
 * stops at the certificate, as it would without the 502.
 *
 * Inside the TLS, requests come one after the other (keep-alive).  Each
 * is decided by the rules on its own: its host is the Host field's (else
 * the SNI's), and fast-fail sees its whole https:// URL.  Denied: a 403
 * inside the TLS that names the rule.  A direct host: a 421 (the browser
 * is to ask again on a connection of its own, which a CONNECT decides).
 * Down the tunnel: in absolute form, "https://host[:port]/path", so that
 * proxyd speaks TLS to the app.  All the requests of one connection use
 * one stream, kept while proxyd keeps it, so that proxyd keeps one TLS
 * connection to the app for them; the answers are read here (their head
 * and framing, never buffered whole) to know where each ends.  An
 * upgrade (WebSocket) answered 101 makes the connection a tunnel: bytes
 * both ways as they come.  A long or endless answer (chunked, Server-
 * Sent Events, until close) goes on as it arrives.
 *
 * The stream's local end is one end of a socket pair: the KGP engine
 * reads and writes it as it does a browser's socket, with its flow
 * control; this side moves bytes between it and the TLS.  Bounds:
 * RESIGN_BUF_MAX bytes waiting each way (reading stops until they are
 * written), RESIGN_HANDSHAKE_SEC from the 200 to the end of the
 * handshake, RESIGN_IDLE_SEC without a byte either way, RESIGN_MAX_TUNNEL
 * connections of a tunnel at once.
 */
#include <sys/types.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <tls.h>

#include "http.h"
#include "kgp.h"
#include "kgp_tls.h"
#include "log.h"
#include "server.h"

#define RESIGN_RAW_MAX		(SNI_HELLO_MAX + 1024)	/* with records */
#define RESIGN_READ		(16 * 1024)	/* plaintext a tls_read() */
#define RESIGN_WRITE		(64 * 1024)	/* ... a tls_write() */
#define RESIGN_ESTABLISHED	"HTTP/1.1 200 Connection established\r\n\r\n"

enum resign_state {
	RESIGN_HELLO,		/* the ClientHello arriving */
	RESIGN_MINT,		/* its leaf being made */
	RESIGN_HANDSHAKE,
	RESIGN_HTTP,		/* requests, one after the other */
	RESIGN_TUNNEL,		/* after a 101: bytes both ways */
	RESIGN_CLOSING,		/* the last answer going out */
};

enum resign_rq { RQ_HEAD, RQ_BODY, RQ_DONE };
enum resign_rp { RP_NONE, RP_HEAD, RP_BODY, RP_DONE };

/* the TLS server context of one leaf, kept with it (mint.c) */
struct resign_ctx {
	struct tls		*tls;
	int			 refs;
};

struct resign {
	TAILQ_ENTRY(resign)	 entry;
	struct tunnel		*tunnel;	/* until entry_close() */
	char			 tunnel_id[TUNNEL_ID_LEN + 1];
	char			 peer[ADDRSTR_MAX];
	char			 host[HOST_MAX];	/* the CONNECT's */
	uint16_t		 port;
	char			 name[CERT_NAME_MAX + 1];	/* of the leaf */
	enum resign_state	 state;
	int			 fd;		/* the browser */
	struct event		*ev_rd, *ev_wr;
	int			 rd_on, wr_on;
	struct event		*timer;
	time_t			 armed;		/* the idle timer, last set */
	uint8_t			*raw;		/* the ClientHello, before TLS */
	size_t			 rawlen;
	struct mint_wait	*mw;
	struct resign_ctx	*ctx;
	struct kgp_tls		*io;
	int			 want_rd, want_wr;	/* what TLS waits for */
	int			 tls_closed;	/* close_notify is out */
	char			*fail;		/* no leaf: the 502's text */
	int			 dead;		/* freed at the end of the pump */
	struct evbuffer		*in;		/* plaintext from the browser */
	struct evbuffer		*out;		/* ... to it */
	int			 b_eof;
	struct bufferevent	*s;		/* the stream's end, or NULL */
	int			 s_eof;
	int			 s_shut;	/* its write side shut */
	/* the exchange */
	struct http_head	*req, *resp;
	enum resign_rq		 rq;
	enum resign_rp		 rp;
	enum http_body		 rq_body, rp_body;
	uint64_t		 rq_left, rp_left;
	struct http_chunked	 rq_ck, rp_ck;
	int			 upgrade;	/* the request asks for one */
	int			 keep;		/* the browser's connection stays */
	int			 s_keep;	/* the stream stays */
	int			 rp_sent;	/* bytes of this answer went out */
};

static TAILQ_HEAD(, resign)	 resigns = TAILQ_HEAD_INITIALIZER(resigns);

static void	 resign_ctx_unref(struct resign_ctx *);
static void	 resign_ctx_free(void *);
static void	 resign_free(struct resign *);
static void	 resign_hello(int, short, void *);
static void	 resign_minted(const struct mint_leaf *, const char *, void *);
static void	 resign_io(int, short, void *);
static void	 resign_timer(int, short, void *);
static void	 resign_s_read(struct bufferevent *, void *);
static void	 resign_s_event(struct bufferevent *, short, void *);
static void	 resign_pump(struct resign *);
static int	 resign_tls_in(struct resign *);
static int	 resign_tls_out(struct resign *);
static int	 resign_requests(struct resign *);
static int	 resign_request(struct resign *);
static int	 resign_responses(struct resign *);
static int	 resign_response_head(struct resign *);
static int	 resign_body(struct evbuffer *, struct evbuffer *,
		    enum http_body, uint64_t *, struct http_chunked *, int *);
static void	 resign_answer(struct resign *, int, const char *);
static int	 resign_stream(struct resign *, struct tunnel *);
static void	 resign_stream_drop(struct resign *);
static void	 resign_exchange_end(struct resign *);

/* The leaves' contexts go with them (mint.c). */
void
resign_init(void)
{
	mint_set_ctx_free(resign_ctx_free);
}

static void
resign_ctx_unref(struct resign_ctx *ctx)
{
	if (ctx == NULL || --ctx->refs > 0)
		return;
	tls_free(ctx->tls);
	free(ctx);
}

static void
resign_ctx_free(void *arg)
{
	resign_ctx_unref(arg);
}

/* The TLS server context of leaf: made once, kept with it. */
static struct resign_ctx *
resign_ctx_get(const struct mint_leaf *leaf, const char **errstr)
{
	struct resign_ctx	*ctx;
	struct tls_config	*cfg = NULL;

	if ((ctx = *leaf->ctx) != NULL) {
		ctx->refs++;
		return (ctx);
	}
	*errstr = "out of memory";
	if ((ctx = calloc(1, sizeof(*ctx))) == NULL ||
	    (cfg = tls_config_new()) == NULL ||
	    (ctx->tls = tls_server()) == NULL)
		goto fail;
	if (tls_config_set_keypair_mem(cfg, (const uint8_t *)leaf->chain,
	    leaf->chainlen, (const uint8_t *)leaf->key, leaf->keylen) == -1 ||
	    tls_config_set_protocols(cfg, TLS_PROTOCOLS_DEFAULT) == -1 ||
	    tls_config_set_alpn(cfg, "http/1.1") == -1) {
		*errstr = tls_config_error(cfg);
		goto fail;
	}
	if (tls_configure(ctx->tls, cfg) == -1) {
		*errstr = tls_error(ctx->tls);
		goto fail;
	}
	tls_config_clear_keys(cfg);
	tls_config_free(cfg);
	ctx->refs = 2;		/* the leaf's and the caller's */
	*leaf->ctx = ctx;
	return (ctx);
 fail:
	if (cfg != NULL) {
		tls_config_clear_keys(cfg);
		tls_config_free(cfg);
	}
	if (ctx != NULL)
		tls_free(ctx->tls);
	free(ctx);
	return (NULL);
}

/* Resigned connections of the tunnel id open now. */
static size_t
resign_count(const char *id)
{
	struct resign	*r;
	size_t		 n = 0;

	TAILQ_FOREACH(r, &resigns, entry)
		if (strcmp(r->tunnel_id, id) == 0)
			n++;
	return (n);
}

/*
 * Take the browser's connection fd (peer) after its CONNECT to host
 * and port, whose verdict is to resign: answer 200 and read its
 * ClientHello, of which it may have sent len bytes already (first).  The
 * connection is ours, even on failure.
 */
void
resign_start(struct tunnel *t, int fd, const char *peer, const char *host,
    uint16_t port, const void *first, size_t len)
{
	struct resign	*r;
	struct timeval	 tv = { RESIGN_HANDSHAKE_SEC, 0 };
	int		 one = 1;

	if (resign_count(t->id) >= RESIGN_MAX_TUNNEL) {
		log_info("tunnel %s: %s: more than %d resigned connections",
		    t->id, peer, RESIGN_MAX_TUNNEL);
		answer_refuse(fd, peer, 503, "The tunnel has too many "
		    "resigned TLS connections open.", NULL);
		return;
	}
	if (len > RESIGN_RAW_MAX || (r = calloc(1, sizeof(*r))) == NULL) {
		close(fd);
		return;
	}
	TAILQ_INSERT_TAIL(&resigns, r, entry);
	r->fd = fd;
	r->tunnel = t;
	r->state = RESIGN_HELLO;
	strlcpy(r->tunnel_id, t->id, sizeof(r->tunnel_id));
	strlcpy(r->peer, peer, sizeof(r->peer));
	strlcpy(r->host, host, sizeof(r->host));
	r->port = port;
	if ((r->raw = malloc(RESIGN_RAW_MAX)) == NULL ||
	    (r->ev_rd = event_new(env->base, fd, EV_READ | EV_PERSIST,
	    resign_hello, r)) == NULL ||
	    (r->timer = evtimer_new(env->base, resign_timer, r)) == NULL ||
	    (r->in = evbuffer_new()) == NULL ||
	    (r->out = evbuffer_new()) == NULL) {
		log_warnx("%s: out of memory", __func__);
		resign_free(r);
		return;
	}
	memcpy(r->raw, first, len);
	r->rawlen = len;
	/* each answer goes out as it is written, as the stream's would */
	if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) == -1)
		log_debug("%s: TCP_NODELAY: %s", __func__, strerror(errno));
	/* a fresh socket takes these few bytes */
	if (write(fd, RESIGN_ESTABLISHED, strlen(RESIGN_ESTABLISHED)) !=
	    (ssize_t)strlen(RESIGN_ESTABLISHED)) {
		log_debug("tunnel %s: %s: cannot answer its CONNECT", t->id,
		    peer);
		resign_free(r);
		return;
	}
	evtimer_add(r->timer, &tv);
	if (len > 0)
		resign_hello(fd, EV_TIMEOUT, r);
	else
		event_add(r->ev_rd, NULL);
}

/* Close the resigned connections of the tunnel id (it is gone). */
void
resign_close_tunnel(const char *id)
{
	struct resign	*r, *next;

	for (r = TAILQ_FIRST(&resigns); r != NULL; r = next) {
		next = TAILQ_NEXT(r, entry);
		if (strcmp(r->tunnel_id, id) == 0)
			resign_free(r);
	}
}

static void
resign_free(struct resign *r)
{
	TAILQ_REMOVE(&resigns, r, entry);
	mint_cancel(r->mw);
	if (r->ev_rd != NULL)
		event_free(r->ev_rd);
	if (r->ev_wr != NULL)
		event_free(r->ev_wr);
	if (r->timer != NULL)
		event_free(r->timer);
	kgp_tls_free(r->io);
	resign_ctx_unref(r->ctx);
	if (r->fd != -1)
		close(r->fd);
	if (r->s != NULL)
		bufferevent_free(r->s);
	if (r->req != NULL) {
		http_head_free(r->req);
		free(r->req);
	}
	if (r->resp != NULL) {
		http_head_free(r->resp);
		free(r->resp);
	}
	if (r->in != NULL)
		evbuffer_free(r->in);
	if (r->out != NULL)
		evbuffer_free(r->out);
	free(r->raw);
	free(r->fail);
	free(r);
}

static void
resign_timer(int fd, short ev, void *arg)
{
	struct resign	*r = arg;

	if (r->state < RESIGN_HTTP)
		log_info("tunnel %s: %s: no TLS handshake for %s within %d s",
		    r->tunnel_id, r->peer, r->host, RESIGN_HANDSHAKE_SEC);
	else
		log_debug("tunnel %s: %s: resigned connection to %s idle for "
		    "%d s", r->tunnel_id, r->peer, r->name, RESIGN_IDLE_SEC);
	resign_free(r);
}

/* Bytes of the ClientHello: its SNI, then the leaf for it. */
static void
resign_hello(int fd, short ev, void *arg)
{
	struct resign		*r = arg;
	struct mint_wait	*w;
	const char		*errstr;
	char			 sni[CERT_NAME_MAX + 1];
	ssize_t			 n;

	if (ev & EV_READ) {
		n = read(fd, r->raw + r->rawlen, RESIGN_RAW_MAX - r->rawlen);
		if (n == -1 && (errno == EAGAIN || errno == EINTR))
			return;
		if (n <= 0) {
			log_debug("tunnel %s: %s closed before its ClientHello",
			    r->tunnel_id, r->peer);
			resign_free(r);
			return;
		}
		r->rawlen += n;
	}
	if ((n = sni_parse(r->raw, r->rawlen, sni, sizeof(sni),
	    &errstr)) == 0 && r->rawlen == RESIGN_RAW_MAX) {
		n = -1;
		errstr = "a ClientHello longer than the limit";
	}
	if (n == 0) {
		event_add(r->ev_rd, NULL);
		return;
	}
	if (n == -1) {
		log_info("tunnel %s: %s after CONNECT %s: %s: closed",
		    r->tunnel_id, r->peer, r->host, errstr);
		resign_free(r);
		return;
	}
	event_del(r->ev_rd);
	if (sni[0] != '\0')
		strlcpy(r->name, sni, sizeof(r->name));
	else
		strlcpy(r->name, r->host, sizeof(r->name));
	r->state = RESIGN_MINT;
	/* NULL: the callback has run already, and r may be gone */
	if ((w = mint_get(r->name, resign_minted, r)) != NULL)
		r->mw = w;
}

/* The leaf for r->name, or why there is none: the handshake begins. */
static void
resign_minted(const struct mint_leaf *leaf, const char *why, void *arg)
{
	struct resign	*r = arg;
	struct tls	*server;
	const char	*errstr = why;

	r->mw = NULL;
	if (leaf != NULL && (r->ctx = resign_ctx_get(leaf, &errstr)) != NULL)
		server = r->ctx->tls;
	else {
		log_warnx("tunnel %s: %s: cannot resign TLS for %s: %s",
		    r->tunnel_id, r->peer, r->name, errstr);
		if ((server = env->tls) == NULL ||
		    (r->fail = strdup(errstr)) == NULL) {
			resign_free(r);
			return;
		}
	}
	if ((r->io = kgp_tls_accept(server, r->fd)) == NULL ||
	    kgp_tls_preload(r->io, r->raw, r->rawlen) == -1) {
		log_warnx("tunnel %s: %s: TLS: %s", r->tunnel_id, r->peer,
		    tls_error(server) ? tls_error(server) : "out of memory");
		resign_free(r);
		return;
	}
	free(r->raw);
	r->raw = NULL;
	event_free(r->ev_rd);
	if ((r->ev_rd = event_new(env->base, r->fd, EV_READ | EV_PERSIST,
	    resign_io, r)) == NULL || (r->ev_wr = event_new(env->base, r->fd,
	    EV_WRITE | EV_PERSIST, resign_io, r)) == NULL) {
		resign_free(r);
		return;
	}
	r->state = RESIGN_HANDSHAKE;
	resign_pump(r);
}

static void
resign_io(int fd, short ev, void *arg)
{
	resign_pump(arg);
}

static void
resign_s_read(struct bufferevent *bev, void *arg)
{
	resign_pump(arg);
}

static void
resign_s_event(struct bufferevent *bev, short what, void *arg)
{
	struct resign	*r = arg;

	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) {
		r->s_eof = 1;
		bufferevent_disable(bev, EV_READ);
	}
	resign_pump(r);
}

/*
 * Everything that can move, moves: the handshake, the browser's bytes
 * in, the requests to the stream, the answers to the browser, the TLS
 * out; then the events are set for what waits.
 */
static void
resign_pump(struct resign *r)
{
	struct timeval	 tv = { RESIGN_IDLE_SEC, 0 }, now;
	int		 moved = 0, progress, rv, rd, wr;

	while (r->state == RESIGN_HANDSHAKE && !r->dead) {
		r->want_rd = r->want_wr = 0;
		rv = tls_handshake(kgp_tls_ctx(r->io));
		if (kgp_tls_flush(r->io) == -1)
			r->dead = 1;
		/* TLS did not take all that was read: again, at once */
		if (rv == TLS_WANT_POLLIN && kgp_tls_buffered(r->io) > 0)
			continue;
		if (rv == TLS_WANT_POLLIN)
			r->want_rd = 1;
		else if (rv == TLS_WANT_POLLOUT)
			r->want_wr = 1;
		else if (rv == -1) {
			log_info("tunnel %s: %s: TLS handshake for %s: %s",
			    r->tunnel_id, r->peer, r->name,
			    tls_error(kgp_tls_ctx(r->io)));
			r->dead = 1;
		} else {
			log_debug("tunnel %s: %s: resigned TLS for %s (%s%s)",
			    r->tunnel_id, r->peer, r->name,
			    tls_conn_version(kgp_tls_ctx(r->io)),
			    r->fail ? ", the KGP certificate" : "");
			r->state = RESIGN_HTTP;
			moved = 1;
		}
		break;
	}
	do {
		progress = 0;
		if (r->dead || r->state < RESIGN_HTTP)
			break;
		progress |= resign_tls_in(r);
		progress |= resign_requests(r);
		progress |= resign_responses(r);
		progress |= resign_tls_out(r);
		moved |= progress;
	} while (progress && !r->dead);

	if (!r->dead && r->state == RESIGN_CLOSING &&
	    evbuffer_get_length(r->out) == 0) {
		if (!r->tls_closed) {
			r->tls_closed = 1;
			(void)tls_close(kgp_tls_ctx(r->io));
		}
		if ((rv = kgp_tls_flush(r->io)) != TLS_WANT_POLLOUT) {
			/* all out (or never will be): the socket lingers */
			if (rv == 0) {
				answer_linger(r->fd);
				r->fd = -1;
			}
			r->dead = 1;
		}
	}
	if (r->dead) {
		resign_free(r);
		return;
	}
	/* the idle timer again, at most once a second */
	if (moved && r->state >= RESIGN_HTTP &&
	    event_base_gettimeofday_cached(env->base, &now) == 0 &&
	    now.tv_sec != r->armed) {
		r->armed = now.tv_sec;
		evtimer_add(r->timer, &tv);
	}

	/* the events for what waits */
	rd = r->state != RESIGN_CLOSING && (r->want_rd ||
	    (r->state >= RESIGN_HTTP && !r->b_eof &&
	    evbuffer_get_length(r->in) < RESIGN_BUF_MAX));
	wr = r->want_wr || kgp_tls_unsent(r->io) > 0;
	if (rd != r->rd_on) {
		if (rd)
			event_add(r->ev_rd, NULL);
		else
			event_del(r->ev_rd);
		r->rd_on = rd;
	}
	if (wr != r->wr_on) {
		if (wr)
			event_add(r->ev_wr, NULL);
		else
			event_del(r->ev_wr);
		r->wr_on = wr;
	}
	/* the stream is read while the browser takes what comes */
	if (r->s != NULL && !r->s_eof) {
		if (evbuffer_get_length(r->out) < RESIGN_BUF_MAX)
			bufferevent_enable(r->s, EV_READ);
		else
			bufferevent_disable(r->s, EV_READ);
	}
}

/* The browser's plaintext into r->in, up to RESIGN_BUF_MAX. */
static int
resign_tls_in(struct resign *r)
{
	struct evbuffer_iovec	 v;
	ssize_t			 n;
	int			 got = 0;

	r->want_rd = 0;
	while (!r->b_eof && r->state != RESIGN_CLOSING &&
	    evbuffer_get_length(r->in) < RESIGN_BUF_MAX) {
		if (evbuffer_reserve_space(r->in, RESIGN_READ, &v, 1) < 1)
			break;
		n = tls_read(kgp_tls_ctx(r->io), v.iov_base, RESIGN_READ);
		if (n > 0) {
			v.iov_len = n;
			evbuffer_commit_space(r->in, &v, 1);
			got = 1;
			continue;
		}
		if (n == TLS_WANT_POLLIN) {
			if (kgp_tls_buffered(r->io) > 0)
				continue;
			r->want_rd = 1;
		} else if (n == TLS_WANT_POLLOUT)
			r->want_wr = 1;
		else {
			/* close_notify, or the socket's end or error */
			r->b_eof = 1;
			got = 1;
		}
		break;
	}
	return (got);
}

/* r->out through TLS to the browser. */
static int
resign_tls_out(struct resign *r)
{
	struct evbuffer_iovec	 v;
	ssize_t			 n;
	int			 sent = 0;

	r->want_wr = 0;
	/* a short answer in pieces (head, body) goes as one record */
	if ((n = evbuffer_get_length(r->out)) > 0 && n <= RESIGN_READ)
		evbuffer_pullup(r->out, -1);
	while (evbuffer_peek(r->out, -1, NULL, &v, 1) > 0) {
		n = tls_write(kgp_tls_ctx(r->io), v.iov_base,
		    v.iov_len > RESIGN_WRITE ? RESIGN_WRITE : v.iov_len);
		if (n > 0) {
			evbuffer_drain(r->out, n);
			sent = 1;
			continue;
		}
		if (n == TLS_WANT_POLLOUT)
			r->want_wr = 1;
		else if (n == TLS_WANT_POLLIN)
			r->want_rd = 1;
		else {
			log_debug("tunnel %s: %s: TLS write: %s", r->tunnel_id,
			    r->peer, tls_error(kgp_tls_ctx(r->io)));
			r->dead = 1;
		}
		break;
	}
	if (!r->dead && kgp_tls_flush(r->io) == -1) {
		log_debug("tunnel %s: %s: write: %s", r->tunnel_id, r->peer,
		    strerror(errno));
		r->dead = 1;
	}
	return (sent);
}

/* An answer of this proxy's own inside the TLS; the connection ends. */
static void
resign_answer(struct resign *r, int status, const char *text)
{
	char	 msg[1024];
	int	 len;

	if ((len = answer_format(msg, sizeof(msg), status, text, NULL,
	    1)) > 0)
		evbuffer_add(r->out, msg, len);
	r->state = RESIGN_CLOSING;
}

/* The browser's requests: each head decided, each body to the stream. */
static int
resign_requests(struct resign *r)
{
	struct evbuffer	*sout;
	const uint8_t	*p;
	size_t		 len, cap = HTTP_HEAD_MAX + 4096;
	ssize_t		 n;
	int		 moved = 0, more;

	if (r->state == RESIGN_TUNNEL) {
		/* after a 101: the bytes as they come */
		if (r->s == NULL)
			return (0);
		sout = bufferevent_get_output(r->s);
		if ((len = evbuffer_get_length(r->in)) > 0 &&
		    evbuffer_get_length(sout) < RESIGN_BUF_MAX) {
			evbuffer_add_buffer(sout, r->in);
			moved = 1;
		}
		if (r->b_eof && !r->s_shut && evbuffer_get_length(sout) == 0) {
			/* the browser is done: so is the stream's way up */
			r->s_shut = 1;
			shutdown(bufferevent_getfd(r->s), SHUT_WR);
		}
		return (moved);
	}
	while (r->state == RESIGN_HTTP && !r->dead) {
		if (r->rq == RQ_HEAD) {
			if ((len = evbuffer_get_length(r->in)) == 0) {
				/* between requests: the end */
				if (r->b_eof)
					r->state = RESIGN_CLOSING;
				break;
			}
			if (r->req == NULL) {
				if ((r->req = malloc(sizeof(*r->req))) == NULL) {
					r->dead = 1;
					break;
				}
				http_head_init(r->req, HTTP_REQUEST);
			}
			if (len > cap)
				len = cap;
			p = evbuffer_pullup(r->in, len);
			if ((n = http_head_parse(r->req, p, len)) == 0 &&
			    len < cap) {
				if (r->b_eof)
					r->dead = 1;	/* cut short */
				break;
			}
			if (n <= 0) {
				log_info("tunnel %s: bad request from %s inside "
				    "TLS for %s: %s", r->tunnel_id, r->peer,
				    r->name, n == 0 ? "head too large" :
				    r->req->errstr);
				resign_answer(r, n == 0 ? 431 : r->req->error,
				    "The request is malformed.");
				return (1);
			}
			evbuffer_drain(r->in, n);
			moved = 1;
			if (resign_request(r) == -1)
				return (1);
			continue;
		}
		if (r->rq != RQ_BODY || r->s == NULL)
			break;
		sout = bufferevent_get_output(r->s);
		if (evbuffer_get_length(sout) >= RESIGN_BUF_MAX)
			break;
		more = 0;
		if (resign_body(r->in, sout, r->rq_body, &r->rq_left,
		    &r->rq_ck, &more) == -1) {
			log_info("tunnel %s: %s: a request body inside TLS for "
			    "%s: %s", r->tunnel_id, r->peer, r->name,
			    r->rq_ck.errstr ? r->rq_ck.errstr : "bad framing");
			r->dead = 1;
			break;
		}
		moved |= more;
		if (r->rq_left == 0 && (r->rq_body == HTTP_BODY_LENGTH ||
		    http_chunked_done(&r->rq_ck)))
			r->rq = RQ_DONE;
		else {
			if (r->b_eof && evbuffer_get_length(r->in) == 0)
				r->dead = 1;	/* the body cut short */
			break;
		}
	}
	return (moved);
}

/*
 * Move what src has of a body framed so (left bytes to come, or the
 * chunked decoder ck) to dst; *moved says whether anything did.  -1 on
 * bad chunked framing.  The body is whole when *left is 0 (length) or
 * the decoder is done (chunked).
 */
static int
resign_body(struct evbuffer *src, struct evbuffer *dst, enum http_body body,
    uint64_t *left, struct http_chunked *ck, int *moved)
{
	const uint8_t	*p;
	size_t		 avail, n;
	uint64_t	 data;
	ssize_t		 k;

	while ((avail = evbuffer_get_length(src)) > 0) {
		switch (body) {
		case HTTP_BODY_LENGTH:
			n = avail < *left ? avail : *left;
			evbuffer_remove_buffer(src, dst, n);
			*left -= n;
			*moved = 1;
			return (0);
		case HTTP_BODY_CLOSE:
			evbuffer_add_buffer(dst, src);
			*moved = 1;
			return (0);
		case HTTP_BODY_CHUNKED:
			if (http_chunked_done(ck))
				return (0);
			if ((data = http_chunked_data(ck)) > 0) {
				n = avail < data ? avail : data;
				evbuffer_remove_buffer(src, dst, n);
				http_chunked_consume(ck, n);
				*moved = 1;
				continue;
			}
			n = avail < HTTP_CHUNK_LINE_MAX ? avail :
			    HTTP_CHUNK_LINE_MAX;
			p = evbuffer_pullup(src, n);
			if ((k = http_chunked_parse(ck, p, n)) == -1)
				return (-1);
			if (k == 0)
				return (0);
			evbuffer_remove_buffer(src, dst, k);
			*moved = 1;
			continue;
		default:
			return (0);
		}
	}
	return (0);
}

/*
 * A request head whole in r->req: decided by the rules, answered here
 * or sent down the stream in absolute form.  -1 when the connection is
 * ending (answered here).
 */
static int
resign_request(struct resign *r)
{
	struct tunnel	*t = r->tunnel;
	struct route	 rt;
	char		 url[HTTP_HEAD_MAX], why[512], *head;
	size_t		 len;

	if (r->fail != NULL) {
		snprintf(why, sizeof(why), "The entry proxy cannot resign "
		    "TLS for %s: %s.", r->name, r->fail);
		resign_answer(r, 502, why);
		return (-1);
	}
	if (route_decide_tls(t->rules, r->req, r->name, r->port, &rt, url,
	    sizeof(url)) == -1) {
		log_info("tunnel %s: %s: %s %s inside TLS for %s: no https "
		    "URL", t->id, r->peer, r->req->method, r->req->target,
		    r->name);
		resign_answer(r, 400, "The request names no host this "
		    "connection can serve.");
		return (-1);
	}
	switch (rt.v.route) {
	case RULES_ROUTE_DENY:
		log_info("tunnel %s: %s %s from %s: denied by %s%s%s", t->id,
		    r->req->method, url, r->peer,
		    rt.v.error ? "the rules' step limit" : "rule '",
		    rt.v.error ? "" : rt.v.rule->text, rt.v.error ? "" : "'");
		route_deny_text(&rt.v, why, sizeof(why));
		resign_answer(r, 403, why);
		return (-1);
	case RULES_ROUTE_DIRECT:
		log_info("tunnel %s: %s %s from %s: a direct host inside a "
		    "resigned connection to %s: 421", t->id, r->req->method,
		    url, r->peer, r->name);
		resign_answer(r, 421, "This host is connected directly: ask "
		    "for it on a connection of its own.");
		return (-1);
	default:
		break;
	}
	log_debug("tunnel %s: %s %s from %s: tunnel (resigned)", t->id,
	    r->req->method, url, r->peer);
	if (r->s == NULL && resign_stream(r, t) == -1) {
		resign_answer(r, 503, "The tunnel is not connected.");
		return (-1);
	}
	if ((head = route_head(r->req, url, ROUTE_HEAD_KEEP, &len)) == NULL ||
	    bufferevent_write(r->s, head, len) == -1) {
		free(head);
		r->dead = 1;
		return (-1);
	}
	free(head);
	r->keep = http_keep_alive(r->req);
	r->upgrade = route_upgrade(r->req);
	r->rq_body = http_body_framing(r->req, NULL, &r->rq_left);
	http_chunked_init(&r->rq_ck);
	r->rq = r->rq_body == HTTP_BODY_NONE ? RQ_DONE : RQ_BODY;
	r->rp = RP_HEAD;
	r->rp_sent = 0;
	return (0);
}

/* A stream of the tunnel for this connection's requests. */
static int
resign_stream(struct resign *r, struct tunnel *t)
{
	struct kgp_client	*link;
	int			 sv[2];

	if (t->status != TUNNEL_RUNNING || (link = route_link(t)) == NULL)
		return (-1);
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0,
	    sv) == -1) {
		log_warn("tunnel %s: socketpair", t->id);
		return (-1);
	}
	if (kgp_conn_open_stream(link->conn, sv[0], r->peer, NULL, 0) == -1) {
		log_warnx("tunnel %s: cannot open a stream for %s", t->id,
		    r->peer);
		close(sv[0]);
		close(sv[1]);
		return (-1);
	}
	if ((r->s = bufferevent_socket_new(env->base, sv[1],
	    BEV_OPT_CLOSE_ON_FREE)) == NULL) {
		close(sv[1]);
		return (-1);
	}
	bufferevent_setcb(r->s, resign_s_read, resign_s_read, resign_s_event,
	    r);
	bufferevent_setwatermark(r->s, EV_READ, 0, RESIGN_BUF_MAX);
	bufferevent_enable(r->s, EV_READ | EV_WRITE);
	r->s_eof = r->s_shut = 0;
	r->s_keep = 1;
	return (0);
}

static void
resign_stream_drop(struct resign *r)
{
	if (r->s != NULL)
		bufferevent_free(r->s);
	r->s = NULL;
	r->s_eof = 0;
}

/* An exchange is over: the next request, or the end. */
static void
resign_exchange_end(struct resign *r)
{
	http_head_free(r->req);
	http_head_init(r->req, HTTP_REQUEST);
	http_head_free(r->resp);
	http_head_init(r->resp, HTTP_RESPONSE);
	r->rq = RQ_HEAD;
	r->rp = RP_NONE;
	if (!r->s_keep)
		resign_stream_drop(r);
	if (!r->keep)
		r->state = RESIGN_CLOSING;
}

/* The stream's answers, to the browser. */
static int
resign_responses(struct resign *r)
{
	struct evbuffer	*sin;
	int		 moved = 0, more;

	while (r->s != NULL && !r->dead &&
	    evbuffer_get_length(r->out) < RESIGN_BUF_MAX) {
		sin = bufferevent_get_input(r->s);
		if (r->state == RESIGN_TUNNEL) {
			if (evbuffer_get_length(sin) > 0) {
				evbuffer_add_buffer(r->out, sin);
				moved = 1;
			}
			if (r->s_eof)
				r->state = RESIGN_CLOSING;
			break;
		}
		if (r->state != RESIGN_HTTP)
			break;
		switch (r->rp) {
		case RP_NONE:
			if (evbuffer_get_length(sin) > 0) {
				log_info("tunnel %s: %s: the tunnel answered no "
				    "request", r->tunnel_id, r->peer);
				r->dead = 1;
			} else if (r->s_eof)
				resign_stream_drop(r);	/* proxyd let it go */
			return (moved);
		case RP_HEAD:
			if ((more = resign_response_head(r)) == 0)
				return (moved);
			if (more == -1)
				return (1);
			moved = 1;
			continue;
		case RP_BODY:
			more = 0;
			if (resign_body(sin, r->out, r->rp_body, &r->rp_left,
			    &r->rp_ck, &more) == -1) {
				log_info("tunnel %s: %s: an answer inside TLS "
				    "for %s: %s", r->tunnel_id, r->peer, r->name,
				    r->rp_ck.errstr);
				r->dead = 1;
				return (moved);
			}
			moved |= more;
			if ((r->rp_body == HTTP_BODY_LENGTH && r->rp_left == 0) ||
			    (r->rp_body == HTTP_BODY_CHUNKED &&
			    http_chunked_done(&r->rp_ck)) ||
			    (r->rp_body == HTTP_BODY_CLOSE && r->s_eof &&
			    evbuffer_get_length(sin) == 0)) {
				r->rp = RP_DONE;
				continue;
			}
			if (r->s_eof && evbuffer_get_length(sin) == 0) {
				log_info("tunnel %s: %s: an answer inside TLS "
				    "for %s cut short", r->tunnel_id, r->peer,
				    r->name);
				r->dead = 1;
			}
			return (moved);
		case RP_DONE:
			if (r->rq != RQ_DONE) {
				/* answered before the body was whole */
				if (r->s_eof)
					r->dead = 1;
				return (moved);
			}
			resign_exchange_end(r);
			return (1);
		}
	}
	return (moved);
}

/*
 * The head of an answer from the stream, as the browser gets it: the
 * fields but this hop's, and whether the connection stays.  1 when one
 * went out, 0 when more is needed, -1 when the connection ends.
 */
static int
resign_response_head(struct resign *r)
{
	struct evbuffer		*sin = bufferevent_get_input(r->s);
	const struct http_field	*f;
	const uint8_t		*p;
	const char		*upgrade = NULL;
	size_t			 len, i, cap = HTTP_HEAD_MAX + 4096;
	ssize_t			 n;

	if (r->resp == NULL) {
		if ((r->resp = malloc(sizeof(*r->resp))) == NULL) {
			r->dead = 1;
			return (-1);
		}
		http_head_init(r->resp, HTTP_RESPONSE);
	}
	if ((len = evbuffer_get_length(sin)) == 0) {
		if (r->s_eof) {
			log_info("tunnel %s: %s: %s %s: the tunnel closed "
			    "before the answer", r->tunnel_id, r->peer,
			    r->req->method, r->req->target);
			resign_stream_drop(r);
			if (r->rp_sent)
				r->dead = 1;
			else
				resign_answer(r, 502, "The tunnel closed the "
				    "connection before the answer.");
			return (-1);
		}
		return (0);
	}
	if (len > cap)
		len = cap;
	p = evbuffer_pullup(sin, len);
	if ((n = http_head_parse(r->resp, p, len)) == 0 && len < cap &&
	    !r->s_eof)
		return (0);
	if (n <= 0) {
		log_info("tunnel %s: %s: a bad answer inside TLS for %s: %s",
		    r->tunnel_id, r->peer, r->name, n == 0 ? "cut short" :
		    r->resp->errstr);
		r->dead = 1;
		return (-1);
	}
	evbuffer_drain(sin, n);
	if (r->resp->status == 101 && !r->upgrade) {
		log_info("tunnel %s: %s: a 101 that was not asked for",
		    r->tunnel_id, r->peer);
		r->dead = 1;
		return (-1);
	}
	r->rp_sent = 1;
	evbuffer_add_printf(r->out, "HTTP/1.1 %d %s\r\n", r->resp->status,
	    r->resp->reason);
	for (i = 0; i < r->resp->nfields; i++) {
		f = &r->resp->fields[i];
		if (strcasecmp(f->name, "Upgrade") == 0)
			upgrade = f->value;
		if (!http_hop_by_hop(r->resp, f->name))
			evbuffer_add_printf(r->out, "%s: %s\r\n", f->name,
			    f->value);
	}
	if (r->resp->status == 101) {
		evbuffer_add_printf(r->out, "Upgrade: %s\r\n"
		    "Connection: upgrade\r\n\r\n", upgrade ? upgrade : "");
		r->state = RESIGN_TUNNEL;
		r->rp = RP_DONE;
		return (1);
	}
	if (r->resp->status / 100 == 1) {
		/* 100 Continue and the like: the real answer follows */
		evbuffer_add(r->out, "\r\n", 2);
		http_head_free(r->resp);
		http_head_init(r->resp, HTTP_RESPONSE);
		return (1);
	}
	r->rp_body = http_body_framing(r->resp, r->req->method, &r->rp_left);
	http_chunked_init(&r->rp_ck);
	if (r->rp_body == HTTP_BODY_CLOSE || !http_keep_alive(r->resp))
		r->s_keep = 0;
	if (r->rp_body == HTTP_BODY_CLOSE)
		r->keep = 0;
	if (!r->keep)
		evbuffer_add(r->out, "Connection: close\r\n", 19);
	else if (r->req->version == 10)
		evbuffer_add(r->out, "Connection: keep-alive\r\n", 24);
	evbuffer_add(r->out, "\r\n", 2);
	r->rp = r->rp_body == HTTP_BODY_NONE ? RP_DONE : RP_BODY;
	return (1);
}
