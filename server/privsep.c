/*
 * What the parent and the workers share: the process's state (env), a
 * worker's start (its loop, channel and hello), the validators of the
 * messages between them (imsg_server.h), and blobs
 * (files, the account list, the registry) sent in chunks over their
 * imsg channel.  A blob is IMSG_SRV_BLOB_BEGIN with its kind and length,
 * the chunks in order, IMSG_SRV_BLOB_END with the same header.  One blob
 * at a time in each direction: the receiver has one struct srv_blob per
 * channel.  Every file may use this one; it uses only util.c.
 */
#include <sys/types.h>

#include <errno.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "imsg_server.h"
#include "log.h"
#include "proc.h"
#include "rules.h"
#include "server.h"

/* the state of this process, the parent's or a worker's: main() sets it */
struct server_env	*env;

/* the largest blob of each kind */
static size_t
srv_blob_max(uint32_t kind)
{
	switch (kind) {
	case SRV_BLOB_KGP_CRT:
	case SRV_BLOB_KGP_KEY:
	case SRV_BLOB_REST_CRT:
	case SRV_BLOB_REST_KEY:
	case SRV_BLOB_CA_CRT:
	case SRV_BLOB_CA_KEY:
		return (SRV_PEM_MAX);
	case SRV_BLOB_ACCOUNTS:
		return (ACCOUNTS_MAX * sizeof(struct srv_account));
	case SRV_BLOB_STATE:
	case SRV_BLOB_SAVE:
	case SRV_BLOB_SYNC:
		return (TUNNELS_FILE_MAX);
	case SRV_BLOB_EVENTS:
		return (EVENTS_ANSWER_BYTES);
	case SRV_BLOB_NODES:
		return (NODES_MAX * sizeof(struct srv_node));
	default:
		return (0);
	}
}

/*
 * A worker's (or the CA process's) start: its event loop, its channel to
 * the parent (fd SRV_WORKER_FD) read with the table of peer, its log
 * lines sent up it, sig() for SIGTERM and SIGINT, and its hello.
 */
void
srv_worker_open(struct imsgev *iev, const struct imsgev_peer *peer,
    void (*sig)(int, short, void *))
{
	struct sc_hello	 hello;
	struct event	*sigterm, *sigint;

	if ((env->base = event_base_new()) == NULL)
		fatalx("event_base_new");
	if (set_nonblock(SRV_WORKER_FD) == -1)
		fatal("set_nonblock");
	imsgev_open(iev, env->base, SRV_WORKER_FD, peer, NULL);
	imsgev_log_sink(iev);
	sigterm = evsignal_new(env->base, SIGTERM, sig, NULL);
	sigint = evsignal_new(env->base, SIGINT, sig, NULL);
	if (sigterm == NULL || sigint == NULL)
		fatalx("evsignal_new");
	evsignal_add(sigterm, NULL);
	evsignal_add(sigint, NULL);

	memset(&hello, 0, sizeof(hello));
	hello.version = SRV_IMSG_VERSION;
	hello.pid = getpid();
	imsg_compose_event(iev, IMSG_SRV_HELLO, 0, 0, -1, &hello,
	    sizeof(hello));
}

/* Queue a whole blob on iev.  Returns 0, or -1 with errno set. */
int
srv_blob_send(struct imsgev *iev, uint32_t kind, const void *buf,
    size_t len, uint64_t seq)
{
	struct srv_blob_hdr	 h;
	const uint8_t		*p = buf;
	size_t			 n;

	/* no such kind, or too large: the caller says so */
	if (len > srv_blob_max(kind)) {
		errno = EFBIG;
		return (-1);
	}
	memset(&h, 0, sizeof(h));
	h.kind = kind;
	h.len = len;
	h.seq = seq;
	if (imsg_compose(&iev->ibuf, IMSG_SRV_BLOB_BEGIN, 0, 0, -1, &h,
	    sizeof(h)) == -1)
		return (-1);
	while (len > 0) {
		n = len > SRV_BLOB_CHUNK ? SRV_BLOB_CHUNK : len;
		if (imsg_compose2(&iev->ibuf, IMSG_SRV_BLOB, 0, 0, -1, &kind,
		    sizeof(kind), p, n) == -1)
			return (-1);
		p += n;
		len -= n;
	}
	if (imsg_compose(&iev->ibuf, IMSG_SRV_BLOB_END, 0, 0, -1, &h,
	    sizeof(h)) == -1)
		return (-1);
	imsg_event_add(iev);
	return (0);
}

