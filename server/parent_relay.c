/*
 * The sc-server parent's relays: what one worker tells another, checked
 * by the tables of parent.c, is passed on here; when the other one is
 * not there (or not serving), the sender gets the answer it waits for,
 * or nothing.  parent.c gives parent_relay_init() its workers; this
 * file calls nothing of parent.c.
 *
 * With --kgp-workers N, a tunnel lives in one KGP worker: the first
 * message for a tunnel id this side has not placed (its rules, its
 * TUNNEL_ADD) places it on the KGP worker with the fewest tunnels that
 * runs (ties: the lowest index), and every later message for it goes
 * there, as long as the tunnel runs and its worker does: a worker that
 * dies forgets its tunnels, and its successor, on the same KGP port, is
 * told them again, each with the port it had (as a restart of
 * sc-server tells each restored tunnel), which places it there; those
 * of the others, told again with them, go no further (the worker that
 * has a tunnel would only report it).  A place is forgotten too when
 * its worker reports the tunnel terminated.  A worker's report of a
 * tunnel placed on another, or nowhere, goes no further.  What is not
 * a tunnel's goes to every KGP worker (TUNNELS_END) or back to the one
 * that asked: a request id carries its asker's index in its top byte
 * (KGP_REQID_SHIFT), checked when the question passes here.  The
 * tunnel's state as the REST worker gets it names the KGP port of its
 * worker (struct srv_tstate kgp_port), which the REST answers give the
 * client.
 */
#include <sys/types.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/tree.h>

#include <stddef.h>
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
#include "parent_int.h"

/* parent.c's: the KGP workers, the REST worker, the CA process */
static struct srv_worker	*workers;

/* a tunnel's KGP worker */
struct place {
	RB_ENTRY(place)		 node;
	char			 id[TUNNEL_ID_LEN + 1];
	int			 kgp;		/* its index */
	int			 pending;	/* SRV_ADD_NEW, or SRV_ADD_SYNC of */
						/* one placed nowhere: no report */
						/* yet */
	int			 held;		/* its worker has it: reported */
						/* it, not told to end it since */
};
RB_HEAD(place_tree, place);

static int	 place_cmp(struct place *, struct place *);
RB_PROTOTYPE(place_tree, place, node, place_cmp)
RB_GENERATE(place_tree, place, node, place_cmp)

static struct place_tree	 places = RB_INITIALIZER(&places);

static void	 parent_ask_rest(struct imsgev *, struct imsg *, uint32_t,
		    const void *, size_t);
static struct place *place_find(const char *);
static struct place *place_new(const char *, int);
static struct srv_worker *place_best(void);
static void	 place_forget(struct place *);
static struct place *place_get(const char *, int, int *);
static struct srv_worker *parent_asker(uint64_t);
static int	 parent_reqid_ok(struct imsgev *, struct imsg *);

/* The workers to relay between (parent.c's workers[]). */
void
parent_relay_init(struct srv_worker *w)
{
	workers = w;
}

static int
place_cmp(struct place *a, struct place *b)
{
	return (strcmp(a->id, b->id));
}

static struct place *
place_find(const char *id)
{
	struct place	 key;

	strlcpy(key.id, id, sizeof(key.id));
	return (RB_FIND(place_tree, &places, &key));
}

/*
 * Where a new tunnel goes: the KGP worker with the fewest tunnels of
 * those whose channel is open (of all when none is), the lowest index
 * of equal ones.
 */
static struct srv_worker *
place_best(void)
{
	struct srv_worker	*w, *best = NULL;
	int			 i;

	for (i = 0; i < env->kgp_workers; i++) {
		w = W_KGPN(i);
		if (best == NULL || (w->chan && !best->chan) ||
		    (w->chan == best->chan && w->ntunnels < best->ntunnels))
			best = w;
	}
	return (best);
}

