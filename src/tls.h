/*
 * tls.h -- server-side TLS contexts for listeners: certificate and key
 * loading with errors a person can act on, TLS 1.2/1.3 only, ALPN (h2,
 * http/1.1), optional client-certificate verification (mTLS).
 */
#ifndef TLS_H
#define TLS_H

#include <stddef.h>

struct listen_cfg;
struct bufferevent;
typedef struct ssl_ctx_st SSL_CTX;

/* What ALPN agreed on a finished handshake. */
enum tls_alpn {
	TLS_ALPN_NONE = 0,	/* client offered no ALPN (or none we speak) */
	TLS_ALPN_HTTP1,		/* "http/1.1" */
	TLS_ALPN_H2,		/* "h2" */
};

/*
 * Builds a context from lc's cert=, key= and ca= files. Returns a new
 * SSL_CTX (the caller owns one reference: SSL_CTX_free), or NULL with *cause
 * set (caller frees) naming the file and the reason ("cert /x.pem: No such
 * file or directory", "key /k.pem does not match cert /c.pem"). Each SSL made
 * from it takes its own reference, so replacing a listener's context on
 * reload leaves live connections untouched.
 */
SSL_CTX	*tls_server_ctx_new(const struct listen_cfg *lc, char **cause);

/*
 * Points f's TLS fields (version, cipher, ALPN, SNI, the client
 * certificate's CN) at what bev's finished handshake agreed; leaves them
 * NULL on a plain socket. The
 * strings live as long as the connection (conn_facts_new() copies them).
 */
struct conn_facts;
void	tls_client_facts(struct bufferevent *bev, struct conn_facts *f);

/* The protocol ALPN selected on bev (an OpenSSL bufferevent). */
enum tls_alpn	tls_alpn(struct bufferevent *bev);

/*
 * Formats the OpenSSL errors queued for bev (or the thread's queue when bev
 * is NULL) into buf for a log line, clearing the queue.
 */
void	tls_error_str(struct bufferevent *bev, char *buf, size_t len);

#endif
