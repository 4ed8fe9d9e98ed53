/*
 * fuzz_ws_conn.c -- libFuzzer target: the endpoint's input, however it
 * is cut, gives the same result.
 *
 * A client's byte stream is fed in the same reads to two endpoints. One
 * gets everything through its input buffer (ws_conn_input: parsed chain
 * by chain). The other gets each read as sockread.c hands it over: fed
 * where it lies while its buffer is empty (ws_conn_feed), the rest
 * buffered for ws_conn_input. Every message's payload (bytes, opcode,
 * where it starts and ends), what each endpoint sent back (pongs, closes),
 * how it closed, its counters and its state must be the same byte for
 * byte; only the sizes of the pieces payload comes in may differ.
 *
 * With an observer, both must report the same frame events (all but their
 * times), captured bytes included.
 *
 * Input: a flags byte (bit 0: max-message 100 bytes; bit 1: the owner
 * takes at most 1-16 bytes at a time, from the second byte; bit 2: an
 * observer capturing 7 bytes a frame, bit 3 with bit 2: every byte), a
 * byte that seeds the read sizes (1-64 bytes, or one read when 0), then
 * the stream.
 */
#include "wsb_autoconf.h"

#include <sys/uio.h>

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include "log.h"
#include "ws_conn.h"
#include "ws_frame.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* One endpoint on a fake transport, and everything it did. */
struct side {
	struct evbuffer	*in, *out;
	struct evbuffer	*log;		/* payload hand-overs, serialized */
	struct evbuffer	*evlog;		/* frame events, serialized */
	size_t		 room;
	int		 closes, aborts, closing;
	uint16_t	 closing_code;
	int		 by_peer;
};

static struct evbuffer *
f_input(void *t)
{
	return (((struct side *)t)->in);
}

static struct evbuffer *
f_output(void *t)
{
	return (((struct side *)t)->out);
}

static size_t
f_pending(void *t)
{
	return (evbuffer_get_length(((struct side *)t)->out));
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
	struct side	*s = t;

	s->closes++;
	s->aborts += abort_ != 0;
}

