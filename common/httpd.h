/*
 * A small HTTP/1.1 server on libevent's bufferevents, for APIs: one
 * request at a time per connection, keep-alive, HEAD, bodies framed by
 * Content-Length or chunked up to a bound, Expect: 100-continue, and
 * every error of its own as JSON {"message": "..."}.  The head parser is
 * common/http.c.  It knows nothing of what it serves: the caller accepts
 * connections (httpd_accept()), and a callback gets each whole request
 * and answers it, then or later (httpd_reply()).
 *
 * Hostile clients: a connection waiting for a request (from accept, or
 * from the end of the previous answer, to the last byte of its body)
 * counts in an admission table (admit.h): so many per address, so many
 * in all, addresses that logged in (httpd_req_trust()) kept last; and it
 * has one deadline for the whole request, never restarted by a byte,
 * shorter when the table fills.  Nothing is allocated for a connection
 * before its first byte but the connection itself.  An answer has its
 * own deadline.
 *
 * A request belongs to the callback from the moment it is given until
 * httpd_reply() (exactly once).  If the connection goes away meanwhile,
 * the request stays valid and the answer is dropped.
 *
 * TLS: a callback makes the bufferevent for an accepted socket (e.g.
 * bufferevent_openssl_socket_new()); without one, plain HTTP.
 */
#ifndef SC_HTTPD_H
#define SC_HTTPD_H

#include <sys/types.h>

#include <stddef.h>

struct bufferevent;
struct event_base;
struct sockaddr;
struct httpd;
struct httpd_req;
struct listener;

struct httpd_config {
	const char	*name;		/* in log lines */
	size_t		 max_body;	/* larger: 413 */
	unsigned int	 request_ms;	/* a whole request */
	unsigned int	 request_min_ms;	/* ... when the table is full */
	unsigned int	 answer_ms;	/* an answer must be read so fast */
	size_t		 waiting_addr;	/* waiting connections per address */
	size_t		 waiting_max;	/* ... in all */
	void		(*request)(struct httpd_req *, void *);
	struct bufferevent *(*bev)(struct event_base *, int, void *);
	void		*arg;
};

struct httpd	*httpd_new(struct event_base *, const struct httpd_config *);
void		 httpd_free(struct httpd *);
int		 httpd_accept(struct httpd *, int);
int		 httpd_shed(struct httpd *);
struct listener	*httpd_listen(struct httpd *, struct event_base *, int);
const char	*httpd_get_path(struct httpd_req *, char *, size_t);

const char	*httpd_req_method(const struct httpd_req *);
const char	*httpd_req_target(const struct httpd_req *);
const char	*httpd_req_header(const struct httpd_req *, const char *);
const char	*httpd_req_body(const struct httpd_req *, size_t *);
const char	*httpd_req_peer(const struct httpd_req *);
int		 httpd_req_gone(const struct httpd_req *);
void		 httpd_req_trust(struct httpd_req *);
void		 httpd_reply(struct httpd_req *, int, const char *,
		    const char *, const void *, size_t);
void		 httpd_error(struct httpd_req *, int, const char *);

#endif /* SC_HTTPD_H */
