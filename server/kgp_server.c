/*
 * The KGP endpoint: accept TCP, wrap in TLS, hand to the connection
 * engine (common/kgp_conn.c) and authenticate the tunnel in its HELLO.
 * A HELLO that names a session the tunnel still has resumes it: the new
 * link moves into that session and the fresh kgp_client goes away.
 *
 * Until its HELLO is taken, a connection waits in the admission table of
 * the KGP endpoint (admit.h): KGP_WAITING_ADDR per address,
 * KGP_WAITING_MAX in all (at most a quarter of the descriptors, so that
 * the entry proxies keep theirs), addresses whose tunnels have
 * authenticated kept last; and it has KGP_HANDSHAKE_SEC for TLS and
 * HELLO together, less when the table fills.  Before its first byte it
 * costs a kgp_client and an event: the TLS context and the engine's
 * buffers come with the ClientHello.
 *
 * Another node of the cluster connects here too, with a HELLO that
 * carries the node flag, its name and the cluster's secret
 * (nodelink.c): it waits in the same table and has the same deadline.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <tls.h>

#include "imsg_server.h"
#include "kgp.h"
#include "kgp_tls.h"
#include "log.h"
#include "proc.h"
#include "server.h"

#define KGP_SERVER_PING_MS	1000
#define KGP_SERVER_HANDSHAKE_MIN_MS 500	/* left when the TLS starts */

/* what the sessions that are gone carried, for /metrics */
static struct srv_kgp_stats	 retired;

static void	 kgp_server_retire(struct kgp_client *);
static void	 kgp_server_accept(int, void *);
static void	 kgp_server_first(int, short, void *);
static void	 kgp_server_evict(struct admit_ent *, void *);
static void	 kgp_server_waiting_free(struct kgp_client *);
static void	 kgp_server_proven(struct kgp_client *);
static int	 kgp_server_hold(struct kgp_client *, const char *);
static void	 kgp_server_hold_full(struct kgp_client *, const char *);
static void	 kgp_server_hold_end(int, short, void *);
static void	 kgp_server_unhold(struct kgp_client *, int);
static int	 kgp_server_shed_cb(void *);
static int	 kgp_server_hello(struct kgp_conn *, const struct kgp_hello *,
		    void *);
static void	 kgp_server_up(struct kgp_conn *, void *);
static void	 kgp_server_broken(struct kgp_conn *, int, const char *,
		    void *);
static void	 kgp_server_down(struct kgp_conn *, int, const char *, void *);
static int	 kgp_server_node_stream(struct kgp_conn *, uint32_t,
		    const char *, struct bufferevent *, uint16_t *, char *,
		    size_t, void *);

static const struct kgp_callbacks kgp_server_callbacks = {
	/* only a node link's peer opens streams here, in-process */
	.open_local = kgp_server_node_stream,
	.hello = kgp_server_hello,
	.up = kgp_server_up,
	.broken = kgp_server_broken,
	.down = kgp_server_down,
};

static int	 kgp_fd = -1;
static struct admit *kgp_admit;
/* accepted, no byte yet: no kgp_conn */
static TAILQ_HEAD(, kgp_client) kgp_waiting =
    TAILQ_HEAD_INITIALIZER(kgp_waiting);
/* HELLOs that wait for the parent's read of their tunnel */
static TAILQ_HEAD(, kgp_client) kgp_held = TAILQ_HEAD_INITIALIZER(kgp_held);
static size_t	 kgp_nheld;
/* the tunnels whose read the parent was asked for and has not done */
static char	 kgp_asked[KGP_HOLD_MAX][TUNNEL_ID_LEN + 1];
static size_t	 kgp_nasked;
static uint64_t	 kgp_hold_asks, kgp_hold_refused;
static int64_t	 kgp_hold_logged;	/* mono_ms(), 0: never */
static uint64_t	 kgp_hold_unlogged;	/* refused since that line */

/*
 * The KGP worker: the KGP endpoint on the listening socket fd, which the
 * parent bound.  Accepting starts with kgp_server_enable().
 */
int
kgp_server_init(int fd)
{
	if (env->tls == NULL || (kgp_admit = admit_new("KGP",
	    KGP_WAITING_ADDR, server_fd_share(KGP_WAITING_MAX, 4))) == NULL) {
		close(fd);
		return (-1);
	}
	kgp_fd = fd;
	return (0);
}

