/*
 * The HTTP exchange inside a resigned (or plain) CONNECT: the browser's
 * requests, one after the other, each decided by the rules and written
 * to the connection's stream in absolute form (or, on a stream proxyd
 * bound to the CONNECT's origin, in origin form); the answers read from the
 * stream, their head and framing parsed (never buffered whole) so that
 * keep-alive, upgrades and long answers work.  resign.c moves the bytes
 * between the browser and r->in, r->out and calls these; they wake it
 * (r->wake) when the stream moves.
 */
#include <sys/types.h>
#include <sys/queue.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "evread.h"
#include "http.h"
#include "kgp.h"
#include "log.h"
#include "server.h"
#include "resign_int.h"

static void	 resign_s_read(struct bufferevent *, void *);
static void	 resign_s_event(struct bufferevent *, short, void *);
static int	 resign_request(struct resign *);
static int	 resign_response_head(struct resign *);
static int	 resign_body(struct evbuffer *, struct evbuffer *,
		    enum http_body, uint64_t *, struct http_chunked *, int *);
static void	 resign_answer(struct resign *, int, const char *);
static int	 resign_stream(struct resign *, struct tunnel *);
static void	 resign_stream_drop(struct resign *);
static void	 resign_exchange_end(struct resign *);
static int	 resign_warm_answer(struct resign *);
static int	 resign_bound_origin(const struct resign *,
		    const struct route *);

/* The stream has bytes, or has ended: the connection moves on. */
static void
resign_s_read(struct bufferevent *bev, void *arg)
{
	struct resign	*r = arg;

	r->wake(r);
}

static void
resign_s_event(struct bufferevent *bev, short what, void *arg)
{
	struct resign	*r = arg;

	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) {
		r->s_eof = 1;
		bufferevent_disable(bev, EV_READ);
	}
	r->wake(r);
}

/* An answer of this proxy's own inside the TLS; the connection ends. */
static void
resign_answer(struct resign *r, int status, const char *text)
{
	char	 msg[1024];
	int	 len;

	if ((len = answer_format(msg, sizeof(msg), status, text, NULL,
	    1)) > 0)
		evbuffer_add(r->out, msg, len);
	r->state = RESIGN_CLOSING;
}

/* The browser's requests: each head decided, each body to the stream. */
int
resign_requests(struct resign *r)
{
	struct evbuffer	*sout;
	const uint8_t	*p;
	size_t		 len, cap = HTTP_HEAD_MAX + 4096;
	ssize_t		 n;
	int		 moved = 0, more;

	if (r->state == RESIGN_TUNNEL) {
		/* after a 101: the bytes as they come */
		if (r->s == NULL)
			return (0);
		sout = bufferevent_get_output(r->s);
		if ((len = evbuffer_get_length(r->in)) > 0 &&
		    evbuffer_get_length(sout) < RESIGN_BUF_MAX) {
			(void)bev_write_now(r->s, r->in, len);
			moved = 1;
		}
		if (r->b_eof && !r->s_shut && evbuffer_get_length(sout) == 0) {
			/* the browser is done: so is the stream's way up */
			r->s_shut = 1;
			kgp_local_shutdown(r->s);
		}
		return (moved);
	}
	while (r->state == RESIGN_HTTP && !r->dead) {
		if (r->rq == RQ_HEAD) {
			if ((len = evbuffer_get_length(r->in)) == 0) {
				/* between requests: the end */
				if (r->b_eof)
					r->state = RESIGN_CLOSING;
				break;
			}
			/* the first waits for the warm-up's answer */
			if (r->rp == RP_WARM)
				break;
			if (r->req == NULL) {
				if ((r->req = malloc(sizeof(*r->req))) == NULL) {
					r->dead = 1;
					break;
				}
				http_head_init(r->req, HTTP_REQUEST);
			}
			if (len > cap)
				len = cap;
			p = evbuffer_pullup(r->in, len);
			if ((n = http_head_parse(r->req, p, len)) == 0 &&
			    len < cap) {
				if (r->b_eof)
					r->dead = 1;	/* cut short */
				break;
			}
			if (n <= 0) {
				log_info("tunnel %s: bad request from %s inside "
				    "TLS for %s: %s", r->tunnel_id, r->peer,
				    r->name, n == 0 ? "head too large" :
				    r->req->errstr);
				resign_answer(r, n == 0 ? 431 : r->req->error,
				    "The request is malformed.");
				return (1);
			}
			evbuffer_drain(r->in, n);
			moved = 1;
			if (resign_request(r) == -1)
				return (1);
			continue;
		}
		if (r->rq != RQ_BODY || r->s == NULL)
			break;
		sout = bufferevent_get_output(r->s);
		if (evbuffer_get_length(sout) >= RESIGN_BUF_MAX)
			break;
		more = 0;
		if (resign_body(r->in, sout, r->rq_body, &r->rq_left,
		    &r->rq_ck, &more) == -1) {
			log_info("tunnel %s: %s: a request body inside TLS for "
			    "%s: %s", r->tunnel_id, r->peer, r->name,
			    r->rq_ck.errstr ? r->rq_ck.errstr : "bad framing");
			r->dead = 1;
			break;
		}
		moved |= more;
		if (r->rq_left == 0 && (r->rq_body == HTTP_BODY_LENGTH ||
		    http_chunked_done(&r->rq_ck)))
			r->rq = RQ_DONE;
		else {
			if (r->b_eof && evbuffer_get_length(r->in) == 0)
				r->dead = 1;	/* the body cut short */
			break;
		}
	}
	return (moved);
}

