/*
 * Traffic rules: parsing both syntaxes into one list, the checks of a
 * whole list, its compiled form and the decision per request (rules.h).
 *
 * Compiled, each list is: an "all" flag; the version 4 domains in two
 * sorted arrays (the names a host must equal, the names a host must end
 * in after a dot), looked up with a binary search per dot of the host;
 * and up to three programs of rules_re.c: the version 5 expressions,
 * those that exclude, and the version 4 fast-fail expressions searched
 * in the URL.  A decision is at most a few binary searches and three
 * simulations per list, bounded in all by RULES_STEPS_MAX.
 */
#include <sys/types.h>

#include <ctype.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rules.h"
#include "rules_re.h"

/* a version 4 domain of a list */
struct rules_dom {
	const char	*name;
	uint32_t	 rule;
};

/* one list, compiled */
struct rules_set {
	size_t			 n;		/* rules in it */
	size_t			 ninclude;
	int			 v5;		/* any rule of version 5 */
	const struct rule	*all;		/* an "all" */
	const struct rule	*all_ex;	/* a "-all" */
	struct rules_dom	*exact;		/* EXACT and DOMAIN */
	size_t			 nexact;
	struct rules_dom	*suffix;	/* SUBDOMAINS and DOMAIN */
	size_t			 nsuffix;
	struct re_prog		*inc;		/* HOST_RE */
	struct re_prog		*exc;		/* HOST_RE, excluding */
	struct re_prog		*url;		/* URL_RE */
};

struct rules {
	struct rule		*v;
	size_t			 n, cap;
	int			 compiled;
	size_t			 progsize;	/* instructions, all programs */
	size_t			 steps;		/* of the decision going on */
	struct rules_set	 set[RULES_NLISTS];
};

/* the REST fields, and the flags of each list and syntax */
static const struct {
	const char	*field;
	enum rules_list	 list;
	enum rules_syntax syntax;
	const char	*flag;
} rules_fields[] = {
	{ "fast_fail_regexps",		RULES_DENY,	RULES_V4,
	    "-F/--fast-fail-regexps" },
	{ "direct_domains",		RULES_DIRECT,	RULES_V4,
	    "-D/--direct-domains" },
	{ "domain_names",		RULES_TUNNEL,	RULES_V4,
	    "-t/--tunnel-domains" },
	{ "no_ssl_bump_domains",	RULES_PASSTHROUGH, RULES_V4,
	    "-B/--no-ssl-bump-domains" },
	{ "deny_domains_v5",		RULES_DENY,	RULES_V5,
	    "-F/--deny-domains" },
	{ "direct_domains_v5",		RULES_DIRECT,	RULES_V5,
	    "-D/--direct-domains" },
	{ "tunnel_domains_v5",		RULES_TUNNEL,	RULES_V5,
	    "-T/--tunnel-domains" },
	{ "tls_passthrough_domains_v5",	RULES_PASSTHROUGH, RULES_V5,
	    "-B/--tls-passthrough-domains" },
	{ "tls_resign_domains_v5",	RULES_RESIGN,	RULES_V5,
	    "-b/--tls-resign-domains" },
	{ NULL,				0,		0,	NULL }
};

static int
rules_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return (-1);
}

/* The row of rules_fields[] of list in syntax; -1 for none. */
static int
rules_row(enum rules_list list, enum rules_syntax syntax)
{
	int	 i;

	for (i = 0; rules_fields[i].field != NULL; i++)
		if (rules_fields[i].list == list &&
		    rules_fields[i].syntax == syntax)
			return (i);
	return (-1);
}

const char *
rules_field(enum rules_list list, enum rules_syntax syntax)
{
	int	 i = rules_row(list, syntax);

	return (i == -1 ? NULL : rules_fields[i].field);
}

/* The list and syntax of a REST field; -1 for any other name. */
int
rules_field_lookup(const char *name, enum rules_list *list,
    enum rules_syntax *syntax)
{
	int	 i;

	for (i = 0; rules_fields[i].field != NULL; i++)
		if (strcmp(rules_fields[i].field, name) == 0) {
			*list = rules_fields[i].list;
			*syntax = rules_fields[i].syntax;
			return (0);
		}
	return (-1);
}

/* "-F/--deny-domains": what a user calls the list */
const char *
rules_flag(enum rules_list list, enum rules_syntax syntax)
{
	int	 i = rules_row(list, syntax);

	return (i == -1 ? "?" : rules_fields[i].flag);
}

