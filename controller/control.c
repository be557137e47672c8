/*
 * The control socket: sc-ctl speaks imsg to it (IMSG_CTL_*), each
 * message with SC_CTL_VERSION in peerid; a request of another version is
 * answered with an IMSG_CTL_FAIL that says so, and the connection closed.
 *
 * The socket file is mode 0660: the kernel lets in only its owner, its
 * group and root.  Each connection's peer credentials are read when it is
 * accepted, and every request is checked against them: status for root,
 * the daemon's own user and the members of the socket file's group;
 * commands that change anything (stop, verbose, reconnect) for root and
 * the daemon's own user only.  A peer whose credentials cannot be read
 * gets nothing.
 */
#include <sys/types.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <errno.h>
#include <grp.h>
#include <limits.h>
#include <stddef.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "controller.h"
#include "listener.h"
#include "log.h"

#define CONTROL_MAX_CONNS	32
#define CONTROL_MAX_GROUPS	65536

struct ctl_conn {
	TAILQ_ENTRY(ctl_conn)	 entry;
	struct imsgev		 iev;
	int			 creds;		/* uid, gid, pid are known */
	uid_t			 uid;
	gid_t			 gid;
	pid_t			 pid;		/* -1: not known */
	gid_t			*groups;	/* supplementary, if known */
	int			 ngroups;	/* -1: not known */
	int			 want_status;	/* waiting for fresh figures */
	int			 want_streams;	/* waiting for the streams */
};

static TAILQ_HEAD(, ctl_conn)	 ctl_conns = TAILQ_HEAD_INITIALIZER(ctl_conns);
static int			 ctl_fd = -1;
static int			 ctl_nconns;
static char			 ctl_path[sizeof(((struct sockaddr_un *)0)->sun_path)];
static struct listener		*ctl_listener;
static gid_t			 ctl_gid;	/* the socket's group at bind */
static struct event		*ctl_status_ev;	/* bound on the wait for kgpd */
static const struct control_cb	*ctl_cb;

#define CTL_STATUS_WAIT_MS	250

/*
 * sc-ctl show streams: kgpd and proxyd are asked at once; the answer
 * goes when both have answered, or after CTL_STATUS_WAIT_MS with what
 * came.  One request runs at a time; who asks meanwhile gets its answer.
 */
static struct event		*ctl_streams_ev;
static uint32_t			 ctl_streams_wait;	/* CTL_ASK_*: not yet */
static uint8_t			 ctl_kstreams[SC_STREAMS_MAX];
static size_t			 ctl_klen;
static uint8_t			 ctl_pstreams[SC_STREAMS_MAX];
static size_t			 ctl_plen;

static void	 control_accept(int, void *);
static int	 control_status(struct imsgev *, struct imsg *);
static int	 control_stop(struct imsgev *, struct imsg *);
static int	 control_verbose(struct imsgev *, struct imsg *);
static int	 control_reconnect(struct imsgev *, struct imsg *);
static int	 control_streams(struct imsgev *, struct imsg *);
static void	 control_streams_ready(void);
static void	 control_streams_timeout(int, short, void *);
static void	 control_gone(struct imsgev *);
static void	 control_bad(struct imsgev *, struct imsg *, enum imsgev_error,
		    const char *);
static void	 control_send(struct ctl_conn *, uint32_t, const char *);
static void	 control_close(struct ctl_conn *);
static void	 control_status_timeout(int, short, void *);
static void	 control_peercred(struct ctl_conn *, int);
static int	 control_in_group(struct ctl_conn *, gid_t);
static int	 control_allowed(struct ctl_conn *, uint32_t);
static const char *control_cmdname(uint32_t);
static void	 control_send_status(struct ctl_conn *);

/* what sc-ctl may ask; anything else closes its connection */
static const struct imsgev_msg control_msgs[] = {
	{ IMSGEV_TYPE(IMSG_CTL_STATUS), IMSGEV_EMPTY, 0, NULL,
	    control_status },
	{ IMSGEV_TYPE(IMSG_CTL_STOP), IMSGEV_EMPTY, 0, NULL, control_stop },
	{ IMSGEV_TYPE(IMSG_CTL_VERBOSE), IMSGEV_SIZE(int32_t), 0, NULL,
	    control_verbose },
	{ IMSGEV_TYPE(IMSG_CTL_RECONNECT), IMSGEV_EMPTY, 0, NULL,
	    control_reconnect },
	{ IMSGEV_TYPE(IMSG_CTL_STREAMS), IMSGEV_EMPTY, 0, NULL,
	    control_streams },
	IMSGEV_END
};
static const struct imsgev_peer control_peer = {
	"sc-ctl", IMSGEV_CLOSE, SC_CTL_VERSION, control_msgs, control_gone,
	control_bad
};

