/*
 * Landlock (Linux 5.13 and later), the file system, TCP ports and
 * scopes layer of the sandbox (see sandbox.c for the order of layers).
 *
 * kgpd, proxyd and sc-server's workers (sandbox_landlock()): a ruleset
 * that handles every file system right and has no rule, so no file can
 * be opened, created, executed or removed; kgpd and sc-server's REST
 * worker can neither bind nor connect a TCP socket, proxyd and the KGP
 * worker (its direct connections) cannot bind one; none can
 * signal a process outside its own domain nor connect to an abstract unix
 * socket.
 *
 * The controller, the spawner and the cleaner (sandbox_landlock_files()):
 * rules for their files, the resolver's and the CA certificates (see
 * ll_read and struct sandbox_files); no TCP port may be bound.  Landlock
 * domains are inherited across fork and exec, so a process that starts
 * kgpd and proxyd itself also lets them read what they read before their
 * own sandbox, and execute their programs and the dynamic loader.
 *
 * An older kernel without Landlock is logged at debug level, the other
 * layers still hold.  Sanitizer builds leave reading alone (see
 * sandbox_int.h).
 */
#include <sys/types.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <link.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "sandbox.h"
#include "sandbox_int.h"

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

	if (sandbox_has_files(p))
		fatalx("%s: not for %s", __func__, sandbox_name(p));
	if ((abi = ll_abi(__func__)) <= 0)
		return (0);
	memset(&attr, 0, sizeof(attr));
	attr.handled_access_fs = ll_handled_fs(abi);
	attrsz = sizeof(attr.handled_access_fs);
	if (abi >= 4) {
		attr.handled_access_net = LL_NET_BIND_TCP;
		/* only proxyd and sc-server's KGP worker connect out */
		if (p != SANDBOX_PROXYD && p != SANDBOX_SERVER_KGP)
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

	if (!sandbox_has_files(p))
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
		/* its directory: reopened (SIGHUP), rotated (renames) */
		if (f->logfile != NULL && strcmp(f->logfile, "-") != 0)
			ll_allow_dir(fd, h, f->logfile, LL_FS_MAKE_REG |
			    LL_FS_WRITE_FILE | LL_FS_REMOVE_FILE);
	}
	ll_allow_dir(fd, h, f->pidfile, LL_FS_REMOVE_FILE);
	ll_allow_dir(fd, h, f->ctlsock, LL_FS_REMOVE_FILE);
	ll_allow_dir(fd, h, f->readyfile, LL_FS_MAKE_REG | LL_FS_WRITE_FILE |
	    LL_FS_REMOVE_FILE);
	if (f->exec[0] != NULL || f->exec[1] != NULL || f->exec[2] != NULL) {
		dl_iterate_phdr(ll_interp_cb, &interp);
		ll_allow(fd, h, interp, LL_FS_EXECUTE | LL_FS_READ_FILE);
	}
	for (i = 0; i < SANDBOX_EXEC_MAX; i++)
		ll_allow(fd, h, f->exec[i], LL_FS_EXECUTE | LL_FS_READ_FILE);

 done:
	if (syscall(SYS_landlock_restrict_self, fd, 0) == -1)
		fatal("%s: landlock_restrict_self", __func__);
	close(fd);
	return (abi);
}
