/*
 * sandbox-probe: enter the sandbox of kgpd, proxyd, the controller or
 * the spawner (the same code they run) and try one operation.  Test-only.
 *
 *	sandbox-probe -i
 *	sandbox-probe [-l] profile operation [argument]
 *
 * Profiles: kgpd, proxyd; controller (as started by root: the spawner
 * starts the children), controller-exec (as started by an ordinary user:
 * it may fork and execute /bin/true, its stand-in for kgpd and proxyd),
 * spawner (may execute /bin/true); server-rest and server-kgp (sc-server's
 * workers: accept on passed listeners only); server-ca (sc-server's CA
 * process: its channel only); none.  The controller
 * profiles get
 * the directory named by $SANDBOX_PROBE_DIR (if set) as the one of their
 * readyfile, pidfile and control socket, and $SANDBOX_PROBE_DIR/log as
 * their log file.
 *
 * -i prints how the sandbox is built (seccomp-kill, seccomp-trap, pledge)
 * and "sanitizer" when it is a sanitizer build.  -l enters only the
 * Landlock part (with no_new_privs) and prints its ABI; exit status 2
 * when the kernel has no Landlock.  "none" enters no sandbox (to check
 * the operation itself).
 *
 * Exit status: 0 the operation succeeded, 1 it failed (errno printed), 3
 * usage or setup error.  A forbidden system call kills the probe with
 * SIGSYS (a shell sees 159).
 *
 * Operations: open (read the argument, /etc/passwd by default), create (write a new file named by
 * the argument), socket (AF_INET stream), socket6, socket-udp,
 * socket-unix, socket-raw, connect (a TCP socket made before the sandbox,
 * to the argument host:port, 127.0.0.1:9 by default: "connection
 * refused" counts as allowed, the call was made), execve (/bin/true),
 * fork, socketpair, socketpair-inet, pipe-write (write to stdout),
 * splice (a pipe, and a splice into it from a socket pair made before
 * the sandbox),
 * getrandom, kill-parent (signal 0 to the parent), stat (/etc/passwd),
 * mprotect-exec; for a sanitizer build to report: leak (64 bytes),
 * overflow (a read past a heap block).  For the controller and the
 * spawner also: shadow (read /etc/shadow), resolv (read
 * /etc/resolv.conf), execve with an argument (that program), ptrace
 * (attach to the parent), mount (a tmpfs on the argument), bind (a TCP
 * socket to 127.0.0.1, any port), socket-netlink (NETLINK_ROUTE),
 * thread (start and join one), resolve (getaddrinfo() of the argument,
 * localhost by default), append (to the argument), remove (the
 * argument), mkdir (the argument).
 */
#include <sys/types.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "sandbox.h"

extern char	**environ;
static int	 presock = -1;
static int	 prepair[2] = { -1, -1 };
static void	*volatile leaked;

static void __attribute__((noreturn))
usage(void)
{
	fprintf(stderr, "usage: sandbox-probe -i\n"
	    "       sandbox-probe [-l] kgpd|proxyd|controller|controller-exec|"
	    "spawner|server-rest|server-kgp|server-ca|\n"
	    "           none\n"
	    "           operation [arg]\n");
	exit(3);
}

static int
done(const char *op, int r)
{
	if (r == -1) {
		printf("%s: refused: %s\n", op, strerror(errno));
		return (1);
	}
	printf("%s: allowed\n", op);
	return (0);
}

static int
probe_connect(const char *arg)
{
	struct sockaddr_in	 sin;
	char			 host[64], *p;
	int			 s, r;

	strlcpy(host, arg ? arg : "127.0.0.1:9", sizeof(host));
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	if ((p = strrchr(host, ':')) == NULL)
		usage();
	*p++ = '\0';
	sin.sin_port = htons(atoi(p));
	if (inet_pton(AF_INET, host, &sin.sin_addr) != 1)
		usage();
	/* made before the sandbox: kgpd may not make one */
	if ((s = presock) == -1)
		usage();
	r = connect(s, (struct sockaddr *)&sin, sizeof(sin));
	if (r == -1 && (errno == ECONNREFUSED || errno == ENETUNREACH ||
	    errno == ENOTSOCK || errno == EINPROGRESS)) {
		/* the system call ran: the sandbox let it through */
		printf("connect: allowed (%s)\n", strerror(errno));
		return (0);
	}
	return (done("connect", r));
}

static void *
probe_thread(void *arg)
{
	return (arg);
}

static int
probe_bind(void)
{
	struct sockaddr_in	 sin;
	int			 s;

	if ((s = socket(AF_INET, SOCK_STREAM, 0)) == -1)
		return (done("socket", -1));
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	return (done("bind", bind(s, (struct sockaddr *)&sin, sizeof(sin))));
}

