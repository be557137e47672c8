/*
 * The values of sc's options: the checks and normalisation that
 * config.c applies to each flag, variable and key of the config file
 * (strings, numbers, the upstream proxy and its credentials, the
 * traffic rules), the command line the tunnel's metadata carries, and
 * the secrets kept out of sight.  config.c reads the options; this file
 * calls nothing of it.
 */
#include <sys/types.h>

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config.h"
#include "controller.h"
#include "http.h"
#include "rules.h"
#include "text.h"

static void	 mask_secret(char *, const char *);
static void	 mask_typed(char *, const char *);
static int	 percent_decode(char *);

void
config_wipe_free(char *s)
{
	if (s == NULL)
		return;
	explicit_bzero(s, strlen(s));
	free(s);
}

int
config_error(char *err, size_t errlen, int ret, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return (ret);
}

/* Printable, no control characters, not empty, of reasonable length. */
int
config_set_string(char **dst, const char *val, const char *flag, char *err,
    size_t errlen)
{
	size_t	 len = strlen(val);

	if (len == 0) {
		config_error(err, errlen, 0, "%s needs a value", flag);
		return (-1);
	}
	if (len >= SC_HOST_LEN * 4) {
		config_error(err, errlen, 0, "%s: value too long", flag);
		return (-1);
	}
	if (text_ctlspan(val, len, 0) != len) {
		config_error(err, errlen, 0, "%s: control character in value",
		    flag);
		return (-1);
	}
	free(*dst);
	if ((*dst = strdup(val)) == NULL) {
		config_error(err, errlen, 0, "out of memory");
		return (-1);
	}
	return (0);
}

int
config_number(const char *val, const char *flag, long long min, long long max,
    long long *out, char *err, size_t errlen)
{
	char		*end;
	long long	 n;

	errno = 0;
	n = strtoll(val, &end, 10);
	if (*val == '\0' || *end != '\0' || errno != 0 || n < min ||
	    n > max) {
		config_error(err, errlen, 0, "%s: '%s' is not a number from "
		    "%lld to %lld", flag, val, min, max);
		return (-1);
	}
	*out = n;
	return (0);
}

/* Every occurrence of secret in s becomes '*'s. */
static void
mask_secret(char *s, const char *secret)
{
	size_t	 n;
	char	*p;

	if (secret == NULL || (n = strlen(secret)) == 0)
		return;
	while ((p = strstr(s, secret)) != NULL)
		memset(p, '*', n);
}

/* %XX escapes in place; -1 for a bad escape or a control character. */
static int
percent_decode(char *s)
{
	char		*d = s, *start = s;
	unsigned int	 c;

	for (; *s != '\0'; s++) {
		c = (unsigned char)*s;
		if (c == '%') {
			if (!isxdigit((unsigned char)s[1]) ||
			    !isxdigit((unsigned char)s[2]) ||
			    sscanf(s + 1, "%2x", &c) != 1)
				return (-1);
			s += 2;
		}
		*d++ = (char)c;
	}
	*d = '\0';
	/* "%00" is a control character as well */
	return (text_ctlspan(start, d - start, 0) == (size_t)(d - start) ?
	    0 : -1);
}

/*
 * A host name or an address that can go into a request line as it is:
 * letters, digits, '.', '-', '_', ':'.  Also the proxy's CONNECT target
 * (link.c).
 */
int
config_host_ok(const char *h)
{
	size_t	 i;

	if (h[0] == '\0' || strlen(h) >= SC_HOST_LEN)
		return (0);
	for (i = 0; h[i] != '\0'; i++)
		if (!isalnum((unsigned char)h[i]) && h[i] != '.' &&
		    h[i] != '-' && h[i] != '_' && h[i] != ':')
			return (0);
	return (1);
}

/*
 * user:password (-w): the user up to the first ':', the password after
 * it, as they are (no escapes).  Messages never show the value.
 */
