/*
 * A strict, streaming HTTP/1.1 message-head parser (RFC 9110, 9112) and
 * body framing.  The chunked decoder is http_chunked.c, authorities and
 * URLs http_url.c.
 *
 * The head parser looks at each line once, as soon as its LF is there,
 * so a head that arrives a byte at a time costs no more than one that
 * arrives whole, and garbage is refused at the first bad byte.  Once the
 * empty line is seen it copies the head, cuts it into NUL-terminated
 * strings and checks the fields that decide the framing.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <ctype.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http.h"
#include "text.h"

#define SL_METHOD	0	/* or the version of a response */
#define SL_TARGET	2	/* or the status */
#define SL_VERSION	4	/* or the reason */

static int	 is_tchar(unsigned char);
static ssize_t	 head_fail(struct http_head *, int, const char *);
static int	 head_check_line(struct http_head *, const unsigned char *,
		    size_t, size_t);
static int	 head_version(struct http_head *, const unsigned char *);
static int	 head_request_line(struct http_head *, const unsigned char *,
		    size_t, size_t);
static int	 head_status_line(struct http_head *, const unsigned char *,
		    size_t, size_t);
static int	 head_field(struct http_head *, const unsigned char *, size_t,
		    size_t);
static ssize_t	 head_finish(struct http_head *, const unsigned char *,
		    size_t);
static int	 head_semantics(struct http_head *);
static int	 parse_length(const char *, uint64_t *, size_t *);
static int	 list_next(const char **, const char **, size_t *);
static int	 host_valid(const char *);

/* tchar: "!#$%&'*+-.^_`|~" / DIGIT / ALPHA */
static int
is_tchar(unsigned char c)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9'))
		return (1);
	switch (c) {
	case '!': case '#': case '$': case '%': case '&': case '\'':
	case '*': case '+': case '-': case '.': case '^': case '_':
	case '`': case '|': case '~':
		return (1);
	default:
		return (0);
	}
}

/* A character of a token (a field name, a method), for the others. */
int
http_tchar(unsigned char c)
{
	return (is_tchar(c));
}

void
http_head_init(struct http_head *h, enum http_kind kind)
{
	memset(h, 0, offsetof(struct http_head, fields));
	h->kind = kind;
}

void
http_head_free(struct http_head *h)
{
	enum http_kind	 kind = h->kind;

	free(h->buf);
	http_head_init(h, kind);
}

static ssize_t
head_fail(struct http_head *h, int status, const char *why)
{
	/* a bad response is the app's fault: the client gets a 502 */
	h->error = h->kind == HTTP_RESPONSE ? 502 : status;
	h->errstr = why;
	return (-1);
}

/*
 * Check one whole line b[s..e) (line end excluded) for bytes no line may
 * hold: control characters other than HTAB, and a CR (CR only ever comes
 * right before the LF, which the caller has already cut off).
 */
static int
head_check_line(struct http_head *h, const unsigned char *b, size_t s,
    size_t e)
{
	size_t	 i;

	if ((i = s + text_ctlspan(b + s, e - s, TEXT_HTAB)) == e)
		return (0);
	head_fail(h, 400, b[i] == '\r' ? "bare CR" : "control character");
	return (-1);
}

/* "HTTP/1.1": b points at 8 bytes */
static int
head_version(struct http_head *h, const unsigned char *b)
{
	if (memcmp(b, "HTTP/", 5) != 0 || !isdigit(b[5]) || b[6] != '.' ||
	    !isdigit(b[7])) {
		head_fail(h, 400, "bad HTTP version");
		return (-1);
	}
	if (b[5] != '1') {
		head_fail(h, 505, "unsupported HTTP version");
		return (-1);
	}
	h->version = b[7] == '0' ? 10 : 11;
	return (0);
}

