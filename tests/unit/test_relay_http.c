/*
 * Unit tests of proxyd/relay_http.c, the HTTP/1.1 exchange: what it
 * decides of a request and of an answer (keep-alive, framing, upgrade),
 * the heads it builds for the app and for the browser (the fields passed
 * on), its own error answers; then whole exchanges through the relay
 * (relay_harness.h): keep-alive, answers framed by the close, bad
 * requests, errors that keep the stream, interim answers.
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

#include <event2/buffer.h>

#include "http.h"
#include "relay_int.h"
#include "relay_harness.h"

/* h parsed from text, which must be a whole head */
static void
parse(struct http_head *h, enum http_kind kind, const char *text)
{
	http_head_init(h, kind);
	assert_int_equal(http_head_parse(h, text, strlen(text)),
	    (ssize_t)strlen(text));
}

/* the bytes of b, as a string to compare (static: one at a time) */
static const char *
text(struct evbuffer *b)
{
	static char	 buf[4096];
	size_t		 n = evbuffer_get_length(b);

	assert_true(n < sizeof(buf));
	evbuffer_copyout(b, buf, n);
	buf[n] = '\0';
	evbuffer_drain(b, n);
	return (buf);
}

/* what goes to the app: origin form, Host as written, no hop-by-hop */
static void
test_request_build(void **state)
{
	struct http_head	 h;
	struct http_url		 url;
	struct evbuffer		*b = evbuffer_new();

	parse(&h, HTTP_REQUEST, "GET http://Example.com:0080/a?b HTTP/1.1\r\n"
	    "Host: elsewhere\r\n"
	    "User-Agent: t\r\n"
	    "Proxy-Connection: keep-alive\r\n"
	    "Connection: keep-alive, X-Hop\r\n"
	    "X-Hop: 1\r\n"
	    "Keep-Alive: 300\r\n"
	    "TE: trailers\r\n"
	    "Proxy-Authorization: Basic eDp5\r\n"
	    "Accept: */*\r\n"
	    "\r\n");
	assert_int_equal(http_parse_url(h.target, &url), 0);
	assert_string_equal(url.auth.port, "80");
	request_build(b, &h, &url, 0, NULL);
	assert_string_equal(text(b), "GET /a?b HTTP/1.1\r\n"
	    "Host: Example.com:0080\r\n"
	    "User-Agent: t\r\n"
	    "Accept: */*\r\n"
	    "\r\n");
	http_head_free(&h);

	/* HTTP/1.0, a query alone, no path; the framing fields stay */
	parse(&h, HTTP_REQUEST, "POST http://h?q HTTP/1.0\r\n"
	    "Content-Length: 3\r\n\r\n");
	assert_int_equal(http_parse_url(h.target, &url), 0);
	request_build(b, &h, &url, 0, NULL);
	assert_string_equal(text(b), "POST /?q HTTP/1.0\r\nHost: h\r\n"
	    "Content-Length: 3\r\n\r\n");
	http_head_free(&h);
	parse(&h, HTTP_REQUEST, "GET http://[::1]:81 HTTP/1.1\r\nHost: h\r\n"
	    "Transfer-Encoding: chunked\r\n\r\n");
	assert_int_equal(http_parse_url(h.target, &url), 0);
	request_build(b, &h, &url, 0, NULL);
	assert_string_equal(text(b), "GET / HTTP/1.1\r\nHost: [::1]:81\r\n"
	    "Transfer-Encoding: chunked\r\n\r\n");
	http_head_free(&h);

	/* an upgrade asked for goes on; not asked, it does not */
	parse(&h, HTTP_REQUEST, "GET http://h/ws HTTP/1.1\r\nHost: h\r\n"
	    "Connection: Upgrade\r\n"
	    "Upgrade: websocket\r\n"
	    "Sec-WebSocket-Key: k\r\n\r\n");
	assert_int_equal(http_parse_url(h.target, &url), 0);
	request_build(b, &h, &url, 1, NULL);
	assert_string_equal(text(b), "GET /ws HTTP/1.1\r\nHost: h\r\n"
	    "Sec-WebSocket-Key: k\r\n"
	    "Connection: Upgrade\r\nUpgrade: websocket\r\n\r\n");
	request_build(b, &h, &url, 0, NULL);
	assert_string_equal(text(b), "GET /ws HTTP/1.1\r\nHost: h\r\n"
	    "Sec-WebSocket-Key: k\r\n\r\n");
	http_head_free(&h);
	evbuffer_free(b);
}

