/*
 * control.c -- the control socket server (see control.h and
 * docs/dashboard.md for the protocol). JSON is built and parsed with
 * jansson; each client is a bufferevent whose output we bound.
 *
 * It runs on the first worker's loop, in the main thread. What a worker
 * owns (its tunnels and stats) is read in that worker's thread: a request
 * is posted to each worker concerned (worker_post), each builds its part
 * of the answer on its own loop and posts it back, and the last part to
 * arrive completes the answer; nobody waits for another thread. A client's
 * next request is read once its answer is out, so answers keep the order
 * of requests. Events of other workers come as finished lines through a
 * queue, in the order each worker made them.
 */
#include "wsb_autoconf.h"

#include <sys/ioctl.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#if defined(__linux__)
#include <linux/sockios.h>
#endif

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>

#include <jansson.h>

#include "config.h"
#include "conn_facts.h"
#include "control.h"
#include "ctl_proto.h"
#include "framelog.h"
#include "listener.h"
#include "log.h"
#include "stats.h"
#include "tunnel.h"
#include "util.h"
#include "worker.h"
#include "ws_conn.h"
#include "ws_frame.h"

struct ctl_client {
	TAILQ_ENTRY(ctl_client)	 entry;
	struct control		*ctl;
	struct bufferevent	*bev;
	uint64_t		 id;
	int			 closing;	/* flush, then free */

	/* Subscription. */
	struct event		*ev_snap;
	unsigned		 snap_ms;	/* 0: no snapshots */
	int			 snap_conns;	/* with per-connection rows */
	uint64_t		*sent_max_id;	/* static facts sent up to this id,
					   by worker */
	int			 ev_open, ev_close, ev_frames;
	uint64_t		 frames_conn;	/* 0: every connection */
	unsigned		 frames_per_sec;
	uint64_t		 frames_sec;	/* the second being counted */
	unsigned		 frames_in_sec;
	uint64_t		 dropped_events, dropped_snapshots;
	uint64_t		 reported_drops;

	int			 dead;		/* freed on the next loop pass */
	struct event		*ev_free;

	/* Stall detection. */
	struct event		*ev_stall;
	uint64_t		 last_drain;	/* output last shrank (ns) */

	/* The answer being built; requests wait meanwhile. */
	struct ctl_ask		*ask;
	int			 snap_due;	/* a snapshot's time came meanwhile */
	struct event		*ev_resume;	/* reads the waiting requests */
};

/* An event of another worker's connection, on its way to the main thread. */
struct ctl_event {
	STAILQ_ENTRY(ctl_event)	 entry;
	int			 kind;		/* CTL_EV_* */
	uint64_t		 id, sec;	/* connection; frame: its second */
	char			*line;
};

enum { CTL_EV_OPEN, CTL_EV_CLOSE, CTL_EV_FRAME };

#define CTL_INBOX_MAX	8192	/* events queued by other workers */
#define CTL_REFUSED_LOG_NS	(10 * 1000000000ULL)	/* refusals: a line */

#define ALOAD(p)	__atomic_load_n((p), __ATOMIC_RELAXED)
#define AADD(p, v)	__atomic_add_fetch((p), (v), __ATOMIC_RELAXED)
#define ASUB(p, v)	__atomic_sub_fetch((p), (v), __ATOMIC_RELAXED)

#define CTL_EXTRA_MAX	4	/* sockets an upgrade hands over besides */

struct control {
	struct worker		*home;		/* the first worker: our loop */
	struct worker_hooks	 hooks;		/* what the workers tell us */
	pthread_t		 thread;	/* the main thread */
	char			*path;
	struct evconnlistener	*evl;
	struct event		*ev_tick;
	TAILQ_HEAD(, ctl_client) clients;
	unsigned		 nclients;
	uint64_t		 clients_refused;	/* control-max-clients */
	uint64_t		 clients_cut;	/* over control-client-buffer */
	uint64_t		 refused_log_ns;	/* when last logged */
	unsigned		 nframe_subs;	/* atomic: clients wanting frames */
	unsigned		 nconn_subs;	/* atomic: clients wanting open/close */
	uint64_t		 next_id;

	/* Events from other workers, under inbox_mu. */
	pthread_mutex_t		 inbox_mu;
	STAILQ_HEAD(, ctl_event) inbox;
	unsigned		 ninbox;
	uint64_t		 inbox_dropped;	/* queue full */
	struct event		*ev_inbox;

	/* Upgrade: the new wsbridge's client, once it took the sockets. */
	struct ctl_client	*upgrader;
	int			 handed_over;	/* it is ready: ours is its */
	int			 keep_file;	/* not ours to remove (yet) */
	struct {
		const char	*name;
		int		 fd;
		void		(*stop)(void *);
		void		*arg;
	}			 extra[CTL_EXTRA_MAX];	/* handed over too */
	unsigned		 nextra;
};

/* What a request asks the workers for. */
enum ctl_ask_kind {
	CTL_ASK_STATS = 0,	/* global numbers */
	CTL_ASK_SNAPSHOT,	/* global numbers, rows when asked */
	CTL_ASK_LIST,		/* every connection by name */
	CTL_ASK_CONN,		/* one connection in detail: one worker */
};

/*
 * One worker's part of an answer. Built in the worker's thread from what
 * the ask says (which nobody changes meanwhile), then posted back: the
 * control thread reads it only once the worker is done with it.
 */
struct ctl_part {
	struct ctl_ask		*ask;
	uint64_t		 sent;		/* facts sent up to this id: in
						   (the client's), out (new) */
	struct stats_global	 g;		/* the worker's numbers */
	struct framelog_live	 fl;
	int			 has_fl;
	unsigned		 nconns;
	json_t			*fresh;		/* snapshot */
	json_t			*list;		/* list */
	json_t			*conn;		/* conn: NULL if not there */
	/*
	 * The arrays above as JSON text without their brackets ("" when
	 * empty), made in the worker's thread: snapshot new and conns, list
	 * conns. The control thread only splices them into the answer.
	 */
	char			*text[2];
};

/* A request being answered: one part per worker. */
struct ctl_ask {
	struct control		*ctl;
	struct ctl_client	*cl;		/* NULL once the client is gone */
	enum ctl_ask_kind	 kind;
	json_t			*req_id;	/* a reference, or NULL */
	int			 rows;		/* snapshot: with rows */
	uint64_t		 now;
	uint64_t		 conn_id;	/* conn */
	unsigned		 pending;	/* parts not back yet */
	unsigned		 n;
	struct ctl_part		 parts[];
};

static void	ctl_client_kill(struct ctl_client *);
static void	ctl_ask(struct ctl_client *, enum ctl_ask_kind, json_t *,
		    uint64_t);
static void	ctl_part_done(struct worker *, void *);

/* The per-connection snapshot row, in this order ("cols"). */
static const char *const ctl_cols[CTL_PROTO_NCOLS] = { CTL_PROTO_COLS };

/* ---- output ---------------------------------------------------------------- */

static size_t
ctl_unread(const struct ctl_client *cl)
{
	return (evbuffer_get_length(bufferevent_get_output(cl->bev)));
}

/*
 * Whether n more bytes may be queued for cl. Past its budget
 * (control-client-buffer) the client is cut, counted and logged: a client
 * that asks and never reads would otherwise hold our memory. A client
 * that has read everything still gets an answer larger than the budget
 * (a list of many connections): what it holds stays under the larger of
 * the two.
 */
static int
ctl_fits(struct ctl_client *cl, size_t n)
{
	struct control	*ctl = cl->ctl;
	size_t		 budget = ctl->home->cfg->control_client_buffer;

	if (ctl_unread(cl) == 0 || ctl_unread(cl) + n <= budget)
		return (1);
	ctl->clients_cut++;
	log_warn("control client %llu: %zu bytes unread and %zu more would "
	    "pass its budget of %zu (control-client-buffer); disconnecting",
	    (unsigned long long)cl->id, ctl_unread(cl), n, budget);
	ctl_client_kill(cl);
	return (0);
}

/* Writes s as one line. Past the client's budget: disconnects. */
static void
ctl_send_line(struct ctl_client *cl, const char *s)
{
	if (cl->closing || cl->dead || !ctl_fits(cl, strlen(s)))
		return;
	evbuffer_add(bufferevent_get_output(cl->bev), s, strlen(s));
	evbuffer_add(bufferevent_get_output(cl->bev), "\n", 1);
}

/* Writes obj (taken) as one line. */
static void
ctl_send(struct ctl_client *cl, json_t *obj)
{
	char	*s;

	if (cl->closing || cl->dead) {
		json_decref(obj);
		return;
	}
	s = json_dumps(obj, JSON_COMPACT);
	json_decref(obj);
	if (s == NULL)
		return;
	ctl_send_line(cl, s);
	free(s);
}

/*
 * Writes obj (taken) as one line whose last members are arrays spliced
 * from the parts of a: names[k] gets every part's text[k], in worker order.
 */
static void
ctl_send_spliced(struct ctl_client *cl, json_t *obj, const struct ctl_ask *a,
    const char *const *names, size_t nnames)
{
	struct evbuffer	*b;
	const char	*t;
	char		*s;
	size_t		 k;
	unsigned	 i;
	int		 first;

	s = json_dumps(obj, JSON_COMPACT);
	json_decref(obj);
	if (s == NULL || cl->closing || cl->dead) {
		free(s);
		return;
	}
	b = evbuffer_new();
	evbuffer_add(b, s, strlen(s) - 1);	/* without its closing '}' */
	free(s);
	for (k = 0; k < nnames; k++) {
		evbuffer_add_printf(b, ",\"%s\":[", names[k]);
		first = 1;
		for (i = 0; i < a->n; i++) {
			if ((t = a->parts[i].text[k]) == NULL || *t == '\0')
				continue;
			if (!first)
				evbuffer_add(b, ",", 1);
			evbuffer_add(b, t, strlen(t));
			first = 0;
		}
		evbuffer_add(b, "]", 1);
	}
	evbuffer_add(b, "}\n", 2);
	if (ctl_fits(cl, evbuffer_get_length(b)))
		evbuffer_add_buffer(bufferevent_get_output(cl->bev), b);
	evbuffer_free(b);
}

