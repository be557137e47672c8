/*
 * A small HTTP/1.1 server on bufferevents (httpd.h).
 *
 * A connection goes through these states:
 *
 *	WAIT	accepted, nothing read: no bufferevent yet, an event waits
 *		for the first byte (a TLS ClientHello, a request line)
 *	HEAD	reading a request head
 *	BODY	reading its body
 *	CALL	the request is with the callback; more bytes are left in
 *		the input (up to a bound), never parsed until the answer
 *	WRITE	the answer is leaving; then HEAD again, or the end
 *	LINGER	after the last answer: the write side is shut, what
 *		the client still sends is read and dropped for a moment, so
 *		that closing does not reset the answer away
 *
 * WAIT, HEAD and BODY count in the admission table and run against the
 * request deadline, set when the state is entered from WAIT or WRITE and
 * never moved by a byte; WRITE runs against the answer deadline.
 */
#include <sys/types.h>
#include <sys/queue.h>
#include <sys/socket.h>

#include <netinet/in.h>

#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "admit.h"
#include "http.h"
#include "httpd.h"
#include "listener.h"
#include "log.h"
#include "text.h"

#define HTTPD_INPUT_MAX		(HTTP_HEAD_MAX + 4096)	/* buffered */
#define HTTPD_LINGER_MS		2000
#define HTTPD_LINGER_MAX	(256 * 1024)
#define HTTPD_PEER_MAX		64

enum httpd_state {
	HC_WAIT,
	HC_HEAD,
	HC_BODY,
	HC_CALL,
	HC_WRITE,
	HC_LINGER,
};

struct httpd_conn;

struct httpd_req {
	struct httpd_conn	*conn;		/* NULL: gone */
	struct http_head	 head;
	const char		*target;	/* origin-form */
	char			*body;
	size_t			 bodylen;
	size_t			 bodycap;
	char			 peer[HTTPD_PEER_MAX];
	int			 head_only;	/* HEAD */
	int			 chunked;
	struct http_chunked	 ck;
	uint64_t		 left;		/* Content-Length bytes to come */
};

struct httpd_conn {
	TAILQ_ENTRY(httpd_conn)	 entry;
	struct httpd		*srv;
	enum httpd_state	 state;
	int			 fd;
	struct event		*ev;		/* WAIT: the first byte */
	struct event		*timer;
	struct bufferevent	*bev;
	struct admit_ent	 adm;
	struct sockaddr_storage	 ss;
	char			 peer[HTTPD_PEER_MAX];
	struct httpd_req	*req;		/* HEAD, BODY, CALL */
	int			 keepalive;	/* after this answer */
	int			 eof;		/* the client has sent all */
	size_t			 drained;	/* LINGER */
};

struct httpd {
	struct event_base	*base;
	struct httpd_config	 cfg;
	struct admit		*admit;
	TAILQ_HEAD(, httpd_conn) conns;
};

static void	 conn_evict(struct admit_ent *, void *);
static void	 conn_free(struct httpd_conn *);
static void	 conn_timer(struct httpd_conn *, unsigned int);
static int	 conn_wait(struct httpd_conn *);
static void	 conn_first(int, short, void *);
static void	 conn_deadline(int, short, void *);
static void	 conn_read(struct bufferevent *, void *);
static void	 conn_written(struct bufferevent *, void *);
static void	 conn_event(struct bufferevent *, short, void *);
static void	 conn_parse(struct httpd_conn *);
static int	 conn_head(struct httpd_conn *);
static int	 conn_body(struct httpd_conn *);
static void	 conn_call(struct httpd_conn *);
static void	 conn_fail(struct httpd_conn *, int, const char *,
		    const char *);
static void	 conn_send(struct httpd_conn *, int, const char *,
		    const char *, const void *, size_t, int);
static void	 conn_linger(struct httpd_conn *);
static void	 req_free(struct httpd_req *);
static char	*json_message(const char *, size_t *);
static int	 method_known(const char *);

