/*
 * HTTPS through an HTTP proxy, as a browser does it: CONNECT, TLS inside
 * (SNI set, the certificate not checked: the same work whoever signed
 * it), then GET requests.  One thread a connection, blocking I/O.
 *
 *	tlsrate PROXY_HOST PROXY_PORT TARGET PATH CONNS SECONDS
 *		CONNS connections, each kept alive for requests one after
 *		the other for SECONDS: prints "requests/s errors"
 *	tlsrate -n PROXY_HOST PROXY_PORT TARGET PATH CONNS COUNT
 *		COUNT connections, CONNS at once, each with an SNI never
 *		used before (hN.bench.test; the Host field stays TARGET)
 *		and one request: prints "requests/s errors" and the
 *		handshake and the first byte (from the CONNECT) in ms,
 *		"hs_p50 hs_p99 fb_p50 fb_p99", then the CONNECT's answer
 *		and the handshake alone (from that answer), "co_p50
 *		co_p99 tls_p50 tls_p99": where a first byte's tail is
 *	tlsrate -k ...	the same with one SNI (bench.test) for all
 *	tlsrate -a ...	the same as a browser asks for a new host: CONNECT
 *		to an address never used before (127.0.1.1, 127.0.1.2, ...;
 *		TARGET's port, where the app must listen too), no SNI (an
 *		address), the Host field the same: a leaf for each, and the
 *		entry proxy's warm-up of the stream is for that host
 *	TLSRATE_PACE=N	(-n, -k, -a) the i-th connection starts no sooner
 *		than i/N seconds after the first, so that COUNT new hosts
 *		stay within sc-server's MINT_RATE however fast each is
 *
 * Built by bench/run.sh: cc -O2 tlsrate.c -lssl -lcrypto -lpthread.
 */
#define _GNU_SOURCE		/* strcasestr() */
#include <sys/types.h>
#include <sys/socket.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#define MAXCONNS	1024

static const char	*phost, *target, *path;
static int		 pport, nconns, mode;	/* 0, 'n', 'k' */
static double		 seconds;
static long		 count;
static SSL_CTX		*ctx;
static pthread_mutex_t	 lock = PTHREAD_MUTEX_INITIALIZER;
static long		 next_host, done_req, errors;
static double		*hs_ms, *fb_ms, *co_ms, *tls_ms;
static long		 nsamples;
static double		 pace, tstart;	/* connections a second, 0: no pacing */

static double
now(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (ts.tv_sec + ts.tv_nsec / 1e9);
}

/* a connection through the proxy to target: the socket, or -1 */
static int
tunnel(const char *to)
{
	struct sockaddr_in	 sin;
	char			 buf[1024];
	int			 fd, one = 1, n, got = 0;

	if ((fd = socket(AF_INET, SOCK_STREAM, 0)) == -1)
		return (-1);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons(pport);
	inet_pton(AF_INET, phost, &sin.sin_addr);
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1)
		goto fail;
	n = snprintf(buf, sizeof(buf), "CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n",
	    to, to);
	if (write(fd, buf, n) != n)
		goto fail;
	/* the answer, byte by byte: nothing of TLS is read with it */
	while (got < (int)sizeof(buf) - 1) {
		if (read(fd, buf + got, 1) != 1)
			goto fail;
		got++;
		if (got >= 4 && memcmp(buf + got - 4, "\r\n\r\n", 4) == 0)
			break;
	}
	buf[got] = '\0';
	if (strncmp(buf, "HTTP/1.1 200", 12) != 0 &&
	    strncmp(buf, "HTTP/1.0 200", 12) != 0)
		goto fail;
	return (fd);
 fail:
	close(fd);
	return (-1);
}

/* one GET and its whole answer (Content-Length); 0 or -1 */
static int
request(SSL *ssl, const char *host, double *first)
{
	char	 req[512], buf[16384], *p, *hend;
	long	 clen = -1, body;
	int	 n, len = 0;

	n = snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: %s\r\n\r\n",
	    path, host);
	if (SSL_write(ssl, req, n) != n)
		return (-1);
	for (;;) {
		if ((n = SSL_read(ssl, buf + len, sizeof(buf) - 1 - len)) <= 0)
			return (-1);
		if (first != NULL && *first == 0)
			*first = now();
		len += n;
		buf[len] = '\0';
		if ((hend = strstr(buf, "\r\n\r\n")) != NULL)
			break;
		if (len == (int)sizeof(buf) - 1)
			return (-1);
	}
	if (strncmp(buf, "HTTP/1.1 200", 12) != 0)
		return (-1);
	if ((p = strcasestr(buf, "\r\nContent-Length:")) != NULL && p < hend)
		clen = strtol(p + 17, NULL, 10);
	if (clen < 0)
		return (-1);
	body = len - (hend + 4 - buf);
	while (body < clen) {
		if ((n = SSL_read(ssl, buf, sizeof(buf))) <= 0)
			return (-1);
		body += n;
	}
	return (body == clen ? 0 : -1);
}

static SSL *
handshake(int fd, const char *sni)
{
	SSL	*ssl;
	char	 host[256];

	if ((ssl = SSL_new(ctx)) == NULL)
		return (NULL);
	SSL_set_fd(ssl, fd);
	/* the macro casts to void *: a copy, not the const string */
	snprintf(host, sizeof(host), "%s", sni);
	if (host[0] != '\0')
		SSL_set_tlsext_host_name(ssl, host);
	if (SSL_connect(ssl) != 1) {
		ERR_clear_error();
		SSL_free(ssl);
		return (NULL);
	}
	return (ssl);
}

