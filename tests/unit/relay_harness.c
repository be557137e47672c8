/*
 * A harness for proxyd's relay in one process (relay_harness.h).
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <cmocka.h>

#include <event2/dns.h>
#include <event2/event.h>

#include "log.h"
#include "proc.h"
#include "proxyd.h"
#include "relay_harness.h"

#define H_FDS_MAX	64	/* sockets the harness closes at the end */

static struct proxyd	 henv;
struct proxyd		*env = &henv;

static int		 fds[H_FDS_MAX];
static int		 nfds;
static uint32_t		 next_id;
static int		 dns_fd = -1;
static int		 dns_mode;
static struct event	*dns_ev;

static void	 track(int);
static int	 wait_fd(int, short);
static void	 flag_cb(evutil_socket_t, short, void *);
static void	 dns_cb(evutil_socket_t, short, void *);
static int	 loopback_socket(int *);

static void
track(int fd)
{
	assert_true(fd >= 0);
	assert_true(nfds < H_FDS_MAX);
	fds[nfds++] = fd;
}

static void
flag_cb(evutil_socket_t fd, short event, void *arg)
{
	*(int *)arg = 1;
}

/* Run the loop until fd is ready for what (EV_READ, EV_WRITE): 1, or 0. */
static int
wait_fd(int fd, short what)
{
	struct timeval	 tv = { H_WAIT_MS / 1000,
			    (H_WAIT_MS % 1000) * 1000 };
	struct event	*e, *t;
	int		 ready = 0, late = 0;

	e = event_new(henv.base, fd, what, flag_cb, &ready);
	t = evtimer_new(henv.base, flag_cb, &late);
	assert_non_null(e);
	assert_non_null(t);
	event_add(e, NULL);
	evtimer_add(t, &tv);
	while (!ready && !late)
		event_base_loop(henv.base, EVLOOP_ONCE);
	event_free(e);
	event_free(t);
	return (ready);
}

/*
 * Run the loop until pred(arg) holds: 1, or 0 after H_WAIT_MS.  A
 * timer wakes the loop every few milliseconds to ask again.
 */
int
h_wait(int (*pred)(void *), void *arg)
{
	struct timeval	 tick = { 0, 2000 };
	struct timeval	 tv = { H_WAIT_MS / 1000,
			    (H_WAIT_MS % 1000) * 1000 };
	struct event	*e, *t;
	int		 woke = 0, late = 0, ok;

	e = event_new(henv.base, -1, EV_PERSIST, flag_cb, &woke);
	t = evtimer_new(henv.base, flag_cb, &late);
	assert_non_null(e);
	assert_non_null(t);
	event_add(e, &tick);
	evtimer_add(t, &tv);
	while (!(ok = pred(arg)) && !late)
		event_base_loop(henv.base, EVLOOP_ONCE);
	event_free(e);
	event_free(t);
	return (ok);
}

/* What is ready to run now runs, and what that makes ready too. */
void
h_settle(void)
{
	int	 i;

	for (i = 0; i < 8; i++)
		event_base_loop(henv.base, EVLOOP_NONBLOCK);
}

/*
 * The name server: H_DNS_NAME has the address 127.0.0.1 and no IPv6
 * one; every other name does not exist.  Or it answers nothing.
 */
static void
dns_cb(evutil_socket_t fd, short event, void *arg)
{
	struct sockaddr_storage	 from;
	socklen_t		 fromlen = sizeof(from);
	unsigned char		 q[512], a[600], name[256];
	ssize_t			 n;
	size_t			 i, nl = 0, qend, alen;
	uint16_t		 qtype;
	int			 found;

	if ((n = recvfrom(fd, q, sizeof(q), 0, (struct sockaddr *)&from,
	    &fromlen)) < 12 || dns_mode == H_DNS_SILENT)
		return;
	/* the question's name, as dotted text */
	for (i = 12; i < (size_t)n && q[i] != 0; i += q[i] + 1) {
		if (i + 1 + q[i] > (size_t)n || nl + q[i] + 1 >= sizeof(name))
			return;
		if (nl > 0)
			name[nl++] = '.';
		memcpy(name + nl, q + i + 1, q[i]);
		nl += q[i];
	}
	name[nl] = '\0';
	qend = i + 5;			/* the root label, type, class */
	if (qend > (size_t)n)
		return;
	qtype = q[i + 1] << 8 | q[i + 2];
	found = strcasecmp((char *)name, H_DNS_NAME) == 0;
	memcpy(a, q, qend);
	a[2] = 0x81;			/* a response, recursion desired */
	a[3] = found ? 0x80 : 0x83;	/* recursion available; NXDOMAIN */
	memset(a + 6, 0, 6);		/* no answer, authority, extra */
	alen = qend;
	if (found && qtype == 1) {
		static const unsigned char rr[] = {
			0xc0, 0x0c,		/* the question's name */
			0, 1, 0, 1,		/* A, IN */
			0, 0, 0, 60,		/* TTL */
			0, 4, 127, 0, 0, 1	/* 127.0.0.1 */
		};

		a[7] = 1;
		memcpy(a + alen, rr, sizeof(rr));
		alen += sizeof(rr);
	}
	sendto(fd, a, alen, 0, (struct sockaddr *)&from, fromlen);
}

