/*
 * The flags of what proxyd does to requests: site credentials (-a),
 * header rules (-H, -R), name servers (--dns, -n, --dns-round-robin,
 * --dns-timeout), the networks the cloud may reach (--allow-networks,
 * --deny-networks, --proxy-localhost) and --scproxy-port.  Each value is
 * checked with the parser proxyd uses (common/proxyopt.c), so that a
 * bad one ends sc at start with a message naming the flag, and kept as
 * it was given for proxyd.  Passwords are never shown: masked in the
 * command line (ps), in the tunnel's metadata, in the log.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "controller.h"
#include "log.h"
#include "proxyopt.h"
#include "text.h"

static int	 cp_value(struct sc_config *, enum proxyopt_kind,
		    const char *, const char *, char *, size_t);
static int	 cp_list(struct sc_config *, enum confproxy_opt,
		    const char *, const char *, char *, size_t);
static int	 cp_duration(const char *, const char *, uint32_t, uint32_t,
		    uint32_t *, char *, size_t);
static int	 cp_metadata(struct sc_config *, const char *, const char *,
		    char *, size_t);
static int	 cp_extra_info(struct sc_config *, const char *, const char *,
		    char *, size_t);
static void	 cp_env_proxy(struct sc_config *);
static int	 cp_utf8(const char *, size_t);

/* One value into conf->po (checked) and the list proxyd gets. */
static int
cp_value(struct sc_config *conf, enum proxyopt_kind kind, const char *val,
    const char *flag, char *err, size_t errlen)
{
	char	 msg[512];

	if (conf->npo >= SC_PROXYOPT_VALUES_MAX)
		return (config_error(err, errlen, CONFIG_ERROR, "%s: more "
		    "than %d values of -a, -H, -R and the networks in all",
		    flag, SC_PROXYOPT_VALUES_MAX));
	if (conf->po == NULL) {
		if ((conf->po = malloc(sizeof(*conf->po))) == NULL)
			return (config_error(err, errlen, CONFIG_ERROR,
			    "out of memory"));
		proxyopt_init(conf->po);
	}
	if (proxyopt_add(conf->po, kind, val, msg, sizeof(msg)) == -1)
		return (config_error(err, errlen, CONFIG_ERROR, "%s: %s", flag,
		    msg));
	if ((conf->po_text[conf->npo] = strdup(val)) == NULL)
		return (config_error(err, errlen, CONFIG_ERROR,
		    "out of memory"));
	conf->po_kind[conf->npo++] = kind;
	return (CONFIG_OK);
}

/* A comma-separated list: networks or name servers. */
static int
cp_list(struct sc_config *conf, enum confproxy_opt what, const char *val,
    const char *flag, char *err, size_t errlen)
{
	char	*copy, *p, *s, server[64], msg[512];
	size_t	 len;
	int	 ret = CONFIG_OK;

	if ((copy = strdup(val)) == NULL)
		return (config_error(err, errlen, CONFIG_ERROR,
		    "out of memory"));
	for (p = copy; ret == CONFIG_OK && (s = strsep(&p, ",")) != NULL;) {
		while (*s == ' ')
			s++;
		for (len = strlen(s); len > 0 && s[len - 1] == ' '; len--)
			s[len - 1] = '\0';
		if (*s == '\0')
			continue;
		if (what == CP_ALLOW_NETWORKS || what == CP_DENY_NETWORKS) {
			ret = cp_value(conf, what == CP_ALLOW_NETWORKS ?
			    PO_NET_ALLOW : PO_NET_DENY, s, flag, err, errlen);
			continue;
		}
		if (conf->ndns >= PROXYOPT_DNS_MAX) {
			ret = config_error(err, errlen, CONFIG_ERROR, "%s: more "
			    "than %d name servers", flag, PROXYOPT_DNS_MAX);
			break;
		}
		if (proxyopt_dns_server(s, server, sizeof(server), msg,
		    sizeof(msg)) == -1) {
			ret = config_error(err, errlen, CONFIG_ERROR, "%s: %s",
			    flag, msg);
			break;
		}
		len = conf->dns != NULL ? strlen(conf->dns) : 0;
		if ((conf->dns = realloc(conf->dns, len + strlen(server) +
		    2)) == NULL) {
			ret = config_error(err, errlen, CONFIG_ERROR,
			    "out of memory");
			break;
		}
		snprintf(conf->dns + len, strlen(server) + 2, "%s%s",
		    len > 0 ? "," : "", server);
		conf->ndns++;
	}
	free(copy);
	return (ret);
}