/* keep-alive by version and Connection; upgrade; the body's framing */
static void
test_request_framing(void **state)
{
	static const struct {
		const char	*head;
		int		 keep, upgrade;
		enum http_body	 body;
		uint64_t	 left;
	} t[] = {
		{ "GET http://h/ HTTP/1.1\r\nHost: h\r\n\r\n",
		    1, 0, HTTP_BODY_NONE, 0 },
		{ "GET http://h/ HTTP/1.1\r\nHost: h\r\n"
		    "Connection: close\r\n\r\n",
		    0, 0, HTTP_BODY_NONE, 0 },
		{ "GET http://h/ HTTP/1.0\r\n\r\n", 0, 0, HTTP_BODY_NONE, 0 },
		{ "GET http://h/ HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
		    1, 0, HTTP_BODY_NONE, 0 },
		{ "GET http://h/ HTTP/1.1\r\nHost: h\r\nConnection: upgrade\r\n"
		    "Upgrade: websocket\r\n\r\n", 1, 1, HTTP_BODY_NONE, 0 },
		{ "GET http://h/ HTTP/1.1\r\nHost: h\r\n"
		    "Upgrade: websocket\r\n\r\n",
		    1, 0, HTTP_BODY_NONE, 0 },
		{ "GET http://h/ HTTP/1.0\r\nConnection: upgrade\r\n"
		    "Upgrade: websocket\r\n\r\n", 0, 0, HTTP_BODY_NONE, 0 },
		{ "POST http://h/ HTTP/1.1\r\nHost: h\r\n"
		    "Content-Length: 5\r\n\r\n",
		    1, 0, HTTP_BODY_LENGTH, 5 },
		{ "POST http://h/ HTTP/1.1\r\nHost: h\r\n"
		    "Content-Length: 0\r\n\r\n",
		    1, 0, HTTP_BODY_NONE, 0 },
		{ "POST http://h/ HTTP/1.1\r\nHost: h\r\n"
		    "Transfer-Encoding: chunked\r\n\r\n",
		    1, 0, HTTP_BODY_CHUNKED, 0 },
	};
	struct stream	 s;
	struct http_head h;
	size_t		 i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		memset(&s, 0, sizeof(s));
		parse(&h, HTTP_REQUEST, t[i].head);
		request_framing(&s, &h);
		if (s.client_keep != t[i].keep ||
		    s.want_upgrade != t[i].upgrade || s.rq_body != t[i].body)
			fail_msg("%s: keep %d upgrade %d body %d", t[i].head,
			    s.client_keep, s.want_upgrade, s.rq_body);
		assert_int_equal(s.rq_left, t[i].left);
		assert_int_equal(s.rq_state,
		    t[i].body == HTTP_BODY_NONE ? RQ_DONE : RQ_BODY);
		assert_int_equal(s.version, strstr(t[i].head, "1.0") ? 10 : 11);
		http_head_free(&h);
	}
}

