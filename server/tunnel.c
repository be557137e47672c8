/*
 * The tunnel registry: a tunnel is created by the REST API, runs while
 * its KGP connections come and go (a broken one is kept for the grace
 * period, for its client to resume), and ends terminated after a DELETE
 * or when its client stays away too long.
 * Terminated tunnels stay readable (the most recent ones).
 */
#include <sys/types.h>
#include <sys/queue.h>

#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <jansson.h>

#include "imsg_server.h"
#include "kgp.h"
#include "log.h"
#include "proc.h"
#include "rules.h"
#include "server.h"
#include "web.h"

#define TUNNEL_HALT_TIMEOUT	10	/* s: a halting link that does not close */

static void	 tunnel_grace(int, short, void *);
static void	 tunnel_started(int, const char *, void *);
static void	 tunnel_close_links(struct tunnel *, int, const char *);
static json_t	*json_time(time_t);
static void	 tunnel_json_rules(json_t *, json_t *);

/* the KGP worker: the rules of the tunnel to be added next */
static struct rules	*next_rules;
static char		 next_id[TUNNEL_ID_LEN + 1];
static int		 next_bad;

const char *
tunnel_status_name(enum tunnel_status s)
{
	switch (s) {
	case TUNNEL_RUNNING:
		return ("running");
	case TUNNEL_HALTING:
		return ("halting");
	case TUNNEL_TERMINATED:
		return ("terminated");
	}
	return ("unknown");
}

/* nhex random lowercase hex digits (nhex even) and a NUL. */
void
tunnel_random_hex(char *buf, size_t nhex)
{
	uint8_t	 b[64];

	if (nhex > 2 * sizeof(b) || nhex % 2)
		fatalx("%s: bad length", __func__);
	arc4random_buf(b, nhex / 2);
	hexencode(b, nhex / 2, buf);
	explicit_bzero(b, sizeof(b));
}

/* A new tunnel of owner, not yet started (not in the registry). */
struct tunnel *
tunnel_new(const char *owner)
{
	struct tunnel	*t;

	if ((t = calloc(1, sizeof(*t))) == NULL)
		return (NULL);
	TAILQ_INIT(&t->links);
	strlcpy(t->owner, owner, sizeof(t->owner));
	do {
		tunnel_random_hex(t->id, TUNNEL_ID_LEN);
	} while (tunnel_find(t->id) != NULL);
	tunnel_random_hex(t->secret, TUNNEL_SECRET_LEN);
	t->use_kgp = 1;
	t->status = TUNNEL_RUNNING;
	t->creation_time = t->launch_time = time(NULL);
	return (t);
}

void
tunnel_free(struct tunnel *t)
{
	if (t == NULL)
		return;
	entry_close(t);
	if (t->grace != NULL)
		event_free(t->grace);
	free(t->identifier);
	free(t->vm_version);
	json_decref(t->rule_lists);
	rules_free(t->rules);
	json_decref(t->metadata);
	explicit_bzero(t->secret, sizeof(t->secret));
	if (t->web != NULL) {
		free(t->web->live);
		free(t->web);
	}
	free(t);
}

/*
 * The KGP worker: what the REST worker knows of t, up to date (through
 * the parent).  A terminated tunnel is reported and then forgotten.
 */
void
tunnel_report(struct tunnel *t, const char *reason)
{
	struct srv_tstate	 ts;

	memset(&ts, 0, sizeof(ts));
	strlcpy(ts.id, t->id, sizeof(ts.id));
	ts.status = t->status;
		{
		struct kgp_client	*c;

		TAILQ_FOREACH(c, &t->links, tentry)
			ts.nlinks++;
	}
	ts.connected = tunnel_connected(t);
	ts.entry_port = t->entry_port;
	ts.last_connected = t->last_connected;
	ts.shutdown_time = t->shutdown_time;
	strlcpy(ts.entry_addr, t->entry_addr, sizeof(ts.entry_addr));
	if (reason != NULL)
		strlcpy(ts.reason, reason, sizeof(ts.reason));
	worker_send(IMSG_SRV_TUNNEL_STATE, &ts, sizeof(ts));
}

/*
 * The KGP worker: rules of the tunnel h names, the next one added
 * (IMSG_SRV_TUNNEL_RULES); count strings in s (len bytes, checked).
 * Rules of another tunnel before them are dropped.
 */
