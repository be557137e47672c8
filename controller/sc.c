/*
 * sc: the controller.  Start-up, the tunnel connection, shutdown.
 *
 * The top of the controller: it calls the other files, and none of them
 * calls it.  What they must tell it (a helper is up or died, the tunnel
 * is up, sc-ctl asks for the status or a stop, something cannot go on)
 * reaches it through the callbacks it gives their init functions
 * (supervise_cb, link_cb, control_cb, childmsg_init()'s start-up); each
 * of them keeps the state it was given (struct sc) in a static env of
 * its own.  The helpers' messages, and what sc-ctl asks of the helpers,
 * are childmsg.c's.
 */
#include <sys/types.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>

#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <tls.h>

#include "config.h"
#include "controller.h"
#include "log.h"
#include "pacans.h"
#include "proxyopt.h"
#include "sandbox.h"
#include "sdnotify.h"

#define RUNNING_TIMEOUT_SEC	60
#define STOP_TIMEOUT_SEC	30	/* the whole shutdown, REST calls included */
#define STOP_DRAIN_SEC		60	/* --wait-tunnel-shutdown: open streams */

static struct sc		*env;
static volatile sig_atomic_t	 sc_signalled;
static pid_t			 sc_pid;
static int			 sig_pipe[2] = { -1, -1 };
/* for the signal handler and atexit */
static char			 pidfile_path[PATH_MAX];
static char			 ctlsock_path[PATH_MAX];
static char			 readyfile_path[PATH_MAX];	/* made by sc */
/* started as root: the user to become */
static struct passwd		 sc_pw;

static void	 sc_shutdown(int);
static const char *sc_state_name(enum sc_state);
static void	 sc_status(struct ctl_status *, struct sc_link_stats *);
static void	 sc_touch_readyfile(void);
static int	 sc_tunnel_ready(void);
static int	 sc_remove_colliding(void);
static void	 sc_tunnel_up(void);
static void	 sc_sig_handler(int);
static void	 sc_sig_cb(int, short, void *);
static void	 sc_sigchld_cb(int, short, void *);
static void	 sc_sighup_cb(int, short, void *);
static void	 sc_stats_cb(int, short, void *);
static void	 sc_startup(int, short, void *);
static void	 sc_stop_rest(int, short, void *);
static void	 sc_stop_drain(int, short, void *);
static void	 sc_stop_poll(int, short, void *);
static void	 sc_stop_finish(void);
static void	 sc_cleanup(void);

/* what becomes of the helpers (supervise.c) */
static const struct supervise_cb sc_supervise_cb = {
	.ready = childmsg_ready,
	.died = childmsg_died,
	.stop = sc_shutdown,
};

/* what becomes of the tunnel connections (link.c) */
static const struct link_cb sc_link_cb = {
	.ready = sc_tunnel_ready,
	.up = sc_tunnel_up,
	.stop = sc_shutdown,
};

/* what the API asks (api.c) */
static const struct api_cb sc_api_cb = {
	.status = sc_status,
};

/* what sc-ctl may ask (control.c) */
static const struct control_cb sc_control_cb = {
	.status = sc_status,
	.stats_request = childmsg_stats_request,
	.stop = sc_shutdown,
	.reconnect = childmsg_reconnect,
	.streams_request = childmsg_streams_request,
};

static const char *
sc_state_name(enum sc_state s)
{
	switch (s) {
	case SC_STARTING:
		return ("starting");
	case SC_CONNECTING:
		return ("connecting");
	case SC_UP:
		return ("up");
	case SC_RECONNECTING:
		return ("reconnecting");
	case SC_STOPPING:
		return ("stopping");
	}
	return ("unknown");
}

static void
sc_cleanup(void)
{
	if (getpid() != sc_pid)
		return;
	control_cleanup();
	if (pidfile_path[0] != '\0')
		unlink(pidfile_path);
	pidfile_path[0] = '\0';
	if (readyfile_path[0] != '\0')
		unlink(readyfile_path);
	readyfile_path[0] = '\0';
	/* started as root: what _sc may not remove */
	spawner_cleanup();
}