/*
 * The REST worker's GET endpoint names the KGP port a new tunnel would
 * get now (place_best()'s): told whenever that changes (a tunnel placed
 * or gone, a KGP worker started or gone), and all when it is new
 * (force).  One KGP worker: its port, which the REST worker knows.
 */
void
parent_kgp_next(int force)
{
	static int	 last;
	int32_t		 port;

	if (env->kgp_workers < 2 || !W_REST->chan)
		return;
	port = place_best()->kgp_port;
	if (!force && port == last)
		return;
	last = port;
	parent_to(W_REST, IMSG_SRV_KGP_NEXT, &port, sizeof(port));
}

/*
 * A place for the new tunnel id: the KGP worker of KGP port port (one
 * restored: the port its client knows), else place_best().
 */
static struct place *
place_new(const char *id, int port)
{
	struct srv_worker	*best = NULL;
	struct place		*p;
	int			 i;

	for (i = 0; i < env->kgp_workers && port != 0; i++)
		if (W_KGPN(i)->kgp_port == port)
			best = W_KGPN(i);
	if (best == NULL)
		best = place_best();
	if ((p = calloc(1, sizeof(*p))) == NULL)
		fatal("%s", __func__);
	strlcpy(p->id, id, sizeof(p->id));
	p->kgp = best->kgp_index;
	RB_INSERT(place_tree, &places, p);
	best->ntunnels++;
	if (env->kgp_workers > 1)
		log_debug("tunnel %s placed on KGP worker %d (%d tunnels)", id,
		    p->kgp, best->ntunnels);
	parent_kgp_next(0);
	return (p);
}

static void
place_forget(struct place *p)
{
	W_KGPN(p->kgp)->ntunnels--;
	RB_REMOVE(place_tree, &places, p);
	free(p);
	parent_kgp_next(0);
}

/*
 * The place of tunnel id (W_KGPN(p->kgp): its KGP worker), made now
 * when it has none (on the worker of KGP port port, if one is; *made
 * says so, when made is not NULL).
 */
static struct place *
place_get(const char *id, int port, int *made)
{
	struct place	*p;
	int		 new;

	if ((new = (p = place_find(id)) == NULL))
		p = place_new(id, port);
	if (made != NULL)
		*made = new;
	return (p);
}

/* The KGP worker whose request id this is (worker_reqid()), or NULL. */
static struct srv_worker *
parent_asker(uint64_t reqid)
{
	uint64_t	 i = reqid >> KGP_REQID_SHIFT;

	if (i >= (uint64_t)env->kgp_workers)
		return (NULL);
	return (W_KGPN((int)i));
}

/* A KGP worker's question carries its own index (its reqid first). */
static int
parent_reqid_ok(struct imsgev *iev, struct imsg *imsg)
{
	uint64_t	 reqid;

	memcpy(&reqid, imsg->data, sizeof(reqid));
	return (parent_asker(reqid) == iev->data);
}

/*
 * KGP worker w died: the tunnels it was still to create are gone (one
 * of several: the REST worker hears it of each; the only one: it fails
 * them all itself).  The others are forgotten too: the REST worker
 * tells the new worker its tunnels again, each with the KGP port it
 * had, which places it on the new worker of that port.
 */
void
parent_kgp_gone(struct srv_worker *w)
{
	struct place		*p, *tmp;
	struct srv_tstate	 ts;

	RB_FOREACH_SAFE(p, place_tree, &places, tmp) {
		if (p->kgp != w->kgp_index)
			continue;
		if (p->pending && env->kgp_workers > 1) {
			memset(&ts, 0, sizeof(ts));
			strlcpy(ts.id, p->id, sizeof(ts.id));
			ts.status = TUNNEL_TERMINATED;
			strlcpy(ts.reason, "its KGP worker died",
			    sizeof(ts.reason));
			parent_to(W_REST, IMSG_SRV_TUNNEL_STATE, &ts,
			    sizeof(ts));
		}
		place_forget(p);
	}
	w->have_stats = w->stats_fresh = 0;
}