void
tunnel_rules_add(const struct srv_tunnel_rules *h, const char *s, size_t len)
{
	char		 err[512];
	uint32_t	 i;

	if (next_rules != NULL && strcmp(next_id, h->id) != 0) {
		rules_free(next_rules);
		next_rules = NULL;
	}
	if (next_rules == NULL) {
		if ((next_rules = rules_new()) == NULL)
			fatal("%s", __func__);
		strlcpy(next_id, h->id, sizeof(next_id));
		next_bad = 0;
	}
	for (i = 0; i < h->count && !next_bad; i++) {
		if (rules_add(next_rules, h->list, h->syntax, s, err,
		    sizeof(err)) == -1) {
			log_warnx("tunnel %s: a traffic rule: %s", h->id, err);
			next_bad = 1;
		}
		s += strlen(s) + 1;
	}
}

/*
 * The rules received for t (tunnel_rules_add()), compiled once into
 * t->rules.  -1 when they do not compile: the REST worker checked them,
 * so it is a bug or another version's registry.
 */
static int
tunnel_rules_take(struct tunnel *t)
{
	char	 err[512];
	int	 ret = 0;

	if (next_rules == NULL || strcmp(next_id, t->id) != 0)
		return (0);
	if (next_bad || rules_compile(next_rules, err, sizeof(err)) == -1) {
		if (!next_bad)
			log_warnx("tunnel %s: traffic rules: %s", t->id, err);
		rules_free(next_rules);
		ret = -1;
	} else {
		t->rules = next_rules;
		log_debug("tunnel %s: %zu traffic rules", t->id,
		    rules_count(t->rules));
	}
	next_rules = NULL;
	return (ret);
}

/*
 * The KGP worker: a tunnel the REST worker tells of.  A new one (a REST
 * POST) or one of the registry (at start, or for a new KGP worker) gets
 * its entry proxy's port from the parent; one this worker has already is
 * only reported (a new REST worker asks), and so is one it does not have
 * when only a report is asked for: it ended meanwhile.
 */
void
tunnel_add(const struct srv_tunnel_add *a)
{
	struct tunnel	*t;
	char		*id;

	if ((t = tunnel_find(a->id)) != NULL && a->mode == SRV_ADD_REMOTE &&
	    t->status == TUNNEL_TERMINATED) {
		/* ended here, its client on another node: it runs again */
		TAILQ_REMOVE(&env->tunnels, t, entry);
		tunnel_free(t);
		t = NULL;
	}
	if (t != NULL) {
		/*
		 * The REST worker's word, relayed: a bug or a worker gone
		 * wrong, not a reason to end every tunnel of this node.
		 */
		if (a->mode == SRV_ADD_NEW)
			log_warnx("%s: tunnel %s added twice: it keeps what "
			    "it had", __func__, a->id);
		tunnel_report(t, NULL);
		/* a new REST worker: it gets the figures again (weblinks.c) */
		t->links_sum = 0;
		return;
	}
	if ((t = calloc(1, sizeof(*t))) == NULL)
		fatal("%s", __func__);
	TAILQ_INIT(&t->links);
	strlcpy(t->id, a->id, sizeof(t->id));
	strlcpy(t->secret, a->secret, sizeof(t->secret));
	strlcpy(t->owner, a->owner, sizeof(t->owner));
	t->use_kgp = 1;
	t->last_connected = a->last_connected;
	if (a->mode == SRV_ADD_SYNC) {
		t->status = TUNNEL_TERMINATED;
		t->shutdown_time = time(NULL);
		tunnel_report(t, "it ended while the REST worker restarted");
		tunnel_free(t);
		return;
	}
	tunnel_prune();
	t->status = TUNNEL_RUNNING;
	t->entry_port = a->want;
	t->add_mode = a->mode;
	if ((t->grace = evtimer_new(env->base, tunnel_grace, t)) == NULL)
		fatalx("%s: evtimer_new", __func__);
	TAILQ_INSERT_TAIL(&env->tunnels, t, entry);
	if (tunnel_rules_take(t) == -1) {
		tunnel_terminate(t, "its traffic rules do not compile");
		return;
	}
	if ((id = strdup(t->id)) == NULL ||
	    worker_entry_bind(id, t->entry_port, tunnel_started, id) == -1) {
		free(id);
		tunnel_terminate(t, "cannot open its entry proxy");
	}
}

