/*
 * The REST API, version 1, tunnel part: evhttp on the event loop, JSON
 * with jansson, HTTP Basic authentication against the accounts.
 *
 *	GET	/rest/v1/{user}/tunnels[?full=true]
 *	POST	/rest/v1/{user}/tunnels
 *	GET	/rest/v1/{user}/tunnels/{id}
 *	DELETE	/rest/v1/{user}/tunnels/{id}
 *	GET	/rest/v1/{user}/all_tunnels
 *
 * With -C and -k the listener speaks HTTPS: evhttp runs on libevent's
 * OpenSSL bufferevents (libevent_openssl), with an SSL_CTX of libssl
 * made from the PEM texts that the parent read (the REST worker opens no
 * file).  Failed logins are rate-limited (guard.c).
 *
 * A POST that creates a tunnel is answered later: once the KGP worker
 * has its entry proxy open (registry.c) and the parent has written the
 * registry with the new tunnel in it (worker.c).
 */
#include <sys/types.h>
#include <sys/queue.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/listener.h>
#include <jansson.h>

#include "log.h"
#include "server.h"

#define REST_MAX_SEGS		4
#define REST_PATH_MAX		1024
#define REST_KEY_MAX		256

struct rest_req {
	struct evhttp_request	*req;
	const char		*method;
	char			 path[256];	/* for the log, sanitized */
	char			 user[ACCOUNT_NAME_MAX + 1];
	char			 peer[ADDRSTR_MAX];	/* source address */
	int			 retry;		/* 429: seconds */
};

/* a POST waiting for its entry proxy and for the registry on disk */
struct rest_wait {
	struct evhttp_request	*req;
	const char		*method;
	char			 path[256];
};

static void	 rest_request(struct evhttp_request *, void *);
static void	 rest_accept_error(struct evconnlistener *, void *);
static void	 rest_accept_resume(int, short, void *);
static void	 rest_reply(struct rest_req *, int, json_t *);
static void	 rest_error(struct rest_req *, int, const char *);
static const char *rest_method(enum evhttp_cmd_type);
static const char *rest_reason(int);
static int	 rest_auth(struct rest_req *, const char *);
static void	 rest_tunnels_list(struct rest_req *, const char *);
static void	 rest_tunnels_create(struct rest_req *);
static void	 rest_tunnel_get(struct rest_req *, const char *);
static void	 rest_tunnel_delete(struct rest_req *, const char *);
static void	 rest_all_tunnels(struct rest_req *);
static int	 rest_query_true(const char *, const char *);
static struct bufferevent *rest_bevcb(struct event_base *, void *);
static void	 rest_limited(struct rest_req *, int);
static const char *rest_req_body(struct rest_req *, size_t *);
static void	 rest_tunnel_started(struct tunnel *, int, const char *,
		    void *);
static int	 rest_no_passphrase(char *, int, int, void *);

static struct evconnlistener	*rest_listener;
static struct event		*rest_pause;
static SSL_CTX			*rest_ssl;

/* The last OpenSSL error, for a log line. */
static const char *
rest_ssl_error(void)
{
	static char	 buf[256];
	unsigned long	 e;

	if ((e = ERR_get_error()) == 0)
		return ("unknown error");
	ERR_error_string_n(e, buf, sizeof(buf));
	ERR_clear_error();
	return (buf);
}

/* An encrypted key is refused, never asked for on a terminal. */
static int
rest_no_passphrase(char *buf, int size, int rwflag, void *arg)
{
	return (0);
}

/*
 * The operator's certificate (chain: the server's first) and key for
 * HTTPS, from their PEM texts; what names them in errors.  NULL with a
 * log line if they do not make a server context.
 */