void
h_dns(int mode)
{
	dns_mode = mode;
}

int
h_setup(void **state)
{
	struct sockaddr_in	 sin;
	socklen_t		 len = sizeof(sin);
	char			 ns[32];
	int			 i;

	log_init(LOG_DST_STDERR, LOG_DAEMON);
	log_setverbose(getenv("RELAY_TEST_VERBOSE") != NULL ? 2 : 0);
	memset(&henv, 0, sizeof(henv));
	nfds = 0;
	for (i = 0; i < SC_KGPD_MAX; i++)
		henv.iev_kgpd[i].ibuf.fd = -1;	/* no kgpd: no moves, no lends */
	henv.iev_main.ibuf.fd = -1;
	henv.connect_timeout_ms = PROXYD_CONNECT_TIMEOUT_MS;
	assert_non_null(henv.base = event_base_new());
	assert_non_null(henv.dns = evdns_base_new(henv.base, 0));

	/* the name server */
	dns_fd = socket(AF_INET, SOCK_DGRAM, 0);
	assert_true(dns_fd >= 0);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(dns_fd, (struct sockaddr *)&sin, sizeof(sin)),
	    0);
	assert_int_equal(getsockname(dns_fd, (struct sockaddr *)&sin, &len),
	    0);
	set_nonblock(dns_fd);
	dns_mode = H_DNS_ANSWER;
	dns_ev = event_new(henv.base, dns_fd, EV_READ | EV_PERSIST, dns_cb,
	    NULL);
	assert_non_null(dns_ev);
	event_add(dns_ev, NULL);
	snprintf(ns, sizeof(ns), "127.0.0.1:%u", ntohs(sin.sin_port));
	assert_int_equal(evdns_base_nameserver_ip_add(henv.dns, ns), 0);
	/* as relay_init() sets them */
	evdns_base_set_option(henv.dns, "timeout:", PROXYD_DNS_TRY_SEC);
	evdns_base_set_option(henv.dns, "attempts:", PROXYD_DNS_TRIES);
	return (0);
}

int
h_teardown(void **state)
{
	int	 i;

	relay_shutdown();
	h_settle();		/* the streams are freed at the next turn */
	for (i = 0; i < nfds; i++)
		close(fds[i]);
	nfds = 0;
	event_free(dns_ev);
	close(dns_fd);
	evdns_base_free(henv.dns, 0);
	event_base_free(henv.base);
	memset(&henv, 0, sizeof(henv));
	return (0);
}

struct event_base *
h_base(void)
{
	return (henv.base);
}

/* A stream handed to the relay, as kgpd does: the browser's end. */
int
h_stream(void)
{
	int	 sv[2];

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	set_nonblock(sv[1]);
	track(sv[1]);
	relay_stream(sv[0], ++next_id, 1, "test", 0);
	return (sv[1]);
}

/* A TCP socket bound to 127.0.0.1, any port (*port). */
static int
loopback_socket(int *port)
{
	struct sockaddr_in	 sin;
	socklen_t		 len = sizeof(sin);
	int			 fd, one = 1;

	fd = socket(AF_INET, SOCK_STREAM, 0);
	track(fd);
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
	*port = ntohs(sin.sin_port);
	return (fd);
}

/* An app listening on 127.0.0.1:*port. */
int
h_listen(int *port, int backlog)
{
	int	 fd = loopback_socket(port);

	assert_int_equal(listen(fd, backlog), 0);
	set_nonblock(fd);
	return (fd);
}

/*
 * A port whose connects never complete: its accept queue is full (one
 * connection, never accepted, with a backlog of 0), and Linux drops the
 * SYNs of the next ones.
 */
