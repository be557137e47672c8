/*
 * Fuzz target: bytes (and now and then a descriptor) arrive on a unix
 * socket and go through imsg_read() / imsg_get() and the payload checks,
 * the way every daemon reads its channels.
 *
 * Input: byte 0 chooses the chunk size of the writes and whether a
 * descriptor travels with the first chunk; the rest is the wire.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "imsg.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static ssize_t
send_chunk(int s, const uint8_t *p, size_t len, int withfd)
{
	struct msghdr	 msg;
	struct iovec	 iov;
	struct cmsghdr	*cmsg;
	union {
		struct cmsghdr	 hdr;
		char		 buf[CMSG_SPACE(sizeof(int))];
	}		 cmsgbuf;
	int		 fd = -1;
	ssize_t		 n;

	memset(&msg, 0, sizeof(msg));
	iov.iov_base = (void *)(uintptr_t)p;	/* sendmsg only reads */
	iov.iov_len = len;
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	if (withfd && (fd = open("/dev/null", O_RDONLY | O_CLOEXEC)) != -1) {
		memset(&cmsgbuf, 0, sizeof(cmsgbuf));
		msg.msg_control = cmsgbuf.buf;
		msg.msg_controllen = sizeof(cmsgbuf.buf);
		cmsg = CMSG_FIRSTHDR(&msg);
		cmsg->cmsg_len = CMSG_LEN(sizeof(int));
		cmsg->cmsg_level = SOL_SOCKET;
		cmsg->cmsg_type = SCM_RIGHTS;
		memcpy(CMSG_DATA(cmsg), &fd, sizeof(int));
	}
	n = sendmsg(s, &msg, MSG_NOSIGNAL);
	if (fd != -1)
		close(fd);
	return (n);
}

static void
check_message(struct imsg *imsg)
{
	unsigned char	 buf[64];
	size_t		 len;
	char		*s;
	int		 fd;

	if (imsg->hdr.len < IMSG_HEADER_SIZE || imsg->hdr.len > MAX_IMSGSIZE)
		abort();
	len = IMSG_DATA_SIZE(imsg);
	/* exact sizes only */
	if (imsg_get_data(imsg, buf, 4) == 0 && len != 4)
		abort();
	if (imsg_get_data(imsg, buf, sizeof(buf)) == 0 && len != sizeof(buf))
		abort();
	if (imsg_get_data(imsg, NULL, 0) == 0 && len != 0)
		abort();
	if ((s = imsg_get_string(imsg, 256)) != NULL) {
		if (strlen(s) + 1 != len || len > 256)
			abort();
	}
	if ((fd = imsg_get_fd(imsg)) != -1) {
		if ((imsg->hdr.flags & IMSGF_HASFD) == 0)
			abort();
		if (fcntl(fd, F_GETFD) == -1)
			abort();
		close(fd);
	}
	imsg_free(imsg);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct imsgbuf	 ibuf;
	struct imsg	 imsg;
	size_t		 chunk, off, n;
	ssize_t		 r;
	int		 sv[2], withfd, dead = 0;

	if (size < 1 || size > 65536)
		return (0);
	withfd = data[0] & 1;
	chunk = (data[0] >> 1) * 16;
	data++;
	size--;
	if (chunk == 0)
		chunk = size ? size : 1;

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == -1)
		abort();
	imsg_init(&ibuf, sv[1]);

	for (off = 0; off < size && !dead; off += n) {
		n = size - off < chunk ? size - off : chunk;
		if (send_chunk(sv[0], data + off, n, withfd && off == 0) !=
		    (ssize_t)n)
			abort();
		if ((r = imsg_read(&ibuf)) <= 0)
			break;
		while ((r = imsg_get(&ibuf, &imsg)) > 0)
			check_message(&imsg);
		if (r == -1)
			dead = 1;
	}
	if (!dead) {
		/* the writer goes away: EOF */
		close(sv[0]);
		sv[0] = -1;
		while (imsg_read(&ibuf) > 0)
			while ((r = imsg_get(&ibuf, &imsg)) > 0)
				check_message(&imsg);
	}
	imsg_clear(&ibuf);
	if (sv[0] != -1)
		close(sv[0]);
	close(sv[1]);
	return (0);
}
