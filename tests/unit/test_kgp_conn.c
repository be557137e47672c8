/*
 * The KGP connection engine, both roles in one process over a socketpair:
 * handshake, authentication, byte-exact streams, half-close, and flow
 * control (a stalled stream does not stall another).  Then the sessions
 * of KGP 2: a link that breaks under a transfer and is resumed (however
 * it breaks), a server that lost the session, the grace period, GOAWAY,
 * and what a stalled or broken session may hold in memory.  Last, a
 * stream moved from one local socket to another mid-transfer.
 *
 * KGP_TEST=glob runs the matching tests only; KGP_VERBOSE=1 shows the
 * engine's debug log.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <errno.h>
#include <signal.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <tls.h>

#include "kgp.h"
#include "kgp_tls.h"
#include "log.h"
#include "server.h"		/* route_link() */

#include "testcert.h"
#include "tls_rec.h"

struct pair {
	struct event_base	*base;
	struct kgp_conn		*server;
	struct kgp_conn		*client;
	int			 server_up;
	int			 client_up;
	int			 server_down;
	int			 client_down;
	int			 down_code;
	char			 down_why[256];
	int			 app_fds[8];	/* client-side ends, by open order */
	int			 napps;
	const char		*secret;
	struct tls		*stls;	/* outlives its accepted contexts */
	int			 hold;	/* HELLOs to answer KGP_HELLO_HOLD */
	int			 hellos;	/* the hello callback's calls */
	int			 refuse;	/* a KGP_E_* for the HELLO */
};

static int
srv_hello(struct kgp_conn *c, const struct kgp_hello *h, void *arg)
{
	struct pair	*p = arg;

	p->hellos++;
	if (p->hold > 0) {
		p->hold--;
		return (KGP_HELLO_HOLD);
	}
	if (p->refuse)
		return (p->refuse);
	if (strcmp(h->tunnel_id, "0123456789abcdef0123456789abcdef") != 0 ||
	    strcmp(h->secret, p->secret) != 0)
		return (KGP_E_AUTH);
	return (0);
}

static void
srv_up(struct kgp_conn *c, void *arg)
{
	((struct pair *)arg)->server_up = 1;
}

static void
cli_up(struct kgp_conn *c, void *arg)
{
	((struct pair *)arg)->client_up = 1;
}

static void
srv_down(struct kgp_conn *c, int code, const char *why, void *arg)
{
	struct pair	*p = arg;

	p->server_down = 1;
	kgp_conn_free(c);
	p->server = NULL;
}

static void
cli_down(struct kgp_conn *c, int code, const char *why, void *arg)
{
	struct pair	*p = arg;

	p->client_down = 1;
	p->down_code = code;
	strlcpy(p->down_why, why, sizeof(p->down_why));
	kgp_conn_free(c);
	p->client = NULL;
}

/* the client side hands each stream to an "application" socket */
static int
cli_open(struct kgp_conn *c, uint32_t id, const char *meta, uint16_t *code,
    char *reason, size_t len, void *arg)
{
	struct pair	*p = arg;
	int		 sv[2];

	if (p->napps == 8 || socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK,
	    0, sv) == -1) {
		*code = KGP_E_LIMIT;
		return (-1);
	}
	p->app_fds[p->napps++] = sv[1];
	return (sv[0]);
}

static const struct kgp_callbacks srv_cb = {
	.hello = srv_hello, .up = srv_up, .down = srv_down,
};
static const struct kgp_callbacks cli_cb = {
	.open = cli_open, .up = cli_up, .down = cli_down,
};

static void
run_until(struct pair *p, int *flag, int ms)
{
	int	 i;

	for (i = 0; i < ms && !*flag; i++) {
		event_base_loop(p->base, EVLOOP_NONBLOCK);
		usleep(1000);
	}
}

/* pair_setup(): the client holds HELLO until kgp_conn_auth() */
static int	 setup_hold;

static void
pair_setup(struct pair *p, const char *client_secret, const char *pin)
{
	struct tls_config	*sc, *cc;
	struct tls		*stls, *ctls;
	struct kgp_tls		*sio, *cio;
	struct kgp_params	 sp, cp;
	int			 sv[2];

	memset(p, 0, sizeof(*p));
	p->secret = "s3cret";
	assert_non_null(p->base = event_base_new());
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0,
	    sv), 0);

	assert_non_null(sc = tls_config_new());
	assert_int_equal(tls_config_set_keypair_mem(sc,
	    (const uint8_t *)test_cert, strlen(test_cert),
	    (const uint8_t *)test_key, strlen(test_key)), 0);
	assert_non_null(stls = tls_server());
	assert_int_equal(tls_configure(stls, sc), 0);
	assert_non_null(sio = kgp_tls_accept(stls, sv[0]));

	assert_non_null(cc = tls_config_new());
	tls_config_insecure_noverifycert(cc);
	tls_config_insecure_noverifyname(cc);
	assert_non_null(ctls = tls_client());
	assert_int_equal(tls_configure(ctls, cc), 0);
	assert_non_null(cio = kgp_tls_connect(ctls, sv[1], "kgp-test"));

	memset(&sp, 0, sizeof(sp));
	sp.role = KGP_ROLE_SERVER;
	sp.window = 64 * 1024;
	memset(&cp, 0, sizeof(cp));
	cp.role = KGP_ROLE_CLIENT;
	cp.window = 64 * 1024;
	cp.tunnel_id = "0123456789abcdef0123456789abcdef";
	cp.secret = client_secret;
	cp.pin = pin;
	if (setup_hold) {
		cp.hold = 1;
		cp.tunnel_id = cp.secret = cp.pin = NULL;
	}
	assert_non_null(p->server = kgp_conn_new(p->base, sv[0], sio, &sp,
	    &srv_cb, p));
	assert_non_null(p->client = kgp_conn_new(p->base, sv[1], cio, &cp,
	    &cli_cb, p));
	p->stls = stls;
	tls_config_free(sc);
	tls_config_free(cc);
}

static void
pair_teardown(struct pair *p)
{
	int	 i;

	kgp_conn_free(p->server);
	kgp_conn_free(p->client);
	for (i = 0; i < p->napps; i++)
		close(p->app_fds[i]);
	tls_free(p->stls);
	event_base_free(p->base);
}

static void
test_handshake(void **state)
{
	struct pair	 p;

	pair_setup(&p, "s3cret", NULL);
	run_until(&p, &p.client_up, 3000);
	assert_true(p.server_up);
	assert_true(p.client_up);
	pair_teardown(&p);
}

static void
test_wrong_secret(void **state)
{
	struct pair	 p;

	pair_setup(&p, "wrong", NULL);
	run_until(&p, &p.client_down, 3000);
	assert_true(p.client_down);
	assert_false(p.client_up);
	assert_int_equal(p.down_code, KGP_E_AUTH);
	assert_non_null(strstr(p.down_why, "not authorized"));
	pair_teardown(&p);
}

/*
 * The server holds the HELLO (KGP_HELLO_HOLD): nothing is answered until
 * kgp_conn_hello_again(), which asks the callback again, with the same
 * HELLO (its secret still checked): WELCOME then; or the ERROR it says.
 */
static void
test_hello_hold(void **state)
{
	struct pair	 p;
	int		 never = 0;

	pair_setup(&p, "s3cret", NULL);
	p.hold = 2;
	run_until(&p, &p.hellos, 3000);
	assert_int_equal(p.hellos, 1);
	run_until(&p, &never, 100);
	assert_false(p.client_up);
	assert_false(p.client_down);
	/* held again */
	assert_int_equal(kgp_conn_hello_again(p.server), 0);
	assert_int_equal(p.hellos, 2);
	run_until(&p, &never, 50);
	assert_false(p.client_up);
	assert_int_equal(kgp_conn_hello_again(p.server), 0);
	assert_int_equal(p.hellos, 3);
	run_until(&p, &p.client_up, 3000);
	assert_true(p.client_up);
	assert_true(p.server_up);
	/* answered: nothing is held any more */
	assert_int_equal(kgp_conn_hello_again(p.server), 0);
	assert_int_equal(p.hellos, 3);
	pair_teardown(&p);

	pair_setup(&p, "s3cret", NULL);
	p.hold = 1;
	run_until(&p, &p.hellos, 3000);
	p.refuse = KGP_E_SHUTDOWN;
	kgp_conn_hello_again(p.server);
	run_until(&p, &p.client_down, 3000);
	assert_true(p.client_down);
	assert_false(p.client_up);
	assert_int_equal(p.down_code, KGP_E_SHUTDOWN);
	pair_teardown(&p);
}

/* the client fails: the server's certificate is not the pinned one */
static void
pin_mismatch(struct pair *p)
{
	run_until(p, &p->client_down, 3000);
	assert_true(p->client_down);
	assert_int_equal(p->down_code, KGP_E_AUTH);
	assert_non_null(strstr(p->down_why, "does not match"));
}

static void
test_bad_pin(void **state)
{
	struct pair	 p;

	pair_setup(&p, "s3cret", "SHA256:0000");
	pin_mismatch(&p);
	pair_teardown(&p);
}

/*
 * The early connection of sc: TLS goes, HELLO waits for the tunnel
 * (kgp_conn_auth); then the pin is checked and the session comes up, or
 * the connection fails with KGP_E_AUTH.  A connection that is not held
 * refuses kgp_conn_auth.
 */
static void
early(const char *pin_given, int want_up)
{
	struct pair		 p;
	struct kgp_params	 ap;
	char			 pin[128];

	setup_hold = 1;
	pair_setup(&p, "s3cret", NULL);
	setup_hold = 0;
	/* the TLS handshake ends, nothing more: the server hears no HELLO */
	run_until(&p, &p.server_up, 300);
	assert_false(p.server_up);
	assert_false(p.client_up);
	assert_false(p.client_down);
	assert_true(strncmp(kgp_conn_peer_hash(p.client), "SHA256:", 7) == 0);
	strlcpy(pin, pin_given != NULL ? pin_given :
	    kgp_conn_peer_hash(p.client), sizeof(pin));
	memset(&ap, 0, sizeof(ap));
	ap.tunnel_id = "0123456789abcdef0123456789abcdef";
	ap.secret = "s3cret";
	ap.pin = pin;
	assert_int_equal(kgp_conn_auth(p.client, &ap), 0);
	if (want_up) {
		run_until(&p, &p.client_up, 3000);
		assert_true(p.client_up);
		assert_true(p.server_up);
		/* once is all */
		assert_int_equal(kgp_conn_auth(p.client, &ap), -1);
	} else
		pin_mismatch(&p);
	pair_teardown(&p);
}

static void
test_early_hold(void **state)
{
	early(NULL, 1);
}

static void
test_early_bad_pin(void **state)
{
	early("SHA256:0000", 0);
}

/* move len bytes from "browser" to "app" and back, checking every byte */
static void
pump_both(struct pair *p, int browser, int app, size_t len)
{
	unsigned char	*src, *dst, *back;
	size_t		 wr = 0, rd = 0, wr2 = 0, rd2 = 0;
	ssize_t		 n;
	int		 i;

	src = malloc(len);
	dst = malloc(len);
	back = malloc(len);
	for (size_t k = 0; k < len; k++)
		src[k] = (unsigned char)(k * 7 + k / 251);
	for (i = 0; i < 200000 && rd2 < len; i++) {
		if (wr < len && (n = write(browser, src + wr, len - wr)) > 0)
			wr += n;
		if (rd < len && (n = read(app, dst + rd, len - rd)) > 0)
			rd += n;
		if (wr2 < rd && (n = write(app, dst + wr2, rd - wr2)) > 0)
			wr2 += n;
		if ((n = read(browser, back + rd2, len - rd2)) > 0)
			rd2 += n;
		event_base_loop(p->base, EVLOOP_NONBLOCK);
	}
	assert_int_equal(rd, len);
	assert_int_equal(rd2, len);
	assert_memory_equal(src, dst, len);
	assert_memory_equal(src, back, len);
	free(src);
	free(dst);
	free(back);
}

static void
test_stream_bytes_and_close(void **state)
{
	struct pair	 p;
	int		 sv[2], up = 0;
	char		 c, head[3] = { 0 };

	pair_setup(&p, "s3cret", NULL);
	run_until(&p, &p.client_up, 3000);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0,
	    sv), 0);
	assert_int_equal(kgp_conn_open_stream(p.server, sv[0], "1.2.3.4:5",
	    "GET", 3), 0);
	for (int i = 0; i < 3000 && p.napps == 0; i++) {
		event_base_loop(p.base, EVLOOP_NONBLOCK);
		usleep(1000);
	}
	assert_int_equal(p.napps, 1);
	/* the bytes given with the OPEN come first */
	for (int i = 0, got = 0; i < 3000 && got < 3; i++) {
		ssize_t n = read(p.app_fds[0], head + got, 3 - got);
		if (n > 0)
			got += n;
		event_base_loop(p.base, EVLOOP_NONBLOCK);
		usleep(n > 0 ? 0 : 1000);
	}
	assert_memory_equal(head, "GET", 3);
	pump_both(&p, sv[1], p.app_fds[0], 3 * 1024 * 1024 + 17);

	/* half-close from the browser reaches the app as EOF */
	shutdown(sv[1], SHUT_WR);
	for (int i = 0; i < 3000 && !up; i++) {
		event_base_loop(p.base, EVLOOP_NONBLOCK);
		if (read(p.app_fds[0], &c, 1) == 0)
			up = 1;
		else
			usleep(1000);
	}
	assert_true(up);
	/* the app can still answer after the half-close */
	assert_int_equal(write(p.app_fds[0], "z", 1), 1);
	up = 0;
	for (int i = 0; i < 3000 && !up; i++) {
		event_base_loop(p.base, EVLOOP_NONBLOCK);
		if (read(sv[1], &c, 1) == 1 && c == 'z')
			up = 1;
		else
			usleep(1000);
	}
	assert_true(up);
	close(sv[1]);
	pair_teardown(&p);
}

/* an in-process stream's end: what came, and whether EOF did */
struct local_end {
	struct evbuffer	*got;
	int		 eof;
};

static void
local_readcb(struct bufferevent *bev, void *arg)
{
	struct local_end	*l = arg;

	evbuffer_add_buffer(l->got, bufferevent_get_input(bev));
}

static void
local_eventcb(struct bufferevent *bev, short what, void *arg)
{
	struct local_end	*l = arg;

	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))
		l->eof = 1;
}

/*
 * kgp_conn_open_local(): the same bytes both ways as through a socket,
 * the half-close each way, and the owner's close as a socket's.
 */
