/*
 * The database: statedir/sc-server.db, one SQLite file (mode 0600) that
 * holds the accounts, organisations and teams, the tunnel registry and
 * the event log.  Only the parent (dbmsg.c) and the command line (cli.c)
 * open it; the workers ask the parent over imsg.
 *
 * It runs in WAL mode with synchronous=FULL: a transaction that
 * COMMIT returned for is on disk, and a kill -9 at any moment loses no
 * acknowledged write.  Foreign keys are on; a writer waits DB_BUSY_MS for
 * another (the CLI while the server runs).
 *
 * The schema has a version (PRAGMA user_version) and an ordered list of
 * migrations, each run once in a transaction of its own.  Migration 1
 * makes the tables and imports the accounts file of older versions
 * (statedir/accounts, "name salt hash" lines); once it is committed the
 * file is renamed accounts.migrated.  An older tunnels.json is imported
 * at the REST worker's start instead (dbmsg.c), so that its tunnels pass
 * the same checks as ever, one by one.
 *
 * Tables:
 *	orgs(name, created)
 *	teams(org, name, created)			in an organisation
 *	accounts(name, salt, hash, org, team, role, created)
 *	tunnels(id, owner, status, line)		line: the tunnel's JSON
 *							line, as state.c makes it
 *	events(seq, time, actor, kind, subject, detail, account, org)
 */
#include <sys/types.h>
#include <sys/queue.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <sqlite3.h>

#include "log.h"
#include "server.h"

#define DB_TUNNELS_HEADER	"{\"version\":2}\n"

static sqlite3	*db;
static char	 db_path[PATH_MAX];
static char	 db_err[512];
static int64_t	 db_version_seen = -1;	/* PRAGMA data_version */
static int	 db_events_added;

static const char *const event_names[EVENT_KIND_MAX + 1] = {
	NULL, "tunnel-created", "tunnel-deleted", "tunnel-terminated",
	"sign-in-failed", "share-refused"
};

/*
 * The migrations, in order: the schema version is how many have run.
 * Never change one that was released: add another.
 */
static const char *const migrations[] = {
	/* 1: the tables (the accounts file is imported in C) */
	"CREATE TABLE orgs ("
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
	"CREATE INDEX events_org ON events(org);"
};
#define DB_VERSION	(int)(sizeof(migrations) / sizeof(migrations[0]))

static int	 db_fail(const char *, ...)
		    __attribute__((format(printf, 1, 2)));
static int	 db_errno(int);
static int	 db_exec(const char *);
static int64_t	 db_int(const char *);
static int	 db_import_accounts(const char *, int *);
static int	 db_migrate(const char *);
static int	 db_bind_text(sqlite3_stmt *, int, const char *);
static int	 db_run(const char *, const char *, ...);
static void	 db_account_why(const struct account *);
static int	 db_tunnel_put(sqlite3_stmt *, sqlite3_stmt *, const char *,
		    size_t);

/* The last error, for a message. */
const char *
db_error(void)
{
	return (db_err);
}

/* Keep the reason of a failure: -1. */
static int
db_fail(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	vsnprintf(db_err, sizeof(db_err), fmt, ap);
	va_end(ap);
	return (-1);
}

/* An errno for SQLite's result code rc (the system's if it had one). */
static int
db_errno(int rc)
{
	int	 e;

	if (db != NULL && (e = sqlite3_system_errno(db)) != 0 &&
	    (rc & 0xff) == SQLITE_IOERR)
		return (e);
	switch (rc & 0xff) {
	case SQLITE_FULL:
		return (ENOSPC);
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return (EBUSY);
	case SQLITE_READONLY:
		return (EROFS);
	case SQLITE_NOMEM:
		return (ENOMEM);
	case SQLITE_CONSTRAINT:
	case SQLITE_MISMATCH:
	case SQLITE_TOOBIG:
		return (EINVAL);
	default:
		return (EIO);
	}
}

static int
db_exec(const char *sql)
{
	char	*msg = NULL;
	int	 rc;

	if ((rc = sqlite3_exec(db, sql, NULL, NULL, &msg)) != SQLITE_OK) {
		db_fail("%s", msg ? msg : sqlite3_errstr(rc));
		sqlite3_free(msg);
		errno = db_errno(rc);
		return (-1);
	}
	return (0);
}

