/*
 * top.h -- wsbridge-top: the model (what wsbridge or a recorded frame log
 * says), the screen as plain data (cells with a role each), and the views
 * that turn one into the other. Nothing declared here touches a terminal:
 * draw.c paints a struct scr with ncurses, main.c runs the loop. That split
 * is what lets tests/unit/test_top.c check layouts as data.
 */
#ifndef TOP_H
#define TOP_H

#include <sys/types.h>

#include <regex.h>
#include <stddef.h>
#include <stdint.h>
#include <wchar.h>

#ifndef MIN
#define MIN(a, b)	((a) < (b) ? (a) : (b))
#define MAX(a, b)	((a) > (b) ? (a) : (b))
#endif

#define TOP_HIST	34	/* log2 buckets, as stats.h */
#define TOP_SERIES	40	/* seconds of sparkline */
#define TOP_FRAMES	256	/* recent frames kept for the detail view */
#define TOP_MSGS	64	/* messages in the head-of-line timeline */

/* ---- colours by role ------------------------------------------------------ */

enum top_role {
	R_NORMAL = 0,
	R_TITLE,	/* the top line */
	R_LABEL,	/* "conns", "in", ... */
	R_VALUE,	/* numbers worth reading */
	R_DIM,		/* units, zeros, separators */
	R_COLHDR,	/* table column names */
	R_SORTCOL,	/* the column the table is sorted by */
	R_SELECTED,	/* the cursor row */
	R_GOOD,		/* healthy: live, no stall */
	R_WARN,		/* a stall starting, a queue growing */
	R_BAD,		/* a stall, errors, dropped */
	R_IN,		/* client -> wsbridge */
	R_OUT,		/* wsbridge -> client */
	R_CONTROL,	/* control frames */
	R_KEY,		/* a key in the hint bar or help */
	R_HINT,		/* the hint bar's words */
	R_BAR,		/* histogram and timeline bars */
	R_DELAY,	/* the delay a message imposed (timeline) */
	R_PROMPT,	/* the filter prompt */
	R_NROLES
};

/* ---- the screen as data -------------------------------------------------- */

struct scr_cell {
	wchar_t		ch;
	uint8_t		role;
};

struct scr {
	int		 w, h;
	struct scr_cell	*cells;		/* w * h */
	int		 cursor_x, cursor_y;	/* -1: hidden */
};

void	screen_init(struct scr *, int w, int h);
void	screen_free(struct scr *);
void	screen_clear(struct scr *);
/*
 * Writes UTF-8 text at (x, y) in role, clipped to the screen and to at
 * most maxw columns (-1: to the edge). Returns the columns written.
 */
int	scr_put(struct scr *, int x, int y, enum top_role, int maxw,
	    const char *s);
int	scr_printf(struct scr *, int x, int y, enum top_role, int maxw,
	    const char *fmt, ...) __attribute__((format(printf, 6, 7)));
/* Paints role over cells [x, x + n) of row y (selection bars). */
void	scr_fill_role(struct scr *, int x, int y, int n, enum top_role);
/* Row y as UTF-8 text (trailing blanks kept); static buffer. For tests. */
const char *scr_line(const struct scr *, int y);

/* ---- formatting (format.c) ----------------------------------------------- */

/* "0", "999", "1.0K", "12.3M", "1.5G" (powers of 1024), in buf. */
const char	*fmt_bytes(char *buf, size_t len, uint64_t v);
/* "0", "12.5K", ... for a per-second rate; "-" when v < 0. */
const char	*fmt_rate(char *buf, size_t len, double v);
/* A count: "999", "12.3k", "1.2M" (powers of 1000). */
const char	*fmt_count(char *buf, size_t len, double v);
/*
 * A compression ratio given in thousandths (plain / wire * 1000): "5.3x",
 * "14.2x", "160x"; "-" for 0, which means nothing was compressed.
 */
