/*
 * The ciphers of the two TLS legs that resigning adds: sc-server's
 * entry proxy to the browser (server/resign_tls.c) and proxyd to the app
 * (proxyd/relay_tls.c), both on OpenSSL directly.  The AEAD ciphers with
 * forward secrecy, as libtls's defaults, but AES-128-GCM first: on a
 * download each byte passes through both legs' AES once more than when
 * TLS is passed through, and AES-128 takes 10 rounds a block where
 * AES-256 takes 14 (its security margin is that of TLS 1.3's mandatory
 * suite, and what browsers themselves prefer).  The server side picks
 * by this order (SSL_OP_CIPHER_SERVER_PREFERENCE), the client side
 * offers it so; an app that prefers its own order keeps it.
 */
#ifndef SC_TLS_SUITES_H
#define SC_TLS_SUITES_H

/* TLS 1.3 (SSL_CTX_set_ciphersuites()) */
#define TLS_SUITES_13	"TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:" \
			"TLS_CHACHA20_POLY1305_SHA256"
/* TLS 1.2 (SSL_CTX_set_cipher_list()) */
#define TLS_SUITES_12	"ECDHE+AESGCM+AES128:ECDHE+AESGCM:ECDHE+CHACHA20:" \
			"DHE+AESGCM+AES128:DHE+AESGCM:DHE+CHACHA20"
#define TLS_SUITES_GROUPS	"X25519:P-256:P-384"

#endif /* SC_TLS_SUITES_H */
