/*
 * One KGP connection: TLS (libtls) on a socket driven by libevent, the
 * HELLO/WELCOME handshake, keepalive, and the streams multiplexed over it,
 * each bound to a local descriptor through a bufferevent.  Used by kgpd
 * (client role) and sc-server (server role).  man/kgp.7 is the
 * specification.
 *
 * Flow control: each side grants the other a receive window per stream.
 * Bytes are taken from a local socket only while the stream has credit,
 * and credit is returned (WINDOW) only as bytes leave for the local
 * socket, so a slow reader stops its own stream and no other; what one
 * stream can hold in memory here is bounded by the windows.
 *
 * Resume: a kgp_conn is a session that outlives its link.  The frames
 * that carry stream state are numbered and kept in c->rtx until the peer
 * acknowledges them (ACK, or the sequence in HELLO/WELCOME).  A receiver
 * acknowledges before it grants credit, so what rtx holds is bounded by
 * the windows too.  When the link breaks the session waits (broken);
 * the client brings a new socket (kgp_conn_resume), the server moves the
 * new link into the waiting session (kgp_conn_adopt), and both ends send
 * again what the other has not received.
 *
 * Moves: the owner may rebind a stream to another local socket
 * (kgp_conn_stream_move), as kgpd does when proxyd hands it the app's
 * socket of a tunnel.  The stream reads its old socket up to an agreed
 * byte count, then reads the new one and closes the old (the switched
 * callback says so); bytes for the local side wait until the owner says
 * that the old socket's reader has passed on everything it got
 * (kgp_conn_stream_moved).  Nothing is lost, duplicated or reordered,
 * and the peer sees one stream throughout.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/tree.h>
#include <sys/queue.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <tls.h>

#include "kgp.h"
#include "kgp_tls.h"
#include "evread.h"
#include "log.h"

#define CONN_READ_CHUNK		(64 * 1024)
#define CONN_IO_BUDGET		(1024 * 1024)	/* per event, each way */
#define CONN_OUT_HIGH		(1024 * 1024)	/* stop pulling from streams */
#define STREAM_READ_HIGH	(256 * 1024)
#define STREAM_IO_MAX		(128 * 1024)	/* one write system call */
#define CLOSE_GRACE_MS		2000
#define WBUF_SIZE		(64 * 1024)	/* one TLS write at most */
#define RTX_COPY_MAX		(16 * 1024)	/* less is copied into wbuf */
#define RTX_RUN_MAX		(256 * 1024)	/* written from rtx in place */
#define RTX_BLOCK		(256 * 1024 - 64) /* rtx chain for bulk DATA */
#define ACK_EVERY		32		/* frames between ACKs */
#define SEQ_LIMIT		0xfffff000U	/* then the session ends */

enum conn_state {
	CONN_TLS,		/* TLS handshake */
	CONN_HELLO,		/* waiting for HELLO (server) or WELCOME */
	CONN_UP,
	CONN_CLOSING,		/* ERROR queued, flushing */
	CONN_BROKEN,		/* no link; the session waits for a resume */
	CONN_DEAD
};

#define S_LOCAL_EOF	0x01	/* local side sent EOF */
#define S_FIN_SENT	0x02
#define S_FIN_RCVD	0x04
#define S_SHUT_WR	0x08	/* local write side shut down */
#define S_BLOCKED	0x10	/* on the conn's blocked list */
#define S_READ_OFF	0x20	/* local reading paused: no credit or room */
#define S_MOVING	0x40	/* being rebound to s->move->fd */
#define S_MOVE_READ	0x80	/* ... reading the new socket */
#define S_MOVE_WRITE	0x100	/* ... the old one's reader is done */

/* a move under way: the new socket, and where the old one's bytes end */
struct stream_move {
	int			 fd;		/* -1 once the stream reads it */
	uint64_t		 offset;
};

struct kgp_stream {
	RB_ENTRY(kgp_stream)	 entry;
	TAILQ_ENTRY(kgp_stream)	 blocked;
	struct kgp_conn		*conn;
	struct bufferevent	*bev;		/* writes to the local socket */
	struct event		*ev_read;	/* reads it (stream_read) */
	uint32_t		 id;
	uint32_t		 send_credit;	/* we may send this much */
	uint32_t		 recv_avail;	/* the peer may send this much */
	uint32_t		 recv_consumed;	/* delivered, not yet granted */
	int			 flags;
	uint64_t		 sent;		/* local bytes put into DATA */
	struct stream_move	*move;		/* while S_MOVING */
};

RB_HEAD(stream_tree, kgp_stream);

struct kgp_conn {
	struct event_base	*base;
	int			 fd;		/* -1: no link */
	struct kgp_tls		*io;		/* NULL: clear text (tests) */
	struct kgp_params	 params;
	char			*pin;
	char			*tunnel_id;
	char			*secret;
	struct kgp_callbacks	 cb;
	void			*arg;
	enum conn_state		 state;
	int			 established;	/* the session has been up */
	int			 resuming;	/* this handshake resumes it */
	struct event		*ev_read;
	struct event		*ev_write;
	struct event		*ev_timer;	/* handshake, ping, close */
	struct event		*ev_grace;	/* a broken session's end */
	struct evbuffer		*in;
	struct evbuffer		*pend;		/* DATA of this read for pend_s */
	struct kgp_stream	*pend_s;
	struct evbuffer		*ctl;		/* unnumbered frames */
	struct evbuffer		*rtx;		/* numbered, not yet acked */
	size_t			 rtx_sent;	/* of rtx: given to this link */
	size_t			 rtx_written;	/* of rtx: sent at least once */
	size_t			 rtx_run;	/* of rtx after rtx_sent: being
						   written in place */
	uint8_t			*wbuf;		/* the bytes being written */
	size_t			 wlen;
	size_t			 woff;
	uint64_t		 session;
	uint32_t		 send_seq;	/* last numbered frame queued */
	uint32_t		 recv_seq;	/* last numbered frame received */
	uint32_t		 ack_sent;	/* last recv_seq told the peer */
	uint32_t		 peer_acked;	/* last send_seq the peer has */
	struct kgp_conn		*adopt;		/* server: resume that one */
	int			 goaway;	/* sent (server) or received */
	int			 goaway_code;	/* server: to say it again */
	char			 goaway_why[128];
	int			 linger;	/* ERROR out, waiting for EOF */
	int			 read_wants_out;
	int			 write_wants_in;
	uint32_t		 peer_window;
	uint32_t		 peer_max_streams;
	uint32_t		 next_id;
	struct stream_tree	 streams;
	TAILQ_HEAD(, kgp_stream) blocked;
	struct kgp_conn_stats	 stats;
	uint32_t		 missed;
	int			 down_code;
	char			 down_why[256];
	char			 peer_hash[128];
	int			 draining;
};

static int	stream_cmp(struct kgp_stream *, struct kgp_stream *);
#ifndef __unused
#define __unused	__attribute__((__unused__))
#endif
RB_PROTOTYPE_STATIC(stream_tree, kgp_stream, entry, stream_cmp)
RB_GENERATE_STATIC(stream_tree, kgp_stream, entry, stream_cmp)

static void	conn_io(int, short, void *);
static void	conn_timer(int, short, void *);
static void	conn_grace(int, short, void *);
static int	conn_break(struct kgp_conn *, int, const char *, ...)
		    __attribute__((__format__ (printf, 3, 4)));
static void	conn_ack(struct kgp_conn *, uint32_t);
static int	conn_attach(struct kgp_conn *, int, struct kgp_tls *);
static void	conn_detach(struct kgp_conn *);
static int	conn_fail(struct kgp_conn *, int, const char *, ...)
		    __attribute__((__format__ (printf, 3, 4)));
static int	conn_finish_close(struct kgp_conn *);
static const char *conn_error(struct kgp_conn *);
static void	conn_schedule_write(struct kgp_conn *);
static int	conn_flush(struct kgp_conn *);
static int	conn_buffered(struct kgp_conn *);
static void	conn_send_u32(struct kgp_conn *, uint8_t, uint32_t, uint32_t);
static void	conn_unblock(struct kgp_conn *);
static void	stream_pump(struct kgp_stream *);
static void	stream_free(struct kgp_stream *);
static void	stream_read(int, short, void *);
static void	stream_writecb(struct bufferevent *, void *);
static void	stream_eventcb(struct bufferevent *, short, void *);
static void	stream_consumed(struct kgp_stream *, size_t);
static int	stream_move_check(struct kgp_stream *, int);
static void	conn_deliver(struct kgp_conn *);
static void	stream_move_end(struct kgp_stream *);
static void	stream_drained(struct evbuffer *,
		    const struct evbuffer_cb_info *, void *);

static int
stream_cmp(struct kgp_stream *a, struct kgp_stream *b)
{
	return (a->id < b->id ? -1 : a->id > b->id);
}