static void
test_local_stream(void **state)
{
	struct pair		 p;
	struct local_end	 l = { 0 };
	struct bufferevent	*bev;
	unsigned char		*src, *back;
	size_t			 len = 3 * 1024 * 1024 + 17, k, wr = 0, rd = 0;
	ssize_t			 n;
	char			 buf[65536], c;
	int			 i, eof = 0;

	pair_setup(&p, "s3cret", NULL);
	run_until(&p, &p.client_up, 3000);
	assert_non_null(l.got = evbuffer_new());
	assert_non_null(bev = kgp_conn_open_local(p.server, "1.2.3.4:5"));
	bufferevent_setcb(bev, local_readcb, NULL, local_eventcb, &l);
	bufferevent_enable(bev, EV_READ | EV_WRITE);
	src = malloc(len);
	back = malloc(len);
	for (k = 0; k < len; k++)
		src[k] = (unsigned char)(k * 7 + k / 251);
	/* written in pieces as a caller would, echoed by the "app" */
	for (i = 0; i < 200000 && evbuffer_get_length(l.got) < len; i++) {
		if (wr < len && evbuffer_get_length(bufferevent_get_output(bev)) <
		    256 * 1024) {
			n = len - wr < 40000 ? len - wr : 40000;
			bufferevent_write(bev, src + wr, n);
			wr += n;
		}
		if (p.napps == 1 && rd < wr &&
		    (n = read(p.app_fds[0], buf, sizeof(buf))) > 0) {
			assert_int_equal(write(p.app_fds[0], buf, n), n);
			rd += n;
		}
		event_base_loop(p.base, EVLOOP_NONBLOCK);
	}
	assert_int_equal(evbuffer_get_length(l.got), len);
	assert_int_equal(evbuffer_remove(l.got, back, len), (int)len);
	assert_memory_equal(src, back, len);

	/* our half-close reaches the app as EOF; it still answers */
	kgp_local_shutdown(bev);
	for (i = 0; i < 3000 && !eof; i++) {
		event_base_loop(p.base, EVLOOP_NONBLOCK);
		if (read(p.app_fds[0], &c, 1) == 0)
			eof = 1;
		else
			usleep(1000);
	}
	assert_true(eof);
	assert_int_equal(write(p.app_fds[0], "z", 1), 1);
	/* the app's close: the byte, then EOF */
	close(p.app_fds[0]);
	p.napps = 0;
	for (i = 0; i < 3000 && !l.eof; i++) {
		event_base_loop(p.base, EVLOOP_NONBLOCK);
		usleep(1000);
	}
	assert_true(l.eof);
	assert_int_equal(evbuffer_get_length(l.got), 1);
	kgp_local_close(bev);

	/* the owner lets a stream go: the app sees what was written, EOF */
	assert_non_null(bev = kgp_conn_open_local(p.server, "1.2.3.4:6"));
	bufferevent_write(bev, "bye", 3);
	kgp_local_close(bev);
	for (i = 0, rd = 0, eof = 0; i < 3000 && !eof; i++) {
		event_base_loop(p.base, EVLOOP_NONBLOCK);
		if (p.napps == 1 && (n = read(p.app_fds[0], buf + rd,
		    sizeof(buf) - rd)) >= 0) {
			if (n == 0)
				eof = 1;
			rd += n;
		} else
			usleep(1000);
	}
	assert_true(eof);
	assert_int_equal(rd, 3);
	assert_memory_equal(buf, "bye", 3);
	free(src);
	free(back);
	evbuffer_free(l.got);
	pair_teardown(&p);
}

/*
 * An owner that writes far more than the stream takes, while the app
 * reads nothing (its credit runs out), then shuts down or closes: every
 * byte reaches the app before its EOF (the pair's flush moved no more
 * than the stream's read watermark, and the EOF that followed sent FIN
 * before the rest).
 */
static void
test_local_shutdown_all(void **state)
{
	struct pair		 p;
	struct bufferevent	*bev;
	unsigned char		*src, *got;
	size_t			 len = 2 * 1024 * 1024 + 11, k, rd;
	ssize_t			 n;
	int			 i, eof, round;

	pair_setup(&p, "s3cret", NULL);
	run_until(&p, &p.client_up, 3000);
	src = malloc(len);
	got = malloc(len);
	for (k = 0; k < len; k++)
		src[k] = (unsigned char)(k * 5 + k / 997);
	/* round 0: kgp_local_shutdown(); round 1: kgp_local_close() */
	for (round = 0; round < 2; round++) {
		assert_non_null(bev = kgp_conn_open_local(p.server, "x"));
		bufferevent_enable(bev, EV_READ | EV_WRITE);
		assert_int_equal(bufferevent_write(bev, src, len), 0);
		/* the app reads nothing yet: the stream's credit runs out */
		for (i = 0; i < 300; i++)
			event_base_loop(p.base, EVLOOP_NONBLOCK);
		if (round == 0)
			kgp_local_shutdown(bev);
		else
			kgp_local_close(bev);
		for (i = 0, rd = 0, eof = 0; i < 20000 && !eof; i++) {
			event_base_loop(p.base, EVLOOP_NONBLOCK);
			if (p.napps != 1)
				continue;
			if ((n = read(p.app_fds[0], got + rd, len - rd)) == 0)
				eof = 1;
			else if (n > 0)
				rd += n;
			else
				usleep(200);
		}
		assert_true(eof);
		assert_int_equal(rd, len);
		assert_memory_equal(src, got, len);
		close(p.app_fds[0]);
		p.napps = 0;
		if (round == 0)
			kgp_local_close(bev);
		for (i = 0; i < 100; i++)
			event_base_loop(p.base, EVLOOP_NONBLOCK);
	}
	free(src);
	free(got);
	pair_teardown(&p);
}

/*
 * kgp_local_splice(): two streams joined in the process carry each
 * other's bytes both ways, byte-exact, through a reader slower than the
 * writer (what waits stays bounded), and a half-close goes on as one.
 */
static void
test_local_splice(void **state)
{
	struct pair		 p;
	struct bufferevent	*a, *b;
	unsigned char		*src, *got;
	size_t			 len = 3 * 1024 * 1024 + 29, k, wr = 0, rd = 0;
	size_t			 back = 0;
	ssize_t			 n;
	char			 buf[65536];
	int			 i, eof = 0;

	pair_setup(&p, "s3cret", NULL);
	run_until(&p, &p.client_up, 3000);
	assert_non_null(a = kgp_conn_open_local(p.server, "a"));
	assert_non_null(b = kgp_conn_open_local(p.server, "b"));
	for (i = 0; i < 3000 && p.napps < 2; i++) {
		event_base_loop(p.base, EVLOOP_NONBLOCK);
		usleep(1000);
	}
	assert_int_equal(p.napps, 2);
	assert_int_equal(kgp_local_splice(a, b), 0);
	src = malloc(len);
	got = malloc(len);
	for (k = 0; k < len; k++)
		src[k] = (unsigned char)(k * 13 + k / 509);
	/* app 0 writes, app 1 reads a little at a time and echoes it */
	for (i = 0; i < 400000 && back < len; i++) {
		if (wr < len && (n = write(p.app_fds[0], src + wr,
		    len - wr < 65536 ? len - wr : 65536)) > 0)
			wr += n;
		if (i % 3 == 0 && rd < len && (n = read(p.app_fds[1], buf,
		    4096)) > 0) {
			assert_memory_equal(buf, src + rd, n);
			assert_int_equal(write(p.app_fds[1], buf, n), n);
			rd += n;
		}
		if ((n = read(p.app_fds[0], got + back, len - back)) > 0)
			back += n;
		event_base_loop(p.base, EVLOOP_NONBLOCK);
	}
	assert_int_equal(rd, len);
	assert_int_equal(back, len);
	assert_memory_equal(src, got, len);

	/* app 0's half-close: app 1 reads EOF, and its answer still comes */
	shutdown(p.app_fds[0], SHUT_WR);
	for (i = 0; i < 3000 && !eof; i++) {
		event_base_loop(p.base, EVLOOP_NONBLOCK);
		if ((n = read(p.app_fds[1], buf, sizeof(buf))) == 0)
			eof = 1;
		else
			usleep(1000);
	}
	assert_true(eof);
	assert_int_equal(write(p.app_fds[1], "end", 3), 3);
	close(p.app_fds[1]);
	for (i = 0, rd = 0, eof = 0; i < 3000 && !eof; i++) {
		event_base_loop(p.base, EVLOOP_NONBLOCK);
		if ((n = read(p.app_fds[0], buf + rd, sizeof(buf) - rd)) == 0)
			eof = 1;
		else if (n > 0)
			rd += n;
		else
			usleep(1000);
	}
	assert_true(eof);
	assert_int_equal(rd, 3);
	assert_memory_equal(buf, "end", 3);
	/* both streams are done and gone: the splice let its ends go */
	for (i = 0; i < 100; i++)
		event_base_loop(p.base, EVLOOP_NONBLOCK);
	p.app_fds[1] = p.app_fds[0];
	p.napps = 1;
	free(src);
	free(got);
	pair_teardown(&p);
}

/* A stream whose application never reads does not stall another one. */
static void
test_flow_control_isolation(void **state)
{
	struct pair	 p;
	struct kgp_conn_stats st;
	unsigned char	 junk[65536];
	int		 a[2], b[2];
	size_t		 stuffed = 0;
	ssize_t		 n;

	pair_setup(&p, "s3cret", NULL);
	run_until(&p, &p.client_up, 3000);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0,
	    a), 0);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0,
	    b), 0);
	assert_int_equal(kgp_conn_open_stream(p.server, a[0], "a", NULL, 0),
	    0);
	assert_int_equal(kgp_conn_open_stream(p.server, b[0], "b", NULL, 0),
	    0);
	for (int i = 0; i < 3000 && p.napps < 2; i++) {
		event_base_loop(p.base, EVLOOP_NONBLOCK);
		usleep(1000);
	}
	assert_int_equal(p.napps, 2);
	/* stream a: write far more than any window; its app never reads */
	memset(junk, 'x', sizeof(junk));
	for (int i = 0; i < 2000; i++) {
		if ((n = write(a[1], junk, sizeof(junk))) > 0)
			stuffed += n;
		event_base_loop(p.base, EVLOOP_NONBLOCK);
	}
	/*
	 * The writer was stopped after what the window, the engine's read
	 * buffer and the socket buffers hold: 128 MiB were offered.
	 */
	assert_true(stuffed < 16 * 1024 * 1024);
	kgp_conn_stats(p.client, &st);
	assert_true(st.bytes_in < 8 * 1024 * 1024);
	/* stream b still carries its bytes both ways */
	pump_both(&p, b[1], p.app_fds[1], 1024 * 1024);
	close(a[1]);
	close(b[1]);
	pair_teardown(&p);
}

/* n streams opened by the server of p, their browser ends in b */
static void
open_streams(struct pair *p, int *b, int n)
{
	int	 sv[2], i;

	for (i = 0; i < n; i++) {
		assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM |
		    SOCK_NONBLOCK, 0, sv), 0);
		assert_int_equal(kgp_conn_open_stream(p->server, sv[0], "h",
		    "GET", 3), 0);
		b[i] = sv[1];
	}
	for (i = 0; i < 3000 && p->napps < n; i++) {
		event_base_loop(p->base, EVLOOP_NONBLOCK);
		usleep(1000);
	}
	assert_int_equal(p->napps, n);
}

/*
 * route_link(): a tunnel's two sessions, one with six idle kept-alive
 * streams, the other with one stream carrying a bulk download (its app
 * writes, its browser reads).  A new stream goes to the idle one, not
 * behind the bulk; with neither busy, to the one with fewer streams.
 */
static void
test_route_link_load(void **state)
{
	struct pair		 idle, bulk;
	struct tunnel		 t;
	struct kgp_client	 ci, cb;
	unsigned char		 buf[65536];
	int			 ib[6], bb[1], i;
	uint64_t		 got = 0;
	ssize_t			 n;

	pair_setup(&idle, "s3cret", NULL);
	pair_setup(&bulk, "s3cret", NULL);
	run_until(&idle, &idle.client_up, 3000);
	run_until(&bulk, &bulk.client_up, 3000);
	open_streams(&idle, ib, 6);
	open_streams(&bulk, bb, 1);
	memset(&t, 0, sizeof(t));
	memset(&ci, 0, sizeof(ci));
	memset(&cb, 0, sizeof(cb));
	TAILQ_INIT(&t.links);
	ci.conn = idle.server;
	cb.conn = bulk.server;
	TAILQ_INSERT_TAIL(&t.links, &ci, tentry);
	TAILQ_INSERT_TAIL(&t.links, &cb, tentry);
	/* both quiet: the fewer streams */
	assert_ptr_equal(route_link(&t), &cb);

	memset(buf, 'd', sizeof(buf));
	for (i = 0; i < 20000 && got < 16 * 1024 * 1024; i++) {
		(void)write(bulk.app_fds[0], buf, sizeof(buf));
		event_base_loop(bulk.base, EVLOOP_NONBLOCK);
		event_base_loop(idle.base, EVLOOP_NONBLOCK);
		while ((n = read(bb[0], buf, sizeof(buf))) > 0)
			got += n;
	}
	assert_true(got >= 16 * 1024 * 1024);
	/* in flight: the new stream goes to the idle streams */
	assert_ptr_equal(route_link(&t), &ci);

	for (i = 0; i < 6; i++)
		close(ib[i]);
	close(bb[0]);
	pair_teardown(&idle);
	pair_teardown(&bulk);
}

/*
 * Sessions (KGP 2).  A server session, the server connection in its
 * handshake that may resume it, and a client, on a transport that the
 * tests can break at will: clear-text socketpairs, or TLS over them.
 */
#define RS_APPS		32

struct rs {
	struct event_base	*base;
	int			 tls;
	struct tls_config	*scfg;
	struct tls_config	*ccfg;
	struct tls		*stls;
	struct kgp_params	 sp;
	struct kgp_params	 cp;
	struct kgp_conn		*server;	/* the server's session */
	struct kgp_conn		*fresh;		/* a server link's handshake */
	struct kgp_conn		*client;
	int			 link[2];	/* server end, client end */
	int			 adopt;		/* hello resumes a known one */
	int			 adopted;
	int			 hellos;
	int			 srv_up;
	int			 cli_up;
	int			 srv_broken;
	int			 cli_broken;
	int			 cli_broken_code;
	int			 srv_down;
	int			 srv_code;
	char			 srv_why[256];
	int			 cli_down;
	int			 cli_code;
	int			 fresh_down;
	int			 fresh_code;
	char			 cli_why[256];
	int			 goaway;
	int			 goaway_code;
	char			 goaway_why[256];
	int			 app_fds[RS_APPS];
	uint32_t		 app_ids[RS_APPS];
	int			 napps;
	int			 app_sndbuf;	/* the engine's end, if set */
	int			 switched;	/* moves that switched */
	int			 switch_failed;	/* ... or ended before */
	int			 lent;		/* lends over */
	int			 lent_how;	/* the last one's KGP_LENT_* */
	uint64_t		 lent_got;
};

static int
rs_hello(struct kgp_conn *c, const struct kgp_hello *h, void *arg)
{
	struct rs	*r = arg;

	r->hellos++;
	if (strcmp(h->secret, "s3cret") != 0)
		return (KGP_E_AUTH);
	if (c != r->fresh)
		return (0);
	if (r->server != NULL) {
		if (!r->adopt || h->session != kgp_conn_session(r->server))
			return (KGP_E_INTERNAL);
		kgp_conn_adopt(c, r->server);
		r->adopted++;
		return (0);
	}
	/* the server has no such session: this one is new */
	r->server = c;
	r->fresh = NULL;
	return (0);
}

static void
rs_srv_up(struct kgp_conn *c, void *arg)
{
	struct rs	*r = arg;

	if (c == r->server)
		r->srv_up++;
}

static void
rs_srv_broken(struct kgp_conn *c, int code, const char *why, void *arg)
{
	((struct rs *)arg)->srv_broken++;
}

static void
rs_srv_down(struct kgp_conn *c, int code, const char *why, void *arg)
{
	struct rs	*r = arg;

	if (c == r->server) {
		r->srv_down++;
		r->srv_code = code;
		strlcpy(r->srv_why, why, sizeof(r->srv_why));
		r->server = NULL;
	} else if (c == r->fresh) {
		r->fresh_down++;
		r->fresh_code = code;
		r->fresh = NULL;
	} else
		fail_msg("down of an unknown server connection");
	kgp_conn_free(c);
}

