/*
 * replay.c -- wsbridge-top --db FILE: a recorded frame log (docs/framelog.md)
 * as the same model the live views read. Sessions become the connection
 * table, the frames table gives the detail view (recent frames, histogram,
 * per-second rates) and, in schema 2, the head-of-line columns give the
 * head-of-line view. Read-only: wsbridge may still be writing the file.
 */
#include "wsb_autoconf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "replay.h"
#include "top.h"

struct replay {
	sqlite3		*db;
	int		 version;	/* PRAGMA user_version */
};

static unsigned
replay_bucket(uint64_t len)
{
	unsigned	b = 0;

	if (len == 0)
		return (0);
	while (len > 1 && b < TOP_HIST - 2) {
		len >>= 1;
		b++;
	}
	return (b + 1);
}

static uint64_t
col_u64(sqlite3_stmt *st, int i)
{
	sqlite3_int64	v = sqlite3_column_int64(st, i);

	return (v < 0 ? 0 : (uint64_t)v);
}

static void
col_str(sqlite3_stmt *st, int i, char *dst, size_t len)
{
	const unsigned char	*s = sqlite3_column_text(st, i);

	snprintf(dst, len, "%s", s != NULL ? (const char *)s : "");
}

static int64_t
replay_int(struct replay *r, const char *sql)
{
	sqlite3_stmt	*st;
	int64_t		 v = -1;

	if (sqlite3_prepare_v2(r->db, sql, -1, &st, NULL) != SQLITE_OK)
		return (-1);
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return (v);
}

struct replay *
replay_open(const char *path, char **cause)
{
	struct replay	*r;
	static char	 msg[512];

	r = calloc(1, sizeof *r);
	if (r == NULL)
		abort();
	if (sqlite3_open_v2(path, &r->db, SQLITE_OPEN_READONLY, NULL) !=
	    SQLITE_OK) {
		snprintf(msg, sizeof msg, "%s: %s", path, r->db != NULL ?
		    sqlite3_errmsg(r->db) : "cannot open");
		goto fail;
	}
	sqlite3_busy_timeout(r->db, 2000);
	r->version = (int)replay_int(r, "PRAGMA user_version");
	if (r->version < 1 || replay_int(r,
	    "SELECT count(*) FROM sqlite_master WHERE name = 'frames'") != 1) {
		snprintf(msg, sizeof msg, "%s: not a wsbridge frame log "
		    "(user_version %d)", path, r->version);
		goto fail;
	}
	return (r);
fail:
	*cause = msg;
	replay_close(r);
	return (NULL);
}

void
replay_close(struct replay *r)
{
	if (r == NULL)
		return;
	sqlite3_close(r->db);
	free(r);
}

/* Rates over the recording's last w seconds, ending at its last frame. */
static void
replay_rates(struct replay *r, uint64_t t1, unsigned w, struct top_rates *out)
{
	sqlite3_stmt	*st;
	/* Schema 3: inflated payload, as the live numbers count it. */
	const char	*sql = r->version >= 3 ? "SELECT dir, sum(CASE WHEN "
	    "msg_no IS NOT NULL THEN coalesce(plain_len, len) ELSE 0 END), "
	    "sum(CASE WHEN msg_no IS NOT NULL AND fin = 1 THEN 1 ELSE 0 END) "
	    "FROM frames WHERE t > ?1 GROUP BY dir" :
	    "SELECT dir, sum(CASE WHEN msg_no IS NOT NULL THEN "
	    "len ELSE 0 END), sum(CASE WHEN msg_no IS NOT NULL AND fin = 1 "
	    "THEN 1 ELSE 0 END) FROM frames WHERE t > ?1 GROUP BY dir";

	memset(out, 0, sizeof *out);
	if (sqlite3_prepare_v2(r->db, sql, -1, &st, NULL) != SQLITE_OK)
		return;
	sqlite3_bind_int64(st, 1, (sqlite3_int64)(t1 - (uint64_t)w *
	    1000000000ULL));
	while (sqlite3_step(st) == SQLITE_ROW) {
		int in = strcmp((const char *)sqlite3_column_text(st, 0),
		    "in") == 0;
		double b = (double)sqlite3_column_int64(st, 1) / w;
		double m = (double)sqlite3_column_int64(st, 2) / w;

		if (in) {
			out->bytes_in = b;
			out->msgs_in = m;
		} else {
			out->bytes_out = b;
			out->msgs_out = m;
		}
	}
	sqlite3_finalize(st);
}

