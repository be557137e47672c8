/*
 * The HTTP/1.1 exchange of a stream (see relay_int.h): a request head
 * read from the browser and sent on in origin form to the app it names,
 * its body after it; the answer's head, its fields but the hop-by-hop
 * ones, and its body back; whether the stream and the app's connection
 * are kept for the next exchange; the proxy's own answers when the
 * request is bad or the app cannot be reached.  A CONNECT, or a 101 the
 * browser asked for, ends the exchanges: the stream becomes a tunnel.
 *
 * Below relay.c; calls relay_up.c (open and close the app's connection)
 * and relay_move.c (write, within the shares; splice, tunnel).  Back up,
 * to relay.c, only to end a stream.
 */
#include <sys/types.h>
#include <sys/queue.h>
#include <sys/time.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "evread.h"
#include "http.h"
#include "log.h"
#include "proxyd.h"
#include "relay_int.h"

static ssize_t	 head_read(struct evbuffer *, struct http_head *);
static void	 response_head(struct stream *);
static void	 write_fields(struct evbuffer *, const struct http_head *);
static int	 write_rules(struct evbuffer *, const struct http_head *);
static const struct header_rule *head_rules(const struct http_head *, int *);
static int	 warm_start(struct stream *, const char *, int);
static int	 bound_url(struct stream *, const char *, struct http_url *);

/*
 * Exchanges: one at a time, the stream kept between them or not.
 */
/* The heads go: the stream tunnels or ends. */
void
heads_free(struct stream *s)
{
	free(s->url);
	s->url = NULL;
	if (s->req != NULL) {
		http_head_free(s->req);
		free(s->req);
		s->req = NULL;
	}
	if (s->resp != NULL) {
		http_head_free(s->resp);
		free(s->resp);
		s->resp = NULL;
	}
}

/* Ready for the next request (the idle timeout runs until its head). */
void
exchange_reset(struct stream *s)
{
	struct timeval	 tv;

	if (s->req == NULL || s->resp == NULL)
		return;		/* tunnelling: no more exchanges */
	http_head_free(s->req);
	http_head_free(s->resp);
	s->rq_state = RQ_HEAD;
	s->rs_state = RS_IDLE;
	s->rq_body = s->rs_body = HTTP_BODY_NONE;
	s->rq_left = s->rs_left = 0;
	s->method[0] = '\0';
	free(s->url);
	s->url = NULL;
	s->client_keep = s->want_upgrade = s->is_connect = 0;
	s->rs_started = 0;
	s->u.reused = 0;
	s->gen++;
	if (s->replay != NULL)
		evbuffer_drain(s->replay, evbuffer_get_length(s->replay));
	if (env->idle_timeout_sec > 0) {
		tv.tv_sec = env->idle_timeout_sec;
		tv.tv_usec = 0;
		bufferevent_set_timeouts(s->cbev, &tv, NULL);
	}
}

/* Both the request and its answer are through. */
void
exchange_done(struct stream *s)
{
	if (s->mode != M_HTTP || s->rq_state != RQ_DONE ||
	    s->rs_state != RS_DONE)
		return;
	s->nreq++;
	if (!s->u.reusable || s->u.eof)
		up_close(s);
	if (!s->client_keep || s->c_eof) {
		stream_close_after_flush(s);
		return;
	}
	exchange_reset(s);
	relay_unstall(s);
	if (s->u.bev != NULL) {
		log_debug("stream %u: keeping %s:%s open", s->id, s->u.host,
		    s->u.port);
		up_head_timer(s);
	}
	/* a pipelined request may be waiting already */
	if (evbuffer_get_length(bufferevent_get_input(s->cbev)) > 0)
		request_head(s);
	else if (s->bound != NULL)
		move_tls_start(s, 0);	/* kgpd carries the rest, maybe */
}

/*
 * Requests: browser -> app.
 */

/*
 * What in holds of a head, parsed into h (the same bytes again, and more,
 * each time): the head's length once it is whole (the caller drains it),
 * 0 until then, -1 for a bad head (h->error, h->errstr), -2 when its
 * bytes cannot be looked at (out of memory).
 */
