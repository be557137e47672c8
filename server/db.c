/*
 * The database's SQLite backend (db.h; the default, without --db):
 * statedir/sc-server.db, one SQLite file (mode 0600) that
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
 * migrations (dbif.c, beside PostgreSQL's), each run once in a transaction
 * of its own.  Migration 1
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
#include "db.h"


static sqlite3	*db;
static char	 db_path[PATH_MAX];
static int64_t	 db_version_seen = -1;	/* PRAGMA data_version */
static int	 db_events_added;

static int	 db_errno(int);
static int	 db_exec(const char *);
static int64_t	 db_int(const char *);
static int	 db_migrate(const char *);
static int	 db_bind_text(sqlite3_stmt *, int, const char *);
static int	 sq_tunnel_put(void *, const char *, const char *,
		    const char *, const char *, size_t);
static int	 sq_tunnel_del(void *, const char *);
static int	 sq_open(const char *, const char *);
static void	 sq_close(void);
static const char *sq_file(void);
static int	 sq_changed(void (*)(void *, const char *), void *);
static int	 sq_accounts(struct accountlist *);
static char	*sq_tunnels_text(size_t *);
static int	 sq_tunnels_write(const char *, size_t, int, const char *,
		    void (*)(void *, const char *), void *);
static int	 sq_tunnel_lines(const char *const *, size_t,
		    void (*)(void *, const char *, const char *, size_t), void *);
static int	 sq_event_add(time_t, int, const char *, const char *,
		    const char *, const char *);
static char	*sq_events_json(const char *, time_t, int, size_t *);
static int	 sq_run(const char *, const char *, va_list);
static int	 sq_list(const char *, const char *, void (*)(void *, int,
		    const char **), void *);

const struct db_ops db_sqlite_ops = {
	"sqlite", sq_open, sq_close, sq_file, sq_changed, sq_accounts,
	sq_tunnels_text, sq_tunnels_write, sq_tunnel_lines, NULL, sq_event_add,
	sq_events_json,
	sq_run, sq_run, sq_list
};

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

/*
 * Open statedir/sc-server.db (made, mode 0600, if it is not there), set
 * it up and run the migrations it lacks.  -1 with the reason in
 * db_error().
 */
static int
sq_open(const char *statedir, const char *url)
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
		char	 why[512];

		strlcpy(why, db_error(), sizeof(why));
		sq_close();
		return (db_fail("%s: %s", db_path, why));
	}
	sq_changed(NULL, NULL);
	return (0);
}

static void
sq_close(void)
{
	if (db != NULL)
		sqlite3_close(db);
	db = NULL;
}

static const char *
sq_file(void)
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
		if (v > db_nmigrations) {
			db_fail("schema version %lld, newer than this "
			    "sc-server knows (%d)", (long long)v, db_nmigrations);
			goto fail;
		}
		if (v == db_nmigrations)
			break;
		if (db_exec(db_migrations[v].sqlite) == -1)
			goto fail;
		snprintf(from, sizeof(from), "%s/%s", statedir, ACCOUNTS_FILE);
		if (v == 0 && db_import_accounts(from, &imported, sq_run) == -1)
			goto fail;
		snprintf(to, sizeof(to), "PRAGMA user_version=%lld",
		    (long long)v + 1);
		if (db_exec(to) == -1 || db_exec("COMMIT") == -1)
			goto fail;
		log_info("%s: schema version %lld", db_path,
		    (long long)v + 1);
	}
	db_exec("COMMIT");
	db_import_done(from, imported, db_path);
	return (0);
 fail:
	db_exec("ROLLBACK");
	return (-1);
}

/*
 * Did another connection (the CLI) commit since the last call?  1 yes,
 * 0 no (or cannot tell).
 */
static int
sq_changed(void (*tunnel)(void *, const char *), void *arg)
{
	int64_t	 v;

	if ((v = db_int("PRAGMA data_version")) == -1 || v == db_version_seen)
		return (0);
	db_version_seen = v;
	return (DB_CHANGED_ACCOUNTS);
}

