/*
 * The messages between the sc-server parent and its workers, and their
 * payloads.  The parent reads files, binds ports and writes the
 * registry; the REST worker serves the REST API and keeps the accounts
 * and the registry; the KGP worker serves KGP and the entry proxies;
 * the CA process keeps the CA key and signs leaf certificates.  The
 * workers never talk directly, but for the KGP worker's leaves: the
 * parent relays what one says to another (IMSG_SRV_TUNNEL_*,
 * IMSG_SRV_AUTH_*, IMSG_SRV_GATE_*, and IMSG_SRV_CA_* while the KGP
 * worker and the CA process have no channel of their own), after
 * checking it
 * (see parent.c, worker.c and the SECURITY CONSIDERATIONS of
 * sc-server(8)).  All ends are the same binary, so the structs need no
 * versioning beyond SRV_IMSG_VERSION in the HELLO.
 *
 * IMSG_LOG (imsg_types.h) carries the workers' log lines, as for the
 * client's children.  The server's own types start at SRV_IMSG_BASE so
 * that they never collide with it.  Each payload's validator (privsep.c)
 * is declared next to it: 0 when it fits, -1 when it does not; the
 * dispatcher (common/proc.c) calls it before the handler, in the parent
 * before it relays a message and in the worker that gets it.  Who may
 * send what is the tables at the top of parent.c (what each worker may
 * send) and worker.c (what the parent may send each worker).
 */
#ifndef SC_IMSG_SERVER_H
#define SC_IMSG_SERVER_H

#include <stdint.h>

#include "imsg_types.h"
#include "server.h"

#define SRV_IMSG_VERSION	19
#define SRV_IMSG_BASE		1000
#define SRV_WORKER_FD		3	/* a worker's channel to the parent */

/* the workers: "sc-server -W rest", "-W kgp", "-W ca" */
#define SRV_ROLE_REST		1
#define SRV_ROLE_KGP		2
#define SRV_ROLE_CA		3

/* numbers pinned by group, as in imsg_types.h */
enum srv_imsg_type {
	/* worker -> parent */
	IMSG_SRV_HELLO = SRV_IMSG_BASE,	/* struct sc_hello, first and once */
	IMSG_SRV_READY = 1001,	/* no payload: serving; once */
	IMSG_SRV_ENTRY_BIND = 1002, /* KGP: struct srv_entry_req */
	IMSG_SRV_STATE_ASIDE = 1003, /* REST: no payload: tunnels.json is */
				/* corrupt */

	/* parent -> worker */
	IMSG_SRV_CONFIG = 1100,	/* struct srv_config, once */
	IMSG_SRV_LISTENER = 1101, /* fd = listening socket; uint32 */
				/* SRV_LISTEN_*; once */
	IMSG_SRV_START = 1102,	/* no payload: everything has been sent; */
				/* once */
	IMSG_SRV_ENTRY_FD = 1103, /* to KGP: struct srv_entry_reply, fd or */
				/* none */
	IMSG_SRV_SAVED = 1104,	/* to REST: struct srv_saved: a registry */
				/* written, or not */
	IMSG_SRV_SHUTDOWN = 1105, /* no payload: drain and exit */
	IMSG_SRV_KGP_DOWN = 1106, /* to REST, int32 its KGP port (0: the */
				/* only one): a KGP worker died */
	IMSG_SRV_KGP_UP = 1107,	/* to REST, no payload: a new KGP worker */
	IMSG_SRV_CA_UP = 1108,	/* to KGP, no payload: a CA process serves; */
				/* fd = its end of a channel to it, or none */
	IMSG_SRV_CA_DOWN = 1109, /* to KGP, no payload: it is gone */
	IMSG_SRV_METRICS_LISTENER = 1110, /* to REST: fd = the -m listening */
				/* socket, no payload; once */
	IMSG_SRV_KGP_NEXT = 1112, /* to REST, int32: the KGP port a new */
				/* tunnel would go to now (GET endpoint) */
	IMSG_SRV_CA_PEER = 1111, /* to CA, int32 a KGP worker's index: fd = */
				/* its end of a channel to it (CA_UP) */