void
kgp_server_enable(void)
{
	if ((env->kgp_listener = listener_new(env->base, kgp_fd,
	    kgp_server_accept, NULL)) == NULL)
		fatalx("%s: listener_new", __func__);
	listener_set_shed(env->kgp_listener, kgp_server_shed_cb, NULL);
}

static int
kgp_server_shed_cb(void *arg)
{
	return (kgp_server_shed());
}

/* Out of descriptors: one connection before its HELLO goes.  1 if. */
int
kgp_server_shed(void)
{
	return (kgp_admit != NULL && admit_shed(kgp_admit));
}

/* Shutting down: leave the loop once the last KGP connection is gone. */
void
kgp_server_shutdown_check(void)
{
	if (env->shutting_down && TAILQ_EMPTY(&env->clients))
		event_base_loopexit(env->base, NULL);
}

/*
 * Stop accepting; every connection gets GOAWAY and ends once its open
 * streams are done (the caller bounds the wait).
 */
void
kgp_server_shutdown(void)
{
	struct kgp_client	*c, *tmp;

	listener_free(env->kgp_listener);
	env->kgp_listener = NULL;
	while ((c = TAILQ_FIRST(&kgp_waiting)) != NULL)
		kgp_server_waiting_free(c);
	TAILQ_FOREACH_SAFE(c, &env->clients, entry, tmp)
		kgp_conn_goaway(c->conn, KGP_E_SHUTDOWN,
		    "server shutting down");
}

/* The bound of the drain is over: whatever is left is closed now. */
void
kgp_server_close_all(void)
{
	struct kgp_client	*c, *tmp;

	TAILQ_FOREACH_SAFE(c, &env->clients, entry, tmp)
		kgp_conn_close(c->conn, KGP_E_SHUTDOWN,
		    "server shutting down");
}

static void
kgp_server_accept(int fd, void *arg)
{
	socklen_t		 sslen = sizeof(struct sockaddr_storage);
	struct kgp_client	*c;
	struct timeval		 tv;

	if (env->shutting_down) {
		close(fd);
		return;
	}
	if ((c = calloc(1, sizeof(*c))) == NULL) {
		log_warn("%s", __func__);
		close(fd);
		return;
	}
	c->fd = fd;
	if (getpeername(fd, (struct sockaddr *)&c->ss, &sslen) == -1 ||
	    sockaddr_string((struct sockaddr *)&c->ss, sslen, c->addr,
	    sizeof(c->addr), NULL) == -1)
		strlcpy(c->addr, "unknown", sizeof(c->addr));
	TAILQ_INSERT_TAIL(&kgp_waiting, c, entry);
	if ((c->first = event_new(env->base, fd, EV_READ, kgp_server_first,
	    c)) == NULL || admit_add(kgp_admit, &c->adm,
	    (struct sockaddr *)&c->ss, kgp_server_evict, c) == -1) {
		kgp_server_waiting_free(c);
		return;
	}
	c->since_ms = mono_ms();
	c->handshake_ms = admit_deadline(kgp_admit, KGP_HANDSHAKE_SEC * 1000,
	    KGP_HANDSHAKE_MIN_SEC * 1000);
	tv.tv_sec = c->handshake_ms / 1000;
	tv.tv_usec = (c->handshake_ms % 1000) * 1000;
	event_add(c->first, &tv);
}

/* Accepted, and not a byte yet: closed for shutdown or a newer one. */
static void
kgp_server_waiting_free(struct kgp_client *c)
{
	admit_del(&c->adm);
	TAILQ_REMOVE(&kgp_waiting, c, entry);
	if (c->first != NULL)
		event_free(c->first);
	close(c->fd);
	free(c);
}

/*
 * The first bytes (a ClientHello, one hopes): now the TLS context and the
 * engine, with what is left of the handshake deadline.  Or the deadline.
 */
