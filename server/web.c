/*
 * The Tunnels web page: served by the REST worker on the REST port, next
 * to the REST API (rest.c hands over the paths web_path() claims).
 *
 *	GET	/			the tunnels (signed in), else to /signin
 *	GET	/signin			the sign-in form
 *	POST	/signin			account name, access key, CSRF token
 *	POST	/signout		CSRF token
 *	GET	/tunnels.json		the tunnels page's figures
 *	GET	/tunnel/ID		one tunnel
 *	GET	/tunnel/ID.json		... its figures
 *	POST	/tunnel/ID/stop		CSRF token: the owner (or an admin of
 *					its organisation) stops it
 *	GET	/static/NAME		the CSS and the JavaScript
 *	GET	/admin			an organisation admin's page: the
 *					accounts, the teams, their forms
 *	GET	/admin/events		the organisation's recent events
 *	POST	/admin/accounts		CSRF token, name, team, role: a new
 *					account (its key shown once)
 *	POST	/admin/account/set	CSRF token, name, team, role
 *	POST	/admin/account/delete	CSRF token, name
 *	POST	/admin/teams		CSRF token, name: a new team
 *
 * A sign-in makes a session: a random token of WEB_TOKEN_BYTES in a
 * cookie (HttpOnly, SameSite=Strict, Path=/, Secure over HTTPS), in a
 * table of at most WEB_SESSIONS_MAX, WEB_SESSIONS_ACCOUNT per account;
 * it ends unused for WEB_SESSION_IDLE_SEC, WEB_SESSION_MAX_SEC after the
 * sign-in, at sign-out, when the account goes or its key changes.
 * Every form carries a CSRF token that its POST must return: the
 * session's, or before a session one that a cookie holds as well
 * (double submit).  Failed sign-ins count in the REST API's rate limit
 * (login_check()).  Every answer has the headers that keep it out of
 * frames, scripts of others and caches.
 *
 * The admin pages are for admins of an organisation only (403 for the
 * others, and no link to them): what they ask goes through admin_req()
 * (rest.c), the REST API's own checks, and to the parent; the page is
 * answered when the parent answers (web_admin_done(),
 * web_admin_events()).
 */
#include <sys/types.h>
#include <sys/queue.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "httpd.h"
#include "imsg_server.h"
#include "log.h"
#include "server.h"
#include "web.h"

#define WEB_COOKIE_SESSION	"sc_session"
#define WEB_COOKIE_SIGNIN	"sc_signin"
#define WEB_TOKEN_HEX		(2 * WEB_TOKEN_BYTES)
#define WEB_HEADERS_MAX		2048

struct web_sess {
	TAILQ_ENTRY(web_sess)	 entry;
	char			 token[WEB_TOKEN_HEX + 1];
	uint8_t			 hash[32];	/* the account's, at sign-in */
	time_t			 created;
	time_t			 used;
	struct web_session	 s;
};
TAILQ_HEAD(web_sesslist, web_sess);

static struct web_sesslist	 sessions = TAILQ_HEAD_INITIALIZER(sessions);
static size_t			 nsessions;

static struct evbuffer *web_buf(struct httpd_req *);
static void	 web_token(char *);
static int	 web_token_valid(const char *);
static int	 web_cookie(struct httpd_req *, const char *, char *, size_t);
static struct web_sess *web_session_get(struct httpd_req *);
static struct web_sess *web_session_new(const char *);
static void	 web_session_end(struct web_sess *);
static void	 web_sessions_expire(void);
static int	 web_form(struct httpd_req *, struct evkeyvalq *);
static void	 web_form_clear(struct evkeyvalq *);
static int	 web_session_form(struct httpd_req *, struct web_sess *,
		    struct evkeyvalq *);
static int	 web_csrf_ok(const char *, const char *);
static void	 web_redirect(struct httpd_req *, const char *, const char *);
static void	 web_page(struct httpd_req *, int, const struct web_session *,
		    const char *, const char *);
static void	 web_json_error(struct httpd_req *, int, const char *);
static void	 web_405(struct httpd_req *, const char *);
static struct evbuffer *web_get(struct httpd_req *, int);
static void	 web_made(struct httpd_req *, struct evbuffer *, int, int);
static void	 web_signin_page(struct httpd_req *, int, const char *,
		    const char *);
