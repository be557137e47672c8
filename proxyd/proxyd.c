/*
 * proxyd: the forward proxy worker of the client.
 *
 *	proxyd [-v ...]
 *
 * fd 3 is the imsg channel to the controller, fd 4 the channel to the
 * first kgpd; the channels to the others (--kgp-processes), and a new
 * one to a kgpd that was restarted, come from the controller
 * (IMSG_PEER_KGPD).  A kgpd hands over one connected socket per stream
 * (IMSG_STREAM_FD).  Once a stream is a tunnel, proxyd hands the app's
 * socket back to the kgpd of the stream (IMSG_STREAM_MOVE) and forgets
 * the stream.
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
#include "pacans.h"
#include "proc.h"
#include "proxyd.h"
#include "sandbox.h"

#define PROXYD_MAIN_FD	3
#define PROXYD_KGPD_FD	4

static void	 usage(void) __attribute__((noreturn));
static void	 proxyd_sig(int, short, void *);
static int	 proxyd_config(struct imsgev *, struct imsg *);
static int	 proxyd_ca(struct imsgev *, struct imsg *);
static int	 proxyd_opt(struct imsgev *, struct imsg *);
static int	 proxyd_listen(struct imsgev *, struct imsg *);
static int	 proxyd_stats_req(struct imsgev *, struct imsg *);
static int	 proxyd_streams_req(struct imsgev *, struct imsg *);
static int	 proxyd_pac_answer(struct imsgev *, struct imsg *);
static int	 proxyd_kgpd_channel(struct imsgev *, struct imsg *);
static void	 proxyd_main_gone(struct imsgev *);
static int	 proxyd_stream(struct imsgev *, struct imsg *);
static int	 proxyd_switched(struct imsgev *, struct imsg *);
static int	 proxyd_lent(struct imsgev *, struct imsg *);
static void	 proxyd_kgpd_gone(struct imsgev *);
static void	 proxyd_channel(int, const char *);

static struct proxyd	 proxyd_env;
struct proxyd		*env = &proxyd_env;

/* what the controller sends (fd 3): it is trusted, a bad one is fatal */
static const struct imsgev_msg proxyd_msgs_main[] = {
	{ IMSGEV_TYPE(IMSG_PROXY_CA), 1, IMSG_MAXDATA, 0, NULL, proxyd_ca },
	{ IMSGEV_TYPE(IMSG_PROXY_OPT), IMSGEV_SIZE(struct proxy_opt), 0,
	    proxy_opt_valid, proxyd_opt },
	{ IMSGEV_TYPE(IMSG_PROXY_LISTEN), IMSGEV_EMPTY, IMSGEV_FD | IMSGEV_ONCE,
	    NULL, proxyd_listen },
	{ IMSGEV_TYPE(IMSG_PROXY_CONFIG), IMSGEV_SIZE(struct proxy_config),
	    IMSGEV_ONCE, proxy_config_valid, proxyd_config },
	IMSGEV_MSG_VERBOSE,
	{ IMSGEV_TYPE(IMSG_STATS_REQ), IMSGEV_EMPTY, 0, NULL,
	    proxyd_stats_req },
	{ IMSGEV_TYPE(IMSG_STREAMS_REQ), IMSGEV_EMPTY, 0, NULL,
	    proxyd_streams_req },
	{ IMSGEV_TYPE(IMSG_PEER_KGPD), IMSGEV_SIZE(uint32_t), IMSGEV_FD, NULL,
	    proxyd_kgpd_channel },
	{ IMSGEV_TYPE(IMSG_PAC_ANSWER), 1, PAC_ANSWER_LEN, IMSGEV_STRING,
	    NULL, proxyd_pac_answer },
	IMSGEV_END
};
static const struct imsgev_peer proxyd_peer_main = {
	"the controller", IMSGEV_FATAL, 0, proxyd_msgs_main,
	proxyd_main_gone, NULL
};

/*
 * What a kgpd sends (fd 4, or a channel of IMSG_PEER_KGPD): a bad one is
 * logged and dropped, as kgpd does with proxyd's.
 */
static const struct imsgev_msg proxyd_msgs_kgpd[] = {
	{ IMSGEV_TYPE(IMSG_STREAM_FD), IMSGEV_SIZE(struct stream_info),
	    IMSGEV_FD, stream_info_valid, proxyd_stream },
	{ IMSGEV_TYPE(IMSG_STREAM_SWITCHED), IMSGEV_SIZE(struct stream_moved),
	    0, stream_moved_valid, proxyd_switched },
	{ IMSGEV_TYPE(IMSG_STREAM_LENT), IMSGEV_SIZE(struct stream_lent), 0,
	    stream_lent_valid, proxyd_lent },
	IMSGEV_END
};
static const struct imsgev_peer proxyd_peer_kgpd = {
	"kgpd", IMSGEV_DROP, 0, proxyd_msgs_kgpd, proxyd_kgpd_gone, NULL
};

