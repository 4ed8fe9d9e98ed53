/*
 * server.c -- a worker's state: building the config, listeners, signals
 * (TERM/INT drain, HUP reload) and the connection count that lets a drain
 * finish early; with workers N > 1, the other workers' threads and what
 * the main thread asks of them.
 */
#include "wsb_autoconf.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/dns.h>
#include <event2/event.h>

#include "backend.h"
#include "config.h"
#include "control.h"
#include "framelog.h"
#include "h1conn.h"
#include "h2conn.h"
#include "listener.h"
#include "log.h"
#include "server.h"
#include "sockread.h"
#include "stats.h"
#include "tlsout.h"
#include "tunnel.h"
#include "util.h"

#define ALOAD(p)	__atomic_load_n((p), __ATOMIC_RELAXED)
#define AADD(p, v)	__atomic_add_fetch((p), (v), __ATOMIC_RELAXED)
#define ASUB(p, v)	__atomic_sub_fetch((p), (v), __ATOMIC_RELAXED)

/* What the workers of one process share. */
struct workers {
	unsigned	 n;
	struct server	**w;		/* w[0] is the main thread's */
	unsigned	 nconns;	/* atomic: open in the process */
	unsigned	 left;		/* atomic: workers > 0 whose loop runs */
	unsigned	 nthreads;	/* threads started: w[1..nthreads] */
};

/* Runs fn(arg) on w's loop soon: the way to ask another thread. */
static void
server_post(struct server *w, event_callback_fn fn, void *arg)
{
	static const struct timeval	now = { 0, 0 };

	if (event_base_once(w->base, -1, EV_TIMEOUT, fn, arg, &now) == -1)
		log_warn("worker %u: cannot queue a request", w->index);
}

/* "worker K: " before the lines of workers other than the first. */
static const char *
server_who(const struct server *srv, char *buf, size_t len)
{
	if (srv->index == 0)
		return ("");
	snprintf(buf, len, "worker %u: ", srv->index);
	return (buf);
}

unsigned
server_nworkers(const struct config *cfg)
{
	long	n;

	if (cfg->workers != 0)
		return (cfg->workers);
	n = sysconf(_SC_NPROCESSORS_ONLN);
	return (n < 1 ? 1 : n > 64 ? 64 : (unsigned)n);
}

struct server *
server_worker(struct server *srv, unsigned i)
{
	return (srv->ws == NULL ? srv : srv->ws->w[i]);
}

unsigned
server_count(const struct server *srv)
{
	return (srv->ws == NULL ? 1 : srv->ws->n);
}

uint64_t
server_next_id(struct server *srv)
{
	if (srv->ws == NULL)
		return (++srv->next_id);
	return (srv->next_id++ * srv->ws->n + srv->index + 1);
}

void
server_conn_new(struct server *srv)
{
	srv->nconns++;
	if (srv->ws != NULL)
		AADD(&srv->ws->nconns, 1);
}

unsigned
server_nconns(const struct server *srv)
{
	return (srv->ws == NULL ? srv->nconns : ALOAD(&srv->ws->nconns));
}

/* Under w->call_mu: the pending call, if any. */
static void
server_call_run(struct server *w)
{
	if (w->call_fn == NULL)
		return;
	w->call_fn(w, w->call_arg);
	w->call_fn = NULL;
	w->call_done = 1;
	pthread_cond_signal(&w->call_cv);
}

static void
server_call_cb(evutil_socket_t fd, short what, void *arg)
{
	struct server	*w = arg;

	pthread_mutex_lock(&w->call_mu);
	server_call_run(w);
	pthread_mutex_unlock(&w->call_mu);
}

int
server_call(struct server *w, void (*fn)(struct server *, void *), void *arg)
{
	if (w->ws == NULL || pthread_equal(pthread_self(), w->thread)) {
		fn(w, arg);
		return (0);
	}
	/* Only the main thread asks, one call at a time. */
	pthread_mutex_lock(&w->call_mu);
	if (!w->running) {
		pthread_mutex_unlock(&w->call_mu);
		return (-1);
	}
	w->call_fn = fn;
	w->call_arg = arg;
	w->call_done = 0;
	event_active(w->ev_call, EV_TIMEOUT, 1);
	while (!w->call_done)
		pthread_cond_wait(&w->call_cv, &w->call_mu);
	pthread_mutex_unlock(&w->call_mu);
	return (0);
}

