/*
 * Supervision of kgpd and proxyd: fork + exec with a scrubbed environment,
 * fd 3 = the channel to the controller, fd 4 = the kgpd <-> proxyd
 * channel; restart with backoff when one dies (see SC_START_TRIES and
 * its kin in controller.h: a helper that cannot be started again ends
 * sc, which a supervisor may then restart).
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
 * The spawner forks, first thing, a cleaner: root too, and able to do
 * nothing but remove those three files.  It shares a socket with the
 * controller, which tells it when the readyfile exists (CLEAN_READY) and
 * asks it to remove the files at the end (CLEAN_NOW); when the socket
 * closes without that (the controller died) it removes them itself.  So
 * the files go on every way sc can end, the spawner killed included.
 *
 * Started as an ordinary user there is no spawner: the controller forks
 * and execs the children itself.
 */
#include <sys/types.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
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
#include <stdarg.h>
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

struct child	 children[CHILD_MAX] = {
	{ .id = CHILD_KGPD, .name = "kgpd" },
	{ .id = CHILD_PROXYD, .name = "proxyd" },
};

static struct sc		*env;
static int			 sv_verbose;
static int			 sv_stopping;
/* a spare end of a kgpd <-> proxyd pair, for the child not yet started */
static int			 peer_spare = -1;
static enum child_id		 peer_spare_for;
/* the children's stdout and stderr when the log goes to a file */
static int			 sv_outfd = -1;
/* started as root: -u UID:GID of _sc for the children */
static char			 sv_ids[32];
/* who executes the children: "root", "nobody (uid 65534)" */
static char			 sv_user[64];
/* each child's program as it was at the start */
static struct stat		 sv_exe[CHILD_MAX];

/* the spawner, when started as root */
struct priv_req {
	int32_t		 type;
	int32_t		 id;		/* PRIV_SPAWN: enum child_id */
	int32_t		 verbose;	/* PRIV_SPAWN: how many -v */
};
struct priv_res {
	int32_t		 result;	/* a pid, 0, or -1 */
	int32_t		 error;		/* errno when -1 */
	int32_t		 replaced;	/* PRIV_SPAWN: the program changed */
};
/* PRIV_SPAWN's two descriptors */
union priv_cmsg {
	struct cmsghdr	 hdr;
	char		 buf[CMSG_SPACE(2 * sizeof(int))];
};
#define PRIV_SPAWN	1
#define PRIV_READY	2
#define PRIV_CLEANUP	3

/* the cleaner: one byte a request, one byte an answer */
#define CLEAN_READY	'R'	/* the readyfile exists */
#define CLEAN_NOW	'C'	/* remove the files now, then exit */

static int			 priv_fd = -1;
static pid_t			 priv_pid = -1;
static int			 clean_fd = -1;

static int	 child_find_path(struct child *);
static void	 child_noexec(const char *, int, char *, size_t);
static int	 child_replaced(enum child_id);
static int	 child_spawn(struct child *);
static pid_t	 child_start(struct child *, int, int, int, int);
__attribute__((noreturn))
static void	 child_exec(struct child *, int, int, int, int);
static void	 child_failed(struct child *, const char *, ...)
		    __attribute__((__format__ (printf, 2, 3)));
static int	 priv_start(void);
__attribute__((noreturn))
static void	 priv_main(int, int);
__attribute__((noreturn))
static void	 clean_main(int);
static int	 priv_request(int, int, int, int, int *);
static int	 clean_request(char);
static void	 child_restart_cb(int, short, void *);
static void	 child_hello_cb(int, short, void *);
static void	 child_gone(struct child *, int);
static void	 child_retry(struct child *);

/*
 * Why the user this process runs as cannot execute path (access(2)
 * failed with error): the first directory on the way it may not enter,
 * or what the kernel said of the file.
 */
static void
child_noexec(const char *path, int error, char *buf, size_t len)
{
	struct stat	 st;
	char		 dir[1024], *p;

	if (strlcpy(dir, path, sizeof(dir)) < sizeof(dir)) {
		for (p = dir + 1; (p = strchr(p, '/')) != NULL; *p++ = '/') {
			*p = '\0';
			if (access(dir, X_OK) == 0)
				continue;
			if (stat(dir, &st) == 0)
				snprintf(buf, len, "cannot execute %s as %s: "
				    "the directory %s (mode %04o, uid %u) is "
				    "closed to that user", path, sv_user, dir,
				    (unsigned)(st.st_mode & 07777),
				    (unsigned)st.st_uid);
			else
				snprintf(buf, len, "cannot execute %s as %s: "
				    "the directory %s is closed to that user",
				    path, sv_user, dir);
			return;
		}
	}
	snprintf(buf, len, "cannot execute %s as %s: %s", path, sv_user,
	    strerror(error));
}

