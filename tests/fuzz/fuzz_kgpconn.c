/*
 * Fuzz target: the KGP connection engine (common/kgp_conn.c) in either
 * role, fed a peer's byte stream.  The first input byte chooses the role
 * (bit 0: client) and whether a valid handshake frame comes first (bit
 * 1), so that the fuzzer reaches the stream states quickly; the server
 * role also has two streams of its own open.  The engine runs without
 * TLS here (its test transport); nothing it is sent may crash it, leak,
 * or make it loop.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "kgp.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define MAXFDS	64

struct fuzzstate {
	struct kgp_conn	*conn;
	int		 fds[MAXFDS];	/* our ends of the streams' sockets */
	int		 nfds;
	int		 down;
};

static int
fz_open(struct kgp_conn *c, uint32_t id, const char *meta, uint16_t *code,
    char *reason, size_t len, void *arg)
{
	struct fuzzstate	*st = arg;
	int			 sv[2];

	if (st->nfds >= MAXFDS - 1 ||
	    socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv) == -1) {
		*code = KGP_E_LIMIT;
		return (-1);
	}
	st->fds[st->nfds++] = sv[1];
	/* the application answers something at once */
	(void)write(sv[1], "HTTP/1.1 200 OK\r\n\r\n", 19);
	return (sv[0]);
}

static int
fz_hello(struct kgp_conn *c, const struct kgp_hello *h, void *arg)
{
	return (h->conn_index == 7 ? KGP_E_AUTH : 0);
}

static void
fz_down(struct kgp_conn *c, int code, const char *why, void *arg)
{
	struct fuzzstate	*st = arg;

	st->down = 1;
	kgp_conn_free(c);
	st->conn = NULL;
}

static const struct kgp_callbacks fz_cb = {
	.open = fz_open, .hello = fz_hello, .down = fz_down,
};

static size_t
frame(uint8_t *buf, uint8_t type, uint32_t stream, const uint8_t *p,
    size_t len)
{
	kgp_encode_hdr(buf, type, len, stream);
	memcpy(buf + KGP_HDRLEN, p, len);
	return (KGP_HDRLEN + len);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int		 once;
	struct fuzzstate	 st;
	struct event_base	*base;
	struct kgp_params	 params;
	struct kgp_hello	 h;
	struct kgp_welcome	 w;
	uint8_t			 pre[256], p[128], drain[65536];
	size_t			 prelen = 0, off = 0, n;
	ssize_t			 r;
	int			 sv[2], client, i;

	if (!once) {
		signal(SIGPIPE, SIG_IGN);
		once = 1;
	}
	if (size < 1)
		return (0);
	client = data[0] & 1;
	if (data[0] & 2) {
		if (client) {
			memset(&w, 0, sizeof(w));
			w.version = KGP_VERSION;
			w.window = 65536;
			w.max_streams = 8;
			n = kgp_welcome_encode(p, sizeof(p), &w);
			prelen = frame(pre, KGP_WELCOME, 0, p, n);
		} else {
			memset(&h, 0, sizeof(h));
			h.vmin = h.vmax = KGP_VERSION;
			h.window = 65536;
			strlcpy(h.tunnel_id, "t", sizeof(h.tunnel_id));
			strlcpy(h.secret, "s", sizeof(h.secret));
			n = kgp_hello_encode(p, sizeof(p), &h);
			prelen = frame(pre, KGP_HELLO, 0, p, n);
		}
	}
	data++;
	size--;

	memset(&st, 0, sizeof(st));
	if ((base = event_base_new()) == NULL)
		abort();
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv) == -1)
		abort();
	memset(&params, 0, sizeof(params));
	params.role = client ? KGP_ROLE_CLIENT : KGP_ROLE_SERVER;
	params.window = 65536;
	params.max_streams = 16;
	params.tunnel_id = "t";
	params.secret = "s";
	if ((st.conn = kgp_conn_new(base, sv[0], NULL, &params, &fz_cb,
	    &st)) == NULL)
		abort();
	if (prelen > 0 && write(sv[1], pre, prelen) != (ssize_t)prelen)
		abort();

	for (i = 0; i < 200 && st.conn != NULL; i++) {
		event_base_loop(base, EVLOOP_NONBLOCK);
		if (st.conn == NULL)
			break;
		/* the server opens two streams once it is up */
		if (!client && i == 2) {
			for (int k = 0; k < 2 && st.nfds < MAXFDS - 1; k++) {
				int	 ss[2];

				if (socketpair(AF_UNIX, SOCK_STREAM |
				    SOCK_NONBLOCK, 0, ss) == -1)
					break;
				if (kgp_conn_open_stream(st.conn, ss[0],
				    "fuzz", "GET", 3) == -1) {
					close(ss[0]);
					close(ss[1]);
					continue;
				}
				st.fds[st.nfds++] = ss[1];
			}
		}
		if (off < size) {
			r = write(sv[1], data + off, size - off);
			if (r > 0)
				off += r;
		} else if (off == size) {
			shutdown(sv[1], SHUT_WR);
			off++;
		}
		/* read what the engine says, so it never blocks */
		while (read(sv[1], drain, sizeof(drain)) > 0)
			;
		for (int k = 0; k < st.nfds; k++)
			while (read(st.fds[k], drain, sizeof(drain)) > 0)
				;
	}
	kgp_conn_free(st.conn);
	for (i = 0; i < st.nfds; i++)
		close(st.fds[i]);
	close(sv[1]);
	event_base_free(base);
	return (0);
}
