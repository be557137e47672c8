/*
 * Node links, the KGP worker's side (kgp.7, "Node links"): a browser at
 * this node's entry for a tunnel whose client session is on another node
 * goes there over a KGP link between the two nodes.
 *
 * The forwarding node asks the parent where the session is
 * (IMSG_SRV_NODE_REQ; nodemap.c answers from the database), then opens
 * a stream on its link to that node: one link a peer node, opened on
 * first need, TLS with the peer's certificate pinned to its nodes row,
 * and a HELLO with the node flag (KGP_F_NODE) that names this node and
 * carries the cluster's node secret.  Every OPEN on the link names its
 * tunnel.  A link without streams for NODELINK_IDLE_SEC closes; one
 * that fails is tried again on the next browser, NODELINK_RETRY_MS
 * after.  Node links are not resumed: a peer that dies resets the
 * link's streams and no other.
 *
 * The owning node takes the link on its KGP port like a client's, in
 * the same admission table: its HELLO must carry the secret
 * (kgp_server.c asks nodelink_check()).  Each stream it is offered
 * goes to its entry (entry_from_node()) in-process, as if a browser had
 * reached that tunnel's entry port: rules and counters there, and down
 * the tunnel the stream spliced onto the client's in the KGP engine;
 * the access list and -P were the first node's.  A stream it refuses is
 * answered 502 here, with its reason (nodelink_refused()).
 */
#include <sys/types.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <tls.h>

#include "imsg_server.h"
#include "kgp.h"
#include "kgp_tls.h"
#include "log.h"
#include "proc.h"
#include "server.h"

#define NODELINK_PING_MS	1000
#define NODELINK_META_MAX	255	/* an OPEN's text (kgp.7) */

/* a browser's connection waiting for its link to come up */
struct nodelink_wait {
	TAILQ_ENTRY(nodelink_wait) entry;
	int			 fd;
	char			 meta[NODELINK_META_MAX + 1];
	char			 peer[ADDRSTR_MAX];
	unsigned char		*buf;
	size_t			 len;
};

/* the link to one peer node */
struct nodelink {
	TAILQ_ENTRY(nodelink)	 entry;
	char			 name[NODE_NAME_MAX];
	char			 addr[HOST_MAX];	/* numeric */
	int			 port;
	char			 cert[CERT_HASH_LEN + 1];
	int			 fd;		/* connecting: the socket */
	struct event		*ev;		/* connect, then idle check */
	struct kgp_conn		*conn;
	int			 up;
	int			 goaway;	/* the peer takes no more */
	int64_t			 failed_ms;	/* 0: not failed */
	int64_t			 used_ms;	/* a stream last open */
	TAILQ_HEAD(, nodelink_wait) waits;
	size_t			 nwaits;
};

/* a question to the parent */
struct nodelink_ask {
	TAILQ_ENTRY(nodelink_ask) entry;
	uint64_t		 reqid;
	char			 tunnel_id[TUNNEL_ID_LEN + 1];
	void			(*cb)(void *, const struct srv_node_rep *);
	void			*arg;
	struct event		*timer;
};

static TAILQ_HEAD(, nodelink)	 links = TAILQ_HEAD_INITIALIZER(links);
static TAILQ_HEAD(, nodelink_ask) asks = TAILQ_HEAD_INITIALIZER(asks);
static size_t			 nlinks;
static uint64_t			 ask_reqid;
static struct tls_config	*nodelink_tc;
static char			 node_secret[NODE_SECRET_LEN + 1];

static void	 nodelink_ask_late(int, short, void *);
static void	 nodelink_ask_done(struct nodelink_ask *,
		    const struct srv_node_rep *);
static struct nodelink *nodelink_get(const struct srv_node_rep *);
static int	 nodelink_connect(struct nodelink *);
static void	 nodelink_refused(struct kgp_conn *, uint32_t, int, uint16_t,
		    const char *, void *);
