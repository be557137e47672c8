/*
 * An imsg channel driven by libevent, and small helpers.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
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
