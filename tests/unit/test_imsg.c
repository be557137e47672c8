/*
 * Unit tests of common/imsg.c: round trips, split reads, the size limit,
 * descriptor passing, garbage headers and the payload checks.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>

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

#include "imsg.h"

struct pair {
	int		 sv[2];
	struct imsgbuf	 w;	/* writes on sv[0] */
	struct imsgbuf	 r;	/* reads on sv[1] */
};

static int
pair_setup(void **state)
{
	struct pair	*p;

	if ((p = calloc(1, sizeof(*p))) == NULL)
		return (-1);
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, p->sv) == -1) {
		free(p);
		return (-1);
	}
	imsg_init(&p->w, p->sv[0]);
	imsg_init(&p->r, p->sv[1]);
	*state = p;
	return (0);
}

static int
pair_teardown(void **state)
{
	struct pair	*p = *state;

	imsg_clear(&p->w);
	imsg_clear(&p->r);
	if (p->sv[0] != -1)
		close(p->sv[0]);
	if (p->sv[1] != -1)
		close(p->sv[1]);
	free(p);
	return (0);
}

/* write raw bytes on the writer's socket */
static void
raw_write(struct pair *p, const void *buf, size_t len)
{
	assert_int_equal(write(p->sv[0], buf, len), (ssize_t)len);
}

static int
fd_is_open(int fd)
{
	return (fcntl(fd, F_GETFD) != -1);
}

static void
test_roundtrip(void **state)
{
	struct pair	*p = *state;
	struct imsg	 imsg;
	const char	 msg[] = "hello, world";

	assert_int_equal(imsg_compose(&p->w, 42, 7, 0, -1, msg, sizeof(msg)),
	    1);
	assert_int_equal(p->w.w.queued, 1);
	assert_int_equal(imsg_flush(&p->w), 0);
	assert_int_equal(p->w.w.queued, 0);

	assert_int_equal(imsg_read(&p->r), IMSG_HEADER_SIZE + sizeof(msg));
	assert_int_equal(imsg_get(&p->r, &imsg),
	    IMSG_HEADER_SIZE + sizeof(msg));
	assert_int_equal(imsg.hdr.type, 42);
	assert_int_equal(imsg.hdr.peerid, 7);
	assert_int_equal(imsg.hdr.pid, getpid());
	assert_int_equal(imsg.hdr.flags, 0);
	assert_int_equal(imsg.fd, -1);
	assert_int_equal(IMSG_DATA_SIZE(&imsg), sizeof(msg));
	assert_memory_equal(imsg.data, msg, sizeof(msg));
	imsg_free(&imsg);
	assert_null(imsg.data);

	/* nothing else is there */
	assert_int_equal(imsg_get(&p->r, &imsg), 0);
}

static void
test_explicit_pid_and_empty_payload(void **state)
{
	struct pair	*p = *state;
	struct imsg	 imsg;

	assert_int_equal(imsg_compose(&p->w, 1, 0, 12345, -1, NULL, 0), 1);
	assert_int_equal(imsg_flush(&p->w), 0);
	assert_int_equal(imsg_read(&p->r), IMSG_HEADER_SIZE);
	assert_int_equal(imsg_get(&p->r, &imsg), IMSG_HEADER_SIZE);
	assert_int_equal(imsg.hdr.pid, 12345);
	assert_int_equal(IMSG_DATA_SIZE(&imsg), 0);
	assert_int_equal(imsg_get_data(&imsg, NULL, 0), 0);
	assert_int_equal(imsg_get_empty(&imsg), 0);
	imsg_free(&imsg);
}

