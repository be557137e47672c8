/*
 * Certificates with libcrypto, in memory: keys, serials, extensions and
 * PEM texts for cert.c (the KGP key pair, the CA's files), and the
 * certificate authority that resigns TLS for the entry proxies: a CA
 * made on first start, an operator's CA checked, and the leaf
 * certificates it signs for one host name or address (ca.c signs them,
 * mint.c asks).  No file, no process state (but the P-256 group, made
 * once): the CA process, the parent,
 * the KGP worker and the unit tests call it alike.
 *
 * A leaf (ca_leaf()): version 3, a random serial, the CA's subject as
 * its issuer, CN the name when it fits (64 bytes), subjectAltName the
 * name (DNS) or the address (IP) alone, CA:FALSE, digitalSignature,
 * extendedKeyUsage serverAuth, the CA's key identifier; valid from
 * CA_LEAF_BEFORE_SEC ago for CA_LEAF_DAYS, never outside the CA's own
 * validity.  The subjectAltName is built from the name's bytes as one
 * GENERAL_NAME, never parsed from a configuration string, and the name
 * has passed cert_name_valid() (util.c): no wildcard, no list.
 *
 * A leaf's public key travels from the KGP worker to the CA process as
 * a P-256 SubjectPublicKeyInfo, which for an uncompressed point is a
 * fixed prefix and the point's 65 bytes: x509_p256_spki() writes it and
 * x509_p256_point() takes the point back (checked on the curve) without
 * OpenSSL 3.0's encoders and decoders, which build a chain of providers'
 * algorithms for each key (i2d_PUBKEY 0.1-0.25 ms, d2i_PUBKEY 0.2-0.35
 * ms, X509_set_pubkey() up to 0.4 ms, on a loaded 2-core machine; a few
 * microseconds here, 9 in all), on the
 * way of every new host's first handshake.
 */
#include <sys/types.h>

#include <arpa/inet.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/obj_mac.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "log.h"
#include "server.h"

/* SubjectPublicKeyInfo: id-ecPublicKey, prime256v1, BIT STRING of 66 */
static const uint8_t	 x509_p256_prefix[] = {
	0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d,
	0x02, 0x01, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01,
	0x07, 0x03, 0x42, 0x00
};

static int	 x509_bio_text(BIO *, char **, size_t *);
static int	 x509_validity(X509 *, time_t, time_t);
static int	 x509_time(const ASN1_TIME *, time_t *);
static int	 x509_san(X509 *, const char *);

/*
 * The SubjectPublicKeyInfo (DER) of pkey, a P-256 key, into buf (len
 * bytes at least X509_P256_SPKI_LEN).  Returns its length, or -1.
 */
int
x509_p256_spki(EVP_PKEY *pkey, uint8_t *buf, size_t len)
{
	size_t	 n;

	if (len < X509_P256_SPKI_LEN ||
	    EVP_PKEY_get_octet_string_param(pkey,
	    OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, buf + sizeof(x509_p256_prefix),
	    X509_P256_POINT_LEN, &n) != 1 || n != X509_P256_POINT_LEN ||
	    buf[sizeof(x509_p256_prefix)] != POINT_CONVERSION_UNCOMPRESSED) {
		ERR_clear_error();
		return (-1);
	}
	memcpy(buf, x509_p256_prefix, sizeof(x509_p256_prefix));
	return (X509_P256_SPKI_LEN);
}

/*
 * The point (X509_P256_POINT_LEN bytes, uncompressed) of a P-256
 * SubjectPublicKeyInfo spki of len bytes, as x509_p256_spki() writes
 * it, if it is one and the point is on the curve; else NULL.
 */