/*
 * A duration as sc run takes it (Go's form): 500ms, 5s, 1m30s, 1h, or a
 * number of seconds; from min_ms (0 or 1) to max_ms.
 */
static int
cp_duration(const char *val, const char *flag, uint32_t min_ms,
    uint32_t max_ms, uint32_t *ms, char *err, size_t errlen)
{
	const char		*p = val;
	char			*end;
	unsigned long long	 n, total = 0, mul;
	int			 bare;

	/* a bare number is seconds; otherwise each number has its unit */
	bare = *val != '\0' && strspn(val, "0123456789") == strlen(val);
	if (!isdigit((unsigned char)*p))
		goto bad;
	while (*p != '\0') {
		if (!isdigit((unsigned char)*p))
			goto bad;
		errno = 0;
		n = strtoull(p, &end, 10);
		if (errno != 0 || n > max_ms)
			goto bad;
		p = end;
		if (bare)
			mul = 1000;
		else if (strncmp(p, "ms", 2) == 0) {
			mul = 1;
			p += 2;
		} else if (*p == 'h' || *p == 'm' || *p == 's') {
			mul = *p == 'h' ? 3600000 : *p == 'm' ? 60000 : 1000;
			p++;
		} else
			goto bad;
		total += n * mul;
		if (total > max_ms)
			goto bad;
	}
	if (total < min_ms)
		goto bad;
	*ms = (uint32_t)total;
	return (CONFIG_OK);
 bad:
	return (config_error(err, errlen, CONFIG_ERROR, "%s: '%s' is not a "
	    "duration from %s to %us (500ms, 5s, 1m30s)", flag, val,
	    min_ms == 0 ? "0s" : "1ms", max_ms / 1000));
}

/* One flag of enum confproxy_opt, its value arg (NULL for a switch). */
int
config_proxy_opt(struct sc_config *conf, enum confproxy_opt what,
    const char *arg, const char *flag, char *err, size_t errlen)
{
	long long	 n;

	switch (what) {
	case CP_AUTH:
		return (cp_value(conf, conf->legacy ? PO_AUTH_V4 : PO_AUTH_V5,
		    arg, flag, err, errlen));
	case CP_HEADER:
		return (cp_value(conf, PO_HEADER_REQ, arg, flag, err, errlen));
	case CP_RESPONSE_HEADER:
		return (cp_value(conf, PO_HEADER_RESP, arg, flag, err,
		    errlen));
	case CP_DNS:
	case CP_ALLOW_NETWORKS:
	case CP_DENY_NETWORKS:
		return (cp_list(conf, what, arg, flag, err, errlen));
	case CP_DNS_RR:
		conf->dns_rr = 1;
		return (CONFIG_OK);
	case CP_DNS_TIMEOUT:
		return (cp_duration(arg, flag, 1, SC_DNS_TIMEOUT_MAX_MS,
		    &conf->dns_timeout_ms, err, errlen));
	case CP_LOCALHOST:
		if (arg == NULL)	/* version 4's switch: through -p */
			conf->localhost = PO_LOCALHOST_ALLOW;
		else if (strcmp(arg, "allow") == 0)
			conf->localhost = PO_LOCALHOST_ALLOW;
		else if (strcmp(arg, "deny") == 0)
			conf->localhost = PO_LOCALHOST_DENY;
		else if (strcmp(arg, "direct") == 0)
			conf->localhost = PO_LOCALHOST_DIRECT;
		else
			return (config_error(err, errlen, CONFIG_ERROR,
			    "%s: '%s' is not one of allow, deny, direct",
			    flag, arg));
		conf->localhost_set = 1;
		return (CONFIG_OK);
	case CP_SCPROXY_PORT:
		if (config_number(arg, flag, 1, 65535, &n, err, errlen) == -1)
			return (CONFIG_ERROR);
		conf->scproxy_port = (int)n;
		return (CONFIG_OK);
	case CP_UPSTREAM:
		conf->upstream = 1;
		return (cp_value(conf, PO_UPSTREAM, arg, flag, err, errlen));
	case CP_PAC:
		/* read or fetched at start (pac.c), run by pacd */
		if (arg[0] == '\0')
			return (config_error(err, errlen, CONFIG_ERROR,
			    "%s: a file or an http:// or https:// URL", flag));
		free(conf->pac);
		if ((conf->pac = strdup(arg)) == NULL)
			return (config_error(err, errlen, CONFIG_ERROR,
			    "out of memory"));
		return (CONFIG_OK);
	case CP_DIAL_TIMEOUT:
		return (cp_duration(arg, flag, 1, SC_HTTP_TIMEOUT_MAX_MS,
		    &conf->dial_ms, err, errlen));
	case CP_TLS_TIMEOUT:
		return (cp_duration(arg, flag, 1, SC_HTTP_TIMEOUT_MAX_MS,
		    &conf->tls_ms, err, errlen));
	case CP_HEADER_TIMEOUT:
		conf->header_set = 1;
		return (cp_duration(arg, flag, 0, SC_HTTP_TIMEOUT_MAX_MS,
		    &conf->header_ms, err, errlen));
	case CP_IDLE_TIMEOUT:
		conf->idle_set = 1;
		return (cp_duration(arg, flag, 0, SC_HTTP_TIMEOUT_MAX_MS,
		    &conf->idle_ms, err, errlen));
	case CP_METADATA:
		return (cp_metadata(conf, arg, flag, err, errlen));
	case CP_EXTRA_INFO:
		return (cp_extra_info(conf, arg, flag, err, errlen));
	}
	return (config_error(err, errlen, CONFIG_ERROR, "%s: unknown", flag));
}

