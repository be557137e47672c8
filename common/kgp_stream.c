/*
 * The streams of a KGP connection (kgp_conn.c), each bound to a local
 * socket, or to an end of a bufferevent pair whose other end an owner in
 * this process holds (kgp_conn_open_local(): the entry proxy's resigned
 * connections, with no socket pair and no system call between them and
 * the connection): OPEN/ACCEPT/REFUSE, the bytes each way, half-close
 * (FIN), RST, and moves.  man/kgp.7 is the specification.
 *
 * Flow control: each side grants the other a receive window per stream.
 * Bytes are taken from a local socket only while the stream has credit,
 * and credit is returned (WINDOW) only as bytes leave for the local
 * socket, so a slow reader stops its own stream and no other; what one
 * stream can hold in memory here is bounded by its window.  Bytes that
 * have no credit yet stay in the socket.
 *
 * Windows: a stream starts with the window announced in the handshake
 * (params.window, small), gets window_open at once and grows, doubling,
 * up to window_max each time credit goes back while little of it waits
 * for the local socket (a reader that keeps up: the window, not the
 * reader, may be what holds the stream back), but only while the
 * windows above the announced one fit in the connection's budget and
 * the process's (proc_budget).  A stream whose reader lags keeps its
 * window, or under pressure gives some back (the grant is smaller than
 * what left); a stalled one holds what it has.  So however many streams stall, they
 * hold the announced window each plus the budget, and a new stream's
 * first bytes always have credit.  What waits for a slow socket takes
 * about its own size, not the chains of the connection's reads: a DATA
 * payload of PEND_BLOCK_MIN or more is copied out of them into a block of
 * its own size, which waits as it is (bev_write_move); less is copied
 * into the stream's own buffer (bev_write_now).
 *
 * Moves: the owner may rebind a stream to another local socket
 * (kgp_conn_stream_move), as kgpd does when proxyd hands it the app's
 * socket of a tunnel.  The stream reads its old socket up to an agreed
 * byte count, then reads the new one and closes the old (the switched
 * callback says so); bytes for the local side wait until the owner says
 * that the old socket's reader has passed on everything it got
 * (kgp_conn_stream_moved).  Nothing is lost, duplicated or reordered,
 * and the peer sees one stream throughout.
 *
 * A move may be of a TLS connection whose handshake the old socket's
 * reader made (kgp_conn_stream_move_tls): the stream then carries the
 * connection's application data, its records sealed and opened here
 * (tls_rec.c) with the keys the owner gives once the old reader is done
 * (kgp_conn_stream_moved_tls), with what that reader had read of the
 * connection and not opened.  The new socket is not read before.  Its
 * close_notify or EOF is the local EOF, a record that does not open
 * resets the stream (logged); the peer's FIN is a close_notify before
 * the socket's shutdown.  Credit goes back as sealed bytes leave, as
 * many as were sealed in all.
 *
 * Lends: the owner may have a stream read a number of bytes from
 * another socket, once its own has brought an agreed count, and then go
 * back to its own (kgp_conn_stream_lend), as kgpd does when proxyd
 * lends it the app's socket for a long answer on a keep-alive
 * connection.  Only reading changes; the lent callback says how it
 * ended, with the lent descriptor closed.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>

#include "kgp.h"
#include "evread.h"
#include "log.h"
#include "kgp_conn_int.h"
#include "tls_rec.h"

static void	stream_pump(struct kgp_stream *);
static void	stream_read(int, short, void *);
static void	stream_writecb(struct bufferevent *, void *);
static void	stream_eventcb(struct bufferevent *, short, void *);
static void	stream_consumed(struct kgp_stream *, size_t);
static int	stream_move_start(struct kgp_conn *, uint32_t, int, uint64_t,
		    int);
static int	stream_move_check(struct kgp_stream *, int);
static void	stream_move_end(struct kgp_stream *);
static void	stream_lend_read(struct kgp_stream *);
static int	stream_lend_check(struct kgp_stream *);
static void	stream_lend_end(struct kgp_stream *, int, int);
static uint64_t	stream_lend_cap(struct kgp_stream *);
static uint64_t	stream_brought(struct kgp_stream *);
static void	stream_read_fd(struct kgp_stream *, int);
static void	stream_local_eof(struct kgp_stream *);
static void	stream_local_read(struct bufferevent *, void *);
static void	conn_pend_add(struct kgp_conn *, size_t);
static void	stream_drained(struct evbuffer *,
		    const struct evbuffer_cb_info *, void *);
static void	stream_sockopts(int);
static uint32_t	stream_window_room(struct kgp_stream *, uint32_t);
static void	stream_window_set(struct kgp_stream *, uint32_t);
static void	stream_window_open(struct kgp_stream *);
static void	stream_grant(struct kgp_stream *, uint32_t);
static int	stream_open_local(struct kgp_conn *, uint32_t, const char *);
static void	stream_refused(struct kgp_stream *, uint16_t, const char *);
static void	stream_deliver_local(struct kgp_stream *, struct evbuffer *);
static void	stream_rec_read(struct kgp_stream *);
static int	stream_rec_open(struct kgp_stream *);
static void	stream_rec_ready(struct kgp_stream *);

/* windows granted above the announced ones, by every connection here */
static size_t	proc_windows;
static size_t	proc_budget = KGP_PROC_BUDGET;

int
stream_cmp(struct kgp_stream *a, struct kgp_stream *b)
{
	return (a->id < b->id ? -1 : a->id > b->id);
}

RB_GENERATE(stream_tree, kgp_stream, entry, stream_cmp)

/*
 * A stream bound to the local socket fd, or, with local, to an end of a
 * bufferevent pair in this process, whose other end *local gets.
 */