static void
rs_cli_up(struct kgp_conn *c, void *arg)
{
	((struct rs *)arg)->cli_up++;
}

static void
rs_cli_broken(struct kgp_conn *c, int code, const char *why, void *arg)
{
	struct rs	*r = arg;

	r->cli_broken++;
	r->cli_broken_code = code;
}

static void
rs_cli_goaway(struct kgp_conn *c, int code, const char *why, void *arg)
{
	struct rs	*r = arg;

	r->goaway++;
	r->goaway_code = code;
	strlcpy(r->goaway_why, why, sizeof(r->goaway_why));
}

static void
rs_cli_down(struct kgp_conn *c, int code, const char *why, void *arg)
{
	struct rs	*r = arg;

	r->cli_down++;
	r->cli_code = code;
	strlcpy(r->cli_why, why, sizeof(r->cli_why));
	kgp_conn_free(c);
	r->client = NULL;
}

static int
rs_cli_open(struct kgp_conn *c, uint32_t id, const char *meta,
    uint16_t *code, char *reason, size_t len, void *arg)
{
	struct rs	*r = arg;
	int		 sv[2];

	if (r->napps == RS_APPS || socketpair(AF_UNIX, SOCK_STREAM |
	    SOCK_NONBLOCK, 0, sv) == -1) {
		*code = KGP_E_LIMIT;
		return (-1);
	}
	if (r->app_sndbuf)
		setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &r->app_sndbuf,
		    sizeof(r->app_sndbuf));
	r->app_ids[r->napps] = id;
	r->app_fds[r->napps++] = sv[1];
	return (sv[0]);
}

static void
rs_cli_lent(struct kgp_conn *c, uint32_t id, int how, uint64_t got,
    int err, void *arg)
{
	struct rs	*r = arg;

	r->lent++;
	r->lent_how = how;
	r->lent_got = got;
}

static void
rs_cli_switched(struct kgp_conn *c, uint32_t id, int ok, void *arg)
{
	struct rs	*r = arg;

	if (ok)
		r->switched++;
	else
		r->switch_failed++;
}

static const struct kgp_callbacks rs_srv_cb = {
	.hello = rs_hello, .up = rs_srv_up, .broken = rs_srv_broken,
	.down = rs_srv_down,
};
static const struct kgp_callbacks rs_cli_cb = {
	.open = rs_cli_open, .up = rs_cli_up, .broken = rs_cli_broken,
	.goaway = rs_cli_goaway, .switched = rs_cli_switched,
	.lent = rs_cli_lent, .down = rs_cli_down,
};

static uint64_t
ms_now(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((uint64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
}

/* run the loop until cond holds, for ms at most */
#define RS_RUN(r, cond, ms) do {					\
	uint64_t _end = ms_now() + (ms);				\
	while (!(cond) && ms_now() < _end) {				\
		event_base_loop((r)->base, EVLOOP_NONBLOCK);		\
		if (!(cond))						\
			usleep(500);					\
	}								\
} while (0)

/* A new transport: the server's end and the client's, TLS or not. */
static void
rs_link(struct rs *r, int *sfd, struct kgp_tls **stls, int *cfd,
    struct kgp_tls **ctls)
{
	struct tls	*ctx;
	int		 sv[2];

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0,
	    sv), 0);
	*sfd = sv[0];
	*cfd = sv[1];
	*stls = *ctls = NULL;
	if (!r->tls)
		return;
	assert_non_null(*stls = kgp_tls_accept(r->stls, sv[0]));
	assert_non_null(ctx = tls_client());
	assert_int_equal(tls_configure(ctx, r->ccfg), 0);
	assert_non_null(*ctls = kgp_tls_connect(ctx, sv[1], "kgp-test"));
}

/* The parameters of both ends, and TLS material if asked */
static void
rs_init(struct rs *r, int tls, uint32_t grace_ms, uint32_t srv_ping_ms,
    uint32_t cli_ping_ms)
{
	memset(r, 0, sizeof(*r));
	r->tls = tls;
	r->adopt = 1;
	assert_non_null(r->base = event_base_new());
	if (tls) {
		assert_non_null(r->scfg = tls_config_new());
		assert_int_equal(tls_config_set_keypair_mem(r->scfg,
		    (const uint8_t *)test_cert, strlen(test_cert),
		    (const uint8_t *)test_key, strlen(test_key)), 0);
		assert_non_null(r->stls = tls_server());
		assert_int_equal(tls_configure(r->stls, r->scfg), 0);
		assert_non_null(r->ccfg = tls_config_new());
		tls_config_insecure_noverifycert(r->ccfg);
		tls_config_insecure_noverifyname(r->ccfg);
	}
	r->sp.role = KGP_ROLE_SERVER;
	r->sp.window = 64 * 1024;
	r->sp.grace_ms = grace_ms;
	r->sp.ping_ms = srv_ping_ms;
	r->sp.max_missed = 3;
	r->cp.role = KGP_ROLE_CLIENT;
	r->cp.window = 64 * 1024;
	r->cp.tunnel_id = "0123456789abcdef0123456789abcdef";
	r->cp.secret = "s3cret";
	r->cp.ping_ms = cli_ping_ms;
	r->cp.max_missed = 3;
}

/* A server and a client, up: the server's grace, each side's keepalive */
static void
rs_setup(struct rs *r, int tls, uint32_t grace_ms, uint32_t srv_ping_ms,
    uint32_t cli_ping_ms)
{
	struct kgp_tls	*stls, *ctls;

	rs_init(r, tls, grace_ms, srv_ping_ms, cli_ping_ms);
	rs_link(r, &r->link[0], &stls, &r->link[1], &ctls);
	assert_non_null(r->server = kgp_conn_new(r->base, r->link[0], stls,
	    &r->sp, &rs_srv_cb, r));
	assert_non_null(r->client = kgp_conn_new(r->base, r->link[1], ctls,
	    &r->cp, &rs_cli_cb, r));
	RS_RUN(r, r->cli_up && r->srv_up, 3000);
	assert_int_equal(r->cli_up, 1);
	assert_int_equal(r->srv_up, 1);
	assert_true(kgp_conn_session(r->client) != 0);
	assert_true(kgp_conn_session(r->server) ==
	    kgp_conn_session(r->client));
}

static void
rs_teardown(struct rs *r)
{
	int	 i;

	kgp_conn_free(r->server);
	kgp_conn_free(r->fresh);
	kgp_conn_free(r->client);
	for (i = 0; i < r->napps; i++)
		close(r->app_fds[i]);
	tls_free(r->stls);
	tls_config_free(r->scfg);
	tls_config_free(r->ccfg);
	event_base_free(r->base);
}

/*
 * The client resumes on a new transport; the server side of it is a new
 * connection whose hello adopts the session (or starts a new one when
 * the server has none).
 */
static void
rs_resume(struct rs *r)
{
	struct kgp_tls	*stls, *ctls;
	int		 sfd, cfd;

	rs_link(r, &sfd, &stls, &cfd, &ctls);
	assert_int_equal(kgp_conn_resume(r->client, cfd, ctls), 0);
	assert_null(r->fresh);
	assert_non_null(r->fresh = kgp_conn_new(r->base, sfd, stls, &r->sp,
	    &rs_srv_cb, r));
	r->link[0] = sfd;
	r->link[1] = cfd;
}

/* rs_resume(), then wait until both ends are up again in the session */
static void
rs_resume_wait(struct rs *r)
{
	int	 adopted = r->adopted, cli_up = r->cli_up;
	int	 srv_up = r->srv_up, fresh_down = r->fresh_down;

	rs_resume(r);
	RS_RUN(r, r->adopted > adopted && r->cli_up > cli_up &&
	    r->srv_up > srv_up && r->fresh_down > fresh_down, 5000);
	assert_int_equal(r->adopted, adopted + 1);
	assert_int_equal(r->cli_up, cli_up + 1);
	assert_int_equal(r->srv_up, srv_up + 1);
	/* the connection that brought the link is done, quietly */
	assert_int_equal(r->fresh_down, fresh_down + 1);
	assert_int_equal(r->fresh_code, KGP_E_NONE);
	assert_null(r->fresh);
	assert_non_null(r->server);
	assert_non_null(r->client);
}

/*
 * Bytes both ways through one stream: fd[0] is the server's local end
 * (a browser), fd[1] the client's (an application).  Each side writes
 * len bytes of its own pattern, then shuts down its write side; each
 * read is checked against the other side's pattern at its offset, so a
 * byte lost, doubled or out of place shows at once.
 */
struct xfer {
	int		 fd[2];
	size_t		 len;
	uint8_t		*src[2];
	size_t		 wr[2];		/* written into fd[i] */
	size_t		 rd[2];		/* read from fd[i] */
	int		 shut[2];
	int		 eof[2];
	int		 rerr[2];
	int		 reading[2];
	int		 writing[2];
	size_t		 bad_at;	/* first wrong byte, + 1 */
	int		 bad_dir;
};

static uint8_t
xfer_pat(int dir, size_t k)
{
	uint32_t	 x = (uint32_t)k * 0x9e3779b1U + dir * 0x51ed27U;

	x ^= x >> 15;
	x *= 0x85ebca6bU;
	x ^= x >> 13;
	return (x & 0xff);
}

static void
xfer_init(struct xfer *x, int browser, int app, size_t len)
{
	size_t	 k;
	int	 d;

	memset(x, 0, sizeof(*x));
	x->fd[0] = browser;
	x->fd[1] = app;
	x->len = len;
	for (d = 0; d < 2; d++) {
		assert_non_null(x->src[d] = malloc(len));
		for (k = 0; k < len; k++)
			x->src[d][k] = xfer_pat(d, k);
		x->reading[d] = x->writing[d] = 1;
	}
}

static void
xfer_free(struct xfer *x)
{
	free(x->src[0]);
	free(x->src[1]);
}

/* one round of local I/O; returns the bytes moved */
static size_t
xfer_step(struct xfer *x)
{
	uint8_t		 buf[65536];
	size_t		 moved = 0, n, i;
	ssize_t		 r;
	int		 d;

	for (d = 0; d < 2; d++) {
		if (x->writing[d] && x->wr[d] < x->len) {
			n = x->len - x->wr[d];
			if (n > sizeof(buf))
				n = sizeof(buf);
			if ((r = write(x->fd[d], x->src[d] + x->wr[d], n)) > 0) {
				x->wr[d] += r;
				moved += r;
			}
		}
		if (x->wr[d] == x->len && !x->shut[d]) {
			shutdown(x->fd[d], SHUT_WR);
			x->shut[d] = 1;
		}
		if (!x->reading[d] || x->eof[d] || x->rerr[d])
			continue;
		r = read(x->fd[d], buf, sizeof(buf));
		if (r == 0)
			x->eof[d] = 1;
		else if (r == -1 && errno != EAGAIN)
			x->rerr[d] = errno;
		else if (r > 0) {
			for (i = 0; i < (size_t)r && x->bad_at == 0; i++)
				if (x->rd[d] + i >= x->len ||
				    buf[i] != x->src[!d][x->rd[d] + i]) {
					x->bad_at = x->rd[d] + i + 1;
					x->bad_dir = !d;
				}
			x->rd[d] += r;
			moved += r;
		}
	}
	return (moved);
}

#define XFER_RUN(r, x, cond, ms) do {					\
	uint64_t _end = ms_now() + (ms);				\
	while (!(cond) && ms_now() < _end && (x)->bad_at == 0) {	\
		size_t _moved = xfer_step(x);				\
		event_base_loop((r)->base, EVLOOP_NONBLOCK);		\
		if (_moved == 0)					\
			usleep(200);					\
	}								\
} while (0)

#define XFER_DONE(x)	((x)->eof[0] && (x)->eof[1])

static void
xfer_check(struct xfer *x)
{
	if (x->bad_at != 0)
		fail_msg("direction %d: wrong byte at offset %zu", x->bad_dir,
		    x->bad_at - 1);
	assert_int_equal(x->rerr[0], 0);
	assert_int_equal(x->rerr[1], 0);
	assert_int_equal(x->wr[0], x->len);
	assert_int_equal(x->wr[1], x->len);
	assert_int_equal(x->rd[0], x->len);
	assert_int_equal(x->rd[1], x->len);
	assert_true(x->eof[0]);
	assert_true(x->eof[1]);
}

static size_t
xfer_least(struct xfer *x)
{
	return (x->rd[0] < x->rd[1] ? x->rd[0] : x->rd[1]);
}

/* The server opens a stream; the client's application takes it. */
static int
rs_open(struct rs *r, const char *meta)
{
	int	 sv[2], napps = r->napps;

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0,
	    sv), 0);
	assert_int_equal(kgp_conn_open_stream(r->server, sv[0], meta, NULL,
	    0), 0);
	RS_RUN(r, r->napps > napps, 3000);
	assert_int_equal(r->napps, napps + 1);
	return (sv[1]);
}

enum rs_break {
	BREAK_SHUT_SERVER,	/* the server's end of the transport fails */
	BREAK_SHUT_CLIENT,	/* the client's end fails */
	BREAK_CLIENT_ONLY,	/* the client moves on; the server sees nothing */
	BREAK_FAILED_RESUME,	/* both notice; the first resume fails too */
	BREAK_MAX
};

/* Break the link of an up session the given way and resume it. */
static void
rs_break_resume(struct rs *r, struct xfer *x, enum rs_break how)
{
	struct kgp_conn_stats	 st;
	int			 sv[2], spare;
	int			 cli_broken = r->cli_broken;
	int			 srv_broken = r->srv_broken;

	switch (how) {
	case BREAK_SHUT_SERVER:
	case BREAK_SHUT_CLIENT:
	case BREAK_FAILED_RESUME:
		shutdown(r->link[how == BREAK_SHUT_CLIENT], SHUT_RDWR);
		XFER_RUN(r, x, r->cli_broken > cli_broken &&
		    r->srv_broken > srv_broken, 3000);
		assert_int_equal(r->cli_broken, cli_broken + 1);
		assert_int_equal(r->srv_broken, srv_broken + 1);
		kgp_conn_stats(r->client, &st);
		assert_true(st.broken);
		assert_false(st.up);
		kgp_conn_stats(r->server, &st);
		assert_true(st.broken);
		assert_false(st.up);
		/* the session waits: the local sockets stay, bytes pile */
		XFER_RUN(r, x, 0, 50);
		if (how != BREAK_FAILED_RESUME)
			break;
		/* a resume whose new link dies at once */
		assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM |
		    SOCK_NONBLOCK, 0, sv), 0);
		close(sv[0]);
		assert_int_equal(kgp_conn_resume(r->client, sv[1], NULL), 0);
		XFER_RUN(r, x, r->cli_broken > cli_broken + 1, 3000);
		assert_int_equal(r->cli_broken, cli_broken + 2);
		kgp_conn_stats(r->client, &st);
		assert_true(st.broken);
		break;
	case BREAK_CLIENT_ONLY:
		/*
		 * The old transport stays open behind the server's back:
		 * whatever it sends there is lost, and its session is still
		 * up when the client comes back.
		 */
		assert_true((spare = dup(r->link[1])) != -1);
		rs_resume_wait(r);
		assert_int_equal(r->srv_broken, srv_broken);
		assert_int_equal(r->cli_broken, cli_broken);
		close(spare);
		return;
	case BREAK_MAX:
		break;
	}
	rs_resume_wait(r);
}