static ssize_t
head_read(struct evbuffer *in, struct http_head *h)
{
	unsigned char	*p;
	size_t		 len;

	if ((len = evbuffer_get_length(in)) == 0)
		return (0);
	/* one byte past the bound: the parser says 431 */
	if (len > HTTP_HEAD_MAX + 1)
		len = HTTP_HEAD_MAX + 1;
	if ((p = evbuffer_pullup(in, len)) == NULL)
		return (-2);
	return (http_head_parse(h, p, len));
}

/* Bytes of a request head came: is it whole, and good? */
void
request_head(struct stream *s)
{
	struct evbuffer	*in = bufferevent_get_input(s->cbev);
	ssize_t		 n;

	if ((n = head_read(in, s->req)) == 0)
		return;
	if (n == -2) {
		stream_close(s);
		return;
	}
	if (n == -1) {
		s->client_keep = 0;
		s->rq_state = RQ_DONE;
		send_error(s, s->req->error, "proxyd: bad request: %s",
		    s->req->errstr);
		return;
	}
	evbuffer_drain(in, n);
	bufferevent_set_timeouts(s->cbev, NULL, NULL);
	request_start(s);
}

/*
 * A whole request head is in s->req: send it on its way.  Called again
 * with the same head when --pac's answer came (relay_pac.c).
 */
void
request_start(struct stream *s)
{
	struct http_head	*h = s->req;
	struct evbuffer		*hb;
	struct http_authority	 ca;
	struct http_url		 url;
	uint64_t		 gen = s->gen;
	const char		*warm;
	int			 reuse, warmed;

	strlcpy(s->method, h->method, sizeof(s->method));
	if (strlen(h->method) >= sizeof(s->method))
		s->method[0] = '_';	/* no method we look at */
	/* the URL, or host:port of a CONNECT: cut, for sc-ctl alone */
	strlcpy(s->target, h->target, sizeof(s->target));
	free(s->url);
	s->url = NULL;
	/* for the debug log alone: not worth a malloc a request otherwise */
	if (log_getverbose() > 0 &&
	    asprintf(&s->url, "%s %s", h->method, h->target) == -1)
		s->url = NULL;
	request_framing(s, h);
	s->rs_state = RS_HEAD;
	http_head_init(s->resp, HTTP_RESPONSE);
	log_debug("stream %u: %s", s->id, s->url ? s->url : "?");

	if (strcmp(h->method, "CONNECT") == 0) {
		s->is_connect = 1;
		s->client_keep = 0;
		s->rq_state = RQ_DONE;
		if (http_parse_authority(h->target, strlen(h->target), 0, 0,
		    &ca) == -1) {
			send_error(s, 400, "proxyd: CONNECT needs host:port: "
			    "%s", ca.errstr);
			return;
		}
		if (pac_wait(s, ca.host, 1))
			return;
		up_close(s);
		up_open(s, ca.host, ca.port, 0);
		return;
	}
	if (strcmp(h->method, "OPTIONS") == 0 && strcmp(h->target, "*") == 0 &&
	    (warm = http_head_get(h, HTTP_WARM_FIELD)) != NULL &&
	    !s->want_upgrade && s->rq_body == HTTP_BODY_NONE &&
	    warm_start(s, warm, http_head_get(h, HTTP_BIND_FIELD) != NULL) ==
	    0)
		return;
	if (h->target[0] == '/' && s->bound != NULL) {
		/* a bound stream's: to its origin */
		if (bound_url(s, h->target, &url) == -1)
			return;
	} else if (h->target[0] == '/' || strcmp(h->target, "*") == 0) {
		s->client_keep = 0;
		send_error(s, 400, "proxyd: this is a proxy: the request "
		    "needs an absolute URL (http://host/path, or https://)");
		return;
	} else if (http_parse_url(h->target, &url) == -1) {
		s->client_keep = 0;
		send_error(s, 400, "proxyd: bad URL: %s", url.auth.errstr);
		return;
	}
	reuse = s->u.bev != NULL && s->u.host != NULL && !s->u.eof &&
	    strcmp(s->u.host, url.auth.host) == 0 &&
	    strcmp(s->u.port, url.auth.port) == 0 && s->u.https == url.tls;
	/* a warm-up's connection: taken as it is, open or on its way */
	warmed = reuse && s->u.warm;
	s->u.warm = s->u.move_ready = 0;
	reuse = reuse && s->u.state == U_OPEN && !s->u.tls_wait &&
	    (s->u.reusable || warmed);
	if (warmed && !reuse)
		log_debug("stream %u: %s port %s, warmed up, still opening",
		    s->id, s->u.host, s->u.port);
	else if (!reuse) {
		if (pac_wait(s, url.auth.host, url.tls))
			return;
		up_close(s);
		up_open(s, url.auth.host, url.auth.port, url.tls);
		/* it may have failed at once, and the exchange be over */
		if (s->mode != M_HTTP || s->gen != gen || s->u.bev == NULL)
			return;
	} else {
		s->u.reused = 1;
		up_head_timer(s);
	}

	if ((hb = evbuffer_new()) == NULL) {
		send_error(s, 502, "proxyd: out of memory");
		return;
	}
	request_build(hb, h, &url, s->want_upgrade, s->u.via);

	/* a reused connection may have been closed under us: retry once */
	if (reuse && s->rq_body == HTTP_BODY_NONE) {
		if (s->replay == NULL)
			s->replay = evbuffer_new();
		if (s->replay != NULL) {
			evbuffer_drain(s->replay,
			    evbuffer_get_length(s->replay));
			evbuffer_add(s->replay, evbuffer_pullup(hb, -1),
			    evbuffer_get_length(hb));
		}
	}
	relay_hold(s, s->u.bev, hb);
	request_pump(s);
	relay_release(s);
}

