/*
 * tls_client.h -- client-side TLS towards backends ("tls:host:port"
 * targets): a context per route verifying the backend's certificate
 * against the system store or a CA file, and the per-connection settings
 * (SNI, the name or address the certificate must match).
 */
#ifndef TLS_CLIENT_H
#define TLS_CLIENT_H

typedef struct ssl_ctx_st SSL_CTX;
typedef struct ssl_st SSL;

/*
 * Builds the context for a TLS target: TLS 1.2 and 1.3, peer verification
 * against ca (a PEM file) or, when ca is NULL, the system's default store,
 * unless verify is 0. Returns a new SSL_CTX (the caller owns it:
 * SSL_CTX_free), or NULL with *cause set (caller frees) naming the file and
 * the reason.
 */
SSL_CTX	*tls_client_ctx_new(const char *ca, int verify, char **cause);

/*
 * Makes the SSL for one connection to host (a name or an IP literal,
 * without brackets): SNI = host when it is a name (RFC 6066 3 forbids
 * addresses there), and with verification on, the certificate must match
 * host (DNS or IP subjectAltName). Returns NULL when OpenSSL fails.
 */
SSL	*tls_client_ssl_new(SSL_CTX *ctx, const char *host);

/*
 * Why a handshake with ssl failed, for the log: the verification result
 * when the certificate was refused ("certificate verify failed: unable to
 * get local issuer certificate"), else the first OpenSSL error that has a
 * name. Clears the thread's error queue. Writes into buf and returns it.
 */
const char *tls_client_error(SSL *ssl, unsigned long err, char *buf,
	    size_t len);

#endif
