/*
 * Every message type of the client's processes, in one enum, grouped by
 * the pair of processes that use it, each with who sends it to whom.
 * The numbers are pinned by group, as tmux pins its own: a message
 * added to a group takes the next number of that group and moves no
 * other.  Bump SC_IMSG_VERSION whenever this enum or a payload struct
 * below changes (the control socket has its own SC_CTL_VERSION).  Each
 * payload's validator (common/imsg_types.c) is declared next to it: 0
 * when the payload fits, -1 when it does not; the dispatcher (proc.c)
 * calls it before the handler does anything.  Which process takes which
 * message from whom is in its tables: kgpd.c, proxyd.c, sc.c (what the
 * helpers send) and control.c.
 */
#ifndef SC_IMSG_TYPES_H
#define SC_IMSG_TYPES_H

#include <stddef.h>
#include <stdint.h>

#include "kgp.h"		/* KGP_CC_NAMELEN */
#include "tls_rec.h"		/* struct tls_rec_keys */

#define SC_IMSG_VERSION		18

/* a string of a fixed-size field ends inside it: never cut */
#define FIELD_STR(f)	(memchr((f), '\0', sizeof(f)) != NULL)

enum imsg_type {
	IMSG_NONE = 0,

	/*
	 * control socket: sc-ctl <-> controller; every message carries
	 * SC_CTL_VERSION in peerid, both ways.  These numbers are the
	 * ones of before that version and never change, so that any
	 * sc-ctl understands the IMSG_CTL_FAIL of any sc.
	 */
	IMSG_CTL_STATUS = 4,	/* sc-ctl -> controller: no payload */
	IMSG_CTL_STATUS_INFO = 5, /* controller -> sc-ctl: struct ctl_status */
	IMSG_CTL_STOP = 6,	/* sc-ctl -> controller: no payload */
	IMSG_CTL_VERBOSE = 7,	/* sc-ctl -> controller: int32 verbosity */
	IMSG_CTL_OK = 8,	/* controller -> sc-ctl: no payload */
	IMSG_CTL_FAIL = 9,	/* controller -> sc-ctl: string, at most */
				/* SC_CTL_FAIL_LEN; also the refusal of */
				/* another control protocol */
	IMSG_CTL_RECONNECT = 10, /* sc-ctl -> controller: no payload */
	IMSG_CTL_STREAMS = 11,	/* sc-ctl -> controller: no payload */
	IMSG_CTL_STREAMS_INFO = 12, /* controller -> sc-ctl: struct */
				/* sc_streams, then its n struct sc_stream */

	/* handshake and logging: any child <-> its parent (sc-server too) */
	IMSG_HELLO = 100,	/* child -> controller: struct sc_hello, */
				/* first and once */
	IMSG_LOG = 101,		/* child -> parent: int32 pri + string */
	IMSG_LOG_VERBOSE = 102,	/* controller -> child: int32 verbosity */

	/* statistics: controller <-> kgpd, proxyd */
	IMSG_STATS_REQ = 200,	/* controller -> child: no payload */
	IMSG_STATS = 201,	/* child -> controller: struct sc_stats, */
				/* kgpd: then nlinks struct sc_link_stats */
	IMSG_STREAMS_REQ = 202,	/* controller -> kgpd, proxyd: no payload */
	IMSG_STREAMS = 203,	/* kgpd, proxyd -> controller: struct */
				/* sc_streams, then its n struct sc_stream */

	/* configuration and link: controller <-> kgpd */
	IMSG_KGP_CONFIG = 300,	/* controller -> kgpd: struct kgp_config, */
				/* once */
	IMSG_KGP_CA = 301,	/* controller -> kgpd: a chunk of CA PEM */
	IMSG_KGP_CONNECT = 302,	/* controller -> kgpd: fd = connected */
				/* socket, uint32 connection index */
	IMSG_KGP_UP = 303,	/* kgpd -> controller: struct kgp_link_event */
	IMSG_KGP_DOWN = 304,	/* kgpd -> controller: struct kgp_link_event */
	IMSG_KGP_FATAL = 305,	/* kgpd -> controller: string (reason) */
	IMSG_KGP_DRAIN = 306,	/* controller -> kgpd: no payload */
	IMSG_KGP_BREAK = 307,	/* controller -> kgpd: no payload; drop */
				/* every link, as a link loss would */
	IMSG_KGP_EARLY = 308,	/* controller -> kgpd: fd = a socket */
				/* still connecting to the guessed KGP */
				/* endpoint, struct kgp_config without */
				/* the tunnel (TLS goes, HELLO waits) */
	IMSG_KGP_EARLY_END = 309, /* controller -> kgpd: uint32 index the */
				/* early connection becomes, after the */
				/* config; SC_EARLY_DROP: close it */

