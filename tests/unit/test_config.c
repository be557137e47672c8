/*
 * Unit tests: the command line of sc (controller/config.c), version 4 and
 * version 5 forms, the environment, the config file (-c) and their
 * precedence.
 */
#include <sys/stat.h>

#include <fcntl.h>
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
#include "proxyopt.h"
#include "rules.h"

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
	unsetenv("SAUCE_CONFIG_FILE");
	unsetenv("SAUCE_DIRECT_DOMAINS");
	unsetenv("SAUCE_DENY_DOMAINS");
	unsetenv("SAUCE_TUNNEL_DOMAINS");
	unsetenv("SAUCE_TLS_PASSTHROUGH_DOMAINS");
	unsetenv("SAUCE_TLS_RESIGN_DOMAINS");
	unsetenv("SAUCE_AUTH");
	unsetenv("SAUCE_HEADER");
	unsetenv("SAUCE_RESPONSE_HEADER");
	unsetenv("SAUCE_DNS_SERVER");
	unsetenv("SAUCE_DNS_ROUND_ROBIN");
	unsetenv("SAUCE_DNS_TIMEOUT");
	unsetenv("SAUCE_PROXY_LOCALHOST");
	unsetenv("SAUCE_ALLOW_NETWORKS");
	unsetenv("SAUCE_DENY_NETWORKS");
	unsetenv("SAUCE_SCPROXY_PORT");
	unsetenv("SAUCE_PROXY");
	unsetenv("SAUCE_PAC");
	unsetenv("SAUCE_METADATA");
	unsetenv("SAUCE_HTTP_DIAL_TIMEOUT");
	unsetenv("http_proxy");
	unsetenv("HTTP_PROXY");
	unsetenv("https_proxy");
	unsetenv("HTTPS_PROXY");
	unsetenv("all_proxy");
	unsetenv("ALL_PROXY");
	unsetenv("no_proxy");
	unsetenv("NO_PROXY");
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
		argv[argc++] = (char *)(uintptr_t)a;	/* read only */
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
	unsetenv("SAUCE_REGION");
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
	assert_int_equal(parse("run", "-u", "a", "-k", "k", "--log-http",
	    "x", NULL), CONFIG_ERROR);
	assert_non_null(strstr(err, "--log-http is not supported yet"));
	/* --pac is taken: the file is read at start (controller/pac.c) */
	assert_int_equal(parse("-u", "a", "-k", "k", "--pac", "x.pac",
	    NULL), CONFIG_OK);
	assert_string_equal(conf.pac, "x.pac");
	assert_int_equal(parse("-u", "a", "-k", "k", "--capath", "/x", NULL),
	    CONFIG_ERROR);
	/* issue 18: --doctor, the API flags of both forms */
	assert_int_equal(parse("-u", "a", "-k", "k", "--doctor", NULL),
	    CONFIG_OK);
	assert_int_equal(conf.doctor, 1);
	assert_int_equal(parse("-u", "a", "-k", "k", "--status-address",
	    "127.0.0.1:9000", NULL), CONFIG_OK);
	assert_string_equal(conf.api_address, "127.0.0.1:9000");
	assert_int_equal(parse("run", "-u", "a", "-k", "k", "--api-address",
	    "[::1]:9000", "--api-basic-auth", "u:pw", NULL), CONFIG_OK);
	assert_string_equal(conf.api_auth, "u:pw");
	assert_null(strstr(conf.command, "pw"));
	assert_int_equal(parse("run", "-u", "a", "-k", "k", "--api-address",
	    "9000", NULL), CONFIG_ERROR);
	assert_int_equal(parse("run", "-u", "a", "-k", "k", "--api-basic-auth",
	    "nocolon", NULL), CONFIG_ERROR);
	assert_int_equal(parse("run", "-u", "a", "-k", "k",
	    "--http-tls-keylog-file", "x", NULL), CONFIG_ERROR);
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

/* Write text to a new file of that mode; its path in cfpath. */
static char	 cfpath[64];

static const char *
cfile(mode_t mode, const char *text)
{
	int	 fd;

	if (cfpath[0] != '\0')
		unlink(cfpath);
	strlcpy(cfpath, "/tmp/test_config.XXXXXX", sizeof(cfpath));
	assert_int_not_equal(fd = mkstemp(cfpath), -1);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	assert_int_equal(fchmod(fd, mode), 0);
	close(fd);
	return (cfpath);
}

static void
test_file_v5(void **state)
{
	const char	*f;

	f = cfile(0600, "---\n# a comment\nusername: alice\n"
	    "access-key: 'k-e-y'\nregion: us-west\ntunnel-name: \"my tun\"\n"
	    "tunnel-connections: 4\ntunnel-pool: true\nshared: all\n"
	    "log-level: debug\nmax-missed-acks: 9\nno-remove-colliding-tunnels:"
	    " yes\nreadyfile: /tmp/r\nlog-file:\n");
	assert_int_equal(parse("run", "-c", f, NULL), CONFIG_OK);
	assert_string_equal(conf.user, "alice");
	assert_string_equal(conf.key, "k-e-y");
	assert_string_equal(conf.region, "us-west");
	assert_string_equal(conf.rest_url, SC_DEFAULT_REST_URL);
	assert_string_equal(conf.tunnel_name, "my tun");
	assert_int_equal(conf.tunnel_connections, 4);
	assert_int_equal(conf.tunnel_pool, 1);
	assert_int_equal(conf.shared, 1);
	assert_int_equal(conf.verbose, 1);
	assert_int_equal(conf.max_missed_acks, 9);
	assert_int_equal(conf.no_remove_colliding, 1);
	assert_string_equal(conf.readyfile, "/tmp/r");
	/* "log-file:" with no value sets nothing */
	assert_null(conf.logfile);
	assert_null(config_warning());
	/* the key is not in the command line the tunnel's metadata carries */
	assert_null(strstr(conf.command, "k-e-y"));
	/* --config-file and SAUCE_CONFIG_FILE */
	assert_int_equal(parse("run", "--config-file", f, NULL), CONFIG_OK);
	assert_string_equal(conf.key, "k-e-y");
	setenv("SAUCE_CONFIG_FILE", f, 1);
	assert_int_equal(parse("run", NULL), CONFIG_OK);
	assert_string_equal(conf.user, "alice");
	/* false switches, an empty file, a file of only "---" */
	f = cfile(0600, "tunnel-pool: false\nno-remove-colliding-tunnels: "
	    "\"off\"\n");
	assert_int_equal(parse("run", "-u", "a", "-k", "k", "-c", f, NULL),
	    CONFIG_OK);
	assert_int_equal(conf.tunnel_pool, 0);
	assert_int_equal(conf.no_remove_colliding, 0);
	f = cfile(0600, "");
	assert_int_equal(parse("run", "-u", "a", "-k", "k", "-c", f, NULL),
	    CONFIG_OK);
	f = cfile(0600, "---\n");
	assert_int_equal(parse("run", "-u", "a", "-k", "k", "-c", f, NULL),
	    CONFIG_OK);
}

