/*
 * Direct connections: what a tunnel's traffic rules send straight to the
 * origin (its direct domains, or all but its tunnel domains) is
 * connected from here, on the server's own network with its own
 * resolver (evdns, /etc/resolv.conf and /etc/hosts read at start), and
 * never goes down the tunnel.
 *
 * A CONNECT is answered 200 once the origin is connected, then the bytes
 * go both ways untouched.  An absolute-form request goes to the origin
 * in origin form, with "Connection: close" (the browser's next request
 * comes on a new connection and is decided again); an upgrade
 * (WebSocket) keeps its Upgrade and becomes a tunnel.
 *
 * Bounds: DIRECT_DNS_SEC for the name, DIRECT_CONNECT_SEC for each
 * address, DIRECT_IDLE_SEC without a byte either way, DIRECT_BUF_MAX
 * bytes buffered each way (reading stops until they are written),
 * DIRECT_MAX_TUNNEL connections of one tunnel at once.  A failure is a
 * 502 that says why.  The origin's address must not be the server's own
 * (loopback), nor private, link-local, shared or multicast, unless the
 * operator allows its network with -D: a browser must not reach the
 * services of the server's own network through a tunnel's rules.
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
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/dns.h>
#include <event2/event.h>
#include <event2/util.h>

#include "http.h"
#include "log.h"
#include "server.h"

enum direct_state {
	DIRECT_DNS,		/* the name is being resolved */
	DIRECT_RESOLVED,	/* ... it is (or it failed) */
	DIRECT_CONNECTING,
	DIRECT_OPEN		/* bytes go both ways */
};

struct direct {
	TAILQ_ENTRY(direct)	 entry;
	char			 tunnel_id[TUNNEL_ID_LEN + 1];
	char			 peer[ADDRSTR_MAX];
	char			 host[HOST_MAX];
	char			 port[8];
	enum direct_state	 state;
	int			 connect;	/* a CONNECT */
	int			 bfd;		/* the browser, until open */
	struct bufferevent	*local;		/* ... or its in-process end */
	struct bufferevent	*b;		/* the browser, once open */
	int			 b_local;	/* b is an in-process end */
	struct bufferevent	*o;		/* the origin */
	struct evbuffer		*first;		/* for the origin, first */
	struct evdns_getaddrinfo_request *dnsreq;
	struct evutil_addrinfo	*ai, *aicur;
	int			 gai_error;
	int			 refused;	/* addresses not allowed */
	int			 last_errno;
	struct event		*timer;		/* DNS, connect; idle */
	time_t			 last;		/* a byte moved */
	int			 b_eof, o_eof;	/* each side's end read */
};

static TAILQ_HEAD(, direct)	 directs = TAILQ_HEAD_INITIALIZER(directs);
static struct evdns_base	*direct_dns;

static void	 direct_resolved(int, struct evutil_addrinfo *, void *);
static void	 direct_timer(int, short, void *);
static void	 direct_next(struct direct *);
static void	 direct_next_addr(struct direct *, int);
static void	 direct_fail(struct direct *, int, const char *);
static void	 direct_free(struct direct *);
static void	 direct_origin_event(struct bufferevent *, short, void *);
static void	 direct_read(struct bufferevent *, void *);
static void	 direct_write(struct bufferevent *, void *);
static void	 direct_event(struct bufferevent *, short, void *);
static int	 direct_addr_allowed(const struct sockaddr *);
static void	 direct_shut(struct direct *, struct bufferevent *);

/*
 * The resolver of direct connections: its files are read now, before
 * the sandbox.  A name that no server answers costs DIRECT_DNS_SEC.
 */
void
direct_init(void)
{
	if ((direct_dns = evdns_base_new(env->base,
	    EVDNS_BASE_INITIALIZE_NAMESERVERS)) == NULL)
		fatalx("%s: evdns_base_new", __func__);
	if (evdns_base_load_hosts(direct_dns, "/etc/hosts") != 0)
		log_debug("%s: /etc/hosts not loaded", __func__);
	if (evdns_base_set_option(direct_dns, "timeout:", "2") != 0 ||
	    evdns_base_set_option(direct_dns, "attempts:", "2") != 0)
		log_warnx("%s: cannot set the resolver's timeout", __func__);
}

/* Direct connections of the tunnel id open now. */
static size_t
direct_count(const char *id)
{
	struct direct	*d;
	size_t		 n = 0;

	TAILQ_FOREACH(d, &directs, entry)
		if (strcmp(d->tunnel_id, id) == 0)
			n++;
	return (n);
}