	/* REST -> KGP, relayed by the parent */
	IMSG_SRV_TUNNEL_ADD = 1200, /* struct srv_tunnel_add */
	IMSG_SRV_TUNNEL_DEL = 1201, /* struct srv_tunnel_ref: to end, and */
				/* why */
	IMSG_SRV_TUNNELS_END = 1202, /* no payload: every tunnel has been */
				/* told */
	IMSG_SRV_AUTH_REP = 1203, /* struct srv_auth_rep */
	IMSG_SRV_TUNNEL_RULES = 1204, /* struct srv_tunnel_rules and its */
				/* rules: before the TUNNEL_ADD of that */
				/* tunnel */

	/* KGP -> REST, relayed by the parent */
	IMSG_SRV_TUNNEL_STATE = 1300, /* struct srv_tstate */
	IMSG_SRV_AUTH_REQ = 1301, /* struct srv_auth_req: entry proxy -P */
	IMSG_SRV_KGP_STATS = 1302, /* struct srv_kgp_stats: with -m, every */
				/* METRICS_PUSH_SEC */

	/* both ways: a blob, in chunks between its start and its end */
	IMSG_SRV_BLOB_BEGIN = 1400, /* struct srv_blob_hdr */
	IMSG_SRV_BLOB = 1401,	/* uint32 SRV_BLOB_* + up to a chunk of */
				/* bytes */
	IMSG_SRV_BLOB_END = 1402, /* struct srv_blob_hdr, the same again */

	/*
	 * KGP -> CA, on their channel (IMSG_SRV_CA_PEER), else relayed by the
	 * parent (which answers when no CA is up)
	 */
	IMSG_SRV_CA_SIGN = 1500, /* struct srv_ca_req, pub publen bytes */
	/* CA -> KGP, the same way back */
	IMSG_SRV_CA_CERT = 1501, /* struct srv_ca_rep, der len bytes */
	/* REST -> parent: the database (dbmsg.c) */
	IMSG_SRV_EVENT = 1600,	/* struct srv_event: into the event log */
	IMSG_SRV_EVENTS_REQ = 1601, /* struct srv_events_req: answered with */
				/* a blob SRV_BLOB_EVENTS, seq = reqid */
	IMSG_SRV_ACCOUNT_REQ = 1602, /* struct srv_account_req: an org */
				/* admin adds or deletes an account */
	/* parent -> REST: the database */
	IMSG_SRV_ACCOUNT_REP = 1620, /* struct srv_account_rep, after the */
				/* new account list */

	/* the gateway (-G) */
	IMSG_SRV_GATEWAY_LISTENER = 1650, /* parent -> KGP: fd = the -G */
				/* listening socket, no payload; once */
	IMSG_SRV_GATE_REQ = 1651, /* KGP -> REST, relayed: struct */
				/* srv_gate_req */
	IMSG_SRV_GATE_REP = 1652, /* REST -> KGP, relayed: struct */
				/* srv_gate_rep, nids ids */
	IMSG_SRV_GATE_HAND = 1653, /* KGP -> parent -> KGP: struct */
				/* srv_gate_hand, len bytes; fd = the */
				/* browser's connection */

	/* KGP -> REST, relayed by the parent: for the web page (1700-1749) */
	IMSG_SRV_TUNNEL_LINKS = 1700, /* struct srv_tlinks, count links: */
				/* every WEB_LINKS_PUSH_SEC, when changed */

	/* parent -> REST: an organisation's teams (1750-1799) */
	IMSG_SRV_TEAMS_REP = 1750, /* struct srv_teams_rep: the answer to */
				/* IMSG_SRV_ACCOUNT_REQ SRV_TEAM_LIST */

	/* node links, a cluster's (nodelink.c, nodemap.c) (1800-1849) */
	IMSG_SRV_NODE_SECRET = 1800, /* parent -> KGP: struct */
				/* srv_node_secret; once, --db postgresql */
	IMSG_SRV_NODE_REQ = 1801, /* KGP -> parent: struct srv_node_req: */
				/* where is a tunnel's session? */
	IMSG_SRV_NODE_REP = 1802, /* parent -> KGP: struct srv_node_rep */
	IMSG_SRV_TUNNEL_ASK = 1803, /* KGP -> parent: struct */
				/* srv_tunnel_ref, why 0: a HELLO for it */
				/* waits, read that tunnel now */
	IMSG_SRV_TUNNEL_NONE = 1804, /* parent -> KGP: struct */
				/* srv_tunnel_ref, why 0: the database */
				/* has no such tunnel */
	IMSG_SRV_TUNNEL_READ = 1805, /* parent -> KGP: struct */
				/* srv_tunnel_ref, why 0: the read an */
				/* ASK asked for is done (a tunnel found */
				/* comes by way of the REST worker) */
};

