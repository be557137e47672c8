/*
 * An accept loop on a listening socket: the control socket of sc, and
 * sc-server's REST, KGP and entry proxy ports.  Each connection accepted
 * (non-blocking, close-on-exec) goes to the callback.  Out of
 * descriptors (EMFILE, ENFILE), the listener asks its shed callback, if
 * it has one, to close a connection that has not proven anything yet,
 * and accepts again; with nothing to shed it stops accepting for
 * LISTENER_PAUSE_SEC instead of spinning on a socket it cannot serve.
 * listener_bind() makes the listening socket: sc-server's parent for its
 * ports, sc for --api-address.
 */
#ifndef SC_LISTENER_H
#define SC_LISTENER_H

#define LISTENER_PAUSE_SEC	1

struct event_base;
struct listener;

int		 listener_bind(const char *, const char *, int, char *,
		    size_t);
struct listener	*listener_new(struct event_base *, int, void (*)(int, void *),
		    void *);
void		 listener_set_shed(struct listener *, int (*)(void *), void *);
void		 listener_free(struct listener *);

#endif /* SC_LISTENER_H */
