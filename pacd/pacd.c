/*
 * pacd: sc's PAC process (--pac).  A PAC file is JavaScript that the
 * operator, or whoever serves the PAC URL, wrote; libpacparser runs it
 * here, never in proxyd.
 *
 * fd 3 is the channel to the controller; fd 4 holds the script (a sealed
 * memfd the controller filled: read with pread, closed).  pacd loads the
 * script, then enters a sandbox with no file system and no network at
 * all (SANDBOX_PAC), says hello, and answers each IMSG_PAC_ASK, which
 * the controller relays from proxyd, with the string FindProxyForURL()
 * returned (IMSG_PAC_ANSWER, same peerid; "" when it threw or returned
 * something else than a string).  proxyd parses the answer
 * (common/pacans.c) and trusts nothing else of it.
 *
 * Each call is bounded by a real-time timer of PAC_CALL_MS (the load by
 * PAC_LOAD_MS): a script that loops forever is ended by SIGALRM's default
 * action, which no JavaScript can catch.  The controller sees that
 * death, logs it, restarts pacd, and proxyd's request goes DIRECT.
 */
#include <sys/types.h>
#include <sys/time.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <pacparser.h>

#include "imsg_types.h"
#include "log.h"
#include "pacans.h"
#include "proc.h"
#include "sandbox.h"

#define PACD_CTL_FD	3
#define PACD_SCRIPT_FD	4
#define PAC_LOAD_MS	1000	/* loading the script (pacans.h: the calls) */

static int	 pacd_ask(struct imsgev *, struct imsg *);
static int	 pacd_stats_req(struct imsgev *, struct imsg *);
static void	 pacd_main_gone(struct imsgev *);
static void	 pacd_sig(int, short, void *);
static char	*pacd_read_script(int, size_t *);
static void	 pacd_timer(int);
static int	 pacd_jserror(const char *, va_list);

/* what the controller sends (fd 3): it is trusted, a bad one is fatal */
static const struct imsgev_msg pacd_msgs_main[] = {
	{ IMSGEV_TYPE(IMSG_PAC_ASK), IMSGEV_SIZE(struct pac_ask), 0,
	    pac_ask_valid, pacd_ask },
	{ IMSGEV_TYPE(IMSG_STATS_REQ), IMSGEV_EMPTY, 0, NULL,
	    pacd_stats_req },
	IMSGEV_MSG_VERBOSE,
	IMSGEV_END
};
static const struct imsgev_peer pacd_peer_main = {
	"the controller", IMSGEV_FATAL, 0, pacd_msgs_main, pacd_main_gone,
	NULL
};

static struct event_base	*base;
static struct imsgev		 iev_main;
/* pacparser's errors come a piece at a time: one line for the log */
static char			 jserr[512];

static void
usage(void)
{
	fprintf(stderr, "usage: pacd [-q | -v] [-u uid:gid]\n"
	    "pacd is started by sc(8), not by hand.\n");
	exit(1);
}