static void
test_file_v4(void **state)
{
	const char	*f;

	/* the keys of the version 4 config files, as they were written */
	f = cfile(0600, "user: 'bob'\napi-key: 'xxxx-xxx'\n"
	    "tunnel-identifier: 'my-macos'\nlogfile: '/tmp/sc-mac.log'\n"
	    "se-port: 4011\nshared-tunnel: true\nverbose: 2\n"
	    "no-remove-colliding-tunnels: \"true\"\n"
	    "rest-url: \"https://h.example/rest/v1\"\n");
	assert_int_equal(parse("-c", f, NULL), CONFIG_OK);
	assert_int_equal(conf.legacy, 1);
	assert_string_equal(conf.user, "bob");
	assert_string_equal(conf.key, "xxxx-xxx");
	assert_string_equal(conf.tunnel_name, "my-macos");
	assert_string_equal(conf.logfile, "/tmp/sc-mac.log");
	assert_int_equal(conf.se_port, 4011);
	assert_int_equal(conf.se_port_set, 1);
	assert_int_equal(conf.shared, 1);
	assert_int_equal(conf.verbose, 2);
	assert_int_equal(conf.no_remove_colliding, 1);
	assert_string_equal(conf.rest_url, "https://h.example/rest/v1");
	assert_int_equal(parse("legacy", "--config-file", f, NULL), CONFIG_OK);
	assert_string_equal(conf.user, "bob");
	/* a version 5 key in a version 4 file, and the reverse */
	f = cfile(0600, "region: us-west\n");
	assert_int_equal(parse("-u", "a", "-k", "k", "-c", f, NULL),
	    CONFIG_ERROR);
	assert_non_null(strstr(err, "unknown key 'region'"));
	assert_non_null(strstr(err, "sc run"));
	f = cfile(0600, "logfile: /x\n");
	assert_int_equal(parse("run", "-u", "a", "-k", "k", "-c", f, NULL),
	    CONFIG_ERROR);
	assert_non_null(strstr(err, "unknown key 'logfile'"));
}

static void
test_file_precedence(void **state)
{
	const char	*f;

	f = cfile(0600, "username: fileuser\naccess-key: filekey\n"
	    "tunnel-name: filename\nregion: eu-central\nlog-level: info\n"
	    "tunnel-connections: 3\nverbose: true\n");
	/* the file alone */
	assert_int_equal(parse("run", "-c", f, NULL), CONFIG_OK);
	assert_string_equal(conf.user, "fileuser");
	assert_string_equal(conf.tunnel_name, "filename");
	/* the environment beats the file */
	setenv("SAUCE_USERNAME", "envuser", 1);
	setenv("SAUCE_ACCESS_KEY", "envkey", 1);
	setenv("SAUCE_TUNNEL_NAME", "envname", 1);
	setenv("SAUCE_REGION", "us-east", 1);
	assert_int_equal(parse("run", "-c", f, NULL), CONFIG_OK);
	assert_string_equal(conf.user, "envuser");
	assert_string_equal(conf.key, "envkey");
	assert_string_equal(conf.tunnel_name, "envname");
	assert_string_equal(conf.region, "us-east");
	assert_int_equal(conf.tunnel_connections, 3);
	/* the flags beat both */
	assert_int_equal(parse("run", "-c", f, "-u", "flaguser", "-k",
	    "flagkey", "-i", "flagname", "-r", "us-west",
	    "--tunnel-connections", "5", "-v", "-v", NULL), CONFIG_OK);
	assert_string_equal(conf.user, "flaguser");
	assert_string_equal(conf.key, "flagkey");
	assert_string_equal(conf.tunnel_name, "flagname");
	assert_string_equal(conf.region, "us-west");
	assert_int_equal(conf.tunnel_connections, 5);
	/* -v on the command line: log-level and verbose in the file lose */
	assert_int_equal(conf.verbose, 2);
	assert_int_equal(parse("run", "-c", f, "--log-level", "trace", NULL),
	    CONFIG_OK);
	assert_int_equal(conf.verbose, 2);
	clear_env();
	/* a bad value is an error even where a flag overrides it */
	f = cfile(0600, "tunnel-connections: 99\ntunnel-name: n\n");
	assert_int_equal(parse("run", "-u", "a", "-k", "k", "-c", f,
	    "--tunnel-connections", "2", NULL), CONFIG_ERROR);
	assert_non_null(strstr(err, "line 1"));
	f = cfile(0600, "username: fileuser\naccess-key: filekey\n");
	/* the last -c wins */
	assert_int_equal(parse("run", "-c", "/nonexistent/x.yaml", "-c", f,
	    NULL), CONFIG_OK);
	assert_string_equal(conf.user, "fileuser");
	/* SAUCE_CONFIG_FILE loses to -c */
	setenv("SAUCE_CONFIG_FILE", "/nonexistent/x.yaml", 1);
	assert_int_equal(parse("run", "-c", f, NULL), CONFIG_OK);
	assert_int_equal(parse("run", NULL), CONFIG_ERROR);
	assert_non_null(strstr(err, "/nonexistent/x.yaml"));
}

/* the rules of conf, "list syntax text" each, joined by "|" */
static const char *
rules_shown(void)
{
	static char		 buf[1024];
	const struct rule	*ru;
	size_t			 i;
	char			 one[128];

	buf[0] = '\0';
	for (i = 0; conf.rules != NULL && i < rules_count(conf.rules); i++) {
		ru = rules_get(conf.rules, i);
		snprintf(one, sizeof(one), "%s%d %d %s", i ? "|" : "",
		    ru->list, ru->syntax, ru->text);
		strlcat(buf, one, sizeof(buf));
	}
	return (buf);
}