static int
probe_resolve(const char *name)
{
	struct addrinfo	 hints, *res;
	int		 error;

	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	if ((error = getaddrinfo(name, "80", &hints, &res)) != 0) {
		printf("resolve: refused: %s\n", gai_strerror(error));
		return (1);
	}
	freeaddrinfo(res);
	return (done("resolve", 0));
}

static int
probe(const char *op, const char *arg)
{
	char	*argv[] = { "/bin/true", NULL };
	char	 buf[16];
	struct stat sb;
	pthread_t t;
	void	*m;
	pid_t	 pid;
	int	 sv[2], r, status;

	if (strcmp(op, "open") == 0)
		return (done(op, open(arg != NULL ? arg : "/etc/passwd",
		    O_RDONLY)));
	if (strcmp(op, "shadow") == 0)
		return (done(op, open("/etc/shadow", O_RDONLY)));
	if (strcmp(op, "resolv") == 0)
		return (done(op, open("/etc/resolv.conf", O_RDONLY)));
	if (strcmp(op, "append") == 0 && arg != NULL)
		return (done(op, open(arg, O_WRONLY | O_APPEND | O_CREAT,
		    0600)));
	if (strcmp(op, "remove") == 0 && arg != NULL)
		return (done(op, unlink(arg)));
	if (strcmp(op, "mkdir") == 0 && arg != NULL)
		return (done(op, mkdir(arg, 0700)));
	if (strcmp(op, "ptrace") == 0)
		return (done(op, ptrace(PTRACE_ATTACH, getppid(), NULL,
		    NULL)));
	if (strcmp(op, "mount") == 0 && arg != NULL)
		return (done(op, mount("none", arg, "tmpfs", 0, NULL)));
	if (strcmp(op, "bind") == 0)
		return (probe_bind());
	if (strcmp(op, "socket-netlink") == 0)
		return (done(op, socket(AF_NETLINK, SOCK_RAW, 0)));
	if (strcmp(op, "thread") == 0) {
		if ((r = pthread_create(&t, NULL, probe_thread, NULL)) != 0) {
			errno = r;
			return (done(op, -1));
		}
		return (done(op, pthread_join(t, NULL) == 0 ? 0 : -1));
	}
	if (strcmp(op, "resolve") == 0)
		return (probe_resolve(arg != NULL ? arg : "localhost"));
	if (strcmp(op, "create") == 0) {
		if (arg == NULL)
			usage();
		return (done(op, open(arg, O_WRONLY | O_CREAT | O_EXCL,
		    0600)));
	}
	if (strcmp(op, "socket") == 0)
		return (done(op, socket(AF_INET, SOCK_STREAM, 0)));
	if (strcmp(op, "socket6") == 0)
		return (done(op, socket(AF_INET6, SOCK_STREAM, 0)));
	if (strcmp(op, "socket-udp") == 0)
		return (done(op, socket(AF_INET, SOCK_DGRAM, 0)));
	if (strcmp(op, "socket-unix") == 0)
		return (done(op, socket(AF_UNIX, SOCK_STREAM, 0)));
	if (strcmp(op, "socket-raw") == 0)
		return (done(op, socket(AF_INET, SOCK_RAW, IPPROTO_ICMP)));
	if (strcmp(op, "connect") == 0)
		return (probe_connect(arg));
	if (strcmp(op, "execve") == 0) {
		if (arg != NULL)
			argv[0] = (char *)(uintptr_t)arg;	/* read only */
		return (done(op, execve(argv[0], argv, environ)));
	}
	if (strcmp(op, "fork") == 0) {
		if ((pid = fork()) == 0)
			_exit(0);
		if (pid != -1)
			waitpid(pid, &status, 0);
		return (done(op, pid == -1 ? -1 : 0));
	}
	if (strcmp(op, "socketpair") == 0)
		return (done(op, socketpair(AF_UNIX, SOCK_STREAM, 0, sv)));
	if (strcmp(op, "socketpair-inet") == 0)
		return (done(op, socketpair(AF_INET, SOCK_STREAM, 0, sv)));
	if (strcmp(op, "pipe-write") == 0)
		return (done(op, write(STDOUT_FILENO, "", 0)));
	if (strcmp(op, "splice") == 0) {
		if (prepair[0] == -1 || pipe2(sv, O_NONBLOCK) == -1)
			return (done(op, -1));
		r = splice(prepair[0], NULL, sv[1], NULL, 5, SPLICE_F_NONBLOCK);
		return (done(op, r == 5 ? 0 : -1));
	}
	if (strcmp(op, "getrandom") == 0) {
		r = getrandom(buf, sizeof(buf), 0);
		return (done(op, r == sizeof(buf) ? 0 : -1));
	}
	if (strcmp(op, "kill-parent") == 0)
		return (done(op, kill(getppid(), 0)));
	if (strcmp(op, "stat") == 0)
		return (done(op, stat("/etc/passwd", &sb)));
	if (strcmp(op, "mprotect-exec") == 0) {
		m = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (m == MAP_FAILED)
			return (done("mmap", -1));
		return (done(op, mprotect(m, 4096, PROT_READ | PROT_EXEC)));
	}
	if (strcmp(op, "leak") == 0) {
		/* a sanitizer build must still report this at exit */
		if ((leaked = malloc(64)) == NULL)
			return (done(op, -1));
		memset(leaked, 'x', 64);
		printf("leak: %p\n", leaked);
		leaked = NULL;
		return (done(op, 0));
	}
	if (strcmp(op, "overflow") == 0) {
		/* a sanitizer build must still report this */
		if ((leaked = malloc(8)) == NULL)
			return (done(op, -1));
		r = ((volatile char *)leaked)[8];
		free(leaked);
		return (done(op, r));
	}
	usage();
}

