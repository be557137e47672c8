/*
 * One KGP connection: TLS (libtls) on a socket driven by libevent, the
 * HELLO/WELCOME handshake, keepalive, resume, and the frames in and out
 * of the streams multiplexed over it.  Used by kgpd
 * (client role) and sc-server (server role).  man/kgp.7 is the
 * specification.
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
 * The streams, their flow control and their moves are in kgp_stream.c;
 * kgp_conn_int.h is what the two files share.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/tree.h>
#include <sys/queue.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <stddef.h>
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
#include "tcpinfo.h"
#include "evread.h"
#include "log.h"
#include "kgp_conn_int.h"

static void	conn_io(int, short, void *);
static void	conn_timer(int, short, void *);
static void	conn_ping(struct kgp_conn *);
static void	conn_sockopts(struct kgp_conn *, int);
static void	conn_grace(int, short, void *);
static int	conn_break(struct kgp_conn *, int, const char *, ...)
		    __attribute__((__format__ (printf, 3, 4)));
static void	conn_ack(struct kgp_conn *, uint32_t);
static int	conn_attach(struct kgp_conn *, int, struct kgp_tls *);
static void	conn_detach(struct kgp_conn *);
static int	conn_finish_close(struct kgp_conn *);
static const char *conn_error(struct kgp_conn *);
static int	conn_flush(struct kgp_conn *);
static int	conn_buffered(struct kgp_conn *);
static void	conn_rtt_count(struct kgp_conn_stats *);
static int	conn_hello_start(struct kgp_conn *);
static int	conn_set_auth(struct kgp_conn *, const struct kgp_params *);
static int	conn_hello_answer(struct kgp_conn *,
		    const struct kgp_hello *);

uint64_t
conn_now_us(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((uint64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000);
}

/* The round trip just measured (st->rtt_us), into the histogram. */
static void
conn_rtt_count(struct kgp_conn_stats *st)
{
	static const uint64_t	 bounds[KGP_RTT_BUCKETS] = KGP_RTT_BOUNDS_US;
	size_t			 i;

	st->rtt_count++;
	st->rtt_sum_us += st->rtt_us;
	for (i = 0; i < KGP_RTT_BUCKETS; i++)
		if (st->rtt_us <= bounds[i]) {
			st->rtt_buckets[i]++;
			break;
		}
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
int
conn_live(struct kgp_conn *c)
{
	return (c->established && c->state != CONN_DEAD &&
	    c->state != CONN_CLOSING);
}

/*
 * This end opens the streams: the server, or on a node link the client
 * (kgp.7, "Node links").
 */
int
conn_opens(struct kgp_conn *c)
{
	return ((c->params.role == KGP_ROLE_SERVER) != (c->node != 0));
}

/*
 * n payload bytes crossed the connection, either way: into its load
 * (kgp_conn_stats()), which halves every KGP_LOAD_HALF_MS.
 */
void
conn_moved(struct kgp_conn *c, size_t n)
{
	uint64_t	 now = conn_now_us(), halves;

	halves = (now - c->moved_us) / (KGP_LOAD_HALF_MS * 1000);
	if (halves > 0) {
		c->moved = halves >= 64 ? 0 : c->moved >> halves;
		c->moved_us += halves * (KGP_LOAD_HALF_MS * 1000);
	}
	c->moved += n;
}

/* Bytes queued that this link has not taken yet. */
size_t
conn_unsent(struct kgp_conn *c)
{
	return (evbuffer_get_length(c->ctl) + evbuffer_get_length(c->rtx) -
	    c->rtx_sent + (c->wlen - c->woff));
}

/* After numbering frames: the session ends before the numbers wrap. */
void
conn_seq_check(struct kgp_conn *c)
{
	if (c->send_seq >= SEQ_LIMIT && conn_live(c))
		kgp_conn_close(c, KGP_E_LIMIT, "sequence numbers used up");
}

/*
 * Queue one frame.  The payload may be NULL when len is 0.  A numbered
 * frame goes to rtx, where it stays until acknowledged; the others are
 * for this link only and are dropped when there is none.
 */
void
conn_send(struct kgp_conn *c, uint8_t type, uint32_t stream,
    const void *payload, size_t len)
{
	uint8_t	 hdr[KGP_HDRLEN];

	if (kgp_type_numbered(type)) {
		kgp_encode_hdr_seq(hdr, type, len, stream, ++c->send_seq);
		evbuffer_add(c->rtx, hdr, sizeof(hdr));
		if (len)
			evbuffer_add(c->rtx, payload, len);
		conn_seq_check(c);
	} else {
		if (c->fd == -1)
			return;
		kgp_encode_hdr(hdr, type, len, stream);
		if (c->node && (type == KGP_HELLO || type == KGP_WELCOME))
			hdr[1] = KGP_F_NODE;
		evbuffer_add(c->ctl, hdr, sizeof(hdr));
		if (len)
			evbuffer_add(c->ctl, payload, len);
	}
	conn_schedule_write(c);
}

/* Tell the peer how far we have received (before granting credit). */
void
conn_send_ack(struct kgp_conn *c)
{
	if (c->recv_seq == c->ack_sent || c->fd == -1 ||
	    (c->state != CONN_UP && c->state != CONN_CLOSING))
		return;
	c->ack_sent = c->recv_seq;
	conn_send_u32(c, KGP_ACK, 0, c->recv_seq);
}

void
conn_send_u32(struct kgp_conn *c, uint8_t type, uint32_t stream, uint32_t v)
{
	uint8_t	 p[4];

	p[0] = v >> 24;
	p[1] = v >> 16;
	p[2] = v >> 8;
	p[3] = v;
	conn_send(c, type, stream, p, sizeof(p));
}

void
conn_send_code(struct kgp_conn *c, uint8_t type, uint32_t stream,
    uint16_t code, const char *text)
{
	uint8_t	 p[256];
	size_t	 n;

	n = kgp_code_encode(p, type == KGP_RST ? 2 : sizeof(p), code, text);
	conn_send(c, type, stream, p, n);
}

void
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
	if (c->params.window_max == 0)
		c->params.window_max = KGP_STREAM_WINDOW_MAX;
	if (c->params.window_max < c->params.window)
		c->params.window_max = c->params.window;
	if (c->params.window_max > KGP_MAX_WINDOW)
		c->params.window_max = KGP_MAX_WINDOW;
	if (c->params.window_grow == 0)
		c->params.window_grow = KGP_STREAM_WINDOW;
	if (c->params.window_grow > c->params.window_max)
		c->params.window_grow = c->params.window_max;
	if (c->params.window_open == 0)
		c->params.window_open = KGP_OPEN_WINDOW;
	if (c->params.window_open > c->params.window_max)
		c->params.window_open = c->params.window_max;
	if (c->params.budget == 0)
		c->params.budget = KGP_CONN_BUDGET;
	if (c->params.max_streams == 0)
		c->params.max_streams = KGP_DEFAULT_MAXSTREAMS;
	if (c->params.handshake_ms == 0)
		c->params.handshake_ms = 15000;
	if (c->params.max_missed == 0)
		c->params.max_missed = 30;
	c->session = c->params.session;
	c->held = c->params.role == KGP_ROLE_CLIENT && c->params.hold;
	c->node = c->params.role == KGP_ROLE_CLIENT && c->params.node;
	while (c->params.role == KGP_ROLE_CLIENT && c->session == 0)
		arc4random_buf(&c->session, sizeof(c->session));
	c->cb = *cb;
	c->arg = arg;
	c->next_id = 1;
	RB_INIT(&c->streams);
	TAILQ_INIT(&c->blocked);
	c->params.pin = c->params.tunnel_id = c->params.secret = NULL;
	if (conn_set_auth(c, params) == -1)
		goto fail;
	if (params->congestion != NULL)
		strlcpy(c->congestion, params->congestion,
		    sizeof(c->congestion));
	c->params.congestion = c->congestion;
	if ((c->in = evbuffer_new()) == NULL ||
	    (c->pend = evbuffer_new()) == NULL ||
	    (c->ctl = evbuffer_new()) == NULL ||
	    (c->rtx = evbuffer_new()) == NULL)
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
	c->rtt_min_us = 0;	/* a new path, perhaps */
	conn_sockopts(c, fd);
	event_add(c->ev_read, NULL);
	event_active(c->ev_write, EV_WRITE, 0);
	event_del(c->ev_timer);
	timer_ms(c->ev_timer, c->params.handshake_ms);
	return (0);
}