/* -D, -t, -F, -B and the version 5 lists, from flags, variables, file */
static void
test_rules(void **state)
{
	const char	*f;

	/* version 4: comma lists, repeated flags add up */
	assert_int_equal(parse("-u", "a", "-k", "k", "-D", "a.example,"
	    "*.b.example", "-D", ".c.example", "-t", "office.example",
	    "-F", "ads\\.,track", "-B", "all", NULL), CONFIG_OK);
	assert_string_equal(rules_shown(), "1 0 a.example|1 0 *.b.example|"
	    "1 0 .c.example|2 0 office.example|0 0 ads\\.|0 0 track|3 0 all");
	/* long forms */
	assert_int_equal(parse("-u", "a", "-k", "k", "--direct-domains",
	    "a.example", "--tunnel-domains", "b.example",
	    "--fast-fail-regexps", "x", "--no-ssl-bump-domains", "c.example",
	    NULL), CONFIG_OK);
	assert_int_equal(rules_count(conf.rules), 4);
	/* version 5: expressions, '-' excludes */
	assert_int_equal(parse("run", "-u", "a", "-k", "k", "-F",
	    "ads\\.example", "-D", ".*\\.cdn\\.example,-img\\.cdn\\.example",
	    "-b", "secure\\.example", NULL), CONFIG_OK);
	assert_string_equal(rules_shown(), "0 1 ads\\.example|"
	    "1 1 .*\\.cdn\\.example|1 1 -img\\.cdn\\.example|"
	    "4 1 secure\\.example");
	assert_int_equal(parse("run", "-u", "a", "-k", "k", "-T", "a",
	    "--tls-passthrough-domains", ".*", "--deny-domains", "d",
	    NULL), CONFIG_OK);
	assert_int_equal(rules_count(conf.rules), 3);
	/* none: no rules at all */
	assert_int_equal(parse("-u", "a", "-k", "k", NULL), CONFIG_OK);
	assert_null(conf.rules);

	/* a bad pattern: exit 1, the message names the flag and the rule */
	assert_int_equal(parse("run", "-u", "a", "-k", "k", "-D",
	    "good\\.example,(bad", NULL), CONFIG_ERROR);
	assert_non_null(strstr(err, "-D: '(bad': missing ')'"));
	assert_int_equal(parse("-u", "a", "-k", "k", "-D", "a..example",
	    NULL), CONFIG_ERROR);
	assert_non_null(strstr(err, "'a..example'"));
	assert_int_equal(parse("-u", "a", "-k", "k", "-F", "a(?=b)",
	    NULL), CONFIG_ERROR);
	assert_non_null(strstr(err, "'a(?=b)'"));
	/* lists that exclude each other */
	assert_int_equal(parse("run", "-u", "a", "-k", "k", "-D", "a",
	    "-T", "b", NULL), CONFIG_ERROR);
	assert_non_null(strstr(err, "exclude each other"));
	assert_int_equal(parse("run", "-u", "a", "-k", "k", "-B", "a",
	    "-b", "b", NULL), CONFIG_ERROR);
	assert_non_null(strstr(err, "exclude each other"));

	/* SAUCE_* variables (version 5), below the flags */
	setenv("SAUCE_DIRECT_DOMAINS", "env\\.example", 1);
	setenv("SAUCE_TLS_PASSTHROUGH_DOMAINS", ".*", 1);
	assert_int_equal(parse("run", "-u", "a", "-k", "k", NULL), CONFIG_OK);
	assert_string_equal(rules_shown(), "1 1 env\\.example|3 1 .*");
	assert_int_equal(parse("run", "-u", "a", "-k", "k", "-D",
	    "flag\\.example", NULL), CONFIG_OK);
	assert_string_equal(rules_shown(), "1 1 flag\\.example|3 1 .*");
	setenv("SAUCE_DENY_DOMAINS", "(", 1);
	assert_int_equal(parse("run", "-u", "a", "-k", "k", NULL),
	    CONFIG_ERROR);
	assert_non_null(strstr(err, "SAUCE_DENY_DOMAINS: '('"));
	clear_env();

	/* the config file: lists or comma strings, below flags and variables */
	f = cfile(0600, "direct-domains: [a\\.example, 'b\\.example,c']\n"
	    "deny-domains: ads\n");
	assert_int_equal(parse("run", "-u", "a", "-k", "k", "-c", f, NULL),
	    CONFIG_OK);
	assert_string_equal(rules_shown(), "1 1 a\\.example|1 1 b\\.example|"
	    "1 1 c|0 1 ads");
	assert_int_equal(parse("run", "-u", "a", "-k", "k", "-c", f, "-F",
	    "flag", NULL), CONFIG_OK);
	assert_string_equal(rules_shown(), "0 1 flag|1 1 a\\.example|"
	    "1 1 b\\.example|1 1 c");
	setenv("SAUCE_DIRECT_DOMAINS", "env", 1);
	assert_int_equal(parse("run", "-u", "a", "-k", "k", "-c", f, NULL),
	    CONFIG_OK);
	assert_string_equal(rules_shown(), "1 1 env|0 1 ads");
	clear_env();
	f = cfile(0600, "no-ssl-bump-domains: all\n"
	    "fast-fail-regexps: ['a,b']\n");
	assert_int_equal(parse("-u", "a", "-k", "k", "-c", f, NULL),
	    CONFIG_OK);
	assert_string_equal(rules_shown(), "3 0 all|0 0 a|0 0 b");
}

/* issue 18: the operator's region table, in the file or with --regions */
static void
test_v5_regions(void **state)
{
	const char	*f;

	f = cfile(0600, "regions:\n  - lab=http://10.0.0.5:4400/rest/v1\n"
	    "  - us-west=https://tunnels.example/rest/v1/,eu=http://e/x\n"
	    "region: lab\n");
	assert_int_equal(parse("run", "-u", "a", "-k", "k", "-c", f, NULL),
	    CONFIG_OK);
	assert_string_equal(conf.rest_url, "http://10.0.0.5:4400/rest/v1");
	/* the table names a hosted region: it wins over the default */
	assert_int_equal(parse("run", "-u", "a", "-k", "k", "-c", f, "-r",
	    "us-west", NULL), CONFIG_OK);
	assert_string_equal(conf.rest_url, "https://tunnels.example/rest/v1");
	assert_int_equal(parse("run", "-u", "a", "-k", "k", "-c", f, "-r",
	    "us-east", NULL), CONFIG_OK);
	assert_string_equal(conf.rest_url, SC_DEFAULT_REST_URL);
	assert_int_equal(parse("run", "-u", "a", "-k", "k", "-c", f, "-r",
	    "mars", NULL), CONFIG_ERROR);
	assert_non_null(strstr(err, "unknown region 'mars' (known: lab, "
	    "us-west, eu, us-west,"));
	f = cfile(0600, "region: mars\n");
	assert_int_equal(parse("run", "-u", "a", "-k", "k", "-c", f, NULL),
	    CONFIG_ERROR);
	assert_non_null(strstr(err, "unknown region 'mars'"));
	assert_int_equal(parse("run", "-u", "a", "-k", "k", "--regions",
	    "x=ftp://a", NULL), CONFIG_ERROR);
	assert_non_null(strstr(err, "not name=URL"));
	assert_int_equal(parse("run", "-u", "a", "-k", "k", "--regions",
	    "=http://a", NULL), CONFIG_ERROR);
	assert_int_equal(parse("run", "-u", "a", "-k", "k", "--regions",
	    "q=http://q/r", "-r", "q", NULL), CONFIG_OK);
	assert_string_equal(conf.rest_url, "http://q/r");
}

