/*
 * The command line of sc: the version 5 form (`sc run ...`) and the
 * version 4 form (`sc legacy ...` or a bare `sc -u ...`), the SAUCE_*
 * environment variables, the config file (-c, read by conffile.c) and the
 * defaults.  Precedence: flag > environment > config file > default.
 */
#include <sys/types.h>
#include <sys/stat.h>

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "config.h"
#include "controller.h"
#include "proxyopt.h"
#include "rules.h"
#include "http.h"
#include "log.h"
#include "text.h"

enum opt_code {
	OPT_UNSUPPORTED = 1,
	OPT_USER,
	OPT_KEY,
	OPT_TUNNEL_NAME,
	OPT_REST_URL,
	OPT_REGION,
	OPT_REGIONS,		/* the operator's region table */
	OPT_READYFILE,
	OPT_PIDFILE,
	OPT_LOGFILE,
	OPT_VERBOSE,
	OPT_LOG_LEVEL,
	OPT_LOG_FORMAT,
	OPT_MAX_LOGSIZE,
	OPT_SHARED_V4,
	OPT_SHARED_V5,
	OPT_TUNNEL_POOL,
	OPT_NO_REMOVE,
	OPT_WAIT_SHUTDOWN,
	OPT_TUNNEL_CAINFO,
	OPT_CAINFO,
	OPT_CACERT_FILE,	/* https:// apps: verify against these */
	OPT_CACERT_SYSTEM,	/* ... and the system's CA certificates */
	OPT_MAX_MISSED,
	OPT_CTL_SOCKET,
	OPT_SE_PORT,
	OPT_VM_VERSION,
	OPT_CONNECTIONS,
	OPT_KGP_CONGESTION,
	OPT_KGP_PROCESSES,
	OPT_PROXY,
	OPT_PROXY_USERPWD,
	OPT_PROXY_TUNNEL,
	OPT_PROXY_SAUCE,
	OPT_RULES_DENY,		/* traffic rules: as enum rules_list */
	OPT_RULES_DIRECT,
	OPT_RULES_TUNNEL,
	OPT_RULES_PASSTHROUGH,
	OPT_RULES_RESIGN,
	OPT_AUTH,		/* proxyd: as enum confproxy_opt */
	OPT_HEADER,
	OPT_RESPONSE_HEADER,
	OPT_DNS,
	OPT_DNS_RR,
	OPT_DNS_TIMEOUT,
	OPT_LOCALHOST,
	OPT_ALLOW_NETWORKS,
	OPT_DENY_NETWORKS,
	OPT_SCPROXY_PORT,
	OPT_UPSTREAM,		/* -x, v5 */
	OPT_PAC,
	OPT_DIAL_TIMEOUT,
	OPT_TLS_TIMEOUT,
	OPT_HEADER_TIMEOUT,
	OPT_IDLE_TIMEOUT,
	OPT_METADATA,
	OPT_EXTRA_INFO,		/* the last of confproxy.c's */
	OPT_API_ADDRESS,	/* /readyz, /metrics... (api.c) */
	OPT_API_AUTH,
	OPT_DOCTOR,		/* --doctor: checks, no tunnel (doctor.c) */
	OPT_LOG_STATS,		/* -z: a summary line every N seconds */
	OPT_CONFIG,
	OPT_HELP,
	OPT_VERSION,
	OPT_MAX
};

struct sc_opt {
	const char	*name;
	int		 has_arg;
	int		 shortc;
	enum opt_code	 code;
	int		 list;	/* repeatable or comma-separated: a YAML list */
};

#define U	OPT_UNSUPPORTED
#define L	1

/* --cainfo: read by rest.c (kept out of struct sc_config on purpose) */
char	*config_cainfo;

/* SAUCE_ variables of no option of sc run that sc reads */
static const char *env_other[] = {
	"SAUCE_USERNAME", "SAUCE_ACCESS_KEY", "SAUCE_CONFIG_FILE",
	"SAUCE_LOG_LEVEL", "SAUCE_ACCESS_KEY_FILE", NULL
};