/* The tunnel named arg has its entry proxy's port, or not. */
static void
tunnel_started(int fd, const char *bound, void *arg)
{
	struct tunnel	*t;
	char		*id = arg;
	int		 sec, mode;

	t = tunnel_find(id);
	free(id);
	if (t == NULL || t->status != TUNNEL_RUNNING || t->proxy != NULL ||
	    env->shutting_down) {
		if (fd != -1)
			close(fd);
		return;
	}
	mode = t->add_mode;
	if (fd == -1 || entry_open(t, fd, bound) == -1) {
		tunnel_terminate(t, "cannot open its entry proxy");
		return;
	}
	if (mode == SRV_ADD_NEW)
		sec = env->grace > SC_SERVER_CONNECT_MIN ? env->grace :
		    SC_SERVER_CONNECT_MIN;
	else if (t->last_connected == 0 && env->grace < SC_SERVER_CONNECT_MIN)
		sec = SC_SERVER_CONNECT_MIN;
	else
		sec = env->grace;
	/*
	 * A cluster: another node's tunnel may have its client there;
	 * only the node that made it, had its session, or restored it
	 * (the database then refuses an end while another node holds its
	 * session) ends it when its client does not come.
	 */
	if (mode != SRV_ADD_REMOTE)
		timer_add(t->grace, sec, 0);
	if (mode == SRV_ADD_NEW)
		log_info("tunnel %s of %s: entry proxy %s", t->id, t->owner,
		    t->entry_addr);
	else if (mode == SRV_ADD_REMOTE)
		log_info("tunnel %s of %s, made through another node: entry "
		    "proxy %s", t->id, t->owner, t->entry_addr);
	else
		log_info("tunnel %s of %s restored, entry proxy %s, waiting "
		    "%d s for its client", t->id, t->owner, t->entry_addr, sec);
	tunnel_report(t, NULL);
}

/*
 * The KGP worker: the REST worker ends the tunnel named id: a REST
 * DELETE, or a new tunnel whose registry could not be written, which
 * its client never heard of.
 */
void
tunnel_del(const char *id, uint32_t why)
{
	struct tunnel	*t;

	if ((t = tunnel_find(id)) == NULL)
		return;
	if (why == SRV_DEL_UNSAVED)
		tunnel_terminate(t, "not created: the registry could not be "
		    "saved");
	else
		tunnel_delete(t);
}

struct tunnel *
tunnel_find(const char *id)
{
	struct tunnel	*t;

	TAILQ_FOREACH(t, &env->tunnels, entry)
		if (strcmp(t->id, id) == 0)
			return (t);
	return (NULL);
}

struct tunnel *
tunnel_find_owned(const char *owner, const char *id)
{
	struct tunnel	*t;

	if ((t = tunnel_find(id)) == NULL || strcmp(t->owner, owner) != 0)
		return (NULL);
	return (t);
}

/* Close every KGP session of t (their down callbacks unbind them). */
static void
tunnel_close_links(struct tunnel *t, int code, const char *why)
{
	struct kgp_client	*c, *tmp;

	TAILQ_FOREACH_SAFE(c, &t->links, tentry, tmp)
		kgp_conn_close(c->conn, code, why);
}

/* The end: no entry port, no connection, status terminated. */
void
tunnel_terminate(struct tunnel *t, const char *why)
{
	struct kgp_client	*c;

	if (t->status == TUNNEL_TERMINATED)
		return;
	t->status = TUNNEL_TERMINATED;
	t->shutdown_time = time(NULL);
	evtimer_del(t->grace);
	entry_close(t);
	while ((c = TAILQ_FIRST(&t->links)) != NULL) {
		TAILQ_REMOVE(&t->links, c, tentry);
		c->tunnel = NULL;
		kgp_conn_close(c->conn, KGP_E_TERMINATED, why);
	}
	log_info("tunnel %s terminated: %s", t->id, why);
	tunnel_report(t, why);
}

/*
 * Keep at most TUNNEL_KEEP_TERMINATED terminated tunnels, the first
 * ones go; none that ended more than TUNNEL_TERMINATED_AGE ago.
 */
