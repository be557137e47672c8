/*
 * The parent's side of the database (db.c): what the REST worker gets
 * of it and asks of it.
 *
 *  - the accounts, at its start and whenever the command line changed
 *    them (db_changed(): SQLite's PRAGMA data_version, PostgreSQL's NOTIFY
 *    sc_accounts, looked at every DB_POLL_SEC), and when PostgreSQL is
 *    back after it was down;
 *  - the tunnel registry at its start, and the changes of it that it
 *    sends to write (SRV_BLOB_SAVE: the lines of the tunnels that
 *    changed, the ids of those deleted), written in one transaction
 *    and acknowledged (IMSG_SRV_SAVED) only after COMMIT;
 *  - the events it reports (IMSG_SRV_EVENT), and the events an account
 *    asks for (IMSG_SRV_EVENTS_REQ, answered with SRV_BLOB_EVENTS);
 *  - the accounts an admin of an organisation adds to it, changes or
 *    deletes from it, and its teams (IMSG_SRV_ACCOUNT_REQ): checked
 *    again here against the database, answered (IMSG_SRV_ACCOUNT_REP)
 *    after the new account list; its teams listed (IMSG_SRV_TEAMS_REP).
 *
 * A tunnels.json of an older version (or one the operator put there) is
 * imported: its text goes to the REST worker instead of the database's,
 * which checks it tunnel by tunnel as it always did, and its first
 * registry, once committed, replaces the database's tunnels; the file is
 * then renamed tunnels.json.migrated.  A file the worker finds bad is
 * set aside as tunnels.json.bad, as before.
 */
#include <sys/types.h>
#include <sys/queue.h>

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "imsg_server.h"
#include "log.h"
#include "proc.h"
#include "server.h"
#include "parent_int.h"

/* a failure: 503 while the database is down (db_pg.c), else 500 */
#define DBMSG_FAIL_STATUS()	(strncmp(db_error(), DB_DOWN, \
				    sizeof(DB_DOWN) - 1) == 0 ? 503 : 500)

static int	 importing;	/* tunnels.json was sent, not yet saved */
static struct event *watch_ev;	/* the database's descriptor */
static int	 watch_fd = -1;
static void	(*watch_cb)(void);	/* ... is readable */
static int	 replacing;	/* ... its first registry replaces the db's */
static char	 tunnels_file[PATH_MAX];

/* Open the database (fatal if it cannot be), and read the accounts. */
void
dbmsg_init(void)
{
	if (db_open(env->statedir) == -1)
		fatalx("the database: %s", db_error());
	if ((size_t)snprintf(tunnels_file, sizeof(tunnels_file), "%s/%s",
	    env->statedir, TUNNELS_FILE) >= sizeof(tunnels_file))
		fatalx("state directory name too long");
	if (dbmsg_reload() == -1)
		fatalx("no accounts loaded from %s", db_file());
}

/* The accounts again, from the database; the old list on failure. */
int
dbmsg_reload(void)
{
	struct accountlist	 list;
	struct account		*a;
	int			 n = 0;

	TAILQ_INIT(&list);
	if (db_accounts(&list) == -1) {
		log_warnx("%s: accounts not read: %s", db_file(), db_error());
		return (-1);
	}
	accounts_clear(&env->accounts);
	while ((a = TAILQ_FIRST(&list)) != NULL) {
		TAILQ_REMOVE(&list, a, entry);
		TAILQ_INSERT_TAIL(&env->accounts, a, entry);
		n++;
	}
	log_debug("%d account%s loaded from %s", n, n == 1 ? "" : "s",
	    db_file());
	return (0);
}

/* the tunnels another node wrote, read together by dbmsg_sync_flush() */
static char	(*sync_ids)[TUNNEL_ID_LEN + 1];
static size_t	 sync_n, sync_max;

/* what dbmsg_sync_flush() makes of the database's lines */
struct dbmsg_sync {
	FILE		*f;		/* the REST worker's text */
	uint8_t		*found;		/* per sync_ids[] */
};

static int
dbmsg_id_cmp(const void *a, const void *b)
{
	return (strcmp(a, b));
}

