/*
 * The tunnel connections.  The controller opens each TCP connection to
 * the KGP endpoint and hands it to kgpd with its index; kgpd speaks TLS
 * and KGP on it and says when it is up or lost.  Every index has its own
 * connect, timeout, backoff and reconnect timer, so that one connection
 * that breaks is brought back while the others carry on.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "controller.h"
#include "log.h"

#define CONNECT_TIMEOUT_SEC	10
#define RECONNECT_FIRST_MS	250	/* first retry after a lost link */
#define RECONNECT_MAX_MS	(30 * 1000)
#define EARLY_FAILURES_MAX	5	/* kgpd failures before the first up */
#ifndef GIVEUP_SEC
#define GIVEUP_SEC		600	/* none up for that long: exit */
#endif

static void	 link_start(struct link *);
static void	 link_try(struct link *, const char *);
static void	 link_connect_cb(int, short, void *);
static void	 link_cancel(struct link *);
static void	 link_failed(struct link *, const char *);
static void	 link_schedule(struct link *);
static void	 link_reconnect_cb(int, short, void *);
static void	 link_giveup_cb(int, short, void *);
static void	 link_update_state(void);
static struct link *link_get(uint32_t, const char *);

void
link_init(void)
{
	struct link	*l;
	uint32_t	 i;

	sc_env->nlinks = sc_env->conf->tunnel_connections;
	if (sc_env->nlinks < 1 || sc_env->nlinks > SC_MAX_CONNECTIONS)
		fatalx("%s: %u connections", __func__, sc_env->nlinks);
	for (i = 0; i < SC_MAX_CONNECTIONS; i++) {
		l = &sc_env->links[i];
		memset(l, 0, sizeof(*l));
		l->index = i;
		l->fd = -1;
		l->backoff_ms = RECONNECT_FIRST_MS;
		if ((l->reconnect_ev = evtimer_new(sc_env->base,
		    link_reconnect_cb, l)) == NULL)
			fatalx("%s: evtimer_new", __func__);
	}
	if ((sc_env->giveup_ev = evtimer_new(sc_env->base, link_giveup_cb,
	    NULL)) == NULL)
		fatalx("%s: evtimer_new", __func__);
}

/* The index of a message from kgpd: one we use, or kgpd is broken. */
static struct link *
link_get(uint32_t index, const char *what)
{
	if (index >= sc_env->nlinks)
		fatalx("kgpd: %s for connection %u of %u", what, index,
		    sc_env->nlinks);
	return (&sc_env->links[index]);
}

/* Every connection from scratch: the first start, or a new kgpd. */
void
link_start_all(void)
{
	uint32_t	 i;

	for (i = 0; i < sc_env->nlinks; i++)
		link_start(&sc_env->links[i]);
}

void
link_cancel_all(void)
{
	uint32_t	 i;

	for (i = 0; i < SC_MAX_CONNECTIONS; i++) {
		link_cancel(&sc_env->links[i]);
		sc_env->links[i].state = LINK_IDLE;
	}
	if (sc_env->giveup_ev != NULL)
		evtimer_del(sc_env->giveup_ev);
}

/* Open a TCP connection to the KGP endpoint; kgpd gets the socket. */
static void
link_start(struct link *l)
{
	struct addrinfo	 hints;
	char		 port[16];
	int		 error;

	if (sc_env->state == SC_STOPPING || !child_ready(CHILD_KGPD))
		return;
	link_cancel(l);
	l->state = LINK_CONNECTING;
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	snprintf(port, sizeof(port), "%d", sc_env->tunnel.ssh_port);
	log_debug("connection %u: connecting to %s:%s", l->index,
	    sc_env->tunnel.host, port);
	if ((error = getaddrinfo(sc_env->tunnel.host, port, &hints,
	    &l->ai_list)) != 0) {
		l->ai_list = NULL;
		link_failed(l, gai_strerror(error));
		return;
	}
	l->ai_cur = l->ai_list;
	link_try(l, "no address");
}

/* The next address of the list, or a failure with the last error. */
static void
link_try(struct link *l, const char *lasterr)
{
	struct addrinfo	*ai;
	int		 fd;

	for (; (ai = l->ai_cur) != NULL; l->ai_cur = ai->ai_next) {
		if ((fd = socket(ai->ai_family, ai->ai_socktype |
		    SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol)) == -1) {
			lasterr = strerror(errno);
			continue;
		}
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == -1 &&
		    errno != EINPROGRESS) {
			lasterr = strerror(errno);
			close(fd);
			continue;
		}
		l->fd = fd;
		if ((l->conn_ev = event_new(sc_env->base, fd, EV_WRITE,
		    link_connect_cb, l)) == NULL)
			fatalx("%s: event_new", __func__);
		event_add(l->conn_ev,
		    &(struct timeval){ CONNECT_TIMEOUT_SEC, 0 });
		return;
	}
	link_failed(l, lasterr);
}

