/*
 * The KGP link's TLS transport, with buffered socket I/O (kgp_tls.c);
 * also the entry proxy's TLS to browsers whose connections it resigns.
 */
#ifndef KGP_TLS_H
#define KGP_TLS_H

#include <sys/types.h>

/*
 * kgp_tls_trim(): a small buffer (4 KiB, what a link that only pings
 * uses) goes after so many ticks in a row on which it held no more; a
 * larger one at the first
 */
#define KGP_TLS_QUIET_TICKS	10

struct tls;
struct kgp_tls;

struct kgp_tls	*kgp_tls_connect(struct tls *, int, const char *);
struct kgp_tls	*kgp_tls_accept(struct tls *, int);
struct kgp_tls	*kgp_tls_raw(int);
ssize_t		 kgp_tls_raw_read(struct kgp_tls *, void *, size_t);
ssize_t		 kgp_tls_raw_write(struct kgp_tls *, const void *, size_t);
int		 kgp_tls_preload(struct kgp_tls *, const void *, size_t);
void		 kgp_tls_free(struct kgp_tls *);
struct tls	*kgp_tls_ctx(struct kgp_tls *);
ssize_t		 kgp_tls_read(struct kgp_tls *, void *, size_t);
ssize_t		 kgp_tls_write(struct kgp_tls *, const void *, size_t);
int		 kgp_tls_flush(struct kgp_tls *);
size_t		 kgp_tls_buffered(struct kgp_tls *);
size_t		 kgp_tls_unsent(struct kgp_tls *);
void		 kgp_tls_trim(struct kgp_tls *, int);
size_t		 kgp_tls_bufsize(struct kgp_tls *);

#endif
