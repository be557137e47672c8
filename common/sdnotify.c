/*
 * The systemd notification protocol, written against the description of
 * NOTIFY_SOCKET and WATCHDOG_USEC in sd_notify(3): see sdnotify.h.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "log.h"
#include "sdnotify.h"

static int		 sd_fd = -1;
static struct event	*sd_wd_ev;
static long long	 sd_wd_usec;	/* half of WATCHDOG_USEC */
static struct timespec	 sd_wd_last;

static void	 sdnotify_watchdog_cb(int, short, void *);

/*
 * Open and connect the socket of NOTIFY_SOCKET, and take the variable
 * out of the environment (the helpers are not the service).  Returns 0,
 * also without the variable, or -1 (logged) when it names no socket
 * that takes datagrams.
 */
int
sdnotify_init(void)
{
	struct sockaddr_un	 sun;
	const char		*path;
	socklen_t		 len;
	size_t			 n;

	if ((path = getenv("NOTIFY_SOCKET")) == NULL || *path == '\0')
		return (0);
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	n = strlen(path);
	if ((path[0] != '/' && path[0] != '@') || n >= sizeof(sun.sun_path)) {
		log_warnx("NOTIFY_SOCKET %s: neither a path nor an abstract "
		    "name ('@...') that fits", path);
		unsetenv("NOTIFY_SOCKET");
		return (-1);
	}
	memcpy(sun.sun_path, path, n);
	len = offsetof(struct sockaddr_un, sun_path) + n;
	if (path[0] == '@')
		sun.sun_path[0] = '\0';	/* abstract: no NUL at the end */
	else
		len++;
	if ((sd_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) == -1 ||
	    connect(sd_fd, (struct sockaddr *)&sun, len) == -1) {
		log_warn("NOTIFY_SOCKET %s", path);
		if (sd_fd != -1)
			close(sd_fd);
		sd_fd = -1;
		unsetenv("NOTIFY_SOCKET");
		return (-1);
	}
	unsetenv("NOTIFY_SOCKET");
	return (0);
}

int
sdnotify_enabled(void)
{
	return (sd_fd != -1);
}

/*
 * One notification: lines of "KEY=value" (READY=1, STOPPING=1,
 * STATUS=...).  A failure is logged at debug level and forgotten: the
 * service manager's trouble is not ours.
 */
void
sdnotify(const char *fmt, ...)
{
	char	 msg[SDNOTIFY_MSG_MAX];
	va_list	 ap;
	int	 n;

	if (sd_fd == -1)
		return;
	va_start(ap, fmt);
	n = vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(msg))
		n = sizeof(msg) - 1;
	if (send(sd_fd, msg, n, MSG_NOSIGNAL | MSG_DONTWAIT) == -1)
		log_debug("sd_notify: %s", strerror(errno));
}

/* WATCHDOG=1, unless one went less than half the interval ago. */
void
sdnotify_watchdog_ping(void)
{
	struct timespec	 now;
	long long	 us;

	if (sd_fd == -1 || sd_wd_usec == 0)
		return;
	clock_gettime(CLOCK_MONOTONIC, &now);
	us = (now.tv_sec - sd_wd_last.tv_sec) * 1000000LL +
	    (now.tv_nsec - sd_wd_last.tv_nsec) / 1000;
	if (us < sd_wd_usec / 2)
		return;
	sd_wd_last = now;
	sdnotify("WATCHDOG=1");
}

/* The watchdog's timer and the socket, at exit: before the event base. */
void
sdnotify_cleanup(void)
{
	if (sd_wd_ev != NULL)
		event_free(sd_wd_ev);
	sd_wd_ev = NULL;
	sd_wd_usec = 0;
	if (sd_fd != -1)
		close(sd_fd);
	sd_fd = -1;
}

static void
sdnotify_watchdog_cb(int fd, short ev, void *arg)
{
	sdnotify_watchdog_ping();
}

/*
 * WATCHDOG_USEC: WATCHDOG=1 every half of it, from the loop of base.
 * Returns 1 when the watchdog is on, 0 when it is not asked for, -1 on
 * a bad value (logged).
 */
int
sdnotify_watchdog(struct event_base *base)
{
	struct timeval	 tv;
	const char	*v, *p;
	char		*end;
	long long	 us;

	if (sd_fd == -1 || (v = getenv("WATCHDOG_USEC")) == NULL)
		return (0);
	if ((p = getenv("WATCHDOG_PID")) != NULL &&
	    strtoll(p, NULL, 10) != (long long)getpid())
		return (0);
	errno = 0;
	us = strtoll(v, &end, 10);
	if (*v == '\0' || *end != '\0' || errno != 0 || us <= 0) {
		log_warnx("WATCHDOG_USEC %s: not a number of microseconds", v);
		return (-1);
	}
	unsetenv("WATCHDOG_USEC");
	unsetenv("WATCHDOG_PID");
	sd_wd_usec = us / 2;
	tv.tv_sec = sd_wd_usec / 1000000;
	tv.tv_usec = sd_wd_usec % 1000000;
	if ((sd_wd_ev = event_new(base, -1, EV_PERSIST, sdnotify_watchdog_cb,
	    NULL)) == NULL || event_add(sd_wd_ev, &tv) == -1) {
		log_warnx("sd_notify: no watchdog timer");
		return (-1);
	}
	sdnotify("WATCHDOG=1");
	clock_gettime(CLOCK_MONOTONIC, &sd_wd_last);
	return (1);
}
