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

	name = seccomp_syscall_resolve_num_arch(si->si_arch, si->si_syscall);
	len = snprintf(buf, sizeof(buf), "%s: sandbox violation: system call "
	    "%s (%d)\n", log_procname() ? log_procname() : "sandbox",
	    name ? name : "?", si->si_syscall);
	if (len > 0 && (size_t)len < sizeof(buf))
		(void)write(STDERR_FILENO, buf, len);
	logit(LOG_CRIT, "sandbox violation: system call %s (%d)",
	    name ? name : "?", si->si_syscall);

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
 * What both processes need: I/O on the descriptors they have or are
 * passed (imsg with SCM_RIGHTS, TLS, streams, libevent's signal pipe),
 * libevent's epoll loop, malloc, the clock and random numbers (OpenSSL,
 * arc4random), imsg_flush()'s short sleep on a full channel, signals
 * (SIGTERM through libevent), exit.
 */
static const char *sc_common[] = {
	"read", "write", "readv", "writev",
	"recvmsg", "sendmsg", "recvfrom", "sendto",
	"close", "shutdown", "fcntl", "setsockopt", "getsockopt",
	"epoll_wait", "epoll_pwait", "epoll_ctl",
	"brk", "munmap", "mremap", "madvise",
	"getrandom", "clock_gettime", "gettimeofday",
	"nanosleep", "clock_nanosleep",
	"getpid", "gettid", "fstat", "futex",
	"rt_sigreturn", "rt_sigaction", "rt_sigprocmask", "restart_syscall",
	"exit", "exit_group",
	NULL
};

/* sc-server's worker: accept on the listeners it was given. */
static const char *sc_server_worker[] = {
	"accept4", "accept", "getsockname", "getpeername",
	NULL
};

/*
 * proxyd: connect out (socket() is checked apart), resolve names; long
 * bodies through a pipe of its own (splice).
 */
static const char *sc_proxyd[] = {
	"connect", "getsockname", "getpeername", "pipe2", "splice",
	NULL
};

/*
 * The controller once its sandbox is on: accept on the control socket
 * and read the peer's credentials; the REST calls (libcurl: TCP, poll,
 * a resolver thread, woken through a socket pair or an eventfd, that
 * reads getaddrinfo()'s files and maybe loads an NSS module, speaks DNS
 * over UDP and asks netlink for the machine's addresses; the CA file of
 * an HTTPS REST API); the TCP connection to
 * the tunnel server; supervision (socketpairs, signals, wait); its files
 * (the log, the readyfile, the unlink of the pidfile, the readyfile and
 * the socket at exit); jansson's hash seed; stdio asking whether
 * standard output is a terminal.  Which files, Landlock decides.
 */
static const char *sc_controller[] = {
	"accept4", "connect", "bind", "getsockname", "getpeername",
	"poll", "ppoll", "sendmmsg", "recvmmsg",
	"wait4", "waitid", "uname", "sysinfo",
	"getuid", "geteuid", "getgid", "getegid", "getppid",
	"stat", "lstat", "newfstatat", "statx",
	"access", "faccessat", "faccessat2",
	"open", "openat", "lseek", "pread64",
	"unlink", "unlinkat", "utimensat", "utimes",
	"pipe2", "eventfd2", "sched_getaffinity", "sched_yield",
	"set_robust_list", "rseq", "mmap", "mprotect",
	NULL
};

/*
 * A process that starts kgpd and proxyd itself (the controller started
 * as an ordinary user, the spawner) passes its filter on to them: it
 * must also let through what they do before their own filter is on, and
 * everything their own filters let through (sc_common, sc_proxyd and
 * the rules of sandbox_seccomp()).  Between fork and exec: the new
 * process's descriptors and process group.  After exec: the dynamic
 * loader, libc, OpenSSL's and libevent's set-up, the resolver's files,
 * the time zone, and their own sandbox.
 */
