/*
 * Inside the sandbox: what common/sandbox.c (the API, the user switch,
 * the chroot, the resource limits, the table of processes) shares with
 * its backends, one file each, as OpenSSH has one sandbox-*.c per
 * system.  meson compiles the backends of the system it builds for:
 *
 *	Linux	sandbox_landlock.c	files, TCP ports, signals (Landlock)
 *		sandbox_seccomp.c	system calls (seccomp-bpf, libseccomp)
 *	OpenBSD	sandbox_pledge.c	files and system calls (unveil, pledge)
 *
 * Nothing outside those files includes this.
 */
#ifndef SC_SANDBOX_INT_H
#define SC_SANDBOX_INT_H

#include "sandbox.h"

/*
 * Sanitizer builds (address, undefined) need more at exit and when they
 * report (LeakSanitizer stops the world with a cloned thread and ptrace,
 * reads /proc/self/maps and /proc/self/task; a report reads
 * /proc/self/exe and the maps to symbolize and asks whether stderr is a
 * terminal): there the allowlist has those calls too (open only read-only,
 * clone only with CLONE_VM), Landlock leaves reading alone, RLIMIT_FSIZE
 * is not set so that a report still reaches a stderr that is a file, nor
 * RLIMIT_NPROC (the tracer thread), and there is no chroot (the reports
 * need /proc).  That build is for finding memory errors, not for judging
 * the sandbox; tests/e2e/sandbox.sh checks that reports still come out of
 * it.
 */
#if defined(__SANITIZE_ADDRESS__) || defined(SC_SANITIZER)
#define SANDBOX_SANITIZER	1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(memory_sanitizer)
#define SANDBOX_SANITIZER	1
#endif
#endif

/* sandbox.c */
const char	*sandbox_name(enum sandbox_proc);
int		 sandbox_has_files(enum sandbox_proc);

#ifdef __linux__
/* sandbox_landlock.c: sandbox_landlock*() are in sandbox.h (the probe) */
/* sandbox_seccomp.c */
void		 sandbox_seccomp(enum sandbox_proc, const struct sandbox_files *);
#endif

#ifdef __OpenBSD__
/* sandbox_pledge.c */
void		 sandbox_pledge(enum sandbox_proc, const struct sandbox_files *);
#endif

#endif /* SC_SANDBOX_INT_H */
