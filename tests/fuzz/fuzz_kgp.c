/*
 * Fuzz target: a byte stream of KGP frames, read the way kgpd and
 * sc-server read theirs: header, payload, the header-only checks, then
 * the payload decoder of the frame type.  Whatever decodes must encode
 * back to the same bytes (a KGP v1 HELLO or WELCOME, which decode only
 * to be refused by version, to the same bytes followed by the v2 fields,
 * zero), and a header that decodes is numbered exactly when its type is.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kgp.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void
one_frame(const struct kgp_frame *f)
{
	struct kgp_hello	 h;
	struct kgp_welcome	 w;
	uint8_t			 buf[KGP_MAXPAYLOAD];
	char			 text[256];
	const char		*errstr;
	uint64_t		 v64;
	uint32_t		 v32;
	uint16_t		 code;
	size_t			 n, i;
	int			 printable;

	if (f->len > KGP_MAXPAYLOAD)
		abort();
	(void)kgp_type_name(f->type);
	if (kgp_frame_check(f, &errstr) == -1)
		return;

	switch (f->type) {
	case KGP_HELLO:
		if (kgp_hello_decode(f, &h, &errstr) == -1)
			break;
		if (strlen(h.tunnel_id) > KGP_IDLEN ||
		    strlen(h.secret) > KGP_IDLEN)
			abort();
		n = kgp_hello_encode(buf, sizeof(buf), &h);
		if (h.vmax >= 2) {
			/* v2: the session is never 0 */
			if (h.session == 0 || n != f->len ||
			    memcmp(buf, f->payload, n) != 0)
				abort();
		} else {
			/* v1: no session fields; they encode as zeros */
			if (h.session != 0 || h.recv_seq != 0 ||
			    n != f->len + 12U ||
			    memcmp(buf, f->payload, f->len) != 0)
				abort();
			for (i = f->len; i < n; i++)
				if (buf[i] != 0)
					abort();
		}
		break;
	case KGP_WELCOME:
		if (kgp_welcome_decode(f, &w, &errstr) == -1)
			break;
		if ((f->len != 10 && f->len != 15) || w.resumed > 1)
			abort();
		n = kgp_welcome_encode(buf, sizeof(buf), &w);
		if (n != 15 || memcmp(buf, f->payload, f->len) != 0)
			abort();
		/* v1: not resumed, nothing received */
		if (f->len == 10 && (w.resumed != 0 || w.recv_seq != 0))
			abort();
		break;
	case KGP_ERROR:
	case KGP_REFUSE:
	case KGP_GOAWAY:
	case KGP_RST:
		if (kgp_code_decode(f, &code, text, sizeof(text),
		    &errstr) == -1)
			break;
		(void)kgp_code_name(code);
		if (strlen(text) >= sizeof(text))
			abort();
		for (i = 0; text[i] != '\0'; i++)
			if (text[i] < 0x20 || text[i] > 0x7e)
				abort();
		printable = 1;
		for (i = 2; i < f->len; i++)
			if (f->payload[i] < 0x20 || f->payload[i] > 0x7e)
				printable = 0;
		if (printable && (size_t)f->len - 2 < sizeof(text)) {
			n = kgp_code_encode(buf, sizeof(buf), code, text);
			if (n != f->len || memcmp(buf, f->payload, n) != 0)
				abort();
		}
		break;
	case KGP_WINDOW:
	case KGP_ACK:
		if (kgp_u32_decode(f, &v32, &errstr) == -1)
			abort();	/* frame_check said 4 bytes */
		break;
	case KGP_PING:
	case KGP_PONG:
		if (kgp_u64_decode(f, &v64, &errstr) == -1)
			abort();	/* frame_check said 8 bytes */
		break;
	default:
		break;
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kgp_frame	 f;
	const char		*errstr;
	uint8_t			 hdr[KGP_HDRLEN];
	uint8_t			*payload;
	size_t			 off = 0;

	while (size - off >= KGP_HDRLEN) {
		if (kgp_decode_hdr(data + off, size - off, &f, &errstr) == -1)
			return (0);
		/* numbered frames carry a sequence, the others none */
		if (kgp_type_numbered(f.type) != (f.seq != 0))
			abort();
		/* the one flag: the node flag, on HELLO and WELCOME */
		if (f.flags != 0 && (f.flags != KGP_F_NODE ||
		    (f.type != KGP_HELLO && f.type != KGP_WELCOME)))
			abort();
		/* the header encodes back to itself (the flag set apart) */
		kgp_encode_hdr_seq(hdr, f.type, f.len, f.stream, f.seq);
		hdr[1] = f.flags;
		if (memcmp(hdr, data + off, KGP_HDRLEN) != 0)
			abort();
		if (f.seq == 0) {
			kgp_encode_hdr(hdr, f.type, f.len, f.stream);
			hdr[1] = f.flags;
			if (memcmp(hdr, data + off, KGP_HDRLEN) != 0)
				abort();
		}
		off += KGP_HDRLEN;
		if (size - off < f.len)
			return (0);	/* truncated: wait for more */
		/* an exact-size copy so that overreads are seen */
		if ((payload = malloc(f.len ? f.len : 1)) == NULL)
			abort();
		memcpy(payload, data + off, f.len);
		f.payload = payload;
		one_frame(&f);
		free(payload);
		off += f.len;
	}
	return (0);
}