int
replay_load(struct replay *r, struct top_model *m)
{
	sqlite3_stmt	*st;
	struct top_conn	*c;
	struct top_global *g = &m->g;
	const char	*sql;
	int		 v2 = r->version >= 2;
	uint64_t	 id;

	model_clear_conns(m);
	memset(g, 0, sizeof *g);
	g->valid = 1;
	snprintf(g->version, sizeof g->version, "schema %d", r->version);
	m->rp_frames = (uint64_t)replay_int(r, "SELECT count(*) FROM frames");
	m->rp_sessions = (uint64_t)replay_int(r,
	    "SELECT count(*) FROM sessions");
	m->rp_t0 = (uint64_t)replay_int(r, "SELECT coalesce(min(t_start), 0) "
	    "FROM sessions");
	m->rp_t1 = (uint64_t)replay_int(r, "SELECT max(coalesce((SELECT max(t) "
	    "FROM frames), 0), coalesce((SELECT max(t_end) FROM sessions), 0))");
	m->now = m->rp_t1;
	g->t = m->rp_t1;
	g->uptime = m->rp_t1 > m->rp_t0 ? m->rp_t1 - m->rp_t0 : 0;

	sql = "SELECT id, coalesce(client_addr, '?') || ':' || "
	    "coalesce(client_port, 0), coalesce(path, ''), coalesce(route, ''), "
	    "coalesce(backend, ''), coalesce(http_version, '1.1'), "
	    "tls_version IS NOT NULL, coalesce(h2_stream_id, 0), t_start, "
	    "coalesce(t_end, 0), coalesce(closed_by, '') FROM sessions "
	    "ORDER BY id";
	if (sqlite3_prepare_v2(r->db, sql, -1, &st, NULL) != SQLITE_OK)
		return (-1);
	while (sqlite3_step(st) == SQLITE_ROW) {
		c = model_get(m, col_u64(st, 0));
		col_str(st, 1, c->client, sizeof c->client);
		col_str(st, 2, c->path, sizeof c->path);
		col_str(st, 3, c->route, sizeof c->route);
		col_str(st, 4, c->backend, sizeof c->backend);
		snprintf(c->proto, sizeof c->proto, "%s",
		    strcmp((const char *)sqlite3_column_text(st, 5), "2") == 0 ?
		    "h2" : "h1");
		c->tls = sqlite3_column_int(st, 6);
		c->h2_stream = sqlite3_column_int64(st, 7);
		c->t_start = col_u64(st, 8);
		c->t_end = col_u64(st, 9);
		snprintf(c->state, sizeof c->state, "%s", c->t_end ? "closed" :
		    "live");
		c->have_static = 1;
		if (strcmp(c->proto, "h2") == 0)
			c->tls ? g->h2_wss++ : g->h2_ws++;
		else
			c->tls ? g->h1_wss++ : g->h1_ws++;
		g->conns_total++;
	}
	sqlite3_finalize(st);

	/* What the frames say, per session and direction. */
	sql = v2 ? "SELECT session_id, dir, sum(CASE WHEN msg_no IS NOT NULL "
	    "THEN len ELSE 0 END), sum(CASE WHEN msg_no IS NOT NULL AND fin = 1 "
	    "THEN 1 ELSE 0 END), max(t), coalesce(max(wait_ns), 0), "
	    "coalesce(max(next_delay_ns), 0), coalesce(max(transfer_ns), 0) "
	    "FROM frames GROUP BY session_id, dir" :
	    "SELECT session_id, dir, sum(CASE WHEN msg_no IS NOT NULL "
	    "THEN len ELSE 0 END), sum(CASE WHEN msg_no IS NOT NULL AND fin = 1 "
	    "THEN 1 ELSE 0 END), max(t), 0, 0, 0 FROM frames "
	    "GROUP BY session_id, dir";
	if (sqlite3_prepare_v2(r->db, sql, -1, &st, NULL) != SQLITE_OK)
		return (-1);
	while (sqlite3_step(st) == SQLITE_ROW) {
		id = col_u64(st, 0);
		if ((c = model_find(m, id)) == NULL)
			continue;	/* its session row was pruned */
		if (strcmp((const char *)sqlite3_column_text(st, 1), "in") ==
		    0) {
			c->bytes_in = col_u64(st, 2);
			c->msgs_in = col_u64(st, 3);
		} else {
			c->bytes_out = col_u64(st, 2);
			c->msgs_out = col_u64(st, 3);
		}
		c->ctl_wait_max = MAX(c->ctl_wait_max, col_u64(st, 5));
		c->delay_max = MAX(c->delay_max, col_u64(st, 6));
		c->xfer_max = MAX(c->xfer_max, col_u64(st, 7));
		c->stall_max = MAX(c->ctl_wait_max, c->delay_max);
		g->bytes_in += 0;
	}
	sqlite3_finalize(st);

	/*
	 * Schema 3: wire and inflated payload per direction, for the ratio
	 * (the frames say it for live sessions too, whose session row has
	 * no counters yet).
	 */
	sql = "SELECT session_id, dir, sum(len), sum(coalesce(plain_len, len)), "
	    "sum(rsv1 = 1 AND frag = 0) FROM frames WHERE msg_no IS NOT NULL "
	    "GROUP BY session_id, dir";
	if (r->version >= 3 &&
	    sqlite3_prepare_v2(r->db, sql, -1, &st, NULL) == SQLITE_OK) {
		while (sqlite3_step(st) == SQLITE_ROW) {
			if ((c = model_find(m, col_u64(st, 0))) == NULL)
				continue;
			if (strcmp((const char *)sqlite3_column_text(st, 1),
			    "in") == 0) {
				c->wire_in = col_u64(st, 2);
				c->plain_in = c->bytes_in = col_u64(st, 3);
				c->zmsgs_in = col_u64(st, 4);
			} else {
				c->wire_out = col_u64(st, 2);
				c->plain_out = c->bytes_out = col_u64(st, 3);
				c->zmsgs_out = col_u64(st, 4);
			}
			model_zratio(c);
		}
		sqlite3_finalize(st);
	}

	/* Largest message and, with schema 2, the one that delayed most. */
	sql = r->version >= 3 ? "SELECT session_id, dir, max(plain_size) "
	    "FROM messages GROUP BY session_id, dir" :
	    "SELECT session_id, dir, max(size) FROM messages "
	    "GROUP BY session_id, dir";
	if (sqlite3_prepare_v2(r->db, sql, -1, &st, NULL) == SQLITE_OK) {
		while (sqlite3_step(st) == SQLITE_ROW) {
			if ((c = model_find(m, col_u64(st, 0))) == NULL)
				continue;
			if (strcmp((const char *)sqlite3_column_text(st, 1),
			    "in") == 0)
				c->largest_in = col_u64(st, 2);
			else
				c->largest_out = col_u64(st, 2);
		}
		sqlite3_finalize(st);
	}
	if (v2 && sqlite3_prepare_v2(r->db, "SELECT session_id, msg_no, "
	    "next_delay_ns FROM frames WHERE next_delay_ns > 0 "
	    "ORDER BY next_delay_ns", -1, &st, NULL) == SQLITE_OK) {
		while (sqlite3_step(st) == SQLITE_ROW) {
			if ((c = model_find(m, col_u64(st, 0))) == NULL)
				continue;
			c->hol_msg = col_u64(st, 1);	/* the last is worst */
		}
		sqlite3_finalize(st);
	}

	for (id = 0; id < m->nconns; id++) {
		c = &m->conns[id];
		g->bytes_in += c->bytes_in;
		g->bytes_out += c->bytes_out;
		g->msgs_in += c->msgs_in;
		g->msgs_out += c->msgs_out;
		/* Average rates over the session's life. */
		if (c->t_end > c->t_start || m->rp_t1 > c->t_start) {
			double s = (double)((c->t_end ? c->t_end : m->rp_t1) -
			    c->t_start) / 1e9;

			if (s > 0) {
				c->rate_in = (double)c->bytes_in / s;
				c->rate_out = (double)c->bytes_out / s;
			}
		}
	}
	replay_rates(r, m->rp_t1, 2, &g->rates[0]);
	replay_rates(r, m->rp_t1, 10, &g->rates[1]);
	replay_rates(r, m->rp_t1, 40, &g->rates[2]);
	/* Peak: the best 2-second bucket of the recording. */
	sql = r->version >= 3 ? "SELECT dir, max(b), max(n) FROM (SELECT dir, "
	    "t / 2000000000 AS k, sum(CASE WHEN msg_no IS NOT NULL THEN "
	    "coalesce(plain_len, len) ELSE 0 END) / 2.0 AS b,"
	    " sum(CASE WHEN msg_no IS NOT NULL AND fin = 1 THEN 1 ELSE 0 END) /"
	    " 2.0 AS n FROM frames GROUP BY dir, k) GROUP BY dir" :
	    "SELECT dir, max(b), max(n) FROM (SELECT dir, t / 2000000000 AS k,"
	    " sum(CASE WHEN msg_no IS NOT NULL THEN len ELSE 0 END) / 2.0 AS b,"
	    " sum(CASE WHEN msg_no IS NOT NULL AND fin = 1 THEN 1 ELSE 0 END) /"
	    " 2.0 AS n FROM frames GROUP BY dir, k) GROUP BY dir";
	if (sqlite3_prepare_v2(r->db, sql, -1, &st, NULL) == SQLITE_OK) {
		while (sqlite3_step(st) == SQLITE_ROW) {
			if (strcmp((const char *)sqlite3_column_text(st, 0),
			    "in") == 0) {
				g->peak.bytes_in = sqlite3_column_double(st, 1);
				g->peak.msgs_in = sqlite3_column_double(st, 2);
			} else {
				g->peak.bytes_out = sqlite3_column_double(st, 1);
				g->peak.msgs_out = sqlite3_column_double(st, 2);
			}
		}
		sqlite3_finalize(st);
	}
	/* The log's own health, from log_status. */
	g->log_enabled = 1;
	snprintf(g->log_path, sizeof g->log_path, "%.100s", m->source);
	if (sqlite3_prepare_v2(r->db, "SELECT sum(frames_written), "
	    "sum(frames_dropped), sum(records_lost), sum(errors_full + "
	    "errors_busy + errors_readonly + errors_io) FROM log_status",
	    -1, &st, NULL) == SQLITE_OK) {
		if (sqlite3_step(st) == SQLITE_ROW) {
			g->log_written = col_u64(st, 0);
			g->log_dropped = col_u64(st, 1);
			g->log_lost = col_u64(st, 2);
			g->log_errors = col_u64(st, 3);
		}
		sqlite3_finalize(st);
	}
	return (0);
}