/* The one integer a statement answers; -1 on error. */
static int64_t
db_int(const char *sql)
{
	sqlite3_stmt	*st;
	int64_t		 v = -1;

	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
		db_fail("%s", sqlite3_errmsg(db));
		return (-1);
	}
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	else
		db_fail("%s", sqlite3_errmsg(db));
	sqlite3_finalize(st);
	return (v);
}

static int
db_bind_text(sqlite3_stmt *st, int i, const char *s)
{
	if (s == NULL || *s == '\0')
		return (sqlite3_bind_null(st, i));
	return (sqlite3_bind_text(st, i, s, -1, SQLITE_TRANSIENT));
}

const char *
event_name(int kind)
{
	if (kind < 1 || kind > EVENT_KIND_MAX)
		return ("?");
	return (event_names[kind]);
}

/*
 * Open statedir/sc-server.db (made, mode 0600, if it is not there), set
 * it up and run the migrations it lacks.  -1 with the reason in
 * db_error().
 */
int
db_open(const char *statedir)
{
	int	 fd, rc;

	if ((size_t)snprintf(db_path, sizeof(db_path), "%s/%s", statedir,
	    DB_FILE) >= sizeof(db_path))
		return (db_fail("%s: name too long", statedir));
	/* made here, so that its mode is ours (SQLite's files follow it) */
	if ((fd = open(db_path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW,
	    0600)) == -1)
		return (db_fail("%s: %s", db_path, strerror(errno)));
	close(fd);
	if ((rc = sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READWRITE |
	    SQLITE_OPEN_NOFOLLOW, NULL)) != SQLITE_OK) {
		db_fail("%s: %s", db_path, db ? sqlite3_errmsg(db) :
		    sqlite3_errstr(rc));
		sqlite3_close(db);
		db = NULL;
		return (-1);
	}
	sqlite3_busy_timeout(db, DB_BUSY_MS);
	sqlite3_extended_result_codes(db, 1);
	if (db_exec("PRAGMA journal_mode=WAL") == -1 ||
	    db_exec("PRAGMA synchronous=FULL") == -1 ||
	    db_exec("PRAGMA foreign_keys=ON") == -1 ||
	    db_exec("PRAGMA temp_store=MEMORY") == -1 ||
	    db_exec("PRAGMA journal_size_limit=1048576") == -1 ||
	    db_migrate(statedir) == -1 ||
	    db_exec("CREATE TEMP TABLE seen (id TEXT PRIMARY KEY)") == -1) {
		char	 why[sizeof(db_err)];

		strlcpy(why, db_err, sizeof(why));
		db_close();
		return (db_fail("%s: %s", db_path, why));
	}
	db_changed();
	return (0);
}

void
db_close(void)
{
	if (db != NULL)
		sqlite3_close(db);
	db = NULL;
}

const char *
db_file(void)
{
	return (db_path);
}

/*
 * The migrations the file lacks, each in a transaction of its own (a
 * CLI and the server that start at once: the second finds it done).
 */
static int
db_migrate(const char *statedir)
{
	char	 from[PATH_MAX], to[PATH_MAX];
	int64_t	 v;
	int	 imported = -1;

	for (;;) {
		if (db_exec("BEGIN IMMEDIATE") == -1)
			return (-1);
		if ((v = db_int("PRAGMA user_version")) == -1)
			goto fail;
		if (v > DB_VERSION) {
			db_fail("schema version %lld, newer than this "
			    "sc-server knows (%d)", (long long)v, DB_VERSION);
			goto fail;
		}
		if (v == DB_VERSION)
			break;
		if (db_exec(migrations[v]) == -1)
			goto fail;
		snprintf(from, sizeof(from), "%s/%s", statedir, ACCOUNTS_FILE);
		if (v == 0 && db_import_accounts(from, &imported) == -1)
			goto fail;
		snprintf(to, sizeof(to), "PRAGMA user_version=%lld",
		    (long long)v + 1);
		if (db_exec(to) == -1 || db_exec("COMMIT") == -1)
			goto fail;
		log_info("%s: schema version %lld", db_path,
		    (long long)v + 1);
	}
	db_exec("COMMIT");
	if (imported >= 0) {
		if ((size_t)snprintf(to, sizeof(to), "%s%s", from,
		    MIGRATED_SUFFIX) >= sizeof(to) || rename(from, to) == -1)
			log_warn("rename %s to %s", from, to);
		else
			log_info("%d account%s imported from %s into %s, the "
			    "file kept as %s", imported, imported == 1 ? "" :
			    "s", from, db_path, to);
	}
	return (0);
 fail:
	db_exec("ROLLBACK");
	return (-1);
}

