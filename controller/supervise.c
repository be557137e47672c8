/*
 * Supervision of kgpd, proxyd and, with --pac, pacd: each one's channels
 * (fd 3 to the controller; fd 4 to its peer, or pacd's script), its
 * hello, and its restart with backoff
 * when it dies (see SC_START_TRIES and its kin in controller.h: a helper
 * that cannot be started again ends sc, which a supervisor may then
 * restart).  spawner.c starts the processes; what becomes of them goes
 * to the controller through the callbacks of supervise_init().
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "controller.h"
#include "log.h"
#include "pacans.h"

#define KGPD_CHILD(i, n)	[CHILD_KGPD + (i)] = { .id = CHILD_KGPD + (i), \
	.name = (n), .prog = "kgpd", .kgpd = (i) }
_Static_assert(SC_KGPD_MAX == 16, "one KGPD_CHILD() per kgpd");
struct child	 children[CHILD_MAX] = {
	KGPD_CHILD(0, "kgpd"), KGPD_CHILD(1, "kgpd1"), KGPD_CHILD(2, "kgpd2"),
	KGPD_CHILD(3, "kgpd3"), KGPD_CHILD(4, "kgpd4"), KGPD_CHILD(5, "kgpd5"),
	KGPD_CHILD(6, "kgpd6"), KGPD_CHILD(7, "kgpd7"), KGPD_CHILD(8, "kgpd8"),
	KGPD_CHILD(9, "kgpd9"), KGPD_CHILD(10, "kgpd10"),
	KGPD_CHILD(11, "kgpd11"), KGPD_CHILD(12, "kgpd12"),
	KGPD_CHILD(13, "kgpd13"), KGPD_CHILD(14, "kgpd14"),
	KGPD_CHILD(15, "kgpd15"),
	[CHILD_PROXYD] = { .id = CHILD_PROXYD, .name = "proxyd",
	    .prog = "proxyd" },
	[CHILD_PAC] = { .id = CHILD_PAC, .name = "pacd", .prog = "pacd" },
};

static struct sc		*env;
static const struct supervise_cb *sv_cb;
static int			 sv_verbose;
static int			 sv_stopping;
/*
 * Each kgpd has its channel to proxyd.  An end of one whose process is
 * not running (not yet started, or dead and waiting for its restart)
 * waits here, for proxyd (spare_proxyd[i], its channel to kgpd i) or
 * for kgpd i (spare_kgpd[i]).
 */
static int			 spare_proxyd[SC_KGPD_MAX];
static int			 spare_kgpd[SC_KGPD_MAX];

static int	 child_spawn(struct child *);
static void	 peer_give(uint32_t, int, int);
static int	 peer_take(uint32_t, int);
static void	 child_failed(struct child *, const char *, ...)
		    __attribute__((__format__ (printf, 2, 3)));
static void	 child_restart_cb(int, short, void *);
static void	 child_hello_cb(int, short, void *);
static void	 child_gone(struct child *, int);
static void	 child_retry(struct child *);

/*
 * The helpers' channels and timers; spawner.c finds their programs and,
 * started as root (pw: _sc), forks the spawner.  cb: what the controller
 * hears of them.
 */
int
supervise_init(struct sc *x_env, const struct supervise_cb *cb,
    const struct passwd *pw)
{
	int	 i;

	env = x_env;
	sv_cb = cb;
	sv_verbose = env->conf->verbose;
	env->nkgpd = supervise_nkgpd(env->conf);
	for (i = 0; i < SC_KGPD_MAX; i++) {
		children[CHILD_KGPD + i].off = (uint32_t)i >= env->nkgpd;
		spare_proxyd[i] = spare_kgpd[i] = -1;
	}
	for (i = 0; i < CHILD_MAX; i++) {
		children[i].iev.ibuf.fd = -1;
		children[i].backoff_ms = SC_BACKOFF_MIN_MS;
		if ((children[i].restart_ev = evtimer_new(env->base,
		    child_restart_cb, &children[i])) == NULL ||
		    (children[i].hello_ev = evtimer_new(env->base,
		    child_hello_cb, &children[i])) == NULL)
			return (-1);
	}
	return (spawner_init(env, children, pw));
}

/*
 * The kgpd processes: --kgp-processes, or as many as there are CPUs
 * online; never more than the tunnel connections, nor SC_KGPD_MAX.
 */
