/*
 * The tunnel registry of the REST worker: the tunnels with their owners
 * and settings, what the REST API answers and what goes to disk.  The
 * KGP worker runs them: it gets each tunnel (its id, secret and entry
 * port) through the parent (IMSG_SRV_TUNNEL_ADD), and reports what
 * becomes of it (IMSG_SRV_TUNNEL_STATE: its entry proxy, its links, its
 * end), which this side applies and saves.  Neither side trusts the
 * other with more than that: the KGP worker never sees an account, this
 * one never a KGP connection or a stream.
 *
 * A new KGP worker (the old one died) is told every running tunnel
 * again; a new REST worker reads the registry back and asks the KGP
 * worker how each running tunnel is (SRV_ADD_SYNC): one it no longer has
 * ended meanwhile.
 */
#include <sys/types.h>
#include <sys/queue.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "imsg.h"
#include "imsg_server.h"
#include "log.h"
#include "rules.h"
#include "server.h"

/* a tunnel being created: waiting for its entry proxy */
static struct tunnellist	 pending = TAILQ_HEAD_INITIALIZER(pending);
static int			 restoring;	/* answers still to come */

/* a tunnel being created: waiting for the registry holding it on disk */
struct reg_wait {
	char			 id[TUNNEL_ID_LEN + 1];
	void			(*cb)(struct tunnel *, int, const char *,
				    void *);
	void			*arg;
};

static void	 reg_send(struct tunnel *, uint32_t);
static void	 reg_send_rules(struct tunnel *);
static void	 reg_answered(struct tunnel *);
static void	 reg_created(struct tunnel *);
static void	 reg_saved(void *, int);
static void	 reg_unsaved(struct tunnel *, int, void (*)(struct tunnel *,
		    int, const char *, void *), void *);
static size_t	 reg_bytes(const char *);
static int	 reg_count_active(const char *);

/*
 * The traffic rules of t, for the KGP worker: each list in as few
 * messages as hold it (IMSG_SRV_TUNNEL_RULES), before its TUNNEL_ADD.
 */
static void
reg_send_rules(struct tunnel *t)
{
	struct srv_tunnel_rules	 h;
	unsigned char		 buf[IMSG_MAXDATA];
	const char		*field, *s;
	json_t			*a, *e;
	size_t			 i, len, n;
	int			 l, syn;

	if (t->rule_lists == NULL)
		return;
	for (l = 0; l < RULES_NLISTS; l++)
		for (syn = RULES_V4; syn <= RULES_V5; syn++) {
			if ((field = rules_field(l, syn)) == NULL ||
			    (a = json_object_get(t->rule_lists,
			    field)) == NULL || json_array_size(a) == 0)
				continue;
			memset(&h, 0, sizeof(h));
			strlcpy(h.id, t->id, sizeof(h.id));
			h.list = l;
			h.syntax = syn;
			len = sizeof(h);
			json_array_foreach(a, i, e) {
				s = json_string_value(e);
				n = strlen(s) + 1;
				if (len + n > sizeof(buf)) {
					memcpy(buf, &h, sizeof(h));
					worker_send(IMSG_SRV_TUNNEL_RULES, buf,
					    len);
					h.count = 0;
					len = sizeof(h);
				}
				memcpy(buf + len, s, n);
				len += n;
				h.count++;
			}
			memcpy(buf, &h, sizeof(h));
			worker_send(IMSG_SRV_TUNNEL_RULES, buf, len);
		}
}

static void
reg_send(struct tunnel *t, uint32_t mode)
{
	struct srv_tunnel_add	 a;

	if (mode != SRV_ADD_SYNC)
		reg_send_rules(t);
	memset(&a, 0, sizeof(a));
	strlcpy(a.id, t->id, sizeof(a.id));
	strlcpy(a.secret, t->secret, sizeof(a.secret));
	strlcpy(a.owner, t->owner, sizeof(a.owner));
	a.mode = mode;
	a.want = mode == SRV_ADD_NEW ? 0 : t->entry_port;
	a.last_connected = t->last_connected;
	worker_send(IMSG_SRV_TUNNEL_ADD, &a, sizeof(a));
	explicit_bzero(&a, sizeof(a));
}

/*
 * May owner have the new tunnel t (its settings checked, t->size set)?
 * Returns 0, or the HTTP status to answer with a message in err: 429
 * for too many tunnels, 413 for too many bytes of settings of one
 * account, 503 when the registry as a whole is full.
 */
