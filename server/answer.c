/*
 * The answers sc-server's entry proxies give themselves (an error, a
 * refusal, a denial by a traffic rule), before or instead of a stream:
 * the answer is written, the request read and dropped for a moment, and
 * the connection closed.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>

#include "http.h"
#include "log.h"
#include "server.h"

#define ANSWER_DRAIN_SEC	5
#define ANSWER_DRAIN_MAX	(64 * 1024)

/* a refused connection: the answer is written, the request drained */
struct answer_reject {
	int			 fd;
	struct bufferevent	*local;		/* in-process: not fd */
	size_t			 drained;
	struct event		*ev;
};

static int	 answer_count(int, char *, size_t, const char *,
		    const char *);
static void	 answer_drain(int, short, void *);
static void	 answer_local_read(struct bufferevent *, void *);
static void	 answer_local_event(struct bufferevent *, short, void *);

/* the refusals by status code (ENTRY_CODES), for /metrics */
static const int	 answer_codes[ENTRY_CODES_MAX] = ENTRY_CODES;
static uint64_t		 answer_refused[ENTRY_CODES_MAX];

/* the refusals so far, by the index of their code in ENTRY_CODES */
void
answer_counts(uint64_t counts[ENTRY_CODES_MAX])
{
	memcpy(counts, answer_refused, sizeof(answer_refused));
}

/*
 * An answer of the entry proxy's own, status and text (a line), with
 * the fields in extra (each ending in CRLF) and "Connection: close" or
 * not: into buf.  Returns its length, or -1 when it does not fit.
 */
int
answer_format(char *buf, size_t len, int status, const char *text,
    const char *extra, int closing)
{
	int	 n;

	n = snprintf(buf, len, "HTTP/1.1 %d %s\r\n"
	    "Content-Type: text/plain\r\n"
	    "Content-Length: %zu\r\n"
	    "%s"
	    "%s"
	    "\r\n"
	    "%s\n", status, http_status_text(status), strlen(text) + 1,
	    extra ? extra : "", closing ? "Connection: close\r\n" : "", text);
	if (n < 0 || (size_t)n >= len)
		return (-1);
	return (n);
}

/*
 * Answer with an error status and close.  The request is read and dropped
 * for a few seconds so that closing does not reset the connection before
 * the client has read the answer.
 */
void
answer_refuse(int fd, const char *peer, int status, const char *text,
    const char *extra)
{
	char			 msg[512];
	int			 len;

	len = answer_count(status, msg, sizeof(msg), text, extra);
	if (len > 0 && write(fd, msg, len) == -1)
		log_debug("answer: write to %s: %s", peer, strerror(errno));
	answer_linger(fd);
}

/* A refusal counted, and its answer in msg: its length, or -1. */
static int
answer_count(int status, char *msg, size_t len, const char *text,
    const char *extra)
{
	int	 i;

	for (i = 0; i < ENTRY_CODES_MAX - 1 && answer_codes[i] != status; i++)
		;
	answer_refused[i]++;
	return (answer_format(msg, len, status, text, extra, 1));
}

/*
 * answer_refuse() for a connection whose end is in this process (a node
 * link's stream, kgp_conn_open_local()): the answer, a half-close, and
 * what comes after dropped for as long, then the end goes.  local is
 * taken.
 */
void
answer_refuse_local(struct bufferevent *local, int status, const char *text,
    const char *extra)
{
	char			 msg[512];
	int			 len;

	len = answer_count(status, msg, sizeof(msg), text, extra);
	if (len > 0)
		bufferevent_write(local, msg, len);
	answer_linger_local(local);
}

/* answer_refuse() on fd, or on local, an in-process end, if not NULL. */
void
answer_refuse_end(int fd, struct bufferevent *local, const char *peer,
    int status, const char *text, const char *extra)
{
	if (local != NULL)
		answer_refuse_local(local, status, text, extra);
	else
		answer_refuse(fd, peer, status, text, extra);
}

/* answer_linger() for an in-process end: local is taken. */
void
answer_linger_local(struct bufferevent *local)
{
	struct answer_reject	*r;
	struct timeval		 tv = { ANSWER_DRAIN_SEC, 0 };

	kgp_local_shutdown(local);
	if ((r = calloc(1, sizeof(*r))) == NULL ||
	    (r->ev = evtimer_new(env->base, answer_drain, r)) == NULL) {
		free(r);
		kgp_local_close(local);
		return;
	}
	r->fd = -1;
	r->local = local;
	bufferevent_setcb(local, answer_local_read, NULL, answer_local_event,
	    r);
	bufferevent_enable(local, EV_READ);
	evtimer_add(r->ev, &tv);
	answer_local_read(local, r);
}

static void
answer_local_read(struct bufferevent *bev, void *arg)
{
	struct answer_reject	*r = arg;
	struct evbuffer		*in = bufferevent_get_input(bev);

	r->drained += evbuffer_get_length(in);
	evbuffer_drain(in, evbuffer_get_length(in));
	if (r->drained >= ANSWER_DRAIN_MAX)
		answer_drain(-1, EV_TIMEOUT, r);
}

/* the stream is over, or its peer has finished: nothing to wait for */
static void
answer_local_event(struct bufferevent *bev, short what, void *arg)
{
	answer_drain(-1, EV_TIMEOUT, arg);
}

/*
 * Close fd after its answer: no more is sent, and what the peer still
 * sends is read and dropped for a few seconds (ANSWER_DRAIN_SEC, at most
 * ANSWER_DRAIN_MAX bytes), so that the close does not reset what the
 * peer has not read yet.  fd is taken.
 */
void
answer_linger(int fd)
{
	struct answer_reject	*r;
	struct timeval		 tv = { ANSWER_DRAIN_SEC, 0 };

	if (shutdown(fd, SHUT_WR) == -1 ||
	    (r = calloc(1, sizeof(*r))) == NULL) {
		close(fd);
		return;
	}
	r->fd = fd;
	if ((r->ev = event_new(env->base, fd, EV_READ | EV_PERSIST,
	    answer_drain, r)) == NULL) {
		close(fd);
		free(r);
		return;
	}
	event_add(r->ev, &tv);
}

static void
answer_drain(int fd, short ev, void *arg)
{
	struct answer_reject	*r = arg;
	char			 buf[4096];
	ssize_t			 n;

	if (ev & EV_READ) {
		n = read(fd, buf, sizeof(buf));
		if (n == -1 && (errno == EAGAIN || errno == EINTR))
			return;
		if (n > 0 && (r->drained += n) < ANSWER_DRAIN_MAX)
			return;
	}
	event_free(r->ev);
	if (r->local != NULL)
		kgp_local_close(r->local);
	else
		close(r->fd);
	free(r);
}
