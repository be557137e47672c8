/*
 * An imsg channel driven by libevent; the dispatcher that reads every
 * channel of every process; log lines from child to parent; small
 * helpers.
 *
 * The dispatcher (imsgev_dispatch) reads what a peer sent and checks
 * each message against the peer's table (struct imsgev_peer in proc.h)
 * before its handler sees it: a type the peer may send, the payload's
 * size, a descriptor where one belongs and none elsewhere, a terminated
 * string, the payload's validator, nothing but EARLY messages before
 * the peer's hello, once-only messages once.  What does not check out
 * is judged by who sent it: the trusted parent's is fatal; a child's, a
 * worker's or a client's closes the channel through peer->bad(), which
 * restarts or kills the sender; one on a stream channel between two
 * children is logged and dropped.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#ifdef __GLIBC__
#include <malloc.h>
#endif

#include <event2/event.h>

#include "imsg_types.h"
#include "log.h"
#include "proc.h"

void
imsgev_init(struct imsgev *iev, struct event_base *base, int fd,
    void (*handler)(int, short, void *), void *data)
{
	memset(iev, 0, sizeof(*iev));
	imsg_init(&iev->ibuf, fd);
	iev->base = base;
	iev->handler = handler;
	iev->data = data;
	iev->events = EV_READ;
	iev->ev = event_new(base, fd, EV_READ, handler, iev);
	if (iev->ev == NULL)
		fatalx("event_new");
	event_add(iev->ev, NULL);
}

/* A channel to peer p, read by the dispatcher. */
void
imsgev_open(struct imsgev *iev, struct event_base *base, int fd,
    const struct imsgev_peer *p, void *data)
{
	const struct imsgev_msg	*m;
	int			 n = 0;

	for (m = p->msgs; m->name != NULL; m++)
		n++;
	if (n > IMSGEV_MAXMSGS || (p->policy == IMSGEV_CLOSE &&
	    p->bad == NULL) || p->gone == NULL)
		fatalx("%s: bad table for %s", __func__, p->name);
	imsgev_init(iev, base, fd, imsgev_dispatch, data);
	iev->peer = p;
}

/*
 * The same peer on a new channel (a restarted peer's descriptor that
 * came in a message): the old one closed if it was open, the new one
 * made non-blocking and close-on-exec.
 */
void
imsgev_replace(struct imsgev *iev, int fd)
{
	struct event_base		*base = iev->base;
	const struct imsgev_peer	*p = iev->peer;
	void				*data = iev->data;

	if (iev->ev != NULL || iev->ibuf.fd != -1)
		imsgev_clear(iev);
	if (set_nonblock(fd) == -1 || set_cloexec(fd, 1) == -1)
		fatal("%s: %s", __func__, p->name);
	imsgev_open(iev, base, fd, p, data);
}

/*
 * Is imsg one that iev's peer may send now?  0 with *mp its entry, or
 * an IMSGEV_E* with why saying what is wrong.
 */
static int
imsgev_check(struct imsgev *iev, struct imsg *imsg,
    const struct imsgev_msg **mp, char *why, size_t whylen)
{
	const struct imsgev_peer	*p = iev->peer;
	const struct imsgev_msg		*m = NULL, *e;
	size_t				 len = IMSG_DATA_SIZE(imsg);
	uint32_t			 type = imsg->hdr.type;
	int				 i, idx = -1, hello = -1;

	*mp = NULL;
	if (p->version != 0 && imsg->hdr.peerid != p->version) {
		snprintf(why, whylen, "protocol version %u, not %u",
		    imsg->hdr.peerid, p->version);
		return (IMSGEV_EVERSION);
	}
	for (i = 0, e = p->msgs; e->name != NULL; i++, e++) {
		if (e->flags & IMSGEV_HELLO)
			hello = i;
		if (e->type == type && m == NULL) {
			m = e;
			idx = i;
		}
	}
	if (m == NULL) {
		snprintf(why, whylen, "unexpected message %u", type);
		return (IMSGEV_ETYPE);
	}
	if (hello != -1 && !(iev->seen & (1ULL << hello)) &&
	    !(m->flags & (IMSGEV_HELLO | IMSGEV_EARLY))) {
		snprintf(why, whylen, "message %u before hello", type);
		return (IMSGEV_EHELLO);
	}
	if ((m->flags & IMSGEV_ONCE) && (iev->seen & (1ULL << idx))) {
		snprintf(why, whylen, "%s again", m->name);
		return (IMSGEV_EONCE);
	}
	if (len < m->min || len > m->max) {
		snprintf(why, whylen, "bad %s (%zu bytes)", m->name, len);
		return (IMSGEV_ESIZE);
	}
	if ((m->flags & IMSGEV_FD) && imsg->fd == -1) {
		snprintf(why, whylen, "bad %s (no descriptor)", m->name);
		return (IMSGEV_EFD);
	}
	if (!(m->flags & (IMSGEV_FD | IMSGEV_FDOPT)) && imsg->fd != -1) {
		snprintf(why, whylen, "bad %s (a descriptor)", m->name);
		return (IMSGEV_EFD);
	}
	if (((m->flags & IMSGEV_STRING) &&
	    imsg_get_string(imsg, m->max) == NULL) ||
	    (m->valid != NULL && m->valid(imsg->data, len) == -1)) {
		snprintf(why, whylen, "bad %s", m->name);
		return (IMSGEV_EINVAL);
	}
	iev->seen |= 1ULL << idx;
	*mp = m;
	return (0);
}

