/*
 * flood: many connections that each cost a server something and give it
 * nothing, for the end-to-end tests (lib.sh's flood) and the stress run
 * (tests/stress/stress.sh).  One epoll loop and a hundred bytes or so of
 * state a connection: 10,000 of them cost this process a few MB and
 * little CPU, which the server it attacks shares the machine with.
 *
 *	flood -m mode -t host:port -n count [-K] [-b rcvbuf] [-d seconds]
 *	    [-i min[-max]] [-j report] [-k bytes/s] [-p text] [-r opens/s]
 *	    [-s sources] [-w readyfile]
 *
 * Modes (-m):
 *	silent		connect, send -p if given (the first bytes of a TLS
 *			record, say), then nothing
 *	tls-hello	send a whole TLS ClientHello (libtls), then nothing:
 *			the server holds a handshake's state
 *	tls-done	finish the TLS handshake, then send nothing (no KGP
 *			HELLO)
 *	slow		slowloris: a request head (-p, or a GET) one byte
 *			at the connect, then one every min to max seconds
 *			(-i, default 5-10, fractions allowed), that never
 *			ends: header fields follow it
 *	stall		send the request -p, then read nothing (or -k bytes a
 *			second): a browser that stops reading a large answer;
 *			-b sets the receive buffer (default 4096)
 * In -p, \r, \n and \xHH stand for those bytes.  Each option has a long
 * name too: --rcvbuf, --duration, --interval, --report, --read-rate,
 * --refill (-K), --mode, --count, --text, --rate, --sources, --target,
 * --ready (-w).
 *
 * Connections are opened at -r a second (default 2000) from the source
 * addresses -s in turn: a,b,... or a+n, n addresses counting up from the
 * IPv4 address a (127.1.0.1+10000, say).  With -K the count is kept:
 * one the server closes, or that fails, is opened again, as an attacker
 * would; without it each of the count is opened once.  A connection
 * the server closes (an EOF or a reset, what it sent first read and
 * dropped) counts as closed; a connect that fails or takes over 10 s,
 * as failed.
 *
 * After -d seconds (default 60), or on SIGTERM or SIGINT, it closes them
 * all and prints one line on stdout:
 *	attempts N opened N failed N open-max N open-end N closed N
 *	    longest-closed S
 * (opened: TCP connections the server's kernel accepted; open-max: the
 * most open at once; longest-closed: the longest life of one the server
 * closed, in seconds), and the same every 5 s, prefixed "flood:", on
 * stderr.  -j FILE gets it as JSON every second and at the end, with the
 * age of the oldest open connection; -w FILE is written ("opened
 * failed") once each of the first count has been tried: connected, its
 * TLS step done, or failed.
 */
#include <sys/types.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <err.h>
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <tls.h>

#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT	24
#endif

#define FLOOD_SRC_MAX		100000	/* source addresses */
#define FLOOD_TICK_MS		100	/* slow bytes, reads, timeouts */
#define FLOOD_REPORT_MS		1000	/* the JSON report */
#define FLOOD_STDERR_MS		5000	/* the line on stderr */
#define FLOOD_CONNECT_MS	10000	/* a connect that takes longer fails */
#define FLOOD_TEXT_MAX		8192

enum mode { M_SILENT, M_TLS_HELLO, M_TLS_DONE, M_SLOW, M_STALL };

enum cstate { C_FREE, C_CONNECTING, C_OPEN };

struct conn {
	int		 fd;
	enum cstate	 state;
	int		 first;		/* of the first count, not yet tried */
	struct tls	*tls;		/* while its TLS step goes on */
	uint64_t	 start_ms;	/* connect(), or established */
	uint64_t	 next_ms;	/* slow: the next byte; connect: gives up */
	uint64_t	 sent;		/* bytes of the text (and fields) sent */
	double		 credit;	/* stall: bytes it may read now */
};

