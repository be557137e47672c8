/*
 * The regular expressions of the traffic rules, inside common/: what
 * rules.c calls (re_compile() and the rest, at the end) and what the
 * parser (rules_re_parse.c) and the compiler and matcher (rules_re.c)
 * share.  Nothing else includes this header.
 */
#ifndef SC_RULES_RE_H
#define SC_RULES_RE_H

#include <stddef.h>
#include <stdint.h>

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
	struct re_node	*sub;		/* N_REP: the operand; */
					/* CAT, ALT: the first */
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


/* a 256-bit set of bytes */
static inline void
set_add(uint8_t *set, int c)
{
	set[c >> 3] |= 1 << (c & 7);
}

static inline int
set_has(const uint8_t *set, int c)
{
	return ((set[c >> 3] >> (c & 7)) & 1);
}

#define RE_ANCHORED	0x01	/* the whole text, else found anywhere */
#define RE_ICASE	0x02	/* case-insensitive from the start */

/* rules_re_parse.c */
struct re_node	*re_parse(struct re_parse *, struct re_prog *, const char *,
		    int, char *, size_t);
void		 re_class_drop(struct re_prog *, size_t);

/* rules_re.c */
struct re_prog	*re_prog_new(int);
void		 re_prog_free(struct re_prog *);
size_t		 re_prog_size(const struct re_prog *);
int		 re_compile(struct re_prog *, const char *, uint32_t, int,
		    size_t, char *, size_t);
int		 re_prog_finish(struct re_prog *);
int		 re_match(const struct re_prog *, const char *, size_t,
		    uint32_t *, size_t *);

#endif /* SC_RULES_RE_H */