void
tunnel_prune(void)
{
	struct tunnel	*t, *tmp;
	time_t		 old = time(NULL) - TUNNEL_TERMINATED_AGE;
	int		 n = 0;

	TAILQ_FOREACH(t, &env->tunnels, entry)
		if (t->status == TUNNEL_TERMINATED)
			n++;
	TAILQ_FOREACH_SAFE(t, &env->tunnels, entry, tmp) {
		if (t->status != TUNNEL_TERMINATED ||
		    (n <= TUNNEL_KEEP_TERMINATED && t->shutdown_time >= old))
			continue;
		TAILQ_REMOVE(&env->tunnels, t, entry);
		tunnel_free(t);
		n--;
	}
}

/*
 * REST DELETE: halting until the KGP link is closed (its down callback
 * ends in tunnel_unbind()), then terminated.
 */
void
tunnel_delete(struct tunnel *t)
{
	if (t->status != TUNNEL_RUNNING)
		return;
	t->user_shutdown = 1;
	if (TAILQ_EMPTY(&t->links)) {
		tunnel_terminate(t, "deleted");
		return;
	}
	t->status = TUNNEL_HALTING;
	entry_close(t);
	evtimer_del(t->grace);
	timer_add(t->grace, TUNNEL_HALT_TIMEOUT, 0);
	log_info("tunnel %s halting: deleted", t->id);
	tunnel_report(t, NULL);
	tunnel_close_links(t, KGP_E_TERMINATED, "tunnel deleted");
}

static void
tunnel_grace(int fd, short ev, void *arg)
{
	struct tunnel	*t = arg;
	char		 why[64];

	switch (t->status) {
	case TUNNEL_RUNNING:
		if (!TAILQ_EMPTY(&t->links))
			return;
		snprintf(why, sizeof(why), "no client connection for %d s",
		    t->last_connected == 0 && env->grace <
		    SC_SERVER_CONNECT_MIN ? SC_SERVER_CONNECT_MIN :
		    env->grace);
		tunnel_terminate(t, why);
		break;
	case TUNNEL_HALTING:
		tunnel_terminate(t, "deleted (the link did not close in time)");
		break;
	case TUNNEL_TERMINATED:
		break;
	}
}

/* A new KGP session of t is up. */
void
tunnel_bind(struct tunnel *t, struct kgp_client *c)
{
	TAILQ_INSERT_TAIL(&t->links, c, tentry);
	c->tunnel = t;
	t->last_connected = time(NULL);
	evtimer_del(t->grace);
	log_info("tunnel %s: connection %u from %s up", t->id, c->index,
	    c->addr);
	tunnel_report(t, NULL);
}

/*
 * The KGP session c of t is gone (code, reason: why).  A tunnel left
 * with none waits for its client for the grace period, unless the
 * session ended because it was not resumed within that period already.
 */
void
tunnel_unbind(struct tunnel *t, struct kgp_client *c, int code,
    const char *reason)
{
	char	 why[ADDRSTR_MAX + 256];

	if (c->tunnel != t)
		return;
	TAILQ_REMOVE(&t->links, c, tentry);
	c->tunnel = NULL;
	if (c->conn != NULL) {
		struct kgp_conn_stats	 st;

		/* its bytes stay in the tunnel's figures (weblinks.c) */
		kgp_conn_stats(c->conn, &st);
		t->gone_in += st.bytes_in;
		t->gone_out += st.bytes_out;
	}
	log_info("tunnel %s: connection %u from %s closed: %s", t->id,
	    c->index, c->addr, reason);
	snprintf(why, sizeof(why), "connection %u from %s closed: %s",
	    c->index, c->addr, reason);
	if (!TAILQ_EMPTY(&t->links)) {
		tunnel_report(t, why);
		return;
	}
	switch (t->status) {
	case TUNNEL_RUNNING:
		if (env->shutting_down) {
			tunnel_report(t, NULL);
			break;
		}
		if (code == KGP_E_TIMEOUT) {
			snprintf(why, sizeof(why), "its link was not resumed "
			    "within the grace period (%d s)", env->grace);
			tunnel_terminate(t, why);
		} else {
			timer_add(t->grace, env->grace, 0);
			tunnel_report(t, why);
		}
		break;
	case TUNNEL_HALTING:
		tunnel_terminate(t, "deleted");
		break;
	case TUNNEL_TERMINATED:
		break;
	}
}

