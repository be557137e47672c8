/*
 * Unit tests of the failed-login throttle of server/guard.c: the 5th
 * failure starts a wait for that pair only, doubling; a good login
 * starts afresh; realms, accounts and addresses apart; IPv6 by /64;
 * unknown accounts as one; a full table forgets the oldest pair.
 */
#include <sys/types.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "server.h"

struct server_env	*env;

static void
fail_n(int realm, const char *addr, const char *user, int n)
{
	while (n-- > 0)
		throttle_fail(realm, addr, user);
}

static void
test_pair(void **state)
{
	int	 retry = 0;

	fail_n(THROTTLE_REST, "192.0.2.1", "alice", THROTTLE_FREE - 1);
	assert_false(throttle_check(THROTTLE_REST, "192.0.2.1", "alice",
	    &retry));
	throttle_fail(THROTTLE_REST, "192.0.2.1", "alice");
	assert_true(throttle_check(THROTTLE_REST, "192.0.2.1", "alice",
	    &retry));
	assert_int_equal(retry, THROTTLE_BASE_SEC);
	/* nobody else waits */
	assert_false(throttle_check(THROTTLE_REST, "192.0.2.2", "alice",
	    NULL));
	assert_false(throttle_check(THROTTLE_REST, "192.0.2.1", "bob", NULL));
	assert_false(throttle_check(THROTTLE_ENTRY, "192.0.2.1", "alice",
	    NULL));
	assert_false(throttle_check(THROTTLE_REST, "192.0.2.1", NULL, NULL));
	/* the next failure doubles the wait */
	throttle_fail(THROTTLE_REST, "192.0.2.1", "alice");
	assert_true(throttle_check(THROTTLE_REST, "192.0.2.1", "alice",
	    &retry));
	assert_int_equal(retry, 2 * THROTTLE_BASE_SEC);
	/* up to the most */
	fail_n(THROTTLE_REST, "192.0.2.1", "alice", 40);
	assert_true(throttle_check(THROTTLE_REST, "192.0.2.1", "alice",
	    &retry));
	assert_int_equal(retry, THROTTLE_MAX_SEC);
	/* a good login from there starts afresh */
	throttle_ok(THROTTLE_REST, "192.0.2.1", "alice");
	assert_false(throttle_check(THROTTLE_REST, "192.0.2.1", "alice",
	    NULL));
}

static void
test_ipv6_unknown(void **state)
{
	fail_n(THROTTLE_ENTRY, "2001:db8:1:2::1", "carol", THROTTLE_FREE - 1);
	throttle_fail(THROTTLE_ENTRY, "2001:db8:1:2:ffff::7", "carol");
	assert_true(throttle_check(THROTTLE_ENTRY, "2001:db8:1:2::99",
	    "carol", NULL));
	assert_true(throttle_check(THROTTLE_ENTRY, "[2001:db8:1:2::5]",
	    "carol", NULL));
	assert_false(throttle_check(THROTTLE_ENTRY, "2001:db8:1:3::1",
	    "carol", NULL));
	/* the names of no account are one */
	fail_n(THROTTLE_REST, "198.51.100.1", NULL, THROTTLE_FREE);
	assert_true(throttle_check(THROTTLE_REST, "198.51.100.1", NULL, NULL));
	assert_false(throttle_check(THROTTLE_REST, "198.51.100.1", "dave",
	    NULL));
}

/* More pairs than slots: the oldest goes, the table does not grow. */
static void
test_full(void **state)
{
	char	 addr[64];
	int	 i;

	fail_n(THROTTLE_REST, "203.0.113.1", "erin", THROTTLE_FREE);
	assert_true(throttle_check(THROTTLE_REST, "203.0.113.1", "erin",
	    NULL));
	for (i = 0; i < THROTTLE_SLOTS; i++) {
		snprintf(addr, sizeof(addr), "10.%d.%d.%d", (i >> 16) & 255,
		    (i >> 8) & 255, i & 255);
		throttle_fail(THROTTLE_REST, addr, "frank");
	}
	assert_false(throttle_check(THROTTLE_REST, "203.0.113.1", "erin",
	    NULL));
	fail_n(THROTTLE_REST, "10.0.0.7", "frank", THROTTLE_FREE - 1);
	assert_true(throttle_check(THROTTLE_REST, "10.0.0.7", "frank", NULL));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pair),
		cmocka_unit_test(test_ipv6_unknown),
		cmocka_unit_test(test_full),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
