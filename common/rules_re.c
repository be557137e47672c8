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
 * The parser (rules_re_parse.c) builds a small tree; the emitter here
 * counts the instructions against the caller's budget as it goes, so
 * that x{1000} nested three times fails at once instead of growing.
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

/* the simulation's scratch: one per process, as large as the largest */
static uint32_t	*sc_dense[2], *sc_sparse[2], *sc_stack;
static size_t	 sc_cap;

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

#define DOTSTAR(n)	((n)->type == N_REP && (n)->min == 0 &&	\
	    (n)->max == -1 && ((n)->sub->type == N_ANY ||		\
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
	size_t		 n0 = prog->n, c0 = prog->ncls, ncap;
	struct re_start	*ns, *st;
	int		 ret = -1;

	if ((root = re_parse(&p, prog, pattern, (flags & RE_ICASE) != 0, err,
	    errlen)) == NULL)
		goto done;
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
		re_class_drop(prog, c0);
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
				a = pos > 0 &&
				    is_word((unsigned char)s[pos - 1]);
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