/* Does every KGP worker serve? */
int
parent_kgp_ready(void)
{
	int	 i;

	for (i = 0; i < env->kgp_workers; i++)
		if (!W_KGPN(i)->chan || !W_KGPN(i)->ready)
			return (0);
	return (1);
}

/* A message for w, if it is there. */
void
parent_to(struct srv_worker *w, uint32_t type, const void *data, size_t len)
{
	if (w == NULL || !w->chan)
		return;
	if (imsg_compose_event(&w->iev, type, 0, 0, -1, data, len) == -1)
		fatal("%s: imsg_compose", __func__);
}

/*
 * What one worker says to the other, checked by the table, is passed
 * on, to the tunnel's KGP worker.  When it is not there, the sender
 * gets the answer it waits for, or nothing (the state is sent again
 * when a new worker is up).  A report asked for a tunnel placed nowhere
 * (SRV_ADD_SYNC: a new REST worker's, while every KGP worker serves) is
 * of one that ended meanwhile: it is placed all the same, on the worker
 * of the KGP port the registry names, whose report (that it has none)
 * is then the one the REST worker hears, and which ends the place.
 */
int
parent_tunnel_add(struct imsgev *iev, struct imsg *imsg)
{
	struct srv_tunnel_add	 add;
	struct srv_tstate	 ts;
	struct srv_worker	*w;
	struct place		*p;
	int			 nowhere;

	memcpy(&add, imsg->data, sizeof(add));
	explicit_bzero(imsg->data, sizeof(add));
	p = place_get(add.id, add.kgp_port, &nowhere);
	w = W_KGPN(p->kgp);
	if (add.mode == SRV_ADD_NEW ||
	    (add.mode == SRV_ADD_SYNC && nowhere))
		p->pending = 1;
	/*
	 * A KGP worker is new: the REST worker that serves tells every
	 * running tunnel again, those the others have as well, which would
	 * only report it (each a report, each a registry line to apply).
	 * One that starts waits for every answer: it gets them.
	 */
	if (add.mode == SRV_ADD_RESTORE && p->held && W_REST->ready) {
		log_debug2("tunnel %s: KGP worker %d has it: not told again",
		    add.id, p->kgp);
		explicit_bzero(&add, sizeof(add));
		return (IMSGEV_OK);
	}
	if (w->chan)
		parent_to(w, IMSG_SRV_TUNNEL_ADD, &add, sizeof(add));
	else if (add.mode == SRV_ADD_SYNC && nowhere)
		place_forget(p);	/* none to answer */
	else if (add.mode == SRV_ADD_NEW) {
		/* no KGP worker just now: no entry proxy */
		place_forget(p);
		memset(&ts, 0, sizeof(ts));
		strlcpy(ts.id, add.id, sizeof(ts.id));
		ts.status = TUNNEL_TERMINATED;
		strlcpy(ts.reason, "no KGP worker", sizeof(ts.reason));
		parent_to(W_REST, IMSG_SRV_TUNNEL_STATE, &ts, sizeof(ts));
	}
	explicit_bzero(&add, sizeof(add));
	return (IMSGEV_OK);
}

/*
 * TUNNEL_RULES (before the tunnel's TUNNEL_ADD: they place it),
 * TUNNEL_DEL (to every KGP worker for a tunnel placed nowhere),
 * TUNNELS_END (to every one), AUTH_REP, GATE_REP (to the asker): as
 * they are.
 */