/*
 * Migration 1: the accounts of an older version's file, if there is one
 * (*n: how many; -1 when there is no file).  They belong to no
 * organisation, and are admins: they share as before (with every
 * account outside organisations).
 */
static int
db_import_accounts(const char *path, int *n)
{
	struct accountlist	 list;
	struct account		*a;
	sqlite3_stmt		*st;
	int			 rc = 0;

	*n = -1;
	if (access(path, F_OK) == -1)
		return (0);
	TAILQ_INIT(&list);
	if (accounts_load(path, &list) == -1)
		return (db_fail("cannot read %s", path));
	if (sqlite3_prepare_v2(db, "INSERT INTO accounts (name, salt, hash, "
	    "role, created) VALUES (?, ?, ?, 'admin', ?)", -1, &st,
	    NULL) != SQLITE_OK) {
		accounts_clear(&list);
		return (db_fail("%s", sqlite3_errmsg(db)));
	}
	*n = 0;
	TAILQ_FOREACH(a, &list, entry) {
		sqlite3_bind_text(st, 1, a->name, -1, SQLITE_STATIC);
		sqlite3_bind_blob(st, 2, a->salt, sizeof(a->salt),
		    SQLITE_STATIC);
		sqlite3_bind_blob(st, 3, a->hash, sizeof(a->hash),
		    SQLITE_STATIC);
		sqlite3_bind_int64(st, 4, time(NULL));
		if (sqlite3_step(st) != SQLITE_DONE) {
			rc = db_fail("account %s: %s", a->name,
			    sqlite3_errmsg(db));
			break;
		}
		sqlite3_reset(st);
		(*n)++;
	}
	sqlite3_finalize(st);
	accounts_clear(&list);
	return (rc);
}

/*
 * Did another connection (the CLI) commit since the last call?  1 yes,
 * 0 no (or cannot tell).
 */
int
db_changed(void)
{
	int64_t	 v;

	if ((v = db_int("PRAGMA data_version")) == -1 || v == db_version_seen)
		return (0);
	db_version_seen = v;
	return (1);
}

/* Every account into list (empty); -1 on error. */
int
db_accounts(struct accountlist *list)
{
	sqlite3_stmt	*st;
	struct account	*a;
	const char	*s;
	int		 rc;

	if (sqlite3_prepare_v2(db, "SELECT name, salt, hash, org, team, role "
	    "FROM accounts ORDER BY name", -1, &st, NULL) != SQLITE_OK)
		return (db_fail("%s", sqlite3_errmsg(db)));
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		s = (const char *)sqlite3_column_text(st, 0);
		if (s == NULL || !account_name_valid(s) ||
		    sqlite3_column_bytes(st, 1) != ACCOUNT_SALT_LEN ||
		    sqlite3_column_bytes(st, 2) != 32) {
			log_warnx("%s: a bad account left out", db_path);
			continue;
		}
		if ((a = calloc(1, sizeof(*a))) == NULL) {
			sqlite3_finalize(st);
			accounts_clear(list);
			return (db_fail("out of memory"));
		}
		strlcpy(a->name, s, sizeof(a->name));
		memcpy(a->salt, sqlite3_column_blob(st, 1), ACCOUNT_SALT_LEN);
		memcpy(a->hash, sqlite3_column_blob(st, 2), 32);
		if ((s = (const char *)sqlite3_column_text(st, 3)) != NULL)
			strlcpy(a->org, s, sizeof(a->org));
		if ((s = (const char *)sqlite3_column_text(st, 4)) != NULL)
			strlcpy(a->team, s, sizeof(a->team));
		s = (const char *)sqlite3_column_text(st, 5);
		a->role = s != NULL ? role_parse(s) : -1;
		if (a->role == -1)
			a->role = ROLE_MEMBER;
		TAILQ_INSERT_TAIL(list, a, entry);
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		accounts_clear(list);
		return (db_fail("%s", sqlite3_errstr(rc)));
	}
	return (0);
}