/* an answer's framing, who keeps what, and the head the browser gets */
static void
test_response(void **state)
{
	static const struct {
		const char	*method;
		int		 version;	/* the browser's */
		const char	*head;		/* the app's */
		enum http_body	 body;
		int		 reusable, keep;
		const char	*out;		/* the browser's */
	} t[] = {
		{ "GET", 11, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n",
		    HTTP_BODY_LENGTH, 1, 1,
		    "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n" },
		/* framed by the close: neither side is kept */
		{ "GET", 11, "HTTP/1.0 200 Fine\r\nX-A: b\r\n\r\n",
		    HTTP_BODY_CLOSE, 0, 0,
		    "HTTP/1.1 200 Fine\r\nX-A: b\r\n"
		    "Connection: close\r\n\r\n" },
		{ "GET", 11, "HTTP/1.1 200 OK\r\nConnection: close\r\n"
		    "Content-Length: 2\r\n\r\n", HTTP_BODY_LENGTH, 0, 1,
		    "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n" },
		{ "GET", 11, "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\n"
		    "Keep-Alive: timeout=5\r\nContent-Length: 2\r\n\r\n",
		    HTTP_BODY_LENGTH, 1, 1,
		    "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n" },
		/* an HTTP/1.0 browser that keeps the stream is told so */
		{ "GET", 10, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n",
		    HTTP_BODY_LENGTH, 1, 1, "HTTP/1.1 200 OK\r\n"
		    "Content-Length: 2\r\nConnection: keep-alive\r\n\r\n" },
		/* no body: HEAD, 204, 304 */
		{ "HEAD", 11, "HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n",
		    HTTP_BODY_NONE, 1, 1,
		    "HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n" },
		{ "GET", 11, "HTTP/1.1 204 No Content\r\n\r\n",
		    HTTP_BODY_NONE, 1, 1, "HTTP/1.1 204 No Content\r\n\r\n" },
		{ "GET", 11, "HTTP/1.1 304 Not Modified\r\nETag: x\r\n\r\n",
		    HTTP_BODY_NONE, 1, 1,
		    "HTTP/1.1 304 Not Modified\r\nETag: x\r\n\r\n" },
		/* chunked passes as it came; hop-by-hop fields go */
		{ "GET", 11, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n"
		    "Proxy-Authenticate: Basic\r\nConnection: X-Y\r\n"
		    "X-Y: 1\r\nX-Z: 2\r\n\r\n", HTTP_BODY_CHUNKED, 1, 1,
		    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n"
		    "X-Z: 2\r\n\r\n" },
		{ "GET", 11, "HTTP/1.1 404 \r\nContent-Length: 0\r\n\r\n",
		    HTTP_BODY_NONE, 1, 1,
		    "HTTP/1.1 404 \r\nContent-Length: 0\r\n\r\n" },
	};
	struct stream		 s;
	struct http_head	 h;
	struct evbuffer		*b = evbuffer_new();
	size_t			 i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		memset(&s, 0, sizeof(s));
		strlcpy(s.method, t[i].method, sizeof(s.method));
		s.version = t[i].version;
		s.client_keep = 1;
		parse(&h, HTTP_RESPONSE, t[i].head);
		response_framing(&s, &h);
		if (s.rs_body != t[i].body || s.u.reusable != t[i].reusable ||
		    s.client_keep != t[i].keep)
			fail_msg("%s: body %d reusable %d keep %d", t[i].head,
			    s.rs_body, s.u.reusable, s.client_keep);
		response_build(b, &h, s.client_keep, s.version);
		assert_string_equal(text(b), t[i].out);
		http_head_free(&h);
	}
	evbuffer_free(b);
}

/* the proxy's own answers, and when the stream stays after them */
static void
test_error(void **state)
{
	struct stream	 s;
	struct evbuffer	*b = evbuffer_new();

	memset(&s, 0, sizeof(s));
	s.rq_state = RQ_DONE;
	s.client_keep = 1;
	assert_true(error_keep(&s, 502));
	assert_true(error_keep(&s, 504));
	/* a bad request: what follows it could be anything */
	assert_false(error_keep(&s, 400));
	assert_false(error_keep(&s, 431));
	s.is_connect = 1;
	assert_false(error_keep(&s, 502));
	s.is_connect = 0;
	s.c_eof = 1;
	assert_false(error_keep(&s, 502));
	s.c_eof = 0;
	s.rq_state = RQ_BODY;		/* the body is not all read */
	assert_false(error_keep(&s, 502));
	s.rq_state = RQ_DONE;
	s.client_keep = 0;
	assert_false(error_keep(&s, 502));

	error_build(b, 502, "proxyd: no", 1, 0);
	assert_string_equal(text(b), "HTTP/1.1 502 Bad Gateway\r\n"
	    "Content-Type: text/plain\r\nContent-Length: 11\r\n"
	    "Connection: keep-alive\r\n\r\nproxyd: no\n");
	error_build(b, 504, "proxyd: slow", 0, 1);
	assert_string_equal(text(b), "HTTP/1.1 504 Gateway Timeout\r\n"
	    "Content-Type: text/plain\r\nContent-Length: 13\r\n"
	    "Connection: close\r\n\r\n");
	evbuffer_free(b);
}