/*
 * An origin-form request on a bound stream: the URL of its origin and
 * target, in *url (whose strings point into s->url_bound).  -1: answered.
 */
static int
bound_url(struct stream *s, const char *target, struct http_url *url)
{
	free(s->url_bound);
	if (asprintf(&s->url_bound, "%s%s", s->bound, target) == -1) {
		s->url_bound = NULL;
		send_error(s, 502, "proxyd: out of memory");
		return (-1);
	}
	if (http_parse_url(s->url_bound, url) == -1) {
		s->client_keep = 0;
		send_error(s, 400, "proxyd: bad URL: %s", url->auth.errstr);
		return (-1);
	}
	return (0);
}

/*
 * A warm-up (the entry proxy's, sent when a browser's TLS begins there,
 * before its first request): "OPTIONS *" with the field HTTP_WARM_FIELD
 * naming the URL the first request is likely to: answered at once with
 * a 204, and the app's connection (with its TLS) opened for that request,
 * which takes it if it names the same host and port.  Opening it fails
 * quietly: the request then opens its own and hears why.  Unused, it is
 * closed after PROXYD_WARM_MS.  -1: not a URL (the caller answers 400).
 */
static int
warm_start(struct stream *s, const char *target, int bind)
{
	struct http_url	 url;
	const char	*answer = HTTP_WARM_ANSWER;

	if (http_parse_url(target, &url) == -1)
		return (-1);
	if (pac_wait(s, url.auth.host, url.tls))
		return (0);	/* back here with the answer */
	log_debug("stream %u: warming up %s", s->id, target);
	/* bound: https:// only, once, and for kgpd's streams */
	if (bind && url.tls && s->bound == NULL && env->hand_off &&
	    !s->local && s->nreq == 0 &&
	    asprintf(&s->bound, "https://%.*s", (int)url.authlen,
	    url.authority) != -1) {
		answer = HTTP_BIND_ANSWER;
		log_debug("stream %u: bound to %s", s->id, s->bound);
	}
	evbuffer_add(bufferevent_get_output(s->cbev), answer, strlen(answer));
	s->rq_state = RQ_DONE;
	s->rs_state = RS_DONE;
	exchange_reset(s);
	relay_unstall(s);
	if (s->u.bev == NULL || s->u.host == NULL ||
	    strcmp(s->u.host, url.auth.host) != 0 ||
	    strcmp(s->u.port, url.auth.port) != 0 || s->u.https != url.tls) {
		up_close(s);
		s->u.warm = 1;
		up_open(s, url.auth.host, url.auth.port, url.tls);
		if (s->u.bev == NULL)
			s->u.warm = 0;
	}
	/* the first request may be here already */
	if (evbuffer_get_length(bufferevent_get_input(s->cbev)) > 0)
		request_head(s);
	return (0);
}

/*
 * What a request head says of the exchange: its version, whether the
 * browser keeps the stream, whether it asks for an upgrade (HTTP/1.1,
 * and Connection says so too), and how its body is framed.
 */