void
srv_blob_clear(struct srv_blob *b)
{
	if (b->buf != NULL)
		freezero(b->buf, b->len + 1);
	memset(b, 0, sizeof(*b));
}

/*
 * One message of a blob.  Returns 1 when the blob is complete (b->buf
 * holds b->len bytes and a NUL; the caller takes it and clears b), 0
 * when more is to come, -1 for a message that does not fit: bad sizes,
 * kinds or order.
 */
int
srv_blob_recv(struct srv_blob *b, struct imsg *imsg)
{
	struct srv_blob_hdr	 h;
	uint32_t		 kind;
	size_t			 n;

	switch (imsg->hdr.type) {
	case IMSG_SRV_BLOB_BEGIN:
		if (imsg_get_data(imsg, &h, sizeof(h)) == -1 ||
		    b->kind != SRV_BLOB_NONE || h.kind == SRV_BLOB_NONE ||
		    h.kind >= SRV_BLOB_MAX || h.len > srv_blob_max(h.kind))
			return (-1);
		if ((b->buf = calloc(1, h.len + 1)) == NULL) {
			log_warn("%s", __func__);
			return (-1);
		}
		b->kind = h.kind;
		b->len = h.len;
		b->off = 0;
		b->seq = h.seq;
		return (0);
	case IMSG_SRV_BLOB:
		n = IMSG_DATA_SIZE(imsg);
		if (n <= sizeof(kind) || n > IMSG_MAXDATA ||
		    b->kind == SRV_BLOB_NONE)
			return (-1);
		memcpy(&kind, imsg->data, sizeof(kind));
		n -= sizeof(kind);
		if (kind != b->kind || n > b->len - b->off)
			return (-1);
		memcpy(b->buf + b->off, (uint8_t *)imsg->data + sizeof(kind),
		    n);
		b->off += n;
		return (0);
	case IMSG_SRV_BLOB_END:
		if (imsg_get_data(imsg, &h, sizeof(h)) == -1 ||
		    b->kind == SRV_BLOB_NONE || h.kind != b->kind ||
		    h.len != b->len || h.seq != b->seq || b->off != b->len)
			return (-1);
		b->buf[b->len] = '\0';
		return (1);
	}
	return (-1);
}

/* this KGP worker's index (srv_config), for worker_reqid() */
static uint64_t		 reqid_index;

void
worker_reqid_init(int index)
{
	reqid_index = (uint64_t)index;
}

/*
 * The next id of counter for a request whose answer the parent relays
 * from another process: this KGP worker's index in the top byte
 * (KGP_REQID_SHIFT), which the parent checks and routes the answer by.
 */
uint64_t
worker_reqid(uint64_t *counter)
{
	*counter = (*counter + 1) & ((1ULL << KGP_REQID_SHIFT) - 1);
	return (reqid_index << KGP_REQID_SHIFT | *counter);
}

/*
 * The validators of imsg_server.h: a payload of len bytes that fits its
 * message, 0, or -1.  The relayed ones run twice: in the parent before
 * it relays, and in the worker that gets them.
 */
