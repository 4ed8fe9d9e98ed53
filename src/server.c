/*
 * server.c -- the process: building the config, the workers and their
 * threads, each worker's listeners, signals (TERM/INT drain, HUP reload)
 * and the drain that ends each worker's loop once its connections are
 * gone; the frame log and the control socket.
 */
#include "wsb_autoconf.h"

#include <sys/socket.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <errno.h>
#include <netdb.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "admin.h"
#include "config.h"
#include "control.h"
#include "framelog.h"
#include "record.h"
#include "h1conn.h"
#include "h2conn.h"
#include "listener.h"
#include "log.h"
#include "server.h"
#include "service.h"
#include "upgrade.h"
#include "sockread.h"
#include "stats.h"
#include "tlsout.h"
#include "tls.h"
#include "tunnel.h"
#include "util.h"
#include "worker.h"

#define ALOAD(p)	__atomic_load_n((p), __ATOMIC_RELAXED)
#define AADD(p, v)	__atomic_add_fetch((p), (v), __ATOMIC_RELAXED)
#define ASUB(p, v)	__atomic_sub_fetch((p), (v), __ATOMIC_RELAXED)
#define ASTORE(p, v)	__atomic_store_n((p), (v), __ATOMIC_RELAXED)

unsigned
server_nworkers(const struct config *cfg)
{
	long	n;

	if (cfg->workers != 0)
		return (cfg->workers);
	n = sysconf(_SC_NPROCESSORS_ONLN);
	return (n < 1 ? 1 : n > 64 ? 64 : (unsigned)n);
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
server_has_listener(struct worker *w, const char *spec)
{
	struct listener	*l;

	TAILQ_FOREACH(l, &w->listeners, entry)
		if (strcmp(l->spec, spec) == 0)
			return (1);
	return (0);
}

/* Frees w's listeners past the first n (what a failed sync opened). */
static void
server_drop_listeners(struct worker *w, size_t n)
{
	struct listener	*l, *next;
	size_t		 i = 0;

	for (l = TAILQ_FIRST(&w->listeners); l != NULL; l = next) {
		next = TAILQ_NEXT(l, entry);
		if (i++ >= n)
			listener_free(l);
	}
}

/*
 * Brings w's listeners in line with cfg, all or nothing: first the new
 * TLS contexts of the listeners kept and every listener cfg adds, then,
 * only once all of them worked, the swap (new contexts in, listeners cfg
 * dropped closed). like: the first worker's addresses (workers > 0), or
 * NULL. Returns 0, or -1 with *cause and w's listeners as they were.
 */
static int
server_sync_listeners(struct worker *w, const struct config *cfg,
    const struct listener_addrs *like, char **cause)
{
	struct listener	 *l, *next;
	const struct listen_cfg *lc;
	SSL_CTX		**tls;
	size_t		  i, k, n = 0, nold = 0;
	int		  rc = 0;

	TAILQ_FOREACH(l, &w->listeners, entry)
		nold++;
	tls = xcalloc(nold + 1, sizeof *tls);
	TAILQ_FOREACH(l, &w->listeners, entry) {
		for (i = 0; i < cfg->nlistens; i++) {
			lc = &cfg->listens[i];
			if (strcmp(lc->spec, l->spec) != 0)
				continue;
			if (listener_tls_prepare(l, lc, &tls[n], cause) == -1)
				rc = -1;
			break;
		}
		if (rc == -1)
			break;
		n++;
	}
	for (i = 0; i < cfg->nlistens && rc == 0; i++) {
		lc = &cfg->listens[i];
		for (k = 0; k < i; k++)		/* a line twice: once */
			if (strcmp(cfg->listens[k].spec, lc->spec) == 0)
				break;
		if (k < i || server_has_listener(w, lc->spec))
			continue;
		rc = listener_open(w, lc, like, cause);
	}
	if (rc == -1) {
		server_drop_listeners(w, nold);
		for (i = 0; i < n; i++)
			SSL_CTX_free(tls[i]);
		free(tls);
		return (-1);
	}
	/* Everything opened: swap. The first nold are the old ones. */
	i = 0;
	for (l = TAILQ_FIRST(&w->listeners); l != NULL && i < nold; l = next) {
		next = TAILQ_NEXT(l, entry);
		for (k = 0; k < cfg->nlistens; k++)
			if (strcmp(cfg->listens[k].spec, l->spec) == 0)
				break;
		if (k < cfg->nlistens)
			listener_tls_swap(l, tls[i], &cfg->listens[k]);
		else {
			if (w->index == 0)
				log_info("no longer listening on %s", l->addr);
			listener_free(l);
		}
		i++;
	}
	free(tls);
	return (0);
}

/* Whether two optional strings are the same (both NULL included). */
static int
server_same_str(const char *a, const char *b)
{
	return (a == b || (a != NULL && b != NULL && strcmp(a, b) == 0));
}

/*
 * Puts cfg (taken) in place on w; like: as for server_sync_listeners().
 * Returns 0, or -1 when w's listeners could not follow: then w keeps its
 * config and listeners, cfg is freed and *cause says why.
 */
static int
server_apply(struct server *srv, struct worker *w, struct config *cfg,
    const struct listener_addrs *like, char **cause)
{
	char	who[24];

	if (server_sync_listeners(w, cfg, like, cause) == -1) {
		config_free(cfg);
		return (-1);
	}
	if (w->index == 0) {
		/* The frame log's file and writer settings are fixed. */
		if ((cfg->log.db == NULL) != (srv->flog == NULL) ||
		    (cfg->log.db != NULL && strcmp(cfg->log.db,
		    framelog_path(srv->flog)) != 0))
			log_warn("log-db changes take effect at the next "
			    "start");
		if ((cfg->control == NULL) != (srv->ctl == NULL) ||
		    (cfg->control != NULL && w->cfg->control != NULL &&
		    strcmp(cfg->control, w->cfg->control) != 0))
			log_warn("control changes take effect at the next "
			    "start");
		if ((cfg->admin == NULL) != (srv->admin == NULL) ||
		    (cfg->admin != NULL && w->cfg->admin != NULL &&
		    strcmp(cfg->admin, w->cfg->admin) != 0))
			log_warn("admin changes take effect at the next start");
		if (server_nworkers(cfg) != worker_count(w))
			log_warn("workers changes take effect at the next "
			    "start");
		if (!server_same_str(cfg->user, w->cfg->user) ||
		    !server_same_str(cfg->group, w->cfg->group))
			log_warn("user and group changes take effect at the "
			    "next start");
		if (srv->log_level_flag == -1)
			log_set_level(cfg->log_level);
	}
	/* Live tunnels keep their reference to the old config. */
	config_free(w->cfg);
	w->cfg = cfg;
	log_info("%sconfiguration reloaded: %zu listeners, %zu routes",
	    worker_who(w, who, sizeof who), cfg->nlistens, cfg->nroutes);
	return (0);
}

/* A reload for a worker other than the first, run on its loop. */
struct server_reload_req {
	struct server		*srv;
	struct config		*cfg;
	struct listener_addrs	 like;
};

static void
server_reload_cb(struct worker *w, void *arg)
{
	struct server_reload_req	*req = arg;
	char				*cause, who[24];

	/* The first worker opened these addresses: rare, but said. */
	if (server_apply(req->srv, w, req->cfg, &req->like, &cause) == -1) {
		log_error("%sreload failed, keeping the running config: %s",
		    worker_who(w, who, sizeof who), cause);
		free(cause);
	}
	listener_addrs_clear(&req->like);
	free(req);
}

/*
 * SIGHUP, in the main thread. Every worker gets a config of its own (their
 * tunnels hold references that are not shared across threads), all built
 * here from the same file and flags, so a file that fails reloads none;
 * and the first worker opens the new listeners before anyone swaps, so a
 * listener that cannot be opened reloads none either (the others bind the
 * addresses it got).
 */
static void
server_reload(struct server *srv)
{
	struct worker_group		*g = srv->group;
	struct server_reload_req	*req;
	struct config			*cfg, **cfgs;
	char				*cause;
	unsigned			 i;

	service_notify("RELOADING=1\nMONOTONIC_USEC=%llu",
	    (unsigned long long)(now_ns() / 1000));
	cfgs = xcalloc(g->n, sizeof *cfgs);
	for (i = 0; i < g->n; i++) {
		if ((cfg = server_build_config(srv, &cause)) == NULL) {
			log_error("reload failed, keeping the running config: "
			    "%s", cause);
			service_notify("READY=1\nSTATUS=reload failed, kept "
			    "the running config: %s", cause);
			free(cause);
			while (i-- > 0)
				config_free(cfgs[i]);
			free(cfgs);
			return;
		}
		cfgs[i] = cfg;
	}
	if (server_apply(srv, g->w[0], cfgs[0], NULL, &cause) == -1) {
		log_error("reload failed, keeping the running config and its "
		    "listeners: %s", cause);
		service_notify("READY=1\nSTATUS=reload failed, kept the "
		    "running config: %s", cause);
		free(cause);
		for (i = 1; i < g->n; i++)
			config_free(cfgs[i]);
		free(cfgs);
		return;
	}
	service_notify("READY=1\nSTATUS=configuration reloaded: %zu "
	    "listeners, %zu routes", g->w[0]->cfg->nlistens,
	    g->w[0]->cfg->nroutes);
	for (i = 1; i < g->n; i++) {
		req = xcalloc(1, sizeof *req);
		req->srv = srv;
		req->cfg = cfgs[i];
		listener_addrs_get(g->w[0], &req->like);
		worker_post(g->w[i], server_reload_cb, req);
	}
	free(cfgs);
}

/*
 * Every WebSocket gets close 1001; the loop ends when the last connection
 * does, or after ms.
 */
static void
server_close_all(struct worker *w, unsigned ms)
{
	struct timeval	tv;

	w->closing_all = 1;
	tunnel_shutdown_all(w);
	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	evtimer_add(w->ev_shutdown, &tv);
}

static void
server_shutdown_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct worker	*w = arg;
	char		 who[24];

	if (!w->closing_all) {
		/*
		 * shutdown-mode wait: the tunnels had shutdown-timeout to
		 * end by themselves. Now 1001, and close-timeout for the
		 * close handshakes and what is queued.
		 */
		log_info("%sshutdown-timeout reached: closing the %u "
		    "connections left with 1001", worker_who(w, who,
		    sizeof who), w->nconns);
		h1conn_shutdown_all(w);
		server_close_all(w, w->cfg->close_timeout_ms);
		return;
	}
	log_warn("%sshutdown deadline reached with %u connections left",
	    worker_who(w, who, sizeof who), w->nconns);
	event_base_loopexit(w->base, NULL);
}