int
config_userpwd(struct sc_config *conf, const char *val, const char *flag,
    char *err, size_t errlen)
{
	const char	*colon;
	size_t		 len = strlen(val);

	if (text_ctlspan(val, len, 0) != len)
		return (config_error(err, errlen, CONFIG_ERROR,
		    "%s: control character in value", flag));
	if ((colon = strchr(val, ':')) == NULL || colon == val)
		return (config_error(err, errlen, CONFIG_ERROR,
		    "%s: expected user:password", flag));
	if (len >= SC_HOST_LEN * 4)
		return (config_error(err, errlen, CONFIG_ERROR,
		    "%s: value too long", flag));
	free(conf->proxy_user);
	config_wipe_free(conf->proxy_pass);
	conf->proxy_pass = NULL;
	if ((conf->proxy_user = strndup(val, colon - val)) == NULL ||
	    (conf->proxy_pass = strdup(colon + 1)) == NULL)
		return (config_error(err, errlen, CONFIG_ERROR,
		    "out of memory"));
	return (CONFIG_OK);
}

/*
 * An upstream proxy: [http://][user:password@]host[:port][/], host a
 * name, an IPv4 address or a bracketed IPv6 one.  userinfo: credentials
 * are allowed (percent-encoded, as in a URL); dport: the port when none
 * is given (0: one is needed).  Only messages about a value without
 * credentials show it.
 */
int
config_proxy(struct sc_config *conf, const char *val, const char *flag,
    int userinfo, uint16_t dport, char *err, size_t errlen)
{
	struct http_authority	 a;
	char			 buf[SC_HOST_LEN * 4], *s, *at, *colon;
	char			*user = NULL, *pass = NULL;
	char			 shown[SC_HOST_LEN + 8];
	size_t			 len;
	int			 ret = -1;

	/* a value with credentials is never shown */
	if (strchr(val, '@') != NULL || strlen(val) >= SC_HOST_LEN)
		strlcpy(shown, "the value", sizeof(shown));
	else
		snprintf(shown, sizeof(shown), "'%s'", val);
	if (strlen(val) >= sizeof(buf)) {
		config_error(err, errlen, 0, "%s: value too long", flag);
		return (-1);
	}
	strlcpy(buf, val, sizeof(buf));
	s = buf;
	if (strncasecmp(s, "http://", 7) == 0)
		s += 7;
	else if (strstr(s, "://") != NULL) {
		config_error(err, errlen, 0, "%s: only http:// proxies are "
		    "supported", flag);
		goto done;
	}
	len = strlen(s);
	if (len > 0 && s[len - 1] == '/')
		s[--len] = '\0';
	if ((at = strrchr(s, '@')) != NULL) {
		if (!userinfo) {
			config_error(err, errlen, 0, "%s takes host:port; give "
			    "the credentials with -w/--proxy-userpwd", flag);
			goto done;
		}
		*at = '\0';
		if ((colon = strchr(s, ':')) == NULL || colon == s) {
			config_error(err, errlen, 0, "%s: the credentials "
			    "are not user:password", flag);
			goto done;
		}
		*colon = '\0';
		if ((user = strdup(s)) == NULL ||
		    (pass = strdup(colon + 1)) == NULL) {
			config_error(err, errlen, 0, "out of memory");
			goto done;
		}
		if (percent_decode(user) == -1 || percent_decode(pass) == -1) {
			config_error(err, errlen, 0, "%s: bad %%-escape or "
			    "control character in the credentials", flag);
			goto done;
		}
		s = at + 1;
	}
	if (http_parse_authority(s, strlen(s), dport, 0, &a) == -1) {
		config_error(err, errlen, 0, "%s: %s is not host:port: %s",
		    flag, shown, a.errstr);
		goto done;
	}
	free(conf->proxy_host);
	if ((conf->proxy_host = strdup(a.host)) == NULL) {
		config_error(err, errlen, 0, "out of memory");
		goto done;
	}
	conf->proxy_port = a.portnum;
	if (user != NULL) {
		free(conf->proxy_user);
		config_wipe_free(conf->proxy_pass);
		conf->proxy_user = user;
		conf->proxy_pass = pass;
		user = pass = NULL;
	}
	ret = 0;
 done:
	free(user);
	config_wipe_free(pass);
	explicit_bzero(buf, sizeof(buf));
	return (ret);
}


