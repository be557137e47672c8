/*
 * Small pure helpers of sc-server: addresses, HTTP Basic
 * credentials, validation of the tunnel settings a client POSTs, of
 * tunnel ids, of account names and of the names a leaf certificate
 * may be made for.  No
 * global state here, so the unit tests compile this file alone.
 */
#include <sys/types.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <arpa/inet.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "http.h"
#include "log.h"
#include "rules.h"
#include "server.h"
#include "text.h"

/*
 * "addr:port" or "[v6addr]:port" into host and port, port 0 meaning any
 * (the kernel chooses).  With port NULL the whole string is an address
 * (an IPv6 one with or without brackets).  The syntax is
 * http_parse_authority()'s, as everywhere else.
 */
int
parse_hostport(const char *s, char *host, size_t hostlen, char *port,
    size_t portlen)
{
	struct http_authority	 a;

	if (s == NULL || http_parse_authority(s, strlen(s), 0,
	    port == NULL ? HTTP_AUTH_NOPORT : HTTP_AUTH_PORT0, &a) == -1)
		return (-1);
	if (strlcpy(host, a.host, hostlen) >= hostlen ||
	    (port != NULL && strlcpy(port, a.port, portlen) >= portlen))
		return (-1);
	return (0);
}

static int
b64val(int c)
{
	if (c >= 'A' && c <= 'Z')
		return (c - 'A');
	if (c >= 'a' && c <= 'z')
		return (c - 'a' + 26);
	if (c >= '0' && c <= '9')
		return (c - '0' + 52);
	if (c == '+')
		return (62);
	if (c == '/')
		return (63);
	return (-1);
}

/*
 * Standard base64 (padding optional) into out, at most outlen bytes.
 * Returns 0 and the length in *len, or -1 on bad input or no room.
 */
int
rest_base64_decode(const char *in, uint8_t *out, size_t outlen,
    size_t *len)
{
	size_t		 n = 0, i, inlen, pad = 0;
	uint32_t	 acc = 0;
	int		 bits = 0, v;

	inlen = strlen(in);
	while (inlen > 0 && in[inlen - 1] == '=' && pad < 2) {
		inlen--;
		pad++;
	}
	if (pad > 0 && (inlen + pad) % 4 != 0)
		return (-1);
	if (inlen % 4 == 1)
		return (-1);
	for (i = 0; i < inlen; i++) {
		if ((v = b64val((unsigned char)in[i])) == -1)
			return (-1);
		acc = (acc << 6) | v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (n >= outlen)
				return (-1);
			out[n++] = (acc >> bits) & 0xff;
		}
	}
	/* the leftover bits must be zero */
	if (bits > 0 && (acc & ((1U << bits) - 1)) != 0)
		return (-1);
	*len = n;
	return (0);
}

/*
 * An Authorization header value "Basic base64(user:key)".  Returns 0 with
 * user and key, or -1.  The decoded bytes are wiped.
 */
int
rest_basic_auth(const char *hdr, char *user, size_t userlen, char *key,
    size_t keylen)
{
	uint8_t		 buf[512];
	char		 enc[1024];
	const char	*p;
	size_t		 n, ul, el;
	uint8_t		*colon;
	int		 ret = -1;

	if (hdr == NULL)
		return (-1);
	p = hdr;
	while (*p == ' ' || *p == '\t')
		p++;
	if (strncasecmp(p, "Basic", 5) != 0 || (p[5] != ' ' && p[5] != '\t'))
		return (-1);
	p += 5;
	while (*p == ' ' || *p == '\t')
		p++;
	el = strcspn(p, " \t");
	if (el == 0 || el >= sizeof(enc) || p[el + strspn(p + el, " \t")] !=
	    '\0')
		return (-1);
	memcpy(enc, p, el);
	enc[el] = '\0';
	if (rest_base64_decode(enc, buf, sizeof(buf) - 1, &n) == -1)
		goto done;
	buf[n] = '\0';
	if (memchr(buf, '\0', n) != NULL)
		goto done;
	if ((colon = memchr(buf, ':', n)) == NULL)
		goto done;
	ul = colon - buf;
	if (ul == 0 || ul >= userlen || n - ul - 1 >= keylen)
		goto done;
	memcpy(user, buf, ul);
	user[ul] = '\0';
	memcpy(key, colon + 1, n - ul - 1);
	key[n - ul - 1] = '\0';
	ret = 0;
 done:
	explicit_bzero(buf, sizeof(buf));
	explicit_bzero(enc, sizeof(enc));
	return (ret);
}

