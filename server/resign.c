/*
 * TLS resigning at the entry proxy.  A CONNECT that the tunnel's rules
 * do not pass through (by default none is) is answered 200 here; then
 * the browser's ClientHello is read and looked at before any TLS
 * library sees it (sni.c: bytes that are not one, or an SNI that is no
 * host name, close the connection with a log line and cost nothing
 * else); a leaf for its SNI, else the CONNECT's host (an address gets
 * an IP SAN), comes from mint.c; and this process speaks TLS to the
 * browser with it, the ClientHello's bytes first, through one TLS
 * server context for all the leaves (resign_tls.c).
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
 * A first byte that opens no TLS record is plain HTTP inside the CONNECT
 * (browsers send ws:// through a proxy so): the same, without TLS, as
 * http:// URLs.
 *
 * The stream's local end is in this process (kgp_conn_open_local(): a
 * bufferevent pair with the KGP engine, its flow control as for a
 * browser's socket, and no system call between them); this side moves
 * bytes between it and the TLS.  Bounds:
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
#include "log.h"
#include "server.h"

#include "resign_int.h"

static TAILQ_HEAD(, resign)	 resigns = TAILQ_HEAD_INITIALIZER(resigns);

static void	 resign_free(struct resign *);
static void	 resign_hello(int, short, void *);
static void	 resign_minted(const struct mint_leaf *, const char *, void *);
static void	 resign_premint(const struct mint_leaf *, const char *, void *);
static void	 resign_plain(struct resign *);
static int	 resign_events(struct resign *);
static void	 resign_io(int, short, void *);
static void	 resign_timer(int, short, void *);
static void	 resign_pump(struct resign *);
static int	 resign_tls_in(struct resign *);
static int	 resign_tls_out(struct resign *);
static ssize_t	 resign_b_read(struct resign *, void *, size_t);
static ssize_t	 resign_b_write(struct resign *, const void *, size_t);
static void	 resign_linger(struct resign *);
static void	 resign_local_read(struct bufferevent *, void *);
static void	 resign_local_write(struct bufferevent *, void *);
static void	 resign_local_event(struct bufferevent *, short, void *);

/*
 * The browsers' TLS: one context for every leaf, and the KGP key pair
 * (PEM) for the connections that get none (resign_tls.c).  Before the
 * sandbox.
 */
