/*
 * --doctor: what sc needs, checked without starting a tunnel, one line a
 * check ("name: OK (detail)" or "name: FAIL reason") on standard output,
 * exit 0 only when all pass.  For a DMZ host, before a ticket:
 *
 *	user _sc	started as root, the user sc becomes and the empty
 *			directory its helpers chroot to;
 *	open files	what sc may raise its limit to;
 *	resolve ...	the REST API's host (or the proxy's, through -p);
 *	REST API	an authenticated request ({user}/endpoint), which
 *			also says where the tunnel connections go;
 *	clock		the skew against the REST API's Date;
 *	resolve ...	the KGP endpoint's host (unless the proxy does);
 *	KGP endpoint	a TCP connection to it, through the proxy's
 *			CONNECT with -T / --proxy-sauce;
 *	certificate	the TLS handshake there, and the server's certificate
 *			against the pin of the REST answer or --tunnel-cainfo.
 *
 * Plain blocking calls, each bounded by DOCTOR_TIMEOUT_SEC: no event loop
 * runs yet.
 */
#include <sys/types.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <tls.h>

#include "config.h"
#include "controller.h"
#include "http.h"
#include "sandbox.h"

static int	 doctor_failed;

static void	 doctor_line(int, const char *, const char *, ...)
		    __attribute__((__format__ (printf, 3, 4)));
static void	 doctor_user(void);
static void	 doctor_nofile(void);
static int	 doctor_resolve(const char *, const char *, const char *,
		    struct addrinfo **);
static int	 doctor_connect(struct addrinfo *, char *, size_t);
static int	 doctor_proxy_connect(int, const struct sc_config *,
		    const char *, int, char *, size_t);
static void	 doctor_tls(int, const struct sc_config *,
		    const struct rest_tunnel *);

/* One check's line: ok, or the reason it failed. */
static void
doctor_line(int ok, const char *check, const char *fmt, ...)
{
	va_list	 ap;
	char	 msg[1024];

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (ok)
		printf("%s: OK%s%s%s\n", check, msg[0] ? " (" : "", msg,
		    msg[0] ? ")" : "");
	else {
		printf("%s: FAIL %s\n", check, msg);
		doctor_failed = 1;
	}
	fflush(stdout);
}

static void
doctor_user(void)
{
	struct passwd	*pw;
	char		 err[512];

	if (geteuid() != 0) {
		doctor_line(1, "user " SC_USER, "not needed: started as uid "
		    "%u, sc switches no user", (unsigned)geteuid());
		return;
	}
	if ((pw = getpwnam(SC_USER)) == NULL)
		doctor_line(0, "user " SC_USER, "does not exist: create it "
		    "with \"%s\"", SC_USER_HINT);
	else if (pw->pw_uid == 0)
		doctor_line(0, "user " SC_USER, "has uid 0");
	else if (sandbox_check_chroot(SC_CHROOT, err, sizeof(err)) == -1)
		doctor_line(0, "user " SC_USER, "%s", err);
	else
		doctor_line(1, "user " SC_USER, "uid %u, chroot %s",
		    (unsigned)pw->pw_uid, SC_CHROOT);
}

/* sc raises the soft limit to the hard one (as root, to SC_NOFILE). */
static void
doctor_nofile(void)
{
	struct rlimit	 rl;
	rlim_t		 n;

	if (getrlimit(RLIMIT_NOFILE, &rl) == -1) {
		doctor_line(0, "open files", "getrlimit: %s", strerror(errno));
		return;
	}
	n = rl.rlim_max;
	if (geteuid() == 0 && n != RLIM_INFINITY && n < SC_NOFILE)
		n = SC_NOFILE;
	if (n != RLIM_INFINITY && n < DOCTOR_NOFILE_MIN)
		doctor_line(0, "open files", "at most %llu (the hard limit): "
		    "proxyd holds two per open stream, give it %d or more "
		    "(ulimit -Hn, LimitNOFILE=)", (unsigned long long)n,
		    DOCTOR_NOFILE_MIN);
	else
		doctor_line(1, "open files", "%llu", n == RLIM_INFINITY ?
		    0ULL : (unsigned long long)n);
}

static int
doctor_resolve(const char *check, const char *host, const char *port,
    struct addrinfo **res)
{
	struct addrinfo	 hints;
	char		 addr[NI_MAXHOST];
	int		 error;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	if ((error = getaddrinfo(host, port, &hints, res)) != 0) {
		doctor_line(0, check, "%s: %s", host, gai_strerror(error));
		return (-1);
	}
	if (getnameinfo((*res)->ai_addr, (*res)->ai_addrlen, addr,
	    sizeof(addr), NULL, 0, NI_NUMERICHOST) != 0)
		strlcpy(addr, "?", sizeof(addr));
	doctor_line(1, check, "%s: %s", host, addr);
	return (0);
}

/*
 * A TCP connection to the first address of ai that takes one within
 * DOCTOR_TIMEOUT_SEC, blocking from then on with that bound on each
 * read and write.  Returns it, or -1 with the reason in err.
 */
