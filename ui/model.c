/*
 * model.c -- what wsbridge-top knows: the connections by id, the global
 * numbers and the details of one connection, filled from the control
 * socket's JSON lines (jansson) or by replay.c from a frame log.
 */
#include "wsb_autoconf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "ctl_proto.h"
#include "top.h"

void
model_init(struct top_model *m, int live, const char *source)
{
	memset(m, 0, sizeof *m);
	m->live = live;
	snprintf(m->source, sizeof m->source, "%s", source);
}

void
model_free(struct top_model *m)
{
	free(m->conns);
	m->conns = NULL;
	m->nconns = m->cap = 0;
}

void
model_clear_conns(struct top_model *m)
{
	m->nconns = 0;
	memset(&m->d, 0, sizeof m->d);
	/* A new connection may be to another wsbridge: its own peak. */
	memset(&m->g.peak, 0, sizeof m->g.peak);
}

/* Index of the first connection with id >= id. */
static size_t
model_lower(const struct top_model *m, uint64_t id)
{
	size_t	lo = 0, hi = m->nconns, mid;

	while (lo < hi) {
		mid = (lo + hi) / 2;
		if (m->conns[mid].id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return (lo);
}

struct top_conn *
model_find(struct top_model *m, uint64_t id)
{
	size_t	i = model_lower(m, id);

	return (i < m->nconns && m->conns[i].id == id ? &m->conns[i] : NULL);
}

struct top_conn *
model_get(struct top_model *m, uint64_t id)
{
	size_t	i = model_lower(m, id);

	if (i < m->nconns && m->conns[i].id == id)
		return (&m->conns[i]);
	if (m->nconns == m->cap) {
		m->cap = m->cap * 2 + 64;
		m->conns = realloc(m->conns, m->cap * sizeof *m->conns);
		if (m->conns == NULL)
			abort();
	}
	memmove(&m->conns[i + 1], &m->conns[i],
	    (m->nconns - i) * sizeof *m->conns);
	m->nconns++;
	memset(&m->conns[i], 0, sizeof m->conns[i]);
	m->conns[i].id = id;
	snprintf(m->conns[i].client, sizeof m->conns[i].client, "?");
	return (&m->conns[i]);
}

void
model_sweep(struct top_model *m)
{
	size_t	i, k = 0;

	for (i = 0; i < m->nconns; i++) {
		if (!m->conns[i].seen)
			continue;
		m->conns[i].seen = 0;
		if (k != i)
			m->conns[k] = m->conns[i];
		k++;
	}
	m->nconns = k;
}

/* ---- JSON helpers ------------------------------------------------------- */

static uint64_t
jnum(json_t *o, const char *k)
{
	json_t	*v = json_object_get(o, k);

	if (json_is_integer(v))
		return (json_integer_value(v) < 0 ? 0 :
		    (uint64_t)json_integer_value(v));
	if (json_is_real(v))
		return (json_real_value(v) < 0 ? 0 :
		    (uint64_t)json_real_value(v));
	if (json_is_true(v))
		return (1);
	return (0);
}

static double
jd(json_t *o, const char *k)
{
	return (json_number_value(json_object_get(o, k)));
}

static void
js(json_t *o, const char *k, char *dst, size_t len)
{
	const char	*s = json_string_value(json_object_get(o, k));

	snprintf(dst, len, "%s", s != NULL ? s : "");
}

void
model_fact_add(struct top_detail *d, const char *key, const char *value)
{
	struct top_fact	*f;

	if (d->nfacts == TOP_FACTS)
		return;
	f = &d->facts[d->nfacts++];
	snprintf(f->key, sizeof f->key, "%s", key);
	snprintf(f->value, sizeof f->value, "%s", value);
}

const char *
model_fact(const struct top_detail *d, const char *key)
{
	int	i;

	for (i = 0; i < d->nfacts; i++)
		if (strcmp(d->facts[i].key, key) == 0)
			return (d->facts[i].value);
	return ("");
}

static void
model_rates(json_t *o, struct top_rates *r)
{
	r->bytes_in = jd(o, "bytes_in");
	r->bytes_out = jd(o, "bytes_out");
	r->msgs_in = jd(o, "msgs_in");
	r->msgs_out = jd(o, "msgs_out");
}

/* Raises each of p's rates to r's where r's is higher. */
static void
model_peak(struct top_rates *p, const struct top_rates *r)
{
	p->bytes_in = MAX(p->bytes_in, r->bytes_in);
	p->bytes_out = MAX(p->bytes_out, r->bytes_out);
	p->msgs_in = MAX(p->msgs_in, r->msgs_in);
	p->msgs_out = MAX(p->msgs_out, r->msgs_out);
}

static void
model_global(struct top_model *m, json_t *g)
{
	struct top_global	*x = &m->g;
	struct top_rates	 peak;
	json_t			*o;
	static const char *const w[] = { "2s", "10s", "40s" };
	int			 i;

	x->valid = 1;
	x->t = jnum(g, "t");
	m->now = x->t;
	x->uptime = jnum(g, "uptime_ns");
	if (jnum(g, "pid") != 0)
		x->pid = (long)jnum(g, "pid");
	o = json_object_get(g, "open");
	x->h1_ws = (unsigned)jnum(o, "h1_ws");
	x->h1_wss = (unsigned)jnum(o, "h1_wss");
	x->h2_ws = (unsigned)jnum(o, "h2_ws");
	x->h2_wss = (unsigned)jnum(o, "h2_wss");
	x->conns_total = jnum(g, "conns_total");
	x->bytes_in = jnum(g, "bytes_in");
	x->bytes_out = jnum(g, "bytes_out");
	x->msgs_in = jnum(g, "msgs_in");
	x->msgs_out = jnum(g, "msgs_out");
	o = json_object_get(g, "rates");
	for (i = 0; i < 3; i++)
		model_rates(json_object_get(o, w[i]), &x->rates[i]);
	/*
	 * Peak: the best of what wsbridge says and every 2 s rate seen
	 * since connecting, so it is never below the rate on screen.
	 */
	model_rates(json_object_get(g, "peak"), &peak);
	model_peak(&x->peak, &peak);
	model_peak(&x->peak, &x->rates[0]);
	o = json_object_get(g, "log");
	x->log_enabled = json_is_true(json_object_get(o, "enabled"));
	js(o, "path", x->log_path, sizeof x->log_path);
	x->log_queue = jnum(o, "queue");
	x->log_queue_size = jnum(o, "queue_size");
	x->log_written = jnum(o, "written");
	x->log_dropped = jnum(o, "dropped");
	x->log_lost = jnum(o, "lost");
	x->log_errors = jnum(o, "errors");
	x->log_failing = json_is_true(json_object_get(o, "failing"));
	x->dropped_snapshots = jnum(g, "dropped_snapshots");
	x->dropped_events = jnum(g, "dropped_events");
}

static void
model_static(struct top_conn *c, json_t *o)
{
	const char	*proto;

	js(o, "peer", c->client, sizeof c->client);
	js(o, "route", c->route, sizeof c->route);
	js(o, "backend", c->backend, sizeof c->backend);
	js(o, "path", c->path, sizeof c->path);
	proto = json_string_value(json_object_get(o, "proto"));
	snprintf(c->proto, sizeof c->proto, "%s", proto != NULL ? proto : "?");
	c->tls = json_is_true(json_object_get(o, "tls"));
	c->h2_stream = (int64_t)jnum(o, "h2_stream");
	c->t_start = jnum(o, "t_start");
	c->have_static = 1;
}

/* Column indices of a snapshot, by name. */
enum {
	C_ID, C_STATE, C_BIN, C_BOUT, C_MIN, C_MOUT, C_LIN, C_LOUT, C_RIN,
	C_ROUT, C_MRIN, C_MROUT, C_QOUT, C_QK, C_QIN, C_SOUT, C_SIN, C_SMAX,
	C_CTL, C_CTLMAX, C_IFM, C_IFS, C_IFT, C_IFC, C_H2W, C_XMAX, C_DMAX,
	C_HOLM, C_HOLS, C_WIN, C_WOUT, C_PIN, C_POUT, C_ZMIN, C_ZMOUT,
	C_ZRIN, C_ZROUT, C_ZR, C_N
};
static const char *const model_cols[CTL_PROTO_NCOLS] = { CTL_PROTO_COLS };
_Static_assert(C_N == CTL_PROTO_NCOLS, "one C_ index per snapshot column");

void
model_zratio(struct top_conn *c)
{
	c->zratio_in = ctl_proto_zratio(c->plain_in, c->wire_in, c->zmsgs_in);
	c->zratio_out = ctl_proto_zratio(c->plain_out, c->wire_out, c->zmsgs_out);
	c->zratio = ctl_proto_zratio(c->plain_in + c->plain_out,
	    c->wire_in + c->wire_out, c->zmsgs_in + c->zmsgs_out);
}

static uint64_t
rowv(json_t *row, const int *idx, int c)
{
	json_t	*v;

	if (idx[c] < 0 || (v = json_array_get(row, (size_t)idx[c])) == NULL)
		return (0);
	if (json_is_integer(v))
		return (json_integer_value(v) < 0 ? 0 :
		    (uint64_t)json_integer_value(v));
	return (0);
}

static void
model_snapshot(struct top_model *m, json_t *o)
{
	json_t		*cols, *rows, *fresh, *row, *v;
	struct top_conn	*c;
	int		 idx[C_N], i;
	size_t		 k, j;
	const char	*st;

	model_global(m, json_object_get(o, "global"));
	if ((rows = json_object_get(o, "conns")) == NULL)
		return;
	cols = json_object_get(o, "cols");
	for (i = 0; i < C_N; i++) {
		idx[i] = -1;
		json_array_foreach(cols, k, v)
			if (json_is_string(v) &&
			    strcmp(json_string_value(v), model_cols[i]) == 0)
				idx[i] = (int)k;
	}
	fresh = json_object_get(o, "new");
	json_array_foreach(fresh, k, v)
		model_static(model_get(m, jnum(v, "id")), v);
	json_array_foreach(rows, j, row) {
		c = model_get(m, rowv(row, idx, C_ID));
		c->seen = 1;
		st = idx[C_STATE] >= 0 ? json_string_value(json_array_get(row,
		    (size_t)idx[C_STATE])) : NULL;
		snprintf(c->state, sizeof c->state, "%s", st != NULL ? st : "");
		c->bytes_in = rowv(row, idx, C_BIN);
		c->bytes_out = rowv(row, idx, C_BOUT);
		c->msgs_in = rowv(row, idx, C_MIN);
		c->msgs_out = rowv(row, idx, C_MOUT);
		c->largest_in = rowv(row, idx, C_LIN);
		c->largest_out = rowv(row, idx, C_LOUT);
		c->rate_in = (double)rowv(row, idx, C_RIN);
		c->rate_out = (double)rowv(row, idx, C_ROUT);
		c->mrate_in = (double)rowv(row, idx, C_MRIN) / 1000;
		c->mrate_out = (double)rowv(row, idx, C_MROUT) / 1000;
		c->q_out = rowv(row, idx, C_QOUT);
		c->q_kernel = rowv(row, idx, C_QK);
		c->q_in = rowv(row, idx, C_QIN);
		c->stall_out = rowv(row, idx, C_SOUT);
		c->stall_in = rowv(row, idx, C_SIN);
		c->stall_max = rowv(row, idx, C_SMAX);
		c->ctl_wait = rowv(row, idx, C_CTL);
		c->ctl_wait_max = rowv(row, idx, C_CTLMAX);
		c->inflight_msg = rowv(row, idx, C_IFM);
		c->inflight_size = rowv(row, idx, C_IFS);
		c->inflight_sent = rowv(row, idx, C_IFT);
		c->inflight_complete = (int)rowv(row, idx, C_IFC);
		c->h2_wait = rowv(row, idx, C_H2W);
		c->xfer_max = rowv(row, idx, C_XMAX);
		c->delay_max = rowv(row, idx, C_DMAX);
		c->hol_msg = rowv(row, idx, C_HOLM);
		c->hol_msg_size = rowv(row, idx, C_HOLS);
		/* Missing from an older wsbridge: 0, shown as "-". */
		c->wire_in = rowv(row, idx, C_WIN);
		c->wire_out = rowv(row, idx, C_WOUT);
		c->plain_in = rowv(row, idx, C_PIN);
		c->plain_out = rowv(row, idx, C_POUT);
		c->zmsgs_in = rowv(row, idx, C_ZMIN);
		c->zmsgs_out = rowv(row, idx, C_ZMOUT);
		c->zratio_in = rowv(row, idx, C_ZRIN);
		c->zratio_out = rowv(row, idx, C_ZROUT);
		c->zratio = rowv(row, idx, C_ZR);
	}
	model_sweep(m);
}

static void
model_queue(json_t *o, struct top_queue *q, struct top_detail *d, int dir)
{
	json_t		*a, *x;
	size_t		 i;
	struct top_msg	*tm;

	memset(q, 0, sizeof *q);
	q->bytes = jnum(o, "bytes");
	q->age = jnum(o, "age_ns");
	q->ctl_age = jnum(o, "ctl_age_ns");
	q->ctl_age_opcode = (unsigned)jnum(o, "ctl_age_opcode");
	q->inflight_msg = jnum(o, "inflight_msg");
	q->inflight_size = jnum(o, "inflight_size");
	q->inflight_sent = jnum(o, "inflight_sent");
	q->inflight_complete = (int)jnum(o, "inflight_complete");
	q->max_wait = jnum(o, "max_wait_ns");
	q->max_wait_msg = jnum(o, "max_wait_msg");
	q->max_wait_msg_size = jnum(o, "max_wait_msg_size");
	q->ctl_last = jnum(o, "ctl_last_ns");
	q->ctl_last_opcode = (unsigned)jnum(o, "ctl_last_opcode");
	q->ctl_max = jnum(o, "ctl_max_ns");
	q->ctl_count = jnum(o, "ctl_count");
	q->ctl_sum = jnum(o, "ctl_sum_ns");
	q->transfer_max = jnum(o, "transfer_max_ns");
	q->delay_max = jnum(o, "delay_max_ns");
	q->delay_max_msg = jnum(o, "delay_max_msg");
	q->merged = (int)jnum(o, "merged");
	a = json_object_get(o, "messages");
	json_array_foreach(a, i, x) {
		if (d->nmsgs >= TOP_MSGS)
			break;
		tm = &d->msgs[d->nmsgs++];
		tm->dir = (uint8_t)dir;
		tm->msg_no = jnum(x, "msg");
		tm->size = jnum(x, "size");
		tm->t_first = d->now - jnum(x, "first_ago_ns");
		tm->t_done = d->now - jnum(x, "done_ago_ns");
		tm->delay_known = !json_is_null(json_object_get(x,
		    "delay_next_ns"));
		tm->delay_next = jnum(x, "delay_next_ns");
	}
}

static void
model_series(json_t *a, uint64_t *v)
{
	size_t	n = json_array_size(a), i, off;

	memset(v, 0, TOP_SERIES * sizeof *v);
	off = n > TOP_SERIES ? n - TOP_SERIES : 0;
	for (i = off; i < n; i++)
		v[TOP_SERIES - (n - off) + (i - off)] = (uint64_t)
		    json_integer_value(json_array_get(a, i));
}

/*
 * The message number of each data frame of a "conn" reply, when the reply
 * does not carry them: its msgs_in/msgs_out count the messages finished
 * each way by the time of the reply, and the frames end at that moment, so
 * walking them back from the newest, the open (or next) message is
 * msgs + 1 and each FIN frame met finishes the one before.
 */
static void
model_msg_numbers(struct top_detail *d, uint64_t msgs_in, uint64_t msgs_out)
{
	uint64_t		 next[2] = { msgs_in + 1, msgs_out + 1 };
	struct top_frame	*f;
	int			 i;

	for (i = d->nframes - 1; i >= 0; i--) {
		f = &d->frames[i];
		if (f->opcode >= 8 || f->msg_no != 0)
			continue;	/* control frame, or numbered */
		if (f->fin && next[f->dir] > 1)
			next[f->dir]--;
		f->msg_no = next[f->dir];
	}
}

static void
model_detail(struct top_model *m, json_t *c)
{
	struct top_detail	*d = &m->d;
	struct top_conn		*tc;
	json_t			*a, *x, *s;
	const char		*key;
	size_t			 i, n;
	int			 dir;

	memset(d, 0, sizeof *d);
	d->id = jnum(c, "id");
	d->valid = 1;
	d->now = m->now != 0 ? m->now : jnum(c, "t_start");
	if ((tc = model_find(m, d->id)) != NULL && !tc->have_static)
		model_static(tc, c);
	json_object_foreach(c, key, x)
		if (json_is_string(x))
			model_fact_add(d, key, json_string_value(x));
	js(c, "closed_by", d->closed_by, sizeof d->closed_by);
	d->close_in = (uint16_t)jnum(c, "close_code_in");
	d->close_out = (uint16_t)jnum(c, "close_code_out");
	d->frames_in = jnum(c, "frames_in");
	d->frames_out = jnum(c, "frames_out");
	d->backend_in = jnum(c, "backend_in");
	d->backend_out = jnum(c, "backend_out");
	for (dir = 0; dir < 2; dir++) {
		a = json_object_get(c, dir == 0 ? "hist_in" : "hist_out");
		for (i = 0; i < TOP_HIST && i < json_array_size(a); i++)
			d->hist[dir][i] = (uint64_t)json_integer_value(
			    json_array_get(a, i));
	}
	s = json_object_get(c, "series");
	model_series(json_object_get(s, "bytes_in"), d->series[0]);
	model_series(json_object_get(s, "bytes_out"), d->series[1]);
	model_series(json_object_get(s, "msgs_in"), d->series[2]);
	model_series(json_object_get(s, "msgs_out"), d->series[3]);
	d->nseries = TOP_SERIES;
	model_queue(json_object_get(c, "queue_in"), &d->q[0], d, 0);
	model_queue(json_object_get(c, "queue_out"), &d->q[1], d, 1);
	if ((x = json_object_get(c, "h2")) != NULL) {
		d->has_h2 = 1;
		d->h2_stream_wait = jnum(x, "out_stream_wait_ns");
		d->h2_conn_wait = jnum(x, "out_conn_wait_ns");
		d->h2_blocker = (int32_t)jnum(x, "out_conn_blocker");
		d->h2_in_stall = jnum(x, "in_stall_ns");
	}
	x = json_object_get(c, "rx_msg");
	d->rx_active = json_is_true(json_object_get(x, "active"));
	d->rx_known = jnum(x, "known");
	d->rx_received = jnum(x, "received");
	d->rx_final = json_is_true(json_object_get(x, "final"));
	a = json_object_get(c, "frames");
	n = json_array_size(a);
	for (i = n > TOP_FRAMES ? n - TOP_FRAMES : 0; i < n; i++) {
		struct top_frame *f = &d->frames[d->nframes++];

		x = json_array_get(a, i);
		f->t = jnum(x, "t");
		f->dir = strcmp(json_string_value(json_object_get(x, "dir")) ?
		    json_string_value(json_object_get(x, "dir")) : "in",
		    "out") == 0;
		f->opcode = (uint8_t)jnum(x, "opcode");
		f->fin = (uint8_t)jnum(x, "fin");
		f->rsv = (uint8_t)jnum(x, "rsv");
		f->masked = (uint8_t)jnum(x, "masked");
		f->len = jnum(x, "len");
		f->close_code = (uint16_t)jnum(x, "close_code");
		f->status = (uint8_t)jnum(x, "status");
		f->msg_no = jnum(x, "msg");
	}
	model_msg_numbers(d, jnum(c, "msgs_in"), jnum(c, "msgs_out"));
}

int
model_apply_json(struct top_model *m, const char *line, size_t len)
{
	json_t		*o;
	json_error_t	 err;
	const char	*type;
	int		 rc = 0;

	if ((o = json_loadb(line, len, 0, &err)) == NULL)
		return (-1);
	type = json_string_value(json_object_get(o, "type"));
	if (type == NULL)
		rc = 0;
	else if (strcmp(type, "snapshot") == 0) {
		model_snapshot(m, o);
		rc = 1;
	} else if (strcmp(type, "conn") == 0) {
		model_detail(m, json_object_get(o, "conn"));
		rc = 1;
	} else if (strcmp(type, "hello") == 0) {
		js(o, "version", m->g.version, sizeof m->g.version);
		m->g.pid = (long)jnum(o, "pid");
		rc = 1;
	} else if (strcmp(type, "error") == 0) {
		snprintf(m->status, sizeof m->status, "wsbridge: %s",
		    json_string_value(json_object_get(o, "message")) ?
		    json_string_value(json_object_get(o, "message")) : "error");
		/* The connection in the detail view has gone. */
		if (strcmp(json_string_value(json_object_get(o, "code")) ?
		    json_string_value(json_object_get(o, "code")) : "",
		    "no-such-connection") == 0)
			m->d.valid = 0;
		rc = 1;
	}
	json_decref(o);
	return (rc);
}
