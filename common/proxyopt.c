/*
 * The parser of what proxyd does to requests besides forwarding them
 * (see proxyopt.h): site credentials, header rules, networks, and the
 * addresses of name servers.  Every value is text someone typed: each
 * is checked whole, and a message says what is wrong with it without
 * ever showing a password.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http.h"
#include "proxyopt.h"
#include "text.h"

static int	 po_error(char *, size_t, const char *, ...)
		    __attribute__((__format__ (printf, 3, 4)));
static int	 po_port(const char *, size_t, uint16_t *);
static int	 po_host(const char *, size_t, char *, size_t);
static char	*po_basic(const char *, size_t);
static int	 po_auth(struct proxyopt *, enum proxyopt_kind, const char *,
		    char *, size_t);
static int	 po_header(struct proxyopt *, enum proxyopt_kind,
		    const char *, char *, size_t);
static int	 po_addr(const char *, size_t, uint8_t *, int *);
static int	 po_net(struct proxyopt *, int, int, const char *, char *,
		    size_t);
static int	 po_net_match(const struct net_rule *, const uint8_t *,
		    uint16_t);
static int	 po_unescape(const char *, size_t, char *, size_t);
static int	 po_noproxy(struct proxyopt *, const char *, char *, size_t);

/* the networks denied unless the operator allows them (proxyopt.h) */
static const char *po_linklocal[] = {
	"169.254.0.0/16", "fe80::/10", "fd00:ec2::254/128", NULL
};
static const char *po_loopback[] = {
	"127.0.0.0/8", "::1/128", "0.0.0.0/8", "::/128", NULL
};

/* an address that no allow rule names, when some do */
static const struct net_rule po_not_allowed = {
	0, 1, { 0 }, 0, 0, 0, "not in --allow-networks"
};

static int
po_error(char *err, size_t errlen, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return (-1);
}

void
proxyopt_init(struct proxyopt *po)
{
	memset(po, 0, sizeof(*po));
}

void
proxyopt_free(struct proxyopt *po)
{
	int	 i;

	for (i = 0; i < po->nauth; i++)
		if (po->auth[i].basic != NULL) {
			explicit_bzero(po->auth[i].basic,
			    strlen(po->auth[i].basic));
			free(po->auth[i].basic);
		}
	for (i = 0; i < po->nreq; i++)
		free(po->req[i].value);
	for (i = 0; i < po->nresp; i++)
		free(po->resp[i].value);
	for (i = 0; i < UPF_MAX; i++)
		proxyopt_upproxy_clear(&po->up[i]);
	explicit_bzero(po, sizeof(*po));
}

/*
 * One value of kind into po.  -1 and a message in err (which names
 * neither the flag, which the caller adds, nor a password) when it is
 * not good.
 */
int
proxyopt_add(struct proxyopt *po, enum proxyopt_kind kind, const char *val,
    char *err, size_t errlen)
{
	size_t	 len = strlen(val);
	int	 i;

	if (len == 0)
		return (po_error(err, errlen, "an empty value"));
	if (len >= SC_PROXYOPT_LEN)
		return (po_error(err, errlen, "value too long (at most %d "
		    "bytes)", SC_PROXYOPT_LEN - 1));
	if (text_ctlspan(val, len, kind == PO_HEADER_REQ ||
	    kind == PO_HEADER_RESP ? TEXT_HTAB : 0) != len)
		return (po_error(err, errlen, "a control character (CR, LF, "
		    "...) in the value"));
	switch (kind) {
	case PO_AUTH_V4:
	case PO_AUTH_V5:
		return (po_auth(po, kind, val, err, errlen));
	case PO_HEADER_REQ:
	case PO_HEADER_RESP:
		return (po_header(po, kind, val, err, errlen));
	case PO_NET_ALLOW:
	case PO_NET_DENY:
		return (po_net(po, kind == PO_NET_ALLOW, 0, val, err, errlen));
	case PO_UPSTREAM:
	case PO_UPSTREAM_HTTP:
	case PO_UPSTREAM_HTTPS:
		i = kind == PO_UPSTREAM ? UPF_ALL : kind == PO_UPSTREAM_HTTP ?
		    UPF_HTTP : UPF_HTTPS;
		proxyopt_upproxy_clear(&po->up[i]);
		return (proxyopt_upproxy(val, len, UPX_HTTP,
		    PROXYOPT_UPPROXY_PORT, &po->up[i], err, errlen));
	case PO_NOPROXY:
		return (po_noproxy(po, val, err, errlen));
	default:
		return (po_error(err, errlen, "unknown kind %d", (int)kind));
	}
}