/* A JSON string of at most max bytes, each a printable one. */
static int
json_text(json_t *v, size_t max)
{
	size_t	 len;

	if (!json_is_string(v) || (len = json_string_length(v)) > max)
		return (0);
	/* a NUL counts as a control character: no cut string either */
	return (text_ctlspan(json_string_value(v), len, 0) == len);
}

/* NULL, or an array of at most TUNNEL_ARRAY_MAX short strings */
static int
string_array(json_t *v)
{
	json_t	*e;
	size_t	 i;

	if (!json_is_array(v) || json_array_size(v) > TUNNEL_ARRAY_MAX)
		return (0);
	json_array_foreach(v, i, e) {
		if (!json_text(e, TUNNEL_STRING_MAX))
			return (0);
	}
	return (1);
}

/* The levels of v, counted up to limit + 1 at most. */
static int
json_depth(json_t *v, int limit)
{
	json_t		*e;
	const char	*k;
	size_t		 i;
	int		 d, max = 0;

	if (!json_is_object(v) && !json_is_array(v))
		return (0);
	if (limit <= 0)
		return (1);
	if (json_is_object(v)) {
		json_object_foreach(v, k, e)
			if ((d = json_depth(e, limit - 1)) > max)
				max = d;
	} else {
		json_array_foreach(v, i, e)
			if ((d = json_depth(e, limit - 1)) > max)
				max = d;
	}
	return (max + 1);
}

/* The bytes of v as compact JSON, as the registry has it. */
static size_t
json_size(json_t *v)
{
	return (json_dumpb(v, NULL, 0, JSON_COMPACT | JSON_ENCODE_ANY));
}

/*
 * The traffic rules of a POST .../tunnels: each list in its field
 * (rules_field()), an array of strings, one rule each.  They are parsed
 * and compiled here as the entry proxy will (once more, in the KGP
 * worker), so that a bad one is a 400 that names it.  The lists found go
 * into *out, an object (NULL when there are none).  Returns 0 or the
 * HTTP status, with a message in err.
 */
static int
tunnel_rules_check(json_t *body, json_t **out, char *err, size_t errlen)
{
	struct rules	*r;
	json_t		*v, *e, *lists = NULL;
	const char	*field;
	char		 msg[512];
	size_t		 i;
	int		 l, syn, status = 0;

	*out = NULL;
	if ((r = rules_new()) == NULL) {
		snprintf(err, errlen, "out of memory");
		return (500);
	}
	for (l = 0; l < RULES_NLISTS && status == 0; l++)
		for (syn = RULES_V4; syn <= RULES_V5 && status == 0; syn++) {
			if ((field = rules_field(l, syn)) == NULL)
				continue;
			v = json_object_get(body, field);
			if (v == NULL || json_is_null(v))
				continue;
			if (!string_array(v)) {
				snprintf(err, errlen, "\"%s\" must be an array "
				    "of at most %d strings of at most %d "
				    "printable bytes", field, TUNNEL_ARRAY_MAX,
				    TUNNEL_STRING_MAX);
				status = 400;
				break;
			}
			json_array_foreach(v, i, e) {
				if (rules_add(r, l, syn, json_string_value(e),
				    msg, sizeof(msg)) == -1) {
					snprintf(err, errlen, "\"%s\": %s",
					    field, msg);
					status = 400;
					break;
				}
			}
			if (status == 0 && ((lists == NULL &&
			    (lists = json_object()) == NULL) ||
			    json_object_set(lists, field, v) == -1)) {
				snprintf(err, errlen, "out of memory");
				status = 500;
			}
		}
	if (status == 0 && rules_compile(r, msg, sizeof(msg)) == -1) {
		snprintf(err, errlen, "traffic rules: %s", msg);
		status = 400;
	}
	rules_free(r);
	if (status != 0)
		json_decref(lists);
	else
		*out = lists;
	return (status);
}

