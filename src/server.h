/*
 * server.h -- the process-wide state: the event base, the current config, the
 * listeners and the live connections; signals, reload and graceful shutdown.
 */
#ifndef SERVER_H
#define SERVER_H

#include <sys/queue.h>
#include <stdint.h>

struct event_base;
struct evdns_base;
struct event;
struct config;
struct tunnel;
struct h1conn;
struct h2conn;
struct framelog;

struct server {
	struct event_base	*base;
	struct evdns_base	*dns;
	struct config		*cfg;		/* current; reload replaces it */
	char			*config_file;	/* -c FILE, or NULL */
	char			**flag_lines;	/* flags as config lines, reapplied on reload */
	size_t			 nflag_lines;
	TAILQ_HEAD(, listener)	 listeners;
	TAILQ_HEAD(, h1conn)	 h1conns;	/* client connections over HTTP/1.1 */
	TAILQ_HEAD(, h2conn)	 h2conns;	/* client connections over HTTP/2 */
	TAILQ_HEAD(, tunnel)	 tunnels;	/* every live WebSocket tunnel */
	unsigned		 nconns;	/* counted against max-connections */
	uint64_t		 next_id;	/* connection ids for logs */
	int			 stopping;	/* SIGTERM seen: draining */
	int			 log_level_flag; /* --log-level/-v, or -1: beats the file */
	struct event		*ev_sigterm, *ev_sigint, *ev_sighup;
	struct event		*ev_shutdown;	/* drain deadline */
	struct framelog		*flog;		/* frame log, or NULL (log-db) */
};

/*
 * Builds the config from srv->config_file and srv->flag_lines. Returns a new
 * config (caller owns it) or NULL with *cause set.
 */
struct config	*server_build_config(struct server *srv, char **cause);

/* Sets up signals and listeners for srv->cfg. Returns 0 or -1 (logged). */
int	server_start(struct server *srv);
/* Frees what server_start built; after the loop ends. */
void	server_stop(struct server *srv);

/* Called when a connection ends, so shutdown can finish when none is left. */
void	server_conn_gone(struct server *srv);

#endif