static struct kgp_stream *
stream_new(struct kgp_conn *c, uint32_t id, int fd, struct bufferevent **local)
{
	struct kgp_stream	*s;
	struct bufferevent	*pair[2];

	if ((s = calloc(1, sizeof(*s))) == NULL)
		return (NULL);
	if (local != NULL) {
		if (bufferevent_pair_new(c->base, BEV_OPT_DEFER_CALLBACKS,
		    pair) == -1) {
			free(s);
			return (NULL);
		}
		s->bev = pair[0];
		*local = pair[1];
		s->flags |= S_LOCAL;
	} else if ((s->bev = bufferevent_socket_new(c->base, fd,
	    BEV_OPT_CLOSE_ON_FREE)) == NULL) {
		free(s);
		return (NULL);
	} else if ((s->ev_read = event_new(c->base, fd, EV_READ | EV_PERSIST,
	    stream_read, s)) == NULL) {
		bufferevent_setfd(s->bev, -1);
		bufferevent_free(s->bev);
		free(s);
		return (NULL);
	} else
		stream_sockopts(fd);
	s->conn = c;
	s->id = id;
	s->started_us = conn_now_us();
	s->tune_us = s->started_us;
	s->send_credit = c->peer_window;
	s->recv_avail = c->params.window;
	s->recv_window = c->params.window;
	bufferevent_setcb(s->bev, NULL, stream_writecb, stream_eventcb, s);
	bufferevent_set_max_single_write(s->bev, STREAM_IO_MAX);
	evbuffer_add_cb(bufferevent_get_output(s->bev), stream_drained, s);
	if (s->flags & S_LOCAL) {
		/*
		 * In-process: what the owner writes lands in the input
		 * (up to STREAM_READ_HIGH, the rest waits in its output)
		 * and goes on as credit allows (stream_pump), as the bytes
		 * a stream is opened with do; the output is the owner's
		 * input.
		 */
		bufferevent_setcb(s->bev, stream_local_read, stream_writecb,
		    stream_eventcb, s);
		bufferevent_setwatermark(s->bev, EV_READ, 0, STREAM_READ_HIGH);
		bufferevent_enable(s->bev, EV_READ | EV_WRITE);
	} else {
		/*
		 * The bufferevent only writes.  The local side's bytes are
		 * read straight into DATA frames in rtx (stream_read), only
		 * while they can go on: what waits is in the socket, not
		 * here.
		 */
		bufferevent_enable(s->bev, EV_WRITE);
		event_add(s->ev_read, NULL);
	}
	RB_INSERT(stream_tree, &c->streams, s);
	c->stats.streams_open++;
	c->stats.streams_total++;
	return (s);
}

void
stream_free(struct kgp_stream *s)
{
	struct kgp_conn	*c = s->conn;

	RB_REMOVE(stream_tree, &c->streams, s);
	if (s->flags & S_BLOCKED)
		TAILQ_REMOVE(&c->blocked, s, blocked);
	if (c->pend_s == s) {
		evbuffer_drain(c->pend, evbuffer_get_length(c->pend));
		c->pend_loose = 0;
		c->pend_s = NULL;
	}
	c->stats.streams_open--;
	stream_window_set(s, c->params.window);
	if (s->lend != NULL)
		stream_lend_end(s, KGP_LENT_GONE, 0);
	if (s->ev_read != NULL)
		event_free(s->ev_read);
	/*
	 * in-process: the owner's end hears of it as of a socket reset
	 * (a stream done in both directions has said EOF already)
	 */
	if ((s->flags & (S_LOCAL | S_SHUT_WR)) == S_LOCAL &&
	    bufferevent_pair_get_partner(s->bev) != NULL)
		bufferevent_trigger_event(bufferevent_pair_get_partner(s->bev),
		    BEV_EVENT_EOF | BEV_EVENT_ERROR | BEV_EVENT_READING,
		    BEV_TRIG_DEFER_CALLBACKS);
	bufferevent_free(s->bev);
	if ((s->flags & (S_MOVING | S_MOVE_READ)) == S_MOVING &&
	    c->cb.switched != NULL)
		c->cb.switched(c, s->id, 0, c->arg);
	if (s->move != NULL) {
		if (s->move->fd != -1)
			close(s->move->fd);
		free(s->move);
	}
	tls_rec_free(s->rec);
	if (s->rec_in != NULL)
		evbuffer_free(s->rec_in);
	free(s->label);
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
		if (s->flags & S_LOCAL)
			bufferevent_disable(s->bev, EV_READ);
		else
			event_del(s->ev_read);
	}
}

static void
stream_read_on(struct kgp_stream *s)
{
	s->flags &= ~S_READ_OFF;
	if (s->flags & S_REC_WAIT)
		return;		/* stream_rec_ready() turns it on */
	if (s->flags & S_LOCAL)
		bufferevent_enable(s->bev, EV_READ);
	else
		event_add(s->ev_read, NULL);
}

/*
 * Is the connection's output too full to take more of s, or are others
 * waiting for their turn before it?  Then s waits on the blocked list
 * until conn_unblock() lets it go on: streams take turns, and a small
 * one waits behind at most CONN_OUT_HIGH of a bulk one's.  A stream
 * that has sent less than STREAM_SMALL in all (a request, an answer's
 * head, a small answer) waits at the head of the list, before the bulk
 * ones.
 */