/* version 4: `sc legacy` and a bare `sc -u ...` */
static const struct sc_opt v4_opts[] = {
	{ "user",			1, 'u', OPT_USER },
	{ "username",			1, 0,   OPT_USER },
	{ "api-key",			1, 'k', OPT_KEY },
	{ "access-key",			1, 0,   OPT_KEY },
	{ "tunnel-identifier",		1, 'i', OPT_TUNNEL_NAME },
	{ "tunnel-name",		1, 0,   OPT_TUNNEL_NAME },
	{ "rest-url",			1, 'x', OPT_REST_URL },
	{ "shared-tunnel",		0, 's', OPT_SHARED_V4 },
	{ "tunnel-pool",		0, 0,   OPT_TUNNEL_POOL },
	{ "no-remove-colliding-tunnels", 0, 0,  OPT_NO_REMOVE },
	{ "wait-tunnel-shutdown",	0, 0,   OPT_WAIT_SHUTDOWN },
	{ "readyfile",			1, 'f', OPT_READYFILE },
	{ "pidfile",			1, 'd', OPT_PIDFILE },
	{ "logfile",			1, 'l', OPT_LOGFILE },
	{ "verbose",			0, 'v', OPT_VERBOSE },
	{ "log-format",			1, 0,   OPT_LOG_FORMAT },
	{ "max-logsize",		1, 0,   OPT_MAX_LOGSIZE },
	{ "log-stats",			1, 'z', OPT_LOG_STATS },
	{ "se-port",			1, 'P', OPT_SE_PORT },
	{ "max-missed-acks",		1, 0,   OPT_MAX_MISSED },
	{ "tunnel-cainfo",		1, 0,   OPT_TUNNEL_CAINFO },
	{ "ctl-socket",			1, 0,   OPT_CTL_SOCKET },
	{ "vm-version",			1, 0,   OPT_VM_VERSION },
	{ "tunnel-connections",		1, 0,   OPT_CONNECTIONS },
	{ "kgp-congestion",		1, 0,   OPT_KGP_CONGESTION },
	{ "kgp-processes",		1, 0,   OPT_KGP_PROCESSES },
	{ "help",			0, 'h', OPT_HELP },
	{ "version",			0, 0,   OPT_VERSION },
	{ "config-file",		1, 'c', OPT_CONFIG },
	{ "proxy",			1, 'p', OPT_PROXY },
	{ "proxy-userpwd",		1, 'w', OPT_PROXY_USERPWD },
	{ "proxy-tunnel",		0, 'T', OPT_PROXY_TUNNEL },
	{ "direct-domains",		1, 'D', OPT_RULES_DIRECT, L },
	{ "tunnel-domains",		1, 't', OPT_RULES_TUNNEL, L },
	{ "fast-fail-regexps",		1, 'F', OPT_RULES_DENY, L },
	{ "no-ssl-bump-domains",	1, 'B', OPT_RULES_PASSTHROUGH, L },
	{ "auth",			1, 'a', OPT_AUTH, L },
	{ "dns",			1, 0,   OPT_DNS, L },
	{ "allow-networks",		1, 0,   OPT_ALLOW_NETWORKS, L },
	{ "deny-networks",		1, 0,   OPT_DENY_NETWORKS, L },
	{ "scproxy-port",		1, 0,   OPT_SCPROXY_PORT },
	{ "pac",			1, 0,   OPT_PAC },
	{ "proxy-localhost",		0, 0,   OPT_LOCALHOST },
	{ "extra-info",			1, 0,   OPT_EXTRA_INFO },
	/* recognised, not implemented yet */
	{ "status-address",		1, 0,   OPT_API_ADDRESS },
	{ "metrics-address",		1, 0,   OPT_API_ADDRESS },
	{ "api-address",		1, 0,   OPT_API_ADDRESS },
	{ "api-basic-auth",		1, 0,   OPT_API_AUTH },
	{ "cainfo",			1, 0,   OPT_CAINFO },
	{ "cacert-file",		1, 0,   OPT_CACERT_FILE, L },
	{ "cacert-system",		0, 0,   OPT_CACERT_SYSTEM },
	{ "capath",			1, 0,   U },
	{ "doctor",			0, 0,   OPT_DOCTOR },
	{ NULL,				0, 0,   0 }
};

/* version 5: `sc run` */
static const struct sc_opt v5_opts[] = {
	{ "username",			1, 'u', OPT_USER },
	{ "user",			1, 0,   OPT_USER },
	{ "access-key",			1, 'k', OPT_KEY },
	{ "api-key",			1, 0,   OPT_KEY },
	{ "region",			1, 'r', OPT_REGION },
	{ "regions",			1, 0,   OPT_REGIONS, L },
	{ "tunnel-name",		1, 'i', OPT_TUNNEL_NAME },
	{ "tunnel-identifier",		1, 0,   OPT_TUNNEL_NAME },
	{ "rest-url",			1, 0,   OPT_REST_URL },
	{ "shared",			1, 's', OPT_SHARED_V5 },
	{ "tunnel-pool",		0, 't', OPT_TUNNEL_POOL },
	{ "no-remove-colliding-tunnels", 0, 0,  OPT_NO_REMOVE },
	{ "readyfile",			1, 'f', OPT_READYFILE },
	{ "pidfile",			1, 'd', OPT_PIDFILE },
	{ "log-file",			1, 0,   OPT_LOGFILE },
	{ "log-level",			1, 0,   OPT_LOG_LEVEL },
	{ "verbose",			0, 'v', OPT_VERBOSE },
	{ "log-format",			1, 0,   OPT_LOG_FORMAT },
	{ "max-logsize",		1, 0,   OPT_MAX_LOGSIZE },
	{ "log-stats",			1, 0,   OPT_LOG_STATS },
	{ "se-port",			1, 0,   OPT_SE_PORT },
	{ "max-missed-acks",		1, 0,   OPT_MAX_MISSED },
	{ "tunnel-cainfo",		1, 0,   OPT_TUNNEL_CAINFO },
	{ "ctl-socket",			1, 0,   OPT_CTL_SOCKET },
	{ "tunnel-connections",		1, 0,   OPT_CONNECTIONS },
	{ "kgp-congestion",		1, 0,   OPT_KGP_CONGESTION },
	{ "kgp-processes",		1, 0,   OPT_KGP_PROCESSES },
	{ "help",			0, 'h', OPT_HELP },
	{ "version",			0, 0,   OPT_VERSION },
	{ "config-file",		1, 'c', OPT_CONFIG },
	{ "proxy-sauce",		1, 0,   OPT_PROXY_SAUCE },
	{ "deny-domains",		1, 'F', OPT_RULES_DENY, L },
	{ "direct-domains",		1, 'D', OPT_RULES_DIRECT, L },
	{ "tunnel-domains",		1, 'T', OPT_RULES_TUNNEL, L },
	{ "tls-passthrough-domains",	1, 'B', OPT_RULES_PASSTHROUGH, L },
	{ "tls-resign-domains",		1, 'b', OPT_RULES_RESIGN, L },
	{ "auth",			1, 'a', OPT_AUTH, L },
	{ "header",			1, 'H', OPT_HEADER, L },
	{ "response-header",		1, 'R', OPT_RESPONSE_HEADER, L },
	{ "dns-server",			1, 'n', OPT_DNS, L },
	{ "dns-round-robin",		0, 0,   OPT_DNS_RR },
	{ "dns-timeout",		1, 0,   OPT_DNS_TIMEOUT },
	{ "proxy-localhost",		1, 0,   OPT_LOCALHOST },
	{ "allow-networks",		1, 0,   OPT_ALLOW_NETWORKS, L },
	{ "deny-networks",		1, 0,   OPT_DENY_NETWORKS, L },
	{ "scproxy-port",		1, 0,   OPT_SCPROXY_PORT },
	{ "metadata",			1, 'M', OPT_METADATA, L },
	{ "extra-info",			1, 0,   OPT_EXTRA_INFO },
	{ "pac",			1, 0,   OPT_PAC },
	{ "proxy",			1, 'x', OPT_UPSTREAM },
	{ "cacert-file",		1, 0,   OPT_CACERT_FILE, L },
	{ "cacert-system",		0, 0,   OPT_CACERT_SYSTEM },
	{ "http-dial-timeout",		1, 0,   OPT_DIAL_TIMEOUT },
	{ "http-idle-conn-timeout",	1, 0,   OPT_IDLE_TIMEOUT },
	{ "http-response-header-timeout", 1, 0, OPT_HEADER_TIMEOUT },
	{ "http-tls-handshake-timeout",	1, 0,   OPT_TLS_TIMEOUT },
	/* recognised, not implemented yet */
	{ "tunnel-max-concurrent-streams", 1, 0, U },
	{ "http-tls-keylog-file",	1, 0,   U },
	{ "api-address",		1, 0,   OPT_API_ADDRESS },
	{ "api-basic-auth",		1, 0,   OPT_API_AUTH },
	{ "api-idle-timeout",		1, 0,   U },
	{ "doctor",			0, 0,   OPT_DOCTOR },
	{ "log-http",			1, 0,   U },
	{ NULL,				0, 0,   0 }
};

