/*
 * Bytes on their way (see relay_int.h).  Within proxyd, each side of a
 * stream holds at most its share of the buffer budget (relay_share),
 * and what one side read goes to the other as soon as the other takes
 * it (relay_write, move_bytes).  Past proxyd: a tunnel (CONNECT, or a
 * 101) that lasts moves to kgpd, which then carries its bytes alone; the
 * rest of a long answer is lent to kgpd or spliced by the kernel.
 *
 * A kept-alive TLS connection to the app on a stream bound to it moves
 * too, with its record keys (move_tls_start()).
 *
 * Below the other relay files: it calls none of them but to end a stream
 * (relay.c) and to say that a lent or spliced body is through
 * (exchange_done, relay_http.c).
 */
#include <sys/types.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "evread.h"
#include "kgp.h"
#include "log.h"
#include "proxyd.h"
#include "relay_int.h"
#include "splice.h"
#include "tls_rec.h"

static int	 response_lend(struct stream *);
static void	 response_spliced(void *, int, size_t);
static void	 response_sent(struct stream *, int, uint64_t, int);
static void	 move_timer(evutil_socket_t, short, void *);
static void	 move_start(struct stream *);
static void	 move_forget(struct stream *);
static int	 move_fd(struct stream *);
static void	 move_tls_drained(struct evbuffer *,
		    const struct evbuffer_cb_info *, void *);
static void	 move_tls_timer(evutil_socket_t, short, void *);
static int	 move_tls_end(struct stream *);

static struct streamlist	 moving = TAILQ_HEAD_INITIALIZER(moving);
static struct streamlist	 lending = TAILQ_HEAD_INITIALIZER(lending);

/*
 * Writes: a head held for the bytes that follow it.
 */

/*
 * Queue len bytes of src for one side, written at once when nothing
 * waits before them (bev_write_now: what waits is copied, so that a
 * stalled side holds its bytes and not the chains of its reads; but
 * moved when they are TLS's plaintext, bev_write_move); the
 * client side's count sees them either way.  A head held for that side
 * goes first, in the same write.
 */
void
relay_write(struct stream *s, struct bufferevent *to, struct evbuffer *src,
    size_t len)
{
	struct evbuffer	*held = NULL;
	size_t		 n;

	if (s->held != NULL && s->held_to == to) {
		held = s->held;
		s->held = NULL;
		evbuffer_remove_buffer(src, held, len);
		src = held;
		len = evbuffer_get_length(held);
	}
	if (to == s->u.bev && (s->u.state != U_OPEN || s->u.tls)) {
		/*
		 * Not connected yet: a write now would take the connect's
		 * error (a refusal) off the socket, and libevent, finding
		 * none left, would call it connected and fail the next
		 * write with EPIPE.  The bytes go once it is connected.
		 * Over TLS they are plaintext for the filter, never for
		 * the socket.
		 */
		evbuffer_remove_buffer(src, bufferevent_get_output(to), len);
		n = 0;
	} else if (to == s->cbev && s->u.tls)
		/*
		 * The app's plaintext, as TLS gave it: chains of a record
		 * or more each (up_tls_in() reads into 16 KiB), so what
		 * waits for kgpd moves, chains and all, instead of a copy
		 * of every byte of a download while kgpd has no credit.
		 */
		n = bev_write_move(to, src, len);
	else
		n = bev_write_now(to, src, len);
	if (held != NULL)
		evbuffer_free(held);
	if (to == s->cbev) {
		s->bytes_out += n;
		env->stats.bytes_out += n;
	}
}

/*
 * A head built aside (hb) waits for the bytes of its body that are here
 * already, so that a small exchange costs one system call a side, not
 * two: the pump that follows takes it along (relay_write), or
 * relay_release() sends it alone.
 */
void
relay_hold(struct stream *s, struct bufferevent *to, struct evbuffer *hb)
{
	relay_release(s);
	s->held = hb;
	s->held_to = to;
}

