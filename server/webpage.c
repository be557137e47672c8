/*
 * The pages of the Tunnels web page and their JSON views (web.c routes
 * to them).  A tunnel's figures are made into text once, here, as
 * named cells: the HTML has them in elements marked data-f="name", and
 * the JSON view has the same texts under "cells", which the JavaScript
 * (server/web/web.js) puts into those elements with textContent.  So
 * the layout lives in the HTML and the formatting in C; what a user
 * controls (tunnel names, client metadata) is escaped in HTML and never
 * parsed as markup by the script.
 */
#include <sys/types.h>
#include <sys/queue.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/buffer.h>
#include <jansson.h>

#include "imsg_server.h"
#include "server.h"
#include "web.h"

#define WEB_NUM_LEN		64	/* a formatted figure */
#define WEB_CONNS_LEN		(WEB_NUM_LEN + 32)
#define WEB_COMMAND_MAX		2048	/* bytes of a masked command line */

/* the columns of the tunnels table and the rows of a tunnel's details */
enum {
	C_NAME, C_ID, C_STATUS, C_OWNER, C_POOL, C_CLIENT, C_STARTED,
	C_CONNS, C_STREAMS, C_DOWN, C_UP, C_ERROR, C_NCOLS
};
static const char *const col_key[C_NCOLS] = {
	"name", "id", "status", "owner", "pool", "client", "started",
	"connections", "streams", "down", "up", "error"
};
static const char *const col_label[C_NCOLS] = {
	"Name", "ID", "State", "Owner", "Pool", "Client", "Started",
	"Connections", "Open streams", "Bytes down", "Bytes up",
	"Last error"
};

/* a tunnel's cells, with the room their texts need */
struct web_row {
	const char	*cell[C_NCOLS];
	char		 owner[ACCOUNT_NAME_MAX + 16];
	char		 pool[WEB_NUM_LEN + 16];
	char		 client[2 * TUNNEL_STRING_MAX + 16];
	char		 started[WEB_NUM_LEN];
	char		 conns[WEB_CONNS_LEN];
	char		 streams[WEB_NUM_LEN];
	char		 down[WEB_NUM_LEN];
	char		 up[WEB_NUM_LEN];
};

/* a KGP session's cells */
enum {
	L_INDEX, L_ADDR, L_STATE, L_RTT, L_STREAMS, L_DOWN, L_UP, L_SINCE,
	L_NCOLS
};
static const char *const link_key[L_NCOLS] = {
	"index", "addr", "state", "rtt", "streams", "down", "up", "since"
};
static const char *const link_label[L_NCOLS] = {
	"Connection", "From", "State", "Round trip", "Open streams",
	"Bytes down", "Bytes up", "Since"
};

static void	 web_time(time_t, char *, size_t);
static void	 web_bytes(uint64_t, char *, size_t);
static void	 web_rtt(uint64_t, char *, size_t);
static const char *web_meta(const struct tunnel *, const char *);
static void	 web_row_make(const struct tunnel *, struct web_row *);
static void	 web_link_cells(const struct srv_tlink *,
		    char [L_NCOLS][WEB_NUM_LEN], const char *[L_NCOLS]);
static const struct srv_tlinks *web_live(const struct tunnel *);
static void	 web_cells_html(struct evbuffer *, const char *const *,
		    const char *const *, const char *const *, size_t,
		    const char *);
static json_t	*web_cells_json(const char *const *, const char *const *,
		    size_t);
static int	 web_json_out(struct evbuffer *, json_t *);
static void	 web_tunnel_html_row(struct evbuffer *, const struct web_row *,
		    const char *);

/* s, escaped for HTML text and attribute values (quoted). */
void
webpage_escape(struct evbuffer *b, const char *s)
{
	static const char	 special[] = "&<>\"'";
	static const char	*entity[] = { "&amp;", "&lt;", "&gt;", "&quot;",
	    "&#39;" };
	size_t			 n;

	while (*s != '\0') {
		n = strcspn(s, special);
		evbuffer_add(b, s, n);
		s += n;
		if (*s == '\0')
			break;
		n = strchr(special, *s) - special;
		evbuffer_add(b, entity[n], strlen(entity[n]));
		s++;
	}
}

/* Unix seconds as "2026-12-07 05:48:10 UTC"; "" for 0. */
static void
web_time(time_t t, char *buf, size_t len)
{
	struct tm	 tm;

	if (t == 0 || gmtime_r(&t, &tm) == NULL) {
		buf[0] = '\0';
		return;
	}
	strftime(buf, len, "%Y-%m-%d %H:%M:%S UTC", &tm);
}

