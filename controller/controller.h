/*
 * sc: the controller of the client.  It parses the command line, talks to
 * the REST API, supervises kgpd and proxyd, opens the tunnel connections
 * and serves the control socket.
 */
#ifndef SC_CONTROLLER_H
#define SC_CONTROLLER_H

#include <sys/types.h>
#include <sys/queue.h>
#include <sys/time.h>

#include <pwd.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include <event2/event.h>

#include "imsg_types.h"
#include "proc.h"

#define SC_DEFAULT_REST_URL	"http://127.0.0.1:4400/rest/v1"
#define SC_DEFAULT_MAX_MISSED	30
#define SC_DEFAULT_SE_PORT	4445
#define SC_KEEPALIVE_SEC	1
#define SC_EARLY_KGP_PORT	4443	/* the early connection: this port of */
					/* the REST API's host (sc-server's) */
#define SC_CA_CHUNK		16000
#define SC_CACERT_FILES_MAX	16	/* --cacert-file, up to SC_CA_MAX in all */
#define SC_REGIONS_MAX		32	/* the operator's region table (regions) */
#define SC_LOG_STATS_MAX	86400	/* -z/--log-stats: seconds, at most a day */
#define STOP_CONNECT_SEC	5	/* each REST call of the shutdown */
#define STOP_REQUEST_SEC	10
#define SC_NOFILE		65536	/* open files as root, for the helpers */

/*
 * --doctor (doctor.c): each network step bounded by DOCTOR_TIMEOUT_SEC;
 * the clock may be DOCTOR_SKEW_MAX_SEC off the REST API's Date; sc
 * must be able to open DOCTOR_NOFILE_MIN files.
 */
#define DOCTOR_TIMEOUT_SEC	10
#define DOCTOR_SKEW_MAX_SEC	60
#define DOCTOR_NOFILE_MIN	4096

/*
 * The helpers' supervision (supervise.c): a helper must say hello within
 * SC_HELLO_TIMEOUT_SEC of its start.  One that dies is started again
 * after a delay that doubles from SC_BACKOFF_MIN_MS to SC_BACKOFF_MAX_MS
 * (and is back to the minimum once a helper ran SC_STABLE_SEC).  A start
 * fails when the program cannot be executed, or dies or stays silent
 * before its hello; SC_START_TRIES failed starts in a row end sc with
 * status 1 (the first start of all: one).
 */
#define SC_HELLO_TIMEOUT_SEC	10
#define SC_BACKOFF_MIN_MS	500
#define SC_BACKOFF_MAX_MS	10000
#define SC_STABLE_SEC		30
#define SC_START_TRIES		5

/*
 * The REST API's 429 Too Many Requests: a request is sent again after
 * the answer's Retry-After (SC_REST_BACKOFF_SEC, doubling, without one),
 * as long as the waits of that request add up to at most
 * SC_REST_RETRY_MAX_SEC; a longer Retry-After fails it at once.  The
 * shutdown waits only within its own deadline (STOP_TIMEOUT_SEC).
 */
#define SC_REST_BACKOFF_SEC	1
#define SC_REST_RETRY_MAX_SEC	60

/*
 * --api-address (api.c): the listener's backlog; a whole request must
 * come within API_REQUEST_SEC (API_REQUEST_MIN_SEC when API_WAITING_MAX
 * connections wait, API_WAITING_ADDR of them from one address) and an
 * answer be read within API_ANSWER_SEC, or the connection is dropped.
 */
#define API_BACKLOG		64
#define API_REQUEST_SEC		5
#define API_REQUEST_MIN_SEC	1
#define API_ANSWER_SEC		10
#define API_WAITING_ADDR	16
#define API_WAITING_MAX		64

struct rules;
struct proxyopt;

/*
 * What proxyd does to requests (confproxy.c): the flags in this order,
 * as config.c's codes from OPT_AUTH on.
 */
