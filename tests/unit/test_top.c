/*
 * test_top.c -- wsbridge-top's layout and formatting as data: numbers in
 * narrow columns, a control-socket snapshot applied to the model, the
 * table at two widths, sorting and its inversion, the regex filter and
 * its "!" inversion, the head-of-line ranking and timeline, the detail
 * view, the help overlay. No terminal: screens are read back as text.
 */
#include "wsb_autoconf.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "top.h"

#define T0	1700000000000000000ULL	/* a wall clock, ns */

static const char snapshot[] =
"{\"type\":\"snapshot\",\"global\":{\"t\":1700000010000000000,"
"\"uptime_ns\":10000000000,\"pid\":42,\"conns_total\":3,"
"\"open\":{\"h1_ws\":2,\"h1_wss\":1,\"h2_ws\":0,\"h2_wss\":0},"
"\"bytes_in\":67108864,\"bytes_out\":33554432,\"msgs_in\":120,"
"\"msgs_out\":119,\"rates\":{\"2s\":{\"bytes_in\":1048576.0,"
"\"bytes_out\":524288.0,\"msgs_in\":10.0,\"msgs_out\":9.5},"
"\"10s\":{\"bytes_in\":0.0,\"bytes_out\":0.0,\"msgs_in\":0.0,\"msgs_out\":0.0},"
"\"40s\":{\"bytes_in\":0.0,\"bytes_out\":0.0,\"msgs_in\":0.0,\"msgs_out\":0.0}},"
"\"peak\":{\"bytes_in\":2097152,\"bytes_out\":1,\"msgs_in\":20,\"msgs_out\":19},"
"\"log\":{\"enabled\":true,\"path\":\"wsbridge.db\",\"queue\":3,"
"\"queue_size\":65536,\"written\":999,\"dropped\":0,\"lost\":0,\"errors\":0,"
"\"failing\":false}},"
"\"cols\":[\"id\",\"state\",\"bytes_in\",\"bytes_out\",\"msgs_in\","
"\"msgs_out\",\"largest_in\",\"largest_out\",\"rate_in\",\"rate_out\","
"\"stall_out_ns\",\"stall_max_ns\",\"ctl_wait_ns\",\"q_out\",\"hol_msg\","
"\"hol_msg_size\",\"inflight_msg\",\"inflight_size\",\"inflight_sent\"],"
"\"new\":["
"{\"id\":1,\"peer\":\"127.0.0.1:40001\",\"route\":\"/echo\",\"backend\":\"echo\","
"\"path\":\"/echo\",\"proto\":\"h1\",\"tls\":false,\"t_start\":1700000000000000000},"
"{\"id\":2,\"peer\":\"127.0.0.1:40002\",\"route\":\"/echo\",\"backend\":\"echo\","
"\"path\":\"/echo\",\"proto\":\"h1\",\"tls\":false,\"t_start\":1700000005000000000},"
"{\"id\":3,\"peer\":\"10.1.2.3:5555\",\"route\":\"/vnc\",\"backend\":"
"\"127.0.0.1:5900\",\"path\":\"/vnc\",\"proto\":\"h1\",\"tls\":true,"
"\"t_start\":1700000009000000000}],"
"\"conns\":["
"[1,\"open\",67108864,33554432,1,0,67108864,0,0,524288,3000000000,3000000000,"
"2500000000,1048576,1,67108864,1,67108864,33554432],"
"[2,\"open\",1000,1000,100,100,10,10,100,100,0,200000,0,0,0,0,0,0,0],"
"[3,\"open\",0,0,19,19,5,5,2000000,0,0,0,0,0,0,0,0,0,0]]}";

static void
setup_model(struct top_model *m, struct top_ui *ui)
{
	model_init(m, 1, "wsbridge.sock");
	m->connected = 1;
	ui_init(ui);
	assert_int_equal(model_apply_json(m, snapshot, strlen(snapshot)), 1);
}