/* method SP request-target SP HTTP-version */
static int
head_request_line(struct http_head *h, const unsigned char *b, size_t s,
    size_t e)
{
	size_t	 i = s, t;

	while (i < e && is_tchar(b[i]))
		i++;
	if (i == s || i == e || b[i] != ' ')
		return (head_fail(h, 400, "bad method"));
	h->sl[SL_METHOD] = s;
	h->sl[SL_METHOD + 1] = i - s;
	t = ++i;
	while (i < e && b[i] > 0x20 && b[i] != 0x7f)
		i++;
	if (i == t || i == e || b[i] != ' ')
		return (head_fail(h, 400, "bad request target"));
	h->sl[SL_TARGET] = t;
	h->sl[SL_TARGET + 1] = i - t;
	i++;
	if (e - i != 8)
		return (head_fail(h, 400, "bad HTTP version"));
	h->sl[SL_VERSION] = i;
	h->sl[SL_VERSION + 1] = 8;
	return (head_version(h, b + i));
}

/* HTTP-version SP 3DIGIT [SP reason-phrase] */
static int
head_status_line(struct http_head *h, const unsigned char *b, size_t s,
    size_t e)
{
	size_t	 i;

	if (e - s < 12 || b[s + 8] != ' ')
		return (head_fail(h, 502, "bad status line"));
	if (head_version(h, b + s) == -1)
		return (-1);
	for (i = s + 9; i < s + 12; i++)
		if (!isdigit(b[i]))
			return (head_fail(h, 502, "bad status code"));
	h->status = (b[s + 9] - '0') * 100 + (b[s + 10] - '0') * 10 +
	    (b[s + 11] - '0');
	if (h->status < 100 || h->status > 599)
		return (head_fail(h, 502, "bad status code"));
	if (e > s + 12 && b[s + 12] != ' ')
		return (head_fail(h, 502, "bad status line"));
	h->sl[SL_VERSION] = s + 13 < e ? s + 13 : e;
	h->sl[SL_VERSION + 1] = e - h->sl[SL_VERSION];
	return (0);
}

/* field-name ":" OWS field-value OWS */
static int
head_field(struct http_head *h, const unsigned char *b, size_t s, size_t e)
{
	struct http_fieldloc	*l;
	size_t			 i = s, v;

	if (b[s] == ' ' || b[s] == '\t')
		return (head_fail(h, 400, "obsolete line folding"));
	while (i < e && is_tchar(b[i]))
		i++;
	if (i == s || i == e || b[i] != ':')
		return (head_fail(h, 400, "bad field name"));
	if (h->nfields >= HTTP_FIELDS_MAX)
		return (head_fail(h, 431, "too many header fields"));
	l = &h->loc[h->nfields++];
	l->name = s;
	l->namelen = i - s;
	v = i + 1;
	while (v < e && (b[v] == ' ' || b[v] == '\t'))
		v++;
	while (e > v && (b[e - 1] == ' ' || b[e - 1] == '\t'))
		e--;
	l->value = v;
	l->valuelen = e - v;
	return (0);
}

/*
 * Feed the head: buf holds the bytes received so far (the same bytes as
 * the previous call, and maybe more).  Returns 0 when more are needed,
 * the length of the head once it is complete, -1 when it is bad
 * (h->error is the status to answer: 400, 431, 501, 505 for a request,
 * 502 for a response).
 */
