/*
 * The sc-server parent: everything that needs privilege or the file
 * system, and nothing that faces the network.
 *
 * It reads the accounts file (again on SIGHUP, and when it changes: the
 * file is looked at every second), loads or generates the KGP key pair,
 * reads the -C/-k key pair, binds the REST and KGP ports and, when the
 * worker asks, each entry proxy's port; it writes tunnels.json when the
 * worker sends the registry.  It starts the worker (the same program, -W,
 * with a scrubbed environment; fd 3 is their imsg channel), hands it all
 * of that and supervises it.
 *
 * A worker that dies once it was serving is logged and replaced after a
 * second: its KGP sessions and open streams are lost, the tunnels are not
 * (the new worker reads the registry back, as after a restart of the
 * server, and the clients reconnect).  A worker that dies during its
 * start, or five times in a row within 30 seconds of its start, ends the
 * server with exit status 1.  The worker is not trusted: a message that
 * does not check out gets it killed (and replaced), never the parent.
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
#include <limits.h>
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
#include "server.h"

#define WORKER_RESTART_SEC	1
#define WORKER_QUICK_SEC	30	/* a death this soon after its start, */
#define WORKER_QUICK_MAX	5	/* this many times in a row: give up */
#define WORKER_STOP_SEC		(SERVER_DRAIN_SEC + 10)
#define ACCOUNTS_POLL_SEC	1

static void	 parent_sig(int, short, void *);
static void	 parent_spawn(void);
static void	 parent_exec(int) __attribute__((noreturn));
static void	 parent_send_setup(void);
static void	 parent_send_accounts(void);
static void	 parent_dispatch(int, short, void *);
static int	 parent_imsg(struct imsg *);
static int	 parent_entry_bind(struct imsg *);
static void	 parent_worker_bad(const char *, uint32_t);
static void	 parent_check_gone(void);
static void	 parent_restart(int, short, void *);
static void	 parent_stop_timeout(int, short, void *);
static void	 parent_reap_timeout(int, short, void *);
static void	 parent_kill_worker(void);
static void	 parent_poll(int, short, void *);

static const char	*self_exe;
static struct imsgev	 iev_worker;
static struct srv_blob	 blob_in;
static pid_t		 worker_pid = -1;
static int		 worker_chan;	/* its channel is open */
static int		 worker_reaped;	/* its wait status is known */
static int		 worker_status;
static int		 worker_ready;	/* it said it serves */
static int		 worker_quick;
static struct timespec	 worker_started;
static int		 rest_fd = -1, kgp_fd = -1;
static struct event	*ev_restart, *ev_stop, *ev_poll, *ev_reap;
static int		 exit_code;

/* The environment the worker gets: nothing from the user but these. */
static const char *pass_env[] = {
	"TZ", "ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS", NULL
};

/*
 * The parent's start: files and ports, then the worker.  self is how
 * to execute this program again.  Returns the exit status.
 */
int
parent_main(const char *self, const char *raddr, const char *kaddr)
{
	struct event	*sigterm, *sigint, *sighup, *sigchld;
	struct timeval	 tv = { ACCOUNTS_POLL_SEC, 0 };
	SSL_CTX		*ctx;
	char		 err[256], host[HOST_MAX], port[16], *p;

	self_exe = self;
	/* it holds the keys: no core file, no tracing by its own user */
	if (setrlimit(RLIMIT_CORE, &(struct rlimit){ 0, 0 }) == -1)
		fatal("setrlimit RLIMIT_CORE");
#ifdef __linux__
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) == -1)
		fatal("PR_SET_DUMPABLE");
