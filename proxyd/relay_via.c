/*
 * The upstream proxy of the application traffic (see relay_int.h): which
 * one a request takes (-x, the environment's, or none), and the
 * handshake that opens a way through it once its socket is connected:
 * CONNECT to an HTTP proxy for a tunnel or an https:// request, the
 * SOCKS version 5 exchange (RFC 1928, user and password RFC 1929) for
 * any request.  A plain http:// request to an HTTP proxy needs none: it
 * goes in absolute form (request_build).  An https:// proxy is the same
 * HTTP proxy inside TLS (relay_tls.c): its handshake comes first, within
 * --http-tls-handshake-timeout, and the bytes of CONNECT go through it.
 *
 * While the handshake runs, what the relay queued for the app waits in
 * the socket's output (its writing is off, u->state is U_HANDSHAKE so
 * nothing is written past it); the few bytes of the handshake go
 * straight to the socket, fresh and empty.  The connect's timer bounds
 * the whole: a proxy that does not answer is a 504, one that refuses
 * (407, a SOCKS error) a 502 that says so.
 *
 * Below relay_up.c (up_open asks via_choose, app_event via_start).
 */
#include <sys/types.h>
#include <sys/queue.h>
#include <sys/socket.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "http.h"
#include "log.h"
#include "proxyd.h"
#include "relay_int.h"

#define VIA_SOCKS_REPLY_MIN	5	/* a reply, to its address's length */
#define VIA_HANDSHAKE_MAX	(2 * 256 + 64)	/* the longest we send */

static int	 via_send(struct stream *, const void *, size_t);
static void	 via_done(struct stream *);
static void	 via_connect_answer(struct stream *);
static void	 via_socks(struct stream *);
static int	 via_socks_request(struct stream *);
static const char *via_socks_error(int);

/*
 * The upstream proxy for this request (u->via, NULL: none).  -1 when the
 * request was answered already (403: its address is denied).
 */
int
via_choose(struct stream *s, const char *host, const char *port, int tls)
{
	struct upstream		*u = &s->u;
	const struct upproxy	*up;
	const struct net_rule	*deny;
	struct up_addrs		 lit;

	u->via = NULL;
	u->vstate = VIA_NONE;
	/* --pac: the entry of the script's answer tried now */
	if ((up = env->pac ? pac_via(s) : proxyopt_upproxy_for(&env->po,
	    host, tls)) == NULL)
		return (0);
	/* localhost: directly, unless --proxy-localhost allow */
	if (proxyopt_is_localhost(host) && !env->local_via)
		return (0);
	/*
	 * The proxy reaches what it is asked: an address the network rules
	 * deny is not asked of it (a name is the proxy's to resolve).
	 */
	if (up_literal(&lit, host, atoi(port)) == 1 &&
	    (deny = proxyopt_net_check(&env->po,
	    (struct sockaddr *)&lit.addr[0])) != NULL) {
		up_fail(s, 403, "proxyd: %s port %s is not reachable through "
		    "the tunnel: denied by %s", host, port, deny->text);
		return (-1);
	}
	u->via = up;
	return (0);
}

/*
 * The proxy's socket is connected: 1 when a handshake began (or failed,
 * and the browser was answered), 0 when the request needs none.
 */
int
via_start(struct stream *s)
{
	struct upstream	*u = &s->u;
	const struct site_auth *a;
	const char	*basic = u->via->basic;
	char		 buf[VIA_HANDSHAKE_MAX + SC_HOST_LEN];
	int		 n;

	if (u->via->tls && u->vstate == VIA_NONE) {
		/* TLS to the proxy first: the filter says when it is done */
		u->state = U_HANDSHAKE;
		u->vstate = VIA_TLS;
		u->tls_wait = 1;
		up_timer_set(s, env->tls_timeout_ms);
		if (up_tls_start(s, 1) == -1)
			up_fail(s, 502, "proxyd: TLS with upstream proxy %s: %s",
			    u->via->shown, u->tls_err);
		return (1);
	}
	if (u->vstate == VIA_TLS) {
		/* ... it is: the bound of the rest is the dial's */
		u->state = U_OPEN;
		u->vstate = VIA_NONE;
		up_timer_set(s, env->connect_timeout_ms);
	}
	if (u->via->scheme == UPX_HTTP && !s->is_connect && !u->https) {
		if (u->via->tls)	/* the request, held until now */
			bufferevent_flush(u->bev, EV_WRITE, BEV_NORMAL);
		return (0);
	}
	/* the request's bytes wait in the output, unwritten */
	bufferevent_disable(u->bev, EV_WRITE);
	u->state = U_HANDSHAKE;
	if (u->via->scheme == UPX_SOCKS5) {
		/* no authentication, and user/password when we have them */
		u->vstate = VIA_SOCKS_METHOD;
		if (u->via->user[0] != '\0')
			via_send(s, "\x05\x02\x00\x02", 4);
		else
			via_send(s, "\x05\x01\x00", 3);
		return (1);
	}
	/* CONNECT; the proxy's credentials from its URL, or from -a */
	if (basic == NULL && (a = proxyopt_auth_find(&env->po, u->via->host,
	    u->via->portnum)) != NULL)
		basic = a->basic;
	n = snprintf(buf, sizeof(buf), "CONNECT %s%s%s:%s HTTP/1.1\r\n"
	    "Host: %s%s%s:%s\r\n%s%s%s\r\n", strchr(u->host, ':') ? "[" : "",
	    u->host, strchr(u->host, ':') ? "]" : "", u->port,
	    strchr(u->host, ':') ? "[" : "", u->host,
	    strchr(u->host, ':') ? "]" : "", u->port,
	    basic ? "Proxy-Authorization: " : "", basic ? basic : "",
	    basic ? "\r\n" : "");
	u->vstate = VIA_CONNECT;
	if (n < 0 || (size_t)n >= sizeof(buf)) {
		up_fail(s, 502, "proxyd: CONNECT to the upstream proxy: too "
		    "long");
		return (1);
	}
	via_send(s, buf, n);
	explicit_bzero(buf, sizeof(buf));
	return (1);
}

