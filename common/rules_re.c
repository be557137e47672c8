/*
 * The regular expressions of the traffic rules: the syntax of RE2 and
 * Go's regexp (what users of the version 5 client write; POSIX ERE, as
 * the version 4 client took, is a subset), compiled to a Thompson NFA
 * and run by simulation: every state of the automaton is visited at most
 * once per byte of input, so a match costs at most (input length) x
 * (program size) steps, whatever the expression.  Nothing backtracks:
 * there are no backreferences and no lookaround, which is why RE2 has
 * none either.  ASCII only: a host is ASCII (IDNA), and so is a URL as
 * it travels.
 *
 * Several expressions go into one program, each ending in a MATCH with
 * its id; the simulation runs them together.  A program is anchored (the
 * expression must match the whole text: hosts) or searches (a match
 * anywhere: URLs of the version 4 fast-fail rules).
 *
 * The parser builds a small tree (a pool of nodes sized by the pattern),
 * bounded in depth by RULES_NEST_MAX groups; the emitter counts the
 * instructions against the caller's budget as it goes, so that x{1000}
 * nested three times fails at once instead of growing.
 */
#include <sys/types.h>

#include <ctype.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rules.h"

enum re_op {
	RE_BYTE,		/* c */
	RE_BYTECI,		/* c, lower case; the text's byte folded */
	RE_CLASS,		/* x: a 256-bit set */
	RE_ANY,			/* any byte */
	RE_ANYNL,		/* any byte but '\n' */
	RE_SPLIT,		/* to x and to y */
	RE_JMP,			/* to x */
	RE_MATCH,		/* expression x matched */
	RE_BOT,			/* at the beginning of the text */
	RE_EOT,			/* at its end */
	RE_WORDB,		/* at a word boundary */
	RE_NWORDB		/* not at one */
};

struct re_inst {
	uint8_t		 op;
	uint8_t		 c;
	uint16_t	 pad;
	uint32_t	 x;
	uint32_t	 y;
};

#define RE_CLS_HASH	256

struct re_prog {
	struct re_inst	*inst;
	size_t		 n, cap;
	uint8_t		(*cls)[32];
	uint32_t	*clsnext;	/* hash chains, by class index */
	uint32_t	 clshead[RE_CLS_HASH];	/* UINT32_MAX: empty */
	size_t		 ncls, clscap;
	struct re_start	*starts;	/* each expression's beginning */
	size_t		 nstarts, startcap;
	int		 flags;		/* RE_ANCHORED */
	/*
	 * re_prog_finish(): the expressions to start at a byte of the text,
	 * by that byte (bidx[boff[c]] to bidx[boff[c + 1]]), and those to
	 * start everywhere (an expression that may match nothing, or begins
	 * with many bytes)
	 */
	uint32_t	*boff;
	uint32_t	*bidx;
	uint32_t	*always;
	size_t		 nalways;
};

#define RE_FIRST_MAX	32	/* bytes an expression may begin with, */
				/* indexed; more: it starts everywhere */

struct re_start {
	uint32_t	 pc;
	uint8_t		 nullable;	/* matches without a byte */
	uint8_t		 first[32];	/* the bytes it may begin with */
};

/* the parse tree */
enum re_ntype {
	N_EMPTY,
	N_BYTE,
	N_BYTECI,
	N_CLASS,
	N_ANY,
	N_ANYNL,
	N_CAT,
	N_ALT,
	N_REP,
	N_ASSERT
};

struct re_node {
	uint8_t		 type;
	uint8_t		 c;		/* byte, or the RE_* of an assertion */
	int		 min, max;	/* N_REP; max -1: no bound */
	uint32_t	 cls;		/* N_CLASS */
	struct re_node	*sub;		/* N_REP: the operand; CAT, ALT: first */
	struct re_node	*next;		/* in a CAT or ALT */
};

struct re_parse {
	const char	*s;		/* the pattern */
	size_t		 len, pos;
	struct re_node	*pool;
	size_t		 npool, used;
	struct re_prog	*prog;		/* classes go straight into it */
	int		 icase;
	int		 dotnl;		/* (?s): '.' takes '\n' too */
	int		 depth;
	char		*err;
	size_t		 errlen;
};

