/*
 * kgpd: the KGP client of sc.  It speaks TLS and KGP on the sockets the
 * controller connects and passes it, and hands every stream the server
 * opens to proxyd as one end of a socketpair.  It opens no network
 * connection and no file of its own.
 *
 * fd 3 (KGPD_CTL_FD): imsg channel to the controller: configuration,
 *	 connected sockets, link state, statistics, log lines.
 * fd 4 (KGPD_PROXYD_FD): imsg channel to proxyd: one IMSG_STREAM_FD per
 *	 stream; proxyd hands back the app's socket of a tunnel with
 *	 IMSG_STREAM_MOVE, and lends it for a long answer with
 *	 IMSG_STREAM_LEND.
 *
 * The messages, with who sends each to whom, are in imsg_types.h; what
 * kgpd takes from each peer is in the tables at the top of kgpd.c.  The
 * program is that one file: its functions are its own (static).
 */
#ifndef KGPD_H
#define KGPD_H

#include <sys/types.h>
#include <sys/queue.h>

#include <stdint.h>

#define KGPD_CTL_FD	3
#define KGPD_PROXYD_FD	4

struct kgp_conn;

/*
 * One index of the tunnel connections, which the controller keeps
 * connected: the session on it, and the figures of those it had.  (A
 * link is what the KGP engine and the controller call the connection
 * itself, which comes and goes under a session.)
 */
struct slot {
	struct kgp_conn		*conn;		/* its session, if any */
	uint32_t		 breaks;	/* of sessions that ended */
	uint32_t		 resumes;
	uint64_t		 retransmitted;
	int64_t			 last_break;
};

/* a connection the server drains (GOAWAY): it ends with its streams */
struct retired {
	TAILQ_ENTRY(retired)	 entry;
	struct kgp_conn		*conn;
};

#endif /* KGPD_H */
