/*
 * The tunnel connections.  The controller opens each TCP connection to
 * the KGP endpoint and hands it to kgpd with its index; kgpd speaks TLS
 * and KGP on it and says when it is up or lost.  Every index has its own
 * connect, timeout, backoff and reconnect timer, so that one connection
 * that breaks is brought back while the others carry on.
 *
 * Through an upstream HTTP proxy (-p with -T, --proxy-sauce) the TCP
 * connection goes to the proxy, which is asked for a tunnel with
 * CONNECT; once it answers 2xx the socket is a plain byte pipe to the
 * KGP endpoint and goes to kgpd as any other.  The answer's head is read
 * with MSG_PEEK first and then exactly its own bytes are taken, so that
 * nothing past it is ever swallowed; a proxy that sends anything past a
 * 2xx head (the TLS server never speaks first) fails the attempt.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <netinet/in.h>
#include <netinet/tcp.h>

#include <ctype.h>
#include <errno.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "config.h"
#include "controller.h"
#include "http.h"
#include "log.h"
#include "text.h"

#define CONNECT_TIMEOUT_SEC	10
#define RECONNECT_FIRST_MS	250	/* first retry after a lost link */
#define RECONNECT_MAX_MS	(30 * 1000)
#define EARLY_FAILURES_MAX	5	/* kgpd failures before the first up */
#ifndef GIVEUP_SEC
#define GIVEUP_SEC		600	/* none up for that long: exit */
#endif
#define PROXY_HEAD_MAX		(8 * 1024)	/* the proxy's answer */
/*
 * A cluster of servers: after so many failed attempts in a row, a
 * connection asks the REST API which server its tunnel's client should
 * connect to now (its node may be gone), each question bounded and
 * asked without blocking the event loop.  One question serves every
 * connection: those that fail while it is under way, or within
 * LINK_ASK_FRESH_MS of its answer, take that answer, so that a round of
 * failed attempts of every connection costs one GET.  While the REST
 * API answers, the next attempt waits LINK_ASK_BACKOFF_MS at most
 * (with the jitter, counted from the answer, so that the connections
 * fail again together and share the next question).
 */
#define LINK_ASK_AFTER		3
#define LINK_ASK_CONNECT_SEC	2
#define LINK_ASK_SEC		4
#define LINK_ASK_BACKOFF_MS	2000
#define LINK_ASK_FRESH_MS	1200
/*
 * Before the tunnel was ever up, a server that refuses the HELLO with
 * code 5 says "try again" (a node of a cluster that has not yet read a
 * tunnel made through another node a moment ago): the connection tries
 * again after LINK_SOON_MS, LINK_SOON_MAX times, before the backoff.
 */
#define LINK_SOON_MS		20
#define LINK_SOON_MAX		10

/* a CONNECT through the upstream proxy, while it is under way */
struct link_proxy {
	char			*req;		/* the request, then wiped */
	size_t			 reqlen;
	size_t			 reqoff;	/* bytes sent */
	struct http_head	 head;
	char			 buf[PROXY_HEAD_MAX];
	size_t			 have;		/* bytes taken off the socket */
	size_t			 total;		/* and before, for 1xx heads */
	struct timespec		 deadline;
};

static struct sc	*env;
static const struct link_cb *link_cb;
/* "Basic base64(user:password)", NULL without credentials */
static char	*proxy_auth;
/* the early connection given to kgpd: where it went, 0: none */
static char	 early_host[SC_HOST_LEN];
static int	 early_port;
static struct child	*early_kgpd;	/* the kgpd it went to: connection 0's */
/* the question to the REST API of where to connect (link_ask()) */
static int		 ask_result;	/* 1: moved, 0: stay, -1: no answer */
static struct timespec	 ask_when;	/* of its answer; 0: none yet */

static void	 link_start(struct link *);
static int	 link_early_end(struct link *);
static void	 link_try(struct link *, const char *);
static void	 link_connect_cb(int, short, void *);
static void	 link_handoff(struct link *, int);
static int	 link_proxied(void);
static void	 link_proxy_init(void);
static void	 proxy_start(struct link *, int);
static void	 proxy_wait(struct link *, short);
static void	 proxy_cb(int, short, void *);
static void	 proxy_io(struct link *);
static int	 proxy_answer(struct link *, size_t);
static void	 proxy_free(struct link *);
static void	 proxy_fail(struct link *, const char *, ...)
		    __attribute__((__format__ (printf, 2, 3)));
static void	 link_cancel(struct link *);
static void	 link_failed(struct link *, const char *);
static void	 link_failed_msg(struct link *, const char *);
static void	 link_schedule(struct link *);
static void	 link_reconnect_cb(int, short, void *);
static void	 link_wait(struct link *, const struct timespec *);
static void	 link_ask(struct link *);
static void	 link_ask_done(void *, int, const struct rest_tunnel *,
		    const char *);
static int	 link_ask_verdict(int, const struct rest_tunnel *,
		    const char *);