static void
link_connect_cb(int fd, short event, void *arg)
{
	struct link	*l = arg;
	socklen_t	 len;
	uint32_t	 index = l->index;
	int		 error = 0, on = 1;
	const char	*why;

	event_free(l->conn_ev);
	l->conn_ev = NULL;
	if (event & EV_TIMEOUT)
		why = "connection timed out";
	else {
		len = sizeof(error);
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &len) == -1)
			error = errno;
		why = error ? strerror(error) : NULL;
	}
	if (why != NULL) {
		close(fd);
		l->fd = -1;
		l->ai_cur = l->ai_cur->ai_next;
		link_try(l, why);
		return;
	}
	l->fd = -1;
	freeaddrinfo(l->ai_list);
	l->ai_list = l->ai_cur = NULL;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
	if (!child_ready(CHILD_KGPD)) {
		/* kgpd went away meanwhile; its hello starts over */
		close(fd);
		l->state = LINK_IDLE;
		return;
	}
	log_debug("connection %u: connected to %s:%d, handing the socket "
	    "to kgpd", index, sc_env->tunnel.host, sc_env->tunnel.ssh_port);
	l->state = LINK_HANDSHAKE;
	child_compose(&children[CHILD_KGPD], IMSG_KGP_CONNECT, fd, &index,
	    sizeof(index));
	if (sc_env->state == SC_STARTING)
		sc_env->state = SC_CONNECTING;
}

/* Stop what is under way for this connection (not kgpd's side). */
static void
link_cancel(struct link *l)
{
	if (l->conn_ev != NULL) {
		event_free(l->conn_ev);
		l->conn_ev = NULL;
	}
	if (l->fd != -1) {
		close(l->fd);
		l->fd = -1;
	}
	if (l->ai_list != NULL) {
		freeaddrinfo(l->ai_list);
		l->ai_list = l->ai_cur = NULL;
	}
	if (l->reconnect_ev != NULL)
		evtimer_del(l->reconnect_ev);
}

static void
link_failed(struct link *l, const char *why)
{
	if (l->ai_list != NULL) {
		freeaddrinfo(l->ai_list);
		l->ai_list = l->ai_cur = NULL;
	}
	if (!sc_env->ever_up) {
		sc_error("cannot connect to the tunnel server at %s:%d: %s",
		    sc_env->tunnel.host, sc_env->tunnel.ssh_port, why);
		sc_shutdown(1);
		return;
	}
	log_warnx("connection %u: cannot connect to the tunnel server at "
	    "%s:%d: %s", l->index, sc_env->tunnel.host,
	    sc_env->tunnel.ssh_port, why);
	link_schedule(l);
}

/*
 * The next attempt: quick at first (a server that restarts is back in a
 * moment), then doubling up to the cap, each delay with up to a quarter
 * of random jitter either way so that many connections do not come back
 * at the same instant.
 */
static void
link_schedule(struct link *l)
{
	long	 ms;

	l->state = LINK_WAITING;
	ms = l->backoff_ms - l->backoff_ms / 4 +
	    (long)arc4random_uniform(l->backoff_ms / 2 + 1);
	if (ms > RECONNECT_MAX_MS)
		ms = RECONNECT_MAX_MS;
	log_info("Reconnecting in %ld.%02ld seconds (connection %u)",
	    ms / 1000, ms % 1000 / 10, l->index);
	timer_add(l->reconnect_ev, ms / 1000, ms % 1000 * 1000);
	l->backoff_ms *= 2;
	if (l->backoff_ms > RECONNECT_MAX_MS)
		l->backoff_ms = RECONNECT_MAX_MS;
	link_update_state();
}

static void
link_reconnect_cb(int fd, short event, void *arg)
{
	link_start(arg);
}

/*
 * The tunnel's state from its connections: up while one is; after the
 * first up, with none up, reconnecting, bounded by GIVEUP_SEC.
 */
static void
link_update_state(void)
{
	uint32_t	 i;

	if (sc_env->state == SC_STOPPING)
		return;
	for (i = 0; i < sc_env->nlinks; i++) {
		if (sc_env->links[i].state == LINK_UP) {
			sc_env->state = SC_UP;
			evtimer_del(sc_env->giveup_ev);
			return;
		}
	}
	if (!sc_env->ever_up) {
		if (sc_env->state != SC_STARTING)
			sc_env->state = SC_CONNECTING;
		return;
	}
	sc_env->state = SC_RECONNECTING;
	if (!evtimer_pending(sc_env->giveup_ev, NULL))
		timer_add(sc_env->giveup_ev, GIVEUP_SEC, 0);
}

static void
link_giveup_cb(int fd, short event, void *arg)
{
	if (sc_env->state != SC_RECONNECTING)
		return;
	sc_error("no tunnel connection for %d s", GIVEUP_SEC);
	sc_shutdown(1);
}

