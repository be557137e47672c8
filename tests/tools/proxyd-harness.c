/*
 * proxyd-harness: run proxyd without kgpd and the controller.
 *
 *	proxyd-harness -l addr:port [-p proxyd] [-t connect_ms] [-i idle_sec]
 *	    [-d dns,servers] [-v ...]
 *
 * It listens on addr:port, starts proxyd with fd 3 (a controller stub
 * that prints proxyd's log lines on stderr) and fd 4 (a kgpd stub), and
 * hands every accepted TCP connection to proxyd with IMSG_STREAM_FD, so
 * that `curl -x http://addr:port ...` talks to proxyd.
 * SIGUSR1: ask proxyd for its statistics (printed on stderr).
 * SIGUSR2: give proxyd a new kgpd channel (IMSG_PEER_KGPD).
 * SIGHUP: send proxyd, on its kgpd channel, a message of a type it does
 *	   not know (9999), with a socket: it must log it and go on.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/listener.h>
#include <event2/util.h>

#include "imsg.h"
#include "imsg_types.h"
#include "proc.h"
#include "sandbox.h"

static struct event_base	*base;
static struct imsgev		 iev_ctl, iev_kgpd;
static pid_t			 child;
static uint32_t			 next_id;

static void	 usage(void) __attribute__((noreturn));
static void	 ctl_dispatch(int, short, void *);
static void	 kgpd_dispatch(int, short, void *);
static void	 on_accept(struct evconnlistener *, evutil_socket_t,
		    struct sockaddr *, int, void *);
static void	 on_signal(int, short, void *);
static pid_t	 start_proxyd(const char *, int, int, int);

static void
usage(void)
{
	fprintf(stderr, "usage: proxyd-harness -l addr:port [-p proxyd] "
	    "[-t connect_ms] [-i idle_sec] [-d dns] [-v]\n");
	exit(1);
}

static void
ctl_dispatch(int fd, short event, void *arg)
{
	struct imsgev	*iev = arg;
	struct imsg	 imsg;
	struct sc_hello	 hello;
	struct sc_stats	 st;
	int32_t		 pri;
	const char	*msg;
	ssize_t		 n;

	if (imsgev_io(iev, event) == -1) {
		fprintf(stderr, "harness: proxyd closed the controller "
		    "channel\n");
		imsgev_clear(iev);
		event_base_loopexit(base, NULL);
		return;
	}
	for (;;) {
		if ((n = imsg_get(&iev->ibuf, &imsg)) == -1)
			errx(1, "imsg_get");
		if (n == 0)
			break;
		switch (imsg.hdr.type) {
		case IMSG_HELLO:
			if (imsg_get_data(&imsg, &hello, sizeof(hello)) == -1)
				errx(1, "bad IMSG_HELLO");
			fprintf(stderr, "harness: proxyd hello, version %u, "
			    "pid %u\n", hello.version, hello.pid);
			break;
		case IMSG_LOG:
			if (IMSG_DATA_SIZE(&imsg) <= sizeof(pri))
				errx(1, "bad IMSG_LOG");
			memcpy(&pri, imsg.data, sizeof(pri));
			msg = (const char *)imsg.data + sizeof(pri);
			if (msg[IMSG_DATA_SIZE(&imsg) - sizeof(pri) - 1] != '\0')
				errx(1, "bad IMSG_LOG string");
			fprintf(stderr, "[proxyd] %s\n", msg);
			break;
		case IMSG_STATS:
			if (imsg_get_data(&imsg, &st, sizeof(st)) == -1)
				errx(1, "bad IMSG_STATS");
			fprintf(stderr, "harness: streams-open: %llu "
			    "streams-total: %llu bytes-in: %llu "
			    "bytes-out: %llu\n",
			    (unsigned long long)st.streams_open,
			    (unsigned long long)st.streams_total,
			    (unsigned long long)st.bytes_in,
			    (unsigned long long)st.bytes_out);
			break;
		default:
			errx(1, "unexpected imsg %u from proxyd",
			    imsg.hdr.type);
		}
		imsg_free(&imsg);
	}
	imsg_event_add(iev);
}

static void
kgpd_dispatch(int fd, short event, void *arg)
{
	struct imsgev	*iev = arg;
	struct imsg	 imsg;
	ssize_t		 n;

	if (imsgev_io(iev, event) == -1) {
		fprintf(stderr, "harness: kgpd channel closed\n");
		imsgev_clear(iev);
		return;
	}
	while ((n = imsg_get(&iev->ibuf, &imsg)) > 0) {
		fprintf(stderr, "harness: unexpected imsg %u on the kgpd "
		    "channel\n", imsg.hdr.type);
		imsg_free(&imsg);
	}
	imsg_event_add(iev);
}

static void
on_accept(struct evconnlistener *l, evutil_socket_t fd,
    struct sockaddr *sa, int salen, void *arg)
{
	struct stream_info	 si;
	char			 addr[INET6_ADDRSTRLEN];
	void			*ap;
	int			 port;

	if (sa->sa_family == AF_INET6) {
		ap = &((struct sockaddr_in6 *)sa)->sin6_addr;
		port = ntohs(((struct sockaddr_in6 *)sa)->sin6_port);
	} else {
		ap = &((struct sockaddr_in *)sa)->sin_addr;
		port = ntohs(((struct sockaddr_in *)sa)->sin_port);
	}
	if (inet_ntop(sa->sa_family, ap, addr, sizeof(addr)) == NULL)
		strlcpy(addr, "?", sizeof(addr));
	memset(&si, 0, sizeof(si));
	snprintf(si.peer, sizeof(si.peer), "%s:%d", addr, port);
	if (iev_kgpd.ibuf.fd == -1) {
		close(fd);
		return;
	}
	/* imsg owns fd from here: it is closed once sent */
	if (imsg_compose_event(&iev_kgpd, IMSG_STREAM_FD, ++next_id, 0, fd,
	    &si, sizeof(si)) == -1)
		close(fd);
}

