/*
 * Supervision of kgpd and proxyd: fork + exec with a scrubbed environment,
 * fd 3 = the channel to the controller, fd 4 = the kgpd <-> proxyd
 * channel; restart with backoff when one dies.
 *
 * Started as root, the controller becomes _sc once it has opened what
 * needs privilege (see main()), but kgpd and proxyd must start as root to
 * chroot to the empty directory, and they are restarted whenever they
 * die, long after the controller gave root up.  So, before it drops, the
 * controller forks a spawner that stays root and does nothing but this,
 * one request at a time over a socketpair:
 *
 *   PRIV_SPAWN    start kgpd or proxyd with the two descriptors that come
 *                 with the request (their fd 3 and fd 4);
 *   PRIV_READY    create the readyfile;
 *   PRIV_CLEANUP  remove the pidfile, the control socket and the readyfile
 *                 it created, at the end (they are in directories _sc may
 *                 not write to).  The same happens when the controller's
 *                 end closes without it (a crash, a second signal).
 *
 * A request names neither a program nor a path: those were fixed when the
 * spawner was forked.  The spawner has no network and no event loop; it
 * has no_new_privs, no core dumps, and forgets the access key.  Its
 * processes are created with CLONE_PARENT, so they are the controller's
 * children (it waits for them and signals them as before).  A child
 * started as root chroots to /var/empty and becomes _sc itself, just
 * before its sandbox goes on and before it reads a single message
 * (sandbox_drop_ids(): a dynamically linked program cannot be exec'd
 * inside an empty chroot); the ids of _sc come with it (-u UID:GID),
 * resolved once at sc's start, so that no helper reads the user database
 * (which useradd may have replaced since).
 *
 * Started as an ordinary user there is no spawner: the controller forks
 * and execs the children itself.
 */
#include <sys/types.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <pwd.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "config.h"
#include "controller.h"
#include "log.h"
#include "sandbox.h"

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
/* started as root: -u UID:GID of _sc for the children */
static char			 sv_ids[32];

/* the spawner, when started as root */
struct priv_req {
	int32_t		 type;
	int32_t		 id;		/* PRIV_SPAWN: enum child_id */
	int32_t		 verbose;	/* PRIV_SPAWN: how many -v */
};
struct priv_res {
	int32_t		 result;	/* a pid, 0, or -1 */
	int32_t		 error;		/* errno when -1 */
};
#define PRIV_SPAWN	1
#define PRIV_READY	2
#define PRIV_CLEANUP	3

static int			 priv_fd = -1;
static pid_t			 priv_pid = -1;

static int	 child_find_path(struct child *);
static int	 child_spawn(struct child *);
__attribute__((noreturn))
static void	 child_exec(struct child *, int, int, int);
static int	 priv_start(void);
__attribute__((noreturn))
static void	 priv_main(int);
static int	 priv_request(int, int, int, int);
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
supervise_init(struct event_base *base, int verbose, const struct passwd *pw)
{
	const char	*logfile;
	int		 i;

	sv_base = base;
	sv_verbose = verbose;
	if (pw != NULL)
		snprintf(sv_ids, sizeof(sv_ids), "%u:%u",
		    (unsigned)pw->pw_uid, (unsigned)pw->pw_gid);
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
	if (geteuid() == 0 && priv_start() == -1)
		return (-1);
	return (0);
}

/*
 * In the new process: fd 3 and fd 4, nothing else past stderr, a
 * scrubbed environment, exec.  Only async-signal-safe calls.
 */
