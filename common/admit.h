/*
 * Admission of connections that have not yet proven anything: accepted,
 * but whose request head (HTTP) or handshake (TLS and HELLO) is not yet
 * complete.  Pure code, no event loop: the caller keeps the timers.
 *
 * One struct admit per kind of connection (the REST API, the entry
 * proxies, the KGP endpoint).  Each waiting connection embeds a struct
 * admit_ent, entered at accept (admit_add()) and left once it has
 * proven itself or is closed (admit_del()).  The bounds:
 *
 *	per address	an address that already has per_addr waiting
 *			connections loses its oldest one to its new one;
 *	in all		when max are waiting, the oldest connection of the
 *			address that holds the most goes, taken first from
 *			addresses that have not logged in recently;
 *	trusted		an address that logged in recently (admit_trust())
 *			keeps its connections while any other address has
 *			one to give, and its new connection is never
 *			refused for one of another trusted address;
 *	descriptors	out of them, the accept loop asks admit_shed() for
 *			one by the same rule and accepts again.
 *
 * An IPv6 address counts by its /64, an IPv4-mapped one as IPv4.  A
 * connection goes by its evict callback, which must close it; it has
 * left already (admit_del() on it is harmless), and the new connection
 * is never the one evicted.  Memory
 * stays within the waiting connections and ADMIT_TRUST_MAX addresses.
 */
#ifndef SC_ADMIT_H
#define SC_ADMIT_H

#include <sys/types.h>
#include <sys/queue.h>

#include <stddef.h>
#include <stdint.h>

#define ADMIT_TRUST_MAX		4096	/* addresses remembered as trusted */
#define ADMIT_TRUST_SEC		3600	/* for so long after their login */

struct sockaddr;
struct admit;
struct admit_peer;

struct admit_ent {
	TAILQ_ENTRY(admit_ent)	 entry;		/* its address's, oldest first */
	struct admit		*admit;
	struct admit_peer	*peer;		/* NULL: not entered */
	void			(*evict)(struct admit_ent *, void *);
	void			*arg;
};

struct admit	*admit_new(const char *, size_t, size_t);
void		 admit_free(struct admit *);
int		 admit_add(struct admit *, struct admit_ent *,
		    const struct sockaddr *, void (*)(struct admit_ent *,
		    void *), void *);
void		 admit_del(struct admit_ent *);
void		 admit_trust(struct admit *, const struct sockaddr *);
int		 admit_trusted(struct admit *, const struct sockaddr *);
int		 admit_shed(struct admit *);
size_t		 admit_count(const struct admit *);
size_t		 admit_max(const struct admit *);
unsigned int	 admit_deadline(const struct admit *, unsigned int,
		    unsigned int);

#endif /* SC_ADMIT_H */
