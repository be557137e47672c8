/*
 * Supervision of kgpd and proxyd: fork + exec with a scrubbed environment,
 * fd 3 = the channel to the controller, fd 4 = the kgpd <-> proxyd
 * channel; restart with backoff when one dies.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "config.h"
#include "controller.h"
#include "log.h"

#define BACKOFF_MIN_MS	500
#define BACKOFF_MAX_MS	10000
#define STABLE_SEC	30

struct child	 children[CHILD_MAX] = {
	{ .id = CHILD_KGPD, .name = "kgpd" },
	{ .id = CHILD_PROXYD, .name = "proxyd" },
};

static struct event_base	*sv_base;
static int			 sv_verbose;
static int			 sv_stopping;
/* a spare end of a kgpd <-> proxyd pair, for the child not yet started */
static int			 peer_spare = -1;
static enum child_id		 peer_spare_for;
/* the children's stdout and stderr when the log goes to a file */
static int			 sv_outfd = -1;

static int	 child_find_path(struct child *);
static int	 child_spawn(struct child *);
static void	 child_dispatch_io(int, short, void *);
static void	 child_restart_cb(int, short, void *);
static void	 child_gone(struct child *, int);

static int
child_find_path(struct child *c)
{
	char	 self[PATH_MAX], *dir;
	ssize_t	 n;

	if ((n = readlink("/proc/self/exe", self, sizeof(self) - 1)) > 0) {
		self[n] = '\0';
		dir = dirname(self);
		snprintf(c->path, sizeof(c->path), "%s/../%s/%s", dir,
		    c->name, c->name);
		if (access(c->path, X_OK) == 0)
			return (0);
	}
	snprintf(c->path, sizeof(c->path), "%s/%s", SC_LIBEXECDIR, c->name);
	if (access(c->path, X_OK) == 0)
		return (0);
	return (-1);
}

int
supervise_init(struct event_base *base, int verbose)
{
	const char	*logfile;
	int		 i;

	sv_base = base;
	sv_verbose = verbose;
	/*
	 * A child writes to its stdout and stderr only when its channel
	 * is gone or when it crashes (sanitizer reports): with -l FILE,
	 * that belongs in the file, not among the console lines.
	 */
	logfile = sc_env->conf->logfile;
	if (logfile != NULL && strcmp(logfile, "-") != 0 &&
	    (sv_outfd = open(logfile, O_WRONLY | O_APPEND | O_CREAT |
	    O_CLOEXEC, 0644)) == -1) {
		sc_error("cannot open the log file %s: %s", logfile,
		    strerror(errno));
		return (-1);
	}
	for (i = 0; i < CHILD_MAX; i++) {
		if (child_find_path(&children[i]) == -1) {
			sc_error("cannot find %s (looked next to sc in the "
			    "build tree and in %s)", children[i].name,
			    SC_LIBEXECDIR);
			return (-1);
		}
		log_debug("%s: %s", children[i].name, children[i].path);
		children[i].iev.ibuf.fd = -1;
		children[i].backoff_ms = BACKOFF_MIN_MS;
		if ((children[i].restart_ev = evtimer_new(base,
		    child_restart_cb, &children[i])) == NULL)
			return (-1);
	}
	return (0);
}

/* The environment a child gets: nothing secret, nothing from the user. */
static const char *pass_env[] = {
	"TZ", "ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS", NULL
};

static int
child_spawn(struct child *c)
{
	struct child	*peer = &children[c->id == CHILD_KGPD ?
			    CHILD_PROXYD : CHILD_KGPD];
	char		*argv[8], *envp[8];
	char		 envbuf[4][512];
	const char	*v;
	int		 ctl[2], pair[2] = { -1, -1 }, mine, theirs = -1;
	int		 i, n, fd3, fd4;
	pid_t		 pid;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, ctl) == -1) {
		log_warn("%s: socketpair", __func__);
		return (-1);
	}
	/* the channel to the peer: a spare one or a new pair */
	if (peer_spare != -1 && peer_spare_for == c->id) {
		mine = peer_spare;
		peer_spare = -1;
	} else {
		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0,
		    pair) == -1) {
			log_warn("%s: socketpair", __func__);
			close(ctl[0]);
			close(ctl[1]);
			return (-1);
		}
		mine = pair[0];
		theirs = pair[1];
	}

	/* argv and environment, before fork */
	n = 0;
	argv[n++] = (char *)c->name;
	for (i = 0; i < sv_verbose && i < 3; i++)
		argv[n++] = "-v";
	argv[n] = NULL;
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

	switch (pid = fork()) {
	case -1:
		log_warn("%s: fork", __func__);
		close(ctl[0]);
		close(ctl[1]);
		close(mine);
		if (theirs != -1)
			close(theirs);
		return (-1);
	case 0:
		/* child: fd 3 and fd 4, nothing else past stderr */
		setpgid(0, 0);
		signal(SIGPIPE, SIG_DFL);
		signal(SIGCHLD, SIG_DFL);
		signal(SIGINT, SIG_DFL);
		signal(SIGTERM, SIG_DFL);
		signal(SIGHUP, SIG_DFL);
		if (sv_outfd != -1 && (dup2(sv_outfd, STDOUT_FILENO) == -1 ||
		    dup2(sv_outfd, STDERR_FILENO) == -1))
			_exit(127);
		if ((fd3 = fcntl(ctl[1], F_DUPFD, 10)) == -1 ||
		    (fd4 = fcntl(mine, F_DUPFD, 10)) == -1 ||
		    dup2(fd3, 3) == -1 || dup2(fd4, 4) == -1)
			_exit(127);
		closefrom(5);
		execve(c->path, argv, envp);
		dprintf(STDERR_FILENO, "%s: execve %s: %s\n", c->name, c->path,
		    strerror(errno));
		_exit(127);
	}

	close(ctl[1]);
	close(mine);
	c->pid = pid;
	c->up = 1;
	c->hello = 0;
	gettimeofday(&c->started, NULL);
	memset(&c->stats, 0, sizeof(c->stats));
	set_nonblock(ctl[0]);
	imsgev_init(&c->iev, sv_base, ctl[0], child_dispatch_io, c);
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

