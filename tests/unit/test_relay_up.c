/*
 * Unit tests of proxyd/relay_up.c, the app side: the addresses a host
 * needs no DNS for and those taken from a name's answer; then, through
 * the relay (relay_harness.h), what the browser is told when the app
 * cannot be reached: a 502 for a name that does not resolve, a refused
 * connection, an app that closes or resets without an answer or answers
 * what is not HTTP; a 504 for a connect that takes too long.
 */
#include <sys/types.h>
#include <sys/queue.h>
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
#include <unistd.h>

#include <cmocka.h>

#include <event2/util.h>

#include "relay_int.h"
#include "relay_harness.h"

static void
assert_v4(const struct up_addrs *ua, int i, const char *addr, int port)
{
	const struct sockaddr_in	*sin = (const void *)&ua->addr[i];
	char				 buf[INET_ADDRSTRLEN];

	assert_int_equal(sin->sin_family, AF_INET);
	assert_int_equal(ua->len[i], sizeof(*sin));
	assert_int_equal(ntohs(sin->sin_port), port);
	assert_non_null(inet_ntop(AF_INET, &sin->sin_addr, buf, sizeof(buf)));
	assert_string_equal(buf, addr);
}

static void
assert_v6(const struct up_addrs *ua, int i, const char *addr, int port)
{
	const struct sockaddr_in6	*sin6 = (const void *)&ua->addr[i];
	char				 buf[INET6_ADDRSTRLEN];

	assert_int_equal(sin6->sin6_family, AF_INET6);
	assert_int_equal(ua->len[i], sizeof(*sin6));
	assert_int_equal(ntohs(sin6->sin6_port), port);
	assert_non_null(inet_ntop(AF_INET6, &sin6->sin6_addr, buf,
	    sizeof(buf)));
	assert_string_equal(buf, addr);
}

/* addresses and localhost need no DNS; names do */
static void
test_literal(void **state)
{
	struct up_addrs	 ua;

	assert_int_equal(up_literal(&ua, "10.1.2.3", 8080), 1);
	assert_v4(&ua, 0, "10.1.2.3", 8080);
	assert_int_equal(up_literal(&ua, "fe80::1", 443), 1);
	assert_v6(&ua, 0, "fe80::1", 443);
	assert_int_equal(up_literal(&ua, "LocalHost.", 80), 2);
	assert_v4(&ua, 0, "127.0.0.1", 80);
	assert_v6(&ua, 1, "::1", 80);
	assert_int_equal(up_literal(&ua, "localhost", 1), 2);
	assert_int_equal(up_literal(&ua, "app.test", 80), 0);
	assert_int_equal(up_literal(&ua, "localhost.test", 80), 0);
	/* IPv4 as browsers take it: no name to resolve, the address judged */
	assert_int_equal(up_literal(&ua, "2130706433", 80), 1);
	assert_v4(&ua, 0, "127.0.0.1", 80);
	assert_int_equal(up_literal(&ua, "0x7f.1", 80), 1);
	assert_v4(&ua, 0, "127.0.0.1", 80);
	assert_int_equal(up_literal(&ua, "1.2.3", 80), 1);
	assert_v4(&ua, 0, "1.2.0.3", 80);
	assert_int_equal(up_literal(&ua, "1.2.3.4.5", 80), 0);
}

