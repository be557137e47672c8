/*
 * The tunnel registry on disk: statedir/tunnels.json, rewritten whole
 * (write_file_atomic) whenever a tunnel is created, connects, changes
 * status or ends, and read back at start, so that a restarted server
 * takes its running tunnels' clients back.  The file holds the KGP
 * secrets of the tunnels that are not terminated (mode 0600, in a 0700
 * directory).  Everything in it is checked as if a stranger had written
 * it: a tunnel that does not check out is left out with a warning (the
 * file is then kept aside as tunnels.json.bad), the others are taken,
 * and the server starts either way.
 *
 * The registry lives in the database now (db.c): the parent sends the
 * REST worker its tunnels' lines in this form, and writes the changes
 * the worker sends into it (dbmsg.c).  tunnels.json of older versions is
 * read the same way once, to import it (state_read_file(),
 * state_set_aside() in the parent); the REST worker parses what the
 * parent sent (state_load()) and sends the parent the changes to write
 * (state_save()): the line of each tunnel that changed since it was
 * last written, and the deletion of each no longer kept, never the
 * whole registry, so that nodes sharing one database (a cluster) each
 * write theirs; it hears whether they were committed (state_saved()),
 * and what was not is sent again.
 *
 * Version 2, written since: a header line, then one tunnel per line,
 * each a JSON object in compact form (no line breaks: JSON escapes them
 * inside strings), each parsed on its own, so that one bad line costs
 * that tunnel and no other:
 *
 *	{"version":2}
 *	{"id":...,"owner":...,"status":...,"kgp_secret":...,
 *	    "entry_port":...,"creation_time":...,<the settings, as in a
 *	    REST POST>}
 *
 * ("kgp_port", --kgp-workers: the KGP port of its worker, which a
 * restart places it on again.)
 *
 * Version 1, still read: one JSON document,
 *	{"version": 1, "tunnels": [{"id": ...}, ...]}
 *
 * What the REST API accepts always fits: each tunnel's settings are
 * bounded (rest_tunnel_settings(): depth, bytes per field, bytes per
 * tunnel), so a line is at most TUNNEL_LINE_MAX bytes and nested a few
 * levels deep, and the tunnels that are not terminated are bounded in
 * bytes per account and in all (reg_admit()), so the file stays under
 * TUNNELS_FILE_MAX, which the parent and the loader accept.
 */
#include <sys/types.h>
#include <sys/queue.h>
#include <sys/stat.h>
#include <sys/tree.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <jansson.h>
#include <openssl/sha.h>

#include "log.h"
#include "server.h"

#define STATE_VERSION		2	/* a header, one tunnel per line */
#define STATE_VERSION_DOC	1	/* one document: still read */
#define STATE_HEADER		"{\"version\":2}\n"
#define STATE_TIME_MAX	((json_int_t)1 << 40)	/* sane Unix seconds */

/* what a load took */
struct state_count {
	int	 all;		/* tunnels restored */
	int	 run;		/* of which running */
	int	 bad;		/* left out */
};

/*
 * A tunnel's line as last sent to the database (or read from it): only
 * the lines that changed since are written, and the ids of tunnels no
 * longer in the registry deleted, so that each node of a cluster writes
 * its changes and never the others' tunnels.
 */
struct state_line {
	RB_ENTRY(state_line)	 entry;
	char			 id[TUNNEL_ID_LEN + 1];
	uint8_t			 digest[SHA256_DIGEST_LENGTH]; /* 0: unknown */
	uint64_t		 seq;	/* the save carrying it, 0: none */
	uint64_t		 gen;	/* the last save that found it */
	int			 gone;	/* no longer there: its delete */
};
RB_HEAD(state_lines, state_line);

#define STATE_SEQ_SENDING	UINT64_MAX	/* in the save being made */

/* the text of a registry being made */
struct state_text {
	char	*buf;
	size_t	 len;
	size_t	 size;
};

static int	 state_line_cmp(struct state_line *, struct state_line *);
static struct state_line *state_line_get(const char *);
static void	 state_lines_mark(uint64_t, uint64_t, int);
static int	 state_kept(const struct tunnel *, time_t, int *);
static void	 state_line_known(const char *, json_t *);
static int	 state_digest(json_t *, uint8_t *);
static char	*state_tunnel_line(struct tunnel *, uint8_t *);
static json_t	*state_tunnel_json(struct tunnel *);
static int	 state_text_add(struct state_text *, const char *, size_t);
static void	 state_text_free(struct state_text *);
static int	 state_time_cmp(const void *, const void *);
static void	 state_cut(time_t, time_t *, int *);
static void	 state_saved(void *, int);
static void	 state_failed(int);
static void	 state_timer_cb(int, short, void *);
static void	 state_timer_add(int);
static struct tunnel *state_tunnel_parse(json_t *, const char *, int);
static void	 state_sync_one(json_t *, const char *, time_t,
		    void (*)(struct tunnel *));
