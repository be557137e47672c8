/*
 * Entry proxies: one listening port per running tunnel.  Every accepted
 * connection becomes one KGP stream of the tunnel's connection, byte for
 * byte; without a connection the client gets a 503.  The first request
 * head is read and checked with the HTTP parser before the stream opens,
 * so that garbage is answered here and never costs the tunnel a stream;
 * the bytes read go down the stream unchanged.
 *
 * Until its first request head is whole (and, with -P, its credentials
 * checked), a connection waits in the admission table of the entry
 * proxies (admit.h): ENTRY_WAITING_ADDR per address, ENTRY_WAITING_MAX
 * in all, addresses whose browsers got through kept last; and it has
 * ENTRY_HEAD_SEC for the whole head, a deadline that no byte moves (less
 * when the table fills).  Nothing but the connection is allocated before
 * its first byte; the head's buffer grows as it arrives.  Out of
 * descriptors, an entry proxy closes a KGP connection that has not
 * finished its handshake, or else a waiting entry connection.
 *
 * Access control: a connection from an address outside the access list
 * (loopback and -A) gets a 403 at accept.  With -P the first request must
 * carry Proxy-Authorization: Basic with the tunnel owner's account name
 * and access key (any account for a shared tunnel), or it gets a 407;
 * failures count in the failed-login rate limit.  The REST worker checks
 * the credentials: this process has no accounts.  Only the first request
 * of a connection is checked: later requests on a keep-alive connection
 * go down the stream as they are.
 *
 * The gateway (-G) is one more such port, of no tunnel: the first
 * request's credentials pick the tunnel (gateway.c), and from there the
 * connection is served as on that tunnel's own port.
 *
 * In a cluster (nodelink.c), a tunnel whose client session is not here
 * may have it on another node: once the first request head is whole
 * (and -P checked), the parent is asked where, and the connection goes
 * there over the node link, head and all, before any rule is applied;
 * the owning node hands it back to entry_from_node() here, which serves
 * it as on the tunnel's own port (rules, resigning), without the access
 * list, the admission table and -P, all of them the first node's.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>

#include "admit.h"
#include "http.h"
#include "imsg.h"
#include "imsg_server.h"
#include "kgp.h"
#include "log.h"
#include "server.h"

#define ENTRY_HEAD_BUF		(HTTP_HEAD_MAX + 4096)
#define ENTRY_HEAD_FIRST	2048	/* the buffer at the first byte */
#define ENTRY_AUTH_SEC		10

/* a connection whose first request head is still arriving */
struct entry_pending {
	TAILQ_ENTRY(entry_pending) entry;
	TAILQ_ENTRY(entry_pending) aentry;	/* waiting for -P's answer */
	struct admit_ent	 adm;
	uint64_t		 reqid;
	int			 waiting;
	int			 had_hdr;
	int			 from_node;	/* a node link's stream */
	int			 handed;	/* by another KGP worker */
	void			*nask;		/* nodelink_ask()'s, waiting */
	struct entry_proxy	*proxy;
	struct tunnel		*tunnel;	/* NULL: gateway, not yet */
	void			*gate;		/* gate_ask()'s, waiting */
	int			 gate_tries;	/* members picked for it */
	int			 fd;
	struct bufferevent	*local;		/* a node link's stream: no fd */
	struct event		*ev;
	struct event		*deadline;
	struct http_head	*head;		/* from the first byte */
	unsigned char		*buf;
	size_t			 len;
	size_t			 cap;
	size_t			 hlen;		/* of the head, once whole */
	struct sockaddr_storage	 ss;
	char			 peer[ADDRSTR_MAX];
};

struct entry_proxy {
	struct tunnel		*tunnel;	/* NULL: the gateway */
	struct listener		*listener;
	TAILQ_HEAD(, entry_pending) pending;
};

/* out of descriptors, what is shed before a waiting entry connection */
static int			(*entry_shed_first)(void);
static TAILQ_HEAD(, entry_pending) auth_waits =
    TAILQ_HEAD_INITIALIZER(auth_waits);
static uint64_t			 auth_reqid;
static struct admit		*entry_admit;

static void	 entry_accept(int, void *);
static int	 entry_shed(void *);
static void	 entry_evict(struct admit_ent *, void *);
static void	 entry_head(int, short, void *);
static int	 entry_head_room(struct entry_pending *);
static int	 entry_head_more(struct entry_pending *, size_t);
static void	 entry_local_read(struct bufferevent *, void *);
static void	 entry_local_event(struct bufferevent *, short, void *);
static void	 entry_answer(struct entry_pending *, int, const char *,
		    const char *);
static int	 entry_stream(struct entry_pending *, struct kgp_client *);
static void	 entry_late(int, short, void *);
static void	 entry_pending_free(struct entry_pending *);
static void	 entry_auth_ask(struct entry_pending *);
static void	 entry_auth_timeout(int, short, void *);
static void	 entry_go(struct entry_pending *);
static int	 entry_route(struct entry_pending *);
static int	 entry_routes(const struct rules *);
static struct entry_proxy *entry_proxy_new(struct tunnel *, int);
static const char *entry_what(const struct entry_pending *);
static void	 entry_gate_ask(struct entry_pending *);
static void	 entry_auth_refuse(struct entry_pending *, int, int);
static void	 entry_gate_answer(void *, const struct gate_answer *);
static struct entry_pending *entry_pending_new(struct entry_proxy *,
		    struct tunnel *, int, const struct sockaddr_storage *,
		    const char *);