/* The screen row that contains needle, or -1. */
static int
find_row(const struct scr *s, const char *needle)
{
	int	y;

	for (y = 0; y < s->h; y++)
		if (strstr(scr_line(s, y), needle) != NULL)
			return (y);
	return (-1);
}

static void
test_format(void **state)
{
	char	b[64];
	uint64_t v[4] = { 0, 1, 4, 8 };

	assert_string_equal(fmt_bytes(b, sizeof b, 0), "0");
	assert_string_equal(fmt_bytes(b, sizeof b, 1023), "1023");
	assert_string_equal(fmt_bytes(b, sizeof b, 1024), "1.00K");
	assert_string_equal(fmt_bytes(b, sizeof b, 64 * 1024 * 1024), "64.0M");
	assert_string_equal(fmt_bytes(b, sizeof b, 1023 * 1024 + 1000),
	    "1.00M");
	assert_string_equal(fmt_bytes(b, sizeof b, 300ULL << 30), "300G");
	assert_string_equal(fmt_rate(b, sizeof b, 0.5), "0.5");
	assert_string_equal(fmt_count(b, sizeof b, 999), "999");
	assert_string_equal(fmt_count(b, sizeof b, 12345), "12.3k");
	assert_string_equal(fmt_count(b, sizeof b, 2.5), "2.5");
	assert_string_equal(fmt_dur(b, sizeof b, 0), "0");
	assert_string_equal(fmt_dur(b, sizeof b, 850000), "850us");
	assert_string_equal(fmt_dur(b, sizeof b, 12000000), "12ms");
	assert_string_equal(fmt_dur(b, sizeof b, 1250000000), "1.25s");
	assert_string_equal(fmt_dur(b, sizeof b, 185000000000ULL), "3m05s");
	assert_string_equal(fmt_dur(b, sizeof b, 7380000000000ULL), "2h03m");
	assert_string_equal(fmt_opcode(9), "ping");
	assert_string_equal(fmt_opcode(3), "rsv-3");
	fmt_spark(b, sizeof b, v, 4);
	assert_string_equal(b, " ▁▄█");
}

static void
test_snapshot_model(void **state)
{
	struct top_model	 m;
	struct top_ui		 ui;
	struct top_conn		*c;

	setup_model(&m, &ui);
	assert_int_equal(m.nconns, 3);
	c = model_find(&m, 1);
	assert_non_null(c);
	assert_string_equal(c->client, "127.0.0.1:40001");
	assert_int_equal(c->stall_out, 3000000000ULL);
	assert_int_equal(c->ctl_wait, 2500000000ULL);
	assert_int_equal(m.g.h1_wss, 1);
	assert_int_equal(m.g.pid, 42);
	/* A later snapshot without connection 2 drops it. */
	{
		const char *two = "{\"type\":\"snapshot\",\"global\":{},"
		    "\"cols\":[\"id\"],\"new\":[],\"conns\":[[1],[3]]}";

		assert_int_equal(model_apply_json(&m, two, strlen(two)), 1);
	}
	assert_int_equal(m.nconns, 2);
	assert_null(model_find(&m, 2));
	assert_non_null(model_find(&m, 3));
	assert_string_equal(model_find(&m, 3)->client, "10.1.2.3:5555");
	assert_int_equal(model_apply_json(&m, "not json", 8), -1);
	ui_free(&ui);
	model_free(&m);
}

