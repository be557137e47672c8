/*
 * The sc-server parent: everything that needs privilege or the file
 * system, and nothing that faces the network.
 *
 * It alone opens the database (db.c, dbmsg.c): it reads the accounts
 * (again on SIGHUP, and when the command line changed them: looked at
 * every second), writes the registry when the REST worker sends it, and
 * keeps the event log.  It loads or generates the KGP key pair and the
 * CA that resigns TLS, reads the -C/-k key pair, binds the REST and KGP
 * ports and, when the KGP worker asks, each entry proxy's port.  It
 * starts three workers (the same program, "-W rest", "-W kgp" and "-W
 * ca", with a scrubbed environment; fd 3 is each one's imsg channel),
 * hands each what it needs and no more (the REST worker: the REST
 * listener and key pair, the accounts, the registry, the CA's
 * certificate; the KGP worker: the KGP listener and key pair, entry
 * ports, the CA's certificate; the CA process: the CA's certificate and
 * key, read from disk for each one and wiped here after), relays what
 * they tell each other (parent_relay.c), and supervises them.  A KGP
 * worker's request for a leaf certificate is answered at once
 * (SRV_CA_UNAVAIL) while no CA process serves.
 *
 * With --kgp-workers N it starts N KGP workers, worker i listening on
 * -K's port + i (each on a port the kernel chooses with port 0), and
 * places each tunnel on one of them (parent_relay.c): a server of many
 * tunnels then uses N cores, while each tunnel's streams stay in one
 * process.  A KGP worker that dies costs its own tunnels' sessions
 * only; its successor, on the same port, is told its tunnels again.
 *
 * A worker that dies once it was serving is logged and replaced after a
 * second.  A new KGP worker loses the KGP sessions and open streams, not
 * the tunnels: the REST worker tells it every running tunnel again, and
 * the clients reconnect.  A new REST worker reads the registry back and
 * asks the KGP worker how each tunnel is.  A worker that dies during its
 * first start, or five times in a row within 30 seconds of its start,
 * ends the server with exit status 1.  The workers are not trusted: a
 * message that does not check out gets its sender killed (and replaced),
 * never the parent.
 */
#include <sys/types.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <limits.h>
#include <netdb.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <openssl/ssl.h>
#include <tls.h>

#include "imsg_server.h"
#include "log.h"
#include "proc.h"
#include "sandbox.h"
#include "sdnotify.h"
#include "server.h"
#include "parent_int.h"

#define WORKER_RESTART_SEC	1
#define WORKER_QUICK_SEC	30	/* a death this soon after its start, */
#define WORKER_QUICK_MAX	5	/* this many times in a row: give up */
#define WORKER_STOP_SEC		(SERVER_DRAIN_SEC + 10)

static void	 parent_sig(int, short, void *);
static void	 parent_spawn(struct srv_worker *);
static void	 parent_exec(int, const char *) __attribute__((noreturn));
static void	 parent_send_setup(struct srv_worker *, char *, size_t);
static void	 parent_state_later(struct srv_worker *);
static int	 parent_hello(struct imsgev *, struct imsg *);
static int	 parent_ready(struct imsgev *, struct imsg *);
static int	 parent_state_aside(struct imsgev *, struct imsg *);
static int	 parent_blob(struct imsgev *, struct imsg *);
static int	 parent_entry_bind(struct imsgev *, struct imsg *);
static int	 parent_tunnel_ask(struct imsgev *, struct imsg *);
static void	 parent_tunnel_none(const char *);
static void	 parent_worker_gone(struct imsgev *);
static void	 parent_worker_bad(struct imsgev *, struct imsg *,
		    enum imsgev_error, const char *);
static void	 parent_check_gone(struct srv_worker *);
static void	 parent_restart(int, short, void *);
static void	 parent_stop_timeout(int, short, void *);
static void	 parent_reap_timeout(int, short, void *);
static void	 parent_kill_worker(struct srv_worker *);
static void	 parent_poll(int, short, void *);
static void	 parent_db_poll(void);
static struct imsgev *parent_rest_chan(void);
static void	 parent_node_drain(void);
static int	 parent_workers_gone(void);
static void	 parent_kgp_listen(const char *, const char *);

/*
 * What each worker may send.  The workers are not trusted: a message
 * that does not fit (the wrong size, a type that is not this worker's,
 * anything before its hello, a field that does not check out) gets its
 * sender killed and replaced, never the parent.  What one worker tells
 * the other is checked here before it is relayed.
 */
#define PARENT_MSGS_COMMON						\
	{ IMSGEV_TYPE(IMSG_SRV_HELLO), IMSGEV_SIZE(struct sc_hello),	\
	    IMSGEV_HELLO | IMSGEV_ONCE, NULL, parent_hello },		\
	IMSGEV_MSG_LOG,							\
	{ IMSGEV_TYPE(IMSG_SRV_READY), IMSGEV_EMPTY, IMSGEV_ONCE, NULL,	\
	    parent_ready }

