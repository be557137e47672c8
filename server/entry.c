/*
 * Entry proxies: one listening port per running tunnel.  Every accepted
 * connection becomes one KGP stream of the tunnel's connection, byte for
 * byte; without a connection the client gets a 503.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "kgp.h"
#include "log.h"
#include "server.h"

#define ENTRY_BACKLOG		128
#define ENTRY_DRAIN_SEC		5
#define ENTRY_DRAIN_MAX		(64 * 1024)

struct entry_proxy {
	struct tunnel		*tunnel;
	struct listener		*listener;
};

/* a refused connection: the answer is written, the request drained */
struct entry_reject {
	int			 fd;
	size_t			 drained;
	struct event		*ev;
};

static void	 entry_accept(int, void *);
static void	 entry_refuse(int, const char *);
static void	 entry_drain(int, short, void *);

static const char entry_503[] =
    "HTTP/1.1 503 Service Unavailable\r\n"
    "Content-Type: text/plain\r\n"
    "Content-Length: 29\r\n"
    "Connection: close\r\n"
    "\r\n"
    "The tunnel is not connected.\n";

int
entry_open(struct tunnel *t)
{
	struct entry_proxy	*p;
	char			 bound[ADDRSTR_MAX], *port;
	int			 fd;

	if ((p = calloc(1, sizeof(*p))) == NULL) {
		log_warn("%s", __func__);
		return (-1);
	}
	p->tunnel = t;
	if ((fd = listen_on(env->entry_host, "0", ENTRY_BACKLOG, bound,
	    sizeof(bound))) == -1) {
		free(p);
		return (-1);
	}
	if ((p->listener = listener_new(env->base, fd, entry_accept, p)) ==
	    NULL) {
		log_warnx("%s: listener_new", __func__);
		close(fd);
		free(p);
		return (-1);
	}
	/* a wildcard address is no use to a browser: advertise -H */
	port = strrchr(bound, ':');
	if (strcmp(env->entry_host, "0.0.0.0") == 0 ||
	    strcmp(env->entry_host, "::") == 0) {
		if (strchr(env->host, ':') != NULL)
			snprintf(t->entry_addr, sizeof(t->entry_addr),
			    "[%s]%s", env->host, port);
		else
			snprintf(t->entry_addr, sizeof(t->entry_addr),
			    "%s%s", env->host, port);
	} else
		strlcpy(t->entry_addr, bound, sizeof(t->entry_addr));
	t->proxy = p;
	return (0);
}

void
entry_close(struct tunnel *t)
{
	struct entry_proxy	*p;

	if ((p = t->proxy) == NULL)
		return;
	listener_free(p->listener);
	free(p);
	t->proxy = NULL;
	log_debug("tunnel %s: entry proxy %s closed", t->id, t->entry_addr);
}

static void
entry_accept(int fd, void *arg)
{
	struct entry_proxy	*p = arg;
	struct tunnel		*t = p->tunnel;
	struct sockaddr_storage	 ss;
	socklen_t		 sslen = sizeof(ss);
	char			 peer[ADDRSTR_MAX];

	if (getpeername(fd, (struct sockaddr *)&ss, &sslen) == -1 ||
	    sockaddr_string((struct sockaddr *)&ss, sslen, peer, sizeof(peer),
	    NULL) == -1)
		strlcpy(peer, "unknown", sizeof(peer));
	if (t->status != TUNNEL_RUNNING || t->client == NULL) {
		log_debug("tunnel %s: entry connection from %s: not "
		    "connected, 503", t->id, peer);
		entry_refuse(fd, peer);
		return;
	}
	if (kgp_conn_open_stream(t->client->conn, fd, peer) == -1) {
		log_warnx("tunnel %s: cannot open a stream for %s", t->id,
		    peer);
		entry_refuse(fd, peer);
		return;
	}
	log_debug("tunnel %s: stream for %s", t->id, peer);
}

/*
 * Answer 503 and close.  The request is read and dropped for a few seconds
 * so that closing does not reset the connection before the client has
 * read the answer.
 */
static void
entry_refuse(int fd, const char *peer)
{
	struct entry_reject	*r;
	struct timeval		 tv = { ENTRY_DRAIN_SEC, 0 };

	if (write(fd, entry_503, sizeof(entry_503) - 1) == -1)
		log_debug("entry: write to %s: %s", peer, strerror(errno));
	if (shutdown(fd, SHUT_WR) == -1 ||
	    (r = calloc(1, sizeof(*r))) == NULL) {
		close(fd);
		return;
	}
	r->fd = fd;
	if ((r->ev = event_new(env->base, fd, EV_READ | EV_PERSIST,
	    entry_drain, r)) == NULL) {
		close(fd);
		free(r);
		return;
	}
	event_add(r->ev, &tv);
}

static void
entry_drain(int fd, short ev, void *arg)
{
	struct entry_reject	*r = arg;
	char			 buf[4096];
	ssize_t			 n;

	if (ev & EV_READ) {
		n = read(fd, buf, sizeof(buf));
		if (n == -1 && (errno == EAGAIN || errno == EINTR))
			return;
		if (n > 0 && (r->drained += n) < ENTRY_DRAIN_MAX)
			return;
	}
	event_free(r->ev);
	close(r->fd);
	free(r);
}