static const char *sc_exec[] = {
	"setpgid", "dup2", "dup3", "close_range", "getdents64", "execve",
	"arch_prctl", "set_tid_address", "set_robust_list", "rseq",
	"access", "faccessat", "faccessat2", "open", "openat", "pread64",
	"lseek", "stat", "lstat", "newfstatat", "statx", "readlink",
	"getuid", "geteuid", "getgid", "getegid", "uname", "sysinfo",
	"prlimit64", "getrlimit", "setrlimit", "sched_getaffinity",
	"epoll_create1", "epoll_create", "eventfd2", "pipe2",
	"mmap", "mprotect",
	"prctl", "seccomp", "landlock_create_ruleset", "landlock_add_rule",
	"landlock_restrict_self",
	"connect", "getsockname", "getpeername",
	NULL
};

/*
 * Started by the spawner, kgpd and proxyd are root until their sandbox:
 * the chroot, the switch to the ids they are given and the check that it
 * cannot be undone.
 */
static const char *sc_exec_root[] = {
	"chroot", "chdir", "setgroups", "setresgid", "setresuid", "setgid",
	"setuid",
	NULL
};

/*
 * The spawner: one request at a time on its socket (recvmsg, send), a
 * new process for each start, the readyfile, the unlinks at the end.
 */
static const char *sc_spawner[] = {
	"open", "openat", "utimensat", "utimes", "unlink", "unlinkat",
	NULL
};

/* The cleaner: its socket (sc_common), the unlinks. */
static const char *sc_cleaner[] = {
	"unlink", "unlinkat",
	NULL
};

#ifdef SANDBOX_SANITIZER
/*
 * AddressSanitizer and LeakSanitizer at exit and when reporting: the
 * leak check clones a tracer thread that ptraces its siblings, opens and
 * reads /proc/self/{maps,task,exe}; reports use an alternate stack.
 */
static const char *sc_sanitizer[] = {
	"readlink", "readlinkat", "getdents", "getdents64", "lseek",
	"stat", "newfstatat", "ptrace", "wait4", "waitid", "sched_yield",
	"sigaltstack", "prctl", "getppid", "sched_getaffinity", "pread64",
	"uname",
	NULL
};
#endif

static void
sc_rule(scmp_filter_ctx ctx, uint32_t action, const char *name,
    unsigned int argc, const struct scmp_arg_cmp *argv)
{
	int	 nr, r;

	if ((nr = seccomp_syscall_resolve_name(name)) == __NR_SCMP_ERROR)
		fatalx("seccomp: unknown system call %s", name);
	if (nr < 0)
		return;		/* not a system call on this architecture */
	/* EEXIST: the call is already allowed (the lists overlap) */
	if ((r = seccomp_rule_add_array(ctx, action, nr, argc, argv)) < 0 &&
	    r != -EEXIST)
		fatalx("seccomp: %s: %s", name, strerror(-r));
}

static void
sc_add(scmp_filter_ctx ctx, const char *name, unsigned int argc,
    const struct scmp_arg_cmp *argv)
{
	sc_rule(ctx, SCMP_ACT_ALLOW, name, argc, argv);
}

static void
sc_add_list(scmp_filter_ctx ctx, const char **list)
{
	for (; *list != NULL; list++)
		sc_add(ctx, *list, 0, NULL);
}

static void
sc_add1(scmp_filter_ctx ctx, const char *name, struct scmp_arg_cmp a)
{
	sc_add(ctx, name, 1, &a);
}

static void
sc_add2(scmp_filter_ctx ctx, const char *name, struct scmp_arg_cmp a,
    struct scmp_arg_cmp b)
{
	struct scmp_arg_cmp	 v[2] = { a, b };

	sc_add(ctx, name, 2, v);
}