static size_t
f_send(void *t, const struct iovec *iov, int cnt)
{
	struct side	*s = t;
	int		 i;

	for (i = 0; i < cnt; i++)
		evbuffer_add(s->out, iov[i].iov_base, iov[i].iov_len);
	return (0);
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

/*
 * A message's start (with its opcode), its bytes, its end: the same
 * whatever pieces they came in (those follow reads and chains).
 */
static void
h_payload(void *arg, const uint8_t *p, size_t n, unsigned opcode,
    int first, int last)
{
	struct side	*s = arg;
	uint8_t		 rec[3] = { 0xa5, (uint8_t)opcode, 0x5a };

	if (n > 0 && p == NULL)
		abort();
	if (n > s->room)
		abort();	/* more than room() allowed */
	if (first)
		evbuffer_add(s->log, rec, 2);
	if (n > 0)
		evbuffer_add(s->log, p, n);
	if (last)
		evbuffer_add(s->log, rec + 2, 1);
}

static size_t
h_room(void *arg)
{
	return (((struct side *)arg)->room);
}

static void
h_writable(void *arg)
{
	(void)arg;
}

static void
h_closing(void *arg, uint16_t code, int by_peer)
{
	struct side	*s = arg;

	s->closing++;
	s->closing_code = code;
	s->by_peer = by_peer;
}

static void
h_closed(void *arg)
{
	(void)arg;
}

static const struct ws_handler handler = {
	.payload = h_payload,
	.room = h_room,
	.writable = h_writable,
	.closing = h_closing,
	.closed = h_closed,
};

/* Everything of a frame event but its times, then its bytes. */
static void
obs_frame(void *arg, const struct ws_frame_event *ev)
{
	struct side	*s = arg;
	uint64_t	 rec[14];

	rec[0] = ev->len;
	rec[1] = ev->msg_no;
	rec[2] = ev->frag;
	rec[3] = ev->dir;
	rec[4] = ev->opcode;
	rec[5] = ev->fin;
	rec[6] = ev->rsv;
	rec[7] = ev->masked;
	rec[8] = ev->hdr_len;
	rec[9] = ev->status;
	rec[10] = ev->close_code;
	rec[11] = ev->reason_len;
	rec[12] = ev->data_len;
	rec[13] = ev->plain_len + ((uint64_t)ev->zmsg << 63);
	evbuffer_add(s->evlog, rec, sizeof rec);
	if (ev->reason_len > 0)
		evbuffer_add(s->evlog, ev->reason, ev->reason_len);
	if (ev->data_len > 0)
		evbuffer_add(s->evlog, ev->data, ev->data_len);
}

static const struct ws_observer obs_some = {
	.capture = 7,
	.frame = obs_frame,
};

static const struct ws_observer obs_all = {
	.capture = SIZE_MAX,
	.frame = obs_frame,
};

static struct ws_conn *
side_new(struct event_base *base, struct side *s, uint8_t flags,
    uint8_t seed)
{
	struct ws_limits	lim;
	struct ws_conn		*ws;

	memset(s, 0, sizeof *s);
	if ((s->in = evbuffer_new()) == NULL ||
	    (s->out = evbuffer_new()) == NULL ||
	    (s->log = evbuffer_new()) == NULL ||
	    (s->evlog = evbuffer_new()) == NULL)
		abort();
	s->room = flags & 2 ? (size_t)(1 + seed % 16) : (size_t)1 << 20;
	memset(&lim, 0, sizeof lim);
	lim.max_message = flags & 1 ? 100 : 0;
	lim.out_high = 1 << 20;
	lim.close_timeout_ms = 1000;
	ws = ws_conn_new(base, &fake_ops, s, &handler, s, &lim, "fz");
	if (flags & 4)
		ws_conn_set_observer(ws, flags & 8 ? &obs_all : &obs_some, s);
	return (ws);
}

static void
side_free(struct ws_conn *ws, struct side *s)
{
	ws_conn_free(ws);
	evbuffer_free(s->in);
	evbuffer_free(s->out);
	evbuffer_free(s->log);
	evbuffer_free(s->evlog);
}

static int
same_buffers(struct evbuffer *a, struct evbuffer *b)
{
	size_t	n = evbuffer_get_length(a);

	if (n != evbuffer_get_length(b))
		return (0);
	return (n == 0 || memcmp(evbuffer_pullup(a, -1),
	    evbuffer_pullup(b, -1), n) == 0);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct event_base	*base;
	struct ws_conn			*wa, *wb;
	struct side			 a, b;
	const struct ws_counters	*ca, *cb;
	uint8_t				*chunk;
	uint32_t			 rnd;
	size_t				 off, n, used;

	if (size < 2)
		return (0);
	if (base == NULL) {
		log_set_level(LOGL_ERROR);	/* close reasons are expected */
		if ((base = event_base_new()) == NULL)
			abort();
	}
	wa = side_new(base, &a, data[0], data[1]);
	wb = side_new(base, &b, data[0], data[1]);
	rnd = data[1] * 2654435761u + 1;
	if ((chunk = malloc(size)) == NULL)
		abort();
	for (off = 2; off < size; off += n) {
		if (data[1] == 0)
			n = size - off;
		else {
			rnd ^= rnd << 13;
			rnd ^= rnd >> 17;
			rnd ^= rnd << 5;
			n = 1 + rnd % 64;
			if (n > size - off)
				n = size - off;
		}
		/* a: the buffered path only. */
		evbuffer_add(a.in, data + off, n);
		ws_conn_input(wa);
		/* b: as sockread.c hands a read over (the bytes are its). */
		memcpy(chunk, data + off, n);
		used = 0;
		if (evbuffer_get_length(b.in) == 0) {
			used = ws_conn_feed(wb, chunk, n);
			ws_conn_feed_end(wb);
			if (used > n)
				abort();
		}
		if (used < n) {
			evbuffer_add(b.in, chunk + used, n - used);
			ws_conn_input(wb);
		}
	}
	free(chunk);

	ca = ws_conn_counters(wa);
	cb = ws_conn_counters(wb);
	if (!same_buffers(a.log, b.log) || !same_buffers(a.out, b.out) ||
	    !same_buffers(a.evlog, b.evlog) ||
	    evbuffer_get_length(a.in) != evbuffer_get_length(b.in) ||
	    ws_conn_state(wa) != ws_conn_state(wb) ||
	    a.closes != b.closes || a.aborts != b.aborts ||
	    a.closing != b.closing || a.closing_code != b.closing_code ||
	    a.by_peer != b.by_peer || memcmp(ca, cb, sizeof *ca) != 0)
		abort();
	side_free(wa, &a);
	side_free(wb, &b);
	return (0);
}
