/*
 * sc-server: the REST API, the KGP endpoint and the entry proxies of the
 * tunnel server.
 */
#ifndef SC_SERVER_H
#define SC_SERVER_H

#include <sys/types.h>
#include <sys/queue.h>
#include <sys/socket.h>

#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdint.h>
#include <time.h>

#include "admit.h"
#include "kgp.h"
#include "listener.h"
#include "rules.h"
#include "text.h"

#define SC_SERVER_USER_DEFAULT_STATEDIR	"/var/lib/sc-server"
#define SC_SERVER_REST_DEFAULT	"127.0.0.1:4400"
#define SC_SERVER_KGP_DEFAULT	"127.0.0.1:4443"
#define SC_SERVER_ENTRY_DEFAULT	"127.0.0.1"
#define SC_SERVER_GATEWAY_DEFAULT "127.0.0.1:4480"	/* -G */
#define SC_SERVER_GRACE_DEFAULT	60
#define KGP_SERVER_MAX_MISSED	30	/* 1 s pings: a silent link dies in 30 s */
#define SC_SERVER_CONNECT_MIN	30	/* first connection: at least this */
#define SERVER_DRAIN_SEC	10	/* SIGTERM: open streams may finish */

#define REST_PREFIX		"/rest/v1"
#define REST_MAX_BODY		(64 * 1024)

/*
 * Connections that have not yet sent a whole request (REST, entry) or
 * finished TLS and HELLO (KGP) wait in an admission table each (admit.h):
 * so many per address and in all, each with one deadline for the whole
 * request or handshake, shorter as the table fills.  The bounds in all
 * are also held to a share of the descriptors (server_fd_share()).
 */
#define REST_REQUEST_SEC	20	/* a whole request, head and body */
#define REST_REQUEST_MIN_SEC	5	/* ... when the table is full */
#define REST_ANSWER_SEC		30	/* an answer must be read so fast */
#define REST_WAITING_ADDR	128	/* waiting, per address */
#define REST_WAITING_MAX	1024	/* ... in all; half the descriptors */
#define ENTRY_HEAD_SEC		30	/* a first request head, whole */
#define ENTRY_HEAD_MIN_SEC	5
#define ENTRY_WAITING_ADDR	256	/* a browser farm behind one NAT */
#define ENTRY_WAITING_MAX	4096	/* a quarter of the descriptors */
#define KGP_HANDSHAKE_SEC	15	/* TLS and HELLO */
#define KGP_HANDSHAKE_MIN_SEC	3
#define KGP_HOLD_MS		1000	/* a cluster's HELLO for a tunnel not
					   known here yet waits so long */
#define KGP_HOLD_MAX		64	/* ... so many at once, and so many
					   reads asked of the parent and not
					   yet answered: beyond, try again */
#define KGP_HOLD_LOG_SEC	10	/* one line for those so often */
#define KGP_WAITING_ADDR	128	/* sc opens one per CPU at once */
#define KGP_WAITING_MAX		1024	/* a quarter of the descriptors */

/*
 * -m: /metrics, /healthz, /readyz, served by the REST worker on a
 * listener of their own, with an admission table of their own: a flood
 * of scrapers or a slow one is dropped, never waited for.
 */
#define METRICS_REQUEST_SEC	5	/* a whole request */
#define METRICS_REQUEST_MIN_SEC	1	/* ... when the table is full */
#define METRICS_ANSWER_SEC	10	/* the answer must be read so fast */
#define METRICS_WAITING_ADDR	16	/* waiting connections, per address */
#define METRICS_WAITING_MAX	64	/* ... in all */
#define METRICS_BACKLOG		64
#define METRICS_PUSH_SEC	1	/* the KGP worker's figures, so often */
#define METRICS_STALE_SEC	5	/* older: the KGP worker is not ready */
#define REST_CODES_MAX		32	/* status codes counted, distinct */
/* entry proxy refusals by status code: the last one counts the others */
#define ENTRY_CODES		{ 400, 403, 407, 408, 429, 431, 502, 503, 0 }
#define ENTRY_CODES_MAX		9

#define ACCOUNT_NAME_MAX	64
#define ORG_NAME_MAX		64	/* organisations and teams: the */
#define TEAM_NAME_MAX		64	/* ... characters of account names */
/* roles (struct account): what an account may share, and see */
#define ROLE_MEMBER		0	/* shares nothing */
#define ROLE_TEAM_ADMIN		1	/* shares with its team */
#define ROLE_ADMIN		2	/* shares with its organisation */
#define TEAMS_LIST_MAX		200	/* teams an organisation admin sees */
#define WEB_ADMIN_EVENTS	50	/* events on the admin page: the newest */
#define ACCOUNT_SALT_LEN	16	/* bytes */
#define ACCOUNT_KEY_LEN		36	/* UUID form */
#define ACCOUNTS_FILE		"accounts"
#define ACCOUNTS_MAX		100000
#define SERVER_KEY_FILE		"server.key"
#define SERVER_CRT_FILE		"server.crt"
#define TUNNELS_FILE		"tunnels.json"
#define DB_TUNNELS_DELTA_TEXT	"{\"version\":3}\n"	/* changes to write */
#define TUNNELS_FILE_MAX	(64 * 1024 * 1024)	/* bytes */
#define TUNNELS_KEEP_TERMINATED	64	/* terminated ones in the file */
#define TUNNELS_SAVE_RETRY	10	/* s: a failed save is tried again */
#define TUNNELS_LOG_INTERVAL	10	/* s: one line at most for failures */

/*
 * The database (dbif.c): accounts, organisations, teams, tunnels and the
 * event log in one SQLite file of the state directory (db.c), or in
 * PostgreSQL (db_pg.c, --db), opened by the parent and by the command
 * line, never by a worker.
 */
