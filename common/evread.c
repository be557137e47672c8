/*
 * Socket I/O for the bufferevents of the hot path: reads of more than
 * 4 KiB at a time (evbuffer_read), and writes that go out at once
 * (bev_write_now).
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
 * which call it through the dynamic linker, get this one.  It reads up to
 * howmuch (the bufferevent's high watermark or max_single_read), at most
 * EVREAD_MAX: first 16 KiB into the stack, so that a message gets a
 * chain of its own size and costs one system call, then, when that was
 * not all, what FIONREAD says is left, straight into chains.
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
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "evread.h"

#define EVREAD_STACK	(16 * 1024)	/* the first read of each call */
#define EVREAD_MAX	(256 * 1024)
#define BEV_WRITE_NOW_IOV	16

#if LIBEVENT_VERSION_NUMBER < 0x02020000
int
evbuffer_read(struct evbuffer *buf, evutil_socket_t fd, int howmuch)
{
	struct evbuffer_iovec	 vec[2];
	struct iovec		 iov[2];
	char			 tmp[EVREAD_STACK];
	size_t			 left;
	ssize_t			 n, m;
	int			 avail, i, nvec, want;

	if (howmuch < 0 || howmuch > EVREAD_MAX)
		howmuch = EVREAD_MAX;
	/*
	 * First into the stack: a message costs one read(2) and a chain of
	 * its own size, and a read that brings nothing (EOF, EAGAIN) leaves
	 * no empty chain behind.
	 */
	want = howmuch < (int)sizeof(tmp) ? howmuch : (int)sizeof(tmp);
	if ((n = read(fd, tmp, want)) <= 0)
		return (n);
	if (evbuffer_add(buf, tmp, n) == -1)
		return (-1);
	if (n < want || n == howmuch)
		return (n);

	/* the stack is full: a bulk transfer, take the rest into chains */
	if (ioctl(fd, FIONREAD, &avail) == -1 || avail <= 0)
		return (n);
	if (avail > howmuch - n)
		avail = howmuch - n;
	if ((nvec = evbuffer_reserve_space(buf, avail, vec, 2)) == -1)
		return (n);
	/* the reserved space may exceed what is asked */
	for (i = 0, left = avail; i < nvec; i++) {
		iov[i].iov_base = vec[i].iov_base;
		iov[i].iov_len = vec[i].iov_len < left ? vec[i].iov_len : left;
		left -= iov[i].iov_len;
	}
	if ((m = readv(fd, iov, nvec)) <= 0)
		return (n);	/* nothing committed: the space stays free */
	for (i = 0, left = m; i < nvec && left > 0; i++) {
		vec[i].iov_len = iov[i].iov_len < left ? iov[i].iov_len : left;
		left -= vec[i].iov_len;
	}
	if (evbuffer_commit_space(buf, vec, i) == -1)
		return (-1);
	return (n + m);
}
#endif

/*
 * Write what the socket of bev takes at once of the first len bytes of
 * src, when nothing is queued on bev's output already (and it writes):
 * the bytes written are drained from src.  A bufferevent alone would arm
 * EV_WRITE (epoll_ctl), wait a turn of the loop for POLLOUT, write, and
 * disarm it (epoll_ctl again): on a request and its answer that is most
 * of the system calls of each hop.
 */
static size_t
bev_write_direct(struct bufferevent *bev, struct evbuffer *src, size_t len)
{
	struct evbuffer		*out = bufferevent_get_output(bev);
	struct evbuffer_iovec	 vec[BEV_WRITE_NOW_IOV];
	struct iovec		 iov[BEV_WRITE_NOW_IOV];
	struct msghdr		 msg;
	size_t			 left;
	ssize_t			 n;
	int			 i, nvec;

	if (len == 0 || evbuffer_get_length(out) > 0 ||
	    !(bufferevent_get_enabled(bev) & EV_WRITE) ||
	    bufferevent_getfd(bev) == -1)	/* a pair: no socket */
		return (0);
	nvec = evbuffer_peek(src, len, NULL, vec, BEV_WRITE_NOW_IOV);
	if (nvec > BEV_WRITE_NOW_IOV)
		nvec = BEV_WRITE_NOW_IOV;
	/* the last vector may reach past len */
	for (i = 0, left = len; i < nvec; i++) {
		iov[i].iov_base = vec[i].iov_base;
		iov[i].iov_len = vec[i].iov_len < left ? vec[i].iov_len : left;
		left -= iov[i].iov_len;
	}
	memset(&msg, 0, sizeof(msg));
	msg.msg_iov = iov;
	msg.msg_iovlen = nvec;
	if ((n = sendmsg(bufferevent_getfd(bev), &msg,
	    MSG_NOSIGNAL | MSG_DONTWAIT)) <= 0)
		return (0);
	evbuffer_drain(src, n);
	return (n);
}

