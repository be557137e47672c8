/*
 * Unit tests of the Tunnels web page's text (server/webpage.c): HTML
 * escaping of what users name, the access key masked in a command line
 * however it is given (and never past the buffer), and who may see a
 * tunnel.  The rest of the server is stubbed here.
 */
#include <sys/types.h>
#include <sys/queue.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <event2/buffer.h>

#include "server.h"
#include "web.h"

static struct server_env	 senv;
struct server_env		*env = &senv;

/* who sees and stops a tunnel is registry.c's (test_server_registry) */
int
reg_may_use(const char *account, const struct tunnel *t, int *shared)
{
	return (strcmp(account, t->owner) == 0);
}

int
reg_may_delete(const char *account, const struct tunnel *t)
{
	return (strcmp(account, t->owner) == 0);
}

/* the admin link: rest.c's (e2e-web) */
int
admin_is(const char *user)
{
	return (0);
}

size_t
reg_pool_size(const struct tunnel *t)
{
	return (t->tunnel_pool ? 1 : 0);
}

const char *
tunnel_status_name(enum tunnel_status s)
{
	return ("running");
}

static char *
escaped(const char *s)
{
	static char	 out[4096];
	struct evbuffer	*b;
	size_t		 n;

	assert_non_null(b = evbuffer_new());
	webpage_escape(b, s);
	n = evbuffer_get_length(b);
	assert_true(n < sizeof(out));
	evbuffer_remove(b, out, n);
	out[n] = '\0';
	evbuffer_free(b);
	return (out);
}

static void
test_escape(void **state)
{
	assert_string_equal(escaped(""), "");
	assert_string_equal(escaped("plain"), "plain");
	assert_string_equal(escaped("<img src=x onerror='a(1)'>&\"q\""),
	    "&lt;img src=x onerror=&#39;a(1)&#39;&gt;&amp;&quot;q&quot;");
	assert_string_equal(escaped("&&"), "&amp;&amp;");
	assert_string_equal(escaped("caf\xc3\xa9 >"), "caf\xc3\xa9 &gt;");
}

static char *
masked(const char *cmd, size_t len)
{
	static char	 out[512];

	assert_true(len <= sizeof(out));
	memset(out, 'Z', sizeof(out));
	webpage_mask_command(cmd, out, len);
	/* nothing written past len */
	if (len < sizeof(out))
		assert_int_equal(out[len], 'Z');
	return (out);
}

static void
test_mask(void **state)
{
	assert_string_equal(masked("", 64), "");
	assert_string_equal(masked("sc -u alice -k SECRET -i t", 128),
	    "sc -u alice -k **** -i t");
	assert_string_equal(masked("sc --api-key SECRET --access-key S2", 128),
	    "sc --api-key **** --access-key ****");
	assert_string_equal(masked("sc --api-key=SECRET --access-key=S2", 128),
	    "sc --api-key=**** --access-key=****");
	assert_string_equal(masked("sc  run 0123abcd-0000-1111-2222-"
	    "333344445555 -x u", 128), "sc run **** -x u");
	/* a key as the last word, and a flag with nothing after it */
	assert_string_equal(masked("sc -k", 64), "sc -k");
	/* too long: cut, never past the buffer, no key shown */
	assert_string_equal(masked("sc -u alice -k SECRET", 12), "sc -u alice");
	assert_null(strstr(masked("sc -k SECRETSECRET", 10), "SECRET"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_escape),
		cmocka_unit_test(test_mask),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
