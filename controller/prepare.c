/*
 * What sc checks, reads and sets before its sandbox closes, called by
 * main() in order: the open-files limit, the user it becomes, the PEM
 * files of --tunnel-cainfo, --cacert-file and --cacert-system (the
 * helpers get them over imsg), the pidfile.  Each says what is wrong on
 * the console (sc_error()) and returns -1; main() exits 1.
 */
#include <sys/types.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <tls.h>

#include "config.h"
#include "controller.h"
#include "log.h"
#include "sandbox.h"

/*
 * Every stream costs proxyd two descriptors and kgpd one: raise the
 * limit the helpers inherit.  As root, up to SC_NOFILE (the hard limit
 * too); otherwise the soft limit up to the hard one.
 */
void
prep_nofile(void)
{
	struct rlimit	 rl;
	rlim_t		 want = SC_NOFILE;

	if (getrlimit(RLIMIT_NOFILE, &rl) == -1)
		return;
	if (geteuid() == 0 && rl.rlim_max != RLIM_INFINITY &&
	    rl.rlim_max < want) {
		struct rlimit	 up = { want, want };

		if (setrlimit(RLIMIT_NOFILE, &up) == 0) {
			log_debug("open files: %llu", (unsigned long long)want);
			return;
		}
	}
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) == -1)
			getrlimit(RLIMIT_NOFILE, &rl);
	}
	log_debug("open files: %llu (proxyd holds two per open stream)",
	    (unsigned long long)rl.rlim_cur);
}

/*
 * Started as root: the user _sc must exist, and the empty directory kgpd
 * and proxyd chroot to must be sound.  Checked first, before any file is
 * made.
 */
int
prep_user(struct passwd *user)
{
	struct passwd	*pw;
	char		 err[512];

	if (geteuid() != 0)
		return (0);
	if ((pw = getpwnam(SC_USER)) == NULL) {
		sc_error("started as root, sc runs as the user %s, which does "
		    "not exist: create it with \"%s\"", SC_USER,
		    SC_USER_HINT);
		return (-1);
	}
	if (pw->pw_uid == 0) {
		sc_error("the user %s must not be root (uid 0)", SC_USER);
		return (-1);
	}
	user->pw_uid = pw->pw_uid;
	user->pw_gid = pw->pw_gid;
	if ((user->pw_name = strdup(pw->pw_name)) == NULL) {
		sc_error("out of memory");
		return (-1);
	}
	if (sandbox_check_chroot(SC_CHROOT, err, sizeof(err)) == -1) {
		sc_error("%s", err);
		return (-1);
	}
	return (0);
}

/*
 * Append the PEM file path (named by flag in errors) to *buf, *len bytes
 * so far, SC_CA_MAX in all; it must hold a certificate.  Read before the
 * sandbox: the helpers get it over imsg.  Returns 0, or -1 having said
 * why.
 */
int
prep_pem(const char *flag, const char *path, char **buf, size_t *len)
{
	struct stat	 st;
	ssize_t		 n;
	size_t		 off = *len;
	char		*p;
	int		 fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		sc_error("%s %s: %s", flag, path, strerror(errno));
		return (-1);
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode) ||
	    st.st_size <= 0 || st.st_size > SC_CA_MAX - (off_t)off) {
		sc_error("%s %s: not a regular file of 1 byte to %d bytes "
		    "(in all)", flag, path, SC_CA_MAX);
		close(fd);
		return (-1);
	}
	if ((p = realloc(*buf, off + st.st_size + 1)) == NULL) {
		close(fd);
		sc_error("out of memory");
		return (-1);
	}
	*buf = p;
	while (off < *len + (size_t)st.st_size) {
		if ((n = read(fd, p + off, *len + st.st_size - off)) <= 0) {
			sc_error("%s %s: read error", flag, path);
			close(fd);
			return (-1);
		}
		off += n;
	}
	close(fd);
	if (memmem(p + *len, off - *len, "-----BEGIN CERTIFICATE-----",
	    27) == NULL) {
		sc_error("%s %s: no PEM certificate in it", flag, path);
		return (-1);
	}
	/* files that do not end their last line still concatenate */
	if (p[off - 1] != '\n')
		p[off++] = '\n';
	*len = off;
	return (0);
}

/*
 * The CAs of --cacert-file and --cacert-system, for proxyd to verify
 * https:// apps with.  Returns 0, or -1 having said why.
 */
int
prep_app_cas(const struct sc_config *conf, char **buf, size_t *len)
{
	int	 i;

	for (i = 0; i < conf->ncacert_files; i++)
		if (prep_pem("--cacert-file", conf->cacert_files[i],
		    buf, len) == -1)
			return (-1);
	if (conf->cacert_system && prep_pem("--cacert-system",
	    tls_default_ca_cert_file(), buf, len) == -1)
		return (-1);
	return (0);
}

/* The pidfile: our pid and a newline. */
int
prep_pidfile(const char *path)
{
	char	 buf[32];
	int	 fd, n;

	if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
	    0644)) == -1)
		return (-1);
	n = snprintf(buf, sizeof(buf), "%d\n", (int)getpid());
	if (write(fd, buf, n) != n) {
		close(fd);
		unlink(path);
		return (-1);
	}
	close(fd);
	return (0);
}
