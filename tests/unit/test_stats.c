/*
 * test_stats.c -- the live statistics as data: log2 buckets, one-second
 * rate windows, and the head-of-line queue (oldest byte, control-frame
 * waits, in-flight message, transfer time and the delay imposed on the
 * next message, merging when busy).
 */
#include "wsb_autoconf.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "stats.h"
#include "ws_frame.h"

#define MS	1000000ULL
#define S	1000000000ULL

static struct stats_done	done[64];
static int			ndone;

static void
on_done(void *arg, const struct stats_done *d)
{
	if (ndone < 64)
		done[ndone++] = *d;
}

static void
test_hist(void **state)
{
	assert_int_equal(stats_hist_bucket(0), 0);
	assert_int_equal(stats_hist_bucket(1), 1);
	assert_int_equal(stats_hist_bucket(2), 2);
	assert_int_equal(stats_hist_bucket(3), 2);
	assert_int_equal(stats_hist_bucket(4), 3);
	assert_int_equal(stats_hist_bucket(65535), 16);
	assert_int_equal(stats_hist_bucket(65536), 17);
	assert_int_equal(stats_hist_bucket(UINT64_MAX), STATS_HIST - 1);
	assert_int_equal(stats_hist_floor(17), 65536);
	assert_int_equal(stats_hist_floor(0), 0);
}

static void
test_rates(void **state)
{
	struct stats_global	g;
	struct stats_conn	*c;
	struct stats_rates	r;
	uint32_t		series[5];

	stats_global_init(&g, 100 * S);
	c = stats_conn_new(NULL, NULL);
	/* 1000 bytes in each of seconds 100..104, one message each. */
	for (int i = 0; i < 5; i++)
		stats_payload(c, &g, STATS_IN, 1000, 1, 1, 0,
		    (100 + (uint64_t)i) * S + 500 * MS);
	/* At 105.0 s: the last two full seconds hold 2000 bytes. */
	stats_secs_rates(&c->secs, 105 * S, 2, &r);
	assert_true(r.bytes[STATS_IN] > 999 && r.bytes[STATS_IN] < 1001);
	assert_true(r.msgs[STATS_IN] > 0.99 && r.msgs[STATS_IN] < 1.01);
	assert_true(r.bytes[STATS_OUT] == 0);
	/* Ten seconds later nothing is left in a 2 s window... */
	stats_secs_rates(&c->secs, 115 * S, 2, &r);
	assert_true(r.bytes[STATS_IN] == 0);
	/* ...but the 40 s window still has all 5000 bytes. */
	stats_secs_rates(&c->secs, 115 * S, 40, &r);
	assert_true(r.bytes[STATS_IN] > 5000.0 / 40.5 &&
	    r.bytes[STATS_IN] < 5000.0 / 39.5);
	stats_secs_series(&c->secs, 105 * S, STATS_IN, 0, 5, series);
	assert_int_equal(series[0], 1000);
	assert_int_equal(series[4], 1000);
	stats_global_tick(&g, 105 * S);
	assert_int_equal(g.peak_bytes[STATS_IN], 2000);	/* 2 s */
	assert_int_equal(g.bytes[STATS_IN], 5000);
	assert_int_equal(c->largest[STATS_IN], 1000);
	stats_conn_free(c);
}

/*
 * Two workers' globals add up second by second, though their rings last
 * rolled at different times (their current buckets differ).
 */
static void
test_global_add(void **state)
{
	struct stats_global	a, b, sum;
	struct stats_conn	*c;
	uint32_t		series[3];

	stats_global_init(&a, 100 * S);
	stats_global_init(&b, 90 * S);
	c = stats_conn_new(NULL, NULL);
	stats_payload(c, &a, STATS_IN, 1000, 1, 1, 0, 101 * S);
	stats_payload(c, &b, STATS_IN, 10, 1, 1, 0, 101 * S);
	stats_payload(c, &b, STATS_IN, 20, 1, 1, 0, 102 * S);
	a.conns_total = 3;
	b.conns_total = 4;
	a.ctl_max = 7;
	b.ctl_max = 5;
	stats_global_init(&sum, 103 * S);
	stats_global_add(&sum, &a, 103 * S);
	stats_global_add(&sum, &b, 103 * S);
	assert_int_equal(sum.conns_total, 7);
	assert_int_equal(sum.ctl_max, 7);
	assert_int_equal(sum.bytes[STATS_IN], 1030);
	assert_int_equal(sum.msgs[STATS_IN], 3);
	stats_secs_series(&sum.secs, 103 * S, STATS_IN, 0, 3, series);
	assert_int_equal(series[0], 0);		/* second 100 */
	assert_int_equal(series[1], 1010);	/* second 101 */
	assert_int_equal(series[2], 20);	/* second 102 */
	stats_conn_free(c);
}

