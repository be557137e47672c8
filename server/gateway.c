/*
 * The gateway (-G), the KGP worker's side: one entry port for every
 * tunnel, the tunnel picked by the proxy credentials of a connection's
 * first request (entry.c reads it, as on a tunnel's own port).  This
 * process has no accounts: it asks the REST worker (through the parent,
 * IMSG_SRV_GATE_REQ) which tunnels the credentials may use, and gets
 * their ids (the members of a pool) or why none (reg_gate()).
 *
 * Answers for valid credentials (tunnels, or none) are kept
 * GATEWAY_CACHE_SEC, at most GATEWAY_CACHE_MAX of them, the oldest out,
 * under a salted SHA-256 of user and password (never the password
 * itself); a new tunnel empties the cache, so that a new pool member is
 * used at once.  Wrong credentials are never kept: each one is asked,
 * and counts in the REST worker's failed-login throttle.  Connections
 * with the same credentials share one question; at most GATEWAY_ASK_MAX
 * questions are out at once (more get a 503 at once), each answered
 * within GATEWAY_ASK_SEC or taken as "not available".  So a flood of
 * bad credentials grows neither the cache nor the REST worker's work
 * beyond these bounds.
 *
 * A new connection goes to the member that is up (a KGP connection up)
 * with the fewest open streams, of all its connections; of equal ones,
 * the one picked least recently.
 */
#include <sys/types.h>
#include <sys/queue.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <openssl/evp.h>

#include "imsg_server.h"
#include "kgp.h"
#include "log.h"
#include "proc.h"
#include "server.h"

#define GATE_DIGEST_LEN		32

struct gate_q;

/* a connection waiting for the answer to a question */
struct gate_waiter {
	TAILQ_ENTRY(gate_waiter) entry;
	struct gate_q		*q;
	void			(*cb)(void *, const struct gate_answer *);
	void			*arg;
};

/* a question out to the REST worker */
struct gate_q {
	TAILQ_ENTRY(gate_q)	 entry;
	uint64_t		 reqid;
	uint8_t			 digest[GATE_DIGEST_LEN];
	struct event		*timeout;
	TAILQ_HEAD(, gate_waiter) waiters;
};

/* an answer kept */
struct gate_cached {
	TAILQ_ENTRY(gate_cached) entry;		/* the newest first */
	uint8_t			 digest[GATE_DIGEST_LEN];
	int64_t			 expires;	/* monotonic ms (mono_ms()) */
	struct gate_answer	 ans;		/* its ids: ids */
	char			(*ids)[TUNNEL_ID_LEN + 1];
};

static TAILQ_HEAD(, gate_q)	 questions =
    TAILQ_HEAD_INITIALIZER(questions);
static TAILQ_HEAD(gate_cache, gate_cached) cache =
    TAILQ_HEAD_INITIALIZER(cache);
static size_t			 nquestions, ncached;
static uint64_t			 gate_reqid, gate_picks;
static uint8_t			 gate_salt[GATE_DIGEST_LEN];
static int			 gate_salted;

static void	 gate_digest(const char *, const char *, uint8_t *);
static void	 gate_timeout(int, short, void *);
static void	 gate_answer_all(struct gate_q *,
		    const struct gate_answer *);
static void	 gate_keep(const uint8_t *, const struct gate_answer *);
static void	 gate_cached_free(struct gate_cached *);
/* The key of credentials: SHA-256 of a random salt, user, NUL, key. */
static void
gate_digest(const char *user, const char *key, uint8_t *out)
{
	EVP_MD_CTX	*ctx;
	unsigned int	 len;

	if (!gate_salted) {
		arc4random_buf(gate_salt, sizeof(gate_salt));
		gate_salted = 1;
	}
	if ((ctx = EVP_MD_CTX_new()) == NULL)
		fatalx("EVP_MD_CTX_new");
	if (EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1 ||
	    EVP_DigestUpdate(ctx, gate_salt, sizeof(gate_salt)) != 1 ||
	    EVP_DigestUpdate(ctx, user, strlen(user) + 1) != 1 ||
	    EVP_DigestUpdate(ctx, key, strlen(key)) != 1 ||
	    EVP_DigestFinal_ex(ctx, out, &len) != 1 || len != GATE_DIGEST_LEN)
		fatalx("%s: SHA-256 failed", __func__);
	EVP_MD_CTX_free(ctx);
}

/*
 * Which tunnels may the credentials in hdr (a Proxy-Authorization
 * field, NULL: none) use?  addr is the peer, without its port.  cb
 * hears once, with arg: now (before this returns) when the answer is
 * known, or later.  *handle is set to what gate_cancel() takes while cb
 * has not been called, NULL otherwise.
 */
