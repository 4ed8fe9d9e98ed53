/*
 * test_framelog.c -- the sans-I/O parts of the frame log: the SPSC queue
 * (full ring, side bytes wrapping, release order), read-time tracking
 * (arrivals) and the log-* directives.
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

#include "arrivals.h"
#include "config.h"
#include "framelog_config.h"
#include "framelog_queue.h"
#include "util.h"

/* Pushes one record with n side bytes of value v; returns 0 or -1. */
static int
push(struct flogq *q, uint64_t session, size_t n, uint8_t v)
{
	struct flog_frame	*r;
	uint8_t			*b;

	if ((r = flogq_reserve(q, n, &b)) == NULL)
		return (-1);
	r->session = session;
	r->data_len = (uint32_t)n;
	if (n > 0)
		memset(b, v, n);
	flogq_commit(q);
	return (0);
}

static void
test_queue_full(void **state)
{
	struct flogq	q;
	uint64_t	i;

	flogq_init(&q, 5, 0);		/* rounded up to 8 */
	assert_int_equal(q.nrecs, 8);
	for (i = 0; i < 8; i++)
		assert_int_equal(push(&q, i, 0, 0), 0);
	assert_int_equal(push(&q, 99, 0, 0), -1);
	assert_int_equal(flogq_used(&q), 8);
	/* Nothing is visible before a commit, everything after. */
	assert_int_equal(flogq_peek(&q, 100), 8);
	assert_int_equal(flogq_peek(&q, 3), 3);
	for (i = 0; i < 3; i++)
		assert_int_equal(flogq_at(&q, i)->session, i);
	flogq_release(&q, 3);
	assert_int_equal(flogq_used(&q), 5);
	for (i = 8; i < 11; i++)
		assert_int_equal(push(&q, i, 0, 0), 0);
	assert_int_equal(push(&q, 99, 0, 0), -1);
	for (i = 0; i < 8; i++)
		assert_int_equal(flogq_at(&q, i)->session, i + 3);
	flogq_release(&q, 8);
	assert_int_equal(flogq_used(&q), 0);
	assert_int_equal(flogq_peek(&q, 10), 0);
	flogq_free(&q);
}

static void
test_queue_bytes(void **state)
{
	struct flogq		 q;
	const uint8_t		*d;
	size_t			 i;

	flogq_init(&q, 16, 100);
	assert_int_equal(push(&q, 1, 40, 'a'), 0);
	assert_int_equal(push(&q, 2, 40, 'b'), 0);
	/* 20 left at the end: 30 does not fit anywhere yet. */
	assert_int_equal(push(&q, 3, 30, 'c'), -1);
	/* A record without bytes still fits. */
	assert_int_equal(push(&q, 4, 0, 0), 0);
	assert_int_equal(flogq_bytes_used(&q), 80);
	flogq_release(&q, 1);		/* frees 'a' (0..40) */
	/* 30 bytes: skips the 20 at the end, lands at 0. */
	assert_int_equal(push(&q, 5, 30, 'c'), 0);
	assert_int_equal(flogq_peek(&q, 10), 3);
	d = flogq_data(&q, flogq_at(&q, 0));
	for (i = 0; i < 40; i++)
		assert_int_equal(d[i], 'b');
	assert_null(flogq_data(&q, flogq_at(&q, 1)));
	d = flogq_data(&q, flogq_at(&q, 2));
	assert_ptr_equal(d, q.bytes);
	for (i = 0; i < 30; i++)
		assert_int_equal(d[i], 'c');
	/* Larger than the ring: never. */
	assert_int_equal(push(&q, 6, 101, 'x'), -1);
	flogq_release(&q, 3);
	assert_int_equal(flogq_bytes_used(&q), 0);
	/* Up to half the ring always fits once it drained. */
	assert_int_equal(push(&q, 7, 50, 'z'), 0);
	flogq_free(&q);
}

/* Many records through a small queue: order and bytes survive wrapping. */
static void
test_queue_stream(void **state)
{
	struct flogq		 q;
	struct flog_frame	*r;
	const uint8_t		*d;
	uint64_t		 next_in = 0, next_out = 0;
	size_t			 n, i;

	flogq_init(&q, 16, 256);
	while (next_out < 10000) {
		while (push(&q, next_in, next_in % 37, (uint8_t)next_in) == 0)
			next_in++;
		n = flogq_peek(&q, 1 + next_out % 5);
		for (i = 0; i < n; i++) {
			r = flogq_at(&q, i);
			assert_int_equal(r->session, next_out);
			assert_int_equal(r->data_len, next_out % 37);
			if (r->data_len > 0) {
				d = flogq_data(&q, r);
				assert_int_equal(d[0], (uint8_t)next_out);
				assert_int_equal(d[r->data_len - 1],
				    (uint8_t)next_out);
			}
			next_out++;
		}
		flogq_release(&q, n);
	}
	flogq_free(&q);
}