void
request_framing(struct stream *s, const struct http_head *h)
{
	s->version = h->version;
	s->client_keep = http_keep_alive(h);
	s->want_upgrade = (h->flags & HTTP_F_UPGRADE) &&
	    (h->flags & HTTP_F_CONN_UPGRADE) && h->version == 11;
	s->rq_body = http_body_framing(h, NULL, &s->rq_left);
	s->rq_state = s->rq_body == HTTP_BODY_NONE ? RQ_DONE : RQ_BODY;
	if (s->rq_body == HTTP_BODY_CHUNKED)
		http_chunked_init(&s->rq_ck);
}

/*
 * The head that goes to the app: the request line in origin form, Host
 * as the URL has it (the browser's own Host field goes) or as a header
 * rule sets it, the fields but the hop-by-hop ones as the header rules
 * leave them, the site's credentials when it has some and the request
 * no Authorization, and the upgrade asked for, if any.  To an HTTP
 * upstream proxy (via) a plain http:// request goes in absolute form,
 * with the proxy's credentials.
 */
void
request_build(struct evbuffer *hb, const struct http_head *h,
    const struct http_url *url, int upgrade, const struct upproxy *via)
{
	const struct header_rule	*host;
	const struct site_auth		*a;
	const char			*upg, *pauth = NULL;

	if (via != NULL && (via->scheme != UPX_HTTP || url->tls))
		via = NULL;	/* a SOCKS or CONNECT way: as if direct */
	/* pieces, not a printf: this is on the way of every request */
	evbuffer_add(hb, h->method, strlen(h->method));
	if (via != NULL) {
		evbuffer_add(hb, " http://", 8);
		evbuffer_add(hb, url->authority, url->authlen);
		if ((pauth = via->basic) == NULL && (a = proxyopt_auth_find(
		    &env->po, via->host, via->portnum)) != NULL)
			pauth = a->basic;
		if (url->path[0] != '/')
			evbuffer_add(hb, "/", 1);
	} else
		evbuffer_add(hb, " /", url->path[0] == '/' ? 1 : 2);
	evbuffer_add(hb, url->path, strlen(url->path));
	if (h->version == 10)
		evbuffer_add(hb, " HTTP/1.0\r\nHost: ", 17);
	else
		evbuffer_add(hb, " HTTP/1.1\r\nHost: ", 17);
	host = proxyopt_header_find(env->po.req, env->po.nreq, "Host");
	if (host != NULL && host->op == HR_SET)
		evbuffer_add(hb, host->value, strlen(host->value));
	else
		evbuffer_add(hb, url->authority, url->authlen);
	evbuffer_add(hb, "\r\n", 2);
	write_fields(hb, h);
	/* credentials only where the browser gave none, nor a rule */
	if (env->po.nauth > 0 && !write_rules(NULL, h) &&
	    (http_head_get(h, "Authorization") == NULL ||
	    proxyopt_header_find(env->po.req, env->po.nreq,
	    "Authorization") != NULL) && (a = proxyopt_auth_find(&env->po,
	    url->auth.host, url->auth.portnum)) != NULL)
		ev_put_field(hb, "Authorization", 13, a->basic,
		    strlen(a->basic));
	if (pauth != NULL)
		ev_put_field(hb, "Proxy-Authorization", 19, pauth,
		    strlen(pauth));
	if (upgrade && (upg = http_head_get(h, "Upgrade")) != NULL)
		evbuffer_add_printf(hb, "Connection: Upgrade\r\n"
		    "Upgrade: %s\r\n", upg);
	evbuffer_add(hb, "\r\n", 2);
}

