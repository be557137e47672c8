/*
 * execshim.so: preloaded into sc-server (LD_PRELOAD), it makes the
 * parent execute another program in place of one of its workers:
 * SC_TEST_WORKER=ROLE:PATH runs PATH, with the same arguments, where the
 * parent executes "sc-server -W ROLE".  Nothing else changes.
 */
#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int	 execve(const char *, char *const [], char *const []);

int
execve(const char *path, char *const argv[], char *const envp[])
{
	int		(*real)(const char *, char *const [], char *const []);
	const char	*w = getenv("SC_TEST_WORKER");
	size_t		 n;

	real = (int (*)(const char *, char *const [], char *const []))
	    dlsym(RTLD_NEXT, "execve");
	if (real == NULL)
		return (-1);
	if (w != NULL && argv[0] != NULL && argv[1] != NULL &&
	    argv[2] != NULL && strcmp(argv[1], "-W") == 0) {
		n = strlen(argv[2]);
		if (strncmp(w, argv[2], n) == 0 && w[n] == ':')
			path = w + n + 1;
	}
	return (real(path, argv, envp));
}
