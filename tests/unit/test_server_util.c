/*
 * Unit tests of sc-server's pure helpers (server/util.c) and of the
 * account functions (server/accounts.c): hex, addresses, base64 and HTTP
 * Basic credentials, the validation of POSTed tunnel settings, access
 * keys, the salted hash and the accounts file.
 */
#include <sys/types.h>
#include <sys/stat.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "server.h"

/* accounts.c refers to the server's global state; unused here */
struct server_env	*env;

static void
test_hex(void **state)
{
	const uint8_t	 in[4] = { 0x00, 0x9f, 0xa0, 0xff };
	uint8_t		 out[4];
	char		 s[9];

	hexencode(in, sizeof(in), s);
	assert_string_equal(s, "009fa0ff");
	assert_int_equal(hexdecode(s, out, sizeof(out)), 0);
	assert_memory_equal(in, out, sizeof(in));
	assert_int_equal(hexdecode("009FA0FF", out, sizeof(out)), 0);
	assert_memory_equal(in, out, sizeof(in));
	assert_int_equal(hexdecode("009fa0f", out, sizeof(out)), -1);
	assert_int_equal(hexdecode("009fa0ff00", out, sizeof(out)), -1);
	assert_int_equal(hexdecode("009fa0fg", out, sizeof(out)), -1);
	assert_int_equal(hexdecode("", out, 0), 0);
}

static void
test_timingsafe(void **state)
{
	assert_int_equal(timingsafe_bcmp("abcd", "abcd", 4), 0);
	assert_int_not_equal(timingsafe_bcmp("abcd", "abce", 4), 0);
	assert_int_equal(timingsafe_bcmp("x", "y", 0), 0);
}

static void
test_hostport(void **state)
{
	char	 h[64], p[8];

	assert_int_equal(parse_hostport("127.0.0.1:4400", h, sizeof(h), p,
	    sizeof(p)), 0);
	assert_string_equal(h, "127.0.0.1");
	assert_string_equal(p, "4400");
	assert_int_equal(parse_hostport("[::1]:0", h, sizeof(h), p,
	    sizeof(p)), 0);
	assert_string_equal(h, "::1");
	assert_string_equal(p, "0");
	assert_int_equal(parse_hostport("localhost:65535", h, sizeof(h), p,
	    sizeof(p)), 0);
	assert_string_equal(h, "localhost");

	assert_int_equal(parse_hostport("::1:80", h, sizeof(h), p,
	    sizeof(p)), -1);
	assert_int_equal(parse_hostport("127.0.0.1", h, sizeof(h), p,
	    sizeof(p)), -1);
	assert_int_equal(parse_hostport("127.0.0.1:", h, sizeof(h), p,
	    sizeof(p)), -1);
	assert_int_equal(parse_hostport(":80", h, sizeof(h), p,
	    sizeof(p)), -1);
	assert_int_equal(parse_hostport("h:65536", h, sizeof(h), p,
	    sizeof(p)), -1);
	assert_int_equal(parse_hostport("h:-1", h, sizeof(h), p,
	    sizeof(p)), -1);
	assert_int_equal(parse_hostport("h:8a", h, sizeof(h), p,
	    sizeof(p)), -1);
	assert_int_equal(parse_hostport("[::1]80", h, sizeof(h), p,
	    sizeof(p)), -1);
	assert_int_equal(parse_hostport("[::1:80", h, sizeof(h), p,
	    sizeof(p)), -1);
	assert_int_equal(parse_hostport("", h, sizeof(h), p, sizeof(p)), -1);
	assert_int_equal(parse_hostport(NULL, h, sizeof(h), p, sizeof(p)),
	    -1);
	assert_int_equal(parse_hostport("averyveryverylonghostname:1", h, 8,
	    p, sizeof(p)), -1);

	/* address only */
	assert_int_equal(parse_hostport("127.0.0.1", h, sizeof(h), NULL, 0),
	    0);
	assert_string_equal(h, "127.0.0.1");
	assert_int_equal(parse_hostport("[::]", h, sizeof(h), NULL, 0), 0);
	assert_string_equal(h, "::");
	assert_int_equal(parse_hostport("::", h, sizeof(h), NULL, 0), 0);
	assert_string_equal(h, "::");
	assert_int_equal(parse_hostport("[::]:1", h, sizeof(h), NULL, 0), -1);

	/* as http_parse_authority() has it (test_http.c): once they differed */
	assert_int_equal(parse_hostport("h:0080", h, sizeof(h), p,
	    sizeof(p)), 0);
	assert_string_equal(p, "80");
	assert_int_equal(parse_hostport("*:80", h, sizeof(h), p,
	    sizeof(p)), -1);
	assert_int_equal(parse_hostport("[name]:80", h, sizeof(h), p,
	    sizeof(p)), -1);
	assert_int_equal(parse_hostport("h:+80", h, sizeof(h), p,
	    sizeof(p)), -1);
	assert_int_equal(parse_hostport("[::1]:80", h, sizeof(h), p, 2), -1);
}

