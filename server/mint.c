/*
 * Leaf certificates for the entry proxies, in the KGP worker, which
 * faces the browsers and never sees the CA's key.  mint_get(name, cb,
 * arg) gives cb a leaf for name (an SNI, a CONNECT's host: a host name
 * or an address) with its private key and the CA that ends its chain,
 * parsed; or an error that says why not, never nothing: the CA
 * process answers within MINT_TIMEOUT_MS or the caller hears that it did
 * not.
 *
 * The key pair of each leaf is made here; the CA process gets the public
 * key and the name (IMSG_SRV_CA_SIGN, on this worker's own channel to
 * it, or through the parent while there is none) and answers
 * with the leaf (IMSG_SRV_CA_CERT), which is checked before it is used:
 * for that name, with that key, signed by the CA.  So the CA process
 * hands out no private key, and a stray answer (another KGP worker's,
 * before a restart) is never taken for this one's.
 *
 * The leaves are kept, MINT_CACHE_MAX of them, the least recently used
 * going first, until MINT_RENEW_SEC before their end: a name asked for
 * again costs a tree lookup.  Callers who ask for a name already asked
 * for wait for the same answer.  New names are rate-limited (a token
 * bucket of MINT_RATE a second, MINT_BURST at once) and at most
 * MINT_PENDING_MAX wait for the CA at once: past either, the caller gets
 * an error at once.
 *
 * The key pairs come from a pool of MINT_KEY_POOL made ahead: a new name
 * takes one, and the pool is filled again one key a turn of the event
 * loop, after what was waiting has run, so that a browser's handshake
 * does not wait for its key to be made (an EC P-256 key: 0.06 ms idle,
 * 0.3-0.5 ms on a loaded machine).  An empty pool makes the key at once.
 *
 * When a CA process comes up, a trial leaf (for MINT_TRIAL_NAME) shows
 * that it signs, in the log, with the CA's key (the signature of the
 * leaves is checked until one verifies); when it goes, what was asked of
 * it fails at once (mint_ca_state()).
 *
 * Each leaf is given parsed (its X509, its key, the CA's X509), so that
 * the entry proxy's TLS uses it as it is, without a context of its own
 * to build (resign_tls.c); no PEM text is made of it (the leaf's, its
 * key's and the chain's copies cost a new host 0.1-0.2 ms loaded, and
 * nothing read them).
 *
 * cb may run before mint_get() returns (a leaf kept, a refusal): then
 * mint_get() returns NULL.  Otherwise it returns a handle that
 * mint_cancel() takes back (the caller went away); cb is then never
 * called.  What cb is given lives until cb returns: copy what is kept.
 */
#include <sys/types.h>
#include <sys/queue.h>
#include <sys/tree.h>

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "imsg_server.h"
#include "log.h"
#include "server.h"

struct mint_wait {
	TAILQ_ENTRY(mint_wait)	 entry;
	struct mint_entry	*me;
	void			(*cb)(const struct mint_leaf *, const char *,
				    void *);
	void			*arg;
};
TAILQ_HEAD(mint_waits, mint_wait);

/* a name: its leaf kept, or being made */
struct mint_entry {
	RB_ENTRY(mint_entry)	 node;
	TAILQ_ENTRY(mint_entry)	 entry;		/* lru, or pending */
	char			 name[CERT_NAME_MAX + 1];
	int			 ready;
	int			 busy;		/* its waiters are being told */
	/* being made */
	uint64_t		 reqid;
	struct timespec		 asked;		/* for the log */
	EVP_PKEY		*pkey;		/* its key pair; then leaf.pkey */
	struct event		*timer;
	struct mint_waits	 waits;
	/* made */
	struct mint_leaf	 leaf;		/* what callers are given */
	X509			*x509;		/* leaf.x509, ours */
};

RB_HEAD(mint_tree, mint_entry);
TAILQ_HEAD(mint_list, mint_entry);

static int	 mint_cmp(struct mint_entry *, struct mint_entry *);
RB_PROTOTYPE(mint_tree, mint_entry, node, mint_cmp)
RB_GENERATE(mint_tree, mint_entry, node, mint_cmp)

static struct mint_entry *mint_new(const char *, const char **);
static int	 mint_rate(void);
static void	 mint_timeout(int, short, void *);
static void	 mint_fail(struct mint_entry *, const char *);