void
relay_release(struct stream *s)
{
	struct evbuffer	*hb = s->held;

	if (hb == NULL)
		return;
	s->held = NULL;
	relay_write(s, s->held_to, hb, evbuffer_get_length(hb));
	evbuffer_free(hb);
}

/* The side a head was held for is gone: so is the head. */
void
relay_drop(struct stream *s, struct bufferevent *bev)
{
	if (s->held != NULL && s->held_to == bev) {
		evbuffer_free(s->held);
		s->held = NULL;
	}
}

/*
 * Shares: what a side may hold, and reading it stops and starts at.
 */

/*
 * What one side of a stream may hold, read and not yet passed on plus
 * queued for the other side: RELAY_READ_HIGH, or with many streams open
 * its share of PROXYD_BUFFER_BUDGET, so that however many of them stall
 * (a browser that stops reading, kgpd out of credit) all hold about
 * that budget each way, however many they are, PROXYD_SHARE_MIN at
 * least.  A side stops reading at its share, and one read is at most a
 * share: it holds twice its share at most.
 */
size_t
relay_share(void)
{
	uint64_t	 n = env->stats.streams_open * 2;

	if (n <= PROXYD_BUFFER_BUDGET / RELAY_READ_HIGH)
		return (RELAY_READ_HIGH);
	if (n >= PROXYD_BUFFER_BUDGET / PROXYD_SHARE_MIN)
		return (PROXYD_SHARE_MIN);
	return (PROXYD_BUFFER_BUDGET / n);
}

/*
 * Move up to max bytes (and no more than fits) from one side to another.
 * What the socket takes at once leaves the output empty, and then no
 * write callback would come back for the rest: go on until the input is
 * moved or the output holds the side's share, whose write callback
 * comes back.
 */
size_t
move_bytes(struct stream *s, struct evbuffer *in, struct bufferevent *to,
    uint64_t max)
{
	size_t	 n, olen, total = 0, share = relay_share();

	while (total < max && (n = evbuffer_get_length(in)) > 0) {
		olen = evbuffer_get_length(bufferevent_get_output(to));
		if (olen >= share)
			break;
		if (n > share - olen)
			n = share - olen;
		if (n > max - total)
			n = max - total;
		relay_write(s, to, in, n);
		total += n;
	}
	return (total);
}

/*
 * A side whose bytes cannot move on (the other side's output is full, or
 * a pipelined request waits for its turn) stops reading once what it
 * read and what waits for the other side (to) reach its share
 * (relay_share), until the other side drains (relay_unstall).  There is
 * no libevent read watermark: it would take reading off and on again
 * (two epoll_ctl) around every full read of a bulk transfer, and libevent
 * 2.1 runs the read callback again from the loop for as long as input
 * sits at the mark, which made the loop spin.  A read takes RELAY_IO_MAX
 * at most, or the share if less: a side holds twice its share at most.
 */
void
relay_stall(struct bufferevent *bev, struct bufferevent *to, int *paused)
{
	size_t	 share, held;

	if (bev == NULL || *paused)
		return;
	share = relay_share();
	bufferevent_set_max_single_read(bev, share < RELAY_IO_MAX ? share :
	    RELAY_IO_MAX);
	held = evbuffer_get_length(bufferevent_get_input(bev));
	/* a crowd: what waits for the other side counts as well */
	if (to != NULL && share < RELAY_READ_HIGH)
		held += evbuffer_get_length(bufferevent_get_output(to));
	if (held < share)
		return;
	*paused = 1;
	bufferevent_disable(bev, EV_READ);
}

void
relay_unstall(struct stream *s)
{
	if (s->mode == M_DEAD)
		return;
	if (s->c_rpaused && s->cbev != NULL) {
		s->c_rpaused = 0;
		bufferevent_enable(s->cbev, EV_READ);
	}
	if (s->u.rpaused && s->u.bev != NULL && s->mode != M_MOVING) {
		s->u.rpaused = 0;
		bufferevent_enable(s->u.bev, EV_READ);
	}
}