const char *
rules_route_name(enum rules_route route)
{
	switch (route) {
	case RULES_ROUTE_TUNNEL:
		return ("tunnel");
	case RULES_ROUTE_DIRECT:
		return ("direct");
	case RULES_ROUTE_DENY:
		return ("deny");
	}
	return ("?");
}

struct rules *
rules_new(void)
{
	return (calloc(1, sizeof(struct rules)));
}

static void
rules_uncompile(struct rules *r)
{
	int	 i;

	for (i = 0; i < RULES_NLISTS; i++) {
		free(r->set[i].exact);
		free(r->set[i].suffix);
		re_prog_free(r->set[i].inc);
		re_prog_free(r->set[i].exc);
		re_prog_free(r->set[i].url);
	}
	memset(r->set, 0, sizeof(r->set));
	r->compiled = 0;
	r->progsize = 0;
}

void
rules_free(struct rules *r)
{
	size_t	 i;

	if (r == NULL)
		return;
	rules_uncompile(r);
	for (i = 0; i < r->n; i++)
		free(r->v[i].text);
	free(r->v);
	free(r);
}

size_t
rules_count(const struct rules *r)
{
	return (r->n);
}

size_t
rules_list_count(const struct rules *r, enum rules_list list)
{
	size_t	 i, n = 0;

	for (i = 0; i < r->n; i++)
		if (r->v[i].list == list)
			n++;
	return (n);
}

const struct rule *
rules_get(const struct rules *r, size_t i)
{
	return (i < r->n ? &r->v[i] : NULL);
}

/*
 * A host as rules see it, into out: lower case, without the brackets of
 * an IPv6 address or the dot that ends a fully qualified name.  Returns
 * its length, or -1 when it is empty or longer than RULES_HOST_MAX.
 */
int
rules_host_norm(const char *host, size_t len, char *out, size_t outlen)
{
	size_t	 i;

	if (len >= 2 && host[0] == '[' && host[len - 1] == ']') {
		host++;
		len -= 2;
	}
	if (len > 1 && host[len - 1] == '.')
		len--;
	if (len == 0 || len > RULES_HOST_MAX || len >= outlen)
		return (-1);
	for (i = 0; i < len; i++)
		out[i] = tolower((unsigned char)host[i]);
	out[len] = '\0';
	return ((int)len);
}

/*
 * A version 4 domain (after "*." or "."), normalised into out: labels
 * of letters, digits, '-' and '_', or an IP address.
 */
static int
domain_check(const char *d, int plain, char *out, size_t outlen,
    char *err, size_t errlen)
{
	size_t	 len, i, label = 0, colons = 0;
	int	 c;

	len = strlen(d);
	if (len > 0 && d[len - 1] == '.')
		len--;
	if (len == 0)
		return (rules_err(err, errlen, "no domain"));
	if (len > 253)
		return (rules_err(err, errlen, "a domain is at most 253 "
		    "bytes"));
	if (d[0] == '[') {
		if (!plain || d[len - 1] != ']')
			return (rules_err(err, errlen, "a bad IPv6 address"));
		d++;
		len -= 2;
	}
	for (i = 0; i < len; i++)
		if (d[i] == ':')
			colons++;
	if (colons > 0) {
		if (colons < 2 || !plain || strspn(d, "0123456789abcdefABCDEF"
		    ":.") < len)
			return (rules_err(err, errlen, "a domain has no port "
			    "(and an IPv6 address needs two colons at least)"));
	} else {
		for (i = 0; i < len; i++) {
			c = (unsigned char)d[i];
			if (c == '.') {
				if (label == 0)
					return (rules_err(err, errlen,
					    "an empty label"));
				label = 0;
				continue;
			}
			if (c == '*')
				return (rules_err(err, errlen, "a '*' may only "
				    "begin a domain, as in *.example.com"));
			if (!isalnum(c) && c != '-' && c != '_')
				return (rules_err(err, errlen, "a domain may "
				    "not contain '%c'", isprint(c) ? c : '?'));
			if (++label > 63)
				return (rules_err(err, errlen, "a label is at "
				    "most 63 bytes"));
		}
	}
	if (len >= outlen)
		return (rules_err(err, errlen, "too long"));
	for (i = 0; i < len; i++)
		out[i] = tolower((unsigned char)d[i]);
	out[len] = '\0';
	return (0);
}

