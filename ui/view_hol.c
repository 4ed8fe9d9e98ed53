/*
 * view_hol.c -- head-of-line blocking: connections and streams ranked by
 * stall (now, then the worst seen), the message that caused it, and a
 * timeline of the selected connection's recent messages: each one's
 * transfer as a bar, the delay it imposed on the next one shaded.
 */
#include "wsb_autoconf.h"

#include <stdio.h>
#include <string.h>

#include "top.h"

static void
hol_rank(struct scr *s, struct top_ui *ui, struct top_model *m, int y0,
    int y1)
{
	struct top_conn	*tc;
	char		 b[6][24], cause[48];
	int		 y, rows = y1 - y0 - 1;
	size_t		 k, sel = 0;
	uint64_t	 now_stall, worst;

	scr_fill_role(s, 0, y0, s->w, R_COLHDR);
	scr_printf(s, 0, y0, R_COLHDR, -1, "%5s %-21s %-10s %9s %9s %-22s "
	    "%-17s %9s %9s %9s %9s", "ID", "CLIENT", "ROUTE", "STALL", "WORST",
	    "CAUSED BY", "IN FLIGHT", "CTL WAIT", "DELAYED", "XFER MAX",
	    "H2 WAIT");
	if (ui->nhol == 0) {
		scr_put(s, 2, y0 + 1, R_DIM, -1, "no connections");
		return;
	}
	(void)ui_selected(ui, m);
	for (k = 0; k < ui->nhol; k++)
		if (ui->hol_order[k] == ui->selected)
			sel = k;
	if (sel < ui->top)
		ui->top = sel;
	if (rows > 0 && sel >= ui->top + (size_t)rows)
		ui->top = sel - (size_t)rows + 1;
	for (y = 0; y < rows && ui->top + (size_t)y < ui->nhol; y++) {
		k = ui->top + (size_t)y;
		if ((tc = model_find(m, ui->hol_order[k])) == NULL)
			continue;
		now_stall = MAX(MAX(tc->stall_out, tc->stall_in), tc->ctl_wait);
		worst = MAX(MAX(tc->stall_max, tc->ctl_wait_max), now_stall);
		if (tc->hol_msg != 0)
			snprintf(cause, sizeof cause, "msg #%llu%s%s",
			    (unsigned long long)tc->hol_msg,
			    tc->hol_msg_size ? " of " : "",
			    tc->hol_msg_size ? fmt_bytes(b[5], sizeof b[5],
			    tc->hol_msg_size) : "");
		else
			snprintf(cause, sizeof cause, "%s", worst ? "its own "
			    "bytes" : "-");
		if (tc->inflight_msg != 0)
			snprintf(b[4], sizeof b[4], "#%llu %s/%s",
			    (unsigned long long)tc->inflight_msg,
			    fmt_bytes(b[2], sizeof b[2], tc->inflight_sent),
			    fmt_bytes(b[3], sizeof b[3], tc->inflight_size));
		else
			snprintf(b[4], sizeof b[4], "-");
		scr_printf(s, 0, y0 + 1 + y, R_NORMAL, -1, "%5llu %-21.21s "
		    "%-10.10s", (unsigned long long)tc->id, tc->client,
		    strcmp(tc->route, "*") == 0 ? tc->path : tc->route);
		scr_printf(s, 39, y0 + 1 + y, stall_role(now_stall), 9, "%9s",
		    now_stall ? fmt_dur(b[0], sizeof b[0], now_stall) : "-");
		scr_printf(s, 49, y0 + 1 + y, stall_role(worst), 9, "%9s",
		    worst ? fmt_dur(b[1], sizeof b[1], worst) : "-");
		scr_printf(s, 59, y0 + 1 + y, R_NORMAL, 22, "%-22s", cause);
		scr_printf(s, 82, y0 + 1 + y, R_NORMAL, 17, "%-17s", b[4]);
		scr_printf(s, 100, y0 + 1 + y, stall_role(tc->ctl_wait_max), 9,
		    "%9s", tc->ctl_wait_max ? fmt_dur(b[0], sizeof b[0],
		    tc->ctl_wait_max) : "-");
		scr_printf(s, 110, y0 + 1 + y, stall_role(tc->delay_max), 9,
		    "%9s", tc->delay_max ? fmt_dur(b[1], sizeof b[1],
		    tc->delay_max) : "-");
		scr_printf(s, 120, y0 + 1 + y, R_NORMAL, 9, "%9s",
		    tc->xfer_max ? fmt_dur(b[3], sizeof b[3], tc->xfer_max) :
		    "-");
		scr_printf(s, 130, y0 + 1 + y, stall_role(tc->h2_wait), 9,
		    "%9s", tc->h2_wait ? fmt_dur(b[2], sizeof b[2],
		    tc->h2_wait) : "-");
		if (k == sel)
			scr_fill_role(s, 0, y0 + 1 + y, s->w, R_SELECTED);
	}
}

/* Column of time t on an axis [t0, t1] of w cells starting at x. */
static int
hol_col(uint64_t t, uint64_t t0, uint64_t t1, int x, int w)
{
	if (t <= t0)
		return (x);
	if (t >= t1)
		return (x + w - 1);
	return (x + (int)((double)(t - t0) / (double)(t1 - t0) * (w - 1)));
}