/*
 * The program: next to sc in the build tree (BUILD/controller/sc,
 * BUILD/kgpd/kgpd), or in the libexec directory.  One that is there but
 * that this user may not execute is an error that says why (a build tree
 * in a directory closed to the user), not a reason to run another.
 */
static int
child_find_path(struct child *c)
{
	char	 self[PATH_MAX], err[3072], *dir;
	ssize_t	 n;

	if ((n = readlink("/proc/self/exe", self, sizeof(self) - 1)) > 0) {
		self[n] = '\0';
		dir = dirname(dirname(self));
		snprintf(c->path, sizeof(c->path), "%s/%s/%s",
		    strcmp(dir, "/") == 0 ? "" : dir, c->name, c->name);
		if (access(c->path, X_OK) == 0)
			goto found;
		if (errno != ENOENT && errno != ENOTDIR)
			goto noexec;
	}
	snprintf(c->path, sizeof(c->path), "%s/%s", SC_LIBEXECDIR, c->name);
	if (access(c->path, X_OK) == 0)
		goto found;
	if (errno != ENOENT && errno != ENOTDIR)
		goto noexec;
	sc_error("cannot find %s (looked next to sc in the build tree and in "
	    "%s)", c->name, SC_LIBEXECDIR);
	return (-1);
 noexec:
	child_noexec(c->path, errno, err, sizeof(err));
	sc_error("%s", err);
	return (-1);
 found:
	if (stat(c->path, &sv_exe[c->id]) == -1)
		memset(&sv_exe[c->id], 0, sizeof(sv_exe[c->id]));
	return (0);
}

/* Is c's program another file than at the start (an upgrade)? */
static int
child_replaced(enum child_id id)
{
	struct stat	 st;

	if (sv_exe[id].st_ino == 0)
		return (0);
	if (stat(children[id].path, &st) == -1)
		return (1);
	return (st.st_dev != sv_exe[id].st_dev ||
	    st.st_ino != sv_exe[id].st_ino);
}

int
supervise_init(struct sc *x_env, const struct passwd *pw)
{
	struct passwd	*me;
	const char	*logfile;
	int		 i;

	env = x_env;
	sv_verbose = env->conf->verbose;
	if (geteuid() == 0)
		strlcpy(sv_user, "root", sizeof(sv_user));
	else if ((me = getpwuid(geteuid())) != NULL)
		snprintf(sv_user, sizeof(sv_user), "%s (uid %u)", me->pw_name,
		    (unsigned)geteuid());
	else
		snprintf(sv_user, sizeof(sv_user), "uid %u",
		    (unsigned)geteuid());
	if (pw != NULL)
		snprintf(sv_ids, sizeof(sv_ids), "%u:%u",
		    (unsigned)pw->pw_uid, (unsigned)pw->pw_gid);
	/*
	 * A child writes to its stdout and stderr only when its channel
	 * is gone or when it crashes (sanitizer reports): with -l FILE,
	 * that belongs in the file, not among the console lines.
	 */
	logfile = env->conf->logfile;
	if (logfile != NULL && strcmp(logfile, "-") != 0 &&
	    (sv_outfd = open(logfile, O_WRONLY | O_APPEND | O_CREAT |
	    O_CLOEXEC, 0644)) == -1) {
		sc_error("cannot open the log file %s: %s", logfile,
		    strerror(errno));
		return (-1);
	}
	for (i = 0; i < CHILD_MAX; i++) {
		if (child_find_path(&children[i]) == -1)
			return (-1);
		log_debug("%s: %s", children[i].name, children[i].path);
		children[i].iev.ibuf.fd = -1;
		children[i].backoff_ms = SC_BACKOFF_MIN_MS;
		if ((children[i].restart_ev = evtimer_new(env->base,
		    child_restart_cb, &children[i])) == NULL ||
		    (children[i].hello_ev = evtimer_new(env->base,
		    child_hello_cb, &children[i])) == NULL)
			return (-1);
	}
	if (geteuid() == 0 && priv_start() == -1)
		return (-1);
	return (0);
}

/*
 * In the new process: fd 3 and fd 4, nothing else past stderr, a
 * scrubbed environment, exec.  Only async-signal-safe calls.  errfd
 * (close-on-exec) gets errno when the exec fails.
 */
