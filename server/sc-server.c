/*
 * sc-server: the tunnel server.  Four processes: the parent (parent.c)
 * reads the files, binds the ports and writes the registry; three
 * workers, the same program started again with -W, run sandboxed: the
 * REST worker ("-W rest", worker.c) serves the REST API (rest.c) and
 * keeps the accounts and the registry (registry.c, state.c); the KGP
 * worker ("-W kgp", worker.c) serves the KGP endpoint (kgp_server.c)
 * and one entry proxy per running tunnel (entry.c, tunnel.c), and asks
 * for leaf certificates (mint.c); the CA process ("-W ca", ca.c) keeps
 * the key of the CA that resigns TLS and signs them.  What the workers'
 * parts send up goes through hub.c; what the processes share is in
 * privsep.c.
 *
 * The files call downward only: this one (main) calls parent.c,
 * worker.c and ca.c, which call the parts, which call hub.c, guard.c, util.c and
 * privsep.c, which call nothing of the server.  A part that must tell
 * the one above it something gets a callback (hub_init(), entry_init(),
 * state_load()).  tests/tools/filegraph.py checks it.
 */
#include <sys/types.h>
#include <sys/stat.h>

#include <err.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "log.h"
#include "proc.h"
#include "server.h"

#define OPT_LOG_FORMAT	0x100
#define OPT_KGP_CC	0x101
#define OPT_DB		0x102
#define OPT_NODE	0x103
#define OPT_KGP_WORKERS	0x104

static const struct option longopts[] = {
	{ "db",			required_argument, NULL, OPT_DB },
	{ "log-file",		required_argument, NULL, 'l' },
	{ "log-format",		required_argument, NULL, OPT_LOG_FORMAT },
	{ "metrics-address",	required_argument, NULL, 'm' },
	{ "kgp-congestion",	required_argument, NULL, OPT_KGP_CC },
	{ "node",		required_argument, NULL, OPT_NODE },
	{ "kgp-workers",	required_argument, NULL, OPT_KGP_WORKERS },
	{ NULL,			0,		   NULL, 0 }
};

static void	 usage(void) __attribute__((noreturn));
static void	 log_file_open(const char *);
static int	 statedir_default(char *, size_t);
static int	 mkdir_p(const char *, mode_t);
static void	 statedir_prepare(char *, size_t);
static int	 statedir_safe(const char *, char *, size_t);
static void	 node_name_default(char *, size_t);

static void
usage(void)
{
	extern char	*__progname;

	fprintf(stderr, "usage: %s [-dPv] [-s statedir] [-R addr:port] "
	    "[-K addr:port] [-E addr]\n"
	    "\t[-H host] [-g grace_sec] [-M missed] [-A network[,network...]]\n"
	    "\t[-D network[,network...]] [-C certfile -k keyfile]\n"
	    "\t[-c cacert -x cakey] [-l logfile] [--log-format text|json]\n"
	    "\t[-m addr:port] [-G addr:port | none] [--kgp-congestion name]\n"
	    "\t[--db url] [--node name] [--kgp-workers n]\n"
	    "       %s [-s statedir] [--db url] user add | set NAME [--org ORG] "
	    "[--team TEAM]\n"
	    "\t[--role admin|team-admin|member] [--new-key]\n"
	    "       %s [-s statedir] [--db url] user del NAME | user list\n"
	    "       %s [-s statedir] [--db url] org add NAME | org list |\n"
	    "\tteam add ORG TEAM | team list [ORG]\n"
	    "       %s [-s statedir] [--db url] events [--since T]\n"
	    "       %s [-s statedir] --db url node list | node drain NAME\n"
	    "       %s [-s statedir] [-c cacert -x cakey] ca show\n",
	    __progname, __progname, __progname, __progname, __progname,
	    __progname, __progname);
	exit(1);
}

/*
 * -l: the log file, by an absolute name (the parent changes to / when
 * it detaches, and reopens the file by its name on SIGHUP); "-" is
 * standard output.
 */