/*
 * Take the browser's connection fd (peer), or its in-process end local
 * (a node link's stream; fd is -1), to the origin that rt names: first
 * (len bytes: what the browser sent after the request head, and for a
 * request the head again, as route_head() makes it) goes to the origin
 * before anything else.  The connection is ours, even on failure.
 */
void
direct_start(struct tunnel *t, int fd, struct bufferevent *local,
    const char *peer, const struct route *rt, const void *first, size_t len)
{
	struct evutil_addrinfo		 hints;
	struct evdns_getaddrinfo_request *req;
	struct direct			*d;
	struct timeval			 tv = { DIRECT_DNS_SEC, 0 };

	if (direct_count(t->id) >= DIRECT_MAX_TUNNEL) {
		log_info("tunnel %s: %s: more than %d direct connections",
		    t->id, peer, DIRECT_MAX_TUNNEL);
		answer_refuse_end(fd, local, peer, 503, "The tunnel has too "
		    "many direct connections open.", NULL);
		return;
	}
	if ((d = calloc(1, sizeof(*d))) == NULL ||
	    (d->first = evbuffer_new()) == NULL ||
	    evbuffer_add(d->first, first, len) == -1 ||
	    (d->timer = evtimer_new(env->base, direct_timer, d)) == NULL) {
		log_warn("%s", __func__);
		if (d != NULL) {
			if (d->first != NULL)
				evbuffer_free(d->first);
			free(d);
		}
		if (local != NULL)
			kgp_local_reset(local);
		else
			close(fd);
		return;
	}
	strlcpy(d->tunnel_id, t->id, sizeof(d->tunnel_id));
	strlcpy(d->peer, peer, sizeof(d->peer));
	strlcpy(d->host, rt->host, sizeof(d->host));
	snprintf(d->port, sizeof(d->port), "%u", rt->port);
	d->connect = rt->connect;
	d->bfd = fd;
	if ((d->local = local) != NULL) {
		/* nothing read from it until the origin answers */
		bufferevent_setcb(local, NULL, NULL, NULL, NULL);
		bufferevent_disable(local, EV_READ);
	}
	d->state = DIRECT_DNS;
	TAILQ_INSERT_TAIL(&directs, d, entry);
	evtimer_add(d->timer, &tv);

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_protocol = IPPROTO_TCP;
	hints.ai_flags = EVUTIL_AI_NUMERICSERV;
	/* an address answers at once: the callback runs before this returns */
	req = evdns_getaddrinfo(direct_dns, d->host, d->port, &hints,
	    direct_resolved, d);
	if (d->state == DIRECT_DNS)
		d->dnsreq = req;
}

/* The resolver's answer: the next step runs from the timer, at once. */
static void
direct_resolved(int result, struct evutil_addrinfo *ai, void *arg)
{
	struct direct	*d = arg;
	struct timeval	 now = { 0, 0 };

	d->dnsreq = NULL;
	if (d->state != DIRECT_DNS) {
		if (ai != NULL)
			evutil_freeaddrinfo(ai);
		return;
	}
	d->state = DIRECT_RESOLVED;
	d->gai_error = result;
	d->ai = d->aicur = ai;
	evtimer_add(d->timer, &now);
}

static void
direct_timer(int fd, short ev, void *arg)
{
	struct direct	*d = arg;
	char		 why[HOST_MAX + 128];
	struct timeval	 tv;

	switch (d->state) {
	case DIRECT_DNS:
		d->state = DIRECT_RESOLVED;	/* the cancel calls back */
		if (d->dnsreq != NULL)
			evdns_getaddrinfo_cancel(d->dnsreq);
		snprintf(why, sizeof(why), "No answer for %s from the "
		    "server's resolver within %d s.", d->host, DIRECT_DNS_SEC);
		direct_fail(d, 502, why);
		return;
	case DIRECT_RESOLVED:
		if (d->gai_error != 0) {
			snprintf(why, sizeof(why), "The server cannot resolve "
			    "%s: %s.", d->host,
			    evutil_gai_strerror(d->gai_error));
			direct_fail(d, 502, why);
			return;
		}
		direct_next(d);
		return;
	case DIRECT_CONNECTING:
		/* this address took too long: the next one */
		direct_next_addr(d, ETIMEDOUT);
		return;
	case DIRECT_OPEN:
		if (time(NULL) - d->last >= DIRECT_IDLE_SEC) {
			log_debug("tunnel %s: direct %s:%s for %s: idle",
			    d->tunnel_id, d->host, d->port, d->peer);
			direct_free(d);
			return;
		}
		tv.tv_sec = DIRECT_IDLE_SEC - (time(NULL) - d->last);
		tv.tv_usec = 0;
		evtimer_add(d->timer, &tv);
		return;
	}
}