enum confproxy_opt {
	CP_AUTH,		/* -a/--auth */
	CP_HEADER,		/* -H/--header */
	CP_RESPONSE_HEADER,	/* -R/--response-header */
	CP_DNS,			/* --dns, -n/--dns-server */
	CP_DNS_RR,		/* --dns-round-robin */
	CP_DNS_TIMEOUT,		/* --dns-timeout */
	CP_LOCALHOST,		/* --proxy-localhost */
	CP_ALLOW_NETWORKS,	/* --allow-networks */
	CP_DENY_NETWORKS,	/* --deny-networks */
	CP_SCPROXY_PORT,	/* --scproxy-port */
	CP_UPSTREAM,		/* -x/--proxy (version 5) */
	CP_PAC,			/* --pac */
	CP_DIAL_TIMEOUT,	/* --http-dial-timeout */
	CP_TLS_TIMEOUT,		/* --http-tls-handshake-timeout */
	CP_HEADER_TIMEOUT,	/* --http-response-header-timeout */
	CP_IDLE_TIMEOUT,	/* --http-idle-conn-timeout */
	CP_METADATA,		/* -M/--metadata */
	CP_EXTRA_INFO		/* --extra-info */
};
#define SC_PROXYOPT_VALUES_MAX	256	/* -a, -H, -R, networks: in all */
#define SC_DNS_TIMEOUT_MS	5000	/* --dns-timeout: one name server */
#define SC_DNS_TIMEOUT_MAX_MS	60000
/* --http-*-timeout: proxyd's defaults and the bound of each */
#define SC_DIAL_TIMEOUT_MS	10000	/* connecting (and a proxy's answer) */
#define SC_TLS_TIMEOUT_MS	10000	/* a TLS handshake with an app */
#define SC_HEADER_TIMEOUT_MS	0	/* an answer's head: 0, no bound */
#define SC_IDLE_CONN_TIMEOUT_MS	90000	/* a kept-alive app connection */
#define SC_HTTP_TIMEOUT_MAX_MS	3600000	/* one hour */
/* -M, --extra-info: within sc-server's 16 KiB of "metadata" */
#define SC_METADATA_MAX		4096	/* -M: the pairs' bytes, in all */
#define SC_METADATA_KEYS_MAX	32	/* -M: pairs */
#define SC_EXTRA_INFO_MAX	8192	/* --extra-info: compact JSON bytes */
#define SC_EXTRA_INFO_DEPTH	8	/* --extra-info: levels of nesting */
/* --pac: the limits are in common/pacans.h */

/* the command line, environment and defaults, after parsing */
struct sc_config {
	int		 legacy;		/* version 4 command line */
	char		*user;
	char		*key;			/* never logged, never passed on */
	char		*tunnel_name;
	char		*rest_url;
	char		*region;
	char		*regions[SC_REGIONS_MAX];	/* "name=url" (--regions) */
	int		 nregions;
	char		*readyfile;
	char		*pidfile;
	char		*logfile;
	char		*ctl_socket;
	char		*tunnel_cainfo;
	char		*vm_version;
	char		*command;		/* argv without the key */
	int		 verbose;		/* LOG_LEVEL_*, or more -v */
	int		 log_format;		/* LOG_FORMAT_* */
	long long	 max_logsize;		/* bytes, 0: no rotation */
	int		 shared;
	int		 tunnel_pool;
	int		 no_remove_colliding;
	int		 wait_shutdown;	/* let open streams finish */
	int		 max_missed_acks;
	int		 log_stats;		/* -z: seconds, 0: off */
	int		 se_port;
	int		 se_port_set;
	int		 tunnel_connections;	/* 1..SC_MAX_CONNECTIONS */
	int		 kgp_processes;	/* 0: min(connections, CPUs) */
	char		 kgp_congestion[KGP_CC_NAMELEN];	/* "default": system's */

	/* the upstream HTTP proxy (-p/-w/-T, --proxy-sauce) */
	char		*proxy_host;		/* NULL: none */
	int		 proxy_port;
	char		*proxy_user;		/* NULL: no credentials */
	char		*proxy_pass;		/* never logged nor passed on */
	const char	*proxy_from;		/* the flag or variable */
	int		 proxy_rest;		/* REST requests use it */
	int		 proxy_tunnel;		/* tunnel connections use it */
	int		 proxy_off;		/* none, not even libcurl's */

	/* the traffic rules (-D, -F, ...): NULL for none; compiled */
	struct rules	*rules;
	/* https:// apps: verified against these CAs (proxyd) */
	char		*cacert_files[SC_CACERT_FILES_MAX];	/* --cacert-file */
	int		 ncacert_files;
	int		 cacert_system;		/* --cacert-system */

