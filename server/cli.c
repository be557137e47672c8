/*
 * The command line of the database: accounts, organisations, teams and
 * the event log.  It opens the database itself (dbif.c: the SQLite
 * file, or PostgreSQL with --db), as the server does, and may run while
 * the server runs: the server sees a change within DB_POLL_SEC.
 *
 *	sc-server user add NAME [--org ORG] [--team TEAM] [--role ROLE]
 *	sc-server user set NAME [--org ORG] [--team TEAM] [--role ROLE]
 *	    [--new-key]
 *	sc-server user del NAME
 *	sc-server user list
 *	sc-server org add NAME | org list
 *	sc-server team add ORG TEAM | team list [ORG]
 *	sc-server events [--since T]
 *
 * ROLE is admin, team-admin or member: member by default in an
 * organisation, admin outside any (an account outside organisations
 * shares with the others outside, as before there were any).
 */
#include <sys/types.h>
#include <sys/queue.h>

#include <err.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "log.h"
#include "server.h"

/* what "user add" and "user set" were told */
struct cli_opts {
	const char	*org;		/* NULL: not given */
	const char	*team;
	const char	*role;
	int		 newkey;
};

static int	 cli_usage(void);
static void	 cli_name(const char *, const char *, size_t);
static int	 cli_opts(int, char **, struct cli_opts *, int);
static int	 cli_user(int, char **);
static int	 cli_user_put(const char *, struct cli_opts *, int);
static void	 cli_row(void *, int, const char **);
static void	 cli_node_row(void *, int, const char **);
static int	 cli_events(int, char **);
static const char *cli_time(const char *);

static int
cli_usage(void)
{
	fprintf(stderr,
	    "usage: sc-server [-s statedir] user add NAME [--org ORG] "
	    "[--team TEAM] [--role ROLE]\n"
	    "       sc-server [-s statedir] user set NAME [--org ORG] "
	    "[--team TEAM] [--role ROLE] [--new-key]\n"
	    "       sc-server [-s statedir] user del NAME | user list\n"
	    "       sc-server [-s statedir] org add NAME | org list\n"
	    "       sc-server [-s statedir] team add ORG TEAM | "
	    "team list [ORG]\n"
	    "       sc-server [-s statedir] events [--since T]\n"
	    "       sc-server [-s statedir] --db url node list | "
	    "node drain NAME\n"
	    "ROLE: admin, team-admin or member; T: RFC 3339 or an age "
	    "(30s, 10m, 2h, 7d)\n");
	return (1);
}

/* A name of what (user, organisation, team) that does not do: exit 1. */
static void
cli_name(const char *what, const char *name, size_t max)
{
	char	 shown[64];

	if (name_valid(name, max))
		return;
	log_sanitize(name, shown, sizeof(shown));
	errx(1, "bad %s name \"%s\": 1 to %zu characters of A-Z a-z 0-9 . "
	    "_ @ + -, not starting with - or .", what, shown, max);
}

/*
 * The options of user add/set from argv[from]: 0, or -1 for the usage.
 * "--org ''" and "--team ''" take the account out of its organisation,
 * its team.
 */
static int
cli_opts(int argc, char **argv, struct cli_opts *o, int set)
{
	int	 i;

	memset(o, 0, sizeof(*o));
	for (i = 0; i < argc; i++) {
		if (set && strcmp(argv[i], "--new-key") == 0) {
			o->newkey = 1;
			continue;
		}
		if (i + 1 >= argc)
			return (-1);
		if (strcmp(argv[i], "--org") == 0)
			o->org = argv[++i];
		else if (strcmp(argv[i], "--team") == 0)
			o->team = argv[++i];
		else if (strcmp(argv[i], "--role") == 0)
			o->role = argv[++i];
		else
			return (-1);
	}
	if (o->org != NULL && *o->org != '\0')
		cli_name("organisation", o->org, ORG_NAME_MAX);
	if (o->team != NULL && *o->team != '\0')
		cli_name("team", o->team, TEAM_NAME_MAX);
	if (o->role != NULL && role_parse(o->role) == -1)
		errx(1, "bad role \"%.32s\": admin, team-admin or member",
		    o->role);
	return (0);
}