/* The request body, client -> app. */
void
request_pump(struct stream *s)
{
	struct evbuffer	*in, *out;
	unsigned char	*p;
	size_t		 avail, n;
	ssize_t		 r;
	uint64_t	 left;

	if (s->mode != M_HTTP || s->u.bev == NULL)
		return;
	in = bufferevent_get_input(s->cbev);
	out = bufferevent_get_output(s->u.bev);
	while (s->rq_state == RQ_BODY) {
		if (evbuffer_get_length(out) >= relay_share())
			return;
		if ((avail = evbuffer_get_length(in)) == 0)
			break;
		if (s->rq_body == HTTP_BODY_LENGTH) {
			s->rq_left -= move_bytes(s, in, s->u.bev, s->rq_left);
			if (s->rq_left == 0)
				s->rq_state = RQ_DONE;
			continue;
		}
		/* chunked */
		if ((left = http_chunked_data(&s->rq_ck)) > 0) {
			n = move_bytes(s, in, s->u.bev, left);
			http_chunked_consume(&s->rq_ck, n);
			continue;
		}
		n = avail < RELAY_PULLUP ? avail : RELAY_PULLUP;
		if ((p = evbuffer_pullup(in, n)) == NULL ||
		    (r = http_chunked_parse(&s->rq_ck, p, n)) == -1) {
			s->client_keep = 0;
			if (s->rs_started || s->rs_state != RS_HEAD) {
				stream_close_after_flush(s);
				return;
			}
			send_error(s, 400, "proxyd: bad chunked body: %s",
			    s->rq_ck.errstr ? s->rq_ck.errstr : "?");
			return;
		}
		relay_write(s, s->u.bev, in, r);
		if (http_chunked_done(&s->rq_ck))
			s->rq_state = RQ_DONE;
	}
	if (s->rq_state == RQ_DONE)
		exchange_done(s);
}

/*
 * Answers: app -> browser.
 */

/*
 * Responses.
 */
static void
response_head(struct stream *s)
{
	struct evbuffer		*in, *out, *hb;
	struct http_head	*h = s->resp;
	const char		*upg;
	ssize_t			 n;

	in = bufferevent_get_input(s->u.bev);
	out = bufferevent_get_output(s->cbev);
	while (s->mode == M_HTTP && s->rs_state == RS_HEAD) {
		if ((n = head_read(in, h)) == 0)
			return;
		if (n == -2) {
			stream_close(s);
			return;
		}
		if (n == -1) {
			s->u.reusable = 0;
			up_fail(s, 502, "proxyd: bad answer from %s port %s: "
			    "%s", s->u.host, s->u.port, h->errstr);
			return;
		}
		evbuffer_drain(in, n);
		if (s->replay != NULL)
			evbuffer_drain(s->replay,
			    evbuffer_get_length(s->replay));
		if (env->header_timeout_ms > 0)
			bufferevent_set_timeouts(s->u.bev, NULL, NULL);

		if (h->status == 101) {
			if (!s->want_upgrade) {
				up_fail(s, 502, "proxyd: %s port %s switched "
				    "protocols unasked", s->u.host, s->u.port);
				return;
			}
			log_debug("stream %u: %s -> 101, relaying", s->id,
			    s->url ? s->url : "?");
			relay_count(101);
			ev_put_status(out, h->status, h->reason);
			write_fields(out, h);
			if ((upg = http_head_get(h, "Upgrade")) != NULL)
				evbuffer_add_printf(out, "Upgrade: %s\r\n",
				    upg);
			evbuffer_add_printf(out, "Connection: Upgrade\r\n\r\n");
			tunnel_start(s);
			return;
		}
		if (h->status / 100 == 1) {
			/* 100 Continue, 103...: pass on, wait for more */
			if (s->version >= 11) {
				ev_put_status(out, h->status, h->reason);
				write_fields(out, h);
				evbuffer_add(out, "\r\n", 2);
				s->rs_started = 1;
			}
			http_head_free(h);
			continue;
		}

		if (h->status == 407 && s->u.via != NULL &&
		    s->u.via->scheme == UPX_HTTP && !s->u.https) {
			/* the proxy's challenge is not the browser's */
			s->u.reusable = 0;
			up_fail(s, 502, "proxyd: upstream proxy %s refused %s: "
			    "407 Proxy Authentication Required", s->u.via->shown,
			    s->url ? s->url : "the request");
			return;
		}
		response_framing(s, h);
		log_debug("stream %u: %s -> %d", s->id,
		    s->url ? s->url : "?", h->status);
		relay_count(h->status);
		/* built aside, so that it can leave at once */
		if ((hb = evbuffer_new()) == NULL) {
			stream_close(s);
			return;
		}
		response_build(hb, h, s->client_keep, s->version);
		http_head_free(h);
		relay_hold(s, s->cbev, hb);
		if (s->rs_body == HTTP_BODY_NONE) {
			relay_release(s);
			s->rs_state = RS_DONE;
			exchange_done(s);
		} else {
			s->rs_state = RS_BODY;
			response_pump(s);
			relay_release(s);
		}
		return;
	}
}

