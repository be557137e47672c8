/*
 * Admission of connections that have not yet proven anything (admit.h).
 *
 * The addresses live in a red-black tree; each that has waiting
 * connections also sits in a bucket by its number of them, one array of
 * buckets for trusted addresses and one for the others, so that the
 * address holding the most is found without a scan.  Trusted addresses
 * are kept in the order of their last login, the oldest forgotten first.
 */
#include <sys/types.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/tree.h>

#include <netinet/in.h>

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "admit.h"
#include "log.h"

#define ADMIT_LOG_SEC		10	/* one warning per kind so often */

struct admit_key {
	uint8_t			 af;
	uint8_t			 addr[16];
};

struct admit_peer {
	RB_ENTRY(admit_peer)	 tree;
	TAILQ_ENTRY(admit_peer)	 bucket;	/* while count > 0 */
	TAILQ_ENTRY(admit_peer)	 trust;		/* while trusted */
	struct admit_key	 key;
	TAILQ_HEAD(, admit_ent)	 ents;
	size_t			 count;
	int			 trusted;
	time_t			 trusted_until;	/* monotonic seconds */
};

RB_HEAD(admit_peers, admit_peer);
TAILQ_HEAD(admit_bucket, admit_peer);

struct admit {
	char			 what[32];
	size_t			 per_addr;
	size_t			 max;
	size_t			 count;
	struct admit_peers	 peers;
	struct admit_bucket	*buckets[2];	/* [trusted][count] */
	size_t			 top[2];	/* no fuller bucket is used */
	TAILQ_HEAD(, admit_peer) trusted;	/* oldest login first */
	size_t			 ntrusted;
	unsigned long long	 evicted;
	unsigned long long	 refused;
	time_t			 logged;
};

int			 admit_peer_cmp(struct admit_peer *, struct admit_peer *);
static time_t		 admit_now(void);
static void		 admit_keyof(const struct sockaddr *, struct admit_key *);
static struct admit_peer *peer_get(struct admit *, const struct sockaddr *,
			    int);
static void		 peer_maybe_free(struct admit *, struct admit_peer *);
static void		 bucket_out(struct admit *, struct admit_peer *);
static void		 bucket_in(struct admit *, struct admit_peer *);
static void		 untrust(struct admit *, struct admit_peer *);
static void		 trust_expire(struct admit *);
static struct admit_peer *victim(struct admit *, int);
static void		 evict(struct admit *, struct admit_peer *,
			    const char *);

RB_PROTOTYPE(admit_peers, admit_peer, tree, admit_peer_cmp)
RB_GENERATE(admit_peers, admit_peer, tree, admit_peer_cmp)

int
admit_peer_cmp(struct admit_peer *a, struct admit_peer *b)
{
	return (memcmp(&a->key, &b->key, sizeof(a->key)));
}

static time_t
admit_now(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (ts.tv_sec);
}

/* IPv4 as itself, IPv4-mapped IPv6 as IPv4, other IPv6 by its /64. */
static void
admit_keyof(const struct sockaddr *sa, struct admit_key *k)
{
	const struct sockaddr_in	*sin;
	const struct sockaddr_in6	*sin6;

	memset(k, 0, sizeof(*k));
	if (sa == NULL)
		return;
	if (sa->sa_family == AF_INET) {
		sin = (const struct sockaddr_in *)sa;
		k->af = 4;
		memcpy(k->addr, &sin->sin_addr, 4);
	} else if (sa->sa_family == AF_INET6) {
		sin6 = (const struct sockaddr_in6 *)sa;
		if (IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr)) {
			k->af = 4;
			memcpy(k->addr, (const uint8_t *)&sin6->sin6_addr +
			    12, 4);
		} else {
			k->af = 6;
			memcpy(k->addr, &sin6->sin6_addr, 8);
		}
	}
}

/*
 * what names the kind in log lines; per_addr and max are the bounds
 * (at least 1 each).  NULL when out of memory.
 */