/*
 * A stream carrying several MiB each way while its link breaks (nbreaks
 * times, the ways given in turn); every byte arrives once and in order.
 */
static void
resume_transfer(int tls, const enum rs_break *how, int nbreaks, size_t len)
{
	struct rs		 r;
	struct xfer		 x;
	struct kgp_conn_stats	 cs, ss;
	uint64_t		 session;
	int			 i, browser;

	rs_setup(&r, tls, 0, 0, 0);
	session = kgp_conn_session(r.client);
	browser = rs_open(&r, "1.2.3.4:5");
	assert_int_equal(r.app_ids[0], 1);
	xfer_init(&x, browser, r.app_fds[0], len);
	for (i = 0; i < nbreaks; i++) {
		XFER_RUN(&r, &x, xfer_least(&x) >= len * (i + 1) /
		    (nbreaks + 1), 20000);
		if (x.bad_at)
			break;
		assert_true(xfer_least(&x) < len);
		rs_break_resume(&r, &x, how[i]);
		/* the same session, the same stream */
		assert_true(kgp_conn_session(r.client) == session);
		assert_true(kgp_conn_session(r.server) == session);
		kgp_conn_stats(r.client, &cs);
		kgp_conn_stats(r.server, &ss);
		assert_int_equal(cs.streams_open, 1);
		assert_int_equal(ss.streams_open, 1);
		assert_true(cs.up && !cs.broken && cs.last_resumed);
		assert_true(ss.up && !ss.broken && ss.last_resumed);
	}
	XFER_RUN(&r, &x, XFER_DONE(&x), 30000);
	xfer_check(&x);
	/* no stream was opened again, none was lost */
	assert_int_equal(r.napps, 1);
	RS_RUN(&r, 0, 50);
	kgp_conn_stats(r.client, &cs);
	kgp_conn_stats(r.server, &ss);
	assert_int_equal(cs.streams_total, 1);
	assert_int_equal(ss.streams_total, 1);
	assert_int_equal(cs.streams_open, 0);
	assert_int_equal(ss.streams_open, 0);
	assert_int_equal(cs.bytes_in, len);
	assert_int_equal(cs.bytes_out, len);
	assert_int_equal(ss.bytes_in, len);
	assert_int_equal(ss.bytes_out, len);
	assert_int_equal(cs.resumes, nbreaks);
	assert_int_equal(ss.resumes, nbreaks);
	assert_int_equal(cs.breaks, nbreaks);
	assert_int_equal(ss.breaks, nbreaks);
	assert_true(cs.up && ss.up);
	assert_int_equal(r.cli_down + r.srv_down, 0);
	close(browser);
	xfer_free(&x);
	rs_teardown(&r);
}

static void
test_resume_both_notice(void **state)
{
	const enum rs_break	 how[] = { BREAK_SHUT_SERVER };

	resume_transfer(0, how, 1, 6 * 1024 * 1024 + 333);
}

static void
test_resume_client_end_shut(void **state)
{
	const enum rs_break	 how[] = { BREAK_SHUT_CLIENT };

	resume_transfer(0, how, 1, 6 * 1024 * 1024 + 333);
}

static void
test_resume_server_unaware(void **state)
{
	const enum rs_break	 how[] = { BREAK_CLIENT_ONLY };

	resume_transfer(0, how, 1, 6 * 1024 * 1024 + 333);
}

static void
test_resume_failed_attempt(void **state)
{
	const enum rs_break	 how[] = { BREAK_FAILED_RESUME };

	resume_transfer(0, how, 1, 4 * 1024 * 1024 + 1);
}

static void
test_resume_many_breaks(void **state)
{
	const enum rs_break	 how[] = {
		BREAK_CLIENT_ONLY, BREAK_SHUT_SERVER, BREAK_CLIENT_ONLY,
		BREAK_FAILED_RESUME, BREAK_SHUT_CLIENT, BREAK_CLIENT_ONLY,
		BREAK_SHUT_SERVER, BREAK_CLIENT_ONLY
	};

	resume_transfer(0, how, sizeof(how) / sizeof(how[0]),
	    8 * 1024 * 1024 + 7);
}

/* the same over TLS: the new link's TLS context moves into the session */
static void
test_resume_tls(void **state)
{
	const enum rs_break	 how[] = {
		BREAK_SHUT_SERVER, BREAK_CLIENT_ONLY, BREAK_SHUT_CLIENT
	};

	resume_transfer(1, how, sizeof(how) / sizeof(how[0]),
	    12 * 1024 * 1024 + 5);
}

/* read until EOF or an error: the stream is gone */
static int
rs_gone(struct rs *r, int fd, int ms)
{
	char		 buf[4096];
	uint64_t	 end = ms_now() + ms;
	ssize_t		 n;

	while (ms_now() < end) {
		n = read(fd, buf, sizeof(buf));
		if (n == 0 || (n == -1 && errno != EAGAIN))
			return (1);
		if (n == -1) {
			event_base_loop(r->base, EVLOOP_NONBLOCK);
			usleep(500);
		}
	}
	return (0);
}

/*
 * The server vanishes (its host is gone: the transport stays open, no
 * byte comes back): the client sees it by keepalive, resumes on a new
 * server, which does not know the session.  The client's streams are
 * reset and the session goes on afresh.
 */
static void
test_resume_session_lost(void **state)
{
	struct rs		 r;
	struct xfer		 x;
	struct kgp_conn_stats	 cs;
	uint64_t		 session;
	int			 browser, spare, b2;

	rs_setup(&r, 0, 0, 0, 40);
	session = kgp_conn_session(r.client);
	browser = rs_open(&r, "old");
	xfer_init(&x, browser, r.app_fds[0], 256 * 1024);
	XFER_RUN(&r, &x, xfer_least(&x) >= 64 * 1024, 5000);
	xfer_free(&x);
	assert_true((spare = dup(r.link[0])) != -1);
	kgp_conn_free(r.server);
	r.server = NULL;
	/* the server's local end went with it */
	assert_true(rs_gone(&r, browser, 1000));
	close(browser);

	RS_RUN(&r, r.cli_broken > 0, 3000);
	assert_int_equal(r.cli_broken, 1);
	assert_int_equal(r.cli_broken_code, KGP_E_TIMEOUT);
	kgp_conn_stats(r.client, &cs);
	assert_true(cs.broken);
	assert_int_equal(cs.streams_open, 1);
	close(spare);

	/* a new server: the HELLO's session is unknown there */
	rs_resume(&r);
	RS_RUN(&r, r.cli_up == 2 && r.srv_up == 2, 3000);
	assert_int_equal(r.cli_up, 2);
	assert_int_equal(r.adopted, 0);
	assert_non_null(r.server);
	assert_non_null(r.client);
	assert_int_equal(r.cli_down, 0);
	/* the application's end of the old stream sees it reset */
	assert_true(rs_gone(&r, r.app_fds[0], 1000));
	kgp_conn_stats(r.client, &cs);
	assert_true(cs.up);
	assert_false(cs.last_resumed);
	assert_int_equal(cs.streams_open, 0);
	assert_true(kgp_conn_session(r.client) == session);

	/* the new session carries a new stream, from id 1 again */
	b2 = rs_open(&r, "new");
	assert_int_equal(r.app_ids[1], 1);
	xfer_init(&x, b2, r.app_fds[1], 1024 * 1024 + 3);
	XFER_RUN(&r, &x, XFER_DONE(&x), 10000);
	xfer_check(&x);
	xfer_free(&x);
	close(b2);
	rs_teardown(&r);
}

/*
 * A broken server session waits grace_ms: a resume within it goes on
 * (and its clock starts anew at the next break); past it, the session
 * is down with KGP_E_TIMEOUT and its streams are closed.
 */
static void
test_grace(void **state)
{
	struct rs		 r;
	struct xfer		 x;
	struct kgp_conn_stats	 cs;
	uint64_t		 t0;
	int			 browser;

	rs_setup(&r, 0, 300, 0, 0);
	browser = rs_open(&r, "g");
	xfer_init(&x, browser, r.app_fds[0], 4 * 1024 * 1024);

	/* twice a break resumed in time, waiting more than the grace */
	for (int i = 0; i < 2; i++) {
		shutdown(r.link[0], SHUT_RDWR);
		RS_RUN(&r, r.srv_broken == i + 1 && r.cli_broken == i + 1,
		    3000);
		assert_int_equal(r.srv_broken, i + 1);
		RS_RUN(&r, 0, 200);
		assert_int_equal(r.srv_down, 0);
		rs_resume_wait(&r);
		RS_RUN(&r, 0, 200);
		assert_int_equal(r.srv_down, 0);
	}
	XFER_RUN(&r, &x, xfer_least(&x) >= 64 * 1024, 5000);

	/* and then not */
	shutdown(r.link[1], SHUT_RDWR);
	RS_RUN(&r, r.srv_broken == 3, 3000);
	assert_int_equal(r.srv_broken, 3);
	t0 = ms_now();
	RS_RUN(&r, r.srv_down, 3000);
	assert_int_equal(r.srv_down, 1);
	assert_int_equal(r.srv_code, KGP_E_TIMEOUT);
	assert_true(ms_now() - t0 >= 250);
	assert_null(r.server);
	/* its stream went with it */
	assert_true(rs_gone(&r, browser, 1000));
	/* the client, without a grace of its own, still waits */
	assert_int_equal(r.cli_down, 0);
	kgp_conn_stats(r.client, &cs);
	assert_true(cs.broken);
	assert_int_equal(cs.streams_open, 1);
	/* and learns when it comes back that the session is gone */
	rs_resume(&r);
	RS_RUN(&r, r.cli_up == 4 && r.server != NULL, 3000);
	assert_int_equal(r.cli_up, 4);
	assert_true(rs_gone(&r, r.app_fds[0], 1000));
	kgp_conn_stats(r.client, &cs);
	assert_int_equal(cs.streams_open, 0);
	assert_false(cs.last_resumed);
	close(browser);
	xfer_free(&x);
	rs_teardown(&r);
}

/*
 * GOAWAY: the client is told, the server opens no new stream, the open
 * one finishes both ways, and then the connection ends.
 */
static void
test_goaway(void **state)
{
	struct rs		 r;
	struct xfer		 x;
	int			 browser, sv[2];

	rs_setup(&r, 0, 0, 30, 0);
	/*
	 * Only the server's keepalive (which checks the drain): the client
	 * says nothing once the stream is done, see test_close_while_busy
	 * for a client that does.
	 */
	browser = rs_open(&r, "busy");
	xfer_init(&x, browser, r.app_fds[0], 2 * 1024 * 1024);
	XFER_RUN(&r, &x, xfer_least(&x) >= 512 * 1024, 10000);
	assert_true(xfer_least(&x) < x.len);

	kgp_conn_goaway(r.server, KGP_E_SHUTDOWN, "maintenance");
	XFER_RUN(&r, &x, r.goaway > 0, 3000);
	assert_int_equal(r.goaway, 1);
	assert_int_equal(r.goaway_code, KGP_E_SHUTDOWN);
	assert_string_equal(r.goaway_why, "maintenance");
	/* a second one says nothing new */
	kgp_conn_goaway(r.server, KGP_E_SHUTDOWN, "again");
	/* no new stream from the server (the caller keeps its socket) */
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0,
	    sv), 0);
	assert_int_equal(kgp_conn_open_stream(r.server, sv[0], "late", NULL,
	    0), -1);
	assert_int_equal(write(sv[1], "x", 1), 1);
	close(sv[0]);
	close(sv[1]);

	/* the open stream goes on to its end */
	XFER_RUN(&r, &x, XFER_DONE(&x), 20000);
	xfer_check(&x);
	/* then the connection ends, at a keepalive tick */
	RS_RUN(&r, r.cli_down && r.srv_down, 3000);
	assert_int_equal(r.cli_down, 1);
	assert_int_equal(r.srv_down, 1);
	assert_int_equal(r.cli_code, KGP_E_SHUTDOWN);
	assert_int_equal(r.goaway, 1);
	assert_int_equal(r.napps, 1);
	close(browser);
	xfer_free(&x);
	rs_teardown(&r);
}

/*
 * The server ends the session (the tunnel was deleted) while the client
 * is busy sending: the client goes down with the server's code, it does
 * not take the end for a broken link to resume.
 */
static void
test_close_while_busy(void **state)
{
	struct rs		 r;
	struct xfer		 x;
	int			 browser;

	rs_setup(&r, 0, 0, 0, 0);
	browser = rs_open(&r, "busy");
	xfer_init(&x, browser, r.app_fds[0], 16 * 1024 * 1024);
	/* the browser does not read: the client has much to say */
	x.reading[0] = 0;
	XFER_RUN(&r, &x, x.rd[1] >= 1024 * 1024, 10000);
	kgp_conn_close(r.server, KGP_E_TERMINATED, "tunnel deleted");
	XFER_RUN(&r, &x, r.cli_down || r.cli_broken, 5000);
	assert_int_equal(r.cli_broken, 0);
	assert_int_equal(r.cli_down, 1);
	assert_int_equal(r.cli_code, KGP_E_TERMINATED);
	assert_non_null(strstr(r.cli_why, "tunnel deleted"));
	RS_RUN(&r, r.srv_down, 3000);
	assert_int_equal(r.srv_down, 1);
	assert_int_equal(r.srv_code, KGP_E_TERMINATED);
	close(browser);
	xfer_free(&x);
	rs_teardown(&r);
}

/*
 * GOAWAY when the server is done with its last stream but the client's
 * application has not read all of it yet: the bytes the server sent
 * still reach the application before the connection ends.
 */
static void
test_goaway_tail(void **state)
{
	struct rs		 r;
	struct kgp_conn_stats	 ss;
	uint8_t			 buf[65536];
	size_t			 got = 0;
	ssize_t			 n;
	int			 browser, i, eof = 0;

	rs_setup(&r, 0, 0, 0, 0);
	r.app_sndbuf = 4096;
	browser = rs_open(&r, "upload");
	/* the application has nothing to say; the browser a window's worth */
	shutdown(r.app_fds[0], SHUT_WR);
	memset(buf, 'u', sizeof(buf));
	assert_int_equal(write(browser, buf, sizeof(buf)), sizeof(buf));
	shutdown(browser, SHUT_WR);
	/* the server is done with the stream: all sent, all answered */
	for (i = 0; i < 3000; i++) {
		kgp_conn_stats(r.server, &ss);
		if (ss.streams_open == 0)
			break;
		event_base_loop(r.base, EVLOOP_NONBLOCK);
		usleep(500);
	}
	assert_int_equal(ss.streams_open, 0);
	kgp_conn_goaway(r.server, KGP_E_SHUTDOWN, "maintenance");
	/* the application reads only now: all of it, then the end */
	for (i = 0; i < 6000 && !eof; i++) {
		event_base_loop(r.base, EVLOOP_NONBLOCK);
		if ((n = read(r.app_fds[0], buf, sizeof(buf))) > 0)
			got += n;
		else if (n == 0 || errno != EAGAIN)
			eof = 1;
		else
			usleep(500);
	}
	assert_true(eof);
	assert_int_equal(got, sizeof(buf));
	close(browser);
	rs_teardown(&r);
}

