/*
 * The validators of the payloads of imsg_types.h: 0 when a payload of
 * len bytes fits its message, -1 when it does not.  Each is declared
 * next to its message's payload.
 */
#include <sys/types.h>
#include <sys/resource.h>

#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "config.h"
#include "imsg_types.h"
#include "kgp.h"
#include "proxyopt.h"

_Static_assert(SC_RTT_BUCKETS == KGP_RTT_BUCKETS, "SC_RTT_BUCKETS");

/* This process's CPU time and peak resident memory into st. */
void
sc_stats_self(struct sc_stats *st)
{
	struct rusage	 ru;

	if (getrusage(RUSAGE_SELF, &ru) == -1)
		return;
	st->cpu_us = (uint64_t)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) *
	    1000000 + ru.ru_utime.tv_usec + ru.ru_stime.tv_usec;
	st->maxrss_kib = (uint64_t)ru.ru_maxrss;
}

int
imsg_log_valid(const void *p, size_t len)
{
	const char	*s = (const char *)p + sizeof(int32_t);
	int32_t		 pri;

	if (len <= sizeof(pri))
		return (-1);
	memcpy(&pri, p, sizeof(pri));
	len -= sizeof(pri);
	if (pri < LOG_EMERG || pri > LOG_DEBUG ||
	    memchr(s, '\0', len) != s + len - 1)
		return (-1);
	return (0);
}

int
kgp_config_valid(const void *p, size_t len)
{
	const struct kgp_config	*c = p;

	if (len != sizeof(*c) || !FIELD_STR(c->tunnel_id) ||
	    !FIELD_STR(c->secret) || !FIELD_STR(c->server_name) ||
	    !FIELD_STR(c->pin) || c->connections < 1 ||
	    c->connections > SC_MAX_CONNECTIONS ||
	    !FIELD_STR(c->congestion) ||
	    kgp_congestion_valid(c->congestion) == -1)
		return (-1);
	return (0);
}

int
proxy_config_valid(const void *p, size_t len)
{
	const struct proxy_config	*c = p;

	return (len != sizeof(*c) || !FIELD_STR(c->dns_servers) ? -1 : 0);
}

/* a kind of enum proxyopt_kind, its text a string */
int
proxy_opt_valid(const void *p, size_t len)
{
	const struct proxy_opt	*o = p;

	return (len != sizeof(*o) || o->kind < 1 || o->kind >= PO_KIND_MAX ||
	    !FIELD_STR(o->text) ? -1 : 0);
}

int
stream_info_valid(const void *p, size_t len)
{
	const struct stream_info	*si = p;

	return (len != sizeof(*si) || !FIELD_STR(si->peer) ? -1 : 0);
}

int
stream_lent_valid(const void *p, size_t len)
{
	const struct stream_lent	*lt = p;

	return (len != sizeof(*lt) || lt->how > KGP_LENT_GONE ? -1 : 0);
}

int
stream_moved_valid(const void *p, size_t len)
{
	const struct stream_moved	*m = p;

	return (len != sizeof(*m) || m->ok > 1 ? -1 : 0);
}

/*
 * A host pacd may put in a URL and a JavaScript string: letters,
 * digits, '.', '-', '_' and ':' (IPv6), nothing that quotes or escapes.
 */
int
pac_ask_valid(const void *p, size_t len)
{
	const struct pac_ask	*a = p;
	size_t			 i;

	if (len != sizeof(*a) || a->tls > 1 || !FIELD_STR(a->host) ||
	    a->host[0] == '\0')
		return (-1);
	for (i = 0; a->host[i] != '\0'; i++)
		if (!isalnum((unsigned char)a->host[i]) &&
		    strchr(".-_:", a->host[i]) == NULL)
			return (-1);
	return (0);
}

int
kgp_link_event_valid(const void *p, size_t len)
{
	const struct kgp_link_event	*ev = p;

	if (len != sizeof(*ev) || ev->index >= SC_MAX_CONNECTIONS ||
	    ev->resumed > 1 || ev->resumable > 1 || ev->code > UINT16_MAX ||
	    !FIELD_STR(ev->reason))
		return (-1);
	return (0);
}