struct httpd *
httpd_new(struct event_base *base, const struct httpd_config *cfg)
{
	struct httpd	*srv;

	if ((srv = calloc(1, sizeof(*srv))) == NULL)
		return (NULL);
	srv->base = base;
	srv->cfg = *cfg;
	TAILQ_INIT(&srv->conns);
	if ((srv->admit = admit_new(cfg->name, cfg->waiting_addr,
	    cfg->waiting_max)) == NULL) {
		free(srv);
		return (NULL);
	}
	return (srv);
}

/* Every connection closes; requests with the callback stay valid. */
void
httpd_free(struct httpd *srv)
{
	struct httpd_conn	*c;

	if (srv == NULL)
		return;
	while ((c = TAILQ_FIRST(&srv->conns)) != NULL)
		conn_free(c);
	admit_free(srv->admit);
	free(srv);
}

/* Out of descriptors: close one waiting connection.  1 if one went. */
int
httpd_shed(struct httpd *srv)
{
	return (admit_shed(srv->admit));
}

/*
 * Serve fd, a connected socket (non-blocking).  The server owns it from
 * now on.  Returns 0, or -1 when it was closed at once.
 */
int
httpd_accept(struct httpd *srv, int fd)
{
	struct httpd_conn	*c;
	socklen_t		 sslen;
	char			 h[NI_MAXHOST];

	if ((c = calloc(1, sizeof(*c))) == NULL) {
		log_warn("%s: %s", srv->cfg.name, __func__);
		close(fd);
		return (-1);
	}
	c->srv = srv;
	c->fd = fd;
	sslen = sizeof(c->ss);
	if (getpeername(fd, (struct sockaddr *)&c->ss, &sslen) == -1 ||
	    getnameinfo((struct sockaddr *)&c->ss, sslen, h, sizeof(h), NULL,
	    0, NI_NUMERICHOST) != 0)
		strlcpy(h, "unknown", sizeof(h));
	strlcpy(c->peer, h, sizeof(c->peer));
	TAILQ_INSERT_TAIL(&srv->conns, c, entry);
	if ((c->timer = evtimer_new(srv->base, conn_deadline, c)) == NULL ||
	    (c->ev = event_new(srv->base, fd, EV_READ, conn_first, c)) ==
	    NULL) {
		conn_free(c);
		return (-1);
	}
	c->state = HC_WAIT;
	if (conn_wait(c) == -1)
		return (-1);
	event_add(c->ev, NULL);
	return (0);
}

/*
 * The connection waits for a request: into the table, with a deadline.
 * -1 when the table refuses it (it is closed then).
 */
static int
conn_wait(struct httpd_conn *c)
{
	struct httpd	*srv = c->srv;

	if (admit_add(srv->admit, &c->adm, (struct sockaddr *)&c->ss,
	    conn_evict, c) == -1) {
		conn_free(c);
		return (-1);
	}
	conn_timer(c, admit_deadline(srv->admit, srv->cfg.request_ms,
	    srv->cfg.request_min_ms));
	return (0);
}

static void
conn_timer(struct httpd_conn *c, unsigned int ms)
{
	struct timeval	 tv;

	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	evtimer_add(c->timer, &tv);
}

static void
conn_evict(struct admit_ent *e, void *arg)
{
	struct httpd_conn	*c = arg;

	log_debug("%s: %s: a waiting connection closed for newer ones",
	    c->srv->cfg.name, c->peer);
	conn_free(c);
}

static void
conn_free(struct httpd_conn *c)
{
	admit_del(&c->adm);
	if (c->req != NULL) {
		if (c->state == HC_CALL)
			c->req->conn = NULL;	/* the callback answers */
		else
			req_free(c->req);
		c->req = NULL;
	}
	if (c->ev != NULL)
		event_free(c->ev);
	if (c->timer != NULL)
		event_free(c->timer);
	if (c->bev != NULL)
		bufferevent_free(c->bev);	/* closes fd */
	else if (c->fd != -1)
		close(c->fd);
	TAILQ_REMOVE(&c->srv->conns, c, entry);
	free(c);
}