int
parent_to_kgp(struct imsgev *iev, struct imsg *imsg)
{
	struct srv_worker	*w = NULL;
	struct srv_tunnel_rules	 h;
	struct place		*p;
	uint64_t		 reqid;
	int			 i;

	switch (imsg->hdr.type) {
	case IMSG_SRV_TUNNEL_RULES:
		memcpy(&h, imsg->data, sizeof(h));
		p = place_get(h.id, h.kgp_port, NULL);
		/*
		 * A worker that has the tunnel takes no rules for it: those
		 * of a RESTORE that goes no further (parent_tunnel_add()).
		 * A REST worker that starts: they pass, since its worker
		 * may have ended it meanwhile, and make it again with them.
		 */
		if (p->held && W_REST->ready)
			return (IMSGEV_OK);
		w = W_KGPN(p->kgp);
		break;
	case IMSG_SRV_TUNNEL_DEL:
		if ((p = place_find(imsg->data)) != NULL) {
			/* ended there: it may come again, with rules */
			p->held = 0;
			w = W_KGPN(p->kgp);
		}
		break;
	case IMSG_SRV_AUTH_REP:
	case IMSG_SRV_GATE_REP:
		memcpy(&reqid, imsg->data, sizeof(reqid));
		if ((w = parent_asker(reqid)) == NULL)
			return (IMSGEV_OK);	/* one it never asked */
		break;
	}
	if (w != NULL) {
		parent_to(w, imsg->hdr.type, imsg->data, IMSG_DATA_SIZE(imsg));
		return (IMSGEV_OK);
	}
	for (i = 0; i < env->kgp_workers; i++)
		parent_to(W_KGPN(i), imsg->hdr.type, imsg->data,
		    IMSG_DATA_SIZE(imsg));
	return (IMSGEV_OK);
}

/*
 * What the KGP workers' figures for /metrics add up to: the counters of
 * those that run, each since its start.  0: some worker that serves
 * has not reported since the last sum, which waits for it (so that a
 * worker that stops reporting shows as one, /readyz).
 */
static int
parent_kgp_stats_sum(struct srv_kgp_stats *sum)
{
	struct srv_worker	*w;
	const uint64_t		*a;
	uint64_t		*s = (uint64_t *)sum;	/* every field one */
	size_t			 i, k;
	int			 j;

	for (j = 0; j < env->kgp_workers; j++) {
		w = W_KGPN(j);
		if (w->chan && w->ready && !w->stats_fresh)
			return (0);
	}
	memset(sum, 0, sizeof(*sum));
	for (j = 0; j < env->kgp_workers; j++) {
		w = W_KGPN(j);
		w->stats_fresh = 0;
		if (!w->have_stats)
			continue;
		a = (const uint64_t *)&w->stats;
		for (i = 0, k = sizeof(*sum) / sizeof(uint64_t); i < k; i++)
			s[i] += a[i];
	}
	return (1);
}

/*
 * TUNNEL_STATE (a tunnel's, from its KGP worker, with that worker's KGP
 * port), TUNNEL_LINKS, KGP_STATS (-m only: the sum of the workers'): as
 * they are.
 */