int
resign_init(const char *crt, size_t crtlen, const char *key, size_t keylen)
{
	return (resign_tls_init(crt, crtlen, key, keylen));
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
resign_start(struct tunnel *t, int fd, struct bufferevent *local,
    const char *peer, const char *host, uint16_t port, const void *first,
    size_t len)
{
	struct resign	*r;
	struct timeval	 tv = { RESIGN_HANDSHAKE_SEC, 0 };
	int		 one = 1;


	if (resign_count(t->id) >= RESIGN_MAX_TUNNEL) {
		log_info("tunnel %s: %s: more than %d resigned connections",
		    t->id, peer, RESIGN_MAX_TUNNEL);
		answer_refuse_end(fd, local, peer, 503, "The tunnel has too "
		    "many resigned TLS connections open.", NULL);
		return;
	}
	if (len > RESIGN_RAW_MAX || (r = calloc(1, sizeof(*r))) == NULL) {
		if (local != NULL)
			kgp_local_reset(local);
		else
			close(fd);
		return;
	}
	TAILQ_INSERT_TAIL(&resigns, r, entry);
	r->fd = fd;
	r->local = local;
	r->tunnel = t;
	r->state = RESIGN_HELLO;
	r->wake = resign_pump;
	strlcpy(r->tunnel_id, t->id, sizeof(r->tunnel_id));
	strlcpy(r->peer, peer, sizeof(r->peer));
	strlcpy(r->host, host, sizeof(r->host));
	r->port = port;
	if ((r->raw = malloc(RESIGN_RAW_MAX)) == NULL ||
	    (local == NULL && (r->ev_rd = event_new(env->base, fd,
	    EV_READ | EV_PERSIST, resign_hello, r)) == NULL) ||
	    (r->timer = evtimer_new(env->base, resign_timer, r)) == NULL ||
	    (r->in = evbuffer_new()) == NULL ||
	    (r->out = evbuffer_new()) == NULL) {
		log_warnx("%s: out of memory", __func__);
		resign_free(r);
		return;
	}
	memcpy(r->raw, first, len);
	r->rawlen = len;
	if (local != NULL) {
		/* the stream's events drive it, as a socket's would */
		bufferevent_setcb(local, resign_local_read,
		    resign_local_write, resign_local_event, r);
		bufferevent_setwatermark(local, EV_WRITE, RESIGN_BUF_MAX / 2,
		    0);
		bufferevent_enable(local, EV_READ | EV_WRITE);
		r->rd_on = 1;
	} else if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one,
	    sizeof(one)) == -1)
		/* each answer goes out as it is written, as the stream's */
		log_debug("%s: TCP_NODELAY: %s", __func__, strerror(errno));
	/* a fresh socket takes these few bytes */
	if (resign_b_write(r, RESIGN_ESTABLISHED, strlen(RESIGN_ESTABLISHED)) !=
	    (ssize_t)strlen(RESIGN_ESTABLISHED)) {
		log_debug("tunnel %s: %s: cannot answer its CONNECT", t->id,
		    peer);
		resign_free(r);
		return;
	}
	evtimer_add(r->timer, &tv);
	/*
	 * The CONNECT's host's leaf, and its TLS context, made while the
	 * 200 travels and the ClientHello comes back: the SNI names the
	 * same host as a rule, and then the leaf is ready or on its way.
	 */
	if (len == 0)
		r->pmw = mint_get(r->host, resign_premint, r);
	/*
	 * proxyd's TCP and TLS to the app too (resign_warm()), for the same
	 * host: they took longer than the leaf and the browser's handshake
	 * when begun at the ClientHello, a round trip later, and the first
	 * request waited for them.  Plain HTTP after all (resign_plain())
	 * lets it go.
	 */
	resign_warm(r);
	if (len > 0)
		resign_hello(fd, EV_TIMEOUT, r);
	else if (local == NULL)
		event_add(r->ev_rd, NULL);
}

/*
 * The browser's bytes, as read(2) gives them: from its socket, or from
 * its in-process end (none yet: -1, EAGAIN).
 */
static ssize_t
resign_b_read(struct resign *r, void *buf, size_t len)
{
	size_t	 n;

	if (r->local == NULL)
		return (read(r->fd, buf, len));
	if ((n = bufferevent_read(r->local, buf, len)) > 0 || r->local_eof)
		return (n);
	errno = EAGAIN;
	return (-1);
}

/* Bytes to the browser, as write(2) takes them. */
static ssize_t
resign_b_write(struct resign *r, const void *buf, size_t len)
{
	if (r->local == NULL)
		return (write(r->fd, buf, len));
	if (evbuffer_get_length(bufferevent_get_output(r->local)) >=
	    RESIGN_BUF_MAX) {
		errno = EAGAIN;
		return (-1);
	}
	if (bufferevent_write(r->local, buf, len) == -1)
		return (-1);
	return (len);
}

/* The connection's answer is out: it lingers (answer.c), r lets it go. */
static void
resign_linger(struct resign *r)
{
	if (r->local != NULL) {
		answer_linger_local(r->local);
		r->local = NULL;
	} else {
		answer_linger(r->fd);
		r->fd = -1;
	}
}

/* An in-process end's bytes (a node link's stream), as a socket's. */
static void
resign_local_read(struct bufferevent *bev, void *arg)
{
	struct resign	*r = arg;

	switch (r->state) {
	case RESIGN_HELLO:
		resign_hello(-1, EV_READ, r);
		break;
	case RESIGN_MINT:
		break;		/* they wait for TLS */
	default:
		r->b_ready = 1;
		resign_pump(r);
		break;
	}
}