static struct tunnel *state_take(json_t *, const char *, time_t,
		    struct state_count *);
static void	 state_take_text(const char *, size_t, const char *, time_t,
		    struct state_count *);
static void	 state_load_lines(char *, size_t, time_t,
		    struct state_count *);
static int	 state_load_doc(char *, size_t, time_t, struct state_count *);
static int	 state_load_split(char *, size_t, time_t,
		    struct state_count *);
static int	 state_time(json_t *, const char *, time_t *);
static char	*state_read(const char *, size_t *);

static int	 state_ready;	/* loaded: saving may begin */
/* state_load(): where the tunnels that check out go (the registry) */
static int	(*state_restore)(struct tunnel *, char *, size_t);
static struct state_stats stats;
static uint64_t	 fail_run;	/* failures since the last save written */
static uint64_t	 fail_unlogged;	/* failures since the last log line */
static time_t	 fail_logged;	/* monotonic seconds of that line */
static struct event *state_timer;	/* a save soon, or tried again */
static struct state_lines lines = RB_INITIALIZER(&lines);
static uint64_t	 lines_gen;

RB_PROTOTYPE(state_lines, state_line, entry, state_line_cmp)
RB_GENERATE(state_lines, state_line, entry, state_line_cmp)

static int
state_line_cmp(struct state_line *a, struct state_line *b)
{
	return (strcmp(a->id, b->id));
}

/* The line of tunnel id, made (unknown) if there is none. */
static struct state_line *
state_line_get(const char *id)
{
	struct state_line	 key, *sl;

	strlcpy(key.id, id, sizeof(key.id));
	if ((sl = RB_FIND(state_lines, &lines, &key)) != NULL)
		return (sl);
	if ((sl = calloc(1, sizeof(*sl))) == NULL)
		return (NULL);
	strlcpy(sl->id, id, sizeof(sl->id));
	RB_INSERT(state_lines, &lines, sl);
	return (sl);
}

/*
 * What became of the save from (STATE_SEQ_SENDING: the one being made)
 * of each line it carried: to (its sequence number, or 0: done); when
 * it failed, the lines are unknown again, to be written anew.  A
 * deletion committed forgets the line.
 */
static void
state_lines_mark(uint64_t from, uint64_t to, int failed)
{
	struct state_line	*sl, *tmp;

	RB_FOREACH_SAFE(sl, state_lines, &lines, tmp) {
		if (sl->seq != from)
			continue;
		sl->seq = to;
		if (failed)
			memset(sl->digest, 0, sizeof(sl->digest));
		else if (to == 0 && sl->gone) {
			RB_REMOVE(state_lines, &lines, sl);
			free(sl);
		}
	}
}

/*
 * The digest of a tunnel's line (o) into d: without its entry port,
 * which each node has its own of (a node writes its port only with a
 * change of the tunnel).  -1 when out of memory.
 */
static int
state_digest(json_t *o, uint8_t *d)
{
	json_t	*port;
	char	*s;

	if ((port = json_object_get(o, "entry_port")) != NULL)
		json_incref(port);
	json_object_del(o, "entry_port");
	s = json_dumps(o, JSON_COMPACT);
	if (port != NULL) {
		json_object_set(o, "entry_port", port);
		json_decref(port);
	}
	if (s == NULL)
		return (-1);
	SHA256((const unsigned char *)s, strlen(s), d);
	freezero(s, strlen(s) + 1);
	return (0);
}

/*
 * The line of t as the database holds it, and its digest into d; NULL
 * (errno set) when out of memory.
 */
static char *
state_tunnel_line(struct tunnel *t, uint8_t *d)
{
	json_t	*o;
	char	*s = NULL;

	if ((o = state_tunnel_json(t)) == NULL) {
		errno = ENOMEM;
		return (NULL);
	}
	if (state_digest(o, d) == 0)
		s = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	if (s == NULL)
		errno = ENOMEM;
	return (s);
}

/*
 * Is t in the registry that is written (state_cut()'s cut and atcut)?
 */
static int
state_kept(const struct tunnel *t, time_t cut, int *atcut)
{
	if (t->status != TUNNEL_TERMINATED)
		return (1);
	return (t->shutdown_time > cut || (t->shutdown_time == cut &&
	    (*atcut)-- > 0));
}

/*
 * The line of tunnel id as the database holds it (o, parsed: read from
 * it, or another node's write): it is written again only once the
 * tunnel's line differs.  The tunnel here may differ from it (what it
 * took of the line, what it has of its own): the next save compares.
 */
static void
state_line_known(const char *id, json_t *o)
{
	struct state_line	*sl;
	struct tunnel		*t;

	if ((sl = state_line_get(id)) == NULL)
		return;
	sl->gone = 0;
	if (state_digest(o, sl->digest) == -1)
		memset(sl->digest, 0, sizeof(sl->digest));
	if ((t = tunnel_find(id)) != NULL)
		state_dirty(t);
}