#undef U
#undef L

static int	 config_env(struct sc_config *, unsigned char *, char *,
		    size_t);
static const struct sc_opt *find_short(const struct sc_opt *, int);
static const struct sc_opt *find_long(const struct sc_opt *, const char *);
static int	 opt_slot(enum opt_code);
static int	 config_apply(struct sc_config *, const struct sc_opt *,
		    const char *, const char *, char *, size_t);
static int	 config_file_entries(struct sc_config *,
		    const struct sc_opt *, const struct conffile *,
		    const char *, const unsigned char *, char *, size_t);
static void	 config_file_mode(const struct sc_opt *,
		    const struct conffile *, const char *);
static int	 config_file(struct sc_config *, const struct sc_opt *,
		    const char *, const unsigned char *, char *, size_t);

void
config_init(struct sc_config *conf)
{
	memset(conf, 0, sizeof(*conf));
	conf->max_missed_acks = SC_DEFAULT_MAX_MISSED;
	conf->se_port = SC_DEFAULT_SE_PORT;
	conf->tunnel_connections = config_default_connections();
	strlcpy(conf->kgp_congestion, KGP_CONGESTION,
	    sizeof(conf->kgp_congestion));
}

void
config_free(struct sc_config *conf)
{
	free(conf->user);
	config_wipe_free(conf->key);
	free(conf->tunnel_name);
	free(conf->rest_url);
	free(conf->region);
	while (conf->nregions > 0)
		free(conf->regions[--conf->nregions]);
	free(conf->readyfile);
	free(conf->pidfile);
	free(conf->logfile);
	free(conf->ctl_socket);
	free(conf->tunnel_cainfo);
	free(conf->vm_version);
	free(conf->command);
	free(conf->proxy_host);
	free(conf->proxy_user);
	config_wipe_free(conf->proxy_pass);
	free(conf->api_address);
	config_wipe_free(conf->api_auth);
	rules_free(conf->rules);
	while (conf->ncacert_files > 0)
		free(conf->cacert_files[--conf->ncacert_files]);
	config_proxy_free(conf);
	config_init(conf);
}

static const struct sc_opt *
find_short(const struct sc_opt *opts, int c)
{
	for (; opts->name != NULL; opts++)
		if (opts->shortc == c)
			return (opts);
	return (NULL);
}

/* The flags that set the same thing share a slot: -v and --log-level. */
static int
opt_slot(enum opt_code code)
{
	return (code == OPT_LOG_LEVEL ? OPT_VERBOSE : code);
}

static const struct sc_opt *
find_long(const struct sc_opt *opts, const char *name)
{
	for (; opts->name != NULL; opts++)
		if (strcmp(opts->name, name) == 0)
			return (opts);
	return (NULL);
}

/*
 * The keys of a config file into conf, except those that seen[] says
 * the command line or the environment set already.  Messages name the
 * file and the line; they never show the value of the access key.
 */