ssize_t
http_head_parse(struct http_head *h, const void *buf, size_t len)
{
	const unsigned char	*b = buf, *p;
	size_t			 lf, end, i;

	if (h->error)
		return (-1);
	if (h->buf != NULL)
		return (head_fail(h, 500, "head parsed twice"));
	if (len < h->pos)
		return (head_fail(h, 500, "buffer shrank"));

	while (h->pos < len) {
		p = memchr(b + h->pos, '\n', len - h->pos);
		if (p == NULL) {
			/* a partial line: refuse garbage early */
			for (i = h->pos; i < len; i++) {
				if (b[i] == '\r') {
					if (i + 1 < len && b[i + 1] != '\n')
						return (head_fail(h, 400,
						    "bare CR"));
				} else if (text_is_ctl(b[i], TEXT_HTAB))
					return (head_fail(h, 400,
					    "control character"));
			}
			h->pos = b[len - 1] == '\r' ? len - 1 : len;
			break;
		}
		lf = p - b;
		h->pos = lf + 1;
		if (h->pos > HTTP_HEAD_MAX)
			return (head_fail(h, 431, "head too large"));
		end = lf;
		if (end > h->line && b[end - 1] == '\r')
			end--;
		if (head_check_line(h, b, h->line, end) == -1)
			return (-1);
		if (end == h->line) {
			if (h->started)
				return (head_finish(h, b, h->pos));
			/* empty lines before a request line are ignored */
			if (h->kind == HTTP_RESPONSE)
				return (head_fail(h, 502, "empty status line"));
			h->skip = h->pos;
		} else if (!h->started) {
			if ((h->kind == HTTP_REQUEST ?
			    head_request_line(h, b, h->line, end) :
			    head_status_line(h, b, h->line, end)) == -1)
				return (-1);
			h->started = 1;
		} else if (head_field(h, b, h->line, end) == -1)
			return (-1);
		h->line = h->pos;
	}
	if (len > HTTP_HEAD_MAX)
		return (head_fail(h, 431, "head too large"));
	return (0);
}

/* The head is b[0..n): keep a copy cut into strings, then check it. */
static ssize_t
head_finish(struct http_head *h, const unsigned char *b, size_t n)
{
	struct http_fieldloc	*l;
	size_t			 i;
	char			*c;

	if ((c = malloc(n + 1)) == NULL)
		return (head_fail(h, 500, "out of memory"));
	memcpy(c, b, n);
	c[n] = '\0';
	h->buf = c;

	if (h->kind == HTTP_REQUEST) {
		h->method = c + h->sl[SL_METHOD];
		h->method[h->sl[SL_METHOD + 1]] = '\0';
		h->target = c + h->sl[SL_TARGET];
		h->target[h->sl[SL_TARGET + 1]] = '\0';
	} else {
		h->reason = c + h->sl[SL_VERSION];
		h->reason[h->sl[SL_VERSION + 1]] = '\0';
	}
	for (i = 0; i < h->nfields; i++) {
		l = &h->loc[i];
		h->fields[i].name = c + l->name;
		h->fields[i].name[l->namelen] = '\0';
		h->fields[i].value = c + l->value;
		h->fields[i].value[l->valuelen] = '\0';
	}
	if (head_semantics(h) == -1)
		return (-1);
	return (n);
}

/*
 * Content-Length: 1*DIGIT, or a list of the same number ("5, 5").
 * Returns 0 and sets *count to the number of elements, -1 for garbage or
 * a negative or too large number, -2 for differing values.
 */
static int
parse_length(const char *v, uint64_t *len, size_t *count)
{
	const char	*e;
	size_t		 n, i;
	uint64_t	 x, first = 0;

	*count = 0;
	while (list_next(&v, &e, &n)) {
		if (n == 0)
			return (-1);
		x = 0;
		for (i = 0; i < n; i++) {
			if (!isdigit((unsigned char)e[i]))
				return (-1);
			if (x > (INT64_MAX - 9) / 10)
				return (-1);
			x = x * 10 + (e[i] - '0');
		}
		if (*count > 0 && x != first)
			return (-2);
		first = x;
		(*count)++;
	}
	if (*count == 0)
		return (-1);
	*len = first;
	return (0);
}

/*
 * Walk a comma-separated list: *sp is where to go on; sets *ep and *np to
 * the next element without surrounding whitespace (maybe empty).  Returns
 * 0 at the end of the list.
 */
static int
list_next(const char **sp, const char **ep, size_t *np)
{
	const char	*s = *sp, *e;
	size_t		 n;

	if (s == NULL)
		return (0);
	while (*s == ' ' || *s == '\t')
		s++;
	e = strchr(s, ',');
	n = e == NULL ? strlen(s) : (size_t)(e - s);
	*sp = e == NULL ? NULL : e + 1;
	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
		n--;
	*ep = s;
	*np = n;
	return (1);
}

