/*
 * --api-address: the tunnel as an operator's tools see it (and -z,
 * --log-stats: a line of its figures in the log every N seconds).  GET
 * /healthz (sc's loop answers), /readyz (200 only while the tunnel
 * carries traffic, else 503 and why), /version, /info (JSON) and
 * /metrics (the Prometheus text format), on a TCP listener bound before
 * the sandbox and served from the controller's loop.
 *
 * Nothing here waits: the helpers' figures arrive every second
 * (IMSG_STATS, sc.c) and the last ones are served; an answer is built
 * from memory in one go.  The connections have an admission table and
 * deadlines of their own (httpd.c, admit.c): a flood of scrapers, or one
 * that reads slowly, is dropped and never holds up the tunnel.  With
 * --api-basic-auth every path asks for those credentials.
 */
#include <sys/types.h>
#include <sys/queue.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <jansson.h>

#include "config.h"
#include "controller.h"
#include "http.h"
#include "httpd.h"
#include "kgp.h"
#include "listener.h"
#include "log.h"
#include "prom.h"
#include "text.h"

static struct sc		*env;
static const struct api_cb	*api_cb;
static int			 api_fd = -1;
static struct httpd		*api_httpd;
static struct listener		*api_listener;
static char			*api_expect;	/* "Basic base64(user:pass)" */
static struct event		*api_stats_ev;	/* -z/--log-stats */

static void	 api_request(struct httpd_req *, void *);
static int	 api_links_up(void);
static const char *api_not_ready(void);
static void	 api_info(struct httpd_req *);
static char	*api_metrics(size_t *);
static void	 api_log_stats(int, short, void *);

/*
 * Bind conf's --api-address, before the sandbox.  Returns 0 (nothing to
 * do without one), or -1 with the reason in err.
 */
int
api_init(const struct sc_config *conf, char *err, size_t errlen)
{
	struct http_authority	 a;
	char			 why[512];

	if (conf->api_address == NULL) {
		if (conf->api_auth != NULL) {
			snprintf(err, errlen, "--api-basic-auth needs "
			    "--api-address");
			return (-1);
		}
		return (0);
	}
	/* checked by config_api() */
	if (http_parse_authority(conf->api_address,
	    strlen(conf->api_address), 0, 0, &a) == -1) {
		snprintf(err, errlen, "bad API address %s", conf->api_address);
		return (-1);
	}
	if ((api_fd = listener_bind(a.host, a.port, API_BACKLOG, why,
	    sizeof(why))) == -1) {
		snprintf(err, errlen, "cannot serve the API on %s: %s",
		    conf->api_address, why);
		return (-1);
	}
	if (conf->api_auth != NULL) {
		char	*b64;
		size_t	 len;

		if ((b64 = text_base64(conf->api_auth,
		    strlen(conf->api_auth))) == NULL) {
			snprintf(err, errlen, "out of memory");
			return (-1);
		}
		len = strlen(b64) + 7;
		if ((api_expect = malloc(len)) == NULL) {
			free(b64);
			snprintf(err, errlen, "out of memory");
			return (-1);
		}
		snprintf(api_expect, len, "Basic %s", b64);
		explicit_bzero(b64, strlen(b64));
		free(b64);
	}
	return (0);
}

/* Serve from now on, on the loop of e. */
void
api_listen(struct sc *e, const struct api_cb *cb)
{
	struct httpd_config	 cfg;

	env = e;
	api_cb = cb;
	if (e->conf->log_stats > 0) {
		if ((api_stats_ev = evtimer_new(e->base, api_log_stats,
		    NULL)) == NULL)
			sc_fatal("evtimer_new");
		timer_add(api_stats_ev, e->conf->log_stats, 0);
	}
	if (api_fd == -1)
		return;
	memset(&cfg, 0, sizeof(cfg));
	cfg.name = "api";
	cfg.max_body = 0;
	cfg.request_ms = API_REQUEST_SEC * 1000;
	cfg.request_min_ms = API_REQUEST_MIN_SEC * 1000;
	cfg.answer_ms = API_ANSWER_SEC * 1000;
	cfg.waiting_addr = API_WAITING_ADDR;
	cfg.waiting_max = API_WAITING_MAX;
	cfg.request = api_request;
	if ((api_httpd = httpd_new(e->base, &cfg)) == NULL ||
	    (api_listener = httpd_listen(api_httpd, e->base,
	    api_fd)) == NULL)
		sc_fatal("cannot serve the API on %s", e->conf->api_address);
	log_info("API on http://%s (/readyz, /healthz, /version, /info, "
	    "/metrics)%s", e->conf->api_address, api_expect != NULL ?
	    ", with Basic authentication" : "");
}

