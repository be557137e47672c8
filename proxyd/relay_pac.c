/*
 * --pac: which upstream proxy a request takes, as the operator's PAC
 * script says.  proxyd never runs the script: it asks pacd, through the
 * controller (IMSG_PAC_ASK, peerid = the question's id), and keeps each
 * answer PAC_CACHE_SEC per host and scheme (http://, or https:// for
 * CONNECT and https:// URLs), PAC_CACHE_MAX hosts at most.  A request
 * whose host has no answer yet waits for it (s->pac_wait; its client's
 * bytes stay unread), PAC_WAIT_MS at most; other requests for the same
 * host wait on the same question.
 *
 * The answer's entries (common/pacans.c) are tried in order: the first
 * is the request's upstream proxy (NULL: DIRECT), and when that proxy
 * cannot be reached (its name, its connect, its timeout) the next one,
 * for CONNECT and for requests without a body (pac_fallback()).  No
 * answer in time, an empty one (the script threw, pacd was killed for
 * running past PAC_CALL_MS, or is being restarted), or one with nothing
 * usable: DIRECT, kept like any answer, and logged.
 */
#include <sys/types.h>
#include <sys/queue.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/bufferevent.h>
#include <event2/event.h>

#include "log.h"
#include "pacans.h"
#include "proxyd.h"
#include "relay_int.h"

struct pac_answer {
	int			 refs;		/* the cache's, streams' */
	int			 n;
	struct upproxy		 up[PAC_ANSWER_MAX];
};

struct pac_entry {
	TAILQ_ENTRY(pac_entry)	 entry;
	char			 host[SC_HOST_LEN];
	int			 tls;
	uint32_t		 qid;		/* the question, while asked */
	time_t			 expires;	/* 0: asked, no answer yet */
	struct pac_answer	*ans;
	struct event		*timer;		/* PAC_WAIT_MS */
	TAILQ_HEAD(, stream)	 waiting;
};

static TAILQ_HEAD(, pac_entry)	 pac_cache = TAILQ_HEAD_INITIALIZER(pac_cache);
static int			 pac_n;
static uint32_t			 pac_qid;

static void	 pac_timeout(int, short, void *);
static void	 pac_settle(struct pac_entry *, const char *);
static void	 pac_wake(struct streamlist *, struct pac_answer *);
static void	 pac_entry_free(struct pac_entry *);
static void	 pac_unref(struct pac_answer *);
static struct pac_entry *pac_find(const char *, int);

static void
pac_unref(struct pac_answer *a)
{
	if (a != NULL && --a->refs == 0)
		free(a);
}

static struct pac_entry *
pac_find(const char *host, int tls)
{
	struct pac_entry	*e;

	TAILQ_FOREACH(e, &pac_cache, entry)
		if (e->tls == tls && strcasecmp(e->host, host) == 0)
			return (e);
	return (NULL);
}

/* An entry no stream waits on. */
static void
pac_entry_free(struct pac_entry *e)
{
	TAILQ_REMOVE(&pac_cache, e, entry);
	pac_n--;
	if (e->timer != NULL)
		event_free(e->timer);
	pac_unref(e->ans);
	free(e);
}

/* Room for one more: the expired first, else the oldest answered. */
static int
pac_room(void)
{
	struct pac_entry	*e, *next;
	time_t			 now = time(NULL);

	TAILQ_FOREACH_SAFE(e, &pac_cache, entry, next)
		if (e->expires != 0 && e->expires <= now)
			pac_entry_free(e);
	if (pac_n < PAC_CACHE_MAX)
		return (0);
	TAILQ_FOREACH(e, &pac_cache, entry)
		if (e->expires != 0) {
			pac_entry_free(e);
			return (0);
		}
	return (-1);	/* PAC_CACHE_MAX questions out: DIRECT */
}

/*
 * Before a request opens its app side: 1 when it must wait for pacd's
 * answer (request_start() is called again with it), 0 when s->u.pac
 * holds the answer to follow, or PAC is off.
 */