static int
stream_held(struct kgp_stream *s)
{
	struct kgp_conn	*c = s->conn;

	if (conn_unsent(c) < CONN_OUT_HIGH &&
	    (TAILQ_EMPTY(&c->blocked) || c->turn == s))
		return (0);
	if (!(s->flags & S_BLOCKED)) {
		s->flags |= S_BLOCKED;
		if (s->sent < STREAM_SMALL)
			TAILQ_INSERT_HEAD(&c->blocked, s, blocked);
		else
			TAILQ_INSERT_TAIL(&c->blocked, s, blocked);
	}
	return (1);
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
		if (stream_held(s)) {
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
		conn_moved(c, n);
		added = 1;
	}
	conn_seq_check(c);
	/* read no more from the local side than can be sent on */
	if (paused)
		stream_read_off(s);
	else if ((s->flags & S_READ_OFF) && !(s->flags & S_LOCAL_EOF))
		stream_read_on(s);
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
void
conn_unblock(struct kgp_conn *c)
{
	struct kgp_stream	*s;

	while ((s = TAILQ_FIRST(&c->blocked)) != NULL &&
	    conn_unsent(c) < CONN_OUT_HIGH) {
		TAILQ_REMOVE(&c->blocked, s, blocked);
		s->flags &= ~S_BLOCKED;
		c->turn = s;
		stream_pump(s);
		c->turn = NULL;
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
	size_t			 total = 0, want, need, left, fl, used, room;
	uint64_t		 cap;
	ssize_t			 n;
	int			 i, nfr, rc = 0, added = 0;

	/* a lend bounds what this socket may bring, this turn included */
	cap = stream_lend_cap(s);
	while (total < STREAM_READ_HIGH) {
		if (total >= cap)
			break;		/* the lend switches sockets first */
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
		if (stream_held(s)) {
			stream_read_off(s);
			break;
		}
		want = STREAM_READ_HIGH - total;
		/* no more than the room left, a frame past it at most */
		room = CONN_OUT_HIGH - conn_unsent(c) + KGP_MAXPAYLOAD;
		if (want > room)
			want = room;
		if (want > s->send_credit)
			want = s->send_credit;
		if (want > cap - total)
			want = cap - total;
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
		conn_moved(c, n);
		total += n;
		added = 1;
		if ((size_t)n < want)
			break;		/* all the socket had */
	}
	conn_seq_check(c);
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
	if (s->lend != NULL) {
		stream_lend_read(s);
		return;
	}
	if (s->flags & S_REC_WAIT) {
		event_del(s->ev_read);
		return;
	}
	if (s->rec != NULL) {
		stream_rec_read(s);
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
		stream_local_eof(s);
		return;
	}
	if (moving)
		stream_move_check(s, 0);
}

/* In-process: the owner wrote, and it is in the input. */
static void
stream_local_read(struct bufferevent *bev, void *arg)
{
	stream_pump(arg);
}

/* The stream's own socket ended: FIN once all before it is out. */
static void
stream_local_eof(struct kgp_stream *s)
{
	s->flags |= S_LOCAL_EOF;
	stream_read_off(s);
	stream_pump(s);
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
		if (s->rec != NULL && !(s->flags & S_REC_CLOSE)) {
			/* the TLS connection's end first; back here after */
			s->flags |= S_REC_CLOSE;
			if (tls_rec_close(s->rec,
			    bufferevent_get_output(bev)) == 0)
				return;
		}
		s->flags |= S_SHUT_WR;
		if (s->flags & S_LOCAL)
			bufferevent_flush(bev, EV_WRITE, BEV_FINISHED);
		else
			shutdown(bufferevent_getfd(bev), SHUT_WR);
		stream_check_done(s);
	}
}

/*
 * The bufferevent only writes: this is a write error.  In-process, the
 * owner's end also says it is done writing (EOF), or gone.
 */
static void
stream_eventcb(struct bufferevent *bev, short what, void *arg)
{
	struct kgp_stream	*s = arg;

	if (what & BEV_EVENT_ERROR)
		stream_reset(s, KGP_E_RESET);
	else if ((s->flags & S_LOCAL) && (what & BEV_EVENT_EOF) &&
	    !(s->flags & S_LOCAL_EOF))
		stream_local_eof(s);
}

/* Bytes left for the local socket: give the peer its credit back. */
static void
stream_drained(struct evbuffer *buf, const struct evbuffer_cb_info *info,
    void *arg)
{
	struct kgp_stream	*s = arg;
	uint64_t		 n = info->n_deleted;

	if (s->rec != NULL) {
		/*
		 * Records left: as many bytes of credit as left (the
		 * records are longer than what they carry), and all that
		 * was sealed once none waits, so that the total is exact.
		 */
		if (n > s->rec_owed || evbuffer_get_length(buf) == 0)
			n = s->rec_owed;
		s->rec_owed -= n;
	}
	stream_consumed(s, n);
}

/*
 * What a stream consumes before its credit goes back: a quarter of the
 * window, and of one grown past grow for a long link a sixteenth
 * (KGP_GRANT_STEP at least), so that a stream that fills a long link is
 * not let out in bursts of a quarter window, which the sender's TCP
 * paces out faster than the link carries and which then wait in the
 * link's queue.  The others (a short link's, loopback's) keep quarter
 * steps: a WINDOW frame, and often a TLS record, for every 256 KiB of a
 * 1 MiB window, not every 64 KiB.
 */
static uint32_t
stream_grant_step(uint32_t w, uint32_t grow)
{
	if (w <= grow)
		return (w / 4);
	return (w / KGP_GRANT_DIV > KGP_GRANT_STEP ? w / KGP_GRANT_DIV :
	    KGP_GRANT_STEP);
}

/*
 * The link's queue as the window rule sees it at a grant: the least of
 * what conn_queue_us() said since a round trip before the last interval
 * of a round trip began, so a queue that stood for a round trip, not
 * the spike of a burst (a lossy link's, once the lost packet is sent
 * again and the receiver's TCP lets out all it held), which passes.
 */
static uint64_t
stream_queue_us(struct kgp_stream *s, uint64_t now)
{
	struct kgp_conn	*c = s->conn;
	uint64_t	 q = conn_queue_us(c);

	if (s->tune_q_us == 0 || now - s->tune_q_us >= c->rtt_min_us) {
		s->tune_qlast = s->tune_q_us == 0 ? q : s->tune_qmin;
		s->tune_qmin = q;
		s->tune_q_us = now;
	} else if (q < s->tune_qmin)
		s->tune_qmin = q;
	return (q < s->tune_qlast ? q : s->tune_qlast);
}

/*
 * A step of the window (stream_grant_step()) has left for the local
 * socket: grant it again, and resize the window (see "Windows" above).
 */
static void
stream_consumed(struct kgp_stream *s, size_t n)
{
	struct kgp_conn		*c = s->conn;
	uint32_t		 grant, delta, want;
	uint64_t		 now, queue, elapsed;
	size_t			 queued;
	int			 turned;
	char			 ago[32];

	if (n == 0)
		return;
	s->received += n;
	s->recv_consumed += n;
	if (!conn_live(c) ||
	    s->recv_consumed < stream_grant_step(s->recv_window,
	    c->params.window_grow))
		return;
	grant = s->recv_consumed;
	s->recv_consumed = 0;
	queued = evbuffer_get_length(bufferevent_get_output(s->bev));
	/* a whole window consumed since the epoch began: how fast? */
	now = conn_now_us();
	s->tune_bytes += grant;
	turned = s->tune_bytes >= s->recv_window;
	/* the queue, at every grant once the window can shrink */
	queue = turned || s->recv_window > c->params.window_grow ?
	    stream_queue_us(s, now) : 0;
	/*
	 * An epoch in which the link lost a segment held the recovery: the
	 * receiver's TCP let out nothing behind the lost segment for a
	 * round trip, which says the loss, not that the window is too
	 * large for the link.  Without that round trip (at each loss a
	 * window of 1 MiB took 2 round trips on a 100 ms link losing
	 * 0.1 %, and never grew), the epoch says what the window does.
	 */
	elapsed = now - s->tune_us;
	if (turned && c->loss_us != 0 && c->loss_us >= s->tune_us)
		elapsed -= elapsed > KGP_TUNE_RECOVERY_RTTS * c->rtt_min_us ?
		    KGP_TUNE_RECOVERY_RTTS * c->rtt_min_us : elapsed;
	want = kgp_window_want(s->recv_window, queued, turned,
	    elapsed, c->rtt_min_us, queue,
	    s->tune_cut_us ? now - s->tune_cut_us : UINT64_MAX,
	    &s->tune_slow, c->params.window_grow, c->params.window_max);
	if (turned) {
		if (elapsed != now - s->tune_us)
			log_debug2("stream %u: the epoch held a loss: %llu "
			    "us of it count", s->id,
			    (unsigned long long)elapsed);
		log_debug2("stream %u: queue %llu us; a window of %u in %llu "
		    "us, rtt %llu us: %u", s->id, (unsigned long long)queue,
		    s->recv_window, (unsigned long long)(now - s->tune_us),
		    (unsigned long long)c->rtt_min_us, want);
		s->tune_us = now;
		s->tune_bytes = 0;
	}
	if (want > s->recv_window) {
		/* the window, not the reader, may be what holds it back */
		s->tune_cut = 0;
		delta = stream_window_room(s, want - s->recv_window);
		stream_window_set(s, s->recv_window + delta);
		grant += delta;
	} else if (want < s->recv_window) {
		/* the link's queue: the cut comes off this grant and the next */
		if (c->loss_us != 0)
			snprintf(ago, sizeof(ago), "%llu us ago",
			    (unsigned long long)(now - c->loss_us));
		log_debug2("stream %u: window cut by the link's queue, %llu us, "
		    "rtt %llu us, the last loss %s: %u to %u", s->id,
		    (unsigned long long)queue, (unsigned long long)c->rtt_min_us,
		    c->loss_us != 0 ? ago : "never", s->recv_window, want);
		s->tune_cut = s->recv_window - want;
		s->tune_cut_us = now;
	}
	if (s->tune_cut > 0) {
		/* more than the link needs: what waits beyond it is queue */
		delta = s->tune_cut < grant ? s->tune_cut : grant;
		s->tune_cut -= delta;
		stream_window_set(s, s->recv_window - delta);
		grant -= delta;
	} else if (queued >= s->recv_window / 2 &&
	    s->recv_window > c->params.window &&
	    (c->windows > c->params.budget / 2 ||
	    proc_windows > proc_budget / 2)) {
		/* a reader slower than the link, and others may need room */
		delta = s->recv_window - c->params.window;
		if (delta > grant)
			delta = grant;
		stream_window_set(s, s->recv_window - delta);
		grant -= delta;
	}
	stream_grant(s, grant);
}

/*
 * The window a stream's receiver wants at a grant (man/kgp.7, "Flow
 * control"): w is the window now, queued what waits for the local
 * socket; turned says that a whole window was consumed since the
 * stream's last epoch began, elapsed_us ago; rtt_us is the link's
 * round trip (0: not known yet), queue_us how long the link's queue
 * holds this end's segments now (conn_queue_us()), calm_us how long ago
 * the queue last cut the window (UINT64_MAX: never); *slow is the
 * stream's, set once a queue was seen.  A reader that lags keeps w.
 * One that keeps up doubles it up to grow at every grant, and beyond,
 * up to max, once per window consumed within KGP_TUNE_RTT_PCT % of a
 * round trip: only then is the window what limits the stream (one that
 * does takes a round trip and a step for a window, as credit goes
 * back a step at a time).  Doubling alone would settle between 1.5
 * and 3 times the link's bandwidth-delay product, and what a window
 * lets out beyond the product waits in the link's queue in front of
 * every other stream, where a loss holds up all of them.  So at any
 * grant, a queue longer than KGP_TUNE_QUEUE_PCT % of the round trip
 * (at least KGP_TUNE_QUEUE_MIN_US) cuts the window to what the link
 * carries in a round trip and half that limit: w in flight fill the
 * round trip and the queue, so that is w (rtt + limit / 2) / (rtt +
 * queue), a step off at least, and once in KGP_TUNE_CALM_RTTS round
 * trips at most (a cut shows in the queue a round trip later).  From
 * then on the window grows by a step (KGP_TUNE_STEP_DIV) an epoch, and
 * only while the queue is under half the limit.  Never below grow; the
 * budgets may give less.
 */
uint32_t
kgp_window_want(uint32_t w, size_t queued, int turned, uint64_t elapsed_us,
    uint64_t rtt_us, uint64_t queue_us, uint64_t calm_us, int *slow,
    uint32_t grow, uint32_t max)
{
	uint64_t	 t, limit;

	if (queued > w / 4)
		return (w);
	if (w < grow)
		return (w > grow / 2 ? grow : w * 2);
	if (rtt_us == 0)
		return (w);
	limit = rtt_us * KGP_TUNE_QUEUE_PCT / 100;
	if (limit < KGP_TUNE_QUEUE_MIN_US)
		limit = KGP_TUNE_QUEUE_MIN_US;
	if (queue_us > limit && calm_us / KGP_TUNE_CALM_RTTS >= rtt_us) {
		/* what the window lets out beyond the link waits in it */
		*slow = 1;
		t = (uint64_t)w * (rtt_us + limit / 2) / (rtt_us + queue_us);
		if (t > w - w / KGP_TUNE_STEP_DIV)
			t = w - w / KGP_TUNE_STEP_DIV;
	} else if (!turned || queue_us > limit / 2)
		return (w);
	else if (elapsed_us * 100 < KGP_TUNE_RTT_PCT * rtt_us)
		t = *slow ? w + w / KGP_TUNE_STEP_DIV : 2ULL * w;
	else
		return (w);
	if (t < grow)
		t = grow;
	if (t > max)
		t = max;
	return ((uint32_t)t);
}

/* Give the peer n more bytes of credit on s. */
static void
stream_grant(struct kgp_stream *s, uint32_t n)
{
	if (n == 0)
		return;
	/* credit only for what the peer knows we have */
	conn_send_ack(s->conn);
	conn_send_u32(s->conn, KGP_WINDOW, s->id, n);
	s->recv_avail += n;
}

/* How much of want the budgets let s's window grow by now. */
static uint32_t
stream_window_room(struct kgp_stream *s, uint32_t want)
{
	struct kgp_conn	*c = s->conn;
	size_t		 room;

	if (s->recv_window >= c->params.window_max)
		return (0);
	if (want > c->params.window_max - s->recv_window)
		want = c->params.window_max - s->recv_window;
	if (c->windows >= c->params.budget || proc_windows >= proc_budget)
		return (0);
	room = c->params.budget - c->windows;
	if (room > proc_budget - proc_windows)
		room = proc_budget - proc_windows;
	return (want < room ? want : (uint32_t)room);
}

/* The window of s is w from now on: the budgets count it. */
static void
stream_window_set(struct kgp_stream *s, uint32_t w)
{
	struct kgp_conn	*c = s->conn;
	size_t		 was = s->recv_window - c->params.window;

	c->windows -= was;
	proc_windows -= was;
	s->recv_window = w;
	c->windows += w - c->params.window;
	proc_windows += w - c->params.window;
}

/* A new stream: window_open at once, as far as the budgets allow. */
static void
stream_window_open(struct kgp_stream *s)
{
	struct kgp_conn	*c = s->conn;
	uint32_t	 grant;

	if (c->params.window_open <= s->recv_window)
		return;
	grant = stream_window_room(s, c->params.window_open - s->recv_window);
	stream_window_set(s, s->recv_window + grant);
	stream_grant(s, grant);
}

/*
 * The process's budget for windows above the announced ones, all
 * connections together: set it (0 leaves it), and learn how much of it
 * is granted now.
 */
size_t
kgp_windows_budget(size_t budget)
{
	if (budget > 0)
		proc_budget = budget;
	return (proc_windows);
}

/*
 * A stream's TCP socket (the server's browser side; in kgpd, a moved
 * app socket): small writes go at once, and what the kernel holds unsent
 * is bounded, so that a stalled reader's bytes wait in the stream's
 * window and not in the kernel as well.  A socket pair ignores both.
 */
static void
stream_sockopts(int fd)
{
	int	 one = 1;

	if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) == -1)
		return;