static void	 web_signin(struct httpd_req *);
static void	 web_signout(struct httpd_req *);
static void	 web_static(struct httpd_req *, const char *);
static void	 web_tunnel_route(struct httpd_req *, struct web_sess *,
		    const char *, int);
static void	 web_stop(struct httpd_req *, struct web_sess *,
		    struct tunnel *);
static void	 web_admin_route(struct httpd_req *, struct web_sess *,
		    const char *, int, int);
static void	 web_admin_post(struct httpd_req *, struct web_sess *, int);
static void	 web_admin_done(struct httpd_req *,
		    const struct admin_answer *);
static void	 web_admin_events(struct httpd_req *,
		    const struct admin_answer *);

/* Does the web page serve path? */
int
web_path(const char *path)
{
	return (strcmp(path, "/") == 0 || strcmp(path, "/signin") == 0 ||
	    strcmp(path, "/signout") == 0 ||
	    strcmp(path, "/tunnels.json") == 0 ||
	    strncmp(path, "/tunnel/", 8) == 0 ||
	    strcmp(path, "/admin") == 0 || strncmp(path, "/admin/", 7) == 0 ||
	    strncmp(path, "/static/", 8) == 0);
}

/*
 * Answer req with the body in b (emptied), of type, with the security
 * headers, no-store, and more header lines (each ending in CRLF) or NULL.
 */
void
web_send(struct httpd_req *req, int code, const char *type,
    struct evbuffer *b, const char *more)
{
	char		 hdrs[WEB_HEADERS_MAX + 512], path[256];
	size_t		 len = b != NULL ? evbuffer_get_length(b) : 0;
	const void	*body = "";

	if (len > 0)
		body = evbuffer_pullup(b, -1);
	snprintf(hdrs, sizeof(hdrs),
	    "Content-Security-Policy: default-src 'none'; script-src 'self'; "
	    "style-src 'self'; img-src 'self'; connect-src 'self'; "
	    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'\r\n"
	    "X-Content-Type-Options: nosniff\r\n"
	    "X-Frame-Options: DENY\r\n"
	    "Referrer-Policy: no-referrer\r\n"
	    "Cache-Control: no-store\r\n"
	    "%s", more != NULL ? more : "");
	/* before the answer, which frees the request */
	log_sanitize(httpd_req_target(req), path, sizeof(path));
	log_debug("web: %s %s %d", httpd_req_method(req), path, code);
	httpd_reply(req, code, type, hdrs, body, len);
	if (b != NULL)
		evbuffer_drain(b, len);
}

/*
 * The buffer that every answer is made in, empty (web_send() empties it
 * too), or NULL after answering 500.
 */
static struct evbuffer *
web_buf(struct httpd_req *req)
{
	static struct evbuffer	*b;

	if (b == NULL && (b = evbuffer_new()) == NULL) {
		httpd_error(req, 500, "out of memory");
		return (NULL);
	}
	/* what a failed page left */
	evbuffer_drain(b, evbuffer_get_length(b));
	return (b);
}

/* WEB_TOKEN_BYTES random bytes, hex, and a NUL. */
static void
web_token(char *out)
{
	tunnel_random_hex(out, WEB_TOKEN_HEX);
}

static int
web_token_valid(const char *s)
{
	return (strlen(s) == WEB_TOKEN_HEX &&
	    strspn(s, "0123456789abcdef") == WEB_TOKEN_HEX);
}

/* The value of cookie name (a token), into out: 0, or -1 for none. */
static int
web_cookie(struct httpd_req *req, const char *name, char *out, size_t len)
{
	const char	*h, *p;
	size_t		 nlen = strlen(name), vlen;

	if ((h = httpd_req_header(req, "Cookie")) == NULL)
		return (-1);
	for (p = h; *p != '\0'; p += strcspn(p, ";"), p += *p == ';') {
		p += strspn(p, " \t");
		if (strncmp(p, name, nlen) != 0 || p[nlen] != '=')
			continue;
		p += nlen + 1;
		vlen = strcspn(p, "; \t");
		if (vlen >= len)
			return (-1);
		memcpy(out, p, vlen);
		out[vlen] = '\0';
		return (0);
	}
	return (-1);
}

/* Sessions past their time go. */
static void
web_sessions_expire(void)
{
	struct web_sess	*s, *tmp;
	time_t		 now = time(NULL);

	TAILQ_FOREACH_SAFE(s, &sessions, entry, tmp)
		if (now - s->used > WEB_SESSION_IDLE_SEC ||
		    now - s->created > WEB_SESSION_MAX_SEC ||
		    now < s->created)
			web_session_end(s);
}

