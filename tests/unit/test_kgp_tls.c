/*
 * Unit tests of common/kgp_tls.c, the buffered TLS transport: a
 * handshake and a bulk transfer both ways over a socketpair whose
 * buffers are small, so that writes come back short or with
 * TLS_WANT_POLLOUT and reads find several records, or part of one, in
 * one read(2).  Every byte must arrive, in order, and what TLS wants
 * (POLLIN with bytes still buffered) must never stall the transfer.
 * The buffers go back once the link is quiet (kgp_tls_trim()).
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <tls.h>

#include "kgp_tls.h"
#include "testcert.h"

#define XFER	(3 * 1024 * 1024 + 17)
#define CHUNK	(64 * 1024)

struct end {
	struct kgp_tls	*io;
	uint8_t		*out;		/* what this end sends */
	size_t		 sent;		/* taken by kgp_tls_write */
	uint8_t		*in;		/* what it received */
	size_t		 got;
	int		 up;
	int		 want_out;	/* kgp_tls_flush said POLLOUT */
};

static struct tls_config	*scfg, *ccfg;
static struct tls		*stls;

static void
ends_setup(struct end *e, int bufsz)
{
	struct tls	*ctx;
	int		 sv[2], i, j;

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0,
	    sv), 0);
	for (i = 0; i < 2; i++) {
		assert_int_equal(setsockopt(sv[i], SOL_SOCKET, SO_SNDBUF,
		    &bufsz, sizeof(bufsz)), 0);
		assert_int_equal(setsockopt(sv[i], SOL_SOCKET, SO_RCVBUF,
		    &bufsz, sizeof(bufsz)), 0);
	}
	assert_non_null(scfg = tls_config_new());
	assert_int_equal(tls_config_set_keypair_mem(scfg,
	    (const uint8_t *)test_cert, strlen(test_cert),
	    (const uint8_t *)test_key, strlen(test_key)), 0);
	assert_non_null(stls = tls_server());
	assert_int_equal(tls_configure(stls, scfg), 0);
	assert_non_null(ccfg = tls_config_new());
	tls_config_insecure_noverifycert(ccfg);
	tls_config_insecure_noverifyname(ccfg);
	assert_non_null(ctx = tls_client());
	assert_int_equal(tls_configure(ctx, ccfg), 0);

	memset(e, 0, 2 * sizeof(*e));
	assert_non_null(e[0].io = kgp_tls_accept(stls, sv[0]));
	assert_non_null(e[1].io = kgp_tls_connect(ctx, sv[1], "kgp-test"));
	for (i = 0; i < 2; i++) {
		assert_non_null(e[i].out = malloc(XFER));
		assert_non_null(e[i].in = malloc(XFER));
		for (j = 0; j < XFER; j++)
			e[i].out[j] = (uint8_t)(j * 7 + i * 13 + (j >> 12));
	}
}

static void
ends_teardown(struct end *e)
{
	int	 i;

	for (i = 0; i < 2; i++) {
		kgp_tls_free(e[i].io);
		free(e[i].out);
		free(e[i].in);
	}
	tls_free(stls);
	tls_config_free(scfg);
	tls_config_free(ccfg);
}

/* One turn of an end: handshake, then read all, write a chunk, flush. */
static void
step(struct end *e)
{
	struct tls	*ctx = kgp_tls_ctx(e->io);
	uint8_t		 buf[CHUNK];
	ssize_t		 n;
	size_t		 len;
	int		 ret;

	if (!e->up) {
		ret = tls_handshake(ctx);
		assert_int_not_equal(ret, -1);
		assert_int_not_equal(kgp_tls_flush(e->io), -1);
		e->up = ret == 0;
		return;
	}
	for (;;) {
		n = kgp_tls_read(e->io, buf, sizeof(buf));
		if (n == TLS_WANT_POLLIN && kgp_tls_buffered(e->io) > 0)
			continue;
		if (n == TLS_WANT_POLLIN || n == TLS_WANT_POLLOUT)
			break;
		assert_true(n > 0);
		assert_true(e->got + n <= XFER);
		memcpy(e->in + e->got, buf, n);
		e->got += n;
	}
	if (e->sent < XFER) {
		len = XFER - e->sent < CHUNK ? XFER - e->sent : CHUNK;
		n = kgp_tls_write(e->io, e->out + e->sent, len);
		if (n > 0)
			e->sent += n;
		else
			assert_true(n == TLS_WANT_POLLOUT);
	}
	ret = kgp_tls_flush(e->io);
	assert_int_not_equal(ret, -1);
	e->want_out += ret == TLS_WANT_POLLOUT;
}