/* for /metrics (mint_stats()) */
static uint64_t		 mint_nminted, mint_nfailed, mint_nhits;
static void	 mint_drop(struct mint_entry *);
static int	 mint_take(struct mint_entry *, const uint8_t *, size_t,
		    const char **);
static void	 mint_evict(void);
static EVP_PKEY	*mint_key(void);
static void	 mint_refill(int, short, void *);

static struct event_base	*mint_base;
static int			(*mint_send)(const void *, size_t);
static X509			*mint_ca;
static struct mint_tree		 mint_names = RB_INITIALIZER(&mint_names);
static struct mint_list		 mint_lru = TAILQ_HEAD_INITIALIZER(mint_lru);
static struct mint_list		 mint_pending =
    TAILQ_HEAD_INITIALIZER(mint_pending);
static size_t			 mint_nready, mint_npending;
static uint64_t			 mint_reqid;
static double			 mint_tokens = MINT_BURST;
static struct timespec		 mint_last;
static struct timespec		 mint_trial_start;
static EVP_PKEY			*mint_keys[MINT_KEY_POOL];
static size_t			 mint_nkeys;
static struct event		*mint_refill_ev;
static int			 mint_signer_ok;	/* see mint_take() */

#define MINT_TRIAL_NAME		"sc-server.invalid"

static int
mint_cmp(struct mint_entry *a, struct mint_entry *b)
{
	return (strcmp(a->name, b->name));
}

/* Milliseconds since then, for the log. */
static double
mint_ms_since(const struct timespec *then)
{
	struct timespec	 now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return ((now.tv_sec - then->tv_sec) * 1e3 +
	    (now.tv_nsec - then->tv_nsec) / 1e6);
}

/*
 * The CA's certificate (PEM) to check the leaves and end their chains;
 * send(): a request to the CA process.  Run before the sandbox: the
 * pool's first key makes libcrypto load what it loads lazily.  Returns
 * 0 or -1.
 */
int
mint_init(struct event_base *base, const char *capem, size_t len,
    int (*send)(const void *, size_t))
{
	mint_base = base;
	mint_send = send;
	mint_signer_ok = 0;
	if ((mint_ca = x509_read(capem, len)) == NULL) {
		log_warnx("%s: the CA certificate does not parse", __func__);
		return (-1);
	}
	if (mint_refill_ev == NULL &&
	    (mint_refill_ev = evtimer_new(base, mint_refill, NULL)) == NULL) {
		log_warnx("%s: out of memory", __func__);
		return (-1);
	}
	mint_refill(-1, EV_TIMEOUT, NULL);
	if (mint_nkeys == 0) {
		log_warnx("%s: cannot make a key", __func__);
		return (-1);
	}
	arc4random_buf(&mint_reqid, sizeof(mint_reqid));
	clock_gettime(CLOCK_MONOTONIC, &mint_last);
	return (0);
}

/* Everything let go (the tests, the end). */
void
mint_free(void)
{
	struct mint_entry	*me;

	while ((me = RB_MIN(mint_tree, &mint_names)) != NULL) {
		if (!me->ready)
			mint_fail(me, "shutting down");
		else
			mint_drop(me);
	}
	while (mint_nkeys > 0)
		EVP_PKEY_free(mint_keys[--mint_nkeys]);
	if (mint_refill_ev != NULL)
		event_free(mint_refill_ev);
	mint_refill_ev = NULL;
	X509_free(mint_ca);
	mint_ca = NULL;
	mint_tokens = MINT_BURST;
}