/*
 * The session the request's cookie names, still valid (used now), or
 * NULL.
 */
static struct web_sess *
web_session_get(struct httpd_req *req)
{
	struct web_sess	*s;
	struct account	*a;
	char		 tok[WEB_TOKEN_HEX + 1];
	time_t		 now = time(NULL);

	if (web_cookie(req, WEB_COOKIE_SESSION, tok, sizeof(tok)) == -1 ||
	    !web_token_valid(tok))
		return (NULL);
	TAILQ_FOREACH(s, &sessions, entry)
		if (timingsafe_bcmp(s->token, tok, WEB_TOKEN_HEX) == 0)
			break;
	explicit_bzero(tok, sizeof(tok));
	if (s == NULL)
		return (NULL);
	if (now - s->used > WEB_SESSION_IDLE_SEC ||
	    now - s->created > WEB_SESSION_MAX_SEC || now < s->created ||
	    (a = account_find(&env->accounts, s->s.user)) == NULL ||
	    timingsafe_bcmp(a->hash, s->hash, sizeof(s->hash)) != 0) {
		web_session_end(s);
		return (NULL);
	}
	s->used = now;
	/* most recently used first: the last is the one to go */
	TAILQ_REMOVE(&sessions, s, entry);
	TAILQ_INSERT_HEAD(&sessions, s, entry);
	httpd_req_trust(req);
	return (s);
}

/*
 * A session for user, who just signed in: the account's oldest goes
 * past WEB_SESSIONS_ACCOUNT, the least recently used past
 * WEB_SESSIONS_MAX.
 */
static struct web_sess *
web_session_new(const char *user)
{
	struct web_sess	*s, *old = NULL;
	struct account	*a;
	size_t		 mine = 0;

	if ((a = account_find(&env->accounts, user)) == NULL)
		return (NULL);
	web_sessions_expire();
	TAILQ_FOREACH(s, &sessions, entry)
		if (strcmp(s->s.user, user) == 0) {
			mine++;
			if (old == NULL || s->created < old->created)
				old = s;
		}
	if (mine >= WEB_SESSIONS_ACCOUNT && old != NULL)
		web_session_end(old);
	if (nsessions >= WEB_SESSIONS_MAX)
		web_session_end(TAILQ_LAST(&sessions, web_sesslist));
	if ((s = calloc(1, sizeof(*s))) == NULL) {
		log_warn("%s", __func__);
		return (NULL);
	}
	web_token(s->token);
	web_token(s->s.csrf);
	strlcpy(s->s.user, user, sizeof(s->s.user));
	memcpy(s->hash, a->hash, sizeof(s->hash));
	s->created = s->used = time(NULL);
	TAILQ_INSERT_HEAD(&sessions, s, entry);
	nsessions++;
	return (s);
}

static void
web_session_end(struct web_sess *s)
{
	TAILQ_REMOVE(&sessions, s, entry);
	nsessions--;
	explicit_bzero(s, sizeof(*s));
	free(s);
}

/*
 * The fields of a form POST (application/x-www-form-urlencoded) into kv.
 * 0, or -1 after answering (415, 400).
 */
static int
web_form(struct httpd_req *req, struct evkeyvalq *kv)
{
	const char	*type, *body;
	char		*text;
	size_t		 len;

	TAILQ_INIT(kv);
	type = httpd_req_header(req, "Content-Type");
	if (type == NULL || strncasecmp(type,
	    "application/x-www-form-urlencoded", 33) != 0) {
		web_page(req, 415, NULL, "Unsupported form",
		    "The form must be sent as application/"
		    "x-www-form-urlencoded.");
		return (-1);
	}
	if ((body = httpd_req_body(req, &len)) == NULL)
		body = "";
	if ((text = malloc(len + 1)) == NULL) {
		web_page(req, 500, NULL, "Out of memory", "Try again.");
		return (-1);
	}
	memcpy(text, body, len);
	text[len] = '\0';
	if (strlen(text) != len || evhttp_parse_query_str(text, kv) == -1) {
		explicit_bzero(text, len);
		free(text);
		evhttp_clear_headers(kv);
		web_page(req, 400, NULL, "Bad form", "The form cannot be "
		    "read.");
		return (-1);
	}
	explicit_bzero(text, len);
	free(text);
	return (0);
}

