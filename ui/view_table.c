/*
 * view_table.c -- the connection table: one row per WebSocket, the
 * columns that fit the width, sorted, filtered, scrolled to the cursor.
 */
#include "wsb_autoconf.h"

#include <stdio.h>
#include <string.h>

#include "top.h"

#define NCOLS_MAX	16

/* Severity of a stall: the role its number is drawn in. */
enum top_role
stall_role(uint64_t ns)
{
	if (ns == 0)
		return (R_DIM);
	if (ns >= 1000000000ULL)
		return (R_BAD);
	if (ns >= 100000000ULL)
		return (R_WARN);
	return (R_GOOD);
}

/*
 * Picks the columns that fit in w and their widths; returns how many, with
 * col[i] the index in top_columns and width[i] its width.
 */
int
table_columns(int w, int *col, int *width)
{
	int	on[NCOLS_MAX], n = (int)top_ncolumns, i, total, worst, extra;
	int	grow[3] = { 1, 2, 3 };	/* client, route, backend */

	for (i = 0; i < n; i++)
		on[i] = 1;
	for (;;) {
		total = 0;
		for (i = 0; i < n; i++)
			if (on[i])
				total += top_columns[i].width + 1;
		if (total <= w)
			break;
		worst = -1;
		for (i = 0; i < n; i++)
			if (on[i] && top_columns[i].prio > 0 && (worst == -1 ||
			    top_columns[i].prio >= top_columns[worst].prio))
				worst = i;
		if (worst == -1)
			break;
		on[worst] = 0;
	}
	extra = w - total;
	int k = 0;
	for (i = 0; i < n; i++) {
		if (!on[i])
			continue;
		col[k] = i;
		width[k] = top_columns[i].width;
		k++;
	}
	/* Spare width to the text columns, a little at a time. */
	while (extra > 0) {
		int given = 0, j;

		for (j = 0; j < 3 && extra > 0; j++) {
			for (i = 0; i < k; i++) {
				if (col[i] == grow[j] && width[i] <
				    top_columns[col[i]].width * 2) {
					width[i]++;
					extra--;
					given = 1;
				}
			}
		}
		if (!given)
			break;
	}
	return (k);
}

/* Text of column c for connection tc. */
static enum top_role
table_cell(const struct top_model *m, const struct top_conn *tc, int c,
    char *buf, size_t len)
{
	uint64_t	stall, end;

	switch (c) {
	case 0:
		snprintf(buf, len, "%llu", (unsigned long long)tc->id);
		return (R_NORMAL);
	case 1:
		snprintf(buf, len, "%s", tc->client);
		return (R_NORMAL);
	case 2:
		snprintf(buf, len, "%s", strcmp(tc->route, "*") == 0 ?
		    tc->path : tc->route);
		return (R_NORMAL);
	case 3:
		snprintf(buf, len, "%s", tc->backend);
		return (R_NORMAL);
	case 4:
		snprintf(buf, len, "%s%s", tc->proto, tc->tls ? "+tls" : "");
		return (R_NORMAL);
	case 5:
		end = tc->t_end != 0 ? tc->t_end : m->now;
		if (tc->t_start == 0) {
			snprintf(buf, len, "-");
			return (R_DIM);
		}
		fmt_age(buf, len, end > tc->t_start ? end - tc->t_start : 0);
		return (R_NORMAL);
	case 6:
		fmt_rate(buf, len, tc->rate_in);
		return (tc->rate_in > 0 ? R_IN : R_DIM);
	case 7:
		fmt_rate(buf, len, tc->rate_out);
		return (tc->rate_out > 0 ? R_OUT : R_DIM);
	case 8:
		fmt_count(buf, len, (double)(tc->msgs_in + tc->msgs_out));
		return (R_NORMAL);
	case 9:
		fmt_bytes(buf, len, MAX(tc->largest_in, tc->largest_out));
		return (R_NORMAL);
	case 10:
		fmt_ratio(buf, len, tc->zratio);
		return (tc->zratio > 0 ? R_VALUE : R_DIM);
	case 11:
		fmt_bytes(buf, len, tc->q_out + tc->q_in);
		return (tc->q_out + tc->q_in > 0 ? R_WARN : R_DIM);
	case 12:
		fmt_bytes(buf, len, tc->q_kernel);
		return (tc->q_kernel > 0 ? R_WARN : R_DIM);
	case 13:
		/* Live: the stall now; a replay: the worst one. */
		stall = m->live ? MAX(MAX(tc->stall_out, tc->stall_in),
		    tc->ctl_wait) : tc->stall_max;
		if (stall == 0) {
			snprintf(buf, len, "-");
			return (R_DIM);
		}
		fmt_dur(buf, len, stall);
		return (stall_role(stall));
	}
	buf[0] = '\0';
	return (R_NORMAL);
}