static void
test_table(void **state)
{
	struct top_model	 m;
	struct top_ui		 ui;
	struct scr		 s;
	int			 hdr, r1, r2, r3;
	const char		*l;

	setup_model(&m, &ui);
	screen_init(&s, 160, 48);
	top_layout(&s, &ui, &m);
	assert_non_null(strstr(scr_line(&s, 0), "wsbridge-top"));
	assert_non_null(strstr(scr_line(&s, 0), "pid 42"));
	assert_non_null(strstr(scr_line(&s, 1), "h1 wss 1"));
	assert_true(find_row(&s, "bytes in") > 0);
	l = scr_line(&s, find_row(&s, "bytes in"));
	assert_non_null(strstr(l, "1.00M"));	/* 2 s rate */
	assert_non_null(strstr(l, "2.00M"));	/* peak */
	assert_non_null(strstr(l, "64.0M"));	/* total */
	assert_true(find_row(&s, "frame log  wsbridge.db") > 0);
	hdr = find_row(&s, "CLIENT");
	assert_true(hdr > 0);
	l = scr_line(&s, hdr);
	assert_non_null(strstr(l, "BACKEND"));
	assert_non_null(strstr(l, "HOL↓"));	/* default: stall, worst first */
	/* Sorted by stall: connection 1 (3 s) first. */
	r1 = find_row(&s, "127.0.0.1:40001");
	r2 = find_row(&s, "127.0.0.1:40002");
	r3 = find_row(&s, "10.1.2.3:5555");
	assert_int_equal(r1, hdr + 1);
	assert_true(r2 > r1 && r3 > r1);
	assert_non_null(strstr(scr_line(&s, r1), "3.00s"));
	assert_non_null(strstr(scr_line(&s, r1), "64.0M"));
	assert_non_null(strstr(scr_line(&s, r3), "h1+tls"));
	assert_int_equal(s.cells[r1 * s.w + 3].role, R_SELECTED);
	/* The hint bar. */
	assert_non_null(strstr(scr_line(&s, 47), "Quit"));
	assert_non_null(strstr(scr_line(&s, 47), "Filter"));

	/* I sorts by rate in: connection 3 (2M/s) first; again inverts. */
	ui_key(&ui, &m, 'I');
	top_layout(&s, &ui, &m);
	assert_int_equal(find_row(&s, "10.1.2.3:5555"), hdr + 1);
	assert_non_null(strstr(scr_line(&s, hdr), "IN/s↓"));
	ui_key(&ui, &m, 'I');
	top_layout(&s, &ui, &m);
	assert_int_equal(find_row(&s, "10.1.2.3:5555"), hdr + 3);
	assert_non_null(strstr(scr_line(&s, hdr), "IN/s↑"));

	/* Narrow: BACKEND goes, CLIENT and HOL stay. */
	screen_free(&s);
	screen_init(&s, 80, 24);
	top_layout(&s, &ui, &m);
	hdr = find_row(&s, "CLIENT");
	assert_true(hdr > 0);
	assert_null(strstr(scr_line(&s, hdr), "BACKEND"));
	assert_non_null(strstr(scr_line(&s, hdr), "HOL"));
	screen_free(&s);
	ui_free(&ui);
	model_free(&m);
}

static void
test_filter(void **state)
{
	struct top_model	m;
	struct top_ui		ui;
	struct scr		s;
	const char		*k;

	setup_model(&m, &ui);
	screen_init(&s, 160, 48);
	/* Typing "/vnc" Enter keeps connection 3 only. */
	ui_key(&ui, &m, '/');
	for (k = "vnc"; *k != '\0'; k++)
		ui_key(&ui, &m, *k);
	top_layout(&s, &ui, &m);
	assert_true(find_row(&s, "/vnc") > 0);		/* the prompt */
	assert_true(s.cursor_x > 0);
	ui_key(&ui, &m, K_ENTER);
	top_layout(&s, &ui, &m);
	assert_true(find_row(&s, "10.1.2.3:5555") > 0);
	assert_int_equal(find_row(&s, "127.0.0.1:40001"), -1);
	assert_non_null(strstr(scr_line(&s, 1), "shown 1/3"));
	/* "!vnc" inverts. */
	assert_int_equal(ui_set_filter(&ui, "!vnc"), 0);
	top_layout(&s, &ui, &m);
	assert_int_equal(find_row(&s, "10.1.2.3:5555"), -1);
	assert_true(find_row(&s, "127.0.0.1:40001") > 0);
	/* A bad regex keeps the old filter and says why. */
	assert_int_equal(ui_set_filter(&ui, "(("), -1);
	assert_non_null(strstr(ui.message, "bad regex"));
	assert_string_equal(ui.filter, "!vnc");
	/* Empty clears. */
	assert_int_equal(ui_set_filter(&ui, ""), 0);
	top_layout(&s, &ui, &m);
	assert_non_null(strstr(scr_line(&s, 1), "shown 3/3"));
	screen_free(&s);
	ui_free(&ui);
	model_free(&m);
}