const char	*fmt_ratio(char *buf, size_t len, uint64_t milli);
/* A duration in ns: "0", "850us", "12ms", "1.25s", "3m05s", "2h03m", "4d02h". */
const char	*fmt_dur(char *buf, size_t len, uint64_t ns);
/*
 * An age (how long a connection has been open), as top-like tools show
 * it: "0ms", "850ms", "8s", "59s", then as fmt_dur ("3m05s", "2h03m",
 * "4d02h"); truncated, so it only grows.
 */
const char	*fmt_age(char *buf, size_t len, uint64_t ns);
/* A wall time (ns since the epoch) as local "HH:MM:SS.mmm". */
const char	*fmt_clock(char *buf, size_t len, uint64_t wall_ns);
/* Sparkline of n values scaled to their maximum, as UTF-8 blocks. */
const char	*fmt_spark(char *buf, size_t len, const uint64_t *v, int n);
/* The name of a WebSocket opcode ("text", "ping", "rsv-3"). */
const char	*fmt_opcode(unsigned opcode);
/* Smallest length in log2 bucket b (as stats_hist_floor). */
uint64_t	 hist_floor(unsigned b);

/* ---- the model ------------------------------------------------------------ */

struct top_conn {
	uint64_t	id;
	char		client[48];
	char		route[48];
	char		backend[64];
	char		path[96];
	char		proto[8];	/* "h1", "h2" */
	int		tls;
	int64_t		h2_stream;
	char		state[16];
	uint64_t	t_start;	/* wall ns */
	uint64_t	t_end;		/* wall ns, replay; 0 while open */
	uint64_t	bytes_in, bytes_out, msgs_in, msgs_out;
	uint64_t	largest_in, largest_out;
	double		rate_in, rate_out, mrate_in, mrate_out;
	uint64_t	q_out, q_kernel, q_in;
	uint64_t	stall_out, stall_in, stall_max;
	uint64_t	ctl_wait, ctl_wait_max;
	uint64_t	inflight_msg, inflight_size, inflight_sent;
	int		inflight_complete;
	uint64_t	h2_wait, xfer_max, delay_max;
	uint64_t	hol_msg, hol_msg_size;
	/* permessage-deflate: payload as framed and as inflated, each way. */
	uint64_t	wire_in, wire_out, plain_in, plain_out;
	uint64_t	zmsgs_in, zmsgs_out;	/* messages compressed */
	uint64_t	zratio_in, zratio_out, zratio;	/* x1000; 0: none */
	int		have_static;	/* client/route known */
	int		seen;		/* in the latest snapshot */
};

struct top_rates {
	double		bytes_in, bytes_out, msgs_in, msgs_out;
};

struct top_global {
	int		valid;
	char		version[32];
	long		pid;
	uint64_t	t;		/* wall ns of the data */
	uint64_t	uptime;
	unsigned	h1_ws, h1_wss, h2_ws, h2_wss;
	uint64_t	conns_total;
	uint64_t	bytes_in, bytes_out, msgs_in, msgs_out;
	struct top_rates rates[3];	/* 2 s, 10 s, 40 s */
	struct top_rates peak;
	int		log_enabled;
	char		log_path[128];
	uint64_t	log_queue, log_queue_size, log_written, log_dropped;
	uint64_t	log_lost, log_errors;
	int		log_failing;
	uint64_t	dropped_snapshots, dropped_events;
};

struct top_frame {
	uint64_t	t;		/* wall ns */
	uint64_t	len;
	uint64_t	msg_no;
	uint16_t	close_code;
	uint8_t		dir;		/* 0 in, 1 out */
	uint8_t		opcode, fin, rsv, masked, status;
	uint64_t	wait_ns;	/* replay: control frame wait, or 0 */
};

/* A finished message, for the head-of-line timeline. */
struct top_msg {
	uint8_t		dir;
	uint64_t	msg_no;
	uint64_t	size;
	uint64_t	t_first, t_done;	/* wall ns */
	uint64_t	delay_next;		/* ns */
	int		delay_known;
};