void
config_proxy_free(struct sc_config *conf)
{
	int	 i;

	if (conf->po != NULL) {
		proxyopt_free(conf->po);
		free(conf->po);
		conf->po = NULL;
	}
	for (i = 0; i < conf->npo; i++)
		config_wipe_free(conf->po_text[i]);
	conf->npo = 0;
	free(conf->dns);
	conf->dns = NULL;
	conf->ndns = 0;
	free(conf->upstream_warn);
	conf->upstream_warn = NULL;
	free(conf->pac);
	conf->pac = NULL;
	free(conf->metadata);
	conf->metadata = NULL;
	free(conf->extra_info);
	conf->extra_info = NULL;
}

/*
 * The passwords of the site credentials in s (an argument of the
 * command line, or the command line the tunnel's metadata carries)
 * become '*'s, wherever a value of -a appears whole.
 */
void
config_mask_auth(const struct sc_config *conf, char *s)
{
	const struct site_auth	*a;
	char			*p;
	int			 i, j = 0;

	size_t			 off, len;

	if (s == NULL || conf->po == NULL)
		return;
	for (i = 0; i < conf->npo; i++) {
		if (conf->po_kind[i] == PO_UPSTREAM &&
		    proxyopt_upproxy_pass(conf->po_text[i], &off, &len) == 0)
			for (p = s; (p = strstr(p, conf->po_text[i])) != NULL;
			    p += off + len)
				memset(p + off, '*', len);
		if (conf->po_kind[i] != PO_AUTH_V4 &&
		    conf->po_kind[i] != PO_AUTH_V5)
			continue;
		a = &conf->po->auth[j++];
		if (a->pass_len == 0)
			continue;
		for (p = s; (p = strstr(p, conf->po_text[i])) != NULL;
		    p += a->pass_off + a->pass_len)
			memset(p + a->pass_off, '*', a->pass_len);
	}
}

/* the keys of the tunnel's metadata that sc itself sets (rest.c) */
static const char *cp_meta_reserved[] = {
	"hostname", "platform", "release", "build", "git_version", "command",
	"nofile_limit", "extra_info", NULL
};

/* Is s (n bytes) UTF-8, as JSON strings must be? */
static int
cp_utf8(const char *s, size_t n)
{
	json_t	*j;

	if ((j = json_stringn(s, n)) == NULL)
		return (0);
	json_decref(j);
	return (1);
}

/*
 * -M key=value,...: pairs for the tunnel's metadata.  A key is letters,
 * digits, '_', '-', '.', none of those sc sets; a value has no ','.
 */