/* A count of bytes, as a person reads it. */
static void
web_bytes(uint64_t n, char *buf, size_t len)
{
	static const char	*unit[] = { "KiB", "MiB", "GiB", "TiB", "PiB" };
	double			 v = n;
	int			 i = -1;

	if (n < 1024) {
		snprintf(buf, len, "%llu B", (unsigned long long)n);
		return;
	}
	while (v >= 1024 && i < 4) {
		v /= 1024;
		i++;
	}
	snprintf(buf, len, "%.1f %s", v, unit[i]);
}

static void
web_rtt(uint64_t us, char *buf, size_t len)
{
	if (us == 0)
		snprintf(buf, len, "-");
	else
		snprintf(buf, len, us < 10000 ? "%.2f ms" : "%.1f ms",
		    us / 1000.0);
}

/* A string of the tunnel's metadata that its client set, or NULL. */
static const char *
web_meta(const struct tunnel *t, const char *key)
{
	json_t	*v;

	if (t->metadata == NULL ||
	    (v = json_object_get(t->metadata, key)) == NULL)
		return (NULL);
	return (json_string_value(v));
}

static void
web_row_make(const struct tunnel *t, struct web_row *r)
{
	const struct srv_tlinks	*l = web_live(t);
	const char		*host, *version;
	char			 rtt_text[WEB_NUM_LEN];
	uint64_t		 rtt = 0;
	uint32_t		 i, up = 0;
	size_t			 n;

	r->cell[C_NAME] = t->identifier != NULL && *t->identifier != '\0' ?
	    t->identifier : "(no name)";
	r->cell[C_ID] = t->id;
	r->cell[C_STATUS] = tunnel_status_name(t->status);
	snprintf(r->owner, sizeof(r->owner), "%s%s", t->owner,
	    t->shared_tunnel ? " (shared)" : "");
	r->cell[C_OWNER] = r->owner;
	if ((n = reg_pool_size(t)) > 0)
		snprintf(r->pool, sizeof(r->pool), "%zu member%s", n,
		    n == 1 ? "" : "s");
	else
		r->pool[0] = '\0';
	r->cell[C_POOL] = r->pool;
	host = web_meta(t, "hostname");
	version = web_meta(t, "git_version");
	snprintf(r->client, sizeof(r->client), "%s%s%s",
	    host != NULL ? host : "", host != NULL && version != NULL ?
	    ", " : "", version != NULL ? version : "");
	r->cell[C_CLIENT] = r->client;
	web_time(t->launch_time, r->started, sizeof(r->started));
	r->cell[C_STARTED] = r->started;
	if (l != NULL)
		for (i = 0; i < l->count; i++)
			if (l->links[i].up) {
				up++;
				if (l->links[i].rtt_us > rtt)
					rtt = l->links[i].rtt_us;
			}
	if (up > 0) {
		web_rtt(rtt, rtt_text, sizeof(rtt_text));
		snprintf(r->conns, sizeof(r->conns), "%u up of %u, %s", up,
		    l->nlinks, rtt_text);
	} else
		snprintf(r->conns, sizeof(r->conns), "0 up of %u",
		    l != NULL ? l->nlinks : (uint32_t)t->nlinks);
	r->cell[C_CONNS] = r->conns;
	snprintf(r->streams, sizeof(r->streams), "%llu",
	    l != NULL ? (unsigned long long)l->streams_open : 0ULL);
	r->cell[C_STREAMS] = r->streams;
	web_bytes(l != NULL ? l->bytes_in : 0, r->down, sizeof(r->down));
	r->cell[C_DOWN] = r->down;
	web_bytes(l != NULL ? l->bytes_out : 0, r->up, sizeof(r->up));
	r->cell[C_UP] = r->up;
	r->cell[C_ERROR] = t->web != NULL ? t->web->last_error : "";
}

/*
 * The sessions of t that the KGP worker last told of, or NULL; for a
 * terminated tunnel, its last bytes and no session.
 */
static const struct srv_tlinks *
web_live(const struct tunnel *t)
{
	return (t->web != NULL ? t->web->live : NULL);
}

