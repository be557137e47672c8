/*
 * The database in PostgreSQL (--db postgresql://...), through libpq: the
 * same tables as the SQLite file (db.c), made by the same migrations
 * (dbif.c), the schema version in the table sc_schema.
 *
 * One connection, opened at db_open().  Each statement is waited for
 * DB_PG_QUERY_MS at most (and the server ends it then too:
 * statement_timeout); a connection DB_PG_CONNECT_SEC.  When the
 * connection is lost, a statement that was not in a transaction is
 * tried once more on a new connection; after that every call fails at
 * once ("the database is down: ..."), and the connection is tried again
 * when it is called after DB_PG_RETRY_MIN_MS, doubled after each
 * failure up to DB_PG_RETRY_MAX_MS (the parent calls db_changed() every
 * DB_POLL_SEC).  A write is acknowledged only after its COMMIT.
 *
 * The command line's changes of accounts are followed by NOTIFY
 * sc_accounts: the parent LISTENs, and reads the accounts again.
 *
 * The URL's password never reaches a message (db_url_mask()); libpq
 * also takes it from PGPASSWORD or the file PGPASSFILE (~/.pgpass).
 */
#include <sys/types.h>
#include <sys/queue.h>

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <libpq-fe.h>

#include "log.h"
#include "proc.h"
#include "server.h"
#include "db.h"

#define PG_PARAMS_MAX		16	/* parameters of a statement */
#define PG_LOCK_MIGRATE		0x5c5e0001	/* advisory lock: migrations */

static PGconn	*pg;
static char	*pg_url;
static char	 pg_name[512];		/* the URL, password masked */
static char	 pg_down[256];		/* why it is down */
static int64_t	 pg_next;		/* ms: no new connection before */
static int	 pg_wait;		/* ms: the next wait */
static int	 pg_fresh;		/* a new connection: read it all */
static int	 pg_events_added;

static void	 pg_notice(void *, const char *);
static void	 pg_lost(const char *);
static int	 pg_connect(void);
static int	 pg_ready(void);
static int	 pg_wait_for(int, int64_t);
static PGresult	*pg_query(const char *, int, const char *const *,
		    const int *, const int *);
static int	 pg_exec(const char *);
static int	 pg_migrate(const char *);
static int	 pg_errno(void);
static int	 pg_open(const char *, const char *);
static void	 pg_close(void);
static const char *pg_file(void);
static int	 pg_changed(void (*)(void *, const char *), void *);
static int	 pg_socket(void);
static int	 pg_tunnel_lines(const char *const *, size_t,
		    void (*)(void *, const char *, const char *, size_t), void *);
static int	 pg_accounts(struct accountlist *);
static char	*pg_tunnels_text(size_t *);
static void	 pg_array_add(FILE *, const char *, size_t, int);
static int	 pg_tunnel_put(void *, const char *, const char *,
		    const char *, const char *, size_t);
static int	 pg_tunnel_del(void *, const char *);
static int	 pg_tunnels_write(const char *, size_t, int, const char *,
		    void (*)(void *, const char *), void *);
static int	 pg_event_add(time_t, int, const char *, const char *,
		    const char *, const char *);
static char	*pg_events_json(const char *, time_t, int, size_t *);
static int	 pg_run(const char *, const char *, va_list);
static int	 pg_run_quiet(const char *, const char *, va_list);
static int	 pg_run_params(const char *, const char *, va_list, int);
static int	 pg_list(const char *, const char *, void (*)(void *, int,
		    const char **), void *);

const struct db_ops db_pg_ops = {
	"postgresql", pg_open, pg_close, pg_file, pg_changed, pg_accounts,
	pg_tunnels_text, pg_tunnels_write, pg_tunnel_lines, pg_socket,
	pg_event_add, pg_events_json,
	pg_run, pg_run_quiet, pg_list
};

/* The server's notices ("already exists, skipping"): not for stderr. */
static void
pg_notice(void *arg, const char *msg)
{
	log_debug("%s: %.*s", pg_name, (int)strcspn(msg, "\n"), msg);
}