/*
 * Bind the socket.  A stale file is replaced; a socket somebody answers
 * on is an error (another sc uses it).
 */
int
control_init(const char *path, char *err, size_t errlen)
{
	struct sockaddr_un	 sun;
	struct stat		 sb;
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
	ctl_gid = stat(path, &sb) == 0 ? sb.st_gid : getegid();
	strlcpy(ctl_path, path, sizeof(ctl_path));
	ctl_fd = fd;
	return (0);
}

/* Accept connections; cb: what the controller does for them. */
void
control_listen(struct event_base *base, const struct control_cb *cb)
{
	ctl_cb = cb;
	if ((ctl_status_ev = evtimer_new(base, control_status_timeout,
	    NULL)) == NULL ||
	    (ctl_streams_ev = evtimer_new(base, control_streams_timeout,
	    NULL)) == NULL ||
	    (ctl_listener = listener_new(base, ctl_fd, control_accept,
	    base)) == NULL)
		fatalx("%s: event_new", __func__);
}

void
control_cleanup(void)
{
	struct ctl_conn	*c;

	while ((c = TAILQ_FIRST(&ctl_conns)) != NULL)
		control_close(c);
	if (ctl_status_ev != NULL) {
		event_free(ctl_status_ev);
		ctl_status_ev = NULL;
	}
	if (ctl_streams_ev != NULL) {
		event_free(ctl_streams_ev);
		ctl_streams_ev = NULL;
	}
	if (ctl_fd != -1) {
		if (ctl_listener != NULL)
			listener_free(ctl_listener);	/* closes ctl_fd */
		else
			close(ctl_fd);
		ctl_listener = NULL;
		ctl_fd = -1;
		unlink(ctl_path);
	}
}

/* A new connection from the listener (common/listener.c). */
static void
control_accept(int s, void *arg)
{
	struct event_base	*base = arg;
	struct ctl_conn		*c;

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
	control_peercred(c, s);
	imsgev_open(&c->iev, base, s, &control_peer, c);
	TAILQ_INSERT_TAIL(&ctl_conns, c, entry);
	ctl_nconns++;
}

/* IMSG_CTL_STATUS_INFO: struct ctl_status, then its nlinks links. */
static void
control_send_status(struct ctl_conn *c)
{
	struct ctl_status	 st;
	struct sc_link_stats	 ls[SC_MAX_CONNECTIONS];

	ctl_cb->status(&st, ls);
	if (imsg_compose2(&c->iev.ibuf, IMSG_CTL_STATUS_INFO, SC_CTL_VERSION,
	    0, -1, &st, sizeof(st), ls, st.nlinks * sizeof(ls[0])) == -1)
		log_warn("%s", __func__);
	imsg_event_add(&c->iev);
}

/* Fresh figures from kgpd (or none in time): answer who asked. */
void
control_status_ready(void)
{
	struct ctl_conn		*c;

	TAILQ_FOREACH(c, &ctl_conns, entry) {
		if (!c->want_status)
			continue;
		c->want_status = 0;
		control_send_status(c);
	}
	if (ctl_status_ev != NULL)
		evtimer_del(ctl_status_ev);
}

static void
control_status_timeout(int fd, short event, void *arg)
{
	control_status_ready();
}

static void
control_close(struct ctl_conn *c)
{
	TAILQ_REMOVE(&ctl_conns, c, entry);
	imsgev_clear(&c->iev);
	free(c->groups);
	free(c);
	ctl_nconns--;
}

/*
 * Who is on the other end, as the kernel saw it at connect(2).  On Linux
 * SO_PEERCRED gives uid, gid and pid, and SO_PEERGROUPS the supplementary
 * groups (no user database needed); elsewhere getpeereid(3) gives uid and
 * gid, and the groups are looked up when needed.
 */
