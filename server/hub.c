/*
 * The workers' hub: what their parts (registry.c, state.c, tunnel.c,
 * entry.c) send to the parent, or through it to the other worker, and
 * the answers they wait for (an entry proxy's port, a registry written).
 * It holds the worker's end of the channel, which worker.c opens and
 * reads; it is called by the parts and by worker.c, and calls neither:
 * what the worker's start waits for is told through the callback given
 * to hub_init().
 */
#include <sys/types.h>
#include <sys/queue.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "imsg_server.h"
#include "log.h"
#include "proc.h"
#include "server.h"

/* an entry proxy port asked of the parent */
struct entry_bind {
	TAILQ_ENTRY(entry_bind)	 entry;
	uint64_t		 reqid;
	void			(*cb)(int, const char *, void *);
	void			*arg;
};

/* something to do once the registry of sequence number seq is written */
struct save_wait {
	TAILQ_ENTRY(save_wait)	 entry;
	uint64_t		 seq;
	void			(*cb)(void *, int);
	void			*arg;
};

static struct imsgev		*hub_iev;	/* to the parent */
static void			(*hub_progress)(void);
static uint64_t			 bind_reqid, save_seq, saved_seq;
static int			 nbinds;	/* asked, not yet answered */
static TAILQ_HEAD(, entry_bind)	binds = TAILQ_HEAD_INITIALIZER(binds);
static TAILQ_HEAD(, save_wait)	waits = TAILQ_HEAD_INITIALIZER(waits);

/*
 * iev: the channel to the parent.  progress(): an entry port or a
 * registry's answer came, or the KGP worker answered for every tunnel:
 * what the worker's start waits for may be complete.
 */
void
hub_init(struct imsgev *iev, void (*progress)(void))
{
	hub_iev = iev;
	hub_progress = progress;
}

/* A message for the parent, or for the other worker through it. */
void
worker_send(uint32_t type, const void *data, size_t len)
{
	if (imsg_compose_event(hub_iev, type, 0, 0, -1, data, len) == -1)
		fatal("%s: imsg_compose", __func__);
}

/* The same with a descriptor, which goes (closed here once sent). */
int
worker_send_fd(uint32_t type, int fd, const void *data, size_t len)
{
	return (imsg_compose_event(hub_iev, type, 0, 0, fd, data, len));
}

/*
 * Ask the parent for an entry proxy port for tunnel id: want, or one the
 * kernel chooses (want 0, or want taken).  cb gets the listening socket
 * and its address, or -1.  Returns -1 if the request cannot be sent.
 */
int
worker_entry_bind(const char *id, int want, void (*cb)(int, const char *,
    void *), void *arg)
{
	struct srv_entry_req	 req;
	struct entry_bind	*b;

	if ((b = calloc(1, sizeof(*b))) == NULL) {
		log_warn("%s", __func__);
		return (-1);
	}
	memset(&req, 0, sizeof(req));
	req.reqid = ++bind_reqid;
	strlcpy(req.tunnel_id, id, sizeof(req.tunnel_id));
	req.want = want;
	if (imsg_compose_event(hub_iev, IMSG_SRV_ENTRY_BIND, 0, 0, -1,
	    &req, sizeof(req)) == -1) {
		free(b);
		return (-1);
	}
	b->reqid = req.reqid;
	b->cb = cb;
	b->arg = arg;
	TAILQ_INSERT_TAIL(&binds, b, entry);
	nbinds++;
	return (0);
}

/* IMSG_SRV_ENTRY_FD: the parent's answer to a worker_entry_bind(). */
int
worker_entry_fd(struct imsgev *iev, struct imsg *imsg)
{
	struct srv_entry_reply	 rep;
	struct entry_bind	*b;
	int			 fd;

	memcpy(&rep, imsg->data, sizeof(rep));
	TAILQ_FOREACH(b, &binds, entry)
		if (b->reqid == rep.reqid)
			break;
	if (b == NULL || (imsg->fd == -1) != (rep.bound[0] == '\0')) {
		log_warnx("%s: an answer to no request", __func__);
		return (IMSGEV_BAD);
	}
	fd = imsg_get_fd(imsg);
	if (fd != -1 && set_nonblock(fd) == -1)
		fatal("%s: set_nonblock", __func__);
	TAILQ_REMOVE(&binds, b, entry);
	nbinds--;
	b->cb(fd, rep.bound, b->arg);
	free(b);
	hub_progress();
	return (IMSGEV_OK);
}

