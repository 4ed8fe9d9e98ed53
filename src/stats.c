/*
 * stats.c -- counters, one-second rate buckets, log2 histograms and the
 * head-of-line queues (see stats.h; docs/dashboard.md defines the metrics).
 */
#include "wsb_autoconf.h"

#include <stdlib.h>
#include <string.h>

#include "stats.h"
#include "util.h"
#include "ws_frame.h"

#define NS	1000000000ULL

const uint64_t stats_hol_bounds[STATS_HOL_BUCKETS - 1] = {
	100000, 1000000, 5000000, 10000000, 50000000, 100000000, 500000000,
	NS, 5 * NS,
};

void
stats_observe(uint64_t *h, uint64_t *sum, const uint64_t *bounds,
    unsigned nb, uint64_t v)
{
	unsigned	b = 0;

	while (b < nb - 1 && v > bounds[b])
		b++;
	h[b]++;
	*sum += v;
}

/* One head-of-line wait into a histogram (h) and its sum. */
static void
stats_hol_add(uint64_t *h, uint64_t *sum, uint64_t wait)
{
	stats_observe(h, sum, stats_hol_bounds, STATS_HOL_BUCKETS, wait);
}

unsigned
stats_hist_bucket(uint64_t len)
{
	unsigned	b;

	if (len == 0)
		return (0);
	b = 64 - (unsigned)__builtin_clzll(len);	/* 1 + floor(log2) */
	return (b < STATS_HIST - 1 ? b : STATS_HIST - 1);
}

uint64_t
stats_hist_floor(unsigned b)
{
	if (b == 0)
		return (0);
	return (1ULL << (b - 1));
}

/* ---- one-second buckets ------------------------------------------------- */

/* The slow part of stats_secs_roll(): a new second began. */
static void
stats_secs_turn(struct stats_secs *s, uint64_t sec)
{
	uint64_t	k;
	int		d;

	/* A clock that went back (it does not: monotonic) resets too. */
	k = sec > s->sec ? sec - s->sec : STATS_SECS;
	if (k > STATS_SECS)
		k = STATS_SECS;
	while (k-- > 0) {
		s->cur = (s->cur + 1) % STATS_SECS;
		for (d = 0; d < 2; d++) {
			s->bytes[d][s->cur] = 0;
			s->msgs[d][s->cur] = 0;
		}
	}
	s->sec = sec;
	s->sec_ns = sec * NS;
}

void
stats_secs_roll(struct stats_secs *s, uint64_t now)
{
	/* Unsigned: a time before the current second is outside it too. */
	if (now - s->sec_ns >= NS)
		stats_secs_turn(s, now / NS);
}

static inline void
stats_secs_add(struct stats_secs *s, uint64_t now, int dir, uint64_t bytes,
    unsigned msgs)
{
	uint64_t	v;

	if (now - s->sec_ns >= NS)
		stats_secs_turn(s, now / NS);
	v = (uint64_t)s->bytes[dir][s->cur] + bytes;
	s->bytes[dir][s->cur] = v > UINT32_MAX ? UINT32_MAX : (uint32_t)v;
	s->msgs[dir][s->cur] += msgs;
}

/* The bucket i seconds before the current one, or 0 if out of date. */
static uint32_t
stats_secs_at(const struct stats_secs *s, uint64_t now, unsigned back,
    int dir, int msgs)
{
	uint64_t	sec = now / NS, age;
	unsigned	idx;

	age = sec >= s->sec ? sec - s->sec : 0;	/* buckets not rolled yet */
	if (age + back >= STATS_SECS)
		return (0);
	if (back < age)
		return (0);		/* a second nothing happened in */
	back -= (unsigned)age;
	idx = (s->cur + STATS_SECS - back) % STATS_SECS;
	return (msgs ? s->msgs[dir][idx] : s->bytes[dir][idx]);
}

void
stats_secs_rates(const struct stats_secs *s, uint64_t now, unsigned w,
    struct stats_rates *r)
{
	double		span, frac;
	uint64_t	b, m;
	unsigned	i;
	int		d;

	if (w < 1)
		w = 1;
	if (w > STATS_SECS - 1)
		w = STATS_SECS - 1;
	frac = (double)(now % NS) / (double)NS;
	span = (double)w + frac;
	for (d = 0; d < 2; d++) {
		b = m = 0;
		for (i = 0; i <= w; i++) {
			b += stats_secs_at(s, now, i, d, 0);
			m += stats_secs_at(s, now, i, d, 1);
		}
		r->bytes[d] = (double)b / span;
		r->msgs[d] = (double)m / span;
	}
}

