/*
 * connrate: new connections per second, a fresh TCP connection per request.
 * Built by bench/run.sh with cc; a small epoll loop, so that the load
 * generator costs far less CPU than the paths it measures.
 *
 *   connrate ADDR PORT TARGET PATH CONCURRENCY SECONDS
 *
 * TARGET "-": connect to ADDR:PORT and send "GET PATH" (direct).
 * TARGET host:port: ADDR:PORT is an HTTP proxy; send "CONNECT TARGET",
 * wait for its 2xx answer, then "GET PATH" through the tunnel.
 * Each connection ends when the whole response (headers and
 * Content-Length bytes of body) has arrived; then a new one is opened.
 * Prints "<completed/s> <errors>" on stdout.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

struct conn {
	int fd;
	int state;		/* 0 connecting/CONNECT sent, 1 GET sent */
	size_t have;
	char buf[4096];
};

static struct sockaddr_in sa;
static const char *target;
static char connect_req[512], get_req[512];
static int ep;
static long done, errors;

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void
start(struct conn *c)
{
	struct epoll_event ev;
	int one = 1;

	c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	if (c->fd == -1) {
		perror("socket");
		exit(1);
	}
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	c->state = target ? 0 : 1;
	c->have = 0;
	if (connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)) == -1 &&
	    errno != EINPROGRESS) {
		perror("connect");
		exit(1);
	}
	/* the request fits the socket buffer: queued before the handshake ends */
	ev.events = EPOLLOUT;
	ev.data.ptr = c;
	epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev);
}

static void
finish(struct conn *c, int ok)
{
	close(c->fd);
	if (ok)
		done++;
	else
		errors++;
	start(c);
}

/* 1 when buf holds a complete response with its body, 0 if not yet */
static int
complete(const char *buf, size_t n, size_t *hlen, long *clen)
{
	const char *e = memmem(buf, n, "\r\n\r\n", 4);
	const char *p;

	if (e == NULL)
		return 0;
	*hlen = e + 4 - buf;
	*clen = 0;
	p = strcasestr(buf, "\ncontent-length:");
	if (p != NULL && p < e)
		*clen = atol(p + 16);
	return n >= *hlen + (size_t)*clen;
}

static void
event(struct conn *c, unsigned events)
{
	struct epoll_event ev;
	size_t hlen;
	long clen;
	ssize_t r;

	if (events & EPOLLOUT) {
		const char *req = c->state == 0 ? connect_req : get_req;

		if (write(c->fd, req, strlen(req)) != (ssize_t)strlen(req)) {
			finish(c, 0);
			return;
		}
		ev.events = EPOLLIN;
		ev.data.ptr = c;
		epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
		return;
	}
	r = read(c->fd, c->buf + c->have, sizeof(c->buf) - 1 - c->have);
	if (r <= 0) {
		if (r == -1 && errno == EAGAIN)
			return;
		finish(c, 0);
		return;
	}
	c->have += r;
	c->buf[c->have] = '\0';
	if (c->state == 0) {
		if (memmem(c->buf, c->have, "\r\n\r\n", 4) == NULL)
			return;
		if (strncmp(c->buf + 8, " 2", 2) != 0) {
			finish(c, 0);
			return;
		}
		c->state = 1;
		c->have = 0;
		ev.events = EPOLLOUT;
		ev.data.ptr = c;
		epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
		return;
	}
	if (c->have >= sizeof(c->buf) - 1) {
		/* only the header matters: keep the last bytes counted */
		if (!complete(c->buf, c->have, &hlen, &clen)) {
			finish(c, 0);
			return;
		}
	}
	if (complete(c->buf, c->have, &hlen, &clen))
		finish(c, strncmp(c->buf + 8, " 200", 4) == 0);
}

int
main(int argc, char **argv)
{
	struct epoll_event evs[256];
	struct conn *conns;
	double t0, t1;
	int i, n, conc;

	if (argc != 7) {
		fprintf(stderr, "usage: connrate ADDR PORT TARGET PATH "
		    "CONCURRENCY SECONDS\n");
		return 2;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons(atoi(argv[2]));
	inet_pton(AF_INET, argv[1], &sa.sin_addr);
	target = strcmp(argv[3], "-") == 0 ? NULL : argv[3];
	conc = atoi(argv[5]);
	if (target != NULL)
		snprintf(connect_req, sizeof(connect_req),
		    "CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n", target, target);
	snprintf(get_req, sizeof(get_req),
	    "GET %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n",
	    argv[4], target ? target : argv[1]);
	ep = epoll_create1(0);
	conns = calloc(conc, sizeof(*conns));
	for (i = 0; i < conc; i++)
		start(&conns[i]);
	t0 = now();
	t1 = t0 + atof(argv[6]);
	while (now() < t1) {
		n = epoll_wait(ep, evs, 256, 100);
		for (i = 0; i < n; i++)
			event(evs[i].data.ptr, evs[i].events);
	}
	printf("%.0f %ld\n", done / (now() - t0), errors);
	return 0;
}
