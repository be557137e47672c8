/*
 * The sandboxes of the client's processes (kgpd, proxyd, the controller
 * and its root spawner) and of sc-server's workers: one API, one backend
 * per OS (common/sandbox.c, and the files sandbox_int.h names).
 *
 * Linux: resource limits, no_new_privs, Landlock (where the kernel has it)
 * and a seccomp-bpf allowlist (libseccomp) that kills the process on any
 * other system call.  OpenBSD: pledge(2) and unveil(2).
 *
 * The sandbox goes on last, after the child's own init: everything that
 * would open a file lazily (time zone, TLS, resolver configuration) must
 * have happened before.  Failing to enter it is fatal.
 */
#ifndef SC_SANDBOX_H
#define SC_SANDBOX_H

struct passwd;

/*
 * Started as root, the controller becomes SC_USER once it has opened what
 * needs privilege, and kgpd and proxyd chroot to SC_CHROOT (root-owned,
 * mode 0755, empty) and become SC_USER just before their sandbox goes on.
 */
#define SC_USER			"_sc"
#define SC_CHROOT		"/var/empty"
#define SC_USER_HINT		"useradd -r -d /var/empty -s /usr/sbin/nologin _sc"

enum sandbox_proc {
	SANDBOX_KGPD,		/* passed sockets only: no fs, no network */
	SANDBOX_PROXYD,		/* no fs; may connect out and resolve names */
	SANDBOX_CONTROLLER,	/* its files, REST, the tunnel server */
	SANDBOX_SPAWNER,	/* root: starts kgpd and proxyd, nothing else */
	SANDBOX_CLEANER,	/* root: removes sc's files at its end */
	SANDBOX_SERVER_REST,	/* sc-server's REST worker: accept, no fd in */
	SANDBOX_SERVER_KGP,	/* sc-server's KGP worker: accept, entry */
				/* fds, connect out (direct connections) */
	SANDBOX_SERVER_CA,	/* sc-server's CA: its channel, nothing else */
	SANDBOX_PAC,		/* sc's PAC process: its channel, nothing else */
};

/*
 * The controller and the spawner: the files they keep using once their
 * sandbox is on (NULL: none).  exec names kgpd and proxyd when this
 * process starts them itself (fork and exec): the controller started as
 * an ordinary user, the spawner.  Started as root, the controller leaves
 * exec, pidfile, readyfile and ctlsock NULL: the spawner handles them.
 */
#define SANDBOX_EXEC_MAX	3	/* the helpers a controller starts */

struct sandbox_files {
	const char	*logfile;	/* appended to ("-": standard output) */
	const char	*pidfile;	/* removed at exit */
	const char	*readyfile;	/* created, touched, removed at exit */
	const char	*ctlsock;	/* removed at exit */
	const char	*cafile;	/* read by libcurl (--cainfo) */
	const char	*exec[SANDBOX_EXEC_MAX];	/* executed: kgpd, */
						/* proxyd, pacd */
};

void		 sandbox_enter(enum sandbox_proc);
void		 sandbox_controller(const struct sandbox_files *);
void		 sandbox_spawner(const struct sandbox_files *);
void		 sandbox_cleaner(const struct sandbox_files *);
int		 sandbox_drop(const char *, const char *);
int		 sandbox_drop_ids(const char *, const char *);
void		 sandbox_setuser(const struct passwd *);
int		 sandbox_check_chroot(const char *, char *, size_t);
void		 sandbox_kgpd(void);
void		 sandbox_proxyd(void);
void		 sandbox_server_rest(void);
void		 sandbox_server_kgp(void);
void		 sandbox_server_ca(void);
void		 sandbox_pac(void);

/* the parts, for the test probe */
void		 sandbox_limits(void);
const char	*sandbox_mode(void);
#ifdef __linux__
int		 sandbox_landlock(enum sandbox_proc);
int		 sandbox_landlock_files(enum sandbox_proc,
		    const struct sandbox_files *);
#endif

#endif /* SC_SANDBOX_H */