static void
test_arrivals(void **state)
{
	struct arrivals	a;
	unsigned	i;

	memset(&a, 0, sizeof a);
	assert_int_equal(arrivals_time(&a, 10), 0);
	arrivals_note(&a, 100, 0, 1000);	/* bytes 0..99 at t=1000 */
	arrivals_note(&a, 100, 0, 1500);	/* nothing new */
	arrivals_note(&a, 250, 0, 2000);	/* 100..249 at t=2000 */
	assert_int_equal(arrivals_time(&a, 1), 1000);
	assert_int_equal(arrivals_time(&a, 100), 1000);
	assert_int_equal(arrivals_time(&a, 101), 2000);
	assert_int_equal(arrivals_time(&a, 250), 2000);
	assert_int_equal(arrivals_time(&a, 251), 0);
	/* Consumed past the first read: it is forgotten. */
	arrivals_note(&a, 300, 120, 3000);
	assert_int_equal(a.n, 2);
	assert_int_equal(arrivals_time(&a, 130), 2000);
	/* Full: the newest entry absorbs (time overestimated, not under). */
	for (i = 0; i < ARRIVALS_MAX + 4; i++)
		arrivals_note(&a, 400 + i, 120, 4000 + i);
	assert_int_equal(a.n, ARRIVALS_MAX);
	assert_true(arrivals_time(&a, 400 + ARRIVALS_MAX + 3) <
	    4000 + ARRIVALS_MAX + 3);
	assert_true(arrivals_time(&a, 400 + ARRIVALS_MAX + 3) != 0);
}

static void
ok(struct config *cfg, const char *line)
{
	char	*cause = NULL;

	if (config_parse_line(cfg, line, "t.conf:1", 1, &cause) != 0)
		fail_msg("\"%s\": %s", line, cause);
}

static void
bad(const char *line, const char *want)
{
	struct config	*cfg = config_new();
	char		*cause = NULL;

	assert_int_equal(config_parse_line(cfg, line, "t.conf:3", 3, &cause),
	    -1);
	if (strstr(cause, want) == NULL)
		fail_msg("\"%s\": got \"%s\", want \"%s\"", line, cause, want);
	free(cause);
	config_free(cfg);
}

