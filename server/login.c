/*
 * The check of an account's name and access key, for the REST API's
 * Basic credentials (rest.c) and the web page's sign-in (web.c) alike:
 * one rate limit for failed logins (guard.c) counts both.
 */
#include <sys/types.h>
#include <sys/queue.h>

#include <stddef.h>

#include "httpd.h"
#include "server.h"

/*
 * Are user and key good, for a request of REST or of the web page's
 * sign-in?  0; 401 (a failed login, counted); or 429 with *retry set:
 * failed logins from this address for this account wait (guard.c).
 * A client that logs in keeps its connections under a flood.
 */
int
login_check(struct httpd_req *req, const char *user, const char *key,
    int *retry)
{
	const char	*known, *peer = httpd_req_peer(req);

	known = account_find(&env->accounts, user) ? user : NULL;
	if (throttle_check(THROTTLE_REST, peer, known, retry))
		return (429);
	if (account_check(&env->accounts, user, key) != 0) {
		throttle_fail(THROTTLE_REST, peer, known);
		return (401);
	}
	throttle_ok(THROTTLE_REST, peer, user);
	httpd_req_trust(req);
	return (0);
}