/* libpq's message on one line, as the reason of a failure. */
static void
pg_why(char *buf, size_t len, const char *msg)
{
	char	*p;

	strlcpy(buf, msg != NULL && *msg != '\0' ? msg : "unknown error",
	    len);
	for (p = buf; *p != '\0'; p++)
		if (*p == '\n' || *p == '\t')
			*p = ' ';
	while (p > buf && p[-1] == ' ')
		*--p = '\0';
}

/* The connection is gone (why): the next one after the wait. */
static void
pg_lost(const char *why)
{
	if (pg != NULL) {
		PQfinish(pg);
		pg = NULL;
		log_warnx("%s: " DB_DOWN ": %s", pg_name, why);
	}
	if (why != pg_down)
		strlcpy(pg_down, why, sizeof(pg_down));
	pg_wait = pg_wait == 0 ? DB_PG_RETRY_MIN_MS :
	    pg_wait * 2 > DB_PG_RETRY_MAX_MS ? DB_PG_RETRY_MAX_MS : pg_wait * 2;
	pg_next = mono_ms() + pg_wait;
}

/*
 * A new connection: its waits bounded (connect_timeout, and the
 * server's statement_timeout), LISTEN sc_accounts.  0, or -1.
 */
static int
pg_connect(void)
{
	const char	*kw[] = { "connect_timeout", "options",
			    "application_name", "dbname", NULL };
	const char	*val[5];
	char		 tmo[16], opts[64], why[sizeof(pg_down)];
	PGresult	*res;

	snprintf(tmo, sizeof(tmo), "%d", DB_PG_CONNECT_SEC);
	snprintf(opts, sizeof(opts), "-c statement_timeout=%d",
	    DB_PG_QUERY_MS);
	/* the URL last: what it says wins */
	val[0] = tmo;
	val[1] = opts;
	val[2] = "sc-server";
	val[3] = pg_url;
	val[4] = NULL;
	if ((pg = PQconnectdbParams(kw, val, 1)) == NULL ||
	    PQstatus(pg) != CONNECTION_OK) {
		pg_why(why, sizeof(why), pg ? PQerrorMessage(pg) :
		    "out of memory");
		if (pg != NULL)
			PQfinish(pg);
		pg = NULL;
		pg_lost(why);
		return (db_fail(DB_DOWN ": %s", pg_down));
	}
	PQsetNoticeProcessor(pg, pg_notice, NULL);
	res = PQexec(pg, "LISTEN sc_accounts; LISTEN " DB_PG_CHANNEL_TUNNELS);
	if (PQresultStatus(res) != PGRES_COMMAND_OK) {
		pg_why(why, sizeof(why), PQerrorMessage(pg));
		PQclear(res);
		pg_lost(why);
		return (db_fail(DB_DOWN ": %s", pg_down));
	}
	PQclear(res);
	if (pg_wait != 0)
		log_info("%s: the database is back", pg_name);
	pg_wait = 0;
	pg_fresh = 1;
	return (0);
}

/* A connection to use now, or -1 (the reason in db_error()). */
static int
pg_ready(void)
{
	if (pg != NULL && PQstatus(pg) == CONNECTION_OK)
		return (0);
	if (pg != NULL) {
		char	 why[sizeof(pg_down)];

		pg_why(why, sizeof(why), PQerrorMessage(pg));
		pg_lost(why);
	}
	if (mono_ms() < pg_next) {
		errno = ENOTCONN;
		return (db_fail(DB_DOWN ": %s", pg_down));
	}
	if (pg_connect() == -1) {
		errno = ENOTCONN;
		return (-1);
	}
	return (0);
}

/* Wait for the connection to be readable until deadline: 0, or -1. */
static int
pg_wait_for(int fd, int64_t deadline)
{
	struct pollfd	 pfd;
	int64_t		 left;
	int		 n;

	for (;;) {
		if ((left = deadline - mono_ms()) <= 0)
			return (-1);
		pfd.fd = fd;
		pfd.events = POLLIN;
		if ((n = poll(&pfd, 1, (int)left)) > 0)
			return (0);
		if (n == -1 && errno != EINTR)
			return (-1);
	}
}

/*
 * One statement (several, without parameters), waited for
 * DB_PG_QUERY_MS at most: its result (PQclear() it), or NULL with the
 * reason in db_error().  Lost connections: see above.
 */