/*
 * libevent moves at most 16 KiB per system call by default: a bulk
 * transfer then costs a read, a write and an epoll_ctl per 16 KiB.
 */
void
relay_io_size(struct bufferevent *bev)
{
	bufferevent_set_max_single_read(bev, RELAY_IO_MAX);
	bufferevent_set_max_single_write(bev, RELAY_IO_MAX);
}

/*
 * Lends and splices: the rest of a long answer past proxyd.
 */

/*
 * The rest of a long answer of known length does not cross proxyd once
 * nothing of it waits here: proxyd lends kgpd a copy of the app's socket
 * for it (IMSG_STREAM_LEND), and kgpd reads the body from the app into
 * DATA frames itself, as it does for a moved tunnel; LENT says how that
 * went (relay_lent).  Without kgpd to lend to (proxyd's tests), the body
 * goes through the kernel instead (splice.c): from the app's socket to
 * kgpd's with no copy into proxyd.  Only once the whole request is out,
 * so that nothing else is written to the app meanwhile; proxyd neither
 * reads the app nor writes the stream's socket meanwhile.  (Request
 * bodies stay with the copy: from kgpd's socket pair the kernel copies
 * anyway, and splicing them was measured slower.)
 */
void
response_splice(struct stream *s)
{
	struct upstream	*u = &s->u;

	if (u->sj != NULL || u->lent || u->bev == NULL || u->tls ||
	    s->held != NULL ||
	    s->rs_body != HTTP_BODY_LENGTH || s->rq_state != RQ_DONE ||
	    s->rs_left < RELAY_SPLICE_MIN)
		return;
	if (evbuffer_get_length(bufferevent_get_input(u->bev)) > 0 ||
	    evbuffer_get_length(bufferevent_get_output(s->cbev)) > 0) {
		/* read no more, and come back once all here is out */
		if (!u->sj_wait) {
			u->sj_wait = 1;
			u->rpaused = 0;
			bufferevent_disable(u->bev, EV_READ);
			bufferevent_setwatermark(s->cbev, EV_WRITE, 0, 0);
		}
		return;
	}
	if (u->sj_wait) {
		u->sj_wait = 0;
		bufferevent_setwatermark(s->cbev, EV_WRITE, RELAY_WRITE_LOW,
		    0);
	}
	if (response_lend(s) == 0 ||
	    (u->sj = splice_start(env->base, bufferevent_getfd(u->bev),
	    bufferevent_getfd(s->cbev), s->rs_left, response_spliced, s)) !=
	    NULL) {
		bufferevent_disable(u->bev, EV_READ);
		u->rpaused = 0;
	} else
		bufferevent_enable(u->bev, EV_READ);	/* copy, then */
}

/* Lend kgpd the app's socket for the rest of the answer: 0, or -1. */
static int
response_lend(struct stream *s)
{
	struct imsgev		*k = &env->iev_kgpd[s->kgpd];
	struct stream_lend	 ld;
	int			 fd;

	if (!env->hand_off || s->local || k->ibuf.fd == -1)
		return (-1);
	if ((fd = fcntl(bufferevent_getfd(s->u.bev), F_DUPFD_CLOEXEC, 0)) ==
	    -1) {
		log_warn("stream %u: cannot lend the app's socket", s->id);
		return (-1);
	}
	memset(&ld, 0, sizeof(ld));
	ld.session = s->session;
	ld.offset = s->bytes_out;
	ld.len = s->rs_left;
	/* imsg owns fd from here, whatever happens */
	if (imsg_compose_event(k, IMSG_STREAM_LEND, s->id, 0, fd, &ld,
	    sizeof(ld)) == -1) {
		log_warnx("stream %u: cannot lend the app's socket", s->id);
		return (-1);
	}
	s->u.lent = 1;
	TAILQ_INSERT_TAIL(&lending, s, lentry);
	log_debug("stream %u: app's socket lent to kgpd for %llu bytes",
	    s->id, (unsigned long long)s->rs_left);
	return (0);
}

