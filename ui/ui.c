/*
 * ui.c -- what the user chose: view, sort, filter, freeze, pause, cursor;
 * and the keys that change it. Keys arrive as events from main.c; nothing
 * here waits for input or draws.
 */
#include "wsb_autoconf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "top.h"

/* The connection table's columns; prio: dropped first when narrow. */
const struct top_column top_columns[] = {
	{ "ID",		5,  1, 1, SORT_ID,	'N' },
	{ "CLIENT",	21, 0, 0, SORT_CLIENT,	'C' },
	{ "ROUTE",	10, 0, 0, SORT_ROUTE,	'R' },
	{ "BACKEND",	16, 0, 4, SORT_BACKEND,	'B' },
	{ "PROTO",	6,  0, 2, SORT_PROTO,	'P' },
	{ "AGE",	7,  1, 3, SORT_AGE,	'A' },
	{ "IN/s",	7,  1, 0, SORT_RATE_IN,	'I' },
	{ "OUT/s",	7,  1, 0, SORT_RATE_OUT, 'O' },
	{ "MSGS",	7,  1, 2, SORT_MSGS,	'M' },
	{ "LARGEST",	7,  1, 3, SORT_LARGEST,	'L' },
	{ "CMP",	5,  1, 4, SORT_RATIO,	'Z' },
	{ "QUEUED",	7,  1, 1, SORT_QUEUED,	'Q' },
	{ "KERNEL",	7,  1, 5, -1,		0 },
	{ "HOL",	7,  1, 0, SORT_STALL,	'S' },
};
const size_t top_ncolumns = sizeof top_columns / sizeof top_columns[0];

void
ui_init(struct top_ui *ui)
{
	memset(ui, 0, sizeof *ui);
	ui->view = VIEW_TABLE;
	ui->sort = SORT_STALL;
	ui->reverse = 0;	/* stall: largest first (see ui_cmp) */
}

void
ui_free(struct top_ui *ui)
{
	if (ui->filter_ok)
		regfree(&ui->filter_re);
	free(ui->order);
	free(ui->hol_order);
}

int
ui_set_filter(struct top_ui *ui, const char *text)
{
	regex_t		re;
	const char	*pat = text;
	int		invert = 0, rc;
	char		err[96];

	if (*pat == '!') {
		invert = 1;
		pat++;
	}
	if (*pat == '\0') {
		if (ui->filter_ok)
			regfree(&ui->filter_re);
		ui->filter_ok = 0;
		ui->filter[0] = '\0';
		ui->filter_invert = 0;
		ui->message[0] = '\0';
		return (0);
	}
	if ((rc = regcomp(&re, pat, REG_EXTENDED | REG_ICASE | REG_NOSUB)) !=
	    0) {
		regerror(rc, &re, err, sizeof err);
		snprintf(ui->message, sizeof ui->message, "bad regex '%s': %s",
		    pat, err);
		return (-1);
	}
	if (ui->filter_ok)
		regfree(&ui->filter_re);
	ui->filter_re = re;
	ui->filter_ok = 1;
	ui->filter_invert = invert;
	snprintf(ui->filter, sizeof ui->filter, "%s", text);
	ui->message[0] = '\0';
	ui->top = 0;
	return (0);
}

int
ui_match(const struct top_ui *ui, const struct top_conn *c)
{
	char	line[512];
	int	hit;

	if (!ui->filter_ok)
		return (1);
	/* What the row shows, so what you see is what you filter. */
	snprintf(line, sizeof line, "%llu %s %s %s %s%s %s %s",
	    (unsigned long long)c->id, c->client, c->route, c->backend,
	    c->proto, c->tls ? "+tls" : "", c->path, c->state);
	hit = regexec(&ui->filter_re, line, 0, NULL, 0) == 0;
	return (ui->filter_invert ? !hit : hit);
}

/* The head-of-line stall shown for a row: now (live) or the worst (replay). */
static uint64_t
ui_stall(const struct top_conn *c)
{
	uint64_t	s = MAX(c->stall_out, c->stall_in);

	return (MAX(s, c->ctl_wait));
}

static int
cmp_u64(uint64_t a, uint64_t b)
{
	return (a < b ? -1 : a > b);
}

static int
cmp_dbl(double a, double b)
{
	return (a < b ? -1 : a > b);
}

/*
 * Natural direction: names A to Z, numbers largest first (what htop and
 * iftop do), age oldest first; reverse flips it.
 */
