/*
 * The traffic rules at the entry proxy: what a request names (the host,
 * the port, the URL) and the verdict of the tunnel's rules on it
 * (rules.h), the request head rewritten for where it goes, and which of
 * the tunnel's KGP sessions a new stream takes.
 *
 * A CONNECT decides by its host (and its host:port is the URL that the
 * version 4 fast-fail expressions search); an absolute-form request by
 * the host of its URL (fast-fail: the whole URL); any other request by
 * its Host field.  A request whose host cannot be read is refused when
 * the tunnel has rules, as rules_decide() refuses what it cannot decide.
 */
#include <sys/types.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http.h"
#include "kgp.h"
#include "rules.h"
#include "server.h"

/*
 * The verdict of rules r on the request h, with what the request names
 * in rt (a host of "" when it names none, which the rules refuse).
 */
void
route_decide(struct rules *r, const struct http_head *h, struct route *rt)
{
	struct http_authority	 a;
	struct http_url		 u;
	const char		*host, *url;

	memset(rt, 0, sizeof(*rt));
	rt->path = "/";
	url = h->target;
	if (strcmp(h->method, "CONNECT") == 0) {
		rt->connect = 1;
		if (http_parse_authority(h->target, strlen(h->target), 0, 0,
		    &a) == 0) {
			strlcpy(rt->host, a.host, sizeof(rt->host));
			rt->port = a.portnum;
		}
	} else if (http_parse_url(h->target, &u) == 0) {
		strlcpy(rt->host, u.auth.host, sizeof(rt->host));
		rt->port = u.auth.portnum;
		rt->absolute = 1;
		if (u.path[0] != '\0')
			rt->path = u.path;
	} else if (h->target[0] == '/' &&
	    (host = http_head_get(h, "Host")) != NULL &&
	    http_parse_authority(host, strlen(host), 80, 0, &a) == 0) {
		/* origin-form, as to a server: the Host field decides */
		strlcpy(rt->host, a.host, sizeof(rt->host));
		rt->port = a.portnum;
		rt->path = h->target;
		url = NULL;
	}
	rules_decide(r, rt->host, url, &rt->v);
}

/*
 * The string s at *p, of *left bytes free (its NUL kept there): -1 when
 * it does not fit.
 */
static int
route_cat(char **p, size_t *left, const char *s)
{
	size_t	 k = strlen(s);

	if (k >= *left)
		return (-1);
	memcpy(*p, s, k + 1);
	*p += k;
	*left -= k;
	return (0);
}

/*
 * A request inside a resigned connection (resign.c), whose TLS asked for
 * name (the SNI, else the CONNECT's host) on port: the host is its Host
 * field's (port 443 unless it says), else name; an absolute-form https://
 * target names its own.  url gets the request's URL, "https://host[:port]
 * path", which decides fast-fail and goes down the tunnel as the target.
 * Without tls, plain HTTP inside a CONNECT (ws://): the same with http://
 * and port 80.  -1 when the target is none of these (the browser gets a
 * 400).
 */
int
route_decide_tls(struct rules *r, const struct http_head *h, const char *name,
    uint16_t port, int tls, struct route *rt, char *url, size_t urllen)
{
	uint16_t		 defport = tls ? 443 : 80;
	struct http_authority	 a;
	struct http_url		 u;
	const char		*host;
	char			 portstr[8] = "", *p;
	size_t			 left;
	int			 v6;

	if (urllen == 0)
		return (-1);
	*url = '\0';
	memset(rt, 0, sizeof(*rt));
	if (h->target[0] == '/' || strcmp(h->target, "*") == 0) {
		rt->path = h->target;
		if ((host = http_head_get(h, "Host")) != NULL &&
		    http_parse_authority(host, strlen(host), defport, 0,
		    &a) == 0) {
			strlcpy(rt->host, a.host, sizeof(rt->host));
			rt->port = a.portnum;
		} else if (host == NULL) {
			strlcpy(rt->host, name, sizeof(rt->host));
			rt->port = port;
		} else
			return (-1);
	} else if (http_parse_url(h->target, &u) == 0 && u.tls == tls) {
		strlcpy(rt->host, u.auth.host, sizeof(rt->host));
		rt->port = u.auth.portnum;
		rt->path = u.path[0] != '\0' ? u.path : "/";
	} else
		return (-1);
	rt->absolute = 1;
	/* pieces, not a printf: on the way of every resigned request */
	v6 = strchr(rt->host, ':') != NULL;
	p = url;
	left = urllen;
	if (route_cat(&p, &left, tls ? "https://" : "http://") == -1 ||
	    route_cat(&p, &left, v6 ? "[" : "") == -1 ||
	    route_cat(&p, &left, rt->host) == -1 ||
	    route_cat(&p, &left, v6 ? "]" : "") == -1)
		return (-1);
	if (rt->port != defport) {
		(void)snprintf(portstr, sizeof(portstr), ":%u", rt->port);
		if (route_cat(&p, &left, portstr) == -1)
			return (-1);
	}
	if (route_cat(&p, &left, strcmp(rt->path, "*") == 0 ? "" :
	    rt->path) == -1)
		return (-1);
	rules_decide(r, rt->host, url, &rt->v);
	return (0);
}