int
main(int argc, char *argv[])
{
	enum sandbox_proc	 p;
	struct sandbox_files	 sf;
	const char		*dir;
	char			 logfile[1024], dirfile[1024];
	int			 abi, ch, lflag = 0;

	log_init(LOG_DST_STDERR, LOG_DAEMON);
	log_procinit("sandbox-probe");
	log_setverbose(1);
	while ((ch = getopt(argc, argv, "il")) != -1) {
		switch (ch) {
		case 'i':
#ifdef SC_SANITIZER
			printf("%s sanitizer\n", sandbox_mode());
#else
			printf("%s\n", sandbox_mode());
#endif
			return (0);
		case 'l':
			lflag = 1;
			break;
		default:
			usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (argc < 2 || argc > 3)
		usage();
	setvbuf(stdout, NULL, _IONBF, 0);

	memset(&sf, 0, sizeof(sf));
	if ((dir = getenv("SANDBOX_PROBE_DIR")) != NULL) {
		snprintf(logfile, sizeof(logfile), "%s/log", dir);
		snprintf(dirfile, sizeof(dirfile), "%s/file", dir);
		sf.logfile = logfile;
	}
	if (strcmp(argv[0], "kgpd") == 0)
		p = SANDBOX_KGPD;
	else if (strcmp(argv[0], "proxyd") == 0)
		p = SANDBOX_PROXYD;
	else if (strcmp(argv[0], "controller") == 0)
		p = SANDBOX_CONTROLLER;
	else if (strcmp(argv[0], "server-rest") == 0)
		p = SANDBOX_SERVER_REST;
	else if (strcmp(argv[0], "server-kgp") == 0)
		p = SANDBOX_SERVER_KGP;
	else if (strcmp(argv[0], "server-ca") == 0)
		p = SANDBOX_SERVER_CA;
	else if (strcmp(argv[0], "controller-exec") == 0 ||
	    strcmp(argv[0], "spawner") == 0) {
		p = argv[0][0] == 'c' ? SANDBOX_CONTROLLER : SANDBOX_SPAWNER;
		sf.exec[0] = "/bin/true";
		if (dir != NULL)
			sf.pidfile = sf.readyfile = sf.ctlsock = dirfile;
	} else if (strcmp(argv[0], "none") == 0)
		return (probe(argv[1], argv[2]));
	else
		usage();

	/* a socket pair holding 5 bytes, for "splice" */
	if (strcmp(argv[1], "splice") == 0 &&
	    (socketpair(AF_UNIX, SOCK_STREAM, 0, prepair) == -1 ||
	    write(prepair[1], "bytes", 5) != 5)) {
		perror("socketpair");
		return (3);
	}
	/* a socket for "connect", made while it is still allowed */
	if (strcmp(argv[1], "connect") == 0 &&
	    (presock = socket(AF_INET, SOCK_STREAM, 0)) == -1) {
		perror("socket");
		return (3);
	}
	if (lflag) {
		if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == -1) {
			perror("PR_SET_NO_NEW_PRIVS");
			return (3);
		}
		if (p != SANDBOX_CONTROLLER && p != SANDBOX_SPAWNER)
			abi = sandbox_landlock(p);
		else
			abi = sandbox_landlock_files(p, &sf);
		if (abi == 0) {
			printf("no Landlock in this kernel\n");
			return (2);
		}
		printf("Landlock ABI %d\n", abi);
	} else if (p == SANDBOX_CONTROLLER)
		sandbox_controller(&sf);
	else if (p == SANDBOX_SPAWNER)
		sandbox_spawner(&sf);
	else
		sandbox_enter(p);
	return (probe(argv[1], argv[2]));
}