static const struct imsgev_msg parent_msgs_rest[] = {
	PARENT_MSGS_COMMON,
	{ IMSGEV_TYPE(IMSG_SRV_STATE_ASIDE), IMSGEV_EMPTY, 0, NULL,
	    parent_state_aside },
	{ IMSGEV_TYPE(IMSG_SRV_BLOB_BEGIN), IMSGEV_SIZE(struct srv_blob_hdr),
	    0, NULL, parent_blob },
	{ IMSGEV_TYPE(IMSG_SRV_BLOB), sizeof(uint32_t) + 1, IMSG_MAXDATA, 0,
	    NULL, parent_blob },
	{ IMSGEV_TYPE(IMSG_SRV_BLOB_END), IMSGEV_SIZE(struct srv_blob_hdr),
	    0, NULL, parent_blob },
	{ IMSGEV_TYPE(IMSG_SRV_EVENT), IMSGEV_SIZE(struct srv_event), 0,
	    srv_event_valid, dbmsg_event },
	{ IMSGEV_TYPE(IMSG_SRV_EVENTS_REQ), IMSGEV_SIZE(struct srv_events_req),
	    0, srv_events_req_valid, dbmsg_events_req },
	{ IMSGEV_TYPE(IMSG_SRV_ACCOUNT_REQ),
	    IMSGEV_SIZE(struct srv_account_req), 0, srv_account_req_valid,
	    dbmsg_account_req },
	/* for the KGP worker */
	{ IMSGEV_TYPE(IMSG_SRV_TUNNEL_ADD), IMSGEV_SIZE(struct srv_tunnel_add),
	    0, srv_tunnel_add_valid, parent_tunnel_add },
	{ IMSGEV_TYPE(IMSG_SRV_TUNNEL_RULES),
	    sizeof(struct srv_tunnel_rules) + 2, IMSG_MAXDATA, 0,
	    srv_tunnel_rules_valid, parent_to_kgp },
	{ IMSGEV_TYPE(IMSG_SRV_TUNNEL_DEL), IMSGEV_SIZE(struct srv_tunnel_ref),
	    0, srv_tunnel_ref_valid, parent_to_kgp },
	{ IMSGEV_TYPE(IMSG_SRV_TUNNELS_END), IMSGEV_EMPTY, 0, NULL,
	    parent_to_kgp },
	{ IMSGEV_TYPE(IMSG_SRV_AUTH_REP), IMSGEV_SIZE(struct srv_auth_rep), 0,
	    srv_auth_rep_valid, parent_to_kgp },
	{ IMSGEV_TYPE(IMSG_SRV_GATE_REP), SRV_GATE_REP_LEN(0),
	    sizeof(struct srv_gate_rep), 0, srv_gate_rep_valid,
	    parent_to_kgp },
	IMSGEV_END
};

static const struct imsgev_msg parent_msgs_kgp[] = {
	PARENT_MSGS_COMMON,
	{ IMSGEV_TYPE(IMSG_SRV_ENTRY_BIND), IMSGEV_SIZE(struct srv_entry_req),
	    0, srv_entry_req_valid, parent_entry_bind },
	/* for the REST worker */
	{ IMSGEV_TYPE(IMSG_SRV_TUNNEL_STATE), IMSGEV_SIZE(struct srv_tstate),
	    0, srv_tstate_valid, parent_to_rest },
	{ IMSGEV_TYPE(IMSG_SRV_KGP_STATS), IMSGEV_SIZE(struct srv_kgp_stats),
	    0, NULL, parent_to_rest },
	{ IMSGEV_TYPE(IMSG_SRV_TUNNEL_LINKS),
	    offsetof(struct srv_tlinks, links), sizeof(struct srv_tlinks), 0,
	    srv_tlinks_valid, parent_to_rest },
	{ IMSGEV_TYPE(IMSG_SRV_AUTH_REQ), IMSGEV_SIZE(struct srv_auth_req), 0,
	    srv_auth_req_valid, parent_auth_req },
	{ IMSGEV_TYPE(IMSG_SRV_GATE_REQ), IMSGEV_SIZE(struct srv_gate_req), 0,
	    srv_gate_req_valid, parent_gate_req },
	/* for another KGP worker */
	{ IMSGEV_TYPE(IMSG_SRV_GATE_HAND), sizeof(struct srv_gate_hand) + 1,
	    IMSG_MAXDATA, IMSGEV_FD, srv_gate_hand_valid, parent_gate_hand },
	/* for the parent: node links (nodemap.c) */
	{ IMSGEV_TYPE(IMSG_SRV_NODE_REQ), IMSGEV_SIZE(struct srv_node_req), 0,
	    srv_node_req_valid, parent_node_req },
	{ IMSGEV_TYPE(IMSG_SRV_TUNNEL_ASK), IMSGEV_SIZE(struct srv_tunnel_ref),
	    0, srv_tunnel_ask_valid, parent_tunnel_ask },
	/* for the CA process */
	{ IMSGEV_TYPE(IMSG_SRV_CA_SIGN), offsetof(struct srv_ca_req, pub) + 1,
	    sizeof(struct srv_ca_req), 0, srv_ca_req_valid, parent_ca_sign },
	IMSGEV_END
};

static const struct imsgev_msg parent_msgs_ca[] = {
	PARENT_MSGS_COMMON,
	/* for the KGP worker */
	{ IMSGEV_TYPE(IMSG_SRV_CA_CERT), offsetof(struct srv_ca_rep, der),
	    sizeof(struct srv_ca_rep), 0, srv_ca_rep_valid, parent_ca_cert },
	IMSGEV_END
};

static const struct imsgev_peer parent_peer_rest = {
	"rest", IMSGEV_CLOSE, 0, parent_msgs_rest, parent_worker_gone,
	parent_worker_bad
};
static const struct imsgev_peer parent_peer_kgp = {
	"kgp", IMSGEV_CLOSE, 0, parent_msgs_kgp, parent_worker_gone,
	parent_worker_bad
};
static const struct imsgev_peer parent_peer_ca = {
	"ca", IMSGEV_CLOSE, 0, parent_msgs_ca, parent_worker_gone,
	parent_worker_bad
};

/* --kgp-workers > 1: "kgp0", "kgp1"..., whose log lines they are */
static struct imsgev_peer parent_peer_kgpn[KGP_WORKERS_MAX];
static char		 kgp_names[KGP_WORKERS_MAX][16];

