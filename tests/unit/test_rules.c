/*
 * Unit tests of common/rules.c, rules_re.c and rules_re_parse.c: every
 * shape of rule in both syntaxes, the lists' precedence, the regular
 * expressions the matcher takes and refuses, hostile expressions and the
 * limits.
 */
#include <sys/types.h>
#include <sys/time.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "rules.h"

static char	 err[512];

/* rules from (list, syntax, comma list) triples, compiled */
static struct rules *
mk(int n, ...)
{
	struct rules	*r;
	va_list		 ap;
	int		 i, list, syntax;
	const char	*s;

	assert_non_null(r = rules_new());
	va_start(ap, n);
	for (i = 0; i < n; i++) {
		list = va_arg(ap, int);
		syntax = va_arg(ap, int);
		s = va_arg(ap, const char *);
		if (rules_add_list(r, list, syntax, s, err, sizeof(err)) != 0)
			fail_msg("rules_add_list '%s': %s", s, err);
	}
	va_end(ap);
	if (rules_compile(r, err, sizeof(err)) != 0)
		fail_msg("rules_compile: %s", err);
	return (r);
}

static enum rules_route
route(struct rules *r, const char *host, const char *url)
{
	struct rules_verdict	 v;

	rules_decide(r, host, url, &v);
	assert_int_equal(v.error, 0);
	return (v.route);
}

static int
resign(struct rules *r, const char *host)
{
	struct rules_verdict	 v;

	rules_decide(r, host, NULL, &v);
	return (v.resign);
}

/* does one v5 expression match host (the whole of it)? */
static int
re5(const char *re, const char *host)
{
	struct rules	*r;
	int		 m;

	r = mk(1, RULES_DENY, RULES_V5, re);
	m = route(r, host, NULL) == RULES_ROUTE_DENY;
	rules_free(r);
	return (m);
}

/* is one rule refused, with a message that contains what? */
static void
bad(enum rules_list list, enum rules_syntax syntax, const char *item,
    const char *what)
{
	struct rules	*r;

	assert_non_null(r = rules_new());
	if (rules_add(r, list, syntax, item, err, sizeof(err)) == 0)
		fail_msg("'%s' was taken", item);
	if (strstr(err, what) == NULL)
		fail_msg("'%s': message '%s' lacks '%s'", item, err, what);
	rules_free(r);
}

static void
test_v4_domains(void **state)
{
	struct rules	*r;

	r = mk(1, RULES_DIRECT, RULES_V4,
	    "exact.example, *.sub.example,.both.example, 10.0.0.1,[::1]");
	assert_int_equal(rules_count(r), 5);
	assert_int_equal(route(r, "exact.example", NULL), RULES_ROUTE_DIRECT);
	assert_int_equal(route(r, "EXACT.Example.", NULL), RULES_ROUTE_DIRECT);
	assert_int_equal(route(r, "www.exact.example", NULL),
	    RULES_ROUTE_TUNNEL);
	assert_int_equal(route(r, "a.sub.example", NULL), RULES_ROUTE_DIRECT);
	assert_int_equal(route(r, "a.b.sub.example", NULL),
	    RULES_ROUTE_DIRECT);
	assert_int_equal(route(r, "sub.example", NULL), RULES_ROUTE_TUNNEL);
	assert_int_equal(route(r, "xsub.example", NULL), RULES_ROUTE_TUNNEL);
	assert_int_equal(route(r, "both.example", NULL), RULES_ROUTE_DIRECT);
	assert_int_equal(route(r, "x.both.example", NULL), RULES_ROUTE_DIRECT);
	assert_int_equal(route(r, "xboth.example", NULL), RULES_ROUTE_TUNNEL);
	assert_int_equal(route(r, "10.0.0.1", NULL), RULES_ROUTE_DIRECT);
	assert_int_equal(route(r, "10.0.0.11", NULL), RULES_ROUTE_TUNNEL);
	assert_int_equal(route(r, "[::1]", NULL), RULES_ROUTE_DIRECT);
	assert_int_equal(route(r, "::1", NULL), RULES_ROUTE_DIRECT);
	assert_string_equal(rules_get(r, 1)->text, "*.sub.example");
	assert_string_equal(rules_get(r, 1)->name, "sub.example");
	assert_int_equal(rules_get(r, 1)->kind, RULE_SUBDOMAINS);
	assert_int_equal(rules_get(r, 2)->kind, RULE_DOMAIN);
	rules_free(r);

	r = mk(1, RULES_DIRECT, RULES_V4, "all");
	assert_int_equal(route(r, "anything.example", NULL),
	    RULES_ROUTE_DIRECT);
	rules_free(r);

	bad(RULES_DIRECT, RULES_V4, "a*.example", "a '*' may only begin");
	bad(RULES_DIRECT, RULES_V4, "*example.com", "a '*' may only begin");
	bad(RULES_DIRECT, RULES_V4, "example.com:8080", "no port");
	bad(RULES_DIRECT, RULES_V4, "a..example", "empty label");
	bad(RULES_DIRECT, RULES_V4, "a b.example", "may not contain ' '");
	bad(RULES_DIRECT, RULES_V4, "a/b", "may not contain '/'");
	bad(RULES_DIRECT, RULES_V4, "*.", "no domain");
	bad(RULES_DIRECT, RULES_V4, "", "empty rule");
	bad(RULES_DIRECT, RULES_V4, "caf\xc3\xa9.example", "not ASCII");
}

