/*
 * The configuration file of sc (-c/--config-file): a YAML mapping whose
 * keys are the long flag names and whose values are scalars, or lists of
 * scalars for the flags that take several values.  This file only reads
 * the YAML into a list of keys and values; config.c knows what they mean.
 *
 * The file may hold the access key: every copy of its bytes (our buffer,
 * libyaml's buffers, the values) is wiped before it is freed.
 */
#include <sys/types.h>
#include <sys/queue.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <yaml.h>

#include "controller.h"

/* where the parser is in the one document */
enum cf_state {
	CFS_STREAM,		/* before the document */
	CFS_DOCUMENT,		/* before the top-level mapping */
	CFS_KEY,		/* in the mapping, a key or its end */
	CFS_VALUE,		/* after a key */
	CFS_LIST,		/* in a list value */
	CFS_AFTER,		/* the document is done */
	CFS_DONE
};

static int	 cf_error(char *, size_t, const char *, int, const char *, ...)
		    __attribute__((__format__ (printf, 5, 6)));
static void	 cf_wipe_event(yaml_event_t *);
static void	 cf_wipe_parser(yaml_parser_t *);
static char	*cf_strdup(const yaml_event_t *, const char *, char *, size_t);
static int	 cf_add_value(struct conffile_entry *, char *);
static int	 cf_is_null(const yaml_event_t *);
static int	 cf_key_ok(const char *);
static const char *cf_event_name(yaml_event_type_t);

static int
cf_error(char *err, size_t errlen, const char *name, int line,
    const char *fmt, ...)
{
	va_list	 ap;
	char	 msg[512];

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (line > 0)
		snprintf(err, errlen, "config file %s, line %d: %s", name,
		    line, msg);
	else
		snprintf(err, errlen, "config file %s: %s", name, msg);
	return (-1);
}

static void
cf_wipe_event(yaml_event_t *ev)
{
	if (ev->type == YAML_SCALAR_EVENT && ev->data.scalar.value != NULL)
		explicit_bzero(ev->data.scalar.value, ev->data.scalar.length);
	yaml_event_delete(ev);
}

/* libyaml keeps the text it read in two buffers: wipe them. */
static void
cf_wipe_parser(yaml_parser_t *p)
{
	if (p->raw_buffer.start != NULL)
		explicit_bzero(p->raw_buffer.start,
		    p->raw_buffer.end - p->raw_buffer.start);
	if (p->buffer.start != NULL)
		explicit_bzero(p->buffer.start,
		    p->buffer.end - p->buffer.start);
	yaml_parser_delete(p);
}

/* A scalar as a C string; one with a NUL in it (a "\0" escape) is refused. */
static char *
cf_strdup(const yaml_event_t *ev, const char *name, char *err, size_t errlen)
{
	const char	*v = (const char *)ev->data.scalar.value;
	size_t		 len = ev->data.scalar.length;
	char		*s;

	if (memchr(v, '\0', len) != NULL) {
		cf_error(err, errlen, name, (int)ev->start_mark.line + 1,
		    "a NUL character in a value");
		return (NULL);
	}
	if ((s = malloc(len + 1)) == NULL) {
		cf_error(err, errlen, name, 0, "out of memory");
		return (NULL);
	}
	memcpy(s, v, len);
	s[len] = '\0';
	return (s);
}

static int
cf_add_value(struct conffile_entry *e, char *v)
{
	char	**vals;

	if (e->nvals >= CONFFILE_MAX_VALUES)
		return (-1);
	if ((vals = reallocarray(e->vals, e->nvals + 1, sizeof(*vals))) ==
	    NULL)
		return (-1);
	e->vals = vals;
	e->vals[e->nvals++] = v;
	return (0);
}

