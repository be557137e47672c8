/*
 * The parser of the traffic rules' regular expressions (rules_re.h):
 * the syntax of RE2 and Go's regexp, which users of the version 5 client
 * write (POSIX ERE, as the version 4 client took, is a subset), ASCII
 * only: a host is ASCII (IDNA), and so is a URL as it travels.  No
 * backreferences, no lookaround: what a Thompson NFA (rules_re.c) cannot
 * run in linear time is refused here with a message.
 *
 * It builds a small tree in a pool of nodes sized by the pattern,
 * bounded in depth by RULES_NEST_MAX groups; the classes go straight
 * into the program, once each (a hash of their bits).
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

static struct re_node	*parse_alt(struct re_parse *);

static int
re_err(struct re_parse *p, const char *fmt, ...)
{
	va_list	 ap;
	char	 msg[160];

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	snprintf(p->err, p->errlen, "%s (at offset %zu)", msg, p->pos);
	return (-1);
}

/* the chain of a class in the program's hash */
static uint32_t
class_hash(const uint8_t *set)
{
	uint32_t	 h = 2166136261u;
	int		 k;

	for (k = 0; k < 32; k++)
		h = (h ^ set[k]) * 16777619u;
	return (h % RE_CLS_HASH);
}

static struct re_node *
node_new(struct re_parse *p, int type)
{
	struct re_node	*n;

	if (p->used == p->npool) {
		/* cannot happen: the pool fits the pattern */
		re_err(p, "expression too complex");
		return (NULL);
	}
	n = &p->pool[p->used++];
	memset(n, 0, sizeof(*n));
	n->type = type;
	return (n);
}

/* The class c (a 256-bit set) in the program, once: its index. */
static int
class_add(struct re_parse *p, const uint8_t *set, uint32_t *idx)
{
	struct re_prog	*g = p->prog;
	uint32_t	 h = class_hash(set), i;
	size_t		 ncap;
	void		*nv;

	for (i = g->clshead[h]; i != UINT32_MAX; i = g->clsnext[i])
		if (memcmp(g->cls[i], set, 32) == 0) {
			*idx = i;
			return (0);
		}
	if (g->ncls == g->clscap) {
		ncap = g->clscap ? g->clscap * 2 : 16;
		if ((nv = reallocarray(g->cls, ncap, 32)) == NULL)
			return (re_err(p, "out of memory"));
		g->cls = nv;
		if ((nv = reallocarray(g->clsnext, ncap,
		    sizeof(uint32_t))) == NULL)
			return (re_err(p, "out of memory"));
		g->clsnext = nv;
		g->clscap = ncap;
	}
	memcpy(g->cls[g->ncls], set, 32);
	g->clsnext[g->ncls] = g->clshead[h];
	g->clshead[h] = g->ncls;
	*idx = g->ncls++;
	return (0);
}

static void
set_range(uint8_t *set, int lo, int hi)
{
	for (; lo <= hi; lo++)
		set_add(set, lo);
}

/* the Perl classes: 'd', 's', 'w' */
static void
set_perl(uint8_t *set, int which, int negate)
{
	uint8_t	 s[32];
	int	 i;

	memset(s, 0, sizeof(s));
	switch (which) {
	case 'd':
		set_range(s, '0', '9');
		break;
	case 's':
		set_add(s, ' ');
		set_range(s, '\t', '\n');
		set_range(s, '\f', '\r');
		break;
	case 'w':
		set_range(s, '0', '9');
		set_range(s, 'A', 'Z');
		set_range(s, 'a', 'z');
		set_add(s, '_');
		break;
	}
	for (i = 0; i < 32; i++)
		set[i] |= negate ? (uint8_t)~s[i] : s[i];
}

