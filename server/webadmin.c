/*
 * The admin pages of the Tunnels web page, for an admin of an
 * organisation (web.c routes to them, admin_req() in rest.c decides who
 * may): the organisation's accounts with forms to change their team and
 * role or delete them, a form to add one (whose key is then shown once),
 * the teams and a form to add one, the recent events.  Every name is
 * escaped; every form carries the session's CSRF token.
 */
#include <sys/types.h>
#include <sys/queue.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <jansson.h>

#include "imsg_server.h"
#include "server.h"
#include "web.h"

/* A <select> of the roles, role (ROLE_*) selected. */
static void
web_role_select(struct evbuffer *b, const char *id, int role)
{
	static const int	 roles[] = { ROLE_MEMBER, ROLE_TEAM_ADMIN,
	    ROLE_ADMIN };
	size_t			 i;

	evbuffer_add_printf(b, "<select name=\"role\" id=\"%s\">", id);
	for (i = 0; i < sizeof(roles) / sizeof(roles[0]); i++)
		evbuffer_add_printf(b, "<option value=\"%s\"%s>%s</option>",
		    role_name(roles[i]), roles[i] == role ? " selected" : "",
		    role_name(roles[i]));
	evbuffer_add_printf(b, "</select>");
}

/*
 * A <select> of the teams of rep and none, team selected (kept if it is
 * not among them).
 */
static void
web_team_select(struct evbuffer *b, const char *id,
    const struct srv_teams_rep *rep, const char *team)
{
	uint32_t	 i;
	int		 found = team[0] == '\0';

	evbuffer_add_printf(b, "<select name=\"team\" id=\"%s\">"
	    "<option value=\"\"%s>(none)</option>", id, found ? " selected" :
	    "");
	for (i = 0; i < rep->count; i++) {
		evbuffer_add_printf(b, "<option value=\"");
		webpage_escape(b, rep->name[i]);
		evbuffer_add_printf(b, "\"%s>", strcmp(team, rep->name[i]) ==
		    0 ? " selected" : "");
		webpage_escape(b, rep->name[i]);
		evbuffer_add_printf(b, "</option>");
		found |= strcmp(team, rep->name[i]) == 0;
	}
	if (!found) {
		evbuffer_add_printf(b, "<option selected value=\"");
		webpage_escape(b, team);
		evbuffer_add_printf(b, "\">");
		webpage_escape(b, team);
		evbuffer_add_printf(b, "</option>");
	}
	evbuffer_add_printf(b, "</select>");
}

/* The start of a form of the admin page, to action, with s's CSRF token. */
static void
web_admin_form(struct evbuffer *b, const struct web_session *s,
    const char *action, const char *id, const char *name)
{
	evbuffer_add_printf(b, "<form method=\"post\" action=\"%s\"%s%s%s>"
	    "<input type=\"hidden\" name=\"csrf\" value=\"%s\">", action,
	    id != NULL ? " id=\"" : "", id != NULL ? id : "",
	    id != NULL ? "\"" : "", s->csrf);
	if (name != NULL) {
		evbuffer_add_printf(b, "<input type=\"hidden\" name=\"name\" "
		    "value=\"");
		webpage_escape(b, name);
		evbuffer_add_printf(b, "\">");
	}
}

/*
 * The admin page: the organisation's accounts (each with a form to
 * change its team and role, and one to delete it), a form to add one,
 * its teams (rep) and a form to add one.
 */