	/* what proxyd does to requests: each value, checked (confproxy.c) */
	struct proxyopt	*po;			/* parsed: NULL for none */
	int		 po_kind[SC_PROXYOPT_VALUES_MAX];
	char		*po_text[SC_PROXYOPT_VALUES_MAX];	/* as given */
	int		 npo;
	char		*dns;			/* "ip:port,...": NULL */
	int		 ndns;
	int		 dns_rr;		/* --dns-round-robin */
	uint32_t	 dns_timeout_ms;	/* 0: SC_DNS_TIMEOUT_MS */
	int		 localhost;		/* enum proxyopt_localhost */
	int		 localhost_set;
	int		 scproxy_port;		/* 0: none */
	/* --api-address: /readyz, /healthz, /metrics... (api.c) */
	char		*api_address;		/* host:port, NULL: none */
	char		*api_auth;		/* user:password, or NULL */
	int		 doctor;		/* --doctor: check, no tunnel */
	int		 upstream;		/* -x given (not the variables) */
	char		*upstream_warn;		/* a bad http_proxy... skipped */
	char		*pac;			/* --pac FILE or URL */
	uint32_t	 dial_ms, tls_ms, header_ms, idle_ms;	/* --http-* */
	int		 header_set, idle_set;	/* 0 is a value of these */
	char		*metadata;		/* -M: "k=v,...", checked */
	char		*extra_info;		/* --extra-info: JSON, checked */
};

/* what config_parse() tells main() to do */
#define CONFIG_OK	0
#define CONFIG_HELP	1	/* print usage, exit 0 */
#define CONFIG_VERSION	2	/* print the version, exit 0 */
#define CONFIG_ERROR	3	/* message in the buffer, exit 1 */
#define CONFIG_USAGE	4	/* message in the buffer, usage, exit 2 */
#define CONFIG_TEMPLATE	5	/* sc run config-file: the template, exit 0 */

/* the config file (-c), as read by conffile.c: keys and their values */
#define CONFFILE_MAX		(256 * 1024)	/* bytes */
#define CONFFILE_MAX_KEYS	256
#define CONFFILE_MAX_VALUES	1024		/* in one list */

enum conffile_type {
	CONFFILE_NULL,		/* "key:" with no value */
	CONFFILE_SCALAR,	/* one value, in vals[0] */
	CONFFILE_LIST		/* a YAML sequence of nvals values */
};

struct conffile_entry {
	TAILQ_ENTRY(conffile_entry) entry;
	char			*key;
	int			 line;
	enum conffile_type	 type;
	char			**vals;
	size_t			 nvals;
};

struct conffile {
	TAILQ_HEAD(, conffile_entry) entries;
	mode_t			 mode;		/* of the file */
};

/* the tunnel as the REST API describes it */
struct rest_tunnel {
	char		 id[SC_ID_LEN];
	char		 status[32];
	char		 host[SC_HOST_LEN];
	int		 ssh_port;
	char		 secret[SC_SECRET_LEN];
	char		 cert_sha256[SC_HASH_LEN];
	char		 tunnel_identifier[SC_HOST_LEN];
	int		 user_shutdown;	/* ended by a DELETE */
};

/* rest_*() results */
#define REST_OK		0
#define REST_EAUTH	-1	/* 401 */
#define REST_ENET	-2	/* no answer */
#define REST_EPROTO	-3	/* a bad answer */
#define REST_ENOTFOUND	-4	/* 404 */
#define REST_EABORT	-5	/* interrupted by a signal */
#define REST_ERATE	-6	/* 429, for longer than sc may wait */

/*
 * The helpers: kgpd processes first (--kgp-processes of them; the rest
 * of the SC_KGPD_MAX entries are off), then proxyd and pacd.  Tunnel
 * connection i lives in kgpd i % nkgpd (sc_kgpd_of()).
 */
enum child_id {
	CHILD_KGPD,		/* the first kgpd */
	CHILD_PROXYD = CHILD_KGPD + SC_KGPD_MAX,
	CHILD_PAC,		/* pacd, with --pac only */
	CHILD_MAX
};
#define CHILD_IS_KGPD(id)	((int)(id) >= CHILD_KGPD && \
				    (int)(id) < CHILD_KGPD + SC_KGPD_MAX)

