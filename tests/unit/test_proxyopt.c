/*
 * common/proxyopt.c: site credentials of both versions and which one a
 * request gets, header rules and the fields they act on, networks and
 * the verdict on an address (longest prefix, deny wins a tie, the
 * defaults, IPv4-mapped addresses), name servers.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "pacans.h"
#include "proxyopt.h"

static struct proxyopt	 po;
static char		 err[256];

static int
add(enum proxyopt_kind kind, const char *val)
{
	return (proxyopt_add(&po, kind, val, err, sizeof(err)));
}

static const struct net_rule *
check(const char *addr, int port)
{
	struct sockaddr_storage	 ss;
	struct sockaddr_in	*sin = (struct sockaddr_in *)&ss;
	struct sockaddr_in6	*sin6 = (struct sockaddr_in6 *)&ss;

	memset(&ss, 0, sizeof(ss));
	if (inet_pton(AF_INET, addr, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
	} else {
		assert_int_equal(inet_pton(AF_INET6, addr, &sin6->sin6_addr),
		    1);
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(port);
	}
	return (proxyopt_net_check(&po, (struct sockaddr *)&ss));
}

static int
setup(void **state)
{
	proxyopt_init(&po);
	return (0);
}

static int
teardown(void **state)
{
	proxyopt_free(&po);
	return (0);
}

static void
test_auth(void **state)
{
	const struct site_auth	*a;

	assert_int_equal(add(PO_AUTH_V5, "u:pa:ss@word@App.Test:8080"), 0);
	assert_int_equal(add(PO_AUTH_V4, "[::1]:*:v:x:y"), 0);
	assert_int_equal(add(PO_AUTH_V5, "w:@*:443"), 0);
	assert_int_equal(po.nauth, 3);
	a = proxyopt_auth_find(&po, "app.test", 8080);
	assert_non_null(a);
	assert_string_equal(a->user, "u");
	/* base64("u:pa:ss@word") */
	assert_string_equal(a->basic, "Basic dTpwYTpzc0B3b3Jk");
	assert_int_equal(a->pass_off, 2);
	assert_int_equal(a->pass_len, 10);
	assert_null(proxyopt_auth_find(&po, "app.test", 8081));
	a = proxyopt_auth_find(&po, "::1", 1);
	assert_non_null(a);
	assert_string_equal(a->basic, "Basic djp4Onk=");
	a = proxyopt_auth_find(&po, "other.test", 443);
	assert_non_null(a);
	assert_string_equal(a->user, "w");
	/* bad ones: no message shows the password */
	assert_int_equal(add(PO_AUTH_V5, "u@h:1"), -1);
	assert_int_equal(add(PO_AUTH_V5, ":secret@h:1"), -1);
	assert_null(strstr(err, "secret"));
	assert_int_equal(add(PO_AUTH_V5, "u:secret@h"), -1);
	assert_null(strstr(err, "secret"));
	assert_int_equal(add(PO_AUTH_V4, "h:80:u"), -1);
	assert_int_equal(add(PO_AUTH_V4, "h:80:u:p\n"), -1);
	assert_int_equal(add(PO_AUTH_V5, "u:p@h/x:1"), -1);
	assert_int_equal(po.nauth, 3);
}

