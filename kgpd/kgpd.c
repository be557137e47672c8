/*
 * kgpd: the KGP client process of sc (kgpd.h says what it is, its
 * channels and its limits).  Its peers are declared in the tables below:
 * what the controller may send on fd 3, what proxyd may send on fd 4.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/queue.h>

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
#include "kgp_tls.h"
#include "kgpd.h"
#include "log.h"
#include "proc.h"
#include "sandbox.h"

static int	kgpd_config(struct imsgev *, struct imsg *);
static int	kgpd_ca(struct imsgev *, struct imsg *);
static int	kgpd_connect_msg(struct imsgev *, struct imsg *);
static int	kgpd_early_msg(struct imsgev *, struct imsg *);
static int	kgpd_early_end(struct imsgev *, struct imsg *);
static int	kgpd_drain(struct imsgev *, struct imsg *);
static int	kgpd_stats_req(struct imsgev *, struct imsg *);
static int	kgpd_streams_req(struct imsgev *, struct imsg *);
static int	kgpd_peer_fd(struct imsgev *, struct imsg *);
static void	kgpd_main_gone(struct imsgev *);
static int	kgpd_move(struct imsgev *, struct imsg *);
static int	kgpd_moved(struct imsgev *, struct imsg *);
static int	kgpd_moved_tls(struct imsgev *, struct imsg *);
static int	kgpd_lend(struct imsgev *, struct imsg *);
static int	kgpd_break(struct imsgev *, struct imsg *);
static void	kgpd_proxyd_gone(struct imsgev *);
static void	kgpd_connect(int, uint32_t);
static void	kgpd_sig(int, short, void *);

/* what the controller sends (fd 3): it is trusted, a bad one is fatal */
static const struct imsgev_msg kgpd_msgs_main[] = {
	{ IMSGEV_TYPE(IMSG_KGP_CONFIG), IMSGEV_SIZE(struct kgp_config),
	    IMSGEV_ONCE, kgp_config_valid, kgpd_config },
	{ IMSGEV_TYPE(IMSG_KGP_CA), 1, IMSG_MAXDATA, 0, NULL, kgpd_ca },
	{ IMSGEV_TYPE(IMSG_KGP_CONNECT), IMSGEV_SIZE(uint32_t), IMSGEV_FD,
	    NULL, kgpd_connect_msg },
	{ IMSGEV_TYPE(IMSG_KGP_EARLY), IMSGEV_SIZE(struct kgp_config),
	    IMSGEV_FD | IMSGEV_ONCE, kgp_config_valid, kgpd_early_msg },
	{ IMSGEV_TYPE(IMSG_KGP_EARLY_END), IMSGEV_SIZE(uint32_t), 0, NULL,
	    kgpd_early_end },
	{ IMSGEV_TYPE(IMSG_KGP_DRAIN), IMSGEV_EMPTY, 0, NULL, kgpd_drain },
	{ IMSGEV_TYPE(IMSG_KGP_BREAK), IMSGEV_EMPTY, 0, NULL, kgpd_break },
	{ IMSGEV_TYPE(IMSG_STATS_REQ), IMSGEV_EMPTY, 0, NULL,
	    kgpd_stats_req },
	{ IMSGEV_TYPE(IMSG_STREAMS_REQ), IMSGEV_EMPTY, 0, NULL,
	    kgpd_streams_req },
	IMSGEV_MSG_VERBOSE,
	{ IMSGEV_TYPE(IMSG_PEER_FD), IMSGEV_EMPTY, IMSGEV_FD, NULL,
	    kgpd_peer_fd },
	IMSGEV_END
};
static const struct imsgev_peer kgpd_peer_main = {
	"the controller", IMSGEV_FATAL, 0, kgpd_msgs_main, kgpd_main_gone,
	NULL
};

/*
 * What proxyd sends (fd 4, or the channel of IMSG_PEER_FD): the process
 * that faces the intranet, so a bad message is logged and dropped, and
 * the tunnels go on.  A MOVE or LEND without its socket is answered.
 */
static const struct imsgev_msg kgpd_msgs_proxyd[] = {
	{ IMSGEV_TYPE(IMSG_STREAM_MOVE), IMSGEV_SIZE(struct stream_move),
	    IMSGEV_FDOPT, stream_move_valid, kgpd_move },
	{ IMSGEV_TYPE(IMSG_STREAM_MOVED), IMSGEV_SIZE(struct stream_moved),
	    0, stream_moved_valid, kgpd_moved },
	{ IMSGEV_TYPE(IMSG_STREAM_MOVED_TLS), sizeof(struct stream_moved_tls),
	    sizeof(struct stream_moved_tls) + SC_TLS_LEFT_MAX, 0,
	    stream_moved_tls_valid, kgpd_moved_tls },
	{ IMSGEV_TYPE(IMSG_STREAM_LEND), IMSGEV_SIZE(struct stream_lend),
	    IMSGEV_FDOPT, NULL, kgpd_lend },
	IMSGEV_END
};
static const struct imsgev_peer kgpd_peer_proxyd = {
	"proxyd", IMSGEV_DROP, 0, kgpd_msgs_proxyd, kgpd_proxyd_gone, NULL
};

