/*
 * server.h -- one worker's state: the event base, the current config, the
 * listeners and the live connections; signals, reload and graceful shutdown.
 * With workers N > 1 there are N of them, one event loop per thread (the
 * first in the main thread), each with its own listeners on the same
 * addresses (SO_REUSEPORT); a connection lives its whole life on one.
 */
#ifndef SERVER_H
#define SERVER_H

#include <sys/queue.h>

#include <pthread.h>
#include <stdint.h>

struct event_base;
struct evdns_base;
struct event;
struct config;
struct tunnel;
struct h1conn;
struct h2conn;
struct framelog;
struct stats_global;
struct control;
struct workers;

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
	uint64_t		 next_id;	/* connection ids: server_next_id() */
	int			 stopping;	/* SIGTERM seen: draining */
	int			 log_level_flag; /* --log-level/-v, or -1: beats the file */
	struct event		*ev_sigterm, *ev_sigint, *ev_sighup;
	struct event		*ev_shutdown;	/* drain deadline */
	struct framelog		*flog;		/* frame log, or NULL (log-db):
						   this worker's producer */
	struct stats_global	*stats;		/* live stats, or NULL (no control):
						   this worker's */
	struct control		*ctl;		/* control socket, or NULL: the
						   main thread's, shared */

	/* Workers (workers N > 1); ws is NULL with one. */
	unsigned		 index;		/* 0: the main thread's */
	struct workers		*ws;
	pthread_t		 thread;
	struct event		*ev_call;	/* runs call_fn in this loop */
	struct event		*ev_tick;	/* stats_global_tick, index > 0 */
	pthread_mutex_t		 call_mu;
	pthread_cond_t		 call_cv;
	void			(*call_fn)(struct server *, void *);
	void			*call_arg;
	int			 call_done;	/* under call_mu */
	int			 running;	/* under call_mu: the loop runs */
};

/* The workers (threads) a config asks for: workers, or online CPUs. */
unsigned	 server_nworkers(const struct config *cfg);
/* Worker i of srv's process (srv itself with one worker). */
struct server	*server_worker(struct server *srv, unsigned i);
unsigned	 server_count(const struct server *srv);

/*
 * The next connection id: unique in the process. With N workers, worker k
 * hands out k+1, N+k+1, 2N+k+1, ... so (id - 1) % N is the worker.
 */
uint64_t	 server_next_id(struct server *srv);

/* A connection was accepted: counted until server_conn_gone(). */
void		 server_conn_new(struct server *srv);
/* Connections open in the whole process (max-connections counts these). */
unsigned	 server_nconns(const struct server *srv);

/*
 * Runs fn(w, arg) in worker w's thread and waits for it: the way another
 * thread (the control socket's) reads what the worker owns. Returns 0, or
 * -1 if w's loop has ended (fn was not run).
 */
int		 server_call(struct server *w, void (*fn)(struct server *,
		    void *), void *arg);

/*
 * Builds the config from srv->config_file and srv->flag_lines. Returns a new
 * config (caller owns it) or NULL with *cause set.
 */
struct config	*server_build_config(struct server *srv, char **cause);

/*
 * Sets up signals and listeners for srv->cfg, and with workers N > 1 the
 * other N - 1 workers, each running its loop in its own thread (call
 * evthread_use_pthreads() before creating srv->base then). Returns 0 or -1
 * (logged).
 */
int	server_start(struct server *srv);
/* Frees what server_start built; after the loop ends (joins the workers). */
void	server_stop(struct server *srv);

/* Called when a connection ends, so shutdown can finish when none is left. */
void	server_conn_gone(struct server *srv);

#endif
