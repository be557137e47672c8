/*
 * Accounts: DIR/accounts holds one line per user, "name salt hash", salt
 * 16 random bytes and hash SHA-256(salt || access key), both in hex.  The
 * access key itself is printed once by "user add" and never stored.
 */
#include <sys/types.h>
#include <sys/file.h>
#include <sys/stat.h>

#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "log.h"
#include "server.h"

#define ACCOUNT_LINE_MAX	512

static int	 accounts_lock(const char *);
static void	 accounts_stat(struct stat *);

void
account_hash(const uint8_t *salt, const char *key, uint8_t *out)
{
	EVP_MD_CTX	*ctx;
	unsigned int	 len;

	if ((ctx = EVP_MD_CTX_new()) == NULL)
		fatalx("EVP_MD_CTX_new");
	if (EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1 ||
	    EVP_DigestUpdate(ctx, salt, ACCOUNT_SALT_LEN) != 1 ||
	    EVP_DigestUpdate(ctx, key, strlen(key)) != 1 ||
	    EVP_DigestFinal_ex(ctx, out, &len) != 1 || len != 32)
		fatalx("%s: SHA-256 failed", __func__);
	EVP_MD_CTX_free(ctx);
}

/* A random access key in the UUID version 4 form. */
void
account_new_key(char *buf, size_t len)
{
	uint8_t	 b[16];
	char	 h[33];

	arc4random_buf(b, sizeof(b));
	b[6] = (b[6] & 0x0f) | 0x40;
	b[8] = (b[8] & 0x3f) | 0x80;
	hexencode(b, sizeof(b), h);
	snprintf(buf, len, "%.8s-%.4s-%.4s-%.4s-%.12s", h, h + 8, h + 12,
	    h + 16, h + 20);
	explicit_bzero(b, sizeof(b));
	explicit_bzero(h, sizeof(h));
}

struct account *
account_find(struct accountlist *list, const char *name)
{
	struct account	*a;

	TAILQ_FOREACH(a, list, entry)
		if (strcmp(a->name, name) == 0)
			return (a);
	return (NULL);
}

/*
 * 0 if key is the access key of user name.  The hash is computed and
 * compared in constant time even for an unknown user.
 */
int
account_check(struct accountlist *list, const char *name, const char *key)
{
	static const uint8_t	 nosalt[ACCOUNT_SALT_LEN];
	struct account		*a;
	uint8_t			 h[32];
	int			 ok;

	a = account_find(list, name);
	account_hash(a ? a->salt : nosalt, key, h);
	if (a == NULL) {
		explicit_bzero(h, sizeof(h));
		return (-1);
	}
	ok = timingsafe_bcmp(h, a->hash, sizeof(h)) == 0;
	explicit_bzero(h, sizeof(h));
	return (ok ? 0 : -1);
}

void
accounts_clear(struct accountlist *list)
{
	struct account	*a;

	while ((a = TAILQ_FIRST(list)) != NULL) {
		TAILQ_REMOVE(list, a, entry);
		freezero(a, sizeof(*a));
	}
}

/*
 * Read an accounts file into list (which must be empty).  A missing file
 * is an empty list.  Bad lines are reported and skipped.
 */
int
accounts_load(const char *path, struct accountlist *list)
{
	FILE		*f;
	char		 line[ACCOUNT_LINE_MAX], name[ACCOUNT_LINE_MAX];
	char		 salt[ACCOUNT_LINE_MAX], hash[ACCOUNT_LINE_MAX];
	char		 extra[2];
	struct account	*a;
	struct stat	 st;
	size_t		 n = 0;
	u_int		 lineno = 0;
	int		 toolong = 0;

	if ((f = fopen(path, "re")) == NULL) {
		if (errno == ENOENT)
			return (0);
		log_warn("%s", path);
		return (-1);
	}
	if (fstat(fileno(f), &st) == 0 && (st.st_mode & 077))
		log_warnx("%s is accessible by others (mode %03o)", path,
		    (u_int)st.st_mode & 0777);
	while (fgets(line, sizeof(line), f) != NULL) {
		if (strchr(line, '\n') == NULL && !feof(f)) {
			toolong = 1;
			continue;
		}
		lineno++;
		if (toolong) {
			/* the tail of a line that was too long */
			toolong = 0;
			log_warnx("%s:%u: line too long", path, lineno);
			continue;
		}
		line[strcspn(line, "\r\n")] = '\0';
		if (line[strspn(line, " \t")] == '\0' ||
		    line[strspn(line, " \t")] == '#')
			continue;
		if (sscanf(line, "%511s %511s %511s %1s", name, salt, hash,
		    extra) != 3) {
			log_warnx("%s:%u: want \"name salt hash\"", path,
			    lineno);
			continue;
		}
		if (!account_name_valid(name)) {
			log_warnx("%s:%u: bad user name", path, lineno);
			continue;
		}
		if (account_find(list, name) != NULL) {
			log_warnx("%s:%u: duplicate user %s", path, lineno,
			    name);
			continue;
		}
		if (n >= ACCOUNTS_MAX) {
			log_warnx("%s: too many accounts", path);
			break;
		}
		if ((a = calloc(1, sizeof(*a))) == NULL) {
			log_warn("%s", __func__);
			fclose(f);
			accounts_clear(list);
			return (-1);
		}
		strlcpy(a->name, name, sizeof(a->name));
		if (hexdecode(salt, a->salt, sizeof(a->salt)) == -1 ||
		    hexdecode(hash, a->hash, sizeof(a->hash)) == -1) {
			log_warnx("%s:%u: bad salt or hash", path, lineno);
			free(a);
			continue;
		}
		TAILQ_INSERT_TAIL(list, a, entry);
		n++;
	}
	if (ferror(f)) {
		log_warn("%s", path);
		fclose(f);
		accounts_clear(list);
		return (-1);
	}
	fclose(f);
	return (0);
}

