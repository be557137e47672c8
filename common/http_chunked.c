/*
 * The chunked transfer-coding decoder (RFC 9112 7.1), fed as bytes come.
 */
#include <sys/types.h>

#include <ctype.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "http.h"
#include "text.h"

static ssize_t	 ck_fail(struct http_chunked *, const char *);

/*
 * The chunked decoder.
 *
 *	chunked-body = *chunk last-chunk trailer-section CRLF
 *	chunk        = chunk-size [ chunk-ext ] CRLF chunk-data CRLF
 *	last-chunk   = 1*("0") [ chunk-ext ] CRLF
 *
 * Line ends are CRLF, strictly: the encoded body is passed on as it came,
 * so nothing the next hop could read another way is let through.
 */
void
http_chunked_init(struct http_chunked *c)
{
	memset(c, 0, sizeof(*c));
	c->state = HTTP_CK_SIZE;
}

static ssize_t
ck_fail(struct http_chunked *c, const char *why)
{
	c->state = HTTP_CK_ERROR;
	c->errstr = why;
	return (-1);
}

/*
 * Consume framing bytes of buf.  Stops before the first byte of chunk
 * data (http_chunked_data() then says how many follow), at the end of
 * the body, or at the end of buf.  Returns the number of bytes consumed
 * (0 when data is due), or -1 on bad framing (c->errstr says why).
 */
ssize_t
http_chunked_parse(struct http_chunked *c, const void *buf, size_t len)
{
	const unsigned char	*b = buf;
	size_t			 i;
	unsigned char		 ch;
	int			 d;

	for (i = 0; i < len; i++) {
		ch = b[i];
		switch (c->state) {
		case HTTP_CK_SIZE:
		case HTTP_CK_SIZE_DIGITS:
			if (++c->linelen > HTTP_CHUNK_LINE_MAX)
				return (ck_fail(c, "chunk-size line too long"));
			if (isxdigit(ch)) {
				d = isdigit(ch) ? ch - '0' :
				    tolower(ch) - 'a' + 10;
				if (c->size > (INT64_MAX >> 4))
					return (ck_fail(c,
					    "chunk size too large"));
				c->size = (c->size << 4) | d;
				c->state = HTTP_CK_SIZE_DIGITS;
				break;
			}
			if (c->state == HTTP_CK_SIZE)
				return (ck_fail(c, "bad chunk size"));
			if (ch == ' ' || ch == '\t')
				c->state = HTTP_CK_SIZE_WS;
			else if (ch == ';')
				c->state = HTTP_CK_EXT;
			else if (ch == '\r')
				c->state = HTTP_CK_SIZE_LF;
			else
				return (ck_fail(c, "bad chunk size"));
			break;
		case HTTP_CK_SIZE_WS:
			if (++c->linelen > HTTP_CHUNK_LINE_MAX)
				return (ck_fail(c, "chunk-size line too long"));
			if (ch == ';')
				c->state = HTTP_CK_EXT;
			else if (ch == '\r')
				c->state = HTTP_CK_SIZE_LF;
			else if (ch != ' ' && ch != '\t')
				return (ck_fail(c, "bad chunk size"));
			break;
		case HTTP_CK_EXT:
			if (++c->linelen > HTTP_CHUNK_LINE_MAX)
				return (ck_fail(c, "chunk-size line too long"));
			if (ch == '\r')
				c->state = HTTP_CK_SIZE_LF;
			else if (text_is_ctl(ch, TEXT_HTAB))
				return (ck_fail(c, "bad chunk extension"));
			break;
		case HTTP_CK_SIZE_LF:
			if (ch != '\n')
				return (ck_fail(c, "bare CR in chunk size"));
			c->linelen = 0;
			if (c->size == 0) {
				c->state = HTTP_CK_TRAILER;
				break;
			}
			c->left = c->size;
			c->state = HTTP_CK_DATA;
			return (i + 1);
		case HTTP_CK_DATA:
			/* the caller has not consumed the data */
			return (i);
		case HTTP_CK_DATA_CR:
			if (ch != '\r')
				return (ck_fail(c, "no CRLF after chunk data"));
			c->state = HTTP_CK_DATA_LF;
			break;
		case HTTP_CK_DATA_LF:
			if (ch != '\n')
				return (ck_fail(c, "no CRLF after chunk data"));
			c->size = 0;
			c->state = HTTP_CK_SIZE;
			break;
		case HTTP_CK_TRAILER:
			/* the start of a trailer line, or the final CRLF */
			if (++c->trailer > HTTP_TRAILER_MAX)
				return (ck_fail(c, "trailer too large"));
			if (ch == '\r')
				c->state = HTTP_CK_END_LF;
			else if (http_tchar(ch))
				c->state = HTTP_CK_TRAILER_LINE;
			else
				return (ck_fail(c, "bad trailer field"));
			break;
		case HTTP_CK_TRAILER_LINE:
			if (++c->trailer > HTTP_TRAILER_MAX)
				return (ck_fail(c, "trailer too large"));
			if (ch == '\r')
				c->state = HTTP_CK_TRAILER_LF;
			else if (text_is_ctl(ch, TEXT_HTAB))
				return (ck_fail(c, "bad trailer field"));
			break;
		case HTTP_CK_TRAILER_LF:
			if (++c->trailer > HTTP_TRAILER_MAX)
				return (ck_fail(c, "trailer too large"));
			if (ch != '\n')
				return (ck_fail(c, "bare CR in trailer"));
			c->state = HTTP_CK_TRAILER;
			break;
		case HTTP_CK_END_LF:
			if (ch != '\n')
				return (ck_fail(c, "bare CR after last chunk"));
			c->state = HTTP_CK_DONE;
			return (i + 1);
		case HTTP_CK_DONE:
			return (i);
		case HTTP_CK_ERROR:
			return (-1);
		}
	}
	if (c->state == HTTP_CK_ERROR)
		return (-1);
	return (len);
}

/* How many bytes of chunk data come next (0: framing, or the end). */
uint64_t
http_chunked_data(const struct http_chunked *c)
{
	return (c->state == HTTP_CK_DATA ? c->left : 0);
}

/* The caller took n (<= http_chunked_data()) bytes of data. */
void
http_chunked_consume(struct http_chunked *c, uint64_t n)
{
	if (c->state != HTTP_CK_DATA)
		return;
	if (n > c->left)
		n = c->left;
	c->left -= n;
	c->total += n;
	if (c->left == 0)
		c->state = HTTP_CK_DATA_CR;
}

int
http_chunked_done(const struct http_chunked *c)
{
	return (c->state == HTTP_CK_DONE);
}