int
h_blackhole(int *port)
{
	struct sockaddr_in	 sin;
	int			 fd;

	h_listen(port, 0);
	fd = socket(AF_INET, SOCK_STREAM, 0);
	track(fd);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sin.sin_port = htons(*port);
	assert_int_equal(connect(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	return (*port);
}

/* A port bound but not listening: a connect to it is refused. */
int
h_closed_port(void)
{
	int	 port;

	loopback_socket(&port);
	return (port);
}

/* The app's end of the relay's next connection to l. */
int
h_accept(int l)
{
	int	 fd;

	assert_true(wait_fd(l, EV_READ));
	fd = accept(l, NULL, NULL);
	assert_true(fd >= 0);
	set_nonblock(fd);
	track(fd);
	return (fd);
}

/*
 * A GET of path on stream b from the app listening on l (at port), on a
 * new connection: the app's end of it, once it has read the head.
 */
int
h_get(int b, int l, int port, const char *path)
{
	char	 head[1024], line[256];
	int	 a;

	h_send(b, "GET http://127.0.0.1:%d%s HTTP/1.1\r\nHost: h\r\n\r\n",
	    port, path);
	a = h_accept(l);
	h_read_head(a, head, sizeof(head));
	snprintf(line, sizeof(line), "GET %s HTTP/1.1\r\n", path);
	assert_int_equal(strncmp(head, line, strlen(line)), 0);
	return (a);
}

/* fd closed now, not at the end. */
void
h_close(int fd)
{
	int	 i;

	for (i = 0; i < nfds; i++)
		if (fds[i] == fd) {
			fds[i] = fds[--nfds];
			close(fd);
			return;
		}
	fail_msg("h_close: %d is not the harness's", fd);
}

void
h_send_bytes(int fd, const void *buf, size_t len)
{
	const char	*p = buf;
	ssize_t		 n;

	while (len > 0) {
		if ((n = write(fd, p, len)) == -1) {
			assert_int_equal(errno, EAGAIN);
			assert_true(wait_fd(fd, EV_WRITE));
			continue;
		}
		p += n;
		len -= n;
	}
	h_settle();
}

void
h_send(int fd, const char *fmt, ...)
{
	va_list	 ap;
	char	*s;
	int	 n;

	va_start(ap, fmt);
	n = vasprintf(&s, fmt, ap);
	va_end(ap);
	assert_true(n >= 0);
	h_send_bytes(fd, s, n);
	free(s);
}

/* Exactly len bytes (the loop runs meanwhile); fewer at EOF. */
size_t
h_read_n(int fd, void *buf, size_t len)
{
	char	*p = buf;
	size_t	 got = 0;
	ssize_t	 n;

	while (got < len) {
		if ((n = read(fd, p + got, len - got)) == 0)
			break;
		if (n == -1) {
			assert_int_equal(errno, EAGAIN);
			if (!wait_fd(fd, EV_READ))
				fail_msg("read: %zu of %zu bytes in %d ms", got,
				    len, H_WAIT_MS);
			continue;
		}
		got += n;
	}
	return (got);
}

/* A head, up to its empty line and no further, terminated: its length. */
size_t
h_read_head(int fd, char *buf, size_t len)
{
	size_t	 n = 0;

	while (n + 1 < len) {
		if (h_read_n(fd, buf + n, 1) != 1)
			break;
		n++;
		if (n >= 4 && memcmp(buf + n - 4, "\r\n\r\n", 4) == 0)
			break;
	}
	buf[n] = '\0';
	return (n);
}

/*
 * An answer: its head and the body its Content-Length says (none
 * without one), terminated: its length.
 */
size_t
h_read_answer(int fd, char *buf, size_t len)
{
	const char	*cl;
	size_t		 n, body = 0;

	n = h_read_head(fd, buf, len);
	if ((cl = strcasestr(buf, "\r\nContent-Length: ")) != NULL &&
	    strncmp(buf, "HTTP/1.1 1", 10) != 0)
		body = strtoul(cl + 18, NULL, 10);
	assert_true(n + body < len);
	n += h_read_n(fd, buf + n, body);
	buf[n] = '\0';
	return (n);
}

/* The peer closed with nothing more to read: 1; bytes came: -1; 0. */
int
h_read_eof(int fd)
{
	char	 c;
	ssize_t	 n;

	for (;;) {
		if ((n = read(fd, &c, 1)) == 0)
			return (1);
		if (n == 1)
			return (-1);
		if (errno == ECONNRESET)
			return (1);
		assert_int_equal(errno, EAGAIN);
		if (!wait_fd(fd, EV_READ))
			return (0);
	}
}
