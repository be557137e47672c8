/*
 * Keys and certificates on disk, for the parent: the KGP endpoint's key
 * and self-signed certificate (generated with libcrypto on first start,
 * kept in the state directory, loaded into a libtls server context),
 * and the CA that resigns TLS (made on first start or given by the
 * operator).  What is done in memory is x509.c's.
 */
#include <sys/types.h>
#include <sys/stat.h>

#include <arpa/inet.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/obj_mac.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <tls.h>

#include "log.h"
#include "server.h"

#define CERT_FILE_MAX	(64 * 1024)
#define CERT_DAYS	3650

static int	 cert_generate(const char *, char **, size_t *, char **,
		    size_t *);

/* A whole regular file of 1 to max bytes, NUL-terminated. */
int
file_read_small(const char *path, size_t max, char **buf, size_t *len)
{
	struct stat	 st;
	char		*b = NULL;
	ssize_t		 n;
	size_t		 off = 0;
	int		 fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return (-1);
	if (fstat(fd, &st) == -1)
		goto fail;
	if (!S_ISREG(st.st_mode) || st.st_size <= 0 ||
	    (size_t)st.st_size > max) {
		errno = EINVAL;
		goto fail;
	}
	if ((b = malloc(st.st_size + 1)) == NULL)
		goto fail;
	while (off < (size_t)st.st_size) {
		n = read(fd, b + off, st.st_size - off);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (n == 0)
				errno = EIO;
			goto fail;
		}
		off += n;
	}
	b[off] = '\0';
	close(fd);
	*buf = b;
	*len = off;
	return (0);
 fail:
	if (b != NULL)
		freezero(b, st.st_size + 1);
	close(fd);
	return (-1);
}

/*
 * A new EC P-256 key and a self-signed certificate for host (CN and
 * subjectAltName, IP or DNS), valid for ten years.  PEM out.
 */
static int
cert_generate(const char *host, char **crt, size_t *crtlen, char **key,
    size_t *keylen)
{
	EVP_PKEY	*pkey = NULL;
	X509		*x = NULL;
	X509_NAME	*name;
	unsigned char	 addr[16];
	char		 san[HOST_MAX + 8];
	int		 ret = -1;

	*crt = *key = NULL;
	if ((pkey = x509_genkey()) == NULL) {
		log_warnx("%s: key generation failed", __func__);
		goto done;
	}
	if ((x = X509_new()) == NULL)
		goto done;
	if (X509_set_version(x, 2) != 1 || x509_serial(x) == -1)
		goto done;
	if (X509_gmtime_adj(X509_getm_notBefore(x), -3600) == NULL ||
	    X509_time_adj_ex(X509_getm_notAfter(x), CERT_DAYS, 0,
	    NULL) == NULL)
		goto done;
	if ((name = X509_get_subject_name(x)) == NULL ||
	    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
	    (const unsigned char *)host, -1, -1, 0) != 1 ||
	    X509_set_issuer_name(x, name) != 1)
		goto done;
	if (X509_set_pubkey(x, pkey) != 1)
		goto done;
	if (inet_pton(AF_INET, host, addr) == 1 ||
	    inet_pton(AF_INET6, host, addr) == 1)
		snprintf(san, sizeof(san), "IP:%s", host);
	else
		snprintf(san, sizeof(san), "DNS:%s", host);
	if (x509_addext(x, x, NID_basic_constraints, "critical,CA:TRUE") ==
	    -1 || x509_addext(x, x, NID_key_usage,
	    "critical,digitalSignature,keyCertSign") == -1 ||
	    x509_addext(x, x, NID_ext_key_usage, "serverAuth") == -1 ||
	    x509_addext(x, x, NID_subject_key_identifier, "hash") == -1 ||
	    x509_addext(x, x, NID_subject_alt_name, san) == -1) {
		log_warnx("%s: cannot add certificate extensions", __func__);
		goto done;
	}
	ret = x509_self_sign(x, pkey, crt, crtlen, key, keylen);
 done:
	X509_free(x);
	EVP_PKEY_free(pkey);
	return (ret);
}

/*
 * Load DIR/server.crt and DIR/server.key, creating both on first start.
 * Returns 0 with the PEM texts (the key is to be freed with freezero).
 */
