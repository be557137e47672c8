/*
 * Unit tests of common/admit.c: the per-address bound takes the oldest
 * of that address, the bound in all takes from the address that holds
 * the most, trusted addresses go last and are never displaced by
 * strangers, shedding, the deadline under pressure, IPv6 by /64.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "admit.h"

#define NCONN	64

struct tconn {
	struct admit_ent	 ent;
	int			 open;
	int			 id;
};

static struct tconn	 conns[NCONN];

static void
evicted(struct admit_ent *e, void *arg)
{
	struct tconn	*c = arg;

	assert_ptr_equal(&c->ent, e);
	assert_true(c->open);
	c->open = 0;
	admit_del(e);		/* harmless: it has left */
}

static struct sockaddr_storage *
addr4(const char *s)
{
	static struct sockaddr_storage	 ss;
	struct sockaddr_in		*sin = (struct sockaddr_in *)&ss;

	memset(&ss, 0, sizeof(ss));
	sin->sin_family = AF_INET;
	assert_int_equal(inet_pton(AF_INET, s, &sin->sin_addr), 1);
	return (&ss);
}

static struct sockaddr_storage *
addr6(const char *s)
{
	static struct sockaddr_storage	 ss;
	struct sockaddr_in6		*sin6 = (struct sockaddr_in6 *)&ss;

	memset(&ss, 0, sizeof(ss));
	sin6->sin6_family = AF_INET6;
	assert_int_equal(inet_pton(AF_INET6, s, &sin6->sin6_addr), 1);
	return (&ss);
}

static int
add(struct admit *a, int i, struct sockaddr_storage *ss)
{
	int	 r;

	conns[i].id = i;
	r = admit_add(a, &conns[i].ent, (struct sockaddr *)ss, evicted,
	    &conns[i]);
	conns[i].open = r == 0;
	return (r);
}

static void
reset(void)
{
	memset(conns, 0, sizeof(conns));
}

/* A fourth connection of one address closes its first. */
static void
test_per_address(void **state)
{
	struct admit	*a;
	int		 i;

	reset();
	assert_non_null(a = admit_new("test", 3, 100));
	for (i = 0; i < 3; i++)
		assert_int_equal(add(a, i, addr4("10.0.0.1")), 0);
	assert_int_equal(add(a, 3, addr4("10.0.0.2")), 0);
	assert_int_equal(add(a, 4, addr4("10.0.0.1")), 0);
	assert_false(conns[0].open);
	assert_true(conns[1].open && conns[2].open && conns[3].open &&
	    conns[4].open);
	assert_int_equal(admit_count(a), 4);
	/* the one that proves itself leaves */
	admit_del(&conns[1].ent);
	admit_del(&conns[1].ent);
	assert_int_equal(admit_count(a), 3);
	assert_int_equal(add(a, 5, addr4("10.0.0.1")), 0);
	assert_true(conns[2].open);
	admit_free(a);
}

/* Full: the address holding the most loses its oldest. */
static void
test_global(void **state)
{
	struct admit	*a;
	int		 i;

	reset();
	assert_non_null(a = admit_new("test", 10, 6));
	assert_int_equal(add(a, 0, addr4("10.0.0.9")), 0);
	for (i = 1; i < 5; i++)
		assert_int_equal(add(a, i, addr4("10.0.0.1")), 0);
	assert_int_equal(add(a, 5, addr4("10.0.0.2")), 0);
	assert_int_equal(admit_count(a), 6);
	assert_int_equal(add(a, 6, addr4("10.0.0.3")), 0);
	assert_false(conns[1].open);
	assert_true(conns[0].open && conns[2].open && conns[5].open);
	assert_int_equal(add(a, 7, addr4("10.0.0.3")), 0);
	assert_false(conns[2].open);
	assert_int_equal(admit_count(a), 6);
	admit_free(a);
}

/*
 * Trusted addresses keep theirs while strangers have any; a stranger
 * is refused rather than displace them; a trusted one may displace
 * another trusted one.
 */
