/*
 * Inside the KGP engine: what kgp_conn.c (a connection: its link, TLS,
 * the handshake, resume, the frames in and out) and kgp_stream.c (the
 * streams multiplexed over it) share.  Nothing outside those two files
 * includes this.
 */
#ifndef KGP_CONN_INT_H
#define KGP_CONN_INT_H

#include <sys/types.h>
#include <sys/tree.h>
#include <sys/queue.h>

#include <event2/event.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>

#include "kgp.h"
#include "kgp_tls.h"

#define CONN_READ_CHUNK		(64 * 1024)
#define CONN_IO_BUDGET		(1024 * 1024)	/* per event, each way */
#define CONN_OUT_HIGH		(256 * 1024)	/* stop pulling from streams */
#define STREAM_READ_HIGH	(256 * 1024)
#define STREAM_IO_MAX		(128 * 1024)	/* one write system call */
#define STREAM_NOTSENT		(128 * 1024)	/* unsent in a TCP socket */
#define CONN_NOTSENT		(128 * 1024)	/* unsent in the link's socket */
#define STREAM_SMALL		(64 * 1024)	/* sent less: goes first */
#define CLOSE_GRACE_MS		2000
#define WBUF_SIZE		(64 * 1024)	/* one TLS write at most */
#define RTX_COPY_MAX		(16 * 1024)	/* less is copied into wbuf */
#define RTX_RUN_MAX		(256 * 1024)	/* written from rtx in place */
#define ACK_EVERY		32		/* frames between ACKs */
#define PEND_BLOCK_MIN		(4 * 1024)	/* DATA in a block of its own */
#define SEQ_LIMIT		0xfffff000U	/* then the session ends */

enum conn_state {
	CONN_TLS,		/* TLS handshake */
	CONN_HELLO,		/* waiting for HELLO (server) or WELCOME */
	CONN_UP,
	CONN_CLOSING,		/* ERROR queued, flushing */
	CONN_BROKEN,		/* no link; the session waits for a resume */
	CONN_DEAD
};

#define S_LOCAL_EOF	0x01	/* local side sent EOF */
#define S_FIN_SENT	0x02
#define S_FIN_RCVD	0x04
#define S_SHUT_WR	0x08	/* local write side shut down */
#define S_BLOCKED	0x10	/* on the conn's blocked list */
#define S_READ_OFF	0x20	/* local reading paused: no credit or room */
#define S_MOVING	0x40	/* being rebound to s->move->fd */
#define S_MOVE_READ	0x80	/* ... reading the new socket */
#define S_MOVE_WRITE	0x100	/* ... the old one's reader is done */
#define S_LOCAL		0x200	/* in-process: a bufferevent pair, no socket */
#define S_REC_WAIT	0x400	/* TLS move: no reading before its keys */
#define S_REC_CLOSE	0x800	/* close_notify queued */

/* a move under way: the new socket, and where the old one's bytes end */
struct stream_move {
	int			 fd;		/* -1 once the stream reads it */
	int			 tls;		/* TLS records */
	uint64_t		 offset;
};

/*
 * A lend: the stream reads its own socket until it has brought offset
 * bytes in all, then fd until end, then its own socket again
 * (kgp_conn_stream_lend).  What fd brought is derived from the count.
 */
struct stream_lend {
	int			 fd;
	int			 reading;	/* ev_read is on fd */
	uint64_t		 offset;
	uint64_t		 end;		/* offset + the lent length */
};

struct kgp_stream {
	RB_ENTRY(kgp_stream)	 entry;
	TAILQ_ENTRY(kgp_stream)	 blocked;
	struct kgp_conn		*conn;
	struct bufferevent	*bev;		/* writes to the local socket */
	struct event		*ev_read;	/* reads it (stream_read) */
	uint32_t		 id;
	uint32_t		 send_credit;	/* we may send this much */
	uint32_t		 recv_avail;	/* the peer may send this much */
	uint32_t		 recv_consumed;	/* delivered, not yet granted */
	uint32_t		 recv_window;	/* avail + held + consumed */
	int			 flags;
	uint64_t		 sent;		/* local bytes put into DATA */
	uint64_t		 received;	/* bytes written to the local side */
	uint64_t		 started_us;	/* conn_now_us() at its opening */
	uint64_t		 tune_us;	/* this window epoch began */
	uint32_t		 tune_bytes;	/* consumed in it */
	int			 tune_slow;	/* the link queued: grow slowly */
	uint32_t		 tune_cut;	/* still to come off the window */
	uint64_t		 tune_cut_us;	/* the queue last cut it (0) */
	uint64_t		 tune_q_us;	/* this queue interval began (0) */
	uint64_t		 tune_qmin;	/* the least queue in it */
	uint64_t		 tune_qlast;	/* ... in the one before */
	char			*label;		/* what the owner calls it */
	struct stream_move	*move;		/* while S_MOVING */
	struct stream_lend	*lend;		/* while a socket is lent */
	struct tls_rec		*rec;		/* its TLS record layer */
	struct evbuffer		*rec_in;	/* read, not opened */
	uint64_t		 rec_owed;	/* sealed, not credited */
};

