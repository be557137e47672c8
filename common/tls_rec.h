/*
 * A TLS record layer for a connection whose handshake was done
 * elsewhere (tls_rec.c): the keys of its two directions, exported by the
 * process that made the handshake (proxyd, tls_keys.c), and the records
 * of application data sealed and opened with them.  Only TLS 1.2 and 1.3
 * with an AEAD cipher: AES-128-GCM, AES-256-GCM, ChaCha20-Poly1305.
 */
#ifndef TLS_REC_H
#define TLS_REC_H

#include <stddef.h>
#include <stdint.h>

struct evbuffer;

#define TLS_REC_V12		0x0303
#define TLS_REC_V13		0x0304

#define TLS_REC_AES128GCM	1
#define TLS_REC_AES256GCM	2
#define TLS_REC_CHACHA20	3

#define TLS_REC_SECRETMAX	48	/* SHA-384 */
#define TLS_REC_KEYMAX		32
#define TLS_REC_IVLEN		12
#define TLS_REC_PLAINMAX	16384	/* a record's content, at most */

/* One direction's keys; for an imsg too: fixed size, fixed layout. */
struct tls_rec_dir {
	uint64_t	seq;			/* the next record's number */
	uint8_t		secret[TLS_REC_SECRETMAX]; /* 1.3: traffic secret */
	uint8_t		key[TLS_REC_KEYMAX];
	uint8_t		iv[TLS_REC_IVLEN];	/* 1.2 GCM: 4 bytes used */
	uint8_t		pad[4];
};

struct tls_rec_keys {
	uint16_t		version;	/* TLS_REC_V12, TLS_REC_V13 */
	uint16_t		cipher;		/* TLS_REC_AES128GCM, ... */
	uint32_t		pad;
	struct tls_rec_dir	wr;		/* what this end sends */
	struct tls_rec_dir	rd;		/* what it receives */
};

/* what tls_rec_open() says */
#define TLS_REC_OK	0	/* every whole record taken */
#define TLS_REC_EOF	1	/* close_notify: no more records */
#define TLS_REC_ERR	(-1)	/* tls_rec_error() says why */

struct tls_rec;

int		 tls_rec_check(const struct tls_rec_keys *);
size_t		 tls_rec_keylen(uint16_t);
size_t		 tls_rec_secretlen(uint16_t);
int		 tls_rec_derive13(uint16_t, struct tls_rec_dir *);
struct tls_rec	*tls_rec_new(const struct tls_rec_keys *);
void		 tls_rec_free(struct tls_rec *);
int		 tls_rec_seal(struct tls_rec *, const void *, size_t,
		    struct evbuffer *);
int		 tls_rec_seal_type(struct tls_rec *, uint8_t, const void *,
		    size_t, struct evbuffer *);
int		 tls_rec_open(struct tls_rec *, struct evbuffer *,
		    struct evbuffer *, struct evbuffer *);
int		 tls_rec_close(struct tls_rec *, struct evbuffer *);
const char	*tls_rec_error(const struct tls_rec *);
uint64_t	 tls_rec_records(const struct tls_rec *);

#endif
