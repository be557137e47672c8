/*
 * Inside proxyd's relay: what its files share.  Nothing outside them
 * includes this; proxyd.c sees proxyd.h alone.
 *
 *	relay.c		a stream's life: kgpd hands it over, it ends;
 *			the events of its two sockets, dispatched by
 *			mode
 *	relay_http.c	the HTTP/1.1 exchange: requests, answers, their
 *			framing, the fields passed on, the proxy's own
 *			error answers; a CONNECT or a 101 ends it in a
 *			tunnel
 *	relay_up.c	the app side: resolving, connecting, closing, and
 *			what a failure to reach the app tells the browser
 *	relay_via.c	the upstream proxy (-x, http_proxy): which one,
 *			and the CONNECT or SOCKS handshake through it
 *	relay_pac.c	--pac: the answers of the PAC script (pacd's, via
 *			the controller), kept per host; a request waits
 *			for its host's
 *	relay_tls.c	TLS to the app for https:// requests, and to an
 *			https:// upstream proxy: a filter over the socket
 *			once it is connected (the app's over the proxy's)
 *	relay_move.c	bytes on their way: from one side to the other
 *			within each side's share, or past proxyd (tunnels
 *			moved to kgpd, bodies lent to kgpd or spliced)
 *
 * Calls go down that list.  Back up, only ends and reports: any file
 * may end a stream (stream_close(), stream_close_after_flush()); the
 * app side reports that the app cannot be reached (up_fail() answers
 * with send_error()) and gives its sockets relay.c's event callbacks;
 * a body lent or spliced reports its end (exchange_done()).
 *
 * A stream is in one of these modes:
 *	M_HTTP		requests and responses, one exchange at a time
 *	M_TUNNEL	after CONNECT or a 101: bytes both ways, half-close
 *	M_MOVING	a tunnel whose app socket goes to kgpd (move_start)
 *	M_CLOSING	flushing what is left to the client, then lingering
 *	M_DEAD		closed, freed at the next loop turn
 * In M_HTTP, the request side is RQ_HEAD (waiting for a head), RQ_BODY
 * or RQ_DONE, the response side RS_IDLE (no request out), RS_HEAD,
 * RS_BODY or RS_DONE.  When both are done the exchange is over.
 *
 * Bodies go through as they came (Content-Length counted, chunked checked
 * by the decoder), never buffered whole: a side is read only while the
 * output it feeds holds less than its share (relay_share: RELAY_READ_HIGH
 * bytes, less when many streams are open), and the write callback of that
 * output (fired below RELAY_WRITE_LOW) resumes it.
 */
#ifndef PROXYD_RELAY_INT_H
#define PROXYD_RELAY_INT_H

#include <sys/types.h>
#include <sys/queue.h>
#include <sys/socket.h>

#include <stdint.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/dns.h>
#include <event2/event.h>
#include <event2/util.h>

#include "http.h"
#include "proxyd.h"

#define RELAY_READ_HIGH		(256 * 1024)
#define RELAY_WRITE_LOW		(64 * 1024)
#define RELAY_LINGER_SEC	2
#define RELAY_FLUSH_SEC		60	/* to send the last bytes */
#define RELAY_PULLUP		4096	/* bytes of chunk framing looked at */
#define RELAY_IO_MAX		(128 * 1024)	/* one read or write system call */
#define RELAY_MOVE_MS		200	/* a tunnel this old moves to kgpd */
#define RELAY_MOVE_BYTES	(1024 * 1024)	/* ... or one this busy */
#define RELAY_MOVE_CROWD	1000	/* streams here: move tunnels at once */
#define RELAY_SPLICE_MIN	(256 * 1024)	/* a body left this long: splice */
#define RELAY_ERROR_MAX		512	/* the text of an error answer */

enum stream_mode { M_HTTP, M_TUNNEL, M_MOVING, M_CLOSING, M_DEAD };
enum rq_state { RQ_HEAD, RQ_BODY, RQ_DONE };
enum rs_state { RS_IDLE, RS_HEAD, RS_BODY, RS_DONE };
enum up_state { U_NONE, U_RESOLVING, U_CONNECTING, U_HANDSHAKE, U_OPEN };
/* the handshake with an upstream proxy (relay_via.c) */
enum via_state { VIA_NONE, VIA_TLS, VIA_CONNECT, VIA_SOCKS_METHOD,
	VIA_SOCKS_AUTH, VIA_SOCKS_REPLY };

struct up_tls;
struct tls_rec_keys;