/* The session of t that a resuming client names, if the server has it. */
struct kgp_client *
tunnel_session(struct tunnel *t, uint64_t session)
{
	struct kgp_client	*c;

	TAILQ_FOREACH(c, &t->links, tentry)
		if (kgp_conn_session(c->conn) == session)
			return (c);
	return (NULL);
}

/* At least one session of t is up. */
int
tunnel_connected(struct tunnel *t)
{
	struct kgp_client	*c;
	struct kgp_conn_stats	 st;

	TAILQ_FOREACH(c, &t->links, tentry) {
		kgp_conn_stats(c->conn, &st);
		if (st.up)
			return (1);
	}
	return (0);
}

/* Server shutdown: close every entry port (connections close apart). */
void
tunnel_shutdown_all(void)
{
	struct tunnel	*t;

	TAILQ_FOREACH(t, &env->tunnels, entry) {
		entry_close(t);
		evtimer_del(t->grace);
	}
}

static json_t *
json_time(time_t t)
{
	if (t == 0)
		return (json_null());
	return (json_integer(t));
}

/*
 * The traffic rules' lists: those of Sauce Connect 4 always (empty when
 * not given), as its REST API answers, and the others when given.
 */
static void
tunnel_json_rules(json_t *o, json_t *lists)
{
	const char	*field;
	json_t		*a;
	int		 l, syn;

	for (l = 0; l < RULES_NLISTS; l++)
		for (syn = RULES_V4; syn <= RULES_V5; syn++) {
			if ((field = rules_field(l, syn)) == NULL)
				continue;
			a = lists != NULL ? json_object_get(lists, field) : NULL;
			if (a != NULL)
				json_object_set(o, field, a);
			else if (syn == RULES_V4)
				json_object_set_new(o, field, json_array());
		}
}

/* The tunnel object of the REST API; the secret only when asked. */
json_t *
tunnel_json(struct tunnel *t, int with_secret)
{
	json_t		*o;
	const char	*host, *cert;
	int		 port;

	o = json_object();
	if (o == NULL)
		return (NULL);
	/* a cluster: the node its client connects to (place.c) */
	place_pick(t, with_secret, &host, &port, &cert);
	json_object_set_new(o, "id", json_string(t->id));
	json_object_set_new(o, "owner", json_string(t->owner));
	json_object_set_new(o, "status",
	    json_string(tunnel_status_name(t->status)));
	json_object_set_new(o, "host", json_string(host));
	json_object_set_new(o, "ssh_port", json_integer(port));
	json_object_set_new(o, "tunnel_identifier",
	    t->identifier ? json_string(t->identifier) : json_null());
	json_object_set_new(o, "creation_time", json_time(t->creation_time));
	json_object_set_new(o, "launch_time", json_time(t->launch_time));
	json_object_set_new(o, "last_connected", json_time(t->last_connected));
	json_object_set_new(o, "shutdown_time", json_time(t->shutdown_time));
	tunnel_json_rules(o, t->rule_lists);
	json_object_set_new(o, "shared_tunnel",
	    json_boolean(t->shared_tunnel));
	json_object_set_new(o, "use_kgp", json_boolean(t->use_kgp));
	json_object_set_new(o, "use_caching_proxy",
	    json_boolean(t->use_caching_proxy));
	json_object_set_new(o, "no_proxy_caching",
	    json_boolean(t->no_proxy_caching));
	json_object_set_new(o, "tunnel_pool", json_boolean(t->tunnel_pool));
	json_object_set_new(o, "user_shutdown",
	    json_boolean(t->user_shutdown));
	json_object_set_new(o, "vm_version",
	    json_string(t->vm_version ? t->vm_version : ""));
	json_object_set_new(o, "metadata",
	    t->metadata ? json_incref(t->metadata) : json_object());
	json_object_set_new(o, "entry_proxy", json_string(t->entry_addr));
	json_object_set_new(o, "server_cert_sha256",
	    json_string(cert));
	json_object_set_new(o, "connected", json_boolean(t->connected));
	if (with_secret)
		json_object_set_new(o, "kgp_secret", json_string(t->secret));
	return (o);
}