/*
 * Tunnel id changed in the database (another node wrote it, or a line
 * of the REST worker's was not taken): read with the others of the
 * same NOTIFYs or write (dbmsg_sync_flush()), for the REST worker (arg,
 * NULL when none runs).
 */
static void
dbmsg_tunnel_sync(void *arg, const char *id)
{
	void	*m;

	nodemap_forget(id);	/* where its session is: ask again */
	if (sync_n == sync_max) {
		if ((m = reallocarray(sync_ids, sync_max ? sync_max * 2 : 16,
		    sizeof(*sync_ids))) == NULL) {
			log_warn("%s", __func__);
			return;
		}
		sync_ids = m;
		sync_max = sync_max ? sync_max * 2 : 16;
	}
	strlcpy(sync_ids[sync_n++], id, sizeof(sync_ids[0]));
}

/* A line of the database's for dbmsg_sync_flush(). */
static void
dbmsg_sync_line(void *arg, const char *id, const char *line, size_t len)
{
	struct dbmsg_sync	*ds = arg;
	char			(*p)[TUNNEL_ID_LEN + 1];

	if ((p = bsearch(id, sync_ids, sync_n, sizeof(*sync_ids),
	    dbmsg_id_cmp)) == NULL || ds->found[p - sync_ids])
		return;
	ds->found[p - sync_ids] = 1;
	fwrite(line, 1, len, ds->f);
	fputc('\n', ds->f);
}

/*
 * The tunnels dbmsg_tunnel_sync() heard of, read with one statement: to
 * the REST worker (rest, NULL when none runs) in one message, each one's
 * line or its deletion; none(id) for each one the database does not
 * have.  When they cannot be read, the REST worker gets every tunnel
 * once the database is back (a new connection).
 */
static void
dbmsg_sync_flush(struct imsgev *rest, void (*none)(const char *))
{
	struct dbmsg_sync	 ds;
	const char		**ids = NULL;
	char			*text = NULL;
	size_t			 len = 0, i, n;

	memset(&ds, 0, sizeof(ds));
	if (sync_n == 0 || (rest == NULL && none == NULL))
		goto done;
	qsort(sync_ids, sync_n, sizeof(*sync_ids), dbmsg_id_cmp);
	for (i = n = 1; i < sync_n; i++)
		if (strcmp(sync_ids[i], sync_ids[n - 1]) != 0)
			memmove(sync_ids[n++], sync_ids[i], sizeof(sync_ids[0]));
	sync_n = n;
	if ((ids = calloc(n, sizeof(*ids))) == NULL ||
	    (ds.found = calloc(n, 1)) == NULL ||
	    (ds.f = open_memstream(&text, &len)) == NULL) {
		log_warn("%s", __func__);
		goto done;
	}
	for (i = 0; i < n; i++)
		ids[i] = sync_ids[i];
	fputs(DB_TUNNELS_DELTA_TEXT, ds.f);
	if (db_tunnel_lines(ids, n, dbmsg_sync_line, &ds) == -1) {
		log_warnx("%s: %zu tunnel%s: %s", db_file(), n, n == 1 ? "" :
		    "s", db_error());
		goto done;
	}
	log_debug("%zu tunnel%s read again from %s at once", n, n == 1 ? "" :
	    "s", db_file());
	for (i = 0; i < n; i++) {
		if (ds.found[i])
			continue;
		fprintf(ds.f, "{\"delete\":\"%s\"}\n", ids[i]);
		if (none != NULL)
			none(ids[i]);
	}
	if (fclose(ds.f) == EOF) {
		ds.f = NULL;
		log_warn("%s", __func__);
		goto done;
	}
	ds.f = NULL;
	if (rest != NULL && srv_blob_send(rest, SRV_BLOB_SYNC, text, len,
	    0) == -1)
		log_warn("%s: imsg", __func__);
 done:
	if (ds.f != NULL)
		fclose(ds.f);
	/* the lines hold the tunnels' secrets */
	if (text != NULL)
		freezero(text, len);
	free(ds.found);
	free(ids);
	sync_n = 0;
}