/*
 * Check the body of a POST .../tunnels and copy its settings into t; the
 * bytes they take go to t->size.  Unknown members are ignored; known ones
 * must have the right type (null counts as absent).  Returns 0, or the
 * HTTP status to answer (400: a bad member, 413: too large, 500: out of
 * memory) with a message in err.  What passes here always loads back
 * from the registry (state.c checks each tunnel with this very function).
 */
int
rest_tunnel_settings(json_t *body, struct tunnel *t, char *err,
    size_t errlen)
{
	static const char	*bools[] = { "shared_tunnel", "use_kgp",
	    "tunnel_pool", "use_caching_proxy", "no_proxy_caching" };
	json_t			*v, *lists = NULL, *all;
	int			*b[5];
	int			 bv[5], status;
	const char		*ident = NULL, *vm = NULL, *k;
	json_t			*meta = NULL;
	size_t			 i, n;

	b[0] = &t->shared_tunnel;
	b[1] = &t->use_kgp;
	b[2] = &t->tunnel_pool;
	b[3] = &t->use_caching_proxy;
	b[4] = &t->no_proxy_caching;

	if (!json_is_object(body)) {
		snprintf(err, errlen, "the request body must be a JSON "
		    "object");
		return (400);
	}
	v = json_object_get(body, "tunnel_identifier");
	if (v != NULL && !json_is_null(v)) {
		if (!json_text(v, TUNNEL_STRING_MAX)) {
			snprintf(err, errlen, "\"tunnel_identifier\" must be "
			    "a string of at most %d printable bytes",
			    TUNNEL_STRING_MAX);
			return (400);
		}
		ident = json_string_value(v);
	}
	v = json_object_get(body, "vm_version");
	if (v != NULL && !json_is_null(v)) {
		if (!json_text(v, TUNNEL_VM_VERSION_MAX)) {
			snprintf(err, errlen, "\"vm_version\" must be a string "
			    "of at most %d printable bytes",
			    TUNNEL_VM_VERSION_MAX);
			return (400);
		}
		vm = json_string_value(v);
	}
	for (i = 0; i < 5; i++) {
		bv[i] = *b[i];
		v = json_object_get(body, bools[i]);
		if (v == NULL || json_is_null(v))
			continue;
		if (!json_is_boolean(v)) {
			snprintf(err, errlen, "\"%s\" must be true or false",
			    bools[i]);
			return (400);
		}
		bv[i] = json_is_true(v);
	}
	v = json_object_get(body, "metadata");
	if (v != NULL && !json_is_null(v)) {
		if (!json_is_object(v)) {
			snprintf(err, errlen, "\"metadata\" must be an "
			    "object");
			return (400);
		}
		if (json_depth(v, TUNNEL_META_DEPTH) > TUNNEL_META_DEPTH) {
			snprintf(err, errlen, "\"metadata\" is nested more "
			    "than %d levels deep", TUNNEL_META_DEPTH);
			return (400);
		}
		if ((n = json_size(v)) == 0) {
			snprintf(err, errlen, "out of memory");
			return (500);
		}
		if (n > TUNNEL_META_MAX) {
			snprintf(err, errlen, "\"metadata\" takes %zu bytes "
			    "(compact JSON), more than %d", n, TUNNEL_META_MAX);
			return (413);
		}
		meta = v;
	}
	/* the settings as the registry will hold them, in bytes */
	if ((all = json_object()) == NULL ||
	    (ident != NULL && json_object_set_new(all, "tunnel_identifier",
	    json_string(ident)) == -1) ||
	    (vm != NULL && json_object_set_new(all, "vm_version",
	    json_string(vm)) == -1) ||
	    (meta != NULL && json_object_set(all, "metadata", meta) == -1) ||
	    (n = json_size(all)) == 0) {
		json_decref(all);
		snprintf(err, errlen, "out of memory");
		return (500);
	}
	/* the rules last: their size is checked before they are compiled */
	json_object_foreach(body, k, v) {
		enum rules_list		 rl;
		enum rules_syntax	 rs;

		if (rules_field_lookup(k, &rl, &rs) == 0 && !json_is_null(v) &&
		    json_object_set(all, k, v) == -1) {
			json_decref(all);
			snprintf(err, errlen, "out of memory");
			return (500);
		}
	}
	n = json_size(all);
	json_decref(all);
	if (n > TUNNEL_SETTINGS_MAX) {
		snprintf(err, errlen, "the tunnel's settings take %zu bytes "
		    "(compact JSON), more than %d", n, TUNNEL_SETTINGS_MAX);
		return (413);
	}
	if ((status = tunnel_rules_check(body, &lists, err, errlen)) != 0)
		return (status);

	/* all checked: copy */
	if (ident != NULL && (t->identifier = strdup(ident)) == NULL)
		goto nomem;
	if (vm != NULL && (t->vm_version = strdup(vm)) == NULL)
		goto nomem;
	if (lists != NULL) {
		t->rule_lists = json_deep_copy(lists);
		json_decref(lists);
		if (t->rule_lists == NULL)
			goto nomem;
	}
	if (meta != NULL && (t->metadata = json_deep_copy(meta)) == NULL)
		goto nomem;
	for (i = 0; i < 5; i++)
		*b[i] = bv[i];
	t->size = n + TUNNEL_RECORD_FIXED;
	return (0);
 nomem:
	snprintf(err, errlen, "out of memory");
	return (500);
}

