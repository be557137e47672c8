/*
 * What the Tunnels web page shows of a tunnel beyond its registry line:
 * its KGP sessions as they are now (address, up or broken, round trip,
 * open streams, bytes each way) and its recent events.
 *
 * The KGP worker holds the sessions: every WEB_LINKS_PUSH_SEC it sends,
 * for each tunnel whose figures changed since it last did, the totals
 * and the first WEB_LINKS_MAX sessions (IMSG_SRV_TUNNEL_LINKS, through
 * the parent, checked by srv_tlinks_valid()).  The REST worker keeps the
 * last of them with the tunnel, and the last WEB_EVENTS_MAX events it
 * saw happen to it (created, sessions up and down, stopped, ended and
 * why), in memory only.
 */
#include <sys/types.h>
#include <sys/queue.h>

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "imsg_server.h"
#include "kgp.h"
#include "log.h"
#include "proc.h"
#include "server.h"
#include "web.h"

static uint64_t	 weblinks_sum(const void *, size_t);
static struct web_tunnel *weblinks_get(struct tunnel *);

/* FNV-1a: enough to tell figures that changed from those that did not */
static uint64_t
weblinks_sum(const void *p, size_t len)
{
	const uint8_t	*b = p;
	uint64_t	 h = 0xcbf29ce484222325ULL;
	size_t		 i;

	for (i = 0; i < len; i++) {
		h ^= b[i];
		h *= 0x100000001b3ULL;
	}
	return (h);
}

/*
 * The KGP worker: the figures of each tunnel that changed, to the REST
 * worker.  A tunnel with no session left sends one last message that
 * says so.
 */
void
weblinks_push(void)
{
	struct srv_tlinks	 l;
	struct srv_tlink	*k;
	struct kgp_client	*c;
	struct kgp_conn_stats	 st;
	struct tunnel		*t;
	size_t			 len;
	uint64_t		 sum;

	TAILQ_FOREACH(t, &env->tunnels, entry) {
		memset(&l, 0, sizeof(l));
		strlcpy(l.id, t->id, sizeof(l.id));
		l.bytes_in = t->gone_in;
		l.bytes_out = t->gone_out;
		TAILQ_FOREACH(c, &t->links, tentry) {
			l.nlinks++;
			if (c->conn == NULL)
				continue;
			kgp_conn_stats(c->conn, &st);
			l.streams_open += st.streams_open;
			l.bytes_in += st.bytes_in;
			l.bytes_out += st.bytes_out;
			if (l.count == WEB_LINKS_MAX)
				continue;
			k = &l.links[l.count++];
			strlcpy(k->addr, c->addr, sizeof(k->addr));
			k->index = c->index;
			k->up = st.up ? 1 : 0;
			k->rtt_us = st.rtt_us;
			k->streams_open = st.streams_open;
			k->bytes_in = st.bytes_in;
			k->bytes_out = st.bytes_out;
			k->since = time(NULL) - (int64_t)((mono_ms() -
			    c->since_ms) / 1000);
		}
		len = offsetof(struct srv_tlinks, links) +
		    l.count * sizeof(struct srv_tlink);
		/* since moves by a second now and then: not a change */
		sum = weblinks_sum(&l, offsetof(struct srv_tlinks, links));
		for (k = l.links; k < l.links + l.count; k++)
			sum ^= weblinks_sum(k, offsetof(struct srv_tlink,
			    since)) + (k - l.links);
		if (sum == t->links_sum)
			continue;
		t->links_sum = sum;
		worker_send(IMSG_SRV_TUNNEL_LINKS, &l, len);
	}
}

/* The REST worker's extra state of t, made on first use. */
static struct web_tunnel *
weblinks_get(struct tunnel *t)
{
	if (t->web == NULL && (t->web = calloc(1, sizeof(*t->web))) == NULL)
		log_warn("%s", __func__);
	return (t->web);
}

/* The REST worker: the figures of a tunnel, as the KGP worker sends them. */
void
weblinks_apply(const struct srv_tlinks *l)
{
	struct web_tunnel	*w;
	struct tunnel		*t;
	size_t			 len;

	/* a terminated tunnel keeps the figures it ended with */
	if ((t = tunnel_find(l->id)) == NULL ||
	    t->status == TUNNEL_TERMINATED || (w = weblinks_get(t)) == NULL)
		return;
	len = offsetof(struct srv_tlinks, links) +
	    l->count * sizeof(struct srv_tlink);
	if (w->live == NULL &&
	    (w->live = malloc(sizeof(struct srv_tlinks))) == NULL) {
		log_warn("%s", __func__);
		return;
	}
	memcpy(w->live, l, len);
}

/*
 * The REST worker: what the KGP worker said of t (reg_state()), after it
 * was applied; the status and the count of sessions it had before.
 */
void
weblinks_state(struct tunnel *t, const struct srv_tstate *ts, int status,
    int nlinks)
{
	struct web_tunnel	*w;
	int			 link;

	if ((w = weblinks_get(t)) == NULL)
		return;
	if (ts->reason[0] != '\0')
		strlcpy(w->last_error, ts->reason, sizeof(w->last_error));
	link = strncmp(ts->reason, "connection ", 11) == 0;
	if (t->nlinks > nlinks)
		weblinks_event(t, "connection up (%d in all)", t->nlinks);
	else if (t->nlinks < nlinks)
		weblinks_event(t, "%s (%d left)", link ? ts->reason :
		    "connection closed", t->nlinks);
	if ((int)t->status != status) {
		if (ts->reason[0] != '\0' && !link)
			weblinks_event(t, "%s: %s",
			    tunnel_status_name(t->status), ts->reason);
		else
			weblinks_event(t, "%s", tunnel_status_name(t->status));
		/* its bytes stay, its sessions are gone */
		if (t->status == TUNNEL_TERMINATED && w->live != NULL) {
			w->live->nlinks = w->live->count = 0;
			w->live->streams_open = 0;
		}
	}
}

/* One more event of t, the oldest out. */
void
weblinks_event(struct tunnel *t, const char *fmt, ...)
{
	struct web_tunnel	*w;
	struct web_event	*e;
	va_list			 ap;

	if ((w = weblinks_get(t)) == NULL)
		return;
	e = &w->events[(w->first + w->nevents) % WEB_EVENTS_MAX];
	if (w->nevents < WEB_EVENTS_MAX)
		w->nevents++;
	else
		w->first = (w->first + 1) % WEB_EVENTS_MAX;
	e->at = time(NULL);
	va_start(ap, fmt);
	vsnprintf(e->text, sizeof(e->text), fmt, ap);
	va_end(ap);
}
