/*
 * Unit tests of common/listener.c: a connection accepted goes to the
 * callback non-blocking and close-on-exec; out of descriptors, the shed
 * callback is asked once and the accept tried again; with nothing to
 * shed, accepting pauses for LISTENER_PAUSE_SEC and then resumes.
 */
#include <sys/types.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include <event2/event.h>

#include "listener.h"
#include "log.h"

#define MAXFILL	256

struct t {
	struct event_base	*base;
	struct listener		*l;
	int			 lfd;
	int			 accepted[4];
	int			 naccepted;
	int			 nshed;
	int			 fill[MAXFILL];	/* descriptors taken up */
	int			 nfill;
	struct rlimit		 rl;		/* as it was */
};

static void
accepted(int s, void *arg)
{
	struct t	*t = arg;

	assert_true(t->naccepted < 4);
	t->accepted[t->naccepted++] = s;
}

/* Shed: give back one of the descriptors taken up. */
static int
shed(void *arg)
{
	struct t	*t = arg;

	t->nshed++;
	if (t->nfill == 0)
		return (0);
	close(t->fill[--t->nfill]);
	return (1);
}

/* A listening socket: an abstract AF_UNIX one of this process. */
static int
listening(struct sockaddr_un *sun)
{
	int	 fd;

	memset(sun, 0, sizeof(*sun));
	sun->sun_family = AF_UNIX;
	snprintf(sun->sun_path + 1, sizeof(sun->sun_path) - 1,
	    "sc-test-listener-%d-%ld", (int)getpid(), (long)random());
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	assert_true(fd != -1);
	assert_int_equal(bind(fd, (struct sockaddr *)sun, sizeof(*sun)), 0);
	assert_int_equal(listen(fd, 8), 0);
	return (fd);
}

static int
connecting(const struct sockaddr_un *sun)
{
	int	 fd;

	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(fd != -1);
	assert_int_equal(connect(fd, (const struct sockaddr *)sun,
	    sizeof(*sun)), 0);
	return (fd);
}

/* Take up every descriptor left under a lowered limit. */
static void
fill_up(struct t *t)
{
	struct rlimit	 rl;
	int		 fd;

	assert_int_equal(getrlimit(RLIMIT_NOFILE, &t->rl), 0);
	rl = t->rl;
	rl.rlim_cur = MAXFILL;
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &rl), 0);
	while (t->nfill < MAXFILL && (fd = dup(0)) != -1)
		t->fill[t->nfill++] = fd;
	assert_int_equal(errno, EMFILE);
	assert_true(t->nfill > 0 && t->nfill < MAXFILL);
}

static void
fill_release(struct t *t)
{
	while (t->nfill > 0)
		close(t->fill[--t->nfill]);
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &t->rl), 0);
}

static int
setup(void **state)
{
	struct t	*t;

	assert_non_null(t = calloc(1, sizeof(*t)));
	assert_non_null(t->base = event_base_new());
	*state = t;
	return (0);
}

static int
teardown(void **state)
{
	struct t	*t = *state;
	int		 i;

	for (i = 0; i < t->naccepted; i++)
		close(t->accepted[i]);
	listener_free(t->l);
	event_base_free(t->base);
	free(t);
	return (0);
}

static void
test_accept(void **state)
{
	struct t		*t = *state;
	struct sockaddr_un	 sun;
	int			 c;

	t->lfd = listening(&sun);
	assert_non_null(t->l = listener_new(t->base, t->lfd, accepted, t));
	c = connecting(&sun);
	event_base_loop(t->base, EVLOOP_ONCE);
	assert_int_equal(t->naccepted, 1);
	assert_true(fcntl(t->accepted[0], F_GETFL) & O_NONBLOCK);
	assert_true(fcntl(t->accepted[0], F_GETFD) & FD_CLOEXEC);
	close(c);
}

/* Out of descriptors, shed makes room once: the connection is taken. */
static void
test_shed(void **state)
{
	struct t		*t = *state;
	struct sockaddr_un	 sun;
	int			 c;

	t->lfd = listening(&sun);
	assert_non_null(t->l = listener_new(t->base, t->lfd, accepted, t));
	listener_set_shed(t->l, shed, t);
	c = connecting(&sun);
	fill_up(t);
	event_base_loop(t->base, EVLOOP_ONCE);
	assert_int_equal(t->nshed, 1);
	assert_int_equal(t->naccepted, 1);
	fill_release(t);
	close(c);
}

/*
 * Nothing to shed: no connection, and no spinning (the event is off);
 * after the pause, with room again, the connection is taken.
 */
static void
test_pause(void **state)
{
	struct t		*t = *state;
	struct sockaddr_un	 sun;
	struct timespec		 t0, t1;
	int			 c, n;

	t->lfd = listening(&sun);
	assert_non_null(t->l = listener_new(t->base, t->lfd, accepted, t));
	c = connecting(&sun);
	fill_up(t);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	event_base_loop(t->base, EVLOOP_ONCE);
	assert_int_equal(t->naccepted, 0);
	fill_release(t);
	/* the next turn of the loop is the resume, not a busy accept */
	for (n = 0; n < 10 && t->naccepted == 0; n++)
		event_base_loop(t->base, EVLOOP_ONCE);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	assert_int_equal(t->naccepted, 1);
	assert_true(n <= 2);
	assert_true((t1.tv_sec - t0.tv_sec) * 1000 +
	    (t1.tv_nsec - t0.tv_nsec) / 1000000 >=
	    LISTENER_PAUSE_SEC * 1000 - 50);
	close(c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_accept, setup, teardown),
		cmocka_unit_test_setup_teardown(test_shed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pause, setup, teardown),
	};

	log_init(LOG_DST_STDERR, 0);
	return (cmocka_run_group_tests(tests, NULL, NULL));
}