/* The tunnel connections up, as the controller saw kgpd say it. */
static int
api_links_up(void)
{
	uint32_t	 i;
	int		 n = 0;

	for (i = 0; i < env->nlinks; i++)
		if (env->links[i].state == LINK_UP)
			n++;
	return (n);
}

/* Why the tunnel carries no traffic now; NULL when it does. */
static const char *
api_not_ready(void)
{
	switch (env->state) {
	case SC_STARTING:
		return ("starting: the tunnel is being created");
	case SC_CONNECTING:
		return ("connecting: no tunnel connection is up yet");
	case SC_RECONNECTING:
		return ("reconnecting: every tunnel connection is down");
	case SC_STOPPING:
		return ("shutting down");
	case SC_UP:
		break;
	}
	if (childmsg_kgpd_stats_sum(&(struct sc_stats){ 0 }) == 0)
		return ("kgpd is not running");
	if (!child_ready(CHILD_PROXYD))
		return ("proxyd is not running");
	if (api_links_up() == 0)
		return ("no tunnel connection is up");
	return (NULL);
}

static void
api_text(struct httpd_req *req, int status, const char *text)
{
	char	 buf[256];
	int	 n;

	n = snprintf(buf, sizeof(buf), "%s\n", text);
	httpd_reply(req, status, "text/plain", NULL, buf, n);
}

static void
api_request(struct httpd_req *req, void *arg)
{
	const char	*why, *auth;
	char		 path[64], *body;
	size_t		 len;

	if (api_expect != NULL && ((auth = httpd_req_header(req,
	    "Authorization")) == NULL || strlen(auth) != strlen(api_expect) ||
	    timingsafe_bcmp(auth, api_expect, strlen(api_expect)) != 0)) {
		httpd_reply(req, 401, "text/plain",
		    "WWW-Authenticate: Basic realm=\"sc\"\r\n",
		    "unauthorized\n", 13);
		return;
	}
	if (httpd_get_path(req, path, sizeof(path)) == NULL)
		return;
	if (strcmp(path, "/healthz") == 0)
		api_text(req, 200, "ok");
	else if (strcmp(path, "/readyz") == 0) {
		if ((why = api_not_ready()) != NULL)
			api_text(req, 503, why);
		else
			api_text(req, 200, "ready");
	} else if (strcmp(path, "/version") == 0) {
		len = strlen(SC_VERSION) + 16;
		if ((body = malloc(len)) == NULL) {
			httpd_error(req, 500, "out of memory");
			return;
		}
		len = snprintf(body, len, "{\"version\":\"%s\"}\n", SC_VERSION);
		httpd_reply(req, 200, "application/json", NULL, body, len);
		free(body);
	} else if (strcmp(path, "/info") == 0)
		api_info(req);
	else if (strcmp(path, "/metrics") == 0) {
		if ((body = api_metrics(&len)) == NULL) {
			httpd_error(req, 500, "out of memory");
			return;
		}
		httpd_reply(req, 200, PROM_CONTENT_TYPE, NULL, body, len);
		free(body);
	} else
		httpd_error(req, 404, "not found");
}

