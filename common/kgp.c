/*
 * KGP frame codec.  All integers are big-endian on the wire.
 *
 *	0      1      2      3
 *	+------+------+------+------+
 *	| type |flags |   length    |
 *	+------+------+------+------+
 *	|          stream           |
 *	+---------------------------+
 *	|  sequence (numbered only) |
 *	+---------------------------+
 *	|   payload (length bytes)  |
 */
#include <stdint.h>
#include <stdio.h>
#include <ctype.h>
#include <string.h>

#include "kgp.h"
#include "log.h"

static uint16_t
get16(const uint8_t *p)
{
	return ((uint16_t)p[0] << 8 | p[1]);
}

static uint32_t
get32(const uint8_t *p)
{
	return ((uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | p[3]);
}

static void
put16(uint8_t *p, uint16_t v)
{
	p[0] = v >> 8;
	p[1] = v;
}

static void
put32(uint8_t *p, uint32_t v)
{
	p[0] = v >> 24;
	p[1] = v >> 16;
	p[2] = v >> 8;
	p[3] = v;
}

/*
 * Decode the 12-byte header at buf (len bytes available, at least
 * KGP_HDRLEN).  The payload pointer is set to buf + KGP_HDRLEN; the caller
 * makes sure f->len bytes are there before using it.
 */
int
kgp_decode_hdr(const uint8_t *buf, size_t len, struct kgp_frame *f,
    const char **errstr)
{
	if (len < KGP_HDRLEN) {
		*errstr = "short header";
		return (-1);
	}
	f->type = buf[0];
	f->flags = buf[1];
	f->len = get16(buf + 2);
	f->stream = get32(buf + 4);
	f->seq = get32(buf + 8);
	f->payload = buf + KGP_HDRLEN;
	if (f->type == 0 || f->type > KGP_TYPE_MAX) {
		*errstr = "unknown frame type";
		return (-1);
	}
	if (f->flags != 0 && (f->flags != KGP_F_NODE ||
	    (f->type != KGP_HELLO && f->type != KGP_WELCOME))) {
		*errstr = "unknown frame flags";
		return (-1);
	}
	if (f->len > KGP_MAXPAYLOAD) {
		*errstr = "frame too long";
		return (-1);
	}
	if (kgp_type_numbered(f->type) != (f->seq != 0)) {
		*errstr = f->seq ? "sequence number on an unnumbered frame" :
		    "numbered frame without a sequence number";
		return (-1);
	}
	return (0);
}

/*
 * The frames that carry stream state are numbered per direction and
 * kept until acknowledged, so that a session survives a broken link.
 */
int
kgp_type_numbered(uint8_t type)
{
	switch (type) {
	case KGP_OPEN:
	case KGP_ACCEPT:
	case KGP_REFUSE:
	case KGP_DATA:
	case KGP_WINDOW:
	case KGP_FIN:
	case KGP_RST:
		return (1);
	}
	return (0);
}

/*
 * The checks that need only the header: which frames belong to stream 0,
 * which carry a payload of a fixed size.
 */
int
kgp_frame_check(const struct kgp_frame *f, const char **errstr)
{
	int	 conn_level;

	switch (f->type) {
	case KGP_HELLO:
	case KGP_WELCOME:
	case KGP_ERROR:
	case KGP_PING:
	case KGP_PONG:
	case KGP_GOAWAY:
	case KGP_ACK:
		conn_level = 1;
		break;
	default:
		conn_level = 0;
		break;
	}
	if (conn_level && f->stream != 0) {
		*errstr = "connection frame on a stream";
		return (-1);
	}
	if (!conn_level && f->stream == 0) {
		*errstr = "stream frame on stream 0";
		return (-1);
	}
	switch (f->type) {
	case KGP_WINDOW:
	case KGP_ACK:
		if (f->len != 4)
			goto badlen;
		break;
	case KGP_PING:
	case KGP_PONG:
		if (f->len != 8)
			goto badlen;
		break;
	case KGP_RST:
		if (f->len != 2)
			goto badlen;
		break;
	case KGP_ACCEPT:
	case KGP_FIN:
		if (f->len != 0)
			goto badlen;
		break;
	case KGP_DATA:
		if (f->len == 0)
			goto badlen;
		break;
	case KGP_ERROR:
	case KGP_REFUSE:
	case KGP_GOAWAY:
		if (f->len < 2)
			goto badlen;
		break;
	}
	return (0);
badlen:
	*errstr = "bad payload length";
	return (-1);
}

void
kgp_encode_hdr(uint8_t *buf, uint8_t type, uint16_t len, uint32_t stream)
{
	kgp_encode_hdr_seq(buf, type, len, stream, 0);
}

void
kgp_encode_hdr_seq(uint8_t *buf, uint8_t type, uint16_t len,
    uint32_t stream, uint32_t seq)
{
	buf[0] = type;
	buf[1] = 0;
	put16(buf + 2, len);
	put32(buf + 4, stream);
	put32(buf + 8, seq);
}

/* a length-prefixed (u8) printable string */
static int
get_lpstr(const uint8_t **p, const uint8_t *end, char *dst, size_t dstlen)
{
	size_t	 n, i;

	if (*p >= end)
		return (-1);
	n = **p;
	(*p)++;
	if (n >= dstlen || (size_t)(end - *p) < n)
		return (-1);
	for (i = 0; i < n; i++)
		if ((*p)[i] < 0x21 || (*p)[i] > 0x7e)
			return (-1);
	memcpy(dst, *p, n);
	dst[n] = '\0';
	*p += n;
	return (0);
}

/*
 * HELLO: u16 vmin, u16 vmax, u32 window, u16 conn_index,
 * u8 idlen, id, u8 secretlen, secret, then (v2) u64 session,
 * u32 recv_seq.  A v1 HELLO ends after the secret: it decodes with
 * session 0 so that the version check refuses it by name.
 */
int
kgp_hello_decode(const struct kgp_frame *f, struct kgp_hello *h,
    const char **errstr)
{
	const uint8_t	*p = f->payload, *end = f->payload + f->len;

	memset(h, 0, sizeof(*h));
	if (f->len < 10) {
		*errstr = "short HELLO";
		return (-1);
	}
	h->vmin = get16(p);
	h->vmax = get16(p + 2);
	h->window = get32(p + 4);
	h->conn_index = get16(p + 8);
	p += 10;
	if (get_lpstr(&p, end, h->tunnel_id, sizeof(h->tunnel_id)) == -1 ||
	    get_lpstr(&p, end, h->secret, sizeof(h->secret)) == -1) {
		*errstr = "bad HELLO credentials";
		return (-1);
	}
	if (h->vmax >= 2 && end - p != 12) {
		*errstr = "short HELLO";
		return (-1);
	}
	if (h->vmax >= 2) {
		h->session = (uint64_t)get32(p) << 32 | get32(p + 4);
		h->recv_seq = get32(p + 8);
		p += 12;
		if (h->session == 0) {
			*errstr = "bad HELLO session";
			return (-1);
		}
	}
	if (p != end) {
		*errstr = "trailing bytes in HELLO";
		return (-1);
	}
	if (h->vmin == 0 || h->vmin > h->vmax) {
		*errstr = "bad HELLO versions";
		return (-1);
	}
	if (h->window < KGP_MAXPAYLOAD || h->window > KGP_MAX_WINDOW) {
		*errstr = "bad HELLO window";
		return (-1);
	}
	return (0);
}

size_t
kgp_hello_encode(uint8_t *buf, size_t len, const struct kgp_hello *h)
{
	size_t	 idlen = strlen(h->tunnel_id), slen = strlen(h->secret);
	size_t	 need = 10 + 1 + idlen + 1 + slen + 12;

	if (need > len || idlen > KGP_IDLEN || slen > KGP_IDLEN)
		return (0);
	put16(buf, h->vmin);
	put16(buf + 2, h->vmax);
	put32(buf + 4, h->window);
	put16(buf + 8, h->conn_index);
	buf[10] = idlen;
	memcpy(buf + 11, h->tunnel_id, idlen);
	buf[11 + idlen] = slen;
	memcpy(buf + 12 + idlen, h->secret, slen);
	put32(buf + 12 + idlen + slen, h->session >> 32);
	put32(buf + 16 + idlen + slen, h->session);
	put32(buf + 20 + idlen + slen, h->recv_seq);
	return (need);
}

/*
 * WELCOME: u16 version, u32 window, u32 max_streams, then (v2)
 * u8 resumed, u32 recv_seq.  A v1 WELCOME (10 bytes) decodes so that
 * the version check refuses it by name.
 */
int
kgp_welcome_decode(const struct kgp_frame *f, struct kgp_welcome *w,
    const char **errstr)
{
	memset(w, 0, sizeof(*w));
	if (f->len != 10 && f->len != 15) {
		*errstr = "bad WELCOME length";
		return (-1);
	}
	w->version = get16(f->payload);
	w->window = get32(f->payload + 2);
	w->max_streams = get32(f->payload + 6);
	if (f->len == 15) {
		w->resumed = f->payload[10];
		w->recv_seq = get32(f->payload + 11);
		if (w->resumed > 1) {
			*errstr = "bad WELCOME resume flag";
			return (-1);
		}
	}
	if (w->window < KGP_MAXPAYLOAD || w->window > KGP_MAX_WINDOW) {
		*errstr = "bad WELCOME window";
		return (-1);
	}
	if (w->max_streams == 0) {
		*errstr = "bad WELCOME stream limit";
		return (-1);
	}
	return (0);
}

size_t
kgp_welcome_encode(uint8_t *buf, size_t len, const struct kgp_welcome *w)
{
	if (len < 15)
		return (0);
	put16(buf, w->version);
	put32(buf + 2, w->window);
	put32(buf + 6, w->max_streams);
	buf[10] = w->resumed;
	put32(buf + 11, w->recv_seq);
	return (15);
}

/*
 * ERROR, REFUSE: u16 code, then text (printable, not terminated).
 * RST: u16 code alone.
 */
int
kgp_code_decode(const struct kgp_frame *f, uint16_t *code, char *text,
    size_t textlen, const char **errstr)
{
	if (f->len < 2) {
		*errstr = "short code";
		return (-1);
	}
	*code = get16(f->payload);
	if (text != NULL)
		log_sanitize_mem(f->payload + 2, f->len - 2, text, textlen);
	return (0);
}

size_t
kgp_code_encode(uint8_t *buf, size_t len, uint16_t code, const char *text)
{
	size_t	 n = text ? strlen(text) : 0;

	if (len < 2)
		return (0);
	if (n > len - 2)
		n = len - 2;
	put16(buf, code);
	if (n)
		memcpy(buf + 2, text, n);
	return (2 + n);
}

int
kgp_u32_decode(const struct kgp_frame *f, uint32_t *v, const char **errstr)
{
	if (f->len != 4) {
		*errstr = "bad u32 payload";
		return (-1);
	}
	*v = get32(f->payload);
	return (0);
}

int
kgp_u64_decode(const struct kgp_frame *f, uint64_t *v, const char **errstr)
{
	if (f->len != 8) {
		*errstr = "bad u64 payload";
		return (-1);
	}
	*v = (uint64_t)get32(f->payload) << 32 | get32(f->payload + 4);
	return (0);
}

const char *
kgp_type_name(uint8_t type)
{
	static const char *names[] = {
		"NONE", "HELLO", "WELCOME", "ERROR", "OPEN", "ACCEPT",
		"REFUSE", "DATA", "WINDOW", "FIN", "RST", "PING", "PONG",
		"GOAWAY", "ACK"
	};

	if (type < sizeof(names) / sizeof(names[0]))
		return (names[type]);
	return ("UNKNOWN");
}

const char *
kgp_code_name(uint16_t code)
{
	static const char *names[] = {
		"no error", "protocol error", "no common version",
		"not authorized", "replaced by a newer connection",
		"peer shutting down", "tunnel terminated",
		"flow control violated", "refused", "reset",
		"too many streams", "timeout", "internal error"
	};

	if (code < sizeof(names) / sizeof(names[0]))
		return (names[code]);
	return ("unknown error");
}

/*
 * A congestion control's name for TCP_CONGESTION (--kgp-congestion,
 * sc-server -C): 1 to KGP_CC_NAMELEN - 1 of [a-z0-9_], "default" for the
 * system's.  Returns 0 or -1.
 */
int
kgp_congestion_valid(const char *name)
{
	size_t	 i;

	for (i = 0; name[i] != '\0'; i++)
		if (!islower((unsigned char)name[i]) &&
		    !isdigit((unsigned char)name[i]) && name[i] != '_')
			return (-1);
	return (i > 0 && i < KGP_CC_NAMELEN ? 0 : -1);
}
