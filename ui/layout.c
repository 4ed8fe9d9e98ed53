/*
 * layout.c -- the parts every view shares: the header (uptime, connection
 * counts, rates over 2/10/40 s with peak and totals, frame-log health), the
 * key-hint bar or filter prompt, the help overlay; and top_layout(), which
 * lays out one whole screen as data.
 */
#include "wsb_autoconf.h"

#include <stdio.h>
#include <string.h>

#include "top.h"

static const struct top_view_ops *const views[VIEW_COUNT] = {
	[VIEW_TABLE] = &view_table_ops,
	[VIEW_DETAIL] = &view_detail_ops,
	[VIEW_HOL] = &view_hol_ops,
};

/* One "label value" pair; returns the next x. */
static int
pair(struct scr *s, int x, int y, const char *label, const char *value,
    enum top_role vrole)
{
	x += scr_put(s, x, y, R_LABEL, -1, label);
	x += scr_put(s, x, y, R_NORMAL, -1, " ");
	x += scr_put(s, x, y, vrole, -1, value);
	return (x + 2);
}

static void
rate_row(struct scr *s, int y, const char *label, const double *r,
    double peak, uint64_t total, int bytes)
{
	char	buf[32];
	int	i, x = 0;

	x += scr_printf(s, x, y, R_LABEL, 11, "%-11s", label);
	for (i = 0; i < 3; i++) {
		if (bytes)
			fmt_rate(buf, sizeof buf, r[i]);
		else
			fmt_count(buf, sizeof buf, r[i]);
		x += scr_printf(s, x, y, r[i] > 0 ? R_VALUE : R_DIM, 10,
		    "%9s ", buf);
	}
	if (bytes)
		fmt_rate(buf, sizeof buf, peak);
	else
		fmt_count(buf, sizeof buf, peak);
	x += scr_printf(s, x, y, R_VALUE, 10, "%9s ", buf);
	if (bytes)
		fmt_bytes(buf, sizeof buf, total);
	else
		fmt_count(buf, sizeof buf, (double)total);
	scr_printf(s, x, y, R_VALUE, 10, "%9s", buf);
}