/* The texts of a session's cells into out, text[i] pointing at out[i]. */
static void
web_link_cells(const struct srv_tlink *k, char out[L_NCOLS][WEB_NUM_LEN],
    const char *text[L_NCOLS])
{
	int	 i;

	for (i = 0; i < L_NCOLS; i++)
		text[i] = out[i];
	snprintf(out[L_INDEX], WEB_NUM_LEN, "%u", k->index);
	strlcpy(out[L_ADDR], k->addr, WEB_NUM_LEN);
	strlcpy(out[L_STATE], k->up ? "up" : "broken", WEB_NUM_LEN);
	web_rtt(k->rtt_us, out[L_RTT], WEB_NUM_LEN);
	snprintf(out[L_STREAMS], WEB_NUM_LEN, "%llu",
	    (unsigned long long)k->streams_open);
	web_bytes(k->bytes_in, out[L_DOWN], WEB_NUM_LEN);
	web_bytes(k->bytes_out, out[L_UP], WEB_NUM_LEN);
	web_time(k->since, out[L_SINCE], WEB_NUM_LEN);
}

/*
 * n cells as <td>s (text NULL: the empty cells of a template), the
 * first a link to href when it is not NULL.
 */
static void
web_cells_html(struct evbuffer *b, const char *const *key,
    const char *const *label, const char *const *text, size_t n,
    const char *href)
{
	size_t	 i;

	for (i = 0; i < n; i++) {
		evbuffer_add_printf(b, "<td data-label=\"%s\">", label[i]);
		if (i == 0 && href != NULL) {
			evbuffer_add_printf(b, "<a href=\"%s\" data-f=\"%s\">",
			    href, key[i]);
			if (text != NULL)
				webpage_escape(b, text[i]);
			evbuffer_add(b, "</a></td>", 9);
			continue;
		}
		evbuffer_add_printf(b, "<span data-f=\"%s\">", key[i]);
		if (text != NULL)
			webpage_escape(b, text[i]);
		evbuffer_add(b, "</span></td>", 12);
	}
}

static json_t *
web_cells_json(const char *const *key, const char *const *text, size_t n)
{
	json_t	*o;
	size_t	 i;

	if ((o = json_object()) == NULL)
		return (NULL);
	for (i = 0; i < n; i++)
		json_object_set_new(o, key[i], json_string(text[i]));
	return (o);
}

/* o (reference taken) as compact JSON into b: 0, or -1. */
static int
web_json_out(struct evbuffer *b, json_t *o)
{
	char	*s;

	if (o == NULL)
		return (-1);
	s = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	if (s == NULL)
		return (-1);
	evbuffer_add(b, s, strlen(s));
	evbuffer_add(b, "\n", 1);
	free(s);
	return (0);
}

/* The start of every page: title (text) and, signed in, the header. */
void
webpage_head(struct evbuffer *b, const char *title,
    const struct web_session *s, const char *view)
{
	evbuffer_add_printf(b, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n"
	    "<meta charset=\"utf-8\">\n"
	    "<meta name=\"viewport\" content=\"width=device-width, "
	    "initial-scale=1\">\n<title>");
	webpage_escape(b, title);
	evbuffer_add_printf(b, " - sc-server</title>\n"
	    "<link rel=\"stylesheet\" href=\"/static/web.css\">\n"
	    "<script src=\"/static/web.js\" defer></script>\n</head>\n"
	    "<body data-poll=\"%d\"%s%s%s>\n", WEB_POLL_MS,
	    view != NULL ? " data-view=\"" : "", view != NULL ? view : "",
	    view != NULL ? "\"" : "");
	if (s == NULL) {
		evbuffer_add_printf(b, "<header><span class=\"brand\">"
		    "sc-server</span></header>\n<main>\n");
		return;
	}
	evbuffer_add_printf(b, "<header><nav aria-label=\"main\">"
	    "<a class=\"brand\" href=\"/\">Tunnels</a> "
	    "<a href=\"/rest/v1/public/ca.pem\" download=\"sc-server-ca.pem\">"
	    "CA certificate</a>%s</nav>\n<div class=\"who\">Signed in as "
	    "<strong id=\"user\">", admin_is(s->user) ?
	    " <a href=\"/admin\" id=\"admin\">Accounts and teams</a>" : "");
	webpage_escape(b, s->user);
	evbuffer_add_printf(b, "</strong> <form method=\"post\" "
	    "action=\"/signout\"><input type=\"hidden\" name=\"csrf\" "
	    "value=\"%s\"><button type=\"submit\">Sign out</button></form>"
	    "</div></header>\n<main>\n", s->csrf);
}

