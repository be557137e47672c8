/*
 * badworker: stands in for a worker of sc-server ("sc-server -W rest"
 * or "-W kgp", started by tests/tools/execshim.so in its place) and says
 * hello twice on its channel, fd 3.  The parent must take the second
 * hello for what it is, a message a worker never sends twice, and kill
 * it.  badworker then waits for the end of its channel.
 *
 * Built with BADWORKER_ADD_TWICE (badworker-add), it stands in for the
 * REST worker and says hello once, then, once the parent has sent its
 * set-up (IMSG_SRV_START), says it serves and adds the same new tunnel
 * twice (IMSG_SRV_TUNNEL_ADD, SRV_ADD_NEW), which the parent relays to
 * the KGP worker: a REST worker gone wrong, that must not end the KGP
 * worker.
 */
#include <sys/types.h>

#include <err.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "imsg.h"
#include "imsg_server.h"

#ifdef BADWORKER_ADD_TWICE
int
main(int argc, char *argv[])
{
	struct imsgbuf		 ib;
	struct imsg		 imsg;
	struct sc_hello		 hello;
	struct srv_tunnel_add	 a;
	ssize_t			 n;
	int			 start = 0, fd, i;

	imsg_init(&ib, SRV_WORKER_FD);
	memset(&hello, 0, sizeof(hello));
	hello.version = SRV_IMSG_VERSION;
	hello.pid = getpid();
	if (imsg_compose(&ib, IMSG_SRV_HELLO, 0, 0, -1, &hello,
	    sizeof(hello)) == -1 || imsg_flush(&ib) == -1)
		err(1, "imsg");
	while (!start) {
		if ((n = imsg_read(&ib)) == -1 || n == 0)
			errx(1, "the parent went away");
		while ((n = imsg_get(&ib, &imsg)) > 0) {
			if (imsg.hdr.type == IMSG_SRV_START)
				start = 1;
			if ((fd = imsg_get_fd(&imsg)) != -1)
				close(fd);
			imsg_free(&imsg);
		}
		if (n == -1)
			errx(1, "a broken message");
	}
	memset(&a, 0, sizeof(a));
	memset(a.id, 'a', TUNNEL_ID_LEN);
	memset(a.secret, '5', TUNNEL_SECRET_LEN);
	strlcpy(a.owner, "alice", sizeof(a.owner));
	a.mode = SRV_ADD_NEW;
	fprintf(stderr, "badworker: rest worker %d adds tunnel %s twice\n",
	    (int)getpid(), a.id);
	if (imsg_compose(&ib, IMSG_SRV_READY, 0, 0, -1, NULL, 0) == -1)
		err(1, "imsg");
	for (i = 0; i < 2; i++)
		if (imsg_compose(&ib, IMSG_SRV_TUNNEL_ADD, 0, 0, -1, &a,
		    sizeof(a)) == -1)
			err(1, "imsg");
	if (imsg_flush(&ib) == -1)
		err(1, "imsg");
	/* what comes now (the KGP worker's reports) is not read */
	while ((n = imsg_read(&ib)) > 0)
		while (imsg_get(&ib, &imsg) > 0) {
			if ((fd = imsg_get_fd(&imsg)) != -1)
				close(fd);
			imsg_free(&imsg);
		}
	return (0);
}
#else
int
main(int argc, char *argv[])
{
	struct imsgbuf	 ib;
	struct sc_hello	 hello;
	char		 buf[4096];

	imsg_init(&ib, SRV_WORKER_FD);
	memset(&hello, 0, sizeof(hello));
	hello.version = SRV_IMSG_VERSION;
	hello.pid = getpid();
	/* said first: the parent may kill it at once */
	fprintf(stderr, "badworker: %s worker %d says hello twice\n",
	    argc > 2 ? argv[2] : "a", (int)getpid());
	if (imsg_compose(&ib, IMSG_SRV_HELLO, 0, 0, -1, &hello,
	    sizeof(hello)) == -1 || imsg_compose(&ib, IMSG_SRV_HELLO, 0, 0,
	    -1, &hello, sizeof(hello)) == -1 || imsg_flush(&ib) == -1)
		err(1, "imsg");
	/* the configuration and the rest come in: wait for the end */
	while (read(SRV_WORKER_FD, buf, sizeof(buf)) > 0)
		;
	return (0);
}
#endif