RB_HEAD(stream_tree, kgp_stream);

struct kgp_conn {
	struct event_base	*base;
	int			 fd;		/* -1: no link */
	struct kgp_tls		*io;		/* NULL: clear text (tests) */
	struct kgp_params	 params;
	char			*pin;
	char			*tunnel_id;
	char			*secret;
	char			 congestion[KGP_CC_NAMELEN];
	struct kgp_callbacks	 cb;
	void			*arg;
	enum conn_state		 state;
	int			 established;	/* the session has been up */
	int			 resuming;	/* this handshake resumes it */
	int			 held;		/* client: no HELLO before
						   kgp_conn_auth() */
	struct event		*ev_read;
	struct event		*ev_write;
	struct event		*ev_timer;	/* handshake, ping, close */
	struct event		*ev_grace;	/* a broken session's end */
	struct evbuffer		*in;
	struct evbuffer		*pend;		/* DATA of this read for pend_s */
	struct kgp_stream	*pend_s;
	size_t			 pend_loose;	/* of pend: not in blocks */
	struct evbuffer		*ctl;		/* unnumbered frames */
	struct evbuffer		*rtx;		/* numbered, not yet acked */
	size_t			 rtx_sent;	/* of rtx: given to this link */
	size_t			 rtx_written;	/* of rtx: sent at least once */
	size_t			 rtx_run;	/* of rtx after rtx_sent: being
						   written in place */
	uint8_t			*wbuf;		/* the bytes being written */
	size_t			 wlen;
	size_t			 woff;
	uint64_t		 session;
	uint32_t		 send_seq;	/* last numbered frame queued */
	uint32_t		 recv_seq;	/* last numbered frame received */
	uint32_t		 ack_sent;	/* last recv_seq told the peer */
	uint32_t		 peer_acked;	/* last send_seq the peer has */
	struct kgp_conn		*adopt;		/* server: resume that one */
	struct kgp_hello	*hello_held;	/* server: a HELLO not yet
						   answered (KGP_HELLO_HOLD) */
	int			 goaway;	/* sent (server) or received */
	int			 goaway_code;	/* server: to say it again */
	char			 goaway_why[128];
	int			 linger;	/* ERROR out, waiting for EOF */
	int			 deaf;		/* a protocol error: the peer's
						   bytes are dropped */
	int			 read_wants_out;
	int			 write_wants_in;
	uint32_t		 peer_window;
	size_t			 windows;	/* of streams, above window */
	uint32_t		 peer_max_streams;
	uint32_t		 next_id;
	struct stream_tree	 streams;
	TAILQ_HEAD(, kgp_stream) blocked;
	struct kgp_stream	*turn;		/* conn_unblock() pumps it */
	struct kgp_conn_stats	 stats;
	uint32_t		 missed;
	uint64_t		 rtt_min_us;	/* this link's least RTT, 0: none */
	uint64_t		 loss_seen;	/* tcpinfo_rtt()'s losses, last read */
	uint64_t		 loss_us;	/* ... when they last moved, 0: never */
	uint64_t		 moved;		/* payload lately, decaying */
	uint64_t		 moved_us;	/* ... as of then */
	int			 down_code;
	char			 down_why[256];
	char			 peer_hash[128];
	int			 draining;
	int			 node;		/* a node link: HELLO's sender
						   opens the streams */
};

#ifndef __unused
#define __unused	__attribute__((__unused__))
#endif
int	stream_cmp(struct kgp_stream *, struct kgp_stream *);
RB_PROTOTYPE(stream_tree, kgp_stream, entry, stream_cmp)

uint64_t	conn_now_us(void);

/* kgp_conn.c */
int	conn_live(struct kgp_conn *);
uint64_t conn_queue_us(struct kgp_conn *);
int	conn_opens(struct kgp_conn *);
size_t	conn_unsent(struct kgp_conn *);
void	conn_moved(struct kgp_conn *, size_t);
void	conn_send(struct kgp_conn *, uint8_t, uint32_t, const void *, size_t);
void	conn_send_ack(struct kgp_conn *);
void	conn_send_u32(struct kgp_conn *, uint8_t, uint32_t, uint32_t);
void	conn_send_code(struct kgp_conn *, uint8_t, uint32_t, uint16_t,
	    const char *);
void	conn_schedule_write(struct kgp_conn *);
void	conn_seq_check(struct kgp_conn *);
void	conn_goaway_check(struct kgp_conn *);
int	conn_fail(struct kgp_conn *, int, const char *, ...)
	    __attribute__((__format__ (printf, 3, 4)));
int	conn_abort(struct kgp_conn *, int, const char *, ...)
	    __attribute__((__format__ (printf, 3, 4)));

/* kgp_stream.c */
void	stream_free(struct kgp_stream *);
void	conn_unblock(struct kgp_conn *);
void	conn_deliver(struct kgp_conn *);
int	conn_on_open(struct kgp_conn *, const struct kgp_frame *);
int	conn_on_data(struct kgp_conn *, const struct kgp_frame *);
int	conn_on_stream_frame(struct kgp_conn *, const struct kgp_frame *);

#endif /* KGP_CONN_INT_H */
