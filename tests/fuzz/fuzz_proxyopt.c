/*
 * Fuzz target for common/proxyopt.c: the input is lines, each "K value"
 * with K a digit, the kind of the value (1-6: credentials of both
 * versions, request and response header rules, allow and deny
 * networks; 7: a name server; 8: an upstream proxy, -x; 9: a NO_PROXY
 * entry); every value is added, then the defaults,
 * then the last line's bytes are taken as an address and a port and
 * judged, and as a host and a field name looked up, and its upstream
 * proxy chosen.  Checked: nothing crashes, an added credential's
 * password lies inside its value and its Basic value is there, a
 * proxy's password span lies inside its value, what it shows is
 * terminated and a proxy it chose is one of the list, a verdict is a
 * rule of the list or none, every message is terminated.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <netinet/in.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proxyopt.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void
judge(const struct proxyopt *po, const uint8_t *b, size_t n)
{
	struct sockaddr_in6	 sin6;
	struct sockaddr_in	 sin;
	const struct net_rule	*r;

	memset(&sin, 0, sizeof(sin));
	memset(&sin6, 0, sizeof(sin6));
	sin.sin_family = AF_INET;
	sin6.sin6_family = AF_INET6;
	memcpy(&sin.sin_addr, b, n < 4 ? n : 4);
	memcpy(&sin6.sin6_addr, b, n < 16 ? n : 16);
	if (n > 17) {
		sin.sin_port = sin6.sin6_port = (uint16_t)(b[16] << 8 | b[17]);
	}
	r = proxyopt_net_check(po, (struct sockaddr *)&sin);
	if (r != NULL && (r < po->net || r >= po->net + po->nnet) &&
	    strcmp(r->text, "not in --allow-networks") != 0)
		abort();
	r = proxyopt_net_check(po, (struct sockaddr *)&sin6);
	if (r != NULL && (r < po->net || r >= po->net + po->nnet) &&
	    strcmp(r->text, "not in --allow-networks") != 0)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct proxyopt		 po;
	const struct site_auth	*a;
	const struct upproxy	*up;
	size_t			 off, plen;
	char			 line[SC_PROXYOPT_LEN + 8], err[256], out[64];
	const uint8_t		*p = data, *end = data + size, *nl;
	const uint8_t		*last = data;
	size_t			 n, lastn = 0;
	int			 kind, before;

	proxyopt_init(&po);
	while (p < end) {
		if ((nl = memchr(p, '\n', end - p)) == NULL)
			nl = end;
		n = nl - p;
		last = p;
		lastn = n;
		if (n >= 2 && n - 2 < sizeof(line) && p[0] >= '1' &&
		    p[0] <= '9' && p[1] == ' ') {
			kind = p[0] - '0';
			if (kind == 8)
				kind = PO_UPSTREAM;
			else if (kind == 9)
				kind = PO_NOPROXY;
			memcpy(line, p + 2, n - 2);
			line[n - 2] = '\0';
			err[0] = '\0';
			before = po.nauth;
			if (kind == 7) {
				if (proxyopt_dns_server(line, out, sizeof(out),
				    err, sizeof(err)) == 0 &&
				    memchr(out, '\0', sizeof(out)) == NULL)
					abort();
			} else if (kind == PO_UPSTREAM) {
				if (proxyopt_add(&po, kind, line, err,
				    sizeof(err)) == 0 && memchr(po.up[UPF_ALL].shown,
				    '\0', sizeof(po.up[UPF_ALL].shown)) == NULL)
					abort();
				if (proxyopt_upproxy_pass(line, &off, &plen) == 0 &&
				    off + plen > strlen(line))
					abort();
			} else if (proxyopt_add(&po, kind, line, err,
			    sizeof(err)) == 0 && po.nauth > before) {
				a = &po.auth[before];
				if (a->basic == NULL || strncmp(a->basic,
				    "Basic ", 6) != 0 ||
				    a->pass_off + a->pass_len > strlen(line))
					abort();
			}
			if (memchr(err, '\0', sizeof(err)) == NULL)
				abort();
		}
		p = nl + 1;
	}
	proxyopt_defaults(&po, lastn & 1 ? PO_LOCALHOST_DENY :
	    PO_LOCALHOST_ALLOW);
	judge(&po, last, lastn);
	if (lastn > 0 && lastn < 200) {
		memcpy(line, last, lastn);
		line[lastn] = '\0';
		(void)proxyopt_auth_find(&po, line, (uint16_t)lastn);
		(void)proxyopt_header_find(po.req, po.nreq, line);
		(void)proxyopt_header_find(po.resp, po.nresp, line);
		up = proxyopt_upproxy_for(&po, line, lastn & 1);
		if (up != NULL && (up < po.up || up >= po.up + UPF_MAX))
			abort();
		(void)proxyopt_is_localhost(line);
	}
	proxyopt_free(&po);
	return (0);
}
