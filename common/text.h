/*
 * Text that others wrote (a REST answer, a config value, a request
 * head), checked before it is taken: one rule for what a control
 * character is, so that every check refuses the same bytes.  What is
 * shown rather than refused is made printable by log_sanitize() (log.h).
 */
#ifndef SC_TEXT_H
#define SC_TEXT_H

#include <stddef.h>
#include <stdint.h>

#define TEXT_HTAB	0x01	/* a horizontal tab is text (HTTP) */

/*
 * A control character: C0 (NUL to US) or DEL; a horizontal tab too,
 * unless flags has TEXT_HTAB.  Bytes above DEL are text (UTF-8).
 */
static inline int
text_is_ctl(unsigned char c, int flags)
{
	if (c == '\t' && (flags & TEXT_HTAB))
		return (0);
	return (c < 0x20 || c == 0x7f);
}

/* text.c */
size_t	 text_ctlspan(const void *, size_t, int);
char	*text_base64(const void *, size_t);
void	 hexencode(const uint8_t *, size_t, char *);
int	 hexdecode(const char *, uint8_t *, size_t);
#ifndef HAVE_TIMINGSAFE_BCMP
int	 timingsafe_bcmp(const void *, const void *, size_t);
#endif

#endif /* SC_TEXT_H */