static int
ui_cmp(const void *pa, const void *pb, void *arg)
{
	const struct top_conn	*a = *(const struct top_conn *const *)pa;
	const struct top_conn	*b = *(const struct top_conn *const *)pb;
	const struct top_ui	*ui = arg;
	int			 r = 0;

	switch (ui->sort) {
	case SORT_ID:
		r = cmp_u64(a->id, b->id);
		break;
	case SORT_CLIENT:
		r = strcmp(a->client, b->client);
		break;
	case SORT_ROUTE:
		r = strcmp(a->route, b->route);
		break;
	case SORT_BACKEND:
		r = strcmp(a->backend, b->backend);
		break;
	case SORT_PROTO:
		r = strcmp(a->proto, b->proto);
		if (r == 0)
			r = a->tls - b->tls;
		break;
	case SORT_AGE:
		r = cmp_u64(a->t_start, b->t_start);
		break;
	case SORT_RATE_IN:
		r = -cmp_dbl(a->rate_in, b->rate_in);
		break;
	case SORT_RATE_OUT:
		r = -cmp_dbl(a->rate_out, b->rate_out);
		break;
	case SORT_MSGS:
		r = -cmp_u64(a->msgs_in + a->msgs_out, b->msgs_in + b->msgs_out);
		break;
	case SORT_LARGEST:
		r = -cmp_u64(MAX(a->largest_in, a->largest_out),
		    MAX(b->largest_in, b->largest_out));
		break;
	case SORT_QUEUED:
		r = -cmp_u64(a->q_out + a->q_in, b->q_out + b->q_in);
		break;
	case SORT_STALL:
		r = -cmp_u64(ui_stall(a), ui_stall(b));
		if (r == 0)
			r = -cmp_u64(a->stall_max, b->stall_max);
		break;
	case SORT_RATIO:
		/* Best compression first; uncompressed (0) last. */
		r = -cmp_u64(a->zratio, b->zratio);
		break;
	case SORT_COUNT:
		break;
	}
	if (ui->reverse)
		r = -r;
	return (r != 0 ? r : cmp_u64(a->id, b->id));
}

static void
ui_push(uint64_t **v, size_t *n, size_t *cap, uint64_t id)
{
	if (*n == *cap) {
		*cap = *cap * 2 + 64;
		if ((*v = realloc(*v, *cap * sizeof **v)) == NULL)
			abort();
	}
	(*v)[(*n)++] = id;
}

static int
ui_cmp_hol(const void *pa, const void *pb)
{
	const struct top_conn	*a = *(const struct top_conn *const *)pa;
	const struct top_conn	*b = *(const struct top_conn *const *)pb;
	int			 r;

	r = -cmp_u64(ui_stall(a), ui_stall(b));
	if (r == 0)
		r = -cmp_u64(MAX(a->stall_max, a->ctl_wait_max),
		    MAX(b->stall_max, b->ctl_wait_max));
	if (r == 0)
		r = -cmp_u64(a->delay_max, b->delay_max);
	if (r == 0)
		r = -cmp_u64(a->xfer_max, b->xfer_max);
	return (r != 0 ? r : cmp_u64(a->id, b->id));
}

void
ui_order(struct top_ui *ui, const struct top_model *m)
{
	const struct top_conn	**v;
	struct top_model	*mm = (struct top_model *)(uintptr_t)m;
	size_t			 i, n = 0, k;
	uint64_t		*old = NULL;
	size_t			 nold = 0;

	v = calloc(m->nconns + 1, sizeof *v);
	if (v == NULL)
		abort();
	for (i = 0; i < m->nconns; i++)
		if (ui_match(ui, &m->conns[i]))
			v[n++] = &m->conns[i];

	/* Head-of-line ranking: always by stall. */
	qsort(v, n, sizeof *v, ui_cmp_hol);
	ui->nhol = 0;
	for (i = 0; i < n; i++)
		ui_push(&ui->hol_order, &ui->nhol, &ui->hol_cap, v[i]->id);

	if (ui->frozen && ui->norder > 0) {
		/* Keep the order shown; the new ones go last, by id. */
		old = ui->order;
		nold = ui->norder;
		ui->order = NULL;
		ui->norder = ui->order_cap = 0;
		for (k = 0; k < nold; k++) {
			const struct top_conn *c = model_find(mm, old[k]);

			if (c != NULL && ui_match(ui, c))
				ui_push(&ui->order, &ui->norder,
				    &ui->order_cap, old[k]);
		}
		for (i = 0; i < m->nconns; i++) {
			int	found = 0;

			if (!ui_match(ui, &m->conns[i]))
				continue;
			for (k = 0; k < nold && !found; k++)
				found = old[k] == m->conns[i].id;
			if (!found)
				ui_push(&ui->order, &ui->norder,
				    &ui->order_cap, m->conns[i].id);
		}
		free(old);
		free(v);
		return;
	}
	qsort_r(v, n, sizeof *v, ui_cmp, ui);
	ui->norder = 0;
	for (i = 0; i < n; i++)
		ui_push(&ui->order, &ui->norder, &ui->order_cap, v[i]->id);
	free(v);
}

/* The list the cursor moves in: the table's or the HOL ranking. */
static void
ui_list(struct top_ui *ui, uint64_t **v, size_t *n)
{
	if (ui->view == VIEW_HOL) {
		*v = ui->hol_order;
		*n = ui->nhol;
	} else {
		*v = ui->order;
		*n = ui->norder;
	}
}

static size_t
ui_index(struct top_ui *ui)
{
	uint64_t	*v;
	size_t		 n, i;

	ui_list(ui, &v, &n);
	for (i = 0; i < n; i++)
		if (v[i] == ui->selected)
			return (i);
	return (0);
}

