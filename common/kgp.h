/*
 * KGP, the tunnel protocol: the frame codec (kgp.c) and one connection
 * with its multiplexed streams (kgp_conn.c), shared by kgpd and
 * sc-server.  man/kgp.7 is the specification.
 */
#ifndef SC_KGP_H
#define SC_KGP_H

#include <stddef.h>
#include <stdint.h>

#define KGP_VERSION		2	/* highest version spoken */
#define KGP_VERSION_MIN		2	/* lowest: v1 had no resume */
#define KGP_HDRLEN		12
#define KGP_MAXPAYLOAD		16384
#define KGP_MAXFRAME		(KGP_HDRLEN + KGP_MAXPAYLOAD)
#define KGP_MAX_WINDOW		(16 * 1024 * 1024)	/* HELLO, WELCOME, WINDOW */
/*
 * Receive windows (man/kgp.7, "Flow control").  Each stream starts with
 * the window announced in HELLO/WELCOME; the receiver grants it more,
 * up to KGP_STREAM_WINDOW, right away (KGP_OPEN_WINDOW) and whenever its
 * local socket takes all that arrives; beyond that, up to
 * KGP_STREAM_WINDOW_MAX, only while a whole window is consumed within
 * KGP_TUNE_RTT_PCT % of a round trip of the link (the window, not the
 * link or the reader, holds the stream back).  All of it only while the windows
 * above the announced one fit in a budget per connection and one per
 * process.  So a stalled stream holds its window at most, and all of
 * them hold the announced window each plus the budget.
 */
#define KGP_DEFAULT_WINDOW	(16 * 1024)	/* announced, per stream */
#define KGP_OPEN_WINDOW		(256 * 1024)	/* a new stream's, at once */
#define KGP_STREAM_WINDOW	(1024 * 1024)	/* grown to, reader keeps up */
#define KGP_STREAM_WINDOW_MAX	(16 * 1024 * 1024)	/* ... link needs it */
#define KGP_GRANT_STEP		(64 * 1024)	/* credit back at least */
#define KGP_GRANT_DIV		16	/* ... or this part of the window */
#define KGP_TUNE_RTT_PCT	150	/* a window within this % of the RTT */
#define KGP_TUNE_QUEUE_PCT	5	/* the link's queue above this % of */
#define KGP_TUNE_QUEUE_MIN_US	2000	/* ... the RTT and this: shrink */
#define KGP_TUNE_CALM_RTTS	2	/* ... once in this many RTTs at most */
#define KGP_TUNE_STEP_DIV	16	/* then grow by this part an epoch */
#define KGP_TUNE_LOSS_RTTS	2	/* no queue this many RTTs after a loss */
#define KGP_TUNE_RECOVERY_RTTS	1	/* an epoch with a loss: RTTs off it */
#define KGP_CONN_BUDGET		(32 * 1024 * 1024)	/* above announced */
#define KGP_PROC_BUDGET		(64 * 1024 * 1024)	/* ... all conns */
#define KGP_DEFAULT_MAXSTREAMS	100000
#define KGP_IDLEN		64	/* tunnel id and secret, at most */
#define KGP_CC_NAMELEN		16	/* a congestion control's name, NUL */
#define KGP_CONGESTION		"bbr"	/* the links' default (TCP_CONGESTION) */
#define KGP_LOAD_HALF_MS	250	/* a connection's load halves in this */
#define KGP_LOAD_UNIT		(64 * 1024)	/* ... counted in these */
/*
 * The one header flag (kgp.7, "Node links"): on HELLO and WELCOME only,
 * a link between two sc-server nodes, whose HELLO's sender opens the
 * streams.
 */
#define KGP_F_NODE		0x01

enum kgp_type {
	KGP_HELLO = 1,		/* c -> s: versions, window, auth */
	KGP_WELCOME = 2,	/* s -> c: chosen version, window */
	KGP_ERROR = 3,		/* either: code, text; then the link closes */
	KGP_OPEN = 4,		/* s -> c: a new stream; text: peer info */
	KGP_ACCEPT = 5,		/* c -> s: the stream is connected */
	KGP_REFUSE = 6,		/* c -> s: code, text; the stream is gone */
	KGP_DATA = 7,		/* either: stream bytes */
	KGP_WINDOW = 8,		/* either: u32 credit increment */
	KGP_FIN = 9,		/* either: no more data in this direction */
	KGP_RST = 10,		/* either: u16 code; the stream is gone */
	KGP_PING = 11,		/* either: u64 opaque */
	KGP_PONG = 12,		/* either: the PING's u64 */
	KGP_GOAWAY = 13,	/* s -> c: code, text; no new streams here */
	KGP_ACK = 14,		/* either: u32 last sequence received */
	KGP_TYPE_MAX = 14
};

