/*
 * The parent's side of a cluster (--db postgresql://..., --node): the
 * nodes on one database.
 *
 *  - its heartbeat: every NODE_HEARTBEAT_SEC the node upserts its row of
 *    the table nodes (its addresses, the digest of its KGP certificate,
 *    its state and its load: the tunnels whose session it holds, its
 *    open streams); a node whose heartbeat is older than NODE_DEAD_SEC
 *    is down, and whoever notices marks it so and clears the node of
 *    its tunnels (their clients may connect elsewhere);
 *  - the nodes, sent to the REST worker after each heartbeat
 *    (SRV_BLOB_NODES), for the placement of tunnels (place.c);
 *  - the sessions: what the KGP worker reports of a tunnel (relayed by
 *    parent_relay.c) sets tunnels.node to this node when its first
 *    session comes up, and clears it when the last one ends (not while
 *    a broken one waits for its client within the grace period);
 *  - the drain: a node whose row says 'draining' (sc-server node drain)
 *    stops as on SIGTERM (its clients get GOAWAY and move);
 *  - the other nodes as the last heartbeat read them, each one's host
 *    resolved when it is first seen or changes, for the node links
 *    (node_peer(), nodemap.c): no statement or name lookup per link.
 */
#include <sys/types.h>
#include <sys/queue.h>
#include <sys/tree.h>

#include <sys/socket.h>

#include <errno.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "imsg_server.h"
#include "log.h"
#include "proc.h"
#include "server.h"

/* a tunnel whose session this node holds */
struct node_held {
	RB_ENTRY(node_held)	 entry;
	char			 id[TUNNEL_ID_LEN + 1];
};
RB_HEAD(node_helds, node_held);

static int	 node_held_cmp(struct node_held *, struct node_held *);
static void	 node_beat(int, short, void *);
static void	 node_row(void *, int, const char **);

RB_PROTOTYPE(node_helds, node_held, entry, node_held_cmp)
RB_GENERATE(node_helds, node_held, entry, node_held_cmp)

/* a node as the last heartbeat read it, its host resolved */
struct node_peer {
	struct node_info	 ni;
	char			 addr[HOST_MAX];	/* numeric, "": none */
};

static struct node_helds helds = RB_INITIALIZER(&helds);
static struct node_peer	*peers;
static size_t		 npeers;
static int64_t		 peers_read_ms;
static size_t		 nheld;
static uint64_t		 streams;	/* the KGP worker's last figure */
static struct event	*beat_ev;
static time_t		 started;
static int		 beats;		/* written */
static int		 draining;
static struct imsgev	*(*node_rest)(void);
static void		(*node_drain)(void);

static int
node_held_cmp(struct node_held *a, struct node_held *b)
{
	return (strcmp(a->id, b->id));
}

/*
 * In a cluster: the first heartbeat now, the next every
 * NODE_HEARTBEAT_SEC.  rest() is the REST worker's channel (NULL when
 * none runs), drain() stops the node.
 */
void
node_start(struct imsgev *(*rest)(void), void (*drain)(void))
{
	if (!env->cluster)
		return;
	node_rest = rest;
	node_drain = drain;
	started = time(NULL);
	if ((beat_ev = evtimer_new(env->base, node_beat, NULL)) == NULL)
		fatalx("%s: evtimer_new", __func__);
	log_info("node %s of the cluster on %s", env->node, db_file());
	node_beat(-1, 0, NULL);
}

/* The row of this node as it is now. */
static void
node_self(struct node_info *ni)
{
	const char	*p;

	memset(ni, 0, sizeof(*ni));
	strlcpy(ni->name, env->node, sizeof(ni->name));
	strlcpy(ni->host, env->host, sizeof(ni->host));
	ni->kgp_port = env->kgp_port;
	if ((p = strrchr(env->gateway_addr, ':')) != NULL)
		ni->entry_port = atoi(p + 1);
	snprintf(ni->rest_url, sizeof(ni->rest_url), "%s://%s%s",
	    env->rest_tls ? "https" : "http", env->rest_addr, REST_PREFIX);
	strlcpy(ni->cert_sha256, env->cert_hash, sizeof(ni->cert_sha256));
	ni->state = draining ? NODE_DRAINING : NODE_UP;
	ni->tunnels = nheld;
	ni->streams = streams;
	ni->started = started;
	ni->heartbeat = time(NULL);
}