#ifdef TCP_NOTSENT_LOWAT
	one = STREAM_NOTSENT;
	setsockopt(fd, IPPROTO_TCP, TCP_NOTSENT_LOWAT, &one, sizeof(one));
#endif
}

/*
 * Rebind stream id to the local socket fd (see "Moves" above): offset
 * is how many bytes the old socket brings in all, before the new one
 * takes over.  The connection owns fd from here.  Returns 0, or -1
 * when there is no such stream (fd is closed) or when it cannot move
 * (it is reset).
 */
/*
 * What the owner calls stream id (kgpd: the target of a tunnel proxyd
 * moved to it), shown by kgp_conn_each_stream(); out of memory, none.
 */
void
kgp_conn_stream_label(struct kgp_conn *c, uint32_t id, const char *label)
{
	struct kgp_stream	*s, key;

	key.id = id;
	if ((s = RB_FIND(stream_tree, &c->streams, &key)) == NULL)
		return;
	free(s->label);
	s->label = label[0] != '\0' ? strdup(label) : NULL;
}

int
kgp_conn_stream_move(struct kgp_conn *c, uint32_t id, int fd,
    uint64_t offset)
{
	return (stream_move_start(c, id, fd, offset, 0));
}

/*
 * The same for a TLS connection (see "Moves" above): the new socket is
 * read once kgp_conn_stream_moved_tls() gave its keys.
 */