/*
 * Whole exchanges.
 */

/* two requests on one stream share one connection to the app */
static void
test_keepalive(void **state)
{
	char	 buf[2048];
	int	 b, l, a, port;

	b = h_stream();
	l = h_listen(&port, 4);
	h_send(b, "GET http://127.0.0.1:%d/one HTTP/1.1\r\nHost: x\r\n\r\n",
	    port);
	a = h_accept(l);
	h_read_head(a, buf, sizeof(buf));
	assert_non_null(strstr(buf, "GET /one HTTP/1.1\r\n"));
	h_send(a, "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\none");
	h_read_answer(b, buf, sizeof(buf));
	assert_string_equal(buf, "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n"
	    "\r\none");
	/* the same app connection takes the second request */
	h_send(b, "GET http://127.0.0.1:%d/two HTTP/1.1\r\nHost: h\r\n\r\n",
	    port);
	h_read_head(a, buf, sizeof(buf));
	assert_non_null(strstr(buf, "GET /two HTTP/1.1\r\n"));
	h_send(a, "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\ntwo");
	h_read_answer(b, buf, sizeof(buf));
	assert_non_null(strstr(buf, "\r\n\r\ntwo"));
	/* a HEAD's answer has no body, whatever its length says */
	h_send(b, "HEAD http://127.0.0.1:%d/ HTTP/1.1\r\nHost: h\r\n\r\n",
	    port);
	h_read_head(a, buf, sizeof(buf));
	h_send(a, "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n");
	h_read_head(b, buf, sizeof(buf));
	assert_non_null(strstr(buf, "Content-Length: 1000\r\n"));
	h_send(b, "GET http://127.0.0.1:%d/four HTTP/1.1\r\nHost: h\r\n"
	    "\r\n", port);
	h_read_head(a, buf, sizeof(buf));
	assert_non_null(strstr(buf, "GET /four HTTP/1.1\r\n"));
}

/* an answer framed by the app's close: the browser's stream closes too */
static void
test_close_framed(void **state)
{
	char	 buf[2048];
	int	 b, l, a, port;

	b = h_stream();
	l = h_listen(&port, 4);
	h_send(b, "GET http://localhost:%d/ HTTP/1.1\r\nHost: h\r\n\r\n", port);
	a = h_accept(l);
	h_read_head(a, buf, sizeof(buf));
	h_send(a, "HTTP/1.0 200 OK\r\n\r\nall of it");
	shutdown(a, SHUT_WR);
	h_read_head(b, buf, sizeof(buf));
	assert_string_equal(buf, "HTTP/1.1 200 OK\r\nConnection: close\r\n"
	    "\r\n");
	assert_int_equal(h_read_n(b, buf, 9), 9);
	assert_memory_equal(buf, "all of it", 9);
	assert_int_equal(h_read_eof(b), 1);
}