#define SRV_LISTEN_REST		1
#define SRV_LISTEN_KGP		2

/* blobs: files and lists too large for one message */
enum srv_blob_kind {
	SRV_BLOB_NONE,
	SRV_BLOB_KGP_CRT,	/* parent -> worker: KGP certificate, PEM */
	SRV_BLOB_KGP_KEY,	/* parent -> worker: its key, PEM */
	SRV_BLOB_REST_CRT,	/* parent -> worker: -C, PEM chain */
	SRV_BLOB_REST_KEY,	/* parent -> worker: -k, PEM */
	SRV_BLOB_ACCOUNTS,	/* parent -> worker: struct srv_account[] */
	SRV_BLOB_STATE,		/* parent -> worker: tunnels.json as read */
	SRV_BLOB_SAVE,		/* worker -> parent: tunnels.json to write */
	SRV_BLOB_CA_CRT,	/* parent -> every worker: the CA, PEM */
	SRV_BLOB_CA_KEY,	/* parent -> the CA process: its key, PEM */
	SRV_BLOB_EVENTS,	/* parent -> REST: events, a JSON array */
	SRV_BLOB_SYNC,		/* parent -> REST: tunnels other nodes wrote */
	SRV_BLOB_NODES,		/* parent -> REST: struct srv_node[] */
	SRV_BLOB_MAX
};

#define SRV_BLOB_CHUNK		(IMSG_MAXDATA - sizeof(uint32_t))
#define SRV_PEM_MAX		(256 * 1024)

struct srv_blob_hdr {
	uint32_t	 kind;
	uint32_t	 pad;
	uint64_t	 len;		/* bytes in all */
	uint64_t	 seq;		/* SRV_BLOB_SAVE: for IMSG_SRV_SAVED */
};

/* a node of the cluster, as the REST worker places tunnels on it */
struct srv_node {
	char		 name[NODE_NAME_MAX];
	char		 host[HOST_MAX];
	char		 cert_sha256[CERT_HASH_LEN + 1];
	uint8_t		 pad[1];
	int32_t		 kgp_port;
	int32_t		 state;		/* NODE_* */
	int32_t		 alive;		/* heartbeat fresh, not down */
	int32_t		 self;		/* this node */
	int64_t		 tunnels;	/* sessions it holds */
};

/* one account as the worker gets it: never the access key */
struct srv_account {
	char		 name[ACCOUNT_NAME_MAX + 1];
	char		 org[ORG_NAME_MAX + 1];		/* "": none */
	char		 team[TEAM_NAME_MAX + 1];	/* "": none */
	uint8_t		 pad[1];
	int32_t		 role;				/* ROLE_* */
	uint8_t		 salt[ACCOUNT_SALT_LEN];
	uint8_t		 hash[32];
};

struct srv_config {
	uint32_t	 version;	/* SRV_IMSG_VERSION */
	uint32_t	 role;		/* SRV_ROLE_* */
	int32_t		 resync;	/* REST: the KGP worker has tunnels */
	int32_t		 importing;	/* REST: the registry is tunnels.json */
	int32_t		 cluster;	/* nodes share the database */
	int32_t		 debug;
	int32_t		 verbose;
	int32_t		 grace;
	int32_t		 max_missed;
	char		 kgp_congestion[KGP_CC_NAMELEN];
	int32_t		 entry_auth;
	int32_t		 rest_tls;
	int32_t		 kgp_port;	/* KGP: its own; REST: worker 0's */
	int32_t		 kgp_index;	/* KGP: which worker, 0.. */
	int32_t		 kgp_workers;	/* --kgp-workers */
	int32_t		 metrics;	/* -m: REST serves, KGP reports */
	char		 host[HOST_MAX];
	char		 node[NODE_NAME_MAX];	/* --node */
	char		 entry_host[HOST_MAX];
	char		 rest_addr[ADDRSTR_MAX];
	char		 kgp_addr[ADDRSTR_MAX];
	char		 tunnels_path[1024];	/* for log lines only */
	char		 cert_hash[CERT_HASH_LEN + 1];
	uint32_t	 entry_nacl;
	struct netmask	 entry_acl[ENTRY_ACL_MAX];
	uint32_t	 direct_nallow;
	struct netmask	 direct_allow[DIRECT_ALLOW_MAX];
};
int	 srv_config_valid(const void *, size_t);