/*
 * The command line as the metadata of the tunnel carries it: "sc" and
 * every argument that does not hold the access key.
 */
char *
config_command(int argc, char **argv, const char *key, const char *pass)
{
	size_t	 len = 3, n;
	char	*cmd;
	int	 i;

	for (i = 1; i < argc; i++)
		len += strlen(argv[i]) + 1;
	if ((cmd = malloc(len)) == NULL)
		return (NULL);
	strlcpy(cmd, "sc", len);
	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-k") == 0 ||
		    strcmp(argv[i], "--api-key") == 0 ||
		    strcmp(argv[i], "--access-key") == 0)
			continue;
		if (key != NULL && *key != '\0' && strstr(argv[i], key) != NULL)
			continue;
		strlcat(cmd, " ", len);
		n = strlen(cmd);
		strlcat(cmd, argv[i], len);
		mask_typed(cmd + n, pass);
	}
	/* the proxy password, as given and as typed, becomes '*'s */
	mask_secret(cmd, pass);
	return (cmd);
}

/*
 * The password of a [http://]user:password@host:port argument (or of
 * --flag=that) becomes '*'s as it is typed (percent-encoded), when it
 * decodes to the proxy password.
 */
static void
mask_typed(char *arg, const char *pass)
{
	char	 buf[SC_HOST_LEN * 4], *s, *colon, *at;
	size_t	 n;

	if (pass == NULL || *pass == '\0')
		return;
	if (strncmp(arg, "--", 2) == 0 && (s = strchr(arg, '=')) != NULL)
		arg = s + 1;
	if (strncasecmp(arg, "http://", 7) == 0)
		arg += 7;
	if ((at = strrchr(arg, '@')) == NULL ||
	    (colon = strchr(arg, ':')) == NULL || colon > at)
		return;
	n = at - colon - 1;
	if (n == 0 || n >= sizeof(buf))
		return;
	memcpy(buf, colon + 1, n);
	buf[n] = '\0';
	if (percent_decode(buf) == 0 && strcmp(buf, pass) == 0)
		memset(colon + 1, '*', n);
	explicit_bzero(buf, sizeof(buf));
}

/*
 * The proxy password out of sc's command line (ps(1), /proc), as it is
 * typed and decoded.  main() calls it before anything is forked, and
 * config_mask_auth() for the passwords of -a.
 */
void
config_hide_secrets(const struct sc_config *conf, int argc, char **argv)
{
	int	 i;

	for (i = 1; i < argc; i++) {
		mask_typed(argv[i], conf->proxy_pass);
		mask_secret(argv[i], conf->proxy_pass);
		config_mask_api_auth(conf, argv[i]);
	}
}

/*
 * --api-address host:port (auth 0), --api-basic-auth user:password
 * (auth 1), from flag, into conf.
 */
int
config_api(struct sc_config *conf, int auth, const char *arg,
    const char *flag, char *err, size_t errlen)
{
	struct http_authority	 a;
	const char		*colon;

	if (!auth) {
		if (http_parse_authority(arg, strlen(arg), 0, 0, &a) == -1)
			return (config_error(err, errlen, CONFIG_ERROR,
			    "%s: '%s' is not host:port (%s)", flag, arg,
			    a.errstr));
		if (config_set_string(&conf->api_address, arg, flag, err,
		    errlen) == -1)
			return (CONFIG_ERROR);
		return (CONFIG_OK);
	}
	if ((colon = strchr(arg, ':')) == NULL || colon == arg ||
	    colon[1] == '\0')
		return (config_error(err, errlen, CONFIG_ERROR,
		    "%s: not user:password", flag));
	config_wipe_free(conf->api_auth);
	conf->api_auth = NULL;
	if (config_set_string(&conf->api_auth, arg, flag, err, errlen) == -1)
		return (CONFIG_ERROR);
	return (CONFIG_OK);
}