static void
test_headers(void **state)
{
	const struct header_rule	*r;

	assert_int_equal(add(PO_HEADER_REQ, "X-A:  v a l \t"), 0);
	assert_int_equal(add(PO_HEADER_REQ, "X-Empty;"), 0);
	assert_int_equal(add(PO_HEADER_REQ, "X-E2:"), 0);
	assert_int_equal(add(PO_HEADER_REQ, "-X-Gone"), 0);
	assert_int_equal(add(PO_HEADER_REQ, "-X-Pre*"), 0);
	assert_int_equal(add(PO_HEADER_REQ, "Host: example.test"), 0);
	assert_int_equal(po.nreq, 6);
	assert_int_equal(po.req[0].op, HR_SET);
	assert_string_equal(po.req[0].value, "v a l");
	assert_int_equal(po.req[1].op, HR_EMPTY);
	assert_int_equal(po.req[2].op, HR_EMPTY);
	r = proxyopt_header_find(po.req, po.nreq, "x-pre-anything");
	assert_non_null(r);
	assert_int_equal(r->op, HR_REMOVE_PREFIX);
	assert_null(proxyopt_header_find(po.req, po.nreq, "X-Keep"));
	assert_non_null(proxyopt_header_find(po.req, po.nreq, "x-gone"));
	/* framing and hop-by-hop fields are no rule's */
	assert_int_equal(add(PO_HEADER_REQ, "-Content-Length"), -1);
	assert_int_equal(add(PO_HEADER_REQ, "Transfer-Encoding: x"), -1);
	assert_int_equal(add(PO_HEADER_REQ, "-Host"), -1);
	assert_int_equal(add(PO_HEADER_RESP, "Connection: close"), -1);
	assert_int_equal(add(PO_HEADER_RESP, "-Content-*"), 0);
	assert_null(proxyopt_header_find(po.resp, po.nresp,
	    "Content-Length"));
	assert_non_null(proxyopt_header_find(po.resp, po.nresp,
	    "Content-Type"));
	/* bad ones */
	assert_int_equal(add(PO_HEADER_REQ, "X-A: a\r\nX-B: b"), -1);
	assert_int_equal(add(PO_HEADER_REQ, "X A: b"), -1);
	assert_int_equal(add(PO_HEADER_REQ, "X-A"), -1);
	assert_int_equal(add(PO_HEADER_REQ, "-"), -1);
	assert_int_equal(add(PO_HEADER_REQ, "-*"), -1);
	assert_int_equal(add(PO_HEADER_REQ, ": v"), -1);
	assert_int_equal(add(PO_HEADER_REQ, "-X-*-*"), -1);
}

static void
test_networks(void **state)
{
	const struct net_rule	*r;

	/* nothing given: every address but the defaults */
	proxyopt_defaults(&po, PO_LOCALHOST_ALLOW);
	assert_null(check("127.0.0.1", 80));
	assert_null(check("10.1.2.3", 80));
	r = check("169.254.169.254", 80);
	assert_non_null(r);
	assert_non_null(strstr(r->text, "169.254.0.0/16"));
	assert_non_null(check("::ffff:169.254.169.254", 80));
	assert_non_null(check("fd00:ec2::254", 80));
	proxyopt_free(&po);

	proxyopt_init(&po);
	assert_int_equal(add(PO_NET_DENY, "10.0.0.0/8"), 0);
	assert_int_equal(add(PO_NET_ALLOW, "10.1.0.0/16"), 0);
	assert_int_equal(add(PO_NET_DENY, "10.1.2.3/32:8000-8999"), 0);
	assert_int_equal(add(PO_NET_ALLOW, "[fd00::/8]:443"), 0);
	assert_int_equal(add(PO_NET_ALLOW, "169.254.169.254"), 0);
	proxyopt_defaults(&po, PO_LOCALHOST_DENY);
	/* with allow rules: what none names is denied */
	r = check("192.0.2.1", 80);
	assert_non_null(r);
	assert_string_equal(r->text, "not in --allow-networks");
	assert_non_null(check("10.2.0.1", 80));
	assert_null(check("10.1.9.9", 80));
	assert_null(check("10.1.2.3", 80));
	r = check("10.1.2.3", 8080);
	assert_non_null(r);
	assert_string_equal(r->text, "--deny-networks 10.1.2.3/32:8000-8999");
	assert_null(check("::ffff:10.1.9.9", 80));
	assert_null(check("fd12::1", 443));
	assert_non_null(check("fd12::1", 80));
	/* a /32 allow opens one address of the link-local default */
	assert_null(check("169.254.169.254", 80));
	assert_non_null(check("169.254.169.253", 80));
	r = check("127.0.0.1", 80);
	assert_non_null(r);
	assert_non_null(strstr(r->text, "--proxy-localhost deny"));
	assert_non_null(check("::1", 80));
	assert_non_null(check("::ffff:127.0.0.2", 80));
	assert_non_null(check("0.0.0.0", 80));
	/* bad ones */
	assert_int_equal(add(PO_NET_DENY, "10.0.0.0/33"), -1);
	assert_int_equal(add(PO_NET_DENY, "::/129"), -1);
	assert_int_equal(add(PO_NET_DENY, "10.0.0.0/8:0"), -1);
	assert_int_equal(add(PO_NET_DENY, "10.0.0.0/8:9-1"), -1);
	assert_int_equal(add(PO_NET_DENY, "2130706433"), -1);
	assert_int_equal(add(PO_NET_DENY, "[::1"), -1);
	assert_int_equal(add(PO_NET_DENY, "host.test"), -1);
	assert_int_equal(add(PO_NET_DENY, "10.0.0.0/"), -1);
}