/*
 * A handshake's bytes, straight to the fresh socket (through TLS to an
 * https:// proxy): -1 (answered).
 */
static int
via_send(struct stream *s, const void *buf, size_t len)
{
	ssize_t	 n;

	if (s->u.via->tls) {
		if (up_tls_send(s, buf, len) == 0)
			return (0);
		up_fail(s, 502, "proxyd: TLS with upstream proxy %s: %s",
		    s->u.via->shown, s->u.tls_err);
		return (-1);
	}
	n = write(bufferevent_getfd(s->u.bev), buf, len);
	if (n == (ssize_t)len)
		return (0);
	up_fail(s, 502, "proxyd: cannot write to upstream proxy %s: %s",
	    s->u.via->shown, n == -1 ? strerror(errno) : "short write");
	return (-1);
}

/* The handshake is through: the request goes as if connected directly. */
static void
via_done(struct stream *s)
{
	struct upstream	*u = &s->u;

	log_debug("stream %u: through %s to %s port %s", s->id,
	    u->via->shown, u->host, u->port);
	u->vstate = VIA_NONE;
	u->state = U_OPEN;
	bufferevent_enable(u->bev, EV_WRITE);
	/* what the relay queued, held until now (for https://, TLS's) */
	if (u->via->tls && !u->https)
		bufferevent_flush(u->bev, EV_WRITE, BEV_NORMAL);
	app_connected(s);
}

/* The proxy sent bytes during the handshake. */
void
via_read(struct stream *s)
{
	if (s->u.vstate == VIA_CONNECT)
		via_connect_answer(s);
	else
		via_socks(s);
}

/*
 * The answer to CONNECT: 2xx opens the way (bytes past its head are the
 * app's, left in the input); 407 and the rest are the browser's 502.
 */
static void
via_connect_answer(struct stream *s)
{
	struct upstream	*u = &s->u;
	struct evbuffer	*in = bufferevent_get_input(u->bev);
	struct http_head *h = s->resp;
	unsigned char	*p;
	size_t		 len;
	ssize_t		 n;
	int		 status;

	if ((len = evbuffer_get_length(in)) > HTTP_HEAD_MAX + 1)
		len = HTTP_HEAD_MAX + 1;
	if ((p = evbuffer_pullup(in, len)) == NULL) {
		stream_close(s);
		return;
	}
	if ((n = http_head_parse(h, p, len)) == 0)
		return;
	if (n < 0) {
		up_fail(s, 502, "proxyd: upstream proxy %s: bad answer to "
		    "CONNECT: %s", u->via->shown, h->errstr);
		return;
	}
	status = h->status;
	evbuffer_drain(in, n);
	http_head_free(h);
	http_head_init(h, HTTP_RESPONSE);
	if (status / 100 == 2) {
		via_done(s);
		return;
	}
	if (status == 407)
		up_fail(s, 502, "proxyd: upstream proxy %s refused CONNECT "
		    "%s:%s: 407 Proxy Authentication Required (%s)",
		    u->via->shown, u->host, u->port, u->via->basic != NULL ||
		    proxyopt_auth_find(&env->po, u->via->host,
		    u->via->portnum) != NULL ? "the credentials given are "
		    "wrong" : "it wants credentials: user:password@ in -x, "
		    "or -a");
	else
		up_fail(s, status == 504 ? 504 : 502, "proxyd: upstream proxy "
		    "%s answered CONNECT %s:%s with %d %s", u->via->shown,
		    u->host, u->port, status, http_status_text(status));
}