SSL_CTX *
rest_tls_ctx(const char *crt, size_t crtlen, const char *key, size_t keylen,
    const char *what)
{
	SSL_CTX		*ctx;
	BIO		*bio = NULL;
	X509		*x = NULL;
	EVP_PKEY	*pkey = NULL;
	unsigned long	 e;

	if ((ctx = SSL_CTX_new(TLS_server_method())) == NULL) {
		log_warnx("REST TLS: %s", rest_ssl_error());
		return (NULL);
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION |
	    SSL_OP_CIPHER_SERVER_PREFERENCE);
	if ((bio = BIO_new_mem_buf(crt, crtlen)) == NULL ||
	    (x = PEM_read_bio_X509_AUX(bio, NULL, rest_no_passphrase,
	    NULL)) == NULL || SSL_CTX_use_certificate(ctx, x) != 1) {
		log_warnx("REST TLS: certificate %s: %s", what,
		    rest_ssl_error());
		goto fail;
	}
	X509_free(x);
	/* the rest of the chain, up to the end of the text */
	while ((x = PEM_read_bio_X509(bio, NULL, rest_no_passphrase,
	    NULL)) != NULL) {
		if (SSL_CTX_add0_chain_cert(ctx, x) != 1) {
			log_warnx("REST TLS: certificate chain %s: %s", what,
			    rest_ssl_error());
			goto fail;
		}
	}
	e = ERR_peek_last_error();
	if (ERR_GET_LIB(e) != ERR_LIB_PEM ||
	    ERR_GET_REASON(e) != PEM_R_NO_START_LINE) {
		log_warnx("REST TLS: certificate chain %s: %s", what,
		    rest_ssl_error());
		goto fail;
	}
	ERR_clear_error();
	BIO_free(bio);
	if ((bio = BIO_new_mem_buf(key, keylen)) == NULL ||
	    (pkey = PEM_read_bio_PrivateKey(bio, NULL, rest_no_passphrase,
	    NULL)) == NULL || SSL_CTX_use_PrivateKey(ctx, pkey) != 1) {
		log_warnx("REST TLS: key of %s: %s", what, rest_ssl_error());
		goto fail;
	}
	EVP_PKEY_free(pkey);
	BIO_free(bio);
	if (SSL_CTX_check_private_key(ctx) != 1) {
		log_warnx("REST TLS: the key does not match %s: %s", what,
		    rest_ssl_error());
		SSL_CTX_free(ctx);
		return (NULL);
	}
	return (ctx);
 fail:
	X509_free(x);
	EVP_PKEY_free(pkey);
	BIO_free(bio);
	SSL_CTX_free(ctx);
	return (NULL);
}

/*
 * A new HTTPS connection.  NULL would make evhttp fall back to plain
 * HTTP on the socket: a TLS client then gets a 400 and nothing else.
 */
static struct bufferevent *
rest_bevcb(struct event_base *base, void *arg)
{
	struct bufferevent	*bev;
	SSL			*ssl;

	if ((ssl = SSL_new(rest_ssl)) == NULL) {
		log_warnx("REST TLS: SSL_new: %s", rest_ssl_error());
		return (NULL);
	}
	if ((bev = bufferevent_openssl_socket_new(base, -1, ssl,
	    BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE)) == NULL) {
		SSL_free(ssl);
		return (NULL);
	}
	bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
	return (bev);
}

/*
 * The REST worker: serve the REST API on the listening socket fd (bound by
 * the parent), over HTTPS when crt is not NULL.  Accepting starts with
 * rest_enable().
 */
