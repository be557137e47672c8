/*
 * Unit tests of common/http.c: valid heads split at every byte, hostile
 * heads, body framing, hop-by-hop fields, the chunked decoder,
 * authorities and absolute-form URLs.
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

#include "http.h"

static const char req1[] =
    "GET http://example.com:8080/a/b?c=d HTTP/1.1\r\n"
    "Host: example.com:8080\r\n"
    "User-Agent: test/1.0\r\n"
    "Accept:*/*\r\n"
    "X-Empty:\r\n"
    "X-Spaces: \t  padded value \t\r\n"
    "Proxy-Connection: Keep-Alive\r\n"
    "\r\n";

static const char resp1[] =
    "HTTP/1.1 200 OK\r\n"
    "Content-Type: text/plain\r\n"
    "Content-Length: 5\r\n"
    "\r\n";

/* Parse a whole head in one call; returns the result. */
static ssize_t
parse_all(struct http_head *h, enum http_kind kind, const char *s)
{
	http_head_init(h, kind);
	return (http_head_parse(h, s, strlen(s)));
}

static void
check_req1(struct http_head *h)
{
	assert_string_equal(h->method, "GET");
	assert_string_equal(h->target, "http://example.com:8080/a/b?c=d");
	assert_int_equal(h->version, 11);
	assert_int_equal(h->nfields, 6);
	assert_string_equal(h->fields[0].name, "Host");
	assert_string_equal(h->fields[0].value, "example.com:8080");
	assert_string_equal(h->fields[2].value, "*/*");
	assert_string_equal(h->fields[3].value, "");
	assert_string_equal(h->fields[4].value, "padded value");
	assert_string_equal(http_head_get(h, "user-agent"), "test/1.0");
	assert_null(http_head_get(h, "Cookie"));
	assert_true(h->flags & HTTP_F_HOST);
	assert_true(http_keep_alive(h));
}

/* Every split of the head into two calls, and a byte at a time. */
static void
test_request_split(void **state)
{
	struct http_head	 h;
	char			 buf[sizeof(req1) + 16];
	size_t			 len = strlen(req1), k, i;
	ssize_t			 n;

	/* with the start of a body behind the head */
	snprintf(buf, sizeof(buf), "%sBODY", req1);
	for (k = 0; k <= len + 4; k++) {
		http_head_init(&h, HTTP_REQUEST);
		n = http_head_parse(&h, buf, k);
		if (k < len) {
			assert_int_equal(n, 0);
			n = http_head_parse(&h, buf, len + 4);
		}
		assert_int_equal(n, len);
		check_req1(&h);
		http_head_free(&h);
	}

	http_head_init(&h, HTTP_REQUEST);
	for (i = 1; i <= len; i++) {
		n = http_head_parse(&h, req1, i);
		if (i < len)
			assert_int_equal(n, 0);
	}
	assert_int_equal(n, len);
	check_req1(&h);
	http_head_free(&h);
}

static void
test_response_split(void **state)
{
	struct http_head	 h;
	size_t			 len = strlen(resp1), k;
	ssize_t			 n;
	uint64_t		 cl;

	for (k = 0; k <= len; k++) {
		http_head_init(&h, HTTP_RESPONSE);
		n = http_head_parse(&h, resp1, k);
		if (k < len) {
			assert_int_equal(n, 0);
			n = http_head_parse(&h, resp1, len);
		}
		assert_int_equal(n, len);
		assert_int_equal(h.status, 200);
		assert_string_equal(h.reason, "OK");
		assert_int_equal(h.version, 11);
		assert_int_equal(http_body_framing(&h, "GET", &cl),
		    HTTP_BODY_LENGTH);
		assert_int_equal(cl, 5);
		assert_int_equal(http_body_framing(&h, "HEAD", &cl),
		    HTTP_BODY_NONE);
		http_head_free(&h);
	}
}