static void
test_freeze_pause_help(void **state)
{
	struct top_model	m;
	struct top_ui		ui;
	struct scr		s;
	int			hdr;

	setup_model(&m, &ui);
	screen_init(&s, 160, 48);
	top_layout(&s, &ui, &m);
	ui_key(&ui, &m, 'f');
	ui_key(&ui, &m, 'p');
	top_layout(&s, &ui, &m);
	assert_non_null(strstr(scr_line(&s, 0), "PAUSED FROZEN"));
	/* Frozen: a new stall does not reorder. */
	model_find(&m, 3)->stall_out = 9000000000ULL;
	top_layout(&s, &ui, &m);
	hdr = find_row(&s, "CLIENT");
	assert_int_equal(find_row(&s, "127.0.0.1:40001"), hdr + 1);
	ui_key(&ui, &m, 'f');
	top_layout(&s, &ui, &m);
	assert_int_equal(find_row(&s, "10.1.2.3:5555"), hdr + 1);
	/* ? shows every key; any key closes it. */
	ui_key(&ui, &m, '?');
	top_layout(&s, &ui, &m);
	assert_true(find_row(&s, "wsbridge-top keys") >= 0);
	assert_true(find_row(&s, "freeze the row order") >= 0);
	assert_true(find_row(&s, "I rate in") >= 0);
	assert_int_equal(ui_key(&ui, &m, 'x'), 0);
	top_layout(&s, &ui, &m);
	assert_int_equal(find_row(&s, "wsbridge-top keys"), -1);
	assert_int_equal(ui_key(&ui, &m, 'q'), 1);
	screen_free(&s);
	ui_free(&ui);
	model_free(&m);
}

static const char conn_reply[] =
"{\"type\":\"conn\",\"conn\":{\"id\":1,\"peer\":\"127.0.0.1:40001\","
"\"origin\":\"http://app.example\",\"user_agent\":\"test/1.0\","
"\"subprotocol\":\"chat\",\"protocols\":\"chat,binary\",\"http_version\":"
"\"1.1\",\"backend_local\":\"127.0.0.1:40999\",\"frames_in\":3,"
"\"frames_out\":700,"
"\"hist_in\":[0,0,0,1,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,1],"
"\"hist_out\":[0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,700],"
"\"series\":{\"bytes_in\":[0,5,10],\"bytes_out\":[1,2,3],\"msgs_in\":[],"
"\"msgs_out\":[]},"
"\"queue_out\":{\"bytes\":262144,\"age_ns\":3000000000,\"ctl_age_ns\":"
"2500000000,\"ctl_age_opcode\":10,\"inflight_msg\":1,\"inflight_size\":"
"67108864,\"inflight_sent\":33554432,\"max_wait_ns\":3000000000,"
"\"max_wait_msg\":1,\"messages\":[{\"msg\":7,\"size\":100,\"first_ago_ns\":"
"6000000000,\"done_ago_ns\":5000000000,\"transfer_ns\":1000000000,"
"\"delay_next_ns\":400000000}]},"
"\"queue_in\":{},"
"\"frames\":[{\"t\":1700000009000000000,\"dir\":\"in\",\"opcode\":9,\"fin\":1,"
"\"rsv\":0,\"masked\":1,\"len\":4,\"close_code\":0,\"status\":0},"
"{\"t\":1700000009500000000,\"dir\":\"out\",\"opcode\":2,\"fin\":0,"
"\"rsv\":0,\"masked\":0,\"len\":65536,\"close_code\":0,\"status\":0}]}}";

