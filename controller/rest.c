/*
 * The REST API client: blocking libcurl easy calls with short timeouts,
 * JSON with jansson.  The access key goes to libcurl and nowhere else.
 */
#include <sys/types.h>
#include <sys/resource.h>
#include <sys/utsname.h>

#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>

#include "config.h"
#include "controller.h"
#include "log.h"
#include "rules.h"
#include "text.h"

#define REST_MAX_ANSWER		(4 * 1024 * 1024)
#define REST_CONNECT_TIMEOUT	10L
#define REST_TIMEOUT		30L
#define REST_CAINFO_MAX		(1024 * 1024)	/* bytes of --cainfo */

struct rest_buf {
	char	*data;
	size_t	 len;
	int	 overflow;
};

/*
 * The one request that runs without blocking (rest_get_async()): its
 * own easy handle, a copy of the blocking one's settings, driven by a
 * multi handle on the controller's event loop.
 */
struct rest_async {
	struct event_base	*base;
	CURLM			*multi;
	CURL			*easy;		/* NULL: none under way */
	struct event		*timer;		/* libcurl's timeout */
	struct curl_slist	*hdrs;
	struct rest_buf		 b;
	char			 path[256];
	char			 cerr[CURL_ERROR_SIZE];
	rest_get_cb		 cb;
	void			*arg;
};

static CURL	*curl;
static char	*rest_base;	/* URL + "/" + escaped user */
static char	 rest_url_shown[512];
static char	 rest_proxy_shown[SC_HOST_LEN + 16];	/* "" without */
static int	 rest_proxy_auth;	/* the proxy has credentials */
static int	 abort_on_signal;
/* set once SIGINT or SIGTERM came */
static volatile sig_atomic_t *rest_signalled;
static time_t	 rest_deadline;		/* 0: none (rest_set_deadline()) */
static long	 rest_retry_after;	/* of the last 429, 0: none */
static time_t	 rest_date;		/* the last answer's Date, 0: none */
static struct rest_async ra;

static size_t	 rest_write(char *, size_t, size_t, void *);
static int	 rest_progress(void *, curl_off_t, curl_off_t, curl_off_t,
		    curl_off_t);
static int	 rest_call(const char *, const char *, const char *, long *,
		    json_t **, char *, size_t);
static int	 rest_call_once(const char *, const char *, const char *,
		    long *, json_t **, char *, size_t);
static int	 rest_answer(CURL *, CURLcode, struct rest_buf *,
		    const char *, const char *, const char *, long *,
		    json_t **, char *, size_t);
static int	 rest_sleep(long);
static int	 rest_parse_tunnel(json_t *, struct rest_tunnel *, int,
		    char *, size_t);
static void	 rest_message(json_t *, char *, size_t);
static int	 rest_load_cainfo(const char *);
static size_t	 rest_header(char *, size_t, size_t, void *);
static int	 rest_port(json_t *, int *, int, char *, size_t);
static int	 rest_set_proxy(const struct sc_config *);
static int	 rest_async_socket(CURL *, curl_socket_t, int, void *, void *);
static int	 rest_async_timer(CURLM *, long, void *);
static void	 rest_async_event(int, short, void *);
static void	 rest_async_timeout(int, short, void *);
static void	 rest_async_check(void);
static void	 rest_async_end(void);
static int	 rest_metadata(json_t *, const struct sc_config *);

/*
 * The upstream proxy (-p, its credentials -w; --proxy-sauce): plain
 * HTTP.  libcurl sends absolute-form requests to it for an http:// REST
 * URL, and tunnels with CONNECT for an https:// one.  A proxy given on
 * the command line (or SAUCE_PROXY_SAUCE, or the config file) is used
 * for every host; one that comes from http_proxy and its kin leaves
 * no_proxy to libcurl, as any program does.
 */
static int
rest_set_proxy(const struct sc_config *conf)
{
	char	 url[SC_HOST_LEN + 32];
	int	 v6;

	if (conf != NULL && conf->proxy_off) {
		/* http_proxy was refused: libcurl must not use it either */
		curl_easy_setopt(curl, CURLOPT_PROXY, "");
		return (0);
	}
	if (conf == NULL || conf->proxy_host == NULL || !conf->proxy_rest)
		return (0);
	v6 = strchr(conf->proxy_host, ':') != NULL;
	snprintf(rest_proxy_shown, sizeof(rest_proxy_shown), "%s%s%s:%d",
	    v6 ? "[" : "", conf->proxy_host, v6 ? "]" : "", conf->proxy_port);
	snprintf(url, sizeof(url), "http://%s", rest_proxy_shown);
	if (curl_easy_setopt(curl, CURLOPT_PROXY, url) != CURLE_OK ||
	    curl_easy_setopt(curl, CURLOPT_PROXYTYPE,
	    (long)CURLPROXY_HTTP) != CURLE_OK)
		return (-1);
	if (conf->proxy_from == NULL ||
	    (strcasecmp(conf->proxy_from, "http_proxy") != 0 &&
	    strcasecmp(conf->proxy_from, "all_proxy") != 0))
		curl_easy_setopt(curl, CURLOPT_NOPROXY, "");
	if (conf->proxy_user != NULL) {
		/* Basic, sent with the first request */
		if (curl_easy_setopt(curl, CURLOPT_PROXYAUTH,
		    (long)CURLAUTH_BASIC) != CURLE_OK ||
		    curl_easy_setopt(curl, CURLOPT_PROXYUSERNAME,
		    conf->proxy_user) != CURLE_OK ||
		    curl_easy_setopt(curl, CURLOPT_PROXYPASSWORD,
		    conf->proxy_pass != NULL ? conf->proxy_pass : "") !=
		    CURLE_OK)
			return (-1);
		rest_proxy_auth = 1;
	}
	log_info("REST API requests go through the proxy %s (%s)%s",
	    rest_proxy_shown, conf->proxy_from != NULL ? conf->proxy_from :
	    "proxy", rest_proxy_auth ? ", with Basic authentication" : "");
	return (0);
}