static void	 link_ask_apply(struct link *, int);
static void	 link_giveup_cb(int, short, void *);
static void	 link_update_state(void);
static struct link *link_get(uint32_t, const char *);

/* The connections of env; cb: what the controller hears of them. */
void
link_init(struct sc *x_env, const struct link_cb *cb)
{
	struct link	*l;
	uint32_t	 i;

	env = x_env;
	link_cb = cb;
	env->nlinks = env->conf->tunnel_connections;
	if (env->nlinks < 1 || env->nlinks > SC_MAX_CONNECTIONS)
		fatalx("%s: %u connections", __func__, env->nlinks);
	for (i = 0; i < SC_MAX_CONNECTIONS; i++) {
		l = &env->links[i];
		memset(l, 0, sizeof(*l));
		l->index = i;
		l->fd = -1;
		l->backoff_ms = RECONNECT_FIRST_MS;
		if ((l->reconnect_ev = evtimer_new(env->base,
		    link_reconnect_cb, l)) == NULL)
			fatalx("%s: evtimer_new", __func__);
	}
	if ((env->giveup_ev = evtimer_new(env->base, link_giveup_cb,
	    NULL)) == NULL)
		fatalx("%s: evtimer_new", __func__);
	link_proxy_init();
}

/* The tunnel connections go through the upstream proxy. */
static int
link_proxied(void)
{
	const struct sc_config	*conf = env->conf;

	return (conf->proxy_host != NULL && conf->proxy_tunnel);
}

/* The proxy's credentials, ready for each CONNECT; one INFO line. */
static void
link_proxy_init(void)
{
	const struct sc_config	*conf = env->conf;

	if (!link_proxied())
		return;
	if (proxy_auth == NULL && config_proxy_basic(conf, &proxy_auth) == -1)
		fatal("%s", __func__);
	log_info("Tunnel connections go through the proxy %s%s%s:%d (%s)%s",
	    strchr(conf->proxy_host, ':') != NULL ? "[" : "",
	    conf->proxy_host, strchr(conf->proxy_host, ':') != NULL ? "]" : "",
	    conf->proxy_port, conf->proxy_from != NULL ? conf->proxy_from :
	    "proxy", proxy_auth != NULL ? ", with Basic authentication" : "");
}

/* The index of a message from kgpd: one we use, or kgpd is broken. */
static struct link *
link_get(uint32_t index, const char *what)
{
	if (index >= env->nlinks)
		fatalx("kgpd: %s for connection %u of %u", what, index,
		    env->nlinks);
	return (&env->links[index]);
}

/*
 * Before the tunnel is created: a TCP connection to where its KGP
 * endpoint most likely is, the REST API's host at SC_EARLY_KGP_PORT,
 * given to kgpd at once, so that TCP and TLS go while the REST API
 * answers (sc.8, "Start-up").  kgpd sends HELLO once the tunnel is
 * known and its pin matches (link_early_end()).  Not through an upstream
 * proxy, nor with --tunnel-cainfo (the name must be verified during the
 * handshake, before the answer names the host).  The name is resolved
 * here: the REST API's host is a literal address or a name libcurl
 * resolves next anyway.
 */
void
link_early(void)
{
	const struct sc_config	*conf = env->conf;
	struct http_url		 u;
	struct addrinfo		 hints, *res;
	struct kgp_config	 kc;
	char			 port[16];
	int			 fd, on = 1;

	early_port = 0;
	early_kgpd = child_kgpd_of(0);
	if (link_proxied() || env->ca != NULL ||
	    (conf->proxy_host != NULL && conf->proxy_rest) ||
	    !child_ready(early_kgpd->id) ||
	    http_parse_url(conf->rest_url, &u) == -1)
		return;
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	snprintf(port, sizeof(port), "%d", SC_EARLY_KGP_PORT);
	if (getaddrinfo(u.auth.host, port, &hints, &res) != 0)
		return;
	fd = socket(res->ai_family, res->ai_socktype | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, res->ai_protocol);
	if (fd == -1 || (connect(fd, res->ai_addr, res->ai_addrlen) == -1 &&
	    errno != EINPROGRESS)) {
		if (fd != -1)
			close(fd);
		freeaddrinfo(res);
		return;
	}
	freeaddrinfo(res);
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
	kgp_config_base(&kc, u.auth.host, 1);
	if (child_compose(early_kgpd, IMSG_KGP_EARLY, fd, &kc,
	    sizeof(kc)) == -1)
		return;
	/* now: the REST calls that follow block the loop */
	imsg_flush(&early_kgpd->iev.ibuf);
	strlcpy(early_host, u.auth.host, sizeof(early_host));
	early_port = SC_EARLY_KGP_PORT;
	log_debug("early connection to %s:%d, while the tunnel is created",
	    early_host, early_port);
}

/*
 * What every KGP configuration holds: the server's name, the number of
 * connections, the keepalive, the missed acks allowed and the
 * congestion control (the tunnel's, or the early connection's).
 */
