/*
 * An imsg channel driven by libevent, and helpers every process uses.
 */
#ifndef SC_PROC_H
#define SC_PROC_H

#include <sys/types.h>
#include <event2/event.h>

#include "imsg.h"

struct imsgev {
	struct imsgbuf	 ibuf;
	struct event	*ev;
	struct event_base *base;
	void		(*handler)(int, short, void *);
	void		*data;
	short		 events;
};

void	 imsgev_init(struct imsgev *, struct event_base *, int,
	    void (*)(int, short, void *), void *);
void	 imsgev_clear(struct imsgev *);
void	 imsg_event_add(struct imsgev *);
int	 imsg_compose_event(struct imsgev *, uint32_t, uint32_t, pid_t, int,
	    const void *, size_t);
int	 imsgev_io(struct imsgev *, short);
void	 imsgev_log_sink(struct imsgev *);
int	 set_nonblock(int);
int	 set_cloexec(int, int);

/* a helper process about to be exec'd: its environment, its signals */
#define PROC_ENV_SLOTS	8	/* what proc_child_env() fills, NULL too */
#define PROC_ENV_LEN	512
struct proc_env {
	char		*envp[PROC_ENV_SLOTS];
	char		 buf[PROC_ENV_SLOTS - 2][PROC_ENV_LEN];
};
void	 proc_child_env(struct proc_env *);
void	 proc_child_signals(void);
/* give memory freed after a burst back to the system, now and then */
void	 proc_trim_start(struct event_base *);

#endif /* SC_PROC_H */
