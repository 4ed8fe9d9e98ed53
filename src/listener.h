/* listener.h -- bound, listening sockets that hand accepted clients to h1conn. */
#ifndef LISTENER_H
#define LISTENER_H

#include <sys/queue.h>

struct server;
struct listen_cfg;

struct listener {
	TAILQ_ENTRY(listener)	 entry;
	struct server		*srv;
	struct evconnlistener	*evl;
	struct event		*ev_resume;	/* re-enables after EMFILE */
	char			*spec;		/* the listen line it came from */
	char			 addr[80];	/* bound address, for logs */
};

/*
 * Opens every address lc names (a wildcard host gives an IPv4 and an IPv6
 * socket) and appends them to srv->listeners; logs "listening on ADDR".
 * Returns 0, or -1 with *cause set (caller frees) naming the address.
 */
int	listener_open(struct server *srv, const struct listen_cfg *lc,
	    char **cause);

/* Closes and frees one listener (removing it from srv->listeners). */
void	listener_free(struct listener *l);

#endif