static const char *const modes[] = {
	"silent", "tls-hello", "tls-done", "slow", "stall"
};

/* what follows a slowloris head, again and again: it never ends */
static const char	 filler[] = "X-Slow: yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy"
			    "yyyyyyyyyyyyyyyyyy\r\n";

static enum mode		 mode;
static struct sockaddr_storage	 dst;
static socklen_t		 dstlen;
static struct sockaddr_storage	*src;
static int			 nsrc, isrc;
static char			 text[FLOOD_TEXT_MAX];
static size_t			 textlen;
static double			 min_ms = 5000, max_ms = 10000;
static int			 rcvbuf = 4096, read_rate, refill, count;
static struct tls_config	*tlscfg;
static volatile sig_atomic_t	 quit;
static struct conn		*conns;
static int			*freelist, nfree;
static int			 ep;
static uint64_t			 attempts, opened, failed, closed, tried;
static uint64_t			 longest_ms;
static int			 open_now, open_max;

static uint64_t
now_ms(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((uint64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
}

static void
on_signal(int sig)
{
	(void)sig;
	quit = 1;
}

static __attribute__((__noreturn__)) void
usage(void)
{
	fprintf(stderr, "usage: flood -m silent|tls-hello|tls-done|slow|stall "
	    "-t host:port -n count [-K]\n"
	    "             [-b rcvbuf] [-d seconds] [-i min[-max]] "
	    "[-j report] [-k bytes/s]\n"
	    "             [-p text] [-r opens/s] [-s sources] "
	    "[-w readyfile]\n");
	exit(2);
}

/* -p: "\r", "\n" and "\xHH" are read as those bytes */
static void
set_text(const char *s)
{
	char	 hex[3];

	textlen = 0;
	while (*s != '\0') {
		if (textlen == sizeof(text))
			errx(2, "-p: more than %zu bytes", sizeof(text));
		if (s[0] == '\\' && (s[1] == 'r' || s[1] == 'n')) {
			text[textlen++] = s[1] == 'r' ? '\r' : '\n';
			s += 2;
		} else if (s[0] == '\\' && s[1] == 'x' && s[2] != '\0' &&
		    s[3] != '\0') {
			hex[0] = s[2];
			hex[1] = s[3];
			hex[2] = '\0';
			text[textlen++] = (char)strtol(hex, NULL, 16);
			s += 4;
		} else
			text[textlen++] = *s++;
	}
}

/* An address (IPv6 maybe in brackets) with the port, into ss. */
static socklen_t
parse_addr(const char *s, in_port_t port, struct sockaddr_storage *ss)
{
	struct sockaddr_in	*sin = (struct sockaddr_in *)ss;
	struct sockaddr_in6	*sin6 = (struct sockaddr_in6 *)ss;
	char			 buf[INET6_ADDRSTRLEN + 2];
	size_t			 len;

	len = strlcpy(buf, s, sizeof(buf));
	if (len >= sizeof(buf))
		errx(2, "bad address %s", s);
	if (buf[0] == '[' && len > 2 && buf[len - 1] == ']') {
		memmove(buf, buf + 1, len - 2);
		buf[len - 2] = '\0';
	}
	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, buf, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		return (sizeof(*sin));
	}
	if (inet_pton(AF_INET6, buf, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(port);
		return (sizeof(*sin6));
	}
	errx(2, "bad address %s", s);
}

static void
set_target(char *s)
{
	const char	*errstr;
	char		*p;
	in_port_t	 port;

	if ((p = strrchr(s, ':')) == NULL)
		errx(2, "-t %s: want host:port", s);
	*p++ = '\0';
	port = strtonum(p, 1, 65535, &errstr);
	if (errstr != NULL)
		errx(2, "-t: port %s is %s", p, errstr);
	dstlen = parse_addr(s, port, &dst);
}

static void
add_source(const struct sockaddr_storage *ss)
{
	if (nsrc == FLOOD_SRC_MAX)
		errx(2, "-s: more than %d source addresses", FLOOD_SRC_MAX);
	if ((src = reallocarray(src, nsrc + 1, sizeof(*src))) == NULL)
		err(1, NULL);
	src[nsrc++] = *ss;
}

/* -s a,b,... and a+n */
static void
set_sources(char *list)
{
	struct sockaddr_storage	 ss;
	struct sockaddr_in	*sin = (struct sockaddr_in *)&ss;
	const char		*errstr;
	char			*s, *plus;
	uint32_t		 a;
	int			 i, n;

	while ((s = strsep(&list, ",")) != NULL) {
		if (*s == '\0')
			continue;
		n = 1;
		if ((plus = strchr(s, '+')) != NULL) {
			*plus++ = '\0';
			n = strtonum(plus, 1, FLOOD_SRC_MAX, &errstr);
			if (errstr != NULL)
				errx(2, "-s: %s addresses is %s", plus,
				    errstr);
		}
		parse_addr(s, 0, &ss);
		if (n > 1 && ss.ss_family != AF_INET)
			errx(2, "-s %s+%d: a range is for IPv4", s, n);
		a = ss.ss_family == AF_INET ? ntohl(sin->sin_addr.s_addr) : 0;
		for (i = 0; i < n; i++) {
			if (ss.ss_family == AF_INET)
				sin->sin_addr.s_addr = htonl(a + i);
			add_source(&ss);
		}
	}
}

static int
next_delay(void)
{
	if (max_ms <= min_ms)
		return ((int)min_ms);
	return ((int)(min_ms + arc4random_uniform((uint32_t)(max_ms - min_ms +
	    1))));
}

static void
set_events(struct conn *c, uint32_t events)
{
	struct epoll_event	 ev;

	memset(&ev, 0, sizeof(ev));
	ev.events = events;
	ev.data.ptr = c;
	if (epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev) == -1)
		err(1, "epoll_ctl");
}

/* The connection has been tried: counts once for the ready file. */
static void
conn_tried(struct conn *c)
{
	if (c->first) {
		c->first = 0;
		tried++;
	}
}

/* Close c; by_peer: the server ended it. */
static void
conn_close(struct conn *c, int by_peer)
{
	uint64_t	 life;

	if (c->state == C_OPEN) {
		open_now--;
		if (by_peer) {
			closed++;
			life = now_ms() - c->start_ms;
			if (life > longest_ms)
				longest_ms = life;
		}
	} else
		failed++;
	conn_tried(c);
	if (c->tls != NULL)
		tls_free(c->tls);
	c->tls = NULL;
	close(c->fd);
	c->fd = -1;
	c->state = C_FREE;
	freelist[nfree++] = c - conns;
}

/* The next byte of a slowloris head: the text, then fields forever. */
static char
slow_byte(uint64_t i)
{
	if (i < textlen)
		return (text[i]);
	return (filler[(i - textlen) % (sizeof(filler) - 1)]);
}

/* Send what this mode sends now; -1 when the server is gone. */
static int
conn_send(struct conn *c, uint64_t now)
{
	char	 b;
	ssize_t	 n;

	if (mode == M_SLOW) {
		if (now < c->next_ms)
			return (0);
		b = slow_byte(c->sent);
		n = send(c->fd, &b, 1, MSG_NOSIGNAL | MSG_DONTWAIT);
		c->next_ms = now + next_delay();
	} else {
		if (c->sent >= textlen)
			return (0);
		n = send(c->fd, text + c->sent, textlen - c->sent,
		    MSG_NOSIGNAL | MSG_DONTWAIT);
	}
	if (n == -1)
		return (errno == EAGAIN ? 0 : -1);
	c->sent += n;
	return (0);
}

/*
 * The TLS step: a ClientHello sent (tls-hello) or the handshake done
 * (tls-done), then the context goes and the socket stays, silent.
 * -1 when the server closed it.
 */
static int
conn_tls(struct conn *c)
{
	int	 r;

	if (c->tls == NULL) {
		if ((c->tls = tls_client()) == NULL)
			err(1, "tls_client");
		if (tls_configure(c->tls, tlscfg) == -1)
			errx(1, "tls_configure: %s", tls_error(c->tls));
		if (tls_connect_socket(c->tls, c->fd, "flood") == -1)
			errx(1, "tls_connect_socket: %s", tls_error(c->tls));
	}
	r = tls_handshake(c->tls);
	if (r == TLS_WANT_POLLOUT) {
		set_events(c, EPOLLOUT | EPOLLRDHUP);
		return (0);
	}
	if (r == TLS_WANT_POLLIN && mode == M_TLS_DONE) {
		set_events(c, EPOLLIN | EPOLLRDHUP);
		return (0);
	}
	if (r == -1)
		return (-1);
	/* the hello is out, or the handshake done: no close_notify */
	tls_free(c->tls);
	c->tls = NULL;
	conn_tried(c);
	set_events(c, EPOLLIN | EPOLLRDHUP);
	return (0);
}

static void
conn_open(struct conn *c)
{
	struct epoll_event	 ev;
	int			 one = 1;

	if ((c->fd = socket(dst.ss_family, SOCK_STREAM | SOCK_NONBLOCK, 0)) ==
	    -1) {
		if (errno == EMFILE || errno == ENFILE)
			errx(1, "socket: out of descriptors");
		err(1, "socket");
	}
	if (mode == M_STALL && setsockopt(c->fd, SOL_SOCKET, SO_RCVBUF,
	    &rcvbuf, sizeof(rcvbuf)) == -1)
		err(1, "SO_RCVBUF");
	if (nsrc > 0) {
		if (dst.ss_family == AF_INET)
			setsockopt(c->fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT,
			    &one, sizeof(one));
		if (bind(c->fd, (struct sockaddr *)&src[isrc % nsrc],
		    dstlen) == -1)
			err(1, "bind to source %d", isrc % nsrc);
		isrc++;
	}
	attempts++;
	c->first = attempts <= (uint64_t)count;
	c->sent = 0;
	c->credit = 0;
	c->start_ms = now_ms();
	c->next_ms = c->start_ms + FLOOD_CONNECT_MS;
	c->state = C_CONNECTING;
	if (connect(c->fd, (struct sockaddr *)&dst, dstlen) == -1 &&
	    errno != EINPROGRESS) {
		conn_close(c, 0);
		return;
	}
	memset(&ev, 0, sizeof(ev));
	ev.events = EPOLLOUT | EPOLLIN | EPOLLRDHUP;
	ev.data.ptr = c;
	if (epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev) == -1)
		err(1, "epoll_ctl");
}

