/*
 * Unit tests of the sc-server parent's relays between its workers
 * (server/parent_relay.c) with two KGP workers (--kgp-workers 2): which
 * worker a tunnel's messages reach, which reports of a tunnel reach the
 * REST worker, and what a KGP worker's restart makes the parent pass
 * on.  Each worker is a channel whose other end the test reads.
 */
#include <sys/types.h>
#include <sys/queue.h>
#include <sys/socket.h>

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include <cmocka.h>

#include "imsg.h"
#include "imsg_server.h"
#include "log.h"
#include "proc.h"
#include "server.h"
#include "parent_int.h"

static struct server_env	 senv;
struct server_env		*env = &senv;

/* parent.c's workers[]: KGP worker 0, REST, CA, KGP worker 1 */
static struct srv_worker	 workers[WORKERS_MAX];
static int			 peer_fd[WORKERS_MAX];
static struct imsgbuf		 peer[WORKERS_MAX];

/* the last log line */
static char			 logged[1024];

#define K0	(&workers[0])
#define REST	(&workers[1])
#define K1	(&workers[3])

#define ID_A	"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define ID_B	"bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"

/* a cluster's, not used here */
void
node_tunnel_state(const struct srv_tstate *ts)
{
	(void)ts;
}

void
node_kgp_stats(const struct srv_kgp_stats *s)
{
	(void)s;
}

static void
sink(int pri, const char *line)
{
	(void)pri;
	strlcpy(logged, line, sizeof(logged));
}

static int
setup(void **state)
{
	struct srv_worker	*w;
	int			 i, sv[2];

	(void)state;
	memset(&senv, 0, sizeof(senv));
	senv.kgp_workers = 2;
	memset(workers, 0, sizeof(workers));
	for (i = 0; i < 4; i++) {
		w = &workers[i];
		if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == -1)
			fail_msg("socketpair: %s", strerror(errno));
		/* no event: imsg_event_add() leaves it */
		imsg_init(&w->iev.ibuf, sv[0]);
		w->iev.data = w;
		peer_fd[i] = sv[1];
		if (fcntl(sv[1], F_SETFL, O_NONBLOCK) == -1)
			fail_msg("fcntl: %s", strerror(errno));
		imsg_init(&peer[i], sv[1]);
		w->chan = w->ready = 1;
	}
	K0->kgp_index = 0;
	K0->kgp_port = 4000;
	K0->role = SRV_ROLE_KGP;
	K1->kgp_index = 1;
	K1->kgp_port = 4001;
	K1->role = SRV_ROLE_KGP;
	REST->role = SRV_ROLE_REST;
	parent_relay_init(workers);
	logged[0] = '\0';
	log_setverbose(LOG_LEVEL_TRACE);
	log_set_sink(sink);
	return (0);
}

static int
teardown(void **state)
{
	int	 i;

	(void)state;
	log_set_sink(NULL);
	/* the places of the test: each worker dies */
	parent_kgp_gone(K0);
	parent_kgp_gone(K1);
	for (i = 0; i < 4; i++) {
		imsg_clear(&workers[i].iev.ibuf);
		close(workers[i].iev.ibuf.fd);
		imsg_clear(&peer[i]);
		close(peer_fd[i]);
	}
	return (0);
}

/*
 * What w got since the last call: "TYPE:id" for each message, one space
 * between, into buf ("" for none).  Every payload here starts with the
 * tunnel's id.
 */
static const char *
got(struct srv_worker *w, char *buf, size_t len)
{
	struct imsg	 imsg;
	struct imsgbuf	*ib = &peer[w - workers];
	const char	*name;
	char		 one[128];
	ssize_t		 n;

	buf[0] = '\0';
	if (imsg_flush(&w->iev.ibuf) == -1)
		fail_msg("imsg_flush: %s", strerror(errno));
	if ((n = imsg_read(ib)) == -1 && errno != EAGAIN)
		fail_msg("imsg_read: %s", strerror(errno));
	for (;;) {
		if ((n = imsg_get(ib, &imsg)) == -1)
			fail_msg("imsg_get");
		if (n == 0)
			break;
		switch (imsg.hdr.type) {
		case IMSG_SRV_TUNNEL_ADD:
			name = "ADD";
			break;
		case IMSG_SRV_TUNNEL_RULES:
			name = "RULES";
			break;
		case IMSG_SRV_TUNNEL_STATE:
			name = "STATE";
			break;
		case IMSG_SRV_TUNNEL_DEL:
			name = "DEL";
			break;
		case IMSG_SRV_KGP_NEXT:
			imsg_free(&imsg);
			continue;
		default:
			name = "OTHER";
			break;
		}
		if (IMSG_DATA_SIZE(&imsg) > TUNNEL_ID_LEN)
			snprintf(one, sizeof(one), "%s%s:%.4s", buf[0] ? " " :
			    "", name, (const char *)imsg.data);
		else
			snprintf(one, sizeof(one), "%s%s", buf[0] ? " " : "",
			    name);
		strlcat(buf, one, len);
		imsg_free(&imsg);
	}
	return (buf);
}

