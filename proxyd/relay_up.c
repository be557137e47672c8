/*
 * The app side of a stream (see relay_int.h): its name resolved (evdns,
 * or none for an address or localhost), each of its addresses tried in
 * turn within the connect timeout, and what the browser is told when
 * none answers: 502 when the name cannot be resolved or no address takes
 * the connection, 504 when connecting takes longer than the timeout.
 * Through an upstream proxy (relay_via.c) it is the proxy's name and
 * address, which the network rules do not judge (the operator named
 * it); the handshake through it runs under the same timer.
 *
 * Below relay_http.c, above relay_move.c.  Back up: up_fail() answers
 * the browser through send_error(), and the sockets made here get
 * relay.c's event callbacks.
 */
#include <sys/types.h>
#include <sys/queue.h>
#include <sys/socket.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/dns.h>
#include <event2/event.h>
#include <event2/util.h>

#include "log.h"
#include "proxyd.h"
#include "relay_int.h"

static int	 up_new_bev(struct stream *);
static void	 up_dns_cb(int, struct evutil_addrinfo *, void *);
static void	 up_resolved(struct stream *, int, struct evutil_addrinfo *);

static void	 up_connect_next(struct stream *);
static void	 up_timeout(evutil_socket_t, short, void *);
static void	 up_resolve(struct stream *);
static int	 up_dns_next(struct stream *);

/* what is dialled: the upstream proxy, or the app */
#define UP_DIAL_HOST(u)	((u)->via != NULL ? (u)->via->host : (u)->host)
#define UP_DIAL_PORT(u)	((u)->via != NULL ? (u)->via->port : (u)->port)
#define UP_WHAT(u)	((u)->via != NULL ? "upstream proxy " : "")

/*
 * Start resolving and connecting (then TLS, for https); the request can
 * be queued at once.
 */
void
up_open(struct stream *s, const char *host, const char *port, int https)
{
	struct upstream		*u = &s->u;

	if (u->host == NULL || strcmp(u->host, host) != 0) {
		free(u->host);
		if ((u->host = strdup(host)) == NULL) {
			up_fail(s, 502, "proxyd: out of memory");
			return;
		}
	}
	strlcpy(u->port, port, sizeof(u->port));
	u->naddr = u->iaddr = 0;
	u->eof = u->shut = u->reusable = u->reused = 0;
	u->lasterr = 0;
	u->denied = NULL;
	u->dns_try = 0;
	u->https = https;
	u->tls = 0;
	u->vtls = NULL;
	u->atls = NULL;
	u->tls_err[0] = '\0';
	if (via_choose(s, host, port, https || s->is_connect) == -1)
		return;
	if ((u->addrs == NULL &&
	    (u->addrs = malloc(sizeof(*u->addrs))) == NULL) ||
	    (u->timer == NULL &&
	    (u->timer = evtimer_new(env->base, up_timeout, s)) == NULL) ||
	    up_new_bev(s) == -1) {
		up_fail(s, 502, "proxyd: out of memory");
		return;
	}
	/* numbers and localhost need no DNS */
	u->naddr = up_literal(u->addrs, UP_DIAL_HOST(u),
	    atoi(UP_DIAL_PORT(u)));
	if (u->naddr > 0) {
		up_timer_set(s, env->connect_timeout_ms);
		up_connect_next(s);
		return;
	}

	up_resolve(s);
}

/*
 * Ask the resolver: the system's, or the u->dns_try'th of --dns, each
 * within its bound.
 */
static void
up_resolve(struct stream *s)
{
	struct upstream		*u = &s->u;
	struct evutil_addrinfo	 hints;
	struct evdns_getaddrinfo_request *req;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_protocol = IPPROTO_TCP;
	u->state = U_RESOLVING;
	up_timer_set(s, env->ndns > 0 ? env->dns_timeout_ms :
	    PROXYD_DNS_TIMEOUT_MS);
	u->in_dns = 1;
	u->dns_now = 0;
	req = evdns_getaddrinfo(env->ndns > 0 ? env->dnsb[u->dns_try] :
	    env->dns, UP_DIAL_HOST(u), UP_DIAL_PORT(u), &hints, up_dns_cb, s);
	u->in_dns = 0;
	if (u->dns_now) {
		/* answered on the spot (hosts file, cache) */
		up_resolved(s, u->dns_result, u->dns_ai);
		return;
	}
	u->dnsreq = req;
}

/*
 * The name server of --dns asked failed or said nothing: ask the next
 * one.  0 when there is one, -1 when they all had their turn.
 */