/*
 * SIGINT/SIGTERM.  The first one starts the shutdown through the
 * self-pipe; a second one exits at once.  A copy of the first signal
 * that arrives within SIG_DEBOUNCE_MS (timeout(1) and process-group
 * kills deliver it twice) does not count as a second one.
 */
#define SIG_DEBOUNCE_MS	250
static struct timespec		 sig_first;

static void
sc_sig_handler(int sig)
{
	struct timespec	 now;
	long long	 ms;
	int		 saved = errno;

	clock_gettime(CLOCK_MONOTONIC, &now);
	if (sc_signalled) {
		ms = (now.tv_sec - sig_first.tv_sec) * 1000LL +
		    (now.tv_nsec - sig_first.tv_nsec) / 1000000;
		if (sig == sc_signalled && sig_first.tv_sec != 0 &&
		    ms < SIG_DEBOUNCE_MS) {
			errno = saved;
			return;
		}
		/*
		 * The second one: leave now.  Started as root, the spawner
		 * and the cleaner remove the files once sc is gone.
		 */
		if (pidfile_path[0] != '\0')
			unlink(pidfile_path);
		if (ctlsock_path[0] != '\0')
			unlink(ctlsock_path);
		if (readyfile_path[0] != '\0')
			unlink(readyfile_path);
		_exit(1);
	}
	sig_first = now;
	sc_signalled = sig;
	(void)write(sig_pipe[1], "s", 1);
	errno = saved;
}

static void
sc_sig_cb(int fd, short event, void *arg)
{
	char	 buf[16];

	while (read(fd, buf, sizeof(buf)) > 0)
		;
	if (env->state != SC_STOPPING) {
		log_info("Received %s", sc_signalled == SIGINT ? "SIGINT" :
		    "SIGTERM");
		sc_shutdown(0);
	}
}

static void
sc_sigchld_cb(int fd, short event, void *arg)
{
	supervise_sigchld();
}

/* SIGHUP: the log file again (logrotate moved it) */
static void
sc_sighup_cb(int fd, short event, void *arg)
{
	log_reopen();
	log_info("SIGHUP: log file reopened");
}

static void
sc_touch_readyfile(void)
{
	if (env->conf->readyfile == NULL)
		return;
	/* whoever waits for it finds "Sauce Connect is up" in the log */
	log_writer_flush();
	if (spawner_readyfile(env->conf->readyfile) == -1)
		log_warn("readyfile %s", env->conf->readyfile);
	else if (sc_pw.pw_name == NULL)
		strlcpy(readyfile_path, env->conf->readyfile,
		    sizeof(readyfile_path));
}

/*
 * Colliding tunnels go, once: after the create rather than before it (as
 * Sauce Connect 4 has it), while kgpd's handshake runs, so that the list
 * and the deletes are not on the way to ready; for a moment two of that
 * name run, which the server allows.  They are gone before the tunnel
 * is said to be up.
 */
static int
sc_remove_colliding(void)
{
	const struct sc_config	*conf = env->conf;
	static int		 done;
	char			 err[1024];
	int			 ret;

	if (done)
		return (0);
	done = 1;
	if (!conf->no_remove_colliding && !conf->tunnel_pool) {
		rest_abort_on_signal(1);
		ret = rest_remove_colliding(conf->tunnel_name, env->tunnel.id,
		    err, sizeof(err));
		rest_abort_on_signal(0);
		if (ret == REST_EABORT || sc_signalled)
			return (-1);	/* the signal event stops sc */
		if (ret != REST_OK) {
			sc_error("%s", err);
			sc_shutdown(1);
			return (-1);
		}
	}
	return (0);
}

/* The tunnel is up, the first time, and not yet said. */
static int
sc_tunnel_ready(void)
{
	return (sc_remove_colliding());
}

/* The tunnel is up, the first time, and said: the readyfile, systemd. */
static void
sc_tunnel_up(void)
{
	sc_touch_readyfile();
	sdnotify("READY=1\nSTATUS=Tunnel %s is up", env->tunnel.id);
}

