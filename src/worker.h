/*
 * worker.h -- one event-loop thread's context: its event base and DNS, the
 * config it serves, connection ids, the live lists of its listeners,
 * connections and tunnels, its counters, and the hooks through which the
 * observers (live stats, frame log, control socket) and the app layer hear
 * of what happens on it. Listeners, connections and tunnels receive a
 * struct worker and nothing of the process above it (server.c): they never
 * include server.h. With workers N > 1 there are N of them in one group,
 * one loop per thread; a connection lives its whole life on one.
 */
#ifndef WORKER_H
#define WORKER_H

#include <sys/queue.h>

#include <pthread.h>
#include <stdint.h>

struct event_base;
struct evdns_base;
struct event;
struct config;
struct listener;
struct h1conn;
struct h2conn;
struct tunnel;
struct framelog;
struct metrics;
struct stats_global;
struct ws_frame_event;
struct worker;
struct worker_msg;

/*
 * What the control socket is told of a worker's tunnels, in the worker's
 * thread (arg: its own). Set before the worker's loop runs, then fixed.
 */
struct worker_hooks {
	void	(*tunnel_open)(void *arg, struct tunnel *t);
	void	(*tunnel_close)(void *arg, struct tunnel *t);
	void	(*frame)(void *arg, struct tunnel *t,
		    const struct ws_frame_event *ev);
	void	*arg;
};

/* A function run on a worker's loop: see worker_post(). */
typedef void worker_fn(struct worker *w, void *arg);

/* The workers of one process. */
struct worker_group {
	unsigned	  n;
	struct worker	**w;		/* w[0] runs in the main thread */
	unsigned	  nconns;	/* atomic: open in the whole process */
};

struct worker {
	struct event_base	*base;
	struct evdns_base	*dns;
	struct config		*cfg;		/* current; a reload replaces it */
	unsigned		 index;		/* in group->w; 0: the main thread */
	struct worker_group	*group;
	uint64_t		 next_id;	/* worker_next_id() */
	unsigned		 nconns;	/* this worker's open connections */
	int			 stopping;	/* draining: no new work */
	int			 closing_all;	/* shutdown: 1001 sent to all */

	TAILQ_HEAD(, listener)	 listeners;
	TAILQ_HEAD(, h1conn)	 h1conns;	/* client connections over HTTP/1.1 */
	TAILQ_HEAD(, h2conn)	 h2conns;	/* client connections over HTTP/2 */
	TAILQ_HEAD(, tunnel)	 tunnels;	/* every live WebSocket tunnel */

	/* Observers, NULL when not configured. */
	struct stats_global	*stats;		/* this worker's live numbers */
	struct framelog		*flog;		/* this worker's frame-log producer */
	const struct worker_hooks *hooks;	/* the control socket's */
	struct metrics		*metrics;	/* the admin endpoint's numbers */

	/*
	 * The app layer's: idle(w, idle_arg) is called when a connection
	 * ends while stopping and none is left (may be NULL).
	 */
	void			(*idle)(struct worker *, void *);
	void			*idle_arg;
	/* The app layer's: called with idle_arg when a connection is
	   accepted (may be NULL). */
	void			(*accepted)(struct worker *, void *);

	/* The app layer's, for running this worker. */
	pthread_t		 thread;
	struct event		*ev_shutdown;	/* drain deadline */
	struct event		*ev_tick;	/* stats tick, index > 0 */

	/* Messages from other threads: worker_post(). */
	pthread_mutex_t		 mu;
	STAILQ_HEAD(, worker_msg) inbox;
	struct event		*ev_inbox;
	int			 ended;		/* under mu: worker_end() ran */
};

/*
 * A group of n workers on the given event bases (n of them; the caller
 * keeps them and frees them after worker_group_free()), each with its own
 * DNS resolver and the config cfgs[i] (taken). Free with
 * worker_group_free().
 */
struct worker_group *worker_group_new(struct event_base **bases,
		    struct config **cfgs, unsigned n);
/* After every loop ended and worker_end() ran: frees the workers. */
void		 worker_group_free(struct worker_group *);

/* The workers of w's process, and worker i. */
unsigned	 worker_count(const struct worker *w);
struct worker	*worker_at(const struct worker *w, unsigned i);

/*
 * The next connection id: unique in the process. With N workers, worker k
 * hands out k+1, N+k+1, 2N+k+1, ... so worker_of_id() finds the worker.
 */
uint64_t	 worker_next_id(struct worker *w);
unsigned	 worker_of_id(const struct worker *w, uint64_t id);

/* A connection was accepted: counted until worker_conn_gone(). */
void		 worker_conn_new(struct worker *w);
/* A connection ended; calls w->idle when stopping and none is left. */
void		 worker_conn_gone(struct worker *w);
/* Connections open in the whole process (max-connections counts these). */
unsigned	 worker_nconns(const struct worker *w);

/*
 * Runs fn(w, arg) on w's loop soon, from any thread, never inside this
 * call while the loop runs. Once worker_end() ran for w, fn runs in the
 * calling thread at once instead (w's data is intact until it is freed):
 * nothing posted is lost.
 */
void		 worker_post(struct worker *w, worker_fn *fn, void *arg);
/*
 * In w's thread after its loop ended: runs what is posted and not yet run,
 * then lets later posts run in their callers' threads.
 */
void		 worker_end(struct worker *w);

/* "worker K: " before the lines of workers other than the first, or "". */
const char	*worker_who(const struct worker *w, char *buf, size_t len);

#endif
