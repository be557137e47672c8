/*
 * PAC (proxy auto-config, --pac): the limits of the PAC process and of
 * proxyd's use of it, and the parser of FindProxyForURL()'s answer
 * ("DIRECT", "PROXY a:1; SOCKS b:2; DIRECT"), which proxyd runs on what
 * the PAC process sends: that process runs the operator's JavaScript
 * and is trusted no further than its answer's syntax.
 */
#ifndef SC_PACANS_H
#define SC_PACANS_H

#include <stddef.h>

#include "proxyopt.h"

#define PAC_SCRIPT_MAX		(256 * 1024)	/* a PAC file or URL's body */
#define PAC_FETCH_SEC		10	/* fetching a PAC URL, all of it */
#define PAC_CALL_MS		100	/* one FindProxyForURL() call */
#define PAC_CACHE_SEC		30	/* proxyd keeps an answer per host */
#define PAC_CACHE_MAX		256	/* hosts in proxyd's cache */
#define PAC_WAIT_MS		500	/* proxyd waits for an answer */
#define PAC_INFLIGHT_MAX	64	/* questions the controller relays */
#define PAC_ANSWER_LEN		1024	/* an answer, its NUL included */
#define PAC_ANSWER_MAX		8	/* entries of an answer that are used */
#define PAC_PROXY_PORT		80	/* PROXY host without a port */
#define PAC_SOCKS_PORT		1080	/* SOCKS host without a port */
#define PAC_HTTPS_PORT		443	/* HTTPS host without a port */

/*
 * One entry of an answer: scheme UPX_NONE is DIRECT.  The first n
 * entries of out[] are filled, in the answer's order; entries sc cannot
 * use (HTTPS, SOCKS4, unknown words) are skipped.  -1 and a reason in
 * err when nothing usable is left: the caller goes DIRECT.
 */
int	 pacans_parse(const char *, size_t, struct upproxy *, int,
	    char *, size_t);

#endif /* SC_PACANS_H */