/* Host: uri-host [":" port]: reg-name, IPv4 or [IPv6] and a port */
static int
host_valid(const char *v)
{
	const unsigned char	*p;

	for (p = (const unsigned char *)v; *p != '\0'; p++) {
		if (isalnum(*p) && *p < 0x80)
			continue;
		if (strchr("-._~!$&'()*+,;=:[]%", *p) == NULL)
			return (0);
	}
	return (1);
}

/* The fields this file looks at by name. */
enum field_name {
	FN_OTHER,
	FN_CONTENT_LENGTH,
	FN_TRANSFER_ENCODING,
	FN_HOST,
	FN_CONNECTION,
	FN_UPGRADE,
	FN_EXPECT,
	FN_PROXY_CONNECTION,
	FN_KEEP_ALIVE,
	FN_TE,
	FN_PROXY_AUTHORIZATION,
	FN_PROXY_AUTHENTICATE
};

/*
 * Which of them name is (case-insensitive).  Every field of every head
 * that crosses proxyd comes here a few times: the lengths are compared
 * first, so that most names cost no string comparison at all.
 */
static enum field_name
field_name(const char *name)
{
	static const struct {
		const char	*name;
		size_t		 len;
		enum field_name	 fn;
	} known[] = {
		{ "Content-Length", 14, FN_CONTENT_LENGTH },
		{ "Transfer-Encoding", 17, FN_TRANSFER_ENCODING },
		{ "Host", 4, FN_HOST },
		{ "Connection", 10, FN_CONNECTION },
		{ "Upgrade", 7, FN_UPGRADE },
		{ "Expect", 6, FN_EXPECT },
		{ "Proxy-Connection", 16, FN_PROXY_CONNECTION },
		{ "Keep-Alive", 10, FN_KEEP_ALIVE },
		{ "TE", 2, FN_TE },
		{ "Proxy-Authorization", 19, FN_PROXY_AUTHORIZATION },
		{ "Proxy-Authenticate", 18, FN_PROXY_AUTHENTICATE },
	};
	size_t	 i, len;

	len = strlen(name);
	for (i = 0; i < sizeof(known) / sizeof(known[0]); i++)
		if (known[i].len == len &&
		    strcasecmp(name, known[i].name) == 0)
			return (known[i].fn);
	return (FN_OTHER);
}

/*
 * RFC 9110 8.6: a Content-Length that came as a list of one number, or
 * in several fields, becomes one field with the number once, so that
 * the next hop reads the length as this one did.
 */
static void
length_normalise(struct http_head *h)
{
	struct http_field	*cl = NULL;
	size_t			 i, j;

	for (i = j = 0; i < h->nfields; i++) {
		if (field_name(h->fields[i].name) == FN_CONTENT_LENGTH) {
			if (cl != NULL)
				continue;
			cl = &h->fields[j];
		}
		h->fields[j] = h->fields[i];
		h->loc[j] = h->loc[i];
		j++;
	}
	h->nfields = j;
	/* the number is never longer than the digits it was read from */
	if (cl != NULL)
		snprintf(cl->value, strlen(cl->value) + 1, "%llu",
		    (unsigned long long)h->content_length);
}

