/*
 * proxyd: the forward proxy worker of the client.
 *
 *	proxyd [-v ...]
 *
 * fd 3 is the imsg channel to the controller, fd 4 the channel to kgpd,
 * which hands over one connected socket per stream (IMSG_STREAM_FD).
 * Once a stream is a tunnel, proxyd hands the app's socket back to kgpd
 * (IMSG_STREAM_MOVE) and forgets the stream.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/dns.h>

#include "imsg_types.h"
#include "kgp.h"
#include "log.h"
#include "proc.h"
#include "proxyd.h"
#include "sandbox.h"

#define PROXYD_MAIN_FD	3
#define PROXYD_KGPD_FD	4

static void	 usage(void) __attribute__((noreturn));
static void	 proxyd_sig(int, short, void *);
static void	 proxyd_dispatch_main(int, short, void *);
static void	 proxyd_dispatch_kgpd(int, short, void *);
static void	 proxyd_channel(int, const char *);

static struct proxyd	 proxyd_env;
struct proxyd		*env = &proxyd_env;

static void
usage(void)
{
	fprintf(stderr, "usage: proxyd [-v] [-u uid:gid]\n");
	exit(1);
}

static void
proxyd_sig(int sig, short event, void *arg)
{
	switch (sig) {
	case SIGTERM:
	case SIGINT:
		event_base_loopexit(env->base, NULL);
		break;
	default:
		break;
	}
}

/* fd must be open (set up by whoever started us): make it ours. */
static void
proxyd_channel(int fd, const char *what)
{
	if (fcntl(fd, F_GETFD) == -1)
		fatalx("fd %d (%s channel) is not open: proxyd is started "
		    "by sc", fd, what);
	if (set_nonblock(fd) == -1 || set_cloexec(fd, 1) == -1)
		fatal("fd %d", fd);
}

int
main(int argc, char *argv[])
{
	struct event	*ev_term, *ev_int, *ev_hup;
	struct sc_hello	 hello;
	const char	*ids = NULL;
	int		 ch, verbose = 0;

	while ((ch = getopt(argc, argv, "u:v")) != -1) {
		switch (ch) {
		case 'u':
			ids = optarg;
			break;
		case 'v':
			verbose++;
			break;
		default:
			usage();
		}
	}
	if (argc != optind)
		usage();

	log_init(LOG_DST_STDERR, LOG_DAEMON);
	log_procinit("proxyd");
	log_setverbose(verbose);
	proxyd_channel(PROXYD_MAIN_FD, "controller");
	proxyd_channel(PROXYD_KGPD_FD, "kgpd");

	if ((env->base = event_base_new()) == NULL)
		fatalx("event_base_new");
	imsgev_init(&env->iev_main, env->base, PROXYD_MAIN_FD,
	    proxyd_dispatch_main, NULL);
	imsgev_log_sink(&env->iev_main);

	signal(SIGPIPE, SIG_IGN);
	ev_term = evsignal_new(env->base, SIGTERM, proxyd_sig, NULL);
	ev_int = evsignal_new(env->base, SIGINT, proxyd_sig, NULL);
	ev_hup = evsignal_new(env->base, SIGHUP, proxyd_sig, NULL);
	if (ev_term == NULL || ev_int == NULL || ev_hup == NULL)
		fatalx("evsignal_new");
	evsignal_add(ev_term, NULL);
	evsignal_add(ev_int, NULL);
	evsignal_add(ev_hup, NULL);

	env->connect_timeout_ms = PROXYD_CONNECT_TIMEOUT_MS;
	env->hand_off = 1;
	relay_init();
	imsgev_init(&env->iev_kgpd, env->base, PROXYD_KGPD_FD,
	    proxyd_dispatch_kgpd, NULL);

	/*
	 * last: the resolver configuration and /etc/hosts are read.
	 * Started as root: chroot to the empty directory, become _sc,
	 * whose ids sc gives with -u (no user database here).
	 */
	sandbox_drop_ids(ids, SC_CHROOT);
	sandbox_proxyd();

	hello.version = SC_IMSG_VERSION;
	hello.pid = getpid();
	imsg_compose_event(&env->iev_main, IMSG_HELLO, 0, 0, -1, &hello,
	    sizeof(hello));
	log_debug("proxyd ready (pid %d)", (int)getpid());

	proc_trim_start(env->base);
	event_base_dispatch(env->base);

	log_debug("proxyd exiting");
	relay_shutdown();
	imsg_flush(&env->iev_main.ibuf);
	exit(0);
}

