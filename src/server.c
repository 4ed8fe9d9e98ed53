/*
 * server.c -- process-wide state: building the config, listeners, signals
 * (TERM/INT drain, HUP reload) and the connection count that lets a drain
 * finish early.
 */
#include "wsb_autoconf.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>

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
#include "stats.h"
#include "tunnel.h"
#include "util.h"

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

/* Opens listeners the config names and we lack; closes the ones it dropped. */
static int
server_sync_listeners(struct server *srv)
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
			log_info("no longer listening on %s", l->addr);
			listener_free(l);
		}
	}
	for (i = 0; i < srv->cfg->nlistens; i++) {
		if (server_has_listener(srv, srv->cfg->listens[i].spec))
			continue;
		if (listener_open(srv, &srv->cfg->listens[i], &cause) == -1) {
			log_error("%s", cause);
			free(cause);
			rc = -1;
		}
	}
	return (rc);
}

static void
server_reload(struct server *srv)
{
	struct config	*cfg;
	char		*cause;

	if ((cfg = server_build_config(srv, &cause)) == NULL) {
		log_error("reload failed, keeping the running config: %s", cause);
		free(cause);
		return;
	}
	/* The frame log's file and writer settings are fixed at start. */
	if ((cfg->log.db == NULL) != (srv->flog == NULL) ||
	    (cfg->log.db != NULL && strcmp(cfg->log.db,
	    framelog_path(srv->flog)) != 0))
		log_warn("log-db changes take effect at the next start");
	if ((cfg->control == NULL) != (srv->ctl == NULL) ||
	    (cfg->control != NULL && srv->cfg->control != NULL &&
	    strcmp(cfg->control, srv->cfg->control) != 0))
		log_warn("control changes take effect at the next start");
	/* Live tunnels keep their reference to the old config. */
	config_free(srv->cfg);
	srv->cfg = cfg;
	if (srv->log_level_flag == -1)
		log_set_level(cfg->log_level);
	server_sync_listeners(srv);
	log_info("configuration reloaded: %zu listeners, %zu routes",
	    cfg->nlistens, cfg->nroutes);
}

static void
server_shutdown_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct server	*srv = arg;

	log_warn("shutdown deadline reached with %u connections left",
	    srv->nconns);
	event_base_loopexit(srv->base, NULL);
}

static void
server_begin_shutdown(struct server *srv, const char *signame)
{
	struct listener	*l;
	struct timeval	 tv;

	if (srv->stopping) {
		log_warn("%s again: exiting now", signame);
		event_base_loopexit(srv->base, NULL);
		return;
	}
	srv->stopping = 1;
	log_info("%s: draining %u connections (deadline %u ms)", signame,
	    srv->nconns, srv->cfg->shutdown_timeout_ms);
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
		event_base_loopexit(srv->base, NULL);
}

static void
server_signal(evutil_socket_t sig, short what, void *arg)
{
	struct server	*srv = arg;

	switch (sig) {
	case SIGHUP:
		server_reload(srv);
		break;
	case SIGTERM:
		server_begin_shutdown(srv, "SIGTERM");
		break;
	case SIGINT:
		server_begin_shutdown(srv, "SIGINT");
		break;
	}
}

void
server_conn_gone(struct server *srv)
{
	srv->nconns--;
	if (srv->stopping && srv->nconns == 0)
		event_base_loopexit(srv->base, NULL);
}

int
server_start(struct server *srv)
{
	TAILQ_INIT(&srv->listeners);
	TAILQ_INIT(&srv->h1conns);
	TAILQ_INIT(&srv->h2conns);
	TAILQ_INIT(&srv->tunnels);
	signal(SIGPIPE, SIG_IGN);
	srv->ev_sigterm = evsignal_new(srv->base, SIGTERM, server_signal, srv);
	srv->ev_sigint = evsignal_new(srv->base, SIGINT, server_signal, srv);
	srv->ev_sighup = evsignal_new(srv->base, SIGHUP, server_signal, srv);
	evsignal_add(srv->ev_sigterm, NULL);
	evsignal_add(srv->ev_sigint, NULL);
	evsignal_add(srv->ev_sighup, NULL);
	srv->dns = evdns_base_new(srv->base, EVDNS_BASE_INITIALIZE_NAMESERVERS |
	    EVDNS_BASE_DISABLE_WHEN_INACTIVE);
	if (srv->dns == NULL) {
		/* No resolv.conf: numeric backends and /etc/hosts still work. */
		srv->dns = evdns_base_new(srv->base, 0);
	}
	if (srv->cfg->log.db != NULL)
		srv->flog = framelog_new(srv->base, srv->cfg);
	if (srv->cfg->control != NULL) {
		char	*cause;

		srv->stats = xcalloc(1, sizeof *srv->stats);
		stats_global_init(srv->stats, now_ns());
		backend_set_direct(0);
		if ((srv->ctl = control_new(srv, srv->cfg->control,
		    &cause)) == NULL) {
			log_error("%s", cause);
			free(cause);
			return (-1);
		}
	}
	return (server_sync_listeners(srv));
}

void
server_stop(struct server *srv)
{
	struct listener	*l;

	/* Connections the drain deadline cut short. */
	tunnel_free_all(srv);
	h1conn_free_all(srv);
	h2conn_free_all(srv);
	/* libevent finalises freed bufferevents on a loop pass: give it one. */
	event_base_loop(srv->base, EVLOOP_NONBLOCK);
	/* Every session is closed: write what is queued, then exit. */
	framelog_free(srv->flog);
	srv->flog = NULL;
	control_free(srv->ctl);
	srv->ctl = NULL;
	free(srv->stats);
	srv->stats = NULL;
	while ((l = TAILQ_FIRST(&srv->listeners)) != NULL)
		listener_free(l);
	event_free(srv->ev_sigterm);
	event_free(srv->ev_sigint);
	event_free(srv->ev_sighup);
	if (srv->ev_shutdown != NULL)
		event_free(srv->ev_shutdown);
	if (srv->dns != NULL)
		evdns_base_free(srv->dns, 0);
}