#define DB_FILE			"sc-server.db"
#define DB_BUSY_MS		5000	/* a write waits so long for another */
#define DB_POLL_SEC		1	/* changes of the CLI: looked for so often */
/* PostgreSQL (--db postgresql://...): */
#define DB_PG_CONNECT_SEC	3	/* a connection is waited for so long */
#define DB_PG_QUERY_MS		5000	/* a statement is waited for so long */
#define DB_PG_RETRY_MIN_MS	250	/* reconnecting: first wait, doubled */
#define DB_PG_RETRY_MAX_MS	8000	/* ... up to so long */
#define DB_DOWN			"the database is down"	/* its failures */
#define DB_PG_CHANNEL_TUNNELS	"sc_tunnels"	/* NOTIFY: a tunnel's row, its id */
#define DB_CHANGED_ACCOUNTS	0x1	/* db_changed(): read them again */
#define DB_CHANGED_ALL		0x2	/* ... a new connection: everything */
#define MIGRATED_SUFFIX		".migrated"	/* imported files, kept */
#define EVENTS_KEEP		100000	/* events kept, the oldest go */
#define EVENTS_ANSWER_MAX	200	/* events in one REST answer: the newest */
#define EVENTS_ANSWER_BYTES	(EVENTS_ANSWER_MAX * 2048)	/* its JSON */
#define EVENTS_CLI_MAX		10000	/* ... printed by "sc-server events" */
#define EVENT_SUBJECT_MAX	128	/* bytes */
#define EVENT_DETAIL_MAX	256	/* bytes */
#define EVENTS_SIGNIN_RATE	10	/* failed sign-ins logged a second */
/* the kinds of events */
#define EVENT_TUNNEL_CREATED	1
#define EVENT_TUNNEL_DELETED	2
#define EVENT_TUNNEL_TERMINATED	3
#define EVENT_SIGNIN_FAILED	4
#define EVENT_SHARE_REFUSED	5
#define EVENT_KIND_MAX		5

/*
 * A cluster (--node, --db postgresql://...): nodes on one database,
 * each with its row in the table nodes, kept fresh by its heartbeat.
 */
#define NODE_NAME_MAX		64	/* bytes of --node, NUL included */
#define NODE_NAME_CHARS		"ABCDEFGHIJKLMNOPQRSTUVWXYZ" \
				"abcdefghijklmnopqrstuvwxyz0123456789._-"
#define NODE_URL_MAX		(ADDRSTR_MAX + 16)	/* its REST URL */
#define NODE_HEARTBEAT_SEC	2	/* a node's row written so often */
#define NODE_DEAD_SEC		10	/* a heartbeat older: the node is down */
#define NODES_MAX		256	/* nodes the REST worker places on */
#define PLACE_PENDING_SEC	10	/* a tunnel placed counts on its node
					   so long at most, until the node's
					   figures show it */
#define PLACE_PENDING_MAX	1024	/* ... so many, the oldest forgotten */
/*
 * Node links (nodelink.c, nodemap.c; kgp.7 "Node links"): a browser at
 * one node's entry for a tunnel whose client session is on another goes
 * there over a KGP link between the two nodes.
 */
#define NODE_SECRET_LEN		64	/* hex digits of cluster 'node-secret' */
#define NODE_CACHE_MS		1000	/* the parent keeps a tunnel's node */
#define NODE_CACHE_MAX		4096	/* ... for so many tunnels */
#define NODE_PEERS_READ_MS	500	/* a node link to a node not in the
					   list: the list read again, at most
					   so often */
#define NODE_ASK_SEC		5	/* the KGP worker waits for the answer */
#define NODELINK_MAX		64	/* links to other nodes at once */
#define NODELINK_CONNECT_SEC	5	/* TCP, TLS and HELLO of a link */
#define NODELINK_IDLE_SEC	60	/* a link without streams closes */
#define NODELINK_RETRY_MS	1000	/* after a failed link, 502 so long */
#define NODELINK_QUEUE_MAX	256	/* streams waiting for a link to be up */
#define NODE_UP			0	/* nodes.state */
#define NODE_DRAINING		1
#define NODE_DOWN		2

#define TUNNEL_ID_LEN		32	/* hex characters */
#define TUNNEL_SECRET_LEN	64	/* hex characters */
#define TUNNEL_MAX_PER_USER	256	/* tunnels not yet terminated */
#define TUNNEL_KEEP_TERMINATED	1024	/* terminated tunnels kept readable */
#define TUNNEL_TERMINATED_AGE	(24 * 3600)	/* s: and only this long */
#define TUNNEL_ARRAY_MAX	4096	/* strings in one domain list */
#define TUNNEL_STRING_MAX	1024	/* bytes in one such string */
#define TUNNEL_VM_VERSION_MAX	64	/* bytes of "vm_version" */
#define TUNNEL_META_DEPTH	16	/* levels of "metadata", itself the 1st */
#define TUNNEL_META_MAX		(16 * 1024)	/* bytes of it, compact JSON */
#define TUNNEL_SETTINGS_MAX	(64 * 1024)	/* bytes of all the settings */
/* the other members of a tunnel's line in the registry take less */
#define TUNNEL_RECORD_FIXED	1024
#define TUNNEL_LINE_MAX		(TUNNEL_SETTINGS_MAX + TUNNEL_RECORD_FIXED)
/* the lines of one account's tunnels that are not terminated, in all */
#define ACCOUNT_TUNNELS_MAX	(1024 * 1024)
/* those of every account: the registry stays under TUNNELS_FILE_MAX */
#define TUNNELS_LIVE_MAX	(TUNNELS_FILE_MAX - \
				    (TUNNELS_KEEP_TERMINATED + 1) * TUNNEL_LINE_MAX)

/*
 * TLS resigning: the CA (x509.c, cert.c), the process that alone keeps
 * its key and signs (ca.c), and the KGP worker's side, which makes each
 * leaf's key, asks the CA over imsg and keeps what it got (mint.c).
 */
