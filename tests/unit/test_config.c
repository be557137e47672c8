/*
 * Unit tests: the command line of sc (controller/config.c), version 4 and
 * version 5 forms, the environment and its precedence.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "controller.h"

#define MAXARGS	32

static struct sc_config	 conf;
static char		 err[1024];

static void
clear_env(void)
{
	unsetenv("SAUCE_USERNAME");
	unsetenv("SAUCE_USER");
	unsetenv("SAUCE_ACCESS_KEY");
	unsetenv("SAUCE_API_KEY");
	unsetenv("SAUCE_TUNNEL_NAME");
	unsetenv("SAUCE_REGION");
	setenv("XDG_RUNTIME_DIR", "/tmp/xdg", 1);
}

/* Parse a NULL-terminated list of arguments (without "sc"). */
static int
parse(const char *first, ...)
{
	char		*argv[MAXARGS + 2];
	const char	*a;
	va_list		 ap;
	int		 argc = 0;

	config_free(&conf);
	config_init(&conf);
	argv[argc++] = "sc";
	va_start(ap, first);
	for (a = first; a != NULL && argc < MAXARGS; a = va_arg(ap, const char *))
		argv[argc++] = (char *)a;
	va_end(ap);
	argv[argc] = NULL;
	return (config_parse(&conf, argc, argv, err, sizeof(err)));
}

static int
setup(void **state)
{
	clear_env();
	config_init(&conf);
	return (0);
}

static int
teardown(void **state)
{
	config_free(&conf);
	return (0);
}

static void
test_v4_basic(void **state)
{
	assert_int_equal(parse("-u", "alice", "-k", "secretkey", "-i", "t1",
	    "-x", "http://127.0.0.1:4400/rest/v1/", "-f", "/tmp/ready",
	    "-d", "/tmp/pid", "-l", "/tmp/log", "-v", "-v", "-s",
	    "--tunnel-pool", "--max-missed-acks", "7", NULL), CONFIG_OK);
	assert_int_equal(conf.legacy, 1);
	assert_string_equal(conf.user, "alice");
	assert_string_equal(conf.key, "secretkey");
	assert_string_equal(conf.tunnel_name, "t1");
	/* the trailing slash goes */
	assert_string_equal(conf.rest_url, "http://127.0.0.1:4400/rest/v1");
	assert_string_equal(conf.readyfile, "/tmp/ready");
	assert_string_equal(conf.pidfile, "/tmp/pid");
	assert_string_equal(conf.logfile, "/tmp/log");
	assert_int_equal(conf.verbose, 2);
	assert_int_equal(conf.shared, 1);
	assert_int_equal(conf.tunnel_pool, 1);
	assert_int_equal(conf.max_missed_acks, 7);
	assert_non_null(strstr(conf.ctl_socket, "/sc.t1.sock"));
}

static void
test_v4_long_and_legacy(void **state)
{
	assert_int_equal(parse("legacy", "--user", "bob", "--api-key", "k",
	    "--tunnel-identifier", "x", "--rest-url", "https://h/rest/v1",
	    "--readyfile", "r", "--pidfile", "p", "--logfile", "-",
	    "--no-remove-colliding-tunnels", "--ctl-socket", "/tmp/s.sock",
	    "--se-port", "0", NULL), CONFIG_OK);
	assert_int_equal(conf.legacy, 1);
	assert_string_equal(conf.user, "bob");
	assert_string_equal(conf.rest_url, "https://h/rest/v1");
	assert_int_equal(conf.no_remove_colliding, 1);
	assert_string_equal(conf.ctl_socket, "/tmp/s.sock");
	assert_int_equal(conf.se_port, 0);
	assert_int_equal(conf.se_port_set, 1);
	/* --tunnel-name and --username also work in the version 4 form */
	assert_int_equal(parse("--username", "u", "--access-key", "k",
	    "--tunnel-name", "n", NULL), CONFIG_OK);
	assert_string_equal(conf.tunnel_name, "n");
}