/*
 * Tunnel t changed what its line holds: the next save makes its line
 * and compares it with the one last written.  The others are skipped
 * without being made, so that a change costs its own line, not a dump
 * of every tunnel.
 */
void
state_dirty(struct tunnel *t)
{
	t->state_clean = 0;
}

/* Tunnel id is gone from the database (another node deleted it). */
void
state_line_forget(const char *id)
{
	struct state_line	 key, *sl;

	strlcpy(key.id, id, sizeof(key.id));
	if ((sl = RB_FIND(state_lines, &lines, &key)) != NULL &&
	    sl->seq == 0) {
		RB_REMOVE(state_lines, &lines, sl);
		free(sl);
	}
}

static json_t *
state_tunnel_json(struct tunnel *t)
{
	json_t	*o;

	if ((o = tunnel_json(t, 0)) == NULL)
		return (NULL);
	/* what the server makes up anew at start */
	json_object_del(o, "host");
	json_object_del(o, "ssh_port");
	json_object_del(o, "server_cert_sha256");
	json_object_del(o, "connected");
	json_object_del(o, "entry_proxy");
	if (t->status != TUNNEL_TERMINATED) {
		json_object_set_new(o, "kgp_secret", json_string(t->secret));
		json_object_set_new(o, "entry_port",
		    json_integer(t->entry_port));
		/* --kgp-workers: its worker's, for a restart */
		if (t->kgp_port != 0)
			json_object_set_new(o, "kgp_port",
			    json_integer(t->kgp_port));
	}
	return (o);
}

/* Append len bytes of s; -1 (errno set) if out of memory or too large. */
static int
state_text_add(struct state_text *st, const char *s, size_t len)
{
	char	*p;
	size_t	 size;

	if (len > TUNNELS_FILE_MAX - st->len) {
		errno = EFBIG;
		return (-1);
	}
	if (st->len + len > st->size) {
		size = st->size ? st->size : 64 * 1024;
		while (size < st->len + len)
			size *= 2;
		/* the secrets in the old buffer are wiped */
		if ((p = malloc(size)) == NULL)
			return (-1);
		if (st->buf != NULL) {
			memcpy(p, st->buf, st->len);
			freezero(st->buf, st->size);
		}
		st->buf = p;
		st->size = size;
	}
	memcpy(st->buf + st->len, s, len);
	st->len += len;
	return (0);
}

static void
state_text_free(struct state_text *st)
{
	if (st->buf != NULL)
		freezero(st->buf, st->size);
	memset(st, 0, sizeof(*st));
}

/* Later first. */
static int
state_time_cmp(const void *a, const void *b)
{
	time_t	 x = *(const time_t *)a, y = *(const time_t *)b;

	return (x < y ? 1 : x > y ? -1 : 0);
}

/*
 * The terminated tunnels the file keeps: the TUNNELS_KEEP_TERMINATED
 * that ended last, none that ended more than TUNNEL_TERMINATED_AGE ago.
 * A terminated tunnel is kept if it ended after *cut, or at *cut while
 * *atcut of those are still to keep.
 */
static void
state_cut(time_t now, time_t *cut, int *atcut)
{
	struct tunnel	*t;
	time_t		 times[TUNNEL_KEEP_TERMINATED];
	size_t		 n = 0, i;

	*cut = now - TUNNEL_TERMINATED_AGE - 1;
	*atcut = 0;
	TAILQ_FOREACH(t, &env->tunnels, entry)
		if (t->status == TUNNEL_TERMINATED &&
		    t->shutdown_time > *cut && n < TUNNEL_KEEP_TERMINATED)
			times[n++] = t->shutdown_time;
	if (n <= TUNNELS_KEEP_TERMINATED)
		return;
	qsort(times, n, sizeof(times[0]), state_time_cmp);
	*cut = times[TUNNELS_KEEP_TERMINATED - 1];
	for (i = 0; i < TUNNELS_KEEP_TERMINATED; i++)
		if (times[i] == *cut)
			(*atcut)++;
}

/*
 * Write the registry's changes: of every tunnel that is not terminated,
 * and of the most recent terminated ones (they stay readable through
 * the REST API), the lines that changed since they were last committed
 * (those of saves not yet answered too), and the deletion of each
 * tunnel no longer among them.  Only the lines of tunnels marked dirty
 * (state_dirty()), new, or not committed are made and compared.  Returns the
 * save's sequence number (worker_after_save()), or 0 with errno set
 * when it cannot even be sent: that is logged and counted as a failure,
 * and tried again.
 */