static void	 nodelink_connected(int, short, void *);
static void	 nodelink_idle(int, short, void *);
static void	 nodelink_mark_failed(struct nodelink *);
static void	 nodelink_failed(struct nodelink *, const char *);
static void	 nodelink_flush(struct nodelink *, const char *);
static void	 nodelink_free(struct nodelink *);
static int	 nodelink_open(struct nodelink *, int, const char *,
		    const void *, size_t);
static void	 nodelink_wait_free(struct nodelink_wait *, int);
static void	 nodelink_up(struct kgp_conn *, void *);
static void	 nodelink_goaway(struct kgp_conn *, int, const char *,
		    void *);
static void	 nodelink_down(struct kgp_conn *, int, const char *, void *);

static const struct kgp_callbacks nodelink_callbacks = {
	.up = nodelink_up,
	.refused = nodelink_refused,
	.goaway = nodelink_goaway,
	.down = nodelink_down,
};

/*
 * The TLS settings of the links this node opens, before the sandbox:
 * the peer's certificate is pinned (its nodes row), not verified.
 */
int
nodelink_init(void)
{
	if ((nodelink_tc = tls_config_new()) == NULL)
		return (-1);
	tls_config_set_protocols(nodelink_tc, TLS_PROTOCOL_TLSv1_2 |
	    TLS_PROTOCOL_TLSv1_3);
	tls_config_insecure_noverifycert(nodelink_tc);
	tls_config_insecure_noverifyname(nodelink_tc);
	return (0);
}

/* The cluster's secret (the parent's, --db postgresql only): links on. */
void
nodelink_secret(const struct srv_node_secret *s)
{
	strlcpy(node_secret, s->secret, sizeof(node_secret));
}

/* This node is one of a cluster's: browsers may go to other nodes. */
int
nodelink_enabled(void)
{
	return (node_secret[0] != '\0');
}

/*
 * Where is tunnel_id's client session?  cb gets the parent's answer,
 * or SRV_NODE_UNAVAIL after NODE_ASK_SEC; never before this returns
 * unless nothing can be asked (then at once).  *handle is for
 * nodelink_cancel() until then.
 */
void
nodelink_ask(const char *tunnel_id, void (*cb)(void *,
    const struct srv_node_rep *), void *arg, void **handle)
{
	struct nodelink_ask	*a;
	struct srv_node_req	 req;
	struct srv_node_rep	 rep;
	struct timeval		 tv = { NODE_ASK_SEC, 0 };

	*handle = NULL;
	if ((a = calloc(1, sizeof(*a))) == NULL ||
	    (a->timer = evtimer_new(env->base, nodelink_ask_late, a)) ==
	    NULL) {
		log_warn("%s", __func__);
		free(a);
		memset(&rep, 0, sizeof(rep));
		rep.result = SRV_NODE_UNAVAIL;
		strlcpy(rep.tunnel_id, tunnel_id, sizeof(rep.tunnel_id));
		cb(arg, &rep);
		return;
	}
	a->reqid = ++ask_reqid;
	strlcpy(a->tunnel_id, tunnel_id, sizeof(a->tunnel_id));
	a->cb = cb;
	a->arg = arg;
	TAILQ_INSERT_TAIL(&asks, a, entry);
	evtimer_add(a->timer, &tv);
	memset(&req, 0, sizeof(req));
	req.reqid = a->reqid;
	strlcpy(req.tunnel_id, tunnel_id, sizeof(req.tunnel_id));
	worker_send(IMSG_SRV_NODE_REQ, &req, sizeof(req));
	*handle = a;
}

/* The asker is gone: its answer goes nowhere. */
void
nodelink_cancel(void *handle)
{
	struct nodelink_ask	*a = handle;

	if (a == NULL)
		return;
	TAILQ_REMOVE(&asks, a, entry);
	event_free(a->timer);
	free(a);
}

static void
nodelink_ask_done(struct nodelink_ask *a, const struct srv_node_rep *rep)
{
	void	(*cb)(void *, const struct srv_node_rep *) = a->cb;
	void	*arg = a->arg;

	nodelink_cancel(a);
	cb(arg, rep);
}

