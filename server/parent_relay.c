/*
 * The sc-server parent's relays: what one worker tells another, checked
 * by the tables of parent.c, is passed on here; when the other one is
 * not there (or not serving), the sender gets the answer it waits for,
 * or nothing.  parent.c gives parent_relay_init() its workers; this
 * file calls nothing of parent.c.
 */
#include <sys/types.h>
#include <sys/queue.h>
#include <sys/socket.h>

#include <stddef.h>
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

/* parent.c's: the KGP worker, the REST worker, the CA process */
static struct srv_worker	*workers;

static void	 parent_ask_rest(struct imsg *, uint32_t, const void *, size_t);

/* The workers to relay between (parent.c's workers[]). */
void
parent_relay_init(struct srv_worker *w)
{
	workers = w;
}

/* A message for w, if it is there. */
void
parent_to(struct srv_worker *w, uint32_t type, const void *data, size_t len)
{
	if (!w->chan)
		return;
	if (imsg_compose_event(&w->iev, type, 0, 0, -1, data, len) == -1)
		fatal("%s: imsg_compose", __func__);
}

/*
 * What one worker says to the other, checked by the table, is passed
 * on.  When the other one is not there, the sender gets the answer it
 * waits for, or nothing (the state is sent again when a new worker is
 * up).
 */
int
parent_tunnel_add(struct imsgev *iev, struct imsg *imsg)
{
	struct srv_tunnel_add	 add;
	struct srv_tstate	 ts;

	memcpy(&add, imsg->data, sizeof(add));
	explicit_bzero(imsg->data, sizeof(add));
	if (W_KGP->chan)
		parent_to(W_KGP, IMSG_SRV_TUNNEL_ADD, &add, sizeof(add));
	else if (add.mode == SRV_ADD_NEW) {
		/* no KGP worker just now: no entry proxy */
		memset(&ts, 0, sizeof(ts));
		strlcpy(ts.id, add.id, sizeof(ts.id));
		ts.status = TUNNEL_TERMINATED;
		strlcpy(ts.reason, "no KGP worker", sizeof(ts.reason));
		parent_to(W_REST, IMSG_SRV_TUNNEL_STATE, &ts, sizeof(ts));
	}
	explicit_bzero(&add, sizeof(add));
	return (IMSGEV_OK);
}

/* TUNNEL_RULES, TUNNEL_DEL, TUNNELS_END, AUTH_REP: as they are */
int
parent_to_kgp(struct imsgev *iev, struct imsg *imsg)
{
	parent_to(W_KGP, imsg->hdr.type, imsg->data, IMSG_DATA_SIZE(imsg));
	return (IMSGEV_OK);
}

/* TUNNEL_STATE, TUNNEL_LINKS, KGP_STATS (-m only): as they are */
int
parent_to_rest(struct imsgev *iev, struct imsg *imsg)
{
	if (imsg->hdr.type == IMSG_SRV_KGP_STATS && !env->metrics)
		return (IMSGEV_BAD);
	/* a cluster: the node that holds a session, and the load */
	if (imsg->hdr.type == IMSG_SRV_TUNNEL_STATE)
		node_tunnel_state(imsg->data);
	else if (imsg->hdr.type == IMSG_SRV_KGP_STATS)
		node_kgp_stats(imsg->data);
	parent_to(W_REST, imsg->hdr.type, imsg->data, IMSG_DATA_SIZE(imsg));
	return (IMSGEV_OK);
}

/*
 * A question of the KGP worker for the REST worker: relayed to it, or,
 * when none serves, answered at once with unavail (len bytes) of type
 * reptype.  The question may hold credentials: wiped here.
 */
static void
parent_ask_rest(struct imsg *imsg, uint32_t reptype, const void *unavail,
    size_t len)
{
	if (W_REST->chan && W_REST->ready)
		parent_to(W_REST, imsg->hdr.type, imsg->data,
		    IMSG_DATA_SIZE(imsg));
	else
		parent_to(W_KGP, reptype, unavail, len);
	explicit_bzero(imsg->data, IMSG_DATA_SIZE(imsg));
}