int
rest_init(int fd, const char *crt, size_t crtlen, const char *key,
    size_t keylen)
{
	if (crt != NULL) {
		if ((rest_ssl = rest_tls_ctx(crt, crtlen, key, keylen,
		    "(-C)")) == NULL) {
			close(fd);
			return (-1);
		}
		env->rest_tls = 1;
	}
	if ((env->http = evhttp_new(env->base)) == NULL) {
		close(fd);
		return (-1);
	}
	evhttp_set_max_body_size(env->http, REST_MAX_BODY);
	evhttp_set_max_headers_size(env->http, REST_MAX_HEADERS);
	evhttp_set_timeout(env->http, REST_TIMEOUT);
	evhttp_set_default_content_type(env->http, "application/json");
	evhttp_set_allowed_methods(env->http, EVHTTP_REQ_GET |
	    EVHTTP_REQ_POST | EVHTTP_REQ_HEAD | EVHTTP_REQ_PUT |
	    EVHTTP_REQ_DELETE | EVHTTP_REQ_OPTIONS | EVHTTP_REQ_PATCH);
	evhttp_set_gencb(env->http, rest_request, NULL);
	if (env->rest_tls)
		evhttp_set_bevcb(env->http, rest_bevcb, NULL);

	/* our own listener, so that accept pauses on EMFILE */
	if ((rest_listener = evconnlistener_new(env->base, NULL, NULL,
	    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC | LEV_OPT_DISABLED,
	    -1, fd)) == NULL) {
		close(fd);
		return (-1);
	}
	evconnlistener_set_error_cb(rest_listener, rest_accept_error);
	if ((rest_pause = evtimer_new(env->base, rest_accept_resume,
	    NULL)) == NULL)
		return (-1);
	if (evhttp_bind_listener(env->http, rest_listener) == NULL)
		return (-1);
	return (0);
}

/* The REST worker is ready: requests may come. */
void
rest_enable(void)
{
	if (evconnlistener_enable(rest_listener) == -1)
		fatalx("%s: evconnlistener_enable", __func__);
}

static void
rest_accept_error(struct evconnlistener *lev, void *arg)
{
	struct timeval	 tv = { 1, 0 };
	int		 saved = errno;

	if (saved == EMFILE || saved == ENFILE) {
		log_warnx("REST: out of file descriptors: accept paused "
		    "for 1 s");
		evconnlistener_disable(lev);
		evtimer_add(rest_pause, &tv);
		return;
	}
	errno = saved;
	log_warn("REST: accept");
}

static void
rest_accept_resume(int fd, short ev, void *arg)
{
	evconnlistener_enable(rest_listener);
}

static const char *
rest_method(enum evhttp_cmd_type cmd)
{
	switch (cmd) {
	case EVHTTP_REQ_GET:
		return ("GET");
	case EVHTTP_REQ_POST:
		return ("POST");
	case EVHTTP_REQ_HEAD:
		return ("HEAD");
	case EVHTTP_REQ_PUT:
		return ("PUT");
	case EVHTTP_REQ_DELETE:
		return ("DELETE");
	case EVHTTP_REQ_OPTIONS:
		return ("OPTIONS");
	case EVHTTP_REQ_PATCH:
		return ("PATCH");
	default:
		return ("OTHER");
	}
}

static const char *
rest_reason(int code)
{
	switch (code) {
	case 200:
		return ("OK");
	case 400:
		return ("Bad Request");
	case 401:
		return ("Unauthorized");
	case 404:
		return ("Not Found");
	case 405:
		return ("Method Not Allowed");
	case 413:
		return ("Content Too Large");
	case 429:
		return ("Too Many Requests");
	case 503:
		return ("Service Unavailable");
	default:
		return ("Internal Server Error");
	}
}

/* Send o (reference taken) as the answer. */
static void
rest_reply(struct rest_req *r, int code, json_t *o)
{
	static const char	 oom[] = "{\"message\": \"internal error\"}\n";
	struct evkeyvalq	*hdrs;
	struct evbuffer		*buf;
	char			*s = NULL;

	hdrs = evhttp_request_get_output_headers(r->req);
	evhttp_remove_header(hdrs, "Content-Type");
	evhttp_add_header(hdrs, "Content-Type", "application/json");
	if (code == 401)
		evhttp_add_header(hdrs, "WWW-Authenticate",
		    "Basic realm=\"sc-server\"");
	if (code == 429 && r->retry > 0) {
		char	 ra[16];

		snprintf(ra, sizeof(ra), "%d", r->retry);
		evhttp_add_header(hdrs, "Retry-After", ra);
	}
	if (o != NULL)
		s = json_dumps(o, JSON_COMPACT | JSON_ENCODE_ANY);
	json_decref(o);
	if ((buf = evbuffer_new()) == NULL) {
		free(s);
		evhttp_send_error(r->req, 500, NULL);
		log_debug("%s %s %d", r->method, r->path, 500);
		return;
	}
	if (s == NULL) {
		code = 500;
		evbuffer_add(buf, oom, sizeof(oom) - 1);
	} else {
		evbuffer_add(buf, s, strlen(s));
		evbuffer_add(buf, "\n", 1);
		free(s);
	}
	evhttp_send_reply(r->req, code, rest_reason(code), buf);
	evbuffer_free(buf);
	log_debug("%s %s %d", r->method, r->path, code);
}