int
pac_wait(struct stream *s, const char *host, int tls)
{
	struct pac_entry	*e;
	struct pac_ask		 a;

	if (!env->pac)
		return (0);
	if (s->pac_ready) {
		s->pac_ready = 0;	/* the answer it was woken with */
		return (0);
	}
	if (strlen(host) >= sizeof(a.host))
		return (0);
	if ((e = pac_find(host, tls)) != NULL && e->expires != 0 &&
	    e->expires <= time(NULL)) {
		if (TAILQ_EMPTY(&e->waiting))
			pac_entry_free(e);
		e = NULL;
	}
	if (e != NULL && e->expires != 0) {
		pac_unref(s->u.pac);
		s->u.pac = e->ans;
		e->ans->refs++;
		s->u.ivia = 0;
		return (0);
	}
	if (e == NULL) {
		memset(&a, 0, sizeof(a));
		a.tls = tls;
		strlcpy(a.host, host, sizeof(a.host));
		if (pac_ask_valid(&a, sizeof(a)) == -1 || pac_room() == -1 ||
		    (e = calloc(1, sizeof(*e))) == NULL) {
			/* a host no script should see, or no room: DIRECT */
			pac_unref(s->u.pac);
			s->u.pac = NULL;
			return (0);
		}
		strlcpy(e->host, host, sizeof(e->host));
		e->tls = tls;
		e->qid = ++pac_qid;
		TAILQ_INIT(&e->waiting);
		if ((e->timer = evtimer_new(env->base, pac_timeout, e)) ==
		    NULL) {
			free(e);
			return (0);
		}
		TAILQ_INSERT_TAIL(&pac_cache, e, entry);
		pac_n++;
		timer_add(e->timer, PAC_WAIT_MS / 1000,
		    (PAC_WAIT_MS % 1000) * 1000);
		imsg_compose_event(&env->iev_main, IMSG_PAC_ASK, e->qid, 0, -1,
		    &a, sizeof(a));
		log_debug("pac: asking for %s://%s", tls ? "https" : "http",
		    host);
	}
	TAILQ_INSERT_TAIL(&e->waiting, s, pentry);
	s->pac_wait = e;
	/* the client's next bytes wait until the request goes on */
	bufferevent_disable(s->cbev, EV_READ);
	return (1);
}

/* s goes away (or on) while it waits for an answer. */
void
pac_forget(struct stream *s)
{
	struct pac_entry	*e = s->pac_wait;

	if (e != NULL) {
		TAILQ_REMOVE(&e->waiting, s, pentry);
		s->pac_wait = NULL;
	}
	pac_unref(s->u.pac);
	s->u.pac = NULL;
}

static void
pac_timeout(int fd, short event, void *arg)
{
	struct pac_entry	*e = arg;

	log_warnx("pac: no answer for %s within %d ms: DIRECT", e->host,
	    PAC_WAIT_MS);
	pac_settle(e, NULL);
}

/* IMSG_PAC_ANSWER: peerid's question has its answer ("": none). */
void
pac_answer(uint32_t qid, const char *text)
{
	struct pac_entry	*e;

	TAILQ_FOREACH(e, &pac_cache, entry)
		if (e->expires == 0 && e->qid == qid)
			break;
	if (e == NULL)
		return;		/* answered already, by the timer */
	if (text[0] == '\0')
		log_warnx("pac: no answer from the PAC script for %s: DIRECT",
		    e->host);
	pac_settle(e, text[0] != '\0' ? text : NULL);
}