/*
 * What a final answer's head says of the exchange: how its body is
 * framed (a HEAD's answer has none), whether the app's connection may
 * take the next request, and whether the browser's stream may: not
 * when the body runs until the app closes.
 */
void
response_framing(struct stream *s, const struct http_head *h)
{
	s->rs_body = http_body_framing(h, s->method, &s->rs_left);
	s->u.reusable = http_keep_alive(h) && s->rs_body != HTTP_BODY_CLOSE;
	if (s->rs_body == HTTP_BODY_CLOSE)
		s->client_keep = 0;
	if (s->rs_body == HTTP_BODY_CHUNKED)
		http_chunked_init(&s->rs_ck);
}

/*
 * The head of a final answer to the browser: HTTP/1.1 whatever the app
 * spoke, its fields but the hop-by-hop ones, and the browser told
 * whether the stream stays (HTTP/1.1 keeps it unless told; 1.0 closes
 * it unless told).
 */
void
response_build(struct evbuffer *hb, const struct http_head *h, int keep,
    int version)
{
	ev_put_status(hb, h->status, h->reason);
	write_fields(hb, h);
	if (!keep)
		evbuffer_add(hb, "Connection: close\r\n", 19);
	else if (version == 10)
		evbuffer_add(hb, "Connection: keep-alive\r\n", 24);
	evbuffer_add(hb, "\r\n", 2);
}

/*
 * The app sent bytes: the answer's head or its body, or bytes nobody
 * asked for.  (A CONNECT's app, which may speak first, is not read
 * before its tunnel: connect_established.)
 */
void
exchange_app_read(struct stream *s)
{
	struct evbuffer	*in = bufferevent_get_input(s->u.bev);

	if (s->rs_state == RS_HEAD)
		response_head(s);
	else if (s->rs_state == RS_BODY)
		response_pump(s);
	else {
		/* nothing asked: this connection is not for reuse */
		log_debug("stream %u: %s:%s sent unasked bytes", s->id,
		    s->u.host, s->u.port);
		evbuffer_drain(in, evbuffer_get_length(in));
		if (s->rs_state == RS_IDLE)
			up_close(s);
		else
			s->u.reusable = 0;
	}
}

/* The response body, app -> client. */
void
response_pump(struct stream *s)
{
	struct evbuffer	*in, *out;
	unsigned char	*p;
	size_t		 avail, n;
	ssize_t		 r;
	uint64_t	 left;

	if (s->mode != M_HTTP || s->u.bev == NULL || s->u.sj != NULL ||
	    s->u.lent)
		return;
	in = bufferevent_get_input(s->u.bev);
	out = bufferevent_get_output(s->cbev);
	while (s->rs_state == RS_BODY) {
		if (evbuffer_get_length(out) >= relay_share())
			return;
		if ((avail = evbuffer_get_length(in)) == 0)
			break;
		switch (s->rs_body) {
		case HTTP_BODY_LENGTH:
			s->rs_left -= move_bytes(s, in, s->cbev, s->rs_left);
			if (s->rs_left == 0)
				s->rs_state = RS_DONE;
			break;
		case HTTP_BODY_CLOSE:
			move_bytes(s, in, s->cbev, avail);
			break;
		case HTTP_BODY_CHUNKED:
			if ((left = http_chunked_data(&s->rs_ck)) > 0) {
				n = move_bytes(s, in, s->cbev, left);
				http_chunked_consume(&s->rs_ck, n);
				break;
			}
			n = avail < RELAY_PULLUP ? avail : RELAY_PULLUP;
			if ((p = evbuffer_pullup(in, n)) == NULL ||
			    (r = http_chunked_parse(&s->rs_ck, p, n)) == -1) {
				log_debug("stream %u: bad chunked answer "
				    "from %s port %s: %s", s->id, s->u.host,
				    s->u.port, s->rs_ck.errstr ?
				    s->rs_ck.errstr : "?");
				stream_close_after_flush(s);
				return;
			}
			relay_write(s, s->cbev, in, r);
			if (http_chunked_done(&s->rs_ck))
				s->rs_state = RS_DONE;
			break;
		case HTTP_BODY_NONE:
			s->rs_state = RS_DONE;
			break;
		}
	}
	if (s->rs_state == RS_BODY && s->u.eof &&
	    evbuffer_get_length(in) == 0) {
		if (s->rs_body == HTTP_BODY_CLOSE)
			s->rs_state = RS_DONE;
		else {
			log_debug("stream %u: %s port %s cut the answer short",
			    s->id, s->u.host, s->u.port);
			stream_close_after_flush(s);
			return;
		}
	}
	if (s->rs_state == RS_DONE)
		exchange_done(s);
	else if (s->rs_state == RS_BODY)
		response_splice(s);
}