static void	 entry_node_ask(struct entry_pending *);
static void	 entry_node_answer(void *, const struct srv_node_rep *);
static void	 entry_trust(const struct entry_pending *);
static int	 entry_hand(struct entry_pending *, const struct gate_answer *);
static void	 entry_head_deadline(struct entry_pending *);

/* the gateway's port (-G), NULL: none */
static struct entry_proxy	*gateway;

/* connections accepted, for /metrics (answer.c counts the refusals) */
static uint64_t		 entry_accepted;

/*
 * Out of descriptors, an entry proxy sheds a connection of shed_first
 * (the KGP endpoint's handshakes) before one of its own.
 */
void
entry_init(int (*shed_first)(void))
{
	entry_shed_first = shed_first;
}

/*
 * Open the entry proxy of t on fd, a socket the parent bound to bound
 * ("ip:port") and listens on.  The proxy owns fd, even on failure.
 */
int
entry_open(struct tunnel *t, int fd, const char *bound)
{
	struct entry_proxy	*p;
	const char		*port;
	const char		*errstr;
	int			 n;

	if ((port = strrchr(bound, ':')) == NULL ||
	    (n = strtonum(port + 1, 1, 65535, &errstr), errstr != NULL)) {
		log_warnx("%s: bad address %s", __func__, bound);
		close(fd);
		return (-1);
	}
	if ((p = entry_proxy_new(t, fd)) == NULL)
		return (-1);
	/* a wildcard address is no use to a browser: advertise -H */
	if (strcmp(env->entry_host, "0.0.0.0") == 0 ||
	    strcmp(env->entry_host, "::") == 0) {
		if (strchr(env->host, ':') != NULL)
			snprintf(t->entry_addr, sizeof(t->entry_addr),
			    "[%s]%s", env->host, port);
		else
			snprintf(t->entry_addr, sizeof(t->entry_addr),
			    "%s%s", env->host, port);
	} else
		strlcpy(t->entry_addr, bound, sizeof(t->entry_addr));
	t->entry_port = n;
	t->proxy = p;
	return (0);
}

/* An entry proxy on fd (taken, even on failure) for t, NULL: the gateway. */
static struct entry_proxy *
entry_proxy_new(struct tunnel *t, int fd)
{
	struct entry_proxy	*p;

	if (entry_admit == NULL && (entry_admit = admit_new("entry proxies",
	    ENTRY_WAITING_ADDR, server_fd_share(ENTRY_WAITING_MAX, 4))) ==
	    NULL) {
		log_warn("%s", __func__);
		close(fd);
		return (NULL);
	}
	if ((p = calloc(1, sizeof(*p))) == NULL) {
		log_warn("%s", __func__);
		close(fd);
		return (NULL);
	}
	p->tunnel = t;
	TAILQ_INIT(&p->pending);
	if ((p->listener = listener_new(env->base, fd, entry_accept, p)) ==
	    NULL) {
		log_warnx("%s: listener_new", __func__);
		close(fd);
		free(p);
		return (NULL);
	}
	listener_set_shed(p->listener, entry_shed, NULL);
	return (p);
}

/* The gateway's port (-G) on fd, a socket the parent bound. */
int
entry_open_gateway(int fd)
{
	if (gateway != NULL) {
		close(fd);
		return (-1);
	}
	if ((gateway = entry_proxy_new(NULL, fd)) == NULL)
		return (-1);
	return (0);
}

/* Shutting down: the gateway's port closes with the tunnels' ones. */
void
entry_close_gateway(void)
{
	struct entry_pending	*ep;

	if (gateway == NULL)
		return;
	while ((ep = TAILQ_FIRST(&gateway->pending)) != NULL)
		entry_pending_free(ep);
	listener_free(gateway->listener);
	free(gateway);
	gateway = NULL;
}

/* "tunnel ID" or "gateway", for log lines. */
static const char *
entry_what(const struct entry_pending *ep)
{
	static char	 buf[TUNNEL_ID_LEN + 8];

	if (ep->tunnel == NULL)
		return ("gateway");
	snprintf(buf, sizeof(buf), "tunnel %s", ep->tunnel->id);
	return (buf);
}

void
entry_close(struct tunnel *t)
{
	struct entry_proxy	*p;

	struct entry_pending	*ep;

	if ((p = t->proxy) == NULL)
		return;
	while ((ep = TAILQ_FIRST(&p->pending)) != NULL)
		entry_pending_free(ep);
	listener_free(p->listener);
	free(p);
	t->proxy = NULL;
	direct_close_tunnel(t->id);
	resign_close_tunnel(t->id);
	log_debug("tunnel %s: entry proxy %s closed", t->id, t->entry_addr);
}

/*
 * The deadline of ep's first request head: ENTRY_HEAD_SEC, less when
 * the admission table fills (admit_deadline()).
 */