/* Write the list to path atomically, mode 0600. */
int
accounts_save(const char *path, struct accountlist *list)
{
	char		 salt[2 * ACCOUNT_SALT_LEN + 1], hash[65];
	char		*buf = NULL;
	size_t		 len = 0;
	struct account	*a;
	FILE		*f;
	int		 rc;

	if ((f = open_memstream(&buf, &len)) == NULL)
		return (-1);
	TAILQ_FOREACH(a, list, entry) {
		hexencode(a->salt, sizeof(a->salt), salt);
		hexencode(a->hash, sizeof(a->hash), hash);
		fprintf(f, "%s %s %s\n", a->name, salt, hash);
	}
	if (fclose(f) == EOF) {
		free(buf);
		return (-1);
	}
	rc = write_file_atomic(path, buf, len, 0600);
	freezero(buf, len);
	return (rc);
}

static void
accounts_stat(struct stat *st)
{
	if (stat(env->accounts_path, st) == -1)
		memset(st, 0, sizeof(*st));
}

/* Reload env->accounts from the file; on failure keep the old list. */
int
accounts_reload(void)
{
	struct accountlist	 list;
	struct account		*a;
	struct stat		 st;
	int			 n = 0;

	TAILQ_INIT(&list);
	accounts_stat(&st);
	if (accounts_load(env->accounts_path, &list) == -1) {
		log_warnx("accounts not reloaded");
		return (-1);
	}
	accounts_clear(&env->accounts);
	while ((a = TAILQ_FIRST(&list)) != NULL) {
		TAILQ_REMOVE(&list, a, entry);
		TAILQ_INSERT_TAIL(&env->accounts, a, entry);
		n++;
	}
	env->accounts_mtime = st.st_mtim;
	env->accounts_ino = st.st_ino;
	env->accounts_size = st.st_size;
	log_debug("%d account%s loaded from %s", n, n == 1 ? "" : "s",
	    env->accounts_path);
	return (0);
}

/*
 * Pick up a changed accounts file ("user add" while running).  Returns 1
 * when the list was reloaded, 0 otherwise.
 */
int
accounts_maybe_reload(void)
{
	struct stat	 st;

	accounts_stat(&st);
	if (st.st_ino == env->accounts_ino &&
	    st.st_size == env->accounts_size &&
	    st.st_mtim.tv_sec == env->accounts_mtime.tv_sec &&
	    st.st_mtim.tv_nsec == env->accounts_mtime.tv_nsec)
		return (0);
	return (accounts_reload() == 0);
}

static int
accounts_lock(const char *dir)
{
	char	 path[PATH_MAX];
	int	 fd;

	if ((size_t)snprintf(path, sizeof(path), "%s/%s.lock", dir,
	    ACCOUNTS_FILE) >= sizeof(path))
		errx(1, "%s: path too long", dir);
	if ((fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) == -1)
		err(1, "%s", path);
	if (flock(fd, LOCK_EX) == -1)
		err(1, "flock %s", path);
	return (fd);
}

/* sc-server user add NAME | del NAME | list */
int
user_command(const char *dir, int argc, char **argv)
{
	struct accountlist	 list;
	struct account		*a;
	char			 key[ACCOUNT_KEY_LEN + 1];
	int			 lockfd, ret = 0;

	TAILQ_INIT(&list);
	if (argc < 1)
		goto usage;
	if (strcmp(argv[0], "list") == 0) {
		if (argc != 1)
			goto usage;
	} else if (strcmp(argv[0], "add") == 0 ||
	    strcmp(argv[0], "del") == 0) {
		if (argc != 2)
			goto usage;
		if (!account_name_valid(argv[1]))
			errx(1, "bad user name \"%s\": 1 to %d characters "
			    "of A-Z a-z 0-9 . _ @ + -, not starting with "
			    "- or .", argv[1], ACCOUNT_NAME_MAX);
	} else
		goto usage;

	lockfd = accounts_lock(dir);
	if (accounts_load(env->accounts_path, &list) == -1)
		errx(1, "cannot read %s", env->accounts_path);

	if (strcmp(argv[0], "list") == 0) {
		TAILQ_FOREACH(a, &list, entry)
			printf("%s\n", a->name);
	} else if (strcmp(argv[0], "add") == 0) {
		if (account_find(&list, argv[1]) != NULL)
			errx(1, "user %s exists", argv[1]);
		if ((a = calloc(1, sizeof(*a))) == NULL)
			err(1, NULL);
		strlcpy(a->name, argv[1], sizeof(a->name));
		arc4random_buf(a->salt, sizeof(a->salt));
		account_new_key(key, sizeof(key));
		account_hash(a->salt, key, a->hash);
		TAILQ_INSERT_TAIL(&list, a, entry);
		if (accounts_save(env->accounts_path, &list) == -1)
			err(1, "%s", env->accounts_path);
		printf("%s\n", key);
		explicit_bzero(key, sizeof(key));
	} else {
		if ((a = account_find(&list, argv[1])) == NULL)
			errx(1, "no user %s", argv[1]);
		TAILQ_REMOVE(&list, a, entry);
		freezero(a, sizeof(*a));
		if (accounts_save(env->accounts_path, &list) == -1)
			err(1, "%s", env->accounts_path);
	}
	accounts_clear(&list);
	close(lockfd);
	if (fflush(stdout) == EOF)
		ret = 1;
	return (ret);
 usage:
	fprintf(stderr, "usage: sc-server [-s statedir] user add | del NAME\n"
	    "       sc-server [-s statedir] user list\n");
	return (1);
}
