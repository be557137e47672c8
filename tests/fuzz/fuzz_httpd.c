/*
 * Fuzz target: the API server of common/httpd.c (the REST port of
 * sc-server and sc's own --api-address) fed a client's byte stream over
 * a socket pair, in pieces, with the event loop run between pieces.  The
 * first input byte chooses
 *
 *	bits 0-3  the size of a piece, 1 + 37 * n bytes
 *	bit 4	  the callback answers a round later instead of at once
 *	bit 5	  the client shuts its write side after the last piece
 *	bit 6	  the client closes at once after the last piece, with
 *		  answers still pending
 *	bit 7	  small bounds: a 64-byte body limit, one waiting
 *		  connection
 *
 * Every request handed to the callback must have a method, a target
 * starting with '/', and a body within the bound; every answer the
 * client reads must start as an HTTP/1.1 status line.  Nothing the
 * client sends may crash the server, leak, or make it loop.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "httpd.h"
#include "log.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define FZ_PENDING	8
#define FZ_ROUNDS	64

struct fuzzstate {
	struct httpd_req	*pending[FZ_PENDING];
	int			 npending;
	int			 later;
	size_t			 max_body;
	unsigned int		 calls;
};

static struct event_base	*base;

static void
fz_answer(struct httpd_req *r)
{
	const char	*target = httpd_req_target(r);

	if (httpd_req_gone(r)) {
		/* still a valid request: the answer is dropped */
		httpd_reply(r, 200, "text/plain", NULL, "", 0);
		return;
	}
	if (strcmp(httpd_req_method(r), "POST") == 0)
		httpd_error(r, 400, "no posts here");
	else
		httpd_reply(r, 200, "text/plain", NULL, target,
		    strlen(target));
}

static void
fz_request(struct httpd_req *r, void *arg)
{
	struct fuzzstate	*st = arg;
	const char		*m, *t, *body;
	char			 path[256];
	size_t			 len;

	st->calls++;
	m = httpd_req_method(r);
	t = httpd_req_target(r);
	if (m == NULL || *m == '\0' || t == NULL || *t != '/')
		abort();
	body = httpd_req_body(r, &len);
	if (len > st->max_body || (len > 0 && body == NULL))
		abort();
	(void)httpd_req_header(r, "Host");
	(void)httpd_req_header(r, "Authorization");
	(void)httpd_req_peer(r);
	if ((len & 1) == 0 && strcmp(m, "OPTIONS") != 0) {
		/* as the REST worker does for GET-only paths */
		if (httpd_get_path(r, path, sizeof(path)) == NULL)
			return;		/* answered 405 */
		if (strlen(path) >= sizeof(path) || (path[0] != '\0' &&
		    path[0] != '/'))
			abort();
	}
	if (st->later && st->npending < FZ_PENDING) {
		st->pending[st->npending++] = r;
		return;
	}
	fz_answer(r);
}

static void
fz_flush(struct fuzzstate *st)
{
	int	 i;

	for (i = 0; i < st->npending; i++)
		fz_answer(st->pending[i]);
	st->npending = 0;
}

/* Read what the server wrote; -1 at its end of the connection. */
static int
fz_drain(int fd, int *seen)
{
	char	 buf[8192];
	ssize_t	 n;

	for (;;) {
		n = read(fd, buf, sizeof(buf));
		if (n == 0)
			return (-1);
		if (n == -1)
			return (0);
		if (!*seen) {
			if (n < 9 && memcmp(buf, "HTTP/1.1 ", n) != 0)
				abort();
			if (n >= 9 && memcmp(buf, "HTTP/1.1 ", 9) != 0)
				abort();
			*seen = 1;
		}
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzzstate	 st;
	struct httpd_config	 cfg;
	struct httpd		*srv;
	size_t			 piece, off, n;
	ssize_t			 w;
	int			 sv[2], flags, round, closed = 0, seen = 0;

	if (size < 1)
		return (0);
	if (base == NULL) {
		signal(SIGPIPE, SIG_IGN);
		log_init(LOG_DST_STDERR, 0);
		if ((base = event_base_new()) == NULL)
			abort();
	}
	flags = data[0];
	data++;
	size--;
	piece = 1 + 37 * (flags & 0x0f);

	memset(&st, 0, sizeof(st));
	st.later = (flags & 0x10) != 0;
	st.max_body = (flags & 0x80) ? 64 : 64 * 1024;
	memset(&cfg, 0, sizeof(cfg));
	cfg.name = "fuzz";
	cfg.max_body = st.max_body;
	cfg.request_ms = 10000;
	cfg.request_min_ms = 1000;
	cfg.answer_ms = 10000;
	cfg.waiting_addr = (flags & 0x80) ? 1 : 16;
	cfg.waiting_max = (flags & 0x80) ? 1 : 64;
	cfg.request = fz_request;
	cfg.arg = &st;
	if ((srv = httpd_new(base, &cfg)) == NULL)
		abort();
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv) == -1)
		abort();
	if (httpd_accept(srv, sv[0]) == -1) {
		close(sv[1]);
		httpd_free(srv);
		return (0);
	}

	for (off = 0, round = 0; round < FZ_ROUNDS * 4 && !closed;
	    round++) {
		if (off < size) {
			n = size - off < piece ? size - off : piece;
			w = write(sv[1], data + off, n);
			if (w > 0)
				off += w;
		} else if (round > FZ_ROUNDS)
			break;
		else if (flags & 0x40)
			break;
		else if (flags & 0x20)
			shutdown(sv[1], SHUT_WR);
		event_base_loop(base, EVLOOP_NONBLOCK);
		fz_flush(&st);
		event_base_loop(base, EVLOOP_NONBLOCK);
		if (fz_drain(sv[1], &seen) == -1)
			closed = 1;
	}
	close(sv[1]);
	event_base_loop(base, EVLOOP_NONBLOCK);
	fz_flush(&st);
	event_base_loop(base, EVLOOP_NONBLOCK);
	httpd_free(srv);
	/* requests the callback held past the end are still answerable */
	fz_flush(&st);
	event_base_loop(base, EVLOOP_NONBLOCK);
	return (0);
}