/*
 * A stopping worker has no connection left: its loop may end. The main
 * thread's waits for the other workers too (serving the control socket
 * meanwhile); each of them tells it when its loop ended.
 */
static void
server_idle(struct worker *w, void *arg)
{
	struct server	*srv = arg;

	if (w->index == 0 && ALOAD(&srv->left) > 0)
		return;
	event_base_loopexit(w->base, NULL);
}

/* Another worker's loop ended (on the first worker's loop). */
static void
server_worker_gone(struct worker *w, void *arg)
{
	if (w->stopping && w->nconns == 0)
		server_idle(w, arg);
}

static void
server_begin_shutdown(struct worker *w, const char *signame)
{
	struct listener	*l;
	struct timeval	 tv;
	char		 who[24];

	/* Once accept-for or run-once stopped accepting, a signal drains. */
	if (w->ev_shutdown != NULL) {
		log_warn("%s%s again: exiting now", worker_who(w, who,
		    sizeof who), signame);
		event_base_loopexit(w->base, NULL);
		return;
	}
	w->stopping = 1;
	log_info("%s%s: draining %u connections (shutdown-mode %s, deadline "
	    "%u ms)", worker_who(w, who, sizeof who), signame, w->nconns,
	    w->cfg->shutdown_wait ? "wait" : "close",
	    w->cfg->shutdown_timeout_ms);
	if (w->index == 0)
		service_notify("STOPPING=1\nSTATUS=%s: draining %u "
		    "connections", signame, worker_nconns(w));
	while ((l = TAILQ_FIRST(&w->listeners)) != NULL)
		listener_free(l);
	/*
	 * wait: a handshake under way completes and its tunnel runs on like
	 * the others (an upgrade hands the listeners over while clients are
	 * in the middle of one); close: 503.
	 */
	if (!w->cfg->shutdown_wait)
		h1conn_shutdown_all(w);
	h2conn_shutdown_all(w);
	w->ev_shutdown = evtimer_new(w->base, server_shutdown_timeout, w);
	if (w->cfg->shutdown_wait && w->cfg->shutdown_timeout_ms > 0) {
		/* Tunnels run on until they end: 1001 at the deadline. */
		tv.tv_sec = w->cfg->shutdown_timeout_ms / 1000;
		tv.tv_usec = (w->cfg->shutdown_timeout_ms % 1000) * 1000;
		evtimer_add(w->ev_shutdown, &tv);
	} else
		server_close_all(w, w->cfg->shutdown_timeout_ms);
	if (w->nconns == 0 && w->idle != NULL)
		w->idle(w, w->idle_arg);
}