struct child {
	enum child_id	 id;
	const char	*name;		/* in logs: "kgpd", "kgpd1", ... */
	const char	*prog;		/* its program: "kgpd" */
	uint32_t	 kgpd;		/* kgpd: which (0..nkgpd - 1) */
	char		 path[1024];
	pid_t		 pid;
	int		 off;		/* not wanted: pacd without --pac */
	int		 up;		/* a channel is open */
	int		 hello;		/* IMSG_HELLO received */
	int		 ever_hello;
	struct imsgev	 iev;
	struct timeval	 started;
	int		 backoff_ms;
	struct event	*restart_ev;
	struct event	*hello_ev;	/* SC_HELLO_TIMEOUT_SEC */
	int		 failed_starts;	/* in a row */
	int		 hung;		/* killed for want of a hello */
	char		 why[1536];	/* what went wrong last */
	uint32_t	 restarts;	/* started again after its hello */
	struct sc_stats	 stats;
	/* what it may send (sc.c); a bad one gets it restarted */
	const struct imsgev_peer *peer;
};

enum sc_state {
	SC_STARTING,		/* children starting, REST */
	SC_CONNECTING,		/* no tunnel connection up yet */
	SC_UP,			/* at least one tunnel connection up */
	SC_RECONNECTING,	/* all of them lost, reconnecting */
	SC_STOPPING
};

/* one tunnel connection, as the controller drives it (link.c) */
enum link_state {
	LINK_IDLE,		/* nothing under way */
	LINK_CONNECTING,	/* TCP connect in progress */
	LINK_WAITING,		/* backoff before the next attempt */
	LINK_HANDSHAKE,		/* socket handed to kgpd, not up yet */
	LINK_UP
};

struct link_proxy;
struct sandbox_files;

struct link {
	uint32_t		 index;
	enum link_state		 state;
	int			 ever_up;
	int			 fd;		/* while connecting */
	struct event		*conn_ev;
	struct event		*reconnect_ev;
	struct addrinfo		*ai_list;
	struct addrinfo		*ai_cur;
	long			 backoff_ms;	/* the next delay */
	int			 fails;		/* attempts failed in a row */
	int			 soon;		/* quick retries (LINK_SOON_MAX) */
	int			 asking;	/* waits for the REST API's answer */
	long			 wait_ms;	/* the delay last scheduled */
	struct timespec		 lost;		/* when it broke */
	struct link_proxy	*proxy;		/* CONNECT under way */
};

struct sc {
	struct sc_config	*conf;
	struct event_base	*base;
	enum sc_state		 state;
	time_t			 started;
	char			 rest_url[1024];

	/* the tunnel */
	int			 tunnel_created;
	struct rest_tunnel	 tunnel;
	char			*ca;		/* --tunnel-cainfo PEM */
	size_t			 calen;
	char			*app_ca;	/* --cacert-file, -system PEM */
	size_t			 app_calen;
	int			 scproxy_fd;	/* --scproxy-port, or -1 */
	int			 pac_fd;	/* --pac: the script, sealed */

	/* the tunnel connections (link.c) */
	int			 ever_up;
	time_t			 drain_deadline;	/* --wait-tunnel-shutdown */
	int			 drain_logged;
	int			 early_failures;
	uint32_t		 reconnects;
	uint64_t		 proxy_failures;	/* CONNECTs that failed */
	uint32_t		 nlinks;
	struct link		 links[SC_MAX_CONNECTIONS];
	uint32_t		 nkgpd;		/* kgpd processes, 1.. */
	struct event		*giveup_ev;	/* none up for too long */
	/* kgpd's view of them, from its last IMSG_STATS */
	uint32_t		 nlink_stats;
	struct sc_link_stats	 link_stats[SC_MAX_CONNECTIONS];

	/* shutdown */
	int			 exit_status;
	time_t			 stop_deadline;
	struct event		*stop_ev;

	/* timers and signals */
	struct event		*stats_ev;
	struct event		*sigpipe_ev;
	struct event		*sigchld_ev;
};

/* pac.c: --pac */
int		 pac_load(const char *);
int		 pac_relay_ask(struct imsgev *, struct imsg *);
int		 pac_relay_answer(struct imsgev *, struct imsg *);
void		 pac_died(void);
void		 pac_proxyd_died(void);

/* prepare.c: before the sandbox */
struct passwd;
void		 prep_nofile(void);
int		 prep_user(struct passwd *);
int		 prep_pem(const char *, const char *, char **, size_t *);
int		 prep_app_cas(const struct sc_config *, char **, size_t *);
int		 prep_pidfile(const char *);

/* console.c */
void		 console_init(const char *);
void		 config_usage(FILE *, int);
void		 sc_console(int, const char *, ...)
		    __attribute__((__format__ (printf, 2, 3)));
