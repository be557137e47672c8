/*
 * Accounts: a name, a salt of 16 random bytes and the hash SHA-256(salt
 * || access key), kept in the database (db.c).  The access key itself is
 * printed once by "user add" (or "user set --new-key") and never stored.
 * Versions before the database kept them in DIR/accounts, one line per
 * user, "name salt hash" in hex: accounts_load() reads that file for the
 * database's first migration.
 */
#include <sys/types.h>
#include <sys/stat.h>

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