/*
 * IMSG_SRV_TUNNEL_ASK: a HELLO for tunnel id waits in the KGP worker,
 * which has not heard of it: the database's line to the REST worker
 * (rest), which adds it to the KGP worker's; none(id) when the database
 * has no such tunnel (the HELLO is refused).
 */
void
dbmsg_ask(struct imsgev *rest, const char *id, void (*none)(const char *))
{
	dbmsg_tunnel_sync(NULL, id);
	dbmsg_sync_flush(rest, none);
}

/* Every tunnel the database has, to the REST worker (a new connection). */
static void
dbmsg_sync_all(struct imsgev *rest)
{
	char	*text;
	size_t	 len;

	if ((text = db_tunnels_text(&len)) == NULL) {
		log_warnx("%s: the tunnels: %s", db_file(), db_error());
		return;
	}
	if (srv_blob_send(rest, SRV_BLOB_SYNC, text, len, 0) == -1)
		log_warn("%s: imsg", __func__);
	freezero(text, len);
}

/*
 * What changed in the database (db_changed()): each tunnel another node
 * wrote goes to the REST worker (rest, NULL when none runs), all of
 * them after a new connection.  1 when the accounts were read again.
 */
int
dbmsg_poll(struct imsgev *rest)
{
	int	 changed;

	changed = db_changed(dbmsg_tunnel_sync, rest);
	dbmsg_sync_flush(rest, NULL);
	if ((changed & DB_CHANGED_ALL) && rest != NULL && env->cluster)
		dbmsg_sync_all(rest);
	/*
	 * A new connection may have the number of the closed one's
	 * descriptor, whose event the kernel dropped with it: add it again.
	 */
	if (changed & DB_CHANGED_ALL)
		watch_fd = -2;
	dbmsg_watch(NULL);
	return ((changed & DB_CHANGED_ACCOUNTS) && dbmsg_reload() == 0);
}

/* The database's descriptor is readable: what it tells, at once. */
static void
dbmsg_readable(int fd, short ev, void *arg)
{
	if (watch_cb != NULL)
		watch_cb();
}

/*
 * Watch the database's descriptor (PostgreSQL's, for NOTIFY), cb(): what
 * it tells is read then; called again (cb NULL) after each use, as a new
 * connection has a new descriptor.
 */
void
dbmsg_watch(void (*cb)(void))
{
	int	 fd;

	if (cb != NULL)
		watch_cb = cb;
	if ((fd = db_socket()) == watch_fd)
		return;
	if (watch_ev != NULL)
		event_free(watch_ev);
	watch_ev = NULL;
	watch_fd = fd;
	if (fd == -1)
		return;
	if ((watch_ev = event_new(env->base, fd, EV_READ | EV_PERSIST,
	    dbmsg_readable, NULL)) == NULL || event_add(watch_ev, NULL) == -1)
		log_warnx("%s: event_new", __func__);
}

/* The accounts as the REST worker gets them: never an access key. */
void
dbmsg_send_accounts(struct imsgev *iev)
{
	struct srv_account	*a;
	struct account		*acct;
	size_t			 n = 0, i = 0;

	TAILQ_FOREACH(acct, &env->accounts, entry)
		n++;
	if ((a = calloc(n ? n : 1, sizeof(*a))) == NULL)
		fatal("%s", __func__);
	TAILQ_FOREACH(acct, &env->accounts, entry) {
		strlcpy(a[i].name, acct->name, sizeof(a[i].name));
		strlcpy(a[i].org, acct->org, sizeof(a[i].org));
		strlcpy(a[i].team, acct->team, sizeof(a[i].team));
		a[i].role = acct->role;
		memcpy(a[i].salt, acct->salt, sizeof(a[i].salt));
		memcpy(a[i].hash, acct->hash, sizeof(a[i].hash));
		i++;
	}
	if (srv_blob_send(iev, SRV_BLOB_ACCOUNTS, a, n * sizeof(*a), 0) == -1)
		fatal("%s: imsg", __func__);
	freezero(a, (n ? n : 1) * sizeof(*a));
}