/* kgpd has read what it could of the app's socket (KGP_LENT_*). */
void
relay_lent(uint32_t id, uint64_t session, int how, uint64_t got, int err)
{
	struct stream	*s;

	TAILQ_FOREACH(s, &lending, lentry)
		if (s->id == id && s->session == session)
			break;
	if (s == NULL) {
		log_debug("stream %u: lend over, but it is gone", id);
		return;
	}
	if (got > s->rs_left) {
		log_warnx("stream %u: kgpd read %llu bytes of a lend of %llu",
		    id, (unsigned long long)got,
		    (unsigned long long)s->rs_left);
		stream_close(s);
		return;
	}
	TAILQ_REMOVE(&lending, s, lentry);
	s->u.lent = 0;
	switch (how) {
	case KGP_LENT_DONE:
		if (got == s->rs_left) {
			response_sent(s, SPLICE_DONE, got, 0);
			break;
		}
		/* FALLTHROUGH */
	case KGP_LENT_GONE:
		response_sent(s, SPLICE_ERR_TO, got, err);
		break;
	case KGP_LENT_EOF:
		response_sent(s, SPLICE_EOF, got, 0);
		break;
	default:
		response_sent(s, SPLICE_ERR_FROM, got, err);
		break;
	}
}

static void
response_spliced(void *arg, int event, size_t moved)
{
	struct stream	*s = arg;
	int		 err;

	if (event == SPLICE_MORE) {
		response_sent(s, event, moved, 0);
		return;
	}
	err = splice_error(s->u.sj);
	splice_stop(s->u.sj);
	s->u.sj = NULL;
	response_sent(s, event, moved, err);
}

/*
 * Bytes of the body went out without proxyd (a lend or a splice), and
 * maybe how that ended (SPLICE_*).
 */
static void
response_sent(struct stream *s, int event, uint64_t moved, int err)
{
	struct upstream	*u = &s->u;

	s->rs_left -= moved;
	s->bytes_out += moved;
	env->stats.bytes_out += moved;
	switch (event) {
	case SPLICE_MORE:
		break;
	case SPLICE_DONE:
		s->rs_state = RS_DONE;
		bufferevent_enable(u->bev, EV_READ);
		exchange_done(s);
		break;
	case SPLICE_EOF:
		u->eof = 1;
		log_debug("stream %u: %s port %s cut the answer short",
		    s->id, u->host, u->port);
		stream_close_after_flush(s);
		break;
	case SPLICE_ERR_FROM:
		log_debug("stream %u: %s port %s: %s", s->id, u->host,
		    u->port, strerror(err));
		stream_close_after_flush(s);
		break;
	default:
		log_debug("stream %u: client error: %s", s->id,
		    err ? strerror(err) : "gone");
		stream_close(s);
		break;
	}
}

/*
 * The app's socket goes: a splice of it stops, a lend is forgotten (kgpd
 * finishes reading its copy; its LENT finds nobody).
 */
void
lend_stop(struct stream *s)
{
	if (s->u.sj != NULL) {
		splice_stop(s->u.sj);
		s->u.sj = NULL;
	}
	if (s->u.lent) {
		TAILQ_REMOVE(&lending, s, lentry);
		s->u.lent = 0;
	}
}

/*
 * Tunnels: CONNECT, and upgraded connections after a 101.
 */
void
tunnel_move(struct stream *s, struct bufferevent *from,
    struct bufferevent *to)
{
	struct evbuffer	*in = bufferevent_get_input(from);

	move_bytes(s, in, to, evbuffer_get_length(in));
	tunnel_check(s);
	if (s->mode == M_TUNNEL && s->move_ev != NULL &&
	    s->bytes_in + s->bytes_out >= RELAY_MOVE_BYTES)
		move_start(s);
}

/*
 * Half-close: once one side has sent its EOF and everything it sent is
 * written to the other, shut the other's write side.  Both shut: done.
 */
