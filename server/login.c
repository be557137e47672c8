/*
 * The check of an account's name and access key, for the REST API's
 * Basic credentials (rest.c) and the web page's sign-in (web.c) alike:
 * one rate limit for failed logins (guard.c) counts both.
 */
#include <sys/types.h>
#include <sys/queue.h>

#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "httpd.h"
#include "server.h"

static void	 login_failed(const char *, const char *, int, const char *);

/*
 * Are user and key good, for a request of REST or of the web page's
 * sign-in?  0; 401 (a failed login, counted); or 429 with *retry set:
 * failed logins from this address for this account wait (guard.c).
 * A failed one is an event too; via says where ("REST", "web page").
 * A client that logs in keeps its connections under a flood.
 */
int
login_check(struct httpd_req *req, const char *user, const char *key,
    const char *via, int *retry)
{
	const char	*known, *peer = httpd_req_peer(req);

	known = account_find(&env->accounts, user) ? user : NULL;
	if (throttle_check(THROTTLE_REST, peer, known, retry))
		return (429);
	if (account_check(&env->accounts, user, key) != 0) {
		throttle_fail(THROTTLE_REST, peer, known);
		login_failed(peer, user, known != NULL, via);
		return (401);
	}
	throttle_ok(THROTTLE_REST, peer, user);
	httpd_req_trust(req);
	return (0);
}

/*
 * A failed sign-in into the event log: at most EVENTS_SIGNIN_RATE a
 * second, the next one that is logged says how many were not.  One of
 * a known account is that account's event; another names what was
 * tried in its detail, for the operator only.
 */
static void
login_failed(const char *peer, const char *user, int known,
    const char *via)
{
	static struct timespec	 window;
	static unsigned int	 n, dropped;
	struct timespec		 now;
	char			 why[128], detail[EVENT_DETAIL_MAX + 1];

	clock_gettime(CLOCK_MONOTONIC, &now);
	if (now.tv_sec != window.tv_sec) {
		window = now;
		n = 0;
	}
	if (++n > EVENTS_SIGNIN_RATE) {
		dropped++;
		return;
	}
	if (known)
		strlcpy(why, "wrong access key", sizeof(why));
	else
		snprintf(why, sizeof(why), "no account \"%.64s\"", user);
	if (dropped > 0)
		snprintf(detail, sizeof(detail), "%s: %s (%u more failed "
		    "sign-ins not logged)", via, why, dropped);
	else
		snprintf(detail, sizeof(detail), "%s: %s", via, why);
	dropped = 0;
	worker_event(EVENT_SIGNIN_FAILED, known ? user : NULL,
	    known ? user : NULL, peer, detail);
}