static const char	*self_exe;
static struct srv_worker workers[WORKERS_MAX] = {
	{ .name = "kgp", .role = SRV_ROLE_KGP, .peer = &parent_peer_kgp,
	    .pid = -1, .kgp_fd = -1 },
	{ .name = "rest", .role = SRV_ROLE_REST, .peer = &parent_peer_rest,
	    .pid = -1, .kgp_fd = -1 },
	{ .name = "ca", .role = SRV_ROLE_CA, .peer = &parent_peer_ca,
	    .pid = -1, .kgp_fd = -1 },
};
static int		 rest_fd = -1, metrics_fd = -1;
static int		 gateway_fd = -1;
static struct event	*ev_stop, *ev_poll;
static int		 exit_code;
static int		 state_waits;	/* the REST worker waits for the tunnels */

/*
 * The KGP workers' listening sockets (-K host:port): worker i on port +
 * i, each on a port of the kernel's choosing with port 0; worker 0's is
 * the server's KGP address (env->kgp_addr).
 */
static void
parent_kgp_listen(const char *host, const char *port)
{
	struct srv_worker	*w;
	const char		*errstr;
	char			 p[16];
	int			 i, base;

	base = strtonum(port, 0, 65535, &errstr);
	if (errstr != NULL)
		fatalx("bad KGP port %s", port);
	if (base != 0 && base + env->kgp_workers - 1 > 65535)
		fatalx("KGP port %d: %d workers need the ports up to %d", base,
		    env->kgp_workers, base + env->kgp_workers - 1);
	for (i = 0; i < env->kgp_workers; i++) {
		w = W_KGPN(i);
		if (i > 0) {
			*w = *W_KGP;
			w->kgp_fd = -1;
		}
		w->kgp_index = i;
		if (env->kgp_workers > 1) {
			snprintf(kgp_names[i], sizeof(kgp_names[i]), "kgp%d",
			    i);
			parent_peer_kgpn[i] = parent_peer_kgp;
			parent_peer_kgpn[i].name = kgp_names[i];
			w->peer = &parent_peer_kgpn[i];
			w->name = kgp_names[i];
		}
		snprintf(p, sizeof(p), "%d", base == 0 ? 0 : base + i);
		if ((w->kgp_fd = listen_on(host, p, KGP_BACKLOG, w->kgp_addr,
		    sizeof(w->kgp_addr))) == -1)
			fatalx("cannot start the KGP endpoint%s",
			    env->kgp_workers > 1 ? " of every KGP worker" : "");
		w->kgp_port = atoi(strrchr(w->kgp_addr, ':') + 1);
	}
	strlcpy(env->kgp_addr, W_KGP->kgp_addr, sizeof(env->kgp_addr));
	env->kgp_port = W_KGP->kgp_port;
}

/*
 * The parent's start: files and ports, then the worker.  self is how
 * to execute this program again.  Returns the exit status.
 */
int
parent_main(const char *self, const char *raddr, const char *kaddr)
{
	struct event	*sigterm, *sigint, *sighup, *sigchld;
	struct timeval	 tv = { DB_POLL_SEC, 0 };
	SSL_CTX		*ctx;
	char		 err[256], host[HOST_MAX], port[16];
	int		 i;

	self_exe = self;
	/* what the workers tell each other (parent_relay.c) */
	parent_relay_init(workers);
	nodemap_init(workers);
	/* it holds the keys: no core file, no tracing by its own user */
	if (setrlimit(RLIMIT_CORE, &(struct rlimit){ 0, 0 }) == -1)
		fatal("setrlimit RLIMIT_CORE");
	server_nofile();
#ifdef __linux__
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) == -1)
		fatal("PR_SET_DUMPABLE");
