/*
 * Text that others wrote, checked (text.h); base64, for the Basic
 * credentials sc sends (a proxy's) and checks (--api-basic-auth); hex,
 * for sc-server's ids, secrets and digests and for the TLS secrets
 * OpenSSL's key log gives proxyd (tls_keys.c).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "text.h"

/*
 * How many of the len bytes at s come before the first control
 * character (text_is_ctl() under flags): len when there is none.  A
 * string is all text when text_ctlspan(s, strlen(s), 0) == strlen(s);
 * a NUL within a counted length is a control character, so a string
 * from JSON (whose length is its own) cannot hide a cut in it either.
 */
size_t
text_ctlspan(const void *s, size_t len, int flags)
{
	const unsigned char	*p = s;
	size_t			 i;

	for (i = 0; i < len; i++)
		if (text_is_ctl(p[i], flags))
			break;
	return (i);
}

/* RFC 4648 base64 of len bytes, NUL-terminated, malloc'd. */
char *
text_base64(const void *data, size_t len)
{
	static const char	 tab[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	const unsigned char	*p = data;
	char			*out, *o;
	uint32_t		 v;
	size_t			 i;

	if ((out = malloc((len + 2) / 3 * 4 + 1)) == NULL)
		return (NULL);
	for (i = 0, o = out; i + 2 < len; i += 3) {
		v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
		*o++ = tab[v >> 18 & 63];
		*o++ = tab[v >> 12 & 63];
		*o++ = tab[v >> 6 & 63];
		*o++ = tab[v & 63];
	}
	if (i < len) {
		v = (uint32_t)p[i] << 16;
		if (i + 1 < len)
			v |= (uint32_t)p[i + 1] << 8;
		*o++ = tab[v >> 18 & 63];
		*o++ = tab[v >> 12 & 63];
		*o++ = i + 1 < len ? tab[v >> 6 & 63] : '=';
		*o++ = '=';
	}
	*o = '\0';
	return (out);
}

/* 0 when the n bytes are the same, in a time that does not say where. */
#ifndef HAVE_TIMINGSAFE_BCMP
int
timingsafe_bcmp(const void *b1, const void *b2, size_t n)
{
	const volatile unsigned char	*p1 = b1, *p2 = b2;
	unsigned char			 ret = 0;

	for (; n > 0; n--)
		ret |= *p1++ ^ *p2++;
	return (ret != 0);
}
#endif

/* len bytes as 2 * len lower-case hex digits and a NUL into out. */
void
hexencode(const uint8_t *in, size_t len, char *out)
{
	static const char	 hex[] = "0123456789abcdef";
	size_t			 i;

	for (i = 0; i < len; i++) {
		out[2 * i] = hex[in[i] >> 4];
		out[2 * i + 1] = hex[in[i] & 0xf];
	}
	out[2 * len] = '\0';
}

static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return (c - '0');
	if (c >= 'a' && c <= 'f')
		return (c - 'a' + 10);
	if (c >= 'A' && c <= 'F')
		return (c - 'A' + 10);
	return (-1);
}

/* Exactly 2 * len hex digits into len bytes. */
int
hexdecode(const char *in, uint8_t *out, size_t len)
{
	size_t	 i;
	int	 hi, lo;

	if (strlen(in) != 2 * len)
		return (-1);
	for (i = 0; i < len; i++) {
		if ((hi = hexval((unsigned char)in[2 * i])) == -1 ||
		    (lo = hexval((unsigned char)in[2 * i + 1])) == -1)
			return (-1);
		out[i] = hi << 4 | lo;
	}
	return (0);
}