static void *
keepalive(void *unused)
{
	double	 end = now() + seconds;
	char	 sni[256];
	SSL	*ssl;
	long	 n = 0;
	int	 fd;

	snprintf(sni, sizeof(sni), "%s", target);
	*strrchr(sni, ':') = '\0';
	if ((fd = tunnel(target)) == -1 ||
	    (ssl = handshake(fd, sni)) == NULL) {
		pthread_mutex_lock(&lock);
		errors++;
		pthread_mutex_unlock(&lock);
		if (fd != -1)
			close(fd);
		return (NULL);
	}
	while (now() < end) {
		if (request(ssl, target, NULL) == -1) {
			pthread_mutex_lock(&lock);
			errors++;
			pthread_mutex_unlock(&lock);
			break;
		}
		n++;
	}
	SSL_free(ssl);
	close(fd);
	pthread_mutex_lock(&lock);
	done_req += n;
	pthread_mutex_unlock(&lock);
	return (NULL);
}

static void *
newhosts(void *unused)
{
	char	 sni[256], to[300];
	double	 t0, t1, tc, fb;
	SSL	*ssl;
	long	 i;
	int	 fd, ok;

	for (;;) {
		pthread_mutex_lock(&lock);
		i = next_host++;
		pthread_mutex_unlock(&lock);
		if (i >= count)
			break;
		if (pace > 0 && (t0 = tstart + i / pace - now()) > 0)
			usleep(t0 * 1e6);
		if (mode == 'n')
			snprintf(sni, sizeof(sni), "h%ld-%d.bench.test", i,
			    (int)getpid());
		else
			snprintf(sni, sizeof(sni), "bench.test");
		snprintf(to, sizeof(to), "%s", target);
		if (mode == 'a') {
			sni[0] = '\0';
			snprintf(to, sizeof(to), "127.0.%ld.%ld%s", 1 + i / 250,
			    1 + i % 250, strrchr(target, ':'));
		}
		t0 = now();
		fb = 0;
		ok = 0;
		ssl = NULL;
		if ((fd = tunnel(to)) != -1 && (tc = now()) > 0 &&
		    (ssl = handshake(fd, sni)) != NULL) {
			t1 = now();
			ok = request(ssl, to, &fb) == 0;
		}
		pthread_mutex_lock(&lock);
		if (ok) {
			done_req++;
			hs_ms[nsamples] = (t1 - t0) * 1e3;
			co_ms[nsamples] = (tc - t0) * 1e3;
			tls_ms[nsamples] = (t1 - tc) * 1e3;
			fb_ms[nsamples++] = (fb - t0) * 1e3;
		} else
			errors++;
		pthread_mutex_unlock(&lock);
		SSL_free(ssl);
		if (fd != -1)
			close(fd);
	}
	return (NULL);
}

static int
cmp(const void *a, const void *b)
{
	double	 x = *(const double *)a, y = *(const double *)b;

	return (x < y ? -1 : x > y);
}

static double
pct(double *v, long n, double p)
{
	long	 i;

	if (n == 0)
		return (0);
	i = (long)(p * (n - 1) + 0.5);
	return (v[i]);
}

int
main(int argc, char *argv[])
{
	pthread_t	 th[MAXCONNS];
	double		 t0, dt;
	int		 i;

	if (argc > 1 && (strcmp(argv[1], "-n") == 0 ||
	    strcmp(argv[1], "-k") == 0 || strcmp(argv[1], "-a") == 0)) {
		mode = argv[1][1];
		argc--;
		argv++;
	}
	if (argc != 7) {
		fprintf(stderr, "usage: tlsrate [-n | -k | -a] proxy-host proxy-port "
		    "target path conns seconds|count\n");
		return (2);
	}
	phost = argv[1];
	pport = atoi(argv[2]);
	target = argv[3];
	path = argv[4];
	nconns = atoi(argv[5]);
	if (nconns < 1 || nconns > MAXCONNS || strchr(target, ':') == NULL)
		return (2);
	if (mode == 0)
		seconds = atof(argv[6]);
	else if ((count = atol(argv[6])) < 1 ||
	    (hs_ms = calloc(count, sizeof(double))) == NULL ||
	    (fb_ms = calloc(count, sizeof(double))) == NULL ||
	    (co_ms = calloc(count, sizeof(double))) == NULL ||
	    (tls_ms = calloc(count, sizeof(double))) == NULL)
		return (2);
	if ((ctx = SSL_CTX_new(TLS_client_method())) == NULL)
		return (1);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	if (getenv("TLSRATE_PACE") != NULL)
		pace = atof(getenv("TLSRATE_PACE"));
	tstart = t0 = now();
	for (i = 0; i < nconns; i++)
		pthread_create(&th[i], NULL, mode == 0 ? keepalive : newhosts,
		    NULL);
	for (i = 0; i < nconns; i++)
		pthread_join(th[i], NULL);
	dt = now() - t0;
	printf("%.0f %ld", done_req / dt, errors);
	if (mode != 0) {
		qsort(hs_ms, nsamples, sizeof(double), cmp);
		qsort(fb_ms, nsamples, sizeof(double), cmp);
		qsort(co_ms, nsamples, sizeof(double), cmp);
		qsort(tls_ms, nsamples, sizeof(double), cmp);
		printf(" %.2f %.2f %.2f %.2f %.2f %.2f %.2f %.2f",
		    pct(hs_ms, nsamples, 0.5), pct(hs_ms, nsamples, 0.99),
		    pct(fb_ms, nsamples, 0.5), pct(fb_ms, nsamples, 0.99),
		    pct(co_ms, nsamples, 0.5), pct(co_ms, nsamples, 0.99),
		    pct(tls_ms, nsamples, 0.5), pct(tls_ms, nsamples, 0.99));
	}
	printf("\n");
	return (0);
}
