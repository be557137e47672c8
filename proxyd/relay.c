/*
 * The streams: each one is served like an accepted client connection of
 * a non-caching HTTP/1.1 forward proxy.  Here: a stream kgpd hands over,
 * its end (at once, or once its last bytes are out and it has lingered),
 * and the events of its two sockets, which go by the stream's mode to
 * the exchange (relay_http.c) or to the tunnels and moves
 * (relay_move.c).
 *
 * The top of the relay (relay_int.h has its files and the modes of a
 * stream): it calls the others, which call back only to end a stream
 * (stream_close, stream_close_after_flush); relay_up.c gives the sockets
 * it makes this file's app_read, app_write and app_event.
 */
#include <sys/types.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/dns.h>
#include <event2/event.h>
#include <event2/util.h>

#include "http.h"
#include "listener.h"
#include "log.h"
#include "proxyd.h"
#include "relay_int.h"

static struct streamlist	 streams = TAILQ_HEAD_INITIALIZER(streams);

static void	 stream_free_cb(evutil_socket_t, short, void *);
static void	 stream_linger(struct stream *);
static void	 stream_count_in(struct evbuffer *,
		    const struct evbuffer_cb_info *, void *);
static void	 stream_count_out(struct evbuffer *,
		    const struct evbuffer_cb_info *, void *);
static void	 client_read(struct bufferevent *, void *);
static void	 client_write(struct bufferevent *, void *);
static void	 client_event(struct bufferevent *, short, void *);
static void	 relay_dns(const struct proxy_config *);
static void	 stream_open(int, uint32_t, uint64_t, const char *, int,
		    uint32_t);
static void	 relay_accept(int, void *);

void
relay_init(void)
{
	if (up_tls_init() == -1)
		fatalx("TLS to the apps: OpenSSL's initialisation");
	if ((env->dns = evdns_base_new(env->base,
	    EVDNS_BASE_INITIALIZE_NAMESERVERS)) == NULL)
		fatalx("evdns_base_new");
	/* also read by the resolv.conf parser; make sure of it */
	if (evdns_base_load_hosts(env->dns, "/etc/hosts") != 0)
		log_debug("%s: /etc/hosts not loaded", __func__);
	/*
	 * A name server that does not answer costs a name at most
	 * PROXYD_DNS_TIMEOUT_MS (up_timeout), whatever resolv.conf says;
	 * within it a lost query is sent again.
	 */
	if (evdns_base_set_option(env->dns, "timeout:",
	    PROXYD_DNS_TRY_SEC) != 0 ||
	    evdns_base_set_option(env->dns, "attempts:",
	    PROXYD_DNS_TRIES) != 0)
		log_warnx("%s: cannot set the resolver's timeout", __func__);
}

void
relay_config(const struct proxy_config *conf)
{
	env->connect_timeout_ms = conf->connect_timeout_ms ?
	    conf->connect_timeout_ms : PROXYD_CONNECT_TIMEOUT_MS;
	env->idle_timeout_sec = conf->idle_timeout_sec;
	env->tls_timeout_ms = conf->tls_timeout_ms ? conf->tls_timeout_ms :
	    PROXYD_TLS_TIMEOUT_MS;
	env->header_timeout_ms = conf->header_timeout_ms;
	env->idle_conn_timeout_ms = conf->idle_conn_timeout_ms;
	env->hand_off = !(conf->flags & PROXY_F_NOMOVE);
	if (up_tls_config(conf->flags & PROXY_F_VERIFY) == -1)
		fatalx("no TLS configuration for https:// apps");
	proxyopt_defaults(&env->po, (conf->flags & PROXY_F_LOCAL_DENY) ?
	    PO_LOCALHOST_DENY : PO_LOCALHOST_ALLOW);
	env->local_via = (conf->flags & PROXY_F_LOCAL_VIA) != 0;
	env->pac = (conf->flags & PROXY_F_PAC) != 0;
	env->configured = 1;
	relay_dns(conf);
}

/*
 * The name servers of --dns instead of the system's: one resolver for
 * each, asked in order (up_open), or one for all, which evdns asks in
 * turn (PROXY_F_DNS_RR).  Neither reads resolv.conf or the hosts file
 * (proxyd's sandbox is on); localhost and addresses need no resolver.
 */