static void
log_file_open(const char *path)
{
	char	 cwd[PATH_MAX], abs[PATH_MAX];

	if (strcmp(path, "-") != 0 && path[0] != '/') {
		if (getcwd(cwd, sizeof(cwd)) == NULL)
			err(1, "getcwd");
		if ((size_t)snprintf(abs, sizeof(abs), "%s/%s", cwd, path) >=
		    sizeof(abs))
			errx(1, "-l %s: name too long", path);
		path = abs;
	}
	if (log_set_file(path) == -1)
		err(1, "cannot open the log file %s", path);
}

/* Default: /var/lib/sc-server as root, else the XDG state directory. */
static int
statedir_default(char *buf, size_t len)
{
	const char	*p;
	struct passwd	*pw;

	if (geteuid() == 0) {
		strlcpy(buf, SC_SERVER_USER_DEFAULT_STATEDIR, len);
		return (0);
	}
	if ((p = getenv("XDG_STATE_HOME")) != NULL && *p == '/') {
		if ((size_t)snprintf(buf, len, "%s/sc-server", p) >= len)
			return (-1);
		return (0);
	}
	if ((p = getenv("HOME")) == NULL || *p != '/') {
		if ((pw = getpwuid(getuid())) == NULL)
			return (-1);
		p = pw->pw_dir;
	}
	if ((size_t)snprintf(buf, len, "%s/.local/state/sc-server", p) >= len)
		return (-1);
	return (0);
}

/* mkdir -p; directories created get mode. */
static int
mkdir_p(const char *path, mode_t mode)
{
	char	 buf[PATH_MAX], *p;

	if (strlcpy(buf, path, sizeof(buf)) >= sizeof(buf)) {
		errno = ENAMETOOLONG;
		return (-1);
	}
	for (p = buf + 1; *p != '\0'; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, mode) == -1 && errno != EEXIST)
			return (-1);
		*p = '/';
	}
	if (mkdir(buf, mode) == -1 && errno != EEXIST)
		return (-1);
	return (0);
}

/*
 * Is the state directory dir (absolute, symbolic links resolved) safe
 * from other users, as sshd's StrictModes wants ~/.ssh?  It holds the
 * KGP key, the accounts and the tunnels' secrets: it must belong to the
 * user sc-server runs as and be writable by no one else, and each
 * directory above it must belong to root or that user and be writable by
 * no one else, unless its sticky bit keeps others from renaming what is
 * not theirs (as /tmp).  Returns 0, or -1 with the reason in err.
 */
static int
statedir_safe(const char *dir, char *err, size_t errlen)
{
	struct stat	 st;
	char		 buf[PATH_MAX], *p;
	uid_t		 uid = geteuid();

	if (strlcpy(buf, dir, sizeof(buf)) >= sizeof(buf) || buf[0] != '/') {
		snprintf(err, errlen, "%s: not an absolute path", dir);
		return (-1);
	}
	if (stat(buf, &st) == -1) {
		snprintf(err, errlen, "%s: %s", buf, strerror(errno));
		return (-1);
	}
	if (!S_ISDIR(st.st_mode)) {
		snprintf(err, errlen, "%s: not a directory", buf);
		return (-1);
	}
	if (st.st_uid != uid) {
		snprintf(err, errlen, "the state directory %s belongs to uid "
		    "%u, not to uid %u that sc-server runs as", buf,
		    (unsigned)st.st_uid, (unsigned)uid);
		return (-1);
	}
	if (st.st_mode & (S_IWGRP | S_IWOTH)) {
		snprintf(err, errlen, "the state directory %s is writable by "
		    "%s (mode %04o): chmod go-w %s", buf,
		    st.st_mode & S_IWOTH ? "others" : "its group",
		    (unsigned)(st.st_mode & 07777), buf);
		return (-1);
	}
	while (strcmp(buf, "/") != 0) {
		p = strrchr(buf, '/');
		if (p == buf)
			p[1] = '\0';
		else
			*p = '\0';
		if (stat(buf, &st) == -1) {
			snprintf(err, errlen, "%s: %s", buf, strerror(errno));
			return (-1);
		}
		if (st.st_uid != 0 && st.st_uid != uid) {
			snprintf(err, errlen, "%s, above the state directory, "
			    "belongs to uid %u, neither root nor uid %u that "
			    "sc-server runs as", buf, (unsigned)st.st_uid,
			    (unsigned)uid);
			return (-1);
		}
		if ((st.st_mode & (S_IWGRP | S_IWOTH)) &&
		    !(st.st_mode & S_ISVTX)) {
			snprintf(err, errlen, "%s, above the state directory, "
			    "is writable by %s (mode %04o) without the sticky "
			    "bit", buf, st.st_mode & S_IWOTH ? "others" :
			    "its group", (unsigned)(st.st_mode & 07777));
			return (-1);
		}
	}
	return (0);
}