	/* configuration: controller -> proxyd */
	IMSG_PROXY_CONFIG = 400, /* controller -> proxyd: struct */
				/* proxy_config, once */
	IMSG_PROXY_CA = 401,	/* controller -> proxyd: a chunk of CA PEM */
				/* (--cacert-file), before the config */
	IMSG_PROXY_OPT = 402,	/* controller -> proxyd: struct proxy_opt, */
				/* each before the config */
	IMSG_PROXY_LISTEN = 403, /* controller -> proxyd: fd = the */
				/* listening socket of --scproxy-port */

	/* the kgpd <-> proxyd channel: controller -> kgpd, proxyd */
	IMSG_PEER_FD = 500,	/* controller -> kgpd: fd = a new */
				/* channel to proxyd */
	IMSG_PEER_KGPD = 501,	/* controller -> proxyd: fd = a new */
				/* channel to one kgpd; uint32_t: which */
				/* (0..SC_KGPD_MAX - 1) */

	/* streams: kgpd <-> proxyd; peerid = stream id */
	IMSG_STREAM_FD = 600,	/* kgpd -> proxyd: fd = proxyd's end of */
				/* one stream; struct stream_info */
	IMSG_STREAM_MOVE = 601,	/* proxyd -> kgpd: fd = the app's socket; */
				/* struct stream_move */
	IMSG_STREAM_SWITCHED = 602, /* kgpd -> proxyd: struct stream_moved */
	IMSG_STREAM_MOVED = 603, /* proxyd -> kgpd: struct stream_moved */
	IMSG_STREAM_LEND = 604,	/* proxyd -> kgpd: fd = the app's socket; */
				/* struct stream_lend */
	IMSG_STREAM_LENT = 605,	/* kgpd -> proxyd: struct stream_lent */
	IMSG_STREAM_MOVED_TLS = 606, /* proxyd -> kgpd: struct */
				/* stream_moved_tls, then ciphertext */

	/*
	 * --pac: proxyd asks the PAC process (pacd) through the controller,
	 * which relays both ways; peerid = proxyd's id of the question
	 */
	IMSG_PAC_ASK = 700,	/* proxyd -> controller -> pacd: struct */
				/* pac_ask */
	IMSG_PAC_ANSWER = 701,	/* pacd -> controller -> proxyd: the */
				/* answer, a string of at most */
				/* PAC_ANSWER_LEN (pacans.h); "": none */
};

/*
 * IMSG_PAC_ASK: which proxy for this host?  The PAC script is called
 * with "http://host/" or "https://host/" (tls): the scheme and the host,
 * never the path, as browsers do for https://, and the answer is cached
 * per host.
 */
struct pac_ask {
	uint32_t	 tls;		/* 0 or 1 */
	char		 host[256];	/* SC_HOST_LEN */
};
int	 pac_ask_valid(const void *, size_t);

struct sc_hello {
	uint32_t	 version;	/* SC_IMSG_VERSION */
	uint32_t	 pid;
};

/* IMSG_LOG: int32 priority (LOG_EMERG..LOG_DEBUG), then one string */
int	 imsg_log_valid(const void *, size_t);

/*
 * IMSG_LOG_VERBOSE, IMSG_CTL_VERBOSE: int32, SC_VERBOSE_MIN..SC_VERBOSE_MAX
 * (LOG_LEVEL_ERROR, -2, to three times -v)
 */
#define SC_VERBOSE_MIN	(-2)
#define SC_VERBOSE_MAX	3
int	 imsg_verbose_valid(const void *, size_t);

#define SC_ID_LEN	64
#define SC_SECRET_LEN	72	/* a secret of 64 (KGP_IDLEN) + NUL, padded */
#define SC_HOST_LEN	256
#define SC_HASH_LEN	128
#define SC_MAX_CONNECTIONS	16	/* TLS connections per tunnel */
/* kgpd processes (--kgp-processes): one connection at least each */
#define SC_KGPD_MAX		SC_MAX_CONNECTIONS
#define SC_EARLY_DROP		0xffffffffU	/* IMSG_KGP_EARLY_END */
#define SC_REASON_LEN	256
#define SC_FATAL_LEN	1024	/* IMSG_KGP_FATAL, NUL included */
#define SC_CA_MAX	(1024 * 1024)	/* the IMSG_KGP_CA chunks, in all */