/* The first bytes are there: now the bufferevent (and TLS, if any). */
static void
conn_first(int fd, short ev, void *arg)
{
	struct httpd_conn	*c = arg;
	struct httpd		*srv = c->srv;

	event_free(c->ev);
	c->ev = NULL;
	if (srv->cfg.bev != NULL)
		c->bev = srv->cfg.bev(srv->base, fd, srv->cfg.arg);
	else
		c->bev = bufferevent_socket_new(srv->base, fd,
		    BEV_OPT_CLOSE_ON_FREE);
	if (c->bev == NULL) {
		log_warnx("%s: %s: cannot set up the connection",
		    srv->cfg.name, c->peer);
		conn_free(c);
		return;
	}
	c->state = HC_HEAD;
	bufferevent_setcb(c->bev, conn_read, conn_written, conn_event, c);
	bufferevent_setwatermark(c->bev, EV_READ, 0, HTTPD_INPUT_MAX);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
}

static void
conn_deadline(int fd, short ev, void *arg)
{
	struct httpd_conn	*c = arg;

	switch (c->state) {
	case HC_HEAD:
	case HC_BODY:
		if (c->req != NULL || evbuffer_get_length(
		    bufferevent_get_input(c->bev)) > 0) {
			conn_fail(c, 408, "the request did not arrive in time",
			    "no whole request in time");
			return;
		}
		/* FALLTHROUGH */
	case HC_WAIT:
	case HC_WRITE:
	case HC_LINGER:
	default:
		/* nothing begun, or nobody reading: just close */
		conn_free(c);
		return;
	}
}

static void
conn_read(struct bufferevent *bev, void *arg)
{
	struct httpd_conn	*c = arg;
	struct evbuffer		*in = bufferevent_get_input(bev);

	if (c->state == HC_LINGER) {
		c->drained += evbuffer_get_length(in);
		evbuffer_drain(in, evbuffer_get_length(in));
		if (c->drained > HTTPD_LINGER_MAX)
			conn_free(c);
		return;
	}
	if (c->state == HC_HEAD || c->state == HC_BODY)
		conn_parse(c);
}

/* Parse what has arrived: a head, a body, then the callback. */
static void
conn_parse(struct httpd_conn *c)
{
	int	 r;

	if (c->state == HC_HEAD) {
		if ((r = conn_head(c)) <= 0)
			return;
		c->state = HC_BODY;
	}
	if (c->state == HC_BODY && conn_body(c) > 0)
		conn_call(c);
}

/* 1: a whole head; 0: more to come; -1: answered and closing. */
static int
conn_head(struct httpd_conn *c)
{
	struct httpd		*srv = c->srv;
	struct evbuffer		*in = bufferevent_get_input(c->bev);
	struct httpd_req	*r;
	unsigned char		*p;
	size_t			 len;
	ssize_t			 n;
	uint64_t		 clen;
	const char		*t;
	char			 msg[128];

	if ((len = evbuffer_get_length(in)) == 0)
		return (0);
	if ((r = c->req) == NULL) {
		if ((r = c->req = calloc(1, sizeof(*r))) == NULL) {
			conn_free(c);
			return (-1);
		}
		http_head_init(&r->head, HTTP_REQUEST);
		strlcpy(r->peer, c->peer, sizeof(r->peer));
	}
	if (len > HTTP_HEAD_MAX + 1)
		len = HTTP_HEAD_MAX + 1;
	if ((p = evbuffer_pullup(in, len)) == NULL) {
		conn_free(c);
		return (-1);
	}
	if ((n = http_head_parse(&r->head, p, len)) == 0)
		return (0);
	if (n < 0) {
		snprintf(msg, sizeof(msg), "%s: %s", r->head.error == 431 ?
		    "the request head is too large" : r->head.error == 505 ?
		    "HTTP version not supported" : "malformed request",
		    r->head.errstr ? r->head.errstr : "?");
		conn_fail(c, r->head.error, msg, NULL);
		return (-1);
	}
	evbuffer_drain(in, n);
	if (!method_known(r->head.method)) {
		conn_fail(c, 501, "method not implemented", r->head.method);
		return (-1);
	}
	r->head_only = strcmp(r->head.method, "HEAD") == 0;
	/* origin-form; absolute-form loses its scheme and authority */
	t = r->head.target;
	if (strncasecmp(t, "http://", 7) == 0 ||
	    strncasecmp(t, "https://", 8) == 0) {
		t = strchr(t, '/') + 2;
		if ((t = strchr(t, '/')) == NULL)
			t = "/";
	}
	if (*t != '/') {
		conn_fail(c, 400, "malformed request target", "target");
		return (-1);
	}
	r->target = t;
	c->keepalive = http_keep_alive(&r->head);
	switch (http_body_framing(&r->head, r->head.method, &clen)) {
	case HTTP_BODY_NONE:
		break;
	case HTTP_BODY_LENGTH:
		if (clen > srv->cfg.max_body) {
			conn_fail(c, 413, "the request body is too large",
			    "Content-Length too large");
			return (-1);
		}
		if ((r->body = malloc(clen)) == NULL) {
			conn_fail(c, 500, "out of memory", "out of memory");
			return (-1);
		}
		r->bodycap = r->left = clen;
		break;
	case HTTP_BODY_CHUNKED:
		r->chunked = 1;
		http_chunked_init(&r->ck);
		break;
	default:
		conn_fail(c, 411, "a request body needs a length", "framing");
		return (-1);
	}
	/* the client waits for a go before it sends the body */
	if ((r->head.flags & HTTP_F_EXPECT) && r->head.version >= 11 &&
	    (r->left > 0 || r->chunked) && evbuffer_get_length(in) == 0)
		bufferevent_write(c->bev, "HTTP/1.1 100 Continue\r\n\r\n",
		    25);
	return (1);
}