/*
 * The fields of a form POST of session s into kv, with the session's
 * CSRF token: 0, or -1 after answering (403 for a missing or wrong
 * token).
 */
static int
web_session_form(struct httpd_req *req, struct web_sess *s,
    struct evkeyvalq *kv)
{
	if (web_form(req, kv) == -1)
		return (-1);
	if (!web_csrf_ok(evhttp_find_header(kv, "csrf"), s->s.csrf)) {
		evhttp_clear_headers(kv);
		web_page(req, 403, &s->s, "Forbidden", "The form's CSRF token "
		    "is missing or wrong: reload the page.");
		return (-1);
	}
	return (0);
}

/* The fields of a form out, their values wiped (an access key may be one). */
static void
web_form_clear(struct evkeyvalq *kv)
{
	struct evkeyval	*f;

	TAILQ_FOREACH(f, kv, next)
		explicit_bzero(f->value, strlen(f->value));
	evhttp_clear_headers(kv);
}

/* The CSRF token of a form against the one expected (both tokens). */
static int
web_csrf_ok(const char *got, const char *want)
{
	return (got != NULL && want != NULL && web_token_valid(got) &&
	    web_token_valid(want) &&
	    timingsafe_bcmp(got, want, WEB_TOKEN_HEX) == 0);
}

/* 303 to where, with more header lines or NULL. */
static void
web_redirect(struct httpd_req *req, const char *where, const char *more)
{
	char	 hdrs[WEB_HEADERS_MAX];

	snprintf(hdrs, sizeof(hdrs), "Location: %s\r\n%s", where,
	    more != NULL ? more : "");
	web_send(req, 303, "text/plain; charset=utf-8", NULL, hdrs);
}

/* A page that says only what went wrong (text, not markup). */
static void
web_page(struct httpd_req *req, int code, const struct web_session *s,
    const char *title, const char *text)
{
	struct evbuffer	*b;

	if ((b = web_buf(req)) == NULL)
		return;
	webpage_message(b, s, title, text);
	web_send(req, code, "text/html; charset=utf-8", b, NULL);
}

static void
web_json_error(struct httpd_req *req, int code, const char *msg)
{
	struct evbuffer	*b;

	if ((b = web_buf(req)) == NULL)
		return;
	/* msg is ours: no quote nor backslash in it */
	evbuffer_add_printf(b, "{\"message\": \"%s\"}\n", msg);
	web_send(req, code, "application/json", b, NULL);
}

/* A method a path does not take: those it does in allow. */
static void
web_405(struct httpd_req *req, const char *allow)
{
	char	 hdrs[64];

	snprintf(hdrs, sizeof(hdrs), "Allow: %s\r\n", allow);
	web_send(req, 405, "text/plain; charset=utf-8", NULL, hdrs);
}

/* A GET (or HEAD): the buffer to make its answer in; else 405, NULL. */
static struct evbuffer *
web_get(struct httpd_req *req, int get)
{
	if (!get) {
		web_405(req, "GET, HEAD");
		return (NULL);
	}
	return (web_buf(req));
}

/* A page (json 0) or a JSON view made in b: 200, or 500 if made is -1. */
static void
web_made(struct httpd_req *req, struct evbuffer *b, int json, int made)
{
	if (made == -1)
		web_json_error(req, 500, "out of memory");
	else
		web_send(req, 200, json ? "application/json" :
		    "text/html; charset=utf-8", b, NULL);
}

/*
 * The sign-in form, with an error (text) or none.  Its CSRF token is the
 * browser's sign-in cookie when it has a good one, else a new one that
 * the cookie gets.
 */
static void
web_signin_page(struct httpd_req *req, int code, const char *user,
    const char *error)
{
	struct evbuffer	*b;
	char		 tok[WEB_TOKEN_HEX + 1], hdrs[512];

	hdrs[0] = '\0';
	if (web_cookie(req, WEB_COOKIE_SIGNIN, tok, sizeof(tok)) == -1 ||
	    !web_token_valid(tok)) {
		web_token(tok);
		snprintf(hdrs, sizeof(hdrs), "Set-Cookie: " WEB_COOKIE_SIGNIN
		    "=%s; Path=/; HttpOnly; SameSite=Strict%s\r\n", tok,
		    env->rest_tls ? "; Secure" : "");
	}
	if ((b = web_buf(req)) == NULL)
		return;
	webpage_signin(b, tok, user, error);
	web_send(req, code, "text/html; charset=utf-8", b, hdrs);
}