/* bad requests get a 400 and the stream closes */
static void
test_bad_requests(void **state)
{
	static const struct {
		const char	*req;
		const char	*why;		/* in the answer */
	} t[] = {
		{ "GET / HTTP/1.1\r\nHost: h\r\n\r\n",
		    "needs an absolute URL" },
		{ "GET ftp://h/ HTTP/1.1\r\nHost: h\r\n\r\n",
		    "bad URL: not an http:// or https:// URL" },
		{ "GET http://u@h/ HTTP/1.1\r\nHost: h\r\n\r\n",
		    "bad URL: user information" },
		/* not an IPv6 address: a 502 once, when DNS failed */
		{ "GET http://[1:2:3]/ HTTP/1.1\r\nHost: h\r\n\r\n",
		    "bad URL: bad IPv6 address" },
		{ "GET http://h:0/ HTTP/1.1\r\nHost: h\r\n\r\n",
		    "bad URL: the port is not a number from 1 to 65535" },
		{ "GET http://h:+80/ HTTP/1.1\r\nHost: h\r\n\r\n",
		    "bad URL: the port is not a number" },
		{ "CONNECT h HTTP/1.1\r\nHost: h\r\n\r\n",
		    "CONNECT needs host:port: no port" },
		{ "CONNECT h:0 HTTP/1.1\r\nHost: h\r\n\r\n",
		    "CONNECT needs host:port: the port is not" },
		{ "GET http://h/ HTTP/1.1\r\nHost: h\r\nBad Field\r\n\r\n",
		    "bad request: bad field name" },
		{ "GET http://h/ HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\n"
		    "Content-Length: 2\r\n\r\n",
		    "bad request: differing Content-Length" },
	};
	char	 buf[2048];
	size_t	 i;
	int	 b;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		b = h_stream();
		h_send(b, "%s", t[i].req);
		h_read_answer(b, buf, sizeof(buf));
		if (strncmp(buf, "HTTP/1.1 400 Bad Request\r\n", 26) != 0 ||
		    strstr(buf, "Connection: close\r\n") == NULL ||
		    strstr(buf, "\r\n\r\nproxyd: ") == NULL ||
		    strstr(buf, t[i].why) == NULL)
			fail_msg("%s: %s", t[i].req, buf);
		assert_int_equal(h_read_eof(b), 1);
	}
}