struct kgp_config {
	char		 tunnel_id[SC_ID_LEN];
	char		 secret[SC_SECRET_LEN];
	char		 server_name[SC_HOST_LEN];	/* for SNI / verify */
	char		 pin[SC_HASH_LEN];	/* "SHA256:hex" or empty */
	uint32_t	 connections;	/* 1..SC_MAX_CONNECTIONS */
	uint32_t	 keepalive_sec;
	uint32_t	 max_missed_acks;
	char		 congestion[KGP_CC_NAMELEN];	/* "default": the system's */
};
int	 kgp_config_valid(const void *, size_t);

#define PROXY_F_NOMOVE	0x01	/* tests: proxyd hands kgpd no app socket */
#define PROXY_F_VERIFY	0x02	/* https:// apps: verify their certificates */
				/* against the IMSG_PROXY_CA chunks */
#define PROXY_F_DNS_RR	0x04	/* the name servers in turn, not fallbacks */
#define PROXY_F_LOCAL_DENY 0x08	/* --proxy-localhost deny */
#define PROXY_F_LOCAL_VIA 0x10	/* --proxy-localhost allow: through -x */
#define PROXY_F_PAC	0x20	/* --pac: ask pacd (IMSG_PAC_ASK) */

#define SC_DNS_LEN	512	/* dns_servers: "ip:port,[ip6]:port,..." */

struct proxy_config {
	uint32_t	 connect_timeout_ms;	/* --http-dial-timeout */
	uint32_t	 tls_timeout_ms;	/* --http-tls-handshake-timeout */
	uint32_t	 header_timeout_ms;	/* --http-response-header-..., */
	uint32_t	 idle_conn_timeout_ms;	/* --http-idle-conn-timeout; */
					/* these two: 0 is none */
	uint32_t	 idle_timeout_sec;
	uint32_t	 flags;		/* PROXY_F_* */
	uint32_t	 dns_timeout_ms;	/* one name server; 0: default */
	char		 dns_servers[SC_DNS_LEN];	/* comma-separated; */
					/* "": the system's (resolv.conf) */
};
int	 proxy_config_valid(const void *, size_t);

/*
 * One value of a flag that tells proxyd what to do to requests (site
 * credentials, header rules, networks: common/proxyopt.h), as the
 * operator gave it: proxyd parses it with the parser that checked it.
 */
#define SC_PROXYOPT_LEN	2048	/* a value, NUL included */

struct proxy_opt {
	uint32_t	 kind;		/* enum proxyopt_kind */
	uint32_t	 pad;
	char		 text[SC_PROXYOPT_LEN];
};
int	 proxy_opt_valid(const void *, size_t);	/* a kind, a string */

/*
 * A stream, as kgpd hands it to proxyd.  Stream ids are unique within
 * one session (one tunnel connection), so session and id name it.
 */
#define SC_PEER_LEN	256
#define SC_TARGET_LEN	256	/* a stream's URL or host:port: cut there */

struct stream_info {
	uint64_t	 session;
	char		 peer[SC_PEER_LEN];	/* the browser, for the log */
};
int	 stream_info_valid(const void *, size_t);

/*
 * A tunnel (after CONNECT or a 101) is bytes both ways until its end:
 * proxyd hands the app's socket to kgpd, which carries them itself.
 * MOVE: proxyd has stopped reading the app, and had written offset
 * bytes into the stream's socket in all; kgpd reads that many, then
 * reads the app and closes its end of the stream's socket.  SWITCHED:
 * kgpd has done so (ok = 1), or the stream is gone (ok = 0).  Until
 * then proxyd leaves the stream's socket open, so that kgpd never sees
 * an EOF of it that a MOVE still on its way would explain.  MOVED:
 * proxyd has written to the app everything kgpd had sent (ok = 1), or
 * could not (ok = 0: kgpd resets the stream); kgpd writes to the app
 * from then on.
 */
struct stream_move {
	uint64_t	 session;
	uint64_t	 offset;
	uint32_t	 tls;		/* 1: TLS (then MOVED_TLS) */
	uint32_t	 pad;
	char		 target[SC_TARGET_LEN];	/* sc-ctl show streams */
};
int	 stream_move_valid(const void *, size_t);	/* target ended */

