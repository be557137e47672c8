/*
 * What proxyd does to each request besides forwarding it, as the
 * operator gave it to sc: site credentials (-a), header rules (-H and
 * --response-header), the networks the cloud may reach
 * (--allow-networks, --deny-networks, --proxy-localhost).  One parser
 * for both: sc checks every value with it at start (a message naming
 * the flag), sends each value as it was given to proxyd (IMSG_PROXY_OPT),
 * and proxyd parses it again into the rules it applies.
 */
#ifndef SC_PROXYOPT_H
#define SC_PROXYOPT_H

#include <sys/types.h>
#include <sys/socket.h>

#include <stddef.h>
#include <stdint.h>

#include "imsg_types.h"

#define PROXYOPT_AUTH_MAX	64	/* -a/--auth values */
#define PROXYOPT_HEADER_MAX	64	/* header rules, each direction */
#define PROXYOPT_NET_MAX	64	/* networks, both lists */
#define PROXYOPT_NAME_LEN	128	/* a header name, with its NUL */
#define PROXYOPT_DNS_MAX	8	/* name servers */
#define PROXYOPT_NOPROXY_MAX	64	/* NO_PROXY entries */
#define PROXYOPT_UPPROXY_PORT	1080	/* a proxy's port when none is given */
#define PROXYOPT_UPPROXY_TLS_PORT 443	/* ... an https:// proxy's */
#define PROXYOPT_CRED_MAX	256	/* a proxy's user or password, NUL */
					/* included (RFC 1929: 255 bytes) */
/* a value, with its NUL: SC_PROXYOPT_LEN (imsg_types.h) */

enum proxyopt_kind {
	PO_AUTH_V4 = 1,		/* host:port:user:password */
	PO_AUTH_V5,		/* user:password@host:port */
	PO_HEADER_REQ,		/* -H: "name: value", "name;", "-name", */
	PO_HEADER_RESP,		/* "-prefix*"; --response-header */
	PO_NET_ALLOW,		/* --allow-networks: one network */
	PO_NET_DENY,		/* --deny-networks */
	PO_UPSTREAM,		/* -x/--proxy: every request */
	PO_UPSTREAM_HTTP,	/* http_proxy: http:// requests */
	PO_UPSTREAM_HTTPS,	/* https_proxy: https://, CONNECT */
	PO_NOPROXY,		/* one entry of NO_PROXY */
	PO_KIND_MAX
};

/* --proxy-localhost */
enum proxyopt_localhost {
	PO_LOCALHOST_ALLOW,
	PO_LOCALHOST_DENY,
	PO_LOCALHOST_DIRECT	/* without an upstream proxy: allow */
};

struct site_auth {
	char		 host[SC_HOST_LEN];	/* lower case; "*": any */
	uint16_t	 port;			/* 0: any */
	char		*basic;		/* "Basic " base64(user:password) */
	char		 user[SC_HOST_LEN];	/* for the log */
	size_t		 pass_off, pass_len;	/* in the value as given */
};

enum header_op {
	HR_SET,			/* name: value (replaces) */
	HR_EMPTY,		/* name; (an empty value) */
	HR_REMOVE,		/* -name */
	HR_REMOVE_PREFIX	/* -prefix* */
};

struct header_rule {
	enum header_op	 op;
	char		 name[PROXYOPT_NAME_LEN];
	size_t		 namelen;
	char		*value;		/* HR_SET */
};

struct net_rule {
	int		 allow;
	int		 builtin;	/* a default, not the operator's */
	uint8_t		 addr[16];	/* IPv4 as ::ffff:a.b.c.d */
	int		 prefix;	/* 0..128, over the 16 bytes */
	uint16_t	 port_lo, port_hi;
	char		 text[96];	/* for the 403 and the log */
};

/* an upstream proxy for the application traffic (-x, http_proxy, PAC) */
enum upproxy_scheme {
	UPX_NONE,
	UPX_HTTP,		/* absolute form; CONNECT for TLS, tunnels */
	UPX_SOCKS5		/* RFC 1928, user and password RFC 1929 */
};

struct upproxy {
	enum upproxy_scheme	 scheme;
	char			 host[SC_HOST_LEN];	/* no brackets */
	char			 port[8];
	uint16_t		 portnum;
	int			 ipv6;
	int			 tls;		/* UPX_HTTP: https://, TLS to it */
	char			 user[PROXYOPT_CRED_MAX];	/* "": none */
	char			 pass[PROXYOPT_CRED_MAX];
	char			*basic;		/* "Basic ..." for HTTP */
	char			 shown[SC_HOST_LEN + PROXYOPT_CRED_MAX + 32];
						/* for logs: no password */
};

/* which of struct proxyopt's up[] */
enum upproxy_for { UPF_ALL, UPF_HTTP, UPF_HTTPS, UPF_MAX };

struct proxyopt {
	struct site_auth	 auth[PROXYOPT_AUTH_MAX];
	int			 nauth;
	struct header_rule	 req[PROXYOPT_HEADER_MAX];
	int			 nreq;
	struct header_rule	 resp[PROXYOPT_HEADER_MAX];
	int			 nresp;
	struct net_rule		 net[PROXYOPT_NET_MAX + 8];
	int			 nnet;
	int			 nallow;	/* the operator's allow rules */
	struct upproxy		 up[UPF_MAX];	/* -x; http_proxy, https_proxy */
	char			 noproxy[PROXYOPT_NOPROXY_MAX][SC_HOST_LEN];
	int			 nnoproxy;
};

void	 proxyopt_init(struct proxyopt *);
void	 proxyopt_free(struct proxyopt *);
int	 proxyopt_add(struct proxyopt *, enum proxyopt_kind, const char *,
	    char *, size_t);
void	 proxyopt_defaults(struct proxyopt *, enum proxyopt_localhost);
const struct site_auth *proxyopt_auth_find(const struct proxyopt *,
	    const char *, uint16_t);
const struct header_rule *proxyopt_header_find(const struct header_rule *,
	    int, const char *);
int	 proxyopt_header_protected(const char *);
const struct net_rule *proxyopt_net_check(const struct proxyopt *,
	    const struct sockaddr *);
int	 proxyopt_dns_server(const char *, char *, size_t, char *, size_t);
void	 proxyopt_upproxy_show(struct upproxy *);
int	 proxyopt_upproxy(const char *, size_t, enum upproxy_scheme,
	    uint16_t, struct upproxy *, char *, size_t);
void	 proxyopt_upproxy_clear(struct upproxy *);
int	 proxyopt_upproxy_pass(const char *, size_t *, size_t *);
const struct upproxy *proxyopt_upproxy_for(const struct proxyopt *,
	    const char *, int);
int	 proxyopt_is_localhost(const char *);

#endif /* SC_PROXYOPT_H */
