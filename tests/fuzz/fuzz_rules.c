/*
 * Fuzz target for common/rules.c, rules_re.c and rules_re_parse.c: the
 * input is lines, "L S rules" (a list 0-4 and a syntax 0-1, then a comma
 * list) and, last, "host url"; every list is added, the whole compiled,
 * and the host and URL decided.  The first byte also picks an expression
 * compiled alone and run, anchored and searching, on the last line.
 * Checked: nothing crashes, a verdict names a rule of the list that
 * decided it, no decision spends more than RULES_STEPS_MAX, an
 * expression that compiled alone fits RULES_PROG_MAX.
 */
#include <sys/types.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "rules.h"
#include "rules_re.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void
check_verdict(struct rules *r, const struct rules_verdict *v)
{
	size_t	 i, n = rules_count(r);
	int	 found = 0;

	if (v->error) {
		if (v->route != RULES_ROUTE_DENY || v->rule != NULL)
			abort();
		return;
	}
	if (v->rule != NULL) {
		for (i = 0; i < n; i++)
			if (rules_get(r, i) == v->rule)
				found = 1;
		if (!found || v->rule->exclude)
			abort();
		switch (v->route) {
		case RULES_ROUTE_DENY:
			if (v->rule->list != RULES_DENY)
				abort();
			break;
		case RULES_ROUTE_DIRECT:
			if (v->rule->list != RULES_DIRECT &&
			    v->rule->list != RULES_TUNNEL)
				abort();
			break;
		case RULES_ROUTE_TUNNEL:
			if (v->rule->list != RULES_TUNNEL)
				abort();
			break;
		}
	} else if (v->route == RULES_ROUTE_DENY)
		abort();
	if (v->route == RULES_ROUTE_DIRECT && v->resign)
		abort();
}

static void
fuzz_one_expression(const char *re, const char *text, int flags)
{
	struct re_prog	*g;
	char		 err[256];
	uint32_t	 id = 0;
	size_t		 steps = 0;
	int		 m;

	if ((g = re_prog_new(flags)) == NULL)
		return;
	if (re_compile(g, re, 7, flags, RULES_PROG_MAX, err,
	    sizeof(err)) == 0) {
		if (re_prog_size(g) > RULES_PROG_MAX)
			abort();
		if (re_prog_finish(g) == -1)
			abort();
		m = re_match(g, text, strlen(text), &id, &steps);
		if (m == 1 && id != 7)
			abort();
		if (m != -1 && steps > RULES_STEPS_MAX)
			abort();
	} else if (err[0] == '\0')
		abort();
	re_prog_free(g);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	struct rules		*r;
	struct rules_verdict	 v;
	char			*buf, *line, *next, *last = NULL, *url;
	char			 err[512];
	int			 list, syntax;

	if (len == 0 || len > 64 * 1024)
		return (0);
	if ((buf = malloc(len + 1)) == NULL)
		return (0);
	memcpy(buf, data, len);
	buf[len] = '\0';
	if ((r = rules_new()) == NULL) {
		free(buf);
		return (0);
	}
	for (line = buf; line != NULL; line = next) {
		if ((next = strchr(line, '\n')) != NULL)
			*next++ = '\0';
		if (next == NULL) {
			last = line;
			break;
		}
		if (line[0] < '0' || line[0] > '4' || line[1] < '0' ||
		    line[1] > '1' || line[2] != ' ')
			continue;
		list = line[0] - '0';
		syntax = line[1] - '0';
		err[0] = '\0';
		if (rules_add_list(r, list, syntax, line + 3, err,
		    sizeof(err)) == -1 && err[0] == '\0')
			abort();
	}
	if (last != NULL) {
		if ((url = strchr(last, ' ')) != NULL)
			*url++ = '\0';
		err[0] = '\0';
		if (rules_compile(r, err, sizeof(err)) == 0) {
			rules_decide(r, last, url, &v);
			check_verdict(r, &v);
			rules_decide(r, last, NULL, &v);
			check_verdict(r, &v);
		} else if (err[0] == '\0')
			abort();
		/* the first line as one expression, on the host */
		if (buf != last) {
			fuzz_one_expression(buf + (buf[0] != '\0' &&
			    buf[2] == ' ' ? 3 : 0), last,
			    RE_ANCHORED | (data[0] & 1 ? RE_ICASE : 0));
			fuzz_one_expression(buf, url != NULL ? url : last, 0);
		}
	}
	rules_free(r);
	free(buf);
	return (0);
}
