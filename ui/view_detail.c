/*
 * view_detail.c -- one connection: handshake facts, rates as sparklines,
 * the log2 frame-size histogram, head-of-line per direction, and the most
 * recent frames with the fields Wireshark shows.
 */
#include "wsb_autoconf.h"

#include <stdio.h>
#include <string.h>

#include "top.h"

static int
fact(struct scr *s, int x, int y, const char *label, const char *value,
    int maxw)
{
	int	n;

	n = scr_put(s, x, y, R_LABEL, -1, label);
	n += scr_put(s, x + n, y, R_NORMAL, -1, " ");
	n += scr_put(s, x + n, y, value[0] != '\0' ? R_VALUE : R_DIM,
	    maxw, value[0] != '\0' ? value : "-");
	return (x + n + 2);
}

/* One direction's head-of-line line; returns the next row. */
static int
detail_queue(struct scr *s, int y, const char *name, enum top_role dr,
    const struct top_queue *q, uint64_t kernel)
{
	/* b3 holds composed facts: room for every field at its widest. */
	char	b1[24], b2[24], b3[96];
	int	x;

	x = scr_printf(s, 0, y, dr, -1, "  %-4s", name);
	x = fact(s, x + 1, y, "queued", fmt_bytes(b1, sizeof b1, q->bytes), 10);
	if (kernel != (uint64_t)-1)
		x = fact(s, x, y, "kernel", fmt_bytes(b1, sizeof b1, kernel),
		    10);
	x += scr_put(s, x, y, R_LABEL, -1, "oldest ");
	x += scr_put(s, x, y, stall_role(q->age), -1, fmt_dur(b1, sizeof b1,
	    q->age)) + 2;
	if (q->inflight_msg != 0) {
		snprintf(b3, sizeof b3, "#%llu %s/%s%s",
		    (unsigned long long)q->inflight_msg,
		    fmt_bytes(b1, sizeof b1, q->inflight_sent),
		    fmt_bytes(b2, sizeof b2, q->inflight_size),
		    q->inflight_complete ? "" : "+");
		x = fact(s, x, y, "in flight", b3, 30);
	}
	if (q->ctl_age != 0) {
		x += scr_printf(s, x, y, R_LABEL, -1, "%s waiting ",
		    fmt_opcode(q->ctl_age_opcode));
		x += scr_put(s, x, y, stall_role(q->ctl_age), -1,
		    fmt_dur(b1, sizeof b1, q->ctl_age)) + 2;
	}
	y++;
	x = 6;
	x += scr_put(s, x, y, R_LABEL, -1, "worst wait ");
	x += scr_put(s, x, y, stall_role(q->max_wait), -1, fmt_dur(b1,
	    sizeof b1, q->max_wait));
	if (q->max_wait_msg != 0)
		x += scr_printf(s, x, y, R_NORMAL, -1, " behind #%llu%s%s",
		    (unsigned long long)q->max_wait_msg,
		    q->max_wait_msg_size ? " of " : "",
		    q->max_wait_msg_size ? fmt_bytes(b2, sizeof b2,
		    q->max_wait_msg_size) : "");
	x += 2;
	snprintf(b3, sizeof b3, "%s last, %s max, %llu",
	    fmt_dur(b1, sizeof b1, q->ctl_last), fmt_dur(b2, sizeof b2,
	    q->ctl_max), (unsigned long long)q->ctl_count);
	x = fact(s, x, y, "control waits", b3, 48);
	x = fact(s, x, y, "transfer max", fmt_dur(b1, sizeof b1,
	    q->transfer_max), 12);
	if (q->delay_max != 0) {
		snprintf(b3, sizeof b3, "%s by #%llu", fmt_dur(b1, sizeof b1,
		    q->delay_max), (unsigned long long)q->delay_max_msg);
		x = fact(s, x, y, "delay imposed", b3, 24);
	}
	if (q->merged)
		scr_put(s, x, y, R_DIM, -1, "(busy: some pieces merged)");
	return (y + 1);
}

/*
 * permessage-deflate: the ratio each way and both, with the bytes behind
 * it (inflated -> on the wire) and how many messages were compressed.
 * Returns the next row.
 */
