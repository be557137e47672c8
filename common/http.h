/*
 * A strict, streaming HTTP/1.1 message-head parser, body framing and a
 * chunked transfer-coding decoder.  Pure code (no libevent), shared by
 * proxyd and sc-server's entry proxy, and fuzzed.
 *
 * Head parsing:
 *	struct http_head h;
 *	http_head_init(&h, HTTP_REQUEST);
 *	n = http_head_parse(&h, buf, len);	(same buffer, growing, each
 *						 time more bytes arrive)
 *	n == 0: need more bytes;  n > 0: the head is the first n bytes of
 *	buf (drain them) and h holds it;  n == -1: bad head, answer
 *	h.error (400, 431, 501, 505) and close; h.errstr says why.
 *	A Content-Length list of one number ("5, 5"), or the field
 *	repeated with it, is left as one field of the number (RFC 9110
 *	8.6), so that a relay passes on the length as it read it;
 *	differing values are a bad head.
 *	http_head_free(&h) when done (then http_head_init again to reuse).
 *
 * Chunked bodies: the decoder looks at framing bytes and counts data
 * bytes, so the caller streams either the whole encoded body (a relay)
 * or the data alone (a decoder), never buffering it:
 *	struct http_chunked c;
 *	http_chunked_init(&c);
 *	loop until http_chunked_done(&c):
 *		if ((left = http_chunked_data(&c)) > 0) {
 *			pass up to left bytes of data on;
 *			http_chunked_consume(&c, n);
 *		} else if ((n = http_chunked_parse(&c, buf, len)) == -1)
 *			bad framing;
 *		else
 *			n framing bytes consumed (pass them on, or drop them);
 */
#ifndef SC_HTTP_H
#define SC_HTTP_H

#include <sys/types.h>
#include <stdint.h>

#define HTTP_HEAD_MAX		(32 * 1024)	/* bytes, whole head */
#define HTTP_FIELDS_MAX		128		/* header fields */
#define HTTP_CHUNK_LINE_MAX	4096		/* a chunk-size line */
#define HTTP_TRAILER_MAX	HTTP_HEAD_MAX	/* the trailer section */

enum http_kind {
	HTTP_REQUEST,
	HTTP_RESPONSE,
};

/* http_head flags, set once the head is parsed */
#define HTTP_F_CLOSE		0x0001	/* Connection: close */
#define HTTP_F_KEEPALIVE	0x0002	/* Connection: keep-alive */
#define HTTP_F_CONN_UPGRADE	0x0004	/* Connection: upgrade */
#define HTTP_F_UPGRADE		0x0008	/* an Upgrade field */
#define HTTP_F_CHUNKED		0x0010	/* Transfer-Encoding: ..., chunked */
#define HTTP_F_LENGTH		0x0020	/* Content-Length (content_length) */
#define HTTP_F_HOST		0x0040	/* a Host field */
#define HTTP_F_EXPECT		0x0080	/* Expect: 100-continue */
#define HTTP_F_CONN_OTHER	0x0100	/* Connection names another field */

struct http_field {
	char		*name;		/* as received */
	char		*value;		/* without surrounding whitespace */
};

struct http_fieldloc {
	uint32_t	 name, namelen, value, valuelen;
};

struct http_head {
	/* the result, valid after http_head_parse() returned > 0 */
	enum http_kind	 kind;
	char		*method;	/* request: token */
	char		*target;	/* request: as received */
	int		 status;	/* response: 100-599 */
	char		*reason;	/* response: may be "" */
	int		 version;	/* 10 (HTTP/1.0) or 11 (HTTP/1.1) */
	size_t		 nfields;	/* in fields[] */
	int		 flags;		/* HTTP_F_* */
	uint64_t	 content_length; /* when HTTP_F_LENGTH */

	/* after http_head_parse() returned -1 */
	int		 error;		/* status to answer */
	const char	*errstr;	/* why, for the log */

	/* parser state, private */
	char		*buf;		/* copy of the head */
	size_t		 pos;		/* bytes looked at */
	size_t		 line;		/* start of the current line */
	size_t		 skip;		/* empty lines before a request */
	int		 started;	/* start line seen */
	uint32_t	 sl[6];		/* start line: 3 (offset, length) */

	/*
	 * Last, and not cleared by http_head_init(): only the first
	 * nfields of each are ever read (4 KiB a head, cleared twice a
	 * request otherwise).
	 */
	struct http_field fields[HTTP_FIELDS_MAX];
	struct http_fieldloc loc[HTTP_FIELDS_MAX];
};

/*
 * An authority, host [":" port] (RFC 3986 3.2.2, 3.2.3): the host a name
 * (letters, digits, "-._~"), an IPv4 address or an IPv6 address in
 * brackets; the port 1*DIGIT, leading zeros allowed, its value 1 to
 * 65535.  http_parse_authority() fills this; errstr says why not.
 */
