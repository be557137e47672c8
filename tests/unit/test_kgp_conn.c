/*
 * The KGP connection engine, both roles in one process over a socketpair:
 * handshake, authentication, byte-exact streams, half-close, and flow
 * control (a stalled stream does not stall another).
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
#include <unistd.h>

#include <cmocka.h>
#include <event2/event.h>
#include <tls.h>

#include "kgp.h"

static const char test_key[] =
    "-----BEGIN PRIVATE KEY-----\n"
    "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgO2F7GJ+ZIbyXu3U4\n"
    "hmS1krokTImlpROKqX/4UIqNDvahRANCAAT7iM1VZTAcQ+yRnlhpiBDPW42HHO++\n"
    "8sMkGkd3rOuvN4QQuaPwmPJ0q6s8Q3H1JbBoxYVGooNjz5vh1Ixl4LU4\n"
    "-----END PRIVATE KEY-----\n"
    ;
static const char test_cert[] =
    "-----BEGIN CERTIFICATE-----\n"
    "MIIBfjCCASOgAwIBAgIUaPjyQkKX3zy6jXFuYyyFKz+dFi4wCgYIKoZIzj0EAwIw\n"
    "EzERMA8GA1UEAwwIa2dwLXRlc3QwIBcNMjYxMTIxMjI0MTAzWhgPMjEyNjEwMjgy\n"
    "MjQxMDNaMBMxETAPBgNVBAMMCGtncC10ZXN0MFkwEwYHKoZIzj0CAQYIKoZIzj0D\n"
    "AQcDQgAE+4jNVWUwHEPskZ5YaYgQz1uNhxzvvvLDJBpHd6zrrzeEELmj8JjydKur\n"
    "PENx9SWwaMWFRqKDY8+b4dSMZeC1OKNTMFEwHQYDVR0OBBYEFBb+OuOzho98nZGt\n"
    "ViD6viwKsaLtMB8GA1UdIwQYMBaAFBb+OuOzho98nZGtViD6viwKsaLtMA8GA1Ud\n"
    "EwEB/wQFMAMBAf8wCgYIKoZIzj0EAwIDSQAwRgIhAN8sAxjss1cCdSw/qzKrUm6K\n"
    "igFU17fpwgoe9Q3eIzFxAiEA5wlRqD5ybOtGvkEcgfT/SCnV/aQ99vULq6eRJuHg\n"
    "hWg=\n"
    "-----END CERTIFICATE-----\n"
    ;

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
};

static int
srv_hello(struct kgp_conn *c, const struct kgp_hello *h, void *arg)
{
	struct pair	*p = arg;

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

static void
pair_setup(struct pair *p, const char *client_secret, const char *pin)
{
	struct tls_config	*sc, *cc;
	struct tls		*stls, *ctls, *cctx;
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
	assert_int_equal(tls_accept_socket(stls, &cctx, sv[0]), 0);

	assert_non_null(cc = tls_config_new());
	tls_config_insecure_noverifycert(cc);
	tls_config_insecure_noverifyname(cc);
	assert_non_null(ctls = tls_client());
	assert_int_equal(tls_configure(ctls, cc), 0);
	assert_int_equal(tls_connect_socket(ctls, sv[1], "kgp-test"), 0);

	memset(&sp, 0, sizeof(sp));
	sp.role = KGP_ROLE_SERVER;
	sp.window = 64 * 1024;
	memset(&cp, 0, sizeof(cp));
	cp.role = KGP_ROLE_CLIENT;
	cp.window = 64 * 1024;
	cp.tunnel_id = "0123456789abcdef0123456789abcdef";
	cp.secret = client_secret;
	cp.pin = pin;
	assert_non_null(p->server = kgp_conn_new(p->base, sv[0], cctx, &sp,
	    &srv_cb, p));
	assert_non_null(p->client = kgp_conn_new(p->base, sv[1], ctls, &cp,
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

static void
test_bad_pin(void **state)
{
	struct pair	 p;

	pair_setup(&p, "s3cret", "SHA256:0000");
	run_until(&p, &p.client_down, 3000);
	assert_true(p.client_down);
	assert_int_equal(p.down_code, KGP_E_AUTH);
	assert_non_null(strstr(p.down_why, "does not match"));
	pair_teardown(&p);
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

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_handshake),
		cmocka_unit_test(test_wrong_secret),
		cmocka_unit_test(test_bad_pin),
		cmocka_unit_test(test_stream_bytes_and_close),
		cmocka_unit_test(test_flow_control_isolation),
	};

	signal(SIGPIPE, SIG_IGN);
	return (cmocka_run_group_tests(tests, NULL, NULL));
}