static void
test_config(void **state)
{
	struct config	*cfg = config_new();
	uint64_t	 s;

	/* Defaults: off, nothing captured, drop, a size cap. */
	assert_null(cfg->log.db);
	assert_int_equal(cfg->log.capture, 0);
	assert_int_equal(cfg->log.overflow, FRAMELOG_DROP);
	assert_int_equal(cfg->log.ret_size, 1024ULL * 1024 * 1024);
	ok(cfg, "log-db \"/var/log/ws bridge.db\"");
	assert_string_equal(cfg->log.db, "/var/log/ws bridge.db");
	ok(cfg, "log-capture 256");
	assert_int_equal(cfg->log.capture, 256);
	ok(cfg, "log-capture 4k");
	assert_int_equal(cfg->log.capture, 4096);
	ok(cfg, "log-capture all");
	assert_int_equal(cfg->log.capture, FRAMELOG_CAPTURE_MAX);
	ok(cfg, "log-capture off");
	assert_int_equal(cfg->log.capture, 0);
	ok(cfg, "log-overflow block");
	assert_int_equal(cfg->log.overflow, FRAMELOG_BLOCK);
	ok(cfg, "log-batch 10000");
	assert_int_equal(cfg->log.batch, 10000);
	ok(cfg, "log-queue 1M");
	assert_int_equal(cfg->log.queue, 1024 * 1024);
	ok(cfg, "log-retention age=7d rows=10M size=2G");
	assert_int_equal(cfg->log.ret_age_s, 7 * 86400);
	assert_int_equal(cfg->log.ret_rows, 10 * 1024 * 1024);
	assert_int_equal(cfg->log.ret_size, 2ULL * 1024 * 1024 * 1024);
	ok(cfg, "log-retention age=12h");
	assert_int_equal(cfg->log.ret_age_s, 12 * 3600);
	assert_int_equal(cfg->log.ret_size, 0);
	ok(cfg, "log-retention none");
	assert_int_equal(cfg->log.ret_age_s, 0);
	assert_int_equal(cfg->log.writer_normal, 0);
	ok(cfg, "log-writer-priority normal");
	assert_int_equal(cfg->log.writer_normal, 1);
	ok(cfg, "log-writer-priority idle");
	assert_int_equal(cfg->log.writer_normal, 0);
	ok(cfg, "log-max-size 64M");
	assert_int_equal(cfg->log.max_size, 64 * 1024 * 1024);
	ok(cfg, "log-db off");
	assert_null(cfg->log.db);
	assert_int_equal(cfg->log.mode, 0600);
	ok(cfg, "log-db-mode 0640");
	assert_int_equal(cfg->log.mode, 0640);
	/* log-level still belongs to config.c. */
	ok(cfg, "log-level debug");
	config_free(cfg);

	bad("log-capture 2M", "log-capture: expected off, all or a size");
	bad("log-capture some", "log-capture");
	bad("log-overflow wait", "log-overflow: expected drop or block");
	bad("log-batch 0", "log-batch: bad number");
	bad("log-queue 10", "log-queue: bad number");
	bad("log-retention", "log-retention: expected");
	bad("log-retention age=soon", "log-retention: bad age 'soon'");
	bad("log-retention size=1k", "log-retention: bad size");
	bad("log-retention weeks=2", "expected age=, rows= or size=");
	bad("log-max-size 1k", "log-max-size: bad size");
	bad("log-writer-priority low", "log-writer-priority: expected idle "
	    "or normal");
	bad("log-db", "log-db needs one value");
	bad("log-db-mode 0440", "log-db-mode: expected an octal mode with "
	    "0600 in it, like 0640, got '0440'");
	bad("log-db-mode rw", "log-db-mode: expected an octal mode");
	bad("log-db-mode 01600", "log-db-mode: expected an octal mode");
	bad("log-colour red", "unknown directive 'log-colour'");

	assert_int_equal(framelog_parse_age("90", &s), 0);
	assert_int_equal(s, 90);
	assert_int_equal(framelog_parse_age("30m", &s), 0);
	assert_int_equal(s, 1800);
	assert_int_equal(framelog_parse_age("", &s), -1);
	assert_int_equal(framelog_parse_age("3w", &s), -1);
	assert_int_equal(framelog_parse_age("99999999999999999999d", &s), -1);
}

/* The writer's row map: exact keys, deletes that keep probe runs intact. */
static void
test_map(void **state)
{
	struct flogmap	m;
	uint64_t	i, found;

	(void)state;
	flogmap_init(&m, 1000);
	assert_int_equal(flogmap_take(&m, 1, 0, 0, 1), 0);	/* empty */
	/* Data by msg_no, control by (opcode, mono): all distinct keys. */
	for (i = 1; i <= 600; i++) {
		flogmap_put(&m, i % 7, (uint8_t)(i & 1), 0, i, 1000 + i);
		flogmap_put(&m, i % 7, (uint8_t)(i & 1), 10, i, 5000 + i);
	}
	assert_int_equal(m.n, 1000 - 1000 / 2 + 200);	/* forgot once */
	assert_true(m.forgotten > 0);
	/* Every other one out, then the rest: deletes never lose a key. */
	for (i = 600; i > 300; i -= 2)
		assert_int_equal(flogmap_take(&m, i % 7, (uint8_t)(i & 1), 0,
		    i), 1000 + i);
	for (i = 599; i > 300; i -= 2)
		assert_int_equal(flogmap_take(&m, i % 7, (uint8_t)(i & 1), 0,
		    i), 1000 + i);
	/* Taken once only; wrong session, dir or opcode finds nothing. */
	assert_int_equal(flogmap_take(&m, 600 % 7, 0, 0, 600), 0);
	assert_int_equal(flogmap_take(&m, 600 % 7, 1, 10, 600), 0);
	assert_int_equal(flogmap_take(&m, 600 % 7 + 1, 0, 10, 600), 0);
	for (i = 600, found = 0; i > 300; i--)
		found += flogmap_take(&m, i % 7, (uint8_t)(i & 1), 10, i) ==
		    5000 + i;
	assert_int_equal(found, 300);
	flogmap_clear(&m);
	assert_int_equal(m.n, 0);
	flogmap_put(&m, 3, 1, 9, 77, 42);
	assert_int_equal(flogmap_take(&m, 3, 1, 9, 77), 42);
	flogmap_free(&m);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_queue_full),
		cmocka_unit_test(test_queue_bytes),
		cmocka_unit_test(test_queue_stream),
		cmocka_unit_test(test_map),
		cmocka_unit_test(test_arrivals),
		cmocka_unit_test(test_config),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