uint32_t
supervise_nkgpd(const struct sc_config *conf)
{
	long	 n = conf->kgp_processes;

	if (n <= 0 && (n = sysconf(_SC_NPROCESSORS_ONLN)) < 1)
		n = 1;
	if (n > conf->tunnel_connections)
		n = conf->tunnel_connections;
	if (n > SC_KGPD_MAX)
		n = SC_KGPD_MAX;
	return (n < 1 ? 1 : (uint32_t)n);
}

/* The kgpd that carries tunnel connection index. */
struct child *
child_kgpd_of(uint32_t index)
{
	return (&children[CHILD_KGPD + index % env->nkgpd]);
}

/* Every kgpd has said hello (and is running). */
int
child_kgpd_all_ready(void)
{
	uint32_t	 i;

	for (i = 0; i < env->nkgpd; i++)
		if (!child_ready(CHILD_KGPD + i))
			return (0);
	return (1);
}

/*
 * fd, an end of the channel between kgpd i and proxyd, to proxyd
 * (to_proxyd) or to kgpd i: now if that one runs, else when it starts.
 */
static void
peer_give(uint32_t i, int to_proxyd, int fd)
{
	struct child	*c = to_proxyd ? &children[CHILD_PROXYD] :
			    &children[CHILD_KGPD + i];
	int		*spare = to_proxyd ? &spare_proxyd[i] : &spare_kgpd[i];
	int		 r;

	if (c->up) {
		if (to_proxyd)
			r = child_compose(c, IMSG_PEER_KGPD, fd, &i,
			    sizeof(i));
		else
			r = child_compose(c, IMSG_PEER_FD, fd, NULL, 0);
		if (r == -1)
			log_warnx("cannot send a new channel to %s", c->name);
		return;
	}
	if (*spare != -1)
		close(*spare);
	*spare = fd;
}

/*
 * An end of the channel between kgpd i and proxyd for the one starting
 * (proxyd: for_proxyd): the spare one, or a new pair whose other end
 * goes to the other process.  -1 with errno when there is none.
 */
static int
peer_take(uint32_t i, int for_proxyd)
{
	int	*spare = for_proxyd ? &spare_proxyd[i] : &spare_kgpd[i];
	int	 pair[2], fd;

	if ((fd = *spare) != -1) {
		*spare = -1;
		return (fd);
	}
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) == -1)
		return (-1);
	peer_give(i, !for_proxyd, pair[1]);
	return (pair[0]);
}

static int
child_spawn(struct child *c)
{
	int		 ctl[2], mine, fd;
	uint32_t	 i;
	pid_t		 pid;

	c->hello = 0;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, ctl) == -1) {
		child_failed(c, "socketpair: %s", strerror(errno));
		return (-1);
	}
	/*
	 * fd 4: pacd's script (pac.c); kgpd's channel to proxyd; proxyd's
	 * to the first kgpd (the others follow as IMSG_PEER_KGPD)
	 */
	if (c->id == CHILD_PAC)
		mine = fcntl(env->pac_fd, F_DUPFD_CLOEXEC, 0);
	else
		mine = peer_take(c->id == CHILD_PROXYD ? 0 : c->kgpd,
		    c->id == CHILD_PROXYD);
	if (mine == -1) {
		child_failed(c, "%s: %s", c->id == CHILD_PAC ? "dup" :
		    "socketpair", strerror(errno));
		close(ctl[0]);
		close(ctl[1]);
		return (-1);
	}

	if ((pid = spawner_start(c, sv_verbose, ctl[1], mine, c->why,
	    sizeof(c->why))) == -1) {
		close(ctl[0]);
		close(ctl[1]);
		close(mine);
		return (-1);
	}

	close(ctl[1]);
	close(mine);
	c->pid = pid;
	c->up = 1;
	gettimeofday(&c->started, NULL);
	memset(&c->stats, 0, sizeof(c->stats));
	set_nonblock(ctl[0]);
	imsgev_open(&c->iev, env->base, ctl[0], c->peer, c);
	timer_add(c->hello_ev, SC_HELLO_TIMEOUT_SEC, 0);
	log_debug("started %s, pid %d", c->name, (int)pid);

	/* proxyd: its channels to the other kgpd processes */
	for (i = 1; c->id == CHILD_PROXYD && i < env->nkgpd; i++) {
		if ((fd = peer_take(i, 1)) == -1)
			log_warn("channel to kgpd %u: socketpair", i);
		else
			peer_give(i, 1, fd);
	}
	return (0);
}

void
supervise_start_all(void)
{
	int	 i;

	for (i = 0; i < CHILD_MAX && env->state != SC_STOPPING; i++)
		if (!children[i].off && child_spawn(&children[i]) == -1)
			child_retry(&children[i]);
}

