/*
 * Fuzz target for common/tls_rec.c's opener: what an app sends kgpd on
 * a resigned stream's TLS connection once kgpd holds its keys.  The
 * first byte picks the version and cipher, the second how the bytes are
 * cut into reads.  Then records: a byte whose top bit says whether the
 * record is sealed with the right keys (so that the opener's parsing of
 * alerts and post-handshake messages is reached) or given raw (headers,
 * lengths, forgeries), a content type, a length, the content.  Checked:
 * nothing crashes; an error says why; after an end or an error nothing
 * more is opened; what comes out is no more than what was sealed.
 */
#include <sys/types.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "tls_rec.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void
keys(struct tls_rec_keys *k, uint8_t pick, int app)
{
	struct tls_rec_dir	 a, b;
	size_t			 i;

	memset(k, 0, sizeof(*k));
	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	k->version = pick & 1 ? TLS_REC_V13 : TLS_REC_V12;
	k->cipher = 1 + (pick >> 1) % 3;
	for (i = 0; i < sizeof(a.secret); i++) {
		a.secret[i] = i;
		b.secret[i] = 0x80 | i;
	}
	if (tls_rec_derive13(k->cipher, &a) == -1 ||
	    tls_rec_derive13(k->cipher, &b) == -1)
		abort();
	if (k->version == TLS_REC_V12) {
		a.seq = 1;
		b.seq = 1;
	}
	/* kgpd reads what the app writes: the app's wr is kgpd's rd */
	k->wr = app ? a : b;
	k->rd = app ? b : a;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tls_rec_keys	 k;
	struct tls_rec		*kgpd, *app;
	struct evbuffer		*wire, *in, *plain, *reply;
	size_t			 cut, sealed = 0, len, m;
	int			 r = TLS_REC_OK;

	if (size < 2)
		return (0);
	keys(&k, data[0], 0);
	if ((kgpd = tls_rec_new(&k)) == NULL)
		abort();
	keys(&k, data[0], 1);
	if ((app = tls_rec_new(&k)) == NULL)
		abort();
	cut = 1 + data[1] % 64;
	if (data[1] & 0x80)
		cut = 1 << 16;
	data += 2;
	size -= 2;
	wire = evbuffer_new();
	in = evbuffer_new();
	plain = evbuffer_new();
	reply = evbuffer_new();
	if (wire == NULL || in == NULL || plain == NULL || reply == NULL)
		abort();
	while (size >= 3) {
		len = (size_t)data[2] << 4 | (data[0] & 0x0f);
		if (len > size - 3)
			len = size - 3;
		if (data[0] & 0x80) {
			if (tls_rec_seal_type(app, data[1], data + 3, len,
			    wire) == 0 && data[1] == 23)
				sealed += len;
		} else
			evbuffer_add(wire, data + 3, len);
		data += 3 + len;
		size -= 3 + len;
	}
	while (evbuffer_get_length(wire) > 0 && r == TLS_REC_OK) {
		m = evbuffer_get_length(wire);
		if (m > cut)
			m = cut;
		evbuffer_remove_buffer(wire, in, m);
		r = tls_rec_open(kgpd, in, plain, reply);
		if (r == TLS_REC_ERR && tls_rec_error(kgpd)[0] == '\0')
			abort();
	}
	if (r == TLS_REC_EOF && tls_rec_open(kgpd, in, plain, reply) !=
	    TLS_REC_EOF)
		abort();
	if (evbuffer_get_length(plain) > sealed)
		abort();
	evbuffer_free(wire);
	evbuffer_free(in);
	evbuffer_free(plain);
	evbuffer_free(reply);
	tls_rec_free(kgpd);
	tls_rec_free(app);
	return (0);
}