static void
test_detail_hol(void **state)
{
	struct top_model	m;
	struct top_ui		ui;
	struct scr		s;
	int			y;

	setup_model(&m, &ui);
	screen_init(&s, 160, 48);
	top_layout(&s, &ui, &m);
	ui_key(&ui, &m, K_ENTER);		/* detail of the first row */
	assert_int_equal(ui.view, VIEW_DETAIL);
	assert_int_equal(ui.selected, 1);
	top_layout(&s, &ui, &m);
	assert_true(find_row(&s, "loading") > 0);
	assert_int_equal(model_apply_json(&m, conn_reply, strlen(conn_reply)),
	    1);
	top_layout(&s, &ui, &m);
	assert_true(find_row(&s, "origin http://app.example") > 0);
	assert_true(find_row(&s, "chat (offered chat,binary)") > 0);
	assert_true(find_row(&s, "backend local 127.0.0.1:40999") > 0);
	y = find_row(&s, "in flight #1 32.0M/64.0M");
	assert_true(y > 0);
	assert_non_null(strstr(scr_line(&s, y), "pong waiting 2.50s"));
	assert_non_null(strstr(scr_line(&s, y), "oldest 3.00s"));
	assert_true(find_row(&s, "frame sizes (log2") > 0);
	for (y = 0; getenv("TOP_DUMP") && y < s.h; y++) printf("%s\n", scr_line(&s, y));
	assert_true(find_row(&s, " 64.0K-128K") > 0);	/* the 700 frames */
	assert_true(find_row(&s, "OPCODE") > 0);
	y = find_row(&s, "ping");
	assert_true(y > 0);
	assert_non_null(strstr(scr_line(&s, y), "in "));
	assert_true(find_row(&s, "out  binary") > y);		/* oldest first */
	ui_key(&ui, &m, K_ESC);
	assert_int_equal(ui.view, VIEW_TABLE);

	/* Head-of-line: connection 1 on top, its cause and timeline. */
	ui_key(&ui, &m, 'h');
	top_layout(&s, &ui, &m);
	y = find_row(&s, "CAUSED BY");
	assert_true(y > 0);
	assert_non_null(strstr(scr_line(&s, y + 1), "127.0.0.1:40001"));
	assert_non_null(strstr(scr_line(&s, y + 1), "msg #1 of 64.0M"));
	assert_true(find_row(&s, "timeline of connection 1") > 0);
	y = find_row(&s, "out #7");
	assert_true(y > 0);
	assert_non_null(strstr(scr_line(&s, y), "█"));
	assert_non_null(strstr(scr_line(&s, y), "+400ms"));
	assert_true(find_row(&s, "pong 2.50s") > 0);
	screen_free(&s);
	ui_free(&ui);
	model_free(&m);
}

/* Issue 18's dashboard defects, each as the screen shows it. */
static const char conn_msgs[] =
"{\"type\":\"conn\",\"conn\":{\"id\":1,\"peer\":\"127.0.0.1:40001\","
"\"origin\":\"http://closed.example\",\"msgs_in\":5,\"msgs_out\":7,"
"\"queue_out\":{\"ctl_last_ns\":1250000000,\"ctl_max_ns\":185000000000,"
"\"ctl_count\":818},\"queue_in\":{},"
"\"frames\":[{\"t\":1700000009000000000,\"dir\":\"in\",\"opcode\":1,\"fin\":1,"
"\"len\":3},{\"t\":1700000009100000000,\"dir\":\"in\",\"opcode\":9,\"fin\":1,"
"\"len\":4},{\"t\":1700000009200000000,\"dir\":\"out\",\"opcode\":2,\"fin\":1,"
"\"len\":11},{\"t\":1700000009300000000,\"dir\":\"out\",\"opcode\":2,\"fin\":0,"
"\"len\":22},{\"t\":1700000009400000000,\"dir\":\"out\",\"opcode\":0,\"fin\":0,"
"\"len\":33}]}}";