#define CA_KEY_FILE		"ca.key"	/* in the state directory */
#define CA_CRT_FILE		"ca.crt"
#define CA_DAYS			3650	/* a CA made here: ten years */
#define CA_LEAF_DAYS		30	/* a leaf, never past its CA's end */
#define CA_LEAF_BEFORE_SEC	3600	/* ... valid from an hour ago */
#define CERT_NAME_MAX		253	/* a host name, as DNS bounds it */
#define MINT_CACHE_MAX		1024	/* leaves kept, the least used out */
#define MINT_RATE		256	/* new leaves a second, on average */
#define MINT_BURST		256	/* ... and at once */
#define MINT_PENDING_MAX	512	/* names the CA is asked for at once */
#define MINT_TIMEOUT_MS		2000	/* the CA answers within this */
#define MINT_RENEW_SEC		(24 * 3600)	/* a leaf this near its end */
#define MINT_KEY_POOL		8	/* key pairs made ahead, one a turn */
						/* is made again */

/*
 * TLS resigning at the entry proxies (resign.c, sni.c): a CONNECT that
 * the rules do not pass through is answered 200, its ClientHello read
 * (SNI_HELLO_MAX), a leaf minted for its name, and the requests inside
 * go down the tunnel one after the other on one stream.
 */
#define SNI_HELLO_MAX		(16 * 1024)	/* a ClientHello's bytes */
#define SNI_CONTENT_HANDSHAKE	22	/* a TLS record's first byte */
#define RESIGN_HANDSHAKE_SEC	15	/* ClientHello, leaf and handshake */
#define RESIGN_IDLE_SEC		300	/* no byte either way: closed */
#define RESIGN_QUIET_SEC	2	/* ... its TLS buffers given back */
#define RESIGN_BUF_MAX		(256 * 1024)	/* bytes waiting one way */
#define RESIGN_MAX_TUNNEL	1024	/* open at once, per tunnel */

#define HOST_MAX		256
#define ADDRSTR_MAX		(HOST_MAX + 16)
#define CERT_HASH_LEN		(7 + 64)	/* "SHA256:" + hex */

#define ENTRY_ACL_MAX		64	/* networks in -A lists */

/*
 * The gateway (-G, gateway.c): one entry port for every tunnel, picked
 * by the proxy credentials (user ACCOUNT, ACCOUNT+NAME or
 * ACCOUNT+OWNER/NAME, password ACCOUNT's access key).  The KGP worker
 * asks the REST worker which tunnels they may use, and keeps the
 * answers for valid credentials a few seconds; wrong credentials are
 * never kept, and only so many questions are out at once.
 */
#define GATEWAY_USER_MAX	400	/* bytes of a proxy user name */
#define GATEWAY_LABEL_MAX	160	/* the tunnel as answers name it */
#define GATEWAY_POOL_MAX	TUNNEL_MAX_PER_USER	/* members of a pool */
#define GATEWAY_CACHE_SEC	5	/* an answer is kept so long */
#define GATEWAY_CACHE_MAX	1024	/* answers kept, the oldest out */
#define GATEWAY_ASK_MAX		256	/* questions out at once */
#define GATEWAY_ASK_SEC		10	/* the REST worker answers within */
/* a pool member on another node that failed a browser: passed over */
#define GATEWAY_TRIES		3	/* members tried for one connection */
#define GATEWAY_PASS_SEC	(NODE_DEAD_SEC + NODE_HEARTBEAT_SEC) /* so long */

/*
 * The Tunnels web page (web.c, webpage.c, weblinks.c), served by the
 * REST worker on the REST port.  Sessions live in the REST worker's
 * memory only: a new REST worker signs everyone out.
 */
#define WEB_SESSIONS_MAX	1024	/* signed in at once, in all */
#define WEB_SESSIONS_ACCOUNT	16	/* ... per account: the oldest goes */
#define WEB_SESSION_IDLE_SEC	(30 * 60)	/* unused so long: ended */
#define WEB_SESSION_MAX_SEC	(12 * 3600)	/* ended this long after sign-in */
#define WEB_TOKEN_BYTES		32	/* session and CSRF tokens: 256 bits */
#define WEB_POLL_MS		2000	/* the pages ask for fresh figures */
#define WEB_EVENTS_MAX		16	/* recent events kept per tunnel */
#define WEB_EVENT_LEN		160	/* bytes of one, NUL included */
#define WEB_ERROR_LEN		128	/* a tunnel's last error */
#define WEB_LINKS_MAX		16	/* KGP sessions shown per tunnel */
#define WEB_LINKS_PUSH_SEC	1	/* the KGP worker's figures, so often */

/*
 * Direct connections (direct.c): what a tunnel's traffic rules send
 * from the server straight to the origin.
 */
#define DIRECT_ALLOW_MAX	64	/* networks in -D lists */
#define DIRECT_DNS_SEC		5	/* a name resolved, or 502 */
#define DIRECT_CONNECT_SEC	10	/* each address connected, or next */
#define DIRECT_IDLE_SEC		300	/* no byte either way: closed */
#define DIRECT_BUF_MAX		(256 * 1024)	/* bytes waiting one way */
#define DIRECT_MAX_TUNNEL	256	/* open at once, per tunnel */
#define ENTRY_BACKLOG		1024	/* browsers open many connections at once */
#define REST_BACKLOG		128
#define KGP_BACKLOG		128
/*
 * --kgp-workers: KGP worker processes, each with the tunnels placed on
 * it (parent.c); request ids of worker i carry i in their top byte
 * (worker_reqid()), so that an answer relayed by the parent finds it.
 */
#define KGP_WORKERS_MAX		16
#define KGP_REQID_SHIFT		56
/* failed logins, per (realm, address, account): guard.c */
#define THROTTLE_FREE		5	/* the failure that starts the waits */
#define THROTTLE_BASE_SEC	1	/* its wait; each next one doubles */
#define THROTTLE_MAX_SEC	60	/* ... up to this */
#define THROTTLE_FORGET_SEC	600	/* a pair without failures so long */
#define THROTTLE_SLOTS		4096	/* pairs remembered */
#define THROTTLE_REST		0	/* realms */
#define THROTTLE_ENTRY		1

