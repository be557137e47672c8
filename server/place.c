/*
 * The REST worker's placement of tunnels on the nodes of a cluster:
 * the nodes as the parent last read them (SRV_BLOB_NODES, every
 * NODE_HEARTBEAT_SEC), and the node a tunnel object names ("host",
 * "ssh_port", "server_cert_sha256").  A new tunnel (the answer to its
 * POST) goes to the live node that is not draining and holds the
 * fewest sessions, counting those this worker placed that the figures
 * do not show yet, so that tunnels made at once (a pool's members)
 * spread over the nodes.  Any other answer names this node while the
 * tunnel's session is here, else such a live node.  Without a cluster
 * (or before the first figures), every answer names this node.
 *
 * A tunnel placed counts on its node until a list shows that node
 * holding more sessions than the list before (each one more takes off
 * the oldest placement there), and for PLACE_PENDING_SEC at most: its
 * client connects, the node's heartbeat counts it, and the parent reads
 * the list, in any order with the next POST.
 */
#include <sys/types.h>
#include <sys/queue.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "imsg_server.h"
#include "log.h"
#include "proc.h"
#include "server.h"

/* a tunnel placed on a node, which the figures do not count yet */
struct place_pending {
	TAILQ_ENTRY(place_pending) entry;
	char		 node[NODE_NAME_MAX];
	int64_t		 ms;		/* placed at (monotonic) */
};

static struct srv_node	*nodes;
static size_t		 nnodes;
/* the oldest first */
static TAILQ_HEAD(, place_pending) pending = TAILQ_HEAD_INITIALIZER(pending);
static size_t		 npending;

static void	 place_forget(struct place_pending *);
static void	 place_expire(int64_t);
static size_t	 place_pending_on(const char *);

/* The nodes (n bytes of struct srv_node), from the parent. */
void
place_nodes(const void *buf, size_t len)
{
	place_nodes_at(buf, len, mono_ms());
}

/* ... at now (mono_ms()). */
void
place_nodes_at(const void *buf, size_t len, int64_t now)
{
	struct place_pending	*p, *tmp;
	struct srv_node		*n;
	size_t			 i, j, count = len / sizeof(*n);
	int64_t			 more;

	if (len % sizeof(*n) != 0 || count > NODES_MAX)
		fatalx("%s: bad node list (%zu bytes)", __func__, len);
	if ((n = calloc(count ? count : 1, sizeof(*n))) == NULL)
		fatal("%s", __func__);
	memcpy(n, buf, len);
	for (i = 0; i < count; i++) {
		n[i].name[sizeof(n[i].name) - 1] = '\0';
		n[i].host[sizeof(n[i].host) - 1] = '\0';
		n[i].cert_sha256[sizeof(n[i].cert_sha256) - 1] = '\0';
		/* the sessions it gained: placements it shows */
		for (j = 0; j < nnodes; j++)
			if (strcmp(nodes[j].name, n[i].name) == 0)
				break;
		if (j == nnodes)
			continue;
		more = n[i].tunnels - nodes[j].tunnels;
		TAILQ_FOREACH_SAFE(p, &pending, entry, tmp) {
			if (more <= 0)
				break;
			if (strcmp(p->node, n[i].name) == 0) {
				place_forget(p);
				more--;
			}
		}
	}
	free(nodes);
	nodes = n;
	nnodes = count;
	place_expire(now);
}

/*
 * The node the tunnel object of t names: its host, KGP port and
 * certificate's digest into *host, *port, *cert (this node's when
 * there is no other to name).  fresh: the answer to the tunnel's POST.
 */
void
place_pick(const struct tunnel *t, int fresh, const char **host, int *port,
    const char **cert)
{
	place_pick_at(t, fresh, host, port, cert, mono_ms());
}