/*
 * A bad message (or none: a broken header), judged by its sender.
 * Returns 1 when the channel is gone (the caller touches nothing more).
 */
static int
imsgev_judge(struct imsgev *iev, struct imsg *imsg, int error,
    const char *why)
{
	const struct imsgev_peer	*p = iev->peer;

	switch (p->policy) {
	case IMSGEV_FATAL:
		fatalx("bad message from %s: %s", p->name, why);
	case IMSGEV_CLOSE:
		p->bad(iev, imsg, error, why);
		return (1);
	case IMSGEV_DROP:
		/*
		 * A broken header leaves nothing to drop and the channel
		 * out of step for good, and its sender does not know:
		 * exit, so that the controller starts this process again
		 * and pairs it with its peer anew.
		 */
		if (imsg == NULL)
			fatalx("%s from %s: the channel cannot be read any "
			    "more", why, p->name);
		log_warnx("%s from %s (stream %u): dropped", why, p->name,
		    imsg->hdr.peerid);
		return (0);
	}
	return (0);
}

/*
 * The event callback of a channel opened with imsgev_open(): the I/O,
 * then every whole message through the peer's table.
 */
void
imsgev_dispatch(int fd, short event, void *arg)
{
	struct imsgev		*iev = arg;
	const struct imsgev_peer *p = iev->peer;
	const struct imsgev_msg	*m;
	struct imsg		 imsg;
	char			 why[128];
	ssize_t			 n;
	int			 error, r;

	if (imsgev_io(iev, event) == -1) {
		p->gone(iev);
		return;
	}
	for (;;) {
		if ((n = imsg_get(&iev->ibuf, &imsg)) == -1) {
			/* nothing after it can be trusted to be a message */
			if (imsgev_judge(iev, NULL, IMSGEV_EFRAME,
			    "a broken message"))
				return;
			break;
		}
		if (n == 0)
			break;
		if ((error = imsgev_check(iev, &imsg, &m, why,
		    sizeof(why))) == 0) {
			if ((r = m->fn(iev, &imsg)) == IMSGEV_GONE) {
				imsg_free(&imsg);
				return;
			}
			if (r == IMSGEV_BAD) {
				snprintf(why, sizeof(why), "bad %s", m->name);
				error = IMSGEV_EINVAL;
			}
		}
		if (error != 0 && imsgev_judge(iev, &imsg, error, why)) {
			imsg_free(&imsg);
			return;
		}
		imsg_free(&imsg);
		/* a handler may have closed the channel */
		if (iev->ev == NULL)
			return;
	}
	imsg_event_add(iev);
}

void
imsgev_clear(struct imsgev *iev)
{
	if (iev->ev != NULL) {
		event_free(iev->ev);
		iev->ev = NULL;
	}
	imsg_clear(&iev->ibuf);
	if (iev->ibuf.fd != -1)
		close(iev->ibuf.fd);
	iev->ibuf.fd = -1;
}

void
imsg_event_add(struct imsgev *iev)
{
	short	 events = EV_READ;

	if (iev->ev == NULL)
		return;
	if (iev->ibuf.w.queued)
		events |= EV_WRITE;
	if (events == iev->events && event_pending(iev->ev, EV_READ, NULL))
		return;
	event_del(iev->ev);
	event_assign(iev->ev, iev->base, iev->ibuf.fd, events, iev->handler,
	    iev);
	iev->events = events;
	event_add(iev->ev, NULL);
}

