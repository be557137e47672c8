/*
 * seccomp-bpf (libseccomp), the system call layer of the sandbox on
 * Linux (see sandbox.c for the order of layers): an allowlist per
 * process.  Any other system call kills the process with SIGSYS
 * (SCMP_ACT_KILL_PROCESS).  Built with -Dsandbox_trap=true (tests only)
 * the call traps instead: the handler logs the system call's name and
 * number, then dies of SIGSYS all the same, so the controller sees the
 * same death in both builds.
 *
 * Seccomp filters are inherited across fork and exec, so a process that
 * starts kgpd and proxyd itself (the spawner; the controller started as
 * an ordinary user) must let through whatever they do before their own
 * sandbox is on and ever after: the dynamic loader, their set-up, chroot
 * and user switch as root (sc_exec, sc_exec_root).  Their own, narrower
 * filter stacks on top.  The controller started as root has neither
 * fork nor exec: the spawner starts its children.  clone3() fails with
 * ENOSYS so that glibc creates threads with clone(), whose flags the
 * filter can read.
 *
 * Sanitizer builds let through what the sanitizers need at exit and when
 * they report (see sandbox_int.h).
 */
#include <sys/types.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <seccomp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "sandbox.h"
#include "sandbox_int.h"

#ifndef SYS_SECCOMP
#define SYS_SECCOMP	1	/* si_code of a SIGSYS the filter raised */
#endif

#ifdef SANDBOX_TRAP
/*
 * Test builds: say which call broke the sandbox, then die of SIGSYS.
 * Not async-signal-safe in the strict sense (the log goes through the
 * imsg sink, which allocates): good enough for a process about to die,
 * and never built into a release.
 */
static void
sandbox_sigsys(int sig, siginfo_t *si, void *ctx)
{
	char		 buf[160];
	const char	*name;
	sigset_t	 set;
	int		 len;

	if (si->si_code != SYS_SECCOMP) {
		/* kill(2) from someone, not the filter: no call to name */
		len = snprintf(buf, sizeof(buf), "%s: SIGSYS sent by pid %d\n",
		    log_procname() ? log_procname() : "sandbox",
		    (int)si->si_pid);
		if (len > 0 && (size_t)len < sizeof(buf))
			(void)write(STDERR_FILENO, buf, len);
		logit(LOG_CRIT, "SIGSYS sent by pid %d", (int)si->si_pid);
	} else {
		name = seccomp_syscall_resolve_num_arch(si->si_arch,
		    si->si_syscall);
		len = snprintf(buf, sizeof(buf), "%s: sandbox violation: "
		    "system call %s (%d)\n", log_procname() ?
		    log_procname() : "sandbox", name ? name : "?",
		    si->si_syscall);
		if (len > 0 && (size_t)len < sizeof(buf))
			(void)write(STDERR_FILENO, buf, len);
		logit(LOG_CRIT, "sandbox violation: system call %s (%d)",
		    name ? name : "?", si->si_syscall);
	}

	signal(SIGSYS, SIG_DFL);
	sigemptyset(&set);
	sigaddset(&set, SIGSYS);
	sigprocmask(SIG_UNBLOCK, &set, NULL);
	kill(getpid(), SIGSYS);
	_exit(1);
}

/*
 * Test builds only: SIGUSR2 makes the process break its own sandbox with
 * a call no process may make, in any build (execve), so that the tests
 * can watch a real violation inside a real child: the report above, the
 * death, the controller's log line and the restart.
 */
static void
sandbox_test_violation(int sig)
{
	char	*argv[] = { NULL };

	(void)syscall(SYS_execve, "/nonexistent", argv, argv);
}

static void
sandbox_trap(enum sandbox_proc p)
{
	struct sigaction	 sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = sandbox_sigsys;
	sa.sa_flags = SA_SIGINFO;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGSYS, &sa, NULL) == -1)
		fatal("%s: sigaction", __func__);
	if (!sandbox_has_files(p))
		signal(SIGUSR2, sandbox_test_violation);
}
#endif

const char *
sandbox_mode(void)
{
#ifdef SANDBOX_TRAP
	return ("seccomp-trap");
#else
	return ("seccomp-kill");
#endif
}