static int
config_file_entries(struct sc_config *conf, const struct sc_opt *opts,
    const struct conffile *cf, const char *path, const unsigned char *seen,
    char *err, size_t errlen)
{
	const struct conffile_entry	*e;
	const struct sc_opt		*o;
	struct sc_config		 scratch;
	char				 msg[768];
	size_t				 i;
	long long			 n;
	int				 b, ret;

	TAILQ_FOREACH(e, &cf->entries, entry) {
		if ((o = find_long(opts, e->key)) == NULL) {
			if (find_long(conf->legacy ? v5_opts : v4_opts,
			    e->key) != NULL)
				return (config_error(err, errlen,
				    CONFIG_ERROR, "config file %s, line %d: "
				    "unknown key '%s' (a key of %s)", path,
				    e->line, e->key, conf->legacy ?
				    "sc run, not of the version 4 command "
				    "line" : "the version 4 command line, "
				    "not of sc run"));
			return (config_error(err, errlen, CONFIG_ERROR,
			    "config file %s, line %d: unknown key '%s'",
			    path, e->line, e->key));
		}
		if (o->code == OPT_CONFIG || o->code == OPT_HELP ||
		    o->code == OPT_VERSION)
			return (config_error(err, errlen, CONFIG_ERROR,
			    "config file %s, line %d: '%s' cannot be set in "
			    "a config file", path, e->line, e->key));
		if (e->type == CONFFILE_NULL)
			continue;
		if (e->type == CONFFILE_LIST && !o->list)
			return (config_error(err, errlen, CONFIG_ERROR,
			    "config file %s, line %d: '%s' takes one value, "
			    "not a list", path, e->line, e->key));

		if (!o->has_arg) {
			/* a switch: true or false (-v: also a number) */
			if (o->code == OPT_VERBOSE && config_number(e->vals[0],
			    e->key, 0, 3, &n, msg, sizeof(msg)) == 0) {
				if (!seen[opt_slot(o->code)])
					conf->verbose = (int)n;
				continue;
			}
			if ((b = config_parse_bool(e->vals[0])) == -1)
				return (config_error(err, errlen, CONFIG_ERROR,
				    "config file %s, line %d: '%s' must be "
				    "true or false%s", path, e->line, e->key,
				    o->code == OPT_VERBOSE ?
				    " or a number from 0 to 3" : ""));
			if (b == 0 || seen[opt_slot(o->code)])
				continue;
			ret = config_apply(conf, o, NULL, e->key, msg,
			    sizeof(msg));
		} else if (seen[opt_slot(o->code)]) {
			/* overridden, but still checked: into a scratch copy */
			if (o->code == OPT_CAINFO)
				continue;	/* a global, not in conf */
			config_init(&scratch);
			scratch.legacy = conf->legacy;
			for (i = 0, ret = CONFIG_OK; i < e->nvals &&
			    ret == CONFIG_OK; i++)
				ret = config_apply(&scratch, o, e->vals[i],
				    e->key, msg, sizeof(msg));
			config_free(&scratch);
		} else {
			for (i = 0, ret = CONFIG_OK; i < e->nvals &&
			    ret == CONFIG_OK; i++)
				ret = config_apply(conf, o, e->vals[i],
				    e->key, msg, sizeof(msg));
		}
		if (ret != CONFIG_OK)
			return (config_error(err, errlen, CONFIG_ERROR,
			    "config file %s, line %d: %s", path, e->line,
			    msg));
	}
	return (CONFIG_OK);
}

/*
 * Group or others may read or write the file: a warning (sc goes on).
 * Reading matters when it holds the access key; writing always does
 * (whoever can write it can send the key elsewhere with rest-url).
 */
static void
config_file_mode(const struct sc_opt *opts, const struct conffile *cf,
    const char *path)
{
	const struct conffile_entry	*e;
	const struct sc_opt		*o;
	int				 key = 0, pass = 0, r, w;

	TAILQ_FOREACH(e, &cf->entries, entry) {
		if ((o = find_long(opts, e->key)) == NULL ||
		    e->type == CONFFILE_NULL)
			continue;
		if (o->code == OPT_KEY)
			key = 1;
		else if (o->code == OPT_PROXY_USERPWD || o->code == OPT_AUTH ||
		    (o->code == OPT_PROXY_SAUCE && e->nvals > 0 &&
		    strchr(e->vals[0], '@') != NULL))
			pass = 1;
	}
	r = (cf->mode & (S_IRGRP | S_IROTH)) != 0;
	w = (cf->mode & (S_IWGRP | S_IWOTH)) != 0;
	if ((key || pass) && (r || w))
		config_warn_add("%s is %s by "
		    "others and holds the %s: chmod 600 %s", path,
		    r && w ? "readable and writable" : r ? "readable" :
		    "writable", key ? "access key" : "a password", path);
	else if (w)
		config_warn_add("%s is writable "
		    "by others: chmod go-w %s", path, path);
}

static int
config_file(struct sc_config *conf, const struct sc_opt *opts,
    const char *path, const unsigned char *seen, char *err, size_t errlen)
{
	struct conffile	 cf;
	int		 ret;

	conffile_init(&cf);
	if (conffile_load(&cf, path, err, errlen) == -1) {
		conffile_free(&cf);
		return (CONFIG_ERROR);
	}
	ret = config_file_entries(conf, opts, &cf, path, seen, err, errlen);
	if (ret == CONFIG_OK)
		config_file_mode(opts, &cf, path);
	conffile_free(&cf);
	return (ret);
}

/*
 * `sc run config-file`: a YAML template of every key of sc run, made
 * from v5_opts, each key commented out under its flags and aliases.
 */
void
config_template(FILE *f)
{
	const struct sc_opt	*o, *a;

	fprintf(f, "# sc run -c FILE: every key of the config file, commented "
	    "out.\n# The keys are the long flags of sc run (sc(8) says what "
	    "each does);\n# a flag or a SAUCE_ variable overrides its key.\n");
	for (o = v5_opts; o->name != NULL; o++) {
		for (a = v5_opts; a->code != o->code; a++)
			;
		if (a != o || o->code == OPT_UNSUPPORTED ||
		    o->code == OPT_CONFIG || o->code == OPT_HELP ||
		    o->code == OPT_VERSION)
			continue;	/* an alias, or no key */
		fprintf(f, "\n# --%s", o->name);
		if (o->shortc != 0)
			fprintf(f, ", -%c", o->shortc);
		for (a = o + 1; a->name != NULL; a++)
			if (a->code == o->code)
				fprintf(f, "; also the key %s", a->name);
		if (!o->has_arg)
			fprintf(f, " (true or false)\n#%s: false\n", o->name);
		else if (o->list)
			fprintf(f, " (a list)\n#%s:\n#  - \"\"\n", o->name);
		else
			fprintf(f, "\n#%s: \"\"\n", o->name);
	}
}