static void
control_peercred(struct ctl_conn *c, int s)
{
#ifdef __linux__
	struct ucred	 cr;
	socklen_t	 len;
#ifdef SO_PEERGROUPS
	gid_t		*g;
	int		 n;
#endif

	c->creds = 0;
	c->ngroups = -1;
	len = sizeof(cr);
	if (getsockopt(s, SOL_SOCKET, SO_PEERCRED, &cr, &len) == -1 ||
	    len != sizeof(cr)) {
		log_warn("control: cannot read the peer's credentials");
		return;
	}
	c->uid = cr.uid;
	c->gid = cr.gid;
	c->pid = cr.pid;
	c->creds = 1;
#ifdef SO_PEERGROUPS
	for (n = 32; n <= CONTROL_MAX_GROUPS; n *= 2) {
		if ((g = reallocarray(c->groups, n, sizeof(*g))) == NULL) {
			log_warn("%s", __func__);
			return;
		}
		c->groups = g;
		len = n * sizeof(*g);
		if (getsockopt(s, SOL_SOCKET, SO_PEERGROUPS, g, &len) == 0) {
			c->ngroups = len / sizeof(*g);
			return;
		}
		if (errno != ERANGE)
			return;
	}
#endif
#else
	c->creds = 0;
	c->ngroups = -1;
	c->pid = -1;
	if (getpeereid(s, &c->uid, &c->gid) == -1) {
		log_warn("control: cannot read the peer's credentials");
		return;
	}
	c->creds = 1;
#endif
}

/* Is the peer a member of group gid? */
static int
control_in_group(struct ctl_conn *c, gid_t gid)
{
	struct passwd	*pw;
	gid_t		*g;
	int		 i, n, found = 0;

	if (c->gid == gid)
		return (1);
	if (c->ngroups >= 0) {
		for (i = 0; i < c->ngroups; i++)
			if (c->groups[i] == gid)
				return (1);
		return (0);
	}
	/* no groups from the kernel: ask the user database */
	if ((pw = getpwuid(c->uid)) == NULL)
		return (0);
	n = NGROUPS_MAX + 1;
	if ((g = calloc(n, sizeof(*g))) == NULL)
		return (0);
	if (getgrouplist(pw->pw_name, c->gid, g, &n) == -1)
		n = 0;
	for (i = 0; i < n; i++)
		if (g[i] == gid) {
			found = 1;
			break;
		}
	free(g);
	return (found);
}

static const char *
control_cmdname(uint32_t type)
{
	switch (type) {
	case IMSG_CTL_STATUS:
		return ("status");
	case IMSG_CTL_STOP:
		return ("stop");
	case IMSG_CTL_VERBOSE:
		return ("verbose");
	case IMSG_CTL_RECONNECT:
		return ("reconnect");
	case IMSG_CTL_STREAMS:
		return ("streams");
	default:
		return ("unknown");
	}
}

/*
 * May this peer do this?  Root and the daemon's own user may do anything;
 * the members of the socket file's group may only read the status.  A
 * refusal is logged and answered with IMSG_CTL_FAIL.
 */
static int
control_allowed(struct ctl_conn *c, uint32_t type)
{
	struct stat	 sb;
	const char	*cmd = control_cmdname(type);
	uid_t		 me = geteuid();
	gid_t		 gid;
	char		 msg[128], pid[32];

	if (!c->creds) {
		log_info("control: %s from an unknown peer refused (its "
		    "credentials cannot be read)", cmd);
		snprintf(msg, sizeof(msg), "permission denied: %s: the "
		    "peer's credentials cannot be read", cmd);
		goto refuse;
	}
	if (c->uid == 0 || c->uid == me)
		return (1);
	if (type == IMSG_CTL_STATUS || type == IMSG_CTL_STREAMS) {
		/* the file's group now: the operator may have changed it */
		gid = stat(ctl_path, &sb) == 0 ? sb.st_gid : ctl_gid;
		if (control_in_group(c, gid))
			return (1);
		snprintf(msg, sizeof(msg), "permission denied: %s needs root, "
		    "uid %u or group %u", cmd, (unsigned)me, (unsigned)gid);
	} else
		snprintf(msg, sizeof(msg), "permission denied: %s needs root "
		    "or uid %u", cmd, (unsigned)me);
	if (c->pid > 0)
		snprintf(pid, sizeof(pid), "%d", (int)c->pid);
	else
		strlcpy(pid, "unknown", sizeof(pid));
	log_info("control: %s from uid %u (pid %s) refused", cmd,
	    (unsigned)c->uid, pid);
 refuse:
	control_send(c, IMSG_CTL_FAIL, msg);
	return (0);
}