/*
 * A rule: a system call, allowed when every condition on its arguments
 * holds (none: always), or made to fail with an errno.
 */
struct sc_arg {
	unsigned int		 arg;	/* 0 to 5 */
	enum scmp_compare	 op;
	scmp_datum_t		 a, b;	/* MASKED_EQ: a the mask, b the value */
	int			 self;	/* a is this process's pid */
};

struct sc_rule {
	const char		*call;	/* NULL ends a list */
	int			 fail;	/* 0: allowed; else this errno */
	unsigned int		 argc;
	struct sc_arg		 argv[2];
};

#define SC_ALLOW(c)		{ (c), 0, 0, { { 0 } } }
#define SC_ALLOW_IF(c, x)	{ (c), 0, 1, { x } }
#define SC_ALLOW_IF2(c, x, y)	{ (c), 0, 2, { x, y } }
#define SC_FAIL(c, e)		{ (c), (e), 0, { { 0 } } }
#define SC_FAIL_IF(c, e, x)	{ (c), (e), 1, { x } }
#define SC_END			{ NULL, 0, 0, { { 0 } } }
#define SC_EQ(n, v)		{ (n), SCMP_CMP_EQ, (v), 0, 0 }
#define SC_MASKED(n, m, v)	{ (n), SCMP_CMP_MASKED_EQ, (m), (v), 0 }
#define SC_SELF(n)		{ (n), SCMP_CMP_EQ, 0, 0, 1 }
/* an int argument that is not negative (kill(2): no process group) */
#define SC_NOT_NEGATIVE(n)	SC_MASKED((n), 0x80000000, 0)
/* socket(2)'s type without SOCK_NONBLOCK and SOCK_CLOEXEC */
#define SC_SOCK_TYPE(t)		SC_MASKED(1, 0xf, (t))

/* no namespace ever */
#define SC_CLONE_NS	(CLONE_NEWNS | CLONE_NEWCGROUP | CLONE_NEWUTS | \
			    CLONE_NEWIPC | CLONE_NEWUSER | CLONE_NEWPID | \
			    CLONE_NEWNET)

/*
 * The lists.  Read with ARCHITECTURE.md's table "What each process may
 * do": what opens a file, makes a socket or starts a process is in a
 * list of its own processes only.  Which files, Landlock decides
 * (sandbox_landlock.c).
 */

/*
 * Every process: I/O on the descriptors it has or is passed (imsg with
 * SCM_RIGHTS, TLS, streams, libevent's signal pipe), libevent's epoll
 * loop, malloc, the clock and random numbers, signals, exit.  It opens
 * no file, makes no socket and starts no process.
 */