static PGresult *
pg_query(const char *sql, int n, const char *const *vals, const int *lens,
    const int *fmts)
{
	PGresult	*res, *r;
	const char	*state;
	char		 why[sizeof(pg_down)];
	int64_t		 deadline;
	int		 idle, again = 1, sent;

 retry:
	if (pg_ready() == -1)
		return (NULL);
	idle = PQtransactionStatus(pg) == PQTRANS_IDLE;
	deadline = mono_ms() + DB_PG_QUERY_MS;
	if (n == 0)
		sent = PQsendQuery(pg, sql);
	else
		sent = PQsendQueryParams(pg, sql, n, NULL, vals, lens, fmts,
		    0);
	res = NULL;
	while (sent) {
		while (PQisBusy(pg)) {
			if (pg_wait_for(PQsocket(pg), deadline) == -1) {
				snprintf(why, sizeof(why), "no answer within "
				    "%d ms", DB_PG_QUERY_MS);
				PQclear(res);
				pg_lost(why);
				errno = ENOTCONN;
				db_fail(DB_DOWN ": %s", why);
				return (NULL);
			}
			if (!PQconsumeInput(pg))
				break;
		}
		if ((r = PQgetResult(pg)) == NULL)
			break;
		PQclear(res);
		res = r;
		if (PQstatus(pg) != CONNECTION_OK)
			break;
	}
	if (res != NULL && (PQresultStatus(res) == PGRES_COMMAND_OK ||
	    PQresultStatus(res) == PGRES_TUPLES_OK))
		return (res);
	if (PQstatus(pg) != CONNECTION_OK) {
		PQclear(res);
		pg_why(why, sizeof(why), PQerrorMessage(pg));
		pg_lost(why);
		/* a server restarted since: once more, on a new one */
		if (idle && again--) {
			pg_next = 0;
			goto retry;
		}
		errno = ENOTCONN;
		db_fail(DB_DOWN ": %s", why);
		return (NULL);
	}
	pg_why(why, sizeof(why), res ? PQresultErrorField(res,
	    PG_DIAG_MESSAGE_PRIMARY) : PQerrorMessage(pg));
	state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	/* the words of SQLite's messages, which dbif.c looks for */
	if (state != NULL && strcmp(state, "23505") == 0)
		db_fail("UNIQUE constraint failed: %s", why);
	else if (state != NULL && strcmp(state, "23503") == 0)
		db_fail("FOREIGN KEY constraint failed: %s", why);
	else
		db_fail("%s", why);
	errno = state != NULL && strncmp(state, "23", 2) == 0 ? EINVAL : EIO;
	PQclear(res);
	return (NULL);
}

/* A statement without an answer: 0, or -1 with errno set. */
static int
pg_exec(const char *sql)
{
	PGresult	*res;

	if ((res = pg_query(sql, 0, NULL, NULL, NULL)) == NULL)
		return (-1);
	PQclear(res);
	return (0);
}

/* An errno for the last failure. */
static int
pg_errno(void)
{
	return (errno != 0 ? errno : EIO);
}

static int
pg_open(const char *statedir, const char *url)
{
	char	 why[sizeof(pg_name)];

	free(pg_url);
	if ((pg_url = strdup(url)) == NULL)
		return (db_fail("out of memory"));
	strlcpy(pg_name, url, sizeof(pg_name));
	db_url_mask(pg_name);
	pg_next = 0;
	pg_wait = 0;
	if (pg_connect() == -1 || pg_migrate(statedir) == -1) {
		strlcpy(why, db_error(), sizeof(why));
		pg_close();
		return (db_fail("%s: %s", pg_name, why));
	}
	pg_fresh = 0;
	return (0);
}

static void
pg_close(void)
{
	if (pg != NULL)
		PQfinish(pg);
	pg = NULL;
}

static const char *
pg_file(void)
{
	return (pg_name);
}

/*
 * The migrations the database lacks, each in a transaction of its own;
 * an advisory lock keeps two that start at once apart.
 */
