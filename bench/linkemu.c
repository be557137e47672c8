/*
 * linkemu: a WAN link between two TUN devices, for bench/wan.sh.
 *
 *	linkemu [-d ms] [-r Mbit/s] [-q bytes] [-l percent] [-m mtu]
 *	    [-s seed] tunA tunB
 *
 * It creates the two TUN devices (no packet information header) and
 * carries every IP packet read from one to the other, as a link would
 * between two hosts: each direction has its own
 *   - one-way delay (-d, milliseconds, may be fractional);
 *   - rate (-r, Mbit/s): a token bucket one packet deep, that is the
 *     packets leave the bottleneck one after another at the line rate;
 *   - bottleneck queue (-q, bytes): a packet that would take the bytes
 *     waiting for the line past it is dropped (drop tail);
 *   - random loss (-l, percent of packets, after the queue).
 * -m is the largest packet it carries (the devices' MTU, 1500 by
 * default).  The benchmark moves each device into a network namespace of its own
 * and gives them addresses; this kernel has no sch_netem.  It runs until
 * SIGTERM or SIGINT, then prints the packets carried and dropped in each
 * direction on stderr.  On SIGUSR1 it prints, for each direction, the
 * depth of the bottleneck queue in ms (the time the bytes ahead of it
 * take to leave at the line rate) as the packets that arrived since
 * the last SIGUSR1 found it: median, 90th percentile and largest, in
 * steps of QHIST_STEP_US; and starts counting again.  It is a
 * benchmark tool, not part of sc.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <sys/ioctl.h>
#include <sys/types.h>

#include <linux/if.h>
#include <linux/if_tun.h>

#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define PKT_MAX		65536		/* the largest IP packet */
#define RING_SLOTS	4096		/* packets in flight, each way */
#define READ_BURST	64		/* packets read per device per turn */
#define QHIST_STEP_US	250		/* queue depth histogram: a bucket */
#define QHIST_BUCKETS	8000		/* ... 2 s of them; the last: more */

struct pkt {
	uint64_t	 due_ns;	/* when it comes out of the link */
	uint32_t	 len;
	uint8_t		*data;		/* slot bytes of the ring's */
};

/* one direction of the link: from fd_in to fd_out */
struct dir {
	const char	*name;
	int		 fd_in;
	int		 fd_out;
	uint64_t	 delay_ns;
	double		 ns_per_byte;	/* 0: no rate limit */
	uint64_t	 queue_max;	/* bytes waiting for the line */
	double		 loss;		/* 0..1 */
	uint64_t	 line_free_ns;	/* when the line takes the next */
	struct pkt	*ring;
	uint8_t		*slots;		/* RING_SLOTS of slot bytes */
	size_t		 slot;		/* the MTU and a little */
	size_t		 head, count;
	uint64_t	 carried, dropped_queue, dropped_loss, dropped_ring;
	uint64_t	*qhist;		/* arrivals by queue depth found */
	uint64_t	 qsamples;
};

static volatile sig_atomic_t	 quit, report;
static uint64_t			 rng_state = 0x9e3779b97f4a7c15ULL;

static void
on_signal(int sig)
{
	if (sig == SIGUSR1)
		report = 1;
	else
		quit = 1;
}

static uint64_t
now_ns(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((uint64_t)ts.tv_sec * 1000000000ULL + ts.tv_nsec);
}

/* xorshift64*: uniform in [0, 1) */
static double
rnd(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return ((rng_state * 2685821657736338717ULL >> 11) * (1.0 / 9007199254740992.0));
}

static int
tun_open(const char *name)
{
	struct ifreq	 ifr;
	int		 fd;

	if ((fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC)) == -1)
		err(1, "/dev/net/tun");
	memset(&ifr, 0, sizeof(ifr));
	ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
	if ((size_t)snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s",
	    name) >= sizeof(ifr.ifr_name))
		errx(1, "%s: name too long", name);
	if (ioctl(fd, TUNSETIFF, &ifr) == -1)
		err(1, "TUNSETIFF %s", name);
	return (fd);
}

/* An arrival found the queue wait_ns deep. */
static void
dir_sample(struct dir *d, uint64_t wait_ns)
{
	uint64_t	 b = wait_ns / 1000 / QHIST_STEP_US;

	d->qhist[b < QHIST_BUCKETS ? b : QHIST_BUCKETS - 1]++;
	d->qsamples++;
}