#define HTTP_HOST_MAX		256	/* a host, with its NUL */
#define HTTP_PORT_MAX		6	/* "65535" and its NUL */
#define HTTP_AUTH_PORT0		0x01	/* port 0 too: a listening address */
#define HTTP_AUTH_NOPORT	0x02	/* a host alone, an IPv6 address */
					/* with or without brackets */

struct http_authority {
	char		 host[HTTP_HOST_MAX];	/* without brackets */
	char		 port[HTTP_PORT_MAX];	/* decimal, no leading zero */
	uint16_t	 portnum;
	int		 ipv6;			/* host is an IPv6 address */
	const char	*errstr;		/* after -1 */
};

/*
 * A request's absolute-form target, "http://" or "https://" authority
 * [path-abempty] ["?" query] (RFC 9112 3.2.2): no userinfo, no
 * fragment; the port is 80 (443 for https) when none is given.
 */
struct http_url {
	struct http_authority	 auth;
	int		 tls;		/* https */
	const char	*authority;	/* in the target, as written */
	size_t		 authlen;
	const char	*path;		/* the rest: "", "/..." or "?..." */
};

/*
 * The entry proxy's warm-up of a stream (proxyd/relay_http.c): "OPTIONS *"
 * with this field naming a URL; proxyd answers HTTP_WARM_ANSWER at once.
 * The entry proxy drops the field from every browser's head.
 */
#define HTTP_WARM_FIELD		"Sc-Warm"
#define HTTP_WARM_ANSWER	"HTTP/1.1 204 Warming up\r\n\r\n"
/*
 * A warm-up with HTTP_BIND_FIELD ("1") asks proxyd to bind the stream
 * to the warm-up's https:// origin: answered HTTP_BIND_ANSWER, the
 * stream's requests then come to that origin alone, in origin form,
 * exactly as the app is to read them (the entry proxy's route_head()),
 * so that proxyd may hand the app's TLS connection to kgpd (relay_move.c
 * move_tls_start()).  An older sc answers HTTP_WARM_ANSWER: not bound.
 */
#define HTTP_BIND_FIELD		"Sc-Bind"
#define HTTP_BIND_ANSWER	"HTTP/1.1 204 Warming up\r\nSc-Bind: 1\r\n\r\n"

enum http_body {
	HTTP_BODY_NONE,
	HTTP_BODY_LENGTH,		/* *len bytes, > 0 */
	HTTP_BODY_CHUNKED,
	HTTP_BODY_CLOSE,		/* until the connection closes */
};

enum http_chunked_state {
	HTTP_CK_SIZE,
	HTTP_CK_SIZE_DIGITS,
	HTTP_CK_SIZE_WS,
	HTTP_CK_EXT,
	HTTP_CK_SIZE_LF,
	HTTP_CK_DATA,
	HTTP_CK_DATA_CR,
	HTTP_CK_DATA_LF,
	HTTP_CK_TRAILER,
	HTTP_CK_TRAILER_LINE,
	HTTP_CK_TRAILER_LF,
	HTTP_CK_END_LF,
	HTTP_CK_DONE,
	HTTP_CK_ERROR,
};

struct http_chunked {
	enum http_chunked_state	 state;
	uint64_t	 size;		/* of the chunk being read */
	uint64_t	 left;		/* data bytes still to come */
	size_t		 linelen;	/* of the current size line */
	size_t		 trailer;	/* bytes of trailer section */
	uint64_t	 total;		/* data bytes so far */
	const char	*errstr;	/* after -1 */
};

/* http.c */
void		 http_head_init(struct http_head *, enum http_kind);
ssize_t		 http_head_parse(struct http_head *, const void *, size_t);
void		 http_head_free(struct http_head *);
int		 http_tchar(unsigned char);
const char	*http_head_get(const struct http_head *, const char *);
int		 http_keep_alive(const struct http_head *);
enum http_body	 http_body_framing(const struct http_head *, const char *,
		    uint64_t *);
int		 http_hop_by_hop(const struct http_head *, const char *);
int		 http_list_has(const char *, const char *);
const char	*http_status_text(int);
int		 http_parse_authority(const char *, size_t, uint16_t, int,
		    struct http_authority *);
int		 http_parse_url(const char *, struct http_url *);

void		 http_chunked_init(struct http_chunked *);
ssize_t		 http_chunked_parse(struct http_chunked *, const void *,
		    size_t);
uint64_t	 http_chunked_data(const struct http_chunked *);
void		 http_chunked_consume(struct http_chunked *, uint64_t);
int		 http_chunked_done(const struct http_chunked *);

#endif /* SC_HTTP_H */
