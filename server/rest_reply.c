/*
 * The REST API's answers (rest.c, rest_admin.c): a JSON object or an
 * error message with its status code, counted by code for /metrics;
 * and what a request brings: its body, its query parameters.
 */
#include <sys/types.h>
#include <sys/queue.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <jansson.h>

#include "httpd.h"
#include "log.h"
#include "server.h"
#include "rest_int.h"

/* the answers by status code, for /metrics */
static struct status_count	 codes[REST_CODES_MAX];
static size_t			 ncodes;

/* One more answer with code: the last slot takes the codes past it. */
static void
rest_count(int code)
{
	size_t	 i;

	for (i = 0; i < ncodes; i++)
		if (codes[i].code == code)
			break;
	if (i == ncodes) {
		if (ncodes == REST_CODES_MAX)
			i = REST_CODES_MAX - 1;
		else
			codes[ncodes++].code = code;
	}
	codes[i].n++;
}

/* The REST answers so far, by status code. */
size_t
rest_codes(const struct status_count **out)
{
	*out = codes;
	return (ncodes);
}

/* Send o (reference taken) as the answer. */
void
rest_reply(struct rest_req *r, int code, json_t *o)
{
	static const char	 oom[] = "{\"message\": \"internal error\"}\n";
	char			*s = NULL, *t, hdrs[128];
	size_t			 len = 0;

	if (o != NULL && (s = json_dumps(o, JSON_COMPACT |
	    JSON_ENCODE_ANY)) != NULL) {
		/* the text and a newline */
		len = strlen(s);
		if ((t = realloc(s, len + 2)) != NULL) {
			s = t;
			s[len++] = '\n';
			s[len] = '\0';
		}
	}
	json_decref(o);
	if (s == NULL)
		code = 500;
	hdrs[0] = '\0';
	if (code == 401)
		strlcpy(hdrs, "WWW-Authenticate: Basic realm=\"sc-server\"\r\n",
		    sizeof(hdrs));
	if (code == 429 && r->retry > 0)
		snprintf(hdrs, sizeof(hdrs), "Retry-After: %d\r\n", r->retry);
	/* before the answer, which frees the request and its method */
	log_debug("%s %s %d", r->method, r->path, code);
	rest_count(code);
	if (s == NULL)
		httpd_reply(r->req, code, "application/json", NULL, oom,
		    sizeof(oom) - 1);
	else
		httpd_reply(r->req, code, "application/json", hdrs, s, len);
	free(s);
}

void
rest_error(struct rest_req *r, int code, const char *msg)
{
	rest_reply(r, code, json_pack("{s:s}", "message", msg));
}

/*
 * The body of the request: len bytes, not NUL-terminated ("" when there
 * is none).  NULL only when it cannot be had (never, with httpd.c).
 */
const char *
rest_req_body(struct rest_req *r, size_t *len)
{
	const char	*b;

	if ((b = httpd_req_body(r->req, len)) == NULL)
		return ("");
	return (b);
}

/* The value of query parameter name into buf; NULL when absent. */
char *
rest_query_get(const char *query, const char *name, char *buf, size_t len)
{
	struct evkeyvalq	 kv;
	const char		*v;
	char			*ret = NULL;

	if (query == NULL)
		return (NULL);
	TAILQ_INIT(&kv);
	if (evhttp_parse_query_str(query, &kv) == 0 &&
	    (v = evhttp_find_header(&kv, name)) != NULL &&
	    strlcpy(buf, v, len) < len)
		ret = buf;
	evhttp_clear_headers(&kv);
	return (ret);
}
