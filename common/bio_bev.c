/*
 * An OpenSSL BIO over a bufferevent: OpenSSL reads the ciphertext from
 * the bufferevent's input and writes it to its output (or, for a
 * socket's bufferevent whose output is empty, straight to the socket:
 * bev_write_buf()); the TLS above is driven by the caller's events.
 * Its data is a struct bio_bev the caller keeps while the BIO lives.
 * The method is made once, before the sandbox (bio_bev_init()).
 */
#include <sys/types.h>

#include <stddef.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <openssl/bio.h>

#include "bio_bev.h"
#include "evread.h"

static BIO_METHOD	*bio_bev_meth;

static int	 bio_bev_read(BIO *, char *, int);
static int	 bio_bev_write(BIO *, const char *, int);
static long	 bio_bev_ctrl(BIO *, int, long, void *);

/* The method, once (what OpenSSL would load lazily, before the sandbox). */
int
bio_bev_init(void)
{
	BIO_METHOD	*m;

	if (bio_bev_meth != NULL)
		return (0);
	if ((m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK,
	    "bufferevent")) == NULL)
		return (-1);
	if (BIO_meth_set_read(m, bio_bev_read) != 1 ||
	    BIO_meth_set_write(m, bio_bev_write) != 1 ||
	    BIO_meth_set_ctrl(m, bio_bev_ctrl) != 1) {
		BIO_meth_free(m);
		return (-1);
	}
	bio_bev_meth = m;
	return (0);
}

/* A BIO over bb->bev, or NULL (no bio_bev_init(), out of memory). */
BIO *
bio_bev_new(struct bio_bev *bb)
{
	BIO	*b;

	if (bio_bev_meth == NULL || (b = BIO_new(bio_bev_meth)) == NULL)
		return (NULL);
	BIO_set_data(b, bb);
	BIO_set_init(b, 1);
	return (b);
}

/* The input's bytes; 0 at its end; none yet: OpenSSL tries again. */
static int
bio_bev_read(BIO *b, char *buf, int len)
{
	struct bio_bev	*bb = BIO_get_data(b);
	int		 n;

	BIO_clear_retry_flags(b);
	if (len <= 0)
		return (0);
	if ((n = evbuffer_remove(bufferevent_get_input(bb->bev), buf,
	    len)) > 0)
		return (n);
	if (bb->eof != NULL && *bb->eof)
		return (0);
	BIO_set_retry_read(b);
	return (-1);
}

/* All of it to the output, unless that holds wmax already. */
static int
bio_bev_write(BIO *b, const char *buf, int len)
{
	struct bio_bev	*bb = BIO_get_data(b);
	struct evbuffer	*out = bufferevent_get_output(bb->bev);

	BIO_clear_retry_flags(b);
	if (len <= 0)
		return (0);
	if (bb->wmax != 0 && evbuffer_get_length(out) >= bb->wmax) {
		BIO_set_retry_write(b);
		return (-1);
	}
	if ((bb->direct ? bev_write_buf(bb->bev, buf, len) :
	    evbuffer_add(out, buf, len)) == -1)
		return (-1);
	return (len);
}

/* A flush is the caller's, after all is encrypted. */
static long
bio_bev_ctrl(BIO *b, int cmd, long num, void *ptr)
{
	struct bio_bev	*bb = BIO_get_data(b);

	switch (cmd) {
	case BIO_CTRL_FLUSH:
		return (1);
	case BIO_CTRL_PENDING:
		return (evbuffer_get_length(bufferevent_get_input(bb->bev)));
	default:
		return (0);
	}
}
