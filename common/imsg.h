/*
 * imsg: framed messages with descriptor passing over a unix socket.
 * Same API shape as OpenBSD's libutil imsg, our own implementation.
 */
#ifndef SC_IMSG_H
#define SC_IMSG_H

#include <sys/types.h>
#include <sys/queue.h>
#include <stdint.h>

#define IBUF_READ_SIZE		65535
#define IMSG_HEADER_SIZE	sizeof(struct imsg_hdr)
#define MAX_IMSGSIZE		16384	/* header included */
#define IMSG_MAXDATA		(MAX_IMSGSIZE - IMSG_HEADER_SIZE)
#define IMSGF_HASFD		1

struct ibuf {
	TAILQ_ENTRY(ibuf)	 entry;
	unsigned char		*buf;
	size_t			 size;
	size_t			 wpos;
	size_t			 rpos;
	int			 fd;
};

struct msgbuf {
	TAILQ_HEAD(, ibuf)	 bufs;
	uint32_t		 queued;
	int			 fd;
};

struct imsg_fd {
	TAILQ_ENTRY(imsg_fd)	 entry;
	int			 fd;
};

struct imsgbuf {
	TAILQ_HEAD(, imsg_fd)	 fds;
	struct {
		unsigned char	 buf[IBUF_READ_SIZE];
		size_t		 wpos;
	}			 r;
	struct msgbuf		 w;
	int			 fd;
	pid_t			 pid;
};

/* 16 bytes on the wire, host byte order (both ends are on one host) */
struct imsg_hdr {
	uint32_t	 type;
	uint16_t	 len;
	uint16_t	 flags;
	uint32_t	 peerid;
	uint32_t	 pid;
};

struct imsg {
	struct imsg_hdr	 hdr;
	int		 fd;
	void		*data;
};

#define IMSG_DATA_SIZE(imsg)	((size_t)(imsg)->hdr.len - IMSG_HEADER_SIZE)

void	 imsg_init(struct imsgbuf *, int);
ssize_t	 imsg_read(struct imsgbuf *);
ssize_t	 imsg_get(struct imsgbuf *, struct imsg *);
int	 imsg_compose(struct imsgbuf *, uint32_t, uint32_t, pid_t, int,
	    const void *, size_t);
int	 imsg_compose2(struct imsgbuf *, uint32_t, uint32_t, pid_t, int,
	    const void *, size_t, const void *, size_t);
int	 imsg_flush(struct imsgbuf *);
void	 imsg_free(struct imsg *);
void	 imsg_clear(struct imsgbuf *);
int	 imsg_get_fd(struct imsg *);
int	 imsg_get_data(struct imsg *, void *, size_t);
int	 imsg_get_empty(struct imsg *);
char	*imsg_get_string(struct imsg *, size_t);
int	 msgbuf_write(struct msgbuf *);
void	 msgbuf_clear(struct msgbuf *);

#endif /* SC_IMSG_H */