/*
 * Replace path with len bytes: a temporary file, fsync, rename, fsync of
 * the directory, so that what returns 0 is on disk, under its name.
 * Returns -1 with errno set (ENOSPC for a full disk, say) otherwise.
 */
int
write_file_atomic(const char *path, const void *buf, size_t len,
    mode_t mode)
{
	char		 tmp[PATH_MAX], dir[PATH_MAX], *slash;
	const char	*p = buf;
	ssize_t		 n;
	int		 fd, saved;

	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", path) >=
	    sizeof(tmp)) {
		errno = ENAMETOOLONG;
		return (-1);
	}
	unlink(tmp);
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
	    mode)) == -1)
		return (-1);
	while (len > 0) {
		if ((n = write(fd, p, len)) == -1) {
			if (errno == EINTR)
				continue;
			goto fail;
		}
		p += n;
		len -= n;
	}
	if (fsync(fd) == -1)
		goto fail;
	n = close(fd);
	fd = -1;
	if (n == -1 || rename(tmp, path) == -1)
		goto fail;
	strlcpy(dir, path, sizeof(dir));
	if ((slash = strrchr(dir, '/')) == NULL)
		strlcpy(dir, ".", sizeof(dir));
	else if (slash == dir)
		dir[1] = '\0';
	else
		*slash = '\0';
	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		return (-1);
	if (fsync(fd) == -1) {
		saved = errno;
		close(fd);
		errno = saved;
		return (-1);
	}
	close(fd);
	return (0);
 fail:
	saved = errno;
	if (fd != -1)
		close(fd);
	unlink(tmp);
	errno = saved;
	return (-1);
}

/* "ip:port" or "[ip6]:port"; *port gets the port. */
int
sockaddr_string(const struct sockaddr *sa, socklen_t salen, char *buf,
    size_t len, int *port)
{
	char	 h[NI_MAXHOST], s[NI_MAXSERV];

	if (getnameinfo(sa, salen, h, sizeof(h), s, sizeof(s),
	    NI_NUMERICHOST | NI_NUMERICSERV) != 0)
		return (-1);
	if (port != NULL)
		*port = atoi(s);
	if (sa->sa_family == AF_INET6)
		snprintf(buf, len, "[%s]:%s", h, s);
	else
		snprintf(buf, len, "%s:%s", h, s);
	return (0);
}

/* A tunnel id: TUNNEL_ID_LEN lowercase hex digits. */
int
tunnel_id_valid(const char *id)
{
	return (strlen(id) == TUNNEL_ID_LEN &&
	    strspn(id, "0123456789abcdef") == TUNNEL_ID_LEN);
}

/* A node's name (--node): [A-Za-z0-9._-], 1 to NODE_NAME_MAX - 1. */
int
node_name_valid(const char *s)
{
	size_t	 n = strlen(s);

	return (n > 0 && n < NODE_NAME_MAX && strspn(s, NODE_NAME_CHARS) == n);
}

/*
 * An account name: letters, digits and ._@+-, neither - nor . first, at
 * most ACCOUNT_NAME_MAX.
 */