#endif
	if (geteuid() == 0) {
		/* the workers' user and empty root: say so now */
		if (getpwnam(SC_USER) == NULL)
			fatalx("started as root, but there is no user %s for "
			    "the workers to run as: create it with \"%s\"",
			    SC_USER, SC_USER_HINT);
		if (sandbox_check_chroot(SC_CHROOT, err, sizeof(err)) == -1)
			fatalx("the workers' empty root: %s", err);
	}

	dbmsg_init();
	if (TAILQ_EMPTY(&env->accounts))
		log_warnx("no accounts yet: add one with "
		    "sc-server -s %s user add NAME", env->statedir);

	tzset();
	if (tls_init() == -1)
		fatalx("tls_init");
	if (cert_load_or_create(env->statedir, env->host, &env->kgp_cert_pem,
	    &env->kgp_cert_len, &env->kgp_key_pem, &env->kgp_key_len) == -1 ||
	    cert_tls_setup(env->kgp_cert_pem, env->kgp_cert_len,
	    env->kgp_key_pem, env->kgp_key_len) == -1)
		fatalx("TLS setup failed");
	/* checked: the worker serves it */
	tls_free(env->tls);
	env->tls = NULL;
	if (ca_files(env->statedir, env->ca_cert, env->ca_key,
	    env->ca_cert_path, sizeof(env->ca_cert_path), env->ca_key_path,
	    sizeof(env->ca_key_path), &env->ca_pem, &env->ca_pem_len) == -1)
		fatalx("no CA to resign TLS with");

	if (env->rest_cert != NULL) {
		if (file_read_small(env->rest_cert, SRV_PEM_MAX,
		    &env->rest_cert_pem, &env->rest_cert_len) == -1)
			fatal("REST TLS: %s", env->rest_cert);
		if (file_read_small(env->rest_key, SRV_PEM_MAX,
		    &env->rest_key_pem, &env->rest_key_len) == -1)
			fatal("REST TLS: %s", env->rest_key);
		if ((ctx = rest_tls_ctx(env->rest_cert_pem, env->rest_cert_len,
		    env->rest_key_pem, env->rest_key_len,
		    env->rest_cert)) == NULL)
			fatalx("cannot start the REST API");
		SSL_CTX_free(ctx);
		env->rest_tls = 1;
	}

	if (parse_hostport(raddr, host, sizeof(host), port,
	    sizeof(port)) == -1)
		fatalx("bad REST address %s", raddr);
	if ((rest_fd = listen_on(host, port, REST_BACKLOG, env->rest_addr,
	    sizeof(env->rest_addr))) == -1)
		fatalx("cannot start the REST API");
	if (!env->rest_tls && !host_is_loopback(host))
		log_warnx("REST API on a non-loopback address without TLS: "
		    "access keys travel in clear (use -C and -k)");
	if (parse_hostport(kaddr, host, sizeof(host), port,
	    sizeof(port)) == -1)
		fatalx("bad KGP address %s", kaddr);
	parent_kgp_listen(host, port);
	if (env->metrics) {
		if (parse_hostport(env->metrics_listen, host, sizeof(host),
		    port, sizeof(port)) == -1)
			fatalx("bad metrics address %s", env->metrics_listen);
		if ((metrics_fd = listen_on(host, port, METRICS_BACKLOG,
		    env->metrics_addr, sizeof(env->metrics_addr))) == -1)
			fatalx("cannot serve /metrics on %s",
			    env->metrics_listen);
	}

	if (env->gateway_listen != NULL) {
		if (parse_hostport(env->gateway_listen, host, sizeof(host),
		    port, sizeof(port)) == -1)
			fatalx("bad gateway address %s", env->gateway_listen);
		if ((gateway_fd = listen_on(host, port, ENTRY_BACKLOG,
		    env->gateway_addr, sizeof(env->gateway_addr))) == -1)
			fatalx("cannot start the gateway on %s (-G none: "
			    "without it)", env->gateway_listen);
	}

	log_info("REST API listening on %s://%s%s", env->rest_tls ? "https" :
	    "http", env->rest_addr, REST_PREFIX);
	if (env->entry_auth)
		log_info("entry proxies require Proxy-Authorization");
	for (i = 0; i < env->kgp_workers; i++)
		if (env->kgp_workers == 1)
			log_info("KGP listening on %s (certificate %s)",
			    env->kgp_addr, env->cert_hash);
		else
			log_info("KGP worker %d listening on %s (certificate "
			    "%s)", i, W_KGPN(i)->kgp_addr, env->cert_hash);
	if (gateway_fd != -1)
		log_info("gateway listening on %s", env->gateway_addr);
	if (env->metrics)
		log_info("metrics on http://%s/metrics (/healthz, /readyz)",
		    env->metrics_addr);

	if (!env->debug) {
		if (!env->logfile)
			log_init(LOG_DST_SYSLOG, LOG_DAEMON);
		if (daemon(0, 0) == -1)
			fatal("daemon");
	}
	/* detached: a thread writes the log file or standard error */
	if (log_writer_start() == -1)
		log_warn("no log writer thread, the log is written directly");

	if ((env->base = event_base_new()) == NULL)
		fatalx("event_base_new");
	/* systemd (-d): the socket, after daemon() changed the pid */
	sdnotify_init();
	if (sdnotify_watchdog(env->base) == 1)
		log_debug("systemd watchdog on");
	sdnotify("STATUS=Starting the workers");
	sigterm = evsignal_new(env->base, SIGTERM, parent_sig, NULL);
	sigint = evsignal_new(env->base, SIGINT, parent_sig, NULL);
	sighup = evsignal_new(env->base, SIGHUP, parent_sig, NULL);
	sigchld = evsignal_new(env->base, SIGCHLD, parent_sig, NULL);
	ev_stop = evtimer_new(env->base, parent_stop_timeout, NULL);
	ev_poll = event_new(env->base, -1, EV_PERSIST, parent_poll, NULL);
	if (sigterm == NULL || sigint == NULL || sighup == NULL ||
	    sigchld == NULL || ev_stop == NULL || ev_poll == NULL)
		fatalx("event_new");
	/* what PostgreSQL tells (NOTIFY), as soon as it does */
	dbmsg_watch(parent_db_poll);
	for (i = 0; i < NWORKERS; i++) {
		workers[i].ev_restart = evtimer_new(env->base, parent_restart,
		    &workers[i]);
		workers[i].ev_reap = evtimer_new(env->base,
		    parent_reap_timeout, &workers[i]);
		if (workers[i].ev_restart == NULL ||
		    workers[i].ev_reap == NULL)
			fatalx("event_new");
	}
	evsignal_add(sigterm, NULL);
	evsignal_add(sigint, NULL);
	evsignal_add(sighup, NULL);
	evsignal_add(sigchld, NULL);
	evtimer_add(ev_poll, &tv);

	/* the KGP workers first: the REST worker's tunnels go to them */
	parent_spawn(W_CA);
	for (i = 0; i < env->kgp_workers; i++)
		parent_spawn(W_KGPN(i));
	parent_spawn(W_REST);
	/* a cluster: this node's heartbeat */
	node_start(parent_rest_chan, parent_node_drain);
	if (event_base_dispatch(env->base) == -1)
		fatalx("event_base_dispatch");

	node_stop();
	log_info("exiting");
	event_free(sigterm);
	event_free(sigint);
	event_free(sighup);
	event_free(sigchld);
	for (i = 0; i < NWORKERS; i++) {
		event_free(workers[i].ev_restart);
		event_free(workers[i].ev_reap);
	}
	event_free(ev_stop);
	event_free(ev_poll);
	sdnotify_cleanup();
	event_base_free(env->base);
	accounts_clear(&env->accounts);
	db_close();
	freezero(env->kgp_key_pem, env->kgp_key_len);
	free(env->kgp_cert_pem);
	if (env->rest_key_pem != NULL)
		freezero(env->rest_key_pem, env->rest_key_len);
	free(env->rest_cert_pem);
	free(env->ca_pem);
	close(rest_fd);
	for (i = 0; i < env->kgp_workers; i++)
		close(W_KGPN(i)->kgp_fd);
	if (metrics_fd != -1)
		close(metrics_fd);
	return (exit_code);
}

