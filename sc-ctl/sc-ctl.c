/*
 * sc-ctl: talk to a running sc over its control socket.  Every message
 * carries SC_CTL_VERSION in peerid, both ways: sc refuses a request of
 * another version with an IMSG_CTL_FAIL that says why, and sc-ctl an
 * answer of another version.  Answers are checked as sc checks what it
 * gets: the exact size, terminated strings.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <errno.h>
#include <grp.h>
#include <limits.h>
#include <poll.h>
#include <pwd.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "imsg.h"
#include "imsg_types.h"
#include "log.h"

#define CTL_TIMEOUT_MS	10000

static void	 usage(void) __attribute__((noreturn));
static int	 ctl_connect(const char *);
static void	 not_permitted(const char *);
static int	 ctl_wait(struct imsgbuf *, struct imsg *);
static int	 get_status(struct imsg *, struct ctl_status *,
		    struct sc_link_stats *);
static void	 print_status(const struct ctl_status *);
static void	 print_link(const struct sc_link_stats *);
static char	*clean(const char *);

static void
usage(void)
{
	fprintf(stderr,
	    "usage: sc-ctl [-i name] [-s socket] status | stop | verbose n\n");
	exit(1);
}

/* Say who may use the socket: its owner, its group and root. */
static void
not_permitted(const char *path)
{
	struct stat	 sb;
	struct passwd	*pw;
	struct group	*gr;
	char		 owner[64], group[64];

	if (stat(path, &sb) == -1) {
		fprintf(stderr, "Error: %s: permission denied: not "
		    "permitted to use this control socket\n", path);
		return;
	}
	if ((pw = getpwuid(sb.st_uid)) != NULL)
		strlcpy(owner, pw->pw_name, sizeof(owner));
	else
		snprintf(owner, sizeof(owner), "%u", (unsigned)sb.st_uid);
	if ((gr = getgrgid(sb.st_gid)) != NULL)
		strlcpy(group, gr->gr_name, sizeof(group));
	else
		snprintf(group, sizeof(group), "%u", (unsigned)sb.st_gid);
	fprintf(stderr, "Error: %s: permission denied: not permitted to use "
	    "this control socket (only root%s%s and the members of group %s "
	    "may)\n", path, sb.st_uid == 0 ? "" : ", ",
	    sb.st_uid == 0 ? "" : owner, group);
}

static int
ctl_connect(const char *path)
{
	struct sockaddr_un	 sun;
	int			 fd;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlcpy(sun.sun_path, path, sizeof(sun.sun_path)) >=
	    sizeof(sun.sun_path)) {
		fprintf(stderr, "Error: socket path too long: %s\n", path);
		return (-1);
	}
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1) {
		fprintf(stderr, "Error: socket: %s\n", strerror(errno));
		return (-1);
	}
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		if (errno == ENOENT)
			fprintf(stderr, "Error: no control socket at %s: is "
			    "sc running? (use -s or -i)\n", path);
		else if (errno == ECONNREFUSED)
			fprintf(stderr, "Error: %s: connection refused: sc "
			    "is not running (stale socket)\n", path);
		else if (errno == EACCES || errno == EPERM)
			not_permitted(path);
		else
			fprintf(stderr, "Error: %s: %s\n", path,
			    strerror(errno));
		close(fd);
		return (-1);
	}
	return (fd);
}

/* Wait for one message, with a timeout. */
static int
ctl_wait(struct imsgbuf *ibuf, struct imsg *imsg)
{
	struct pollfd	 pfd;
	ssize_t		 n;

	for (;;) {
		if ((n = imsg_get(ibuf, imsg)) == -1) {
			fprintf(stderr, "Error: bad answer from sc\n");
			return (-1);
		}
		if (n > 0)
			return (0);
		pfd.fd = ibuf->fd;
		pfd.events = POLLIN;
		if ((n = poll(&pfd, 1, CTL_TIMEOUT_MS)) == -1) {
			if (errno == EINTR)
				continue;
			fprintf(stderr, "Error: poll: %s\n", strerror(errno));
			return (-1);
		}
		if (n == 0) {
			fprintf(stderr, "Error: sc did not answer\n");
			return (-1);
		}
		if ((n = imsg_read(ibuf)) == -1) {
			if (errno == EAGAIN || errno == EINTR)
				continue;
			fprintf(stderr, "Error: read: %s\n", strerror(errno));
			return (-1);
		}
		if (n == 0) {
			fprintf(stderr, "Error: sc closed the connection\n");
			return (-1);
		}
	}
}

/* A string from the wire (checked: terminated), made printable. */
static char *
clean(const char *s)
{
	static char	 buf[4][SC_CTL_FAIL_LEN];
	static int	 idx;
	char		*b = buf[idx++ % 4];

	log_sanitize(s, b, sizeof(buf[0]));
	return (b);
}

static void
print_status(const struct ctl_status *st)
{
	time_t	 now = time(NULL);
	long long	 up;

	up = st->started > 0 && now >= st->started ?
	    (long long)(now - st->started) : 0;
	printf("tunnel-id: %s\n", clean(st->tunnel_id));
	printf("tunnel-name: %s\n", clean(st->tunnel_name));
	printf("state: %s\n", clean(st->state));
	printf("server: %s\n", clean(st->server));
	printf("uptime: %lld\n", up);
	printf("streams-open: %llu\n", (unsigned long long)st->streams_open);
	printf("streams-total: %llu\n",
	    (unsigned long long)st->streams_total);
	printf("bytes-in: %llu\n", (unsigned long long)st->bytes_in);
	printf("bytes-out: %llu\n", (unsigned long long)st->bytes_out);
	printf("rtt-ms: %.1f\n", (double)st->rtt_us / 1000.0);
	printf("reconnects: %u\n", st->reconnects);
	printf("pid-controller: %d\n", st->controller_pid);
	printf("pid-kgpd: %d\n", st->kgpd_pid);
	printf("pid-proxyd: %d\n", st->proxyd_pid);
}