static void
test_dns(void **state)
{
	char	 out[64];

	assert_int_equal(proxyopt_dns_server("10.0.0.1", out, sizeof(out),
	    err, sizeof(err)), 0);
	assert_string_equal(out, "10.0.0.1:53");
	assert_int_equal(proxyopt_dns_server("10.0.0.1:5353", out,
	    sizeof(out), err, sizeof(err)), 0);
	assert_string_equal(out, "10.0.0.1:5353");
	assert_int_equal(proxyopt_dns_server("fd00::1", out, sizeof(out),
	    err, sizeof(err)), 0);
	assert_string_equal(out, "[fd00::1]:53");
	assert_int_equal(proxyopt_dns_server("[fd00::1]:54", out,
	    sizeof(out), err, sizeof(err)), 0);
	assert_string_equal(out, "[fd00::1]:54");
	assert_int_equal(proxyopt_dns_server("ns.test", out, sizeof(out),
	    err, sizeof(err)), -1);
	assert_int_equal(proxyopt_dns_server("10.0.0.1:0", out, sizeof(out),
	    err, sizeof(err)), -1);
	assert_int_equal(proxyopt_dns_server("", out, sizeof(out), err,
	    sizeof(err)), -1);
}

/* -x https://: an HTTP proxy spoken to inside TLS, 443 by default */
static void
test_upproxy_https(void **state)
{
	struct upproxy	 up;
	char		 why[128];
	const char	*v;

	v = "https://u:p%40ss@proxy.corp";
	assert_int_equal(proxyopt_upproxy(v, strlen(v), UPX_HTTP,
	    PROXYOPT_UPPROXY_PORT, &up, why, sizeof(why)), 0);
	assert_int_equal(up.scheme, UPX_HTTP);
	assert_int_equal(up.tls, 1);
	assert_int_equal(up.portnum, 443);
	assert_string_equal(up.pass, "p@ss");
	assert_non_null(up.basic);
	assert_string_equal(up.shown, "https://u:****@proxy.corp:443");
	proxyopt_upproxy_clear(&up);
	v = "HTTPS://proxy.corp:8443/";
	assert_int_equal(proxyopt_upproxy(v, strlen(v), UPX_HTTP,
	    PROXYOPT_UPPROXY_PORT, &up, why, sizeof(why)), 0);
	assert_int_equal(up.tls, 1);
	assert_int_equal(up.portnum, 8443);
	proxyopt_upproxy_clear(&up);
	v = "http://proxy.corp";
	assert_int_equal(proxyopt_upproxy(v, strlen(v), UPX_HTTP,
	    PROXYOPT_UPPROXY_PORT, &up, why, sizeof(why)), 0);
	assert_int_equal(up.tls, 0);
	assert_int_equal(up.portnum, PROXYOPT_UPPROXY_PORT);
	proxyopt_upproxy_clear(&up);
	v = "ftps://proxy.corp";
	assert_int_equal(proxyopt_upproxy(v, strlen(v), UPX_HTTP,
	    PROXYOPT_UPPROXY_PORT, &up, why, sizeof(why)), -1);
	assert_non_null(strstr(why, "(http, https, socks5)"));
}