/* YAML's null: an empty plain scalar, ~, null */
static int
cf_is_null(const yaml_event_t *ev)
{
	const char	*v = (const char *)ev->data.scalar.value;

	if (ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return (0);
	return (ev->data.scalar.length == 0 || strcmp(v, "~") == 0 ||
	    strcmp(v, "null") == 0 || strcmp(v, "Null") == 0 ||
	    strcmp(v, "NULL") == 0);
}

/* what may be printed back in a message: a flag-like name */
static int
cf_key_ok(const char *k)
{
	size_t	 n;

	for (n = 0; k[n] != '\0'; n++)
		if (k[n] < 0x21 || k[n] > 0x7e)
			return (0);
	return (n > 0 && n <= 64);
}

static const char *
cf_event_name(yaml_event_type_t t)
{
	switch (t) {
	case YAML_SEQUENCE_START_EVENT:
		return ("a list");
	case YAML_MAPPING_START_EVENT:
		return ("a mapping");
	case YAML_ALIAS_EVENT:
		return ("an alias");
	case YAML_SCALAR_EVENT:
		return ("a single value");
	default:
		return ("something else");
	}
}

void
conffile_init(struct conffile *cf)
{
	memset(cf, 0, sizeof(*cf));
	TAILQ_INIT(&cf->entries);
}

void
conffile_free(struct conffile *cf)
{
	struct conffile_entry	*e;
	size_t			 i;

	while ((e = TAILQ_FIRST(&cf->entries)) != NULL) {
		TAILQ_REMOVE(&cf->entries, e, entry);
		for (i = 0; i < e->nvals; i++) {
			explicit_bzero(e->vals[i], strlen(e->vals[i]));
			free(e->vals[i]);
		}
		free(e->vals);
		free(e->key);
		free(e);
	}
	conffile_init(cf);
}

/*
 * Parse len bytes of YAML (name is for the messages) into cf, which
 * conffile_init() prepared.  Returns 0, or -1 with a message in err;
 * cf holds what was read so far either way (conffile_free() it).
 */
int
conffile_parse(struct conffile *cf, const char *name, const char *buf,
    size_t len, char *err, size_t errlen)
{
	yaml_parser_t		 parser;
	yaml_event_t		 ev;
	struct conffile_entry	*e = NULL, *o;
	enum cf_state		 state = CFS_STREAM;
	char			*v;
	int			 line, ret = -1, nentries = 0;

	if (len > CONFFILE_MAX)
		return (cf_error(err, errlen, name, 0,
		    "too large (more than %d bytes)", CONFFILE_MAX));
	if (!yaml_parser_initialize(&parser))
		return (cf_error(err, errlen, name, 0, "out of memory"));
	yaml_parser_set_input_string(&parser, (const unsigned char *)
	    (buf != NULL ? buf : ""), buf != NULL ? len : 0);

	while (state != CFS_DONE) {
		if (!yaml_parser_parse(&parser, &ev)) {
			if (parser.error == YAML_MEMORY_ERROR)
				cf_error(err, errlen, name, 0,
				    "out of memory");
			else
				cf_error(err, errlen, name,
				    (int)parser.problem_mark.line + 1,
				    "not valid YAML: %s%s%s",
				    parser.problem ? parser.problem : "error",
				    parser.context ? " " : "",
				    parser.context ? parser.context : "");
			goto done;
		}
		line = (int)ev.start_mark.line + 1;
		if (ev.type == YAML_ALIAS_EVENT) {
			cf_error(err, errlen, name, line,
			    "aliases (*name) are not supported");
			goto bad;
		}

		switch (state) {
		case CFS_STREAM:
			if (ev.type == YAML_DOCUMENT_START_EVENT)
				state = CFS_DOCUMENT;
			else if (ev.type == YAML_STREAM_END_EVENT)
				state = CFS_DONE;	/* an empty file */
			break;
		case CFS_DOCUMENT:
			if (ev.type == YAML_MAPPING_START_EVENT)
				state = CFS_KEY;
			else if (ev.type == YAML_SCALAR_EVENT &&
			    cf_is_null(&ev))
				state = CFS_AFTER;	/* "---" alone */
			else {
				cf_error(err, errlen, name, line,
				    "the file must be a mapping of keys to "
				    "values (key: value), not %s",
				    cf_event_name(ev.type));
				goto bad;
			}
			break;
		case CFS_KEY:
			if (ev.type == YAML_MAPPING_END_EVENT) {
				state = CFS_AFTER;
				break;
			}
			if (ev.type != YAML_SCALAR_EVENT) {
				cf_error(err, errlen, name, line,
				    "a key must be a flag name, not %s",
				    cf_event_name(ev.type));
				goto bad;
			}
			if (++nentries > CONFFILE_MAX_KEYS) {
				cf_error(err, errlen, name, line,
				    "more than %d keys", CONFFILE_MAX_KEYS);
				goto bad;
			}
			if ((v = cf_strdup(&ev, name, err, errlen)) == NULL)
				goto bad;
			if (!cf_key_ok(v)) {
				cf_error(err, errlen, name, line,
				    "a key must be a flag name (letters, "
				    "digits, '-')");
				free(v);
				goto bad;
			}
			TAILQ_FOREACH(o, &cf->entries, entry) {
				if (strcmp(o->key, v) == 0) {
					cf_error(err, errlen, name, line,
					    "'%s' is given twice (first on "
					    "line %d)", v, o->line);
					free(v);
					goto bad;
				}
			}
			if ((e = calloc(1, sizeof(*e))) == NULL) {
				free(v);
				cf_error(err, errlen, name, 0,
				    "out of memory");
				goto bad;
			}
			e->key = v;
			e->line = line;
			e->type = CONFFILE_NULL;
			TAILQ_INSERT_TAIL(&cf->entries, e, entry);
			state = CFS_VALUE;
			break;
		case CFS_VALUE:
			if (ev.type == YAML_SEQUENCE_START_EVENT) {
				e->type = CONFFILE_LIST;
				state = CFS_LIST;
				break;
			}
			if (ev.type != YAML_SCALAR_EVENT) {
				cf_error(err, errlen, name, line,
				    "the value of '%s' must be a value or "
				    "a list of values, not %s", e->key,
				    cf_event_name(ev.type));
				goto bad;
			}
			if (!cf_is_null(&ev)) {
				if ((v = cf_strdup(&ev, name, err,
				    errlen)) == NULL)
					goto bad;
				if (cf_add_value(e, v) == -1) {
					free(v);
					cf_error(err, errlen, name, 0,
					    "out of memory");
					goto bad;
				}
				e->type = CONFFILE_SCALAR;
			}
			state = CFS_KEY;
			break;
		case CFS_LIST:
			if (ev.type == YAML_SEQUENCE_END_EVENT) {
				state = CFS_KEY;
				break;
			}
			if (ev.type != YAML_SCALAR_EVENT) {
				cf_error(err, errlen, name, line,
				    "the list of '%s' may hold only "
				    "values, not %s", e->key,
				    cf_event_name(ev.type));
				goto bad;
			}
			if (e->nvals >= CONFFILE_MAX_VALUES) {
				cf_error(err, errlen, name, line,
				    "more than %d values for '%s'",
				    CONFFILE_MAX_VALUES, e->key);
				goto bad;
			}
			if ((v = cf_strdup(&ev, name, err, errlen)) == NULL)
				goto bad;
			if (cf_add_value(e, v) == -1) {
				free(v);
				cf_error(err, errlen, name, 0,
				    "out of memory");
				goto bad;
			}
			break;
		case CFS_AFTER:
			if (ev.type == YAML_DOCUMENT_START_EVENT) {
				cf_error(err, errlen, name, line,
				    "only one YAML document is allowed");
				goto bad;
			}
			if (ev.type == YAML_STREAM_END_EVENT)
				state = CFS_DONE;
			break;
		case CFS_DONE:
			break;
		}
		cf_wipe_event(&ev);
	}
	ret = 0;
	goto done;
 bad:
	cf_wipe_event(&ev);
 done:
	cf_wipe_parser(&parser);
	return (ret);
}

/*
 * Read and parse the file at path.  Its mode goes in cf for the
 * permission check.  Returns 0, or -1 with a message in err.
 */
int
conffile_load(struct conffile *cf, const char *path, char *err,
    size_t errlen)
{
	struct stat	 st;
	char		*buf = NULL;
	size_t		 len = 0;
	ssize_t		 n;
	int		 fd, ret = -1;

	/* O_NONBLOCK: a FIFO is refused below instead of blocking here */
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK)) ==
	    -1)
		return (cf_error(err, errlen, path, 0, "%s",
		    strerror(errno)));
	if (fstat(fd, &st) == -1) {
		cf_error(err, errlen, path, 0, "%s", strerror(errno));
		goto done;
	}
	if (!S_ISREG(st.st_mode)) {
		cf_error(err, errlen, path, 0, "not a regular file");
		goto done;
	}
	if (st.st_size > CONFFILE_MAX) {
		cf_error(err, errlen, path, 0,
		    "too large (more than %d bytes)", CONFFILE_MAX);
		goto done;
	}
	cf->mode = st.st_mode;
	/* one byte more than the limit, to notice a file that grew */
	if ((buf = malloc(CONFFILE_MAX + 1)) == NULL) {
		cf_error(err, errlen, path, 0, "out of memory");
		goto done;
	}
	while (len <= CONFFILE_MAX) {
		n = read(fd, buf + len, CONFFILE_MAX + 1 - len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			cf_error(err, errlen, path, 0, "%s", strerror(errno));
			goto done;
		}
		if (n == 0)
			break;
		len += n;
	}
	ret = conffile_parse(cf, path, buf, len, err, errlen);
 done:
	if (buf != NULL) {
		explicit_bzero(buf, len);
		free(buf);
	}
	close(fd);
	return (ret);
}