/*
 * A 3-frame outbound message, then a pong behind it, then a second
 * message: the pong and the next message wait until the first has left.
 */
static void
test_queue(void **state)
{
	struct stats_global	 g;
	struct stats_conn	*c;
	struct stats_q		*q;
	uint64_t		 size, sent, t = 10 * S;
	int			 complete, i;

	ndone = 0;
	stats_global_init(&g, t);
	c = stats_conn_new(on_done, NULL);
	q = &c->q[STATS_OUT];
	stats_q_other(q, STATS_OUT, 100, t);		/* the 101 response */
	stats_taken(c, &g, STATS_OUT, 100, t);
	assert_int_equal(stats_q_bytes(q), 0);

	stats_frame(c, &g, STATS_OUT, WS_OP_BINARY, 0, 1000, 1000, 4, 0, t);
	stats_frame(c, &g, STATS_OUT, WS_OP_CONT, 0, 1000, 1000, 4, 0, t + 1 * MS);
	/* A ping read at t+2ms is answered at t+3ms. */
	stats_frame(c, &g, STATS_OUT, WS_OP_PONG, 1, 4, 4, 2, t + 2 * MS, t + 3 * MS);
	stats_frame(c, &g, STATS_OUT, WS_OP_CONT, 1, 1000, 1000, 4, 0, t + 4 * MS);
	stats_frame(c, &g, STATS_OUT, WS_OP_TEXT, 1, 10, 10, 2, 0, t + 5 * MS);
	assert_int_equal(stats_q_bytes(q), 3 * 1004 + 6 + 12);
	assert_int_equal(c->msgs[STATS_OUT], 2);
	assert_int_equal(c->largest[STATS_OUT], 3000);

	/* Nothing written for a second: the head has waited 1 s. */
	assert_int_equal(stats_q_age(q, t + 1 * S), 1 * S);
	assert_int_equal(stats_q_ctl_age(q, t + 1 * S, NULL), 1 * S - 2 * MS);
	assert_int_equal(stats_q_inflight(q, &size, &sent, &complete), 1);
	assert_int_equal(size, 3000);
	assert_int_equal(sent, 0);
	assert_int_equal(complete, 1);

	/* The first frame leaves at t+1s, the second and the pong at t+2s. */
	stats_taken(c, &g, STATS_OUT, 1004, t + 1 * S);
	assert_int_equal(stats_q_inflight(q, &size, &sent, &complete), 1);
	assert_int_equal(sent, 1000);
	assert_int_equal(size, 3000);
	stats_taken(c, &g, STATS_OUT, 1004 + 6, t + 2 * S);
	assert_int_equal(ndone, 1);
	assert_int_equal(done[0].kind, STATS_K_CONTROL);
	assert_int_equal(done[0].opcode, WS_OP_PONG);
	assert_int_equal(done[0].wait_ns, 2 * S - 2 * MS);
	assert_int_equal(q->ctl_max, 2 * S - 2 * MS);
	/* The rest of message 1 at t+3s: message 2 waited for it. */
	stats_taken(c, &g, STATS_OUT, 1004, t + 3 * S);
	assert_int_equal(ndone, 2);
	assert_int_equal(done[1].kind, STATS_K_DATA);
	assert_int_equal(done[1].msg_no, 1);
	assert_int_equal(done[1].size, 3000);
	assert_int_equal(done[1].transfer_ns, 3 * S);
	assert_int_equal(done[1].delay_next_ns, 3 * S - 5 * MS);
	assert_int_equal(q->delay_max_msg, 1);
	assert_int_equal(q->max_wait, 3 * S - 4 * MS);	/* its last frame */
	assert_int_equal(stats_q_age(q, t + 3 * S), 3 * S - 5 * MS);
	stats_taken(c, &g, STATS_OUT, 12, t + 3 * S + 1 * MS);
	assert_int_equal(stats_q_bytes(q), 0);
	assert_int_equal(q->max_wait, 3 * S - 4 * MS);
	assert_int_equal(q->max_wait_msg, 1);		/* it was behind #1 */
	assert_int_equal(ndone, 2);	/* #2's successor is not known yet */
	/* A third message queued later did not wait for #2. */
	stats_frame(c, &g, STATS_OUT, WS_OP_TEXT, 1, 1, 1, 2, 0, t + 4 * S);
	assert_int_equal(ndone, 3);
	assert_int_equal(done[2].msg_no, 2);
	assert_int_equal(done[2].delay_next_ns, 0);
	stats_taken(c, &g, STATS_OUT, 3, t + 4 * S);
	/* Freeing reports the last message with nothing behind it. */
	stats_conn_free(c);
	assert_int_equal(ndone, 4);
	assert_int_equal(done[3].msg_no, 3);
	/*
	 * The histograms: the pong's wait (up to 5 s); #2 waited behind #1,
	 * #3 behind nothing; #3 had no successor, so it is not observed.
	 */
	assert_int_equal(g.hol_ctl[STATS_OUT][8], 1);
	assert_int_equal(g.hol_ctl_ns[STATS_OUT], 2 * S - 2 * MS);
	assert_int_equal(g.hol_msg[STATS_OUT][8], 1);
	assert_int_equal(g.hol_msg[STATS_OUT][0], 1);
	assert_int_equal(g.hol_msg_ns[STATS_OUT], 3 * S - 5 * MS);
	assert_int_equal(g.hol_msg[STATS_IN][0], 0);

	/* More pieces than marks: merged, counted, never lost bytes. */
	c = stats_conn_new(NULL, NULL);
	for (i = 0; i < STATS_MARKS + 5; i++)
		stats_frame(c, &g, STATS_OUT, WS_OP_TEXT, 1, 8, 8, 2, 0,
		    t + (uint64_t)i * MS);
	assert_int_equal(c->q[STATS_OUT].merged, 1);
	assert_int_equal(stats_q_bytes(&c->q[STATS_OUT]),
	    (STATS_MARKS + 5) * 10);
	stats_taken(c, &g, STATS_OUT, (STATS_MARKS + 5) * 10, t + S);
	assert_int_equal(stats_q_bytes(&c->q[STATS_OUT]), 0);
	assert_int_equal(c->q[STATS_OUT].n, 0);
	stats_conn_free(c);
}

