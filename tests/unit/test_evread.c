/*
 * Unit tests of common/evread.c: a socket bufferevent takes what the
 * socket holds in one read (libevent 2.1 alone would take 4 KiB), within
 * its watermark; evbuffer_read keeps libevent's contract for EOF, errors
 * and howmuch; bev_write_now keeps the bytes in order; bev_write_move
 * queues what waits without a copy.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "evread.h"

#define BULK	(64 * 1024)

struct rd {
	int		 calls;
	size_t		 first;		/* bytes in the input at the first call */
};

static void
sockpair(int sv[2])
{
	int	 sz = 1024 * 1024;

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	assert_int_equal(setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &sz,
	    sizeof(sz)), 0);
	assert_int_equal(setsockopt(sv[1], SOL_SOCKET, SO_RCVBUF, &sz,
	    sizeof(sz)), 0);
	assert_int_equal(fcntl(sv[1], F_SETFL, O_NONBLOCK), 0);
}

static void
fill(int fd, size_t len)
{
	char	 buf[4096];
	size_t	 done = 0;
	ssize_t	 n;

	memset(buf, 'x', sizeof(buf));
	while (done < len) {
		n = write(fd, buf, len - done < sizeof(buf) ?
		    len - done : sizeof(buf));
		assert_true(n > 0);
		done += n;
	}
}

static void
readcb(struct bufferevent *bev, void *arg)
{
	struct rd	*r = arg;

	if (r->calls++ == 0)
		r->first = evbuffer_get_length(bufferevent_get_input(bev));
	/* libevent 2.1 runs this again while the input sits at the watermark */
	bufferevent_disable(bev, EV_READ);
}

/* One event-loop turn moves what the socket holds, up to the limits. */
static size_t
one_turn(size_t queued, size_t max_read, size_t high)
{
	struct event_base	*base;
	struct bufferevent	*bev;
	struct rd		 r = { 0, 0 };
	int			 sv[2];

	sockpair(sv);
	fill(sv[0], queued);
	assert_non_null(base = event_base_new());
	assert_non_null(bev = bufferevent_socket_new(base, sv[1],
	    BEV_OPT_CLOSE_ON_FREE));
	bufferevent_set_max_single_read(bev, max_read);
	bufferevent_setwatermark(bev, EV_READ, 0, high);
	bufferevent_setcb(bev, readcb, NULL, NULL, &r);
	bufferevent_enable(bev, EV_READ);
	event_base_loop(base, EVLOOP_ONCE);
	assert_int_equal(r.calls, 1);
	bufferevent_free(bev);
	event_base_free(base);
	close(sv[0]);
	return (r.first);
}

static void
test_bulk_in_one_read(void **state)
{
	(void)state;
	assert_int_equal(one_turn(BULK, 128 * 1024, 0), BULK);
}

static void
test_max_single_read_holds(void **state)
{
	(void)state;
	assert_int_equal(one_turn(BULK, 16 * 1024, 0), 16 * 1024);
}

static void
test_watermark_holds(void **state)
{
	(void)state;
	assert_int_equal(one_turn(BULK, 128 * 1024, 10000), 10000);
}

static void
test_small_read(void **state)
{
	(void)state;
	assert_int_equal(one_turn(100, 128 * 1024, 0), 100);
}

static void
test_eof_error_howmuch(void **state)
{
	struct evbuffer	*buf;
	int		 sv[2];

	(void)state;
	sockpair(sv);
	assert_non_null(buf = evbuffer_new());
	fill(sv[0], 5000);
	assert_int_equal(evbuffer_read(buf, sv[1], 3000), 3000);
	assert_int_equal(evbuffer_read(buf, sv[1], -1), 2000);
	assert_int_equal(evbuffer_get_length(buf), 5000);
	errno = 0;
	assert_int_equal(evbuffer_read(buf, sv[1], -1), -1);
	assert_int_equal(errno, EAGAIN);
	close(sv[0]);
	assert_int_equal(evbuffer_read(buf, sv[1], -1), 0);
	assert_int_equal(evbuffer_get_length(buf), 5000);
	close(sv[1]);
	errno = 0;
	assert_int_equal(evbuffer_read(buf, sv[1], -1), -1);
	assert_int_equal(errno, EBADF);
	evbuffer_free(buf);
}

/* A read that brings nothing leaves no empty chain behind. */
static void
test_nothing_read_nothing_kept(void **state)
{
	struct evbuffer		*buf;
	struct evbuffer_iovec	 v;
	int			 sv[2];

	(void)state;
	sockpair(sv);
	assert_non_null(buf = evbuffer_new());
	assert_int_equal(evbuffer_read(buf, sv[1], -1), -1);	/* EAGAIN */
	close(sv[0]);
	assert_int_equal(evbuffer_read(buf, sv[1], -1), 0);	/* EOF */
	assert_int_equal(evbuffer_get_length(buf), 0);
	/* a buffer without chains gets a new, small one */
	assert_int_equal(evbuffer_reserve_space(buf, 1, &v, 1), 1);
	assert_true(v.iov_len < 4096);
	evbuffer_free(buf);
	close(sv[1]);
}

/* A socket pair whose sv[0] (non-blocking) takes little at once. */
static void
small_sender(int sv[2])
{
	int	 sz = 4096;

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	assert_int_equal(setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &sz,
	    sizeof(sz)), 0);
	assert_int_equal(fcntl(sv[0], F_SETFL, O_NONBLOCK), 0);
}