static void
test_dashboard_defects(void **state)
{
	struct top_model	m;
	struct top_ui		ui;
	struct scr		s;
	char			b[64];
	const char		*l;
	int			y;
	static const char rate[] = "{\"type\":\"snapshot\",\"global\":{"
	    "\"t\":1700000010500000000,\"uptime_ns\":10500000000,"
	    "\"rates\":{\"2s\":{\"bytes_in\":3145728.0}},\"peak\":{"
	    "\"bytes_in\":0.0}},\"cols\":[\"id\"],\"new\":[],"
	    "\"conns\":[[1],[2],[3]]}";
	static const char idle[] = "{\"type\":\"snapshot\",\"global\":{"
	    "\"t\":1700000011000000000,\"uptime_ns\":11000000000,"
	    "\"rates\":{\"2s\":{\"bytes_in\":0.0}},\"peak\":{"
	    "\"bytes_in\":0.0}},\"cols\":[\"id\"],\"new\":[],"
	    "\"conns\":[[2],[3]]}";

	/* AGE: ms under a second, whole seconds, then m/h/d. */
	assert_string_equal(fmt_age(b, sizeof b, 0), "0ms");
	assert_string_equal(fmt_age(b, sizeof b, 250000000), "250ms");
	assert_string_equal(fmt_age(b, sizeof b, 8999999999ULL), "8s");
	assert_string_equal(fmt_age(b, sizeof b, 185000000000ULL), "3m05s");
	assert_string_equal(fmt_age(b, sizeof b, 7380000000000ULL), "2h03m");
	setup_model(&m, &ui);
	screen_init(&s, 160, 48);
	top_layout(&s, &ui, &m);
	l = scr_line(&s, find_row(&s, "127.0.0.1:40001"));
	assert_non_null(strstr(l, " 10s "));	/* 10 s old, not "10.00s" */
	assert_null(strstr(l, "10.00s"));
	l = scr_line(&s, find_row(&s, "10.1.2.3:5555"));
	assert_non_null(strstr(l, " 1s "));

	/* peak (2.0M so far): never below a 2 s rate seen, and it stays. */
	assert_int_equal(model_apply_json(&m, rate, strlen(rate)), 1);
	top_layout(&s, &ui, &m);
	y = find_row(&s, "bytes in ");
	assert_true(y > 0);
	l = strstr(scr_line(&s, y), "3.00M");
	assert_non_null(l);
	assert_non_null(strstr(l + 5, "3.00M"));	/* 2s, and peak */

	/* Detail: message numbers, the control-wait count whole. */
	ui_key(&ui, &m, 'g');
	ui_key(&ui, &m, K_ENTER);
	ui.selected = 1;
	assert_int_equal(model_apply_json(&m, conn_msgs, strlen(conn_msgs)),
	    1);
	top_layout(&s, &ui, &m);
	assert_true(find_row(&s, "1.25s last, 3m05s max, 818") > 0);
	/* LENGTH, MSG, CLOSE: in text #5; out #7 then #8 in two frames. */
	assert_non_null(strstr(scr_line(&s, find_row(&s, "in   text")),
	    "      3      5      -"));
	assert_non_null(strstr(scr_line(&s, find_row(&s, "in   ping")),
	    "      4      -      -"));
	assert_non_null(strstr(scr_line(&s, find_row(&s, "        11 ")),
	    "     11      7      -"));
	assert_non_null(strstr(scr_line(&s, find_row(&s, "        22 ")),
	    "     22      8      -"));
	assert_non_null(strstr(scr_line(&s, find_row(&s, "        33 ")),
	    "     33      8      -"));

	/* It closes: the view says so, keeps what it knew, header goes on. */
	assert_int_equal(model_apply_json(&m, idle, strlen(idle)), 1);
	top_layout(&s, &ui, &m);
	assert_int_equal(ui.view, VIEW_DETAIL);
	assert_true(find_row(&s, "connection 1 has closed") > 0);
	assert_true(find_row(&s, "origin http://closed.example") > 0);
	assert_non_null(strstr(scr_line(&s, 0), "up 11.00s"));
	ui_key(&ui, &m, K_ESC);
	ui_key(&ui, &m, K_ESC);
	top_layout(&s, &ui, &m);
	assert_true(find_row(&s, "3.00M") > 0);		/* the peak stays */
	screen_free(&s);
	ui_free(&ui);
	model_free(&m);
}

