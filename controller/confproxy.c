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

#include "controller.h"
#include "log.h"
#include "proxyopt.h"

static int	 cp_value(struct sc_config *, enum proxyopt_kind,
		    const char *, const char *, char *, size_t);
static int	 cp_list(struct sc_config *, enum confproxy_opt,
		    const char *, const char *, char *, size_t);
static int	 cp_duration(const char *, const char *, uint32_t *, char *,
		    size_t);

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
 * A duration as sc run takes it: 500ms, 5s, 1m, or a number of seconds;
 * from 1 ms to SC_DNS_TIMEOUT_MAX_MS.
 */
static int
cp_duration(const char *val, const char *flag, uint32_t *ms, char *err,
    size_t errlen)
{
	char		*end;
	unsigned long	 n, mul = 1000;

	errno = 0;
	n = strtoul(val, &end, 10);
	if (!isdigit((unsigned char)*val) || errno != 0)
		goto bad;
	if (strcmp(end, "ms") == 0)
		mul = 1;
	else if (strcmp(end, "m") == 0)
		mul = 60000;
	else if (*end != '\0' && strcmp(end, "s") != 0)
		goto bad;
	if (n == 0 || n > SC_DNS_TIMEOUT_MAX_MS / mul)
		goto bad;
	*ms = (uint32_t)(n * mul);
	return (CONFIG_OK);
 bad:
	return (config_error(err, errlen, CONFIG_ERROR, "%s: '%s' is not a "
	    "duration from 1ms to %ds (500ms, 5s, 1m)", flag, val,
	    SC_DNS_TIMEOUT_MAX_MS / 1000));
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
		return (cp_duration(arg, flag, &conf->dns_timeout_ms, err,
		    errlen));
	case CP_LOCALHOST:
		if (strcmp(arg, "allow") == 0)
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

	if (s == NULL || conf->po == NULL)
		return;
	for (i = 0; i < conf->npo; i++) {
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
