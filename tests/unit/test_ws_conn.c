/*
 * test_ws_conn.c -- unit tests for the endpoint (ws_conn.c) on a fake
 * transport: what reaches the transport's send op, and the frame events
 * an observer gets, for compressed and plain outbound messages; and the
 * one input road (ws_conn_feed, ws_conn_input) fed whole, byte by byte
 * and through the input buffer.
 */
#include "wsb_autoconf.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sys/uio.h>

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
	size_t		 last_n;		/* payload bytes of the last send */
	int		 last_cnt;		/* its iovec count */
	uint8_t		 last_hdr0;
	struct evbuffer	*got;			/* payload handed to the owner */
	int		 dones, closing;
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

/* Takes nothing at once: every byte lands in out, as behind a queue. */
static size_t
f_send(void *t, const struct iovec *iov, int cnt)
{
	struct fake	*f = t;
	int		 i;

	f->sends++;
	f->last_cnt = cnt;
	f->last_hdr0 = ((const uint8_t *)iov[0].iov_base)[0];
	f->last_n = 0;
	for (i = 0; i < cnt; i++) {
		evbuffer_add(f->out, iov[i].iov_base, iov[i].iov_len);
		if (i > 0)
			f->last_n += iov[i].iov_len;
	}
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

static void
h_payload(void *arg, const uint8_t *p, size_t n, unsigned opcode, int first,
    int last)
{
	struct fake	*f = arg;

	(void)opcode;
	(void)first;
	(void)last;
	if (f != NULL && n > 0)
		evbuffer_add(f->got, p, n);
}

static void
h_done(void *arg)
{
	struct fake	*f = arg;

	if (f != NULL)
		f->dones++;
}

static void
h_closing(void *arg, uint16_t code, int by_peer)
{
	struct fake	*f = arg;

	(void)by_peer;
	if (f != NULL)
		f->closing = code;
}

static const struct ws_handler fake_handler = {
	.payload = h_payload,
	.room = h_room,
	.input_done = h_done,
	.writable = f_nop,
	.closing = h_closing,
	.closed = f_nop,
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
	f->got = evbuffer_new();
	memset(&lim, 0, sizeof lim);
	lim.out_high = 1 << 20;
	lim.close_timeout_ms = 1000;
	ws = ws_conn_new(base, &fake_ops, f, &fake_handler, f, &lim, "t1");
	if (min_size == SIZE_MAX) {	/* no permessage-deflate */
		ws_conn_set_observer(ws, &fake_obs, f);
		return (ws);
	}
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
	evbuffer_free(f->got);
}

/*
 * A compressed message goes to the transport as one frame in one send,
 * without RFC 7692's 4-byte tail, and inflates back to the message.
 */
static void
test_deflate_send(void **state)
{
	struct event_base	*base = event_base_new();
	struct ws_conn		*ws;
	struct fake		 f;
	char			 msg[600];
	uint8_t			 wire[700], back[1000];
	const struct ws_counters *c;
	size_t			 i, n, hl;

	(void)state;
	for (i = 0; i < sizeof msg; i++)
		msg[i] = "{\"id\":1,\"kind\":\"reading\"}"[i % 25];
	ws = new_conn(base, &f, 0);
	assert_int_equal(ws_conn_send(ws, WS_OP_TEXT, 1, 1, (uint8_t *)msg,
	    sizeof msg, 0, 0), sizeof msg);
	assert_int_equal(f.sends, 1);
	assert_int_equal(f.last_hdr0, 0x80 | 0x40 | WS_OP_TEXT); /* FIN RSV1 */
	assert_true(f.last_n < sizeof msg / 4);

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
	(void)ws_conn_send(ws, WS_OP_TEXT, 1, 1, (uint8_t *)msg, sizeof msg,
	    0, 0);
	assert_int_equal(f.sends, 2);
	assert_int_equal(f.ev[1].plain_len, sizeof msg);
	assert_int_equal(ws_conn_counters(ws)->zmsgs_out, 2);

	free_conn(ws, &f);
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
	struct fake		 f;
	uint8_t			 piece[4000];
	uint64_t		 sum = 0;
	int			 i;

	(void)state;
	memset(piece, 'a', sizeof piece);
	ws = new_conn(base, &f, 0);
	for (i = 0; i < 3; i++)
		(void)ws_conn_send(ws, WS_OP_BINARY, i == 0, i == 2, piece,
		    sizeof piece, 0, 0);
	assert_true(f.nev >= 1);
	for (i = 0; i < f.nev; i++) {
		assert_int_equal(f.ev[i].zmsg, 1);
		assert_int_equal(f.ev[i].rsv, i == 0 ? WS_RSV1 : 0);
		sum += f.ev[i].plain_len;
	}
	assert_int_equal(f.ev[f.nev - 1].fin, 1);
	assert_int_equal(sum, 3 * sizeof piece);

	/* Below the minimum size it goes out plain: no zmsg, plain_len len. */
	free_conn(ws, &f);
	ws = new_conn(base, &f, 100);
	(void)ws_conn_send(ws, WS_OP_TEXT, 1, 1, (const uint8_t *)"tiny", 4,
	    0, 0);
	assert_int_equal(f.nev, 1);
	assert_int_equal(f.ev[0].zmsg, 0);
	assert_int_equal(f.ev[0].rsv, 0);
	assert_int_equal(f.ev[0].plain_len, 4);
	assert_int_equal(f.ev[0].len, 4);
	free_conn(ws, &f);
	event_base_free(base);
}

/*
 * Whole messages cut at max_frame go in one send: a header and a payload
 * iovec each, up to 64 of them, and the call says how much went.
 */
static void
test_send_batch(void **state)
{
	struct event_base	*base = event_base_new();
	struct ws_conn		*ws;
	struct fake		 f;
	uint8_t			 buf[100 * 70];
	size_t			 n;

	(void)state;
	memset(buf, 'x', sizeof buf);
	ws = new_conn(base, &f, SIZE_MAX);
	n = ws_conn_send(ws, WS_OP_BINARY, 1, 1, buf, 250, 100, 0);
	assert_int_equal(n, 250);
	assert_int_equal(f.sends, 1);
	assert_int_equal(f.last_cnt, 6);
	assert_int_equal(f.nev, 3);
	assert_int_equal(f.ev[2].len, 50);
	assert_int_equal(f.ev[2].msg_no, 3);
	assert_int_equal(ws_conn_counters(ws)->msgs_out, 3);
	/* 70 messages' worth: 64 go, the caller sends the rest. */
	n = ws_conn_send(ws, WS_OP_BINARY, 1, 1, buf, sizeof buf, 100, 0);
	assert_int_equal(n, 64 * 100);
	assert_int_equal(ws_conn_counters(ws)->frames_out, 3 + 64);
	assert_int_equal(evbuffer_get_length(f.out), 250 + 3 * 2 +
	    64 * (100 + 2));
	free_conn(ws, &f);
	event_base_free(base);
}

/* Appends a masked client frame to b. */
static size_t
client_frame(uint8_t *b, unsigned fin, unsigned opcode, const void *p,
    size_t n)
{
	static const uint8_t	mask[4] = { 0x11, 0x22, 0x33, 0x44 };
	size_t			hl, i;

	hl = ws_frame_header(b, fin, 0, opcode, n, mask);
	for (i = 0; i < n; i++)
		b[hl + i] = ((const uint8_t *)p)[i] ^ mask[i % 4];
	return (hl + n);
}

/*
 * The same client bytes -- a ping, a fragmented text message, an empty
 * binary message, a close -- fed whole, one byte a call, and through the
 * input buffer, give the same payload, one pong with the ping's payload,
 * a close answer, and every byte taken.
 */
static void
feed_case(int how)
{
	struct event_base	*base = event_base_new();
	struct ws_conn		*ws;
	struct fake		 f;
	uint8_t			 wire[512], out[512], got[64];
	size_t			 n = 0, i, k;

	n += client_frame(wire + n, 1, WS_OP_PING, "ping!", 5);
	n += client_frame(wire + n, 0, WS_OP_TEXT, "hello ", 6);
	n += client_frame(wire + n, 1, WS_OP_PONG, "", 0);
	n += client_frame(wire + n, 1, WS_OP_CONT, "world", 5);
	n += client_frame(wire + n, 1, WS_OP_BINARY, "", 0);
	n += client_frame(wire + n, 1, WS_OP_CLOSE, "\x03\xe8" "bye", 5);
	ws = new_conn(base, &f, SIZE_MAX);
	switch (how) {
	case 0:
		assert_int_equal(ws_conn_feed(ws, wire, n), n);
		ws_conn_feed_end(ws);
		break;
	case 1:
		for (i = 0; i < n; i++) {
			k = ws_conn_feed(ws, wire + i, 1);
			assert_int_equal(k, 1);
			ws_conn_feed_end(ws);
		}
		break;
	default:
		evbuffer_add(f.in, wire, n);
		ws_conn_input(ws);
		assert_int_equal(evbuffer_get_length(f.in), 0);
		break;
	}
	assert_true(f.dones >= 1);
	k = evbuffer_remove(f.got, got, sizeof got);
	assert_int_equal(k, 11);
	assert_memory_equal(got, "hello world", 11);
	/* Out: the pong (payload echoed), then the close answer. */
	k = evbuffer_remove(f.out, out, sizeof out);
	assert_int_equal(k, 2 + 5 + 2 + 5);
	assert_int_equal(out[0], 0x80 | WS_OP_PONG);
	assert_int_equal(out[1], 5);
	assert_memory_equal(out + 2, "ping!", 5);
	assert_int_equal(out[7], 0x80 | WS_OP_CLOSE);
	assert_int_equal(f.closing, 1000);
	assert_int_equal(ws_conn_counters(ws)->msgs_in, 2);
	assert_int_equal(ws_conn_counters(ws)->frames_in, 6);
	/* Each inbound frame reported once, the pong and close out too. */
	assert_int_equal(f.nev, 8);
	free_conn(ws, &f);
	event_base_free(base);
}

static void
test_feed_whole(void **state)
{
	(void)state;
	feed_case(0);
}

static void
test_feed_bytewise(void **state)
{
	(void)state;
	feed_case(1);
}

static void
test_feed_input(void **state)
{
	(void)state;
	feed_case(2);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_deflate_send),
		cmocka_unit_test(test_deflate_streamed_plain_len),
		cmocka_unit_test(test_send_batch),
		cmocka_unit_test(test_feed_whole),
		cmocka_unit_test(test_feed_bytewise),
		cmocka_unit_test(test_feed_input),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