/*
 * Move what src has of a body framed so (left bytes to come, or the
 * chunked decoder ck) to dst; *moved says whether anything did.  -1 on
 * bad chunked framing.  The body is whole when *left is 0 (length) or
 * the decoder is done (chunked).
 */
static int
resign_body(struct evbuffer *src, struct evbuffer *dst, enum http_body body,
    uint64_t *left, struct http_chunked *ck, int *moved)
{
	const uint8_t	*p;
	size_t		 avail, n;
	uint64_t	 data;
	ssize_t		 k;

	while ((avail = evbuffer_get_length(src)) > 0) {
		switch (body) {
		case HTTP_BODY_LENGTH:
			n = avail < *left ? avail : *left;
			evbuffer_remove_buffer(src, dst, n);
			*left -= n;
			*moved = 1;
			return (0);
		case HTTP_BODY_CLOSE:
			evbuffer_add_buffer(dst, src);
			*moved = 1;
			return (0);
		case HTTP_BODY_CHUNKED:
			if (http_chunked_done(ck))
				return (0);
			if ((data = http_chunked_data(ck)) > 0) {
				n = avail < data ? avail : data;
				evbuffer_remove_buffer(src, dst, n);
				http_chunked_consume(ck, n);
				*moved = 1;
				continue;
			}
			n = avail < HTTP_CHUNK_LINE_MAX ? avail :
			    HTTP_CHUNK_LINE_MAX;
			p = evbuffer_pullup(src, n);
			if ((k = http_chunked_parse(ck, p, n)) == -1)
				return (-1);
			if (k == 0)
				return (0);
			evbuffer_remove_buffer(src, dst, k);
			*moved = 1;
			continue;
		default:
			return (0);
		}
	}
	return (0);
}

/*
 * A request head whole in r->req: decided by the rules, answered here
 * or sent down the stream in absolute form.  -1 when the connection is
 * ending (answered here).
 */
static int
resign_request(struct resign *r)
{
	struct tunnel	*t = r->tunnel;
	struct route	 rt;
	char		 url[HTTP_HEAD_MAX], why[512], *head;
	size_t		 len;
	int		 bound = 0;

	if (r->fail != NULL) {
		snprintf(why, sizeof(why), "The entry proxy cannot resign "
		    "TLS for %s: %s.", r->name, r->fail);
		resign_answer(r, 502, why);
		return (-1);
	}
	if (route_decide_tls(t->rules, r->req, r->name, r->port, !r->plain,
	    &rt, url, sizeof(url)) == -1) {
		log_info("tunnel %s: %s: %s %s inside TLS for %s: no https "
		    "URL", t->id, r->peer, r->req->method, r->req->target,
		    r->name);
		resign_answer(r, 400, "The request names no host this "
		    "connection can serve.");
		return (-1);
	}
	switch (rt.v.route) {
	case RULES_ROUTE_DENY:
		log_info("tunnel %s: %s %s from %s: denied by %s%s%s", t->id,
		    r->req->method, url, r->peer,
		    rt.v.error ? "the rules' step limit" : "rule '",
		    rt.v.error ? "" : rt.v.rule->text, rt.v.error ? "" : "'");
		route_deny_text(&rt.v, why, sizeof(why));
		resign_answer(r, 403, why);
		return (-1);
	case RULES_ROUTE_DIRECT:
		log_info("tunnel %s: %s %s from %s: a direct host inside a "
		    "resigned connection to %s: 421", t->id, r->req->method,
		    url, r->peer, r->name);
		resign_answer(r, 421, "This host is connected directly: ask "
		    "for it on a connection of its own.");
		return (-1);
	default:
		break;
	}
	log_debug("tunnel %s: %s %s from %s: tunnel (resigned)", t->id,
	    r->req->method, url, r->peer);
	if (r->s != NULL && r->bound) {
		if (resign_bound_origin(r, &rt))
			bound = 1;
		else {
			/* another origin: a stream of its own, unbound */
			log_debug("tunnel %s: %s: %s is not the bound origin: "
			    "another stream", t->id, r->peer, url);
			resign_stream_drop(r);
		}
	}
	if (r->s == NULL && resign_stream(r, t) == -1) {
		resign_answer(r, 503, "The tunnel is not connected.");
		return (-1);
	}
	if ((head = route_head(r->req, bound ? rt.path : url, ROUTE_HEAD_KEEP,
	    &len)) == NULL ||
	    bev_write_buf(r->s, head, len) == -1) {
		free(head);
		r->dead = 1;
		return (-1);
	}
	free(head);
	r->keep = http_keep_alive(r->req);
	r->upgrade = route_upgrade(r->req);
	r->rq_body = http_body_framing(r->req, NULL, &r->rq_left);
	http_chunked_init(&r->rq_ck);
	r->rq = r->rq_body == HTTP_BODY_NONE ? RQ_DONE : RQ_BODY;
	r->rp = RP_HEAD;
	r->rp_sent = 0;
	return (0);
}