static void
sc_status(struct ctl_status *st, struct sc_link_stats *ls)
{
	struct sc_stats	 kst, *k = &kst;

	childmsg_kgpd_stats_sum(k);
	memset(st, 0, sizeof(*st));
	strlcpy(st->tunnel_id, env->tunnel.id, sizeof(st->tunnel_id));
	strlcpy(st->tunnel_name, env->conf->tunnel_name != NULL ?
	    env->conf->tunnel_name : "", sizeof(st->tunnel_name));
	if (env->tunnel.host[0] != '\0' && snprintf(st->server,
	    sizeof(st->server), "%s:%d", env->tunnel.host,
	    env->tunnel.ssh_port) >= (int)sizeof(st->server))
		strlcpy(st->server, env->tunnel.host, sizeof(st->server));
	strlcpy(st->state, sc_state_name(env->state), sizeof(st->state));
	st->started = env->started;
	st->streams_open = k->streams_open;
	st->streams_total = k->streams_total;
	st->bytes_in = k->bytes_in;
	st->bytes_out = k->bytes_out;
	st->rtt_us = k->rtt_us;
	st->reconnects = env->reconnects;
	st->tls_handovers = children[CHILD_PROXYD].stats.tls_handovers;
	st->controller_pid = (int32_t)sc_pid;
	st->kgpd_pid = (int32_t)children[CHILD_KGPD].pid;
	st->proxyd_pid = (int32_t)children[CHILD_PROXYD].pid;
	st->nlinks = link_status(ls);
}

static void
sc_stats_cb(int fd, short event, void *arg)
{
	int	 i;

	for (i = 0; i < CHILD_MAX; i++)
		if (child_ready(i))
			child_compose(&children[i], IMSG_STATS_REQ, -1, NULL,
			    0);
	timer_add(env->stats_ev, 1, 0);
}

/*
 * Start-up, once both children said hello: an early connection to where
 * the KGP endpoint most likely is (link_early()), create the tunnel,
 * wait until it runs, connect (or go on with the early connection), and
 * remove colliding tunnels while kgpd's handshake runs.  The REST calls
 * block; kgpd does TLS meanwhile.
 */
