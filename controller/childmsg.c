/*
 * The controller's side of its helpers' messages: what each child may
 * send (the imsgev tables) and what becomes of it; what a child gets
 * when it says hello (proxyd its options and config, a kgpd that came
 * back the tunnel's); the requests sc-ctl makes of them (figures,
 * streams, a reconnect).
 *
 * sc.c calls it and gives childmsg_init() the start-up to run once
 * every helper has said hello; it calls nothing of sc.c.
 */
#include <sys/types.h>
#include <sys/time.h>

#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "config.h"
#include "controller.h"
#include "log.h"
#include "pacans.h"
#include "proxyopt.h"

static int	 childmsg_streams(struct imsgev *, struct imsg *);
static void	 childmsg_proxyd_opts(const struct sc_config *, struct child *,
		    struct proxy_config *, int);
static int	 childmsg_kgp_link(struct imsgev *, struct imsg *);
static int	 childmsg_kgp_fatal(struct imsgev *, struct imsg *);
static int	 childmsg_kgpd_stats(struct imsgev *, struct imsg *);
static int	 childmsg_proxyd_stats(struct imsgev *, struct imsg *);
static void	 childmsg_kgp_config_one(struct child *);

static struct sc	*env;
static int		 startup_done;
/* the kgpd processes asked for figures that have not answered yet */
static uint32_t		 stats_wait;
/* sc.c's start-up, once every helper said hello */
static void		(*childmsg_startup)(int, short, void *);

/*
 * What each child may send.  A message that does not fit (the wrong
 * size, a type it has no business with, anything before its hello)
 * means it is broken or taken over: supervise.c logs it and restarts
 * the child, as if it had died; the controller goes on.
 */
static const struct imsgev_msg childmsg_msgs_kgpd[] = {
	CHILD_MSG_HELLO,
	IMSGEV_MSG_LOG,
	{ IMSGEV_TYPE(IMSG_KGP_UP), IMSGEV_SIZE(struct kgp_link_event), 0,
	    kgp_link_event_valid, childmsg_kgp_link },
	{ IMSGEV_TYPE(IMSG_KGP_DOWN), IMSGEV_SIZE(struct kgp_link_event), 0,
	    kgp_link_event_valid, childmsg_kgp_link },
	{ IMSGEV_TYPE(IMSG_KGP_FATAL), 1, SC_FATAL_LEN, IMSGEV_STRING, NULL,
	    childmsg_kgp_fatal },
	{ IMSGEV_TYPE(IMSG_STATS), sizeof(struct sc_stats), SC_STATS_MAX, 0,
	    sc_stats_links_valid, childmsg_kgpd_stats },
	{ IMSGEV_TYPE(IMSG_STREAMS), sizeof(struct sc_streams),
	    SC_STREAMS_MAX, 0, sc_streams_valid, childmsg_streams },
	IMSGEV_END
};
static const struct imsgev_peer childmsg_peer_kgpd = {
	"kgpd", IMSGEV_CLOSE, 0, childmsg_msgs_kgpd, child_channel_gone, child_bad
};
/* each kgpd's: the same, under its own name in the log */
static struct imsgev_peer	 childmsg_peer_kgpds[SC_KGPD_MAX];

static const struct imsgev_msg childmsg_msgs_proxyd[] = {
	CHILD_MSG_HELLO,
	IMSGEV_MSG_LOG,
	{ IMSGEV_TYPE(IMSG_STATS), IMSGEV_SIZE(struct sc_stats), 0, NULL,
	    childmsg_proxyd_stats },
	{ IMSGEV_TYPE(IMSG_STREAMS), sizeof(struct sc_streams),
	    SC_STREAMS_MAX, 0, sc_streams_valid, childmsg_streams },
	{ IMSGEV_TYPE(IMSG_PAC_ASK), IMSGEV_SIZE(struct pac_ask), 0,
	    pac_ask_valid, pac_relay_ask },
	IMSGEV_END
};
static const struct imsgev_peer childmsg_peer_proxyd = {
	"proxyd", IMSGEV_CLOSE, 0, childmsg_msgs_proxyd, child_channel_gone,
	child_bad
};

/* pacd runs the operator's JavaScript: its answers go to proxyd as is */
static const struct imsgev_msg childmsg_msgs_pacd[] = {
	CHILD_MSG_HELLO,
	IMSGEV_MSG_LOG,
	{ IMSGEV_TYPE(IMSG_STATS), IMSGEV_SIZE(struct sc_stats), 0, NULL,
	    childmsg_proxyd_stats },
	{ IMSGEV_TYPE(IMSG_PAC_ANSWER), 1, PAC_ANSWER_LEN, IMSGEV_STRING,
	    NULL, pac_relay_answer },
	IMSGEV_END
};
static const struct imsgev_peer childmsg_peer_pacd = {
	"pacd", IMSGEV_CLOSE, 0, childmsg_msgs_pacd, child_channel_gone, child_bad
};