static void
test_v5_basic(void **state)
{
	assert_int_equal(parse("run", "-u", "alice", "-k", "key", "-i", "n5",
	    "--rest-url", "http://127.0.0.1:9/rest/v1", "--log-file", "/l",
	    "--log-level", "debug", "-s", "all", "-t", NULL), CONFIG_OK);
	assert_int_equal(conf.legacy, 0);
	assert_string_equal(conf.tunnel_name, "n5");
	assert_string_equal(conf.rest_url, "http://127.0.0.1:9/rest/v1");
	assert_string_equal(conf.logfile, "/l");
	assert_int_equal(conf.verbose, 1);
	assert_int_equal(conf.shared, 1);
	assert_int_equal(conf.tunnel_pool, 1);
}

static void
test_v5_region(void **state)
{
	assert_int_equal(parse("run", "-u", "a", "-k", "k", "-r", "us-west",
	    NULL), CONFIG_OK);
	assert_string_equal(conf.rest_url, SC_DEFAULT_REST_URL);
	/* --rest-url wins over the region */
	assert_int_equal(parse("run", "-u", "a", "-k", "k", "-r", "eu-central",
	    "--rest-url", "http://x/rest/v1", NULL), CONFIG_OK);
	assert_string_equal(conf.rest_url, "http://x/rest/v1");
	assert_int_equal(parse("run", "-u", "a", "-k", "k", "-r", "mars",
	    NULL), CONFIG_ERROR);
	assert_non_null(strstr(err, "region"));
	setenv("SAUCE_REGION", "us-east", 1);
	assert_int_equal(parse("run", "-u", "a", "-k", "k", NULL), CONFIG_OK);
	assert_string_equal(conf.region, "us-east");
}

static void
test_defaults(void **state)
{
	assert_int_equal(parse("-u", "a", "-k", "k", NULL), CONFIG_OK);
	assert_string_equal(conf.rest_url, SC_DEFAULT_REST_URL);
	assert_int_equal(conf.max_missed_acks, SC_DEFAULT_MAX_MISSED);
	assert_int_equal(conf.se_port, SC_DEFAULT_SE_PORT);
	assert_int_equal(conf.se_port_set, 0);
	assert_int_equal(conf.verbose, 0);
	assert_null(conf.tunnel_name);
	assert_non_null(strstr(conf.ctl_socket, "/sc.default.sock"));
}

static void
test_env(void **state)
{
	setenv("SAUCE_USERNAME", "envuser", 1);
	setenv("SAUCE_ACCESS_KEY", "envkey", 1);
	assert_int_equal(parse(NULL), CONFIG_OK);
	assert_string_equal(conf.user, "envuser");
	assert_string_equal(conf.key, "envkey");
	/* the flag beats the environment */
	assert_int_equal(parse("-u", "flaguser", "-k", "flagkey", NULL),
	    CONFIG_OK);
	assert_string_equal(conf.user, "flaguser");
	assert_string_equal(conf.key, "flagkey");
	/* the other names */
	clear_env();
	setenv("SAUCE_USER", "u2", 1);
	setenv("SAUCE_API_KEY", "k2", 1);
	assert_int_equal(parse("run", NULL), CONFIG_OK);
	assert_string_equal(conf.user, "u2");
	assert_string_equal(conf.key, "k2");
	setenv("SAUCE_TUNNEL_NAME", "envname", 1);
	assert_int_equal(parse("run", NULL), CONFIG_OK);
	assert_string_equal(conf.tunnel_name, "envname");
	assert_int_equal(parse("run", "-i", "flagname", NULL), CONFIG_OK);
	assert_string_equal(conf.tunnel_name, "flagname");
}

