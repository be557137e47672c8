/*
 * The sc-server workers: everything that faces the network, in two
 * sandboxes.  "sc-server -W rest" serves the REST API and keeps the
 * accounts (names, salts, hashes), the failed-login rate limit and the
 * tunnel registry; "sc-server -W kgp" serves the KGP endpoint and the
 * entry proxies and holds the tunnels' secrets and their connections.
 * Neither opens a file or binds a port: the parent sends each its
 * listening socket, its key pair (PEM) and the certificate of the CA
 * that resigns TLS; the REST worker also gets the accounts and the
 * registry as read from disk and sends the registry to write (and
 * serves the CA's certificate); the KGP worker asks the parent for each
 * entry proxy's port, and the CA process, through the parent, for leaf
 * certificates (mint.c).
 * What one must tell the other goes through the parent (registry.c,
 * tunnel.c, entry.c, by way of hub.c, which holds this end of the
 * channel for them).
 *
 * fd 3 is the channel to the parent.  The start: the parent's messages up
 * to IMSG_SRV_START; the TLS context made from the PEM texts; then,
 * started as root, chroot to an empty directory and the user _sc; the
 * sandbox.  The REST worker then parses the registry and tells the KGP
 * worker every running tunnel; it serves once the KGP worker has
 * answered for each and the registry is written back.  The KGP worker
 * accepts once it has heard of every tunnel (IMSG_SRV_TUNNELS_END) and
 * their entry ports are open.  Each says IMSG_SRV_READY then.
 *
 * With --kgp-workers N there are N KGP workers, the same program each
 * with its own index (struct srv_config kgp_index), KGP listener and
 * tunnels: a tunnel lives in one of them, all its KGP connections, its
 * entry proxy and its streams, so that no stream byte crosses
 * processes and a server of many tunnels uses N cores.  The parent
 * places each tunnel and passes a tunnel's messages to its worker only
 * (parent_relay.c); the request ids that the parent relays answers to
 * carry the worker's index (worker_reqid()).  Every KGP worker accepts
 * on the gateway's socket; a connection whose tunnels run in another
 * worker goes there, its descriptor and the bytes read, through the
 * parent (entry_hand(), entry_from_hand()).  Only worker 0 has a
 * channel of its own to the CA process; the others ask through the
 * parent.
 *
 * The parent is trusted (it started us and holds every secret), but its
 * messages are checked all the same; one that does not fit is fatal.
 * When the parent goes away, the worker exits.
 */
#include <sys/types.h>
#include <sys/queue.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <errno.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#ifdef __linux__
#include <sys/prctl.h>
#endif

#include <event2/event.h>
#include <jansson.h>
#include <tls.h>

#include "imsg_server.h"
#include "log.h"
#include "proc.h"
#include "sandbox.h"
#include "server.h"

static int	 worker_config(struct imsgev *, struct imsg *);
static int	 worker_listener(struct imsgev *, struct imsg *);
static int	 worker_metrics_listener(struct imsgev *, struct imsg *);
static int	 worker_kgp_stats(struct imsgev *, struct imsg *);
static void	 worker_push_stats(int, short, void *);
static int	 worker_blob_msg(struct imsgev *, struct imsg *);
static void	 worker_blob(void);
static void	 worker_accounts(const char *, size_t);
static int	 worker_start_msg(struct imsgev *, struct imsg *);
static void	 worker_start(void);
static int	 worker_shutdown_msg(struct imsgev *, struct imsg *);
static void	 worker_check_ready(void);
static int	 worker_tunnel_state(struct imsgev *, struct imsg *);
static int	 worker_tunnel_links(struct imsgev *, struct imsg *);
static void	 worker_push_links(int, short, void *);
static int	 worker_auth_req(struct imsgev *, struct imsg *);
static int	 worker_kgp_updown(struct imsgev *, struct imsg *);
static int	 worker_kgp_next(struct imsgev *, struct imsg *);
static int	 worker_tunnel_add(struct imsgev *, struct imsg *);
static int	 worker_tunnel_del(struct imsgev *, struct imsg *);
static int	 worker_tunnel_rules(struct imsgev *, struct imsg *);
static int	 worker_tunnel_none(struct imsgev *, struct imsg *);
static int	 worker_tunnel_read(struct imsgev *, struct imsg *);
static int	 worker_tunnels_end(struct imsgev *, struct imsg *);
static int	 worker_auth_rep(struct imsgev *, struct imsg *);
static int	 worker_gateway_listener(struct imsgev *, struct imsg *);
static int	 worker_gate_req(struct imsgev *, struct imsg *);
static int	 worker_gate_rep(struct imsgev *, struct imsg *);
static int	 worker_gate_hand(struct imsgev *, struct imsg *);
static int	 worker_node(struct imsgev *, struct imsg *);
static int	 worker_ca_cert(struct imsgev *, struct imsg *);
static int	 worker_ca_send(const void *, size_t);
static void	 worker_ca_gone(struct imsgev *);
static void	 worker_ca_bad(struct imsgev *, struct imsg *, enum imsgev_error,
		    const char *);
static void	 worker_parent_gone(struct imsgev *);
static void	 worker_sig(int, short, void *);
static void	 worker_exit_timeout(int, short, void *);

/*
 * What the parent may send each worker.  It is trusted (it started us
 * and holds every secret), but its messages are checked all the same;
 * one that does not fit is fatal.  The setup (configuration, listener,
 * START) comes once.
 */