int
cert_load_or_create(const char *dir, const char *host, char **crt,
    size_t *crtlen, char **key, size_t *keylen)
{
	char	 kpath[PATH_MAX], cpath[PATH_MAX];
	int	 khave, chave;

	if ((size_t)snprintf(kpath, sizeof(kpath), "%s/%s", dir,
	    SERVER_KEY_FILE) >= sizeof(kpath) ||
	    (size_t)snprintf(cpath, sizeof(cpath), "%s/%s", dir,
	    SERVER_CRT_FILE) >= sizeof(cpath)) {
		log_warnx("%s: path too long", dir);
		return (-1);
	}
	khave = access(kpath, F_OK) == 0;
	chave = access(cpath, F_OK) == 0;
	if (khave != chave) {
		log_warnx("%s exists but %s does not: remove it to generate "
		    "a new pair", khave ? kpath : cpath,
		    khave ? cpath : kpath);
		return (-1);
	}
	if (!khave) {
		if (cert_generate(host, crt, crtlen, key, keylen) == -1) {
			log_warnx("cannot generate a certificate");
			return (-1);
		}
		if (write_file_atomic(kpath, *key, *keylen, 0600) == -1 ||
		    write_file_atomic(cpath, *crt, *crtlen, 0644) == -1) {
			log_warn("cannot write %s or %s", kpath, cpath);
			unlink(kpath);
			freezero(*key, *keylen);
			free(*crt);
			return (-1);
		}
		log_info("generated a new key and certificate for %s in %s",
		    host, dir);
		return (0);
	}
	if (file_read_small(kpath, CERT_FILE_MAX, key, keylen) == -1) {
		log_warn("%s", kpath);
		return (-1);
	}
	if (file_read_small(cpath, CERT_FILE_MAX, crt, crtlen) == -1) {
		log_warn("%s", cpath);
		freezero(*key, *keylen);
		return (-1);
	}
	return (0);
}

/*
 * The fingerprint of a PEM certificate as libtls' tls_peer_cert_hash()
 * prints it: "SHA256:" and the lowercase hex SHA-256 of the DER form.
 */
int
cert_hash_pem(const char *pem, size_t len, char *out, size_t outlen)
{
	BIO		*bio;
	X509		*x = NULL;
	unsigned char	*der = NULL, md[EVP_MAX_MD_SIZE];
	unsigned int	 mdlen;
	int		 dlen, ret = -1;

	if (outlen < CERT_HASH_LEN + 1)
		return (-1);
	if ((bio = BIO_new_mem_buf(pem, len)) == NULL)
		return (-1);
	if ((x = PEM_read_bio_X509(bio, NULL, NULL, NULL)) == NULL)
		goto done;
	if ((dlen = i2d_X509(x, &der)) <= 0)
		goto done;
	if (EVP_Digest(der, dlen, md, &mdlen, EVP_sha256(), NULL) != 1 ||
	    mdlen != 32)
		goto done;
	memcpy(out, "SHA256:", 7);
	hexencode(md, mdlen, out + 7);
	ret = 0;
 done:
	OPENSSL_free(der);
	X509_free(x);
	BIO_free(bio);
	return (ret);
}

/*
 * The KGP key pair (PEM) into env->tls, its fingerprint into
 * env->cert_hash.  The parent does it once to check the pair, the KGP worker
 * to serve.
 */
int
cert_tls_setup(const char *crt, size_t crtlen, const char *key,
    size_t keylen)
{
	struct tls_config	*cfg = NULL;
	int			 ret = -1;

	if (cert_hash_pem(crt, crtlen, env->cert_hash,
	    sizeof(env->cert_hash)) == -1) {
		log_warnx("%s: not a PEM certificate", SERVER_CRT_FILE);
		goto done;
	}
	if ((cfg = tls_config_new()) == NULL) {
		log_warnx("tls_config_new failed");
		goto done;
	}
	if (tls_config_set_protocols(cfg, TLS_PROTOCOL_TLSv1_2 |
	    TLS_PROTOCOL_TLSv1_3) == -1 ||
	    tls_config_set_keypair_mem(cfg, (const uint8_t *)crt, crtlen,
	    (const uint8_t *)key, keylen) == -1) {
		log_warnx("TLS key pair: %s", tls_config_error(cfg));
		goto done;
	}
	if ((env->tls = tls_server()) == NULL) {
		log_warnx("tls_server failed");
		goto done;
	}
	if (tls_configure(env->tls, cfg) == -1) {
		log_warnx("tls_configure: %s", tls_error(env->tls));
		tls_free(env->tls);
		env->tls = NULL;
		goto done;
	}
	ret = 0;
 done:
	if (cfg != NULL) {
		tls_config_clear_keys(cfg);
		tls_config_free(cfg);
	}
	return (ret);
}

/*
 * The CA that resigns TLS for the entry proxies: the operator's files
 * (-c, -x) or STATEDIR/ca.crt and STATEDIR/ca.key, made on first start
 * (an EC P-256 key, mode 0600; a certificate, CN "sc-server CA
 * <hostname>", valid CA_DAYS).  The key is read here to check the
 * pair, then wiped: the parent reads it again for each CA process it
 * starts (parent.c), which alone keeps it.  crtpath and keypath get the
 * absolute paths, crt the certificate's PEM (for free()).  Returns 0,
 * or -1 with a log line.
 */