/* codes of ERROR, REFUSE and RST */
enum kgp_code {
	KGP_E_NONE = 0,
	KGP_E_PROTOCOL = 1,	/* malformed or unexpected frame */
	KGP_E_VERSION = 2,	/* no common version */
	KGP_E_AUTH = 3,		/* unknown tunnel or wrong secret */
	KGP_E_REPLACED = 4,	/* a newer connection took over */
	KGP_E_SHUTDOWN = 5,	/* the peer is going away */
	KGP_E_TERMINATED = 6,	/* the tunnel was deleted */
	KGP_E_FLOW = 7,		/* flow-control window exceeded */
	KGP_E_REFUSED = 8,	/* the stream could not be served */
	KGP_E_RESET = 9,	/* the stream's endpoint failed */
	KGP_E_LIMIT = 10,	/* too many streams */
	KGP_E_TIMEOUT = 11,	/* keepalive or handshake timeout */
	KGP_E_INTERNAL = 12,
};

struct kgp_frame {
	uint8_t		 type;
	uint8_t		 flags;
	uint16_t	 len;
	uint32_t	 stream;
	uint32_t	 seq;		/* numbered frames: 1, 2, ...; else 0 */
	const uint8_t	*payload;
};

struct kgp_hello {
	uint16_t	 vmin;
	uint16_t	 vmax;
	uint32_t	 window;
	uint16_t	 conn_index;
	char		 tunnel_id[KGP_IDLEN + 1];
	char		 secret[KGP_IDLEN + 1];
	uint64_t	 session;	/* chosen by the client, never 0 */
	uint32_t	 recv_seq;	/* last numbered frame received */
	int		 node;		/* KGP_F_NODE: a node's HELLO */
};

/* the hello callback's answer: not yet (kgp_conn_hello_again()) */
#define KGP_HELLO_HOLD	(-1)

struct kgp_welcome {
	uint16_t	 version;
	uint32_t	 window;
	uint32_t	 max_streams;
	uint8_t		 resumed;	/* 1: the session goes on */
	uint32_t	 recv_seq;	/* last numbered frame received */
};

/* kgp.c: the codec.  Decoders return 0, or -1 with *errstr set. */
int	 kgp_decode_hdr(const uint8_t *, size_t, struct kgp_frame *,
	    const char **);
int	 kgp_frame_check(const struct kgp_frame *, const char **);
void	 kgp_encode_hdr(uint8_t *, uint8_t, uint16_t, uint32_t);
void	 kgp_encode_hdr_seq(uint8_t *, uint8_t, uint16_t, uint32_t,
	    uint32_t);
int	 kgp_type_numbered(uint8_t);
int	 kgp_hello_decode(const struct kgp_frame *, struct kgp_hello *,
	    const char **);
size_t	 kgp_hello_encode(uint8_t *, size_t, const struct kgp_hello *);
int	 kgp_welcome_decode(const struct kgp_frame *, struct kgp_welcome *,
	    const char **);
size_t	 kgp_welcome_encode(uint8_t *, size_t, const struct kgp_welcome *);
int	 kgp_code_decode(const struct kgp_frame *, uint16_t *, char *, size_t,
	    const char **);
size_t	 kgp_code_encode(uint8_t *, size_t, uint16_t, const char *);
int	 kgp_u32_decode(const struct kgp_frame *, uint32_t *, const char **);
int	 kgp_u64_decode(const struct kgp_frame *, uint64_t *, const char **);
const char *kgp_type_name(uint8_t);
int	 kgp_congestion_valid(const char *);
const char *kgp_code_name(uint16_t);

/* kgp_conn.c: one TLS connection carrying streams */
struct event_base;
struct bufferevent;
struct kgp_tls;		/* kgp_tls.h */
struct tls_rec;		/* tls_rec.h */
struct kgp_conn;

#define KGP_ROLE_CLIENT	1
#define KGP_ROLE_SERVER	2

struct kgp_params {
	int		 role;
	uint32_t	 window;	/* announced: each stream's first */
	uint32_t	 window_open;	/* granted to a new one (0: default) */
	uint32_t	 window_max;	/* grown to at most (0: default) */
	uint32_t	 window_grow;	/* ... without the RTT rule (0: default) */
	size_t		 budget;	/* windows above window (0: default) */
	const char	*congestion;	/* TCP_CONGESTION; NULL: the system's */
	uint32_t	 max_streams;
	uint32_t	 ping_ms;	/* keepalive interval */
	uint32_t	 max_missed;	/* pings unanswered before dead */
	uint32_t	 handshake_ms;	/* TLS + HELLO/WELCOME bound */
	const char	*pin;		/* client: "SHA256:hex" or NULL */
	const char	*tunnel_id;	/* client */
	const char	*secret;	/* client */
	uint16_t	 conn_index;	/* client */
	uint64_t	 session;	/* client: 0 picks a random one */
	uint32_t	 grace_ms;	/* keep a broken session; 0: forever */
	int		 hold;		/* client: TLS only, HELLO waits for
					   kgp_conn_auth() */
	int		 node;		/* client: a node link (KGP_F_NODE) */
};