static void
sc_startup(int fd, short event, void *arg)
{
	const struct sc_config	*conf = env->conf;
	struct rest_tunnel	 t;
	struct timespec		 ts = { 1, 0 };
	char			 err[1024];
	time_t			 deadline;
	int			 ret;

	if (env->state == SC_STOPPING)
		return;
	link_early();
	rest_abort_on_signal(1);
	sdnotify("STATUS=Creating the tunnel (REST API %s)", conf->rest_url);
	log_info("Starting the tunnel%s%s%s (REST API %s)",
	    conf->tunnel_name ? " \"" : "",
	    conf->tunnel_name ? conf->tunnel_name : "",
	    conf->tunnel_name ? "\"" : "", conf->rest_url);
	ret = rest_create(conf, &env->tunnel, err, sizeof(err));
	if (ret == REST_EABORT || (ret == REST_OK && sc_signalled)) {
		if (ret == REST_OK)
			env->tunnel_created = 1;
		goto interrupted;
	}
	if (ret != REST_OK) {
		sc_error("%s", err);
		/* a bad answer may still have created a tunnel */
		if (ret == REST_EPROTO && rest_id_ok(env->tunnel.id))
			env->tunnel_created = 1;
		sc_shutdown(1);
		return;
	}
	env->tunnel_created = 1;
	sc_console(LOG_INFO, "Tunnel ID: %s", env->tunnel.id);

	deadline = time(NULL) + RUNNING_TIMEOUT_SEC;
	while (strcmp(env->tunnel.status, "running") != 0) {
		if (strcmp(env->tunnel.status, "terminated") == 0 ||
		    strcmp(env->tunnel.status, "halting") == 0) {
			sc_error("the tunnel %s is %s before it ran",
			    env->tunnel.id, env->tunnel.status);
			sc_shutdown(1);
			return;
		}
		if (time(NULL) >= deadline) {
			sc_error("the tunnel %s is not running after %d "
			    "seconds (status: %s)", env->tunnel.id,
			    RUNNING_TIMEOUT_SEC, env->tunnel.status);
			sc_shutdown(1);
			return;
		}
		log_info("Tunnel %s is %s, waiting", env->tunnel.id,
		    env->tunnel.status);
		/* the loop waits too: keep systemd's watchdog fed */
		sdnotify_watchdog_ping();
		nanosleep(&ts, NULL);
		if (sc_signalled)
			goto interrupted;
		ret = rest_get(env->tunnel.id, &t, err, sizeof(err));
		if (ret == REST_EABORT || sc_signalled)
			goto interrupted;
		if (ret != REST_OK) {
			sc_error("%s", err);
			sc_shutdown(1);
			return;
		}
		/* the create answer alone carries the secret */
		strlcpy(env->tunnel.status, t.status,
		    sizeof(env->tunnel.status));
	}
	rest_abort_on_signal(0);
	if (env->ca == NULL && env->tunnel.cert_sha256[0] == '\0') {
		sc_error("the REST API gave no server_cert_sha256 to pin: "
		    "use --tunnel-cainfo");
		sc_shutdown(1);
		return;
	}
	log_info("Tunnel %s is running, connecting to %s:%d (%u "
	    "connection%s)", env->tunnel.id, env->tunnel.host,
	    env->tunnel.ssh_port, env->nlinks, env->nlinks == 1 ? "" : "s");
	env->state = SC_CONNECTING;
	sdnotify("STATUS=Tunnel %s is running, connecting to %s:%d",
	    env->tunnel.id, env->tunnel.host, env->tunnel.ssh_port);
	childmsg_kgp_config();
	link_start_all();
	/* the messages to kgpd leave before the REST calls block */
	if (child_ready(CHILD_KGPD))
		imsg_flush(&children[CHILD_KGPD].iev.ibuf);
	sc_remove_colliding();
	return;

 interrupted:
	rest_abort_on_signal(0);
	/* the signal event calls sc_shutdown() */
}

/*
 * Stop: drain, DELETE the tunnel, wait until it is terminated, stop the
 * children, exit.  Driven by timers so that the children's log lines
 * keep flowing.
 */
static void
sc_shutdown(int status)
{
	struct sigaction	 sa;

	if (env->state == SC_STOPPING)
		return;
	env->state = SC_STOPPING;
	env->exit_status = status;
	env->stop_deadline = time(NULL) + STOP_TIMEOUT_SEC;
	if (!sc_signalled)
		sc_signalled = SIGTERM;	/* the next signal exits at once */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = sc_sig_handler;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);

	sdnotify("STOPPING=1\nSTATUS=Shutting down");
	if (status == 0 || env->tunnel_created)
		log_info("Shutting down...");
	link_cancel_all();
	if (childmsg_kgpd_all(IMSG_KGP_DRAIN, 1) != 0 &&
	    env->conf->wait_shutdown && status == 0 && env->ever_up) {
		/* new streams are refused from now on; let the open ones end */
		env->drain_deadline = time(NULL) + STOP_DRAIN_SEC;
		env->drain_logged = 0;
		/* judge on fresh figures, not the last periodic ones */
		childmsg_stats_request();
		event_base_once(env->base, -1, EV_TIMEOUT, sc_stop_drain, NULL,
		    &(struct timeval){ 0, 200 * 1000 });
		return;
	}
	event_base_once(env->base, -1, EV_TIMEOUT, sc_stop_rest, NULL,
	    &(struct timeval){ 0, 0 });
}

/*
 * --wait-tunnel-shutdown: poll kgpd until no stream is open (bounded),
 * then delete the tunnel as usual.
 */