struct admit *
admit_new(const char *what, size_t per_addr, size_t max)
{
	struct admit	*a;
	size_t		 i, j;

	if ((a = calloc(1, sizeof(*a))) == NULL)
		return (NULL);
	strlcpy(a->what, what, sizeof(a->what));
	a->per_addr = per_addr < 1 ? 1 : per_addr;
	a->max = max < 1 ? 1 : max;
	if (a->per_addr > a->max)
		a->per_addr = a->max;
	RB_INIT(&a->peers);
	TAILQ_INIT(&a->trusted);
	for (i = 0; i < 2; i++) {
		if ((a->buckets[i] = calloc(a->per_addr + 1,
		    sizeof(*a->buckets[i]))) == NULL) {
			admit_free(a);
			return (NULL);
		}
		for (j = 0; j <= a->per_addr; j++)
			TAILQ_INIT(&a->buckets[i][j]);
	}
	return (a);
}

/* The connections must have left (or be closed by the caller) first. */
void
admit_free(struct admit *a)
{
	struct admit_peer	*p, *tmp;
	struct admit_ent	*e;

	if (a == NULL)
		return;
	RB_FOREACH_SAFE(p, admit_peers, &a->peers, tmp) {
		while ((e = TAILQ_FIRST(&p->ents)) != NULL) {
			TAILQ_REMOVE(&p->ents, e, entry);
			e->peer = NULL;
		}
		RB_REMOVE(admit_peers, &a->peers, p);
		free(p);
	}
	free(a->buckets[0]);
	free(a->buckets[1]);
	free(a);
}

static struct admit_peer *
peer_get(struct admit *a, const struct sockaddr *sa, int create)
{
	struct admit_peer	 find, *p;

	admit_keyof(sa, &find.key);
	if ((p = RB_FIND(admit_peers, &a->peers, &find)) != NULL ||
	    !create)
		return (p);
	if ((p = calloc(1, sizeof(*p))) == NULL)
		return (NULL);
	p->key = find.key;
	TAILQ_INIT(&p->ents);
	RB_INSERT(admit_peers, &a->peers, p);
	return (p);
}

static void
peer_maybe_free(struct admit *a, struct admit_peer *p)
{
	if (p->count > 0 || p->trusted)
		return;
	RB_REMOVE(admit_peers, &a->peers, p);
	free(p);
}

static void
bucket_out(struct admit *a, struct admit_peer *p)
{
	if (p->count > 0)
		TAILQ_REMOVE(&a->buckets[p->trusted][p->count], p, bucket);
}

static void
bucket_in(struct admit *a, struct admit_peer *p)
{
	if (p->count == 0)
		return;
	TAILQ_INSERT_TAIL(&a->buckets[p->trusted][p->count], p, bucket);
	if (p->count > a->top[p->trusted])
		a->top[p->trusted] = p->count;
}

static void
untrust(struct admit *a, struct admit_peer *p)
{
	if (!p->trusted)
		return;
	bucket_out(a, p);
	TAILQ_REMOVE(&a->trusted, p, trust);
	a->ntrusted--;
	p->trusted = 0;
	bucket_in(a, p);
	peer_maybe_free(a, p);
}

static void
trust_expire(struct admit *a)
{
	struct admit_peer	*p;
	time_t			 now = admit_now();

	while ((p = TAILQ_FIRST(&a->trusted)) != NULL &&
	    (p->trusted_until <= now || a->ntrusted > ADMIT_TRUST_MAX))
		untrust(a, p);
}

/* sa has logged in: its connections go last from now on, for a while. */
void
admit_trust(struct admit *a, const struct sockaddr *sa)
{
	struct admit_peer	*p;

	if ((p = peer_get(a, sa, 1)) == NULL)
		return;
	if (p->trusted)
		TAILQ_REMOVE(&a->trusted, p, trust);
	else {
		bucket_out(a, p);
		p->trusted = 1;
		a->ntrusted++;
		bucket_in(a, p);
	}
	p->trusted_until = admit_now() + ADMIT_TRUST_SEC;
	TAILQ_INSERT_TAIL(&a->trusted, p, trust);
	trust_expire(a);
}

int
admit_trusted(struct admit *a, const struct sockaddr *sa)
{
	struct admit_peer	*p;

	trust_expire(a);
	return ((p = peer_get(a, sa, 0)) != NULL && p->trusted);
}