/*
 * The keepalive round trips (PING to PONG) of a connection, counted in
 * KGP_RTT_BUCKETS buckets: bucket i holds those up to
 * KGP_RTT_BOUNDS_US[i] and above the bound before; longer ones count in
 * rtt_count alone.
 */
#define KGP_RTT_BUCKETS		12
#define KGP_RTT_BOUNDS_US	{ 1000, 2500, 5000, 10000, 25000, 50000, \
	100000, 250000, 500000, 1000000, 2500000, 5000000 }

struct kgp_conn_stats {
	uint64_t	 streams_open;
	uint64_t	 streams_total;
	uint64_t	 bytes_in;	/* payload bytes received */
	uint64_t	 bytes_out;	/* payload bytes sent */
	uint64_t	 rtt_us;	/* last keepalive round trip */
	int		 up;		/* the link is up */
	int		 broken;	/* no link, the session waits */
	uint32_t	 breaks;	/* links lost under the session */
	uint32_t	 resumes;	/* ... and taken up again */
	uint64_t	 retransmitted;	/* bytes sent again, all resumes */
	uint64_t	 last_rtx;	/* bytes sent again, last resume */
	int		 last_resumed;	/* the last "up" resumed the session */
	int64_t		 last_break;	/* Unix seconds, 0: never */
	uint64_t	 windows;	/* granted above the announced ones */
	uint64_t	 rtt_count;	/* round trips measured */
	uint64_t	 rtt_sum_us;
	uint64_t	 rtt_buckets[KGP_RTT_BUCKETS];
	/*
	 * Its load, in bytes: the payload that crossed it lately either
	 * way, halving every KGP_LOAD_HALF_MS, and what waits in it (queued
	 * or sent and not yet acknowledged).  A bulk transfer makes it
	 * large; kept-alive streams that carry nothing do not.
	 */
	uint64_t	 load;
};

struct kgp_callbacks {
	/*
	 * The peer opened stream id (the server did, or on a node link
	 * the node that sent HELLO).  Return a connected,
	 * non-blocking descriptor that the stream is bound to (the
	 * connection owns it from then on), or -1 to refuse it with
	 * *code and the text in reason.
	 */
	int	(*open)(struct kgp_conn *, uint32_t, const char *, uint16_t *,
		    char *, size_t, void *);
	/*
	 * Instead of open, when set: the peer opened stream id and its
	 * local end is in this process, a bufferevent as
	 * kgp_conn_open_local() gives, which the owner takes (return 0)
	 * or leaves to the connection (return -1: the stream is refused
	 * with *code and the text in reason).
	 */
	int	(*open_local)(struct kgp_conn *, uint32_t, const char *,
		    struct bufferevent *, uint16_t *, char *, size_t, void *);
	/*
	 * A stream that this end opened on a socket (kgp_conn_open_stream)
	 * was refused before any byte came back: the owner gets its
	 * descriptor back, to answer on it (a proxy's error page), with
	 * the peer's code and text.  NULL: the descriptor is closed.
	 */
	void	(*refused)(struct kgp_conn *, uint32_t, int, uint16_t,
		    const char *, void *);
	/*
	 * Server: a HELLO arrived.  Return 0 to welcome it, a KGP_E_*
	 * code to refuse it with ERROR, or KGP_HELLO_HOLD to answer it
	 * later: the connection keeps the HELLO and waits (a frame from
	 * the peer meanwhile is a protocol error) until the owner calls
	 * kgp_conn_hello_again(), which asks this callback again.
	 */
	int	(*hello)(struct kgp_conn *, const struct kgp_hello *, void *);
	/*
	 * The handshake is complete: streams may flow.  After a break,
	 * kgp_conn_stats() tells whether the session was resumed.
	 */
	void	(*up)(struct kgp_conn *, void *);
	/*
	 * The link broke (I/O error, reset, keepalive) but the session
	 * and its streams are kept: the client calls kgp_conn_resume()
	 * with a new socket; the server waits for the client's resume.
	 * Called again when a resume attempt fails.  NULL: a break ends
	 * the connection like an error.
	 */
	void	(*broken)(struct kgp_conn *, int, const char *, void *);
	/*
	 * A stream being moved (kgp_conn_stream_move) reads its new
	 * socket and has closed the old one (ok), or is gone before it
	 * could (not ok).
	 */
	void	(*switched)(struct kgp_conn *, uint32_t, int, void *);
	/*
	 * A lend (kgp_conn_stream_lend) is over: how (KGP_LENT_*), how
	 * many bytes of the lent socket went into the stream, and errno
	 * for KGP_LENT_ERROR.  The lent descriptor is closed by then.
	 */
	void	(*lent)(struct kgp_conn *, uint32_t, int, uint64_t, int,
		    void *);
	/* client: the server will open no more streams here (GOAWAY) */
	void	(*goaway)(struct kgp_conn *, int, const char *, void *);
	/*
	 * The connection is finished (peer ERROR, I/O error, timeout, or
	 * kgp_conn_close()): every stream has been reset.  Called once;
	 * the owner frees the connection with kgp_conn_free(), which is
	 * safe from inside this callback.
	 */
	void	(*down)(struct kgp_conn *, int, const char *, void *);
};