/* kgpd: IMSG_KGP_UP */
void
link_up(const struct kgp_link_event *ev)
{
	struct link	*l = link_get(ev->index, "IMSG_KGP_UP");
	struct timespec	 now;
	long long	 ms;

	if (sc_env->state == SC_STOPPING)
		return;
	link_cancel(l);
	if (!l->ever_up)
		log_info("Tunnel connection %u up", l->index);
	else if (ev->resumed) {
		clock_gettime(CLOCK_MONOTONIC, &now);
		ms = (now.tv_sec - l->lost.tv_sec) * 1000LL +
		    (now.tv_nsec - l->lost.tv_nsec) / 1000000;
		if (l->lost.tv_sec == 0 || ms < 0)
			ms = 0;
		log_info("Tunnel connection %u resumed after %lld.%02lld s, "
		    "%llu bytes retransmitted", l->index, ms / 1000,
		    ms % 1000 / 10, (unsigned long long)ev->retransmitted);
	} else
		log_info("Tunnel connection %u re-established", l->index);
	l->state = LINK_UP;
	l->ever_up = 1;
	l->backoff_ms = RECONNECT_FIRST_MS;
	l->lost.tv_sec = l->lost.tv_nsec = 0;
	sc_env->early_failures = 0;
	link_update_state();
	if (!sc_env->ever_up) {
		sc_env->ever_up = 1;
		sc_console(LOG_INFO,
		    "Sauce Connect is up, you may start your tests.");
		sc_touch_readyfile();
	}
}

/* kgpd: IMSG_KGP_DOWN.  Resumable or not, the index is reconnected. */
void
link_down(const struct kgp_link_event *ev)
{
	struct link	*l = link_get(ev->index, "IMSG_KGP_DOWN");
	int		 was_up = l->state == LINK_UP;

	if (sc_env->state == SC_STOPPING) {
		log_debug("tunnel connection %u closed: %s", l->index,
		    ev->reason);
		return;
	}
	log_info("Tunnel connection %u lost: %s%s", l->index, ev->reason,
	    ev->resumable ? "; resuming" : "");
	if (l->state == LINK_CONNECTING || l->state == LINK_WAITING) {
		/* already on its way back */
		return;
	}
	if (was_up) {
		sc_env->reconnects++;
		clock_gettime(CLOCK_MONOTONIC, &l->lost);
	}
	if (!sc_env->ever_up &&
	    ++sc_env->early_failures >= EARLY_FAILURES_MAX) {
		sc_error("cannot establish the tunnel connection: %s",
		    ev->reason);
		sc_shutdown(1);
		return;
	}
	link_schedule(l);
}

/*
 * kgpd is gone, and every connection and session with it: count the
 * connections that were up as breaks; the new kgpd's hello reconnects
 * them all (fresh sessions).
 */
void
link_kgpd_died(void)
{
	struct link	*l;
	uint32_t	 i;

	for (i = 0; i < sc_env->nlinks; i++) {
		l = &sc_env->links[i];
		if (l->state == LINK_UP) {
			sc_env->reconnects++;
			clock_gettime(CLOCK_MONOTONIC, &l->lost);
		}
		link_cancel(l);
		l->state = LINK_IDLE;
	}
	sc_env->nlink_stats = 0;
	link_update_state();
}

/*
 * Every connection as sc-ctl shows it: kgpd's figures, with the state
 * "connecting" while the controller is connecting that index or waiting
 * to.  Returns the number of entries.
 */
uint32_t
link_status(struct sc_link_stats *ls)
{
	struct link	*l;
	uint32_t	 i;

	for (i = 0; i < sc_env->nlinks; i++) {
		l = &sc_env->links[i];
		if (i < sc_env->nlink_stats)
			ls[i] = sc_env->link_stats[i];
		else {
			memset(&ls[i], 0, sizeof(ls[i]));
			ls[i].state = SC_LINK_NONE;
		}
		ls[i].index = i;
		if (ls[i].state != SC_LINK_UP &&
		    (l->state == LINK_CONNECTING ||
		    l->state == LINK_WAITING || l->state == LINK_HANDSHAKE))
			ls[i].state = SC_LINK_CONNECTING;
	}
	return (sc_env->nlinks);
}

/*
 * The server ended the tunnel for good (it is gone, or its connections
 * are refused).  Ask the REST API what became of the tunnel, to tell
 * the user why, then stop.
 */
void
link_fatal(const char *why)
{
	struct rest_tunnel	 t;
	char			 err[1024];
	int			 ret;

	rest_set_timeouts(STOP_CONNECT_SEC, STOP_REQUEST_SEC);
	ret = rest_get(sc_env->tunnel.id, &t, err, sizeof(err));
	if (ret == REST_ENOTFOUND) {
		sc_error("the tunnel server no longer knows tunnel %s (was it "
		    "restarted?): %s", sc_env->tunnel.id, why);
		sc_env->tunnel_created = 0;
	} else if (ret == REST_OK && (strcmp(t.status, "terminated") == 0 ||
	    strcmp(t.status, "halting") == 0)) {
		if (t.user_shutdown)
			sc_error("tunnel %s was terminated on the server: it "
			    "was deleted, or removed by another sc started "
			    "with the same tunnel name (%s)",
			    sc_env->tunnel.id, why);
		else
			sc_error("tunnel %s was terminated on the server: its "
			    "link was down for longer than the server's grace "
			    "period (%s)", sc_env->tunnel.id, why);
		sc_env->tunnel_created = 0;
	} else
		sc_error("the tunnel server refused the tunnel connection: %s",
		    why);
	sc_shutdown(1);
}
