/*
 * The sandboxes of kgpd and proxyd, of the controller, of its root
 * spawner and the spawner's cleaner, and of sc-server's workers: the
 * API (sandbox.h), the user switch and the chroot, the resource limits,
 * the table of processes, and the order in which the layers go on.  The
 * layers themselves are in one file per backend (sandbox_int.h).  See
 * also the SECURITY section of sc(8).
 *
 * Linux, in this order:
 *  1. resource limits: no core dump, no file may grow (RLIMIT_FSIZE 0,
 *     SIGXFSZ ignored so a write to a file fails with EFBIG), no new
 *     process (RLIMIT_NPROC 0; per user and not for root, so seccomp is
 *     what really forbids fork), not dumpable (no ptrace by the same user);
 *  2. no_new_privs;
 *  3. Landlock, when the kernel has it (sandbox_landlock.c);
 *  4. a seccomp-bpf allowlist (sandbox_seccomp.c).
 *
 * OpenBSD: the same resource limits, then unveil and pledge with the
 * same intent (sandbox_pledge.c).
 *
 * Before all that, a child started as root chroots to the empty directory
 * and becomes the unprivileged user (sandbox_drop()).  That happens just
 * before the sandbox rather than first thing, for the same reason as the
 * sandbox itself: TLS, the time zone and the resolver configuration have
 * all been read by then (sc's helpers get the user's ids from the
 * spawner; sc-server's workers look the user up).  Sanitizer builds skip
 * the chroot: their reports need /proc (see sandbox_int.h).
 *
 * The controller (sandbox_controller()), the spawner
 * (sandbox_spawner()) and the spawner's cleaner (sandbox_cleaner(), which
 * may only remove sc's three files) get the same layers, shaped to what
 * they do: no core dump and not dumpable, but no limit on files or
 * processes (the controller writes its log and may start kgpd and
 * proxyd); no_new_privs; Landlock with rules for their files, the
 * resolver's and the CA certificates; a seccomp allowlist.  In a
 * -Dsandbox_trap=true build on Linux, SC_SANDBOX_OFF in the environment
 * leaves them without a sandbox, to debug; release builds have no such
 * switch.
 */
#include <sys/types.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#ifdef __linux__
#include <sys/prctl.h>
#endif

#include "log.h"
#include "sandbox.h"
#include "sandbox_int.h"

/*
 * The processes, as ARCHITECTURE.md's table "What each process may do"
 * has them.  files: the process keeps some files once its sandbox is on
 * (struct sandbox_files), gets only the limits that allow it to, and
 * enters with sandbox_controller(), sandbox_spawner() or
 * sandbox_cleaner(); the others have no file system at all and every
 * limit, and enter with sandbox_enter().
 */
static const struct sandbox_profile {
	const char	*name;
	int		 files;
} sandbox_profiles[] = {
	[SANDBOX_KGPD] =	{ "kgpd",			0 },
	[SANDBOX_PROXYD] =	{ "proxyd",			0 },
	[SANDBOX_CONTROLLER] =	{ "controller",			1 },
	[SANDBOX_SPAWNER] =	{ "spawner",			1 },
	[SANDBOX_CLEANER] =	{ "cleaner",			1 },
	[SANDBOX_SERVER_REST] =	{ "sc-server REST worker",	0 },
	[SANDBOX_SERVER_KGP] =	{ "sc-server KGP worker",	0 },
	[SANDBOX_SERVER_CA] =	{ "sc-server CA",		0 },
	[SANDBOX_PAC] =		{ "pacd",			0 },
};

static const struct sandbox_profile *
sandbox_profile(enum sandbox_proc p)
{
	if ((unsigned int)p >= sizeof(sandbox_profiles) /
	    sizeof(sandbox_profiles[0]) || sandbox_profiles[p].name == NULL)
		fatalx("%s: unknown process %d", __func__, (int)p);
	return (&sandbox_profiles[p]);
}

const char *
sandbox_name(enum sandbox_proc p)
{
	return (sandbox_profile(p)->name);
}