/*
 * The link's TCP socket: frames go at once; the kernel holds at most
 * CONN_NOTSENT not yet sent, so that what waits does so in rtx, where
 * a small stream's frames are not behind megabytes of a bulk one's in
 * the kernel; and the congestion control asked for, if any.  A socket
 * pair (the tests) refuses all three.
 */
static void
conn_sockopts(struct kgp_conn *c, int fd)
{
	static int	 warned;
	const char	*cc = c->params.congestion;
	int		 v = 1;

	if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &v, sizeof(v)) == -1)
		return;
#ifdef TCP_NOTSENT_LOWAT
	v = CONN_NOTSENT;
	setsockopt(fd, IPPROTO_TCP, TCP_NOTSENT_LOWAT, &v, sizeof(v));
#endif
#ifdef TCP_CONGESTION
	if (cc != NULL && cc[0] != '\0' && setsockopt(fd, IPPROTO_TCP,
	    TCP_CONGESTION, cc, strlen(cc)) == -1 && !warned) {
		/* once: every link would say the same */
		warned = 1;
		log_warn("KGP congestion control %s not available, the "
		    "system's default is used", cc);
	}
#endif
}

/*
 * How long the link's queues hold this end's segments now: the
 * kernel's smoothed round trip of the link's socket above the least
 * round trip its samples saw (the path; the keepalive's least round
 * trip where the kernel does not say, which the event loops of both
 * ends lengthen).  On the receiving end of a bulk stream that is the
 * queue its bytes wait in at the link's bottleneck, which the
 * acknowledgements of this end's frames cross too.  0 when not known.
 */
