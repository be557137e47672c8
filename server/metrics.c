/*
 * -m: /metrics (the Prometheus text format), /healthz and /readyz, served
 * by the REST worker on a listener of their own that the parent bound.
 *
 * Nothing here waits: the REST worker's own figures (tunnels by state,
 * REST answers by status code, failed logins, the registry's saves) are
 * read when a scrape comes; the KGP worker's (sessions, streams, bytes,
 * entry proxy connections and refusals) arrive every METRICS_PUSH_SEC
 * through the parent (IMSG_SRV_KGP_STATS) and the last ones are served.
 * The connections have an admission table and deadlines of their own
 * (httpd.c, admit.c): a flood of scrapers or one that reads slowly is
 * dropped, and never holds up the REST API.
 */
#include <sys/types.h>
#include <sys/queue.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>

#include "httpd.h"
#include "imsg_server.h"
#include "listener.h"
#include "log.h"
#include "prom.h"
#include "server.h"

static struct httpd		*metrics_httpd;
static struct listener		*metrics_listener;
static struct srv_kgp_stats	 kgp;
static struct timespec		 kgp_when;	/* monotonic, 0: never */
static int			 serving;
static time_t			 started;

static void	 metrics_request(struct httpd_req *, void *);
static int	 metrics_kgp_fresh(void);
static char	*metrics_text(size_t *);

/* Serve on fd (bound by the parent) from now on. */
int
metrics_init(int fd)
{
	struct httpd_config	 cfg;

	memset(&cfg, 0, sizeof(cfg));
	cfg.name = "metrics";
	cfg.max_body = 0;
	cfg.request_ms = METRICS_REQUEST_SEC * 1000;
	cfg.request_min_ms = METRICS_REQUEST_MIN_SEC * 1000;
	cfg.answer_ms = METRICS_ANSWER_SEC * 1000;
	cfg.waiting_addr = METRICS_WAITING_ADDR;
	cfg.waiting_max = METRICS_WAITING_MAX;
	cfg.request = metrics_request;
	if ((metrics_httpd = httpd_new(env->base, &cfg)) == NULL)
		return (-1);
	if ((metrics_listener = httpd_listen(metrics_httpd, env->base,
	    fd)) == NULL)
		return (-1);
	started = time(NULL);
	return (0);
}

/* The REST API serves (1) or no longer does (0): /readyz says so. */
void
metrics_ready(int on)
{
	serving = on;
}

/* IMSG_SRV_KGP_STATS: the KGP worker's last figures. */
void
metrics_kgp(const struct srv_kgp_stats *st)
{
	kgp = *st;
	clock_gettime(CLOCK_MONOTONIC, &kgp_when);
}

/* The KGP worker reported within METRICS_STALE_SEC. */
static int
metrics_kgp_fresh(void)
{
	struct timespec	 now;

	if (kgp_when.tv_sec == 0 && kgp_when.tv_nsec == 0)
		return (0);
	clock_gettime(CLOCK_MONOTONIC, &now);
	return (now.tv_sec - kgp_when.tv_sec <= METRICS_STALE_SEC);
}

static void
metrics_request(struct httpd_req *req, void *arg)
{
	char		 path[64], *body;
	size_t		 len;

	if (httpd_get_path(req, path, sizeof(path)) == NULL)
		return;
	if (strcmp(path, "/healthz") == 0)
		httpd_reply(req, 200, "text/plain", NULL, "ok\n", 3);
	else if (strcmp(path, "/readyz") == 0) {
		if (env->shutting_down)
			httpd_reply(req, 503, "text/plain", NULL,
			    "shutting down\n", 14);
		else if (!serving)
			httpd_reply(req, 503, "text/plain", NULL,
			    "the REST API is starting\n", 25);
		else if (!metrics_kgp_fresh())
			httpd_reply(req, 503, "text/plain", NULL,
			    "the KGP worker is not serving\n", 30);
		else
			httpd_reply(req, 200, "text/plain", NULL, "ready\n", 6);
	} else if (strcmp(path, "/metrics") == 0) {
		if ((body = metrics_text(&len)) == NULL) {
			httpd_reply(req, 500, "text/plain", NULL,
			    "out of memory\n", 14);
			return;
		}
		httpd_reply(req, 200, PROM_CONTENT_TYPE, NULL, body, len);
		free(body);
	} else
		httpd_reply(req, 404, "text/plain", NULL, "not found\n", 10);
}

