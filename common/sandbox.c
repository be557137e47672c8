/*
 * The sandboxes of kgpd and proxyd.  See sandbox.h and the SECURITY
 * section of sc(8).
 *
 * Linux, in this order:
 *  1. resource limits: no core dump, no file may grow (RLIMIT_FSIZE 0,
 *     SIGXFSZ ignored so a write to a file fails with EFBIG), no new
 *     process (RLIMIT_NPROC 0; per user and not for root, so seccomp is
 *     what really forbids fork), not dumpable (no ptrace by the same user);
 *  2. no_new_privs;
 *  3. Landlock, when the kernel has it: a ruleset that handles every file
 *     system right and has no rule, so no file can be opened, created,
 *     executed or removed; kgpd can neither bind nor connect a TCP socket,
 *     proxyd cannot bind one; neither can signal a process outside its own
 *     domain nor connect to an abstract unix socket.  An older kernel
 *     without Landlock is logged at debug level, the rest still holds;
 *  4. a seccomp-bpf allowlist.  Any other system call kills the process
 *     with SIGSYS (SCMP_ACT_KILL_PROCESS).  Built with -Dsandbox_trap=true
 *     (tests only) the call traps instead: the handler logs the system
 *     call's name and number, then dies of SIGSYS all the same, so the
 *     controller sees the same death in both builds.
 *
 * Sanitizer builds (address, undefined) need more at exit and when they
 * report (LeakSanitizer stops the world with a cloned thread and ptrace,
 * reads /proc/self/maps and /proc/self/task; a report reads
 * /proc/self/exe and the maps to symbolize and asks whether stderr is a
 * terminal): there the allowlist has those calls too (open only read-only,
 * clone only with CLONE_VM), Landlock leaves reading alone, RLIMIT_FSIZE
 * is not set so that a report still reaches a stderr that is a file, nor
 * RLIMIT_NPROC (the tracer thread).  That build is for finding memory
 * errors, not for judging the sandbox; tests/e2e/sandbox.sh checks that
 * reports still come out of it.
 *
 * OpenBSD: pledge and unveil with the same intent.
 *
 * Before all that, a child started as root chroots to the empty directory
 * and becomes the unprivileged user (sandbox_drop()).  That happens just
 * before the sandbox rather than first thing, for the same reason as the
 * sandbox itself: TLS, the time zone, the user database and the resolver
 * configuration have all been read by then.  Sanitizer builds skip the
 * chroot: their reports need /proc.
 */
#include <sys/types.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#ifdef __linux__
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <fcntl.h>
#include <sched.h>
#include <seccomp.h>
#endif

#include "log.h"
#include "sandbox.h"

#if defined(__SANITIZE_ADDRESS__) || defined(SC_SANITIZER)
#define SANDBOX_SANITIZER	1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(memory_sanitizer)
#define SANDBOX_SANITIZER	1
#endif
#endif

static const char *
sandbox_name(enum sandbox_proc p)
{
	switch (p) {
	case SANDBOX_KGPD:
		return ("kgpd");
	case SANDBOX_PROXYD:
		return ("proxyd");
	}
	fatalx("%s: unknown process %d", __func__, (int)p);
}

/*
 * Become pw: groups, gid, uid, real, effective and saved, and make sure
 * there is no way back.
 */
void
sandbox_setuser(const struct passwd *pw)
{
	gid_t	 gid = pw->pw_gid;

	if (pw->pw_uid == 0)
		fatalx("%s: the user %s is root", __func__, pw->pw_name);
	if (setgroups(1, &gid) == -1)
		fatal("%s: setgroups", __func__);
	if (setresgid(gid, gid, gid) == -1)
		fatal("%s: setresgid %u", __func__, (unsigned)gid);
	if (setresuid(pw->pw_uid, pw->pw_uid, pw->pw_uid) == -1)
		fatal("%s: setresuid %u", __func__, (unsigned)pw->pw_uid);
	if (setuid(0) != -1 || seteuid(0) != -1)
		fatalx("%s: could become root again", __func__);
}

/*
 * Started as root: chroot to dir (when not NULL) and become user.
 * Returns 1 then, 0 when not started as root (nothing done).  Every
 * failure is fatal: a process started as root never goes on as root.
 */
int
sandbox_drop(const char *user, const char *dir)
{
	struct passwd	*pw;

	if (getuid() != 0 && geteuid() != 0)
		return (0);
	if ((pw = getpwnam(user)) == NULL)
		fatalx("started as root, but there is no user %s to switch "
		    "to: create it with \"%s\"", user, SC_USER_HINT);
	if (dir != NULL) {
#ifdef SANDBOX_SANITIZER
		log_debug("%s: sanitizer build, no chroot", __func__);
#else
		if (chroot(dir) == -1)
			fatal("%s: chroot %s", __func__, dir);
		if (chdir("/") == -1)
			fatal("%s: chdir /", __func__);
#endif
	}
	sandbox_setuser(pw);
	log_debug("user %s (uid %u)%s%s", user, (unsigned)pw->pw_uid,
	    dir != NULL ? ", chroot " : "", dir != NULL ? dir : "");
	return (1);
}

