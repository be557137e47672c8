/*
 * Starting kgpd and proxyd: where their programs are, and the exec with
 * a scrubbed environment, fd 3 = the channel to the controller, fd 4 =
 * the kgpd <-> proxyd channel.  supervise.c decides when; this file
 * starts them (spawner_start()).
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
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "controller.h"
#include "log.h"
#include "sandbox.h"

static struct sc		*env;
/* supervise.c's table: each helper's name, and its program's path here */
static struct child		*sp_children;
/* the children's stdout and stderr when the log goes to a file */
static int			 sp_outfd = -1;
/* started as root: -u UID:GID of _sc for the children */
static char			 sp_ids[32];
/* who executes the children: "root", "nobody (uid 65534)" */
static char			 sp_user[64];
/* each child's program as it was at the start */
static struct stat		 sp_exe[CHILD_MAX];

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

static int	 spawn_find_path(struct child *);
static void	 spawn_noexec(const char *, int, char *, size_t);
static int	 spawn_replaced(enum child_id);
static pid_t	 spawn_process(struct child *, int, int, int, int);
__attribute__((noreturn))
static void	 spawn_exec(struct child *, int, int, int, int);
static int	 priv_start(void);
__attribute__((noreturn))
static void	 priv_main(int, int);
__attribute__((noreturn))
static void	 clean_main(int);
static int	 priv_request(int, int, int, int, int, int *);
static int	 clean_request(char);

/*
 * Why the user this process runs as cannot execute path (access(2)
 * failed with error): the first directory on the way it may not enter,
 * or what the kernel said of the file.
 */
static void
spawn_noexec(const char *path, int error, char *buf, size_t len)
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
				    "closed to that user", path, sp_user, dir,
				    (unsigned)(st.st_mode & 07777),
				    (unsigned)st.st_uid);
			else
				snprintf(buf, len, "cannot execute %s as %s: "
				    "the directory %s is closed to that user",
				    path, sp_user, dir);
			return;
		}
	}
	snprintf(buf, len, "cannot execute %s as %s: %s", path, sp_user,
	    strerror(error));
}

/*
 * The program: next to sc in the build tree (BUILD/controller/sc,
 * BUILD/kgpd/kgpd), or in the libexec directory.  One that is there but
 * that this user may not execute is an error that says why (a build tree
 * in a directory closed to the user), not a reason to run another.
 */
static int
spawn_find_path(struct child *c)
{
	char	 self[PATH_MAX], err[3072], *dir;
	ssize_t	 n;

	if ((n = readlink("/proc/self/exe", self, sizeof(self) - 1)) > 0) {
		self[n] = '\0';
		dir = dirname(dirname(self));
		snprintf(c->path, sizeof(c->path), "%s/%s/%s",
		    strcmp(dir, "/") == 0 ? "" : dir, c->prog, c->prog);
		if (access(c->path, X_OK) == 0)
			goto found;
		if (errno != ENOENT && errno != ENOTDIR)
			goto noexec;
	}
	snprintf(c->path, sizeof(c->path), "%s/%s", SC_LIBEXECDIR, c->prog);
	if (access(c->path, X_OK) == 0)
		goto found;
	if (errno != ENOENT && errno != ENOTDIR)
		goto noexec;
	sc_error("cannot find %s (looked next to sc in the build tree and in "
	    "%s)", c->prog, SC_LIBEXECDIR);
	return (-1);
 noexec:
	spawn_noexec(c->path, errno, err, sizeof(err));
	sc_error("%s", err);
	return (-1);
 found:
	if (stat(c->path, &sp_exe[c->id]) == -1)
		memset(&sp_exe[c->id], 0, sizeof(sp_exe[c->id]));
	return (0);
}

/* Is c's program another file than at the start (an upgrade)? */
static int
spawn_replaced(enum child_id id)
{
	struct stat	 st;

	if (sp_exe[id].st_ino == 0)
		return (0);
	if (stat(sp_children[id].path, &st) == -1)
		return (1);
	return (st.st_dev != sp_exe[id].st_dev ||
	    st.st_ino != sp_exe[id].st_ino);
}

/*
 * Who starts the helpers (supervise.c's table of CHILD_MAX of them),
 * and from which programs.  pw: _sc, when sc was started as root; then
 * the spawner (and by it the cleaner) is forked here.
 */