static void
test_file_errors(void **state)
{
	const struct {
		const char	*text;
		const char	*want;
	} bad[] = {
		{ "username: a\nbogus: 1\n", "line 2: unknown key 'bogus'" },
		{ "region: [us-west, us-east]\n", "'region' takes one value" },
		{ "tunnel-connections: 99\n",
		    "line 1: tunnel-connections must be between 1 and 16" },
		{ "tunnel-connections: many\n", "must be between" },
		{ "max-missed-acks: -1\n", "max-missed-acks" },
		{ "tunnel-pool: maybe\n", "'tunnel-pool' must be true or false" },
		{ "verbose: 9\n", "a number from 0 to 3" },
		{ "shared: some\n", "the only value is 'all'" },
		{ "rest-url: ftp://h\n", "not an http:// or https:// URL" },
		{ "\n\nusername: a\nusername: b\n",
		    "line 4: 'username' is given twice (first on line 3)" },
		{ "- a\n- b\n", "must be a mapping" },
		{ "just a string\n", "must be a mapping" },
		{ "a: &x 1\nb: *x\n", "line 2: aliases" },
		{ "metadata: {a: b}\n", "not a mapping" },
		{ "direct-domains: [[a]]\n", "may hold only values" },
		{ "[a]: b\n", "a key must be a flag name" },
		{ "username: [a\n", "not valid YAML" },
		{ "username: \"a\\0b\"\n", "NUL character" },
		{ "a: b\n---\nc: d\n", "only one YAML document" },
		{ "help: true\n", "'help' cannot be set in a config file" },
		{ "config-file: /x\n", "cannot be set" },
		{ "direct-domains: [a.com, 'b[']\n", "'b[': missing ']'" },
		{ "pac: \"\"\n", "pac: a file or an http:// or https:// URL" },
		{ "username: \"\\x01\"\n", "control character" },
		{ "\"\\e[31m\": x\n", "a key must be a flag name" },
		{ "\tusername: a\n", "not valid YAML" },
		{ "username: a\n\xff\xfe: b\n", "not valid YAML" },
		{ NULL, NULL }
	};
	const char	*f;
	int		 i;

	for (i = 0; bad[i].text != NULL; i++) {
		f = cfile(0600, bad[i].text);
		if (parse("run", "-u", "a", "-k", "k", "-c", f, NULL) !=
		    CONFIG_ERROR || strstr(err, bad[i].want) == NULL ||
		    strstr(err, f) == NULL)
			fail_msg("'%s': got '%s', want '%s'", bad[i].text, err,
			    bad[i].want);
	}
	/* a file that is not there, or not a file */
	assert_int_equal(parse("run", "-u", "a", "-k", "k", "-c",
	    "/nonexistent/sc.yaml", NULL), CONFIG_ERROR);
	assert_non_null(strstr(err, "/nonexistent/sc.yaml"));
	assert_int_equal(parse("run", "-u", "a", "-k", "k", "-c", "/tmp",
	    NULL), CONFIG_ERROR);
	assert_non_null(strstr(err, "not a regular file"));
	unlink("/tmp/test_config.fifo");
	assert_int_equal(mkfifo("/tmp/test_config.fifo", 0600), 0);
	assert_int_equal(parse("run", "-u", "a", "-k", "k", "-c",
	    "/tmp/test_config.fifo", NULL), CONFIG_ERROR);
	assert_non_null(strstr(err, "not a regular file"));
	unlink("/tmp/test_config.fifo");
	assert_int_equal(parse("run", "-u", "a", "-k", "k", "-c", NULL),
	    CONFIG_USAGE);
	/* a key only in the file is still required somewhere */
	f = cfile(0600, "username: a\n");
	assert_int_equal(parse("run", "-c", f, NULL), CONFIG_ERROR);
	assert_non_null(strstr(err, "access key"));
}

static void
test_file_key_secret(void **state)
{
	const char	*texts[] = {
		"access-key: [TOPSECRETKEY]\n",
		"access-key: {x: TOPSECRETKEY}\n",
		"access-key: TOPSECRETKEY\nbogus: 1\n",
		"access-key: TOPSECRETKEY\naccess-key: TOPSECRETKEY\n",
		"access-key: \"TOPSECRETKEY\n",
		"TOPSECRETKEY\n",
		"access-key TOPSECRETKEY\n",
		NULL
	};
	const char	*f;
	int		 i;

	for (i = 0; texts[i] != NULL; i++) {
		f = cfile(0600, texts[i]);
		assert_int_equal(parse("run", "-u", "a", "-c", f, NULL),
		    CONFIG_ERROR);
		if (strstr(err, "TOPSECRETKEY") != NULL)
			fail_msg("the key is in the message '%s'", err);
	}
}