/*
 * The tunnel registry as state.c reads it: the version 2 header, then
 * each tunnel's line.  NULL with errno set.
 */
char *
db_tunnels_text(size_t *lenp)
{
	sqlite3_stmt	*st;
	char		*buf = NULL;
	size_t		 len = 0;
	FILE		*f;
	int		 rc;

	if (sqlite3_prepare_v2(db, "SELECT line FROM tunnels ORDER BY rowid",
	    -1, &st, NULL) != SQLITE_OK) {
		db_fail("%s", sqlite3_errmsg(db));
		errno = EIO;
		return (NULL);
	}
	if ((f = open_memstream(&buf, &len)) == NULL) {
		sqlite3_finalize(st);
		return (NULL);
	}
	fputs(DB_TUNNELS_HEADER, f);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		fwrite(sqlite3_column_text(st, 0), 1,
		    sqlite3_column_bytes(st, 0), f);
		fputc('\n', f);
	}
	sqlite3_finalize(st);
	if (fclose(f) == EOF || rc != SQLITE_DONE) {
		if (buf != NULL)
			freezero(buf, len);
		db_fail("%s", sqlite3_errstr(rc));
		errno = EIO;
		return (NULL);
	}
	*lenp = len;
	return (buf);
}

/*
 * One tunnel's line (n bytes at p) into the tunnels (put) and into the
 * ids seen (seen).  The worker made it, but it is checked: an id, an
 * owner and a status that fit, or EINVAL.
 */
static int
db_tunnel_put(sqlite3_stmt *put, sqlite3_stmt *seen, const char *p,
    size_t n)
{
	json_t		*o;
	const char	*id, *owner, *status;
	int		 rc = 0;

	if ((o = json_loadb(p, n, JSON_REJECT_DUPLICATES, NULL)) == NULL)
		return (EINVAL);
	id = json_string_value(json_object_get(o, "id"));
	owner = json_string_value(json_object_get(o, "owner"));
	status = json_string_value(json_object_get(o, "status"));
	if (id == NULL || !tunnel_id_valid(id) || owner == NULL ||
	    !account_name_valid(owner) || status == NULL ||
	    (strcmp(status, "running") != 0 &&
	    strcmp(status, "halting") != 0 &&
	    strcmp(status, "terminated") != 0)) {
		json_decref(o);
		return (EINVAL);
	}
	sqlite3_bind_text(put, 1, id, -1, SQLITE_STATIC);
	sqlite3_bind_text(put, 2, owner, -1, SQLITE_STATIC);
	sqlite3_bind_text(put, 3, status, -1, SQLITE_STATIC);
	sqlite3_bind_text(put, 4, p, n, SQLITE_STATIC);
	sqlite3_bind_text(seen, 1, id, -1, SQLITE_STATIC);
	if ((rc = sqlite3_step(put)) != SQLITE_DONE ||
	    (rc = sqlite3_step(seen)) != SQLITE_DONE) {
		db_fail("%s", sqlite3_errmsg(db));
		rc = db_errno(rc);
	} else
		rc = 0;
	sqlite3_reset(put);
	sqlite3_reset(seen);
	sqlite3_clear_bindings(put);
	sqlite3_clear_bindings(seen);
	json_decref(o);
	return (rc);
}

/*
 * The registry the REST worker sent (buf, len: its header and a line
 * per tunnel), written in one transaction: each tunnel whose line
 * changed is updated, a new one inserted, one no longer there deleted.
 * Returns 0 once it is committed, or an errno.
 */