static void
web_signin(struct httpd_req *req)
{
	struct evkeyvalq	 kv;
	struct web_sess		*s;
	const char		*user, *key, *csrf;
	char			 tok[WEB_TOKEN_HEX + 1], hdrs[512];
	int			 code, retry = 0;

	if (web_form(req, &kv) == -1)
		return;
	csrf = evhttp_find_header(&kv, "csrf");
	if (web_cookie(req, WEB_COOKIE_SIGNIN, tok, sizeof(tok)) == -1 ||
	    !web_csrf_ok(csrf, tok)) {
		web_form_clear(&kv);
		web_page(req, 403, NULL, "Forbidden", "The form's CSRF token "
		    "is missing or wrong: open the sign-in page again.");
		return;
	}
	user = evhttp_find_header(&kv, "user");
	key = evhttp_find_header(&kv, "key");
	if (user == NULL || key == NULL || *user == '\0' || *key == '\0') {
		web_signin_page(req, 400, user, "Give an account name and "
		    "its access key.");
		web_form_clear(&kv);
		return;
	}
	if (strlen(user) > ACCOUNT_NAME_MAX)
		code = 401;
	else
		code = login_check(req, user, key, "web page", &retry);
	if (code == 429) {
		snprintf(hdrs, sizeof(hdrs), "Too many failed sign-ins: try "
		    "again in %d s.", retry);
		web_signin_page(req, 429, user, hdrs);
	} else if (code != 0) {
		log_info("web: a failed sign-in for an account from %s",
		    httpd_req_peer(req));
		web_signin_page(req, 401, user, "Wrong account name or "
		    "access key.");
	} else if ((s = web_session_new(user)) == NULL)
		web_page(req, 503, NULL, "Cannot sign in", "No session can "
		    "be made now: try again.");
	else {
		log_info("web: %s signed in from %s", user,
		    httpd_req_peer(req));
		snprintf(hdrs, sizeof(hdrs), "Set-Cookie: "
		    WEB_COOKIE_SESSION "=%s; Path=/; Max-Age=%d; HttpOnly; "
		    "SameSite=Strict%s\r\n"
		    "Set-Cookie: " WEB_COOKIE_SIGNIN "=; Path=/; Max-Age=0; "
		    "HttpOnly; SameSite=Strict%s\r\n", s->token,
		    WEB_SESSION_MAX_SEC, env->rest_tls ? "; Secure" : "",
		    env->rest_tls ? "; Secure" : "");
		web_redirect(req, "/", hdrs);
		explicit_bzero(hdrs, sizeof(hdrs));
	}
	web_form_clear(&kv);
}

static void
web_signout(struct httpd_req *req)
{
	struct evkeyvalq	 kv;
	struct web_sess		*s;
	char			 hdrs[256];

	if ((s = web_session_get(req)) == NULL) {
		web_redirect(req, "/signin", NULL);
		return;
	}
	if (web_session_form(req, s, &kv) == -1)
		return;
	evhttp_clear_headers(&kv);
	log_info("web: %s signed out", s->s.user);
	web_session_end(s);
	snprintf(hdrs, sizeof(hdrs), "Set-Cookie: " WEB_COOKIE_SESSION
	    "=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict%s\r\n",
	    env->rest_tls ? "; Secure" : "");
	web_redirect(req, "/signin", hdrs);
}

/* A file of server/web/: public, the same for everyone. */
static void
web_static(struct httpd_req *req, const char *name)
{
	const struct web_asset	*a;
	char			 hdrs[WEB_HEADERS_MAX];

	for (a = web_assets; a->name != NULL; a++)
		if (strcmp(a->name, name) == 0)
			break;
	if (a->name == NULL) {
		web_page(req, 404, NULL, "Not found", "No such file.");
		return;
	}
	snprintf(hdrs, sizeof(hdrs),
	    "Content-Security-Policy: default-src 'none'; "
	    "frame-ancestors 'none'\r\n"
	    "X-Content-Type-Options: nosniff\r\n"
	    "Referrer-Policy: no-referrer\r\n"
	    "Cache-Control: no-cache\r\n");
	httpd_reply(req, 200, a->type, hdrs, a->data, a->len);
}

/*
 * /tunnel/ID, /tunnel/ID.json, /tunnel/ID/stop (rest: what follows
 * "/tunnel/").  A tunnel the user may not see is not found.
 */