static void
parent_sig(int sig, short ev, void *arg)
{
	struct timeval		 tv = { WORKER_STOP_SEC, 0 };
	struct srv_worker	*w;
	pid_t			 pid;
	int			 status, i;

	switch (sig) {
	case SIGCHLD:
		while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
			for (i = 0; i < NWORKERS; i++) {
				w = &workers[i];
				if (pid != w->pid)
					continue;
				w->reaped = 1;
				w->status = status;
			}
		}
		for (i = 0; i < NWORKERS; i++)
			parent_check_gone(&workers[i]);
		break;
	case SIGHUP:
		log_reopen();
		log_info("SIGHUP: log file reopened, reloading accounts");
		if (dbmsg_reload() == 0 && W_REST->chan)
			dbmsg_send_accounts(&W_REST->iev);
		break;
	case SIGTERM:
	case SIGINT:
		if (env->shutting_down)
			break;
		log_info("%s: shutting down",
		    sig == SIGTERM ? "SIGTERM" : "SIGINT");
		sdnotify("STOPPING=1\nSTATUS=Shutting down");
		env->shutting_down = 1;
		for (i = 0; i < NWORKERS; i++) {
			w = &workers[i];
			evtimer_del(w->ev_restart);
			if (w->pid == -1)
				continue;
			/*
			 * The worker drains its connections, then exits.  A
			 * message, not a signal: the parent may lack CAP_KILL
			 * for a worker that is another user.
			 */
			if (!w->chan || imsg_compose_event(&w->iev,
			    IMSG_SRV_SHUTDOWN, 0, 0, -1, NULL, 0) == -1)
				parent_kill_worker(w);
		}
		if (parent_workers_gone()) {
			event_base_loopexit(env->base, NULL);
			break;
		}
		evtimer_add(ev_stop, &tv);
		break;
	}
}

/* A new worker, and everything it needs. */
static void
parent_spawn(struct srv_worker *w)
{
	char	*state = NULL;
	size_t	 statelen = 0;
	int	 sp[2];
	pid_t	 pid;

	/* the REST worker starts with the registry, none without */
	if (w == W_REST) {
		if ((state = dbmsg_state(&statelen)) == NULL) {
			parent_state_later(w);
			return;
		}
		if (state_waits > 0)
			log_info("the tunnels read from %s: the REST worker "
			    "starts", db_file());
		state_waits = 0;
	}
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) == -1)
		fatal("%s: socketpair", __func__);
	if ((pid = fork()) == -1)
		fatal("%s: fork", __func__);
	if (pid == 0)
		parent_exec(sp[1], w->role == SRV_ROLE_KGP ? "kgp" : w->name);
	close(sp[1]);
	if (set_nonblock(sp[0]) == -1)
		fatal("%s: set_nonblock", __func__);
	w->pid = pid;
	w->chan = 1;
	w->reaped = 0;
	w->ready = 0;
	clock_gettime(CLOCK_MONOTONIC, &w->started);
	imsgev_open(&w->iev, env->base, sp[0], w->peer, w);
	parent_send_setup(w, state, statelen);
	log_debug("%s worker started (pid %d)", w->name, (int)pid);
	/* a new KGP worker hears of the tunnels from the REST worker */
	if (w->role == SRV_ROLE_KGP && W_REST->chan)
		parent_to(W_REST, IMSG_SRV_KGP_UP, NULL, 0);
	/* where a new tunnel goes: the REST worker's GET endpoint */
	if (w->role == SRV_ROLE_KGP || w == W_REST)
		parent_kgp_next(w == W_REST);
}

/*
 * The registry cannot be read (the database is down): the REST worker
 * starts once it can, tried again every WORKER_RESTART_SEC; the rest
 * of sc-server goes on (the tunnels, their KGP sessions).
 */
static void
parent_state_later(struct srv_worker *w)
{
	struct timeval	 tv = { WORKER_RESTART_SEC, 0 };

	if (state_waits++ == 0)
		log_warnx("%s: the tunnels: %s: the REST worker starts once "
		    "they can be read (every %d s)", db_file(), db_error(),
		    WORKER_RESTART_SEC);
	else
		log_debug("%s: the tunnels: %s (%d)", db_file(), db_error(),
		    state_waits);
	evtimer_add(w->ev_restart, &tv);
}

/*
 * In the new process: fd 3 is the channel, nothing else past stderr, a
 * scrubbed environment, its own process group (a ^C reaches the parent
 * only, which stops the worker).  Only async-signal-safe calls.
 */
static void
parent_exec(int fd, const char *role)
{
	struct proc_env	 pe;
	char		*argv[4];
	int		 fd3;

	argv[0] = "sc-server";
	argv[1] = "-W";
	argv[2] = UNCONST(role);
	argv[3] = NULL;
	proc_child_env(&pe);
	proc_child_signals();
	if ((fd3 = fcntl(fd, F_DUPFD, 10)) == -1 ||
	    dup2(fd3, SRV_WORKER_FD) == -1)
		_exit(127);
	closefrom(SRV_WORKER_FD + 1);
	execve(self_exe, argv, pe.envp);
	dprintf(STDERR_FILENO, "sc-server: execve %s: %s\n", self_exe,
	    strerror(errno));
	_exit(127);
}

/*
 * What w needs: the configuration, its listener, its key pair, the CA's
 * certificate; for the REST worker the accounts and the registry as
 * well (state, statelen: dbmsg_state()'s, taken).  The CA process: no
 * listener, the CA's certificate and key.
 */