/* Connect to the next address that policy allows, or fail. */
static void
direct_next(struct direct *d)
{
	struct timeval	 tv = { DIRECT_CONNECT_SEC, 0 };
	char		 why[HOST_MAX + 192];

	for (; d->aicur != NULL; d->aicur = d->aicur->ai_next) {
		if (!direct_addr_allowed(d->aicur->ai_addr)) {
			d->refused++;
			continue;
		}
		if ((d->o = bufferevent_socket_new(env->base, -1,
		    BEV_OPT_CLOSE_ON_FREE)) == NULL)
			break;
		bufferevent_setcb(d->o, NULL, NULL, direct_origin_event, d);
		d->state = DIRECT_CONNECTING;
		evtimer_add(d->timer, &tv);
		if (bufferevent_socket_connect(d->o, d->aicur->ai_addr,
		    d->aicur->ai_addrlen) == 0)
			return;
		d->last_errno = errno;
		bufferevent_free(d->o);
		d->o = NULL;
	}
	if (d->refused > 0 && d->last_errno == 0) {
		log_info("tunnel %s: direct %s:%s for %s: the address is not "
		    "one the server connects to (-D)", d->tunnel_id, d->host,
		    d->port, d->peer);
		snprintf(why, sizeof(why), "%s is on a network that direct "
		    "connections may not reach on this server.", d->host);
		direct_fail(d, 403, why);
		return;
	}
	snprintf(why, sizeof(why), "The server cannot connect to %s port "
	    "%s: %s.", d->host, d->port, d->last_errno != 0 ?
	    strerror(d->last_errno) : "no address");
	direct_fail(d, 502, why);
}

/* The address being connected failed with error: the next one. */
static void
direct_next_addr(struct direct *d, int error)
{
	d->last_errno = error;
	bufferevent_free(d->o);
	d->o = NULL;
	d->aicur = d->aicur->ai_next;
	direct_next(d);
}

static void
direct_origin_event(struct bufferevent *bev, short what, void *arg)
{
	struct direct	*d = arg;
	struct timeval	 tv = { DIRECT_IDLE_SEC, 0 };
	static const char ok[] = "HTTP/1.1 200 Connection established\r\n\r\n";

	if (d->state != DIRECT_CONNECTING) {
		direct_event(bev, what, arg);
		return;
	}
	if (!(what & BEV_EVENT_CONNECTED)) {
		direct_next_addr(d, EVUTIL_SOCKET_ERROR() != 0 ?
		    EVUTIL_SOCKET_ERROR() : ECONNREFUSED);
		return;
	}
	if (d->local != NULL) {
		d->b = d->local;
		d->b_local = 1;
		d->local = NULL;
	} else if ((d->b = bufferevent_socket_new(env->base, d->bfd,
	    BEV_OPT_CLOSE_ON_FREE)) == NULL) {
		direct_fail(d, 502, "The server is out of memory.");
		return;
	}
	d->bfd = -1;
	d->state = DIRECT_OPEN;
	d->last = time(NULL);
	log_debug("tunnel %s: direct %s:%s for %s: connected", d->tunnel_id,
	    d->host, d->port, d->peer);
	bufferevent_setcb(d->b, direct_read, direct_write, direct_event, d);
	bufferevent_setcb(d->o, direct_read, direct_write, direct_event, d);
	if (d->connect)
		bufferevent_write(d->b, ok, sizeof(ok) - 1);
	bufferevent_write_buffer(d->o, d->first);
	bufferevent_enable(d->b, EV_READ | EV_WRITE);
	bufferevent_enable(d->o, EV_READ | EV_WRITE);
	evtimer_add(d->timer, &tv);
}

/* Bytes from one side for the other; too many waiting: stop reading. */
static void
direct_read(struct bufferevent *bev, void *arg)
{
	struct direct		*d = arg;
	struct bufferevent	*other = bev == d->b ? d->o : d->b;

	d->last = time(NULL);
	bufferevent_write_buffer(other, bufferevent_get_input(bev));
	if (evbuffer_get_length(bufferevent_get_output(other)) >=
	    DIRECT_BUF_MAX)
		bufferevent_disable(bev, EV_READ);
}

/* A side's output written out: the other may read again, or end. */
static void
direct_write(struct bufferevent *bev, void *arg)
{
	struct direct		*d = arg;
	struct bufferevent	*other = bev == d->b ? d->o : d->b;
	int			 other_eof = bev == d->b ? d->o_eof : d->b_eof;

	d->last = time(NULL);
	if (other_eof) {
		/* all of the other side's bytes are through: pass its end */
		direct_shut(d, bev);
		if (d->b_eof && d->o_eof)
			direct_free(d);
		return;
	}
	bufferevent_enable(other, EV_READ);
}

