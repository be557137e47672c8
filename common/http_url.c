/*
 * Authorities (host [":" port]) and absolute http:// URLs, strictly.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <ctype.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "http.h"

static int	 auth_fail(struct http_authority *, const char *);
static int	 auth_port(const char *, size_t, uint16_t *);

static int
auth_fail(struct http_authority *a, const char *why)
{
	a->errstr = why;
	return (-1);
}

/* 1*DIGIT, any leading zeros, its value at most 65535: 0, or -1. */
static int
auth_port(const char *p, size_t len, uint16_t *portp)
{
	unsigned long	 v = 0;
	size_t		 i;

	if (len == 0)
		return (-1);
	for (i = 0; i < len; i++) {
		if (p[i] < '0' || p[i] > '9')
			return (-1);
		if ((v = v * 10 + (p[i] - '0')) > 65535)
			return (-1);
	}
	*portp = v;
	return (0);
}

/*
 * The len bytes at s (no NUL needed) as host [":" port] into a; dport is
 * the port when none is given, 0 when one is required.  Flags:
 * HTTP_AUTH_PORT0 takes port 0 (a listening address: any port);
 * HTTP_AUTH_NOPORT takes a host alone, where an IPv6 address may go
 * without brackets, and leaves the port empty.  An empty port (RFC 3986:
 * "host:") is no port.  No sign, space or other byte is skipped anywhere.
 * Returns 0, or -1 with a->errstr.
 */
int
http_parse_authority(const char *s, size_t len, uint16_t dport, int flags,
    struct http_authority *a)
{
	struct in6_addr	 in6;
	const char	*h, *p = NULL, *e = s + len, *end;
	size_t		 hlen, i;

	memset(a, 0, sizeof(*a));
	if (len == 0)
		return (auth_fail(a, "empty"));
	if (s[0] == '[') {
		if ((end = memchr(s, ']', len)) == NULL)
			return (auth_fail(a, "no ']' after the IPv6 address"));
		h = s + 1;
		hlen = end - h;
		if (end + 1 < e) {
			if (end[1] != ':')
				return (auth_fail(a, "bytes after ']'"));
			p = end + 2;
		}
		a->ipv6 = 1;
	} else if ((flags & HTTP_AUTH_NOPORT) &&
	    memchr(s, ':', len) != NULL) {
		h = s;
		hlen = len;
		a->ipv6 = 1;
	} else {
		h = s;
		for (i = 0; i < len && s[i] != ':'; i++)
			if (!isalnum((unsigned char)s[i]) &&
			    (s[i] == '\0' || strchr("-._~", s[i]) == NULL))
				return (auth_fail(a, "bad host"));
		hlen = i;
		if (i < len) {
			p = s + i + 1;
			if (memchr(p, ':', e - p) != NULL)
				return (auth_fail(a, "an IPv6 address goes in "
				    "brackets, [addr]:port"));
		}
	}
	if (hlen == 0)
		return (auth_fail(a, "no host"));
	if (hlen >= sizeof(a->host))
		return (auth_fail(a, "host too long"));
	if (a->ipv6 && memchr(h, '\0', hlen) != NULL)
		return (auth_fail(a, "bad IPv6 address"));
	memcpy(a->host, h, hlen);
	a->host[hlen] = '\0';
	if (a->ipv6 && inet_pton(AF_INET6, a->host, &in6) != 1)
		return (auth_fail(a, "bad IPv6 address"));
	if (flags & HTTP_AUTH_NOPORT) {
		if (p != NULL)
			return (auth_fail(a, "a port after an address alone"));
		return (0);
	}
	if (p == NULL || p == e) {
		if (dport == 0)
			return (auth_fail(a, "no port"));
		a->portnum = dport;
	} else if (auth_port(p, e - p, &a->portnum) == -1 ||
	    (a->portnum == 0 && !(flags & HTTP_AUTH_PORT0)))
		return (auth_fail(a, (flags & HTTP_AUTH_PORT0) ?
		    "the port is not a number from 0 to 65535" :
		    "the port is not a number from 1 to 65535"));
	snprintf(a->port, sizeof(a->port), "%u", a->portnum);
	return (0);
}

/*
 * An absolute-form request target (struct http_url); the scheme is
 * matched without regard to case.  Returns 0, or -1 with u->auth.errstr.
 */
int
http_parse_url(const char *target, struct http_url *u)
{
	const char	*a, *e;

	memset(u, 0, sizeof(*u));
	if (strncasecmp(target, "https://", 8) == 0) {
		u->tls = 1;
		a = target + 8;
	} else if (strncasecmp(target, "http://", 7) == 0)
		a = target + 7;
	else
		return (auth_fail(&u->auth, "not an http:// or https:// URL"));
	e = a + strcspn(a, "/?#");
	if (strchr(e, '#') != NULL)
		return (auth_fail(&u->auth, "a fragment"));
	if (memchr(a, '@', e - a) != NULL)
		return (auth_fail(&u->auth, "user information"));
	if (http_parse_authority(a, e - a, u->tls ? 443 : 80, 0,
	    &u->auth) == -1)
		return (-1);
	u->authority = a;
	u->authlen = e - a;
	u->path = e;
	return (0);
}