void
stats_secs_series(const struct stats_secs *s, uint64_t now,
    enum stats_dir dir, int msgs, unsigned n, uint32_t *out)
{
	unsigned	i;

	if (n > STATS_SECS - 1)
		n = STATS_SECS - 1;
	for (i = 0; i < n; i++)
		out[i] = stats_secs_at(s, now, n - i, dir, msgs);
}

/* ---- queues --------------------------------------------------------------- */

static const struct stats_mark *
stats_q_cmark(const struct stats_q *q, unsigned i)
{
	return (&q->m[(q->head + i) % STATS_MARKS]);
}

static struct stats_mark *
stats_q_mark(struct stats_q *q, unsigned i)
{
	return (&q->m[(q->head + i) % STATS_MARKS]);
}

uint64_t
stats_q_bytes(const struct stats_q *q)
{
	return (q->added - q->taken);
}

uint64_t
stats_q_age(const struct stats_q *q, uint64_t now)
{
	if (q->n == 0 || q->added == q->taken)
		return (0);
	return (now > q->m[q->head].t ? now - q->m[q->head].t : 0);
}

uint64_t
stats_q_ctl_age(const struct stats_q *q, uint64_t now, uint8_t *opcode)
{
	const struct stats_mark	*m;
	unsigned		 i;

	for (i = 0; i < q->n; i++) {
		m = stats_q_cmark(q, i);
		if (m->kind == STATS_K_CONTROL) {
			if (opcode != NULL)
				*opcode = m->opcode;
			return (now > m->t ? now - m->t : 0);
		}
	}
	return (0);
}

uint64_t
stats_q_head_msg(const struct stats_q *q)
{
	const struct stats_mark	*m;
	unsigned		 i;

	for (i = 0; i < q->n; i++) {
		m = stats_q_cmark(q, i);
		if (m->kind == STATS_K_DATA)
			return (m->msg_no);
	}
	return (0);
}

uint64_t
stats_q_inflight(const struct stats_q *q, uint64_t *size, uint64_t *sent,
    int *complete)
{
	const struct stats_mark	*m;
	uint64_t		 msg;
	unsigned		 i;

	*size = *sent = 0;
	*complete = 0;
	if ((msg = stats_q_head_msg(q)) == 0)
		return (0);
	if (msg == q->cur_msg)
		*sent = *size = q->cur_taken;
	for (i = 0; i < q->n; i++) {
		m = stats_q_cmark(q, i);
		if (m->kind != STATS_K_DATA || m->msg_no != msg)
			continue;
		*size += m->payload;
		if (m->last)
			*complete = 1;
	}
	return (msg);
}

/* Appends a piece of n bytes queued at t. */
static inline void
stats_q_add(struct stats_q *q, enum stats_kind kind, size_t n,
    uint64_t payload, uint64_t t, uint64_t tq, uint64_t msg_no, int first,
    int last, unsigned opcode)
{
	struct stats_mark	*m;
	uint64_t		 v;

	if (n == 0)
		return;
	q->added += n;
	if (q->n == STATS_MARKS) {
		/*
		 * Full: the newest piece absorbs these bytes. Their wait is
		 * overestimated (never under); a message boundary inside is
		 * lost, so that message is not timed on its own.
		 */
		m = stats_q_mark(q, q->n - 1);
		if (m->kind != kind || m->msg_no != msg_no)
			q->merged = 1;
		m->end = q->added;
		v = (uint64_t)m->payload + payload;
		m->payload = v > UINT32_MAX ? UINT32_MAX : (uint32_t)v;
		m->last |= last;
		if (kind == STATS_K_DATA) {
			m->kind = STATS_K_DATA;
			m->msg_no = (uint32_t)msg_no;
		}
		return;
	}
	m = stats_q_mark(q, q->n);
	m->end = q->added;
	m->t = t;
	m->tq = tq;
	m->kind = kind;
	m->opcode = opcode;
	m->msg_no = (uint32_t)msg_no;
	m->payload = payload > UINT32_MAX ? UINT32_MAX : (uint32_t)payload;
	m->first = first;
	m->last = last;
	m->blocker = (uint32_t)stats_q_head_msg(q);
	if (m->blocker == msg_no)
		m->blocker = 0;		/* behind its own bytes only */
	q->n++;
}

