/*
 * The KGP link's TLS transport: a libtls context whose socket I/O goes
 * through buffers of its own (tls_connect_cbs, tls_accept_cbs).
 *
 * Left to itself, libtls on OpenSSL reads each record with two read(2)
 * calls (its 5-byte header, then the body) and writes each record of at
 * most 16 KiB with its own write(2).  Here reads take up to KGP_TLS_RBUF,
 * then up to KGP_TLS_RBUF_MAX on a bulk transfer, from the socket at
 * once and hand it to the TLS layer from memory, and
 * writes collect in a buffer that the engine flushes with one send(2)
 * once it has encrypted all it has (kgp_tls_flush()).  The bytes and
 * their order on the wire are the same; only the system calls change.
 *
 * The buffers come with the first byte each way, small
 * (KGP_TLS_HSBUF), and grow to their size once a read fills one or a
 * write does not fit: a handshake, or a link that only pings, never
 * needs more, and a server holding many handshakes that never end holds
 * little for each.  They go again once the link is quiet
 * (kgp_tls_trim(), on the keepalive's tick): a server whose thousand
 * links each once carried a bulk transfer does not keep 512 KiB for each;
 * the small ones of a link that only pings go after KGP_TLS_QUIET_TICKS.
 *
 * The object owns the TLS context, never the socket.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <tls.h>

#include "kgp_tls.h"

#define KGP_TLS_RBUF	(64 * 1024)	/* first size of a read that fills */
#define KGP_TLS_RBUF_MAX (256 * 1024)	/* ... once that fills too */
#define KGP_TLS_WBUF	(256 * 1024)
#define KGP_TLS_HSBUF	4096	/* each way, until more is needed */

struct kgp_tls {
	struct tls	*tls;
	int		 fd;
	uint8_t		*rbuf;
	size_t		 rcap;
	size_t		 roff;
	size_t		 rlen;
	int		 drained;	/* the last read emptied the socket */
	int		 rbusy;		/* a read took more than KGP_TLS_HSBUF
					   since the last kgp_tls_trim() */
	uint8_t		*wbuf;
	size_t		 wcap;
	size_t		 woff;
	size_t		 wlen;
	int		 wbusy;		/* the writes held more, likewise */
	int		 rquiet;	/* trims in a row rbuf was quiet */
	int		 wquiet;	/* ... wbuf */
};

static int	 io_quiet(size_t, int, int *, int);

/* Make *buf hold cap bytes (it keeps what it has).  -1: out of memory. */
static int
io_grow(uint8_t **buf, size_t *bufcap, size_t cap)
{
	uint8_t	*p;

	if (*bufcap >= cap)
		return (0);
	if ((p = realloc(*buf, cap)) == NULL)
		return (-1);
	*buf = p;
	*bufcap = cap;
	return (0);
}

static ssize_t
io_read(struct tls *ctx, void *buf, size_t len, void *arg)
{
	struct kgp_tls	*io = arg;
	ssize_t		 n;

	if (io->roff == io->rlen) {
		io->roff = io->rlen = 0;
		if (io_grow(&io->rbuf, &io->rcap, KGP_TLS_HSBUF) == -1)
			return (-1);
		/*
		 * A read that did not fill the buffer took all the socket
		 * had: wait for the poll rather than ask again for EAGAIN
		 * (the poll is level-triggered, so nothing is missed).
		 */
		if (io->drained) {
			io->drained = 0;
			return (TLS_WANT_POLLIN);
		}
		if ((n = read(io->fd, io->rbuf, io->rcap)) == -1) {
			if (errno == EAGAIN || errno == EINTR)
				return (TLS_WANT_POLLIN);
			return (-1);
		}
		if (n == 0)
			return (0);
		io->rlen = n;
		io->drained = (size_t)n < io->rcap;
		io->rbusy |= (size_t)n > KGP_TLS_HSBUF;
		/*
		 * The socket had more: the next read takes it all, in
		 * KGP_TLS_RBUF, and once that fills too (a bulk transfer)
		 * in KGP_TLS_RBUF_MAX: a read system call per 256 KiB.
		 */
		if (!io->drained && io_grow(&io->rbuf, &io->rcap,
		    io->rcap < KGP_TLS_RBUF ? KGP_TLS_RBUF :
		    KGP_TLS_RBUF_MAX) == -1)
			return (-1);
	}
	if (len > io->rlen - io->roff)
		len = io->rlen - io->roff;
	memcpy(buf, io->rbuf + io->roff, len);
	io->roff += len;
	return (len);
}