static void
rest_error(struct rest_req *r, int code, const char *msg)
{
	rest_reply(r, code, json_pack("{s:s}", "message", msg));
}

/*
 * The Basic credentials must be valid and name the user of the path.
 * Returns 0, or -1 after answering 401.
 */
static int
rest_auth(struct rest_req *r, const char *pathuser)
{
	struct evkeyvalq	*hdrs;
	const char		*hdr;
	char			 user[ACCOUNT_NAME_MAX + 2];
	char			 key[REST_KEY_MAX];
	int			 ok = 0;

	hdrs = evhttp_request_get_input_headers(r->req);
	hdr = evhttp_find_header(hdrs, "Authorization");
	if (rest_basic_auth(hdr, user, sizeof(user), key, sizeof(key)) == 0) {
		if (limit_check(r->peer, user, &r->retry)) {
			explicit_bzero(key, sizeof(key));
			rest_limited(r, r->retry);
			return (-1);
		}
		ok = account_check(&env->accounts, user, key) == 0 &&
		    strcmp(user, pathuser) == 0;
		explicit_bzero(key, sizeof(key));
		if (!ok)
			limit_fail("REST", r->peer, account_find(
			    &env->accounts, user) ? user : NULL);
	} else
		limit_fail("REST", r->peer, NULL);
	if (!ok) {
		rest_error(r, 401, "Not authorized");
		return (-1);
	}
	strlcpy(r->user, user, sizeof(r->user));
	return (0);
}

/* Too many failed logins: 429 for the rest of the window. */
static void
rest_limited(struct rest_req *r, int retry)
{
	char	 msg[128];

	r->retry = retry;
	snprintf(msg, sizeof(msg), "Too many failed logins, try again in "
	    "%d s", retry);
	rest_error(r, 429, msg);
}

static int
rest_query_true(const char *query, const char *name)
{
	struct evkeyvalq	 kv;
	const char		*v;
	int			 ret = 0;

	if (query == NULL)
		return (0);
	TAILQ_INIT(&kv);
	if (evhttp_parse_query_str(query, &kv) == -1) {
		evhttp_clear_headers(&kv);
		return (0);
	}
	if ((v = evhttp_find_header(&kv, name)) != NULL)
		ret = strcasecmp(v, "true") == 0 || strcmp(v, "1") == 0;
	evhttp_clear_headers(&kv);
	return (ret);
}