static void
entry_head_deadline(struct entry_pending *ep)
{
	struct timeval		 tv;
	unsigned int		 ms;

	ms = admit_deadline(entry_admit, ENTRY_HEAD_SEC * 1000,
	    ENTRY_HEAD_MIN_SEC * 1000);
	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	evtimer_add(ep->deadline, &tv);
}

static void
entry_accept(int fd, void *arg)
{
	struct entry_proxy	*p = arg;
	struct tunnel		*t = p->tunnel;
	struct entry_pending	*ep;
	struct sockaddr_storage	 ss;
	socklen_t		 sslen = sizeof(ss);
	char			 peer[ADDRSTR_MAX];

	entry_accepted++;
	memset(&ss, 0, sizeof(ss));
	if (getpeername(fd, (struct sockaddr *)&ss, &sslen) == -1 ||
	    sockaddr_string((struct sockaddr *)&ss, sslen, peer, sizeof(peer),
	    NULL) == -1)
		strlcpy(peer, "unknown", sizeof(peer));
	if (!entry_acl_allowed((struct sockaddr *)&ss)) {
		if (t != NULL)
			log_info("tunnel %s: entry connection from %s refused: "
			    "not in the access list (-A)", t->id, peer);
		else
			log_info("gateway: connection from %s refused: not in "
			    "the access list (-A)", peer);
		answer_refuse(fd, peer, 403, "This address may not use the "
		    "entry proxy.", NULL);
		return;
	}
	/* in a cluster, the session may be on another node */
	if (t != NULL && (t->status != TUNNEL_RUNNING ||
	    (route_link(t) == NULL && !nodelink_enabled()))) {
		log_debug("tunnel %s: entry connection from %s: not "
		    "connected, 503", t->id, peer);
		answer_refuse(fd, peer, 503, "The tunnel is not connected.",
		    NULL);
		return;
	}
	if ((ep = entry_pending_new(p, t, fd, &ss, peer)) == NULL)
		return;
	if (admit_add(entry_admit, &ep->adm, (struct sockaddr *)&ss,
	    entry_evict, ep) == -1) {
		entry_pending_free(ep);
		return;
	}
	entry_head_deadline(ep);
	event_add(ep->ev, NULL);
}

/*
 * A connection of proxy p (t's, or the gateway's) whose first head is
 * to be read; fd is its own, even on failure (NULL).
 */
static struct entry_pending *
entry_pending_new(struct entry_proxy *p, struct tunnel *t, int fd,
    const struct sockaddr_storage *ss, const char *peer)
{
	struct entry_pending	*ep;

	if ((ep = calloc(1, sizeof(*ep))) == NULL) {
		log_warn("%s", __func__);
		close(fd);
		return (NULL);
	}
	ep->proxy = p;
	ep->tunnel = t;
	ep->fd = fd;
	ep->ss = *ss;
	strlcpy(ep->peer, peer, sizeof(ep->peer));
	TAILQ_INSERT_TAIL(&p->pending, ep, entry);
	if ((fd != -1 && (ep->ev = event_new(env->base, fd,
	    EV_READ | EV_PERSIST, entry_head, ep)) == NULL) ||
	    (ep->deadline = evtimer_new(env->base, entry_late, ep)) == NULL) {
		log_warnx("%s: event_new", __func__);
		entry_pending_free(ep);
		return (NULL);
	}
	return (ep);
}

/*
 * A stream that another node took from a browser for t (nodelink.c),
 * its end local in this process (kgp_server.c): served as on t's own
 * port, its head read from the KGP engine's buffers, and down the
 * tunnel spliced onto a stream of the client's in the engine
 * (kgp_local_splice()).  The access list, the admission table and -P
 * were the other node's; the head's deadline is ours.  -1: out of
 * memory (local is the caller's).
 */
int
entry_from_node(struct tunnel *t, struct bufferevent *local,
    const char *peer)
{
	struct entry_pending	*ep;
	struct sockaddr_storage	 ss;
	struct timeval		 tv = { ENTRY_HEAD_SEC, 0 };

	/* counted once, in entry_accept(), by the node the browser chose */
	memset(&ss, 0, sizeof(ss));
	if (t->proxy == NULL ||
	    (ep = entry_pending_new(t->proxy, t, -1, &ss, peer)) == NULL)
		return (-1);
	ep->from_node = 1;
	ep->local = local;
	bufferevent_setcb(local, entry_local_read, NULL, entry_local_event,
	    ep);
	bufferevent_enable(local, EV_READ);
	evtimer_add(ep->deadline, &tv);
	return (0);
}

/*
 * --kgp-workers: a gateway connection another KGP worker accepted, fd,
 * whose credentials name tunnels that run here, with what that worker
 * read of it (h->len bytes, the first request head whole): served as
 * if accepted here, and counted in this worker's admission table (full:
 * 503), without the access list (the first worker's) and never handed
 * on.
 */