/* A parsed config file into conf, as config_parse() does (the fuzzer). */
int
config_file_apply(struct sc_config *conf, const struct conffile *cf,
    const char *path, char *err, size_t errlen)
{
	unsigned char	 seen[OPT_MAX];

	memset(seen, 0, sizeof(seen));
	config_warn_reset();
	return (config_file_entries(conf, conf->legacy ? v4_opts : v5_opts,
	    cf, path, seen, err, errlen));
}

/*
 * One flag (the option o, named flag in the messages) with its value arg
 * (NULL for a switch) into conf.  Returns CONFIG_* and, for an error, a
 * message in err.  The command line and the config file both land here.
 */
static int
config_apply(struct sc_config *conf, const struct sc_opt *o, const char *arg,
    const char *flag, char *err, size_t errlen)
{
	char		*end;
	long long	 n;

	switch (o->code) {
	case OPT_UNSUPPORTED:
		if (o->shortc != 0)
			return (config_error(err, errlen, CONFIG_ERROR,
			    "-%c/--%s is not supported yet",
			    o->shortc, o->name));
		return (config_error(err, errlen, CONFIG_ERROR,
		    "--%s is not supported yet", o->name));
	case OPT_USER:
		if (config_set_string(&conf->user, arg, flag, err,
		    errlen) == -1)
			return (CONFIG_ERROR);
		break;
	case OPT_KEY:
		if (*arg == '\0')
			return (config_error(err, errlen, CONFIG_ERROR,
			    "%s needs a value", flag));
		config_wipe_free(conf->key);
		if ((conf->key = strdup(arg)) == NULL)
			return (config_error(err, errlen, CONFIG_ERROR,
			    "out of memory"));
		break;
	case OPT_TUNNEL_NAME:
		if (config_set_string(&conf->tunnel_name, arg, flag, err,
		    errlen) == -1)
			return (CONFIG_ERROR);
		if (strlen(conf->tunnel_name) >= SC_HOST_LEN)
			return (config_error(err, errlen, CONFIG_ERROR,
			    "%s: name too long (at most %d bytes)",
			    flag, SC_HOST_LEN - 1));
		break;
	case OPT_REST_URL:
		if (strncmp(arg, "http://", 7) != 0 &&
		    strncmp(arg, "https://", 8) != 0)
			return (config_error(err, errlen, CONFIG_ERROR,
			    "%s: '%s' is not an http:// or https:// "
			    "URL", flag, arg));
		if (config_set_string(&conf->rest_url, arg, flag, err,
		    errlen) == -1)
			return (CONFIG_ERROR);
		break;
	case OPT_REGION:
		/* known or not: once the table is whole (config_region_url) */
		if (config_set_string(&conf->region, arg, flag, err,
		    errlen) == -1)
			return (CONFIG_ERROR);
		break;
	case OPT_REGIONS:
		return (config_region_add(conf, arg, flag, err, errlen));
	case OPT_READYFILE:
		if (config_set_string(&conf->readyfile, arg, flag, err,
		    errlen) == -1)
			return (CONFIG_ERROR);
		break;
	case OPT_PIDFILE:
		if (config_set_string(&conf->pidfile, arg, flag, err,
		    errlen) == -1)
			return (CONFIG_ERROR);
		break;
	case OPT_LOGFILE:
		if (config_set_string(&conf->logfile, arg, flag, err,
		    errlen) == -1)
			return (CONFIG_ERROR);
		break;
	case OPT_VERBOSE:
		if (conf->verbose < 3)
			conf->verbose++;
		break;
	case OPT_LOG_LEVEL:
		if (log_level_parse(arg, &conf->verbose) == -1)
			return (config_error(err, errlen, CONFIG_ERROR,
			    "%s: '%s' is not one of error, warn, info, "
			    "debug, trace", flag, arg));
		break;
	case OPT_LOG_FORMAT:
		if (strcmp(arg, "text") == 0)
			conf->log_format = LOG_FORMAT_TEXT;
		else if (strcmp(arg, "json") == 0)
			conf->log_format = LOG_FORMAT_JSON;
		else
			return (config_error(err, errlen, CONFIG_ERROR,
			    "%s: '%s' is neither text nor json", flag, arg));
		break;
	case OPT_MAX_LOGSIZE:
		if (config_number(arg, flag, LOG_MAXSIZE_MIN, INT64_MAX, &n,
		    err, errlen) == -1)
			return (CONFIG_ERROR);
		conf->max_logsize = n;
		break;
	case OPT_SHARED_V4:
		conf->shared = 1;
		break;
	case OPT_SHARED_V5:
		if (strcmp(arg, "all") != 0)
			return (config_error(err, errlen, CONFIG_ERROR,
			    "%s: the only value is 'all'", flag));
		conf->shared = 1;
		break;
	case OPT_TUNNEL_POOL:
		conf->tunnel_pool = 1;
		break;
	case OPT_NO_REMOVE:
		conf->no_remove_colliding = 1;
		break;
	case OPT_WAIT_SHUTDOWN:
		conf->wait_shutdown = 1;
		break;
	case OPT_DOCTOR:
		conf->doctor = 1;
		break;
	case OPT_TUNNEL_CAINFO:
		if (config_set_string(&conf->tunnel_cainfo, arg, flag, err,
		    errlen) == -1)
			return (CONFIG_ERROR);
		break;
	case OPT_CAINFO:
		/* the CA file for the HTTPS REST API (libcurl) */
		if (access(arg, R_OK) == -1)
			return (config_error(err, errlen,
			    CONFIG_ERROR, "--cainfo %s: %s", arg,
			    strerror(errno)));
		if (config_set_string(&config_cainfo, arg, flag, err,
		    errlen) == -1)
			return (CONFIG_ERROR);
		break;
	case OPT_CACERT_FILE:
		/* repeatable: each file is one more CA for https:// apps */
		if (conf->ncacert_files >= SC_CACERT_FILES_MAX)
			return (config_error(err, errlen, CONFIG_ERROR,
			    "--cacert-file: more than %d files",
			    SC_CACERT_FILES_MAX));
		if (access(arg, R_OK) == -1)
			return (config_error(err, errlen, CONFIG_ERROR,
			    "--cacert-file %s: %s", arg, strerror(errno)));
		if (config_set_string(&conf->cacert_files[conf->ncacert_files],
		    arg, flag, err, errlen) == -1)
			return (CONFIG_ERROR);
		conf->ncacert_files++;
		break;
	case OPT_CACERT_SYSTEM:
		conf->cacert_system = 1;
		break;
	case OPT_MAX_MISSED:
		if (config_number(arg, flag, 1, 100000, &n, err,
		    errlen) == -1)
			return (CONFIG_ERROR);
		conf->max_missed_acks = (int)n;
		break;
	case OPT_LOG_STATS:
		if (config_number(arg, flag, 1, SC_LOG_STATS_MAX, &n, err,
		    errlen) == -1)
			return (CONFIG_ERROR);
		conf->log_stats = (int)n;
		break;
	case OPT_CTL_SOCKET:
		if (config_set_string(&conf->ctl_socket, arg, flag, err,
		    errlen) == -1)
			return (CONFIG_ERROR);
		break;
	case OPT_SE_PORT:
		if (config_number(arg, flag, 0, 65535, &n, err,
		    errlen) == -1)
			return (CONFIG_ERROR);
		conf->se_port = (int)n;
		conf->se_port_set = 1;
		break;
	case OPT_CONNECTIONS:
		errno = 0;
		n = strtoll(arg, &end, 10);
		if (!isdigit((unsigned char)*arg) ||
		    *end != '\0' || errno != 0 || n < 1 ||
		    n > SC_MAX_CONNECTIONS)
			return (config_error(err, errlen, CONFIG_ERROR,
			    "%s must be between 1 and %d", flag,
			    SC_MAX_CONNECTIONS));
		conf->tunnel_connections = (int)n;
		break;
	case OPT_KGP_PROCESSES:
		/* more than the connections: one each (supervise_nkgpd) */
		if (config_number(arg, flag, 1, SC_KGPD_MAX, &n, err,
		    errlen) == -1)
			return (CONFIG_ERROR);
		conf->kgp_processes = (int)n;
		break;
	case OPT_KGP_CONGESTION:
		if (kgp_congestion_valid(arg) == -1)
			return (config_error(err, errlen, CONFIG_ERROR,
			    "%s: not a congestion control's name", flag));
		strlcpy(conf->kgp_congestion, arg,
		    sizeof(conf->kgp_congestion));
		break;
	case OPT_VM_VERSION:
		if (config_set_string(&conf->vm_version, arg, flag, err,
		    errlen) == -1)
			return (CONFIG_ERROR);
		break;
	case OPT_PROXY:
		/* version 4: the REST API's proxy, and with -T the tunnel's */
		if (config_proxy(conf, arg, flag, 0, 0, err, errlen) == -1)
			return (CONFIG_ERROR);
		conf->proxy_from = "-p/--proxy";
		conf->proxy_rest = 1;
		break;
	case OPT_PROXY_USERPWD:
		if (config_userpwd(conf, arg, flag, err, errlen) != CONFIG_OK)
			return (CONFIG_ERROR);
		break;
	case OPT_PROXY_TUNNEL:
		conf->proxy_tunnel = 1;
		break;
	case OPT_PROXY_SAUCE:
		/* version 5: the REST API's and the tunnel's proxy */
		if (config_proxy(conf, arg, flag, 1, 0, err, errlen) == -1)
			return (CONFIG_ERROR);
		conf->proxy_from = "--proxy-sauce";
		conf->proxy_rest = conf->proxy_tunnel = 1;
		break;
	case OPT_RULES_DENY:
	case OPT_RULES_DIRECT:
	case OPT_RULES_TUNNEL:
	case OPT_RULES_PASSTHROUGH:
	case OPT_RULES_RESIGN:
		return (config_rules_add(conf, o->code - OPT_RULES_DENY, arg,
		    flag, err, errlen));
	case OPT_API_ADDRESS:
	case OPT_API_AUTH:
		return (config_api(conf, o->code == OPT_API_AUTH, arg, flag,
		    err, errlen));
	case OPT_CONFIG:
		/* read by config_parse(), after the environment */
		break;
	case OPT_HELP:
		return (CONFIG_HELP);
	case OPT_VERSION:
		return (CONFIG_VERSION);
	default:	/* OPT_AUTH to OPT_EXTRA_INFO: proxyd's, confproxy.c */
		return (config_proxy_opt(conf, o->code - OPT_AUTH, arg, flag,
		    err, errlen));
	}
	return (CONFIG_OK);
}