static void
server_sigterm_cb(struct worker *w, void *arg)
{
	server_begin_shutdown(w, "SIGTERM");
}

/*
 * accept-for and run-once (websockify's --timeout and --run-once): close
 * the listeners and let the connections run to their end; the loop ends
 * with the last (server_idle). Posted, so never inside a listener's
 * callback.
 */
static void
server_stop_accepting_cb(struct worker *w, void *arg)
{
	const char	*why = arg;
	struct listener	*l;
	char		 who[24];

	if (w->stopping)
		return;
	w->stopping = 1;
	if (w->index == 0)
		log_info("%s: no longer accepting; exiting when the %u "
		    "connections left end", why, worker_nconns(w));
	else
		log_debug("%s%s: no longer accepting", worker_who(w, who,
		    sizeof who), why);
	while ((l = TAILQ_FIRST(&w->listeners)) != NULL)
		listener_free(l);
	if (w->nconns == 0 && w->idle != NULL)
		w->idle(w, w->idle_arg);
}

static void
server_stop_accepting(struct server *srv, char *why)
{
	unsigned	i;

	for (i = 0; i < srv->group->n; i++)
		worker_post(srv->group->w[i], server_stop_accepting_cb, why);
}

/* run-once: the first connection accepted, on any worker. */
static void
server_accepted(struct worker *w, void *arg)
{
	static char	 why[] = "run-once";
	struct server	*srv = arg;

	if (__atomic_exchange_n(&srv->accepted_once, 1, __ATOMIC_RELAXED))
		return;
	server_stop_accepting(srv, why);
}