/* Arm a timer: seconds and microseconds. */
void
timer_add(struct event *ev, long sec, long usec)
{
	struct timeval	 tv;

	tv.tv_sec = sec;
	tv.tv_usec = usec;
	evtimer_add(ev, &tv);
}

void
supervise_start_all(void)
{
	int	 i;

	for (i = 0; i < CHILD_MAX; i++)
		if (child_spawn(&children[i]) == -1)
			sc_fatal("cannot start %s", children[i].name);
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

/* An IMSG_LOG payload: int32 priority, then one NUL-terminated string. */
static void
child_log(struct child *c, struct imsg *imsg)
{
	size_t	 len = IMSG_DATA_SIZE(imsg);
	int32_t	 pri;
	char	*msg, *p;

	if (len < sizeof(pri) + 1 ||
	    ((char *)imsg->data)[len - 1] != '\0') {
		log_warnx("%s: bad log message (%zu bytes)", c->name, len);
		return;
	}
	memcpy(&pri, imsg->data, sizeof(pri));
	if (pri < LOG_EMERG || pri > LOG_DEBUG)
		pri = LOG_WARNING;
	msg = (char *)imsg->data + sizeof(pri);
	for (p = msg; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 && *p != '\t')
			*p = '?';
	log_emit(pri, c->name, msg);
}

static void
child_dispatch_io(int fd, short event, void *arg)
{
	struct imsgev	*iev = arg;
	struct child	*c = iev->data;
	struct imsg	 imsg;
	struct sc_hello	 hello;
	ssize_t		 n;

	if (imsgev_io(iev, event) == -1) {
		child_gone(c, 0);
		return;
	}
	for (;;) {
		if ((n = imsg_get(&iev->ibuf, &imsg)) == -1) {
			log_warn("%s: bad message from %s", __func__,
			    c->name);
			child_gone(c, 1);
			return;
		}
		if (n == 0)
			break;
		switch (imsg.hdr.type) {
		case IMSG_LOG:
			child_log(c, &imsg);
			break;
		case IMSG_HELLO:
			if (imsg_get_data(&imsg, &hello, sizeof(hello)) == -1) {
				log_warnx("%s: bad hello", c->name);
				imsg_free(&imsg);
				child_gone(c, 1);
				return;
			}
			if (hello.version != SC_IMSG_VERSION) {
				imsg_free(&imsg);
				sc_error("%s speaks message version %u, sc "
				    "speaks %u: reinstall sc", c->name,
				    hello.version, SC_IMSG_VERSION);
				sc_shutdown(1);
				return;
			}
			log_debug("%s: hello, pid %u", c->name, hello.pid);
			c->hello = 1;
			c->ever_hello = 1;
			sc_child_ready(c);
			break;
		default:
			if (!c->hello)
				fatalx("%s: message %u before hello", c->name,
				    imsg.hdr.type);
			c->dispatch(c, &imsg);
			break;
		}
		imsg_free(&imsg);
		if (!c->up)
			return;
	}
	imsg_event_add(iev);
}

/* The channel is dead: close it and make sure the process goes too. */
static void
child_gone(struct child *c, int kill_it)
{
	if (!c->up)
		return;
	imsgev_clear(&c->iev);
	c->up = 0;
	c->hello = 0;
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
	if (child_spawn(c) == -1) {
		timer_add(c->restart_ev, 1, 0);
		return;
	}
}

void
supervise_sigchld(void)
{
	struct child	*c;
	struct timeval	 now, tv;
	pid_t		 pid;
	int		 status, i, delay;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		c = NULL;
		for (i = 0; i < CHILD_MAX; i++)
			if (children[i].pid == pid)
				c = &children[i];
		if (c == NULL)
			continue;
		child_gone(c, 0);
		c->pid = 0;
		if (sv_stopping) {
			log_debug("%s exited", c->name);
			continue;
		}
		if (WIFSIGNALED(status) && WTERMSIG(status) == SIGSYS)
			log_warnx("%s killed by SIGSYS (sandbox violation), "
			    "restarting", c->name);
		else if (WIFSIGNALED(status))
			log_warnx("%s killed by signal %d, restarting",
			    c->name, WTERMSIG(status));
		else
			log_warnx("%s exited with status %d, restarting",
			    c->name, WEXITSTATUS(status));
		if (!c->ever_hello) {
			sc_error("%s did not start", c->name);
			sc_shutdown(1);
			continue;
		}
		sc_child_died(c);
		gettimeofday(&now, NULL);
		if (now.tv_sec - c->started.tv_sec >= STABLE_SEC)
			c->backoff_ms = BACKOFF_MIN_MS;
		delay = c->backoff_ms;
		c->backoff_ms *= 2;
		if (c->backoff_ms > BACKOFF_MAX_MS)
			c->backoff_ms = BACKOFF_MAX_MS;
		tv.tv_sec = delay / 1000;
		tv.tv_usec = (delay % 1000) * 1000;
		evtimer_add(c->restart_ev, &tv);
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
