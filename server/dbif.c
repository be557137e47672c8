/*
 * The database's interface (server.h): db_use() says which backend
 * (--db: a postgresql:// URL for PostgreSQL, db_pg.c; else the SQLite
 * file of the state directory, db.c), db_open() opens it, and the db_*()
 * functions go to it.  What does not depend on the backend is here (the
 * command line's changes, in SQL both accept with ? for each parameter,
 * and the messages of their failures) or in dbutil.c.
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

static int	 db_run(const char *, const char *, ...);
static void	 db_account_why(const struct account *);

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
 * What changed since the last call: DB_CHANGED_ACCOUNTS when another
 * connection (the CLI) may have changed the accounts, DB_CHANGED_ALL
 * too when the database was reconnected (anything may have changed);
 * tunnel(arg, id) for each tunnel another node wrote (PostgreSQL's
 * NOTIFY sc_tunnels).  0: nothing (or cannot tell).
 */
int
db_changed(void (*tunnel)(void *, const char *), void *arg)
{
	return (ops->changed(tunnel, arg));
}

/* Nodes may share the database (PostgreSQL): a cluster. */
int
db_shared(void)
{
	return (ops == &db_pg_ops);
}

/*
 * The descriptor to watch for what the database tells (NOTIFY), -1
 * when there is none: it changes when the database is reconnected.
 */
