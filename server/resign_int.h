/*
 * What resign.c (the connection: the 200, the ClientHello, the leaf, the
 * TLS) and resign_http.c (the requests and answers inside) share.
 */
#ifndef SC_RESIGN_INT_H
#define SC_RESIGN_INT_H

#define RESIGN_RAW_MAX		(SNI_HELLO_MAX + 1024)	/* with records */
#define RESIGN_READ		(16 * 1024)	/* plaintext a tls_read() */
#define RESIGN_WRITE		(64 * 1024)	/* ... a tls_write() */
#define RESIGN_ESTABLISHED	"HTTP/1.1 200 Connection established\r\n\r\n"

enum resign_state {
	RESIGN_HELLO,		/* the ClientHello arriving */
	RESIGN_MINT,		/* its leaf being made */
	RESIGN_HANDSHAKE,
	RESIGN_HTTP,		/* requests, one after the other */
	RESIGN_TUNNEL,		/* after a 101: bytes both ways */
	RESIGN_CLOSING,		/* the last answer going out */
};

enum resign_rq { RQ_HEAD, RQ_BODY, RQ_DONE };
enum resign_rp {
	RP_NONE,
	RP_WARM,		/* the warm-up's answer (resign_warm()) */
	RP_HEAD,
	RP_BODY,
	RP_DONE,
};

struct resign_tls;

struct resign {
	TAILQ_ENTRY(resign)	 entry;
	struct tunnel		*tunnel;	/* until entry_close() */
	char			 tunnel_id[TUNNEL_ID_LEN + 1];
	char			 peer[ADDRSTR_MAX];
	char			 host[HOST_MAX];	/* the CONNECT's */
	uint16_t		 port;
	char			 name[CERT_NAME_MAX + 1];	/* of the leaf */
	enum resign_state	 state;
	int			 fd;		/* the browser */
	struct bufferevent	*local;		/* ... or its in-process end
						   (another node's), fd -1 */
	int			 local_eof;	/* local's input has ended */
	struct event		*ev_rd, *ev_wr;
	int			 rd_on, wr_on;
	struct event		*timer;
	time_t			 armed;		/* the idle timer, last set */
	int			 trim;		/* the timer's next expiry (in
						   RESIGN_QUIET_SEC) trims */
	uint8_t			*raw;		/* the ClientHello, before TLS */
	size_t			 rawlen;
	struct mint_wait	*mw;
	struct mint_wait	*pmw;		/* the CONNECT host's, ahead */
	struct resign_tls	*io;		/* NULL: plain */
	int			 plain;		/* no TLS inside the CONNECT */
	int			 want_rd, want_wr;	/* what TLS waits for */
	int			 tls_closed;	/* close_notify is out */
	char			*fail;		/* no leaf: the 502's text */
	int			 dead;		/* freed at the end of the pump */
	void			(*wake)(struct resign *); /* resign.c's pump */
	struct evbuffer		*in;		/* plaintext from the browser */
	struct evbuffer		*out;		/* ... to it */
	int			 b_eof;
	int			 b_ready;	/* its socket may have bytes */
	struct bufferevent	*s;		/* the stream's end, or NULL */
	int			 s_eof;
	int			 s_shut;	/* its write side shut */
	/* the exchange */
	struct http_head	*req, *resp;
	enum resign_rq		 rq;
	enum resign_rp		 rp;
	enum http_body		 rq_body, rp_body;
	uint64_t		 rq_left, rp_left;
	struct http_chunked	 rq_ck, rp_ck;
	int			 upgrade;	/* the request asks for one */
	int			 keep;		/* the browser's connection stays */
	int			 s_keep;	/* the stream stays */
	int			 bound;		/* to the CONNECT's origin:
						   requests in origin form */
	int			 rp_sent;	/* bytes of this answer went out */
};

/* resign_http.c: each moves what it can; nonzero when something moved */
int	 resign_requests(struct resign *);
int	 resign_responses(struct resign *);
void	 resign_warm(struct resign *);
void	 resign_warm_cancel(struct resign *);

/* resign_tls.c: the browser's TLS, answers as libtls's */
int	 resign_tls_init(const char *, size_t, const char *, size_t);
struct resign_tls *resign_tls_accept(int, const struct mint_leaf *,
	    const void *, size_t, const char **);
struct resign_tls *resign_tls_accept_local(struct resign *,
	    const struct mint_leaf *, const void *, size_t, const char **);
void	 resign_tls_free(struct resign_tls *);
int	 resign_tls_handshake(struct resign_tls *);
ssize_t	 resign_tls_read(struct resign_tls *, void *, size_t);
ssize_t	 resign_tls_write(struct resign_tls *, const void *, size_t);
void	 resign_tls_close(struct resign_tls *);
int	 resign_tls_flush(struct resign_tls *);
size_t	 resign_tls_buffered(struct resign_tls *);
size_t	 resign_tls_unsent(struct resign_tls *);
void	 resign_tls_trim(struct resign_tls *);
const char *resign_tls_error(struct resign_tls *);
const char *resign_tls_version(struct resign_tls *);

#endif /* SC_RESIGN_INT_H */