/* an entry proxy port for a tunnel: want 0 lets the kernel choose */
struct srv_entry_req {
	uint64_t	 reqid;
	char		 tunnel_id[TUNNEL_ID_LEN + 1];
	uint32_t	 want;
};
int	 srv_entry_req_valid(const void *, size_t);

/* the cluster's node secret (table cluster, 'node-secret') */
struct srv_node_secret {
	char		 secret[NODE_SECRET_LEN + 1];	/* hex */
};
int	 srv_node_secret_valid(const void *, size_t);

/* the node that holds tunnel_id's client session? */
struct srv_node_req {
	uint64_t	 reqid;
	char		 tunnel_id[TUNNEL_ID_LEN + 1];
};
int	 srv_node_req_valid(const void *, size_t);

#define SRV_NODE_NONE		0	/* no session anywhere (or no tunnel) */
#define SRV_NODE_HERE		1	/* this node's */
#define SRV_NODE_PEER		2	/* a live node's: addr, port, cert */
#define SRV_NODE_DEAD		3	/* a node's that is down */
#define SRV_NODE_UNAVAIL	4	/* the database cannot tell now */

struct srv_node_rep {
	uint64_t	 reqid;
	int32_t		 result;		/* SRV_NODE_* */
	int32_t		 port;			/* its KGP port */
	char		 tunnel_id[TUNNEL_ID_LEN + 1];
	char		 node[NODE_NAME_MAX];	/* "": none */
	char		 addr[HOST_MAX];	/* numeric, resolved */
	char		 cert_sha256[CERT_HASH_LEN + 1];
};
int	 srv_node_rep_valid(const void *, size_t);

/* the answer: fd = the listening socket, none when bound is "" */
struct srv_entry_reply {
	uint64_t	 reqid;
	char		 bound[ADDRSTR_MAX];	/* "ip:port" */
};
int	 srv_entry_reply_valid(const void *, size_t);

/* how a tunnel reaches the KGP worker */
#define SRV_ADD_NEW		1	/* a REST POST: bind a new port */
#define SRV_ADD_RESTORE		2	/* from the registry: port want first */
#define SRV_ADD_SYNC		3	/* a new REST worker: report, add none */
#define SRV_ADD_REMOTE		4	/* a cluster: another node's tunnel */

struct srv_tunnel_add {
	char		 id[TUNNEL_ID_LEN + 1];
	char		 secret[TUNNEL_SECRET_LEN + 1];
	char		 owner[ACCOUNT_NAME_MAX + 1];	/* for log lines */
	uint8_t		 pad[1];
	uint32_t	 mode;		/* SRV_ADD_* */
	uint32_t	 want;		/* entry port, 0: any */
	uint32_t	 kgp_port;	/* --kgp-workers: its worker's last, */
					/* 0: none */
	uint32_t	 pad2;
	int64_t		 last_connected;	/* 0: never */
};
int	 srv_tunnel_add_valid(const void *, size_t);

/*
 * Some rules of one list of a tunnel's traffic rules (rules.h), as the
 * client wrote them: count strings, each ending in a NUL, right after
 * the struct, the message full with them.  A tunnel's rules come in as
 * many of these as they need, just before its IMSG_SRV_TUNNEL_ADD; the
 * KGP worker compiles them then.
 */
struct srv_tunnel_rules {
	char		 id[TUNNEL_ID_LEN + 1];
	uint8_t		 list;		/* enum rules_list */
	uint8_t		 syntax;	/* enum rules_syntax */
	uint8_t		 pad[1];
	uint32_t	 count;
	uint32_t	 kgp_port;	/* as struct srv_tunnel_add's */
};
int	 srv_tunnel_rules_valid(const void *, size_t);