/* a message of type from w, len bytes of data, to handler h */
static void
from(struct srv_worker *w, int (*h)(struct imsgev *, struct imsg *),
    uint32_t type, void *data, size_t len)
{
	struct imsg	 imsg;

	memset(&imsg, 0, sizeof(imsg));
	imsg.hdr.type = type;
	imsg.hdr.len = IMSG_HEADER_SIZE + len;
	imsg.fd = -1;
	imsg.data = data;
	assert_int_equal(h(&w->iev, &imsg), IMSGEV_OK);
}

/* The REST worker's rules of tunnel id (none), then its TUNNEL_ADD. */
static void
rest_add(const char *id, uint32_t mode, int kgp_port)
{
	struct srv_tunnel_rules	 h;
	struct srv_tunnel_add	 a;

	if (mode != SRV_ADD_SYNC) {
		memset(&h, 0, sizeof(h));
		strlcpy(h.id, id, sizeof(h.id));
		h.kgp_port = kgp_port;
		from(REST, parent_to_kgp, IMSG_SRV_TUNNEL_RULES, &h, sizeof(h));
	}
	memset(&a, 0, sizeof(a));
	strlcpy(a.id, id, sizeof(a.id));
	a.mode = mode;
	a.kgp_port = kgp_port;
	from(REST, parent_tunnel_add, IMSG_SRV_TUNNEL_ADD, &a, sizeof(a));
}

/* KGP worker w reports tunnel id; what the REST worker hears: port */
static int
report(struct srv_worker *w, const char *id, uint32_t status)
{
	struct srv_tstate	 ts;
	struct imsg		 imsg;
	char			 buf[256];
	int			 port = -1;
	ssize_t			 n;

	memset(&ts, 0, sizeof(ts));
	strlcpy(ts.id, id, sizeof(ts.id));
	ts.status = status;
	from(w, parent_to_rest, IMSG_SRV_TUNNEL_STATE, &ts, sizeof(ts));
	if (imsg_flush(&REST->iev.ibuf) == -1)
		fail_msg("imsg_flush: %s", strerror(errno));
	if (imsg_read(&peer[1]) == -1 && errno != EAGAIN)
		fail_msg("imsg_read: %s", strerror(errno));
	/* what a new tunnel's KGP port is now: not this */
	while ((n = imsg_get(&peer[1], &imsg)) > 0 &&
	    imsg.hdr.type == IMSG_SRV_KGP_NEXT)
		imsg_free(&imsg);
	if (n == -1)
		fail_msg("imsg_get");
	if (n == 0)
		return (-1);	/* none */
	assert_int_equal(imsg.hdr.type, IMSG_SRV_TUNNEL_STATE);
	memcpy(&ts, imsg.data, sizeof(ts));
	assert_string_equal(ts.id, id);
	port = ts.kgp_port;
	imsg_free(&imsg);
	assert_string_equal(got(REST, buf, sizeof(buf)), "");
	return (port);
}

/* A new tunnel goes to the emptier worker; its report names its port. */
static void
test_new(void **state)
{
	char	 buf[256];

	(void)state;
	rest_add(ID_A, SRV_ADD_NEW, 0);
	assert_string_equal(got(K0, buf, sizeof(buf)), "RULES:aaaa ADD:aaaa");
	assert_int_equal(report(K0, ID_A, TUNNEL_RUNNING), 4000);
	rest_add(ID_B, SRV_ADD_NEW, 0);
	assert_string_equal(got(K1, buf, sizeof(buf)), "RULES:bbbb ADD:bbbb");
	assert_string_equal(got(K0, buf, sizeof(buf)), "");
	assert_int_equal(report(K1, ID_B, TUNNEL_RUNNING), 4001);
	assert_int_equal(K0->ntunnels, 1);
	assert_int_equal(K1->ntunnels, 1);
}

/* A worker's report of another's tunnel, or of one placed nowhere: none */
static void
test_report_not_its(void **state)
{
	char	 buf[256];

	(void)state;
	rest_add(ID_A, SRV_ADD_NEW, 0);
	assert_string_equal(got(K0, buf, sizeof(buf)), "RULES:aaaa ADD:aaaa");
	assert_int_equal(report(K1, ID_A, TUNNEL_RUNNING), -1);
	assert_non_null(strstr(logged, "which is worker 0's: dropped"));
	assert_int_equal(report(K1, ID_B, TUNNEL_RUNNING), -1);
	assert_non_null(strstr(logged, ID_B));
	assert_non_null(strstr(logged, "placed nowhere"));
	assert_int_equal(report(K1, ID_B, TUNNEL_TERMINATED), -1);
	/* its own, then: and once it ended, no more */
	assert_int_equal(report(K0, ID_A, TUNNEL_RUNNING), 4000);
	assert_int_equal(report(K0, ID_A, TUNNEL_TERMINATED), 4000);
	assert_int_equal(K0->ntunnels, 0);
	assert_int_equal(report(K0, ID_A, TUNNEL_TERMINATED), -1);
}

