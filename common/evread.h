/*
 * libevent I/O helpers (evread.c).
 */
#ifndef SC_EVREAD_H
#define SC_EVREAD_H

#include <stddef.h>

struct bufferevent;
struct evbuffer;

size_t	 bev_write_now(struct bufferevent *, struct evbuffer *, size_t);
size_t	 bev_write_move(struct bufferevent *, struct evbuffer *, size_t);
int	 bev_write_buf(struct bufferevent *, const void *, size_t);
void	 ev_put_field(struct evbuffer *, const char *, size_t, const char *,
	    size_t);
void	 ev_put_status(struct evbuffer *, int, const char *);

#endif