static void
parent_send_setup(struct srv_worker *w, char *state, size_t statelen)
{
	struct srv_config	 c;
	uint32_t		 which;
	char			*key;
	size_t			 len;
	int			 fd, rest = w->role == SRV_ROLE_REST;

	memset(&c, 0, sizeof(c));
	c.version = SRV_IMSG_VERSION;
	c.role = w->role;
	/* KGP workers that have their tunnels: a new REST worker asks */
	c.resync = rest && parent_kgp_ready();
	c.debug = env->debug;
	c.verbose = env->verbose;
	c.grace = env->grace;
	c.max_missed = env->max_missed;
	strlcpy(c.kgp_congestion, env->kgp_congestion,
	    sizeof(c.kgp_congestion));
	c.entry_auth = env->entry_auth;
	c.rest_tls = env->rest_tls;
	c.kgp_port = rest ? env->kgp_port : w->kgp_port;
	c.kgp_index = w->kgp_index;
	c.kgp_workers = env->kgp_workers;
	c.metrics = env->metrics;
	strlcpy(c.host, env->host, sizeof(c.host));
	strlcpy(c.node, env->node, sizeof(c.node));
	strlcpy(c.entry_host, env->entry_host, sizeof(c.entry_host));
	strlcpy(c.rest_addr, env->rest_addr, sizeof(c.rest_addr));
	strlcpy(c.kgp_addr, rest ? env->kgp_addr : w->kgp_addr,
	    sizeof(c.kgp_addr));
	strlcpy(c.tunnels_path, dbmsg_tunnels_source(),
	    sizeof(c.tunnels_path));
	c.importing = rest && strcmp(c.tunnels_path, db_file()) != 0;
	c.cluster = env->cluster;
	strlcpy(c.cert_hash, env->cert_hash, sizeof(c.cert_hash));
	c.entry_nacl = env->entry_nacl;
	memcpy(c.entry_acl, env->entry_acl, sizeof(c.entry_acl));
	c.direct_nallow = env->direct_nallow;
	memcpy(c.direct_allow, env->direct_allow, sizeof(c.direct_allow));
	if (imsg_compose(&w->iev.ibuf, IMSG_SRV_CONFIG, 0, 0, -1, &c,
	    sizeof(c)) == -1)
		fatal("%s: imsg_compose", __func__);
	if (srv_blob_send(&w->iev, SRV_BLOB_CA_CRT, env->ca_pem,
	    env->ca_pem_len, 0) == -1)
		fatal("%s: the CA certificate", __func__);

	if (w->role == SRV_ROLE_CA) {
		/* read again for each: the parent does not keep it */
		if (file_read_small(env->ca_key_path, SRV_PEM_MAX, &key,
		    &len) == -1)
			fatal("%s: the CA key %s", __func__, env->ca_key_path);
		if (srv_blob_send(&w->iev, SRV_BLOB_CA_KEY, key, len,
		    0) == -1)
			fatal("%s: the CA key", __func__);
		freezero(key, len + 1);
		if (imsg_compose_event(&w->iev, IMSG_SRV_START, 0, 0, -1,
		    NULL, 0) == -1)
			fatal("%s: imsg_compose", __func__);
		return;
	}

	which = rest ? SRV_LISTEN_REST : SRV_LISTEN_KGP;
	if ((fd = fcntl(rest ? rest_fd : w->kgp_fd, F_DUPFD_CLOEXEC,
	    0)) == -1 ||
	    imsg_compose(&w->iev.ibuf, IMSG_SRV_LISTENER, 0, 0, fd,
	    &which, sizeof(which)) == -1)
		fatal("%s: the listener", __func__);

	if (!rest) {
		if (gateway_fd != -1 && ((fd = fcntl(gateway_fd,
		    F_DUPFD_CLOEXEC, 0)) == -1 || imsg_compose(&w->iev.ibuf,
		    IMSG_SRV_GATEWAY_LISTENER, 0, 0, fd, NULL, 0) == -1))
			fatal("%s: the gateway listener", __func__);
		nodemap_send_secret(&w->iev);
		if (srv_blob_send(&w->iev, SRV_BLOB_KGP_CRT,
		    env->kgp_cert_pem, env->kgp_cert_len, 0) == -1 ||
		    srv_blob_send(&w->iev, SRV_BLOB_KGP_KEY,
		    env->kgp_key_pem, env->kgp_key_len, 0) == -1)
			fatal("%s: the KGP key pair", __func__);
	} else {
		if (metrics_fd != -1 && ((fd = fcntl(metrics_fd,
		    F_DUPFD_CLOEXEC, 0)) == -1 || imsg_compose(&w->iev.ibuf,
		    IMSG_SRV_METRICS_LISTENER, 0, 0, fd, NULL, 0) == -1))
			fatal("%s: the metrics listener", __func__);
		if (env->rest_tls && (srv_blob_send(&w->iev,
		    SRV_BLOB_REST_CRT, env->rest_cert_pem,
		    env->rest_cert_len, 0) == -1 ||
		    srv_blob_send(&w->iev, SRV_BLOB_REST_KEY,
		    env->rest_key_pem, env->rest_key_len, 0) == -1))
			fatal("%s: the REST key pair", __func__);
		dbmsg_send_accounts(&w->iev);
		dbmsg_send_state(&w->iev, state, statelen);
	}
	if (imsg_compose_event(&w->iev, IMSG_SRV_START, 0, 0, -1, NULL,
	    0) == -1)
		fatal("%s: imsg_compose", __func__);
}

/* The worker's channel closed: it is gone, or going; see that it is. */
static void
parent_worker_gone(struct imsgev *iev)
{
	struct srv_worker	*w = iev->data;
	struct timeval		 tv = { 2, 0 };

	imsgev_clear(iev);
	w->chan = 0;
	if (w->pid != -1 && !w->reaped)
		evtimer_add(w->ev_reap, &tv);
	parent_check_gone(w);
}