#define WORKER_MSGS_COMMON						\
	{ IMSGEV_TYPE(IMSG_SRV_CONFIG), IMSGEV_SIZE(struct srv_config),	\
	    IMSGEV_ONCE, srv_config_valid, worker_config },		\
	{ IMSGEV_TYPE(IMSG_SRV_LISTENER), IMSGEV_SIZE(uint32_t),	\
	    IMSGEV_ONCE | IMSGEV_FD, NULL, worker_listener },		\
	{ IMSGEV_TYPE(IMSG_SRV_BLOB_BEGIN),				\
	    IMSGEV_SIZE(struct srv_blob_hdr), 0, NULL, worker_blob_msg },	\
	{ IMSGEV_TYPE(IMSG_SRV_BLOB), sizeof(uint32_t) + 1, IMSG_MAXDATA,	\
	    0, NULL, worker_blob_msg },					\
	{ IMSGEV_TYPE(IMSG_SRV_BLOB_END),				\
	    IMSGEV_SIZE(struct srv_blob_hdr), 0, NULL, worker_blob_msg },	\
	{ IMSGEV_TYPE(IMSG_SRV_START), IMSGEV_EMPTY, IMSGEV_ONCE, NULL,	\
	    worker_start_msg },						\
	{ IMSGEV_TYPE(IMSG_SRV_SHUTDOWN), IMSGEV_EMPTY, 0, NULL,		\
	    worker_shutdown_msg }

static const struct imsgev_msg worker_msgs_rest[] = {
	WORKER_MSGS_COMMON,
	{ IMSGEV_TYPE(IMSG_SRV_SAVED), IMSGEV_SIZE(struct srv_saved), 0,
	    srv_saved_valid, worker_saved },
	/* from the KGP worker, through the parent */
	{ IMSGEV_TYPE(IMSG_SRV_TUNNEL_STATE), IMSGEV_SIZE(struct srv_tstate),
	    0, srv_tstate_valid, worker_tunnel_state },
	{ IMSGEV_TYPE(IMSG_SRV_AUTH_REQ), IMSGEV_SIZE(struct srv_auth_req), 0,
	    srv_auth_req_valid, worker_auth_req },
	{ IMSGEV_TYPE(IMSG_SRV_GATE_REQ), IMSGEV_SIZE(struct srv_gate_req), 0,
	    srv_gate_req_valid, worker_gate_req },
	{ IMSGEV_TYPE(IMSG_SRV_KGP_DOWN), IMSGEV_SIZE(int32_t), 0, NULL,
	    worker_kgp_updown },
	{ IMSGEV_TYPE(IMSG_SRV_KGP_UP), IMSGEV_EMPTY, 0, NULL,
	    worker_kgp_updown },
	{ IMSGEV_TYPE(IMSG_SRV_KGP_NEXT), IMSGEV_SIZE(int32_t), 0, NULL,
	    worker_kgp_next },
	{ IMSGEV_TYPE(IMSG_SRV_METRICS_LISTENER), IMSGEV_EMPTY,
	    IMSGEV_ONCE | IMSGEV_FD, NULL, worker_metrics_listener },
	{ IMSGEV_TYPE(IMSG_SRV_KGP_STATS), IMSGEV_SIZE(struct srv_kgp_stats),
	    0, NULL, worker_kgp_stats },
	{ IMSGEV_TYPE(IMSG_SRV_ACCOUNT_REP),
	    IMSGEV_SIZE(struct srv_account_rep), 0, srv_account_rep_valid,
	    admin_account_answer },
	{ IMSGEV_TYPE(IMSG_SRV_TEAMS_REP), IMSGEV_SIZE(struct srv_teams_rep),
	    0, srv_teams_rep_valid, admin_teams_answer },
	{ IMSGEV_TYPE(IMSG_SRV_TUNNEL_LINKS),
	    offsetof(struct srv_tlinks, links), sizeof(struct srv_tlinks), 0,
	    srv_tlinks_valid, worker_tunnel_links },
	IMSGEV_END
};

