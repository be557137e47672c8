/*
 * flood: many connections that each cost a server something and give it
 * nothing, for tests/stress.  One epoll loop, a few hundred bytes of
 * state a connection: 10,000 of them cost this process a few MB and
 * little CPU.
 *
 *	flood -m hold|slow|stall -t addr:port -n conns [-d seconds]
 *	    [-r opens/s] [-s src[,src...]] [-i min-max] [-p text] [-b bytes]
 *
 *	hold	connect and send nothing more than -p (pre-authentication
 *		KGP: a TCP connection, maybe the start of a TLS ClientHello,
 *		that never goes on)
 *	slow	slowloris: a request head that never ends, one byte every
 *		min-max seconds (-i, default 5-10)
 *	stall	send the request -p (\r\n escapes are read), then never read:
 *		a browser that stops reading a large answer; -b sets the
 *		receive buffer (default 4096)
 *
 * Connections are opened at -r a second (default 2000) from the source
 * addresses -s in turn, and kept at -n: one the server closes is opened
 * again.  After -d seconds (default 60), or SIGTERM/SIGINT, it closes
 * them and prints one line on stdout:
 *	opened N open-max N open-end N closed-by-peer N failed N
 * and every 5 seconds the same, prefixed "flood:", on stderr.
 */
#include <sys/types.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>

#include <err.h>
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT	24
#endif

#define FLOOD_SRC_MAX	256
#define FLOOD_REPORT_MS	5000

enum mode { M_HOLD, M_SLOW, M_STALL };

enum cstate { C_FREE, C_CONNECTING, C_OPEN };

struct conn {
	int		 fd;
	enum cstate	 state;
	uint32_t	 sent;		/* bytes of the text sent */
	uint64_t	 next_ms;	/* slow: when the next byte goes */
};

static enum mode		 mode;
static struct sockaddr_in	 dst;
static struct in_addr		 src[FLOOD_SRC_MAX];
static int			 nsrc, isrc;
static char			 text[4096];
static size_t			 textlen;
static int			 min_ms = 5000, max_ms = 10000;
static int			 rcvbuf = 4096;
static volatile sig_atomic_t	 quit;
static struct conn		*conns;
static int			 nconns;
static int			 ep;
static uint64_t			 opened, closed_peer, failed;
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
	quit = 1;
}

static __attribute__((__noreturn__)) void
usage(void)
{
	fprintf(stderr, "usage: flood -m hold|slow|stall -t addr:port "
	    "-n conns [-d seconds] [-r opens/s]\n"
	    "             [-s src[,src...]] [-i min-max] [-p text] "
	    "[-b rcvbuf]\n");
	exit(2);
}

/* "\r" and "\n" in the text are read as CR and LF */
static void
set_text(const char *s)
{
	textlen = 0;
	while (*s != '\0' && textlen < sizeof(text)) {
		if (s[0] == '\\' && (s[1] == 'r' || s[1] == 'n')) {
			text[textlen++] = s[1] == 'r' ? '\r' : '\n';
			s += 2;
		} else if (s[0] == '\\' && s[1] == 'x' && s[2] && s[3]) {
			char	 hex[3] = { s[2], s[3], 0 };

			text[textlen++] = (char)strtol(hex, NULL, 16);
			s += 4;
		} else
			text[textlen++] = *s++;
	}
}

static void
set_sources(char *list)
{
	char	*s;

	while ((s = strsep(&list, ",")) != NULL) {
		if (*s == '\0')
			continue;
		if (nsrc == FLOOD_SRC_MAX)
			errx(2, "more than %d source addresses", FLOOD_SRC_MAX);
		if (inet_pton(AF_INET, s, &src[nsrc]) != 1)
			errx(2, "bad source address %s", s);
		nsrc++;
	}
}

static void
conn_close(struct conn *c)
{
	if (c->state == C_OPEN)
		open_now--;
	close(c->fd);
	c->fd = -1;
	c->state = C_FREE;
}

static int
next_delay(void)
{
	return (min_ms + (max_ms > min_ms ? rand() % (max_ms - min_ms + 1) :
	    0));
}

/* Write what this mode sends now; -1 when the connection is over. */
static int
conn_send(struct conn *c, uint64_t now)
{
	size_t	 want;
	ssize_t	 n;

	switch (mode) {
	case M_HOLD:
	case M_STALL:
		want = textlen - c->sent;
		break;
	case M_SLOW:
		if (now < c->next_ms)
			return (0);
		want = 1;
		c->next_ms = now + next_delay();
		break;
	default:
		return (-1);
	}
	if (want == 0)
		return (0);
	n = send(c->fd, text + c->sent % textlen, want,
	    MSG_NOSIGNAL | MSG_DONTWAIT);
	if (n == -1)
		return (errno == EAGAIN ? 0 : -1);
	c->sent += n;
	/* slow: the head never ends, start it again (another field) */
	if (mode == M_SLOW && c->sent % textlen == 0)
		c->sent = 0;
	return (0);
}

