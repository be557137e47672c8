/*
 * Bodies moved by the kernel: splice(2) from one socket into a pipe and
 * from the pipe into another, so that a large body crosses proxyd
 * without being copied into it and out again.  On loopback the pages
 * nginx sent with sendfile(2) reach kgpd's socket pair as they are.
 *
 * A job moves at most max bytes (or all until EOF) from one descriptor
 * to another, nothing beyond, so a keep-alive connection is left at the
 * start of its next answer.  Bytes the pipe holds always go out before
 * the job reports how it ended.  The caller owns both descriptors and
 * must not touch them (read the source, write the destination) while the
 * job runs.
 *
 * Without splice(2) (not Linux), or when no pipe can be had, there are
 * no jobs and the caller copies as before.
 */
#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include <event2/event.h>

#include "splice.h"

#define SPLICE_PIPE_SIZE	(1024 * 1024)	/* asked, not required */
#define SPLICE_BUDGET		(4 * 1024 * 1024)	/* a turn of the loop */
#define SPLICE_JOBS_MAX		64		/* two descriptors each */

struct splice_job {
	int		 from, to;
	int		 pipe[2];
	size_t		 pipe_size;
	size_t		 inpipe;	/* bytes in the pipe */
	uint64_t	 left;		/* to take from the source */
	int		 ended;		/* SPLICE_EOF, SPLICE_ERR_FROM */
	int		 err;
	struct event	*ev_from, *ev_to;
	struct event	*waiting;	/* the one of them added */
	splice_cb	 cb;
	void		*arg;
};

static int	 splice_jobs;

#ifdef __linux__
static void	 splice_run(struct splice_job *);

static void
splice_event(evutil_socket_t fd, short events, void *arg)
{
	splice_run(arg);
}

/*
 * Wait for one side (NULL: for neither).  The events persist: a job
 * that keeps waiting on the same side costs no epoll_ctl.
 */
static void
splice_wait(struct splice_job *j, struct event *ev)
{
	if (j->waiting == ev)
		return;
	if (j->waiting != NULL)
		event_del(j->waiting);
	if (ev != NULL)
		event_add(ev, NULL);
	j->waiting = ev;
}

struct splice_job *
splice_start(struct event_base *base, int from, int to, uint64_t max,
    splice_cb cb, void *arg)
{
	struct splice_job	*j;
	int			 sz;

	if (splice_jobs >= SPLICE_JOBS_MAX || max == 0)
		return (NULL);
	if ((j = calloc(1, sizeof(*j))) == NULL)
		return (NULL);
	if (pipe2(j->pipe, O_NONBLOCK | O_CLOEXEC) == -1) {
		free(j);
		return (NULL);
	}
	/* a bigger pipe moves more per call; the default will do */
	if ((sz = fcntl(j->pipe[1], F_SETPIPE_SZ, SPLICE_PIPE_SIZE)) == -1)
		sz = fcntl(j->pipe[1], F_GETPIPE_SZ);
	j->pipe_size = sz > 0 ? (size_t)sz : 65536;
	j->from = from;
	j->to = to;
	j->left = max;
	j->cb = cb;
	j->arg = arg;
	if ((j->ev_from = event_new(base, from, EV_READ | EV_PERSIST,
	    splice_event, j)) == NULL ||
	    (j->ev_to = event_new(base, to, EV_WRITE | EV_PERSIST,
	    splice_event, j)) == NULL) {
		splice_stop(j);
		return (NULL);
	}
	splice_jobs++;
	/* the source may hold bytes already: go at once */
	event_active(j->ev_from, EV_READ, 0);
	return (j);
}

void
splice_stop(struct splice_job *j)
{
	if (j == NULL)
		return;
	if (j->ev_from != NULL && j->ev_to != NULL)
		splice_jobs--;
	if (j->ev_from != NULL)
		event_free(j->ev_from);
	if (j->ev_to != NULL)
		event_free(j->ev_to);
	close(j->pipe[0]);
	close(j->pipe[1]);
	free(j);
}

/*
 * Fill the pipe from the source and empty it into the destination until
 * one of them would block or this turn's budget is spent.  The callback
 * is the last thing done: it may stop the job.
 */
static void
splice_run(struct splice_job *j)
{
	ssize_t	 n;
	size_t	 want, moved = 0;
	int	 from_blocked = 0, to_blocked = 0, event;

	for (;;) {
		if (j->inpipe > 0 && !to_blocked) {
			n = splice(j->pipe[0], NULL, j->to, NULL, j->inpipe,
			    SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
			if (n == -1 && errno == EINTR)
				continue;
			if (n == -1 && errno == EAGAIN)
				to_blocked = 1;
			else if (n <= 0) {
				j->err = n == 0 ? EPIPE : errno;
				j->cb(j->arg, SPLICE_ERR_TO, moved);
				return;
			} else {
				j->inpipe -= n;
				moved += n;
				/* that EAGAIN may have been a full pipe */
				if (from_blocked == 1)
					from_blocked = 0;
			}
		}
		if (j->inpipe == 0 && (j->left == 0 || j->ended))
			break;
		if (j->left == 0 || j->ended || from_blocked ||
		    j->inpipe >= j->pipe_size || moved >= SPLICE_BUDGET) {
			if (j->inpipe > 0 && !to_blocked &&
			    moved < SPLICE_BUDGET)
				continue;
			break;
		}
		want = j->pipe_size - j->inpipe;
		if (want > j->left)
			want = j->left;
		n = splice(j->from, NULL, j->pipe[1], NULL, want,
		    SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && errno == EAGAIN) {
			/*
			 * The source is empty, or the pipe is full: it
			 * may hold less than pipe_size when its pages are
			 * partly filled.
			 */
			from_blocked = j->inpipe > 0 ? 1 : 2;
		} else if (n == 0)
			j->ended = SPLICE_EOF;
		else if (n == -1) {
			j->ended = SPLICE_ERR_FROM;
			j->err = errno;
		} else {
			j->inpipe += n;
			j->left -= n;
		}
	}
	if (j->inpipe == 0 && j->left == 0)
		event = SPLICE_DONE;
	else if (j->inpipe == 0 && j->ended)
		event = j->ended;
	else {
		event = SPLICE_MORE;
		if (j->inpipe > 0 && to_blocked)
			splice_wait(j, j->ev_to);
		else
			splice_wait(j, j->ev_from);
		if (moved >= SPLICE_BUDGET && !to_blocked)
			event_active(j->ev_from, EV_READ, 0);	/* go on */
	}
	if (event != SPLICE_MORE)
		splice_wait(j, NULL);
	if (moved > 0 || event != SPLICE_MORE)
		j->cb(j->arg, event, moved);
}

#else /* !__linux__ */

struct splice_job *
splice_start(struct event_base *base, int from, int to, uint64_t max,
    splice_cb cb, void *arg)
{
	return (NULL);
}

void
splice_stop(struct splice_job *j)
{
}

#endif

int
splice_error(const struct splice_job *j)
{
	return (j->err);
}