int
kgp_conn_stream_move_tls(struct kgp_conn *c, uint32_t id, int fd,
    uint64_t offset)
{
	return (stream_move_start(c, id, fd, offset, 1));
}

static int
stream_move_start(struct kgp_conn *c, uint32_t id, int fd, uint64_t offset,
    int tls)
{
	struct kgp_stream	*s, key;

	key.id = id;
	if ((s = RB_FIND(stream_tree, &c->streams, &key)) == NULL) {
		close(fd);
		return (-1);
	}
	if ((s->flags & (S_MOVING | S_LOCAL_EOF | S_LOCAL)) ||
	    s->lend != NULL ||
	    (s->move = calloc(1, sizeof(*s->move))) == NULL) {
		close(fd);
		log_warnx("stream %u: cannot move to a new socket", id);
		stream_reset(s, KGP_E_INTERNAL);
		return (-1);
	}
	s->move->fd = fd;
	s->move->offset = offset;
	s->move->tls = tls;
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
	if (!ok || s->move->tls) {
		/* a TLS connection's bytes cannot go on without keys */
		stream_reset(s, KGP_E_RESET);
		return (0);
	}
	s->flags |= S_MOVE_WRITE;
	if (s->flags & S_MOVE_READ)
		stream_move_end(s);
	return (0);
}

/*
 * The old socket's reader of a TLS move has passed on everything (as
 * kgp_conn_stream_moved(), ok) and gives the connection's record layer
 * (the stream owns it from here, whatever happens) and the len bytes it
 * had read of the connection and not opened.  What waits for the local
 * side is plaintext yet: sealed now.  Returns -1 when no such stream is
 * moving so (rec freed); a stream that cannot go on is reset.
 */
int
kgp_conn_stream_moved_tls(struct kgp_conn *c, uint32_t id,
    struct tls_rec *rec, const void *left, size_t len)
{
	struct kgp_stream	*s, key;
	struct evbuffer		*out, *plain;
	size_t			 n;

	key.id = id;
	if ((s = RB_FIND(stream_tree, &c->streams, &key)) == NULL ||
	    (s->flags & (S_MOVING | S_MOVE_WRITE)) != S_MOVING ||
	    !s->move->tls) {
		tls_rec_free(rec);
		return (-1);
	}
	s->rec = rec;
	out = bufferevent_get_output(s->bev);
	if ((s->rec_in = evbuffer_new()) == NULL ||
	    (plain = evbuffer_new()) == NULL) {
		log_warnx("stream %u: out of memory", id);
		stream_reset(s, KGP_E_INTERNAL);
		return (0);
	}
	/* the plaintext out (no credit: rec_owed is 0), sealed back in */
	evbuffer_add_buffer(plain, out);
	n = evbuffer_get_length(plain);
	if (evbuffer_add(s->rec_in, left, len) == -1 || (n > 0 &&
	    tls_rec_seal(rec, evbuffer_pullup(plain, n), n, out) == -1)) {
		evbuffer_free(plain);
		log_warnx("stream %u: cannot take the TLS connection", id);
		stream_reset(s, KGP_E_INTERNAL);
		return (0);
	}
	evbuffer_free(plain);
	s->rec_owed = n;
	s->flags |= S_MOVE_WRITE;
	log_debug2("stream %u: TLS records sealed and opened here", id);
	if (s->flags & S_MOVE_READ) {
		stream_rec_ready(s);
		stream_move_end(s);
	}
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

	got = stream_brought(s);
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
	stream_sockopts(m->fd);
	if (m->tls && s->rec == NULL)
		s->flags |= S_REC_WAIT;
	stream_read_fd(s, m->fd);
	m->fd = -1;
	s->flags |= S_MOVE_READ;
	log_debug2("stream %u: reading its new socket", s->id);
	if (s->conn->cb.switched != NULL)
		s->conn->cb.switched(s->conn, s->id, 1, s->conn->arg);
	if (s->flags & S_MOVE_WRITE) {
		if (s->rec != NULL)
			stream_rec_ready(s);
		stream_move_end(s);
	}
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
	if ((s->flags & S_SHUT_WR) && s->rec != NULL)
		s->flags &= ~S_SHUT_WR;		/* close_notify first */
	else if (s->flags & S_SHUT_WR)
		shutdown(bufferevent_getfd(s->bev), SHUT_WR);
	bufferevent_enable(s->bev, EV_WRITE);
	stream_writecb(s->bev, s);
}