static void
conn_open(struct conn *c)
{
	struct epoll_event	 ev;
	struct sockaddr_in	 sa;
	int			 one = 1;

	if ((c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0)) == -1) {
		if (errno == EMFILE || errno == ENFILE)
			errx(1, "socket: out of descriptors");
		err(1, "socket");
	}
	if (mode == M_STALL)
		setsockopt(c->fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf,
		    sizeof(rcvbuf));
	if (nsrc > 0) {
		memset(&sa, 0, sizeof(sa));
		sa.sin_family = AF_INET;
		sa.sin_addr = src[isrc++ % nsrc];
		setsockopt(c->fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one,
		    sizeof(one));
		if (bind(c->fd, (struct sockaddr *)&sa, sizeof(sa)) == -1)
			err(1, "bind %s", inet_ntoa(sa.sin_addr));
	}
	c->sent = 0;
	c->next_ms = now_ms() + (mode == M_SLOW ? next_delay() : 0);
	opened++;
	if (connect(c->fd, (struct sockaddr *)&dst, sizeof(dst)) == -1 &&
	    errno != EINPROGRESS) {
		failed++;
		close(c->fd);
		c->fd = -1;
		return;
	}
	c->state = C_CONNECTING;
	memset(&ev, 0, sizeof(ev));
	ev.events = EPOLLOUT | EPOLLIN | EPOLLRDHUP;
	ev.data.ptr = c;
	if (epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev) == -1)
		err(1, "epoll_ctl");
}

static void
conn_event(struct conn *c, uint32_t events)
{
	struct epoll_event	 ev;
	char			 buf[4096];
	socklen_t		 len = sizeof(int);
	int			 e = 0;
	ssize_t			 n;

	if (c->state == C_CONNECTING) {
		getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &e, &len);
		if (e != 0 || (events & (EPOLLERR | EPOLLHUP))) {
			failed++;
			c->state = C_FREE;
			close(c->fd);
			c->fd = -1;
			return;
		}
		if (!(events & EPOLLOUT))
			goto readable;
		c->state = C_OPEN;
		if (++open_now > open_max)
			open_max = open_now;
		/* from now on only what the server says, or its close */
		memset(&ev, 0, sizeof(ev));
		ev.events = mode == M_STALL ? EPOLLRDHUP : EPOLLIN | EPOLLRDHUP;
		ev.data.ptr = c;
		epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
		if (mode != M_SLOW && conn_send(c, now_ms()) == -1) {
			closed_peer++;
			conn_close(c);
		}
		return;
	}
readable:
	if (mode == M_STALL) {
		/* never read: only a close or reset of the server ends it */
		if (events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) {
			closed_peer++;
			conn_close(c);
		}
		return;
	}
	/* whatever the server answers is dropped; its close ends it */
	while ((n = read(c->fd, buf, sizeof(buf))) > 0)
		;
	if (n == 0 || (n == -1 && errno != EAGAIN) ||
	    (events & (EPOLLHUP | EPOLLERR))) {
		closed_peer++;
		conn_close(c);
	}
}

static void
report(FILE *f, const char *prefix)
{
	fprintf(f, "%sopened %llu open-max %d open-end %d closed-by-peer %llu "
	    "failed %llu\n", prefix, (unsigned long long)opened, open_max,
	    open_now, (unsigned long long)closed_peer,
	    (unsigned long long)failed);
	fflush(f);
}