/* The password of --api-basic-auth in s becomes '*'s. */
void
config_mask_api_auth(const struct sc_config *conf, char *s)
{
	const char	*colon;

	if (conf->api_auth != NULL &&
	    (colon = strchr(conf->api_auth, ':')) != NULL)
		mask_secret(s, colon + 1);
}

/*
 * The variables that may hold a secret meant for sc alone, once read:
 * each is wiped where it lies (the strings of the initial environment
 * are what /proc/PID/environ shows, and unsetenv() leaves them be), then
 * removed.  kgpd and proxyd get an environment of their own anyway.
 */
static const char *secret_env[] = {
	"SAUCE_ACCESS_KEY", "SAUCE_API_KEY", "SAUCE_PROXY_SAUCE", "SAUCE_AUTH",
	"SAUCE_API_BASIC_AUTH", "SAUCE_PROXY", NULL
};

void
config_scrub_env(void)
{
	extern char	**environ;
	size_t		  n;
	int		  i, j;

	for (i = 0; secret_env[i] != NULL; i++) {
		n = strlen(secret_env[i]);
		for (j = 0; environ[j] != NULL; j++)
			if (strncmp(environ[j], secret_env[i], n) == 0 &&
			    environ[j][n] == '=')
				explicit_bzero(environ[j] + n + 1,
				    strlen(environ[j] + n + 1));
		unsetenv(secret_env[i]);
	}
}

/*
 * One value of a traffic rules flag (a comma-separated list of rules of
 * list, in the syntax of the command line: version 4 or 5) into conf's
 * rules, each rule checked at once: the message names the flag and the
 * rule.
 */
int
config_rules_add(struct sc_config *conf, int list,
    const char *val, const char *flag, char *err, size_t errlen)
{
	char	 msg[512];

	if (conf->rules == NULL && (conf->rules = rules_new()) == NULL)
		return (config_error(err, errlen, CONFIG_ERROR,
		    "out of memory"));
	if (rules_add_list(conf->rules, list, conf->legacy ? RULES_V4 :
	    RULES_V5, val, msg, sizeof(msg)) == -1)
		return (config_error(err, errlen, CONFIG_ERROR, "%s: %s",
		    flag, msg));
	return (CONFIG_OK);
}

/*
 * The rules of every flag, variable and config file key, checked as a
 * whole (lists that exclude each other, the size of the compiled
 * expressions) and compiled: one normalised list, which rest.c sends.
 */
int
config_rules_finish(struct sc_config *conf, char *err, size_t errlen)
{
	char	 msg[512];

	if (conf->rules == NULL)
		return (CONFIG_OK);
	if (rules_compile(conf->rules, msg, sizeof(msg)) == -1)
		return (config_error(err, errlen, CONFIG_ERROR,
		    "traffic rules: %s", msg));
	return (CONFIG_OK);
}

/*
 * The upstream proxy's credentials for a Proxy-Authorization: Basic
 * header, base64(user:password), malloc'd into *out (NULL without
 * any).  Returns 0, or -1 out of memory.
 */
int
config_proxy_basic(const struct sc_config *conf, char **out)
{
	char	*up;
	size_t	 ulen, plen;

	*out = NULL;
	if (conf->proxy_user == NULL)
		return (0);
	ulen = strlen(conf->proxy_user);
	plen = conf->proxy_pass != NULL ? strlen(conf->proxy_pass) : 0;
	if ((up = malloc(ulen + plen + 2)) == NULL)
		return (-1);
	memcpy(up, conf->proxy_user, ulen);
	up[ulen] = ':';
	if (plen > 0)
		memcpy(up + ulen + 1, conf->proxy_pass, plen);
	*out = text_base64(up, ulen + plen + 1);
	explicit_bzero(up, ulen + plen + 1);
	free(up);
	return (*out == NULL ? -1 : 0);
}