static void
usage(void)
{
	fprintf(stderr, "usage: proxyd [-q | -v] [-u uid:gid]\n");
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
	const char	*ids;
	int		 verbose, i;

	if (proc_helper_args(argc, argv, &ids, &verbose) == -1)
		usage();

	log_init(LOG_DST_STDERR, LOG_DAEMON);
	log_procinit("proxyd");
	log_setverbose(verbose);
	proxyd_channel(PROXYD_MAIN_FD, "controller");
	proxyd_channel(PROXYD_KGPD_FD, "kgpd");

	if ((env->base = event_base_new()) == NULL)
		fatalx("event_base_new");
	imsgev_open(&env->iev_main, env->base, PROXYD_MAIN_FD,
	    &proxyd_peer_main, NULL);
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
	/* also TLS to https:// apps: what OpenSSL would load lazily, now */
	relay_init();
	for (i = 0; i < SC_KGPD_MAX; i++)
		env->iev_kgpd[i].ibuf.fd = -1;
	imsgev_open(&env->iev_kgpd[0], env->base, PROXYD_KGPD_FD,
	    &proxyd_peer_kgpd, NULL);

	/*
	 * last: the resolver configuration and /etc/hosts are read.
	 * Started as root: chroot to the empty directory, become _sc,
	 * whose ids sc gives with -u (no user database here).
	 */
	sandbox_drop_ids(ids, SC_CHROOT);
	sandbox_proxyd();

	proc_hello(&env->iev_main);
	log_debug("proxyd ready (pid %d)", (int)getpid());

	proc_trim_start(env->base);
	event_base_dispatch(env->base);

	log_debug("proxyd exiting");
	relay_shutdown();
	imsg_flush(&env->iev_main.ibuf);
	exit(0);
}

static int
proxyd_config(struct imsgev *iev, struct imsg *imsg)
{
	struct proxy_config	 conf;

	memcpy(&conf, imsg->data, sizeof(conf));
	relay_config(&conf);
	return (IMSGEV_OK);
}

/* CA certificates for https:// apps, in chunks, before the config. */
static int
proxyd_ca(struct imsgev *iev, struct imsg *imsg)
{
	if (relay_ca(imsg->data, IMSG_DATA_SIZE(imsg)) == -1)
		return (IMSGEV_BAD);
	return (IMSGEV_OK);
}

/* A value of -a, -H, -R or a network, before the config. */
static int
proxyd_opt(struct imsgev *iev, struct imsg *imsg)
{
	struct proxy_opt	 po;
	int			 ret;

	memcpy(&po, imsg->data, sizeof(po));
	ret = relay_opt(po.kind, po.text);
	explicit_bzero(&po, sizeof(po));
	return (ret == -1 ? IMSGEV_BAD : IMSGEV_OK);
}

/* The socket of --scproxy-port: local clients, served as streams are. */
static int
proxyd_listen(struct imsgev *iev, struct imsg *imsg)
{
	if (relay_listen(imsg_get_fd(imsg)) == -1)
		return (IMSGEV_BAD);
	return (IMSGEV_OK);
}

/* --pac: pacd's answer to a question of relay_pac.c ("": none) */
static int
proxyd_pac_answer(struct imsgev *iev, struct imsg *imsg)
{
	if (!env->pac)
		return (IMSGEV_BAD);
	pac_answer(imsg->hdr.peerid, imsg->data);
	return (IMSGEV_OK);
}

static int
proxyd_streams_req(struct imsgev *iev, struct imsg *imsg)
{
	uint8_t	 buf[SC_STREAMS_MAX];

	imsg_compose_event(iev, IMSG_STREAMS, 0, 0, -1, buf,
	    relay_streams(buf, sizeof(buf)));
	return (IMSGEV_OK);
}

static int
proxyd_stats_req(struct imsgev *iev, struct imsg *imsg)
{
	sc_stats_self(&env->stats);
	imsg_compose_event(iev, IMSG_STATS, imsg->hdr.peerid, 0, -1,
	    &env->stats, sizeof(env->stats));
	return (IMSGEV_OK);
}

/*
 * A channel to kgpd number k: one not running at our start, or a kgpd
 * restarted since.
 */
static int
proxyd_kgpd_channel(struct imsgev *iev, struct imsg *imsg)
{
	struct imsgev	*k;
	uint32_t	 n;
	int		 fd = imsg_get_fd(imsg);

	memcpy(&n, imsg->data, sizeof(n));
	if (n >= SC_KGPD_MAX) {
		close(fd);
		return (IMSGEV_BAD);
	}
	k = &env->iev_kgpd[n];
	if (k->peer != NULL)
		imsgev_replace(k, fd);
	else {
		if (set_nonblock(fd) == -1 || set_cloexec(fd, 1) == -1)
			fatal("%s", __func__);
		imsgev_open(k, env->base, fd, &proxyd_peer_kgpd, NULL);
	}
	log_debug("new channel to kgpd %u", n);
	return (IMSGEV_OK);
}

/* The controller is gone: so are we, quietly. */
static void
proxyd_main_gone(struct imsgev *iev)
{
	exit(0);
}

static int
proxyd_stream(struct imsgev *iev, struct imsg *imsg)
{
	struct stream_info	 si;

	memcpy(&si, imsg->data, sizeof(si));
	relay_stream(imsg_get_fd(imsg), imsg->hdr.peerid, si.session,
	    si.peer, iev - env->iev_kgpd);
	return (IMSGEV_OK);
}

static int
proxyd_switched(struct imsgev *iev, struct imsg *imsg)
{
	struct stream_moved	 sw;

	memcpy(&sw, imsg->data, sizeof(sw));
	relay_switched(imsg->hdr.peerid, sw.session, sw.ok);
	return (IMSGEV_OK);
}

static int
proxyd_lent(struct imsgev *iev, struct imsg *imsg)
{
	struct stream_lent	 lt;

	memcpy(&lt, imsg->data, sizeof(lt));
	relay_lent(imsg->hdr.peerid, lt.session, lt.how, lt.got, lt.err);
	return (IMSGEV_OK);
}

/* a kgpd died: the controller restarts it, and IMSG_PEER_KGPD follows */
static void
proxyd_kgpd_gone(struct imsgev *iev)
{
	log_debug("kgpd channel closed");
	imsgev_clear(iev);
}