/* a node's row (the table nodes) */
struct node_info {
	char			 name[NODE_NAME_MAX];
	char			 host[HOST_MAX];	/* clients, nodes reach it */
	int			 kgp_port;
	int			 entry_port;
	char			 rest_url[NODE_URL_MAX];
	char			 cert_sha256[CERT_HASH_LEN + 1]; /* KGP cert */
	int			 state;		/* NODE_* as written */
	int64_t			 tunnels;	/* sessions held */
	int64_t			 streams;	/* streams open */
	int64_t			 started;	/* unix seconds */
	int64_t			 heartbeat;	/* unix seconds */
	int			 alive;		/* not down, heartbeat fresh */
};

/* one network of an access list */
struct netmask {
	int			 af;
	uint8_t			 addr[16];
	int			 bits;
};

/* a request at the entry proxy, as the traffic rules see it (route.c) */
struct route {
	struct rules_verdict	 v;
	int			 connect;	/* CONNECT host:port */
	int			 absolute;	/* an absolute-form URL */
	char			 host[HOST_MAX];	/* "": none */
	uint16_t		 port;
	const char		*path;		/* in the head: after the host */
};

struct event;
struct event_base;
struct tls;
struct kgp_conn;
struct json_t;
struct imsg;
struct imsgev;
/* the messages between the processes (imsg_server.h) */
struct srv_tstate;
struct srv_tunnel_add;
struct srv_tunnel_rules;
struct srv_tunnel_ref;
struct srv_auth_req;
struct srv_auth_rep;
struct srv_gate_req;
struct srv_gate_rep;
struct srv_node_secret;
struct srv_node_rep;
struct srv_ca_rep;
struct x509_st;
struct evp_pkey_st;
struct srv_kgp_stats;
struct srv_tlinks;
struct httpd_req;

/* an HTTP status code and how many answers had it (rest_reply.c) */
struct status_count {
	int			 code;
	uint64_t		 n;
};

struct account {
	TAILQ_ENTRY(account)	 entry;
	char			 name[ACCOUNT_NAME_MAX + 1];
	char			 org[ORG_NAME_MAX + 1];	/* "": none */
	char			 team[TEAM_NAME_MAX + 1];	/* "": none */
	int			 role;		/* ROLE_* */
	uint8_t			 salt[ACCOUNT_SALT_LEN];
	uint8_t			 hash[32];
};
TAILQ_HEAD(accountlist, account);

enum tunnel_status {
	TUNNEL_RUNNING,
	TUNNEL_HALTING,
	TUNNEL_TERMINATED
};

struct kgp_client;

struct entry_proxy;
struct rules;

struct tunnel {
	TAILQ_ENTRY(tunnel)	 entry;
	char			 id[TUNNEL_ID_LEN + 1];
	char			 secret[TUNNEL_SECRET_LEN + 1];
	char			 owner[ACCOUNT_NAME_MAX + 1];
	char			*identifier;
	char			*vm_version;
	struct json_t		*rule_lists;	/* field: [rules], NULL: none */
	struct rules		*rules;		/* KGP: compiled, NULL: none */
	struct json_t		*metadata;
	int			 shared_tunnel;
	int			 use_kgp;
	int			 use_caching_proxy;
	int			 no_proxy_caching;
	int			 tunnel_pool;
	int			 user_shutdown;
	enum tunnel_status	 status;
	size_t			 size;		/* its line in the registry, at most */
	time_t			 creation_time;
	time_t			 launch_time;
	time_t			 last_connected;	/* 0: never */
	time_t			 shutdown_time;		/* 0: not yet */
	TAILQ_HEAD(, kgp_client) links;		/* its KGP sessions */
	struct event		*grace;
	struct entry_proxy	*proxy;		/* open while running */
	char			 entry_addr[ADDRSTR_MAX];	/* "ip:port" */
	int			 entry_port;	/* last bound, 0: none yet */
	int			 kgp_port;	/* REST: its KGP worker's, 0: -K */
	/* the REST worker: what the KGP worker reports (IMSG_SRV_TUNNEL_STATE) */
	int			 nlinks;
	int			 connected;
	int			 waiting;	/* an answer of the KGP worker */
	/*
	 * The REST worker: its line in the registry is as last sent, so a
	 * save need not make it again (state.c); 0 (new, or changed since:
	 * state_dirty()): it is made and compared.
	 */
	int			 state_clean;
	int			 add_mode;	/* KGP: SRV_ADD_* until bound */
	uint64_t		 gate_picked;	/* KGP: the gateway's last pick */
	int64_t		 gate_failed_ms;	/* KGP: its node failed a pick */
	/* tunnel_start(): told once the entry proxy is open (or not) */
	void			(*start_cb)(struct tunnel *, int, const char *,
				    void *);
	void			*start_arg;
	/* the web page: live figures and events (REST), what was sent (KGP) */
	struct web_tunnel	*web;
	uint64_t		 gone_in;	/* KGP: bytes of links gone */
	uint64_t		 gone_out;
	uint64_t		 links_sum;	/* KGP: the figures last sent */
};
TAILQ_HEAD(tunnellist, tunnel);

/* one accepted KGP connection, from accept to its down callback */
struct kgp_client {
	TAILQ_ENTRY(kgp_client)	 entry;		/* clients, or waiting */
	TAILQ_ENTRY(kgp_client)	 tentry;	/* in its tunnel's links */
	struct kgp_conn		*conn;		/* from its first byte */
	int			 fd;		/* until then */
	struct event		*first;		/* ... waiting for it */
	struct admit_ent	 adm;		/* until its HELLO is taken */
	struct sockaddr_storage	 ss;
	uint64_t		 since_ms;	/* accepted (monotonic) */
	unsigned int		 handshake_ms;	/* its deadline */
	struct tunnel		*tunnel;	/* set while bound */
	char			 tunnel_id[TUNNEL_ID_LEN + 1];	/* from HELLO */
	char			 addr[ADDRSTR_MAX];
	uint16_t		 index;		/* the client's link index */
	char			 node[NODE_NAME_MAX];	/* a node link's */
	int			 hold;		/* KGP_HOLD_*: its HELLO */
	TAILQ_ENTRY(kgp_client)	 hentry;	/* ... KGP_HOLD_WAIT */
	struct event		*hold_ev;	/* ... waits until */
	char			 hold_id[TUNNEL_ID_LEN + 1];
};
TAILQ_HEAD(kgp_clientlist, kgp_client);

