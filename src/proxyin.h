/*
 * proxyin.h -- the PROXY header a load balancer sends before its client's
 * bytes, read on a listener with proxy-protocol= before anything else
 * (before TLS and HTTP): a connection from a trusted source whose header
 * is whole and well formed goes on to h1conn with the client's address;
 * any other is closed with one log line.
 */
#ifndef PROXYIN_H
#define PROXYIN_H

#include <sys/queue.h>
#include <sys/socket.h>
#include <stddef.h>

struct worker;
struct cidr;
struct proxyin;
typedef struct ssl_ctx_st SSL_CTX;

TAILQ_HEAD(proxyin_list, proxyin);

/* A listener's PROXY settings, borrowed by its pending connections. */
struct proxyin_cfg {
	unsigned		 versions;	/* PROXYPROTO_V1, _V2 */
	const struct cidr	*from;		/* trusted sources */
	size_t			 nfrom;
	SSL_CTX *const		*tls;		/* the listener's context when
						   the header is read, or NULL */
	int			 tls_auto;	/* tls=auto: plain HTTP too */
	const char		*addr;		/* the listener, for the log */
	struct proxyin_list	 pending;	/* headers being read */
};

/*
 * Takes over the accepted socket fd from sa: an untrusted source is
 * closed at once; otherwise the header is read as it arrives, without
 * blocking, within handshake-timeout, and the connection handed to
 * h1conn_accept(). pc must outlive the connection's wait:
 * proxyin_free_all() before pc goes.
 */
void	proxyin_accept(struct worker *w, struct proxyin_cfg *pc, int fd,
	    const struct sockaddr *sa, socklen_t salen);

/* Closes every connection still waiting for its header (listener gone). */
void	proxyin_free_all(struct proxyin_cfg *pc);

#endif