struct stream_moved {
	uint64_t	 session;
	uint32_t	 ok;
	uint32_t	 pad;
};
int	 stream_moved_valid(const void *, size_t);	/* ok: 0 or 1 */

/*
 * A resigned stream's TLS connection to its app moves the same way
 * (MOVE with tls = 1), with what kgpd needs to carry its application
 * data (common/tls_rec.h): MOVED_TLS instead of MOVED, once proxyd has
 * written the app the last bytes kgpd sent it, gives the record keys of
 * both directions and their record numbers, then the bytes proxyd read
 * from the app's socket and OpenSSL did not (at most SC_TLS_LEFT_MAX).
 * kgpd reads the app's socket only from then on.
 */
#define SC_TLS_LEFT_MAX	16000

struct stream_moved_tls {
	uint64_t		 session;
	struct tls_rec_keys	 keys;
};
int	 stream_moved_tls_valid(const void *, size_t);	/* our keys */

/*
 * A long answer of known length on a keep-alive connection: proxyd
 * lends kgpd a copy of the app's socket for its body, so that the bytes
 * go from the app into DATA frames without crossing proxyd.  LEND:
 * proxyd had written offset bytes into the stream's socket in all and
 * will neither read the app nor write the stream's socket until LENT;
 * kgpd reads that many, then len bytes of the app, closes its copy and
 * goes back to the stream's socket.  LENT: how it ended (how, as
 * KGP_LENT_* in kgp.h: all of len, the app's EOF, a read error with
 * err, or the stream ended first) and how many bytes of the app went
 * into the stream.  A LEND kgpd cannot take is answered at once (how =
 * KGP_LENT_GONE, got = 0).
 */
struct stream_lend {
	uint64_t	 session;
	uint64_t	 offset;
	uint64_t	 len;
};

struct stream_lent {
	uint64_t	 session;
	uint64_t	 got;
	uint32_t	 how;
	uint32_t	 err;
};
int	 stream_lent_valid(const void *, size_t);	/* how: KGP_LENT_* */

/*
 * A tunnel connection changed state.  UP: resumed says whether the
 * streams survived (the session was resumed) or it is a fresh session;
 * retransmitted is what this resume sent again.  DOWN: resumable says
 * whether kgpd keeps the session for a resume (the controller should
 * reconnect this index) or the session is gone with its streams.
 */
struct kgp_link_event {
	uint32_t	 index;
	uint32_t	 resumed;	/* UP */
	uint32_t	 resumable;	/* DOWN */
	uint32_t	 code;		/* DOWN: the KGP code that ended it */
					/* (kgp.7), or 0 */
	uint64_t	 retransmitted;	/* UP: bytes sent again */
	char		 reason[SC_REASON_LEN];	/* DOWN */
};
int	 kgp_link_event_valid(const void *, size_t);

#define SC_LINK_NONE		0	/* no connection yet */
#define SC_LINK_UP		1
#define SC_LINK_BROKEN		2	/* session kept, waiting to resume */
#define SC_LINK_CONNECTING	3	/* controller: TCP connect or backoff */

/* one tunnel connection, as kgpd sees it (the controller fills state) */
struct sc_link_stats {
	uint32_t	 index;
	uint32_t	 state;		/* SC_LINK_* */
	uint64_t	 rtt_us;
	uint64_t	 streams_open;
	uint64_t	 bytes_in;
	uint64_t	 bytes_out;
	uint64_t	 retransmitted;	/* bytes sent again, all resumes */
	uint32_t	 breaks;	/* times the link was lost */
	uint32_t	 resumes;	/* ... and resumed with its streams */
	int64_t		 last_break;	/* Unix seconds, 0: never */
	int32_t		 pid;		/* controller: its kgpd's, 0: none */
	uint32_t	 pad;
};

/* the round trips kgpd measures, in kgp.h's KGP_RTT_BUCKETS buckets */
#define SC_RTT_BUCKETS		12

/* proxyd's answers to the streams, by status class: 1xx to 5xx */
#define SC_STATUS_CLASSES	5

/*
 * A helper's figures, every second.  kgpd fills the streams, the bytes
 * and the round trips; proxyd the streams, the bytes, its answers, its
 * name lookups that failed and the TLS connections to apps it handed to
 * kgpd; both their own CPU time and peak
 * resident memory (getrusage(2): no /proc in their chroot).
 */