int
reg_admit(struct tunnel *t, char *err, size_t errlen)
{
	size_t	 mine, all;

	if (reg_count_active(t->owner) >= TUNNEL_MAX_PER_USER) {
		snprintf(err, errlen, "too many tunnels (at most %d)",
		    TUNNEL_MAX_PER_USER);
		return (429);
	}
	/* restored tunnels were not admitted: there may be more already */
	mine = reg_bytes(t->owner);
	if (mine > ACCOUNT_TUNNELS_MAX ||
	    t->size > ACCOUNT_TUNNELS_MAX - mine) {
		snprintf(err, errlen, "the tunnel would take %zu bytes of the "
		    "registry, and the account's tunnels take %zu already: at "
		    "most %d in all", t->size, mine, ACCOUNT_TUNNELS_MAX);
		return (413);
	}
	all = reg_bytes(NULL);
	if (all > TUNNELS_LIVE_MAX || t->size > TUNNELS_LIVE_MAX - all) {
		snprintf(err, errlen, "the server's tunnel registry is full "
		    "(%zu bytes)", all);
		return (503);
	}
	return (0);
}

/*
 * The bytes in the registry of the tunnels of owner (NULL: of all) that
 * are not terminated, those being created included.
 */
static size_t
reg_bytes(const char *owner)
{
	struct tunnel	*t;
	size_t		 n = 0;

	TAILQ_FOREACH(t, &env->tunnels, entry)
		if (t->status != TUNNEL_TERMINATED &&
		    (owner == NULL || strcmp(t->owner, owner) == 0))
			n += t->size;
	TAILQ_FOREACH(t, &pending, entry)
		if (owner == NULL || strcmp(t->owner, owner) == 0)
			n += t->size;
	return (n);
}

/*
 * A REST POST: the KGP worker opens the tunnel's entry proxy; once it
 * says so, the tunnel is in the registry, which is written.  cb hears
 * once: (t, 0, NULL) when the registry holding t is on disk, or (NULL,
 * status, why) when the tunnel is gone: 500 if it got no entry proxy,
 * 503 if the registry could not be written (then the KGP worker drops
 * the tunnel too).
 */
int
reg_start(struct tunnel *t, void (*cb)(struct tunnel *, int, const char *,
    void *), void *arg)
{
	t->start_cb = cb;
	t->start_arg = arg;
	TAILQ_INSERT_TAIL(&pending, t, entry);
	reg_send(t, SRV_ADD_NEW);
	return (0);
}

/*
 * A tunnel read back from tunnels.json (state_load()): taken, or -1 for
 * one of an owner who has too many running already.
 */
int
reg_restore(struct tunnel *t, char *err, size_t errlen)
{
	if (t->status != TUNNEL_TERMINATED &&
	    reg_count_active(t->owner) >= TUNNEL_MAX_PER_USER) {
		snprintf(err, errlen, "tunnel %s: %s has too many tunnels",
		    t->id, t->owner);
		return (-1);
	}
	TAILQ_INSERT_TAIL(&env->tunnels, t, entry);
	if (t->status != TUNNEL_RUNNING)
		return (0);
	t->waiting = 1;
	restoring++;
	reg_send(t, env->resync ? SRV_ADD_SYNC : SRV_ADD_RESTORE);
	return (0);
}

/* Tunnels of the registry still waiting for the KGP worker's answer. */
int
reg_waiting(void)
{
	return (restoring);
}

static void
reg_answered(struct tunnel *t)
{
	if (!t->waiting)
		return;
	t->waiting = 0;
	if (--restoring == 0)
		worker_restore_done();
}

/* A new KGP worker: every running tunnel again, then the end of them. */
void
reg_send_all(void)
{
	struct tunnel	*t;

	TAILQ_FOREACH(t, &env->tunnels, entry)
		if (t->status == TUNNEL_RUNNING)
			reg_send(t, SRV_ADD_RESTORE);
	worker_send(IMSG_SRV_TUNNELS_END, NULL, 0);
}

void
reg_kgp_up(void)
{
	log_debug("a new KGP worker: telling it the running tunnels");
	reg_send_all();
}

/*
 * The KGP worker died: its links are gone, a halting tunnel is over, a
 * tunnel being created gets no entry proxy.
 */
