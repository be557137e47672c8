/*
 * Unit tests of proxyd/splice.c: a job moves exactly the bytes it is
 * given, in order, from a TCP socket (the app) to a socket pair (kgpd's
 * stream), leaves what follows them in the source, delivers what it read
 * before it says the source ended, and says so when the destination is
 * gone.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include <event2/event.h>

#include "splice.h"

#define MiB	(1024 * 1024)

/* one transfer: the app writes want bytes then tail, the reader checks */
struct run {
	struct event_base	*base;
	struct splice_job	*job;
	int			 app;		/* the app's end of the TCP link */
	int			 src;		/* proxyd's end of it */
	int			 dst;		/* proxyd's end of the pair */
	int			 kgpd;		/* kgpd's end of it */
	size_t			 want;		/* body bytes the app sends */
	size_t			 written;
	const char		*tail;		/* sent after the body */
	int			 app_close;	/* shut the app down after the body */
	size_t			 got;		/* bytes kgpd read */
	int			 bad;		/* a byte out of place */
	int			 kgpd_close;	/* kgpd goes after close_at bytes */
	size_t			 close_at;
	int			 result;	/* the job's last event, -1 */
	size_t			 moved;		/* summed from the callbacks */
	int			 calls_after_end;
	int			 err;		/* splice_error at the end */
	struct event		*ev_app, *ev_kgpd;
};

static unsigned char
pattern(size_t i)
{
	return ((unsigned char)(i * 7 + (i >> 12)));
}