static void
child_exec(struct child *c, int verbose, int ctlfd, int peerfd, int errfd)
{
	struct proc_env	 pe;
	char		*argv[8];
	int		 i, n, fd3, fd4, fd5, error;

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
		goto fail;
	/* out of the way first: any of them may be 3, 4 or 5 */
	if ((fd5 = fcntl(errfd, F_DUPFD_CLOEXEC, 10)) == -1)
		goto fail;
	errfd = fd5;
	if ((fd3 = fcntl(ctlfd, F_DUPFD, 10)) == -1 ||
	    (fd4 = fcntl(peerfd, F_DUPFD, 10)) == -1 ||
	    dup2(fd3, 3) == -1 || dup2(fd4, 4) == -1 ||
	    dup3(fd5, 5, O_CLOEXEC) == -1)
		goto fail;
	errfd = 5;
	closefrom(6);
	execve(c->path, argv, pe.envp);
 fail:
	error = errno;
	(void)write(errfd, &error, sizeof(error));
	_exit(127);
}

/*
 * A new process that execs c with ctlfd as its fd 3 and peerfd as its
 * fd 4: forked (flags 0), or cloned with flags (the spawner:
 * CLONE_PARENT).  Returns its pid, or -1 with errno: no new process, or
 * the exec failed (the new process says so on a close-on-exec pipe, which
 * a successful exec closes; it then exits, and its death is nobody's).
 */
static pid_t
child_start(struct child *c, int verbose, int ctlfd, int peerfd, int flags)
{
	int	 ep[2], error;
	ssize_t	 n;
	pid_t	 pid;

	if (pipe2(ep, O_CLOEXEC) == -1)
		return (-1);
	if (flags == 0)
		pid = fork();
	else
		pid = syscall(SYS_clone, flags | SIGCHLD, NULL, NULL, NULL,
		    NULL);
	if (pid == 0) {
		close(ep[0]);
		child_exec(c, verbose, ctlfd, peerfd, ep[1]);
	}
	error = errno;
	close(ep[1]);
	if (pid == -1) {
		close(ep[0]);
		errno = error;
		return (-1);
	}
	do {
		n = read(ep[0], &error, sizeof(error));
	} while (n == -1 && errno == EINTR);
	close(ep[0]);
	if (n == sizeof(error)) {
		errno = error;
		return (-1);
	}
	return (pid);
}

static int
child_spawn(struct child *c)
{
	struct child	*peer = &children[c->id == CHILD_KGPD ?
			    CHILD_PROXYD : CHILD_KGPD];
	int		 ctl[2], pair[2] = { -1, -1 }, mine, theirs = -1;
	int		 replaced = 0, error;
	pid_t		 pid;

	c->hello = 0;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, ctl) == -1) {
		child_failed(c, "socketpair: %s", strerror(errno));
		return (-1);
	}
	/* the channel to the peer: a spare one or a new pair */
	if (peer_spare != -1 && peer_spare_for == c->id) {
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

	if (sv_ids[0] != '\0') {
		/* started as root: the spawner starts it */
		pid = priv_request(PRIV_SPAWN, c->id, ctl[1], mine, &replaced);
	} else {
		pid = child_start(c, sv_verbose, ctl[1], mine, 0);
		if (pid == -1)
			replaced = child_replaced(c->id);
	}
	if (pid == -1) {
		error = errno;
		if (sv_ids[0] != '\0' && priv_fd == -1)
			child_failed(c, "the spawner is gone");
		else
			child_failed(c, "cannot execute %s as %s: %s%s",
			    c->path, sv_ids[0] != '\0' ? "root" : sv_user,
			    strerror(error), replaced ? " (the file was "
			    "replaced since sc started: restart sc to run the "
			    "new one)" : "");
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

/*
 * Fork the spawner (see the top of this file), which forks the cleaner.
 * Called as root, after the log file, the pidfile and the control socket
 * are open and before the controller becomes _sc.
 */
static int
priv_start(void)
{
	int	 sp[2], cp[2];
	pid_t	 pid;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) == -1) {
		sc_error("socketpair: %s", strerror(errno));
		return (-1);
	}
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, cp) == -1) {
		sc_error("socketpair: %s", strerror(errno));
		close(sp[0]);
		close(sp[1]);
		return (-1);
	}
	fflush(NULL);
	switch (pid = fork()) {
	case -1:
		sc_error("cannot fork the spawner: %s", strerror(errno));
		close(sp[0]);
		close(sp[1]);
		close(cp[0]);
		close(cp[1]);
		return (-1);
	case 0:
		close(sp[0]);
		close(cp[0]);
		priv_main(sp[1], cp[1]);
	}
	close(sp[1]);
	close(cp[1]);
	priv_fd = sp[0];
	priv_pid = pid;
	clean_fd = cp[0];
	log_debug("spawner started, pid %d", (int)pid);
	return (0);
}