/*
 * type to every kgpd that is ready; a bit (1 << i) for each kgpd i it
 * went to.  flush: now, before the caller goes on (the shutdown).
 */
uint32_t
childmsg_kgpd_all(uint32_t type, int flush)
{
	struct child	*c;
	uint32_t	 i, sent = 0;

	for (i = 0; i < env->nkgpd; i++) {
		c = &children[CHILD_KGPD + i];
		if (!child_ready(c->id) ||
		    child_compose(c, type, -1, NULL, 0) == -1)
			continue;
		if (flush)
			imsg_flush(&c->iev.ibuf);
		sent |= 1U << i;
	}
	return (sent);
}

/*
 * The figures of every kgpd together, in st; the number of kgpd
 * processes running.
 */
uint32_t
childmsg_kgpd_stats_sum(struct sc_stats *st)
{
	const struct sc_stats	*k;
	uint64_t		 rtt_sum = 0;
	uint32_t		 i, j, n = 0;

	memset(st, 0, sizeof(*st));
	for (i = 0; i < env->nkgpd; i++) {
		if (!child_ready(CHILD_KGPD + i))
			continue;
		n++;
		k = &children[CHILD_KGPD + i].stats;
		st->streams_open += k->streams_open;
		st->streams_total += k->streams_total;
		st->bytes_in += k->bytes_in;
		st->bytes_out += k->bytes_out;
		/* each kgpd's is the mean of its connections up */
		rtt_sum += k->rtt_us * k->link_up;
		st->link_up += k->link_up;
		st->reconnects += k->reconnects;
		st->cpu_us += k->cpu_us;
		st->maxrss_kib += k->maxrss_kib;
		st->rtt_count += k->rtt_count;
		st->rtt_sum_us += k->rtt_sum_us;
		for (j = 0; j < SC_RTT_BUCKETS; j++)
			st->rtt_buckets[j] += k->rtt_buckets[j];
	}
	if (st->link_up > 0)
		st->rtt_us = rtt_sum / st->link_up;
	return (n);
}

/* Ask every kgpd for its figures now; -1 when none can answer. */
int
childmsg_stats_request(void)
{
	if ((stats_wait = childmsg_kgpd_all(IMSG_STATS_REQ, 0)) == 0)
		return (-1);
	return (0);
}

/* sc-ctl show streams: ask every kgpd and proxyd; whom, as CTL_ASK_*. */
int
childmsg_streams_request(void)
{
	int	 asked;

	asked = childmsg_kgpd_all(IMSG_STREAMS_REQ, 0) << CTL_ASK_KGPD_SHIFT;
	if (child_ready(CHILD_PROXYD) && child_compose(
	    &children[CHILD_PROXYD], IMSG_STREAMS_REQ, -1, NULL, 0) != -1)
		asked |= CTL_ASK_PROXYD;
	return (asked);
}

/* IMSG_STREAMS: a kgpd's or proxyd's part of an answer to sc-ctl. */
static int
childmsg_streams(struct imsgev *iev, struct imsg *imsg)
{
	struct child	*c = iev->data;

	control_streams_answer(CHILD_IS_KGPD(c->id) ? CTL_ASK_KGPD(c->kgpd) :
	    CTL_ASK_PROXYD, imsg->data, IMSG_DATA_SIZE(imsg));
	return (IMSGEV_OK);
}

/* sc-ctl reconnect: kgpd drops its links; link.c brings them back. */
int
childmsg_reconnect(void)
{
	if (env->state != SC_UP ||
	    childmsg_kgpd_all(IMSG_KGP_BREAK, 0) == 0)
		return (-1);
	return (0);
}

/*
 * What a proxyd just started gets before its IMSG_PROXY_CONFIG: each
 * value of -a, -H, -R and the networks as it was given, a copy of the
 * --scproxy-port socket; and into its config, the name servers and the
 * localhost policy.
 */
static void
childmsg_proxyd_opts(const struct sc_config *conf, struct child *c,
    struct proxy_config *pc, int scproxy_fd)
{
	struct proxy_opt	 po;
	int			 i, fd;