/* A wsbridge with the deflate columns: 7 compressed, 8 not. */
static const char zsnapshot[] =
"{\"type\":\"snapshot\",\"global\":{\"t\":1700000010000000000},"
"\"cols\":[\"id\",\"state\",\"bytes_in\",\"bytes_out\",\"wire_in\","
"\"wire_out\",\"plain_in\",\"plain_out\",\"zmsgs_in\",\"zmsgs_out\","
"\"zratio_in\",\"zratio_out\",\"zratio\"],"
"\"new\":["
"{\"id\":7,\"peer\":\"127.0.0.1:40007\",\"route\":\"/json\",\"backend\":"
"\"echo\",\"path\":\"/json\",\"proto\":\"h1\",\"tls\":false,"
"\"t_start\":1700000000000000000},"
"{\"id\":8,\"peer\":\"127.0.0.1:40008\",\"route\":\"/vnc\",\"backend\":"
"\"echo\",\"path\":\"/vnc\",\"proto\":\"h1\",\"tls\":false,"
"\"t_start\":1700000000000000000}],"
"\"conns\":["
"[7,\"open\",53000,21000,10000,5000,53000,21000,12,6,5300,4200,4933],"
"[8,\"open\",9000,9000,9000,9000,9000,9000,0,0,0,0,0]]}";

static const char zconn_reply[] =
"{\"type\":\"conn\",\"conn\":{\"id\":7,\"peer\":\"127.0.0.1:40007\","
"\"extensions\":\"permessage-deflate; client_max_window_bits=12\","
"\"frames_in\":12,\"frames_out\":6,\"queue_out\":{},\"queue_in\":{},"
"\"frames\":[]}}";

static const char zconn8[] =
"{\"type\":\"conn\",\"conn\":{\"id\":8,\"peer\":\"127.0.0.1:40008\","
"\"frames_in\":3,\"frames_out\":3,\"queue_out\":{},\"queue_in\":{},"
"\"frames\":[]}}";