static void
test_v4_fast_fail(void **state)
{
	struct rules		*r;
	struct rules_verdict	 v;

	r = mk(1, RULES_DENY, RULES_V4,
	    "analytics,^http://ads\\.,\\.gif$,.*tracker\\.example.*");
	assert_int_equal(route(r, "t.tracker.example",
	    "http://t.tracker.example/p"), RULES_ROUTE_DENY);
	assert_int_equal(route(r, "t.tracker.example", NULL), RULES_ROUTE_DENY);
	assert_int_equal(route(r, "trackerxexample", NULL), RULES_ROUTE_TUNNEL);
	assert_int_equal(route(r, "www.example",
	    "http://www.example/js/analytics.js"), RULES_ROUTE_DENY);
	assert_int_equal(route(r, "ads.example", "http://ads.example/x"),
	    RULES_ROUTE_DENY);
	assert_int_equal(route(r, "www.ads.example",
	    "http://www.ads.example/x"), RULES_ROUTE_TUNNEL);
	assert_int_equal(route(r, "www.example", "http://www.example/a.gif"),
	    RULES_ROUTE_DENY);
	assert_int_equal(route(r, "www.example",
	    "http://www.example/a.gif?x"), RULES_ROUTE_TUNNEL);
	/* a CONNECT: host:port */
	assert_int_equal(route(r, "analytics.example",
	    "analytics.example:443"), RULES_ROUTE_DENY);
	rules_decide(r, "www.example", "http://www.example/analytics", &v);
	assert_int_equal(v.route, RULES_ROUTE_DENY);
	assert_non_null(v.rule);
	assert_string_equal(v.rule->text, "analytics");
	assert_int_equal(v.rule->kind, RULE_URL_RE);
	rules_free(r);

	/* commas inside braces, brackets and groups do not separate */
	r = mk(1, RULES_DENY, RULES_V4, "a{1,3}b,[,;]x,(c,d),e\\,f");
	assert_int_equal(rules_count(r), 4);
	assert_string_equal(rules_get(r, 0)->text, "a{1,3}b");
	assert_string_equal(rules_get(r, 1)->text, "[,;]x");
	assert_string_equal(rules_get(r, 2)->text, "(c,d)");
	assert_string_equal(rules_get(r, 3)->text, "e\\,f");
	assert_int_equal(route(r, "h", "http://h/aab"), RULES_ROUTE_DENY);
	assert_int_equal(route(r, "h", "http://h/;x"), RULES_ROUTE_DENY);
	assert_int_equal(route(r, "h", "http://h/c,d"), RULES_ROUTE_DENY);
	assert_int_equal(route(r, "h", "http://h/zz"), RULES_ROUTE_TUNNEL);
	rules_free(r);
}