/* why a tunnel is to end */
#define SRV_DEL_USER		1	/* a REST DELETE */
#define SRV_DEL_UNSAVED		2	/* new, but its registry was not written */

struct srv_tunnel_ref {
	char		 id[TUNNEL_ID_LEN + 1];
	uint8_t		 pad[3];
	uint32_t	 why;		/* SRV_DEL_* */
};
int	 srv_tunnel_ref_valid(const void *, size_t);
int	 srv_tunnel_ask_valid(const void *, size_t);

/* the answer to a registry sent to write (SRV_BLOB_SAVE) */
struct srv_saved {
	uint64_t	 seq;		/* of the blob */
	int32_t		 error;		/* errno, 0: written and synced */
	uint32_t	 pad;
};
int	 srv_saved_valid(const void *, size_t);

/* what the REST answers need of a tunnel in the KGP worker */
struct srv_tstate {
	char		 id[TUNNEL_ID_LEN + 1];
	uint8_t		 pad[3];
	uint32_t	 status;	/* enum tunnel_status */
	uint32_t	 nlinks;	/* KGP sessions, up or broken */
	uint32_t	 connected;	/* at least one up */
	uint32_t	 entry_port;	/* 0: none */
	uint32_t	 kgp_port;	/* its KGP worker's: the parent's word */
	uint32_t	 pad2;
	int64_t		 last_connected;
	int64_t		 shutdown_time;
	char		 entry_addr[ADDRSTR_MAX];
	char		 reason[128];	/* why it ended */
};
int	 srv_tstate_valid(const void *, size_t);

/* -P: the first request of an entry connection, for the REST worker */
struct srv_auth_req {
	uint64_t	 reqid;
	char		 tunnel_id[TUNNEL_ID_LEN + 1];
	char		 addr[ADDRSTR_MAX];	/* the peer, no port */
	char		 user[ACCOUNT_NAME_MAX + 2];
	char		 key[256];
	uint8_t		 have;		/* credentials that parse */
};
int	 srv_auth_req_valid(const void *, size_t);

#define SRV_AUTH_OK		0
#define SRV_AUTH_DENIED		1	/* 407 */
#define SRV_AUTH_LIMITED	2	/* 429, retry */
#define SRV_AUTH_UNAVAIL	3	/* 503: no REST worker just now */

#define SRV_AUTH_RETRY_MAX	(24 * 3600)

struct srv_auth_rep {
	uint64_t	 reqid;
	int32_t		 result;	/* SRV_AUTH_* */
	int32_t		 retry;		/* seconds, 0..SRV_AUTH_RETRY_MAX */
};
int	 srv_auth_rep_valid(const void *, size_t);

/*
 * The gateway: which tunnels may the credentials of a connection's first
 * request use?  user is as the browser sent it (ACCOUNT, ACCOUNT+NAME,
 * ACCOUNT+OWNER/NAME), key the password.
 */
struct srv_gate_req {
	uint64_t	 reqid;
	char		 addr[ADDRSTR_MAX];	/* the peer, no port */
	char		 user[GATEWAY_USER_MAX + 1];
	char		 key[256];
	uint8_t		 have;		/* credentials that parse */
};
int	 srv_gate_req_valid(const void *, size_t);

#define SRV_GATE_OK		0	/* ids: the tunnels, a pool's members */
#define SRV_GATE_DENIED		1	/* 407 */
#define SRV_GATE_LIMITED	2	/* 429, retry */
#define SRV_GATE_UNAVAIL	3	/* 503: no REST worker just now */
#define SRV_GATE_NONE		4	/* 403: ACCOUNT has no such tunnel */
#define SRV_GATE_UNSHARED	5	/* 403: not shared with ACCOUNT, */
					/* or no such tunnel of OWNER */

