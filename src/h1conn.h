/*
 * h1conn.h -- one client connection over HTTP/1.1: reads the upgrade
 * request, answers it (101 or an error status), then serves as the
 * WebSocket transport of its tunnel.
 */
#ifndef H1CONN_H
#define H1CONN_H

#include <sys/socket.h>

struct server;
struct h1conn;

/*
 * Takes over the accepted socket fd. When the server is over its connection
 * limit, the client gets 503 and is closed. Frees itself when done.
 */
void	h1conn_accept(struct server *srv, int fd, const struct sockaddr *sa,
	    socklen_t salen);

/* SIGTERM: answers 503 to every connection still in its handshake. */
void	h1conn_shutdown_all(struct server *srv);

/* At exit, after tunnel_free_all(): frees connections still in handshake. */
void	h1conn_free_all(struct server *srv);

#endif
