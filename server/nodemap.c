/*
 * Node links, the parent's side (nodelink.c is the KGP worker's): the
 * cluster's node secret for the KGP worker, and the answer to "where is
 * tunnel T's client session?" from the database (tunnels.node), and
 * that node from the list the heartbeats keep (node_peer(), node.c),
 * its host resolved there, since the worker resolves nothing.  An
 * answer is kept NODE_CACHE_MS for NODE_CACHE_MAX tunnels at most;
 * nodemap_forget() drops it sooner (a node event).  Only with a
 * database that nodes share (--db postgresql://...): a single node has
 * nobody to forward to.
 */
#include <sys/types.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/tree.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>

#include "imsg_server.h"
#include "log.h"
#include "proc.h"
#include "server.h"
#include "parent_int.h"

struct nodemap_ent {
	RB_ENTRY(nodemap_ent)	 node;
	char			 id[TUNNEL_ID_LEN + 1];
	int64_t		 expires_ms;
	struct srv_node_rep	 rep;
};

RB_HEAD(nodemap_tree, nodemap_ent);
int	 nodemap_cmp(struct nodemap_ent *, struct nodemap_ent *);

static void	 nodemap_lookup(struct srv_node_rep *);
static void	 nodemap_keep(const struct srv_node_rep *);

RB_PROTOTYPE(nodemap_tree, nodemap_ent, node, nodemap_cmp)
RB_GENERATE(nodemap_tree, nodemap_ent, node, nodemap_cmp)

static struct nodemap_tree	 nodemap = RB_INITIALIZER(&nodemap);
static size_t			 nodemap_count;

/* parent.c's workers[] (parent_relay_init()) */
static struct srv_worker	*workers;

void
nodemap_init(struct srv_worker *w)
{
	workers = w;
}

int
nodemap_cmp(struct nodemap_ent *a, struct nodemap_ent *b)
{
	return (strcmp(a->id, b->id));
}

/*
 * A new KGP worker's setup: the cluster's node secret, made by the
 * first node that needs it, when the database is a shared one.  Without
 * it the worker forwards nothing and takes no node's HELLO.
 */
void
nodemap_send_secret(struct imsgev *iev)
{
	struct srv_node_secret	 s;

	if (!db_shared())
		return;
	memset(&s, 0, sizeof(s));
	if (db_cluster_secret(s.secret, sizeof(s.secret)) == -1) {
		log_warnx("no node links: the cluster's node secret: %s",
		    db_error());
		return;
	}
	if (imsg_compose(&iev->ibuf, IMSG_SRV_NODE_SECRET, 0, 0, -1, &s,
	    sizeof(s)) == -1)
		fatal("%s: imsg_compose", __func__);
	explicit_bzero(&s, sizeof(s));
}

/* A node event: the answer for tunnel id (NULL: every one) is stale. */
void
nodemap_forget(const char *id)
{
	struct nodemap_ent	*e, *tmp, key;

	if (id != NULL) {
		strlcpy(key.id, id, sizeof(key.id));
		if ((e = RB_FIND(nodemap_tree, &nodemap, &key)) == NULL)
			return;
		RB_REMOVE(nodemap_tree, &nodemap, e);
		nodemap_count--;
		free(e);
		return;
	}
	RB_FOREACH_SAFE(e, nodemap_tree, &nodemap, tmp) {
		RB_REMOVE(nodemap_tree, &nodemap, e);
		free(e);
	}
	nodemap_count = 0;
}

/* The KGP worker asks where a tunnel's session is (checked by the table). */
int
parent_node_req(struct imsgev *iev, struct imsg *imsg)
{
	struct srv_node_req	 req;
	struct srv_node_rep	 rep;
	struct nodemap_ent	*e, key;

	memcpy(&req, imsg->data, sizeof(req));
	memset(&rep, 0, sizeof(rep));
	strlcpy(rep.tunnel_id, req.tunnel_id, sizeof(rep.tunnel_id));
	strlcpy(key.id, req.tunnel_id, sizeof(key.id));
	if ((e = RB_FIND(nodemap_tree, &nodemap, &key)) != NULL &&
	    e->expires_ms > mono_ms())
		rep = e->rep;
	else {
		nodemap_lookup(&rep);
		nodemap_keep(&rep);
	}
	rep.reqid = req.reqid;
	parent_to(W_KGP, IMSG_SRV_NODE_REP, &rep, sizeof(rep));
	return (IMSGEV_OK);
}

/* The database's answer for rep->tunnel_id, into rep. */
static void
nodemap_lookup(struct srv_node_rep *rep)
{
	struct node_info	 ni;
	char			 node[NODE_NAME_MAX];

	rep->result = SRV_NODE_UNAVAIL;
	if (!db_shared()) {
		rep->result = SRV_NODE_NONE;
		return;
	}
	if (db_tunnel_node(rep->tunnel_id, node, sizeof(node)) == -1) {
		if (strcmp(db_error(), "not found") == 0)
			rep->result = SRV_NODE_NONE;
		else
			log_warnx("tunnel %s: where is its session: %s",
			    rep->tunnel_id, db_error());
		return;
	}
	if (node[0] == '\0') {
		rep->result = SRV_NODE_NONE;
		return;
	}
	strlcpy(rep->node, node, sizeof(rep->node));
	if (strcmp(node, env->node) == 0) {
		rep->result = SRV_NODE_HERE;
		return;
	}
	/* the node list of the heartbeats, its host resolved there */
	if (node_peer(node, &ni, rep->addr, sizeof(rep->addr)) == -1 ||
	    !ni.alive || ni.kgp_port == 0 || rep->addr[0] == '\0' ||
	    strncmp(ni.cert_sha256, "SHA256:", 7) != 0) {
		rep->result = SRV_NODE_DEAD;
		return;
	}
	rep->port = ni.kgp_port;
	strlcpy(rep->cert_sha256, ni.cert_sha256, sizeof(rep->cert_sha256));
	rep->result = SRV_NODE_PEER;
}

/* An answer kept for NODE_CACHE_MS; not "cannot tell now". */
static void
nodemap_keep(const struct srv_node_rep *rep)
{
	struct nodemap_ent	*e, *tmp, key;
	int64_t			 now = mono_ms();

	if (rep->result == SRV_NODE_UNAVAIL)
		return;
	strlcpy(key.id, rep->tunnel_id, sizeof(key.id));
	if ((e = RB_FIND(nodemap_tree, &nodemap, &key)) == NULL) {
		if (nodemap_count >= NODE_CACHE_MAX) {
			/* the stale ones go; if none is, all do */
			RB_FOREACH_SAFE(e, nodemap_tree, &nodemap, tmp)
				if (e->expires_ms <= now) {
					RB_REMOVE(nodemap_tree, &nodemap, e);
					nodemap_count--;
					free(e);
				}
			if (nodemap_count >= NODE_CACHE_MAX)
				nodemap_forget(NULL);
		}
		if ((e = calloc(1, sizeof(*e))) == NULL)
			return;
		strlcpy(e->id, rep->tunnel_id, sizeof(e->id));
		RB_INSERT(nodemap_tree, &nodemap, e);
		nodemap_count++;
	}
	e->rep = *rep;
	e->expires_ms = now + NODE_CACHE_MS;
}
