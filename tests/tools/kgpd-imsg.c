/*
 * kgpd-imsg: feed kgpd malformed messages on its proxyd channel.
 *
 *	kgpd-imsg [-p kgpd]
 *
 * It starts kgpd with fd 3 (a controller stub) and fd 4 (a proxyd
 * stub), waits for its hello, then sends on the proxyd channel:
 *   a MOVE that is too short (with a socket),
 *   a MOVE with no socket,
 *   a MOVED that is too short, and one whose ok is neither 0 nor 1,
 *   a well-formed MOVE of a stream of no session,
 *   a LEND that is too short (with a socket), a LEND with no socket,
 *   a well-formed LEND of a stream of no session,
 *   a message of a type kgpd does not know, with a socket.
 * kgpd must log a warning for each of the seven bad ones, answer the two
 * MOVEs it can read with SWITCHED ok 0 and the two LENDs with LENT how
 * KGP_LENT_GONE got 0, and still answer a statistics
 * request after all of them.  kgpd's log lines go to stderr.  Exit 0
 * when all of that happened, 1 otherwise (within 10 seconds), 77 (a
 * skip) when run as root on a machine without the user kgpd becomes.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <err.h>
#include <fcntl.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "imsg.h"
#include "imsg_types.h"
#include "kgp.h"
#include "proc.h"
#include "sandbox.h"

static int	 warned_move, warned_moved, warned_lend, warned_type;
static int	 switched, lent;
static int	 stats, hello;

static pid_t
start_kgpd(const char *path, int ctlfd, int pfd)
{
	pid_t	 pid;
	int	 a, b;

	if ((pid = fork()) == -1)
		err(1, "fork");
	if (pid != 0)
		return (pid);
	if ((a = fcntl(ctlfd, F_DUPFD, 10)) == -1 ||
	    (b = fcntl(pfd, F_DUPFD, 10)) == -1 ||
	    dup2(a, 3) == -1 || dup2(b, 4) == -1)
		err(1, "dup");
	close(a);
	close(b);
	execl(path, path, (char *)NULL);
	err(1, "exec %s", path);
}

static void
ctl_msg(struct imsg *imsg)
{
	const char	*msg;
	int32_t		 pri;

	switch (imsg->hdr.type) {
	case IMSG_HELLO:
		hello = 1;
		break;
	case IMSG_LOG:
		if (IMSG_DATA_SIZE(imsg) <= sizeof(pri))
			errx(1, "bad IMSG_LOG");
		msg = (const char *)imsg->data + sizeof(pri);
		if (msg[IMSG_DATA_SIZE(imsg) - sizeof(pri) - 1] != '\0')
			errx(1, "bad IMSG_LOG string");
		fprintf(stderr, "[kgpd] %s\n", msg);
		if (strstr(msg, "bad IMSG_STREAM_MOVED") != NULL)
			warned_moved++;
		else if (strstr(msg, "bad IMSG_STREAM_LEND") != NULL)
			warned_lend++;
		else if (strstr(msg, "unexpected message 9999") != NULL)
			warned_type++;
		else if (strstr(msg, "bad IMSG_STREAM_MOVE") != NULL)
			warned_move++;
		break;
	case IMSG_STATS:
		stats = 1;
		break;
	default:
		break;
	}
}

static void
proxyd_msg(struct imsg *imsg)
{
	struct stream_moved	 sw;
	struct stream_lent	 lt;

	if (imsg->hdr.type == IMSG_STREAM_LENT) {
		if (imsg_get_data(imsg, &lt, sizeof(lt)) == -1)
			errx(1, "bad IMSG_STREAM_LENT");
		fprintf(stderr, "kgpd-imsg: LENT stream %u how %u got %llu\n",
		    imsg->hdr.peerid, lt.how, (unsigned long long)lt.got);
		/* the answer to a LEND kgpd cannot take */
		if (lt.how == KGP_LENT_GONE && lt.got == 0)
			lent++;
		return;
	}
	if (imsg->hdr.type != IMSG_STREAM_SWITCHED)
		errx(1, "unexpected imsg %u on the proxyd channel",
		    imsg->hdr.type);
	if (imsg_get_data(imsg, &sw, sizeof(sw)) == -1)
		errx(1, "bad IMSG_STREAM_SWITCHED");
	fprintf(stderr, "kgpd-imsg: SWITCHED stream %u ok %u\n",
	    imsg->hdr.peerid, sw.ok);
	if (sw.ok == 0)
		switched++;
}