/* 1: the whole body is in; 0: more to come; -1: answered and closing. */
static int
conn_body(struct httpd_conn *c)
{
	struct httpd		*srv = c->srv;
	struct httpd_req	*r = c->req;
	struct evbuffer		*in = bufferevent_get_input(c->bev);
	unsigned char		*p;
	size_t			 avail, take, cap;
	ssize_t			 n;
	uint64_t		 left;
	char			*nb;

	if (!r->chunked) {
		take = evbuffer_get_length(in);
		if (take > r->left)
			take = r->left;
		if (take > 0) {
			evbuffer_remove(in, r->body + r->bodylen, take);
			r->bodylen += take;
			r->left -= take;
		}
		return (r->left == 0);
	}
	while (!http_chunked_done(&r->ck)) {
		if ((avail = evbuffer_get_length(in)) == 0)
			return (0);
		if ((left = http_chunked_data(&r->ck)) > 0) {
			take = avail < left ? avail : left;
			if (take > srv->cfg.max_body - r->bodylen) {
				conn_fail(c, 413, "the request body is too "
				    "large", "chunked body too large");
				return (-1);
			}
			if (r->bodylen + take > r->bodycap) {
				cap = r->bodycap ? r->bodycap : 4096;
				while (cap < r->bodylen + take)
					cap *= 2;
				if (cap > srv->cfg.max_body)
					cap = srv->cfg.max_body;
				if ((nb = realloc(r->body, cap)) == NULL) {
					conn_fail(c, 500, "out of memory",
					    "out of memory");
					return (-1);
				}
				r->body = nb;
				r->bodycap = cap;
			}
			evbuffer_remove(in, r->body + r->bodylen, take);
			r->bodylen += take;
			http_chunked_consume(&r->ck, take);
			continue;
		}
		if ((p = evbuffer_pullup(in, avail)) == NULL) {
			conn_free(c);
			return (-1);
		}
		if ((n = http_chunked_parse(&r->ck, p, avail)) == -1) {
			conn_fail(c, 400, "malformed chunked body",
			    r->ck.errstr);
			return (-1);
		}
		evbuffer_drain(in, n);
	}
	return (1);
}

/* A whole request: it has proven itself; the callback has it now. */
static void
conn_call(struct httpd_conn *c)
{
	admit_del(&c->adm);
	evtimer_del(c->timer);
	c->state = HC_CALL;
	c->req->conn = c;
	c->srv->cfg.request(c->req, c->srv->cfg.arg);
}

/* A request that cannot be served: a JSON error, and the end. */
static void
conn_fail(struct httpd_conn *c, int status, const char *msg,
    const char *why)
{
	char	*body;
	size_t	 len;
	int	 head_only = 0;

	log_debug("%s: %s: %d %s%s%s", c->srv->cfg.name, c->peer, status,
	    msg, why ? ": " : "", why ? why : "");
	if (c->req != NULL) {
		head_only = c->req->head_only;
		req_free(c->req);
		c->req = NULL;
	}
	if ((body = json_message(msg, &len)) == NULL) {
		conn_free(c);
		return;
	}
	c->keepalive = 0;
	conn_send(c, status, "application/json", NULL, body, len,
	    head_only);
	free(body);
}