void
gate_ask(const char *hdr, const char *addr, void (*cb)(void *,
    const struct gate_answer *), void *arg, void **handle)
{
	struct srv_gate_req	 req;
	struct gate_answer	 ans;
	struct gate_cached	*c;
	struct gate_waiter	*w;
	struct gate_q		*q;
	struct timeval		 tv = { GATEWAY_ASK_SEC, 0 };
	uint8_t			 d[GATE_DIGEST_LEN];

	*handle = NULL;
	memset(&ans, 0, sizeof(ans));
	memset(&req, 0, sizeof(req));
	if (rest_basic_auth(hdr, req.user, sizeof(req.user), req.key,
	    sizeof(req.key)) == -1) {
		explicit_bzero(&req, sizeof(req));
		ans.result = SRV_GATE_DENIED;
		cb(arg, &ans);
		return;
	}
	gate_digest(req.user, req.key, d);
	TAILQ_FOREACH(c, &cache, entry)
		if (memcmp(c->digest, d, sizeof(d)) == 0)
			break;
	if (c != NULL && mono_ms() < c->expires) {
		explicit_bzero(&req, sizeof(req));
		cb(arg, &c->ans);
		return;
	}
	if (c != NULL)
		gate_cached_free(c);
	TAILQ_FOREACH(q, &questions, entry)
		if (memcmp(q->digest, d, sizeof(d)) == 0)
			break;
	if (q == NULL && nquestions >= GATEWAY_ASK_MAX) {
		explicit_bzero(&req, sizeof(req));
		log_debug("gateway: %zu questions out already, 503 for %s",
		    nquestions, addr);
		ans.result = SRV_GATE_UNAVAIL;
		cb(arg, &ans);
		return;
	}
	if ((w = calloc(1, sizeof(*w))) == NULL)
		fatal("%s", __func__);
	w->cb = cb;
	w->arg = arg;
	if (q == NULL) {
		if ((q = calloc(1, sizeof(*q))) == NULL ||
		    (q->timeout = evtimer_new(env->base, gate_timeout, q)) ==
		    NULL)
			fatal("%s", __func__);
		TAILQ_INIT(&q->waiters);
		memcpy(q->digest, d, sizeof(d));
		q->reqid = req.reqid = worker_reqid(&gate_reqid);
		strlcpy(req.addr, addr, sizeof(req.addr));
		req.have = 1;
		TAILQ_INSERT_TAIL(&questions, q, entry);
		nquestions++;
		evtimer_add(q->timeout, &tv);
		worker_send(IMSG_SRV_GATE_REQ, &req, sizeof(req));
	}
	explicit_bzero(&req, sizeof(req));
	w->q = q;
	TAILQ_INSERT_TAIL(&q->waiters, w, entry);
	*handle = w;
}

/* The connection waiting with handle (gate_ask()) went away. */
void
gate_cancel(void *handle)
{
	struct gate_waiter	*w = handle;

	if (w == NULL)
		return;
	/* its question stays: its answer is kept for the next one */
	TAILQ_REMOVE(&w->q->waiters, w, entry);
	free(w);
}

/* Every waiter hears ans; the question is over. */
static void
gate_answer_all(struct gate_q *q, const struct gate_answer *ans)
{
	struct gate_waiter	*w;
	void			(*cb)(void *, const struct gate_answer *);
	void			*arg;

	TAILQ_REMOVE(&questions, q, entry);
	nquestions--;
	evtimer_del(q->timeout);
	while ((w = TAILQ_FIRST(&q->waiters)) != NULL) {
		TAILQ_REMOVE(&q->waiters, w, entry);
		cb = w->cb;
		arg = w->arg;
		free(w);
		cb(arg, ans);
	}
	event_free(q->timeout);
	free(q);
}

static void
gate_timeout(int fd, short ev, void *arg)
{
	struct gate_q		*q = arg;
	struct gate_answer	 ans;

	log_warnx("gateway: no answer from the REST worker in %d s",
	    GATEWAY_ASK_SEC);
	memset(&ans, 0, sizeof(ans));
	ans.result = SRV_GATE_UNAVAIL;
	gate_answer_all(q, &ans);
}

/* The REST worker's answer (len bytes, checked by srv_gate_rep_valid()). */
void
gate_reply(const struct srv_gate_rep *rep, size_t len)
{
	struct gate_answer	 ans;
	struct gate_q		*q;

	TAILQ_FOREACH(q, &questions, entry)
		if (q->reqid == rep->reqid)
			break;
	if (q == NULL)
		return;		/* it timed out */
	memset(&ans, 0, sizeof(ans));
	ans.result = rep->result;
	ans.retry = rep->retry;
	strlcpy(ans.label, rep->label, sizeof(ans.label));
	ans.nids = rep->nids;
	ans.ids = rep->ids;
	/* valid credentials: the answer is kept (a copy of the ids) */
	if (rep->result == SRV_GATE_OK || rep->result == SRV_GATE_NONE ||
	    rep->result == SRV_GATE_UNSHARED)
		gate_keep(q->digest, &ans);
	gate_answer_all(q, &ans);
}