static void
test_v5_domains(void **state)
{
	struct rules		*r;
	struct rules_verdict	 v;

	/* the whole host must match */
	r = mk(1, RULES_DIRECT, RULES_V5,
	    ".*\\.cdn\\.example,static\\.example");
	assert_int_equal(route(r, "a.cdn.example", NULL), RULES_ROUTE_DIRECT);
	assert_int_equal(route(r, "A.CDN.Example", NULL), RULES_ROUTE_DIRECT);
	assert_int_equal(route(r, "cdn.example", NULL), RULES_ROUTE_TUNNEL);
	assert_int_equal(route(r, "a.cdn.example.evil", NULL),
	    RULES_ROUTE_TUNNEL);
	assert_int_equal(route(r, "static.example", NULL), RULES_ROUTE_DIRECT);
	assert_int_equal(route(r, "www.static.example", NULL),
	    RULES_ROUTE_TUNNEL);
	rules_free(r);

	/* a leading '-' excludes; 'all' */
	r = mk(1, RULES_DIRECT, RULES_V5, "all,-.*\\.intranet\\.example");
	assert_int_equal(route(r, "www.example", NULL), RULES_ROUTE_DIRECT);
	assert_int_equal(route(r, "app.intranet.example", NULL),
	    RULES_ROUTE_TUNNEL);
	rules_free(r);
	r = mk(1, RULES_DENY, RULES_V5, ".*,-good\\.example");
	assert_int_equal(route(r, "bad.example", NULL), RULES_ROUTE_DENY);
	assert_int_equal(route(r, "good.example", NULL), RULES_ROUTE_TUNNEL);
	rules_decide(r, "bad.example", NULL, &v);
	assert_string_equal(v.rule->text, ".*");
	rules_free(r);
	r = mk(1, RULES_DENY, RULES_V5, "all,-all");
	assert_int_equal(route(r, "x.example", NULL), RULES_ROUTE_TUNNEL);
	rules_free(r);

	bad(RULES_DIRECT, RULES_V5, "-", "nothing to exclude");
	bad(RULES_DIRECT, RULES_V5, "(a", "missing ')'");
}

/* deny before direct before tunnel; tunnel domains invert */
static void
test_precedence(void **state)
{
	struct rules		*r;
	struct rules_verdict	 v;

	r = mk(3, RULES_DENY, RULES_V4, "blocked",
	    RULES_DIRECT, RULES_V4, ".example",
	    RULES_PASSTHROUGH, RULES_V4, "pinned.example");
	assert_int_equal(route(r, "blocked.example",
	    "http://blocked.example/"), RULES_ROUTE_DENY);
	assert_int_equal(route(r, "a.example", "http://a.example/"),
	    RULES_ROUTE_DIRECT);
	assert_int_equal(route(r, "intranet", "http://intranet/"),
	    RULES_ROUTE_TUNNEL);
	/* direct is never resigned; -B only for the tunnel's TLS */
	assert_int_equal(resign(r, "pinned.example"), 0);
	rules_decide(r, "pinned.example", NULL, &v);
	assert_int_equal(v.route, RULES_ROUTE_DIRECT);
	assert_int_equal(resign(r, "intranet"), 1);
	rules_free(r);

	/* tunnel domains: the others go direct; they win over -D (v4) */
	r = mk(2, RULES_TUNNEL, RULES_V4, "*.corp.example",
	    RULES_DIRECT, RULES_V4, "x.corp.example");
	assert_int_equal(route(r, "x.corp.example", NULL), RULES_ROUTE_TUNNEL);
	assert_int_equal(route(r, "www.example", NULL), RULES_ROUTE_DIRECT);
	rules_decide(r, "www.example", NULL, &v);
	assert_null(v.rule);
	rules_free(r);

	/* -B all; -b resigns only these */
	r = mk(1, RULES_PASSTHROUGH, RULES_V4, "all");
	assert_int_equal(resign(r, "a.example"), 0);
	rules_free(r);
	r = mk(1, RULES_RESIGN, RULES_V5, "app\\.example");
	assert_int_equal(resign(r, "app.example"), 1);
	assert_int_equal(resign(r, "other.example"), 0);
	rules_free(r);
	r = mk(1, RULES_PASSTHROUGH, RULES_V5, ".*\\.pinned\\.example");
	assert_int_equal(resign(r, "a.pinned.example"), 0);
	assert_int_equal(resign(r, "a.example"), 1);
	rules_free(r);

	/* no rules: everything down the tunnel, resigned */
	r = mk(0);
	assert_int_equal(route(r, "a.example", NULL), RULES_ROUTE_TUNNEL);
	assert_int_equal(resign(r, "a.example"), 1);
	rules_free(r);
}