/* GOAWAY with nothing open closes at once */
/*
 * A window's worth and one byte more, then EOF, with an application that
 * does not read yet: the last byte waits in the browser's socket for
 * credit, and FIN may not overtake it.  Once the application reads, all
 * of it comes, then the end.  The window is what a new stream gets at
 * once (KGP_OPEN_WINDOW); it does not grow for a reader that stalls.
 */
static void
test_window_then_eof(void **state)
{
	struct rs		 r;
	struct kgp_conn_stats	 ss;
	static uint8_t		 buf[KGP_OPEN_WINDOW + 1];
	size_t			 got = 0;
	ssize_t			 n;
	size_t			 put = 0;
	int			 browser, i, eof = 0, last = 0;

	rs_setup(&r, 0, 0, 0, 0);
	r.app_sndbuf = 4096;
	browser = rs_open(&r, "upload");
	memset(buf, 'w', sizeof(buf));
	buf[sizeof(buf) - 1] = 'z';
	for (i = 0; i < 2000 && put < sizeof(buf); i++) {
		if ((n = write(browser, buf + put, sizeof(buf) - put)) > 0)
			put += n;
		event_base_loop(r.base, EVLOOP_NONBLOCK);
	}
	assert_int_equal(put, sizeof(buf));
	shutdown(browser, SHUT_WR);
	for (i = 0; i < 400; i++) {
		event_base_loop(r.base, EVLOOP_NONBLOCK);
		usleep(500);
	}
	/* the window is spent and the last byte waits for credit */
	kgp_conn_stats(r.server, &ss);
	assert_int_equal(ss.bytes_out, KGP_OPEN_WINDOW);
	for (i = 0; i < 6000 && !eof; i++) {
		event_base_loop(r.base, EVLOOP_NONBLOCK);
		if ((n = read(r.app_fds[0], buf, sizeof(buf))) > 0) {
			got += n;
			last = buf[n - 1];
		} else if (n == 0 || errno != EAGAIN)
			eof = 1;
		else
			usleep(500);
	}
	assert_true(eof);
	assert_int_equal(got, sizeof(buf));
	assert_int_equal(last, 'z');
	close(browser);
	rs_teardown(&r);
}

static void
test_goaway_idle(void **state)
{
	struct rs	 r;

	rs_setup(&r, 0, 0, 0, 0);
	kgp_conn_goaway(r.server, KGP_E_SHUTDOWN, "bye");
	RS_RUN(&r, r.cli_down && r.srv_down, 3000);
	assert_int_equal(r.cli_down, 1);
	assert_int_equal(r.srv_down, 1);
	assert_int_equal(r.cli_code, KGP_E_SHUTDOWN);
	assert_int_equal(r.srv_code, KGP_E_SHUTDOWN);
	rs_teardown(&r);
}

/*
 * What a session holds stays bounded by the windows when the readers
 * stall, and while the link is broken (nothing is acknowledged then):
 * the writers are stopped instead.  Afterwards every byte arrives.
 */
static void
test_memory_bound(void **state)
{
	struct rs		 r;
	struct xfer		 x;
	struct kgp_conn_stats	 cs, ss, cs2, ss2;
	const size_t		 len = 32 * 1024 * 1024;
	const uint64_t		 window = 64 * 1024;
	int			 browser;

	rs_setup(&r, 0, 0, 0, 0);
	browser = rs_open(&r, "slow");
	xfer_init(&x, browser, r.app_fds[0], len);
	/* nobody reads: each writer must be stopped */
	x.reading[0] = x.reading[1] = 0;
	XFER_RUN(&r, &x, 0, 1000);
	assert_true(x.wr[0] < 8 * 1024 * 1024);
	assert_true(x.wr[1] < 8 * 1024 * 1024);
	kgp_conn_stats(r.client, &cs);
	kgp_conn_stats(r.server, &ss);
	/* in flight: within a window; taken from the writers: no more */
	assert_true(ss.bytes_out - cs.bytes_in <= window);
	assert_true(cs.bytes_out - ss.bytes_in <= window);
	assert_true(ss.bytes_out <= x.wr[0]);
	assert_true(cs.bytes_out <= x.wr[1]);

	/* the same with the link broken, and the readers back */
	shutdown(r.link[0], SHUT_RDWR);
	XFER_RUN(&r, &x, r.cli_broken && r.srv_broken, 3000);
	assert_int_equal(r.cli_broken, 1);
	x.reading[0] = x.reading[1] = 1;
	XFER_RUN(&r, &x, 0, 1000);
	kgp_conn_stats(r.client, &cs2);
	kgp_conn_stats(r.server, &ss2);
	/* nothing new can go out; at most a window is taken in */
	assert_true(ss2.bytes_out - ss.bytes_out <= window);
	assert_true(cs2.bytes_out - cs.bytes_out <= window);
	assert_true(ss2.bytes_out - cs2.bytes_in <= window);
	assert_true(cs2.bytes_out - ss2.bytes_in <= window);
	assert_true(x.wr[0] < 8 * 1024 * 1024);
	assert_true(x.wr[1] < 8 * 1024 * 1024);

	rs_resume_wait(&r);
	kgp_conn_stats(r.server, &ss);
	kgp_conn_stats(r.client, &cs);
	/* what went again is what was in flight: within a window or so */
	assert_true(ss.last_rtx <= window + 8 * 1024);
	assert_true(cs.last_rtx <= window + 8 * 1024);
	XFER_RUN(&r, &x, XFER_DONE(&x), 60000);
	xfer_check(&x);
	close(browser);
	xfer_free(&x);
	rs_teardown(&r);
}

/*
 * Many streams whose application stops reading (the client receives):
 * each holds its window, the windows above the announced one fit in
 * the process's budget (both ends share it here), and a new stream
 * carries its bytes both ways at once.  Once they are gone, nothing of
 * the budget is left in use.
 */
static void
test_stalled_streams(void **state)
{
	struct rs		 r;
	struct xfer		 x;
	struct kgp_conn_stats	 cs, ss;
	static uint8_t		 junk[65536];
	const size_t		 budget = 512 * 1024, nstall = RS_APPS - 1;
	int			 browsers[RS_APPS], i, j;
	size_t			 put = 0;
	ssize_t			 n;

	kgp_windows_budget(budget);
	rs_setup(&r, 0, 0, 0, 0);
	r.app_sndbuf = 4096;
	for (i = 0; i < (int)nstall; i++)
		browsers[i] = rs_open(&r, "stalled");
	/* the browsers send far more than any window; no app reads */
	memset(junk, 'u', sizeof(junk));
	for (j = 0; j < 300; j++) {
		for (i = 0; i < (int)nstall; i++)
			if ((n = write(browsers[i], junk, sizeof(junk))) > 0)
				put += n;
		event_base_loop(r.base, EVLOOP_NONBLOCK);
		usleep(500);
	}
	kgp_conn_stats(r.client, &cs);
	kgp_conn_stats(r.server, &ss);
	assert_true(cs.windows + ss.windows <= budget);
	assert_true(kgp_windows_budget(0) == cs.windows + ss.windows);
	/*
	 * Taken in: the announced 64 KiB a stream, what the budget let
	 * windows grow, and what the apps' sockets hold (a few KiB each);
	 * 31 MiB was the old bound.
	 */
	assert_true(cs.bytes_in <= nstall * (64 + 16) * 1024 + budget);
	assert_true(put > cs.bytes_in);

	/* beside them, a new stream goes both ways */
	r.app_sndbuf = 0;
	browsers[nstall] = rs_open(&r, "new");
	xfer_init(&x, browsers[nstall], r.app_fds[nstall], 1024 * 1024);
	XFER_RUN(&r, &x, XFER_DONE(&x), 20000);
	xfer_check(&x);
	xfer_free(&x);
	for (i = 0; i <= (int)nstall; i++)
		close(browsers[i]);
	rs_teardown(&r);
	assert_true(kgp_windows_budget(KGP_PROC_BUDGET) == 0);
}

/*
 * The receiver's window rule (kgp_window_want, man/kgp.7 "Flow
 * control"): a reader that keeps up doubles its window to the grow
 * limit at every grant; beyond it, when a whole window went within
 * KGP_TUNE_RTT_PCT % of a round trip, up to the ceiling, while the
 * link's queue stays short; a queue longer than KGP_TUNE_QUEUE_PCT % of
 * the round trip (KGP_TUNE_QUEUE_MIN_US at least) cuts the window at
 * any grant to what fills the round trip and half that queue (a step
 * at least, once in KGP_TUNE_CALM_RTTS round trips at most), and from
 * then on the window grows by a step an epoch while the queue is under
 * half the limit; a reader that lags, or a link whose round trip is not
 * known, keeps what it has.
 */
#define NEVER	UINT64_MAX
static void
test_window_tune(void **state)
{
	const uint32_t	 grow = 1024 * 1024, max = 16 * 1024 * 1024;
	const uint64_t	 rtt = 50000;	/* 50 ms */
	const uint64_t	 rate = 50;	/* bytes a microsecond: 400 Mbit/s */
	const uint64_t	 bdp = rate * rtt;
	const uint64_t	 lim = rtt * KGP_TUNE_QUEUE_PCT / 100;
	uint64_t	 q, qhist[16], now, dt, flight, epoch_us, cut_us;
	uint64_t	 qmax = 0, fmin = UINT64_MAX;
	uint32_t	 w, w2, step, epoch;
	int		 i, slow = 0;

	(void)state;
	/* below the grow limit: the round trip does not matter */
	assert_int_equal(kgp_window_want(256 * 1024, 0, 0, 0, 0, 0, NEVER,
	    &slow, grow, max), 512 * 1024);
	assert_int_equal(kgp_window_want(768 * 1024, 0, 0, 0, 0, 0, NEVER,
	    &slow, grow, max), grow);
	/* a reader that lags: a quarter of the window waits for it */
	assert_int_equal(kgp_window_want(256 * 1024, 64 * 1024 + 1, 0, 0, 0,
	    0, NEVER, &slow, grow, max), 256 * 1024);
	/* at the grow limit: only a window consumed within 1.5 RTT grows */
	assert_int_equal(kgp_window_want(grow, 0, 0, 1000, rtt, 0, NEVER,
	    &slow, grow, max), grow);
	assert_int_equal(kgp_window_want(grow, 0, 1, rtt * 3 / 2, rtt, 0,
	    NEVER, &slow, grow, max), grow);
	assert_int_equal(kgp_window_want(grow, 0, 1, rtt * 3 / 2 - 1, rtt, 0,
	    NEVER, &slow, grow, max), 2 * grow);
	/* no round trip measured yet: no growth past the grow limit */
	assert_int_equal(kgp_window_want(grow, 0, 1, 1, 0, 0, NEVER, &slow,
	    grow, max), grow);
	/* ... nor past the ceiling, nor for a lagging reader */
	assert_int_equal(kgp_window_want(max, 0, 1, 1, rtt, 0, NEVER, &slow,
	    grow, max), max);
	assert_int_equal(kgp_window_want(12 * 1024 * 1024, 0, 1, 1, rtt, 0,
	    NEVER, &slow, grow, max), max);
	assert_int_equal(kgp_window_want(4 * grow, grow + 1, 1, 1, rtt, 0,
	    NEVER, &slow, grow, max), 4 * grow);
	assert_int_equal(slow, 0);
	/* a queue over half the limit (a part of the RTT) holds it */
	assert_int_equal(kgp_window_want(4 * grow, 0, 1, rtt, rtt,
	    lim / 2, NEVER, &slow, grow, max), 8 * grow);
	assert_int_equal(kgp_window_want(4 * grow, 0, 1, rtt, rtt,
	    lim / 2 + 1, NEVER, &slow, grow, max), 4 * grow);
	assert_int_equal(kgp_window_want(4 * grow, 0, 1, rtt * 2, rtt,
	    lim, NEVER, &slow, grow, max), 4 * grow);
	assert_int_equal(slow, 0);
	/* more cuts it, a step at least, at any grant */
	assert_int_equal(kgp_window_want(4 * grow, 0, 0, rtt * 2, rtt,
	    lim + 1, NEVER, &slow, grow, max), 4 * grow - grow / 4);
	assert_int_equal(slow, 1);
	/* ... to fill the round trip and half the limit */
	assert_int_equal(kgp_window_want(4 * grow, 0, 0, rtt * 2, rtt,
	    rtt / 2, NEVER, &slow, grow, max),
	    (uint64_t)4 * grow * (rtt + lim / 2) / (rtt + rtt / 2));
	/* ... once in two round trips */
	assert_int_equal(kgp_window_want(4 * grow, 0, 1, rtt * 2, rtt,
	    rtt / 2, 2 * rtt - 1, &slow, grow, max), 4 * grow);
	assert_int_equal(kgp_window_want(4 * grow, 0, 1, rtt * 2, rtt,
	    rtt / 2, 2 * rtt, &slow, grow, max),
	    (uint64_t)4 * grow * (rtt + lim / 2) / (rtt + rtt / 2));
	/* ... never below the grow limit; then it grows by a sixteenth */
	assert_int_equal(kgp_window_want(grow, 0, 1, rtt * 2, rtt, rtt,
	    NEVER, &slow, grow, max), grow);
	assert_int_equal(kgp_window_want(4 * grow, 0, 1, rtt, rtt, 0, NEVER,
	    &slow, grow, max), 4 * grow + grow / 4);
	/* on a short link, KGP_TUNE_QUEUE_MIN_US is the limit */
	slow = 0;
	assert_int_equal(kgp_window_want(2 * grow, 0, 1, 1000, 1000,
	    KGP_TUNE_QUEUE_MIN_US / 2, NEVER, &slow, grow, max), 4 * grow);
	assert_int_equal(kgp_window_want(2 * grow, 0, 1, 1000, 1000,
	    KGP_TUNE_QUEUE_MIN_US, NEVER, &slow, grow, max), 2 * grow);
	assert_int_equal(kgp_window_want(2 * grow, 0, 1, 1000, 1000,
	    KGP_TUNE_QUEUE_MIN_US + 1, NEVER, &slow, grow, max),
	    (uint64_t)2 * grow * (1000 + KGP_TUNE_QUEUE_MIN_US / 2) /
	    (1000 + KGP_TUNE_QUEUE_MIN_US + 1));
	/*
	 * A link of 400 Mbit/s and 50 ms (a BDP of 2.5 MB), grant by grant:
	 * a window of W keeps W less half a step in flight, what is in
	 * flight beyond the BDP waits in the link's queue, and the receiver
	 * sees that queue a window's worth of grants late (its TCP's round
	 * trip).  Settled, the window keeps the link full (the BDP in
	 * flight at least) and the queue stays under the limit
	 * (KGP_TUNE_QUEUE_PCT % of the round trip), where windows that only
	 * doubled kept up to 2 BDP in it, and windows cut and grown by an
	 * eighth once an epoch swung it up to a quarter of the round trip.
	 */
	slow = 0;
	memset(qhist, 0, sizeof(qhist));
	w = grow;
	now = epoch_us = cut_us = 0;
	epoch = 0;
	for (i = 0; i < 20000; i++) {
		step = w / 16;
		flight = w - step / 2;
		q = flight > bdp ? (flight - bdp) / rate : 0;
		/* a step goes at the link's rate, or the window's */
		dt = flight > bdp ? step / rate : step * rtt / flight;
		now += dt;
		epoch += step;
		w2 = kgp_window_want(w, 0, epoch >= w, now - epoch_us, rtt,
		    qhist[i % 16], cut_us ? now - cut_us : NEVER, &slow, grow,
		    max);
		qhist[i % 16] = q;
		if (epoch >= w) {
			epoch = 0;
			epoch_us = now;
		}
		if (w2 < w)
			cut_us = now;
		w = w2;
		if (i >= 10000) {
			if (flight < fmin)
				fmin = flight;
			if (q > qmax)
				qmax = q;
		}
	}
	assert_true(slow);
	assert_true(fmin >= bdp);
	assert_true(qmax <= lim);
}