static void
test_compose2_and_many(void **state)
{
	struct pair	*p = *state;
	struct imsg	 imsg;
	uint32_t	 i, n = 0;
	uint32_t	 a, b;
	unsigned char	 buf[8];
	ssize_t		 r;

	for (i = 0; i < 100; i++) {
		a = i;
		b = ~i;
		assert_int_equal(imsg_compose2(&p->w, 100 + i, i, 0, -1,
		    &a, sizeof(a), &b, sizeof(b)), 1);
	}
	assert_int_equal(imsg_flush(&p->w), 0);

	while (n < 100) {
		r = imsg_read(&p->r);
		assert_true(r > 0);
		while ((r = imsg_get(&p->r, &imsg)) > 0) {
			assert_int_equal(imsg.hdr.type, 100 + n);
			assert_int_equal(imsg.hdr.peerid, n);
			assert_int_equal(imsg_get_data(&imsg, buf, sizeof(buf)),
			    0);
			memcpy(&a, buf, 4);
			memcpy(&b, buf + 4, 4);
			assert_int_equal(a, n);
			assert_int_equal(b, ~n);
			imsg_free(&imsg);
			n++;
		}
		assert_int_equal(r, 0);
	}
	assert_int_equal(n, 100);
}

/*
 * Three messages of different sizes arrive one byte at a time: imsg_get
 * sees nothing until the last byte of each message is there.
 */
static void
test_split_reads(void **state)
{
	struct pair	*p = *state;
	struct imsgbuf	 src;
	struct imsg	 imsg;
	unsigned char	*wire, big[3000];
	size_t		 lens[3] = { 0, 5, sizeof(big) };
	size_t		 total, off, next_end;
	int		 sv[2], got = 0;
	size_t		 i;

	for (i = 0; i < sizeof(big); i++)
		big[i] = i * 7;

	/* produce the wire bytes with a second pair */
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	imsg_init(&src, sv[0]);
	for (i = 0; i < 3; i++)
		assert_int_equal(imsg_compose(&src, 10 + i, 0, 0, -1, big,
		    lens[i]), 1);
	assert_int_equal(imsg_flush(&src), 0);
	total = 3 * IMSG_HEADER_SIZE + lens[0] + lens[1] + lens[2];
	wire = malloc(total);
	assert_non_null(wire);
	for (off = 0; off < total; ) {
		ssize_t n = read(sv[1], wire + off, total - off);
		assert_true(n > 0);
		off += n;
	}
	close(sv[0]);
	close(sv[1]);

	next_end = IMSG_HEADER_SIZE + lens[0];
	for (off = 0; off < total; off++) {
		raw_write(p, wire + off, 1);
		assert_int_equal(imsg_read(&p->r), 1);
		if (off + 1 < next_end) {
			assert_int_equal(imsg_get(&p->r, &imsg), 0);
			continue;
		}
		assert_int_equal(imsg_get(&p->r, &imsg),
		    IMSG_HEADER_SIZE + lens[got]);
		assert_int_equal(imsg.hdr.type, 10 + got);
		assert_int_equal(IMSG_DATA_SIZE(&imsg), lens[got]);
		if (lens[got])
			assert_memory_equal(imsg.data, big, lens[got]);
		imsg_free(&imsg);
		assert_int_equal(imsg_get(&p->r, &imsg), 0);
		got++;
		if (got < 3)
			next_end += IMSG_HEADER_SIZE + lens[got];
	}
	assert_int_equal(got, 3);
	free(wire);
}