struct kgp_conn	*kgp_conn_new(struct event_base *, int, struct kgp_tls *,
		    const struct kgp_params *, const struct kgp_callbacks *,
		    void *);
void		 kgp_conn_free(struct kgp_conn *);
int		 kgp_conn_open_stream(struct kgp_conn *, int, const char *,
		    const void *, size_t);
struct bufferevent *kgp_conn_open_local(struct kgp_conn *, const char *);
void		 kgp_local_shutdown(struct bufferevent *);
void		 kgp_local_close(struct bufferevent *);
void		 kgp_local_reset(struct bufferevent *);
/* kgp_splice.c */
int		 kgp_local_splice(struct bufferevent *, struct bufferevent *);
void		 kgp_conn_close(struct kgp_conn *, int, const char *);
void		 kgp_conn_drain(struct kgp_conn *);
void		 kgp_conn_break(struct kgp_conn *, const char *);
void		 kgp_conn_goaway(struct kgp_conn *, int, const char *);
int		 kgp_conn_resume(struct kgp_conn *, int, struct kgp_tls *);
int		 kgp_conn_auth(struct kgp_conn *, const struct kgp_params *);
void		 kgp_conn_adopt(struct kgp_conn *, struct kgp_conn *);
int		 kgp_conn_hello_again(struct kgp_conn *);
int		 kgp_conn_stream_move(struct kgp_conn *, uint32_t, int,
		    uint64_t);
int		 kgp_conn_stream_moved(struct kgp_conn *, uint32_t, int);
int		 kgp_conn_stream_move_tls(struct kgp_conn *, uint32_t, int,
		    uint64_t);
int		 kgp_conn_stream_moved_tls(struct kgp_conn *, uint32_t,
		    struct tls_rec *, const void *, size_t);
void		 kgp_conn_stream_moves_abort(struct kgp_conn *);
int		 kgp_conn_stream_lend(struct kgp_conn *, uint32_t, int,
		    uint64_t, uint64_t);

/* how a lend ended: the lent callback */
#define KGP_LENT_DONE	0	/* all the bytes asked */
#define KGP_LENT_EOF	1	/* the lent socket ended first */
#define KGP_LENT_ERROR	2	/* reading it failed */
#define KGP_LENT_GONE	3	/* the stream ended first */
uint64_t	 kgp_conn_session(struct kgp_conn *);
void		 kgp_conn_stats(struct kgp_conn *, struct kgp_conn_stats *);
/* one open stream, for sc-ctl show streams */
struct kgp_stream_stats {
	uint64_t	 bytes_in;	/* written to the local side */
	uint64_t	 bytes_out;	/* read from it, sent */
	uint64_t	 age_ms;
	const char	*label;		/* kgp_conn_stream_label()'s, or NULL */
};
void		 kgp_conn_stream_label(struct kgp_conn *, uint32_t,
		    const char *);
void		 kgp_conn_each_stream(struct kgp_conn *, int (*)(uint32_t,
		    const struct kgp_stream_stats *, void *), void *);
void		*kgp_conn_arg(struct kgp_conn *);
void		 kgp_conn_set_arg(struct kgp_conn *, void *);
const char	*kgp_conn_peer_hash(struct kgp_conn *);
size_t		 kgp_windows_budget(size_t);
uint32_t	 kgp_window_want(uint32_t, size_t, int, uint64_t, uint64_t,
	    uint64_t, uint64_t, int *, uint32_t, uint32_t);

#endif /* SC_KGP_H */
