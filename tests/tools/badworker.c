/*
 * badworker: stands in for a worker of sc-server ("sc-server -W rest"
 * or "-W kgp", started by tests/tools/execshim.so in its place) and says
 * hello twice on its channel, fd 3.  The parent must take the second
 * hello for what it is, a message a worker never sends twice, and kill
 * it.  badworker then waits for the end of its channel.
 */
#include <sys/types.h>

#include <err.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "imsg.h"
#include "imsg_server.h"

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