/* Every account into list (empty); -1 on error. */
static int
sq_accounts(struct accountlist *list)
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
static char *
sq_tunnels_text(size_t *lenp)
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

/* The lines of the tunnels ids (db_tunnel_lines()). */
static int
sq_tunnel_lines(const char *const *ids, size_t n, void (*cb)(void *,
    const char *, const char *, size_t), void *arg)
{
	sqlite3_stmt	*st;
	const char	*p;
	size_t		 i;
	int		 rc = SQLITE_DONE;

	if (sqlite3_prepare_v2(db, "SELECT line FROM tunnels WHERE id = ?",
	    -1, &st, NULL) != SQLITE_OK)
		return (db_fail("%s", sqlite3_errmsg(db)));
	for (i = 0; i < n; i++) {
		sqlite3_bind_text(st, 1, ids[i], -1, SQLITE_STATIC);
		if ((rc = sqlite3_step(st)) == SQLITE_ROW &&
		    (p = (const char *)sqlite3_column_text(st, 0)) != NULL)
			cb(arg, ids[i], p, sqlite3_column_bytes(st, 0));
		else if (rc != SQLITE_ROW && rc != SQLITE_DONE)
			break;
		sqlite3_reset(st);
	}
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		db_fail("%s", sqlite3_errmsg(db));
		sqlite3_finalize(st);
		return (-1);
	}
	sqlite3_finalize(st);
	return (0);
}

/* the statements of a write of the registry's changes */
struct sq_write {
	sqlite3_stmt	*put;
	sqlite3_stmt	*del;
	sqlite3_stmt	*seen;
};

/*
 * One tunnel's line (n bytes at p, checked by db_tunnels_delta()) into
 * the tunnels, and its id into the ids seen.  Its node is never written
 * here.
 */
static int
sq_tunnel_put(void *arg, const char *id, const char *owner,
    const char *status, const char *p, size_t n)
{
	struct sq_write	*w = arg;
	int		 rc;

	sqlite3_bind_text(w->put, 1, id, -1, SQLITE_STATIC);
	sqlite3_bind_text(w->put, 2, owner, -1, SQLITE_STATIC);
	sqlite3_bind_text(w->put, 3, status, -1, SQLITE_STATIC);
	sqlite3_bind_text(w->put, 4, p, n, SQLITE_STATIC);
	sqlite3_bind_text(w->seen, 1, id, -1, SQLITE_STATIC);
	if ((rc = sqlite3_step(w->put)) != SQLITE_DONE ||
	    (rc = sqlite3_step(w->seen)) != SQLITE_DONE) {
		db_fail("%s", sqlite3_errmsg(db));
		rc = db_errno(rc);
	} else
		rc = 0;
	sqlite3_reset(w->put);
	sqlite3_reset(w->seen);
	sqlite3_clear_bindings(w->put);
	sqlite3_clear_bindings(w->seen);
	return (rc);
}

/* A tunnel no longer in the registry: its row deleted. */
static int
sq_tunnel_del(void *arg, const char *id)
{
	struct sq_write	*w = arg;
	int		 rc;

	sqlite3_bind_text(w->del, 1, id, -1, SQLITE_STATIC);
	if ((rc = sqlite3_step(w->del)) != SQLITE_DONE) {
		db_fail("%s", sqlite3_errmsg(db));
		rc = db_errno(rc);
	} else
		rc = 0;
	sqlite3_reset(w->del);
	sqlite3_clear_bindings(w->del);
	return (rc);
}

/*
 * The changes of the registry the REST worker sent (buf, len:
 * db_tunnels_delta()), written in one transaction: each tunnel whose
 * line changed is updated, a new one inserted, a deleted one deleted;
 * the others are left alone.  With replace (the first registry of an
 * imported tunnels.json) every tunnel not listed is deleted too.
 * The file is one node's: node and stale are not used.  Returns 0
 * once it is committed, or an errno.
 */