/* sc-server ... (after the state directory) */
int
db_command(const char *dir, int argc, char **argv)
{
	const char	*what = argv[0];
	int		 ret = 0;

	if (argc < 2 && strcmp(what, "events") != 0)
		return (cli_usage());
	if (strcmp(what, "user") == 0 && strcmp(argv[1], "list") != 0 &&
	    argc >= 3)
		cli_name("user", argv[2], ACCOUNT_NAME_MAX);
	if (db_open(dir) == -1)
		errx(1, "the database: %s", db_error());
	if (strcmp(what, "user") == 0)
		ret = cli_user(argc - 1, argv + 1);
	else if (strcmp(what, "org") == 0 && strcmp(argv[1], "add") == 0 &&
	    argc == 3) {
		cli_name("organisation", argv[2], ORG_NAME_MAX);
		if (db_org_add(argv[2]) == -1)
			errx(1, "%s", db_error());
	} else if (strcmp(what, "org") == 0 && strcmp(argv[1], "list") == 0 &&
	    argc == 2) {
		printf("%-24s %6s %8s  %s\n", "ORGANISATION", "TEAMS", "ACCOUNTS",
		    "CREATED");
		ret = db_list("orgs", NULL, cli_row, "%-24s %6s %8s  %s\n");
	} else if (strcmp(what, "team") == 0 && strcmp(argv[1], "add") == 0 &&
	    (argc == 4 || (argc == 5 && strcmp(argv[3], "--org") == 0))) {
		/* team add ORG TEAM, or team add TEAM --org ORG */
		if (argc == 5) {
			argv[3] = argv[2];
			argv[2] = argv[4];
		}
		cli_name("organisation", argv[2], ORG_NAME_MAX);
		cli_name("team", argv[3], TEAM_NAME_MAX);
		if (db_team_add(argv[2], argv[3]) == -1)
			errx(1, "%s", db_error());
	} else if (strcmp(what, "team") == 0 && strcmp(argv[1], "list") == 0 &&
	    argc <= 3) {
		if (argc == 3)
			cli_name("organisation", argv[2], ORG_NAME_MAX);
		printf("%-24s %-24s %8s  %s\n", "ORGANISATION", "TEAM",
		    "ACCOUNTS", "CREATED");
		ret = db_list("teams", argc == 3 ? argv[2] : NULL, cli_row,
		    "%-24s %-24s %8s  %s\n");
	} else if (strcmp(what, "events") == 0)
		ret = cli_events(argc - 1, argv + 1);
	else if (strcmp(what, "node") == 0 && strcmp(argv[1], "list") == 0 &&
	    argc == 2) {
		printf("%-20s %-28s %-9s %7s %7s %5s\n", "NODE",
		    "HOST:KGP/ENTRY", "STATE", "TUNNELS", "STREAMS", "AGE");
		ret = db_nodes(cli_node_row, NULL);
	} else if (strcmp(what, "node") == 0 && strcmp(argv[1], "drain") == 0 &&
	    argc == 3) {
		if (!node_name_valid(argv[2]))
			errx(1, "bad node name %s", argv[2]);
		if ((ret = db_node_drain(argv[2])) == 0)
			printf("node %s is draining: its clients move to the "
			    "other nodes, then it stops\n", argv[2]);
	} else
		ret = -2;
	db_close();
	if (ret == -2)
		return (cli_usage());
	if (ret == -1)
		errx(1, "%s", db_error());
	if (fflush(stdout) == EOF)
		return (1);
	return (0);
}

/*
 * One node of "node list": its name, addresses, state (down when its
 * heartbeat is older than NODE_DEAD_SEC), load and the age of its
 * heartbeat in seconds.
 */
static void
cli_node_row(void *arg, int n, const char **v)
{
	struct node_info	 ni;
	char			 addr[HOST_MAX + 32];

	if (db_node_parse(n, v, &ni) == -1)
		return;
	snprintf(addr, sizeof(addr), "%s:%d/%d", ni.host, ni.kgp_port,
	    ni.entry_port);
	printf("%-20s %-28s %-9s %7lld %7lld %5lld\n", ni.name, addr,
	    node_state_name(ni.alive ? ni.state : NODE_DOWN), (long long)ni.tunnels, (long long)ni.streams,
	    (long long)(time(NULL) - ni.heartbeat));
}

/* One row of a listing: the format is the arg, the created time last. */
static void
cli_row(void *arg, int n, const char **v)
{
	const char	*fmt = arg;
	const char	*c[8];
	int		 i;

	for (i = 0; i < n && i < 8; i++)
		c[i] = v[i][0] != '\0' ? v[i] : "-";
	c[n - 1] = cli_time(v[n - 1]);
	switch (n) {
	case 4:
		printf(fmt, c[0], c[1], c[2], c[3]);
		break;
	case 5:
		printf(fmt, c[0], c[1], c[2], c[3], c[4]);
		break;
	}
}

/* Unix seconds as text, as RFC 3339 in UTC. */
static const char *
cli_time(const char *secs)
{
	static char	 buf[32];
	struct tm	 tm;
	time_t		 t;

	t = strtoll(secs, NULL, 10);
	if (gmtime_r(&t, &tm) == NULL)
		return ("-");
	strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
	return (buf);
}