static const struct sc_rule sc_base[] = {
	/* the descriptors it has */
	SC_ALLOW("read"),
	SC_ALLOW("write"),
	SC_ALLOW("readv"),		/* libevent: evbuffer_read() */
	SC_ALLOW("writev"),		/* libevent: evbuffer_write() */
	SC_ALLOW("recvmsg"),		/* imsg, with descriptors */
	SC_ALLOW("sendmsg"),		/* imsg, with descriptors */
	SC_ALLOW("recvfrom"),		/* glibc's recv() */
	SC_ALLOW("sendto"),		/* glibc's send() */
	SC_ALLOW("close"),
	SC_ALLOW("shutdown"),		/* a stream's half-close */
	SC_ALLOW("fcntl"),		/* O_NONBLOCK, F_DUPFD_CLOEXEC */
	SC_ALLOW("setsockopt"),		/* TCP_NODELAY */
	SC_ALLOW("getsockopt"),		/* SO_ERROR, SO_PEERCRED */
	SC_ALLOW_IF("ioctl", SC_EQ(1, FIONREAD)),	/* common/evread.c */
	SC_ALLOW("fstat"),
	/* glibc's fstat(): newfstatat(fd, "", AT_EMPTY_PATH), never a path */
	SC_ALLOW_IF("newfstatat", SC_MASKED(3, AT_EMPTY_PATH, AT_EMPTY_PATH)),
	/* libevent's loop */
	SC_ALLOW("epoll_wait"),
	SC_ALLOW("epoll_pwait"),
	SC_ALLOW("epoll_ctl"),
	/* memory, never executable */
	SC_ALLOW("brk"),
	SC_ALLOW_IF("mmap", SC_MASKED(2, PROT_EXEC, 0)),
	SC_ALLOW_IF("mprotect", SC_MASKED(2, PROT_EXEC, 0)),
	SC_ALLOW("munmap"),
	SC_ALLOW("mremap"),		/* realloc() of a large block */
	SC_ALLOW("madvise"),		/* free() giving pages back */
	SC_ALLOW("futex"),		/* locks: stdio, malloc, OpenSSL */
	/* the clock (where the vDSO cannot), random numbers */
	SC_ALLOW("clock_gettime"),
	SC_ALLOW("gettimeofday"),
	SC_ALLOW("getrandom"),		/* arc4random(), OpenSSL */
	/* its own CPU time and memory, for the figures (sc_stats_self()) */
	SC_ALLOW_IF("getrusage", SC_EQ(0, 0 /* RUSAGE_SELF */)),
	/* imsg_flush()'s short sleep on a full channel (common/imsg.c) */
	SC_ALLOW("nanosleep"),
	SC_ALLOW("clock_nanosleep"),
	/* signals: SIGTERM through libevent; abort() and raise() */
	SC_ALLOW("rt_sigaction"),
	SC_ALLOW("rt_sigprocmask"),
	SC_ALLOW("rt_sigreturn"),
	SC_ALLOW("restart_syscall"),	/* the kernel, after a handler */
	SC_ALLOW("getpid"),
	SC_ALLOW("gettid"),		/* raise(): tgkill(getpid(), gettid()) */
	SC_ALLOW_IF("kill", SC_SELF(0)),	/* this process, nobody else */
	SC_ALLOW_IF("tgkill", SC_SELF(0)),
	SC_ALLOW("exit"),
	SC_ALLOW("exit_group"),
	SC_END
};

/* kgpd: no file system; no network of its own, the sockets it is passed */
static const struct sc_rule sc_kgpd[] = {
	/* a stream the server opens: one end to proxyd (kgpd/kgpd.c) */
	SC_ALLOW_IF("socketpair", SC_EQ(0, AF_UNIX)),
	SC_END
};

/* proxyd: no file system; connects out and resolves names */
static const struct sc_rule sc_proxyd[] = {
	SC_ALLOW("connect"),		/* the application, name servers */
	/* --scproxy-port: the controller's listener, local clients */
	SC_ALLOW("accept4"),
	SC_ALLOW("getpeername"),
	/* long bodies through a pipe of its own (proxyd/splice.c) */
	SC_ALLOW("pipe2"),
	SC_ALLOW("splice"),
	SC_END
};

/* TCP out and UDP (DNS), over IPv4 and IPv6; no raw, unix or netlink */
static const struct sc_rule sc_inet[] = {
	SC_ALLOW_IF2("socket", SC_EQ(0, AF_INET), SC_SOCK_TYPE(SOCK_STREAM)),
	SC_ALLOW_IF2("socket", SC_EQ(0, AF_INET), SC_SOCK_TYPE(SOCK_DGRAM)),
	SC_ALLOW_IF2("socket", SC_EQ(0, AF_INET6), SC_SOCK_TYPE(SOCK_STREAM)),
	SC_ALLOW_IF2("socket", SC_EQ(0, AF_INET6), SC_SOCK_TYPE(SOCK_DGRAM)),
	SC_END
};

/*
 * pacd, sc's PAC process (the operator's JavaScript): sc_base, and the
 * timer that bounds each FindProxyForURL() call (SIGALRM's default
 * action ends the process: pacd/pacd.c).  What pacparser's PAC functions
 * would look up fails with an errno instead of killing it: gethostname()
 * is uname(), and getaddrinfo() (dnsResolve(), isInNet(), myIpAddress())
 * opens the resolver's files and a socket, which fail, so the script
 * gets null, as a browser's PAC does for a name that does not resolve.
 */