const uint8_t *
x509_p256_point(const uint8_t *spki, size_t len)
{
	static EC_GROUP	*group;
	EC_POINT	*pt;
	const uint8_t	*p = spki + sizeof(x509_p256_prefix);
	int		 ok;

	if (len != X509_P256_SPKI_LEN ||
	    memcmp(spki, x509_p256_prefix, sizeof(x509_p256_prefix)) != 0 ||
	    p[0] != POINT_CONVERSION_UNCOMPRESSED)
		return (NULL);
	if (group == NULL &&
	    (group = EC_GROUP_new_by_curve_name(NID_X9_62_prime256v1)) == NULL)
		return (NULL);
	if ((pt = EC_POINT_new(group)) == NULL)
		return (NULL);
	ok = EC_POINT_oct2point(group, pt, p, X509_P256_POINT_LEN, NULL) == 1 &&
	    EC_POINT_is_on_curve(group, pt, NULL) == 1;
	EC_POINT_free(pt);
	ERR_clear_error();
	return (ok ? p : NULL);
}

/* A new EC P-256 key (named curve), or NULL. */
EVP_PKEY *
x509_genkey(void)
{
	EVP_PKEY_CTX	*ctx;
	EVP_PKEY	*pkey = NULL;

	if ((ctx = EVP_PKEY_CTX_new_id(EVP_PKEY_EC, NULL)) == NULL)
		return (NULL);
	if (EVP_PKEY_keygen_init(ctx) <= 0 ||
	    EVP_PKEY_CTX_set_ec_paramgen_curve_nid(ctx,
	    NID_X9_62_prime256v1) <= 0 ||
	    EVP_PKEY_CTX_set_ec_param_enc(ctx, OPENSSL_EC_NAMED_CURVE) <= 0 ||
	    EVP_PKEY_keygen(ctx, &pkey) <= 0)
		pkey = NULL;
	EVP_PKEY_CTX_free(ctx);
	return (pkey);
}

/* A random positive serial of 16 bytes.  Returns 0 or -1. */
int
x509_serial(X509 *x)
{
	unsigned char	 serial[16];
	BIGNUM		*bn;
	int		 ret = -1;

	arc4random_buf(serial, sizeof(serial));
	serial[0] &= 0x7f;
	serial[0] |= 0x40;
	if ((bn = BN_bin2bn(serial, sizeof(serial), NULL)) == NULL)
		return (-1);
	if (BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) != NULL)
		ret = 0;
	BN_free(bn);
	return (ret);
}

/*
 * An extension of x from a fixed value (never a name from outside),
 * issuer the certificate that signs it (x itself when self-signed).
 */
int
x509_addext(X509 *x, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX	 ctx;
	X509_EXTENSION	*ext;
	int		 ret;

	X509V3_set_ctx(&ctx, issuer, x, NULL, NULL, 0);
	if ((ext = X509V3_EXT_nconf_nid(NULL, &ctx, nid, value)) == NULL)
		return (-1);
	ret = X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	return (ret == 1 ? 0 : -1);
}

static int
x509_bio_text(BIO *bio, char **buf, size_t *len)
{
	char	*p;
	long	 n;

	if ((n = BIO_get_mem_data(bio, &p)) <= 0)
		return (-1);
	if ((*buf = malloc(n + 1)) == NULL)
		return (-1);
	memcpy(*buf, p, n);
	(*buf)[n] = '\0';
	*len = n;
	return (0);
}

/* x as PEM, NUL-terminated, for free(). */
int
x509_pem(X509 *x, char **buf, size_t *len)
{
	BIO	*bio;
	int	 ret = -1;

	if ((bio = BIO_new(BIO_s_mem())) == NULL)
		return (-1);
	if (PEM_write_bio_X509(bio, x) == 1)
		ret = x509_bio_text(bio, buf, len);
	BIO_free(bio);
	return (ret);
}

/* A private key as PEM (PKCS#8), for freezero(buf, len + 1). */
int
x509_key_pem(EVP_PKEY *pkey, char **buf, size_t *len)
{
	BIO	*bio;
	int	 ret = -1;

	if ((bio = BIO_new(BIO_s_secmem())) == NULL &&
	    (bio = BIO_new(BIO_s_mem())) == NULL)
		return (-1);
	if (PEM_write_bio_PrivateKey(bio, pkey, NULL, NULL, 0, NULL,
	    NULL) == 1)
		ret = x509_bio_text(bio, buf, len);
	BIO_free(bio);
	return (ret);
}