static void
test_size_limit_compose(void **state)
{
	struct pair	*p = *state;
	struct imsg	 imsg;
	unsigned char	*big;
	int		 pfd[2];

	big = calloc(1, MAX_IMSGSIZE + 1);
	assert_non_null(big);
	memset(big, 'x', MAX_IMSGSIZE);

	/* one byte too many */
	errno = 0;
	assert_int_equal(imsg_compose(&p->w, 1, 0, 0, -1, big,
	    IMSG_MAXDATA + 1), -1);
	assert_int_equal(errno, ERANGE);
	/* two pieces that fit alone but not together */
	errno = 0;
	assert_int_equal(imsg_compose2(&p->w, 1, 0, 0, -1, big,
	    IMSG_MAXDATA / 2 + 1, big, IMSG_MAXDATA / 2 + 1), -1);
	assert_int_equal(errno, ERANGE);
	/* nothing was queued */
	assert_int_equal(p->w.w.queued, 0);

	/* a failed compose still owns the descriptor: it is closed */
	assert_int_equal(pipe(pfd), 0);
	assert_int_equal(imsg_compose(&p->w, 1, 0, 0, pfd[0], big,
	    IMSG_MAXDATA + 1), -1);
	assert_false(fd_is_open(pfd[0]));
	close(pfd[1]);

	/* exactly the maximum goes through intact */
	big[0] = 'A';
	big[IMSG_MAXDATA - 1] = 'Z';
	assert_int_equal(imsg_compose(&p->w, 2, 0, 0, -1, big, IMSG_MAXDATA),
	    1);
	assert_int_equal(imsg_flush(&p->w), 0);
	while (imsg_get(&p->r, &imsg) == 0)
		assert_true(imsg_read(&p->r) > 0);
	assert_int_equal(imsg.hdr.len, MAX_IMSGSIZE);
	assert_int_equal(IMSG_DATA_SIZE(&imsg), IMSG_MAXDATA);
	assert_memory_equal(imsg.data, big, IMSG_MAXDATA);
	imsg_free(&imsg);
	free(big);
}

static void
write_hdr(struct pair *p, uint32_t type, uint16_t len, uint16_t flags)
{
	struct imsg_hdr	 hdr;

	memset(&hdr, 0, sizeof(hdr));
	hdr.type = type;
	hdr.len = len;
	hdr.flags = flags;
	raw_write(p, &hdr, sizeof(hdr));
}

static void
test_size_limit_header(void **state)
{
	struct pair	*p = *state;
	struct imsg	 imsg;

	/* a header that claims more than 16 KiB is rejected at once */
	write_hdr(p, 1, MAX_IMSGSIZE + 1, 0);
	assert_int_equal(imsg_read(&p->r), IMSG_HEADER_SIZE);
	errno = 0;
	assert_int_equal(imsg_get(&p->r, &imsg), -1);
	assert_int_equal(errno, ERANGE);
	assert_null(imsg.data);
}

static void
test_header_len_too_small(void **state)
{
	struct pair	*p = *state;
	struct imsg	 imsg;

	write_hdr(p, 1, IMSG_HEADER_SIZE - 1, 0);
	assert_int_equal(imsg_read(&p->r), IMSG_HEADER_SIZE);
	assert_int_equal(imsg_get(&p->r, &imsg), -1);
}

static void
test_header_unknown_flags(void **state)
{
	struct pair	*p = *state;
	struct imsg	 imsg;

	write_hdr(p, 1, IMSG_HEADER_SIZE, 0x8000);
	assert_int_equal(imsg_read(&p->r), IMSG_HEADER_SIZE);
	assert_int_equal(imsg_get(&p->r, &imsg), -1);
}

/* a partial header is not an error, it is "not yet" */
static void
test_partial_header(void **state)
{
	struct pair	*p = *state;
	struct imsg	 imsg;
	unsigned char	 junk[IMSG_HEADER_SIZE - 1];

	memset(junk, 0xff, sizeof(junk));
	raw_write(p, junk, sizeof(junk));
	assert_int_equal(imsg_read(&p->r), sizeof(junk));
	assert_int_equal(imsg_get(&p->r, &imsg), 0);
	/* the last byte makes it an impossible header */
	raw_write(p, junk, 1);
	assert_int_equal(imsg_read(&p->r), 1);
	assert_int_equal(imsg_get(&p->r, &imsg), -1);
}

/* pseudo-random garbage never crashes and never yields a bogus message */
static void
test_garbage(void **state)
{
	struct pair	*p = *state;
	struct imsg	 imsg;
	unsigned char	 buf[4096];
	unsigned int	 seed = 1, round, i;
	ssize_t		 r;

	for (round = 0; round < 200; round++) {
		struct imsgbuf	 rb;
		int		 sv[2];
		size_t		 len;

		assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
		imsg_init(&rb, sv[1]);
		len = 1 + rand_r(&seed) % sizeof(buf);
		for (i = 0; i < len; i++)
			buf[i] = rand_r(&seed);
		assert_int_equal(write(sv[0], buf, len), (ssize_t)len);
		close(sv[0]);
		while ((r = imsg_read(&rb)) > 0) {
			while ((r = imsg_get(&rb, &imsg)) > 0) {
				assert_true(imsg.hdr.len >= IMSG_HEADER_SIZE);
				assert_true(imsg.hdr.len <= MAX_IMSGSIZE);
				/* no descriptor was sent */
				assert_int_equal(imsg.fd, -1);
				imsg_free(&imsg);
			}
			if (r == -1)
				break;
		}
		imsg_clear(&rb);
		close(sv[1]);
	}
	(void)p;
}