static void
relay_dns(const struct proxy_config *conf)
{
	char			 servers[SC_DNS_LEN], tmo[16], tries[16];
	char			*p, *s;
	struct evdns_base	*b = NULL;
	int			 rr = conf->flags & PROXY_F_DNS_RR, n = 0;

	if (conf->dns_servers[0] == '\0')
		return;
	env->dns_timeout_ms = conf->dns_timeout_ms ? conf->dns_timeout_ms :
	    PROXYD_DNS_TIMEOUT_MS;
	snprintf(tmo, sizeof(tmo), "%u.%03u", env->dns_timeout_ms / 1000,
	    env->dns_timeout_ms % 1000);
	strlcpy(servers, conf->dns_servers, sizeof(servers));
	for (p = servers; (s = strsep(&p, ",")) != NULL &&
	    env->ndns < PROXYOPT_DNS_MAX;) {
		if (*s == '\0')
			continue;
		if (b == NULL && (b = evdns_base_new(env->base, 0)) == NULL)
			fatalx("evdns_base_new");
		if (evdns_base_nameserver_ip_add(b, s) != 0) {
			log_warnx("bad name server \"%s\"", s);
			continue;
		}
		n++;
		strlcpy(env->dns_name[env->ndns], s, sizeof(env->dns_name[0]));
		if (!rr) {
			/* one try: the next server is the retry */
			if (evdns_base_set_option(b, "timeout:", tmo) != 0 ||
			    evdns_base_set_option(b, "attempts:", "1") != 0)
				log_warnx("%s: cannot set the timeout", __func__);
			env->dnsb[env->ndns++] = b;
			b = NULL;
		}
	}
	if (rr && b != NULL) {
		snprintf(tries, sizeof(tries), "%d", n);
		if (evdns_base_set_option(b, "timeout:", tmo) != 0 ||
		    evdns_base_set_option(b, "attempts:", tries) != 0)
			log_warnx("%s: cannot set the timeout", __func__);
		env->dnsb[0] = b;
		env->ndns = 1;
		strlcpy(env->dns_name[0], conf->dns_servers,
		    sizeof(env->dns_name[0]));
		env->dns_timeout_ms *= n;
	} else if (b != NULL)
		evdns_base_free(b, 0);
	if (env->ndns == 0)
		log_warnx("no usable name server in \"%s\"",
		    conf->dns_servers);
	else
		log_debug("name servers: %s%s", conf->dns_servers,
		    rr ? " (in turn)" : "");
}

/* A value of -a, -H, -R or a network (common/proxyopt.c): 0, or -1. */
int
relay_opt(uint32_t kind, const char *text)
{
	char	 err[256];

	if (env->configured) {
		log_warnx("%s: after the configuration", __func__);
		return (-1);
	}
	if (proxyopt_add(&env->po, kind, text, err, sizeof(err)) == -1) {
		log_warnx("%s: %s", __func__, err);
		return (-1);
	}
	return (0);
}

/*
 * --scproxy-port: the controller's listening socket on 127.0.0.1.  Each
 * connection is served as a stream from the tunnel is, but all here:
 * nothing of it goes to kgpd.
 */
int
relay_listen(int fd)
{
	if (env->scproxy != NULL || set_nonblock(fd) == -1 ||
	    (env->scproxy = listener_new(env->base, fd, relay_accept,
	    NULL)) == NULL) {
		log_warnx("%s: cannot take the --scproxy-port socket",
		    __func__);
		close(fd);
		return (-1);
	}
	return (0);
}

static void
relay_accept(int fd, void *arg)
{
	struct sockaddr_storage	 ss;
	socklen_t		 len = sizeof(ss);
	char			 peer[SC_PEER_LEN], host[64];

	strlcpy(peer, "local", sizeof(peer));
	if (getpeername(fd, (struct sockaddr *)&ss, &len) == 0 &&
	    ss.ss_family == AF_INET && inet_ntop(AF_INET,
	    &((struct sockaddr_in *)&ss)->sin_addr, host, sizeof(host)) != NULL)
		snprintf(peer, sizeof(peer), "local %s:%u", host,
		    (unsigned)ntohs(((struct sockaddr_in *)&ss)->sin_port));
	stream_open(fd, ++env->local_id, 0, peer, 1, 0);
}