/*
 * The --cainfo file goes to libcurl in memory, read now: sc may switch
 * to an unprivileged user or a sandbox before the first request.
 */
static int
rest_load_cainfo(const char *path)
{
#if LIBCURL_VERSION_NUM >= 0x074d00
	struct curl_blob	 blob;
	FILE			*f;
	char			*buf;
	size_t			 n;
	int			 ret = -1;

	if ((f = fopen(path, "r")) == NULL) {
		log_warn("--cainfo %s", path);
		return (-1);
	}
	if ((buf = malloc(REST_CAINFO_MAX)) == NULL) {
		fclose(f);
		return (-1);
	}
	n = fread(buf, 1, REST_CAINFO_MAX, f);
	if (ferror(f) || n == 0 || n == REST_CAINFO_MAX)
		log_warnx("--cainfo %s: %s", path, ferror(f) ? "read error" :
		    n == 0 ? "empty file" : "file too large");
	else {
		blob.data = buf;
		blob.len = n;
		blob.flags = CURL_BLOB_COPY;
		if (curl_easy_setopt(curl, CURLOPT_CAINFO_BLOB, &blob) ==
		    CURLE_OK)
			ret = 0;
		else
			log_warnx("--cainfo %s: libcurl cannot take it", path);
	}
	fclose(f);
	free(buf);
	return (ret);
#else
	curl_easy_setopt(curl, CURLOPT_CAINFO, path);
	return (0);
#endif
}

/*
 * The REST client of conf (its URL, user and key, its proxy); the
 * start-up's requests give up once *signalled is set (rest_abort_on_signal).
 */
int
rest_init(const struct sc_config *conf, volatile sig_atomic_t *signalled)
{
	const char	*url = conf->rest_url, *user = conf->user;
	const char	*key = conf->key;
	char		*euser;
	size_t		 len;

	rest_signalled = signalled;
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return (-1);
	if ((curl = curl_easy_init()) == NULL)
		return (-1);
	if ((euser = curl_easy_escape(curl, user, 0)) == NULL)
		return (-1);
	len = strlen(url) + strlen(euser) + 2;
	if ((rest_base = malloc(len)) == NULL) {
		curl_free(euser);
		return (-1);
	}
	snprintf(rest_base, len, "%s/%s", url, euser);
	curl_free(euser);
	strlcpy(rest_url_shown, url, sizeof(rest_url_shown));

	curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, REST_CONNECT_TIMEOUT);
	curl_easy_setopt(curl, CURLOPT_TIMEOUT, REST_TIMEOUT);
	curl_easy_setopt(curl, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
	curl_easy_setopt(curl, CURLOPT_USERNAME, user);
	curl_easy_setopt(curl, CURLOPT_PASSWORD, key);
	curl_easy_setopt(curl, CURLOPT_USERAGENT, "sc/" SC_VERSION);
#if LIBCURL_VERSION_NUM >= 0x075500
	curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
#endif
	curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, rest_write);
	curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, rest_header);
	curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, rest_progress);
	curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
	/* --cainfo: verify an HTTPS REST API against this CA file */
	if (config_cainfo != NULL && rest_load_cainfo(config_cainfo) == -1)
		return (-1);
	if (rest_set_proxy(conf) == -1)
		return (-1);
	return (0);
}

void
rest_cleanup(void)
{
	rest_async_end();
	if (ra.multi != NULL)
		curl_multi_cleanup(ra.multi);
	ra.multi = NULL;
	if (ra.timer != NULL)
		event_free(ra.timer);
	ra.timer = NULL;
	if (curl != NULL)
		curl_easy_cleanup(curl);
	curl = NULL;
	free(rest_base);
	rest_base = NULL;
	curl_global_cleanup();
}

/*
 * The time limits of the next requests, in seconds: connecting, and the
 * whole request (-1, -1: the usual ones again).  The shutdown uses short
 * ones so that a server that is gone cannot hold sc for long.
 */