static void
direct_event(struct bufferevent *bev, short what, void *arg)
{
	struct direct		*d = arg;
	struct bufferevent	*other = bev == d->b ? d->o : d->b;

	if (what & BEV_EVENT_ERROR) {
		log_debug("tunnel %s: direct %s:%s for %s: %s", d->tunnel_id,
		    d->host, d->port, d->peer,
		    evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
		direct_free(d);
		return;
	}
	if (!(what & BEV_EVENT_EOF))
		return;
	if (bev == d->b)
		d->b_eof = 1;
	else
		d->o_eof = 1;
	if (d->b_eof && d->o_eof &&
	    evbuffer_get_length(bufferevent_get_output(d->b)) == 0 &&
	    evbuffer_get_length(bufferevent_get_output(d->o)) == 0) {
		direct_free(d);
		return;
	}
	if (evbuffer_get_length(bufferevent_get_output(other)) == 0)
		direct_shut(d, other);
}

/* No more for side bev: a half-close. */
static void
direct_shut(struct direct *d, struct bufferevent *bev)
{
	if (bev == d->b && d->b_local)
		kgp_local_shutdown(bev);
	else
		shutdown(bufferevent_getfd(bev), SHUT_WR);
}

/* Answer the browser status and why, then forget d. */
static void
direct_fail(struct direct *d, int status, const char *why)
{
	log_info("tunnel %s: direct %s:%s for %s: %d: %s", d->tunnel_id,
	    d->host, d->port, d->peer, status, why);
	if (d->bfd != -1 || d->local != NULL) {
		answer_refuse_end(d->bfd, d->local, d->peer, status, why, NULL);
		d->bfd = -1;
		d->local = NULL;
	}
	direct_free(d);
}

static void
direct_free(struct direct *d)
{
	TAILQ_REMOVE(&directs, d, entry);
	if (d->dnsreq != NULL) {
		d->state = DIRECT_RESOLVED;
		evdns_getaddrinfo_cancel(d->dnsreq);
	}
	if (d->ai != NULL)
		evutil_freeaddrinfo(d->ai);
	if (d->b != NULL && d->b_local)
		kgp_local_close(d->b);
	else if (d->b != NULL)
		bufferevent_free(d->b);
	kgp_local_reset(d->local);
	if (d->o != NULL)
		bufferevent_free(d->o);
	if (d->bfd != -1)
		close(d->bfd);
	evbuffer_free(d->first);
	event_free(d->timer);
	free(d);
}

/* The tunnel id has ended: so do its direct connections. */
void
direct_close_tunnel(const char *id)
{
	struct direct	*d, *next;

	for (d = TAILQ_FIRST(&directs); d != NULL; d = next) {
		next = TAILQ_NEXT(d, entry);
		if (strcmp(d->tunnel_id, id) == 0)
			direct_free(d);
	}
}

/*
 * May a direct connection go to sa?  Any network that -D names; else
 * no address of the server itself or of a network that is not the
 * internet's: loopback, unspecified, private (RFC 1918, unique local),
 * shared (RFC 6598), link-local, multicast, reserved, and IPv4 in IPv6.
 */
static int
direct_addr_allowed(const struct sockaddr *sa)
{
	const uint8_t	*a;
	size_t		 i;

	for (i = 0; i < env->direct_nallow; i++)
		if (netmask_match(&env->direct_allow[i], sa))
			return (1);
	if (sa->sa_family == AF_INET) {
		a = (const uint8_t *)
		    &((const struct sockaddr_in *)sa)->sin_addr;
		return (!(a[0] == 0 || a[0] == 10 || a[0] == 127 ||
		    a[0] >= 224 || (a[0] == 100 && (a[1] & 0xc0) == 64) ||
		    (a[0] == 169 && a[1] == 254) ||
		    (a[0] == 172 && (a[1] & 0xf0) == 16) ||
		    (a[0] == 192 && a[1] == 168)));
	}
	if (sa->sa_family != AF_INET6)
		return (0);
	a = ((const struct sockaddr_in6 *)sa)->sin6_addr.s6_addr;
	for (i = 0; i < 10 && a[i] == 0; i++)
		;
	if (i == 10)
		return (0);	/* ::, ::1, ::ffff:v4, v4-compatible */
	return (!(a[0] == 0xff || (a[0] & 0xfe) == 0xfc ||
	    (a[0] == 0xfe && (a[1] & 0xc0) == 0x80)));
}