/* A bulk transfer both ways over e, which the caller frees. */
static void
transfer_ends(struct end *e, int bufsz)
{
	int		 turns;

	ends_setup(e, bufsz);
	for (turns = 0; turns < 200000; turns++) {
		step(&e[0]);
		step(&e[1]);
		if (e[0].got == XFER && e[1].got == XFER &&
		    kgp_tls_unsent(e[0].io) == 0 &&
		    kgp_tls_unsent(e[1].io) == 0)
			break;
	}
	assert_int_equal(e[0].got, XFER);
	assert_int_equal(e[1].got, XFER);
	assert_memory_equal(e[0].in, e[1].out, XFER);
	assert_memory_equal(e[1].in, e[0].out, XFER);
	if (bufsz < 64 * 1024)
		/* the small buffers did push back */
		assert_true(e[0].want_out + e[1].want_out > 0);
}

static void
transfer(int bufsz)
{
	struct end	 e[2];

	transfer_ends(e, bufsz);
	ends_teardown(e);
}

/* A few bytes from a to b, as a keepalive's ping would be. */
static void
small_message(struct end *a, struct end *b)
{
	const char	 msg[] = "ping";
	char		 buf[64];
	ssize_t		 n = TLS_WANT_POLLIN;
	int		 turns;

	assert_int_equal(kgp_tls_write(a->io, msg, sizeof(msg)),
	    sizeof(msg));
	assert_int_equal(kgp_tls_flush(a->io), 0);
	for (turns = 0; turns < 1000 && n == TLS_WANT_POLLIN; turns++)
		n = kgp_tls_read(b->io, buf, sizeof(buf));
	assert_int_equal(n, sizeof(msg));
	assert_memory_equal(buf, msg, sizeof(msg));
}

static void
test_small_socket_buffers(void **state)
{
	(void)state;
	transfer(4096);
}

static void
test_large_socket_buffers(void **state)
{
	(void)state;
	transfer(1024 * 1024);
}

/*
 * After a bulk transfer the buffers are large; they stay while the
 * transfer goes on (a trim that follows it keeps them), and a quiet
 * interval with only a small message in it gives them back.  They come
 * again, small, for the next bytes.
 */
static void
test_trim_after_bulk(void **state)
{
	struct end	 e[2];
	int		 i;

	(void)state;
	transfer_ends(e, 1024 * 1024);
	for (i = 0; i < 2; i++) {
		assert_true(kgp_tls_bufsize(e[i].io) > 256 * 1024);
		kgp_tls_trim(e[i].io, 0);		/* busy since the last */
		assert_true(kgp_tls_bufsize(e[i].io) > 256 * 1024);
	}
	small_message(&e[0], &e[1]);
	small_message(&e[1], &e[0]);
	for (i = 0; i < 2; i++) {
		kgp_tls_trim(e[i].io, 0);		/* quiet: given back */
		assert_int_equal(kgp_tls_bufsize(e[i].io), 0);
	}
	small_message(&e[0], &e[1]);
	small_message(&e[1], &e[0]);
	for (i = 0; i < 2; i++)
		assert_true(kgp_tls_bufsize(e[i].io) <= 2 * 4096);
	ends_teardown(e);
}

/*
 * A link that only pings: its small buffers stay from one tick to the
 * next, and go only once it has been quiet KGP_TLS_QUIET_TICKS ticks in
 * a row; idle, they go at once.
 */