uint64_t
conn_queue_us(struct kgp_conn *c)
{
	uint64_t	 srtt, min, losses, now;

	if (c->fd == -1 || c->rtt_min_us == 0 ||
	    tcpinfo_rtt(c->fd, &srtt, &min, &losses) == -1)
		return (0);
	/*
	 * While the link loses segments (this end sends some again, or
	 * receives some out of order) its round trip says the loss, not a
	 * standing queue: a lost segment's recovery adds a round trip to
	 * what the kernel measures.  No queue then, for KGP_TUNE_LOSS_RTTS
	 * round trips after the last loss seen.
	 */
	now = conn_now_us();
	if (losses != c->loss_seen) {
		log_debug2("session %016llx: %llu segments lost on the link "
		    "(sent again, or received out of order): its queue counts "
		    "as none for %llu us", (unsigned long long)c->session,
		    (unsigned long long)(losses - c->loss_seen),
		    (unsigned long long)(KGP_TUNE_LOSS_RTTS * c->rtt_min_us));
		c->loss_seen = losses;
		c->loss_us = now;
	}
	if (c->loss_us != 0 &&
	    now - c->loss_us < KGP_TUNE_LOSS_RTTS * c->rtt_min_us)
		return (0);
	if (min == 0)
		min = c->rtt_min_us;
	return (srtt > min ? srtt - min : 0);
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
	if (c->hello_held != NULL)
		freezero(c->hello_held, sizeof(*c->hello_held));
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

/*
 * Each open stream, oldest first: its id, the bytes each way and its
 * age, until fn returns -1.
 */
void
kgp_conn_each_stream(struct kgp_conn *c, int (*fn)(uint32_t,
    const struct kgp_stream_stats *, void *), void *arg)
{
	struct kgp_stream	*s;
	struct kgp_stream_stats	 st;
	uint64_t		 now = conn_now_us();

	RB_FOREACH(s, stream_tree, &c->streams) {
		st.bytes_in = s->received;
		st.bytes_out = s->sent;
		st.age_ms = now >= s->started_us ?
		    (now - s->started_us) / 1000 : 0;
		st.label = s->label;
		if (fn(s->id, &st, arg) == -1)
			break;
	}
}

void
kgp_conn_stats(struct kgp_conn *c, struct kgp_conn_stats *st)
{
	*st = c->stats;
	st->windows = c->windows;
	conn_moved(c, 0);
	st->load = c->moved + evbuffer_get_length(c->ctl) +
	    evbuffer_get_length(c->rtx) + (c->wlen - c->woff);
	st->up = c->state == CONN_UP;
	st->broken = c->established && (c->state == CONN_BROKEN ||
	    c->state == CONN_TLS || c->state == CONN_HELLO);
}

/*
 * The connection is finished: reset every stream, stop all I/O, and tell
 * the owner, who may free it from the callback.  Returns -1 so that
 * callers can write "return (conn_fail(...))" and stop touching c.
 */
int
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

/*
 * A protocol error of the peer's (a malformed frame, or one in the wrong
 * state): tell the peer with ERROR (kgp.7), then close like
 * kgp_conn_close().  What the peer sends after it is read and dropped.
 * Returns -1 like conn_fail(): the caller stops parsing.  Nothing can be
 * said during the TLS handshake, and an ERROR is never answered with one.
 */
int
conn_abort(struct kgp_conn *c, int code, const char *fmt, ...)
{
	char		 why[sizeof(c->down_why)];
	va_list		 ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	if (c->state == CONN_DEAD)
		return (-1);
	log_debug("session %016llx: %s", (unsigned long long)c->session, why);
	c->deaf = 1;
	evbuffer_drain(c->in, evbuffer_get_length(c->in));
	kgp_conn_close(c, code, why);
	return (-1);
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
void
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
	/* a node link is not resumed: its streams go with it */
	if (!c->established || c->cb.broken == NULL || c->node ||
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

/*
 * Client: drop the link that is up as if it were lost (sc-ctl
 * reconnect); the session waits for a resume.  Anything else: nothing.
 */
void
kgp_conn_break(struct kgp_conn *c, const char *why)
{
	if (c->params.role == KGP_ROLE_CLIENT && c->state == CONN_UP)
		conn_break(c, KGP_E_SHUTDOWN, "%s", why);
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
	if (c->params.ping_ms) {
		/* the windows grow by the round trip: learn it at once */
		conn_ping(c);
		timer_ms(c->ev_timer, c->params.ping_ms);
	}
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
	c->state = CONN_HELLO;
	if (c->params.role == KGP_ROLE_CLIENT) {
		hash = c->io != NULL ?
		    tls_peer_cert_hash(kgp_tls_ctx(c->io)) : NULL;
		if (hash != NULL)
			strlcpy(c->peer_hash, hash, sizeof(c->peer_hash));
		if (!c->held)
			return (conn_hello_start(c));
	}
	return (0);
}

/* Client, TLS done and the tunnel known: check the pin, say HELLO. */
static int
conn_hello_start(struct kgp_conn *c)
{
	const char	*hash = c->peer_hash[0] != '\0' ? c->peer_hash : NULL;

	if (c->pin != NULL && c->pin[0] != '\0' &&
	    (hash == NULL || strcasecmp(hash, c->pin) != 0))
		return (conn_fail(c, KGP_E_AUTH,
		    "server certificate %s does not match the pinned %s",
		    hash ? hash : "(none)", c->pin));
	conn_send_hello(c);
	return (0);
}

/*
 * Client: a connection made with params.hold (opened while the REST API
 * was still creating the tunnel) learns its tunnel: the pin, the id and
 * secret, its index and keepalive.  Once its TLS handshake is done, the
 * pin is checked against the server's certificate and HELLO goes; the
 * handshake's time bound starts again.  Returns -1, c untouched, when c
 * is not held or is going down, or out of memory; 0 otherwise, even if
 * the pin did not match: then c went down (the down callback) and is
 * gone.
 */
int
kgp_conn_auth(struct kgp_conn *c, const struct kgp_params *p)
{
	if (!c->held || c->state == CONN_DEAD || c->state == CONN_CLOSING ||
	    c->state == CONN_BROKEN)
		return (-1);
	if (conn_set_auth(c, p) == -1)
		return (-1);
	c->params.conn_index = p->conn_index;
	if (p->ping_ms)
		c->params.ping_ms = p->ping_ms;
	if (p->max_missed)
		c->params.max_missed = p->max_missed;
	c->held = 0;
	event_del(c->ev_timer);
	timer_ms(c->ev_timer, c->params.handshake_ms);
	/* a pin that does not match fails c through the down callback */
	if (c->state == CONN_HELLO)
		conn_hello_start(c);
	return (0);
}

/*
 * c's pin, tunnel id and secret: copies of p's (NULL where p has none),
 * the old ones freed, the old secret wiped.  -1, c untouched, when out
 * of memory.
 */
static int
conn_set_auth(struct kgp_conn *c, const struct kgp_params *p)
{
	char	*pin = NULL, *id = NULL, *secret = NULL;

	if ((p->pin && (pin = strdup(p->pin)) == NULL) ||
	    (p->tunnel_id && (id = strdup(p->tunnel_id)) == NULL) ||
	    (p->secret && (secret = strdup(p->secret)) == NULL)) {
		free(pin);
		free(id);
		if (secret != NULL)
			freezero(secret, strlen(secret));
		return (-1);
	}
	free(c->pin);
	free(c->tunnel_id);
	if (c->secret != NULL)
		freezero(c->secret, strlen(c->secret));
	c->params.pin = c->pin = pin;
	c->params.tunnel_id = c->tunnel_id = id;
	c->params.secret = c->secret = secret;
	return (0);
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
		return (conn_abort(c, KGP_E_PROTOCOL,
		    "cannot resume the session"));
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
	const char		*errstr;
	int			 rc;

	if (c->params.role != KGP_ROLE_SERVER || c->state != CONN_HELLO ||
	    c->hello_held != NULL)
		return (conn_abort(c, KGP_E_PROTOCOL, "unexpected HELLO"));
	rc = kgp_hello_decode(f, &h, &errstr);
	explicit_bzero(p, f->len);
	if (rc == -1)
		return (conn_abort(c, KGP_E_PROTOCOL, "HELLO: %s", errstr));
	if (h.vmax < KGP_VERSION_MIN || h.vmin > KGP_VERSION ||
	    h.session == 0) {
		explicit_bzero(&h, sizeof(h));
		return (conn_abort(c, KGP_E_VERSION, "no common protocol "
		    "version (this server speaks KGP 2)"));
	}
	c->peer_window = h.window;
	c->peer_max_streams = c->params.max_streams;
	c->session = h.session;
	/* a node's: the WELCOME says it back, and the peer opens streams */
	c->node = h.node = (f->flags & KGP_F_NODE) != 0;
	rc = conn_hello_answer(c, &h);
	explicit_bzero(&h, sizeof(h));
	return (rc);
}

/*
 * The owner's answer to the HELLO of c (the hello callback): WELCOME, a
 * resume (kgp_conn_adopt()), ERROR, or, for KGP_HELLO_HOLD, later: h is
 * kept until kgp_conn_hello_again().
 */
static int
conn_hello_answer(struct kgp_conn *c, const struct kgp_hello *h)
{
	struct kgp_welcome	 w;
	uint8_t			 p[32];
	size_t			 n;
	int			 rc;

	rc = c->cb.hello ? c->cb.hello(c, h, c->arg) : 0;
	if (c->state == CONN_DEAD)
		return (-1);
	if (rc == KGP_HELLO_HOLD) {
		if (c->hello_held == h)
			return (0);
		if ((c->hello_held = malloc(sizeof(*h))) == NULL)
			return (conn_abort(c, KGP_E_INTERNAL, "out of memory"));
		memcpy(c->hello_held, h, sizeof(*h));
		return (0);
	}
	if (rc != 0) {
		c->adopt = NULL;
		return (conn_abort(c, rc, "%s", kgp_code_name(rc)));
	}
	if (c->adopt != NULL)
		return (conn_transplant(c, h));
	/* a new session (a client that asks to resume learns it is not) */
	memset(&w, 0, sizeof(w));
	w.version = KGP_VERSION;
	w.window = c->params.window;
	w.max_streams = c->params.max_streams;
	n = kgp_welcome_encode(p, sizeof(p), &w);
	conn_send(c, KGP_WELCOME, 0, p, n);
	conn_up(c);
	return (c->state == CONN_UP ? 0 : -1);
}

/*
 * Server: the owner can answer the HELLO it held (KGP_HELLO_HOLD) now:
 * the hello callback is asked again, and its answer goes out.  0, or -1
 * when the connection went down (the owner may have freed it).
 */
int
kgp_conn_hello_again(struct kgp_conn *c)
{
	struct kgp_hello	*h = c->hello_held;
	int			 rc;

	if (h == NULL || c->state != CONN_HELLO)
		return (0);
	rc = conn_hello_answer(c, h);
	if (rc == -1 || c->hello_held != h)
		return (rc);	/* gone, or freed with c */
	if (c->state != CONN_HELLO) {
		c->hello_held = NULL;
		freezero(h, sizeof(*h));
	}
	return (0);
}

static int
conn_on_welcome(struct kgp_conn *c, struct kgp_frame *f)
{
	struct kgp_welcome	 w;
	const char		*errstr;

	if (c->params.role != KGP_ROLE_CLIENT || c->state != CONN_HELLO)
		return (conn_abort(c, KGP_E_PROTOCOL, "unexpected WELCOME"));
	if (kgp_welcome_decode(f, &w, &errstr) == -1)
		return (conn_abort(c, KGP_E_PROTOCOL, "WELCOME: %s", errstr));
	if (c->node != ((f->flags & KGP_F_NODE) != 0))
		return (conn_abort(c, KGP_E_PROTOCOL, "WELCOME %s the node "
		    "flag", c->node ? "without" : "with"));
	if (w.version < KGP_VERSION_MIN || w.version > KGP_VERSION)
		return (conn_abort(c, KGP_E_VERSION,
		    "server chose version %u", w.version));
	if (w.resumed && (!c->established ||
	    conn_ack_check(c, w.recv_seq) == -1))
		return (conn_abort(c, KGP_E_PROTOCOL,
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

	/* the client waits for the answer to its HELLO */
	if (c->hello_held != NULL && f->type != KGP_ERROR)
		return (conn_abort(c, KGP_E_PROTOCOL, "%s before the WELCOME",
		    kgp_type_name(f->type)));
	if (kgp_type_numbered(f->type)) {
		if (c->state != CONN_UP && c->state != CONN_CLOSING)
			return (conn_abort(c, KGP_E_PROTOCOL,
			    "%s before the handshake",
			    kgp_type_name(f->type)));
		if (f->seq != c->recv_seq + 1) {
			if (f->seq > c->recv_seq)
				return (conn_abort(c, KGP_E_PROTOCOL,
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
			/* the peer is closing: no ERROR for its ERROR */
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
		return (conn_abort(c, KGP_E_PROTOCOL, "%s before the handshake",
		    kgp_type_name(f->type)));
	switch (f->type) {
	case KGP_PING:
		conn_send(c, KGP_PONG, 0, p, 8);
		return (0);
	case KGP_PONG:
		if (kgp_u64_decode(f, &v, &errstr) == -1)
			return (conn_abort(c, KGP_E_PROTOCOL, "PONG: %s",
			    errstr));
		/* our own timestamp comes back: any answer proves the link */
		if (v != 0 && v <= conn_now_us()) {
			c->stats.rtt_us = conn_now_us() - v;
			conn_rtt_count(&c->stats);
			/* the least: the path, not the queues on it */
			if (c->rtt_min_us == 0 || c->stats.rtt_us < c->rtt_min_us)
				c->rtt_min_us = c->stats.rtt_us ? c->stats.rtt_us : 1;
			c->missed = 0;
		}
		return (0);
	case KGP_ACK:
		if (kgp_u32_decode(f, &seq, &errstr) == -1 ||
		    conn_ack_check(c, seq) == -1)
			return (conn_abort(c, KGP_E_PROTOCOL,
			    "ACK of frames never sent"));
		conn_ack(c, seq);
		return (0);
	case KGP_GOAWAY:
		if (c->params.role != KGP_ROLE_CLIENT)
			return (conn_abort(c, KGP_E_PROTOCOL,
			    "GOAWAY from the client"));
		if (kgp_code_decode(f, &code, text, sizeof(text), &errstr)
		    == -1)
			return (conn_abort(c, KGP_E_PROTOCOL, "GOAWAY: %s",
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
			return (conn_abort(c, KGP_E_PROTOCOL, "%s (type %u)",
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
	    !c->deaf &&
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
		if ((n == -1 || n == 0) && (c->linger || c->deaf))
			return (conn_finish_close(c));
		if (n == -1)
			return (conn_break(c, KGP_E_PROTOCOL, "TLS read: %s",
			    conn_error(c)));
		if (n == 0)
			return (conn_break(c, KGP_E_SHUTDOWN,
			    "connection closed by the peer"));
		if (c->linger || c->deaf) {
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
 * so no frame is ever cut by another.  wbuf comes with the first frame:
 * a link whose handshake never ends never has one.
 */
static int	 conn_pending(struct kgp_conn *);

static void
conn_compose(struct kgp_conn *c)
{
	struct evbuffer_ptr	 pos;
	struct kgp_frame	 f;
	uint8_t			 hdr[KGP_HDRLEN];
	const char		*errstr;
	size_t			 n, take = 0, total;

	c->wlen = c->woff = 0;
	if (c->wbuf == NULL && (!conn_pending(c) ||
	    (c->wbuf = malloc(WBUF_SIZE)) == NULL))
		return;		/* out of memory: the timers end the link */
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

/* PING with our clock: the PONG measures the link's round trip. */
static void
conn_ping(struct kgp_conn *c)
{
	uint8_t		 p[8];
	uint64_t	 v;
	int		 i;

	v = conn_now_us();
	c->missed++;
	for (i = 7; i >= 0; i--) {
		p[i] = v & 0xff;
		v >>= 8;
	}
	conn_send(c, KGP_PING, 0, p, sizeof(p));
}

static void
conn_timer(int fd, short events, void *arg)
{
	struct kgp_conn	*c = arg;

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
		conn_ping(c);
		/* a quiet link gives back its TLS buffers */
		if (c->io != NULL)
			kgp_tls_trim(c->io, 0);
		timer_ms(c->ev_timer, c->params.ping_ms);
		return;
	case CONN_BROKEN:
	case CONN_DEAD:
		return;
	}
}