/* a HELLO for a tunnel this node does not know yet (kgp_server.c) */
#define KGP_HOLD_NONE		0	/* not held */
#define KGP_HOLD_WAIT		1	/* the parent reads the tunnel */
#define KGP_HOLD_READ		2	/* ... read, or KGP_HOLD_MS is up */
#define KGP_HOLD_GONE		3	/* ... no such tunnel */

/* what became of the registry's saves (state.c): for /metrics */
struct state_stats {
	uint64_t		 saves;		/* written */
	uint64_t		 failures;	/* not written, or not sent */
	int			 error;		/* errno of the last, 0: it was written */
};

/* a blob arriving over imsg (privsep.c) */
struct srv_blob {
	uint32_t		 kind;		/* SRV_BLOB_NONE: none */
	char			*buf;		/* len bytes and a NUL */
	size_t			 len;
	size_t			 off;
	uint64_t		 seq;
};

struct server_env {
	struct event_base	*base;
	int			 worker;	/* SRV_ROLE_*, 0: the parent */
	int			 resync;	/* REST: the KGP worker has tunnels */
	int			 importing;	/* REST: tunnels.json, once */
	int			 cluster;	/* nodes share the database */
	const char		*statedir;
	int			 debug;
	int			 verbose;
	int			 logfile;	/* -l: not syslog */
	int			 metrics;	/* -m */
	const char		*metrics_listen;	/* -m, as given */
	char			 metrics_addr[ADDRSTR_MAX];	/* bound */
	int			 grace;
	int			 max_missed;	/* -M: pings unanswered */
	char			 kgp_congestion[KGP_CC_NAMELEN]; /* "default" */
	int			 shutting_down;
	size_t			 nofile;	/* RLIMIT_NOFILE, 0: unknown */

	char			 rest_addr[ADDRSTR_MAX];	/* bound */
	char			 kgp_addr[ADDRSTR_MAX];		/* bound */
	char			 entry_host[HOST_MAX];		/* -E */
	char			 host[HOST_MAX];		/* -H */
	int			 kgp_port;	/* a KGP worker: its own */
	int			 kgp_workers;	/* --kgp-workers, 1.. */
	int			 kgp_index;	/* a KGP worker: 0.. */
	int			 kgp_next;	/* REST: IMSG_SRV_KGP_NEXT's, 0 */
	char			 node[NODE_NAME_MAX];		/* --node */

	char			 cert_hash[CERT_HASH_LEN + 1];
	struct tls		*tls;

	const char		*ca_cert;	/* -c: the operator's CA */
	const char		*ca_key;	/* -x */
	char			 ca_cert_path[PATH_MAX];	/* the parent: used */
	char			 ca_key_path[PATH_MAX];
	char			*ca_pem;	/* its certificate */
	size_t			 ca_pem_len;

	const char		*rest_cert;	/* -C: REST over TLS */
	const char		*rest_key;	/* -k */
	char			*rest_cert_pem;	/* the parent: their contents */
	size_t			 rest_cert_len;
	char			*rest_key_pem;
	size_t			 rest_key_len;
	char			*kgp_cert_pem;	/* the parent: KGP key pair */
	size_t			 kgp_cert_len;
	char			*kgp_key_pem;
	size_t			 kgp_key_len;
	int			 rest_tls;	/* REST is HTTPS */
	struct netmask		 entry_acl[ENTRY_ACL_MAX];	/* -A */
	size_t			 entry_nacl;
	int			 entry_auth;	/* -P */
	const char		*gateway_listen;	/* -G, NULL: none */
	char			 gateway_addr[ADDRSTR_MAX];	/* bound */
	struct netmask		 direct_allow[DIRECT_ALLOW_MAX];	/* -D */
	size_t			 direct_nallow;

	struct accountlist	 accounts;

	char			 tunnels_path[1024];

	struct tunnellist	 tunnels;
	struct kgp_clientlist	 clients;
	struct listener		*kgp_listener;
	struct event		*exit_timer;
};

extern struct server_env	*env;

/* parent.c */
int		 parent_main(const char *, const char *, const char *);

/* worker.c */
int		 worker_main(const char *);
void		 worker_shutdown(void);

/* hub.c: what the workers' parts send up, and the answers they wait for */
void		 hub_init(struct imsgev *, void (*)(void));
void		 worker_send(uint32_t, const void *, size_t);
int		 worker_send_fd(uint32_t, int, const void *, size_t);
int		 worker_entry_bind(const char *, int, void (*)(int, const char *,
		    void *), void *);
int		 worker_entry_fd(struct imsgev *, struct imsg *);
int		 worker_binds_pending(void);
uint64_t	 worker_save(const char *, size_t);
void		 worker_after_save(uint64_t, void (*)(void *, int), void *);
int		 worker_saved(struct imsgev *, struct imsg *);
uint64_t	 worker_saves_sent(void);
uint64_t	 worker_saves_answered(void);
void		 worker_state_aside(void);
void		 worker_restore_done(void);
void		 worker_event(int, const char *, const char *, const char *,
		    const char *);

/* registry.c: the REST worker's side of the tunnels */
int		 reg_admit(struct tunnel *, char *, size_t);
int		 reg_start(struct tunnel *, void (*)(struct tunnel *, int,
		    const char *, void *), void *);