void
kgp_config_base(struct kgp_config *kc, const char *server_name,
    uint32_t connections)
{
	memset(kc, 0, sizeof(*kc));
	strlcpy(kc->server_name, server_name, sizeof(kc->server_name));
	kc->connections = connections;
	kc->keepalive_sec = SC_KEEPALIVE_SEC;
	kc->max_missed_acks = env->conf->max_missed_acks;
	strlcpy(kc->congestion, env->conf->kgp_congestion,
	    sizeof(kc->congestion));
}

/*
 * The tunnel is known: the early connection becomes connection l (1) if
 * it went where the tunnel is, or is dropped (0: l connects as usual).
 * Only a connection of the kgpd that holds it (connection 0's) takes it.
 */
static int
link_early_end(struct link *l)
{
	uint32_t	 index = l->index;

	if (early_port == 0 || child_kgpd_of(l->index) != early_kgpd)
		return (0);
	if (strcmp(early_host, env->tunnel.host) != 0 ||
	    early_port != env->tunnel.ssh_port) {
		log_debug("the tunnel is at %s:%d, not %s:%d: the early "
		    "connection is dropped", env->tunnel.host,
		    env->tunnel.ssh_port, early_host, early_port);
		index = SC_EARLY_DROP;
	}
	early_port = 0;
	if (child_compose(early_kgpd, IMSG_KGP_EARLY_END, -1,
	    &index, sizeof(index)) == -1 || index == SC_EARLY_DROP)
		return (0);
	log_debug("connection %u: the early connection to %s:%d", l->index,
	    env->tunnel.host, env->tunnel.ssh_port);
	l->state = LINK_HANDSHAKE;
	if (env->state == SC_STARTING)
		env->state = SC_CONNECTING;
	return (1);
}

/* Every connection from scratch: the first start, or a new kgpd. */
void
link_start_all(void)
{
	uint32_t	 i;

	for (i = 0; i < env->nlinks; i++)
		link_start(&env->links[i]);
}

/* kgpd k is back: its connections (i % nkgpd == k), new ones. */
void
link_start_kgpd(uint32_t k)
{
	uint32_t	 i;

	for (i = k; i < env->nlinks; i += env->nkgpd)
		link_start(&env->links[i]);
}

void
link_cancel_all(void)
{
	uint32_t	 i;

	for (i = 0; i < SC_MAX_CONNECTIONS; i++) {
		link_cancel(&env->links[i]);
		env->links[i].state = LINK_IDLE;
	}
	if (env->giveup_ev != NULL)
		evtimer_del(env->giveup_ev);
}

/* Open a TCP connection to the KGP endpoint; kgpd gets the socket. */
static void
link_start(struct link *l)
{
	const struct sc_config	*conf = env->conf;
	struct addrinfo		 hints;
	const char		*host = env->tunnel.host;
	char			 port[16];
	int			 error;

	if (env->state == SC_STOPPING ||
	    !child_ready(child_kgpd_of(l->index)->id))
		return;
	link_cancel(l);
	if (link_early_end(l))
		return;
	l->state = LINK_CONNECTING;
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	if (link_proxied()) {
		host = conf->proxy_host;
		snprintf(port, sizeof(port), "%d", conf->proxy_port);
		log_debug("connection %u: connecting to the proxy %s:%s "
		    "(for %s:%d)", l->index, host, port, env->tunnel.host,
		    env->tunnel.ssh_port);
	} else {
		snprintf(port, sizeof(port), "%d", env->tunnel.ssh_port);
		log_debug("connection %u: connecting to %s:%s", l->index,
		    host, port);
	}
	if ((error = getaddrinfo(host, port, &hints, &l->ai_list)) != 0) {
		l->ai_list = NULL;
		link_failed(l, gai_strerror(error));
		return;
	}
	l->ai_cur = l->ai_list;
	link_try(l, "no address");
}

/* The next address of the list, or a failure with the last error. */
static void
link_try(struct link *l, const char *lasterr)
{
	struct addrinfo	*ai;
	int		 fd;

	for (; (ai = l->ai_cur) != NULL; l->ai_cur = ai->ai_next) {
		if ((fd = socket(ai->ai_family, ai->ai_socktype |
		    SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol)) == -1) {
			lasterr = strerror(errno);
			continue;
		}
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == -1 &&
		    errno != EINPROGRESS) {
			lasterr = strerror(errno);
			close(fd);
			continue;
		}
		l->fd = fd;
		if ((l->conn_ev = event_new(env->base, fd, EV_WRITE,
		    link_connect_cb, l)) == NULL)
			fatalx("%s: event_new", __func__);
		event_add(l->conn_ev,
		    &(struct timeval){ CONNECT_TIMEOUT_SEC, 0 });
		return;
	}
	link_failed(l, lasterr);
}