/* An answer: IMSG_CTL_OK, or IMSG_CTL_FAIL with msg. */
static void
control_send(struct ctl_conn *c, uint32_t type, const char *msg)
{
	imsg_compose_event(&c->iev, type, SC_CTL_VERSION, 0, -1, msg,
	    msg != NULL ? strlen(msg) + 1 : 0);
}

/*
 * Answer with the figures kgpd has now, not the last periodic ones: ask,
 * and answer when they arrive (control_status_ready) or after a bound.
 */
static int
control_status(struct imsgev *iev, struct imsg *imsg)
{
	struct ctl_conn	*c = iev->data;
	struct timeval	 tv = { 0, CTL_STATUS_WAIT_MS * 1000 };

	if (!control_allowed(c, imsg->hdr.type))
		return (IMSGEV_OK);
	if (ctl_cb->stats_request() == -1) {
		control_send_status(c);
		return (IMSGEV_OK);
	}
	c->want_status = 1;
	if (!evtimer_pending(ctl_status_ev, NULL))
		evtimer_add(ctl_status_ev, &tv);
	return (IMSGEV_OK);
}

static int
control_stop(struct imsgev *iev, struct imsg *imsg)
{
	struct ctl_conn	*c = iev->data;

	if (!control_allowed(c, imsg->hdr.type))
		return (IMSGEV_OK);
	log_info("Stop requested on the control socket");
	control_send(c, IMSG_CTL_OK, NULL);
	imsg_flush(&iev->ibuf);
	ctl_cb->stop(0);
	return (IMSGEV_GONE);
}

static int
control_verbose(struct imsgev *iev, struct imsg *imsg)
{
	struct ctl_conn	*c = iev->data;
	char		 msg[64];
	int32_t		 v;

	if (!control_allowed(c, imsg->hdr.type))
		return (IMSGEV_OK);
	memcpy(&v, imsg->data, sizeof(v));
	if (imsg_verbose_valid(&v, sizeof(v)) == -1) {
		snprintf(msg, sizeof(msg), "verbosity must be %d to %d",
		    SC_VERBOSE_MIN, SC_VERBOSE_MAX);
		control_send(c, IMSG_CTL_FAIL, msg);
		return (IMSGEV_OK);
	}
	log_setverbose(v);
	child_set_verbose(v);
	log_info("Verbosity set to %d (log level %s)", (int)v,
	    log_level_name(v));
	control_send(c, IMSG_CTL_OK, NULL);
	return (IMSGEV_OK);
}

/* Drop the tunnel connections and open them again, as a link loss. */
static int
control_reconnect(struct imsgev *iev, struct imsg *imsg)
{
	struct ctl_conn	*c = iev->data;

	if (!control_allowed(c, imsg->hdr.type))
		return (IMSGEV_OK);
	if (ctl_cb->reconnect() == -1) {
		control_send(c, IMSG_CTL_FAIL, "the tunnel is not up: "
		    "nothing to reconnect");
		return (IMSGEV_OK);
	}
	log_info("Reconnect requested on the control socket: dropping the "
	    "tunnel connections");
	control_send(c, IMSG_CTL_OK, NULL);
	return (IMSGEV_OK);
}

/*
 * The open streams: kgpd knows their connection, bytes and age, proxyd
 * their target.  Both are asked; control_streams_answer() takes what
 * they send, and the answer goes when both are in or the time is up.
 */
static int
control_streams(struct imsgev *iev, struct imsg *imsg)
{
	struct ctl_conn	*c = iev->data;
	struct timeval	 tv = { 0, CTL_STATUS_WAIT_MS * 1000 };
	int		 asked;

	if (!control_allowed(c, imsg->hdr.type))
		return (IMSGEV_OK);
	c->want_streams = 1;
	if (ctl_streams_wait != 0)
		return (IMSGEV_OK);	/* this request's answer will do */
	ctl_klen = ctl_plen = 0;
	if ((asked = ctl_cb->streams_request()) == 0) {
		control_streams_ready();
		return (IMSGEV_OK);
	}
	ctl_streams_wait = asked;
	evtimer_add(ctl_streams_ev, &tv);
	return (IMSGEV_OK);
}

/*
 * IMSG_STREAMS of a kgpd or proxyd (checked: sc_streams_valid); who is
 * CTL_ASK_*.  The kgpd processes' lists go one after the other into one
 * list of at most SC_STREAMS_LIST, their totals added up.
 */