/* The depth in ms below which part (0..1) of the arrivals found it. */
static double
dir_quantile(const struct dir *d, double part)
{
	uint64_t	 want, seen = 0;
	size_t		 b;

	want = (uint64_t)(part * d->qsamples);
	if (want == 0)
		want = 1;
	for (b = 0; b < QHIST_BUCKETS; b++) {
		seen += d->qhist[b];
		if (seen >= want)
			break;
	}
	if (b == QHIST_BUCKETS)
		b--;
	return ((b + 1) * QHIST_STEP_US / 1000.0);
}

/* SIGUSR1: the queue's depth since the last report, then a new count. */
static void
dir_report(struct dir *d, const char *to)
{
	fprintf(stderr, "linkemu: queue %s -> %s: %llu arrivals, median %.2f "
	    "ms, 90 %% %.2f ms, max %.2f ms\n", d->name, to,
	    (unsigned long long)d->qsamples, dir_quantile(d, 0.5),
	    dir_quantile(d, 0.9), dir_quantile(d, 1.0));
	memset(d->qhist, 0, QHIST_BUCKETS * sizeof(*d->qhist));
	d->qsamples = 0;
}

/* Read what fd_in has into the link: queue, loss, then the ring. */
static void
dir_read(struct dir *d, uint64_t now)
{
	struct pkt	*p;
	uint64_t	 waiting, start;
	ssize_t		 n;
	int		 i;

	for (i = 0; i < READ_BURST; i++) {
		if (d->count == RING_SLOTS) {
			/* the ring is full: read one to drop it */
			static uint8_t	 junk[PKT_MAX];

			if (read(d->fd_in, junk, sizeof(junk)) <= 0)
				return;
			d->dropped_ring++;
			continue;
		}
		p = &d->ring[(d->head + d->count) % RING_SLOTS];
		if ((n = read(d->fd_in, p->data, d->slot)) <= 0) {
			if (n == -1 && errno != EAGAIN && errno != EINTR)
				err(1, "read %s", d->name);
			return;
		}
		/* bytes still waiting for the line ahead of this one */
		waiting = 0;
		if (d->ns_per_byte > 0 && d->line_free_ns > now)
			waiting = (uint64_t)((d->line_free_ns - now) /
			    d->ns_per_byte);
		dir_sample(d, d->line_free_ns > now ? d->line_free_ns - now : 0);
		if (d->queue_max > 0 && waiting + n > d->queue_max) {
			d->dropped_queue++;
			continue;
		}
		start = d->line_free_ns > now ? d->line_free_ns : now;
		d->line_free_ns = start + (uint64_t)(n * d->ns_per_byte);
		if (d->loss > 0 && rnd() < d->loss) {
			d->dropped_loss++;	/* lost on the wire */
			continue;
		}
		p->len = n;
		p->due_ns = d->line_free_ns + d->delay_ns;
		d->count++;
	}
}

/* Deliver what is due; returns the ns until the next is, or -1. */
static int64_t
dir_deliver(struct dir *d, uint64_t now)
{
	struct pkt	*p;

	while (d->count > 0) {
		p = &d->ring[d->head];
		if (p->due_ns > now)
			return ((int64_t)(p->due_ns - now));
		/* a full device queue drops, as a NIC would */
		if (write(d->fd_out, p->data, p->len) == -1 &&
		    errno != EAGAIN && errno != ENOBUFS && errno != EIO)
			err(1, "write %s", d->name);
		d->carried++;
		d->head = (d->head + 1) % RING_SLOTS;
		d->count--;
	}
	return (-1);
}

static void
usage(void)
{
	fprintf(stderr, "usage: linkemu [-d ms] [-r Mbit/s] [-q bytes] "
	    "[-l percent] [-m mtu] [-s seed] tunA tunB\n");
	exit(2);
}

