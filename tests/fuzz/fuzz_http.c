/*
 * Fuzz target for common/http.c: the request and the response head
 * parser (whole, and split in two at a point the input picks), the
 * chunked decoder (fed in pieces), and the authority and URL parsers
 * (on the input and on the targets of the requests it makes), with a
 * few invariants checked.
 */
#include <sys/types.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void
fuzz_authority(const char *s, size_t len, uint16_t dport, int flags)
{
	struct http_authority	 a;
	size_t			 hlen;

	if (http_parse_authority(s, len, dport, flags, &a) == -1) {
		if (a.errstr == NULL)
			abort();
		return;
	}
	hlen = strlen(a.host);
	if (hlen == 0 || hlen >= HTTP_HOST_MAX || hlen > len)
		abort();
	if (flags & HTTP_AUTH_NOPORT) {
		if (a.port[0] != '\0' || a.portnum != 0)
			abort();
		return;
	}
	if (strtoul(a.port, NULL, 10) != a.portnum || (a.portnum == 0 &&
	    !(flags & HTTP_AUTH_PORT0)))
		abort();
}

static void
fuzz_url(const char *target)
{
	struct http_url	 u;

	fuzz_authority(target, strlen(target), 0, 0);
	if (http_parse_url(target, &u) == -1)
		return;
	if (u.authority != target + 7 || u.path != u.authority + u.authlen ||
	    u.auth.portnum == 0 || strchr(target, '#') != NULL)
		abort();
}

static void
fuzz_head(enum http_kind kind, const uint8_t *data, size_t len,
    size_t split)
{
	struct http_head	 h;
	ssize_t			 n;
	uint64_t		 cl;
	size_t			 i, ncl;
	char			*end;

	http_head_init(&h, kind);
	n = http_head_parse(&h, data, split);
	if (n == 0 && split < len)
		n = http_head_parse(&h, data, len);
	if (n > (ssize_t)len)
		abort();
	if (n == -1 && (h.error < 400 || h.errstr == NULL))
		abort();
	if (n > 0) {
		if (h.nfields > HTTP_FIELDS_MAX || (size_t)n > HTTP_HEAD_MAX)
			abort();
		for (i = 0; i < h.nfields; i++) {
			(void)http_hop_by_hop(&h, h.fields[i].name);
			if (strlen(h.fields[i].value) > (size_t)n)
				abort();
		}
		/* one Content-Length, the number alone (RFC 9110 8.6) */
		for (i = 0, ncl = 0; i < h.nfields; i++) {
			if (strcasecmp(h.fields[i].name, "Content-Length") != 0)
				continue;
			ncl++;
			if (strtoull(h.fields[i].value, &end, 10) !=
			    h.content_length || *end != '\0')
				abort();
		}
		if (ncl != ((h.flags & HTTP_F_LENGTH) ? 1 : 0))
			abort();
		(void)http_head_get(&h, "Host");
		(void)http_keep_alive(&h);
		if (kind == HTTP_REQUEST) {
			if (h.method == NULL || h.target == NULL)
				abort();
			(void)http_body_framing(&h, NULL, &cl);
			fuzz_url(h.target);
		} else {
			if (h.status < 100 || h.status > 599)
				abort();
			(void)http_body_framing(&h, "GET", &cl);
			(void)http_body_framing(&h, "HEAD", &cl);
		}
	}
	http_head_free(&h);
}

static void
fuzz_chunked(const uint8_t *data, size_t len, size_t step)
{
	struct http_chunked	 c;
	size_t			 off = 0, avail, n;
	ssize_t			 r;
	uint64_t		 left;

	http_chunked_init(&c);
	while (off < len && !http_chunked_done(&c)) {
		avail = len - off < step ? len - off : step;
		if ((left = http_chunked_data(&c)) > 0) {
			n = avail < left ? avail : left;
			http_chunked_consume(&c, n);
			off += n;
			continue;
		}
		if ((r = http_chunked_parse(&c, data + off, avail)) == -1)
			return;
		if ((size_t)r > avail)
			abort();
		if (r == 0 && http_chunked_data(&c) == 0 &&
		    !http_chunked_done(&c))
			abort();	/* no progress */
		off += r;
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	size_t	 split;

	if (len == 0)
		return (0);
	split = data[0] % (len + 1);
	fuzz_head(HTTP_REQUEST, data, len, split);
	fuzz_head(HTTP_RESPONSE, data, len, split);
	fuzz_head(HTTP_REQUEST, data, len, len);
	fuzz_chunked(data, len, len);
	fuzz_chunked(data, len, 1 + data[0] % 7);
	fuzz_authority((const char *)data + 1, len - 1, data[0] & 0x80 ? 80 :
	    0, data[0] & (HTTP_AUTH_PORT0 | HTTP_AUTH_NOPORT));
	return (0);
}
