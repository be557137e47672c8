/*
 * Text that others wrote, checked (text.h).
 */
#include <stddef.h>

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