/* user add | set | del NAME ..., user list */
static int
cli_user(int argc, char **argv)
{
	struct cli_opts	 o;

	if (strcmp(argv[0], "list") == 0 && argc == 1) {
		printf("%-24s %-16s %-16s %-10s  %s\n", "NAME", "ORGANISATION",
		    "TEAM", "ROLE", "CREATED");
		return (db_list("accounts", NULL, cli_row,
		    "%-24s %-16s %-16s %-10s  %s\n"));
	}
	if (argc < 2)
		return (-2);
	if (strcmp(argv[0], "del") == 0 && argc == 2) {
		if (db_account_del(argv[1]) == -1)
			errx(1, "%s", db_error());
		return (0);
	}
	if (strcmp(argv[0], "add") != 0 && strcmp(argv[0], "set") != 0)
		return (-2);
	if (cli_opts(argc - 2, argv + 2, &o, strcmp(argv[0], "set") == 0) ==
	    -1)
		return (-2);
	return (cli_user_put(argv[1], &o, strcmp(argv[0], "add") == 0));
}

/* A new account (add), or one changed: the key printed when new. */
static int
cli_user_put(const char *name, struct cli_opts *o, int add)
{
	struct accountlist	 list;
	struct account		 a, *old;
	char			 key[ACCOUNT_KEY_LEN + 1];
	int			 rc;

	memset(&a, 0, sizeof(a));
	strlcpy(a.name, name, sizeof(a.name));
	if (!add) {
		TAILQ_INIT(&list);
		if (db_accounts(&list) == -1)
			return (-1);
		if ((old = account_find(&list, name)) == NULL) {
			accounts_clear(&list);
			errx(1, "no user %s", name);
		}
		a = *old;
		accounts_clear(&list);
		/* another organisation: not the old one's team */
		if (o->org != NULL && strcmp(o->org, a.org) != 0 &&
		    o->team == NULL)
			a.team[0] = '\0';
	}
	if (o->org != NULL)
		strlcpy(a.org, o->org, sizeof(a.org));
	if (o->team != NULL)
		strlcpy(a.team, o->team, sizeof(a.team));
	if (a.org[0] == '\0' && a.team[0] != '\0')
		errx(1, "a team is in an organisation: give --org too");
	if (o->role != NULL)
		a.role = role_parse(o->role);
	else if (add)
		a.role = a.org[0] != '\0' ? ROLE_MEMBER : ROLE_ADMIN;
	if (a.role == ROLE_TEAM_ADMIN && a.team[0] == '\0')
		errx(1, "a team admin needs a team: give --team");
	if (add || o->newkey) {
		arc4random_buf(a.salt, sizeof(a.salt));
		account_new_key(key, sizeof(key));
		account_hash(a.salt, key, a.hash);
	}
	rc = add ? db_account_add(&a) : db_account_set(&a, o->newkey);
	explicit_bzero(&a, sizeof(a));
	if (rc == -1) {
		explicit_bzero(key, sizeof(key));
		errx(1, "%s", db_error());
	}
	if (add || o->newkey)
		printf("%s\n", key);
	explicit_bzero(key, sizeof(key));
	return (0);
}

/* events [--since T]: the newest EVENTS_CLI_MAX, oldest first */
static int
cli_events(int argc, char **argv)
{
	json_t		*a, *e;
	time_t		 since = 0;
	size_t		 i, len;
	char		*text;

	if (argc == 2 && strcmp(argv[0], "--since") == 0) {
		if (parse_since(argv[1], time(NULL), &since) == -1)
			errx(1, "--since %.64s: neither RFC 3339 "
			    "(2026-12-07T05:00:00Z) nor an age (30s, 10m, 2h, "
			    "7d)", argv[1]);
	} else if (argc != 0)
		return (-2);
	if ((text = db_events_json(NULL, since, EVENTS_CLI_MAX, &len)) ==
	    NULL)
		return (-1);
	a = json_loadb(text, len, 0, NULL);
	free(text);
	if (a == NULL)
		errx(1, "events: out of memory");
	printf("%-20s %-18s %-16s %-16s %-32s %s\n", "TIME", "KIND", "ACTOR",
	    "ACCOUNT", "SUBJECT", "DETAIL");
	json_array_foreach(a, i, e) {
		printf("%-20s %-18s %-16s %-16s %-32s %s\n",
		    json_string_value(json_object_get(e, "time")),
		    json_string_value(json_object_get(e, "kind")),
		    *json_string_value(json_object_get(e, "actor")) ?
		    json_string_value(json_object_get(e, "actor")) : "-",
		    json_string_value(json_object_get(e, "account")),
		    json_string_value(json_object_get(e, "subject")),
		    json_string_value(json_object_get(e, "detail")));
	}
	json_decref(a);
	return (0);
}