/*
 * The address holding the most waiting connections, among the
 * untrusted ones first; with only_untrusted, never a trusted one.
 */
static struct admit_peer *
victim(struct admit *a, int only_untrusted)
{
	struct admit_peer	*p;
	int			 t;

	for (t = 0; t < (only_untrusted ? 1 : 2); t++) {
		while (a->top[t] > 0) {
			if ((p = TAILQ_FIRST(&a->buckets[t][a->top[t]])) !=
			    NULL)
				return (p);
			a->top[t]--;
		}
	}
	return (NULL);
}

/* Close the oldest waiting connection of p. */
static void
evict(struct admit *a, struct admit_peer *p, const char *why)
{
	struct admit_ent	*e = TAILQ_FIRST(&p->ents);
	time_t			 now = admit_now();

	a->evicted++;
	if (now - a->logged >= ADMIT_LOG_SEC) {
		a->logged = now;
		log_warnx("%s: %s: closing the oldest waiting connections "
		    "(%zu waiting, from %zu of one address; %llu closed so "
		    "far)", a->what, why, a->count, p->count, a->evicted);
	}
	admit_del(e);		/* p may be gone now */
	e->evict(e, e->arg);	/* closes it */
}

/*
 * A new connection from sa that must prove itself: e enters, maybe at
 * the cost of an older one (its evict callback runs first).  Returns 0,
 * or -1 when it may not wait (the caller closes it).
 */
int
admit_add(struct admit *a, struct admit_ent *e, const struct sockaddr *sa,
    void (*cb)(struct admit_ent *, void *), void *arg)
{
	struct admit_peer	*p, *v;
	time_t			 now;

	memset(e, 0, sizeof(*e));
	trust_expire(a);
	if ((p = peer_get(a, sa, 0)) != NULL && p->count >= a->per_addr)
		evict(a, p, "too many from one address");
	else if (a->count >= a->max) {
		/* an untrusted newcomer may not displace the trusted */
		if ((v = victim(a, p == NULL || !p->trusted)) == NULL) {
			a->refused++;
			now = admit_now();
			if (now - a->logged >= ADMIT_LOG_SEC) {
				a->logged = now;
				log_warnx("%s: %zu waiting connections, all "
				    "from addresses that logged in: a new "
				    "one refused", a->what, a->count);
			}
			return (-1);
		}
		evict(a, v, "too many waiting");
	}
	/* the eviction may have freed p */
	if ((p = peer_get(a, sa, 1)) == NULL)
		return (-1);
	e->admit = a;
	e->peer = p;
	e->evict = cb;
	e->arg = arg;
	bucket_out(a, p);
	p->count++;
	bucket_in(a, p);
	TAILQ_INSERT_TAIL(&p->ents, e, entry);
	a->count++;
	return (0);
}

/* e has proven itself or is gone.  Harmless when it is not in. */
void
admit_del(struct admit_ent *e)
{
	struct admit_peer	*p = e->peer;
	struct admit		*a = e->admit;

	if (p == NULL)
		return;
	TAILQ_REMOVE(&p->ents, e, entry);
	e->peer = NULL;
	bucket_out(a, p);
	p->count--;
	bucket_in(a, p);
	a->count--;
	peer_maybe_free(a, p);
}

/* Out of descriptors: close one waiting connection.  1 if one went. */
int
admit_shed(struct admit *a)
{
	struct admit_peer	*v;

	if ((v = victim(a, 0)) == NULL)
		return (0);
	evict(a, v, "out of file descriptors");
	return (1);
}

size_t
admit_count(const struct admit *a)
{
	return (a->count);
}

size_t
admit_max(const struct admit *a)
{
	return (a->max);
}

/*
 * The time a new connection gets to prove itself: normal while at most
 * half of the places are taken, then less and less, down to min when
 * all are.
 */
unsigned int
admit_deadline(const struct admit *a, unsigned int normal, unsigned int min)
{
	size_t	 half = a->max / 2;

	if (a->count <= half || normal <= min)
		return (normal);
	if (a->count >= a->max)
		return (min);
	return (normal - (unsigned int)((unsigned long long)(normal - min) *
	    (a->count - half) / (a->max - half)));
}