/*
 * Moves: the client's end of a stream goes from its first socket to
 * another, as kgpd's does when proxyd hands it the app's socket.  The
 * test plays proxyd: a relay between the stream's first socket and the
 * app, which at some point stops reading the app, waits until all it
 * read is written, asks for the move with that count, relays what the
 * stream still sends until its first socket closes, and says it is done
 * (kgp_conn_stream_moved).  A transfer both ways runs meanwhile.
 */
struct relay {
	int		 stream;	/* our end of the stream's first socket */
	int		 app;		/* our end of the app's socket */
	int		 app_peer;	/* the app's own end */
	uint8_t		 buf[2][16384];	/* [0] stream -> app, [1] app -> stream */
	size_t		 len[2];
	uint64_t	 to_stream;	/* written into the stream socket */
	int		 reading_app;
	int		 stream_eof;
	int		 app_eof;
	int		 app_idle;
	uint64_t	 promise;	/* bytes claimed beyond those written */
	int		 phase;		/* 0 relay, 1 move asked, 2 sent, 3 done */
};

static void
relay_init(struct relay *rl, int stream)
{
	int	 sv[2];

	memset(rl, 0, sizeof(*rl));
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0,
	    sv), 0);
	rl->stream = stream;
	rl->app = sv[0];
	rl->app_peer = sv[1];
	rl->reading_app = 1;
}

/* one round of the relay; the move's steps as the phase allows */
static void
relay_step(struct rs *r, struct relay *rl, uint32_t id)
{
	ssize_t	 n;
	int	 wrote;

	if (rl->phase >= 3)
		return;
	if (rl->len[0] == 0 && !rl->stream_eof) {
		n = read(rl->stream, rl->buf[0], sizeof(rl->buf[0]));
		if (n > 0)
			rl->len[0] = n;
		else if (n == 0 || errno != EAGAIN)
			rl->stream_eof = 1;
	}
	if (rl->len[0] > 0 && (n = write(rl->app, rl->buf[0],
	    rl->len[0])) > 0) {
		memmove(rl->buf[0], rl->buf[0] + n, rl->len[0] - n);
		rl->len[0] -= n;
	}
	if (rl->phase == 0 && rl->stream_eof && rl->len[0] == 0)
		shutdown(rl->app, SHUT_WR);
	if (rl->reading_app && rl->len[1] == 0 && !rl->app_eof) {
		n = read(rl->app, rl->buf[1], sizeof(rl->buf[1]));
		if (n > 0)
			rl->len[1] = n;
		else if (n == 0) {
			rl->app_eof = 1;
			shutdown(rl->stream, SHUT_WR);
		}
	}
	wrote = 0;
	if (rl->len[1] > 0 && (n = write(rl->stream, rl->buf[1],
	    rl->len[1])) > 0) {
		memmove(rl->buf[1], rl->buf[1] + n, rl->len[1] - n);
		rl->len[1] -= n;
		rl->to_stream += n;
		wrote = 1;
	}
	/*
	 * The move goes out right behind bytes the engine has not read
	 * yet (unless the app has nothing to say): they must come first.
	 */
	if (rl->phase == 1 && rl->len[1] == 0 && (wrote || rl->app_eof ||
	    rl->app_idle)) {
		rl->reading_app = 0;
		assert_int_equal(kgp_conn_stream_move(r->client, id,
		    dup(rl->app), rl->to_stream + rl->promise), 0);
		rl->phase = 2;
	}
	/* proxyd's step 3: switched, and all the stream sent is passed on */
	if (rl->phase == 2 && r->switched > 0 && rl->stream_eof &&
	    rl->len[0] == 0) {
		assert_int_equal(kgp_conn_stream_moved(r->client, id, 1), 0);
		close(rl->stream);
		close(rl->app);
		rl->phase = 3;
	}
}

/* app_idle: the app will say nothing before the move */
static void
relay_move(struct relay *rl, int app_idle)
{
	rl->phase = 1;
	rl->app_idle = app_idle;
}

/* len bytes each way; the move starts once `at` bytes went each way */
static void
move_transfer(size_t len, size_t at, int tls)
{
	struct rs	 r;
	struct xfer	 x;
	struct relay	 rl;
	uint64_t	 end;
	int		 browser;

	rs_setup(&r, tls, 0, 0, 0);
	browser = rs_open(&r, "tunnel");
	relay_init(&rl, r.app_fds[0]);
	r.app_fds[0] = -1;	/* the relay closes it */
	r.napps = 0;
	xfer_init(&x, browser, rl.app_peer, len);
	end = ms_now() + 60000;
	while (!XFER_DONE(&x) && ms_now() < end && x.bad_at == 0) {
		size_t moved = xfer_step(&x);

		if (rl.phase == 0 && xfer_least(&x) >= at)
			relay_move(&rl, 0);
		relay_step(&r, &rl, r.app_ids[0]);
		event_base_loop(r.base, EVLOOP_NONBLOCK);
		if (moved == 0)
			usleep(200);
	}
	xfer_check(&x);
	/* the move was made, with the transfer under way */
	assert_int_equal(rl.phase, 3);
	assert_int_equal(r.switched, 1);
	assert_int_equal(r.switch_failed, 0);
	close(browser);
	close(rl.app_peer);
	xfer_free(&x);
	rs_teardown(&r);
}

static void
test_move_mid_transfer(void **state)
{
	move_transfer(4 * 1024 * 1024 + 3, 1024 * 1024, 0);
}

static void
test_move_at_once(void **state)
{
	move_transfer(1024 * 1024, 0, 0);
}

static void
test_move_tls(void **state)
{
	move_transfer(2 * 1024 * 1024, 300 * 1024, 1);
}

/*
 * A TLS connection's move (kgp_conn_stream_move_tls): the app speaks TLS
 * records (an adapter with our record layer plays its TLS end, so that
 * the transfer's app end is plaintext), and the relay plays proxyd with
 * OpenSSL's part: it seals what the stream sends and opens what the app
 * sends, until the move; then it gives the engine the keys with the
 * record numbers it reached and the ciphertext it read and did not open
 * (kgp_conn_stream_moved_tls).  The bytes must come through exact both
 * ways, and both ends close as TLS does (close_notify, then EOF).
 */
struct tlsrelay {
	int		 stream, app;	/* our ends: the stream's, the app's */
	int		 app_c;		/* the adapter's ciphertext end */
	int		 app_p, app_x;	/* its plaintext end; the transfer's */
	struct tls_rec_keys k;		/* proxyd's keys at the start */
	struct tls_rec	*prx, *ad;	/* proxyd's layer, the app's */
	struct evbuffer	*p_out, *p_in, *p_plain;
	struct evbuffer	*a_in, *a_out, *a_plain;
	uint64_t	 sealed;	/* records proxyd sealed */
	uint64_t	 to_stream;
	int		 reading_app, stream_eof, a_ceof, a_peof;
	int		 phase;
};

static void
tlsrelay_init(struct tlsrelay *t, int stream, uint16_t version)
{
	struct tls_rec_keys	 ka;
	int			 sv[2], i;

	memset(t, 0, sizeof(*t));
	t->stream = stream;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0,
	    sv), 0);
	t->app = sv[0];
	t->app_c = sv[1];
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0,
	    sv), 0);
	t->app_p = sv[0];
	t->app_x = sv[1];
	t->k.version = version;
	t->k.cipher = TLS_REC_CHACHA20;
	for (i = 0; i < TLS_REC_SECRETMAX; i++) {
		t->k.wr.secret[i] = 3 * i;
		t->k.rd.secret[i] = 5 * i + 1;
	}
	assert_int_equal(tls_rec_derive13(t->k.cipher, &t->k.wr), 0);
	assert_int_equal(tls_rec_derive13(t->k.cipher, &t->k.rd), 0);
	if (version == TLS_REC_V12)
		t->k.wr.seq = t->k.rd.seq = 1;
	ka = t->k;
	ka.wr = t->k.rd;
	ka.rd = t->k.wr;
	assert_non_null(t->prx = tls_rec_new(&t->k));
	assert_non_null(t->ad = tls_rec_new(&ka));
	assert_non_null(t->p_out = evbuffer_new());
	assert_non_null(t->p_in = evbuffer_new());
	assert_non_null(t->p_plain = evbuffer_new());
	assert_non_null(t->a_in = evbuffer_new());
	assert_non_null(t->a_out = evbuffer_new());
	assert_non_null(t->a_plain = evbuffer_new());
	t->reading_app = 1;
}

static void
tlsrelay_free(struct tlsrelay *t)
{
	tls_rec_free(t->prx);
	tls_rec_free(t->ad);
	evbuffer_free(t->p_out);
	evbuffer_free(t->p_in);
	evbuffer_free(t->p_plain);
	evbuffer_free(t->a_in);
	evbuffer_free(t->a_out);
	evbuffer_free(t->a_plain);
	close(t->app_c);
	close(t->app_p);
}

/* what buf holds, written to fd as far as it takes it */
static void
buf_flush(struct evbuffer *buf, int fd)
{
	size_t	 n;
	ssize_t	 w;

	if ((n = evbuffer_get_length(buf)) == 0)
		return;
	if ((w = write(fd, evbuffer_pullup(buf, n), n)) > 0)
		evbuffer_drain(buf, w);
}

/* The app's TLS end: records <-> the transfer's plaintext. */
static void
tlsapp_step(struct tlsrelay *t)
{
	uint8_t	 b[16384];
	ssize_t	 n;
	int	 r;

	if (!t->a_ceof && (n = read(t->app_c, b, sizeof(b))) >= 0) {
		if (n == 0)
			t->a_ceof = 1;
		evbuffer_add(t->a_in, b, n);
		r = tls_rec_open(t->ad, t->a_in, t->a_plain, t->a_out);
		assert_int_not_equal(r, TLS_REC_ERR);
		if (r == TLS_REC_EOF)
			t->a_ceof = 1;
	}
	buf_flush(t->a_plain, t->app_p);
	if (t->a_ceof == 1 && evbuffer_get_length(t->a_plain) == 0) {
		shutdown(t->app_p, SHUT_WR);
		t->a_ceof = 2;
	}
	if (!t->a_peof && (n = read(t->app_p, b, sizeof(b))) >= 0) {
		if (n == 0) {
			t->a_peof = 1;
			assert_int_equal(tls_rec_close(t->ad, t->a_out), 0);
		} else
			assert_int_equal(tls_rec_seal(t->ad, b, n, t->a_out),
			    0);
	}
	buf_flush(t->a_out, t->app_c);
	if (t->a_peof == 1 && evbuffer_get_length(t->a_out) == 0) {
		shutdown(t->app_c, SHUT_WR);
		t->a_peof = 2;
	}
}

/* proxyd's part: the relay with OpenSSL's records, and the move */
static void
tlsrelay_step(struct rs *r, struct tlsrelay *t, uint32_t id)
{
	struct tls_rec_keys	 k;
	struct tls_rec		*rec;
	uint8_t			 b[16384];
	ssize_t			 n;

	if (t->phase >= 3)
		return;
	if (!t->stream_eof && (n = read(t->stream, b, sizeof(b))) >= 0) {
		if (n == 0)
			t->stream_eof = 1;
		else {
			assert_int_equal(tls_rec_seal(t->prx, b, n, t->p_out),
			    0);
			t->sealed++;	/* 16 KiB at most: one record */
		}
	}
	buf_flush(t->p_out, t->app);
	if (t->reading_app && (n = read(t->app, b, sizeof(b))) > 0) {
		/* a record cut anywhere stays unopened here */
		evbuffer_add(t->p_in, b, n);
		assert_int_equal(tls_rec_open(t->prx, t->p_in, t->p_plain,
		    t->p_out), TLS_REC_OK);
	}
	n = evbuffer_get_length(t->p_plain);
	if (n > 0 && (n = write(t->stream, evbuffer_pullup(t->p_plain, n),
	    n)) > 0) {
		evbuffer_drain(t->p_plain, n);
		t->to_stream += n;
	}
	if (t->phase == 1 && evbuffer_get_length(t->p_plain) == 0) {
		t->reading_app = 0;
		assert_int_equal(kgp_conn_stream_move_tls(r->client, id,
		    dup(t->app), t->to_stream), 0);
		t->phase = 2;
	}
	/* step 3: all the stream sent is sealed and out; the keys go */
	if (t->phase == 2 && r->switched > 0 && t->stream_eof &&
	    evbuffer_get_length(t->p_out) == 0) {
		k = t->k;
		k.wr.seq += t->sealed;
		k.rd.seq += tls_rec_records(t->prx);
		assert_non_null(rec = tls_rec_new(&k));
		n = evbuffer_get_length(t->p_in);
		assert_int_equal(kgp_conn_stream_moved_tls(r->client, id, rec,
		    evbuffer_pullup(t->p_in, n), n), 0);
		close(t->stream);
		close(t->app);
		t->phase = 3;
	}
}

static void
move_tls_records(size_t len, size_t at, uint16_t version)
{
	struct rs	 r;
	struct xfer	 x;
	struct tlsrelay	 t;
	uint64_t	 end;
	int		 browser;

	rs_setup(&r, 0, 0, 0, 0);
	browser = rs_open(&r, "tunnel");
	tlsrelay_init(&t, r.app_fds[0], version);
	r.app_fds[0] = -1;
	r.napps = 0;
	xfer_init(&x, browser, t.app_x, len);
	end = ms_now() + 60000;
	while (!XFER_DONE(&x) && ms_now() < end && x.bad_at == 0) {
		size_t moved = xfer_step(&x);

		if (t.phase == 0 && xfer_least(&x) >= at)
			t.phase = 1;
		tlsrelay_step(&r, &t, r.app_ids[0]);
		tlsapp_step(&t);
		event_base_loop(r.base, EVLOOP_NONBLOCK);
		if (moved == 0)
			usleep(200);
	}
	xfer_check(&x);
	assert_int_equal(t.phase, 3);
	assert_int_equal(r.switched, 1);
	assert_int_equal(r.switch_failed, 0);
	/* the app's end closed as TLS does: close_notify, then EOF */
	assert_int_equal(t.a_ceof, 2);
	close(browser);
	close(t.app_x);
	xfer_free(&x);
	tlsrelay_free(&t);
	rs_teardown(&r);
}

static void
test_move_tls_records13(void **state)
{
	move_tls_records(3 * 1024 * 1024 + 5, 512 * 1024, TLS_REC_V13);
}

static void
test_move_tls_records12(void **state)
{
	move_tls_records(1024 * 1024 + 1, 100 * 1024, TLS_REC_V12);
}

static void
test_move_tls_records_at_once(void **state)
{
	move_tls_records(256 * 1024, 0, TLS_REC_V13);
}

/*
 * The browser's FIN reaches the stream's first socket after the move
 * was asked for but before the relay has seen it: the new socket gets
 * the end too, after every byte.
 */
