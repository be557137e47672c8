/*
 * Unit tests of the REST worker's placement of new tunnels on the nodes
 * of a cluster (server/place.c): a pool's members posted one after the
 * other spread over the nodes even when a node list that does not yet
 * count the first one lands between the two POSTs; a placement counts
 * no more once a list shows its node holding one more session, or once
 * PLACE_PENDING_SEC have passed; the placements kept are bounded.
 */
#include <sys/types.h>
#include <sys/queue.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "imsg_server.h"
#include "server.h"

static struct server_env	 senv;
struct server_env		*env = &senv;

/* place_metrics()'s, not used here */
const char *
node_state_name(int state)
{
	return (state == NODE_UP ? "up" : "other");
}

/* the list of the parent: node a (this one, port 4444), node b (5444) */
static void
list(int64_t a, int64_t b, int64_t now)
{
	struct srv_node	 n[2];

	memset(n, 0, sizeof(n));
	strlcpy(n[0].name, "a", sizeof(n[0].name));
	strlcpy(n[0].host, "a.example", sizeof(n[0].host));
	n[0].kgp_port = 4444;
	n[0].alive = 1;
	n[0].self = 1;
	n[0].tunnels = a;
	strlcpy(n[1].name, "b", sizeof(n[1].name));
	strlcpy(n[1].host, "b.example", sizeof(n[1].host));
	n[1].kgp_port = 5444;
	n[1].alive = 1;
	n[1].tunnels = b;
	place_nodes_at(n, sizeof(n), now);
}

/* the KGP port the answer to a new tunnel's POST names */
static int
post(int64_t now)
{
	struct tunnel	 t;
	const char	*host, *cert;
	int		 port;

	memset(&t, 0, sizeof(t));
	place_pick_at(&t, 1, &host, &port, &cert, now);
	return (port);
}

static int
setup(void **state)
{
	memset(&senv, 0, sizeof(senv));
	senv.cluster = 1;
	strlcpy(senv.host, "a.example", sizeof(senv.host));
	senv.kgp_port = 4444;
	/* placements of the test before forgotten */
	list(0, 0, 0);
	list(0, 0, INT64_MAX / 2);
	return (0);
}

/*
 * a holds a session, b none: the first member goes to b; a list read
 * before b counts it (its client not connected yet) must not send the
 * second there too.
 */
static void
test_list_between(void **state)
{
	int64_t	 now = 1000000;

	list(1, 0, now);
	assert_int_equal(post(now), 5444);
	list(1, 0, now + 100);
	assert_int_equal(post(now + 200), 4444);
	/* the third: a counts two, b one (its figures still show none) */
	list(1, 0, now + 2000);
	assert_int_equal(post(now + 2100), 5444);
	/* the fourth: both count two, a tie goes to this node */
	assert_int_equal(post(now + 2200), 4444);
}

/* b's figures show the placement: it counts once, not twice */
static void
test_reflected(void **state)
{
	int64_t	 now = 2000000;

	list(1, 0, now);
	assert_int_equal(post(now), 5444);
	/* b's client connected and its heartbeat says so */
	list(1, 1, now + 2000);
	/* a 1, b 1: a tie goes to this node */
	assert_int_equal(post(now + 2100), 4444);
	/* a 2 (pending), b 1: b */
	assert_int_equal(post(now + 2200), 5444);
}

/* a placement whose client never comes counts PLACE_PENDING_SEC */
static void
test_expired(void **state)
{
	int64_t	 now = 3000000;

	list(0, 0, now);
	assert_int_equal(post(now), 4444);
	assert_int_equal(post(now), 5444);
	assert_int_equal(post(now), 4444);
	/* a 2, b 1 pending: b */
	list(0, 0, now + 1000);
	assert_int_equal(post(now + 1000), 5444);
	/* the first three gone: a 0, b 1 (the fourth) */
	list(0, 0, now + PLACE_PENDING_SEC * 1000);
	assert_int_equal(post(now + PLACE_PENDING_SEC * 1000), 4444);
	/* all gone: a 1 */
	list(0, 0, now + 1000 + PLACE_PENDING_SEC * 1000);
	assert_int_equal(post(now + 1000 + PLACE_PENDING_SEC * 1000), 5444);
}

/* more POSTs at once than placements kept: still spread, bounded */
static void
test_many(void **state)
{
	int64_t	 now = 4000000;
	int	 i, on_a = 0;

	list(0, 0, now);
	for (i = 0; i < PLACE_PENDING_MAX + 100; i++)
		if (post(now) == 4444)
			on_a++;
	assert_true(on_a >= (PLACE_PENDING_MAX + 100) / 2 - 1 &&
	    on_a <= (PLACE_PENDING_MAX + 100) / 2 + 1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_list_between, setup),
		cmocka_unit_test_setup(test_reflected, setup),
		cmocka_unit_test_setup(test_expired, setup),
		cmocka_unit_test_setup(test_many, setup),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