static void
server_accept_for_done(evutil_socket_t fd, short what, void *arg)
{
	static char	why[] = "accept-for (websockify --timeout)";

	server_stop_accepting(arg, why);
}

/*
 * exit-when-idle (websockify's --idle-timeout): once a second, the time
 * since a connection was last open; past the limit, a drain as for TERM
 * (there is nothing to drain).
 */
static void
server_idle_check(evutil_socket_t fd, short what, void *arg)
{
	struct server	*srv = arg;
	struct worker	*w0 = srv->group->w[0];
	uint64_t	 now = now_ns();
	unsigned	 i;

	if (worker_nconns(w0) > 0 || srv->idle_since_ns == 0) {
		srv->idle_since_ns = now;
		return;
	}
	if (now - srv->idle_since_ns < (uint64_t)w0->cfg->exit_idle_ms *
	    1000000)
		return;
	log_info("no connection for %u ms (exit-when-idle): exiting",
	    w0->cfg->exit_idle_ms);
	event_del(srv->ev_lifetime[1]);
	for (i = 1; i < srv->group->n; i++)
		worker_post(srv->group->w[i], server_sigterm_cb, NULL);
	server_begin_shutdown(w0, "exit-when-idle");
}

/* The timers websockify's --timeout and --idle-timeout ask for. */
static void
server_lifetime_start(struct server *srv)
{
	const struct config	*cfg = srv->group->w[0]->cfg;
	struct timeval		 tv;
	unsigned		 i;

	if (cfg->run_once)
		for (i = 0; i < srv->group->n; i++)
			srv->group->w[i]->accepted = server_accepted;
	if (cfg->accept_for_ms > 0) {
		srv->ev_lifetime[0] = evtimer_new(srv->base,
		    server_accept_for_done, srv);
		tv.tv_sec = cfg->accept_for_ms / 1000;
		tv.tv_usec = (cfg->accept_for_ms % 1000) * 1000;
		evtimer_add(srv->ev_lifetime[0], &tv);
	}
	if (cfg->exit_idle_ms > 0) {
		srv->idle_since_ns = now_ns();
		srv->ev_lifetime[1] = event_new(srv->base, -1, EV_PERSIST,
		    server_idle_check, srv);
		tv.tv_sec = cfg->exit_idle_ms < 1000 ? 0 : 1;
		tv.tv_usec = cfg->exit_idle_ms < 1000 ?
		    cfg->exit_idle_ms * 1000 : 0;
		evtimer_add(srv->ev_lifetime[1], &tv);
	}
}

/* TERM and INT for workers other than the first, on their loops. */

static void
server_sigint_cb(struct worker *w, void *arg)
{
	server_begin_shutdown(w, "SIGINT");
}

/* SIGUSR1: log-file again, for a log rotated away (a new file). */
static void
server_reopen_log(struct server *srv)
{
	const char	*path = srv->group->w[0]->cfg->log_file;
	char		*cause;

	if (path == NULL) {
		log_debug("SIGUSR1: no log-file to reopen");
		return;
	}
	if (log_open_file(path, &cause) == -1) {
		log_error("SIGUSR1: %s; still writing to the old file", cause);
		free(cause);
		return;
	}
	log_info("SIGUSR1: log-file %s reopened", path);
}

/* A worker's loop answered the watchdog's question (on its loop). */
static void
server_watchdog_answer(struct worker *w, void *arg)
{
	struct server	*srv = arg;

	ASUB(&srv->wd_pending, 1);
}

