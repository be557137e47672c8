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
static int	 reg_kgp_port(const struct tunnel *);
static int	 reg_pool_peer(const struct tunnel *, const struct tunnel *);
static void	 reg_send_rules(struct tunnel *);
static void	 reg_answered(struct tunnel *);
static void	 reg_created(struct tunnel *);
static void	 reg_saved(void *, int);
static void	 reg_unsaved(struct tunnel *, int, void (*)(struct tunnel *,
		    int, const char *, void *), void *);
static size_t	 reg_bytes(const char *);
static void	 reg_event(int, const struct tunnel *, const char *,
		    const char *);
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
			h.kgp_port = reg_kgp_port(t);
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

/*
 * --kgp-workers: the KGP port of the worker t is to be on (the parent
 * places it there, if it has no place yet): its own, or a new pool
 * member's, that of another running member or of one being created
 * (reg_start()), so that the gateway balances a pool's members in one
 * worker; 0: any.
 */
static int
reg_kgp_port(const struct tunnel *t)
{
	struct tunnel	*o;

	if (t->kgp_port != 0 || !t->tunnel_pool)
		return (t->kgp_port);
	TAILQ_FOREACH(o, &env->tunnels, entry)
		if (o != t && o->kgp_port != 0 && reg_pool_peer(t, o))
			return (o->kgp_port);
	TAILQ_FOREACH(o, &pending, entry)
		if (o != t && o->kgp_port != 0 && reg_pool_peer(t, o))
			return (o->kgp_port);
	return (0);
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
	a.kgp_port = reg_kgp_port(t);
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
	/*
	 * --kgp-workers: a pool's first member is sent to the worker a new
	 * tunnel goes to now (IMSG_SRV_KGP_NEXT), by its port, so that a
	 * member posted before its answer goes there too (the answer names
	 * the port it got).
	 */
	if (t->tunnel_pool && (t->kgp_port = reg_kgp_port(t)) == 0)
		t->kgp_port = env->kgp_next;
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
 * tunnel being created gets no entry proxy.  One of several
 * (--kgp-workers), the one of KGP port port: only the tunnels it had
 * (the parent ends those it was creating, IMSG_SRV_TUNNEL_STATE).
 */
void
reg_kgp_down(int port)
{
	struct tunnel	*t, *tmp;
	int		 changed = 0;

	TAILQ_FOREACH_SAFE(t, &pending, entry, tmp) {
		if (port != 0)
			break;
		TAILQ_REMOVE(&pending, t, entry);
		t->start_cb(NULL, 500, "cannot open the entry proxy",
		    t->start_arg);
		tunnel_free(t);
	}
	TAILQ_FOREACH(t, &env->tunnels, entry) {
		if (port != 0 && t->kgp_port != port)
			continue;
		t->nlinks = 0;
		t->connected = 0;
		if (t->status == TUNNEL_HALTING) {
			t->status = TUNNEL_TERMINATED;
			t->shutdown_time = time(NULL);
			log_info("tunnel %s terminated: deleted", t->id);
			state_dirty(t);
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
		t->kgp_port = ts->kgp_port;
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
	if (ts->kgp_port != 0)
		t->kgp_port = ts->kgp_port;
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
			if (!t->user_shutdown)
				reg_event(EVENT_TUNNEL_TERMINATED, t, "",
				    ts->reason);
		}
		changed = 1;
	}
	weblinks_state(t, ts, ostatus, onlinks);
	reg_answered(t);
	if (changed) {
		state_dirty(t);
		state_save();
	}
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
		reg_event(EVENT_TUNNEL_CREATED, t, t->owner, t->shared_tunnel ?
		    "shared" : "");
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
	/* ENOTCONN: PostgreSQL (--db) cannot be reached (db_pg.c) */
	snprintf(why, sizeof(why), "cannot save the tunnel registry: %s",
	    error == ENOTCONN ? DB_DOWN : strerror(error));
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
	state_dirty(t);
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
	    reg_may_use(req->user, t, NULL))
		rep->result = SRV_AUTH_OK;
}

/*
 * May account see and use tunnel t?  Its owner may; so may those it is
 * shared with (shared_tunnel), by the owner's role now: an admin's
 * reaches the accounts of the organisation, a team admin's those of the
 * team, a member's none.  A tunnel of an account outside organisations
 * reaches the accounts outside organisations (as before there were
 * any).  *shared (if not NULL) says whether it is by sharing.  The one
 * place that decides it: the REST API, -P and the fixed entry ask here.
 */