static int
head_semantics(struct http_head *h)
{
	struct http_field	*f;
	const char		*s, *e;
	size_t			 i, n, nhost = 0;
	uint64_t		 len;
	enum field_name		 fn;
	int			 te = 0, chunked = 0, relist = 0, rc;

	for (i = 0; i < h->nfields; i++) {
		f = &h->fields[i];
		fn = field_name(f->name);
		if (fn == FN_CONTENT_LENGTH) {
			rc = parse_length(f->value, &len, &n);
			if (rc == -1)
				return (head_fail(h, 400,
				    "bad Content-Length"));
			if (rc == -2 || ((h->flags & HTTP_F_LENGTH) &&
			    len != h->content_length))
				return (head_fail(h, 400,
				    "differing Content-Length values"));
			if (n > 1 || (h->flags & HTTP_F_LENGTH))
				relist = 1;
			h->flags |= HTTP_F_LENGTH;
			h->content_length = len;
		} else if (fn == FN_TRANSFER_ENCODING) {
			s = f->value;
			while (list_next(&s, &e, &n)) {
				if (n == 0)
					continue;
				if (chunked)
					return (head_fail(h, 400,
					    "chunked is not the final coding"));
				if (n == 7 && strncasecmp(e, "chunked", 7) == 0)
					chunked = 1;
				else if ((n == 4 &&
				    strncasecmp(e, "gzip", 4) == 0) ||
				    (n == 7 &&
				    strncasecmp(e, "deflate", 7) == 0) ||
				    (n == 8 &&
				    strncasecmp(e, "compress", 8) == 0) ||
				    (n == 6 &&
				    strncasecmp(e, "x-gzip", 6) == 0))
					;
				else
					return (head_fail(h, 501,
					    "unknown transfer coding"));
				te = 1;
			}
			if (!te)
				return (head_fail(h, 400,
				    "empty Transfer-Encoding"));
		} else if (fn == FN_HOST) {
			if (++nhost > 1)
				return (head_fail(h, 400,
				    "more than one Host"));
			if (!host_valid(f->value))
				return (head_fail(h, 400, "bad Host"));
			h->flags |= HTTP_F_HOST;
		} else if (fn == FN_CONNECTION) {
			s = f->value;
			while (list_next(&s, &e, &n)) {
				if (n == 5 && strncasecmp(e, "close", 5) == 0)
					h->flags |= HTTP_F_CLOSE;
				else if (n == 10 &&
				    strncasecmp(e, "keep-alive", 10) == 0)
					h->flags |= HTTP_F_KEEPALIVE;
				else if (n == 7 &&
				    strncasecmp(e, "upgrade", 7) == 0)
					h->flags |= HTTP_F_CONN_UPGRADE;
				else if (n > 0)
					h->flags |= HTTP_F_CONN_OTHER;
			}
		} else if (fn == FN_UPGRADE)
			h->flags |= HTTP_F_UPGRADE;
		else if (fn == FN_EXPECT &&
		    http_list_has(f->value, "100-continue"))
			h->flags |= HTTP_F_EXPECT;
	}
	if (te) {
		if (h->version == 10)
			return (head_fail(h, 400,
			    "Transfer-Encoding in HTTP/1.0"));
		if (!chunked)
			return (head_fail(h, 400,
			    "Transfer-Encoding without final chunked"));
		if (h->flags & HTTP_F_LENGTH)
			return (head_fail(h, 400,
			    "both Content-Length and Transfer-Encoding"));
		h->flags |= HTTP_F_CHUNKED;
	}
	if (h->kind == HTTP_REQUEST && h->version == 11 && nhost == 0)
		return (head_fail(h, 400, "missing Host"));
	if (relist)
		length_normalise(h);
	return (0);
}

/* The value of the first field of that name, or NULL. */
const char *
http_head_get(const struct http_head *h, const char *name)
{
	size_t	 i;

	if (h->buf == NULL)
		return (NULL);
	for (i = 0; i < h->nfields; i++)
		if (strcasecmp(h->fields[i].name, name) == 0)
			return (h->fields[i].value);
	return (NULL);
}

/* Does a comma-separated list hold this token (case-insensitive)? */
int
http_list_has(const char *list, const char *token)
{
	const char	*e;
	size_t		 n, tl = strlen(token);

	while (list_next(&list, &e, &n))
		if (n == tl && strncasecmp(e, token, n) == 0)
			return (1);
	return (0);
}

/* May the connection carry another message after this one? */
int
http_keep_alive(const struct http_head *h)
{
	if (h->flags & HTTP_F_CLOSE)
		return (0);
	if (h->version >= 11)
		return (1);
	return ((h->flags & HTTP_F_KEEPALIVE) != 0);
}