/* An array's elements as JSON text (a taken; "" when empty): its thread. */
static char *
ctl_array_text(json_t *a)
{
	char	*s;
	size_t	 len;

	s = json_dumps(a, JSON_COMPACT);
	json_decref(a);
	if (s == NULL || (len = strlen(s)) < 2) {
		free(s);
		return (xstrdup(""));
	}
	memmove(s, s + 1, len - 2);	/* "[x,y]" -> "x,y" */
	s[len - 2] = '\0';
	return (s);
}

static json_t *
ctl_reply(const char *type, json_t *req_id)
{
	json_t	*o = json_object();

	json_object_set_new(o, "type", json_string(type));
	if (req_id != NULL)
		json_object_set(o, "req", req_id);
	return (o);
}

static void
ctl_error(struct ctl_client *cl, json_t *req_id, const char *code,
    const char *msg)
{
	json_t	*o = ctl_reply("error", req_id);

	json_object_set_new(o, "code", json_string(code));
	json_object_set_new(o, "message", json_string(msg));
	ctl_send(cl, o);
}

static json_t *
jstr(const char *s)
{
	return (s != NULL ? json_string(s) : json_null());
}

static json_t *
jint(uint64_t v)
{
	return (json_integer((json_int_t)v));
}

static json_t *
jhist(const uint32_t *h)
{
	json_t	*a = json_array();
	int	 i;

	for (i = 0; i < STATS_HIST; i++)
		json_array_append_new(a, jint(h[i]));
	return (a);
}

/* ---- snapshots ------------------------------------------------------------- */

/* Bytes the kernel still holds for the client socket, 0 when unknown. */
static uint64_t
ctl_kernel_queue(int fd)
{
#ifdef SIOCOUTQ
	int	n = 0;

	if (fd != -1 && ioctl(fd, SIOCOUTQ, &n) == 0 && n > 0)
		return ((uint64_t)n);
#endif
	return (0);
}

/* The worker a connection lives on (worker_next_id). */
static unsigned
ctl_worker_of(const struct control *ctl, uint64_t id)
{
	return (worker_of_id(ctl->home, id));
}

/*
 * The facts a connection object shows, a line per key: what it holds and
 * where in struct conn_facts. A new fact is a line here.
 */
enum ctl_fact_kind {
	CF_STR = 0,	/* const char *, null when NULL */
	CF_ADDR,	/* sockaddr_storage, as conn_addr_str() */
	CF_SET,		/* const char *: whether it is set */
	CF_INT,		/* int64_t */
};

#define CTL_FACT(k, kind, f)	{ k, kind, offsetof(struct conn_facts, f) }

static const struct ctl_fact {
	const char		*key;
	enum ctl_fact_kind	 kind;
	size_t			 off;
} ctl_facts[] = {
	CTL_FACT("peer", CF_ADDR, peer),
	CTL_FACT("path", CF_STR, path),
	CTL_FACT("query", CF_STR, query),
	CTL_FACT("route", CF_STR, route),
	CTL_FACT("backend", CF_STR, backend),
	CTL_FACT("proto", CF_STR, proto),
	CTL_FACT("tls", CF_SET, tls_version),
	CTL_FACT("tls_version", CF_STR, tls_version),
	CTL_FACT("tls_cipher", CF_STR, tls_cipher),
	CTL_FACT("alpn", CF_STR, alpn),
	CTL_FACT("sni", CF_STR, sni),
	CTL_FACT("tls_client_cn", CF_STR, tls_client_cn),
	CTL_FACT("http_version", CF_STR, http_version),
	CTL_FACT("h2_stream", CF_INT, h2_stream_id),
	CTL_FACT("host", CF_STR, host),
	CTL_FACT("origin", CF_STR, origin),
	CTL_FACT("user_agent", CF_STR, user_agent),
	CTL_FACT("subprotocol", CF_STR, subprotocol),
	CTL_FACT("protocols", CF_STR, protocols),
	CTL_FACT("extensions", CF_STR, extensions),
	CTL_FACT("backend_local", CF_ADDR, backend_local),
	CTL_FACT("via", CF_ADDR, via),
};

static json_t *
ctl_fact_json(const struct conn_facts *f, const struct ctl_fact *cf)
{
	const void	*p = (const char *)f + cf->off;
	char		 buf[CONN_ADDRSTRLEN];

	switch (cf->kind) {
	case CF_STR:
		return (jstr(*(const char *const *)p));
	case CF_ADDR:
		return (jstr(conn_addr_str(p, buf, sizeof buf)));
	case CF_SET:
		return (json_boolean(*(const char *const *)p != NULL));
	case CF_INT:
		return (jint((uint64_t)*(const int64_t *)p));
	}
	return (json_null());
}

/* Everything known of a tunnel that does not change. */
static json_t *
ctl_conn_static(const struct control *ctl, const struct tunnel_info *ti)
{
	json_t	*o = json_object();
	size_t	 i;

	json_object_set_new(o, "id", jint(ti->id));
	json_object_set_new(o, "worker", jint(ctl_worker_of(ctl, ti->id)));
	for (i = 0; i < nitems(ctl_facts); i++)
		json_object_set_new(o, ctl_facts[i].key,
		    ctl_fact_json(ti->facts, &ctl_facts[i]));
	json_object_set_new(o, "t_start", jint(ti->t_start_wall));
	return (o);
}

/* The numbers of ctl_cols for one tunnel. */
static void
ctl_conn_numbers(const struct tunnel_info *ti, uint64_t now, uint64_t *v)
{
	const struct stats_conn	*st = ti->st;
	const struct stats_q	*qo = &st->q[STATS_OUT], *qi = &st->q[STATS_IN];
	const struct ws_counters *c = ti->c;
	static const struct ws_counters none;
	struct stats_rates	 r;
	uint64_t		 size, sent;
	int			 complete, i = 0;

	stats_secs_rates(&st->secs, now, 2, &r);
	v[i++] = ti->id;
	v[i++] = 0;			/* state: filled as a string */
	v[i++] = st->bytes[STATS_IN];
	v[i++] = st->bytes[STATS_OUT];
	v[i++] = st->msgs[STATS_IN];
	v[i++] = st->msgs[STATS_OUT];
	v[i++] = MAX(st->largest[STATS_IN], ti->rx_msg ? ti->rx_received : 0);
	v[i++] = st->largest[STATS_OUT];
	v[i++] = (uint64_t)r.bytes[STATS_IN];
	v[i++] = (uint64_t)r.bytes[STATS_OUT];
	v[i++] = (uint64_t)(r.msgs[STATS_IN] * 1000);	/* milli-msgs/s */
	v[i++] = (uint64_t)(r.msgs[STATS_OUT] * 1000);
	v[i++] = ti->q_client_out + ti->q_backend_in;
	v[i++] = ctl_kernel_queue(ti->fd);
	v[i++] = ti->q_backend_out + ti->q_client_in;
	v[i++] = stats_q_age(qo, now);
	v[i++] = stats_q_age(qi, now);
	/* The worst wait so far, the one still going on included. */
	v[i++] = MAX(MAX(qo->max_wait, qi->max_wait), MAX(stats_q_age(qo, now),
	    stats_q_age(qi, now)));
	v[i++] = stats_q_ctl_age(qo, now, NULL);
	v[i++] = qo->ctl_max;
	v[i++] = stats_q_inflight(qo, &size, &sent, &complete);
	v[i++] = size;
	v[i++] = sent;
	v[i++] = (uint64_t)complete;
	if (ti->h2)
		v[i++] = ti->fc.out_stream_wait_ns + ti->fc.out_conn_wait_ns;
	else
		v[i++] = 0;
	v[i++] = MAX(qo->xfer_max, qi->xfer_max);
	v[i++] = MAX(qo->delay_max, qi->delay_max);
	if (qi->max_wait > qo->max_wait) {
		v[i++] = qi->max_wait_msg;
		v[i++] = qi->max_wait_size;
	} else {
		v[i++] = qo->max_wait_msg;
		v[i++] = qo->max_wait_size;
	}
	if (c == NULL)
		c = &none;
	v[i++] = c->wire_in;
	v[i++] = c->wire_out;
	v[i++] = c->payload_in;
	v[i++] = c->payload_out;
	v[i++] = c->zmsgs_in;
	v[i++] = c->zmsgs_out;
	v[i++] = ctl_proto_zratio(c->payload_in, c->wire_in, c->zmsgs_in);
	v[i++] = ctl_proto_zratio(c->payload_out, c->wire_out, c->zmsgs_out);
	v[i++] = ctl_proto_zratio(c->payload_in + c->payload_out,
	    c->wire_in + c->wire_out, c->zmsgs_in + c->zmsgs_out);
	assert(i == (int)nitems(ctl_cols));
}

/*
 * Writes v as a JSON integer (as jint() would: a json_int_t) at p, which
 * has room for 20 characters; returns the end.
 */
static char *
ctl_put_int(char *p, uint64_t v)
{
	char		 tmp[20];
	uint64_t	 u = v;
	int		 n = 0;

	if ((json_int_t)v < 0) {
		*p++ = '-';
		u = -(uint64_t)v;
	}
	do {
		tmp[n++] = (char)('0' + u % 10);
		u /= 10;
	} while (u > 0);
	while (n > 0)
		*p++ = tmp[--n];
	return (p);
}