static struct stats_msg *
stats_q_newest_msg(struct stats_q *q)
{
	if (q->nmsgs == 0)
		return (NULL);
	return (&q->msgs[(q->msgs_head + q->nmsgs - 1) % STATS_MSGS]);
}

static void
stats_report_msg(struct stats_conn *c, enum stats_dir dir,
    const struct stats_msg *sm)
{
	struct stats_done	d;

	if (c->done == NULL)
		return;
	memset(&d, 0, sizeof d);
	d.dir = dir;
	d.kind = STATS_K_DATA;
	d.msg_no = sm->msg_no;
	d.size = sm->size;
	d.transfer_ns = sm->t_done - sm->t_first;
	d.delay_next_ns = sm->delay_next;
	c->done(c->done_arg, &d);
}

/* The newest finished message learns what its successor waited. */
static void
stats_q_settle(struct stats_conn *c, struct stats_global *g,
    enum stats_dir dir, uint64_t t_next)
{
	struct stats_q		*q = &c->q[dir];
	struct stats_msg	*sm;

	if ((sm = stats_q_newest_msg(q)) == NULL || sm->next_known)
		return;
	sm->delay_next = sm->t_done > t_next ? sm->t_done - t_next : 0;
	sm->next_known = 1;
	if (g != NULL)
		stats_hol_add(g->hol_msg[dir], &g->hol_msg_ns[dir],
		    sm->delay_next);
	if (sm->delay_next > q->delay_max) {
		q->delay_max = sm->delay_next;
		q->delay_max_msg = sm->msg_no;
	}
	stats_report_msg(c, dir, sm);
}

/* A piece left: account its wait, its message and its control frame. */
static void
stats_q_pop(struct stats_conn *c, struct stats_global *g, enum stats_dir dir,
    uint64_t now)
{
	struct stats_q		*q = &c->q[dir];
	const struct stats_mark	*m = &q->m[q->head];
	struct stats_msg	*sm;
	struct stats_done	 d;
	uint64_t		 wait;
	unsigned		 i;

	/* Its slot stays as it is until the next stats_q_add(). */
	q->head = (q->head + 1) % STATS_MARKS;
	q->n--;
	wait = now > m->t ? now - m->t : 0;
	if (wait > q->max_wait) {
		q->max_wait = wait;
		q->max_wait_t = now;
		q->max_wait_msg = m->blocker != 0 ? m->blocker : m->msg_no;
		q->max_wait_size = q->max_wait_msg == q->cur_msg ?
		    q->cur_size : 0;
	}
	if (m->kind == STATS_K_CONTROL) {
		q->ctl_last = wait;
		q->ctl_last_op = m->opcode;
		q->ctl_sum += wait;
		q->ctl_count++;
		if (wait > q->ctl_max)
			q->ctl_max = wait;
		if (g != NULL && wait > g->ctl_max)
			g->ctl_max = wait;
		if (g != NULL)
			stats_hol_add(g->hol_ctl[dir], &g->hol_ctl_ns[dir],
			    wait);
		if (c->done != NULL) {
			memset(&d, 0, sizeof d);
			d.dir = dir;
			d.kind = STATS_K_CONTROL;
			d.opcode = m->opcode;
			d.t_queued = m->tq;
			d.wait_ns = wait;
			c->done(c->done_arg, &d);
		}
		return;
	}
	if (m->kind != STATS_K_DATA)
		return;
	if (m->first || m->msg_no != q->cur_msg) {
		q->cur_msg = m->msg_no;
		q->cur_first_t = m->t;
		q->cur_taken = 0;
	}
	q->cur_taken += m->payload;
	if (!m->last)
		return;
	/* The message's last byte left wsbridge. */
	if (q->nmsgs == STATS_MSGS) {
		q->msgs_head = (q->msgs_head + 1) % STATS_MSGS;
		q->nmsgs--;
	}
	sm = &q->msgs[(q->msgs_head + q->nmsgs) % STATS_MSGS];
	q->nmsgs++;
	q->msgs_done++;
	memset(sm, 0, sizeof *sm);
	sm->msg_no = m->msg_no;
	sm->size = q->cur_msg == q->msg_open ? q->msg_open_size : q->cur_taken;
	sm->t_first = q->cur_first_t;
	sm->t_done = now;
	if (sm->t_done - sm->t_first > q->xfer_max)
		q->xfer_max = sm->t_done - sm->t_first;
	/* Its successor, if already queued, waited behind it. */
	for (i = 0; i < q->n; i++) {
		struct stats_mark *nm = stats_q_mark(q, i);

		if (nm->kind == STATS_K_DATA && nm->first) {
			stats_q_settle(c, g, dir, nm->t);
			break;
		}
	}
}