int
srv_config_valid(const void *p, size_t len)
{
	const struct srv_config	*c = p;

	if (len != sizeof(*c) || c->version != SRV_IMSG_VERSION ||
	    !FIELD_STR(c->host) || !FIELD_STR(c->entry_host) ||
	    !FIELD_STR(c->node) || !node_name_valid(c->node) ||
	    !FIELD_STR(c->rest_addr) || !FIELD_STR(c->kgp_addr) ||
	    !FIELD_STR(c->tunnels_path) || !FIELD_STR(c->cert_hash) ||
	    (c->role != SRV_ROLE_REST && c->role != SRV_ROLE_KGP &&
	    c->role != SRV_ROLE_CA) ||
	    c->entry_nacl > ENTRY_ACL_MAX ||
	    c->direct_nallow > DIRECT_ALLOW_MAX || c->grace < 1 ||
	    c->max_missed < 1 || !FIELD_STR(c->kgp_congestion) ||
	    kgp_congestion_valid(c->kgp_congestion) == -1 ||
	    c->kgp_workers < 1 || c->kgp_workers > KGP_WORKERS_MAX ||
	    c->kgp_index < 0 || c->kgp_index >= c->kgp_workers ||
	    c->kgp_port < 0 || c->kgp_port > 65535)
		return (-1);
	return (0);
}

/* want: 0 (the kernel chooses), or a port that is not privileged */
int
srv_entry_req_valid(const void *p, size_t len)
{
	const struct srv_entry_req	*r = p;

	if (len != sizeof(*r) || !FIELD_STR(r->tunnel_id) ||
	    !tunnel_id_valid(r->tunnel_id) ||
	    (r->want != 0 && (r->want < 1024 || r->want > 65535)))
		return (-1);
	return (0);
}

/* parent -> KGP: NODE_SECRET_LEN hex digits */
int
srv_node_secret_valid(const void *p, size_t len)
{
	const struct srv_node_secret	*r = p;

	if (len != sizeof(*r) || !FIELD_STR(r->secret) ||
	    strlen(r->secret) != NODE_SECRET_LEN ||
	    strspn(r->secret, "0123456789abcdef") != NODE_SECRET_LEN)
		return (-1);
	return (0);
}

/* KGP -> parent: a tunnel's id */
int
srv_node_req_valid(const void *p, size_t len)
{
	const struct srv_node_req	*r = p;

	if (len != sizeof(*r) || !FIELD_STR(r->tunnel_id) ||
	    !tunnel_id_valid(r->tunnel_id))
		return (-1);
	return (0);
}

/*
 * parent -> KGP: a result it knows; for SRV_NODE_PEER a node's name,
 * an address, a port and a certificate's digest
 */
int
srv_node_rep_valid(const void *p, size_t len)
{
	const struct srv_node_rep	*r = p;

	if (len != sizeof(*r) || !FIELD_STR(r->tunnel_id) ||
	    !tunnel_id_valid(r->tunnel_id) || !FIELD_STR(r->node) ||
	    !FIELD_STR(r->addr) || !FIELD_STR(r->cert_sha256) ||
	    r->result < SRV_NODE_NONE || r->result > SRV_NODE_UNAVAIL)
		return (-1);
	if (r->result == SRV_NODE_PEER && (!node_name_valid(r->node) ||
	    r->addr[0] == '\0' || r->port < 1 || r->port > 65535 ||
	    strncmp(r->cert_sha256, "SHA256:", 7) != 0))
		return (-1);
	return (0);
}

int
srv_entry_reply_valid(const void *p, size_t len)
{
	const struct srv_entry_reply	*r = p;

	return (len != sizeof(*r) || !FIELD_STR(r->bound) ? -1 : 0);
}

int
srv_tunnel_add_valid(const void *p, size_t len)
{
	const struct srv_tunnel_add	*a = p;

	if (len != sizeof(*a) || !FIELD_STR(a->id) ||
	    !tunnel_id_valid(a->id) ||
	    !FIELD_STR(a->secret) || !FIELD_STR(a->owner) ||
	    strlen(a->secret) != TUNNEL_SECRET_LEN ||
	    strspn(a->secret, "0123456789abcdef") != TUNNEL_SECRET_LEN ||
	    !account_name_valid(a->owner) ||
	    a->mode < SRV_ADD_NEW || a->mode > SRV_ADD_REMOTE ||
	    (a->want != 0 && (a->want < 1024 || a->want > 65535)) ||
	    (a->mode == SRV_ADD_NEW && a->want != 0) ||
	    a->kgp_port > 65535 || a->last_connected < 0)
		return (-1);
	return (0);
}

