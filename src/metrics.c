/*
 * metrics.c -- each worker's numbers for the admin endpoint, their
 * published copies, and the Prometheus text exposition of their sum (see
 * metrics.h; docs/metrics.md names every metric).
 */
#include "wsb_autoconf.h"

#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "framelog.h"
#include "metrics.h"
#include "stats.h"
#include "util.h"

#define NS		1000000000ULL
#define STATUS_N	(METRICS_STATUS_MAX - METRICS_STATUS_MIN + 1)
#define OTHER_ROUTE	"other"		/* past METRICS_ROUTES_MAX */
#define CODE_OTHER	0		/* a close code past METRICS_CLOSES_MAX */
#define CODE_NONE	1006		/* no close frame (RFC 6455 7.1.5) */

const uint64_t metrics_lag_bounds[METRICS_LAG_BUCKETS - 1] = {
	1000000, 5000000, 10000000, 25000000, 50000000, 100000000,
	250000000, 500000000, NS, 5 * NS / 2,
};

static const char *const metrics_state_names[METRICS_NSTATES] = {
	"connecting", "open", "draining", "closed",
};
static const char *const metrics_by_names[METRICS_NBY] = {
	"client", "backend", "wsbridge",
};
static const char *const metrics_dir_names[2] = { "in", "out" };

/* What tunnels moved: totals, or one walk's. */
struct metrics_flow {
	uint64_t	payload[2], msgs[2], frames[2];
	uint64_t	opened;		/* tunnels that answered 101/200 */
};

/* A route's numbers in a published copy (name: the worker's, kept). */
struct metrics_route_pub {
	const char		*name;
	struct metrics_flow	 flow;
	uint64_t		 conns[2][2][METRICS_NSTATES];	/* h2, tls */
};

struct metrics_close {
	uint16_t	code;		/* CODE_OTHER past the table */
	uint8_t		by;		/* enum metrics_by */
	uint64_t	n;
};

/* A worker's numbers: bumped in place (live), or a published copy. */
struct metrics_pub {
	uint64_t		 handshakes[2][STATUS_N];	/* by h2 */
	struct metrics_close	 closes[METRICS_CLOSES_MAX + METRICS_NBY];
	unsigned		 ncloses;
	uint64_t		 tls_ok, tls_failed;
	uint64_t		 h2_conns_total, h2_streams_total;
	int64_t			 h2_conns, h2_streams;		/* open now */
	uint64_t		 lag[METRICS_LAG_BUCKETS], lag_ns;
	uint64_t		 h2_wait[METRICS_NH2_WAITS][STATS_HOL_BUCKETS];
	uint64_t		 h2_wait_ns[METRICS_NH2_WAITS];
	unsigned		 client_sockets;
	int			 has_stats;
	uint64_t		 hol_msg[2][STATS_HOL_BUCKETS];
	uint64_t		 hol_ctl[2][STATS_HOL_BUCKETS];
	uint64_t		 hol_msg_ns[2], hol_ctl_ns[2];
	int			 has_fl;
	struct framelog_live	 fl;
	unsigned		 nroutes;
	struct metrics_route_pub *routes;	/* METRICS_ROUTES_MAX + 1 */
};

/* A route as its worker keeps it. */
struct metrics_route {
	char			*name;
	struct metrics_flow	 ended;		/* tunnels freed */
	struct metrics_flow	 walk;		/* live tunnels, last walk */
	uint64_t		 conns[2][2][METRICS_NSTATES];
};

struct metrics {
	unsigned		 index;		/* the worker's */
	struct metrics_pub	 live;		/* the worker's thread only */
	struct metrics_route	*routes;	/* METRICS_ROUTES_MAX + 1 */
	unsigned		 nroutes;
	unsigned		 last;		/* the route found last */
	pthread_mutex_t		 mu;
	struct metrics_pub	 pub;		/* under mu */
};

