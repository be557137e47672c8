/*
 * Guards in front of the REST API and the entry proxies: network lists
 * (CIDR) for the entry proxy access control, the throttle of failed
 * logins, and the share of the descriptors that each kind of connection
 * that has proven nothing yet may hold (server_fd_share()).
 *
 * The throttle counts failed logins per (realm, address, account): the
 * REST API and the entry proxies (-P) are two realms, an IPv6 address
 * counts by its /64, and the names of no account are one account, "?".
 * The THROTTLE_FREE-th failure in a row closes the pair for
 * THROTTLE_BASE_SEC seconds, each further one for twice as long as the
 * one before, up to THROTTLE_MAX_SEC;
 * while the pair is closed its attempts are refused (429, Retry-After)
 * before the key is looked at, whatever it is.  Nothing else is
 * refused: the owner from another address, the same address with
 * another account, the other realm.  A good login opens its pair again;
 * a pair without a failure for THROTTLE_FORGET_SEC is forgotten.
 * Requests without credentials, and good credentials for something they
 * may not touch (another user's path, another owner's tunnel), are no
 * failed login.
 *
 * The pairs live in a fixed table of THROTTLE_SLOTS, hashed; when it is
 * full the pair whose last failure is the oldest is forgotten, so memory
 * stays constant whatever the peers send.
 */
#include <sys/types.h>
#include <sys/queue.h>
#include <sys/socket.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "proc.h"
#include "server.h"

#define THROTTLE_BUCKETS	1024
#define THROTTLE_ADDR_MAX	(INET6_ADDRSTRLEN + 4)	/* and "/64" */

struct throttle {
	TAILQ_ENTRY(throttle)	 hentry;	/* in its bucket */
	TAILQ_ENTRY(throttle)	 lru;		/* oldest failure first */
	int			 used;
	int			 realm;
	char			 addr[THROTTLE_ADDR_MAX];
	char			 user[ACCOUNT_NAME_MAX + 1];
	unsigned int		 bucket;
	unsigned int		 failures;
	int64_t			 last;		/* monotonic ms */
	int64_t			 until;		/* closed until then */
};
TAILQ_HEAD(throttle_list, throttle);

static struct throttle		 slots[THROTTLE_SLOTS];
static struct throttle_list	 buckets[THROTTLE_BUCKETS];
static struct throttle_list	 lru = TAILQ_HEAD_INITIALIZER(lru);
static int			 throttle_ready;

static void		 throttle_key(const char *, const char *, char *,
			    size_t, const char **);
static unsigned int	 throttle_hash(int, const char *, const char *);
static struct throttle	*throttle_find(int, const char *, const char *,
			    int);
static void		 throttle_forget(struct throttle *);
static const char	*throttle_realm(int);
static int		 throttle_delay(unsigned int);

/*
 * Parse "addr" or "addr/bits" (IPv4 or IPv6).  Returns 0 or -1.
 */
int
netmask_parse(const char *s, struct netmask *m)
{
	char		 buf[INET6_ADDRSTRLEN + 8], *slash;
	const char	*errstr;
	int		 max;

	memset(m, 0, sizeof(*m));
	if (strlcpy(buf, s, sizeof(buf)) >= sizeof(buf))
		return (-1);
	if ((slash = strchr(buf, '/')) != NULL)
		*slash++ = '\0';
	if (inet_pton(AF_INET, buf, m->addr) == 1) {
		m->af = AF_INET;
		max = 32;
	} else if (inet_pton(AF_INET6, buf, m->addr) == 1) {
		m->af = AF_INET6;
		max = 128;
	} else
		return (-1);
	if (slash == NULL)
		m->bits = max;
	else {
		m->bits = strtonum(slash, 0, max, &errstr);
		if (errstr != NULL || *slash == '\0')
			return (-1);
	}
	return (0);
}

/* Does the address of sa fall in m?  IPv4-mapped IPv6 counts as IPv4. */
int
netmask_match(const struct netmask *m, const struct sockaddr *sa)
{
	const struct sockaddr_in	*sin;
	const struct sockaddr_in6	*sin6;
	const uint8_t			*a;
	int				 af, full, rest;

	if (sa->sa_family == AF_INET) {
		sin = (const struct sockaddr_in *)sa;
		af = AF_INET;
		a = (const uint8_t *)&sin->sin_addr;
	} else if (sa->sa_family == AF_INET6) {
		sin6 = (const struct sockaddr_in6 *)sa;
		if (IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr)) {
			af = AF_INET;
			a = (const uint8_t *)&sin6->sin6_addr + 12;
		} else {
			af = AF_INET6;
			a = (const uint8_t *)&sin6->sin6_addr;
		}
	} else
		return (0);
	if (af != m->af)
		return (0);
	full = m->bits / 8;
	rest = m->bits % 8;
	if (memcmp(a, m->addr, full) != 0)
		return (0);
	if (rest != 0 && ((a[full] ^ m->addr[full]) &
	    (0xff << (8 - rest)) & 0xff) != 0)
		return (0);
	return (1);
}

