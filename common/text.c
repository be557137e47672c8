/*
 * Text that others wrote, checked (text.h); and base64, for the Basic
 * credentials sc sends (a proxy's) and checks (--api-basic-auth).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

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
