/*
 * The REST API, version 1: the listener, the routes and the tunnels.
 * Our HTTP server (common/httpd.c) on the event loop, JSON with jansson,
 * HTTP Basic authentication against the accounts.
 *
 *	GET	/rest/v1/{user}/tunnels[?full=true]
 *	POST	/rest/v1/{user}/tunnels
 *	GET	/rest/v1/{user}/tunnels/{id}
 *	DELETE	/rest/v1/{user}/tunnels/{id}
 *	GET	/rest/v1/{user}/all_tunnels
 *	GET	/rest/v1/{user}/endpoint
 *	GET	/rest/v1/{user}/events[?since=T]
 *	GET	/rest/v1/{user}/accounts		(organisation admins)
 *	POST	/rest/v1/{user}/accounts
 *	PATCH	/rest/v1/{user}/accounts/{name}	its team, its role
 *	DELETE	/rest/v1/{user}/accounts/{name}
 *	GET	/rest/v1/{user}/teams		(organisation admins)
 *	POST	/rest/v1/{user}/teams
 *	GET	/rest/v1/public/ca.pem	(no authentication)
 *
 * and the Tunnels web page (web.c) at / and the few paths it uses.
 *
 * The last is the certificate of the CA that resigns TLS at the entry
 * proxies, for a browser farm to trust: public, so asked without
 * credentials (an account named "public" keeps its own paths).
 * endpoint is where the tunnels' KGP connections go and the hash of its
 * certificate, as a new tunnel would get them: for sc --doctor, which
 * checks it without starting a tunnel.
 *
 * With -C and -k the listener speaks HTTPS: the server runs on libevent's
 * OpenSSL bufferevents (libevent_openssl), with an SSL_CTX of libssl
 * made from the PEM texts that the parent read (the REST worker opens no
 * file).  Failed logins are rate-limited (guard.c).
 *
 * Why not evhttp: libevent 2.1's evhttp restarts its timeout at every
 * byte (a slowloris holds a connection for ever), has no hook for a new
 * connection nor for its own errors (no bound per address, and its 400,
 * 413 and 501 are HTML), and frees a request under a deferred answer
 * when the client goes away.
 *
 * The tunnels an account sees are its own and those shared with it
 * (reg_may_use()); it deletes its own, and an admin of an organisation
 * those of its accounts too.  events, accounts and teams are
 * rest_admin.c's; the answers, the body and the query rest_reply.c's.
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
#include <time.h>
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
#include <jansson.h>

#include "httpd.h"
#include "imsg.h"
#include "imsg_server.h"
#include "log.h"
#include "proc.h"
#include "server.h"
#include "rest_int.h"

#define REST_MAX_SEGS		4
#define REST_PATH_MAX		1024
#define REST_KEY_MAX		256

/*
 * a POST waiting for its entry proxy and for the registry on disk, a
 * DELETE for the registry (id: the tunnel's)
 */
struct rest_wait {
	struct httpd_req	*req;
	const char		*method;
	char			 path[256];
	char			 id[TUNNEL_ID_LEN + 1];
};

static void	 rest_request(struct httpd_req *, void *);
static void	 rest_accept(int, void *);
static int	 rest_shed(void *);
static int	 rest_auth(struct rest_req *, const char *);
static void	 rest_tunnels_list(struct rest_req *, const char *);
static void	 rest_tunnels_create(struct rest_req *);
static void	 rest_tunnel_get(struct rest_req *, const char *);
static void	 rest_tunnel_delete(struct rest_req *, const char *);
static json_t	*rest_deleted_json(const char *);
static void	 rest_tunnel_deleted(void *, int);
static void	 rest_all_tunnels(struct rest_req *);
static struct rest_wait *rest_wait_new(struct rest_req *);
static void	 rest_wait_req(struct rest_wait *, struct rest_req *);
static json_t	*rest_tunnel_list(struct rest_req *, int);
static int	 rest_query_true(const char *, const char *);
static struct bufferevent *rest_bevcb(struct event_base *, int, void *);
static void	 rest_limited(struct rest_req *, int);
static json_t	*rest_tunnel_seen(struct tunnel *, int);
static struct tunnel *rest_tunnel_find(struct rest_req *, const char *,
		    int *);
static void	 rest_tunnel_started(struct tunnel *, int, const char *,
		    void *);
static int	 rest_no_passphrase(char *, int, int, void *);

static char			*rest_ca_pem;
static size_t			 rest_ca_len;
static struct httpd		*rest_httpd;
static struct listener		*rest_listener;
static int			 rest_fd = -1;
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