/* A copy of item (len bytes) for messages: short, printable. */
static const char *
shown(const char *item, size_t len, char *buf, size_t buflen)
{
	size_t	 i, n = len < 80 ? len : 77;

	if (n >= buflen)
		n = buflen - 1;
	for (i = 0; i < n; i++)
		buf[i] = isprint((unsigned char)item[i]) ? item[i] : '?';
	buf[n] = '\0';
	if (n < len && n + 3 < buflen)
		strlcat(buf, "...", buflen);
	return (buf);
}

/*
 * One rule of list, written in syntax: item, without the spaces around
 * it.  Returns 0, or -1 with a message that names the rule in err.
 */
int
rules_add(struct rules *r, enum rules_list list, enum rules_syntax syntax,
    const char *item, char *err, size_t errlen)
{
	struct rule	 ru;
	struct re_prog	*tmp;
	const char	*s, *name;
	char		*pat = NULL, buf[96], msg[256], dom[256];
	size_t		 len, tlen, i, ncap;
	void		*nv;
	int		 flags, ret;

	if (r->compiled)
		return (rules_err(err, errlen, "rules already compiled"));
	if (list >= RULES_NLISTS || rules_field(list, syntax) == NULL)
		return (rules_err(err, errlen, "no such list"));
	while (*item == ' ' || *item == '\t')
		item++;
	len = strlen(item);
	while (len > 0 && (item[len - 1] == ' ' || item[len - 1] == '\t'))
		len--;
	if (len == 0)
		return (rules_err(err, errlen, "an empty rule"));
	if (len > RULES_PATTERN_MAX)
		return (rules_err(err, errlen, "'%s': longer than %d bytes",
		    shown(item, len, buf, sizeof(buf)), RULES_PATTERN_MAX));
	for (i = 0; i < len; i++)
		if ((unsigned char)item[i] < 0x20 ||
		    (unsigned char)item[i] > 0x7e)
			return (rules_err(err, errlen, "'%s': %s",
			    shown(item, len, buf, sizeof(buf)),
			    (unsigned char)item[i] > 0x7e ? "not ASCII "
			    "(write the punycode form)" :
			    "a control character"));
	if (r->n >= RULES_MAX)
		return (rules_err(err, errlen, "more than %d rules",
		    RULES_MAX));

	memset(&ru, 0, sizeof(ru));
	ru.list = list;
	ru.syntax = syntax;
	s = item;
	if (syntax == RULES_V5 && *s == '-') {
		ru.exclude = 1;
		s++;
		if (s == item + len)
			return (rules_err(err, errlen, "'-': nothing to "
			    "exclude"));
	}
	tlen = len - (s - item);
	dom[0] = '\0';
	if (tlen == 3 && strncmp(s, "all", 3) == 0) {
		ru.kind = RULE_ALL;
		name = NULL;
	} else if (syntax == RULES_V5 ||
	    (syntax == RULES_V4 && list == RULES_DENY)) {
		ru.kind = syntax == RULES_V5 ? RULE_HOST_RE : RULE_URL_RE;
		name = NULL;
		/* compiled once alone: the message names this rule */
		flags = ru.kind == RULE_HOST_RE ? RE_ANCHORED | RE_ICASE : 0;
		if ((pat = strndup(s, tlen)) == NULL ||
		    (tmp = re_prog_new(flags)) == NULL) {
			free(pat);
			return (rules_err(err, errlen, "out of memory"));
		}
		ret = re_compile(tmp, pat, 0, flags, RULES_PROG_MAX, msg,
		    sizeof(msg));
		free(pat);
		re_prog_free(tmp);
		if (ret == -1)
			return (rules_err(err, errlen, "'%s': %s",
			    shown(item, len, buf, sizeof(buf)), msg));
	} else {
		/* a version 4 domain */
		name = s;
		if (tlen >= 2 && s[0] == '*' && s[1] == '.') {
			ru.kind = RULE_SUBDOMAINS;
			name += 2;
		} else if (s[0] == '.') {
			ru.kind = RULE_DOMAIN;
			name++;
		} else
			ru.kind = RULE_EXACT;
		{
			char	 d[RULES_PATTERN_MAX + 1];

			memcpy(d, name, tlen - (name - s));
			d[tlen - (name - s)] = '\0';
			if (domain_check(d, ru.kind == RULE_EXACT, dom,
			    sizeof(dom), msg, sizeof(msg)) == -1)
				return (rules_err(err, errlen, "'%s': %s",
				    shown(item, len, buf, sizeof(buf)), msg));
		}
	}

	/* text, then the name: the normalised domain, or the expression */
	if ((ru.text = malloc(2 * len + 2)) == NULL)
		return (rules_err(err, errlen, "out of memory"));
	memcpy(ru.text, item, len);
	ru.text[len] = '\0';
	if (dom[0] != '\0') {
		strlcpy(ru.text + len + 1, dom, len + 1);
		ru.name = ru.text + len + 1;
	} else
		ru.name = ru.text + (s - item);
	if (r->n == r->cap) {
		ncap = r->cap ? r->cap * 2 : 16;
		if ((nv = reallocarray(r->v, ncap, sizeof(*r->v))) == NULL) {
			free(ru.text);
			return (rules_err(err, errlen, "out of memory"));
		}
		r->v = nv;
		r->cap = ncap;
	}
	r->v[r->n++] = ru;
	return (0);
}

