/*
 * The database's interface (server.h, db.h): db_use() says which backend
 * (--db: a postgresql:// URL for PostgreSQL, db_pg.c; else the SQLite
 * file of the state directory, db.c), db_open() opens it, and the db_*()
 * functions go to it.  What does not depend on the backend is here: the
 * migrations of both, the checks of what is written, the command line's
 * changes (in SQL both accept, with ? for each parameter) and the
 * messages of their failures.
 */
#include <sys/types.h>
#include <sys/queue.h>

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "log.h"
#include "server.h"
#include "db.h"

static const struct db_ops	*ops = &db_sqlite_ops;
static const char		*db_url;
static char			 db_err[512];

static const char *const event_names[EVENT_KIND_MAX + 1] = {
	NULL, "tunnel-created", "tunnel-deleted", "tunnel-terminated",
	"sign-in-failed", "share-refused"
};

static void	 db_account_why(const struct account *);

/*
 * The migrations, in order: the schema version is how many have run.
 * Never change one that was released: add another, in the words of
 * each backend (the SQLite file, PostgreSQL).
 */
const struct db_migration db_migrations[] = {
	/* 1: the tables (the accounts file is imported in C) */
	{ 	"CREATE TABLE orgs ("
	"  name TEXT PRIMARY KEY NOT NULL,"
	"  created INTEGER NOT NULL);"
	"CREATE TABLE teams ("
	"  org TEXT NOT NULL REFERENCES orgs(name) ON DELETE CASCADE,"
	"  name TEXT NOT NULL,"
	"  created INTEGER NOT NULL,"
	"  PRIMARY KEY (org, name));"
	"CREATE TABLE accounts ("
	"  name TEXT PRIMARY KEY NOT NULL,"
	"  salt BLOB NOT NULL,"
	"  hash BLOB NOT NULL,"
	"  org TEXT REFERENCES orgs(name),"
	"  team TEXT,"
	"  role TEXT NOT NULL CHECK (role IN ('admin', 'team-admin',"
	"    'member')),"
	"  created INTEGER NOT NULL,"
	"  CHECK (team IS NULL OR org IS NOT NULL),"
	"  FOREIGN KEY (org, team) REFERENCES teams(org, name));"
	"CREATE TABLE tunnels ("
	"  id TEXT PRIMARY KEY NOT NULL,"
	"  owner TEXT NOT NULL,"
	"  status TEXT NOT NULL,"
	"  line TEXT NOT NULL);"
	"CREATE TABLE events ("
	"  seq INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  time INTEGER NOT NULL,"
	"  actor TEXT NOT NULL,"
	"  kind TEXT NOT NULL,"
	"  subject TEXT NOT NULL,"
	"  detail TEXT NOT NULL,"
	"  account TEXT NOT NULL,"
	"  org TEXT);"
	"CREATE INDEX events_account ON events(account);"
	"CREATE INDEX events_org ON events(org);",
	/* PostgreSQL: BYTEA for BLOB, BIGINT times, identity columns */
	"CREATE TABLE orgs ("
	"  name TEXT PRIMARY KEY NOT NULL,"
	"  created BIGINT NOT NULL);"
	"CREATE TABLE teams ("
	"  org TEXT NOT NULL REFERENCES orgs(name) ON DELETE CASCADE,"
	"  name TEXT NOT NULL,"
	"  created BIGINT NOT NULL,"
	"  PRIMARY KEY (org, name));"
	"CREATE TABLE accounts ("
	"  name TEXT PRIMARY KEY NOT NULL,"
	"  salt BYTEA NOT NULL,"
	"  hash BYTEA NOT NULL,"
	"  org TEXT REFERENCES orgs(name),"
	"  team TEXT,"
	"  role TEXT NOT NULL CHECK (role IN ('admin', 'team-admin',"
	"    'member')),"
	"  created BIGINT NOT NULL,"
	"  CHECK (team IS NULL OR org IS NOT NULL),"
	"  FOREIGN KEY (org, team) REFERENCES teams(org, name));"
	"CREATE TABLE tunnels ("
	"  id TEXT PRIMARY KEY NOT NULL,"
	"  owner TEXT NOT NULL,"
	"  status TEXT NOT NULL,"
	"  line TEXT NOT NULL,"
	"  rowid BIGINT GENERATED ALWAYS AS IDENTITY);"
	"CREATE TABLE events ("
	"  seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
	"  time BIGINT NOT NULL,"
	"  actor TEXT NOT NULL,"
	"  kind TEXT NOT NULL,"
	"  subject TEXT NOT NULL,"
	"  detail TEXT NOT NULL,"
	"  account TEXT NOT NULL,"
	"  org TEXT);"
	"CREATE INDEX events_account ON events(account);"
	"CREATE INDEX events_org ON events(org);" },
};
const int db_nmigrations = sizeof(db_migrations) / sizeof(db_migrations[0]);


