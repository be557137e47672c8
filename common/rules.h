/*
 * Traffic rules: which requests of a tunnel's browsers are refused at
 * once (deny, "fast-fail"), which go from the server straight to their
 * origin (direct), which go down the tunnel, and which TLS connections
 * are passed through rather than resigned.  Shared by sc (which parses
 * its flags with it and catches errors before it calls the server) and
 * sc-server (which checks what a client sends, and decides per request
 * at the entry proxy).  sc(8) and sc-server(8) describe the language.
 *
 * The two syntaxes of the Sauce Connect command lines both land in one
 * list of rules:
 *	version 4 (-D, -t, -B: domains; -F: regular expressions searched
 *	    in the URL): "example.com" that host, "*.example.com" its
 *	    subdomains, ".example.com" both, "all" every host;
 *	version 5 (-T, -D, -F, -B, -b): regular expressions that must
 *	    match the whole host, a leading '-' excludes, "all" every host.
 * Each list of a tunnel goes over the REST API as an array of strings,
 * one rule each, in a field of its own (rules_field()).
 *
 *	struct rules *r = rules_new();
 *	rules_add_list(r, RULES_DIRECT, RULES_V4, "a.example,*.cdn.example",
 *	    err, sizeof(err));		(or rules_add() for one rule)
 *	rules_compile(r, err, sizeof(err));	once, after the last add
 *	rules_decide(r, host, url, &v);	per request
 *	rules_free(r);
 *
 * Regular expressions are compiled by our own matcher (rules_re.c): the
 * syntax of RE2 and Go that users of the version 5 client write, run as
 * a Thompson NFA, so a match costs time linear in the input and never
 * backtracks; the limits below bound the rest.  rules_decide() is not
 * reentrant (one scratch area for the matcher, per process).
 */
#ifndef SC_RULES_H
#define SC_RULES_H

#include <stddef.h>
#include <stdint.h>

/* Limits.  sc(8) and sc-server(8) name them. */
#define RULES_PATTERN_MAX	1024	/* bytes of one rule, as written */
#define RULES_MAX		4096	/* rules of one tunnel, all lists */
#define RULES_PROG_MAX		16384	/* compiled instructions, all */
					/* regular expressions of a tunnel */
#define RULES_REPEAT_MAX	1000	/* n and m of {n,m} */
#define RULES_NEST_MAX		64	/* nested groups in one expression */
#define RULES_HOST_MAX		255	/* bytes of a host matched */
#define RULES_STEPS_MAX		1000000	/* matcher steps of one decision */

/* what a list decides */
enum rules_list {
	RULES_DENY,		/* -F: refused at once */
	RULES_DIRECT,		/* -D: straight to the origin */
	RULES_TUNNEL,		/* -t, -T: these down the tunnel, */
				/* the others direct */
	RULES_PASSTHROUGH,	/* -B: TLS passed through, not resigned */
	RULES_RESIGN,		/* -b: only these resigned */
	RULES_NLISTS
};

enum rules_syntax {
	RULES_V4,
	RULES_V5
};

/* what a rule matches */
enum rules_kind {
	RULE_ALL,		/* "all": every host */
	RULE_EXACT,		/* v4 "example.com" */
	RULE_SUBDOMAINS,	/* v4 "*.example.com": below it only */
	RULE_DOMAIN,		/* v4 ".example.com": it and below */
	RULE_HOST_RE,		/* v5: an expression for the whole host */
	RULE_URL_RE		/* v4 -F: an expression found in the URL */
};

struct rule {
	uint8_t		 list;		/* enum rules_list */
	uint8_t		 syntax;	/* enum rules_syntax */
	uint8_t		 kind;		/* enum rules_kind */
	uint8_t		 exclude;	/* v5 '-': an exception */
	char		*text;		/* as written (trimmed) */
	const char	*name;		/* in text: the domain or expression */
};

enum rules_route {
	RULES_ROUTE_TUNNEL,
	RULES_ROUTE_DIRECT,
	RULES_ROUTE_DENY
};

struct rules_verdict {
	enum rules_route	 route;
	int			 resign;	/* a tunnelled TLS connection */
						/* resign (1) or pass (0) */
	const struct rule	*rule;		/* what decided the route; */
						/* NULL: the default */
	const struct rule	*tls_rule;	/* ... and resign */
	int			 error;		/* RULES_STEPS_MAX spent: */
						/* refused (route DENY) */
};

struct rules;

/* rules.c */
struct rules	*rules_new(void);
void		 rules_free(struct rules *);
int		 rules_add(struct rules *, enum rules_list, enum rules_syntax,
		    const char *, char *, size_t);
int		 rules_add_list(struct rules *, enum rules_list,
		    enum rules_syntax, const char *, char *, size_t);
int		 rules_compile(struct rules *, char *, size_t);
size_t		 rules_count(const struct rules *);
size_t		 rules_list_count(const struct rules *, enum rules_list);
const struct rule *rules_get(const struct rules *, size_t);
void		 rules_decide(struct rules *, const char *, const char *,
		    struct rules_verdict *);
int		 rules_host_norm(const char *, size_t, char *, size_t);
const char	*rules_field(enum rules_list, enum rules_syntax);
int		 rules_field_lookup(const char *, enum rules_list *,
		    enum rules_syntax *);
const char	*rules_flag(enum rules_list, enum rules_syntax);
const char	*rules_route_name(enum rules_route);

#endif /* SC_RULES_H */