/* -P: the REST worker answers, or the KGP worker hears it cannot now */
int
parent_auth_req(struct imsgev *iev, struct imsg *imsg)
{
	struct srv_auth_rep	 rep;

	memset(&rep, 0, sizeof(rep));
	memcpy(&rep.reqid, imsg->data, sizeof(rep.reqid));	/* its first */
	rep.result = SRV_AUTH_UNAVAIL;
	parent_ask_rest(imsg, IMSG_SRV_AUTH_REP, &rep, sizeof(rep));
	return (IMSGEV_OK);
}

/* The gateway's question: the REST worker answers, or it is "not now" */
int
parent_gate_req(struct imsgev *iev, struct imsg *imsg)
{
	struct srv_gate_rep	 rep;

	memset(&rep, 0, SRV_GATE_REP_LEN(0));
	memcpy(&rep.reqid, imsg->data, sizeof(rep.reqid));	/* its first */
	rep.result = SRV_GATE_UNAVAIL;
	parent_ask_rest(imsg, IMSG_SRV_GATE_REP, &rep, SRV_GATE_REP_LEN(0));
	return (IMSGEV_OK);
}

/*
 * A CA process and a KGP worker serve: the KGP worker hears so
 * (IMSG_SRV_CA_UP), with its end of a channel to the CA process, whose
 * end goes there (IMSG_SRV_CA_PEER), so that the leaves it asks for no
 * longer pass through here (two hops of four; a new host's handshake
 * waits for its leaf).  Each end checks what the other sends as this
 * process does (srv_ca_req_valid(), srv_ca_rep_valid()).  Made again
 * whenever either is new; without it the requests come here, as below.
 */
void
parent_ca_up(void)
{
	int	 sv[2];

	/* once for each pair: when the second of them is ready */
	if (!W_KGP->chan || !W_KGP->ready || !W_CA->chan || !W_CA->ready)
		return;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == -1) {
		log_warn("%s: socketpair", __func__);
		parent_to(W_KGP, IMSG_SRV_CA_UP, NULL, 0);
		return;
	}
	if (imsg_compose_event(&W_CA->iev, IMSG_SRV_CA_PEER, 0, 0, sv[0],
	    NULL, 0) == -1 || imsg_compose_event(&W_KGP->iev,
	    IMSG_SRV_CA_UP, 0, 0, sv[1], NULL, 0) == -1)
		fatal("%s: imsg_compose", __func__);
}

/*
 * A leaf certificate the KGP worker wants: to the CA process, or, while
 * none serves, the answer that it cannot be had now.
 */
int
parent_ca_sign(struct imsgev *iev, struct imsg *imsg)
{
	struct srv_ca_req	 req;
	struct srv_ca_rep	 rep;

	if (W_CA->chan && W_CA->ready) {
		parent_to(W_CA, imsg->hdr.type, imsg->data,
		    IMSG_DATA_SIZE(imsg));
		return (IMSGEV_OK);
	}
	memcpy(&req, imsg->data, offsetof(struct srv_ca_req, pub));
	memset(&rep, 0, offsetof(struct srv_ca_rep, der));
	rep.reqid = req.reqid;
	rep.result = SRV_CA_UNAVAIL;
	parent_to(W_KGP, IMSG_SRV_CA_CERT, &rep,
	    offsetof(struct srv_ca_rep, der));
	return (IMSGEV_OK);
}

/* The CA's answer: to the KGP worker, if it is there. */
int
parent_ca_cert(struct imsgev *iev, struct imsg *imsg)
{
	parent_to(W_KGP, imsg->hdr.type, imsg->data, IMSG_DATA_SIZE(imsg));
	return (IMSGEV_OK);
}