/*
 * A compressed outbound message: the totals, rates and largest message
 * count what it inflates to, the queue what is framed.
 */
static void
test_compressed_out(void **state)
{
	struct stats_global	 g;
	struct stats_conn	*c;
	struct stats_rates	 r;
	uint64_t		 t = 70 * S;

	stats_global_init(&g, t);
	c = stats_conn_new(NULL, NULL);
	/* 5000 bytes in two frames of 300 and 200 (zlib held some back). */
	stats_frame(c, &g, STATS_OUT, WS_OP_TEXT, 0, 300, 4000, 4, 0, t);
	stats_frame(c, &g, STATS_OUT, WS_OP_CONT, 1, 200, 1000, 4, 0, t);
	assert_int_equal(c->bytes[STATS_OUT], 5000);
	assert_int_equal(g.bytes[STATS_OUT], 5000);
	assert_int_equal(c->largest[STATS_OUT], 5000);
	assert_int_equal(c->msgs[STATS_OUT], 1);
	assert_int_equal(stats_q_bytes(&c->q[STATS_OUT]), 300 + 200 + 8);
	stats_secs_rates(&c->secs, t, 1, &r);
	assert_true(r.bytes[STATS_OUT] == 5000);
	stats_conn_free(c);
}

/* Inbound payload toward a backend: the in queue and its messages. */
static void
test_inbound(void **state)
{
	struct stats_global	 g;
	struct stats_conn	*c;
	uint64_t		 t = 50 * S;

	ndone = 0;
	stats_global_init(&g, t);
	c = stats_conn_new(on_done, NULL);
	stats_payload(c, &g, STATS_IN, 500, 1, 0, 1, t);
	stats_payload(c, &g, STATS_IN, 500, 0, 1, 1, t + 10 * MS);
	stats_payload(c, &g, STATS_IN, 7, 1, 1, 1, t + 20 * MS);
	assert_int_equal(stats_q_bytes(&c->q[STATS_IN]), 1007);
	stats_taken(c, &g, STATS_IN, 1007, t + 100 * MS);
	assert_int_equal(ndone, 1);
	assert_int_equal(done[0].dir, STATS_IN);
	assert_int_equal(done[0].size, 1000);
	assert_int_equal(done[0].transfer_ns, 100 * MS);
	assert_int_equal(done[0].delay_next_ns, 80 * MS);
	assert_int_equal(c->msgs[STATS_IN], 2);
	assert_int_equal(c->largest[STATS_IN], 1000);
	stats_conn_free(c);
	assert_int_equal(ndone, 2);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hist),
		cmocka_unit_test(test_rates),
		cmocka_unit_test(test_global_add),
		cmocka_unit_test(test_queue),
		cmocka_unit_test(test_inbound),
		cmocka_unit_test(test_compressed_out),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