static const struct {
	const char	*name;
	const char	*ranges;	/* pairs of bytes */
} posix_classes[] = {
	{ "alnum",	"09AZaz" },
	{ "alpha",	"AZaz" },
	{ "ascii",	"\001\177" },
	{ "blank",	"\t\t  " },
	{ "cntrl",	"\001\037\177\177" },
	{ "digit",	"09" },
	{ "graph",	"!~" },
	{ "lower",	"az" },
	{ "print",	" ~" },
	{ "punct",	"!/:@[`{~" },
	{ "space",	"\t\r  " },
	{ "upper",	"AZ" },
	{ "word",	"09AZaz__" },
	{ "xdigit",	"09AFaf" },
	{ NULL,		NULL }
};

/* [:name:] or [:^name:] at p->pos (after the '['), into set */
static int
parse_posix(struct re_parse *p, uint8_t *set)
{
	const char	*s = p->s + p->pos, *e;
	uint8_t		 t[32];
	size_t		 n;
	int		 neg = 0, i, k;

	s += 2;			/* "[:" */
	if (*s == '^') {
		neg = 1;
		s++;
	}
	if ((e = strstr(s, ":]")) == NULL)
		return (re_err(p, "missing ':]' in a POSIX class"));
	n = e - s;
	for (i = 0; posix_classes[i].name != NULL; i++)
		if (strlen(posix_classes[i].name) == n &&
		    strncmp(posix_classes[i].name, s, n) == 0)
			break;
	if (posix_classes[i].name == NULL)
		return (re_err(p, "unknown POSIX class [:%.*s:]", (int)n, s));
	memset(t, 0, sizeof(t));
	for (k = 0; posix_classes[i].ranges[k] != '\0'; k += 2)
		set_range(t, (unsigned char)posix_classes[i].ranges[k],
		    (unsigned char)posix_classes[i].ranges[k + 1]);
	for (k = 0; k < 32; k++)
		set[k] |= neg ? (uint8_t)~t[k] : t[k];
	p->pos = (e + 2) - p->s;
	return (0);
}

static int
hexval(int c)
{
	return (isdigit(c) ? c - '0' : tolower(c) - 'a' + 10);
}

/*
 * An escape at p->pos (on the '\'): a byte into *c (returns 0), a Perl
 * class into set (returns 1, when set is given), an assertion into *c
 * (returns 2, outside classes), or -1.
 */
static int
parse_escape(struct re_parse *p, int *c, uint8_t *set, int inclass)
{
	const char	*s = p->s;
	int		 e, v, n;

	if (p->pos + 1 >= p->len) {
		p->pos++;
		return (re_err(p, "trailing backslash"));
	}
	e = (unsigned char)s[p->pos + 1];
	p->pos += 2;
	switch (e) {
	case 'a':
		*c = '\a';
		return (0);
	case 'f':
		*c = '\f';
		return (0);
	case 't':
		*c = '\t';
		return (0);
	case 'n':
		*c = '\n';
		return (0);
	case 'r':
		*c = '\r';
		return (0);
	case 'v':
		*c = '\v';
		return (0);
	case 'd': case 'D': case 's': case 'S': case 'w': case 'W':
		if (set == NULL)
			return (re_err(p, "\\%c cannot end a range", e));
		set_perl(set, tolower(e), isupper(e));
		return (1);
	case 'x':
		v = 0;
		if (p->pos < p->len && s[p->pos] == '{') {
			for (n = 0, p->pos++; p->pos < p->len && n < 6 &&
			    isxdigit((unsigned char)s[p->pos]); p->pos++, n++)
				v = v * 16 + hexval(s[p->pos]);
			if (n == 0 || p->pos >= p->len || s[p->pos] != '}')
				return (re_err(p, "bad \\x{...} escape"));
			p->pos++;
		} else {
			for (n = 0; n < 2; n++, p->pos++) {
				if (p->pos >= p->len ||
				    !isxdigit((unsigned char)s[p->pos]))
					return (re_err(p, "bad \\x escape"));
				v = v * 16 + hexval(s[p->pos]);
			}
		}
		if (v > 0x7f)
			return (re_err(p, "\\x%x is not ASCII: hosts and URLs "
			    "are ASCII (write the punycode form)", v));
		*c = v;
		return (0);
	case '0': case '1': case '2': case '3': case '4': case '5': case '6':
	case '7':
		/* Go: \0, \0N, \0NN, \NN, \NNN are octal; \N alone is not */
		if (e != '0' && (p->pos >= p->len || s[p->pos] < '0' ||
		    s[p->pos] > '7'))
			return (re_err(p, "backreferences (\\%c) are not "
			    "supported", e));
		v = e - '0';
		for (n = 0; n < 2 && p->pos < p->len && s[p->pos] >= '0' &&
		    s[p->pos] <= '7'; n++, p->pos++)
			v = v * 8 + s[p->pos] - '0';
		if (v > 0x7f)
			return (re_err(p, "\\%o is not ASCII", v));
		*c = v;
		return (0);
	case '8': case '9':
		return (re_err(p, "backreferences (\\%c) are not supported",
		    e));
	case 'A': case 'z': case 'b': case 'B':
		if (inclass)
			return (re_err(p, "\\%c in a character class", e));
		*c = e == 'A' ? RE_BOT : e == 'z' ? RE_EOT :
		    e == 'b' ? RE_WORDB : RE_NWORDB;
		return (2);
	case 'p': case 'P':
		return (re_err(p, "Unicode classes (\\%c) are not supported: "
		    "hosts and URLs are ASCII", e));
	}
	if (e < 0x80 && ispunct(e)) {
		*c = e;
		return (0);
	}
	return (re_err(p, "unknown escape \\%c", e >= 0x20 && e < 0x7f ?
	    e : '?'));
}