static ssize_t
io_write(struct tls *ctx, const void *buf, size_t len, void *arg)
{
	struct kgp_tls	*io = arg;

	if (io_grow(&io->wbuf, &io->wcap, KGP_TLS_HSBUF) == -1 ||
	    (len > io->wcap - io->wlen &&
	    io_grow(&io->wbuf, &io->wcap, KGP_TLS_WBUF) == -1))
		return (-1);
	io->wbusy |= io->wlen + len > KGP_TLS_HSBUF;
	if (len > io->wcap - io->wlen) {
		if (kgp_tls_flush(io) == -1)
			return (-1);
		/*
		 * What the socket did not take moves to the front only
		 * once half the buffer is sent: a record that does not fit
		 * before then waits for the poll, so that each byte moves
		 * once at most, not the whole buffer for each record.
		 */
		if (io->woff >= io->wcap / 2) {
			memmove(io->wbuf, io->wbuf + io->woff,
			    io->wlen - io->woff);
			io->wlen -= io->woff;
			io->woff = 0;
		}
		if (io->wlen == io->wcap)
			return (TLS_WANT_POLLOUT);
		if (len > io->wcap - io->wlen)
			len = io->wcap - io->wlen;	/* a short write */
	}
	memcpy(io->wbuf + io->wlen, buf, len);
	io->wlen += len;
	return (len);
}

static struct kgp_tls *
io_new(int fd)
{
	struct kgp_tls	*io;

	if ((io = calloc(1, sizeof(*io))) == NULL)
		return (NULL);
	io->fd = fd;
	return (io);
}

/*
 * Client: start TLS on fd with ctx, configured and not yet connected.
 * On success the object owns ctx; on failure (NULL) the caller still
 * does, and tls_error(ctx) may tell why.
 */
struct kgp_tls *
kgp_tls_connect(struct tls *ctx, int fd, const char *servername)
{
	struct kgp_tls	*io;

	if ((io = io_new(fd)) == NULL)
		return (NULL);
	if (tls_connect_cbs(ctx, io_read, io_write, io, servername) == -1) {
		kgp_tls_free(io);
		return (NULL);
	}
	io->tls = ctx;
	return (io);
}

/* Server: accept TLS on fd with the server context (NULL: see tls_error). */
struct kgp_tls *
kgp_tls_accept(struct tls *server, int fd)
{
	struct kgp_tls	*io;

	if ((io = io_new(fd)) == NULL)
		return (NULL);
	if (tls_accept_cbs(server, &io->tls, io_read, io_write, io) == -1) {
		kgp_tls_free(io);
		return (NULL);
	}
	return (io);
}

/*
 * The buffered socket I/O alone, for a TLS library that the caller
 * drives itself (the entry proxy's OpenSSL, server/resign_tls.c): its
 * reads and writes go through kgp_tls_raw_read() and kgp_tls_raw_write(),
 * which answer as they do to libtls (bytes, 0 at the end, -1 with errno,
 * TLS_WANT_POLLIN or TLS_WANT_POLLOUT).  kgp_tls_ctx() is NULL; the
 * rest (preload, flush, buffered, unsent, free) is the same.
 */
struct kgp_tls *
kgp_tls_raw(int fd)
{
	return (io_new(fd));
}

ssize_t
kgp_tls_raw_read(struct kgp_tls *io, void *buf, size_t len)
{
	return (io_read(NULL, buf, len, io));
}

ssize_t
kgp_tls_raw_write(struct kgp_tls *io, const void *buf, size_t len)
{
	return (io_write(NULL, buf, len, io));
}

/*
 * Bytes already read from the socket (a ClientHello that was looked at
 * before TLS began) that TLS takes before any from the socket.  Only
 * before the first read.  -1: out of memory.
 */