/* The controller's side: one request, one answer. */
static int
priv_request(int type, int id, int fd3, int fd4, int *replaced)
{
	struct priv_req	 req;
	struct priv_res	 res;
	struct msghdr	 msg;
	struct cmsghdr	*cmsg;
	struct iovec	 iov;
	union priv_cmsg	 cmsgbuf;
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
	if (replaced != NULL)
		*replaced = res.replaced;
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

/* The cleaner: one request, and for CLEAN_NOW its answer. */
static int
clean_request(char what)
{
	ssize_t	 n;
	char	 ack;

	if (clean_fd == -1)
		return (-1);
	do {
		n = send(clean_fd, &what, 1, MSG_NOSIGNAL);
	} while (n == -1 && errno == EINTR);
	if (n == 1 && what != CLEAN_NOW)
		return (0);
	if (n == 1) {
		do {
			n = recv(clean_fd, &ack, 1, 0);
		} while (n == -1 && errno == EINTR);
	}
	if (n == 1 && what == CLEAN_NOW)
		return (0);
	close(clean_fd);
	clean_fd = -1;
	return (-1);
}

/* Create the readyfile: through the spawner when started as root. */
int
supervise_readyfile(const char *path)
{
	int	 fd;

	if (sv_ids[0] != '\0') {
		if (priv_request(PRIV_READY, 0, -1, -1, NULL) == -1)
			return (-1);
		/* once it exists, the cleaner removes it whatever happens */
		if (clean_request(CLEAN_READY) == -1)
			log_warnx("the cleaner is gone");
		return (0);
	}
	if ((fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644)) == -1)
		return (-1);
	close(fd);
	return (utimes(path, NULL));
}

/*
 * At exit, started as root: the cleaner removes the pidfile, the control
 * socket and the readyfile (the spawner, if the cleaner is gone), then
 * both go.
 */
void
supervise_cleanup(void)
{
	int	 done;

	if (sv_ids[0] == '\0')
		return;
	done = clean_request(CLEAN_NOW) == 0;
	if (clean_fd != -1)
		close(clean_fd);
	clean_fd = -1;
	if (priv_fd != -1 && priv_request(PRIV_CLEANUP, done, -1, -1,
	    NULL) == -1 && !done)
		log_warn("neither the cleaner nor the spawner could remove "
		    "the files");
	if (priv_fd != -1)
		close(priv_fd);
	priv_fd = -1;
	if (priv_pid != -1)
		waitpid(priv_pid, NULL, 0);
	priv_pid = -1;
}

static void
priv_unlink(const char *what, const char *path)
{
	if (path != NULL && unlink(path) == -1 && errno != ENOENT)
		log_warn("cannot remove the %s %s", what, path);
}

/* The pidfile, the control socket, and the readyfile if it was made. */
static void
priv_unlink_all(int ready)
{
	struct sc_config	*conf = env->conf;

	priv_unlink("pidfile", conf->pidfile);
	priv_unlink("control socket", conf->ctl_socket);
	if (ready)
		priv_unlink("readyfile", conf->readyfile);
}

static void
priv_answer(int fd, int result, int error, int replaced)
{
	struct priv_res	 res;

	res.result = result;
	res.error = error;
	res.replaced = replaced;
	if (send(fd, &res, sizeof(res), MSG_NOSIGNAL) != sizeof(res))
		_exit(1);
}

/*
 * The start of the spawner and of the cleaner: fd (their socket) at 3,
 * the children's output at 4 and as stderr when the log goes to a file,
 * nothing else; no core dump, not dumpable, no_new_privs; the access key
 * and the proxy password forgotten.  Returns the socket's descriptor.
 */
static int
priv_setup(const char *name, int fd)
{
	struct sc_config	*conf = env->conf;
	struct rlimit		 rl = { 0, 0 };

	log_procinit(name);
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
	 * The log file's descriptor may be 3 or 4: from here on the
	 * process logs to its stderr, which is the children's output.
	 */
	log_init(LOG_DST_STDERR, 0);
	if ((fd = fcntl(fd, F_DUPFD, 10)) == -1 || dup2(fd, 3) == -1)
		_exit(1);
	if (sv_outfd != -1 && ((sv_outfd = fcntl(sv_outfd, F_DUPFD, 10)) ==
	    -1 || dup2(sv_outfd, 4) == -1))
		_exit(1);
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
	return (3);
}