int
srv_tunnel_rules_valid(const void *p, size_t len)
{
	struct srv_tunnel_rules	 h;
	const char		*s, *end;
	size_t			 n, i, k;

	if (len <= sizeof(h))
		return (-1);
	memcpy(&h, p, sizeof(h));
	if (!FIELD_STR(h.id) || !tunnel_id_valid(h.id) ||
	    h.list >= RULES_NLISTS || h.syntax > RULES_V5 ||
	    rules_field(h.list, h.syntax) == NULL || h.count == 0 ||
	    h.count > RULES_MAX || h.kgp_port > 65535)
		return (-1);
	s = (const char *)p + sizeof(h);
	end = (const char *)p + len;
	for (i = 0; i < h.count; i++) {
		if ((n = strnlen(s, end - s)) == (size_t)(end - s) || n == 0 ||
		    n > RULES_PATTERN_MAX)
			return (-1);
		for (k = 0; k < n; k++)
			if ((unsigned char)s[k] < 0x20 ||
			    (unsigned char)s[k] > 0x7e)
				return (-1);
		s += n + 1;
	}
	return (s == end ? 0 : -1);
}

int
srv_tunnel_ref_valid(const void *p, size_t len)
{
	const struct srv_tunnel_ref	*r = p;

	if (len != sizeof(*r) || !FIELD_STR(r->id) ||
	    !tunnel_id_valid(r->id) ||
	    (r->why != SRV_DEL_USER && r->why != SRV_DEL_UNSAVED))
		return (-1);
	return (0);
}

/* IMSG_SRV_TUNNEL_ASK, _NONE, _READ: a tunnel's id, no why */
int
srv_tunnel_ask_valid(const void *p, size_t len)
{
	const struct srv_tunnel_ref	*r = p;

	if (len != sizeof(*r) || !FIELD_STR(r->id) ||
	    !tunnel_id_valid(r->id) || r->why != 0)
		return (-1);
	return (0);
}

/* an errno or 0; which registry it answers is the worker's to judge */
int
srv_saved_valid(const void *p, size_t len)
{
	const struct srv_saved	*sv = p;

	if (len != sizeof(*sv) || sv->error < 0 || sv->error > 4095 ||
	    sv->pad != 0)
		return (-1);
	return (0);
}

int
srv_tstate_valid(const void *p, size_t len)
{
	const struct srv_tstate	*ts = p;

	if (len != sizeof(*ts) || !FIELD_STR(ts->id) ||
	    !tunnel_id_valid(ts->id) ||
	    ts->status > TUNNEL_TERMINATED || ts->connected > 1 ||
	    ts->nlinks > 65536 || ts->entry_port > 65535 ||
	    ts->kgp_port > 65535 ||
	    (ts->entry_port != 0 && ts->entry_port < 1024) ||
	    ts->last_connected < 0 || ts->shutdown_time < 0 ||
	    !FIELD_STR(ts->entry_addr) || !FIELD_STR(ts->reason))
		return (-1);
	return (0);
}

/* The size is offsetof(links) + count links (the table checks the rest). */
int
srv_tlinks_valid(const void *p, size_t len)
{
	const struct srv_tlinks	*l = p;
	uint32_t		 i;

	if (len < offsetof(struct srv_tlinks, links) ||
	    !FIELD_STR(l->id) || !tunnel_id_valid(l->id) ||
	    l->count > WEB_LINKS_MAX || l->count > l->nlinks ||
	    l->nlinks > 65536 ||
	    len != offsetof(struct srv_tlinks, links) +
	    l->count * sizeof(struct srv_tlink))
		return (-1);
	for (i = 0; i < l->count; i++)
		if (!FIELD_STR(l->links[i].addr) || l->links[i].up > 1 ||
		    l->links[i].index > 65535 || l->links[i].since < 0)
			return (-1);
	return (0);
}

