/*
 * The sandboxes of kgpd and proxyd, of the controller and of its root
 * spawner.  See sandbox.h and the SECURITY section of sc(8).
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
 * sandbox itself: TLS, the time zone and the resolver configuration have
 * all been read by then (sc's helpers get the user's ids from the
 * spawner; sc-server's workers look the user up).  Sanitizer builds skip
 * the chroot: their reports need /proc.
 *
 * The controller (sandbox_controller()), the spawner
 * (sandbox_spawner()) and the spawner's cleaner (sandbox_cleaner(), which
 * may only remove sc's three files) get the same three layers, shaped to
 * what they do
 * (see sc_controller, sc_spawner, ll_read): no core dump and not
 * dumpable, but no limit on files or processes (the controller writes
 * its log and may start kgpd and proxyd); no_new_privs; Landlock with
 * rules for their files, the resolver's and the CA certificates; a
 * seccomp allowlist.  Seccomp filters and Landlock domains are inherited
 * across fork and exec, so a process that starts kgpd and proxyd itself
 * (the spawner; the controller started as an ordinary user) must let
 * through whatever they do before their own sandbox is on and ever
 * after: the dynamic loader, their set-up, chroot and user switch as
 * root (sc_exec, sc_exec_root).  Their own, narrower sandbox stacks on
 * top.  The controller started as root has neither fork nor exec: the
 * spawner starts its children.  clone3() fails with ENOSYS so that
 * glibc creates threads with clone(), whose flags the filter can read.
 * In a -Dsandbox_trap=true build, SC_SANDBOX_OFF in the environment
 * leaves the controller and the spawner without a sandbox, to debug;
 * release builds have no such switch.
 */
#include <sys/types.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <grp.h>
#include <libgen.h>
#include <limits.h>
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
#include <elf.h>
#include <fcntl.h>
#include <link.h>
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

/* sc-server's workers */
#define SANDBOX_IS_SERVER(p)	((p) == SANDBOX_SERVER_REST || \
	(p) == SANDBOX_SERVER_KGP)

static void	 sandbox_files_enter(enum sandbox_proc,
		    const struct sandbox_files *);