int
conn_on_open(struct kgp_conn *c, const struct kgp_frame *f)
{
	struct kgp_stream	*s, key;
	char			 meta[256], reason[128];
	uint16_t		 code = KGP_E_REFUSED;
	int			 fd;

	if (conn_opens(c) || (f->stream & 1) == 0)
		return (conn_abort(c, KGP_E_PROTOCOL,
		    "OPEN of stream %u from the wrong side", f->stream));
	key.id = f->stream;
	if (RB_FIND(stream_tree, &c->streams, &key) != NULL)
		return (conn_abort(c, KGP_E_PROTOCOL,
		    "OPEN of stream %u which is open", f->stream));
	/* the server's text, for the logs of kgpd and proxyd */
	log_sanitize_mem(f->payload, f->len, meta, sizeof(meta));
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
	if (c->cb.open_local != NULL)
		return (stream_open_local(c, f->stream, meta));
	fd = c->cb.open ? c->cb.open(c, f->stream, meta, &code, reason,
	    sizeof(reason), c->arg) : -1;
	if (fd == -1) {
		conn_send_code(c, KGP_REFUSE, f->stream, code, reason);
		return (0);
	}
	if ((s = stream_new(c, f->stream, fd, NULL)) == NULL) {
		close(fd);
		conn_send_code(c, KGP_REFUSE, f->stream, KGP_E_INTERNAL,
		    "out of memory");
		return (0);
	}
	log_debug2("stream %u: open from %s", s->id, meta);
	conn_send(c, KGP_ACCEPT, s->id, NULL, 0);
	stream_window_open(s);
	return (0);
}

/*
 * The peer opened stream id, and the owner serves it in this process
 * (the open_local callback): an in-process stream, its end the owner's,
 * or refused.
 */
static int
stream_open_local(struct kgp_conn *c, uint32_t id, const char *meta)
{
	struct kgp_stream	*s;
	struct bufferevent	*local;
	char			 reason[128];
	uint16_t		 code = KGP_E_REFUSED;

	if ((s = stream_new(c, id, -1, &local)) == NULL) {
		conn_send_code(c, KGP_REFUSE, id, KGP_E_INTERNAL,
		    "out of memory");
		return (0);
	}
	strlcpy(reason, "refused", sizeof(reason));
	if (c->cb.open_local(c, id, meta, local, &code, reason,
	    sizeof(reason), c->arg) == -1) {
		/* gone before it was told: no REFUSE and RST both */
		bufferevent_free(local);
		s->flags |= S_SHUT_WR;
		stream_free(s);
		conn_send_code(c, KGP_REFUSE, id, code, reason);
		return (0);
	}
	log_debug2("stream %u: open from %s, in-process", id, meta);
	conn_send(c, KGP_ACCEPT, id, NULL, 0);
	stream_window_open(s);
	return (0);
}

/*
 * The peer refused s, which this end opened: an owner that wants it
 * gets the socket back to answer on, if nothing came back on it yet.
 */
static void
stream_refused(struct kgp_stream *s, uint16_t code, const char *text)
{
	struct kgp_conn	*c = s->conn;
	uint32_t	 id = s->id;
	int		 fd = -1;

	if (c->cb.refused != NULL && !(s->flags & (S_LOCAL | S_MOVING)) &&
	    s->lend == NULL && s->received == 0 &&
	    evbuffer_get_length(bufferevent_get_output(s->bev)) == 0) {
		fd = bufferevent_getfd(s->bev);
		event_del(s->ev_read);
		bufferevent_setfd(s->bev, -1);
	}
	stream_free(s);
	if (fd != -1)
		c->cb.refused(c, id, fd, code, text, c->arg);
}

/* The opening end (a server, a node link's client): may a stream open? */
static int
conn_may_open(struct kgp_conn *c)
{
	return (conn_live(c) && conn_opens(c) && !c->draining &&
	    !c->goaway && c->stats.streams_open < c->peer_max_streams &&
	    c->next_id < 0x7fffffff);
}

/* The opening end: the new stream s is told to the peer (OPEN, meta). */
static void
stream_opened(struct kgp_stream *s, const char *meta)
{
	struct kgp_conn	*c = s->conn;
	size_t		 n;

	c->next_id += 2;
	n = meta ? strlen(meta) : 0;
	if (n > 255)
		n = 255;
	conn_send(c, KGP_OPEN, s->id, meta, n);
	stream_window_open(s);
}

/*
 * Server (or a node link's client): bind a new stream to fd.  The len bytes at data were already
 * read from fd (a request head the caller looked at) and go first.
 */
int
kgp_conn_open_stream(struct kgp_conn *c, int fd, const char *meta,
    const void *data, size_t len)
{
	struct kgp_stream	*s;
	struct evbuffer		*input;
	int			 rc;

	if (!conn_may_open(c) ||
	    (s = stream_new(c, c->next_id, fd, NULL)) == NULL)
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
	stream_opened(s, meta);
	if (len > 0)
		stream_pump(s);
	return (0);
}

/*
 * A stream to the peer whose local end is in this process: the caller
 * gets a bufferevent (one end of a pair), reads and writes it as it
 * would a socket's, with no system call between it and the connection,
 * and says it is done writing with kgp_local_shutdown() and lets it go
 * with kgp_local_close(), never bufferevent_free().  Its events: EOF
 * when the peer has finished (as a socket's end of file), and also when
 * the stream is gone (reset); the caller sees no error otherwise.  NULL
 * when no stream can be opened now.
 */
struct bufferevent *
kgp_conn_open_local(struct kgp_conn *c, const char *meta)
{
	struct kgp_stream	*s;
	struct bufferevent	*local;

	if (!conn_may_open(c) ||
	    (s = stream_new(c, c->next_id, -1, &local)) == NULL)
		return (NULL);
	stream_opened(s, meta);
	return (local);
}

/*
 * The owner of an in-process stream is done writing (a half-close).
 * All it wrote goes to the stream first: the pair's flush moves no more
 * than the stream's STREAM_READ_HIGH and then tells it EOF, which would
 * send FIN before the rest (and kgp_local_close() would free it).  The
 * stream sends it as credit comes, bounded by what the owner had
 * buffered.
 */
void
kgp_local_shutdown(struct bufferevent *local)
{
	struct bufferevent	*bev;
	struct evbuffer		*out = bufferevent_get_output(local), *in;

	if ((bev = bufferevent_pair_get_partner(local)) != NULL &&
	    evbuffer_get_length(out) > 0) {
		in = bufferevent_get_input(bev);
		/* as the pair's own transfer does: its ends are frozen */
		evbuffer_unfreeze(out, 1);
		evbuffer_unfreeze(in, 0);
		evbuffer_add_buffer(in, out);
		evbuffer_freeze(out, 1);
		evbuffer_freeze(in, 0);
	}
	bufferevent_flush(local, EV_WRITE, BEV_FINISHED);
}

/*
 * The owner lets its end go: the stream sends what it has and FIN, as
 * for a socket closed; bytes that come for it after that reset it.
 */
void
kgp_local_close(struct bufferevent *local)
{
	if (local == NULL)
		return;
	/* what it wrote goes on, then FIN */
	if (bufferevent_pair_get_partner(local) != NULL)
		kgp_local_shutdown(local);
	bufferevent_free(local);
}

