/*
 * listener.h -- bound, listening sockets that hand accepted clients to
 * h1conn, through TLS when the listen line says so.
 */
#ifndef LISTENER_H
#define LISTENER_H

#include <sys/queue.h>

struct server;
struct listen_cfg;
typedef struct ssl_ctx_st SSL_CTX;

struct listener {
	TAILQ_ENTRY(listener)	 entry;
	struct server		*srv;
	struct evconnlistener	*evl;
	struct event		*ev_resume;	/* re-enables after EMFILE */
	char			*spec;		/* the listen line it came from */
	char			 addr[80];	/* bound address, for logs */
	SSL_CTX			*tls;		/* new connections' context, or NULL */
};

/*
 * Opens every address lc names (a wildcard host gives an IPv4 and an IPv6
 * socket) and appends them to srv->listeners; logs "listening on ADDR".
 * Returns 0, or -1 with *cause set (caller frees) naming the address.
 */
int	listener_open(struct server *srv, const struct listen_cfg *lc,
	    char **cause);

/*
 * SIGHUP: rereads the certificate and key of a TLS listener kept across a
 * reload (same listen line). New connections get the new context; live ones
 * keep theirs. On error the old context stays and the error is logged.
 */
void	listener_reload_tls(struct listener *l, const struct listen_cfg *lc);

/* Closes and frees one listener (removing it from srv->listeners). */
void	listener_free(struct listener *l);

#endif