/*
 * The cleaner: waits on its socket.  CLEAN_READY: the readyfile exists.
 * CLEAN_NOW: remove the files, answer, exit.  The socket closed first
 * (the controller is gone, however it ended): remove them, exit.
 */
static void
clean_main(int fd)
{
	struct sc_config	*conf = env->conf;
	struct sandbox_files	 sb;
	ssize_t			 n;
	int			 ready = 0;
	char			 c;

	fd = priv_setup("cleaner", fd);
	memset(&sb, 0, sizeof(sb));
	sb.pidfile = conf->pidfile;
	sb.readyfile = conf->readyfile;
	sb.ctlsock = conf->ctl_socket;
	sandbox_cleaner(&sb);
	for (;;) {
		if ((n = recv(fd, &c, 1, 0)) == -1 && errno == EINTR)
			continue;
		if (n != 1 || c == CLEAN_NOW)
			break;
		if (c == CLEAN_READY)
			ready = 1;
	}
	priv_unlink_all(ready);
	if (n == 1)
		(void)send(fd, &c, 1, MSG_NOSIGNAL);
	_exit(0);
}

/*
 * The spawner.  It keeps stdin, stdout, stderr, its socket and the log
 * file the children's output goes to, and nothing else.
 */
static void
priv_main(int fd, int cfd)
{
	struct sc_config	*conf = env->conf;
	struct sandbox_files	 sb;
	struct priv_req		 req;
	struct msghdr		 msg;
	struct cmsghdr		*cmsg;
	struct iovec		 iov;
	union priv_cmsg		 cmsgbuf;
	int			 fds[2], nfds, i, rfd, ready = 0, done = 0;
	ssize_t			 n;
	pid_t			 pid;

	/* the cleaner first: it outlives the spawner if need be */
	switch (fork()) {
	case -1:
		_exit(1);
	case 0:
		close(fd);
		clean_main(cfd);
	}
	close(cfd);
	fd = priv_setup("spawner", fd);
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
			pid = child_start(&children[req.id], req.verbose,
			    fds[0], fds[1], CLONE_PARENT);
			rfd = errno;
			priv_answer(fd, pid, rfd, pid == -1 &&
			    child_replaced(req.id));
			close(fds[0]);
			close(fds[1]);
			break;
		case PRIV_READY:
			if (conf->readyfile == NULL) {
				priv_answer(fd, -1, EINVAL, 0);
				break;
			}
			if ((rfd = open(conf->readyfile, O_WRONLY | O_CREAT |
			    O_CLOEXEC, 0644)) == -1 ||
			    utimes(conf->readyfile, NULL) == -1) {
				priv_answer(fd, -1, errno, 0);
				if (rfd != -1)
					close(rfd);
				break;
			}
			close(rfd);
			ready = 1;
			priv_answer(fd, 0, 0, 0);
			break;
		case PRIV_CLEANUP:
			/* id: the cleaner did it already */
			if (req.id == 0)
				priv_unlink_all(ready);
			done = 1;
			priv_answer(fd, 0, 0, 0);
			break;
		default:
			log_warnx("unexpected request %d", req.type);
			goto out;
		}
	}
 out:
	/* the controller is gone without saying goodbye */
	if (!done)
		priv_unlink_all(ready);
	_exit(0);
}

void
supervise_start_all(void)
{
	int	 i;

	for (i = 0; i < CHILD_MAX && env->state != SC_STOPPING; i++)
		if (child_spawn(&children[i]) == -1)
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
		sc_shutdown(1);
		return;
	}
	if (c->failed_starts >= SC_START_TRIES) {
		sc_error("%s cannot be restarted: %d starts in a row failed, "
		    "the last: %s", c->name, c->failed_starts, c->why);
		sc_shutdown(1);
		return;
	}
	gettimeofday(&now, NULL);
	if (c->failed_starts == 0 &&
	    now.tv_sec - c->started.tv_sec >= SC_STABLE_SEC)
		c->backoff_ms = SC_BACKOFF_MIN_MS;
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
		sc_shutdown(1);
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
	sc_child_ready(c);
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
		if (c->hung)
			;	/* child_hello_cb() said why */
		else if (WIFSIGNALED(status) && WTERMSIG(status) == SIGSYS)
			child_failed(c, "killed by SIGSYS (sandbox violation)");
		else if (WIFSIGNALED(status))
			child_failed(c, "killed by signal %d",
			    WTERMSIG(status));
		else
			child_failed(c, "exited with status %d",
			    WEXITSTATUS(status));
		c->hung = 0;
		if (c->ever_hello)
			sc_child_died(c);
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