/* -x, the proxies of the environment, timeouts, metadata (issue 17) */
static void
test_upstream(void **state)
{
	const struct upproxy	*up;
	const char		*f;
	static const struct { const char *flag, *val, *want; } bad[] = {
		{ "-x", "ftp://h:1", "-x: unknown proxy scheme 'ftp'" },
		{ "-x", "http://h:0", "-x: bad proxy host[:port]" },
		{ "-x", "http://u:p@", "-x: bad proxy host" },
		{ "-x", "http://h:1/path", "-x: a proxy has no path" },
		{ "-x", "http://:p@h:1", "-x: an empty proxy user name" },
		{ "-x", "http://u:%zz@h:1", "-x: bad proxy password" },
		{ "-x", "https://h:0", "-x: bad proxy host[:port]" },
		{ "--http-dial-timeout", "0s", "--http-dial-timeout: '0s'" },
		{ "--http-dial-timeout", "2h", "--http-dial-timeout: '2h'" },
		{ "--http-response-header-timeout", "5 s", "'5 s' is not" },
		{ "--http-idle-conn-timeout", "1x", "'1x' is not" },
		{ "-M", "novalue", "-M: 'novalue' is not key=value" },
		{ "-M", "hostname=x", "-M: 'hostname' is a key sc sets" },
		{ "-M", "a b=c", "-M: bad key 'a b'" },
		{ "--pac", "", "--pac: a file or an http:// or https:// URL" },
		{ NULL, NULL, NULL }
	};
	int			 i;

	assert_int_equal(parse("run", "-u", "a", "-k", "k", "-x",
	    "http://us%40r:p%3Aw@proxy.corp:3128", "-M", "team=qa,ci=1",
	    "--http-dial-timeout", "1m30s", "--http-tls-handshake-timeout",
	    "500ms", "--http-response-header-timeout", "0",
	    "--http-idle-conn-timeout", "20", NULL), CONFIG_OK);
	up = &conf.po->up[UPF_ALL];
	assert_int_equal(up->scheme, UPX_HTTP);
	assert_string_equal(up->host, "proxy.corp");
	assert_int_equal(up->portnum, 3128);
	assert_string_equal(up->user, "us@r");
	assert_string_equal(up->pass, "p:w");
	assert_string_equal(up->shown, "http://us@r:****@proxy.corp:3128");
	assert_null(strstr(conf.command, "p%3Aw"));
	assert_non_null(strstr(conf.command, "us%40r:*****@proxy.corp"));
	assert_int_equal(conf.dial_ms, 90000);
	assert_int_equal(conf.tls_ms, 500);
	assert_int_equal(conf.header_ms, 0);
	assert_int_equal(conf.header_set, 1);
	assert_int_equal(conf.idle_ms, 20000);
	assert_string_equal(conf.metadata, "team=qa,ci=1");
	/* defaults: socks5, port 1080, [v6] */
	assert_int_equal(parse("run", "-u", "a", "-k", "k", "-x",
	    "socks5://[fd00::1]", NULL), CONFIG_OK);
	up = &conf.po->up[UPF_ALL];
	assert_int_equal(up->scheme, UPX_SOCKS5);
	assert_int_equal(up->portnum, 1080);
	assert_string_equal(up->shown, "socks5://[fd00::1]:1080");
	/* https://: TLS to the proxy, port 443 */
	assert_int_equal(parse("run", "-u", "a", "-k", "k", "-x",
	    "https://proxy.corp", NULL), CONFIG_OK);
	up = &conf.po->up[UPF_ALL];
	assert_int_equal(up->scheme, UPX_HTTP);
	assert_int_equal(up->tls, 1);
	assert_string_equal(up->shown, "https://proxy.corp:443");
	for (i = 0; bad[i].flag != NULL; i++)
		if (parse("run", "-u", "a", "-k", "k", bad[i].flag,
		    bad[i].val, NULL) != CONFIG_ERROR ||
		    strstr(err, bad[i].want) == NULL)
			fail_msg("%s %s: got '%s', want '%s'", bad[i].flag,
			    bad[i].val, err, bad[i].want);
	/* --extra-info: JSON, bounded */
	assert_int_equal(parse("-u", "a", "-k", "k", "--extra-info",
	    "{\"a\": [1, 2]}", NULL), CONFIG_OK);
	assert_string_equal(conf.extra_info, "{\"a\":[1,2]}");
	assert_int_equal(parse("-u", "a", "-k", "k", "--extra-info", "{a}",
	    NULL), CONFIG_ERROR);
	assert_non_null(strstr(err, "--extra-info: not JSON"));
	assert_int_equal(parse("-u", "a", "-k", "k", "--extra-info",
	    "[[[[[[[[[1]]]]]]]]]", NULL), CONFIG_ERROR);
	assert_non_null(strstr(err, "nested more than"));
	/* -x and --pac exclude each other */
	f = cfile(0600, "function FindProxyForURL(u, h) { return \"DIRECT\"; }");
	assert_int_equal(parse("run", "-u", "a", "-k", "k", "-x", "h:1",
	    "--pac", f, NULL), CONFIG_ERROR);
	assert_non_null(strstr(err, "-x/--proxy and --pac: one or the other"));
	/* SAUCE_PROXY, SAUCE_METADATA; the config file */
	setenv("SAUCE_PROXY", "socks5://s:1", 1);
	setenv("SAUCE_METADATA", "k=v", 1);
	assert_int_equal(parse("run", "-u", "a", "-k", "k", NULL), CONFIG_OK);
	assert_int_equal(conf.po->up[UPF_ALL].scheme, UPX_SOCKS5);
	assert_string_equal(conf.metadata, "k=v");
	setenv("SAUCE_PROXY", "gopher://s:1", 1);
	assert_int_equal(parse("run", "-u", "a", "-k", "k", NULL),
	    CONFIG_ERROR);
	assert_non_null(strstr(err, "SAUCE_PROXY: unknown proxy scheme"));
	unsetenv("SAUCE_PROXY");
	unsetenv("SAUCE_METADATA");
	f = cfile(0600, "proxy: http://f:8\nhttp-dial-timeout: 3s\n"
	    "metadata: [a=b, c=d]\n");
	assert_int_equal(parse("run", "-u", "a", "-k", "k", "-c", f, NULL),
	    CONFIG_OK);
	assert_string_equal(conf.po->up[UPF_ALL].host, "f");
	assert_int_equal(conf.dial_ms, 3000);
	assert_string_equal(conf.metadata, "a=b,c=d");
	f = cfile(0600, "http-idle-conn-timeout: forever\n");
	assert_int_equal(parse("run", "-u", "a", "-k", "k", "-c", f, NULL),
	    CONFIG_ERROR);
	assert_non_null(strstr(err, "http-idle-conn-timeout: 'forever'"));
	/* the environment's proxies, without -x; NO_PROXY */
	setenv("http_proxy", "http://e:1", 1);
	setenv("ALL_PROXY", "socks5://a:2", 1);
	setenv("NO_PROXY", ".corp.test, localhost", 1);
	assert_int_equal(parse("-u", "a", "-k", "k", NULL), CONFIG_OK);
	assert_int_equal(conf.po->up[UPF_HTTP].scheme, UPX_HTTP);
	assert_int_equal(conf.po->up[UPF_HTTPS].scheme, UPX_SOCKS5);
	assert_non_null(proxyopt_upproxy_for(conf.po, "www.x.test", 0));
	assert_null(proxyopt_upproxy_for(conf.po, "app.corp.test", 0));
	assert_null(proxyopt_upproxy_for(conf.po, "corp.test", 1));
	assert_non_null(proxyopt_upproxy_for(conf.po, "xcorp.test", 1));
	/* -x wins over them; a bad one is skipped with a warning */
	assert_int_equal(parse("run", "-u", "a", "-k", "k", "-x", "h:1",
	    NULL), CONFIG_OK);
	assert_int_equal(conf.po->up[UPF_HTTP].scheme, UPX_NONE);
	assert_ptr_equal(proxyopt_upproxy_for(conf.po, "app.corp.test", 0),
	    &conf.po->up[UPF_ALL]);
	setenv("http_proxy", "gopher://e:1", 1);
	assert_int_equal(parse("-u", "a", "-k", "k", NULL), CONFIG_OK);
	assert_non_null(conf.upstream_warn);
	assert_non_null(strstr(conf.upstream_warn, "http_proxy: unknown"));
	unsetenv("http_proxy");
	unsetenv("ALL_PROXY");
	unsetenv("NO_PROXY");
	/* localhost */
	assert_true(proxyopt_is_localhost("localhost"));
	assert_true(proxyopt_is_localhost("a.localhost."));
	assert_true(proxyopt_is_localhost("2130706433"));
	assert_true(proxyopt_is_localhost("::ffff:127.0.0.2"));
	assert_false(proxyopt_is_localhost("localhost.example"));
	assert_false(proxyopt_is_localhost("10.0.0.1"));
}

