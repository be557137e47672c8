/*
 * A harness for proxyd's relay (proxyd/relay*.c) in one process: the
 * relay runs on an event loop of its own, a stream is handed to it as
 * kgpd would hand it (the test holds the browser's end of the socket
 * pair), and the apps are loopback sockets the test listens on, with a
 * name server the test answers.  Every wait runs the loop and is bounded
 * (H_WAIT_MS); nothing sleeps a fixed time.  No kgpd: tunnels are not
 * moved, long answers are spliced (env->hand_off is 0).
 *
 *	h_setup();			(a cmocka setup)
 *	b = h_stream();			the browser's end
 *	l = h_listen(&port, 16);	an app on 127.0.0.1:port
 *	h_send(b, "GET http://127.0.0.1:%d/ HTTP/1.1\r\n"
 *	    "Host: h\r\n\r\n", port);
 *	a = h_accept(l);
 *	h_read_head(a, buf, sizeof(buf));	what the app got
 *	(or, for just that: a = h_get(b, l, port, "/");)
 *	h_send(a, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi");
 *	h_read_answer(b, buf, sizeof(buf));	what the browser got
 *	h_teardown();
 */
#ifndef RELAY_HARNESS_H
#define RELAY_HARNESS_H

#include <stddef.h>
#include <stdint.h>

#define H_WAIT_MS	10000	/* any one wait, at most */
#define H_DNS_NAME	"app.test"	/* the fake name server's name */

/* what the fake name server answers */
#define H_DNS_ANSWER	0	/* app.test: 127.0.0.1; others: NXDOMAIN */
#define H_DNS_SILENT	1	/* nothing */

struct event_base;

int	 h_setup(void **);
int	 h_teardown(void **);
struct event_base *h_base(void);
void	 h_dns(int);
int	 h_stream(void);
int	 h_listen(int *, int);
int	 h_blackhole(int *);
int	 h_closed_port(void);
int	 h_accept(int);
int	 h_get(int, int, int, const char *);
void	 h_close(int);
void	 h_send(int, const char *, ...)
	    __attribute__((__format__ (printf, 2, 3)));
void	 h_send_bytes(int, const void *, size_t);
size_t	 h_read_head(int, char *, size_t);
size_t	 h_read_answer(int, char *, size_t);
size_t	 h_read_n(int, void *, size_t);
int	 h_read_eof(int);
int	 h_wait(int (*)(void *), void *);
void	 h_settle(void);

#endif /* RELAY_HARNESS_H */