/* add both cases of every letter of set */
static void
set_fold(uint8_t *set)
{
	int	 c;

	for (c = 'a'; c <= 'z'; c++)
		if (set_has(set, c) || set_has(set, toupper(c))) {
			set_add(set, c);
			set_add(set, toupper(c));
		}
}

/* A class node (or a byte, when it holds one) from set. */
static struct re_node *
class_node(struct re_parse *p, uint8_t *set)
{
	struct re_node	*n;
	int		 c, count = 0, last = 0;

	if (p->icase)
		set_fold(set);
	for (c = 0; c < 256; c++)
		if (set_has(set, c)) {
			count++;
			last = c;
		}
	if (count == 1 || (count == 2 && isalpha(last) &&
	    set_has(set, tolower(last)) && set_has(set, toupper(last)))) {
		if ((n = node_new(p, count == 1 ? N_BYTE : N_BYTECI)) == NULL)
			return (NULL);
		n->c = count == 1 ? last : tolower(last);
		return (n);
	}
	if ((n = node_new(p, N_CLASS)) == NULL)
		return (NULL);
	if (class_add(p, set, &n->cls) == -1)
		return (NULL);
	return (n);
}

/* [...] at p->pos */
static struct re_node *
parse_class(struct re_parse *p)
{
	const char	*s = p->s;
	uint8_t		 set[32], extra[32];
	int		 neg = 0, first = 1, lo, hi, r, i;

	memset(set, 0, sizeof(set));
	p->pos++;
	if (p->pos < p->len && s[p->pos] == '^') {
		neg = 1;
		p->pos++;
	}
	for (;;) {
		if (p->pos >= p->len) {
			re_err(p, "missing ']'");
			return (NULL);
		}
		if (s[p->pos] == ']' && !first)
			break;
		first = 0;
		if (s[p->pos] == '[' && p->pos + 1 < p->len &&
		    s[p->pos + 1] == ':') {
			if (parse_posix(p, set) == -1)
				return (NULL);
			continue;
		}
		if (s[p->pos] == '\\') {
			memset(extra, 0, sizeof(extra));
			if ((r = parse_escape(p, &lo, extra, 1)) == -1)
				return (NULL);
			if (r == 1) {
				for (i = 0; i < 32; i++)
					set[i] |= extra[i];
				continue;
			}
		} else
			lo = (unsigned char)s[p->pos++];
		hi = lo;
		if (p->pos + 1 < p->len && s[p->pos] == '-' &&
		    s[p->pos + 1] != ']') {
			p->pos++;
			if (s[p->pos] == '\\') {
				if ((r = parse_escape(p, &hi, NULL, 1)) == -1)
					return (NULL);
			} else
				hi = (unsigned char)s[p->pos++];
			if (hi < lo) {
				re_err(p, "bad range %c-%c in a class",
				    isprint(lo) ? lo : '?',
				    isprint(hi) ? hi : '?');
				return (NULL);
			}
		}
		set_range(set, lo, hi);
	}
	p->pos++;	/* ']' */
	if (p->icase)
		set_fold(set);
	if (neg)
		for (i = 0; i < 32; i++)
			set[i] = ~set[i];
	/* a class of nothing ([^\x00-\x7f] on ASCII text) matches nothing */
	return (class_node(p, set));
}