/*
 * sc-ctl show streams: the target of each stream of kgpd, oldest first,
 * at most SC_STREAMS_LIST, into buf (struct sc_streams, then its n
 * struct sc_stream); its length.
 */
size_t
relay_streams(void *buf, size_t len)
{
	struct sc_streams	 h;
	struct sc_stream	 st;
	struct stream		*s;
	char			*p = (char *)buf + sizeof(h);

	if (len < SC_STREAMS_MAX)
		fatalx("%s: buffer too small", __func__);
	memset(&h, 0, sizeof(h));
	TAILQ_FOREACH(s, &streams, entry) {
		if (s->local)
			continue;
		h.total++;
		if (h.n >= SC_STREAMS_LIST)
			continue;
		memset(&st, 0, sizeof(st));
		st.session = s->session;
		st.id = s->id;
		strlcpy(st.target, s->target, sizeof(st.target));
		memcpy(p + h.n++ * sizeof(st), &st, sizeof(st));
	}
	memcpy(buf, &h, sizeof(h));
	return (sizeof(h) + h.n * sizeof(st));
}

void
relay_shutdown(void)
{
	struct stream	*s, *next;
	int		 i;

	TAILQ_FOREACH_SAFE(s, &streams, entry, next)
		stream_close(s);
	pac_shutdown();
	up_tls_shutdown();
	if (env->scproxy != NULL) {
		listener_free(env->scproxy);
		env->scproxy = NULL;
	}
	for (i = 0; i < env->ndns; i++)
		evdns_base_free(env->dnsb[i], 1);
	env->ndns = 0;
	proxyopt_free(&env->po);
}

/* CA certificates (PEM) for https:// apps: a chunk, before the config. */
int
relay_ca(const void *buf, size_t len)
{
	return (up_tls_ca(buf, len));
}

/* kgpd (env->iev_kgpd[kgpd]) handed over one stream: serve it. */
void
relay_stream(int fd, uint32_t id, uint64_t session, const char *peer,
    uint32_t kgpd)
{
	stream_open(fd, id, session, peer, 0, kgpd);
}

/*
 * A connection to --scproxy-port, or a stream of kgpd (local = 0) that
 * came on the channel env->iev_kgpd[kgpd].
 */
static void
stream_open(int fd, uint32_t id, uint64_t session, const char *peer,
    int local, uint32_t kgpd)
{
	struct stream	*s;

	if (set_nonblock(fd) == -1 || set_cloexec(fd, 1) == -1) {
		log_warn("%s: stream %u", __func__, id);
		close(fd);
		return;
	}
	if ((s = calloc(1, sizeof(*s))) == NULL) {
		log_warn("%s: stream %u", __func__, id);
		close(fd);
		return;
	}
	s->id = id;
	s->session = session;
	s->local = local;
	s->kgpd = kgpd;
	if ((s->peer = strdup(peer)) == NULL) {
		log_warn("%s: stream %u", __func__, id);
		free(s);
		close(fd);
		return;
	}
	s->mode = M_HTTP;
	/* heads are big (every field's place): only HTTP streams hold them */
	if ((s->req = calloc(1, sizeof(*s->req))) == NULL ||
	    (s->resp = calloc(1, sizeof(*s->resp))) == NULL) {
		log_warn("%s", __func__);
		free(s->req);
		free(s->peer);
		free(s);
		close(fd);
		return;
	}
	http_head_init(s->req, HTTP_REQUEST);
	http_head_init(s->resp, HTTP_RESPONSE);
	s->u.state = U_NONE;
	if ((s->cbev = bufferevent_socket_new(env->base, fd,
	    BEV_OPT_CLOSE_ON_FREE)) == NULL) {
		log_warnx("%s: stream %u: out of memory", __func__, id);
		if (s->cbev != NULL)
			bufferevent_free(s->cbev);
		else
			close(fd);
		heads_free(s);
		free(s);
		return;
	}
	bufferevent_setcb(s->cbev, client_read, client_write, client_event,
	    s);
	bufferevent_setwatermark(s->cbev, EV_WRITE, RELAY_WRITE_LOW, 0);
	relay_io_size(s->cbev);
	evbuffer_add_cb(bufferevent_get_input(s->cbev), stream_count_in, s);
	evbuffer_add_cb(bufferevent_get_output(s->cbev), stream_count_out, s);
	bufferevent_enable(s->cbev, EV_READ | EV_WRITE);
	exchange_reset(s);

	TAILQ_INSERT_TAIL(&streams, s, entry);
	env->stats.streams_open++;
	env->stats.streams_total++;
	log_debug("stream %u: open (%s)", s->id, s->peer);
}

