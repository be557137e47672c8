/*
 * The control socket: sc-ctl speaks imsg to it (IMSG_CTL_*).
 */
#include <sys/types.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "controller.h"
#include "log.h"

#define CONTROL_MAX_CONNS	32

struct ctl_conn {
	TAILQ_ENTRY(ctl_conn)	 entry;
	struct imsgev		 iev;
};

static TAILQ_HEAD(, ctl_conn)	 ctl_conns = TAILQ_HEAD_INITIALIZER(ctl_conns);
static int			 ctl_fd = -1;
static int			 ctl_nconns;
static char			 ctl_path[sizeof(((struct sockaddr_un *)0)->sun_path)];
static struct event		*ctl_ev;
static struct event		*ctl_pause_ev;

static void	 control_accept(int, short, void *);
static void	 control_resume(int, short, void *);
static void	 control_dispatch(int, short, void *);
static void	 control_close(struct ctl_conn *);

/*
 * Bind the socket.  A stale file is replaced; a socket somebody answers
 * on is an error (another sc uses it).
 */
int
control_init(const char *path, char *err, size_t errlen)
{
	struct sockaddr_un	 sun;
	mode_t			 old;
	int			 fd;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlcpy(sun.sun_path, path, sizeof(sun.sun_path)) >=
	    sizeof(sun.sun_path)) {
		snprintf(err, errlen, "control socket path too long: %s", path);
		return (-1);
	}
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return (-1);
	}
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0) {
		close(fd);
		snprintf(err, errlen, "control socket %s is in use: another "
		    "sc runs with it (use --ctl-socket or -i)", path);
		return (-1);
	}
	if (errno == ECONNREFUSED) {
		if (unlink(path) == -1 && errno != ENOENT) {
			close(fd);
			snprintf(err, errlen, "cannot remove the stale "
			    "control socket %s: %s", path, strerror(errno));
			return (-1);
		}
	}
	old = umask(S_IXUSR | S_IXGRP | S_IRWXO);
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		umask(old);
		snprintf(err, errlen, "control socket %s: %s", path,
		    strerror(errno));
		close(fd);
		return (-1);
	}
	umask(old);
	if (chmod(path, 0660) == -1) {
		snprintf(err, errlen, "chmod of the control socket: %s",
		    strerror(errno));
		unlink(path);
		close(fd);
		return (-1);
	}
	if (listen(fd, 8) == -1 || set_nonblock(fd) == -1) {
		snprintf(err, errlen, "listen %s: %s", path, strerror(errno));
		unlink(path);
		close(fd);
		return (-1);
	}
	strlcpy(ctl_path, path, sizeof(ctl_path));
	ctl_fd = fd;
	return (0);
}

void
control_listen(struct event_base *base)
{
	if ((ctl_ev = event_new(base, ctl_fd, EV_READ | EV_PERSIST,
	    control_accept, base)) == NULL ||
	    (ctl_pause_ev = evtimer_new(base, control_resume, NULL)) == NULL)
		fatalx("%s: event_new", __func__);
	event_add(ctl_ev, NULL);
}

void
control_cleanup(void)
{
	struct ctl_conn	*c;

	while ((c = TAILQ_FIRST(&ctl_conns)) != NULL)
		control_close(c);
	if (ctl_ev != NULL) {
		event_free(ctl_ev);
		ctl_ev = NULL;
	}
	if (ctl_fd != -1) {
		close(ctl_fd);
		ctl_fd = -1;
		unlink(ctl_path);
	}
}

static void
control_resume(int fd, short event, void *arg)
{
	if (ctl_ev != NULL)
		event_add(ctl_ev, NULL);
}

static void
control_accept(int fd, short event, void *arg)
{
	struct event_base	*base = arg;
	struct ctl_conn		*c;
	int			 s;

	if ((s = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) ==
	    -1) {
		if (errno == EMFILE || errno == ENFILE) {
			/* pause instead of spinning */
			event_del(ctl_ev);
			timer_add(ctl_pause_ev, 1, 0);
		} else if (errno != EAGAIN && errno != EINTR &&
		    errno != ECONNABORTED)
			log_warn("%s: accept", __func__);
		return;
	}
	if (ctl_nconns >= CONTROL_MAX_CONNS) {
		log_warnx("control: too many connections");
		close(s);
		return;
	}
	if ((c = calloc(1, sizeof(*c))) == NULL) {
		log_warn("%s", __func__);
		close(s);
		return;
	}
	imsgev_init(&c->iev, base, s, control_dispatch, c);
	TAILQ_INSERT_TAIL(&ctl_conns, c, entry);
	ctl_nconns++;
}

static void
control_close(struct ctl_conn *c)
{
	TAILQ_REMOVE(&ctl_conns, c, entry);
	imsgev_clear(&c->iev);
	free(c);
	ctl_nconns--;
}

static void
control_dispatch(int fd, short event, void *arg)
{
	struct imsgev		*iev = arg;
	struct ctl_conn		*c = iev->data;
	struct ctl_status	 st;
	struct imsg		 imsg;
	int32_t			 v;
	ssize_t			 n;

	if (imsgev_io(iev, event) == -1) {
		control_close(c);
		return;
	}
	for (;;) {
		if ((n = imsg_get(&iev->ibuf, &imsg)) == -1) {
			log_debug("control: bad message, closing");
			control_close(c);
			return;
		}
		if (n == 0)
			break;
		switch (imsg.hdr.type) {
		case IMSG_CTL_STATUS:
			if (imsg_get_data(&imsg, NULL, 0) == -1)
				goto bad;
			sc_status(&st);
			imsg_compose_event(iev, IMSG_CTL_STATUS_INFO, 0, 0, -1,
			    &st, sizeof(st));
			break;
		case IMSG_CTL_STOP:
			if (imsg_get_data(&imsg, NULL, 0) == -1)
				goto bad;
			log_info("Stop requested on the control socket");
			imsg_compose_event(iev, IMSG_CTL_OK, 0, 0, -1, NULL, 0);
			imsg_flush(&iev->ibuf);
			imsg_free(&imsg);
			sc_shutdown(0);
			return;
		case IMSG_CTL_VERBOSE:
			if (imsg_get_data(&imsg, &v, sizeof(v)) == -1)
				goto bad;
			if (v < 0 || v > 3) {
				const char	*m = "verbosity must be 0 to 3";

				imsg_compose_event(iev, IMSG_CTL_FAIL, 0, 0,
				    -1, m, strlen(m) + 1);
				break;
			}
			log_setverbose(v);
			child_set_verbose(v);
			log_info("Verbosity set to %d", (int)v);
			imsg_compose_event(iev, IMSG_CTL_OK, 0, 0, -1, NULL, 0);
			break;
		default:
			goto bad;
		}
		imsg_free(&imsg);
	}
	imsg_event_add(iev);
	return;
 bad:
	log_warnx("control: unexpected message %u (%zu bytes), closing",
	    imsg.hdr.type, IMSG_DATA_SIZE(&imsg));
	imsg_free(&imsg);
	control_close(c);
}