static void
test_missing_credentials(void **state)
{
	assert_int_equal(parse("-k", "k", NULL), CONFIG_ERROR);
	assert_non_null(strstr(err, "username"));
	assert_int_equal(parse("-u", "u", NULL), CONFIG_ERROR);
	assert_non_null(strstr(err, "access key"));
	assert_int_equal(parse("run", "-u", "u", NULL), CONFIG_ERROR);
}

static void
test_unsupported(void **state)
{
	assert_int_equal(parse("-u", "a", "-k", "k", "--dns", "1.1.1.1",
	    NULL), CONFIG_ERROR);
	assert_string_equal(err, "--dns is not supported yet");
	assert_int_equal(parse("-u", "a", "-k", "k", "-D", "x.com", NULL),
	    CONFIG_ERROR);
	assert_string_equal(err, "-D/--direct-domains is not supported yet");
	assert_int_equal(parse("-u", "a", "-k", "k", "--doctor", NULL),
	    CONFIG_ERROR);
	/* version 5: -x is the application proxy */
	assert_int_equal(parse("run", "-u", "a", "-k", "k", "-x", "h:1",
	    NULL), CONFIG_ERROR);
	assert_non_null(strstr(err, "--proxy is not supported yet"));
	assert_int_equal(parse("run", "-u", "a", "-k", "k", "--header",
	    "X-A:b", NULL), CONFIG_ERROR);
	assert_non_null(strstr(err, "not supported yet"));
}

static void
test_usage_errors(void **state)
{
	assert_int_equal(parse("-u", "a", "-k", "k", "--bogus", NULL),
	    CONFIG_USAGE);
	assert_int_equal(parse("-u", "a", "-k", "k", "-Z", NULL),
	    CONFIG_USAGE);
	assert_int_equal(parse("-u", NULL), CONFIG_USAGE);
	assert_int_equal(parse("frobnicate", NULL), CONFIG_USAGE);
	assert_int_equal(parse("-u", "a", "-k", "k", "stray", NULL),
	    CONFIG_USAGE);
	/* a version 5 flag in the version 4 form */
	assert_int_equal(parse("-u", "a", "-k", "k", "--region", "us-west",
	    NULL), CONFIG_USAGE);
}

static void
test_bad_values(void **state)
{
	assert_int_equal(parse("-u", "a", "-k", "k", "-P", "70000", NULL),
	    CONFIG_ERROR);
	assert_int_equal(parse("-u", "a", "-k", "k", "-P", "12x", NULL),
	    CONFIG_ERROR);
	assert_int_equal(parse("-u", "a", "-k", "k", "--max-missed-acks",
	    "0", NULL), CONFIG_ERROR);
	assert_int_equal(parse("-u", "a", "-k", "k", "-x", "ftp://h", NULL),
	    CONFIG_ERROR);
	assert_int_equal(parse("run", "-u", "a", "-k", "k", "--shared",
	    "some", NULL), CONFIG_ERROR);
	assert_int_equal(parse("run", "-u", "a", "-k", "k", "--log-level",
	    "loud", NULL), CONFIG_ERROR);
	assert_int_equal(parse("-u", "a\x01", "-k", "k", NULL), CONFIG_ERROR);
	assert_int_equal(parse("-u", "", "-k", "k", NULL), CONFIG_ERROR);
}