static const struct imsgev_msg worker_msgs_kgp[] = {
	WORKER_MSGS_COMMON,
	{ IMSGEV_TYPE(IMSG_SRV_ENTRY_FD), IMSGEV_SIZE(struct srv_entry_reply),
	    IMSGEV_FDOPT, srv_entry_reply_valid, worker_entry_fd },
	/* from the REST worker, through the parent */
	{ IMSGEV_TYPE(IMSG_SRV_TUNNEL_ADD), IMSGEV_SIZE(struct srv_tunnel_add),
	    0, srv_tunnel_add_valid, worker_tunnel_add },
	{ IMSGEV_TYPE(IMSG_SRV_TUNNEL_RULES),
	    sizeof(struct srv_tunnel_rules) + 2, IMSG_MAXDATA, 0,
	    srv_tunnel_rules_valid, worker_tunnel_rules },
	{ IMSGEV_TYPE(IMSG_SRV_TUNNEL_DEL), IMSGEV_SIZE(struct srv_tunnel_ref),
	    0, srv_tunnel_ref_valid, worker_tunnel_del },
	{ IMSGEV_TYPE(IMSG_SRV_TUNNELS_END), IMSGEV_EMPTY, 0, NULL,
	    worker_tunnels_end },
	{ IMSGEV_TYPE(IMSG_SRV_AUTH_REP), IMSGEV_SIZE(struct srv_auth_rep), 0,
	    srv_auth_rep_valid, worker_auth_rep },
	{ IMSGEV_TYPE(IMSG_SRV_GATE_REP), SRV_GATE_REP_LEN(0),
	    sizeof(struct srv_gate_rep), 0, srv_gate_rep_valid,
	    worker_gate_rep },
	{ IMSGEV_TYPE(IMSG_SRV_GATEWAY_LISTENER), IMSGEV_EMPTY,
	    IMSGEV_ONCE | IMSGEV_FD, NULL, worker_gateway_listener },
	/* another KGP worker's, through the parent */
	{ IMSGEV_TYPE(IMSG_SRV_GATE_HAND), sizeof(struct srv_gate_hand) + 1,
	    IMSG_MAXDATA, IMSGEV_FD, srv_gate_hand_valid, worker_gate_hand },
	/* node links: the parent's (nodemap.c) */
	{ IMSGEV_TYPE(IMSG_SRV_NODE_SECRET),
	    IMSGEV_SIZE(struct srv_node_secret), IMSGEV_ONCE,
	    srv_node_secret_valid, worker_node },
	{ IMSGEV_TYPE(IMSG_SRV_NODE_REP), IMSGEV_SIZE(struct srv_node_rep), 0,
	    srv_node_rep_valid, worker_node },
	{ IMSGEV_TYPE(IMSG_SRV_TUNNEL_NONE), IMSGEV_SIZE(struct srv_tunnel_ref),
	    0, srv_tunnel_ask_valid, worker_tunnel_none },
	{ IMSGEV_TYPE(IMSG_SRV_TUNNEL_READ), IMSGEV_SIZE(struct srv_tunnel_ref),
	    0, srv_tunnel_ask_valid, worker_tunnel_read },
	/* from the CA process, through the parent */
	{ IMSGEV_TYPE(IMSG_SRV_CA_CERT), offsetof(struct srv_ca_rep, der),
	    sizeof(struct srv_ca_rep), 0, srv_ca_rep_valid, worker_ca_cert },
	{ IMSGEV_TYPE(IMSG_SRV_CA_UP), IMSGEV_EMPTY, IMSGEV_FDOPT, NULL,
	    worker_ca_cert },
	{ IMSGEV_TYPE(IMSG_SRV_CA_DOWN), IMSGEV_EMPTY, 0, NULL,
	    worker_ca_cert },
	IMSGEV_END
};

/* the KGP worker's channel to the CA process (IMSG_SRV_CA_UP's) */
static const struct imsgev_msg worker_msgs_ca[] = {
	{ IMSGEV_TYPE(IMSG_SRV_CA_CERT), offsetof(struct srv_ca_rep, der),
	    sizeof(struct srv_ca_rep), 0, srv_ca_rep_valid, worker_ca_cert },
	IMSGEV_END
};

static const struct imsgev_peer worker_peer_rest = {
	"the parent", IMSGEV_FATAL, 0, worker_msgs_rest, worker_parent_gone,
	NULL
};
static const struct imsgev_peer worker_peer_kgp = {
	"the parent", IMSGEV_FATAL, 0, worker_msgs_kgp, worker_parent_gone,
	NULL
};
static const struct imsgev_peer worker_peer_ca = {
	"the CA process", IMSGEV_CLOSE, 0, worker_msgs_ca, worker_ca_gone,
	worker_ca_bad
};

static struct imsgev	 iev_parent;
static struct imsgev	 iev_ca = { .ibuf.fd = -1, .peer = &worker_peer_ca };
static struct srv_blob	 blob_in;
static pid_t		 parent_pid;
static int		 have_config, started, ready;
static int		 rest_fd = -1, kgp_fd = -1, metrics_fd = -1;
static int		 gateway_fd = -1;
static struct event	*push_ev;	/* KGP, -m: the figures for REST */
static struct event	*links_ev;	/* KGP: the tunnels' figures */
static char		*pem[SRV_BLOB_MAX];
static size_t		 pemlen[SRV_BLOB_MAX];
static char		*state_text;
static size_t		 state_len;
static int		 have_state, have_accounts;
static uint64_t		 ready_seq;	/* REST: the registry written back */
static int		 tunnels_told;	/* KGP: IMSG_SRV_TUNNELS_END came */