void
tunnel_check(struct stream *s)
{
	struct upstream	*u = &s->u;

	if (s->mode != M_TUNNEL || u->bev == NULL)
		return;
	if (s->c_eof && !u->shut &&
	    evbuffer_get_length(bufferevent_get_input(s->cbev)) == 0 &&
	    evbuffer_get_length(bufferevent_get_output(u->bev)) == 0) {
		/* over TLS, the browser's end is the tunnel's */
		if (u->tls) {
			stream_close_after_flush(s);
			return;
		}
		shutdown(bufferevent_getfd(u->bev), SHUT_WR);
		u->shut = 1;
	}
	if (u->eof && !s->c_shut &&
	    evbuffer_get_length(bufferevent_get_input(u->bev)) == 0 &&
	    evbuffer_get_length(bufferevent_get_output(s->cbev)) == 0) {
		shutdown(bufferevent_getfd(s->cbev), SHUT_WR);
		s->c_shut = 1;
	}
	if (u->shut && s->c_shut)
		stream_close(s);
}

/*
 * A tunnel is bytes both ways until its end, which kgpd can carry
 * without proxyd: it gets the app's socket and proxyd steps out, so
 * that the bytes cross one process less and an open tunnel holds
 * nothing here (see struct stream_move in imsg_types.h).  Only a tunnel
 * that neither side has half-closed moves; the others stay.  A tunnel
 * moves once it has lived RELAY_MOVE_MS or carried RELAY_MOVE_BYTES:
 * one that is over sooner (a CONNECT for one short request) is not
 * worth the messages.  With more than RELAY_MOVE_CROWD streams here, a
 * tunnel moves at once, so that a burst of them does not run proxyd out
 * of descriptors.
 *   1. Stop reading the app; what was read goes to kgpd first.
 *   2. Once all of that is written: IMSG_STREAM_MOVE with the socket and
 *	the count of bytes written.  kgpd reads that many, takes the app
 *	socket, closes its end of the stream and says so (SWITCHED).
 *   3. Once switched, and at the EOF of the stream socket, write to the
 *	app what kgpd had sent, then IMSG_STREAM_MOVED: kgpd writes to the
 *	app itself from then on.
 */
void
move_soon(struct stream *s)
{
	struct timeval	 tv = { 0, RELAY_MOVE_MS * 1000 };

	/* the bytes of a TLS connection are not its socket's */
	if (!env->hand_off || s->local || s->u.tls)
		return;
	/* a crowd of young tunnels would cost two descriptors each here */
	if (env->stats.streams_open > RELAY_MOVE_CROWD) {
		move_start(s);
		return;
	}
	if ((s->move_ev = evtimer_new(env->base, move_timer, s)) == NULL ||
	    evtimer_add(s->move_ev, &tv) == -1)
		move_start(s);
}

static void
move_timer(evutil_socket_t fd, short event, void *arg)
{
	struct stream	*s = arg;

	if (s->mode == M_TUNNEL)
		move_start(s);
}

static void
move_start(struct stream *s)
{
	move_forget(s);
	if (!env->hand_off || s->local ||
	    env->iev_kgpd[s->kgpd].ibuf.fd == -1 || s->u.bev == NULL ||
	    s->u.tls || s->c_eof || s->c_shut || s->u.eof || s->u.shut)
		return;
	s->mode = M_MOVING;
	bufferevent_disable(s->u.bev, EV_READ);
	s->u.rpaused = 0;
	/* the write callbacks say when all is written */
	bufferevent_setwatermark(s->cbev, EV_WRITE, 0, 0);
	bufferevent_setwatermark(s->u.bev, EV_WRITE, 0, 0);
	move_send(s);
}