int
account_name_valid(const char *name)
{
	return (name_valid(name, ACCOUNT_NAME_MAX));
}

/*
 * A name of an account, an organisation or a team: 1 to max characters
 * of A-Z a-z 0-9 . _ @ + -, not starting with - or . (so no markup, no
 * space, no control character).
 */
int
name_valid(const char *name, size_t max)
{
	size_t	 len = strlen(name);

	if (len == 0 || len > max)
		return (0);
	if (name[0] == '-' || name[0] == '.')
		return (0);
	if (strspn(name, "abcdefghijklmnopqrstuvwxyz"
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._@+-") != len)
		return (0);
	return (1);
}

/*
 * A name a leaf certificate may be made for (the CA signs nothing
 * else): an IPv4 or IPv6 address as inet_ntop() writes it, or a host
 * name of 1 to CERT_NAME_MAX bytes in lowercase, its labels of 1 to 63
 * letters, digits, "-" and "_", none beginning or ending with "-", the
 * last one not all digits (that is a bad address), no trailing dot.  So
 * no wildcard, no list, no space, nothing that is not a host.
 */
int
cert_name_valid(const char *name)
{
	unsigned char	 addr[16];
	char		 buf[INET6_ADDRSTRLEN];
	const char	*label, *p;
	size_t		 len, n;
	int		 digits;

	len = strnlen(name, CERT_NAME_MAX + 1);
	if (len == 0 || len > CERT_NAME_MAX)
		return (0);
	if (inet_pton(AF_INET, name, addr) == 1)
		return (inet_ntop(AF_INET, addr, buf, sizeof(buf)) != NULL &&
		    strcmp(buf, name) == 0);
	if (strchr(name, ':') != NULL)
		return (inet_pton(AF_INET6, name, addr) == 1 &&
		    inet_ntop(AF_INET6, addr, buf, sizeof(buf)) != NULL &&
		    strcmp(buf, name) == 0);
	label = name;
	for (;;) {
		n = strcspn(label, ".");
		if (n == 0 || n > 63 || label[0] == '-' || label[n - 1] == '-')
			return (0);
		digits = 1;
		for (p = label; p < label + n; p++) {
			if ((*p < 'a' || *p > 'z') && (*p < '0' || *p > '9') &&
			    *p != '-' && *p != '_')
				return (0);
			if (*p < '0' || *p > '9')
				digits = 0;
		}
		if (label[n] == '\0')
			return (!digits);
		label += n + 1;
	}
}

/*
 * The name a browser gave (an SNI, a CONNECT's host) in the form
 * cert_name_valid() takes: lowercase, one trailing dot and IPv6
 * brackets gone, addresses as inet_ntop() writes them.  Returns 0, or
 * -1 when it is no such name.
 */
int
cert_name_canon(const char *in, char *out, size_t outlen)
{
	unsigned char	 addr[16];
	char		 buf[CERT_NAME_MAX + 2];
	size_t		 len, i;

	len = strnlen(in, sizeof(buf));
	if (len == 0 || len >= sizeof(buf))
		return (-1);
	if (in[0] == '[' && in[len - 1] == ']') {
		in++;
		len -= 2;
	}
	memcpy(buf, in, len);
	buf[len] = '\0';
	if (len > 1 && buf[len - 1] == '.' && strchr(buf, ':') == NULL)
		buf[--len] = '\0';
	for (i = 0; i < len; i++)
		if (buf[i] >= 'A' && buf[i] <= 'Z')
			buf[i] += 'a' - 'A';
	if (inet_pton(AF_INET6, buf, addr) == 1) {
		if (inet_ntop(AF_INET6, addr, buf, sizeof(buf)) == NULL)
			return (-1);
	} else if (inet_pton(AF_INET, buf, addr) == 1) {
		if (inet_ntop(AF_INET, addr, buf, sizeof(buf)) == NULL)
			return (-1);
	}
	if (!cert_name_valid(buf) || strlcpy(out, buf, outlen) >= outlen)
		return (-1);
	return (0);
}

/*
 * A time for "since" (sc-server events --since, GET .../events?since=):
 * RFC 3339 (2026-12-07T05:00:00Z, fractions and offsets too), or an
 * age: a number and s, m, h or d (10m: ten minutes ago; a bare number is
 * seconds).  *out gets Unix seconds.  0, or -1 if it is neither.
 */
int
parse_since(const char *s, time_t now, time_t *out)
{
	struct tm	 tm;
	const char	*p;
	char		*end;
	long long	 n, mul = 1;
	int		 oh, om, sign;

	if (*s >= '0' && *s <= '9' && strlen(s) <= 12 &&
	    strspn(s, "0123456789") >= strlen(s) - 1) {
		errno = 0;
		n = strtoll(s, &end, 10);
		if (errno != 0 || end == s)
			return (-1);
		switch (*end) {
		case '\0':
		case 's':
			break;
		case 'm':
			mul = 60;
			break;
		case 'h':
			mul = 3600;
			break;
		case 'd':
			mul = 86400;
			break;
		default:
			return (-1);
		}
		if (n > 100LL * 365 * 86400 / mul)
			return (-1);
		*out = now - n * mul;
		if (*out < 0)
			*out = 0;
		return (0);
	}
	memset(&tm, 0, sizeof(tm));
	if ((p = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm)) == NULL &&
	    (p = strptime(s, "%Y-%m-%dt%H:%M:%S", &tm)) == NULL &&
	    (p = strptime(s, "%Y-%m-%d %H:%M:%S", &tm)) == NULL)
		return (-1);
	if (*p == '.') {
		p++;
		if (*p < '0' || *p > '9')
			return (-1);
		while (*p >= '0' && *p <= '9')
			p++;
	}
	if ((*p == 'Z' || *p == 'z') && p[1] == '\0')
		oh = om = sign = 0;
	else if ((*p == '+' || *p == '-') && strlen(p) == 6 &&
	    p[1] >= '0' && p[1] <= '9' && p[2] >= '0' && p[2] <= '9' &&
	    p[3] == ':' && p[4] >= '0' && p[4] <= '5' && p[5] >= '0' &&
	    p[5] <= '9') {
		sign = *p == '+' ? 1 : -1;
		oh = (p[1] - '0') * 10 + p[2] - '0';
		om = (p[4] - '0') * 10 + p[5] - '0';
		if (oh > 23)
			return (-1);
	} else
		return (-1);
	*out = timegm(&tm) - sign * (oh * 3600 + om * 60);
	if (*out < 0)
		return (-1);
	return (0);
}

/*
 * Bind and listen on host:port (non-blocking, close-on-exec).  bound gets
 * the address actually bound, "ip:port".  Returns the socket or -1.
 */
int
listen_on(const char *host, const char *port, int backlog, char *bound,
    size_t boundlen)
{
	struct sockaddr_storage	 ss;
	socklen_t		 sslen;
	char			 err[512];
	int			 fd;

	if ((fd = listener_bind(host, port, backlog, err,
	    sizeof(err))) == -1) {
		log_warnx("listen on %s", err);
		return (-1);
	}
	sslen = sizeof(ss);
	if (getsockname(fd, (struct sockaddr *)&ss, &sslen) == -1 ||
	    sockaddr_string((struct sockaddr *)&ss, sslen, bound, boundlen,
	    NULL) == -1) {
		log_warn("getsockname");
		close(fd);
		return (-1);
	}
	return (fd);
}

/*
 * Descriptors: the soft limit goes up to the hard one at start (the
 * workers inherit it), so that a flood of connections that prove
 * nothing meets the admission bounds before it meets EMFILE.
 */
void
server_nofile(void)
{
	struct rlimit	 rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == -1 || rl.rlim_cur >= rl.rlim_max)
		return;
	rl.rlim_cur = rl.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &rl) == -1)
		log_warn("setrlimit RLIMIT_NOFILE");
}

static const char *const role_names[] = { "member", "team-admin", "admin" };

/* ROLE_* as text: "member", "team-admin", "admin". */
const char *
role_name(int role)
{
	if (role < ROLE_MEMBER || role > ROLE_ADMIN)
		return ("?");
	return (role_names[role]);
}

/* "admin", "team-admin", "member": ROLE_*, or -1. */
int
role_parse(const char *s)
{
	int	 i;

	for (i = ROLE_MEMBER; i <= ROLE_ADMIN; i++)
		if (strcmp(s, role_names[i]) == 0)
			return (i);
	return (-1);
}