/*
 * A new REST worker asks how a tunnel is that is placed nowhere (it
 * ended meanwhile): the worker of its KGP port answers, and its answer
 * reaches the REST worker.
 */
static void
test_sync_unplaced(void **state)
{
	char	 buf[256];

	(void)state;
	rest_add(ID_B, SRV_ADD_SYNC, 4001);
	assert_string_equal(got(K1, buf, sizeof(buf)), "ADD:bbbb");
	assert_string_equal(got(K0, buf, sizeof(buf)), "");
	assert_int_equal(report(K1, ID_B, TUNNEL_TERMINATED), 4001);
	assert_int_equal(K1->ntunnels, 0);
	/* one placed: its worker */
	rest_add(ID_A, SRV_ADD_RESTORE, 4000);
	assert_string_equal(got(K0, buf, sizeof(buf)), "RULES:aaaa ADD:aaaa");
	assert_int_equal(report(K0, ID_A, TUNNEL_RUNNING), 4000);
	rest_add(ID_A, SRV_ADD_SYNC, 4001);
	assert_string_equal(got(K0, buf, sizeof(buf)), "ADD:aaaa");
	assert_string_equal(got(K1, buf, sizeof(buf)), "");
}

/*
 * KGP worker 1 restarts: the REST worker tells every running tunnel
 * again; only worker 1's reach a worker, the other's holds its own.
 */
static void
test_kgp_restart(void **state)
{
	char	 buf[256];

	(void)state;
	rest_add(ID_A, SRV_ADD_RESTORE, 4000);
	rest_add(ID_B, SRV_ADD_RESTORE, 4001);
	assert_string_equal(got(K0, buf, sizeof(buf)), "RULES:aaaa ADD:aaaa");
	assert_string_equal(got(K1, buf, sizeof(buf)), "RULES:bbbb ADD:bbbb");
	assert_int_equal(report(K0, ID_A, TUNNEL_RUNNING), 4000);
	assert_int_equal(report(K1, ID_B, TUNNEL_RUNNING), 4001);

	parent_kgp_gone(K1);
	assert_int_equal(K1->ntunnels, 0);
	rest_add(ID_A, SRV_ADD_RESTORE, 4000);
	rest_add(ID_B, SRV_ADD_RESTORE, 4001);
	assert_string_equal(got(K0, buf, sizeof(buf)), "");
	assert_string_equal(got(K1, buf, sizeof(buf)), "RULES:bbbb ADD:bbbb");
	assert_int_equal(K0->ntunnels, 1);
	assert_int_equal(K1->ntunnels, 1);
}

/*
 * A new REST worker that could not only ask (a KGP worker was not
 * serving) waits for an answer of each: the worker that holds the
 * tunnel gets it (and its rules: it may have ended it meanwhile).
 */
static void
test_rest_restart(void **state)
{
	char	 buf[256];

	(void)state;
	rest_add(ID_A, SRV_ADD_RESTORE, 4000);
	assert_string_equal(got(K0, buf, sizeof(buf)), "RULES:aaaa ADD:aaaa");
	assert_int_equal(report(K0, ID_A, TUNNEL_RUNNING), 4000);
	REST->ready = 0;
	rest_add(ID_A, SRV_ADD_RESTORE, 4000);
	assert_string_equal(got(K0, buf, sizeof(buf)), "RULES:aaaa ADD:aaaa");
	assert_int_equal(report(K0, ID_A, TUNNEL_RUNNING), 4000);
}

/*
 * A tunnel its worker is told to end (a cluster: it ended on another
 * node) may run here again (SRV_ADD_REMOTE) before its worker's report
 * of its end: that worker gets its rules, which it takes then.
 */
static void
test_del_then_remote(void **state)
{
	struct srv_tunnel_ref	 ref;
	char			 buf[256];

	(void)state;
	rest_add(ID_A, SRV_ADD_RESTORE, 4000);
	assert_string_equal(got(K0, buf, sizeof(buf)), "RULES:aaaa ADD:aaaa");
	assert_int_equal(report(K0, ID_A, TUNNEL_RUNNING), 4000);
	memset(&ref, 0, sizeof(ref));
	strlcpy(ref.id, ID_A, sizeof(ref.id));
	ref.why = SRV_DEL_USER;
	from(REST, parent_to_kgp, IMSG_SRV_TUNNEL_DEL, &ref, sizeof(ref));
	rest_add(ID_A, SRV_ADD_REMOTE, 4000);
	assert_string_equal(got(K0, buf, sizeof(buf)),
	    "DEL:aaaa RULES:aaaa ADD:aaaa");
	assert_string_equal(got(K1, buf, sizeof(buf)), "");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_new, setup, teardown),
		cmocka_unit_test_setup_teardown(test_report_not_its, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_sync_unplaced, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_kgp_restart, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_rest_restart, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_del_then_remote, setup,
		    teardown),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