/* Step 2, once every byte read from the app is written to kgpd. */
void
move_send(struct stream *s)
{
	struct evbuffer		*in = bufferevent_get_input(s->u.bev);
	struct stream_move	 m;
	int			 fd;

	if (evbuffer_get_length(in) > 0)
		move_bytes(s, in, s->cbev, evbuffer_get_length(in));
	if (evbuffer_get_length(in) > 0 ||
	    evbuffer_get_length(bufferevent_get_output(s->cbev)) > 0)
		return;		/* client_write comes back */
	if ((fd = fcntl(move_fd(s), F_DUPFD_CLOEXEC, 0)) == -1) {
		log_warn("stream %u: cannot move", s->id);
		move_cancel(s);
		return;
	}
	memset(&m, 0, sizeof(m));
	m.session = s->session;
	m.offset = s->bytes_out;
	m.tls = s->move_tls;
	strlcpy(m.target, s->target, sizeof(m.target));
	/* imsg owns fd from here: it is closed once sent */
	if (imsg_compose_event(&env->iev_kgpd[s->kgpd], IMSG_STREAM_MOVE,
	    s->id, 0, fd, &m, sizeof(m)) == -1) {
		log_warnx("stream %u: cannot move", s->id);
		move_cancel(s);
		return;
	}
	s->move_sent = 1;
	TAILQ_INSERT_TAIL(&moving, s, mentry);
	log_debug("stream %u: %s handed to kgpd after %llu bytes in, "
	    "%llu out", s->id, s->move_tls ? "TLS connection" : "tunnel",
	    (unsigned long long)s->bytes_in,
	    (unsigned long long)s->bytes_out);
}

/* The app's socket: below the TLS filter, for a TLS move. */
static int
move_fd(struct stream *s)
{
	struct bufferevent	*under;

	if (s->move_tls &&
	    (under = bufferevent_get_underlying(s->u.bev)) != NULL)
		return (bufferevent_getfd(under));
	return (bufferevent_getfd(s->u.bev));
}

/*
 * kgpd reads the app now and has closed its end of the stream socket
 * (ok), or the stream is gone (not ok).  Until this, proxyd keeps the
 * stream socket open whatever it reads from it: kgpd must not see an
 * EOF there that the MOVE on its way would explain.
 */
void
relay_switched(uint32_t id, uint64_t session, int ok)
{
	struct stream	*s;

	TAILQ_FOREACH(s, &moving, mentry)
		if (s->id == id && s->session == session)
			break;
	if (s == NULL) {
		log_debug("stream %u: switched, but it is gone", id);
		return;
	}
	if (!ok) {
		/* kgpd has no stream to tell how it ends */
		log_debug("stream %u: kgpd did not take the tunnel", id);
		move_forget(s);
		stream_close(s);
		return;
	}
	s->switched = 1;
	if (s->c_eof)
		move_finish(s);
}

/* Step 3: kgpd closed its end; the rest of its bytes go to the app. */
void
move_finish(struct stream *s)
{
	struct evbuffer	*in = bufferevent_get_input(s->cbev);

	if (evbuffer_get_length(in) > 0)
		move_bytes(s, in, s->u.bev, evbuffer_get_length(in));
	if (evbuffer_get_length(in) > 0 ||
	    evbuffer_get_length(bufferevent_get_output(s->u.bev)) > 0)
		return;		/* app_write comes back */
	/* TLS: its records out of the socket's output too (drained) */
	if (s->move_tls && evbuffer_get_length(bufferevent_get_output(
	    bufferevent_get_underlying(s->u.bev))) > 0)
		return;
	move_end(s, 1);
	stream_close(s);
}

/* Nothing of a move is pending any more: no timer, not on the list. */
static void
move_forget(struct stream *s)
{
	if (s->move_ev != NULL) {
		event_free(s->move_ev);
		s->move_ev = NULL;
	}
	if (s->move_sent) {
		s->move_sent = 0;
		TAILQ_REMOVE(&moving, s, mentry);
	}
}

/* Say how a move that is out ended, once; forget any other. */
void
move_end(struct stream *s, int ok)
{
	struct stream_moved	 m;
	int			 sent = s->move_sent;

	move_forget(s);
	if (!sent)
		return;
	if (ok && s->move_tls && move_tls_end(s) == 0)
		return;
	memset(&m, 0, sizeof(m));
	m.session = s->session;
	m.ok = ok;
	if (imsg_compose_event(&env->iev_kgpd[s->kgpd], IMSG_STREAM_MOVED,
	    s->id, 0, -1, &m, sizeof(m)) == -1)
		log_warnx("stream %u: cannot end the move", s->id);
}

