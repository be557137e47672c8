/*
 * The REST API's accounts, teams and events (the routes: rest.c).
 *
 * events are the account's events (an organisation admin's: the
 * organisation's), the newest EVENTS_ANSWER_MAX, from the parent's
 * database: answered later, as is a POST of a tunnel (rest.c).  An
 * admin of an organisation lists, adds, changes and deletes the
 * organisation's accounts, lists and adds its teams; the parent writes
 * them (and checks again), and the new account's key is made here and
 * answered once.  admin_req() checks what an admin asks, for the REST
 * API and the web page's admin pages (web.c) alike, and admin_send()
 * asks the parent; the answer goes to whichever asked.
 */
#include <sys/types.h>
#include <sys/queue.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "httpd.h"
#include "imsg.h"
#include "imsg_server.h"
#include "log.h"
#include "server.h"
#include "rest_int.h"

static json_t	*rest_account_json(const struct account *);
static void	 rest_account_one(struct rest_req *, const char *);
static json_t	*rest_body_object(struct rest_req *, const char *);
static int	 rest_body_string(json_t *, const char *, const char **);
static void	 rest_answer_req(struct httpd_req *,
		    const struct admin_answer *, struct rest_req *);
static void	 rest_admin_done(struct httpd_req *,
		    const struct admin_answer *);
static void	 rest_events_done(struct httpd_req *,
		    const struct admin_answer *);

/*
 * GET .../events[?since=T]: asked of the parent, answered when it
 * answers (rest_events_done()).
 */
void
rest_events(struct rest_req *r, const char *query)
{
	char			 since[64];
	time_t			 t = 0;

	if (rest_query_get(query, "since", since, sizeof(since)) != NULL &&
	    parse_since(since, time(NULL), &t) == -1) {
		rest_error(r, 400, "since: neither RFC 3339 "
		    "(2026-12-07T05:00:00Z) nor an age (30s, 10m, 2h, 7d)");
		return;
	}
	events_send(r->req, r->method, r->path, NULL, r->user, t,
	    rest_events_done);
}

/* What an admin asks through the REST API: checked, then asked. */
void
rest_admin(struct rest_req *r, int op, const char *name, const char *team,
    const char *role)
{
	struct srv_account_req	 req;
	char			 err[256];
	int			 code;

	if ((code = admin_req(r->user, op, name, team, role, &req, err,
	    sizeof(err))) != 0) {
		rest_error(r, code, err);
		return;
	}
	admin_send(r->req, r->method, r->path, NULL, &req, rest_admin_done);
}

/* An account as an admin sees it. */
static json_t *
rest_account_json(const struct account *a)
{
	return (json_pack("{s:s, s:s, s:s?, s:s}", "name", a->name, "org",
	    a->org, "team", a->team[0] ? a->team : NULL, "role",
	    role_name(a->role)));
}

/* The account name as it is now, changed: 200, or 404. */
static void
rest_account_one(struct rest_req *r, const char *name)
{
	struct account	*a;

	if ((a = account_find(&env->accounts, name)) == NULL)
		rest_error(r, 404, "no such account");
	else
		rest_reply(r, 200, rest_account_json(a));
}

/* GET .../accounts: the organisation's accounts */
void
rest_accounts_list(struct rest_req *r)
{
	struct account	*adm, *a;
	json_t		*arr;

	if ((adm = admin_of(r->user)) == NULL) {
		rest_error(r, 403, "only an admin of an organisation manages "
		    "its accounts and teams");
		return;
	}
	if ((arr = json_array()) == NULL) {
		rest_error(r, 500, "out of memory");
		return;
	}
	TAILQ_FOREACH(a, &env->accounts, entry)
		if (strcmp(a->org, adm->org) == 0)
			json_array_append_new(arr, rest_account_json(a));
	rest_reply(r, 200, json_pack("{s:o}", "accounts", arr));
}

/*
 * The body of r as a JSON object, or NULL after answering 400 with what
 * it must be (shape).
 */
static json_t *
rest_body_object(struct rest_req *r, const char *shape)
{
	json_t		*body;
	const char	*data;
	char		 err[256];
	size_t		 len;

	data = rest_req_body(r, &len);
	if ((body = json_loadb(data, len, JSON_REJECT_DUPLICATES,
	    NULL)) == NULL || !json_is_object(body)) {
		json_decref(body);
		snprintf(err, sizeof(err), "the body must be a JSON object: %s",
		    shape);
		rest_error(r, 400, err);
		return (NULL);
	}
	return (body);
}