static void
stream_count_in(struct evbuffer *b, const struct evbuffer_cb_info *info,
    void *arg)
{
	struct stream	*s = arg;

	s->bytes_in += info->n_added;
	env->stats.bytes_in += info->n_added;
}

static void
stream_count_out(struct evbuffer *b, const struct evbuffer_cb_info *info,
    void *arg)
{
	struct stream	*s = arg;

	s->bytes_out += info->n_deleted;
	env->stats.bytes_out += info->n_deleted;
}

/*
 * Close everything now.  The structure itself is freed at the next turn
 * of the loop, so a caller up the stack may still look at s->mode.
 */
/* An answer of this status went to a request: counted by its class. */
void
relay_count(int status)
{
	if (status >= 100 && status < 100 * (SC_STATUS_CLASSES + 1))
		env->stats.answers[status / 100 - 1]++;
}

void
stream_close(struct stream *s)
{
	struct timeval	 tv = { 0, 0 };

	if (s->mode == M_DEAD)
		return;
	log_debug("stream %u: closed, %llu request%s, %llu bytes in, "
	    "%llu out", s->id, (unsigned long long)s->nreq,
	    s->nreq == 1 ? "" : "s", (unsigned long long)s->bytes_in,
	    (unsigned long long)s->bytes_out);
	move_end(s, 0);
	s->mode = M_DEAD;
	pac_forget(s);
	up_close(s);
	if (s->u.timer != NULL) {
		event_free(s->u.timer);
		s->u.timer = NULL;
	}
	if (s->cbev != NULL) {
		relay_drop(s, s->cbev);
		evbuffer_remove_cb(bufferevent_get_input(s->cbev),
		    stream_count_in, s);
		evbuffer_remove_cb(bufferevent_get_output(s->cbev),
		    stream_count_out, s);
		bufferevent_free(s->cbev);
		s->cbev = NULL;
	}
	heads_free(s);
	if (s->replay != NULL) {
		evbuffer_free(s->replay);
		s->replay = NULL;
	}
	TAILQ_REMOVE(&streams, s, entry);
	env->stats.streams_open--;
	if (event_base_once(env->base, -1, EV_TIMEOUT, stream_free_cb, s,
	    &tv) == -1)
		log_warnx("%s: stream %u leaked", __func__, s->id);
}

static void
stream_free_cb(evutil_socket_t fd, short event, void *arg)
{
	struct stream	*s = arg;

	free(s->peer);
	free(s->url);
	free(s->u.host);
	free(s->bound);
	free(s->url_bound);
	free(s);
}

/* Send what is queued for the client, then close. */
void
stream_close_after_flush(struct stream *s)
{
	struct timeval	 flush = { RELAY_FLUSH_SEC, 0 };

	if (s->mode == M_DEAD || s->mode == M_CLOSING)
		return;
	s->mode = M_CLOSING;
	up_close(s);
	if (s->c_shut) {
		stream_close(s);
		return;
	}
	bufferevent_setwatermark(s->cbev, EV_WRITE, 0, 0);
	bufferevent_set_timeouts(s->cbev, NULL, &flush);
	if (evbuffer_get_length(bufferevent_get_output(s->cbev)) == 0)
		stream_linger(s);
}

/*
 * All is sent: shut our side and read what the client still sends for a
 * moment, so that closing with unread bytes does not reset the
 * connection under the answer.
 */