/* a name's answer: IPv4 first, then IPv6, PROXYD_MAXADDR at most */
static void
test_addrs_take(void **state)
{
	struct evutil_addrinfo	 ai[12];
	struct sockaddr_in	 sin[6];
	struct sockaddr_in6	 sin6[6];
	struct up_addrs		 ua;
	char			 buf[64];
	int			 i;

	memset(ai, 0, sizeof(ai));
	for (i = 0; i < 6; i++) {
		memset(&sin[i], 0, sizeof(sin[i]));
		sin[i].sin_family = AF_INET;
		sin[i].sin_port = htons(80);
		snprintf(buf, sizeof(buf), "192.0.2.%d", i + 1);
		inet_pton(AF_INET, buf, &sin[i].sin_addr);
		memset(&sin6[i], 0, sizeof(sin6[i]));
		sin6[i].sin6_family = AF_INET6;
		sin6[i].sin6_port = htons(80);
		snprintf(buf, sizeof(buf), "2001:db8::%d", i + 1);
		inet_pton(AF_INET6, buf, &sin6[i].sin6_addr);
		/* the answer mixes them: v6, v4, v6, v4... */
		ai[2 * i].ai_family = AF_INET6;
		ai[2 * i].ai_addr = (struct sockaddr *)&sin6[i];
		ai[2 * i].ai_addrlen = sizeof(sin6[i]);
		ai[2 * i + 1].ai_family = AF_INET;
		ai[2 * i + 1].ai_addr = (struct sockaddr *)&sin[i];
		ai[2 * i + 1].ai_addrlen = sizeof(sin[i]);
	}
	for (i = 0; i < 11; i++)
		ai[i].ai_next = &ai[i + 1];
	/* an address too long for its place is left out */
	ai[1].ai_addrlen = sizeof(struct sockaddr_storage) + 1;

	assert_int_equal(up_addrs_take(&ua, ai), PROXYD_MAXADDR);
	for (i = 0; i < 5; i++) {
		snprintf(buf, sizeof(buf), "192.0.2.%d", i + 2);
		assert_v4(&ua, i, buf, 80);
	}
	for (i = 5; i < PROXYD_MAXADDR; i++) {
		snprintf(buf, sizeof(buf), "2001:db8::%d", i - 4);
		assert_v6(&ua, i, buf, 80);
	}
	assert_int_equal(up_addrs_take(&ua, &ai[10]), 2);
	assert_v4(&ua, 0, "192.0.2.6", 80);
	assert_v6(&ua, 1, "2001:db8::6", 80);
	assert_int_equal(up_addrs_take(&ua, NULL), 0);
}

/* a 502 or 504 with its reason, the stream kept as error_keep() says */
static void
assert_error(int b, int status, const char *why, int keep)
{
	char	 buf[2048];

	h_read_answer(b, buf, sizeof(buf));
	if (atoi(buf + 9) != status || strstr(buf, why) == NULL ||
	    strstr(buf, keep ? "Connection: keep-alive\r\n" :
	    "Connection: close\r\n") == NULL)
		fail_msg("want %d \"%s\", got: %s", status, why, buf);
}

static void
test_refused(void **state)
{
	char	 why[128];
	int	 b, port = h_closed_port();

	b = h_stream();
	h_send(b, "GET http://127.0.0.1:%d/ HTTP/1.1\r\nHost: h\r\n\r\n",
	    port);
	snprintf(why, sizeof(why), "\r\n\r\nproxyd: cannot connect to "
	    "127.0.0.1 port %d: Connection refused\n", port);
	assert_error(b, 502, why, 1);
	/* localhost: 127.0.0.1, then ::1, both refuse */
	h_send(b, "GET http://localhost:%d/ HTTP/1.1\r\nHost: h\r\n\r\n",
	    port);
	snprintf(why, sizeof(why), "cannot connect to localhost port %d",
	    port);
	assert_error(b, 502, why, 1);
	/* a CONNECT's stream is not kept */
	h_send(b, "CONNECT 127.0.0.1:%d HTTP/1.1\r\nHost: h\r\n\r\n", port);
	assert_error(b, 502, "Connection refused", 0);
	assert_int_equal(h_read_eof(b), 1);
}

static void
test_connect_timeout(void **state)
{
	char	 why[128];
	int	 b, port;

	h_blackhole(&port);
	env->connect_timeout_ms = 300;
	b = h_stream();
	h_send(b, "GET http://127.0.0.1:%d/ HTTP/1.1\r\nHost: h\r\n\r\n",
	    port);
	snprintf(why, sizeof(why), "proxyd: connecting to 127.0.0.1 port "
	    "%d took longer than 300 ms", port);
	assert_error(b, 504, why, 1);
}