static void
test_eof(void **state)
{
	struct pair	*p = *state;

	close(p->sv[0]);
	p->sv[0] = -1;
	assert_int_equal(imsg_read(&p->r), 0);
}

static void
test_read_nonblocking_empty(void **state)
{
	struct pair	*p = *state;
	int		 fl;

	fl = fcntl(p->sv[1], F_GETFL);
	assert_int_equal(fcntl(p->sv[1], F_SETFL, fl | O_NONBLOCK), 0);
	errno = 0;
	assert_int_equal(imsg_read(&p->r), -1);
	assert_true(errno == EAGAIN || errno == EWOULDBLOCK);
}

/* messages that are never taken out fill the read buffer: ERANGE */
static void
test_read_buffer_full(void **state)
{
	struct pair	*p = *state;
	unsigned char	*big;
	size_t		 total = 0;
	ssize_t		 r;
	int		 i;

	big = calloc(1, IMSG_MAXDATA);
	assert_non_null(big);
	for (i = 0; i < 5; i++)
		assert_int_equal(imsg_compose(&p->w, 1, 0, 0, -1, big,
		    IMSG_MAXDATA), 1);
	assert_int_equal(imsg_flush(&p->w), 0);
	while ((r = imsg_read(&p->r)) > 0)
		total += r;
	assert_int_equal(r, -1);
	assert_int_equal(errno, ERANGE);
	assert_int_equal(total, IBUF_READ_SIZE);
	free(big);
}

static void
test_fd_passing(void **state)
{
	struct pair	*p = *state;
	struct imsg	 imsg;
	char		 buf[16];
	int		 pfd[2], fd;

	assert_int_equal(pipe(pfd), 0);
	/* send the read end; the imsgbuf owns it from now on */
	assert_int_equal(imsg_compose(&p->w, 5, 99, 0, pfd[0], "fd", 3), 1);
	assert_int_equal(imsg_flush(&p->w), 0);
	assert_false(fd_is_open(pfd[0]));

	assert_true(imsg_read(&p->r) > 0);
	assert_int_equal(imsg_get(&p->r, &imsg), IMSG_HEADER_SIZE + 3);
	assert_int_equal(imsg.hdr.flags & IMSGF_HASFD, IMSGF_HASFD);
	assert_int_equal(imsg.hdr.peerid, 99);
	assert_string_equal(imsg_get_string(&imsg, 16), "fd");
	fd = imsg_get_fd(&imsg);
	assert_true(fd >= 0);
	assert_int_equal(imsg.fd, -1);
	assert_int_equal(imsg_get_fd(&imsg), -1);
	/* received with close-on-exec */
	assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	imsg_free(&imsg);
	/* imsg_free did not close the descriptor we took */
	assert_true(fd_is_open(fd));

	assert_int_equal(write(pfd[1], "through", 7), 7);
	close(pfd[1]);
	assert_int_equal(read(fd, buf, sizeof(buf)), 7);
	assert_memory_equal(buf, "through", 7);
	assert_int_equal(read(fd, buf, sizeof(buf)), 0);
	close(fd);
}