static int
pg_migrate(const char *statedir)
{
	PGresult	*res;
	char		 from[PATH_MAX], sql[128];
	long long	 v;
	int		 imported = -1;

	snprintf(from, sizeof(from), "%s/%s", statedir, ACCOUNTS_FILE);
	for (;;) {
		if (pg_exec("BEGIN") == -1)
			return (-1);
		snprintf(sql, sizeof(sql), "SELECT pg_advisory_xact_lock(%d)",
		    PG_LOCK_MIGRATE);
		if (pg_exec(sql) == -1 || pg_exec("CREATE TABLE IF NOT EXISTS "
		    "sc_schema (version INTEGER NOT NULL)") == -1 ||
		    (res = pg_query("SELECT coalesce(max(version), 0) FROM "
		    "sc_schema", 0, NULL, NULL, NULL)) == NULL)
			goto fail;
		v = PQntuples(res) == 1 ? strtoll(PQgetvalue(res, 0, 0), NULL,
		    10) : -1;
		PQclear(res);
		if (v < 0 || v > db_nmigrations) {
			db_fail("schema version %lld, newer than this "
			    "sc-server knows (%d)", v, db_nmigrations);
			goto fail;
		}
		if (v == db_nmigrations)
			break;
		if (pg_exec(db_migrations[v].pg) == -1)
			goto fail;
		if (v == 0 && db_import_accounts(from, &imported, pg_run) == -1)
			goto fail;
		snprintf(sql, sizeof(sql), "DELETE FROM sc_schema; INSERT INTO "
		    "sc_schema (version) VALUES (%lld)", v + 1);
		if (pg_exec(sql) == -1 || pg_exec("COMMIT") == -1)
			goto fail;
		log_info("%s: schema version %lld", pg_name, v + 1);
	}
	if (pg_exec("COMMIT") == -1)
		return (-1);
	db_import_done(from, imported, pg_name);
	return (0);
 fail:
	if (pg != NULL)
		PQclear(PQexec(pg, "ROLLBACK"));
	return (-1);
}

/*
 * The command line changed the accounts (NOTIFY sc_accounts), or the
 * connection is new: DB_CHANGED_ACCOUNTS (and DB_CHANGED_ALL for a new
 * one).  Another node wrote a tunnel (NOTIFY sc_tunnels, its id):
 * tunnel(arg, id); this connection's own are left out.  Down: a new
 * connection is tried, after the wait.
 */
static int
pg_changed(void (*tunnel)(void *, const char *), void *arg)
{
	PGnotify	*n;
	int		 got = 0, self;

	if (pg_ready() == -1)
		return (0);
	if (!PQconsumeInput(pg)) {
		char	 why[sizeof(pg_down)];

		pg_why(why, sizeof(why), PQerrorMessage(pg));
		pg_lost(why);
		return (0);
	}
	self = PQbackendPID(pg);
	while ((n = PQnotifies(pg)) != NULL) {
		if (strcmp(n->relname, DB_PG_CHANNEL_TUNNELS) != 0)
			got |= DB_CHANGED_ACCOUNTS;
		else if (n->be_pid != self && tunnel != NULL &&
		    tunnel_id_valid(n->extra))
			tunnel(arg, n->extra);
		PQfreemem(n);
	}
	if (pg_fresh) {
		pg_fresh = 0;
		got |= DB_CHANGED_ACCOUNTS | DB_CHANGED_ALL;
	}
	return (got);
}

/* The connection's descriptor, -1 when there is none. */
static int
pg_socket(void)
{
	return (pg != NULL && PQstatus(pg) == CONNECTION_OK ? PQsocket(pg) :
	    -1);
}

/* Column i of row r, NULL for NULL. */
static const char *
pg_value(PGresult *res, int r, int i)
{
	return (PQgetisnull(res, r, i) ? NULL : PQgetvalue(res, r, i));
}

/* A bytea column of exactly len bytes into dst: 0, or -1. */
static int
pg_bytes(PGresult *res, int r, int i, uint8_t *dst, size_t len)
{
	unsigned char	*b;
	size_t		 n;
	int		 rc = -1;

	if (PQgetisnull(res, r, i) || (b = PQunescapeBytea((const unsigned
	    char *)PQgetvalue(res, r, i), &n)) == NULL)
		return (-1);
	if (n == len) {
		memcpy(dst, b, len);
		rc = 0;
	}
	explicit_bzero(b, n);
	PQfreemem(b);
	return (rc);
}