static void
stream_linger(struct stream *s)
{
	struct timeval	 tv = { RELAY_LINGER_SEC, 0 };
	struct evbuffer	*in;

	shutdown(bufferevent_getfd(s->cbev), SHUT_WR);
	s->c_shut = 1;
	if (s->c_eof) {
		stream_close(s);
		return;
	}
	in = bufferevent_get_input(s->cbev);
	evbuffer_drain(in, evbuffer_get_length(in));
	bufferevent_set_timeouts(s->cbev, &tv, NULL);
	bufferevent_enable(s->cbev, EV_READ);
}

/*
 * The browser's side: the stream's socket, kgpd at its other end.
 */
static void
client_read(struct bufferevent *bev, void *arg)
{
	struct stream	*s = arg;
	struct evbuffer	*in = bufferevent_get_input(bev);

	switch (s->mode) {
	case M_HTTP:
		if (s->pac_wait != NULL)
			break;	/* --pac: the request waits for its proxy */
		if (s->rq_state == RQ_HEAD && s->u.move_ready && s->u.warm) {
			/* a warm-up's TLS, ready: kgpd serves the request */
			move_tls_start(s, 1);
			if (s->mode != M_HTTP)
				break;
		}
		if (s->rq_state == RQ_HEAD)
			request_head(s);
		else if (s->rq_state == RQ_BODY)
			request_pump(s);
		/* RQ_DONE: a pipelined request waits for its turn */
		break;
	case M_TUNNEL:
		if (s->u.bev != NULL)
			tunnel_move(s, s->cbev, s->u.bev);
		break;
	case M_MOVING:
		move_bytes(s, in, s->u.bev, evbuffer_get_length(in));
		break;
	case M_CLOSING:
		evbuffer_drain(in, evbuffer_get_length(in));
		break;
	case M_DEAD:
		break;
	}
	relay_stall(s->cbev, s->u.bev, &s->c_rpaused);
}

static void
client_write(struct bufferevent *bev, void *arg)
{
	struct stream	*s = arg;

	/* the other side may move bytes again */
	relay_unstall(s);

	switch (s->mode) {
	case M_HTTP:
		if (s->rs_state == RS_BODY)
			response_pump(s);
		break;
	case M_TUNNEL:
		if (s->u.bev != NULL)
			tunnel_move(s, s->u.bev, s->cbev);
		tunnel_check(s);
		break;
	case M_MOVING:
		if (!s->move_sent)
			move_send(s);
		break;
	case M_CLOSING:
		if (!s->c_shut &&
		    evbuffer_get_length(bufferevent_get_output(bev)) == 0)
			stream_linger(s);
		break;
	case M_DEAD:
		break;
	}
}

static void
client_event(struct bufferevent *bev, short what, void *arg)
{
	struct stream	*s = arg;

	if (what & (BEV_EVENT_ERROR | BEV_EVENT_TIMEOUT)) {
		if (s->mode == M_HTTP && (what & BEV_EVENT_TIMEOUT))
			log_debug("stream %u: idle timeout", s->id);
		else if (s->mode != M_CLOSING)
			log_debug("stream %u: client error: %s", s->id,
			    evutil_socket_error_to_string(
			    EVUTIL_SOCKET_ERROR()));
		stream_close(s);
		return;
	}
	if (!(what & BEV_EVENT_EOF))
		return;
	s->c_eof = 1;
	switch (s->mode) {
	case M_HTTP:
		if (s->is_connect) {
			/* gone before the tunnel was up */
			stream_close(s);
			break;
		}
		if (s->rq_state == RQ_HEAD) {
			/* between requests, or in the middle of a head */
			if (s->req->pos == 0 && evbuffer_get_length(
			    bufferevent_get_input(bev)) == 0)
				stream_close_after_flush(s);
			else
				stream_close(s);
		} else if (s->rq_state == RQ_BODY) {
			request_pump(s);
			if (s->mode == M_HTTP && s->rq_state == RQ_BODY)
				stream_close(s);
		}
		/* RQ_DONE: a half-close; answer, then close */
		break;
	case M_TUNNEL:
		tunnel_check(s);
		break;
	case M_MOVING:
		/*
		 * kgpd is done with this socket (it switched, or will say
		 * so), or the browser half-closed before the move.
		 */
		if (!s->move_sent)
			move_cancel(s);
		else if (s->switched)
			move_finish(s);
		break;
	case M_CLOSING:
		/* a half-close: the answer may still be read */
		if (s->c_shut || evbuffer_get_length(
		    bufferevent_get_output(bev)) == 0)
			stream_close(s);
		break;
	case M_DEAD:
		break;
	}
}