int
imsg_compose_event(struct imsgev *iev, uint32_t type, uint32_t peerid,
    pid_t pid, int fd, const void *data, size_t datalen)
{
	int	 ret;

	if ((ret = imsg_compose(&iev->ibuf, type, peerid, pid, fd, data,
	    datalen)) == -1)
		log_warn("%s: imsg_compose type %u", __func__, type);
	else
		imsg_event_add(iev);
	return (ret);
}

/*
 * imsg_compose_event(), and the channel written at once, not at the
 * loop's next turn (an EPOLLOUT first, and whatever else that turn
 * serves before it): for a message whose answer someone waits for, as
 * a leaf the browser's handshake needs.  What the socket does not take
 * waits for EV_WRITE as before; an error there is the handler's, as if
 * the loop had written.
 */
int
imsg_compose_now(struct imsgev *iev, uint32_t type, uint32_t peerid,
    pid_t pid, int fd, const void *data, size_t datalen)
{
	if (imsg_compose(&iev->ibuf, type, peerid, pid, fd, data,
	    datalen) == -1) {
		log_warn("%s: imsg_compose type %u", __func__, type);
		return (-1);
	}
	(void)msgbuf_write(&iev->ibuf.w);
	imsg_event_add(iev);
	return (0);
}

/*
 * The I/O half of an imsg event handler.  Returns -1 when the channel is
 * dead (EOF or a hard error), 0 otherwise; the caller then drains
 * imsg_get() and calls imsg_event_add().
 */
int
imsgev_io(struct imsgev *iev, short event)
{
	ssize_t	 n;

	if (event & EV_READ) {
		if ((n = imsg_read(&iev->ibuf)) == -1 && errno != EAGAIN)
			return (-1);
		if (n == 0)
			return (-1);
	}
	if (event & EV_WRITE) {
		if (msgbuf_write(&iev->ibuf.w) <= 0 && errno != EAGAIN)
			return (-1);
	}
	return (0);
}

static struct imsgev	*log_iev;

static void
imsgev_sink(int pri, const char *msg)
{
	int32_t	 p = pri;

	if (log_iev == NULL || log_iev->ibuf.fd == -1) {
		dprintf(STDERR_FILENO, "%s\n", msg);
		return;
	}
	if (imsg_compose2(&log_iev->ibuf, IMSG_LOG, 0, 0, -1, &p, sizeof(p),
	    msg, strlen(msg) + 1) == -1)
		return;
	if (pri <= LOG_CRIT)
		imsg_flush(&log_iev->ibuf);
	else
		imsg_event_add(log_iev);
}

/* A child: send every log line to the controller on this channel. */
void
imsgev_log_sink(struct imsgev *iev)
{
	log_iev = iev;
	log_set_sink(imsgev_sink);
}

/*
 * The other end: IMSG_LOG from a child (imsg_log_valid() has checked
 * it), written as one line under the child's name, whatever the child
 * may have become.
 */
int
proc_recv_log(struct imsgev *iev, struct imsg *imsg)
{
	char	 line[IMSG_MAXDATA];
	int32_t	 pri;

	memcpy(&pri, imsg->data, sizeof(pri));
	/* a child sends none of these, unless it missed the level */
	if (!log_wants(pri))
		return (IMSGEV_OK);
	log_sanitize((const char *)imsg->data + sizeof(pri), line,
	    sizeof(line));
	log_emit(pri, iev->peer->name, line);
	return (IMSGEV_OK);
}

/* IMSG_LOG_VERBOSE from the parent (imsg_verbose_valid()). */
int
proc_recv_verbose(struct imsgev *iev, struct imsg *imsg)
{
	int32_t	 v;

	memcpy(&v, imsg->data, sizeof(v));
	log_setverbose(v);
	return (IMSGEV_OK);
}

int
set_nonblock(int fd)
{
	int	 flags;

	if ((flags = fcntl(fd, F_GETFL)) == -1)
		return (-1);
	return (fcntl(fd, F_SETFL, flags | O_NONBLOCK));
}

int
set_cloexec(int fd, int on)
{
	int	 flags;

	if ((flags = fcntl(fd, F_GETFD)) == -1)
		return (-1);
	if (on)
		flags |= FD_CLOEXEC;
	else
		flags &= ~FD_CLOEXEC;
	return (fcntl(fd, F_SETFD, flags));
}

/* Milliseconds of the monotonic clock, for deadlines and ages. */
int64_t
mono_ms(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
}