struct sc_stats {
	uint64_t	 streams_open;
	uint64_t	 streams_total;
	uint64_t	 bytes_in;		/* from the server */
	uint64_t	 bytes_out;		/* to the server */
	uint64_t	 rtt_us;
	uint32_t	 link_up;
	uint32_t	 reconnects;
	uint64_t	 cpu_us;		/* user and system */
	uint64_t	 maxrss_kib;		/* peak resident memory */
	uint64_t	 rtt_count;		/* round trips measured */
	uint64_t	 rtt_sum_us;
	uint64_t	 rtt_buckets[SC_RTT_BUCKETS];
	uint64_t	 answers[SC_STATUS_CLASSES];	/* proxyd */
	uint64_t	 dns_failures;			/* proxyd */
	uint64_t	 tls_handovers;	/* proxyd: TLS to apps, to kgpd */
};
void	 sc_stats_self(struct sc_stats *);
/* kgpd's IMSG_STATS: struct sc_stats, then 0..SC_MAX_CONNECTIONS links */
#define SC_STATS_MAX	(sizeof(struct sc_stats) + \
	SC_MAX_CONNECTIONS * sizeof(struct sc_link_stats))
int	 sc_stats_links_valid(const void *, size_t);

/*
 * The control socket.  Its protocol has a version of its own: sc-ctl is
 * a separate program, which an operator may run against an sc of
 * another installation.  Bump SC_CTL_VERSION whenever a CTL message or
 * struct ctl_status changes; sc refuses a request of another version
 * with an IMSG_CTL_FAIL that says so, and sc-ctl an answer of another
 * version.  sc_ctl_path() is where both look for the socket of a
 * tunnel name: SC_RUNDIR as root, else $XDG_RUNTIME_DIR or /tmp.
 */
#define SC_CTL_VERSION	5	/* 2: IMSG_CTL_RECONNECT, 3: _STREAMS, */
				/* 4: a connection's kgpd pid, */
				/* 5: tls_handovers */
#define SC_CTL_FAIL_LEN	1024
int	 sc_ctl_path(const char *, char *, size_t);

#define CTL_STATE_LEN	32

struct ctl_status {
	char		 tunnel_id[SC_ID_LEN];
	char		 tunnel_name[SC_HOST_LEN];
	char		 server[SC_HOST_LEN];
	char		 state[CTL_STATE_LEN];
	int64_t		 started;		/* Unix seconds */
	uint64_t	 streams_open;
	uint64_t	 streams_total;
	uint64_t	 bytes_in;
	uint64_t	 bytes_out;
	uint64_t	 rtt_us;
	uint32_t	 reconnects;
	int32_t		 controller_pid;
	int32_t		 kgpd_pid;
	int32_t		 proxyd_pid;
	uint32_t	 nlinks;	/* then nlinks struct sc_link_stats */
	uint32_t	 pad;
	uint64_t	 tls_handovers;	/* proxyd's, to kgpd */
};
/* IMSG_CTL_STATUS_INFO: its strings terminated, exactly its nlinks */
int	 ctl_status_valid(const void *, size_t);

/*
 * The open streams (sc-ctl show streams), named by session and id as
 * kgpd and proxyd both know them.  kgpd fills conn, the bytes and the
 * age; proxyd the target (host:port of a CONNECT, or the URL of the
 * request under way), as kgpd does for a tunnel proxyd moved to it and
 * forgot (IMSG_STREAM_MOVE's target); the controller joins the two.
 * One answer holds at most SC_STREAMS_LIST streams (kgpd: connection by
 * connection, by id; proxyd: the oldest); total says how many are open
 * in all, so total - n were left out.
 */
#define SC_STREAMS_LIST		48

struct sc_stream {
	uint64_t	 session;
	uint32_t	 id;
	uint32_t	 conn;		/* tunnel connection index */
	uint64_t	 bytes_in;	/* from the server */
	uint64_t	 bytes_out;	/* to the server */
	uint64_t	 age_ms;
	char		 target[SC_TARGET_LEN];	/* "": not known */
};

struct sc_streams {
	uint32_t	 total;		/* open in all */
	uint32_t	 n;		/* listed: at most SC_STREAMS_LIST */
};
#define SC_STREAMS_MAX	(sizeof(struct sc_streams) + \
	SC_STREAMS_LIST * sizeof(struct sc_stream))
/* IMSG_STREAMS, IMSG_CTL_STREAMS_INFO: exactly n, targets terminated */
int	 sc_streams_valid(const void *, size_t);

#endif /* SC_IMSG_TYPES_H */