int		 reg_restore(struct tunnel *, char *, size_t);
void		 reg_delete(struct tunnel *);
void		 reg_deleted(struct tunnel *, const char *);
void		 reg_state(const struct srv_tstate *);
void		 reg_kgp_down(int);
void		 reg_kgp_up(void);
void		 reg_send_all(void);
void		 reg_remote(struct tunnel *);
void		 reg_gone(const char *);
int		 reg_waiting(void);
void		 reg_auth(const struct srv_auth_req *, struct srv_auth_rep *);
int		 reg_may_use(const char *, const struct tunnel *, int *);
int		 reg_may_delete(const char *, const struct tunnel *);
int		 reg_may_share(const char *, char *, size_t);
size_t		 reg_gate(const struct srv_gate_req *, struct srv_gate_rep *);
struct json_t	*reg_pool_json(const struct tunnel *);
size_t		 reg_pool_size(const struct tunnel *);

/* privsep.c */
struct imsgev_peer;
void		 srv_worker_open(struct imsgev *, const struct imsgev_peer *,
		    void (*)(int, short, void *));
int		 srv_blob_send(struct imsgev *, uint32_t, const void *, size_t,
		    uint64_t);
int		 srv_blob_recv(struct srv_blob *, struct imsg *);
void		 srv_blob_clear(struct srv_blob *);
void		 worker_reqid_init(int);
uint64_t	 worker_reqid(uint64_t *);

/* util.c */
#ifndef HAVE_TIMINGSAFE_BCMP
#endif
int		 parse_hostport(const char *, char *, size_t, char *, size_t);
int		 rest_base64_decode(const char *, uint8_t *, size_t, size_t *);
int		 rest_basic_auth(const char *, char *, size_t, char *, size_t);
int		 rest_tunnel_settings(struct json_t *, struct tunnel *, char *,
		    size_t);
int		 write_file_atomic(const char *, const void *, size_t, mode_t);
int		 sockaddr_string(const struct sockaddr *, socklen_t, char *,
		    size_t, int *);
int		 tunnel_id_valid(const char *);
int		 node_name_valid(const char *);
int		 account_name_valid(const char *);
int		 node_name_valid(const char *);
int		 name_valid(const char *, size_t);
int		 parse_since(const char *, time_t, time_t *);
int		 listen_on(const char *, const char *, int, char *, size_t);
void		 server_nofile(void);
const char	*role_name(int);
int		 role_parse(const char *);
int		 cert_name_valid(const char *);
int		 cert_name_canon(const char *, char *, size_t);

/* guard.c */
int		 netmask_parse(const char *, struct netmask *);
int		 netmask_match(const struct netmask *, const struct sockaddr *);
int		 host_is_loopback(const char *);
int		 netmask_list_add(const char *, struct netmask *, size_t *,
		    size_t, char *, size_t);
int		 entry_acl_add(const char *, char *, size_t);
int		 entry_acl_allowed(const struct sockaddr *);
int		 throttle_check(int, const char *, const char *, int *);
void		 throttle_fail(int, const char *, const char *);
void		 throttle_ok(int, const char *, const char *);
uint64_t	 throttle_failures(int);
size_t		 server_fd_share(size_t, int);

/* login.c */
int		 login_check(struct httpd_req *, const char *, const char *,
		    const char *, int *);

/* cert.c */
int		 cert_load_or_create(const char *, const char *, char **,
		    size_t *, char **, size_t *);
int		 cert_hash_pem(const char *, size_t, char *, size_t);
int		 cert_tls_setup(const char *, size_t, const char *, size_t);
int		 file_read_small(const char *, size_t, char **, size_t *);
int		 ca_files(const char *, const char *, const char *, char *,
		    size_t, char *, size_t, char **, size_t *);
int		 ca_command(const char *, const char *, const char *, int,
		    char **);

/* x509.c */
#define X509_P256_POINT_LEN	65	/* 04, x, y */
#define X509_P256_SPKI_LEN	(26 + X509_P256_POINT_LEN)
struct evp_pkey_st *x509_genkey(void);
int		 x509_serial(struct x509_st *);
int		 x509_addext(struct x509_st *, struct x509_st *, int,
		    const char *);
int		 x509_pem(struct x509_st *, char **, size_t *);
int		 x509_key_pem(struct evp_pkey_st *, char **, size_t *);
struct x509_st	*x509_read(const char *, size_t);
struct evp_pkey_st *x509_read_key(const char *, size_t);
int		 x509_fingerprint(struct x509_st *, char *, size_t);
int		 x509_self_sign(struct x509_st *, struct evp_pkey_st *, char **,
		    size_t *, char **, size_t *);
int		 ca_generate(const char *, char **, size_t *, char **,
		    size_t *);
int		 ca_check(struct x509_st *, struct evp_pkey_st *, char *,
		    size_t);
struct x509_st	*ca_leaf(struct x509_st *, struct evp_pkey_st *,
		    const char *, const uint8_t *, time_t, const char **);
int		 x509_p256_spki(struct evp_pkey_st *, uint8_t *, size_t);
const uint8_t	*x509_p256_point(const uint8_t *, size_t);

/* ca.c: the CA process */
int		 ca_main(void);

/* mint.c: the KGP worker's leaves */
/* what the entry proxy's TLS takes (resign_tls.c): the CA ends the chain */
struct mint_leaf {
	time_t			 notafter;
	struct x509_st		*x509;
	struct evp_pkey_st	*pkey;
	struct x509_st		*ca;
};
struct mint_wait;
int		 mint_init(struct event_base *, const char *, size_t,
		    int (*)(const void *, size_t));
struct mint_wait *mint_get(const char *, void (*)(const struct mint_leaf *,
		    const char *, void *), void *);
void		 mint_cancel(struct mint_wait *);
void		 mint_answer(const struct srv_ca_rep *, size_t);
void		 mint_ca_state(int);
void		 mint_free(void);
void		 mint_stats(struct srv_kgp_stats *);

/* accounts.c */
int		 accounts_load(const char *, struct accountlist *);
void		 accounts_clear(struct accountlist *);
struct account	*account_find(struct accountlist *, const char *);
int		 account_check(struct accountlist *, const char *,
		    const char *);
void		 account_hash(const uint8_t *, const char *, uint8_t *);
void		 account_new_key(char *, size_t);

/* cli.c: sc-server user, org, team, events */
int		 db_command(const char *, int, char **);