/* /info: what tunnel this is, where to, how long up. */
static void
api_info(struct httpd_req *req)
{
	struct ctl_status	 st;
	struct sc_link_stats	 ls[SC_MAX_CONNECTIONS];
	json_t			*j;
	char			*body;

	api_cb->status(&st, ls);
	j = json_pack("{s:s, s:s?, s:s, s:s, s:i, s:i, s:I, s:s}",
	    "id", st.tunnel_id,
	    "name", env->conf->tunnel_name,
	    "server", st.server,
	    "state", st.state,
	    "connections", api_links_up(),
	    "connections_configured", (int)env->nlinks,
	    "uptime", (json_int_t)(time(NULL) - env->started),
	    "version", SC_VERSION);
	if (j == NULL || (body = json_dumps(j, JSON_COMPACT)) == NULL) {
		json_decref(j);
		httpd_error(req, 500, "out of memory");
		return;
	}
	json_decref(j);
	httpd_reply(req, 200, "application/json", NULL, body, strlen(body));
	free(body);
}

/*
 * -z/--log-stats: every N seconds one line with the figures of /metrics
 * that matter most, from the last ones the helpers sent.
 */
static void
api_log_stats(int fd, short event, void *arg)
{
	const struct sc_stats	*p = &children[CHILD_PROXYD].stats;
	struct sc_stats		 kst, *k = &kst;
	struct ctl_status	 st;
	struct sc_link_stats	 ls[SC_MAX_CONNECTIONS];

	api_cb->status(&st, ls);
	childmsg_kgpd_stats_sum(k);
	log_info("Stats: state %s, connections %d/%u up, streams %llu open "
	    "%llu total, bytes %llu in %llu out, requests 1xx %llu 2xx %llu "
	    "3xx %llu 4xx %llu 5xx %llu, TLS handovers %llu, rtt %.1f ms",
	    st.state,
	    api_links_up(), st.nlinks, (unsigned long long)k->streams_open,
	    (unsigned long long)k->streams_total,
	    (unsigned long long)k->bytes_in, (unsigned long long)k->bytes_out,
	    (unsigned long long)p->answers[0],
	    (unsigned long long)p->answers[1],
	    (unsigned long long)p->answers[2],
	    (unsigned long long)p->answers[3],
	    (unsigned long long)p->answers[4],
	    (unsigned long long)p->tls_handovers, (double)k->rtt_us / 1000.0);
	timer_add(api_stats_ev, env->conf->log_stats, 0);
}

/* a process's CPU time and peak memory, labelled by its name */
static void
api_process(FILE *f, const char *metric, const char *name, double v)
{
	fprintf(f, "%s{process=\"%s\"} %.6f\n", metric, name, v);
}