void
entry_from_hand(int fd, const struct srv_gate_hand *h, const void *bytes)
{
	struct entry_pending	*ep;
	struct sockaddr_storage	 ss;
	socklen_t		 sslen = sizeof(ss);
	char			 peer[ADDRSTR_MAX];

	/* the browser's address as this process reads it */
	memset(&ss, 0, sizeof(ss));
	if (gateway == NULL || getpeername(fd, (struct sockaddr *)&ss,
	    &sslen) == -1 || sockaddr_string((struct sockaddr *)&ss, sslen,
	    peer, sizeof(peer), NULL) == -1) {
		close(fd);
		return;
	}
	if ((ep = entry_pending_new(gateway, NULL, fd, &ss, peer)) == NULL)
		return;
	ep->handed = 1;
	if (admit_add(entry_admit, &ep->adm, (struct sockaddr *)&ss,
	    entry_evict, ep) == -1) {
		log_info("gateway: connection from %s handed over by KGP "
		    "worker %d: too many waiting, 503", ep->peer, h->from);
		entry_answer(ep, 503, "The gateway has too many connections "
		    "waiting.", NULL);
		entry_pending_free(ep);
		return;
	}
	log_debug("gateway: connection from %s handed over by KGP worker %d",
	    ep->peer, h->from);
	entry_head_deadline(ep);
	if ((ep->buf = malloc(h->len)) == NULL ||
	    (ep->head = malloc(sizeof(*ep->head))) == NULL) {
		log_warn("%s", __func__);
		entry_pending_free(ep);
		return;
	}
	http_head_init(ep->head, HTTP_REQUEST);
	ep->cap = h->len;
	memcpy(ep->buf, bytes, h->len);
	/* whole, as the other worker read it; else the rest is read here */
	if (entry_head_more(ep, h->len))
		event_add(ep->ev, NULL);
}

/*
 * --kgp-workers: none of the tunnels ans names (SRV_GATE_OK) runs
 * here: ep goes to the KGP worker of one of them (the first
 * SRV_GATE_HAND_IDS of those not here), through the parent, with what
 * was read of it.  0: handed (ep is gone); -1: one worker, a connection
 * handed here already, none elsewhere, or it cannot go (ep stays).
 */
static int
entry_hand(struct entry_pending *ep, const struct gate_answer *ans)
{
	struct srv_gate_hand	*h;

	if (env->kgp_workers < 2 || ep->handed || ep->fd == -1)
		return (-1);
	if (ep->len > SRV_GATE_HAND_MAX) {
		log_info("gateway: %s from %s: %zu bytes read, too many to "
		    "hand to another KGP worker", ep->head->method, ep->peer,
		    ep->len);
		return (-1);
	}
	if ((h = calloc(1, sizeof(*h) + ep->len)) == NULL) {
		log_warn("%s", __func__);
		return (-1);
	}
	h->nids = gate_elsewhere(ans, h->ids, SRV_GATE_HAND_IDS);
	strlcpy(h->peer, ep->peer, sizeof(h->peer));
	h->len = ep->len;
	memcpy(h + 1, ep->buf, ep->len);
	if (h->nids == 0 || worker_send_fd(IMSG_SRV_GATE_HAND, ep->fd, h,
	    sizeof(*h) + ep->len) == -1) {
		free(h);
		return (-1);
	}
	free(h);
	log_debug("gateway: %s %s from %s: its tunnels run in another KGP "
	    "worker: handed over", ep->head->method, ep->head->target,
	    ep->peer);
	ep->fd = -1;		/* the parent's now */
	entry_pending_free(ep);
	return (0);
}

/*
 * Out of descriptors: a KGP connection that has not finished its
 * handshake goes first (entry_init()), then a waiting entry connection.
 */
static int
entry_shed(void *arg)
{
	return ((entry_shed_first != NULL && entry_shed_first()) ||
	    admit_shed(entry_admit));
}

/* Closed for newer connections (admit.h). */
static void
entry_evict(struct admit_ent *e, void *arg)
{
	struct entry_pending	*ep = arg;

	log_debug("%s: entry connection from %s closed for newer ones",
	    entry_what(ep), ep->peer);
	entry_pending_free(ep);
}

static void
entry_pending_free(struct entry_pending *ep)
{
	admit_del(&ep->adm);
	TAILQ_REMOVE(&ep->proxy->pending, ep, entry);
	if (ep->waiting)
		TAILQ_REMOVE(&auth_waits, ep, aentry);
	gate_cancel(ep->gate);
	nodelink_cancel(ep->nask);
	if (ep->ev != NULL)
		event_free(ep->ev);
	if (ep->deadline != NULL)
		event_free(ep->deadline);
	if (ep->head != NULL) {
		http_head_free(ep->head);
		free(ep->head);
	}
	free(ep->buf);
	if (ep->fd != -1)
		close(ep->fd);
	kgp_local_close(ep->local);
	free(ep);
}

/*
 * Answer ep's browser status and text (answer.c) on its socket, or on
 * its node link's stream; the connection is the answer's from here.
 */
static void
entry_answer(struct entry_pending *ep, int status, const char *text,
    const char *extra)
{
	answer_refuse_end(ep->fd, ep->local, ep->peer, status, text, extra);
	ep->fd = -1;
	ep->local = NULL;
}

/*
 * ep's browser got through: its address is kept last under a flood
 * (admit.h).  A node link's stream has none here: the other node keeps
 * it.
 */