uint64_t
state_save(void)
{
	static const char	 header[] = DB_TUNNELS_DELTA_TEXT;
	static const uint8_t	 zero[SHA256_DIGEST_LENGTH];
	struct state_text	 st;
	struct state_line	*sl;
	struct tunnel		*t;
	uint8_t			 d[SHA256_DIGEST_LENGTH];
	time_t			 now, cut;
	uint64_t		 seq;
	char			*s, del[64];
	size_t			 n, nkept = 0, nmade = 0;
	int			 atcut, r, saved;

	if (!state_ready) {
		errno = EAGAIN;
		return (0);
	}
	memset(&st, 0, sizeof(st));
	now = time(NULL);
	tunnel_prune();
	state_cut(now, &cut, &atcut);
	lines_gen++;
	if (state_text_add(&st, header, sizeof(header) - 1) == -1)
		goto fail;
	TAILQ_FOREACH(t, &env->tunnels, entry) {
		if (!state_kept(t, cut, &atcut))
			continue;
		if ((sl = state_line_get(t->id)) == NULL) {
			errno = ENOMEM;
			goto fail;
		}
		sl->gen = lines_gen;
		sl->gone = 0;
		nkept++;
		/* unchanged since its line was last committed: not made */
		if (t->state_clean && sl->seq == 0 &&
		    memcmp(sl->digest, zero, sizeof(zero)) != 0)
			continue;
		if ((s = state_tunnel_line(t, d)) == NULL)
			goto fail;
		n = strlen(s);
		t->state_clean = 1;
		nmade++;
		/* sent, but not yet committed: again, so that this save
		 * succeeds only with it */
		if (sl->seq == 0 && memcmp(sl->digest, d, sizeof(d)) == 0) {
			freezero(s, n + 1);
			continue;
		}
		memcpy(sl->digest, d, sizeof(d));
		sl->seq = STATE_SEQ_SENDING;
		r = state_text_add(&st, s, n);
		freezero(s, n + 1);
		if (r == -1 || state_text_add(&st, "\n", 1) == -1)
			goto fail;
	}
	RB_FOREACH(sl, state_lines, &lines) {
		if (sl->gen == lines_gen)
			continue;
		sl->gone = 1;
		sl->seq = STATE_SEQ_SENDING;
		n = snprintf(del, sizeof(del), "{\"delete\":\"%s\"}\n",
		    sl->id);
		if (state_text_add(&st, del, n) == -1)
			goto fail;
	}
	log_debug("saving the registry: %zu of %zu tunnels' lines made, "
	    "%zu bytes", nmade, nkept, st.len);
	if ((seq = worker_save(st.buf, st.len)) == 0)
		goto fail;
	state_text_free(&st);
	state_lines_mark(STATE_SEQ_SENDING, seq, 0);
	/* the first to hear of it, before whoever waits for this save */
	worker_after_save(seq, state_saved, (void *)(uintptr_t)seq);
	return (seq);
 fail:
	saved = errno;
	state_lines_mark(STATE_SEQ_SENDING, 0, 1);
	state_text_free(&st);
	state_failed(saved);
	errno = saved;
	return (0);
}

/* A save at the next turn of the event loop: one for several changes. */
void
state_save_soon(void)
{
	state_timer_add(0);
}

static void
state_timer_add(int sec)
{
	struct timeval	 tv = { sec, 0 };

	if (state_timer == NULL && (state_timer = evtimer_new(env->base,
	    state_timer_cb, NULL)) == NULL) {
		log_warnx("%s: evtimer_new", __func__);
		return;
	}
	/* a retry never puts off a save that is due sooner */
	if (sec > 0 && evtimer_pending(state_timer, NULL))
		return;
	evtimer_add(state_timer, &tv);
}

static void
state_timer_cb(int fd, short ev, void *arg)
{
	state_save();
}

/*
 * A save that failed (errno error): counted; logged at most once every
 * TUNNELS_LOG_INTERVAL seconds, with the failures since the last line;
 * tried again in TUNNELS_SAVE_RETRY seconds.
 */
static void
state_failed(int error)
{
	struct timespec	 now;

	stats.failures++;
	stats.error = error;
	fail_run++;
	fail_unlogged++;
	clock_gettime(CLOCK_MONOTONIC, &now);
	if (fail_unlogged == fail_run ||
	    now.tv_sec - fail_logged >= TUNNELS_LOG_INTERVAL) {
		if (fail_unlogged > 1)
			log_warnx("cannot save the tunnel registry to %s: %s "
			    "(%llu failed saves since the last message)",
			    env->tunnels_path, strerror(error),
			    (unsigned long long)fail_unlogged);
		else
			log_warnx("cannot save the tunnel registry to %s: %s",
			    env->tunnels_path, strerror(error));
		fail_unlogged = 0;
		fail_logged = now.tv_sec;
	}
	state_timer_add(TUNNELS_SAVE_RETRY);
}

/* The REST worker: the parent wrote a registry (error 0), or not. */
static void
state_saved(void *arg, int error)
{
	state_lines_mark((uintptr_t)arg, 0, error != 0);
	if (error != 0) {
		state_failed(error);
		return;
	}
	stats.saves++;
	stats.error = 0;
	if (fail_run > 0) {
		log_info("the tunnel registry is saved to %s again, after %llu "
		    "failed save%s", env->tunnels_path,
		    (unsigned long long)fail_run, fail_run == 1 ? "" : "s");
		fail_run = fail_unlogged = 0;
	}
}

