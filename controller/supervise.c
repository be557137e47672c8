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

struct child	 children[CHILD_MAX] = {
	{ .id = CHILD_KGPD, .name = "kgpd" },
	{ .id = CHILD_PROXYD, .name = "proxyd" },
	{ .id = CHILD_PAC, .name = "pacd" },
};

static struct sc		*env;
static const struct supervise_cb *sv_cb;
static int			 sv_verbose;
static int			 sv_stopping;
/* a spare end of a kgpd <-> proxyd pair, for the child not yet started */
static int			 peer_spare = -1;
static enum child_id		 peer_spare_for;

static int	 child_spawn(struct child *);
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

static int
child_spawn(struct child *c)
{
	struct child	*peer = &children[c->id == CHILD_KGPD ?
			    CHILD_PROXYD : CHILD_KGPD];
	int		 ctl[2], pair[2] = { -1, -1 }, mine, theirs = -1;
	pid_t		 pid;

	c->hello = 0;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, ctl) == -1) {
		child_failed(c, "socketpair: %s", strerror(errno));
		return (-1);
	}
	if (c->id == CHILD_PAC) {
		/* pacd has no peer: its fd 4 is the script (pac.c) */
		if ((mine = fcntl(env->pac_fd, F_DUPFD_CLOEXEC, 0)) == -1) {
			child_failed(c, "dup: %s", strerror(errno));
			close(ctl[0]);
			close(ctl[1]);
			return (-1);
		}
	} else if (peer_spare != -1 && peer_spare_for == c->id) {
		/* the channel to the peer: a spare one or a new pair */
		mine = peer_spare;
		peer_spare = -1;
	} else {
		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0,
		    pair) == -1) {
			child_failed(c, "socketpair: %s", strerror(errno));
			close(ctl[0]);
			close(ctl[1]);
			return (-1);
		}
		mine = pair[0];
		theirs = pair[1];
	}

	if ((pid = spawner_start(c, sv_verbose, ctl[1], mine, c->why,
	    sizeof(c->why))) == -1) {
		close(ctl[0]);
		close(ctl[1]);
		close(mine);
		if (theirs != -1)
			close(theirs);
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

	if (theirs != -1) {
		if (peer->up) {
			/* the survivor gets the other end */
			if (child_compose(peer, IMSG_PEER_FD, theirs, NULL,
			    0) == -1)
				log_warnx("cannot send a new channel to %s",
				    peer->name);
		} else {
			if (peer_spare != -1)
				close(peer_spare);
			peer_spare = theirs;
			peer_spare_for = peer->id;
		}
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
	if (peer_spare != -1) {
		close(peer_spare);
		peer_spare = -1;
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