void
stats_q_other(struct stats_q *q, enum stats_dir dir, size_t n, uint64_t now)
{
	stats_q_add(q, STATS_K_OTHER, n, 0, now, now, 0, 0, 0, 0);
}

void
stats_taken(struct stats_conn *c, struct stats_global *g, enum stats_dir dir,
    size_t n, uint64_t now)
{
	struct stats_q	*q = &c->q[dir];

	q->taken += n;
	if (q->taken > q->added)
		q->taken = q->added;	/* bytes we never saw queued */
	while (q->n > 0 && q->m[q->head].end <= q->taken)
		stats_q_pop(c, g, dir, now);
	if (q->n > 0 && q->m[q->head].kind == STATS_K_DATA &&
	    q->m[q->head].msg_no != q->cur_msg && q->m[q->head].first) {
		/* A new message reached the head: it is in flight now. */
		q->cur_msg = q->m[q->head].msg_no;
		q->cur_first_t = q->m[q->head].t;
		q->cur_taken = 0;
	}
}

/* ---- connections ---------------------------------------------------------- */

struct stats_conn *
stats_conn_new(void (*done)(void *, const struct stats_done *), void *arg)
{
	struct stats_conn	*c;

	c = xcalloc(1, sizeof *c);
	c->done = done;
	c->done_arg = arg;
	return (c);
}

void
stats_conn_free(struct stats_conn *c)
{
	struct stats_msg	*sm;
	int			 d;

	if (c == NULL)
		return;
	/* Messages nobody followed: nothing waited behind them. */
	for (d = 0; d < 2; d++) {
		if ((sm = stats_q_newest_msg(&c->q[d])) != NULL &&
		    !sm->next_known) {
			sm->next_known = 1;
			stats_report_msg(c, d, sm);
		}
	}
	free(c->frames_ring);
	free(c);
}

void
stats_conn_keep_frames(struct stats_conn *c)
{
	if (c->frames_ring == NULL)
		c->frames_ring = xcalloc(STATS_FRAMES, sizeof *c->frames_ring);
}

void
stats_global_init(struct stats_global *g, uint64_t now)
{
	memset(g, 0, sizeof *g);
	g->t_start = now;
	stats_secs_roll(&g->secs, now);
}

void
stats_payload(struct stats_conn *c, struct stats_global *g,
    enum stats_dir dir, size_t n, int first, int last, int queued,
    uint64_t now)
{
	struct stats_q	*q = &c->q[dir];

	if (first) {
		c->cur_in_msg = 0;
		q->msg_open = c->msgs[dir] + 1;
		q->msg_open_size = 0;
		if (queued)
			stats_q_settle(c, g, dir, now);
	}
	c->cur_in_msg += n;
	q->msg_open_size += n;
	c->bytes[dir] += n;
	g->bytes[dir] += n;
	if (last) {
		c->msgs[dir]++;
		g->msgs[dir]++;
		if (c->cur_in_msg > c->largest[dir])
			c->largest[dir] = c->cur_in_msg;
	}
	stats_secs_add(&c->secs, now, dir, n, last);
	stats_secs_add(&g->secs, now, dir, n, last);
	if (queued)
		stats_q_add(q, STATS_K_DATA, n, n, now, now, q->msg_open,
		    first, last, 0);
}