/*
 * Appends one connection's row (ctl_cols) to b as JSON text. Written by
 * hand rather than built and dumped with jansson: a row is some forty
 * numbers and a state name, and json_dumps() formats each number with
 * snprintf -- about 40,000 instructions a row, which at a thousand
 * connections cost the worker more each second than the messages the
 * rows describe. The state is one of ws_state_str()'s or
 * tunnel_state_str()'s names (letters only); a character JSON would
 * escape becomes '_' all the same.
 */
static void
ctl_conn_row(struct evbuffer *b, const struct tunnel_info *ti, uint64_t now)
{
	uint64_t	 v[nitems(ctl_cols)];
	char		 row[nitems(ctl_cols) * 21 + 64], *p = row;
	const char	*st = ti->ws_state != NULL ? ti->ws_state : ti->state;
	size_t		 i;

	ctl_conn_numbers(ti, now, v);
	*p++ = '[';
	for (i = 0; i < nitems(ctl_cols); i++) {
		if (i > 0)
			*p++ = ',';
		if (i != 1) {
			p = ctl_put_int(p, v[i]);
			continue;
		}
		*p++ = '"';
		for (; st != NULL && *st != '\0' && p < row + sizeof row - 24;
		    st++) {
			if (*st == '"' || *st == '\\' ||
			    (unsigned char)*st < 0x20)
				*p++ = '_';
			else
				*p++ = *st;
		}
		*p++ = '"';
	}
	*p++ = ']';
	if (evbuffer_get_length(b) > 0)
		evbuffer_add(b, ",", 1);
	evbuffer_add(b, row, (size_t)(p - row));
}

/* The text of b, NUL-terminated ("" when empty); b is freed. */
static char *
ctl_buffer_text(struct evbuffer *b)
{
	size_t	 n = evbuffer_get_length(b);
	char	*s = xmalloc(n + 1);

	evbuffer_remove(b, s, n);
	s[n] = '\0';
	evbuffer_free(b);
	return (s);
}

/* Static and dynamic fields by name (wsbridge ctl list). */
static json_t *
ctl_conn_object(const struct control *ctl, const struct tunnel_info *ti,
    uint64_t now)
{
	uint64_t	 v[nitems(ctl_cols)];
	json_t		*o = ctl_conn_static(ctl, ti);
	size_t		 i;

	ctl_conn_numbers(ti, now, v);
	for (i = 1; i < nitems(ctl_cols); i++) {
		if (i == 1)
			json_object_set_new(o, "state", jstr(ti->ws_state !=
			    NULL ? ti->ws_state : ti->state));
		else
			json_object_set_new(o, ctl_cols[i], jint(v[i]));
	}
	json_object_set_new(o, "age_ns", jint(now - ti->t_start));
	return (o);
}

static json_t *
ctl_rates(const struct stats_rates *r)
{
	json_t	*o = json_object();

	json_object_set_new(o, "bytes_in", json_real(r->bytes[STATS_IN]));
	json_object_set_new(o, "bytes_out", json_real(r->bytes[STATS_OUT]));
	json_object_set_new(o, "msgs_in", json_real(r->msgs[STATS_IN]));
	json_object_set_new(o, "msgs_out", json_real(r->msgs[STATS_OUT]));
	return (o);
}

/* A worker's global numbers and connection count (its thread). */
static void
ctl_w_global(struct worker *w, struct ctl_part *p)
{
	stats_global_tick(w->stats, p->ask->now);
	p->g = *w->stats;
	p->nconns = w->nconns;
	if (w->flog != NULL) {
		framelog_live(w->flog, &p->fl);
		p->has_fl = 1;
	}
}

/* The global object from the workers' parts of a. */
static json_t *
ctl_global(struct control *ctl, struct ctl_client *cl,
    const struct ctl_ask *a)
{
	const struct ctl_part	*p;
	struct stats_global	 gs, *g = &gs;
	struct stats_rates	 r;
	struct framelog_live	 fl, pfl;
	json_t			*o = json_object(), *x;
	static const unsigned	 windows[] = { 2, 10, 40 };
	uint64_t		 now = a->now;
	unsigned		 nconns = 0;
	char			 key[8];
	size_t			 i;

	stats_global_init(g, now);
	memset(&fl, 0, sizeof fl);
	for (i = 0; i < a->n; i++) {
		p = &a->parts[i];
		stats_global_add(g, &p->g, now);
		nconns += p->nconns;
		if (!p->has_fl)
			continue;
		/* The writer's numbers are the same from every producer. */
		pfl = p->fl;
		pfl.queue_used += fl.queue_used;
		pfl.queue_size += fl.queue_size;
		pfl.queue_max = MAX(pfl.queue_max, fl.queue_max);
		pfl.frames_dropped += fl.frames_dropped;
		fl = pfl;
	}
	g->t_start = a->parts[0].g.t_start;
	json_object_set_new(o, "t", jint(wall_ns()));
	json_object_set_new(o, "uptime_ns", jint(now - g->t_start));
	json_object_set_new(o, "pid", jint((uint64_t)getpid()));
	json_object_set_new(o, "conns_total", jint(g->conns_total));
	x = json_object();
	json_object_set_new(x, "h1_ws", jint(g->open_h1_ws));
	json_object_set_new(x, "h1_wss", jint(g->open_h1_wss));
	json_object_set_new(x, "h2_ws", jint(g->open_h2_ws));
	json_object_set_new(x, "h2_wss", jint(g->open_h2_wss));
	json_object_set_new(o, "open", x);
	json_object_set_new(o, "connections", jint(nconns));
	json_object_set_new(o, "workers", jint(worker_count(ctl->home)));
	json_object_set_new(o, "bytes_in", jint(g->bytes[STATS_IN]));
	json_object_set_new(o, "bytes_out", jint(g->bytes[STATS_OUT]));
	json_object_set_new(o, "msgs_in", jint(g->msgs[STATS_IN]));
	json_object_set_new(o, "msgs_out", jint(g->msgs[STATS_OUT]));
	json_object_set_new(o, "frames_in", jint(g->frames[STATS_IN]));
	json_object_set_new(o, "frames_out", jint(g->frames[STATS_OUT]));
	x = json_object();
	for (i = 0; i < nitems(windows); i++) {
		stats_secs_rates(&g->secs, now, windows[i], &r);
		snprintf(key, sizeof key, "%us", windows[i]);
		json_object_set_new(x, key, ctl_rates(&r));
	}
	json_object_set_new(o, "rates", x);
	x = json_object();
	json_object_set_new(x, "bytes_in", json_real(g->peak_bytes[STATS_IN] /
	    2.0));
	json_object_set_new(x, "bytes_out", json_real(g->peak_bytes[STATS_OUT] /
	    2.0));
	json_object_set_new(x, "msgs_in", json_real(g->peak_msgs[STATS_IN] /
	    2.0));
	json_object_set_new(x, "msgs_out", json_real(g->peak_msgs[STATS_OUT] /
	    2.0));
	json_object_set_new(o, "peak", x);
	json_object_set_new(o, "ctl_wait_max_ns", jint(g->ctl_max));
	json_object_set_new(o, "hist_in", jhist(g->hist[STATS_IN]));
	json_object_set_new(o, "hist_out", jhist(g->hist[STATS_OUT]));
	x = json_object();
	json_object_set_new(x, "enabled", json_boolean(ctl->home->flog != NULL));
	if (ctl->home->flog != NULL) {
		json_object_set_new(x, "path", jstr(framelog_path(ctl->home->flog)));
		json_object_set_new(x, "queue", jint(fl.queue_used));
		json_object_set_new(x, "queue_size", jint(fl.queue_size));
		json_object_set_new(x, "queue_max", jint(fl.queue_max));
		json_object_set_new(x, "written", jint(fl.frames_written));
		json_object_set_new(x, "dropped", jint(fl.frames_dropped));
		json_object_set_new(x, "lost", jint(fl.records_lost));
		json_object_set_new(x, "errors", jint(fl.errors));
		json_object_set_new(x, "failing", json_boolean(fl.failing));
	}
	json_object_set_new(o, "log", x);
	json_object_set_new(o, "control_clients", jint(ctl->nclients));
	json_object_set_new(o, "control_clients_refused",
	    jint(ctl->clients_refused));
	json_object_set_new(o, "control_clients_cut", jint(ctl->clients_cut));
	if (cl != NULL) {
		json_object_set_new(o, "dropped_events", jint(cl->dropped_events));
		json_object_set_new(o, "dropped_snapshots",
		    jint(cl->dropped_snapshots));
	}
	return (o);
}

/* A worker's rows and new connections' facts (its thread). */
static void
ctl_w_rows(struct worker *w, struct ctl_part *p)
{
	struct tunnel		*t;
	struct tunnel_info	 ti;
	struct evbuffer		*rows;
	uint64_t		 max_id = p->sent;

	if ((rows = evbuffer_new()) == NULL)
		fatalx("out of memory");
	p->fresh = json_array();
	for (t = tunnel_first(w); t != NULL; t = tunnel_next(t)) {
		if (tunnel_stats(t) == NULL)
			continue;	/* not open yet */
		tunnel_info(t, &ti);
		if (ti.id > p->sent) {
			json_array_append_new(p->fresh,
			    ctl_conn_static(p->ask->ctl, &ti));
			max_id = MAX(max_id, ti.id);
		}
		ctl_conn_row(rows, &ti, p->ask->now);
	}
	p->sent = max_id;
	p->text[1] = ctl_buffer_text(rows);
}

/* The snapshot answer from the parts of a. */
static void
ctl_send_snapshot(struct ctl_client *cl, struct ctl_ask *a)
{
	static const char *const names[] = { "new", "conns" };
	json_t		*o, *cols;
	unsigned	 i;

	o = ctl_reply("snapshot", a->req_id);
	json_object_set_new(o, "global", ctl_global(a->ctl, cl, a));
	if (a->rows) {
		cols = json_array();
		for (i = 0; i < nitems(ctl_cols); i++)
			json_array_append_new(cols, json_string(ctl_cols[i]));
		json_object_set_new(o, "cols", cols);
		for (i = 0; i < a->n; i++)
			cl->sent_max_id[i] = a->parts[i].sent;
		ctl_send_spliced(cl, o, a, names, nitems(names));
		return;
	}
	ctl_send(cl, o);
}

