/*
 * Fuzz target: the KGP connection engine (common/kgp_conn.c) in either
 * role, fed a peer's byte stream.  The first input byte chooses
 *
 *	bit 0	the role: 1 client, 0 server
 *	bit 1	a valid handshake frame goes first (HELLO to a server,
 *		WELCOME to a client), so that the stream states come soon
 *	bit 2	resume: a scripted peer first brings the session up, with
 *		streams and numbered frames both ways, then the link breaks
 *		and a new one comes (kgp_conn_resume() on the client; on the
 *		server a new connection whose hello adopts the session).
 *		The input is what the peer says on the new link; with bit 1,
 *		after a HELLO of the session or a WELCOME resumed=1.
 *	bit 3	at round 3 the server sends GOAWAY; a client closes
 *	bit 4	at round 8 the applications shut their write side, at
 *		round 16 the first one closes
 *
 * The server role also opens two streams of its own.  The engine runs
 * without TLS here (its test transport); nothing it is sent may crash
 * it, leak, or make it loop.
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

#define MAXFDS		64
#define FZ_SESSION	0x5eed5eed5eed5eedULL

struct fuzzstate {
	int		 flags;		/* the first input byte */
	struct kgp_conn	*conn;		/* the session */
	struct kgp_conn	*fresh;		/* server: the link that resumes it */
	int		 fds[MAXFDS];	/* our ends of the streams' sockets */
	int		 nfds;
	int		 up;
	int		 broken;
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
	struct fuzzstate	*st = arg;

	if (h->conn_index == 7)
		return (KGP_E_AUTH);
	if (c == st->fresh && st->conn != NULL &&
	    h->session == kgp_conn_session(st->conn))
		kgp_conn_adopt(c, st->conn);
	return (0);
}

static void
fz_up(struct kgp_conn *c, void *arg)
{
	((struct fuzzstate *)arg)->up++;
}

static void
fz_broken(struct kgp_conn *c, int code, const char *why, void *arg)
{
	((struct fuzzstate *)arg)->broken++;
}

static void
fz_goaway(struct kgp_conn *c, int code, const char *why, void *arg)
{
}

static void
fz_down(struct kgp_conn *c, int code, const char *why, void *arg)
{
	struct fuzzstate	*st = arg;

	if (c == st->conn)
		st->conn = NULL;
	else if (c == st->fresh)
		st->fresh = NULL;
	else
		abort();
	kgp_conn_free(c);
}

static const struct kgp_callbacks fz_cb = {
	.open = fz_open, .hello = fz_hello, .up = fz_up, .broken = fz_broken,
	.goaway = fz_goaway, .down = fz_down,
};

/* append one frame; numbered ones take the next of *seq */
static void
put(uint8_t *buf, size_t *off, uint8_t type, uint32_t stream,
    uint32_t *seq, const void *p, size_t len)
{
	kgp_encode_hdr_seq(buf + *off, type, len, stream,
	    kgp_type_numbered(type) ? ++*seq : 0);
	if (len)
		memcpy(buf + *off + KGP_HDRLEN, p, len);
	*off += KGP_HDRLEN + len;
}

static void
put_u32(uint8_t *buf, size_t *off, uint8_t type, uint32_t stream,
    uint32_t *seq, uint32_t v)
{
	uint8_t	 p[4];

	p[0] = v >> 24;
	p[1] = v >> 16;
	p[2] = v >> 8;
	p[3] = v;
	put(buf, off, type, stream, seq, p, sizeof(p));
}

static void
put_hello(uint8_t *buf, size_t *off, uint32_t recv_seq)
{
	struct kgp_hello	 h;
	uint8_t			 p[256];
	size_t			 n;

	memset(&h, 0, sizeof(h));
	h.vmin = h.vmax = KGP_VERSION;
	h.window = 65536;
	strlcpy(h.tunnel_id, "t", sizeof(h.tunnel_id));
	strlcpy(h.secret, "s", sizeof(h.secret));
	h.session = FZ_SESSION;
	h.recv_seq = recv_seq;
	n = kgp_hello_encode(p, sizeof(p), &h);
	put(buf, off, KGP_HELLO, 0, NULL, p, n);
}

static void
put_welcome(uint8_t *buf, size_t *off, int resumed, uint32_t recv_seq)
{
	struct kgp_welcome	 w;
	uint8_t			 p[32];
	size_t			 n;

	memset(&w, 0, sizeof(w));
	w.version = KGP_VERSION;
	w.window = 65536;
	w.max_streams = 8;
	w.resumed = resumed;
	w.recv_seq = recv_seq;
	n = kgp_welcome_encode(p, sizeof(p), &w);
	put(buf, off, KGP_WELCOME, 0, NULL, p, n);
}

static int
fz_alive(struct fuzzstate *st)
{
	return (st->conn != NULL || st->fresh != NULL);
}

/*
 * Run the loop for iters rounds: feed the peer's bytes, read what the
 * engine says (so that it never blocks) and what it hands the
 * applications.  When asked, the server opens its two streams once it
 * is up, before the peer's bytes come.  The peer's write side is shut
 * once the bytes are out.
 */