static void
nodelink_ask_late(int fd, short ev, void *arg)
{
	struct nodelink_ask	*a = arg;
	struct srv_node_rep	 rep;

	log_warnx("tunnel %s: no answer where its session is within %d s",
	    a->tunnel_id, NODE_ASK_SEC);
	memset(&rep, 0, sizeof(rep));
	rep.reqid = a->reqid;
	rep.result = SRV_NODE_UNAVAIL;
	strlcpy(rep.tunnel_id, a->tunnel_id, sizeof(rep.tunnel_id));
	nodelink_ask_done(a, &rep);
}

/* The parent's answer (checked by the table). */
void
nodelink_reply(const struct srv_node_rep *rep)
{
	struct nodelink_ask	*a;

	TAILQ_FOREACH(a, &asks, entry)
		if (a->reqid == rep->reqid)
			break;
	if (a == NULL || strcmp(a->tunnel_id, rep->tunnel_id) != 0)
		return;		/* too late: answered with the timeout */
	nodelink_ask_done(a, rep);
}

/*
 * Forward the browser's connection fd (its first len bytes in buf,
 * read already) for tunnel rep->tunnel_id to node rep->node, where its
 * session is.  0: fd is the link's now (a stream, or waiting for the
 * link); -1: the node cannot be reached now, fd is still the caller's.
 */
int
nodelink_forward(const struct srv_node_rep *rep, int fd, const char *peer,
    const void *buf, size_t len)
{
	struct nodelink		*l;
	struct nodelink_wait	*w;
	char			 meta[NODELINK_META_MAX + 1];

	if ((l = nodelink_get(rep)) == NULL)
		return (-1);
	/* the tunnel, and the browser as the owning node logs it */
	snprintf(meta, sizeof(meta), "%s %s via %s", rep->tunnel_id, peer,
	    env->node);
	if (l->conn != NULL && l->up)
		return (nodelink_open(l, fd, meta, buf, len));
	if (l->conn == NULL && l->fd == -1) {
		if (l->failed_ms != 0 &&
		    mono_ms() - l->failed_ms < NODELINK_RETRY_MS)
			return (-1);
		if (nodelink_connect(l) == -1)
			return (-1);
	}
	if (l->goaway || l->nwaits >= NODELINK_QUEUE_MAX)
		return (-1);
	if ((w = calloc(1, sizeof(*w))) == NULL ||
	    (len > 0 && (w->buf = malloc(len)) == NULL)) {
		free(w);
		return (-1);
	}
	w->fd = fd;
	strlcpy(w->meta, meta, sizeof(w->meta));
	strlcpy(w->peer, peer, sizeof(w->peer));
	if (len > 0)
		memcpy(w->buf, buf, len);
	w->len = len;
	TAILQ_INSERT_TAIL(&l->waits, w, entry);
	l->nwaits++;
	return (0);
}

/* A stream for fd on l's link, which is up: 0, or -1 (fd the caller's). */
static int
nodelink_open(struct nodelink *l, int fd, const char *meta, const void *buf,
    size_t len)
{
	if (l->goaway || kgp_conn_open_stream(l->conn, fd, meta, buf,
	    len) == -1)
		return (-1);
	l->used_ms = mono_ms();
	return (0);
}