static void
test_file_mode(void **state)
{
	const char	*f;
	const char	*w;

	/* readable by others, with the key: a warning, and sc goes on */
	f = cfile(0644, "access-key: k\n");
	assert_int_equal(parse("run", "-u", "a", "-c", f, NULL), CONFIG_OK);
	assert_non_null(w = config_warning());
	assert_non_null(strstr(w, f));
	assert_non_null(strstr(w, "readable by others and holds the access "
	    "key: chmod 600"));
	f = cfile(0640, "api-key: k\n");
	assert_int_equal(parse("run", "-u", "a", "-c", f, NULL), CONFIG_OK);
	assert_non_null(config_warning());
	/* even when a flag overrides the key in the file */
	assert_int_equal(parse("run", "-u", "a", "-k", "x", "-c", f, NULL),
	    CONFIG_OK);
	assert_non_null(config_warning());
	/* 0600 and 0400: none */
	f = cfile(0600, "access-key: k\n");
	assert_int_equal(parse("run", "-u", "a", "-c", f, NULL), CONFIG_OK);
	assert_null(config_warning());
	f = cfile(0400, "access-key: k\n");
	assert_int_equal(parse("run", "-u", "a", "-c", f, NULL), CONFIG_OK);
	assert_null(config_warning());
	/* no key in it: readable is fine, writable is not */
	f = cfile(0644, "tunnel-name: n\n");
	assert_int_equal(parse("run", "-u", "a", "-k", "k", "-c", f, NULL),
	    CONFIG_OK);
	assert_null(config_warning());
	f = cfile(0666, "tunnel-name: n\n");
	assert_int_equal(parse("run", "-u", "a", "-k", "k", "-c", f, NULL),
	    CONFIG_OK);
	assert_non_null(w = config_warning());
	assert_non_null(strstr(w, "writable by others"));
	/* the next parse without a file clears it */
	assert_int_equal(parse("run", "-u", "a", "-k", "k", NULL), CONFIG_OK);
	assert_null(config_warning());
	unlink(cfpath);
	cfpath[0] = '\0';
}

static void
test_ctl_path(void **state)
{
	char	 buf[256];

	assert_int_equal(sc_ctl_path("a/b c", buf, sizeof(buf)), 0);
	if (geteuid() != 0)
		assert_string_equal(buf, "/tmp/xdg/sc.a_b_c.sock");
	else
		assert_non_null(strstr(buf, "/sc.a_b_c.sock"));
	assert_int_equal(sc_ctl_path("x", buf, 8), -1);
	assert_int_equal(sc_ctl_path(NULL, buf, sizeof(buf)), 0);
	assert_non_null(strstr(buf, "/sc.default.sock"));
}

/* The upstream proxy flags: what they set, and errors that never show a password. */
static void
unset_proxy_env(void)
{
	unsetenv("http_proxy");
	unsetenv("HTTP_PROXY");
	unsetenv("all_proxy");
	unsetenv("ALL_PROXY");
	unsetenv("SAUCE_PROXY_SAUCE");
}

static void
test_proxy(void **state)
{
	const char	*bad[] = {
		"socks5://u:topsecret@h:1",	/* not http */
		"u:topsecret@[::1",		/* no ']' */
		"u:topsecret@::1:8080",		/* IPv6 without brackets */
		"u:top%zzsecret@h:1",		/* a bad %-escape */
		"topsecret@h:1",		/* no user:password */
		"u:topsecret@h:99999",		/* the port */
		"u:topsecret@h",		/* no port */
		"u:topsecret@h o:1",		/* the host */
		/* where the host:port parsers disagreed (test_http.c) */
		"u:topsecret@h:+80",		/* a sign */
		"u:topsecret@h: 80",		/* a space */
		"u:topsecret@h:0",		/* port 0 */
		"u:topsecret@[name]:80",	/* a name in brackets */
		"u:topsecret@h:",		/* an empty port, none needed */
		NULL };
	int		 i;

	unset_proxy_env();
	/* version 5: both REST and the tunnel, %-escaped credentials */
	assert_int_equal(parse("run", "-u", "a", "-k", "k", "--proxy-sauce",
	    "http://us%3Aer:p%40ss@proxy.example:3128/", NULL), CONFIG_OK);
	assert_string_equal(conf.proxy_host, "proxy.example");
	assert_int_equal(conf.proxy_port, 3128);
	assert_string_equal(conf.proxy_user, "us:er");
	assert_string_equal(conf.proxy_pass, "p@ss");
	assert_true(conf.proxy_rest && conf.proxy_tunnel);
	assert_int_equal(parse("run", "-u", "a", "-k", "k", "--proxy-sauce",
	    "[::1]:8080", NULL), CONFIG_OK);
	assert_string_equal(conf.proxy_host, "::1");
	assert_int_equal(conf.proxy_port, 8080);
	assert_null(conf.proxy_user);
	/* version 4: REST alone, then the tunnel too with -T */
	assert_int_equal(parse("-u", "a", "-k", "k", "-p", "10.0.0.1:3128",
	    "-w", "bob:s3cret", NULL), CONFIG_OK);
	assert_string_equal(conf.proxy_host, "10.0.0.1");
	assert_string_equal(conf.proxy_user, "bob");
	assert_string_equal(conf.proxy_pass, "s3cret");
	assert_true(conf.proxy_rest);
	assert_false(conf.proxy_tunnel);
	assert_int_equal(parse("-u", "a", "-k", "k", "-p", "10.0.0.1:3128",
	    "-T", NULL), CONFIG_OK);
	assert_true(conf.proxy_rest && conf.proxy_tunnel);
	assert_null(conf.proxy_user);
	/* -T and -w need -p */
	assert_int_equal(parse("-u", "a", "-k", "k", "-T", NULL), CONFIG_ERROR);
	assert_int_equal(parse("-u", "a", "-k", "k", "-w", "bob:s3cret", NULL),
	    CONFIG_ERROR);
	assert_null(strstr(err, "s3cret"));
	/* bad values are errors, and no message shows the password */
	for (i = 0; bad[i] != NULL; i++) {
		assert_int_equal(parse("run", "-u", "a", "-k", "k",
		    "--proxy-sauce", bad[i], NULL), CONFIG_ERROR);
		assert_non_null(strstr(err, "--proxy-sauce"));
		assert_null(strstr(err, "topsecret"));
		assert_null(strstr(err, "secret"));
	}
	/* the environment: SAUCE_PROXY_SAUCE for sc run, http_proxy for v4 */
	setenv("SAUCE_PROXY_SAUCE", "u:pw@envproxy:3128", 1);
	assert_int_equal(parse("run", "-u", "a", "-k", "k", NULL), CONFIG_OK);
	assert_string_equal(conf.proxy_host, "envproxy");
	assert_true(conf.proxy_tunnel);
	unset_proxy_env();
	setenv("http_proxy", "http://v4proxy:8888", 1);
	assert_int_equal(parse("-u", "a", "-k", "k", NULL), CONFIG_OK);
	assert_string_equal(conf.proxy_host, "v4proxy");
	assert_int_equal(conf.proxy_port, 8888);
	assert_false(conf.proxy_tunnel);
	/* an empty port is the default one, leading zeros are no matter */
	setenv("http_proxy", "http://v4proxy:/", 1);
	assert_int_equal(parse("-u", "a", "-k", "k", NULL), CONFIG_OK);
	assert_int_equal(conf.proxy_port, 80);
	setenv("http_proxy", "http://v4proxy:03128", 1);
	assert_int_equal(parse("-u", "a", "-k", "k", NULL), CONFIG_OK);
	assert_int_equal(conf.proxy_port, 3128);
	/* a flag beats the environment */
	assert_int_equal(parse("-u", "a", "-k", "k", "-p", "flagproxy:1",
	    NULL), CONFIG_OK);
	assert_string_equal(conf.proxy_host, "flagproxy");
	unset_proxy_env();
}