static void
test_compression(void **state)
{
	struct top_model	 m;
	struct top_ui		 ui;
	struct scr		 s;
	struct top_conn		 c;
	char			 b[32];
	int			 hdr, y;
	const char		*l;

	/* The ratio as the CMP column and ctl show it. */
	assert_string_equal(fmt_ratio(b, sizeof b, 0), "-");
	assert_string_equal(fmt_ratio(b, sizeof b, 5300), "5.3x");
	assert_string_equal(fmt_ratio(b, sizeof b, 14249), "14.2x");
	assert_string_equal(fmt_ratio(b, sizeof b, 99949), "99.9x");
	assert_string_equal(fmt_ratio(b, sizeof b, 160400), "160x");
	assert_string_equal(fmt_ratio(b, sizeof b, 1000), "1.0x");
	assert_string_equal(fmt_ratio(b, sizeof b, 970), "1.0x");
	assert_string_equal(fmt_ratio(b, sizeof b, 500), "0.5x");
	assert_string_equal(fmt_ratio(b, sizeof b, 1), "0.0x");

	/* Ratios from counts (replay): 0 when nothing was compressed. */
	memset(&c, 0, sizeof c);
	c.plain_in = 53000;
	c.wire_in = 10000;
	c.zmsgs_in = 12;
	c.plain_out = c.wire_out = 3000;	/* sent plain: 1:1 */
	model_zratio(&c);
	assert_int_equal(c.zratio_in, 5300);
	assert_int_equal(c.zratio_out, 0);
	assert_int_equal(c.zratio, 4308);	/* 56000 / 13000 */
	memset(&c, 0, sizeof c);
	model_zratio(&c);
	assert_int_equal(c.zratio, 0);

	/* An older wsbridge, no deflate columns: CMP shows "-". */
	setup_model(&m, &ui);
	screen_init(&s, 160, 48);
	top_layout(&s, &ui, &m);
	hdr = find_row(&s, "CLIENT");
	assert_non_null(strstr(scr_line(&s, hdr), "CMP"));
	l = scr_line(&s, find_row(&s, "127.0.0.1:40001"));
	assert_non_null(strstr(l, "    - "));
	assert_int_equal(model_find(&m, 1)->zratio, 0);
	screen_free(&s);
	ui_free(&ui);
	model_free(&m);

	/* Columns by name: the ratio, the counts, "-" when not compressed. */
	model_init(&m, 1, "wsbridge.sock");
	m.connected = 1;
	ui_init(&ui);
	assert_int_equal(model_apply_json(&m, zsnapshot, strlen(zsnapshot)),
	    1);
	assert_int_equal(model_find(&m, 7)->wire_in, 10000);
	assert_int_equal(model_find(&m, 7)->plain_out, 21000);
	assert_int_equal(model_find(&m, 7)->zmsgs_out, 6);
	assert_int_equal(model_find(&m, 7)->zratio_out, 4200);
	screen_init(&s, 160, 48);
	ui_key(&ui, &m, 'N');			/* by id: 7 then 8 */
	top_layout(&s, &ui, &m);
	hdr = find_row(&s, "CLIENT");
	y = find_row(&s, "127.0.0.1:40007");
	assert_int_equal(y, hdr + 1);
	assert_non_null(strstr(scr_line(&s, y), " 4.9x "));
	y = find_row(&s, "127.0.0.1:40008");
	assert_non_null(strstr(scr_line(&s, y), "    - "));
	/* Z sorts by ratio, best first; again: reversed. */
	ui_key(&ui, &m, 'Z');
	top_layout(&s, &ui, &m);
	assert_non_null(strstr(scr_line(&s, hdr), "CMP↓"));
	assert_int_equal(find_row(&s, "127.0.0.1:40007"), hdr + 1);
	ui_key(&ui, &m, 'Z');
	top_layout(&s, &ui, &m);
	assert_non_null(strstr(scr_line(&s, hdr), "CMP↑"));
	assert_int_equal(find_row(&s, "127.0.0.1:40008"), hdr + 1);
	/* At 80 columns CMP gives way before CLIENT and HOL. */
	screen_free(&s);
	screen_init(&s, 80, 24);
	top_layout(&s, &ui, &m);
	l = scr_line(&s, find_row(&s, "CLIENT"));
	assert_null(strstr(l, "CMP"));
	assert_non_null(strstr(l, "HOL"));
	screen_free(&s);

	/* The detail view: each way, with the bytes behind the ratio. */
	screen_init(&s, 160, 48);
	ui.selected = 7;
	ui.view = VIEW_DETAIL;
	assert_int_equal(model_apply_json(&m, zconn_reply,
	    strlen(zconn_reply)), 1);
	top_layout(&s, &ui, &m);
	for (y = 0; getenv("TOP_DUMP") && y < s.h; y++)
		printf("%s\n", scr_line(&s, y));
	assert_true(find_row(&s, "extensions permessage-deflate") > 0);
	y = find_row(&s, "compression 4.9x");
	assert_true(y > 0);
	l = scr_line(&s, y);
	assert_non_null(strstr(l, "in 5.3x (51.8K -> 9.77K wire, 12 msgs "
	    "compressed)"));
	assert_non_null(strstr(l, "out 4.2x (20.5K -> 4.88K wire, 6 msgs "
	    "compressed)"));
	/* Not compressed and not agreed: no compression line. */
	ui.selected = 8;
	assert_int_equal(model_apply_json(&m, zconn8, strlen(zconn8)), 1);
	top_layout(&s, &ui, &m);
	assert_true(find_row(&s, "frames in/out 3/3") > 0);
	assert_int_equal(find_row(&s, "compression "), -1);
	screen_free(&s);
	ui_free(&ui);
	model_free(&m);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_format),
		cmocka_unit_test(test_snapshot_model),
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_filter),
		cmocka_unit_test(test_freeze_pause_help),
		cmocka_unit_test(test_detail_hol),
		cmocka_unit_test(test_compression),
		cmocka_unit_test(test_dashboard_defects),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