static void
child_exec(struct child *c, int verbose, int ctlfd, int peerfd)
{
	struct proc_env	 pe;
	char		*argv[8];
	int		 i, n, fd3, fd4;

	n = 0;
	argv[n++] = (char *)c->name;
	for (i = 0; i < verbose && i < 3; i++)
		argv[n++] = "-v";
	if (sv_ids[0] != '\0') {
		argv[n++] = "-u";
		argv[n++] = sv_ids;
	}
	argv[n] = NULL;
	proc_child_env(&pe);
	proc_child_signals();
	if (sv_outfd != -1 && (dup2(sv_outfd, STDOUT_FILENO) == -1 ||
	    dup2(sv_outfd, STDERR_FILENO) == -1))
		_exit(127);
	if ((fd3 = fcntl(ctlfd, F_DUPFD, 10)) == -1 ||
	    (fd4 = fcntl(peerfd, F_DUPFD, 10)) == -1 ||
	    dup2(fd3, 3) == -1 || dup2(fd4, 4) == -1)
		_exit(127);
	closefrom(5);
	execve(c->path, argv, pe.envp);
	dprintf(STDERR_FILENO, "%s: execve %s: %s\n", c->name, c->path,
	    strerror(errno));
	_exit(127);
}

static int
child_spawn(struct child *c)
{
	struct child	*peer = &children[c->id == CHILD_KGPD ?
			    CHILD_PROXYD : CHILD_KGPD];
	int		 ctl[2], pair[2] = { -1, -1 }, mine, theirs = -1;
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

	if (priv_fd != -1) {
		/* started as root: the spawner starts it */
		if ((pid = priv_request(PRIV_SPAWN, c->id, ctl[1],
		    mine)) == -1)
			log_warn("%s: the spawner cannot start %s", __func__,
			    c->name);
	} else if ((pid = fork()) == -1)
		log_warn("%s: fork", __func__);
	else if (pid == 0)
		child_exec(c, sv_verbose, ctl[1], mine);
	if (pid == -1) {
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

/*
 * Fork the spawner (see the top of this file).  Called as root, after the
 * log file, the pidfile and the control socket are open and before the
 * controller becomes _sc.
 */
static int
priv_start(void)
{
	int	 sp[2];
	pid_t	 pid;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) == -1) {
		sc_error("socketpair: %s", strerror(errno));
		return (-1);
	}
	fflush(NULL);
	switch (pid = fork()) {
	case -1:
		sc_error("cannot fork the spawner: %s", strerror(errno));
		close(sp[0]);
		close(sp[1]);
		return (-1);
	case 0:
		close(sp[0]);
		priv_main(sp[1]);
	}
	close(sp[1]);
	priv_fd = sp[0];
	priv_pid = pid;
	log_debug("spawner started, pid %d", (int)pid);
	return (0);
}

/* The controller's side: one request, one answer. */
static int
priv_request(int type, int id, int fd3, int fd4)
{
	struct priv_req	 req;
	struct priv_res	 res;
	struct msghdr	 msg;
	struct cmsghdr	*cmsg;
	struct iovec	 iov;
	union {
		struct cmsghdr	 hdr;
		char		 buf[CMSG_SPACE(2 * sizeof(int))];
	} cmsgbuf;
	int		 fds[2] = { fd3, fd4 };
	ssize_t		 n;

	if (priv_fd == -1) {
		errno = EPIPE;
		return (-1);
	}
	memset(&req, 0, sizeof(req));
	req.type = type;
	req.id = id;
	req.verbose = sv_verbose;
	memset(&msg, 0, sizeof(msg));
	iov.iov_base = &req;
	iov.iov_len = sizeof(req);
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	if (type == PRIV_SPAWN) {
		memset(&cmsgbuf, 0, sizeof(cmsgbuf));
		msg.msg_control = cmsgbuf.buf;
		msg.msg_controllen = sizeof(cmsgbuf.buf);
		cmsg = CMSG_FIRSTHDR(&msg);
		cmsg->cmsg_level = SOL_SOCKET;
		cmsg->cmsg_type = SCM_RIGHTS;
		cmsg->cmsg_len = CMSG_LEN(sizeof(fds));
		memcpy(CMSG_DATA(cmsg), fds, sizeof(fds));
	}
	do {
		n = sendmsg(priv_fd, &msg, MSG_NOSIGNAL);
	} while (n == -1 && errno == EINTR);
	if (n != sizeof(req))
		goto dead;
	do {
		n = recv(priv_fd, &res, sizeof(res), 0);
	} while (n == -1 && errno == EINTR);
	if (n != sizeof(res))
		goto dead;
	if (res.result == -1)
		errno = res.error;
	return (res.result);
 dead:
	log_warnx("the spawner is gone");
	close(priv_fd);
	priv_fd = -1;
	errno = EPIPE;
	return (-1);
}