void
rest_set_timeouts(long connect_sec, long total_sec)
{
	if (curl == NULL)
		return;
	if (connect_sec == -1 && total_sec == -1) {
		connect_sec = REST_CONNECT_TIMEOUT;
		total_sec = REST_TIMEOUT;
	}
	if (total_sec < 1)
		total_sec = 1;
	if (connect_sec > total_sec)
		connect_sec = total_sec;
	curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, connect_sec);
	curl_easy_setopt(curl, CURLOPT_TIMEOUT, total_sec);
}

/*
 * No request, its waits after a 429 included, may go on past deadline
 * (the shutdown's); 0: only SC_REST_RETRY_MAX_SEC bounds the waits.
 */
void
rest_set_deadline(time_t deadline)
{
	rest_deadline = deadline;
}

/* Start-up requests give up when SIGINT/SIGTERM arrives. */
void
rest_abort_on_signal(int on)
{
	abort_on_signal = on;
}

/* An answer's header line: its Date kept, for --doctor's clock check. */
static size_t
rest_header(char *ptr, size_t size, size_t nmemb, void *arg)
{
	size_t	 n = size * nmemb;
	char	 buf[128];
	time_t	 t;

	if (n > 5 && n < sizeof(buf) && strncasecmp(ptr, "Date:", 5) == 0) {
		memcpy(buf, ptr + 5, n - 5);
		buf[n - 5] = '\0';
		buf[strcspn(buf, "\r\n")] = '\0';
		if ((t = curl_getdate(buf, NULL)) != -1)
			rest_date = t;
	}
	return (n);
}

/* The Date of the last answer that had one; 0: none yet. */
time_t
rest_server_date(void)
{
	return (rest_date);
}

static size_t
rest_write(char *ptr, size_t size, size_t nmemb, void *arg)
{
	struct rest_buf	*b = arg;
	size_t		 n = size * nmemb;
	char		*p;

	if (b->len + n > REST_MAX_ANSWER) {
		b->overflow = 1;
		return (0);
	}
	if ((p = realloc(b->data, b->len + n + 1)) == NULL)
		return (0);
	b->data = p;
	memcpy(b->data + b->len, ptr, n);
	b->len += n;
	b->data[b->len] = '\0';
	return (n);
}

static int
rest_progress(void *arg, curl_off_t dltotal, curl_off_t dlnow,
    curl_off_t ultotal, curl_off_t ulnow)
{
	if (abort_on_signal && *rest_signalled)
		return (1);
	return (0);
}

/* The "message" of an error answer, if any. */
static void
rest_message(json_t *j, char *buf, size_t len)
{
	json_t		*m;

	*buf = '\0';
	if (j == NULL || !json_is_object(j))
		return;
	if ((m = json_object_get(j, "message")) == NULL || !json_is_string(m))
		return;
	log_sanitize(json_string_value(m), buf, len);
}

/* Sleep sec seconds; -1 when a signal aborts the start-up's requests. */
static int
rest_sleep(long sec)
{
	struct timespec	 ts = { 0, 100 * 1000 * 1000 };
	long		 i;

	for (i = 0; i < sec * 10; i++) {
		if (abort_on_signal && *rest_signalled)
			return (-1);
		nanosleep(&ts, NULL);
	}
	return (abort_on_signal && *rest_signalled ? -1 : 0);
}

/*
 * One request, sent again after a 429 Too Many Requests: after the
 * answer's Retry-After, or SC_REST_BACKOFF_SEC doubling without one, as
 * long as the waits add up to SC_REST_RETRY_MAX_SEC at most and end
 * before the deadline.  A longer wait fails the request (REST_ERATE)
 * and says why.  Each wait is logged.
 */
static int
rest_call(const char *method, const char *path, const char *body,
    long *status, json_t **out, char *err, size_t errlen)
{
	long	 delay, backoff = SC_REST_BACKOFF_SEC, waited = 0, left;
	int	 ret;

	for (;;) {
		ret = rest_call_once(method, path, body, status, out, err,
		    errlen);
		if (ret != REST_ERATE)
			return (ret);
		if (rest_retry_after > 0)
			delay = rest_retry_after;
		else {
			delay = backoff;
			backoff *= 2;
		}
		left = SC_REST_RETRY_MAX_SEC - waited;
		if (rest_deadline != 0 && rest_deadline - time(NULL) < left)
			left = rest_deadline - time(NULL);
		if (delay > left) {
			snprintf(err, errlen, "REST API: %s %s: 429 Too Many "
			    "Requests, retry after %ld s: longer than sc may "
			    "wait (%ld s)", method, path, delay,
			    left > 0 ? left : 0);
			return (REST_ERATE);
		}
		log_warnx("REST API: %s %s: 429 Too Many Requests, retrying "
		    "in %ld s%s", method, path, delay, rest_retry_after > 0 ?
		    " (Retry-After)" : "");
		if (rest_sleep(delay) == -1) {
			snprintf(err, errlen, "interrupted");
			return (REST_EABORT);
		}
		waited += delay;
	}
}

/*
 * One request: method, path below the user's base, an optional JSON body.
 * The answer, if it is JSON, comes back in *out (the caller frees it).
 */