static void
test_trim_ping_only(void **state)
{
	struct end	 e[2];
	int		 i, tick, turns;

	(void)state;
	ends_setup(e, 1024 * 1024);
	/* the handshake, nothing to send */
	e[0].sent = e[1].sent = XFER;
	for (turns = 0; turns < 1000 && !(e[0].up && e[1].up); turns++) {
		step(&e[0]);
		step(&e[1]);
	}
	assert_true(e[0].up && e[1].up);
	for (i = 0; i < 2; i++) {
		kgp_tls_trim(e[i].io, 1);
		assert_int_equal(kgp_tls_bufsize(e[i].io), 0);
	}
	for (tick = 1; tick <= KGP_TLS_QUIET_TICKS; tick++) {
		small_message(&e[0], &e[1]);
		small_message(&e[1], &e[0]);
		for (i = 0; i < 2; i++) {
			kgp_tls_trim(e[i].io, 0);
			if (tick < KGP_TLS_QUIET_TICKS) {
				assert_true(kgp_tls_bufsize(e[i].io) > 0);
				assert_true(kgp_tls_bufsize(e[i].io) <=
				    2 * 4096);
			} else
				assert_int_equal(kgp_tls_bufsize(e[i].io), 0);
		}
	}
	ends_teardown(e);
}

/* A connect on a context that is not a client fails and keeps it. */
static void
test_connect_failure(void **state)
{
	struct tls	*srv;
	int		 sv[2];

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	assert_non_null(srv = tls_server());
	assert_null(kgp_tls_connect(srv, sv[0], "kgp-test"));
	assert_non_null(tls_error(srv));
	tls_free(srv);
	close(sv[0]);
	close(sv[1]);
}

/*
 * The write buffer without TLS (kgp_tls_raw): records of 16 KiB through
 * a socket a slow reader drains a little at a time, so that the buffer
 * fills and is sent in pieces; what the socket did not take moves to
 * the front only once half the buffer is gone.  Every byte arrives, in
 * order, and a full buffer says POLLOUT rather than taking nothing.
 */
static void
test_raw_write_slow_reader(void **state)
{
	uint8_t		*out, *in, rec[16384];
	size_t		 sent = 0, got = 0, i, bite = 1000;
	ssize_t		 n;
	struct kgp_tls	*io;
	int		 sv[2], bufsz = 8192, pollout = 0;

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0,
	    sv), 0);
	assert_int_equal(setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &bufsz,
	    sizeof(bufsz)), 0);
	assert_non_null(io = kgp_tls_raw(sv[0]));
	assert_non_null(out = malloc(XFER));
	assert_non_null(in = malloc(XFER));
	for (i = 0; i < XFER; i++)
		out[i] = (uint8_t)(i * 7 + i / 251);
	while (got < XFER) {
		while (sent < XFER) {
			i = XFER - sent < sizeof(rec) ? XFER - sent :
			    sizeof(rec);
			n = kgp_tls_raw_write(io, out + sent, i);
			if (n == TLS_WANT_POLLOUT) {
				pollout++;
				break;
			}
			assert_true(n > 0 && (size_t)n <= i);
			sent += n;
		}
		n = kgp_tls_flush(io);
		assert_true(n == 0 || n == TLS_WANT_POLLOUT);
		/* the reader: a bite of varying size, then the writer again */
		n = read(sv[1], in + got, bite < XFER - got ? bite : XFER - got);
		if (n == -1)
			assert_int_equal(errno, EAGAIN);
		else
			got += n;
		bite = bite * 3 % 40009 + 1;
	}
	assert_true(pollout > 0);
	assert_int_equal(kgp_tls_unsent(io), 0);
	assert_memory_equal(in, out, XFER);
	kgp_tls_free(io);
	free(out);
	free(in);
	close(sv[0]);
	close(sv[1]);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_small_socket_buffers),
		cmocka_unit_test(test_large_socket_buffers),
		cmocka_unit_test(test_trim_after_bulk),
		cmocka_unit_test(test_trim_ping_only),
		cmocka_unit_test(test_connect_failure),
		cmocka_unit_test(test_raw_write_slow_reader),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