struct metrics *
metrics_new(unsigned worker_index)
{
	struct metrics	*m;

	m = xcalloc(1, sizeof *m);
	m->index = worker_index;
	m->routes = xcalloc(METRICS_ROUTES_MAX + 1, sizeof *m->routes);
	m->pub.routes = xcalloc(METRICS_ROUTES_MAX + 1, sizeof *m->pub.routes);
	pthread_mutex_init(&m->mu, NULL);
	return (m);
}

void
metrics_free(struct metrics *m)
{
	unsigned	i;

	if (m == NULL)
		return;
	for (i = 0; i < m->nroutes; i++)
		free(m->routes[i].name);
	free(m->routes);
	free(m->pub.routes);
	pthread_mutex_destroy(&m->mu);
	free(m);
}

/* ---- in the worker's thread ---------------------------------------------- */

void
metrics_handshake(struct metrics *m, int h2, int status)
{
	if (m == NULL || status < METRICS_STATUS_MIN ||
	    status > METRICS_STATUS_MAX)
		return;
	m->live.handshakes[h2 != 0][status - METRICS_STATUS_MIN]++;
}

void
metrics_tls_handshake(struct metrics *m, int ok)
{
	if (m == NULL)
		return;
	if (ok)
		m->live.tls_ok++;
	else
		m->live.tls_failed++;
}

void
metrics_h2_conn(struct metrics *m, int delta)
{
	if (m == NULL)
		return;
	m->live.h2_conns += delta;
	if (delta > 0)
		m->live.h2_conns_total++;
}

void
metrics_h2_stream(struct metrics *m, int delta)
{
	if (m == NULL)
		return;
	m->live.h2_streams += delta;
	if (delta > 0)
		m->live.h2_streams_total++;
}

void
metrics_lag(struct metrics *m, uint64_t lag_ns)
{
	if (m != NULL)
		stats_observe(m->live.lag, &m->live.lag_ns,
		    metrics_lag_bounds, METRICS_LAG_BUCKETS, lag_ns);
}

void
metrics_h2_waits(struct metrics *m, const uint64_t wait_ns[METRICS_NH2_WAITS])
{
	unsigned	k;

	if (m == NULL)
		return;
	for (k = 0; k < METRICS_NH2_WAITS; k++)
		stats_observe(m->live.h2_wait[k], &m->live.h2_wait_ns[k],
		    stats_hol_bounds, STATS_HOL_BUCKETS, wait_ns[k]);
}

/*
 * The route named name: found, added, or past METRICS_ROUTES_MAX the
 * shared last one, so a config with many routes bounds the series.
 */
static struct metrics_route *
metrics_route(struct metrics *m, const char *name)
{
	unsigned	i;

	if (name == NULL)
		name = "";
	if (m->last < m->nroutes && strcmp(m->routes[m->last].name, name) == 0)
		return (&m->routes[m->last]);
	for (i = 0; i < m->nroutes; i++)
		if (strcmp(m->routes[i].name, name) == 0)
			break;
	if (i == m->nroutes) {
		if (m->nroutes == METRICS_ROUTES_MAX + 1)
			i = METRICS_ROUTES_MAX;
		else {
			if (m->nroutes == METRICS_ROUTES_MAX)
				name = OTHER_ROUTE;
			m->routes[i].name = xstrdup(name);
			m->nroutes++;
		}
	}
	m->last = i;
	return (&m->routes[i]);
}

static void
metrics_flow_add(struct metrics_flow *f, const struct metrics_tunnel *t)
{
	int	d;

	if (!t->attached)
		return;
	for (d = 0; d < 2; d++) {
		f->payload[d] += t->payload[d];
		f->msgs[d] += t->msgs[d];
		f->frames[d] += t->frames[d];
	}
	f->opened++;
}

/*
 * Counts n closes of (by, code). Past METRICS_CLOSES_MAX pairs a new code
 * counts as "other" of its by (room for one such pair per by).
 */