/* A side half-closed before the move: proxyd keeps the tunnel. */
void
move_cancel(struct stream *s)
{
	if (s->move_tls) {
		/* between requests: the stream ends, the browser's too */
		log_debug("stream %u: TLS connection not handed over: a side "
		    "closed", s->id);
		stream_close(s);
		return;
	}
	s->mode = M_TUNNEL;
	s->u.rpaused = 0;
	bufferevent_setwatermark(s->cbev, EV_WRITE, RELAY_WRITE_LOW, 0);
	bufferevent_setwatermark(s->u.bev, EV_WRITE, RELAY_WRITE_LOW, 0);
	if (!s->u.eof)
		bufferevent_enable(s->u.bev, EV_READ);
	tunnel_move(s, s->cbev, s->u.bev);
	if (s->mode == M_TUNNEL)
		tunnel_move(s, s->u.bev, s->cbev);
}

/*
 * A kept-alive TLS connection to the app, on a stream bound to it (its
 * requests come in origin form, as the app is to read them: the entry
 * proxy made them so), moves to kgpd between two exchanges, as a tunnel
 * does (move_start()), when nothing of a request is left for proxyd to
 * do: no header rules, no credentials to add, no request log (-vv), TLS
 * straight to the app (an https:// upstream proxy's TLS stays here),
 * the app's keys exportable (tls_keys.c), and the ciphertext it sent
 * that OpenSSL has not read fits in a message.  kgpd then seals and
 * opens the records itself (common/tls_rec.c): the requests of the
 * connection cross one process less each way.  Once kgpd has switched,
 * what the stream still sent is written to the app through OpenSSL,
 * the records out of the socket's output too; then the keys, with the
 * record numbers reached, go in IMSG_STREAM_MOVED_TLS.  A side that
 * closes before the move is out ends the stream.
 */
void
move_tls_start(struct stream *s, int first)
{
	struct upstream		*u = &s->u;
	struct evbuffer		*left, *in;
	const char		*why;

	if (s->bound == NULL || !env->hand_off || s->local ||
	    env->iev_kgpd[s->kgpd].ibuf.fd == -1 || s->mode != M_HTTP ||
	    s->rq_state != RQ_HEAD || s->rs_state != RS_IDLE ||
	    u->bev == NULL || !u->tls || u->atls == NULL || u->via != NULL ||
	    (first ? !u->warm || !u->move_ready || s->pac_wait != NULL :
	    !u->reusable) || u->eof || u->shut || u->sj != NULL ||
	    u->lent || s->c_eof || s->c_shut || s->held != NULL ||
	    (!first && evbuffer_get_length(bufferevent_get_input(s->cbev)) >
	    0) ||
	    env->po.nreq > 0 || env->po.nresp > 0 || log_getverbose() > 1 ||
	    proxyopt_auth_find(&env->po, u->host, atoi(u->port)) != NULL)
		return;
	/* the keys themselves once kgpd has switched (move_tls_end()) */
	if (up_tls_export(s, NULL, &left, &why) == -1) {
		log_debug("stream %u: TLS connection kept: %s", s->id, why);
		return;
	}
	if (evbuffer_get_length(left) > SC_TLS_LEFT_MAX)
		return;
	up_timer_stop(s);
	s->mode = M_MOVING;
	s->move_tls = 1;
	/* reading the filter off stops the socket's reading too */
	bufferevent_disable(u->bev, EV_READ);
	u->rpaused = 0;
	bufferevent_setwatermark(s->cbev, EV_WRITE, 0, 0);
	bufferevent_setwatermark(u->bev, EV_WRITE, 0, 0);
	if (evbuffer_add_cb(bufferevent_get_output(
	    bufferevent_get_underlying(u->bev)), move_tls_drained, s) == NULL) {
		stream_close(s);
		return;
	}
	/* the first request's bytes so far: to the app as they are */
	in = bufferevent_get_input(s->cbev);
	if (first && evbuffer_get_length(in) > 0)
		move_bytes(s, in, u->bev, evbuffer_get_length(in));
	move_send(s);
}