/* Create the readyfile: through the spawner when started as root. */
int
supervise_readyfile(const char *path)
{
	int	 fd;

	if (priv_pid != -1)
		return (priv_request(PRIV_READY, 0, -1, -1));
	if ((fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644)) == -1)
		return (-1);
	close(fd);
	return (utimes(path, NULL));
}

/*
 * At exit, started as root: the spawner removes the pidfile, the control
 * socket and the readyfile, then goes.
 */
void
supervise_cleanup(void)
{
	if (priv_pid == -1)
		return;
	if (priv_fd != -1 && priv_request(PRIV_CLEANUP, 0, -1, -1) == -1)
		log_warn("the spawner could not remove the files");
	if (priv_fd != -1)
		close(priv_fd);
	priv_fd = -1;
	waitpid(priv_pid, NULL, 0);
	priv_pid = -1;
}

static void
priv_unlink(const char *what, const char *path)
{
	if (path != NULL && unlink(path) == -1 && errno != ENOENT)
		log_warn("cannot remove the %s %s", what, path);
}

static void
priv_answer(int fd, int result, int error)
{
	struct priv_res	 res;

	res.result = result;
	res.error = error;
	if (send(fd, &res, sizeof(res), MSG_NOSIGNAL) != sizeof(res))
		_exit(1);
}

/*
 * The spawner.  It keeps stdin, stdout, stderr, its socket and the log
 * file the children's output goes to, and nothing else.
 */