static int
cp_metadata(struct sc_config *conf, const char *val, const char *flag,
    char *err, size_t errlen)
{
	const char	*p, *e, *eq;
	char		*m;
	size_t		 have, i, klen;
	int		 n = 0;

	have = conf->metadata != NULL ? strlen(conf->metadata) : 0;
	if (have > 0)
		for (n = 1, p = conf->metadata; (p = strchr(p, ',')) != NULL;
		    p++)
			n++;
	for (p = val; *p != '\0'; p = *e == ',' ? e + 1 : e) {
		e = p + strcspn(p, ",");
		if (e == p)
			continue;
		if ((eq = memchr(p, '=', e - p)) == NULL || eq == p)
			return (config_error(err, errlen, CONFIG_ERROR, "%s: "
			    "'%.*s' is not key=value", flag, (int)(e - p), p));
		klen = eq - p;
		for (i = 0; i < klen; i++)
			if (!isalnum((unsigned char)p[i]) && p[i] != '_' &&
			    p[i] != '-' && p[i] != '.')
				return (config_error(err, errlen, CONFIG_ERROR,
				    "%s: bad key '%.*s' (letters, digits, "
				    "_ - .)", flag, (int)klen, p));
		for (i = 0; cp_meta_reserved[i] != NULL; i++)
			if (strlen(cp_meta_reserved[i]) == klen &&
			    strncmp(cp_meta_reserved[i], p, klen) == 0)
				return (config_error(err, errlen, CONFIG_ERROR,
				    "%s: '%s' is a key sc sets itself", flag,
				    cp_meta_reserved[i]));
		if (text_ctlspan(eq + 1, e - eq - 1, 0) !=
		    (size_t)(e - eq - 1) || !cp_utf8(eq + 1, e - eq - 1))
			return (config_error(err, errlen, CONFIG_ERROR, "%s: a "
			    "control character or bad UTF-8 in a value", flag));
		if (++n > SC_METADATA_KEYS_MAX)
			return (config_error(err, errlen, CONFIG_ERROR, "%s: "
			    "more than %d pairs", flag, SC_METADATA_KEYS_MAX));
	}
	if (have + strlen(val) + 1 > SC_METADATA_MAX)
		return (config_error(err, errlen, CONFIG_ERROR, "%s: more than "
		    "%d bytes of metadata in all", flag, SC_METADATA_MAX));
	if ((m = realloc(conf->metadata, have + strlen(val) + 2)) == NULL)
		return (config_error(err, errlen, CONFIG_ERROR,
		    "out of memory"));
	conf->metadata = m;
	snprintf(conf->metadata + have, strlen(val) + 2, "%s%s",
	    have > 0 ? "," : "", val);
	return (CONFIG_OK);
}

static int
cp_json_depth(const json_t *j)
{
	const char	*k;
	json_t		*v;
	size_t		 i;
	int		 d, max = 0;

	if (json_is_object(j)) {
		json_object_foreach((json_t *)(uintptr_t)j, k, v)
			if ((d = cp_json_depth(v)) > max)
				max = d;
		return (max + 1);
	}
	if (json_is_array(j)) {
		json_array_foreach(j, i, v)
			if ((d = cp_json_depth(v)) > max)
				max = d;
		return (max + 1);
	}
	return (0);
}

/* --extra-info: one JSON value, kept compact, within the bounds. */
static int
cp_extra_info(struct sc_config *conf, const char *val, const char *flag,
    char *err, size_t errlen)
{
	json_error_t	 je;
	json_t		*j;
	char		*text;

	if ((j = json_loads(val, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY,
	    &je)) == NULL)
		return (config_error(err, errlen, CONFIG_ERROR, "%s: not JSON: "
		    "%s (column %d)", flag, je.text, je.column));
	if (cp_json_depth(j) > SC_EXTRA_INFO_DEPTH) {
		json_decref(j);
		return (config_error(err, errlen, CONFIG_ERROR, "%s: nested "
		    "more than %d levels", flag, SC_EXTRA_INFO_DEPTH));
	}
	text = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);
	json_decref(j);
	if (text == NULL)
		return (config_error(err, errlen, CONFIG_ERROR,
		    "out of memory"));
	if (strlen(text) > SC_EXTRA_INFO_MAX) {
		free(text);
		return (config_error(err, errlen, CONFIG_ERROR, "%s: more "
		    "than %d bytes (compact JSON)", flag, SC_EXTRA_INFO_MAX));
	}
	free(conf->extra_info);
	conf->extra_info = text;
	return (CONFIG_OK);
}

/*
 * Without -x or --pac: the proxies of the environment for the
 * application traffic, as Sauce Connect 4 took them: http_proxy (then
 * HTTP_PROXY) for http:// requests, https_proxy (then HTTPS_PROXY) for
 * https:// and CONNECT, all_proxy (then ALL_PROXY) for either when its
 * own is unset; no_proxy (then NO_PROXY) exempts hosts and domains.  A
 * bad value is skipped with a warning: these are set for other
 * programs too.
 */