int
main(int argc, char *argv[])
{
	struct epoll_event	 evs[256];
	struct rlimit		 rl;
	struct sigaction	 sa;
	const char		*errstr;
	char			*p, *target = NULL, *srcs = NULL;
	uint64_t		 start, now, last, last_report, next_slow = 0;
	double			 credit = 0;
	int			 ch, i, n, duration = 60, rate = 2000;
	int			 k, scan = 0;

	memset(&dst, 0, sizeof(dst));
	dst.sin_family = AF_INET;
	while ((ch = getopt(argc, argv, "b:d:i:m:n:p:r:s:t:")) != -1) {
		switch (ch) {
		case 'b':
			rcvbuf = strtonum(optarg, 256, 1 << 24, &errstr);
			if (errstr != NULL)
				errx(2, "-b %s: %s", optarg, errstr);
			break;
		case 'd':
			duration = strtonum(optarg, 1, 86400, &errstr);
			if (errstr != NULL)
				errx(2, "-d %s: %s", optarg, errstr);
			break;
		case 'i':
			if (sscanf(optarg, "%d-%d", &min_ms, &max_ms) != 2 ||
			    min_ms < 1 || max_ms < min_ms)
				errx(2, "-i %s: want min-max seconds", optarg);
			min_ms *= 1000;
			max_ms *= 1000;
			break;
		case 'm':
			if (strcmp(optarg, "hold") == 0)
				mode = M_HOLD;
			else if (strcmp(optarg, "slow") == 0)
				mode = M_SLOW;
			else if (strcmp(optarg, "stall") == 0)
				mode = M_STALL;
			else
				usage();
			break;
		case 'n':
			nconns = strtonum(optarg, 1, 1000000, &errstr);
			if (errstr != NULL)
				errx(2, "-n %s: %s", optarg, errstr);
			break;
		case 'p':
			set_text(optarg);
			break;
		case 'r':
			rate = strtonum(optarg, 1, 1000000, &errstr);
			if (errstr != NULL)
				errx(2, "-r %s: %s", optarg, errstr);
			break;
		case 's':
			srcs = optarg;
			break;
		case 't':
			target = optarg;
			break;
		default:
			usage();
		}
	}
	if (target == NULL || nconns == 0 || (p = strrchr(target, ':')) ==
	    NULL)
		usage();
	*p++ = '\0';
	if (inet_pton(AF_INET, target, &dst.sin_addr) != 1)
		errx(2, "bad address %s", target);
	dst.sin_port = htons(strtonum(p, 1, 65535, &errstr));
	if (errstr != NULL)
		errx(2, "bad port %s", p);
	if (srcs != NULL)
		set_sources(srcs);
	if (mode == M_SLOW && textlen == 0)
		set_text("GET / HTTP/1.1\\r\\nHost: flood\\r\\n"
		    "X-Slowloris: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\\r\\n");
	if (mode == M_STALL && textlen == 0)
		errx(2, "stall needs the request (-p)");

	/* a descriptor a connection, and a few */
	if (getrlimit(RLIMIT_NOFILE, &rl) == -1)
		err(1, "getrlimit");
	if (rl.rlim_cur < (rlim_t)nconns + 64) {
		rl.rlim_cur = nconns + 64;
		if (rl.rlim_max < rl.rlim_cur)
			rl.rlim_max = rl.rlim_cur;
		if (setrlimit(RLIMIT_NOFILE, &rl) == -1)
			err(1, "cannot raise RLIMIT_NOFILE to %d",
			    nconns + 64);
	}
	if ((conns = calloc(nconns, sizeof(*conns))) == NULL)
		err(1, "calloc");
	for (i = 0; i < nconns; i++)
		conns[i].fd = -1;
	if ((ep = epoll_create1(EPOLL_CLOEXEC)) == -1)
		err(1, "epoll_create1");
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	srand(getpid());

	start = last = last_report = now_ms();
	while (!quit && (now = now_ms()) < start + duration * 1000ULL) {
		/* open what is missing, at the rate asked */
		credit += rate * (now - last) / 1000.0;
		last = now;
		if (credit > rate / 10.0 + 1)
			credit = rate / 10.0 + 1;
		for (k = 0; k < nconns && credit >= 1; k++) {
			i = (scan + k) % nconns;
			if (conns[i].state != C_FREE)
				continue;
			conn_open(&conns[i]);
			credit -= 1;
		}
		scan = (scan + k) % nconns;
		n = epoll_wait(ep, evs, sizeof(evs) / sizeof(evs[0]), 100);
		if (n == -1 && errno != EINTR)
			err(1, "epoll_wait");
		for (i = 0; i < n; i++)
			conn_event(evs[i].data.ptr, evs[i].events);
		now = now_ms();
		if (mode == M_SLOW && now >= next_slow) {
			for (i = 0; i < nconns; i++)
				if (conns[i].state == C_OPEN &&
				    conn_send(&conns[i], now) == -1) {
					closed_peer++;
					conn_close(&conns[i]);
				}
			next_slow = now + 100;
		}
		if (now - last_report >= FLOOD_REPORT_MS) {
			report(stderr, "flood: ");
			last_report = now;
		}
	}
	report(stdout, "");
	for (i = 0; i < nconns; i++)
		if (conns[i].fd != -1)
			close(conns[i].fd);
	return (0);
}