/* the addresses a connect tries: held only while it runs */
struct up_addrs {
	struct sockaddr_storage	 addr[PROXYD_MAXADDR];
	socklen_t		 len[PROXYD_MAXADDR];
};

struct upstream {
	struct bufferevent	*bev;
	enum up_state		 state;
	char			*host;		/* NULL until the first open */
	char			 port[HTTP_PORT_MAX];
	struct up_addrs		*addrs;		/* while connecting */
	int			 naddr, iaddr;
	struct evdns_getaddrinfo_request *dnsreq;
	int			 in_dns;	/* evdns_getaddrinfo() running */
	int			 dns_result;	/* its answer, when immediate */
	struct evutil_addrinfo	*dns_ai;
	int			 dns_now;
	int			 dns_try;	/* dnsb[] asked now (--dns) */
	const struct net_rule	*denied;	/* an address the rules deny */
	char			 denied_addr[64];
	int			 in_connect;
	int			 lasterr;
	struct event		*timer;		/* connect timeout, while it runs */
	int			 reusable;	/* may take the next request */
	int			 reused;	/* this request reuses it */
	int			 eof;
	int			 shut;		/* its write side shut */
	int			 rpaused;	/* reading off: see relay_stall */
	struct splice_job	*sj;		/* the answer's body: splice.c */
	int			 lent;		/* ... or kgpd reads it: LEND */
	int			 sj_wait;	/* ... once proxyd has let go */
	const struct upproxy	*via;		/* the upstream proxy, or NULL */
	struct pac_answer	*pac;		/* --pac: the entries to try */
	int			 ivia;		/* ... the one tried now */
	enum via_state		 vstate;	/* its handshake */
	int			 https;		/* TLS once connected */
	int			 tls;		/* bev is a TLS filter */
	struct up_tls		*vtls;		/* the one to an https:// proxy */
	struct up_tls		*atls;		/* the one to the app */
	int			 tls_wait;	/* its handshake is under way */
	char			 tls_err[160];	/* why TLS failed, "" */
	int			 warm;		/* opened by a warm-up, unused */
	int			 move_ready;	/* and its TLS may move to kgpd
						   (move_tls_ready()) */
};

struct stream {
	TAILQ_ENTRY(stream)	 entry;
	uint32_t		 id;
	uint64_t		 session;	/* kgpd's name for it: with id */
	int			 local;		/* --scproxy-port: not kgpd's */
	uint32_t		 kgpd;		/* whose: env->iev_kgpd[kgpd] */
	char			*peer;
	enum stream_mode	 mode;
	struct bufferevent	*cbev;		/* the client: kgpd's stream */
	int			 c_eof;
	int			 c_shut;
	int			 c_rpaused;	/* reading off: see relay_stall */
	int			 move_sent;	/* IMSG_STREAM_MOVE is out */
	int			 switched;	/* kgpd reads the app itself */
	TAILQ_ENTRY(stream)	 mentry;	/* on moving, while move_sent */
	TAILQ_ENTRY(stream)	 lentry;	/* on lending, while u.lent */
	struct event		*move_ev;	/* a young tunnel's move; a TLS
						   move's drained socket */
	int			 move_tls;	/* the move is of TLS */
	char			*url_bound;	/* a bound request's URL */
	char			*bound;		/* "https://host:port": the
						   stream's requests are to it,
						   in origin form (a warm-up's
						   HTTP_BIND_FIELD) */
	struct upstream		 u;

	/* the exchange going on */
	struct http_head	*req;	/* NULL once tunnelling */
	enum rq_state		 rq_state;
	enum http_body		 rq_body;
	uint64_t		 rq_left;
	struct http_chunked	 rq_ck;
	char			 method[16];
	char			*url;	/* for the log; NULL once tunnelling */
	char			 target[SC_TARGET_LEN];	/* sc-ctl show streams */
	int			 version;	/* of the client's request */
	int			 client_keep;
	int			 want_upgrade;
	int			 is_connect;
	struct evbuffer		*replay;	/* head, to retry once */
	struct pac_entry	*pac_wait;	/* --pac: waits for this answer */
	TAILQ_ENTRY(stream)	 pentry;	/* ... among its streams */
	int			 pac_ready;	/* u.pac is this request's */
	struct evbuffer		*held;		/* a head for held_to: relay_hold */
	struct bufferevent	*held_to;

	struct http_head	*resp;	/* NULL once tunnelling */
	enum rs_state		 rs_state;
	enum http_body		 rs_body;
	uint64_t		 rs_left;
	struct http_chunked	 rs_ck;
	int			 rs_started;	/* a 1xx went out */

