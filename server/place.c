/*
 * The REST worker's placement of tunnels on the nodes of a cluster:
 * the nodes as the parent last read them (SRV_BLOB_NODES, every
 * NODE_HEARTBEAT_SEC), and the node a tunnel object names ("host",
 * "ssh_port", "server_cert_sha256").  A new tunnel (the answer to its
 * POST) goes to the live node that is not draining and holds the
 * fewest sessions, counting those this worker placed since the last
 * figures, so that tunnels made at once (a pool's members) spread over
 * the nodes.  Any other answer names this node while the tunnel's
 * session is here, else such a live node.  Without a cluster (or
 * before the first figures), every answer names this node.
 */
#include <sys/types.h>
#include <sys/queue.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "imsg_server.h"
#include "log.h"
#include "server.h"

static struct srv_node	*nodes;
static size_t		 nnodes;

/* The nodes (n bytes of struct srv_node), from the parent. */
void
place_nodes(const void *buf, size_t len)
{
	struct srv_node	*n;
	size_t		 i, count = len / sizeof(*n);

	if (len % sizeof(*n) != 0 || count > NODES_MAX)
		fatalx("%s: bad node list (%zu bytes)", __func__, len);
	if ((n = calloc(count ? count : 1, sizeof(*n))) == NULL)
		fatal("%s", __func__);
	memcpy(n, buf, len);
	for (i = 0; i < count; i++) {
		n[i].name[sizeof(n[i].name) - 1] = '\0';
		n[i].host[sizeof(n[i].host) - 1] = '\0';
		n[i].cert_sha256[sizeof(n[i].cert_sha256) - 1] = '\0';
	}
	free(nodes);
	nodes = n;
	nnodes = count;
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
	struct srv_node	*best = NULL, *n;
	size_t		 i;

	*host = env->host;
	*port = env->kgp_port;
	*cert = env->cert_hash;
	if (!env->cluster || nnodes == 0 || (!fresh && t->connected))
		return;
	for (i = 0; i < nnodes; i++) {
		n = &nodes[i];
		if (!n->alive || n->state != NODE_UP || n->kgp_port == 0)
			continue;
		if (best == NULL || n->tunnels < best->tunnels ||
		    (n->tunnels == best->tunnels && n->self))
			best = n;
	}
	if (best == NULL)
		return;
	if (fresh)
		best->tunnels++;
	*host = best->host;
	*port = best->kgp_port;
	*cert = best->cert_sha256;
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
}