struct config *
server_build_config(struct server *srv, char **cause)
{
	struct config	*cfg;
	size_t		 i;

	cfg = config_new();
	if (srv->config_file != NULL &&
	    config_load_file(cfg, srv->config_file, cause) == -1)
		goto fail;
	for (i = 0; i < srv->nflag_lines; i++) {
		if (config_parse_line(cfg, srv->flag_lines[i], "command line", 0,
		    cause) == -1)
			goto fail;
	}
	if (config_finish(cfg, cause) == -1)
		goto fail;
	return (cfg);
fail:
	config_free(cfg);
	return (NULL);
}

static int
server_has_listener(struct server *srv, const char *spec)
{
	struct listener	*l;

	TAILQ_FOREACH(l, &srv->listeners, entry)
		if (strcmp(l->spec, spec) == 0)
			return (1);
	return (0);
}

/*
 * Opens listeners the config names and we lack; closes the ones it dropped.
 * like: the first worker's addresses (workers > 0), or NULL.
 */
static int
server_sync_listeners(struct server *srv, const struct listener_addrs *like)
{
	struct listener	*l, *next;
	char		*cause;
	size_t		 i;
	int		 keep, rc = 0;

	for (l = TAILQ_FIRST(&srv->listeners); l != NULL; l = next) {
		next = TAILQ_NEXT(l, entry);
		keep = 0;
		for (i = 0; i < srv->cfg->nlistens && !keep; i++) {
			if (strcmp(srv->cfg->listens[i].spec, l->spec) == 0) {
				keep = 1;
				listener_reload_tls(l, &srv->cfg->listens[i]);
			}
		}
		if (!keep) {
			if (srv->index == 0)
				log_info("no longer listening on %s", l->addr);
			listener_free(l);
		}
	}
	for (i = 0; i < srv->cfg->nlistens; i++) {
		if (server_has_listener(srv, srv->cfg->listens[i].spec))
			continue;
		if (listener_open(srv, &srv->cfg->listens[i], like,
		    &cause) == -1) {
			log_error("%s", cause);
			free(cause);
			rc = -1;
		}
	}
	return (rc);
}

/* Puts cfg (taken) in place; like: as for server_sync_listeners(). */
static void
server_apply(struct server *srv, struct config *cfg,
    const struct listener_addrs *like)
{
	char	who[24];

	if (srv->index == 0) {
		/* The frame log's file and writer settings are fixed. */
		if ((cfg->log.db == NULL) != (srv->flog == NULL) ||
		    (cfg->log.db != NULL && strcmp(cfg->log.db,
		    framelog_path(srv->flog)) != 0))
			log_warn("log-db changes take effect at the next "
			    "start");
		if ((cfg->control == NULL) != (srv->ctl == NULL) ||
		    (cfg->control != NULL && srv->cfg->control != NULL &&
		    strcmp(cfg->control, srv->cfg->control) != 0))
			log_warn("control changes take effect at the next "
			    "start");
		if (server_nworkers(cfg) != server_count(srv))
			log_warn("workers changes take effect at the next "
			    "start");
		if (srv->log_level_flag == -1)
			log_set_level(cfg->log_level);
	}
	/* Live tunnels keep their reference to the old config. */
	config_free(srv->cfg);
	srv->cfg = cfg;
	server_sync_listeners(srv, like);
	log_info("%sconfiguration reloaded: %zu listeners, %zu routes",
	    server_who(srv, who, sizeof who), cfg->nlistens, cfg->nroutes);
}

/* A reload for a worker other than the first, run on its loop. */
struct server_reload_req {
	struct server		*w;
	struct config		*cfg;
	struct listener_addrs	 like;
};

static void
server_reload_cb(evutil_socket_t fd, short what, void *arg)
{
	struct server_reload_req	*req = arg;

	server_apply(req->w, req->cfg, &req->like);
	listener_addrs_clear(&req->like);
	free(req);
}

/*
 * SIGHUP, in the main thread. Every worker gets a config of its own (their
 * tunnels hold references that are not shared across threads), all built
 * here from the same file and flags, so a file that fails reloads none.
 */