int
worker_main(const char *role)
{
	struct stat	 sb;
	struct rlimit	 rl;
	int		 ret;

	if (strcmp(role, "rest") == 0)
		env->worker = SRV_ROLE_REST;
	else if (strcmp(role, "kgp") == 0)
		env->worker = SRV_ROLE_KGP;
	if (env->worker == 0 || fstat(SRV_WORKER_FD, &sb) == -1 ||
	    !S_ISSOCK(sb.st_mode)) {
		fprintf(stderr, "sc-server -W is a worker that sc-server "
		    "starts, not a command\n");
		return (1);
	}
	log_procinit(role);
	log_init(LOG_DST_STDERR, LOG_DAEMON);
	parent_pid = getppid();
	signal(SIGPIPE, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	signal(SIGUSR1, SIG_IGN);

	/* what would open files lazily, before any sandbox */
	tzset();
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
		env->nofile = rl.rlim_cur;
	if (tls_init() == -1)
		fatalx("tls_init");
	json_object_seed(0);

	srv_worker_open(&iev_parent, env->worker == SRV_ROLE_REST ?
	    &worker_peer_rest : &worker_peer_kgp, worker_sig);
	hub_init(&iev_parent, worker_check_ready);

	proc_trim_start(env->base);
	ret = event_base_dispatch(env->base);
	if (ret == -1)
		fatalx("event_base_dispatch");

	/* the last registry, then out */
	if (iev_parent.ibuf.fd != -1) {
		if (env->worker == SRV_ROLE_REST)
			state_save();
		log_debug("exiting");
		imsg_flush(&iev_parent.ibuf);
	}
	return (0);
}

/* The parent is gone: nobody to serve for. */
static void
worker_parent_gone(struct imsgev *iev)
{
	imsgev_clear(iev);
	exit(0);
}

static int
worker_config(struct imsgev *iev, struct imsg *imsg)
{
	struct srv_config	 c;

	memcpy(&c, imsg->data, sizeof(c));
	if (c.role != (uint32_t)env->worker)
		return (IMSGEV_BAD);
	env->resync = c.resync;
	env->importing = c.importing;
	env->cluster = c.cluster;
	strlcpy(env->cert_hash, c.cert_hash, sizeof(env->cert_hash));
	env->debug = c.debug;
	env->verbose = c.verbose;
	log_setverbose(c.verbose);
	env->grace = c.grace;
	env->max_missed = c.max_missed;
	strlcpy(env->kgp_congestion, c.kgp_congestion,
	    sizeof(env->kgp_congestion));
	env->entry_auth = c.entry_auth;
	env->kgp_port = c.kgp_port;
	env->kgp_index = c.kgp_index;
	env->kgp_workers = c.kgp_workers;
	worker_reqid_init(c.kgp_index);
	strlcpy(env->host, c.host, sizeof(env->host));
	strlcpy(env->node, c.node, sizeof(env->node));
	strlcpy(env->entry_host, c.entry_host, sizeof(env->entry_host));
	strlcpy(env->rest_addr, c.rest_addr, sizeof(env->rest_addr));
	strlcpy(env->kgp_addr, c.kgp_addr, sizeof(env->kgp_addr));
	strlcpy(env->tunnels_path, c.tunnels_path, sizeof(env->tunnels_path));
	env->entry_nacl = c.entry_nacl;
	memcpy(env->entry_acl, c.entry_acl, sizeof(env->entry_acl));
	env->direct_nallow = c.direct_nallow;
	memcpy(env->direct_allow, c.direct_allow, sizeof(env->direct_allow));
	env->rest_tls = c.rest_tls;
	env->metrics = c.metrics;
	have_config = 1;
	return (IMSGEV_OK);
}

/* The worker's one listening socket, before START. */
static int
worker_listener(struct imsgev *iev, struct imsg *imsg)
{
	uint32_t	 which;
	int		 fd;

	memcpy(&which, imsg->data, sizeof(which));
	if (started || which != (env->worker == SRV_ROLE_REST ?
	    SRV_LISTEN_REST : SRV_LISTEN_KGP))
		return (IMSGEV_BAD);
	fd = imsg_get_fd(imsg);
	if (set_nonblock(fd) == -1)
		fatal("%s: set_nonblock", __func__);
	if (env->worker == SRV_ROLE_REST)
		rest_fd = fd;
	else
		kgp_fd = fd;
	return (IMSGEV_OK);
}

/* REST, -m: the listening socket of /metrics, before START. */
static int
worker_metrics_listener(struct imsgev *iev, struct imsg *imsg)
{
	int	 fd;

	fd = imsg_get_fd(imsg);
	if (started || !env->metrics) {
		close(fd);
		return (IMSGEV_BAD);
	}
	if (set_nonblock(fd) == -1)
		fatal("%s: set_nonblock", __func__);
	metrics_fd = fd;
	return (IMSGEV_OK);
}

/* KGP, -G: the gateway's listening socket, before START. */
static int
worker_gateway_listener(struct imsgev *iev, struct imsg *imsg)
{
	int	 fd;

	fd = imsg_get_fd(imsg);
	if (started) {
		close(fd);
		return (IMSGEV_BAD);
	}
	if (set_nonblock(fd) == -1)
		fatal("%s: set_nonblock", __func__);
	gateway_fd = fd;
	return (IMSGEV_OK);
}

/* REST, -m: the KGP worker's figures, through the parent. */
static int
worker_kgp_stats(struct imsgev *iev, struct imsg *imsg)
{
	struct srv_kgp_stats	 st;

	memcpy(&st, imsg->data, sizeof(st));
	metrics_kgp(&st);
	return (IMSGEV_OK);
}

/* KGP, -m: the figures for /metrics, every METRICS_PUSH_SEC. */
static void
worker_push_stats(int fd, short ev, void *arg)
{
	struct srv_kgp_stats	 st;

	memset(&st, 0, sizeof(st));
	kgp_server_stats(&st);
	entry_stats(&st);
	mint_stats(&st);
	worker_send(IMSG_SRV_KGP_STATS, &st, sizeof(st));
}

static int
worker_blob_msg(struct imsgev *iev, struct imsg *imsg)
{
	int	 r;

	if ((r = srv_blob_recv(&blob_in, imsg)) == -1)
		return (IMSGEV_BAD);
	if (r == 1)
		worker_blob();
	return (IMSGEV_OK);
}

static int
worker_start_msg(struct imsgev *iev, struct imsg *imsg)
{
	worker_start();
	return (IMSGEV_OK);
}

static int
worker_shutdown_msg(struct imsgev *iev, struct imsg *imsg)
{
	if (!env->shutting_down)
		worker_shutdown();
	return (IMSGEV_OK);
}

/* A whole blob arrived: take it. */
static void
worker_blob(void)
{
	uint32_t	 kind = blob_in.kind;

	/* what each worker may be sent at all: never the CA's key */
	if (kind == SRV_BLOB_CA_KEY || (env->worker == SRV_ROLE_KGP ?
	    kind != SRV_BLOB_KGP_CRT && kind != SRV_BLOB_KGP_KEY &&
	    kind != SRV_BLOB_CA_CRT : kind == SRV_BLOB_KGP_CRT ||
	    kind == SRV_BLOB_KGP_KEY))
		fatalx("%s: blob %u is not for this worker", __func__, kind);
	switch (kind) {
	case SRV_BLOB_KGP_CRT:
	case SRV_BLOB_KGP_KEY:
	case SRV_BLOB_REST_CRT:
	case SRV_BLOB_REST_KEY:
	case SRV_BLOB_CA_CRT:
		if (started || pem[kind] != NULL)
			fatalx("%s: unexpected key material", __func__);
		pem[kind] = blob_in.buf;
		pemlen[kind] = blob_in.len;
		memset(&blob_in, 0, sizeof(blob_in));
		return;
	case SRV_BLOB_ACCOUNTS:
		worker_accounts(blob_in.buf, blob_in.len);
		srv_blob_clear(&blob_in);
		return;
	case SRV_BLOB_STATE:
		if (started || have_state)
			fatalx("%s: unexpected registry", __func__);
		state_text = blob_in.buf;
		state_len = blob_in.len;
		have_state = 1;
		memset(&blob_in, 0, sizeof(blob_in));
		return;
	case SRV_BLOB_NODES:
		if (env->worker != SRV_ROLE_REST)
			fatalx("%s: unexpected nodes", __func__);
		place_nodes(blob_in.buf, blob_in.len);
		srv_blob_clear(&blob_in);
		return;
	case SRV_BLOB_SYNC:
		if (env->worker != SRV_ROLE_REST)
			fatalx("%s: unexpected tunnels", __func__);
		state_sync(blob_in.buf, blob_in.len, reg_remote, reg_gone);
		srv_blob_clear(&blob_in);
		return;
	case SRV_BLOB_EVENTS:
		if (env->worker != SRV_ROLE_REST)
			fatalx("%s: unexpected events", __func__);
		admin_events_answer(blob_in.seq, blob_in.buf, blob_in.len);
		srv_blob_clear(&blob_in);
		return;
	default:
		fatalx("%s: unexpected blob %u", __func__, kind);
	}
}

/* The account list, at start and whenever the parent has a new one. */
static void
worker_accounts(const char *buf, size_t len)
{
	struct accountlist	 list;
	struct srv_account	 sa;
	struct account		*a;
	size_t			 i, n;

	if (len % sizeof(sa) != 0)
		fatalx("%s: bad account list (%zu bytes)", __func__, len);
	n = len / sizeof(sa);
	TAILQ_INIT(&list);
	for (i = 0; i < n; i++) {
		memcpy(&sa, buf + i * sizeof(sa), sizeof(sa));
		if (memchr(sa.name, '\0', sizeof(sa.name)) == NULL ||
		    !account_name_valid(sa.name) ||
		    memchr(sa.org, '\0', sizeof(sa.org)) == NULL ||
		    memchr(sa.team, '\0', sizeof(sa.team)) == NULL ||
		    sa.role < ROLE_MEMBER || sa.role > ROLE_ADMIN)
			fatalx("%s: bad account", __func__);
		if ((a = calloc(1, sizeof(*a))) == NULL)
			fatal("%s", __func__);
		strlcpy(a->name, sa.name, sizeof(a->name));
		strlcpy(a->org, sa.org, sizeof(a->org));
		strlcpy(a->team, sa.team, sizeof(a->team));
		a->role = sa.role;
		memcpy(a->salt, sa.salt, sizeof(a->salt));
		memcpy(a->hash, sa.hash, sizeof(a->hash));
		TAILQ_INSERT_TAIL(&list, a, entry);
	}
	explicit_bzero(&sa, sizeof(sa));
	accounts_clear(&env->accounts);
	TAILQ_CONCAT(&env->accounts, &list, entry);
	have_accounts = 1;
	log_debug("%zu account%s", n, n == 1 ? "" : "s");
}

/* Everything is here: set up, lock ourselves in, read the registry. */
static void
worker_start(void)
{
	const char	*crt = pem[SRV_BLOB_REST_CRT];
	size_t		 i;

	if (!have_config || pem[SRV_BLOB_CA_CRT] == NULL)
		fatalx("%s: the parent sent too little", __func__);
	if (env->worker == SRV_ROLE_REST) {
		if (!have_accounts || !have_state || rest_fd == -1 ||
		    (env->rest_tls && (crt == NULL ||
		    pem[SRV_BLOB_REST_KEY] == NULL)))
			fatalx("%s: the parent sent too little", __func__);
		if (rest_init(rest_fd, env->rest_tls ? crt : NULL,
		    pemlen[SRV_BLOB_REST_CRT], pem[SRV_BLOB_REST_KEY],
		    pemlen[SRV_BLOB_REST_KEY]) == -1)
			fatalx("cannot start the REST API");
		if (rest_ca(pem[SRV_BLOB_CA_CRT], pemlen[SRV_BLOB_CA_CRT]) ==
		    -1)
			fatalx("the CA certificate");
		if (env->metrics && (metrics_fd == -1 ||
		    metrics_init(metrics_fd) == -1))
			fatalx("cannot serve /metrics");
	} else {
		if (kgp_fd == -1 || pem[SRV_BLOB_KGP_CRT] == NULL ||
		    pem[SRV_BLOB_KGP_KEY] == NULL)
			fatalx("%s: the parent sent too little", __func__);
		if (cert_tls_setup(pem[SRV_BLOB_KGP_CRT],
		    pemlen[SRV_BLOB_KGP_CRT], pem[SRV_BLOB_KGP_KEY],
		    pemlen[SRV_BLOB_KGP_KEY]) == -1)
			fatalx("KGP TLS setup failed");
		if (mint_init(env->base, pem[SRV_BLOB_CA_CRT],
		    pemlen[SRV_BLOB_CA_CRT], worker_ca_send) == -1)
			fatalx("cannot make leaf certificates");
		/* out of descriptors, KGP handshakes go first */
		entry_init(kgp_server_shed);
		/* the resolver's files, before the chroot */
		direct_init();
		if (resign_init(pem[SRV_BLOB_KGP_CRT],
		    pemlen[SRV_BLOB_KGP_CRT], pem[SRV_BLOB_KGP_KEY],
		    pemlen[SRV_BLOB_KGP_KEY]) == -1)
			fatalx("cannot resign TLS");
		if (kgp_server_init(kgp_fd) == -1)
			fatalx("cannot start the KGP endpoint");
		if (nodelink_init() == -1)
			fatalx("cannot set up node links");
		if (gateway_fd != -1 && entry_open_gateway(gateway_fd) == -1)
			fatalx("cannot start the gateway");
	}
	started = 1;
	/* the keys live in the TLS contexts now, nowhere else */
	for (i = 0; i < SRV_BLOB_MAX; i++)
		if (pem[i] != NULL) {
			freezero(pem[i], pemlen[i] + 1);
			pem[i] = NULL;
		}

	/* started as root: an empty root and the user _sc */
	sandbox_drop(SC_USER, SC_CHROOT);
#ifdef __linux__
	/* the parent's death ends us at once (set after the user switch) */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) == -1)
		fatal("PR_SET_PDEATHSIG");
	if (getppid() != parent_pid)
		exit(0);