static void
ctl_snap_cb(evutil_socket_t fd, short what, void *arg)
{
	struct ctl_client	*cl = arg;

	/* The last one is still unread: skip this one (a slow reader). */
	if (ctl_unread(cl) > CONTROL_SNAP_SKIP) {
		cl->dropped_snapshots++;
		return;
	}
	if (cl->ask != NULL) {
		cl->snap_due = 1;	/* asked once this answer is out */
		return;
	}
	ctl_ask(cl, CTL_ASK_SNAPSHOT, NULL, 0);
}

/* ---- requests ---------------------------------------------------------- */

static json_t *
ctl_hello(json_t *req_id)
{
	json_t	*o = ctl_reply("hello", req_id), *cmds;

	json_object_set_new(o, "protocol", json_integer(CONTROL_PROTOCOL));
	json_object_set_new(o, "server", json_string("wsbridge"));
	json_object_set_new(o, "version", json_string(PACKAGE_VERSION));
	json_object_set_new(o, "pid", jint((uint64_t)getpid()));
	cmds = json_pack("[sssssss]", "hello", "stats", "list", "conn",
	    "snapshot", "subscribe", "unsubscribe");
	json_object_set_new(o, "commands", cmds);
	return (o);
}

static struct tunnel *
ctl_find(struct worker *w, uint64_t id)
{
	struct tunnel	*t;

	for (t = tunnel_first(w); t != NULL; t = tunnel_next(t))
		if (tunnel_id(t) == id && tunnel_stats(t) != NULL)
			return (t);
	return (NULL);
}

static json_t *
ctl_queue(const struct stats_q *q, uint64_t now)
{
	json_t			*o = json_object(), *a, *m;
	const struct stats_msg	*sm;
	uint64_t		 size, sent;
	uint8_t			 op = 0;
	int			 complete;
	unsigned		 i;

	json_object_set_new(o, "bytes", jint(stats_q_bytes(q)));
	json_object_set_new(o, "age_ns", jint(stats_q_age(q, now)));
	json_object_set_new(o, "ctl_age_ns", jint(stats_q_ctl_age(q, now, &op)));
	json_object_set_new(o, "ctl_age_opcode", jint(op));
	json_object_set_new(o, "inflight_msg", jint(stats_q_inflight(q, &size,
	    &sent, &complete)));
	json_object_set_new(o, "inflight_size", jint(size));
	json_object_set_new(o, "inflight_sent", jint(sent));
	json_object_set_new(o, "inflight_complete", json_boolean(complete));
	json_object_set_new(o, "max_wait_ns", jint(q->max_wait));
	json_object_set_new(o, "max_wait_ago_ns", jint(q->max_wait_t != 0 ?
	    now - q->max_wait_t : 0));
	json_object_set_new(o, "max_wait_msg", jint(q->max_wait_msg));
	json_object_set_new(o, "max_wait_msg_size", jint(q->max_wait_size));
	json_object_set_new(o, "ctl_last_ns", jint(q->ctl_last));
	json_object_set_new(o, "ctl_last_opcode", jint(q->ctl_last_op));
	json_object_set_new(o, "ctl_max_ns", jint(q->ctl_max));
	json_object_set_new(o, "ctl_count", jint(q->ctl_count));
	json_object_set_new(o, "ctl_sum_ns", jint(q->ctl_sum));
	json_object_set_new(o, "transfer_max_ns", jint(q->xfer_max));
	json_object_set_new(o, "delay_max_ns", jint(q->delay_max));
	json_object_set_new(o, "delay_max_msg", jint(q->delay_max_msg));
	json_object_set_new(o, "merged", json_boolean(q->merged));
	a = json_array();
	for (i = 0; i < q->nmsgs; i++) {
		sm = &q->msgs[(q->msgs_head + i) % STATS_MSGS];
		m = json_object();
		json_object_set_new(m, "msg", jint(sm->msg_no));
		json_object_set_new(m, "size", jint(sm->size));
		json_object_set_new(m, "first_ago_ns", jint(now - sm->t_first));
		json_object_set_new(m, "done_ago_ns", jint(now - sm->t_done));
		json_object_set_new(m, "transfer_ns", jint(sm->t_done -
		    sm->t_first));
		json_object_set_new(m, "delay_next_ns", sm->next_known ?
		    jint(sm->delay_next) : json_null());
		json_array_append_new(a, m);
	}
	json_object_set_new(o, "messages", a);
	return (o);
}

static json_t *
ctl_series(const struct stats_secs *s, uint64_t now, int dir, int msgs)
{
	uint32_t	 v[STATS_SECS - 1];
	json_t		*a = json_array();
	unsigned	 i;

	stats_secs_series(s, now, dir, msgs, STATS_SECS - 1, v);
	for (i = 0; i < STATS_SECS - 1; i++)
		json_array_append_new(a, jint(v[i]));
	return (a);
}

/*
 * Everything about one connection (the detail and head-of-line views), in
 * the thread of the worker it lives on.
 */
static void
ctl_w_conn(struct worker *w, struct ctl_part *p)
{
	struct tunnel		*t;
	struct tunnel_info	 ti;
	struct stats_conn	*st;
	const struct stats_frame *f;
	json_t			*c, *a, *x;
	uint64_t		 now = p->ask->now;
	unsigned		 i;

	if ((t = ctl_find(w, p->ask->conn_id)) == NULL)
		return;
	tunnel_info(t, &ti);
	st = ti.st;
	/* From now on the connection keeps its recent frames. */
	stats_conn_keep_frames(st);
	c = ctl_conn_object(p->ask->ctl, &ti, now);
	json_object_set_new(c, "frames_in", jint(st->frames[STATS_IN]));
	json_object_set_new(c, "frames_out", jint(st->frames[STATS_OUT]));
	json_object_set_new(c, "backend_in", jint(ti.be_in));
	json_object_set_new(c, "backend_out", jint(ti.be_out));
	json_object_set_new(c, "closed_by", jstr(ti.closed_by));
	if (ti.c != NULL) {
		json_object_set_new(c, "close_code_in",
		    jint(ti.c->close_code_in));
		json_object_set_new(c, "close_code_out",
		    jint(ti.c->close_code_out));
	}
	x = json_object();
	json_object_set_new(x, "active", json_boolean(ti.rx_msg));
	json_object_set_new(x, "known", jint(ti.rx_known));
	json_object_set_new(x, "received", jint(ti.rx_received));
	json_object_set_new(x, "final", json_boolean(ti.rx_final));
	json_object_set_new(c, "rx_msg", x);
	json_object_set_new(c, "hist_in", jhist(st->hist[STATS_IN]));
	json_object_set_new(c, "hist_out", jhist(st->hist[STATS_OUT]));
	x = json_object();
	json_object_set_new(x, "bytes_in", ctl_series(&st->secs, now,
	    STATS_IN, 0));
	json_object_set_new(x, "bytes_out", ctl_series(&st->secs, now,
	    STATS_OUT, 0));
	json_object_set_new(x, "msgs_in", ctl_series(&st->secs, now,
	    STATS_IN, 1));
	json_object_set_new(x, "msgs_out", ctl_series(&st->secs, now,
	    STATS_OUT, 1));
	json_object_set_new(c, "series", x);
	json_object_set_new(c, "queue_in", ctl_queue(&st->q[STATS_IN], now));
	json_object_set_new(c, "queue_out", ctl_queue(&st->q[STATS_OUT], now));
	if (ti.h2) {
		x = json_object();
		json_object_set_new(x, "out_stream_wait_ns",
		    jint(ti.fc.out_stream_wait_ns));
		json_object_set_new(x, "out_conn_wait_ns",
		    jint(ti.fc.out_conn_wait_ns));
		json_object_set_new(x, "out_stream_waits",
		    jint(ti.fc.out_stream_waits));
		json_object_set_new(x, "out_conn_waits", jint(ti.fc.out_conn_waits));
		json_object_set_new(x, "out_conn_blocker",
		    jint((uint64_t)ti.fc.out_conn_blocker));
		json_object_set_new(x, "in_stall_ns", jint(ti.fc.in_stall_ns));
		json_object_set_new(x, "in_stalls", jint(ti.fc.in_stalls));
		json_object_set_new(c, "h2", x);
	}
	a = json_array();
	for (i = 0; i < st->nframes; i++) {
		f = &st->frames_ring[(st->frames_head + STATS_FRAMES -
		    st->nframes + i) % STATS_FRAMES];
		x = json_object();
		json_object_set_new(x, "t", jint(f->t));
		json_object_set_new(x, "dir", json_string(f->dir == STATS_IN ?
		    "in" : "out"));
		json_object_set_new(x, "opcode", jint(f->opcode));
		json_object_set_new(x, "fin", jint(f->fin));
		json_object_set_new(x, "rsv", jint(f->rsv));
		json_object_set_new(x, "masked", jint(f->masked));
		json_object_set_new(x, "len", jint(f->len));
		json_object_set_new(x, "close_code", jint(f->close_code));
		json_object_set_new(x, "status", jint(f->status));
		json_array_append_new(a, x);
	}
	json_object_set_new(c, "frames", a);
	p->conn = c;
}

static void
ctl_w_list(struct worker *w, struct ctl_part *p)
{
	struct tunnel		*t;
	struct tunnel_info	 ti;

	p->list = json_array();
	for (t = tunnel_first(w); t != NULL; t = tunnel_next(t)) {
		if (tunnel_stats(t) == NULL)
			continue;
		tunnel_info(t, &ti);
		json_array_append_new(p->list, ctl_conn_object(p->ask->ctl,
		    &ti, p->ask->now));
	}
}