/* dbif.c: the database (the parent and the command line only) */
void		 db_use(const char *);
int		 db_open(const char *);
void		 db_close(void);
const char	*db_file(void);
int		 db_changed(void (*)(void *, const char *), void *);
int		 db_shared(void);
int		 db_socket(void);
int		 db_accounts(struct accountlist *);
char		*db_tunnels_text(size_t *);
int		 db_tunnels_write(const char *, size_t, int,
		    void (*)(void *, const char *), void *);
int		 db_tunnel_lines(const char *const *, size_t, void (*)(void *,
		    const char *, const char *, size_t), void *);
int		 db_event_add(time_t, int, const char *, const char *,
		    const char *, const char *);
char		*db_events_json(const char *, time_t, int, size_t *);
int		 db_org_add(const char *);
int		 db_team_add(const char *, const char *);
int		 db_account_add(const struct account *);
int		 db_account_set(const struct account *, int);
int		 db_account_del(const char *);
int		 db_list(const char *, const char *, void (*)(void *, int,
		    const char **), void *);
int		 db_tunnel_node(const char *, char *, size_t);
int		 db_node_parse(int, const char **, struct node_info *);
int		 db_node_beat(const struct node_info *, int);
int		 db_nodes_sweep(int64_t);
int		 db_nodes(void (*)(void *, int, const char **), void *);
int		 db_tunnel_node_set(const char *, int);
int		 db_node_drain(const char *);
int		 db_cluster_secret(char *, size_t);

/* dbutil.c: what the database's backends and interface share */
int		 node_state_parse(const char *);
const char	*node_state_name(int);
const char	*db_error(void);
const char	*event_name(int);
void		 db_url_mask(char *);

/* place.c: the REST worker's placement of tunnels on nodes */
void		 place_nodes(const void *, size_t);
void		 place_pick(const struct tunnel *, int, const char **, int *,
		    const char **);
void		 place_metrics(FILE *);
void		 place_nodes_at(const void *, size_t, int64_t);
void		 place_pick_at(const struct tunnel *, int, const char **,
		    int *, const char **, int64_t);

/* node.c: the parent's side of a cluster */
struct srv_tstate;
struct srv_kgp_stats;
void		 node_start(struct imsgev *(*)(void), void (*)(void));
void		 node_tunnel_state(const struct srv_tstate *);
int		 node_peer(const char *, struct node_info *, char *, size_t);
void		 node_kgp_stats(const struct srv_kgp_stats *);
void		 node_kgp_down(void);
void		 node_stop(void);

/* dbmsg.c: the parent's side of the database */
void		 dbmsg_init(void);
int		 dbmsg_reload(void);
int		 dbmsg_poll(struct imsgev *);
void		 dbmsg_ask(struct imsgev *, const char *,
		    void (*)(const char *));
void		 dbmsg_watch(void (*)(void));
void		 dbmsg_send_accounts(struct imsgev *);
const char	*dbmsg_tunnels_source(void);
char		*dbmsg_state(size_t *);
void		 dbmsg_send_state(struct imsgev *, char *, size_t);
void		 dbmsg_aside(void);
int		 dbmsg_save(struct imsgev *, const char *, size_t);
int		 dbmsg_event(struct imsgev *, struct imsg *);
int		 dbmsg_events_req(struct imsgev *, struct imsg *);
int		 dbmsg_account_req(struct imsgev *, struct imsg *);

/* tunnel.c: the tunnels, and the KGP worker's side of them */
void		 tunnel_rules_add(const struct srv_tunnel_rules *, const char *,
		    size_t);
void		 tunnel_add(const struct srv_tunnel_add *);
void		 tunnel_del(const char *, uint32_t);
void		 tunnel_report(struct tunnel *, const char *);
void		 tunnel_prune(void);
struct tunnel	*tunnel_new(const char *);
void		 tunnel_free(struct tunnel *);
struct tunnel	*tunnel_find(const char *);
struct tunnel	*tunnel_find_owned(const char *, const char *);
void		 tunnel_delete(struct tunnel *);
void		 tunnel_terminate(struct tunnel *, const char *);
void		 tunnel_bind(struct tunnel *, struct kgp_client *);
void		 tunnel_unbind(struct tunnel *, struct kgp_client *,
		    int, const char *);
struct kgp_client *tunnel_session(struct tunnel *, uint64_t);
int		 tunnel_connected(struct tunnel *);
void		 tunnel_shutdown_all(void);
struct json_t	*tunnel_json(struct tunnel *, int);
const char	*tunnel_status_name(enum tunnel_status);
void		 tunnel_random_hex(char *, size_t);

/* rest.c */
struct ssl_ctx_st *rest_tls_ctx(const char *, size_t, const char *, size_t,
		    const char *);
int		 rest_init(int, const char *, size_t, const char *, size_t);
int		 rest_ca(const char *, size_t);
void		 rest_enable(void);

/* rest_reply.c */
size_t		 rest_codes(const struct status_count **);

/* admin.c: accounts, teams and events, asked of the parent */
struct srv_account_req;
struct srv_teams_rep;
struct web_session;
struct admin_answer {
	int				 op;	/* SRV_ACCOUNT_*, SRV_TEAM_* */
	int				 status;	/* HTTP */
	const char			*message;	/* not 200: why */
	const char			*method;	/* of the request */
	const char			*path;		/* ... sanitized */
	const struct web_session	*ws;	/* the web page's, or NULL */
	const char			*admin;	/* who asked */
	const char			*name;	/* the account, or the team */
	const char			*team;
	int				 role;
	const char			*key;	/* a new account's */
	const struct srv_teams_rep	*teams;	/* SRV_TEAM_LIST */
	const char			*events;	/* JSON array text */
	size_t				 events_len;
};
typedef void	(*admin_done_t)(struct httpd_req *,
		    const struct admin_answer *);
struct account	*admin_of(const char *);
int		 admin_is(const char *);
size_t		 admin_team_size(const char *, const char *);
int		 admin_req(const char *, int, const char *, const char *,
		    const char *, struct srv_account_req *, char *, size_t);