#endif
	if (env->worker == SRV_ROLE_REST) {
		sandbox_server_rest();
		state_load(state_text, state_len, reg_restore);
		free(state_text);
		state_text = NULL;
		/* every running tunnel has been told */
		worker_send(IMSG_SRV_TUNNELS_END, NULL, 0);
		/* state_load() ends by writing the registry back */
		ready_seq = worker_saves_sent();
	} else
		sandbox_server_kgp();
	worker_check_ready();
}

/*
 * Serving begins once the restored tunnels have their entry ports and
 * the registry is on disk again (a bad one set aside): a client that
 * finds the REST API answering finds the tunnels too.
 */
static void
worker_check_ready(void)
{
	if (ready || !started)
		return;
	if (env->worker == SRV_ROLE_REST) {
		if (reg_waiting() > 0 || worker_saves_answered() < ready_seq)
			return;
		rest_enable();
		metrics_ready(1);
	} else {
		if (!tunnels_told || worker_binds_pending() > 0)
			return;
		kgp_server_enable();
		{
			struct timeval	 tv = { WEB_LINKS_PUSH_SEC, 0 };

			if ((links_ev = event_new(env->base, -1, EV_PERSIST,
			    worker_push_links, NULL)) == NULL)
				fatalx("%s: event_new", __func__);
			evtimer_add(links_ev, &tv);
		}
		if (env->metrics) {
			struct timeval	 tv = { METRICS_PUSH_SEC, 0 };

			if ((push_ev = event_new(env->base, -1, EV_PERSIST,
			    worker_push_stats, NULL)) == NULL)
				fatalx("%s: event_new", __func__);
			evtimer_add(push_ev, &tv);
			worker_push_stats(-1, 0, NULL);
		}
	}
	ready = 1;
	imsg_compose_event(&iev_parent, IMSG_SRV_READY, 0, 0, -1, NULL, 0);
	log_debug("serving");
}

