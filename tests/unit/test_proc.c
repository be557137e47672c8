/*
 * Unit tests of the dispatcher in common/proc.c: the table lookup, the
 * size, descriptor and string checks, validators, once-only messages,
 * the hello, the protocol version in peerid, the three policies for a
 * bad message (fatal, close, drop), a closed channel, and the one
 * receiver of children's log lines.  A channel is one end of a
 * socketpair read by the dispatcher in a libevent loop; the test writes
 * on the other end.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/event.h>

#include "imsg_types.h"
#include "log.h"
#include "proc.h"

#define T_HELLO		1001
#define T_DATA		1002	/* exactly 8 bytes */
#define T_RANGE		1003	/* 2 to 4 bytes */
#define T_FD		1004	/* a descriptor, no payload */
#define T_FDOPT		1005	/* a descriptor or none */
#define T_STRING	1006	/* one string of at most 8 bytes */
#define T_VALID		1007	/* uint32 below 10 */
#define T_REFUSE	1008	/* the handler says it is bad */
#define T_CLOSE		1009	/* the handler closes the channel */

struct chan {
	struct event_base	*base;
	int			 sv[2];
	struct imsgbuf		 w;	/* the peer, on sv[0] */
	struct imsgev		 iev;	/* read by the dispatcher, sv[1] */
};

static int		 handled[16];
static int		 last_fd;
static int		 bad_calls, gone_calls;
static enum imsgev_error bad_error;
static char		 bad_why[128];
static char		 logged[256];
static int		 logged_pri;

static int
h_count(struct imsgev *iev, struct imsg *imsg)
{
	handled[imsg->hdr.type - 1000]++;
	if (imsg->fd != -1)
		last_fd = imsg_get_fd(imsg);
	return (IMSGEV_OK);
}

static int
h_refuse(struct imsgev *iev, struct imsg *imsg)
{
	handled[imsg->hdr.type - 1000]++;
	return (IMSGEV_BAD);
}

static int
h_close(struct imsgev *iev, struct imsg *imsg)
{
	handled[imsg->hdr.type - 1000]++;
	imsgev_clear(iev);
	return (IMSGEV_GONE);
}

static int
v_below10(const void *p, size_t len)
{
	uint32_t	 v;

	memcpy(&v, p, sizeof(v));
	return (v < 10 ? 0 : -1);
}

static void
p_bad(struct imsgev *iev, struct imsg *imsg, enum imsgev_error error,
    const char *why)
{
	bad_calls++;
	bad_error = error;
	strlcpy(bad_why, why, sizeof(bad_why));
	imsgev_clear(iev);
}

static void
p_gone(struct imsgev *iev)
{
	gone_calls++;
	imsgev_clear(iev);
}

static const struct imsgev_msg msgs[] = {
	{ IMSGEV_TYPE(T_HELLO), IMSGEV_EMPTY, IMSGEV_HELLO | IMSGEV_ONCE,
	    NULL, h_count },
	IMSGEV_MSG_LOG,
	{ IMSGEV_TYPE(T_DATA), IMSGEV_SIZE(uint64_t), 0, NULL, h_count },
	{ IMSGEV_TYPE(T_RANGE), 2, 4, 0, NULL, h_count },
	{ IMSGEV_TYPE(T_FD), IMSGEV_EMPTY, IMSGEV_FD, NULL, h_count },
	{ IMSGEV_TYPE(T_FDOPT), IMSGEV_EMPTY, IMSGEV_FDOPT, NULL, h_count },
	{ IMSGEV_TYPE(T_STRING), 1, 8, IMSGEV_STRING, NULL, h_count },
	{ IMSGEV_TYPE(T_VALID), IMSGEV_SIZE(uint32_t), 0, v_below10,
	    h_count },
	{ IMSGEV_TYPE(T_REFUSE), IMSGEV_EMPTY, 0, NULL, h_refuse },
	{ IMSGEV_TYPE(T_CLOSE), IMSGEV_EMPTY, 0, NULL, h_close },
	IMSGEV_END
};