static int
rest_call_once(const char *method, const char *path, const char *body,
    long *status, json_t **out, char *err, size_t errlen)
{
	struct rest_buf		 b;
	struct curl_slist	*hdrs = NULL;
	char			 url[2048];
	char			 cerr[CURL_ERROR_SIZE];
	CURLcode		 rc;
	int			 ret;

	memset(&b, 0, sizeof(b));
	cerr[0] = '\0';
	snprintf(url, sizeof(url), "%s%s", rest_base, path);
	log_debug("REST %s %s", method, url);

	hdrs = curl_slist_append(hdrs, "Accept: application/json");
	if (body != NULL)
		hdrs = curl_slist_append(hdrs,
		    "Content-Type: application/json");
	curl_easy_setopt(curl, CURLOPT_URL, url);
	curl_easy_setopt(curl, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, cerr);
	curl_easy_setopt(curl, CURLOPT_WRITEDATA, &b);
	if (strcmp(method, "GET") == 0) {
		curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, NULL);
		curl_easy_setopt(curl, CURLOPT_HTTPGET, 1L);
	} else if (strcmp(method, "POST") == 0) {
		curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, NULL);
		curl_easy_setopt(curl, CURLOPT_POSTFIELDS,
		    body != NULL ? body : "");
	} else {
		curl_easy_setopt(curl, CURLOPT_HTTPGET, 1L);
		curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method);
	}

	rc = curl_easy_perform(curl);
	curl_easy_setopt(curl, CURLOPT_HTTPHEADER, NULL);
	curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, NULL);
	curl_slist_free_all(hdrs);
	ret = rest_answer(curl, rc, &b, cerr, method, path, status, out, err,
	    errlen);
	free(b.data);
	return (ret);
}

/*
 * What request h (method, path) got, rc its end and b its body, cerr
 * libcurl's error text: REST_OK with the JSON answer in *out (the
 * caller frees it), or an error with why in err.
 */
static int
rest_answer(CURL *h, CURLcode rc, struct rest_buf *b, const char *cerr,
    const char *method, const char *path, long *status, json_t **out,
    char *err, size_t errlen)
{
	json_error_t		 jerr;
	char			 msg[256];
	int			 ret = REST_OK;

	*out = NULL;
	*status = 0;
	if (rc == CURLE_ABORTED_BY_CALLBACK) {
		snprintf(err, errlen, "interrupted");
		ret = REST_EABORT;
		goto done;
	}
	if (rc == CURLE_WRITE_ERROR && b->overflow) {
		snprintf(err, errlen, "the REST API at %s sent an answer "
		    "larger than %d bytes", rest_url_shown, REST_MAX_ANSWER);
		ret = REST_EPROTO;
		goto done;
	}
	if (rc != CURLE_OK) {
		snprintf(err, errlen, "cannot reach the REST API at %s%s%s: %s",
		    rest_url_shown, rest_proxy_shown[0] != '\0' ?
		    " through the proxy " : "", rest_proxy_shown,
		    cerr[0] != '\0' ? cerr : curl_easy_strerror(rc));
		ret = REST_ENET;
		goto done;
	}
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, status);
	log_debug("REST %s %s: %ld, %zu bytes", method, path, *status, b->len);
	if (b->len > 0 && *status != 407)
		*out = json_loadb(b->data, b->len, 0, &jerr);

	if (*status == 407 && rest_proxy_shown[0] != '\0') {
		/* the proxy's answer, not the REST API's */
		snprintf(err, errlen, "the proxy %s refused the REST API "
		    "request: 407 Proxy Authentication Required (%s)",
		    rest_proxy_shown, rest_proxy_auth ?
		    "check the proxy user and password" : "it wants a user "
		    "and password");
		ret = REST_ENET;
	} else if (*status == 401) {
		snprintf(err, errlen, "Not authorized: check your username "
		    "and access key");
		ret = REST_EAUTH;
	} else if (*status == 429) {
		rest_retry_after = 0;
#if LIBCURL_VERSION_NUM >= 0x074200
		{
			curl_off_t	 after = 0;

			/* delay-seconds or an HTTP-date; 0: none */
			if (curl_easy_getinfo(h, CURLINFO_RETRY_AFTER,
			    &after) == CURLE_OK && after > 0)
				rest_retry_after = after >
				    SC_REST_RETRY_MAX_SEC * 1000L ?
				    SC_REST_RETRY_MAX_SEC * 1000L :
				    (long)after;
		}
#endif
		snprintf(err, errlen, "REST API: %s %s: 429 Too Many Requests",
		    method, path);
		ret = REST_ERATE;
	} else if (*status == 404) {
		rest_message(*out, msg, sizeof(msg));
		snprintf(err, errlen, "REST API: %s %s: not found%s%s",
		    method, path, msg[0] ? ": " : "", msg);
		ret = REST_ENOTFOUND;
	} else if (*status < 200 || *status > 299) {
		rest_message(*out, msg, sizeof(msg));
		snprintf(err, errlen, "REST API: %s %s: HTTP status %ld%s%s",
		    method, path, *status, msg[0] ? ": " : "", msg);
		ret = REST_EPROTO;
	} else if (*out == NULL) {
		snprintf(err, errlen, "REST API: %s %s: the answer is not "
		    "JSON", method, path);
		ret = REST_EPROTO;
	}
	if (ret != REST_OK && *out != NULL) {
		json_decref(*out);
		*out = NULL;
	}
 done:
	return (ret);
}

