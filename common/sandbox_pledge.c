/*
 * pledge(2) and unveil(2), the file system and system call layers of the
 * sandbox on OpenBSD (see sandbox.c for the order of layers), with the
 * same intent as Landlock and seccomp on Linux.
 *
 * kgpd, proxyd and sc-server's workers unveil nothing and pledge what
 * they do with the descriptors they have or are passed.  The controller
 * unveils its files, the resolver's and the CA certificates, and kgpd
 * and proxyd when it starts them itself; the spawner kgpd and proxyd,
 * the readyfile and the files it removes at the end; the cleaner only
 * the directories of those files.
 */
#include <sys/types.h>

#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "sandbox.h"
#include "sandbox_int.h"

const char *
sandbox_mode(void)
{
	return ("pledge");
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

/* kgpd, proxyd and sc-server's workers: no file system at all. */
static void
sandbox_pledge_nofiles(enum sandbox_proc p)
{
	const char	*promises;

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
	case SANDBOX_SERVER_CA:
		/* its channels to the parent and to the KGP worker */
		promises = "stdio recvfd";
		break;
	case SANDBOX_PAC:
		/* its channel to the controller, nothing else */
		promises = "stdio";
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

/*
 * The controller: its files, the resolver and the CA certificates, and
 * kgpd and proxyd when it starts them itself.  The spawner: kgpd and
 * proxyd, the readyfile, the files it removes at the end.
 */
void
sandbox_pledge(enum sandbox_proc p, const struct sandbox_files *f)
{
	const char	*promises;
	int		 i;

	if (f == NULL) {
		sandbox_pledge_nofiles(p);
		return;
	}
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
		/* its directory: reopened (SIGHUP), rotated */
		if (f->logfile != NULL && strcmp(f->logfile, "-") != 0)
			sandbox_unveil_dir(f->logfile, "wc");
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
	for (i = 0; i < SANDBOX_EXEC_MAX; i++)
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