/*
 * The app's socket closed (EOF) or failed (err) during an exchange: the
 * answer is cut, or never came (a reused connection the app had closed
 * is opened again and the request sent once more), or came whole.
 */
void
exchange_app_event(struct stream *s, short what, int err)
{
	struct upstream	*u = &s->u;

	if (what & BEV_EVENT_EOF)
		u->eof = 1;
	else
		u->reusable = 0;
	switch (s->rs_state) {
	case RS_IDLE:
		log_debug("stream %u: %s port %s closed", s->id, u->host,
		    u->port);
		up_close(s);
		break;
	case RS_HEAD:
		if (what & BEV_EVENT_TIMEOUT) {
			up_fail(s, 504, "proxyd: no answer from %s port %s in "
			    "%u ms (--http-response-header-timeout)", u->host,
			    u->port, env->header_timeout_ms);
			return;
		}
		if (u->tls_err[0] != '\0') {
			up_fail(s, 502, "proxyd: TLS with %s port %s: %s",
			    u->host, u->port, u->tls_err);
			return;
		}
		if (u->reused && !s->rs_started && s->resp->pos == 0 &&
		    s->rq_state == RQ_DONE && s->replay != NULL &&
		    evbuffer_get_length(s->replay) > 0) {
			char	 host[SC_HOST_LEN], port[8];
			uint64_t gen = s->gen;
			int	 https = u->https;

			log_debug("stream %u: %s port %s closed, retrying",
			    s->id, u->host, u->port);
			strlcpy(host, u->host, sizeof(host));
			strlcpy(port, u->port, sizeof(port));
			up_close(s);
			up_open(s, host, port, https);
			if (s->mode == M_HTTP && s->gen == gen &&
			    s->u.bev != NULL)
				evbuffer_add_buffer(
				    bufferevent_get_output(s->u.bev),
				    s->replay);
			return;
		}
		if (what & BEV_EVENT_EOF)
			up_fail(s, 502, "proxyd: %s port %s closed the "
			    "connection without an answer", u->host, u->port);
		else
			up_fail(s, 502, "proxyd: %s port %s: %s", u->host,
			    u->port, strerror(err));
		break;
	case RS_BODY:
		if (what & BEV_EVENT_EOF)
			response_pump(s);
		else
			stream_close_after_flush(s);
		break;
	case RS_DONE:
		/* the answer is through but the request is not */
		stream_close_after_flush(s);
		break;
	}
}

/*
 * Every field but Host and the hop-by-hop ones, each line in one piece,
 * in the one pass over the head: a field a header rule (-H for requests,
 * --response-header for answers) removes or sets is left out, and the
 * fields the rules set follow.
 */
static void
write_fields(struct evbuffer *out, const struct http_head *h)
{
	const struct header_rule	*rules;
	const char			*name, *value;
	size_t				 i;
	int				 n;

	rules = head_rules(h, &n);
	for (i = 0; i < h->nfields; i++) {
		name = h->fields[i].name;
		value = h->fields[i].value;
		if (h->kind == HTTP_REQUEST && strcasecmp(name, "Host") == 0)
			continue;
		if (http_hop_by_hop(h, name))
			continue;
		if (n > 0 && proxyopt_header_find(rules, n, name) != NULL)
			continue;
		ev_put_field(out, name, strlen(name), value, strlen(value));
	}
	if (n > 0)
		write_rules(out, h);
}

/*
 * The fields that the header rules of h's direction set (the last rule
 * of a name wins; Host is request_build's), into out; with out NULL,
 * only whether they set Authorization.
 */