int
header_layout(struct scr *s, struct top_ui *ui, struct top_model *m)
{
	const struct top_global	*g = &m->g;
	char			 b1[32], b2[32], b3[32];
	double			 r[3];
	int			 x, y = 0, i;

	/* Title. */
	scr_fill_role(s, 0, 0, s->w, R_TITLE);
	x = scr_put(s, 0, 0, R_TITLE, -1, " wsbridge-top ");
	if (m->live) {
		x += scr_printf(s, x, 0, R_TITLE, -1, " wsbridge %s pid %ld  "
		    "up %s  %s", g->version[0] != '\0' ? g->version : "?",
		    g->pid, fmt_dur(b1, sizeof b1, g->uptime), m->source);
	} else {
		x += scr_printf(s, x, 0, R_TITLE, -1, " replay %s  %llu "
		    "sessions  %llu frames  %s to %s", m->source,
		    (unsigned long long)m->rp_sessions,
		    (unsigned long long)m->rp_frames,
		    fmt_clock(b1, sizeof b1, m->rp_t0),
		    fmt_clock(b2, sizeof b2, m->rp_t1));
	}
	b3[0] = '\0';
	snprintf(b3, sizeof b3, "%s%s", ui->paused ? " PAUSED" : "",
	    ui->frozen ? " FROZEN" : "");
	if (b3[0] != '\0')
		scr_put(s, s->w - (int)strlen(b3) - 1, 0, R_TITLE, -1, b3);
	y++;

	/* Connections, and the link to wsbridge. */
	x = 0;
	if (m->live && !m->connected) {
		scr_printf(s, 0, y, R_BAD, -1, "disconnected: %s", m->status);
		y++;
	} else {
		x = scr_put(s, x, y, R_LABEL, -1, "conns ");
		x = pair(s, x, y, "h1 ws", fmt_count(b1, sizeof b1, g->h1_ws),
		    R_VALUE);
		x = pair(s, x, y, "h1 wss", fmt_count(b1, sizeof b1, g->h1_wss),
		    R_VALUE);
		x = pair(s, x, y, "h2 ws", fmt_count(b1, sizeof b1, g->h2_ws),
		    R_VALUE);
		x = pair(s, x, y, "h2 wss", fmt_count(b1, sizeof b1, g->h2_wss),
		    R_VALUE);
		x = pair(s, x, y, "total", fmt_count(b1, sizeof b1,
		    (double)g->conns_total), R_VALUE);
		snprintf(b2, sizeof b2, "%zu/%zu", ui->norder, m->nconns);
		x = pair(s, x, y, "shown", b2, R_VALUE);
		if (ui->filter[0] != '\0')
			pair(s, x, y, "filter", ui->filter, R_PROMPT);
		y++;
	}
	/* Small screens and the detail views keep the header short. */
	if (s->h < 20 || ui->view != VIEW_TABLE)
		return (y);

	/* Rates. */
	scr_printf(s, 0, y++, R_COLHDR, -1, "%-11s%9s %9s %9s %9s %9s",
	    m->live ? "per second" : "recording", "2s", "10s", "40s", "peak",
	    "total");
	for (i = 0; i < 3; i++)
		r[i] = g->rates[i].bytes_in;
	rate_row(s, y++, "bytes in", r, g->peak.bytes_in, g->bytes_in, 1);
	for (i = 0; i < 3; i++)
		r[i] = g->rates[i].bytes_out;
	rate_row(s, y++, "bytes out", r, g->peak.bytes_out, g->bytes_out, 1);
	for (i = 0; i < 3; i++)
		r[i] = g->rates[i].msgs_in;
	rate_row(s, y++, "msgs in", r, g->peak.msgs_in, g->msgs_in, 0);
	for (i = 0; i < 3; i++)
		r[i] = g->rates[i].msgs_out;
	rate_row(s, y++, "msgs out", r, g->peak.msgs_out, g->msgs_out, 0);

	/* Frame log. */
	x = scr_put(s, 0, y, R_LABEL, -1, "frame log  ");
	if (!g->log_enabled)
		scr_put(s, x, y, R_DIM, -1, "off");
	else {
		x += scr_put(s, x, y, R_VALUE, 40, g->log_path) + 2;
		snprintf(b1, sizeof b1, "%llu/%llu",
		    (unsigned long long)g->log_queue,
		    (unsigned long long)g->log_queue_size);
		x = pair(s, x, y, "queue", b1, g->log_queue * 2 >
		    g->log_queue_size ? R_WARN : R_VALUE);
		x = pair(s, x, y, "written", fmt_count(b1, sizeof b1,
		    (double)g->log_written), R_VALUE);
		x = pair(s, x, y, "dropped", fmt_count(b1, sizeof b1,
		    (double)g->log_dropped), g->log_dropped ? R_BAD : R_GOOD);
		x = pair(s, x, y, "lost", fmt_count(b1, sizeof b1,
		    (double)g->log_lost), g->log_lost ? R_BAD : R_GOOD);
		x = pair(s, x, y, "errors", fmt_count(b1, sizeof b1,
		    (double)g->log_errors), g->log_errors ? R_BAD : R_GOOD);
		if (g->log_failing)
			scr_put(s, x, y, R_BAD, -1, "FAILING");
	}
	y++;
	return (y);
}