/* The whole text, malloc'ed; NULL when out of memory. */
static char *
metrics_text(size_t *len)
{
	static const int		 ecodes[ENTRY_CODES_MAX] = ENTRY_CODES;
	const struct status_count	*codes;
	const struct state_stats	*ss = state_stats();
	struct tunnel			*t;
	FILE				*f;
	char				*buf = NULL;
	unsigned long long		 n[3] = { 0, 0, 0 }, conn = 0;
	size_t				 i, nc;

	if ((f = open_memstream(&buf, len)) == NULL)
		return (NULL);
	TAILQ_FOREACH(t, &env->tunnels, entry) {
		if (t->status <= TUNNEL_TERMINATED)
			n[t->status]++;
		if (t->status == TUNNEL_RUNNING && t->connected)
			conn++;
	}
	prom_head(f, "sc_server_tunnels", "gauge",
	    "Tunnels in the registry, by state.");
	fprintf(f, "sc_server_tunnels{state=\"running\"} %llu\n"
	    "sc_server_tunnels{state=\"halting\"} %llu\n"
	    "sc_server_tunnels{state=\"terminated\"} %llu\n",
	    n[TUNNEL_RUNNING], n[TUNNEL_HALTING], n[TUNNEL_TERMINATED]);
	prom_one(f, "sc_server_tunnels_connected", "gauge",
	    "Running tunnels with at least one KGP connection up.", conn);

	prom_one(f, "sc_server_kgp_worker_up", "gauge", "1 when the KGP "
	    "worker reported within the last seconds.", metrics_kgp_fresh());
	prom_one(f, "sc_server_sessions", "gauge",
	    "KGP sessions bound to a tunnel, up or waiting to be resumed.",
	    kgp.sessions);
	prom_one(f, "sc_server_sessions_up", "gauge",
	    "KGP sessions whose link is up.", kgp.sessions_up);
	prom_one(f, "sc_server_sessions_total", "counter",
	    "KGP sessions bound since the KGP worker started.",
	    kgp.sessions_total);
	prom_one(f, "sc_server_streams_open", "gauge",
	    "Streams open on the KGP sessions.", kgp.streams_open);
	prom_one(f, "sc_server_streams_total", "counter",
	    "Streams opened since the KGP worker started.", kgp.streams_total);
	prom_head(f, "sc_server_stream_bytes_total", "counter",
	    "Stream bytes since the KGP worker started: in from the clients, "
	    "out to them.");
	fprintf(f, "sc_server_stream_bytes_total{direction=\"in\"} %llu\n"
	    "sc_server_stream_bytes_total{direction=\"out\"} %llu\n",
	    (unsigned long long)kgp.bytes_in,
	    (unsigned long long)kgp.bytes_out);
	prom_one(f, "sc_server_entry_connections_total", "counter",
	    "Connections accepted by the entry proxies.", kgp.entry_accepted);
	prom_head(f, "sc_server_entry_rejections_total", "counter",
	    "Entry proxy connections refused, by status code (\"other\": "
	    "the rest).");
	for (i = 0; i < ENTRY_CODES_MAX; i++) {
		if (ecodes[i] != 0)
			fprintf(f, "sc_server_entry_rejections_total"
			    "{code=\"%d\"} %llu\n", ecodes[i],
			    (unsigned long long)kgp.entry_rejected[i]);
		else
			fprintf(f, "sc_server_entry_rejections_total"
			    "{code=\"other\"} %llu\n",
			    (unsigned long long)kgp.entry_rejected[i]);
	}

	prom_one(f, "sc_server_certificates_minted_total", "counter",
	    "Leaf certificates the CA signed for the entry proxies.",
	    kgp.certs_minted);
	prom_one(f, "sc_server_certificate_failures_total", "counter",
	    "Names no leaf certificate could be made for (no CA, rate "
	    "limit, refused, timed out).", kgp.cert_failures);
	prom_one(f, "sc_server_kgp_hold_reads_total", "counter",
	    "Tunnels a HELLO named that the KGP worker did not know, read "
	    "from the database for it (a cluster).", kgp.hold_asks);
	prom_one(f, "sc_server_kgp_hold_refused_total", "counter",
	    "HELLOs for a tunnel not known here told to try again at once: "
	    "KGP_HOLD_MAX wait or as many reads are asked.",
	    kgp.hold_refused);
	prom_one(f, "sc_server_certificate_cache_hits_total", "counter",
	    "Leaf certificates served from the cache.", kgp.cert_hits);
	prom_head(f, "sc_server_rest_requests_total", "counter",
	    "REST API answers by status code, since the REST worker started.");
	nc = rest_codes(&codes);
	for (i = 0; i < nc; i++)
		fprintf(f, "sc_server_rest_requests_total{code=\"%d\"} %llu\n",
		    codes[i].code, (unsigned long long)codes[i].n);
	prom_head(f, "sc_server_failed_logins_total", "counter",
	    "Logins with wrong credentials: REST API, entry proxies (-P).");
	fprintf(f, "sc_server_failed_logins_total{realm=\"rest\"} %llu\n"
	    "sc_server_failed_logins_total{realm=\"entry\"} %llu\n",
	    (unsigned long long)throttle_failures(THROTTLE_REST),
	    (unsigned long long)throttle_failures(THROTTLE_ENTRY));
	prom_one(f, "sc_server_state_saves_total", "counter",
	    "Registry (tunnels.json) saves written.", ss->saves);
	prom_one(f, "sc_server_state_save_failures_total", "counter",
	    "Registry saves that failed.", ss->failures);
	prom_one(f, "sc_server_start_time_seconds", "gauge",
	    "When the REST worker started, Unix time.",
	    (unsigned long long)started);
	place_metrics(f);
	if (fclose(f) != 0) {
		free(buf);
		return (NULL);
	}
	return (buf);
}