/*
 * A comma-separated list of rules, as a flag or an environment variable
 * gives it.  Empty items are skipped.  In regular expressions a comma
 * inside (), [] or {} (a{1,3}) or after a backslash does not separate.
 */
int
rules_add_list(struct rules *r, enum rules_list list,
    enum rules_syntax syntax, const char *s, char *err, size_t errlen)
{
	const char	*p, *start;
	char		*item;
	int		 regex, paren = 0, brace = 0, cls = 0, ret;

	regex = syntax == RULES_V5 || list == RULES_DENY;
	for (p = start = s; ; p++) {
		if (*p != '\0' && regex) {
			if (*p == '\\' && p[1] != '\0') {
				p++;
				continue;
			}
			if (cls) {
				if (*p == ']' && p - 1 > start &&
				    p[-1] != '[' &&
				    !(p - 2 >= start && p[-1] == '^' &&
				    p[-2] == '['))
					cls = 0;
				continue;
			}
			if (*p == '[')
				cls = 1;
			else if (*p == '(')
				paren++;
			else if (*p == ')' && paren > 0)
				paren--;
			else if (*p == '{')
				brace = 1;
			else if (*p == '}')
				brace = 0;
		}
		if (*p != '\0' && (*p != ',' || paren > 0 || brace || cls))
			continue;
		if ((item = strndup(start, p - start)) == NULL)
			return (rules_err(err, errlen, "out of memory"));
		if (strspn(item, " \t") == strlen(item))
			ret = 0;
		else
			ret = rules_add(r, list, syntax, item, err, errlen);
		free(item);
		if (ret == -1)
			return (-1);
		if (*p == '\0')
			break;
		start = p + 1;
		paren = brace = cls = 0;
	}
	return (0);
}

static int
dom_cmp(const void *a, const void *b)
{
	const struct rules_dom	*x = a, *y = b;
	int			 c;

	if ((c = strcmp(x->name, y->name)) != 0)
		return (c);
	return (x->rule < y->rule ? -1 : x->rule > y->rule);
}

static int
dom_find(const struct rules_dom *v, size_t n, const char *name,
    uint32_t *rule)
{
	size_t	 lo = 0, hi = n, mid;
	int	 c;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if ((c = strcmp(name, v[mid].name)) == 0) {
			/* the first of its name: the lowest rule */
			while (mid > 0 && strcmp(name, v[mid - 1].name) == 0)
				mid--;
			*rule = v[mid].rule;
			return (1);
		}
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return (0);
}

/* add rule i to prog *pp (made as needed, with flags) */
static int
rules_prog_add(struct rules *r, struct re_prog **pp, int flags, size_t i,
    char *err, size_t errlen)
{
	char	 msg[256], buf[96];
	size_t	 before;

	if (*pp == NULL && (*pp = re_prog_new(flags)) == NULL)
		return (rules_err(err, errlen, "out of memory"));
	before = re_prog_size(*pp);
	if (re_compile(*pp, r->v[i].name, i, flags,
	    before + (RULES_PROG_MAX - r->progsize), msg, sizeof(msg)) == -1)
		return (rules_err(err, errlen, "'%s': %s",
		    shown(r->v[i].text, strlen(r->v[i].text), buf, sizeof(buf)),
		    msg));
	r->progsize += re_prog_size(*pp) - before;
	return (0);
}

/*
 * Check the whole list and compile it, once, after the last rules_add().
 * Returns 0, or -1 with a message in err: lists that exclude each other,
 * a list of exceptions only, RULES_PROG_MAX exceeded.
 */