void
webpage_foot(struct evbuffer *b)
{
	evbuffer_add_printf(b, "</main>\n</body>\n</html>\n");
}

/* The sign-in form: its CSRF token, the name given, an error or NULL. */
void
webpage_signin(struct evbuffer *b, const char *csrf, const char *user,
    const char *error)
{
	webpage_head(b, "Sign in", NULL, NULL);
	evbuffer_add_printf(b, "<h1>Sign in</h1>\n");
	if (error != NULL) {
		evbuffer_add_printf(b, "<p class=\"error\" role=\"alert\" "
		    "id=\"error\">");
		webpage_escape(b, error);
		evbuffer_add_printf(b, "</p>\n");
	}
	evbuffer_add_printf(b, "<form method=\"post\" action=\"/signin\" "
	    "class=\"signin\">\n<input type=\"hidden\" name=\"csrf\" "
	    "value=\"%s\">\n<label for=\"user\">Account name</label>\n"
	    "<input id=\"user\" name=\"user\" autocomplete=\"username\" "
	    "required autofocus value=\"", csrf);
	webpage_escape(b, user != NULL ? user : "");
	evbuffer_add_printf(b, "\">\n<label for=\"key\">Access key</label>\n"
	    "<input id=\"key\" name=\"key\" type=\"password\" "
	    "autocomplete=\"current-password\" required>\n"
	    "<button type=\"submit\">Sign in</button>\n</form>\n");
	webpage_foot(b);
}

/* A page that says what went wrong: title and text are text. */
void
webpage_message(struct evbuffer *b, const struct web_session *s,
    const char *title, const char *text)
{
	webpage_head(b, title, s, NULL);
	evbuffer_add_printf(b, "<h1>");
	webpage_escape(b, title);
	evbuffer_add_printf(b, "</h1>\n<p class=\"error\" role=\"alert\">");
	webpage_escape(b, text);
	evbuffer_add_printf(b, "</p>\n<p><a href=\"/\">Back to the "
	    "tunnels</a></p>\n");
	webpage_foot(b);
}

static void
web_tunnel_html_row(struct evbuffer *b, const struct web_row *r,
    const char *id)
{
	char	 href[64];

	snprintf(href, sizeof(href), "/tunnel/%s", id);
	evbuffer_add_printf(b, "<tr data-id=\"%s\">", id);
	web_cells_html(b, col_key, col_label, r->cell, C_NCOLS, href);
	evbuffer_add(b, "</tr>\n", 6);
}

/* The tunnels that s may see: its own and those shared with it. */
void
webpage_tunnels(struct evbuffer *b, const struct web_session *s)
{
	struct web_row	 r;
	struct tunnel	*t;
	size_t		 i, n = 0;

	webpage_head(b, "Tunnels", s, "/tunnels.json");
	evbuffer_add_printf(b, "<h1>Tunnels</h1>\n<p class=\"note\">Yours "
	    "and those shared with you; the figures follow by themselves."
	    "</p>\n<div class=\"scroll\"><table id=\"tunnels\">\n"
	    "<thead><tr>");
	for (i = 0; i < C_NCOLS; i++)
		evbuffer_add_printf(b, "<th scope=\"col\">%s</th>",
		    col_label[i]);
	evbuffer_add_printf(b, "</tr></thead>\n<tbody data-rows>\n");
	TAILQ_FOREACH(t, &env->tunnels, entry) {
		if (t->status == TUNNEL_TERMINATED ||
		    !reg_may_use(s->user, t, NULL))
			continue;
		web_row_make(t, &r);
		web_tunnel_html_row(b, &r, t->id);
		n++;
	}
	evbuffer_add_printf(b, "</tbody></table></div>\n<p id=\"empty\"%s>"
	    "No tunnels running.</p>\n<template id=\"row\"><tr>",
	    n > 0 ? " hidden" : "");
	web_cells_html(b, col_key, col_label, NULL, C_NCOLS, "/");
	evbuffer_add_printf(b, "</tr></template>\n");
	webpage_foot(b);
}