/*
 * Under a service manager, every half watchdog interval (or 5 s): the
 * status line, and WATCHDOG=1 if every worker's loop answered the last
 * round -- a worker stuck in a loop stops the pings and systemd restarts
 * the service.
 */
static void
server_service_tick(evutil_socket_t fd, short what, void *arg)
{
	struct server	*srv = arg;
	struct worker	*w0 = srv->group->w[0];
	unsigned	 i, n = srv->group->n;

	if (srv->watchdog_usec > 0) {
		if (ALOAD(&srv->wd_pending) == 0) {
			service_notify("WATCHDOG=1");
			srv->wd_late = 0;
			ASTORE(&srv->wd_pending, n - 1);
			for (i = 1; i < n; i++)
				worker_post(srv->group->w[i],
				    server_watchdog_answer, srv);
		} else if (!srv->wd_late) {
			log_error("watchdog: %u workers' event loops have not "
			    "answered for %llu ms; no longer telling the "
			    "service manager all is well",
			    ALOAD(&srv->wd_pending), (unsigned long long)
			    (srv->watchdog_usec / 2000));
			srv->wd_late = 1;
		}
	}
	service_notify("STATUS=%u connections open%s", worker_nconns(w0),
	    w0->stopping ? ", draining" : "");
}

static void
server_service_start(struct server *srv)
{
	struct timeval	tv = { 5, 0 };
	uint64_t	usec;

	if (!service_notifying())
		return;
	if ((srv->watchdog_usec = service_watchdog_usec()) > 0) {
		usec = srv->watchdog_usec / 2;
		if (usec < 1000)
			usec = 1000;
		if (usec < 5000000) {
			tv.tv_sec = (time_t)(usec / 1000000);
			tv.tv_usec = (suseconds_t)(usec % 1000000);
		}
	}
	srv->ev_service = event_new(srv->base, -1, EV_PERSIST,
	    server_service_tick, srv);
	evtimer_add(srv->ev_service, &tv);
	service_notify("READY=1\nSTATUS=%zu listeners, %zu routes",
	    srv->group->w[0]->cfg->nlistens, srv->group->w[0]->cfg->nroutes);
	if (srv->watchdog_usec > 0)
		service_notify("WATCHDOG=1");
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
	case SIGUSR1:
		server_reopen_log(srv);
		break;
	case SIGTERM:
	case SIGINT:
		for (i = 1; i < srv->group->n; i++)
			worker_post(srv->group->w[i], sig == SIGTERM ?
			    server_sigterm_cb : server_sigint_cb, NULL);
		server_begin_shutdown(srv->group->w[0], sig == SIGTERM ?
		    "SIGTERM" : "SIGINT");
		break;
	}
}

static void
server_stats_tick(evutil_socket_t fd, short what, void *arg)
{
	struct worker	*w = arg;

	stats_global_tick(w->stats, now_ns());
}

static void *
server_worker_main(void *arg)
{
	struct worker	*w = arg;
	struct server	*srv = w->idle_arg;	/* server_workers_new() */

	log_debug("worker %u: running", w->index);
	sockread_thread_start(w->base);
	event_base_loop(w->base, EVLOOP_NO_EXIT_ON_EMPTY);
	sockread_thread_end();
	tlsout_thread_end();
	/* What was asked too late runs here: the loop's data is intact. */
	worker_end(w);
	ASUB(&srv->left, 1);
	worker_post(srv->group->w[0], server_worker_gone, srv);
	return (NULL);
}

/*
 * Listeners of workers 1..n-1 on the first worker's addresses. Returns 0
 * or -1 (logged).
 */
static int
server_workers_listen(struct server *srv)
{
	struct worker_group	*g = srv->group;
	struct listener_addrs	 like;
	char			*cause;
	unsigned		 i;
	int			 rc = 0;

	listener_addrs_get(g->w[0], &like);
	for (i = 1; i < g->n && rc == 0; i++) {
		if ((rc = server_sync_listeners(g->w[i], g->w[i]->cfg, &like,
		    &cause)) == -1) {
			log_error("%s", cause);
			free(cause);
		}
	}
	listener_addrs_clear(&like);
	return (rc);
}

/* The threads of workers 1..n-1, which take no signal. */
static void
server_workers_run(struct server *srv)
{
	struct worker_group	*g = srv->group;
	struct worker		*w;
	sigset_t		 set, old;
	unsigned		 i;
	struct timeval		 tv = { 1, 0 };

	for (i = 1; i < g->n; i++) {
		w = g->w[i];
		if (w->stats != NULL) {
			w->ev_tick = event_new(w->base, -1, EV_PERSIST,
			    server_stats_tick, w);
			evtimer_add(w->ev_tick, &tv);
		}
	}
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &set, &old);
	for (i = 1; i < g->n; i++) {
		AADD(&srv->left, 1);
		if (pthread_create(&g->w[i]->thread, NULL, server_worker_main,
		    g->w[i]) != 0)
			fatalx("cannot start worker %u", i);
		srv->nthreads = i;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	log_info("%u workers, one event loop each", g->n);
}