static void
link_connect_cb(int fd, short event, void *arg)
{
	struct link	*l = arg;
	socklen_t	 len;
	int		 error = 0, on = 1;
	const char	*why;

	event_free(l->conn_ev);
	l->conn_ev = NULL;
	if (event & EV_TIMEOUT)
		why = "connection timed out";
	else {
		len = sizeof(error);
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &len) == -1)
			error = errno;
		why = error ? strerror(error) : NULL;
	}
	if (why != NULL) {
		close(fd);
		l->fd = -1;
		l->ai_cur = l->ai_cur->ai_next;
		link_try(l, why);
		return;
	}
	l->fd = -1;
	freeaddrinfo(l->ai_list);
	l->ai_list = l->ai_cur = NULL;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
	if (link_proxied()) {
		proxy_start(l, fd);
		return;
	}
	link_handoff(l, fd);
}

/*
 * The connected socket (direct, or through the proxy) goes to the kgpd
 * of its index.
 */
static void
link_handoff(struct link *l, int fd)
{
	struct child	*k = child_kgpd_of(l->index);
	uint32_t	 index = l->index;

	if (!child_ready(k->id)) {
		/* kgpd went away meanwhile; its hello starts over */
		close(fd);
		l->state = LINK_IDLE;
		return;
	}
	log_debug("connection %u: connected to %s:%d%s, handing the socket "
	    "to %s", index, env->tunnel.host, env->tunnel.ssh_port,
	    link_proxied() ? " through the proxy" : "", k->name);
	l->state = LINK_HANDSHAKE;
	child_compose(k, IMSG_KGP_CONNECT, fd, &index, sizeof(index));
	if (env->state == SC_STARTING)
		env->state = SC_CONNECTING;
}

/* Connected to the proxy: ask it for a tunnel to the KGP endpoint. */
static void
proxy_start(struct link *l, int fd)
{
	struct link_proxy	*px;
	const char		*h = env->tunnel.host;
	char			 target[SC_HOST_LEN + 16];
	size_t			 len;
	int			 v6, n;

	if ((px = calloc(1, sizeof(*px))) == NULL)
		fatal("%s", __func__);
	l->proxy = px;
	l->fd = fd;
	http_head_init(&px->head, HTTP_RESPONSE);
	clock_gettime(CLOCK_MONOTONIC, &px->deadline);
	px->deadline.tv_sec += CONNECT_TIMEOUT_SEC;
	if (!config_host_ok(h)) {
		proxy_fail(l, "the tunnel server's host name cannot go into "
		    "a CONNECT request");
		return;
	}
	v6 = strchr(h, ':') != NULL;
	snprintf(target, sizeof(target), "%s%s%s:%d", v6 ? "[" : "", h,
	    v6 ? "]" : "", env->tunnel.ssh_port);
	len = 3 * strlen(target) + 128 +
	    (proxy_auth != NULL ? strlen(proxy_auth) : 0);
	if ((px->req = malloc(len)) == NULL)
		fatal("%s", __func__);
	n = snprintf(px->req, len, "CONNECT %s HTTP/1.1\r\n"
	    "Host: %s\r\n"
	    "%s%s%s"
	    "User-Agent: sc/" SC_VERSION "\r\n"
	    "\r\n", target, target,
	    proxy_auth != NULL ? "Proxy-Authorization: Basic " : "",
	    proxy_auth != NULL ? proxy_auth : "",
	    proxy_auth != NULL ? "\r\n" : "");
	if (n < 0 || (size_t)n >= len)
		fatalx("%s: request too long", __func__);
	px->reqlen = n;
	log_debug("connection %u: connected to the proxy, CONNECT %s%s",
	    l->index, target, proxy_auth != NULL ?
	    " (with Proxy-Authorization)" : "");
	proxy_io(l);
}

/* Wait for the socket, at most until the deadline of the CONNECT. */
static void
proxy_wait(struct link *l, short what)
{
	struct link_proxy	*px = l->proxy;
	struct timespec		 now;
	struct timeval		 tv;
	long long		 ms;

	clock_gettime(CLOCK_MONOTONIC, &now);
	ms = (px->deadline.tv_sec - now.tv_sec) * 1000LL +
	    (px->deadline.tv_nsec - now.tv_nsec) / 1000000;
	if (ms < 1)
		ms = 1;
	tv.tv_sec = ms / 1000;
	tv.tv_usec = ms % 1000 * 1000;
	if ((l->conn_ev = event_new(env->base, l->fd, what, proxy_cb,
	    l)) == NULL)
		fatalx("%s: event_new", __func__);
	event_add(l->conn_ev, &tv);
}

static void
proxy_cb(int fd, short event, void *arg)
{
	struct link	*l = arg;

	event_free(l->conn_ev);
	l->conn_ev = NULL;
	if (event & EV_TIMEOUT) {
		proxy_fail(l, "the proxy %s within %d seconds",
		    l->proxy->reqoff < l->proxy->reqlen ?
		    "took no request" : "gave no answer", CONNECT_TIMEOUT_SEC);
		return;
	}
	proxy_io(l);
}

/*
 * Send what is left of the request, then read the answer: look at what
 * is there (MSG_PEEK), parse, and take off the socket only the bytes
 * the head is made of.
 */