/* Read what is there on ib, hand every message to fn; -1 at EOF. */
static int
drain(struct imsgbuf *ib, void (*fn)(struct imsg *))
{
	struct imsg	 imsg;
	ssize_t		 n;

	if ((n = imsg_read(ib)) == -1)
		err(1, "imsg_read");
	if (n == 0)
		return (-1);
	while ((n = imsg_get(ib, &imsg)) > 0) {
		fn(&imsg);
		imsg_free(&imsg);
	}
	if (n == -1)
		err(1, "imsg_get");
	return (0);
}

static int
done(int phase)
{
	if (phase == 0)
		return (hello);
	if (phase == 1)
		return (warned_move >= 3 && warned_moved >= 2 &&
		    warned_lend >= 2 && warned_type >= 1 && switched >= 2 &&
		    lent >= 2);
	return (stats);
}

int
main(int argc, char *argv[])
{
	struct imsgbuf		 ctl, px;
	struct stream_move	 mv;
	struct stream_moved	 md;
	struct stream_lend	 ld;
	struct pollfd		 pfd[2];
	const char		*path = "kgpd/kgpd";
	time_t			 end;
	char			 errbuf[256];
	int			 ch, c[2], p[2], s[2], phase, status, rc = 1;
	pid_t			 pid;

	while ((ch = getopt(argc, argv, "p:")) != -1) {
		switch (ch) {
		case 'p':
			path = optarg;
			break;
		default:
			fprintf(stderr, "usage: kgpd-imsg [-p kgpd]\n");
			return (1);
		}
	}
	if (geteuid() == 0 && getpwnam(SC_USER) == NULL) {
		fprintf(stderr, "kgpd-imsg: skipped: started as root, kgpd "
		    "switches to %s, and there is no such user\n", SC_USER);
		return (77);
	}
	/* as sc does before it starts kgpd: the chroot must be there */
	if (geteuid() == 0 && sandbox_check_chroot(SC_CHROOT, errbuf,
	    sizeof(errbuf)) == -1)
		errx(1, "%s", errbuf);
	signal(SIGPIPE, SIG_IGN);
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, c) == -1 ||
	    socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, p) == -1)
		err(1, "socketpair");
	pid = start_kgpd(path, c[1], p[1]);
	close(c[1]);
	close(p[1]);
	imsg_init(&ctl, c[0]);
	imsg_init(&px, p[0]);

	end = time(NULL) + 10;
	for (phase = 0; phase < 3 && time(NULL) < end; ) {
		if (done(phase)) {
			phase++;
			if (phase == 1) {
				memset(&mv, 0, sizeof(mv));
				memset(&md, 0, sizeof(md));
				mv.session = 42;
				/* too short, with a socket */
				if (socketpair(AF_UNIX, SOCK_STREAM, 0, s) == -1)
					err(1, "socketpair");
				imsg_compose(&px, IMSG_STREAM_MOVE, 1, 0, s[0],
				    &mv, 3);
				close(s[1]);
				/* no socket */
				imsg_compose(&px, IMSG_STREAM_MOVE, 3, 0, -1,
				    &mv, sizeof(mv));
				/* a target that does not end in its field */
				if (socketpair(AF_UNIX, SOCK_STREAM, 0, s) == -1)
					err(1, "socketpair");
				memset(mv.target, 'x', sizeof(mv.target));
				imsg_compose(&px, IMSG_STREAM_MOVE, 13, 0, s[0],
				    &mv, sizeof(mv));
				close(s[1]);
				memset(mv.target, 0, sizeof(mv.target));
				/* MOVED: too short, then a bad ok */
				imsg_compose(&px, IMSG_STREAM_MOVED, 5, 0, -1,
				    &md, 4);
				md.ok = 7;
				imsg_compose(&px, IMSG_STREAM_MOVED, 7, 0, -1,
				    &md, sizeof(md));
				/* well formed, of no session */
				if (socketpair(AF_UNIX, SOCK_STREAM, 0, s) == -1)
					err(1, "socketpair");
				imsg_compose(&px, IMSG_STREAM_MOVE, 9, 0, s[0],
				    &mv, sizeof(mv));
				close(s[1]);
				/* LEND: too short, no socket, of no session */
				memset(&ld, 0, sizeof(ld));
				ld.session = 42;
				ld.len = 1000;
				if (socketpair(AF_UNIX, SOCK_STREAM, 0, s) == -1)
					err(1, "socketpair");
				imsg_compose(&px, IMSG_STREAM_LEND, 11, 0, s[0],
				    &ld, 5);
				close(s[1]);
				imsg_compose(&px, IMSG_STREAM_LEND, 13, 0, -1,
				    &ld, sizeof(ld));
				if (socketpair(AF_UNIX, SOCK_STREAM, 0, s) == -1)
					err(1, "socketpair");
				imsg_compose(&px, IMSG_STREAM_LEND, 15, 0, s[0],
				    &ld, sizeof(ld));
				close(s[1]);
				/* a type it does not know */
				if (socketpair(AF_UNIX, SOCK_STREAM, 0, s) == -1)
					err(1, "socketpair");
				imsg_compose(&px, 9999, 17, 0, s[0], &ld,
				    sizeof(ld));
				close(s[1]);
				if (imsg_flush(&px) == -1)
					err(1, "imsg_flush");
			} else if (phase == 2) {
				imsg_compose(&ctl, IMSG_STATS_REQ, 0, 0, -1,
				    NULL, 0);
				if (imsg_flush(&ctl) == -1)
					err(1, "imsg_flush");
			}
			continue;
		}
		pfd[0].fd = c[0];
		pfd[1].fd = p[0];
		pfd[0].events = pfd[1].events = POLLIN;
		if (poll(pfd, 2, 200) == -1)
			err(1, "poll");
		if ((pfd[0].revents & (POLLIN | POLLHUP)) &&
		    drain(&ctl, ctl_msg) == -1) {
			fprintf(stderr, "kgpd-imsg: kgpd closed its "
			    "controller channel\n");
			break;
		}
		if ((pfd[1].revents & (POLLIN | POLLHUP)) &&
		    drain(&px, proxyd_msg) == -1) {
			fprintf(stderr, "kgpd-imsg: kgpd closed its proxyd "
			    "channel\n");
			break;
		}
	}
	if (phase == 3) {
		fprintf(stderr, "kgpd-imsg: kgpd warned, answered and is "
		    "still up\n");
		rc = 0;
	} else
		fprintf(stderr, "kgpd-imsg: stuck in phase %d (warnings: "
		    "%d MOVE, %d MOVED, %d LEND, %d type; %d SWITCHED, "
		    "%d LENT; stats %d)\n", phase, warned_move, warned_moved,
		    warned_lend, warned_type, switched, lent, stats);
	kill(pid, SIGTERM);
	if (waitpid(pid, &status, 0) == pid && WIFSIGNALED(status) &&
	    WTERMSIG(status) != SIGTERM) {
		fprintf(stderr, "kgpd-imsg: kgpd died of signal %d\n",
		    WTERMSIG(status));
		rc = 1;
	}
	return (rc);
}