/*
 * The chroot directory, as root: created (mode 0755) when it is missing;
 * it must be a directory owned by root that nobody else may write to, and
 * empty.  Returns -1 with a message in err otherwise.
 */
int
sandbox_check_chroot(const char *dir, char *err, size_t errlen)
{
	struct stat	 sb;
	struct dirent	*de;
	DIR		*d;

	if (mkdir(dir, 0755) == 0) {
		if (chmod(dir, 0755) == -1) {
			snprintf(err, errlen, "chmod %s: %s", dir,
			    strerror(errno));
			return (-1);
		}
	} else if (errno != EEXIST) {
		snprintf(err, errlen, "cannot create the empty directory %s: "
		    "%s", dir, strerror(errno));
		return (-1);
	}
	if (lstat(dir, &sb) == -1) {
		snprintf(err, errlen, "%s: %s", dir, strerror(errno));
		return (-1);
	}
	if (!S_ISDIR(sb.st_mode) || sb.st_uid != 0 ||
	    (sb.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
		snprintf(err, errlen, "%s must be a directory owned by root "
		    "that only root may write to (mode 0755)", dir);
		return (-1);
	}
	if ((d = opendir(dir)) == NULL) {
		snprintf(err, errlen, "%s: %s", dir, strerror(errno));
		return (-1);
	}
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		snprintf(err, errlen, "%s must be empty (it has %s)", dir,
		    de->d_name);
		closedir(d);
		return (-1);
	}
	closedir(d);
	return (0);
}

void
sandbox_kgpd(void)
{
	sandbox_enter(SANDBOX_KGPD);
}

void
sandbox_proxyd(void)
{
	sandbox_enter(SANDBOX_PROXYD);
}

#ifdef __OpenBSD__

void
sandbox_limits(void)
{
	struct rlimit	 rl = { 0, 0 };

	if (setrlimit(RLIMIT_CORE, &rl) == -1 ||
	    setrlimit(RLIMIT_FSIZE, &rl) == -1 ||
	    setrlimit(RLIMIT_NPROC, &rl) == -1)
		fatal("%s: setrlimit", __func__);
	signal(SIGXFSZ, SIG_IGN);
}

int
sandbox_landlock(enum sandbox_proc p)
{
	return (0);
}

const char *
sandbox_mode(void)
{
	return ("pledge");
}

void
sandbox_enter(enum sandbox_proc p)
{
	const char	*promises;

	tzset();
	sandbox_limits();
	switch (p) {
	case SANDBOX_KGPD:
		promises = "stdio recvfd sendfd";
		break;
	case SANDBOX_PROXYD:
		promises = "stdio inet dns recvfd";
		break;
	default:
		fatalx("%s: unknown process %d", __func__, (int)p);
	}
	if (unveil("/", "") == -1 || unveil(NULL, NULL) == -1)
		fatal("%s: unveil", __func__);
	if (pledge(promises, NULL) == -1)
		fatal("%s: pledge", __func__);
	log_debug("sandbox on (%s: pledge \"%s\")", sandbox_name(p), promises);
}

#elif defined(__linux__)

/*
 * Landlock, without depending on the headers: raw system call numbers
 * and the ABI's bits, added version by version.
 */
#ifndef SYS_landlock_create_ruleset
#define SYS_landlock_create_ruleset	444
#define SYS_landlock_add_rule		445
#define SYS_landlock_restrict_self	446
#endif
#define LL_CREATE_RULESET_VERSION	(1U << 0)
#define LL_FS_V1			((1ULL << 13) - 1)	/* exec..make_sym */
#define LL_FS_READ_FILE			(1ULL << 2)
#define LL_FS_READ_DIR			(1ULL << 3)
#define LL_FS_REFER			(1ULL << 13)		/* ABI 2 */
#define LL_FS_TRUNCATE			(1ULL << 14)		/* ABI 3 */
#define LL_FS_IOCTL_DEV			(1ULL << 15)		/* ABI 5 */
#define LL_NET_BIND_TCP			(1ULL << 0)		/* ABI 4 */
#define LL_NET_CONNECT_TCP		(1ULL << 1)		/* ABI 4 */
#define LL_SCOPE_ABSTRACT_UNIX		(1ULL << 0)		/* ABI 6 */
#define LL_SCOPE_SIGNAL			(1ULL << 1)		/* ABI 6 */

struct ll_ruleset_attr {
	uint64_t	 handled_access_fs;
	uint64_t	 handled_access_net;
	uint64_t	 scoped;
};