/* ---- asking the workers -------------------------------------------------- */

/* Builds a worker's part of an ask on its loop, then posts it back. */
static void
ctl_part_build(struct worker *w, void *arg)
{
	struct ctl_part	*p = arg;
	struct ctl_ask	*a = p->ask;

	switch (a->kind) {
	case CTL_ASK_STATS:
		ctl_w_global(w, p);
		break;
	case CTL_ASK_SNAPSHOT:
		ctl_w_global(w, p);
		if (a->rows) {
			ctl_w_rows(w, p);
			p->text[0] = ctl_array_text(p->fresh);
			p->fresh = NULL;
		}
		break;
	case CTL_ASK_LIST:
		ctl_w_list(w, p);
		p->text[0] = ctl_array_text(p->list);
		p->list = NULL;
		break;
	case CTL_ASK_CONN:
		ctl_w_conn(w, p);
		break;
	}
	worker_post(a->ctl->home, ctl_part_done, p);
}

/* The answer to a, from its parts, to its client (ours). */
static void
ctl_answer(struct ctl_client *cl, struct ctl_ask *a)
{
	static const char *const list_names[] = { "conns" };
	json_t		*o, *all;
	unsigned	 i;

	switch (a->kind) {
	case CTL_ASK_STATS:
		o = ctl_reply("stats", a->req_id);
		json_object_set_new(o, "global", ctl_global(a->ctl, cl, a));
		ctl_send(cl, o);
		break;
	case CTL_ASK_SNAPSHOT:
		ctl_send_snapshot(cl, a);
		break;
	case CTL_ASK_LIST:
		ctl_send_spliced(cl, ctl_reply("list", a->req_id), a,
		    list_names, nitems(list_names));
		break;
	case CTL_ASK_CONN:
		o = NULL;
		for (i = 0; i < a->n && o == NULL; i++)
			o = a->parts[i].conn;
		if (o == NULL) {
			ctl_error(cl, a->req_id, "no-such-connection",
			    "no open connection has that id");
			break;
		}
		json_incref(o);
		all = ctl_reply("conn", a->req_id);
		json_object_set_new(all, "conn", o);
		ctl_send(cl, all);
		break;
	}
}

static void
ctl_ask_free(struct ctl_ask *a)
{
	struct ctl_part	*p;
	unsigned	 i;

	for (i = 0; i < a->n; i++) {
		p = &a->parts[i];
		json_decref(p->fresh);
		json_decref(p->list);
		json_decref(p->conn);
		free(p->text[0]);
		free(p->text[1]);
	}
	json_decref(a->req_id);
	free(a);
}

/* One part of a is back, or its start is done: the last one answers. */
static void
ctl_ask_release(struct ctl_ask *a)
{
	struct ctl_client	*cl = a->cl;

	if (--a->pending > 0)
		return;
	if (cl != NULL) {
		cl->ask = NULL;
		if (!cl->dead)
			ctl_answer(cl, a);
	}
	ctl_ask_free(a);
	if (cl == NULL || cl->dead)
		return;
	if (cl->snap_due && cl->snap_ms != 0) {
		cl->snap_due = 0;
		ctl_ask(cl, CTL_ASK_SNAPSHOT, NULL, 0);
		return;
	}
	/* Requests that waited: read from the loop, not inside an ask. */
	event_active(cl->ev_resume, EV_TIMEOUT, 1);
}

static void
ctl_part_done(struct worker *w, void *arg)
{
	struct ctl_part	*p = arg;

	ctl_ask_release(p->ask);
}

/*
 * Asks the workers concerned for their parts of an answer to cl; the
 * answer goes out when the last part is back, and cl's next request is
 * read then. req_id (a reference is taken) may be NULL. A snapshot asked
 * with a request id has rows whatever the subscription says.
 */
static void
ctl_ask(struct ctl_client *cl, enum ctl_ask_kind kind, json_t *req_id,
    uint64_t conn_id)
{
	struct control	*ctl = cl->ctl;
	struct ctl_ask	*a;
	unsigned	 i, n = worker_count(ctl->home), only = n;

	a = xcalloc(1, sizeof *a + n * sizeof a->parts[0]);
	a->ctl = ctl;
	a->cl = cl;
	a->kind = kind;
	a->req_id = req_id != NULL ? json_incref(req_id) : NULL;
	a->rows = kind == CTL_ASK_SNAPSHOT && (cl->snap_conns ||
	    req_id != NULL);
	a->now = now_ns();
	a->conn_id = conn_id;
	a->n = n;
	for (i = 0; i < n; i++) {
		a->parts[i].ask = a;
		a->parts[i].sent = cl->sent_max_id[i];
	}
	if (kind == CTL_ASK_CONN)
		only = ctl_worker_of(ctl, conn_id);
	/* One count for this start: no part can answer before it ends. */
	a->pending = (only == n ? n : 1) + 1;
	cl->ask = a;
	for (i = 0; i < n; i++)
		if (only == n || i == only)
			worker_post(worker_at(ctl->home, i), ctl_part_build,
			    &a->parts[i]);
	ctl_ask_release(a);
}

static void
ctl_unsubscribe(struct ctl_client *cl)
{
	if (cl->ev_frames)
		ASUB(&cl->ctl->nframe_subs, 1);
	if (cl->ev_open || cl->ev_close)
		ASUB(&cl->ctl->nconn_subs, 1);
	cl->ev_open = cl->ev_close = cl->ev_frames = 0;
	cl->snap_ms = 0;
	cl->snap_due = 0;
	if (cl->ev_snap != NULL)
		evtimer_del(cl->ev_snap);
}

/* Returns 0, or -1 with an error sent. */
static int
ctl_subscribe(struct ctl_client *cl, json_t *req, json_t *req_id)
{
	json_t		*v, *e;
	size_t		 i;
	struct timeval	 tv;
	json_int_t	 ms = 0, fps = 200, conn = 0;
	int		 open = 0, close = 0, frames = 0;

	if ((v = json_object_get(req, "snapshot_ms")) != NULL) {
		if (!json_is_integer(v) || (ms = json_integer_value(v)) < 0 ||
		    (ms != 0 && ms < CONTROL_SNAP_MIN_MS) || ms > 3600000) {
			ctl_error(cl, req_id, "bad-argument", "snapshot_ms: 0 "
			    "(none) or 50 to 3600000");
			return (-1);
		}
	}
	if ((v = json_object_get(req, "events")) != NULL) {
		if (!json_is_array(v)) {
			ctl_error(cl, req_id, "bad-argument",
			    "events: an array of \"open\", \"close\", \"frame\"");
			return (-1);
		}
		json_array_foreach(v, i, e) {
			if (json_is_string(e) &&
			    strcmp(json_string_value(e), "open") == 0)
				open = 1;
			else if (json_is_string(e) &&
			    strcmp(json_string_value(e), "close") == 0)
				close = 1;
			else if (json_is_string(e) &&
			    strcmp(json_string_value(e), "frame") == 0)
				frames = 1;
			else {
				ctl_error(cl, req_id, "bad-argument",
				    "events: unknown event kind");
				return (-1);
			}
		}
	}
	if ((v = json_object_get(req, "conn")) != NULL &&
	    (!json_is_integer(v) || (conn = json_integer_value(v)) < 0)) {
		ctl_error(cl, req_id, "bad-argument", "conn: a connection id");
		return (-1);
	}
	if ((v = json_object_get(req, "max_frames_per_sec")) != NULL &&
	    (!json_is_integer(v) || (fps = json_integer_value(v)) < 1 ||
	    fps > 100000)) {
		ctl_error(cl, req_id, "bad-argument",
		    "max_frames_per_sec: 1 to 100000");
		return (-1);
	}
	ctl_unsubscribe(cl);
	cl->snap_ms = (unsigned)ms;
	v = json_object_get(req, "conns");
	cl->snap_conns = v == NULL || json_is_true(v);
	cl->ev_open = open;
	cl->ev_close = close;
	cl->ev_frames = frames;
	cl->frames_conn = (uint64_t)conn;
	cl->frames_per_sec = (unsigned)fps;
	if (frames)
		AADD(&cl->ctl->nframe_subs, 1);
	if (open || close)
		AADD(&cl->ctl->nconn_subs, 1);
	if (ms != 0) {
		tv.tv_sec = ms / 1000;
		tv.tv_usec = (ms % 1000) * 1000;
		evtimer_add(cl->ev_snap, &tv);
	}
	return (0);
}

/* ---- upgrade: the listening sockets to a new wsbridge ----------------- */

#define CTL_UPGRADE_FDS	250	/* under SCM_MAX_FD (253) */

static void	ctl_client_kill(struct ctl_client *);

/*
 * {"cmd":"upgrade"} from a wsbridge started to replace this one
 * (--upgrade): the reply line goes out with the control socket's and every
 * worker's listening sockets attached (SCM_RIGHTS), in the order its
 * "listeners" names them. Written straight to the socket, so only on an
 * empty output (the client read the hello first): line and descriptors
 * arrive together. Nothing changes here until "upgrade-done". The other
 * workers' listener lists are read from this thread; they change only in
 * a reload, and an upgrade during a reload is not supported.
 */