/* (?flags) or (?flags:...) at p->pos, on the '?': sets the flags */
static int
parse_flags(struct re_parse *p, int *icase, int *dotnl, int *colon)
{
	const char	*s = p->s;
	int		 neg = 0, any = 0;

	for (p->pos++; p->pos < p->len; p->pos++) {
		switch (s[p->pos]) {
		case 'i':
			*icase = !neg;
			any = 1;
			break;
		case 's':
			*dotnl = !neg;
			any = 1;
			break;
		case 'm':	/* multi-line: the texts have no lines */
		case 'U':	/* ungreedy: no matter to a yes or no */
			any = 1;
			break;
		case '-':
			if (neg)
				return (re_err(p, "bad flags"));
			neg = 1;
			any = 0;
			break;
		case ')':
		case ':':
			if (!any && neg)
				return (re_err(p, "bad flags"));
			*colon = s[p->pos] == ':';
			p->pos++;
			return (0);
		default:
			return (re_err(p, "unknown flag '%c' in (?...)",
			    isprint((unsigned char)s[p->pos]) ?
			    s[p->pos] : '?'));
		}
	}
	return (re_err(p, "missing ')'"));
}

/* a group at p->pos, on the '(' */
static struct re_node *
parse_group(struct re_parse *p)
{
	const char	*s = p->s;
	struct re_node	*n;
	int		 icase = p->icase, dotnl = p->dotnl, colon = 1;
	int		 saved_icase, saved_dotnl;
	size_t		 i;

	if (++p->depth > RULES_NEST_MAX) {
		re_err(p, "groups nested more than %d deep", RULES_NEST_MAX);
		return (NULL);
	}
	p->pos++;
	if (p->pos < p->len && s[p->pos] == '?') {
		if (p->pos + 1 < p->len && (s[p->pos + 1] == 'P' ||
		    s[p->pos + 1] == '<')) {
			/* (?P<name>...) or (?<name>...): a name, no more */
			p->pos += s[p->pos + 1] == 'P' ? 2 : 1;
			if (p->pos >= p->len || s[p->pos] != '<') {
				re_err(p, "bad named group");
				return (NULL);
			}
			for (i = ++p->pos; p->pos < p->len &&
			    (isalnum((unsigned char)s[p->pos]) ||
			    s[p->pos] == '_'); p->pos++)
				;
			if (p->pos == i || p->pos >= p->len ||
			    s[p->pos] != '>') {
				re_err(p, "bad group name");
				return (NULL);
			}
			p->pos++;
		} else {
			if (parse_flags(p, &icase, &dotnl, &colon) == -1)
				return (NULL);
			if (!colon) {
				/* (?i): for the rest of the enclosing group */
				p->icase = icase;
				p->dotnl = dotnl;
				p->depth--;
				return (node_new(p, N_EMPTY));
			}
		}
	}
	/* the flags of (?i:...) hold inside it only */
	saved_icase = p->icase;
	saved_dotnl = p->dotnl;
	p->icase = icase;
	p->dotnl = dotnl;
	if ((n = parse_alt(p)) == NULL)
		return (NULL);
	p->icase = saved_icase;
	p->dotnl = saved_dotnl;
	if (p->pos >= p->len || s[p->pos] != ')') {
		re_err(p, "missing ')'");
		return (NULL);
	}
	p->pos++;
	p->depth--;
	return (n);
}

