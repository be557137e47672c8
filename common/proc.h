/*
 * An imsg channel driven by libevent, the dispatcher every process reads
 * its channels with, and helpers every process uses.
 */
#ifndef SC_PROC_H
#define SC_PROC_H

#include <sys/types.h>
#include <stdint.h>
#include <event2/event.h>

#include "imsg.h"
#include "imsg_types.h"

struct imsgev;

/*
 * One message a peer may send: its type, its payload's size (min to
 * max bytes), flags, a validator of the payload (NULL: the size says
 * enough) and the handler.  A peer's messages are an array of these,
 * ended by IMSGEV_END; its order is the order in which the dispatcher
 * tries them, and at most IMSGEV_MAXMSGS.
 */
struct imsgev_msg {
	uint32_t	 type;
	const char	*name;			/* "IMSG_HELLO" */
	size_t		 min;
	size_t		 max;
	int		 flags;
	int		(*valid)(const void *, size_t);	/* 0: it fits */
	int		(*fn)(struct imsgev *, struct imsg *);
};
/*
 * execv(2) takes char *const argv[] for historical reasons and writes
 * none of them: a const string goes in through this, as NetBSD's
 * __UNCONST does, rather than a cast that -Wcast-qual rightly flags.
 */
#define UNCONST(p)	((void *)(uintptr_t)(const void *)(p))

#define IMSGEV_MAXMSGS	64

#define IMSGEV_ONCE	0x01	/* a second one is a bad message */
#define IMSGEV_FD	0x02	/* carries a descriptor */
#define IMSGEV_FDOPT	0x04	/* may carry one (the handler decides) */
#define IMSGEV_STRING	0x08	/* one NUL-terminated string, max included */
#define IMSGEV_HELLO	0x10	/* the peer's first word: only EARLY before */
#define IMSGEV_EARLY	0x20	/* taken before the hello */

/* a type and its name; the size of a fixed payload; no payload */
#define IMSGEV_TYPE(t)		(t), #t
#define IMSGEV_SIZE(s)		sizeof(s), sizeof(s)
#define IMSGEV_EMPTY		0, 0
#define IMSGEV_END		{ 0, NULL, 0, 0, 0, NULL, NULL }

/* what a handler returns */
#define IMSGEV_OK	0
#define IMSGEV_BAD	(-1)	/* the message does not fit: the policy */
#define IMSGEV_GONE	1	/* it closed or freed the channel: stop */

/* what a bad message costs, by who sent it */
enum imsgev_policy {
	IMSGEV_FATAL,		/* the trusted parent: this process exits */
	IMSGEV_CLOSE,		/* a child, a worker, a client: peer->bad() */
	IMSGEV_DROP		/* between children: logged and dropped */
};

/* what was wrong with it, for peer->bad() */
enum imsgev_error {
	IMSGEV_EFRAME = 1,	/* a broken header: the channel is unusable */
	IMSGEV_EVERSION,	/* peerid is not the peer's version */
	IMSGEV_ETYPE,		/* a type this peer may not send */
	IMSGEV_EHELLO,		/* before the hello */
	IMSGEV_EONCE,		/* a once-only message, again */
	IMSGEV_ESIZE,		/* the wrong size */
	IMSGEV_EFD,		/* a descriptor missing, or one too many */
	IMSGEV_EINVAL		/* a payload that does not check out */
};

/*
 * A peer: the process at the other end of a channel, and what it may
 * send.  gone(): the channel closed (EOF, an error).  bad():
 * IMSGEV_CLOSE's answer to a bad message (NULL: a broken header), with
 * what was wrong and a line that says it; it closes the channel.
 * IMSGEV_DROP drops a bad message, but a broken header is fatal there
 * too: nothing after it can be read.  version: when not 0, every
 * message's peerid must be it.
 */
struct imsgev_peer {
	const char		*name;		/* in log lines: "kgpd" */
	enum imsgev_policy	 policy;
	uint32_t		 version;
	const struct imsgev_msg	*msgs;
	void			(*gone)(struct imsgev *);
	void			(*bad)(struct imsgev *, struct imsg *,
				    enum imsgev_error, const char *);
};

struct imsgev {
	struct imsgbuf	 ibuf;
	struct event	*ev;
	struct event_base *base;
	void		(*handler)(int, short, void *);
	void		*data;
	const struct imsgev_peer *peer;	/* imsgev_open() */
	uint64_t	 seen;		/* of peer->msgs, by index */
	short		 events;
};

void	 imsgev_init(struct imsgev *, struct event_base *, int,
	    void (*)(int, short, void *), void *);
void	 imsgev_open(struct imsgev *, struct event_base *, int,
	    const struct imsgev_peer *, void *);
void	 imsgev_replace(struct imsgev *, int);
void	 imsgev_dispatch(int, short, void *);
void	 imsgev_clear(struct imsgev *);
void	 imsg_event_add(struct imsgev *);
int	 imsg_compose_event(struct imsgev *, uint32_t, uint32_t, pid_t, int,
	    const void *, size_t);
int	 imsg_compose_now(struct imsgev *, uint32_t, uint32_t, pid_t, int,
	    const void *, size_t);
int	 imsgev_io(struct imsgev *, short);

/*
 * Log lines: a child sends every line to its parent (imsgev_log_sink),
 * whose table takes them with IMSGEV_MSG_LOG; a parent sets a child's
 * verbosity with IMSG_LOG_VERBOSE, which the child's table takes with
 * IMSGEV_MSG_VERBOSE.
 */
void	 imsgev_log_sink(struct imsgev *);
int	 proc_recv_log(struct imsgev *, struct imsg *);
int	 proc_recv_verbose(struct imsgev *, struct imsg *);
#define IMSGEV_MSG_LOG		{ IMSGEV_TYPE(IMSG_LOG), sizeof(int32_t) + 1, \
	IMSG_MAXDATA, IMSGEV_EARLY, imsg_log_valid, proc_recv_log }
#define IMSGEV_MSG_VERBOSE	{ IMSGEV_TYPE(IMSG_LOG_VERBOSE), \
	IMSGEV_SIZE(int32_t), 0, imsg_verbose_valid, proc_recv_verbose }

int	 set_nonblock(int);
int	 set_cloexec(int, int);
int64_t	 mono_ms(void);
void	 timer_add(struct event *, long, long);

/* a helper process about to be exec'd: its environment, its signals */
#define PROC_ENV_SLOTS	8	/* what proc_child_env() fills, NULL too */
#define PROC_ENV_LEN	512
struct proc_env {
	char		*envp[PROC_ENV_SLOTS];
	char		 buf[PROC_ENV_SLOTS - 2][PROC_ENV_LEN];
};
void	 proc_child_env(struct proc_env *);
void	 proc_child_signals(void);
/* a helper's side: its command line (the spawner's), its hello */
int	 proc_helper_args(int, char *[], const char **, int *);
void	 proc_hello(struct imsgev *);
/* give memory freed after a burst back to the system, now and then */
void	 proc_trim_start(struct event_base *);

#endif /* SC_PROC_H */
