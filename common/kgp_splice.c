/*
 * Two in-process streams joined end to end (kgp_local_splice()), each
 * maybe of another connection: what the peer of one sends, the other
 * sends on to its peer, with no socket and no system call between them,
 * as a node link's stream and the tunnel's client stream are on the
 * node that holds the session (server/entry.c).
 *
 * Each stream's end is a bufferevent of a pair (kgp_stream.c).  The
 * bytes one end reads are appended to the other's output, whose stream
 * sends them as its credit allows; while that output holds SPLICE_HIGH
 * or more, the first end reads no more, so the bytes stay in its
 * stream, and its stream grants its peer credit only as they leave: a
 * slow side holds the other back, and what waits here is bounded by
 * SPLICE_HIGH and the two windows.  An end's EOF (its peer's FIN)
 * becomes the other's half-close once all before it is passed on; a
 * stream that is reset resets the other.  Once both directions are
 * finished the splice lets its ends go.
 */
#include <sys/types.h>

#include <stdlib.h>

#include <event2/event.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>

#include "kgp.h"
#include "log.h"

#define SPLICE_HIGH	(256 * 1024)	/* in an end's output: stop reading */

struct kgp_splice {
	struct bufferevent	*end[2];
	int			 eof[2];	/* end i has ended, passed on */
};

static void	splice_read(struct bufferevent *, void *);
static void	splice_write(struct bufferevent *, void *);
static void	splice_event(struct bufferevent *, short, void *);
static int	splice_move(struct kgp_splice *, int, int);
static void	splice_free(struct kgp_splice *, int);

/*
 * Join a and b, two ends of in-process streams (kgp_conn_open_local(),
 * or the open_local callback's): the splice owns both from here, and
 * what waits in their inputs goes on first.  -1: out of memory (the
 * caller keeps them).
 */
int
kgp_local_splice(struct bufferevent *a, struct bufferevent *b)
{
	struct kgp_splice	*sp;
	int			 i;

	if ((sp = calloc(1, sizeof(*sp))) == NULL)
		return (-1);
	sp->end[0] = a;
	sp->end[1] = b;
	for (i = 0; i < 2; i++) {
		bufferevent_setcb(sp->end[i], splice_read, splice_write,
		    splice_event, sp);
		bufferevent_setwatermark(sp->end[i], EV_READ, 0, 0);
		bufferevent_setwatermark(sp->end[i], EV_WRITE,
		    SPLICE_HIGH / 2, 0);
		bufferevent_enable(sp->end[i], EV_READ | EV_WRITE);
	}
	for (i = 0; i < 2; i++)
		if (splice_move(sp, i, 0) == -1)
			return (0);	/* reset, and sp is gone */
	return (0);
}

static int
splice_index(struct kgp_splice *sp, struct bufferevent *bev)
{
	return (bev == sp->end[0] ? 0 : 1);
}

/*
 * What end i read goes to the other end's output: all of it at its end
 * (eof), else until that output holds SPLICE_HIGH.  -1: the other
 * stream is gone, and so is the splice.
 */
static int
splice_move(struct kgp_splice *sp, int i, int eof)
{
	struct bufferevent	*src = sp->end[i], *dst = sp->end[!i];
	struct evbuffer		*in = bufferevent_get_input(src);
	struct evbuffer		*out = bufferevent_get_output(dst);

	if (evbuffer_get_length(in) == 0)
		return (0);
	if (sp->eof[!i] == 0 && bufferevent_pair_get_partner(dst) == NULL) {
		/* as a write to a reset socket */
		splice_free(sp, i);
		return (-1);
	}
	if (!eof && evbuffer_get_length(out) >= SPLICE_HIGH) {
		bufferevent_disable(src, EV_READ);
		return (0);
	}
	evbuffer_add_buffer(out, in);
	if (!eof && evbuffer_get_length(out) >= SPLICE_HIGH)
		bufferevent_disable(src, EV_READ);
	return (0);
}

static void
splice_read(struct bufferevent *bev, void *arg)
{
	struct kgp_splice	*sp = arg;

	splice_move(sp, splice_index(sp, bev), 0);
}

/* End i's output is below SPLICE_HIGH / 2: the other end reads again. */
static void
splice_write(struct bufferevent *bev, void *arg)
{
	struct kgp_splice	*sp = arg;
	int			 o = !splice_index(sp, bev);

	if (sp->eof[o])
		return;
	bufferevent_enable(sp->end[o], EV_READ);
	splice_move(sp, o, 0);
}

static void
splice_event(struct bufferevent *bev, short what, void *arg)
{
	struct kgp_splice	*sp = arg;
	int			 i = splice_index(sp, bev);

	if (what & BEV_EVENT_ERROR) {
		log_debug2("splice: a stream reset, the other too");
		splice_free(sp, !i);
		return;
	}
	if (!(what & BEV_EVENT_EOF) || sp->eof[i])
		return;
	if (splice_move(sp, i, 1) == -1)
		return;
	sp->eof[i] = 1;
	bufferevent_disable(bev, EV_READ);
	kgp_local_shutdown(sp->end[!i]);
	if (sp->eof[!i])
		splice_free(sp, -1);
}

/* Done: both ends go; end reset (0 or 1, -1: none) with its stream reset. */
static void
splice_free(struct kgp_splice *sp, int reset)
{
	int	 i;

	for (i = 0; i < 2; i++) {
		if (i == reset)
			kgp_local_reset(sp->end[i]);
		else if (reset != -1)
			bufferevent_free(sp->end[i]);
		else
			kgp_local_close(sp->end[i]);
	}
	free(sp);
}