/* {n}, {n,}, {n,m} at p->pos: 1 and the bounds, 0 if it is no repeat */
static int
parse_braces(struct re_parse *p, int *min, int *max)
{
	const char	*s = p->s;
	size_t		 i = p->pos + 1;
	long		 a = 0, b;
	int		 da = 0, db = 0;

	for (; i < p->len && isdigit((unsigned char)s[i]); i++, da++)
		if ((a = a * 10 + s[i] - '0') > 100000)
			a = 100000;
	if (da == 0 || i >= p->len)
		return (0);
	if (s[i] == '}') {
		b = a;
	} else if (s[i] == ',') {
		b = -1;
		for (i++; i < p->len && isdigit((unsigned char)s[i]);
		    i++, db++) {
			if (b == -1)
				b = 0;
			if ((b = b * 10 + s[i] - '0') > 100000)
				b = 100000;
		}
		if (i >= p->len || s[i] != '}')
			return (0);
	} else
		return (0);
	p->pos = i + 1;
	*min = (int)a;
	*max = (int)b;
	return (1);
}

/* an atom with its repetitions */
static struct re_node *
parse_repeat(struct re_parse *p)
{
	const char	*s = p->s;
	struct re_node	*atom = NULL, *r;
	uint8_t		 set[32];
	int		 c, k, min, max, repeated = 0;
	size_t		 at;

	c = (unsigned char)s[p->pos];
	switch (c) {
	case '(':
		atom = parse_group(p);
		break;
	case '[':
		atom = parse_class(p);
		break;
	case '.':
		p->pos++;
		atom = node_new(p, p->dotnl ? N_ANY : N_ANYNL);
		break;
	case '^':
	case '$':
		p->pos++;
		if ((atom = node_new(p, N_ASSERT)) != NULL)
			atom->c = c == '^' ? RE_BOT : RE_EOT;
		break;
	case '*':
	case '+':
	case '?':
		re_err(p, "missing argument to repetition operator %c", c);
		return (NULL);
	case '\\':
		if (p->pos + 1 < p->len && s[p->pos + 1] == 'Q') {
			/* \Q...\E: literal text */
			struct re_node	*cat, **tail;

			p->pos += 2;
			if ((cat = node_new(p, N_CAT)) == NULL)
				return (NULL);
			tail = &cat->sub;
			while (p->pos < p->len && !(s[p->pos] == '\\' &&
			    p->pos + 1 < p->len && s[p->pos + 1] == 'E')) {
				memset(set, 0, sizeof(set));
				set_add(set, (unsigned char)s[p->pos++]);
				if ((*tail = class_node(p, set)) == NULL)
					return (NULL);
				tail = &(*tail)->next;
			}
			if (p->pos < p->len)
				p->pos += 2;
			atom = cat;
			break;
		}
		memset(set, 0, sizeof(set));
		if ((k = parse_escape(p, &c, set, 0)) == -1)
			return (NULL);
		if (k == 2) {
			if ((atom = node_new(p, N_ASSERT)) != NULL)
				atom->c = c;
		} else {
			if (k == 0)
				set_add(set, c);
			atom = class_node(p, set);
		}
		break;
	default:
		if (c == '{') {
			at = p->pos;
			if (parse_braces(p, &min, &max)) {
				p->pos = at;
				re_err(p, "missing argument to repetition "
				    "operator {");
				return (NULL);
			}
		}
		p->pos++;
		memset(set, 0, sizeof(set));
		set_add(set, c);
		atom = class_node(p, set);
		break;
	}
	if (atom == NULL)
		return (NULL);

	for (;;) {
		if (p->pos >= p->len)
			break;
		c = (unsigned char)s[p->pos];
		at = p->pos;
		if (c == '*') {
			min = 0;
			max = -1;
			p->pos++;
		} else if (c == '+') {
			min = 1;
			max = -1;
			p->pos++;
		} else if (c == '?') {
			min = 0;
			max = 1;
			p->pos++;
		} else if (c == '{' && parse_braces(p, &min, &max)) {
			if (min > RULES_REPEAT_MAX || max > RULES_REPEAT_MAX ||
			    (max != -1 && max < min)) {
				p->pos = at;
				re_err(p, "bad repeat count: at most %d, and "
				    "{n,m} with n <= m", RULES_REPEAT_MAX);
				return (NULL);
			}
		} else
			break;
		if (repeated) {
			p->pos = at;
			re_err(p, "invalid nested repetition operator %c", c);
			return (NULL);
		}
		repeated = 1;
		/* a lazy repetition matches the same texts */
		if (p->pos < p->len && s[p->pos] == '?')
			p->pos++;
		if (atom->type == N_ASSERT || atom->type == N_EMPTY)
			continue;	/* repeating nothing is nothing */
		if ((r = node_new(p, N_REP)) == NULL)
			return (NULL);
		r->min = min;
		r->max = max;
		r->sub = atom;
		atom = r;
	}
	return (atom);
}