/* One direction's head-of-line facts (detail and HOL views). */
struct top_queue {
	uint64_t	bytes, age, ctl_age;
	unsigned	ctl_age_opcode;
	uint64_t	inflight_msg, inflight_size, inflight_sent;
	int		inflight_complete;
	uint64_t	max_wait, max_wait_msg, max_wait_msg_size;
	uint64_t	ctl_last, ctl_max, ctl_count, ctl_sum;
	unsigned	ctl_last_opcode;
	uint64_t	transfer_max, delay_max, delay_max_msg;
	int		merged;
};

/*
 * A connection's fact as text, by the control socket's key ("host",
 * "backend_local"): every string of a "conn" reply, or of a sessions row
 * in a replay (its columns named as the control socket names them).
 */
#define TOP_FACTS	48
struct top_fact {
	char		key[24];
	char		value[160];
};

/* Everything about one connection; live: a "conn" reply; replay: SQL. */
struct top_detail {
	uint64_t	 id;		/* 0: none loaded */
	int		 valid;
	struct top_fact	 facts[TOP_FACTS];
	int		 nfacts;
	char		 closed_by[16];
	uint16_t	 close_in, close_out;
	uint64_t	 frames_in, frames_out, backend_in, backend_out;
	uint64_t	 hist[2][TOP_HIST];
	uint64_t	 series[4][TOP_SERIES];	/* bytes in, out, msgs in, out */
	int		 nseries;
	struct top_frame frames[TOP_FRAMES];
	int		 nframes;
	struct top_queue q[2];
	struct top_msg	 msgs[TOP_MSGS];
	int		 nmsgs;
	uint64_t	 now;		/* wall ns the detail describes */
	int		 has_h2;
	uint64_t	 h2_stream_wait, h2_conn_wait, h2_in_stall;
	int32_t		 h2_blocker;
	uint64_t	 rx_known, rx_received;
	int		 rx_active, rx_final;
};

struct top_model {
	int		 live;		/* 1: control socket; 0: replay */
	char		 source[256];
	int		 connected;
	char		 status[160];	/* "reconnecting in 1s: ..." */
	struct top_global g;
	struct top_conn	*conns;		/* sorted by id */
	size_t		 nconns, cap;
	uint64_t	 now;		/* wall ns of the latest data */
	struct top_detail d;
	/* Replay facts for the header. */
	uint64_t	 rp_frames, rp_sessions, rp_t0, rp_t1;
};

void	model_init(struct top_model *, int live, const char *source);
void	model_free(struct top_model *);
void	model_clear_conns(struct top_model *);
/* The connection with id, or NULL. */
struct top_conn	*model_find(struct top_model *, uint64_t id);
/* Finds or adds (keeping id order). */
struct top_conn	*model_get(struct top_model *, uint64_t id);
/*
 * Sets c's zratio_in, _out and zratio from its plain, wire and zmsgs
 * counts, as wsbridge does for the control socket (docs/dashboard.md).
 */
void	model_zratio(struct top_conn *c);
/* Removes every connection not marked seen, then clears the marks. */
void	model_sweep(struct top_model *);
/* Adds a fact to d (dropped when d holds TOP_FACTS already). */
void	model_fact_add(struct top_detail *d, const char *key,
	    const char *value);
/* The fact with key, "" when d has none. */
const char *model_fact(const struct top_detail *d, const char *key);

/*
 * Applies one JSON line from the control socket (a "snapshot", "conn",
 * "hello" or "event" object). Returns 1 when the screen should change,
 * 0 otherwise, -1 when the line is not JSON.
 */
int	model_apply_json(struct top_model *, const char *line, size_t len);

/* ---- what the user sees: sorting, filtering, views ------------------------ */

