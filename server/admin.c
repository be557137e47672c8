/*
 * What an admin of an organisation asks of its accounts and teams, and
 * what an account asks of the event log: the questions that the REST
 * worker sends the parent (dbmsg.c) and the requests that wait for their
 * answers.  The REST API (rest.c) and the web page (web.c) both ask
 * through here, so that one place checks what an admin may ask
 * (admin_req()); each gives the function that answers its request when
 * the parent answers (struct admin_answer).  The parent checks again
 * against the database.
 */
#include <sys/types.h>
#include <sys/queue.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "httpd.h"
#include "imsg.h"
#include "imsg_server.h"
#include "log.h"
#include "proc.h"
#include "server.h"
#include "web.h"

/* a request waiting for the parent's answer */
struct admin_wait {
	TAILQ_ENTRY(admin_wait)	 entry;
	uint64_t		 reqid;
	struct httpd_req	*req;
	admin_done_t		 done;
	struct admin_answer	 ans;		/* its strings point below */
	struct web_session	 ws;
	char			 method[16];
	char			 path[256];
	char			 admin[ACCOUNT_NAME_MAX + 1];
	char			 name[TEAM_NAME_MAX + ACCOUNT_NAME_MAX + 1];
	char			 team[TEAM_NAME_MAX + 1];
	char			 key[ACCOUNT_KEY_LEN + 1];
};

static TAILQ_HEAD(, admin_wait)	 waiting = TAILQ_HEAD_INITIALIZER(waiting);
static uint64_t			 last_reqid;

static struct admin_wait *admin_wait_new(struct httpd_req *, const char *,
		    const char *, const struct web_session *, admin_done_t);
static struct admin_wait *admin_waiting(uint64_t);
static void	 admin_wait_free(struct admin_wait *);

/* The account user if it is an admin of an organisation, else NULL. */
struct account *
admin_of(const char *user)
{
	struct account	*a;

	if ((a = account_find(&env->accounts, user)) == NULL ||
	    a->role != ROLE_ADMIN || a->org[0] == '\0')
		return (NULL);
	return (a);
}

/* Is user an admin of an organisation (the web page's admin link)? */
int
admin_is(const char *user)
{
	return (admin_of(user) != NULL);
}

/* The accounts of admin's organisation in team ("": none). */
size_t
admin_team_size(const char *admin, const char *team)
{
	struct account	*adm, *a;
	size_t		 n = 0;

	if ((adm = admin_of(admin)) == NULL)
		return (0);
	TAILQ_FOREACH(a, &env->accounts, entry)
		if (strcmp(a->org, adm->org) == 0 && strcmp(a->team, team) == 0)
			n++;
	return (n);
}

/*
 * What admin asks of its organisation (op: SRV_ACCOUNT_*, SRV_TEAM_*),
 * checked: the account name, team and role as given (NULL: not given:
 * for SRV_ACCOUNT_SET, kept; for SRV_ACCOUNT_ADD, none and a member;
 * team "": none).  For SRV_TEAM_ADD the team's name is team.  0 with
 * req made (its reqid, salt and hash not), or the HTTP status to answer
 * with the reason in err.
 */
int
admin_req(const char *admin, int op, const char *name, const char *team,
    const char *role, struct srv_account_req *req, char *err, size_t len)
{
	memset(req, 0, sizeof(*req));
	req->op = op;
	if (admin_of(admin) == NULL) {
		snprintf(err, len, "only an admin of an organisation manages "
		    "its accounts and teams");
		return (403);
	}
	strlcpy(req->admin, admin, sizeof(req->admin));
	if (op == SRV_TEAM_LIST)
		return (0);
	if (op == SRV_TEAM_ADD) {
		if (team == NULL || !name_valid(team, TEAM_NAME_MAX)) {
			snprintf(err, len, "a team's name: 1 to %d characters "
			    "of A-Z a-z 0-9 . _ @ + -, not starting with - or "
			    ".", TEAM_NAME_MAX);
			return (400);
		}
		strlcpy(req->team, team, sizeof(req->team));
		return (0);
	}
	if (name == NULL || !account_name_valid(name)) {
		if (op != SRV_ACCOUNT_ADD) {
			snprintf(err, len, "no such account");
			return (404);
		}
		snprintf(err, len, "an account's name: 1 to %d characters of "
		    "A-Z a-z 0-9 . _ @ + -, not starting with - or .",
		    ACCOUNT_NAME_MAX);
		return (400);
	}
	strlcpy(req->name, name, sizeof(req->name));
	if (op == SRV_ACCOUNT_DEL)
		return (0);
	req->keep_team = team == NULL && op == SRV_ACCOUNT_SET;
	req->keep_role = role == NULL && op == SRV_ACCOUNT_SET;
	req->role = role == NULL ? ROLE_MEMBER : role_parse(role);
	if ((team != NULL && *team != '\0' &&
	    !name_valid(team, TEAM_NAME_MAX)) || req->role == -1) {
		req->role = ROLE_MEMBER;
		snprintf(err, len, "a team: 1 to %d characters of A-Z a-z 0-9 "
		    ". _ @ + -, not starting with - or . (or none); a role: "
		    "admin, team-admin or member", TEAM_NAME_MAX);
		return (400);
	}
	if (team != NULL)
		strlcpy(req->team, team, sizeof(req->team));
	return (0);
}