static int
copy_string(json_t *obj, const char *name, char *dst, size_t len,
    int required, char *err, size_t errlen)
{
	json_t		*v;
	const char	*s;
	size_t		 n;

	*dst = '\0';
	v = json_object_get(obj, name);
	if (v == NULL || json_is_null(v)) {
		if (!required)
			return (0);
		snprintf(err, errlen, "REST API: the tunnel has no \"%s\"",
		    name);
		return (-1);
	}
	if (!json_is_string(v)) {
		snprintf(err, errlen, "REST API: the tunnel's \"%s\" is not a "
		    "string", name);
		return (-1);
	}
	s = json_string_value(v);
	if ((n = strlen(s)) >= len) {
		snprintf(err, errlen, "REST API: the tunnel's \"%s\" is too "
		    "long", name);
		return (-1);
	}
	if (text_ctlspan(s, n, 0) != n) {
		snprintf(err, errlen, "REST API: the tunnel's \"%s\" holds "
		    "control characters", name);
		return (-1);
	}
	strlcpy(dst, s, len);
	return (0);
}

/* A tunnel id goes into URL paths: letters, digits, '-', '_'. */
int
rest_id_ok(const char *id)
{
	size_t	 i;

	if (id[0] == '\0')
		return (0);
	for (i = 0; id[i] != '\0'; i++) {
		if (!((id[i] >= '0' && id[i] <= '9') ||
		    (id[i] >= 'a' && id[i] <= 'z') ||
		    (id[i] >= 'A' && id[i] <= 'Z') || id[i] == '-' ||
		    id[i] == '_'))
			return (0);
	}
	return (1);
}

/* j's "ssh_port" into *port, if there (need: it must be). */
static int
rest_port(json_t *j, int *port, int need, char *err, size_t errlen)
{
	json_t		*v;
	json_int_t	 n;

	v = json_object_get(j, "ssh_port");
	if (v != NULL && !json_is_null(v)) {
		if (!json_is_integer(v) || (n = json_integer_value(v)) < 1 ||
		    n > 65535) {
			snprintf(err, errlen, "REST API: the tunnel's "
			    "\"ssh_port\" is not a port number");
			return (-1);
		}
		*port = (int)n;
	} else if (need) {
		snprintf(err, errlen, "REST API: the tunnel has no "
		    "\"ssh_port\"");
		return (-1);
	}
	return (0);
}

/*
 * A tunnel object.  full: the answer to create, which must carry every
 * field the link needs.
 */
static int
rest_parse_tunnel(json_t *j, struct rest_tunnel *t, int full, char *err,
    size_t errlen)
{
	json_t		*v;

	memset(t, 0, sizeof(*t));
	if (!json_is_object(j)) {
		snprintf(err, errlen, "REST API: the tunnel is not a JSON "
		    "object");
		return (-1);
	}
	if (copy_string(j, "id", t->id, sizeof(t->id), 1, err, errlen) == -1)
		return (-1);
	if (!rest_id_ok(t->id)) {
		snprintf(err, errlen, "REST API: bad tunnel id");
		t->id[0] = '\0';
		return (-1);
	}
	if (copy_string(j, "status", t->status, sizeof(t->status), 1, err,
	    errlen) == -1)
		return (-1);
	if (copy_string(j, "tunnel_identifier", t->tunnel_identifier,
	    sizeof(t->tunnel_identifier), 0, err, errlen) == -1)
		return (-1);
	if (copy_string(j, "host", t->host, sizeof(t->host), full, err,
	    errlen) == -1)
		return (-1);
	if (copy_string(j, "server_cert_sha256", t->cert_sha256,
	    sizeof(t->cert_sha256), 0, err, errlen) == -1)
		return (-1);
	if (copy_string(j, "kgp_secret", t->secret, sizeof(t->secret), full,
	    err, errlen) == -1)
		return (-1);
	/* optional: true when the tunnel ended by a DELETE */
	v = json_object_get(j, "user_shutdown");
	t->user_shutdown = v != NULL && json_is_true(v);
	if (rest_port(j, &t->ssh_port, full, err, errlen) == -1)
		return (-1);
	if (full && t->host[0] == '\0') {
		snprintf(err, errlen, "REST API: the tunnel's \"host\" is "
		    "empty");
		return (-1);
	}
	return (0);
}

/*
 * The traffic rules into the tunnel request: each list in its field
 * (rules_field(): Sauce Connect's names where it has them), each rule
 * as written.  The fields of version 4 are there even when empty, as
 * Sauce Connect sends them.
 */