static void
kgp_server_first(int fd, short ev, void *arg)
{
	struct kgp_client	*c = arg;
	struct kgp_params	 params;
	struct kgp_tls		*io;
	uint64_t		 spent;

	if (ev & EV_TIMEOUT) {
		log_debug("KGP connection from %s: no handshake in %u ms",
		    c->addr, c->handshake_ms);
		kgp_server_waiting_free(c);
		return;
	}
	event_free(c->first);
	c->first = NULL;
	TAILQ_REMOVE(&kgp_waiting, c, entry);
	TAILQ_INSERT_TAIL(&env->clients, c, entry);
	if ((io = kgp_tls_accept(env->tls, fd)) == NULL) {
		log_warnx("KGP connection from %s: cannot start TLS: %s",
		    c->addr, tls_error(env->tls) ? tls_error(env->tls) :
		    "out of memory");
		goto fail;
	}
	spent = mono_ms() - c->since_ms;
	memset(&params, 0, sizeof(params));
	params.role = KGP_ROLE_SERVER;
	params.window = KGP_DEFAULT_WINDOW;
	params.max_streams = KGP_DEFAULT_MAXSTREAMS;
	params.ping_ms = KGP_SERVER_PING_MS;
	params.max_missed = env->max_missed;
	if (strcmp(env->kgp_congestion, "default") != 0)
		params.congestion = env->kgp_congestion;
	params.handshake_ms = spent + KGP_SERVER_HANDSHAKE_MIN_MS >
	    c->handshake_ms ? KGP_SERVER_HANDSHAKE_MIN_MS :
	    c->handshake_ms - spent;
	params.grace_ms = env->grace * 1000;
	if ((c->conn = kgp_conn_new(env->base, fd, io, &params,
	    &kgp_server_callbacks, c)) == NULL) {
		log_warnx("KGP connection from %s: cannot set it up",
		    c->addr);
		kgp_tls_free(io);
		goto fail;
	}
	c->fd = -1;	/* the engine's now */
	log_debug("KGP connection from %s", c->addr);
	return;
 fail:
	TAILQ_REMOVE(&env->clients, c, entry);
	admit_del(&c->adm);
	close(fd);
	free(c);
}

/*
 * Closed for a newer connection, or for a descriptor: at once, so that
 * its descriptor is free when this returns.
 */
static void
kgp_server_evict(struct admit_ent *e, void *arg)
{
	struct kgp_client	*c = arg;

	log_debug("KGP connection from %s closed before its HELLO for newer "
	    "ones", c->addr);
	if (c->conn == NULL) {
		kgp_server_waiting_free(c);
		return;
	}
	TAILQ_REMOVE(&env->clients, c, entry);
	kgp_server_retire(c);
	kgp_conn_free(c->conn);
	kgp_server_unhold(c, KGP_HOLD_NONE);
	free(c);
}

static int
kgp_server_hello(struct kgp_conn *conn, const struct kgp_hello *hello,
    void *arg)
{
	struct kgp_client	*c = arg, *old, *tmp;
	struct tunnel		*t;
	size_t			 len;
	int			 ok, rc;

	if (hello->node) {
		/* another node, for the streams of its browsers */
		if ((rc = nodelink_check(c->addr, hello->tunnel_id,
		    hello->secret, sizeof(hello->secret))) != 0)
			return (rc);
		strlcpy(c->node, hello->tunnel_id, sizeof(c->node));
		kgp_server_proven(c);
		return (0);
	}
	if (!tunnel_id_valid(hello->tunnel_id) ||
	    (t = tunnel_find(hello->tunnel_id)) == NULL) {
		/*
		 * A cluster: made through another node a moment ago, and
		 * not here yet (NOTIFY): the parent reads it now.
		 */
		if (env->cluster && tunnel_id_valid(hello->tunnel_id) &&
		    c->hold == KGP_HOLD_NONE)
			return (kgp_server_hold(c, hello->tunnel_id));
		if (c->hold == KGP_HOLD_READ) {
			/* the client tries again */
			log_info("KGP connection from %s: tunnel %s not known "
			    "here after %d ms", c->addr, c->hold_id,
			    KGP_HOLD_MS);
			return (KGP_E_SHUTDOWN);
		}
		log_info("KGP connection from %s: unknown tunnel", c->addr);
		return (KGP_E_AUTH);
	}
	len = strnlen(hello->secret, sizeof(hello->secret));
	ok = len == TUNNEL_SECRET_LEN &&
	    timingsafe_bcmp(hello->secret, t->secret, TUNNEL_SECRET_LEN) == 0;
	if (!ok) {
		log_info("KGP connection from %s: tunnel %s: wrong secret",
		    c->addr, t->id);
		return (KGP_E_AUTH);
	}
	if (t->status != TUNNEL_RUNNING) {
		log_info("KGP connection from %s: tunnel %s is %s", c->addr,
		    t->id, tunnel_status_name(t->status));
		return (KGP_E_TERMINATED);
	}
	if ((old = tunnel_session(t, hello->session)) != NULL) {
		/* the client comes back for its session */
		strlcpy(old->addr, c->addr, sizeof(old->addr));
		kgp_conn_adopt(conn, old->conn);
		kgp_server_proven(c);
		return (0);
	}
	/* a new session for an index replaces the client's old one */
	TAILQ_FOREACH_SAFE(old, &t->links, tentry, tmp)
		if (old->index == hello->conn_index) {
			log_info("tunnel %s: connection %u from %s replaced "
			    "by a new session from %s", t->id, old->index,
			    old->addr, c->addr);
			kgp_conn_close(old->conn, KGP_E_REPLACED,
			    "replaced by a newer connection");
		}
	strlcpy(c->tunnel_id, t->id, sizeof(c->tunnel_id));
	c->index = hello->conn_index;
	kgp_server_proven(c);
	return (0);
}