static void
entry_trust(const struct entry_pending *ep)
{
	if (!ep->from_node)
		admit_trust(entry_admit, (const struct sockaddr *)&ep->ss);
}

/* The whole head did not arrive in time: 408, however it trickled. */
static void
entry_late(int fd, short ev, void *arg)
{
	struct entry_pending	*ep = arg;

	log_debug("%s: %s sent no whole request in time", entry_what(ep),
	    ep->peer);
	entry_answer(ep, 408, "No request arrived in time.", NULL);
	entry_pending_free(ep);
}

/* Bytes of the first request head: check it, then open the stream. */
static void
entry_head(int fd, short ev, void *arg)
{
	struct entry_pending	*ep = arg;
	ssize_t			 n;

	if (entry_head_room(ep) == -1)
		return;
	n = read(fd, ep->buf + ep->len, ep->cap - ep->len);
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		entry_pending_free(ep);
		return;
	}
	entry_head_more(ep, n);
}

/* The same from a node link's stream, in the engine's buffers. */
static void
entry_local_read(struct bufferevent *bev, void *arg)
{
	struct entry_pending	*ep = arg;
	size_t			 n;

	do {
		if (entry_head_room(ep) == -1)
			return;
		if ((n = bufferevent_read(bev, ep->buf + ep->len,
		    ep->cap - ep->len)) == 0)
			return;
	} while (entry_head_more(ep, n));
}

/* The stream ended, or its browser did, before a whole head. */
static void
entry_local_event(struct bufferevent *bev, short what, void *arg)
{
	entry_pending_free(arg);
}

/*
 * Room in ep's buffer for more of the head: its first bytes, or twice
 * as much, up to ENTRY_HEAD_BUF.  -1: out of memory, and ep is gone.
 */
static int
entry_head_room(struct entry_pending *ep)
{
	unsigned char	*nb;
	size_t		 cap;

	if (ep->len < ep->cap)
		return (0);
	cap = ep->cap == 0 ? ENTRY_HEAD_FIRST : ep->cap * 2;
	if (cap > ENTRY_HEAD_BUF)
		cap = ENTRY_HEAD_BUF;
	if ((nb = realloc(ep->buf, cap)) == NULL ||
	    (ep->head == NULL &&
	    (ep->head = malloc(sizeof(*ep->head))) == NULL)) {
		if (nb != NULL)
			ep->buf = nb;
		log_warn("%s", __func__);
		entry_pending_free(ep);
		return (-1);
	}
	if (ep->cap == 0)
		http_head_init(ep->head, HTTP_REQUEST);
	ep->buf = nb;
	ep->cap = cap;
	return (0);
}

/*
 * n more bytes of the head are in ep's buffer: parse it, and once it is
 * whole go on.  1: more is wanted; 0: ep is on its way, or gone.
 */
static int
entry_head_more(struct entry_pending *ep, size_t n)
{
	ssize_t		 rc;

	ep->len += n;
	if ((rc = http_head_parse(ep->head, ep->buf, ep->len)) == 0 &&
	    ep->len < ENTRY_HEAD_BUF)
		return (1);
	if (rc <= 0) {
		log_info("%s: bad request from %s: %s", entry_what(ep),
		    ep->peer, ep->head->errstr ? ep->head->errstr :
		    "head too large");
		entry_answer(ep, rc == 0 ? 431 : ep->head->error,
		    "The request is malformed.", NULL);
		entry_pending_free(ep);
		return (0);
	}
	ep->hlen = rc;
	if (ep->local != NULL) {
		/* the rest waits in the stream until it goes on */
		bufferevent_disable(ep->local, EV_READ);
		bufferevent_setcb(ep->local, NULL, NULL, NULL, NULL);
	}
	if (ep->tunnel == NULL) {
		entry_gate_ask(ep);
		return (0);
	}
	if (env->entry_auth && !ep->from_node) {
		entry_auth_ask(ep);
		return (0);
	}
	entry_go(ep);
	return (0);
}

/* The first request head checked (and authenticated): open the stream. */
static void
entry_go(struct entry_pending *ep)
{
	struct tunnel		*t = ep->tunnel;
	struct kgp_client	*link;

	/* no session here: another node's, perhaps (nodelink.c) */
	if (!ep->from_node && nodelink_enabled() &&
	    t->status == TUNNEL_RUNNING && route_link(t) == NULL) {
		entry_node_ask(ep);
		return;
	}
	/*
	 * A CONNECT is resigned or not, whatever the rules; other requests
	 * are decided only by rules that route (-B, -b alone do not: their
	 * connections stay as without rules, kept alive)
	 */
	if ((strcmp(ep->head->method, "CONNECT") == 0 ||
	    entry_routes(t->rules)) && entry_route(ep) == -1)
		return;		/* answered here, sent direct or resigned */
	if (t->status != TUNNEL_RUNNING || (link = route_link(t)) == NULL) {
		entry_answer(ep, 503, "The tunnel is not connected.", NULL);
		entry_pending_free(ep);
		return;
	}
	if (entry_stream(ep, link) == -1) {
		log_warnx("tunnel %s: cannot open a stream for %s", t->id,
		    ep->peer);
		entry_answer(ep, 503, "The tunnel has no room for another "
		    "connection.", NULL);
	} else {
		log_debug("tunnel %s: %s %s from %s", t->id, ep->head->method,
		    ep->head->target, ep->peer);
		/* its browsers get through: kept last under a flood */
		entry_trust(ep);
	}
	entry_pending_free(ep);
}

