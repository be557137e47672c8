/*
 * Fuzz target for common/pacans.c: the input is the answer of a PAC
 * script as the PAC process would send it to proxyd.  Checked: nothing
 * crashes, the count is within the bound asked for, and every entry it
 * filled is DIRECT or a proxy with a host, a port and a terminated
 * string to show.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pacans.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct upproxy	 up[PAC_ANSWER_MAX];
	char		 err[128];
	int		 n, i;

	memset(err, 'x', sizeof(err));
	n = pacans_parse((const char *)data, size, up, PAC_ANSWER_MAX, err,
	    sizeof(err));
	if (n == -1) {
		if (memchr(err, '\0', sizeof(err)) == NULL)
			abort();
		return (0);
	}
	if (n < 1 || n > PAC_ANSWER_MAX)
		abort();
	for (i = 0; i < n; i++) {
		if (memchr(up[i].shown, '\0', sizeof(up[i].shown)) == NULL)
			abort();
		if (up[i].scheme == UPX_NONE)
			continue;
		if (up[i].scheme != UPX_HTTP && up[i].scheme != UPX_SOCKS5)
			abort();
		if (up[i].host[0] == '\0' || up[i].portnum == 0 ||
		    up[i].basic != NULL || up[i].user[0] != '\0')
			abort();
	}
	return (0);
}