static void
test_exclusive(void **state)
{
	struct rules	*r;

	assert_non_null(r = rules_new());
	assert_int_equal(rules_add(r, RULES_DIRECT, RULES_V5, "a", err,
	    sizeof(err)), 0);
	assert_int_equal(rules_add(r, RULES_TUNNEL, RULES_V5, "b", err,
	    sizeof(err)), 0);
	assert_int_equal(rules_compile(r, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "exclude each other (-D and -T)"));
	rules_free(r);

	assert_non_null(r = rules_new());
	assert_int_equal(rules_add(r, RULES_PASSTHROUGH, RULES_V5, "a", err,
	    sizeof(err)), 0);
	assert_int_equal(rules_add(r, RULES_RESIGN, RULES_V5, "b", err,
	    sizeof(err)), 0);
	assert_int_equal(rules_compile(r, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "(-B and -b)"));
	rules_free(r);

	assert_non_null(r = rules_new());
	assert_int_equal(rules_add(r, RULES_TUNNEL, RULES_V5, "-a", err,
	    sizeof(err)), 0);
	assert_int_equal(rules_compile(r, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "only exceptions"));
	rules_free(r);

	/* no -b in version 4 */
	assert_non_null(r = rules_new());
	assert_int_equal(rules_add(r, RULES_RESIGN, RULES_V4, "a", err,
	    sizeof(err)), -1);
	rules_free(r);
}

static void
test_regex_syntax(void **state)
{
	assert_true(re5("a.c", "abc"));
	assert_false(re5("a.c", "abcd"));
	assert_true(re5("ab*c", "ac"));
	assert_true(re5("ab*c", "abbbc"));
	assert_true(re5("ab+c", "abc"));
	assert_false(re5("ab+c", "ac"));
	assert_true(re5("ab?c", "ac"));
	assert_true(re5("a(b|cd)e", "acde"));
	assert_false(re5("a(b|cd)e", "ae"));
	assert_true(re5("a|b|", "b"));
	assert_true(re5("x{3}", "xxx"));
	assert_false(re5("x{3}", "xx"));
	assert_true(re5("x{2,}", "xxxxx"));
	assert_false(re5("x{2,}", "x"));
	assert_true(re5("x{1,3}y", "xxxy"));
	assert_false(re5("x{1,3}y", "xxxxy"));
	assert_true(re5("x{0}y", "y"));
	assert_true(re5("a{,3}", "a{,3}"));	/* not a repeat: literal */
	assert_true(re5("a*?b+?c??", "bc"));	/* lazy: the same texts */
	assert_true(re5("[a-c]+", "cab"));
	assert_false(re5("[a-c]+", "cad"));
	assert_true(re5("[^a-c]x", "dx"));
	assert_false(re5("[^a-c]x", "ax"));
	assert_true(re5("[]a]", "]"));
	assert_true(re5("[a-]", "-"));
	assert_true(re5("[[:digit:]]+", "123"));
	assert_true(re5("[[:^digit:]]", "x"));
	assert_true(re5("\\d+\\.\\d+", "10.5"));
	assert_true(re5("\\w+", "a_b9"));
	assert_false(re5("\\W", "a"));
	assert_true(re5("[\\d.]+", "10.0.0.1"));
	assert_true(re5("\\x41", "a"));		/* case-insensitive */
	assert_true(re5("\\x{62}", "b"));
	assert_true(re5("\\101", "a"));
	assert_true(re5("\\Qa.b\\E", "a.b"));
	assert_false(re5("\\Qa.b\\E", "axb"));
	assert_true(re5("(?i)ABC", "abc"));
	assert_true(re5("(?i:A)b", "ab"));
	assert_true(re5("(?:ab)+", "abab"));
	assert_true(re5("(?P<n>ab)c", "abc"));
	assert_true(re5("(?<n>ab)c", "abc"));
	assert_true(re5("^www\\.example$", "www.example"));
	assert_true(re5("\\Awww\\z", "www"));
	assert_true(re5(".*\\bcdn\\b.*", "a.cdn.example"));
	assert_false(re5(".*\\bcdn\\b.*", "acdn.example"));
	assert_true(re5(".*\\Bdn.*", "acdn.example"));
	assert_true(re5("WWW\\.EXAMPLE", "www.example"));
	assert_true(re5("(a*)*b", "aaab"));
	assert_true(re5("(|a)+b", "ab"));
	assert_true(re5("a}", "a}"));
	assert_true(re5("a]", "a]"));
	assert_true(re5("[.]", "."));
	assert_false(re5("[.]", "a"));
}