/* names: the name server's answer, its NXDOMAIN, its silence */
static void
test_dns(void **state)
{
	char	 buf[2048];
	int	 b, l, a, port;

	l = h_listen(&port, 4);
	b = h_stream();
	h_send(b, "GET http://" H_DNS_NAME ":%d/x HTTP/1.1\r\nHost: h\r\n\r\n",
	    port);
	a = h_accept(l);
	h_read_head(a, buf, sizeof(buf));
	snprintf(buf + 1024, 64, "Host: " H_DNS_NAME ":%d\r\n", port);
	assert_non_null(strstr(buf, buf + 1024));
	h_send(a, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
	h_read_answer(b, buf, sizeof(buf));
	assert_non_null(strstr(buf, "HTTP/1.1 200 OK\r\n"));

	h_send(b, "GET http://nosuch.test/ HTTP/1.1\r\nHost: h\r\n\r\n");
	assert_error(b, 502, "proxyd: cannot resolve nosuch.test: ", 1);

	h_dns(H_DNS_SILENT);
	h_send(b, "GET http://" H_DNS_NAME "/ HTTP/1.1\r\nHost: h\r\n\r\n");
	snprintf(buf, sizeof(buf), "proxyd: cannot resolve " H_DNS_NAME
	    ": no answer from the name servers in %d ms",
	    PROXYD_DNS_TIMEOUT_MS);
	assert_error(b, 502, buf, 1);
}

/* the app took the request but gave no answer, or garbage */
static void
test_no_answer(void **state)
{
	struct linger	 lg = { 1, 0 };
	char		 why[128];
	int		 b, l, a, port;

	l = h_listen(&port, 4);
	b = h_stream();
	a = h_get(b, l, port, "/");
	shutdown(a, SHUT_RDWR);
	snprintf(why, sizeof(why), "proxyd: 127.0.0.1 port %d closed the "
	    "connection without an answer", port);
	assert_error(b, 502, why, 1);

	a = h_get(b, l, port, "/");
	setsockopt(a, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	h_close(a);
	/* a reset is an error of the socket: its text says which */
	snprintf(why, sizeof(why), "proxyd: 127.0.0.1 port %d: ", port);
	assert_error(b, 502, why, 1);

	a = h_get(b, l, port, "/");
	h_send(a, "SSH-2.0-OpenSSH\r\n\r\n");
	snprintf(why, sizeof(why), "proxyd: bad answer from 127.0.0.1 port "
	    "%d: ", port);
	assert_error(b, 502, why, 1);
}

/* an app that closed its kept connection: the next request gets another */
static void
test_reopen(void **state)
{
	char	 buf[2048];
	int	 b, l, a, port;

	l = h_listen(&port, 4);
	b = h_stream();
	a = h_get(b, l, port, "/1");
	h_send(a, "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n1");
	h_read_answer(b, buf, sizeof(buf));
	h_close(a);
	a = h_get(b, l, port, "/2");
	h_send(a, "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n2");
	h_read_answer(b, buf, sizeof(buf));
	assert_non_null(strstr(buf, "\r\n\r\n2"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_literal),
		cmocka_unit_test(test_addrs_take),
		cmocka_unit_test_setup_teardown(test_refused, h_setup,
		    h_teardown),
		cmocka_unit_test_setup_teardown(test_connect_timeout, h_setup,
		    h_teardown),
		cmocka_unit_test_setup_teardown(test_dns, h_setup,
		    h_teardown),
		cmocka_unit_test_setup_teardown(test_no_answer, h_setup,
		    h_teardown),
		cmocka_unit_test_setup_teardown(test_reopen, h_setup,
		    h_teardown),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