/* several descriptors, interleaved with plain messages, stay in order */
static void
test_fd_passing_order(void **state)
{
	struct pair	*p = *state;
	struct imsg	 imsg;
	int		 pipes[4][2], i, got = 0, fd;
	char		 c;
	ssize_t		 r;

	for (i = 0; i < 4; i++) {
		assert_int_equal(pipe(pipes[i]), 0);
		assert_int_equal(imsg_compose(&p->w, 1, i, 0, -1, NULL, 0), 1);
		assert_int_equal(imsg_compose(&p->w, 2, i, 0, pipes[i][0],
		    NULL, 0), 1);
		c = '0' + i;
		assert_int_equal(write(pipes[i][1], &c, 1), 1);
		close(pipes[i][1]);
	}
	assert_int_equal(imsg_flush(&p->w), 0);
	while (got < 8) {
		assert_true(imsg_read(&p->r) > 0);
		while ((r = imsg_get(&p->r, &imsg)) > 0) {
			i = got / 2;
			assert_int_equal(imsg.hdr.peerid, i);
			if (got % 2 == 0) {
				assert_int_equal(imsg.hdr.type, 1);
				assert_int_equal(imsg.fd, -1);
			} else {
				assert_int_equal(imsg.hdr.type, 2);
				fd = imsg_get_fd(&imsg);
				assert_true(fd >= 0);
				assert_int_equal(read(fd, &c, 1), 1);
				assert_int_equal(c, '0' + i);
				close(fd);
			}
			imsg_free(&imsg);
			got++;
		}
	}
}

/* a message whose flags claim a descriptor that never came: fd is -1 */
static void
test_fd_claimed_not_sent(void **state)
{
	struct pair	*p = *state;
	struct imsg	 imsg;

	write_hdr(p, 3, IMSG_HEADER_SIZE, IMSGF_HASFD);
	assert_int_equal(imsg_read(&p->r), IMSG_HEADER_SIZE);
	assert_int_equal(imsg_get(&p->r, &imsg), IMSG_HEADER_SIZE);
	assert_int_equal(imsg_get_fd(&imsg), -1);
	imsg_free(&imsg);
}

/* a non-blocking writer with more queued than the socket takes */
static void
test_partial_writes(void **state)
{
	struct pair	*p = *state;
	struct imsg	 imsg;
	unsigned char	*big;
	int		 fl, n = 0, i, wr;
	ssize_t		 r;
	const int	 count = 64;

	big = malloc(IMSG_MAXDATA);
	assert_non_null(big);
	for (i = 0; i < count; i++) {
		memset(big, i, IMSG_MAXDATA);
		assert_int_equal(imsg_compose(&p->w, 7, i, 0, -1, big,
		    IMSG_MAXDATA - i), 1);
	}
	fl = fcntl(p->sv[0], F_GETFL);
	assert_int_equal(fcntl(p->sv[0], F_SETFL, fl | O_NONBLOCK), 0);
	while (n < count) {
		if (p->w.w.queued) {
			wr = msgbuf_write(&p->w.w);
			assert_true(wr == 1 || (wr == -1 && errno == EAGAIN));
		}
		r = imsg_read(&p->r);
		assert_true(r > 0);
		while ((r = imsg_get(&p->r, &imsg)) > 0) {
			assert_int_equal(imsg.hdr.peerid, n);
			assert_int_equal(IMSG_DATA_SIZE(&imsg),
			    IMSG_MAXDATA - n);
			memset(big, n, IMSG_MAXDATA);
			assert_memory_equal(imsg.data, big, IMSG_MAXDATA - n);
			imsg_free(&imsg);
			n++;
		}
		assert_int_equal(r, 0);
	}
	assert_int_equal(p->w.w.queued, 0);
	free(big);
}

static void
one_message(struct pair *p, const void *data, size_t len, struct imsg *imsg)
{
	assert_int_equal(imsg_compose(&p->w, 9, 0, 0, -1, data, len), 1);
	assert_int_equal(imsg_flush(&p->w), 0);
	while (imsg_get(&p->r, imsg) == 0)
		assert_true(imsg_read(&p->r) > 0);
}

