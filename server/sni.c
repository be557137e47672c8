/*
 * The first bytes a browser sends after a CONNECT that is resigned: a
 * TLS ClientHello, read here before any TLS library sees it, for the
 * name its server_name extension (SNI) asks for.  Strict and bounded:
 * records of type handshake (22), version 3.x, 1 to 2^14 bytes each;
 * one handshake message of type client_hello (1) across them, at most
 * SNI_HELLO_MAX bytes, followed by nothing; every length inside it
 * within its parent; no extension twice; at most one host_name in the
 * server_name list, a DNS name (RFC 6066 3: no trailing dot), or an
 * IPv4 address, which RFC 6066 does not allow but some clients (openssl
 * s_client, older Java) send.  Anything else is not a ClientHello this proxy takes, and says
 * why.  Pure code (no libevent), fuzzed.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "server.h"

#define SNI_REC_HDR		5
#define SNI_REC_MAX		16384	/* 2^14: TLSPlaintext.length */
#define SNI_HS_HDR		4
#define SNI_HS_CLIENT_HELLO	1
#define SNI_EXT_SERVER_NAME	0
#define SNI_NAME_HOST		0

/* a cursor over bytes that the lengths inside them must stay within */
struct sni_cur {
	const uint8_t	*p;
	size_t		 left;
};

static int
cur_take(struct sni_cur *c, size_t n, const uint8_t **out)
{
	if (n > c->left)
		return (-1);
	if (out != NULL)
		*out = c->p;
	c->p += n;
	c->left -= n;
	return (0);
}

static int
cur_u8(struct sni_cur *c, size_t *v)
{
	const uint8_t	*p;

	if (cur_take(c, 1, &p) == -1)
		return (-1);
	*v = p[0];
	return (0);
}

static int
cur_u16(struct sni_cur *c, size_t *v)
{
	const uint8_t	*p;

	if (cur_take(c, 2, &p) == -1)
		return (-1);
	*v = (size_t)p[0] << 8 | p[1];
	return (0);
}

/* A vector of n bytes whose length has lenbytes (1 or 2) bytes. */
static int
cur_vec(struct sni_cur *c, int lenbytes, struct sni_cur *sub)
{
	size_t	 n;

	if ((lenbytes == 1 ? cur_u8(c, &n) : cur_u16(c, &n)) == -1 ||
	    cur_take(c, n, &sub->p) == -1)
		return (-1);
	sub->left = n;
	return (0);
}

/*
 * A host_name as RFC 6066 takes it: letters, digits, '-' and '_' in
 * labels of 1 to 63 bytes, no trailing dot, the last label not all
 * digits unless the whole is an IPv4 address (an IPv6 one has a ':' and
 * fails the characters); copied lowercase.
 */
static int
sni_name(const uint8_t *p, size_t len, char *name, size_t namelen,
    const char **errstr)
{
	struct in_addr	 addr;
	size_t		 i, label = 0;
	int		 digits = 1;
	uint8_t		 ch;

	*errstr = "the SNI is not a host name";
	if (len == 0 || len > CERT_NAME_MAX || len >= namelen)
		return (-1);
	for (i = 0; i < len; i++) {
		ch = p[i];
		if (ch == '.') {
			if (label == 0 || p[i - 1] == '-')
				return (-1);
			label = 0;
			name[i] = '.';
			continue;
		}
		if (ch >= 'A' && ch <= 'Z')
			ch += 'a' - 'A';
		if ((ch < 'a' || ch > 'z') && (ch < '0' || ch > '9') &&
		    ch != '-' && ch != '_')
			return (-1);
		if ((ch == '-' && label == 0) || ++label > 63)
			return (-1);
		if (label == 1)
			digits = 1;	/* of this label */
		if (ch < '0' || ch > '9')
			digits = 0;
		name[i] = ch;
	}
	if (label == 0 || p[len - 1] == '-')
		return (-1);	/* a trailing dot, or '-' */
	name[len] = '\0';
	if (digits && inet_pton(AF_INET, name, &addr) != 1)
		return (-1);
	return (0);
}