/* Established: what the mode does first. */
static void
conn_established(struct conn *c, uint64_t now)
{
	c->state = C_OPEN;
	c->start_ms = now;
	opened++;
	if (++open_now > open_max)
		open_max = open_now;
	switch (mode) {
	case M_TLS_HELLO:
	case M_TLS_DONE:
		if (conn_tls(c) == -1)
			conn_close(c, 1);
		return;
	case M_SLOW:
		/* its first byte at once, the next after the interval */
		c->next_ms = now;
		set_events(c, EPOLLIN | EPOLLRDHUP);
		break;
	case M_STALL:
		/* never read here: only a close or a reset ends it */
		set_events(c, EPOLLRDHUP);
		break;
	default:
		set_events(c, EPOLLIN | EPOLLRDHUP);
		break;
	}
	conn_tried(c);
	if (conn_send(c, now) == -1)
		conn_close(c, 1);
}

static void
conn_event(struct conn *c, uint32_t events)
{
	char		 buf[4096];
	socklen_t	 len = sizeof(int);
	ssize_t		 n;
	int		 e = 0;

	if (c->state == C_CONNECTING) {
		if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &e, &len) == -1 ||
		    e != 0 || (events & (EPOLLERR | EPOLLHUP))) {
			conn_close(c, 0);
			return;
		}
		if (events & EPOLLOUT)
			conn_established(c, now_ms());
		return;
	}
	if (c->tls != NULL) {
		if (conn_tls(c) == -1)
			conn_close(c, 1);
		return;
	}
	if (mode == M_STALL) {
		if (events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR))
			conn_close(c, 1);
		return;
	}
	/* whatever the server answers is dropped; its close ends it */
	while ((n = read(c->fd, buf, sizeof(buf))) > 0)
		;
	if (n == 0 || (n == -1 && errno != EAGAIN) ||
	    (events & (EPOLLHUP | EPOLLERR)))
		conn_close(c, 1);
}