struct mint_wait *
mint_get(const char *host, void (*cb)(const struct mint_leaf *,
    const char *, void *), void *arg)
{
	struct mint_entry	 key, *me;
	struct mint_wait	*w;
	const char		*errstr;
	char			 msg[CERT_NAME_MAX + 128];

	if (cert_name_canon(host, key.name, sizeof(key.name)) == -1) {
		cb(NULL, "not a host name or address a certificate can name",
		    arg);
		return (NULL);
	}
	if ((me = RB_FIND(mint_tree, &mint_names, &key)) != NULL &&
	    me->ready && !me->busy &&
	    me->leaf.notafter - time(NULL) < MINT_RENEW_SEC) {
		mint_drop(me);
		me = NULL;
	}
	if (me != NULL && me->ready) {
		/* kept: at the head of the list */
		mint_nhits++;
		TAILQ_REMOVE(&mint_lru, me, entry);
		TAILQ_INSERT_HEAD(&mint_lru, me, entry);
		cb(&me->leaf, NULL, arg);
		return (NULL);
	}
	if (me == NULL && (me = mint_new(key.name, &errstr)) == NULL) {
		mint_nfailed++;
		snprintf(msg, sizeof(msg), "no certificate for %s: %s",
		    key.name, errstr);
		cb(NULL, msg, arg);
		return (NULL);
	}
	if ((w = calloc(1, sizeof(*w))) == NULL) {
		log_warn("%s", __func__);
		cb(NULL, "out of memory", arg);
		return (NULL);
	}
	w->me = me;
	w->cb = cb;
	w->arg = arg;
	TAILQ_INSERT_TAIL(&me->waits, w, entry);
	return (w);
}

/* The caller went away: cb will not be called. */
void
mint_cancel(struct mint_wait *w)
{
	if (w == NULL)
		return;
	TAILQ_REMOVE(&w->me->waits, w, entry);
	free(w);
}

/* Is there a token for a new leaf?  1 (taken) or 0. */
static int
mint_rate(void)
{
	struct timespec	 now;
	double		 dt;

	clock_gettime(CLOCK_MONOTONIC, &now);
	dt = (now.tv_sec - mint_last.tv_sec) +
	    (now.tv_nsec - mint_last.tv_nsec) / 1e9;
	mint_last = now;
	if (dt > 0)
		mint_tokens += dt * MINT_RATE;
	if (mint_tokens > MINT_BURST)
		mint_tokens = MINT_BURST;
	if (mint_tokens < 1)
		return (0);
	mint_tokens -= 1;
	return (1);
}

/* A key pair for a new leaf: from the pool, which fills again later. */
static EVP_PKEY *
mint_key(void)
{
	struct timeval	 tv = { 0, 0 };
	EVP_PKEY	*pkey;

	if (mint_nkeys > 0)
		pkey = mint_keys[--mint_nkeys];
	else
		pkey = x509_genkey();
	if (mint_refill_ev != NULL && !evtimer_pending(mint_refill_ev, NULL))
		evtimer_add(mint_refill_ev, &tv);
	return (pkey);
}

/* One key into the pool, and again next turn until it is full. */
static void
mint_refill(int fd, short ev, void *arg)
{
	struct timeval	 tv = { 0, 0 };
	EVP_PKEY	*pkey;

	if (mint_nkeys >= MINT_KEY_POOL)
		return;
	if ((pkey = x509_genkey()) == NULL) {
		ERR_clear_error();
		return;		/* the next mint_key() tries again */
	}
	mint_keys[mint_nkeys++] = pkey;
	if (mint_nkeys < MINT_KEY_POOL)
		evtimer_add(mint_refill_ev, &tv);
}

/* A name to ask the CA for: its key made, the request sent. */
static struct mint_entry *
mint_new(const char *name, const char **errstr)
{
	struct srv_ca_req	 req;
	struct mint_entry	*me;
	struct timeval		 tv;
	int			 len;

	if (mint_ca == NULL) {
		*errstr = "no CA";
		return (NULL);
	}
	if (mint_npending >= MINT_PENDING_MAX) {
		*errstr = "too many certificates being made at once";
		return (NULL);
	}
	if (!mint_rate()) {
		*errstr = "more new certificates than the rate limit allows";
		return (NULL);
	}
	*errstr = "out of memory";
	if ((me = calloc(1, sizeof(*me))) == NULL)
		return (NULL);
	strlcpy(me->name, name, sizeof(me->name));
	TAILQ_INIT(&me->waits);
	memset(&req, 0, sizeof(req));
	strlcpy(req.name, name, sizeof(req.name));
	if ((me->pkey = mint_key()) == NULL ||
	    (len = x509_p256_spki(me->pkey, req.pub, sizeof(req.pub))) == -1) {
		*errstr = "cannot make a key";
		goto fail;
	}
	req.publen = len;
	if ((me->timer = evtimer_new(mint_base, mint_timeout, me)) == NULL)
		goto fail;
	req.reqid = me->reqid = worker_reqid(&mint_reqid);
	clock_gettime(CLOCK_MONOTONIC, &me->asked);
	if (mint_send(&req, offsetof(struct srv_ca_req, pub) + len) == -1) {
		*errstr = "cannot ask the CA";
		goto fail;
	}
	tv.tv_sec = MINT_TIMEOUT_MS / 1000;
	tv.tv_usec = (MINT_TIMEOUT_MS % 1000) * 1000;
	evtimer_add(me->timer, &tv);
	RB_INSERT(mint_tree, &mint_names, me);
	TAILQ_INSERT_TAIL(&mint_pending, me, entry);
	mint_npending++;
	return (me);
 fail:
	ERR_clear_error();
	if (me->timer != NULL)
		event_free(me->timer);
	EVP_PKEY_free(me->pkey);
	free(me);
	return (NULL);
}