static void
proxyd_dispatch_main(int fd, short event, void *arg)
{
	struct imsgev		*iev = arg;
	struct imsg		 imsg;
	struct proxy_config	 conf;
	int32_t			 v;
	int			 newfd;
	ssize_t			 n;

	if (imsgev_io(iev, event) == -1) {
		/* the controller is gone: so are we, quietly */
		exit(0);
	}
	for (;;) {
		if ((n = imsg_get(&iev->ibuf, &imsg)) == -1)
			fatalx("%s: imsg_get", __func__);
		if (n == 0)
			break;
		switch (imsg.hdr.type) {
		case IMSG_PROXY_CONFIG:
			if (imsg_get_data(&imsg, &conf, sizeof(conf)) == -1)
				fatalx("%s: bad IMSG_PROXY_CONFIG", __func__);
			conf.dns_servers[sizeof(conf.dns_servers) - 1] = '\0';
			relay_config(&conf);
			break;
		case IMSG_LOG_VERBOSE:
			if (imsg_get_data(&imsg, &v, sizeof(v)) == -1)
				fatalx("%s: bad IMSG_LOG_VERBOSE", __func__);
			log_setverbose(v);
			break;
		case IMSG_STATS_REQ:
			if (imsg_get_data(&imsg, NULL, 0) == -1)
				fatalx("%s: bad IMSG_STATS_REQ", __func__);
			imsg_compose_event(iev, IMSG_STATS, imsg.hdr.peerid, 0,
			    -1, &env->stats, sizeof(env->stats));
			break;
		case IMSG_PEER_FD:
			newfd = imsg_get_fd(&imsg);
			if (imsg_get_data(&imsg, NULL, 0) == -1 || newfd == -1) {
				if (newfd != -1)
					close(newfd);
				fatalx("%s: bad IMSG_PEER_FD", __func__);
			}
			if (set_nonblock(newfd) == -1 ||
			    set_cloexec(newfd, 1) == -1)
				fatal("%s: IMSG_PEER_FD", __func__);
			if (env->iev_kgpd.ibuf.fd != -1)
				imsgev_clear(&env->iev_kgpd);
			imsgev_init(&env->iev_kgpd, env->base, newfd,
			    proxyd_dispatch_kgpd, NULL);
			log_debug("new kgpd channel");
			break;
		default:
			fatalx("%s: unexpected imsg %u", __func__,
			    imsg.hdr.type);
		}
		imsg_free(&imsg);
	}
	imsg_event_add(iev);
}

static void
proxyd_dispatch_kgpd(int fd, short event, void *arg)
{
	struct imsgev		*iev = arg;
	struct imsg		 imsg;
	struct stream_info	 si;
	struct stream_moved	 sw;
	struct stream_lent	 lt;
	int			 sfd;
	ssize_t			 n;

	if (imsgev_io(iev, event) == -1) {
		/* kgpd died: the controller restarts it, IMSG_PEER_FD */
		log_debug("kgpd channel closed");
		imsgev_clear(iev);
		return;
	}
	for (;;) {
		if ((n = imsg_get(&iev->ibuf, &imsg)) == -1) {
			log_warnx("%s: bad message from kgpd, channel closed",
			    __func__);
			imsgev_clear(iev);
			return;
		}
		if (n == 0)
			break;
		switch (imsg.hdr.type) {
		case IMSG_STREAM_FD:
			sfd = imsg_get_fd(&imsg);
			if (imsg_get_data(&imsg, &si, sizeof(si)) == -1 ||
			    sfd == -1) {
				log_warnx("%s: bad IMSG_STREAM_FD (stream %u)",
				    __func__, imsg.hdr.peerid);
				if (sfd != -1)
					close(sfd);
				break;
			}
			si.peer[sizeof(si.peer) - 1] = '\0';
			relay_stream(sfd, imsg.hdr.peerid, si.session, si.peer);
			break;
		case IMSG_STREAM_SWITCHED:
			if (imsg_get_data(&imsg, &sw, sizeof(sw)) == -1 ||
			    sw.ok > 1) {
				log_warnx("%s: bad IMSG_STREAM_SWITCHED "
				    "(stream %u)", __func__, imsg.hdr.peerid);
				break;
			}
			relay_switched(imsg.hdr.peerid, sw.session, sw.ok);
			break;
		case IMSG_STREAM_LENT:
			if (imsg_get_data(&imsg, &lt, sizeof(lt)) == -1 ||
			    lt.how > KGP_LENT_GONE) {
				log_warnx("%s: bad IMSG_STREAM_LENT "
				    "(stream %u)", __func__, imsg.hdr.peerid);
				break;
			}
			relay_lent(imsg.hdr.peerid, lt.session, lt.how, lt.got,
			    lt.err);
			break;
		default:
			/* logged and dropped, as kgpd does with proxyd's */
			log_warnx("%s: unexpected imsg %u (stream %u)",
			    __func__, imsg.hdr.type, imsg.hdr.peerid);
			break;	/* imsg_free() closes any descriptor */
		}
		imsg_free(&imsg);
	}
	imsg_event_add(iev);
}
