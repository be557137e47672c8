/*
 * The validators of the payloads of imsg_types.h: 0 when a payload of
 * len bytes fits its message, -1 when it does not.  Each is declared
 * next to its message's payload.
 */
#include <sys/types.h>

#include <stdint.h>
#include <string.h>
#include <syslog.h>

#include "imsg_types.h"

int
imsg_log_valid(const void *p, size_t len)
{
	const char	*s = (const char *)p + sizeof(int32_t);
	int32_t		 pri;

	if (len <= sizeof(pri))
		return (-1);
	memcpy(&pri, p, sizeof(pri));
	len -= sizeof(pri);
	if (pri < LOG_EMERG || pri > LOG_DEBUG ||
	    memchr(s, '\0', len) != s + len - 1)
		return (-1);
	return (0);
}

int
imsg_verbose_valid(const void *p, size_t len)
{
	int32_t	 v;

	if (len != sizeof(v))
		return (-1);
	memcpy(&v, p, sizeof(v));
	return (v < 0 || v > SC_VERBOSE_MAX ? -1 : 0);
}