/* --cacert-file: repeatable, a list in the file; --cacert-system */
/*
 * issue 17: proxyd's flags from the command line, SAUCE_* variables and
 * the config file, in that order; bad values name the flag.
 */
static void
test_proxyd_flags(void **state)
{
	static const struct {
		const char	*flag, *val, *want;
	} bad[] = {
		{ "-a", "user@host:80", "-a: expected user:password@" },
		{ "-a", "u:p@host:0", "-a: bad port" },
		{ "-a", "u:p@ho st:80", "-a: bad host" },
		{ "-H", "X-A: b\r\nX-B: c", "-H: a control character" },
		{ "-H", "Bad Name: x", "-H: bad header name" },
		{ "-H", "X-A", "-H: 'X-A' is none of" },
		{ "-H", "-Content-Length", "-H: Content-Length frames" },
		{ "-H", "Transfer-Encoding: chunked", "-H: Transfer-Encoding" },
		{ "-R", "X-A:\nb", "-R: a control character" },
		{ "-n", "dns.example", "-n: 'dns.example' is not an IP" },
		{ "-n", "1.2.3.4:99999", "-n: '1.2.3.4:99999' is not ip[:port]" },
		{ "--dns-timeout", "5x", "--dns-timeout: '5x' is not a duration" },
		{ "--dns-timeout", "0s", "--dns-timeout: '0s'" },
		{ "--proxy-localhost", "maybe", "--proxy-localhost: 'maybe'" },
		{ "--allow-networks", "10.0.0.0/40", "--allow-networks: " },
		{ "--deny-networks", "10.0.0.0/8:0", "--deny-networks: " },
		{ "--deny-networks", "example.com", "--deny-networks: " },
		{ "--scproxy-port", "70000", "--scproxy-port: '70000'" },
		{ NULL, NULL, NULL }
	};
	const char	*f;
	int		 i;

	for (i = 0; bad[i].flag != NULL; i++)
		if (parse("run", "-u", "a", "-k", "k", bad[i].flag, bad[i].val,
		    NULL) != CONFIG_ERROR || strstr(err, bad[i].want) == NULL)
			fail_msg("%s '%s': got '%s', want '%s'", bad[i].flag,
			    bad[i].val, err, bad[i].want);
	/* a password never in the message */
	assert_int_equal(parse("run", "-u", "a", "-k", "k", "-a",
	    "u:hunter2@h:x", NULL), CONFIG_ERROR);
	assert_null(strstr(err, "hunter2"));

	/* the command line: both versions' forms */
	assert_int_equal(parse("run", "-u", "a", "-k", "k", "-a",
	    "u:p:w@d@app.test:8080", "-a", "v:q@*:*", "-H", "X-A: b",
	    "-H", "-X-B*", "-R", "X-C;", "-n", "10.0.0.1", "-n",
	    "10.0.0.2:5353,[::1]:53", "--dns-round-robin", "--dns-timeout",
	    "500ms", "--proxy-localhost", "allow", "--allow-networks",
	    "10.0.0.0/8,[fd00::/8]:443", "--deny-networks", "10.1.0.0/16:22",
	    "--scproxy-port", "29999", NULL), CONFIG_OK);
	assert_non_null(conf.po);
	assert_int_equal(conf.po->nauth, 2);
	assert_string_equal(conf.po->auth[0].host, "app.test");
	assert_int_equal(conf.po->auth[0].port, 8080);
	assert_string_equal(conf.po->auth[0].user, "u");
	/* base64("u:p:w@d") */
	assert_string_equal(conf.po->auth[0].basic, "Basic dTpwOndAZA==");
	assert_int_equal(conf.po->auth[1].port, 0);
	assert_int_equal(conf.po->nreq, 2);
	assert_int_equal(conf.po->nresp, 1);
	assert_int_equal(conf.po->nnet, 3);
	assert_string_equal(conf.dns, "10.0.0.1:53,10.0.0.2:5353,[::1]:53");
	assert_int_equal(conf.dns_rr, 1);
	assert_int_equal(conf.dns_timeout_ms, 500);
	assert_int_equal(conf.localhost, PO_LOCALHOST_ALLOW);
	assert_int_equal(conf.scproxy_port, 29999);
	/* the metadata's command line shows no password */
	assert_null(strstr(conf.command, "p:w@d"));
	assert_non_null(strstr(conf.command, "-a u:*****@app.test:8080"));
	/* version 4: host:port:user:password; localhost allowed */
	assert_int_equal(parse("-u", "a", "-k", "k", "-a", "h:80:u:p:q",
	    "--dns", "10.0.0.1", NULL), CONFIG_OK);
	assert_string_equal(conf.po->auth[0].host, "h");
	assert_string_equal(conf.po->auth[0].basic, "Basic dTpwOnE=");
	assert_int_equal(conf.localhost, PO_LOCALHOST_DIRECT);
	assert_int_equal(parse("run", "-u", "a", "-k", "k", NULL), CONFIG_OK);
	assert_int_equal(conf.localhost, PO_LOCALHOST_DENY);

	/* SAUCE_* variables, below the flags */
	setenv("SAUCE_AUTH", "e:p@env.test:80", 1);
	setenv("SAUCE_HEADER", "X-Env: 1", 1);
	setenv("SAUCE_RESPONSE_HEADER", "-X-Env-*", 1);
	setenv("SAUCE_DNS_SERVER", "10.0.0.9,10.0.0.8", 1);
	setenv("SAUCE_DNS_ROUND_ROBIN", "true", 1);
	setenv("SAUCE_DNS_TIMEOUT", "2s", 1);
	setenv("SAUCE_PROXY_LOCALHOST", "direct", 1);
	setenv("SAUCE_ALLOW_NETWORKS", "10.0.0.0/8", 1);
	setenv("SAUCE_DENY_NETWORKS", "10.2.0.0/16,10.3.0.0/16", 1);
	setenv("SAUCE_SCPROXY_PORT", "29998", 1);
	assert_int_equal(parse("run", "-u", "a", "-k", "k", "-H", "X-Flag: 1",
	    NULL), CONFIG_OK);
	assert_string_equal(conf.po->auth[0].host, "env.test");
	assert_int_equal(conf.po->nreq, 1);
	assert_string_equal(conf.po->req[0].name, "X-Flag");
	assert_int_equal(conf.po->nresp, 1);
	assert_string_equal(conf.dns, "10.0.0.9:53,10.0.0.8:53");
	assert_int_equal(conf.dns_rr, 1);
	assert_int_equal(conf.dns_timeout_ms, 2000);
	assert_int_equal(conf.localhost, PO_LOCALHOST_DIRECT);
	assert_int_equal(conf.po->nnet, 3);
	assert_int_equal(conf.scproxy_port, 29998);
	setenv("SAUCE_DNS_TIMEOUT", "soon", 1);
	assert_int_equal(parse("run", "-u", "a", "-k", "k", NULL),
	    CONFIG_ERROR);
	assert_non_null(strstr(err, "SAUCE_DNS_TIMEOUT: 'soon'"));
	setenv("SAUCE_DNS_ROUND_ROBIN", "perhaps", 1);
	assert_int_equal(parse("run", "-u", "a", "-k", "k", NULL),
	    CONFIG_ERROR);
	assert_non_null(strstr(err, "SAUCE_DNS_ROUND_ROBIN"));
	clear_env();

	/* the config file, below both */
	f = cfile(0600, "username: a\naccess-key: k\nauth:\n"
	    "  - \"f:p@file.test:*\"\nheader:\n  - \"X-File: 1\"\n"
	    "  - \"-X-Gone\"\nresponse-header: \"X-R;\"\n"
	    "dns-server: [10.0.0.5, \"10.0.0.6:53\"]\ndns-round-robin: true\n"
	    "dns-timeout: 1m\nproxy-localhost: deny\n"
	    "allow-networks: 10.0.0.0/8\ndeny-networks: [\"10.9.0.0/16:1-1024\"]\n"
	    "scproxy-port: 29997\n");
	assert_int_equal(parse("run", "-c", f, NULL), CONFIG_OK);
	assert_string_equal(conf.po->auth[0].host, "file.test");
	assert_int_equal(conf.po->nreq, 2);
	assert_int_equal(conf.po->nresp, 1);
	assert_string_equal(conf.dns, "10.0.0.5:53,10.0.0.6:53");
	assert_int_equal(conf.dns_rr, 1);
	assert_int_equal(conf.dns_timeout_ms, 60000);
	assert_int_equal(conf.localhost, PO_LOCALHOST_DENY);
	assert_int_equal(conf.po->nnet, 2);
	assert_int_equal(conf.scproxy_port, 29997);
	f = cfile(0600, "username: a\naccess-key: k\nheader: \"X A: 1\"\n");
	assert_int_equal(parse("run", "-c", f, NULL), CONFIG_ERROR);
	assert_non_null(strstr(err, "header: bad header name"));
	/* a file with credentials readable by others: a warning */
	f = cfile(0644, "auth: \"f:p@file.test:*\"\n");
	assert_int_equal(parse("run", "-u", "a", "-k", "k", "-c", f, NULL),
	    CONFIG_OK);
	assert_non_null(config_warning());
}