int
main(int argc, char *argv[])
{
	struct event	*ev_term, *ev_int;
	sigset_t	 set;
	const char	*ids;
	char		*script;
	size_t		 len;
	int		 verbose;

	log_procinit("pacd");
	if (proc_helper_args(argc, argv, &ids, &verbose) == -1)
		usage();
	log_setverbose(verbose);
	if (fcntl(PACD_CTL_FD, F_GETFD) == -1 ||
	    fcntl(PACD_SCRIPT_FD, F_GETFD) == -1)
		usage();

	if ((base = event_base_new()) == NULL)
		fatalx("event_base_new");
	set_nonblock(PACD_CTL_FD);
	imsgev_open(&iev_main, base, PACD_CTL_FD, &pacd_peer_main, NULL);
	imsgev_log_sink(&iev_main);

	signal(SIGPIPE, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	/* the bound of every call: SIGALRM ends the process */
	signal(SIGALRM, SIG_DFL);
	sigemptyset(&set);
	sigaddset(&set, SIGALRM);
	sigprocmask(SIG_UNBLOCK, &set, NULL);
	ev_term = evsignal_new(base, SIGTERM, pacd_sig, NULL);
	ev_int = evsignal_new(base, SIGINT, pacd_sig, NULL);
	evsignal_add(ev_term, NULL);
	evsignal_add(ev_int, NULL);

	/* the script, before any sandbox */
	if ((script = pacd_read_script(PACD_SCRIPT_FD, &len)) == NULL)
		exit(1);
	close(PACD_SCRIPT_FD);
	pacparser_set_error_printer(pacd_jserror);
	pacd_timer(PAC_LOAD_MS);
	if (!pacparser_init()) {
		pacd_timer(0);
		fatalx("pacparser_init failed");
	}
	if (!pacparser_parse_pac_string(script)) {
		pacd_timer(0);
		log_warnx("the PAC script does not load: %s", jserr[0] != '\0' ?
		    jserr : "a JavaScript error");
		imsg_flush(&iev_main.ibuf);
		exit(1);
	}
	pacd_timer(0);
	freezero(script, len);
	jserr[0] = '\0';

	/*
	 * last: no file system, no socket from here on.  Started as root:
	 * chroot to the empty directory, become _sc (ids from -u).
	 */
	sandbox_drop_ids(ids, SC_CHROOT);
	sandbox_pac();

	proc_hello(&iev_main);
	event_base_dispatch(base);
	pacparser_cleanup();
	return (0);
}

static void
pacd_sig(int sig, short event, void *arg)
{
	event_base_loopbreak(base);
}

static void
pacd_main_gone(struct imsgev *iev)
{
	imsgev_clear(iev);
	event_base_loopbreak(base);
}

/* Its CPU time and memory, for sc's /metrics. */
static int
pacd_stats_req(struct imsgev *iev, struct imsg *imsg)
{
	struct sc_stats	 st;

	memset(&st, 0, sizeof(st));
	sc_stats_self(&st);
	imsg_compose_event(iev, IMSG_STATS, 0, 0, -1, &st, sizeof(st));
	return (IMSGEV_OK);
}

/* A real-time timer of ms milliseconds (0: off). */
static void
pacd_timer(int ms)
{
	struct itimerval	 it;

	memset(&it, 0, sizeof(it));
	it.it_value.tv_sec = ms / 1000;
	it.it_value.tv_usec = (ms % 1000) * 1000;
	if (setitimer(ITIMER_REAL, &it, NULL) == -1)
		fatal("setitimer");
}

/* pacparser's error messages, gathered into one line. */
static int
pacd_jserror(const char *fmt, va_list ap)
{
	char	 buf[256];
	size_t	 i;
	int	 n;

	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	for (i = 0; buf[i] != '\0'; i++)
		if (buf[i] == '\n' || buf[i] == '\r' || buf[i] == '\t')
			buf[i] = ' ';
	if (jserr[0] != '\0' && buf[0] != ' ')
		strlcat(jserr, " ", sizeof(jserr));
	strlcat(jserr, buf, sizeof(jserr));
	return (n);
}

/* All of fd, at most PAC_SCRIPT_MAX bytes, NUL-terminated. */
static char *
pacd_read_script(int fd, size_t *lenp)
{
	char	*buf;
	size_t	 len = 0;
	ssize_t	 n;

	if ((buf = malloc(PAC_SCRIPT_MAX + 1)) == NULL) {
		log_warn("%s", __func__);
		return (NULL);
	}
	for (;;) {
		n = pread(fd, buf + len, PAC_SCRIPT_MAX + 1 - len, len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			log_warn("%s: the script", __func__);
			goto fail;
		}
		if (n == 0)
			break;
		len += n;
		if (len > PAC_SCRIPT_MAX) {
			log_warnx("%s: the script is longer than %d bytes",
			    __func__, PAC_SCRIPT_MAX);
			goto fail;
		}
	}
	if (len == 0 || memchr(buf, '\0', len) != NULL) {
		log_warnx("%s: the script is empty or holds a NUL", __func__);
		goto fail;
	}
	buf[len] = '\0';
	*lenp = len + 1;
	return (buf);
 fail:
	free(buf);
	imsg_flush(&iev_main.ibuf);
	return (NULL);
}

/*
 * Which proxy for a->host?  The answer, at most PAC_ANSWER_LEN with its
 * NUL, or "" when the script threw or returned no string.  The timer
 * ends pacd when the script runs past PAC_CALL_MS.
 */
static int
pacd_ask(struct imsgev *iev, struct imsg *imsg)
{
	struct pac_ask	 a;
	char		 url[SC_HOST_LEN + 16];
	const char	*ans;
	size_t		 len;

	memcpy(&a, imsg->data, sizeof(a));
	snprintf(url, sizeof(url), "%s://%s/", a.tls ? "https" : "http",
	    a.host);
	jserr[0] = '\0';
	pacd_timer(PAC_CALL_MS);
	ans = pacparser_find_proxy(url, a.host);
	pacd_timer(0);
	if (ans == NULL) {
		log_warnx("FindProxyForURL(\"%s\", \"%s\") gave no answer: %s",
		    url, a.host, jserr[0] != '\0' ? jserr : "not a string");
		ans = "";
	}
	if ((len = strlen(ans)) >= PAC_ANSWER_LEN) {
		log_warnx("FindProxyForURL(\"%s\", \"%s\"): an answer of %zu "
		    "bytes (at most %d)", url, a.host, len,
		    PAC_ANSWER_LEN - 1);
		ans = "";
		len = 0;
	}
	log_debug("FindProxyForURL(\"%s\", \"%s\") = \"%s\"", url, a.host,
	    ans);
	imsg_compose_event(iev, IMSG_PAC_ANSWER, imsg->hdr.peerid, 0, -1,
	    ans, len + 1);
	return (IMSGEV_OK);
}