int
parent_to_rest(struct imsgev *iev, struct imsg *imsg)
{
	struct srv_worker	*w = iev->data;
	struct srv_tstate	 ts;
	struct srv_kgp_stats	 sum;
	struct place		*p;

	switch (imsg->hdr.type) {
	case IMSG_SRV_KGP_STATS:
		if (!env->metrics)
			return (IMSGEV_BAD);
		memcpy(&w->stats, imsg->data, sizeof(w->stats));
		w->have_stats = w->stats_fresh = 1;
		if (!parent_kgp_stats_sum(&sum))
			return (IMSGEV_OK);
		/* a cluster: the load */
		node_kgp_stats(&sum);
		parent_to(W_REST, imsg->hdr.type, &sum, sizeof(sum));
		return (IMSGEV_OK);
	case IMSG_SRV_TUNNEL_STATE:
		memcpy(&ts, imsg->data, sizeof(ts));
		p = place_find(ts.id);
		if (p == NULL || p->kgp != w->kgp_index) {
			/* a late one of a tunnel that ended here: no harm */
			if (ts.status == TUNNEL_TERMINATED)
				log_debug("KGP worker %d: a report of tunnel "
				    "%s, which ended: dropped", w->kgp_index,
				    ts.id);
			else if (p == NULL)
				log_warnx("KGP worker %d: a report of tunnel "
				    "%s, placed nowhere: dropped",
				    w->kgp_index, ts.id);
			else
				log_warnx("KGP worker %d: a report of tunnel "
				    "%s, which is worker %d's: dropped",
				    w->kgp_index, ts.id, p->kgp);
			return (IMSGEV_OK);
		}
		if (ts.status == TUNNEL_TERMINATED)
			place_forget(p);
		else {
			p->pending = 0;
			p->held = 1;
		}
		/* one of several: the port its client is to use */
		if (env->kgp_workers > 1)
			ts.kgp_port = w->kgp_port;
		/* a cluster: the node that holds a session */
		node_tunnel_state(&ts);
		parent_to(W_REST, imsg->hdr.type, &ts, sizeof(ts));
		return (IMSGEV_OK);
	}
	parent_to(W_REST, imsg->hdr.type, imsg->data, IMSG_DATA_SIZE(imsg));
	return (IMSGEV_OK);
}

/*
 * A question of a KGP worker for the REST worker: relayed to it, or,
 * when none serves, answered at once with unavail (len bytes) of type
 * reptype.  The question may hold credentials: wiped here.
 */
static void
parent_ask_rest(struct imsgev *iev, struct imsg *imsg, uint32_t reptype,
    const void *unavail, size_t len)
{
	if (W_REST->chan && W_REST->ready)
		parent_to(W_REST, imsg->hdr.type, imsg->data,
		    IMSG_DATA_SIZE(imsg));
	else
		parent_to(iev->data, reptype, unavail, len);
	explicit_bzero(imsg->data, IMSG_DATA_SIZE(imsg));
}

/* -P: the REST worker answers, or the KGP worker hears it cannot now */
int
parent_auth_req(struct imsgev *iev, struct imsg *imsg)
{
	struct srv_auth_rep	 rep;

	if (!parent_reqid_ok(iev, imsg))
		return (IMSGEV_BAD);
	memset(&rep, 0, sizeof(rep));
	memcpy(&rep.reqid, imsg->data, sizeof(rep.reqid));	/* its first */
	rep.result = SRV_AUTH_UNAVAIL;
	parent_ask_rest(iev, imsg, IMSG_SRV_AUTH_REP, &rep, sizeof(rep));
	return (IMSGEV_OK);
}

/* The gateway's question: the REST worker answers, or it is "not now" */
int
parent_gate_req(struct imsgev *iev, struct imsg *imsg)
{
	struct srv_gate_rep	 rep;

	if (!parent_reqid_ok(iev, imsg))
		return (IMSGEV_BAD);
	memset(&rep, 0, SRV_GATE_REP_LEN(0));
	memcpy(&rep.reqid, imsg->data, sizeof(rep.reqid));	/* its first */
	rep.result = SRV_GATE_UNAVAIL;
	parent_ask_rest(iev, imsg, IMSG_SRV_GATE_REP, &rep,
	    SRV_GATE_REP_LEN(0));
	return (IMSGEV_OK);
}

/*
 * A gateway connection a KGP worker hands on (--kgp-workers): to the
 * worker of the first of its tunnels that is placed on another one
 * that serves, with the sender's index; with none, it is closed (the
 * browser sees its connection end).
 */