static void	kgpd_account_slot(struct slot *, struct kgp_conn *);
static void	kgpd_stats_rtt(struct sc_stats *,
		    const struct kgp_conn_stats *);

static struct event_base	*base;
static struct imsgev		 iev_main;
static struct imsgev		 iev_proxyd;
static int			 proxyd_up;
static struct kgp_config	 conf;
static int			 have_conf;
static char			*ca_pem;
static size_t			 ca_len;
static struct slot		 slots[SC_MAX_CONNECTIONS];
/* opened while the REST API created the tunnel: TLS only, no slot yet */
static struct kgp_conn		*early;
static uint32_t			 nslots;
static TAILQ_HEAD(, retired)	 retired = TAILQ_HEAD_INITIALIZER(retired);
static struct sc_stats		 stats_done;	/* of finished connections */

static void
usage(void)
{
	fprintf(stderr, "usage: kgpd [-q | -v] [-u uid:gid]\n"
	    "kgpd is started by sc(8), not by hand.\n");
	exit(1);
}

int
main(int argc, char *argv[])
{
	struct event	*ev_term, *ev_int;
	struct retired	*r;
	uint32_t	 i;
	const char	*ids;
	int		 verbose;

	log_procinit("kgpd");
	if (proc_helper_args(argc, argv, &ids, &verbose) == -1)
		usage();
	log_setverbose(verbose);
	if (fcntl(KGPD_CTL_FD, F_GETFD) == -1 ||
	    fcntl(KGPD_PROXYD_FD, F_GETFD) == -1)
		usage();

	/* before any sandbox: what libtls would otherwise open lazily */
	tzset();
	if (tls_init() == -1)
		fatalx("tls_init");

	if ((base = event_base_new()) == NULL)
		fatalx("event_base_new");
	set_nonblock(KGPD_CTL_FD);
	set_nonblock(KGPD_PROXYD_FD);
	imsgev_open(&iev_main, base, KGPD_CTL_FD, &kgpd_peer_main, NULL);
	imsgev_log_sink(&iev_main);
	imsgev_open(&iev_proxyd, base, KGPD_PROXYD_FD, &kgpd_peer_proxyd, NULL);
	proxyd_up = 1;

	signal(SIGPIPE, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	ev_term = evsignal_new(base, SIGTERM, kgpd_sig, NULL);
	ev_int = evsignal_new(base, SIGINT, kgpd_sig, NULL);
	evsignal_add(ev_term, NULL);
	evsignal_add(ev_int, NULL);

	/*
	 * last: no file system, no socket of our own from here on.
	 * Started as root: chroot to the empty directory, become _sc,
	 * whose ids sc gives with -u (no user database here).
	 */
	sandbox_drop_ids(ids, SC_CHROOT);
	sandbox_kgpd();

	proc_hello(&iev_main);

	proc_trim_start(base);
	event_base_dispatch(base);

	for (i = 0; i < nslots; i++)
		kgp_conn_free(slots[i].conn);
	kgp_conn_free(early);
	while ((r = TAILQ_FIRST(&retired)) != NULL) {
		TAILQ_REMOVE(&retired, r, entry);
		kgp_conn_free(r->conn);
		free(r);
	}
	return (0);
}

static void
kgpd_sig(int sig, short event, void *arg)
{
	event_base_loopbreak(base);
}

/* A link's connection is finished: keep its counters. */
static void
kgpd_account(struct kgp_conn *c)
{
	struct kgp_conn_stats	 cs;

	kgp_conn_stats(c, &cs);
	stats_done.streams_total += cs.streams_total;
	stats_done.bytes_in += cs.bytes_in;
	stats_done.bytes_out += cs.bytes_out;
	kgpd_stats_rtt(&stats_done, &cs);
}

/* A connection's round trips into st's. */
static void
kgpd_stats_rtt(struct sc_stats *st, const struct kgp_conn_stats *cs)
{
	size_t	 i;

	st->rtt_count += cs->rtt_count;
	st->rtt_sum_us += cs->rtt_sum_us;
	for (i = 0; i < SC_RTT_BUCKETS; i++)
		st->rtt_buckets[i] += cs->rtt_buckets[i];
}

/* sc_stats, then one sc_link_stats per configured connection. */
static size_t
kgpd_stats(uint8_t *buf, size_t len)
{
	struct sc_stats		 st;
	struct sc_link_stats	 ls;
	struct kgp_conn_stats	 cs;
	struct slot		*sl;
	struct retired		*r;
	uint64_t		 rtt_sum = 0;
	uint32_t		 i, nup = 0;
	size_t			 off = sizeof(st);

	st = stats_done;
	for (i = 0; i < nslots && off + sizeof(ls) <= len; i++) {
		sl = &slots[i];
		memset(&ls, 0, sizeof(ls));
		ls.index = i;
		ls.breaks = sl->breaks;
		ls.resumes = sl->resumes;
		ls.retransmitted = sl->retransmitted;
		ls.last_break = sl->last_break;
		if (sl->conn != NULL) {
			kgp_conn_stats(sl->conn, &cs);
			ls.state = cs.up ? SC_LINK_UP : cs.broken ?
			    SC_LINK_BROKEN : SC_LINK_NONE;
			ls.rtt_us = cs.rtt_us;
			ls.streams_open = cs.streams_open;
			ls.bytes_in = cs.bytes_in;
			ls.bytes_out = cs.bytes_out;
			ls.breaks += cs.breaks;
			ls.resumes += cs.resumes;
			ls.retransmitted += cs.retransmitted;
			if (cs.last_break > ls.last_break)
				ls.last_break = cs.last_break;
			st.streams_open += cs.streams_open;
			st.streams_total += cs.streams_total;
			st.bytes_in += cs.bytes_in;
			st.bytes_out += cs.bytes_out;
			kgpd_stats_rtt(&st, &cs);
			if (cs.up) {
				st.link_up++;
				rtt_sum += cs.rtt_us;
				nup++;
			}
		}
		st.reconnects += ls.breaks;
		memcpy(buf + off, &ls, sizeof(ls));
		off += sizeof(ls);
	}
	/* the mean of the connections up, not the last one's */
	if (nup > 0)
		st.rtt_us = rtt_sum / nup;
	TAILQ_FOREACH(r, &retired, entry) {
		kgp_conn_stats(r->conn, &cs);
		st.streams_open += cs.streams_open;
		st.streams_total += cs.streams_total;
		st.bytes_in += cs.bytes_in;
		st.bytes_out += cs.bytes_out;
		kgpd_stats_rtt(&st, &cs);
	}
	sc_stats_self(&st);
	memcpy(buf, &st, sizeof(st));
	return (off);
}

/* The server opened a stream: give proxyd one end of a socketpair. */
static int
kgpd_open(struct kgp_conn *c, uint32_t id, const char *meta, uint16_t *code,
    char *reason, size_t reasonlen, void *arg)
{
	struct stream_info	 si;
	int			 sv[2];

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
	memset(&si, 0, sizeof(si));
	si.session = kgp_conn_session(c);
	strlcpy(si.peer, meta, sizeof(si.peer));
	if (imsg_compose_event(&iev_proxyd, IMSG_STREAM_FD, id, 0, sv[1],
	    &si, sizeof(si)) == -1) {
		close(sv[0]);
		*code = KGP_E_INTERNAL;
		strlcpy(reason, "cannot pass the stream", reasonlen);
		return (-1);
	}
	log_debug("stream %u from %s", id, meta);
	return (sv[0]);
}

/* Tell proxyd that a stream it moved reads its new socket, or is gone. */
static void
kgpd_send_switched(uint32_t id, uint64_t session, int ok)
{
	struct stream_moved	 sw;

	if (!proxyd_up)
		return;
	memset(&sw, 0, sizeof(sw));
	sw.session = session;
	sw.ok = ok;
	imsg_compose_event(&iev_proxyd, IMSG_STREAM_SWITCHED, id, 0, -1, &sw,
	    sizeof(sw));
}

static void
kgpd_switched(struct kgp_conn *c, uint32_t id, int ok, void *arg)
{
	kgpd_send_switched(id, kgp_conn_session(c), ok);
}

/* Tell proxyd how a lend of the app's socket ended (KGP_LENT_*). */
static void
kgpd_send_lent(uint32_t id, uint64_t session, int how, uint64_t got,
    int err)
{
	struct stream_lent	 lt;

	if (!proxyd_up)
		return;
	memset(&lt, 0, sizeof(lt));
	lt.session = session;
	lt.got = got;
	lt.how = how;
	lt.err = err;
	imsg_compose_event(&iev_proxyd, IMSG_STREAM_LENT, id, 0, -1, &lt,
	    sizeof(lt));
}

static void
kgpd_lent(struct kgp_conn *c, uint32_t id, int how, uint64_t got, int err,
    void *arg)
{
	kgpd_send_lent(id, kgp_conn_session(c), how, got, err);
}

/* fn on every connection: the slots' and the retired ones */
static void
kgpd_each_conn(void (*fn)(struct kgp_conn *))
{
	struct retired	*r;
	uint32_t	 i;

	for (i = 0; i < nslots; i++)
		if (slots[i].conn != NULL)
			fn(slots[i].conn);
	TAILQ_FOREACH(r, &retired, entry)
		fn(r->conn);
}

/* The connection of a session, if it is still here. */
static struct kgp_conn *
kgpd_session(uint64_t session)
{
	struct retired	*r;
	uint32_t	 i;

	for (i = 0; i < nslots; i++)
		if (slots[i].conn != NULL &&
		    kgp_conn_session(slots[i].conn) == session)
			return (slots[i].conn);
	TAILQ_FOREACH(r, &retired, entry)
		if (kgp_conn_session(r->conn) == session)
			return (r->conn);
	return (NULL);
}

static void
kgpd_link_event(int type, struct slot *sl, const char *reason, int resumable,
    int code)
{
	struct kgp_link_event	 ev;
	struct kgp_conn_stats	 cs;

	memset(&ev, 0, sizeof(ev));
	ev.index = sl - slots;
	ev.resumable = resumable;
	ev.code = code;
	if (type == IMSG_KGP_UP && sl->conn != NULL) {
		kgp_conn_stats(sl->conn, &cs);
		ev.resumed = cs.last_resumed;
		ev.retransmitted = cs.last_resumed ? cs.last_rtx : 0;
	}
	if (reason != NULL)
		strlcpy(ev.reason, reason, sizeof(ev.reason));
	imsg_compose_event(&iev_main, type, 0, 0, -1, &ev, sizeof(ev));
}

static void
kgpd_up(struct kgp_conn *c, void *arg)
{
	struct slot	*sl = arg;

	if (sl == NULL)
		return;
	log_debug("KGP connection %td up (server %s)", sl - slots,
	    kgp_conn_peer_hash(c));
	kgpd_link_event(IMSG_KGP_UP, sl, NULL, 0, 0);
}

/* The link broke; the session waits for the controller's new socket. */
static void
kgpd_broken(struct kgp_conn *c, int code, const char *why, void *arg)
{
	struct slot	*sl = arg;

	if (sl == NULL) {
		/* a retired connection is not worth resuming */
		kgp_conn_close(c, KGP_E_SHUTDOWN, "retired");
		return;
	}
	kgpd_link_event(IMSG_KGP_DOWN, sl, why, 1, 0);
}

/*
 * The server drains this connection: it stays for its open streams, and
 * the index gets a fresh connection for the new ones.
 */
static void
kgpd_goaway(struct kgp_conn *c, int code, const char *text, void *arg)
{
	struct slot	*sl = arg;
	struct retired	*r;
	char		 why[SC_REASON_LEN];

	if (sl == NULL)
		return;
	if ((r = calloc(1, sizeof(*r))) == NULL) {
		log_warn("%s", __func__);
		return;
	}
	kgpd_account_slot(sl, c);
	r->conn = c;
	TAILQ_INSERT_TAIL(&retired, r, entry);
	kgp_conn_set_arg(c, NULL);
	sl->conn = NULL;
	snprintf(why, sizeof(why), "the server is draining it (%s)",
	    text[0] ? text : kgp_code_name(code));
	kgpd_link_event(IMSG_KGP_DOWN, sl, why, 0, 0);
}

static void
kgpd_down(struct kgp_conn *c, int code, const char *why, void *arg)
{
	struct slot	*sl = arg;
	struct retired	*r;

	kgpd_account(c);
	if (c == early) {
		log_debug("early KGP connection closed: %s", why);
		early = NULL;
		kgp_conn_free(c);
		return;
	}
	if (sl == NULL) {
		TAILQ_FOREACH(r, &retired, entry)
			if (r->conn == c)
				break;
		if (r != NULL) {
			TAILQ_REMOVE(&retired, r, entry);
			free(r);
		}
		log_debug("retired KGP connection closed: %s", why);
		kgp_conn_free(c);
		return;
	}
	kgpd_account_slot(sl, c);
	sl->conn = NULL;
	switch (code) {
	case KGP_E_AUTH:
	case KGP_E_VERSION:
	case KGP_E_TERMINATED:
		imsg_compose_event(&iev_main, IMSG_KGP_FATAL, 0, 0, -1, why,
		    strlen(why) + 1);
		break;
	default:
		kgpd_link_event(IMSG_KGP_DOWN, sl, why, 0, code);
		break;
	}
	kgp_conn_free(c);
}

static const struct kgp_callbacks kgpd_callbacks = {
	.open = kgpd_open,
	.up = kgpd_up,
	.broken = kgpd_broken,
	.goaway = kgpd_goaway,
	.switched = kgpd_switched,
	.lent = kgpd_lent,
	.down = kgpd_down,
};

/* A session leaves its index: its break counters stay with the index. */
static void
kgpd_account_slot(struct slot *sl, struct kgp_conn *c)
{
	struct kgp_conn_stats	 cs;

	kgp_conn_stats(c, &cs);
	sl->breaks += cs.breaks;
	sl->resumes += cs.resumes;
	sl->retransmitted += cs.retransmitted;
	if (cs.last_break > sl->last_break)
		sl->last_break = cs.last_break;
}

/*
 * The TLS context of a link to server_name: verified against the CA of
 * --tunnel-cainfo if there is one, else not verified here (pinned: the
 * KGP engine compares the certificate's hash before HELLO).
 */
static struct kgp_tls *
kgpd_tls(int fd, const char *server_name, int pinned, const char **why)
{
	struct tls_config	*tc;
	struct tls		*tls = NULL;
	struct kgp_tls		*io;

	*why = NULL;
	if ((tc = tls_config_new()) == NULL) {
		*why = "tls_config_new failed";
		return (NULL);
	}
	tls_config_set_protocols(tc, TLS_PROTOCOL_TLSv1_2 |
	    TLS_PROTOCOL_TLSv1_3);
	if (ca_len > 0) {
		if (tls_config_set_ca_mem(tc, (uint8_t *)ca_pem, ca_len)
		    == -1) {
			*why = tls_config_error(tc);
			goto fail;
		}
	} else if (pinned) {
		/* the pinned hash from the authenticated REST answer */
		tls_config_insecure_noverifycert(tc);
		tls_config_insecure_noverifyname(tc);
	}
	if ((tls = tls_client()) == NULL) {
		*why = "tls_client failed";
		goto fail;
	}
	if (tls_configure(tls, tc) == -1 ||
	    (io = kgp_tls_connect(tls, fd, server_name)) == NULL) {
		*why = tls_error(tls);
		goto fail;
	}
	tls_config_free(tc);
	return (io);
fail:
	/* the message may live in tc or tls: log it before they go */
	log_warnx("cannot start TLS: %s", *why ? *why : "unknown error");
	*why = "TLS setup failed";
	tls_free(tls);
	tls_config_free(tc);
	return (NULL);
}

/* A client link's parameters from the controller's configuration kc. */
static void
kgpd_params(struct kgp_params *params, const struct kgp_config *kc,
    uint32_t index)
{
	memset(params, 0, sizeof(*params));
	params->role = KGP_ROLE_CLIENT;
	params->window = KGP_DEFAULT_WINDOW;
	params->ping_ms = kc->keepalive_sec ? kc->keepalive_sec * 1000 : 5000;
	params->max_missed = kc->max_missed_acks ? kc->max_missed_acks : 30;
	params->handshake_ms = 15000;
	/* the KGP links' TCP_CONGESTION (--kgp-congestion) */
	if (strcmp(kc->congestion, "default") != 0)
		params->congestion = kc->congestion;
	params->pin = ca_len > 0 ? NULL : kc->pin;
	params->tunnel_id = kc->tunnel_id;
	params->secret = kc->secret;
	params->conn_index = index;
}

/*
 * The early connection (sc.8, "Start-up"): a socket still connecting to
 * where the KGP endpoint will most likely be, given while the REST API
 * creates the tunnel.  Its TLS handshake goes now; HELLO waits for the
 * tunnel (kgpd_early_end).  Nothing is verified yet: the pin is checked
 * once it is known, before HELLO.  A failure only loses the head start.
 */
static void
kgpd_early(int fd, const struct kgp_config *kc)
{
	struct kgp_params	 params;
	struct kgp_tls		*io;
	const char		*why;

	if (have_conf) {
		close(fd);
		fatalx("early connection after the configuration");
	}
	set_nonblock(fd);
	if ((io = kgpd_tls(fd, kc->server_name, 1, &why)) == NULL) {
		close(fd);
		return;
	}
	kgpd_params(&params, kc, 0);
	params.hold = 1;
	if ((early = kgp_conn_new(base, fd, io, &params, &kgpd_callbacks,
	    NULL)) == NULL) {
		log_warnx("early connection: out of memory");
		kgp_tls_free(io);
		close(fd);
		return;
	}
	log_debug("early KGP connection to %s: TLS handshake", kc->server_name);
}

/*
 * A connected socket from the controller for link index: resume the
 * link's session on it, or start a new session.
 */
static void
kgpd_connect(int fd, uint32_t index)
{
	struct kgp_params	 params;
	struct slot		*sl;
	struct kgp_tls		*io;
	const char		*why;

	if (!have_conf) {
		close(fd);
		fatalx("connection before configuration");
	}
	if (index >= nslots) {
		close(fd);
		fatalx("connection %u of %u", index, nslots);
	}
	sl = &slots[index];
	set_nonblock(fd);
	if ((io = kgpd_tls(fd, conf.server_name, conf.pin[0] != '\0', &why))
	    == NULL)
		goto fail;
	if (sl->conn != NULL) {
		if (kgp_conn_resume(sl->conn, fd, io) == 0) {
			log_debug("KGP connection %u: resuming", index);
			return;
		}
		/* a session that cannot go on makes room for a new one */
		log_info("KGP connection %u: starting a new session", index);
		kgpd_account(sl->conn);
		kgpd_account_slot(sl, sl->conn);
		kgp_conn_free(sl->conn);
		sl->conn = NULL;
	}
	kgpd_params(&params, &conf, index);
	if ((sl->conn = kgp_conn_new(base, fd, io, &params, &kgpd_callbacks,
	    sl)) == NULL) {
		why = "out of memory";
		goto fail;
	}
	return;
fail:
	kgp_tls_free(io);
	close(fd);
	kgpd_link_event(IMSG_KGP_DOWN, sl, why, sl->conn != NULL, 0);
}

/* The controller's messages.  It is trusted: what does not fit is fatal. */
static int
kgpd_config(struct imsgev *iev, struct imsg *imsg)
{
	memcpy(&conf, imsg->data, sizeof(conf));
	explicit_bzero(imsg->data, IMSG_DATA_SIZE(imsg));
	nslots = conf.connections;
	have_conf = 1;
	return (IMSGEV_OK);
}

/* The CA's PEM, in chunks after the configuration. */
static int
kgpd_ca(struct imsgev *iev, struct imsg *imsg)
{
	size_t	 n = IMSG_DATA_SIZE(imsg);

	if (!have_conf || ca_len + n > SC_CA_MAX)
		return (IMSGEV_BAD);
	if ((ca_pem = realloc(ca_pem, ca_len + n)) == NULL)
		fatal("realloc");
	memcpy(ca_pem + ca_len, imsg->data, n);
	ca_len += n;
	return (IMSGEV_OK);
}

static int
kgpd_connect_msg(struct imsgev *iev, struct imsg *imsg)
{
	uint32_t	 index;

	memcpy(&index, imsg->data, sizeof(index));
	kgpd_connect(imsg_get_fd(imsg), index);
	return (IMSGEV_OK);
}

static int
kgpd_early_msg(struct imsgev *iev, struct imsg *imsg)
{
	struct kgp_config	 kc;

	memcpy(&kc, imsg->data, sizeof(kc));
	kgpd_early(imsg_get_fd(imsg), &kc);
	return (IMSGEV_OK);
}

/*
 * The tunnel is known: the early connection becomes link index (its pin
 * checked, HELLO sent), or is closed (SC_EARLY_DROP: the tunnel is
 * elsewhere).  One that was lost meanwhile is reported down, and the
 * controller connects as usual.
 */
static int
kgpd_early_end(struct imsgev *iev, struct imsg *imsg)
{
	struct kgp_params	 params;
	struct kgp_conn		*c = early;
	struct slot		*sl;
	uint32_t		 index;

	memcpy(&index, imsg->data, sizeof(index));
	early = NULL;
	if (index == SC_EARLY_DROP) {
		if (c != NULL)
			log_debug("early KGP connection dropped: the tunnel "
			    "is elsewhere");
		kgp_conn_free(c);
		return (IMSGEV_OK);
	}
	if (!have_conf || index >= nslots || slots[index].conn != NULL) {
		kgp_conn_free(c);
		return (IMSGEV_BAD);
	}
	sl = &slots[index];
	if (c == NULL) {
		kgpd_link_event(IMSG_KGP_DOWN, sl, "the early connection "
		    "was lost", 0, 0);
		return (IMSGEV_OK);
	}
	kgpd_params(&params, &conf, index);
	kgp_conn_set_arg(c, sl);
	sl->conn = c;
	/* from here the callbacks speak of sl, a failure included */
	if (kgp_conn_auth(c, &params) == -1) {
		sl->conn = NULL;
		kgp_conn_free(c);
		kgpd_link_event(IMSG_KGP_DOWN, sl, "the early connection "
		    "cannot go on", 0, 0);
	}
	return (IMSGEV_OK);
}

static int
kgpd_drain(struct imsgev *iev, struct imsg *imsg)
{
	kgpd_each_conn(kgp_conn_drain);
	return (IMSGEV_OK);
}

/* sc-ctl reconnect: every link that is up is dropped and resumed. */
static int
kgpd_break(struct imsgev *iev, struct imsg *imsg)
{
	uint32_t	 i;

	for (i = 0; i < nslots; i++)
		if (slots[i].conn != NULL)
			kgp_conn_break(slots[i].conn,
			    "reconnect asked on the control socket");
	return (IMSGEV_OK);
}

static int
kgpd_stats_req(struct imsgev *iev, struct imsg *imsg)
{
	uint8_t	 st[sizeof(struct sc_stats) +
		    SC_MAX_CONNECTIONS * sizeof(struct sc_link_stats)];

	imsg_compose_event(iev, IMSG_STATS, 0, 0, -1, st,
	    kgpd_stats(st, sizeof(st)));
	return (IMSGEV_OK);
}

/* the answer to IMSG_STREAMS_REQ as kgpd_streams_req() fills it */
struct streams_ans {
	struct sc_streams	 h;
	struct sc_stream	 st[SC_STREAMS_LIST];
	uint64_t		 session;
	uint32_t		 conn;
};

static int
kgpd_streams_one(uint32_t id, const struct kgp_stream_stats *ks, void *arg)
{
	struct streams_ans	*a = arg;
	struct sc_stream	*st;

	a->h.total++;
	if (a->h.n >= SC_STREAMS_LIST)
		return (0);		/* counted, left out */
	st = &a->st[a->h.n++];
	st->session = a->session;
	st->id = id;
	st->conn = a->conn;
	st->bytes_in = ks->bytes_in;
	st->bytes_out = ks->bytes_out;
	st->age_ms = ks->age_ms;
	if (ks->label != NULL)
		strlcpy(st->target, ks->label, sizeof(st->target));
	return (0);
}

/* sc-ctl show streams: the streams of every connection, by index. */
static int
kgpd_streams_req(struct imsgev *iev, struct imsg *imsg)
{
	struct streams_ans	 a;
	uint32_t		 i;

	memset(&a, 0, sizeof(a));
	for (i = 0; i < nslots; i++) {
		if (slots[i].conn == NULL)
			continue;
		a.session = kgp_conn_session(slots[i].conn);
		a.conn = i;
		kgp_conn_each_stream(slots[i].conn, kgpd_streams_one, &a);
	}
	imsg_compose_event(iev, IMSG_STREAMS, 0, 0, -1, &a,
	    sizeof(a.h) + a.h.n * sizeof(a.st[0]));
	return (IMSGEV_OK);
}

/* A new channel to proxyd: the old one's proxyd was restarted. */
static int
kgpd_peer_fd(struct imsgev *iev, struct imsg *imsg)
{
	imsgev_replace(&iev_proxyd, imsg_get_fd(imsg));
	proxyd_up = 1;
	log_debug("new channel to proxyd");
	return (IMSGEV_OK);
}

/* The controller is gone: so are we, quietly. */
static void
kgpd_main_gone(struct imsgev *iev)
{
	log_set_sink(NULL);
	event_base_loopbreak(base);
}

/*
 * proxyd hands back the app's socket of a tunnel (IMSG_STREAM_MOVE);
 * kgpd says when the stream reads it (IMSG_STREAM_SWITCHED, from the
 * engine's switched callback); proxyd then says when it has written
 * everything the stream sent it (IMSG_STREAM_MOVED).  Its end closing
 * means it died: moves it had not finished are reset.  A message about
 * a stream that is gone is stale, not an error: streams end on their
 * own while messages are on the way; a move of one is answered with a
 * SWITCHED that says so, so that proxyd does not wait for it.  For a
 * long answer, proxyd lends the app's socket (IMSG_STREAM_LEND) and
 * kgpd says how the lend ended (IMSG_STREAM_LENT, from the engine's
 * lent callback, or at once when it cannot take it).  A malformed
 * message, or one of a type kgpd does not know, is proxyd's bug, and
 * proxyd is the process that faces the intranet: it is logged and
 * dropped, and the tunnels go on.
 */
static int
kgpd_move(struct imsgev *iev, struct imsg *imsg)
{
	struct stream_move	 mv;
	struct kgp_conn		*c;
	uint32_t		 id = imsg->hdr.peerid;
	int			 nfd;

	memcpy(&mv, imsg->data, sizeof(mv));
	if ((nfd = imsg_get_fd(imsg)) == -1) {
		log_warnx("bad IMSG_STREAM_MOVE (no descriptor) from proxyd "
		    "(stream %u): refused", id);
		kgpd_send_switched(id, mv.session, 0);
		return (IMSGEV_OK);
	}
	set_nonblock(nfd);
	if ((c = kgpd_session(mv.session)) == NULL) {
		close(nfd);
		log_debug("stream %u: gone before its move", id);
		kgpd_send_switched(id, mv.session, 0);
	} else if ((mv.tls ? kgp_conn_stream_move_tls(c, id, nfd, mv.offset) :
	    kgp_conn_stream_move(c, id, nfd, mv.offset)) == -1) {
		log_debug("stream %u: not moved", id);
		kgpd_send_switched(id, mv.session, 0);
	} else
		kgp_conn_stream_label(c, id, mv.target);
	return (IMSGEV_OK);
}

static int
kgpd_moved(struct imsgev *iev, struct imsg *imsg)
{
	struct stream_moved	 md;
	struct kgp_conn		*c;

	memcpy(&md, imsg->data, sizeof(md));
	if ((c = kgpd_session(md.session)) == NULL ||
	    kgp_conn_stream_moved(c, imsg->hdr.peerid, md.ok) == -1)
		log_debug("stream %u: gone before its move ended",
		    imsg->hdr.peerid);
	return (IMSGEV_OK);
}

/*
 * A TLS move's end: the record keys (checked by the validator) make the
 * stream's record layer, and the ciphertext after them is what proxyd
 * had read of the app.  The keys are wiped here once the layer has them.
 */
static int
kgpd_moved_tls(struct imsgev *iev, struct imsg *imsg)
{
	struct stream_moved_tls	 md;
	struct kgp_conn		*c;
	struct tls_rec		*rec;
	size_t			 len = imsg->hdr.len - IMSG_HEADER_SIZE;
	uint32_t		 id = imsg->hdr.peerid;

	memcpy(&md, imsg->data, sizeof(md));
	rec = tls_rec_new(&md.keys);
	explicit_bzero(&md.keys, sizeof(md.keys));
	explicit_bzero(imsg->data, sizeof(md));
	if ((c = kgpd_session(md.session)) == NULL) {
		tls_rec_free(rec);
		log_debug("stream %u: gone before its move ended", id);
		return (IMSGEV_OK);
	}
	if (rec == NULL) {
		log_warnx("stream %u: cannot take its TLS keys", id);
		kgp_conn_stream_moved(c, id, 0);
		return (IMSGEV_OK);
	}
	if (kgp_conn_stream_moved_tls(c, id, rec,
	    (const uint8_t *)imsg->data + sizeof(md), len - sizeof(md)) == -1)
		log_debug("stream %u: gone before its move ended", id);
	else
		log_debug("stream %u: TLS connection to the app taken over",
		    id);
	return (IMSGEV_OK);
}

static int
kgpd_lend(struct imsgev *iev, struct imsg *imsg)
{
	struct stream_lend	 ld;
	struct kgp_conn		*c;
	uint32_t		 id = imsg->hdr.peerid;
	int			 nfd;

	memcpy(&ld, imsg->data, sizeof(ld));
	if ((nfd = imsg_get_fd(imsg)) == -1) {
		log_warnx("bad IMSG_STREAM_LEND (no descriptor) from proxyd "
		    "(stream %u): refused", id);
		kgpd_send_lent(id, ld.session, KGP_LENT_GONE, 0, 0);
		return (IMSGEV_OK);
	}
	set_nonblock(nfd);
	if ((c = kgpd_session(ld.session)) == NULL)
		close(nfd);
	if (c == NULL || kgp_conn_stream_lend(c, id, nfd, ld.offset,
	    ld.len) == -1) {
		log_debug("stream %u: lend not taken", id);
		kgpd_send_lent(id, ld.session, KGP_LENT_GONE, 0, 0);
	}
	return (IMSGEV_OK);
}

/* proxyd's end closed: it died, and moves it had not finished are reset */
static void
kgpd_proxyd_gone(struct imsgev *iev)
{
	log_debug("channel to proxyd closed");
	imsgev_clear(iev);
	proxyd_up = 0;
	kgpd_each_conn(kgp_conn_stream_moves_abort);
}