static int
sq_tunnels_write(const char *buf, size_t len, int replace, const char *node,
    void (*stale)(void *, const char *), void *arg)
{
	struct sq_write	 w;
	int		 rc, error = 0;

	memset(&w, 0, sizeof(w));
	if (db_exec("BEGIN IMMEDIATE") == -1)
		return (errno);
	if ((rc = sqlite3_prepare_v2(db, "INSERT INTO tunnels (id, owner, "
	    "status, line) VALUES (?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET "
	    "owner = excluded.owner, status = excluded.status, line = "
	    "excluded.line WHERE line IS NOT excluded.line", -1, &w.put,
	    NULL)) != SQLITE_OK ||
	    (rc = sqlite3_prepare_v2(db, "DELETE FROM tunnels WHERE id = ?",
	    -1, &w.del, NULL)) != SQLITE_OK ||
	    (rc = sqlite3_prepare_v2(db, "INSERT OR IGNORE INTO temp.seen "
	    "(id) VALUES (?)", -1, &w.seen, NULL)) != SQLITE_OK) {
		db_fail("%s", sqlite3_errmsg(db));
		error = db_errno(rc);
		goto done;
	}
	if (db_exec("DELETE FROM temp.seen") == -1) {
		error = errno;
		goto done;
	}
	if ((error = db_tunnels_delta(buf, len, sq_tunnel_put, sq_tunnel_del,
	    &w)) != 0)
		goto done;
	if ((replace && db_exec("DELETE FROM tunnels WHERE id NOT IN (SELECT "
	    "id FROM temp.seen)") == -1) || db_exec("COMMIT") == -1)
		error = errno ? errno : EIO;
 done:
	sqlite3_finalize(w.put);
	sqlite3_finalize(w.del);
	sqlite3_finalize(w.seen);
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
static int
sq_event_add(time_t when, int kind, const char *actor, const char *subject,
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
			log_warnx("%s: old events: %s", db_path, db_error());
	}
	return (0);
}

/*
 * The events since since (Unix seconds) that account may see: its own,
 * and for an admin of an organisation, the organisation's (all, with
 * account NULL); the newest max of them, oldest first, as a JSON array
 * text.  NULL on error.
 */
static char *
sq_events_json(const char *account, time_t since, int max, size_t *lenp)
{
	sqlite3_stmt	*st;
	json_t		*a;
	const char	*v[5];
	char		*s;
	int		 i, rc;

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
		for (i = 0; i < 5; i++)
			v[i] = (const char *)sqlite3_column_text(st, 2 + i);
		if (db_event_json(a, sqlite3_column_int64(st, 0),
		    sqlite3_column_int64(st, 1), v) == -1)
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
sq_run(const char *sql, const char *fmt, va_list ap)
{
	sqlite3_stmt	*st;
	const char	*p;
	int		 i = 1, rc;

	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		return (db_fail("%s", sqlite3_errmsg(db)));
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
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE && rc != SQLITE_ROW)
		return (db_fail("%s", sqlite3_errmsg(db)));
	if (sqlite3_changes(db) == 0)
		return (db_fail("not found"));
	return (0);
}

/* A listing's rows (dbif.c has the statement): cb(arg, columns, values). */
static int
sq_list(const char *sql, const char *param,
    void (*cb)(void *, int, const char **), void *arg)
{
	sqlite3_stmt	*st;
	const char	*v[DB_LIST_COLS];
	int		 i, n, rc;

	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		return (db_fail("%s", sqlite3_errmsg(db)));
	if (sqlite3_bind_parameter_count(st) > 0)
		db_bind_text(st, 1, param);
	n = sqlite3_column_count(st);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		for (i = 0; i < n && i < DB_LIST_COLS; i++)
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