static void
web_tunnel_route(struct httpd_req *req, struct web_sess *s,
    const char *rest, int get)
{
	struct evbuffer	*b;
	struct tunnel	*t;
	char		 id[TUNNEL_ID_LEN + 1];
	size_t		 n = strcspn(rest, "./");	/* not in an id */
	const char	*what = rest + n;
	int		 json = strcmp(what, ".json") == 0;

	if (n > TUNNEL_ID_LEN)
		n = 0;		/* too long: no tunnel's */
	memcpy(id, rest, n);
	id[n] = '\0';
	if (!tunnel_id_valid(id) || (!json && strcmp(what, "") != 0 &&
	    strcmp(what, "/stop") != 0) ||
	    (t = tunnel_find(id)) == NULL || !reg_may_use(s->s.user, t, NULL)) {
		if (json)
			web_json_error(req, 404, "Tunnel not found");
		else
			web_page(req, 404, &s->s, "Not found",
			    "No such tunnel.");
		return;
	}
	if (strcmp(what, "/stop") == 0) {
		if (strcmp(httpd_req_method(req), "POST") != 0)
			web_405(req, "POST");
		else
			web_stop(req, s, t);
		return;
	}
	if ((b = web_get(req, get)) == NULL)
		return;
	if (json)
		web_made(req, b, 1, webpage_tunnel_json(b, &s->s, t));
	else {
		webpage_tunnel(b, &s->s, t);
		web_made(req, b, 0, 0);
	}
}

/*
 * POST /tunnel/ID/stop: by its owner or an admin of its organisation,
 * with the session's CSRF token.
 */
static void
web_stop(struct httpd_req *req, struct web_sess *s, struct tunnel *t)
{
	struct evkeyvalq	 kv;
	char			 where[64];

	if (web_session_form(req, s, &kv) == -1)
		return;
	evhttp_clear_headers(&kv);
	if (!reg_may_delete(s->s.user, t)) {
		web_page(req, 403, &s->s, "Forbidden", "Only its owner or an "
		    "admin of its organisation may stop a tunnel.");
		return;
	}
	if (t->status != TUNNEL_RUNNING) {
		web_page(req, 409, &s->s, "Not running", "The tunnel is not "
		    "running.");
		return;
	}
	log_info("web: %s stops tunnel %s", s->s.user, t->id);
	snprintf(where, sizeof(where), "/tunnel/%s", t->id);
	/* t may be pruned from the registry once terminated */
	reg_deleted(t, s->s.user);
	web_redirect(req, where, NULL);
}

/* A request for one of the paths web_path() claims. */
void
web_request(struct httpd_req *req, const char *path)
{
	struct web_sess	*s;
	struct evbuffer	*b;
	const char	*m = httpd_req_method(req);
	int		 get, post;

	get = strcmp(m, "GET") == 0 || strcmp(m, "HEAD") == 0;
	post = strcmp(m, "POST") == 0;
	if (strncmp(path, "/static/", 8) == 0) {
		if (get)
			web_static(req, path + 8);
		else
			web_405(req, "GET, HEAD");
		return;
	}
	if (strcmp(path, "/signin") == 0) {
		if (post)
			web_signin(req);
		else if (!get)
			web_405(req, "GET, HEAD, POST");
		else if (web_session_get(req) != NULL)
			web_redirect(req, "/", NULL);
		else
			web_signin_page(req, 200, NULL, NULL);
		return;
	}
	if (strcmp(path, "/signout") == 0) {
		if (post)
			web_signout(req);
		else
			web_405(req, "POST");
		return;
	}
	if ((s = web_session_get(req)) == NULL) {
		if (post)
			web_page(req, 403, NULL, "Forbidden", "Sign in first.");
		else if (strcmp(path, "/") == 0)
			web_redirect(req, "/signin", NULL);
		else if (strstr(path, ".json") != NULL)
			web_json_error(req, 401, "Sign in first");
		else
			web_redirect(req, "/signin", NULL);
		return;
	}
	if (strncmp(path, "/tunnel/", 8) == 0) {
		web_tunnel_route(req, s, path + 8, get);
		return;
	}
	if (strncmp(path, "/admin", 6) == 0) {
		web_admin_route(req, s, path, get, post);
		return;
	}
	if ((b = web_get(req, get)) == NULL)
		return;
	if (strcmp(path, "/") == 0) {
		webpage_tunnels(b, &s->s);
		web_made(req, b, 0, 0);
	} else
		web_made(req, b, 1, webpage_tunnels_json(b, &s->s));
}