int
main(int argc, char *argv[])
{
	struct dir		 dirs[2];
	struct pollfd		 pfd[2];
	struct timespec		 ts;
	struct sigaction	 sa;
	sigset_t		 block, during;
	double			 delay_ms = 0, mbit = 0, loss = 0;
	uint64_t		 queue = 0, now;
	size_t			 mtu = 1500, k;
	int64_t			 wait, w;
	int			 ch, fa, fb, i;

	while ((ch = getopt(argc, argv, "d:r:q:l:m:s:")) != -1) {
		switch (ch) {
		case 'd':
			delay_ms = strtod(optarg, NULL);
			break;
		case 'r':
			mbit = strtod(optarg, NULL);
			break;
		case 'q':
			queue = strtoull(optarg, NULL, 10);
			break;
		case 'l':
			loss = strtod(optarg, NULL) / 100.0;
			break;
		case 'm':
			mtu = strtoul(optarg, NULL, 10);
			break;
		case 's':
			rng_state = strtoull(optarg, NULL, 0) | 1;
			break;
		default:
			usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (argc != 2 || delay_ms < 0 || mbit < 0 || loss < 0 || loss >= 1 ||
	    mtu < 576 || mtu > PKT_MAX - 64)
		usage();
	fa = tun_open(argv[0]);
	fb = tun_open(argv[1]);
	memset(dirs, 0, sizeof(dirs));
	for (i = 0; i < 2; i++) {
		dirs[i].name = argv[i];
		dirs[i].fd_in = i == 0 ? fa : fb;
		dirs[i].fd_out = i == 0 ? fb : fa;
		dirs[i].delay_ns = (uint64_t)(delay_ms * 1e6);
		dirs[i].ns_per_byte = mbit > 0 ? 8000.0 / mbit : 0;
		dirs[i].queue_max = queue;
		dirs[i].loss = loss;
		dirs[i].slot = mtu + 64;
		if ((dirs[i].ring = calloc(RING_SLOTS, sizeof(struct pkt))) ==
		    NULL || (dirs[i].slots = calloc(RING_SLOTS,
		    dirs[i].slot)) == NULL || (dirs[i].qhist =
		    calloc(QHIST_BUCKETS, sizeof(uint64_t))) == NULL)
			err(1, "calloc");
		for (k = 0; k < RING_SLOTS; k++)
			dirs[i].ring[k].data = dirs[i].slots + k * dirs[i].slot;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGUSR1, &sa, NULL);
	/* the signals come in ppoll() only: none is missed before it */
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGUSR1);
	sigprocmask(SIG_BLOCK, &block, &during);
	sigdelset(&during, SIGTERM);
	sigdelset(&during, SIGINT);
	sigdelset(&during, SIGUSR1);
	fprintf(stderr, "linkemu: %s <-> %s: %.2f ms each way, %.0f Mbit/s, "
	    "queue %llu bytes, loss %.3f %%\n", argv[0], argv[1], delay_ms,
	    mbit, (unsigned long long)queue, loss * 100);
	pfd[0].fd = fa;
	pfd[1].fd = fb;
	pfd[0].events = pfd[1].events = POLLIN;
	while (!quit) {
		if (report) {
			report = 0;
			for (i = 0; i < 2; i++)
				dir_report(&dirs[i], dirs[1 - i].name);
		}
		now = now_ns();
		wait = -1;
		for (i = 0; i < 2; i++) {
			w = dir_deliver(&dirs[i], now);
			if (w >= 0 && (wait < 0 || w < wait))
				wait = w;
		}
		if (wait >= 0) {
			ts.tv_sec = wait / 1000000000;
			ts.tv_nsec = wait % 1000000000;
		}
		if (ppoll(pfd, 2, wait >= 0 ? &ts : NULL, &during) == -1) {
			if (errno == EINTR)
				continue;
			err(1, "ppoll");
		}
		now = now_ns();
		for (i = 0; i < 2; i++)
			if (pfd[i].revents & POLLIN)
				dir_read(&dirs[i], now);
	}
	for (i = 0; i < 2; i++)
		fprintf(stderr, "linkemu: %s -> %s: %llu carried, %llu dropped "
		    "(queue), %llu lost, %llu over the ring\n", dirs[i].name,
		    dirs[1 - i].name, (unsigned long long)dirs[i].carried,
		    (unsigned long long)dirs[i].dropped_queue,
		    (unsigned long long)dirs[i].dropped_loss,
		    (unsigned long long)dirs[i].dropped_ring);
	for (i = 0; i < 2; i++) {
		free(dirs[i].qhist);
		free(dirs[i].slots);
		free(dirs[i].ring);
	}
	close(fa);
	close(fb);
	return (0);
}