int
srv_auth_req_valid(const void *p, size_t len)
{
	const struct srv_auth_req	*r = p;

	if (len != sizeof(*r) || !FIELD_STR(r->tunnel_id) ||
	    !tunnel_id_valid(r->tunnel_id) ||
	    !FIELD_STR(r->addr) || !FIELD_STR(r->user) ||
	    !FIELD_STR(r->key) || r->have > 1 || r->addr[0] == '\0')
		return (-1);
	return (0);
}

int
srv_auth_rep_valid(const void *p, size_t len)
{
	const struct srv_auth_rep	*r = p;

	if (len != sizeof(*r) || r->result < SRV_AUTH_OK ||
	    r->result > SRV_AUTH_UNAVAIL || r->retry < 0 ||
	    r->retry > SRV_AUTH_RETRY_MAX)
		return (-1);
	return (0);
}

/* KGP -> REST: the gateway's question, its strings terminated */
int
srv_gate_req_valid(const void *p, size_t len)
{
	const struct srv_gate_req	*r = p;

	if (len != sizeof(*r) || !FIELD_STR(r->addr) ||
	    !FIELD_STR(r->user) || !FIELD_STR(r->key) || r->have > 1 ||
	    r->addr[0] == '\0')
		return (-1);
	return (0);
}

/*
 * REST -> KGP: a result it knows, a printable label, and exactly nids
 * valid tunnel ids (some only with SRV_GATE_OK) ending the message.
 */
int
srv_gate_rep_valid(const void *p, size_t len)
{
	const struct srv_gate_rep	*r = p;
	size_t				 hdr = SRV_GATE_REP_LEN(0), i, n;

	if (len < hdr || len > sizeof(*r) || !FIELD_STR(r->label) ||
	    text_ctlspan(r->label, strlen(r->label), 0) != strlen(r->label) ||
	    r->result < SRV_GATE_OK || r->result > SRV_GATE_UNSHARED ||
	    r->retry < 0 || r->retry > SRV_AUTH_RETRY_MAX ||
	    r->nids > GATEWAY_POOL_MAX || len != SRV_GATE_REP_LEN(r->nids) ||
	    (r->nids == 0) != (r->result != SRV_GATE_OK))
		return (-1);
	n = r->nids;
	for (i = 0; i < n; i++)
		if (!FIELD_STR(r->ids[i]) || !tunnel_id_valid(r->ids[i]))
			return (-1);
	return (0);
}

/*
 * A gateway connection handed between KGP workers: 1 to
 * SRV_GATE_HAND_IDS tunnel ids, 1 to SRV_GATE_HAND_MAX bytes that end
 * the message.
 */
int
srv_gate_hand_valid(const void *p, size_t len)
{
	const struct srv_gate_hand	*h = p;
	uint32_t			 i;

	if (len < sizeof(*h) || !FIELD_STR(h->peer) ||
	    h->from < 0 || h->from >= KGP_WORKERS_MAX ||
	    h->nids < 1 || h->nids > SRV_GATE_HAND_IDS ||
	    h->len < 1 || h->len > SRV_GATE_HAND_MAX ||
	    len != sizeof(*h) + h->len)
		return (-1);
	for (i = 0; i < h->nids; i++)
		if (!FIELD_STR(h->ids[i]) || !tunnel_id_valid(h->ids[i]))
			return (-1);
	return (0);
}

/*
 * KGP -> CA: a name that cert_name_valid() takes, and a key of 1 to
 * CA_PUBKEY_MAX bytes that ends the message.
 */
int
srv_ca_req_valid(const void *p, size_t len)
{
	const struct srv_ca_req	*r = p;
	size_t			 hdr = offsetof(struct srv_ca_req, pub);

	if (len <= hdr || len > sizeof(*r) || r->publen != len - hdr ||
	    !FIELD_STR(r->name) || !cert_name_valid(r->name) ||
	    r->pad[0] != 0 || r->pad[1] != 0)
		return (-1);
	return (0);
}