/* The link to rep's node, made if there is none (NULL: too many). */
static struct nodelink *
nodelink_get(const struct srv_node_rep *rep)
{
	struct nodelink	*l;
	struct timeval	 tv = { NODELINK_IDLE_SEC / 4, 0 };

	TAILQ_FOREACH(l, &links, entry)
		if (strcmp(l->name, rep->node) == 0)
			break;
	if (l == NULL) {
		if (nlinks >= NODELINK_MAX) {
			log_warnx("node %s: no link, %d links already",
			    rep->node, NODELINK_MAX);
			return (NULL);
		}
		if ((l = calloc(1, sizeof(*l))) == NULL ||
		    (l->ev = event_new(env->base, -1, EV_PERSIST,
		    nodelink_idle, l)) == NULL) {
			log_warn("%s", __func__);
			free(l);
			return (NULL);
		}
		strlcpy(l->name, rep->node, sizeof(l->name));
		l->fd = -1;
		TAILQ_INIT(&l->waits);
		TAILQ_INSERT_TAIL(&links, l, entry);
		nlinks++;
		event_add(l->ev, &tv);
	}
	/* the next connection goes where the row says now */
	strlcpy(l->addr, rep->addr, sizeof(l->addr));
	l->port = rep->port;
	strlcpy(l->cert, rep->cert_sha256, sizeof(l->cert));
	return (l);
}

/* Start l's TCP connection: 0, or -1 (l is marked failed). */
static int
nodelink_connect(struct nodelink *l)
{
	struct sockaddr_storage	 ss;
	struct sockaddr_in	*sin = (struct sockaddr_in *)&ss;
	struct sockaddr_in6	*sin6 = (struct sockaddr_in6 *)&ss;
	struct timeval		 tv = { NODELINK_CONNECT_SEC, 0 };
	socklen_t		 sslen;
	int			 fd;

	memset(&ss, 0, sizeof(ss));
	if (inet_pton(AF_INET, l->addr, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons(l->port);
		sslen = sizeof(*sin);
	} else if (inet_pton(AF_INET6, l->addr, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(l->port);
		sslen = sizeof(*sin6);
	} else {
		nodelink_failed(l, "not a numeric address");
		return (-1);
	}
	if ((fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0)) == -1) {
		nodelink_failed(l, strerror(errno));
		return (-1);
	}
	if (connect(fd, (struct sockaddr *)&ss, sslen) == -1 &&
	    errno != EINPROGRESS) {
		close(fd);
		nodelink_failed(l, strerror(errno));
		return (-1);
	}
	l->fd = fd;
	event_del(l->ev);
	event_free(l->ev);
	if ((l->ev = event_new(env->base, fd, EV_WRITE, nodelink_connected,
	    l)) == NULL)
		fatalx("%s: event_new", __func__);
	event_add(l->ev, &tv);
	log_debug("node %s: connecting to %s port %d", l->name, l->addr,
	    l->port);
	return (0);
}

/* The TCP connection is up (or failed, or late): TLS and HELLO now. */
static void
nodelink_connected(int fd, short ev, void *arg)
{
	struct nodelink		*l = arg;
	struct kgp_params	 params;
	struct kgp_tls		*io;
	struct tls		*tls;
	struct timeval		 tv = { NODELINK_IDLE_SEC / 4, 0 };
	socklen_t		 len = sizeof(int);
	int			 err = 0;

	event_free(l->ev);
	if ((l->ev = event_new(env->base, -1, EV_PERSIST, nodelink_idle,
	    l)) == NULL)
		fatalx("%s: event_new", __func__);
	event_add(l->ev, &tv);
	if (ev & EV_TIMEOUT)
		err = ETIMEDOUT;
	else if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1)
		err = errno;
	l->fd = -1;
	if (err != 0) {
		close(fd);
		nodelink_failed(l, strerror(err));
		return;
	}
	if ((tls = tls_client()) == NULL) {
		close(fd);
		nodelink_failed(l, "tls_client failed");
		return;
	}
	if (tls_configure(tls, nodelink_tc) == -1 ||
	    (io = kgp_tls_connect(tls, fd, NULL)) == NULL) {
		log_warnx("node %s: TLS: %s", l->name, tls_error(tls) ?
		    tls_error(tls) : "out of memory");
		tls_free(tls);
		close(fd);
		nodelink_failed(l, "cannot start TLS");
		return;
	}
	memset(&params, 0, sizeof(params));
	params.role = KGP_ROLE_CLIENT;
	params.node = 1;
	params.window = KGP_DEFAULT_WINDOW;
	params.max_streams = KGP_DEFAULT_MAXSTREAMS;
	params.ping_ms = NODELINK_PING_MS;
	params.max_missed = env->max_missed;
	if (strcmp(env->kgp_congestion, "default") != 0)
		params.congestion = env->kgp_congestion;
	params.handshake_ms = NODELINK_CONNECT_SEC * 1000;
	params.pin = l->cert;
	params.tunnel_id = env->node;
	params.secret = node_secret;
	if ((l->conn = kgp_conn_new(env->base, fd, io, &params,
	    &nodelink_callbacks, l)) == NULL) {
		kgp_tls_free(io);
		close(fd);
		nodelink_failed(l, "cannot set it up");
		return;
	}
	l->used_ms = mono_ms();
}

