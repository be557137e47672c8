/*
 * Accept loops (listener.h): one persistent read event on the listening
 * socket, and a timer that resumes it after a pause; and the listening
 * sockets themselves (listener_bind()).
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "listener.h"
#include "log.h"
#include "proc.h"

struct listener {
	int			 fd;
	struct event		*ev;
	struct event		*pause;
	void			(*cb)(int, void *);
	void			*arg;
	int			(*shed)(void *);
	void			*shed_arg;
};

static void	 listener_accept(int, short, void *);
static void	 listener_resume(int, short, void *);

/*
 * A listening TCP socket (non-blocking, close-on-exec, SO_REUSEADDR) on
 * host and port, the first address of the name that takes it.  Returns
 * the descriptor, or -1 with the reason in err ("host:port: why").
 */
int
listener_bind(const char *host, const char *port, int backlog, char *err,
    size_t errlen)
{
	struct addrinfo	 hints, *res = NULL, *ai;
	int		 fd = -1, error, on = 1, saved = 0;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE;
	if ((error = getaddrinfo(host, port, &hints, &res)) != 0) {
		snprintf(err, errlen, "%s:%s: %s", host, port,
		    gai_strerror(error));
		return (-1);
	}
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		if ((fd = socket(ai->ai_family, ai->ai_socktype |
		    SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol)) == -1) {
			saved = errno;
			continue;
		}
		(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on,
		    sizeof(on));
		if (bind(fd, ai->ai_addr, ai->ai_addrlen) == -1 ||
		    listen(fd, backlog) == -1) {
			saved = errno;
			close(fd);
			fd = -1;
			continue;
		}
		break;
	}
	freeaddrinfo(res);
	if (fd == -1)
		snprintf(err, errlen, "%s:%s: %s", host, port,
		    strerror(saved));
	return (fd);
}

/*
 * Accept on fd, a listening socket (non-blocking), from now on: each
 * connection goes to cb(s, arg).  The listener owns fd, once made.
 */
struct listener *
listener_new(struct event_base *base, int fd, void (*cb)(int, void *),
    void *arg)
{
	struct listener	*l;

	if ((l = calloc(1, sizeof(*l))) == NULL)
		return (NULL);
	l->fd = fd;
	l->cb = cb;
	l->arg = arg;
	if ((l->ev = event_new(base, fd, EV_READ | EV_PERSIST,
	    listener_accept, l)) == NULL ||
	    (l->pause = evtimer_new(base, listener_resume, l)) == NULL) {
		if (l->ev != NULL)
			event_free(l->ev);
		free(l);
		return (NULL);
	}
	event_add(l->ev, NULL);
	return (l);
}

/* Out of descriptors: shed(arg) closes a connection and says 1, or 0. */
void
listener_set_shed(struct listener *l, int (*shed)(void *), void *arg)
{
	l->shed = shed;
	l->shed_arg = arg;
}

void
listener_free(struct listener *l)
{
	if (l == NULL)
		return;
	event_free(l->ev);
	event_free(l->pause);
	close(l->fd);
	free(l);
}

static void
listener_accept(int fd, short ev, void *arg)
{
	struct listener	*l = arg;
	int		 s, shed = 0;

 again:
	if ((s = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) ==
	    -1) {
		switch (errno) {
		case EINTR:
		case EAGAIN:
		case ECONNABORTED:
			return;
		case EMFILE:
		case ENFILE:
			if (!shed && l->shed != NULL && l->shed(l->shed_arg)) {
				shed = 1;
				goto again;
			}
			log_warnx("out of file descriptors: accept paused for "
			    "%d s", LISTENER_PAUSE_SEC);
			event_del(l->ev);
			timer_add(l->pause, LISTENER_PAUSE_SEC, 0);
			return;
		default:
			log_warn("accept");
			return;
		}
	}
	l->cb(s, l->arg);
}

static void
listener_resume(int fd, short ev, void *arg)
{
	struct listener	*l = arg;

	event_add(l->ev, NULL);
}