/*
 * The regions.  The hosted service's names all mean the default REST
 * URL here; the operator's table (--regions, the regions key, each
 * entry name=url) comes first, so that it can give one of them, or a
 * name of its own, a server's URL.
 */
static const char *regions_builtin[] = {
	"us-west", "us-west-1", "us-east", "us-east-1", "us-east-4",
	"eu-central", "eu-central-1", "apac-southeast", "apac-southeast-1",
	"us", "eu", "staging", NULL
};

/* One value of --regions: comma-separated name=url entries into conf. */
int
config_region_add(struct sc_config *conf, const char *arg, const char *flag,
    char *err, size_t errlen)
{
	const char	*p = arg, *eq, *end;
	char		 ent[SC_HOST_LEN * 4];
	size_t		 len, nlen;

	for (; *p != '\0'; p = *end != '\0' ? end + 1 : end) {
		end = p + strcspn(p, ",");
		len = end - p;
		if (len == 0)
			continue;
		if (len >= sizeof(ent))
			return (config_error(err, errlen, CONFIG_ERROR,
			    "%s: entry too long", flag));
		memcpy(ent, p, len);
		ent[len] = '\0';
		eq = strchr(ent, '=');
		nlen = eq != NULL ? (size_t)(eq - ent) : 0;
		if (eq == NULL || nlen == 0 || strspn(ent,
		    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
		    "0123456789-_.") != nlen ||
		    (strncmp(eq + 1, "http://", 7) != 0 &&
		    strncmp(eq + 1, "https://", 8) != 0))
			return (config_error(err, errlen, CONFIG_ERROR,
			    "%s: '%s' is not name=URL (a name of letters, "
			    "digits, '-', '_', '.'; an http:// or https:// "
			    "URL)", flag, ent));
		if (conf->nregions >= SC_REGIONS_MAX)
			return (config_error(err, errlen, CONFIG_ERROR,
			    "%s: more than %d regions", flag,
			    SC_REGIONS_MAX));
		if (config_set_string(&conf->regions[conf->nregions], ent,
		    flag, err, errlen) == -1)
			return (CONFIG_ERROR);
		conf->nregions++;
	}
	return (CONFIG_OK);
}

/* The REST URL of a region: the operator's, then ours; NULL: unknown. */
const char *
config_region_url(const struct sc_config *conf, const char *name)
{
	size_t	 n = strlen(name);
	int	 i;

	for (i = 0; i < conf->nregions; i++)
		if (strncmp(conf->regions[i], name, n) == 0 &&
		    conf->regions[i][n] == '=')
			return (conf->regions[i] + n + 1);
	for (i = 0; regions_builtin[i] != NULL; i++)
		if (strcmp(regions_builtin[i], name) == 0)
			return (SC_DEFAULT_REST_URL);
	return (NULL);
}

/* conf's region is in no table: say which names are. */
int
config_region_unknown(const struct sc_config *conf, char *err, size_t errlen)
{
	char	 names[1024];
	size_t	 n;
	int	 i;

	names[0] = '\0';
	for (i = 0; i < conf->nregions; i++) {
		n = strcspn(conf->regions[i], "=");
		if (names[0] != '\0')
			strlcat(names, ", ", sizeof(names));
		if (strlen(names) + n + 1 < sizeof(names))
			strncat(names, conf->regions[i], n);
	}
	for (i = 0; regions_builtin[i] != NULL; i++) {
		if (names[0] != '\0')
			strlcat(names, ", ", sizeof(names));
		strlcat(names, regions_builtin[i], sizeof(names));
	}
	return (config_error(err, errlen, CONFIG_ERROR, "unknown region '%s' "
	    "(known: %s; the config file's regions key adds more)",
	    conf->region, names));
}