/*
 * A stream of the tunnel for this connection's requests, its end in
 * this process (kgp_conn_open_local(): the KGP engine's buffers, no
 * socket pair and no system call between them and us).
 */
static int
resign_stream(struct resign *r, struct tunnel *t)
{
	struct kgp_client	*link;

	if (t->status != TUNNEL_RUNNING || (link = route_link(t)) == NULL)
		return (-1);
	if ((r->s = kgp_conn_open_local(link->conn, r->peer)) == NULL) {
		log_warnx("tunnel %s: cannot open a stream for %s", t->id,
		    r->peer);
		return (-1);
	}
	bufferevent_setcb(r->s, resign_s_read, resign_s_read, resign_s_event,
	    r);
	bufferevent_setwatermark(r->s, EV_READ, 0, RESIGN_BUF_MAX);
	bufferevent_enable(r->s, EV_READ | EV_WRITE);
	r->s_eof = r->s_shut = 0;
	r->s_keep = 1;
	return (0);
}

/*
 * The CONNECT is answered (resign_start()): a stream opened at once,
 * before the ClientHello and the first request, with a warm-up
 * (HTTP_WARM_FIELD) for the CONNECT's host and port, so that proxyd
 * connects to the app and speaks TLS with it while the ClientHello comes,
 * the leaf is made and the browser's handshake runs here.  proxyd answers
 * it at once (HTTP_WARM_ANSWER); the first request waits for that answer
 * (RP_WARM), then goes down the same stream.  An sc that does not know
 * warm-ups answers otherwise (a 400 of its own) and closes the stream:
 * the first request opens another.  The tunnel down: nothing is done.
 */
void
resign_warm(struct resign *r)
{
	char	 head[2 * HOST_MAX + 128], auth[HOST_MAX + 16];
	int	 len, v6 = strchr(r->host, ':') != NULL;

	if (r->plain || r->s != NULL || r->tunnel == NULL ||
	    resign_stream(r, r->tunnel) == -1)
		return;
	snprintf(auth, sizeof(auth), "%s%s%s:%u", v6 ? "[" : "", r->host,
	    v6 ? "]" : "", r->port);
	len = snprintf(head, sizeof(head), "OPTIONS * HTTP/1.1\r\n"
	    "Host: %s\r\n%s: https://%s\r\n%s: 1\r\n\r\n", auth,
	    HTTP_WARM_FIELD, auth, HTTP_BIND_FIELD);
	if (len < 0 || (size_t)len >= sizeof(head) ||
	    bev_write_buf(r->s, head, len) == -1) {
		resign_stream_drop(r);
		return;
	}
	r->rp = RP_WARM;
}

/*
 * The warm-up's answer: 1 when it is through (taken, or the stream let
 * go: the first request opens another), 0 while it is not all here.
 */