static void
server_reload(struct server *srv)
{
	struct server_reload_req	*req;
	struct config			*cfg, **cfgs;
	char				*cause;
	unsigned			 i, n = server_count(srv);

	cfgs = xcalloc(n, sizeof *cfgs);
	for (i = 0; i < n; i++) {
		if ((cfg = server_build_config(srv, &cause)) == NULL) {
			log_error("reload failed, keeping the running config: "
			    "%s", cause);
			free(cause);
			while (i-- > 0)
				config_free(cfgs[i]);
			free(cfgs);
			return;
		}
		cfgs[i] = cfg;
	}
	server_apply(srv, cfgs[0], NULL);
	for (i = 1; i < n; i++) {
		req = xcalloc(1, sizeof *req);
		req->w = srv->ws->w[i];
		req->cfg = cfgs[i];
		listener_addrs_get(srv, &req->like);
		server_post(req->w, server_reload_cb, req);
	}
	free(cfgs);
}

static void
server_shutdown_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct server	*srv = arg;
	char		 who[24];

	log_warn("%sshutdown deadline reached with %u connections left",
	    server_who(srv, who, sizeof who), srv->nconns);
	event_base_loopexit(srv->base, NULL);
}

/*
 * A stopping worker has no connection left: its loop may end. The main
 * thread's waits for the other workers too (serving the control socket
 * meanwhile); each of them tells it when its loop ended.
 */
static void
server_drained(struct server *srv)
{
	if (srv->ws != NULL && srv->index == 0 && ALOAD(&srv->ws->left) > 0)
		return;
	event_base_loopexit(srv->base, NULL);
}

static void
server_worker_gone(evutil_socket_t fd, short what, void *arg)
{
	struct server	*srv = arg;

	if (srv->stopping && srv->nconns == 0)
		server_drained(srv);
}

static void
server_begin_shutdown(struct server *srv, const char *signame)
{
	struct listener	*l;
	struct timeval	 tv;
	char		 who[24];

	if (srv->stopping) {
		log_warn("%s%s again: exiting now", server_who(srv, who,
		    sizeof who), signame);
		event_base_loopexit(srv->base, NULL);
		return;
	}
	srv->stopping = 1;
	log_info("%s%s: draining %u connections (deadline %u ms)",
	    server_who(srv, who, sizeof who), signame, srv->nconns,
	    srv->cfg->shutdown_timeout_ms);
	while ((l = TAILQ_FIRST(&srv->listeners)) != NULL)
		listener_free(l);
	h1conn_shutdown_all(srv);
	tunnel_shutdown_all(srv);
	h2conn_shutdown_all(srv);
	tv.tv_sec = srv->cfg->shutdown_timeout_ms / 1000;
	tv.tv_usec = (srv->cfg->shutdown_timeout_ms % 1000) * 1000;
	srv->ev_shutdown = evtimer_new(srv->base, server_shutdown_timeout, srv);
	evtimer_add(srv->ev_shutdown, &tv);
	if (srv->nconns == 0)
		server_drained(srv);
}

/* TERM and INT for workers other than the first, on their loops. */
static void
server_sigterm_cb(evutil_socket_t fd, short what, void *arg)
{
	server_begin_shutdown(arg, "SIGTERM");
}

static void
server_sigint_cb(evutil_socket_t fd, short what, void *arg)
{
	server_begin_shutdown(arg, "SIGINT");
}

/* Only the main thread takes signals; it passes them on to the workers. */
static void
server_signal(evutil_socket_t sig, short what, void *arg)
{
	struct server	*srv = arg;
	unsigned	 i;

	switch (sig) {
	case SIGHUP:
		server_reload(srv);
		break;
	case SIGTERM:
	case SIGINT:
		for (i = 1; i < server_count(srv); i++)
			server_post(srv->ws->w[i], sig == SIGTERM ?
			    server_sigterm_cb : server_sigint_cb,
			    srv->ws->w[i]);
		server_begin_shutdown(srv, sig == SIGTERM ? "SIGTERM" :
		    "SIGINT");
		break;
	}
}

void
server_conn_gone(struct server *srv)
{
	srv->nconns--;
	if (srv->ws != NULL)
		ASUB(&srv->ws->nconns, 1);
	if (srv->stopping && srv->nconns == 0)
		server_drained(srv);
}