/* What became of the saves (for /metrics). */
const struct state_stats *
state_stats(void)
{
	return (&stats);
}

/* An optional time member: absent or null is 0. */
static int
state_time(json_t *o, const char *name, time_t *tp)
{
	json_t		*v;
	json_int_t	 n;

	*tp = 0;
	v = json_object_get(o, name);
	if (v == NULL || json_is_null(v))
		return (0);
	if (!json_is_integer(v))
		return (-1);
	n = json_integer_value(v);
	if (n < 0 || n > STATE_TIME_MAX)
		return (-1);
	*tp = (time_t)n;
	return (0);
}

/*
 * One tunnel of the file, checked; NULL with a warning if it is bad.
 * again: the registry may have a tunnel of its id already (another
 * node's line of it).
 */
static struct tunnel *
state_tunnel_parse(json_t *o, const char *where, int again)
{
	struct tunnel	*t = NULL;
	json_t		*v;
	const char	*id, *owner, *status, *secret;
	json_int_t	 port;
	char		 err[320], why[256];

	if (!json_is_object(o)) {
		snprintf(err, sizeof(err), "not an object");
		goto bad;
	}
	id = json_string_value(json_object_get(o, "id"));
	owner = json_string_value(json_object_get(o, "owner"));
	status = json_string_value(json_object_get(o, "status"));
	if (id == NULL || !tunnel_id_valid(id)) {
		snprintf(err, sizeof(err), "bad \"id\"");
		goto bad;
	}
	if (!again && tunnel_find(id) != NULL) {
		snprintf(err, sizeof(err), "tunnel %s is there twice", id);
		goto bad;
	}
	if (owner == NULL || !account_name_valid(owner)) {
		snprintf(err, sizeof(err), "tunnel %s: bad \"owner\"", id);
		goto bad;
	}
	if (status == NULL || (strcmp(status, "running") != 0 &&
	    strcmp(status, "halting") != 0 &&
	    strcmp(status, "terminated") != 0)) {
		snprintf(err, sizeof(err), "tunnel %s: bad \"status\"", id);
		goto bad;
	}
	if ((t = calloc(1, sizeof(*t))) == NULL) {
		snprintf(err, sizeof(err), "out of memory");
		goto bad;
	}
	TAILQ_INIT(&t->links);
	strlcpy(t->id, id, sizeof(t->id));
	strlcpy(t->owner, owner, sizeof(t->owner));
	t->use_kgp = 1;
	/* the settings have the names and the checks of a REST POST */
	if (rest_tunnel_settings(o, t, why, sizeof(why)) != 0) {
		snprintf(err, sizeof(err), "tunnel %s: %s", id, why);
		goto bad;
	}
	v = json_object_get(o, "user_shutdown");
	if (v != NULL && !json_is_boolean(v)) {
		snprintf(err, sizeof(err), "tunnel %s: bad \"user_shutdown\"",
		    id);
		goto bad;
	}
	t->user_shutdown = json_is_true(v);
	if (state_time(o, "creation_time", &t->creation_time) == -1 ||
	    state_time(o, "launch_time", &t->launch_time) == -1 ||
	    state_time(o, "last_connected", &t->last_connected) == -1 ||
	    state_time(o, "shutdown_time", &t->shutdown_time) == -1) {
		snprintf(err, sizeof(err), "tunnel %s: bad time", id);
		goto bad;
	}
	if (strcmp(status, "running") != 0) {
		/* a halting tunnel's link is gone now: it is over */
		t->status = TUNNEL_TERMINATED;
		if (t->shutdown_time == 0)
			t->shutdown_time = time(NULL);
		/* a secret no client has: never used, never saved */
		tunnel_random_hex(t->secret, TUNNEL_SECRET_LEN);
		return (t);
	}
	t->status = TUNNEL_RUNNING;
	t->shutdown_time = 0;
	secret = json_string_value(json_object_get(o, "kgp_secret"));
	if (secret == NULL || strlen(secret) != TUNNEL_SECRET_LEN ||
	    strspn(secret, "0123456789abcdef") != TUNNEL_SECRET_LEN) {
		snprintf(err, sizeof(err), "tunnel %s: bad \"kgp_secret\"",
		    id);
		goto bad;
	}
	strlcpy(t->secret, secret, sizeof(t->secret));
	/* the kernel chose it: never a privileged port */
	v = json_object_get(o, "entry_port");
	if (v != NULL && !json_is_null(v)) {
		if (json_is_integer(v) && (port = json_integer_value(v)) >=
		    1024 && port <= 65535)
			t->entry_port = (int)port;
		else
			log_warnx("%s: tunnel %s: bad \"entry_port\", it "
			    "gets a new port", env->tunnels_path, id);
	}
	v = json_object_get(o, "kgp_port");
	if (json_is_integer(v) && (port = json_integer_value(v)) >= 1 &&
	    port <= 65535)
		t->kgp_port = (int)port;
	return (t);
 bad:
	log_warnx("%s: %s left out: %s", env->tunnels_path, where, err);
	tunnel_free(t);
	return (NULL);
}