static int
resign_warm_answer(struct resign *r)
{
	struct evbuffer	*sin = bufferevent_get_input(r->s);
	const uint8_t	*p;
	size_t		 len;
	ssize_t		 n = -1;

	if ((len = evbuffer_get_length(sin)) == 0 && !r->s_eof)
		return (0);
	if (len > 0 && r->resp == NULL &&
	    (r->resp = malloc(sizeof(*r->resp))) != NULL)
		http_head_init(r->resp, HTTP_RESPONSE);
	if (len > 0 && r->resp != NULL) {
		if (len > HTTP_HEAD_MAX)
			len = HTTP_HEAD_MAX;
		p = evbuffer_pullup(sin, len);
		if ((n = http_head_parse(r->resp, p, len)) == 0 &&
		    len < HTTP_HEAD_MAX && !r->s_eof)
			return (0);
	}
	r->rp = RP_NONE;
	if (n > 0 && r->resp->status == 204 && !r->s_eof) {
		evbuffer_drain(sin, n);
		/* bound: requests for the CONNECT's origin in origin form */
		r->bound = http_head_get(r->resp, HTTP_BIND_FIELD) != NULL;
	} else {
		log_debug("tunnel %s: %s: no warm-up for %s (an older sc?): "
		    "%s", r->tunnel_id, r->peer, r->host, n <= 0 ?
		    "the stream closed" : r->resp->reason);
		resign_stream_drop(r);
	}
	if (r->resp != NULL) {
		http_head_free(r->resp);
		http_head_init(r->resp, HTTP_RESPONSE);
	}
	return (1);
}

/* The warm-up is for nothing (plain HTTP): its stream goes unanswered. */
void
resign_warm_cancel(struct resign *r)
{
	if (r->rp != RP_WARM)
		return;
	resign_stream_drop(r);
	r->rp = RP_NONE;
}

static void
resign_stream_drop(struct resign *r)
{
	kgp_local_close(r->s);
	r->s = NULL;
	r->s_eof = 0;
	r->bound = 0;
}

/*
 * Whether a request may go on a bound stream, its route's path (origin
 * form) as its target: TLS, to the stream's origin (the CONNECT's host
 * and port, as route_decide_tls() found them), a path that an https://
 * URL may have (no fragment), and a head that names the host (Host):
 * the app reads the head as it is.  Else the caller takes another
 * stream.
 */
static int
resign_bound_origin(const struct resign *r, const struct route *rt)
{
	return (!r->plain && strcasecmp(rt->host, r->host) == 0 &&
	    rt->port == r->port && rt->path[0] == '/' &&
	    strchr(rt->path, '#') == NULL &&
	    http_head_get(r->req, "Host") != NULL);
}

/* An exchange is over: the next request, or the end. */
static void
resign_exchange_end(struct resign *r)
{
	http_head_free(r->req);
	http_head_init(r->req, HTTP_REQUEST);
	http_head_free(r->resp);
	http_head_init(r->resp, HTTP_RESPONSE);
	r->rq = RQ_HEAD;
	r->rp = RP_NONE;
	if (!r->s_keep)
		resign_stream_drop(r);
	if (!r->keep)
		r->state = RESIGN_CLOSING;
}

/* The stream's answers, to the browser. */
int
resign_responses(struct resign *r)
{
	struct evbuffer	*sin;
	int		 moved = 0, more;

	while (r->s != NULL && !r->dead &&
	    evbuffer_get_length(r->out) < RESIGN_BUF_MAX) {
		sin = bufferevent_get_input(r->s);
		if (r->state == RESIGN_TUNNEL) {
			if (evbuffer_get_length(sin) > 0) {
				evbuffer_add_buffer(r->out, sin);
				moved = 1;
			}
			if (r->s_eof)
				r->state = RESIGN_CLOSING;
			break;
		}
		if (r->state != RESIGN_HTTP)
			break;
		switch (r->rp) {
		case RP_NONE:
			if (evbuffer_get_length(sin) > 0) {
				log_info("tunnel %s: %s: the tunnel answered no "
				    "request", r->tunnel_id, r->peer);
				r->dead = 1;
			} else if (r->s_eof)
				resign_stream_drop(r);	/* proxyd let it go */
			return (moved);
		case RP_WARM:
			if (resign_warm_answer(r) == 0)
				return (moved);
			moved = 1;
			continue;
		case RP_HEAD:
			if ((more = resign_response_head(r)) == 0)
				return (moved);
			if (more == -1)
				return (1);
			moved = 1;
			continue;
		case RP_BODY:
			more = 0;
			if (resign_body(sin, r->out, r->rp_body, &r->rp_left,
			    &r->rp_ck, &more) == -1) {
				log_info("tunnel %s: %s: an answer inside TLS "
				    "for %s: %s", r->tunnel_id, r->peer, r->name,
				    r->rp_ck.errstr);
				r->dead = 1;
				return (moved);
			}
			moved |= more;
			if ((r->rp_body == HTTP_BODY_LENGTH && r->rp_left == 0) ||
			    (r->rp_body == HTTP_BODY_CHUNKED &&
			    http_chunked_done(&r->rp_ck)) ||
			    (r->rp_body == HTTP_BODY_CLOSE && r->s_eof &&
			    evbuffer_get_length(sin) == 0)) {
				r->rp = RP_DONE;
				continue;
			}
			if (r->s_eof && evbuffer_get_length(sin) == 0) {
				log_info("tunnel %s: %s: an answer inside TLS "
				    "for %s cut short", r->tunnel_id, r->peer,
				    r->name);
				r->dead = 1;
			}
			return (moved);
		case RP_DONE:
			if (r->rq != RQ_DONE) {
				/* answered before the body was whole */
				if (r->s_eof)
					r->dead = 1;
				return (moved);
			}
			resign_exchange_end(r);
			return (1);
		}
	}
	return (moved);
}