	for (i = 0; i < conf->npo; i++) {
		memset(&po, 0, sizeof(po));
		po.kind = conf->po_kind[i];
		strlcpy(po.text, conf->po_text[i], sizeof(po.text));
		child_compose(c, IMSG_PROXY_OPT, -1, &po, sizeof(po));
		explicit_bzero(&po, sizeof(po));
	}
	if (scproxy_fd != -1) {
		/* fcntl: dup(2) is not in the controller's sandbox */
		if ((fd = fcntl(scproxy_fd, F_DUPFD_CLOEXEC, 0)) == -1)
			log_warn("--scproxy-port: dup");
		else
			child_compose(c, IMSG_PROXY_LISTEN, fd, NULL, 0);
	}
	if (conf->dns != NULL)
		strlcpy(pc->dns_servers, conf->dns, sizeof(pc->dns_servers));
	pc->dns_timeout_ms = conf->dns_timeout_ms;
	if (conf->dns_rr)
		pc->flags |= PROXY_F_DNS_RR;
	pc->connect_timeout_ms = conf->dial_ms ? conf->dial_ms :
	    SC_DIAL_TIMEOUT_MS;
	pc->tls_timeout_ms = conf->tls_ms ? conf->tls_ms : SC_TLS_TIMEOUT_MS;
	pc->header_timeout_ms = conf->header_set ? conf->header_ms :
	    SC_HEADER_TIMEOUT_MS;
	pc->idle_conn_timeout_ms = conf->idle_set ? conf->idle_ms :
	    SC_IDLE_CONN_TIMEOUT_MS;
	if (conf->localhost == PO_LOCALHOST_DENY)
		pc->flags |= PROXY_F_LOCAL_DENY;
	else if (conf->localhost == PO_LOCALHOST_ALLOW)
		pc->flags |= PROXY_F_LOCAL_VIA;
}

/* A child said hello: the first time, or after a restart. */
void
childmsg_ready(struct child *c)
{
	struct proxy_config	 pc;
	size_t			 off, n;

	if (env->state == SC_STOPPING)
		return;
	if (c->id == CHILD_PROXYD) {
		/* the CAs for https:// apps first, then the config */
		for (off = 0; off < env->app_calen; off += n) {
			n = env->app_calen - off;
			if (n > SC_CA_CHUNK)
				n = SC_CA_CHUNK;
			child_compose(c, IMSG_PROXY_CA, -1, env->app_ca + off,
			    n);
		}
		memset(&pc, 0, sizeof(pc));
		pc.idle_timeout_sec = 300;
		if (env->app_ca != NULL)
			pc.flags |= PROXY_F_VERIFY;
		if (env->pac_fd != -1)
			pc.flags |= PROXY_F_PAC;
		/* -a, -H, -R, networks, DNS, --scproxy-port: confproxy.c */
		childmsg_proxyd_opts(env->conf, c, &pc, env->scproxy_fd);
		child_compose(c, IMSG_PROXY_CONFIG, -1, &pc, sizeof(pc));
	}
	if (!startup_done) {
		/* with --pac, pacd too: its first start loads the script */
		if (child_kgpd_all_ready() && child_ready(CHILD_PROXYD) &&
		    (children[CHILD_PAC].off || child_ready(CHILD_PAC))) {
			startup_done = 1;
			event_base_once(env->base, -1, EV_TIMEOUT,
			    childmsg_startup, NULL, &(struct timeval){ 0, 0 });
		}
		return;
	}
	if (CHILD_IS_KGPD(c->id) && env->tunnel_created) {
		log_info("%s is back, reconnecting the tunnel", c->name);
		childmsg_kgp_config_one(c);
		link_start_kgpd(c->kgpd);
	}
}

void
childmsg_died(struct child *c)
{
	if (c->id == CHILD_PAC)
		pac_died();
	if (c->id == CHILD_PROXYD)
		pac_proxyd_died();
	if (env->state == SC_STOPPING || !CHILD_IS_KGPD(c->id))
		return;
	/* its connections went with it; the new kgpd gets new ones */
	link_kgpd_died(c->kgpd);
}

/* IMSG_KGP_UP, IMSG_KGP_DOWN: for one of our connections */
static int
childmsg_kgp_link(struct imsgev *iev, struct imsg *imsg)
{
	struct child		*c = iev->data;
	struct kgp_link_event	 ev;

	memcpy(&ev, imsg->data, sizeof(ev));
	if (ev.index >= env->nlinks) {
		log_warnx("%s: connection %u of %u", c->name, ev.index,
		    env->nlinks);
		return (IMSGEV_BAD);
	}
	if (child_kgpd_of(ev.index) != c) {
		log_warnx("%s: connection %u is another kgpd's", c->name,
		    ev.index);
		return (IMSGEV_BAD);
	}
	log_sanitize(ev.reason, ev.reason, sizeof(ev.reason));
	if (imsg->hdr.type == IMSG_KGP_UP)
		link_up(&ev);
	else
		link_down(&ev);
	return (IMSGEV_OK);
}