static const struct sc_rule sc_pac[] = {
	SC_ALLOW("setitimer"),
	SC_ALLOW("alarm"),
	SC_ALLOW("uname"),
	SC_END
};

static const struct sc_rule sc_pac_nolookup[] = {
	SC_FAIL("open", EACCES),
	SC_FAIL("openat", EACCES),
	SC_FAIL("stat", EACCES),
	SC_FAIL("lstat", EACCES),
	SC_FAIL("statx", EACCES),
	SC_FAIL("access", EACCES),
	SC_FAIL("faccessat", EACCES),
	SC_FAIL("faccessat2", EACCES),
	/* a path (sc_base allows it on a descriptor) */
	SC_FAIL_IF("newfstatat", EACCES, SC_MASKED(3, AT_EMPTY_PATH, 0)),
	SC_FAIL("socket", EACCES),
	SC_FAIL("connect", EACCES),
	SC_END
};

/*
 * sc-server's workers: no file system; they accept on the listeners the
 * parent passed them.  The REST worker has no socket of its own (no
 * socket(), connect() or bind()); the KGP worker connects out for the
 * direct connections of the traffic rules (server/direct.c): TCP, and
 * UDP for its resolver (sc_inet), never bind() or a unix socket: a
 * resigned TLS connection's stream is in-process (kgp_conn_open_local),
 * and so is a node link's stream, which the entry splices onto the
 * client's in the engine (kgp_local_splice).
 */
static const struct sc_rule sc_server[] = {
	SC_ALLOW("accept4"),		/* listener_accept() */
	SC_ALLOW("getpeername"),	/* the peer's address, for the log */
	SC_END
};

static const struct sc_rule sc_server_direct[] = {
	SC_ALLOW("connect"),		/* origins, name servers */
	SC_END
};

/*
 * The controller once its sandbox is on: accept on the control socket
 * and read the peer's credentials; the REST calls (libcurl: TCP, poll,
 * a resolver thread, woken through a socket pair or an eventfd, that
 * reads getaddrinfo()'s files and maybe loads an NSS module, speaks DNS
 * over UDP and asks netlink for the machine's addresses; the CA file of
 * an HTTPS REST API); the TCP connection to the tunnel server;
 * supervision (socketpairs, signals, wait); its files (the log, the
 * readyfile, the unlink of the pidfile, the readyfile and the socket at
 * exit); jansson's hash seed; stdio asking whether standard output is a
 * terminal.
 */
static const struct sc_rule sc_controller[] = {
	/* files (and sc_files): the readyfile, the unlinks at exit */
	SC_ALLOW("unlink"),
	SC_ALLOW("unlinkat"),
	SC_ALLOW("utimensat"),		/* the readyfile touched */
	SC_ALLOW("utimes"),
	SC_ALLOW("rename"),		/* the log file rotated */
	SC_ALLOW("renameat"),
	SC_ALLOW("renameat2"),
	/* network: REST, the tunnel server (and sc_inet) */
	SC_ALLOW("connect"),
	SC_ALLOW("accept4"),		/* the control socket */
	SC_ALLOW("getsockname"),
	SC_ALLOW("getpeername"),
	SC_ALLOW("poll"),		/* libcurl */
	SC_ALLOW("ppoll"),
	SC_ALLOW("sendmmsg"),		/* glibc's resolver: A and AAAA */
	SC_ALLOW("recvmmsg"),
	/* the children's channels, libcurl's resolver wake-up */
	SC_ALLOW_IF("socketpair", SC_EQ(0, AF_UNIX)),
	/* nscd and systemd's user database (getpwuid()), syslog */
	SC_ALLOW_IF2("socket", SC_EQ(0, AF_UNIX), SC_SOCK_TYPE(SOCK_STREAM)),
	SC_ALLOW_IF2("socket", SC_EQ(0, AF_UNIX), SC_SOCK_TYPE(SOCK_DGRAM)),
	/* getaddrinfo() asks the kernel for this machine's addresses */
	SC_ALLOW_IF2("socket", SC_EQ(0, AF_NETLINK),
	    SC_EQ(2, 0 /* NETLINK_ROUTE */)),
	/* processes: supervision of kgpd and proxyd */
	SC_ALLOW("wait4"),		/* waitpid() */
	/* signals for its children (no process group, nobody < 1) */
	SC_ALLOW_IF("kill", SC_NOT_NEGATIVE(0)),
	/* libcurl's resolver thread; glibc goes back to clone() */
	SC_FAIL("clone3", ENOSYS),
	SC_ALLOW("set_robust_list"),	/* a new thread */
	SC_ALLOW("rseq"),
	SC_ALLOW("sched_getaffinity"),
	SC_ALLOW("sched_yield"),
	/* an NSS module getaddrinfo() or getpwuid() loads: executable */
	SC_ALLOW("mmap"),
	SC_ALLOW("mprotect"),
	/* the rest */
	SC_ALLOW("pipe2"),
	SC_ALLOW("eventfd2"),
	SC_ALLOW("uname"),
	SC_ALLOW("sysinfo"),
	SC_ALLOW("getuid"),
	SC_ALLOW("geteuid"),
	SC_ALLOW("getgid"),
	SC_ALLOW("getegid"),
	/* stdio: is standard output a terminal? */
	SC_ALLOW_IF("ioctl", SC_EQ(1, TCGETS)),
	SC_END
};