static int
rest_rules(json_t *body, const struct rules *r)
{
	const struct rule	*ru;
	const char		*field;
	json_t			*a;
	size_t			 i, n;

	n = r != NULL ? rules_count(r) : 0;
	for (i = 0; i < n; i++) {
		ru = rules_get(r, i);
		field = rules_field(ru->list, ru->syntax);
		if ((a = json_object_get(body, field)) == NULL) {
			if ((a = json_array()) == NULL ||
			    json_object_set_new(body, field, a) == -1)
				return (-1);
		}
		if (json_array_append_new(a, json_string(ru->text)) == -1)
			return (-1);
	}
	return (0);
}

/*
 * The operator's metadata (-M key=value,..., checked by confproxy.c) and
 * --extra-info (JSON, checked) into the tunnel's "metadata" object, which
 * the server keeps and shows in GET /tunnels/ID.
 */
static int
rest_metadata(json_t *meta, const struct sc_config *conf)
{
	json_t	*x;
	char	*copy, *p, *kv, *eq;
	int	 ret = 0;

	if (conf->extra_info != NULL) {
		if ((x = json_loads(conf->extra_info, JSON_DECODE_ANY,
		    NULL)) == NULL || json_object_set_new(meta, "extra_info",
		    x) == -1)
			return (-1);
	}
	if (conf->metadata == NULL)
		return (0);
	if ((copy = strdup(conf->metadata)) == NULL)
		return (-1);
	for (p = copy; ret == 0 && (kv = strsep(&p, ",")) != NULL;) {
		if ((eq = strchr(kv, '=')) == NULL)
			continue;
		*eq++ = '\0';
		if (json_object_set_new(meta, kv, json_string(eq)) == -1)
			ret = -1;
	}
	free(copy);
	return (ret);
}

int
rest_create(const struct sc_config *conf, struct rest_tunnel *t, char *err,
    size_t errlen)
{
	struct utsname	 un;
	struct rlimit	 rl;
	json_t		*body = NULL, *meta, *ans = NULL;
	char		*text = NULL, host[256];
	long		 status;
	int		 ret;

	if (gethostname(host, sizeof(host)) == -1)
		strlcpy(host, "unknown", sizeof(host));
	host[sizeof(host) - 1] = '\0';
	if (uname(&un) == -1)
		memset(&un, 0, sizeof(un));
	if (getrlimit(RLIMIT_NOFILE, &rl) == -1)
		rl.rlim_cur = 0;

	meta = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:I}",
	    "hostname", host,
	    "platform", un.sysname,
	    "release", un.release,
	    "build", un.machine,
	    "git_version", SC_VERSION,
	    "command", conf->command != NULL ? conf->command : "sc",
	    "nofile_limit", (json_int_t)(rl.rlim_cur == RLIM_INFINITY ?
	    -1 : (json_int_t)rl.rlim_cur));
	body = json_pack("{s:s, s:b, s:b, s:b, s:[], s:[], s:[], s:o*}",
	    "tunnel_identifier", conf->tunnel_name != NULL ?
	    conf->tunnel_name : "",
	    "shared_tunnel", conf->shared,
	    "tunnel_pool", conf->tunnel_pool,
	    "use_kgp", 1,
	    "domain_names",
	    "direct_domains",
	    "no_ssl_bump_domains",
	    "metadata", meta);
	if (body == NULL) {
		snprintf(err, errlen, "cannot build the tunnel request");
		return (REST_EPROTO);
	}
	if (conf->vm_version != NULL)
		json_object_set_new(body, "vm_version",
		    json_string(conf->vm_version));
	if (rest_metadata(meta, conf) == -1) {
		json_decref(body);
		snprintf(err, errlen, "cannot build the tunnel request");
		return (REST_EPROTO);
	}
	if (rest_rules(body, conf->rules) == -1 ||
	    (text = json_dumps(body, JSON_COMPACT)) == NULL) {
		json_decref(body);
		snprintf(err, errlen, "cannot build the tunnel request");
		return (REST_EPROTO);
	}
	json_decref(body);
	log_debug2("REST POST body: %s", text);

	ret = rest_call("POST", "/tunnels", text, &status, &ans, err, errlen);
	free(text);
	if (ret != REST_OK)
		return (ret);
	if (rest_parse_tunnel(ans, t, 1, err, errlen) == -1) {
		/* keep the id, if any, so that the tunnel can be deleted */
		char	 e2[64];

		if (copy_string(ans, "id", t->id, sizeof(t->id), 1, e2,
		    sizeof(e2)) == -1 || !rest_id_ok(t->id))
			t->id[0] = '\0';
		ret = REST_EPROTO;
	}
	json_decref(ans);
	return (ret);
}

int
rest_get(const char *id, struct rest_tunnel *t, char *err, size_t errlen)
{
	json_t	*ans;
	char	 path[256];
	long	 status;
	int	 ret;

	snprintf(path, sizeof(path), "/tunnels/%s", id);
	if ((ret = rest_call("GET", path, NULL, &status, &ans, err,
	    errlen)) != REST_OK)
		return (ret);
	if (rest_parse_tunnel(ans, t, 0, err, errlen) == -1)
		ret = REST_EPROTO;
	json_decref(ans);
	return (ret);
}