/* A new HTTPS connection on fd; NULL (fd still open) if it cannot be. */
static struct bufferevent *
rest_bevcb(struct event_base *base, int fd, void *arg)
{
	struct bufferevent	*bev;
	SSL			*ssl;

	if ((ssl = SSL_new(rest_ssl)) == NULL) {
		log_warnx("REST TLS: SSL_new: %s", rest_ssl_error());
		return (NULL);
	}
	if ((bev = bufferevent_openssl_socket_new(base, fd, ssl,
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
	struct httpd_config	 cfg;

	if (crt != NULL) {
		if ((rest_ssl = rest_tls_ctx(crt, crtlen, key, keylen,
		    "(-C)")) == NULL) {
			close(fd);
			return (-1);
		}
		env->rest_tls = 1;
	}
	memset(&cfg, 0, sizeof(cfg));
	cfg.name = "REST";
	cfg.max_body = REST_MAX_BODY;
	cfg.request_ms = REST_REQUEST_SEC * 1000;
	cfg.request_min_ms = REST_REQUEST_MIN_SEC * 1000;
	cfg.answer_ms = REST_ANSWER_SEC * 1000;
	cfg.waiting_addr = REST_WAITING_ADDR;
	cfg.waiting_max = server_fd_share(REST_WAITING_MAX, 2);
	cfg.request = rest_request;
	cfg.bev = env->rest_tls ? rest_bevcb : NULL;
	if ((rest_httpd = httpd_new(env->base, &cfg)) == NULL) {
		close(fd);
		return (-1);
	}
	rest_fd = fd;
	return (0);
}

/* The CA's certificate, PEM, that GET /rest/v1/public/ca.pem answers. */
int
rest_ca(const char *pem, size_t len)
{
	free(rest_ca_pem);
	if ((rest_ca_pem = malloc(len)) == NULL) {
		log_warn("%s", __func__);
		return (-1);
	}
	memcpy(rest_ca_pem, pem, len);
	rest_ca_len = len;
	return (0);
}

/* The REST worker is ready: requests may come. */
void
rest_enable(void)
{
	if ((rest_listener = listener_new(env->base, rest_fd, rest_accept,
	    NULL)) == NULL)
		fatalx("%s: listener_new", __func__);
	listener_set_shed(rest_listener, rest_shed, NULL);
}

static void
rest_accept(int fd, void *arg)
{
	httpd_accept(rest_httpd, fd);
}

/* Out of descriptors: one connection that has sent no request goes. */
static int
rest_shed(void *arg)
{
	return (httpd_shed(rest_httpd));
}

/*
 * The Basic credentials must be valid and name the user of the path.
 * Returns 0, or -1 after answering 401 (or 429: failed logins from this
 * address for this account wait, guard.c).  Only wrong credentials are
 * a failed login: none at all, or good ones for another user's path,
 * are not.
 */
static int
rest_auth(struct rest_req *r, const char *pathuser)
{
	const char		*hdr;
	char			 user[ACCOUNT_NAME_MAX + 2];
	char			 key[REST_KEY_MAX];
	int			 code;

	hdr = httpd_req_header(r->req, "Authorization");
	if (rest_basic_auth(hdr, user, sizeof(user), key, sizeof(key)) ==
	    -1) {
		rest_error(r, 401, "Not authorized");
		return (-1);
	}
	code = login_check(r->req, user, key, "REST", &r->retry);
	explicit_bzero(key, sizeof(key));
	if (code == 429) {
		rest_limited(r, r->retry);
		return (-1);
	}
	if (code != 0 || strcmp(user, pathuser) != 0) {
		rest_error(r, 401, "Not authorized");
		return (-1);
	}
	strlcpy(r->user, user, sizeof(r->user));
	return (0);
}

/* Too many failed logins from here for this account: 429, for retry s. */
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
	char	 v[16];

	if (rest_query_get(query, name, v, sizeof(v)) == NULL)
		return (0);
	return (strcasecmp(v, "true") == 0 || strcmp(v, "1") == 0);
}

static void
rest_request(struct httpd_req *req, void *arg)
{
	struct rest_req		 r;
	const char		*path, *query, *m;
	char			 buf[REST_PATH_MAX], *segs[REST_MAX_SEGS + 1];
	char			 target[REST_PATH_MAX], *p, *user = NULL;
	size_t			 n = 0, len;
	int			 get;

	memset(&r, 0, sizeof(r));
	r.req = req;
	r.method = m = httpd_req_method(req);
	get = strcmp(m, "GET") == 0 || strcmp(m, "HEAD") == 0;
	strlcpy(r.peer, httpd_req_peer(req), sizeof(r.peer));
	/* the path and the query */
	path = NULL;
	query = NULL;
	if (strlcpy(target, httpd_req_target(req), sizeof(target)) <
	    sizeof(target)) {
		path = target;
		if ((p = strchr(target, '?')) != NULL) {
			*p = '\0';
			query = p + 1;
		}
	}
	log_sanitize(path ? path : "?", r.path, sizeof(r.path));
	/* the Tunnels web page (web.c) */
	if (path != NULL && web_path(path)) {
		web_request(req, path);
		return;
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
	if (n == 2 && strcmp(segs[0], "public") == 0 &&
	    strcmp(segs[1], "ca.pem") == 0) {
		if (!get) {
			rest_error(&r, 405, "Method not allowed");
			return;
		}
		log_debug("%s %s 200", r.method, r.path);
		httpd_reply(r.req, 200, "application/x-pem-file", NULL,
		    rest_ca_pem, rest_ca_len);
		return;
	}
	if ((user = evhttp_uridecode(segs[0], 0, &len)) == NULL ||
	    strlen(user) != len || !account_name_valid(user)) {
		/* no such account can exist */
		free(user);
		rest_error(&r, 401, "Not authorized");
		return;
	}
	if (rest_auth(&r, user) == -1) {
		free(user);
		return;
	}
	free(user);

	if (n == 2 && strcmp(segs[1], "tunnels") == 0) {
		if (get)
			rest_tunnels_list(&r, query);
		else if (strcmp(m, "POST") == 0)
			rest_tunnels_create(&r);
		else
			rest_error(&r, 405, "Method not allowed");
	} else if (n == 3 && strcmp(segs[1], "tunnels") == 0) {
		if (get)
			rest_tunnel_get(&r, segs[2]);
		else if (strcmp(m, "DELETE") == 0)
			rest_tunnel_delete(&r, segs[2]);
		else
			rest_error(&r, 405, "Method not allowed");
	} else if (n == 2 && strcmp(segs[1], "all_tunnels") == 0) {
		if (get)
			rest_all_tunnels(&r);
		else
			rest_error(&r, 405, "Method not allowed");
	} else if (n == 2 && strcmp(segs[1], "accounts") == 0) {
		if (get)
			rest_accounts_list(&r);
		else if (strcmp(m, "POST") == 0)
			rest_account_add(&r);
		else
			rest_error(&r, 405, "Method not allowed");
	} else if (n == 3 && strcmp(segs[1], "accounts") == 0) {
		/* a name may have + and @, %-encoded */
		if ((user = evhttp_uridecode(segs[2], 0, &len)) == NULL ||
		    strlen(user) != len)
			rest_error(&r, 404, "no such account");
		else if (strcmp(m, "DELETE") == 0)
			rest_account_del(&r, user);
		else if (strcmp(m, "PATCH") == 0)
			rest_account_set(&r, user);
		else
			rest_error(&r, 405, "Method not allowed");
		free(user);
	} else if (n == 2 && strcmp(segs[1], "teams") == 0) {
		if (get)
			rest_admin(&r, SRV_TEAM_LIST, NULL, NULL, NULL);
		else if (strcmp(m, "POST") == 0)
			rest_team_add(&r);
		else
			rest_error(&r, 405, "Method not allowed");
	} else if (n == 2 && strcmp(segs[1], "events") == 0) {
		if (get)
			rest_events(&r, query);
		else
			rest_error(&r, 405, "Method not allowed");
	} else if (n == 2 && strcmp(segs[1], "endpoint") == 0) {
		if (get)
			rest_reply(&r, 200, json_pack("{s:s, s:i, s:s}",
			    "host", env->host, "ssh_port", env->kgp_next != 0 ?
			    env->kgp_next : env->kgp_port,
			    "server_cert_sha256", env->cert_hash));
		else
			rest_error(&r, 405, "Method not allowed");
	} else
		rest_error(&r, 404, "Not found");
}

/* A tunnel of the REST API: tunnel_json(), and its pool if it has one. */
static json_t *
rest_tunnel_json(struct tunnel *t, int with_secret)
{
	json_t	*o, *pool;

	if ((o = tunnel_json(t, with_secret)) != NULL &&
	    (pool = reg_pool_json(t)) != NULL)
		json_object_set_new(o, "pool", pool);
	return (o);
}

/* A tunnel as the account of r sees it: "shared_with_me" says how. */
static json_t *
rest_tunnel_seen(struct tunnel *t, int shared)
{
	json_t	*o;

	if ((o = rest_tunnel_json(t, 0)) != NULL)
		json_object_set_new(o, "shared_with_me", json_boolean(shared));
	return (o);
}

/*
 * The tunnels not terminated that the account of r may use, its own
 * and those shared with it: objects, or ids (full 0).  NULL: no memory.
 */
static json_t *
rest_tunnel_list(struct rest_req *r, int full)
{
	struct tunnel	*t;
	json_t		*a;
	int		 shared;

	if ((a = json_array()) == NULL)
		return (NULL);
	TAILQ_FOREACH(t, &env->tunnels, entry) {
		if (t->status == TUNNEL_TERMINATED ||
		    !reg_may_use(r->user, t, &shared))
			continue;
		if (full)
			json_array_append_new(a, rest_tunnel_seen(t, shared));
		else
			json_array_append_new(a, json_string(t->id));
	}
	return (a);
}

static void
rest_tunnels_list(struct rest_req *r, const char *query)
{
	json_t	*a;

	if ((a = rest_tunnel_list(r, rest_query_true(query, "full"))) ==
	    NULL)
		rest_error(r, 500, "out of memory");
	else
		rest_reply(r, 200, a);
}

static void
rest_all_tunnels(struct rest_req *r)
{
	json_t	*a;

	if ((a = rest_tunnel_list(r, 1)) == NULL)
		rest_error(r, 500, "out of memory");
	else
		rest_reply(r, 200, json_pack("{s:o}", "tunnels", a));
}

/* A request to answer later; NULL after answering 500. */
static struct rest_wait *
rest_wait_new(struct rest_req *r)
{
	struct rest_wait	*w;

	if ((w = calloc(1, sizeof(*w))) == NULL) {
		rest_error(r, 500, "out of memory");
		return (NULL);
	}
	w->req = r->req;
	w->method = r->method;
	strlcpy(w->path, r->path, sizeof(w->path));
	return (w);
}

/* The request w waited with, to answer now. */
static void
rest_wait_req(struct rest_wait *w, struct rest_req *r)
{
	memset(r, 0, sizeof(*r));
	r->req = w->req;
	r->method = w->method;
	strlcpy(r->path, w->path, sizeof(r->path));
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
	if (code == 0 && t->shared_tunnel &&
	    reg_may_share(r->user, err, sizeof(err)) == -1)
		code = 403;
	if (code == 0)
		code = reg_admit(t, err, sizeof(err));
	if (code != 0) {
		tunnel_free(t);
		rest_error(r, code, err);
		return;
	}
	if ((w = rest_wait_new(r)) == NULL) {
		tunnel_free(t);
		return;
	}
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

	rest_wait_req(w, &r);
	if (t == NULL)
		rest_error(&r, code, why);
	else
		rest_reply(&r, 200, rest_tunnel_json(t, 1));
	free(w);
}

/* A tunnel the account of r may see (*shared: by sharing), or NULL. */
static struct tunnel *
rest_tunnel_find(struct rest_req *r, const char *id, int *shared)
{
	struct tunnel	*t;

	if ((t = tunnel_find(id)) == NULL || !reg_may_use(r->user, t, shared))
		return (NULL);
	return (t);
}

static void
rest_tunnel_get(struct rest_req *r, const char *id)
{
	struct tunnel	*t;
	int		 shared;

	if ((t = rest_tunnel_find(r, id, &shared)) == NULL) {
		rest_error(r, 404, "Tunnel not found");
		return;
	}
	rest_reply(r, 200, rest_tunnel_seen(t, shared));
}

static void
rest_tunnel_delete(struct rest_req *r, const char *id)
{
	struct tunnel		*t;
	struct rest_wait	*w;
	char			 tid[TUNNEL_ID_LEN + 1];
	uint64_t		 seq;
	int			 shared;

	if ((t = rest_tunnel_find(r, id, &shared)) == NULL &&
	    ((t = tunnel_find(id)) == NULL || !reg_may_delete(r->user, t))) {
		rest_error(r, 404, "Tunnel not found");
		return;
	}
	if (!reg_may_delete(r->user, t)) {
		rest_error(r, 403, "only the tunnel's owner or an admin of its "
		    "organisation may delete it");
		return;
	}
	strlcpy(tid, t->id, sizeof(tid));
	/* t may be pruned from the registry once terminated */
	if (t->status == TUNNEL_RUNNING)
		reg_deleted(t, r->user);
	/*
	 * Answered once the registry sent since is written (a kill then
	 * loses no acknowledged DELETE), or could not be: applied all the
	 * same.
	 */
	seq = worker_saves_sent();
	if (seq > worker_saves_answered()) {
		if ((w = rest_wait_new(r)) == NULL)
			return;
		strlcpy(w->id, tid, sizeof(w->id));
		worker_after_save(seq, rest_tunnel_deleted, w);
		return;
	}
	rest_reply(r, 200, rest_deleted_json(tid));
}

static json_t *
rest_deleted_json(const char *id)
{
	return (json_pack("{s:b,s:s,s:i}", "result", 1, "id", id,
	    "jobs_running", 0));
}

/* The registry after a DELETE is written (error 0), or not: 200. */
static void
rest_tunnel_deleted(void *arg, int error)
{
	struct rest_wait	*w = arg;
	struct rest_req		 r;

	rest_wait_req(w, &r);
	rest_reply(&r, 200, rest_deleted_json(w->id));
	free(w);
}