int
ca_files(const char *dir, const char *ucrt, const char *ukey,
    char *crtpath, size_t crtpathlen, char *keypath, size_t keypathlen,
    char **crt, size_t *crtlen)
{
	struct stat	 st;
	X509		*x = NULL;
	EVP_PKEY	*pkey = NULL;
	char		*key = NULL, err[128], host[HOST_MAX], cn[HOST_MAX + 16];
	size_t		 keylen = 0;
	int		 khave, chave, ret = -1;

	*crt = NULL;
	if (ucrt != NULL) {
		/* absolute: the parent reads the key again after daemon() */
		if (crtpathlen < PATH_MAX || keypathlen < PATH_MAX) {
			log_warnx("%s: buffers too short", __func__);
			return (-1);
		}
		if (realpath(ucrt, crtpath) == NULL) {
			log_warn("the CA certificate %s", ucrt);
			return (-1);
		}
		if (realpath(ukey, keypath) == NULL) {
			log_warn("the CA key %s", ukey);
			return (-1);
		}
	} else if ((size_t)snprintf(crtpath, crtpathlen, "%s/%s", dir,
	    CA_CRT_FILE) >= crtpathlen ||
	    (size_t)snprintf(keypath, keypathlen, "%s/%s", dir,
	    CA_KEY_FILE) >= keypathlen) {
		log_warnx("%s: path too long", dir);
		return (-1);
	}
	if (ucrt == NULL) {
		khave = access(keypath, F_OK) == 0;
		chave = access(crtpath, F_OK) == 0;
		if (khave != chave) {
			log_warnx("%s exists but %s does not: remove it to "
			    "generate a new CA", khave ? keypath : crtpath,
			    khave ? crtpath : keypath);
			return (-1);
		}
		if (!khave) {
			if (gethostname(host, sizeof(host)) == -1)
				strlcpy(host, "localhost", sizeof(host));
			host[sizeof(host) - 1] = '\0';
			snprintf(cn, sizeof(cn), "sc-server CA %s", host);
			if (ca_generate(cn, crt, crtlen, &key, &keylen) == -1) {
				log_warnx("cannot generate a CA");
				return (-1);
			}
			if (write_file_atomic(keypath, key, keylen, 0600) ==
			    -1 || write_file_atomic(crtpath, *crt, *crtlen,
			    0644) == -1) {
				log_warn("cannot write %s or %s", keypath,
				    crtpath);
				unlink(keypath);
				goto done;
			}
			log_info("generated a new CA, \"%s\", in %s", cn, dir);
			freezero(key, keylen + 1);
			key = NULL;
			free(*crt);
			*crt = NULL;
		}
	}
	if (stat(keypath, &st) == 0 && (st.st_mode & 077))
		log_warnx("the CA key %s is readable by others (mode %04o)",
		    keypath, (unsigned)(st.st_mode & 07777));
	if (file_read_small(crtpath, CERT_FILE_MAX, crt, crtlen) == -1) {
		log_warn("the CA certificate %s", crtpath);
		goto done;
	}
	if (file_read_small(keypath, CERT_FILE_MAX, &key, &keylen) == -1) {
		log_warn("the CA key %s", keypath);
		goto done;
	}
	if ((x = x509_read(*crt, *crtlen)) == NULL) {
		log_warnx("the CA certificate %s: no PEM certificate",
		    crtpath);
		goto done;
	}
	if ((pkey = x509_read_key(key, keylen)) == NULL) {
		log_warnx("the CA key %s: no PEM private key (or an "
		    "encrypted one)", keypath);
		goto done;
	}
	if (ca_check(x, pkey, err, sizeof(err)) == -1) {
		log_warnx("the CA %s: %s", crtpath, err);
		goto done;
	}
	ret = 0;
 done:
	ERR_clear_error();
	if (key != NULL)
		freezero(key, keylen + 1);
	EVP_PKEY_free(pkey);
	X509_free(x);
	if (ret == -1) {
		free(*crt);
		*crt = NULL;
	}
	return (ret);
}

/*
 * "sc-server ca show": the CA's certificate (made if there is none yet,
 * as at start) on standard output, then its SHA-256 fingerprint.
 */
int
ca_command(const char *dir, const char *ucrt, const char *ukey, int argc,
    char **argv)
{
	X509	*x;
	char	 crtpath[PATH_MAX], keypath[PATH_MAX], fp[96], *crt;
	size_t	 crtlen;

	if (argc != 1 || strcmp(argv[0], "show") != 0) {
		fprintf(stderr, "usage: sc-server [-s statedir] "
		    "[-c cacert -x cakey] ca show\n");
		return (1);
	}
	if (ca_files(dir, ucrt, ukey, crtpath, sizeof(crtpath), keypath,
	    sizeof(keypath), &crt, &crtlen) == -1)
		return (1);
	if ((x = x509_read(crt, crtlen)) == NULL ||
	    x509_fingerprint(x, fp, sizeof(fp)) == -1) {
		log_warnx("%s: cannot read it back", crtpath);
		X509_free(x);
		free(crt);
		return (1);
	}
	X509_free(x);
	fwrite(crt, 1, crtlen, stdout);
	printf("SHA256 Fingerprint=%s\n", fp);
	free(crt);
	return (fflush(stdout) == 0 ? 0 : 1);
}