/* An encrypted key is refused, never asked for on a terminal. */
static int
x509_no_passphrase(char *buf, int size, int rwflag, void *arg)
{
	return (0);
}

/* The first certificate of a PEM text, or NULL. */
X509 *
x509_read(const char *pem, size_t len)
{
	BIO	*bio;
	X509	*x;

	if (len > INT32_MAX || (bio = BIO_new_mem_buf(pem, len)) == NULL)
		return (NULL);
	x = PEM_read_bio_X509(bio, NULL, x509_no_passphrase, NULL);
	BIO_free(bio);
	return (x);
}

/* The private key of a PEM text (not encrypted), or NULL. */
EVP_PKEY *
x509_read_key(const char *pem, size_t len)
{
	BIO		*bio;
	EVP_PKEY	*pkey;

	if (len > INT32_MAX || (bio = BIO_new_mem_buf(pem, len)) == NULL)
		return (NULL);
	pkey = PEM_read_bio_PrivateKey(bio, NULL, x509_no_passphrase, NULL);
	BIO_free(bio);
	return (pkey);
}

/*
 * The SHA-256 fingerprint of x as browsers and "openssl x509
 * -fingerprint" show it: 32 bytes in uppercase hex, colon-separated
 * (95 characters and a NUL).
 */
int
x509_fingerprint(X509 *x, char *out, size_t outlen)
{
	static const char	 hex[] = "0123456789ABCDEF";
	unsigned char		 md[EVP_MAX_MD_SIZE];
	unsigned int		 mdlen, i;

	if (X509_digest(x, EVP_sha256(), md, &mdlen) != 1 || mdlen != 32 ||
	    outlen < mdlen * 3)
		return (-1);
	for (i = 0; i < mdlen; i++) {
		out[i * 3] = hex[md[i] >> 4];
		out[i * 3 + 1] = hex[md[i] & 0xf];
		out[i * 3 + 2] = i + 1 < mdlen ? ':' : '\0';
	}
	return (0);
}

/* notBefore and notAfter, as seconds since the epoch. */
static int
x509_validity(X509 *x, time_t from, time_t until)
{
	if (X509_time_adj_ex(X509_getm_notBefore(x), 0, 0, &from) == NULL ||
	    X509_time_adj_ex(X509_getm_notAfter(x), 0, 0, &until) == NULL)
		return (-1);
	return (0);
}

/* An ASN.1 time as seconds since the epoch. */
static int
x509_time(const ASN1_TIME *at, time_t *t)
{
	struct tm	 tm;

	memset(&tm, 0, sizeof(tm));
	if (ASN1_TIME_to_tm(at, &tm) != 1 || (*t = timegm(&tm)) == -1)
		return (-1);
	return (0);
}

/*
 * A new CA: an EC P-256 key and a self-signed certificate, CN cn,
 * CA:TRUE with a path length of 0, keyCertSign and cRLSign, valid from
 * an hour ago for CA_DAYS.  PEM out (the key for freezero()).
 */
int
ca_generate(const char *cn, char **crt, size_t *crtlen, char **key,
    size_t *keylen)
{
	EVP_PKEY	*pkey = NULL;
	X509		*x = NULL;
	X509_NAME	*name;
	time_t		 now = time(NULL);
	int		 ret = -1;

	*crt = *key = NULL;
	if ((pkey = x509_genkey()) == NULL || (x = X509_new()) == NULL ||
	    X509_set_version(x, 2) != 1 || x509_serial(x) == -1 ||
	    x509_validity(x, now - CA_LEAF_BEFORE_SEC,
	    now + (time_t)CA_DAYS * 86400) == -1)
		goto done;
	if ((name = X509_get_subject_name(x)) == NULL ||
	    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
	    (const unsigned char *)cn, -1, -1, 0) != 1 ||
	    X509_set_issuer_name(x, name) != 1 ||
	    X509_set_pubkey(x, pkey) != 1)
		goto done;
	if (x509_addext(x, x, NID_basic_constraints,
	    "critical,CA:TRUE,pathlen:0") == -1 ||
	    x509_addext(x, x, NID_key_usage,
	    "critical,keyCertSign,cRLSign,digitalSignature") == -1 ||
	    x509_addext(x, x, NID_subject_key_identifier, "hash") == -1 ||
	    x509_addext(x, x, NID_authority_key_identifier,
	    "keyid:always") == -1)
		goto done;
	ret = x509_self_sign(x, pkey, crt, crtlen, key, keylen);
 done:
	ERR_clear_error();
	X509_free(x);
	EVP_PKEY_free(pkey);
	return (ret);
}

