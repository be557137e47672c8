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

#include "http.h"
#include "log.h"
#include "server.h"

#define ANSWER_DRAIN_SEC	5
#define ANSWER_DRAIN_MAX	(64 * 1024)

/* a refused connection: the answer is written, the request drained */
struct answer_reject {
	int			 fd;
	size_t			 drained;
	struct event		*ev;
};

static void	 answer_drain(int, short, void *);

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
 * Answer with an error status and close.  The request is read and dropped
 * for a few seconds so that closing does not reset the connection before
 * the client has read the answer.
 */
void
answer_refuse(int fd, const char *peer, int status, const char *text,
    const char *extra)
{
	struct answer_reject	*r;
	struct timeval		 tv = { ANSWER_DRAIN_SEC, 0 };
	char			 msg[512];
	int			 len, i;

	for (i = 0; i < ENTRY_CODES_MAX - 1 && answer_codes[i] != status; i++)
		;
	answer_refused[i]++;

	len = snprintf(msg, sizeof(msg), "HTTP/1.1 %d %s\r\n"
	    "Content-Type: text/plain\r\n"
	    "Content-Length: %zu\r\n"
	    "%s"
	    "Connection: close\r\n"
	    "\r\n"
	    "%s\n", status, http_status_text(status), strlen(text) + 1,
	    extra ? extra : "", text);
	if (len > 0 && (size_t)len < sizeof(msg) &&
	    write(fd, msg, len) == -1)
		log_debug("answer: write to %s: %s", peer, strerror(errno));
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
	close(r->fd);
	free(r);
}