static void
test_valid_misc(void **state)
{
	struct http_head	 h;
	uint64_t		 cl;

	/* empty lines before the request line, bare LF line ends */
	assert_true(parse_all(&h, HTTP_REQUEST,
	    "\r\n\r\nGET / HTTP/1.0\n\n") > 0);
	assert_string_equal(h.target, "/");
	assert_int_equal(h.version, 10);
	assert_false(http_keep_alive(&h));
	http_head_free(&h);

	assert_true(parse_all(&h, HTTP_REQUEST,
	    "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n") > 0);
	assert_true(http_keep_alive(&h));
	http_head_free(&h);

	assert_true(parse_all(&h, HTTP_REQUEST,
	    "CONNECT [::1]:443 HTTP/1.1\r\nHost: [::1]:443\r\n\r\n") > 0);
	assert_string_equal(h.method, "CONNECT");
	assert_string_equal(h.target, "[::1]:443");
	http_head_free(&h);

	assert_true(parse_all(&h, HTTP_REQUEST,
	    "POST http://a/ HTTP/1.1\r\nHost: a\r\n"
	    "Transfer-Encoding: gzip, chunked\r\n\r\n") > 0);
	assert_int_equal(http_body_framing(&h, NULL, &cl), HTTP_BODY_CHUNKED);
	http_head_free(&h);

	assert_true(parse_all(&h, HTTP_REQUEST,
	    "POST http://a/ HTTP/1.1\r\nHost: a\r\n"
	    "Content-Length: 7, 7\r\ncontent-length: 7\r\n\r\n") > 0);
	assert_int_equal(http_body_framing(&h, NULL, &cl), HTTP_BODY_LENGTH);
	assert_int_equal(cl, 7);
	http_head_free(&h);

	assert_true(parse_all(&h, HTTP_REQUEST,
	    "POST http://a/ HTTP/1.1\r\nHost: a\r\n"
	    "Content-Length: 0\r\n\r\n") > 0);
	assert_int_equal(http_body_framing(&h, NULL, &cl), HTTP_BODY_NONE);
	http_head_free(&h);

	assert_true(parse_all(&h, HTTP_REQUEST,
	    "GET http://a/ HTTP/1.1\r\nHost: a\r\n"
	    "Connection: Upgrade\r\nUpgrade: websocket\r\n"
	    "Expect: 100-continue\r\n\r\n") > 0);
	assert_int_equal(h.flags & (HTTP_F_UPGRADE | HTTP_F_CONN_UPGRADE |
	    HTTP_F_EXPECT), HTTP_F_UPGRADE | HTTP_F_CONN_UPGRADE |
	    HTTP_F_EXPECT);
	assert_int_equal(http_body_framing(&h, NULL, &cl), HTTP_BODY_NONE);
	http_head_free(&h);

	/* HTTP/1.2 is read as 1.1; obs-text in a value */
	assert_true(parse_all(&h, HTTP_REQUEST,
	    "GET / HTTP/1.2\r\nHost: a\r\nX: caf\xc3\xa9\r\n\r\n") > 0);
	assert_int_equal(h.version, 11);
	http_head_free(&h);

	/* responses: no reason, empty reason, until close, no body */
	assert_true(parse_all(&h, HTTP_RESPONSE, "HTTP/1.1 204\r\n\r\n") > 0);
	assert_string_equal(h.reason, "");
	assert_int_equal(http_body_framing(&h, "GET", &cl), HTTP_BODY_NONE);
	http_head_free(&h);
	assert_true(parse_all(&h, HTTP_RESPONSE, "HTTP/1.0 200 \r\n\r\n") > 0);
	assert_string_equal(h.reason, "");
	assert_int_equal(http_body_framing(&h, "GET", &cl), HTTP_BODY_CLOSE);
	assert_false(http_keep_alive(&h));
	http_head_free(&h);
	assert_true(parse_all(&h, HTTP_RESPONSE,
	    "HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n") > 0);
	assert_int_equal(http_body_framing(&h, "GET", &cl), HTTP_BODY_NONE);
	http_head_free(&h);
	assert_true(parse_all(&h, HTTP_RESPONSE,
	    "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
	    "Connection: Upgrade\r\n\r\n") > 0);
	assert_int_equal(http_body_framing(&h, "GET", &cl), HTTP_BODY_NONE);
	http_head_free(&h);
	assert_true(parse_all(&h, HTTP_RESPONSE,
	    "HTTP/1.1 200 Connection established\r\n\r\n") > 0);
	assert_int_equal(http_body_framing(&h, "CONNECT", &cl),
	    HTTP_BODY_NONE);
	assert_int_equal(http_body_framing(&h, "GET", &cl), HTTP_BODY_CLOSE);
	http_head_free(&h);
	assert_true(parse_all(&h, HTTP_RESPONSE,
	    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n") > 0);
	assert_int_equal(http_body_framing(&h, "POST", &cl),
	    HTTP_BODY_CHUNKED);
	http_head_free(&h);
}

struct bad {
	const char	*head;
	int		 error;
};

static const struct bad bad_requests[] = {
	{ "GET  / HTTP/1.1\r\nHost: a\r\n\r\n", 400 },
	{ "GET / HTTP/1.1 \r\nHost: a\r\n\r\n", 400 },
	{ "GET /\r\n\r\n", 400 },
	{ "GET / HTTP/1.1\r\n\r\n", 400 },		/* no Host */
	{ "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400 },
	{ "GET / HTTP/1.1\r\nHost: a b\r\n\r\n", 400 },
	{ "GET / HTTP/1.1\r\nHost: a/b\r\n\r\n", 400 },
	{ "GET / HTTP/2.0\r\nHost: a\r\n\r\n", 505 },
	{ "GET / HTTP/0.9\r\nHost: a\r\n\r\n", 505 },
	{ "GET / http/1.1\r\nHost: a\r\n\r\n", 400 },
	{ "GET / HTTP/1.10\r\nHost: a\r\n\r\n", 400 },
	{ "G(T / HTTP/1.1\r\nHost: a\r\n\r\n", 400 },
	{ " GET / HTTP/1.1\r\nHost: a\r\n\r\n", 400 },
	{ "GET /a\x01 HTTP/1.1\r\nHost: a\r\n\r\n", 400 },
	{ "GET /a\x7f HTTP/1.1\r\nHost: a\r\n\r\n", 400 },
	{ "GET / HTTP/1.1\r\nHost: a\r\nX: a\rb\r\n\r\n", 400 },
	{ "GET / HTTP/1.1\rHost: a\r\n\r\n", 400 },
	{ "GET / HTTP/1.1\r\nHost: a\r\nX: a\x1b[0m\r\n\r\n", 400 },
	{ "GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n b\r\n\r\n", 400 },
	{ "GET / HTTP/1.1\r\n\tHost: a\r\n\r\n", 400 },
	{ "GET / HTTP/1.1\r\nHost: a\r\nX : b\r\n\r\n", 400 },
	{ "GET / HTTP/1.1\r\nHost: a\r\n: b\r\n\r\n", 400 },
	{ "GET / HTTP/1.1\r\nHost: a\r\nX(y): b\r\n\r\n", 400 },
	{ "GET / HTTP/1.1\r\nHost: a\r\nno colon\r\n\r\n", 400 },
	{ "GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n"
	    "Transfer-Encoding: chunked\r\n\r\n", 400 },
	{ "GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n"
	    "Content-Length: 5\r\n\r\n", 400 },
	{ "GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n"
	    "Content-Length: 6\r\n\r\n", 400 },
	{ "GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 6\r\n\r\n", 400 },
	{ "GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 5,\r\n\r\n", 400 },
	{ "GET / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n", 400 },
	{ "GET / HTTP/1.1\r\nHost: a\r\nContent-Length: +1\r\n\r\n", 400 },
	{ "GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 0x10\r\n\r\n", 400 },
	{ "GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1 0\r\n\r\n", 400 },
	{ "GET / HTTP/1.1\r\nHost: a\r\nContent-Length:\r\n\r\n", 400 },
	{ "GET / HTTP/1.1\r\nHost: a\r\n"
	    "Content-Length: 99999999999999999999\r\n\r\n", 400 },
	{ "GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n",
	    400 },
	{ "GET / HTTP/1.1\r\nHost: a\r\n"
	    "Transfer-Encoding: chunked, gzip\r\n\r\n", 400 },
	{ "GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n"
	    "Transfer-Encoding: chunked\r\n\r\n", 400 },
	{ "GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: xchunked\r\n\r\n",
	    501 },
	{ "GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: \r\n\r\n", 400 },
	{ "GET / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", 400 },
	{ "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 400 },
};

static const struct bad bad_responses[] = {
	{ "HTTP/1.1 20 OK\r\n\r\n", 502 },
	{ "HTTP/1.1 2000 OK\r\n\r\n", 502 },
	{ "HTTP/1.1 099 X\r\n\r\n", 502 },
	{ "HTTP/1.1 600 X\r\n\r\n", 502 },
	{ "HTTP/1.1 abc OK\r\n\r\n", 502 },
	{ "HTTP/2 200 OK\r\n\r\n", 502 },
	{ "ICY 200 OK\r\n\r\n", 502 },
	{ "\r\nHTTP/1.1 200 OK\r\n\r\n", 502 },
	{ "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n"
	    "Transfer-Encoding: chunked\r\n\r\n", 502 },
	{ "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
	    502 },
	{ "HTTP/1.1 200 OK\r\nX: a\r\n folded\r\n\r\n", 502 },
	{ "HTTP/1.1 200 OK\x01\r\n\r\n", 502 },
};

static void
test_bad_heads(void **state)
{
	struct http_head	 h;
	size_t			 i, len, k;
	ssize_t			 n;

	for (i = 0; i < sizeof(bad_requests) / sizeof(bad_requests[0]); i++) {
		len = strlen(bad_requests[i].head);
		http_head_init(&h, HTTP_REQUEST);
		n = http_head_parse(&h, bad_requests[i].head, len);
		if (n != -1 || h.error != bad_requests[i].error)
			fail_msg("request %zu: got %zd/%d, want -1/%d", i, n,
			    h.error, bad_requests[i].error);
		assert_non_null(h.errstr);
		/* and it stays refused */
		assert_int_equal(http_head_parse(&h, bad_requests[i].head,
		    len), -1);
		http_head_free(&h);

		/* byte by byte it is refused too, never accepted */
		http_head_init(&h, HTTP_REQUEST);
		for (k = 1; k <= len; k++)
			if ((n = http_head_parse(&h, bad_requests[i].head,
			    k)) != 0)
				break;
		assert_int_equal(n, -1);
		assert_int_equal(h.error, bad_requests[i].error);
		http_head_free(&h);
	}
	for (i = 0; i < sizeof(bad_responses) / sizeof(bad_responses[0]);
	    i++) {
		http_head_init(&h, HTTP_RESPONSE);
		n = http_head_parse(&h, bad_responses[i].head,
		    strlen(bad_responses[i].head));
		if (n != -1 || h.error != bad_responses[i].error)
			fail_msg("response %zu: got %zd/%d, want -1/%d", i, n,
			    h.error, bad_responses[i].error);
		http_head_free(&h);
	}
}

/*
 * RFC 9110 8.6: a Content-Length list of one number, or the field
 * repeated with it, is passed on as one field of the number once;
 * differing values are refused (400 for a request, 502 for an answer)
 * with a reason that says so.
 */
static void
test_length_list(void **state)
{
	static const struct {
		enum http_kind	 kind;
		const char	*head;
		uint64_t	 len;
		size_t		 nfields;	/* after */
		const char	*last;		/* the last field's name */
	} same[] = {
		{ HTTP_RESPONSE, "HTTP/1.1 200 OK\r\nContent-Length: 5, 5\r\n"
		    "X-After: 1\r\n\r\n", 5, 2, "X-After" },
		{ HTTP_RESPONSE, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n"
		    "X-Between: 1\r\ncontent-length: 5\r\n\r\n", 5, 2,
		    "X-Between" },
		{ HTTP_RESPONSE, "HTTP/1.1 200 OK\r\nContent-Length: 0012,12 ,"
		    "\t012\r\n\r\n", 12, 1, "Content-Length" },
		{ HTTP_REQUEST, "POST http://a/ HTTP/1.1\r\nHost: a\r\n"
		    "Content-Length: 7, 7\r\ncontent-length: 7\r\n"
		    "X-Last: z\r\n\r\n", 7, 3, "X-Last" },
		{ HTTP_REQUEST, "POST http://a/ HTTP/1.1\r\nHost: a\r\n"
		    "Content-Length: 18446744073709551, "
		    "18446744073709551\r\n\r\n", 18446744073709551ULL, 2,
		    "Content-Length" },
	};
	static const struct {
		enum http_kind	 kind;
		const char	*head;
		int		 error;
	} differ[] = {
		{ HTTP_RESPONSE, "HTTP/1.1 200 OK\r\nContent-Length: 5, 6\r\n"
		    "\r\n", 502 },
		{ HTTP_RESPONSE, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n"
		    "Content-Length: 5, 50\r\n\r\n", 502 },
		{ HTTP_REQUEST, "POST / HTTP/1.1\r\nHost: a\r\n"
		    "Content-Length: 5, 6\r\n\r\n", 400 },
		{ HTTP_REQUEST, "POST / HTTP/1.1\r\nHost: a\r\n"
		    "Content-Length: 05\r\nContent-Length: 6\r\n\r\n", 400 },
	};
	struct http_head	 h;
	char			 want[32];
	size_t			 i, k, ncl;
	uint64_t		 cl;

	for (i = 0; i < sizeof(same) / sizeof(same[0]); i++) {
		assert_true(parse_all(&h, same[i].kind, same[i].head) > 0);
		assert_int_equal(http_body_framing(&h, "GET", &cl),
		    HTTP_BODY_LENGTH);
		assert_int_equal(cl, same[i].len);
		assert_int_equal(h.nfields, same[i].nfields);
		/* one Content-Length field, the number alone, in its place */
		snprintf(want, sizeof(want), "%llu",
		    (unsigned long long)same[i].len);
		for (k = ncl = 0; k < h.nfields; k++) {
			if (strcasecmp(h.fields[k].name, "Content-Length") != 0)
				continue;
			ncl++;
			assert_string_equal(h.fields[k].value, want);
		}
		assert_int_equal(ncl, 1);
		assert_string_equal(http_head_get(&h, "Content-Length"), want);
		/* the others stay, in their order */
		assert_string_equal(h.fields[h.nfields - 1].name,
		    same[i].last);
		http_head_free(&h);
	}
	for (i = 0; i < sizeof(differ) / sizeof(differ[0]); i++) {
		assert_int_equal(parse_all(&h, differ[i].kind, differ[i].head),
		    -1);
		assert_int_equal(h.error, differ[i].error);
		assert_string_equal(h.errstr, "differing Content-Length values");
		http_head_free(&h);
	}
}

static void
test_nul_in_value(void **state)
{
	static const char	 s[] = "GET / HTTP/1.1\r\nHost: a\r\nX: a\0b\r\n\r\n";
	struct http_head	 h;

	http_head_init(&h, HTTP_REQUEST);
	assert_int_equal(http_head_parse(&h, s, sizeof(s) - 1), -1);
	assert_int_equal(h.error, 400);
	http_head_free(&h);
}

static void
test_too_large(void **state)
{
	struct http_head	 h;
	char			*buf;
	size_t			 len = 0, cap = HTTP_HEAD_MAX * 2;
	int			 i;

	if ((buf = malloc(cap)) == NULL)
		fail();

	/* many fields: 431 */
	len = snprintf(buf, cap, "GET / HTTP/1.1\r\nHost: a\r\n");
	for (i = 0; i < HTTP_FIELDS_MAX + 1; i++)
		len += snprintf(buf + len, cap - len, "X-%d: %d\r\n", i, i);
	len += snprintf(buf + len, cap - len, "\r\n");
	http_head_init(&h, HTTP_REQUEST);
	assert_int_equal(http_head_parse(&h, buf, len), -1);
	assert_int_equal(h.error, 431);
	http_head_free(&h);

	/* a long field, the head just above the limit: 431 */
	len = snprintf(buf, cap, "GET / HTTP/1.1\r\nHost: a\r\nX: ");
	while (len < HTTP_HEAD_MAX - 3)
		buf[len++] = 'a';
	memcpy(buf + len, "\r\n\r\n", 4);
	len += 4;
	http_head_init(&h, HTTP_REQUEST);
	assert_int_equal(http_head_parse(&h, buf, len), -1);
	assert_int_equal(h.error, 431);
	http_head_free(&h);

	/* exactly at the limit: accepted */
	len -= 5;
	memcpy(buf + len, "\r\n\r\n", 4);
	len += 4;
	assert_int_equal(len, HTTP_HEAD_MAX);
	http_head_init(&h, HTTP_REQUEST);
	assert_int_equal(http_head_parse(&h, buf, len), len);
	http_head_free(&h);

	/* no end in sight: 431 once more than the limit is there */
	memset(buf, 'a', cap);
	memcpy(buf, "GET /", 5);
	http_head_init(&h, HTTP_REQUEST);
	assert_int_equal(http_head_parse(&h, buf, HTTP_HEAD_MAX), 0);
	assert_int_equal(http_head_parse(&h, buf, HTTP_HEAD_MAX + 1), -1);
	assert_int_equal(h.error, 431);
	http_head_free(&h);

	/* endless empty lines before the request */
	for (len = 0; len + 2 <= cap; len += 2)
		memcpy(buf + len, "\r\n", 2);
	http_head_init(&h, HTTP_REQUEST);
	assert_int_equal(http_head_parse(&h, buf, len), -1);
	assert_int_equal(h.error, 431);
	http_head_free(&h);
	free(buf);
}

static void
test_hop_by_hop(void **state)
{
	struct http_head	 h;

	assert_true(parse_all(&h, HTTP_REQUEST,
	    "GET http://a/ HTTP/1.1\r\nHost: a\r\n"
	    "Connection: close, X-Secret, Content-Length, host\r\n"
	    "X-Secret: 1\r\nX-Other: 2\r\n\r\n") > 0);
	assert_true(h.flags & HTTP_F_CLOSE);
	assert_false(http_keep_alive(&h));
	assert_true(http_hop_by_hop(&h, "x-secret"));
	assert_true(http_hop_by_hop(&h, "Proxy-Connection"));
	assert_true(http_hop_by_hop(&h, "proxy-authorization"));
	assert_true(http_hop_by_hop(&h, "Keep-Alive"));
	assert_true(http_hop_by_hop(&h, "Connection"));
	assert_false(http_hop_by_hop(&h, "X-Other"));
	assert_false(http_hop_by_hop(&h, "Content-Length"));
	assert_false(http_hop_by_hop(&h, "Host"));
	assert_false(http_hop_by_hop(&h, "Transfer-Encoding"));
	assert_true(http_hop_by_hop(&h, "close"));
	assert_true(http_hop_by_hop(&h, "te"));
	assert_true(http_hop_by_hop(&h, "UPGRADE"));
	assert_true(http_hop_by_hop(&h, "Proxy-Authenticate"));
	http_head_free(&h);

	/* only the usual tokens: nothing else is named */
	assert_true(parse_all(&h, HTTP_RESPONSE,
	    "HTTP/1.1 200 OK\r\nconnection: Keep-Alive, Upgrade\r\n"
	    "Close: 1\r\nX-Secret: 1\r\nContent-length: 0\r\n\r\n") > 0);
	assert_true(h.flags & HTTP_F_KEEPALIVE);
	assert_true(h.flags & HTTP_F_CONN_UPGRADE);
	assert_false(h.flags & (HTTP_F_CLOSE | HTTP_F_CONN_OTHER));
	assert_true(h.flags & HTTP_F_LENGTH);
	assert_false(http_hop_by_hop(&h, "Close"));
	assert_false(http_hop_by_hop(&h, "X-Secret"));
	assert_true(http_hop_by_hop(&h, "keep-alive"));
	http_head_free(&h);

	/* a name in a second Connection field counts too */
	assert_true(parse_all(&h, HTTP_RESPONSE,
	    "HTTP/1.1 200 OK\r\nConnection: keep-alive\r\n"
	    "CONNECTION: x-a\r\nX-A: 1\r\nX-B: 2\r\n"
	    "Content-Length: 0\r\n\r\n") > 0);
	assert_true(h.flags & HTTP_F_CONN_OTHER);
	assert_true(http_hop_by_hop(&h, "x-a"));
	assert_false(http_hop_by_hop(&h, "X-B"));
	http_head_free(&h);

	assert_true(http_list_has("a, b ,\tc", "B"));
	assert_true(http_list_has("a,,c", "c"));
	assert_false(http_list_has("ab", "a"));
	assert_false(http_list_has("", "a"));
	assert_string_equal(http_status_text(502), "Bad Gateway");
}

/*
 * Decode a chunked body fed in pieces of at most step bytes; returns the
 * data, or NULL on an error.  *used is the number of bytes of the
 * encoding the body took.
 */
static char *
decode(const char *enc, size_t len, size_t step, size_t *used)
{
	struct http_chunked	 c;
	char			*out;
	size_t			 off = 0, olen = 0, n, avail;
	ssize_t			 r;
	uint64_t		 left;

	if ((out = calloc(1, len + 1)) == NULL)
		fail();
	http_chunked_init(&c);
	while (!http_chunked_done(&c) && off < len) {
		avail = len - off < step ? len - off : step;
		if ((left = http_chunked_data(&c)) > 0) {
			n = avail < left ? avail : left;
			memcpy(out + olen, enc + off, n);
			olen += n;
			off += n;
			http_chunked_consume(&c, n);
			continue;
		}
		if ((r = http_chunked_parse(&c, enc + off, avail)) == -1) {
			assert_non_null(c.errstr);
			free(out);
			return (NULL);
		}
		off += r;
	}
	if (!http_chunked_done(&c)) {
		free(out);
		return (NULL);
	}
	assert_int_equal(c.total, olen);
	*used = off;
	return (out);
}

static void
test_chunked_valid(void **state)
{
	static const char	 enc[] =
	    "5\r\nhello\r\n"
	    "1;ext=1;x=\"q\"\r\n \r\n"
	    "00000000000B \t;e\r\nworld+again\r\n"
	    "0\r\n"
	    "Trailer-A: 1\r\n"
	    "X: y\r\n"
	    "\r\n"
	    "NEXT";
	char			*out;
	size_t			 step, used, len = strlen(enc);

	for (step = 1; step <= len; step++) {
		out = decode(enc, len, step, &used);
		assert_non_null(out);
		assert_string_equal(out, "hello world+again");
		assert_int_equal(used, len - 4);
		free(out);
	}
	out = decode("0\r\n\r\n", 5, 5, &used);
	assert_non_null(out);
	assert_string_equal(out, "");
	free(out);
	out = decode("000\r\n\r\n", 7, 1, &used);
	assert_non_null(out);
	free(out);
	out = decode("7fffffffffffffff\r\n", 18, 18, &used);
	assert_null(out);	/* incomplete, but the size is accepted */
}

static void
test_chunked_bad(void **state)
{
	static const char	*bad[] = {
		"ffffffffffffffffff\r\n",
		"10000000000000000\r\n",
		"8000000000000000\r\n",
		"-1\r\n",
		"+1\r\n",
		"0x10\r\n",
		"\r\n",
		" 5\r\nhello\r\n0\r\n\r\n",
		"5 x\r\nhello\r\n0\r\n\r\n",
		"g\r\n",
		"5\nhello\r\n0\r\n\r\n",
		"5\r\rhello",
		"5\r\nhelloX\r\n0\r\n\r\n",
		"5\r\nhello\n0\r\n\r\n",
		"5\r\nhello\r\n0\r\n\n",
		"5\r\nhello\r\n0\r\nX: y\n\r\n",
		"5\r\nhello\r\n0\r\n folded: x\r\n\r\n",
		"5\r\nhello\r\n0\r\nX: \x01\r\n\r\n",
		"1;a\x01\r\nx\r\n0\r\n\r\n",
		"1;a\nx\r\n0\r\n\r\n",
	};
	char			*out, *big;
	size_t			 i, used, step;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		for (step = 1; step <= strlen(bad[i]); step++) {
			out = decode(bad[i], strlen(bad[i]), step, &used);
			if (out != NULL)
				fail_msg("bad chunked %zu accepted", i);
		}
	}

	/* a size line that never ends */
	if ((big = malloc(HTTP_CHUNK_LINE_MAX * 2)) == NULL)
		fail();
	memset(big, '0', HTTP_CHUNK_LINE_MAX * 2);
	assert_null(decode(big, HTTP_CHUNK_LINE_MAX * 2, 100, &used));
	big[0] = '1';
	big[1] = ';';
	memset(big + 2, 'e', HTTP_CHUNK_LINE_MAX * 2 - 2);
	assert_null(decode(big, HTTP_CHUNK_LINE_MAX * 2, 100, &used));
	free(big);

	/* an endless trailer */
	if ((big = malloc(HTTP_TRAILER_MAX * 2)) == NULL)
		fail();
	memcpy(big, "0\r\n", 3);
	for (i = 3; i + 6 <= HTTP_TRAILER_MAX * 2; i += 6)
		memcpy(big + i, "X: y\r\n", 6);
	assert_null(decode(big, i, 4096, &used));
	free(big);
}

/*
 * Authorities: one parser for proxyd's CONNECT and URLs, sc-server's
 * addresses and sc's upstream proxy, which each had their own and
 * disagreed.  Each row: the input, the default port, the flags, and
 * the host and port it gives (NULL: refused).
 */
struct auth_case {
	const char	*in;
	uint16_t	 dport;
	int		 flags;
	const char	*host;
	const char	*port;
};

static const struct auth_case auth_cases[] = {
	/* plain */
	{ "example.com:8080", 0, 0, "example.com", "8080" },
	{ "example.com", 80, 0, "example.com", "80" },
	{ "127.0.0.1:1", 0, 0, "127.0.0.1", "1" },
	{ "a-b_c~d.e:65535", 0, 0, "a-b_c~d.e", "65535" },
	{ "[::1]:443", 0, 0, "::1", "443" },
	{ "[::ffff:10.0.0.1]", 80, 0, "::ffff:10.0.0.1", "80" },
	{ "[fe80::1:2]:8", 0, 0, "fe80::1:2", "8" },
	/* no port: the default, or refused when one is needed */
	{ "example.com", 0, 0, NULL, NULL },
	{ "[::1]", 0, 0, NULL, NULL },
	/* port 0: server's -K/-R took it (any port), proxyd and sc not */
	{ "h:0", 0, 0, NULL, NULL },
	{ "h:0", 80, 0, NULL, NULL },
	{ "h:00", 0, 0, NULL, NULL },
	{ "[::1]:0", 0, HTTP_AUTH_PORT0, "::1", "0" },
	{ "127.0.0.1:0", 0, HTTP_AUTH_PORT0, "127.0.0.1", "0" },
	/* an empty port is no port (RFC 3986): the server refused it */
	{ "h:", 80, 0, "h", "80" },
	{ "h:", 0, 0, NULL, NULL },
	{ "[::1]:", 80, 0, "::1", "80" },
	/* leading zeros: a number all the same, written without them */
	{ "h:0080", 0, 0, "h", "80" },
	{ "h:000000000000000443", 0, 0, "h", "443" },
	{ "h:065535", 0, 0, "h", "65535" },
	/* signs, spaces, garbage: sc's strtoll() took "+80" and " 80" */
	{ "h:+80", 0, 0, NULL, NULL },
	{ "h:-80", 0, 0, NULL, NULL },
	{ "h: 80", 0, 0, NULL, NULL },
	{ "h:80 ", 0, 0, NULL, NULL },
	{ "h:80a", 0, 0, NULL, NULL },
	{ "h:0x50", 0, 0, NULL, NULL },
	{ "h:80/", 0, 0, NULL, NULL },
	{ "h:65536", 0, 0, NULL, NULL },
	{ "h:99999999999999999999", 0, 0, NULL, NULL },
	/* empty hosts: the server took none, but check each */
	{ "", 80, 0, NULL, NULL },
	{ ":80", 0, 0, NULL, NULL },
	{ "[]:80", 0, 0, NULL, NULL },
	/* hosts: the server took any byte, sc no '~' and "[name]" */
	{ "h o:1", 0, 0, NULL, NULL },
	{ "h@x:1", 0, 0, NULL, NULL },
	{ "h%41:1", 0, 0, NULL, NULL },
	{ "*:1", 0, 0, NULL, NULL },
	{ "[name]:1", 0, 0, NULL, NULL },
	/* IPv6: brackets needed with a port, and a real address in them */
	{ "::1:80", 0, 0, NULL, NULL },
	{ "::1", 80, 0, NULL, NULL },
	{ "[::1", 80, 0, NULL, NULL },
	{ "[::1]80", 0, 0, NULL, NULL },
	{ "[::1]:80:81", 0, 0, NULL, NULL },
	{ "[1:2:3]:80", 0, 0, NULL, NULL },
	{ "[::g]:80", 0, 0, NULL, NULL },
	{ "[::1%25eth0]:80", 0, 0, NULL, NULL },
	/* a host alone (sc-server -e): brackets or not, never a port */
	{ "127.0.0.1", 0, HTTP_AUTH_NOPORT, "127.0.0.1", "" },
	{ "::", 0, HTTP_AUTH_NOPORT, "::", "" },
	{ "[::]", 0, HTTP_AUTH_NOPORT, "::", "" },
	{ "[::]:1", 0, HTTP_AUTH_NOPORT, NULL, NULL },
	{ "127.0.0.1:1", 0, HTTP_AUTH_NOPORT, NULL, NULL },
	{ "localhost", 0, HTTP_AUTH_NOPORT, "localhost", "" },
};

static void
test_authority(void **state)
{
	struct http_authority	 a;
	const struct auth_case	*c;
	size_t			 i;
	int			 r;

	for (i = 0; i < sizeof(auth_cases) / sizeof(auth_cases[0]); i++) {
		c = &auth_cases[i];
		r = http_parse_authority(c->in, strlen(c->in), c->dport,
		    c->flags, &a);
		if (c->host == NULL) {
			if (r != -1)
				fail_msg("\"%s\" taken as %s %s", c->in,
				    a.host, a.port);
			assert_non_null(a.errstr);
			continue;
		}
		if (r != 0)
			fail_msg("\"%s\" refused: %s", c->in, a.errstr);
		assert_string_equal(a.host, c->host);
		assert_string_equal(a.port, c->port);
		assert_int_equal(a.portnum, c->port[0] ? atoi(c->port) : 0);
	}
}

/* the length bounds it: a NUL or what follows is never read as host */
static void
test_authority_bounds(void **state)
{
	struct http_authority	 a;
	char			 big[HTTP_HOST_MAX + 8];

	assert_int_equal(http_parse_authority("h:80xyz", 4, 0, 0, &a), 0);
	assert_string_equal(a.port, "80");
	assert_int_equal(http_parse_authority("[::1\0x]:1", 9, 0, 0, &a), -1);
	assert_int_equal(http_parse_authority("h\0x:1", 5, 0, 0, &a), -1);
	assert_int_equal(a.ipv6, 0);
	assert_int_equal(http_parse_authority("[::1]:1", 7, 0, 0, &a), 0);
	assert_int_equal(a.ipv6, 1);
	memset(big, 'a', sizeof(big));
	assert_int_equal(http_parse_authority(big, HTTP_HOST_MAX - 1, 80, 0,
	    &a), 0);
	assert_int_equal(strlen(a.host), HTTP_HOST_MAX - 1);
	assert_int_equal(http_parse_authority(big, HTTP_HOST_MAX, 80, 0, &a),
	    -1);
	assert_string_equal(a.errstr, "host too long");
}

/* absolute-form targets: http:// alone, no userinfo, no fragment */
static void
test_url(void **state)
{
	struct http_url	 u;

	assert_int_equal(http_parse_url("http://example.com:8080/a/b?c=d",
	    &u), 0);
	assert_string_equal(u.auth.host, "example.com");
	assert_string_equal(u.auth.port, "8080");
	assert_int_equal(u.authlen, 16);
	assert_memory_equal(u.authority, "example.com:8080", 16);
	assert_string_equal(u.path, "/a/b?c=d");
	/* no path, a query alone, the scheme in capitals, the port 80 */
	assert_int_equal(http_parse_url("HTTP://h", &u), 0);
	assert_string_equal(u.auth.port, "80");
	assert_string_equal(u.path, "");
	assert_int_equal(http_parse_url("http://h?q", &u), 0);
	assert_string_equal(u.path, "?q");
	assert_int_equal(http_parse_url("http://[::1]:81/", &u), 0);
	assert_string_equal(u.auth.host, "::1");
	assert_string_equal(u.auth.port, "81");
	assert_memory_equal(u.authority, "[::1]:81", u.authlen);
	/* the Host field goes as written: "h:" (port 80) stays "h:" */
	assert_int_equal(http_parse_url("http://h:/x", &u), 0);
	assert_string_equal(u.auth.port, "80");
	assert_int_equal(u.authlen, 2);

	assert_int_equal(http_parse_url("https://h/", &u), 0);
	assert_true(u.tls);
	assert_string_equal(u.auth.port, "443");
	assert_int_equal(http_parse_url("HTTPS://h:8443?x", &u), 0);
	assert_true(u.tls);
	assert_string_equal(u.auth.port, "8443");
	assert_string_equal(u.path, "?x");
	assert_int_equal(http_parse_url("http://h/", &u), 0);
	assert_false(u.tls);
	assert_int_equal(http_parse_url("ftp://h/", &u), -1);
	assert_int_equal(http_parse_url("https:/h/", &u), -1);
	assert_int_equal(http_parse_url("/relative", &u), -1);
	assert_int_equal(http_parse_url("*", &u), -1);
	assert_int_equal(http_parse_url("http:/h/", &u), -1);
	assert_int_equal(http_parse_url("http://", &u), -1);
	assert_int_equal(http_parse_url("http:///x", &u), -1);
	assert_int_equal(http_parse_url("http://u:p@h/", &u), -1);
	assert_int_equal(http_parse_url("http://h/#f", &u), -1);
	assert_int_equal(http_parse_url("http://h/a?b#f", &u), -1);
	assert_int_equal(http_parse_url("http://h:0/", &u), -1);
	assert_int_equal(http_parse_url("http://h:99999/", &u), -1);
	assert_int_equal(http_parse_url("http://h:+80/", &u), -1);
	assert_int_equal(http_parse_url("http://[::1/", &u), -1);
	assert_int_equal(http_parse_url("http://h o/", &u), -1);
	assert_non_null(u.auth.errstr);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_request_split),
		cmocka_unit_test(test_response_split),
		cmocka_unit_test(test_valid_misc),
		cmocka_unit_test(test_bad_heads),
		cmocka_unit_test(test_length_list),
		cmocka_unit_test(test_nul_in_value),
		cmocka_unit_test(test_too_large),
		cmocka_unit_test(test_hop_by_hop),
		cmocka_unit_test(test_chunked_valid),
		cmocka_unit_test(test_chunked_bad),
		cmocka_unit_test(test_authority),
		cmocka_unit_test(test_authority_bounds),
		cmocka_unit_test(test_url),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