/*
 * The owner of an in-process stream lets its end go with the stream
 * reset (RST to the peer), as for a socket reset: what was not sent
 * yet is dropped.
 */
void
kgp_local_reset(struct bufferevent *local)
{
	struct bufferevent	*bev;
	void			*s;

	if (local == NULL)
		return;
	if ((bev = bufferevent_pair_get_partner(local)) != NULL) {
		bufferevent_getcb(bev, NULL, NULL, NULL, &s);
		/* its end is going: nothing to tell it */
		((struct kgp_stream *)s)->flags |= S_SHUT_WR;
		stream_reset(s, KGP_E_RESET);
	}
	bufferevent_free(local);
}

/* DATA: hand the payload that follows in c->in to the local socket. */
int
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
	conn_moved(c, f->len);
	/* consecutive DATA of one stream leave together (conn_deliver) */
	if (c->pend_s != s)
		conn_deliver(c);
	c->pend_s = s;
	conn_pend_add(c, f->len);
	return (0);
}

static void
pend_block_free(const void *data, size_t len, void *arg)
{
	free((void *)(uintptr_t)data);
}

/*
 * The len bytes of DATA at the head of c->in onto c->pend.  A payload of
 * PEND_BLOCK_MIN or more is copied into a block of its own size (the
 * copy out of c->in, whose chains hold many frames, is needed anyway):
 * if the local socket does not take it at once, the block is moved onto
 * the socket's output as it is, not copied again.  Less is copied into
 * the chains of c->pend, and copied again if it waits.
 */
static void
conn_pend_add(struct kgp_conn *c, size_t len)
{
	void	*p;

	if (len >= PEND_BLOCK_MIN && (p = malloc(len)) != NULL) {
		evbuffer_remove(c->in, p, len);
		if (evbuffer_add_reference(c->pend, p, len, pend_block_free,
		    NULL) == 0)
			return;
		/* out of memory: as a small one */
		c->pend_loose += len;
		evbuffer_add(c->pend, p, len);
		free(p);
		return;
	}
	c->pend_loose += len;
	evbuffer_remove_buffer(c->in, c->pend, len);
}

/*
 * The DATA read for one stream in a row goes to its socket in one write
 * (what the socket does not take waits in its output), not one write a
 * frame: at the end of a read, and before any other frame.
 */
void
conn_deliver(struct kgp_conn *c)
{
	struct kgp_stream	*s = c->pend_s;
	size_t			 len, n;

	if (s == NULL)
		return;
	c->pend_s = NULL;
	if ((s->flags & S_LOCAL) && bufferevent_pair_get_partner(s->bev) ==
	    NULL) {
		/* in-process, its owner gone: as a write to a closed socket */
		evbuffer_drain(c->pend, evbuffer_get_length(c->pend));
		c->pend_loose = 0;
		stream_reset(s, KGP_E_RESET);
		return;
	}
	if (s->flags & S_LOCAL) {
		c->pend_loose = 0;
		stream_deliver_local(s, c->pend);
		return;
	}
	len = evbuffer_get_length(c->pend);
	if (s->rec != NULL) {
		/* sealed into records; credit as they leave (drained) */
		c->pend_loose = 0;
		if (tls_rec_seal(s->rec, evbuffer_pullup(c->pend, len), len,
		    bufferevent_get_output(s->bev)) == -1) {
			evbuffer_drain(c->pend, len);
			log_warnx("stream %u: %s", s->id,
			    tls_rec_error(s->rec));
			stream_reset(s, KGP_E_INTERNAL);
			return;
		}
		evbuffer_drain(c->pend, len);
		s->rec_owed += len;
		return;
	}
	/* in blocks of their own size: what waits is moved, not copied */
	n = c->pend_loose == 0 ? bev_write_move(s->bev, c->pend, len) :
	    bev_write_now(s->bev, c->pend, len);
	c->pend_loose = 0;
	stream_consumed(s, n);
}

/*
 * In-process: pend's chains hold this stream's bytes alone (a frame's
 * payload, copied out of the connection's reads or the tail of one), so
 * they move to its end as they are, no copy: a splice (kgp_splice.c)
 * passes them on to another stream's frames whole.  Credit goes back as
 * they leave the output (stream_drained).
 */
static void
stream_deliver_local(struct kgp_stream *s, struct evbuffer *pend)
{
	if (evbuffer_add_buffer(bufferevent_get_output(s->bev), pend) == -1)
		stream_consumed(s, bev_write_now(s->bev, pend,
		    evbuffer_get_length(pend)));
}

