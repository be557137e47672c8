/*
 * The record keys of proxyd's TLS connections to apps, exported for
 * kgpd (tls_keys.c).
 */
#ifndef TLS_KEYS_H
#define TLS_KEYS_H

#include <openssl/ssl.h>

struct tls_rec_keys;

int	 tls_keys_ctx(SSL_CTX *);
int	 tls_keys_export(SSL *, struct tls_rec_keys *, const char **);

#endif