/* Every tick: slowloris bytes, a stalled reader's trickle, timeouts. */
static void
tick(uint64_t now, uint64_t elapsed)
{
	static char	 buf[65536];
	struct conn	*c;
	size_t		 want;
	ssize_t		 n;
	int		 i;

	for (i = 0; i < count; i++) {
		c = &conns[i];
		if (c->state == C_CONNECTING) {
			if (now >= c->next_ms)
				conn_close(c, 0);
			continue;
		}
		if (c->state != C_OPEN || c->tls != NULL)
			continue;
		if (mode == M_SLOW && conn_send(c, now) == -1)
			conn_close(c, 1);
		else if (mode == M_STALL && read_rate > 0) {
			c->credit += read_rate * elapsed / 1000.0;
			if (c->credit > read_rate)
				c->credit = read_rate;
			want = c->credit < sizeof(buf) ? (size_t)c->credit :
			    sizeof(buf);
			if (want == 0)
				continue;
			n = read(c->fd, buf, want);
			if (n == 0 || (n == -1 && errno != EAGAIN))
				conn_close(c, 1);
			else if (n > 0)
				c->credit -= n;
		}
	}
}

static double
oldest_open(uint64_t now)
{
	uint64_t	 age = 0;
	int		 i;

	for (i = 0; i < count; i++)
		if (conns[i].state == C_OPEN && now - conns[i].start_ms > age)
			age = now - conns[i].start_ms;
	return (age / 1000.0);
}