static void
metrics_close_add(struct metrics_pub *p, unsigned by, uint16_t code,
    uint64_t n)
{
	unsigned	i;

	for (;;) {
		for (i = 0; i < p->ncloses; i++)
			if (p->closes[i].by == by && p->closes[i].code == code)
				break;
		if (i < p->ncloses || code == CODE_OTHER ||
		    p->ncloses < METRICS_CLOSES_MAX)
			break;
		code = CODE_OTHER;
	}
	if (i == p->ncloses) {
		p->closes[i].by = by;
		p->closes[i].code = code;
		p->closes[i].n = 0;
		p->ncloses++;
	}
	p->closes[i].n += n;
}

void
metrics_tunnel_end(struct metrics *m, const struct metrics_tunnel *t,
    const char *closed_by, uint16_t code_in, uint16_t code_out)
{
	unsigned	by;
	uint16_t	code;

	if (m == NULL || !t->attached)
		return;
	metrics_flow_add(&metrics_route(m, t->route)->ended, t);
	/* Whoever began it, the code that closing side's frame carried. */
	if (closed_by == NULL || strcmp(closed_by, "client") == 0) {
		by = METRICS_BY_CLIENT;
		code = code_in;
	} else {
		by = strcmp(closed_by, "backend") == 0 ? METRICS_BY_BACKEND :
		    METRICS_BY_WSBRIDGE;
		code = code_out;
	}
	metrics_close_add(&m->live, by, code != 0 ? code : CODE_NONE, 1);
}

void
metrics_walk_begin(struct metrics *m)
{
	unsigned	i;

	for (i = 0; i < m->nroutes; i++) {
		memset(&m->routes[i].walk, 0, sizeof m->routes[i].walk);
		memset(m->routes[i].conns, 0, sizeof m->routes[i].conns);
	}
}

void
metrics_walk(struct metrics *m, const struct metrics_tunnel *t)
{
	struct metrics_route	*r = metrics_route(m, t->route);

	r->conns[t->h2 != 0][t->tls != 0][t->state]++;
	metrics_flow_add(&r->walk, t);
}

void
metrics_publish(struct metrics *m, unsigned client_sockets,
    const struct stats_global *g, const struct framelog_live *fl)
{
	struct metrics_pub		*p = &m->pub;
	struct metrics_route_pub	*rp;
	struct metrics_route		*r;
	struct metrics_route_pub	*keep;
	unsigned			 i;
	int				 d;

	m->live.client_sockets = client_sockets;
	if ((m->live.has_stats = g != NULL)) {
		memcpy(m->live.hol_msg, g->hol_msg, sizeof g->hol_msg);
		memcpy(m->live.hol_ctl, g->hol_ctl, sizeof g->hol_ctl);
		memcpy(m->live.hol_msg_ns, g->hol_msg_ns, sizeof g->hol_msg_ns);
		memcpy(m->live.hol_ctl_ns, g->hol_ctl_ns, sizeof g->hol_ctl_ns);
	}
	if ((m->live.has_fl = fl != NULL))
		m->live.fl = *fl;
	pthread_mutex_lock(&m->mu);
	keep = p->routes;
	*p = m->live;
	p->routes = keep;
	p->nroutes = m->nroutes;
	for (i = 0; i < m->nroutes; i++) {
		r = &m->routes[i];
		rp = &p->routes[i];
		rp->name = r->name;
		rp->flow = r->ended;
		for (d = 0; d < 2; d++) {
			rp->flow.payload[d] += r->walk.payload[d];
			rp->flow.msgs[d] += r->walk.msgs[d];
			rp->flow.frames[d] += r->walk.frames[d];
		}
		rp->flow.opened += r->walk.opened;
		memcpy(rp->conns, r->conns, sizeof rp->conns);
	}
	pthread_mutex_unlock(&m->mu);
}

/* ---- a scrape --------------------------------------------------------------- */