static int
detail_compression(struct scr *s, int y, const struct top_conn *tc)
{
	static const char *const names[2] = { "in ", "out " };
	const uint64_t	plain[2] = { tc->plain_in, tc->plain_out };
	const uint64_t	wire[2] = { tc->wire_in, tc->wire_out };
	const uint64_t	zmsgs[2] = { tc->zmsgs_in, tc->zmsgs_out };
	const uint64_t	ratio[2] = { tc->zratio_in, tc->zratio_out };
	static const enum top_role roles[2] = { R_IN, R_OUT };
	char		b1[24], b2[24], b3[24];
	int		x, i;

	x = scr_put(s, 0, y, R_LABEL, -1, "compression ");
	x += scr_put(s, x, y, tc->zratio != 0 ? R_VALUE : R_DIM, -1,
	    fmt_ratio(b1, sizeof b1, tc->zratio)) + 2;
	for (i = 0; i < 2; i++) {
		x += scr_put(s, x, y, roles[i], -1, names[i]);
		x += scr_printf(s, x, y, ratio[i] != 0 ? R_VALUE : R_DIM, -1,
		    "%s", fmt_ratio(b1, sizeof b1, ratio[i]));
		x += scr_printf(s, x, y, R_NORMAL, -1, " (%s -> %s wire, "
		    "%llu msgs compressed)", fmt_bytes(b2, sizeof b2,
		    plain[i]), fmt_bytes(b3, sizeof b3, wire[i]),
		    (unsigned long long)zmsgs[i]) + 2;
	}
	return (y + 1);
}

/* Sparkline rows at (x, y); returns the next row. */
static int
detail_sparks(struct scr *s, int x, int y, int w, const struct top_detail *d)
{
	static const char *const names[4] = { "bytes in ", "bytes out",
	    "msgs in  ", "msgs out " };
	static const enum top_role roles[4] = { R_IN, R_OUT, R_IN, R_OUT };
	char	 spark[TOP_SERIES * 4 + 1], b1[24];
	int	 i, n = MIN(TOP_SERIES, w - 22), j;
	uint64_t last;

	scr_put(s, x, y++, R_COLHDR, -1, "rates, last 40 s (1 s a cell)");
	if (n < 4)
		return (y);
	for (i = 0; i < 4; i++) {
		fmt_spark(spark, sizeof spark, d->series[i] + TOP_SERIES - n,
		    n);
		for (last = 0, j = 0; j < TOP_SERIES; j++)
			last = MAX(last, d->series[i][j]);
		j = scr_put(s, x, y, R_LABEL, -1, names[i]);
		scr_put(s, x + j + 1, y, roles[i], n, spark);
		j += n + 2;
		if (i < 2)
			scr_printf(s, x + j, y, R_VALUE, -1, "max %s/s",
			    fmt_rate(b1, sizeof b1, (double)last));
		else
			scr_printf(s, x + j, y, R_VALUE, -1, "max %s/s",
			    fmt_count(b1, sizeof b1, (double)last));
		y++;
	}
	return (y);
}

/* Log2 histogram rows at (x, y) up to y1; returns the next row. */
static int
detail_hist(struct scr *s, int x, int y, int y1, int w,
    const struct top_detail *d)
{
	uint64_t	max = 0;
	int		b, lo = -1, hi = -1, bw, dir, n;
	char		b1[16], b2[16], bar[256];

	for (b = 0; b < TOP_HIST; b++) {
		if (d->hist[0][b] == 0 && d->hist[1][b] == 0)
			continue;
		if (lo == -1)
			lo = b;
		hi = b;
		max = MAX(max, MAX(d->hist[0][b], d->hist[1][b]));
	}
	scr_put(s, x, y++, R_COLHDR, -1, "frame sizes (log2 buckets)  in / out");
	if (lo == -1) {
		scr_put(s, x + 2, y++, R_DIM, -1, "no frames yet");
		return (y);
	}
	bw = (w - 34) / 2;
	if (bw < 1)
		bw = 1;
	for (b = lo; b <= hi && y < y1; b++) {
		if (d->hist[0][b] == 0 && d->hist[1][b] == 0)
			continue;	/* only sizes seen */
		if (b == 0)
			snprintf(b1, sizeof b1, "0");
		else
			fmt_bytes(b1, sizeof b1, hist_floor((unsigned)b));
		if (b == 0)
			b2[0] = '\0';
		else
			fmt_bytes(b2, sizeof b2, hist_floor((unsigned)b + 1) -
			    1);
		n = scr_printf(s, x, y, R_LABEL, -1, "%6s-%-6s", b1, b2);
		for (dir = 0; dir < 2; dir++) {
			int k = max ? (int)((d->hist[dir][b] * (uint64_t)bw +
			    max - 1) / max) : 0, i;

			bar[0] = '\0';
			for (i = 0; i < k && i < (int)sizeof bar / 3 - 1; i++)
				strcat(bar, "█");
			scr_printf(s, x + n + 1, y, dir ? R_OUT : R_IN, -1,
			    "%6llu ", (unsigned long long)d->hist[dir][b]);
			scr_put(s, x + n + 8, y, dir ? R_OUT : R_IN, bw, bar);
			n += bw + 8;
		}
		y++;
	}
	return (y);
}