/*
 * What the other worker says, through the parent, checked again by the
 * table.  The REST worker: the KGP worker's reports and -P questions.
 */
static int
worker_tunnel_state(struct imsgev *iev, struct imsg *imsg)
{
	struct srv_tstate	 ts;

	memcpy(&ts, imsg->data, sizeof(ts));
	if (started)
		reg_state(&ts);
	return (IMSGEV_OK);
}

/* REST: a tunnel's sessions, for the web page (the size is checked). */
static int
worker_tunnel_links(struct imsgev *iev, struct imsg *imsg)
{
	struct srv_tlinks	 l;

	memset(&l, 0, sizeof(l));
	memcpy(&l, imsg->data, IMSG_DATA_SIZE(imsg));
	if (started)
		weblinks_apply(&l);
	return (IMSGEV_OK);
}

/* KGP: the tunnels' figures that changed, every WEB_LINKS_PUSH_SEC. */
static void
worker_push_links(int fd, short ev, void *arg)
{
	weblinks_push();
}

static int
worker_auth_req(struct imsgev *iev, struct imsg *imsg)
{
	struct srv_auth_req	 req;
	struct srv_auth_rep	 rep;

	memcpy(&req, imsg->data, sizeof(req));
	explicit_bzero(imsg->data, sizeof(req));
	reg_auth(&req, &rep);
	explicit_bzero(&req, sizeof(req));
	worker_send(IMSG_SRV_AUTH_REP, &rep, sizeof(rep));
	return (IMSGEV_OK);
}