/*
 * Member key of o into *v: a string, or NULL when absent.  -1 when it is
 * there and not a string.
 */
static int
rest_body_string(json_t *o, const char *key, const char **v)
{
	json_t	*j = json_object_get(o, key);

	*v = json_string_value(j);
	return (j != NULL && *v == NULL ? -1 : 0);
}

/*
 * POST .../accounts {"name": ..., "team": ..., "role": ...}: a new
 * account of the admin's organisation (a member by default), whose
 * access key the answer tells, once.  PATCH .../accounts/{name}
 * {"team": ..., "role": ...}: its team ("": none) or its role, or both.
 */
void
rest_account_add(struct rest_req *r)
{
	rest_account_set(r, NULL);
}

void
rest_account_set(struct rest_req *r, const char *name)
{
	json_t		*body;
	const char	*team, *role;

	if ((body = rest_body_object(r, name == NULL ? "{\"name\": ..., "
	    "\"team\": ..., \"role\": ...}" : "{\"team\": ..., "
	    "\"role\": ...}")) == NULL)
		return;
	if (name == NULL && rest_body_string(body, "name", &name) == -1)
		name = "";
	if (rest_body_string(body, "team", &team) == -1 ||
	    rest_body_string(body, "role", &role) == -1) {
		json_decref(body);
		rest_error(r, 400, "\"team\" and \"role\" are strings");
		return;
	}
	rest_admin(r, strcmp(r->method, "PATCH") == 0 ? SRV_ACCOUNT_SET :
	    SRV_ACCOUNT_ADD, name, team, role);
	json_decref(body);
}

/* POST .../teams {"name": ...}: a new team of the admin's organisation */
void
rest_team_add(struct rest_req *r)
{
	json_t		*body;
	const char	*name;

	if ((body = rest_body_object(r, "{\"name\": ...}")) == NULL)
		return;
	if (rest_body_string(body, "name", &name) == -1)
		name = NULL;
	rest_admin(r, SRV_TEAM_ADD, NULL, name, NULL);
	json_decref(body);
}

/* DELETE .../accounts/{name}: an account of the admin's organisation */
void
rest_account_del(struct rest_req *r, const char *name)
{
	rest_admin(r, SRV_ACCOUNT_DEL, name, NULL, NULL);
}

/* The request that waited for the parent's answer a, to answer now. */
static void
rest_answer_req(struct httpd_req *req, const struct admin_answer *a,
    struct rest_req *r)
{
	memset(r, 0, sizeof(*r));
	r->req = req;
	r->method = a->method;
	strlcpy(r->path, a->path, sizeof(r->path));
}

/* The parent's answer to what an admin asked (admin_send()). */
static void
rest_admin_done(struct httpd_req *req, const struct admin_answer *a)
{
	struct rest_req		 r;
	json_t			*arr;
	uint32_t		 i;

	rest_answer_req(req, a, &r);
	if (a->status != 200)
		rest_error(&r, a->status == 500 && a->op == SRV_TEAM_LIST ?
		    503 : a->status, a->message);
	else if (a->op == SRV_ACCOUNT_ADD)
		rest_reply(&r, 200, json_pack("{s:s, s:s?, s:s, s:s}", "name",
		    a->name, "team", a->team[0] ? a->team : NULL, "role",
		    role_name(a->role), "access_key", a->key));
	else if (a->op == SRV_ACCOUNT_SET)
		rest_account_one(&r, a->name);
	else if (a->op == SRV_TEAM_LIST) {
		if ((arr = json_array()) == NULL) {
			rest_error(&r, 500, "out of memory");
			return;
		}
		for (i = 0; i < a->teams->count; i++)
			json_array_append_new(arr, json_pack("{s:s, s:I}",
			    "name", a->teams->name[i], "accounts",
			    (json_int_t)admin_team_size(a->admin,
			    a->teams->name[i])));
		rest_reply(&r, 200, json_pack("{s:o}", "teams", arr));
	} else
		rest_reply(&r, 200, json_pack("{s:b, s:s}", "result", 1, "name",
		    a->name));
}

/* The parent's answer to GET .../events: a JSON array, or "". */
static void
rest_events_done(struct httpd_req *req, const struct admin_answer *a)
{
	struct rest_req		 r;
	json_t			*arr;

	rest_answer_req(req, a, &r);
	if ((arr = json_loadb(a->events, a->events_len, 0, NULL)) == NULL ||
	    !json_is_array(arr)) {
		json_decref(arr);
		rest_error(&r, 503, "the event log cannot be read just now");
	} else
		rest_reply(&r, 200, json_pack("{s:o}", "events", arr));
}