int
spawner_init(struct sc *x_env, struct child *helpers,
    const struct passwd *pw)
{
	struct passwd	*me;
	const char	*logfile;
	int		 i;

	env = x_env;
	sp_children = helpers;
	if (geteuid() == 0)
		strlcpy(sp_user, "root", sizeof(sp_user));
	else if ((me = getpwuid(geteuid())) != NULL)
		snprintf(sp_user, sizeof(sp_user), "%s (uid %u)", me->pw_name,
		    (unsigned)geteuid());
	else
		snprintf(sp_user, sizeof(sp_user), "uid %u",
		    (unsigned)geteuid());
	if (pw != NULL)
		snprintf(sp_ids, sizeof(sp_ids), "%u:%u",
		    (unsigned)pw->pw_uid, (unsigned)pw->pw_gid);
	/*
	 * A child writes to its stdout and stderr only when its channel
	 * is gone or when it crashes (sanitizer reports): with -l FILE,
	 * that belongs in the file, not among the console lines.
	 */
	logfile = env->conf->logfile;
	if (logfile != NULL && strcmp(logfile, "-") != 0 &&
	    (sp_outfd = open(logfile, O_WRONLY | O_APPEND | O_CREAT |
	    O_CLOEXEC, 0644)) == -1) {
		sc_error("cannot open the log file %s: %s", logfile,
		    strerror(errno));
		return (-1);
	}
	for (i = 0; i < CHILD_MAX; i++) {
		if (helpers[i].off)
			continue;
		if (spawn_find_path(&helpers[i]) == -1)
			return (-1);
		log_debug("%s: %s", helpers[i].name, helpers[i].path);
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
spawn_exec(struct child *c, int verbose, int ctlfd, int peerfd, int errfd)
{
	struct proc_env	 pe;
	char		*argv[8];
	int		 i, n, fd3, fd4, fd5, error;

	n = 0;
	argv[n++] = UNCONST(c->prog);
	for (i = 0; i < verbose && i < 3; i++)
		argv[n++] = "-v";
	for (i = 0; i > verbose && i > LOG_LEVEL_ERROR; i--)
		argv[n++] = "-q";
	if (sp_ids[0] != '\0') {
		argv[n++] = "-u";
		argv[n++] = sp_ids;
	}
	argv[n] = NULL;
	proc_child_env(&pe);
	proc_child_signals();
	if (sp_outfd != -1 && (dup2(sp_outfd, STDOUT_FILENO) == -1 ||
	    dup2(sp_outfd, STDERR_FILENO) == -1))
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
spawn_process(struct child *c, int verbose, int ctlfd, int peerfd, int flags)
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
		spawn_exec(c, verbose, ctlfd, peerfd, ep[1]);
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

/*
 * Start c with ctlfd as its fd 3 and peerfd as its fd 4, and verbose
 * times -v: by the spawner when sc was started as root, else from here.
 * Returns its pid, or -1 with what went wrong in why.
 */
pid_t
spawner_start(struct child *c, int verbose, int ctlfd, int peerfd,
    char *why, size_t whylen)
{
	int	 replaced = 0, error;
	pid_t	 pid;

	if (sp_ids[0] != '\0') {
		/* started as root: the spawner starts it */
		pid = priv_request(PRIV_SPAWN, c->id, verbose, ctlfd, peerfd,
		    &replaced);
	} else {
		pid = spawn_process(c, verbose, ctlfd, peerfd, 0);
		if (pid == -1)
			replaced = spawn_replaced(c->id);
	}
	if (pid != -1)
		return (pid);
	error = errno;
	if (sp_ids[0] != '\0' && priv_fd == -1)
		snprintf(why, whylen, "the spawner is gone");
	else
		snprintf(why, whylen, "cannot execute %s as %s: %s%s",
		    c->path, sp_ids[0] != '\0' ? "root" : sp_user,
		    strerror(error), replaced ? " (the file was "
		    "replaced since sc started: restart sc to run the "
		    "new one)" : "");
	return (-1);
}

/*
 * What the sandbox of a process that removes sc's files lets it reach:
 * the pidfile, the readyfile and the control socket; with exec, the
 * helpers' programs too, for one that starts them.
 */
void
spawner_sandbox_files(struct sandbox_files *sb, int exec)
{
	const struct sc_config	*conf = env->conf;

	sb->pidfile = conf->pidfile;
	sb->readyfile = conf->readyfile;
	sb->ctlsock = conf->ctl_socket;
	if (exec) {
		sb->exec[0] = sp_children[CHILD_KGPD].path;
		sb->exec[1] = sp_children[CHILD_PROXYD].path;
		if (!sp_children[CHILD_PAC].off)
			sb->exec[2] = sp_children[CHILD_PAC].path;
	}
}

/* pid is gone: was it the spawner?  Then no helper can start again. */
int
spawner_exited(pid_t pid)
{
	if (priv_pid == -1 || pid != priv_pid)
		return (0);
	priv_pid = -1;
	if (priv_fd != -1)
		close(priv_fd);
	priv_fd = -1;
	return (1);
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
priv_request(int type, int id, int verbose, int fd3, int fd4,
    int *replaced)
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
	req.verbose = verbose;
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
spawner_readyfile(const char *path)
{
	int	 fd;

	if (sp_ids[0] != '\0') {
		if (priv_request(PRIV_READY, 0, 0, -1, -1, NULL) == -1)
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
spawner_cleanup(void)
{
	int	 done;

	if (sp_ids[0] == '\0')
		return;
	done = clean_request(CLEAN_NOW) == 0;
	if (clean_fd != -1)
		close(clean_fd);
	clean_fd = -1;
	if (priv_fd != -1 && priv_request(PRIV_CLEANUP, done, 0, -1,
	    -1, NULL) == -1 && !done)
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
	if (sp_outfd != -1 && ((sp_outfd = fcntl(sp_outfd, F_DUPFD, 10)) ==
	    -1 || dup2(sp_outfd, 4) == -1))
		_exit(1);
	if (sp_outfd != -1) {
		sp_outfd = 4;
		if (dup2(sp_outfd, STDERR_FILENO) == -1)
			_exit(1);
	}
	closefrom(sp_outfd != -1 ? 5 : 4);
	set_cloexec(3, 1);
	if (sp_outfd != -1)
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
	struct sandbox_files	 sb;
	ssize_t			 n;
	int			 ready = 0;
	char			 c;

	fd = priv_setup("cleaner", fd);
	memset(&sb, 0, sizeof(sb));
	spawner_sandbox_files(&sb, 0);
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
	spawner_sandbox_files(&sb, 1);
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
			pid = spawn_process(&sp_children[req.id], req.verbose,
			    fds[0], fds[1], CLONE_PARENT);
			rfd = errno;
			priv_answer(fd, pid, rfd, pid == -1 &&
			    spawn_replaced(req.id));
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