static void
test_trusted(void **state)
{
	struct admit	*a;
	int		 i;

	reset();
	assert_non_null(a = admit_new("test", 10, 4));
	admit_trust(a, (struct sockaddr *)addr4("10.0.0.1"));
	assert_true(admit_trusted(a, (struct sockaddr *)addr4("10.0.0.1")));
	assert_false(admit_trusted(a, (struct sockaddr *)addr4("10.0.0.2")));
	for (i = 0; i < 3; i++)
		assert_int_equal(add(a, i, addr4("10.0.0.1")), 0);
	assert_int_equal(add(a, 3, addr4("10.0.0.2")), 0);
	/* full: a stranger takes the stranger's place */
	assert_int_equal(add(a, 4, addr4("10.0.0.3")), 0);
	assert_false(conns[3].open);
	/* a trusted one too, not another trusted one's */
	admit_trust(a, (struct sockaddr *)addr4("10.0.0.5"));
	assert_int_equal(add(a, 5, addr4("10.0.0.5")), 0);
	assert_false(conns[4].open);
	assert_true(conns[0].open && conns[1].open && conns[2].open);
	/* all trusted: a stranger is refused */
	assert_int_equal(add(a, 6, addr4("10.0.0.4")), -1);
	assert_false(conns[6].open);
	assert_true(conns[0].open && conns[5].open);
	/* a trusted one takes from the trusted address holding the most */
	assert_int_equal(add(a, 7, addr4("10.0.0.5")), 0);
	assert_false(conns[0].open);
	assert_true(conns[5].open && conns[7].open);
	assert_int_equal(admit_count(a), 4);
	admit_free(a);
}

static void
test_shed(void **state)
{
	struct admit	*a;

	reset();
	assert_non_null(a = admit_new("test", 10, 10));
	assert_int_equal(admit_shed(a), 0);
	admit_trust(a, (struct sockaddr *)addr4("10.0.0.1"));
	assert_int_equal(add(a, 0, addr4("10.0.0.1")), 0);
	assert_int_equal(add(a, 1, addr4("10.0.0.2")), 0);
	assert_int_equal(add(a, 2, addr4("10.0.0.2")), 0);
	assert_int_equal(admit_shed(a), 1);
	assert_false(conns[1].open);
	assert_int_equal(admit_shed(a), 1);
	assert_false(conns[2].open);
	assert_int_equal(admit_shed(a), 1);
	assert_false(conns[0].open);
	assert_int_equal(admit_shed(a), 0);
	assert_int_equal(admit_count(a), 0);
	admit_free(a);
}

static void
test_deadline(void **state)
{
	struct admit	*a;
	int		 i;
	char		 s[32];

	reset();
	assert_non_null(a = admit_new("test", 100, 10));
	for (i = 0; i < 5; i++) {
		snprintf(s, sizeof(s), "10.0.1.%d", i);
		assert_int_equal(add(a, i, addr4(s)), 0);
	}
	assert_int_equal(admit_deadline(a, 15000, 3000), 15000);
	for (; i < 10; i++) {
		snprintf(s, sizeof(s), "10.0.1.%d", i);
		assert_int_equal(add(a, i, addr4(s)), 0);
		assert_true(admit_deadline(a, 15000, 3000) < 15000);
	}
	assert_int_equal(admit_deadline(a, 15000, 3000), 3000);
	admit_free(a);
}

/* One /64 is one address; another /64 is another; mapped is IPv4. */
static void
test_ipv6(void **state)
{
	struct admit	*a;

	reset();
	assert_non_null(a = admit_new("test", 2, 100));
	assert_int_equal(add(a, 0, addr6("2001:db8:1:2::1")), 0);
	assert_int_equal(add(a, 1, addr6("2001:db8:1:2:ffff::9")), 0);
	assert_int_equal(add(a, 2, addr6("2001:db8:1:3::1")), 0);
	assert_true(conns[0].open && conns[1].open && conns[2].open);
	assert_int_equal(add(a, 3, addr6("2001:db8:1:2:abcd::1")), 0);
	assert_false(conns[0].open);
	assert_int_equal(add(a, 4, addr4("192.0.2.1")), 0);
	assert_int_equal(add(a, 5, addr6("::ffff:192.0.2.1")), 0);
	assert_int_equal(add(a, 6, addr4("192.0.2.1")), 0);
	assert_false(conns[4].open);
	assert_true(conns[5].open && conns[6].open);
	admit_free(a);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_per_address),
		cmocka_unit_test(test_global),
		cmocka_unit_test(test_trusted),
		cmocka_unit_test(test_shed),
		cmocka_unit_test(test_deadline),
		cmocka_unit_test(test_ipv6),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