/* the nodes for the REST worker, as they are read, and for node_peer() */
struct node_list {
	struct srv_node	*n;
	struct node_peer *p;
	size_t		 count;
	int		 self_draining;
};

static void
node_row(void *arg, int n, const char **v)
{
	struct node_list	*l = arg;
	struct node_info	 ni;
	struct srv_node		*sn;

	if (l->count == NODES_MAX || db_node_parse(n, v, &ni) == -1)
		return;
	if (strcmp(ni.name, env->node) == 0 && ni.state == NODE_DRAINING)
		l->self_draining = 1;
	sn = &l->n[l->count++];
	memset(sn, 0, sizeof(*sn));
	strlcpy(sn->name, ni.name, sizeof(sn->name));
	strlcpy(sn->host, ni.host, sizeof(sn->host));
	strlcpy(sn->cert_sha256, ni.cert_sha256, sizeof(sn->cert_sha256));
	sn->kgp_port = ni.kgp_port;
	sn->state = ni.state;
	sn->alive = ni.alive;
	sn->tunnels = ni.tunnels;
	sn->self = strcmp(ni.name, env->node) == 0;
	l->p[l->count - 1].ni = ni;
}

/*
 * The nodes as just read (l): each one's host resolved, unless it was
 * already under the same name (and not down then: a node that comes
 * back may have moved).
 */
static void
node_peers_take(struct node_list *l)
{
	struct addrinfo	 hints, *res;
	struct node_peer *p, *old;
	size_t		 i, j;
	int		 rc;

	for (i = 0; i < l->count; i++) {
		p = &l->p[i];
		for (j = 0, old = NULL; j < npeers && old == NULL; j++)
			if (strcmp(peers[j].ni.name, p->ni.name) == 0 &&
			    strcmp(peers[j].ni.host, p->ni.host) == 0 &&
			    peers[j].ni.state != NODE_DOWN)
				old = &peers[j];
		if (old != NULL) {
			strlcpy(p->addr, old->addr, sizeof(p->addr));
			continue;
		}
		if (strcmp(p->ni.name, env->node) == 0 ||
		    p->ni.state == NODE_DOWN)
			continue;
		memset(&hints, 0, sizeof(hints));
		hints.ai_family = AF_UNSPEC;
		hints.ai_socktype = SOCK_STREAM;
		if ((rc = getaddrinfo(p->ni.host, NULL, &hints, &res)) != 0) {
			log_warnx("node %s: its host %s: %s", p->ni.name,
			    p->ni.host, gai_strerror(rc));
			continue;
		}
		if (getnameinfo(res->ai_addr, res->ai_addrlen, p->addr,
		    sizeof(p->addr), NULL, 0, NI_NUMERICHOST) != 0)
			p->addr[0] = '\0';
		freeaddrinfo(res);
	}
	free(peers);
	peers = l->p;
	npeers = l->count;
	l->p = NULL;
	peers_read_ms = mono_ms();
}

/* The nodes from the database: 0, or -1.  The REST worker's in l->n. */
static int
node_read(struct node_list *l)
{
	int	 rc;

	memset(l, 0, sizeof(*l));
	if ((l->n = calloc(NODES_MAX, sizeof(*l->n))) == NULL ||
	    (l->p = calloc(NODES_MAX, sizeof(*l->p))) == NULL)
		fatal("%s", __func__);
	if ((rc = db_nodes(node_row, l)) == 0)
		node_peers_take(l);
	free(l->p);
	l->p = NULL;
	return (rc);
}

/*
 * Node name as the last heartbeat read it (read again now, at most
 * every NODE_PEERS_READ_MS, when it has none of that name: a node that
 * started since): into ni (alive as of now), its host's address into
 * addr ("" when it cannot be resolved).  0, or -1 when there is no such
 * node.
 */
int
node_peer(const char *name, struct node_info *ni, char *addr, size_t len)
{
	struct node_list	 l;
	size_t			 i;
	int			 again = 1;

 look:
	for (i = 0; i < npeers; i++) {
		if (strcmp(peers[i].ni.name, name) != 0)
			continue;
		*ni = peers[i].ni;
		ni->alive = ni->state != NODE_DOWN &&
		    time(NULL) - ni->heartbeat < NODE_DEAD_SEC;
		strlcpy(addr, peers[i].addr, len);
		return (0);
	}
	if (!again-- || mono_ms() - peers_read_ms < NODE_PEERS_READ_MS)
		return (-1);
	if (node_read(&l) == -1) {
		log_warnx("%s: the nodes: %s", db_file(), db_error());
		peers_read_ms = mono_ms();
	}
	free(l.n);
	goto look;
}