static void
report_line(FILE *f, const char *prefix)
{
	fprintf(f, "%sattempts %llu opened %llu failed %llu open-max %d "
	    "open-end %d closed %llu longest-closed %.1f\n", prefix,
	    (unsigned long long)attempts, (unsigned long long)opened,
	    (unsigned long long)failed, open_max, open_now,
	    (unsigned long long)closed, longest_ms / 1000.0);
	fflush(f);
}

/* The JSON report, written whole and renamed into place. */
static void
report_json(const char *path, int final)
{
	char	 tmp[4096];
	FILE	*f;

	if (path == NULL)
		return;
	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= sizeof(tmp))
		errx(1, "-j %s: too long", path);
	if ((f = fopen(tmp, "w")) == NULL)
		err(1, "%s", tmp);
	fprintf(f, "{\"attempts\": %llu, \"opened\": %llu, \"failed\": %llu, "
	    "\"open\": %d, \"open_max\": %d, \"closed\": %llu, "
	    "\"longest_closed\": %.1f, \"oldest_open\": %.1f, "
	    "\"final\": %s}\n", (unsigned long long)attempts,
	    (unsigned long long)opened, (unsigned long long)failed, open_now,
	    open_max, (unsigned long long)closed, longest_ms / 1000.0,
	    oldest_open(now_ms()), final ? "true" : "false");
	if (fclose(f) == EOF || rename(tmp, path) == -1)
		err(1, "%s", path);
}