int
reg_may_use(const char *account, const struct tunnel *t, int *shared)
{
	struct account	*o, *a;

	if (shared != NULL)
		*shared = 0;
	if (strcmp(account, t->owner) == 0)
		return (1);
	if (!t->shared_tunnel ||
	    (o = account_find(&env->accounts, t->owner)) == NULL ||
	    (a = account_find(&env->accounts, account)) == NULL ||
	    strcmp(o->org, a->org) != 0)
		return (0);
	if (o->org[0] != '\0' && o->role != ROLE_ADMIN &&
	    (o->role != ROLE_TEAM_ADMIN || o->team[0] == '\0' ||
	    strcmp(o->team, a->team) != 0))
		return (0);
	if (o->org[0] == '\0' && o->role == ROLE_MEMBER)
		return (0);
	if (shared != NULL)
		*shared = 1;
	return (1);
}

/*
 * May account delete tunnel t?  Its owner, and an admin of the owner's
 * organisation.
 */
int
reg_may_delete(const char *account, const struct tunnel *t)
{
	struct account	*o, *a;

	if (strcmp(account, t->owner) == 0)
		return (1);
	return ((a = account_find(&env->accounts, account)) != NULL &&
	    a->role == ROLE_ADMIN && a->org[0] != '\0' &&
	    (o = account_find(&env->accounts, t->owner)) != NULL &&
	    strcmp(o->org, a->org) == 0);
}

/*
 * May account share a tunnel it creates?  Not a member: -1 with the
 * reason in err (an event says so too).
 */
int
reg_may_share(const char *account, char *err, size_t errlen)
{
	struct account	*a;

	if ((a = account_find(&env->accounts, account)) == NULL ||
	    a->role != ROLE_MEMBER)
		return (0);
	if (a->org[0] != '\0')
		snprintf(err, errlen, "%s is a member of organisation %s: a "
		    "member may not share a tunnel (shared_tunnel); only an "
		    "admin (with the organisation) or a team admin (with the "
		    "team) may", account, a->org);
	else
		snprintf(err, errlen, "%s is a member: a member may not share "
		    "a tunnel (shared_tunnel)", account);
	worker_event(EVENT_SHARE_REFUSED, account, account, "", err);
	return (-1);
}

/*
 * An event of tunnel t, by actor: its subject is the tunnel's id, its
 * detail the tunnel's name and what more there is.
 */
static void
reg_event(int kind, const struct tunnel *t, const char *actor,
    const char *more)
{
	char	 detail[EVENT_DETAIL_MAX + 1];

	snprintf(detail, sizeof(detail), "%s%s%s%s%s",
	    t->identifier ? "\"" : "", t->identifier ? t->identifier : "",
	    t->identifier ? "\"" : "", more[0] && t->identifier ? ": " : "",
	    more);
	worker_event(kind, t->owner, actor, t->id, detail);
}

/* REST DELETE by account (the owner, or an admin of its organisation). */
void
reg_deleted(struct tunnel *t, const char *account)
{
	reg_event(EVENT_TUNNEL_DELETED, t, account, strcmp(account,
	    t->owner) == 0 ? "" : "by an admin of the organisation");
	reg_delete(t);
}

/* The tunnel name of t: "" when it has none. */
static const char *
reg_name(const struct tunnel *t)
{
	return (t->identifier != NULL ? t->identifier : "");
}

/*
 * The gateway's question (the KGP worker asks for a new connection):
 * the tunnels the credentials may use, or why none.  The user is
 *
 *	ACCOUNT			ACCOUNT's tunnel with the empty name
 *	ACCOUNT+NAME		ACCOUNT's tunnel NAME
 *	ACCOUNT+OWNER/NAME	OWNER's tunnel NAME, shared with ACCOUNT
 *
 * and the password is ACCOUNT's access key.  An account name may hold
 * a '+' itself, never a '/': ACCOUNT is the longest leading part that
 * ends before a '+' (or at the end, without a '/') and whose access key
 * the password is.  NAME is the rest, '+' and '/' included.  Of the
 * running tunnels of OWNER named NAME, the newest decides: a pool
 * (tunnel_pool) means every running pool member of that name that
 * ACCOUNT may use, otherwise that tunnel alone.  Wrong credentials count
 * in the failed-login throttle as with -P.  Returns the length of the
 * answer in rep.
 */