/*
 * The state directory: created (0700) if need be, its absolute path in
 * statedir, refused (exit 1) when others could change it.
 */
static void
statedir_prepare(char *statedir, size_t len)
{
	struct stat	 st;
	char		 abspath[PATH_MAX], why[2 * PATH_MAX + 256];

	if (mkdir_p(statedir, 0700) == -1)
		err(1, "%s", statedir);
	if (realpath(statedir, abspath) == NULL)
		err(1, "%s", statedir);
	if (strlcpy(statedir, abspath, len) >= len)
		errx(1, "state directory name too long");
	if (statedir_safe(statedir, why, sizeof(why)) == -1)
		errx(1, "%s", why);
	if (stat(statedir, &st) == 0 && (st.st_mode & 077))
		log_warnx("state directory %s is accessible by others",
		    statedir);
}

/*
 * --node's default: the host name, which must be a node's name too
 * ([A-Za-z0-9._-], NODE_NAME_MAX - 1 at most).
 */
static void
node_name_default(char *buf, size_t len)
{
	char	 h[HOST_NAME_MAX + 1];

	if (gethostname(h, sizeof(h)) == -1)
		err(1, "gethostname");
	h[sizeof(h) - 1] = '\0';
	if (!node_name_valid(h))
		errx(1, "the host name %s is no node name ([A-Za-z0-9._-], "
		    "1 to %d): use --node", h, NODE_NAME_MAX - 1);
	strlcpy(buf, h, len);
}