/*
 * Where the REST worker's registry comes from, for its log lines: the
 * tunnels.json to import, or the database.
 */
const char *
dbmsg_tunnels_source(void)
{
	return (access(tunnels_file, F_OK) == 0 ? tunnels_file : db_file());
}

/*
 * The registry for a new REST worker, malloc'ed (*len bytes and a NUL),
 * for dbmsg_send_state(); NULL when the database cannot be read now
 * (db_error() says why): the worker waits, the parent goes on.
 */
char *
dbmsg_state(size_t *len)
{
	char	*text;

	importing = replacing = 0;
	text = NULL;
	if (access(tunnels_file, F_OK) == 0) {
		replacing = 1;
		log_info("importing the tunnels of %s into %s", tunnels_file,
		    db_file());
		text = state_read_file(len);
		/* one that cannot be read is set aside: the database's then */
		if ((importing = access(tunnels_file, F_OK) == 0) == 0) {
			free(text);
			text = NULL;
		}
	}
	if (text == NULL)
		text = db_tunnels_text(len);
	return (text);
}

/* ... to the new REST worker (iev), and wiped. */
void
dbmsg_send_state(struct imsgev *iev, char *text, size_t len)
{
	if (srv_blob_send(iev, SRV_BLOB_STATE, text, len, 0) == -1)
		fatal("%s: the registry", __func__);
	freezero(text, len + 1);
}

/*
 * The REST worker found tunnels it could not take: the file it had is
 * kept for the operator as tunnels.json.bad (the database's tunnels are
 * written there, as a version 2 file).
 */
void
dbmsg_aside(void)
{
	char	 path[PATH_MAX];
	char	*text;
	size_t	 len;

	if (importing) {
		state_set_aside();
		importing = 0;
		return;
	}
	if ((size_t)snprintf(path, sizeof(path), "%s.bad", tunnels_file) >=
	    sizeof(path))
		return;
	if ((text = db_tunnels_text(&len)) == NULL) {
		log_warnx("%s: the tunnels: %s", db_file(), db_error());
		return;
	}
	if (write_file_atomic(path, text, len, 0600) == -1)
		log_warn("%s", path);
	else
		log_warnx("the tunnels of %s as they were are kept in %s",
		    db_file(), path);
	freezero(text, len);
}

/* A registry the REST worker sent: 0 once committed, or an errno. */
int
dbmsg_save(struct imsgev *rest, const char *buf, size_t len)
{
	char	 to[PATH_MAX];
	int	 error;

	error = db_tunnels_write(buf, len, replacing,
	    env->cluster ? dbmsg_tunnel_sync : NULL, rest);
	dbmsg_sync_flush(rest, NULL);
	if (error != 0) {
		log_debug("cannot write the tunnels to %s: %s", db_file(),
		    error == EINVAL ? "a bad registry" : strerror(error));
		return (error);
	}
	replacing = 0;
	if (importing) {
		importing = 0;
		if ((size_t)snprintf(to, sizeof(to), "%s%s", tunnels_file,
		    MIGRATED_SUFFIX) >= sizeof(to) ||
		    rename(tunnels_file, to) == -1)
			log_warn("rename %s to %s", tunnels_file, to);
		else
			log_info("the tunnels of %s are in %s, the file kept "
			    "as %s", tunnels_file, db_file(), to);
	}
	return (0);
}

/* IMSG_SRV_EVENT: into the log (a failure is logged, not answered). */
int
dbmsg_event(struct imsgev *iev, struct imsg *imsg)
{
	struct srv_event	 ev;

	memcpy(&ev, imsg->data, sizeof(ev));
	if (db_event_add(ev.time, ev.kind, ev.actor, ev.subject, ev.detail,
	    ev.account) == -1)
		log_warnx("%s: an event (%s %s) not logged: %s", db_file(),
		    event_name(ev.kind), ev.subject, db_error());
	return (IMSGEV_OK);
}

/*
 * IMSG_SRV_EVENTS_REQ: the events the account may see, the newest
 * EVENTS_ANSWER_MAX; "" when they cannot be had.
 */
