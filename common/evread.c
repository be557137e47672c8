/*
 * Socket reads for libevent 2.1's bufferevents, more than 4 KiB at a time.
 *
 * libevent 2.1 caps every evbuffer_read() at 4096 bytes (EVBUFFER_MAX_READ
 * in buffer.c), whatever bufferevent_set_max_single_read() allows.  On a
 * bulk transfer that is one trip through the event loop, one FIONREAD and
 * one readv per 4 KiB, in every process the bytes cross.  libevent 2.2
 * made the cap a setting (evbuffer_set_max_read()); 2.1, the version
 * Debian 12 ships, has none.
 *
 * So every program of sc compiles this file: it defines evbuffer_read()
 * with libevent's contract, and the bufferevents inside libevent_core,
 * which call it through the dynamic linker, get this one.  It reads what
 * the socket holds, up to howmuch (the bufferevent's high watermark or
 * max_single_read), at most EVREAD_MAX, into at most two chains, the way
 * the original does.  Asking the socket first keeps an idle stream's
 * buffer small: a chain is sized for the bytes that are there.
 *
 * tests/unit/test_evread.c checks that a bufferevent takes 64 KiB in one
 * read; if the override ever stops reaching libevent, that test fails.
 */
#include <sys/types.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <errno.h>
#include <limits.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>

#define EVREAD_MIN	4096		/* when the socket cannot tell */
#define EVREAD_MAX	(256 * 1024)

#if LIBEVENT_VERSION_NUMBER < 0x02020000
int
evbuffer_read(struct evbuffer *buf, evutil_socket_t fd, int howmuch)
{
	struct evbuffer_iovec	 vec[2];
	struct iovec		 iov[2];
	size_t			 left;
	ssize_t			 n;
	int			 avail, i, nvec;

	if (ioctl(fd, FIONREAD, &avail) == -1 || avail <= 0) {
		/*
		 * Nothing to size a chain by (EOF, an error, or a socket that
		 * cannot tell): read into the stack, so that a read that
		 * brings nothing leaves no empty chain in buf.
		 */
		char	 tmp[EVREAD_MIN];

		if (howmuch < 0 || howmuch > (int)sizeof(tmp))
			howmuch = sizeof(tmp);
		if ((n = read(fd, tmp, howmuch)) > 0 &&
		    evbuffer_add(buf, tmp, n) == -1)
			return (-1);
		return (n);
	}
	if (avail > EVREAD_MAX)
		avail = EVREAD_MAX;
	if (howmuch < 0 || howmuch > avail)
		howmuch = avail;

	if ((nvec = evbuffer_reserve_space(buf, howmuch, vec, 2)) == -1)
		return (-1);
	for (i = 0; i < nvec; i++) {
		iov[i].iov_base = vec[i].iov_base;
		iov[i].iov_len = vec[i].iov_len;
	}
	/* the reserved space may exceed howmuch: read no more than asked */
	left = howmuch;
	for (i = 0; i < nvec; i++) {
		if (iov[i].iov_len > left)
			iov[i].iov_len = left;
		left -= iov[i].iov_len;
	}
	if ((n = readv(fd, iov, nvec)) <= 0)
		return (n);	/* nothing committed: the space stays free */
	left = n;
	for (i = 0; i < nvec && left > 0; i++) {
		vec[i].iov_len = iov[i].iov_len < left ? iov[i].iov_len : left;
		left -= vec[i].iov_len;
	}
	if (evbuffer_commit_space(buf, vec, i) == -1)
		return (-1);
	return (n);
}
#endif