/*
 * bev_write_now: what the socket takes goes at once, the rest is queued
 * behind it, and a later write while bytes are queued waits its turn:
 * the peer reads every byte in order.
 */
static void
test_write_now_order(void **state)
{
	struct event_base	*base;
	struct bufferevent	*bev;
	struct evbuffer		*src;
	unsigned char		*data, *got;
	size_t			 len = 256 * 1024, direct, n = 0;
	ssize_t			 r;
	int			 sv[2], i;

	(void)state;
	small_sender(sv);
	assert_non_null(data = malloc(len));
	assert_non_null(got = malloc(len));
	for (i = 0; i < (int)len; i++)
		data[i] = (unsigned char)(i * 31 + (i >> 10));
	assert_non_null(base = event_base_new());
	assert_non_null(bev = bufferevent_socket_new(base, sv[0],
	    BEV_OPT_CLOSE_ON_FREE));
	bufferevent_enable(bev, EV_WRITE);
	assert_non_null(src = evbuffer_new());
	evbuffer_add(src, data, len);

	/* the first half: some at once (the socket is small), the rest queued */
	direct = bev_write_now(bev, src, len / 2);
	assert_true(direct > 0 && direct < len / 2);
	assert_int_equal(evbuffer_get_length(bufferevent_get_output(bev)),
	    len / 2 - direct);
	/* room in the socket again: the second half still must not overtake */
	assert_true((r = read(sv[1], got, 4096)) > 0);
	n = r;
	assert_int_equal(bev_write_now(bev, src, len / 2), 0);
	assert_int_equal(evbuffer_get_length(src), 0);

	while (n < len) {
		event_base_loop(base, EVLOOP_NONBLOCK);
		if ((r = read(sv[1], got + n, len - n)) > 0)
			n += r;
	}
	assert_memory_equal(got, data, len);

	/* a write error leaves the bytes queued, for the bufferevent */
	close(sv[1]);
	evbuffer_add(src, data, 100);
	assert_int_equal(bev_write_now(bev, src, 100), 0);
	assert_int_equal(evbuffer_get_length(src), 0);
	assert_int_equal(evbuffer_get_length(bufferevent_get_output(bev)), 100);

	evbuffer_free(src);
	bufferevent_free(bev);
	event_base_free(base);
	free(data);
	free(got);
}

static int	 blocks_freed;

static void
block_free(const void *data, size_t len, void *arg)
{
	(void)len;
	(void)arg;
	free((void *)(uintptr_t)data);
	blocks_freed++;
}

/*
 * bev_write_move: what the socket does not take at once is queued as the
 * blocks it lies in (the output holds the very memory of the last block,
 * no copy), in order, and each block is freed once it is written.
 */
static void
test_write_move_no_copy(void **state)
{
	struct event_base	*base;
	struct bufferevent	*bev;
	struct evbuffer		*src;
	struct evbuffer_iovec	 vec[8];
	unsigned char		*blk[4], *got;
	size_t			 blen = 16 * 1024, len = 4 * blen, direct, n;
	ssize_t			 r;
	int			 sv[2], i, j, nvec;

	(void)state;
	small_sender(sv);
	assert_non_null(got = malloc(len));
	assert_non_null(base = event_base_new());
	assert_non_null(bev = bufferevent_socket_new(base, sv[0],
	    BEV_OPT_CLOSE_ON_FREE));
	bufferevent_enable(bev, EV_WRITE);
	assert_non_null(src = evbuffer_new());
	blocks_freed = 0;
	for (i = 0; i < 4; i++) {
		assert_non_null(blk[i] = malloc(blen));
		for (j = 0; j < (int)blen; j++)
			blk[i][j] = (unsigned char)(i * 7 + j * 31 + (j >> 10));
		assert_int_equal(evbuffer_add_reference(src, blk[i], blen,
		    block_free, NULL), 0);
	}
	/* kept to compare: the blocks belong to the buffers now */
	for (i = 0; i < 4; i++)
		for (j = 0; j < (int)blen; j++)
			got[i * blen + j] = blk[i][j];

	direct = bev_write_move(bev, src, len);
	assert_true(direct > 0 && direct < len);
	assert_int_equal(evbuffer_get_length(src), 0);
	assert_int_equal(evbuffer_get_length(bufferevent_get_output(bev)),
	    len - direct);
	nvec = evbuffer_peek(bufferevent_get_output(bev), -1, NULL, vec, 8);
	assert_true(nvec >= 1 && nvec <= 8);
	assert_ptr_equal(vec[nvec - 1].iov_base, blk[3]);
	assert_int_equal(vec[nvec - 1].iov_len, blen);

	for (n = 0; n < len; ) {
		unsigned char	 tmp[8192];

		event_base_loop(base, EVLOOP_NONBLOCK);
		if ((r = read(sv[1], tmp, sizeof(tmp))) > 0) {
			assert_memory_equal(tmp, got + n, r);
			n += r;
		}
	}
	event_base_loop(base, EVLOOP_NONBLOCK);
	assert_int_equal(blocks_freed, 4);

	evbuffer_free(src);
	bufferevent_free(bev);
	event_base_free(base);
	close(sv[1]);
	free(got);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bulk_in_one_read),
		cmocka_unit_test(test_max_single_read_holds),
		cmocka_unit_test(test_watermark_holds),
		cmocka_unit_test(test_small_read),
		cmocka_unit_test(test_eof_error_howmuch),
		cmocka_unit_test(test_nothing_read_nothing_kept),
		cmocka_unit_test(test_write_now_order),
		cmocka_unit_test(test_write_move_no_copy),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