void		 sc_error(const char *, ...)
		    __attribute__((__format__ (printf, 1, 2)));
__attribute__((noreturn))
void		 sc_fatal(const char *, ...)
		    __attribute__((__format__ (printf, 1, 2)));

/* config.c */
extern char	*config_cainfo;		/* --cainfo */
void		 config_init(struct sc_config *);
void		 config_template(FILE *);
void		 config_free(struct sc_config *);
int		 config_parse(struct sc_config *, int, char **, char *, size_t);
int		 config_file_apply(struct sc_config *, const struct conffile *,
		    const char *, char *, size_t);

/* confval.c */
int		 config_default_connections(void);
int		 config_parse_bool(const char *);
void		 config_wipe_free(char *);
int		 config_error(char *, size_t, int, const char *, ...)
		    __attribute__((__format__ (printf, 4, 5)));
int		 config_set_string(char **, const char *, const char *, char *,
		    size_t);
int		 config_number(const char *, const char *, long long,
		    long long, long long *, char *, size_t);
int		 config_host_ok(const char *);
int		 config_userpwd(struct sc_config *, const char *,
		    const char *, char *, size_t);
int		 config_proxy(struct sc_config *, const char *, const char *,
		    int, uint16_t, char *, size_t);
char		*config_command(int, char **, const char *, const char *);
void		 config_hide_secrets(const struct sc_config *, int, char **);
void		 config_scrub_env(void);
int		 config_rules_add(struct sc_config *, int, const char *,
		    const char *, char *, size_t);
int		 config_rules_finish(struct sc_config *, char *, size_t);
int		 config_api(struct sc_config *, int, const char *,
		    const char *, char *, size_t);
void		 config_mask_api_auth(const struct sc_config *, char *);
int		 config_proxy_basic(const struct sc_config *, char **);
void		 config_proxy_from_env(struct sc_config *);
const char	*config_warning(void);
void		 config_warn_reset(void);
void		 config_warn_add(const char *, ...)
		    __attribute__((__format__ (printf, 1, 2)));
int		 config_env_name(const char *, char *, size_t);
int		 config_region_add(struct sc_config *, const char *,
		    const char *, char *, size_t);
const char	*config_region_url(const struct sc_config *, const char *);
int		 config_region_unknown(const struct sc_config *, char *,
		    size_t);

/* confproxy.c */
int		 config_proxy_opt(struct sc_config *, enum confproxy_opt,
		    const char *, const char *, char *, size_t);
void		 config_proxy_free(struct sc_config *);
void		 config_mask_auth(const struct sc_config *, char *);
void		 config_proxy_log(const struct sc_config *);
int		 config_proxy_finish(struct sc_config *, char *, size_t);
int		 config_scproxy_listen(int, char *, size_t);

/* conffile.c */
void		 conffile_init(struct conffile *);
void		 conffile_free(struct conffile *);
int		 conffile_parse(struct conffile *, const char *, const char *,
		    size_t, char *, size_t);
int		 conffile_load(struct conffile *, const char *, char *,
		    size_t);

/* rest.c */
int		 rest_init(const struct sc_config *,
		    volatile sig_atomic_t *);
void		 rest_cleanup(void);
void		 rest_abort_on_signal(int);
void		 rest_set_timeouts(long, long);
void		 rest_set_deadline(time_t);
int		 rest_id_ok(const char *);
int		 rest_create(const struct sc_config *, struct rest_tunnel *,
		    char *, size_t);
int		 rest_get(const char *, struct rest_tunnel *, char *, size_t);
typedef void	(*rest_get_cb)(void *, int, const struct rest_tunnel *,
		    const char *);
int		 rest_get_async(struct event_base *, const char *, long, long,
		    rest_get_cb, void *);
int		 rest_get_busy(void);
int		 rest_delete(const char *, char *, size_t);
int		 rest_remove_colliding(const char *, const char *, char *,
		    size_t);
int		 rest_endpoint(struct rest_tunnel *, char *, size_t);
time_t		 rest_server_date(void);

/* supervise.c */
/* what the controller hears of its helpers: supervise_init()'s callbacks */
struct supervise_cb {
	void	(*ready)(struct child *);	/* hello: up, or back */
	void	(*died)(struct child *);	/* gone, after its hello */
	void	(*stop)(int);			/* sc cannot go on */
};
extern struct child	 children[CHILD_MAX];
int		 supervise_init(struct sc *, const struct supervise_cb *,
		    const struct passwd *);
