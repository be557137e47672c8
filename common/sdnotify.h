/*
 * The systemd notification protocol (sd_notify(3)), without libsystemd:
 * one datagram of "KEY=value" lines to the AF_UNIX socket that
 * NOTIFY_SOCKET names (a path, or an abstract name written with a
 * leading '@').  sdnotify_init() opens and connects the socket, so call
 * it before any sandbox; sending needs no file system access then.
 * Without NOTIFY_SOCKET everything here does nothing.
 *
 * The watchdog: with WATCHDOG_USEC set (and WATCHDOG_PID unset or this
 * process), sdnotify_watchdog() sends WATCHDOG=1 every half of it from
 * the event loop, so that a loop that hangs stops the keep-alives.
 */
#ifndef SC_SDNOTIFY_H
#define SC_SDNOTIFY_H

#define SDNOTIFY_MSG_MAX	512	/* bytes of one notification */

struct event_base;

int	 sdnotify_init(void);
int	 sdnotify_enabled(void);
void	 sdnotify(const char *, ...)
	    __attribute__((__format__ (printf, 1, 2)));
int	 sdnotify_watchdog(struct event_base *);
void	 sdnotify_watchdog_ping(void);
void	 sdnotify_cleanup(void);

#endif /* SC_SDNOTIFY_H */