/*
 * /admin and /admin/...: for an admin of an organisation (admin_req()
 * decides), else 403.
 */
static void
web_admin_route(struct httpd_req *req, struct web_sess *s, const char *path,
    int get, int post)
{
	struct srv_account_req	 areq;
	char			 err[256];
	int			 code;

	if ((code = admin_req(s->s.user, SRV_TEAM_LIST, NULL, NULL, NULL,
	    &areq, err, sizeof(err))) != 0) {
		web_page(req, code, &s->s, "Forbidden", err);
		return;
	}
	if (strcmp(path, "/admin") == 0 || strcmp(path, "/admin/") == 0) {
		if (!get)
			web_405(req, "GET, HEAD");
		else
			admin_send(req, httpd_req_method(req), path, &s->s,
			    &areq, web_admin_done);
	} else if (strcmp(path, "/admin/events") == 0) {
		if (!get)
			web_405(req, "GET, HEAD");
		else
			events_send(req, httpd_req_method(req), path, &s->s,
			    s->s.user, 0, web_admin_events);
	} else if (strcmp(path, "/admin/accounts") == 0 ||
	    strcmp(path, "/admin/account/set") == 0 ||
	    strcmp(path, "/admin/account/delete") == 0 ||
	    strcmp(path, "/admin/teams") == 0) {
		if (!post)
			web_405(req, "POST");
		else
			web_admin_post(req, s, strcmp(path, "/admin/accounts") ==
			    0 ? SRV_ACCOUNT_ADD : strcmp(path,
			    "/admin/account/set") == 0 ? SRV_ACCOUNT_SET :
			    strcmp(path, "/admin/teams") == 0 ? SRV_TEAM_ADD :
			    SRV_ACCOUNT_DEL);
	} else
		web_page(req, 404, &s->s, "Not found", "No such page.");
}

/*
 * A form of the admin page (op: SRV_ACCOUNT_*, SRV_TEAM_ADD), with the
 * session's CSRF token, asked of the parent as the REST API asks.
 */
static void
web_admin_post(struct httpd_req *req, struct web_sess *s, int op)
{
	struct evkeyvalq	 kv;
	struct srv_account_req	 areq;
	const char		*name, *team, *role;
	char			 err[256];
	int			 code;

	if (web_session_form(req, s, &kv) == -1)
		return;
	name = evhttp_find_header(&kv, "name");
	team = evhttp_find_header(&kv, "team");
	role = evhttp_find_header(&kv, "role");
	if (op == SRV_TEAM_ADD) {
		team = name;
		name = NULL;
	}
	code = admin_req(s->s.user, op, name, team, role, &areq, err,
	    sizeof(err));
	evhttp_clear_headers(&kv);
	if (code != 0)
		web_page(req, code, &s->s, code == 403 ? "Forbidden" :
		    "Not done", err);
	else
		admin_send(req, httpd_req_method(req), "/admin", &s->s, &areq,
		    web_admin_done);
}

/*
 * The parent's answer to what the admin pages asked: the admin page
 * (the teams came), a new account's key on a page of its own, once;
 * back to the admin page after another form; or what went wrong.
 */
static void
web_admin_done(struct httpd_req *req, const struct admin_answer *a)
{
	struct evbuffer	*b;

	if (a->status != 200)
		web_page(req, a->op == SRV_TEAM_LIST ? 503 : a->status, a->ws,
		    "Not done", a->message);
	else if (a->op == SRV_TEAM_LIST || a->op == SRV_ACCOUNT_ADD) {
		if ((b = web_buf(req)) == NULL)
			return;
		if (a->op == SRV_TEAM_LIST)
			webpage_admin(b, a->ws, a->teams);
		else
			webpage_admin_key(b, a->ws, a->name, a->key);
		web_made(req, b, 0, 0);
	} else
		web_redirect(req, "/admin", NULL);
}

/* The parent's answer to the events page: the page. */
static void
web_admin_events(struct httpd_req *req, const struct admin_answer *a)
{
	struct evbuffer	*b;

	if ((b = web_buf(req)) == NULL)
		return;
	if (webpage_admin_events(b, a->ws, a->events, a->events_len) == -1)
		web_page(req, 503, a->ws, "Not now", "The event log cannot be "
		    "read just now: try again.");
	else
		web_made(req, b, 0, 0);
}