/* links in order of their index, each in a state that exists */
int
sc_stats_links_valid(const void *p, size_t len)
{
	struct sc_link_stats	 ls;
	const char		*l = (const char *)p + sizeof(struct sc_stats);
	size_t			 i, n;

	if (len < sizeof(struct sc_stats) || len > SC_STATS_MAX ||
	    (len - sizeof(struct sc_stats)) % sizeof(ls) != 0)
		return (-1);
	n = (len - sizeof(struct sc_stats)) / sizeof(ls);
	for (i = 0; i < n; i++) {
		memcpy(&ls, l + i * sizeof(ls), sizeof(ls));
		if (ls.index != i || ls.state > SC_LINK_CONNECTING)
			return (-1);
	}
	return (0);
}

int
imsg_verbose_valid(const void *p, size_t len)
{
	int32_t	 v;

	if (len != sizeof(v))
		return (-1);
	memcpy(&v, p, sizeof(v));
	return (v < SC_VERBOSE_MIN || v > SC_VERBOSE_MAX ? -1 : 0);
}

int
ctl_status_valid(const void *p, size_t len)
{
	struct ctl_status	 st;

	if (len < sizeof(st))
		return (-1);
	memcpy(&st, p, sizeof(st));
	if (!FIELD_STR(st.tunnel_id) || !FIELD_STR(st.tunnel_name) ||
	    !FIELD_STR(st.server) || !FIELD_STR(st.state) ||
	    st.nlinks > SC_MAX_CONNECTIONS ||
	    len != sizeof(st) + st.nlinks * sizeof(struct sc_link_stats))
		return (-1);
	return (0);
}

int
stream_move_valid(const void *p, size_t len)
{
	struct stream_move	 m;

	if (len != sizeof(m))
		return (-1);
	memcpy(&m, p, sizeof(m));
	return (FIELD_STR(m.target) && m.tls <= 1 ? 0 : -1);
}

int
stream_moved_tls_valid(const void *p, size_t len)
{
	struct stream_moved_tls	 m;
	int			 r;

	if (len < sizeof(m) || len - sizeof(m) > SC_TLS_LEFT_MAX)
		return (-1);
	memcpy(&m, p, sizeof(m));
	r = tls_rec_check(&m.keys);
	explicit_bzero(&m, sizeof(m));
	return (r);
}

int
sc_streams_valid(const void *p, size_t len)
{
	struct sc_streams	 h;
	struct sc_stream	 st;
	const char		*l = (const char *)p + sizeof(h);
	uint32_t		 i;

	if (len < sizeof(h) || len > SC_STREAMS_MAX)
		return (-1);
	memcpy(&h, p, sizeof(h));
	if (h.n > SC_STREAMS_LIST || h.n > h.total ||
	    len != sizeof(h) + h.n * sizeof(st))
		return (-1);
	for (i = 0; i < h.n; i++) {
		memcpy(&st, l + i * sizeof(st), sizeof(st));
		if (!FIELD_STR(st.target) || st.conn >= SC_MAX_CONNECTIONS)
			return (-1);
	}
	return (0);
}

/*
 * The control socket of tunnel name (NULL or "": "default"), for sc and
 * sc-ctl alike: SC_RUNDIR as root, else $XDG_RUNTIME_DIR when it is an
 * absolute path, else /tmp; the file is sc.NAME.sock, with what is not
 * a letter, a digit, '-', '_' or '.' in the name made '_'.  -1 when it
 * does not fit.
 */
int
sc_ctl_path(const char *name, char *buf, size_t len)
{
	const char	*dir;
	char		 clean[SC_HOST_LEN];
	size_t		 i;
	int		 n;

	if (name == NULL || *name == '\0')
		name = "default";
	for (i = 0; name[i] != '\0' && i < sizeof(clean) - 1; i++)
		clean[i] = (isalnum((unsigned char)name[i]) ||
		    name[i] == '-' || name[i] == '_' || name[i] == '.') ?
		    name[i] : '_';
	clean[i] = '\0';
	if (geteuid() == 0)
		dir = SC_RUNDIR;
	else if ((dir = getenv("XDG_RUNTIME_DIR")) == NULL || *dir != '/')
		dir = "/tmp";
	n = snprintf(buf, len, "%s/sc.%s.sock", dir, clean);
	return (n < 0 || (size_t)n >= len ? -1 : 0);
}