static int
pg_accounts(struct accountlist *list)
{
	PGresult	*res;
	struct account	*a;
	const char	*s;
	int		 r;

	if ((res = pg_query("SELECT name, salt, hash, org, team, role FROM "
	    "accounts ORDER BY name", 0, NULL, NULL, NULL)) == NULL)
		return (-1);
	for (r = 0; r < PQntuples(res); r++) {
		if ((a = calloc(1, sizeof(*a))) == NULL) {
			PQclear(res);
			accounts_clear(list);
			return (db_fail("out of memory"));
		}
		s = pg_value(res, r, 0);
		if (s == NULL || !account_name_valid(s) ||
		    pg_bytes(res, r, 1, a->salt, sizeof(a->salt)) == -1 ||
		    pg_bytes(res, r, 2, a->hash, sizeof(a->hash)) == -1) {
			log_warnx("%s: a bad account left out", pg_name);
			freezero(a, sizeof(*a));
			continue;
		}
		strlcpy(a->name, s, sizeof(a->name));
		if ((s = pg_value(res, r, 3)) != NULL)
			strlcpy(a->org, s, sizeof(a->org));
		if ((s = pg_value(res, r, 4)) != NULL)
			strlcpy(a->team, s, sizeof(a->team));
		s = pg_value(res, r, 5);
		a->role = s != NULL ? role_parse(s) : -1;
		if (a->role == -1)
			a->role = ROLE_MEMBER;
		TAILQ_INSERT_TAIL(list, a, entry);
	}
	PQclear(res);
	return (0);
}

static char *
pg_tunnels_text(size_t *lenp)
{
	PGresult	*res;
	char		*buf = NULL;
	size_t		 len = 0;
	FILE		*f;
	int		 r;

	if ((res = pg_query("SELECT line FROM tunnels ORDER BY rowid", 0,
	    NULL, NULL, NULL)) == NULL) {
		errno = pg_errno();
		return (NULL);
	}
	if ((f = open_memstream(&buf, &len)) == NULL) {
		PQclear(res);
		return (NULL);
	}
	fputs(DB_TUNNELS_HEADER, f);
	for (r = 0; r < PQntuples(res); r++) {
		fwrite(PQgetvalue(res, r, 0), 1, PQgetlength(res, r, 0), f);
		fputc('\n', f);
	}
	PQclear(res);
	if (fclose(f) == EOF) {
		if (buf != NULL)
			freezero(buf, len);
		return (NULL);
	}
	*lenp = len;
	return (buf);
}

static int
pg_id_cmp(const void *a, const void *b)
{
	return (strcmp(*(const char *const *)a, *(const char *const *)b));
}

/* One element (n bytes at p) of an array literal, quoted. */
static void
pg_array_add(FILE *f, const char *p, size_t n, int first)
{
	size_t	 i;

	fputs(first ? "\"" : ",\"", f);
	for (i = 0; i < n; i++) {
		if (p[i] == '"' || p[i] == '\\')
			fputc('\\', f);
		fputc(p[i], f);
	}
	fputc('"', f);
}

/*
 * The lines of the tunnels ids (db_tunnel_lines()): one SELECT for them
 * all, however many NOTIFYs named them.
 */
static int
pg_tunnel_lines(const char *const *ids, size_t n, void (*cb)(void *,
    const char *, const char *, size_t), void *arg)
{
	PGresult	*res;
	FILE		*f;
	const char	*v[1];
	char		*a = NULL;
	size_t		 alen = 0, i;
	int		 r;

	if ((f = open_memstream(&a, &alen)) == NULL)
		return (db_fail("out of memory"));
	fputc('{', f);
	for (i = 0; i < n; i++)
		pg_array_add(f, ids[i], strlen(ids[i]), i == 0);
	fputc('}', f);
	if (fclose(f) == EOF) {
		free(a);
		return (db_fail("out of memory"));
	}
	v[0] = a;
	res = pg_query("SELECT id, line FROM tunnels WHERE id = "
	    "ANY($1::text[])", 1, v, NULL, NULL);
	free(a);
	if (res == NULL)
		return (-1);
	for (r = 0; r < PQntuples(res); r++)
		cb(arg, PQgetvalue(res, r, 0), PQgetvalue(res, r, 1),
		    PQgetlength(res, r, 1));
	PQclear(res);
	return (0);
}