void
reg_kgp_down(void)
{
	struct tunnel	*t, *tmp;
	int		 changed = 0;

	TAILQ_FOREACH_SAFE(t, &pending, entry, tmp) {
		TAILQ_REMOVE(&pending, t, entry);
		t->start_cb(NULL, 500, "cannot open the entry proxy",
		    t->start_arg);
		tunnel_free(t);
	}
	TAILQ_FOREACH(t, &env->tunnels, entry) {
		t->nlinks = 0;
		t->connected = 0;
		if (t->status == TUNNEL_HALTING) {
			t->status = TUNNEL_TERMINATED;
			t->shutdown_time = time(NULL);
			log_info("tunnel %s terminated: deleted", t->id);
			changed = 1;
		}
		reg_answered(t);
	}
	if (changed)
		state_save();
}

/* What the KGP worker says of a tunnel. */
void
reg_state(const struct srv_tstate *ts)
{
	struct tunnel	*t;
	int		 changed = 0, ostatus, onlinks;

	TAILQ_FOREACH(t, &pending, entry)
		if (strcmp(t->id, ts->id) == 0)
			break;
	if (t != NULL) {
		TAILQ_REMOVE(&pending, t, entry);
		if (ts->status != TUNNEL_RUNNING || ts->entry_port == 0 ||
		    ts->entry_addr[0] == '\0') {
			log_warnx("tunnel %s of %s: no entry proxy port", t->id,
			    t->owner);
			t->start_cb(NULL, 500, "cannot open the entry proxy",
			    t->start_arg);
			tunnel_free(t);
			return;
		}
		t->entry_port = ts->entry_port;
		strlcpy(t->entry_addr, ts->entry_addr, sizeof(t->entry_addr));
		t->nlinks = ts->nlinks;
		t->connected = ts->connected;
		reg_created(t);
		return;
	}
	if ((t = tunnel_find(ts->id)) == NULL) {
		log_debug("tunnel %s: a report for no tunnel", ts->id);
		return;
	}
	ostatus = t->status;
	onlinks = t->nlinks;
	if (ts->entry_port != 0 && (int)ts->entry_port != t->entry_port) {
		t->entry_port = ts->entry_port;
		changed = 1;
	}
	if (ts->entry_addr[0] != '\0')
		strlcpy(t->entry_addr, ts->entry_addr, sizeof(t->entry_addr));
	if (ts->last_connected > t->last_connected) {
		t->last_connected = ts->last_connected;
		changed = 1;
	}
	t->nlinks = ts->nlinks;
	t->connected = ts->connected;
	/* a status only moves on (a DELETE may have gone ahead) */
	if (ts->status > (uint32_t)t->status) {
		t->status = ts->status;
		if (t->status == TUNNEL_TERMINATED) {
			t->shutdown_time = ts->shutdown_time ?
			    ts->shutdown_time : time(NULL);
			t->nlinks = t->connected = 0;
		}
		changed = 1;
	}
	weblinks_state(t, ts, ostatus, onlinks);
	reg_answered(t);
	if (changed)
		state_save();
}

/*
 * A new tunnel has its entry proxy: into the registry, which is written
 * before the client hears of the tunnel (it gets the secret then).
 */
static void
reg_created(struct tunnel *t)
{
	void		(*cb)(struct tunnel *, int, const char *, void *);
	struct reg_wait	*w;
	uint64_t	 seq;
	void		*arg;

	cb = t->start_cb;
	arg = t->start_arg;
	t->start_cb = NULL;
	t->start_arg = NULL;
	TAILQ_INSERT_TAIL(&env->tunnels, t, entry);
	weblinks_event(t, "created by %s", t->owner);
	if ((seq = state_save()) == 0) {
		reg_unsaved(t, errno, cb, arg);
		return;
	}
	if ((w = calloc(1, sizeof(*w))) == NULL)
		fatal("%s", __func__);
	strlcpy(w->id, t->id, sizeof(w->id));
	w->cb = cb;
	w->arg = arg;
	worker_after_save(seq, reg_saved, w);
}

/* The registry holding a new tunnel was written (error 0), or not. */
static void
reg_saved(void *arg, int error)
{
	struct reg_wait	*w = arg;
	struct tunnel	*t;

	if ((t = tunnel_find(w->id)) == NULL || t->status !=
	    TUNNEL_RUNNING) {
		/* a DELETE went ahead of the answer (its id is listed) */
		w->cb(NULL, 500, "the tunnel ended before it was saved",
		    w->arg);
	} else if (error != 0)
		reg_unsaved(t, error, w->cb, w->arg);
	else {
		log_info("tunnel %s created for %s (\"%s\"), entry proxy %s",
		    t->id, t->owner, t->identifier ? t->identifier : "",
		    t->entry_addr);
		w->cb(t, 0, NULL, w->arg);
	}
	free(w);
}