static void
mint_timeout(int fd, short ev, void *arg)
{
	struct mint_entry	*me = arg;
	char			 msg[96];

	log_warnx("a certificate for %s: no answer from the CA in %d ms",
	    me->name, MINT_TIMEOUT_MS);
	snprintf(msg, sizeof(msg), "the CA did not answer within %d ms",
	    MINT_TIMEOUT_MS);
	mint_fail(me, msg);
}

/* A name being made fails: gone, its waiters told why. */
static void
mint_fail(struct mint_entry *me, const char *why)
{
	struct mint_waits	 waits;
	struct mint_wait	*w;
	char			 msg[CERT_NAME_MAX + 160];

	mint_nfailed++;
	snprintf(msg, sizeof(msg), "no certificate for %s: %s", me->name,
	    why);
	TAILQ_INIT(&waits);
	TAILQ_CONCAT(&waits, &me->waits, entry);
	mint_drop(me);
	while ((w = TAILQ_FIRST(&waits)) != NULL) {
		TAILQ_REMOVE(&waits, w, entry);
		w->cb(NULL, msg, w->arg);
		free(w);
	}
}

/* Forget a name, made or being made (its waiters have been told). */
static void
mint_drop(struct mint_entry *me)
{
	RB_REMOVE(mint_tree, &mint_names, me);
	if (me->ready) {
		TAILQ_REMOVE(&mint_lru, me, entry);
		mint_nready--;
	} else {
		TAILQ_REMOVE(&mint_pending, me, entry);
		mint_npending--;
	}
	if (me->timer != NULL)
		event_free(me->timer);
	EVP_PKEY_free(me->pkey);
	X509_free(me->x509);
	free(me);
}

/* The least recently used leaves go, down to MINT_CACHE_MAX. */
static void
mint_evict(void)
{
	struct mint_entry	*me, *prev;

	for (me = TAILQ_LAST(&mint_lru, mint_list);
	    me != NULL && mint_nready > MINT_CACHE_MAX; me = prev) {
		prev = TAILQ_PREV(me, mint_list, entry);
		if (!me->busy)
			mint_drop(me);
	}
}

/*
 * The CA's leaf (DER) for me: for its name, with its key, signed by
 * the CA.  Into me->leaf.
 */
static int
mint_take(struct mint_entry *me, const uint8_t *der, size_t len,
    const char **errstr)
{
	const unsigned char	*p = der;
	X509			*x;
	struct tm		 tm;
	int			 ok, ret = -1;

	*errstr = "the CA's answer does not fit the request";
	if ((x = d2i_X509(NULL, &p, len)) == NULL || p != der + len)
		goto done;
	/*
	 * The signature is checked until a leaf of the CA process now up
	 * verifies (its trial leaf, mint_ca_state()): one process signs with
	 * one key for its life, and an ECDSA verification cost every new
	 * host 0.08 ms idle, 0.1-0.2 ms loaded, on the way of its handshake.
	 * Name, key and issuer are checked on each.
	 */
	ok = X509_check_private_key(x, me->pkey) == 1 &&
	    X509_check_issued(mint_ca, x) == X509_V_OK &&
	    (mint_signer_ok || X509_verify(x, X509_get0_pubkey(mint_ca)) ==
	    1);
	if (ok && strchr(me->name, ':') == NULL &&
	    strspn(me->name, "0123456789.") != strlen(me->name))
		ok = X509_check_host(x, me->name, strlen(me->name),
		    X509_CHECK_FLAG_NO_WILDCARDS, NULL) == 1;
	else if (ok)
		ok = X509_check_ip_asc(x, me->name, 0) == 1;
	if (!ok)
		goto done;
	mint_signer_ok = 1;
	*errstr = "out of memory";
	memset(&tm, 0, sizeof(tm));
	if (ASN1_TIME_to_tm(X509_get0_notAfter(x), &tm) != 1)
		goto done;
	me->leaf.notafter = timegm(&tm);
	me->leaf.x509 = me->x509 = x;
	me->leaf.pkey = me->pkey;
	me->leaf.ca = mint_ca;
	x = NULL;
	ret = 0;
 done:
	ERR_clear_error();
	X509_free(x);
	return (ret);
}