/* The control socket's name for a sessions column. */
static const char *
replay_fact_key(const char *column)
{
	static const char *const alias[][2] = {
		{ "protocol", "subprotocol" },
		{ "protocols_offered", "protocols" },
	};
	size_t	i;

	for (i = 0; i < sizeof alias / sizeof alias[0]; i++)
		if (strcmp(column, alias[i][0]) == 0)
			return (alias[i][1]);
	return (column);
}

int
replay_detail(struct replay *r, struct top_model *m, uint64_t id)
{
	struct top_detail	*d = &m->d;
	struct top_conn		*c = model_find(m, id);
	sqlite3_stmt		*st;
	const char		*sql;
	struct top_frame	 tmp;
	uint64_t		 end, sec, t1;
	int			 v2 = r->version >= 2, i, dir, n;

	memset(d, 0, sizeof *d);
	d->id = id;
	if (c == NULL)
		return (-1);
	/*
	 * The session's text columns are its facts, whatever the file's
	 * version holds, under the control socket's names.
	 */
	sql = "SELECT *, coalesce(close_code_in, 0), coalesce(close_code_out, "
	    "0), coalesce(backend_bytes_in, 0), coalesce(backend_bytes_out, 0) "
	    "FROM sessions WHERE id = ?1";
	if (sqlite3_prepare_v2(r->db, sql, -1, &st, NULL) != SQLITE_OK)
		return (-1);
	sqlite3_bind_int64(st, 1, (sqlite3_int64)id);
	if (sqlite3_step(st) == SQLITE_ROW) {
		n = sqlite3_column_count(st) - 4;
		for (i = 0; i < n; i++)
			if (sqlite3_column_type(st, i) == SQLITE_TEXT)
				model_fact_add(d, replay_fact_key(
				    sqlite3_column_name(st, i)), (const char *)
				    sqlite3_column_text(st, i));
		snprintf(d->closed_by, sizeof d->closed_by, "%s",
		    model_fact(d, "closed_by"));
		d->close_in = (uint16_t)sqlite3_column_int(st, n);
		d->close_out = (uint16_t)sqlite3_column_int(st, n + 1);
		d->backend_in = col_u64(st, n + 2);
		d->backend_out = col_u64(st, n + 3);
	}
	sqlite3_finalize(st);

	/* Every frame once: counts, histogram, per-second series, waits. */
	sql = v2 ? "SELECT dir = 'out', opcode, fin, len, t, msg_no, "
	    "coalesce(wait_ns, 0), coalesce(next_delay_ns, 0), "
	    "coalesce(transfer_ns, 0) FROM frames WHERE session_id = ?1 "
	    "ORDER BY id" :
	    "SELECT dir = 'out', opcode, fin, len, t, msg_no, 0, 0, 0 FROM "
	    "frames WHERE session_id = ?1 ORDER BY id";
	if (sqlite3_prepare_v2(r->db, sql, -1, &st, NULL) != SQLITE_OK)
		return (-1);
	sqlite3_bind_int64(st, 1, (sqlite3_int64)id);
	end = c->t_end != 0 ? c->t_end : m->rp_t1;
	d->now = end;
	t1 = end / 1000000000ULL;
	while (sqlite3_step(st) == SQLITE_ROW) {
		uint64_t len = col_u64(st, 3), t = col_u64(st, 4);
		unsigned op = (unsigned)sqlite3_column_int(st, 1);
		uint64_t wait = col_u64(st, 6), delay = col_u64(st, 7);
		uint64_t xfer = col_u64(st, 8), msg = col_u64(st, 5);
		struct top_queue *q;

		dir = sqlite3_column_int(st, 0);
		q = &d->q[dir];
		dir ? d->frames_out++ : d->frames_in++;
		d->hist[dir][replay_bucket(len)]++;
		sec = t / 1000000000ULL;
		if (sec <= t1 && t1 - sec < TOP_SERIES && op < 8) {
			d->series[dir][TOP_SERIES - 1 - (t1 - sec)] += len;
			if (sqlite3_column_int(st, 2))
				d->series[2 + dir][TOP_SERIES - 1 -
				    (t1 - sec)]++;
		}
		if (op >= 8 && wait != 0) {
			q->ctl_count++;
			q->ctl_sum += wait;
			q->ctl_last = wait;
			q->ctl_last_opcode = op;
			q->ctl_max = MAX(q->ctl_max, wait);
		}
		if (delay > q->delay_max) {
			q->delay_max = delay;
			q->delay_max_msg = msg;
		}
		q->transfer_max = MAX(q->transfer_max, xfer);
		q->max_wait = MAX(q->max_wait, MAX(wait, delay));
		if (delay == q->max_wait && delay != 0)
			q->max_wait_msg = msg;
	}
	sqlite3_finalize(st);
	d->nseries = TOP_SERIES;

	/* The last frames, oldest first. */
	sql = v2 ? "SELECT t, dir = 'out', opcode, fin, rsv1 | rsv2 << 1 | "
	    "rsv3 << 2, masked, len, coalesce(msg_no, 0), "
	    "coalesce(close_code, 0), CASE status WHEN 'incomplete' THEN 1 "
	    "WHEN 'rejected' THEN 2 ELSE 0 END, coalesce(wait_ns, 0) FROM "
	    "frames WHERE session_id = ?1 ORDER BY id DESC LIMIT ?2" :
	    "SELECT t, dir = 'out', opcode, fin, rsv1 | rsv2 << 1 | "
	    "rsv3 << 2, masked, len, coalesce(msg_no, 0), "
	    "coalesce(close_code, 0), CASE status WHEN 'incomplete' THEN 1 "
	    "WHEN 'rejected' THEN 2 ELSE 0 END, 0 FROM "
	    "frames WHERE session_id = ?1 ORDER BY id DESC LIMIT ?2";
	if (sqlite3_prepare_v2(r->db, sql, -1, &st, NULL) != SQLITE_OK)
		return (-1);
	sqlite3_bind_int64(st, 1, (sqlite3_int64)id);
	sqlite3_bind_int(st, 2, TOP_FRAMES);
	while (sqlite3_step(st) == SQLITE_ROW && d->nframes < TOP_FRAMES) {
		struct top_frame *f = &d->frames[d->nframes++];

		f->t = col_u64(st, 0);
		f->dir = (uint8_t)sqlite3_column_int(st, 1);
		f->opcode = (uint8_t)sqlite3_column_int(st, 2);
		f->fin = (uint8_t)sqlite3_column_int(st, 3);
		f->rsv = (uint8_t)sqlite3_column_int(st, 4);
		f->masked = (uint8_t)sqlite3_column_int(st, 5);
		f->len = col_u64(st, 6);
		f->msg_no = col_u64(st, 7);
		f->close_code = (uint16_t)sqlite3_column_int(st, 8);
		f->status = (uint8_t)sqlite3_column_int(st, 9);
		f->wait_ns = col_u64(st, 10);
	}
	sqlite3_finalize(st);
	n = d->nframes;
	for (i = 0; i < n / 2; i++) {
		tmp = d->frames[i];
		d->frames[i] = d->frames[n - 1 - i];
		d->frames[n - 1 - i] = tmp;
	}

	/* The timeline: the last messages, both directions. */
	sql = v2 ? "SELECT dir = 'out', msg_no, size, t_first, t_last, "
	    "transfer_ns, next_delay_ns FROM messages WHERE session_id = ?1 "
	    "ORDER BY t_first DESC LIMIT ?2" :
	    "SELECT dir = 'out', msg_no, size, t_first, t_last, NULL, NULL "
	    "FROM messages WHERE session_id = ?1 ORDER BY t_first DESC "
	    "LIMIT ?2";
	if (sqlite3_prepare_v2(r->db, sql, -1, &st, NULL) == SQLITE_OK) {
		sqlite3_bind_int64(st, 1, (sqlite3_int64)id);
		sqlite3_bind_int(st, 2, TOP_MSGS / 4);
		while (sqlite3_step(st) == SQLITE_ROW && d->nmsgs < TOP_MSGS) {
			struct top_msg *tm = &d->msgs[d->nmsgs++];

			tm->dir = (uint8_t)sqlite3_column_int(st, 0);
			tm->msg_no = col_u64(st, 1);
			tm->size = col_u64(st, 2);
			tm->t_first = col_u64(st, 3);
			tm->t_done = sqlite3_column_type(st, 5) != SQLITE_NULL ?
			    tm->t_first + col_u64(st, 5) : col_u64(st, 4);
			tm->delay_known = sqlite3_column_type(st, 6) !=
			    SQLITE_NULL;
			tm->delay_next = col_u64(st, 6);
		}
		sqlite3_finalize(st);
		for (i = 0; i < d->nmsgs / 2; i++) {
			struct top_msg t = d->msgs[i];

			d->msgs[i] = d->msgs[d->nmsgs - 1 - i];
			d->msgs[d->nmsgs - 1 - i] = t;
		}
	}
	for (dir = 0; dir < 2; dir++)
		if (d->q[dir].max_wait_msg != 0 && d->q[dir].max_wait_msg ==
		    c->hol_msg)
			d->q[dir].max_wait_msg_size = c->hol_msg_size;
	d->valid = 1;
	return (0);
}