/* The body of a ClientHello: the name of its SNI, or "". */
static int
sni_hello(const uint8_t *p, size_t len, char *name, size_t namelen,
    const char **errstr)
{
	struct sni_cur	 c = { p, len }, v, exts, e, list, hn;
	const uint8_t	*ver;
	uint16_t	 seen[SNI_HELLO_MAX / 4];
	size_t		 nseen = 0, i, type, n;

	name[0] = '\0';
	*errstr = "a ClientHello's lengths do not add up";
	if (cur_take(&c, 2, &ver) == -1 || cur_take(&c, 32, NULL) == -1)
		return (-1);
	if (ver[0] != 3 || ver[1] < 1 || ver[1] > 3) {
		*errstr = "a ClientHello of an unknown version";
		return (-1);
	}
	/* session id, cipher suites, compression methods */
	if (cur_vec(&c, 1, &v) == -1 || v.left > 32 ||
	    cur_vec(&c, 2, &v) == -1 || v.left < 2 || v.left % 2 != 0 ||
	    cur_vec(&c, 1, &v) == -1 || v.left < 1)
		return (-1);
	if (c.left == 0)
		return (0);	/* no extensions: no SNI */
	if (cur_vec(&c, 2, &exts) == -1 || c.left != 0)
		return (-1);
	while (exts.left > 0) {
		if (cur_u16(&exts, &type) == -1 || cur_vec(&exts, 2, &e) == -1)
			return (-1);
		/* no extension twice (RFC 8446 4.2) */
		for (i = 0; i < nseen; i++)
			if (seen[i] == type) {
				*errstr = "a ClientHello with an extension "
				    "twice";
				return (-1);
			}
		seen[nseen++] = type;
		if (type != SNI_EXT_SERVER_NAME)
			continue;
		if (cur_vec(&e, 2, &list) == -1 || e.left != 0 ||
		    list.left == 0)
			return (-1);
		while (list.left > 0) {
			if (cur_u8(&list, &n) == -1 ||
			    cur_vec(&list, 2, &hn) == -1)
				return (-1);
			if (n != SNI_NAME_HOST)
				continue;
			if (name[0] != '\0') {
				*errstr = "a ClientHello with two host names";
				return (-1);
			}
			if (sni_name(hn.p, hn.left, name, namelen,
			    errstr) == -1)
				return (-1);
		}
	}
	return (0);
}

/*
 * The browser's first len bytes: 0 when a ClientHello has begun and
 * more of it is needed; n > 0 when the first n bytes are a whole one,
 * its SNI in name ("" when it has none); -1 when they are not, or not
 * one that this proxy takes (errstr says why).  Bytes that cannot begin
 * a ClientHello fail at once, before more arrive.
 */
ssize_t
sni_parse(const uint8_t *buf, size_t len, char *name, size_t namelen,
    const char **errstr)
{
	uint8_t		 hs[SNI_HELLO_MAX + SNI_HS_HDR];
	size_t		 off = 0, hlen = 0, rlen, mlen = 0, take;

	*errstr = "not a TLS ClientHello";
	for (;;) {
		/* a record's header: whatever of it is here is checked */
		if (len - off >= 1 && buf[off] != SNI_CONTENT_HANDSHAKE)
			return (-1);
		if (len - off >= 2 && buf[off + 1] != 3)
			return (-1);
		if (len - off < SNI_REC_HDR)
			return (0);
		rlen = (size_t)buf[off + 3] << 8 | buf[off + 4];
		if (rlen == 0 || rlen > SNI_REC_MAX) {
			*errstr = "a TLS record of a bad length";
			return (-1);
		}
		if (len - off - SNI_REC_HDR < rlen)
			take = len - off - SNI_REC_HDR;
		else
			take = rlen;
		/* the handshake message so far, whole records or not */
		if (hlen + take > sizeof(hs)) {
			*errstr = "a ClientHello longer than the limit";
			return (-1);
		}
		memcpy(hs + hlen, buf + off + SNI_REC_HDR, take);
		if (hlen + take >= 1 && hs[0] != SNI_HS_CLIENT_HELLO)
			return (-1);
		if (hlen + take >= SNI_HS_HDR) {
			mlen = (size_t)hs[1] << 16 | (size_t)hs[2] << 8 | hs[3];
			if (mlen > SNI_HELLO_MAX) {
				*errstr = "a ClientHello longer than the limit";
				return (-1);
			}
			if (hlen + take > SNI_HS_HDR + mlen) {
				*errstr = "more than a ClientHello in its "
				    "records";
				return (-1);
			}
		}
		if (take < rlen)
			return (0);
		hlen += take;
		off += SNI_REC_HDR + rlen;
		if (hlen >= SNI_HS_HDR && hlen == SNI_HS_HDR + mlen)
			break;
	}
	if (sni_hello(hs + SNI_HS_HDR, mlen, name, namelen, errstr) == -1)
		return (-1);
	return (off);
}