static void
cp_env_proxy(struct sc_config *conf)
{
	static const char	*vars[][4] = {
		{ "http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY" },
		{ "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY" },
		{ "no_proxy", "NO_PROXY", NULL, NULL },
	};
	const enum proxyopt_kind kinds[] = { PO_UPSTREAM_HTTP,
	    PO_UPSTREAM_HTTPS };
	const char		*env, *name;
	char			 msg[512], *copy, *p, *tok, *w;
	int			 i, j;

	for (i = 0; i < 3; i++) {
		for (j = 0, env = NULL; j < 4 && vars[i][j] != NULL; j++)
			if ((env = getenv(vars[i][j])) != NULL && *env != '\0')
				break;
		if (env == NULL || *env == '\0' || j == 4 ||
		    vars[i][j] == NULL)
			continue;
		name = vars[i][j];
		if (i < 2) {
			if (cp_value(conf, kinds[i], env, name, msg,
			    sizeof(msg)) == CONFIG_OK)
				continue;
		} else {
			if ((copy = strdup(env)) == NULL)
				return;
			for (p = copy; (tok = strsep(&p, ", \t")) != NULL;)
				if (*tok != '\0' && cp_value(conf, PO_NOPROXY,
				    tok, name, msg, sizeof(msg)) != CONFIG_OK)
					break;
			free(copy);
			if (tok == NULL)
				continue;
		}
		if (asprintf(&w, "%s%s%s; ignored", conf->upstream_warn ?
		    conf->upstream_warn : "", conf->upstream_warn ? "; " : "",
		    msg) != -1) {
			free(conf->upstream_warn);
			conf->upstream_warn = w;
		}
	}
}

/* After all the flags: -x and --pac exclude each other, else the env. */
int
config_proxy_finish(struct sc_config *conf, char *err, size_t errlen)
{
	if (conf->upstream && conf->pac != NULL)
		return (config_error(err, errlen, CONFIG_ERROR, "-x/--proxy "
		    "and --pac: one or the other"));
	if (!conf->upstream && conf->pac == NULL)
		cp_env_proxy(conf);
	return (CONFIG_OK);
}

/* What proxyd will do, for the log: credentials without their password. */
void
config_proxy_log(const struct sc_config *conf)
{
	const struct site_auth	*a;
	int			 i;

	if (conf->po != NULL)
		for (i = 0; i < conf->po->nauth; i++) {
			a = &conf->po->auth[i];
			if (a->port == 0)
				log_info("site credentials for %s, any port: "
				    "user %s, password ****", a->host, a->user);
			else
				log_info("site credentials for %s port %u: "
				    "user %s, password ****", a->host,
				    (unsigned)a->port, a->user);
		}
	if (conf->upstream_warn != NULL)
		log_warnx("%s", conf->upstream_warn);
	if (conf->po != NULL && conf->po->up[UPF_ALL].scheme != UPX_NONE)
		log_info("application traffic through %s (-x/--proxy)",
		    conf->po->up[UPF_ALL].shown);
	else if (conf->po != NULL)
		for (i = UPF_HTTP; i <= UPF_HTTPS; i++)
			if (conf->po->up[i].scheme != UPX_NONE)
				log_info("%s application traffic through %s "
				    "(the environment%s)", i == UPF_HTTP ?
				    "http://" : "https:// and CONNECT",
				    conf->po->up[i].shown,
				    conf->po->nnoproxy > 0 ?
				    ", but NO_PROXY" : "");
	if (conf->dns != NULL)
		log_info("name servers: %s (%s, %u ms each)", conf->dns,
		    conf->dns_rr ? "in turn" : "the first, then the others",
		    conf->dns_timeout_ms ? conf->dns_timeout_ms :
		    SC_DNS_TIMEOUT_MS);
}

/*
 * The port of --scproxy-port on 127.0.0.1, where proxyd also serves as
 * a plain HTTP proxy: bound at start, before the sandbox, and passed to
 * each proxyd started.  -1 and a message when it cannot be had.
 */
int
config_scproxy_listen(int port, char *err, size_t errlen)
{
	struct sockaddr_in	 sin;
	int			 fd, one = 1;

	if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC |
	    SOCK_NONBLOCK, 0)) == -1) {
		config_error(err, errlen, 0, "--scproxy-port: socket: %s",
		    strerror(errno));
		return (-1);
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons(port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1 ||
	    listen(fd, 128) == -1) {
		config_error(err, errlen, 0, "--scproxy-port %d: cannot listen "
		    "on 127.0.0.1 port %d: %s", port, port, strerror(errno));
		close(fd);
		return (-1);
	}
	return (fd);
}