void
webpage_admin(struct evbuffer *b, const struct web_session *s,
    const struct srv_teams_rep *rep)
{
	struct account	*adm, *a;
	char		 id[32];
	uint32_t	 i;
	int		 n = 0;

	/* no longer an admin since it asked */
	if ((adm = admin_of(s->user)) == NULL) {
		webpage_message(b, s, "Forbidden", "Only an admin of an "
		    "organisation manages its accounts and teams.");
		return;
	}
	webpage_head(b, "Accounts and teams", s, NULL);
	evbuffer_add_printf(b, "<h1>Organisation <span id=\"org\">");
	webpage_escape(b, adm->org);
	evbuffer_add_printf(b, "</span></h1>\n<p><a href=\"/admin/events\">"
	    "Recent events</a></p>\n<h2>Accounts</h2>\n<div class=\"scroll\">"
	    "<table id=\"accounts\">\n<thead><tr><th scope=\"col\">Name</th>"
	    "<th scope=\"col\">Team</th><th scope=\"col\">Role</th>"
	    "<th scope=\"col\">Change</th><th scope=\"col\">Delete</th>"
	    "</tr></thead>\n<tbody>\n");
	TAILQ_FOREACH(a, &env->accounts, entry) {
		if (strcmp(a->org, adm->org) != 0)
			continue;
		n++;
		evbuffer_add_printf(b, "<tr><td data-label=\"Name\" "
		    "class=\"name\">");
		webpage_escape(b, a->name);
		evbuffer_add_printf(b, "</td><td data-label=\"Team\" "
		    "class=\"team\">");
		webpage_escape(b, a->team);
		evbuffer_add_printf(b, "</td><td data-label=\"Role\" "
		    "class=\"role\">%s</td><td data-label=\"Change\">",
		    role_name(a->role));
		web_admin_form(b, s, "/admin/account/set", NULL, a->name);
		snprintf(id, sizeof(id), "team-%d", n);
		evbuffer_add_printf(b, "<label for=\"%s\">Team</label> ", id);
		web_team_select(b, id, rep, a->team);
		snprintf(id, sizeof(id), "role-%d", n);
		evbuffer_add_printf(b, " <label for=\"%s\">Role</label> ", id);
		web_role_select(b, id, a->role);
		evbuffer_add_printf(b, " <button type=\"submit\">Change"
		    "</button></form></td><td data-label=\"Delete\">");
		if (strcmp(a->name, s->user) != 0) {
			web_admin_form(b, s, "/admin/account/delete", NULL,
			    a->name);
			evbuffer_add_printf(b, "<button type=\"submit\">"
			    "Delete</button></form>");
		}
		evbuffer_add_printf(b, "</td></tr>\n");
	}
	evbuffer_add_printf(b, "</tbody></table></div>\n"
	    "<h2>Add an account</h2>\n");
	web_admin_form(b, s, "/admin/accounts", "add-account", NULL);
	evbuffer_add_printf(b, "<div class=\"fields\"><label for=\"new-name\">"
	    "Name</label><input id=\"new-name\" name=\"name\" required "
	    "maxlength=\"%d\"><label for=\"new-team\">Team</label>",
	    ACCOUNT_NAME_MAX);
	web_team_select(b, "new-team", rep, "");
	evbuffer_add_printf(b, "<label for=\"new-role\">Role</label>");
	web_role_select(b, "new-role", ROLE_MEMBER);
	evbuffer_add_printf(b, "<button type=\"submit\">Add the account"
	    "</button></div></form>\n<h2>Teams</h2>\n<div class=\"scroll\">"
	    "<table id=\"teams\">\n<thead><tr><th scope=\"col\">Name</th>"
	    "<th scope=\"col\">Accounts</th></tr></thead>\n<tbody>\n");
	for (i = 0; i < rep->count; i++) {
		evbuffer_add_printf(b, "<tr><td data-label=\"Name\" "
		    "class=\"name\">");
		webpage_escape(b, rep->name[i]);
		evbuffer_add_printf(b, "</td><td data-label=\"Accounts\">%zu"
		    "</td></tr>\n", admin_team_size(s->user, rep->name[i]));
	}
	evbuffer_add_printf(b, "</tbody></table></div>\n%s<h2>Add a team</h2>"
	    "\n", rep->count == TEAMS_LIST_MAX ? "<p class=\"note\">The "
	    "first teams only.</p>\n" : "");
	web_admin_form(b, s, "/admin/teams", "add-team", NULL);
	evbuffer_add_printf(b, "<div class=\"fields\"><label for=\"team-name\">"
	    "Name</label><input id=\"team-name\" name=\"name\" required "
	    "maxlength=\"%d\"><button type=\"submit\">Add the team</button>"
	    "</div></form>\n", TEAM_NAME_MAX);
	webpage_foot(b);
}

/* A new account: its access key, shown this once. */
void
webpage_admin_key(struct evbuffer *b, const struct web_session *s,
    const char *name, const char *key)
{
	webpage_head(b, "Account added", s, NULL);
	evbuffer_add_printf(b, "<h1>Account <span id=\"new-account\">");
	webpage_escape(b, name);
	evbuffer_add_printf(b, "</span> added</h1>\n<p>Its access key, shown "
	    "this once: give it to its owner now.</p>\n<p><code id=\"new-key\">"
	    "%s</code></p>\n<p><a href=\"/admin\">Back to the accounts</a>"
	    "</p>\n", key);
	webpage_foot(b);
}

/*
 * The organisation's recent events (the parent's JSON array text, oldest
 * first), the newest WEB_ADMIN_EVENTS first: 0, or -1 if text is no
 * such array.
 */
int
webpage_admin_events(struct evbuffer *b, const struct web_session *s,
    const char *text, size_t len)
{
	static const char *const key[] = { "time", "kind", "actor", "account",
	    "subject", "detail" };
	json_t		*a, *e;
	const char	*v;
	size_t		 i, j, n;

	if ((a = json_loadb(text, len, 0, NULL)) == NULL ||
	    !json_is_array(a)) {
		json_decref(a);
		return (-1);
	}
	webpage_head(b, "Recent events", s, NULL);
	evbuffer_add_printf(b, "<p><a href=\"/admin\">Accounts and teams</a>"
	    "</p>\n<h1>Recent events</h1>\n<div class=\"scroll\">"
	    "<table id=\"org-events\">\n<thead><tr><th scope=\"col\">Time"
	    "</th><th scope=\"col\">Event</th><th scope=\"col\">By</th>"
	    "<th scope=\"col\">Account</th><th scope=\"col\">Of</th>"
	    "<th scope=\"col\">Detail</th></tr></thead>\n<tbody>\n");
	n = json_array_size(a);
	for (i = 0; i < n && i < WEB_ADMIN_EVENTS; i++) {
		e = json_array_get(a, n - 1 - i);
		evbuffer_add_printf(b, "<tr>");
		for (j = 0; j < sizeof(key) / sizeof(key[0]); j++) {
			v = json_string_value(json_object_get(e, key[j]));
			evbuffer_add_printf(b, "<td>");
			webpage_escape(b, v != NULL ? v : "");
			evbuffer_add_printf(b, "</td>");
		}
		evbuffer_add_printf(b, "</tr>\n");
	}
	evbuffer_add_printf(b, "</tbody></table></div>\n%s",
	    n == 0 ? "<p id=\"empty\">No events.</p>\n" : "");
	json_decref(a);
	webpage_foot(b);
	return (0);
}