static void
on_signal(int sig, short event, void *arg)
{
	int	 sv[2], status;

	switch (sig) {
	case SIGUSR1:
		imsg_compose_event(&iev_ctl, IMSG_STATS_REQ, 0, 0, -1, NULL, 0);
		break;
	case SIGHUP:
		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0,
		    sv) == -1) {
			warn("socketpair");
			break;
		}
		close(sv[1]);
		imsg_compose_event(&iev_kgpd, 9999, 1, 0, sv[0], NULL, 0);
		fprintf(stderr, "harness: a message of type 9999 sent\n");
		break;
	case SIGUSR2:
		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0,
		    sv) == -1) {
			warn("socketpair");
			break;
		}
		if (iev_kgpd.ibuf.fd != -1)
			imsgev_clear(&iev_kgpd);
		set_nonblock(sv[0]);
		imsgev_init(&iev_kgpd, base, sv[0], kgpd_dispatch, &iev_kgpd);
		imsg_compose_event(&iev_ctl, IMSG_PEER_KGPD, 0, 0, sv[1],
		    &(uint32_t){ 0 }, sizeof(uint32_t));
		fprintf(stderr, "harness: new kgpd channel sent\n");
		break;
	case SIGCHLD:
		if (waitpid(child, &status, WNOHANG) == child) {
			if (WIFSIGNALED(status))
				fprintf(stderr, "harness: proxyd killed by "
				    "signal %d\n", WTERMSIG(status));
			else
				fprintf(stderr, "harness: proxyd exited %d\n",
				    WEXITSTATUS(status));
			child = -1;
			event_base_loopexit(base, NULL);
		}
		break;
	default:
		event_base_loopexit(base, NULL);
		break;
	}
}

static pid_t
start_proxyd(const char *path, int verbose, int ctlfd, int kgpdfd)
{
	char	*argv[8];
	int	 a, b, i = 0;
	pid_t	 pid;

	if ((pid = fork()) == -1)
		err(1, "fork");
	if (pid != 0)
		return (pid);
	/* out of the way of 3 and 4 first, then in place */
	if ((a = fcntl(ctlfd, F_DUPFD, 10)) == -1 ||
	    (b = fcntl(kgpdfd, F_DUPFD, 10)) == -1 ||
	    dup2(a, 3) == -1 || dup2(b, 4) == -1)
		err(1, "dup");
	close(a);
	close(b);
	argv[i++] = (char *)(uintptr_t)path;	/* read only */
	if (verbose > 0)
		argv[i++] = verbose > 1 ? "-vv" : "-v";
	argv[i] = NULL;
	execv(path, argv);
	err(1, "exec %s", path);
}