static int
doctor_connect(struct addrinfo *ai, char *err, size_t errlen)
{
	struct timeval	 tv = { DOCTOR_TIMEOUT_SEC, 0 };
	struct pollfd	 pfd;
	socklen_t	 len;
	int		 fd, e;

	snprintf(err, errlen, "no address");
	for (; ai != NULL; ai = ai->ai_next) {
		if ((fd = socket(ai->ai_family, ai->ai_socktype |
		    SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol)) == -1) {
			snprintf(err, errlen, "socket: %s", strerror(errno));
			continue;
		}
		e = 0;
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == -1) {
			e = errno;
			if (e == EINPROGRESS) {
				pfd.fd = fd;
				pfd.events = POLLOUT;
				len = sizeof(e);
				if (poll(&pfd, 1, DOCTOR_TIMEOUT_SEC * 1000) <= 0)
					e = ETIMEDOUT;
				else if (getsockopt(fd, SOL_SOCKET, SO_ERROR,
				    &e, &len) == -1)
					e = errno;
			}
		}
		if (e != 0) {
			snprintf(err, errlen, "%s", strerror(e));
			close(fd);
			continue;
		}
		if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK) == -1 ||
		    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv,
		    sizeof(tv)) == -1 ||
		    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv,
		    sizeof(tv)) == -1) {
			snprintf(err, errlen, "%s", strerror(errno));
			close(fd);
			continue;
		}
		return (fd);
	}
	return (-1);
}

/*
 * CONNECT host:port through the proxy on fd; the answer must be 2xx and
 * end its head within what one buffer holds.  Returns 0, or -1 with the
 * reason in err.
 */
static int
doctor_proxy_connect(int fd, const struct sc_config *conf, const char *host,
    int port, char *err, size_t errlen)
{
	char		 req[1024], ans[4096], *auth = NULL;
	size_t		 got = 0;
	ssize_t		 n;
	int		 len, v6 = strchr(host, ':') != NULL, code;

	if (config_proxy_basic(conf, &auth) == -1) {
		snprintf(err, errlen, "out of memory");
		return (-1);
	}
	len = snprintf(req, sizeof(req), "CONNECT %s%s%s:%d HTTP/1.1\r\n"
	    "Host: %s%s%s:%d\r\n%s%s%s\r\n", v6 ? "[" : "", host, v6 ? "]" : "",
	    port, v6 ? "[" : "", host, v6 ? "]" : "", port,
	    auth != NULL ? "Proxy-Authorization: Basic " : "",
	    auth != NULL ? auth : "", auth != NULL ? "\r\n" : "");
	if (auth != NULL) {
		explicit_bzero(auth, strlen(auth));
		free(auth);
	}
	if (len < 0 || (size_t)len >= sizeof(req)) {
		snprintf(err, errlen, "the host name is too long");
		return (-1);
	}
	n = write(fd, req, len);
	explicit_bzero(req, sizeof(req));
	if (n != len) {
		snprintf(err, errlen, "the proxy took no CONNECT: %s",
		    n == -1 ? strerror(errno) : "short write");
		return (-1);
	}
	/* byte by byte: nothing of the tunnel is read past the head */
	while (got < sizeof(ans) - 1) {
		if ((n = read(fd, ans + got, 1)) <= 0) {
			snprintf(err, errlen, "no answer from the proxy: %s",
			    n == 0 ? "closed" : strerror(errno));
			return (-1);
		}
		got++;
		if (got >= 4 && memcmp(ans + got - 4, "\r\n\r\n", 4) == 0)
			break;
	}
	ans[got] = '\0';
	if (sscanf(ans, "HTTP/1.%*1[01] %3d", &code) != 1) {
		snprintf(err, errlen, "the proxy's answer is not HTTP");
		return (-1);
	}
	if (code < 200 || code > 299) {
		ans[strcspn(ans, "\r\n")] = '\0';
		snprintf(err, errlen, "the proxy refused the CONNECT: %.200s",
		    ans);
		return (-1);
	}
	return (0);
}

/* The TLS handshake on fd, the server's certificate checked. */
static void
doctor_tls(int fd, const struct sc_config *conf, const struct rest_tunnel *t)
{
	struct tls_config	*tc = NULL;
	struct tls		*tls = NULL;
	const char		*hash;

	if (conf->tunnel_cainfo == NULL && t->cert_sha256[0] == '\0') {
		doctor_line(0, "certificate", "the REST API gives no "
		    "server_cert_sha256 to pin: use --tunnel-cainfo");
		return;
	}
	if ((tc = tls_config_new()) == NULL || (tls = tls_client()) == NULL) {
		doctor_line(0, "certificate", "out of memory");
		goto done;
	}
	tls_config_set_protocols(tc, TLS_PROTOCOL_TLSv1_2 |
	    TLS_PROTOCOL_TLSv1_3);
	if (conf->tunnel_cainfo != NULL) {
		if (tls_config_set_ca_file(tc, conf->tunnel_cainfo) == -1) {
			doctor_line(0, "certificate", "--tunnel-cainfo %s: %s",
			    conf->tunnel_cainfo, tls_config_error(tc));
			goto done;
		}
	} else {
		/* as kgpd does: the pin of the authenticated REST answer */
		tls_config_insecure_noverifycert(tc);
		tls_config_insecure_noverifyname(tc);
	}
	if (tls_configure(tls, tc) == -1 ||
	    tls_connect_socket(tls, fd, t->host) == -1 ||
	    tls_handshake(tls) == -1) {
		doctor_line(0, "certificate", "TLS handshake with %s: %s",
		    t->host, tls_error(tls));
		goto done;
	}
	hash = tls_peer_cert_hash(tls);
	if (conf->tunnel_cainfo != NULL)
		doctor_line(1, "certificate", "verified against %s, %s",
		    conf->tunnel_cainfo, tls_conn_version(tls));
	else if (hash == NULL || strcasecmp(hash, t->cert_sha256) != 0)
		doctor_line(0, "certificate", "%s is not the pinned %s",
		    hash != NULL ? hash : "(none)", t->cert_sha256);
	else
		doctor_line(1, "certificate", "the pinned %.19s..., %s", hash,
		    tls_conn_version(tls));
	tls_close(tls);
 done:
	tls_free(tls);
	tls_config_free(tc);
}