int		 admin_send(struct httpd_req *, const char *, const char *,
		    const struct web_session *, struct srv_account_req *,
		    admin_done_t);
int		 events_send(struct httpd_req *, const char *, const char *,
		    const struct web_session *, const char *, time_t,
		    admin_done_t);
int		 admin_account_answer(struct imsgev *, struct imsg *);
int		 admin_teams_answer(struct imsgev *, struct imsg *);
void		 admin_events_answer(uint64_t, const char *, size_t);

/* web.c: the Tunnels web page, in the REST worker */
int		 web_path(const char *);
void		 web_request(struct httpd_req *, const char *);

/* weblinks.c: each tunnel's live figures and recent events */
void		 weblinks_push(void);
void		 weblinks_apply(const struct srv_tlinks *);
void		 weblinks_state(struct tunnel *, const struct srv_tstate *,
		    int, int);
void		 weblinks_event(struct tunnel *, const char *, ...)
		    __attribute__((__format__ (printf, 2, 3)));

/* metrics.c: -m, in the REST worker */
int		 metrics_init(int);
void		 metrics_ready(int);
void		 metrics_kgp(const struct srv_kgp_stats *);

/* nodelink.c: node links, the KGP worker's side */
int		 nodelink_init(void);
void		 nodelink_secret(const struct srv_node_secret *);
int		 nodelink_enabled(void);
void		 nodelink_ask(const char *, void (*)(void *,
		    const struct srv_node_rep *), void *, void **);
void		 nodelink_cancel(void *);
void		 nodelink_reply(const struct srv_node_rep *);
int		 nodelink_forward(const struct srv_node_rep *, int,
		    const char *, const void *, size_t);
void		 nodelink_shutdown(void);
int		 nodelink_check(const char *, const char *, const char *,
		    size_t);

/* kgp_server.c */
int		 kgp_server_init(int);
void		 kgp_server_enable(void);
int		 kgp_server_shed(void);
void		 kgp_server_shutdown(void);
void		 kgp_server_close_all(void);
void		 kgp_server_shutdown_check(void);
void		 kgp_server_stats(struct srv_kgp_stats *);
void		 kgp_server_held(const char *, int);
void		 kgp_server_asked(const char *);

/* state.c */
void		 state_load(char *, size_t, int (*)(struct tunnel *, char *,
		    size_t));
uint64_t	 state_save(void);
void		 state_save_soon(void);
void		 state_dirty(struct tunnel *);
void		 state_line_forget(const char *);
void		 state_sync(char *, size_t, void (*)(struct tunnel *),
		    void (*)(const char *));
const struct state_stats *state_stats(void);
char		*state_read_file(size_t *);
void		 state_set_aside(void);

/* route.c */
struct http_head;
void		 route_decide(struct rules *, const struct http_head *,
		    struct route *);
int		 route_decide_tls(struct rules *, const struct http_head *,
		    const char *, uint16_t, int, struct route *, char *,
		    size_t);
void		 route_deny_text(const struct rules_verdict *, char *, size_t);
#define ROUTE_HEAD_CLOSE	0	/* route_head(): "Connection: close" */
#define ROUTE_HEAD_UPGRADE	1	/* ... but an upgrade kept */
#define ROUTE_HEAD_KEEP		2	/* ... and the connection kept */
char		*route_head(const struct http_head *, const char *, int,
		    size_t *);
int		 route_upgrade(const struct http_head *);
struct kgp_client *route_link(struct tunnel *);

/* answer.c */
void		 answer_counts(uint64_t [ENTRY_CODES_MAX]);
int		 answer_format(char *, size_t, int, const char *, const char *,
		    int);
void		 answer_refuse(int, const char *, int, const char *,
		    const char *);
void		 answer_linger(int);
void		 answer_refuse_local(struct bufferevent *, int, const char *,
		    const char *);
void		 answer_linger_local(struct bufferevent *);
void		 answer_refuse_end(int, struct bufferevent *, const char *, int,
		    const char *, const char *);

/* direct.c */
void		 direct_init(void);
void		 direct_start(struct tunnel *, int, struct bufferevent *,
		    const char *, const struct route *, const void *, size_t);
void		 direct_close_tunnel(const char *);

/* entry.c */
void		 entry_init(int (*)(void));
int		 entry_open(struct tunnel *, int, const char *);
void		 entry_close(struct tunnel *);
void		 entry_auth_reply(const struct srv_auth_rep *);
struct srv_gate_hand;
void		 entry_from_hand(int, const struct srv_gate_hand *,
		    const void *);
int		 entry_from_node(struct tunnel *, struct bufferevent *,
		    const char *);
int		 entry_open_gateway(int);
void		 entry_close_gateway(void);
void		 entry_stats(struct srv_kgp_stats *);

/* gateway.c: the KGP worker's side of the gateway */
struct gate_answer {
	int			 result;	/* SRV_GATE_* */
	int			 retry;		/* SRV_GATE_LIMITED: seconds */
	char			 label[GATEWAY_LABEL_MAX];
	size_t			 nids;
	const char		(*ids)[TUNNEL_ID_LEN + 1];
};
void		 gate_ask(const char *, const char *, void (*)(void *,
		    const struct gate_answer *), void *, void **);
void		 gate_cancel(void *);
void		 gate_reply(const struct srv_gate_rep *, size_t);
uint32_t	 gate_elsewhere(const struct gate_answer *,
		    char (*)[TUNNEL_ID_LEN + 1], uint32_t);
void		 gate_flush(void);
void		 gate_failed(struct tunnel *);
struct tunnel	*gate_choose(const struct gate_answer *, char *, size_t);

/* resign.c */
int		 resign_init(const char *, size_t, const char *, size_t);
void		 resign_start(struct tunnel *, int, struct bufferevent *,
		    const char *, const char *, uint16_t, const void *, size_t);
void		 resign_close_tunnel(const char *);

/* sni.c */
ssize_t		 sni_parse(const uint8_t *, size_t, char *, size_t,
		    const char **);

#endif /* SC_SERVER_H */