static void
resign_local_write(struct bufferevent *bev, void *arg)
{
	struct resign	*r = arg;

	if (r->state >= RESIGN_HANDSHAKE)
		resign_pump(r);
}

/* Its end of file (the browser's), or the stream gone (reset). */
static void
resign_local_event(struct bufferevent *bev, short what, void *arg)
{
	struct resign	*r = arg;

	if (what & BEV_EVENT_ERROR) {
		log_debug("tunnel %s: %s: its node link's stream is gone",
		    r->tunnel_id, r->peer);
		if (r->state < RESIGN_HANDSHAKE)
			resign_free(r);
		else {
			r->dead = 1;
			resign_pump(r);
		}
		return;
	}
	r->local_eof = 1;
	resign_local_read(bev, r);
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
	mint_cancel(r->pmw);
	if (r->ev_rd != NULL)
		event_free(r->ev_rd);
	if (r->ev_wr != NULL)
		event_free(r->ev_wr);
	if (r->timer != NULL)
		event_free(r->timer);
	resign_tls_free(r->io);
	if (r->fd != -1)
		close(r->fd);
	kgp_local_close(r->local);
	kgp_local_close(r->s);
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
	struct timeval	 tv = { RESIGN_IDLE_SEC - RESIGN_QUIET_SEC, 0 };

	/* quiet for a while: its buffers go, the connection waits on */
	if (r->trim) {
		r->trim = 0;
		if (r->io != NULL)
			resign_tls_trim(r->io);
		evtimer_add(r->timer, &tv);
		return;
	}
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
		n = resign_b_read(r, r->raw + r->rawlen,
		    RESIGN_RAW_MAX - r->rawlen);
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
	/* not a TLS handshake record: plain HTTP (ws://) inside the CONNECT */
	if (r->rawlen > 0 && r->raw[0] != SNI_CONTENT_HANDSHAKE) {
		resign_plain(r);
		return;
	}
	if ((n = sni_parse(r->raw, r->rawlen, sni, sizeof(sni),
	    &errstr)) == 0 && r->rawlen == RESIGN_RAW_MAX) {
		n = -1;
		errstr = "a ClientHello longer than the limit";
	}
	if (n == 0) {
		if (r->ev_rd != NULL)
			event_add(r->ev_rd, NULL);
		return;
	}
	if (n == -1) {
		log_info("tunnel %s: %s after CONNECT %s: %s: closed",
		    r->tunnel_id, r->peer, r->host, errstr);
		resign_free(r);
		return;
	}
	if (r->ev_rd != NULL)
		event_del(r->ev_rd);
	if (sni[0] != '\0')
		strlcpy(r->name, sni, sizeof(r->name));
	else
		strlcpy(r->name, r->host, sizeof(r->name));
	/* proxyd's connection to the app, unless begun at the CONNECT */
	resign_warm(r);
	r->state = RESIGN_MINT;
	/* NULL: the callback has run already, and r may be gone */
	if ((w = mint_get(r->name, resign_minted, r)) != NULL)
		r->mw = w;
}

/*
 * The CONNECT host's leaf, asked for ahead, kept by mint.c for
 * resign_minted().  A failure says nothing here: the name the
 * ClientHello gives is asked for again, and that says why.
 */
static void
resign_premint(const struct mint_leaf *leaf, const char *why, void *arg)
{
	struct resign	*r = arg;

	if (r != NULL)
		r->pmw = NULL;
}

/* The leaf for r->name, or why there is none: the handshake begins. */
static void
resign_minted(const struct mint_leaf *leaf, const char *why, void *arg)
{
	struct resign	*r = arg;
	const char	*errstr;

	r->mw = NULL;
	if (leaf == NULL) {
		log_warnx("tunnel %s: %s: cannot resign TLS for %s: %s",
		    r->tunnel_id, r->peer, r->name, why);
		if ((r->fail = strdup(why)) == NULL) {
			resign_free(r);
			return;
		}
	}
	/* no leaf: the KGP certificate, and a 502 inside */
	if ((r->io = r->local != NULL ? resign_tls_accept_local(r, leaf,
	    r->raw, r->rawlen, &errstr) : resign_tls_accept(r->fd, leaf,
	    r->raw, r->rawlen, &errstr)) == NULL) {
		log_warnx("tunnel %s: %s: TLS for %s: %s", r->tunnel_id,
		    r->peer, r->name, errstr);
		resign_free(r);
		return;
	}
	free(r->raw);
	r->raw = NULL;
	if (resign_events(r) == -1) {
		resign_free(r);
		return;
	}
	r->state = RESIGN_HANDSHAKE;
	resign_pump(r);
}