static int
parent_hello(struct imsgev *iev, struct imsg *imsg)
{
	struct srv_worker	*w = iev->data;
	struct sc_hello		 hello;

	memcpy(&hello, imsg->data, sizeof(hello));
	if (hello.version != SRV_IMSG_VERSION)
		return (IMSGEV_BAD);
	log_debug("%s worker %u: hello", w->name, hello.pid);
	return (IMSGEV_OK);
}

static int
parent_ready(struct imsgev *iev, struct imsg *imsg)
{
	struct srv_worker	*w = iev->data;

	w->ready = w->served = 1;
	log_debug("%s worker %d: serving", w->name, (int)w->pid);
	/* the KGP worker may ask for leaves (and tries one) */
	if (w == W_CA || w->role == SRV_ROLE_KGP)
		parent_ca_up(w);
	if (parent_kgp_ready() && W_REST->ready)
		sdnotify("READY=1\nSTATUS=Serving: REST %s, KGP %s",
		    env->rest_addr, env->kgp_addr);
	return (IMSGEV_OK);
}

static int
parent_state_aside(struct imsgev *iev, struct imsg *imsg)
{
	dbmsg_aside();
	return (IMSGEV_OK);
}

/*
 * A registry to write, from the REST worker: it gets the answer once it
 * is committed to the database, or why not.
 */
static int
parent_blob(struct imsgev *iev, struct imsg *imsg)
{
	struct srv_worker	*w = iev->data;
	struct srv_saved	 saved;
	int			 r;

	if ((r = srv_blob_recv(&w->blob_in, imsg)) == -1 ||
	    w->blob_in.kind != SRV_BLOB_SAVE) {
		srv_blob_clear(&w->blob_in);
		return (IMSGEV_BAD);
	}
	if (r == 0)
		return (IMSGEV_OK);
	/* the REST worker logs a failure, and answers with it */
	memset(&saved, 0, sizeof(saved));
	saved.error = dbmsg_save(&w->iev, w->blob_in.buf, w->blob_in.len);
	saved.seq = w->blob_in.seq;
	srv_blob_clear(&w->blob_in);
	parent_to(w, IMSG_SRV_SAVED, &saved, sizeof(saved));
	return (IMSGEV_OK);
}

/*
 * A port for a tunnel's entry proxy, on the -E address: the one the
 * KGP worker wants (the tunnel had it before a restart), or one the
 * kernel chooses.  Never a privileged port.
 */
static int
parent_entry_bind(struct imsgev *iev, struct imsg *imsg)
{
	struct srv_entry_req	 req;
	struct srv_entry_reply	 rep;
	char			 port[16], bound[ADDRSTR_MAX];
	int			 fd;

	memcpy(&req, imsg->data, sizeof(req));
	snprintf(port, sizeof(port), "%u", req.want);
	fd = listen_on(env->entry_host, port, ENTRY_BACKLOG, bound,
	    sizeof(bound));
	if (fd == -1 && req.want != 0) {
		log_warnx("tunnel %s: entry proxy port %u is taken, it gets a "
		    "new port", req.tunnel_id, req.want);
		fd = listen_on(env->entry_host, "0", ENTRY_BACKLOG, bound,
		    sizeof(bound));
	}
	memset(&rep, 0, sizeof(rep));
	rep.reqid = req.reqid;
	if (fd != -1)
		strlcpy(rep.bound, bound, sizeof(rep.bound));
	if (imsg_compose_event(iev, IMSG_SRV_ENTRY_FD, 0, 0, fd, &rep,
	    sizeof(rep)) == -1)
		fatal("%s: imsg_compose", __func__);
	return (IMSGEV_OK);
}

/* Is every worker gone? */
static int
parent_workers_gone(void)
{
	int	 i;

	for (i = 0; i < NWORKERS; i++)
		if (workers[i].pid != -1)
			return (0);
	return (1);
}

/* Worker w broke the protocol: it is not to be trusted any more. */
static void
parent_worker_bad(struct imsgev *iev, struct imsg *imsg,
    enum imsgev_error error, const char *why)
{
	struct srv_worker	*w = iev->data;

	log_warnx("%s worker %d sent %s: killing it", w->name, (int)w->pid,
	    why);
	imsgev_clear(&w->iev);
	w->chan = 0;
	srv_blob_clear(&w->blob_in);
	parent_kill_worker(w);
	parent_check_gone(w);
}

/*
 * SIGKILL for worker w.  Without the right to (a parent that is root
 * without CAP_KILL), give up: the parent exits, and the kernel ends the
 * workers with it (PR_SET_PDEATHSIG), or they see their channel close
 * and exit.
 */
static void
parent_kill_worker(struct srv_worker *w)
{
	if (w->pid == -1 || w->reaped)
		return;
	if (kill(w->pid, SIGKILL) == 0 || errno == ESRCH)
		return;
	log_warn("cannot kill %s worker %d", w->name, (int)w->pid);
	log_warnx("exiting: the workers end with the parent");
	exit_code = 1;
	event_base_loopexit(env->base, NULL);
}

/* The channel closed but the worker does not end. */
static void
parent_reap_timeout(int fd, short ev, void *arg)
{
	struct srv_worker	*w = arg;

	if (w->pid == -1 || w->reaped)
		return;
	log_warnx("%s worker %d closed its channel but runs on: killing it",
	    w->name, (int)w->pid);
	parent_kill_worker(w);
}

/*
 * Once w's channel is closed and its wait status known: stop, or start
 * another one.
 */