static int
write_rules(struct evbuffer *out, const struct http_head *h)
{
	const struct header_rule	*rules, *r;
	int				 i, j, n, auth = 0;

	rules = head_rules(h, &n);
	for (i = 0; i < n; i++) {
		r = &rules[i];
		if (r->op != HR_SET && r->op != HR_EMPTY)
			continue;
		for (j = i + 1; j < n; j++)
			if ((rules[j].op == HR_SET || rules[j].op == HR_EMPTY) &&
			    strcasecmp(rules[j].name, r->name) == 0)
				break;
		if (j < n || (h->kind == HTTP_REQUEST &&
		    strcasecmp(r->name, "Host") == 0))
			continue;
		if (h->kind == HTTP_REQUEST &&
		    strcasecmp(r->name, "Authorization") == 0)
			auth = 1;
		if (out != NULL)
			ev_put_field(out, r->name, r->namelen,
			    r->op == HR_SET ? r->value : "",
			    r->op == HR_SET ? strlen(r->value) : 0);
	}
	return (auth);
}

/* The header rules of h's direction: -H for requests, -R for answers. */
static const struct header_rule *
head_rules(const struct http_head *h, int *n)
{
	if (h->kind == HTTP_REQUEST) {
		*n = env->po.nreq;
		return (env->po.req);
	}
	*n = env->po.nresp;
	return (env->po.resp);
}

/*
 * The proxy's own answers, and the end of the exchanges.
 */

/*
 * The answer of the proxy itself (400, 502, 504...).  The stream stays
 * open only when the whole request was read and the client wants more.
 */
void
send_error(struct stream *s, int status, const char *fmt, ...)
{
	va_list		 ap;
	char		 msg[RELAY_ERROR_MAX];
	int		 keep;

	if (s->mode != M_HTTP)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_debug("stream %u: %s%s%d %s", s->id, s->url ? s->url : "",
	    s->url ? " -> " : "", status, msg);
	if (s->rs_state == RS_BODY) {
		/* the answer was under way: all we can do is cut it */
		stream_close_after_flush(s);
		return;
	}
	relay_count(status);
	up_close(s);
	keep = error_keep(s, status);
	error_build(bufferevent_get_output(s->cbev), status, msg, keep,
	    strcmp(s->method, "HEAD") == 0);
	if (!keep) {
		stream_close_after_flush(s);
		return;
	}
	s->rs_state = RS_DONE;
	exchange_done(s);
}

/*
 * Is the stream kept after an error answer: only when the whole request
 * was read, the browser wants more, and the request itself was not bad
 * (whatever followed a bad head could be anything).
 */
int
error_keep(const struct stream *s, int status)
{
	return (s->rq_state == RQ_DONE && s->client_keep && !s->c_eof &&
	    !s->is_connect && status != 400 && status != 431);
}

/* The proxy's own answer: msg its text (but to a HEAD), and the framing. */
void
error_build(struct evbuffer *out, int status, const char *msg, int keep,
    int head)
{
	evbuffer_add_printf(out, "HTTP/1.1 %d %s\r\n"
	    "Content-Type: text/plain\r\n"
	    "Content-Length: %zu\r\n"
	    "Connection: %s\r\n"
	    "\r\n", status, http_status_text(status), strlen(msg) + 1,
	    keep ? "keep-alive" : "close");
	if (!head)
		evbuffer_add_printf(out, "%s\n", msg);
}

/* A CONNECT's app is connected: the browser is told, the tunnel opens. */
void
connect_established(struct stream *s)
{
	evbuffer_add_printf(bufferevent_get_output(s->cbev),
	    "HTTP/1.1 200 Connection established\r\n\r\n");
	relay_count(200);
	tunnel_start(s);
}

/* The exchange ends in a tunnel: after a CONNECT, or a 101. */
void
tunnel_start(struct stream *s)
{
	s->mode = M_TUNNEL;
	s->client_keep = 0;
	heads_free(s);
	bufferevent_set_timeouts(s->cbev, NULL, NULL);
	tunnel_move(s, s->cbev, s->u.bev);
	if (s->mode != M_TUNNEL)
		return;
	tunnel_move(s, s->u.bev, s->cbev);
	if (s->mode != M_TUNNEL)
		return;
	tunnel_check(s);
	if (s->mode == M_TUNNEL)
		move_soon(s);
}