static void
ctl_upgrade(struct ctl_client *cl, json_t *id)
{
	struct control		*ctl = cl->ctl;
	struct worker_group	*g = ctl->home->group;
	struct listener		*l;
	struct msghdr		 msg;
	struct cmsghdr		*cm;
	struct iovec		 iov;
	union {
		struct cmsghdr	hdr;
		char		buf[CMSG_SPACE(CTL_UPGRADE_FDS * sizeof (int))];
	}			 cbuf;
	json_t			*o, *ls, *e, *ex;
	char			*line;
	int			 fds[CTL_UPGRADE_FDS], nfds = 0;
	unsigned		 i;
	ssize_t			 n;

	if (ctl->upgrader != NULL || ctl->handed_over) {
		ctl_error(cl, id, "busy", "an upgrade is under way");
		return;
	}
	if (evbuffer_get_length(bufferevent_get_output(cl->bev)) > 0) {
		ctl_error(cl, id, "busy", "read everything before asking "
		    "for the sockets");
		return;
	}
	fds[nfds++] = evconnlistener_get_fd(ctl->evl);
	ls = json_array();
	for (i = 0; i < g->n; i++) {
		TAILQ_FOREACH(l, &g->w[i]->listeners, entry) {
			if (nfds == CTL_UPGRADE_FDS) {
				json_decref(ls);
				ctl_error(cl, id, "too-many", "more listening "
				    "sockets than one message carries");
				return;
			}
			fds[nfds++] = evconnlistener_get_fd(l->evl);
			e = json_object();
			json_object_set_new(e, "spec", json_string(l->spec));
			json_object_set_new(e, "worker", jint(i));
			json_object_set_new(e, "addr", json_string(l->addr));
			json_array_append_new(ls, e);
		}
	}
	ex = json_array();
	for (i = 0; i < ctl->nextra && nfds < CTL_UPGRADE_FDS; i++) {
		fds[nfds++] = ctl->extra[i].fd;
		json_array_append_new(ex, json_string(ctl->extra[i].name));
	}
	o = ctl_reply("upgrade", id);
	json_object_set_new(o, "extra", ex);
	json_object_set_new(o, "pid", jint((uint64_t)getpid()));
	json_object_set_new(o, "control", json_string(ctl->path));
	json_object_set_new(o, "listeners", ls);
	line = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	if (line == NULL)
		return;
	o = NULL;
	memset(&msg, 0, sizeof msg);
	memset(&cbuf, 0, sizeof cbuf);
	iov.iov_base = xasprintf("%s\n", line);
	iov.iov_len = strlen(iov.iov_base);
	free(line);
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = cbuf.buf;
	msg.msg_controllen = CMSG_SPACE(nfds * sizeof (int));
	cm = CMSG_FIRSTHDR(&msg);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(nfds * sizeof (int));
	memcpy(CMSG_DATA(cm), fds, nfds * sizeof (int));
	n = sendmsg(bufferevent_getfd(cl->bev), &msg, MSG_NOSIGNAL);
	if (n != (ssize_t)iov.iov_len) {
		log_error("upgrade: sending the sockets to control client "
		    "%llu: %s", (unsigned long long)cl->id, n == -1 ?
		    strerror(errno) : "short write");
		free(iov.iov_base);
		ctl_client_kill(cl);
		return;
	}
	free(iov.iov_base);
	ctl->upgrader = cl;
	log_info("upgrade: gave %d listening sockets to a new wsbridge "
	    "(control client %llu); serving on until it is ready", nfds,
	    (unsigned long long)cl->id);
}

/*
 * {"cmd":"upgrade-done"}: the new wsbridge accepts on the sockets. Ours
 * stop (they are its now: a unix socket's file is not removed), then the
 * drain as for SIGTERM, shutdown-mode deciding what tunnels get.
 */
static void
ctl_upgrade_done(struct ctl_client *cl, json_t *id)
{
	struct control		*ctl = cl->ctl;
	struct worker_group	*g = ctl->home->group;
	struct listener		*l;
	unsigned		 i;

	if (ctl->upgrader != cl) {
		ctl_error(cl, id, "no-upgrade", "send \"upgrade\" first");
		return;
	}
	ctl_send(cl, ctl_reply("upgrade-done", id));
	ctl->upgrader = NULL;
	ctl->handed_over = 1;
	evconnlistener_disable(ctl->evl);
	for (i = 0; i < g->n; i++)
		TAILQ_FOREACH(l, &g->w[i]->listeners, entry)
			l->unlink_path = 0;
	for (i = 0; i < ctl->nextra; i++)
		ctl->extra[i].stop(ctl->extra[i].arg);
	log_info("upgrade: the new wsbridge is ready; draining");
	kill(getpid(), SIGTERM);
}

static void
ctl_request(struct ctl_client *cl, const char *line, size_t len)
{
	json_t		*req, *id, *cmdv, *v;
	json_error_t	 err;
	const char	*cmd;
	char		 msg[200];

	if ((req = json_loadb(line, len, 0, &err)) == NULL) {
		snprintf(msg, sizeof msg, "not JSON: %s", err.text);
		ctl_error(cl, NULL, "bad-json", msg);
		return;
	}
	id = json_object_get(req, "req");
	if (!json_is_object(req) || (cmdv = json_object_get(req, "cmd")) ==
	    NULL || !json_is_string(cmdv)) {
		ctl_error(cl, json_is_object(req) ? id : NULL, "bad-request",
		    "expected an object with a string \"cmd\"");
		goto out;
	}
	cmd = json_string_value(cmdv);
	if (strcmp(cmd, "hello") == 0 || strcmp(cmd, "version") == 0)
		ctl_send(cl, ctl_hello(id));
	else if (strcmp(cmd, "stats") == 0)
		ctl_ask(cl, CTL_ASK_STATS, id, 0);
	else if (strcmp(cmd, "snapshot") == 0)
		ctl_ask(cl, CTL_ASK_SNAPSHOT, id != NULL ? id : json_null(), 0);
	else if (strcmp(cmd, "list") == 0)
		ctl_ask(cl, CTL_ASK_LIST, id, 0);
	else if (strcmp(cmd, "conn") == 0) {
		v = json_object_get(req, "conn");
		if (v == NULL || !json_is_integer(v) ||
		    json_integer_value(v) < 0)
			ctl_error(cl, id, "bad-argument",
			    "conn: a connection id (integer)");
		else
			ctl_ask(cl, CTL_ASK_CONN, id,
			    (uint64_t)json_integer_value(v));
	} else if (strcmp(cmd, "subscribe") == 0) {
		if (ctl_subscribe(cl, req, id) == 0) {
			v = ctl_reply("subscribed", id);
			json_object_set_new(v, "snapshot_ms",
			    jint(cl->snap_ms));
			ctl_send(cl, v);
			if (cl->snap_ms != 0)
				ctl_ask(cl, CTL_ASK_SNAPSHOT, NULL, 0);
		}
	} else if (strcmp(cmd, "unsubscribe") == 0) {
		ctl_unsubscribe(cl);
		ctl_send(cl, ctl_reply("unsubscribed", id));
	} else if (strcmp(cmd, "upgrade") == 0)
		ctl_upgrade(cl, id);
	else if (strcmp(cmd, "upgrade-done") == 0)
		ctl_upgrade_done(cl, id);
	else {
		snprintf(msg, sizeof msg, "unknown command '%.64s'", cmd);
		ctl_error(cl, id, "unknown-command", msg);
	}
out:
	json_decref(req);
}

/* ---- clients ------------------------------------------------------------- */

static void
ctl_client_free(struct ctl_client *cl)
{
	struct control	*ctl = cl->ctl;

	ctl_unsubscribe(cl);
	if (ctl->upgrader == cl) {
		ctl->upgrader = NULL;
		log_warn("upgrade: the new wsbridge went away before it was "
		    "ready; still serving");
	}
	if (cl->ask != NULL)
		cl->ask->cl = NULL;	/* freed when its last part is back */
	TAILQ_REMOVE(&ctl->clients, cl, entry);
	ctl->nclients--;
	event_free(cl->ev_resume);
	event_free(cl->ev_snap);
	event_free(cl->ev_stall);
	event_free(cl->ev_free);
	bufferevent_free(cl->bev);
	log_debug("control client %llu gone", (unsigned long long)cl->id);
	free(cl->sent_max_id);
	free(cl);
}

static void
ctl_client_free_cb(evutil_socket_t fd, short what, void *arg)
{
	ctl_client_free(arg);
}

/* Ends a client on the next loop pass (never inside its callbacks). */
static void
ctl_client_kill(struct ctl_client *cl)
{
	if (cl->dead)
		return;
	cl->dead = 1;
	ctl_unsubscribe(cl);
	bufferevent_disable(cl->bev, EV_READ | EV_WRITE);
	event_active(cl->ev_free, EV_TIMEOUT, 1);
}

/*
 * Answers the requests in cl's input, in order. While an answer is being
 * built the rest wait, and so does the socket (reading stops).
 */
static void
ctl_client_requests(struct ctl_client *cl)
{
	struct bufferevent	*bev = cl->bev;
	struct evbuffer		*in = bufferevent_get_input(bev);
	char			*line;
	size_t			 len;

	while (!cl->dead && !cl->closing && cl->ask == NULL &&
	    (line = evbuffer_readln(in, &len, EVBUFFER_EOL_LF)) != NULL) {
		if (len > 0)
			ctl_request(cl, line, len);
		free(line);
	}
	if (cl->dead || cl->closing)
		return;
	if (cl->ask != NULL) {
		bufferevent_disable(bev, EV_READ);
		return;
	}
	bufferevent_enable(bev, EV_READ);
	if (evbuffer_get_length(in) > CONTROL_LINE_MAX) {
		/* A request line without end: answer, then hang up. */
		ctl_error(cl, NULL, "too-long", "request line over 64 KiB");
		cl->closing = 1;
		bufferevent_disable(bev, EV_READ);
		evbuffer_drain(in, evbuffer_get_length(in));
	}
}

static void
ctl_client_read(struct bufferevent *bev, void *arg)
{
	ctl_client_requests(arg);
}

/* An answer went out: the requests that waited for it. */
static void
ctl_client_resume_cb(evutil_socket_t fd, short what, void *arg)
{
	ctl_client_requests(arg);
}

static void
ctl_client_write(struct bufferevent *bev, void *arg)
{
	struct ctl_client	*cl = arg;

	if (cl->closing && ctl_unread(cl) == 0)
		ctl_client_kill(cl);
}

static void
ctl_client_event(struct bufferevent *bev, short what, void *arg)
{
	ctl_client_kill(arg);
}