/* The bottom line: key hints, or the filter prompt while typing. */
static void
hints_layout(struct scr *s, struct top_ui *ui, const char *hints)
{
	int		 y = s->h - 1, x = 0;
	const char	*p;
	char		 word[32];
	size_t		 n;

	if (ui->filtering) {
		x = scr_put(s, 0, y, R_PROMPT, -1,
		    "filter (regex, ! inverts; Enter applies, Esc cancels): /");
		x += scr_put(s, x, y, R_NORMAL, -1, ui->filter_edit);
		s->cursor_x = x;
		s->cursor_y = y;
		if (ui->message[0] != '\0')
			scr_put(s, 0, y - 1, R_BAD, -1, ui->message);
		return;
	}
	if (ui->message[0] != '\0')
		scr_put(s, 0, y - 1, R_BAD, -1, ui->message);
	/* hints: "key word|key word|..." */
	for (p = hints; *p != '\0' && x < s->w; ) {
		n = strcspn(p, " ");
		snprintf(word, sizeof word, "%.*s", (int)MIN(n, sizeof word - 1),
		    p);
		x += scr_put(s, x, y, R_KEY, -1, word);
		x += scr_put(s, x, y, R_HINT, -1, " ");
		p += n;
		if (*p == ' ')
			p++;
		n = strcspn(p, "|");
		snprintf(word, sizeof word, "%.*s", (int)MIN(n, sizeof word - 1),
		    p);
		x += scr_put(s, x, y, R_HINT, -1, word);
		x += scr_put(s, x, y, R_HINT, -1, "  ");
		p += n;
		if (*p == '|')
			p++;
	}
	scr_fill_role(s, x, y, s->w - x, R_HINT);
}

/* Every key, for the overlay (and the man page says the same). */
static const char *const help_lines[] = {
	"Views",
	"  Enter d ->  detail of the selected connection",
	"  h           head-of-line view (ranked by stall)",
	"  t Esc <-    back to the connection table",
	"  ?           this help (any key closes it)",
	"  q           quit",
	"Table",
	"  Up Down j k PgUp PgDn Home End g G   move the cursor / scroll",
	"  /           filter: a regex over the row (! first inverts it);",
	"              Enter applies, Esc cancels, ^U erases; empty clears",
	"  f           freeze the row order (new rows go last)",
	"  p Space     pause: keep the numbers on screen still",
	"  r           reverse the sort",
	"Sort (same key again reverses)",
	"  N id  C client  R route  B backend  P protocol  A age",
	"  I rate in  O rate out  M messages  L largest  Q queued  S stall",
	"  Z compression ratio",
	"Detail",
	"  Up Down PgUp PgDn Home End   scroll the recent frames",
	"Colours follow roles; NO_COLOR or a monochrome terminal uses",
	"bold, dim and reverse instead.",
};

void
help_layout(struct scr *s, struct top_ui *ui)
{
	int	w = 72, h = (int)(sizeof help_lines / sizeof help_lines[0]) + 4;
	int	x0, y0, y, i;

	w = MIN(w, s->w - 2);
	h = MIN(h, s->h - 2);
	x0 = (s->w - w) / 2;
	y0 = (s->h - h) / 2;
	for (y = y0; y < y0 + h; y++) {
		for (i = x0; i < x0 + w; i++) {
			if (i < 0 || i >= s->w || y < 0 || y >= s->h)
				continue;
			s->cells[y * s->w + i].ch = L' ';
			s->cells[y * s->w + i].role = R_NORMAL;
		}
	}
	scr_fill_role(s, x0, y0, w, R_TITLE);
	scr_put(s, x0 + 1, y0, R_TITLE, w - 2,
	    "wsbridge-top keys (any key closes)");
	for (i = 0; i < h - 3 && i < (int)(sizeof help_lines /
	    sizeof help_lines[0]); i++) {
		const char *l = help_lines[i];

		scr_put(s, x0 + 2, y0 + 2 + i, l[0] != ' ' ? R_COLHDR :
		    R_NORMAL, w - 4, l);
	}
}

void
top_layout(struct scr *s, struct top_ui *ui, struct top_model *m)
{
	const struct top_view_ops	*v = views[ui->view];
	int				 y;

	screen_clear(s);
	ui_order(ui, m);
	y = header_layout(s, ui, m);
	if (y < s->h - 1)
		v->layout(s, ui, m, y, s->h - 1);
	hints_layout(s, ui, v->hints);
	if (ui->help)
		help_layout(s, ui);
}