/* The last error, for a message. */
const char *
db_error(void)
{
	return (db_err);
}

const char *
db_errbuf(void)
{
	return (db_err);
}

/* Keep the reason of a failure: -1. */
int
db_fail(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	vsnprintf(db_err, sizeof(db_err), fmt, ap);
	va_end(ap);
	return (-1);
}

/*
 * --db: a postgresql:// (or postgres://) URL is PostgreSQL; NULL or
 * anything else the SQLite file of the state directory.  Before
 * db_open().
 */
void
db_use(const char *url)
{
	if (url != NULL && (strncmp(url, "postgresql://", 13) == 0 ||
	    strncmp(url, "postgres://", 11) == 0)) {
		ops = &db_pg_ops;
		db_url = url;
	} else {
		ops = &db_sqlite_ops;
		db_url = NULL;
	}
}

/* Which backend: "sqlite" or "postgresql". */
const char *
db_backend(void)
{
	return (ops->name);
}

/*
 * Open the database (made if it is not there) and run the migrations it
 * lacks.  -1 with the reason in db_error().
 */
int
db_open(const char *statedir)
{
	return (ops->open(statedir, db_url));
}

void
db_close(void)
{
	ops->close();
}

/* The database's name for messages: never a password. */
const char *
db_file(void)
{
	return (ops->file());
}

/*
 * Did another connection (the CLI) commit since the last call, or was
 * the database reconnected?  1 yes, 0 no (or cannot tell).
 */
int
db_changed(void)
{
	return (ops->changed());
}

/* Every account into list (empty); -1 on error. */
int
db_accounts(struct accountlist *list)
{
	return (ops->accounts(list));
}

/*
 * The tunnel registry as state.c reads it: the version 2 header, then
 * each tunnel's line.  NULL with errno set.
 */
char *
db_tunnels_text(size_t *lenp)
{
	return (ops->tunnels_text(lenp));
}

/*
 * The registry the REST worker sent (buf, len: its header and a line
 * per tunnel), written in one transaction.  0 once it is committed, or
 * an errno.
 */
int
db_tunnels_write(const char *buf, size_t len)
{
	return (ops->tunnels_write(buf, len));
}

/*
 * One event: what kind, who did it (actor), to what (subject), more
 * (detail), and whose it is (account).  0, or -1.
 */
int
db_event_add(time_t when, int kind, const char *actor, const char *subject,
    const char *detail, const char *account)
{
	return (ops->event_add(when, kind, actor, subject, detail, account));
}

/*
 * The events since since that account may see (all with NULL), the
 * newest max of them, oldest first, as a JSON array text.  NULL on error.
 */
char *
db_events_json(const char *account, time_t since, int max, size_t *lenp)
{
	return (ops->events_json(account, since, max, lenp));
}

/*
 * Rows of a listing for the command line: each is cb(arg, columns,
 * values), the values as text ("" for NULL).  which: "orgs", "teams"
 * (of org, or all when it is NULL), else the accounts.
 */
int
db_list(const char *which, const char *org,
    void (*cb)(void *, int, const char **), void *arg)
{
	const char	*sql;

	if (strcmp(which, "orgs") == 0)
		sql = "SELECT o.name, (SELECT count(*) FROM teams WHERE org = "
		    "o.name), (SELECT count(*) FROM accounts WHERE org = "
		    "o.name), o.created FROM orgs o ORDER BY o.name";
	else if (strcmp(which, "teams") == 0)
		sql = "SELECT t.org, t.name, (SELECT count(*) FROM accounts "
		    "WHERE org = t.org AND team = t.name), t.created FROM "
		    "teams t WHERE t.org = coalesce(?, t.org) ORDER BY t.org, "
		    "t.name";
	else
		sql = "SELECT name, org, team, role, created FROM accounts "
		    "ORDER BY name";
	return (ops->list(sql, org, cb, arg));
}