/* The loop-side state every worker has. */
static void
server_init_loop(struct server *srv)
{
	TAILQ_INIT(&srv->listeners);
	TAILQ_INIT(&srv->h1conns);
	TAILQ_INIT(&srv->h2conns);
	TAILQ_INIT(&srv->tunnels);
	srv->dns = evdns_base_new(srv->base, EVDNS_BASE_INITIALIZE_NAMESERVERS |
	    EVDNS_BASE_DISABLE_WHEN_INACTIVE);
	if (srv->dns == NULL) {
		/* No resolv.conf: numeric backends and /etc/hosts still work. */
		srv->dns = evdns_base_new(srv->base, 0);
	}
	if (srv->ws == NULL)
		return;
	pthread_mutex_init(&srv->call_mu, NULL);
	pthread_cond_init(&srv->call_cv, NULL);
	srv->ev_call = event_new(srv->base, -1, 0, server_call_cb, srv);
	srv->running = 1;
}

static void
server_stats_tick(evutil_socket_t fd, short what, void *arg)
{
	struct server	*srv = arg;

	stats_global_tick(srv->stats, now_ns());
}

/*
 * Workers 1..n-1: their state and configs, built here in the main thread
 * before any of them runs. Returns 0 or -1 (logged).
 */
static int
server_workers_new(struct server *srv, unsigned n)
{
	struct workers	*ws;
	struct server	*w;
	char		*cause;
	unsigned	 i;

	ws = srv->ws = xcalloc(1, sizeof *ws);
	ws->n = n;
	ws->w = xcalloc(n, sizeof *ws->w);
	ws->w[0] = srv;
	srv->thread = pthread_self();
	for (i = 1; i < n; i++) {
		w = ws->w[i] = xcalloc(1, sizeof *w);
		w->index = i;
		w->ws = ws;
		w->log_level_flag = srv->log_level_flag;
		if ((w->base = event_base_new()) == NULL)
			fatalx("cannot create the event loop of worker %u", i);
		if ((w->cfg = server_build_config(srv, &cause)) == NULL) {
			log_error("%s", cause);
			free(cause);
			return (-1);
		}
		server_init_loop(w);
	}
	return (0);
}

static void *
server_worker_main(void *arg)
{
	struct server	*w = arg;

	log_debug("worker %u: running", w->index);
	sockread_thread_start(w->base);
	event_base_loop(w->base, EVLOOP_NO_EXIT_ON_EMPTY);
	sockread_thread_end();
	tlsout_thread_end();
	tunnel_thread_end();
	/* A call that came too late runs here: the loop's data is intact. */
	pthread_mutex_lock(&w->call_mu);
	w->running = 0;
	server_call_run(w);
	pthread_mutex_unlock(&w->call_mu);
	ASUB(&w->ws->left, 1);
	server_post(w->ws->w[0], server_worker_gone, w->ws->w[0]);
	return (NULL);
}

/*
 * Listeners of workers 1..n-1 on the first worker's addresses, then their
 * threads, which take no signal. Returns 0 or -1 (logged).
 */
static int
server_workers_start(struct server *srv)
{
	struct workers		*ws = srv->ws;
	struct listener_addrs	 like;
	struct server		*w;
	sigset_t		 set, old;
	unsigned		 i;
	int			 rc = 0;
	struct timeval		 tv = { 1, 0 };

	listener_addrs_get(srv, &like);
	for (i = 1; i < ws->n && rc == 0; i++) {
		w = ws->w[i];
		if (srv->stats != NULL) {
			w->ev_tick = event_new(w->base, -1, EV_PERSIST,
			    server_stats_tick, w);
			evtimer_add(w->ev_tick, &tv);
		}
		rc = server_sync_listeners(w, &like);
	}
	listener_addrs_clear(&like);
	if (rc == -1)
		return (-1);
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &set, &old);
	for (i = 1; i < ws->n; i++) {
		AADD(&ws->left, 1);
		if (pthread_create(&ws->w[i]->thread, NULL, server_worker_main,
		    ws->w[i]) != 0)
			fatalx("cannot start worker %u", i);
		ws->nthreads = i;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	log_info("%u workers, one event loop each", ws->n);
	return (0);
}