enum top_sort {
	SORT_ID = 0, SORT_CLIENT, SORT_ROUTE, SORT_BACKEND, SORT_PROTO,
	SORT_AGE, SORT_RATE_IN, SORT_RATE_OUT, SORT_MSGS, SORT_LARGEST,
	SORT_QUEUED, SORT_STALL, SORT_RATIO, SORT_COUNT
};

enum top_view {
	VIEW_TABLE = 0,
	VIEW_DETAIL,
	VIEW_HOL,
	VIEW_COUNT
};

struct top_ui {
	enum top_view	 view;
	enum top_sort	 sort;
	int		 reverse;	/* invert the sort */
	int		 frozen;	/* keep the row order */
	int		 paused;	/* ignore new data */
	int		 help;		/* the help overlay is up */
	int		 filtering;	/* typing a filter */
	char		 filter_edit[128];
	char		 filter[128];	/* applied ("!re" inverts) */
	int		 filter_invert;
	regex_t		 filter_re;
	int		 filter_ok;
	char		 message[128];	/* one-line notice (bad regex) */
	uint64_t	*order;		/* ids in display order */
	size_t		 norder, order_cap;
	uint64_t	 selected;	/* id under the cursor, 0: first */
	size_t		 top;		/* first visible row */
	int		 frame_scroll;	/* detail: frames scrolled back */
	int		 rows;		/* table rows visible (from layout) */
	uint64_t	*hol_order;
	size_t		 nhol, hol_cap;
};

/* Column names and sort keys, for the help and the table header. */
struct top_column {
	const char	*name;
	int		 width;		/* minimum */
	int		 right;		/* right-aligned */
	int		 prio;		/* dropped first when narrow: high */
	int		 sort;		/* enum top_sort, or -1 */
	int		 key;		/* the sort key */
};
extern const struct top_column top_columns[];
extern const size_t top_ncolumns;

void	ui_init(struct top_ui *);
void	ui_free(struct top_ui *);
/*
 * Sets the filter from text ("!" inverts). Returns 0, or -1 with
 * ui->message telling why (the old filter stays).
 */
int	ui_set_filter(struct top_ui *, const char *text);
/* Does c pass the filter? */
int	ui_match(const struct top_ui *, const struct top_conn *c);
/* Rebuilds ui->order from the model (sort, filter, freeze). */
void	ui_order(struct top_ui *, const struct top_model *);
/* The selected connection (clamped to what is shown), or NULL. */
struct top_conn	*ui_selected(struct top_ui *, struct top_model *);
/* Moves the cursor by delta rows (clamped). */
void	ui_move(struct top_ui *, int delta);

/* A view: lays out one screen from the model. */
struct top_view_ops {
	const char	*name;
	void		(*layout)(struct scr *, struct top_ui *,
			    struct top_model *, int y0, int y1);
	const char	*hints;		/* the key-hint bar */
};
extern const struct top_view_ops view_table_ops, view_detail_ops,
	    view_hol_ops;

/* The role a stall of ns is drawn in (dim, good, warn, bad). */
enum top_role	stall_role(uint64_t ns);
/* The table columns that fit in w: indices and widths; returns how many. */
int	table_columns(int w, int *col, int *width);

/* The whole screen: header, the current view, hints, overlays. */
void	top_layout(struct scr *, struct top_ui *, struct top_model *);
/* The header's height for a screen of h rows. */
int	header_layout(struct scr *, struct top_ui *, struct top_model *);
void	help_layout(struct scr *, struct top_ui *);

/*
 * Handles a key (ncurses code or character). Returns 1 to quit, 0
 * otherwise. need_detail is set when the view wants a connection's
 * details (re)loaded.
 */
int	ui_key(struct top_ui *, struct top_model *, int key);

/* Keys beyond ASCII, independent of ncurses (main.c maps them). */
enum {
	K_UP = 0x10000, K_DOWN, K_LEFT, K_RIGHT, K_PGUP, K_PGDN, K_HOME,
	K_END, K_ENTER, K_ESC, K_BACKSPACE, K_RESIZE
};

#endif