/* What went wrong with c's last start or run: said in child_retry(). */
static void
child_failed(struct child *c, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	vsnprintf(c->why, sizeof(c->why), fmt, ap);
	va_end(ap);
}

/*
 * c is gone (c->why says how): start it again after the backoff, unless
 * that is hopeless.  A start that never reached the hello counts as a
 * failed one; SC_START_TRIES of them in a row, or the very first start,
 * end sc with an error, so that a supervisor can start it afresh rather
 * than leave a tunnel that carries nothing.
 */
static void
child_retry(struct child *c)
{
	struct timeval	 now;
	int		 delay;

	if (sv_stopping || env->state == SC_STOPPING)
		return;
	evtimer_del(c->hello_ev);
	if (!c->hello)
		c->failed_starts++;
	if (!c->ever_hello) {
		sc_error("%s did not start: %s", c->name, c->why);
		sv_cb->stop(1);
		return;
	}
	if (c->failed_starts >= SC_START_TRIES) {
		sc_error("%s cannot be restarted: %d starts in a row failed, "
		    "the last: %s", c->name, c->failed_starts, c->why);
		sv_cb->stop(1);
		return;
	}
	gettimeofday(&now, NULL);
	if (c->failed_starts == 0 &&
	    now.tv_sec - c->started.tv_sec >= SC_STABLE_SEC)
		c->backoff_ms = SC_BACKOFF_MIN_MS;
	c->restarts++;
	delay = c->backoff_ms;
	c->backoff_ms *= 2;
	if (c->backoff_ms > SC_BACKOFF_MAX_MS)
		c->backoff_ms = SC_BACKOFF_MAX_MS;
	if (c->failed_starts > 0)
		log_warnx("%s: start %d of %d failed (%s), next in %d.%d s",
		    c->name, c->failed_starts, SC_START_TRIES, c->why,
		    delay / 1000, delay % 1000 / 100);
	else
		log_warnx("%s %s, restarting", c->name, c->why);
	timer_add(c->restart_ev, delay / 1000, (delay % 1000) * 1000);
}

int
child_compose(struct child *c, uint32_t type, int fd, const void *data,
    size_t len)
{
	if (!c->up) {
		if (fd != -1)
			close(fd);
		return (-1);
	}
	return (imsg_compose_event(&c->iev, type, 0, 0, fd, data, len));
}

int
child_ready(enum child_id id)
{
	return (children[id].up && children[id].hello);
}

void
child_set_verbose(int v)
{
	int32_t	 vv = v;
	int	 i;

	sv_verbose = v;
	for (i = 0; i < CHILD_MAX; i++)
		if (child_ready(i))
			child_compose(&children[i], IMSG_LOG_VERBOSE, -1, &vv,
			    sizeof(vv));
}

/*
 * A child's IMSG_HELLO (first, and once: a second one is a bad message,
 * never a new child): it is up.  One that speaks
 * another version of the messages is another installation's: sc ends,
 * saying so.
 */
int
child_hello(struct imsgev *iev, struct imsg *imsg)
{
	struct child	*c = iev->data;
	struct sc_hello	 hello;

	memcpy(&hello, imsg->data, sizeof(hello));
	if (hello.version != SC_IMSG_VERSION) {
		sc_error("%s speaks message version %u, sc speaks %u: "
		    "reinstall sc", c->name, hello.version, SC_IMSG_VERSION);
		sv_cb->stop(1);
		return (IMSGEV_GONE);
	}
	log_debug("%s: hello, pid %u", c->name, hello.pid);
	evtimer_del(c->hello_ev);
	if (c->failed_starts > 0)
		log_info("%s is back after %d failed starts", c->name,
		    c->failed_starts);
	c->hello = 1;
	c->ever_hello = 1;
	c->failed_starts = 0;
	sv_cb->ready(c);
	return (IMSGEV_OK);
}

/* A child's channel closed: it died, or is about to. */
void
child_channel_gone(struct imsgev *iev)
{
	child_gone(iev->data, 0);
}

/*
 * A child sent what it never should (malformed, unknown, before its
 * hello, a once-only message again): it is broken or taken over.  It is
 * logged and killed, and restarted as if it had died; sc goes on.
 */
void
child_bad(struct imsgev *iev, struct imsg *imsg, enum imsgev_error error,
    const char *why)
{
	struct child	*c = iev->data;

	log_warnx("%s: %s", c->name, why);
	log_warnx("%s sent what it never should: restarting it", c->name);
	child_gone(c, 1);
}