/* Entry ports asked and not yet answered. */
int
worker_binds_pending(void)
{
	return (nbinds);
}

/*
 * Send a registry to write.  Returns its sequence number, or 0 with errno
 * set if it cannot be sent.
 */
uint64_t
worker_save(const char *text, size_t len)
{
	if (srv_blob_send(hub_iev, SRV_BLOB_SAVE, text, len,
	    save_seq + 1) == -1)
		return (0);
	return (++save_seq);
}

/*
 * cb(arg, error) once the parent has answered for the registry of
 * sequence number seq (worker_save()): error 0 if it is on disk, else
 * the errno of the failure.  Each registry sent gets its answer, in
 * order, so every waiter hears once, in the order it came.
 */
void
worker_after_save(uint64_t seq, void (*cb)(void *, int), void *arg)
{
	struct save_wait	*w;

	if (seq <= saved_seq || seq > save_seq)
		fatalx("%s: no registry %llu waits for its answer", __func__,
		    (unsigned long long)seq);
	if ((w = calloc(1, sizeof(*w))) == NULL)
		fatal("%s", __func__);
	w->seq = seq;
	w->cb = cb;
	w->arg = arg;
	TAILQ_INSERT_TAIL(&waits, w, entry);
}

/*
 * IMSG_SRV_SAVED: the answer for the next registry sent
 * (srv_saved_valid() has run).
 */
int
worker_saved(struct imsgev *iev, struct imsg *imsg)
{
	struct save_wait	*w, *tmp;
	struct srv_saved	 sv;

	memcpy(&sv, imsg->data, sizeof(sv));
	if (sv.seq != saved_seq + 1 || sv.seq > save_seq)
		return (IMSGEV_BAD);
	saved_seq = sv.seq;
	TAILQ_FOREACH_SAFE(w, &waits, entry, tmp) {
		if (w->seq > saved_seq)
			continue;
		TAILQ_REMOVE(&waits, w, entry);
		w->cb(w->arg, sv.error);
		free(w);
	}
	hub_progress();
	return (IMSGEV_OK);
}

/* The sequence number of the last registry sent, and answered. */
uint64_t
worker_saves_sent(void)
{
	return (save_seq);
}

uint64_t
worker_saves_answered(void)
{
	return (saved_seq);
}

/* The registry read at start does not parse: the parent keeps it aside. */
void
worker_state_aside(void)
{
	imsg_compose_event(hub_iev, IMSG_SRV_STATE_ASIDE, 0, 0, -1, NULL, 0);
}

/* The KGP worker answered for every tunnel of the registry. */
void
worker_restore_done(void)
{
	hub_progress();
}

/*
 * An event for the log (the parent keeps it): kind EVENT_*, whose it is
 * (account), who did it (actor, "" for the server), to what (subject)
 * and more (detail).  Names that are not account names are left empty,
 * control characters in the texts made printable.
 */
void
worker_event(int kind, const char *account, const char *actor,
    const char *subject, const char *detail)
{
	struct srv_event	 ev;

	memset(&ev, 0, sizeof(ev));
	ev.time = time(NULL);
	ev.kind = kind;
	if (account != NULL && account_name_valid(account))
		strlcpy(ev.account, account, sizeof(ev.account));
	if (actor != NULL && account_name_valid(actor))
		strlcpy(ev.actor, actor, sizeof(ev.actor));
	log_sanitize(subject ? subject : "", ev.subject, sizeof(ev.subject));
	log_sanitize(detail ? detail : "", ev.detail, sizeof(ev.detail));
	worker_send(IMSG_SRV_EVENT, &ev, sizeof(ev));
}