static void
sc_stop_drain(int fd, short event, void *arg)
{
	struct sc_stats	 k;
	uint64_t	 open;
	uint32_t	 running;

	running = childmsg_kgpd_stats_sum(&k);
	open = k.streams_open;
	if (running == 0 || open == 0 || time(NULL) >= env->drain_deadline) {
		if (running > 0 && open > 0)
			log_warnx("%llu streams still open after %d seconds, "
			    "deleting the tunnel anyway",
			    (unsigned long long)open, STOP_DRAIN_SEC);
		else if (env->drain_logged)
			log_info("All streams finished");
		env->stop_deadline = time(NULL) + STOP_TIMEOUT_SEC;
		sc_stop_rest(-1, 0, NULL);
		return;
	}
	if (!env->drain_logged) {
		log_info("Waiting for %llu open streams to finish (at most %d "
		    "seconds)", (unsigned long long)open, STOP_DRAIN_SEC);
		env->drain_logged = 1;
	}
	childmsg_stats_request();
	event_base_once(env->base, -1, EV_TIMEOUT, sc_stop_drain, NULL,
	    &(struct timeval){ 0, 200 * 1000 });
}

static void
sc_stop_rest(int fd, short event, void *arg)
{
	char	 err[1024];
	int	 ret;

	rest_abort_on_signal(0);
	if (!env->tunnel_created) {
		sc_stop_finish();
		return;
	}
	log_info("Deleting tunnel %s", env->tunnel.id);
	rest_set_timeouts(STOP_CONNECT_SEC, STOP_REQUEST_SEC);
	/* a 429's Retry-After is waited for within the shutdown's time */
	rest_set_deadline(env->stop_deadline);
	ret = rest_delete(env->tunnel.id, err, sizeof(err));
	if (ret == REST_ENOTFOUND) {
		sc_stop_finish();
		return;
	}
	if (ret != REST_OK) {
		sc_error("cannot delete the tunnel %s: %s", env->tunnel.id,
		    err);
		sc_stop_finish();
		return;
	}
	timer_add(env->stop_ev, 0, 200 * 1000);
}

static void
sc_stop_poll(int fd, short event, void *arg)
{
	struct rest_tunnel	 t;
	char			 err[1024];
	time_t			 left;
	int			 ret;

	/* no request may run past the deadline */
	left = env->stop_deadline - time(NULL);
	rest_set_timeouts(STOP_CONNECT_SEC, left < STOP_REQUEST_SEC ?
	    (long)left : STOP_REQUEST_SEC);
	ret = rest_get(env->tunnel.id, &t, err, sizeof(err));
	if (ret == REST_ENOTFOUND ||
	    (ret == REST_OK && strcmp(t.status, "terminated") == 0)) {
		log_info("Tunnel %s terminated", env->tunnel.id);
		sc_stop_finish();
		return;
	}
	if (ret == REST_EAUTH || ret == REST_ERATE) {
		/* asking again will not help: 429 waited already */
		sc_error("cannot see whether the tunnel %s is terminated: %s",
		    env->tunnel.id, err);
		sc_stop_finish();
		return;
	}
	if (ret != REST_OK)
		log_warnx("%s", err);
	if (time(NULL) >= env->stop_deadline) {
		log_warnx("the tunnel %s is still %s after %d seconds, "
		    "exiting anyway", env->tunnel.id,
		    ret == REST_OK ? t.status : "not terminated",
		    STOP_TIMEOUT_SEC);
		sc_stop_finish();
		return;
	}
	timer_add(env->stop_ev, 0, 500 * 1000);
}

static void
sc_stop_finish(void)
{
	supervise_stop_all();
	rest_cleanup();
	sdnotify_cleanup();
	if (env->exit_status == 0)
		sc_console(LOG_INFO, "Goodbye.");
	sc_cleanup();
	exit(env->exit_status);
}