static void
priv_main(int fd)
{
	struct sc_config	*conf = sc_env->conf;
	struct sandbox_files	 sb;
	struct priv_req		 req;
	struct rlimit		 rl = { 0, 0 };
	struct msghdr		 msg;
	struct cmsghdr		*cmsg;
	struct iovec		 iov;
	union {
		struct cmsghdr	 hdr;
		char		 buf[CMSG_SPACE(2 * sizeof(int))];
	} cmsgbuf;
	int			 fds[2], nfds, i, rfd, ready = 0, done = 0;
	ssize_t			 n;
	pid_t			 pid;

	log_procinit("spawner");
	if (conf->key != NULL)
		explicit_bzero(conf->key, strlen(conf->key));
	if (conf->proxy_pass != NULL)
		explicit_bzero(conf->proxy_pass, strlen(conf->proxy_pass));
	signal(SIGINT, SIG_IGN);
	signal(SIGTERM, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	signal(SIGPIPE, SIG_IGN);
	signal(SIGCHLD, SIG_DFL);
	/*
	 * The socket at 3, the children's output at 4, nothing else.  The
	 * log file's descriptor may be one of those numbers: from here on
	 * the spawner logs to its stderr, which is the children's output.
	 */
	log_init(LOG_DST_STDERR, 0);
	if ((fd = fcntl(fd, F_DUPFD, 10)) == -1 || dup2(fd, 3) == -1)
		_exit(1);
	if (sv_outfd != -1 && ((sv_outfd = fcntl(sv_outfd, F_DUPFD, 10)) ==
	    -1 || dup2(sv_outfd, 4) == -1))
		_exit(1);
	fd = 3;
	if (sv_outfd != -1) {
		sv_outfd = 4;
		if (dup2(sv_outfd, STDERR_FILENO) == -1)
			_exit(1);
	}
	closefrom(sv_outfd != -1 ? 5 : 4);
	set_cloexec(3, 1);
	if (sv_outfd != -1)
		set_cloexec(4, 1);
	if (setrlimit(RLIMIT_CORE, &rl) == -1 ||
	    prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) == -1 ||
	    prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == -1)
		_exit(1);
	/* seccomp and Landlock: what it and kgpd and proxyd need, no more */
	memset(&sb, 0, sizeof(sb));
	sb.pidfile = conf->pidfile;
	sb.readyfile = conf->readyfile;
	sb.ctlsock = conf->ctl_socket;
	sb.exec[0] = children[CHILD_KGPD].path;
	sb.exec[1] = children[CHILD_PROXYD].path;
	sandbox_spawner(&sb);

	for (;;) {
		memset(&msg, 0, sizeof(msg));
		iov.iov_base = &req;
		iov.iov_len = sizeof(req);
		msg.msg_iov = &iov;
		msg.msg_iovlen = 1;
		msg.msg_control = cmsgbuf.buf;
		msg.msg_controllen = sizeof(cmsgbuf.buf);
		if ((n = recvmsg(fd, &msg, MSG_CMSG_CLOEXEC)) == -1) {
			if (errno == EINTR)
				continue;
			break;
		}
		nfds = 0;
		for (cmsg = CMSG_FIRSTHDR(&msg); cmsg != NULL;
		    cmsg = CMSG_NXTHDR(&msg, cmsg)) {
			if (cmsg->cmsg_level != SOL_SOCKET ||
			    cmsg->cmsg_type != SCM_RIGHTS)
				continue;
			for (i = 0; (size_t)i < (cmsg->cmsg_len -
			    CMSG_LEN(0)) / sizeof(int); i++) {
				memcpy(&rfd, CMSG_DATA(cmsg) + i * sizeof(int),
				    sizeof(int));
				if (nfds < 2)
					fds[nfds++] = rfd;
				else
					close(rfd);
			}
		}
		if (n == 0)
			break;
		if (n != sizeof(req) || (msg.msg_flags & MSG_CTRUNC) ||
		    (req.type == PRIV_SPAWN) != (nfds == 2) ||
		    (req.type == PRIV_SPAWN &&
		    (req.id < 0 || req.id >= CHILD_MAX))) {
			log_warnx("bad request (%zd bytes, type %d, %d "
			    "descriptors)", n, n >= 4 ? req.type : -1, nfds);
			for (i = 0; i < nfds; i++)
				close(fds[i]);
			break;
		}
		switch (req.type) {
		case PRIV_SPAWN:
			/* the new process is the controller's child */
			pid = syscall(SYS_clone, CLONE_PARENT | SIGCHLD, NULL,
			    NULL, NULL, NULL);
			if (pid == 0)
				child_exec(&children[req.id], req.verbose,
				    fds[0], fds[1]);
			priv_answer(fd, pid, errno);
			close(fds[0]);
			close(fds[1]);
			break;
		case PRIV_READY:
			if (conf->readyfile == NULL) {
				priv_answer(fd, -1, EINVAL);
				break;
			}
			if ((rfd = open(conf->readyfile, O_WRONLY | O_CREAT |
			    O_CLOEXEC, 0644)) == -1 ||
			    utimes(conf->readyfile, NULL) == -1) {
				priv_answer(fd, -1, errno);
				if (rfd != -1)
					close(rfd);
				break;
			}
			close(rfd);
			ready = 1;
			priv_answer(fd, 0, 0);
			break;
		case PRIV_CLEANUP:
			priv_unlink("pidfile", conf->pidfile);
			priv_unlink("control socket", conf->ctl_socket);
			if (ready)
				priv_unlink("readyfile", conf->readyfile);
			done = 1;
			priv_answer(fd, 0, 0);
			break;
		default:
			log_warnx("unexpected request %d", req.type);
			goto out;
		}
	}
 out:
	/* the controller is gone without saying goodbye */
	if (!done) {
		priv_unlink("pidfile", conf->pidfile);
		priv_unlink("control socket", conf->ctl_socket);
		if (ready)
			priv_unlink("readyfile", conf->readyfile);
	}
	_exit(0);
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
				log_warnx("%s: message %u before hello",
				    c->name, imsg.hdr.type);
			if (!c->hello || c->dispatch(c, &imsg) == -1) {
				log_warnx("%s sent what it never should: "
				    "restarting it", c->name);
				imsg_free(&imsg);
				child_gone(c, 1);
				return;
			}
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
		if (c == NULL && pid == priv_pid) {
			priv_pid = -1;
			if (priv_fd != -1)
				close(priv_fd);
			priv_fd = -1;
			if (!sv_stopping) {
				sc_error("the spawner exited: kgpd and proxyd "
				    "can no longer be restarted");
				sc_shutdown(1);
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