struct top_conn *
ui_selected(struct top_ui *ui, struct top_model *m)
{
	uint64_t	*v;
	size_t		 n;

	ui_list(ui, &v, &n);
	if (n == 0)
		return (ui->view == VIEW_DETAIL ? model_find(m, ui->selected) :
		    NULL);
	if (ui->view == VIEW_DETAIL)
		return (model_find(m, ui->selected));
	ui->selected = v[ui_index(ui)];
	return (model_find(m, ui->selected));
}

void
ui_move(struct top_ui *ui, int delta)
{
	uint64_t	*v;
	size_t		 n;
	long		 i;

	ui_list(ui, &v, &n);
	if (n == 0)
		return;
	i = (long)ui_index(ui) + delta;
	if (i < 0)
		i = 0;
	if (i >= (long)n)
		i = (long)n - 1;
	ui->selected = v[i];
}

/* Typing a filter: the prompt owns the keys. */
static void
ui_filter_key(struct top_ui *ui, int key)
{
	size_t	len = strlen(ui->filter_edit);

	switch (key) {
	case K_ENTER:
		if (ui_set_filter(ui, ui->filter_edit) == 0)
			ui->filtering = 0;
		return;
	case K_ESC:
		ui->filtering = 0;
		ui->message[0] = '\0';
		return;
	case K_BACKSPACE:
		if (len > 0)
			ui->filter_edit[len - 1] = '\0';
		return;
	case 0x15:		/* ^U: erase the line */
		ui->filter_edit[0] = '\0';
		return;
	}
	if (key >= 0x20 && key < 0x7f && len + 1 < sizeof ui->filter_edit) {
		ui->filter_edit[len] = (char)key;
		ui->filter_edit[len + 1] = '\0';
	}
}

int
ui_key(struct top_ui *ui, struct top_model *m, int key)
{
	size_t	i;
	int	page = ui->rows > 1 ? ui->rows - 1 : 10;

	if (ui->filtering) {
		ui_filter_key(ui, key);
		return (0);
	}
	if (ui->help) {
		/* Any key closes the overlay; q still quits. */
		ui->help = 0;
		return (key == 'q');
	}
	switch (key) {
	case 'q':
		return (1);
	case '?':
		ui->help = 1;
		return (0);
	case '/':
		ui->filtering = 1;
		snprintf(ui->filter_edit, sizeof ui->filter_edit, "%s",
		    ui->filter);
		return (0);
	case 'f':
		ui->frozen = !ui->frozen;
		return (0);
	case 'p':
	case ' ':
		ui->paused = !ui->paused;
		return (0);
	case 'r':
		ui->reverse = !ui->reverse;
		return (0);
	case K_UP:
	case 'k':
		if (ui->view == VIEW_DETAIL)
			ui->frame_scroll++;
		else
			ui_move(ui, -1);
		return (0);
	case K_DOWN:
	case 'j':
		if (ui->view == VIEW_DETAIL) {
			if (ui->frame_scroll > 0)
				ui->frame_scroll--;
		} else
			ui_move(ui, 1);
		return (0);
	case K_PGUP:
		if (ui->view == VIEW_DETAIL)
			ui->frame_scroll += page;
		else
			ui_move(ui, -page);
		return (0);
	case K_PGDN:
		if (ui->view == VIEW_DETAIL)
			ui->frame_scroll = MAX(0, ui->frame_scroll - page);
		else
			ui_move(ui, page);
		return (0);
	case K_HOME:
	case 'g':
		if (ui->view == VIEW_DETAIL)
			ui->frame_scroll = TOP_FRAMES;
		else
			ui_move(ui, -1000000000);
		return (0);
	case K_END:
	case 'G':
		if (ui->view == VIEW_DETAIL)
			ui->frame_scroll = 0;
		else
			ui_move(ui, 1000000000);
		return (0);
	case K_ENTER:
	case 'd':
	case K_RIGHT:
		if (ui->view != VIEW_DETAIL && ui_selected(ui, m) != NULL) {
			ui->view = VIEW_DETAIL;
			ui->frame_scroll = 0;
			m->d.valid = 0;
		}
		return (0);
	case 'h':
		ui->view = VIEW_HOL;
		return (0);
	case 't':
		ui->view = VIEW_TABLE;
		return (0);
	case K_ESC:
	case K_LEFT:
	case K_BACKSPACE:
		ui->view = VIEW_TABLE;
		ui->message[0] = '\0';
		return (0);
	}
	for (i = 0; i < top_ncolumns; i++) {
		if (top_columns[i].key != 0 && top_columns[i].key == key) {
			/* The same key again inverts, as in htop. */
			if ((int)ui->sort == top_columns[i].sort)
				ui->reverse = !ui->reverse;
			else {
				ui->sort = (enum top_sort)top_columns[i].sort;
				ui->reverse = 0;
			}
			ui->frozen = 0;
			ui->view = VIEW_TABLE;
			return (0);
		}
	}
	return (0);
}