/* Adds src (a worker's published copy) into dst, the process's sum. */
static void
metrics_sum(struct metrics_pub *dst, const struct metrics_pub *src)
{
	const struct metrics_route_pub	*s;
	struct metrics_route_pub	*r;
	unsigned			 i, k, h, t, st;
	int				 d;

	for (h = 0; h < 2; h++)
		for (i = 0; i < STATUS_N; i++)
			dst->handshakes[h][i] += src->handshakes[h][i];
	for (i = 0; i < src->ncloses; i++)
		metrics_close_add(dst, src->closes[i].by, src->closes[i].code,
		    src->closes[i].n);
	dst->tls_ok += src->tls_ok;
	dst->tls_failed += src->tls_failed;
	dst->h2_conns_total += src->h2_conns_total;
	dst->h2_streams_total += src->h2_streams_total;
	dst->h2_conns += src->h2_conns;
	dst->h2_streams += src->h2_streams;
	dst->client_sockets += src->client_sockets;
	for (k = 0; k < METRICS_NH2_WAITS; k++) {
		for (i = 0; i < STATS_HOL_BUCKETS; i++)
			dst->h2_wait[k][i] += src->h2_wait[k][i];
		dst->h2_wait_ns[k] += src->h2_wait_ns[k];
	}
	if (src->has_stats) {
		dst->has_stats = 1;
		for (d = 0; d < 2; d++) {
			for (i = 0; i < STATS_HOL_BUCKETS; i++) {
				dst->hol_msg[d][i] += src->hol_msg[d][i];
				dst->hol_ctl[d][i] += src->hol_ctl[d][i];
			}
			dst->hol_msg_ns[d] += src->hol_msg_ns[d];
			dst->hol_ctl_ns[d] += src->hol_ctl_ns[d];
		}
	}
	if (src->has_fl) {
		/* The writer's numbers are the same from every producer. */
		dst->fl.frames_written = src->fl.frames_written;
		dst->fl.sessions_written = src->fl.sessions_written;
		dst->fl.records_lost = src->fl.records_lost;
		dst->fl.errors = src->fl.errors;
		dst->fl.failing = src->fl.failing;
		dst->fl.queue_used += src->fl.queue_used;
		dst->fl.queue_size += src->fl.queue_size;
		dst->fl.frames_dropped += src->fl.frames_dropped;
		dst->has_fl = 1;
	}
	for (i = 0; i < src->nroutes; i++) {
		s = &src->routes[i];
		for (k = 0; k < dst->nroutes; k++)
			if (strcmp(dst->routes[k].name, s->name) == 0)
				break;
		if (k == METRICS_ROUTES_MAX + 1) {
			/* Workers saw different routes: the rest share one. */
			k = METRICS_ROUTES_MAX;
			dst->routes[k].name = OTHER_ROUTE;
		}
		r = &dst->routes[k];
		if (k == dst->nroutes) {
			dst->nroutes++;
			r->name = s->name;
		}
		for (d = 0; d < 2; d++) {
			r->flow.payload[d] += s->flow.payload[d];
			r->flow.msgs[d] += s->flow.msgs[d];
			r->flow.frames[d] += s->flow.frames[d];
		}
		r->flow.opened += s->flow.opened;
		for (h = 0; h < 2; h++)
			for (t = 0; t < 2; t++)
				for (st = 0; st < METRICS_NSTATES; st++)
					r->conns[h][t][st] +=
					    s->conns[h][t][st];
	}
}

/* "# HELP" and "# TYPE" of a metric family. */
static void
metrics_head(struct evbuffer *b, const char *name, const char *type,
    const char *help)
{
	evbuffer_add_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help,
	    name, type);
}

/* A label value, escaped as the exposition format wants. */
static void
metrics_label(struct evbuffer *b, const char *v)
{
	for (; *v != '\0'; v++) {
		if (*v == '\\' || *v == '"')
			evbuffer_add_printf(b, "\\%c", *v);
		else if (*v == '\n')
			evbuffer_add(b, "\\n", 2);
		else
			evbuffer_add(b, v, 1);
	}
}

