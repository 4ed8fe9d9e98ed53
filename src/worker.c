/*
 * worker.c -- one event-loop thread's context (see worker.h): connection
 * ids and counts, and the inbox through which other threads ask it for
 * things without waiting for the answer.
 */
#include "wsb_autoconf.h"

#include <stdio.h>
#include <stdlib.h>

#include <event2/dns.h>
#include <event2/event.h>

#include "config.h"
#include "util.h"
#include "worker.h"

#define AADD(p, v)	__atomic_add_fetch((p), (v), __ATOMIC_RELAXED)
#define ASUB(p, v)	__atomic_sub_fetch((p), (v), __ATOMIC_RELAXED)
#define ALOAD(p)	__atomic_load_n((p), __ATOMIC_RELAXED)

/* A function posted to a worker's loop. */
struct worker_msg {
	STAILQ_ENTRY(worker_msg) entry;
	worker_fn		*fn;
	void			*arg;
};

static void	worker_inbox_cb(evutil_socket_t, short, void *);

static void
worker_init(struct worker *w, struct event_base *base, struct config *cfg)
{
	w->base = base;
	w->cfg = cfg;
	TAILQ_INIT(&w->listeners);
	TAILQ_INIT(&w->h1conns);
	TAILQ_INIT(&w->h2conns);
	TAILQ_INIT(&w->tunnels);
	w->dns = evdns_base_new(base, EVDNS_BASE_INITIALIZE_NAMESERVERS |
	    EVDNS_BASE_DISABLE_WHEN_INACTIVE);
	if (w->dns == NULL) {
		/* No resolv.conf: numeric backends and /etc/hosts still work. */
		w->dns = evdns_base_new(base, 0);
	}
	pthread_mutex_init(&w->mu, NULL);
	STAILQ_INIT(&w->inbox);
	w->ev_inbox = event_new(base, -1, 0, worker_inbox_cb, w);
}

struct worker_group *
worker_group_new(struct event_base **bases, struct config **cfgs,
    unsigned n)
{
	struct worker_group	*g;
	unsigned		 i;

	g = xcalloc(1, sizeof *g);
	g->n = n;
	g->w = xcalloc(n, sizeof *g->w);
	for (i = 0; i < n; i++) {
		g->w[i] = xcalloc(1, sizeof *g->w[i]);
		g->w[i]->index = i;
		g->w[i]->group = g;
		worker_init(g->w[i], bases[i], cfgs[i]);
	}
	return (g);
}

void
worker_group_free(struct worker_group *g)
{
	struct worker	*w;
	unsigned	 i;

	if (g == NULL)
		return;
	for (i = 0; i < g->n; i++) {
		w = g->w[i];
		/* Whatever was posted after worker_end() has run. */
		event_free(w->ev_inbox);
		pthread_mutex_destroy(&w->mu);
		if (w->dns != NULL)
			evdns_base_free(w->dns, 0);
		config_free(w->cfg);
		free(w);
	}
	free(g->w);
	free(g);
}

unsigned
worker_count(const struct worker *w)
{
	return (w->group->n);
}

struct worker *
worker_at(const struct worker *w, unsigned i)
{
	return (w->group->w[i]);
}

uint64_t
worker_next_id(struct worker *w)
{
	return (w->next_id++ * w->group->n + w->index + 1);
}

unsigned
worker_of_id(const struct worker *w, uint64_t id)
{
	return ((unsigned)((id - 1) % w->group->n));
}

void
worker_conn_new(struct worker *w)
{
	w->nconns++;
	AADD(&w->group->nconns, 1);
	if (w->accepted != NULL)
		w->accepted(w, w->idle_arg);
}

void
worker_conn_gone(struct worker *w)
{
	w->nconns--;
	ASUB(&w->group->nconns, 1);
	if (w->stopping && w->nconns == 0 && w->idle != NULL)
		w->idle(w, w->idle_arg);
}

unsigned
worker_nconns(const struct worker *w)
{
	return (ALOAD(&w->group->nconns));
}

/* Takes the inbox (under w->mu); run with worker_run(). */
static struct worker_msg *
worker_take(struct worker *w)
{
	struct worker_msg	*first = STAILQ_FIRST(&w->inbox);

	STAILQ_INIT(&w->inbox);
	return (first);
}

static void
worker_run(struct worker *w, struct worker_msg *m)
{
	struct worker_msg	*next;

	for (; m != NULL; m = next) {
		next = STAILQ_NEXT(m, entry);
		m->fn(w, m->arg);
		free(m);
	}
}

static void
worker_inbox_cb(evutil_socket_t fd, short what, void *arg)
{
	struct worker		*w = arg;
	struct worker_msg	*first;

	pthread_mutex_lock(&w->mu);
	first = worker_take(w);
	pthread_mutex_unlock(&w->mu);
	worker_run(w, first);
}

void
worker_post(struct worker *w, worker_fn *fn, void *arg)
{
	struct worker_msg	*m;
	int			 wake;

	pthread_mutex_lock(&w->mu);
	if (w->ended) {
		pthread_mutex_unlock(&w->mu);
		fn(w, arg);
		return;
	}
	m = xmalloc(sizeof *m);
	m->fn = fn;
	m->arg = arg;
	wake = STAILQ_EMPTY(&w->inbox);
	STAILQ_INSERT_TAIL(&w->inbox, m, entry);
	pthread_mutex_unlock(&w->mu);
	/* One activation runs the whole inbox. */
	if (wake)
		event_active(w->ev_inbox, EV_TIMEOUT, 1);
}

void
worker_end(struct worker *w)
{
	struct worker_msg	*first;

	pthread_mutex_lock(&w->mu);
	w->ended = 1;
	first = worker_take(w);
	pthread_mutex_unlock(&w->mu);
	worker_run(w, first);
}

const char *
worker_who(const struct worker *w, char *buf, size_t len)
{
	if (w->index == 0)
		return ("");
	snprintf(buf, len, "worker %u: ", w->index);
	return (buf);
}