/* Arm a timer: seconds and microseconds from now. */
void
timer_add(struct event *ev, long sec, long usec)
{
	struct timeval	 tv;

	tv.tv_sec = sec;
	tv.tv_usec = usec;
	evtimer_add(ev, &tv);
}

/*
 * The environment a helper is exec'd with: a fixed PATH and, of what is
 * set here, only the time zone and the sanitizers' options; nothing
 * secret, nothing else from the user.  Async-signal-safe (it runs
 * between fork and exec).
 */
static const char *proc_pass_env[] = {
	"TZ", "ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS", NULL
};

void
proc_child_env(struct proc_env *pe)
{
	const char	*v;
	int		 i, n = 0;

	pe->envp[n++] = "PATH=/usr/bin:/bin";
	for (i = 0; proc_pass_env[i] != NULL && n < PROC_ENV_SLOTS - 1; i++) {
		if ((v = getenv(proc_pass_env[i])) == NULL)
			continue;
		snprintf(pe->buf[n - 1], sizeof(pe->buf[0]), "%s=%s",
		    proc_pass_env[i], v);
		pe->envp[n] = pe->buf[n - 1];
		n++;
	}
	pe->envp[n] = NULL;
}

/* Its own process group and default signals, none blocked. */
/*
 * The command line the spawner gives a helper (kgpd, proxyd, pacd): -v
 * and -q (more and less logging), -u uid:gid (the ids of _sc).  Fills
 * ids (NULL: none) and verbose; -1 for anything else, and the caller
 * says its usage.
 */
int
proc_helper_args(int argc, char *argv[], const char **ids, int *verbose)
{
	int	 ch;

	*ids = NULL;
	*verbose = 0;
	while ((ch = getopt(argc, argv, "qu:v")) != -1) {
		switch (ch) {
		case 'u':
			*ids = optarg;
			break;
		case 'q':
			(*verbose)--;	/* --log-level warn, error */
			break;
		case 'v':
			(*verbose)++;
			break;
		default:
			return (-1);
		}
	}
	return (argc != optind ? -1 : 0);
}

/* A helper's first word to the controller, once its sandbox is on. */
void
proc_hello(struct imsgev *iev)
{
	struct sc_hello	 hello;

	memset(&hello, 0, sizeof(hello));
	hello.version = SC_IMSG_VERSION;
	hello.pid = getpid();
	imsg_compose_event(iev, IMSG_HELLO, 0, 0, -1, &hello, sizeof(hello));
}

void
proc_child_signals(void)
{
	sigset_t	 set;

	setpgid(0, 0);
	signal(SIGPIPE, SIG_DFL);
	signal(SIGCHLD, SIG_DFL);
	signal(SIGINT, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	signal(SIGHUP, SIG_DFL);
	sigemptyset(&set);
	sigprocmask(SIG_SETMASK, &set, NULL);
}

/*
 * glibc keeps the heap that a burst of traffic grew (the buffers of many
 * streams) long after the streams are gone, and it counts as the
 * process's RSS.  Every PROC_TRIM_SEC, give the free part back once there
 * is more than PROC_TRIM_MIN of it.  In a burst the heap is reused, not
 * trimmed, so this costs nothing on the hot path.
 */
#define PROC_TRIM_SEC	10
#define PROC_TRIM_MIN	(1024 * 1024)
#define PROC_MMAP_MIN	(4 * 1024 * 1024)	/* mmap only what is bigger */
#define PROC_TRIM_KEEP	(64 * 1024 * 1024)	/* free() trims above this */

static void
proc_trim(int fd, short event, void *arg)
{
#ifdef __GLIBC__
	struct mallinfo2	 mi;

	mi = mallinfo2();
	if (mi.fordblks >= PROC_TRIM_MIN)
		malloc_trim(0);
#endif
}

void
proc_trim_start(struct event_base *base)
{
	struct timeval	 tv = { PROC_TRIM_SEC, 0 };
	struct event	*ev;

#ifdef __GLIBC__
	/*
	 * Left to itself glibc gives memory back at every free() near the
	 * top of the heap and maps big buffers one by one, and a bulk
	 * transfer pays page faults for every 256 KiB read.  Keep freed
	 * memory in the heap instead: the timer gives it back.
	 */
	mallopt(M_MMAP_THRESHOLD, PROC_MMAP_MIN);
	mallopt(M_TRIM_THRESHOLD, PROC_TRIM_KEEP);
#endif

	if ((ev = event_new(base, -1, EV_PERSIST, proc_trim, NULL)) == NULL)
		fatal("%s", __func__);
	event_add(ev, &tv);
}