/* the answer: it ends after nids ids (0 unless SRV_GATE_OK) */
struct srv_gate_rep {
	uint64_t	 reqid;
	int32_t		 result;	/* SRV_GATE_* */
	int32_t		 retry;		/* seconds, 0..SRV_AUTH_RETRY_MAX */
	char		 label[GATEWAY_LABEL_MAX];	/* "NAME" of OWNER */
	uint32_t	 nids;
	char		 ids[GATEWAY_POOL_MAX][TUNNEL_ID_LEN + 1];
};
int	 srv_gate_rep_valid(const void *, size_t);
#define SRV_GATE_REP_LEN(n)	(offsetof(struct srv_gate_rep, ids) + \
				    (size_t)(n) * (TUNNEL_ID_LEN + 1))

/*
 * --kgp-workers: a gateway connection whose credentials name tunnels
 * none of which runs in the worker that accepted it, handed to the
 * worker of one of them (ids: the first SRV_GATE_HAND_IDS of those not
 * in the sender) with what was read of it (len bytes after the struct,
 * the first request head whole).  from: the sender's index, the
 * parent's word.  The receiver asks about the credentials again and
 * never hands it on.
 */
#define SRV_GATE_HAND_IDS	16
#define SRV_GATE_HAND_MAX	(IMSG_MAXDATA - sizeof(struct srv_gate_hand))

struct srv_gate_hand {
	char		 peer[ADDRSTR_MAX];	/* the browser, "ip:port" */
	int32_t		 from;
	uint32_t	 nids;
	char		 ids[SRV_GATE_HAND_IDS][TUNNEL_ID_LEN + 1];
	uint32_t	 len;
};
int	 srv_gate_hand_valid(const void *, size_t);

/*
 * A leaf certificate for name, with the public key the KGP worker made
 * for it (DER SubjectPublicKeyInfo, publen bytes: EC P-256 only).  The
 * message ends with the key: its size is offsetof(pub) + publen.
 */
#define CA_PUBKEY_MAX		256	/* P-256's is 91 bytes */

struct srv_ca_req {
	uint64_t	 reqid;
	char		 name[CERT_NAME_MAX + 1];	/* cert_name_valid() */
	uint8_t		 pad[2];
	uint32_t	 publen;
	uint8_t		 pub[CA_PUBKEY_MAX];
};
int	 srv_ca_req_valid(const void *, size_t);

#define SRV_CA_OK		0
#define SRV_CA_UNAVAIL		1	/* no CA process just now */
#define SRV_CA_REFUSED		2	/* a key or a name it does not sign */
#define SRV_CA_FAILED		3	/* it could not sign */

/* the leaf, DER (len bytes, 0 unless SRV_CA_OK): the message ends there */
#define CA_LEAF_MAX		8192

struct srv_ca_rep {
	uint64_t	 reqid;
	int32_t		 result;	/* SRV_CA_* */
	uint32_t	 len;
	uint8_t		 der[CA_LEAF_MAX];
};
int	 srv_ca_rep_valid(const void *, size_t);

/*
 * The KGP worker's figures for /metrics (metrics.c): counters since its
 * start, and what is open now.  Any value fits.  Every field is a
 * uint64_t (or an array of them): the parent adds the workers' up as
 * one array (parent_kgp_stats_sum()).
 */
struct srv_kgp_stats {
	uint64_t	 sessions;	/* KGP sessions, up or broken */
	uint64_t	 sessions_up;
	uint64_t	 sessions_total;	/* since the worker's start */
	uint64_t	 streams_open;
	uint64_t	 streams_total;
	uint64_t	 bytes_in;	/* stream bytes from the clients */
	uint64_t	 bytes_out;	/* ... to them */
	uint64_t	 entry_accepted;	/* entry proxy connections */
	uint64_t	 entry_rejected[ENTRY_CODES_MAX];	/* entry_codes[] */
	uint64_t	 certs_minted;	/* leaves the CA signed (mint.c) */
	uint64_t	 cert_failures;	/* names no leaf could be made for */
	uint64_t	 cert_hits;	/* leaves served from the cache */
	uint64_t	 hold_asks;	/* tunnels a held HELLO had read */
	uint64_t	 hold_refused;	/* HELLOs past KGP_HOLD_MAX */
};

/*
 * An event for the log: whose it is (account: the tunnel's owner, the
 * account signed in as), who did it (actor: an account, or "" for the
 * server), to what (subject: a tunnel id, a name), and more (detail).
 * Each string ends in its field; none has a control character.
 */