static const struct imsgev_peer peer_close = {
	"child", IMSGEV_CLOSE, 0, msgs, p_gone, p_bad
};
static const struct imsgev_peer peer_drop = {
	"stream peer", IMSGEV_DROP, 0, msgs, p_gone, NULL
};
static const struct imsgev_peer peer_fatal = {
	"parent", IMSGEV_FATAL, 0, msgs, p_gone, NULL
};
static const struct imsgev_peer peer_version = {
	"client", IMSGEV_CLOSE, 7, msgs, p_gone, p_bad
};

static void
sink(int pri, const char *msg)
{
	logged_pri = pri;
	strlcpy(logged, msg, sizeof(logged));
}

static struct chan *
chan_new(const struct imsgev_peer *p)
{
	struct chan	*c;

	memset(handled, 0, sizeof(handled));
	bad_calls = gone_calls = 0;
	bad_error = 0;
	bad_why[0] = logged[0] = '\0';
	last_fd = -1;
	if ((c = calloc(1, sizeof(*c))) == NULL)
		fail();
	assert_non_null(c->base = event_base_new());
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, c->sv), 0);
	assert_int_equal(set_nonblock(c->sv[1]), 0);
	imsg_init(&c->w, c->sv[0]);
	imsgev_open(&c->iev, c->base, c->sv[1], p, NULL);
	log_set_sink(sink);
	return (c);
}

static void
chan_free(struct chan *c)
{
	imsgev_clear(&c->iev);
	imsg_clear(&c->w);
	close(c->sv[0]);
	event_base_free(c->base);
	if (last_fd != -1)
		close(last_fd);
	free(c);
	log_set_sink(NULL);
}

/* The peer sends one message; the dispatcher reads what is there. */
static void
chan_send(struct chan *c, uint32_t type, uint32_t peerid, int fd,
    const void *data, size_t len)
{
	int	 i;

	assert_int_equal(imsg_compose(&c->w, type, peerid, 0, fd, data, len),
	    1);
	assert_int_equal(imsg_flush(&c->w), 0);
	for (i = 0; i < 3; i++)
		event_base_loop(c->base, EVLOOP_NONBLOCK);
}

static void
hello(struct chan *c)
{
	chan_send(c, T_HELLO, 0, -1, NULL, 0);
	assert_int_equal(handled[T_HELLO - 1000], 1);
}

/* each type to its handler; one the peer may not send is bad */
static void
test_lookup(void **state)
{
	struct chan	*c = chan_new(&peer_close);
	uint64_t	 u = 1;

	hello(c);
	chan_send(c, T_DATA, 0, -1, &u, sizeof(u));
	chan_send(c, T_DATA, 0, -1, &u, sizeof(u));
	assert_int_equal(handled[T_DATA - 1000], 2);
	assert_int_equal(bad_calls, 0);
	chan_send(c, 77, 0, -1, NULL, 0);
	assert_int_equal(bad_calls, 1);
	assert_int_equal(bad_error, IMSGEV_ETYPE);
	assert_string_equal(bad_why, "unexpected message 77");
	/* bad() closed the channel: nothing more is read */
	assert_int_equal(c->iev.ibuf.fd, -1);
	chan_free(c);
}

/* exact sizes and ranges, both ends */
static void
test_sizes(void **state)
{
	struct chan	*c;
	uint8_t		 b[16];
	size_t		 len;

	memset(b, 0, sizeof(b));
	for (len = 0; len <= 6; len++) {
		c = chan_new(&peer_close);
		hello(c);
		chan_send(c, T_RANGE, 0, -1, b, len);
		if (len >= 2 && len <= 4) {
			assert_int_equal(handled[T_RANGE - 1000], 1);
			assert_int_equal(bad_calls, 0);
		} else {
			assert_int_equal(handled[T_RANGE - 1000], 0);
			assert_int_equal(bad_error, IMSGEV_ESIZE);
		}
		chan_free(c);
	}
	c = chan_new(&peer_close);
	hello(c);
	chan_send(c, T_DATA, 0, -1, b, 7);
	assert_int_equal(bad_error, IMSGEV_ESIZE);
	assert_string_equal(bad_why, "bad T_DATA (7 bytes)");
	chan_free(c);
	c = chan_new(&peer_close);
	hello(c);
	chan_send(c, T_DATA, 0, -1, b, 9);
	assert_int_equal(bad_error, IMSGEV_ESIZE);
	chan_free(c);
}