static void
proxy_io(struct link *l)
{
	struct link_proxy	*px = l->proxy;
	ssize_t			 n, r;
	size_t			 extra;

	while (px->reqoff < px->reqlen) {
		n = send(l->fd, px->req + px->reqoff,
		    px->reqlen - px->reqoff, MSG_NOSIGNAL);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			proxy_wait(l, EV_WRITE);
			return;
		}
		if (n == -1) {
			proxy_fail(l, "cannot send the CONNECT request to the "
			    "proxy: %s", strerror(errno));
			return;
		}
		px->reqoff += n;
		if (px->reqoff == px->reqlen) {
			explicit_bzero(px->req, px->reqlen);
			free(px->req);
			px->req = NULL;
		}
	}

	for (;;) {
		if (px->have == sizeof(px->buf) ||
		    px->total + px->have >= PROXY_HEAD_MAX) {
			proxy_fail(l, "the proxy's answer is longer than %d "
			    "bytes", PROXY_HEAD_MAX);
			return;
		}
		n = recv(l->fd, px->buf + px->have,
		    PROXY_HEAD_MAX - px->total - px->have, MSG_PEEK);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			proxy_wait(l, EV_READ);
			return;
		}
		if (n == -1) {
			proxy_fail(l, "no answer from the proxy: %s",
			    strerror(errno));
			return;
		}
		if (n == 0) {
			proxy_fail(l, "the proxy closed the connection "
			    "without an answer");
			return;
		}
		r = http_head_parse(&px->head, px->buf, px->have + n);
		if (r == -1) {
			proxy_fail(l, "the proxy's answer is not HTTP: %s",
			    px->head.errstr != NULL ? px->head.errstr :
			    "bad head");
			return;
		}
		if (r == 0) {
			/* all of it is head: take it */
			if (recv(l->fd, px->buf + px->have, n, 0) != n) {
				proxy_fail(l, "cannot read the proxy's answer");
				return;
			}
			px->have += n;
			continue;
		}
		/* the head ends inside what is there: take just that */
		if (recv(l->fd, px->buf + px->have, r - px->have, 0) !=
		    (ssize_t)(r - px->have)) {
			proxy_fail(l, "cannot read the proxy's answer");
			return;
		}
		extra = px->have + n - r;
		px->have = r;
		if (proxy_answer(l, extra) == 1)
			continue;	/* an interim 1xx: the next head */
		return;
	}
}

/*
 * The head of the proxy's answer, with extra bytes seen past it.
 * Returns 1 to read the next head (an interim 1xx answer), else 0 (the
 * attempt succeeded or failed).
 */
static int
proxy_answer(struct link *l, size_t extra)
{
	struct link_proxy	*px = l->proxy;
	char			 reason[64];
	const char		*rs;
	int			 status = px->head.status, fd;

	if (status >= 100 && status < 200 && status != 101) {
		px->total += px->have;
		http_head_free(&px->head);
		http_head_init(&px->head, HTTP_RESPONSE);
		px->have = 0;
		return (1);
	}
	if (status >= 200 && status < 300) {
		if (extra > 0) {
			proxy_fail(l, "the proxy sent %zu bytes past its %d "
			    "answer", extra, status);
			return (0);
		}
		log_debug("connection %u: the proxy opened the tunnel (%d)",
		    l->index, status);
		fd = l->fd;
		l->fd = -1;
		proxy_free(l);
		link_handoff(l, fd);
		return (0);
	}
	/* the reason as the proxy gave it, printable, or the usual one */
	rs = px->head.reason != NULL ? px->head.reason : "";
	log_sanitize(rs, reason, sizeof(reason));
	if (reason[0] == '\0')
		strlcpy(reason, status == 407 ? "Proxy Authentication "
		    "Required" : http_status_text(status), sizeof(reason));
	proxy_fail(l, "the proxy refused the tunnel connection: %d %s%s",
	    status, reason, status != 407 ? "" : proxy_auth != NULL ?
	    " (check the proxy user and password)" :
	    " (it wants a user and password)");
	return (0);
}

static void
proxy_free(struct link *l)
{
	struct link_proxy	*px = l->proxy;

	if (px == NULL)
		return;
	if (px->req != NULL) {
		explicit_bzero(px->req, px->reqlen);
		free(px->req);
	}
	http_head_free(&px->head);
	free(px);
	l->proxy = NULL;
}

/* This attempt through the proxy failed: close, say why, go on. */
static void
proxy_fail(struct link *l, const char *fmt, ...)
{
	va_list	 ap;
	char	 msg[512];

	env->proxy_failures++;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (l->conn_ev != NULL) {
		event_free(l->conn_ev);
		l->conn_ev = NULL;
	}
	if (l->fd != -1) {
		close(l->fd);
		l->fd = -1;
	}
	proxy_free(l);
	link_failed_msg(l, msg);
}