/* FindProxyForURL()'s answers, as proxyd reads what the PAC process says */
static void
test_pacans(void **state)
{
	struct upproxy	 up[PAC_ANSWER_MAX];
	char		 why[128];
	const char	*a;
	int		 i;

	a = "PROXY proxy.corp:3128; PROXY b:8080;DIRECT";
	assert_int_equal(pacans_parse(a, strlen(a), up, PAC_ANSWER_MAX, why,
	    sizeof(why)), 3);
	assert_int_equal(up[0].scheme, UPX_HTTP);
	assert_string_equal(up[0].host, "proxy.corp");
	assert_int_equal(up[0].portnum, 3128);
	assert_int_equal(up[1].portnum, 8080);
	assert_int_equal(up[2].scheme, UPX_NONE);

	a = "  SOCKS s.corp ; socks5 [fd00::1]:1081 ";
	assert_int_equal(pacans_parse(a, strlen(a), up, PAC_ANSWER_MAX, why,
	    sizeof(why)), 2);
	assert_int_equal(up[0].scheme, UPX_SOCKS5);
	assert_int_equal(up[0].portnum, PAC_SOCKS_PORT);
	assert_string_equal(up[1].host, "fd00::1");
	assert_int_equal(up[1].portnum, 1081);

	a = "PROXY p";
	assert_int_equal(pacans_parse(a, strlen(a), up, PAC_ANSWER_MAX, why,
	    sizeof(why)), 1);
	assert_int_equal(up[0].portnum, PAC_PROXY_PORT);

	/* HTTPS: an HTTP proxy inside TLS, port 443 by default */
	a = "HTTPS h; HTTPS [::1]:8443";
	assert_int_equal(pacans_parse(a, strlen(a), up, PAC_ANSWER_MAX, why,
	    sizeof(why)), 2);
	assert_int_equal(up[0].scheme, UPX_HTTP);
	assert_int_equal(up[0].tls, 1);
	assert_int_equal(up[0].portnum, 443);
	assert_string_equal(up[0].shown, "https://h:443");
	assert_string_equal(up[1].shown, "https://[::1]:8443");
	for (i = 0; i < 2; i++)
		proxyopt_upproxy_clear(&up[i]);

	/* what sc does not speak is skipped; the bound is kept */
	a = "SOCKS4 s:1; DIRECT";
	assert_int_equal(pacans_parse(a, strlen(a), up, PAC_ANSWER_MAX, why,
	    sizeof(why)), 1);
	assert_int_equal(up[0].scheme, UPX_NONE);
	a = "DIRECT; DIRECT; DIRECT";
	assert_int_equal(pacans_parse(a, strlen(a), up, 2, why,
	    sizeof(why)), 2);

	/* garbage: an error, and the caller goes DIRECT */
	a = "";
	assert_int_equal(pacans_parse(a, 0, up, PAC_ANSWER_MAX, why,
	    sizeof(why)), -1);
	a = "undefined";
	assert_int_equal(pacans_parse(a, strlen(a), up, PAC_ANSWER_MAX, why,
	    sizeof(why)), -1);
	a = "PROXY u:p@h:1";
	assert_int_equal(pacans_parse(a, strlen(a), up, PAC_ANSWER_MAX, why,
	    sizeof(why)), -1);
	a = "PROXY http://h:1";
	assert_int_equal(pacans_parse(a, strlen(a), up, PAC_ANSWER_MAX, why,
	    sizeof(why)), -1);
	a = "PROXY h:99999";
	assert_int_equal(pacans_parse(a, strlen(a), up, PAC_ANSWER_MAX, why,
	    sizeof(why)), -1);
	a = "DIRECT x";
	assert_int_equal(pacans_parse(a, strlen(a), up, PAC_ANSWER_MAX, why,
	    sizeof(why)), -1);
	assert_int_equal(pacans_parse("DIRECT\0", 7, up, PAC_ANSWER_MAX, why,
	    sizeof(why)), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_auth, setup, teardown),
		cmocka_unit_test_setup_teardown(test_headers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_networks, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_dns, setup, teardown),
		cmocka_unit_test(test_upproxy_https),
		cmocka_unit_test(test_pacans),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
