/*
 * Unit tests of proxyd/relay_move.c, bytes on their way: each side's
 * share of the buffer budget; then, through the relay
 * (relay_harness.h), tunnels (CONNECT and a 101) with their half-closes,
 * long answers spliced past proxyd (kgpd is not there to lend to), and a
 * browser that stops reading, which stops the app's bytes, not proxyd's
 * memory.
 */
#include <sys/types.h>
#include <sys/queue.h>
#include <sys/socket.h>

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "relay_int.h"
#include "relay_harness.h"

#define KiB	1024
#define MiB	(1024 * 1024)

static unsigned char
pattern(size_t i)
{
	return ((unsigned char)(i * 7 + (i >> 12)));
}

/* RELAY_READ_HIGH a side, less with many streams, PROXYD_SHARE_MIN least */
static void
test_share(void **state)
{
	env->stats.streams_open = 0;
	assert_int_equal(relay_share(), RELAY_READ_HIGH);
	env->stats.streams_open = PROXYD_BUFFER_BUDGET / RELAY_READ_HIGH / 2;
	assert_int_equal(relay_share(), RELAY_READ_HIGH);
	env->stats.streams_open++;
	assert_int_equal(relay_share(), PROXYD_BUFFER_BUDGET /
	    (env->stats.streams_open * 2));
	assert_true(relay_share() < RELAY_READ_HIGH);
	env->stats.streams_open = 1000;
	assert_int_equal(relay_share(), PROXYD_BUFFER_BUDGET / 2000);
	env->stats.streams_open = PROXYD_BUFFER_BUDGET / PROXYD_SHARE_MIN / 2;
	assert_int_equal(relay_share(), PROXYD_SHARE_MIN);
	env->stats.streams_open = 1000000;
	assert_int_equal(relay_share(), PROXYD_SHARE_MIN);
	env->stats.streams_open = 0;
}

/*
 * One side (w) writes the pattern from sent to total while the other (r)
 * reads it all from got on, each byte checked: neither waits for the
 * other to be done, as two programs would not.
 */
static void
pump(int w, size_t sent, int r, size_t got, size_t total)
{
	static unsigned char	 buf[64 * KiB];
	size_t			 n, i;
	ssize_t			 k;

	while (got < total) {
		if (sent < total) {
			n = total - sent < sizeof(buf) ? total - sent :
			    sizeof(buf);
			for (i = 0; i < n; i++)
				buf[i] = pattern(sent + i);
			if ((k = write(w, buf, n)) > 0)
				sent += k;
			else
				assert_int_equal(errno, EAGAIN);
		}
		if ((k = read(r, buf, sizeof(buf))) <= 0) {
			assert_int_not_equal(k, 0);
			assert_int_equal(errno, EAGAIN);
			/* nothing here yet: wait for a byte, the loop runs */
			k = h_read_n(r, buf, 1);
			assert_int_equal(k, 1);
		}
		for (i = 0; i < (size_t)k; i++)
			if (buf[i] != pattern(got + i))
				fail_msg("byte %zu is wrong", got + i);
		got += k;
	}
}

/* CONNECT: the app may speak first; each side's EOF reaches the other */
static void
test_connect_tunnel(void **state)
{
	char	 buf[256];
	int	 b, l, a, port;

	l = h_listen(&port, 4);
	b = h_stream();
	h_send(b, "CONNECT 127.0.0.1:%d HTTP/1.1\r\nHost: h\r\n\r\n", port);
	a = h_accept(l);
	/* before the browser says a word */
	h_send(a, "SSH-2.0-app\r\n");
	h_read_head(b, buf, sizeof(buf));
	assert_string_equal(buf, "HTTP/1.1 200 Connection established\r\n"
	    "\r\n");
	assert_int_equal(h_read_n(b, buf, 13), 13);
	assert_memory_equal(buf, "SSH-2.0-app\r\n", 13);
	pump(b, 0, a, 0, 300 * KiB);
	pump(a, 0, b, 0, 300 * KiB);
	/* the browser is done sending: the app reads its EOF, answers */
	shutdown(b, SHUT_WR);
	assert_int_equal(h_read_eof(a), 1);
	h_send(a, "bye");
	assert_int_equal(h_read_n(b, buf, 3), 3);
	assert_memory_equal(buf, "bye", 3);
	shutdown(a, SHUT_WR);
	assert_int_equal(h_read_eof(b), 1);
}

