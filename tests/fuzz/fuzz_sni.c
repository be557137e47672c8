/*
 * Fuzz target for server/sni.c: the bytes a browser sends after a
 * resigned CONNECT, read as a ClientHello.  Checked: nothing crashes; a
 * whole one is no longer than the input; its name is "" or a host name
 * of at most CERT_NAME_MAX bytes, lowercase; an error says why; and the
 * same bytes cut anywhere before the end are never a different answer
 * than "more is needed" or the same error.
 */
#include <sys/types.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "server.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char		 name[CERT_NAME_MAX + 1];
	const char	*errstr = NULL;
	ssize_t		 n, m;
	size_t		 i, len;

	n = sni_parse(data, size, name, sizeof(name), &errstr);
	if (n > (ssize_t)size || n < -1)
		abort();
	if (n == -1 && errstr == NULL)
		abort();
	if (n > 0) {
		len = strnlen(name, sizeof(name));
		if (len > CERT_NAME_MAX)
			abort();
		for (i = 0; i < len; i++)
			if (name[i] >= 'A' && name[i] <= 'Z')
				abort();
		/* a prefix of a whole one is one that needs more */
		if (n > 1 && (m = sni_parse(data, n - 1, name, sizeof(name),
		    &errstr)) != 0)
			abort();
	}
	return (0);
}