static struct re_node *
parse_cat(struct re_parse *p)
{
	struct re_node	*cat, *n, **tail;

	if ((cat = node_new(p, N_CAT)) == NULL)
		return (NULL);
	tail = &cat->sub;
	while (p->pos < p->len && p->s[p->pos] != '|' &&
	    p->s[p->pos] != ')') {
		if ((n = parse_repeat(p)) == NULL)
			return (NULL);
		*tail = n;
		tail = &n->next;
	}
	return (cat);
}

static struct re_node *
parse_alt(struct re_parse *p)
{
	struct re_node	*alt, *n, **tail;

	if ((n = parse_cat(p)) == NULL)
		return (NULL);
	if (p->pos >= p->len || p->s[p->pos] != '|')
		return (n);
	if ((alt = node_new(p, N_ALT)) == NULL)
		return (NULL);
	alt->sub = n;
	tail = &n->next;
	while (p->pos < p->len && p->s[p->pos] == '|') {
		p->pos++;
		if ((n = parse_cat(p)) == NULL)
			return (NULL);
		*tail = n;
		tail = &n->next;
	}
	return (alt);
}

/*
 * Parse pattern into a tree, in p (its pool freed by the caller with
 * free(p->pool), even on failure); the classes go into prog.  Returns
 * the root, or NULL with a message in err.
 */
struct re_node *
re_parse(struct re_parse *p, struct re_prog *prog, const char *pattern,
    int icase, char *err, size_t errlen)
{
	struct re_node	*root;
	size_t		 i, len;

	len = strlen(pattern);
	memset(p, 0, sizeof(*p));
	p->s = pattern;
	p->len = len;
	p->prog = prog;
	p->icase = icase;
	p->err = err;
	p->errlen = errlen;
	for (i = 0; i < len; i++)
		if ((unsigned char)pattern[i] >= 0x80 ||
		    (unsigned char)pattern[i] < 0x20 || pattern[i] == 0x7f) {
			p->pos = i;
			re_err(p, (unsigned char)pattern[i] >= 0x80 ?
			    "not ASCII: hosts and URLs are ASCII (write the "
			    "punycode form, or \\x escapes)" :
			    "a control character");
			return (NULL);
		}
	if (len > RULES_PATTERN_MAX) {
		snprintf(err, errlen, "longer than %d bytes",
		    RULES_PATTERN_MAX);
		return (NULL);
	}
	/* every byte makes at most three nodes (an atom, a repeat, a cat) */
	p->npool = 3 * len + 4;
	if ((p->pool = calloc(p->npool, sizeof(*p->pool))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return (NULL);
	}
	if ((root = parse_alt(p)) == NULL)
		return (NULL);
	if (p->pos < len) {
		/* parse_alt() stops at a ')' it has no group for */
		re_err(p, "unexpected ')'");
		return (NULL);
	}
	return (root);
}

/* Drop the classes that prog gained after its first n (a failed parse). */
void
re_class_drop(struct re_prog *prog, size_t n)
{
	uint32_t	 ci;

	while (prog->ncls > n) {
		ci = --prog->ncls;
		prog->clshead[class_hash(prog->cls[ci])] = prog->clsnext[ci];
	}
}