/* The SOCKS exchange: method, then user/password, then the request. */
static void
via_socks(struct stream *s)
{
	struct upstream	*u = &s->u;
	struct evbuffer	*in = bufferevent_get_input(u->bev);
	unsigned char	 b[4], auth[3 + 2 * PROXYOPT_CRED_MAX];
	size_t		 have = evbuffer_get_length(in), need, ul, pl;

	switch (u->vstate) {
	case VIA_SOCKS_METHOD:
		if (have < 2)
			return;
		evbuffer_remove(in, b, 2);
		if (b[0] != 5) {
			up_fail(s, 502, "proxyd: upstream proxy %s does not "
			    "speak SOCKS version 5", u->via->shown);
			return;
		}
		if (b[1] == 0) {
			via_socks_request(s);
			return;
		}
		if (b[1] != 2 || u->via->user[0] == '\0') {
			up_fail(s, 502, "proxyd: upstream proxy %s accepts "
			    "none of our SOCKS methods%s", u->via->shown,
			    u->via->user[0] == '\0' ? " (it may want a user "
			    "and password: socks5://user:password@...)" : "");
			return;
		}
		ul = strlen(u->via->user);
		pl = strlen(u->via->pass);
		auth[0] = 1;
		auth[1] = ul;
		memcpy(auth + 2, u->via->user, ul);
		auth[2 + ul] = pl;
		memcpy(auth + 3 + ul, u->via->pass, pl);
		u->vstate = VIA_SOCKS_AUTH;
		via_send(s, auth, 3 + ul + pl);
		explicit_bzero(auth, sizeof(auth));
		return;
	case VIA_SOCKS_AUTH:
		if (have < 2)
			return;
		evbuffer_remove(in, b, 2);
		if (b[1] != 0) {
			up_fail(s, 502, "proxyd: upstream proxy %s refused the "
			    "SOCKS user and password of %s", u->via->shown,
			    u->via->user);
			return;
		}
		via_socks_request(s);
		return;
	case VIA_SOCKS_REPLY:
		if (have < VIA_SOCKS_REPLY_MIN)
			return;
		evbuffer_copyout(in, b, 4);
		if (b[0] != 5) {
			up_fail(s, 502, "proxyd: upstream proxy %s: a bad SOCKS "
			    "reply", u->via->shown);
			return;
		}
		if (b[1] != 0) {
			up_fail(s, b[1] == 6 ? 504 : 502, "proxyd: upstream "
			    "proxy %s cannot reach %s port %s: %s",
			    u->via->shown, u->host, u->port,
			    via_socks_error(b[1]));
			return;
		}
		if (b[3] == 1)
			need = 4 + 4 + 2;
		else if (b[3] == 4)
			need = 4 + 16 + 2;
		else if (b[3] == 3) {
			evbuffer_copyout(in, auth, 5);
			need = 4 + 1 + auth[4] + 2;
		} else {
			up_fail(s, 502, "proxyd: upstream proxy %s: a bad SOCKS "
			    "address type %d", u->via->shown, b[3]);
			return;
		}
		if (have < need)
			return;
		evbuffer_drain(in, need);
		via_done(s);
		return;
	default:
		return;
	}
}

/* CONNECT host port: the name as it is, for the proxy to resolve. */
static int
via_socks_request(struct stream *s)
{
	struct upstream	*u = &s->u;
	unsigned char	 req[4 + 1 + SC_HOST_LEN + 2];
	struct in_addr	 in;
	struct in6_addr	 in6;
	size_t		 n = 4, hl = strlen(u->host);
	int		 port = atoi(u->port);

	req[0] = 5;
	req[1] = 1;
	req[2] = 0;
	if (inet_pton(AF_INET, u->host, &in) == 1) {
		req[3] = 1;
		memcpy(req + n, &in, 4);
		n += 4;
	} else if (inet_pton(AF_INET6, u->host, &in6) == 1) {
		req[3] = 4;
		memcpy(req + n, &in6, 16);
		n += 16;
	} else {
		if (hl > 255) {
			up_fail(s, 502, "proxyd: a name too long for SOCKS");
			return (-1);
		}
		req[3] = 3;
		req[n++] = hl;
		memcpy(req + n, u->host, hl);
		n += hl;
	}
	req[n++] = port >> 8;
	req[n++] = port & 0xff;
	u->vstate = VIA_SOCKS_REPLY;
	return (via_send(s, req, n));
}

static const char *
via_socks_error(int rep)
{
	static const char	*why[] = {
		"succeeded", "general SOCKS server failure",
		"connection not allowed by ruleset", "network unreachable",
		"host unreachable", "connection refused", "TTL expired",
		"command not supported", "address type not supported"
	};

	if (rep > 0 && rep < (int)(sizeof(why) / sizeof(why[0])))
		return (why[rep]);
	return ("unknown SOCKS error");
}

/* The proxy closed or failed during the handshake. */
void
via_event(struct stream *s, short what, int err)
{
	struct upstream	*u = &s->u;

	if (u->tls_err[0] != '\0') {
		up_fail(s, 502, "proxyd: TLS with upstream proxy %s: %s",
		    u->via->shown, u->tls_err);
		return;
	}
	up_fail(s, 502, "proxyd: upstream proxy %s %s during %s", u->via->shown,
	    (what & BEV_EVENT_EOF) ? "closed the connection" :
	    err != 0 ? strerror(err) : "failed",
	    u->vstate == VIA_TLS ? "the TLS handshake" :
	    u->vstate == VIA_CONNECT ? "CONNECT" : "the SOCKS handshake");
}