/*
 * GET the tunnel id without blocking: on base's loop, with the time
 * limits connect_sec and total_sec (no retry after a 429); cb(arg, ret,
 * t, err) once it ends, t the tunnel when ret is REST_OK.  One at a
 * time: -1 while one is under way or when it cannot start (cb is not
 * called then).
 */
int
rest_get_async(struct event_base *base, const char *id, long connect_sec,
    long total_sec, rest_get_cb cb, void *arg)
{
	char	 url[2048];

	if (curl == NULL || ra.easy != NULL)
		return (-1);
	if (ra.multi == NULL) {
		if ((ra.multi = curl_multi_init()) == NULL)
			return (-1);
		ra.base = base;
		if ((ra.timer = evtimer_new(base, rest_async_timeout,
		    NULL)) == NULL) {
			curl_multi_cleanup(ra.multi);
			ra.multi = NULL;
			return (-1);
		}
		curl_multi_setopt(ra.multi, CURLMOPT_SOCKETFUNCTION,
		    rest_async_socket);
		curl_multi_setopt(ra.multi, CURLMOPT_TIMERFUNCTION,
		    rest_async_timer);
	}
	if ((ra.easy = curl_easy_duphandle(curl)) == NULL)
		return (-1);
	snprintf(ra.path, sizeof(ra.path), "/tunnels/%s", id);
	snprintf(url, sizeof(url), "%s%s", rest_base, ra.path);
	log_debug("REST GET %s (without blocking)", url);
	memset(&ra.b, 0, sizeof(ra.b));
	ra.cerr[0] = '\0';
	ra.cb = cb;
	ra.arg = arg;
	ra.hdrs = curl_slist_append(NULL, "Accept: application/json");
	curl_easy_setopt(ra.easy, CURLOPT_URL, url);
	curl_easy_setopt(ra.easy, CURLOPT_HTTPHEADER, ra.hdrs);
	curl_easy_setopt(ra.easy, CURLOPT_ERRORBUFFER, ra.cerr);
	curl_easy_setopt(ra.easy, CURLOPT_WRITEDATA, &ra.b);
	curl_easy_setopt(ra.easy, CURLOPT_CUSTOMREQUEST, NULL);
	curl_easy_setopt(ra.easy, CURLOPT_HTTPGET, 1L);
	curl_easy_setopt(ra.easy, CURLOPT_CONNECTTIMEOUT,
	    connect_sec < total_sec ? connect_sec : total_sec);
	curl_easy_setopt(ra.easy, CURLOPT_TIMEOUT, total_sec);
	/*
	 * libcurl arms its timer at 0 ms here: the loop starts the request
	 * (rest_async_timeout()), so that however it ends, even at once,
	 * rest_async_check() sees it and the callback runs
	 */
	if (curl_multi_add_handle(ra.multi, ra.easy) != CURLM_OK) {
		rest_async_end();
		return (-1);
	}
	return (0);
}

/* Is a rest_get_async() under way? */
int
rest_get_busy(void)
{
	return (ra.easy != NULL);
}

/* libcurl: watch socket s for what (CURL_POLL_*), or no longer. */
static int
rest_async_socket(CURL *e, curl_socket_t s, int what, void *userp,
    void *socketp)
{
	struct event	*ev = socketp;
	short		 events = EV_PERSIST;

	if (what == CURL_POLL_REMOVE) {
		if (ev != NULL)
			event_free(ev);
		curl_multi_assign(ra.multi, s, NULL);
		return (0);
	}
	if (what & CURL_POLL_IN)
		events |= EV_READ;
	if (what & CURL_POLL_OUT)
		events |= EV_WRITE;
	if (ev == NULL) {
		if ((ev = event_new(ra.base, s, events, rest_async_event,
		    NULL)) == NULL)
			return (-1);
		curl_multi_assign(ra.multi, s, ev);
	} else {
		event_del(ev);
		event_assign(ev, ra.base, s, events, rest_async_event, NULL);
	}
	event_add(ev, NULL);
	return (0);
}

/* libcurl: call back in timeout_ms (-1: no timer). */
static int
rest_async_timer(CURLM *m, long timeout_ms, void *userp)
{
	struct timeval	 tv;

	if (timeout_ms < 0) {
		evtimer_del(ra.timer);
		return (0);
	}
	tv.tv_sec = timeout_ms / 1000;
	tv.tv_usec = timeout_ms % 1000 * 1000;
	evtimer_add(ra.timer, &tv);
	return (0);
}

static void
rest_async_event(int fd, short event, void *arg)
{
	int	 running, action = 0;

	if (event & EV_READ)
		action |= CURL_CSELECT_IN;
	if (event & EV_WRITE)
		action |= CURL_CSELECT_OUT;
	curl_multi_socket_action(ra.multi, fd, action, &running);
	rest_async_check();
}