/* TCP out and UDP (DNS), over IPv4 and IPv6 */
static void
sc_add_inet(scmp_filter_ctx ctx)
{
	sc_add2(ctx, "socket", SCMP_A0(SCMP_CMP_EQ, AF_INET),
	    SCMP_A1(SCMP_CMP_MASKED_EQ, 0xf, SOCK_STREAM));
	sc_add2(ctx, "socket", SCMP_A0(SCMP_CMP_EQ, AF_INET),
	    SCMP_A1(SCMP_CMP_MASKED_EQ, 0xf, SOCK_DGRAM));
	sc_add2(ctx, "socket", SCMP_A0(SCMP_CMP_EQ, AF_INET6),
	    SCMP_A1(SCMP_CMP_MASKED_EQ, 0xf, SOCK_STREAM));
	sc_add2(ctx, "socket", SCMP_A0(SCMP_CMP_EQ, AF_INET6),
	    SCMP_A1(SCMP_CMP_MASKED_EQ, 0xf, SOCK_DGRAM));
}

/* no namespace ever */
#define SC_CLONE_NS	(CLONE_NEWNS | CLONE_NEWCGROUP | CLONE_NEWUTS | \
			    CLONE_NEWIPC | CLONE_NEWUSER | CLONE_NEWPID | \
			    CLONE_NEWNET)

/*
 * What kgpd and proxyd started by this process will do, before and
 * after their own filter (see sc_exec).
 */
static void
sc_add_children(scmp_filter_ctx ctx)
{
	sc_add_list(ctx, sc_exec);
	sc_add_list(ctx, sc_proxyd);
	sc_add_inet(ctx);
	sc_add1(ctx, "socketpair", SCMP_A0(SCMP_CMP_EQ, AF_UNIX));
	sc_add1(ctx, "ioctl", SCMP_A1(SCMP_CMP_EQ, FIONREAD));
	/* their abort(): their own filter says which process */
	sc_add1(ctx, "kill", SCMP_A0(SCMP_CMP_MASKED_EQ, 0x80000000, 0));
	sc_add1(ctx, "tgkill", SCMP_A0(SCMP_CMP_MASKED_EQ, 0x80000000, 0));
}

void
sandbox_seccomp(enum sandbox_proc p, const struct sandbox_files *f)
{
	scmp_filter_ctx	 ctx;
	uint32_t	 deny;
	pid_t		 self = getpid();
	int		 r;

#ifdef SANDBOX_TRAP
	struct sigaction	 sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = sandbox_sigsys;
	sa.sa_flags = SA_SIGINFO;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGSYS, &sa, NULL) == -1)
		fatal("%s: sigaction", __func__);
	if (!sandbox_has_files(p))
		signal(SIGUSR2, sandbox_test_violation);
	deny = SCMP_ACT_TRAP;
#else
	deny = SCMP_ACT_KILL_PROCESS;