/*
 * A request of method and path (for the log) to answer with done when
 * the parent answers; ws: the web page's session, or NULL.  NULL after
 * answering 500.
 */
static struct admin_wait *
admin_wait_new(struct httpd_req *hreq, const char *method, const char *path,
    const struct web_session *ws, admin_done_t done)
{
	struct admin_wait	*w;

	if ((w = calloc(1, sizeof(*w))) == NULL) {
		httpd_error(hreq, 500, "out of memory");
		return (NULL);
	}
	w->req = hreq;
	w->done = done;
	strlcpy(w->method, method, sizeof(w->method));
	strlcpy(w->path, path, sizeof(w->path));
	if (ws != NULL)
		w->ws = *ws;
	w->ans.ws = ws != NULL ? &w->ws : NULL;
	w->ans.method = w->method;
	w->ans.path = w->path;
	w->ans.admin = w->admin;
	w->ans.name = w->name;
	w->ans.team = w->team;
	w->ans.key = w->key;
	w->reqid = ++last_reqid;
	TAILQ_INSERT_TAIL(&waiting, w, entry);
	return (w);
}

/* The request waiting for the parent's answer reqid, taken; or NULL. */
static struct admin_wait *
admin_waiting(uint64_t reqid)
{
	struct admin_wait	*w;

	TAILQ_FOREACH(w, &waiting, entry)
		if (w->reqid == reqid) {
			TAILQ_REMOVE(&waiting, w, entry);
			return (w);
		}
	log_warnx("admin: an answer to no request");
	return (NULL);
}

static void
admin_wait_free(struct admin_wait *w)
{
	freezero(w, sizeof(*w));
}

/*
 * Send req (made by admin_req()) to the parent, for the request hreq;
 * done answers it when the parent does.  A new account's key is made
 * here.  0, or -1 after answering 500.
 */
int
admin_send(struct httpd_req *hreq, const char *method, const char *path,
    const struct web_session *ws, struct srv_account_req *req,
    admin_done_t done)
{
	struct admin_wait	*w;

	if ((w = admin_wait_new(hreq, method, path, ws, done)) == NULL)
		return (-1);
	w->ans.op = req->op;
	strlcpy(w->admin, req->admin, sizeof(w->admin));
	if (req->op == SRV_ACCOUNT_ADD) {
		arc4random_buf(req->salt, sizeof(req->salt));
		account_new_key(w->key, sizeof(w->key));
		account_hash(req->salt, w->key, req->hash);
	}
	strlcpy(w->name, req->op == SRV_TEAM_ADD ? req->team : req->name,
	    sizeof(w->name));
	strlcpy(w->team, req->team, sizeof(w->team));
	w->ans.role = req->role;
	req->reqid = w->reqid;
	worker_send(IMSG_SRV_ACCOUNT_REQ, req, sizeof(*req));
	explicit_bzero(req, sizeof(*req));
	return (0);
}

/*
 * Ask the parent for the events that account may see since since, for
 * the request hreq; done answers it.  0, or -1 after answering 500.
 */
int
events_send(struct httpd_req *hreq, const char *method, const char *path,
    const struct web_session *ws, const char *account, time_t since,
    admin_done_t done)
{
	struct srv_events_req	 req;
	struct admin_wait	*w;

	if ((w = admin_wait_new(hreq, method, path, ws, done)) == NULL)
		return (-1);
	memset(&req, 0, sizeof(req));
	req.reqid = w->reqid;
	req.since = since;
	strlcpy(req.account, account, sizeof(req.account));
	strlcpy(w->admin, account, sizeof(w->admin));
	worker_send(IMSG_SRV_EVENTS_REQ, &req, sizeof(req));
	return (0);
}

/* The parent's answer to an account request (srv_account_rep_valid()). */
int
admin_account_answer(struct imsgev *iev, struct imsg *imsg)
{
	struct srv_account_rep	 rep;
	struct admin_wait	*w;

	memcpy(&rep, imsg->data, sizeof(rep));
	if ((w = admin_waiting(rep.reqid)) == NULL)
		return (IMSGEV_OK);
	w->ans.status = rep.status;
	w->ans.message = rep.message;
	w->done(w->req, &w->ans);
	admin_wait_free(w);
	return (IMSGEV_OK);
}

/* The parent's answer to a list of teams (srv_teams_rep_valid()). */
int
admin_teams_answer(struct imsgev *iev, struct imsg *imsg)
{
	struct srv_teams_rep	*rep = imsg->data;
	struct admin_wait	*w;

	if ((w = admin_waiting(rep->reqid)) == NULL)
		return (IMSGEV_OK);
	w->ans.status = rep->status;
	w->ans.message = "the teams cannot be read just now";
	w->ans.teams = rep;
	w->done(w->req, &w->ans);
	admin_wait_free(w);
	return (IMSGEV_OK);
}

/* The parent's answer to the events request reqid: a JSON array. */
void
admin_events_answer(uint64_t reqid, const char *text, size_t len)
{
	struct admin_wait	*w;

	if ((w = admin_waiting(reqid)) == NULL)
		return;
	w->ans.status = 200;
	w->ans.events = text;
	w->ans.events_len = len;
	w->done(w->req, &w->ans);
	admin_wait_free(w);
}