size_t
reg_gate(const struct srv_gate_req *req, struct srv_gate_rep *rep)
{
	struct tunnel	*t, *newest = NULL;
	const char	*u = req->user, *slash, *owner, *name;
	char		 acct[ACCOUNT_NAME_MAX + 1], own[ACCOUNT_NAME_MAX + 1];
	char		 safe[64], safeowner[ACCOUNT_NAME_MAX + 1];
	size_t		 head, i = 0, k, n, olen, klen = 0;
	int		 retry = 0, found = 0;

	memset(rep, 0, SRV_GATE_REP_LEN(0));
	rep->reqid = req->reqid;
	rep->result = SRV_GATE_DENIED;
	if (!req->have)
		return (SRV_GATE_REP_LEN(0));
	slash = strchr(u, '/');
	head = slash != NULL ? (size_t)(slash - u) : strlen(u);
	/* the account names it may start with, the longest first */
	for (k = head + 1; k > 1 && !found; k--) {
		i = k - 1;
		if (i == head ? slash != NULL : u[i] != '+')
			continue;
		if (i > ACCOUNT_NAME_MAX)
			continue;
		memcpy(acct, u, i);
		acct[i] = '\0';
		if (account_find(&env->accounts, acct) == NULL)
			continue;
		if (klen == 0)
			klen = i;	/* the throttle counts this one */
		found = account_check(&env->accounts, acct, req->key) == 0;
	}
	if (!found) {
		memcpy(acct, u, klen);
		acct[klen] = '\0';
		if (throttle_check(THROTTLE_ENTRY, req->addr, klen ? acct :
		    NULL, &retry)) {
			rep->result = SRV_GATE_LIMITED;
			rep->retry = retry;
		} else
			throttle_fail(THROTTLE_ENTRY, req->addr, klen ? acct :
			    NULL);
		return (SRV_GATE_REP_LEN(0));
	}
	if (throttle_check(THROTTLE_ENTRY, req->addr, acct, &retry)) {
		rep->result = SRV_GATE_LIMITED;
		rep->retry = retry;
		return (SRV_GATE_REP_LEN(0));
	}
	throttle_ok(THROTTLE_ENTRY, req->addr, acct);
	owner = acct;
	name = "";
	if (u[i] == '+') {
		if (slash != NULL) {
			olen = slash - (u + i + 1);
			if (olen > ACCOUNT_NAME_MAX)
				olen = ACCOUNT_NAME_MAX;
			memcpy(own, u + i + 1, olen);
			own[olen] = '\0';
			if (olen > 0)
				owner = own;
			name = slash + 1;
		} else
			name = u + i + 1;
	}
	/* the tunnel as the answers name it: named "NAME"[ of OWNER] */
	log_sanitize(name, safe, sizeof(safe));
	log_sanitize(owner, safeowner, sizeof(safeowner));
	snprintf(rep->label, sizeof(rep->label), "%s%s%s%s%s",
	    *name ? "named \"" : "without a name", safe, *name ? "\"" : "",
	    strcmp(owner, acct) == 0 ? "" : " of ",
	    strcmp(owner, acct) == 0 ? "" : safeowner);
	TAILQ_FOREACH(t, &env->tunnels, entry)
		if (t->status == TUNNEL_RUNNING &&
		    strcmp(t->owner, owner) == 0 &&
		    strcmp(reg_name(t), name) == 0 &&
		    (newest == NULL || t->creation_time >=
		    newest->creation_time))
			newest = t;
	n = 0;
	if (newest != NULL && !newest->tunnel_pool) {
		if (reg_may_use(acct, newest, NULL))
			strlcpy(rep->ids[n++], newest->id, TUNNEL_ID_LEN + 1);
	} else if (newest != NULL)
		TAILQ_FOREACH(t, &env->tunnels, entry)
			if (t->status == TUNNEL_RUNNING && t->tunnel_pool &&
			    strcmp(t->owner, owner) == 0 &&
			    strcmp(reg_name(t), name) == 0 &&
			    reg_may_use(acct, t, NULL) && n < GATEWAY_POOL_MAX)
				strlcpy(rep->ids[n++], t->id,
				    TUNNEL_ID_LEN + 1);
	rep->nids = n;
	if (n > 0)
		rep->result = SRV_GATE_OK;
	else
		/* never whether someone else's tunnel exists */
		rep->result = strcmp(owner, acct) == 0 ? SRV_GATE_NONE :
		    SRV_GATE_UNSHARED;
	return (SRV_GATE_REP_LEN(n));
}

/* Is o a running member of t's pool (t itself included)? */
static int
reg_pool_peer(const struct tunnel *t, const struct tunnel *o)
{
	return (o->status == TUNNEL_RUNNING && o->tunnel_pool &&
	    strcmp(o->owner, t->owner) == 0 &&
	    strcmp(reg_name(o), reg_name(t)) == 0);
}

/*
 * The running members of the pool t is a member of, for the web page;
 * 0 for a tunnel that is not in a pool (or not running).
 */
