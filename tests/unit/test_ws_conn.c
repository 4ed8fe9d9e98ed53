/*
 * test_ws_conn.c -- unit tests for the endpoint (ws_conn.c) on a fake
 * transport: what reaches the transport's send op, and the frame events
 * an observer gets, for compressed and plain outbound messages.
 */
#include "wsb_autoconf.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <zlib.h>

#include "util.h"
#include "ws_conn.h"
#include "ws_deflate.h"
#include "ws_frame.h"

/* The fake transport: sends land in out; each call is recorded. */
struct fake {
	struct evbuffer	*in, *out;
	int		 sends;
	size_t		 last_n, last_src_len;	/* of the last send */
	uint8_t		 last_hdr0;
	struct ws_frame_event ev[8];
	int		 nev;
};

static struct evbuffer *
f_input(void *t)
{
	return (((struct fake *)t)->in);
}

static struct evbuffer *
f_output(void *t)
{
	return (((struct fake *)t)->out);
}

static size_t
f_pending(void *t)
{
	return (evbuffer_get_length(((struct fake *)t)->out));
}

static size_t
f_send(void *t, const void *hdr, size_t hl, struct evbuffer *src, size_t n)
{
	struct fake	*f = t;

	f->sends++;
	f->last_n = n;
	f->last_src_len = src != NULL ? evbuffer_get_length(src) : 0;
	f->last_hdr0 = ((const uint8_t *)hdr)[0];
	evbuffer_add(f->out, hdr, hl);
	if (n > 0)
		evbuffer_remove_buffer(src, f->out, n);
	return (0);
}

static void
f_nop(void *t)
{
	(void)t;
}

static void
f_set_read(void *t, int on)
{
	(void)t;
	(void)on;
}

static void
f_close(void *t, int abort_)
{
	(void)t;
	(void)abort_;
}

static const struct ws_transport_ops fake_ops = {
	.input = f_input,
	.output = f_output,
	.pending = f_pending,
	.send = f_send,
	.flush = f_nop,
	.set_read = f_set_read,
	.close = f_close,
	.free = f_nop,
};

static size_t
h_room(void *arg)
{
	(void)arg;
	return (1 << 20);
}

static const struct ws_handler fake_handler = {
	.room = h_room,
};

static void
obs_frame(void *arg, const struct ws_frame_event *ev)
{
	struct fake	*f = arg;

	if (f->nev < (int)nitems(f->ev))
		f->ev[f->nev++] = *ev;
}

static const struct ws_observer fake_obs = {
	.capture = 0,
	.frame = obs_frame,
};

/* Inflates a message's payload (with the RFC 7692 tail added back). */
static size_t
inflate_msg(const uint8_t *z, size_t zn, uint8_t *out, size_t outn)
{
	static const uint8_t	tail[4] = { 0x00, 0x00, 0xff, 0xff };
	z_stream		s;
	size_t			got;

	memset(&s, 0, sizeof s);
	assert_int_equal(inflateInit2(&s, -15), Z_OK);
	s.next_in = (uint8_t *)(uintptr_t)z;
	s.avail_in = (uInt)zn;
	s.next_out = out;
	s.avail_out = (uInt)outn;
	(void)inflate(&s, Z_SYNC_FLUSH);
	s.next_in = (uint8_t *)(uintptr_t)tail;
	s.avail_in = sizeof tail;
	(void)inflate(&s, Z_SYNC_FLUSH);
	got = outn - s.avail_out;
	inflateEnd(&s);
	return (got);
}

static struct ws_conn *
new_conn(struct event_base *base, struct fake *f, size_t min_size)
{
	struct ws_limits		lim;
	struct ws_deflate_opts		opts;
	struct ws_deflate_params	p;
	struct ws_conn			*ws;

	memset(f, 0, sizeof *f);
	f->in = evbuffer_new();
	f->out = evbuffer_new();
	memset(&lim, 0, sizeof lim);
	lim.out_high = 1 << 20;
	lim.close_timeout_ms = 1000;
	ws = ws_conn_new(base, &fake_ops, f, &fake_handler, NULL, &lim, "t1");
	ws_deflate_opts_init(&opts);
	opts.enabled = 1;
	opts.min_size = min_size;
	memset(&p, 0, sizeof p);
	p.server_max_window_bits = 15;
	p.client_max_window_bits = 15;
	ws_conn_set_deflate(ws, &p, &opts);
	ws_conn_set_observer(ws, &fake_obs, f);
	return (ws);
}

static void
free_conn(struct ws_conn *ws, struct fake *f)
{
	ws_conn_set_observer(ws, NULL, NULL);
	ws_conn_free(ws);
	evbuffer_free(f->in);
	evbuffer_free(f->out);
}