/*
 * The password of a database URL (user:PASSWORD@ and password=...)
 * overwritten with '*', in place: for ps output and messages.
 */
void
db_url_mask(char *url)
{
	char	*p, *at, *end;

	if ((p = strstr(url, "://")) != NULL) {
		p += 3;
		end = p + strcspn(p, "/?");
		at = NULL;
		for (; p < end; p++)
			if (*p == '@')
				at = p;
		p = url + (strstr(url, "://") - url) + 3;
		if (at != NULL && (p = memchr(p, ':', at - p)) != NULL)
			for (p++; p < at; p++)
				*p = '*';
	}
	for (p = url; (p = strstr(p, "password=")) != NULL; ) {
		for (p += 9; *p != '\0' && *p != '&' && *p != ' '; p++)
			*p = '*';
	}
}

/*
 * One statement with parameters (? each, in SQL both backends accept):
 * fmt has a letter for each, s a text (NULL or "" is NULL), bs a salt,
 * bh a hash (bytes), i an int64_t.  -1 with the reason in db_error():
 * "UNIQUE ..." or "FOREIGN KEY ..." for those constraints, "not found"
 * when it changed no row.
 */
int
db_run(const char *sql, const char *fmt, ...)
{
	va_list	 ap;
	int	 rc;

	va_start(ap, fmt);
	rc = ops->run(sql, fmt, ap);
	va_end(ap);
	return (rc);
}

/*
 * A tunnel's line (n bytes at p) the worker made, checked before it is
 * written: JSON with an id, an owner and a status that fit.  0 with the
 * object in *op (the strings are its), or -1.
 */
int
db_tunnel_check(const char *p, size_t n, json_t **op, const char **id,
    const char **owner, const char **status)
{
	json_t	*o;

	if ((o = json_loadb(p, n, JSON_REJECT_DUPLICATES, NULL)) == NULL)
		return (-1);
	*id = json_string_value(json_object_get(o, "id"));
	*owner = json_string_value(json_object_get(o, "owner"));
	*status = json_string_value(json_object_get(o, "status"));
	if (*id == NULL || !tunnel_id_valid(*id) || *owner == NULL ||
	    !account_name_valid(*owner) || *status == NULL ||
	    (strcmp(*status, "running") != 0 &&
	    strcmp(*status, "halting") != 0 &&
	    strcmp(*status, "terminated") != 0)) {
		json_decref(o);
		return (-1);
	}
	*op = o;
	return (0);
}

/*
 * An event's row into the array a, before the others (the rows come
 * newest first): seq, time, and v: actor, kind, subject, detail,
 * account.
 */
int
db_event_json(json_t *a, int64_t seq, time_t t, const char **v)
{
	json_t		*o;
	struct tm	 tm;
	char		 tbuf[32];

	gmtime_r(&t, &tm);
	strftime(tbuf, sizeof(tbuf), "%Y-%m-%dT%H:%M:%SZ", &tm);
	o = json_pack("{s:I, s:s, s:s?, s:s?, s:s?, s:s?, s:s?}",
	    "seq", (json_int_t)seq, "time", tbuf, "actor", v[0], "kind", v[1],
	    "subject", v[2], "detail", v[3], "account", v[4]);
	if (o == NULL || json_array_insert_new(a, 0, o) == -1)
		return (-1);
	return (0);
}

/*
 * Migration 1: the accounts of an older version's file, if there is one
 * (*n: how many; -1 when there is no file).  They belong to no
 * organisation, and are admins: they share as before (with every
 * account outside organisations).
 */