static void
write_ready(const char *path)
{
	FILE	*f;

	if ((f = fopen(path, "w")) == NULL)
		err(1, "%s", path);
	fprintf(f, "%llu %llu\n", (unsigned long long)opened,
	    (unsigned long long)failed);
	if (fclose(f) == EOF)
		err(1, "%s", path);
}

static void
set_interval(const char *s)
{
	char	 tail;
	int	 n;

	n = sscanf(s, "%lf-%lf%c", &min_ms, &max_ms, &tail);
	if (n == 1 && sscanf(s, "%lf%c", &min_ms, &tail) == 1)
		max_ms = min_ms;
	else if (n != 2)
		errx(2, "-i %s: want min[-max] seconds", s);
	if (min_ms < 0.01 || max_ms < min_ms || max_ms > 3600)
		errx(2, "-i %s: out of range", s);
	min_ms *= 1000;
	max_ms *= 1000;
}

static int
number(const char *opt, const char *s, long long lo, long long hi)
{
	const char	*errstr;
	long long	 n;

	n = strtonum(s, lo, hi, &errstr);
	if (errstr != NULL)
		errx(2, "-%s %s: %s", opt, s, errstr);
	return ((int)n);
}

static const struct option longopts[] = {
	{ "rcvbuf",	required_argument,	NULL,	'b' },
	{ "duration",	required_argument,	NULL,	'd' },
	{ "interval",	required_argument,	NULL,	'i' },
	{ "report",	required_argument,	NULL,	'j' },
	{ "read-rate",	required_argument,	NULL,	'k' },
	{ "refill",	no_argument,		NULL,	'K' },
	{ "mode",	required_argument,	NULL,	'm' },
	{ "count",	required_argument,	NULL,	'n' },
	{ "text",	required_argument,	NULL,	'p' },
	{ "rate",	required_argument,	NULL,	'r' },
	{ "sources",	required_argument,	NULL,	's' },
	{ "target",	required_argument,	NULL,	't' },
	{ "ready",	required_argument,	NULL,	'w' },
	{ NULL,		0,			NULL,	0 }
};