static uint64_t
now_us(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((uint64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000);
}

static void
timer_ms(struct event *ev, uint32_t ms)
{
	struct timeval	 tv;

	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	event_add(ev, &tv);
}

/* The session can take numbered frames: it is, or was, up. */
static int
conn_live(struct kgp_conn *c)
{
	return (c->established && c->state != CONN_DEAD &&
	    c->state != CONN_CLOSING);
}

/* Bytes queued that this link has not taken yet. */
static size_t
conn_unsent(struct kgp_conn *c)
{
	return (evbuffer_get_length(c->ctl) + evbuffer_get_length(c->rtx) -
	    c->rtx_sent + (c->wlen - c->woff));
}

/*
 * Queue one frame.  The payload may be NULL when len is 0.  A numbered
 * frame goes to rtx, where it stays until acknowledged; the others are
 * for this link only and are dropped when there is none.
 */
static void
conn_send(struct kgp_conn *c, uint8_t type, uint32_t stream,
    const void *payload, size_t len)
{
	uint8_t	 hdr[KGP_HDRLEN];

	if (kgp_type_numbered(type)) {
		kgp_encode_hdr_seq(hdr, type, len, stream, ++c->send_seq);
		evbuffer_add(c->rtx, hdr, sizeof(hdr));
		if (len)
			evbuffer_add(c->rtx, payload, len);
		if (c->send_seq >= SEQ_LIMIT && conn_live(c))
			kgp_conn_close(c, KGP_E_LIMIT,
			    "sequence numbers used up");
	} else {
		if (c->fd == -1)
			return;
		kgp_encode_hdr(hdr, type, len, stream);
		evbuffer_add(c->ctl, hdr, sizeof(hdr));
		if (len)
			evbuffer_add(c->ctl, payload, len);
	}
	conn_schedule_write(c);
}

/* Tell the peer how far we have received (before granting credit). */
static void
conn_send_ack(struct kgp_conn *c)
{
	if (c->recv_seq == c->ack_sent || c->fd == -1 ||
	    (c->state != CONN_UP && c->state != CONN_CLOSING))
		return;
	c->ack_sent = c->recv_seq;
	conn_send_u32(c, KGP_ACK, 0, c->recv_seq);
}

static void
conn_send_u32(struct kgp_conn *c, uint8_t type, uint32_t stream, uint32_t v)
{
	uint8_t	 p[4];

	p[0] = v >> 24;
	p[1] = v >> 16;
	p[2] = v >> 8;
	p[3] = v;
	conn_send(c, type, stream, p, sizeof(p));
}

static void
conn_send_code(struct kgp_conn *c, uint8_t type, uint32_t stream,
    uint16_t code, const char *text)
{
	uint8_t	 p[256];
	size_t	 n;

	n = kgp_code_encode(p, type == KGP_RST ? 2 : sizeof(p), code, text);
	conn_send(c, type, stream, p, n);
}

static void
conn_schedule_write(struct kgp_conn *c)
{
	if (c->state == CONN_DEAD || c->state == CONN_TLS ||
	    c->state == CONN_BROKEN || c->ev_write == NULL)
		return;
	/*
	 * Write from the loop, at once: the socket is most likely writable,
	 * and waiting for POLLOUT would cost two epoll_ctl calls per burst.
	 * conn_write() waits for POLLOUT when the socket is full.
	 */
	if (!event_pending(c->ev_write, EV_WRITE, NULL))
		event_active(c->ev_write, EV_WRITE, 0);
}

struct kgp_conn *
kgp_conn_new(struct event_base *base, int fd, struct kgp_tls *io,
    const struct kgp_params *params, const struct kgp_callbacks *cb,
    void *arg)
{
	struct kgp_conn	*c;

	if ((c = calloc(1, sizeof(*c))) == NULL)
		return (NULL);
	c->base = base;
	c->fd = -1;
	c->params = *params;
	if (c->params.window < KGP_MAXPAYLOAD ||
	    c->params.window > KGP_MAX_WINDOW)
		c->params.window = KGP_DEFAULT_WINDOW;
	if (c->params.max_streams == 0)
		c->params.max_streams = KGP_DEFAULT_MAXSTREAMS;
	if (c->params.handshake_ms == 0)
		c->params.handshake_ms = 15000;
	if (c->params.max_missed == 0)
		c->params.max_missed = 30;
	c->session = c->params.session;
	while (c->params.role == KGP_ROLE_CLIENT && c->session == 0)
		arc4random_buf(&c->session, sizeof(c->session));
	c->cb = *cb;
	c->arg = arg;
	c->next_id = 1;
	RB_INIT(&c->streams);
	TAILQ_INIT(&c->blocked);
	if ((params->pin && (c->pin = strdup(params->pin)) == NULL) ||
	    (params->tunnel_id &&
	    (c->tunnel_id = strdup(params->tunnel_id)) == NULL) ||
	    (params->secret && (c->secret = strdup(params->secret)) == NULL))
		goto fail;
	c->params.pin = c->pin;
	c->params.tunnel_id = c->tunnel_id;
	c->params.secret = c->secret;
	if ((c->in = evbuffer_new()) == NULL ||
	    (c->pend = evbuffer_new()) == NULL ||
	    (c->ctl = evbuffer_new()) == NULL ||
	    (c->rtx = evbuffer_new()) == NULL ||
	    (c->wbuf = malloc(WBUF_SIZE)) == NULL)
		goto fail;
	c->ev_timer = event_new(base, -1, 0, conn_timer, c);
	c->ev_grace = event_new(base, -1, 0, conn_grace, c);
	if (c->ev_timer == NULL || c->ev_grace == NULL)
		goto fail;
	if (conn_attach(c, fd, io) == -1)
		goto fail;
	return (c);
fail:
	/* the caller still owns fd and tls */
	kgp_conn_free(c);
	return (NULL);
}

/*
 * Put the session on a new link (a socket, and its TLS context unless
 * this is the clear-text test transport) and start the handshake from
 * the loop, never from inside the caller.  On failure the caller still
 * owns fd and tls.
 */
static int
conn_attach(struct kgp_conn *c, int fd, struct kgp_tls *io)
{
	int	 one = 1;

	c->ev_read = event_new(c->base, fd, EV_READ | EV_PERSIST, conn_io, c);
	c->ev_write = event_new(c->base, fd, EV_WRITE, conn_io, c);
	if (c->ev_read == NULL || c->ev_write == NULL) {
		if (c->ev_read)
			event_free(c->ev_read);
		if (c->ev_write)
			event_free(c->ev_write);
		c->ev_read = c->ev_write = NULL;
		return (-1);
	}
	c->fd = fd;
	c->io = io;
	c->state = CONN_TLS;
	c->missed = 0;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	event_add(c->ev_read, NULL);
	event_active(c->ev_write, EV_WRITE, 0);
	event_del(c->ev_timer);
	timer_ms(c->ev_timer, c->params.handshake_ms);
	return (0);
}

/*
 * Drop the link (it is gone: no TLS close) and what was queued for it
 * alone; numbered frames stay in rtx and go again on the next link.
 */
static void
conn_detach(struct kgp_conn *c)
{
	if (c->ev_read) {
		event_free(c->ev_read);
		c->ev_read = NULL;
	}
	if (c->ev_write) {
		event_free(c->ev_write);
		c->ev_write = NULL;
	}
	event_del(c->ev_timer);
	kgp_tls_free(c->io);
	c->io = NULL;
	if (c->fd != -1) {
		close(c->fd);
		c->fd = -1;
	}
	evbuffer_drain(c->in, evbuffer_get_length(c->in));
	evbuffer_drain(c->ctl, evbuffer_get_length(c->ctl));
	c->wlen = c->woff = 0;
	c->rtx_sent = c->rtx_run = 0;
	c->read_wants_out = c->write_wants_in = 0;
	c->missed = 0;
	c->state = CONN_BROKEN;
}

void
kgp_conn_free(struct kgp_conn *c)
{
	struct kgp_stream	*s;

	if (c == NULL)
		return;
	while ((s = RB_ROOT(&c->streams)) != NULL)
		stream_free(s);
	if (c->ev_read)
		event_free(c->ev_read);
	if (c->ev_write)
		event_free(c->ev_write);
	if (c->ev_timer)
		event_free(c->ev_timer);
	if (c->ev_grace)
		event_free(c->ev_grace);
	if (c->in)
		evbuffer_free(c->in);
	if (c->pend)
		evbuffer_free(c->pend);
	if (c->ctl)
		evbuffer_free(c->ctl);
	if (c->rtx)
		evbuffer_free(c->rtx);
	free(c->wbuf);
	if (c->io) {
		/* a close_notify, if the socket takes it now */
		if (c->state != CONN_DEAD &&
		    tls_close(kgp_tls_ctx(c->io)) != -1)
			kgp_tls_flush(c->io);
		kgp_tls_free(c->io);
	}
	if (c->fd != -1)
		close(c->fd);
	if (c->secret) {
		explicit_bzero(c->secret, strlen(c->secret));
		free(c->secret);
	}
	free(c->tunnel_id);
	free(c->pin);
	free(c);
}

void *
kgp_conn_arg(struct kgp_conn *c)
{
	return (c->arg);
}

void
kgp_conn_set_arg(struct kgp_conn *c, void *arg)
{
	c->arg = arg;
}

const char *
kgp_conn_peer_hash(struct kgp_conn *c)
{
	return (c->peer_hash);
}

uint64_t
kgp_conn_session(struct kgp_conn *c)
{
	return (c->session);
}

void
kgp_conn_stats(struct kgp_conn *c, struct kgp_conn_stats *st)
{
	*st = c->stats;
	st->up = c->state == CONN_UP;
	st->broken = c->established && (c->state == CONN_BROKEN ||
	    c->state == CONN_TLS || c->state == CONN_HELLO);
}

/*
 * The connection is finished: reset every stream, stop all I/O, and tell
 * the owner, who may free it from the callback.  Returns -1 so that
 * callers can write "return (conn_fail(...))" and stop touching c.
 */
static int
conn_fail(struct kgp_conn *c, int code, const char *fmt, ...)
{
	struct kgp_stream	*s;
	va_list			 ap;

	if (c->state == CONN_DEAD)
		return (-1);
	c->state = CONN_DEAD;
	va_start(ap, fmt);
	vsnprintf(c->down_why, sizeof(c->down_why), fmt, ap);
	va_end(ap);
	c->down_code = code;
	while ((s = RB_ROOT(&c->streams)) != NULL)
		stream_free(s);
	if (c->ev_read)
		event_del(c->ev_read);
	if (c->ev_write)
		event_del(c->ev_write);
	event_del(c->ev_timer);
	event_del(c->ev_grace);
	if (c->cb.down)
		c->cb.down(c, code, c->down_why, c->arg);
	return (-1);
}

/* The ERROR of kgp_conn_close() is out (or its time is up). */
static int
conn_finish_close(struct kgp_conn *c)
{
	char	 why[sizeof(c->down_why)];

	strlcpy(why, c->down_why, sizeof(why));
	return (conn_fail(c, c->down_code, "%s", why));
}

/* Send ERROR, flush it (bounded), then the connection goes down. */
void
kgp_conn_close(struct kgp_conn *c, int code, const char *reason)
{
	if (c->state == CONN_DEAD || c->state == CONN_CLOSING)
		return;
	c->down_code = code;
	strlcpy(c->down_why, reason ? reason : kgp_code_name(code),
	    sizeof(c->down_why));
	if (c->state == CONN_TLS) {
		/* nothing can be said yet: fail from the loop */
		c->state = CONN_CLOSING;
		event_del(c->ev_timer);
		timer_ms(c->ev_timer, 0);
		return;
	}
	if (c->state == CONN_BROKEN) {
		/* no link to say it on */
		c->state = CONN_CLOSING;
		event_del(c->ev_grace);
		timer_ms(c->ev_timer, 0);
		return;
	}
	conn_send_code(c, KGP_ERROR, 0, code, reason);
	c->state = CONN_CLOSING;
	event_del(c->ev_timer);
	timer_ms(c->ev_timer, CLOSE_GRACE_MS);
}

/* Take no new streams; the ones open go on. */
void
kgp_conn_drain(struct kgp_conn *c)
{
	c->draining = 1;
}

/*
 * Server: announce that this connection takes no new streams.  The
 * client closes it once its own streams are done: only the client knows
 * when the last bytes have reached its side's sockets.  A link that is
 * not up cannot carry the news, and ends now.  (The caller bounds the
 * wait: sc-server closes what is left after its drain period.)
 */
void
kgp_conn_goaway(struct kgp_conn *c, int code, const char *reason)
{
	if (c->state == CONN_DEAD || c->state == CONN_CLOSING || c->goaway)
		return;
	c->goaway = 1;
	c->goaway_code = code;
	strlcpy(c->goaway_why, reason ? reason : "", sizeof(c->goaway_why));
	if (c->state != CONN_UP) {
		kgp_conn_close(c, code, reason);
		return;
	}
	conn_send_code(c, KGP_GOAWAY, 0, code, reason);
}

/* Client after GOAWAY: the last stream is done, close from the loop. */
static void
conn_goaway_check(struct kgp_conn *c)
{
	if (c->goaway && c->params.role == KGP_ROLE_CLIENT &&
	    c->state == CONN_UP && c->stats.streams_open == 0) {
		event_del(c->ev_timer);
		timer_ms(c->ev_timer, 0);
	}
}

/*
 * The link is lost.  A session that has been up keeps its streams and
 * waits for a resume (within its grace period); anything else fails.
 * Returns -1 like conn_fail(): the caller stops touching the link.
 */
static int
conn_break(struct kgp_conn *c, int code, const char *fmt, ...)
{
	char		 why[sizeof(c->down_why)];
	va_list		 ap;
	int		 was_up = c->state == CONN_UP;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	if (!c->established || c->cb.broken == NULL ||
	    c->state == CONN_CLOSING || c->state == CONN_DEAD ||
	    c->state == CONN_BROKEN)
		return (conn_fail(c, code, "%s", why));
	conn_detach(c);
	c->resuming = 0;
	if (was_up) {
		c->stats.breaks++;
		c->stats.last_break = time(NULL);
		if (c->params.grace_ms)
			timer_ms(c->ev_grace, c->params.grace_ms);
	}
	log_debug("session %016llx: link lost: %s",
	    (unsigned long long)c->session, why);
	c->cb.broken(c, code, why, c->arg);
	return (-1);
}

static void
conn_grace(int fd, short events, void *arg)
{
	struct kgp_conn	*c = arg;

	if (c->state != CONN_BROKEN && c->state != CONN_TLS &&
	    c->state != CONN_HELLO)
		return;
	conn_fail(c, KGP_E_TIMEOUT, "link not resumed within %u s",
	    c->params.grace_ms / 1000);
}

/*
 * Client: carry on the session over a new socket (and TLS context).  A
 * link that is still up is dropped first.  On failure (-1) the caller
 * still owns fd and tls.
 */
int
kgp_conn_resume(struct kgp_conn *c, int fd, struct kgp_tls *io)
{
	if (c->params.role != KGP_ROLE_CLIENT || !conn_live(c))
		return (-1);
	if (c->state == CONN_UP) {
		c->stats.breaks++;
		c->stats.last_break = time(NULL);
	}
	if (c->state != CONN_BROKEN)
		conn_detach(c);
	if (conn_attach(c, fd, io) == -1) {
		c->state = CONN_BROKEN;
		return (-1);
	}
	c->resuming = 1;
	return (0);
}

/*
 * Server, from the hello callback of the fresh connection c: the client
 * resumes session s.  Once the callback returns, c's link moves into s
 * and c goes down (its owner frees it as usual).
 */
void
kgp_conn_adopt(struct kgp_conn *c, struct kgp_conn *s)
{
	c->adopt = s;
}

/*
 * The peer has everything up to seq: drop those frames from rtx.
 * Returns -1 when seq cannot be right (ahead of what was sent, or behind
 * what was acknowledged already).
 */
static int
conn_ack_check(struct kgp_conn *c, uint32_t seq)
{
	return (seq > c->send_seq || seq < c->peer_acked ? -1 : 0);
}

static void
conn_ack(struct kgp_conn *c, uint32_t seq)
{
	struct kgp_frame	 f;
	uint8_t			 hdr[KGP_HDRLEN];
	const char		*errstr;
	size_t			 flen;

	while (c->peer_acked < seq &&
	    evbuffer_copyout(c->rtx, hdr, sizeof(hdr)) == sizeof(hdr)) {
		if (kgp_decode_hdr(hdr, sizeof(hdr), &f, &errstr) == -1 ||
		    f.seq > seq)
			break;
		flen = KGP_HDRLEN + f.len;
		evbuffer_drain(c->rtx, flen);
		c->rtx_sent = c->rtx_sent > flen ? c->rtx_sent - flen : 0;
		c->rtx_written = c->rtx_written > flen ?
		    c->rtx_written - flen : 0;
		c->peer_acked = f.seq;
	}
}

/* A resume is agreed: everything the peer lacks goes again. */
static void
conn_resumed(struct kgp_conn *c, uint32_t peer_seq)
{
	conn_ack(c, peer_seq);
	c->rtx_sent = c->rtx_run = 0;
	c->stats.last_rtx = c->rtx_written;
	c->stats.retransmitted += c->rtx_written;
	c->stats.resumes++;
	c->stats.last_resumed = 1;
	c->ack_sent = c->recv_seq;	/* the handshake said it */
}

/* The peer lost the session (it restarted): so do we, streams and all. */
static void
conn_reset_session(struct kgp_conn *c)
{
	struct kgp_stream	*s;

	while ((s = RB_ROOT(&c->streams)) != NULL)
		stream_free(s);
	evbuffer_drain(c->rtx, evbuffer_get_length(c->rtx));
	c->rtx_sent = c->rtx_written = c->rtx_run = 0;
	c->send_seq = c->recv_seq = c->ack_sent = c->peer_acked = 0;
	c->next_id = 1;
	c->goaway = 0;		/* that was the old session's news */
	c->stats.last_resumed = 0;
}

static void
conn_send_hello(struct kgp_conn *c)
{
	struct kgp_hello	 h;
	uint8_t			 p[KGP_MAXPAYLOAD];
	size_t			 n;

	memset(&h, 0, sizeof(h));
	h.vmin = KGP_VERSION_MIN;
	h.vmax = KGP_VERSION;
	h.window = c->params.window;
	h.conn_index = c->params.conn_index;
	strlcpy(h.tunnel_id, c->tunnel_id ? c->tunnel_id : "",
	    sizeof(h.tunnel_id));
	strlcpy(h.secret, c->secret ? c->secret : "", sizeof(h.secret));
	h.session = c->session;
	h.recv_seq = c->recv_seq;
	n = kgp_hello_encode(p, sizeof(p), &h);
	explicit_bzero(h.secret, sizeof(h.secret));
	conn_send(c, KGP_HELLO, 0, p, n);
	explicit_bzero(p, sizeof(p));
}

static void
conn_up(struct kgp_conn *c)
{
	c->state = CONN_UP;
	c->established = 1;
	c->resuming = 0;
	event_del(c->ev_timer);
	event_del(c->ev_grace);
	if (c->params.ping_ms)
		timer_ms(c->ev_timer, c->params.ping_ms);
	/* what waited in rtx goes now */
	conn_schedule_write(c);
	if (c->cb.up)
		c->cb.up(c, c->arg);
}

static int
conn_handshake(struct kgp_conn *c)
{
	const char	*hash, *err;
	int		 ret;

	do
		ret = c->io != NULL ? tls_handshake(kgp_tls_ctx(c->io)) : 0;
	while (ret == TLS_WANT_POLLIN && conn_buffered(c));
	/* what the handshake wrote is only buffered */
	if (ret != -1 && c->io != NULL && kgp_tls_flush(c->io) == -1)
		return (conn_break(c, KGP_E_PROTOCOL, "TLS handshake: %s",
		    strerror(errno)));
	if (c->io != NULL && kgp_tls_unsent(c->io) > 0)
		event_add(c->ev_write, NULL);
	if (ret == TLS_WANT_POLLIN)
		return (0);
	if (ret == TLS_WANT_POLLOUT) {
		event_add(c->ev_write, NULL);
		return (0);
	}
	if (ret == -1) {
		/*
		 * A certificate the client cannot verify will not get better
		 * by retrying: report it as an authentication failure.
		 */
		err = conn_error(c);
		if (c->params.role == KGP_ROLE_CLIENT &&
		    strstr(err, "verif") != NULL)
			return (conn_fail(c, KGP_E_AUTH, "TLS handshake: %s",
			    err));
		return (conn_break(c, KGP_E_PROTOCOL, "TLS handshake: %s",
		    err));
	}
	if (c->params.role == KGP_ROLE_CLIENT) {
		hash = c->io != NULL ?
		    tls_peer_cert_hash(kgp_tls_ctx(c->io)) : NULL;
		if (hash != NULL)
			strlcpy(c->peer_hash, hash, sizeof(c->peer_hash));
		if (c->pin != NULL && c->pin[0] != '\0' &&
		    (hash == NULL || strcasecmp(hash, c->pin) != 0))
			return (conn_fail(c, KGP_E_AUTH,
			    "server certificate %s does not match the pinned "
			    "%s", hash ? hash : "(none)", c->pin));
		c->state = CONN_HELLO;
		conn_send_hello(c);
	} else
		c->state = CONN_HELLO;
	return (0);
}

static struct kgp_stream *
stream_new(struct kgp_conn *c, uint32_t id, int fd)
{
	struct kgp_stream	*s;
	int			 one = 1;

	if ((s = calloc(1, sizeof(*s))) == NULL)
		return (NULL);
	s->bev = bufferevent_socket_new(c->base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (s->bev == NULL) {
		free(s);
		return (NULL);
	}
	s->ev_read = event_new(c->base, fd, EV_READ | EV_PERSIST, stream_read,
	    s);
	if (s->ev_read == NULL) {
		bufferevent_setfd(s->bev, -1);
		bufferevent_free(s->bev);
		free(s);
		return (NULL);
	}
	/* a TCP endpoint (the server's browser side) gets small writes */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	s->conn = c;
	s->id = id;
	s->send_credit = c->peer_window;
	s->recv_avail = c->params.window;
	bufferevent_setcb(s->bev, NULL, stream_writecb, stream_eventcb, s);
	bufferevent_set_max_single_write(s->bev, STREAM_IO_MAX);
	evbuffer_add_cb(bufferevent_get_output(s->bev), stream_drained, s);
	/*
	 * The bufferevent only writes.  The local side's bytes are read
	 * straight into DATA frames in rtx (stream_read), only while they
	 * can go on: what waits is in the socket, not here.
	 */
	bufferevent_enable(s->bev, EV_WRITE);
	event_add(s->ev_read, NULL);
	RB_INSERT(stream_tree, &c->streams, s);
	c->stats.streams_open++;
	c->stats.streams_total++;
	return (s);
}

static void
stream_free(struct kgp_stream *s)
{
	struct kgp_conn	*c = s->conn;

	RB_REMOVE(stream_tree, &c->streams, s);
	if (s->flags & S_BLOCKED)
		TAILQ_REMOVE(&c->blocked, s, blocked);
	if (c->pend_s == s) {
		evbuffer_drain(c->pend, evbuffer_get_length(c->pend));
		c->pend_s = NULL;
	}
	c->stats.streams_open--;
	event_free(s->ev_read);
	bufferevent_free(s->bev);
	if ((s->flags & (S_MOVING | S_MOVE_READ)) == S_MOVING &&
	    c->cb.switched != NULL)
		c->cb.switched(c, s->id, 0, c->arg);
	if (s->move != NULL) {
		if (s->move->fd != -1)
			close(s->move->fd);
		free(s->move);
	}
	free(s);
	conn_goaway_check(c);
}

static void
stream_reset(struct kgp_stream *s, uint16_t code)
{
	struct kgp_conn	*c = s->conn;

	log_debug("stream %u: reset (%s)", s->id, kgp_code_name(code));
	if (conn_live(c))
		conn_send_code(c, KGP_RST, s->id, code, NULL);
	stream_free(s);
}

/* Both directions are finished and everything was delivered: done. */
static int
stream_check_done(struct kgp_stream *s)
{
	if ((s->flags & (S_FIN_SENT | S_SHUT_WR)) == (S_FIN_SENT | S_SHUT_WR)) {
		log_debug2("stream %u: closed", s->id);
		stream_free(s);
		return (1);
	}
	return (0);
}

static void
stream_read_off(struct kgp_stream *s)
{
	if (!(s->flags & S_READ_OFF)) {
		s->flags |= S_READ_OFF;
		event_del(s->ev_read);
	}
}

/*
 * Credit or room came back, or the stream began: send on what it was
 * opened with, read the local socket again when nothing holds it back,
 * send FIN after the local EOF.
 */
static void
stream_pump(struct kgp_stream *s)
{
	struct kgp_conn	*c = s->conn;
	struct evbuffer	*input = bufferevent_get_input(s->bev);
	uint8_t		 hdr[KGP_HDRLEN];
	size_t		 avail, n;
	int		 added = 0, paused = 0;

	if (!conn_live(c)) {
		/* closing: nothing more goes out, so nothing more comes in */
		stream_read_off(s);
		return;
	}
	/* bytes the stream was opened with (kgp_conn_open_stream) go first */
	while ((avail = evbuffer_get_length(input)) > 0) {
		if (s->send_credit == 0) {
			paused = 1;
			break;
		}
		if (conn_unsent(c) >= CONN_OUT_HIGH) {
			if (!(s->flags & S_BLOCKED)) {
				s->flags |= S_BLOCKED;
				TAILQ_INSERT_TAIL(&c->blocked, s, blocked);
			}
			paused = 1;
			break;
		}
		n = avail;
		if (n > s->send_credit)
			n = s->send_credit;
		if (n > KGP_MAXPAYLOAD)
			n = KGP_MAXPAYLOAD;
		kgp_encode_hdr_seq(hdr, KGP_DATA, n, s->id, ++c->send_seq);
		evbuffer_add(c->rtx, hdr, sizeof(hdr));
		evbuffer_remove_buffer(input, c->rtx, n);
		s->sent += n;
		s->send_credit -= n;
		c->stats.bytes_out += n;
		added = 1;
	}
	if (c->send_seq >= SEQ_LIMIT && conn_live(c))
		kgp_conn_close(c, KGP_E_LIMIT, "sequence numbers used up");
	/* read no more from the local side than can be sent on */
	if (paused)
		stream_read_off(s);
	else if ((s->flags & S_READ_OFF) && !(s->flags & S_LOCAL_EOF)) {
		s->flags &= ~S_READ_OFF;
		event_add(s->ev_read, NULL);
	}
	if (evbuffer_get_length(input) == 0 && (s->flags & S_LOCAL_EOF) &&
	    !(s->flags & S_FIN_SENT)) {
		s->flags |= S_FIN_SENT;
		conn_send(c, KGP_FIN, s->id, NULL, 0);
		stream_check_done(s);
		return;
	}
	if (added)
		conn_schedule_write(c);
}

/* The conn's output drained: let blocked streams go on. */
static void
conn_unblock(struct kgp_conn *c)
{
	struct kgp_stream	*s;

	while ((s = TAILQ_FIRST(&c->blocked)) != NULL &&
	    conn_unsent(c) < CONN_OUT_HIGH) {
		TAILQ_REMOVE(&c->blocked, s, blocked);
		s->flags &= ~S_BLOCKED;
		stream_pump(s);
	}
}

/*
 * Read the local socket into DATA frames at the end of rtx, as credit
 * and room allow, with no copy: each read gives the kernel the payload
 * slots of whole frames laid out one after the other, and the headers
 * are written into the gaps once it is known how much came.  The first
 * read of a turn takes one frame (a message gets a frame and a chain of
 * its own size); a full one means a bulk transfer, and the next read
 * takes up to STREAM_READ_HIGH at once.  Returns 0, 1 at EOF, -1 on an
 * error (errno).
 */
static int
stream_take(struct kgp_stream *s)
{
	struct kgp_conn		*c = s->conn;
	struct evbuffer_iovec	 vec;
	struct iovec		 iov[STREAM_READ_HIGH / KGP_MAXPAYLOAD];
	uint8_t			*p, peek;
	size_t			 total = 0, want, need, left, fl, used;
	ssize_t			 n;
	int			 i, nfr, rc = 0, added = 0;

	while (total < STREAM_READ_HIGH) {
		if (s->send_credit == 0) {
			/*
			 * An EOF needs no credit: FIN goes now.  Wait for
			 * WINDOW only when there are bytes to send.
			 */
			n = recv(event_get_fd(s->ev_read), &peek, 1,
			    MSG_PEEK);
			if (n == 0)
				rc = 1;
			else if (n > 0)
				stream_read_off(s);
			else if (errno != EAGAIN && errno != EINTR)
				rc = -1;
			break;
		}
		if (conn_unsent(c) >= CONN_OUT_HIGH) {
			if (!(s->flags & S_BLOCKED)) {
				s->flags |= S_BLOCKED;
				TAILQ_INSERT_TAIL(&c->blocked, s, blocked);
			}
			stream_read_off(s);
			break;
		}
		want = STREAM_READ_HIGH - total;
		if (want > s->send_credit)
			want = s->send_credit;
		if (total == 0 && want > KGP_MAXPAYLOAD)
			want = KGP_MAXPAYLOAD;
		nfr = (want + KGP_MAXPAYLOAD - 1) / KGP_MAXPAYLOAD;
		need = (nfr - 1) * KGP_MAXFRAME + KGP_HDRLEN +
		    (want - (nfr - 1) * KGP_MAXPAYLOAD);
		if (evbuffer_reserve_space(c->rtx, need, &vec, 1) != 1) {
			errno = ENOMEM;
			rc = -1;
			break;
		}
		p = vec.iov_base;
		for (i = 0, left = want; i < nfr; i++) {
			iov[i].iov_base = p + i * KGP_MAXFRAME + KGP_HDRLEN;
			iov[i].iov_len = left < KGP_MAXPAYLOAD ? left :
			    KGP_MAXPAYLOAD;
			left -= iov[i].iov_len;
		}
		if ((n = readv(event_get_fd(s->ev_read), iov, nfr)) == -1) {
			if (errno != EAGAIN && errno != EINTR)
				rc = -1;
			break;		/* nothing committed */
		}
		if (n == 0) {
			rc = 1;
			break;
		}
		/* the kernel fills the slots in order: only the last is short */
		for (i = 0, left = n, used = 0; left > 0; i++) {
			fl = left < KGP_MAXPAYLOAD ? left : KGP_MAXPAYLOAD;
			kgp_encode_hdr_seq(p + i * KGP_MAXFRAME, KGP_DATA, fl,
			    s->id, ++c->send_seq);
			used = i * KGP_MAXFRAME + KGP_HDRLEN + fl;
			left -= fl;
		}
		vec.iov_len = used;
		evbuffer_commit_space(c->rtx, &vec, 1);
		s->sent += n;
		s->send_credit -= n;
		c->stats.bytes_out += n;
		total += n;
		added = 1;
		if ((size_t)n < want)
			break;		/* all the socket had */
	}
	if (c->send_seq >= SEQ_LIMIT && conn_live(c))
		kgp_conn_close(c, KGP_E_LIMIT, "sequence numbers used up");
	if (added)
		conn_schedule_write(c);
	return (rc);
}

static void
stream_read(int fd, short events, void *arg)
{
	struct kgp_stream	*s = arg;
	int			 moving;

	if (!conn_live(s->conn) ||
	    evbuffer_get_length(bufferevent_get_input(s->bev)) > 0) {
		stream_pump(s);
		return;
	}
	/* the old socket of a move: has it brought all it had to? */
	moving = (s->flags & (S_MOVING | S_MOVE_READ)) == S_MOVING;
	switch (stream_take(s)) {
	case -1:
		log_debug("stream %u: read: %s", s->id, strerror(errno));
		stream_reset(s, KGP_E_RESET);
		return;
	case 1:
		if (moving) {
			stream_move_check(s, 1);
			return;
		}
		s->flags |= S_LOCAL_EOF;
		stream_read_off(s);
		stream_pump(s);
		return;
	}
	if (moving)
		stream_move_check(s, 0);
}

/* The local output is empty: finish a half-close the peer asked for. */
static void
stream_writecb(struct bufferevent *bev, void *arg)
{
	struct kgp_stream	*s = arg;

	/* while a move is under way, the socket to shut is not known */
	if ((s->flags & S_MOVING) &&
	    (s->flags & (S_MOVE_READ | S_MOVE_WRITE)) !=
	    (S_MOVE_READ | S_MOVE_WRITE))
		return;
	if ((s->flags & (S_FIN_RCVD | S_SHUT_WR)) == S_FIN_RCVD &&
	    evbuffer_get_length(bufferevent_get_output(bev)) == 0) {
		s->flags |= S_SHUT_WR;
		shutdown(bufferevent_getfd(bev), SHUT_WR);
		stream_check_done(s);
	}
}

/* The bufferevent only writes: this is a write error. */
static void
stream_eventcb(struct bufferevent *bev, short what, void *arg)
{
	struct kgp_stream	*s = arg;

	if (what & BEV_EVENT_ERROR)
		stream_reset(s, KGP_E_RESET);
}

/* Bytes left for the local socket: give the peer its credit back. */
static void
stream_drained(struct evbuffer *buf, const struct evbuffer_cb_info *info,
    void *arg)
{
	stream_consumed(arg, info->n_deleted);
}

static void
stream_consumed(struct kgp_stream *s, size_t n)
{
	struct kgp_conn		*c = s->conn;

	if (n == 0)
		return;
	s->recv_consumed += n;
	if (!conn_live(c))
		return;
	if (s->recv_consumed >= c->params.window / 4) {
		/* credit only for what the peer knows we have */
		conn_send_ack(c);
		conn_send_u32(c, KGP_WINDOW, s->id, s->recv_consumed);
		s->recv_avail += s->recv_consumed;
		s->recv_consumed = 0;
	}
}

/*
 * Rebind stream id to the local socket fd (see "Moves" above): offset
 * is how many bytes the old socket brings in all, before the new one
 * takes over.  The connection owns fd from here.  Returns 0, or -1
 * when there is no such stream (fd is closed) or when it cannot move
 * (it is reset).
 */
int
kgp_conn_stream_move(struct kgp_conn *c, uint32_t id, int fd,
    uint64_t offset)
{
	struct kgp_stream	*s, key;

	key.id = id;
	if ((s = RB_FIND(stream_tree, &c->streams, &key)) == NULL) {
		close(fd);
		return (-1);
	}
	if ((s->flags & (S_MOVING | S_LOCAL_EOF)) ||
	    (s->move = calloc(1, sizeof(*s->move))) == NULL) {
		close(fd);
		log_warnx("stream %u: cannot move to a new socket", id);
		stream_reset(s, KGP_E_INTERNAL);
		return (-1);
	}
	s->move->fd = fd;
	s->move->offset = offset;
	s->flags |= S_MOVING;
	/* bytes for the local side wait for the new socket */
	bufferevent_disable(s->bev, EV_WRITE);
	return (stream_move_check(s, 0));
}

/*
 * The old socket's reader of stream id has passed on everything the
 * stream had written to it (ok), or could not (the stream is reset).
 * Returns -1 when no such stream is moving.
 */
int
kgp_conn_stream_moved(struct kgp_conn *c, uint32_t id, int ok)
{
	struct kgp_stream	*s, key;

	key.id = id;
	if ((s = RB_FIND(stream_tree, &c->streams, &key)) == NULL ||
	    (s->flags & (S_MOVING | S_MOVE_WRITE)) != S_MOVING)
		return (-1);
	if (!ok) {
		stream_reset(s, KGP_E_RESET);
		return (0);
	}
	s->flags |= S_MOVE_WRITE;
	if (s->flags & S_MOVE_READ)
		stream_move_end(s);
	return (0);
}

/* The old sockets' reader is gone: moves it did not finish never will. */
void
kgp_conn_stream_moves_abort(struct kgp_conn *c)
{
	struct kgp_stream	*s, *next;

	RB_FOREACH_SAFE(s, stream_tree, &c->streams, next)
		if ((s->flags & (S_MOVING | S_MOVE_WRITE)) == S_MOVING)
			stream_reset(s, KGP_E_RESET);
}

/*
 * Has the old socket brought all it had to?  Then read the new one
 * instead.  At eof it must have.  Returns 0, or -1 if the stream was
 * reset.  The stream may be gone on return either way.
 */
static int
stream_move_check(struct kgp_stream *s, int eof)
{
	struct stream_move	*m = s->move;
	uint64_t		 got;
	int			 oldfd;

	got = s->sent + evbuffer_get_length(bufferevent_get_input(s->bev));
	if (got < m->offset && !eof)
		return (0);
	if (got != m->offset) {
		log_warnx("stream %u: %llu bytes came before the move, not "
		    "%llu", s->id, (unsigned long long)got,
		    (unsigned long long)m->offset);
		stream_reset(s, KGP_E_RESET);
		return (-1);
	}
	oldfd = bufferevent_getfd(s->bev);
	if (bufferevent_setfd(s->bev, m->fd) == -1) {
		log_warnx("stream %u: cannot take the new socket", s->id);
		stream_reset(s, KGP_E_INTERNAL);
		return (-1);
	}
	close(oldfd);
	/* the read event follows: it may be assigned once it is not added */
	event_del(s->ev_read);
	event_assign(s->ev_read, s->conn->base, m->fd, EV_READ | EV_PERSIST,
	    stream_read, s);
	m->fd = -1;
	s->flags |= S_MOVE_READ;
	if (!(s->flags & (S_READ_OFF | S_LOCAL_EOF)))
		event_add(s->ev_read, NULL);
	log_debug2("stream %u: reading its new socket", s->id);
	if (s->conn->cb.switched != NULL)
		s->conn->cb.switched(s->conn, s->id, 1, s->conn->arg);
	if (s->flags & S_MOVE_WRITE)
		stream_move_end(s);
	return (0);
}

/* Both halves are done: the stream lives on its new socket. */
static void
stream_move_end(struct kgp_stream *s)
{
	free(s->move);
	s->move = NULL;
	s->flags &= ~(S_MOVING | S_MOVE_READ | S_MOVE_WRITE);
	/* a FIN that reached the old socket goes on to the new one */
	if (s->flags & S_SHUT_WR)
		shutdown(bufferevent_getfd(s->bev), SHUT_WR);
	bufferevent_enable(s->bev, EV_WRITE);
	stream_writecb(s->bev, s);
}

static int
conn_on_open(struct kgp_conn *c, const struct kgp_frame *f)
{
	struct kgp_stream	*s, key;
	char			 meta[256], reason[128];
	uint16_t		 code = KGP_E_REFUSED;
	size_t			 i, n;
	int			 fd;

	if (c->params.role != KGP_ROLE_CLIENT || (f->stream & 1) == 0)
		return (conn_fail(c, KGP_E_PROTOCOL,
		    "OPEN of stream %u from the wrong side", f->stream));
	key.id = f->stream;
	if (RB_FIND(stream_tree, &c->streams, &key) != NULL)
		return (conn_fail(c, KGP_E_PROTOCOL,
		    "OPEN of stream %u which is open", f->stream));
	n = f->len < sizeof(meta) ? f->len : sizeof(meta) - 1;
	for (i = 0; i < n; i++)
		meta[i] = (f->payload[i] >= 0x20 && f->payload[i] < 0x7f) ?
		    f->payload[i] : '?';
	meta[n] = '\0';
	if (c->draining || c->goaway) {
		conn_send_code(c, KGP_REFUSE, f->stream, KGP_E_SHUTDOWN,
		    "shutting down");
		return (0);
	}
	if (c->stats.streams_open >= c->params.max_streams) {
		conn_send_code(c, KGP_REFUSE, f->stream, KGP_E_LIMIT,
		    "too many streams");
		return (0);
	}
	strlcpy(reason, "refused", sizeof(reason));
	fd = c->cb.open ? c->cb.open(c, f->stream, meta, &code, reason,
	    sizeof(reason), c->arg) : -1;
	if (fd == -1) {
		conn_send_code(c, KGP_REFUSE, f->stream, code, reason);
		return (0);
	}
	if ((s = stream_new(c, f->stream, fd)) == NULL) {
		close(fd);
		conn_send_code(c, KGP_REFUSE, f->stream, KGP_E_INTERNAL,
		    "out of memory");
		return (0);
	}
	log_debug2("stream %u: open from %s", s->id, meta);
	conn_send(c, KGP_ACCEPT, s->id, NULL, 0);
	return (0);
}

/*
 * Server: bind a new stream to fd.  The len bytes at data were already
 * read from fd (a request head the caller looked at) and go first.
 */
int
kgp_conn_open_stream(struct kgp_conn *c, int fd, const char *meta,
    const void *data, size_t len)
{
	struct kgp_stream	*s;
	struct evbuffer		*input;
	size_t			 n;
	int			 rc;

	if (!conn_live(c) || c->draining || c->goaway ||
	    c->stats.streams_open >= c->peer_max_streams)
		return (-1);
	if (c->next_id >= 0x7fffffff)
		return (-1);
	if ((s = stream_new(c, c->next_id, fd)) == NULL)
		return (-1);
	if (len > 0) {
		/* as if the bufferevent had read them: its input end is frozen */
		input = bufferevent_get_input(s->bev);
		evbuffer_unfreeze(input, 0);
		rc = evbuffer_add(input, data, len);
		evbuffer_freeze(input, 0);
		if (rc == -1) {
			/* the caller still owns fd */
			bufferevent_setfd(s->bev, -1);
			stream_free(s);
			return (-1);
		}
	}
	c->next_id += 2;
	n = meta ? strlen(meta) : 0;
	if (n > 255)
		n = 255;
	conn_send(c, KGP_OPEN, s->id, meta, n);
	if (len > 0)
		stream_pump(s);
	return (0);
}

/* DATA: hand the payload that follows in c->in to the local socket. */
static int
conn_on_data(struct kgp_conn *c, const struct kgp_frame *f)
{
	struct kgp_stream	*s, key;

	key.id = f->stream;
	if ((s = RB_FIND(stream_tree, &c->streams, &key)) == NULL) {
		/* a stream we reset: its bytes may still be in flight */
		evbuffer_drain(c->in, f->len);
		return (0);
	}
	if (f->len > s->recv_avail) {
		evbuffer_drain(c->in, f->len);
		stream_reset(s, KGP_E_FLOW);
		return (0);
	}
	if (s->flags & S_FIN_RCVD) {
		evbuffer_drain(c->in, f->len);
		stream_reset(s, KGP_E_PROTOCOL);
		return (0);
	}
	s->recv_avail -= f->len;
	c->stats.bytes_in += f->len;
	/* consecutive DATA of one stream leave together (conn_deliver) */
	if (c->pend_s != s)
		conn_deliver(c);
	c->pend_s = s;
	evbuffer_remove_buffer(c->in, c->pend, f->len);
	return (0);
}

/*
 * The DATA read for one stream in a row goes to its socket in one write
 * (what the socket does not take waits in its output), not one write a
 * frame: at the end of a read, and before any other frame.
 */
static void
conn_deliver(struct kgp_conn *c)
{
	struct kgp_stream	*s = c->pend_s;

	if (s == NULL)
		return;
	c->pend_s = NULL;
	stream_consumed(s, bev_write_now(s->bev, c->pend,
	    evbuffer_get_length(c->pend)));
}

static int
conn_on_stream_frame(struct kgp_conn *c, const struct kgp_frame *f)
{
	struct kgp_stream	*s, key;
	const char		*errstr;
	uint32_t		 inc;
	uint16_t		 code;
	char			 text[128];

	key.id = f->stream;
	s = RB_FIND(stream_tree, &c->streams, &key);
	switch (f->type) {
	case KGP_ACCEPT:
		if (c->params.role != KGP_ROLE_SERVER)
			return (conn_fail(c, KGP_E_PROTOCOL,
			    "ACCEPT from the server"));
		return (0);
	case KGP_REFUSE:
		if (c->params.role != KGP_ROLE_SERVER)
			return (conn_fail(c, KGP_E_PROTOCOL,
			    "REFUSE from the server"));
		if (kgp_code_decode(f, &code, text, sizeof(text), &errstr)
		    == -1)
			return (conn_fail(c, KGP_E_PROTOCOL, "REFUSE: %s",
			    errstr));
		if (s != NULL) {
			log_debug("stream %u refused: %s (%s)", s->id,
			    kgp_code_name(code), text);
			stream_free(s);
		}
		return (0);
	case KGP_WINDOW:
		if (kgp_u32_decode(f, &inc, &errstr) == -1)
			return (conn_fail(c, KGP_E_PROTOCOL, "WINDOW: %s",
			    errstr));
		if (s == NULL)
			return (0);
		if (inc == 0 || inc > KGP_MAX_WINDOW ||
		    s->send_credit + (uint64_t)inc > 2 * KGP_MAX_WINDOW) {
			stream_reset(s, KGP_E_FLOW);
			return (0);
		}
		s->send_credit += inc;
		stream_pump(s);
		return (0);
	case KGP_FIN:
		if (s == NULL)
			return (0);
		if (s->flags & S_FIN_RCVD) {
			stream_reset(s, KGP_E_PROTOCOL);
			return (0);
		}
		s->flags |= S_FIN_RCVD;
		stream_writecb(s->bev, s);
		return (0);
	case KGP_RST:
		if (s != NULL) {
			log_debug2("stream %u: reset by peer", s->id);
			stream_free(s);
		}
		return (0);
	}
	return (conn_fail(c, KGP_E_PROTOCOL, "unexpected %s",
	    kgp_type_name(f->type)));
}

/*
 * Server: the HELLO of c resumes session s (see kgp_conn_adopt()).  Move
 * c's link into s, agree on what each side has, and let c go down.
 */
static int
conn_transplant(struct kgp_conn *c, const struct kgp_hello *h)
{
	struct kgp_conn		*s = c->adopt;
	struct kgp_welcome	 w;
	uint8_t			 p[32];
	size_t			 n;

	c->adopt = NULL;
	if (s == c || !conn_live(s) || s->params.role != KGP_ROLE_SERVER ||
	    conn_ack_check(s, h->recv_seq) == -1) {
		kgp_conn_close(c, KGP_E_PROTOCOL, "cannot resume the session");
		return (-1);
	}
	if (s->state == CONN_UP) {
		/* its old link has not noticed yet that it is dead */
		s->stats.breaks++;
		s->stats.last_break = time(NULL);
	}
	if (s->state != CONN_BROKEN)
		conn_detach(s);
	/* c's events go, s gets its own on the same socket */
	event_free(c->ev_read);
	event_free(c->ev_write);
	c->ev_read = c->ev_write = NULL;
	if (conn_attach(s, c->fd, c->io) == -1) {
		s->state = CONN_BROKEN;
		return (conn_fail(c, KGP_E_INTERNAL, "out of memory"));
	}
	c->fd = -1;
	c->io = NULL;
	evbuffer_add_buffer(s->in, c->in);
	s->peer_window = h->window;
	conn_resumed(s, h->recv_seq);
	memset(&w, 0, sizeof(w));
	w.version = KGP_VERSION;
	w.window = s->params.window;
	w.max_streams = s->params.max_streams;
	w.resumed = 1;
	w.recv_seq = s->recv_seq;
	n = kgp_welcome_encode(p, sizeof(p), &w);
	s->state = CONN_HELLO;
	conn_send(s, KGP_WELCOME, 0, p, n);
	/* a GOAWAY may have gone down with the old link */
	if (s->goaway)
		conn_send_code(s, KGP_GOAWAY, 0, s->goaway_code,
		    s->goaway_why);
	conn_up(s);
	/* what libtls may already hold for s */
	if (s->ev_read != NULL)
		event_active(s->ev_read, EV_READ, 0);
	return (conn_fail(c, KGP_E_NONE, "resumed session %016llx",
	    (unsigned long long)s->session));
}

static int
conn_on_hello(struct kgp_conn *c, struct kgp_frame *f, uint8_t *p)
{
	struct kgp_hello	 h;
	struct kgp_welcome	 w;
	const char		*errstr;
	size_t			 n;
	int			 rc;

	if (c->params.role != KGP_ROLE_SERVER || c->state != CONN_HELLO)
		return (conn_fail(c, KGP_E_PROTOCOL, "unexpected HELLO"));
	rc = kgp_hello_decode(f, &h, &errstr);
	explicit_bzero(p, f->len);
	if (rc == -1) {
		kgp_conn_close(c, KGP_E_PROTOCOL, errstr);
		return (-1);
	}
	if (h.vmax < KGP_VERSION_MIN || h.vmin > KGP_VERSION ||
	    h.session == 0) {
		explicit_bzero(&h, sizeof(h));
		kgp_conn_close(c, KGP_E_VERSION, "no common protocol version "
		    "(this server speaks KGP 2)");
		return (-1);
	}
	c->peer_window = h.window;
	c->peer_max_streams = c->params.max_streams;
	c->session = h.session;
	rc = c->cb.hello ? c->cb.hello(c, &h, c->arg) : 0;
	explicit_bzero(h.secret, sizeof(h.secret));
	if (c->state == CONN_DEAD)
		return (-1);
	if (rc != 0) {
		c->adopt = NULL;
		kgp_conn_close(c, rc, kgp_code_name(rc));
		return (-1);
	}
	if (c->adopt != NULL)
		return (conn_transplant(c, &h));
	/* a new session (a client that asks to resume learns it is not) */
	memset(&w, 0, sizeof(w));
	w.version = KGP_VERSION;
	w.window = c->params.window;
	w.max_streams = c->params.max_streams;
	n = kgp_welcome_encode(p, KGP_MAXPAYLOAD, &w);
	conn_send(c, KGP_WELCOME, 0, p, n);
	conn_up(c);
	return (c->state == CONN_UP ? 0 : -1);
}

static int
conn_on_welcome(struct kgp_conn *c, struct kgp_frame *f)
{
	struct kgp_welcome	 w;
	const char		*errstr;

	if (c->params.role != KGP_ROLE_CLIENT || c->state != CONN_HELLO)
		return (conn_fail(c, KGP_E_PROTOCOL, "unexpected WELCOME"));
	if (kgp_welcome_decode(f, &w, &errstr) == -1)
		return (conn_fail(c, KGP_E_PROTOCOL, "WELCOME: %s", errstr));
	if (w.version < KGP_VERSION_MIN || w.version > KGP_VERSION)
		return (conn_fail(c, KGP_E_VERSION,
		    "server chose version %u", w.version));
	if (w.resumed && (!c->established ||
	    conn_ack_check(c, w.recv_seq) == -1))
		return (conn_fail(c, KGP_E_PROTOCOL,
		    "the server resumed a session that cannot be"));
	if (w.resumed)
		conn_resumed(c, w.recv_seq);
	else if (c->established) {
		log_info("the server no longer has session %016llx: its "
		    "streams are lost", (unsigned long long)c->session);
		conn_reset_session(c);
	}
	c->peer_window = w.window;
	c->peer_max_streams = w.max_streams;
	conn_up(c);
	return (c->state == CONN_UP ? 0 : -1);
}

/* One frame whose payload (f->len bytes) is at the head of c->in. */
static int
conn_frame(struct kgp_conn *c, struct kgp_frame *f)
{
	uint8_t			 p[KGP_MAXPAYLOAD];
	const char		*errstr;
	char			 text[256];
	uint16_t		 code;
	uint64_t		 v;
	uint32_t		 seq;

	if (kgp_type_numbered(f->type)) {
		if (c->state != CONN_UP && c->state != CONN_CLOSING)
			return (conn_fail(c, KGP_E_PROTOCOL,
			    "%s before the handshake",
			    kgp_type_name(f->type)));
		if (f->seq != c->recv_seq + 1) {
			if (f->seq > c->recv_seq)
				return (conn_fail(c, KGP_E_PROTOCOL,
				    "frame %u where %u was due", f->seq,
				    c->recv_seq + 1));
			/* had it already (sent again after a resume) */
			evbuffer_drain(c->in, f->len);
			return (0);
		}
		c->recv_seq = f->seq;
		if (c->recv_seq - c->ack_sent >= ACK_EVERY)
			conn_send_ack(c);
	}
	if (f->type == KGP_DATA)
		return (conn_on_data(c, f));
	conn_deliver(c);
	if (f->len > 0)
		evbuffer_remove(c->in, p, f->len);
	f->payload = p;

	switch (f->type) {
	case KGP_ERROR:
		if (kgp_code_decode(f, &code, text, sizeof(text), &errstr)
		    == -1)
			return (conn_fail(c, KGP_E_PROTOCOL, "ERROR: %s",
			    errstr));
		return (conn_fail(c, code, "peer: %s%s%s",
		    kgp_code_name(code), text[0] ? ": " : "", text));
	case KGP_HELLO:
		return (conn_on_hello(c, f, p));
	case KGP_WELCOME:
		return (conn_on_welcome(c, f));
	}
	if (c->state != CONN_UP && c->state != CONN_CLOSING)
		return (conn_fail(c, KGP_E_PROTOCOL, "%s before the handshake",
		    kgp_type_name(f->type)));
	switch (f->type) {
	case KGP_PING:
		conn_send(c, KGP_PONG, 0, p, 8);
		return (0);
	case KGP_PONG:
		if (kgp_u64_decode(f, &v, &errstr) == -1)
			return (conn_fail(c, KGP_E_PROTOCOL, "PONG: %s",
			    errstr));
		/* our own timestamp comes back: any answer proves the link */
		if (v != 0 && v <= now_us()) {
			c->stats.rtt_us = now_us() - v;
			c->missed = 0;
		}
		return (0);
	case KGP_ACK:
		if (kgp_u32_decode(f, &seq, &errstr) == -1 ||
		    conn_ack_check(c, seq) == -1)
			return (conn_fail(c, KGP_E_PROTOCOL,
			    "ACK of frames never sent"));
		conn_ack(c, seq);
		return (0);
	case KGP_GOAWAY:
		if (c->params.role != KGP_ROLE_CLIENT)
			return (conn_fail(c, KGP_E_PROTOCOL,
			    "GOAWAY from the client"));
		if (kgp_code_decode(f, &code, text, sizeof(text), &errstr)
		    == -1)
			return (conn_fail(c, KGP_E_PROTOCOL, "GOAWAY: %s",
			    errstr));
		if (c->goaway)
			return (0);
		c->goaway = 1;
		if (c->cb.goaway)
			c->cb.goaway(c, code, text, c->arg);
		if (c->state == CONN_DEAD)
			return (-1);
		conn_goaway_check(c);
		return (0);
	case KGP_OPEN:
		return (conn_on_open(c, f));
	}
	return (conn_on_stream_frame(c, f));
}

/* Decode every complete frame in c->in. */
static int
conn_parse(struct kgp_conn *c)
{
	struct kgp_frame	 f;
	uint8_t			 hdr[KGP_HDRLEN];
	const char		*errstr;

	while (evbuffer_get_length(c->in) >= KGP_HDRLEN) {
		evbuffer_copyout(c->in, hdr, sizeof(hdr));
		if (kgp_decode_hdr(hdr, sizeof(hdr), &f, &errstr) == -1 ||
		    kgp_frame_check(&f, &errstr) == -1)
			return (conn_fail(c, KGP_E_PROTOCOL, "%s (type %u)",
			    errstr, hdr[0]));
		if (evbuffer_get_length(c->in) < KGP_HDRLEN + (size_t)f.len)
			break;
		evbuffer_drain(c->in, KGP_HDRLEN);
		if (conn_frame(c, &f) == -1)
			return (-1);
		if (c->state == CONN_DEAD)
			return (-1);
	}
	return (0);
}

/*
 * The transport.  sc-server and kgpd always give a TLS context; a
 * connection made without one (tls == NULL) carries the frames in clear
 * and exists only for the engine's tests and fuzz target.
 */
static ssize_t
conn_tls_read(struct kgp_conn *c, void *buf, size_t len)
{
	ssize_t	 n;

	if (c->io != NULL)
		return (kgp_tls_read(c->io, buf, len));
	if ((n = read(c->fd, buf, len)) == -1 &&
	    (errno == EAGAIN || errno == EINTR))
		return (TLS_WANT_POLLIN);
	return (n);
}

/* Bytes of the peer's already read, waiting inside the transport. */
static int
conn_buffered(struct kgp_conn *c)
{
	return (c->io != NULL && kgp_tls_buffered(c->io) > 0);
}

static ssize_t
conn_tls_write(struct kgp_conn *c, const void *buf, size_t len)
{
	ssize_t	 n;

	if (c->io != NULL)
		return (kgp_tls_write(c->io, buf, len));
	if ((n = send(c->fd, buf, len, MSG_NOSIGNAL)) == -1 &&
	    (errno == EAGAIN || errno == EINTR))
		return (TLS_WANT_POLLOUT);
	return (n);
}

static const char *
conn_error(struct kgp_conn *c)
{
	const char	*e;

	if (c->io != NULL && (e = tls_error(kgp_tls_ctx(c->io))) != NULL)
		return (e);
	return (strerror(errno));
}

static int
conn_read(struct kgp_conn *c)
{
	struct evbuffer_iovec	 vec;
	size_t			 total = 0;
	ssize_t			 n;

	c->read_wants_out = 0;
	/* frames a previous link left here (a resume moved them in) */
	if (evbuffer_get_length(c->in) >= KGP_HDRLEN && !c->linger &&
	    conn_parse(c) == -1)
		return (-1);
	while (total < CONN_IO_BUDGET) {
		if (evbuffer_reserve_space(c->in, CONN_READ_CHUNK, &vec, 1)
		    < 1)
			return (conn_fail(c, KGP_E_INTERNAL, "out of memory"));
		n = conn_tls_read(c, vec.iov_base, CONN_READ_CHUNK);
		if (n == TLS_WANT_POLLIN) {
			if (conn_buffered(c))
				continue;	/* a record without data */
			break;
		}
		if (n == TLS_WANT_POLLOUT) {
			c->read_wants_out = 1;
			event_add(c->ev_write, NULL);
			break;
		}
		if (n == -1 || n == 0)
			conn_deliver(c);	/* the session may go on */
		if ((n == -1 || n == 0) && c->linger)
			return (conn_finish_close(c));
		if (n == -1)
			return (conn_break(c, KGP_E_PROTOCOL, "TLS read: %s",
			    conn_error(c)));
		if (n == 0)
			return (conn_break(c, KGP_E_SHUTDOWN,
			    "connection closed by the peer"));
		if (c->linger) {
			/* what the peer still says is moot */
			total += n;
			continue;
		}
		vec.iov_len = n;
		evbuffer_commit_space(c->in, &vec, 1);
		total += n;
		if (conn_parse(c) == -1)
			return (-1);
	}
	conn_deliver(c);
	/* TLS may have answered something of its own while reading */
	if (c->io != NULL && kgp_tls_unsent(c->io) > 0 && conn_flush(c) == -1)
		return (-1);
	if (total >= CONN_IO_BUDGET)
		event_active(c->ev_read, EV_READ, 0);
	return (0);
}

/*
 * Fill wbuf: the unnumbered frames first, then, once the handshake is
 * done, whole numbered frames from rtx that this link has not had.
 * Unnumbered frames going first keeps an ACK ahead of the WINDOW that
 * follows it.  More than RTX_COPY_MAX of numbered frames is not copied:
 * it becomes the run (rtx_run) that conn_write gives the TLS layer from
 * rtx itself, and nothing else goes out until the run is all written,
 * so no frame is ever cut by another.
 */
static void
conn_compose(struct kgp_conn *c)
{
	struct evbuffer_ptr	 pos;
	struct kgp_frame	 f;
	uint8_t			 hdr[KGP_HDRLEN];
	const char		*errstr;
	size_t			 n, take = 0, total;

	c->wlen = c->woff = 0;
	if ((n = evbuffer_get_length(c->ctl)) > 0) {
		if (n > WBUF_SIZE)
			n = WBUF_SIZE;
		c->wlen = evbuffer_remove(c->ctl, c->wbuf, n);
	}
	if (evbuffer_get_length(c->ctl) > 0 ||
	    (c->state != CONN_UP && c->state != CONN_CLOSING))
		return;
	total = evbuffer_get_length(c->rtx);
	if (c->rtx_sent >= total ||
	    evbuffer_ptr_set(c->rtx, &pos, c->rtx_sent, EVBUFFER_PTR_SET) == -1)
		return;
	while (c->rtx_sent + take + KGP_HDRLEN <= total) {
		if (evbuffer_copyout_from(c->rtx, &pos, hdr, sizeof(hdr)) !=
		    sizeof(hdr) ||
		    kgp_decode_hdr(hdr, sizeof(hdr), &f, &errstr) == -1)
			fatalx("%s: corrupt retransmit queue", __func__);
		n = KGP_HDRLEN + f.len;
		if (take + n > RTX_RUN_MAX)
			break;
		take += n;
		if (evbuffer_ptr_set(c->rtx, &pos, n, EVBUFFER_PTR_ADD) == -1)
			break;
	}
	if (take == 0)
		return;
	if (take > RTX_COPY_MAX) {
		/* bulk: conn_write takes it from rtx where it lies */
		c->rtx_run = take;
		return;
	}
	if (c->wlen + take > WBUF_SIZE)
		return;		/* after the unnumbered frames */
	evbuffer_ptr_set(c->rtx, &pos, c->rtx_sent, EVBUFFER_PTR_SET);
	if (evbuffer_copyout_from(c->rtx, &pos, c->wbuf + c->wlen, take) !=
	    (ev_ssize_t)take)
		fatalx("%s: short copy", __func__);
	c->wlen += take;
	c->rtx_sent += take;
	if (c->rtx_sent > c->rtx_written)
		c->rtx_written = c->rtx_sent;
}

/* Something is queued that this link can take now. */
static int
conn_pending(struct kgp_conn *c)
{
	return (c->woff < c->wlen || evbuffer_get_length(c->ctl) > 0 ||
	    ((c->state == CONN_UP || c->state == CONN_CLOSING) &&
	    c->rtx_sent < evbuffer_get_length(c->rtx)));
}

/*
 * Send what the TLS layer has buffered; when the socket is full, go on
 * once it is writable.
 */
static int
conn_flush(struct kgp_conn *c)
{
	if (c->io == NULL)
		return (0);
	switch (kgp_tls_flush(c->io)) {
	case 0:
		return (0);
	case TLS_WANT_POLLOUT:
		event_add(c->ev_write, NULL);
		return (0);
	default:
		return (conn_break(c, KGP_E_PROTOCOL, "TLS write: %s",
		    strerror(errno)));
	}
}

static int
conn_write(struct kgp_conn *c)
{
	struct evbuffer_ptr	 pos;
	struct evbuffer_iovec	 vec;
	const void		*p;
	size_t			 len, total = 0;
	ssize_t			 n;

	c->write_wants_in = 0;
	while (total < CONN_IO_BUDGET) {
		if (c->woff == c->wlen && c->rtx_run == 0) {
			conn_compose(c);
			if (c->wlen == 0 && c->rtx_run == 0)
				break;
		}
		if (c->woff < c->wlen) {
			p = c->wbuf + c->woff;
			len = c->wlen - c->woff;
		} else {
			/*
			 * In place.  After TLS_WANT_POLLOUT the same bytes are
			 * offered again, maybe at another address if libevent
			 * moved the last chain: libtls allows that
			 * (SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER).
			 */
			if (evbuffer_ptr_set(c->rtx, &pos, c->rtx_sent,
			    EVBUFFER_PTR_SET) == -1 ||
			    evbuffer_peek(c->rtx, c->rtx_run, &pos, &vec, 1) < 1)
				fatalx("%s: corrupt retransmit queue",
				    __func__);
			p = vec.iov_base;
			len = vec.iov_len < c->rtx_run ? vec.iov_len :
			    c->rtx_run;
		}
		n = conn_tls_write(c, p, len);
		if (n == TLS_WANT_POLLOUT) {
			event_add(c->ev_write, NULL);
			return (0);
		}
		if (n == TLS_WANT_POLLIN) {
			c->write_wants_in = 1;
			if (conn_buffered(c))
				event_active(c->ev_read, EV_READ, 0);
			return (conn_flush(c));
		}
		if (n == -1)
			return (conn_break(c, KGP_E_PROTOCOL, "TLS write: %s",
			    conn_error(c)));
		if (c->woff < c->wlen)
			c->woff += n;
		else {
			c->rtx_sent += n;
			c->rtx_run -= n;
			if (c->rtx_sent > c->rtx_written)
				c->rtx_written = c->rtx_sent;
		}
		total += n;
		conn_unblock(c);
		if (c->state == CONN_DEAD || c->state == CONN_BROKEN)
			return (-1);
	}
	/* one send for all that was encrypted */
	if (conn_flush(c) == -1)
		return (-1);
	if (c->io != NULL && kgp_tls_unsent(c->io) > 0)
		return (0);	/* POLLOUT brings us back */
	if (conn_pending(c)) {
		/* the budget is spent, not the socket: go on next turn */
		event_active(c->ev_write, EV_WRITE, 0);
		return (0);
	}
	if (c->state == CONN_CLOSING && !c->linger) {
		/*
		 * The ERROR is out.  Closing now, with the peer's bytes
		 * unread, would reset the connection and could destroy the
		 * ERROR before the peer reads it: stop sending, and read
		 * until the peer closes (bounded by the close timer).
		 */
		c->linger = 1;
		if (shutdown(c->fd, SHUT_WR) == -1)
			return (conn_finish_close(c));
	}
	return (0);
}

static void
conn_io(int fd, short events, void *arg)
{
	struct kgp_conn	*c = arg;

	if (c->state == CONN_DEAD || c->state == CONN_BROKEN)
		return;
	if (c->state == CONN_TLS) {
		if (conn_handshake(c) == -1 || c->state == CONN_TLS)
			return;
		/* the peer's first frame may already sit inside libtls */
		events = EV_READ | EV_WRITE;
	}
	if ((events & EV_READ) || ((events & EV_WRITE) && c->read_wants_out))
		if (conn_read(c) == -1)
			return;
	if ((events & EV_WRITE) || ((events & EV_READ) && c->write_wants_in))
		conn_write(c);
}

static void
conn_timer(int fd, short events, void *arg)
{
	struct kgp_conn	*c = arg;
	uint8_t		 p[8];
	uint64_t	 v;
	int		 i;

	switch (c->state) {
	case CONN_TLS:
	case CONN_HELLO:
		conn_break(c, KGP_E_TIMEOUT, "handshake timed out");
		return;
	case CONN_CLOSING:
		conn_finish_close(c);
		return;
	case CONN_UP:
		if (c->missed >= c->params.max_missed) {
			conn_break(c, KGP_E_TIMEOUT, "keepalive: %u pings "
			    "unanswered", c->missed);
			return;
		}
		if (c->goaway && c->params.role == KGP_ROLE_CLIENT &&
		    c->stats.streams_open == 0) {
			kgp_conn_close(c, KGP_E_SHUTDOWN, "drained");
			return;
		}
		conn_send_ack(c);
		v = now_us();
		c->missed++;
		for (i = 7; i >= 0; i--) {
			p[i] = v & 0xff;
			v >>= 8;
		}
		conn_send(c, KGP_PING, 0, p, sizeof(p));
		timer_ms(c->ev_timer, c->params.ping_ms);
		return;
	case CONN_BROKEN:
	case CONN_DEAD:
		return;
	}
}