/* l failed now: no new link before NODELINK_RETRY_MS (0: not failed). */
static void
nodelink_mark_failed(struct nodelink *l)
{
	if ((l->failed_ms = mono_ms()) == 0)
		l->failed_ms = 1;
}

/*
 * l cannot carry streams: what waits for it gets a 502, the next
 * browser for its node tries again after NODELINK_RETRY_MS.
 */
static void
nodelink_failed(struct nodelink *l, const char *why)
{
	log_warnx("node %s (%s port %d): no link: %s", l->name, l->addr,
	    l->port, why);
	nodelink_mark_failed(l);
	nodelink_flush(l, "The node that holds the tunnel's client cannot be "
	    "reached.");
}

/* What waits for l gets a 502 with text. */
static void
nodelink_flush(struct nodelink *l, const char *text)
{
	struct nodelink_wait	*w;

	while ((w = TAILQ_FIRST(&l->waits)) != NULL) {
		TAILQ_REMOVE(&l->waits, w, entry);
		l->nwaits--;
		answer_refuse(w->fd, w->peer, 502, text, NULL);
		w->fd = -1;
		nodelink_wait_free(w, 0);
	}
}

static void
nodelink_wait_free(struct nodelink_wait *w, int close_fd)
{
	if (close_fd && w->fd != -1)
		close(w->fd);
	free(w->buf);
	free(w);
}

/* Every NODELINK_IDLE_SEC / 4: a link unused so long closes. */
static void
nodelink_idle(int fd, short ev, void *arg)
{
	struct nodelink		*l = arg;
	struct kgp_conn_stats	 st;
	int64_t			 now = mono_ms();

	if (l->conn == NULL) {
		/* a failed link's record, kept for the retry bound */
		if (l->fd == -1 && TAILQ_EMPTY(&l->waits) &&
		    now - l->failed_ms >= NODELINK_IDLE_SEC * 1000)
			nodelink_free(l);
		return;
	}
	kgp_conn_stats(l->conn, &st);
	if (st.streams_open > 0) {
		l->used_ms = now;
		return;
	}
	if (l->up && now - l->used_ms >= NODELINK_IDLE_SEC * 1000) {
		log_debug("node %s: link idle for %d s, closed", l->name,
		    NODELINK_IDLE_SEC);
		kgp_conn_close(l->conn, KGP_E_NONE, "idle");
	}
}

static void
nodelink_free(struct nodelink *l)
{
	struct nodelink_wait	*w;

	while ((w = TAILQ_FIRST(&l->waits)) != NULL) {
		TAILQ_REMOVE(&l->waits, w, entry);
		nodelink_wait_free(w, 1);
	}
	if (l->ev != NULL)
		event_free(l->ev);
	if (l->fd != -1)
		close(l->fd);
	if (l->conn != NULL)
		kgp_conn_free(l->conn);
	TAILQ_REMOVE(&links, l, entry);
	nlinks--;
	free(l);
}