int
kgp_tls_preload(struct kgp_tls *io, const void *buf, size_t len)
{
	if (io->rlen != 0 || io_grow(&io->rbuf, &io->rcap,
	    len > KGP_TLS_HSBUF ? len : KGP_TLS_HSBUF) == -1)
		return (-1);
	memcpy(io->rbuf, buf, len);
	io->roff = 0;
	io->rlen = len;
	return (0);
}

void
kgp_tls_free(struct kgp_tls *io)
{
	if (io == NULL)
		return;
	tls_free(io->tls);
	free(io->rbuf);
	free(io->wbuf);
	free(io);
}

struct tls *
kgp_tls_ctx(struct kgp_tls *io)
{
	return (io->tls);
}

ssize_t
kgp_tls_read(struct kgp_tls *io, void *buf, size_t len)
{
	return (tls_read(io->tls, buf, len));
}

/* What tls_write() takes is only buffered: kgp_tls_flush() sends it. */
ssize_t
kgp_tls_write(struct kgp_tls *io, const void *buf, size_t len)
{
	return (tls_write(io->tls, buf, len));
}

/*
 * Send what is buffered: 0 when all of it is out, TLS_WANT_POLLOUT when
 * the socket is full, -1 on an error (errno).
 */
int
kgp_tls_flush(struct kgp_tls *io)
{
	ssize_t	 n;

	while (io->woff < io->wlen) {
		n = send(io->fd, io->wbuf + io->woff, io->wlen - io->woff,
		    MSG_NOSIGNAL);
		if (n == -1) {
			if (errno == EAGAIN || errno == EINTR)
				return (TLS_WANT_POLLOUT);
			return (-1);
		}
		io->woff += n;
	}
	io->woff = io->wlen = 0;
	return (0);
}

/*
 * Give back the buffers of a quiet link, called at an interval (the
 * keepalive's): a buffer that is empty and has not held more than
 * KGP_TLS_HSBUF since the last call is quiet.  A quiet buffer that grew
 * past KGP_TLS_HSBUF is freed at once; a small one only once it has
 * been quiet KGP_TLS_QUIET_TICKS calls in a row, so that a link that
 * only pings does not free and get back its 4 KiB at every tick.  Both
 * come back small with the next byte.  One that held more (a transfer
 * under way) is kept: no system call and no realloc per read is added
 * to a bulk transfer.  idle: the caller knows that no byte has moved
 * for a while; any empty buffer goes.
 */
void
kgp_tls_trim(struct kgp_tls *io, int idle)
{
	if (idle)
		io->rbusy = io->wbusy = 0;
	if (io_quiet(io->rcap, io->roff == io->rlen && !io->rbusy,
	    &io->rquiet, idle)) {
		free(io->rbuf);
		io->rbuf = NULL;
		io->rcap = io->roff = io->rlen = 0;
	}
	if (io_quiet(io->wcap, io->woff == io->wlen && !io->wbusy,
	    &io->wquiet, idle)) {
		free(io->wbuf);
		io->wbuf = NULL;
		io->wcap = io->woff = io->wlen = 0;
	}
	io->rbusy = io->wbusy = 0;
}

/* kgp_tls_trim() of one buffer (cap bytes; quiet or not): 1 if it goes. */
static int
io_quiet(size_t cap, int quiet, int *ticks, int idle)
{
	if (!quiet || cap == 0) {
		*ticks = 0;
		return (0);
	}
	if (idle || cap > KGP_TLS_HSBUF || ++*ticks >= KGP_TLS_QUIET_TICKS) {
		*ticks = 0;
		return (1);
	}
	return (0);
}

/* The bytes the buffers hold now, both ways (used or not). */
size_t
kgp_tls_bufsize(struct kgp_tls *io)
{
	return (io->rcap + io->wcap);
}

/*
 * Bytes read from the socket that TLS has not taken yet.  TLS may ask
 * for more (TLS_WANT_POLLIN) with some still here, after a record that
 * carried no data: the caller must not wait for the socket then.
 */
size_t
kgp_tls_buffered(struct kgp_tls *io)
{
	return (io->rlen - io->roff);
}

/* Bytes encrypted and not sent yet. */
size_t
kgp_tls_unsent(struct kgp_tls *io)
{
	return (io->wlen - io->woff);
}