/* a descriptor where one belongs, none elsewhere */
static void
test_descriptors(void **state)
{
	struct chan	*c;
	int		 p[2];

	c = chan_new(&peer_close);
	hello(c);
	assert_int_equal(pipe(p), 0);
	chan_send(c, T_FD, 0, p[0], NULL, 0);
	assert_int_equal(handled[T_FD - 1000], 1);
	assert_true(last_fd != -1);
	chan_send(c, T_FDOPT, 0, -1, NULL, 0);
	assert_int_equal(handled[T_FDOPT - 1000], 1);
	chan_send(c, T_FD, 0, -1, NULL, 0);
	assert_int_equal(bad_error, IMSGEV_EFD);
	assert_string_equal(bad_why, "bad T_FD (no descriptor)");
	close(p[1]);
	chan_free(c);

	c = chan_new(&peer_close);
	hello(c);
	assert_int_equal(pipe(p), 0);
	chan_send(c, T_RANGE, 0, p[0], "ab", 2);
	assert_int_equal(handled[T_RANGE - 1000], 0);
	assert_int_equal(bad_error, IMSGEV_EFD);
	/* the dispatcher closed the descriptor it refused */
	assert_int_equal(write(p[1], "x", 1), -1);
	assert_int_equal(errno, EPIPE);
	close(p[1]);
	chan_free(c);
}

/* a string must end where the payload ends: never cut */
static void
test_strings(void **state)
{
	struct chan	*c;

	c = chan_new(&peer_close);
	hello(c);
	chan_send(c, T_STRING, 0, -1, "abc", 4);
	assert_int_equal(handled[T_STRING - 1000], 1);
	chan_send(c, T_STRING, 0, -1, "abcd", 4);
	assert_int_equal(bad_error, IMSGEV_EINVAL);
	assert_string_equal(bad_why, "bad T_STRING");
	chan_free(c);

	c = chan_new(&peer_close);
	hello(c);
	chan_send(c, T_STRING, 0, -1, "ab\0cd", 6);
	assert_int_equal(handled[T_STRING - 1000], 0);
	assert_int_equal(bad_error, IMSGEV_EINVAL);
	chan_free(c);
}

/* the validator, and a handler that finds the payload bad */
static void
test_validators(void **state)
{
	struct chan	*c;
	uint32_t	 v = 9;

	c = chan_new(&peer_close);
	hello(c);
	chan_send(c, T_VALID, 0, -1, &v, sizeof(v));
	assert_int_equal(handled[T_VALID - 1000], 1);
	v = 10;
	chan_send(c, T_VALID, 0, -1, &v, sizeof(v));
	assert_int_equal(handled[T_VALID - 1000], 1);
	assert_int_equal(bad_error, IMSGEV_EINVAL);
	assert_string_equal(bad_why, "bad T_VALID");
	chan_free(c);

	c = chan_new(&peer_close);
	hello(c);
	chan_send(c, T_REFUSE, 0, -1, NULL, 0);
	assert_int_equal(handled[T_REFUSE - 1000], 1);
	assert_int_equal(bad_error, IMSGEV_EINVAL);
	assert_string_equal(bad_why, "bad T_REFUSE");
	chan_free(c);
}

/* the hello first (log lines may come before it), and only once */
static void
test_hello_once(void **state)
{
	struct chan	*c;
	uint64_t	 u = 1;
	char		 buf[32];
	int32_t		 pri = LOG_INFO;

	c = chan_new(&peer_close);
	memcpy(buf, &pri, sizeof(pri));
	strlcpy(buf + sizeof(pri), "early", sizeof(buf) - sizeof(pri));
	chan_send(c, IMSG_LOG, 0, -1, buf, sizeof(pri) + 6);
	assert_string_equal(logged, "early");
	assert_int_equal(bad_calls, 0);
	chan_send(c, T_DATA, 0, -1, &u, sizeof(u));
	assert_int_equal(handled[T_DATA - 1000], 0);
	assert_int_equal(bad_error, IMSGEV_EHELLO);
	assert_string_equal(bad_why, "message 1002 before hello");
	chan_free(c);

	c = chan_new(&peer_close);
	hello(c);
	chan_send(c, T_HELLO, 0, -1, NULL, 0);
	assert_int_equal(handled[T_HELLO - 1000], 1);
	assert_int_equal(bad_calls, 1);
	assert_int_equal(bad_error, IMSGEV_EONCE);
	assert_string_equal(bad_why, "T_HELLO again");
	chan_free(c);

	/* a new channel (a restarted peer) may say hello again */
	c = chan_new(&peer_close);
	hello(c);
	imsgev_clear(&c->iev);
	close(c->sv[0]);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, c->sv), 0);
	imsg_clear(&c->w);
	imsg_init(&c->w, c->sv[0]);
	imsgev_replace(&c->iev, c->sv[1]);
	chan_send(c, T_HELLO, 0, -1, NULL, 0);
	assert_int_equal(handled[T_HELLO - 1000], 2);
	assert_int_equal(bad_calls, 0);
	chan_free(c);
}