static void
test_move_fin_in_flight(void **state)
{
	struct rs	 r;
	struct relay	 rl;
	uint8_t		 buf[4096];
	size_t		 got = 0;
	ssize_t		 n;
	int		 browser, eof = 0, i;

	rs_setup(&r, 0, 0, 0, 0);
	browser = rs_open(&r, "tunnel");
	relay_init(&rl, r.app_fds[0]);
	r.app_fds[0] = -1;
	r.napps = 0;
	memset(buf, 'f', sizeof(buf));
	assert_int_equal(write(browser, buf, 1000), 1000);
	shutdown(browser, SHUT_WR);
	/* the engine has passed on the bytes and the end */
	for (i = 0; i < 3000 && got < 1000; i++) {
		event_base_loop(r.base, EVLOOP_NONBLOCK);
		if ((n = recv(rl.stream, buf, sizeof(buf), MSG_PEEK)) > 0)
			got = n;
		usleep(500);
	}
	RS_RUN(&r, 0, 100);
	/* now the move, as if proxyd had asked before it saw any of it */
	relay_move(&rl, 1);
	for (i = 0; i < 3000 && rl.phase < 3; i++) {
		relay_step(&r, &rl, r.app_ids[0]);
		event_base_loop(r.base, EVLOOP_NONBLOCK);
		usleep(200);
	}
	assert_int_equal(rl.phase, 3);
	/* the app gets the 1000 bytes, then its EOF from the new socket */
	got = 0;
	for (i = 0; i < 3000 && !eof; i++) {
		event_base_loop(r.base, EVLOOP_NONBLOCK);
		if ((n = read(rl.app_peer, buf, sizeof(buf))) > 0)
			got += n;
		else if (n == 0)
			eof = 1;
		else
			usleep(500);
	}
	assert_int_equal(got, 1000);
	assert_true(eof);
	/* and can still answer through it */
	assert_int_equal(write(rl.app_peer, "late", 4), 4);
	shutdown(rl.app_peer, SHUT_WR);
	got = 0;
	eof = 0;
	for (i = 0; i < 3000 && !eof; i++) {
		event_base_loop(r.base, EVLOOP_NONBLOCK);
		if ((n = read(browser, buf + got, sizeof(buf) - got)) > 0)
			got += n;
		else if (n == 0)
			eof = 1;
		else
			usleep(500);
	}
	assert_true(eof);
	assert_int_equal(got, 4);
	assert_memory_equal(buf, "late", 4);
	close(browser);
	close(rl.app_peer);
	rs_teardown(&r);
}

/*
 * A move that fails (proxyd could not write to the app, or died): the
 * stream is reset, so the browser sees its end and the app its socket
 * closed; a move of a stream that does not exist only closes the socket.
 */
static void
move_fail(int how)
{
	struct rs	 r;
	struct relay	 rl;
	uint8_t		 buf[256];
	ssize_t		 n;
	int		 browser, sv[2], i, b_end = 0, a_end = 0;

	rs_setup(&r, 0, 0, 0, 0);
	browser = rs_open(&r, "tunnel");
	relay_init(&rl, r.app_fds[0]);
	r.app_fds[0] = -1;
	r.napps = 0;
	relay_move(&rl, 1);
	/* 2: bytes are promised that never come, so it never switches */
	if (how == 2)
		rl.promise = 100;
	for (i = 0; i < 3000 && rl.phase < 2; i++) {
		relay_step(&r, &rl, r.app_ids[0]);
		event_base_loop(r.base, EVLOOP_NONBLOCK);
	}
	assert_int_equal(rl.phase, 2);
	RS_RUN(&r, 0, 50);
	assert_int_equal(r.switched, how == 2 ? 0 : 1);
	if (how == 0)
		assert_int_equal(kgp_conn_stream_moved(r.client, r.app_ids[0],
		    0), 0);
	else
		kgp_conn_stream_moves_abort(r.client);
	/* a move that ends before its switch says so */
	assert_int_equal(r.switch_failed, how == 2 ? 1 : 0);
	/* it is over: a second word on it is refused */
	assert_int_equal(kgp_conn_stream_moved(r.client, r.app_ids[0], 1), -1);
	close(rl.app);
	for (i = 0; i < 3000 && !(b_end && a_end); i++) {
		event_base_loop(r.base, EVLOOP_NONBLOCK);
		if (!b_end && ((n = read(browser, buf, sizeof(buf))) == 0 ||
		    (n == -1 && errno != EAGAIN)))
			b_end = 1;
		if (!a_end && ((n = read(rl.app_peer, buf, sizeof(buf))) == 0 ||
		    (n == -1 && errno != EAGAIN)))
			a_end = 1;
		usleep(500);
	}
	assert_true(b_end);
	assert_true(a_end);
	/* no such stream: the socket is closed, nothing else happens */
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0,
	    sv), 0);
	assert_int_equal(kgp_conn_stream_move(r.client, 12345, sv[0], 0), -1);
	assert_int_equal(read(sv[1], buf, sizeof(buf)), 0);
	close(sv[1]);
	assert_non_null(r.client);
	close(rl.stream);
	close(browser);
	close(rl.app_peer);
	rs_teardown(&r);
}

static void
test_move_failed(void **state)
{
	move_fail(0);
}

static void
test_move_aborted(void **state)
{
	move_fail(1);
}

static void
test_move_aborted_early(void **state)
{
	move_fail(2);
}

/*
 * Lends: the client's stream reads `head` bytes of its own socket, then
 * a body of len bytes from a lent one (as kgpd from the app's socket,
 * lent by proxyd), then its own socket again.  The app sends app_sends
 * bytes of the body and then either more (the next answer, which the
 * lend must leave where it is) or its EOF.  The browser must get head,
 * what the lend read, and the tail written after it, in that order and
 * nothing else.  The window (64 KiB) is far smaller than the body.
 */
static void
lend_case(size_t len, size_t app_sends, int app_closes, int want_how)
{
	struct rs	 r;
	const size_t	 hlen = 1000, tlen = 500, xlen = 300;
	uint8_t		*body, *got, head[1000], tail[500], extra[300];
	uint8_t		 left[400];
	size_t		 k, want, nread = 0, sent = 0, lent_got;
	uint64_t	 end;
	ssize_t		 n;
	int		 browser, own, app[2], done_app = 0, tail_out = 0;

	rs_setup(&r, 0, 0, 0, 0);
	browser = rs_open(&r, "lend");
	own = r.app_fds[0];
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0,
	    app), 0);
	assert_non_null(body = malloc(len));
	for (k = 0; k < len; k++)
		body[k] = xfer_pat(1, k);
	memset(head, 'h', sizeof(head));
	memset(tail, 't', sizeof(tail));
	memset(extra, 'x', sizeof(extra));
	lent_got = app_sends < len ? app_sends : len;
	want = hlen + lent_got + tlen;
	assert_non_null(got = malloc(want + 1));

	assert_int_equal(write(own, head, hlen), (ssize_t)hlen);
	assert_int_equal(kgp_conn_stream_lend(r.client, r.app_ids[0],
	    dup(app[0]), hlen, len), 0);
	/* one at a time */
	assert_int_equal(kgp_conn_stream_lend(r.client, r.app_ids[0],
	    dup(app[0]), hlen, len), -1);
	end = ms_now() + 20000;
	while ((nread < want || !r.lent) && ms_now() < end) {
		int	 idle = 1;

		if (sent < app_sends && (n = write(app[1], body + sent,
		    app_sends - sent)) > 0) {
			sent += n;
			idle = 0;
		}
		if (sent == app_sends && !done_app) {
			if (app_closes)
				shutdown(app[1], SHUT_WR);
			else
				assert_int_equal(write(app[1], extra, xlen),
				    (ssize_t)xlen);
			done_app = 1;
		}
		/* proxyd writes the stream's socket again after LENT */
		if (r.lent && !tail_out) {
			assert_int_equal(write(own, tail, tlen),
			    (ssize_t)tlen);
			tail_out = 1;
		}
		if ((n = read(browser, got + nread, want + 1 - nread)) > 0) {
			nread += n;
			idle = 0;
		}
		event_base_loop(r.base, EVLOOP_NONBLOCK);
		if (idle)
			usleep(200);
	}
	/* a little longer: nothing more may come */
	RS_RUN(&r, 0, 100);
	if ((n = read(browser, got + nread, want + 1 - nread)) > 0)
		nread += n;
	assert_int_equal(r.lent, 1);
	assert_int_equal(r.lent_how, want_how);
	assert_int_equal(r.lent_got, lent_got);
	assert_int_equal(nread, want);
	assert_memory_equal(got, head, hlen);
	assert_memory_equal(got + hlen, body, lent_got);
	assert_memory_equal(got + hlen + lent_got, tail, tlen);
	if (!app_closes) {
		/* the next answer is still in the app's socket, whole */
		assert_int_equal(read(app[0], left, sizeof(left)),
		    (ssize_t)xlen);
		assert_memory_equal(left, extra, xlen);
	}
	/* the lent copy is closed: the app's end sees its peer gone */
	close(app[0]);
	assert_int_equal(write(app[1], "z", 1), -1);
	close(app[1]);
	close(browser);
	free(body);
	free(got);
	rs_teardown(&r);
}

static void
test_lend(void **state)
{
	lend_case(300 * 1024, 300 * 1024, 0, KGP_LENT_DONE);
}

static void
test_lend_app_eof(void **state)
{
	lend_case(300 * 1024, 100 * 1024, 1, KGP_LENT_EOF);
}

/* a lend of an unknown stream, of nothing, or past 2^64, is refused */
static void
test_lend_refused(void **state)
{
	struct rs	 r;
	int		 browser, sv[2];

	rs_setup(&r, 0, 0, 0, 0);
	browser = rs_open(&r, "lend");
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0,
	    sv), 0);
	assert_int_equal(kgp_conn_stream_lend(r.client, r.app_ids[0] + 2,
	    dup(sv[0]), 0, 10), -1);
	assert_int_equal(kgp_conn_stream_lend(r.client, r.app_ids[0],
	    dup(sv[0]), 0, 0), -1);
	/* an end past the counter's range */
	assert_int_equal(kgp_conn_stream_lend(r.client, r.app_ids[0],
	    dup(sv[0]), UINT64_MAX - 5, 10), -1);
	RS_RUN(&r, 0, 50);
	assert_int_equal(r.lent, 0);
	/* the refused copies were closed: sv[0] is the last reader */
	close(sv[0]);
	assert_int_equal(write(sv[1], "z", 1), -1);
	close(sv[1]);
	close(browser);
	rs_teardown(&r);
}

/*
 * Protocol errors (kgp.7): whatever a peer sends out of turn or out of
 * shape, before HELLO, in it or after it, the engine answers ERROR with
 * the code and a reason, then closes.  The peer is the test, writing
 * frames by hand on the link (clear text, or TLS through libtls), or
 * the other engine, whose link gets a bad frame injected.
 */
struct raw {
	int		 fd;		/* the test's end of the link */
	struct kgp_tls	*io;		/* its TLS, or NULL */
	uint8_t		 in[65536];	/* what the engine sent */
	size_t		 inlen;
};

/* One engine in the given role; the test is its peer. */
static void
raw_setup(struct rs *r, struct raw *w, int role, int tls)
{
	struct kgp_tls	*stls, *ctls;
	uint64_t	 end;
	int		 sfd, cfd, rc;

	rs_init(r, tls, 0, 0, 0);
	memset(w, 0, sizeof(*w));
	rs_link(r, &sfd, &stls, &cfd, &ctls);
	if (role == KGP_ROLE_SERVER) {
		assert_non_null(r->server = kgp_conn_new(r->base, sfd, stls,
		    &r->sp, &rs_srv_cb, r));
		w->fd = cfd;
		w->io = ctls;
	} else {
		assert_non_null(r->client = kgp_conn_new(r->base, cfd, ctls,
		    &r->cp, &rs_cli_cb, r));
		w->fd = sfd;
		w->io = stls;
	}
	if (w->io == NULL)
		return;
	end = ms_now() + 3000;
	do {
		rc = tls_handshake(kgp_tls_ctx(w->io));
		kgp_tls_flush(w->io);
		event_base_loop(r->base, EVLOOP_NONBLOCK);
		usleep(200);
	} while ((rc == TLS_WANT_POLLIN || rc == TLS_WANT_POLLOUT) &&
	    ms_now() < end);
	assert_int_equal(rc, 0);
}

static void
raw_teardown(struct rs *r, struct raw *w)
{
	kgp_tls_free(w->io);
	close(w->fd);
	rs_teardown(r);
}

static void
raw_write(struct rs *r, struct raw *w, const void *buf, size_t len)
{
	ssize_t	 n;

	if (w->io == NULL) {
		assert_int_equal(write(w->fd, buf, len), (ssize_t)len);
		return;
	}
	n = kgp_tls_write(w->io, buf, len);
	assert_int_equal(n, (ssize_t)len);
	assert_int_equal(kgp_tls_flush(w->io), 0);
}

/* One frame, its header as given (flags and sequence included). */
static void
raw_frame(struct rs *r, struct raw *w, uint8_t type, uint8_t flags,
    uint32_t stream, uint32_t seq, const void *p, size_t len)
{
	uint8_t	 buf[KGP_MAXFRAME];

	kgp_encode_hdr_seq(buf, type, len, stream, seq);
	buf[1] = flags;
	if (len)
		memcpy(buf + KGP_HDRLEN, p, len);
	raw_write(r, w, buf, KGP_HDRLEN + len);
}

static void
raw_hello(struct rs *r, struct raw *w, uint16_t vmin, uint16_t vmax)
{
	struct kgp_hello	 h;
	uint8_t			 p[256];

	memset(&h, 0, sizeof(h));
	h.vmin = vmin;
	h.vmax = vmax;
	h.window = 65536;
	strlcpy(h.tunnel_id, "0123456789abcdef0123456789abcdef",
	    sizeof(h.tunnel_id));
	strlcpy(h.secret, "s3cret", sizeof(h.secret));
	h.session = 42;
	raw_frame(r, w, KGP_HELLO, 0, 0, 0, p,
	    kgp_hello_encode(p, sizeof(p), &h));
}

static void
raw_welcome(struct rs *r, struct raw *w, uint16_t version, int resumed)
{
	struct kgp_welcome	 wl;
	uint8_t			 p[32];

	memset(&wl, 0, sizeof(wl));
	wl.version = version;
	wl.window = 65536;
	wl.max_streams = 8;
	wl.resumed = resumed;
	raw_frame(r, w, KGP_WELCOME, 0, 0, 0, p,
	    kgp_welcome_encode(p, sizeof(p), &wl));
}

/*
 * Read what the engine sends until it ends its side of the link.
 * Returns the code of the ERROR that was its last frame, with the text
 * in why; -1 if it ended without one.  types gets the frame types in
 * order, as letters from 'A' (HELLO) on.
 */