/* The channel is dead: close it and make sure the process goes too. */
static void
child_gone(struct child *c, int kill_it)
{
	if (!c->up)
		return;
	imsgev_clear(&c->iev);
	c->up = 0;
	if (c->pid > 0) {
		if (kill_it)
			kill(c->pid, SIGKILL);
		else
			kill(c->pid, SIGTERM);
	}
}

static void
child_restart_cb(int fd, short event, void *arg)
{
	struct child	*c = arg;

	if (sv_stopping || c->pid > 0 || c->up)
		return;
	if (child_spawn(c) == -1)
		child_retry(c);
}

/* No hello in time: a start that failed (its death follows). */
static void
child_hello_cb(int fd, short event, void *arg)
{
	struct child	*c = arg;

	if (sv_stopping || c->hello || !c->up)
		return;
	log_warnx("%s (pid %d) did not say hello within %d seconds, killing "
	    "it", c->name, (int)c->pid, SC_HELLO_TIMEOUT_SEC);
	child_failed(c, "said no hello within %d seconds",
	    SC_HELLO_TIMEOUT_SEC);
	c->hung = 1;
	child_gone(c, 1);
}

void
supervise_sigchld(void)
{
	struct child	*c;
	pid_t		 pid;
	int		 status, i;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		c = NULL;
		for (i = 0; i < CHILD_MAX; i++)
			if (children[i].pid == pid)
				c = &children[i];
		if (c == NULL && spawner_exited(pid)) {
			if (!sv_stopping) {
				sc_error("the spawner exited: kgpd and proxyd "
				    "can no longer be restarted");
				sv_cb->stop(1);
			}
			continue;
		}
		if (c == NULL)
			continue;
		child_gone(c, 0);
		c->pid = 0;
		if (sv_stopping) {
			log_debug("%s exited", c->name);
			continue;
		}
		if (c->hung)
			;	/* child_hello_cb() said why */
		else if (WIFSIGNALED(status) && WTERMSIG(status) == SIGSYS)
			child_failed(c, "killed by SIGSYS (sandbox violation)");
		else if (c->id == CHILD_PAC && WIFSIGNALED(status) &&
		    WTERMSIG(status) == SIGALRM)
			child_failed(c, "ended: the PAC script ran longer than "
			    "%d ms (FindProxyForURL() loops or hangs)",
			    PAC_CALL_MS);
		else if (WIFSIGNALED(status))
			child_failed(c, "killed by signal %d",
			    WTERMSIG(status));
		else
			child_failed(c, "exited with status %d",
			    WEXITSTATUS(status));
		c->hung = 0;
		if (c->ever_hello)
			sv_cb->died(c);
		child_retry(c);
	}
}

/* Close the channels, SIGTERM, wait a little, then SIGKILL. */
void
supervise_stop_all(void)
{
	struct timespec	 ts = { 0, 50 * 1000 * 1000 };
	pid_t		 pid;
	int		 i, n, status, left;

	sv_stopping = 1;
	for (i = 0; i < CHILD_MAX; i++) {
		evtimer_del(children[i].restart_ev);
		if (children[i].up) {
			imsg_flush(&children[i].iev.ibuf);
			imsgev_clear(&children[i].iev);
			children[i].up = 0;
		}
		if (children[i].pid > 0)
			kill(children[i].pid, SIGTERM);
	}
	for (i = 0; i < SC_KGPD_MAX; i++) {
		if (spare_proxyd[i] != -1)
			close(spare_proxyd[i]);
		if (spare_kgpd[i] != -1)
			close(spare_kgpd[i]);
		spare_proxyd[i] = spare_kgpd[i] = -1;
	}
	for (n = 0; n < 60; n++) {
		left = 0;
		for (i = 0; i < CHILD_MAX; i++) {
			if (children[i].pid <= 0)
				continue;
			pid = waitpid(children[i].pid, &status, WNOHANG);
			if (pid == children[i].pid ||
			    (pid == -1 && errno == ECHILD))
				children[i].pid = 0;
			else
				left++;
		}
		if (left == 0)
			return;
		nanosleep(&ts, NULL);
	}
	for (i = 0; i < CHILD_MAX; i++) {
		if (children[i].pid <= 0)
			continue;
		log_warnx("%s did not exit, killing it", children[i].name);
		kill(children[i].pid, SIGKILL);
		waitpid(children[i].pid, &status, 0);
		children[i].pid = 0;
	}
}