/*
 * The HELLO of c names tunnel id, which this node of a cluster does not
 * know: it waits (KGP_HOLD_MS at most) while the parent reads that
 * tunnel from the database, once for all the connections that wait for
 * it while the read is asked; kgp_server_held() answers it.  The peer
 * has proven nothing yet, and each id it makes up costs the database a
 * read: KGP_HOLD_MAX HELLOs wait at once, and as many reads are asked
 * and not yet done; beyond either, the HELLO is told to try again at
 * once.
 */
static int
kgp_server_hold(struct kgp_client *c, const char *id)
{
	struct srv_tunnel_ref	 ref;
	size_t			 i;

	for (i = 0; i < kgp_nasked; i++)
		if (strcmp(kgp_asked[i], id) == 0)
			break;
	if (kgp_nheld >= KGP_HOLD_MAX ||
	    (i == kgp_nasked && kgp_nasked >= KGP_HOLD_MAX)) {
		kgp_server_hold_full(c, id);
		return (KGP_E_SHUTDOWN);
	}
	if (c->hold_ev == NULL && (c->hold_ev = evtimer_new(env->base,
	    kgp_server_hold_end, c)) == NULL) {
		log_warnx("%s: evtimer_new", __func__);
		return (KGP_E_SHUTDOWN);
	}
	strlcpy(c->hold_id, id, sizeof(c->hold_id));
	timer_add(c->hold_ev, 0, KGP_HOLD_MS * 1000);
	log_debug("KGP connection from %s: tunnel %s not known here yet: "
	    "its HELLO waits", c->addr, id);
	c->hold = KGP_HOLD_WAIT;
	TAILQ_INSERT_TAIL(&kgp_held, c, hentry);
	kgp_nheld++;
	if (i < kgp_nasked)
		return (KGP_HELLO_HOLD);
	strlcpy(kgp_asked[kgp_nasked++], id, sizeof(kgp_asked[0]));
	kgp_hold_asks++;
	memset(&ref, 0, sizeof(ref));
	strlcpy(ref.id, id, sizeof(ref.id));
	worker_send(IMSG_SRV_TUNNEL_ASK, &ref, sizeof(ref));
	return (KGP_HELLO_HOLD);
}

/*
 * c's HELLO cannot wait: KGP_HOLD_MAX are held, or as many reads asked.
 * Counted for /metrics; one line every KGP_HOLD_LOG_SEC at most.
 */
static void
kgp_server_hold_full(struct kgp_client *c, const char *id)
{
	int64_t	 now = mono_ms();

	kgp_hold_refused++;
	kgp_hold_unlogged++;
	log_debug("KGP connection from %s: tunnel %s not known here, %zu "
	    "HELLOs wait and %zu reads are asked: try again", c->addr, id,
	    kgp_nheld, kgp_nasked);
	if (kgp_hold_logged != 0 &&
	    now - kgp_hold_logged < KGP_HOLD_LOG_SEC * 1000)
		return;
	log_warnx("KGP: %llu HELLO%s for tunnels not known here told to try "
	    "again: %zu wait and %zu reads are asked (at most %d)",
	    (unsigned long long)kgp_hold_unlogged,
	    kgp_hold_unlogged == 1 ? "" : "s", kgp_nheld, kgp_nasked,
	    KGP_HOLD_MAX);
	kgp_hold_logged = now;
	kgp_hold_unlogged = 0;
}