/*
 * The environment: SAUCE_ and the name of an option of sc run, upper
 * case, '-' as '_' (SAUCE_TUNNEL_POOL=true, SAUCE_SHARED=all), in both
 * forms, below the flags.  A variable of no effect (overridden by a
 * flag, of an option not supported yet, of no option) is a warning.
 */
static int
config_env(struct sc_config *conf, unsigned char *seen, char *err,
    size_t errlen)
{
	extern char		**environ;
	const struct sc_opt	*o;
	char			 var[128], name[128];
	const char		*env;
	size_t			 i, n;
	int			 b, ret, j;

	for (o = v5_opts; o->name != NULL; o++) {
		if (config_env_name(o->name, var, sizeof(var)) == -1 ||
		    (env = getenv(var)) == NULL || *env == '\0' ||
		    o->code == OPT_USER || o->code == OPT_KEY ||
		    o->code == OPT_VERBOSE || o->code == OPT_LOG_LEVEL ||
		    o->code == OPT_CONFIG)
			continue;	/* those above, and the unset */
		if (o->code == OPT_UNSUPPORTED ||
		    o->code == OPT_HELP || o->code == OPT_VERSION ||
		    o->code == OPT_DOCTOR) {
			config_warn_add("%s: --%s %s, ignored", var, o->name,
			    o->code == OPT_UNSUPPORTED ?
			    "is not supported yet" : "is no setting");
			continue;
		}
		if (seen[opt_slot(o->code)]) {
			config_warn_add("%s is set, but a flag (or another "
			    "variable of the same setting) overrides it", var);
			continue;
		}
		seen[opt_slot(o->code)] = 1;
		if (!o->has_arg) {
			if ((b = config_parse_bool(env)) == -1)
				return (config_error(err, errlen, CONFIG_ERROR,
				    "%s: '%s' is neither true nor false", var,
				    env));
			ret = b ? config_apply(conf, o, NULL, var, err,
			    errlen) : CONFIG_OK;
		} else
			ret = config_apply(conf, o, env, var, err, errlen);
		if (ret != CONFIG_OK)
			return (ret);
		if (o->code == OPT_PROXY_SAUCE)
			conf->proxy_from = "SAUCE_PROXY_SAUCE";
	}
	/* the ones of no option */
	for (j = 0; environ[j] != NULL; j++) {
		if (strncmp(environ[j], "SAUCE_", 6) != 0)
			continue;
		n = strcspn(environ[j], "=");
		if (n >= sizeof(name))
			continue;
		memcpy(name, environ[j], n);
		name[n] = '\0';
		for (o = v5_opts; o->name != NULL; o++)
			if (config_env_name(o->name, var, sizeof(var)) == 0 &&
			    strcmp(var, name) == 0)
				break;
		for (i = 0; o->name == NULL && env_other[i] != NULL; i++)
			if (strcmp(env_other[i], name) == 0)
				break;
		if (o->name == NULL && env_other[i] == NULL)
			config_warn_add("%s is no variable of sc: ignored",
			    name);
	}
	return (CONFIG_OK);
}

