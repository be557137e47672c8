/*
 * kgpd: the KGP client process of sc.
 *
 * fd 3: imsg channel to the controller (configuration, connected sockets,
 *	 link state, statistics, log lines).
 * fd 4: imsg channel to proxyd (one IMSG_STREAM_FD per stream).
 *
 * kgpd opens no network connection of its own: the controller connects
 * and passes the socket.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <tls.h>

#include "imsg_types.h"
#include "kgp.h"
#include "kgpd.h"
#include "log.h"
#include "proc.h"
#include "sandbox.h"

#define CTL_FD		3
#define PROXYD_FD	4
#define CA_MAX		(1024 * 1024)

static void	kgpd_dispatch_main(int, short, void *);
static void	kgpd_dispatch_proxyd(int, short, void *);
static void	kgpd_connect(int);
static void	kgpd_sig(int, short, void *);

static struct event_base	*base;
static struct imsgev		 iev_main;
static struct imsgev		 iev_proxyd;
static int			 proxyd_up;
static struct kgp_config	 conf;
static int			 have_conf;
static char			*ca_pem;
static size_t			 ca_len;
static struct kgp_conn		*conn;
static uint32_t			 connects;
static struct sc_stats		 stats_done;	/* of finished connections */

static void
usage(void)
{
	fprintf(stderr, "usage: kgpd [-v]\n"
	    "kgpd is started by sc(8), not by hand.\n");
	exit(1);
}

int
main(int argc, char *argv[])
{
	struct event	*ev_term, *ev_int;
	struct sc_hello	 hello;
	int		 ch, verbose = 0;

	log_procinit("kgpd");
	while ((ch = getopt(argc, argv, "v")) != -1) {
		switch (ch) {
		case 'v':
			verbose++;
			break;
		default:
			usage();
		}
	}
	log_setverbose(verbose);
	if (fcntl(CTL_FD, F_GETFD) == -1 || fcntl(PROXYD_FD, F_GETFD) == -1)
		usage();

	/* before any sandbox: what libtls would otherwise open lazily */
	tzset();
	if (tls_init() == -1)
		fatalx("tls_init");

	if ((base = event_base_new()) == NULL)
		fatalx("event_base_new");
	set_nonblock(CTL_FD);
	set_nonblock(PROXYD_FD);
	imsgev_init(&iev_main, base, CTL_FD, kgpd_dispatch_main, NULL);
	imsgev_log_sink(&iev_main);
	imsgev_init(&iev_proxyd, base, PROXYD_FD, kgpd_dispatch_proxyd, NULL);
	proxyd_up = 1;

	signal(SIGPIPE, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	ev_term = evsignal_new(base, SIGTERM, kgpd_sig, NULL);
	ev_int = evsignal_new(base, SIGINT, kgpd_sig, NULL);
	evsignal_add(ev_term, NULL);
	evsignal_add(ev_int, NULL);

	/*
	 * last: no file system, no socket of our own from here on.
	 * Started as root: chroot to the empty directory, become _sc.
	 */
	sandbox_drop(SC_USER, SC_CHROOT);
	sandbox_kgpd();

	memset(&hello, 0, sizeof(hello));
	hello.version = SC_IMSG_VERSION;
	hello.pid = getpid();
	imsg_compose_event(&iev_main, IMSG_HELLO, 0, 0, -1, &hello,
	    sizeof(hello));

	event_base_dispatch(base);

	kgp_conn_free(conn);
	return (0);
}

static void
kgpd_sig(int sig, short event, void *arg)
{
	event_base_loopbreak(base);
}

static void
kgpd_stats(struct sc_stats *st)
{
	struct kgp_conn_stats	 cs;

	*st = stats_done;
	st->reconnects = connects > 1 ? connects - 1 : 0;
	if (conn == NULL)
		return;
	kgp_conn_stats(conn, &cs);
	st->streams_open = cs.streams_open;
	st->streams_total += cs.streams_total;
	st->bytes_in += cs.bytes_in;
	st->bytes_out += cs.bytes_out;
	st->rtt_us = cs.rtt_us;
	st->link_up = cs.up;
}

/* The server opened a stream: give proxyd one end of a socketpair. */
static int
kgpd_open(struct kgp_conn *c, uint32_t id, const char *meta, uint16_t *code,
    char *reason, size_t reasonlen, void *arg)
{
	int	 sv[2];

	if (!proxyd_up) {
		*code = KGP_E_REFUSED;
		strlcpy(reason, "proxy worker restarting", reasonlen);
		return (-1);
	}
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0,
	    sv) == -1) {
		log_warn("socketpair");
		*code = errno == EMFILE || errno == ENFILE ? KGP_E_LIMIT :
		    KGP_E_INTERNAL;
		strlcpy(reason, strerror(errno), reasonlen);
		return (-1);
	}
	if (imsg_compose_event(&iev_proxyd, IMSG_STREAM_FD, id, 0, sv[1],
	    meta, strlen(meta) + 1) == -1) {
		close(sv[0]);
		*code = KGP_E_INTERNAL;
		strlcpy(reason, "cannot pass the stream", reasonlen);
		return (-1);
	}
	log_debug("stream %u from %s", id, meta);
	return (sv[0]);
}