void
control_streams_answer(uint32_t who, const void *p, size_t len)
{
	struct sc_streams	 h, in;
	size_t			 n;

	if (!(ctl_streams_wait & who))
		return;		/* late: that request was answered */
	if (who == CTL_ASK_PROXYD) {
		memcpy(ctl_pstreams, p, len);
		ctl_plen = len;
	} else {
		memset(&h, 0, sizeof(h));
		if (ctl_klen > 0)
			memcpy(&h, ctl_kstreams, sizeof(h));
		memcpy(&in, p, sizeof(in));
		n = in.n;
		if (n > SC_STREAMS_LIST - h.n)
			n = SC_STREAMS_LIST - h.n;
		memcpy(ctl_kstreams + sizeof(h) + h.n *
		    sizeof(struct sc_stream), (const uint8_t *)p + sizeof(in),
		    n * sizeof(struct sc_stream));
		h.n += n;
		h.total += in.total;
		memcpy(ctl_kstreams, &h, sizeof(h));
		ctl_klen = sizeof(h) + h.n * sizeof(struct sc_stream);
	}
	ctl_streams_wait &= ~who;
	if (ctl_streams_wait == 0)
		control_streams_ready();
}

static void
control_streams_timeout(int fd, short event, void *arg)
{
	if (ctl_streams_wait & CTL_ASK_PROXYD)
		log_debug("control: proxyd did not list its streams in time");
	control_streams_ready();
}

/*
 * kgpd's streams, each with the target proxyd gave for its session and
 * id (proxyd's word first: kgpd knows only the target of a tunnel that
 * was moved to it), to whoever asked.
 */
static void
control_streams_ready(void)
{
	struct sc_streams	 kh, ph;
	struct sc_stream	 ks, ps;
	uint8_t			*kp;
	struct ctl_conn		*c;
	uint32_t		 i, j;

	ctl_streams_wait = 0;
	evtimer_del(ctl_streams_ev);
	memset(&kh, 0, sizeof(kh));
	memset(&ph, 0, sizeof(ph));
	if (ctl_klen > 0)
		memcpy(&kh, ctl_kstreams, sizeof(kh));
	if (ctl_plen > 0)
		memcpy(&ph, ctl_pstreams, sizeof(ph));
	for (i = 0; i < kh.n; i++) {
		kp = ctl_kstreams + sizeof(kh) + i * sizeof(ks);
		memcpy(&ks, kp, sizeof(ks));
		for (j = 0; j < ph.n; j++) {
			memcpy(&ps, ctl_pstreams + sizeof(ph) + j * sizeof(ps),
			    sizeof(ps));
			if (ps.session == ks.session && ps.id == ks.id) {
				memcpy(kp + offsetof(struct sc_stream, target),
				    ps.target, sizeof(ps.target));
				break;
			}
		}
	}
	TAILQ_FOREACH(c, &ctl_conns, entry) {
		if (!c->want_streams)
			continue;
		c->want_streams = 0;
		if (ctl_klen == 0) {
			control_send(c, IMSG_CTL_FAIL, "kgpd did not list "
			    "its streams: is the tunnel starting?");
			continue;
		}
		imsg_compose_event(&c->iev, IMSG_CTL_STREAMS_INFO,
		    SC_CTL_VERSION, 0, -1, ctl_kstreams, ctl_klen);
	}
}

static void
control_gone(struct imsgev *iev)
{
	control_close(iev->data);
}

/*
 * A request that does not fit closes the connection.  One of another
 * control protocol (an sc-ctl of another installation) is told why
 * first, in the one answer that every version understands.
 */
static void
control_bad(struct imsgev *iev, struct imsg *imsg, enum imsgev_error error,
    const char *why)
{
	struct ctl_conn	*c = iev->data;
	char		 msg[256];

	if (error == IMSGEV_EVERSION) {
		snprintf(msg, sizeof(msg), "sc-ctl speaks control protocol "
		    "%u, this sc speaks %u: use the sc-ctl installed with "
		    "this sc", imsg->hdr.peerid, SC_CTL_VERSION);
		log_warnx("control: refused: %s", msg);
		control_send(c, IMSG_CTL_FAIL, msg);
		imsg_flush(&iev->ibuf);
	} else
		log_warnx("control: %s, closing", why);
	control_close(c);
}