static double
metrics_secs(uint64_t ns)
{
	return ((double)ns / (double)NS);
}

/*
 * The _bucket, _sum and _count lines of a histogram whose bucket i
 * (not cumulative) counts values up to bounds[i] ns, the last the rest.
 * labels: the series' other labels, "" or 'k="v",'.
 */
static void
metrics_hist(struct evbuffer *b, const char *name, const char *labels,
    const uint64_t *h, const uint64_t *bounds, unsigned nb, uint64_t sum_ns)
{
	uint64_t	cum = 0;
	unsigned	i;

	for (i = 0; i < nb; i++) {
		cum += h[i];
		if (i < nb - 1)
			evbuffer_add_printf(b, "%s_bucket{%sle=\"%g\"} %llu\n",
			    name, labels, metrics_secs(bounds[i]),
			    (unsigned long long)cum);
		else
			evbuffer_add_printf(b, "%s_bucket{%sle=\"+Inf\"} "
			    "%llu\n", name, labels, (unsigned long long)cum);
	}
	/* The labels without their trailing comma, for _sum and _count. */
	evbuffer_add_printf(b, "%s_sum{%.*s} %.9f\n%s_count{%.*s} %llu\n",
	    name, (int)(strlen(labels) > 0 ? strlen(labels) - 1 : 0), labels,
	    metrics_secs(sum_ns), name,
	    (int)(strlen(labels) > 0 ? strlen(labels) - 1 : 0), labels,
	    (unsigned long long)cum);
}

static void
metrics_render_routes(struct evbuffer *b, const struct metrics_pub *p)
{
	static const struct {
		const char	*name, *help;
		size_t		 off;
	} flows[] = {
		{ "wsbridge_payload_bytes_total", "WebSocket message payload "
		    "bytes (inflated when compressed), by direction (in: from "
		    "the client) and route.",
		    offsetof(struct metrics_flow, payload) },
		{ "wsbridge_messages_total", "WebSocket data messages, by "
		    "direction and route.", offsetof(struct metrics_flow, msgs) },
		{ "wsbridge_frames_total", "WebSocket frames (control frames "
		    "included), by direction and route.",
		    offsetof(struct metrics_flow, frames) },
	};
	const struct metrics_route_pub	*r;
	const uint64_t			*v;
	unsigned			 i, f, h, t, st;
	int				 d;

	metrics_head(b, "wsbridge_connections", "gauge", "WebSocket "
	    "connections now, by state, HTTP version (http1, h2), scheme (ws, "
	    "wss) and route.");
	for (i = 0; i < p->nroutes; i++) {
		r = &p->routes[i];
		for (h = 0; h < 2; h++)
		for (t = 0; t < 2; t++)
		for (st = 0; st < METRICS_NSTATES; st++) {
			/* Open ones always, so a query sees the route's 0. */
			if (r->conns[h][t][st] == 0 && st != METRICS_OPEN)
				continue;
			evbuffer_add_printf(b, "wsbridge_connections{state=\"%s\""
			    ",protocol=\"%s\",scheme=\"%s\",route=\"",
			    metrics_state_names[st], h ? "h2" : "http1",
			    t ? "wss" : "ws");
			metrics_label(b, r->name);
			evbuffer_add_printf(b, "\"} %llu\n",
			    (unsigned long long)r->conns[h][t][st]);
		}
	}
	metrics_head(b, "wsbridge_connections_opened_total", "counter",
	    "WebSocket connections that were answered 101 (HTTP/1.1) or 200 "
	    "(HTTP/2), by route.");
	for (i = 0; i < p->nroutes; i++) {
		evbuffer_add_printf(b,
		    "wsbridge_connections_opened_total{route=\"");
		metrics_label(b, p->routes[i].name);
		evbuffer_add_printf(b, "\"} %llu\n",
		    (unsigned long long)p->routes[i].flow.opened);
	}
	for (f = 0; f < nitems(flows); f++) {
		metrics_head(b, flows[f].name, "counter", flows[f].help);
		for (i = 0; i < p->nroutes; i++) {
			r = &p->routes[i];
			v = (const uint64_t *)(const void *)
			    ((const char *)&r->flow + flows[f].off);
			for (d = 0; d < 2; d++) {
				evbuffer_add_printf(b, "%s{direction=\"%s\","
				    "route=\"", flows[f].name,
				    metrics_dir_names[d]);
				metrics_label(b, r->name);
				evbuffer_add_printf(b, "\"} %llu\n",
				    (unsigned long long)v[d]);
			}
		}
	}
}