/* The browser's socket watched by resign_io() from now on. */
static int
resign_events(struct resign *r)
{
	if (r->local != NULL)
		return (0);	/* its bufferevent's callbacks */
	event_free(r->ev_rd);
	r->ev_rd = NULL;
	if ((r->ev_rd = event_new(env->base, r->fd, EV_READ | EV_PERSIST,
	    resign_io, r)) == NULL || (r->ev_wr = event_new(env->base, r->fd,
	    EV_WRITE | EV_PERSIST, resign_io, r)) == NULL)
		return (-1);
	r->rd_on = r->wr_on = 0;
	return (0);
}

/*
 * The browser's first byte after the 200 opens no TLS record: plain
 * HTTP inside the CONNECT, as a browser sends ws:// through a proxy.
 * There is nothing to resign: its requests go down the tunnel as http://
 * URLs, decided by the rules one by one like those inside TLS.
 */
static void
resign_plain(struct resign *r)
{
	struct timeval	 tv = { RESIGN_IDLE_SEC, 0 };

	log_debug("tunnel %s: %s: plain HTTP inside CONNECT %s:%u",
	    r->tunnel_id, r->peer, r->host, r->port);
	/* a warm-up for TLS to the app: not this one's */
	resign_warm_cancel(r);
	if (evbuffer_add(r->in, r->raw, r->rawlen) == -1 ||
	    resign_events(r) == -1) {
		resign_free(r);
		return;
	}
	free(r->raw);
	r->raw = NULL;
	r->plain = 1;
	r->b_ready = 1;
	strlcpy(r->name, r->host, sizeof(r->name));
	r->state = RESIGN_HTTP;
	evtimer_add(r->timer, &tv);
	resign_pump(r);
}