/* A port, or "*" (0). */
static int
po_port(const char *s, size_t n, uint16_t *port)
{
	unsigned long	 v = 0;
	size_t		 i;

	if (n == 1 && s[0] == '*') {
		*port = 0;
		return (0);
	}
	if (n == 0 || n > 5)
		return (-1);
	for (i = 0; i < n; i++) {
		if (!isdigit((unsigned char)s[i]))
			return (-1);
		v = v * 10 + (s[i] - '0');
	}
	if (v == 0 || v > 65535)
		return (-1);
	*port = (uint16_t)v;
	return (0);
}

/* A host name, an address (IPv6 without brackets) or "*", lower-cased. */
static int
po_host(const char *s, size_t n, char *out, size_t outlen)
{
	size_t	 i;

	if (n == 0 || n >= outlen)
		return (-1);
	if (n == 1 && s[0] == '*') {
		strlcpy(out, "*", outlen);
		return (0);
	}
	for (i = 0; i < n; i++) {
		if (!isalnum((unsigned char)s[i]) && s[i] != '.' &&
		    s[i] != '-' && s[i] != '_' && s[i] != ':')
			return (-1);
		out[i] = tolower((unsigned char)s[i]);
	}
	out[n] = '\0';
	return (0);
}

/* "Basic " and the base64 of n bytes of cred (RFC 4648). */
static char *
po_basic(const char *cred, size_t n)
{
	static const char	 b64[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	const unsigned char	*p = (const unsigned char *)cred;
	char			*out, *o;
	size_t			 i;
	uint32_t		 v;

	if ((out = malloc(6 + (n + 2) / 3 * 4 + 1)) == NULL)
		return (NULL);
	memcpy(out, "Basic ", 6);
	o = out + 6;
	for (i = 0; i + 2 < n; i += 3) {
		v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
		*o++ = b64[v >> 18 & 63];
		*o++ = b64[v >> 12 & 63];
		*o++ = b64[v >> 6 & 63];
		*o++ = b64[v & 63];
	}
	if (i < n) {
		v = (uint32_t)p[i] << 16;
		if (i + 1 < n)
			v |= (uint32_t)p[i + 1] << 8;
		*o++ = b64[v >> 18 & 63];
		*o++ = b64[v >> 12 & 63];
		*o++ = i + 1 < n ? b64[v >> 6 & 63] : '=';
		*o++ = '=';
	}
	*o = '\0';
	return (out);
}

/*
 * Site credentials: version 4 host:port:user:password, version 5
 * user:password@host:port; host and port may be "*", an IPv6 host is in
 * brackets.  The password is what follows the user's ':' (v4: the
 * third ':'), as it is: it may hold ':' and '@'.
 */
static int
po_auth(struct proxyopt *po, enum proxyopt_kind kind, const char *val,
    char *err, size_t errlen)
{
	struct site_auth	*a;
	const char		*hp, *hpe, *user, *ue, *pass, *pe, *c;
	size_t			 len = strlen(val);

	if (po->nauth >= PROXYOPT_AUTH_MAX)
		return (po_error(err, errlen, "more than %d credentials",
		    PROXYOPT_AUTH_MAX));
	if (kind == PO_AUTH_V5) {
		/* user:password@host:port */
		if ((hp = strrchr(val, '@')) == NULL)
			return (po_error(err, errlen, "expected "
			    "user:password@host:port"));
		user = val;
		if ((ue = memchr(val, ':', hp - val)) == NULL)
			return (po_error(err, errlen, "expected "
			    "user:password@host:port (no ':' before '@')"));
		pass = ue + 1;
		pe = hp;
		hp++;
		hpe = val + len;
	} else {
		/* host:port:user:password */
		hp = val;
		if (*hp == '[') {
			if ((c = strchr(hp, ']')) == NULL || c[1] != ':')
				return (po_error(err, errlen, "expected "
				    "host:port:user:password"));
			c++;
		} else if ((c = strchr(hp, ':')) == NULL)
			return (po_error(err, errlen, "expected "
			    "host:port:user:password"));
		if ((c = strchr(c + 1, ':')) == NULL)
			return (po_error(err, errlen, "expected "
			    "host:port:user:password"));
		hpe = c;
		user = c + 1;
		if ((ue = strchr(user, ':')) == NULL)
			return (po_error(err, errlen, "expected "
			    "host:port:user:password (no password)"));
		pass = ue + 1;
		pe = val + len;
	}
	if (ue == user)
		return (po_error(err, errlen, "an empty user name"));

	a = &po->auth[po->nauth];
	memset(a, 0, sizeof(*a));
	/* host:port, [v6]:port */
	if (*hp == '[') {
		if ((c = memchr(hp, ']', hpe - hp)) == NULL || c + 1 >= hpe ||
		    c[1] != ':' || po_host(hp + 1, c - hp - 1, a->host,
		    sizeof(a->host)) == -1)
			return (po_error(err, errlen, "bad [address]:port"));
		c++;
	} else {
		for (c = hpe; c > hp && c[-1] != ':'; c--)
			;
		if (c == hp)
			return (po_error(err, errlen, "expected host:port "
			    "(a port, or '*')"));
		c--;
		if (po_host(hp, c - hp, a->host, sizeof(a->host)) == -1)
			return (po_error(err, errlen, "bad host '%.*s'",
			    (int)(c - hp), hp));
	}
	if (po_port(c + 1, hpe - c - 1, &a->port) == -1)
		return (po_error(err, errlen, "bad port '%.*s' (1 to 65535, or "
		    "'*')", (int)(hpe - c - 1), c + 1));
	if ((size_t)(ue - user) >= sizeof(a->user))
		return (po_error(err, errlen, "user name too long"));
	memcpy(a->user, user, ue - user);
	a->user[ue - user] = '\0';
	a->pass_off = pass - val;
	a->pass_len = pe - pass;
	/* user:password, the two joined as they are in the value */
	if (kind == PO_AUTH_V5)
		a->basic = po_basic(val, pe - val);
	else {
		char	 buf[SC_PROXYOPT_LEN];

		snprintf(buf, sizeof(buf), "%s:%.*s", a->user,
		    (int)(pe - pass), pass);
		a->basic = po_basic(buf, strlen(buf));
		explicit_bzero(buf, sizeof(buf));
	}
	if (a->basic == NULL)
		return (po_error(err, errlen, "out of memory"));
	po->nauth++;
	return (0);
}

/*
 * A header rule of sc run's -H: "name: value" sets the field (every
 * field of that name goes, one with this value comes), "name;" sets it
 * empty, "-name" removes it, "-prefix*" removes every field whose name
 * starts so.  Fields that frame the message or belong to the hop are
 * not for rules (proxyopt_header_protected); Host may be set, not
 * removed.
 */
static int
po_header(struct proxyopt *po, enum proxyopt_kind kind, const char *val,
    char *err, size_t errlen)
{
	struct header_rule	*r, *list;
	const char		*name = val, *v = NULL, *ve;
	size_t			 n, i;
	int			*count;

	if (kind == PO_HEADER_REQ) {
		list = po->req;
		count = &po->nreq;
	} else {
		list = po->resp;
		count = &po->nresp;
	}
	if (*count >= PROXYOPT_HEADER_MAX)
		return (po_error(err, errlen, "more than %d header rules",
		    PROXYOPT_HEADER_MAX));
	r = &list[*count];
	memset(r, 0, sizeof(*r));
	if (*val == '-') {
		name = val + 1;
		n = strlen(name);
		r->op = HR_REMOVE;
		if (n > 0 && name[n - 1] == '*') {
			r->op = HR_REMOVE_PREFIX;
			n--;
		}
	} else if ((v = strchr(val, ':')) != NULL) {
		n = v - val;
		for (v++; *v == ' ' || *v == '\t'; v++)
			;
		for (ve = v + strlen(v); ve > v && (ve[-1] == ' ' ||
		    ve[-1] == '\t'); ve--)
			;
		r->op = ve > v ? HR_SET : HR_EMPTY;
		if (r->op == HR_SET && (r->value = strndup(v, ve - v)) == NULL)
			return (po_error(err, errlen, "out of memory"));
	} else {
		n = strlen(val);
		if (n == 0 || val[n - 1] != ';')
			return (po_error(err, errlen, "'%s' is none of "
			    "'name: value', 'name;', '-name', '-prefix*'",
			    val));
		n--;
		r->op = HR_EMPTY;
	}
	if (n == 0 || n >= sizeof(r->name))
		goto bad;
	for (i = 0; i < n; i++)
		if (!http_tchar((unsigned char)name[i]) ||
		    (r->op == HR_REMOVE_PREFIX && name[i] == '*'))
			goto bad;
	memcpy(r->name, name, n);
	r->name[n] = '\0';
	r->namelen = n;
	if (r->op != HR_REMOVE_PREFIX && proxyopt_header_protected(r->name) &&
	    !(r->op == HR_SET && kind == PO_HEADER_REQ &&
	    strcasecmp(r->name, "Host") == 0)) {
		free(r->value);
		r->value = NULL;
		return (po_error(err, errlen, "%s frames the message or "
		    "belongs to the connection: no rule may change it",
		    r->name));
	}
	(*count)++;
	return (0);
 bad:
	free(r->value);
	r->value = NULL;
	return (po_error(err, errlen, "bad header name in '%s' (letters, "
	    "digits and !#$%%&'*+-.^_`|~, at most %d)", val,
	    PROXYOPT_NAME_LEN - 1));
}

/*
 * Fields that rules never touch: those that frame the body (a rule
 * that changed them would let a request smuggle another), those of the
 * hop, and Host (which only a set rule may change).
 */
int
proxyopt_header_protected(const char *name)
{
	static const char	*names[] = {
		"Content-Length", "Transfer-Encoding", "Connection",
		"Proxy-Connection", "Keep-Alive", "TE", "Trailer", "Upgrade",
		"Proxy-Authorization", "Proxy-Authenticate", "Host", NULL
	};
	int			 i;

	for (i = 0; names[i] != NULL; i++)
		if (strcasecmp(name, names[i]) == 0)
			return (1);
	return (0);
}

/*
 * The first rule of list (n of them) that acts on a field of this name,
 * NULL for none.  A prefix rule never acts on a protected field.
 */
const struct header_rule *
proxyopt_header_find(const struct header_rule *list, int n, const char *name)
{
	int	 i;

	for (i = 0; i < n; i++) {
		if (list[i].op == HR_REMOVE_PREFIX) {
			if (strncasecmp(name, list[i].name,
			    list[i].namelen) == 0 &&
			    !proxyopt_header_protected(name))
				return (&list[i]);
		} else if (strcasecmp(name, list[i].name) == 0)
			return (&list[i]);
	}
	return (NULL);
}

/* The first credentials for host (lower case or not) and port, or NULL. */
const struct site_auth *
proxyopt_auth_find(const struct proxyopt *po, const char *host,
    uint16_t port)
{
	int	 i;

	for (i = 0; i < po->nauth; i++)
		if ((po->auth[i].port == 0 || po->auth[i].port == port) &&
		    (strcmp(po->auth[i].host, "*") == 0 ||
		    strcasecmp(po->auth[i].host, host) == 0))
			return (&po->auth[i]);
	return (NULL);
}

/* An IPv4 or IPv6 address (dotted quad only) as 16 bytes; family. */
static int
po_addr(const char *s, size_t n, uint8_t *addr, int *family)
{
	char		 buf[INET6_ADDRSTRLEN];
	struct in_addr	 in;

	if (n == 0 || n >= sizeof(buf))
		return (-1);
	memcpy(buf, s, n);
	buf[n] = '\0';
	if (inet_pton(AF_INET, buf, &in) == 1) {
		memset(addr, 0, 10);
		addr[10] = addr[11] = 0xff;
		memcpy(addr + 12, &in, 4);
		*family = AF_INET;
		return (0);
	}
	if (inet_pton(AF_INET6, buf, addr) == 1) {
		*family = AF_INET6;
		return (0);
	}
	return (-1);
}

/*
 * One network: a.b.c.d[/len][:port[-port]], [v6[/len]]:port[-port] or
 * v6[/len].  builtin: one of proxyd's defaults.
 */
static int
po_net(struct proxyopt *po, int allow, int builtin, const char *val,
    char *err, size_t errlen)
{
	struct net_rule	*r;
	const char	*a = val, *ae, *pl = NULL, *ports = NULL, *dash;
	size_t		 len = strlen(val);
	unsigned long	 bits = 0;
	int		 family, max, i;

	if (po->nnet >= (int)(sizeof(po->net) / sizeof(po->net[0])) ||
	    (!builtin && po->nnet >= PROXYOPT_NET_MAX))
		return (po_error(err, errlen, "more than %d networks",
		    PROXYOPT_NET_MAX));
	r = &po->net[po->nnet];
	memset(r, 0, sizeof(*r));
	if (*val == '[') {
		a = val + 1;
		if ((ae = strchr(a, ']')) == NULL)
			return (po_error(err, errlen, "'%s': no ']'", val));
		if (ae[1] == ':')
			ports = ae + 2;
		else if (ae[1] != '\0')
			return (po_error(err, errlen, "'%s': expected "
			    "[address/length]:port", val));
	} else if ((ports = strchr(val, ':')) != NULL && ports > val &&
	    strspn(val, "0123456789./") == (size_t)(ports - val)) {
		/* IPv4 with ports */
		ae = ports++;
	} else {
		ports = NULL;
		ae = val + len;
	}
	if ((pl = memchr(a, '/', ae - a)) != NULL) {
		const char	*p;

		if (pl + 1 == ae || ae - pl > 4)
			return (po_error(err, errlen, "'%s': bad prefix "
			    "length", val));
		for (p = pl + 1; p < ae; p++) {
			if (!isdigit((unsigned char)*p))
				return (po_error(err, errlen, "'%s': bad "
				    "prefix length", val));
			bits = bits * 10 + (*p - '0');
		}
	}
	if (po_addr(a, (pl != NULL ? pl : ae) - a, r->addr, &family) == -1)
		return (po_error(err, errlen, "'%s': not an IPv4 or IPv6 "
		    "network (address[/length])", val));
	max = family == AF_INET ? 32 : 128;
	if (pl == NULL)
		bits = max;
	if (bits > (unsigned long)max)
		return (po_error(err, errlen, "'%s': prefix length above %d",
		    val, max));
	r->prefix = (int)bits + (family == AF_INET ? 96 : 0);
	/* the bits past the prefix do not count */
	for (i = r->prefix; i < 128; i++)
		r->addr[i / 8] &= ~(0x80 >> (i % 8));
	r->port_lo = 1;
	r->port_hi = 65535;
	if (ports != NULL) {
		if ((dash = strchr(ports, '-')) == NULL)
			dash = ports + strlen(ports);
		if (po_port(ports, dash - ports, &r->port_lo) == -1 ||
		    r->port_lo == 0 || (*dash == '-' && (po_port(dash + 1,
		    strlen(dash + 1), &r->port_hi) == -1 || r->port_hi == 0)))
			return (po_error(err, errlen, "'%s': bad port or "
			    "port range (1 to 65535)", val));
		if (*dash == '\0')
			r->port_hi = r->port_lo;
		if (r->port_hi < r->port_lo)
			return (po_error(err, errlen, "'%s': port range "
			    "backwards", val));
	}
	r->allow = allow;
	r->builtin = builtin;
	if (builtin)
		strlcpy(r->text, val, sizeof(r->text));
	else
		snprintf(r->text, sizeof(r->text), "%s %s", allow ?
		    "--allow-networks" : "--deny-networks", val);
	if (allow && !builtin)
		po->nallow++;
	po->nnet++;
	return (0);
}

/*
 * proxyd's own rules, after the operator's: link-local addresses (the
 * cloud metadata service) are denied, and loopback too when localhost
 * is (--proxy-localhost deny).  The longest prefix decides, so an
 * operator's narrower allow rule still opens one of them.
 */
void
proxyopt_defaults(struct proxyopt *po, enum proxyopt_localhost lh)
{
	char	 err[128], text[96];
	int	 i;

	for (i = 0; po_linklocal[i] != NULL; i++) {
		if (po_net(po, 0, 1, po_linklocal[i], err, sizeof(err)) == 0)
			snprintf(po->net[po->nnet - 1].text,
			    sizeof(po->net[0].text), "%s (link-local, denied "
			    "by default)", po_linklocal[i]);
	}
	if (lh != PO_LOCALHOST_DENY)
		return;
	for (i = 0; po_loopback[i] != NULL; i++) {
		snprintf(text, sizeof(text), "%s", po_loopback[i]);
		if (po_net(po, 0, 1, text, err, sizeof(err)) == 0)
			snprintf(po->net[po->nnet - 1].text,
			    sizeof(po->net[0].text), "--proxy-localhost deny "
			    "(%s)", po_loopback[i]);
	}
}

static int
po_net_match(const struct net_rule *r, const uint8_t *addr, uint16_t port)
{
	int	 full = r->prefix / 8, rest = r->prefix % 8;

	if (port < r->port_lo || port > r->port_hi)
		return (0);
	if (memcmp(r->addr, addr, full) != 0)
		return (0);
	if (rest != 0 && (addr[full] & (0xff << (8 - rest)) & 0xff) !=
	    r->addr[full])
		return (0);
	return (1);
}

/*
 * May proxyd connect to sa?  NULL when it may, else the rule that says
 * no.  An IPv4-mapped IPv6 address is judged as the IPv4 address it
 * is.  The rule with the longest prefix that matches decides; a deny
 * rule wins a tie; with allow rules of the operator, an address none of
 * them matches is denied.
 */
const struct net_rule *
proxyopt_net_check(const struct proxyopt *po, const struct sockaddr *sa)
{
	const struct sockaddr_in	*sin;
	const struct sockaddr_in6	*sin6;
	const struct net_rule		*best = NULL;
	uint8_t				 addr[16];
	uint16_t			 port;
	int				 i;

	if (sa->sa_family == AF_INET) {
		sin = (const struct sockaddr_in *)sa;
		memset(addr, 0, 10);
		addr[10] = addr[11] = 0xff;
		memcpy(addr + 12, &sin->sin_addr, 4);
		port = ntohs(sin->sin_port);
	} else if (sa->sa_family == AF_INET6) {
		sin6 = (const struct sockaddr_in6 *)sa;
		memcpy(addr, &sin6->sin6_addr, 16);
		port = ntohs(sin6->sin6_port);
	} else
		return (&po_not_allowed);
	for (i = 0; i < po->nnet; i++) {
		if (!po_net_match(&po->net[i], addr, port))
			continue;
		if (best == NULL || po->net[i].prefix > best->prefix ||
		    (po->net[i].prefix == best->prefix && !po->net[i].allow))
			best = &po->net[i];
	}
	if (best != NULL)
		return (best->allow ? NULL : best);
	return (po->nallow > 0 ? &po_not_allowed : NULL);
}

/*
 * A name server: ip, ip:port, [ipv6]:port or a bare IPv6 address, port
 * 53 when none is given; out gets "ip:port" or "[ipv6]:port" as evdns
 * takes it.
 */
int
proxyopt_dns_server(const char *val, char *out, size_t outlen, char *err,
    size_t errlen)
{
	struct http_authority	 a;
	uint8_t			 addr[16];
	int			 family;

	if (po_addr(val, strlen(val), addr, &family) == 0 &&
	    family == AF_INET6) {
		snprintf(out, outlen, "[%s]:53", val);
		return (0);
	}
	if (http_parse_authority(val, strlen(val), 53, 0, &a) == -1)
		return (po_error(err, errlen, "'%s' is not ip[:port]: %s",
		    val, a.errstr));
	if (po_addr(a.host, strlen(a.host), addr, &family) == -1)
		return (po_error(err, errlen, "'%s' is not an IP address "
		    "(a name server is given by its address)", val));
	if ((size_t)snprintf(out, outlen, family == AF_INET6 ? "[%s]:%s" :
	    "%s:%s", a.host, a.port) >= outlen)
		return (po_error(err, errlen, "'%s': too long", val));
	return (0);
}

/* %XX escapes of a URL's user or password decoded into out: -1 if bad. */
static int
po_unescape(const char *s, size_t n, char *out, size_t outlen)
{
	size_t		 i, o = 0;
	unsigned int	 v;
	char		 hex[3];

	for (i = 0; i < n; i++) {
		if (o + 1 >= outlen)
			return (-1);
		if (s[i] != '%') {
			out[o++] = s[i];
			continue;
		}
		if (i + 2 >= n)
			return (-1);
		if (!isxdigit((unsigned char)s[i + 1]) ||
		    !isxdigit((unsigned char)s[i + 2]))
			return (-1);
		hex[0] = s[i + 1];
		hex[1] = s[i + 2];
		hex[2] = '\0';
		v = (unsigned int)strtoul(hex, NULL, 16);
		if (v == 0)
			return (-1);
		out[o++] = (char)v;
		i += 2;
	}
	out[o] = '\0';
	return (0);
}

void
proxyopt_upproxy_clear(struct upproxy *up)
{
	if (up->basic != NULL) {
		explicit_bzero(up->basic, strlen(up->basic));
		free(up->basic);
	}
	explicit_bzero(up, sizeof(*up));
}

/*
 * An upstream proxy: [scheme://][user[:password]@]host[:port][/], the
 * scheme http, https (HTTP to the proxy inside TLS; port 443 by
 * default), socks5, socks5h or socks (all the same SOCKS version 5:
 * the proxy resolves the names), defscheme without one; the port
 * defport without one.  The user and password may hold %XX escapes.
 * up gets it (clear it with proxyopt_upproxy_clear); -1 and a message
 * that shows no password when the value is not one.
 */
int
proxyopt_upproxy(const char *val, size_t len, enum upproxy_scheme defscheme,
    uint16_t defport, struct upproxy *up, char *err, size_t errlen)
{
	struct http_authority	 a;
	const char		*p = val, *end = val + len, *at, *colon, *sep;
	char			 cred[2 * PROXYOPT_CRED_MAX];
	size_t			 i;

	memset(up, 0, sizeof(*up));
	if (len == 0)
		return (po_error(err, errlen, "an empty proxy"));
	if (len >= SC_PROXYOPT_LEN)
		return (po_error(err, errlen, "too long"));
	for (i = 0; i < len; i++)
		if ((unsigned char)val[i] <= ' ' || val[i] == 0x7f)
			return (po_error(err, errlen, "a space or control "
			    "character in the proxy"));
	up->scheme = defscheme;
	if ((sep = memchr(val, ':', len)) != NULL && end - sep >= 3 &&
	    sep[1] == '/' && sep[2] == '/') {
		if ((size_t)(sep - val) == 4 && strncasecmp(val, "http", 4) == 0)
			up->scheme = UPX_HTTP;
		else if (((size_t)(sep - val) == 6 &&
		    strncasecmp(val, "socks5", 6) == 0) ||
		    ((size_t)(sep - val) == 7 &&
		    strncasecmp(val, "socks5h", 7) == 0) ||
		    ((size_t)(sep - val) == 5 &&
		    strncasecmp(val, "socks", 5) == 0))
			up->scheme = UPX_SOCKS5;
		else if ((size_t)(sep - val) == 5 &&
		    strncasecmp(val, "https", 5) == 0) {
			up->scheme = UPX_HTTP;
			up->tls = 1;
			defport = PROXYOPT_UPPROXY_TLS_PORT;
		} else
			return (po_error(err, errlen, "unknown proxy scheme "
			    "'%.*s' (http, https, socks5)", (int)(sep - val) >
			    16 ? 16 : (int)(sep - val), val));
		p = sep + 3;
	}
	if (end > p && end[-1] == '/')
		end--;
	if (memchr(p, '/', end - p) != NULL || memchr(p, '?', end - p) !=
	    NULL || memchr(p, '#', end - p) != NULL)
		return (po_error(err, errlen, "a proxy has no path: "
		    "[scheme://][user:password@]host[:port]"));
	/* the last '@': a password may hold one, escaped or not */
	for (at = end; at > p && at[-1] != '@'; at--)
		;
	if (at > p) {
		at--;
		if ((colon = memchr(p, ':', at - p)) == NULL)
			colon = at;
		if (colon == p)
			return (po_error(err, errlen, "an empty proxy user "
			    "name"));
		if (po_unescape(p, colon - p, up->user,
		    sizeof(up->user)) == -1)
			return (po_error(err, errlen, "bad proxy user name "
			    "(at most %d bytes; %%XX escapes, not %%00)",
			    PROXYOPT_CRED_MAX - 1));
		if (colon < at && po_unescape(colon + 1, at - colon - 1,
		    up->pass, sizeof(up->pass)) == -1) {
			explicit_bzero(up, sizeof(*up));
			return (po_error(err, errlen, "bad proxy password "
			    "(at most %d bytes; %%XX escapes, not %%00)",
			    PROXYOPT_CRED_MAX - 1));
		}
		p = at + 1;
	}
	if (http_parse_authority(p, end - p, defport, 0, &a) == -1) {
		proxyopt_upproxy_clear(up);
		return (po_error(err, errlen, "bad proxy host[:port] "
		    "'%.*s': %s", (int)(end - p > 64 ? 64 : end - p), p,
		    a.errstr));
	}
	strlcpy(up->host, a.host, sizeof(up->host));
	strlcpy(up->port, a.port, sizeof(up->port));
	up->portnum = a.portnum;
	up->ipv6 = a.ipv6;
	if (up->user[0] != '\0' && up->scheme == UPX_HTTP) {
		snprintf(cred, sizeof(cred), "%s:%s", up->user, up->pass);
		up->basic = po_basic(cred, strlen(cred));
		explicit_bzero(cred, sizeof(cred));
		if (up->basic == NULL) {
			proxyopt_upproxy_clear(up);
			return (po_error(err, errlen, "out of memory"));
		}
	}
	proxyopt_upproxy_show(up);
	return (0);
}

/* up->shown, for logs and answers: its URL without the password. */
void
proxyopt_upproxy_show(struct upproxy *up)
{
	snprintf(up->shown, sizeof(up->shown), "%s://%s%s%s%s%s:%s",
	    up->scheme == UPX_SOCKS5 ? "socks5" : up->tls ? "https" : "http",
	    up->user, up->user[0] != '\0' ? ":****@" : "", up->ipv6 ? "[" : "",
	    up->host, up->ipv6 ? "]" : "", up->port);
}

/*
 * Where the password of a proxy URL is in its text: 0 and its span, -1
 * when it has none.  For masking a command line.
 */
int
proxyopt_upproxy_pass(const char *val, size_t *off, size_t *len)
{
	const char	*p = val, *at, *colon, *s;

	if ((s = strstr(val, "://")) != NULL)
		p = s + 3;
	if ((at = strrchr(p, '@')) == NULL)
		return (-1);
	if ((colon = memchr(p, ':', at - p)) == NULL || colon + 1 == at)
		return (-1);
	*off = colon + 1 - val;
	*len = at - colon - 1;
	return (0);
}

/* One entry of NO_PROXY: "*", a host, a domain (".example.com"), an IP. */
static int
po_noproxy(struct proxyopt *po, const char *val, char *err, size_t errlen)
{
	char	*d;
	size_t	 i, n;

	if (po->nnoproxy >= PROXYOPT_NOPROXY_MAX)
		return (po_error(err, errlen, "more than %d NO_PROXY entries",
		    PROXYOPT_NOPROXY_MAX));
	if (val[0] == '*' && val[1] == '.')
		val++;
	if (val[0] == '.')
		val++;
	n = strlen(val);
	if (n == 0 || n >= SC_HOST_LEN)
		return (po_error(err, errlen, "bad NO_PROXY entry"));
	d = po->noproxy[po->nnoproxy];
	for (i = 0; i < n; i++) {
		if (!isalnum((unsigned char)val[i]) && val[i] != '.' &&
		    val[i] != '-' && val[i] != '_' && val[i] != ':' &&
		    !(n == 1 && val[i] == '*'))
			return (po_error(err, errlen, "bad NO_PROXY entry '%s' "
			    "(a host, .domain, an address, or *)", val));
		d[i] = tolower((unsigned char)val[i]);
	}
	d[n] = '\0';
	po->nnoproxy++;
	return (0);
}

/*
 * The upstream proxy for a request to host (tls: https:// or CONNECT),
 * NULL for none: -x for every one; else http_proxy or https_proxy
 * unless NO_PROXY names the host, the domain it is in, or is "*".
 */
const struct upproxy *
proxyopt_upproxy_for(const struct proxyopt *po, const char *host, int tls)
{
	const struct upproxy	*up;
	size_t			 hl = strlen(host), nl;
	int			 i;

	if (po->up[UPF_ALL].scheme != UPX_NONE)
		return (&po->up[UPF_ALL]);
	up = &po->up[tls ? UPF_HTTPS : UPF_HTTP];
	if (up->scheme == UPX_NONE)
		return (NULL);
	if (hl > 0 && host[hl - 1] == '.')
		hl--;
	for (i = 0; i < po->nnoproxy; i++) {
		if (strcmp(po->noproxy[i], "*") == 0)
			return (NULL);
		nl = strlen(po->noproxy[i]);
		if (nl > hl || strncasecmp(host + hl - nl, po->noproxy[i],
		    nl) != 0)
			continue;
		if (nl == hl || host[hl - nl - 1] == '.')
			return (NULL);
	}
	return (up);
}

/*
 * Is host the machine's own loopback: localhost, a name under
 * .localhost, a 127/8 address in any form inet_aton takes, ::1, or
 * an IPv4-mapped 127/8?
 */
int
proxyopt_is_localhost(const char *host)
{
	struct in_addr	 in;
	struct in6_addr	 in6;
	size_t		 n = strlen(host);

	if (n > 0 && host[n - 1] == '.')
		n--;
	if ((n == 9 && strncasecmp(host, "localhost", 9) == 0) ||
	    (n > 10 && strncasecmp(host + n - 10, ".localhost", 10) == 0))
		return (1);
	if (inet_aton(host, &in) == 1)
		return ((ntohl(in.s_addr) >> 24) == 127);
	if (inet_pton(AF_INET6, host, &in6) == 1)
		return (IN6_IS_ADDR_LOOPBACK(&in6) ||
		    (IN6_IS_ADDR_V4MAPPED(&in6) && in6.s6_addr[12] == 127));
	return (0);
}