/*
 * The heartbeat: this node's row written, the dead ones marked down
 * (their tunnels' node cleared), the nodes to the REST worker; a drain
 * asked for begins.
 */
static void
node_beat(int fd, short ev, void *arg)
{
	struct timeval		 tv = { NODE_HEARTBEAT_SEC, 0 };
	struct node_info	 ni;
	struct node_list	 l;
	struct imsgev		*rest;
	int			 n;

	node_self(&ni);
	if (db_node_beat(&ni, beats > 0) == -1)
		log_warnx("%s: node %s: %s", db_file(), env->node,
		    db_error());
	else if (beats++ == 0)
		log_debug("node %s: first heartbeat", env->node);
	/* a failure: the heartbeat's own said why (the database) */
	if ((n = db_nodes_sweep(ni.heartbeat - NODE_DEAD_SEC)) == 1)
		log_info("a node without a heartbeat for %d s: down, its "
		    "tunnels' clients may connect elsewhere", NODE_DEAD_SEC);
	if (node_read(&l) == 0) {
		if ((rest = node_rest()) != NULL && srv_blob_send(rest,
		    SRV_BLOB_NODES, l.n, l.count * sizeof(*l.n), 0) == -1)
			log_warn("%s: imsg", __func__);
		if (l.self_draining && !draining && beats > 0) {
			draining = 1;
			log_info("node %s: draining (sc-server node drain): "
			    "its clients get GOAWAY and move, then it stops",
			    env->node);
			node_drain();
		}
	}
	free(l.n);
	if (!env->shutting_down || draining)
		evtimer_add(beat_ev, &tv);
}

/*
 * What the KGP worker says of a tunnel (parent_relay.c): the node that
 * holds its session.
 */
void
node_tunnel_state(const struct srv_tstate *ts)
{
	struct node_held	 key, *h;
	int			 up;

	if (!env->cluster)
		return;
	/*
	 * A session whose link broke is still held here for its grace (its
	 * client resumes it here): only its end, or the tunnel's, clears
	 * the node.
	 */
	up = (ts->connected || ts->nlinks > 0) && ts->status == TUNNEL_RUNNING;
	strlcpy(key.id, ts->id, sizeof(key.id));
	h = RB_FIND(node_helds, &helds, &key);
	if (up == (h != NULL))
		return;
	if (up) {
		if ((h = calloc(1, sizeof(*h))) == NULL) {
			log_warn("%s", __func__);
			return;
		}
		strlcpy(h->id, ts->id, sizeof(h->id));
		RB_INSERT(node_helds, &helds, h);
		nheld++;
	} else {
		RB_REMOVE(node_helds, &helds, h);
		free(h);
		nheld--;
	}
	if (db_tunnel_node_set(ts->id, up) == -1)
		log_warnx("%s: tunnel %s: its node: %s", db_file(), ts->id,
		    db_error());
}

/* The KGP worker's figures (-m): its open streams, the node's load. */
void
node_kgp_stats(const struct srv_kgp_stats *st)
{
	streams = st->streams_open;
}

/* The KGP worker is gone: no session is held here. */
void
node_kgp_down(void)
{
	struct node_held	*h, *tmp;

	RB_FOREACH_SAFE(h, node_helds, &helds, tmp) {
		if (env->cluster && db_tunnel_node_set(h->id, 0) == -1)
			log_warnx("%s: tunnel %s: its node: %s", db_file(),
			    h->id, db_error());
		RB_REMOVE(node_helds, &helds, h);
		free(h);
	}
	nheld = 0;
	streams = 0;
}

/* On the way out: the row says down, no tunnel is held here. */
void
node_stop(void)
{
	struct node_info	 ni;

	if (!env->cluster || beat_ev == NULL)
		return;
	node_kgp_down();
	node_self(&ni);
	ni.state = NODE_DOWN;
	if (db_node_beat(&ni, 0) == -1)
		log_warnx("%s: node %s: %s", db_file(), env->node, db_error());
}