/* {"tunnels": [{"id", "mine", "cells": {...}}, ...]} */
int
webpage_tunnels_json(struct evbuffer *b, const struct web_session *s)
{
	struct web_row	 r;
	struct tunnel	*t;
	json_t		*a, *o;

	if ((a = json_array()) == NULL)
		return (-1);
	TAILQ_FOREACH(t, &env->tunnels, entry) {
		if (t->status == TUNNEL_TERMINATED ||
		    !reg_may_use(s->user, t, NULL))
			continue;
		web_row_make(t, &r);
		o = json_pack("{s:s, s:b, s:o*}", "id", t->id, "mine",
		    strcmp(t->owner, s->user) == 0, "cells",
		    web_cells_json(col_key, r.cell, C_NCOLS));
		if (o == NULL || json_array_append_new(a, o) == -1) {
			json_decref(a);
			return (-1);
		}
	}
	return (web_json_out(b, json_pack("{s:o}", "tunnels", a)));
}

/*
 * The command line of the tunnel's client, its access key masked: the
 * value of -k, --api-key, --access-key (also as --flag=value), and
 * every word shaped as a key (a UUID), are "****".
 */
void
webpage_mask_command(const char *cmd, char *out, size_t len)
{
	const char	*p = cmd;
	size_t		 n, keep;
	int		 next = 0;

	out[0] = '\0';
	for (p += strspn(p, " "); *p != '\0'; p += strspn(p, " ")) {
		n = strcspn(p, " ");
		keep = n;
		if (next || (n == 36 &&
		    strspn(p, "0123456789abcdefABCDEF-") == 36))
			keep = 0;
		else if (strncmp(p, "--api-key=", 10) == 0)
			keep = 10;
		else if (strncmp(p, "--access-key=", 13) == 0)
			keep = 13;
		next = (n == 2 && strncmp(p, "-k", 2) == 0) ||
		    (n == 9 && strncmp(p, "--api-key", 9) == 0) ||
		    (n == 12 && strncmp(p, "--access-key", 12) == 0);
		if (out[0] != '\0')
			strlcat(out, " ", len);
		if (keep > len - strlen(out) - 1)
			keep = len - strlen(out) - 1;
		strncat(out, p, keep);
		if (keep < n)
			strlcat(out, "****", len);
		p += n;
	}
}

/* The details of t beyond its row: the rows of its <dl>. */
static const char *const detail_key[] = {
	"entry", "shared", "created", "command"
};
static const char *const detail_label[] = {
	"Entry proxy", "Shared", "Created", "Command line"
};
#define DETAILS	(sizeof(detail_key) / sizeof(detail_key[0]))

static void
web_details(const struct tunnel *t, char created[WEB_NUM_LEN],
    char *command, size_t cmdlen, const char *text[DETAILS])
{
	const char	*cmd = web_meta(t, "command");

	web_time(t->creation_time, created, WEB_NUM_LEN);
	webpage_mask_command(cmd != NULL ? cmd : "", command, cmdlen);
	text[0] = t->entry_addr;
	text[1] = t->shared_tunnel ? "yes" : "no";
	text[2] = created;
	text[3] = command;
}

/* One tunnel: its details, its connections, its recent events. */
void
webpage_tunnel(struct evbuffer *b, const struct web_session *s,
    struct tunnel *t)
{
	const struct srv_tlinks	*l = web_live(t);
	struct web_row		 r;
	struct web_event	*e;
	const char		*dtext[DETAILS], *ltext[L_NCOLS];
	char			 view[64], created[WEB_NUM_LEN];
	char			 command[WEB_COMMAND_MAX], when[WEB_NUM_LEN];
	char			 lc[L_NCOLS][WEB_NUM_LEN];
	size_t			 i;
	int			 j;