int
dbmsg_events_req(struct imsgev *iev, struct imsg *imsg)
{
	struct srv_events_req	 req;
	char			*text;
	size_t			 len = 0;

	memcpy(&req, imsg->data, sizeof(req));
	if ((text = db_events_json(req.account, req.since, EVENTS_ANSWER_MAX,
	    &len)) == NULL)
		log_warnx("%s: events: %s", db_file(), db_error());
	else if (len > EVENTS_ANSWER_BYTES) {
		log_warnx("%s: events: %zu bytes, more than %d", db_file(), len,
		    EVENTS_ANSWER_BYTES);
		len = 0;
	}
	if (srv_blob_send(iev, SRV_BLOB_EVENTS, text && len ? text : "", len,
	    req.reqid) == -1)
		log_warn("%s: imsg", __func__);
	free(text);
	return (IMSGEV_OK);
}

struct dbmsg_teams {
	struct srv_teams_rep	*rep;
	int			 more;		/* past TEAMS_LIST_MAX */
};

/* A row of db_list("teams"): org, name, accounts, created. */
static void
dbmsg_team_row(void *arg, int n, const char **v)
{
	struct dbmsg_teams	*t = arg;

	if (n < 2 || !name_valid(v[1], TEAM_NAME_MAX))
		return;
	if (t->rep->count == TEAMS_LIST_MAX) {
		t->more = 1;
		return;
	}
	strlcpy(t->rep->name[t->rep->count++], v[1], TEAM_NAME_MAX + 1);
}

/* The teams of org, the first TEAMS_LIST_MAX, answered to reqid. */
static void
dbmsg_teams(struct imsgev *iev, uint64_t reqid, const char *org)
{
	struct dbmsg_teams	 t;

	if ((t.rep = calloc(1, sizeof(*t.rep))) == NULL) {
		log_warn("%s", __func__);
		return;
	}
	t.more = 0;
	t.rep->reqid = reqid;
	t.rep->status = 200;
	if (db_list("teams", org, dbmsg_team_row, &t) == -1) {
		log_warnx("%s: teams: %s", db_file(), db_error());
		memset(t.rep->name, 0, sizeof(t.rep->name));
		t.rep->count = 0;
		t.rep->status = 500;
	} else if (t.more)
		log_warnx("teams of %s: more than %d, the first listed", org,
		    TEAMS_LIST_MAX);
	if (imsg_compose_event(iev, IMSG_SRV_TEAMS_REP, 0, 0, -1, t.rep,
	    sizeof(*t.rep)) == -1)
		log_warn("%s: imsg", __func__);
	free(t.rep);
}

/*
 * IMSG_SRV_ACCOUNT_REQ: an admin of an organisation adds an account to
 * it, changes one (its team, its role) or deletes one, adds a team or
 * lists them (IMSG_SRV_TEAMS_REP).  The REST worker asked for an admin,
 * but that is checked here again: the admin's organisation is the one
 * of the accounts as the parent has them.
 */