/* Output shrank: the client reads. */
static void
ctl_client_drained(struct evbuffer *buf, const struct evbuffer_cb_info *info,
    void *arg)
{
	struct ctl_client	*cl = arg;

	if (info->n_deleted > 0)
		cl->last_drain = now_ns();
}

static void
ctl_client_stall_cb(evutil_socket_t fd, short what, void *arg)
{
	struct ctl_client	*cl = arg;

	if (ctl_unread(cl) > 0 && now_ns() - cl->last_drain >
	    (uint64_t)CONTROL_STALL_MS * 1000000) {
		log_warn("control client %llu read nothing for %u ms; "
		    "disconnecting", (unsigned long long)cl->id,
		    CONTROL_STALL_MS);
		ctl_client_kill(cl);
	}
}

/*
 * A client past control-max-clients: one error line instead of hello (it
 * fits any socket buffer, so a client that never reads costs nothing),
 * then the door closes. Logged at most every CTL_REFUSED_LOG_NS with the
 * count meanwhile, so a client retrying in a loop cannot flood the log.
 */
static void
ctl_refuse(struct control *ctl, int fd)
{
	unsigned	 max = ctl->home->cfg->control_max_clients;
	uint64_t	 now = now_ns();
	char		*s;
	ssize_t		 n;

	ctl->clients_refused++;
	s = xasprintf("{\"type\":\"error\",\"code\":\"too-many-clients\","
	    "\"message\":\"%u control clients already connected "
	    "(control-max-clients %u); try again later\"}\n", ctl->nclients,
	    max);
	n = send(fd, s, strlen(s), MSG_DONTWAIT | MSG_NOSIGNAL);
	(void)n;	/* the client may be gone already: nothing to do */
	free(s);
	close(fd);
	if (ctl->refused_log_ns != 0 &&
	    now - ctl->refused_log_ns < CTL_REFUSED_LOG_NS)
		return;
	log_warn("control client refused: %u clients already connected "
	    "(control-max-clients %u); %llu refused so far", ctl->nclients,
	    max, (unsigned long long)ctl->clients_refused);
	ctl->refused_log_ns = now;
}

static void
ctl_accept(struct evconnlistener *evl, evutil_socket_t fd,
    struct sockaddr *sa, int salen, void *arg)
{
	struct control		*ctl = arg;
	struct ctl_client	*cl;
	struct timeval		 tv = { 1, 0 };

	if (ctl->nclients >= ctl->home->cfg->control_max_clients) {
		ctl_refuse(ctl, fd);
		return;
	}
	cl = xcalloc(1, sizeof *cl);
	cl->ctl = ctl;
	cl->id = ++ctl->next_id;
	cl->sent_max_id = xcalloc(worker_count(ctl->home),
	    sizeof *cl->sent_max_id);
	cl->bev = bufferevent_socket_new(ctl->home->base, fd,
	    BEV_OPT_CLOSE_ON_FREE);
	if (cl->bev == NULL) {
		close(fd);
		free(cl->sent_max_id);
		free(cl);
		return;
	}
	cl->ev_snap = event_new(ctl->home->base, -1, EV_PERSIST, ctl_snap_cb,
	    cl);
	cl->ev_stall = event_new(ctl->home->base, -1, EV_PERSIST,
	    ctl_client_stall_cb, cl);
	cl->ev_free = event_new(ctl->home->base, -1, 0, ctl_client_free_cb, cl);
	cl->ev_resume = event_new(ctl->home->base, -1, 0, ctl_client_resume_cb,
	    cl);
	evtimer_add(cl->ev_stall, &tv);
	cl->last_drain = now_ns();
	evbuffer_add_cb(bufferevent_get_output(cl->bev), ctl_client_drained,
	    cl);
	bufferevent_setcb(cl->bev, ctl_client_read, ctl_client_write,
	    ctl_client_event, cl);
	bufferevent_enable(cl->bev, EV_READ | EV_WRITE);
	TAILQ_INSERT_TAIL(&ctl->clients, cl, entry);
	ctl->nclients++;
	log_debug("control client %llu connected", (unsigned long long)cl->id);
	ctl_send(cl, ctl_hello(NULL));
}

/* ---- events ------------------------------------------------------------- */

/* Events are dropped (counted) for a client that lags. */
static int
ctl_event_room(struct ctl_client *cl)
{
	if (ctl_unread(cl) > CONTROL_EVENTS_MAX) {
		cl->dropped_events++;
		return (0);
	}
	if (cl->dropped_events > cl->reported_drops) {
		json_t	*o = ctl_reply("event", NULL);

		json_object_set_new(o, "event", json_string("dropped"));
		json_object_set_new(o, "count", jint(cl->dropped_events -
		    cl->reported_drops));
		cl->reported_drops = cl->dropped_events;
		ctl_send(cl, o);
	}
	return (1);
}

/* Gives an event's line to every client that wants it (main thread). */
static void
ctl_deliver(struct control *ctl, int kind, uint64_t id, uint64_t sec,
    const char *line)
{
	struct ctl_client	*cl, *next;

	for (cl = TAILQ_FIRST(&ctl->clients); cl != NULL; cl = next) {
		next = TAILQ_NEXT(cl, entry);
		if (cl->dead || (kind == CTL_EV_OPEN && !cl->ev_open) ||
		    (kind == CTL_EV_CLOSE && !cl->ev_close))
			continue;
		if (kind == CTL_EV_FRAME) {
			if (!cl->ev_frames || (cl->frames_conn != 0 &&
			    cl->frames_conn != id))
				continue;
			/* Busy traffic: at most frames_per_sec a second. */
			if (sec != cl->frames_sec) {
				cl->frames_sec = sec;
				cl->frames_in_sec = 0;
			}
			if (cl->frames_in_sec >= cl->frames_per_sec) {
				cl->dropped_events++;
				continue;
			}
		}
		if (!ctl_event_room(cl))
			continue;
		if (kind == CTL_EV_FRAME)
			cl->frames_in_sec++;
		ctl_send_line(cl, line);
	}
}

/*
 * An event (o, taken) of connection id: delivered now in the main thread,
 * else queued for it. One queue keeps each worker's events in order.
 */
static void
ctl_event(struct control *ctl, int kind, uint64_t id, uint64_t sec,
    json_t *o)
{
	struct ctl_event	*ev;
	char			*line;
	int			 wake;

	line = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	if (line == NULL)
		return;
	if (pthread_equal(pthread_self(), ctl->thread)) {
		ctl_deliver(ctl, kind, id, sec, line);
		free(line);
		return;
	}
	pthread_mutex_lock(&ctl->inbox_mu);
	if (ctl->ninbox >= CTL_INBOX_MAX) {
		/* The main thread lags: counted, reported as any drop. */
		ctl->inbox_dropped++;
		pthread_mutex_unlock(&ctl->inbox_mu);
		free(line);
		return;
	}
	ev = xmalloc(sizeof *ev);
	ev->kind = kind;
	ev->id = id;
	ev->sec = sec;
	ev->line = line;
	STAILQ_INSERT_TAIL(&ctl->inbox, ev, entry);
	wake = ctl->ninbox++ == 0;
	pthread_mutex_unlock(&ctl->inbox_mu);
	if (wake)
		event_active(ctl->ev_inbox, EV_TIMEOUT, 1);
}

static void
ctl_inbox_free(struct ctl_event *ev)
{
	struct ctl_event	*next;

	for (; ev != NULL; ev = next) {
		next = STAILQ_NEXT(ev, entry);
		free(ev->line);
		free(ev);
	}
}

/* Other workers' events, in the main thread. */
static void
ctl_inbox_cb(evutil_socket_t fd, short what, void *arg)
{
	struct control		*ctl = arg;
	struct ctl_client	*cl;
	struct ctl_event	*ev, *first;
	uint64_t		 dropped;

	pthread_mutex_lock(&ctl->inbox_mu);
	first = STAILQ_FIRST(&ctl->inbox);
	STAILQ_INIT(&ctl->inbox);
	ctl->ninbox = 0;
	dropped = ctl->inbox_dropped;
	ctl->inbox_dropped = 0;
	pthread_mutex_unlock(&ctl->inbox_mu);
	if (dropped > 0)
		TAILQ_FOREACH(cl, &ctl->clients, entry)
			if (cl->ev_open || cl->ev_close || cl->ev_frames)
				cl->dropped_events += dropped;
	for (ev = first; ev != NULL; ev = STAILQ_NEXT(ev, entry))
		ctl_deliver(ctl, ev->kind, ev->id, ev->sec, ev->line);
	ctl_inbox_free(first);
}

static void
control_tunnel_open(void *arg, struct tunnel *t)
{
	struct control		*ctl = arg;
	struct tunnel_info	 ti;
	json_t			*o;

	if (ALOAD(&ctl->nconn_subs) == 0)
		return;
	tunnel_info(t, &ti);
	o = ctl_reply("event", NULL);
	json_object_set_new(o, "event", json_string("open"));
	json_object_set_new(o, "t", jint(wall_ns()));
	json_object_set_new(o, "conn", ctl_conn_static(ctl, &ti));
	ctl_event(ctl, CTL_EV_OPEN, ti.id, 0, o);
}