/*
 * A stream of link's for ep, what was read first and then the rest:
 * the browser's socket bound to it, or a node link's stream spliced
 * onto it in the engine, byte for byte, credit for credit.  0: the
 * stream has the connection; -1: ep keeps it.
 */
static int
entry_stream(struct entry_pending *ep, struct kgp_client *link)
{
	struct bufferevent	*s;

	if (ep->local == NULL) {
		if (kgp_conn_open_stream(link->conn, ep->fd, ep->peer,
		    ep->buf, ep->len) == -1)
			return (-1);
		ep->fd = -1;
		return (0);
	}
	if ((s = kgp_conn_open_local(link->conn, ep->peer)) == NULL)
		return (-1);
	if (bufferevent_write(s, ep->buf, ep->len) == -1 ||
	    kgp_local_splice(ep->local, s) == -1) {
		kgp_local_reset(s);
		return (-1);
	}
	ep->local = NULL;
	return (0);
}

/*
 * The tunnel's traffic rules on the first request (route.c): denied here
 * (403, no stream), sent direct (direct.c), or down the tunnel, as a
 * request that ends its connection (its next one is decided again; a
 * CONNECT or an upgrade is one tunnel and stays as it is).  Returns 0
 * for the tunnel, -1 when the connection is gone from ep.
 */
static int
entry_route(struct entry_pending *ep)
{
	struct tunnel		*t = ep->tunnel;
	struct route		 rt;
	const struct rule	*ru;
	char			 why[192], *head;
	size_t			 len, rest = ep->len - ep->hlen;
	unsigned char		*nb;

	route_decide(t->rules, ep->head, &rt);
	ru = rt.v.rule;
	switch (rt.v.route) {
	case RULES_ROUTE_DENY:
		route_deny_text(&rt.v, why, sizeof(why));
		log_info("tunnel %s: %s %s from %s: denied by %s%s%s", t->id,
		    ep->head->method, ep->head->target, ep->peer,
		    rt.v.error ? "the rules' step limit" : "rule '",
		    rt.v.error ? "" : ru->text, rt.v.error ? "" : "'");
		entry_answer(ep, 403, why, NULL);
		break;
	case RULES_ROUTE_DIRECT:
		log_debug("tunnel %s: %s %s from %s: direct", t->id,
		    ep->head->method, ep->head->target, ep->peer);
		if (rt.connect) {
			direct_start(t, ep->fd, ep->local, ep->peer, &rt,
			    ep->buf + ep->hlen, rest);
			ep->local = NULL;
			break;
		}
		if ((head = route_head(ep->head, rt.path, ROUTE_HEAD_UPGRADE,
		    &len)) == NULL ||
		    (nb = realloc(head, len + rest)) == NULL) {
			free(head);
			entry_answer(ep, 500, "Out of memory.", NULL);
			break;
		}
		memcpy(nb + len, ep->buf + ep->hlen, rest);
		direct_start(t, ep->fd, ep->local, ep->peer, &rt, nb,
		    len + rest);
		ep->local = NULL;
		free(nb);
		break;
	case RULES_ROUTE_TUNNEL:
		log_debug("tunnel %s: %s %s from %s: tunnel%s", t->id,
		    ep->head->method, ep->head->target, ep->peer,
		    rt.connect ? (rt.v.resign ? " (resign)" :
		    " (passthrough)") : "");
		if (rt.connect && rt.v.resign) {
			/* this process speaks TLS to the browser (resign.c) */
			resign_start(t, ep->fd, ep->local, ep->peer, rt.host,
			    rt.port, ep->buf + ep->hlen, rest);
			ep->local = NULL;
			entry_trust(ep);
			break;
		}
		if (rt.connect || route_upgrade(ep->head))
			return (0);
		/* one request a connection: the next is decided again */
		if ((head = route_head(ep->head, ep->head->target,
		    ROUTE_HEAD_CLOSE, &len)) == NULL || (nb = realloc(head, len + rest)) == NULL) {
			free(head);
			entry_answer(ep, 500, "Out of memory.", NULL);
			break;
		}
		memcpy(nb + len, ep->buf + ep->hlen, rest);
		free(ep->buf);
		ep->buf = nb;
		ep->len = ep->cap = len + rest;
		ep->hlen = len;
		return (0);
	}
	ep->fd = -1;
	entry_pending_free(ep);
	return (-1);
}

/* Do the rules decide where a request goes (deny, direct, tunnel lists)? */
static int
entry_routes(const struct rules *r)
{
	return (r != NULL && (rules_list_count(r, RULES_DENY) > 0 ||
	    rules_list_count(r, RULES_DIRECT) > 0 ||
	    rules_list_count(r, RULES_TUNNEL) > 0));
}

