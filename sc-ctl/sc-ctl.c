/*
 * sc-ctl: talk to a running sc over its control socket.  Every message
 * carries SC_CTL_VERSION in peerid, both ways: sc refuses a request of
 * another version with an IMSG_CTL_FAIL that says why, and sc-ctl an
 * answer of another version.  Answers are checked as sc checks what it
 * gets: the exact size, terminated strings.  status, stats and show
 * connections are three views of one answer (IMSG_CTL_STATUS_INFO); show
 * streams has its own (IMSG_CTL_STREAMS_INFO); -j prints any answer as
 * one JSON object.
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

#include <jansson.h>

#include "imsg.h"
#include "imsg_types.h"
#include "log.h"

#define CTL_TIMEOUT_MS	10000

/* what the answer to IMSG_CTL_STATUS is shown as */
enum ctl_view {
	VIEW_NONE,
	VIEW_STATUS,		/* status: everything */
	VIEW_STATS,		/* stats: the counters */
	VIEW_CONNS,		/* show connections: one line a connection */
	VIEW_STREAMS,		/* show streams: one line a stream */
};

static int	 jflag;		/* -j: JSON */

static void	 usage(void) __attribute__((noreturn));
static int	 ctl_connect(const char *);
static void	 not_permitted(const char *);
static int	 ctl_wait(struct imsgbuf *, struct imsg *);
static int	 get_status(struct imsg *, struct ctl_status *,
		    struct sc_link_stats *);
static void	 print_status(const struct ctl_status *);
static void	 print_stats(const struct ctl_status *);
static void	 print_link(const struct sc_link_stats *, const char *);
static void	 print_json(json_t *);
static int	 show_streams(struct imsg *);
static json_t	*json_status(const struct ctl_status *,
		    const struct sc_link_stats *, enum ctl_view);
static const char *link_state(uint32_t);
static char	*clean(const char *);
static uint32_t	 parse_command(int, char *[], int32_t *, enum ctl_view *);
static void	 fail(const char *);