/* a peer with a version: every message's peerid */
static void
test_version(void **state)
{
	struct chan	*c;

	c = chan_new(&peer_version);
	chan_send(c, T_HELLO, 7, -1, NULL, 0);
	assert_int_equal(handled[T_HELLO - 1000], 1);
	chan_send(c, T_FDOPT, 6, -1, NULL, 0);
	assert_int_equal(handled[T_FDOPT - 1000], 0);
	assert_int_equal(bad_error, IMSGEV_EVERSION);
	assert_string_equal(bad_why, "protocol version 6, not 7");
	chan_free(c);
}

/* fn, in a process of its own, must end it with exit status 1 */
static void
exits_1(void (*fn)(void))
{
	pid_t	 pid;
	int	 status;

	pid = fork();
	assert_true(pid != -1);
	if (pid == 0) {
		fn();
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 1);
}

/* a broken header on a stream channel */
static void
broken_header(void)
{
	struct chan	*c = chan_new(&peer_drop);
	struct imsg_hdr	 h;

	log_set_sink(NULL);
	memset(&h, 0, sizeof(h));
	h.type = T_DATA;
	h.len = 3;
	if (write(c->sv[0], &h, sizeof(h)) != sizeof(h))
		_exit(2);
	event_base_loop(c->base, EVLOOP_NONBLOCK);
}

/* a second hello from the trusted parent */
static void
parent_hello_twice(void)
{
	struct chan	*c = chan_new(&peer_fatal);

	log_set_sink(NULL);
	hello(c);
	chan_send(c, T_HELLO, 0, -1, NULL, 0);
}

/* a stream channel: a bad message is logged and dropped, no more */
static void
test_policy_drop(void **state)
{
	struct chan	*c;
	uint64_t	 u = 1;
	uint32_t	 v = 99;

	c = chan_new(&peer_drop);
	hello(c);
	chan_send(c, 9999, 17, -1, NULL, 0);
	assert_string_equal(logged,
	    "unexpected message 9999 from stream peer (stream 17): dropped");
	chan_send(c, T_VALID, 3, -1, &v, sizeof(v));
	assert_string_equal(logged,
	    "bad T_VALID from stream peer (stream 3): dropped");
	chan_send(c, T_HELLO, 0, -1, NULL, 0);
	assert_int_equal(handled[T_HELLO - 1000], 1);
	chan_send(c, T_DATA, 0, -1, &u, sizeof(u));
	assert_int_equal(handled[T_DATA - 1000], 1);
	assert_int_equal(bad_calls, 0);
	assert_int_equal(gone_calls, 0);
	chan_free(c);

	/* a broken header: nothing after it is a message, the process ends */
	exits_1(broken_header);
}

/* the trusted parent: its bad message ends the process */
static void
test_policy_fatal(void **state)
{
	exits_1(parent_hello_twice);
}