int
db_import_accounts(const char *path, int *n)
{
	struct accountlist	 list;
	struct account		*a;
	char			 why[sizeof(db_err)];
	int			 rc = 0;

	*n = -1;
	if (access(path, F_OK) == -1)
		return (0);
	TAILQ_INIT(&list);
	if (accounts_load(path, &list) == -1)
		return (db_fail("cannot read %s", path));
	*n = 0;
	TAILQ_FOREACH(a, &list, entry) {
		if (db_run("INSERT INTO accounts (name, salt, hash, role, "
		    "created) VALUES (?, ?, ?, 'admin', ?)", "sbsbhi", a->name,
		    a->salt, a->hash, (int64_t)time(NULL)) == -1) {
			strlcpy(why, db_err, sizeof(why));
			rc = db_fail("account %s: %s", a->name, why);
			break;
		}
		(*n)++;
	}
	accounts_clear(&list);
	return (rc);
}

/* Once migration 1 is committed: the imported file (from) renamed. */
void
db_import_done(const char *from, int imported)
{
	char	 to[PATH_MAX];

	if (imported < 0)
		return;
	if ((size_t)snprintf(to, sizeof(to), "%s%s", from, MIGRATED_SUFFIX) >=
	    sizeof(to) || rename(from, to) == -1)
		log_warn("rename %s to %s", from, to);
	else
		log_info("%d account%s imported from %s into %s, the file "
		    "kept as %s", imported, imported == 1 ? "" : "s", from,
		    db_file(), to);
}

int
db_org_add(const char *name)
{
	if (db_run("INSERT INTO orgs (name, created) VALUES (?, ?)", "si",
	    name, (int64_t)time(NULL)) == -1) {
		if (strstr(db_err, "UNIQUE") != NULL)
			db_fail("organisation %s exists", name);
		return (-1);
	}
	return (0);
}

int
db_team_add(const char *org, const char *name)
{
	if (db_run("INSERT INTO teams (org, name, created) VALUES (?, ?, ?)",
	    "ssi", org, name, (int64_t)time(NULL)) == -1) {
		if (strstr(db_err, "UNIQUE") != NULL)
			db_fail("team %s of %s exists", name, org);
		else if (strstr(db_err, "FOREIGN KEY") != NULL)
			db_fail("no organisation %s (sc-server org add %s)",
			    org, org);
		return (-1);
	}
	return (0);
}

/* Why an account's organisation or team does not do. */
static void
db_account_why(const struct account *a)
{
	if (strstr(db_err, "UNIQUE") != NULL)
		db_fail("user %s exists", a->name);
	else if (strstr(db_err, "FOREIGN KEY") != NULL && a->team[0] != '\0')
		db_fail("no team %s in organisation %s (sc-server team add "
		    "%s %s)", a->team, a->org, a->org, a->team);
	else if (strstr(db_err, "FOREIGN KEY") != NULL)
		db_fail("no organisation %s (sc-server org add %s)", a->org,
		    a->org);
}

int
db_account_add(const struct account *a)
{
	if (db_run("INSERT INTO accounts (name, salt, hash, org, team, role, "
	    "created) VALUES (?, ?, ?, ?, ?, ?, ?)", "sbsbhsssi", a->name,
	    a->salt, a->hash, a->org, a->team, role_name(a->role),
	    (int64_t)time(NULL)) == -1) {
		db_account_why(a);
		return (-1);
	}
	return (0);
}

/* A changed account (its key too when newkey). */
int
db_account_set(const struct account *a, int newkey)
{
	int	 rc;

	if (newkey)
		rc = db_run("UPDATE accounts SET salt = ?, hash = ?, org = ?, "
		    "team = ?, role = ? WHERE name = ?", "bsbhssss", a->salt,
		    a->hash, a->org, a->team, role_name(a->role), a->name);
	else
		rc = db_run("UPDATE accounts SET org = ?, team = ?, role = ? "
		    "WHERE name = ?", "ssss", a->org, a->team,
		    role_name(a->role), a->name);
	if (rc == -1) {
		if (strcmp(db_err, "not found") == 0)
			db_fail("no user %s", a->name);
		else
			db_account_why(a);
	}
	return (rc);
}

int
db_account_del(const char *name)
{
	if (db_run("DELETE FROM accounts WHERE name = ?", "s", name) == -1) {
		if (strcmp(db_err, "not found") == 0)
			db_fail("no user %s", name);
		return (-1);
	}
	return (0);
}


const char *
event_name(int kind)
{
	if (kind < 1 || kind > EVENT_KIND_MAX)
		return ("?");
	return (event_names[kind]);
}