int
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
		if (!conn_opens(c))
			return (conn_abort(c, KGP_E_PROTOCOL,
			    "ACCEPT from the %s", c->params.role ==
			    KGP_ROLE_CLIENT ? "server" : "client"));
		return (0);
	case KGP_REFUSE:
		if (!conn_opens(c))
			return (conn_abort(c, KGP_E_PROTOCOL,
			    "REFUSE from the %s", c->params.role ==
			    KGP_ROLE_CLIENT ? "server" : "client"));
		if (kgp_code_decode(f, &code, text, sizeof(text), &errstr)
		    == -1)
			return (conn_abort(c, KGP_E_PROTOCOL, "REFUSE: %s",
			    errstr));
		if (s != NULL) {
			log_debug("stream %u refused: %s (%s)", s->id,
			    kgp_code_name(code), text);
			stream_refused(s, code, text);
		}
		return (0);
	case KGP_WINDOW:
		if (kgp_u32_decode(f, &inc, &errstr) == -1)
			return (conn_abort(c, KGP_E_PROTOCOL, "WINDOW: %s",
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
	return (conn_abort(c, KGP_E_PROTOCOL, "unexpected %s",
	    kgp_type_name(f->type)));
}

/*
 * A TLS move has its keys and reads its new socket: what the old reader
 * had read of the connection is opened first, then the socket is read.
 */
static void
stream_rec_ready(struct kgp_stream *s)
{
	s->flags &= ~S_REC_WAIT;
	if (stream_rec_open(s) == -1)
		return;
	if (s->flags & S_LOCAL_EOF)
		return;
	if (evbuffer_get_length(bufferevent_get_input(s->bev)) > 0)
		stream_pump(s);
	else if (!(s->flags & S_READ_OFF))
		event_add(s->ev_read, NULL);
}

/*
 * The records whole in rec_in, opened into the stream's input (what
 * stream_pump sends as credit allows); a KeyUpdate's answer goes out.
 * Returns 0, or -1 when the stream was reset or ended its reading.
 */
static int
stream_rec_open(struct kgp_stream *s)
{
	switch (tls_rec_open(s->rec, s->rec_in, bufferevent_get_input(s->bev),
	    bufferevent_get_output(s->bev))) {
	case TLS_REC_OK:
		return (0);
	case TLS_REC_EOF:
		log_debug2("stream %u: close_notify", s->id);
		stream_local_eof(s);
		return (-1);
	default:
		log_warnx("stream %u: TLS from the app: %s", s->id,
		    tls_rec_error(s->rec));
		stream_reset(s, KGP_E_RESET);
		return (-1);
	}
}

/*
 * A read turn of a TLS stream, whose input is empty: a read of the
 * socket, its records opened into the input, and on.  An EOF without
 * close_notify is an EOF all the same (a truncation the app's end made).
 */
static void
stream_rec_read(struct kgp_stream *s)
{
	struct evbuffer		*in = bufferevent_get_input(s->bev);
	struct evbuffer_iovec	 vec;
	ssize_t			 n;

	/* read(2) alone: kgpd's sandbox has no FIONREAD for evbuffer_read */
	if (evbuffer_reserve_space(s->rec_in, STREAM_READ_HIGH, &vec, 1) !=
	    1) {
		log_warnx("stream %u: out of memory", s->id);
		stream_reset(s, KGP_E_INTERNAL);
		return;
	}
	if ((n = read(event_get_fd(s->ev_read), vec.iov_base,
	    vec.iov_len)) > 0) {
		vec.iov_len = n;
		evbuffer_commit_space(s->rec_in, &vec, 1);
	}
	if (n == -1) {
		if (errno == EAGAIN || errno == EINTR)
			return;
		log_debug("stream %u: read: %s", s->id, strerror(errno));
		stream_reset(s, KGP_E_RESET);
		return;
	}
	if (stream_rec_open(s) == -1)
		return;
	if (n == 0) {
		if (evbuffer_get_length(s->rec_in) > 0)
			log_debug("stream %u: EOF inside a TLS record", s->id);
		stream_local_eof(s);
		return;
	}
	if (evbuffer_get_length(in) > 0)
		stream_pump(s);
}

/* Read fd from now on (the read event follows it, if it is wanted). */
static void
stream_read_fd(struct kgp_stream *s, int fd)
{
	/* an event may be assigned once it is not added */
	event_del(s->ev_read);
	event_assign(s->ev_read, s->conn->base, fd, EV_READ | EV_PERSIST,
	    stream_read, s);
	if (!(s->flags & (S_READ_OFF | S_LOCAL_EOF)))
		event_add(s->ev_read, NULL);
}

/*
 * Have stream id read len bytes of fd once offset bytes in all have
 * come from its own socket, then its own socket again (see "Lends"
 * above).  The connection owns fd from here.  Returns 0: the lent
 * callback will say how it ended; or -1 when there is no such stream,
 * or it is moving, lending or at its end (fd is closed, no callback).
 */
int
kgp_conn_stream_lend(struct kgp_conn *c, uint32_t id, int fd,
    uint64_t offset, uint64_t len)
{
	struct kgp_stream	*s, key;
	struct stream_lend	*l;

	key.id = id;
	if ((s = RB_FIND(stream_tree, &c->streams, &key)) == NULL ||
	    (s->flags & (S_MOVING | S_LOCAL_EOF | S_LOCAL)) ||
	    s->lend != NULL || len == 0 || len > UINT64_MAX - offset ||
	    (l = calloc(1, sizeof(*l))) == NULL) {
		close(fd);
		return (-1);
	}
	l->fd = fd;
	l->offset = offset;
	l->end = offset + len;
	s->lend = l;
	stream_lend_check(s);
	return (0);
}

/* Bytes taken from the local sockets in all, sent or not yet. */
static uint64_t
stream_brought(struct kgp_stream *s)
{
	return (s->sent + evbuffer_get_length(bufferevent_get_input(s->bev)));
}

/* How much the stream may read now, as far as a lend goes. */
static uint64_t
stream_lend_cap(struct kgp_stream *s)
{
	struct stream_lend	*l = s->lend;
	uint64_t		 got, bound;

	if (l == NULL)
		return (UINT64_MAX);
	got = stream_brought(s);
	bound = l->reading ? l->end : l->offset;
	return (got < bound ? bound - got : 0);
}

/*
 * Has the stream's own socket brought the bytes before the lend?  Then
 * read the lent one.  Returns -1 if the stream was reset (it is gone).
 */
static int
stream_lend_check(struct kgp_stream *s)
{
	struct stream_lend	*l = s->lend;
	uint64_t		 got;

	if (l->reading)
		return (0);
	got = stream_brought(s);
	if (got < l->offset)
		return (0);
	if (got > l->offset) {
		log_warnx("stream %u: %llu bytes came before the lend, not "
		    "%llu", s->id, (unsigned long long)got,
		    (unsigned long long)l->offset);
		stream_reset(s, KGP_E_RESET);
		return (-1);
	}
	l->reading = 1;
	stream_read_fd(s, l->fd);
	log_debug2("stream %u: reading a lent socket", s->id);
	return (0);
}

/* A read turn of a stream that has a lend: its own socket or the lent. */
static void
stream_lend_read(struct kgp_stream *s)
{
	struct stream_lend	*l = s->lend;
	int			 rc, err;

	rc = stream_take(s);
	err = errno;
	if (!l->reading) {
		if (rc == -1) {
			log_debug("stream %u: read: %s", s->id, strerror(err));
			stream_reset(s, KGP_E_RESET);
		} else if (rc == 1) {
			/* the owner's end closed before the lend began */
			stream_lend_end(s, KGP_LENT_GONE, 0);
			stream_local_eof(s);
		} else
			stream_lend_check(s);
		return;
	}
	if (rc == -1)
		stream_lend_end(s, KGP_LENT_ERROR, err);
	else if (rc == 1)
		stream_lend_end(s, KGP_LENT_EOF, 0);
	else if (stream_brought(s) == l->end)
		stream_lend_end(s, KGP_LENT_DONE, 0);
}

/* The lend is over: the stream reads its own socket again. */
static void
stream_lend_end(struct kgp_stream *s, int how, int err)
{
	struct kgp_conn		*c = s->conn;
	struct stream_lend	*l = s->lend;
	uint64_t		 got;

	got = l->reading ? stream_brought(s) - l->offset : 0;
	s->lend = NULL;
	if (l->reading) {
		event_del(s->ev_read);		/* before its socket closes */
		if (how != KGP_LENT_GONE)
			stream_read_fd(s, bufferevent_getfd(s->bev));
	}
	close(l->fd);
	free(l);
	log_debug2("stream %u: lend over (%d) after %llu bytes", s->id, how,
	    (unsigned long long)got);
	if (c->cb.lent != NULL)
		c->cb.lent(c, s->id, how, got, err, c->arg);
}