static void
kgpd_up(struct kgp_conn *c, void *arg)
{
	log_debug("KGP connection up (server %s)", kgp_conn_peer_hash(c));
	imsg_compose_event(&iev_main, IMSG_KGP_UP, 0, 0, -1, NULL, 0);
}

/* Keep the counters of a connection that is going away. */
static void
kgpd_account(struct kgp_conn *c)
{
	struct kgp_conn_stats	 cs;

	kgp_conn_stats(c, &cs);
	stats_done.streams_total += cs.streams_total;
	stats_done.bytes_in += cs.bytes_in;
	stats_done.bytes_out += cs.bytes_out;
}

static void
kgpd_down(struct kgp_conn *c, int code, const char *why, void *arg)
{
	int	 type;

	kgpd_account(c);
	switch (code) {
	case KGP_E_AUTH:
	case KGP_E_VERSION:
	case KGP_E_TERMINATED:
		type = IMSG_KGP_FATAL;
		break;
	default:
		type = IMSG_KGP_DOWN;
		break;
	}
	imsg_compose_event(&iev_main, type, 0, 0, -1, why, strlen(why) + 1);
	if (c == conn)
		conn = NULL;
	kgp_conn_free(c);
}

static const struct kgp_callbacks kgpd_callbacks = {
	.open = kgpd_open,
	.up = kgpd_up,
	.down = kgpd_down,
};

/* A connected socket from the controller: TLS and KGP on it. */
static void
kgpd_connect(int fd)
{
	struct tls_config	*tc = NULL;
	struct tls		*tls = NULL;
	struct kgp_params	 params;
	const char		*why;

	if (!have_conf) {
		close(fd);
		fatalx("connection before configuration");
	}
	if (conn != NULL) {
		log_info("replacing the KGP connection");
		kgpd_account(conn);
		kgp_conn_free(conn);
		conn = NULL;
	}
	connects++;
	if ((tc = tls_config_new()) == NULL) {
		why = "tls_config_new failed";
		goto fail;
	}
	tls_config_set_protocols(tc, TLS_PROTOCOL_TLSv1_2 |
	    TLS_PROTOCOL_TLSv1_3);
	if (ca_len > 0) {
		if (tls_config_set_ca_mem(tc, (uint8_t *)ca_pem, ca_len)
		    == -1) {
			why = tls_config_error(tc);
			goto fail;
		}
	} else if (conf.pin[0] != '\0') {
		/* the pinned hash from the authenticated REST answer */
		tls_config_insecure_noverifycert(tc);
		tls_config_insecure_noverifyname(tc);
	}
	if ((tls = tls_client()) == NULL) {
		why = "tls_client failed";
		goto fail;
	}
	if (tls_configure(tls, tc) == -1 ||
	    tls_connect_socket(tls, fd, conf.server_name) == -1) {
		why = tls_error(tls);
		goto fail;
	}
	tls_config_free(tc);
	tc = NULL;

	memset(&params, 0, sizeof(params));
	params.role = KGP_ROLE_CLIENT;
	params.window = KGP_DEFAULT_WINDOW;
	params.ping_ms = conf.keepalive_sec ? conf.keepalive_sec * 1000 : 5000;
	params.max_missed = conf.max_missed_acks ? conf.max_missed_acks : 30;
	params.handshake_ms = 15000;
	params.pin = ca_len > 0 ? NULL : conf.pin;
	params.tunnel_id = conf.tunnel_id;
	params.secret = conf.secret;
	params.conn_index = conf.conn_index;
	set_nonblock(fd);
	if ((conn = kgp_conn_new(base, fd, tls, &params, &kgpd_callbacks,
	    NULL)) == NULL) {
		why = "out of memory";
		goto fail;
	}
	return;
fail:
	log_warnx("cannot start TLS: %s", why ? why : "unknown error");
	imsg_compose_event(&iev_main, IMSG_KGP_DOWN, 0, 0, -1, "TLS setup "
	    "failed", sizeof("TLS setup failed"));
	tls_free(tls);
	tls_config_free(tc);
	close(fd);
}