int
db_socket(void)
{
	return (ops->socket != NULL ? ops->socket() : -1);
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
 * The changes of the registry the REST worker sent (buf, len: its
 * header and a line per changed tunnel, db_tunnels_delta()), written in
 * one transaction; with replace, the tunnels not listed are deleted.  0
 * once it is committed, or an errno.
 */
int
db_tunnels_write(const char *buf, size_t len, int replace,
    void (*stale)(void *, const char *), void *arg)
{
	return (ops->tunnels_write(buf, len, replace, env->node, stale,
	    arg));
}

/*
 * The lines of the tunnels ids (n of them) as the database holds them,
 * read at once: cb(arg, id, line, len) for each one it has (the others
 * it has not).  0, or -1.
 */
int
db_tunnel_lines(const char *const *ids, size_t n, void (*cb)(void *,
    const char *, const char *, size_t), void *arg)
{
	return (ops->tunnel_lines(ids, n, cb, arg));
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
 * One statement with parameters (? each, in SQL both backends accept):
 * fmt has a letter for each, s a text (NULL or "" is NULL), bs a salt,
 * bh a hash (bytes), i an int64_t.  -1 with the reason in db_error():
 * "UNIQUE ..." or "FOREIGN KEY ..." for those constraints, "not found"
 * when it changed no row.
 */
static int
db_run(const char *sql, const char *fmt, ...)
{
	va_list	 ap;
	int	 rc;

	va_start(ap, fmt);
	rc = ops->run(sql, fmt, ap);
	va_end(ap);
	return (rc);
}

int
db_org_add(const char *name)
{
	if (db_run("INSERT INTO orgs (name, created) VALUES (?, ?)", "si",
	    name, (int64_t)time(NULL)) == -1) {
		if (strstr(db_error(), "UNIQUE") != NULL)
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
		if (strstr(db_error(), "UNIQUE") != NULL)
			db_fail("team %s of %s exists", name, org);
		else if (strstr(db_error(), "FOREIGN KEY") != NULL)
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
	const char	*e = db_error();

	if (strstr(e, "UNIQUE") != NULL)
		db_fail("user %s exists", a->name);
	else if (strstr(e, "FOREIGN KEY") != NULL && a->team[0] != '\0')
		db_fail("no team %s in organisation %s (sc-server team add "
		    "%s %s)", a->team, a->org, a->org, a->team);
	else if (strstr(e, "FOREIGN KEY") != NULL)
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
		if (strcmp(db_error(), "not found") == 0)
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
		if (strcmp(db_error(), "not found") == 0)
			db_fail("no user %s", name);
		return (-1);
	}
	return (0);
}

/*
 * A row's first column: db_tunnel_node()'s node ("" for NULL), and
 * db_cluster_secret()'s secret
 */
struct db_node_name {
	char	*buf;
	size_t	 len;
	int	 found;
};

static void
db_tunnel_node_row(void *arg, int n, const char **v)
{
	struct db_node_name	*nn = arg;

	if (n < 1)
		return;
	nn->found = 1;
	strlcpy(nn->buf, v[0], nn->len);
}

/*
 * The node that holds the client session of tunnel id into node (""
 * when none does): 0, or -1 ("not found" in db_error() when there is no
 * such tunnel).
 */
int
db_tunnel_node(const char *id, char *node, size_t len)
{
	struct db_node_name	 nn;

	if (len == 0)
		return (db_fail("no room"));
	*node = '\0';
	nn.buf = node;
	nn.len = len;
	nn.found = 0;
	if (ops->list("SELECT coalesce(node, '') FROM tunnels WHERE id = ?",
	    id, db_tunnel_node_row, &nn) == -1)
		return (-1);
	if (!nn.found)
		return (db_fail("not found"));
	if (*node != '\0' && !node_name_valid(node)) {
		*node = '\0';
		return (db_fail("tunnel %s: a bad node name", id));
	}
	return (0);
}

/* The columns of a node's row, in struct node_info's order. */
#define DB_NODE_COLUMNS	"name, host, kgp_port, entry_port, rest_url, " \
	"cert_sha256, state, tunnels, streams, started, heartbeat"
#define DB_NODE_NCOLUMNS	11

/* One row of DB_NODE_COLUMNS into ni: 0, or -1 when it does not fit. */
int
db_node_parse(int n, const char **v, struct node_info *ni)
{
	const char	*errstr;
	int64_t		 now = time(NULL);

	memset(ni, 0, sizeof(*ni));
	if (n < DB_NODE_NCOLUMNS || !node_name_valid(v[0]) ||
	    strlcpy(ni->host, v[1], sizeof(ni->host)) >= sizeof(ni->host) ||
	    strlcpy(ni->rest_url, v[4], sizeof(ni->rest_url)) >=
	    sizeof(ni->rest_url) || strlcpy(ni->cert_sha256, v[5],
	    sizeof(ni->cert_sha256)) >= sizeof(ni->cert_sha256) ||
	    (ni->state = node_state_parse(v[6])) == -1)
		return (-1);
	strlcpy(ni->name, v[0], sizeof(ni->name));
	ni->kgp_port = strtonum(v[2], 0, 65535, &errstr);
	if (errstr != NULL)
		return (-1);
	ni->entry_port = strtonum(v[3], 0, 65535, &errstr);
	if (errstr != NULL)
		return (-1);
	ni->tunnels = strtonum(v[7], 0, LLONG_MAX, &errstr);
	if (errstr != NULL)
		return (-1);
	ni->streams = strtonum(v[8], 0, LLONG_MAX, &errstr);
	if (errstr != NULL)
		return (-1);
	ni->started = strtonum(v[9], 0, LLONG_MAX, &errstr);
	if (errstr != NULL)
		return (-1);
	ni->heartbeat = strtonum(v[10], 0, LLONG_MAX, &errstr);
	if (errstr != NULL)
		return (-1);
	ni->alive = ni->state != NODE_DOWN &&
	    now - ni->heartbeat < NODE_DEAD_SEC;
	return (0);
}

/* A statement that changes no accounts (ops->exec): 0, or -1. */
static int
db_exec_params(const char *sql, const char *fmt, ...)
{
	va_list	 ap;
	int	 rc;

	va_start(ap, fmt);
	rc = ops->exec(sql, fmt, ap);
	va_end(ap);
	return (rc);
}

/*
 * This node's heartbeat: its row (ni) upserted.  With keep, a state
 * 'draining' written by the command line stays.  0, or -1.
 */
int
db_node_beat(const struct node_info *ni, int keep)
{
	return (db_exec_params("INSERT INTO nodes (name, host, kgp_port, "
	    "entry_port, rest_url, cert_sha256, state, tunnels, streams, "
	    "started, heartbeat) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON "
	    "CONFLICT (name) DO UPDATE SET host = excluded.host, kgp_port = "
	    "excluded.kgp_port, entry_port = excluded.entry_port, rest_url = "
	    "excluded.rest_url, cert_sha256 = excluded.cert_sha256, state = "
	    "CASE WHEN ? = 1 AND nodes.state = 'draining' THEN 'draining' "
	    "ELSE excluded.state END, tunnels = excluded.tunnels, streams = "
	    "excluded.streams, started = excluded.started, heartbeat = "
	    "excluded.heartbeat", "ssiisssiiiii", ni->name, ni->host,
	    (int64_t)ni->kgp_port, (int64_t)ni->entry_port, ni->rest_url,
	    ni->cert_sha256, node_state_name(ni->state), (int64_t)ni->tunnels,
	    (int64_t)ni->streams, (int64_t)ni->started,
	    (int64_t)ni->heartbeat, (int64_t)(keep != 0)));
}

/*
 * The nodes whose heartbeat is older than before are down: marked so,
 * and the tunnels whose session they held held by none.  1 when some
 * node was marked down now, 0 when none was, -1 on a failure.
 */
int
db_nodes_sweep(int64_t before)
{
	/* "not found": no row changed */
	if (db_exec_params("UPDATE tunnels SET node = NULL WHERE node IN "
	    "(SELECT name FROM nodes WHERE heartbeat < ?)", "i", before) ==
	    -1 && strcmp(db_error(), "not found") != 0)
		return (-1);
	if (db_exec_params("UPDATE nodes SET state = 'down' WHERE heartbeat "
	    "< ? AND state <> 'down'", "i", before) == -1)
		return (strcmp(db_error(), "not found") == 0 ? 0 : -1);
	return (1);
}

/* Each node's row (DB_NODE_COLUMNS) to cb(arg, columns, values). */
int
db_nodes(void (*cb)(void *, int, const char **), void *arg)
{
	return (ops->list("SELECT " DB_NODE_COLUMNS " FROM nodes ORDER BY "
	    "name", NULL, cb, arg));
}

/*
 * Tunnel id's session: held by this node (up), or no longer (then the
 * node is cleared only if it is this one).  0, or -1.
 */
int
db_tunnel_node_set(const char *id, int up)
{
	int	 rc;

	if (up)
		rc = db_exec_params("UPDATE tunnels SET node = ? WHERE id = ?",
		    "ss", env->node, id);
	else
		rc = db_exec_params("UPDATE tunnels SET node = NULL WHERE id = "
		    "? AND node = ?", "ss", id, env->node);
	if (rc == -1 && strcmp(db_error(), "not found") == 0)
		rc = 0;
	return (rc);
}

/* sc-server node drain NAME: its row says 'draining'.  0, or -1. */
int
db_node_drain(const char *name)
{
	if (db_exec_params("UPDATE nodes SET state = 'draining' WHERE name = "
	    "? AND state <> 'down'", "s", name) == -1) {
		if (strcmp(db_error(), "not found") == 0)
			db_fail("no node %s that is up", name);
		return (-1);
	}
	return (0);
}

/*
 * The cluster's node secret (NODE_SECRET_LEN hex digits) into buf: the
 * first node that needs it makes it at random, every other one reads
 * that one.  0, or -1 with the reason in db_error().
 */
int
db_cluster_secret(char *buf, size_t len)
{
	struct db_node_name	 nn;
	uint8_t			 r[NODE_SECRET_LEN / 2];
	char			 hex[NODE_SECRET_LEN + 1];

	if (len < sizeof(hex))
		return (db_fail("no room"));
	arc4random_buf(r, sizeof(r));
	hexencode(r, sizeof(r), hex);
	explicit_bzero(r, sizeof(r));
	/* no row changed ("not found"): another node made it first */
	if (db_exec_params("INSERT INTO cluster (name, value) VALUES ('node-secret', "
	    "?) ON CONFLICT (name) DO NOTHING", "s", hex) == -1 &&
	    strcmp(db_error(), "not found") != 0) {
		explicit_bzero(hex, sizeof(hex));
		return (-1);
	}
	explicit_bzero(hex, sizeof(hex));
	*buf = '\0';
	nn.buf = buf;
	nn.len = len;
	nn.found = 0;
	if (ops->list("SELECT value FROM cluster WHERE name = 'node-secret'",
	    NULL, db_tunnel_node_row, &nn) == -1)
		return (-1);
	if (!nn.found || strlen(buf) != NODE_SECRET_LEN ||
	    strspn(buf, "0123456789abcdef") != NODE_SECRET_LEN) {
		explicit_bzero(buf, len);
		return (db_fail("the cluster's node-secret is not %d hex "
		    "digits", NODE_SECRET_LEN));
	}
	return (0);
}