int
main(int argc, char *argv[])
{
	static struct sc	 sc;
	static struct sc_config	 sc_conf;
	struct sc_config	*conf = &sc_conf;
	struct sigaction	 sa;
	struct sandbox_files	 sb;
	struct event		*sig_ev, *sighup_ev;
	char			 err[1024], *p;
	const char		*w;
	int			 i, ret;

	sc_pid = getpid();
	env = &sc;
	env->conf = conf;
	config_init(conf);
	ret = config_parse(conf, argc, argv, err, sizeof(err));
	switch (ret) {
	case CONFIG_OK:
		break;
	case CONFIG_HELP:
		config_usage(stdout, conf->legacy);
		return (0);
	case CONFIG_VERSION:
		printf("sc %s\n", SC_VERSION);
		return (0);
	case CONFIG_TEMPLATE:
		config_template(stdout);
		return (0);
	case CONFIG_USAGE:
		fprintf(stderr, "Error: %s\n", err);
		config_usage(stderr, conf->legacy);
		return (2);
	default:
		fprintf(stderr, "Error: %s\n", err);
		return (1);
	}

	/* the key and the proxy's password out of the environment */
	config_scrub_env();
	console_init(conf->logfile);

	env->started = time(NULL);
	env->state = SC_STARTING;

	log_procinit("sc");
	log_init(LOG_DST_STDOUT, LOG_DAEMON);
	log_setverbose(conf->verbose);
	log_set_format(conf->log_format);
	log_set_maxsize(conf->max_logsize);
	if (conf->logfile != NULL && log_set_file(conf->logfile) == -1) {
		fprintf(stderr, "Error: cannot open the log file %s: %s\n",
		    conf->logfile, strerror(errno));
		return (1);
	}
	signal(SIGPIPE, SIG_IGN);
	/* SIGHUP reopens the log file: ignored until the event is there */
	signal(SIGHUP, SIG_IGN);
	atexit(sc_cleanup);
	prep_nofile();

	log_info("sc %s starting (%s command line), REST API %s", SC_VERSION,
	    conf->legacy ? "version 4" : "version 5", conf->rest_url);
	for (w = config_warning(); w != NULL && *w != '\0';
	    w += strcspn(w, "\n"), w += *w == '\n')
		sc_console(LOG_WARNING, "Warning: %.*s", (int)strcspn(w, "\n"),
		    w);
	/* --doctor: the checks, and no tunnel */
	if (conf->doctor)
		return (doctor_run(conf, &sc_signalled));
	log_debug("user %s, tunnel name %s, control socket %s", conf->user,
	    conf->tunnel_name ? conf->tunnel_name : "(none)", conf->ctl_socket);
	config_proxy_log(conf);
	if (conf->se_port_set && conf->se_port != 0)
		log_info("Notice: the Selenium relay (--se-port %d) is not "
		    "implemented; no port is opened", conf->se_port);

	/* systemd's socket: connected now, before any sandbox */
	sdnotify_init();
	if (prep_user(&sc_pw) == -1)
		return (1);
	if (conf->tunnel_cainfo != NULL && prep_pem("--tunnel-cainfo",
	    conf->tunnel_cainfo, &env->ca, &env->calen) == -1)
		return (1);
	if (prep_app_cas(conf, &env->app_ca, &env->app_calen) == -1)
		return (1);
	if (conf->pidfile != NULL) {
		if (prep_pidfile(conf->pidfile) == -1) {
			sc_error("cannot write the pidfile %s: %s",
			    conf->pidfile, strerror(errno));
			return (1);
		}
		strlcpy(pidfile_path, conf->pidfile, sizeof(pidfile_path));
	}
	if (conf->readyfile != NULL && unlink(conf->readyfile) == -1 &&
	    errno != ENOENT)
		log_warn("cannot remove the old readyfile %s", conf->readyfile);
	if (control_init(conf->ctl_socket, err, sizeof(err)) == -1) {
		sc_error("%s", err);
		return (1);
	}
	strlcpy(ctlsock_path, conf->ctl_socket, sizeof(ctlsock_path));
	env->scproxy_fd = -1;
	if (conf->scproxy_port != 0 && (env->scproxy_fd =
	    config_scproxy_listen(conf->scproxy_port, err, sizeof(err))) == -1) {
		sc_error("%s", err);
		return (1);
	}
	/* --pac: the script, read or fetched now, for every pacd */
	env->pac_fd = -1;
	if (conf->pac != NULL && (env->pac_fd = pac_load(conf->pac)) == -1)
		return (1);
	/* --api-address: bound now, served once the loop runs */
	if (api_init(conf, err, sizeof(err)) == -1) {
		sc_error("%s", err);
		return (1);
	}

	/* hide the key from ps(1), before the spawner is forked */
	for (i = 1; i < argc; i++)
		if ((p = strstr(argv[i], conf->key)) != NULL)
			memset(p, '*', strlen(conf->key));
	/* and the upstream proxy's password */
	config_hide_secrets(conf, argc, argv);
	for (i = 1; i < argc; i++)
		config_mask_auth(conf, argv[i]);	/* -a's passwords */

	if ((env->base = event_base_new()) == NULL)
		sc_fatal("cannot create the event base");
	/* the children's messages (childmsg.c) */
	childmsg_init(env, sc_startup);
	children[CHILD_PAC].off = env->pac_fd == -1;
	/* the children's log output; started as root, the spawner */
	if (supervise_init(env, &sc_supervise_cb, sc_pw.pw_name != NULL ?
	    &sc_pw : NULL) == -1)
		return (1);
	/* after the spawner is forked: it never holds the key */
	if (rest_init(conf, &sc_signalled) == -1) {
		sc_error("cannot initialise libcurl");
		return (1);
	}
	/*
	 * Started as root, everything that needs it is open now (log file,
	 * pidfile, control socket, CA files): become _sc.  The spawner kept
	 * root to start kgpd and proxyd, which chroot and switch themselves.
	 */
	if (sc_pw.pw_name != NULL) {
		sandbox_setuser(&sc_pw);
		log_debug("running as %s (uid %u); kgpd and proxyd chroot to "
		    "%s", sc_pw.pw_name, (unsigned)sc_pw.pw_uid, SC_CHROOT);
	}

	/* the key lives in libcurl now */
	explicit_bzero(conf->key, strlen(conf->key));

	/* SIGINT/SIGTERM: a self-pipe, so blocking REST calls notice too */
	if (pipe2(sig_pipe, O_CLOEXEC | O_NONBLOCK) == -1)
		sc_fatal("pipe: %s", strerror(errno));
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = sc_sig_handler;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = SA_RESTART;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	if ((sig_ev = event_new(env->base, sig_pipe[0], EV_READ | EV_PERSIST,
	    sc_sig_cb, NULL)) == NULL)
		sc_fatal("event_new");
	event_add(sig_ev, NULL);
	env->sigchld_ev = evsignal_new(env->base, SIGCHLD, sc_sigchld_cb, NULL);
	evsignal_add(env->sigchld_ev, NULL);
	if ((sighup_ev = evsignal_new(env->base, SIGHUP, sc_sighup_cb,
	    NULL)) == NULL)
		sc_fatal("evsignal_new");
	evsignal_add(sighup_ev, NULL);

	if (sdnotify_watchdog(env->base) == 1)
		log_debug("systemd watchdog on");
	env->stats_ev = evtimer_new(env->base, sc_stats_cb, NULL);
	env->stop_ev = evtimer_new(env->base, sc_stop_poll, NULL);
	if (env->stats_ev == NULL || env->stop_ev == NULL)
		sc_fatal("evtimer_new");

	link_init(env, &sc_link_cb);
	/* the sandbox: see sandbox_controller() in common/sandbox.c */
	memset(&sb, 0, sizeof(sb));
	sb.logfile = conf->logfile;
	sb.cafile = config_cainfo;
	if (sc_pw.pw_name == NULL) {
		/* no spawner: sc starts kgpd and proxyd, removes its files */
		spawner_sandbox_files(&sb, 1);
	}
	sandbox_controller(&sb);
	/* in the sandbox: a thread writes the log from now on */
	if (log_writer_start() == -1)
		log_warn("no log writer thread, the log is written directly");
	supervise_start_all();
	timer_add(env->stats_ev, 1, 0);
	control_listen(env->base, &sc_control_cb);
	api_listen(env, &sc_api_cb);

	event_base_dispatch(env->base);
	/* not reached: sc_stop_finish() exits */
	sc_stop_finish();
	return (1);
}