	web_row_make(t, &r);
	web_details(t, created, command, sizeof(command), dtext);
	snprintf(view, sizeof(view), "/tunnel/%s.json", t->id);
	webpage_head(b, "Tunnel", s, view);
	evbuffer_add_printf(b, "<p><a href=\"/\">All tunnels</a></p>\n"
	    "<h1>Tunnel <span data-f=\"name\">");
	webpage_escape(b, r.cell[C_NAME]);
	evbuffer_add_printf(b, "</span></h1>\n<dl class=\"details\">\n");
	for (i = 1; i < C_NCOLS; i++) {
		evbuffer_add_printf(b, "<dt>%s</dt><dd data-f=\"%s\">",
		    col_label[i], col_key[i]);
		webpage_escape(b, r.cell[i]);
		evbuffer_add(b, "</dd>\n", 6);
	}
	for (i = 0; i < DETAILS; i++) {
		evbuffer_add_printf(b, "<dt>%s</dt><dd data-f=\"%s\"%s>",
		    detail_label[i], detail_key[i], i == DETAILS - 1 ?
		    " class=\"command\"" : "");
		webpage_escape(b, dtext[i]);
		evbuffer_add(b, "</dd>\n", 6);
	}
	evbuffer_add_printf(b, "</dl>\n");
	if (reg_may_delete(s->user, t) && t->status == TUNNEL_RUNNING)
		evbuffer_add_printf(b, "<form method=\"post\" "
		    "action=\"/tunnel/%s/stop\" class=\"stop\">"
		    "<input type=\"hidden\" name=\"csrf\" value=\"%s\">"
		    "<button type=\"submit\" id=\"stop\">Stop the tunnel"
		    "</button></form>\n", t->id, s->csrf);
	evbuffer_add_printf(b, "<h2>Connections</h2>\n<div class=\"scroll\">"
	    "<table id=\"links\">\n<thead><tr>");
	for (i = 0; i < L_NCOLS; i++)
		evbuffer_add_printf(b, "<th scope=\"col\">%s</th>",
		    link_label[i]);
	evbuffer_add_printf(b, "</tr></thead>\n<tbody data-rows>\n");
	for (i = 0; l != NULL && i < l->count; i++) {
		web_link_cells(&l->links[i], lc, ltext);
		evbuffer_add_printf(b, "<tr data-id=\"%u\">",
		    l->links[i].index);
		web_cells_html(b, link_key, link_label, ltext, L_NCOLS, NULL);
		evbuffer_add(b, "</tr>\n", 6);
	}
	evbuffer_add_printf(b, "</tbody></table></div>\n"
	    "<template id=\"row\"><tr>");
	web_cells_html(b, link_key, link_label, NULL, L_NCOLS, NULL);
	evbuffer_add_printf(b, "</tr></template>\n<h2>Recent events</h2>\n"
	    "<ol id=\"events\" reversed>\n");
	for (j = t->web != NULL ? t->web->nevents - 1 : -1; j >= 0; j--) {
		e = &t->web->events[(t->web->first + j) % WEB_EVENTS_MAX];
		web_time(e->at, when, sizeof(when));
		evbuffer_add_printf(b, "<li><time>%s</time> ", when);
		webpage_escape(b, e->text);
		evbuffer_add(b, "</li>\n", 6);
	}
	evbuffer_add_printf(b, "</ol>\n");
	webpage_foot(b);
}

/*
 * {"id", "mine", "running", "cells": {...}, "links": [{"id", "cells"}],
 * "events": [text, ...] (newest first)}
 */
int
webpage_tunnel_json(struct evbuffer *b, const struct web_session *s,
    struct tunnel *t)
{
	const struct srv_tlinks	*l = web_live(t);
	struct web_row		 r;
	struct web_event	*e;
	json_t			*o, *cells, *links, *events;
	const char		*dtext[DETAILS], *ltext[L_NCOLS];
	char			 created[WEB_NUM_LEN], command[WEB_COMMAND_MAX];
	char			 lc[L_NCOLS][WEB_NUM_LEN], when[WEB_NUM_LEN];
	char			 line[WEB_NUM_LEN + WEB_EVENT_LEN + 2];
	size_t			 i;
	int			 j;

	web_row_make(t, &r);
	web_details(t, created, command, sizeof(command), dtext);
	if ((cells = web_cells_json(col_key, r.cell, C_NCOLS)) == NULL)
		return (-1);
	for (i = 0; i < DETAILS; i++)
		json_object_set_new(cells, detail_key[i],
		    json_string(dtext[i]));
	links = json_array();
	events = json_array();
	for (i = 0; links != NULL && l != NULL && i < l->count; i++) {
		web_link_cells(&l->links[i], lc, ltext);
		json_array_append_new(links, json_pack("{s:s, s:o*}", "id",
		    lc[L_INDEX], "cells", web_cells_json(link_key, ltext,
		    L_NCOLS)));
	}
	for (j = t->web != NULL ? t->web->nevents - 1 : -1;
	    events != NULL && j >= 0; j--) {
		e = &t->web->events[(t->web->first + j) % WEB_EVENTS_MAX];
		web_time(e->at, when, sizeof(when));
		snprintf(line, sizeof(line), "%s %s", when, e->text);
		json_array_append_new(events, json_string(line));
	}
	o = json_pack("{s:s, s:b, s:b, s:o, s:o*, s:o*}", "id", t->id,
	    "mine", strcmp(t->owner, s->user) == 0, "running",
	    t->status == TUNNEL_RUNNING, "cells", cells, "links", links,
	    "events", events);
	return (web_json_out(b, o));
}
