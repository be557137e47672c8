/*
 * What the database's backends (db.c, db_pg.c) and its interface
 * (dbif.c) share, and that depends on neither backend: the migrations
 * of both, the error of the last failure, the checks of what is
 * written, an event's JSON, the import of an older accounts file, and
 * the masking of a URL's password.  It calls neither of them.
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

static char		 db_err[512];

static const char *const event_names[EVENT_KIND_MAX + 1] = {
	NULL, "tunnel-created", "tunnel-deleted", "tunnel-terminated",
	"sign-in-failed", "share-refused"
};

/* migration 2, with the type of a time (Unix seconds) of each backend */
#define DB_MIGRATION_2(time)						\
	"CREATE TABLE nodes ("						\
	"  name TEXT PRIMARY KEY NOT NULL,"				\
	"  host TEXT NOT NULL,"						\
	"  kgp_port INTEGER NOT NULL,"					\
	"  entry_port INTEGER NOT NULL,"				\
	"  rest_url TEXT NOT NULL,"					\
	"  cert_sha256 TEXT NOT NULL,"					\
	"  state TEXT NOT NULL CHECK (state IN ('up', 'draining', 'down')),"\
	"  tunnels INTEGER NOT NULL DEFAULT 0,"				\
	"  streams INTEGER NOT NULL DEFAULT 0,"				\
	"  started " time " NOT NULL,"					\
	"  heartbeat " time " NOT NULL);"				\
	"ALTER TABLE tunnels ADD COLUMN node TEXT;"			\
	"CREATE TABLE cluster ("					\
	"  name TEXT PRIMARY KEY NOT NULL,"				\
	"  value TEXT NOT NULL);"

/*
 * The migrations, in order: the schema version is how many have run.
 * Never change one that was released: add another, in the words of
 * each backend (the SQLite file, PostgreSQL).
 */
const struct db_migration db_migrations[] = {
	/* 1: the tables (the accounts file is imported in C) */
	{
	/* SQLite */
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
	"CREATE INDEX events_org ON events(org);"
	},
	/*
	 * 2: a cluster of nodes on one database (sc-server --node): each
	 * node's row, the node holding a tunnel's client session, and
	 * the cluster's settings ('node-secret': how nodes know each
	 * other)
	 */
	{
	/* SQLite */
	DB_MIGRATION_2("INTEGER"),
	/* PostgreSQL: BIGINT times */
	DB_MIGRATION_2("BIGINT")
	},
};
const int db_nmigrations = sizeof(db_migrations) / sizeof(db_migrations[0]);

/* The last error, for a message. */
const char *
db_error(void)
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
 * A tunnel's line the worker made (o, parsed), checked before it is
 * written: an id, an owner and a status that fit.  0 with the strings
 * (o's) in *id, *owner, *status, or -1.
 */
static int
db_tunnel_check(json_t *o, const char **id, const char **owner,
    const char **status)
{
	*id = json_string_value(json_object_get(o, "id"));
	*owner = json_string_value(json_object_get(o, "owner"));
	*status = json_string_value(json_object_get(o, "status"));
	if (*id == NULL || !tunnel_id_valid(*id) || *owner == NULL ||
	    !account_name_valid(*owner) || *status == NULL ||
	    (strcmp(*status, "running") != 0 &&
	    strcmp(*status, "halting") != 0 &&
	    strcmp(*status, "terminated") != 0))
		return (-1);
	return (0);
}

/*
 * The changes of the registry the REST worker sent (buf, len): after
 * the header DB_TUNNELS_DELTA, a line per tunnel, either its JSON line
 * to upsert (checked by db_tunnel_check()) or {"delete":"<id>"}.
 * Each goes to put(arg, id, owner, status, line, n) or del(arg, id),
 * in order; 0, or the first errno they or the checks return.
 */
int
db_tunnels_delta(const char *buf, size_t len, int (*put)(void *,
    const char *, const char *, const char *, const char *, size_t),
    int (*del)(void *, const char *), void *arg)
{
	json_t		*o;
	const char	*p, *end = buf + len, *nl, *id, *owner, *status;
	int		 error;

	if (len < sizeof(DB_TUNNELS_DELTA) - 1 || memcmp(buf,
	    DB_TUNNELS_DELTA, sizeof(DB_TUNNELS_DELTA) - 1) != 0)
		return (EINVAL);
	for (p = buf + sizeof(DB_TUNNELS_DELTA) - 1; p < end; p = nl + 1) {
		if ((nl = memchr(p, '\n', end - p)) == NULL)
			nl = end;
		if (nl == p)
			continue;
		if ((o = json_loadb(p, nl - p, JSON_REJECT_DUPLICATES,
		    NULL)) == NULL)
			return (EINVAL);
		/* parsed once: a deletion, or a line to upsert */
		id = json_string_value(json_object_get(o, "delete"));
		if (id != NULL && json_object_size(o) == 1)
			error = tunnel_id_valid(id) ? del(arg, id) : EINVAL;
		else if (db_tunnel_check(o, &id, &owner, &status) == -1)
			error = EINVAL;
		else
			error = put(arg, id, owner, status, p, nl - p);
		json_decref(o);
		if (error != 0)
			return (error);
	}
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

/* A backend's run() with the parameters here. */
static int
db_run_with(int (*run)(const char *, const char *, va_list), const char *sql,
    const char *fmt, ...)
{
	va_list	 ap;
	int	 rc;

	va_start(ap, fmt);
	rc = run(sql, fmt, ap);
	va_end(ap);
	return (rc);
}

/*
 * Migration 1: the accounts of an older version's file, if there is one
 * (*n: how many; -1 when there is no file).  They belong to no
 * organisation, and are admins: they share as before (with every
 * account outside organisations).
 */
int
db_import_accounts(const char *path, int *n, int (*run)(const char *,
    const char *, va_list))
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
		if (db_run_with(run, "INSERT INTO accounts (name, salt, hash, "
		    "role, created) VALUES (?, ?, ?, 'admin', ?)", "sbsbhi",
		    a->name, a->salt, a->hash, (int64_t)time(NULL)) == -1) {
			strlcpy(why, db_err, sizeof(why));
			rc = db_fail("account %s: %s", a->name, why);
			break;
		}
		(*n)++;
	}
	accounts_clear(&list);
	return (rc);
}

/*
 * Once migration 1 is committed: the imported file (from) renamed, and
 * logged (db: the database's name).
 */
void
db_import_done(const char *from, int imported, const char *db)
{
	char	 to[PATH_MAX];

	if (imported < 0)
		return;
	if ((size_t)snprintf(to, sizeof(to), "%s%s", from, MIGRATED_SUFFIX) >=
	    sizeof(to) || rename(from, to) == -1)
		log_warn("rename %s to %s", from, to);
	else
		log_info("%d account%s imported from %s into %s, the file "
		    "kept as %s", imported, imported == 1 ? "" : "s", from, db,
		    to);
}

const char *
event_name(int kind)
{
	if (kind < 1 || kind > EVENT_KIND_MAX)
		return ("?");
	return (event_names[kind]);
}

static const char *const node_states[] = { "up", "draining", "down" };

/* nodes.state: NODE_*, or -1. */
int
node_state_parse(const char *s)
{
	int	 i;

	for (i = 0; i < 3; i++)
		if (strcmp(s, node_states[i]) == 0)
			return (i);
	return (-1);
}

const char *
node_state_name(int state)
{
	if (state < NODE_UP || state > NODE_DOWN)
		return ("?");
	return (node_states[state]);
}