/* REST: the gateway's question, answered at once. */
static int
worker_gate_req(struct imsgev *iev, struct imsg *imsg)
{
	struct srv_gate_req	 req;
	struct srv_gate_rep	*rep;
	size_t			 len;

	memcpy(&req, imsg->data, sizeof(req));
	explicit_bzero(imsg->data, sizeof(req));
	if ((rep = malloc(sizeof(*rep))) == NULL)
		fatal("%s", __func__);
	len = reg_gate(&req, rep);
	explicit_bzero(&req, sizeof(req));
	worker_send(IMSG_SRV_GATE_REP, rep, len);
	free(rep);
	return (IMSGEV_OK);
}

static int
worker_kgp_updown(struct imsgev *iev, struct imsg *imsg)
{
	int32_t	 port;

	if (!started)
		return (IMSGEV_OK);	/* the registry is still to be told */
	if (imsg->hdr.type == IMSG_SRV_KGP_DOWN) {
		memcpy(&port, imsg->data, sizeof(port));
		if (port < 0 || port > 65535)
			return (IMSGEV_BAD);
		reg_kgp_down(port);
	} else
		reg_kgp_up();
	return (IMSGEV_OK);
}

/* The REST worker: the KGP port a new tunnel would go to now. */
static int
worker_kgp_next(struct imsgev *iev, struct imsg *imsg)
{
	int32_t	 port;

	memcpy(&port, imsg->data, sizeof(port));
	if (port <= 0 || port > 65535)
		return (IMSGEV_BAD);
	env->kgp_next = port;
	return (IMSGEV_OK);
}

/* The KGP worker: the REST worker's tunnels and -P answers. */
static int
worker_tunnel_add(struct imsgev *iev, struct imsg *imsg)
{
	struct srv_tunnel_add	 add;

	if (!started)
		return (IMSGEV_BAD);
	memcpy(&add, imsg->data, sizeof(add));
	explicit_bzero(imsg->data, sizeof(add));
	if (!env->shutting_down) {
		tunnel_add(&add);
		/* HELLOs that waited for it */
		kgp_server_held(add.id, 1);
	}
	/* a new pool member, maybe: the gateway asks again */
	gate_flush();
	explicit_bzero(&add, sizeof(add));
	return (IMSGEV_OK);
}

/* Rules of the tunnel about to be added (tunnel_rules_add()). */
static int
worker_tunnel_rules(struct imsgev *iev, struct imsg *imsg)
{
	struct srv_tunnel_rules	 h;

	if (!started)
		return (IMSGEV_BAD);
	memcpy(&h, imsg->data, sizeof(h));
	tunnel_rules_add(&h, (const char *)imsg->data + sizeof(h),
	    IMSG_DATA_SIZE(imsg) - sizeof(h));
	return (IMSGEV_OK);
}

static int
worker_tunnel_del(struct imsgev *iev, struct imsg *imsg)
{
	struct srv_tunnel_ref	 ref;

	memcpy(&ref, imsg->data, sizeof(ref));
	tunnel_del(ref.id, ref.why);
	return (IMSGEV_OK);
}

/* KGP: the database has no such tunnel: HELLOs that waited for it fail. */
static int
worker_tunnel_none(struct imsgev *iev, struct imsg *imsg)
{
	struct srv_tunnel_ref	 ref;

	memcpy(&ref, imsg->data, sizeof(ref));
	if (started)
		kgp_server_held(ref.id, 0);
	return (IMSGEV_OK);
}

/* KGP: the parent's read for an IMSG_SRV_TUNNEL_ASK is done. */
static int
worker_tunnel_read(struct imsgev *iev, struct imsg *imsg)
{
	struct srv_tunnel_ref	 ref;

	memcpy(&ref, imsg->data, sizeof(ref));
	if (started)
		kgp_server_asked(ref.id);
	return (IMSGEV_OK);
}

static int
worker_tunnels_end(struct imsgev *iev, struct imsg *imsg)
{
	if (!started)
		return (IMSGEV_BAD);
	tunnels_told = 1;
	worker_check_ready();
	return (IMSGEV_OK);
}

/*
 * The KGP worker: a leaf certificate from the CA process, or why not;
 * the CA process up (a trial leaf), with a channel to it, or gone (what
 * was asked fails now).
 */