static void
metrics_render_framelog(struct evbuffer *b, const struct framelog_live *fl)
{
	metrics_head(b, "wsbridge_framelog_queue_records", "gauge",
	    "Records waiting in the frame log's queues for its writer.");
	evbuffer_add_printf(b, "wsbridge_framelog_queue_records %llu\n",
	    (unsigned long long)fl->queue_used);
	metrics_head(b, "wsbridge_framelog_queue_capacity_records", "gauge",
	    "Records the frame log's queues hold at most.");
	evbuffer_add_printf(b, "wsbridge_framelog_queue_capacity_records "
	    "%llu\n", (unsigned long long)fl->queue_size);
	metrics_head(b, "wsbridge_framelog_rows_written_total", "counter",
	    "Rows the frame log wrote to its database, by table.");
	evbuffer_add_printf(b, "wsbridge_framelog_rows_written_total"
	    "{table=\"frames\"} %llu\n"
	    "wsbridge_framelog_rows_written_total{table=\"sessions\"} %llu\n",
	    (unsigned long long)fl->frames_written,
	    (unsigned long long)fl->sessions_written);
	metrics_head(b, "wsbridge_framelog_frames_dropped_total", "counter",
	    "Frames not logged because the queue was full (log-overflow "
	    "drop).");
	evbuffer_add_printf(b, "wsbridge_framelog_frames_dropped_total %llu\n",
	    (unsigned long long)fl->frames_dropped);
	metrics_head(b, "wsbridge_framelog_records_lost_total", "counter",
	    "Records the writer could not store (the database failing).");
	evbuffer_add_printf(b, "wsbridge_framelog_records_lost_total %llu\n",
	    (unsigned long long)fl->records_lost);
	metrics_head(b, "wsbridge_framelog_errors_total", "counter",
	    "Database errors the frame log's writer met.");
	evbuffer_add_printf(b, "wsbridge_framelog_errors_total %llu\n",
	    (unsigned long long)fl->errors);
	metrics_head(b, "wsbridge_framelog_failing", "gauge",
	    "1 while the frame log's database is failing, else 0.");
	evbuffer_add_printf(b, "wsbridge_framelog_failing %d\n",
	    fl->failing ? 1 : 0);
}

static void
metrics_render_h2_waits(struct evbuffer *b, const struct metrics_pub *p)
{
	static const char	 name[] = "wsbridge_h2_flow_wait_seconds";
	static const char *const waits[METRICS_NH2_WAITS] = {
		"send_stream_window", "send_connection_window", "receive_full",
	};
	char			 labels[64];
	unsigned		 k;

	metrics_head(b, name, "histogram", "Each ended WebSocket stream over "
	    "HTTP/2, how long over its life it waited on flow control: "
	    "send_stream_window, DATA for the client queued while its stream "
	    "window was shut; send_connection_window, while the connection "
	    "window was (other streams used it: head-of-line across streams); "
	    "receive_full, its receive window full because its backend was "
	    "slow.");
	for (k = 0; k < METRICS_NH2_WAITS; k++) {
		snprintf(labels, sizeof labels, "wait=\"%s\",", waits[k]);
		metrics_hist(b, name, labels, p->h2_wait[k], stats_hol_bounds,
		    STATS_HOL_BUCKETS, p->h2_wait_ns[k]);
	}
}