/* Stop what is under way for this connection (not kgpd's side). */
static void
link_cancel(struct link *l)
{
	if (l->conn_ev != NULL) {
		event_free(l->conn_ev);
		l->conn_ev = NULL;
	}
	if (l->fd != -1) {
		close(l->fd);
		l->fd = -1;
	}
	if (l->ai_list != NULL) {
		freeaddrinfo(l->ai_list);
		l->ai_list = l->ai_cur = NULL;
	}
	proxy_free(l);
	if (l->reconnect_ev != NULL)
		evtimer_del(l->reconnect_ev);
}

/* The TCP connect failed (to the tunnel server, or to the proxy). */
static void
link_failed(struct link *l, const char *why)
{
	const struct sc_config	*conf = env->conf;
	char			 msg[768];

	if (link_proxied())
		snprintf(msg, sizeof(msg), "cannot connect to the proxy at "
		    "%s:%d (for the tunnel server at %s:%d): %s",
		    conf->proxy_host, conf->proxy_port, env->tunnel.host,
		    env->tunnel.ssh_port, why);
	else
		snprintf(msg, sizeof(msg), "cannot connect to the tunnel "
		    "server at %s:%d: %s", env->tunnel.host,
		    env->tunnel.ssh_port, why);
	link_failed_msg(l, msg);
}

/*
 * An attempt failed.  Before the tunnel was ever up that ends sc (the
 * settings are wrong, most likely); after, it is logged and retried
 * with the backoff.
 */
static void
link_failed_msg(struct link *l, const char *msg)
{
	if (l->ai_list != NULL) {
		freeaddrinfo(l->ai_list);
		l->ai_list = l->ai_cur = NULL;
	}
	if (!env->ever_up) {
		sc_error("%s", msg);
		link_cb->stop(1);
		return;
	}
	log_warnx("connection %u: %s", l->index, msg);
	link_schedule(l);
}

/*
 * The next attempt: quick at first (a server that restarts is back in a
 * moment), then doubling up to the cap, each delay with up to a quarter
 * of random jitter either way so that many connections do not come back
 * at the same instant.
 */
static void
link_schedule(struct link *l)
{
	l->state = LINK_WAITING;
	if (env->ever_up && ++l->fails >= LINK_ASK_AFTER)
		link_ask(l);
	link_wait(l, NULL);
	link_update_state();
}

/*
 * l's reconnect timer from its backoff, the delay counted from *from
 * (NULL: now), and the backoff doubled for the next time.
 */
static void
link_wait(struct link *l, const struct timespec *from)
{
	struct timespec	 now;
	long		 ms;

	ms = l->backoff_ms - l->backoff_ms / 4 +
	    (long)arc4random_uniform(l->backoff_ms / 2 + 1);
	if (ms > RECONNECT_MAX_MS)
		ms = RECONNECT_MAX_MS;
	if (from != NULL) {
		clock_gettime(CLOCK_MONOTONIC, &now);
		ms -= (now.tv_sec - from->tv_sec) * 1000 +
		    (now.tv_nsec - from->tv_nsec) / 1000000;
		if (ms < 0)
			ms = 0;
	}
	log_info("Reconnecting in %ld.%02ld seconds (connection %u)",
	    ms / 1000, ms % 1000 / 10, l->index);
	timer_add(l->reconnect_ev, ms / 1000, ms % 1000 * 1000);
	l->wait_ms = ms;
	l->backoff_ms *= 2;
	if (l->backoff_ms > RECONNECT_MAX_MS)
		l->backoff_ms = RECONNECT_MAX_MS;
}

/*
 * The server connection l failed on may be gone for good (a node of a
 * cluster killed, drained): the REST API names the server the tunnel's
 * client should connect to now.  An answer of the last
 * LINK_ASK_FRESH_MS serves at once; else l waits for the question
 * under way, or starts it.
 */
static void
link_ask(struct link *l)
{
	struct timespec	 now;
	long long	 age;

	clock_gettime(CLOCK_MONOTONIC, &now);
	age = (now.tv_sec - ask_when.tv_sec) * 1000LL +
	    (now.tv_nsec - ask_when.tv_nsec) / 1000000;
	if (ask_when.tv_sec != 0 && age >= 0 && age < LINK_ASK_FRESH_MS &&
	    !rest_get_busy()) {
		link_ask_apply(l, ask_result);
		return;
	}
	l->asking = 1;
	if (rest_get_busy())
		return;
	if (rest_get_async(env->base, env->tunnel.id, LINK_ASK_CONNECT_SEC,
	    LINK_ASK_SEC, link_ask_done, NULL) == -1) {
		log_debug("connection %u: cannot ask the REST API where to "
		    "connect", l->index);
		l->asking = 0;
	}
}

/*
 * The REST API's answer (or none): taken by every connection that
 * waits for it, and kept for those that fail in the next
 * LINK_ASK_FRESH_MS.
 */