/* the simulation's scratch: one per process, as large as the largest */
static uint32_t	*sc_dense[2], *sc_sparse[2], *sc_stack;
static size_t	 sc_cap;

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

struct re_prog *
re_prog_new(int flags)
{
	struct re_prog	*p;

	if ((p = calloc(1, sizeof(*p))) == NULL)
		return (NULL);
	memset(p->clshead, 0xff, sizeof(p->clshead));
	p->flags = flags;
	return (p);
}

void
re_prog_free(struct re_prog *p)
{
	if (p == NULL)
		return;
	free(p->inst);
	free(p->cls);
	free(p->clsnext);
	free(p->starts);
	free(p->boff);
	free(p->bidx);
	free(p->always);
	free(p);
}

/* Instructions of p, classes counted in by their size (32 bytes: 4). */
size_t
re_prog_size(const struct re_prog *p)
{
	return (p == NULL ? 0 : p->n + p->ncls * 4);
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
	uint32_t	 h = 2166136261u, i;
	size_t		 ncap;
	void		*nv;
	int		 k;

	for (k = 0; k < 32; k++)
		h = (h ^ set[k]) * 16777619u;
	h %= RE_CLS_HASH;
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
set_add(uint8_t *set, int c)
{
	set[c >> 3] |= 1 << (c & 7);
}

static int
set_has(const uint8_t *set, int c)
{
	return ((set[c >> 3] >> (c & 7)) & 1);
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

/* emission: instructions appended to p->prog, within budget */
struct re_emit {
	struct re_prog	*g;
	size_t		 limit;		/* instructions p may hold in all */
	int		 depth;
	char		*err;
	size_t		 errlen;
};

static int
emit(struct re_emit *e, int op, int c, uint32_t x, uint32_t y)
{
	struct re_prog	*g = e->g;
	struct re_inst	*ni;
	size_t		 ncap;

	if (re_prog_size(g) + 1 > e->limit) {
		snprintf(e->err, e->errlen, "the rules compile to more than "
		    "%d instructions (each class counts 4)", RULES_PROG_MAX);
		return (-1);
	}
	if (g->n == g->cap) {
		ncap = g->cap ? g->cap * 2 : 64;
		if ((ni = reallocarray(g->inst, ncap, sizeof(*ni))) == NULL) {
			snprintf(e->err, e->errlen, "out of memory");
			return (-1);
		}
		g->inst = ni;
		g->cap = ncap;
	}
	g->inst[g->n].op = op;
	g->inst[g->n].c = c;
	g->inst[g->n].pad = 0;
	g->inst[g->n].x = x;
	g->inst[g->n].y = y;
	return ((int)g->n++);
}

static int	 emit_node(struct re_emit *, const struct re_node *);

/* x{min,max} */
static int
emit_rep(struct re_emit *e, const struct re_node *n)
{
	struct re_prog	*g = e->g;
	uint32_t	 holes = UINT32_MAX, h, next;
	int		 i, l, s;

	if (n->max == -1) {
		for (i = 0; i < n->min - 1; i++)
			if (emit_node(e, n->sub) == -1)
				return (-1);
		if (n->min == 0) {
			/* L: SPLIT L+1, out; x; JMP L; out: */
			if ((l = emit(e, RE_SPLIT, 0, 0, 0)) == -1)
				return (-1);
			g->inst[l].x = l + 1;
			if (emit_node(e, n->sub) == -1 ||
			    emit(e, RE_JMP, 0, l, 0) == -1)
				return (-1);
			g->inst[l].y = g->n;
		} else {
			/* L: x; SPLIT L, out; out: */
			l = g->n;
			if (emit_node(e, n->sub) == -1 ||
			    (s = emit(e, RE_SPLIT, 0, l, 0)) == -1)
				return (-1);
			g->inst[s].y = g->n;
		}
		return (0);
	}
	for (i = 0; i < n->min; i++)
		if (emit_node(e, n->sub) == -1)
			return (-1);
	/* max - min optional copies, each a way out: the holes */
	for (; i < n->max; i++) {
		if ((s = emit(e, RE_SPLIT, 0, 0, holes)) == -1)
			return (-1);
		g->inst[s].x = s + 1;
		holes = s;
		if (emit_node(e, n->sub) == -1)
			return (-1);
	}
	for (h = holes; h != UINT32_MAX; h = next) {
		next = g->inst[h].y;
		g->inst[h].y = g->n;
	}
	return (0);
}

static int
emit_node(struct re_emit *e, const struct re_node *n)
{
	struct re_prog		*g = e->g;
	const struct re_node	*k;
	uint32_t		 holes = UINT32_MAX, h, next;
	int			 s, j, r = 0;

	if (++e->depth > 2 * RULES_NEST_MAX + 8) {
		/* the parser bounds the groups: cannot happen */
		snprintf(e->err, e->errlen, "expression nested too deep");
		return (-1);
	}
	switch (n->type) {
	case N_EMPTY:
		break;
	case N_BYTE:
		r = emit(e, RE_BYTE, n->c, 0, 0);
		break;
	case N_BYTECI:
		r = emit(e, RE_BYTECI, n->c, 0, 0);
		break;
	case N_CLASS:
		r = emit(e, RE_CLASS, 0, n->cls, 0);
		break;
	case N_ANY:
		r = emit(e, RE_ANY, 0, 0, 0);
		break;
	case N_ANYNL:
		r = emit(e, RE_ANYNL, 0, 0, 0);
		break;
	case N_ASSERT:
		r = emit(e, n->c, 0, 0, 0);
		break;
	case N_CAT:
		for (k = n->sub; k != NULL && r != -1; k = k->next)
			r = emit_node(e, k);
		break;
	case N_ALT:
		/* SPLIT a, next; a; JMP out; next: SPLIT b, ...; last */
		for (k = n->sub; k != NULL; k = k->next) {
			if (k->next != NULL) {
				if ((s = emit(e, RE_SPLIT, 0, 0, 0)) == -1)
					return (-1);
				g->inst[s].x = s + 1;
				if (emit_node(e, k) == -1 ||
				    (j = emit(e, RE_JMP, 0, holes, 0)) == -1)
					return (-1);
				holes = j;
				g->inst[s].y = g->n;
			} else if (emit_node(e, k) == -1)
				return (-1);
		}
		for (h = holes; h != UINT32_MAX; h = next) {
			next = g->inst[h].x;
			g->inst[h].x = g->n;
		}
		break;
	case N_REP:
		r = emit_rep(e, n);
		break;
	}
	e->depth--;
	return (r == -1 ? -1 : 0);
}

/* the scratch of the simulation, for programs of n instructions */
static int
scratch_grow(size_t n)
{
	uint32_t	*v[5];
	size_t		 i;

	if (n <= sc_cap)
		return (0);
	for (i = 0; i < 5; i++)
		if ((v[i] = calloc(n, sizeof(uint32_t))) == NULL) {
			while (i-- > 0)
				free(v[i]);
			return (-1);
		}
	free(sc_dense[0]);
	free(sc_dense[1]);
	free(sc_sparse[0]);
	free(sc_sparse[1]);
	free(sc_stack);
	sc_dense[0] = v[0];
	sc_dense[1] = v[1];
	sc_sparse[0] = v[2];
	sc_sparse[1] = v[3];
	sc_stack = v[4];
	sc_cap = n;
	return (0);
}

/*
 * A search finds an expression anywhere: ".*" at either end of it adds
 * nothing but steps (every byte keeps its thread alive), so it goes.
 */
static struct re_node *
strip_dotstar(struct re_node *root)
{
	struct re_node	**pp, *k;

#define DOTSTAR(n)	((n)->type == N_REP && (n)->min == 0 &&		\
	    (n)->max == -1 && ((n)->sub->type == N_ANY ||			\
	    (n)->sub->type == N_ANYNL))
	if (DOTSTAR(root))
		root->type = N_EMPTY;
	if (root->type != N_CAT)
		return (root);
	while (root->sub != NULL && DOTSTAR(root->sub))
		root->sub = root->sub->next;
	for (;;) {
		for (pp = &root->sub; *pp != NULL && (*pp)->next != NULL;
		    pp = &(*pp)->next)
			;
		k = *pp;
		if (k == NULL || !DOTSTAR(k))
			break;
		*pp = NULL;
	}
#undef DOTSTAR
	return (root);
}

/*
 * The bytes that an expression may begin with, and whether it matches
 * without any: what the instructions reached from st->pc without input
 * consume.  Assertions are taken as true (more starts, never fewer).
 */
static int
first_set(const struct re_prog *g, struct re_start *st)
{
	const struct re_inst	*in;
	uint8_t			*seen;
	uint32_t		*stack, pc;
	size_t			 sp = 0, n = g->n;
	int			 c, k;

	if ((seen = calloc(n, 1)) == NULL)
		return (-1);
	if ((stack = calloc(n, sizeof(*stack))) == NULL) {
		free(seen);
		return (-1);
	}
	seen[st->pc] = 1;
	stack[sp++] = st->pc;
	while (sp > 0) {
		pc = stack[--sp];
		in = &g->inst[pc];
		switch (in->op) {
		case RE_BYTE:
			set_add(st->first, in->c);
			break;
		case RE_BYTECI:
			set_add(st->first, in->c);
			set_add(st->first, toupper(in->c));
			break;
		case RE_CLASS:
			for (k = 0; k < 32; k++)
				st->first[k] |= g->cls[in->x][k];
			break;
		case RE_ANY:
		case RE_ANYNL:
			for (c = 0; c < 256; c++)
				if (in->op == RE_ANY || c != '\n')
					set_add(st->first, c);
			break;
		case RE_MATCH:
			st->nullable = 1;
			break;
		case RE_SPLIT:
			if (!seen[in->y]) {
				seen[in->y] = 1;
				stack[sp++] = in->y;
			}
			/* FALLTHROUGH */
		case RE_JMP:
			if (!seen[in->x]) {
				seen[in->x] = 1;
				stack[sp++] = in->x;
			}
			break;
		default:	/* an assertion */
			if (!seen[pc + 1]) {
				seen[pc + 1] = 1;
				stack[sp++] = pc + 1;
			}
			break;
		}
	}
	free(seen);
	free(stack);
	return (0);
}

/*
 * Index the expressions of prog by the bytes they begin with, once the
 * last is compiled: a search then starts at each byte of the text only
 * the expressions that can begin there.  Returns 0, or -1 (out of
 * memory: the matcher tries every expression at every byte).
 */
int
re_prog_finish(struct re_prog *g)
{
	uint32_t	 count[257];
	size_t		 i, n, total = 0;
	int		 c;

	if (g == NULL || g->boff != NULL)
		return (0);
	memset(count, 0, sizeof(count));
	free(g->always);
	g->always = NULL;
	g->nalways = 0;
	for (i = 0; i < g->nstarts; i++) {
		for (c = 0, n = 0; c < 256; c++)
			n += set_has(g->starts[i].first, c);
		if (g->starts[i].nullable || n > RE_FIRST_MAX) {
			g->nalways++;
			continue;
		}
		for (c = 0; c < 256; c++)
			if (set_has(g->starts[i].first, c))
				count[c]++;
		total += n;
	}
	if ((g->boff = calloc(257, sizeof(*g->boff))) == NULL ||
	    (g->bidx = calloc(total + 1, sizeof(*g->bidx))) == NULL ||
	    (g->always = calloc(g->nalways + 1,
	    sizeof(*g->always))) == NULL) {
		free(g->boff);
		free(g->bidx);
		free(g->always);
		g->boff = g->bidx = g->always = NULL;
		return (-1);
	}
	for (c = 0; c < 256; c++)
		g->boff[c + 1] = g->boff[c] + count[c];
	memset(count, 0, sizeof(count));
	g->nalways = 0;
	for (i = 0; i < g->nstarts; i++) {
		for (c = 0, n = 0; c < 256; c++)
			n += set_has(g->starts[i].first, c);
		if (g->starts[i].nullable || n > RE_FIRST_MAX) {
			g->always[g->nalways++] = g->starts[i].pc;
			continue;
		}
		for (c = 0; c < 256; c++)
			if (set_has(g->starts[i].first, c))
				g->bidx[g->boff[c] + count[c]++] =
				    g->starts[i].pc;
	}
	return (0);
}

/*
 * Add the expression pattern (len bytes; flags RE_ICASE) to prog, its
 * MATCH carrying id; prog may hold at most limit instructions in all.
 * Returns 0, or -1 with a message in err (the pattern is then not in
 * prog, which stays usable).
 */
int
re_compile(struct re_prog *prog, const char *pattern, uint32_t id, int flags,
    size_t limit, char *err, size_t errlen)
{
	struct re_parse	 p;
	struct re_emit	 e;
	struct re_node	*root;
	size_t		 n0 = prog->n, c0 = prog->ncls, i, len, ncap;
	struct re_start	*ns, *st;
	int		 ret = -1;

	len = strlen(pattern);
	memset(&p, 0, sizeof(p));
	p.s = pattern;
	p.len = len;
	p.prog = prog;
	p.icase = (flags & RE_ICASE) != 0;
	p.err = err;
	p.errlen = errlen;
	for (i = 0; i < len; i++)
		if ((unsigned char)pattern[i] >= 0x80 ||
		    (unsigned char)pattern[i] < 0x20 || pattern[i] == 0x7f) {
			p.pos = i;
			re_err(&p, (unsigned char)pattern[i] >= 0x80 ?
			    "not ASCII: hosts and URLs are ASCII (write the "
			    "punycode form, or \\x escapes)" :
			    "a control character");
			return (-1);
		}
	if (len > RULES_PATTERN_MAX) {
		snprintf(err, errlen, "longer than %d bytes",
		    RULES_PATTERN_MAX);
		return (-1);
	}
	/* every byte makes at most three nodes (an atom, a repeat, a cat) */
	p.npool = 3 * len + 4;
	if ((p.pool = calloc(p.npool, sizeof(*p.pool))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return (-1);
	}
	if ((root = parse_alt(&p)) == NULL)
		goto done;
	if (p.pos < len) {
		/* parse_alt() stops at a ')' it has no group for */
		re_err(&p, "unexpected ')'");
		goto done;
	}
	if (prog->nstarts == prog->startcap) {
		ncap = prog->startcap ? prog->startcap * 2 : 8;
		if ((ns = reallocarray(prog->starts, ncap,
		    sizeof(*ns))) == NULL) {
			snprintf(err, errlen, "out of memory");
			goto done;
		}
		prog->starts = ns;
		prog->startcap = ncap;
	}
	memset(&e, 0, sizeof(e));
	e.g = prog;
	e.limit = limit;
	e.err = err;
	e.errlen = errlen;
	if (!(flags & RE_ANCHORED))
		root = strip_dotstar(root);
	st = &prog->starts[prog->nstarts];
	memset(st, 0, sizeof(*st));
	st->pc = prog->n;
	if (emit_node(&e, root) == -1 ||
	    emit(&e, RE_MATCH, 0, id, 0) == -1)
		goto done;
	if (scratch_grow(prog->n) == -1 || first_set(prog, st) == -1) {
		snprintf(err, errlen, "out of memory");
		goto done;
	}
	prog->nstarts++;
	/* the index is made again by re_prog_finish() */
	free(prog->boff);
	prog->boff = NULL;
	ret = 0;
 done:
	if (ret == -1) {
		/* as it was: the classes added are unhooked and dropped */
		prog->n = n0;
		while (prog->ncls > c0) {
			uint32_t	 ci = --prog->ncls, hh;
			uint32_t	 hv = 2166136261u;
			int		 k;

			for (k = 0; k < 32; k++)
				hv = (hv ^ prog->cls[ci][k]) * 16777619u;
			hh = hv % RE_CLS_HASH;
			prog->clshead[hh] = prog->clsnext[ci];
		}
	}
	free(p.pool);
	return (ret);
}

static int
is_word(int c)
{
	return (isalnum(c) || c == '_');
}

/*
 * Put pc, and what it reaches without input, into set k at position pos
 * of text s (len bytes).  Counts the states visited in *steps.
 */
static void
add_thread(const struct re_prog *g, int k, size_t *nset, uint32_t pc,
    const char *s, size_t len, size_t pos, size_t *steps)
{
	uint32_t	*dense = sc_dense[k], *sparse = sc_sparse[k];
	size_t		 sp = 0, n = *nset;
	const struct re_inst *in;
	int		 ok, a, b;

#define IN_SET(x)	(sparse[x] < n && dense[sparse[x]] == (x))
#define PUSH(x)	do {							\
		if (!IN_SET(x)) {					\
			sparse[x] = n;					\
			dense[n++] = (x);				\
			sc_stack[sp++] = (x);				\
		}							\
	} while (0)

	PUSH(pc);
	while (sp > 0) {
		pc = sc_stack[--sp];
		(*steps)++;
		in = &g->inst[pc];
		switch (in->op) {
		case RE_JMP:
			PUSH(in->x);
			break;
		case RE_SPLIT:
			PUSH(in->y);
			PUSH(in->x);
			break;
		case RE_BOT:
		case RE_EOT:
		case RE_WORDB:
		case RE_NWORDB:
			if (in->op == RE_BOT)
				ok = pos == 0;
			else if (in->op == RE_EOT)
				ok = pos == len;
			else {
				a = pos > 0 && is_word((unsigned char)s[pos - 1]);
				b = pos < len && is_word((unsigned char)s[pos]);
				ok = (a != b) == (in->op == RE_WORDB);
			}
			if (ok)
				PUSH(pc + 1);
			break;
		default:
			break;
		}
	}
#undef PUSH
#undef IN_SET
	*nset = n;
}

/* the threads of the expressions that may begin at s[pos] */
static void
start_threads(const struct re_prog *g, int k, size_t *nset, const char *s,
    size_t len, size_t pos, size_t *steps)
{
	size_t	 i;
	int	 c;

	if (g->boff == NULL) {
		for (i = 0; i < g->nstarts; i++)
			if (g->starts[i].nullable || (pos < len &&
			    set_has(g->starts[i].first, (unsigned char)s[pos])))
				add_thread(g, k, nset, g->starts[i].pc, s, len,
				    pos, steps);
		return;
	}
	for (i = 0; i < g->nalways; i++)
		add_thread(g, k, nset, g->always[i], s, len, pos, steps);
	if (pos >= len)
		return;
	c = (unsigned char)s[pos];
	for (i = g->boff[c]; i < g->boff[c + 1]; i++)
		add_thread(g, k, nset, g->bidx[i], s, len, pos, steps);
}

/*
 * Run g on s (len bytes).  Returns 1 on a match, with the id of the
 * expression that matched in *id (the lowest, for an anchored program),
 * 0 without one, -1 when *steps would pass RULES_STEPS_MAX.  *steps
 * accumulates over the calls of one decision.
 */
int
re_match(const struct re_prog *g, const char *s, size_t len, uint32_t *id,
    size_t *steps)
{
	const struct re_inst	*in;
	size_t			 nset[2] = { 0, 0 }, pos, i;
	uint32_t		 best = UINT32_MAX, pc;
	int			 cur = 0, c, m, found = 0, anchored;

	if (g == NULL || g->nstarts == 0)
		return (0);
	anchored = (g->flags & RE_ANCHORED) != 0;
	for (pos = 0; pos <= len; pos++) {
		if (pos == 0 || !anchored)
			start_threads(g, cur, &nset[cur], s, len, pos, steps);
		if (*steps > RULES_STEPS_MAX)
			return (-1);
		if (nset[cur] == 0) {
			if (anchored)
				break;
			continue;	/* nothing alive: the next byte */
		}
		nset[!cur] = 0;
		c = pos < len ? (unsigned char)s[pos] : -1;
		for (i = 0; i < nset[cur]; i++) {
			pc = sc_dense[cur][i];
			in = &g->inst[pc];
			m = 0;
			switch (in->op) {
			case RE_MATCH:
				if (!anchored) {
					*id = in->x;
					return (1);
				}
				if (pos == len) {
					if (in->x < best)
						best = in->x;
					found = 1;
				}
				break;
			case RE_BYTE:
				m = c == in->c;
				break;
			case RE_BYTECI:
				m = c != -1 && tolower(c) == in->c;
				break;
			case RE_CLASS:
				m = c != -1 && set_has(g->cls[in->x], c);
				break;
			case RE_ANY:
				m = c != -1;
				break;
			case RE_ANYNL:
				m = c != -1 && c != '\n';
				break;
			default:
				break;
			}
			if (m)
				add_thread(g, !cur, &nset[!cur], pc + 1, s,
				    len, pos + 1, steps);
		}
		if (*steps > RULES_STEPS_MAX)
			return (-1);
		cur = !cur;
	}
	if (found)
		*id = best;
	return (found);
}