void
sandbox_limits(void)
{
	struct rlimit	 rl = { 0, 0 };

	if (setrlimit(RLIMIT_CORE, &rl) == -1)
		fatal("%s: RLIMIT_CORE", __func__);
#ifndef SANDBOX_SANITIZER
	signal(SIGXFSZ, SIG_IGN);
	if (setrlimit(RLIMIT_FSIZE, &rl) == -1)
		fatal("%s: RLIMIT_FSIZE", __func__);
	if (setrlimit(RLIMIT_NPROC, &rl) == -1)
		fatal("%s: RLIMIT_NPROC", __func__);
#endif
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) == -1)
		fatal("%s: PR_SET_DUMPABLE", __func__);
}

/*
 * No file system at all.  Returns the Landlock ABI in force, or 0 when the
 * kernel has no Landlock.  no_new_privs must be set (or CAP_SYS_ADMIN).
 */
int
sandbox_landlock(enum sandbox_proc p)
{
	struct ll_ruleset_attr	 attr;
	size_t			 attrsz;
	int			 abi, fd;

	abi = syscall(SYS_landlock_create_ruleset, NULL, 0,
	    LL_CREATE_RULESET_VERSION);
	if (abi <= 0) {
		log_debug("%s: no Landlock in this kernel (%s)", __func__,
		    strerror(errno));
		return (0);
	}
	memset(&attr, 0, sizeof(attr));
	attr.handled_access_fs = LL_FS_V1;
	if (abi >= 2)
		attr.handled_access_fs |= LL_FS_REFER;
	if (abi >= 3)
		attr.handled_access_fs |= LL_FS_TRUNCATE;
	if (abi >= 5)
		attr.handled_access_fs |= LL_FS_IOCTL_DEV;
#ifdef SANDBOX_SANITIZER
	/* reports and leak checks read /proc/self: see the top */
	attr.handled_access_fs &= ~(LL_FS_READ_FILE | LL_FS_READ_DIR);
#endif
	attrsz = sizeof(attr.handled_access_fs);
	if (abi >= 4) {
		attr.handled_access_net = LL_NET_BIND_TCP;
		if (p == SANDBOX_KGPD)
			attr.handled_access_net |= LL_NET_CONNECT_TCP;
		attrsz = offsetof(struct ll_ruleset_attr, scoped);
	}
	if (abi >= 6) {
		attr.scoped = LL_SCOPE_ABSTRACT_UNIX | LL_SCOPE_SIGNAL;
		attrsz = sizeof(attr);
	}
	if ((fd = syscall(SYS_landlock_create_ruleset, &attr, attrsz, 0)) == -1)
		fatal("%s: landlock_create_ruleset", __func__);
	if (syscall(SYS_landlock_restrict_self, fd, 0) == -1)
		fatal("%s: landlock_restrict_self", __func__);
	close(fd);
	return (abi);
}

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

/* proxyd: connect out (socket() is checked apart), resolve names. */
static const char *sc_proxyd[] = {
	"connect", "getsockname", "getpeername",
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
sc_add(scmp_filter_ctx ctx, const char *name, unsigned int argc,
    const struct scmp_arg_cmp *argv)
{
	int	 nr, r;

	if ((nr = seccomp_syscall_resolve_name(name)) == __NR_SCMP_ERROR)
		fatalx("seccomp: unknown system call %s", name);
	if (nr < 0)
		return;		/* not a system call on this architecture */
	if ((r = seccomp_rule_add_array(ctx, SCMP_ACT_ALLOW, nr, argc,
	    argv)) < 0)
		fatalx("seccomp: %s: %s", name, strerror(-r));
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

static void
sandbox_seccomp(enum sandbox_proc p)
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
		sc_add2(ctx, "socket", SCMP_A0(SCMP_CMP_EQ, AF_INET),
		    SCMP_A1(SCMP_CMP_MASKED_EQ, 0xf, SOCK_STREAM));
		sc_add2(ctx, "socket", SCMP_A0(SCMP_CMP_EQ, AF_INET),
		    SCMP_A1(SCMP_CMP_MASKED_EQ, 0xf, SOCK_DGRAM));
		sc_add2(ctx, "socket", SCMP_A0(SCMP_CMP_EQ, AF_INET6),
		    SCMP_A1(SCMP_CMP_MASKED_EQ, 0xf, SOCK_STREAM));
		sc_add2(ctx, "socket", SCMP_A0(SCMP_CMP_EQ, AF_INET6),
		    SCMP_A1(SCMP_CMP_MASKED_EQ, 0xf, SOCK_DGRAM));
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

void
sandbox_enter(enum sandbox_proc p)
{
	int	 abi;

	(void)sandbox_name(p);
	/* what libc would otherwise open lazily */
	tzset();
	sandbox_limits();
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == -1)
		fatal("%s: PR_SET_NO_NEW_PRIVS", __func__);
	abi = sandbox_landlock(p);
	sandbox_seccomp(p);
	if (abi > 0)
		log_debug("sandbox on (%s: %s, Landlock ABI %d)",
		    sandbox_name(p), sandbox_mode(), abi);
	else
		log_debug("sandbox on (%s: %s, no Landlock)",
		    sandbox_name(p), sandbox_mode());
}

#else

#error "sc has a sandbox for Linux and OpenBSD only"

#endif