/* Is the numeric host address h (IPv4 or IPv6) a loopback address? */
int
host_is_loopback(const char *h)
{
	struct sockaddr_in	 sin;
	struct sockaddr_in6	 sin6;
	struct netmask		 lo4, lo6;

	netmask_parse("127.0.0.0/8", &lo4);
	netmask_parse("::1", &lo6);
	memset(&sin, 0, sizeof(sin));
	memset(&sin6, 0, sizeof(sin6));
	if (inet_pton(AF_INET, h, &sin.sin_addr) == 1) {
		sin.sin_family = AF_INET;
		return (netmask_match(&lo4, (struct sockaddr *)&sin));
	}
	if (inet_pton(AF_INET6, h, &sin6.sin6_addr) == 1) {
		sin6.sin6_family = AF_INET6;
		return (netmask_match(&lo4, (struct sockaddr *)&sin6) ||
		    netmask_match(&lo6, (struct sockaddr *)&sin6));
	}
	return (0);
}

/*
 * Add the networks of a comma-separated list to v (*n of max used).
 * Returns 0, or -1 with a message in err.
 */
int
netmask_list_add(const char *list, struct netmask *v, size_t *n,
    size_t max, char *err, size_t errlen)
{
	char	*dup, *p, *s;
	int	 ret = -1;

	if ((dup = strdup(list)) == NULL) {
		snprintf(err, errlen, "out of memory");
		return (-1);
	}
	p = dup;
	while ((s = strsep(&p, ",")) != NULL) {
		if (*s == '\0')
			continue;
		if (*n >= max) {
			snprintf(err, errlen, "too many networks (at most "
			    "%zu)", max);
			goto done;
		}
		if (netmask_parse(s, &v[*n]) == -1) {
			snprintf(err, errlen, "bad network %s (want addr or "
			    "addr/bits)", s);
			goto done;
		}
		(*n)++;
	}
	ret = 0;
 done:
	free(dup);
	return (ret);
}

/* The networks of a list into the entry proxy access list (-A). */
int
entry_acl_add(const char *list, char *err, size_t errlen)
{
	return (netmask_list_add(list, env->entry_acl, &env->entry_nacl,
	    ENTRY_ACL_MAX, err, errlen));
}

/* May the peer sa use an entry proxy? */
int
entry_acl_allowed(const struct sockaddr *sa)
{
	size_t	 i;

	for (i = 0; i < env->entry_nacl; i++)
		if (netmask_match(&env->entry_acl[i], sa))
			return (1);
	return (0);
}

static const char *
throttle_realm(int realm)
{
	return (realm == THROTTLE_REST ? "REST" : "entry proxy");
}

/*
 * The key of an address (IPv6 by its /64) and an account (NULL: no such
 * account, "?").
 */
static void
throttle_key(const char *addr, const char *user, char *buf, size_t len,
    const char **u)
{
	struct in6_addr	 a6;
	char		 tmp[INET6_ADDRSTRLEN], bare[INET6_ADDRSTRLEN];
	size_t		 n;

	*u = user != NULL ? user : "?";
	/* "[v6]" as the entry proxies write it */
	if (addr[0] == '[' && (n = strlen(addr)) > 2 && addr[n - 1] == ']' &&
	    n - 2 < sizeof(bare)) {
		memcpy(bare, addr + 1, n - 2);
		bare[n - 2] = '\0';
		addr = bare;
	}
	if (inet_pton(AF_INET6, addr, &a6) == 1 &&
	    !IN6_IS_ADDR_V4MAPPED(&a6)) {
		memset(a6.s6_addr + 8, 0, 8);
		if (inet_ntop(AF_INET6, &a6, tmp, sizeof(tmp)) != NULL) {
			snprintf(buf, len, "%s/64", tmp);
			return;
		}
	}
	strlcpy(buf, addr, len);
}

/* FNV-1a of the realm, the address and the account */
static unsigned int
throttle_hash(int realm, const char *addr, const char *user)
{
	uint32_t	 h = 2166136261U;
	const char	*p;

	h = (h ^ (uint8_t)realm) * 16777619U;
	for (p = addr; *p != '\0'; p++)
		h = (h ^ (uint8_t)*p) * 16777619U;
	h = (h ^ 0xff) * 16777619U;
	for (p = user; *p != '\0'; p++)
		h = (h ^ (uint8_t)*p) * 16777619U;
	return (h % THROTTLE_BUCKETS);
}

static void
throttle_forget(struct throttle *t)
{
	TAILQ_REMOVE(&buckets[t->bucket], t, hentry);
	TAILQ_REMOVE(&lru, t, lru);
	memset(t, 0, sizeof(*t));
}

/*
 * The pair (realm, addr, user) as keyed; with create, a new one takes a
 * free slot or the one whose last failure is the oldest.  Pairs not seen
 * failing for THROTTLE_FORGET_SEC go on the way.
 */