/*
 * x signed by its own key pkey; x and the key as PEM (the key for
 * freezero(key, keylen + 1)).  Returns 0, or -1 with nothing out.
 */
int
x509_self_sign(X509 *x, EVP_PKEY *pkey, char **crt, size_t *crtlen,
    char **key, size_t *keylen)
{
	*crt = *key = NULL;
	if (X509_sign(x, pkey, EVP_sha256()) == 0 ||
	    x509_pem(x, crt, crtlen) == -1)
		return (-1);
	if (x509_key_pem(pkey, key, keylen) == -1) {
		free(*crt);
		*crt = NULL;
		return (-1);
	}
	return (0);
}

/*
 * Can x, with its key pkey, sign leaves: a CA certificate (CA:TRUE and,
 * when it has a key usage, keyCertSign), valid now, and the key its
 * own.  Returns 0, or -1 with the reason in err.
 */
int
ca_check(X509 *x, EVP_PKEY *pkey, char *err, size_t errlen)
{
	time_t	 now = time(NULL);

	if (X509_check_ca(x) != 1 || !(X509_get_extension_flags(x) &
	    EXFLAG_BCONS)) {
		snprintf(err, errlen, "not a CA certificate (it needs "
		    "basicConstraints CA:TRUE)");
		return (-1);
	}
	if ((X509_get_extension_flags(x) & EXFLAG_KUSAGE) &&
	    !(X509_get_key_usage(x) & KU_KEY_CERT_SIGN)) {
		snprintf(err, errlen, "its key usage has no keyCertSign");
		return (-1);
	}
	if (X509_cmp_time(X509_get0_notBefore(x), &now) > 0 ||
	    X509_cmp_time(X509_get0_notAfter(x), &now) < 0) {
		snprintf(err, errlen, "not valid now");
		return (-1);
	}
	if (pkey != NULL && X509_check_private_key(x, pkey) != 1) {
		ERR_clear_error();
		snprintf(err, errlen, "the key is not the certificate's");
		return (-1);
	}
	return (0);
}

/* subjectAltName: the one name, DNS or IP, from its bytes. */
static int
x509_san(X509 *x, const char *name)
{
	GENERAL_NAMES		*gens = NULL;
	GENERAL_NAME		*gen = NULL;
	ASN1_OCTET_STRING	*ip = NULL;
	ASN1_IA5STRING		*dns = NULL;
	unsigned char		 addr[16];
	int			 ret = -1;

	if ((gens = GENERAL_NAMES_new()) == NULL ||
	    (gen = GENERAL_NAME_new()) == NULL)
		goto done;
	if (inet_pton(AF_INET, name, addr) == 1 ||
	    inet_pton(AF_INET6, name, addr) == 1) {
		if ((ip = ASN1_OCTET_STRING_new()) == NULL ||
		    ASN1_OCTET_STRING_set(ip, addr,
		    strchr(name, ':') != NULL ? 16 : 4) != 1)
			goto done;
		GENERAL_NAME_set0_value(gen, GEN_IPADD, ip);
		ip = NULL;
	} else {
		if ((dns = ASN1_IA5STRING_new()) == NULL ||
		    ASN1_STRING_set(dns, name, strlen(name)) != 1)
			goto done;
		GENERAL_NAME_set0_value(gen, GEN_DNS, dns);
		dns = NULL;
	}
	if (sk_GENERAL_NAME_push(gens, gen) == 0)
		goto done;
	gen = NULL;
	if (X509_add1_ext_i2d(x, NID_subject_alt_name, gens, 0, 0) == 1)
		ret = 0;
 done:
	ASN1_OCTET_STRING_free(ip);
	ASN1_IA5STRING_free(dns);
	GENERAL_NAME_free(gen);
	GENERAL_NAMES_free(gens);
	return (ret);
}