/* the arrays of a write of the registry's changes */
struct pg_write {
	FILE		*f[5];		/* id, owner, status, line; deleted */
	int		 n[5];		/* elements in each */
	char		(*ids)[TUNNEL_ID_LEN + 1];	/* upserted */
	size_t		 nids;
	size_t		 maxids;
};

static int
pg_tunnel_put(void *arg, const char *id, const char *owner,
    const char *status, const char *p, size_t n)
{
	struct pg_write	*w = arg;
	void		*m;

	if (w->nids == w->maxids) {
		if ((m = reallocarray(w->ids, w->maxids ? w->maxids * 2 : 16,
		    sizeof(*w->ids))) == NULL)
			return (ENOMEM);
		w->ids = m;
		w->maxids = w->maxids ? w->maxids * 2 : 16;
	}
	strlcpy(w->ids[w->nids++], id, sizeof(w->ids[0]));
	pg_array_add(w->f[0], id, strlen(id), w->n[0]++ == 0);
	pg_array_add(w->f[1], owner, strlen(owner), w->n[1]++ == 0);
	pg_array_add(w->f[2], status, strlen(status), w->n[2]++ == 0);
	pg_array_add(w->f[3], p, n, w->n[3]++ == 0);
	return (0);
}

static int
pg_tunnel_del(void *arg, const char *id)
{
	struct pg_write	*w = arg;

	pg_array_add(w->f[4], id, strlen(id), w->n[4]++ == 0);
	return (0);
}

/*
 * The ids of w's upserts that are not among the rows res changed (its
 * first column): stale(arg, id) for each.
 */
static void
pg_unchanged(struct pg_write *w, PGresult *res, void (*stale)(void *,
    const char *), void *arg)
{
	const char	**got, *id;
	int		  n = PQntuples(res), r;
	size_t		  i;

	if (stale == NULL || w->nids == 0)
		return;
	if ((got = calloc(n ? n : 1, sizeof(*got))) == NULL)
		return;
	for (r = 0; r < n; r++)
		got[r] = PQgetvalue(res, r, 0);
	qsort(got, n, sizeof(*got), pg_id_cmp);
	for (i = 0; i < w->nids; i++) {
		id = w->ids[i];
		if (bsearch(&id, got, n, sizeof(*got), pg_id_cmp) == NULL)
			stale(arg, w->ids[i]);
	}
	free(got);
}

/*
 * The changes of the registry (db_tunnels_delta()) in one statement, so
 * one round trip and one transaction: each changed tunnel's line
 * upserted (never its node), each deleted one deleted, the others left
 * alone (other nodes write theirs); with replace, every tunnel not
 * listed deleted too.  Each row that changed is told to the other nodes
 * (NOTIFY sc_tunnels, its id) at the COMMIT.
 *
 * A line is not taken that would start a terminated tunnel again, nor
 * one that ends a tunnel (not by its owner's DELETE: by a grace period
 * that ran out here) whose session another node than this one (node)
 * holds: its client moved there.  stale(arg, id) hears of each line
 * not taken (or the same as the database's), so that the REST worker
 * gets the database's line.  0 once committed, or an errno.
 */