/*
 * The workers: the first on srv->base with srv->cfg (taken), the others
 * each on a base of their own with a config built here in the main thread
 * before any of them runs. Returns 0 or -1 (logged).
 */
static int
server_workers_new(struct server *srv)
{
	struct event_base	**bases;
	struct config		**cfgs;
	char			 *cause;
	unsigned		  i, n;
	int			  rc = 0;

	n = server_nworkers(srv->cfg);
	bases = xcalloc(n, sizeof *bases);
	cfgs = xcalloc(n, sizeof *cfgs);
	bases[0] = srv->base;
	cfgs[0] = srv->cfg;
	srv->cfg = NULL;
	for (i = 1; i < n; i++) {
		if ((bases[i] = event_base_new()) == NULL)
			fatalx("cannot create the event loop of worker %u", i);
		if (rc == 0 && (cfgs[i] = server_build_config(srv,
		    &cause)) == NULL) {
			log_error("%s", cause);
			free(cause);
			rc = -1;
		}
	}
	/* --upgrade: each worker's config its share of the old sockets. */
	for (i = 0; i < n && rc == 0 && srv->upgrade != NULL; i++)
		upgrade_assign(srv->upgrade, cfgs[i], i, n);
	srv->group = worker_group_new(bases, cfgs, n);
	for (i = 0; i < n; i++) {
		srv->group->w[i]->idle = server_idle;
		srv->group->w[i]->idle_arg = srv;
	}
	srv->group->w[0]->thread = pthread_self();
	free(cfgs);
	free(bases);
	return (rc);
}

/*
 * For --check: whether lc's host is an address of this host, by binding
 * each of its addresses with port 0 (the port itself may be the running
 * wsbridge's, which a reload keeps: in use is no error here). Returns 0,
 * or -1 with *cause set.
 */
static int
server_check_address(const struct listen_cfg *lc, char **cause)
{
	struct addrinfo	 hints, *res, *ai;
	int		 fd, rc, ok = 0, err = 0;

	if (lc->host == NULL || lc->unix_path != NULL || lc->inherit_fd != -1
	    || lc->systemd)
		return (0);
	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	if ((rc = getaddrinfo(lc->host, "0", &hints, &res)) != 0) {
		*cause = xasprintf("listen %s: %s", lc->spec, gai_strerror(rc));
		return (-1);
	}
	for (ai = res; ai != NULL && !ok; ai = ai->ai_next) {
		if ((fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC,
		    0)) == -1)
			continue;
		if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0)
			ok = 1;
		else
			err = errno;
		close(fd);
	}
	freeaddrinfo(res);
	if (ok)
		return (0);
	*cause = xasprintf("listen %s: %s", lc->spec, strerror(err != 0 ?
	    err : EADDRNOTAVAIL));
	return (-1);
}

int
server_check(const struct config *cfg, char **cause)
{
	SSL_CTX	*tls;
	char	*c;
	size_t	 i;

	/*
	 * What a start reads short of binding: certificates and keys, and
	 * whether each address is this host's.
	 */
	for (i = 0; i < cfg->nlistens; i++) {
		if (server_check_address(&cfg->listens[i], cause) != 0)
			return (-1);
		if (!cfg->listens[i].tls)
			continue;
		if ((tls = tls_server_ctx_new(&cfg->listens[i], &c)) == NULL) {
			*cause = xasprintf("listen %s: %s",
			    cfg->listens[i].spec, c);
			free(c);
			return (-1);
		}
		SSL_CTX_free(tls);
	}
	if (framelog_check(&cfg->log, &c) != 0) {
		*cause = xasprintf("frame log: %s", c);
		free(c);
		return (-1);
	}
	if (cfg->control != NULL && control_check(cfg->control, cause) != 0)
		return (-1);
	if (admin_check(cfg, cause) != 0)
		return (-1);
	if (cfg->record != NULL && rec_check(cfg->record, cause) != 0)
		return (-1);
	return (0);
}

/* Whether a listen line's host is loopback only (NULL: every address). */
static int
server_loopback(const char *host)
{
	struct in_addr	a4;
	struct in6_addr	a6;

	if (host == NULL)
		return (0);
	if (strcmp(host, "localhost") == 0)
		return (1);
	if (inet_pton(AF_INET, host, &a4) == 1)
		return ((ntohl(a4.s_addr) >> 24) == 127);
	return (inet_pton(AF_INET6, host, &a6) == 1 &&
	    IN6_IS_ADDR_LOOPBACK(&a6));
}