static void
test_regex_errors(void **state)
{
	static const struct {
		const char	*re;
		const char	*msg;
	} t[] = {
		{ "(ab", "missing ')'" },
		{ "ab)", "unexpected ')'" },
		{ "[ab", "missing ']'" },
		{ "*a", "missing argument to repetition operator *" },
		{ "a**", "invalid nested repetition operator *" },
		{ "a{2}{3}", "invalid nested repetition operator {" },
		{ "{2}", "missing argument to repetition operator {" },
		{ "a{1001}", "bad repeat count" },
		{ "a{3,2}", "bad repeat count" },
		{ "(a)\\1", "backreferences" },
		{ "\\p{L}", "Unicode classes" },
		{ "\\e", "unknown escape \\e" },
		{ "a\\", "trailing backslash" },
		{ "[z-a]", "bad range" },
		{ "[[:nope:]]", "unknown POSIX class" },
		{ "(?x)a", "unknown flag 'x'" },
		{ "(?P<>a)", "bad group name" },
		{ "caf\xc3\xa9", "not ASCII" },
		{ "\\x{e9}", "not ASCII" },
		{ NULL, NULL }
	};
	char	 deep[RULES_NEST_MAX * 2 + 8];
	int	 i;

	for (i = 0; t[i].re != NULL; i++)
		bad(RULES_DENY, RULES_V5, t[i].re, t[i].msg);
	/* the message names the rule */
	bad(RULES_DENY, RULES_V5, "good|(bad", "'good|(bad'");
	for (i = 0; i <= RULES_NEST_MAX; i++)
		deep[i] = '(';
	deep[i] = '\0';
	bad(RULES_DENY, RULES_V5, deep, "nested more than 64 deep");
}

/* hostile expressions: refused by the limits, or linear */
static void
test_hostile(void **state)
{
	struct rules		*r;
	struct rules_verdict	 v;
	struct timespec		 t0, t1;
	char			 host[RULES_HOST_MAX + 1], *url, *big;
	double			 ms;
	size_t			 i;

	/* too large to compile: each fails at once, naming itself */
	bad(RULES_DENY, RULES_V5, "((a{1000}){1000}){1000}", "more than 16384 "
	    "instructions");
	bad(RULES_DENY, RULES_V5, "(.{1000}){20}", "more than 16384");

	/* catastrophic for a backtracking matcher; linear here */
	memset(host, 'a', RULES_HOST_MAX);
	host[RULES_HOST_MAX] = '\0';
	r = mk(1, RULES_DENY, RULES_V5,
	    "(a*)*b,(a|a)*b,(a|aa)*c,(.*a){20}x,(a?){100}a{100}b");
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (i = 0; i < 10; i++)
		assert_int_equal(route(r, host, NULL), RULES_ROUTE_TUNNEL);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ms = (t1.tv_sec - t0.tv_sec) * 1e3 + (t1.tv_nsec - t0.tv_nsec) / 1e6;
	print_message("hostile host expressions: %.3f ms a decision\n",
	    ms / 10);
	assert_true(ms / 10 < 50);
	rules_free(r);

	/* a long URL against many searches: bounded by the steps */
	assert_non_null(url = malloc(32 * 1024 + 1));
	memcpy(url, "http://h/", 9);
	memset(url + 9, 'a', 32 * 1024 - 9);
	url[32 * 1024] = '\0';
	assert_non_null(big = malloc(40 * 200));
	big[0] = '\0';
	for (i = 0; i < 200; i++) {
		if (i > 0)
			strlcat(big, ",", 40 * 200);
		snprintf(big + strlen(big), 40, "(a|b)*c%zu", i);
	}
	r = mk(1, RULES_DENY, RULES_V4, big);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	rules_decide(r, "h", url, &v);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ms = (t1.tv_sec - t0.tv_sec) * 1e3 + (t1.tv_nsec - t0.tv_nsec) / 1e6;
	print_message("200 searches in a 32 KiB URL: %.3f ms, error %d\n", ms,
	    v.error);
	assert_int_equal(v.error, 1);
	assert_int_equal(v.route, RULES_ROUTE_DENY);
	assert_true(ms < 200);
	rules_free(r);
	free(big);
	free(url);

	/* ... which a URL of 2 KiB and 50 searches are far from */
	assert_non_null(url = malloc(2048 + 1));
	strlcpy(url, "http://www.example.com/", 2048 + 1);
	while (strlen(url) + 32 < 2048)
		strlcat(url, "static/js/app-1234.min.js?v=a&", 2048 + 1);
	assert_non_null(big = malloc(40 * 50));
	big[0] = '\0';
	for (i = 0; i < 50; i++) {
		if (i > 0)
			strlcat(big, ",", 40 * 50);
		snprintf(big + strlen(big), 40, i % 2 ? "analytics%zu\\.js" :
		    ".*doubleclick%zu\\.net.*", i);
	}
	r = mk(1, RULES_DENY, RULES_V4, big);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(route(r, "h", url), RULES_ROUTE_TUNNEL);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ms = (t1.tv_sec - t0.tv_sec) * 1e3 + (t1.tv_nsec - t0.tv_nsec) / 1e6;
	print_message("50 searches in a 2 KiB URL: %.3f ms\n", ms);
	rules_free(r);
	free(big);
	free(url);

	/* a host that cannot be one */
	r = mk(1, RULES_DIRECT, RULES_V4, "a.example");
	rules_decide(r, "", NULL, &v);
	assert_int_equal(v.error, 1);
	rules_free(r);
}

