/*
 * An OpenSSL BIO over a bufferevent (bio_bev.c): the ciphertext of a
 * TLS that libevent's own filter does not carry, proxyd's to the
 * upstream and the entry proxy's to a browser's in-process end.
 */
#ifndef SC_BIO_BEV_H
#define SC_BIO_BEV_H

#include <stddef.h>

#include <openssl/bio.h>

struct bufferevent;

/* the BIO's data, the caller's: it outlives the BIO */
struct bio_bev {
	struct bufferevent	*bev;
	const int		*eof;	/* 1: bev's input has ended (NULL:
					   never; a read waits) */
	size_t			 wmax;	/* a write waits while bev's output
					   holds so much (0: never) */
	int			 direct; /* bev is a socket's: written at once
					   when nothing waits (bev_write_buf) */
};

int	 bio_bev_init(void);
BIO	*bio_bev_new(struct bio_bev *);

#endif