static void
test_cacert(void **state)
{
	const char	*f;

	assert_int_equal(parse("run", "-u", "a", "-k", "k", "--cacert-file",
	    "/etc/hostname", "--cacert-file", "/etc/passwd", NULL), CONFIG_OK);
	assert_int_equal(conf.ncacert_files, 2);
	assert_string_equal(conf.cacert_files[0], "/etc/hostname");
	assert_string_equal(conf.cacert_files[1], "/etc/passwd");
	assert_int_equal(conf.cacert_system, 0);
	assert_int_equal(parse("-u", "a", "-k", "k", "--cacert-system", NULL),
	    CONFIG_OK);
	assert_int_equal(conf.ncacert_files, 0);
	assert_int_equal(conf.cacert_system, 1);
	assert_int_equal(parse("run", "-u", "a", "-k", "k", "--cacert-file",
	    "/nonexistent/ca.pem", NULL), CONFIG_ERROR);
	assert_non_null(strstr(err, "/nonexistent/ca.pem"));
	f = cfile(0600, "username: a\naccess-key: k\ncacert-file:\n"
	    "  - /etc/hostname\n  - /etc/passwd\ncacert-system: true\n");
	assert_int_equal(parse("run", "-c", f, NULL), CONFIG_OK);
	assert_int_equal(conf.ncacert_files, 2);
	assert_string_equal(conf.cacert_files[1], "/etc/passwd");
	assert_int_equal(conf.cacert_system, 1);
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
		cmocka_unit_test_setup_teardown(test_v5_regions, setup,
		    teardown),
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
		cmocka_unit_test_setup_teardown(test_file_v5, setup, teardown),
		cmocka_unit_test_setup_teardown(test_file_v4, setup, teardown),
		cmocka_unit_test_setup_teardown(test_file_precedence, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_rules, setup, teardown),
		cmocka_unit_test_setup_teardown(test_file_errors, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_file_key_secret, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_proxy, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cacert, setup, teardown),
		cmocka_unit_test_setup_teardown(test_proxyd_flags, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_upstream, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_file_mode, setup,
		    teardown),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