int
dbmsg_account_req(struct imsgev *iev, struct imsg *imsg)
{
	struct srv_account_req	 req;
	struct srv_account_rep	 rep;
	struct account		 a, *adm, *old;

	memcpy(&req, imsg->data, sizeof(req));
	explicit_bzero(imsg->data, sizeof(req));
	memset(&rep, 0, sizeof(rep));
	rep.reqid = req.reqid;
	rep.status = 200;
	adm = account_find(&env->accounts, req.admin);
	old = account_find(&env->accounts, req.name);
	if (adm == NULL || adm->role != ROLE_ADMIN || adm->org[0] == '\0') {
		rep.status = 403;
		snprintf(rep.message, sizeof(rep.message), "only an admin of "
		    "an organisation manages its accounts");
	} else if (req.op == SRV_TEAM_LIST) {
		dbmsg_teams(iev, req.reqid, adm->org);
		explicit_bzero(&req, sizeof(req));
		return (IMSGEV_OK);
	} else if (req.op == SRV_TEAM_ADD) {
		if (db_team_add(adm->org, req.team) == -1) {
			rep.status = strstr(db_error(), "exists") != NULL ?
			    409 : 500;
			log_sanitize(db_error(), rep.message,
			    sizeof(rep.message));
		}
	} else if (req.op == SRV_ACCOUNT_SET) {
		if (old == NULL || strcmp(old->org, adm->org) != 0) {
			rep.status = 404;
			snprintf(rep.message, sizeof(rep.message), "no account "
			    "%s in organisation %s", req.name, adm->org);
		} else {
			a = *old;
			if (!req.keep_team)
				strlcpy(a.team, req.team, sizeof(a.team));
			if (!req.keep_role)
				a.role = req.role;
			if (strcmp(req.name, req.admin) == 0 &&
			    a.role != ROLE_ADMIN) {
				rep.status = 409;
				snprintf(rep.message, sizeof(rep.message), "an "
				    "admin does not take away its own role");
			} else if (a.role == ROLE_TEAM_ADMIN &&
			    a.team[0] == '\0') {
				rep.status = 400;
				snprintf(rep.message, sizeof(rep.message), "a "
				    "team admin needs a team");
			} else if (db_account_set(&a, 0) == -1) {
				rep.status = strncmp(db_error(), "no team",
				    7) == 0 ? 400 : 500;
				log_sanitize(db_error(), rep.message,
				    sizeof(rep.message));
			}
			explicit_bzero(&a, sizeof(a));
		}
	} else if (req.op == SRV_ACCOUNT_DEL) {
		if (old == NULL || strcmp(old->org, adm->org) != 0) {
			rep.status = 404;
			snprintf(rep.message, sizeof(rep.message), "no account "
			    "%s in organisation %s", req.name, adm->org);
		} else if (strcmp(req.name, req.admin) == 0) {
			rep.status = 409;
			snprintf(rep.message, sizeof(rep.message), "an admin "
			    "does not delete itself");
		} else if (db_account_del(req.name) == -1) {
			rep.status = DBMSG_FAIL_STATUS();
			strlcpy(rep.message, db_error(), sizeof(rep.message));
		}
	} else {
		memset(&a, 0, sizeof(a));
		strlcpy(a.name, req.name, sizeof(a.name));
		strlcpy(a.org, adm->org, sizeof(a.org));
		strlcpy(a.team, req.team, sizeof(a.team));
		a.role = req.role;
		memcpy(a.salt, req.salt, sizeof(a.salt));
		memcpy(a.hash, req.hash, sizeof(a.hash));
		if (old != NULL) {
			rep.status = 409;
			snprintf(rep.message, sizeof(rep.message), "user %s "
			    "exists", req.name);
		} else if (a.role == ROLE_TEAM_ADMIN && a.team[0] == '\0') {
			rep.status = 400;
			snprintf(rep.message, sizeof(rep.message), "a team admin "
			    "needs a team");
		} else if (db_account_add(&a) == -1) {
			rep.status = strncmp(db_error(), "no team", 7) == 0 ?
			    400 : strstr(db_error(), "exists") != NULL ? 409 :
			    DBMSG_FAIL_STATUS();
			log_sanitize(db_error(), rep.message,
			    sizeof(rep.message));
		}
		explicit_bzero(&a, sizeof(a));
	}
	if (rep.status == 200 && req.op == SRV_TEAM_ADD)
		log_info("team %s added to %s by %s", req.team, adm->org,
		    req.admin);
	else if (rep.status == 200) {
		log_info("account %s %s by %s, admin of %s", req.name,
		    req.op == SRV_ACCOUNT_ADD ? "added" : req.op ==
		    SRV_ACCOUNT_SET ? "changed" : "deleted", req.admin,
		    adm->org);
		/* adm is freed here */
		if (dbmsg_reload() == 0)
			dbmsg_send_accounts(iev);
	}
	explicit_bzero(&req, sizeof(req));
	if (imsg_compose_event(iev, IMSG_SRV_ACCOUNT_REP, 0, 0, -1, &rep,
	    sizeof(rep)) == -1)
		log_warn("%s: imsg", __func__);
	return (IMSGEV_OK);
}