#endif
	if (geteuid() == 0) {
		/* the worker's user and empty root: say so now */
		if (getpwnam(SC_USER) == NULL)
			fatalx("started as root, but there is no user %s for "
			    "the worker to run as: create it with \"%s\"",
			    SC_USER, SC_USER_HINT);
		if (sandbox_check_chroot(SC_CHROOT, err, sizeof(err)) == -1)
			fatalx("the worker's empty root: %s", err);
	}

	if (accounts_reload() == -1)
		log_warnx("no accounts loaded from %s", env->accounts_path);
	else if (TAILQ_EMPTY(&env->accounts))
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
	if ((kgp_fd = listen_on(host, port, KGP_BACKLOG, env->kgp_addr,
	    sizeof(env->kgp_addr))) == -1)
		fatalx("cannot start the KGP endpoint");
	p = strrchr(env->kgp_addr, ':');
	env->kgp_port = atoi(p + 1);

	log_info("REST API listening on %s://%s%s", env->rest_tls ? "https" :
	    "http", env->rest_addr, REST_PREFIX);
	if (env->entry_auth)
		log_info("entry proxies require Proxy-Authorization");
	log_info("KGP listening on %s (certificate %s)", env->kgp_addr,
	    env->cert_hash);

	if (!env->debug) {
		log_init(LOG_DST_SYSLOG, LOG_DAEMON);
		if (daemon(0, 0) == -1)
			fatal("daemon");
	}

	if ((env->base = event_base_new()) == NULL)
		fatalx("event_base_new");
	sigterm = evsignal_new(env->base, SIGTERM, parent_sig, NULL);
	sigint = evsignal_new(env->base, SIGINT, parent_sig, NULL);
	sighup = evsignal_new(env->base, SIGHUP, parent_sig, NULL);
	sigchld = evsignal_new(env->base, SIGCHLD, parent_sig, NULL);
	ev_restart = evtimer_new(env->base, parent_restart, NULL);
	ev_stop = evtimer_new(env->base, parent_stop_timeout, NULL);
	ev_poll = event_new(env->base, -1, EV_PERSIST, parent_poll, NULL);
	ev_reap = evtimer_new(env->base, parent_reap_timeout, NULL);
	if (sigterm == NULL || sigint == NULL || sighup == NULL ||
	    sigchld == NULL || ev_restart == NULL || ev_stop == NULL ||
	    ev_poll == NULL || ev_reap == NULL)
		fatalx("event_new");
	evsignal_add(sigterm, NULL);
	evsignal_add(sigint, NULL);
	evsignal_add(sighup, NULL);
	evsignal_add(sigchld, NULL);
	evtimer_add(ev_poll, &tv);

	parent_spawn();
	if (event_base_dispatch(env->base) == -1)
		fatalx("event_base_dispatch");

	log_info("exiting");
	event_free(sigterm);
	event_free(sigint);
	event_free(sighup);
	event_free(sigchld);
	event_free(ev_restart);
	event_free(ev_stop);
	event_free(ev_poll);
	event_free(ev_reap);
	event_base_free(env->base);
	accounts_clear(&env->accounts);
	freezero(env->kgp_key_pem, env->kgp_key_len);
	free(env->kgp_cert_pem);
	if (env->rest_key_pem != NULL)
		freezero(env->rest_key_pem, env->rest_key_len);
	free(env->rest_cert_pem);
	close(rest_fd);
	close(kgp_fd);
	return (exit_code);
}

static void
parent_sig(int sig, short ev, void *arg)
{
	struct timeval	 tv = { WORKER_STOP_SEC, 0 };
	pid_t		 pid;
	int		 status;

	switch (sig) {
	case SIGCHLD:
		while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
			if (pid != worker_pid)
				continue;
			worker_reaped = 1;
			worker_status = status;
		}
		parent_check_gone();
		break;
	case SIGHUP:
		log_info("SIGHUP: reloading accounts");
		if (accounts_reload() == 0 && worker_chan)
			parent_send_accounts();
		break;
	case SIGTERM:
	case SIGINT:
		if (env->shutting_down)
			break;
		log_info("%s: shutting down",
		    sig == SIGTERM ? "SIGTERM" : "SIGINT");
		env->shutting_down = 1;
		evtimer_del(ev_restart);
		if (worker_pid == -1) {
			event_base_loopexit(env->base, NULL);
			break;
		}
		/*
		 * The worker drains its connections, then exits.  A message,
		 * not a signal: the parent may lack CAP_KILL for a worker
		 * that is another user.
		 */
		if (!worker_chan || imsg_compose_event(&iev_worker,
		    IMSG_SRV_SHUTDOWN, 0, 0, -1, NULL, 0) == -1)
			parent_kill_worker();
		evtimer_add(ev_stop, &tv);
		break;
	}
}