/*
 * A listener other hosts can reach serving a route to a backend that
 * takes any Origin and no token: any web page a browser on that network
 * opens may open WebSockets to that backend (cross-site WebSocket
 * hijacking). Said once at start, per route.
 */
static void
server_warn_exposed(const struct config *cfg)
{
	const struct listen_cfg	*lc = NULL;
	const struct route	*rt;
	size_t			 i;

	for (i = 0; i < cfg->nlistens && lc == NULL; i++) {
		if (cfg->listens[i].unix_path == NULL &&
		    cfg->listens[i].inherit_fd == -1 &&
		    !server_loopback(cfg->listens[i].host))
			lc = &cfg->listens[i];
	}
	if (lc == NULL)
		return;
	for (i = 0; i < cfg->nroutes; i++) {
		rt = &cfg->routes[i];
		if (rt->norigins > 0 || rt->target.kind == TARGET_TOKEN ||
		    rt->target.kind == TARGET_ECHO)
			continue;
		log_warn("route %s -> %s on a listener other hosts reach (%s) "
		    "accepts any Origin and no token: any web page can open "
		    "it; set origins= (see Security in wsbridge.conf(5))",
		    rt->path, rt->target.spec, lc->spec);
	}
}

/* Every worker's listeners. Returns 0 or -1 (logged). */
static int
server_open_listeners(struct server *srv)
{
	struct worker_group	*g = srv->group;
	char			*cause;

	if (server_sync_listeners(g->w[0], g->w[0]->cfg, NULL, &cause) ==
	    -1) {
		log_error("%s", cause);
		free(cause);
		return (-1);
	}
	if (g->n > 1 && server_workers_listen(srv) == -1)
		return (-1);
	return (0);
}

/* The frame log, the control socket, the admin endpoint: 0 or -1 (logged). */
static int
server_open_observers(struct server *srv)
{
	struct worker_group	 *g = srv->group;
	struct event_base	**bases;
	char			 *cause;
	unsigned		  i, n = g->n;

	if (g->w[0]->cfg->log.db != NULL) {
		bases = xcalloc(n, sizeof *bases);
		for (i = 0; i < n; i++)
			bases[i] = g->w[i]->base;
		srv->flog = framelog_new(bases, n, g->w[0]->cfg, &cause);
		free(bases);
		if (srv->flog == NULL) {
			log_error("frame log: %s", cause);
			free(cause);
			return (-1);
		}
		g->w[0]->flog = srv->flog;
		for (i = 1; i < n; i++)
			g->w[i]->flog = framelog_producer(srv->flog, i);
	}
	if (g->w[0]->cfg->control != NULL) {
		for (i = 0; i < n; i++) {
			g->w[i]->stats = xcalloc(1, sizeof *g->w[i]->stats);
			stats_global_init(g->w[i]->stats, now_ns());
		}
		if ((srv->ctl = control_new(g->w[0], g->w[0]->cfg->control,
		    srv->upgrade != NULL ? srv->upgrade->ctl_fd : -1,
		    &cause)) == NULL) {
			log_error("%s", cause);
			free(cause);
			return (-1);
		}
		for (i = 0; i < n; i++)
			g->w[i]->hooks = control_hooks(srv->ctl);
	}
	if (g->w[0]->cfg->admin != NULL &&
	    (srv->admin = admin_new(g->w[0], srv->upgrade != NULL ?
	    srv->upgrade->admin_fd : -1, &cause)) == NULL) {
		log_error("%s", cause);
		free(cause);
		return (-1);
	}
	/* An upgrade of this process hands the admin socket over too. */
	if (srv->admin != NULL)
		control_handover_add(srv->ctl, "admin", admin_fd(srv->admin),
		    admin_stop, srv->admin);
	return (0);
}