/* a 101 the browser asked for: then a tunnel */
static void
test_upgrade_tunnel(void **state)
{
	char	 buf[1024];
	int	 b, l, a, port;

	l = h_listen(&port, 4);
	b = h_stream();
	h_send(b, "GET http://127.0.0.1:%d/ws HTTP/1.1\r\nHost: h\r\n"
	    "Connection: Upgrade\r\nUpgrade: websocket\r\n\r\n", port);
	a = h_accept(l);
	h_read_head(a, buf, sizeof(buf));
	assert_non_null(strstr(buf, "Connection: Upgrade\r\n"
	    "Upgrade: websocket\r\n"));
	h_send(a, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
	    "Connection: Upgrade\r\nSec-WebSocket-Accept: x\r\n\r\nfirst");
	h_read_head(b, buf, sizeof(buf));
	assert_string_equal(buf, "HTTP/1.1 101 Switching Protocols\r\n"
	    "Sec-WebSocket-Accept: x\r\nUpgrade: websocket\r\n"
	    "Connection: Upgrade\r\n\r\n");
	assert_int_equal(h_read_n(b, buf, 5), 5);
	assert_memory_equal(buf, "first", 5);
	h_send(b, "ping");
	assert_int_equal(h_read_n(a, buf, 4), 4);
	assert_memory_equal(buf, "ping", 4);
	shutdown(a, SHUT_WR);
	shutdown(b, SHUT_WR);
	assert_int_equal(h_read_eof(b), 1);
	assert_int_equal(h_read_eof(a), 1);
}

/* a long answer goes past proxyd, then the stream goes on */
static void
test_long_answer(void **state)
{
	char	 buf[1024];
	int	 b, l, a, port;

	l = h_listen(&port, 4);
	b = h_stream();
	a = h_get(b, l, port, "/big");
	h_send(a, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n", 3 * MiB);
	h_read_head(b, buf, sizeof(buf));
	pump(a, 0, b, 0, 3 * MiB);
	h_send(b, "GET http://127.0.0.1:%d/next HTTP/1.1\r\nHost: h\r\n\r\n",
	    port);
	h_read_head(a, buf, sizeof(buf));
	assert_non_null(strstr(buf, "GET /next HTTP/1.1\r\n"));
	h_send(a, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
	h_read_answer(b, buf, sizeof(buf));
	assert_non_null(strstr(buf, "\r\n\r\nok"));

	/* the app cuts it short: what came goes on, then the stream ends */
	h_send(b, "GET http://127.0.0.1:%d/cut HTTP/1.1\r\nHost: h\r\n\r\n",
	    port);
	h_read_head(a, buf, sizeof(buf));
	h_send(a, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n", MiB);
	h_read_head(b, buf, sizeof(buf));
	pump(a, 0, b, 0, 600 * KiB);
	shutdown(a, SHUT_WR);
	assert_int_equal(h_read_eof(b), 1);
}

/*
 * The app writes until its socket is full, the loop running between
 * writes; the bytes it wrote.
 */
static size_t
app_fill(int a, size_t max)
{
	static unsigned char	 buf[64 * KiB];
	size_t			 total = 0, n, i;
	ssize_t			 w;
	int			 full = 0;

	while (total < max && full < 3) {
		n = max - total < sizeof(buf) ? max - total : sizeof(buf);
		for (i = 0; i < n; i++)
			buf[i] = pattern(total + i);
		if ((w = write(a, buf, n)) == -1) {
			assert_int_equal(errno, EAGAIN);
			full++;
			h_settle();
			continue;
		}
		full = 0;
		total += w;
		h_settle();
	}
	return (total);
}

/* a browser that reads nothing stops the app, not proxyd's memory */
static void
test_stalled_reader(void **state)
{
	char	 buf[1024];
	size_t	 sent, total = 48 * MiB;
	int	 b, l, a, port;

	l = h_listen(&port, 4);
	b = h_stream();
	a = h_get(b, l, port, "/");
	/* chunked: proxyd copies it, no splice */
	h_send(a, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
	    "%zx\r\n", total);
	sent = app_fill(a, total);
	print_message("the app wrote %zu bytes before it stalled\n", sent);
	if (sent >= total)
		fail_msg("the app wrote all %zu bytes to a browser that reads "
		    "none", sent);
	/* the browser reads: everything comes, in order */
	h_read_head(b, buf, sizeof(buf));
	assert_int_equal(h_read_n(b, buf, 9), 9);
	assert_memory_equal(buf, "3000000\r\n", 9);
	pump(a, sent, b, 0, total);
	h_send(a, "\r\n0\r\n\r\n");
	assert_int_equal(h_read_n(b, buf, 7), 7);
	assert_memory_equal(buf, "\r\n0\r\n\r\n", 7);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_share),
		cmocka_unit_test_setup_teardown(test_connect_tunnel, h_setup,
		    h_teardown),
		cmocka_unit_test_setup_teardown(test_upgrade_tunnel, h_setup,
		    h_teardown),
		cmocka_unit_test_setup_teardown(test_long_answer, h_setup,
		    h_teardown),
		cmocka_unit_test_setup_teardown(test_stalled_reader, h_setup,
		    h_teardown),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