#endif
	if ((ctx = seccomp_init(deny)) == NULL)
		fatalx("%s: seccomp_init", __func__);

	sc_add_list(ctx, sc_common);
	/* memory, never executable */
	sc_add1(ctx, "mmap", SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0));
	sc_add1(ctx, "mprotect", SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0));
	/* libevent asks how much a socket holds */
	sc_add1(ctx, "ioctl", SCMP_A1(SCMP_CMP_EQ, FIONREAD));
	/* abort() and raise() signal this process, nobody else */
	sc_add1(ctx, "kill", SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)self));
	sc_add1(ctx, "tgkill", SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)self));
	/* fstat only of a descriptor, never of a path */
	sc_add1(ctx, "newfstatat", SCMP_A3(SCMP_CMP_MASKED_EQ, AT_EMPTY_PATH,
	    AT_EMPTY_PATH));

	switch (p) {
	case SANDBOX_KGPD:
		/* one socketpair per stream */
		sc_add1(ctx, "socketpair", SCMP_A0(SCMP_CMP_EQ, AF_UNIX));
		break;
	case SANDBOX_PROXYD:
		sc_add_list(ctx, sc_proxyd);
		/* TCP out, UDP for DNS; no raw, no unix, no netlink */
		sc_add_inet(ctx);
		break;
	case SANDBOX_SERVER_REST:
	case SANDBOX_SERVER_KGP:
		/* no socket(), connect() or bind(): accept only */
		sc_add_list(ctx, sc_server_worker);
		break;
	case SANDBOX_CONTROLLER:
		sc_add_list(ctx, sc_controller);
		/* REST and the tunnel server; the resolver */
		sc_add_inet(ctx);
		/* the children's channels, libcurl's resolver wake-up */
		sc_add1(ctx, "socketpair", SCMP_A0(SCMP_CMP_EQ, AF_UNIX));
		/* nscd and systemd's user database (getpwuid()), syslog */
		sc_add2(ctx, "socket", SCMP_A0(SCMP_CMP_EQ, AF_UNIX),
		    SCMP_A1(SCMP_CMP_MASKED_EQ, 0xf, SOCK_STREAM));
		sc_add2(ctx, "socket", SCMP_A0(SCMP_CMP_EQ, AF_UNIX),
		    SCMP_A1(SCMP_CMP_MASKED_EQ, 0xf, SOCK_DGRAM));
		/* getaddrinfo() asks the kernel for this machine's addresses */
		sc_add2(ctx, "socket", SCMP_A0(SCMP_CMP_EQ, AF_NETLINK),
		    SCMP_A2(SCMP_CMP_EQ, 0 /* NETLINK_ROUTE */));
		/* stdio: is standard output a terminal? */
		sc_add1(ctx, "ioctl", SCMP_A1(SCMP_CMP_EQ, TCGETS));
		/* signals for its children (no process group, nobody < 1) */
		sc_add1(ctx, "kill", SCMP_A0(SCMP_CMP_MASKED_EQ, 0x80000000, 0));
		/* libcurl's resolver thread; glibc goes back to clone() */
		sc_rule(ctx, SCMP_ACT_ERRNO(ENOSYS), "clone3", 0, NULL);
		if (f->exec[0] != NULL || f->exec[1] != NULL) {
			/* it starts kgpd and proxyd: fork and exec */
			sc_add1(ctx, "clone", SCMP_A0(SCMP_CMP_MASKED_EQ,
			    SC_CLONE_NS, 0));
			sc_add_children(ctx);
		} else {
			/* threads only; limits may be read, not changed */
			sc_add1(ctx, "clone", SCMP_A0(SCMP_CMP_MASKED_EQ,
			    CLONE_THREAD | SC_CLONE_NS, CLONE_THREAD));
			sc_add1(ctx, "prlimit64", SCMP_A2(SCMP_CMP_EQ, 0));
		}
		break;
	case SANDBOX_SPAWNER:
		sc_add_list(ctx, sc_spawner);
		/* its processes are the controller's children */
		sc_add1(ctx, "clone", SCMP_A0(SCMP_CMP_EQ, CLONE_PARENT |
		    SIGCHLD));
		sc_rule(ctx, SCMP_ACT_ERRNO(ENOSYS), "clone3", 0, NULL);
		sc_add_children(ctx);
		sc_add_list(ctx, sc_exec_root);
		break;
	case SANDBOX_CLEANER:
		sc_add_list(ctx, sc_cleaner);
		break;
	}
#ifdef SANDBOX_SANITIZER
	sc_add_list(ctx, sc_sanitizer);
	/* read-only opens (Landlock still forbids every write) */
	sc_add1(ctx, "open", SCMP_A1(SCMP_CMP_MASKED_EQ,
	    O_ACCMODE | O_CREAT | O_TRUNC, O_RDONLY));
	sc_add1(ctx, "openat", SCMP_A2(SCMP_CMP_MASKED_EQ,
	    O_ACCMODE | O_CREAT | O_TRUNC, O_RDONLY));
	/* isatty() of stderr, to colour a report */
	sc_add1(ctx, "ioctl", SCMP_A1(SCMP_CMP_EQ, TCGETS));
	/* a thread (the leak checker's tracer), never a new process */
	sc_add1(ctx, "clone", SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_VM,
	    CLONE_VM));
#endif
	if ((r = seccomp_load(ctx)) < 0)
		fatalx("%s: seccomp_load: %s", __func__, strerror(-r));
	seccomp_release(ctx);
}