static void
drive(struct event_base *base, struct fuzzstate *st, int peer,
    const uint8_t *data, size_t size, int iters, int open_streams)
{
	uint8_t		 drain[65536];
	size_t		 off = 0;
	ssize_t		 r;
	int		 i, k, ss[2];

	for (i = 0; i < iters && fz_alive(st); i++) {
		event_base_loop(base, EVLOOP_NONBLOCK);
		if (!fz_alive(st))
			break;
		if (open_streams && st->up && st->conn != NULL) {
			open_streams = 0;
			for (k = 0; k < 2 && st->nfds < MAXFDS - 1; k++) {
				if (socketpair(AF_UNIX, SOCK_STREAM |
				    SOCK_NONBLOCK, 0, ss) == -1)
					break;
				if (kgp_conn_open_stream(st->conn, ss[0],
				    "fuzz", "GET", 3) == -1) {
					close(ss[0]);
					close(ss[1]);
					continue;
				}
				st->fds[st->nfds++] = ss[1];
			}
		}
		if (st->flags & 8 && i == 3 && st->conn != NULL) {
			if (st->flags & 1)
				kgp_conn_close(st->conn, KGP_E_SHUTDOWN, "bye");
			else
				kgp_conn_goaway(st->conn, KGP_E_SHUTDOWN,
				    "maintenance");
		}
		if (st->flags & 16 && i == 8)
			for (k = 0; k < st->nfds; k++)
				shutdown(st->fds[k], SHUT_WR);
		if (st->flags & 16 && i == 16 && st->nfds > 0 &&
		    st->fds[0] != -1) {
			close(st->fds[0]);
			st->fds[0] = -1;
		}
		if (off < size && (i > 0 || !open_streams)) {
			r = write(peer, data + off, size - off);
			if (r > 0)
				off += r;
		} else if (off == size && size != 0) {
			shutdown(peer, SHUT_WR);
			off++;
		}
		while (read(peer, drain, sizeof(drain)) > 0)
			;
		for (k = 0; k < st->nfds; k++)
			while (st->fds[k] != -1 &&
			    read(st->fds[k], drain, sizeof(drain)) > 0)
				;
	}
}

/*
 * The scripted first link of a resume: the session comes up with a
 * stream or two and numbered frames each way, then the link is lost.
 * Returns the new link's peer end, or -1 when the session did not
 * survive (it cannot, when the engine is wrong: abort then).
 */
static int
first_link(struct event_base *base, struct fuzzstate *st,
    struct kgp_params *params, int client, int peer)
{
	uint8_t		 script[512];
	size_t		 n = 0;
	uint32_t	 seq = 0;
	int		 sv[2], i;

	if (client) {
		put_welcome(script, &n, 0, 0);
		put(script, &n, KGP_OPEN, 1, &seq, "1.2.3.4:5", 9);
		put(script, &n, KGP_DATA, 1, &seq, "GET / HTTP/1.1\r\n\r\n", 18);
		put_u32(script, &n, KGP_WINDOW, 1, &seq, 4096);
		put(script, &n, KGP_OPEN, 3, &seq, "6.7.8.9:10", 10);
		put_u32(script, &n, KGP_ACK, 0, &seq, 1);
	} else {
		put_hello(script, &n, 0);
	}
	if (write(peer, script, n) != (ssize_t)n)
		abort();
	drive(base, st, peer, NULL, 0, 6, !client);
	if (!client) {
		/* the server opened 1 and 3: OPEN, DATA each (seq 1-4) */
		n = 0;
		put(script, &n, KGP_ACCEPT, 1, &seq, NULL, 0);
		put(script, &n, KGP_DATA, 1, &seq, "HTTP/1.1 200 OK\r\n\r\n",
		    19);
		put_u32(script, &n, KGP_ACK, 0, &seq, 2);
		put(script, &n, KGP_FIN, 1, &seq, NULL, 0);
		if (write(peer, script, n) != (ssize_t)n)
			abort();
		drive(base, st, peer, NULL, 0, 6, 0);
	}
	if (st->conn == NULL || st->up != 1)
		abort();
	/* the link is lost */
	close(peer);
	for (i = 0; i < 20 && st->broken == 0; i++)
		event_base_loop(base, EVLOOP_NONBLOCK);
	if (st->conn == NULL || st->broken != 1)
		abort();

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv) == -1)
		abort();
	if (client) {
		if (kgp_conn_resume(st->conn, sv[0], NULL) == -1)
			abort();
	} else if ((st->fresh = kgp_conn_new(base, sv[0], NULL, params,
	    &fz_cb, st)) == NULL)
		abort();
	return (sv[1]);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int		 once;
	struct fuzzstate	 st;
	struct event_base	*base;
	struct kgp_params	 params;
	uint8_t			 pre[256];
	size_t			 prelen = 0;
	int			 sv[2], flags, client, resume, i;

	if (!once) {
		signal(SIGPIPE, SIG_IGN);
		once = 1;
	}
	if (size < 1)
		return (0);
	flags = data[0];
	client = flags & 1;
	resume = flags & 4;
	if (flags & 2) {
		/* after a resume: as far as the scripted peer has acked */
		if (client)
			put_welcome(pre, &prelen, resume != 0, resume ? 1 : 0);
		else
			put_hello(pre, &prelen, resume ? 2 : 0);
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
	params.session = FZ_SESSION;
	if ((st.conn = kgp_conn_new(base, sv[0], NULL, &params, &fz_cb,
	    &st)) == NULL)
		abort();
	if (resume)
		sv[1] = first_link(base, &st, &params, client, sv[1]);
	/* the local actions are for the link under test only */
	st.flags = flags;
	if (prelen > 0 && write(sv[1], pre, prelen) != (ssize_t)prelen)
		abort();
	drive(base, &st, sv[1], data, size, 200, !client && !resume);

	kgp_conn_free(st.conn);
	kgp_conn_free(st.fresh);
	for (i = 0; i < st.nfds; i++)
		if (st.fds[i] != -1)
			close(st.fds[i]);
	close(sv[1]);
	event_base_free(base);
	return (0);
}