static const char *
sandbox_name(enum sandbox_proc p)
{
	switch (p) {
	case SANDBOX_KGPD:
		return ("kgpd");
	case SANDBOX_PROXYD:
		return ("proxyd");
	case SANDBOX_CONTROLLER:
		return ("controller");
	case SANDBOX_SPAWNER:
		return ("spawner");
	case SANDBOX_CLEANER:
		return ("cleaner");
	case SANDBOX_SERVER_REST:
		return ("sc-server REST worker");
	case SANDBOX_SERVER_KGP:
		return ("sc-server KGP worker");
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

static void	 sandbox_drop_pw(const struct passwd *, const char *);

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
	sandbox_drop_pw(pw, dir);
	return (1);
}

/*
 * The same with the user's ids as "UID:GID" (ids), resolved by whoever
 * started this process, so that nothing here reads the user database:
 * kgpd and proxyd started by sc's spawner, whose sandbox only lets them
 * read the /etc/passwd of sc's start (a file replaced since, by useradd
 * or passwd, cannot be opened, and the user database then tries NSS
 * modules that the sandbox kills).  ids NULL: look SC_USER up.
 */
int
sandbox_drop_ids(const char *ids, const char *dir)
{
	struct passwd	 pw;
	const char	*errstr;
	char		 buf[32], *g;

	if (ids == NULL)
		return (sandbox_drop(SC_USER, dir));
	if (getuid() != 0 && geteuid() != 0)
		return (0);
	if (strlcpy(buf, ids, sizeof(buf)) >= sizeof(buf) ||
	    (g = strchr(buf, ':')) == NULL)
		fatalx("%s: bad user ids \"%s\", want UID:GID", __func__,
		    ids);
	*g++ = '\0';
	memset(&pw, 0, sizeof(pw));
	pw.pw_name = (char *)SC_USER;
	pw.pw_uid = strtonum(buf, 1, UINT32_MAX - 1, &errstr);
	if (errstr != NULL)
		fatalx("%s: user id %s is %s", __func__, buf, errstr);
	pw.pw_gid = strtonum(g, 0, UINT32_MAX - 1, &errstr);
	if (errstr != NULL)
		fatalx("%s: group id %s is %s", __func__, g, errstr);
	sandbox_drop_pw(&pw, dir);
	return (1);
}

static void
sandbox_drop_pw(const struct passwd *pw, const char *dir)
{
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
	log_debug("user %s (uid %u)%s%s", pw->pw_name, (unsigned)pw->pw_uid,
	    dir != NULL ? ", chroot " : "", dir != NULL ? dir : "");
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

/*
 * sc-server's workers: like kgpd, no file system and no socket of their
 * own (the parent binds every port and passes the listeners), and they
 * may accept on those listeners.  The REST worker gets no descriptor
 * after its start; the KGP worker gets the entry ports.
 */
void
sandbox_server_rest(void)
{
	sandbox_enter(SANDBOX_SERVER_REST);
}

void
sandbox_server_kgp(void)
{
	sandbox_enter(SANDBOX_SERVER_KGP);
}

/*
 * The controller, after its set-up: once the log file, the pidfile, the
 * control socket, the spawner, libcurl and the user switch are done, and
 * before it starts kgpd and proxyd.
 */
void
sandbox_controller(const struct sandbox_files *f)
{
	sandbox_files_enter(SANDBOX_CONTROLLER, f);
}

/* The spawner, root, as soon as it is forked. */
void
sandbox_spawner(const struct sandbox_files *f)
{
	sandbox_files_enter(SANDBOX_SPAWNER, f);
}

/*
 * The spawner's cleaner, root: it may remove the pidfile, the control
 * socket and the readyfile, and read and write its socket; nothing else.
 */
void
sandbox_cleaner(const struct sandbox_files *f)
{
	sandbox_files_enter(SANDBOX_CLEANER, f);
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

int
sandbox_landlock_files(enum sandbox_proc p, const struct sandbox_files *f)
{
	return (0);
}

static void
sandbox_unveil(const char *path, const char *perm)
{
	if (path != NULL && strcmp(path, "-") != 0 &&
	    unveil(path, perm) == -1 && errno != ENOENT)
		fatal("%s: unveil %s", __func__, path);
}

static void
sandbox_unveil_dir(const char *path, const char *perm)
{
	char	 buf[PATH_MAX];

	if (path == NULL)
		return;
	strlcpy(buf, path, sizeof(buf));
	sandbox_unveil(dirname(buf), perm);
}

/*
 * The controller: its files, the resolver and the CA certificates, and
 * kgpd and proxyd when it starts them itself.  The spawner: kgpd and
 * proxyd, the readyfile, the files it removes at the end.
 */
static void
sandbox_files_enter(enum sandbox_proc p, const struct sandbox_files *f)
{
	const char	*promises;
	int		 i;

	tzset();
	if (setrlimit(RLIMIT_CORE, &(struct rlimit){ 0, 0 }) == -1)
		fatal("%s: setrlimit", __func__);
	if (p == SANDBOX_CLEANER) {
		sandbox_unveil_dir(f->pidfile, "c");
		sandbox_unveil_dir(f->ctlsock, "c");
		sandbox_unveil_dir(f->readyfile, "c");
		if (unveil(NULL, NULL) == -1 || pledge("stdio cpath",
		    NULL) == -1)
			fatal("%s: pledge", __func__);
		return;
	}
	if (p == SANDBOX_CONTROLLER) {
		sandbox_unveil(f->logfile, "wc");
		sandbox_unveil("/etc/resolv.conf", "r");
		sandbox_unveil("/etc/hosts", "r");
		sandbox_unveil("/etc/ssl", "r");
		sandbox_unveil("/etc/localtime", "r");
		sandbox_unveil("/usr/share/zoneinfo", "r");
		sandbox_unveil("/etc/passwd", "r");
		sandbox_unveil("/etc/group", "r");
		sandbox_unveil(f->cafile, "r");
	}
	sandbox_unveil_dir(f->pidfile, "c");
	sandbox_unveil_dir(f->ctlsock, "c");
	sandbox_unveil_dir(f->readyfile, "wc");
	for (i = 0; i < 2; i++)
		sandbox_unveil(f->exec[i], "x");
	if (unveil(NULL, NULL) == -1)
		fatal("%s: unveil", __func__);
	if (p == SANDBOX_SPAWNER)
		promises = "stdio rpath wpath cpath fattr recvfd proc exec";
	else if (f->exec[0] != NULL)
		promises = "stdio rpath wpath cpath fattr inet dns unix "
		    "sendfd recvfd proc exec getpw";
	else
		promises = "stdio rpath wpath cpath fattr inet dns unix "
		    "sendfd recvfd proc getpw";
	/* kgpd and proxyd pledge themselves, after their chroot */
	if (pledge(promises, NULL) == -1)
		fatal("%s: pledge", __func__);
	log_debug("sandbox on (%s: pledge \"%s\")", sandbox_name(p),
	    promises);
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
	case SANDBOX_SERVER_KGP:
		promises = "stdio inet recvfd";
		break;
	case SANDBOX_SERVER_REST:
		/* its one listener came before the sandbox */
		promises = "stdio inet";
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
#define LL_RULE_PATH_BENEATH		1
#define LL_FS_V1			((1ULL << 13) - 1)	/* exec..make_sym */
#define LL_FS_EXECUTE			(1ULL << 0)
#define LL_FS_WRITE_FILE		(1ULL << 1)
#define LL_FS_READ_FILE			(1ULL << 2)
#define LL_FS_READ_DIR			(1ULL << 3)
#define LL_FS_REMOVE_FILE		(1ULL << 5)
#define LL_FS_MAKE_REG			(1ULL << 8)
#define LL_FS_REFER			(1ULL << 13)		/* ABI 2 */
#define LL_FS_TRUNCATE			(1ULL << 14)		/* ABI 3 */
#define LL_FS_IOCTL_DEV			(1ULL << 15)		/* ABI 5 */
#define LL_NET_BIND_TCP			(1ULL << 0)		/* ABI 4 */
#define LL_NET_CONNECT_TCP		(1ULL << 1)		/* ABI 4 */
#define LL_SCOPE_ABSTRACT_UNIX		(1ULL << 0)		/* ABI 6 */
#define LL_SCOPE_SIGNAL			(1ULL << 1)		/* ABI 6 */

/* the rights that apply to a file rather than a directory */
#define LL_FS_FILE	(LL_FS_EXECUTE | LL_FS_WRITE_FILE | LL_FS_READ_FILE | \
			    LL_FS_TRUNCATE | LL_FS_IOCTL_DEV)

struct ll_ruleset_attr {
	uint64_t	 handled_access_fs;
	uint64_t	 handled_access_net;
	uint64_t	 scoped;
};

struct ll_path_beneath_attr {
	uint64_t	 allowed_access;
	int32_t		 parent_fd;
} __attribute__((__packed__));

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

/* The kernel's Landlock ABI version, or 0 (logged) when it has none. */
static int
ll_abi(const char *who)
{
	int	 abi;

	abi = syscall(SYS_landlock_create_ruleset, NULL, 0,
	    LL_CREATE_RULESET_VERSION);
	if (abi <= 0) {
		log_debug("%s: no Landlock in this kernel (%s)", who,
		    strerror(errno));
		return (0);
	}
	return (abi);
}

/* Every file system access this ABI can restrict. */
static uint64_t
ll_handled_fs(int abi)
{
	uint64_t	 h = LL_FS_V1;

	if (abi >= 2)
		h |= LL_FS_REFER;
	if (abi >= 3)
		h |= LL_FS_TRUNCATE;
	if (abi >= 5)
		h |= LL_FS_IOCTL_DEV;
#ifdef SANDBOX_SANITIZER
	/*
	 * Sanitizer reports and leak checks (and the children's start)
	 * read /proc/self: see the top.
	 */
	h &= ~(LL_FS_READ_FILE | LL_FS_READ_DIR);
#endif
	return (h);
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

	if ((abi = ll_abi(__func__)) <= 0)
		return (0);
	memset(&attr, 0, sizeof(attr));
	attr.handled_access_fs = ll_handled_fs(abi);
	attrsz = sizeof(attr.handled_access_fs);
	if (abi >= 4) {
		attr.handled_access_net = LL_NET_BIND_TCP;
		if (p == SANDBOX_KGPD || SANDBOX_IS_SERVER(p))
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

/*
 * The controller and the spawner: files instead of none.
 *
 * What the controller reads once its sandbox is on: the resolver's
 * configuration and the NSS modules getaddrinfo() may load (libcurl's
 * resolver, the tunnel server's name at every reconnection), the CA
 * certificates libcurl and OpenSSL read for an HTTPS REST API, the time
 * zone, the user database (the control socket's group check when the
 * kernel cannot tell a peer's groups), jansson's hash seed.  kgpd and
 * proxyd, when the controller or the spawner starts them, read the
 * same before their own sandbox: the libraries, the time zone, OpenSSL's
 * configuration, the resolver's (proxyd); not the user database: the
 * spawner gives them _sc's ids (a rule holds the file it was made for,
 * and useradd replaces /etc/passwd with a new one).  Nothing there is
 * secret: /etc/shadow, the other users' files, the keys of the machine
 * stay out.  The spawner, which is root, gets only OpenSSL's
 * configuration out of /etc/ssl (/etc/ssl/private is there).
 */
static const char *ll_read[] = {
	"/etc/resolv.conf", "/etc/hosts", "/etc/nsswitch.conf",
	"/etc/gai.conf", "/etc/host.conf",
	"/etc/localtime", "/usr/share/zoneinfo",
	"/etc/ld.so.cache", "/lib", "/lib64", "/usr/lib", "/usr/lib64",
	"/usr/local/lib",
	"/dev/urandom",
	NULL
};
static const char *ll_read_controller[] = {
	"/etc/ssl", "/usr/lib/ssl", "/usr/share/ca-certificates",
	"/etc/ca-certificates", "/etc/pki",
	"/etc/passwd", "/etc/group",
	NULL
};
static const char *ll_read_spawner[] = {
	"/etc/ssl/openssl.cnf", "/usr/lib/ssl/openssl.cnf",
	NULL
};

/*
 * One rule: rights on path (a file, or a directory and all beneath).
 * A path that does not exist is skipped: nothing to allow.
 */
static void
ll_allow(int rfd, uint64_t handled, const char *path, uint64_t rights)
{
	struct ll_path_beneath_attr	 pb;
	struct stat			 sb;
	int				 fd;

	if (path == NULL || *path == '\0')
		return;
	if ((fd = open(path, O_PATH | O_CLOEXEC)) == -1) {
		if (errno != ENOENT && errno != ENOTDIR)
			log_debug("%s: %s: %s", __func__, path,
			    strerror(errno));
		return;
	}
	if (fstat(fd, &sb) == -1)
		fatal("%s: fstat %s", __func__, path);
	if (!S_ISDIR(sb.st_mode))
		rights &= LL_FS_FILE;
	memset(&pb, 0, sizeof(pb));
	pb.allowed_access = rights & handled;
	pb.parent_fd = fd;
	if (pb.allowed_access != 0 && syscall(SYS_landlock_add_rule, rfd,
	    LL_RULE_PATH_BENEATH, &pb, 0) == -1)
		fatal("%s: landlock_add_rule %s", __func__, path);
	close(fd);
}

/* Rights on the directory a file is in. */
static void
ll_allow_dir(int rfd, uint64_t handled, const char *path, uint64_t rights)
{
	char	 buf[PATH_MAX];

	if (path == NULL || strlcpy(buf, path, sizeof(buf)) >= sizeof(buf))
		return;
	ll_allow(rfd, handled, dirname(buf), rights);
}

/*
 * The dynamic loader of this program: kgpd and proxyd, built with it,
 * name the same one, and the kernel opens it for execution too.
 */
static int
ll_interp_cb(struct dl_phdr_info *info, size_t size, void *arg)
{
	const char	**interp = arg;
	int		  i;

	for (i = 0; i < info->dlpi_phnum; i++)
		if (info->dlpi_phdr[i].p_type == PT_INTERP) {
			*interp = (const char *)(info->dlpi_addr +
			    info->dlpi_phdr[i].p_vaddr);
			break;
		}
	return (1);	/* the first object is the program */
}

/*
 * The controller's and the spawner's Landlock: the files they need (see
 * ll_read and struct sandbox_files), nothing else; no TCP port may be
 * bound.  The controller started as an ordinary user also may not
 * signal a process outside its domain (kgpd and proxyd are inside);
 * started as root it must signal the children the spawner starts, which
 * are not.  Returns the ABI, or 0 without Landlock.
 */
int
sandbox_landlock_files(enum sandbox_proc p, const struct sandbox_files *f)
{
	struct ll_ruleset_attr	 attr;
	const char		*interp = NULL, *v;
	char			 path[PATH_MAX], *dir;
	uint64_t		 h;
	size_t			 attrsz;
	int			 abi, fd, i;

	if (p != SANDBOX_CONTROLLER && p != SANDBOX_SPAWNER &&
	    p != SANDBOX_CLEANER)
		fatalx("%s: not for %s", __func__, sandbox_name(p));
	if ((abi = ll_abi(__func__)) <= 0)
		return (0);
	memset(&attr, 0, sizeof(attr));
	attr.handled_access_fs = ll_handled_fs(abi);
	h = attr.handled_access_fs;
	attrsz = sizeof(attr.handled_access_fs);
	if (abi >= 4) {
		/* connect stays free: REST, the tunnel server, proxyd */
		attr.handled_access_net = LL_NET_BIND_TCP;
		attrsz = offsetof(struct ll_ruleset_attr, scoped);
	}
	if (abi >= 6) {
		attr.scoped = LL_SCOPE_ABSTRACT_UNIX;
		if (p != SANDBOX_CONTROLLER || f->exec[0] != NULL)
			attr.scoped |= LL_SCOPE_SIGNAL;
		attrsz = sizeof(attr);
	}
	if ((fd = syscall(SYS_landlock_create_ruleset, &attr, attrsz, 0)) == -1)
		fatal("%s: landlock_create_ruleset", __func__);

	if (p == SANDBOX_CLEANER) {
		/* remove the files, read nothing */
		ll_allow_dir(fd, h, f->pidfile, LL_FS_REMOVE_FILE);
		ll_allow_dir(fd, h, f->ctlsock, LL_FS_REMOVE_FILE);
		ll_allow_dir(fd, h, f->readyfile, LL_FS_REMOVE_FILE);
		goto done;
	}
	for (i = 0; ll_read[i] != NULL; i++)
		ll_allow(fd, h, ll_read[i], LL_FS_READ_FILE);
	/* a resolv.conf that links elsewhere is replaced there */
	if (realpath("/etc/resolv.conf", path) != NULL &&
	    strcmp(dir = dirname(path), "/etc") != 0)
		ll_allow(fd, h, dir, LL_FS_READ_FILE);
	if (p == SANDBOX_SPAWNER) {
		for (i = 0; ll_read_spawner[i] != NULL; i++)
			ll_allow(fd, h, ll_read_spawner[i], LL_FS_READ_FILE);
	} else {
		for (i = 0; ll_read_controller[i] != NULL; i++)
			ll_allow(fd, h, ll_read_controller[i],
			    LL_FS_READ_FILE | LL_FS_READ_DIR);
		if ((v = getenv("SSL_CERT_FILE")) != NULL)
			ll_allow(fd, h, v, LL_FS_READ_FILE);
		if ((v = getenv("SSL_CERT_DIR")) != NULL)
			ll_allow(fd, h, v, LL_FS_READ_FILE | LL_FS_READ_DIR);
		ll_allow(fd, h, f->cafile, LL_FS_READ_FILE);
		if (f->logfile != NULL && strcmp(f->logfile, "-") != 0)
			ll_allow(fd, h, f->logfile, LL_FS_WRITE_FILE);
	}
	ll_allow_dir(fd, h, f->pidfile, LL_FS_REMOVE_FILE);
	ll_allow_dir(fd, h, f->ctlsock, LL_FS_REMOVE_FILE);
	ll_allow_dir(fd, h, f->readyfile, LL_FS_MAKE_REG | LL_FS_WRITE_FILE |
	    LL_FS_REMOVE_FILE);
	if (f->exec[0] != NULL || f->exec[1] != NULL) {
		dl_iterate_phdr(ll_interp_cb, &interp);
		ll_allow(fd, h, interp, LL_FS_EXECUTE | LL_FS_READ_FILE);
	}
	for (i = 0; i < 2; i++)
		ll_allow(fd, h, f->exec[i], LL_FS_EXECUTE | LL_FS_READ_FILE);

 done:
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

static void
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
	if (p == SANDBOX_KGPD || p == SANDBOX_PROXYD || SANDBOX_IS_SERVER(p))
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

void
sandbox_enter(enum sandbox_proc p)
{
	int	 abi;

	if (p != SANDBOX_KGPD && p != SANDBOX_PROXYD && !SANDBOX_IS_SERVER(p))
		fatalx("%s: %s needs its files", __func__, sandbox_name(p));
	/* what libc would otherwise open lazily */
	tzset();
	sandbox_limits();
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == -1)
		fatal("%s: PR_SET_NO_NEW_PRIVS", __func__);
	abi = sandbox_landlock(p);
	sandbox_seccomp(p, NULL);
	if (abi > 0)
		log_debug("sandbox on (%s: %s, Landlock ABI %d)",
		    sandbox_name(p), sandbox_mode(), abi);
	else
		log_debug("sandbox on (%s: %s, no Landlock)",
		    sandbox_name(p), sandbox_mode());
}

/*
 * The controller and the spawner.  No resource limit but the core dump:
 * the controller writes its log and, started as an ordinary user, forks
 * kgpd and proxyd; the spawner forks them.  Neither may be traced or
 * dumped (the controller holds the access key in libcurl).
 */
static void
sandbox_files_enter(enum sandbox_proc p, const struct sandbox_files *f)
{
	struct rlimit	 rl = { 0, 0 };
	int		 abi;

#ifdef SANDBOX_TRAP
	/* test builds only, to debug: never in a release */
	if (getenv("SC_SANDBOX_OFF") != NULL) {
		log_warnx("SC_SANDBOX_OFF is set: no sandbox for the %s (a "
		    "test build)", sandbox_name(p));
		return;
	}
#endif
	tzset();
	if (setrlimit(RLIMIT_CORE, &rl) == -1)
		fatal("%s: RLIMIT_CORE", __func__);
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) == -1)
		fatal("%s: PR_SET_DUMPABLE", __func__);
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == -1)
		fatal("%s: PR_SET_NO_NEW_PRIVS", __func__);
	abi = sandbox_landlock_files(p, f);
	sandbox_seccomp(p, f);
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