static void
link_ask_done(void *arg, int ret, const struct rest_tunnel *t,
    const char *err)
{
	struct link	*l;
	uint32_t	 i;

	clock_gettime(CLOCK_MONOTONIC, &ask_when);
	ask_result = link_ask_verdict(ret, t, err);
	for (i = 0; i < env->nlinks; i++) {
		l = &env->links[i];
		if (!l->asking)
			continue;
		l->asking = 0;
		if (l->state != LINK_WAITING || env->state == SC_STOPPING)
			continue;
		if (ask_result == 1) {
			link_ask_apply(l, 1);
			link_wait(l, NULL);
		} else if (ask_result == 0 &&
		    l->wait_ms > LINK_ASK_BACKOFF_MS) {
			link_ask_apply(l, 0);
			link_wait(l, &ask_when);
		}
	}
}

/*
 * What the answer means: 1: the tunnel's client connects elsewhere now
 * (env's tunnel server changed), 0: to the same server, -1: no answer.
 */
static int
link_ask_verdict(int ret, const struct rest_tunnel *t, const char *err)
{
	if (ret != REST_OK) {
		log_debug("the REST API does not say where to connect: %s",
		    err);
		return (-1);
	}
	if (strcmp(t->status, "running") != 0 || t->host[0] == '\0' ||
	    t->ssh_port <= 0)
		return (-1);
	if (strcmp(t->host, env->tunnel.host) == 0 &&
	    t->ssh_port == env->tunnel.ssh_port)
		return (0);
	if (env->ca == NULL && t->cert_sha256[0] != '\0' &&
	    strcasecmp(t->cert_sha256, env->tunnel.cert_sha256) != 0) {
		log_warnx("the REST API names the tunnel server %s:%d, whose "
		    "certificate is not the one pinned (the servers of a "
		    "cluster share one key pair): staying", t->host,
		    t->ssh_port);
		return (0);
	}
	log_info("Moving to the tunnel server at %s:%d, as the REST API "
	    "says (the connections could not reach %s:%d)", t->host,
	    t->ssh_port, env->tunnel.host, env->tunnel.ssh_port);
	strlcpy(env->tunnel.host, t->host, sizeof(env->tunnel.host));
	env->tunnel.ssh_port = t->ssh_port;
	return (1);
}

/* An answer (link_ask_verdict()) for l's next wait. */
static void
link_ask_apply(struct link *l, int verdict)
{
	switch (verdict) {
	case 1:
		l->fails = 0;
		l->backoff_ms = RECONNECT_FIRST_MS;
		break;
	case 0:
		if (l->backoff_ms > LINK_ASK_BACKOFF_MS)
			l->backoff_ms = LINK_ASK_BACKOFF_MS;
		break;
	}
}

static void
link_reconnect_cb(int fd, short event, void *arg)
{
	link_start(arg);
}

/*
 * The tunnel's state from its connections: up while one is; after the
 * first up, with none up, reconnecting, bounded by GIVEUP_SEC.
 */
static void
link_update_state(void)
{
	uint32_t	 i;

	if (env->state == SC_STOPPING)
		return;
	for (i = 0; i < env->nlinks; i++) {
		if (env->links[i].state == LINK_UP) {
			env->state = SC_UP;
			evtimer_del(env->giveup_ev);
			return;
		}
	}
	if (!env->ever_up) {
		if (env->state != SC_STARTING)
			env->state = SC_CONNECTING;
		return;
	}
	env->state = SC_RECONNECTING;
	if (!evtimer_pending(env->giveup_ev, NULL))
		timer_add(env->giveup_ev, GIVEUP_SEC, 0);
}

static void
link_giveup_cb(int fd, short event, void *arg)
{
	if (env->state != SC_RECONNECTING)
		return;
	sc_error("no tunnel connection for %d s", GIVEUP_SEC);
	link_cb->stop(1);
}

/* kgpd: IMSG_KGP_UP */
void
link_up(const struct kgp_link_event *ev)
{
	struct link	*l = link_get(ev->index, "IMSG_KGP_UP");
	struct timespec	 now;
	long long	 ms;

	if (env->state == SC_STOPPING)
		return;
	link_cancel(l);
	if (!l->ever_up)
		log_info("Tunnel connection %u up", l->index);
	else if (ev->resumed) {
		clock_gettime(CLOCK_MONOTONIC, &now);
		ms = (now.tv_sec - l->lost.tv_sec) * 1000LL +
		    (now.tv_nsec - l->lost.tv_nsec) / 1000000;
		if (l->lost.tv_sec == 0 || ms < 0)
			ms = 0;
		log_info("Tunnel connection %u resumed after %lld.%02lld s, "
		    "%llu bytes retransmitted", l->index, ms / 1000,
		    ms % 1000 / 10, (unsigned long long)ev->retransmitted);
	} else
		log_info("Tunnel connection %u re-established", l->index);
	l->state = LINK_UP;
	l->ever_up = 1;
	l->fails = 0;
	l->backoff_ms = RECONNECT_FIRST_MS;
	l->lost.tv_sec = l->lost.tv_nsec = 0;
	env->early_failures = 0;
	link_update_state();
	if (!env->ever_up) {
		env->ever_up = 1;
		if (link_cb->ready() == -1)
			return;
		sc_console(LOG_INFO,
		    "Sauce Connect is up, you may start your tests.");
		link_cb->up();
	}
}

