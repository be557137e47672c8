/*
 * badchild: stands in for proxyd (or kgpd) under sc and sends the
 * controller what a child never should, each time it starts.  What, is
 * the end of the name of the directory above its own (sc scrubs the
 * environment of its children, and they inherit its sandbox: no files
 * to keep a count in):
 *
 *	...-stats: hello, then an IMSG_STATS of 3 bytes for a statistics
 *		   request;
 *	...-type:  hello, then a message of a type sc does not know;
 *	...-early: an IMSG_STATS before its hello;
 *	...-later: a quiet helper (hello, right-sized statistics) as long
 *		   as the directory has no file "broken"; once it has, it
 *		   exits with status 1 at once, before its hello.
 *	...-hello2: kgpd: hello, then for each connection sc hands over
 *		   (IMSG_KGP_CONNECT, or the early one: IMSG_KGP_EARLY_END)
 *		   an IMSG_KGP_UP; once all are up, a
 *		   second hello.  A configuration or a connection after it
 *		   (sc taking it for a new kgpd and connecting the tunnel
 *		   again) is said on standard error, which is sc's log.
 *
 * The controller must log the bad message and restart the child (or,
 * for one that never said hello, say that it did not start and exit),
 * and never crash; one that can no longer start must end sc.
 */
#include <sys/types.h>

#include <err.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "imsg.h"
#include "imsg_types.h"

enum mode { M_STATS, M_TYPE, M_EARLY, M_LATER, M_HELLO2 };

static char	 top[PATH_MAX];	/* the directory above its own */

static enum mode
mode(void)
{
	char		 self[PATH_MAX];
	const char	*d;
	ssize_t		 n;

	if ((n = readlink("/proc/self/exe", self, sizeof(self) - 1)) == -1)
		err(1, "readlink");
	self[n] = '\0';
	strlcpy(top, dirname(dirname(self)), sizeof(top));
	d = basename(top);
	if ((d = strrchr(d, '-')) == NULL)
		errx(1, "no mode in the path %s", self);
	if (strcmp(d, "-stats") == 0)
		return (M_STATS);
	if (strcmp(d, "-type") == 0)
		return (M_TYPE);
	if (strcmp(d, "-early") == 0)
		return (M_EARLY);
	if (strcmp(d, "-later") == 0)
		return (M_LATER);
	if (strcmp(d, "-hello2") == 0)
		return (M_HELLO2);
	errx(1, "unknown mode %s", d);
}

/*
 * kgpd that says hello twice: every connection up, then the second
 * hello; what sc sends after it is reported.
 */
static void
hello2(struct imsgbuf *ib, struct imsg *imsg, struct kgp_config *kc,
    struct kgp_link_event *ev, uint32_t *nlinks, uint32_t *ups,
    uint32_t *index, int *again, struct sc_hello *hello)
{
	switch (imsg->hdr.type) {
	case IMSG_KGP_CONFIG:
		if (*again)
			fprintf(stderr, "badchild: IMSG_KGP_CONFIG after the "
			    "second hello\n");
		if (imsg_get_data(imsg, kc, sizeof(*kc)) == 0)
			*nlinks = kc->connections;
		explicit_bzero(kc, sizeof(*kc));
		break;
	case IMSG_KGP_EARLY:
		close(imsg_get_fd(imsg));
		break;
	case IMSG_KGP_EARLY_END:
		/* the early connection, as connection index */
		if (imsg_get_data(imsg, index, sizeof(*index)) == -1 ||
		    *index == SC_EARLY_DROP)
			break;
		/* FALLTHROUGH */
	case IMSG_KGP_CONNECT:
		if (*again)
			fprintf(stderr, "badchild: IMSG_KGP_CONNECT after the "
			    "second hello\n");
		if (imsg_get_data(imsg, index, sizeof(*index)) == -1)
			break;
		memset(ev, 0, sizeof(*ev));
		ev->index = *index;
		imsg_compose(ib, IMSG_KGP_UP, 0, 0, -1, ev, sizeof(*ev));
		if (++*ups == *nlinks && !*again) {
			fprintf(stderr, "badchild: %u connections up, saying "
			    "hello again\n", *ups);
			imsg_compose(ib, IMSG_HELLO, 0, 0, -1, hello,
			    sizeof(*hello));
			*again = 1;
		}
		if (imsg_flush(ib) == -1)
			err(1, "imsg_flush");
		break;
	default:
		break;
	}
}

int
main(int argc, char *argv[])
{
	struct imsgbuf	 ib;
	struct imsg	 imsg;
	struct sc_hello	 hello;
	struct sc_stats	 st;
	struct kgp_config kc;
	struct kgp_link_event ev;
	enum mode	 m;
	ssize_t		 n;
	uint32_t	 nlinks = 0, ups = 0, index;
	int		 again = 0;
	char		 broken[PATH_MAX + 16];

	m = mode();
	if (m == M_LATER) {
		/* stat(2) only: its sandbox lets it open nothing */
		snprintf(broken, sizeof(broken), "%s/broken", top);
		if (access(broken, F_OK) == 0)
			errx(1, "%s exists: exiting", broken);
	}
	imsg_init(&ib, 3);
	memset(&hello, 0, sizeof(hello));
	hello.version = SC_IMSG_VERSION;
	hello.pid = getpid();
	memset(&st, 0, sizeof(st));
	if (m == M_EARLY)
		imsg_compose(&ib, IMSG_STATS, 0, 0, -1, &st, sizeof(st));
	imsg_compose(&ib, IMSG_HELLO, 0, 0, -1, &hello, sizeof(hello));
	if (imsg_flush(&ib) == -1)
		err(1, "imsg_flush");
	for (;;) {
		/* the channel blocks: no poll(2), which the sandbox denies */
		if ((n = imsg_read(&ib)) == -1)
			err(1, "imsg_read");
		if (n == 0)
			return (0);	/* the controller let go */
		while ((n = imsg_get(&ib, &imsg)) > 0) {
			if (m == M_HELLO2) {
				hello2(&ib, &imsg, &kc, &ev, &nlinks, &ups,
				    &index, &again, &hello);
				imsg_free(&imsg);
				continue;
			}
			if (imsg.hdr.type == IMSG_STATS_REQ) {
				if (m == M_LATER)
					imsg_compose(&ib, IMSG_STATS, 0, 0, -1,
					    &st, sizeof(st));
				else if (m == M_STATS)
					imsg_compose(&ib, IMSG_STATS, 0, 0, -1,
					    &st, 3);
				else
					imsg_compose(&ib, 9999, 0, 0, -1,
					    NULL, 0);
				if (imsg_flush(&ib) == -1)
					err(1, "imsg_flush");
			}
			imsg_free(&imsg);
		}
		if (n == -1)
			err(1, "imsg_get");
	}
}