/*
 * Parse argv (argv[0] is the program) into conf.  Returns CONFIG_* and,
 * for CONFIG_ERROR and CONFIG_USAGE, a message in err.
 */
int
config_parse(struct sc_config *conf, int argc, char **argv, char *err,
    size_t errlen)
{
	const struct sc_opt	*opts, *o;
	struct option		 lopts[128];
	char			 shortopts[256], flag[128];
	const char		*env, *cfpath = NULL;
	unsigned char		 seen[OPT_MAX];
	size_t			 i, sl;
	char			**oargv = argv;
	int			 c, li, first = 1, nopts, oargc = argc, ret;

	*err = '\0';
	config_warn_reset();
	memset(seen, 0, sizeof(seen));
	conf->legacy = 1;
	if (argc == 3 && strcmp(argv[1], "run") == 0 &&
	    strcmp(argv[2], "config-file") == 0)
		return (CONFIG_TEMPLATE);
	if (argc > 1 && strcmp(argv[1], "run") == 0) {
		conf->legacy = 0;
		first = 2;
	} else if (argc > 1 && strcmp(argv[1], "legacy") == 0)
		first = 2;
	else if (argc > 1 && argv[1][0] != '-')
		return (config_error(err, errlen, CONFIG_USAGE,
		    "unknown command '%s' (use 'run' or 'legacy')", argv[1]));
	opts = conf->legacy ? v4_opts : v5_opts;

	/* getopt_long tables from ours */
	sl = 0;
	shortopts[sl++] = ':';
	for (nopts = 0; opts[nopts].name != NULL; nopts++) {
		lopts[nopts].name = opts[nopts].name;
		lopts[nopts].has_arg = opts[nopts].has_arg ?
		    required_argument : no_argument;
		lopts[nopts].flag = NULL;
		lopts[nopts].val = 0x1000 + nopts;
		if (opts[nopts].shortc != 0) {
			shortopts[sl++] = opts[nopts].shortc;
			if (opts[nopts].has_arg)
				shortopts[sl++] = ':';
		}
	}
	shortopts[sl] = '\0';
	memset(&lopts[nopts], 0, sizeof(lopts[nopts]));

	optind = 0;	/* full reset (glibc), argv[0] is skipped */
	opterr = 0;
	argc -= first - 1;
	argv += first - 1;
	for (;;) {
		li = -1;
		c = getopt_long(argc, argv, shortopts, lopts, &li);
		if (c == -1)
			break;
		if (c == '?') {
			if (optopt != 0 && optopt < 0x1000)
				return (config_error(err, errlen, CONFIG_USAGE,
				    "unknown flag -%c", optopt));
			return (config_error(err, errlen, CONFIG_USAGE,
			    "unknown flag %s", argv[optind - 1]));
		}
		if (c == ':') {
			if (optopt != 0 && optopt < 0x1000)
				return (config_error(err, errlen, CONFIG_USAGE,
				    "flag -%c needs a value", optopt));
			return (config_error(err, errlen, CONFIG_USAGE,
			    "flag %s needs a value", argv[optind - 1]));
		}
		if (c >= 0x1000 && c < 0x1000 + nopts) {
			o = &opts[c - 0x1000];
			snprintf(flag, sizeof(flag), "--%s", o->name);
		} else if ((o = find_short(opts, c)) != NULL)
			snprintf(flag, sizeof(flag), "-%c", c);
		else
			return (config_error(err, errlen, CONFIG_USAGE,
			    "unknown flag -%c", c));

		seen[opt_slot(o->code)] = 1;
		if (o->code == OPT_CONFIG)
			cfpath = optarg;
		if ((ret = config_apply(conf, o, optarg, flag, err, errlen)) !=
		    CONFIG_OK)
			return (ret);
	}
	if (optind < argc)
		return (config_error(err, errlen, CONFIG_USAGE,
		    "unexpected argument '%s'", argv[optind]));

	/* the environment, below the flags */
	if (conf->user == NULL) {
		if ((env = getenv("SAUCE_USERNAME")) == NULL || *env == '\0')
			env = getenv("SAUCE_USER");
		if (env != NULL && *env != '\0' &&
		    config_set_string(&conf->user, env, "SAUCE_USERNAME", err,
		    errlen) == -1)
			return (CONFIG_ERROR);
	}
	if (conf->key == NULL) {
		if ((env = getenv("SAUCE_ACCESS_KEY")) == NULL || *env == '\0')
			env = getenv("SAUCE_API_KEY");
		if (env != NULL && *env != '\0' &&
		    (conf->key = strdup(env)) == NULL)
			return (config_error(err, errlen, CONFIG_ERROR,
			    "out of memory"));
	}
	if (!seen[OPT_VERBOSE] && (env = getenv("SAUCE_LOG_LEVEL")) != NULL &&
	    *env != '\0') {
		if (log_level_parse(env, &conf->verbose) == -1)
			return (config_error(err, errlen, CONFIG_ERROR,
			    "SAUCE_LOG_LEVEL: '%s' is not one of error, warn, "
			    "info, debug, trace", env));
		seen[OPT_VERBOSE] = 1;
	}
	if (!conf->legacy && cfpath == NULL &&
	    (env = getenv("SAUCE_CONFIG_FILE")) != NULL && *env != '\0')
		cfpath = env;
	if ((ret = config_env(conf, seen, err, errlen)) != CONFIG_OK)
		return (ret);

	/* the config file, below both */
	if (cfpath != NULL) {
		if (conf->user != NULL)
			seen[OPT_USER] = 1;
		if (conf->key != NULL)
			seen[OPT_KEY] = 1;
		if (conf->tunnel_name != NULL)
			seen[OPT_TUNNEL_NAME] = 1;
		if (conf->region != NULL)
			seen[OPT_REGION] = 1;
		if (!conf->legacy && conf->proxy_host != NULL)
			seen[OPT_PROXY_SAUCE] = 1;
		if ((ret = config_file(conf, opts, cfpath, seen, err,
		    errlen)) != CONFIG_OK)
			return (ret);
	}
	/* the traffic rules, whole: before anything is asked of the server */
	if ((ret = config_rules_finish(conf, err, errlen)) != CONFIG_OK ||
	    (ret = config_proxy_finish(conf, err, errlen)) != CONFIG_OK)
		return (ret);
	if (conf->tunnel_name != NULL && strlen(conf->tunnel_name) >=
	    SC_HOST_LEN)
		return (config_error(err, errlen, CONFIG_ERROR,
		    "tunnel name too long (at most %d bytes)",
		    SC_HOST_LEN - 1));

	/* the upstream proxy: the flags, the config file, then http_proxy */
	if (conf->legacy && conf->proxy_host == NULL)
		config_proxy_from_env(conf);
	if (conf->legacy && conf->proxy_tunnel && conf->proxy_host == NULL)
		return (config_error(err, errlen, CONFIG_ERROR,
		    "-T/--proxy-tunnel needs a proxy: -p/--proxy host:port "
		    "(or http_proxy)"));
	if (conf->legacy && conf->proxy_user != NULL &&
	    conf->proxy_host == NULL)
		return (config_error(err, errlen, CONFIG_ERROR,
		    "-w/--proxy-userpwd needs a proxy: -p/--proxy host:port "
		    "(or http_proxy)"));

	if (conf->user == NULL)
		return (config_error(err, errlen, CONFIG_ERROR,
		    "no username: use %s or set SAUCE_USERNAME",
		    conf->legacy ? "-u/--user" : "-u/--username"));
	if (conf->key == NULL)
		return (config_error(err, errlen, CONFIG_ERROR,
		    "no access key: use %s or set SAUCE_ACCESS_KEY",
		    conf->legacy ? "-k/--api-key" : "-k/--access-key"));

	if (conf->region != NULL && (env = config_region_url(conf,
	    conf->region)) == NULL)
		return (config_region_unknown(conf, err, errlen));
	if (conf->rest_url == NULL) {
		env = conf->region != NULL ?
		    config_region_url(conf, conf->region) : SC_DEFAULT_REST_URL;
		if ((conf->rest_url = strdup(env)) == NULL)
			return (config_error(err, errlen, CONFIG_ERROR,
			    "out of memory"));
	}
	/* no trailing slash: paths are appended */
	i = strlen(conf->rest_url);
	while (i > 0 && conf->rest_url[i - 1] == '/')
		conf->rest_url[--i] = '\0';

	if (conf->ctl_socket == NULL) {
		char	 path[PATH_MAX];

		if (sc_ctl_path(conf->tunnel_name, path, sizeof(path)) == -1)
			return (config_error(err, errlen, CONFIG_ERROR,
			    "control socket path too long"));
		if ((conf->ctl_socket = strdup(path)) == NULL)
			return (config_error(err, errlen, CONFIG_ERROR,
			    "out of memory"));
	}

	if (!conf->localhost_set)	/* as version 4 did, as sc run does */
		conf->localhost = conf->legacy ? PO_LOCALHOST_DIRECT :
		    PO_LOCALHOST_DENY;
	if ((conf->command = config_command(oargc, oargv, conf->key,
	    conf->proxy_pass)) == NULL)
		return (config_error(err, errlen, CONFIG_ERROR,
		    "out of memory"));
	config_mask_auth(conf, conf->command);
	config_mask_api_auth(conf, conf->command);
	return (CONFIG_OK);
}