static void
test_limits(void **state)
{
	struct rules	*r;
	char		 item[RULES_PATTERN_MAX + 2];
	size_t		 i;

	memset(item, 'a', sizeof(item) - 1);
	item[sizeof(item) - 1] = '\0';
	bad(RULES_DENY, RULES_V5, item, "longer than 1024 bytes");
	bad(RULES_DIRECT, RULES_V4, item, "longer than 1024 bytes");

	assert_non_null(r = rules_new());
	for (i = 0; i < RULES_MAX; i++) {
		snprintf(item, sizeof(item), "h%zu.example", i);
		assert_int_equal(rules_add(r, RULES_DIRECT, RULES_V4, item,
		    err, sizeof(err)), 0);
	}
	assert_int_equal(rules_add(r, RULES_DIRECT, RULES_V4, "one.more", err,
	    sizeof(err)), -1);
	assert_non_null(strstr(err, "more than 4096 rules"));
	assert_int_equal(rules_compile(r, err, sizeof(err)), 0);
	assert_int_equal(route(r, "h4095.example", NULL), RULES_ROUTE_DIRECT);
	assert_int_equal(route(r, "h4096.example", NULL), RULES_ROUTE_TUNNEL);
	rules_free(r);

	/* the program budget counts all the expressions of a tunnel */
	assert_non_null(r = rules_new());
	for (i = 0; i < 20; i++) {
		snprintf(item, sizeof(item), "x%zu.{1000}", i);
		assert_int_equal(rules_add(r, RULES_DENY, RULES_V5, item, err,
		    sizeof(err)), 0);
	}
	assert_int_equal(rules_compile(r, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "more than 16384 instructions"));
	rules_free(r);
}

static void
test_fields(void **state)
{
	enum rules_list		 l;
	enum rules_syntax	 s;

	assert_string_equal(rules_field(RULES_DIRECT, RULES_V4),
	    "direct_domains");
	assert_string_equal(rules_field(RULES_TUNNEL, RULES_V4),
	    "domain_names");
	assert_string_equal(rules_field(RULES_PASSTHROUGH, RULES_V4),
	    "no_ssl_bump_domains");
	assert_string_equal(rules_field(RULES_DENY, RULES_V4),
	    "fast_fail_regexps");
	assert_null(rules_field(RULES_RESIGN, RULES_V4));
	assert_int_equal(rules_field_lookup("tls_resign_domains_v5", &l, &s),
	    0);
	assert_int_equal(l, RULES_RESIGN);
	assert_int_equal(s, RULES_V5);
	assert_int_equal(rules_field_lookup("nope", &l, &s), -1);
	assert_string_equal(rules_flag(RULES_DENY, RULES_V5),
	    "-F/--deny-domains");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_v4_domains),
		cmocka_unit_test(test_v4_fast_fail),
		cmocka_unit_test(test_v5_domains),
		cmocka_unit_test(test_precedence),
		cmocka_unit_test(test_exclusive),
		cmocka_unit_test(test_regex_syntax),
		cmocka_unit_test(test_regex_errors),
		cmocka_unit_test(test_hostile),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_fields),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