static void
metrics_render_hol(struct evbuffer *b, const struct metrics_pub *p)
{
	static const char	 name[] = "wsbridge_hol_stall_seconds";
	char			 labels[64];
	int			 d;

	metrics_head(b, name, "histogram", "Head-of-line waits inside "
	    "wsbridge, by direction: kind message, what a message waited "
	    "behind the one before it; kind control, a control frame's wait "
	    "to be written. Kept while live stats are (a control socket).");
	for (d = 0; d < 2; d++) {
		snprintf(labels, sizeof labels, "direction=\"%s\","
		    "kind=\"message\",", metrics_dir_names[d]);
		metrics_hist(b, name, labels, p->hol_msg[d], stats_hol_bounds,
		    STATS_HOL_BUCKETS, p->hol_msg_ns[d]);
		snprintf(labels, sizeof labels, "direction=\"%s\","
		    "kind=\"control\",", metrics_dir_names[d]);
		metrics_hist(b, name, labels, p->hol_ctl[d], stats_hol_bounds,
		    STATS_HOL_BUCKETS, p->hol_ctl_ns[d]);
	}
}

void
metrics_render(struct evbuffer *b, struct metrics *const *ms, unsigned n,
    const struct metrics_process *proc)
{
	struct metrics_pub	 sum;
	uint64_t		(*lag)[METRICS_LAG_BUCKETS], *lag_ns;
	char			 labels[32];
	unsigned		 i, h, k;

	memset(&sum, 0, sizeof sum);
	sum.routes = xcalloc(METRICS_ROUTES_MAX + 1, sizeof *sum.routes);
	lag = xcalloc(n, sizeof *lag);
	lag_ns = xcalloc(n, sizeof *lag_ns);
	for (i = 0; i < n; i++) {
		pthread_mutex_lock(&ms[i]->mu);
		metrics_sum(&sum, &ms[i]->pub);
		memcpy(lag[i], ms[i]->pub.lag, sizeof lag[i]);
		lag_ns[i] = ms[i]->pub.lag_ns;
		pthread_mutex_unlock(&ms[i]->mu);
	}

	metrics_head(b, "wsbridge_build_info", "gauge",
	    "Always 1; the version in its label.");
	evbuffer_add_printf(b, "wsbridge_build_info{version=\"%s\"} 1\n",
	    PACKAGE_VERSION);
	metrics_head(b, "process_start_time_seconds", "gauge",
	    "When the process started, in seconds since the epoch.");
	evbuffer_add_printf(b, "process_start_time_seconds %.3f\n",
	    metrics_secs(proc->start_wall_ns));
	metrics_head(b, "process_cpu_seconds_total", "counter",
	    "User and system CPU time the process used.");
	evbuffer_add_printf(b, "process_cpu_seconds_total %.3f\n",
	    metrics_secs(proc->cpu_ns));
	if (proc->rss_bytes != 0) {
		metrics_head(b, "process_resident_memory_bytes", "gauge",
		    "Resident memory of the process.");
		evbuffer_add_printf(b, "process_resident_memory_bytes %llu\n",
		    (unsigned long long)proc->rss_bytes);
	}
	metrics_head(b, "wsbridge_workers", "gauge",
	    "Event loops (threads) serving connections.");
	evbuffer_add_printf(b, "wsbridge_workers %u\n", proc->workers);
	metrics_head(b, "wsbridge_draining", "gauge",
	    "1 once shutdown began (listeners closed, tunnels draining).");
	evbuffer_add_printf(b, "wsbridge_draining %d\n", proc->draining);
	metrics_head(b, "wsbridge_ready", "gauge",
	    "1 when /readyz answers 200, else 0.");
	evbuffer_add_printf(b, "wsbridge_ready %d\n", proc->ready);

	metrics_head(b, "wsbridge_client_sockets", "gauge", "Client TCP "
	    "connections now: HTTP/1.1 ones before and after their upgrade, "
	    "HTTP/2 ones.");
	evbuffer_add_printf(b, "wsbridge_client_sockets %u\n",
	    sum.client_sockets);
	metrics_render_routes(b, &sum);

	metrics_head(b, "wsbridge_handshakes_total", "counter", "WebSocket "
	    "handshakes answered, by HTTP version and status code (101 and "
	    "200 opened one).");
	for (h = 0; h < 2; h++)
		for (k = 0; k < STATUS_N; k++)
			if (sum.handshakes[h][k] != 0)
				evbuffer_add_printf(b, "wsbridge_handshakes_total"
				    "{protocol=\"%s\",code=\"%u\"} %llu\n",
				    h ? "h2" : "http1",
				    k + METRICS_STATUS_MIN, (unsigned long long)
				    sum.handshakes[h][k]);
	metrics_head(b, "wsbridge_closes_total", "counter", "WebSocket "
	    "connections ended, by who began the close (client, backend, "
	    "wsbridge) and the close code that side's frame carried (1006: "
	    "none).");
	for (k = 0; k < sum.ncloses; k++) {
		if (sum.closes[k].code == CODE_OTHER)
			snprintf(labels, sizeof labels, "other");
		else
			snprintf(labels, sizeof labels, "%u",
			    sum.closes[k].code);
		evbuffer_add_printf(b, "wsbridge_closes_total{by=\"%s\","
		    "code=\"%s\"} %llu\n", metrics_by_names[sum.closes[k].by],
		    labels, (unsigned long long)sum.closes[k].n);
	}

	metrics_head(b, "wsbridge_tls_handshakes_total", "counter",
	    "TLS handshakes with clients that completed.");
	evbuffer_add_printf(b, "wsbridge_tls_handshakes_total %llu\n",
	    (unsigned long long)sum.tls_ok);
	metrics_head(b, "wsbridge_tls_handshake_failures_total", "counter",
	    "TLS handshakes with clients that failed (or the client left).");
	evbuffer_add_printf(b, "wsbridge_tls_handshake_failures_total %llu\n",
	    (unsigned long long)sum.tls_failed);

	metrics_head(b, "wsbridge_h2_connections", "gauge",
	    "HTTP/2 client connections now.");
	evbuffer_add_printf(b, "wsbridge_h2_connections %lld\n",
	    (long long)sum.h2_conns);
	metrics_head(b, "wsbridge_h2_connections_total", "counter",
	    "HTTP/2 client connections accepted.");
	evbuffer_add_printf(b, "wsbridge_h2_connections_total %llu\n",
	    (unsigned long long)sum.h2_conns_total);
	metrics_head(b, "wsbridge_h2_streams", "gauge",
	    "HTTP/2 request streams now (extended CONNECT and refused ones "
	    "not yet closed).");
	evbuffer_add_printf(b, "wsbridge_h2_streams %lld\n",
	    (long long)sum.h2_streams);
	metrics_head(b, "wsbridge_h2_streams_total", "counter",
	    "HTTP/2 request streams clients opened.");
	evbuffer_add_printf(b, "wsbridge_h2_streams_total %llu\n",
	    (unsigned long long)sum.h2_streams_total);
	metrics_render_h2_waits(b, &sum);

	if (sum.has_stats)
		metrics_render_hol(b, &sum);
	if (sum.has_fl)
		metrics_render_framelog(b, &sum.fl);

	metrics_head(b, "wsbridge_worker_loop_lag_seconds", "histogram",
	    "How late each worker's event loop ran a periodic timer: the "
	    "time the loop was busy with other work.");
	for (i = 0; i < n; i++) {
		snprintf(labels, sizeof labels, "worker=\"%u\",", i);
		metrics_hist(b, "wsbridge_worker_loop_lag_seconds", labels,
		    lag[i], metrics_lag_bounds, METRICS_LAG_BUCKETS, lag_ns[i]);
	}
	free(lag_ns);
	free(lag);
	free(sum.routes);
}