static void
rest_async_timeout(int fd, short event, void *arg)
{
	int	 running;

	curl_multi_socket_action(ra.multi, CURL_SOCKET_TIMEOUT, 0, &running);
	rest_async_check();
}

/* The request ended: its answer to its callback. */
static void
rest_async_check(void)
{
	struct rest_tunnel	 t;
	CURLMsg			*m;
	json_t			*ans;
	rest_get_cb		 cb;
	void			*arg;
	char			 err[512];
	long			 status;
	int			 left, ret;

	while ((m = curl_multi_info_read(ra.multi, &left)) != NULL) {
		if (m->msg != CURLMSG_DONE || m->easy_handle != ra.easy)
			continue;
		ret = rest_answer(ra.easy, m->data.result, &ra.b, ra.cerr,
		    "GET", ra.path, &status, &ans, err, sizeof(err));
		memset(&t, 0, sizeof(t));
		if (ret == REST_OK && rest_parse_tunnel(ans, &t, 0, err,
		    sizeof(err)) == -1)
			ret = REST_EPROTO;
		json_decref(ans);
		cb = ra.cb;
		arg = ra.arg;
		rest_async_end();
		/* the callback may start the next one */
		cb(arg, ret, &t, err);
		explicit_bzero(&t, sizeof(t));
		return;
	}
}

/* The request under way, if any, is dropped. */
static void
rest_async_end(void)
{
	if (ra.easy == NULL)
		return;
	curl_multi_remove_handle(ra.multi, ra.easy);
	curl_easy_cleanup(ra.easy);
	ra.easy = NULL;
	curl_slist_free_all(ra.hdrs);
	ra.hdrs = NULL;
	free(ra.b.data);
	memset(&ra.b, 0, sizeof(ra.b));
	evtimer_del(ra.timer);
}

/*
 * Where a new tunnel's KGP connections would go, and the hash of the
 * certificate there (GET {user}/endpoint, sc-server's): into t's host,
 * ssh_port and cert_sha256.  For --doctor.
 */
int
rest_endpoint(struct rest_tunnel *t, char *err, size_t errlen)
{
	json_t	*ans;
	long	 status;
	int	 ret;

	memset(t, 0, sizeof(*t));
	if ((ret = rest_call("GET", "/endpoint", NULL, &status, &ans, err,
	    errlen)) != REST_OK)
		return (ret);
	if (!json_is_object(ans) || copy_string(ans, "host", t->host,
	    sizeof(t->host), 1, err, errlen) == -1 || copy_string(ans,
	    "server_cert_sha256", t->cert_sha256, sizeof(t->cert_sha256), 0,
	    err, errlen) == -1 || rest_port(ans, &t->ssh_port, 1, err,
	    errlen) == -1) {
		if (!json_is_object(ans))
			snprintf(err, errlen, "REST API: the endpoint is not "
			    "a JSON object");
		ret = REST_EPROTO;
	}
	json_decref(ans);
	return (ret);
}

int
rest_delete(const char *id, char *err, size_t errlen)
{
	json_t	*ans;
	char	 path[256];
	long	 status;
	int	 ret;

	snprintf(path, sizeof(path), "/tunnels/%s", id);
	if ((ret = rest_call("DELETE", path, NULL, &status, &ans, err,
	    errlen)) != REST_OK)
		return (ret);
	json_decref(ans);
	return (REST_OK);
}

/*
 * DELETE every tunnel of the user with this name that still runs, but
 * self (the one just created; NULL: none).
 */
int
rest_remove_colliding(const char *name, const char *self, char *err,
    size_t errlen)
{
	struct rest_tunnel	 t;
	json_t			*ans, *v;
	char			 e2[512];
	long			 status;
	size_t			 i;
	int			 ret;

	if (name == NULL)
		name = "";
	if ((ret = rest_call("GET", "/tunnels?full=true", NULL, &status, &ans,
	    err, errlen)) != REST_OK)
		return (ret);
	if (!json_is_array(ans)) {
		json_decref(ans);
		snprintf(err, errlen, "REST API: the tunnel list is not a "
		    "JSON array");
		return (REST_EPROTO);
	}
	json_array_foreach(ans, i, v) {
		if (rest_parse_tunnel(v, &t, 0, e2, sizeof(e2)) == -1) {
			log_debug("tunnel list entry %zu: %s", i, e2);
			continue;
		}
		if (strcmp(t.status, "terminated") == 0 ||
		    strcmp(t.tunnel_identifier, name) != 0 ||
		    (self != NULL && strcmp(t.id, self) == 0))
			continue;
		log_info("Removing colliding tunnel %s (%s%s%s)", t.id,
		    name[0] ? "\"" : "", name[0] ? name : "no name",
		    name[0] ? "\"" : "");
		if ((ret = rest_delete(t.id, e2, sizeof(e2))) != REST_OK &&
		    ret != REST_ENOTFOUND) {
			json_decref(ans);
			strlcpy(err, e2, errlen);
			return (ret);
		}
	}
	json_decref(ans);
	return (REST_OK);
}