/*
 * Queue the first len bytes of src on bev's output, but when nothing is
 * queued there already, first write what the socket takes at once
 * (bev_write_direct).  What waits is copied onto the end of the output
 * (and drained from src), not moved: the chains of src may be far larger
 * than the bytes of them that are for this output (the read buffer of a
 * KGP connection that carries many streams, a read of 16 KiB in a chain
 * of 32), and moved they would stay allocated for as long as a slow
 * socket keeps its bytes waiting.  Copied, what waits takes about its
 * own size.  Only what waits is copied, and only the bytes of a socket
 * that did not take them at once wait.
 *
 * The bytes written here pass no callback of the output buffer: the
 * caller counts them (the return value).  A write error leaves the bytes
 * queued, and the bufferevent reports the error as usual.
 */
size_t
bev_write_now(struct bufferevent *bev, struct evbuffer *src, size_t len)
{
	struct evbuffer		*out = bufferevent_get_output(bev);
	struct evbuffer_iovec	 vec[BEV_WRITE_NOW_IOV];
	size_t			 n, left, k;
	int			 i, nvec;

	n = bev_write_direct(bev, src, len);
	for (left = len - n; left > 0; left -= k) {
		nvec = evbuffer_peek(src, left, NULL, vec, BEV_WRITE_NOW_IOV);
		if (nvec > BEV_WRITE_NOW_IOV)
			nvec = BEV_WRITE_NOW_IOV;
		for (i = 0, k = 0; i < nvec && k < left; i++) {
			if (vec[i].iov_len > left - k)
				vec[i].iov_len = left - k;
			if (evbuffer_add(out, vec[i].iov_base,
			    vec[i].iov_len) == -1)
				break;
			k += vec[i].iov_len;
		}
		if (k == 0) {
			/* out of memory: move it, chains and all */
			evbuffer_remove_buffer(src, out, left);
			break;
		}
		evbuffer_drain(src, k);
	}
	return (n);
}

/*
 * As bev_write_now, but what waits is moved onto the output, chains and
 * all, not copied: for a src whose chains are each about the size of the
 * bytes they hold (the DATA of a KGP stream in blocks of their own,
 * kgp_stream.c), where a copy would cost a pass over every byte that
 * waits and save no memory.
 */
size_t
bev_write_move(struct bufferevent *bev, struct evbuffer *src, size_t len)
{
	size_t	 n;

	n = bev_write_direct(bev, src, len);
	if (len > n)
		evbuffer_remove_buffer(src, bufferevent_get_output(bev),
		    len - n);
	return (n);
}

/*
 * The same for len bytes at buf: what the socket of bev takes at once
 * when nothing is queued on its output (and it writes), the rest queued.
 * 0, or -1 when they could not be queued (out of memory).
 */
int
bev_write_buf(struct bufferevent *bev, const void *buf, size_t len)
{
	struct evbuffer	*out = bufferevent_get_output(bev);
	ssize_t		 n = 0;

	if (len > 0 && evbuffer_get_length(out) == 0 &&
	    (bufferevent_get_enabled(bev) & EV_WRITE) &&
	    bufferevent_getfd(bev) != -1 &&
	    (n = send(bufferevent_getfd(bev), buf, len,
	    MSG_NOSIGNAL | MSG_DONTWAIT)) == -1)
		n = 0;	/* EAGAIN, or an error the bufferevent will see */
	if ((size_t)n == len)
		return (0);
	return (evbuffer_add(out, (const uint8_t *)buf + n, len - n));
}

/*
 * A head's pieces without a printf (on the way of every request and
 * answer that a proxy rebuilds): "name: value\r\n" in one piece ...
 */
void
ev_put_field(struct evbuffer *out, const char *name, size_t nl,
    const char *value, size_t vl)
{
	struct evbuffer_iovec	 v;
	char			*p;

	if (evbuffer_reserve_space(out, nl + vl + 4, &v, 1) != 1)
		return;
	p = v.iov_base;
	memcpy(p, name, nl);
	memcpy(p + nl, ": ", 2);
	memcpy(p + nl + 2, value, vl);
	memcpy(p + nl + 2 + vl, "\r\n", 2);
	v.iov_len = nl + vl + 4;
	evbuffer_commit_space(out, &v, 1);
}

/* ... and "HTTP/1.1 status reason\r\n", status 100-999. */
void
ev_put_status(struct evbuffer *out, int status, const char *reason)
{
	char	 line[] = "HTTP/1.1 000 ";

	if (status < 100 || status > 999)
		status = 500;
	line[9] += status / 100;
	line[10] += status / 10 % 10;
	line[11] += status % 10;
	evbuffer_add(out, line, sizeof(line) - 1);
	evbuffer_add(out, reason, strlen(reason));
	evbuffer_add(out, "\r\n", 2);
}