static int
pg_tunnels_write(const char *buf, size_t len, int replace, const char *node,
    void (*stale)(void *, const char *), void *arg)
{
	struct pg_write	 w;
	PGresult	*res;
	const char	*v[7];
	char		*a[5] = { NULL, NULL, NULL, NULL, NULL };
	size_t		 alen[5] = { 0, 0, 0, 0, 0 };
	int		 error = 0, i;

	memset(&w, 0, sizeof(w));
	for (i = 0; i < 5; i++) {
		if ((w.f[i] = open_memstream(&a[i], &alen[i])) == NULL) {
			error = ENOMEM;
			goto done;
		}
		fputc('{', w.f[i]);
	}
	if ((error = db_tunnels_delta(buf, len, pg_tunnel_put, pg_tunnel_del,
	    &w)) != 0)
		goto done;
	for (i = 0; i < 5; i++) {
		fputc('}', w.f[i]);
		if (fclose(w.f[i]) == EOF)
			error = ENOMEM;
		w.f[i] = NULL;
		v[i] = a[i];
	}
	v[5] = replace ? "t" : "f";
	v[6] = node;
	if (error != 0)
		goto done;
	errno = 0;
	res = pg_query("WITH n AS (SELECT * FROM unnest($1::text[], "
	    "$2::text[], $3::text[], $4::text[]) WITH ORDINALITY AS n(id, "
	    "owner, status, line, ord)), gone AS (DELETE FROM tunnels WHERE "
	    "id = ANY($5::text[]) OR ($6::boolean AND id NOT IN (SELECT id "
	    "FROM n)) RETURNING id), up AS (INSERT INTO tunnels (id, owner, "
	    "status, line) SELECT id, owner, status, line FROM n ORDER BY ord "
	    "ON CONFLICT (id) DO UPDATE SET owner = excluded.owner, status = "
	    "excluded.status, line = excluded.line WHERE tunnels.line IS "
	    "DISTINCT FROM excluded.line AND NOT (tunnels.status = "
	    "'terminated' AND excluded.status <> 'terminated') AND "
	    "(excluded.status <> 'terminated' OR tunnels.status = "
	    "'terminated' OR tunnels.node IS NULL OR tunnels.node = $7 OR "
	    "(excluded.line::jsonb ->> 'user_shutdown') = 'true') RETURNING "
	    "id) SELECT c.id, pg_notify('" DB_PG_CHANNEL_TUNNELS "', c.id) "
	    "FROM (SELECT id FROM gone UNION SELECT id FROM up) c", 7, v,
	    NULL, NULL);
	if (res == NULL)
		error = pg_errno();
	else
		pg_unchanged(&w, res, stale, arg);
	PQclear(res);
 done:
	for (i = 0; i < 5; i++) {
		if (w.f[i] != NULL)
			fclose(w.f[i]);
		/* the lines hold the tunnels' secrets */
		if (a[i] != NULL)
			freezero(a[i], alen[i]);
	}
	free(w.ids);
	return (error);
}

static int
pg_event_add(time_t when, int kind, const char *actor, const char *subject,
    const char *detail, const char *account)
{
	PGresult	*res;
	const char	*v[6];
	char		 t[32], sql[128];

	snprintf(t, sizeof(t), "%lld", (long long)when);
	v[0] = t;
	v[1] = actor;
	v[2] = event_name(kind);
	v[3] = subject;
	v[4] = detail;
	v[5] = account;
	if ((res = pg_query("INSERT INTO events (time, actor, kind, subject, "
	    "detail, account, org) VALUES ($1, $2, $3, $4, $5, $6, (SELECT "
	    "org FROM accounts WHERE name = $6))", 6, v, NULL, NULL)) == NULL)
		return (-1);
	PQclear(res);
	if (++pg_events_added % 1000 == 0) {
		snprintf(sql, sizeof(sql), "DELETE FROM events WHERE seq <= "
		    "(SELECT max(seq) FROM events) - %d", EVENTS_KEEP);
		if (pg_exec(sql) == -1)
			log_warnx("%s: old events: %s", pg_name, db_error());
	}
	return (0);
}

static char *
pg_events_json(const char *account, time_t since, int max, size_t *lenp)
{
	PGresult	*res;
	json_t		*a;
	const char	*v[5];
	char		 t[32], m[16], *s;
	int		 i, r;

	snprintf(t, sizeof(t), "%lld", (long long)since);
	snprintf(m, sizeof(m), "%d", max);
	v[0] = t;
	v[1] = account != NULL && *account != '\0' ? account : NULL;
	v[2] = m;
	if ((res = pg_query("SELECT seq, time, actor, kind, subject, detail, "
	    "account FROM events WHERE time >= $1 AND ($2::text IS NULL OR "
	    "account = $2 OR actor = $2 OR org IN (SELECT org FROM accounts "
	    "WHERE name = $2 AND role = 'admin' AND org IS NOT NULL)) ORDER "
	    "BY seq DESC LIMIT $3", 3, v, NULL, NULL)) == NULL)
		return (NULL);
	if ((a = json_array()) == NULL) {
		PQclear(res);
		return (NULL);
	}
	for (r = 0; r < PQntuples(res); r++) {
		for (i = 0; i < 5; i++)
			v[i] = pg_value(res, r, 2 + i);
		if (db_event_json(a, strtoll(PQgetvalue(res, r, 0), NULL, 10),
		    strtoll(PQgetvalue(res, r, 1), NULL, 10), v) == -1)
			break;
	}
	PQclear(res);
	s = json_dumps(a, JSON_COMPACT);
	json_decref(a);
	if (s != NULL)
		*lenp = strlen(s);
	return (s);
}