static void
control_tunnel_close(void *arg, struct tunnel *t)
{
	struct control		*ctl = arg;
	struct tunnel_info	 ti;
	json_t			*o;
	uint64_t		 now;
	char			 peer[CONN_ADDRSTRLEN];

	if (ALOAD(&ctl->nconn_subs) == 0)
		return;
	tunnel_info(t, &ti);
	now = now_ns();
	o = ctl_reply("event", NULL);
	json_object_set_new(o, "event", json_string("close"));
	json_object_set_new(o, "t", jint(wall_ns()));
	json_object_set_new(o, "id", jint(ti.id));
	json_object_set_new(o, "peer", jstr(conn_addr_str(&ti.facts->peer,
	    peer, sizeof peer)));
	json_object_set_new(o, "route", jstr(ti.facts->route));
	json_object_set_new(o, "duration_ns", jint(now - ti.t_start));
	json_object_set_new(o, "closed_by", jstr(ti.closed_by));
	if (ti.c != NULL) {
		json_object_set_new(o, "close_code_in",
		    jint(ti.c->close_code_in));
		json_object_set_new(o, "close_code_out",
		    jint(ti.c->close_code_out));
	}
	if (ti.st != NULL) {
		json_object_set_new(o, "bytes_in",
		    jint(ti.st->bytes[STATS_IN]));
		json_object_set_new(o, "bytes_out",
		    jint(ti.st->bytes[STATS_OUT]));
		json_object_set_new(o, "msgs_in", jint(ti.st->msgs[STATS_IN]));
		json_object_set_new(o, "msgs_out",
		    jint(ti.st->msgs[STATS_OUT]));
		json_object_set_new(o, "stall_max_ns",
		    jint(MAX(ti.st->q[0].max_wait, ti.st->q[1].max_wait)));
	}
	ctl_event(ctl, CTL_EV_CLOSE, ti.id, 0, o);
}

static void
control_frame(void *arg, struct tunnel *t, const struct ws_frame_event *ev)
{
	struct control	*ctl = arg;
	json_t		*o;
	uint64_t	 id;

	if (ALOAD(&ctl->nframe_subs) == 0)
		return;
	id = tunnel_id(t);
	o = ctl_reply("event", NULL);
	json_object_set_new(o, "event", json_string("frame"));
	json_object_set_new(o, "t", jint(wall_ns()));
	json_object_set_new(o, "id", jint(id));
	json_object_set_new(o, "dir", json_string(ev->dir == WS_DIR_IN ?
	    "in" : "out"));
	json_object_set_new(o, "opcode", jint(ev->opcode));
	json_object_set_new(o, "fin", jint(ev->fin));
	json_object_set_new(o, "rsv", jint(ev->rsv));
	json_object_set_new(o, "masked", jint(ev->masked));
	json_object_set_new(o, "len", jint(ev->len));
	json_object_set_new(o, "msg", jint(ev->msg_no));
	json_object_set_new(o, "close_code", jint(ev->close_code));
	json_object_set_new(o, "status", jint(ev->status));
	ctl_event(ctl, CTL_EV_FRAME, id, ev->t_ns / 1000000000ULL, o);
}

/* ---- life cycle ---------------------------------------------------------- */

static void
ctl_tick(evutil_socket_t fd, short what, void *arg)
{
	struct control	*ctl = arg;

	stats_global_tick(ctl->home->stats, now_ns());
}

/* Is somebody listening on path? */
static int
ctl_in_use(const char *path)
{
	struct sockaddr_un	sun;
	int			fd, rc;

	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return (0);
	memset(&sun, 0, sizeof sun);
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof sun.sun_path, "%s", path);
	rc = connect(fd, (struct sockaddr *)&sun, sizeof sun);
	close(fd);
	return (rc == 0);
}

/*
 * What stands at path, if anything, as lstat sees it: a symbolic link is
 * never followed (bind would not, and unlinking one would remove the link,
 * not a socket of ours), a socket of another user is theirs. Returns 0
 * (nothing there, or a socket of ours: *sock set), or -1 with *cause set.
 */
static int
ctl_path_check(const char *path, int *sock, char **cause)
{
	struct stat	sb;

	*sock = 0;
	if (lstat(path, &sb) == -1) {
		if (errno == ENOENT)
			return (0);
		*cause = xasprintf("control %s: %s", path, strerror(errno));
		return (-1);
	}
	if (S_ISLNK(sb.st_mode))
		*cause = xasprintf("control %s: is a symbolic link; refusing "
		    "to follow or replace it", path);
	else if (!S_ISSOCK(sb.st_mode))
		*cause = xasprintf("control %s: exists and is not a socket",
		    path);
	else if (sb.st_uid != geteuid())
		*cause = xasprintf("control %s: a socket of uid %lu, not of "
		    "wsbridge's uid %lu; refusing to replace it", path,
		    (unsigned long)sb.st_uid, (unsigned long)geteuid());
	else {
		*sock = 1;
		return (0);
	}
	return (-1);
}

int
control_check(const char *path, char **cause)
{
	struct sockaddr_un	 sun;
	char			*why;
	int			 sock;

	if (strlen(path) >= sizeof sun.sun_path) {
		*cause = xasprintf("control %s: path too long", path);
		return (-1);
	}
	if (ctl_path_check(path, &sock, cause) != 0)
		return (-1);
	if (path_dir_usable(path, &why) != 0) {
		*cause = xasprintf("control %s: %s", path, why);
		free(why);
		return (-1);
	}
	return (0);
}

struct control *
control_new(struct worker *home, const char *path, int given, char **cause)
{
	struct control		*ctl;
	struct sockaddr_un	 sun;
	struct stat		 sb;
	struct timeval		 tv = { 1, 0 };
	unsigned		 mode = home->cfg->control_mode;
	mode_t			 mask;
	int			 fd = -1, sock;

	memset(&sun, 0, sizeof sun);
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof sun.sun_path) {
		*cause = xasprintf("control %s: path too long", path);
		return (NULL);
	}
	memcpy(sun.sun_path, path, strlen(path));
	if (given != -1) {
		/* The wsbridge we replace listened on it: ours now. */
		if ((fd = fcntl(given, F_DUPFD_CLOEXEC, 3)) == -1 ||
		    evutil_make_socket_nonblocking(fd) == -1)
			goto syserr;
		goto listen;
	}
	if (ctl_path_check(path, &sock, cause) != 0)
		return (NULL);
	if (sock) {
		if (ctl_in_use(path)) {
			*cause = xasprintf("control %s: another process "
			    "listens on it", path);
			return (NULL);
		}
		unlink(path);	/* left by a process that died */
	}
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC |
	    SOCK_NONBLOCK, 0)) == -1)
		goto syserr;
	/*
	 * The mode from the first moment: stats name every peer. A socket
	 * file takes its mode from the umask at bind (fchmod on the socket
	 * does not reach it), and a chmod by name after bind could follow a
	 * link put there meanwhile. The umask is process-wide: only the main
	 * thread makes files now (the frame log was opened before).
	 */
	mask = umask(~(mode_t)mode & 0777);
	if (bind(fd, (struct sockaddr *)&sun, sizeof sun) == -1) {
		umask(mask);
		goto syserr;
	}
	umask(mask);
	if (lstat(path, &sb) == -1)
		goto syserr;
	if (!S_ISSOCK(sb.st_mode) || (sb.st_mode & 0777) != mode) {
		*cause = xasprintf("control %s: mode %04o after bind, not "
		    "%04o", path, (unsigned)(sb.st_mode & 0777), mode);
		unlink(path);
		close(fd);
		return (NULL);
	}
listen:
	ctl = xcalloc(1, sizeof *ctl);
	ctl->home = home;
	ctl->hooks.tunnel_open = control_tunnel_open;
	ctl->hooks.tunnel_close = control_tunnel_close;
	ctl->hooks.frame = control_frame;
	ctl->hooks.arg = ctl;
	ctl->thread = pthread_self();
	ctl->path = xstrdup(path);
	ctl->keep_file = given != -1;
	TAILQ_INIT(&ctl->clients);
	pthread_mutex_init(&ctl->inbox_mu, NULL);
	STAILQ_INIT(&ctl->inbox);
	ctl->ev_inbox = event_new(home->base, -1, 0, ctl_inbox_cb, ctl);
	/* Workers build JSON in their threads: seed the hash before them. */
	json_object_seed(0);
	ctl->evl = evconnlistener_new(home->base, ctl_accept, ctl,
	    LEV_OPT_CLOSE_ON_FREE, 16, fd);
	if (ctl->evl == NULL) {
		event_free(ctl->ev_inbox);
		pthread_mutex_destroy(&ctl->inbox_mu);
		free(ctl->path);
		free(ctl);
		unlink(path);
		goto syserr;
	}
	ctl->ev_tick = event_new(home->base, -1, EV_PERSIST, ctl_tick, ctl);
	evtimer_add(ctl->ev_tick, &tv);
	log_info("control socket %s (protocol %d)", path, CONTROL_PROTOCOL);
	return (ctl);
syserr:
	*cause = xasprintf("control %s: %s", path, strerror(errno));
	if (fd != -1)
		close(fd);
	return (NULL);
}

void
control_handover_add(struct control *ctl, const char *name, int fd,
    void (*stop)(void *), void *arg)
{
	if (ctl == NULL || fd == -1 || ctl->nextra == CTL_EXTRA_MAX)
		return;
	ctl->extra[ctl->nextra].name = name;
	ctl->extra[ctl->nextra].fd = fd;
	ctl->extra[ctl->nextra].stop = stop;
	ctl->extra[ctl->nextra].arg = arg;
	ctl->nextra++;
}

void
control_adopted(struct control *ctl)
{
	if (ctl != NULL)
		ctl->keep_file = 0;
}

const struct worker_hooks *
control_hooks(struct control *ctl)
{
	return (&ctl->hooks);
}

void
control_free(struct control *ctl)
{
	struct ctl_client	*cl;

	if (ctl == NULL)
		return;
	while ((cl = TAILQ_FIRST(&ctl->clients)) != NULL)
		ctl_client_free(cl);
	evconnlistener_free(ctl->evl);
	event_free(ctl->ev_tick);
	event_free(ctl->ev_inbox);
	ctl_inbox_free(STAILQ_FIRST(&ctl->inbox));
	pthread_mutex_destroy(&ctl->inbox_mu);
	if (!ctl->handed_over && !ctl->keep_file)
		unlink(ctl->path);
	free(ctl->path);
	free(ctl);
}