static void
test_base64(void **state)
{
	uint8_t	 out[64];
	size_t	 n;

	assert_int_equal(rest_base64_decode("YWxpY2U6a2V5", out, sizeof(out),
	    &n), 0);
	assert_int_equal(n, 9);
	assert_memory_equal(out, "alice:key", 9);
	assert_int_equal(rest_base64_decode("YQ==", out, sizeof(out), &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(out[0], 'a');
	assert_int_equal(rest_base64_decode("YQ", out, sizeof(out), &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(rest_base64_decode("YWI=", out, sizeof(out), &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(rest_base64_decode("", out, sizeof(out), &n), 0);
	assert_int_equal(n, 0);
	assert_int_equal(rest_base64_decode("+/+/", out, sizeof(out), &n), 0);
	assert_int_equal(n, 3);
	assert_int_equal(out[0], 0xfb);

	assert_int_equal(rest_base64_decode("Y", out, sizeof(out), &n), -1);
	assert_int_equal(rest_base64_decode("YQ=", out, sizeof(out), &n), -1);
	assert_int_equal(rest_base64_decode("YQ===", out, sizeof(out), &n),
	    -1);
	assert_int_equal(rest_base64_decode("Y*==", out, sizeof(out), &n),
	    -1);
	assert_int_equal(rest_base64_decode("YR==", out, sizeof(out), &n),
	    -1);	/* leftover bits */
	assert_int_equal(rest_base64_decode("YW=I", out, sizeof(out), &n),
	    -1);
	assert_int_equal(rest_base64_decode("YWxpY2U6a2V5", out, 8, &n), -1);
}

static void
test_basic_auth(void **state)
{
	char	 u[16], k[16];

	/* alice:key */
	assert_int_equal(rest_basic_auth("Basic YWxpY2U6a2V5", u, sizeof(u),
	    k, sizeof(k)), 0);
	assert_string_equal(u, "alice");
	assert_string_equal(k, "key");
	assert_int_equal(rest_basic_auth("  basic   YWxpY2U6a2V5  ", u,
	    sizeof(u), k, sizeof(k)), 0);
	assert_string_equal(u, "alice");
	/* a:b:c splits at the first colon */
	assert_int_equal(rest_basic_auth("Basic YTpiOmM=", u, sizeof(u), k,
	    sizeof(k)), 0);
	assert_string_equal(u, "a");
	assert_string_equal(k, "b:c");
	/* a: (empty key) */
	assert_int_equal(rest_basic_auth("Basic YTo=", u, sizeof(u), k,
	    sizeof(k)), 0);
	assert_string_equal(k, "");

	assert_int_equal(rest_basic_auth(NULL, u, sizeof(u), k, sizeof(k)),
	    -1);
	assert_int_equal(rest_basic_auth("", u, sizeof(u), k, sizeof(k)), -1);
	assert_int_equal(rest_basic_auth("Basic", u, sizeof(u), k,
	    sizeof(k)), -1);
	assert_int_equal(rest_basic_auth("Basic ", u, sizeof(u), k,
	    sizeof(k)), -1);
	assert_int_equal(rest_basic_auth("BasicYWxpY2U6a2V5", u, sizeof(u),
	    k, sizeof(k)), -1);
	assert_int_equal(rest_basic_auth("Bearer YWxpY2U6a2V5", u, sizeof(u),
	    k, sizeof(k)), -1);
	assert_int_equal(rest_basic_auth("Basic YWxpY2U6a2V5 x", u,
	    sizeof(u), k, sizeof(k)), -1);
	/* "alice" without a colon */
	assert_int_equal(rest_basic_auth("Basic YWxpY2U=", u, sizeof(u), k,
	    sizeof(k)), -1);
	/* ":key": empty user */
	assert_int_equal(rest_basic_auth("Basic OmtleQ==", u, sizeof(u), k,
	    sizeof(k)), -1);
	/* "a\0:b" */
	assert_int_equal(rest_basic_auth("Basic YQA6Yg==", u, sizeof(u), k,
	    sizeof(k)), -1);
	/* user too long for the buffer */
	assert_int_equal(rest_basic_auth("Basic YWxpY2U6a2V5", u, 5, k,
	    sizeof(k)), -1);
	/* key too long for the buffer */
	assert_int_equal(rest_basic_auth("Basic YWxpY2U6a2V5", u, sizeof(u),
	    k, 3), -1);
}

static void
tunnel_clear(struct tunnel *t)
{
	free(t->identifier);
	free(t->vm_version);
	json_decref(t->rule_lists);
	json_decref(t->metadata);
	memset(t, 0, sizeof(*t));
	t->use_kgp = 1;
}

/* 0 if body is accepted, else the HTTP status; err gets the message */
static int
settings(const char *body, struct tunnel *t, char *err, size_t errlen)
{
	json_t		*j;
	json_error_t	 jerr;
	int		 ret;

	tunnel_clear(t);
	j = json_loads(body, 0, &jerr);
	assert_non_null(j);
	err[0] = '\0';
	ret = rest_tunnel_settings(j, t, err, errlen);
	json_decref(j);
	if (ret != 0)
		assert_true(strlen(err) > 0);
	return (ret);
}

static void
test_settings(void **state)
{
	struct tunnel	 t;
	char		 err[256];

	memset(&t, 0, sizeof(t));
	assert_int_equal(settings("{\"tunnel_identifier\": \"name\", "
	    "\"domain_names\": [\"a.example\"], \"direct_domains\": [], "
	    "\"no_ssl_bump_domains\": [\"b\", \"c\"], \"shared_tunnel\": "
	    "true, \"use_kgp\": false, \"metadata\": {\"hostname\": \"h\", "
	    "\"nofile_limit\": 1024}, \"tunnel_pool\": true, \"ssh_port\": "
	    "443, \"fast_fail_regexps\": [], \"vm_version\": \"\"}", &t, err,
	    sizeof(err)), 0);
	assert_string_equal(t.identifier, "name");
	assert_int_equal(json_array_size(json_object_get(t.rule_lists,
	    "domain_names")), 1);
	assert_int_equal(json_array_size(json_object_get(t.rule_lists,
	    "direct_domains")), 0);
	assert_int_equal(json_array_size(json_object_get(t.rule_lists,
	    "no_ssl_bump_domains")), 2);
	assert_true(t.shared_tunnel);
	assert_false(t.use_kgp);
	assert_true(t.tunnel_pool);
	assert_int_equal(json_integer_value(json_object_get(t.metadata,
	    "nofile_limit")), 1024);
	assert_string_equal(t.vm_version, "");

	/* everything optional; null is absent */
	assert_int_equal(settings("{}", &t, err, sizeof(err)), 0);
	assert_null(t.identifier);
	assert_true(t.use_kgp);
	assert_int_equal(settings("{\"tunnel_identifier\": null, "
	    "\"domain_names\": null, \"metadata\": null, \"shared_tunnel\": "
	    "null}", &t, err, sizeof(err)), 0);
	assert_null(t.rule_lists);
	assert_int_equal(settings("{\"tunnel_identifier\": \"\"}", &t, err,
	    sizeof(err)), 0);
	assert_string_equal(t.identifier, "");

	/* wrong types, and nothing is copied */
	assert_int_equal(settings("[]", &t, err, sizeof(err)), 400);
	assert_int_equal(settings("{\"tunnel_identifier\": 1}", &t, err,
	    sizeof(err)), 400);
	assert_non_null(strstr(err, "tunnel_identifier"));
	assert_int_equal(settings("{\"tunnel_identifier\": \"a\\nb\"}", &t,
	    err, sizeof(err)), 400);
	assert_int_equal(settings("{\"domain_names\": \"a\"}", &t, err,
	    sizeof(err)), 400);
	assert_non_null(strstr(err, "domain_names"));
	assert_int_equal(settings("{\"direct_domains\": [\"a\", 1]}", &t, err,
	    sizeof(err)), 400);
	assert_int_equal(settings("{\"no_ssl_bump_domains\": [[]]}", &t, err,
	    sizeof(err)), 400);
	/* traffic rules: a bad one is named, with its field */
	assert_int_equal(settings("{\"direct_domains\": [\"a.example\", "
	    "\"a..b\"]}", &t, err, sizeof(err)), 400);
	assert_non_null(strstr(err, "\"direct_domains\": 'a..b'"));
	assert_int_equal(settings("{\"fast_fail_regexps\": [\"(a\"]}", &t,
	    err, sizeof(err)), 400);
	assert_non_null(strstr(err, "'(a': missing ')'"));
	assert_int_equal(settings("{\"deny_domains_v5\": [\"(a+)+\\\\1\"]}",
	    &t, err, sizeof(err)), 400);
	assert_non_null(strstr(err, "deny_domains_v5"));
	assert_int_equal(settings("{\"tunnel_domains_v5\": [\"a\"], "
	    "\"direct_domains_v5\": [\"b\"]}", &t, err, sizeof(err)), 400);
	assert_non_null(strstr(err, "exclude each other"));
	assert_int_equal(settings("{\"tls_resign_domains_v5\": [\"x{1000}"
	    "{1000}\"]}", &t, err, sizeof(err)), 400);
	assert_null(t.rule_lists);
	assert_int_equal(settings("{\"tls_passthrough_domains_v5\": "
	    "[\".*\\\\.example\", \"-a\\\\.example\"]}", &t, err,
	    sizeof(err)), 0);
	assert_int_equal(json_array_size(json_object_get(t.rule_lists,
	    "tls_passthrough_domains_v5")), 2);
	assert_int_equal(settings("{\"shared_tunnel\": 1}", &t, err,
	    sizeof(err)), 400);
	assert_non_null(strstr(err, "shared_tunnel"));
	assert_int_equal(settings("{\"use_kgp\": \"true\"}", &t, err,
	    sizeof(err)), 400);
	assert_int_equal(settings("{\"metadata\": []}", &t, err,
	    sizeof(err)), 400);
	assert_int_equal(settings("{\"vm_version\": 5}", &t, err,
	    sizeof(err)), 400);
	assert_int_equal(settings("{\"tunnel_identifier\": \"ok\", "
	    "\"tunnel_pool\": 0}", &t, err, sizeof(err)), 400);
	assert_null(t.identifier);
	tunnel_clear(&t);
}

static void
test_settings_limits(void **state)
{
	struct tunnel	 t;
	char		 err[256], *body, *p;
	size_t		 i, n;

	memset(&t, 0, sizeof(t));
	/* TUNNEL_ARRAY_MAX strings pass, one more fails */
	n = TUNNEL_ARRAY_MAX + 1;
	body = malloc(32 + n * 4);
	assert_non_null(body);
	p = body + sprintf(body, "{\"domain_names\": [");
	for (i = 0; i < n - 1; i++)
		p += sprintf(p, "%s\"x\"", i ? "," : "");
	strcpy(p, "]}");
	assert_int_equal(settings(body, &t, err, sizeof(err)), 0);
	strcpy(p, ",\"x\"]}");
	assert_int_equal(settings(body, &t, err, sizeof(err)), 400);
	free(body);

	body = malloc(TUNNEL_STRING_MAX + 64);
	assert_non_null(body);
	p = body + sprintf(body, "{\"tunnel_identifier\": \"");
	memset(p, 'a', TUNNEL_STRING_MAX + 1);
	strcpy(p + TUNNEL_STRING_MAX + 1, "\"}");
	assert_int_equal(settings(body, &t, err, sizeof(err)), 400);
	strcpy(p + TUNNEL_STRING_MAX, "\"}");
	assert_int_equal(settings(body, &t, err, sizeof(err)), 0);
	free(body);
	tunnel_clear(&t);
}

/* "metadata" nested n levels deep (itself the first), in buf */
static void
deep_metadata(char *buf, int n)
{
	char	*p = buf;
	int	 i;

	p = stpcpy(p, "{\"metadata\": ");
	for (i = 1; i < n; i++)
		p = stpcpy(p, "{\"a\": ");
	p = stpcpy(p, "{\"b\": [1]}");
	for (i = 1; i < n; i++)
		*p++ = '}';
	strcpy(p, "}");
}

static void
test_settings_bounds(void **state)
{
	struct tunnel	 t;
	char		 err[256], *body, *p;
	size_t		 n;

	memset(&t, 0, sizeof(t));
	body = malloc(TUNNEL_SETTINGS_MAX * 2);
	assert_non_null(body);

	/* metadata: TUNNEL_META_DEPTH levels (an array is one), not more */
	deep_metadata(body, TUNNEL_META_DEPTH - 1);
	assert_int_equal(settings(body, &t, err, sizeof(err)), 0);
	deep_metadata(body, TUNNEL_META_DEPTH);
	assert_int_equal(settings(body, &t, err, sizeof(err)), 400);
	assert_non_null(strstr(err, "\"metadata\" is nested"));
	/* jansson's own limit is far away: a deep one is refused too */
	deep_metadata(body, 1000);
	assert_int_equal(settings(body, &t, err, sizeof(err)), 400);

	/* metadata: TUNNEL_META_MAX bytes as compact JSON */
	n = TUNNEL_META_MAX - strlen("{\"k\":\"\"}");
	p = body + sprintf(body, "{\"metadata\": {\"k\": \"");
	memset(p, 'm', n);
	strcpy(p + n, "\"}}");
	assert_int_equal(settings(body, &t, err, sizeof(err)), 0);
	memset(p, 'm', n + 1);
	strcpy(p + n + 1, "\"}}");
	assert_int_equal(settings(body, &t, err, sizeof(err)), 413);
	assert_non_null(strstr(err, "\"metadata\" takes"));
	/* reals print longer than they parse: what counts is the output */
	p = body + sprintf(body, "{\"metadata\": {\"k\": [0.1");
	while (p - body < TUNNEL_META_MAX / 2)
		p += sprintf(p, ",0.1");
	strcpy(p, "]}}");
	assert_int_equal(settings(body, &t, err, sizeof(err)), 413);

	/* the settings in all: TUNNEL_SETTINGS_MAX */
	p = body + sprintf(body, "{\"domain_names\": [\"x\"");
	while (p - body < TUNNEL_SETTINGS_MAX + 16)
		p += sprintf(p, ",\"%0*d\"", TUNNEL_STRING_MAX - 8, 7);
	strcpy(p, "]}");
	assert_int_equal(settings(body, &t, err, sizeof(err)), 413);
	assert_non_null(strstr(err, "settings take"));

	/* the size counted: the settings and the fixed part */
	assert_int_equal(settings("{}", &t, err, sizeof(err)), 0);
	assert_int_equal(t.size, strlen("{}") + TUNNEL_RECORD_FIXED);
	assert_int_equal(settings("{\"tunnel_identifier\": \"ab\", "
	    "\"shared_tunnel\": true}", &t, err, sizeof(err)), 0);
	assert_int_equal(t.size, strlen("{\"tunnel_identifier\":\"ab\"}") +
	    TUNNEL_RECORD_FIXED);
	free(body);
	tunnel_clear(&t);
}

static void
test_account_names(void **state)
{
	assert_true(account_name_valid("alice"));
	assert_true(account_name_valid("a.b-c_d@e+f"));
	assert_true(account_name_valid("0"));
	assert_false(account_name_valid(""));
	assert_false(account_name_valid("-a"));
	assert_false(account_name_valid(".a"));
	assert_false(account_name_valid("a b"));
	assert_false(account_name_valid("a:b"));
	assert_false(account_name_valid("a/b"));
	assert_false(account_name_valid("a%40b"));
	assert_true(account_name_valid("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    "aaaaaaaaaaaaaaaaaaaaaaaaaa"));	/* 64 */
	assert_false(account_name_valid("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaa"));	/* 65 */
}

static void
test_account_key(void **state)
{
	char	 k1[ACCOUNT_KEY_LEN + 1], k2[ACCOUNT_KEY_LEN + 1];
	int	 i;

	account_new_key(k1, sizeof(k1));
	account_new_key(k2, sizeof(k2));
	assert_int_equal(strlen(k1), 36);
	assert_string_not_equal(k1, k2);
	for (i = 0; i < 36; i++) {
		if (i == 8 || i == 13 || i == 18 || i == 23)
			assert_int_equal(k1[i], '-');
		else
			assert_non_null(strchr("0123456789abcdef", k1[i]));
	}
	assert_int_equal(k1[14], '4');			/* version 4 */
	assert_non_null(strchr("89ab", k1[19]));	/* variant */
}

static void
test_account_check(void **state)
{
	struct accountlist	 list, list2;
	struct account		*a;
	char			 dir[] = "/tmp/test_server_util.XXXXXX";
	char			 path[256];
	struct stat		 st;
	FILE			*f;
	char			 salt[2 * ACCOUNT_SALT_LEN + 1], hash[65];

	TAILQ_INIT(&list);
	a = calloc(1, sizeof(*a));
	assert_non_null(a);
	strlcpy(a->name, "alice", sizeof(a->name));
	memset(a->salt, 0x5a, sizeof(a->salt));
	account_hash(a->salt, "secret-key", a->hash);
	TAILQ_INSERT_TAIL(&list, a, entry);

	assert_int_equal(account_check(&list, "alice", "secret-key"), 0);
	assert_int_equal(account_check(&list, "alice", "secret-kez"), -1);
	assert_int_equal(account_check(&list, "alice", ""), -1);
	assert_int_equal(account_check(&list, "bob", "secret-key"), -1);

	/* the old accounts file, as the database's migration 1 reads it */
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/accounts", dir);
	TAILQ_INIT(&list2);
	assert_int_equal(accounts_load(path, &list2), 0);	/* missing */
	assert_true(TAILQ_EMPTY(&list2));
	hexencode(a->salt, sizeof(a->salt), salt);
	hexencode(a->hash, sizeof(a->hash), hash);
	f = fopen(path, "w");
	assert_non_null(f);
	fprintf(f, "alice %s %s\n", salt, hash);
	fclose(f);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(accounts_load(path, &list2), 0);
	assert_int_equal(account_check(&list2, "alice", "secret-key"), 0);
	assert_int_equal(account_check(&list2, "alice", "other"), -1);
	accounts_clear(&list2);

	/* bad lines are skipped, good ones kept */
	f = fopen(path, "a");
	assert_non_null(f);
	fprintf(f, "# comment\n\nbob\nbad name 00 11\n"
	    "carol zz 00\nalice 00 00\n"
	    "dave 000102030405060708090a0b0c0d0e0f "
	    "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"
	    " extra\n");
	fclose(f);
	assert_int_equal(accounts_load(path, &list2), 0);
	assert_non_null(account_find(&list2, "alice"));
	assert_null(account_find(&list2, "bob"));
	assert_null(account_find(&list2, "carol"));
	assert_null(account_find(&list2, "dave"));
	accounts_clear(&list2);
	accounts_clear(&list);

	unlink(path);
	rmdir(dir);
}

/* --since and ?since=: RFC 3339 or an age */
static void
test_since(void **state)
{
	time_t	 t, now = 1800000000;

	assert_int_equal(parse_since("10m", now, &t), 0);
	assert_int_equal(t, now - 600);
	assert_int_equal(parse_since("30", now, &t), 0);
	assert_int_equal(t, now - 30);
	assert_int_equal(parse_since("2h", now, &t), 0);
	assert_int_equal(t, now - 7200);
	assert_int_equal(parse_since("7d", now, &t), 0);
	assert_int_equal(t, now - 7 * 86400);
	assert_int_equal(parse_since("2026-12-07T05:00:00Z", now, &t), 0);
	assert_int_equal(t, 1796619600);
	assert_int_equal(parse_since("2026-12-07T06:00:00.123+01:00", now,
	    &t), 0);
	assert_int_equal(t, 1796619600);
	assert_int_equal(parse_since("2026-12-07T00:30:00-04:30", now, &t),
	    0);
	assert_int_equal(t, 1796619600);
	assert_int_equal(parse_since("", now, &t), -1);
	assert_int_equal(parse_since("10x", now, &t), -1);
	assert_int_equal(parse_since("m", now, &t), -1);
	assert_int_equal(parse_since("1m1", now, &t), -1);
	assert_int_equal(parse_since("99999999999d", now, &t), -1);
	assert_int_equal(parse_since("2026-12-07", now, &t), -1);
	assert_int_equal(parse_since("2026-12-07T05:00:00", now, &t), -1);
	assert_int_equal(parse_since("2026-12-07T05:00:00Zjunk", now, &t),
	    -1);
	assert_int_equal(parse_since("2026-12-07T05:00:00+1:00", now, &t),
	    -1);
	/* names: no markup, no space, bounded */
	assert_true(name_valid("eng.team-1", TEAM_NAME_MAX));
	assert_false(name_valid("<b>x</b>", TEAM_NAME_MAX));
	assert_false(name_valid("a b", TEAM_NAME_MAX));
	assert_false(name_valid("a\tb", TEAM_NAME_MAX));
	assert_false(name_valid("", TEAM_NAME_MAX));
	assert_false(name_valid("-x", TEAM_NAME_MAX));
	assert_true(name_valid("abcd", 4));
	assert_false(name_valid("abcde", 4));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hex),
		cmocka_unit_test(test_timingsafe),
		cmocka_unit_test(test_hostport),
		cmocka_unit_test(test_base64),
		cmocka_unit_test(test_basic_auth),
		cmocka_unit_test(test_settings),
		cmocka_unit_test(test_settings_limits),
		cmocka_unit_test(test_settings_bounds),
		cmocka_unit_test(test_account_names),
		cmocka_unit_test(test_account_key),
		cmocka_unit_test(test_account_check),
		cmocka_unit_test(test_since),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
