/*
 * proxyd: the forward proxy worker.  Every stream kgpd hands over is
 * served as an accepted client connection of a non-caching HTTP/1.1
 * forward proxy.
 */
#ifndef PROXYD_H
#define PROXYD_H

#include <sys/types.h>
#include <sys/queue.h>
#include <sys/socket.h>

#include <stdint.h>

#include <event2/event.h>
#include <event2/dns.h>

#include "http.h"
#include "imsg_types.h"
#include "proc.h"
#include "proxyopt.h"

#define PROXYD_CONNECT_TIMEOUT_MS	10000	/* after the name is resolved */
#define PROXYD_TLS_TIMEOUT_MS		10000	/* a TLS handshake with an app */
#define PROXYD_TLS_SESSIONS		256	/* TLS sessions kept to resume */
#define PROXYD_WARM_MS			5000	/* a warmed-up connection unused */
#define PROXYD_DNS_TIMEOUT_MS		5000	/* resolving a name, in all */
#define PROXYD_DNS_TRY_SEC		"2"	/* one query (evdns timeout:) */
#define PROXYD_DNS_TRIES		"3"	/* per query (evdns attempts:) */
#define PROXYD_MAXADDR			8	/* addresses tried a name */
/*
 * The bytes all streams together hold in their buffers, about: with
 * many streams open each side of one holds at most its share of this
 * (relay_share), at least PROXYD_SHARE_MIN, at most RELAY_READ_HIGH.
 */
#define PROXYD_BUFFER_BUDGET		(16 * 1024 * 1024)
#define PROXYD_SHARE_MIN		(4 * 1024)

struct listener;

struct proxyd {
	struct event_base	*base;
	struct evdns_base	*dns;		/* the system's resolver */
	/*
	 * --dns: a resolver for each name server, tried in order (the
	 * first, then the others when it fails or is silent), or one for
	 * all of them, which evdns uses in turn (--dns-round-robin)
	 */
	struct evdns_base	*dnsb[PROXYOPT_DNS_MAX];
	char			 dns_name[PROXYOPT_DNS_MAX][64];
	int			 ndns;
	uint32_t		 dns_timeout_ms;	/* one base's bound */
	struct proxyopt		 po;	/* -a, -H, -R, networks */
	int			 configured;	/* IMSG_PROXY_CONFIG came */
	int			 local_via;	/* localhost through -x too */
	int			 pac;		/* --pac: ask pacd */
	struct listener		*scproxy;	/* --scproxy-port */
	uint32_t		 local_id;	/* its streams' ids */
	struct imsgev		 iev_main;	/* the controller, fd 3 */
	/* each kgpd's channel: the first's is fd 4, the others' come */
	/* (and any after a restart) with IMSG_PEER_KGPD; closed: fd -1 */
	struct imsgev		 iev_kgpd[SC_KGPD_MAX];
	uint32_t		 connect_timeout_ms;
	uint32_t		 tls_timeout_ms;
	uint32_t		 header_timeout_ms;	/* 0: none */
	uint32_t		 idle_conn_timeout_ms;	/* 0: none */
	uint32_t		 idle_timeout_sec;
	int			 hand_off;	/* app sockets to kgpd: */
						/* tunnels, long answers */
	struct sc_stats		 stats;
};

extern struct proxyd	*env;

/* relay.c (its other files share relay_int.h) */
void	 relay_init(void);
void	 relay_config(const struct proxy_config *);
int	 relay_ca(const void *, size_t);
int	 relay_opt(uint32_t, const char *);
int	 relay_listen(int);
void	 relay_stream(int, uint32_t, uint64_t, const char *, uint32_t);
void	 relay_shutdown(void);
size_t	 relay_streams(void *, size_t);

/* relay_pac.c */
void	 pac_answer(uint32_t, const char *);
void	 pac_shutdown(void);

/* relay_move.c */
void	 relay_switched(uint32_t, uint64_t, int);
void	 relay_lent(uint32_t, uint64_t, int, uint64_t, int);

#endif /* PROXYD_H */