int
db_tunnels_write(const char *buf, size_t len)
{
	sqlite3_stmt	*put = NULL, *seen = NULL;
	const char	*p, *end = buf + len, *nl;
	int		 rc, error = 0;

	if (len < sizeof(DB_TUNNELS_HEADER) - 1 || memcmp(buf,
	    DB_TUNNELS_HEADER, sizeof(DB_TUNNELS_HEADER) - 1) != 0)
		return (EINVAL);
	if (db_exec("BEGIN IMMEDIATE") == -1)
		return (errno);
	if ((rc = sqlite3_prepare_v2(db, "INSERT INTO tunnels (id, owner, "
	    "status, line) VALUES (?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET "
	    "owner = excluded.owner, status = excluded.status, line = "
	    "excluded.line WHERE line IS NOT excluded.line", -1, &put,
	    NULL)) != SQLITE_OK ||
	    (rc = sqlite3_prepare_v2(db, "INSERT OR IGNORE INTO temp.seen "
	    "(id) VALUES (?)", -1, &seen, NULL)) != SQLITE_OK) {
		db_fail("%s", sqlite3_errmsg(db));
		error = db_errno(rc);
		goto done;
	}
	if (db_exec("DELETE FROM temp.seen") == -1) {
		error = errno;
		goto done;
	}
	for (p = buf + sizeof(DB_TUNNELS_HEADER) - 1; p < end; p = nl + 1) {
		if ((nl = memchr(p, '\n', end - p)) == NULL)
			nl = end;
		if (nl == p)
			continue;
		if ((error = db_tunnel_put(put, seen, p, nl - p)) != 0)
			goto done;
	}
	if (db_exec("DELETE FROM tunnels WHERE id NOT IN (SELECT id FROM "
	    "temp.seen)") == -1 || db_exec("COMMIT") == -1)
		error = errno ? errno : EIO;
 done:
	sqlite3_finalize(put);
	sqlite3_finalize(seen);
	if (error != 0 && !sqlite3_get_autocommit(db))
		db_exec("ROLLBACK");
	return (error);
}

/*
 * One event: what kind, who did it (actor), to what (subject), more
 * (detail), and whose it is (account: the owner of the tunnel, the
 * account signed in as), with that account's organisation now.  The
 * oldest go past EVENTS_KEEP.  0, or -1.
 */
