/*
 * listener.h -- bound, listening sockets that hand accepted clients to
 * h1conn, through TLS when the listen line says so.
 */
#ifndef LISTENER_H
#define LISTENER_H

#include <sys/queue.h>
#include <sys/socket.h>

#include "proxyin.h"

struct worker;
struct listen_cfg;
typedef struct ssl_ctx_st SSL_CTX;

struct listener {
	TAILQ_ENTRY(listener)	 entry;
	struct worker		*w;
	struct evconnlistener	*evl;
	struct event		*ev_resume;	/* re-enables after EMFILE */
	char			*spec;		/* the listen line it came from */
	char			 addr[120];	/* bound address, for logs ("unix:" + sun_path) */
	struct sockaddr_storage	 ss;		/* bound address */
	socklen_t		 sslen;
	SSL_CTX			*tls;		/* new connections' context, or NULL */
	int			 tls_auto;	/* tls=auto: plain HTTP too */
	int			 unlink_path;	/* a unix socket we bound: remove it */
	/*
	 * proxy-protocol=: every connection starts with a PROXY header
	 * (proxyin.c); pp.versions 0: none. Fixed for the listener's life
	 * (a change of the listen line is another listener).
	 */
	struct proxyin_cfg	 pp;
	struct cidr		*pp_from;	/* pp.from, owned */
};

/*
 * Where the first worker's listeners are bound, so that the others bind the
 * very same addresses (the port it got for port 0 included).
 */
struct listener_addr {
	char			*spec;
	struct sockaddr_storage	 ss;
	socklen_t		 sslen;
};
struct listener_addrs {
	struct listener_addr	*a;
	size_t			 n;
};

/* Fills out from w->listeners; free with listener_addrs_clear(). */
void	listener_addrs_get(struct worker *w, struct listener_addrs *out);
void	listener_addrs_clear(struct listener_addrs *);

/*
 * Opens every address lc names (a wildcard host gives an IPv4 and an IPv6
 * socket) and appends them to w->listeners; logs "listening on ADDR".
 * With like (another worker's addresses), binds the addresses
 * like holds for lc->spec instead, none if it holds none. With more than
 * one worker, sockets get SO_REUSEPORT: the kernel spreads new connections
 * over the workers. Returns 0, or -1 with *cause set (caller frees) naming
 * the address.
 */
int	listener_open(struct worker *w, const struct listen_cfg *lc,
	    const struct listener_addrs *like, char **cause);

/*
 * SIGHUP, in two steps so that a reload is all or nothing: prepare reads
 * the certificate and key of a TLS listener kept across a reload (same
 * listen line) into *tls (NULL for a plain one) and fails with *cause
 * without touching l; swap puts it in place (new connections get it, live
 * ones keep theirs). A prepared context not swapped is freed with
 * SSL_CTX_free().
 */
int	listener_tls_prepare(const struct listener *l,
	    const struct listen_cfg *lc, SSL_CTX **tls, char **cause);
void	listener_tls_swap(struct listener *l, SSL_CTX *tls,
	    const struct listen_cfg *lc);

/*
 * A listening unix socket at path with mode, bound as a listen line's is
 * (a stale socket there removed), for other servers of the process (the
 * admin endpoint). Returns the descriptor (non-blocking, close-on-exec),
 * or -1 with errno set.
 */
int	listener_unix_socket(const char *path, unsigned mode);

/* Closes and frees one listener (removing it from w->listeners). */
void	listener_free(struct listener *l);

#endif