/*
 * The answer goes out: state WRITE until the client has it all.  With
 * head_only (HEAD) the body's length is announced, not the body.
 */
static void
conn_send(struct httpd_conn *c, int status, const char *type,
    const char *headers, const void *body, size_t len, int head_only)
{
	struct evbuffer	*out = bufferevent_get_output(c->bev);
	char		 date[64];
	struct tm	 tm;
	time_t		 now = time(NULL);

	admit_del(&c->adm);
	if (c->eof)
		c->keepalive = 0;
	gmtime_r(&now, &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S GMT", &tm);
	evbuffer_add_printf(out, "HTTP/1.1 %d %s\r\n"
	    "Date: %s\r\n"
	    "Content-Type: %s\r\n"
	    "Content-Length: %zu\r\n"
	    "%s"
	    "%s"
	    "\r\n", status, http_status_text(status), date, type, len,
	    c->keepalive ? "" : "Connection: close\r\n",
	    headers ? headers : "");
	if (!head_only && len > 0)
		evbuffer_add(out, body, len);
	c->state = HC_WRITE;
	evtimer_del(c->timer);
	conn_timer(c, c->srv->cfg.answer_ms);
	/* in case it is all out already */
	bufferevent_enable(c->bev, EV_WRITE);
}

/* The output is empty: an answer is out (or a 100 Continue). */
static void
conn_written(struct bufferevent *bev, void *arg)
{
	struct httpd_conn	*c = arg;

	if (c->state != HC_WRITE)
		return;
	if (!c->keepalive) {
		conn_linger(c);
		return;
	}
	/* the next request: what is buffered may hold it already */
	c->state = HC_HEAD;
	evtimer_del(c->timer);
	if (conn_wait(c) == -1)
		return;
	conn_parse(c);
}

/*
 * Close after an answer: shut the write side and drop what still comes
 * for a moment, since closing with unread bytes would reset the
 * connection and take the answer with it.  (Over TLS this is a shutdown
 * without close_notify, which clients take once the answer is whole.)
 */
static void
conn_linger(struct httpd_conn *c)
{
	if (c->eof || shutdown(bufferevent_getfd(c->bev), SHUT_WR) == -1) {
		conn_free(c);
		return;
	}
	c->state = HC_LINGER;
	evtimer_del(c->timer);
	conn_timer(c, HTTPD_LINGER_MS);
	bufferevent_setwatermark(c->bev, EV_READ, 0, 0);
	bufferevent_enable(c->bev, EV_READ);
	conn_read(c->bev, c);
}

static void
conn_event(struct bufferevent *bev, short what, void *arg)
{
	struct httpd_conn	*c = arg;

	if (what & BEV_EVENT_CONNECTED)
		return;		/* the TLS handshake is done */
	if ((what & BEV_EVENT_EOF) && !(what & BEV_EVENT_ERROR) &&
	    (c->state == HC_CALL || c->state == HC_WRITE)) {
		/* a half-close: the answer still goes out, then the end */
		c->eof = 1;
		c->keepalive = 0;
		return;
	}
	conn_free(c);
}

static void
req_free(struct httpd_req *r)
{
	http_head_free(&r->head);
	free(r->body);
	free(r);
}

/* {"message": msg}, a NUL-terminated string of *len bytes */
static char *
json_message(const char *msg, size_t *len)
{
	static const char	 hex[] = "0123456789abcdef";
	const unsigned char	*s;
	char			*buf, *p;

	if ((buf = malloc(strlen(msg) * 6 + 32)) == NULL)
		return (NULL);
	p = buf + strlcpy(buf, "{\"message\": \"", 32);
	for (s = (const unsigned char *)msg; *s != '\0'; s++) {
		if (*s == '"' || *s == '\\') {
			*p++ = '\\';
			*p++ = *s;
		} else if (text_is_ctl(*s, 0)) {
			*p++ = '\\';
			*p++ = 'u';
			*p++ = '0';
			*p++ = '0';
			*p++ = hex[*s >> 4];
			*p++ = hex[*s & 0xf];
		} else
			*p++ = *s;
	}
	memcpy(p, "\"}\n", 4);
	*len = p + 3 - buf;
	return (buf);
}

static int
method_known(const char *m)
{
	static const char	*known[] = { "GET", "HEAD", "POST", "PUT",
	    "DELETE", "OPTIONS", "PATCH", NULL };
	size_t			 i;

	for (i = 0; known[i] != NULL; i++)
		if (strcmp(m, known[i]) == 0)
			return (1);
	return (0);
}

const char *
httpd_req_method(const struct httpd_req *r)
{
	return (r->head.method);
}

/* The target in origin-form: "/path?query". */
const char *
httpd_req_target(const struct httpd_req *r)
{
	return (r->target);
}

const char *
httpd_req_header(const struct httpd_req *r, const char *name)
{
	return (http_head_get(&r->head, name));
}

/* The body (len bytes, maybe 0), NULL when there is none. */
const char *
httpd_req_body(const struct httpd_req *r, size_t *len)
{
	*len = r->bodylen;
	return (r->body);
}

/* The client's address, without the port. */
const char *
httpd_req_peer(const struct httpd_req *r)
{
	return (r->peer);
}

/* Has the client gone away (the answer would be dropped)? */
int
httpd_req_gone(const struct httpd_req *r)
{
	return (r->conn == NULL);
}

/* The client has logged in: its address is kept last under load. */
void
httpd_req_trust(struct httpd_req *r)
{
	struct httpd_conn	*c;

	if ((c = r->conn) != NULL)
		admit_trust(c->srv->admit, (struct sockaddr *)&c->ss);
}

/*
 * Answer r and free it: status, the Content-Type, more header lines
 * (each ending in CRLF) or NULL, and the body.
 */
void
httpd_reply(struct httpd_req *r, int status, const char *type,
    const char *headers, const void *body, size_t len)
{
	struct httpd_conn	*c = r->conn;

	if (c != NULL) {
		c->req = NULL;
		conn_send(c, status, type, headers, body, len, r->head_only);
	}
	req_free(r);
}

/* Answer r with {"message": msg}. */
void
httpd_error(struct httpd_req *r, int status, const char *msg)
{
	char	*body;
	size_t	 len;

	if ((body = json_message(msg, &len)) == NULL) {
		httpd_reply(r, 500, "application/json", NULL,
		    "{\"message\": \"out of memory\"}\n", 30);
		return;
	}
	httpd_reply(r, status, "application/json", NULL, body, len);
	free(body);
}

static void
httpd_listener_accept(int fd, void *arg)
{
	httpd_accept(arg, fd);
}

static int
httpd_listener_shed(void *arg)
{
	return (httpd_shed(arg));
}

/*
 * Serve h on the listening socket fd from now on: each connection goes
 * to httpd_accept(), and out of descriptors one that has proven nothing
 * is shed.  The listener owns fd.  NULL when out of memory.
 */
struct listener *
httpd_listen(struct httpd *h, struct event_base *base, int fd)
{
	struct listener	*l;

	if ((l = listener_new(base, fd, httpd_listener_accept, h)) == NULL)
		return (NULL);
	listener_set_shed(l, httpd_listener_shed, h);
	return (l);
}

/*
 * The path of a GET or HEAD request, without its query, into path (""
 * when it does not fit).  Another method is answered 405 here: NULL.
 */
const char *
httpd_get_path(struct httpd_req *r, char *path, size_t len)
{
	const char	*m = httpd_req_method(r), *target;
	size_t		 n;

	if (strcmp(m, "GET") != 0 && strcmp(m, "HEAD") != 0) {
		httpd_reply(r, 405, "text/plain", "Allow: GET, HEAD\r\n",
		    "method not allowed\n", 19);
		return (NULL);
	}
	target = httpd_req_target(r);
	n = strcspn(target, "?");
	if (n >= len)
		n = 0;
	memcpy(path, target, n);
	path[n] = '\0';
	return (path);
}