/*
 * The registry holding the new tunnel t could not be written (errno
 * error): a tunnel its client cannot hear of must not run.  It leaves
 * the registry and the KGP worker, and cb hears why.  (The failure
 * itself is logged by state.c, a line every few seconds at most.)
 */
static void
reg_unsaved(struct tunnel *t, int error, void (*cb)(struct tunnel *, int,
    const char *, void *), void *arg)
{
	struct srv_tunnel_ref	 ref;
	char			 why[256];

	log_debug("tunnel %s of %s not created: the registry was not saved",
	    t->id, t->owner);
	memset(&ref, 0, sizeof(ref));
	strlcpy(ref.id, t->id, sizeof(ref.id));
	ref.why = SRV_DEL_UNSAVED;
	worker_send(IMSG_SRV_TUNNEL_DEL, &ref, sizeof(ref));
	TAILQ_REMOVE(&env->tunnels, t, entry);
	tunnel_free(t);
	/* a registry written meanwhile may hold it */
	state_save_soon();
	snprintf(why, sizeof(why), "cannot save the tunnel registry: %s",
	    strerror(error));
	cb(NULL, 503, why, arg);
}

/*
 * REST DELETE: the KGP worker closes the links; halting until they are
 * gone (it says so), terminated at once when there is none.
 */
void
reg_delete(struct tunnel *t)
{
	struct srv_tunnel_ref	 ref;

	if (t->status != TUNNEL_RUNNING)
		return;
	t->user_shutdown = 1;
	memset(&ref, 0, sizeof(ref));
	strlcpy(ref.id, t->id, sizeof(ref.id));
	ref.why = SRV_DEL_USER;
	worker_send(IMSG_SRV_TUNNEL_DEL, &ref, sizeof(ref));
	if (t->nlinks == 0) {
		t->status = TUNNEL_TERMINATED;
		t->shutdown_time = time(NULL);
		t->connected = 0;
		log_debug("tunnel %s terminated: deleted", t->id);
	} else {
		t->status = TUNNEL_HALTING;
		log_debug("tunnel %s halting: deleted", t->id);
	}
	weblinks_event(t, "stopped by its owner: %s",
	    tunnel_status_name(t->status));
	state_save();
}

/*
 * -P, for the KGP worker: the credentials of an entry connection's first
 * request name the tunnel's owner (any account for a shared tunnel).
 * Wrong credentials count in the failed-login throttle (guard.c), in a
 * realm of their own: they never make the REST API wait.
 */
void
reg_auth(const struct srv_auth_req *req, struct srv_auth_rep *rep)
{
	struct tunnel	*t;
	const char	*known;
	int		 retry = 0;

	memset(rep, 0, sizeof(*rep));
	rep->reqid = req->reqid;
	rep->result = SRV_AUTH_DENIED;
	if (!req->have)
		return;		/* no credentials: no failed login */
	known = account_find(&env->accounts, req->user) ? req->user : NULL;
	if (throttle_check(THROTTLE_ENTRY, req->addr, known, &retry)) {
		rep->result = SRV_AUTH_LIMITED;
		rep->retry = retry;
		return;
	}
	if (account_check(&env->accounts, req->user, req->key) != 0) {
		throttle_fail(THROTTLE_ENTRY, req->addr, known);
		return;
	}
	throttle_ok(THROTTLE_ENTRY, req->addr, req->user);
	/* good credentials: denied or not, no failed login */
	t = tunnel_find(req->tunnel_id);
	if (t != NULL && t->status == TUNNEL_RUNNING &&
	    (t->shared_tunnel || strcmp(req->user, t->owner) == 0))
		rep->result = SRV_AUTH_OK;
}

/* Tunnels of owner that are not terminated, those being created too. */
static int
reg_count_active(const char *owner)
{
	struct tunnel	*t;
	int		 n = 0;

	TAILQ_FOREACH(t, &env->tunnels, entry)
		if (t->status != TUNNEL_TERMINATED &&
		    strcmp(t->owner, owner) == 0)
			n++;
	TAILQ_FOREACH(t, &pending, entry)
		if (strcmp(t->owner, owner) == 0)
			n++;
	return (n);
}