static int
raw_error(struct rs *r, struct raw *w, char *why, size_t whylen,
    char *types, size_t typeslen)
{
	struct kgp_frame	 f;
	const char		*errstr;
	uint64_t		 end = ms_now() + 5000;
	size_t			 off = 0, nt = 0;
	ssize_t			 n;
	uint16_t		 code;
	int			 last = -1;

	while (ms_now() < end && w->inlen < sizeof(w->in)) {
		if (w->io != NULL)
			n = kgp_tls_read(w->io, w->in + w->inlen,
			    sizeof(w->in) - w->inlen);
		else if ((n = read(w->fd, w->in + w->inlen,
		    sizeof(w->in) - w->inlen)) == -1 && errno == EAGAIN)
			n = TLS_WANT_POLLIN;
		if (n == 0 || n == -1)
			break;
		if (n > 0) {
			w->inlen += n;
			continue;
		}
		if (w->io != NULL)
			kgp_tls_flush(w->io);
		event_base_loop(r->base, EVLOOP_NONBLOCK);
		usleep(200);
	}
	assert_true(ms_now() < end);
	why[0] = '\0';
	while (off + KGP_HDRLEN <= w->inlen) {
		assert_int_equal(kgp_decode_hdr(w->in + off, KGP_HDRLEN, &f,
		    &errstr), 0);
		assert_true(off + KGP_HDRLEN + f.len <= w->inlen);
		f.payload = w->in + off + KGP_HDRLEN;
		if (nt + 1 < typeslen)
			types[nt++] = 'A' + f.type - 1;
		last = -1;
		if (f.type == KGP_ERROR) {
			assert_int_equal(kgp_code_decode(&f, &code, why,
			    whylen, &errstr), 0);
			last = code;
		}
		off += KGP_HDRLEN + f.len;
	}
	types[nt] = '\0';
	assert_int_equal(off, w->inlen);
	return (last);
}

enum raw_step {
	RAW_END,
	RAW_HELLO,		/* a good HELLO (to a server) */
	RAW_HELLO_V9,		/* a HELLO for version 9 only */
	RAW_HELLO_SHORT,	/* a HELLO of 3 bytes */
	RAW_WELCOME,		/* a good WELCOME (to a client) */
	RAW_WELCOME_V7,
	RAW_WELCOME_RESUMED,	/* resumed, for a session never up */
	RAW_PING,
	RAW_PING_FLAGS,		/* a flag set */
	RAW_PING_STREAM,	/* a connection frame on stream 1 */
	RAW_OPEN,		/* stream 1, sequence 1 */
	RAW_ACCEPT,		/* stream 1, sequence 1 */
	RAW_DATA_GAP,		/* stream 1, sequence 5 */
	RAW_WINDOW_SHORT,	/* stream 1, sequence 1, 3 bytes */
	RAW_HTTP,		/* "GET / HTTP/1.1": not KGP at all */
	RAW_LONG,		/* a header saying 65535 bytes */
};

struct raw_case {
	const char	*name;
	int		 role;		/* of the engine */
	int		 tls;
	enum raw_step	 steps[4];
	int		 code;		/* of the ERROR */
	const char	*why;		/* in its text */
	const char	*types;		/* the engine's frames, last ERROR */
};

static const struct raw_case raw_cases[] = {
	{ "PING before HELLO", KGP_ROLE_SERVER, 0, { RAW_PING },
	    KGP_E_PROTOCOL, "PING before the handshake", "C" },
	{ "OPEN before HELLO", KGP_ROLE_SERVER, 0, { RAW_OPEN },
	    KGP_E_PROTOCOL, "OPEN before the handshake", "C" },
	{ "HTTP instead of KGP", KGP_ROLE_SERVER, 0, { RAW_HTTP },
	    KGP_E_PROTOCOL, "unknown frame type", "C" },
	{ "a flag set", KGP_ROLE_SERVER, 0, { RAW_PING_FLAGS },
	    KGP_E_PROTOCOL, "flag", "C" },
	{ "a connection frame on a stream", KGP_ROLE_SERVER, 0,
	    { RAW_PING_STREAM }, KGP_E_PROTOCOL, "connection frame", "C" },
	{ "a frame too long", KGP_ROLE_SERVER, 0, { RAW_LONG },
	    KGP_E_PROTOCOL, "frame too long", "C" },
	{ "a short HELLO", KGP_ROLE_SERVER, 0, { RAW_HELLO_SHORT },
	    KGP_E_PROTOCOL, "HELLO", "C" },
	{ "no common version", KGP_ROLE_SERVER, 0, { RAW_HELLO_V9 },
	    KGP_E_VERSION, "no common protocol version", "C" },
	{ "a second HELLO", KGP_ROLE_SERVER, 0, { RAW_HELLO, RAW_HELLO },
	    KGP_E_PROTOCOL, "unexpected HELLO", "BC" },
	{ "OPEN from the client", KGP_ROLE_SERVER, 0, { RAW_HELLO, RAW_OPEN },
	    KGP_E_PROTOCOL, "OPEN of stream 1 from the wrong side", "BC" },
	{ "a gap in the sequence", KGP_ROLE_SERVER, 0,
	    { RAW_HELLO, RAW_DATA_GAP }, KGP_E_PROTOCOL,
	    "frame 5 where 1 was due", "BC" },
	{ "WINDOW of the wrong size", KGP_ROLE_SERVER, 0,
	    { RAW_HELLO, RAW_WINDOW_SHORT }, KGP_E_PROTOCOL,
	    "bad payload length", "BC" },
	{ "TLS: PING before HELLO", KGP_ROLE_SERVER, 1, { RAW_PING },
	    KGP_E_PROTOCOL, "PING before the handshake", "C" },
	{ "TLS: after HELLO, not KGP", KGP_ROLE_SERVER, 1,
	    { RAW_HELLO, RAW_HTTP }, KGP_E_PROTOCOL, "unknown frame type",
	    "BC" },
	{ "OPEN before WELCOME", KGP_ROLE_CLIENT, 0, { RAW_OPEN },
	    KGP_E_PROTOCOL, "OPEN before the handshake", "AC" },
	{ "PING before WELCOME", KGP_ROLE_CLIENT, 0, { RAW_PING },
	    KGP_E_PROTOCOL, "PING before the handshake", "AC" },
	{ "a version never offered", KGP_ROLE_CLIENT, 0, { RAW_WELCOME_V7 },
	    KGP_E_VERSION, "server chose version 7", "AC" },
	{ "a resume of nothing", KGP_ROLE_CLIENT, 0, { RAW_WELCOME_RESUMED },
	    KGP_E_PROTOCOL, "resumed a session that cannot be", "AC" },
	{ "a second WELCOME", KGP_ROLE_CLIENT, 0,
	    { RAW_WELCOME, RAW_WELCOME }, KGP_E_PROTOCOL,
	    "unexpected WELCOME", "AC" },
	{ "ACCEPT from the server", KGP_ROLE_CLIENT, 0,
	    { RAW_WELCOME, RAW_ACCEPT }, KGP_E_PROTOCOL,
	    "ACCEPT from the server", "AC" },
	{ "TLS: not KGP before WELCOME", KGP_ROLE_CLIENT, 1, { RAW_HTTP },
	    KGP_E_PROTOCOL, "unknown frame type", "AC" },
	{ "TLS: a gap after WELCOME", KGP_ROLE_CLIENT, 1,
	    { RAW_WELCOME, RAW_DATA_GAP }, KGP_E_PROTOCOL,
	    "frame 5 where 1 was due", "AC" },
};

/* the steps that are one frame: type, flags, stream, sequence, payload */
static const struct {
	uint8_t		 type;
	uint8_t		 flags;
	uint32_t	 stream;
	uint32_t	 seq;
	const char	*p;
	size_t		 len;
} raw_frames[] = {
	[RAW_HELLO_SHORT] =	{ KGP_HELLO, 0, 0, 0, "\0\0\0", 3 },
	[RAW_PING] =		{ KGP_PING, 0, 0, 0, "12345678", 8 },
	[RAW_PING_FLAGS] =	{ KGP_PING, 0x80, 0, 0, "12345678", 8 },
	[RAW_PING_STREAM] =	{ KGP_PING, 0, 1, 0, "12345678", 8 },
	[RAW_OPEN] =		{ KGP_OPEN, 0, 1, 1, "1.2.3.4:5", 9 },
	[RAW_ACCEPT] =		{ KGP_ACCEPT, 0, 1, 1, NULL, 0 },
	[RAW_DATA_GAP] =	{ KGP_DATA, 0, 1, 5, "x", 1 },
	[RAW_WINDOW_SHORT] =	{ KGP_WINDOW, 0, 1, 1, "\0\0\1", 3 },
};

static void
raw_step(struct rs *r, struct raw *w, enum raw_step step)
{
	switch (step) {
	case RAW_END:
		break;
	case RAW_HELLO:
		raw_hello(r, w, KGP_VERSION_MIN, KGP_VERSION);
		break;
	case RAW_HELLO_V9:
		raw_hello(r, w, 9, 9);
		break;
	case RAW_WELCOME:
		raw_welcome(r, w, KGP_VERSION, 0);
		break;
	case RAW_WELCOME_V7:
		raw_welcome(r, w, 7, 0);
		break;
	case RAW_WELCOME_RESUMED:
		raw_welcome(r, w, KGP_VERSION, 1);
		break;
	case RAW_HTTP:
		raw_write(r, w, "GET / HTTP/1.1\r\nHost: x\r\n\r\n", 27);
		break;
	case RAW_LONG:
		/* DATA of 65535 bytes, stream 1, sequence 1 */
		raw_write(r, w, "\x07\x00\xff\xff\0\0\0\x01\0\0\0\x01", 12);
		break;
	default:
		raw_frame(r, w, raw_frames[step].type, raw_frames[step].flags,
		    raw_frames[step].stream, raw_frames[step].seq,
		    raw_frames[step].p, raw_frames[step].len);
		break;
	}
}

static void
test_protocol_errors(void **state)
{
	const struct raw_case	*k;
	struct rs		 r;
	struct raw		 w;
	char			 why[256], types[16];
	size_t			 i, j;
	int			 code, bad = 0;

	for (i = 0; i < sizeof(raw_cases) / sizeof(raw_cases[0]); i++) {
		k = &raw_cases[i];
		raw_setup(&r, &w, k->role, k->tls);
		for (j = 0; j < 4 && k->steps[j] != RAW_END; j++) {
			raw_step(&r, &w, k->steps[j]);
			RS_RUN(&r, 0, 20);
		}
		code = raw_error(&r, &w, why, sizeof(why), types,
		    sizeof(types));
		if (code != k->code || strstr(why, k->why) == NULL ||
		    strcmp(types, k->types) != 0) {
			print_message("%s: ERROR code %d \"%s\" after frames "
			    "\"%s\", wanted code %d \"%s\" after \"%s\"\n",
			    k->name, code, why, types, k->code, k->why,
			    k->types);
			bad++;
			raw_teardown(&r, &w);
			continue;
		}
		/* our end goes too: the engine is down with its reason */
		kgp_tls_free(w.io);
		w.io = NULL;
		shutdown(w.fd, SHUT_RDWR);
		RS_RUN(&r, r.srv_down + r.cli_down > 0, 3000);
		if (k->role == KGP_ROLE_SERVER) {
			assert_int_equal(r.srv_down, 1);
			assert_int_equal(r.srv_code, k->code);
			assert_non_null(strstr(r.srv_why, k->why));
		} else {
			assert_int_equal(r.cli_down, 1);
			assert_int_equal(r.cli_code, k->code);
			assert_non_null(strstr(r.cli_why, k->why));
			assert_int_equal(r.cli_broken, 0);
		}
		raw_teardown(&r, &w);
	}
	if (bad)
		fail_msg("%d of %zu protocol errors without their ERROR", bad,
		    sizeof(raw_cases) / sizeof(raw_cases[0]));
}

/*
 * Two engines, up: a bad frame reaches one of them (injected into the
 * other's link).  It sends ERROR; the other ends the session for good,
 * with the reason, instead of taking the close for a broken link to
 * resume.
 */
static void
error_between_engines(int to_server)
{
	struct rs	 r;
	uint8_t		 bad[KGP_HDRLEN + 8] = { 0 };

	rs_setup(&r, 0, 0, 0, 0);
	kgp_encode_hdr(bad, KGP_PING, 8, 0);
	bad[1] = 0x01;				/* a flag */
	assert_int_equal(write(r.link[to_server ? 1 : 0], bad, sizeof(bad)),
	    sizeof(bad));
	RS_RUN(&r, r.cli_down && r.srv_down, 5000);
	assert_int_equal(r.cli_down, 1);
	assert_int_equal(r.srv_down, 1);
	assert_int_equal(r.cli_broken + r.srv_broken, 0);
	assert_int_equal(r.cli_code, KGP_E_PROTOCOL);
	assert_int_equal(r.srv_code, KGP_E_PROTOCOL);
	/* the one that saw the frame says what, the other quotes it */
	if (to_server) {
		assert_non_null(strstr(r.srv_why, "flag"));
		assert_non_null(strstr(r.cli_why, "peer: protocol error: "));
		assert_non_null(strstr(r.cli_why, "flag"));
	} else {
		assert_non_null(strstr(r.cli_why, "flag"));
		assert_non_null(strstr(r.srv_why, "peer: protocol error: "));
		assert_non_null(strstr(r.srv_why, "flag"));
	}
	rs_teardown(&r);
}

static void
test_protocol_error_to_server(void **state)
{
	error_between_engines(1);
}

static void
test_protocol_error_to_client(void **state)
{
	error_between_engines(0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_handshake),
		cmocka_unit_test(test_local_splice),
		cmocka_unit_test(test_local_shutdown_all),
		cmocka_unit_test(test_wrong_secret),
		cmocka_unit_test(test_hello_hold),
		cmocka_unit_test(test_bad_pin),
		cmocka_unit_test(test_early_hold),
		cmocka_unit_test(test_early_bad_pin),
		cmocka_unit_test(test_stream_bytes_and_close),
		cmocka_unit_test(test_local_stream),
		cmocka_unit_test(test_flow_control_isolation),
		cmocka_unit_test(test_route_link_load),
		cmocka_unit_test(test_resume_both_notice),
		cmocka_unit_test(test_resume_client_end_shut),
		cmocka_unit_test(test_resume_server_unaware),
		cmocka_unit_test(test_resume_failed_attempt),
		cmocka_unit_test(test_resume_many_breaks),
		cmocka_unit_test(test_resume_tls),
		cmocka_unit_test(test_resume_session_lost),
		cmocka_unit_test(test_grace),
		cmocka_unit_test(test_goaway),
		cmocka_unit_test(test_goaway_idle),
		cmocka_unit_test(test_goaway_tail),
		cmocka_unit_test(test_window_then_eof),
		cmocka_unit_test(test_close_while_busy),
		cmocka_unit_test(test_memory_bound),
		cmocka_unit_test(test_stalled_streams),
		cmocka_unit_test(test_move_mid_transfer),
		cmocka_unit_test(test_move_at_once),
		cmocka_unit_test(test_move_tls),
		cmocka_unit_test(test_move_tls_records13),
		cmocka_unit_test(test_move_tls_records12),
		cmocka_unit_test(test_move_tls_records_at_once),
		cmocka_unit_test(test_move_fin_in_flight),
		cmocka_unit_test(test_move_failed),
		cmocka_unit_test(test_move_aborted),
		cmocka_unit_test(test_move_aborted_early),
		cmocka_unit_test(test_lend),
		cmocka_unit_test(test_window_tune),
		cmocka_unit_test(test_lend_app_eof),
		cmocka_unit_test(test_lend_refused),
		cmocka_unit_test(test_protocol_errors),
		cmocka_unit_test(test_protocol_error_to_server),
		cmocka_unit_test(test_protocol_error_to_client),
	};

	signal(SIGPIPE, SIG_IGN);
	/* KGP_TEST=name runs one test (a glob); KGP_VERBOSE=1 logs */
	if (getenv("KGP_TEST") != NULL)
		cmocka_set_test_filter(getenv("KGP_TEST"));
	if (getenv("KGP_VERBOSE") != NULL)
		log_setverbose(2);
	return (cmocka_run_group_tests(tests, NULL, NULL));
}