/*
 * dbif.c's statements: ? becomes $1, $2, ...; fmt as db_run() says.
 * The accounts changed: NOTIFY sc_accounts.
 */
static int
pg_run(const char *sql, const char *fmt, va_list ap)
{
	return (pg_run_params(sql, fmt, ap, 1));
}

/* The same, for what is not the accounts (the nodes): no NOTIFY. */
static int
pg_run_quiet(const char *sql, const char *fmt, va_list ap)
{
	return (pg_run_params(sql, fmt, ap, 0));
}

static int
pg_run_params(const char *sql, const char *fmt, va_list ap, int notify)
{
	PGresult	*res;
	const char	*v[PG_PARAMS_MAX], *p;
	int		 l[PG_PARAMS_MAX], f[PG_PARAMS_MAX];
	char		 num[PG_PARAMS_MAX][24], q[1024];
	size_t		 o = 0;
	int		 n = 0, rows;

	for (p = sql; *p != '\0' && o < sizeof(q) - 8; p++) {
		if (*p == '?')
			o += snprintf(q + o, sizeof(q) - o, "$%d", ++n);
		else
			q[o++] = *p;
	}
	if (*p != '\0' || n > PG_PARAMS_MAX)
		return (db_fail("statement too long"));
	q[o] = '\0';
	for (p = fmt, n = 0; *p != '\0' && n < PG_PARAMS_MAX; p++, n++) {
		l[n] = f[n] = 0;
		switch (*p) {
		case 's':
			v[n] = va_arg(ap, const char *);
			if (v[n] != NULL && *v[n] == '\0')
				v[n] = NULL;
			break;
		case 'b':
			p++;
			v[n] = (const char *)va_arg(ap, const void *);
			l[n] = *p == 'h' ? 32 : ACCOUNT_SALT_LEN;
			f[n] = 1;
			break;
		case 'i':
			snprintf(num[n], sizeof(num[n]), "%" PRId64,
			    va_arg(ap, int64_t));
			v[n] = num[n];
			break;
		}
	}
	if ((res = pg_query(q, n, v, l, f)) == NULL)
		return (-1);
	rows = atoi(PQcmdTuples(res));
	PQclear(res);
	if (rows == 0)
		return (db_fail("not found"));
	if (notify && pg_exec("NOTIFY sc_accounts") == -1)
		log_warnx("%s: NOTIFY: %s", pg_name, db_error());
	return (0);
}

static int
pg_list(const char *sql, const char *param,
    void (*cb)(void *, int, const char **), void *arg)
{
	PGresult	*res;
	const char	*v[DB_LIST_COLS], *p;
	char		 q[1024];
	int		 i, n, r;

	/* one parameter at most */
	if ((p = strchr(sql, '?')) != NULL) {
		if (snprintf(q, sizeof(q), "%.*s$1::text%s", (int)(p - sql),
		    sql, p + 1) >= (int)sizeof(q))
			return (db_fail("statement too long"));
		v[0] = param != NULL && *param != '\0' ? param : NULL;
		res = pg_query(q, 1, v, NULL, NULL);
	} else
		res = pg_query(sql, 0, NULL, NULL, NULL);
	if (res == NULL)
		return (-1);
	n = PQnfields(res);
	for (r = 0; r < PQntuples(res); r++) {
		for (i = 0; i < n && i < DB_LIST_COLS; i++)
			v[i] = PQgetvalue(res, r, i);
		cb(arg, n, v);
	}
	PQclear(res);
	return (0);
}