/*
 * One tunnel of the file (where: "line 3", "tunnel #2" for the log):
 * into the registry and counted in c, or left out.  One that ended too
 * long ago to keep is forgotten.
 */
static struct tunnel *
state_take(json_t *o, const char *where, time_t now, struct state_count *c)
{
	struct tunnel	*t;
	char		 err[256];

	if ((t = state_tunnel_parse(o, where, 0)) == NULL) {
		c->bad++;
		return (NULL);
	}
	if (t->status == TUNNEL_TERMINATED &&
	    t->shutdown_time < now - TUNNEL_TERMINATED_AGE) {
		log_debug("tunnel %s ended more than %d s ago: forgotten",
		    t->id, TUNNEL_TERMINATED_AGE);
		tunnel_free(t);
		return (NULL);
	}
	if (state_restore(t, err, sizeof(err)) == -1) {
		log_warnx("%s: %s left out: %s", env->tunnels_path, where,
		    err);
		tunnel_free(t);
		c->bad++;
		return (NULL);
	}
	c->all++;
	if (t->status == TUNNEL_RUNNING)
		c->run++;
	return (t);
}

/* The same, from the n bytes of its JSON text at p. */
static void
state_take_text(const char *p, size_t n, const char *where, time_t now,
    struct state_count *c)
{
	struct tunnel	*t;
	json_t		*o;
	json_error_t	 jerr;
	char		 why[JSON_ERROR_TEXT_LENGTH];

	if ((o = json_loadb(p, n, JSON_REJECT_DUPLICATES, &jerr)) == NULL) {
		/* jansson quotes the bad bytes: no control characters */
		log_sanitize(jerr.text, why, sizeof(why));
		log_warnx("%s: %s left out: %s (column %d)",
		    env->tunnels_path, where, why, jerr.column);
		c->bad++;
		return;
	}
	/* the database's line (an imported file's is not there yet) */
	if ((t = state_take(o, where, now, c)) != NULL && !env->importing)
		state_line_known(t->id, o);
	json_decref(o);
}

/* Version 2: the lines after the header (buf, len: the whole file). */
static void
state_load_lines(char *buf, size_t len, time_t now, struct state_count *c)
{
	char		 where[64];
	char		*p, *end = buf + len, *nl;
	size_t		 line = 1, n;

	p = memchr(buf, '\n', len);
	for (p = p != NULL ? p + 1 : end; p < end; p = nl + 1) {
		line++;
		if ((nl = memchr(p, '\n', end - p)) == NULL)
			nl = end;
		n = nl - p;
		if (n == 0)
			continue;
		snprintf(where, sizeof(where), "line %zu", line);
		if (n > TUNNEL_LINE_MAX) {
			log_warnx("%s: %s left out: longer than %d bytes",
			    env->tunnels_path, where, TUNNEL_LINE_MAX);
			c->bad++;
			continue;
		}
		state_take_text(p, n, where, now, c);
	}
	log_info("%d tunnel%s restored from %s, %d running", c->all,
	    c->all == 1 ? "" : "s", env->tunnels_path, c->run);
}

/*
 * Version 1, one document; -1 if it is not one (what could be read of it
 * is taken all the same).
 */
static int
state_load_doc(char *buf, size_t len, time_t now, struct state_count *c)
{
	json_t		*root, *a, *v;
	json_error_t	 jerr;
	char		 where[64], why[JSON_ERROR_TEXT_LENGTH];
	size_t		 i;

	if ((root = json_loadb(buf, len, JSON_REJECT_DUPLICATES,
	    &jerr)) == NULL) {
		/* jansson quotes the bad bytes: no control characters */
		log_sanitize(jerr.text, why, sizeof(why));
		log_warnx("%s is corrupt (line %d: %s): reading its tunnels one "
		    "by one", env->tunnels_path, jerr.line, why);
		state_load_split(buf, len, now, c);
		return (-1);
	}
	v = json_object_get(root, "version");
	a = json_object_get(root, "tunnels");
	if (!json_is_object(root) || !json_is_integer(v) ||
	    json_integer_value(v) != STATE_VERSION_DOC || !json_is_array(a)) {
		log_warnx("%s is not a tunnel registry of version %d or %d, "
		    "starting with no tunnels", env->tunnels_path,
		    STATE_VERSION_DOC, STATE_VERSION);
		json_decref(root);
		return (-1);
	}
	json_array_foreach(a, i, v) {
		snprintf(where, sizeof(where), "tunnel #%zu", i + 1);
		state_take(v, where, now, c);
	}
	json_decref(root);
	log_info("%d tunnel%s restored from %s (version %d), %d running",
	    c->all, c->all == 1 ? "" : "s", env->tunnels_path,
	    STATE_VERSION_DOC, c->run);
	return (0);
}