static void
usage(void)
{
	fprintf(stderr,
	    "usage: sc-ctl [-j] [-i name] [-s socket] command\n"
	    "commands: status | stats | show connections | show streams |\n"
	    "          log level level | verbose n | reconnect | stop\n");
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

/* An error: on standard error, and with -j as JSON on standard output. */
static void
fail(const char *msg)
{
	json_t	*j;

	fprintf(stderr, "Error: %s\n", msg);
	if (jflag && (j = json_pack("{s:b, s:s}", "ok", 0, "error",
	    msg)) != NULL)
		print_json(j);
}

static void
print_json(json_t *j)
{
	char	*s;

	if ((s = json_dumps(j, JSON_COMPACT)) != NULL) {
		printf("%s\n", s);
		free(s);
	}
	json_decref(j);
}

static long long
uptime(const struct ctl_status *st)
{
	time_t	 now = time(NULL);

	return (st->started > 0 && now >= st->started ?
	    (long long)(now - st->started) : 0);
}

/* uptime to reconnects: the lines status and stats share */
static void
print_counters(const struct ctl_status *st)
{
	printf("uptime: %lld\n", uptime(st));
	printf("streams-open: %llu\n", (unsigned long long)st->streams_open);
	printf("streams-total: %llu\n",
	    (unsigned long long)st->streams_total);
	printf("bytes-in: %llu\n", (unsigned long long)st->bytes_in);
	printf("bytes-out: %llu\n", (unsigned long long)st->bytes_out);
	printf("rtt-ms: %.1f\n", (double)st->rtt_us / 1000.0);
	printf("reconnects: %u\n", st->reconnects);
	printf("tls-handovers: %llu\n",
	    (unsigned long long)st->tls_handovers);
}

static void
print_stats(const struct ctl_status *st)
{
	printf("state: %s\n", clean(st->state));
	print_counters(st);
}

static void
print_status(const struct ctl_status *st)
{
	printf("tunnel-id: %s\n", clean(st->tunnel_id));
	printf("tunnel-name: %s\n", clean(st->tunnel_name));
	printf("state: %s\n", clean(st->state));
	printf("server: %s\n", clean(st->server));
	print_counters(st);
	printf("pid-controller: %d\n", st->controller_pid);
	printf("pid-kgpd: %d\n", st->kgpd_pid);
	printf("pid-proxyd: %d\n", st->proxyd_pid);
}

/* One object: the fields of the view, named as the text names them. */
static json_t *
json_status(const struct ctl_status *st, const struct sc_link_stats *ls,
    enum ctl_view view)
{
	json_t		*j, *x = NULL, *a = NULL, *l;
	uint32_t	 i;

	if (view == VIEW_CONNS)
		j = json_object();
	else
		j = json_pack("{s:s, s:I, s:I, s:I, s:I, s:I, s:f, s:i, s:I}",
		    "state", clean(st->state), "uptime", (json_int_t)uptime(st),
		    "streams-open", (json_int_t)st->streams_open,
		    "streams-total", (json_int_t)st->streams_total,
		    "bytes-in", (json_int_t)st->bytes_in,
		    "bytes-out", (json_int_t)st->bytes_out,
		    "rtt-ms", (double)st->rtt_us / 1000.0,
		    "reconnects", (int)st->reconnects,
		    "tls-handovers", (json_int_t)st->tls_handovers);
	if (j == NULL)
		goto nomem;
	if (view != VIEW_STATS && ((x = json_pack("{s:s}", "server",
	    clean(st->server))) == NULL || json_object_update(j, x) == -1))
		goto nomem;
	json_decref(x);
	x = NULL;
	if (view == VIEW_STATUS && ((x = json_pack("{s:s, s:s, s:i, s:i, "
	    "s:i}", "tunnel-id", clean(st->tunnel_id), "tunnel-name",
	    clean(st->tunnel_name), "pid-controller", st->controller_pid,
	    "pid-kgpd", st->kgpd_pid, "pid-proxyd", st->proxyd_pid)) == NULL ||
	    json_object_update(j, x) == -1))
		goto nomem;
	json_decref(x);
	x = NULL;
	if (view == VIEW_STATS)
		return (j);
	if ((a = json_array()) == NULL)
		goto nomem;
	for (i = 0; i < st->nlinks; i++) {
		if ((l = json_pack("{s:i, s:s, s:f, s:I, s:I, s:I, s:i, s:i, "
		    "s:I, s:I, s:i}", "index", (int)ls[i].index,
		    "state", link_state(ls[i].state),
		    "rtt-ms", (double)ls[i].rtt_us / 1000.0,
		    "streams-open", (json_int_t)ls[i].streams_open,
		    "bytes-in", (json_int_t)ls[i].bytes_in,
		    "bytes-out", (json_int_t)ls[i].bytes_out,
		    "breaks", (int)ls[i].breaks,
		    "resumes", (int)ls[i].resumes,
		    "retransmitted", (json_int_t)ls[i].retransmitted,
		    "last-break", (json_int_t)ls[i].last_break,
		    "kgpd-pid", (int)ls[i].pid)) == NULL ||
		    json_array_append_new(a, l) == -1)
			goto nomem;
	}
	if (json_object_set_new(j, "connections", a) == -1) {
		a = NULL;
		goto nomem;
	}
	return (j);
 nomem:
	fprintf(stderr, "Error: out of memory\n");
	exit(1);
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

static const char *
link_state(uint32_t state)
{
	switch (state) {
	case SC_LINK_UP:
		return ("up");
	case SC_LINK_BROKEN:
		return ("broken");
	case SC_LINK_CONNECTING:
		return ("connecting");
	default:
		return ("none");
	}
}

static void
print_link(const struct sc_link_stats *ls, const char *server)
{
	struct tm	 tm;
	time_t		 t;
	char		 when[64];

	t = (time_t)ls->last_break;
	if (ls->last_break <= 0 || gmtime_r(&t, &tm) == NULL ||
	    strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		strlcpy(when, "never", sizeof(when));
	printf("connection %u: %s, server %s, rtt %.1f ms, streams %llu, "
	    "bytes %llu in %llu out, breaks %u, resumes %u, retransmitted "
	    "%llu bytes, last break %s, kgpd pid %d\n", ls->index,
	    link_state(ls->state), server, (double)ls->rtt_us / 1000.0,
	    (unsigned long long)ls->streams_open,
	    (unsigned long long)ls->bytes_in,
	    (unsigned long long)ls->bytes_out, ls->breaks, ls->resumes,
	    (unsigned long long)ls->retransmitted, when, (int)ls->pid);
}

/*
 * IMSG_CTL_STREAMS_INFO: struct sc_streams, then n struct sc_stream,
 * exactly; one line a stream, and how many were left out.
 */
static int
show_streams(struct imsg *imsg)
{
	struct sc_streams	 h;
	struct sc_stream	 st;
	const char		*p = imsg->data;
	json_t			*j, *a, *o;
	char			 sess[32];
	uint32_t		 i;

	if (sc_streams_valid(imsg->data, IMSG_DATA_SIZE(imsg)) == -1) {
		fail("bad streams answer");
		return (-1);
	}
	memcpy(&h, p, sizeof(h));
	if ((a = json_array()) == NULL)
		goto nomem;
	for (i = 0; i < h.n; i++) {
		memcpy(&st, p + sizeof(h) + i * sizeof(st), sizeof(st));
		if (jflag) {
			/* a 64-bit name: JSON numbers are not all that */
			snprintf(sess, sizeof(sess), "%016llx",
			    (unsigned long long)st.session);
			if ((o = json_pack("{s:s, s:i, s:s, s:i, s:I, s:I, "
			    "s:I}", "session", sess,
			    "id", (int)st.id, "target", clean(st.target),
			    "connection", (int)st.conn,
			    "bytes-in", (json_int_t)st.bytes_in,
			    "bytes-out", (json_int_t)st.bytes_out,
			    "age-ms", (json_int_t)st.age_ms)) == NULL ||
			    json_array_append_new(a, o) == -1)
				goto nomem;
			continue;
		}
		printf("stream %u: %s, connection %u, age %.1f s, bytes %llu "
		    "in %llu out\n", st.id, st.target[0] != '\0' ?
		    clean(st.target) : "-", st.conn,
		    (double)st.age_ms / 1000.0,
		    (unsigned long long)st.bytes_in,
		    (unsigned long long)st.bytes_out);
	}
	if (jflag) {
		if ((j = json_pack("{s:i, s:i, s:o}", "total", (int)h.total,
		    "left-out", (int)(h.total - h.n), "streams", a)) == NULL)
			goto nomem;
		print_json(j);
		return (0);
	}
	json_decref(a);
	if (h.total == 0)
		printf("no open streams\n");
	else if (h.total > h.n)
		printf("%u more streams not listed (at most %d are)\n",
		    h.total - h.n, SC_STREAMS_LIST);
	return (0);
 nomem:
	fprintf(stderr, "Error: out of memory\n");
	exit(1);
}

/*
 * The command words into the request type, its verbosity and the view
 * of a status answer; exits with the usage or an error when they do not
 * make one command.
 */
static uint32_t
parse_command(int argc, char *argv[], int32_t *v, enum ctl_view *view)
{
	const char	*errstr;
	int		 level;

	*view = VIEW_NONE;
	if (argc == 1 && strcmp(argv[0], "status") == 0) {
		*view = VIEW_STATUS;
		return (IMSG_CTL_STATUS);
	}
	if (argc == 1 && strcmp(argv[0], "stats") == 0) {
		*view = VIEW_STATS;
		return (IMSG_CTL_STATUS);
	}
	if (argc == 2 && strcmp(argv[0], "show") == 0 &&
	    strcmp(argv[1], "connections") == 0) {
		*view = VIEW_CONNS;
		return (IMSG_CTL_STATUS);
	}
	if (argc == 2 && strcmp(argv[0], "show") == 0 &&
	    strcmp(argv[1], "streams") == 0) {
		*view = VIEW_STREAMS;
		return (IMSG_CTL_STREAMS);
	}
	if (argc == 1 && strcmp(argv[0], "stop") == 0)
		return (IMSG_CTL_STOP);
	if (argc == 1 && strcmp(argv[0], "reconnect") == 0)
		return (IMSG_CTL_RECONNECT);
	if (argc == 2 && strcmp(argv[0], "verbose") == 0) {
		*v = strtonum(argv[1], 0, 3, &errstr);
		if (errstr != NULL) {
			fprintf(stderr, "Error: verbosity %s: %s (0 to 3)\n",
			    argv[1], errstr);
			exit(1);
		}
		return (IMSG_CTL_VERBOSE);
	}
	if (argc == 3 && strcmp(argv[0], "log") == 0 &&
	    strcmp(argv[1], "level") == 0) {
		if (log_level_parse(argv[2], &level) == -1) {
			fprintf(stderr, "Error: log level %s: not one of "
			    "error, warn, info, debug, trace\n",
			    clean(argv[2]));
			exit(1);
		}
		*v = level;
		return (IMSG_CTL_VERBOSE);
	}
	usage();
}

int
main(int argc, char *argv[])
{
	struct imsgbuf		 ibuf;
	struct imsg		 imsg;
	struct ctl_status	 st;
	struct sc_link_stats	 ls[SC_MAX_CONNECTIONS];
	const char		*sock = NULL, *name = NULL;
	char			 path[PATH_MAX], *msg, buf[256];
	enum ctl_view		 view;
	int32_t			 v = 0;
	uint32_t		 type;
	uint32_t		 i;
	int			 ch, fd, ret = 1;

	while ((ch = getopt(argc, argv, "hi:js:")) != -1) {
		switch (ch) {
		case 'i':
			name = optarg;
			break;
		case 'j':
			jflag = 1;
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
	type = parse_command(argc, argv, &v, &view);

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
		snprintf(buf, sizeof(buf), "sc speaks control protocol %u, "
		    "this sc-ctl speaks %u: use the sc-ctl installed with "
		    "that sc", imsg.hdr.peerid, SC_CTL_VERSION);
		fail(buf);
		goto done;
	}
	switch (imsg.hdr.type) {
	case IMSG_CTL_STATUS_INFO:
		if (type != IMSG_CTL_STATUS ||
		    get_status(&imsg, &st, ls) == -1) {
			fail("bad status answer");
			break;
		}
		ret = 0;
		if (jflag) {
			print_json(json_status(&st, ls, view));
			break;
		}
		if (view == VIEW_STATUS)
			print_status(&st);
		else if (view == VIEW_STATS)
			print_stats(&st);
		if (view != VIEW_STATS)
			for (i = 0; i < st.nlinks; i++)
				print_link(&ls[i], clean(st.server));
		break;
	case IMSG_CTL_STREAMS_INFO:
		if (type != IMSG_CTL_STREAMS) {
			fail("bad answer from sc");
			break;
		}
		if (show_streams(&imsg) == 0)
			ret = 0;
		break;
	case IMSG_CTL_OK:
		if (type == IMSG_CTL_STATUS || type == IMSG_CTL_STREAMS || imsg_get_empty(&imsg) == -1) {
			fail("bad answer from sc");
			break;
		}
		ret = 0;
		if (jflag)
			print_json(json_pack("{s:b}", "ok", 1));
		else if (type == IMSG_CTL_STOP)
			printf("sc is shutting down\n");
		else if (type == IMSG_CTL_RECONNECT)
			printf("sc is reconnecting the tunnel\n");
		break;
	case IMSG_CTL_FAIL:
		if ((msg = imsg_get_string(&imsg, SC_CTL_FAIL_LEN)) == NULL)
			fail("the request failed");
		else
			fail(clean(msg));
		break;
	default:
		snprintf(buf, sizeof(buf), "unexpected answer %u from sc",
		    imsg.hdr.type);
		fail(buf);
		break;
	}
 done:
	imsg_free(&imsg);
	imsg_clear(&ibuf);
	close(fd);
	return (ret);
}