int
sandbox_has_files(enum sandbox_proc p)
{
	return (sandbox_profile(p)->files);
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

/*
 * Every resource limit: no core dump, no file may grow, no new process,
 * not dumpable.  Sanitizer builds keep file sizes and processes (see
 * sandbox_int.h).
 */
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
#ifdef __linux__
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) == -1)
		fatal("%s: PR_SET_DUMPABLE", __func__);
#endif
}

/*
 * The controller and the spawner.  No resource limit but the core dump:
 * the controller writes its log and, started as an ordinary user, forks
 * kgpd and proxyd; the spawner forks them.  Neither may be traced or
 * dumped (the controller holds the access key in libcurl).
 */
static void
sandbox_limits_files(void)
{
	struct rlimit	 rl = { 0, 0 };

	if (setrlimit(RLIMIT_CORE, &rl) == -1)
		fatal("%s: RLIMIT_CORE", __func__);
#ifdef __linux__
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) == -1)
		fatal("%s: PR_SET_DUMPABLE", __func__);
#endif
}

/*
 * The layers, in order.  f is NULL for a process without files, which
 * sandbox_enter() has checked.
 */
static void
sandbox_on(enum sandbox_proc p, const struct sandbox_files *f)
{
#ifdef __linux__
	int	 abi;
#endif

#if defined(SANDBOX_TRAP) && defined(__linux__)
	/* test builds only, to debug: never in a release */
	if (f != NULL && getenv("SC_SANDBOX_OFF") != NULL) {
		log_warnx("SC_SANDBOX_OFF is set: no sandbox for the %s (a "
		    "test build)", sandbox_name(p));
		return;
	}
#endif
	/* what libc would otherwise open lazily */
	tzset();
	if (f == NULL)
		sandbox_limits();
	else
		sandbox_limits_files();
#ifdef __linux__
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == -1)
		fatal("%s: PR_SET_NO_NEW_PRIVS", __func__);
	if (f == NULL)
		abi = sandbox_landlock(p);
	else
		abi = sandbox_landlock_files(p, f);
	sandbox_seccomp(p, f);
	if (abi > 0)
		log_debug("sandbox on (%s: %s, Landlock ABI %d)",
		    sandbox_name(p), sandbox_mode(), abi);
	else
		log_debug("sandbox on (%s: %s, no Landlock)",
		    sandbox_name(p), sandbox_mode());
#elif defined(__OpenBSD__)
	sandbox_pledge(p, f);
#else
#error "sc has a sandbox for Linux and OpenBSD only"
#endif
}

/* kgpd, proxyd and sc-server's workers: no file system at all. */
void
sandbox_enter(enum sandbox_proc p)
{
	if (sandbox_has_files(p))
		fatalx("%s: %s needs its files", __func__, sandbox_name(p));
	sandbox_on(p, NULL);
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
 * sc-server's CA process, which keeps the CA key and signs leaves: less
 * than the workers, it reads and writes its channel to the parent and
 * the channel to the KGP worker that the parent passes it, and accepts
 * nothing.
 */
void
sandbox_server_ca(void)
{
	sandbox_enter(SANDBOX_SERVER_CA);
}

/*
 * sc's PAC process, which runs the operator's JavaScript: its channel to
 * the controller and nothing else, no file and no socket.  What the PAC
 * functions would look up (dnsResolve(), myIpAddress()) fails and the
 * script gets null (sandbox_seccomp.c: sc_pac).
 */
void
sandbox_pac(void)
{
	sandbox_enter(SANDBOX_PAC);
}

/*
 * The controller, after its set-up: once the log file, the pidfile, the
 * control socket, the spawner, libcurl and the user switch are done, and
 * before it starts kgpd and proxyd.
 */
void
sandbox_controller(const struct sandbox_files *f)
{
	sandbox_on(SANDBOX_CONTROLLER, f);
}

/* The spawner, root, as soon as it is forked. */
void
sandbox_spawner(const struct sandbox_files *f)
{
	sandbox_on(SANDBOX_SPAWNER, f);
}

/*
 * The spawner's cleaner, root: it may remove the pidfile, the control
 * socket and the readyfile, and read and write its socket; nothing else.
 */
void
sandbox_cleaner(const struct sandbox_files *f)
{
	sandbox_on(SANDBOX_CLEANER, f);
}