/* an error answer keeps a stream whose request was whole and good */
static void
test_error_keeps(void **state)
{
	char	 buf[2048];
	int	 b, l, a, port, closed = h_closed_port();

	b = h_stream();
	h_send(b, "GET http://127.0.0.1:%d/ HTTP/1.1\r\nHost: h\r\n\r\n",
	    closed);
	h_read_answer(b, buf, sizeof(buf));
	assert_non_null(strstr(buf, "HTTP/1.1 502 Bad Gateway\r\n"));
	assert_non_null(strstr(buf, "Connection: keep-alive\r\n"));
	/* to a HEAD, no text */
	h_send(b, "HEAD http://127.0.0.1:%d/ HTTP/1.1\r\nHost: h\r\n\r\n",
	    closed);
	h_read_head(b, buf, sizeof(buf));
	assert_non_null(strstr(buf, "HTTP/1.1 502 Bad Gateway\r\n"));
	/* the stream goes on */
	l = h_listen(&port, 4);
	a = h_get(b, l, port, "/");
	h_send(a, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
	h_read_answer(b, buf, sizeof(buf));
	assert_non_null(strstr(buf, "HTTP/1.1 200 OK\r\n"));
	/* a 502 to HTTP/1.0 without keep-alive closes it */
	b = h_stream();
	h_send(b, "GET http://127.0.0.1:%d/ HTTP/1.0\r\n\r\n", closed);
	h_read_answer(b, buf, sizeof(buf));
	assert_non_null(strstr(buf, "Connection: close\r\n"));
	assert_int_equal(h_read_eof(b), 1);
}

/* interim answers reach HTTP/1.1 browsers only; a 101 needs asking */
static void
test_interim(void **state)
{
	char	 buf[2048];
	int	 b, l, a, port;

	l = h_listen(&port, 4);
	b = h_stream();
	h_send(b, "POST http://127.0.0.1:%d/ HTTP/1.1\r\nHost: h\r\n"
	    "Expect: 100-continue\r\nContent-Length: 2\r\n\r\n", port);
	a = h_accept(l);
	h_read_head(a, buf, sizeof(buf));
	h_send(a, "HTTP/1.1 100 Continue\r\n\r\n");
	h_read_head(b, buf, sizeof(buf));
	assert_string_equal(buf, "HTTP/1.1 100 Continue\r\n\r\n");
	h_send(b, "hi");
	assert_int_equal(h_read_n(a, buf, 2), 2);
	h_send(a, "HTTP/1.1 103 Early Hints\r\nLink: </s>\r\n\r\n"
	    "HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n");
	h_read_head(b, buf, sizeof(buf));
	assert_string_equal(buf, "HTTP/1.1 103 Early Hints\r\n"
	    "Link: </s>\r\n\r\n");
	h_read_answer(b, buf, sizeof(buf));
	assert_string_equal(buf, "HTTP/1.1 201 Created\r\n"
	    "Content-Length: 0\r\n\r\n");

	/* HTTP/1.0: the 1xx is not passed on */
	b = h_stream();
	h_send(b, "GET http://127.0.0.1:%d/ HTTP/1.0\r\n\r\n", port);
	a = h_accept(l);
	h_read_head(a, buf, sizeof(buf));
	h_send(a, "HTTP/1.1 102 Processing\r\n\r\n"
	    "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
	h_read_answer(b, buf, sizeof(buf));
	assert_string_equal(buf, "HTTP/1.1 200 OK\r\n"
	    "Content-Length: 0\r\nConnection: close\r\n\r\n");

	/* a 101 nobody asked for is the app's fault */
	b = h_stream();
	a = h_get(b, l, port, "/");
	h_send(a, "HTTP/1.1 101 Switching Protocols\r\n"
	    "Upgrade: x\r\nConnection: upgrade\r\n\r\n");
	h_read_answer(b, buf, sizeof(buf));
	assert_non_null(strstr(buf, "HTTP/1.1 502 Bad Gateway\r\n"));
	assert_non_null(strstr(buf, "switched protocols unasked"));
}

/* bodies both ways, chunked as they came */
static void
test_chunked(void **state)
{
	static const char	 req[] = "4\r\nwiki\r\n0\r\nX-T: 1\r\n\r\n";
	static const char	 ans[] = "5;ext=1\r\nhello\r\n0\r\n\r\n";
	char			 buf[2048];
	int			 b, l, a, port;

	l = h_listen(&port, 4);
	b = h_stream();
	h_send(b, "POST http://127.0.0.1:%d/ HTTP/1.1\r\nHost: h\r\n"
	    "Transfer-Encoding: chunked\r\n\r\n%s", port, req);
	a = h_accept(l);
	h_read_head(a, buf, sizeof(buf));
	assert_non_null(strstr(buf, "Transfer-Encoding: chunked\r\n"));
	assert_int_equal(h_read_n(a, buf, sizeof(req) - 1), sizeof(req) - 1);
	assert_memory_equal(buf, req, sizeof(req) - 1);
	h_send(a, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n%s",
	    ans);
	h_read_head(b, buf, sizeof(buf));
	assert_int_equal(h_read_n(b, buf, sizeof(ans) - 1), sizeof(ans) - 1);
	assert_memory_equal(buf, ans, sizeof(ans) - 1);

	/* a bad chunk in a request: 400, and the stream closes */
	b = h_stream();
	h_send(b, "POST http://127.0.0.1:%d/ HTTP/1.1\r\nHost: h\r\n"
	    "Transfer-Encoding: chunked\r\n\r\nzz\r\n", port);
	a = h_accept(l);
	h_read_answer(b, buf, sizeof(buf));
	assert_non_null(strstr(buf, "HTTP/1.1 400 Bad Request\r\n"));
	assert_non_null(strstr(buf, "bad chunked body"));
	assert_int_equal(h_read_eof(b), 1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_request_build),
		cmocka_unit_test(test_request_framing),
		cmocka_unit_test(test_response),
		cmocka_unit_test(test_error),
		cmocka_unit_test_setup_teardown(test_keepalive, h_setup,
		    h_teardown),
		cmocka_unit_test_setup_teardown(test_close_framed, h_setup,
		    h_teardown),
		cmocka_unit_test_setup_teardown(test_bad_requests, h_setup,
		    h_teardown),
		cmocka_unit_test_setup_teardown(test_error_keeps, h_setup,
		    h_teardown),
		cmocka_unit_test_setup_teardown(test_interim, h_setup,
		    h_teardown),
		cmocka_unit_test_setup_teardown(test_chunked, h_setup,
		    h_teardown),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