int
rules_compile(struct rules *r, char *err, size_t errlen)
{
	struct rules_set	*st;
	struct rule		*ru;
	size_t			 i;
	int			 l;

	if (r->compiled)
		return (0);
	for (i = 0; i < r->n; i++) {
		st = &r->set[r->v[i].list];
		st->n++;
		if (!r->v[i].exclude)
			st->ninclude++;
		if (r->v[i].syntax == RULES_V5)
			st->v5 = 1;
	}
	if (r->set[RULES_DIRECT].n > 0 && r->set[RULES_TUNNEL].n > 0 &&
	    (r->set[RULES_DIRECT].v5 || r->set[RULES_TUNNEL].v5)) {
		rules_uncompile(r);
		return (rules_err(err, errlen, "direct domains and tunnel "
		    "domains exclude each other (-D and -T)"));
	}
	if (r->set[RULES_PASSTHROUGH].n > 0 && r->set[RULES_RESIGN].n > 0) {
		rules_uncompile(r);
		return (rules_err(err, errlen, "TLS passthrough domains and "
		    "TLS resign domains exclude each other (-B and -b)"));
	}
	for (l = 0; l < RULES_NLISTS; l++)
		if (r->set[l].n > 0 && r->set[l].ninclude == 0) {
			rules_uncompile(r);
			return (rules_err(err, errlen, "%s: only exceptions "
			    "('-...'), which match nothing without a rule to "
			    "except from (add 'all' or an expression)",
			    rules_flag(l, RULES_V5)));
		}

	for (l = 0; l < RULES_NLISTS; l++) {
		st = &r->set[l];
		if (st->n == 0)
			continue;
		if ((st->exact = calloc(st->n, sizeof(*st->exact))) == NULL ||
		    (st->suffix = calloc(st->n,
		    sizeof(*st->suffix))) == NULL) {
			rules_uncompile(r);
			return (rules_err(err, errlen, "out of memory"));
		}
	}
	for (i = 0; i < r->n; i++) {
		ru = &r->v[i];
		st = &r->set[ru->list];
		switch (ru->kind) {
		case RULE_ALL:
			if (ru->exclude) {
				if (st->all_ex == NULL)
					st->all_ex = ru;
			} else if (st->all == NULL)
				st->all = ru;
			break;
		case RULE_EXACT:
		case RULE_SUBDOMAINS:
		case RULE_DOMAIN:
			if (ru->kind != RULE_SUBDOMAINS) {
				st->exact[st->nexact].name = ru->name;
				st->exact[st->nexact++].rule = i;
			}
			if (ru->kind != RULE_EXACT) {
				st->suffix[st->nsuffix].name = ru->name;
				st->suffix[st->nsuffix++].rule = i;
			}
			break;
		case RULE_HOST_RE:
			if (rules_prog_add(r, ru->exclude ? &st->exc : &st->inc,
			    RE_ANCHORED | RE_ICASE, i, err, errlen) == -1) {
				rules_uncompile(r);
				return (-1);
			}
			break;
		case RULE_URL_RE:
			if (rules_prog_add(r, &st->url, 0, i, err,
			    errlen) == -1) {
				rules_uncompile(r);
				return (-1);
			}
			break;
		}
	}
	for (l = 0; l < RULES_NLISTS; l++) {
		st = &r->set[l];
		if (re_prog_finish(st->inc) == -1 ||
		    re_prog_finish(st->exc) == -1 ||
		    re_prog_finish(st->url) == -1) {
			rules_uncompile(r);
			return (rules_err(err, errlen, "out of memory"));
		}
		if (st->nexact > 1)
			qsort(st->exact, st->nexact, sizeof(*st->exact),
			    dom_cmp);
		if (st->nsuffix > 1)
			qsort(st->suffix, st->nsuffix, sizeof(*st->suffix),
			    dom_cmp);
	}
	r->compiled = 1;
	return (0);
}

/*
 * Does list l take host (normalised) or url?  1 with the rule that
 * matched (an including one) in *rule, 0, -1 when the steps ran out.
 */