static void
parent_check_gone(struct srv_worker *w)
{
	struct timespec	 now;
	struct timeval	 tv = { WORKER_RESTART_SEC, 0 };
	char		 how[64];
	pid_t		 pid = w->pid;
	int32_t		 port;
	int		 i;

	if (pid == -1 || w->chan || !w->reaped)
		return;
	w->pid = -1;
	w->ready = 0;
	evtimer_del(w->ev_reap);
	srv_blob_clear(&w->blob_in);
	if (WIFEXITED(w->status))
		snprintf(how, sizeof(how), "exited with status %d",
		    WEXITSTATUS(w->status));
	else if (WIFSIGNALED(w->status))
		snprintf(how, sizeof(how), "was killed by signal %d (%s)",
		    WTERMSIG(w->status), strsignal(WTERMSIG(w->status)));
	else
		snprintf(how, sizeof(how), "ended (status %#x)", w->status);

	if (env->shutting_down) {
		if (WIFEXITED(w->status) && WEXITSTATUS(w->status) == 0)
			log_debug("%s worker %d exited", w->name, (int)pid);
		else {
			log_warnx("%s worker %d %s", w->name, (int)pid, how);
			exit_code = 1;
		}
		if (parent_workers_gone()) {
			evtimer_del(ev_stop);
			event_base_loopexit(env->base, NULL);
		}
		return;
	}
	/* the REST worker forgets the KGP sessions, ends halting tunnels */
	if (w->role == SRV_ROLE_KGP) {
		parent_kgp_gone(w);
		node_kgp_down();
		/* one of several: the REST worker forgets only its sessions */
		port = env->kgp_workers > 1 ? w->kgp_port : 0;
		parent_to(W_REST, IMSG_SRV_KGP_DOWN, &port, sizeof(port));
		parent_kgp_next(0);
	}
	/* what the KGP workers asked of the CA will not come */
	if (w == W_CA)
		for (i = 0; i < env->kgp_workers; i++)
			parent_to(W_KGPN(i), IMSG_SRV_CA_DOWN, NULL, 0);
	if (!w->served) {
		log_warnx("%s worker %d %s during its start: sc-server cannot "
		    "serve", w->name, (int)pid, how);
		exit_code = 1;
		event_base_loopexit(env->base, NULL);
		return;
	}
	clock_gettime(CLOCK_MONOTONIC, &now);
	if (now.tv_sec - w->started.tv_sec < WORKER_QUICK_SEC)
		w->quick++;
	else
		w->quick = 0;
	if (w->quick >= WORKER_QUICK_MAX) {
		log_warnx("%s worker %d %s, the %dth time in a row within %d s "
		    "of its start: giving up", w->name, (int)pid, how,
		    w->quick, WORKER_QUICK_SEC);
		exit_code = 1;
		event_base_loopexit(env->base, NULL);
		return;
	}
	if (w->role == SRV_ROLE_KGP)
		log_warnx("%s worker %d %s: starting a new one in %d s (its "
		    "KGP sessions are lost, the tunnels stay)", w->name,
		    (int)pid, how, WORKER_RESTART_SEC);
	else
		log_warnx("%s worker %d %s: starting a new one in %d s",
		    w->name, (int)pid, how, WORKER_RESTART_SEC);
	evtimer_add(w->ev_restart, &tv);
}

static void
parent_restart(int fd, short ev, void *arg)
{
	if (!env->shutting_down)
		parent_spawn(arg);
}

static void
parent_stop_timeout(int fd, short ev, void *arg)
{
	int	 i;

	for (i = 0; i < NWORKERS; i++) {
		if (workers[i].pid == -1)
			continue;
		log_warnx("%s worker %d still runs %d s after SIGTERM: "
		    "killing it", workers[i].name, (int)workers[i].pid,
		    WORKER_STOP_SEC);
		exit_code = 1;
		parent_kill_worker(&workers[i]);
	}
}

/* Accounts changed by the command line reach the REST worker. */
/* The REST worker's channel, NULL when none runs (node.c). */
static struct imsgev *
parent_rest_chan(void)
{
	return (W_REST->chan ? &W_REST->iev : NULL);
}

/* sc-server node drain: stop as on SIGTERM (node.c). */
static void
parent_node_drain(void)
{
	parent_sig(SIGTERM, 0, NULL);
}

/*
 * A HELLO waits in the KGP worker for a tunnel it has not heard of: the
 * parent reads that tunnel now (the REST worker adds it to the KGP
 * worker's), or says there is none; then that the read is done, which
 * frees its place among the KGP worker's KGP_HOLD_MAX.
 */
static int
parent_tunnel_ask(struct imsgev *iev, struct imsg *imsg)
{
	struct srv_tunnel_ref	 ref;

	memcpy(&ref, imsg->data, sizeof(ref));
	dbmsg_ask(W_REST->chan ? &W_REST->iev : NULL, ref.id,
	    parent_tunnel_none);
	/* found, not found or not read: the KGP worker may ask again */
	parent_to(W_KGP, IMSG_SRV_TUNNEL_READ, &ref, sizeof(ref));
	return (IMSGEV_OK);
}

/* ... the database has no such tunnel: the HELLO is refused */
static void
parent_tunnel_none(const char *id)
{
	struct srv_tunnel_ref	 ref;

	memset(&ref, 0, sizeof(ref));
	strlcpy(ref.id, id, sizeof(ref.id));
	parent_to(W_KGP, IMSG_SRV_TUNNEL_NONE, &ref, sizeof(ref));
}

static void
parent_poll(int fd, short ev, void *arg)
{
	parent_db_poll();
}

/*
 * What the database tells: accounts changed by the command line, and
 * tunnels other nodes wrote, reach the REST worker.
 */
static void
parent_db_poll(void)
{
	struct imsgev	*rest = W_REST->chan ? &W_REST->iev : NULL;

	if (dbmsg_poll(rest) && rest != NULL)
		dbmsg_send_accounts(rest);
}