/* the channel closes: gone(); a handler that closes it stops the reading */
static void
test_gone(void **state)
{
	struct chan	*c;

	c = chan_new(&peer_close);
	hello(c);
	close(c->sv[0]);
	c->sv[0] = open("/dev/null", O_RDONLY);
	event_base_loop(c->base, EVLOOP_NONBLOCK);
	assert_int_equal(gone_calls, 1);
	assert_int_equal(bad_calls, 0);
	chan_free(c);

	c = chan_new(&peer_close);
	hello(c);
	assert_int_equal(imsg_compose(&c->w, T_CLOSE, 0, 0, -1, NULL, 0), 1);
	assert_int_equal(imsg_compose(&c->w, T_REFUSE, 0, 0, -1, NULL, 0), 1);
	chan_send(c, T_CLOSE, 0, -1, NULL, 0);
	assert_int_equal(handled[T_CLOSE - 1000], 1);
	assert_int_equal(handled[T_REFUSE - 1000], 0);
	assert_int_equal(bad_calls, 0);
	chan_free(c);
}

/* log lines: the priority checked, the text made one printable line */
static void
test_log_receiver(void **state)
{
	struct chan	*c;
	char		 buf[64];
	int32_t		 pri = LOG_WARNING;
	size_t		 n;

	c = chan_new(&peer_close);
	memcpy(buf, &pri, sizeof(pri));
	n = strlcpy(buf + sizeof(pri), "one\nforged line\x1b[0m",
	    sizeof(buf) - sizeof(pri));
	chan_send(c, IMSG_LOG, 0, -1, buf, sizeof(pri) + n + 1);
	assert_string_equal(logged, "one?forged line?[0m");
	assert_int_equal(logged_pri, LOG_WARNING);
	/* not terminated: a bad message, not a cut line */
	chan_send(c, IMSG_LOG, 0, -1, buf, sizeof(pri) + n);
	assert_int_equal(bad_error, IMSGEV_EINVAL);
	assert_string_equal(bad_why, "bad IMSG_LOG");
	chan_free(c);

	c = chan_new(&peer_close);
	pri = LOG_DEBUG + 1;
	memcpy(buf, &pri, sizeof(pri));
	chan_send(c, IMSG_LOG, 0, -1, buf, sizeof(pri) + n + 1);
	assert_int_equal(bad_error, IMSGEV_EINVAL);
	chan_free(c);
}

/*
 * imsg_compose_now(): in the socket before the loop turns, where
 * imsg_compose_event() leaves it queued for EV_WRITE; nothing left
 * queued, the event waits for reading alone
 */
static void
test_compose_now(void **state)
{
	struct chan	*c = chan_new(&peer_close);
	struct imsg	 imsg;
	uint64_t	 u = 42, got;

	assert_int_equal(set_nonblock(c->sv[0]), 0);
	assert_int_equal(imsg_compose_event(&c->iev, T_DATA, 0, 0, -1, &u,
	    sizeof(u)), 1);
	assert_int_equal(imsg_read(&c->w), -1);
	assert_int_equal(errno, EAGAIN);
	assert_true(c->iev.events & EV_WRITE);
	event_base_loop(c->base, EVLOOP_NONBLOCK);
	assert_true(imsg_read(&c->w) > 0);
	assert_true(imsg_get(&c->w, &imsg) > 0);
	imsg_free(&imsg);

	u = 43;
	assert_int_equal(imsg_compose_now(&c->iev, T_DATA, 0, 0, -1, &u,
	    sizeof(u)), 0);
	assert_int_equal(c->iev.ibuf.w.queued, 0);
	assert_int_equal(c->iev.events, EV_READ);
	assert_true(imsg_read(&c->w) > 0);
	assert_true(imsg_get(&c->w, &imsg) > 0);
	assert_int_equal(imsg.hdr.type, T_DATA);
	assert_int_equal(IMSG_DATA_SIZE(&imsg), sizeof(got));
	memcpy(&got, imsg.data, sizeof(got));
	assert_int_equal(got, 43);
	imsg_free(&imsg);
	chan_free(c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lookup),
		cmocka_unit_test(test_sizes),
		cmocka_unit_test(test_descriptors),
		cmocka_unit_test(test_strings),
		cmocka_unit_test(test_validators),
		cmocka_unit_test(test_hello_once),
		cmocka_unit_test(test_version),
		cmocka_unit_test(test_policy_drop),
		cmocka_unit_test(test_policy_fatal),
		cmocka_unit_test(test_gone),
		cmocka_unit_test(test_log_receiver),
		cmocka_unit_test(test_compose_now),
	};

	signal(SIGPIPE, SIG_IGN);
	return (cmocka_run_group_tests(tests, NULL, NULL));
}