int
main(int argc, char *argv[])
{
	struct evconnlistener	*listener;
	struct sockaddr_storage	 ss;
	struct proxy_config	 conf;
	struct event		*ev[6];
	const char		*listen_addr = NULL, *path = "proxyd/proxyd";
	const char		*errstr;
	char			 errbuf[256];
	int			 ch, verbose = 0, sslen, ctl[2], kg[2], i;
	int			 sigs[6] = { SIGINT, SIGTERM, SIGCHLD, SIGUSR1,
				    SIGUSR2, SIGHUP };

	memset(&conf, 0, sizeof(conf));
	conf.connect_timeout_ms = 10000;
	/* no kgpd to take a tunnel's socket: proxyd relays them itself */
	conf.flags = PROXY_F_NOMOVE;
	while ((ch = getopt(argc, argv, "d:i:l:p:t:v")) != -1) {
		switch (ch) {
		case 'd':
			if (strlcpy(conf.dns_servers, optarg,
			    sizeof(conf.dns_servers)) >=
			    sizeof(conf.dns_servers))
				errx(1, "-d: too long");
			break;
		case 'i':
			conf.idle_timeout_sec = strtonum(optarg, 0, 86400,
			    &errstr);
			if (errstr != NULL)
				errx(1, "-i: %s", errstr);
			break;
		case 'l':
			listen_addr = optarg;
			break;
		case 'p':
			path = optarg;
			break;
		case 't':
			conf.connect_timeout_ms = strtonum(optarg, 1,
			    3600 * 1000, &errstr);
			if (errstr != NULL)
				errx(1, "-t: %s", errstr);
			break;
		case 'v':
			verbose++;
			break;
		default:
			usage();
		}
	}
	if (listen_addr == NULL || optind != argc)
		usage();
	sslen = sizeof(ss);
	if (evutil_parse_sockaddr_port(listen_addr, (struct sockaddr *)&ss,
	    &sslen) == -1)
		errx(1, "bad address %s", listen_addr);

	/* as sc does before it starts proxyd: the chroot must be there */
	if (geteuid() == 0 && sandbox_check_chroot(SC_CHROOT, errbuf,
	    sizeof(errbuf)) == -1)
		errx(1, "%s", errbuf);
	signal(SIGPIPE, SIG_IGN);
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, ctl) == -1 ||
	    socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, kg) == -1)
		err(1, "socketpair");
	if ((base = event_base_new()) == NULL)
		errx(1, "event_base_new");
	for (i = 0; i < 6; i++) {
		if ((ev[i] = evsignal_new(base, sigs[i], on_signal,
		    NULL)) == NULL)
			errx(1, "evsignal_new");
		evsignal_add(ev[i], NULL);
	}
	child = start_proxyd(path, verbose, ctl[1], kg[1]);
	close(ctl[1]);
	close(kg[1]);
	set_nonblock(ctl[0]);
	set_nonblock(kg[0]);
	imsgev_init(&iev_ctl, base, ctl[0], ctl_dispatch, &iev_ctl);
	imsgev_init(&iev_kgpd, base, kg[0], kgpd_dispatch, &iev_kgpd);
	imsg_compose_event(&iev_ctl, IMSG_PROXY_CONFIG, 0, 0, -1, &conf,
	    sizeof(conf));
	if (verbose > 0) {
		int32_t	 v = verbose;

		imsg_compose_event(&iev_ctl, IMSG_LOG_VERBOSE, 0, 0, -1, &v,
		    sizeof(v));
	}

	if ((listener = evconnlistener_new_bind(base, on_accept, NULL,
	    LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC,
	    128, (struct sockaddr *)&ss, sslen)) == NULL)
		err(1, "listen %s", listen_addr);
	fprintf(stderr, "harness: listening on %s, proxyd pid %d\n",
	    listen_addr, (int)child);

	event_base_dispatch(base);

	evconnlistener_free(listener);
	if (child > 0) {
		kill(child, SIGTERM);
		waitpid(child, NULL, 0);
	}
	return (0);
}