/*
 * A version 1 file that does not parse as a whole (a tunnel nested deeper
 * than the parser goes, as the REST API accepted before it bounded the
 * settings): the elements of its "tunnels" array are found by their
 * brackets, outside strings, and each is parsed on its own, so that one
 * bad tunnel costs no other.  Returns -1 if there is no such array.
 */
static int
state_load_split(char *buf, size_t len, time_t now, struct state_count *c)
{
	static const char	 key[] = "\"tunnels\"";
	char			 where[64];
	size_t			 i, str = 0, start = 0, n = 0;
	int			 depth = 0, instr = 0, esc = 0, inarray = 0;
	int			 afterkey = 0;

	for (i = 0; i < len && inarray >= 0; i++) {
		if (instr) {
			if (esc)
				esc = 0;
			else if (buf[i] == '\\')
				esc = 1;
			else if (buf[i] == '"') {
				instr = 0;
				if (depth == 1 && !inarray)
					afterkey = i + 1 - str ==
					    sizeof(key) - 1 && memcmp(buf + str,
					    key, sizeof(key) - 1) == 0;
			}
			continue;
		}
		switch (buf[i]) {
		case '"':
			instr = 1;
			str = i;
			break;
		case ',':
			if (depth == 1)
				afterkey = 0;
			break;
		case '{':
		case '[':
			depth++;
			if (depth == 2 && afterkey && buf[i] == '[')
				inarray = 1;
			else if (depth == 3 && inarray)
				start = i;
			afterkey = 0;
			break;
		case '}':
		case ']':
			if (depth == 2 && inarray)
				inarray = -1;	/* its end: done */
			else if (depth == 3 && inarray) {
				snprintf(where, sizeof(where), "tunnel #%zu",
				    ++n);
				state_take_text(buf + start, i + 1 - start,
				    where, now, c);
			}
			depth--;
			break;
		}
	}
	if (inarray == 0) {
		log_warnx("%s has no list of tunnels, starting with none",
		    env->tunnels_path);
		return (-1);
	}
	log_info("%d tunnel%s restored from %s (version %d, one by one), %d "
	    "running", c->all, c->all == 1 ? "" : "s", env->tunnels_path,
	    STATE_VERSION_DOC, c->run);
	return (0);
}

/* The whole file, NUL-terminated; NULL with errno set. */
static char *
state_read(const char *path, size_t *lenp)
{
	struct stat	 st;
	char		*buf = NULL;
	size_t		 off = 0;
	ssize_t		 n;
	int		 fd, saved;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) == -1)
		return (NULL);
	if (fstat(fd, &st) == -1)
		goto fail;
	if (!S_ISREG(st.st_mode)) {
		errno = EINVAL;
		goto fail;
	}
	if (st.st_size > TUNNELS_FILE_MAX) {
		errno = EFBIG;
		goto fail;
	}
	if (st.st_mode & 077)
		log_warnx("%s is accessible by others: it holds secrets",
		    path);
	if ((buf = malloc(st.st_size + 1)) == NULL)
		goto fail;
	while (off < (size_t)st.st_size) {
		n = read(fd, buf + off, st.st_size - off);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			goto fail;
		if (n == 0)
			break;		/* shrank meanwhile */
		off += n;
	}
	buf[off] = '\0';
	close(fd);
	*lenp = off;
	return (buf);
 fail:
	saved = errno;
	free(buf);
	close(fd);
	errno = saved;
	return (NULL);
}

/*
 * The parent: keep a file we could not use for the operator, out of the
 * way.
 */
void
state_set_aside(void)
{
	const char	*path = env->tunnels_path;
	char		 aside[PATH_MAX];

	if ((size_t)snprintf(aside, sizeof(aside), "%s.bad", path) >=
	    sizeof(aside))
		return;
	if (rename(path, aside) == -1)
		log_warn("rename %s to %s", path, aside);
	else
		log_warnx("%s moved to %s", path, aside);
}

/*
 * The parent, at each start of the REST worker: the registry's text ("" when
 * there is none or it cannot be read: then it is set aside).
 */
char *
state_read_file(size_t *lenp)
{
	char	*buf;

	if ((buf = state_read(env->tunnels_path, lenp)) != NULL)
		return (buf);
	if (errno != ENOENT) {
		log_warn("cannot read the tunnels from %s, starting with none",
		    env->tunnels_path);
		state_set_aside();
	}
	*lenp = 0;
	return (strdup(""));
}

/*
 * The REST worker: the registry at start, as the parent read it (buf, len;
 * wiped here).  Each tunnel that checks out goes to restore(), which
 * takes it, or refuses it with the reason in its buffer.  Whatever
 * happens, the server starts, with the tunnels that checked out; a file
 * that lost some is kept aside for the operator before it is written
 * anew.
 */