/* IMSG_CTL_STATUS_INFO: struct ctl_status, then nlinks links, exactly. */
static int
get_status(struct imsg *imsg, struct ctl_status *st,
    struct sc_link_stats *ls)
{
	if (ctl_status_valid(imsg->data, IMSG_DATA_SIZE(imsg)) == -1)
		return (-1);
	memcpy(st, imsg->data, sizeof(*st));
	memcpy(ls, (char *)imsg->data + sizeof(*st),
	    st->nlinks * sizeof(*ls));
	return (0);
}

static void
print_link(const struct sc_link_stats *ls)
{
	const char	*state;
	struct tm	 tm;
	time_t		 t;
	char		 when[64];

	switch (ls->state) {
	case SC_LINK_UP:
		state = "up";
		break;
	case SC_LINK_BROKEN:
		state = "broken";
		break;
	case SC_LINK_CONNECTING:
		state = "connecting";
		break;
	default:
		state = "none";
		break;
	}
	t = (time_t)ls->last_break;
	if (ls->last_break <= 0 || gmtime_r(&t, &tm) == NULL ||
	    strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		strlcpy(when, "never", sizeof(when));
	printf("connection %u: %s, rtt %.1f ms, streams %llu, breaks %u, "
	    "resumes %u, retransmitted %llu bytes, last break %s\n",
	    ls->index, state, (double)ls->rtt_us / 1000.0,
	    (unsigned long long)ls->streams_open, ls->breaks, ls->resumes,
	    (unsigned long long)ls->retransmitted, when);
}

int
main(int argc, char *argv[])
{
	struct imsgbuf		 ibuf;
	struct imsg		 imsg;
	struct ctl_status	 st;
	struct sc_link_stats	 ls[SC_MAX_CONNECTIONS];
	const char		*sock = NULL, *name = NULL, *errstr;
	char			 path[PATH_MAX], *msg;
	int32_t			 v = 0;
	uint32_t		 type;
	uint32_t		 i;
	int			 ch, fd, ret = 1;

	while ((ch = getopt(argc, argv, "hi:s:")) != -1) {
		switch (ch) {
		case 'i':
			name = optarg;
			break;
		case 's':
			sock = optarg;
			break;
		default:
			usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (argc < 1)
		usage();
	if (strcmp(argv[0], "status") == 0 && argc == 1)
		type = IMSG_CTL_STATUS;
	else if (strcmp(argv[0], "stop") == 0 && argc == 1)
		type = IMSG_CTL_STOP;
	else if (strcmp(argv[0], "verbose") == 0 && argc == 2) {
		type = IMSG_CTL_VERBOSE;
		v = strtonum(argv[1], 0, 3, &errstr);
		if (errstr != NULL) {
			fprintf(stderr, "Error: verbosity %s: %s (0 to 3)\n",
			    argv[1], errstr);
			return (1);
		}
	} else
		usage();

	if (sock == NULL) {
		if (sc_ctl_path(name, path, sizeof(path)) == -1) {
			fprintf(stderr, "Error: socket path too long\n");
			return (1);
		}
		sock = path;
	}
	if ((fd = ctl_connect(sock)) == -1)
		return (1);
	imsg_init(&ibuf, fd);
	if (imsg_compose(&ibuf, type, SC_CTL_VERSION, 0, -1,
	    type == IMSG_CTL_VERBOSE ?
	    &v : NULL, type == IMSG_CTL_VERBOSE ? sizeof(v) : 0) == -1 ||
	    imsg_flush(&ibuf) == -1) {
		fprintf(stderr, "Error: cannot send to %s: %s\n", sock,
		    strerror(errno));
		close(fd);
		return (1);
	}
	if (ctl_wait(&ibuf, &imsg) == -1) {
		close(fd);
		return (1);
	}
	/* a refusal is understood whatever the version */
	if (imsg.hdr.peerid != SC_CTL_VERSION &&
	    imsg.hdr.type != IMSG_CTL_FAIL) {
		fprintf(stderr, "Error: sc speaks control protocol %u, this "
		    "sc-ctl speaks %u: use the sc-ctl installed with that sc\n",
		    imsg.hdr.peerid, SC_CTL_VERSION);
		goto done;
	}
	switch (imsg.hdr.type) {
	case IMSG_CTL_STATUS_INFO:
		if (type != IMSG_CTL_STATUS ||
		    get_status(&imsg, &st, ls) == -1) {
			fprintf(stderr, "Error: bad status answer\n");
			break;
		}
		print_status(&st);
		for (i = 0; i < st.nlinks; i++)
			print_link(&ls[i]);
		ret = 0;
		break;
	case IMSG_CTL_OK:
		if (type == IMSG_CTL_STATUS || imsg_get_empty(&imsg) == -1) {
			fprintf(stderr, "Error: bad answer from sc\n");
			break;
		}
		if (type == IMSG_CTL_STOP)
			printf("sc is shutting down\n");
		ret = 0;
		break;
	case IMSG_CTL_FAIL:
		if ((msg = imsg_get_string(&imsg, SC_CTL_FAIL_LEN)) == NULL)
			fprintf(stderr, "Error: the request failed\n");
		else
			fprintf(stderr, "Error: %s\n", clean(msg));
		break;
	default:
		fprintf(stderr, "Error: unexpected answer %u from sc\n",
		    imsg.hdr.type);
		break;
	}
 done:
	imsg_free(&imsg);
	imsg_clear(&ibuf);
	close(fd);
	return (ret);
}