static struct throttle *
throttle_find(int realm, const char *addr, const char *user, int create)
{
	struct throttle	*t;
	int64_t		 now = mono_ms();
	unsigned int	 b;
	size_t		 i;

	if (!throttle_ready) {
		for (i = 0; i < THROTTLE_BUCKETS; i++)
			TAILQ_INIT(&buckets[i]);
		throttle_ready = 1;
	}
	while ((t = TAILQ_FIRST(&lru)) != NULL &&
	    now - t->last >= THROTTLE_FORGET_SEC * 1000LL && now >= t->until)
		throttle_forget(t);
	b = throttle_hash(realm, addr, user);
	TAILQ_FOREACH(t, &buckets[b], hentry)
		if (t->realm == realm && strcmp(t->addr, addr) == 0 &&
		    strcmp(t->user, user) == 0)
			return (t);
	if (!create)
		return (NULL);
	for (i = 0; i < THROTTLE_SLOTS && slots[i].used; i++)
		;
	if (i < THROTTLE_SLOTS)
		t = &slots[i];
	else {
		t = TAILQ_FIRST(&lru);
		throttle_forget(t);
	}
	t->used = 1;
	t->realm = realm;
	strlcpy(t->addr, addr, sizeof(t->addr));
	strlcpy(t->user, user, sizeof(t->user));
	t->bucket = b;
	t->last = now;
	TAILQ_INSERT_HEAD(&buckets[b], t, hentry);
	TAILQ_INSERT_TAIL(&lru, t, lru);
	return (t);
}

/* failed logins since the start, by realm: for /metrics */
static uint64_t	 failures_total[2];

/*
 * Are logins from addr for user (NULL: no such account) in realm
 * refused for now?  retry gets the seconds to wait.
 */
int
throttle_check(int realm, const char *addr, const char *user, int *retry)
{
	struct throttle	*t;
	char		 key[THROTTLE_ADDR_MAX];
	const char	*u;
	int64_t		 now = mono_ms();

	throttle_key(addr, user, key, sizeof(key), &u);
	if ((t = throttle_find(realm, key, u, 0)) == NULL || now >= t->until)
		return (0);
	if (retry != NULL)
		*retry = (t->until - now + 999) / 1000;	/* rounded up */
	return (1);
}

/* A failed login from addr for user (NULL: no such account). */
void
throttle_fail(int realm, const char *addr, const char *user)
{
	struct throttle	*t;
	char		 key[THROTTLE_ADDR_MAX];
	const char	*u;
	int64_t		 now = mono_ms();
	unsigned int	 over;
	int		 delay;

	if (realm == THROTTLE_REST || realm == THROTTLE_ENTRY)
		failures_total[realm]++;
	throttle_key(addr, user, key, sizeof(key), &u);
	if ((t = throttle_find(realm, key, u, 1)) == NULL)
		return;
	if (t->failures < UINT32_MAX)
		t->failures++;
	t->last = now;
	TAILQ_REMOVE(&lru, t, lru);
	TAILQ_INSERT_TAIL(&lru, t, lru);
	if (t->failures < THROTTLE_FREE)
		return;
	over = t->failures - THROTTLE_FREE;
	delay = throttle_delay(over);
	t->until = now + delay * 1000LL;
	/* once when it starts, once when it is at its longest */
	if (over == 0 || (delay == THROTTLE_MAX_SEC &&
	    throttle_delay(over - 1) < THROTTLE_MAX_SEC))
		log_info("%s: %u failed logins from %s for %s: refused for "
		    "%d s after each further one", throttle_realm(realm),
		    t->failures, key, u, delay);
}

/* The wait after the THROTTLE_FREE + over-th failure. */
static int
throttle_delay(unsigned int over)
{
	if (over >= 16 || (THROTTLE_BASE_SEC << over) >= THROTTLE_MAX_SEC)
		return (THROTTLE_MAX_SEC);
	return (THROTTLE_BASE_SEC << over);
}

/* A good login: its pair starts afresh. */
void
throttle_ok(int realm, const char *addr, const char *user)
{
	struct throttle	*t;
	char		 key[THROTTLE_ADDR_MAX];
	const char	*u;

	throttle_key(addr, user, key, sizeof(key), &u);
	if ((t = throttle_find(realm, key, u, 0)) != NULL)
		throttle_forget(t);
}

/*
 * A bound for waiting connections of one kind: want, but at most one
 * div-th of the descriptors (env->nofile, read before the sandbox), so
 * that others are left for the rest.
 */
size_t
server_fd_share(size_t want, int div)
{
	size_t	 share;

	if (env->nofile == 0)
		return (want);
	share = env->nofile / div;
	return (share < want ? (share > 0 ? share : 1) : want);
}/* Failed logins since the start, in realm: for /metrics. */
uint64_t
throttle_failures(int realm)
{
	return (realm == THROTTLE_REST || realm == THROTTLE_ENTRY ?
	    failures_total[realm] : 0);
}