/* CA -> KGP: a certificate that ends the message, or a result without */
int
srv_ca_rep_valid(const void *p, size_t len)
{
	const struct srv_ca_rep	*r = p;
	size_t			 hdr = offsetof(struct srv_ca_rep, der);

	if (len < hdr || len > sizeof(*r) || r->len != len - hdr ||
	    r->result < SRV_CA_OK || r->result > SRV_CA_FAILED ||
	    (r->result == SRV_CA_OK) != (r->len > 0))
		return (-1);
	return (0);
}

/* A string of its field with no control character. */
static int
field_text(const char *s, size_t size)
{
	const unsigned char	*p;

	if (memchr(s, '\0', size) == NULL)
		return (0);
	for (p = (const unsigned char *)s; *p != '\0'; p++)
		if (*p < 0x20 || *p == 0x7f)
			return (0);
	return (1);
}

int
srv_event_valid(const void *p, size_t len)
{
	const struct srv_event	*ev = p;

	if (len != sizeof(*ev) || ev->kind < 1 || ev->kind > EVENT_KIND_MAX ||
	    ev->time < 0 ||
	    !FIELD_STR(ev->account) || (ev->account[0] != '\0' &&
	    !account_name_valid(ev->account)) ||
	    !FIELD_STR(ev->actor) || (ev->actor[0] != '\0' &&
	    !account_name_valid(ev->actor)) ||
	    !field_text(ev->subject, sizeof(ev->subject)) ||
	    !field_text(ev->detail, sizeof(ev->detail)))
		return (-1);
	return (0);
}

int
srv_events_req_valid(const void *p, size_t len)
{
	const struct srv_events_req	*r = p;

	if (len != sizeof(*r) || r->since < 0 || !FIELD_STR(r->account) ||
	    !account_name_valid(r->account))
		return (-1);
	return (0);
}

int
srv_account_req_valid(const void *p, size_t len)
{
	const struct srv_account_req	*r = p;
	int				 team_op;

	if (len != sizeof(*r))
		return (-1);
	team_op = r->op == SRV_TEAM_ADD || r->op == SRV_TEAM_LIST;
	if (r->op < SRV_ACCOUNT_ADD || r->op > SRV_TEAM_LIST ||
	    r->role < ROLE_MEMBER || r->role > ROLE_ADMIN ||
	    r->keep_team > 1 || r->keep_role > 1 ||
	    !FIELD_STR(r->admin) || !account_name_valid(r->admin) ||
	    !FIELD_STR(r->name) || (team_op ? r->name[0] != '\0' :
	    !account_name_valid(r->name)) ||
	    !FIELD_STR(r->team) ||
	    (r->team[0] != '\0' && !name_valid(r->team, TEAM_NAME_MAX)) ||
	    (r->op == SRV_TEAM_ADD && r->team[0] == '\0') ||
	    (r->op == SRV_TEAM_LIST && r->team[0] != '\0'))
		return (-1);
	return (0);
}

int
srv_teams_rep_valid(const void *p, size_t len)
{
	const struct srv_teams_rep	*r = p;
	uint32_t			 i;

	if (len != sizeof(*r) || (r->status != 200 && r->status != 500) ||
	    r->count > TEAMS_LIST_MAX)
		return (-1);
	for (i = 0; i < TEAMS_LIST_MAX; i++)
		if (!FIELD_STR(r->name[i]) || (i < r->count ?
		    !name_valid(r->name[i], TEAM_NAME_MAX) :
		    r->name[i][0] != '\0'))
			return (-1);
	return (0);
}

int
srv_account_rep_valid(const void *p, size_t len)
{
	const struct srv_account_rep	*r = p;

	if (len != sizeof(*r) || r->status < 200 || r->status > 599 ||
	    !field_text(r->message, sizeof(r->message)))
		return (-1);
	return (0);
}