/* The text of a 403 for a request that verdict v denies. */
void
route_deny_text(const struct rules_verdict *v, char *why, size_t len)
{
	const struct rule	*ru = v->rule;
	char			 shown[64];

	if (v->error || ru == NULL) {
		snprintf(why, len, "Denied: the tunnel's traffic rules cannot "
		    "decide on this request.");
		return;
	}
	strlcpy(shown, ru->text, sizeof(shown));
	snprintf(why, len, "Denied by the tunnel's traffic rule '%s'%s (%s).",
	    shown, strlen(ru->text) >= sizeof(shown) ? "..." : "",
	    rules_flag(ru->list, ru->syntax));
}

/*
 * The head of h again, for target, without the fields meant for this
 * hop (Connection and what it names, Proxy-*, Keep-Alive, Upgrade).
 * mode ROUTE_HEAD_CLOSE: with "Connection: close" (the next request of
 * the browser then comes on a new connection, which is decided again);
 * ROUTE_HEAD_UPGRADE: so too, but an upgrade (WebSocket) keeps its
 * Upgrade field and "Connection: upgrade"; ROUTE_HEAD_KEEP: an upgrade
 * so, any other request kept alive (an HTTP/1.0 one says so).  Returns a
 * buffer of *len bytes to free(), or NULL.
 */
char *
route_head(const struct http_head *h, const char *target, int mode,
    size_t *len)
{
	const struct http_field	*f;
	const char		*upgrade = NULL;
	char			*buf, *p;
	size_t			 i, n, left;

	n = strlen(h->method) + strlen(target) + 64;
	for (i = 0; i < h->nfields; i++)
		n += strlen(h->fields[i].name) +
		    strlen(h->fields[i].value) + 4;
	if ((buf = malloc(n)) == NULL)
		return (NULL);
	p = buf;
	left = n;
	/* pieces, not a printf: on the way of every request */
#define PUT(s)	do {							\
		if (route_cat(&p, &left, (s)) == -1)			\
			goto fail;					\
	} while (0)
	PUT(h->method);
	PUT(" ");
	PUT(target);
	PUT(h->version == 10 ? " HTTP/1.0\r\n" : " HTTP/1.1\r\n");
	for (i = 0; i < h->nfields; i++) {
		f = &h->fields[i];
		if (strcasecmp(f->name, "Upgrade") == 0)
			upgrade = f->value;
		/* the entry proxy's own (resign_warm()), never a browser's */
		if (http_hop_by_hop(h, f->name) ||
		    strcasecmp(f->name, HTTP_WARM_FIELD) == 0 ||
		    strcasecmp(f->name, HTTP_BIND_FIELD) == 0)
			continue;
		PUT(f->name);
		PUT(": ");
		PUT(f->value);
		PUT("\r\n");
	}
	if (mode != ROUTE_HEAD_CLOSE && upgrade != NULL &&
	    (h->flags & HTTP_F_CONN_UPGRADE)) {
		PUT("Upgrade: ");
		PUT(upgrade);
		PUT("\r\nConnection: upgrade\r\n\r\n");
	} else if (mode == ROUTE_HEAD_KEEP)
		PUT(h->version == 10 ? "Connection: keep-alive\r\n\r\n" :
		    "\r\n");
	else
		PUT("Connection: close\r\n\r\n");
#undef PUT
	*len = p - buf;
	return (buf);
 fail:
	free(buf);
	return (NULL);
}

/* An upgrade (a WebSocket): the connection is a tunnel after it. */
int
route_upgrade(const struct http_head *h)
{
	return ((h->flags & HTTP_F_CONN_UPGRADE) &&
	    (h->flags & HTTP_F_UPGRADE));
}

/*
 * Where a new stream goes: the least loaded session that is up, by the
 * bytes crossing it or waiting in it (kgp_conn_stats()'s load, in
 * KGP_LOAD_UNIT steps: a small answer does not count), then by its
 * open streams; with none up, a broken one (the stream waits for its
 * resume); else none.  A small request never queues behind a bulk
 * transfer while another session carries only idle streams.
 */
struct kgp_client *
route_link(struct tunnel *t)
{
	struct kgp_client	*c, *best = NULL, *waiting = NULL;
	struct kgp_conn_stats	 st;
	uint64_t		 load = UINT64_MAX, streams = UINT64_MAX;

	TAILQ_FOREACH(c, &t->links, tentry) {
		kgp_conn_stats(c->conn, &st);
		st.load /= KGP_LOAD_UNIT;
		if (st.up && (st.load < load || (st.load == load &&
		    st.streams_open < streams))) {
			best = c;
			load = st.load;
			streams = st.streams_open;
		} else if (st.broken && waiting == NULL)
			waiting = c;
	}
	return (best != NULL ? best : waiting);
}
