/*
 * imsg: framed messages with descriptor passing over a unix socket.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "imsg.h"

#define IMSG_MAXFDS_READ	16

static struct ibuf	*ibuf_new(size_t);

void
imsg_init(struct imsgbuf *ibuf, int fd)
{
	memset(ibuf, 0, sizeof(*ibuf));
	TAILQ_INIT(&ibuf->fds);
	TAILQ_INIT(&ibuf->w.bufs);
	ibuf->fd = fd;
	ibuf->w.fd = fd;
	ibuf->pid = getpid();
}

/*
 * Read what is there.  Returns bytes read, 0 on EOF, -1 on error
 * (errno EAGAIN when nothing is there yet).
 */
ssize_t
imsg_read(struct imsgbuf *ibuf)
{
	struct msghdr		 msg;
	struct cmsghdr		*cmsg;
	union {
		struct cmsghdr	 hdr;
		char		 buf[CMSG_SPACE(sizeof(int) * IMSG_MAXFDS_READ)];
	}			 cmsgbuf;
	struct iovec		 iov;
	struct imsg_fd		*ifd;
	ssize_t			 n;
	size_t			 i, nfds;
	int			*fds;

	if (ibuf->r.wpos >= sizeof(ibuf->r.buf)) {
		errno = ERANGE;
		return (-1);
	}
	memset(&msg, 0, sizeof(msg));
	memset(&cmsgbuf, 0, sizeof(cmsgbuf));
	iov.iov_base = ibuf->r.buf + ibuf->r.wpos;
	iov.iov_len = sizeof(ibuf->r.buf) - ibuf->r.wpos;
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = &cmsgbuf.buf;
	msg.msg_controllen = sizeof(cmsgbuf.buf);

again:
	if ((n = recvmsg(ibuf->fd, &msg, MSG_CMSG_CLOEXEC)) == -1) {
		if (errno == EINTR)
			goto again;
		return (-1);
	}
	ibuf->r.wpos += n;

	for (cmsg = CMSG_FIRSTHDR(&msg); cmsg != NULL;
	    cmsg = CMSG_NXTHDR(&msg, cmsg)) {
		if (cmsg->cmsg_level != SOL_SOCKET ||
		    cmsg->cmsg_type != SCM_RIGHTS)
			continue;
		nfds = (cmsg->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		fds = (int *)CMSG_DATA(cmsg);
		for (i = 0; i < nfds; i++) {
			if ((ifd = calloc(1, sizeof(*ifd))) == NULL) {
				close(fds[i]);
				continue;
			}
			ifd->fd = fds[i];
			TAILQ_INSERT_TAIL(&ibuf->fds, ifd, entry);
		}
	}
	if (msg.msg_flags & MSG_CTRUNC) {
		/* descriptors were lost: the stream can no longer be trusted */
		errno = EBADMSG;
		return (-1);
	}
	return (n);
}

static int
imsg_pop_fd(struct imsgbuf *ibuf)
{
	struct imsg_fd	*ifd;
	int		 fd;

	if ((ifd = TAILQ_FIRST(&ibuf->fds)) == NULL)
		return (-1);
	fd = ifd->fd;
	TAILQ_REMOVE(&ibuf->fds, ifd, entry);
	free(ifd);
	return (fd);
}

/*
 * Take one complete message out of the read buffer.  Returns its length,
 * 0 when no complete message is there, -1 on a malformed header.
 */
ssize_t
imsg_get(struct imsgbuf *ibuf, struct imsg *imsg)
{
	struct imsg_hdr	 hdr;
	size_t		 datalen;

	memset(imsg, 0, sizeof(*imsg));
	imsg->fd = -1;
	if (ibuf->r.wpos < IMSG_HEADER_SIZE)
		return (0);
	memcpy(&hdr, ibuf->r.buf, sizeof(hdr));
	if (hdr.len < IMSG_HEADER_SIZE || hdr.len > MAX_IMSGSIZE ||
	    (hdr.flags & ~IMSGF_HASFD) != 0) {
		errno = ERANGE;
		return (-1);
	}
	if (hdr.len > ibuf->r.wpos)
		return (0);
	datalen = hdr.len - IMSG_HEADER_SIZE;
	if ((imsg->data = malloc(datalen + 1)) == NULL)
		return (-1);
	memcpy(imsg->data, ibuf->r.buf + IMSG_HEADER_SIZE, datalen);
	((char *)imsg->data)[datalen] = '\0';
	imsg->hdr = hdr;
	if (hdr.flags & IMSGF_HASFD)
		imsg->fd = imsg_pop_fd(ibuf);
	ibuf->r.wpos -= hdr.len;
	if (ibuf->r.wpos > 0)
		memmove(ibuf->r.buf, ibuf->r.buf + hdr.len, ibuf->r.wpos);
	return (hdr.len);
}

static struct ibuf *
ibuf_new(size_t size)
{
	struct ibuf	*buf;

	if ((buf = calloc(1, sizeof(*buf))) == NULL)
		return (NULL);
	if ((buf->buf = malloc(size)) == NULL) {
		free(buf);
		return (NULL);
	}
	buf->size = size;
	buf->fd = -1;
	return (buf);
}

static void
ibuf_free(struct ibuf *buf)
{
	if (buf == NULL)
		return;
	if (buf->fd != -1)
		close(buf->fd);
	free(buf->buf);
	free(buf);
}

int
imsg_compose2(struct imsgbuf *ibuf, uint32_t type, uint32_t peerid,
    pid_t pid, int fd, const void *d1, size_t l1, const void *d2, size_t l2)
{
	struct imsg_hdr	 hdr;
	struct ibuf	*buf;
	size_t		 len;

	len = IMSG_HEADER_SIZE + l1 + l2;
	if (l1 > IMSG_MAXDATA || l2 > IMSG_MAXDATA || len > MAX_IMSGSIZE) {
		errno = ERANGE;
		if (fd != -1)
			close(fd);
		return (-1);
	}
	if ((buf = ibuf_new(len)) == NULL) {
		if (fd != -1)
			close(fd);
		return (-1);
	}
	memset(&hdr, 0, sizeof(hdr));
	hdr.type = type;
	hdr.len = len;
	hdr.flags = fd != -1 ? IMSGF_HASFD : 0;
	hdr.peerid = peerid;
	hdr.pid = pid ? (uint32_t)pid : (uint32_t)ibuf->pid;
	memcpy(buf->buf, &hdr, sizeof(hdr));
	if (l1)
		memcpy(buf->buf + IMSG_HEADER_SIZE, d1, l1);
	if (l2)
		memcpy(buf->buf + IMSG_HEADER_SIZE + l1, d2, l2);
	buf->wpos = len;
	buf->fd = fd;
	TAILQ_INSERT_TAIL(&ibuf->w.bufs, buf, entry);
	ibuf->w.queued++;
	return (1);
}

int
imsg_compose(struct imsgbuf *ibuf, uint32_t type, uint32_t peerid, pid_t pid,
    int fd, const void *data, size_t datalen)
{
	return (imsg_compose2(ibuf, type, peerid, pid, fd, data, datalen,
	    NULL, 0));
}

/*
 * Write as much as the socket takes.  A message that carries a descriptor
 * starts its own sendmsg() so that the descriptor travels with its first
 * byte.  Returns 1 when something was written or nothing was queued,
 * 0 on EOF, -1 on error (EAGAIN: try again later).
 */
int
msgbuf_write(struct msgbuf *msgbuf)
{
	struct iovec	 iov[64];
	struct ibuf	*buf, *next;
	struct msghdr	 msg;
	struct cmsghdr	*cmsg;
	union {
		struct cmsghdr	 hdr;
		char		 buf[CMSG_SPACE(sizeof(int))];
	}		 cmsgbuf;
	unsigned int	 i = 0;
	ssize_t		 n;
	size_t		 done;
	int		 fd = -1;

	if (TAILQ_EMPTY(&msgbuf->bufs))
		return (1);
	memset(&msg, 0, sizeof(msg));
	TAILQ_FOREACH(buf, &msgbuf->bufs, entry) {
		if (i >= sizeof(iov) / sizeof(iov[0]))
			break;
		if (i > 0 && buf->fd != -1)
			break;
		iov[i].iov_base = buf->buf + buf->rpos;
		iov[i].iov_len = buf->wpos - buf->rpos;
		i++;
		if (buf->fd != -1 && buf->rpos == 0)
			fd = buf->fd;
	}
	msg.msg_iov = iov;
	msg.msg_iovlen = i;
	if (fd != -1) {
		memset(&cmsgbuf, 0, sizeof(cmsgbuf));
		msg.msg_control = &cmsgbuf.buf;
		msg.msg_controllen = sizeof(cmsgbuf.buf);
		cmsg = CMSG_FIRSTHDR(&msg);
		cmsg->cmsg_len = CMSG_LEN(sizeof(int));
		cmsg->cmsg_level = SOL_SOCKET;
		cmsg->cmsg_type = SCM_RIGHTS;
		memcpy(CMSG_DATA(cmsg), &fd, sizeof(int));
	}
again:
	if ((n = sendmsg(msgbuf->fd, &msg, MSG_NOSIGNAL)) == -1) {
		if (errno == EINTR)
			goto again;
		if (errno == ENOBUFS)
			errno = EAGAIN;
		return (-1);
	}
	if (n == 0) {
		errno = 0;
		return (0);
	}
	/* the descriptor has been sent with the first byte */
	if (fd != -1) {
		buf = TAILQ_FIRST(&msgbuf->bufs);
		close(buf->fd);
		buf->fd = -1;
	}
	done = n;
	for (buf = TAILQ_FIRST(&msgbuf->bufs); buf != NULL && done > 0;
	    buf = next) {
		next = TAILQ_NEXT(buf, entry);
		if (done >= buf->wpos - buf->rpos) {
			done -= buf->wpos - buf->rpos;
			TAILQ_REMOVE(&msgbuf->bufs, buf, entry);
			msgbuf->queued--;
			ibuf_free(buf);
		} else {
			buf->rpos += done;
			done = 0;
		}
	}
	return (1);
}

void
msgbuf_clear(struct msgbuf *msgbuf)
{
	struct ibuf	*buf;

	while ((buf = TAILQ_FIRST(&msgbuf->bufs)) != NULL) {
		TAILQ_REMOVE(&msgbuf->bufs, buf, entry);
		ibuf_free(buf);
	}
	msgbuf->queued = 0;
}

/* Write everything, blocking on a non-blocking socket if need be. */
int
imsg_flush(struct imsgbuf *ibuf)
{
	while (ibuf->w.queued) {
		if (msgbuf_write(&ibuf->w) <= 0) {
			if (errno == EAGAIN) {
				usleep(1000);
				continue;
			}
			return (-1);
		}
	}
	return (0);
}

void
imsg_free(struct imsg *imsg)
{
	free(imsg->data);
	imsg->data = NULL;
	if (imsg->fd != -1) {
		close(imsg->fd);
		imsg->fd = -1;
	}
}

void
imsg_clear(struct imsgbuf *ibuf)
{
	int	 fd;

	msgbuf_clear(&ibuf->w);
	while ((fd = imsg_pop_fd(ibuf)) != -1)
		close(fd);
	ibuf->r.wpos = 0;
}

/* Take the descriptor out of the message; the caller owns it. */
int
imsg_get_fd(struct imsg *imsg)
{
	int	 fd = imsg->fd;

	imsg->fd = -1;
	return (fd);
}

/* Copy the payload, which must be exactly len bytes. */
int
imsg_get_data(struct imsg *imsg, void *data, size_t len)
{
	if (IMSG_DATA_SIZE(imsg) != len) {
		errno = EBADMSG;
		return (-1);
	}
	if (len)
		memcpy(data, imsg->data, len);
	return (0);
}

/*
 * A message that carries nothing: 0, or -1 (EBADMSG) when it does.  Not
 * in OpenBSD's libutil, which has no such check of its own.
 */
int
imsg_get_empty(struct imsg *imsg)
{
	return (imsg_get_data(imsg, NULL, 0));
}

/*
 * The payload as a string: it must hold exactly one NUL-terminated string
 * of at most maxlen bytes (terminator included).
 */
char *
imsg_get_string(struct imsg *imsg, size_t maxlen)
{
	size_t	 len = IMSG_DATA_SIZE(imsg);
	char	*s = imsg->data;

	if (len == 0 || len > maxlen || s[len - 1] != '\0' ||
	    strlen(s) != len - 1) {
		errno = EBADMSG;
		return (NULL);
	}
	return (s);
}