struct srv_event {
	int64_t		 time;
	uint32_t	 kind;		/* EVENT_* */
	char		 account[ACCOUNT_NAME_MAX + 1];
	char		 actor[ACCOUNT_NAME_MAX + 1];
	char		 subject[EVENT_SUBJECT_MAX + 1];
	char		 detail[EVENT_DETAIL_MAX + 1];
};
int	 srv_event_valid(const void *, size_t);
/* the events account may see, since since (Unix seconds) */
struct srv_events_req {
	uint64_t	 reqid;
	int64_t		 since;
	char		 account[ACCOUNT_NAME_MAX + 1];
	uint8_t		 pad[7];
};
int	 srv_events_req_valid(const void *, size_t);
/*
 * What an admin of an organisation asks of its accounts and teams: an
 * account to add (the REST worker made its key: salt and hash come,
 * never the key), to delete, to change (its team unless keep_team, its
 * role unless keep_role); a team (team) to add; the teams to list (name
 * and team "", answered with IMSG_SRV_TEAMS_REP).
 */
#define SRV_ACCOUNT_ADD		1
#define SRV_ACCOUNT_DEL		2
#define SRV_ACCOUNT_SET		3
#define SRV_TEAM_ADD		4
#define SRV_TEAM_LIST		5
struct srv_account_req {
	uint64_t	 reqid;
	uint32_t	 op;		/* SRV_ACCOUNT_*, SRV_TEAM_* */
	int32_t		 role;		/* ROLE_* */
	char		 admin[ACCOUNT_NAME_MAX + 1];
	char		 name[ACCOUNT_NAME_MAX + 1];
	char		 team[TEAM_NAME_MAX + 1];	/* "": none */
	uint8_t		 salt[ACCOUNT_SALT_LEN];
	uint8_t		 hash[32];
	uint8_t		 keep_team;	/* SRV_ACCOUNT_SET: 0 or 1 */
	uint8_t		 keep_role;
	uint8_t		 pad[3];
};
int	 srv_account_req_valid(const void *, size_t);
/* its answer: an HTTP status and a message */
struct srv_account_rep {
	uint64_t	 reqid;
	int32_t		 status;
	char		 message[256];
	uint8_t		 pad[4];
};
int	 srv_account_rep_valid(const void *, size_t);
/* the teams of an organisation: count names, then "" */
struct srv_teams_rep {
	uint64_t	 reqid;
	int32_t		 status;	/* 200, else 500 */
	uint32_t	 count;		/* <= TEAMS_LIST_MAX */
	char		 name[TEAMS_LIST_MAX][TEAM_NAME_MAX + 1];
};
int	 srv_teams_rep_valid(const void *, size_t);

/*
 * A tunnel's KGP sessions as the web page shows them (weblinks.c): the
 * totals, and the first WEB_LINKS_MAX sessions.  The message ends with
 * the last: its size is offsetof(links) + count * sizeof(struct
 * srv_tlink).
 */
struct srv_tlink {
	char		 addr[ADDRSTR_MAX];	/* the client's, "ip:port" */
	uint32_t	 index;		/* its connection index */
	uint32_t	 up;		/* 1: the link is up; 0: broken */
	uint64_t	 rtt_us;	/* last keepalive round trip, 0: none */
	uint64_t	 streams_open;
	uint64_t	 bytes_in;	/* from the client (to browsers) */
	uint64_t	 bytes_out;	/* to the client (from browsers) */
	int64_t		 since;		/* accepted, Unix seconds */
};

struct srv_tlinks {
	char		 id[TUNNEL_ID_LEN + 1];
	uint8_t		 pad[3];
	uint32_t	 nlinks;	/* sessions in all */
	uint32_t	 count;		/* in links[], at most WEB_LINKS_MAX */
	uint32_t	 pad2;
	uint64_t	 streams_open;	/* of all the sessions */
	uint64_t	 bytes_in;	/* ... those gone included */
	uint64_t	 bytes_out;
	struct srv_tlink links[WEB_LINKS_MAX];
};
int	 srv_tlinks_valid(const void *, size_t);

#endif /* SC_IMSG_SERVER_H */