static void
test_get_data_exact(void **state)
{
	struct pair	*p = *state;
	struct imsg	 imsg;
	uint64_t	 v = 0x0102030405060708ULL, out;
	uint32_t	 small;
	unsigned char	 larger[16];

	one_message(p, &v, sizeof(v), &imsg);
	errno = 0;
	assert_int_equal(imsg_get_data(&imsg, &small, sizeof(small)), -1);
	assert_int_equal(errno, EBADMSG);
	assert_int_equal(imsg_get_data(&imsg, larger, sizeof(larger)), -1);
	assert_int_equal(imsg_get_data(&imsg, NULL, 0), -1);
	errno = 0;
	assert_int_equal(imsg_get_empty(&imsg), -1);
	assert_int_equal(errno, EBADMSG);
	out = 0;
	assert_int_equal(imsg_get_data(&imsg, &out, sizeof(out)), 0);
	assert_true(out == v);
	imsg_free(&imsg);
}

static void
test_get_string(void **state)
{
	struct pair	*p = *state;
	struct imsg	 imsg;
	char		*s;

	one_message(p, "abc", 4, &imsg);
	s = imsg_get_string(&imsg, 4);
	assert_non_null(s);
	assert_string_equal(s, "abc");
	/* maxlen counts the terminator */
	errno = 0;
	assert_null(imsg_get_string(&imsg, 3));
	assert_int_equal(errno, EBADMSG);
	imsg_free(&imsg);

	/* the empty string */
	one_message(p, "", 1, &imsg);
	s = imsg_get_string(&imsg, 10);
	assert_non_null(s);
	assert_string_equal(s, "");
	imsg_free(&imsg);

	/* no terminator */
	one_message(p, "abc", 3, &imsg);
	assert_null(imsg_get_string(&imsg, 100));
	imsg_free(&imsg);

	/* an embedded NUL: two strings, not one */
	one_message(p, "a\0b", 4, &imsg);
	assert_null(imsg_get_string(&imsg, 100));
	imsg_free(&imsg);

	/* no payload at all */
	one_message(p, NULL, 0, &imsg);
	assert_null(imsg_get_string(&imsg, 100));
	imsg_free(&imsg);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_roundtrip,
		    pair_setup, pair_teardown),
		cmocka_unit_test_setup_teardown(
		    test_explicit_pid_and_empty_payload,
		    pair_setup, pair_teardown),
		cmocka_unit_test_setup_teardown(test_compose2_and_many,
		    pair_setup, pair_teardown),
		cmocka_unit_test_setup_teardown(test_split_reads,
		    pair_setup, pair_teardown),
		cmocka_unit_test_setup_teardown(test_size_limit_compose,
		    pair_setup, pair_teardown),
		cmocka_unit_test_setup_teardown(test_size_limit_header,
		    pair_setup, pair_teardown),
		cmocka_unit_test_setup_teardown(test_header_len_too_small,
		    pair_setup, pair_teardown),
		cmocka_unit_test_setup_teardown(test_header_unknown_flags,
		    pair_setup, pair_teardown),
		cmocka_unit_test_setup_teardown(test_partial_header,
		    pair_setup, pair_teardown),
		cmocka_unit_test_setup_teardown(test_garbage,
		    pair_setup, pair_teardown),
		cmocka_unit_test_setup_teardown(test_eof,
		    pair_setup, pair_teardown),
		cmocka_unit_test_setup_teardown(test_read_nonblocking_empty,
		    pair_setup, pair_teardown),
		cmocka_unit_test_setup_teardown(test_read_buffer_full,
		    pair_setup, pair_teardown),
		cmocka_unit_test_setup_teardown(test_fd_passing,
		    pair_setup, pair_teardown),
		cmocka_unit_test_setup_teardown(test_fd_passing_order,
		    pair_setup, pair_teardown),
		cmocka_unit_test_setup_teardown(test_fd_claimed_not_sent,
		    pair_setup, pair_teardown),
		cmocka_unit_test_setup_teardown(test_partial_writes,
		    pair_setup, pair_teardown),
		cmocka_unit_test_setup_teardown(test_get_data_exact,
		    pair_setup, pair_teardown),
		cmocka_unit_test_setup_teardown(test_get_string,
		    pair_setup, pair_teardown),
	};

	return (cmocka_run_group_tests_name("imsg", tests, NULL, NULL));
}