/* The parent's read of tunnel id is done: it may be asked again. */
void
kgp_server_asked(const char *id)
{
	size_t	 i;

	for (i = 0; i < kgp_nasked; i++)
		if (strcmp(kgp_asked[i], id) == 0) {
			kgp_nasked--;
			if (i != kgp_nasked)
				memcpy(kgp_asked[i], kgp_asked[kgp_nasked],
				    sizeof(kgp_asked[0]));
			return;
		}
}

/* KGP_HOLD_MS is up: the HELLO is answered with what this node knows. */
static void
kgp_server_hold_end(int fd, short ev, void *arg)
{
	struct kgp_client	*c = arg;

	kgp_server_unhold(c, KGP_HOLD_READ);
	kgp_conn_hello_again(c->conn);
}

/*
 * Tunnel id was added (found), or the database has no such tunnel: the
 * HELLOs that wait for it are answered.
 */
void
kgp_server_held(const char *id, int found)
{
	struct kgp_client	*c;

	/* an answer may free any of them: from the start each time */
	for (;;) {
		TAILQ_FOREACH(c, &kgp_held, hentry)
			if (strcmp(c->hold_id, id) == 0)
				break;
		if (c == NULL)
			return;
		kgp_server_unhold(c, found ? KGP_HOLD_READ : KGP_HOLD_GONE);
		kgp_conn_hello_again(c->conn);
	}
}

/* c's HELLO waits no longer: hold says why (KGP_HOLD_*). */
static void
kgp_server_unhold(struct kgp_client *c, int hold)
{
	if (c->hold == KGP_HOLD_WAIT) {
		TAILQ_REMOVE(&kgp_held, c, hentry);
		kgp_nheld--;
		evtimer_del(c->hold_ev);
	}
	c->hold = hold;
	if (hold == KGP_HOLD_NONE && c->hold_ev != NULL) {
		event_free(c->hold_ev);
		c->hold_ev = NULL;
	}
}

/* The HELLO is taken: no longer waiting; its address is known good. */
static void
kgp_server_proven(struct kgp_client *c)
{
	admit_del(&c->adm);
	admit_trust(kgp_admit, (struct sockaddr *)&c->ss);
}

static void
kgp_server_up(struct kgp_conn *conn, void *arg)
{
	struct kgp_client	*c = arg;
	struct kgp_conn_stats	 st;
	struct tunnel		*t;

	if (c->node[0] != '\0') {
		log_info("node %s: link from %s up", c->node, c->addr);
		return;
	}
	if ((t = c->tunnel) != NULL) {
		kgp_conn_stats(conn, &st);
		log_info("tunnel %s: connection %u resumed from %s, %llu "
		    "bytes sent again", t->id, c->index, c->addr,
		    (unsigned long long)st.last_rtx);
		tunnel_report(t, NULL);
		return;
	}
	if (c->tunnel_id[0] == '\0' ||
	    (t = tunnel_find(c->tunnel_id)) == NULL ||
	    t->status != TUNNEL_RUNNING) {
		kgp_conn_close(conn, KGP_E_TERMINATED, "tunnel terminated");
		return;
	}
	retired.sessions_total++;
	tunnel_bind(t, c);
}

static void
kgp_server_broken(struct kgp_conn *conn, int code, const char *reason,
    void *arg)
{
	struct kgp_client	*c = arg;
	char			 text[200];

	log_sanitize(reason ? reason : "", text, sizeof(text));
	if (c->tunnel != NULL) {
		log_info("tunnel %s: connection %u lost: %s; keeping it for "
		    "%d s", c->tunnel->id, c->index, text, env->grace);
		tunnel_report(c->tunnel, NULL);
	}
}