/*
 * -P: the first request must name the owner of the tunnel (or any
 * account for a shared tunnel) and its access key.  The KGP worker has
 * no accounts: the REST worker checks them (through the parent), and
 * the connection waits for its answer (entry_auth_reply()).
 */
static void
entry_auth_ask(struct entry_pending *ep)
{
	struct tunnel		*t = ep->tunnel;
	struct srv_auth_req	 req;
	struct timeval		 tv = { ENTRY_AUTH_SEC, 0 };
	const char		*hdr;
	char			*p;

	memset(&req, 0, sizeof(req));
	req.reqid = ep->reqid = worker_reqid(&auth_reqid);
	strlcpy(req.tunnel_id, t->id, sizeof(req.tunnel_id));
	/* the rate limit counts addresses without the port */
	strlcpy(req.addr, ep->peer, sizeof(req.addr));
	if ((p = strrchr(req.addr, ':')) != NULL)
		*p = '\0';
	hdr = http_head_get(ep->head, "Proxy-Authorization");
	ep->had_hdr = hdr != NULL;
	req.have = rest_basic_auth(hdr, req.user, sizeof(req.user), req.key,
	    sizeof(req.key)) == 0;
	if (!req.have) {
		explicit_bzero(req.user, sizeof(req.user));
		explicit_bzero(req.key, sizeof(req.key));
	}
	worker_send(IMSG_SRV_AUTH_REQ, &req, sizeof(req));
	explicit_bzero(&req, sizeof(req));
	/* nothing more is read until the answer; it may not come */
	event_free(ep->ev);
	if ((ep->ev = evtimer_new(env->base, entry_auth_timeout, ep)) == NULL)
		fatalx("%s: evtimer_new", __func__);
	evtimer_del(ep->deadline);
	evtimer_add(ep->ev, &tv);
	ep->waiting = 1;
	TAILQ_INSERT_TAIL(&auth_waits, ep, aentry);
}

static void
entry_auth_timeout(int fd, short ev, void *arg)
{
	struct entry_pending	*ep = arg;

	log_warnx("tunnel %s: entry connection from %s: no answer to its "
	    "proxy authentication", ep->tunnel->id, ep->peer);
	entry_auth_refuse(ep, 503, 0);
}

/*
 * Proxy authentication refused, on a tunnel's port (-P) or the
 * gateway's: 429 while failed logins wait (retry: seconds), 503 when
 * nobody can tell, else 407.  ep is gone after.
 */
static void
entry_auth_refuse(struct entry_pending *ep, int code, int retry)
{
	char	 extra[64];

	switch (code) {
	case 429:
		snprintf(extra, sizeof(extra), "Retry-After: %d\r\n", retry);
		answer_refuse(ep->fd, ep->peer, 429, "Too many failed "
		    "proxy logins.", extra);
		break;
	case 503:
		answer_refuse(ep->fd, ep->peer, 503, "Proxy authentication is "
		    "not available just now.", NULL);
		break;
	default:
		log_info("%s: entry connection from %s: proxy authentication "
		    "%s, 407", entry_what(ep), ep->peer, ep->had_hdr ?
		    "failed" : "missing");
		answer_refuse(ep->fd, ep->peer, 407, ep->tunnel != NULL ?
		    "Proxy authentication required." : "Proxy authentication "
		    "required: user ACCOUNT, ACCOUNT+NAME or "
		    "ACCOUNT+OWNER/NAME, password the access key of ACCOUNT.",
		    "Proxy-Authenticate: Basic realm=\"sc-server\"\r\n");
		break;
	}
	ep->fd = -1;
	entry_pending_free(ep);
}

/* The REST worker's answer for a connection waiting on -P. */
void
entry_auth_reply(const struct srv_auth_rep *rep)
{
	struct entry_pending	*ep;

	TAILQ_FOREACH(ep, &auth_waits, aentry)
		if (ep->reqid == rep->reqid)
			break;
	if (ep == NULL)
		return;		/* the connection went away meanwhile */
	switch (rep->result) {
	case SRV_AUTH_OK:
		entry_go(ep);
		return;
	case SRV_AUTH_LIMITED:
		entry_auth_refuse(ep, 429, rep->retry);
		break;
	case SRV_AUTH_UNAVAIL:
		entry_auth_refuse(ep, 503, 0);
		break;
	default:
		entry_auth_refuse(ep, 407, 0);
		break;
	}
}

/*
 * The gateway: the first request head is whole; which tunnel do its
 * credentials name (gateway.c)?  Nothing more is read until the answer,
 * which always comes (GATEWAY_ASK_SEC at most).
 */
static void
entry_gate_ask(struct entry_pending *ep)
{
	char	 addr[ADDRSTR_MAX], *p;

	if (ep->ev != NULL) {
		event_free(ep->ev);
		ep->ev = NULL;
	}
	evtimer_del(ep->deadline);
	/* the rate limit counts addresses without the port */
	strlcpy(addr, ep->peer, sizeof(addr));
	if ((p = strrchr(addr, ':')) != NULL)
		*p = '\0';
	ep->had_hdr = http_head_get(ep->head, "Proxy-Authorization") != NULL;
	gate_ask(http_head_get(ep->head, "Proxy-Authorization"), addr,
	    entry_gate_answer, ep, &ep->gate);
	/* ep may be gone now */
}