/* kgpd: IMSG_KGP_DOWN.  Resumable or not, the index is reconnected. */
void
link_down(const struct kgp_link_event *ev)
{
	struct link	*l = link_get(ev->index, "IMSG_KGP_DOWN");
	int		 was_up = l->state == LINK_UP;

	if (env->state == SC_STOPPING) {
		log_debug("tunnel connection %u closed: %s", l->index,
		    ev->reason);
		return;
	}
	log_info("Tunnel connection %u lost: %s%s", l->index, ev->reason,
	    ev->resumable ? "; resuming" : "");
	if (l->state == LINK_CONNECTING || l->state == LINK_WAITING) {
		/* already on its way back */
		return;
	}
	if (was_up) {
		env->reconnects++;
		clock_gettime(CLOCK_MONOTONIC, &l->lost);
	}
	if (!env->ever_up && !was_up && ev->code == KGP_E_SHUTDOWN &&
	    l->soon < LINK_SOON_MAX) {
		l->soon++;
		l->state = LINK_WAITING;
		log_info("Reconnecting in 0.%02d seconds (connection %u: the "
		    "server says try again)", LINK_SOON_MS / 10, l->index);
		timer_add(l->reconnect_ev, 0, LINK_SOON_MS * 1000);
		link_update_state();
		return;
	}
	if (!env->ever_up &&
	    ++env->early_failures >= EARLY_FAILURES_MAX) {
		sc_error("cannot establish the tunnel connection: %s",
		    ev->reason);
		link_cb->stop(1);
		return;
	}
	link_schedule(l);
}

/*
 * kgpd is gone, and every connection and session with it: count the
 * connections that were up as breaks; the new kgpd's hello reconnects
 * them all (fresh sessions).
 */
void
link_kgpd_died(uint32_t k)
{
	struct link	*l;
	uint32_t	 i;

	if (early_port != 0 && child_kgpd_of(k) == early_kgpd)
		early_port = 0;	/* the new kgpd never had it */
	for (i = k; i < env->nlinks; i += env->nkgpd) {
		l = &env->links[i];
		if (l->state == LINK_UP) {
			env->reconnects++;
			clock_gettime(CLOCK_MONOTONIC, &l->lost);
		}
		link_cancel(l);
		l->state = LINK_IDLE;
		memset(&env->link_stats[i], 0, sizeof(env->link_stats[i]));
	}
	link_update_state();
}

/*
 * Every connection as sc-ctl shows it: kgpd's figures, with the state
 * "connecting" while the controller is connecting that index or waiting
 * to.  Returns the number of entries.
 */
uint32_t
link_status(struct sc_link_stats *ls)
{
	struct link	*l;
	uint32_t	 i;

	for (i = 0; i < env->nlinks; i++) {
		l = &env->links[i];
		if (i < env->nlink_stats)
			ls[i] = env->link_stats[i];
		else {
			memset(&ls[i], 0, sizeof(ls[i]));
			ls[i].state = SC_LINK_NONE;
		}
		ls[i].index = i;
		ls[i].pid = child_kgpd_of(i)->pid;
		if (ls[i].state != SC_LINK_UP &&
		    (l->state == LINK_CONNECTING ||
		    l->state == LINK_WAITING || l->state == LINK_HANDSHAKE))
			ls[i].state = SC_LINK_CONNECTING;
	}
	return (env->nlinks);
}

/*
 * The server ended the tunnel for good (it is gone, or its connections
 * are refused).  Ask the REST API what became of the tunnel, to tell
 * the user why, then stop.
 */
void
link_fatal(const char *why)
{
	struct rest_tunnel	 t;
	char			 err[1024];
	int			 ret;

	rest_set_timeouts(STOP_CONNECT_SEC, STOP_REQUEST_SEC);
	rest_set_deadline(time(NULL) + STOP_REQUEST_SEC);
	ret = rest_get(env->tunnel.id, &t, err, sizeof(err));
	if (ret == REST_ENOTFOUND) {
		sc_error("the tunnel server no longer knows tunnel %s (was it "
		    "restarted?): %s", env->tunnel.id, why);
		env->tunnel_created = 0;
	} else if (ret == REST_OK && (strcmp(t.status, "terminated") == 0 ||
	    strcmp(t.status, "halting") == 0)) {
		if (t.user_shutdown)
			sc_error("tunnel %s was terminated on the server: it "
			    "was deleted, or removed by another sc started "
			    "with the same tunnel name (%s)",
			    env->tunnel.id, why);
		else
			sc_error("tunnel %s was terminated on the server: its "
			    "link was down for longer than the server's grace "
			    "period (%s)", env->tunnel.id, why);
		env->tunnel_created = 0;
	} else
		sc_error("the tunnel server refused the tunnel connection: %s",
		    why);
	link_cb->stop(1);
}