/*
 * The head of an answer from the stream, as the browser gets it: the
 * fields but this hop's, and whether the connection stays.  1 when one
 * went out, 0 when more is needed, -1 when the connection ends.
 */
static int
resign_response_head(struct resign *r)
{
	struct evbuffer		*sin = bufferevent_get_input(r->s);
	const struct http_field	*f;
	const uint8_t		*p;
	const char		*upgrade = NULL;
	size_t			 len, i, cap = HTTP_HEAD_MAX + 4096;
	ssize_t			 n;

	if (r->resp == NULL) {
		if ((r->resp = malloc(sizeof(*r->resp))) == NULL) {
			r->dead = 1;
			return (-1);
		}
		http_head_init(r->resp, HTTP_RESPONSE);
	}
	if ((len = evbuffer_get_length(sin)) == 0) {
		if (r->s_eof) {
			log_info("tunnel %s: %s: %s %s: the tunnel closed "
			    "before the answer", r->tunnel_id, r->peer,
			    r->req->method, r->req->target);
			resign_stream_drop(r);
			if (r->rp_sent)
				r->dead = 1;
			else
				resign_answer(r, 502, "The tunnel closed the "
				    "connection before the answer.");
			return (-1);
		}
		return (0);
	}
	if (len > cap)
		len = cap;
	p = evbuffer_pullup(sin, len);
	if ((n = http_head_parse(r->resp, p, len)) == 0 && len < cap &&
	    !r->s_eof)
		return (0);
	if (n <= 0) {
		log_info("tunnel %s: %s: a bad answer inside TLS for %s: %s",
		    r->tunnel_id, r->peer, r->name, n == 0 ? "cut short" :
		    r->resp->errstr);
		r->dead = 1;
		return (-1);
	}
	evbuffer_drain(sin, n);
	if (r->resp->status == 101 && !r->upgrade) {
		log_info("tunnel %s: %s: a 101 that was not asked for",
		    r->tunnel_id, r->peer);
		r->dead = 1;
		return (-1);
	}
	r->rp_sent = 1;
	/* pieces, not a printf: on the way of every answer */
	ev_put_status(r->out, r->resp->status, r->resp->reason);
	for (i = 0; i < r->resp->nfields; i++) {
		f = &r->resp->fields[i];
		if (strcasecmp(f->name, "Upgrade") == 0)
			upgrade = f->value;
		if (!http_hop_by_hop(r->resp, f->name))
			ev_put_field(r->out, f->name, strlen(f->name),
			    f->value, strlen(f->value));
	}
	if (r->resp->status == 101) {
		if (upgrade == NULL)
			upgrade = "";
		ev_put_field(r->out, "Upgrade", 7, upgrade, strlen(upgrade));
		evbuffer_add(r->out, "Connection: upgrade\r\n\r\n", 23);
		r->state = RESIGN_TUNNEL;
		r->rp = RP_DONE;
		return (1);
	}
	if (r->resp->status / 100 == 1) {
		/* 100 Continue and the like: the real answer follows */
		evbuffer_add(r->out, "\r\n", 2);
		http_head_free(r->resp);
		http_head_init(r->resp, HTTP_RESPONSE);
		return (1);
	}
	r->rp_body = http_body_framing(r->resp, r->req->method, &r->rp_left);
	http_chunked_init(&r->rp_ck);
	if (r->rp_body == HTTP_BODY_CLOSE || !http_keep_alive(r->resp))
		r->s_keep = 0;
	if (r->rp_body == HTTP_BODY_CLOSE)
		r->keep = 0;
	if (!r->keep)
		evbuffer_add(r->out, "Connection: close\r\n", 19);
	else if (r->req->version == 10)
		evbuffer_add(r->out, "Connection: keep-alive\r\n", 24);
	evbuffer_add(r->out, "\r\n", 2);
	r->rp = r->rp_body == HTTP_BODY_NONE ? RP_DONE : RP_BODY;
	return (1);
}