/* The answer of e (NULL: DIRECT), to keep and to give its streams. */
static void
pac_settle(struct pac_entry *e, const char *text)
{
	struct pac_answer	*a;
	struct stream		*s;
	struct streamlist	 woken = TAILQ_HEAD_INITIALIZER(woken);
	char			 why[160];
	int			 n;

	/*
	 * Its streams go on from a list of their own: one that goes on
	 * may start the next request of its client, which may take e's
	 * place in the cache.
	 */
	while ((s = TAILQ_FIRST(&e->waiting)) != NULL) {
		TAILQ_REMOVE(&e->waiting, s, pentry);
		TAILQ_INSERT_TAIL(&woken, s, pentry);
		s->pac_wait = NULL;
	}
	evtimer_del(e->timer);
	if ((a = calloc(1, sizeof(*a))) == NULL) {
		/* out of memory: its streams go DIRECT, nothing is kept */
		log_warn("%s", __func__);
		pac_entry_free(e);
		pac_wake(&woken, NULL);
		return;
	}
	a->refs = 1;
	if (text != NULL && (n = pacans_parse(text, strlen(text), a->up,
	    PAC_ANSWER_MAX, why, sizeof(why))) > 0)
		a->n = n;
	else {
		if (text != NULL)
			log_warnx("pac: the PAC script's answer for %s, "
			    "\"%.64s\", does not do (%s): DIRECT", e->host,
			    text, why);
		a->n = 1;
		a->up[0].scheme = UPX_NONE;
		strlcpy(a->up[0].shown, "DIRECT", sizeof(a->up[0].shown));
	}
	log_debug("pac: %s://%s: %s%s", e->tls ? "https" : "http", e->host,
	    a->up[0].shown, a->n > 1 ? " and fallbacks" : "");
	e->ans = a;
	e->expires = time(NULL) + PAC_CACHE_SEC;
	pac_wake(&woken, a);
}

/* The streams that waited for a (NULL: DIRECT) go on. */
static void
pac_wake(struct streamlist *woken, struct pac_answer *a)
{
	struct stream	*s;

	while ((s = TAILQ_FIRST(woken)) != NULL) {
		TAILQ_REMOVE(woken, s, pentry);
		if (s->mode == M_DEAD)
			continue;	/* closed meanwhile: it let go of all */
		pac_unref(s->u.pac);
		s->u.pac = a;
		if (a != NULL)
			a->refs++;
		s->u.ivia = 0;
		s->pac_ready = 1;
		if (s->mode != M_HTTP)
			continue;
		bufferevent_enable(s->cbev, EV_READ);
		request_start(s);
	}
}

/* The upstream proxy of the answer s follows (NULL: DIRECT). */
const struct upproxy *
pac_via(const struct stream *s)
{
	const struct pac_answer	*a = s->u.pac;

	if (a == NULL || s->u.ivia >= a->n ||
	    a->up[s->u.ivia].scheme == UPX_NONE)
		return (NULL);
	return (&a->up[s->u.ivia]);
}

/*
 * The proxy of s's answer cannot be reached (msg says why): 1 when the
 * next entry was tried instead (the request starts again with it), 0
 * when the caller answers the client.  Only before the app side took any
 * of the request's body: CONNECT, and requests without one.
 */
int
pac_fallback(struct stream *s, const char *msg)
{
	struct upstream	*u = &s->u;

	if (u->pac == NULL || u->ivia + 1 >= u->pac->n ||
	    s->mode != M_HTTP || s->rs_started || s->resp == NULL ||
	    s->resp->pos != 0 || s->req == NULL ||
	    (!s->is_connect && s->rq_body != HTTP_BODY_NONE) ||
	    u->state == U_OPEN)
		return (0);
	log_warnx("pac: %s for %s: %s; trying %s", u->pac->up[u->ivia].shown,
	    u->host != NULL ? u->host : "?", msg,
	    u->pac->up[u->ivia + 1].shown);
	up_close(s);
	u->ivia++;
	s->pac_ready = 1;
	request_start(s);
	return (1);
}

/* At the end: nobody waits any more. */
void
pac_shutdown(void)
{
	struct pac_entry	*e;

	while ((e = TAILQ_FIRST(&pac_cache)) != NULL) {
		while (!TAILQ_EMPTY(&e->waiting))
			pac_forget(TAILQ_FIRST(&e->waiting));
		pac_entry_free(e);
	}
}