static void
tcp_pair(int *a, int *b)
{
	struct sockaddr_in	 sin;
	socklen_t		 len = sizeof(sin);
	int			 l;

	assert_int_not_equal(l = socket(AF_INET, SOCK_STREAM, 0), -1);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(l, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(listen(l, 1), 0);
	assert_int_equal(getsockname(l, (struct sockaddr *)&sin, &len), 0);
	assert_int_not_equal(*a = socket(AF_INET, SOCK_STREAM, 0), -1);
	assert_int_equal(connect(*a, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_not_equal(*b = accept(l, NULL, NULL), -1);
	close(l);
	assert_int_equal(fcntl(*a, F_SETFL, O_NONBLOCK), 0);
	assert_int_equal(fcntl(*b, F_SETFL, O_NONBLOCK), 0);
}

static void
app_write(evutil_socket_t fd, short ev, void *arg)
{
	struct run	*r = arg;
	unsigned char	 buf[65536];
	size_t		 i, n;
	ssize_t		 w;

	while (r->written < r->want) {
		n = r->want - r->written;
		if (n > sizeof(buf))
			n = sizeof(buf);
		for (i = 0; i < n; i++)
			buf[i] = pattern(r->written + i);
		if ((w = write(r->app, buf, n)) == -1) {
			assert_int_equal(errno, EAGAIN);
			return;
		}
		r->written += w;
	}
	if (r->tail != NULL)
		assert_int_equal(write(r->app, r->tail, strlen(r->tail)),
		    (ssize_t)strlen(r->tail));
	if (r->app_close)
		shutdown(r->app, SHUT_WR);
	event_del(r->ev_app);
}

static void
kgpd_read(evutil_socket_t fd, short ev, void *arg)
{
	struct run	*r = arg;
	unsigned char	 buf[65536];
	ssize_t		 n, i;

	while ((n = read(r->kgpd, buf, sizeof(buf))) > 0) {
		for (i = 0; i < n; i++)
			if (buf[i] != pattern(r->got + i))
				r->bad = 1;
		r->got += n;
		if (r->kgpd_close && r->got >= r->close_at) {
			close(r->kgpd);
			r->kgpd = -1;
			event_del(r->ev_kgpd);
			return;
		}
	}
}

static void
job_cb(void *arg, int event, size_t moved)
{
	struct run	*r = arg;

	if (r->result != -1)
		r->calls_after_end++;
	r->moved += moved;
	if (event == SPLICE_MORE)
		return;
	r->result = event;
	r->err = splice_error(r->job);
	event_base_loopbreak(r->base);
}

static void
run_setup(struct run *r, size_t want, const char *tail)
{
	int	 sv[2];

	memset(r, 0, sizeof(*r));
	r->result = -1;
	r->want = want;
	r->tail = tail;
	assert_non_null(r->base = event_base_new());
	tcp_pair(&r->app, &r->src);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	r->dst = sv[0];
	r->kgpd = sv[1];
	assert_int_equal(fcntl(r->dst, F_SETFL, O_NONBLOCK), 0);
	assert_int_equal(fcntl(r->kgpd, F_SETFL, O_NONBLOCK), 0);
	assert_non_null(r->ev_app = event_new(r->base, r->app,
	    EV_WRITE | EV_PERSIST, app_write, r));
	assert_non_null(r->ev_kgpd = event_new(r->base, r->kgpd,
	    EV_READ | EV_PERSIST, kgpd_read, r));
	event_add(r->ev_app, NULL);
	event_add(r->ev_kgpd, NULL);
}

/* Run the loop until the job ends (bounded), then let kgpd read the rest. */
static void
run_go(struct run *r, uint64_t max)
{
	struct timeval	 limit = { 20, 0 }, settle = { 0, 200000 };

	assert_non_null(r->job = splice_start(r->base, r->src, r->dst, max,
	    job_cb, r));
	event_base_loopexit(r->base, &limit);
	event_base_dispatch(r->base);
	assert_int_not_equal(r->result, -1);
	splice_stop(r->job);
	r->job = NULL;
	if (r->kgpd != -1) {
		event_base_loopexit(r->base, &settle);
		event_base_dispatch(r->base);
	}
}

static void
run_free(struct run *r)
{
	event_free(r->ev_app);
	event_free(r->ev_kgpd);
	close(r->app);
	close(r->src);
	close(r->dst);
	if (r->kgpd != -1)
		close(r->kgpd);
	event_base_free(r->base);
}

/*
 * A 3 MiB body then the next answer's head: the job moves the body, all
 * of it in order, and not one byte of the head.
 */
static void
test_splice_exact(void **state)
{
	const char	*next = "HTTP/1.1 200 OK\r\n\r\n";
	struct run	 r;
	char		 buf[64];
	ssize_t		 n;

	run_setup(&r, 3 * MiB, next);
	run_go(&r, 3 * MiB);
	assert_int_equal(r.result, SPLICE_DONE);
	assert_int_equal(r.moved, 3 * MiB);
	assert_int_equal(r.got, 3 * MiB);
	assert_int_equal(r.bad, 0);
	assert_int_equal(r.calls_after_end, 0);
	n = read(r.src, buf, sizeof(buf));
	assert_int_equal(n, (ssize_t)strlen(next));
	assert_memory_equal(buf, next, n);
	run_free(&r);
}

/* The app closes after 1 MiB of a promised 2: all of it gets out first. */
static void
test_splice_eof(void **state)
{
	struct run	 r;

	run_setup(&r, MiB + 12345, NULL);
	r.app_close = 1;
	run_go(&r, 2 * MiB);
	assert_int_equal(r.result, SPLICE_EOF);
	assert_int_equal(r.moved, MiB + 12345);
	assert_int_equal(r.got, MiB + 12345);
	assert_int_equal(r.bad, 0);
	run_free(&r);
}

/* kgpd's end goes away in the middle: the job says so and stops. */
static void
test_splice_dest_gone(void **state)
{
	struct run	 r;

	run_setup(&r, 8 * MiB, NULL);
	r.kgpd_close = 1;
	r.close_at = 256 * 1024;
	run_go(&r, 8 * MiB);
	assert_int_equal(r.result, SPLICE_ERR_TO);
	assert_true(r.err == EPIPE || r.err == ECONNRESET);
	assert_true(r.moved >= r.close_at && r.moved < 8 * MiB);
	assert_int_equal(r.bad, 0);
	run_free(&r);
}

/* A slow reader: the job waits on it and still delivers every byte. */
static void
test_splice_slow_reader(void **state)
{
	struct run	 r;
	struct timeval	 tick = { 0, 20000 };
	int		 i;

	run_setup(&r, 4 * MiB, NULL);
	event_del(r.ev_kgpd);
	assert_non_null(r.job = splice_start(r.base, r.src, r.dst, 4 * MiB,
	    job_cb, &r));
	/* nothing read for a while: the job waits, it does not fail */
	for (i = 0; i < 5; i++) {
		event_base_loopexit(r.base, &tick);
		event_base_dispatch(r.base);
	}
	assert_int_equal(r.result, -1);
	assert_true(r.moved < 4 * MiB);
	event_add(r.ev_kgpd, NULL);
	tick.tv_sec = 20;
	event_base_loopexit(r.base, &tick);
	event_base_dispatch(r.base);
	assert_int_equal(r.result, SPLICE_DONE);
	splice_stop(r.job);
	r.job = NULL;
	tick.tv_sec = 0;
	tick.tv_usec = 200000;
	event_base_loopexit(r.base, &tick);
	event_base_dispatch(r.base);
	assert_int_equal(r.got, 4 * MiB);
	assert_int_equal(r.bad, 0);
	run_free(&r);
}

/* At most SPLICE_JOBS_MAX at once (two descriptors each); a stop frees one. */
static void
test_splice_jobs_max(void **state)
{
	struct splice_job	*j[65];
	struct run		 r;
	int			 i;

	run_setup(&r, 0, NULL);
	assert_null(splice_start(r.base, r.src, r.dst, 0, job_cb, &r));
	for (i = 0; i < 64; i++)
		assert_non_null(j[i] = splice_start(r.base, r.src, r.dst,
		    MiB, job_cb, &r));
	assert_null(splice_start(r.base, r.src, r.dst, MiB, job_cb, &r));
	splice_stop(j[10]);
	assert_non_null(j[10] = splice_start(r.base, r.src, r.dst, MiB,
	    job_cb, &r));
	for (i = 0; i < 64; i++)
		splice_stop(j[i]);
	run_free(&r);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_splice_exact),
		cmocka_unit_test(test_splice_eof),
		cmocka_unit_test(test_splice_dest_gone),
		cmocka_unit_test(test_splice_slow_reader),
		cmocka_unit_test(test_splice_jobs_max),
	};

	signal(SIGPIPE, SIG_IGN);
	return (cmocka_run_group_tests(tests, NULL, NULL));
}