static int
up_dns_next(struct stream *s)
{
	struct upstream	*u = &s->u;

	if (u->dns_try + 1 >= env->ndns)
		return (-1);
	log_debug("stream %u: name server %s failed for %s, trying %s",
	    s->id, env->dns_name[u->dns_try], u->host,
	    env->dns_name[u->dns_try + 1]);
	if (u->dnsreq != NULL) {
		evdns_getaddrinfo_cancel(u->dnsreq);
		u->dnsreq = NULL;
	}
	u->dns_try++;
	up_resolve(s);
	return (0);
}

/*
 * The addresses of a host that needs no DNS: an IPv4 address in any of
 * the forms browsers take (127.0.0.1, 2130706433, 0x7f.1: inet_aton),
 * an IPv6 address, or localhost (127.0.0.1, then ::1).  Returns how
 * many, 0 for a name.
 */
int
up_literal(struct up_addrs *ua, const char *host, int port)
{
	struct sockaddr_in	*sin = (struct sockaddr_in *)&ua->addr[0];
	struct sockaddr_in6	*sin6 = (struct sockaddr_in6 *)&ua->addr[0];

	memset(ua, 0, sizeof(*ua));
	if (inet_aton(host, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		ua->len[0] = sizeof(*sin);
		return (1);
	}
	if (inet_pton(AF_INET6, host, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(port);
		ua->len[0] = sizeof(*sin6);
		return (1);
	}
	if (strcasecmp(host, "localhost") != 0 &&
	    strcasecmp(host, "localhost.") != 0)
		return (0);
	sin->sin_family = AF_INET;
	sin->sin_port = htons(port);
	sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ua->len[0] = sizeof(*sin);
	sin6 = (struct sockaddr_in6 *)&ua->addr[1];
	sin6->sin6_family = AF_INET6;
	sin6->sin6_port = htons(port);
	sin6->sin6_addr = in6addr_loopback;
	ua->len[1] = sizeof(*sin6);
	return (2);
}

/* A socket for the next address, with what is queued for the app. */
static int
up_new_bev(struct stream *s)
{
	struct bufferevent	*bev;

	if ((bev = bufferevent_socket_new(env->base, -1,
	    BEV_OPT_CLOSE_ON_FREE)) == NULL)
		return (-1);
	bufferevent_setcb(bev, app_read, app_write, app_event, s);
	bufferevent_setwatermark(bev, EV_WRITE, RELAY_WRITE_LOW, 0);
	relay_io_size(bev);
	bufferevent_enable(bev, EV_READ | EV_WRITE);
	if (s->u.bev != NULL) {
		/* what is queued for the app moves over */
		evbuffer_add_buffer(bufferevent_get_output(bev),
		    bufferevent_get_output(s->u.bev));
		bufferevent_free(s->u.bev);
	}
	s->u.bev = bev;
	return (0);
}

static void
up_dns_cb(int result, struct evutil_addrinfo *ai, void *arg)
{
	struct stream	*s = arg;

	if (result == EVUTIL_EAI_CANCEL)
		return;		/* s may be gone */
	if (s->u.in_dns) {
		s->u.dns_now = 1;
		s->u.dns_result = result;
		s->u.dns_ai = ai;
		return;
	}
	s->u.dnsreq = NULL;
	up_resolved(s, result, ai);
}

static void
up_resolved(struct stream *s, int result, struct evutil_addrinfo *ai)
{
	struct upstream		*u = &s->u;

	if (result != 0) {
		if (ai != NULL)
			evutil_freeaddrinfo(ai);
		/* no such name is an answer; anything else, the next server */
		if (result != EVUTIL_EAI_NONAME && up_dns_next(s) == 0)
			return;
		env->stats.dns_failures++;
		if (env->ndns > 0)
			up_fail(s, 502, "proxyd: cannot resolve %s%s: %s (name "
			    "server %s)", UP_WHAT(u), UP_DIAL_HOST(u),
			    evutil_gai_strerror(result),
			    env->dns_name[u->dns_try]);
		else
			up_fail(s, 502, "proxyd: cannot resolve %s%s: %s",
			    UP_WHAT(u), UP_DIAL_HOST(u),
			    evutil_gai_strerror(result));
		return;
	}
	u->naddr = up_addrs_take(u->addrs, ai);
	if (ai != NULL)
		evutil_freeaddrinfo(ai);
	if (u->naddr == 0) {
		env->stats.dns_failures++;
		up_fail(s, 502, "proxyd: cannot resolve %s%s: no address",
		    UP_WHAT(u), UP_DIAL_HOST(u));
		return;
	}
	up_timer_set(s, env->connect_timeout_ms);
	up_connect_next(s);
}

/*
 * The addresses of a name's answer that a connect tries: IPv4 first,
 * then IPv6, PROXYD_MAXADDR at most.  Returns how many.
 */
int
up_addrs_take(struct up_addrs *ua, const struct evutil_addrinfo *ai)
{
	const struct evutil_addrinfo	*a;
	int				 n = 0, pass;

	for (pass = 0; pass < 2; pass++)
		for (a = ai; a != NULL && n < PROXYD_MAXADDR; a = a->ai_next) {
			if (a->ai_family != (pass == 0 ? AF_INET : AF_INET6) ||
			    a->ai_addrlen > sizeof(ua->addr[0]))
				continue;
			memcpy(&ua->addr[n], a->ai_addr, a->ai_addrlen);
			ua->len[n++] = a->ai_addrlen;
		}
	return (n);
}

/* The bound of the step under way: resolving, then connecting. */
void
up_timer_set(struct stream *s, uint32_t ms)
{
	struct timeval	 tv;

	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	evtimer_add(s->u.timer, &tv);
}

/*
 * Try the next address the network rules let proxyd reach; 502 when
 * none is left, 403 when the rules denied every one.
 */
static void
up_connect_next(struct stream *s)
{
	struct upstream		*u = &s->u;
	const struct net_rule	*deny;
	struct sockaddr		*sa;
	int			 i, r;

	while (u->iaddr < u->naddr) {
		i = u->iaddr++;
		sa = (struct sockaddr *)&u->addrs->addr[i];
		if (u->via == NULL &&
		    (deny = proxyopt_net_check(&env->po, sa)) != NULL) {
			if (u->denied == NULL) {
				u->denied = deny;
				inet_ntop(sa->sa_family, sa->sa_family ==
				    AF_INET ? (void *)&((struct sockaddr_in *)
				    sa)->sin_addr : (void *)&((struct
				    sockaddr_in6 *)sa)->sin6_addr,
				    u->denied_addr, sizeof(u->denied_addr));
			}
			continue;
		}
		if (i > 0 && up_new_bev(s) == -1)
			break;
		u->state = U_CONNECTING;
		u->in_connect = 1;
		errno = 0;
		r = bufferevent_socket_connect(u->bev,
		    (struct sockaddr *)&u->addrs->addr[i], u->addrs->len[i]);
		u->in_connect = 0;
		if (r == 0)
			return;
		u->lasterr = errno ? errno : ECONNREFUSED;
	}
	if (u->denied != NULL && u->lasterr == 0) {
		up_fail(s, 403, "proxyd: %s port %s (%s) is not reachable "
		    "through the tunnel: denied by %s", u->host, u->port,
		    u->denied_addr, u->denied->text);
		return;
	}
	up_fail(s, 502, "proxyd: cannot connect to %s%s port %s: %s",
	    UP_WHAT(u), UP_DIAL_HOST(u), UP_DIAL_PORT(u),
	    strerror(u->lasterr ? u->lasterr : ECONNREFUSED));
}

static void
up_timeout(evutil_socket_t fd, short event, void *arg)
{
	struct stream	*s = arg;

	if (s->u.state == U_RESOLVING) {
		if (up_dns_next(s) == 0)
			return;
		env->stats.dns_failures++;
		if (env->ndns > 0)
			up_fail(s, 502, "proxyd: cannot resolve %s%s: no "
			    "answer from name server %s in %u ms",
			    UP_WHAT(&s->u), UP_DIAL_HOST(&s->u),
			    env->dns_name[s->u.dns_try], env->dns_timeout_ms);
		else
			up_fail(s, 502, "proxyd: cannot resolve %s%s: no "
			    "answer from the name servers in %u ms",
			    UP_WHAT(&s->u), UP_DIAL_HOST(&s->u),
			    PROXYD_DNS_TIMEOUT_MS);
		return;
	}
	if (s->u.tls_wait && s->u.vstate == VIA_TLS) {
		up_fail(s, 504, "proxyd: the TLS handshake with upstream proxy "
		    "%s took longer than %u ms", s->u.via->shown,
		    env->tls_timeout_ms);
		return;
	}
	if (s->u.tls_wait) {
		up_fail(s, 504, "proxyd: the TLS handshake with %s port %s "
		    "took longer than %u ms", s->u.host, s->u.port,
		    env->tls_timeout_ms);
		return;
	}
	if (s->u.state == U_HANDSHAKE) {
		up_fail(s, 504, "proxyd: upstream proxy %s did not answer %s "
		    "for %s port %s in %u ms", s->u.via->shown,
		    s->u.vstate == VIA_CONNECT ? "CONNECT" : "the SOCKS "
		    "handshake", s->u.host, s->u.port, env->connect_timeout_ms);
		return;
	}
	if (s->u.state != U_CONNECTING)
		return;
	up_fail(s, 504, "proxyd: connecting to %s%s port %s took longer than "
	    "%u ms", UP_WHAT(&s->u), UP_DIAL_HOST(&s->u), UP_DIAL_PORT(&s->u),
	    env->connect_timeout_ms);
}

/*
 * An event of the app's socket: UP_EV_CONNECTED when it is connected
 * now; UP_EV_CONNECTING when the connect had it (an address failed and
 * the next one is tried, or the browser is told none could be reached);
 * UP_EV_OPEN when it came after the connect, for the caller.  err is the
 * socket's error (0 for none).
 */
enum up_event
up_connect_event(struct stream *s, short what, int err)
{
	struct upstream	*u = &s->u;
	int		 one = 1;

	if (u->in_connect)
		return (UP_EV_CONNECTING); /* bufferevent_socket_connect() */
	if ((what & BEV_EVENT_CONNECTED) && u->vstate == VIA_TLS)
		return (UP_EV_CONNECTED);	/* TLS to the proxy: done */
	if (what & BEV_EVENT_CONNECTED) {
		/*
		 * the timer goes with the addresses: idle streams hold
		 * neither (app_connected: once a proxy's handshake or TLS
		 * is done)
		 */
		u->state = U_OPEN;
		free(u->addrs);
		u->addrs = NULL;
		/* requests and bodies leave in pieces: no Nagle delay */
		setsockopt(bufferevent_getfd(u->bev), IPPROTO_TCP, TCP_NODELAY,
		    &one, sizeof(one));
		log_debug("stream %u: connected to %s%s port %s", s->id,
		    UP_WHAT(u), UP_DIAL_HOST(u), UP_DIAL_PORT(u));
		return (UP_EV_CONNECTED);
	}
	if (u->state == U_CONNECTING) {
		/* this address failed: the next one */
		u->lasterr = err ? err : ECONNREFUSED;
		log_debug("stream %u: connect to %s%s port %s: %s", s->id,
		    UP_WHAT(u), UP_DIAL_HOST(u), UP_DIAL_PORT(u),
		    strerror(u->lasterr));
		up_connect_next(s);
		return (UP_EV_CONNECTING);
	}
	return (UP_EV_OPEN);
}

/*
 * The answer's head is awaited (--http-response-header-timeout): the
 * app's side may be silent that long; a keep-alive connection between
 * requests (--http-idle-conn-timeout) too.
 */
void
up_head_timer(struct stream *s)
{
	struct timeval	 tv;
	uint32_t	 ms;

	if (s->u.bev == NULL || s->u.state != U_OPEN || s->u.tls_wait)
		return;
	ms = s->rs_state == RS_HEAD && !s->is_connect ?
	    env->header_timeout_ms : s->rs_state == RS_IDLE ?
	    env->idle_conn_timeout_ms : 0;
	if (s->u.warm && s->rs_state == RS_IDLE &&
	    (ms == 0 || ms > PROXYD_WARM_MS))
		ms = PROXYD_WARM_MS;
	if (ms == 0) {
		bufferevent_set_timeouts(s->u.bev, NULL, NULL);
		return;
	}
	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	bufferevent_set_timeouts(s->u.bev, &tv, NULL);
}

/* The bound of connecting (and of a proxy's handshake) is done with. */
void
up_timer_stop(struct stream *s)
{
	if (s->u.timer != NULL) {
		event_free(s->u.timer);
		s->u.timer = NULL;
	}
}

void
up_close(struct stream *s)
{
	struct upstream	*u = &s->u;

	if (u->dnsreq != NULL) {
		evdns_getaddrinfo_cancel(u->dnsreq);
		u->dnsreq = NULL;
	}
	up_timer_stop(s);
	lend_stop(s);
	if (u->bev != NULL) {
		relay_drop(s, u->bev);
		bufferevent_free(u->bev);
		u->bev = NULL;
	}
	free(u->addrs);
	u->addrs = NULL;
	u->state = U_NONE;
	u->vstate = VIA_NONE;
	u->tls_wait = 0;
	u->vtls = NULL;
	u->atls = NULL;
	u->reusable = u->reused = u->tls = 0;
	u->eof = u->shut = u->rpaused = u->sj_wait = 0;
	u->warm = u->move_ready = 0;
}

/* The app cannot be reached: answer the client. */
void
up_fail(struct stream *s, int status, const char *fmt, ...)
{
	va_list	 ap;
	char	 msg[RELAY_ERROR_MAX];

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	/* a warm-up's: the request that comes tries again, and hears why */
	if (s->u.warm) {
		log_debug("stream %u: warming up: %s", s->id, msg);
		up_close(s);
		return;
	}
	/* --pac: the answer's next proxy, or DIRECT, may do */
	if (pac_fallback(s, msg))
		return;
	up_close(s);
	send_error(s, status, "%s", msg);
}