static void
detail_frames(struct scr *s, struct top_ui *ui, const struct top_detail *d,
    int y0, int y1)
{
	int			 rows = y1 - y0 - 1, first, i, y;
	const struct top_frame	*f;
	char			 b1[24], code[16], msg[24];

	if (rows < 1)
		return;
	scr_fill_role(s, 0, y0, s->w, R_COLHDR);
	scr_printf(s, 0, y0, R_COLHDR, -1, "%-12s %-4s %-7s %3s %3s %4s "
	    "%10s %6s %6s %s", "TIME", "DIR", "OPCODE", "FIN", "RSV", "MASK",
	    "LENGTH", "MSG", "CLOSE", "WAIT/STATUS");
	if (ui->frame_scroll > d->nframes - rows)
		ui->frame_scroll = MAX(0, d->nframes - rows);
	first = MAX(0, d->nframes - rows - ui->frame_scroll);
	for (i = first, y = y0 + 1; i < d->nframes && y < y1; i++, y++) {
		f = &d->frames[i];
		snprintf(code, sizeof code, "%s", f->close_code ? "" : "-");
		if (f->close_code)
			snprintf(code, sizeof code, "%u", f->close_code);
		if (f->msg_no != 0)
			snprintf(msg, sizeof msg, "%llu",
			    (unsigned long long)f->msg_no);
		else
			snprintf(msg, sizeof msg, "-");
		scr_printf(s, 0, y, f->opcode >= 8 ? R_CONTROL : f->dir ?
		    R_OUT : R_IN, -1, "%-12s %-4s %-7s %3u %3u %4u %10llu %6s "
		    "%6s %s", fmt_clock(b1, sizeof b1, f->t), f->dir ? "out" :
		    "in", fmt_opcode(f->opcode), f->fin, f->rsv, f->masked,
		    (unsigned long long)f->len, msg, code,
		    f->status == 1 ? "incomplete" : f->status == 2 ?
		    "rejected" : "");
		if (f->wait_ns != 0)
			scr_printf(s, 64, y, stall_role(f->wait_ns), -1,
			    "waited %s", fmt_dur(b1, sizeof b1, f->wait_ns));
	}
	if (d->nframes == 0)
		scr_put(s, 2, y0 + 1, R_DIM, -1, "no frames seen since the "
		    "detail view opened");
}