static void
table_layout(struct scr *s, struct top_ui *ui, struct top_model *m, int y0,
    int y1)
{
	int		 col[NCOLS_MAX], width[NCOLS_MAX], n, i, x, y, rows;
	size_t		 k, sel = 0;
	char		 buf[128], name[32];
	struct top_conn	*tc;
	enum top_role	 role;

	n = table_columns(s->w, col, width);
	/* Column names, the sort column marked. */
	x = 0;
	scr_fill_role(s, 0, y0, s->w, R_COLHDR);
	for (i = 0; i < n; i++) {
		const struct top_column *c = &top_columns[col[i]];
		int sorted = c->sort == (int)ui->sort;

		snprintf(name, sizeof name, "%s%s", c->name, sorted ?
		    (ui->reverse ? "↑" : "↓") : "");
		if (c->right)
			scr_printf(s, x, y0, sorted ? R_SORTCOL : R_COLHDR,
			    width[i], "%*s", width[i] + (sorted ? 2 : 0),
			    name);
		else
			scr_printf(s, x, y0, sorted ? R_SORTCOL : R_COLHDR,
			    width[i], "%-*s", width[i], name);
		x += width[i] + 1;
	}
	rows = y1 - y0 - 1;
	ui->rows = rows;
	if (ui->norder == 0) {
		scr_put(s, 2, y0 + 2, R_DIM, -1, m->nconns == 0 ?
		    "no connections" : "no connection matches the filter");
		return;
	}
	(void)ui_selected(ui, m);
	for (k = 0; k < ui->norder; k++)
		if (ui->order[k] == ui->selected)
			sel = k;
	if (sel < ui->top)
		ui->top = sel;
	if (rows > 0 && sel >= ui->top + (size_t)rows)
		ui->top = sel - (size_t)rows + 1;
	if (ui->top + (size_t)rows > ui->norder)
		ui->top = ui->norder > (size_t)rows ? ui->norder - (size_t)rows :
		    0;
	for (y = 0; y < rows && ui->top + (size_t)y < ui->norder; y++) {
		k = ui->top + (size_t)y;
		if ((tc = model_find(m, ui->order[k])) == NULL)
			continue;
		x = 0;
		for (i = 0; i < n; i++) {
			role = table_cell(m, tc, col[i], buf, sizeof buf);
			if (top_columns[col[i]].right)
				scr_printf(s, x, y0 + 1 + y, role, width[i],
				    "%*s", width[i], buf);
			else
				scr_printf(s, x, y0 + 1 + y, role, width[i],
				    "%-*s", width[i], buf);
			x += width[i] + 1;
		}
		if (k == sel)
			scr_fill_role(s, 0, y0 + 1 + y, s->w, R_SELECTED);
	}
}

const struct top_view_ops view_table_ops = {
	.name = "connections",
	.layout = table_layout,
	.hints = "q Quit|? Help|Enter Detail|h HOL|/ Filter|S A I O M Q Z Sort|"
	    "r Reverse|f Freeze|p Pause",
};