size_t
reg_pool_size(const struct tunnel *t)
{
	struct tunnel	*o;
	size_t		 n = 0;

	if (!t->tunnel_pool || t->status != TUNNEL_RUNNING)
		return (0);
	TAILQ_FOREACH(o, &env->tunnels, entry)
		if (reg_pool_peer(t, o))
			n++;
	return (n);
}

/*
 * The pool t is a member of, for the REST API: {"name": ..., "members":
 * [ids]}, the running tunnel_pool tunnels of its owner and name; NULL
 * for a tunnel that is not in a pool (or not running).
 */
json_t *
reg_pool_json(const struct tunnel *t)
{
	struct tunnel	*o;
	json_t		*pool, *members;

	if (!t->tunnel_pool || t->status != TUNNEL_RUNNING)
		return (NULL);
	if ((pool = json_object()) == NULL ||
	    (members = json_array()) == NULL) {
		json_decref(pool);
		return (NULL);
	}
	TAILQ_FOREACH(o, &env->tunnels, entry)
		if (reg_pool_peer(t, o))
			json_array_append_new(members, json_string(o->id));
	json_object_set_new(pool, "name", json_string(reg_name(t)));
	json_object_set_new(pool, "members", members);
	return (pool);
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

/*
 * Another node wrote tunnel nt (read from the database, checked as a
 * line of the registry): a tunnel new here is taken, and given to the
 * KGP worker when it runs (its client may connect to this node); one
 * this node has takes what other nodes change of it.  A status moves
 * on: ended there (its owner's DELETE through another node's REST API,
 * or a grace period that ran out where its session was), it ends here,
 * the KGP worker closing what this node has of it.  The database says
 * it runs where this node had it ended (it ended here, but its client
 * had moved to another node): it runs here again.  nt is taken or
 * freed.
 */
void
reg_remote(struct tunnel *nt)
{
	struct srv_tunnel_ref	 ref;
	struct tunnel		*t;

	if ((t = tunnel_find(nt->id)) == NULL) {
		TAILQ_INSERT_TAIL(&env->tunnels, nt, entry);
		if (nt->status == TUNNEL_RUNNING)
			reg_send(nt, SRV_ADD_REMOTE);
		log_debug("tunnel %s of %s: from another node (%s)", nt->id,
		    nt->owner, tunnel_status_name(nt->status));
		return;
	}
	if (nt->last_connected > t->last_connected)
		t->last_connected = nt->last_connected;
	if (nt->launch_time > t->launch_time)
		t->launch_time = nt->launch_time;
	if (nt->status > t->status) {
		log_info("tunnel %s %s on another node", t->id,
		    tunnel_status_name(nt->status));
		t->user_shutdown = nt->user_shutdown;
		if (t->status == TUNNEL_RUNNING) {
			memset(&ref, 0, sizeof(ref));
			strlcpy(ref.id, t->id, sizeof(ref.id));
			ref.why = SRV_DEL_USER;
			worker_send(IMSG_SRV_TUNNEL_DEL, &ref, sizeof(ref));
		}
		t->status = nt->status;
		if (t->status == TUNNEL_TERMINATED) {
			t->shutdown_time = nt->shutdown_time ?
			    nt->shutdown_time : time(NULL);
			t->nlinks = t->connected = 0;
		}
		weblinks_event(t, "%s on another node",
		    tunnel_status_name(t->status));
	} else if (nt->status == TUNNEL_RUNNING && t->status ==
	    TUNNEL_TERMINATED && !t->user_shutdown) {
		log_info("tunnel %s runs on another node: taken again", t->id);
		t->status = TUNNEL_RUNNING;
		t->shutdown_time = 0;
		reg_send(t, SRV_ADD_REMOTE);
	}
	/* what it took may differ from its line here (state.c compares) */
	state_dirty(t);
	tunnel_free(nt);
}

/*
 * Another node deleted tunnel id from the registry (it ended long
 * enough ago): gone here too.
 */
void
reg_gone(const char *id)
{
	struct srv_tunnel_ref	 ref;
	struct tunnel		*t;

	if ((t = tunnel_find(id)) == NULL)
		return;
	if (t->status == TUNNEL_RUNNING) {
		memset(&ref, 0, sizeof(ref));
		strlcpy(ref.id, t->id, sizeof(ref.id));
		ref.why = SRV_DEL_USER;
		worker_send(IMSG_SRV_TUNNEL_DEL, &ref, sizeof(ref));
	}
	log_debug("tunnel %s: deleted by another node", id);
	TAILQ_REMOVE(&env->tunnels, t, entry);
	tunnel_free(t);
}