/* The whole /metrics text, malloc'ed; NULL when out of memory. */
static char *
api_metrics(size_t *len)
{
	static const uint64_t		 bounds_us[KGP_RTT_BUCKETS] =
					    KGP_RTT_BOUNDS_US;
	static const char		*states[] = { "starting",
					    "connecting", "up", "reconnecting",
					    "stopping" };
	const struct sc_stats		*p = &children[CHILD_PROXYD].stats;
	struct sc_stats			 kst, *k = &kst;
	struct ctl_status		 st;
	struct sc_link_stats		 ls[SC_MAX_CONNECTIONS];
	struct sc_stats			 self;
	double				 bounds[KGP_RTT_BUCKETS];
	unsigned long long		 breaks = 0, resumes = 0;
	FILE				*f;
	char				*buf = NULL;
	uint32_t			 i, n;

	if ((f = open_memstream(&buf, len)) == NULL)
		return (NULL);
	api_cb->status(&st, ls);
	childmsg_kgpd_stats_sum(k);
	n = st.nlinks;

	prom_head(f, "sc_tunnel_state", "gauge", "1 for the state the "
	    "tunnel is in, 0 for the others.");
	for (i = 0; i < sizeof(states) / sizeof(states[0]); i++)
		fprintf(f, "sc_tunnel_state{state=\"%s\"} %d\n", states[i],
		    strcmp(st.state, states[i]) == 0);
	prom_one(f, "sc_tunnel_ready", "gauge", "1 while the tunnel carries "
	    "traffic (/readyz is 200).", api_not_ready() == NULL);
	prom_one(f, "sc_connections", "gauge", "Tunnel connections "
	    "configured (--tunnel-connections).", n);
	prom_one(f, "sc_connections_up", "gauge", "Tunnel connections up.",
	    api_links_up());
	for (i = 0; i < n; i++) {
		breaks += ls[i].breaks;
		resumes += ls[i].resumes;
	}
	prom_one(f, "sc_connection_breaks_total", "counter", "Tunnel "
	    "connections lost.", breaks);
	prom_one(f, "sc_connection_resumes_total", "counter", "Tunnel "
	    "connections lost and resumed with their streams.", resumes);
	prom_one(f, "sc_upstream_proxy_failures_total", "counter", "Tunnel "
	    "connections that failed at the upstream proxy (CONNECT).",
	    (unsigned long long)env->proxy_failures);
	for (i = 0; i < KGP_RTT_BUCKETS; i++)
		bounds[i] = bounds_us[i] / 1e6;
	prom_histogram(f, "sc_rtt_seconds", "Round trips of the tunnel "
	    "connections' keepalives, as kgpd measures them.", bounds,
	    k->rtt_buckets, KGP_RTT_BUCKETS, k->rtt_count,
	    k->rtt_sum_us / 1e6);
	prom_one(f, "sc_streams_open", "gauge", "Streams open on the tunnel.",
	    k->streams_open);
	prom_one(f, "sc_streams_total", "counter", "Streams the tunnel "
	    "carried.", k->streams_total);
	prom_head(f, "sc_stream_bytes_total", "counter", "Stream bytes: in "
	    "from the tunnel server, out to it.");
	fprintf(f, "sc_stream_bytes_total{direction=\"in\"} %llu\n"
	    "sc_stream_bytes_total{direction=\"out\"} %llu\n",
	    (unsigned long long)k->bytes_in, (unsigned long long)k->bytes_out);
	prom_head(f, "sc_requests_total", "counter", "Answers proxyd gave to "
	    "the requests of the streams (the app's and its own), by status "
	    "class.");
	for (i = 0; i < SC_STATUS_CLASSES; i++)
		fprintf(f, "sc_requests_total{class=\"%uxx\"} %llu\n", i + 1,
		    (unsigned long long)p->answers[i]);
	prom_one(f, "sc_dns_failures_total", "counter", "Names of apps "
	    "proxyd could not resolve.", p->dns_failures);
	prom_one(f, "sc_tls_handovers_total", "counter", "Kept-alive TLS "
	    "connections to apps proxyd handed to kgpd: their requests "
	    "from then on are not in sc_requests_total (sc-server's entry "
	    "proxy counts them).", p->tls_handovers);
	prom_head(f, "sc_child_restarts_total", "counter", "Helpers started "
	    "again after they died.");
	for (i = 0; i < CHILD_MAX; i++)
		if (!CHILD_IS_KGPD(i) || !children[i].off)
			fprintf(f, "sc_child_restarts_total{process=\"%s\"} "
			    "%u\n", children[i].name, children[i].restarts);

	memset(&self, 0, sizeof(self));
	sc_stats_self(&self);
	prom_head(f, "sc_process_cpu_seconds_total", "counter", "CPU time, "
	    "user and system, of each process (a helper's: since its last "
	    "start).");
	api_process(f, "sc_process_cpu_seconds_total", "sc",
	    self.cpu_us / 1e6);
	for (i = 0; i < CHILD_MAX; i++)
		if (!CHILD_IS_KGPD(i) || !children[i].off)
			api_process(f, "sc_process_cpu_seconds_total",
			    children[i].name, children[i].stats.cpu_us / 1e6);
	prom_head(f, "sc_process_max_resident_bytes", "gauge", "Peak "
	    "resident memory of each process (getrusage(2)).");
	api_process(f, "sc_process_max_resident_bytes", "sc",
	    self.maxrss_kib * 1024.0);
	for (i = 0; i < CHILD_MAX; i++)
		if (!CHILD_IS_KGPD(i) || !children[i].off)
			api_process(f, "sc_process_max_resident_bytes",
			    children[i].name,
			    children[i].stats.maxrss_kib * 1024.0);
	prom_one(f, "sc_start_time_seconds", "gauge", "When sc started, "
	    "Unix time.", (unsigned long long)env->started);
	if (fclose(f) != 0) {
		free(buf);
		return (NULL);
	}
	return (buf);
}