void
state_load(char *buf, size_t len, int (*restore)(struct tunnel *, char *,
    size_t))
{
	json_t		*hdr, *v;
	char		*nl;
	struct state_count c;
	json_int_t	 version = 0;
	time_t		 now = time(NULL);
	int		 aside = 0;

	memset(&c, 0, sizeof(c));
	state_restore = restore;
	if (len == 0)
		goto done;
	/* version 2 if its first line says so, else one document */
	nl = memchr(buf, '\n', len);
	if ((hdr = json_loadb(buf, nl != NULL ? (size_t)(nl - buf) : len, 0,
	    NULL)) != NULL) {
		v = json_object_get(hdr, "version");
		if (json_is_object(hdr) && json_is_integer(v))
			version = json_integer_value(v);
		json_decref(hdr);
	}
	if (version == STATE_VERSION)
		state_load_lines(buf, len, now, &c);
	else if (version != 0 && version != STATE_VERSION_DOC) {
		log_warnx("%s is a tunnel registry of version %lld, not %d "
		    "or %d: starting with no tunnels", env->tunnels_path,
		    (long long)version, STATE_VERSION_DOC, STATE_VERSION);
		aside = 1;
	} else if (state_load_doc(buf, len, now, &c) == -1)
		aside = 1;
	if (c.bad > 0)
		log_warnx("%s: %d tunnel%s left out, the file is kept as "
		    "%s.bad", env->tunnels_path, c.bad, c.bad == 1 ? "" : "s",
		    env->tunnels_path);
	if (aside || c.bad > 0)
		worker_state_aside();
 done:
	explicit_bzero(buf, len);
	state_ready = 1;
	state_save();
}

/*
 * The REST worker: what other nodes wrote, as the parent read it from
 * the database (buf, len; wiped here): after DB_TUNNELS_DELTA a
 * tunnel's line, or {"delete":"<id>"} when it is no longer there; after
 * DB_TUNNELS_HEADER (the database was reconnected) every tunnel's line,
 * and a tunnel this node had from the database that is not among them
 * is gone.  Each line is checked as one of the registry at start, and
 * goes to remote() (the registry); a tunnel no longer there to gone().
 */
void
state_sync(char *buf, size_t len, void (*remote)(struct tunnel *),
    void (*gone)(const char *))
{
	struct state_line	*sl, *tmp;
	json_t			*o;
	const char		*id;
	char			*p, *end = buf + len, *nl;
	int			 full;
	time_t			 now = time(NULL);

	if (!state_ready)
		goto done;
	if (len >= sizeof(DB_TUNNELS_DELTA_TEXT) - 1 && memcmp(buf,
	    DB_TUNNELS_DELTA_TEXT, sizeof(DB_TUNNELS_DELTA_TEXT) - 1) == 0)
		full = 0;
	else if (len >= sizeof(STATE_HEADER) - 1 && memcmp(buf, STATE_HEADER,
	    sizeof(STATE_HEADER) - 1) == 0)
		full = 1;
	else {
		log_warnx("%s: a registry from another node that is not one",
		    __func__);
		goto done;
	}
	lines_gen++;
	p = memchr(buf, '\n', len);
	for (p = p != NULL ? p + 1 : end; p < end; p = nl + 1) {
		if ((nl = memchr(p, '\n', end - p)) == NULL)
			nl = end;
		if (nl == p || nl - p > TUNNEL_LINE_MAX)
			continue;
		if ((o = json_loadb(p, nl - p, JSON_REJECT_DUPLICATES,
		    NULL)) == NULL)
			continue;
		id = json_string_value(json_object_get(o, "delete"));
		if (id != NULL && tunnel_id_valid(id)) {
			gone(id);
			state_line_forget(id);
		} else if ((id = json_string_value(json_object_get(o,
		    "id"))) != NULL && tunnel_id_valid(id))
			state_sync_one(o, id, now, remote);
		json_decref(o);
	}
	if (!full)
		goto done;
	/* a tunnel the database had, and has no longer */
	RB_FOREACH_SAFE(sl, state_lines, &lines, tmp) {
		if (sl->gen == lines_gen || sl->seq != 0 || sl->gone)
			continue;
		if (tunnel_find(sl->id) != NULL)
			gone(sl->id);
		RB_REMOVE(state_lines, &lines, sl);
		free(sl);
	}
 done:
	explicit_bzero(buf, len);
}

/*
 * One line (its JSON o) of tunnel id that another node
 * wrote, for state_sync(): into the registry (remote()), and known
 * as the database's.
 */
static void
state_sync_one(json_t *o, const char *id, time_t now,
    void (*remote)(struct tunnel *))
{
	struct state_line	*sl;
	struct tunnel		*nt;
	char			 where[64];

	snprintf(where, sizeof(where), "tunnel %s of another node", id);
	if ((nt = state_tunnel_parse(o, where, 1)) == NULL)
		return;
	if (nt->status == TUNNEL_TERMINATED && tunnel_find(id) == NULL &&
	    nt->shutdown_time < now - TUNNEL_TERMINATED_AGE) {
		tunnel_free(nt);
		return;
	}
	remote(nt);
	state_line_known(id, o);
	if ((sl = state_line_get(id)) != NULL)
		sl->gen = lines_gen;
}
