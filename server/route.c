/*
 * The traffic rules at the entry proxy: what a request names (the host,
 * the port, the URL) and the verdict of the tunnel's rules on it
 * (rules.h), and the request head rewritten for where it goes.
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
 * The head of h again, for target, without the fields meant for this
 * hop (Connection and what it names, Proxy-*, Keep-Alive, Upgrade):
 * with "Connection: close" (the next request of the browser then comes
 * on a new connection, which is decided again), or, for an upgrade
 * (WebSocket) with keep_upgrade, its Upgrade field and "Connection:
 * upgrade".  Returns a buffer of *len bytes to free(), or NULL.
 */
char *
route_head(const struct http_head *h, const char *target, int keep_upgrade,
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
#define PUT(...)	do {						\
		int	 k = snprintf(p, left, __VA_ARGS__);		\
		if (k < 0 || (size_t)k >= left)				\
			goto fail;					\
		p += k;							\
		left -= k;						\
	} while (0)
	PUT("%s %s HTTP/1.%d\r\n", h->method, target, h->version == 10 ?
	    0 : 1);
	for (i = 0; i < h->nfields; i++) {
		f = &h->fields[i];
		if (strcasecmp(f->name, "Upgrade") == 0)
			upgrade = f->value;
		if (http_hop_by_hop(h, f->name))
			continue;
		PUT("%s: %s\r\n", f->name, f->value);
	}
	if (keep_upgrade && upgrade != NULL &&
	    (h->flags & HTTP_F_CONN_UPGRADE))
		PUT("Upgrade: %s\r\nConnection: upgrade\r\n\r\n", upgrade);
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