/*
 * A warm-up's TLS connection to the app is ready before any request
 * came (relay_tls.c: its handshake done, in TLS 1.3 the app's session
 * ticket read too, so that the next connection resumes): the stream's
 * first request, when it comes, moves it to kgpd at once (client_read()
 * calls move_tls_start() with first set), its bytes written to the app
 * as they are, and kgpd reads the answer.  Not before that request: a
 * warm-up that nothing takes is closed after PROXYD_WARM_MS, by proxyd.
 * A request that comes before this finds the stream no longer warm:
 * proxyd serves it, and the move is tried after it (exchange_done()).
 */
void
move_tls_ready(struct stream *s)
{
	if (s->bound != NULL && s->u.warm && s->mode == M_HTTP)
		s->u.move_ready = 1;
}

/*
 * The app's socket wrote what waited: once kgpd switched and the stream
 * is done, the move may end, from the loop (not inside libevent's write).
 */
static void
move_tls_drained(struct evbuffer *buf, const struct evbuffer_cb_info *info,
    void *arg)
{
	struct stream	*s = arg;
	struct timeval	 now = { 0, 0 };

	if (info->n_deleted == 0 || evbuffer_get_length(buf) > 0 ||
	    s->mode != M_MOVING || !s->move_sent || !s->switched || !s->c_eof)
		return;
	if (s->move_ev == NULL &&
	    (s->move_ev = evtimer_new(env->base, move_tls_timer, s)) == NULL)
		return;
	evtimer_add(s->move_ev, &now);
}

static void
move_tls_timer(evutil_socket_t fd, short event, void *arg)
{
	struct stream	*s = arg;

	if (s->mode == M_MOVING && s->move_sent && s->switched && s->c_eof)
		move_finish(s);
}

/*
 * IMSG_STREAM_MOVED_TLS: the keys now (the record numbers after what
 * proxyd wrote last), and the ciphertext OpenSSL did not read.  0, or
 * -1: the caller sends MOVED, not ok (kgpd resets the stream).
 */
static int
move_tls_end(struct stream *s)
{
	struct stream_moved_tls	 m;
	struct evbuffer		*left, *msg;
	const char		*why;
	size_t			 n;
	int			 r;

	memset(&m, 0, sizeof(m));
	m.session = s->session;
	if (up_tls_export(s, &m.keys, &left, &why) == -1) {
		log_warnx("stream %u: TLS connection not handed over: %s",
		    s->id, why);
		return (-1);
	}
	n = evbuffer_get_length(left);
	if (n > SC_TLS_LEFT_MAX || (msg = evbuffer_new()) == NULL) {
		explicit_bzero(&m, sizeof(m));
		log_warnx("stream %u: TLS connection not handed over: %zu "
		    "bytes of the app's", s->id, n);
		return (-1);
	}
	evbuffer_add(msg, &m, sizeof(m));
	evbuffer_add_buffer(msg, left);
	explicit_bzero(&m, sizeof(m));
	n = evbuffer_get_length(msg);
	r = imsg_compose_event(&env->iev_kgpd[s->kgpd], IMSG_STREAM_MOVED_TLS,
	    s->id, 0, -1, evbuffer_pullup(msg, n), n);
	explicit_bzero(evbuffer_pullup(msg, n), n);
	evbuffer_free(msg);
	if (r == -1) {
		log_warnx("stream %u: cannot end the move", s->id);
		return (-1);
	}
	env->stats.tls_handovers++;
	log_debug("stream %u: TLS connection to %s port %s handed to kgpd "
	    "after %llu requests", s->id, s->u.host, s->u.port,
	    (unsigned long long)s->nreq);
	return (0);
}