/*
 * The app's side: its socket, made by relay_up.c.
 */

/*
 * The way to the app is open (directly, or through a proxy): the
 * tunnel, TLS (within --http-tls-handshake-timeout), or the request.
 */
void
app_connected(struct stream *s)
{
	struct upstream	*u = &s->u;

	if (s->is_connect) {
		up_timer_stop(s);
		connect_established(s);
	} else if (u->https) {
		u->tls_wait = 1;
		up_timer_set(s, env->tls_timeout_ms);
		if (up_tls_start(s, 0) == -1)
			up_fail(s, 502, "proxyd: TLS with %s port %s: %s",
			    u->host, u->port, u->tls_err);
	} else {
		up_timer_stop(s);
		up_head_timer(s);
	}
}
void
app_read(struct bufferevent *bev, void *arg)
{
	struct stream	*s = arg;
	struct evbuffer	*in = bufferevent_get_input(bev);

	switch (s->mode) {
	case M_HTTP:
		if (s->u.vstate != VIA_NONE) {
			via_read(s);
			return;
		}
		/* a CONNECT's app that speaks first waits for the tunnel */
		if (s->is_connect)
			return;
		exchange_app_read(s);
		break;
	case M_TUNNEL:
		tunnel_move(s, bev, s->cbev);
		break;
	case M_MOVING:
		/*
		 * Read before reading stopped: it goes first.  Once the
		 * move is out nothing is read (move_send waits for an empty
		 * input), so nothing can follow the count kgpd was given.
		 */
		if (!s->move_sent)
			move_bytes(s, in, s->cbev, evbuffer_get_length(in));
		return;
	default:
		evbuffer_drain(in, evbuffer_get_length(in));
		break;
	}
	relay_stall(s->u.bev, s->cbev, &s->u.rpaused);
}

void
app_write(struct bufferevent *bev, void *arg)
{
	struct stream	*s = arg;

	relay_unstall(s);

	switch (s->mode) {
	case M_HTTP:
		if (s->rq_state == RQ_BODY)
			request_pump(s);
		break;
	case M_TUNNEL:
		tunnel_move(s, s->cbev, bev);
		tunnel_check(s);
		break;
	case M_MOVING:
		move_bytes(s, bufferevent_get_input(s->cbev), bev,
		    evbuffer_get_length(bufferevent_get_input(s->cbev)));
		if (s->move_sent && s->switched && s->c_eof)
			move_finish(s);
		break;
	default:
		break;
	}
}

void
app_event(struct bufferevent *bev, short what, void *arg)
{
	struct stream	*s = arg;
	struct upstream	*u = &s->u;
	int		 err = EVUTIL_SOCKET_ERROR();

	if (err == EAGAIN || err == EINPROGRESS || err == EINTR)
		err = 0;
	switch (up_connect_event(s, what, err)) {
	case UP_EV_CONNECTED:
		if (u->via == NULL || via_start(s) == 0)
			app_connected(s);
		return;
	case UP_EV_CONNECTING:
		return;
	case UP_EV_OPEN:
		break;
	}
	if (u->vstate != VIA_NONE) {
		via_event(s, what, err);
		return;
	}
	if (s->mode == M_MOVING && (what & BEV_EVENT_EOF) && !s->move_sent) {
		/* the app is done before the move: proxyd ends the tunnel */
		u->eof = 1;
		move_cancel(s);
		return;
	}
	if (s->mode == M_TUNNEL || s->mode == M_MOVING) {
		if (what & BEV_EVENT_ERROR) {
			stream_close(s);
			return;
		}
		u->eof = 1;
		tunnel_check(s);
		return;
	}
	if (s->mode != M_HTTP) {
		up_close(s);
		return;
	}
	exchange_app_event(s, what, err);
}