int
server_start(struct server *srv)
{
	struct worker_group	 *g;
	char			 *cause;
	unsigned		  n;
	int			  rc, drop;

	rc = server_workers_new(srv);
	g = srv->group;
	n = g->n;
	signal(SIGPIPE, SIG_IGN);
	srv->ev_sigterm = evsignal_new(srv->base, SIGTERM, server_signal, srv);
	srv->ev_sigint = evsignal_new(srv->base, SIGINT, server_signal, srv);
	srv->ev_sighup = evsignal_new(srv->base, SIGHUP, server_signal, srv);
	srv->ev_sigusr1 = evsignal_new(srv->base, SIGUSR1, server_signal, srv);
	evsignal_add(srv->ev_sigterm, NULL);
	evsignal_add(srv->ev_sigint, NULL);
	evsignal_add(srv->ev_sighup, NULL);
	evsignal_add(srv->ev_sigusr1, NULL);
	if (rc == -1)
		return (-1);
	/*
	 * Listeners last, so that a "listening on" line means every other
	 * part is up (tests and scripts wait for it). With user/group they
	 * come first instead: they may need root (ports below 1024), which
	 * goes before the frame log and the control socket are created, so
	 * those belong to that user.
	 */
	drop = g->w[0]->cfg->user != NULL || g->w[0]->cfg->group != NULL;
	if (drop) {
		if (server_open_listeners(srv) == -1)
			return (-1);
		if (service_drop_privileges(g->w[0]->cfg->user,
		    g->w[0]->cfg->group, &cause) == -1) {
			log_error("%s", cause);
			free(cause);
			return (-1);
		}
		log_info("running as uid %u gid %u", (unsigned)getuid(),
		    (unsigned)getgid());
	}
	if (server_open_observers(srv) == -1)
		return (-1);
	if (!drop && server_open_listeners(srv) == -1)
		return (-1);
	server_warn_exposed(g->w[0]->cfg);
	server_lifetime_start(srv);
	if (n > 1)
		server_workers_run(srv);
	server_service_start(srv);
	return (0);
}

void
server_upgrade_adopted(struct server *srv)
{
	struct listener	*l;

	TAILQ_FOREACH(l, &srv->group->w[0]->listeners, entry)
		if (strncmp(l->addr, "unix:", 5) == 0)
			l->unlink_path = 1;
	control_adopted(srv->ctl);
	admin_adopted(srv->admin);
}

/* What every worker frees after its loop ended. */
static void
server_stop_loop(struct worker *w)
{
	struct listener	*l;

	/* Connections the drain deadline cut short. */
	tunnel_free_all(w);
	h1conn_free_all(w);
	h2conn_free_all(w);
	/* libevent finalises freed bufferevents on a loop pass: give it one. */
	event_base_loop(w->base, EVLOOP_NONBLOCK);
	while ((l = TAILQ_FIRST(&w->listeners)) != NULL)
		listener_free(l);
	if (w->ev_shutdown != NULL)
		event_free(w->ev_shutdown);
	w->ev_shutdown = NULL;
	if (w->ev_tick != NULL)
		event_free(w->ev_tick);
	w->ev_tick = NULL;
}

void
server_stop(struct server *srv)
{
	struct worker_group	 *g = srv->group;
	struct event_base	**bases;
	unsigned		  i, n;

	if (g == NULL)
		return;
	n = g->n;
	/*
	 * The other workers end after the main loop (drained, deadline or a
	 * second signal); their tunnels close from this thread now that
	 * theirs has ended, before the frame log and the control socket go.
	 */
	for (i = 1; i <= srv->nthreads; i++)
		event_base_loopexit(g->w[i]->base, NULL);
	for (i = 1; i <= srv->nthreads; i++)
		pthread_join(g->w[i]->thread, NULL);
	for (i = srv->nthreads + 1; i < g->n; i++)
		worker_end(g->w[i]);
	/* What the others posted here last (their answers) runs now. */
	worker_end(g->w[0]);
	for (i = 1; i < g->n; i++)
		server_stop_loop(g->w[i]);
	server_stop_loop(g->w[0]);
	/* Every session is closed: write what is queued, then exit. */
	framelog_free(srv->flog);
	srv->flog = NULL;
	rec_shutdown();
	control_free(srv->ctl);
	srv->ctl = NULL;
	admin_free(srv->admin);
	srv->admin = NULL;
	event_free(srv->ev_sigterm);
	event_free(srv->ev_sigint);
	event_free(srv->ev_sighup);
	event_free(srv->ev_sigusr1);
	if (srv->ev_service != NULL)
		event_free(srv->ev_service);
	srv->ev_service = NULL;
	for (i = 0; i < nitems(srv->ev_lifetime); i++) {
		if (srv->ev_lifetime[i] != NULL)
			event_free(srv->ev_lifetime[i]);
		srv->ev_lifetime[i] = NULL;
	}
	/* Last: the frame log's events of each worker live on its base. */
	bases = xcalloc(g->n, sizeof *bases);
	for (i = 0; i < g->n; i++) {
		bases[i] = g->w[i]->base;
		free(g->w[i]->stats);
		g->w[i]->stats = NULL;
	}
	worker_group_free(g);
	srv->group = NULL;
	for (i = 1; i < n; i++)
		event_base_free(bases[i]);
	free(bases);
}