/* ... at now (mono_ms()). */
void
place_pick_at(const struct tunnel *t, int fresh, const char **host,
    int *port, const char **cert, int64_t now)
{
	struct place_pending	*p;
	struct srv_node		*best = NULL, *n;
	int64_t			 load, best_load = 0;
	size_t			 i;

	*host = env->host;
	/* --kgp-workers: the port of the tunnel's KGP worker */
	*port = t->kgp_port != 0 ? t->kgp_port : env->kgp_port;
	*cert = env->cert_hash;
	if (!env->cluster || nnodes == 0 || (!fresh && t->connected))
		return;
	place_expire(now);
	for (i = 0; i < nnodes; i++) {
		n = &nodes[i];
		if (!n->alive || n->state != NODE_UP || n->kgp_port == 0)
			continue;
		load = n->tunnels + (int64_t)place_pending_on(n->name);
		if (best == NULL || load < best_load ||
		    (load == best_load && n->self)) {
			best = n;
			best_load = load;
		}
	}
	if (best == NULL)
		return;
	if (fresh) {
		if (npending >= PLACE_PENDING_MAX)
			place_forget(TAILQ_FIRST(&pending));
		if ((p = calloc(1, sizeof(*p))) == NULL)
			log_warn("%s", __func__);
		else {
			strlcpy(p->node, best->name, sizeof(p->node));
			p->ms = now;
			TAILQ_INSERT_TAIL(&pending, p, entry);
			npending++;
		}
	}
	*host = best->host;
	*port = best->kgp_port;
	*cert = best->cert_sha256;
}

static void
place_forget(struct place_pending *p)
{
	TAILQ_REMOVE(&pending, p, entry);
	npending--;
	free(p);
}

/* Placements older than PLACE_PENDING_SEC count no more. */
static void
place_expire(int64_t now)
{
	struct place_pending	*p;

	while ((p = TAILQ_FIRST(&pending)) != NULL &&
	    now - p->ms >= PLACE_PENDING_SEC * 1000)
		place_forget(p);
}

/* The tunnels placed on node name that its figures do not count yet. */
static size_t
place_pending_on(const char *name)
{
	struct place_pending	*p;
	size_t			 k = 0;

	TAILQ_FOREACH(p, &pending, entry)
		if (strcmp(p->node, name) == 0)
			k++;
	return (k);
}

/*
 * /metrics: this node's name (--node) as a label, and in a cluster each
 * node's state and load as its last heartbeat said.
 */
void
place_metrics(FILE *f)
{
	size_t	 i;

	fprintf(f, "# HELP sc_server_node_info This node: its name "
	    "(--node).\n# TYPE sc_server_node_info gauge\n"
	    "sc_server_node_info{node=\"%s\"} 1\n", env->node);
	if (!env->cluster || nnodes == 0)
		return;
	fprintf(f, "# HELP sc_server_cluster_node_up 1 for a node of the "
	    "cluster whose heartbeat is fresh and that is not down.\n"
	    "# TYPE sc_server_cluster_node_up gauge\n");
	for (i = 0; i < nnodes; i++)
		fprintf(f, "sc_server_cluster_node_up{node=\"%s\","
		    "state=\"%s\"} %d\n", nodes[i].name,
		    node_state_name(nodes[i].state), nodes[i].alive ? 1 : 0);
	fprintf(f, "# HELP sc_server_cluster_node_sessions Tunnels whose "
	    "session a node holds.\n"
	    "# TYPE sc_server_cluster_node_sessions gauge\n");
	for (i = 0; i < nnodes; i++)
		fprintf(f, "sc_server_cluster_node_sessions{node=\"%s\"} "
		    "%lld\n", nodes[i].name, (long long)nodes[i].tunnels);
	place_expire(mono_ms());
	fprintf(f, "# HELP sc_server_cluster_node_placed Tunnels this node "
	    "placed on a node that its figures do not show yet.\n"
	    "# TYPE sc_server_cluster_node_placed gauge\n");
	for (i = 0; i < nnodes; i++)
		fprintf(f, "sc_server_cluster_node_placed{node=\"%s\"} %zu\n",
		    nodes[i].name, place_pending_on(nodes[i].name));
}