static void
test_tunnel_connections(void **state)
{
	const char	*bad[] = { "0", "17", "-1", "", "x", "2x", " 2", "+2",
			    "1e1", "99999999999999999999", NULL };
	long		 ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	int		 i, want = ncpu < 2 ? 2 : ncpu > 16 ? 16 : (int)ncpu;

	/* the default: the online CPUs, at least 2, at most 16 */
	assert_int_equal(parse("-u", "a", "-k", "k", NULL), CONFIG_OK);
	assert_int_equal(conf.tunnel_connections, want);
	assert_int_equal(config_default_connections(), want);
	assert_int_equal(parse("run", "-u", "a", "-k", "k", NULL), CONFIG_OK);
	assert_int_equal(conf.tunnel_connections, want);
	/* both command lines, the whole range */
	assert_int_equal(parse("-u", "a", "-k", "k", "--tunnel-connections",
	    "1", NULL), CONFIG_OK);
	assert_int_equal(conf.tunnel_connections, 1);
	assert_int_equal(parse("run", "-u", "a", "-k", "k",
	    "--tunnel-connections", "16", NULL), CONFIG_OK);
	assert_int_equal(conf.tunnel_connections, 16);
	assert_int_equal(parse("run", "-u", "a", "-k", "k",
	    "--tunnel-connections=3", NULL), CONFIG_OK);
	assert_int_equal(conf.tunnel_connections, 3);
	/* the last one wins */
	assert_int_equal(parse("-u", "a", "-k", "k", "--tunnel-connections",
	    "4", "--tunnel-connections", "2", NULL), CONFIG_OK);
	assert_int_equal(conf.tunnel_connections, 2);
	/* anything else, with the same message */
	for (i = 0; bad[i] != NULL; i++) {
		assert_int_equal(parse("run", "-u", "a", "-k", "k",
		    "--tunnel-connections", bad[i], NULL), CONFIG_ERROR);
		assert_string_equal(err,
		    "--tunnel-connections must be between 1 and 16");
		assert_int_equal(parse("-u", "a", "-k", "k",
		    "--tunnel-connections", bad[i], NULL), CONFIG_ERROR);
		assert_string_equal(err,
		    "--tunnel-connections must be between 1 and 16");
	}
	/* no value */
	assert_int_equal(parse("-u", "a", "-k", "k", "--tunnel-connections",
	    NULL), CONFIG_USAGE);
}

static void
test_help_version(void **state)
{
	assert_int_equal(parse("-h", NULL), CONFIG_HELP);
	assert_int_equal(parse("run", "--help", NULL), CONFIG_HELP);
	assert_int_equal(parse("--version", NULL), CONFIG_VERSION);
	assert_int_equal(parse("run", "--version", NULL), CONFIG_VERSION);
}

static void
test_command_hides_key(void **state)
{
	assert_int_equal(parse("-u", "a", "-k", "topsecret", "-i", "n", NULL),
	    CONFIG_OK);
	assert_string_equal(conf.command, "sc -u a -i n");
	assert_int_equal(parse("run", "--username", "a",
	    "--access-key=topsecret", "-v", NULL), CONFIG_OK);
	assert_null(strstr(conf.command, "topsecret"));
	assert_string_equal(conf.command, "sc run --username a -v");
	assert_int_equal(parse("-u", "a", "-ktopsecret", NULL), CONFIG_OK);
	assert_string_equal(conf.key, "topsecret");
	assert_null(strstr(conf.command, "topsecret"));
}

static void
test_ctl_path(void **state)
{
	char	 buf[256];

	assert_int_equal(config_ctl_path("a/b c", buf, sizeof(buf)), 0);
	if (geteuid() != 0)
		assert_string_equal(buf, "/tmp/xdg/sc.a_b_c.sock");
	else
		assert_non_null(strstr(buf, "/sc.a_b_c.sock"));
	assert_int_equal(config_ctl_path("x", buf, 8), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_v4_basic, setup, teardown),
		cmocka_unit_test_setup_teardown(test_v4_long_and_legacy, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_v5_basic, setup, teardown),
		cmocka_unit_test_setup_teardown(test_v5_region, setup, teardown),
		cmocka_unit_test_setup_teardown(test_defaults, setup, teardown),
		cmocka_unit_test_setup_teardown(test_env, setup, teardown),
		cmocka_unit_test_setup_teardown(test_missing_credentials, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_unsupported, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_usage_errors, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_bad_values, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_tunnel_connections, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_help_version, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_command_hides_key, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_ctl_path, setup, teardown),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