/*
 * How the body of this message is delimited.  For a response, method is
 * the method of the request it answers (HEAD, CONNECT have no body).
 * Sets *len for HTTP_BODY_LENGTH (never 0: an empty body is NONE).
 */
enum http_body
http_body_framing(const struct http_head *h, const char *method,
    uint64_t *len)
{
	*len = 0;
	if (h->kind == HTTP_RESPONSE) {
		if (method != NULL && strcmp(method, "HEAD") == 0)
			return (HTTP_BODY_NONE);
		if (method != NULL && strcmp(method, "CONNECT") == 0 &&
		    h->status / 100 == 2)
			return (HTTP_BODY_NONE);
		if (h->status / 100 == 1 || h->status == 204 ||
		    h->status == 304)
			return (HTTP_BODY_NONE);
	}
	if (h->flags & HTTP_F_CHUNKED)
		return (HTTP_BODY_CHUNKED);
	if (h->flags & HTTP_F_LENGTH) {
		if (h->content_length == 0)
			return (HTTP_BODY_NONE);
		*len = h->content_length;
		return (HTTP_BODY_LENGTH);
	}
	if (h->kind == HTTP_RESPONSE)
		return (HTTP_BODY_CLOSE);
	return (HTTP_BODY_NONE);
}

/*
 * Is this field for the next hop only (RFC 9110 7.6.1): the fixed list
 * and whatever Connection names.  The framing fields (Content-Length,
 * Transfer-Encoding) and Host are never, whatever Connection says: a
 * relay passes the body through as it came.
 */
int
http_hop_by_hop(const struct http_head *h, const char *name)
{
	size_t	 i;

	switch (field_name(name)) {
	case FN_CONTENT_LENGTH:
	case FN_TRANSFER_ENCODING:
	case FN_HOST:
		return (0);
	case FN_CONNECTION:
	case FN_PROXY_CONNECTION:
	case FN_KEEP_ALIVE:
	case FN_TE:
	case FN_UPGRADE:
	case FN_PROXY_AUTHORIZATION:
	case FN_PROXY_AUTHENTICATE:
		return (1);
	default:
		break;
	}
	if (h->buf == NULL)
		return (0);
	/* Keep-Alive and Upgrade are on the list above */
	if ((h->flags & HTTP_F_CLOSE) && strcasecmp(name, "close") == 0)
		return (1);
	if (!(h->flags & HTTP_F_CONN_OTHER))
		return (0);
	for (i = 0; i < h->nfields; i++)
		if (field_name(h->fields[i].name) == FN_CONNECTION &&
		    http_list_has(h->fields[i].value, name))
			return (1);
	return (0);
}

const char *
http_status_text(int status)
{
	switch (status) {
	case 100: return ("Continue");
	case 101: return ("Switching Protocols");
	case 200: return ("OK");
	case 204: return ("No Content");
	case 303: return ("See Other");
	case 304: return ("Not Modified");
	case 400: return ("Bad Request");
	case 401: return ("Unauthorized");
	case 403: return ("Forbidden");
	case 404: return ("Not Found");
	case 405: return ("Method Not Allowed");
	case 407: return ("Proxy Authentication Required");
	case 408: return ("Request Timeout");
	case 409: return ("Conflict");
	case 411: return ("Length Required");
	case 413: return ("Content Too Large");
	case 414: return ("URI Too Long");
	case 415: return ("Unsupported Media Type");
	case 417: return ("Expectation Failed");
	case 429: return ("Too Many Requests");
	case 431: return ("Request Header Fields Too Large");
	case 500: return ("Internal Server Error");
	case 501: return ("Not Implemented");
	case 502: return ("Bad Gateway");
	case 503: return ("Service Unavailable");
	case 504: return ("Gateway Timeout");
	case 505: return ("HTTP Version Not Supported");
	default: return ("Unknown");
	}
}