int
parent_gate_hand(struct imsgev *iev, struct imsg *imsg)
{
	struct srv_worker	*from = iev->data, *to = NULL, *w;
	struct srv_gate_hand	 h;
	struct place		*p;
	uint32_t		 i;
	int			 fd = imsg_get_fd(imsg);

	memcpy(&h, imsg->data, sizeof(h));
	for (i = 0; i < h.nids && to == NULL; i++) {
		if ((p = place_find(h.ids[i])) == NULL)
			continue;
		w = W_KGPN(p->kgp);
		if (w != from && w->chan && w->ready)
			to = w;
	}
	if (to == NULL) {
		log_info("gateway: connection from %s: no other KGP worker "
		    "runs its tunnels: closed", h.peer);
		close(fd);
		return (IMSGEV_OK);
	}
	h.from = from->kgp_index;
	memcpy(imsg->data, &h, sizeof(h));
	if (imsg_compose_event(&to->iev, IMSG_SRV_GATE_HAND, 0, 0, fd,
	    imsg->data, IMSG_DATA_SIZE(imsg)) == -1)
		fatal("%s: imsg_compose", __func__);
	return (IMSGEV_OK);
}

/*
 * A CA process and a KGP worker serve: the worker hears so
 * (IMSG_SRV_CA_UP), with its end of a channel to the CA process, whose
 * end goes there with the worker's index (IMSG_SRV_CA_PEER), so that
 * the leaves it asks for no longer pass through here (two hops of four;
 * a new host's handshake waits for its leaf).  Each KGP worker has its
 * own.  Each end checks what the other sends as this process does
 * (srv_ca_req_valid(), srv_ca_rep_valid()).  Made again whenever either
 * is new (a new CA process: one for each KGP worker); without it the
 * requests come here, as below.  w: the worker that is new.
 */
void
parent_ca_up(struct srv_worker *w)
{
	struct srv_worker	*k;
	int32_t			 idx;
	int			 sv[2], i;

	if (!W_CA->chan || !W_CA->ready)
		return;
	for (i = 0; i < env->kgp_workers; i++) {
		k = W_KGPN(i);
		/* once for each pair: when the second of them is ready */
		if (!k->chan || !k->ready || (w != W_CA && w != k))
			continue;
		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0,
		    sv) == -1) {
			log_warn("%s: socketpair", __func__);
			parent_to(k, IMSG_SRV_CA_UP, NULL, 0);
			continue;
		}
		idx = i;
		if (imsg_compose_event(&W_CA->iev, IMSG_SRV_CA_PEER, 0, 0,
		    sv[0], &idx, sizeof(idx)) == -1 ||
		    imsg_compose_event(&k->iev, IMSG_SRV_CA_UP, 0, 0, sv[1],
		    NULL, 0) == -1)
			fatal("%s: imsg_compose", __func__);
	}
}

/*
 * A leaf certificate a KGP worker wants: to the CA process, or, while
 * none serves, the answer that it cannot be had now.
 */
int
parent_ca_sign(struct imsgev *iev, struct imsg *imsg)
{
	struct srv_ca_req	 req;
	struct srv_ca_rep	 rep;

	if (!parent_reqid_ok(iev, imsg))
		return (IMSGEV_BAD);
	if (W_CA->chan && W_CA->ready) {
		parent_to(W_CA, imsg->hdr.type, imsg->data,
		    IMSG_DATA_SIZE(imsg));
		return (IMSGEV_OK);
	}
	memcpy(&req, imsg->data, offsetof(struct srv_ca_req, pub));
	memset(&rep, 0, offsetof(struct srv_ca_rep, der));
	rep.reqid = req.reqid;
	rep.result = SRV_CA_UNAVAIL;
	parent_to(iev->data, IMSG_SRV_CA_CERT, &rep,
	    offsetof(struct srv_ca_rep, der));
	return (IMSGEV_OK);
}

/* The CA's answer: to the KGP worker that asked, if it is there. */
int
parent_ca_cert(struct imsgev *iev, struct imsg *imsg)
{
	uint64_t	 reqid;

	memcpy(&reqid, imsg->data, sizeof(reqid));
	parent_to(parent_asker(reqid), imsg->hdr.type, imsg->data,
	    IMSG_DATA_SIZE(imsg));
	return (IMSGEV_OK);
}