/*
 * Opening, reading and asking about files: the controller's, and kgpd's
 * and proxyd's before their own sandbox.  Which files, Landlock decides.
 */
static const struct sc_rule sc_files[] = {
	SC_ALLOW("open"),
	SC_ALLOW("openat"),
	SC_ALLOW("lseek"),
	SC_ALLOW("pread64"),
	SC_ALLOW("stat"),
	SC_ALLOW("lstat"),
	SC_ALLOW("newfstatat"),
	SC_ALLOW("statx"),
	SC_ALLOW("access"),
	SC_ALLOW("faccessat"),
	SC_ALLOW("faccessat2"),
	SC_END
};

/* The controller started as root: threads only; limits read, not set. */
static const struct sc_rule sc_threads[] = {
	SC_ALLOW_IF("clone", SC_MASKED(0, CLONE_THREAD | SC_CLONE_NS,
	    CLONE_THREAD)),
	SC_ALLOW_IF("prlimit64", SC_EQ(2, 0)),
	SC_END
};

/* The controller started as an ordinary user: forks kgpd and proxyd. */
static const struct sc_rule sc_fork[] = {
	SC_ALLOW_IF("clone", SC_MASKED(0, SC_CLONE_NS, 0)),
	SC_END
};

/*
 * The spawner: one request at a time on its socket (recvmsg, send), a
 * new process for each start, the readyfile, the unlinks at the end.
 */
static const struct sc_rule sc_spawner[] = {
	/* files (and sc_files): the readyfile, the unlinks at the end */
	SC_ALLOW("utimensat"),
	SC_ALLOW("utimes"),
	SC_ALLOW("unlink"),
	SC_ALLOW("unlinkat"),
	/* its processes are the controller's children */
	SC_ALLOW_IF("clone", SC_EQ(0, CLONE_PARENT | SIGCHLD)),
	SC_FAIL("clone3", ENOSYS),
	SC_END
};

/* The cleaner: its socket (sc_base), the unlinks. */
static const struct sc_rule sc_cleaner[] = {
	SC_ALLOW("unlink"),
	SC_ALLOW("unlinkat"),
	SC_END
};

/*
 * A process that starts kgpd and proxyd itself (the controller started
 * as an ordinary user, the spawner) passes its filter on to them: it
 * must also let through what they do before their own filter is on, and
 * everything their own filters let through (the rows of kgpd and proxyd
 * in sc_profiles).  Between fork and exec: the new process's descriptors
 * and process group.  After exec: the dynamic loader, libc, OpenSSL's
 * and libevent's set-up, the resolver's files, the time zone, and their
 * own sandbox.
 */