/*
 * Regression: a compressed message's final frame reached the transport
 * with RFC 7692's 4-byte tail still behind it in the source, so the
 * send-now path (which takes a source's last bytes only) never applied
 * and every compressed message waited for a write event.
 */
static void
test_deflate_send_now(void **state)
{
	struct event_base	*base = event_base_new();
	struct ws_conn		*ws;
	struct evbuffer		*src = evbuffer_new();
	struct fake		 f;
	char			 msg[600];
	uint8_t			 wire[700], back[1000];
	const struct ws_counters *c;
	size_t			 i, n, hl;

	(void)state;
	for (i = 0; i < sizeof msg; i++)
		msg[i] = "{\"id\":1,\"kind\":\"reading\"}"[i % 25];
	ws = new_conn(base, &f, 0);
	evbuffer_add(src, msg, sizeof msg);
	ws_conn_send_data(ws, WS_OP_TEXT, 1, 1, src, sizeof msg, 0);
	assert_int_equal(evbuffer_get_length(src), 0);
	assert_int_equal(f.sends, 1);
	assert_int_equal(f.last_hdr0, 0x80 | 0x40 | WS_OP_TEXT); /* FIN RSV1 */
	assert_true(f.last_n < sizeof msg / 4);
	assert_int_equal(f.last_src_len, f.last_n);	/* nothing behind it */

	/* What went out inflates to the message. */
	n = evbuffer_get_length(f.out);
	assert_true(n <= sizeof wire);
	evbuffer_remove(f.out, wire, n);
	hl = n - f.last_n;
	assert_int_equal(inflate_msg(wire + hl, f.last_n, back, sizeof back),
	    sizeof msg);
	assert_memory_equal(back, msg, sizeof msg);

	/* The frame event and counters: wire size and what it stands for. */
	assert_int_equal(f.nev, 1);
	assert_int_equal(f.ev[0].len, f.last_n);
	assert_int_equal(f.ev[0].plain_len, sizeof msg);
	assert_int_equal(f.ev[0].zmsg, 1);
	assert_int_equal(f.ev[0].rsv, WS_RSV1);
	c = ws_conn_counters(ws);
	assert_int_equal(c->wire_out, f.last_n);
	assert_int_equal(c->payload_out, sizeof msg);
	assert_int_equal(c->zmsgs_out, 1);

	/* A second message (context takeover) goes the same way. */
	evbuffer_add(src, msg, sizeof msg);
	ws_conn_send_data(ws, WS_OP_TEXT, 1, 1, src, sizeof msg, 0);
	assert_int_equal(f.sends, 2);
	assert_int_equal(f.last_src_len, f.last_n);
	assert_int_equal(f.ev[1].plain_len, sizeof msg);
	assert_int_equal(ws_conn_counters(ws)->zmsgs_out, 2);

	free_conn(ws, &f);
	evbuffer_free(src);
	event_base_free(base);
}

/*
 * A message streamed in pieces: each frame's plain_len is the bytes
 * compressed since the previous frame; they add up to the message.
 */
static void
test_deflate_streamed_plain_len(void **state)
{
	struct event_base	*base = event_base_new();
	struct ws_conn		*ws;
	struct evbuffer		*src = evbuffer_new();
	struct fake		 f;
	char			 piece[4000];
	uint64_t		 sum = 0;
	int			 i;

	(void)state;
	memset(piece, 'a', sizeof piece);
	ws = new_conn(base, &f, 0);
	for (i = 0; i < 3; i++) {
		evbuffer_add(src, piece, sizeof piece);
		ws_conn_send_data(ws, WS_OP_BINARY, i == 0, i == 2, src,
		    sizeof piece, 0);
	}
	assert_true(f.nev >= 1);
	for (i = 0; i < f.nev; i++) {
		assert_int_equal(f.ev[i].zmsg, 1);
		assert_int_equal(f.ev[i].rsv, i == 0 ? WS_RSV1 : 0);
		sum += f.ev[i].plain_len;
	}
	assert_int_equal(f.ev[f.nev - 1].fin, 1);
	assert_int_equal(sum, 3 * sizeof piece);
	assert_int_equal(f.last_src_len, f.last_n);

	/* Below the minimum size it goes out plain: no zmsg, plain_len len. */
	free_conn(ws, &f);
	ws = new_conn(base, &f, 100);
	evbuffer_add(src, "tiny", 4);
	ws_conn_send_data(ws, WS_OP_TEXT, 1, 1, src, 4, 0);
	assert_int_equal(f.nev, 1);
	assert_int_equal(f.ev[0].zmsg, 0);
	assert_int_equal(f.ev[0].rsv, 0);
	assert_int_equal(f.ev[0].plain_len, 4);
	assert_int_equal(f.ev[0].len, 4);
	free_conn(ws, &f);
	evbuffer_free(src);
	event_base_free(base);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_deflate_send_now),
		cmocka_unit_test(test_deflate_streamed_plain_len),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