int
server_start(struct server *srv)
{
	struct event_base	**bases;
	unsigned		  i, n;
	int			  rc;

	n = server_nworkers(srv->cfg);
	rc = n > 1 ? server_workers_new(srv, n) : 0;
	server_init_loop(srv);
	signal(SIGPIPE, SIG_IGN);
	srv->ev_sigterm = evsignal_new(srv->base, SIGTERM, server_signal, srv);
	srv->ev_sigint = evsignal_new(srv->base, SIGINT, server_signal, srv);
	srv->ev_sighup = evsignal_new(srv->base, SIGHUP, server_signal, srv);
	evsignal_add(srv->ev_sigterm, NULL);
	evsignal_add(srv->ev_sigint, NULL);
	evsignal_add(srv->ev_sighup, NULL);
	if (rc == -1)
		return (-1);
	if (srv->cfg->log.db != NULL) {
		bases = xcalloc(n, sizeof *bases);
		for (i = 0; i < n; i++)
			bases[i] = server_worker(srv, i)->base;
		srv->flog = framelog_new(bases, n, srv->cfg);
		free(bases);
		for (i = 1; i < n; i++)
			srv->ws->w[i]->flog = framelog_producer(srv->flog, i);
	}
	if (srv->cfg->control != NULL) {
		char	*cause;

		for (i = 0; i < n; i++) {
			struct server	*w = server_worker(srv, i);

			w->stats = xcalloc(1, sizeof *w->stats);
			stats_global_init(w->stats, now_ns());
		}
		/* Over TLS plaintext goes through the output (sealed at once
		   when the socket is free), for the drain callbacks to see. */
		tlsout_set_direct(0);
		if ((srv->ctl = control_new(srv, srv->cfg->control,
		    &cause)) == NULL) {
			log_error("%s", cause);
			free(cause);
			return (-1);
		}
		for (i = 1; i < n; i++)
			srv->ws->w[i]->ctl = srv->ctl;
	}
	rc = server_sync_listeners(srv, NULL);
	if (rc == 0 && srv->ws != NULL)
		rc = server_workers_start(srv);
	return (rc);
}

/* What every worker frees after its loop ended. */
static void
server_stop_loop(struct server *srv)
{
	struct listener	*l;

	/* Connections the drain deadline cut short. */
	tunnel_free_all(srv);
	h1conn_free_all(srv);
	h2conn_free_all(srv);
	/* libevent finalises freed bufferevents on a loop pass: give it one. */
	event_base_loop(srv->base, EVLOOP_NONBLOCK);
	while ((l = TAILQ_FIRST(&srv->listeners)) != NULL)
		listener_free(l);
	if (srv->ev_shutdown != NULL)
		event_free(srv->ev_shutdown);
	if (srv->ev_tick != NULL)
		event_free(srv->ev_tick);
	if (srv->ev_call != NULL) {
		event_free(srv->ev_call);
		pthread_mutex_destroy(&srv->call_mu);
		pthread_cond_destroy(&srv->call_cv);
	}
	if (srv->dns != NULL)
		evdns_base_free(srv->dns, 0);
}

/*
 * Ends workers 1..n-1 (after the main loop: drained, deadline or a second
 * signal). Their tunnels close from this thread now that theirs has ended,
 * before the frame log and the control socket go.
 */
static void
server_workers_stop(struct server *srv)
{
	struct workers	*ws = srv->ws;
	struct server	*w;
	unsigned	 i;

	for (i = 1; i <= ws->nthreads; i++)
		event_base_loopexit(ws->w[i]->base, NULL);
	for (i = 1; i <= ws->nthreads; i++)
		pthread_join(ws->w[i]->thread, NULL);
	for (i = 1; i < ws->n; i++)
		if ((w = ws->w[i]) != NULL && w->dns != NULL)
			server_stop_loop(w);
}

/* Last: the frame log's events of each worker live on its base. */
static void
server_workers_free(struct server *srv)
{
	struct workers	*ws = srv->ws;
	struct server	*w;
	unsigned	 i;

	for (i = 1; i < ws->n; i++) {
		if ((w = ws->w[i]) == NULL)
			continue;
		if (w->base != NULL)
			event_base_free(w->base);
		free(w->stats);
		config_free(w->cfg);
		free(w);
	}
	free(ws->w);
	free(ws);
	srv->ws = NULL;
}

void
server_stop(struct server *srv)
{
	if (srv->ws != NULL)
		server_workers_stop(srv);
	server_stop_loop(srv);
	/* Every session is closed: write what is queued, then exit. */
	framelog_free(srv->flog);
	srv->flog = NULL;
	control_free(srv->ctl);
	srv->ctl = NULL;
	free(srv->stats);
	srv->stats = NULL;
	event_free(srv->ev_sigterm);
	event_free(srv->ev_sigint);
	event_free(srv->ev_sighup);
	if (srv->ws != NULL)
		server_workers_free(srv);
}