static void
kgpd_dispatch_main(int fd, short event, void *arg)
{
	struct imsgev		*iev = arg;
	struct imsg		 imsg;
	struct sc_stats		 st;
	int32_t			 v;
	ssize_t			 n;
	int			 nfd;

	if (imsgev_io(iev, event) == -1) {
		/* the controller is gone: so are we, quietly */
		log_set_sink(NULL);
		event_base_loopbreak(base);
		return;
	}
	for (;;) {
		if ((n = imsg_get(&iev->ibuf, &imsg)) == -1)
			fatal("imsg_get");
		if (n == 0)
			break;
		switch (imsg.hdr.type) {
		case IMSG_KGP_CONFIG:
			if (imsg_get_data(&imsg, &conf, sizeof(conf)) == -1)
				fatalx("bad IMSG_KGP_CONFIG size");
			conf.tunnel_id[sizeof(conf.tunnel_id) - 1] = '\0';
			conf.secret[sizeof(conf.secret) - 1] = '\0';
			conf.server_name[sizeof(conf.server_name) - 1] = '\0';
			conf.pin[sizeof(conf.pin) - 1] = '\0';
			explicit_bzero(imsg.data, IMSG_DATA_SIZE(&imsg));
			free(ca_pem);
			ca_pem = NULL;
			ca_len = 0;
			have_conf = 1;
			break;
		case IMSG_KGP_CA:
			if (IMSG_DATA_SIZE(&imsg) == 0 ||
			    ca_len + IMSG_DATA_SIZE(&imsg) > CA_MAX)
				fatalx("bad IMSG_KGP_CA size");
			if ((ca_pem = realloc(ca_pem, ca_len +
			    IMSG_DATA_SIZE(&imsg))) == NULL)
				fatal("realloc");
			memcpy(ca_pem + ca_len, imsg.data,
			    IMSG_DATA_SIZE(&imsg));
			ca_len += IMSG_DATA_SIZE(&imsg);
			break;
		case IMSG_KGP_CONNECT:
			if (IMSG_DATA_SIZE(&imsg) != 0 ||
			    (nfd = imsg_get_fd(&imsg)) == -1)
				fatalx("bad IMSG_KGP_CONNECT");
			kgpd_connect(nfd);
			break;
		case IMSG_KGP_DRAIN:
			if (IMSG_DATA_SIZE(&imsg) != 0)
				fatalx("bad IMSG_KGP_DRAIN size");
			if (conn != NULL)
				kgp_conn_drain(conn);
			break;
		case IMSG_STATS_REQ:
			if (IMSG_DATA_SIZE(&imsg) != 0)
				fatalx("bad IMSG_STATS_REQ size");
			kgpd_stats(&st);
			imsg_compose_event(iev, IMSG_STATS, 0, 0, -1, &st,
			    sizeof(st));
			break;
		case IMSG_LOG_VERBOSE:
			if (imsg_get_data(&imsg, &v, sizeof(v)) == -1)
				fatalx("bad IMSG_LOG_VERBOSE size");
			log_setverbose(v);
			break;
		case IMSG_PEER_FD:
			if (IMSG_DATA_SIZE(&imsg) != 0 ||
			    (nfd = imsg_get_fd(&imsg)) == -1)
				fatalx("bad IMSG_PEER_FD");
			if (iev_proxyd.ev != NULL)
				imsgev_clear(&iev_proxyd);
			set_nonblock(nfd);
			imsgev_init(&iev_proxyd, base, nfd,
			    kgpd_dispatch_proxyd, NULL);
			proxyd_up = 1;
			log_debug("new channel to proxyd");
			break;
		default:
			fatalx("%s: unexpected imsg %u", __func__,
			    imsg.hdr.type);
		}
		imsg_free(&imsg);
	}
	imsg_event_add(iev);
}

/* proxyd sends nothing on this channel; its end closing means it died. */
static void
kgpd_dispatch_proxyd(int fd, short event, void *arg)
{
	struct imsgev	*iev = arg;
	struct imsg	 imsg;
	ssize_t		 n;

	if (imsgev_io(iev, event) == -1) {
		log_debug("channel to proxyd closed");
		imsgev_clear(iev);
		proxyd_up = 0;
		return;
	}
	for (;;) {
		if ((n = imsg_get(&iev->ibuf, &imsg)) == -1)
			fatal("imsg_get");
		if (n == 0)
			break;
		fatalx("%s: unexpected imsg %u", __func__, imsg.hdr.type);
	}
	imsg_event_add(iev);
}