static void
detail_layout(struct scr *s, struct top_ui *ui, struct top_model *m, int y0,
    int y1)
{
	struct top_conn		*tc = model_find(m, ui->selected);
	const struct top_detail	*d = &m->d;
	const char		*offered, *alpn, *query;
	char			 b1[512], b2[384];
	int			 x, y = y0, yl, yr, half;
	uint64_t		 end;

	if (tc == NULL) {
		/*
		 * Gone from the snapshot: say so, and keep what was last
		 * known about it below (the view goes on refreshing).
		 */
		scr_fill_role(s, 0, y, s->w, R_COLHDR);
		scr_printf(s, 0, y, R_WARN, -1, "connection %llu has closed "
		    "(Esc: back)%s", (unsigned long long)ui->selected,
		    d->valid && d->id == ui->selected ? "; as last seen:" : "");
		if (!(d->valid && d->id == ui->selected))
			return;
		y++;
	} else {
		scr_fill_role(s, 0, y, s->w, R_COLHDR);
		end = tc->t_end != 0 ? tc->t_end : m->now;
		x = scr_printf(s, 0, y, R_COLHDR, -1, "connection %llu  %s  "
		    "%s -> %s  %s%s  %s  age %s", (unsigned long long)tc->id,
		    tc->client, tc->path, tc->backend, tc->proto,
		    tc->tls ? "+tls" : "", tc->state, fmt_age(b1, sizeof b1,
		    end > tc->t_start ? end - tc->t_start : 0));
		y++;
	}
	if (!d->valid || d->id != ui->selected) {
		scr_put(s, 2, y + 1, R_DIM, -1, "loading...");
		return;
	}
	x = fact(s, 0, y, "origin", model_fact(d, "origin"), 40);
	x = fact(s, x, y, "host", model_fact(d, "host"), 30);
	x = fact(s, x, y, "user agent", model_fact(d, "user_agent"),
	    s->w - x - 12);
	y++;
	offered = model_fact(d, "protocols");
	snprintf(b1, sizeof b1, "%s%s%s%s", model_fact(d, "subprotocol"),
	    offered[0] ? " (offered " : "", offered, offered[0] ? ")" : "");
	x = fact(s, 0, y, "subprotocol", b1, 40);
	x = fact(s, x, y, "extensions", model_fact(d, "extensions"), 40);
	x = fact(s, x, y, "http", model_fact(d, "http_version"), 4);
	alpn = model_fact(d, "alpn");
	snprintf(b2, sizeof b2, "%s%s%s", model_fact(d, "tls_version"),
	    alpn[0] ? " alpn " : "", alpn);
	x = fact(s, x, y, "tls", b2, 30);
	query = model_fact(d, "query");
	if (query[0] != '\0')
		fact(s, x, y, "query", query, 30);
	y++;
	x = fact(s, 0, y, "backend local", model_fact(d, "backend_local"),
	    48);
	if (model_fact(d, "via")[0] != '\0')
		fact(s, x, y, "via (PROXY)", model_fact(d, "via"), 48);
	y++;
	if (tc != NULL) {
		x = scr_put(s, 0, y, R_LABEL, -1, "messages in/out ");
		x += scr_printf(s, x, y, R_VALUE, -1, "%llu/%llu",
		    (unsigned long long)tc->msgs_in,
		    (unsigned long long)tc->msgs_out) + 2;
		x += scr_printf(s, x, y, R_LABEL, -1, "bytes in/out ");
		x += scr_printf(s, x, y, R_VALUE, -1, "%s/%s",
		    fmt_bytes(b1, sizeof b1, tc->bytes_in),
		    fmt_bytes(b2, sizeof b2, tc->bytes_out)) + 2;
		x += scr_printf(s, x, y, R_LABEL, -1, "frames in/out ");
		x += scr_printf(s, x, y, R_VALUE, -1, "%llu/%llu",
		    (unsigned long long)d->frames_in,
		    (unsigned long long)d->frames_out) + 2;
		x += scr_printf(s, x, y, R_LABEL, -1, "largest ");
		x += scr_printf(s, x, y, R_VALUE, -1, "%s/%s",
		    fmt_bytes(b1, sizeof b1, tc->largest_in),
		    fmt_bytes(b2, sizeof b2, tc->largest_out)) + 2;
		if (d->close_in || d->close_out)
			scr_printf(s, x, y, R_CONTROL, -1, "close %u/%u by %s",
			    d->close_in, d->close_out, d->closed_by[0] ?
			    d->closed_by : "-");
		y++;
		if (tc->zmsgs_in + tc->zmsgs_out > 0 ||
		    strstr(model_fact(d, "extensions"), "permessage-deflate") !=
		    NULL)
			y = detail_compression(s, y, tc);
	}

	/* Head of line, both directions. */
	scr_put(s, 0, y++, R_COLHDR, -1, "head-of-line");
	y = detail_queue(s, y, "out", R_OUT, &d->q[1], tc != NULL &&
	    m->live ? tc->q_kernel : (uint64_t)-1);
	y = detail_queue(s, y, "in", R_IN, &d->q[0], (uint64_t)-1);
	if (d->rx_active) {
		scr_printf(s, 6, y++, R_IN, -1, "receiving a message: %s of %s%s",
		    fmt_bytes(b1, sizeof b1, d->rx_received),
		    fmt_bytes(b2, sizeof b2, d->rx_known),
		    d->rx_final ? "" : " so far (more frames to come)");
	}
	if (d->has_h2) {
		x = scr_put(s, 6, y, R_LABEL, -1, "http/2 window waits: ") + 6;
		scr_printf(s, x, y++, R_VALUE, -1, "stream %s, connection %s "
		    "(window last used by stream %d), receive stall %s",
		    fmt_dur(b1, sizeof b1, d->h2_stream_wait),
		    fmt_dur(b2, sizeof b2, d->h2_conn_wait), d->h2_blocker,
		    fmt_dur(b1, sizeof b1, d->h2_in_stall));
	}
	y++;

	/* Sparklines left, histogram right. */
	half = s->w / 2;
	yl = detail_sparks(s, 0, y, half, d);
	yr = detail_hist(s, half, y, y + 9, s->w - half, d);
	y = MAX(yl, yr) + 1;
	if (y < y1)
		detail_frames(s, ui, d, y, y1);
}

const struct top_view_ops view_detail_ops = {
	.name = "detail",
	.layout = detail_layout,
	.hints = "Esc Back|h HOL|Up/Down Scroll frames|? Help|q Quit|p Pause",
};