	uint64_t		 nreq;
	uint64_t		 gen;		/* bumped at each exchange */
	uint64_t		 bytes_in, bytes_out;
};

TAILQ_HEAD(streamlist, stream);

/* how up_connect_event() found an event of the app's socket */
enum up_event {
	UP_EV_OPEN,		/* after the connect: the caller's */
	UP_EV_CONNECTING,	/* the connect's: done with */
	UP_EV_CONNECTED,	/* connected now */
};

/* relay.c */
void	 relay_count(int);
void	 stream_close(struct stream *);
void	 stream_close_after_flush(struct stream *);
void	 app_read(struct bufferevent *, void *);
void	 app_write(struct bufferevent *, void *);
void	 app_event(struct bufferevent *, short, void *);
void	 app_connected(struct stream *);

/* relay_http.c */
void	 heads_free(struct stream *);
void	 exchange_reset(struct stream *);
void	 exchange_done(struct stream *);
void	 request_head(struct stream *);
void	 request_start(struct stream *);
void	 request_pump(struct stream *);
void	 exchange_app_read(struct stream *);
void	 response_pump(struct stream *);
void	 exchange_app_event(struct stream *, short, int);
void	 send_error(struct stream *, int, const char *, ...)
	    __attribute__((__format__ (printf, 3, 4)));
void	 request_framing(struct stream *, const struct http_head *);
void	 request_build(struct evbuffer *, const struct http_head *,
	    const struct http_url *, int, const struct upproxy *);
void	 response_framing(struct stream *, const struct http_head *);
void	 response_build(struct evbuffer *, const struct http_head *, int,
	    int);
int	 error_keep(const struct stream *, int);
void	 error_build(struct evbuffer *, int, const char *, int, int);
void	 connect_established(struct stream *);
void	 tunnel_start(struct stream *);

/* relay_up.c */
void	 up_open(struct stream *, const char *, const char *, int);
int	 up_literal(struct up_addrs *, const char *, int);
int	 up_addrs_take(struct up_addrs *, const struct evutil_addrinfo *);
enum up_event up_connect_event(struct stream *, short, int);
void	 up_close(struct stream *);
void	 up_timer_set(struct stream *, uint32_t);
void	 up_timer_stop(struct stream *);
void	 up_head_timer(struct stream *);
void	 up_fail(struct stream *, int, const char *, ...)
	    __attribute__((__format__ (printf, 3, 4)));

/* relay_via.c */
int	 via_choose(struct stream *, const char *, const char *, int);
int	 via_start(struct stream *);
void	 via_read(struct stream *);
void	 via_event(struct stream *, short, int);

/* relay_pac.c */
int	 pac_wait(struct stream *, const char *, int);
void	 pac_forget(struct stream *);
const struct upproxy *pac_via(const struct stream *);
int	 pac_fallback(struct stream *, const char *);

/* relay_tls.c */
int	 up_tls_init(void);
int	 up_tls_ca(const void *, size_t);
int	 up_tls_config(int);
int	 up_tls_start(struct stream *, int);
int	 up_tls_send(struct stream *, const void *, size_t);
int	 up_tls_export(struct stream *, struct tls_rec_keys *,
	    struct evbuffer **, const char **);
void	 up_tls_shutdown(void);

/* relay_move.c */
void	 relay_write(struct stream *, struct bufferevent *,
	    struct evbuffer *, size_t);
void	 relay_hold(struct stream *, struct bufferevent *,
	    struct evbuffer *);
void	 relay_release(struct stream *);
void	 relay_drop(struct stream *, struct bufferevent *);
size_t	 relay_share(void);
size_t	 move_bytes(struct stream *, struct evbuffer *,
	    struct bufferevent *, uint64_t);
void	 relay_stall(struct bufferevent *, struct bufferevent *, int *);
void	 relay_unstall(struct stream *);
void	 relay_io_size(struct bufferevent *);
void	 response_splice(struct stream *);
void	 lend_stop(struct stream *);
void	 tunnel_move(struct stream *, struct bufferevent *,
	    struct bufferevent *);
void	 tunnel_check(struct stream *);
void	 move_soon(struct stream *);
void	 move_tls_start(struct stream *, int);
void	 move_tls_ready(struct stream *);
void	 move_send(struct stream *);
void	 move_finish(struct stream *);
void	 move_cancel(struct stream *);
void	 move_end(struct stream *, int);

#endif /* PROXYD_RELAY_INT_H */