static const struct sc_rule sc_exec[] = {
	/* between fork and exec */
	SC_ALLOW("setpgid"),
	SC_ALLOW("dup2"),
	SC_ALLOW("dup3"),
	SC_ALLOW("close_range"),
	SC_ALLOW("getdents64"),
	SC_ALLOW("execve"),
	/* the dynamic loader and libc */
	SC_ALLOW("arch_prctl"),
	SC_ALLOW("set_tid_address"),
	SC_ALLOW("set_robust_list"),
	SC_ALLOW("rseq"),
	SC_ALLOW("mmap"),
	SC_ALLOW("mprotect"),
	SC_ALLOW("readlink"),
	/* files: sc_files (the libraries, the time zone, the resolver's) */
	/* their set-up */
	SC_ALLOW("getuid"),
	SC_ALLOW("geteuid"),
	SC_ALLOW("getgid"),
	SC_ALLOW("getegid"),
	SC_ALLOW("uname"),
	SC_ALLOW("sysinfo"),
	SC_ALLOW("prlimit64"),
	SC_ALLOW("getrlimit"),
	SC_ALLOW("setrlimit"),
	SC_ALLOW("sched_getaffinity"),
	SC_ALLOW("epoll_create1"),
	SC_ALLOW("epoll_create"),
	SC_ALLOW("eventfd2"),
	SC_ALLOW("pipe2"),
	/* their own sandbox (a Landlock ruleset without rules) */
	SC_ALLOW("prctl"),
	SC_ALLOW("seccomp"),
	SC_ALLOW("landlock_create_ruleset"),
	SC_ALLOW("landlock_restrict_self"),
	/* their abort(): their own filter says which process */
	SC_ALLOW_IF("kill", SC_NOT_NEGATIVE(0)),
	SC_ALLOW_IF("tgkill", SC_NOT_NEGATIVE(0)),
	SC_END
};

/*
 * Started by the spawner, kgpd and proxyd are root until their sandbox:
 * the chroot, the switch to the ids they are given and the check that it
 * cannot be undone.
 */
static const struct sc_rule sc_exec_root[] = {
	SC_ALLOW("chroot"),
	SC_ALLOW("chdir"),
	SC_ALLOW("setgroups"),
	SC_ALLOW("setresgid"),
	SC_ALLOW("setresuid"),
	SC_ALLOW("setuid"),		/* sandbox_setuser(): no way back */
	SC_END
};

#ifdef SANDBOX_SANITIZER
/*
 * AddressSanitizer and LeakSanitizer at exit and when reporting: the
 * leak check clones a tracer thread that ptraces its siblings, opens and
 * reads /proc/self/{maps,task,exe}; reports use an alternate stack.
 */
static const struct sc_rule sc_sanitizer[] = {
	SC_ALLOW("readlink"),
	SC_ALLOW("readlinkat"),
	SC_ALLOW("getdents"),
	SC_ALLOW("getdents64"),
	SC_ALLOW("lseek"),
	SC_ALLOW("stat"),
	SC_ALLOW("newfstatat"),
	SC_ALLOW("ptrace"),
	SC_ALLOW("wait4"),
	SC_ALLOW("waitid"),
	SC_ALLOW("sched_yield"),
	SC_ALLOW("sigaltstack"),
	SC_ALLOW("prctl"),
	SC_ALLOW("getppid"),
	SC_ALLOW("sched_getaffinity"),
	SC_ALLOW("pread64"),
	SC_ALLOW("uname"),
	/* read-only opens (Landlock still forbids every write) */
	SC_ALLOW_IF("open", SC_MASKED(1, O_ACCMODE | O_CREAT | O_TRUNC,
	    O_RDONLY)),
	SC_ALLOW_IF("openat", SC_MASKED(2, O_ACCMODE | O_CREAT | O_TRUNC,
	    O_RDONLY)),
	/* isatty() of stderr, to colour a report */
	SC_ALLOW_IF("ioctl", SC_EQ(1, TCGETS)),
	/* a thread (the leak checker's tracer), never a new process */
	SC_ALLOW_IF("clone", SC_MASKED(0, CLONE_VM, CLONE_VM)),
	SC_END
};
#endif

/*
 * The profiles: sc_base, then these lists.  children: the process
 * starts kgpd and proxyd itself (struct sandbox_files names them).
 */