/* A new worker, and everything it needs. */
static void
parent_spawn(void)
{
	int	 sp[2];
	pid_t	 pid;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) == -1)
		fatal("%s: socketpair", __func__);
	if ((pid = fork()) == -1)
		fatal("%s: fork", __func__);
	if (pid == 0)
		parent_exec(sp[1]);
	close(sp[1]);
	if (set_nonblock(sp[0]) == -1)
		fatal("%s: set_nonblock", __func__);
	worker_pid = pid;
	worker_chan = 1;
	worker_reaped = 0;
	worker_ready = 0;
	clock_gettime(CLOCK_MONOTONIC, &worker_started);
	imsgev_init(&iev_worker, env->base, sp[0], parent_dispatch, NULL);
	parent_send_setup();
	log_debug("worker started (pid %d)", (int)pid);
}

/*
 * In the new process: fd 3 is the channel, nothing else past stderr, a
 * scrubbed environment, its own process group (a ^C reaches the parent
 * only, which stops the worker).  Only async-signal-safe calls.
 */
static void
parent_exec(int fd)
{
	char		*argv[3], *envp[8];
	char		 envbuf[4][512];
	const char	*v;
	sigset_t	 set;
	int		 i, n, fd3;

	argv[0] = "sc-server";
	argv[1] = "-W";
	argv[2] = NULL;
	n = 0;
	envp[n++] = "PATH=/usr/bin:/bin";
	for (i = 0; pass_env[i] != NULL && n < 5; i++) {
		if ((v = getenv(pass_env[i])) == NULL)
			continue;
		snprintf(envbuf[n - 1], sizeof(envbuf[0]), "%s=%s",
		    pass_env[i], v);
		envp[n] = envbuf[n - 1];
		n++;
	}
	envp[n] = NULL;

	setpgid(0, 0);
	signal(SIGPIPE, SIG_DFL);
	signal(SIGCHLD, SIG_DFL);
	signal(SIGINT, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	signal(SIGHUP, SIG_DFL);
	sigemptyset(&set);
	sigprocmask(SIG_SETMASK, &set, NULL);
	if ((fd3 = fcntl(fd, F_DUPFD, 10)) == -1 ||
	    dup2(fd3, SRV_WORKER_FD) == -1)
		_exit(127);
	closefrom(SRV_WORKER_FD + 1);
	execve(self_exe, argv, envp);
	dprintf(STDERR_FILENO, "sc-server: execve %s: %s\n", self_exe,
	    strerror(errno));
	_exit(127);
}

/* The configuration, the listeners, the keys, the accounts, the registry. */
static void
parent_send_setup(void)
{
	struct srv_config	 c;
	uint32_t		 which;
	char			*state;
	size_t			 len;
	int			 fd;

	memset(&c, 0, sizeof(c));
	c.version = SRV_IMSG_VERSION;
	c.debug = env->debug;
	c.verbose = env->verbose;
	c.grace = env->grace;
	c.max_missed = env->max_missed;
	c.entry_auth = env->entry_auth;
	c.rest_tls = env->rest_tls;
	c.kgp_port = env->kgp_port;
	strlcpy(c.host, env->host, sizeof(c.host));
	strlcpy(c.entry_host, env->entry_host, sizeof(c.entry_host));
	strlcpy(c.rest_addr, env->rest_addr, sizeof(c.rest_addr));
	strlcpy(c.kgp_addr, env->kgp_addr, sizeof(c.kgp_addr));
	strlcpy(c.tunnels_path, env->tunnels_path, sizeof(c.tunnels_path));
	c.entry_nacl = env->entry_nacl;
	memcpy(c.entry_acl, env->entry_acl, sizeof(c.entry_acl));
	if (imsg_compose(&iev_worker.ibuf, IMSG_SRV_CONFIG, 0, 0, -1, &c,
	    sizeof(c)) == -1)
		fatal("%s: imsg_compose", __func__);

	which = SRV_LISTEN_REST;
	if ((fd = fcntl(rest_fd, F_DUPFD_CLOEXEC, 0)) == -1 ||
	    imsg_compose(&iev_worker.ibuf, IMSG_SRV_LISTENER, 0, 0, fd,
	    &which, sizeof(which)) == -1)
		fatal("%s: the REST listener", __func__);
	which = SRV_LISTEN_KGP;
	if ((fd = fcntl(kgp_fd, F_DUPFD_CLOEXEC, 0)) == -1 ||
	    imsg_compose(&iev_worker.ibuf, IMSG_SRV_LISTENER, 0, 0, fd,
	    &which, sizeof(which)) == -1)
		fatal("%s: the KGP listener", __func__);

	if (srv_blob_send(&iev_worker, SRV_BLOB_KGP_CRT, env->kgp_cert_pem,
	    env->kgp_cert_len, 0) == -1 ||
	    srv_blob_send(&iev_worker, SRV_BLOB_KGP_KEY, env->kgp_key_pem,
	    env->kgp_key_len, 0) == -1)
		fatal("%s: the KGP key pair", __func__);
	if (env->rest_tls && (srv_blob_send(&iev_worker, SRV_BLOB_REST_CRT,
	    env->rest_cert_pem, env->rest_cert_len, 0) == -1 ||
	    srv_blob_send(&iev_worker, SRV_BLOB_REST_KEY, env->rest_key_pem,
	    env->rest_key_len, 0) == -1))
		fatal("%s: the REST key pair", __func__);
	parent_send_accounts();
	if ((state = state_read_file(&len)) == NULL)
		fatal("%s: the registry", __func__);
	if (srv_blob_send(&iev_worker, SRV_BLOB_STATE, state, len, 0) == -1)
		fatal("%s: the registry", __func__);
	freezero(state, len + 1);
	if (imsg_compose_event(&iev_worker, IMSG_SRV_START, 0, 0, -1, NULL,
	    0) == -1)
		fatal("%s: imsg_compose", __func__);
}

/* The account list as the worker gets it: names, salts, hashes. */
static void
parent_send_accounts(void)
{
	struct srv_account	*a;
	struct account		*acct;
	size_t			 n = 0, i = 0;

	TAILQ_FOREACH(acct, &env->accounts, entry)
		n++;
	if ((a = calloc(n ? n : 1, sizeof(*a))) == NULL)
		fatal("%s", __func__);
	TAILQ_FOREACH(acct, &env->accounts, entry) {
		strlcpy(a[i].name, acct->name, sizeof(a[i].name));
		memcpy(a[i].salt, acct->salt, sizeof(a[i].salt));
		memcpy(a[i].hash, acct->hash, sizeof(a[i].hash));
		i++;
	}
	if (srv_blob_send(&iev_worker, SRV_BLOB_ACCOUNTS, a, n * sizeof(*a),
	    0) == -1)
		fatal("%s: imsg", __func__);
	freezero(a, (n ? n : 1) * sizeof(*a));
}

static void
parent_dispatch(int fd, short event, void *arg)
{
	struct imsgev	*iev = arg;
	struct imsg	 imsg;
	ssize_t		 n;

	if (imsgev_io(iev, event) == -1) {
		/* the worker is gone, or going: see that it is */
		struct timeval	 tv = { 2, 0 };

		imsgev_clear(iev);
		worker_chan = 0;
		if (worker_pid != -1 && !worker_reaped)
			evtimer_add(ev_reap, &tv);
		parent_check_gone();
		return;
	}
	for (;;) {
		if ((n = imsg_get(&iev->ibuf, &imsg)) == -1) {
			parent_worker_bad("a broken message", 0);
			return;
		}
		if (n == 0)
			break;
		if (parent_imsg(&imsg) == -1) {
			parent_worker_bad("a bad message", imsg.hdr.type);
			imsg_free(&imsg);
			return;
		}
		imsg_free(&imsg);
	}
	imsg_event_add(iev);
}

/* One message of the worker; -1 if it does not check out. */
static int
parent_imsg(struct imsg *imsg)
{
	struct sc_hello	 hello;
	uint64_t	 seq;
	int32_t		 pri;
	const char	*msg;
	char		 line[IMSG_MAXDATA];
	size_t		 len;
	int		 r;

	switch (imsg->hdr.type) {
	case IMSG_SRV_HELLO:
		if (imsg_get_data(imsg, &hello, sizeof(hello)) == -1 ||
		    hello.version != SRV_IMSG_VERSION)
			return (-1);
		log_debug("worker %u: hello", hello.pid);
		return (0);
	case IMSG_LOG:
		/* int32 priority, then one string */
		len = IMSG_DATA_SIZE(imsg);
		if (len <= sizeof(pri))
			return (-1);
		memcpy(&pri, imsg->data, sizeof(pri));
		msg = (const char *)imsg->data + sizeof(pri);
		len -= sizeof(pri);
		if (pri < LOG_EMERG || pri > LOG_DEBUG ||
		    msg[len - 1] != '\0' || strlen(msg) != len - 1)
			return (-1);
		/* one line, whatever the worker may have become */
		log_sanitize(msg, line, sizeof(line));
		log_emit(pri, "worker", line);
		return (0);
	case IMSG_SRV_READY:
		if (IMSG_DATA_SIZE(imsg) != 0)
			return (-1);
		worker_ready = 1;
		log_debug("worker %d: serving", (int)worker_pid);
		return (0);
	case IMSG_SRV_ENTRY_BIND:
		return (parent_entry_bind(imsg));
	case IMSG_SRV_STATE_ASIDE:
		if (IMSG_DATA_SIZE(imsg) != 0)
			return (-1);
		state_set_aside();
		return (0);
	case IMSG_SRV_BLOB_BEGIN:
	case IMSG_SRV_BLOB:
	case IMSG_SRV_BLOB_END:
		if ((r = srv_blob_recv(&blob_in, imsg)) == -1 ||
		    blob_in.kind != SRV_BLOB_SAVE) {
			srv_blob_clear(&blob_in);
			return (-1);
		}
		if (r == 0)
			return (0);
		state_write(blob_in.buf, blob_in.len);
		seq = blob_in.seq;
		srv_blob_clear(&blob_in);
		if (imsg_compose_event(&iev_worker, IMSG_SRV_SAVED, 0, 0, -1,
		    &seq, sizeof(seq)) == -1)
			fatal("%s: imsg_compose", __func__);
		return (0);
	default:
		return (-1);
	}
}

/*
 * A port for a tunnel's entry proxy, on the -E address: the one the
 * worker wants (the tunnel had it before a restart), or one the kernel
 * chooses.  Never a privileged port.
 */
static int
parent_entry_bind(struct imsg *imsg)
{
	struct srv_entry_req	 req;
	struct srv_entry_reply	 rep;
	char			 port[16], bound[ADDRSTR_MAX];
	int			 fd;

	if (imsg_get_data(imsg, &req, sizeof(req)) == -1 ||
	    memchr(req.tunnel_id, '\0', sizeof(req.tunnel_id)) == NULL ||
	    !tunnel_id_valid(req.tunnel_id) ||
	    (req.want != 0 && (req.want < 1024 || req.want > 65535)))
		return (-1);
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
	if (imsg_compose_event(&iev_worker, IMSG_SRV_ENTRY_FD, 0, 0, fd, &rep,
	    sizeof(rep)) == -1)
		fatal("%s: imsg_compose", __func__);
	return (0);
}

/* The worker broke the protocol: it is not to be trusted any more. */
static void
parent_worker_bad(const char *what, uint32_t type)
{
	log_warnx("worker %d sent %s (type %u): killing it", (int)worker_pid,
	    what, type);
	imsgev_clear(&iev_worker);
	worker_chan = 0;
	srv_blob_clear(&blob_in);
	parent_kill_worker();
	parent_check_gone();
}

/*
 * SIGKILL for the worker.  Without the right to (a parent that is root
 * without CAP_KILL), give up: the parent exits, and the kernel ends the
 * worker with it (PR_SET_PDEATHSIG), or the worker sees its channel
 * close and exits.
 */
static void
parent_kill_worker(void)
{
	if (worker_pid == -1 || worker_reaped)
		return;
	if (kill(worker_pid, SIGKILL) == 0 || errno == ESRCH)
		return;
	log_warn("cannot kill worker %d", (int)worker_pid);
	log_warnx("exiting: the worker ends with the parent");
	exit_code = 1;
	event_base_loopexit(env->base, NULL);
}

/* The channel closed but the worker does not end. */
static void
parent_reap_timeout(int fd, short ev, void *arg)
{
	if (worker_pid == -1 || worker_reaped)
		return;
	log_warnx("worker %d closed its channel but runs on: killing it",
	    (int)worker_pid);
	parent_kill_worker();
}

/*
 * Once the worker's channel is closed and its wait status known: stop,
 * or start another one.
 */
static void
parent_check_gone(void)
{
	struct timespec	 now;
	struct timeval	 tv = { WORKER_RESTART_SEC, 0 };
	char		 how[64];
	pid_t		 pid = worker_pid;

	if (pid == -1 || worker_chan || !worker_reaped)
		return;
	worker_pid = -1;
	evtimer_del(ev_reap);
	srv_blob_clear(&blob_in);
	if (WIFEXITED(worker_status))
		snprintf(how, sizeof(how), "exited with status %d",
		    WEXITSTATUS(worker_status));
	else if (WIFSIGNALED(worker_status))
		snprintf(how, sizeof(how), "was killed by signal %d (%s)",
		    WTERMSIG(worker_status), strsignal(WTERMSIG(worker_status)));
	else
		snprintf(how, sizeof(how), "ended (status %#x)", worker_status);

	if (env->shutting_down) {
		evtimer_del(ev_stop);
		if (WIFEXITED(worker_status) &&
		    WEXITSTATUS(worker_status) == 0)
			log_debug("worker %d exited", (int)pid);
		else {
			log_warnx("worker %d %s", (int)pid, how);
			exit_code = 1;
		}
		event_base_loopexit(env->base, NULL);
		return;
	}
	if (!worker_ready) {
		log_warnx("worker %d %s during its start: sc-server cannot "
		    "serve", (int)pid, how);
		exit_code = 1;
		event_base_loopexit(env->base, NULL);
		return;
	}
	clock_gettime(CLOCK_MONOTONIC, &now);
	if (now.tv_sec - worker_started.tv_sec < WORKER_QUICK_SEC)
		worker_quick++;
	else
		worker_quick = 0;
	if (worker_quick >= WORKER_QUICK_MAX) {
		log_warnx("worker %d %s, the %dth time in a row within %d s "
		    "of its start: giving up", (int)pid, how, worker_quick,
		    WORKER_QUICK_SEC);
		exit_code = 1;
		event_base_loopexit(env->base, NULL);
		return;
	}
	log_warnx("worker %d %s: starting a new one in %d s (the KGP "
	    "sessions are lost, the tunnels stay)", (int)pid, how,
	    WORKER_RESTART_SEC);
	evtimer_add(ev_restart, &tv);
}

static void
parent_restart(int fd, short ev, void *arg)
{
	if (!env->shutting_down)
		parent_spawn();
}

static void
parent_stop_timeout(int fd, short ev, void *arg)
{
	if (worker_pid == -1)
		return;
	log_warnx("worker %d still runs %d s after SIGTERM: killing it",
	    (int)worker_pid, WORKER_STOP_SEC);
	exit_code = 1;
	parent_kill_worker();
}

/* A changed accounts file ("user add" while running) reaches the worker. */
static void
parent_poll(int fd, short ev, void *arg)
{
	if (accounts_maybe_reload() && worker_chan)
		parent_send_accounts();
}
