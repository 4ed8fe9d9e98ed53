/*
 * server.h -- the process: the config file and flags, the workers (one
 * event loop each, the first in the main thread; see worker.h), signals,
 * reload and graceful shutdown, and the process-wide observers (frame log,
 * control socket). The app layer: nothing below main.c and ctl.c includes
 * this.
 */
#ifndef SERVER_H
#define SERVER_H

#include <stddef.h>
#include <stdint.h>

struct event_base;
struct event;
struct config;
struct framelog;
struct control;
struct admin;
struct worker_group;
struct upgrade;

struct server {
	struct event_base	*base;		/* the main thread's loop */
	struct config		*cfg;		/* the first config: server_start()
						   gives it to the first worker */
	char			*config_file;	/* -c FILE, or NULL */
	char			**flag_lines;	/* flags as config lines, reapplied on reload */
	size_t			 nflag_lines;
	int			 log_level_flag; /* --log-level/-v, or -1: beats the file */
	struct event		*ev_sigterm, *ev_sigint, *ev_sighup;
	struct event		*ev_sigusr1;	/* log-file reopen */
	/* Under a service manager: STATUS= and the watchdog (service.h). */
	struct event		*ev_service;
	uint64_t		 watchdog_usec;	/* WatchdogSec=, or 0 */
	unsigned		 wd_pending;	/* atomic: workers yet to answer */
	int			 wd_late;	/* said that one did not */
	struct worker_group	*group;		/* every worker, the first included */
	unsigned		 nthreads;	/* threads started: workers 1..nthreads */
	unsigned		 left;		/* atomic: workers > 0 whose loop runs */
	struct upgrade		*upgrade;	/* --upgrade: the sockets taken
						   from the running wsbridge */
	struct framelog		*flog;		/* frame log, or NULL (log-db) */
	struct control		*ctl;		/* control socket, or NULL */
	struct admin		*admin;		/* admin endpoint, or NULL */
	/* websockify's process life: accept-for, exit-when-idle, run-once. */
	struct event		*ev_lifetime[2];	/* accept-for, idle check */
	uint64_t		 idle_since_ns;	/* exit-when-idle: none open since */
	int			 accepted_once;	/* atomic: run-once saw one */
};

/* The workers (threads) a config asks for: workers, or online CPUs. */
unsigned	 server_nworkers(const struct config *cfg);

/*
 * Builds the config from srv->config_file and srv->flag_lines. Returns a new
 * config (caller owns it) or NULL with *cause set.
 */
struct config	*server_build_config(struct server *srv, char **cause);

/*
 * For --check: what the start would refuse beyond the config's syntax (the
 * frame log's and the control socket's files and directories), changing
 * nothing. Returns 0, or -1 with *cause set.
 */
int	server_check(const struct config *cfg, char **cause);

/*
 * Takes srv->cfg and starts serving it: signals, the workers and their
 * listeners, the frame log and the control socket. With workers N > 1 the
 * other N - 1 run their loops in threads of their own (call
 * evthread_use_pthreads() before creating srv->base then). Returns 0 or -1
 * (logged).
 */
int	server_start(struct server *srv);
/* Frees what server_start built; after the loop ends (joins the workers). */
void	server_stop(struct server *srv);

/*
 * --upgrade: the wsbridge we took the sockets from let go of them; the
 * socket files (unix listeners, the control socket) are ours to remove
 * at exit from now on.
 */
void	server_upgrade_adopted(struct server *srv);

#endif