/*
 * A leaf certificate for name (cert_name_valid()) with the public key
 * pub (a P-256 point, X509_P256_POINT_LEN bytes: x509_p256_point()),
 * signed by the CA ca with cakey, as of now.  The key is not decoded:
 * the leaf is for i2d_X509() (X509_get0_pubkey() on it fails).  NULL
 * with errstr set when it cannot be made.
 */
X509 *
ca_leaf(X509 *ca, EVP_PKEY *cakey, const char *name, const uint8_t *pub,
    time_t now, const char **errstr)
{
	X509		*x = NULL;
	X509_NAME	*subj;
	uint8_t		*pt = NULL;
	time_t		 from, until, t, t0;
	int		 ok = 0;

	*errstr = "cannot build the certificate";
	if (!cert_name_valid(name)) {
		*errstr = "not a host name or address";
		return (NULL);
	}
	from = now - CA_LEAF_BEFORE_SEC;
	until = now + (time_t)CA_LEAF_DAYS * 86400;
	/* within the CA's own validity */
	if (x509_time(X509_get0_notAfter(ca), &t) == -1 ||
	    x509_time(X509_get0_notBefore(ca), &t0) == -1)
		goto done;
	if (t <= now) {
		*errstr = "the CA certificate has expired";
		goto done;
	}
	if (until > t)
		until = t;
	if (from < t0)
		from = t0;
	if ((x = X509_new()) == NULL || X509_set_version(x, 2) != 1 ||
	    x509_serial(x) == -1 || x509_validity(x, from, until) == -1 ||
	    X509_set_issuer_name(x, X509_get_subject_name(ca)) != 1 ||
	    (pt = OPENSSL_memdup(pub, X509_P256_POINT_LEN)) == NULL)
		goto done;
	/* the point as it is: no encoder */
	if (X509_PUBKEY_set0_param(X509_get_X509_PUBKEY(x),
	    OBJ_nid2obj(NID_X9_62_id_ecPublicKey), V_ASN1_OBJECT,
	    OBJ_nid2obj(NID_X9_62_prime256v1), pt, X509_P256_POINT_LEN) != 1) {
		OPENSSL_free(pt);
		goto done;
	}
	subj = X509_get_subject_name(x);
	if (strlen(name) <= 64 && X509_NAME_add_entry_by_txt(subj, "CN",
	    MBSTRING_ASC, (const unsigned char *)name, -1, -1, 0) != 1)
		goto done;
	if (x509_san(x, name) == -1 ||
	    x509_addext(x, ca, NID_basic_constraints, "critical,CA:FALSE") ==
	    -1 || x509_addext(x, ca, NID_key_usage,
	    "critical,digitalSignature") == -1 ||
	    x509_addext(x, ca, NID_ext_key_usage, "serverAuth") == -1 ||
	    x509_addext(x, ca, NID_subject_key_identifier, "hash") == -1 ||
	    (X509_get0_subject_key_id(ca) != NULL &&
	    x509_addext(x, ca, NID_authority_key_identifier,
	    "keyid:always") == -1))
		goto done;
	if (X509_sign(x, cakey, EVP_sha256()) == 0) {
		*errstr = "the CA's key cannot sign";
		goto done;
	}
	ok = 1;
 done:
	if (!ok) {
		ERR_clear_error();
		X509_free(x);
		return (NULL);
	}
	*errstr = NULL;
	return (x);
}