/* the warnings of the last config_parse(), one a line */
static char	 config_warn[4096];

void
config_warn_reset(void)
{
	config_warn[0] = '\0';
}

/* One more warning line (cut when there are too many). */
void
config_warn_add(const char *fmt, ...)
{
	va_list	 ap;
	size_t	 n = strlen(config_warn);

	if (n > 0 && n + 1 < sizeof(config_warn))
		config_warn[n++] = '\n';
	va_start(ap, fmt);
	vsnprintf(config_warn + n, sizeof(config_warn) - n, fmt, ap);
	va_end(ap);
}

/* The warnings of the last config_parse(), for the log; NULL if none. */
const char *
config_warning(void)
{
	return (config_warn[0] != '\0' ? config_warn : NULL);
}

/* The variable of an option: SAUCE_ and its name, upper case, '_'. */
int
config_env_name(const char *opt, char *var, size_t len)
{
	size_t	 i;

	if (snprintf(var, len, "SAUCE_%s", opt) >= (int)len)
		return (-1);
	for (i = 6; var[i] != '\0'; i++)
		var[i] = var[i] == '-' ? '_' : toupper((unsigned char)var[i]);
	return (0);
}

/* v4: where an unset -p/--proxy is looked for, in this order */
static const char *proxy_env[] = {
	"http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY", NULL
};

/*
 * Version 4 without -p/--proxy: the first of http_proxy, HTTP_PROXY,
 * all_proxy, ALL_PROXY that is set, as if given with -p (port 80 when
 * it names none; credentials in it count when -w gives none).  A value
 * that is no http:// proxy is skipped with a warning: these variables
 * are set for other programs too.
 */
void
config_proxy_from_env(struct sc_config *conf)
{
	struct sc_config	 tmp;
	const char		*env;
	char			 msg[512];
	int			 i, ret;

	for (i = 0; proxy_env[i] != NULL; i++) {
		if ((env = getenv(proxy_env[i])) == NULL || *env == '\0')
			continue;
		/* only the proxy's fields of tmp are used */
		memset(&tmp, 0, sizeof(tmp));
		ret = config_proxy(&tmp, env, proxy_env[i], 1, 80, msg,
		    sizeof(msg));
		if (ret == -1) {
			config_warn_add("%s; no proxy is used", msg);
			conf->proxy_off = 1;
		} else {
			conf->proxy_host = tmp.proxy_host;
			conf->proxy_port = tmp.proxy_port;
			tmp.proxy_host = NULL;
			if (conf->proxy_user == NULL) {
				conf->proxy_user = tmp.proxy_user;
				conf->proxy_pass = tmp.proxy_pass;
				tmp.proxy_user = tmp.proxy_pass = NULL;
			}
			conf->proxy_from = proxy_env[i];
			conf->proxy_rest = 1;
		}
		free(tmp.proxy_host);
		free(tmp.proxy_user);
		config_wipe_free(tmp.proxy_pass);
		return;
	}
}

/* YAML 1.1 booleans, quoted or not: 1 true, 0 false, -1 neither */
int
config_parse_bool(const char *v)
{
	const char	*yes[] = { "true", "yes", "on", "y", NULL };
	const char	*no[] = { "false", "no", "off", "n", NULL };
	int		 i;

	for (i = 0; yes[i] != NULL; i++)
		if (strcasecmp(v, yes[i]) == 0)
			return (1);
	for (i = 0; no[i] != NULL; i++)
		if (strcasecmp(v, no[i]) == 0)
			return (0);
	return (-1);
}

/* The default number of tunnel connections: one per CPU, 2 to 16. */
int
config_default_connections(void)
{
	long	 n;

	n = sysconf(_SC_NPROCESSORS_ONLN);
	if (n < 2)
		n = 2;
	if (n > SC_MAX_CONNECTIONS)
		n = SC_MAX_CONNECTIONS;
	return ((int)n);
}