static void
rest_request(struct evhttp_request *req, void *arg)
{
	struct rest_req		 r;
	const struct evhttp_uri	*uri;
	const char		*path, *query;
	char			 buf[REST_PATH_MAX], *segs[REST_MAX_SEGS + 1];
	char			*p, *user = NULL;
	size_t			 n = 0, len;
	enum evhttp_cmd_type	 cmd;

	memset(&r, 0, sizeof(r));
	r.req = req;
	cmd = evhttp_request_get_command(req);
	r.method = rest_method(cmd);
	uri = evhttp_request_get_evhttp_uri(req);
	path = uri ? evhttp_uri_get_path(uri) : NULL;
	query = uri ? evhttp_uri_get_query(uri) : NULL;
	log_sanitize(path ? path : "?", r.path, sizeof(r.path));
	{
		struct evhttp_connection	*evcon;
		char				*addr = NULL;
		ev_uint16_t			 port;

		if ((evcon = evhttp_request_get_connection(req)) != NULL)
			evhttp_connection_get_peer(evcon, &addr, &port);
		strlcpy(r.peer, addr ? addr : "unknown", sizeof(r.peer));
	}

	if (path == NULL || strncmp(path, REST_PREFIX "/",
	    sizeof(REST_PREFIX)) != 0 ||
	    strlcpy(buf, path + sizeof(REST_PREFIX), sizeof(buf)) >=
	    sizeof(buf)) {
		rest_error(&r, 404, "Not found");
		return;
	}
	/* split into segments; one trailing slash is allowed */
	len = strlen(buf);
	if (len > 0 && buf[len - 1] == '/')
		buf[len - 1] = '\0';
	p = buf;
	while (p != NULL && n <= REST_MAX_SEGS) {
		segs[n++] = strsep(&p, "/");
		if (*segs[n - 1] == '\0') {
			rest_error(&r, 404, "Not found");
			return;
		}
	}
	if (p != NULL || n < 2) {
		rest_error(&r, 404, "Not found");
		return;
	}
	if (limit_check(r.peer, NULL, &r.retry)) {
		rest_limited(&r, r.retry);
		return;
	}
	if ((user = evhttp_uridecode(segs[0], 0, &len)) == NULL ||
	    strlen(user) != len || !account_name_valid(user)) {
		/* no such account can exist */
		free(user);
		limit_fail("REST", r.peer, NULL);
		rest_error(&r, 401, "Not authorized");
		return;
	}
	if (rest_auth(&r, user) == -1) {
		free(user);
		return;
	}
	free(user);

	if (n == 2 && strcmp(segs[1], "tunnels") == 0) {
		if (cmd == EVHTTP_REQ_GET)
			rest_tunnels_list(&r, query);
		else if (cmd == EVHTTP_REQ_POST)
			rest_tunnels_create(&r);
		else
			rest_error(&r, 405, "Method not allowed");
	} else if (n == 3 && strcmp(segs[1], "tunnels") == 0) {
		if (cmd == EVHTTP_REQ_GET)
			rest_tunnel_get(&r, segs[2]);
		else if (cmd == EVHTTP_REQ_DELETE)
			rest_tunnel_delete(&r, segs[2]);
		else
			rest_error(&r, 405, "Method not allowed");
	} else if (n == 2 && strcmp(segs[1], "all_tunnels") == 0) {
		if (cmd == EVHTTP_REQ_GET)
			rest_all_tunnels(&r);
		else
			rest_error(&r, 405, "Method not allowed");
	} else
		rest_error(&r, 404, "Not found");
}

static void
rest_tunnels_list(struct rest_req *r, const char *query)
{
	struct tunnel	*t;
	json_t		*a;
	int		 full;

	full = rest_query_true(query, "full");
	if ((a = json_array()) == NULL) {
		rest_error(r, 500, "out of memory");
		return;
	}
	TAILQ_FOREACH(t, &env->tunnels, entry) {
		if (t->status == TUNNEL_TERMINATED ||
		    strcmp(t->owner, r->user) != 0)
			continue;
		if (full)
			json_array_append_new(a, tunnel_json(t, 0));
		else
			json_array_append_new(a, json_string(t->id));
	}
	rest_reply(r, 200, a);
}

static void
rest_all_tunnels(struct rest_req *r)
{
	struct tunnel	*t;
	json_t		*a;

	if ((a = json_array()) == NULL) {
		rest_error(r, 500, "out of memory");
		return;
	}
	TAILQ_FOREACH(t, &env->tunnels, entry) {
		if (t->status == TUNNEL_TERMINATED ||
		    strcmp(t->owner, r->user) != 0)
			continue;
		json_array_append_new(a, tunnel_json(t, 0));
	}
	rest_reply(r, 200, json_pack("{s:o}", "tunnels", a));
}

/*
 * The request body, contiguous, and its length in *lenp ("" and 0 when
 * there is none); NULL when out of memory.  The one place that knows
 * where the transport keeps it.
 */