/* IMSG_SRV_CA_CERT (srv_ca_rep_valid() has run). */
void
mint_answer(const struct srv_ca_rep *rep, size_t len)
{
	struct mint_waits	 waits;
	struct mint_entry	*me;
	struct mint_wait	*w;
	const char		*errstr = "the CA's answer is cut short";

	TAILQ_FOREACH(me, &mint_pending, entry)
		if (me->reqid == rep->reqid)
			break;
	if (me == NULL) {
		log_debug("%s: an answer to no request (too late?)", __func__);
		return;
	}
	switch (rep->result) {
	case SRV_CA_OK:
		if (len == offsetof(struct srv_ca_rep, der) + rep->len &&
		    mint_take(me, rep->der, rep->len, &errstr) == 0)
			break;
		log_warnx("a certificate for %s: %s", me->name, errstr);
		mint_fail(me, errstr);
		return;
	case SRV_CA_UNAVAIL:
		mint_fail(me, "no CA process just now");
		return;
	case SRV_CA_REFUSED:
		mint_fail(me, "the CA refused the request");
		return;
	default:
		mint_fail(me, "the CA could not sign");
		return;
	}

	/* made: kept, and its waiters told */
	mint_nminted++;
	event_free(me->timer);
	me->timer = NULL;
	TAILQ_REMOVE(&mint_pending, me, entry);
	mint_npending--;
	me->ready = 1;
	TAILQ_INSERT_HEAD(&mint_lru, me, entry);
	mint_nready++;
	log_debug("a certificate for %s in %.2f ms", me->name,
	    mint_ms_since(&me->asked));
	TAILQ_INIT(&waits);
	TAILQ_CONCAT(&waits, &me->waits, entry);
	me->busy = 1;
	while ((w = TAILQ_FIRST(&waits)) != NULL) {
		TAILQ_REMOVE(&waits, w, entry);
		w->cb(&me->leaf, NULL, w->arg);
		free(w);
	}
	me->busy = 0;
	mint_evict();
}

/* the trial leaf: asked for when a CA process comes up */
static void
mint_trial_done(const struct mint_leaf *leaf, const char *errstr,
    void *arg)
{
	double		 ms = mint_ms_since(&mint_trial_start);

	if (leaf == NULL)
		log_warnx("the CA does not sign: %s", errstr);
	else
		log_debug("the CA signs: a leaf for %s in %.2f ms",
		    MINT_TRIAL_NAME, ms);
}

/*
 * The parent says a CA process serves (up), or that it is gone: what
 * was asked of it fails at once, not at its timeout.  Up, a trial leaf
 * shows that it signs.
 */
void
mint_ca_state(int up)
{
	struct mint_entry	 key, *me;

	mint_signer_ok = 0;	/* another process, maybe another key */
	if (!up) {
		while ((me = TAILQ_FIRST(&mint_pending)) != NULL)
			mint_fail(me, "the CA process is gone");
		return;
	}
	strlcpy(key.name, MINT_TRIAL_NAME, sizeof(key.name));
	if ((me = RB_FIND(mint_tree, &mint_names, &key)) != NULL) {
		if (!me->ready || me->busy)
			return;
		mint_drop(me);
	}
	clock_gettime(CLOCK_MONOTONIC, &mint_trial_start);
	mint_get(MINT_TRIAL_NAME, mint_trial_done, NULL);
}

/* What was made, failed and served from the cache, for /metrics. */
void
mint_stats(struct srv_kgp_stats *st)
{
	st->certs_minted = mint_nminted;
	st->cert_failures = mint_nfailed;
	st->cert_hits = mint_nhits;
}
