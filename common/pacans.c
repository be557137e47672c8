/*
 * The answer of a PAC script's FindProxyForURL(): entries separated by
 * ';', each "DIRECT", "PROXY host:port" (also "HTTP"), "HTTPS
 * host:port" (an HTTP proxy spoken to inside TLS), or "SOCKS host:port"
 * (also "SOCKS5"), tried in their order.  Entries sc does not speak
 * (SOCKS4) and unknown words are skipped; an answer with nothing usable
 * is an error.
 */
#include <sys/types.h>

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "pacans.h"

static int	 pa_error(char *, size_t, const char *, ...)
		    __attribute__((__format__ (printf, 3, 4)));
static int	 pa_entry(const char *, size_t, struct upproxy *, char *,
		    size_t);

static int
pa_error(char *err, size_t errlen, const char *fmt, ...)
{
	va_list	 ap;

	if (err != NULL && errlen > 0) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return (-1);
}

/* One entry, trimmed: 1 filled, 0 skipped, -1 malformed. */
static int
pa_entry(const char *s, size_t n, struct upproxy *up, char *err,
    size_t errlen)
{
	enum upproxy_scheme	 scheme;
	const char		*w = s, *arg;
	size_t			 wlen, alen;
	uint16_t		 defport;
	int			 tls = 0;

	for (wlen = 0; wlen < n && !isspace((unsigned char)s[wlen]); wlen++)
		;
	for (arg = s + wlen; arg < s + n && isspace((unsigned char)*arg);
	    arg++)
		;
	alen = s + n - arg;
	if (wlen == 6 && strncasecmp(w, "DIRECT", 6) == 0) {
		if (alen != 0)
			return (pa_error(err, errlen, "DIRECT takes nothing"));
		memset(up, 0, sizeof(*up));
		up->scheme = UPX_NONE;
		strlcpy(up->shown, "DIRECT", sizeof(up->shown));
		return (1);
	}
	if ((wlen == 5 && strncasecmp(w, "PROXY", 5) == 0) ||
	    (wlen == 4 && strncasecmp(w, "HTTP", 4) == 0)) {
		scheme = UPX_HTTP;
		defport = PAC_PROXY_PORT;
	} else if (wlen == 5 && strncasecmp(w, "HTTPS", 5) == 0) {
		scheme = UPX_HTTP;
		defport = PAC_HTTPS_PORT;
		tls = 1;
	} else if ((wlen == 5 && strncasecmp(w, "SOCKS", 5) == 0) ||
	    (wlen == 6 && strncasecmp(w, "SOCKS5", 6) == 0)) {
		scheme = UPX_SOCKS5;
		defport = PAC_SOCKS_PORT;
	} else
		return (0);	/* SOCKS4, what we do not know */
	if (alen == 0)
		return (pa_error(err, errlen, "%.*s without a host",
		    (int)wlen, w));
	/* host[:port] only: no scheme, no credentials, no path */
	if (memchr(arg, '@', alen) != NULL || memchr(arg, '/', alen) != NULL)
		return (pa_error(err, errlen, "%.*s %.*s: host[:port] only",
		    (int)wlen, w, alen > 64 ? 64 : (int)alen, arg));
	if (proxyopt_upproxy(arg, alen, scheme, defport, up, err,
	    errlen) == -1)
		return (-1);
	if (tls) {
		up->tls = 1;
		proxyopt_upproxy_show(up);
	}
	return (1);
}

int
pacans_parse(const char *ans, size_t len, struct upproxy *out, int max,
    char *err, size_t errlen)
{
	const char	*p = ans, *end = ans + len, *e, *b, *t;
	int		 n = 0, r, bad = 0;
	char		 why[128] = "";

	if (len >= PAC_ANSWER_LEN)
		return (pa_error(err, errlen, "an answer of %zu bytes "
		    "(at most %d)", len, PAC_ANSWER_LEN - 1));
	if (memchr(ans, '\0', len) != NULL)
		return (pa_error(err, errlen, "a NUL in the answer"));
	while (p < end && n < max) {
		if ((e = memchr(p, ';', end - p)) == NULL)
			e = end;
		for (b = p; b < e && isspace((unsigned char)*b); b++)
			;
		for (t = e; t > b && isspace((unsigned char)t[-1]); t--)
			;
		p = e < end ? e + 1 : end;
		if (b == t)
			continue;
		if ((r = pa_entry(b, t - b, &out[n], why, sizeof(why))) == 1)
			n++;
		else if (r == -1)
			bad++;
	}
	if (n == 0) {
		if (bad)
			return (pa_error(err, errlen, "%s", why));
		return (pa_error(err, errlen, "no DIRECT, PROXY or SOCKS in "
		    "the answer"));
	}
	return (n);
}