int
main(int argc, char *argv[])
{
	static struct server_env	 senv;
	static char			 statedir[PATH_MAX];
	const char			*sflag = NULL, *rflag = NULL;
	const char			*kflag = NULL, *eflag = NULL;
	const char			*hflag = NULL, *errstr;
	const char			*cflag = NULL, *keyflag = NULL;
	const char			*caflag = NULL, *cakeyflag = NULL;
	const char			*lflag = NULL, *mflag = NULL;
	char				*dbflag = NULL;
	const char			*gflag = NULL, *nodeflag = NULL;
	int				 log_format = LOG_FORMAT_TEXT;
	char				 aclerr[128];
	int				 aflag = 0, pflag = 0;
	char				 khost[HOST_MAX], kport[16];
	int				 ch, debug = 0, verbose = 0;
	int				 grace = SC_SERVER_GRACE_DEFAULT;
	int				 missed = KGP_SERVER_MAX_MISSED;
	int				 kgp_workers = 1;
	const char			*self, *progpath = argv[0];
#ifndef __linux__
	static char			 selfpath[PATH_MAX];
#endif

	env = &senv;
	TAILQ_INIT(&env->accounts);
	TAILQ_INIT(&env->tunnels);
	TAILQ_INIT(&env->clients);

	/* a worker, started by the parent: not an option for people */
	if (argc == 3 && strcmp(argv[1], "-W") == 0)
		return (strcmp(argv[2], "ca") == 0 ? ca_main() :
		    worker_main(argv[2]));

	log_procinit("sc-server");
	log_init(LOG_DST_STDERR, LOG_DAEMON);

	/* entry proxies: loopback always, and what -A lists */
	if (entry_acl_add("127.0.0.0/8,::1", aclerr, sizeof(aclerr)) == -1)
		errx(1, "%s", aclerr);

	while ((ch = getopt_long(argc, argv,
	    "+A:c:C:D:dE:g:G:H:k:K:l:m:M:PR:s:vx:", longopts, NULL)) != -1) {
		switch (ch) {
		case 'D':
			if (netmask_list_add(optarg, env->direct_allow,
			    &env->direct_nallow, DIRECT_ALLOW_MAX, aclerr,
			    sizeof(aclerr)) == -1)
				errx(1, "-D %s: %s", optarg, aclerr);
			break;
		case 'G':
			gflag = optarg;
			break;
		case 'l':
			lflag = optarg;
			break;
		case 'm':
			mflag = optarg;
			break;
		case OPT_KGP_CC:
			if (kgp_congestion_valid(optarg) == -1)
				errx(1, "--kgp-congestion %s: not a congestion "
				    "control's name", optarg);
			strlcpy(env->kgp_congestion, optarg,
			    sizeof(env->kgp_congestion));
			break;
		case OPT_NODE:
			if (!node_name_valid(optarg))
				errx(1, "--node %s: want 1 to %d of "
				    "[A-Za-z0-9._-]", optarg,
				    NODE_NAME_MAX - 1);
			nodeflag = optarg;
			break;
		case OPT_DB:
			/* the copy is used; ps shows no password */
			free(dbflag);
			if ((dbflag = strdup(optarg)) == NULL)
				err(1, NULL);
			db_url_mask(optarg);
			break;
		case OPT_LOG_FORMAT:
			if (strcmp(optarg, "text") == 0)
				log_format = LOG_FORMAT_TEXT;
			else if (strcmp(optarg, "json") == 0)
				log_format = LOG_FORMAT_JSON;
			else
				errx(1, "--log-format %s: neither text nor json",
				    optarg);
			break;
		case 'A':
			if (entry_acl_add(optarg, aclerr, sizeof(aclerr)) ==
			    -1)
				errx(1, "-A %s: %s", optarg, aclerr);
			aflag = 1;
			break;
		case 'c':
			caflag = optarg;
			break;
		case 'C':
			cflag = optarg;
			break;
		case 'x':
			cakeyflag = optarg;
			break;
		case 'k':
			keyflag = optarg;
			break;
		case 'P':
			pflag = 1;
			break;
		case 'd':
			debug = 1;
			break;
		case 'E':
			eflag = optarg;
			break;
		case 'g':
			grace = strtonum(optarg, 1, 86400, &errstr);
			if (errstr != NULL)
				errx(1, "grace period %s: %s", optarg, errstr);
			break;
		case 'H':
			hflag = optarg;
			break;
		case OPT_KGP_WORKERS:
			kgp_workers = strtonum(optarg, 1, KGP_WORKERS_MAX,
			    &errstr);
			if (errstr != NULL)
				errx(1, "--kgp-workers %s: %s (1 to %d)", optarg,
				    errstr, KGP_WORKERS_MAX);
			break;
		case 'M':
			missed = strtonum(optarg, 1, 3600, &errstr);
			if (errstr != NULL)
				errx(1, "missed keepalives %s: %s", optarg,
				    errstr);
			break;
		case 'K':
			kflag = optarg;
			break;
		case 'R':
			rflag = optarg;
			break;
		case 's':
			sflag = optarg;
			break;
		case 'v':
			verbose++;
			break;
		default:
			usage();
		}
	}
	argc -= optind;
	argv += optind;

	if (sflag == NULL) {
		if (statedir_default(statedir, sizeof(statedir)) == -1)
			errx(1, "cannot find a state directory, use -s");
	} else if (strlcpy(statedir, sflag, sizeof(statedir)) >=
	    sizeof(statedir))
		errx(1, "state directory name too long");
	env->statedir = statedir;

	if ((caflag == NULL) != (cakeyflag == NULL))
		errx(1, "-c and -x go together: the CA certificate and its key");
	db_use(dbflag);
	env->cluster = db_shared();
	if (argc > 0 && strcmp(argv[0], "ca") == 0) {
		if (debug || verbose || rflag || kflag || eflag || hflag ||
		    cflag || keyflag || aflag || pflag)
			usage();
		if (caflag == NULL)
			statedir_prepare(statedir, sizeof(statedir));
		return (ca_command(statedir, caflag, cakeyflag, argc - 1,
		    argv + 1));
	}
	if (argc > 0) {
		if ((strcmp(argv[0], "user") != 0 &&
		    strcmp(argv[0], "org") != 0 &&
		    strcmp(argv[0], "team") != 0 &&
		    strcmp(argv[0], "events") != 0 &&
		    strcmp(argv[0], "node") != 0) || caflag != NULL)
			usage();
		if (debug || verbose || rflag || kflag || eflag || hflag ||
		    cflag || keyflag || aflag || pflag || lflag || mflag ||
		    gflag)
			usage();
		statedir_prepare(statedir, sizeof(statedir));
		return (db_command(statedir, argc, argv));
	}

	if (nodeflag != NULL)
		strlcpy(env->node, nodeflag, sizeof(env->node));
	else
		node_name_default(env->node, sizeof(env->node));
	env->debug = debug;
	env->verbose = verbose;
	env->grace = grace;
	env->max_missed = missed;
	if (env->kgp_congestion[0] == '\0')
		strlcpy(env->kgp_congestion, KGP_CONGESTION,
		    sizeof(env->kgp_congestion));
	env->entry_auth = pflag;
	log_setverbose(verbose);
	log_set_format(log_format);
	env->kgp_workers = kgp_workers;
	/* a node row names one KGP port (node.c, place.c) */
	if (kgp_workers > 1 && env->cluster)
		errx(1, "--kgp-workers %d: a cluster's node has one KGP port "
		    "(--db postgresql://): run it with one KGP worker",
		    kgp_workers);
	env->logfile = lflag != NULL;
	if (lflag != NULL)
		log_file_open(lflag);
	if ((cflag == NULL) != (keyflag == NULL))
		errx(1, "-C and -k go together: the REST certificate and its "
		    "key");
	env->rest_cert = cflag;
	env->rest_key = keyflag;
	env->ca_cert = caflag;
	env->ca_key = cakeyflag;

	if (parse_hostport(kflag ? kflag : SC_SERVER_KGP_DEFAULT, khost,
	    sizeof(khost), kport, sizeof(kport)) == -1)
		errx(1, "bad KGP address %s (want addr:port)", kflag);
	if (hflag != NULL) {
		if (*hflag == '\0' || strlen(hflag) >= sizeof(env->host) ||
		    strspn(hflag, "abcdefghijklmnopqrstuvwxyz"
		    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-:") !=
		    strlen(hflag))
			errx(1, "bad host name %s", hflag);
		strlcpy(env->host, hflag, sizeof(env->host));
	} else
		strlcpy(env->host, khost, sizeof(env->host));
	if (parse_hostport(eflag ? eflag : SC_SERVER_ENTRY_DEFAULT,
	    env->entry_host, sizeof(env->entry_host), NULL, 0) == -1)
		errx(1, "bad entry proxy address %s", eflag);
	if (mflag != NULL) {
		char	 h[HOST_MAX], p[16];

		if (parse_hostport(mflag, h, sizeof(h), p, sizeof(p)) == -1)
			errx(1, "bad metrics address %s (want addr:port)",
			    mflag);
		env->metrics = 1;
		env->metrics_listen = mflag;
	}
	if (gflag == NULL)
		env->gateway_listen = SC_SERVER_GATEWAY_DEFAULT;
	else if (strcmp(gflag, "none") != 0) {
		char	 h[HOST_MAX], p[16];

		if (parse_hostport(gflag, h, sizeof(h), p, sizeof(p)) == -1)
			errx(1, "bad gateway address %s (want addr:port or "
			    "none)", gflag);
		env->gateway_listen = gflag;
	}
	if (rflag != NULL) {
		char	 h[HOST_MAX], p[16];

		if (parse_hostport(rflag, h, sizeof(h), p, sizeof(p)) == -1)
			errx(1, "bad REST address %s (want addr:port)",
			    rflag);
	}

	signal(SIGPIPE, SIG_IGN);

	statedir_prepare(statedir, sizeof(statedir));

	if ((size_t)snprintf(env->tunnels_path, sizeof(env->tunnels_path),
	    "%s/%s", statedir, TUNNELS_FILE) >= sizeof(env->tunnels_path))
		errx(1, "state directory name too long");

	/* how the parent starts the worker: this very program again */
#ifdef __linux__
	self = "/proc/self/exe";
	(void)progpath;
#else
	if (strchr(progpath, '/') == NULL)
		errx(1, "run sc-server with its path (the worker is started "
		    "from it)");
	if (realpath(progpath, selfpath) == NULL)
		err(1, "%s", progpath);
	self = selfpath;
#endif
	return (parent_main(self, rflag ? rflag : SC_SERVER_REST_DEFAULT,
	    kflag ? kflag : SC_SERVER_KGP_DEFAULT));
}