static int
worker_ca_cert(struct imsgev *iev, struct imsg *imsg)
{
	int	 fd = -1;

	if (imsg->hdr.type == IMSG_SRV_CA_UP)
		fd = imsg_get_fd(imsg);
	if (!started) {
		if (fd != -1)
			close(fd);
		return (IMSGEV_OK);
	}
	if (imsg->hdr.type == IMSG_SRV_CA_CERT) {
		mint_answer(imsg->data, IMSG_DATA_SIZE(imsg));
		return (IMSGEV_OK);
	}
	if (imsg->hdr.type == IMSG_SRV_CA_DOWN && iev_ca.ibuf.fd != -1)
		imsgev_clear(&iev_ca);
	if (fd != -1) {
		iev_ca.base = env->base;
		imsgev_replace(&iev_ca, fd);
		log_debug("a channel to the CA process");
	}
	mint_ca_state(imsg->hdr.type == IMSG_SRV_CA_UP);
	return (IMSGEV_OK);
}

/*
 * mint.c's requests: to the CA process on their channel, or through the
 * parent.
 */
static int
worker_ca_send(const void *req, size_t len)
{
	if (iev_ca.ibuf.fd != -1) {
		/* at once: the browser's handshake waits for the leaf */
		if (imsg_compose_now(&iev_ca, IMSG_SRV_CA_SIGN, 0, 0, -1, req,
		    len) == -1)
			return (-1);
		return (0);
	}
	worker_send(IMSG_SRV_CA_SIGN, req, len);
	return (0);
}

/*
 * The channel to the CA process closed (it died: the parent says so
 * too) or sent what it should not: the requests go through the parent
 * until the next channel.
 */
static void
worker_ca_gone(struct imsgev *iev)
{
	imsgev_clear(iev);
	mint_ca_state(0);
}

static void
worker_ca_bad(struct imsgev *iev, struct imsg *imsg, enum imsgev_error error,
    const char *why)
{
	log_warnx("the CA process sent %s: its channel closed", why);
	worker_ca_gone(iev);
}

/* KGP: the cluster's secret, or where a session is (nodelink.c). */
static int
worker_node(struct imsgev *iev, struct imsg *imsg)
{
	struct srv_node_secret	 s;
	struct srv_node_rep	 rep;

	if (imsg->hdr.type == IMSG_SRV_NODE_SECRET) {
		memcpy(&s, imsg->data, sizeof(s));
		explicit_bzero(imsg->data, sizeof(s));
		nodelink_secret(&s);
		explicit_bzero(&s, sizeof(s));
		return (IMSGEV_OK);
	}
	memcpy(&rep, imsg->data, sizeof(rep));
	if (started)
		nodelink_reply(&rep);
	return (IMSGEV_OK);
}

/* KGP: the REST worker's answer to the gateway (checked by the table). */
static int
worker_gate_rep(struct imsgev *iev, struct imsg *imsg)
{
	if (started)
		gate_reply(imsg->data, IMSG_DATA_SIZE(imsg));
	return (IMSGEV_OK);
}

/* KGP: a gateway connection another KGP worker hands over. */
static int
worker_gate_hand(struct imsgev *iev, struct imsg *imsg)
{
	struct srv_gate_hand	 h;
	int			 fd = imsg_get_fd(imsg);

	if (!ready || env->shutting_down) {
		close(fd);
		return (IMSGEV_OK);
	}
	memcpy(&h, imsg->data, sizeof(h));
	entry_from_hand(fd, &h, (const char *)imsg->data + sizeof(h));
	return (IMSGEV_OK);
}

static int
worker_auth_rep(struct imsgev *iev, struct imsg *imsg)
{
	struct srv_auth_rep	 rep;

	memcpy(&rep, imsg->data, sizeof(rep));
	entry_auth_reply(&rep);
	return (IMSGEV_OK);
}

/*
 * IMSG_SRV_SHUTDOWN (the parent's SIGTERM), or a SIGTERM of our own (a
 * service manager's): close every entry proxy, send
 * GOAWAY on every KGP connection, and end once they are gone or after
 * SERVER_DRAIN_SEC.
 */
static void
worker_sig(int sig, short ev, void *arg)
{
	if (env->shutting_down)
		return;
	log_debug("%s: draining", sig == SIGTERM ? "SIGTERM" : "SIGINT");
	worker_shutdown();
}

void
worker_shutdown(void)
{
	struct timeval	 tv = { SERVER_DRAIN_SEC, 0 };

	env->shutting_down = 1;
	if (!ready || env->worker == SRV_ROLE_REST) {
		/* REST: the registry is saved on the way out */
		event_base_loopexit(env->base, NULL);
		return;
	}
	kgp_server_shutdown();
	tunnel_shutdown_all();
	nodelink_shutdown();
	entry_close_gateway();
	if ((env->exit_timer = evtimer_new(env->base, worker_exit_timeout,
	    NULL)) != NULL)
		evtimer_add(env->exit_timer, &tv);
	kgp_server_shutdown_check();
}

/*
 * The drain is over: close what is left, and give the ERRORs a moment
 * to leave before the loop ends for good.
 */
static void
worker_exit_timeout(int fd, short ev, void *arg)
{
	static int	 closed;
	struct timeval	 tv = { 2, 0 };

	if (!closed) {
		closed = 1;
		log_warnx("streams still open after %d s, closing them",
		    SERVER_DRAIN_SEC);
		kgp_server_close_all();
		evtimer_add(env->exit_timer, &tv);
		return;
	}
	log_warnx("connections still open, exiting");
	event_base_loopexit(env->base, NULL);
}