static void
hol_timeline(struct scr *s, struct top_ui *ui, struct top_model *m, int y0,
    int y1)
{
	const struct top_detail	*d = &m->d;
	const struct top_msg	*tm;
	const struct top_queue	*q;
	uint64_t		 t0, t1, span, qt;
	int			 x0 = 30, w, y = y0, i, a, b, c, dir;
	char			 b1[24], b2[24];

	scr_fill_role(s, 0, y, s->w, R_COLHDR);
	if (!d->valid || d->id != ui->selected) {
		scr_put(s, 0, y, R_COLHDR, -1, "timeline");
		scr_put(s, 2, y + 1, R_DIM, -1, "loading...");
		return;
	}
	w = s->w - x0 - 22;
	if (w < 10)
		return;
	/* The axis covers the messages shown and what waits now. */
	t1 = d->now;
	t0 = t1;
	for (i = 0; i < d->nmsgs; i++)
		t0 = MIN(t0, d->msgs[i].t_first);
	for (dir = 0; dir < 2; dir++) {
		if (d->q[dir].age != 0)
			t0 = MIN(t0, t1 - d->q[dir].age);
		if (d->q[dir].ctl_age != 0)
			t0 = MIN(t0, t1 - d->q[dir].ctl_age);
	}
	span = t1 - t0;
	if (span < 1000000000ULL)
		span = 1000000000ULL;
	t0 = t1 - span - span / 20;
	scr_printf(s, 0, y, R_COLHDR, -1, "timeline of connection %llu: "
	    "█ transfer  ▓ next message waiting  ░ still queued  ^ control "
	    "frame waiting   (axis %s, now at right)",
	    (unsigned long long)d->id, fmt_dur(b1, sizeof b1, t1 - t0));
	y++;
	for (i = 0; i < d->nmsgs && y < y1 - 2; i++) {
		tm = &d->msgs[i];
		scr_printf(s, 0, y, tm->dir ? R_OUT : R_IN, -1, "%-3s #%-6llu "
		    "%9s", tm->dir ? "out" : "in", (unsigned long long)tm->msg_no,
		    fmt_bytes(b1, sizeof b1, tm->size));
		a = hol_col(tm->t_first, t0, t1, x0, w);
		b = hol_col(tm->t_done, t0, t1, x0, w);
		for (c = a; c <= b; c++)
			scr_put(s, c, y, R_BAR, 1, "█");
		if (tm->delay_known && tm->delay_next != 0) {
			for (c = hol_col(tm->t_done - tm->delay_next, t0, t1,
			    x0, w); c <= b; c++)
				scr_put(s, c, y, R_DELAY, 1, "▓");
		}
		scr_printf(s, x0 + w + 1, y, R_NORMAL, -1, "%s", fmt_dur(b1,
		    sizeof b1, tm->t_done - tm->t_first));
		if (tm->delay_known && tm->delay_next != 0)
			scr_printf(s, x0 + w + 10, y, stall_role(tm->delay_next),
			    -1, "+%s", fmt_dur(b2, sizeof b2, tm->delay_next));
		y++;
	}
	/* What waits right now, per direction. */
	for (dir = 1; dir >= 0 && y < y1; dir--) {
		q = &d->q[dir];
		if (q->age == 0 && q->ctl_age == 0)
			continue;
		if (q->inflight_msg != 0)
			scr_printf(s, 0, y, dir ? R_OUT : R_IN, -1, "%-3s #%-6llu "
			    "%9s", dir ? "out" : "in",
			    (unsigned long long)q->inflight_msg,
			    fmt_bytes(b1, sizeof b1, q->inflight_size));
		else
			scr_printf(s, 0, y, dir ? R_OUT : R_IN, -1, "%-3s queued",
			    dir ? "out" : "in");
		if (q->age != 0) {
			qt = t1 - q->age;
			for (c = hol_col(qt, t0, t1, x0, w); c < x0 + w; c++)
				scr_put(s, c, y, R_WARN, 1, "░");
		}
		if (q->ctl_age != 0)
			scr_put(s, hol_col(t1 - q->ctl_age, t0, t1, x0, w), y,
			    R_CONTROL, 1, "^");
		scr_printf(s, x0 + w + 1, y, stall_role(q->age), -1, "%s",
		    fmt_dur(b1, sizeof b1, q->age));
		if (q->ctl_age != 0)
			scr_printf(s, x0 + w + 10, y, stall_role(q->ctl_age), -1,
			    "%s %s", fmt_opcode(q->ctl_age_opcode),
			    fmt_dur(b2, sizeof b2, q->ctl_age));
		y++;
	}
	if (d->nmsgs == 0 && d->q[0].age == 0 && d->q[1].age == 0)
		scr_put(s, 2, y, R_DIM, -1, "no messages have finished yet");
}

static void
hol_layout(struct scr *s, struct top_ui *ui, struct top_model *m, int y0,
    int y1)
{
	int	split;

	scr_put(s, 0, y0, R_LABEL, -1, m->live ? "head-of-line: ranked by "
	    "the stall now, then the worst one seen (STALL: oldest byte or "
	    "control frame still waiting in wsbridge)" : "head-of-line: "
	    "sessions ranked by the worst wait recorded");
	split = y0 + 1 + MAX(4, (y1 - y0) / 2);
	ui->rows = split - y0 - 2;
	hol_rank(s, ui, m, y0 + 1, split);
	hol_timeline(s, ui, m, split, y1);
}

const struct top_view_ops view_hol_ops = {
	.name = "head-of-line",
	.layout = hol_layout,
	.hints = "Esc Back|Up/Down Select|Enter Detail|? Help|q Quit|p Pause",
};