#define SC_LISTS_MAX	8
static const struct sc_profile {
	enum sandbox_proc	 proc;
	int			 children;
	const struct sc_rule	*lists[SC_LISTS_MAX];
} sc_profiles[] = {
	{ SANDBOX_KGPD,		0, { sc_kgpd } },
	{ SANDBOX_PROXYD,	0, { sc_proxyd, sc_inet } },
	{ SANDBOX_SERVER_REST,	0, { sc_server } },
	{ SANDBOX_SERVER_KGP,	0, { sc_server, sc_server_direct, sc_inet } },
	{ SANDBOX_SERVER_CA,	0, { NULL } },	/* sc_base alone */
	{ SANDBOX_PAC,		0, { sc_pac, sc_pac_nolookup } },
	{ SANDBOX_CONTROLLER,	0, { sc_controller, sc_files, sc_inet,
	    sc_threads } },
	{ SANDBOX_CONTROLLER,	1, { sc_controller, sc_files, sc_inet,
	    sc_fork, sc_exec, sc_kgpd, sc_proxyd, sc_pac } },
	{ SANDBOX_SPAWNER,	1, { sc_spawner, sc_files, sc_exec,
	    sc_exec_root, sc_kgpd, sc_proxyd, sc_inet, sc_pac } },
	{ SANDBOX_CLEANER,	0, { sc_cleaner } },
};

static void
sc_load_list(scmp_filter_ctx ctx, const struct sc_rule *r, pid_t self)
{
	struct scmp_arg_cmp	 cmp[2];
	uint32_t		 action;
	unsigned int		 i;
	int			 nr, e;

	for (; r->call != NULL; r++) {
		nr = seccomp_syscall_resolve_name(r->call);
		if (nr == __NR_SCMP_ERROR)
			fatalx("seccomp: unknown system call %s", r->call);
		if (nr < 0)
			continue;	/* not a system call on this arch */
		memset(cmp, 0, sizeof(cmp));
		for (i = 0; i < r->argc; i++) {
			cmp[i].arg = r->argv[i].arg;
			cmp[i].op = r->argv[i].op;
			cmp[i].datum_a = r->argv[i].self ?
			    (scmp_datum_t)self : r->argv[i].a;
			cmp[i].datum_b = r->argv[i].b;
		}
		action = r->fail != 0 ? SCMP_ACT_ERRNO(r->fail) :
		    SCMP_ACT_ALLOW;
		/* EEXIST: the call is already allowed (the lists overlap) */
		if ((e = seccomp_rule_add_array(ctx, action, nr, r->argc,
		    cmp)) < 0 && e != -EEXIST)
			fatalx("seccomp: %s: %s", r->call, strerror(-e));
	}
}

void
sandbox_seccomp(enum sandbox_proc p, const struct sandbox_files *f)
{
	const struct sc_profile	*prof = NULL;
	scmp_filter_ctx		 ctx;
	uint32_t		 deny;
	pid_t			 self = getpid();
	size_t			 i;
	int			 children, r;

	children = f != NULL && (f->exec[0] != NULL || f->exec[1] != NULL ||
	    f->exec[2] != NULL);
	for (i = 0; i < sizeof(sc_profiles) / sizeof(sc_profiles[0]); i++)
		if (sc_profiles[i].proc == p &&
		    sc_profiles[i].children == children) {
			prof = &sc_profiles[i];
			break;
		}
	if (prof == NULL)
		fatalx("%s: no filter for the %s", __func__, sandbox_name(p));

#ifdef SANDBOX_TRAP
	sandbox_trap(p);
	deny = SCMP_ACT_TRAP;
#else
	deny = SCMP_ACT_KILL_PROCESS;
#endif
	if ((ctx = seccomp_init(deny)) == NULL)
		fatalx("%s: seccomp_init", __func__);
	sc_load_list(ctx, sc_base, self);
	for (i = 0; i < SC_LISTS_MAX && prof->lists[i] != NULL; i++)
		sc_load_list(ctx, prof->lists[i], self);
#ifdef SANDBOX_SANITIZER
	sc_load_list(ctx, sc_sanitizer, self);
#endif
	if ((r = seccomp_load(ctx)) < 0)
		fatalx("%s: seccomp_load: %s", __func__, strerror(-r));
	seccomp_release(ctx);
}