/* The gateway's answer for ep: a tunnel to serve it, or a refusal. */
static void
entry_gate_answer(void *arg, const struct gate_answer *ans)
{
	struct entry_pending	*ep = arg;
	char			 text[320];
	int			 code = 403;

	ep->gate = NULL;
	switch (ans->result) {
	case SRV_GATE_OK:
		ep->gate_tries++;
		if ((ep->tunnel = gate_choose(ans, text, sizeof(text))) ==
		    NULL) {
			/* --kgp-workers: another worker's, perhaps */
			if (entry_hand(ep, ans) == 0)
				return;
			log_info("gateway: %s from %s: %s 503",
			    ep->head->method, ep->peer, text);
			code = 503;
			break;
		}
		log_debug("gateway: %s %s from %s: tunnel %s",
		    ep->head->method, ep->head->target, ep->peer,
		    ep->tunnel->id);
		entry_go(ep);
		return;
	case SRV_GATE_NONE:
		snprintf(text, sizeof(text), "You have no running tunnel "
		    "%s.", ans->label);
		break;
	case SRV_GATE_UNSHARED:
		snprintf(text, sizeof(text), "No running tunnel %s is shared "
		    "with you.", ans->label);
		break;
	case SRV_GATE_LIMITED:
		entry_auth_refuse(ep, 429, ans->retry);
		return;
	case SRV_GATE_UNAVAIL:
		entry_auth_refuse(ep, 503, 0);
		return;
	default:
		entry_auth_refuse(ep, 407, 0);
		return;
	}
	if (code == 403)
		log_info("gateway: connection from %s: %s 403", ep->peer, text);
	answer_refuse(ep->fd, ep->peer, code, text, NULL);
	ep->fd = -1;
	entry_pending_free(ep);
}

/*
 * The first request head is whole (and -P checked), the tunnel has no
 * session here: which node has it?  Nothing more is read until the
 * answer, which always comes (NODE_ASK_SEC at most).
 */
static void
entry_node_ask(struct entry_pending *ep)
{
	if (ep->ev != NULL) {
		event_free(ep->ev);
		ep->ev = NULL;
	}
	evtimer_del(ep->deadline);
	if (ep->waiting) {
		/* -P said yes: no more an answer to wait for */
		TAILQ_REMOVE(&auth_waits, ep, aentry);
		ep->waiting = 0;
	}
	nodelink_ask(ep->tunnel->id, entry_node_answer, ep, &ep->nask);
	/* ep may be gone now */
}

/*
 * Where the session of ep's tunnel is: there over the node link, or 503.
 * A pool member the gateway picked that is on no node, or on one that
 * cannot be reached, is passed over: the connection goes to another
 * member (GATEWAY_TRIES picks at most).
 */
static void
entry_node_answer(void *arg, const struct srv_node_rep *rep)
{
	struct entry_pending	*ep = arg;
	struct tunnel		*t = ep->tunnel;
	int			 sent = 0;

	ep->nask = NULL;
	if (rep->result == SRV_NODE_PEER && nodelink_forward(rep, ep->fd,
	    ep->peer, ep->buf, ep->len) == 0)
		sent = 1;
	if (!sent && ep->proxy->tunnel == NULL && rep->result !=
	    SRV_NODE_HERE) {
		gate_failed(t);
		if (ep->gate_tries < GATEWAY_TRIES) {
			log_debug("gateway: tunnel %s: its node %s, another "
			    "member for %s", t->id, rep->result ==
			    SRV_NODE_PEER ? "cannot be reached" : "is none",
			    ep->peer);
			ep->tunnel = NULL;
			entry_gate_ask(ep);
			/* ep may be gone now */
			return;
		}
	}
	if (rep->result == SRV_NODE_PEER) {
		if (sent) {
			log_debug("tunnel %s: %s %s from %s: to node %s",
			    t->id, ep->head->method, ep->head->target,
			    ep->peer, rep->node);
			entry_trust(ep);
			ep->fd = -1;	/* the node link's now */
		} else {
			log_info("tunnel %s: %s from %s: node %s cannot be "
			    "reached, 502", t->id, ep->head->method, ep->peer,
			    rep->node);
			answer_refuse(ep->fd, ep->peer, 502, "The node that "
			    "holds the tunnel's client cannot be reached.",
			    NULL);
			ep->fd = -1;
		}
		entry_pending_free(ep);
		return;
	}
	log_debug("tunnel %s: entry connection from %s: no session %s, 503",
	    t->id, ep->peer, rep->result == SRV_NODE_DEAD ? "(its node is "
	    "down)" : rep->result == SRV_NODE_UNAVAIL ? "(the database "
	    "cannot tell now)" : "on any node");
	answer_refuse(ep->fd, ep->peer, 503, "The tunnel is not connected.",
	    NULL);
	ep->fd = -1;
	entry_pending_free(ep);
}

void
entry_stats(struct srv_kgp_stats *st)
{
	st->entry_accepted = entry_accepted;
	answer_counts(st->entry_rejected);
}