/* Keep ans for the credentials of digest d, the oldest out if full. */
static void
gate_keep(const uint8_t *d, const struct gate_answer *ans)
{
	struct gate_cached	*c;

	while (ncached >= GATEWAY_CACHE_MAX)
		gate_cached_free(TAILQ_LAST(&cache, gate_cache));
	if ((c = calloc(1, sizeof(*c))) == NULL ||
	    (ans->nids > 0 && (c->ids = calloc(ans->nids,
	    sizeof(*c->ids))) == NULL)) {
		log_warn("%s", __func__);
		free(c);
		return;
	}
	memcpy(c->digest, d, sizeof(c->digest));
	c->expires = mono_ms() + GATEWAY_CACHE_SEC * 1000;
	c->ans.result = ans->result;
	strlcpy(c->ans.label, ans->label, sizeof(c->ans.label));
	c->ans.nids = ans->nids;
	if (ans->nids > 0)
		memcpy(c->ids, ans->ids, ans->nids * sizeof(*ans->ids));
	c->ans.ids = c->ids;
	TAILQ_INSERT_HEAD(&cache, c, entry);
	ncached++;
}

static void
gate_cached_free(struct gate_cached *c)
{
	TAILQ_REMOVE(&cache, c, entry);
	ncached--;
	free(c->ids);
	free(c);
}

/*
 * A connection the gateway sent to t, a member whose session is on
 * another node, found that node unreachable or t's session on none:
 * t is passed over for GATEWAY_PASS_SEC while another member is not.
 */
void
gate_failed(struct tunnel *t)
{
	t->gate_failed_ms = mono_ms();
}

/*
 * --kgp-workers: the first max of the tunnels of ans (SRV_GATE_OK) that
 * do not run in this worker, into ids; how many.
 */
uint32_t
gate_elsewhere(const struct gate_answer *ans, char (*ids)[TUNNEL_ID_LEN + 1],
    uint32_t max)
{
	struct tunnel	*t;
	uint32_t	 n = 0;
	size_t		 i;

	for (i = 0; i < ans->nids && n < max; i++) {
		TAILQ_FOREACH(t, &env->tunnels, entry)
			if (strcmp(t->id, ans->ids[i]) == 0)
				break;
		if (t == NULL || t->status != TUNNEL_RUNNING)
			strlcpy(ids[n++], ans->ids[i], sizeof(ids[0]));
	}
	return (n);
}

/* A tunnel came (a new pool member, say): nothing kept is used again. */
void
gate_flush(void)
{
	while (!TAILQ_EMPTY(&cache))
		gate_cached_free(TAILQ_FIRST(&cache));
}

/*
 * The tunnel of ans (SRV_GATE_OK) a new connection goes to: of those
 * running with a KGP connection up, the one with the fewest open
 * streams; of equal ones, the one picked least recently.  In a cluster
 * (nodelink.c), when no member has a session here, the running one
 * picked least recently of those whose node did not fail a connection
 * in the last GATEWAY_PASS_SEC (gate_failed()), else of all: entry.c
 * asks which node has it.  NULL, and why in why, when none is up.
 */
struct tunnel *
gate_choose(const struct gate_answer *ans, char *why, size_t whylen)
{
	struct tunnel		*t, *best = NULL, *remote = NULL;
	struct kgp_client	*c;
	struct kgp_conn_stats	 st;
	uint64_t		 load, best_load = UINT64_MAX;
	int64_t			 now = mono_ms();
	size_t			 i;
	int			 up, passed, remote_passed = 1;

	for (i = 0; i < ans->nids; i++) {
		TAILQ_FOREACH(t, &env->tunnels, entry)
			if (strcmp(t->id, ans->ids[i]) == 0)
				break;
		if (t == NULL || t->status != TUNNEL_RUNNING ||
		    t->proxy == NULL)
			continue;
		load = 0;
		up = 0;
		TAILQ_FOREACH(c, &t->links, tentry) {
			kgp_conn_stats(c->conn, &st);
			if (!st.up)
				continue;
			up = 1;
			load += st.streams_open;
		}
		if (!up) {
			/* in a cluster, its session may be another node's */
			if (!nodelink_enabled())
				continue;
			passed = t->gate_failed_ms != 0 &&
			    now - t->gate_failed_ms < GATEWAY_PASS_SEC * 1000;
			if (remote == NULL || (remote_passed && !passed) ||
			    (remote_passed == passed &&
			    t->gate_picked < remote->gate_picked)) {
				remote = t;
				remote_passed = passed;
			}
			continue;
		}
		if (best == NULL || load < best_load || (load == best_load &&
		    t->gate_picked < best->gate_picked)) {
			best = t;
			best_load = load;
		}
	}
	if (best == NULL && remote != NULL)
		best = remote;
	if (best == NULL) {
		if (ans->nids > 1)
			snprintf(why, whylen, "No member of the pool %s has "
			    "a client connected.", ans->label);
		else
			snprintf(why, whylen, "The tunnel %s has no client "
			    "connected.", ans->label);
		return (NULL);
	}
	best->gate_picked = ++gate_picks;
	return (best);
}