static const char *
rest_req_body(struct rest_req *r, size_t *lenp)
{
	struct evbuffer	*in;
	unsigned char	*data;
	size_t		 len;

	in = evhttp_request_get_input_buffer(r->req);
	*lenp = 0;
	if ((len = evbuffer_get_length(in)) == 0)
		return ("");
	if ((data = evbuffer_pullup(in, len)) == NULL)
		return (NULL);
	*lenp = len;
	return ((const char *)data);
}

static void
rest_tunnels_create(struct rest_req *r)
{
	json_t		*body;
	json_error_t	 jerr;
	struct tunnel	*t;
	struct rest_wait *w;
	const char	*data;
	char		 err[256];
	size_t		 len;
	int		 code;

	if (env->shutting_down) {
		rest_error(r, 503, "the server is shutting down");
		return;
	}
	if ((data = rest_req_body(r, &len)) == NULL) {
		rest_error(r, 500, "out of memory");
		return;
	}
	/* every client sends its settings; {} asks for the defaults */
	if (len == 0) {
		rest_error(r, 400, "the request body is empty: it must be a "
		    "JSON object with the tunnel's settings ({} for none)");
		return;
	}
	body = json_loadb(data, len, JSON_REJECT_DUPLICATES, &jerr);
	if (body == NULL) {
		snprintf(err, sizeof(err), "invalid JSON: %s (line %d, "
		    "column %d)", jerr.text, jerr.line, jerr.column);
		rest_error(r, 400, err);
		return;
	}
	if ((t = tunnel_new(r->user)) == NULL) {
		json_decref(body);
		rest_error(r, 500, "out of memory");
		return;
	}
	code = rest_tunnel_settings(body, t, err, sizeof(err));
	json_decref(body);
	if (code == 0)
		code = reg_admit(t, err, sizeof(err));
	if (code != 0) {
		tunnel_free(t);
		rest_error(r, code, err);
		return;
	}
	if ((w = calloc(1, sizeof(*w))) == NULL) {
		tunnel_free(t);
		rest_error(r, 500, "out of memory");
		return;
	}
	w->req = r->req;
	w->method = r->method;
	strlcpy(w->path, r->path, sizeof(w->path));
	if (reg_start(t, rest_tunnel_started, w) == -1) {
		free(w);
		tunnel_free(t);
		rest_error(r, 500, "cannot open the entry proxy");
	}
}

/*
 * The new tunnel is running and the registry holding it is on disk (t),
 * or it is gone (NULL: code and why say what went wrong).  Either way
 * the waiting POST gets its answer now, the secret with a 200.
 */
static void
rest_tunnel_started(struct tunnel *t, int code, const char *why, void *arg)
{
	struct rest_wait	*w = arg;
	struct rest_req		 r;

	memset(&r, 0, sizeof(r));
	r.req = w->req;
	r.method = w->method;
	strlcpy(r.path, w->path, sizeof(r.path));
	if (t == NULL)
		rest_error(&r, code, why);
	else
		rest_reply(&r, 200, tunnel_json(t, 1));
	free(w);
}

static void
rest_tunnel_get(struct rest_req *r, const char *id)
{
	struct tunnel	*t;

	if ((t = tunnel_find_owned(r->user, id)) == NULL) {
		rest_error(r, 404, "Tunnel not found");
		return;
	}
	rest_reply(r, 200, tunnel_json(t, 0));
}

static void
rest_tunnel_delete(struct rest_req *r, const char *id)
{
	struct tunnel	*t;
	char		 tid[TUNNEL_ID_LEN + 1];

	if ((t = tunnel_find_owned(r->user, id)) == NULL) {
		rest_error(r, 404, "Tunnel not found");
		return;
	}
	strlcpy(tid, t->id, sizeof(tid));
	/* t may be pruned from the registry once terminated */
	reg_delete(t);
	rest_reply(r, 200, json_pack("{s:b,s:s,s:i}", "result", 1, "id", tid,
	    "jobs_running", 0));
}