void
stats_frame(struct stats_conn *c, struct stats_global *g, enum stats_dir dir,
    unsigned opcode, int fin, uint64_t len, uint64_t plain, unsigned hdr_len,
    uint64_t t_src, uint64_t now)
{
	struct stats_q		*q = &c->q[dir];
	unsigned		 b = stats_hist_bucket(len);
	uint64_t		 t;
	int			 first;

	c->frames[dir]++;
	g->frames[dir]++;
	c->hist[dir][b]++;
	g->hist[dir][b]++;
	if (dir != STATS_OUT)
		return;
	t = t_src != 0 && t_src < now ? t_src : now;
	if (WS_OP_IS_CONTROL(opcode)) {
		stats_q_add(q, STATS_K_CONTROL, hdr_len + len, 0, t, now, 0, 0,
		    0, opcode);
		return;
	}
	/*
	 * Outbound payload is counted here, a frame at a time: inflated
	 * bytes for the totals and rates, framed ones for the queue.
	 */
	first = opcode != WS_OP_CONT;
	if (first) {
		q->msg_open = c->msgs[dir] + 1;
		q->msg_open_size = 0;
		c->cur_out_msg = 0;
		stats_q_settle(c, g, dir, t);
	}
	q->msg_open_size += len;
	c->cur_out_msg += plain;
	c->bytes[dir] += plain;
	g->bytes[dir] += plain;
	if (fin) {
		c->msgs[dir]++;
		g->msgs[dir]++;
		if (c->cur_out_msg > c->largest[dir])
			c->largest[dir] = c->cur_out_msg;
	}
	stats_secs_add(&c->secs, now, dir, plain, fin);
	stats_secs_add(&g->secs, now, dir, plain, fin);
	stats_q_add(q, STATS_K_DATA, hdr_len + len, len, t, now, q->msg_open,
	    first, fin, 0);
}

void
stats_frame_keep(struct stats_conn *c, const struct stats_frame *f)
{
	if (c->frames_ring == NULL)
		return;
	if (c->nframes < STATS_FRAMES)
		c->nframes++;
	c->frames_ring[c->frames_head] = *f;
	c->frames_head = (c->frames_head + 1) % STATS_FRAMES;
}

void
stats_global_tick(struct stats_global *g, uint64_t now)
{
	uint64_t	b, m;
	int		d;

	stats_secs_roll(&g->secs, now);
	for (d = 0; d < 2; d++) {
		/* The last two full seconds. */
		b = (uint64_t)stats_secs_at(&g->secs, now, 1, d, 0) +
		    stats_secs_at(&g->secs, now, 2, d, 0);
		m = (uint64_t)stats_secs_at(&g->secs, now, 1, d, 1) +
		    stats_secs_at(&g->secs, now, 2, d, 1);
		if (b > g->peak_bytes[d])
			g->peak_bytes[d] = b;
		if (m > g->peak_msgs[d])
			g->peak_msgs[d] = m;
	}
}

static uint32_t
stats_sat32(uint64_t v)
{
	return (v > UINT32_MAX ? UINT32_MAX : (uint32_t)v);
}

void
stats_global_add(struct stats_global *dst, const struct stats_global *src,
    uint64_t now)
{
	struct stats_secs	 s = src->secs;
	struct stats_secs	*d = &dst->secs;
	unsigned		 k, i, j, b;
	int			 dir;

	stats_secs_roll(&s, now);
	stats_secs_roll(d, now);
	dst->conns_total += src->conns_total;
	dst->open_h1_ws += src->open_h1_ws;
	dst->open_h1_wss += src->open_h1_wss;
	dst->open_h2_ws += src->open_h2_ws;
	dst->open_h2_wss += src->open_h2_wss;
	dst->ctl_max = MAX(dst->ctl_max, src->ctl_max);
	for (dir = 0; dir < 2; dir++) {
		dst->bytes[dir] += src->bytes[dir];
		dst->msgs[dir] += src->msgs[dir];
		dst->frames[dir] += src->frames[dir];
		dst->peak_bytes[dir] += src->peak_bytes[dir];
		dst->peak_msgs[dir] += src->peak_msgs[dir];
		for (b = 0; b < STATS_HIST; b++)
			dst->hist[dir][b] += src->hist[dir][b];
		for (b = 0; b < STATS_HOL_BUCKETS; b++) {
			dst->hol_msg[dir][b] += src->hol_msg[dir][b];
			dst->hol_ctl[dir][b] += src->hol_ctl[dir][b];
		}
		dst->hol_msg_ns[dir] += src->hol_msg_ns[dir];
		dst->hol_ctl_ns[dir] += src->hol_ctl_ns[dir];
		/* The same second k seconds ago in both rings. */
		for (k = 0; k < STATS_SECS; k++) {
			i = (d->cur + STATS_SECS - k) % STATS_SECS;
			j = (s.cur + STATS_SECS - k) % STATS_SECS;
			d->bytes[dir][i] = stats_sat32((uint64_t)
			    d->bytes[dir][i] + s.bytes[dir][j]);
			d->msgs[dir][i] = stats_sat32((uint64_t)
			    d->msgs[dir][i] + s.msgs[dir][j]);
		}
	}
}