static void
resign_io(int fd, short ev, void *arg)
{
	struct resign	*r = arg;

	if (ev & EV_READ)
		r->b_ready = 1;
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
	struct timeval	 tv = { RESIGN_QUIET_SEC, 0 }, now;
	int		 moved = 0, progress, rv, rd, wr;

	/*
	 * The warm-up's stream (from the CONNECT on) may move before the
	 * leaf is here: nothing to do until the handshake, and the
	 * browser's events are resign_hello()'s until then.
	 */
	if (r->state < RESIGN_HANDSHAKE)
		return;

	while (r->state == RESIGN_HANDSHAKE && !r->dead) {
		r->want_rd = r->want_wr = 0;
		rv = resign_tls_handshake(r->io);
		if (resign_tls_flush(r->io) == -1)
			r->dead = 1;
		/* TLS did not take all that was read: again, at once */
		if (rv == TLS_WANT_POLLIN && resign_tls_buffered(r->io) > 0)
			continue;
		if (rv == TLS_WANT_POLLIN)
			r->want_rd = 1;
		else if (rv == TLS_WANT_POLLOUT)
			r->want_wr = 1;
		else if (rv == -1) {
			log_info("tunnel %s: %s: TLS handshake for %s: %s",
			    r->tunnel_id, r->peer, r->name,
			    resign_tls_error(r->io));
			r->dead = 1;
		} else {
			log_debug("tunnel %s: %s: resigned TLS for %s (%s%s)",
			    r->tunnel_id, r->peer, r->name,
			    resign_tls_version(r->io),
			    r->fail ? ", the KGP certificate" : "");
			r->state = RESIGN_HTTP;
			r->b_ready = 1;
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
	    evbuffer_get_length(r->out) == 0 && r->plain) {
		resign_linger(r);
		r->dead = 1;
	} else if (!r->dead && r->state == RESIGN_CLOSING &&
	    evbuffer_get_length(r->out) == 0) {
		if (!r->tls_closed) {
			r->tls_closed = 1;
			resign_tls_close(r->io);
		}
		if ((rv = resign_tls_flush(r->io)) != TLS_WANT_POLLOUT) {
			/* all out (or never will be): the socket lingers */
			if (rv == 0)
				resign_linger(r);
			r->dead = 1;
		}
	}
	if (r->dead) {
		resign_free(r);
		return;
	}
	/*
	 * The idle timer again, at most once a second: first for
	 * RESIGN_QUIET_SEC (resign_timer() trims), then for the rest.
	 */
	if (moved && r->state >= RESIGN_HTTP &&
	    event_base_gettimeofday_cached(env->base, &now) == 0 &&
	    now.tv_sec != r->armed) {
		r->armed = now.tv_sec;
		r->trim = 1;
		evtimer_add(r->timer, &tv);
	}

	/* the events for what waits */
	rd = r->state != RESIGN_CLOSING && (r->want_rd ||
	    (r->state >= RESIGN_HTTP && !r->b_eof &&
	    evbuffer_get_length(r->in) < RESIGN_BUF_MAX));
	wr = r->want_wr || (r->io != NULL && resign_tls_unsent(r->io) > 0);
	if (rd != r->rd_on && r->local != NULL) {
		/* its stream keeps what is not read, and its credit */
		if (rd)
			bufferevent_enable(r->local, EV_READ);
		else
			bufferevent_disable(r->local, EV_READ);
		r->rd_on = rd;
	} else if (rd != r->rd_on) {
		if (rd)
			event_add(r->ev_rd, NULL);
		else
			event_del(r->ev_rd);
		r->rd_on = rd;
	}
	if (wr != r->wr_on && r->local == NULL) {
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
		/*
		 * Nothing read and nothing new since the socket said so:
		 * wait for its event rather than ask it for EAGAIN each time
		 * the stream's side moves (a download: twice a record).
		 */
		if (!r->b_ready &&
		    (r->io == NULL || resign_tls_buffered(r->io) == 0)) {
			r->want_rd = 1;
			break;
		}
		if (evbuffer_reserve_space(r->in, RESIGN_READ, &v, 1) < 1)
			break;
		if (r->plain) {
			n = resign_b_read(r, v.iov_base, RESIGN_READ);
			if (n == -1 && (errno == EAGAIN || errno == EINTR))
				n = TLS_WANT_POLLIN;
			else if (n == 0)
				n = -1;
		} else
			n = resign_tls_read(r->io, v.iov_base, RESIGN_READ);
		if (n > 0) {
			v.iov_len = n;
			evbuffer_commit_space(r->in, &v, 1);
			got = 1;
			continue;
		}
		if (n == TLS_WANT_POLLIN) {
			if (r->io != NULL && resign_tls_buffered(r->io) > 0)
				continue;
			r->b_ready = 0;
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
		if (r->plain) {
			n = resign_b_write(r, v.iov_base, v.iov_len);
			if (n == -1 && (errno == EAGAIN || errno == EINTR))
				n = TLS_WANT_POLLOUT;
		} else
			n = resign_tls_write(r->io, v.iov_base,
			    v.iov_len > RESIGN_WRITE ? RESIGN_WRITE :
			    v.iov_len);
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
			log_debug("tunnel %s: %s: write: %s", r->tunnel_id,
			    r->peer, r->plain ? strerror(errno) :
			    resign_tls_error(r->io));
			r->dead = 1;
		}
		break;
	}
	if (!r->dead && !r->plain && resign_tls_flush(r->io) == -1) {
		log_debug("tunnel %s: %s: write: %s", r->tunnel_id, r->peer,
		    strerror(errno));
		r->dead = 1;
	}
	return (sent);
}

