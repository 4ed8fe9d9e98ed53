/*
 * h1conn.h -- one client connection over HTTP/1.1: reads the upgrade
 * request, answers it (101 or an error status), then serves as the
 * WebSocket transport of its tunnel.
 */
#ifndef H1CONN_H
#define H1CONN_H

#include <sys/socket.h>

struct worker;
struct h1conn;
typedef struct ssl_ctx_st SSL_CTX;

/*
 * Takes over the accepted socket fd from the client sa, through TLS with a
 * new SSL from tls (borrowed) when it is not NULL. With tls_auto, TLS only
 * when the client's first byte starts a TLS handshake (0x16; 0x80, an
 * SSLv2 hello, goes to OpenSSL to be refused), plain HTTP otherwise: the
 * byte is waited for under handshake-timeout, without blocking the loop,
 * and that deadline covers the request that follows. via is the balancer
 * whose PROXY header named sa (proxyin.c), or NULL. When the server is over its connection
 * limit, the client gets 503 and is closed. A connection that chooses h2
 * (ALPN, or the HTTP/2 preface on any listener) is handed to h2conn.
 * Frees itself when done.
 */
void	h1conn_accept(struct worker *w, int fd, const struct sockaddr *sa,
	    socklen_t salen, SSL_CTX *tls, int tls_auto,
	    const struct sockaddr_storage *via);

/* SIGTERM: answers 503 to every connection still in its handshake. */
void	h1conn_shutdown_all(struct worker *w);

/* At exit, after tunnel_free_all(): frees connections still in handshake. */
void	h1conn_free_all(struct worker *w);

#endif