uint32_t	 supervise_nkgpd(const struct sc_config *);
void		 supervise_start_all(void);
void		 supervise_sigchld(void);
void		 supervise_stop_all(void);
int		 child_compose(struct child *, uint32_t, int, const void *,
		    size_t);
void		 child_set_verbose(int);
int		 child_ready(enum child_id);
struct child	*child_kgpd_of(uint32_t);
int		 child_kgpd_all_ready(void);
int		 child_hello(struct imsgev *, struct imsg *);
void		 child_channel_gone(struct imsgev *);
void		 child_bad(struct imsgev *, struct imsg *, enum imsgev_error,
		    const char *);
/* every child's first word, once: for the tables of childmsg.c */
#define CHILD_MSG_HELLO	{ IMSGEV_TYPE(IMSG_HELLO), \
	IMSGEV_SIZE(struct sc_hello), IMSGEV_HELLO | IMSGEV_ONCE, NULL, \
	child_hello }

/* childmsg.c */
void		 childmsg_init(struct sc *, void (*)(int, short, void *));
void		 childmsg_ready(struct child *);
void		 childmsg_died(struct child *);
void		 childmsg_kgp_config(void);
int		 childmsg_stats_request(void);
uint32_t	 childmsg_kgpd_all(uint32_t, int);
uint32_t	 childmsg_kgpd_stats_sum(struct sc_stats *);
int		 childmsg_streams_request(void);
int		 childmsg_reconnect(void);

/* spawner.c */
int		 spawner_init(struct sc *, struct child *,
		    const struct passwd *);
pid_t		 spawner_start(struct child *, int, int, int, char *,
		    size_t);
int		 spawner_exited(pid_t);
int		 spawner_readyfile(const char *);
void		 spawner_cleanup(void);
void		 spawner_sandbox_files(struct sandbox_files *, int);

/* link.c */
/* what the controller hears of the connections: link_init()'s callbacks */
struct link_cb {
	int	(*ready)(void);		/* the first one up, the first time,
					   before it is said: -1, sc stops */
	void	(*up)(void);		/* ... once it is said */
	void	(*stop)(int);		/* sc cannot go on */
};
void		 link_init(struct sc *, const struct link_cb *);
void		 link_early(void);
void		 kgp_config_base(struct kgp_config *, const char *, uint32_t);
void		 link_start_all(void);
void		 link_cancel_all(void);
void		 link_up(const struct kgp_link_event *);
void		 link_down(const struct kgp_link_event *);
void		 link_fatal(const char *);
void		 link_kgpd_died(uint32_t);
void		 link_start_kgpd(uint32_t);
uint32_t	 link_status(struct sc_link_stats *);

/* control.c */
/* what the control socket asks of the controller: control_listen()'s */
/* streams_request(): whom it asked: proxyd, kgpd i */
#define CTL_ASK_PROXYD		0x01
#define CTL_ASK_KGPD_SHIFT	1
#define CTL_ASK_KGPD(i)		(1U << ((i) + CTL_ASK_KGPD_SHIFT))
struct control_cb {
	void	(*status)(struct ctl_status *, struct sc_link_stats *);
	int	(*stats_request)(void);	/* kgpd's figures: 0, or -1 */
	void	(*stop)(int);		/* IMSG_CTL_STOP */
	int	(*reconnect)(void);	/* IMSG_CTL_RECONNECT: 0, or -1 */
	int	(*streams_request)(void); /* IMSG_STREAMS_REQ to kgpd and */
					/* proxyd: whom, as CTL_ASK_* */
};
int		 control_init(const char *, char *, size_t);
void		 control_listen(struct event_base *, const struct control_cb *);
void		 control_cleanup(void);
void		 control_status_ready(void);
void		 control_streams_answer(uint32_t, const void *, size_t);

/* doctor.c */
int		 doctor_run(const struct sc_config *, volatile sig_atomic_t *);

/* api.c */
/* what the API asks of the controller: api_listen()'s */
struct api_cb {
	void	(*status)(struct ctl_status *, struct sc_link_stats *);
};
int		 api_init(const struct sc_config *, char *, size_t);
void		 api_listen(struct sc *, const struct api_cb *);

#endif /* SC_CONTROLLER_H */