int
main(int argc, char *argv[])
{
	struct epoll_event	 evs[256];
	struct rlimit		 rl;
	struct sigaction	 sa;
	const char		*report = NULL, *ready = NULL;
	char			*target = NULL;
	uint64_t		 start, now, last, last_tick, last_report;
	uint64_t		 last_stderr;
	double			 credit = 0;
	int			 ch, i, n, duration = 60, rate = 2000;
	int			 have_mode = 0, wait_ms;
	size_t			 m;

	while ((ch = getopt_long(argc, argv, "b:d:i:j:k:Km:n:p:r:s:t:w:",
	    longopts, NULL)) != -1) {
		switch (ch) {
		case 'b':
			rcvbuf = number("b", optarg, 256, 1 << 24);
			break;
		case 'd':
			duration = number("d", optarg, 1, 86400);
			break;
		case 'i':
			set_interval(optarg);
			break;
		case 'j':
			report = optarg;
			break;
		case 'k':
			read_rate = number("k", optarg, 0, 1 << 30);
			break;
		case 'K':
			refill = 1;
			break;
		case 'm':
			for (m = 0; m < sizeof(modes) / sizeof(modes[0]); m++)
				if (strcmp(optarg, modes[m]) == 0)
					break;
			if (m == sizeof(modes) / sizeof(modes[0]))
				usage();
			mode = m;
			have_mode = 1;
			break;
		case 'n':
			count = number("n", optarg, 1, 1000000);
			break;
		case 'p':
			set_text(optarg);
			break;
		case 'r':
			rate = number("r", optarg, 1, 1000000);
			break;
		case 's':
			set_sources(optarg);
			break;
		case 't':
			target = optarg;
			break;
		case 'w':
			ready = optarg;
			break;
		default:
			usage();
		}
	}
	if (argc != optind || !have_mode || target == NULL || count == 0)
		usage();
	set_target(target);
	for (i = 0; i < nsrc; i++)
		if (src[i].ss_family != dst.ss_family)
			errx(2, "-s: source %d is not of the target's family",
			    i);
	if (mode == M_SLOW && textlen == 0)
		set_text("GET / HTTP/1.1\\r\\nHost: flood\\r\\n");
	if (mode == M_STALL && textlen == 0)
		errx(2, "stall needs the request (-p)");
	if (mode == M_TLS_HELLO || mode == M_TLS_DONE) {
		if ((tlscfg = tls_config_new()) == NULL)
			err(1, "tls_config_new");
		tls_config_insecure_noverifycert(tlscfg);
		tls_config_insecure_noverifyname(tlscfg);
		tls_config_insecure_noverifytime(tlscfg);
	}

	/* a descriptor a connection, and a few */
	if (getrlimit(RLIMIT_NOFILE, &rl) == -1)
		err(1, "getrlimit");
	if (rl.rlim_cur < (rlim_t)count + 64) {
		rl.rlim_cur = count + 64;
		if (rl.rlim_max < rl.rlim_cur)
			rl.rlim_max = rl.rlim_cur;
		if (setrlimit(RLIMIT_NOFILE, &rl) == -1)
			err(1, "cannot raise RLIMIT_NOFILE to %d", count + 64);
	}
	if ((conns = calloc(count, sizeof(*conns))) == NULL ||
	    (freelist = calloc(count, sizeof(*freelist))) == NULL)
		err(1, NULL);
	/* the free list is a stack: connection 0 is opened first */
	for (i = 0; i < count; i++) {
		conns[i].fd = -1;
		freelist[nfree++] = count - 1 - i;
	}
	if ((ep = epoll_create1(EPOLL_CLOEXEC)) == -1)
		err(1, "epoll_create1");
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	start = last = last_tick = last_report = last_stderr = now_ms();
	report_json(report, 0);
	while (!quit && (now = now_ms()) < start + duration * 1000ULL) {
		/* open what is missing, at the rate asked */
		credit += rate * (now - last) / 1000.0;
		last = now;
		if (credit > rate / 10.0 + 1)
			credit = rate / 10.0 + 1;
		while (credit >= 1 && nfree > 0 &&
		    (refill || attempts < (uint64_t)count)) {
			conn_open(&conns[freelist[--nfree]]);
			credit -= 1;
		}
		/* soon while there are connections to open, else a tick */
		if (nfree > 0 && (refill || attempts < (uint64_t)count))
			wait_ms = 5;
		else
			wait_ms = FLOOD_TICK_MS - (now - last_tick < FLOOD_TICK_MS ?
			    now - last_tick : FLOOD_TICK_MS);
		n = epoll_wait(ep, evs, sizeof(evs) / sizeof(evs[0]), wait_ms);
		if (n == -1 && errno != EINTR)
			err(1, "epoll_wait");
		for (i = 0; i < n; i++)
			conn_event(evs[i].data.ptr, evs[i].events);
		now = now_ms();
		if (now - last_tick >= FLOOD_TICK_MS) {
			tick(now, now - last_tick);
			last_tick = now;
		}
		if (ready != NULL && tried >= (uint64_t)count) {
			report_json(report, 0);
			write_ready(ready);
			ready = NULL;
		}
		if (now - last_report >= FLOOD_REPORT_MS) {
			report_json(report, 0);
			last_report = now;
		}
		if (now - last_stderr >= FLOOD_STDERR_MS) {
			report_line(stderr, "flood: ");
			last_stderr = now;
		}
	}
	report_json(report, 1);
	report_line(stdout, "");
	for (i = 0; i < count; i++)
		if (conns[i].fd != -1) {
			if (conns[i].tls != NULL)
				tls_free(conns[i].tls);
			close(conns[i].fd);
		}
	return (0);
}