static int
rules_set_match(struct rules *r, int l, const char *host, size_t hlen,
    const char *url, size_t ulen, const struct rule **rule)
{
	struct rules_set	*st = &r->set[l];
	uint32_t		 id;
	size_t			 i;
	int			 m = 0;

	*rule = NULL;
	if (st->n == 0)
		return (0);
	if (st->all != NULL) {
		*rule = st->all;
		m = 1;
	}
	if (!m && dom_find(st->exact, st->nexact, host, &id)) {
		*rule = &r->v[id];
		m = 1;
	}
	for (i = 0; !m && i < hlen && st->nsuffix > 0; i++)
		if (host[i] == '.' && dom_find(st->suffix, st->nsuffix,
		    host + i + 1, &id)) {
			*rule = &r->v[id];
			m = 1;
		}
	if (!m && st->inc != NULL) {
		if ((m = re_match(st->inc, host, hlen, &id, &r->steps)) == -1)
			return (-1);
		if (m)
			*rule = &r->v[id];
	}
	if (!m && st->url != NULL) {
		if ((m = re_match(st->url, url, ulen, &id, &r->steps)) == -1)
			return (-1);
		if (m)
			*rule = &r->v[id];
	}
	if (!m)
		return (0);
	/* the exceptions of version 5 */
	if (st->all_ex != NULL) {
		*rule = NULL;
		return (0);
	}
	if (st->exc != NULL) {
		if ((m = re_match(st->exc, host, hlen, &id, &r->steps)) == -1)
			return (-1);
		if (m) {
			*rule = NULL;
			return (0);
		}
	}
	return (1);
}

/*
 * The decision for a request to host (as the request names it: a name
 * or an address, IPv6 in brackets or not, without the port), whose URL
 * is url (NULL: the host; for CONNECT, host:port).  In this order:
 *	1. deny: refused at once;
 *	2. with tunnel domains: those down the tunnel, the others direct;
 *	   else direct domains direct, the others down the tunnel;
 *	3. a TLS connection down the tunnel: with resign domains, those
 *	   resigned and the others passed through; else passed through
 *	   when it matches the passthrough domains, resigned otherwise.
 *	   A direct one is never resigned.
 * A host that cannot be a host (empty, longer than RULES_HOST_MAX), or
 * rules that take more than RULES_STEPS_MAX to decide, are refused:
 * route DENY with error set.
 */
void
rules_decide(struct rules *r, const char *host, const char *url,
    struct rules_verdict *v)
{
	char			 h[RULES_HOST_MAX + 1];
	const struct rule	*ru;
	size_t			 hlen, ulen;
	int			 m;

	memset(v, 0, sizeof(*v));
	v->route = RULES_ROUTE_TUNNEL;
	v->resign = 1;
	if (r == NULL || !r->compiled || r->n == 0)
		return;
	r->steps = 0;
	if ((m = rules_host_norm(host, strlen(host), h, sizeof(h))) == -1)
		goto error;
	hlen = m;
	if (url == NULL)
		url = h;
	ulen = strlen(url);

	if ((m = rules_set_match(r, RULES_DENY, h, hlen, url, ulen,
	    &ru)) == -1)
		goto error;
	if (m) {
		v->route = RULES_ROUTE_DENY;
		v->rule = ru;
		v->resign = 0;
		return;
	}
	if (r->set[RULES_TUNNEL].n > 0) {
		if ((m = rules_set_match(r, RULES_TUNNEL, h, hlen, url, ulen,
		    &ru)) == -1)
			goto error;
		v->route = m ? RULES_ROUTE_TUNNEL : RULES_ROUTE_DIRECT;
		v->rule = ru;
	} else if (r->set[RULES_DIRECT].n > 0) {
		if ((m = rules_set_match(r, RULES_DIRECT, h, hlen, url, ulen,
		    &ru)) == -1)
			goto error;
		v->route = m ? RULES_ROUTE_DIRECT : RULES_ROUTE_TUNNEL;
		v->rule = ru;
	}
	if (v->route == RULES_ROUTE_DIRECT) {
		v->resign = 0;
		return;
	}
	if (r->set[RULES_RESIGN].n > 0) {
		if ((m = rules_set_match(r, RULES_RESIGN, h, hlen, url, ulen,
		    &ru)) == -1)
			goto error;
		v->resign = m;
		v->tls_rule = ru;
	} else if (r->set[RULES_PASSTHROUGH].n > 0) {
		if ((m = rules_set_match(r, RULES_PASSTHROUGH, h, hlen, url,
		    ulen, &ru)) == -1)
			goto error;
		v->resign = !m;
		v->tls_rule = ru;
	}
	return;
 error:
	memset(v, 0, sizeof(*v));
	v->route = RULES_ROUTE_DENY;
	v->error = 1;
}
