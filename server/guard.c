/*
 * Guards in front of the REST API and the entry proxies: network lists
 * (CIDR) for the entry proxy access control, and the failed-login rate
 * limit.
 *
 * The rate limit keeps a small fixed table of counters, one per source
 * address and one per account name, each for a window of LIMIT_WINDOW
 * seconds from its first failure.  A counter that reaches its maximum
 * refuses further attempts (429) until its window ends.  When the table
 * is full the counter whose window started first is evicted, so memory
 * stays constant whatever the peers send.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "server.h"

#define LIMIT_SLOTS		256

enum limit_kind {
	LIMIT_ADDR,
	LIMIT_USER
};

struct limit_slot {
	enum limit_kind	 kind;
	char		 key[ADDRSTR_MAX];	/* "" : free */
	time_t		 start;			/* monotonic seconds */
	unsigned int	 failures;
	int		 logged;
};

static struct limit_slot	 slots[LIMIT_SLOTS];

static time_t		 limit_now(void);
static struct limit_slot *limit_find(enum limit_kind, const char *, time_t,
			    int);
static unsigned int	 limit_max(enum limit_kind);
static int		 limit_locked(enum limit_kind, const char *, time_t,
			    int *);

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
 * Add the networks of a comma-separated list to the entry proxy access
 * list.  Returns 0, or -1 with a message in err.
 */
int
entry_acl_add(const char *list, char *err, size_t errlen)
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
		if (env->entry_nacl >= ENTRY_ACL_MAX) {
			snprintf(err, errlen, "too many networks (at most "
			    "%d)", ENTRY_ACL_MAX);
			goto done;
		}
		if (netmask_parse(s, &env->entry_acl[env->entry_nacl]) ==
		    -1) {
			snprintf(err, errlen, "bad network %s (want addr or "
			    "addr/bits)", s);
			goto done;
		}
		env->entry_nacl++;
	}
	ret = 0;
 done:
	free(dup);
	return (ret);
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

static time_t
limit_now(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (ts.tv_sec);
}

static unsigned int
limit_max(enum limit_kind kind)
{
	return (kind == LIMIT_ADDR ? LIMIT_ADDR_MAX : LIMIT_USER_MAX);
}

/*
 * The counter of (kind, key); a window that is over starts again.  With
 * create, a missing one takes a free slot, or the one whose window
 * started first.
 */
static struct limit_slot *
limit_find(enum limit_kind kind, const char *key, time_t now, int create)
{
	struct limit_slot	*s, *victim = NULL;
	size_t			 i;

	for (i = 0; i < LIMIT_SLOTS; i++) {
		s = &slots[i];
		if (s->key[0] == '\0') {
			if (victim == NULL || victim->key[0] != '\0')
				victim = s;
			continue;
		}
		if (now - s->start >= LIMIT_WINDOW) {
			s->key[0] = '\0';	/* expired: free it */
			if (victim == NULL || victim->key[0] != '\0')
				victim = s;
			continue;
		}
		if (s->kind == kind && strcmp(s->key, key) == 0)
			return (s);
		if (victim == NULL || (victim->key[0] != '\0' &&
		    s->start < victim->start))
			victim = s;
	}
	if (!create || victim == NULL)
		return (NULL);
	memset(victim, 0, sizeof(*victim));
	victim->kind = kind;
	strlcpy(victim->key, key, sizeof(victim->key));
	victim->start = now;
	return (victim);
}

static int
limit_locked(enum limit_kind kind, const char *key, time_t now, int *retry)
{
	struct limit_slot	*s;

	if (key == NULL || *key == '\0' ||
	    (s = limit_find(kind, key, now, 0)) == NULL ||
	    s->failures < limit_max(kind))
		return (0);
	if (retry != NULL)
		*retry = s->start + LIMIT_WINDOW - now;
	return (1);
}

/*
 * Are logins from addr (or for user; either may be NULL) refused for now?
 * retry gets the seconds left in the window.
 */
int
limit_check(const char *addr, const char *user, int *retry)
{
	time_t	 now = limit_now();

	return (limit_locked(LIMIT_ADDR, addr, now, retry) ||
	    limit_locked(LIMIT_USER, user, now, retry));
}

/* One failed login from addr for user (either may be NULL). */
void
limit_fail(const char *what, const char *addr, const char *user)
{
	struct limit_slot	*s;
	time_t			 now = limit_now();
	enum limit_kind		 kind;
	const char		*key;
	int			 i;

	for (i = 0; i < 2; i++) {
		kind = i == 0 ? LIMIT_ADDR : LIMIT_USER;
		key = i == 0 ? addr : user;
		if (key == NULL || *key == '\0' ||
		    (s = limit_find(kind, key, now, 1)) == NULL)
			continue;
		if (s->failures < limit_max(kind))
			s->failures++;
		if (s->failures >= limit_max(kind) && !s->logged) {
			s->logged = 1;
			log_info("%s: %u failed logins %s %s in %d s: refused "
			    "for %lld s", what, s->failures,
			    kind == LIMIT_ADDR ? "from" : "for user", key,
			    LIMIT_WINDOW,
			    (long long)(s->start + LIMIT_WINDOW - now));
		}
	}
}