/* The tunnel cannot go on (refused, terminated): why, as kgpd says it. */
static int
childmsg_kgp_fatal(struct imsgev *iev, struct imsg *imsg)
{
	char	 why[SC_FATAL_LEN];

	log_sanitize(imsg->data, why, sizeof(why));
	if (env->state == SC_STOPPING)
		log_debug("kgpd: %s", why);
	else
		link_fatal(why);
	return (IMSGEV_OK);
}

/*
 * A kgpd's IMSG_STATS: struct sc_stats, then one struct sc_link_stats
 * per connection (none before it has its configuration), of which the
 * connections it carries are taken.  sc-ctl's status is answered once
 * every kgpd asked has answered.
 */
static int
childmsg_kgpd_stats(struct imsgev *iev, struct imsg *imsg)
{
	struct child	*c = iev->data;
	const uint8_t	*p = (const uint8_t *)imsg->data + sizeof(c->stats);
	size_t		 n, i;

	n = (IMSG_DATA_SIZE(imsg) - sizeof(c->stats)) /
	    sizeof(env->link_stats[0]);
	if (n != 0 && n != env->nlinks) {
		log_warnx("%s: IMSG_STATS for %zu connections, not %u",
		    c->name, n, env->nlinks);
		return (IMSGEV_BAD);
	}
	memcpy(&c->stats, imsg->data, sizeof(c->stats));
	for (i = 0; i < n; i++)
		if (child_kgpd_of(i) == c)
			memcpy(&env->link_stats[i], p + i *
			    sizeof(env->link_stats[0]),
			    sizeof(env->link_stats[0]));
	if (n != 0)
		env->nlink_stats = n;
	if (stats_wait != 0) {
		stats_wait &= ~(1U << c->kgpd);
		if (stats_wait == 0)
			control_status_ready();
	}
	return (IMSGEV_OK);
}

static int
childmsg_proxyd_stats(struct imsgev *iev, struct imsg *imsg)
{
	struct child	*c = iev->data;

	memcpy(&c->stats, imsg->data, sizeof(c->stats));
	return (IMSGEV_OK);
}

/* The tunnel's configuration to every kgpd that is ready. */
void
childmsg_kgp_config(void)
{
	uint32_t	 i;

	for (i = 0; i < env->nkgpd; i++)
		if (child_ready(CHILD_KGPD + i))
			childmsg_kgp_config_one(&children[CHILD_KGPD + i]);
}

/*
 * The tunnel's configuration to kgpd k: every connection's index is
 * known to each kgpd (its slots), it is given sockets for its own.
 */
static void
childmsg_kgp_config_one(struct child *k)
{
	struct kgp_config	 kc;
	size_t			 off, n;

	kgp_config_base(&kc, env->tunnel.host, env->nlinks);
	strlcpy(kc.tunnel_id, env->tunnel.id, sizeof(kc.tunnel_id));
	strlcpy(kc.secret, env->tunnel.secret, sizeof(kc.secret));
	if (env->ca == NULL)
		strlcpy(kc.pin, env->tunnel.cert_sha256, sizeof(kc.pin));
	child_compose(k, IMSG_KGP_CONFIG, -1, &kc, sizeof(kc));
	explicit_bzero(&kc, sizeof(kc));
	for (off = 0; env->ca != NULL && off < env->calen; off += n) {
		n = env->calen - off;
		if (n > SC_CA_CHUNK)
			n = SC_CA_CHUNK;
		child_compose(k, IMSG_KGP_CA, -1, env->ca + off, n);
	}
}

/*
 * The tables of each child's messages, and the start-up to run once they
 * have all said hello (on the event loop of sc).
 */
void
childmsg_init(struct sc *sc, void (*startup)(int, short, void *))
{
	uint32_t	 i;

	env = sc;
	childmsg_startup = startup;
	for (i = 0; i < SC_KGPD_MAX; i++) {
		childmsg_peer_kgpds[i] = childmsg_peer_kgpd;
		childmsg_peer_kgpds[i].name = children[CHILD_KGPD + i].name;
		children[CHILD_KGPD + i].peer = &childmsg_peer_kgpds[i];
	}
	children[CHILD_PROXYD].peer = &childmsg_peer_proxyd;
	children[CHILD_PAC].peer = &childmsg_peer_pacd;
}