static void
kgp_server_down(struct kgp_conn *conn, int code, const char *reason,
    void *arg)
{
	struct kgp_client	*c = arg;
	char			 why[256], text[200];

	/* the reason may be the peer's text */
	log_sanitize(reason ? reason : "", text, sizeof(text));
	snprintf(why, sizeof(why), "%s%s%s", kgp_code_name(code),
	    *text ? ": " : "", text);
	if (c->tunnel != NULL)
		tunnel_unbind(c->tunnel, c, code, why);
	else if (c->node[0] != '\0')
		log_info("node %s: link from %s closed: %s", c->node,
		    c->addr, why);
	else
		log_debug("KGP connection from %s closed: %s", c->addr, why);
	admit_del(&c->adm);
	TAILQ_REMOVE(&env->clients, c, entry);
	kgp_server_retire(c);
	kgp_conn_free(conn);
	kgp_server_unhold(c, KGP_HOLD_NONE);
	free(c);
	kgp_server_shutdown_check();
}

/*
 * Node c->node opened stream id on its node link (nodelink.c); meta is
 * "TUNNEL-ID browser".  Its in-process end, local, goes to the tunnel's
 * entry, as if the browser had come here, which splices it onto a
 * stream of the tunnel's client (no socket between them); or -1 with
 * the reason.
 */
static int
kgp_server_node_stream(struct kgp_conn *conn, uint32_t id, const char *meta,
    struct bufferevent *local, uint16_t *code, char *reason, size_t rlen,
    void *arg)
{
	struct kgp_client	*c = arg;
	struct tunnel		*t;
	char			 tid[TUNNEL_ID_LEN + 1];

	*code = KGP_E_REFUSED;
	if (c->node[0] == '\0') {
		strlcpy(reason, "not a node link", rlen);
		return (-1);
	}
	if (strlen(meta) < TUNNEL_ID_LEN + 1 || meta[TUNNEL_ID_LEN] != ' ') {
		log_info("node %s: a stream that names no tunnel, refused",
		    c->node);
		strlcpy(reason, "no tunnel named", rlen);
		return (-1);
	}
	memcpy(tid, meta, TUNNEL_ID_LEN);
	tid[TUNNEL_ID_LEN] = '\0';
	if (!tunnel_id_valid(tid) || (t = tunnel_find(tid)) == NULL ||
	    t->status != TUNNEL_RUNNING || t->proxy == NULL) {
		log_info("node %s: a stream for unknown tunnel %s, refused",
		    c->node, tunnel_id_valid(tid) ? tid : "(not an id)");
		strlcpy(reason, "unknown tunnel", rlen);
		return (-1);
	}
	if (route_link(t) == NULL) {
		log_info("node %s: a stream for tunnel %s, whose client is "
		    "not here, refused", c->node, t->id);
		strlcpy(reason, "no client session here", rlen);
		return (-1);
	}
	if (entry_from_node(t, local, meta + TUNNEL_ID_LEN + 1) == -1) {
		*code = KGP_E_INTERNAL;
		strlcpy(reason, "out of memory", rlen);
		return (-1);
	}
	return (0);
}

/* A session's streams and bytes, into the totals before it goes. */
static void
kgp_server_retire(struct kgp_client *c)
{
	struct kgp_conn_stats	 st;

	if (c->conn == NULL)
		return;
	kgp_conn_stats(c->conn, &st);
	retired.streams_total += st.streams_total;
	retired.bytes_in += st.bytes_in;
	retired.bytes_out += st.bytes_out;
}

/*
 * The figures of /metrics (metrics.c, in the REST worker, gets them
 * every METRICS_PUSH_SEC): the sessions bound to a tunnel, their streams
 * and bytes, those of the sessions gone included.
 */
void
kgp_server_stats(struct srv_kgp_stats *out)
{
	struct kgp_client	*c;
	struct kgp_conn_stats	 st;

	*out = retired;
	out->hold_asks = kgp_hold_asks;
	out->hold_refused = kgp_hold_refused;
	TAILQ_FOREACH(c, &env->clients, entry) {
		if (c->conn == NULL)
			continue;
		kgp_conn_stats(c->conn, &st);
		out->streams_total += st.streams_total;
		out->bytes_in += st.bytes_in;
		out->bytes_out += st.bytes_out;
		if (c->tunnel == NULL)
			continue;
		out->sessions++;
		if (st.up)
			out->sessions_up++;
		out->streams_open += st.streams_open;
	}
}