int
db_event_add(time_t when, int kind, const char *actor, const char *subject,
    const char *detail, const char *account)
{
	sqlite3_stmt	*st;
	char		 sql[128];
	int		 rc;

	if (sqlite3_prepare_v2(db, "INSERT INTO events (time, actor, kind, "
	    "subject, detail, account, org) VALUES (?, ?, ?, ?, ?, ?, "
	    "(SELECT org FROM accounts WHERE name = ?6))", -1, &st,
	    NULL) != SQLITE_OK)
		return (db_fail("%s", sqlite3_errmsg(db)));
	sqlite3_bind_int64(st, 1, when);
	sqlite3_bind_text(st, 2, actor, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, event_name(kind), -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, subject, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 5, detail, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 6, account, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return (db_fail("%s", sqlite3_errmsg(db)));
	if (++db_events_added % 1000 == 0) {
		snprintf(sql, sizeof(sql), "DELETE FROM events WHERE seq <= "
		    "(SELECT max(seq) FROM events) - %d", EVENTS_KEEP);
		if (db_exec(sql) == -1)
			log_warnx("%s: old events: %s", db_path, db_err);
	}
	return (0);
}

/*
 * The events since since (Unix seconds) that account may see: its own,
 * and for an admin of an organisation, the organisation's (all, with
 * account NULL); the newest max of them, oldest first, as a JSON array
 * text.  NULL on error.
 */
char *
db_events_json(const char *account, time_t since, int max, size_t *lenp)
{
	sqlite3_stmt	*st;
	json_t		*a, *o;
	char		 tbuf[32];
	char		*s;
	time_t		 t;
	struct tm	 tm;
	int		 rc;

	if (sqlite3_prepare_v2(db, "SELECT seq, time, actor, kind, subject, "
	    "detail, account FROM events WHERE time >= ?1 AND (?2 IS NULL OR "
	    "account = ?2 OR actor = ?2 OR org IN (SELECT org FROM accounts "
	    "WHERE name = ?2 AND role = 'admin' AND org IS NOT NULL)) "
	    "ORDER BY seq DESC LIMIT ?3", -1, &st, NULL) != SQLITE_OK) {
		db_fail("%s", sqlite3_errmsg(db));
		return (NULL);
	}
	sqlite3_bind_int64(st, 1, since);
	db_bind_text(st, 2, account);
	sqlite3_bind_int(st, 3, max);
	if ((a = json_array()) == NULL) {
		sqlite3_finalize(st);
		return (NULL);
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		t = sqlite3_column_int64(st, 1);
		gmtime_r(&t, &tm);
		strftime(tbuf, sizeof(tbuf), "%Y-%m-%dT%H:%M:%SZ", &tm);
		o = json_pack("{s:I, s:s, s:s?, s:s?, s:s?, s:s?, s:s?}",
		    "seq", (json_int_t)sqlite3_column_int64(st, 0),
		    "time", tbuf,
		    "actor", (const char *)sqlite3_column_text(st, 2),
		    "kind", (const char *)sqlite3_column_text(st, 3),
		    "subject", (const char *)sqlite3_column_text(st, 4),
		    "detail", (const char *)sqlite3_column_text(st, 5),
		    "account", (const char *)sqlite3_column_text(st, 6));
		if (o == NULL || json_array_insert_new(a, 0, o) == -1)
			break;
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		json_decref(a);
		db_fail("%s", sqlite3_errstr(rc));
		return (NULL);
	}
	s = json_dumps(a, JSON_COMPACT);
	json_decref(a);
	if (s != NULL)
		*lenp = strlen(s);
	return (s);
}

/*
 * The command line's changes, each one statement: -1 with the reason in
 * db_error() (a name taken, an organisation or a team that is not
 * there).
 */
static int
db_run(const char *sql, const char *fmt, ...)
{
	sqlite3_stmt	*st;
	va_list		 ap;
	const char	*p;
	int		 i = 1, rc;

	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		return (db_fail("%s", sqlite3_errmsg(db)));
	va_start(ap, fmt);
	for (p = fmt; *p != '\0'; p++, i++) {
		switch (*p) {
		case 's':
			db_bind_text(st, i, va_arg(ap, const char *));
			break;
		case 'b':
			p++;
			sqlite3_bind_blob(st, i, va_arg(ap, const void *),
			    *p == 'h' ? 32 : ACCOUNT_SALT_LEN,
			    SQLITE_TRANSIENT);
			break;
		case 'i':
			sqlite3_bind_int64(st, i, va_arg(ap, int64_t));
			break;
		}
	}
	va_end(ap);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE && rc != SQLITE_ROW)
		return (db_fail("%s", sqlite3_errmsg(db)));
	if (sqlite3_changes(db) == 0)
		return (db_fail("not found"));
	return (0);
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

/*
 * Rows of a listing for the command line: each is cb(arg, columns,
 * values), the values as text ("" for NULL).  which: "orgs", "teams"
 * (of org, or all when it is NULL).
 */
int
db_list(const char *which, const char *org,
    void (*cb)(void *, int, const char **), void *arg)
{
	sqlite3_stmt	*st;
	const char	*sql, *v[8];
	int		 i, n, rc;

	if (strcmp(which, "orgs") == 0)
		sql = "SELECT o.name, (SELECT count(*) FROM teams WHERE org = "
		    "o.name), (SELECT count(*) FROM accounts WHERE org = "
		    "o.name), o.created FROM orgs o ORDER BY o.name";
	else if (strcmp(which, "teams") == 0)
		sql = "SELECT t.org, t.name, (SELECT count(*) FROM accounts "
		    "WHERE org = t.org AND team = t.name), t.created FROM "
		    "teams t WHERE ?1 IS NULL OR t.org = ?1 ORDER BY t.org, "
		    "t.name";
	else
		sql = "SELECT name, org, team, role, created FROM accounts "
		    "ORDER BY name";
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		return (db_fail("%s", sqlite3_errmsg(db)));
	if (sqlite3_bind_parameter_count(st) > 0)
		db_bind_text(st, 1, org);
	n = sqlite3_column_count(st);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		for (i = 0; i < n && i < 8; i++)
			if ((v[i] = (const char *)sqlite3_column_text(st,
			    i)) == NULL)
				v[i] = "";
		cb(arg, n, v);
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return (db_fail("%s", sqlite3_errstr(rc)));
	return (0);
}