/* Every check, in order; the exit status of sc. */
int
doctor_run(const struct sc_config *conf, volatile sig_atomic_t *signalled)
{
	struct rest_tunnel	 t;
	struct addrinfo		*res = NULL;
	struct http_url		 u;
	char			 err[1024], port[16];
	const char		*host;
	time_t			 date;
	long long		 skew;
	int			 fd = -1, ret;

	doctor_user();
	doctor_nofile();

	if (conf->proxy_host != NULL && conf->proxy_rest) {
		snprintf(port, sizeof(port), "%d", conf->proxy_port);
		if (doctor_resolve("resolve the proxy", conf->proxy_host, port,
		    &res) == 0)
			freeaddrinfo(res);
		res = NULL;
	} else if (http_parse_url(conf->rest_url, &u) == -1)
		doctor_line(0, "resolve the REST API", "%s is not a URL",
		    conf->rest_url);
	else if (doctor_resolve("resolve the REST API", u.auth.host,
	    u.auth.port, &res) == 0) {
		freeaddrinfo(res);
		res = NULL;
	}

	if (rest_init(conf, signalled) == -1) {
		doctor_line(0, "REST API", "cannot initialise libcurl");
		return (1);
	}
	rest_set_timeouts(DOCTOR_TIMEOUT_SEC, DOCTOR_TIMEOUT_SEC);
	ret = rest_endpoint(&t, err, sizeof(err));
	date = rest_server_date();
	rest_cleanup();
	if (ret != REST_OK) {
		doctor_line(0, "REST API", "%s", err);
		if (date == 0)
			doctor_line(0, "clock", "no Date from the REST API");
		doctor_line(0, "KGP endpoint", "not known: the REST API "
		    "did not say where it is");
		return (1);
	}
	doctor_line(1, "REST API", "%s as %s: tunnels connect to %s:%d",
	    conf->rest_url, conf->user, t.host, t.ssh_port);

	if (date == 0)
		doctor_line(0, "clock", "the REST API's answer had no Date");
	else {
		skew = (long long)time(NULL) - (long long)date;
		if (llabs(skew) <= DOCTOR_SKEW_MAX_SEC)
			doctor_line(1, "clock", "%lld s %s the REST API's "
			    "Date", llabs(skew), skew >= 0 ? "ahead of" :
			    "behind");
		else
			doctor_line(0, "clock", "%lld s %s the REST API's "
			    "Date, more than %d s: set the clock (NTP)",
			    llabs(skew), skew >= 0 ? "ahead of" : "behind",
			    DOCTOR_SKEW_MAX_SEC);
	}

	host = t.host;
	if (conf->proxy_host != NULL && conf->proxy_tunnel) {
		snprintf(port, sizeof(port), "%d", conf->proxy_port);
		host = conf->proxy_host;
	} else
		snprintf(port, sizeof(port), "%d", t.ssh_port);
	if (doctor_resolve(host == t.host ? "resolve the KGP endpoint" :
	    "resolve the proxy", host, port, &res) == -1)
		return (1);
	fd = doctor_connect(res, err, sizeof(err));
	freeaddrinfo(res);
	if (fd == -1) {
		doctor_line(0, "KGP endpoint", "%s port %s: %s", host, port,
		    err);
		return (1);
	}
	if (host != t.host && doctor_proxy_connect(fd, conf, t.host,
	    t.ssh_port, err, sizeof(err)) == -1) {
		doctor_line(0, "KGP endpoint", "%s:%d through the proxy "
		    "%s:%d: %s", t.host, t.ssh_port, conf->proxy_host,
		    conf->proxy_port, err);
		close(fd);
		return (1);
	}
	doctor_line(1, "KGP endpoint", "%s:%d%s%s", t.host, t.ssh_port,
	    host != t.host ? " through the proxy " : "",
	    host != t.host ? conf->proxy_host : "");
	doctor_tls(fd, conf, &t);
	close(fd);
	return (doctor_failed ? 1 : 0);
}