/* The peer node took the HELLO: what waited goes now. */
static void
nodelink_up(struct kgp_conn *conn, void *arg)
{
	struct nodelink		*l = arg;
	struct nodelink_wait	*w;

	log_info("node %s: link to %s port %d up", l->name, l->addr,
	    l->port);
	l->up = 1;
	l->failed_ms = 0;
	while ((w = TAILQ_FIRST(&l->waits)) != NULL) {
		TAILQ_REMOVE(&l->waits, w, entry);
		l->nwaits--;
		if (nodelink_open(l, w->fd, w->meta, w->buf, w->len) == -1)
			answer_refuse(w->fd, w->peer, 502, "The node that "
			    "holds the tunnel's client takes no more "
			    "connections.", NULL);
		w->fd = -1;
		nodelink_wait_free(w, 0);
	}
}

/*
 * The owning node refused a browser's stream before any answer (its
 * tunnel is not there, or no client session of it is): the browser gets
 * a 502 that says why, not a closed connection.
 */
static void
nodelink_refused(struct kgp_conn *conn, uint32_t id, int fd, uint16_t code,
    const char *text, void *arg)
{
	struct nodelink	*l = arg;
	char		 why[128], msg[256];

	log_sanitize(text, why, sizeof(why));
	log_info("node %s: stream %u refused: %s (%s), 502", l->name, id,
	    why, kgp_code_name(code));
	snprintf(msg, sizeof(msg), "The node that holds the tunnel refused "
	    "the connection: %s.", why[0] != '\0' ? why : kgp_code_name(code));
	answer_refuse(fd, l->name, 502, msg, NULL);
}

/* The peer is going away: no new streams here; a new link for them. */
static void
nodelink_goaway(struct kgp_conn *conn, int code, const char *reason,
    void *arg)
{
	struct nodelink	*l = arg;

	log_info("node %s: the peer takes no more streams (%s)", l->name,
	    kgp_code_name(code));
	l->goaway = 1;
}

/* The link is gone, its streams reset: the next browser opens another. */
static void
nodelink_down(struct kgp_conn *conn, int code, const char *reason,
    void *arg)
{
	struct nodelink	*l = arg;
	char		 text[200];
	int		 was_up = l->up;

	log_sanitize(reason ? reason : "", text, sizeof(text));
	l->conn = NULL;
	l->up = 0;
	l->goaway = 0;
	kgp_conn_free(conn);
	if (!was_up) {
		nodelink_failed(l, text);
		return;
	}
	log_info("node %s: link closed: %s%s%s", l->name,
	    kgp_code_name(code), *text ? ": " : "", text);
	if (code != KGP_E_NONE)
		nodelink_mark_failed(l);
}

/* Shutting down: every link closes, what waits gets a 502. */
void
nodelink_shutdown(void)
{
	struct nodelink		*l, *tmp;

	TAILQ_FOREACH_SAFE(l, &links, entry, tmp) {
		nodelink_flush(l, "This node is shutting down.");
		if (l->conn != NULL)
			kgp_conn_close(l->conn, KGP_E_SHUTDOWN,
			    "node shutting down");
		else
			nodelink_free(l);
	}
}

/*
 * The owning node's side: the HELLO of a connection from addr with the
 * node flag names node name and carries secret (kgp_server.c).  0 to
 * take it, KGP_E_AUTH to refuse it (logged).
 */
int
nodelink_check(const char *addr, const char *name, const char *secret,
    size_t secretsz)
{
	size_t	 len;

	if (!nodelink_enabled()) {
		log_info("KGP connection from %s: a node's HELLO, but this "
		    "server is in no cluster", addr);
		return (KGP_E_AUTH);
	}
	if (!node_name_valid(name) || strcmp(name, env->node) == 0) {
		log_info("KGP connection from %s: a node's HELLO without a "
		    "node's name", addr);
		return (KGP_E_AUTH);
	}
	len = strnlen(secret, secretsz);
	if (len != NODE_SECRET_LEN || timingsafe_bcmp(secret, node_secret,
	    NODE_SECRET_LEN) != 0) {
		log_warnx("KGP connection from %s: node %s: wrong node "
		    "secret, refused", addr, name);
		return (KGP_E_AUTH);
	}
	return (0);
}
