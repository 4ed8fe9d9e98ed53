/*
 * ws_conn.c -- one WebSocket endpoint in the server role (RFC 6455 5-7):
 * parses and validates client frames as they arrive, unmasks payload in place
 * and hands it to the owner without waiting for whole messages, answers
 * control frames, runs the close handshake and the keepalive/idle timers,
 * and frames outbound data. With permessage-deflate (RFC 7692) agreed it
 * inflates compressed messages piece by piece, never more at a time than the
 * owner has room for, and compresses outbound ones.
 */
#include "wsb_autoconf.h"

#include <sys/uio.h>

#include <assert.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include "arrivals.h"
#include "log.h"
#include "util.h"
#include "ws_conn.h"
#include "ws_deflate.h"
#include "ws_frame.h"
#include "ws_utf8.h"

/*
 * Compressed bytes unmasked per inflate step, and inflated bytes handed to
 * the owner per step on top of its room(): one step's memory, whatever a
 * frame claims to expand to. Inflated bytes go through a stack buffer and
 * are handed to the owner from there (input_done() follows each piece).
 * Sizes leave room for libevent's chain header below a power of two.
 */
#define WS_INFLATE_IN_MAX	(64 * 1024)
#define WS_INFLATE_OUT_MAX	(16 * 1024 - 256)
#define WS_DEFLATE_OUT_CHUNK	(16 * 1024 - 256) /* reserved per deflate call */

struct ws_conn {
	/*
	 * What every message touches comes first, laid out by cache line
	 * of an aligned allocation: with a thousand connections each line
	 * not in cache costs a miss per message. A message out touches lines
	 * 0 and 1, one in lines 0 to 3 (the asserts below keep them so).
	 */
	const struct ws_transport_ops	*ops;
	void				*t;
	const struct ws_handler		*h;
	void				*arg;
	const struct ws_observer	*obs;		/* NULL: nobody watches */
	struct ws_deflate		*zd;		/* NULL: not agreed */
	enum ws_state			 state;
	uint8_t				 in_input;	/* re-entrancy guard */
	uint8_t				 paused;	/* owner had no room */
	uint8_t				 paused_out;	/* our output is full: no pongs */
	uint8_t				 rx_in_frame;	/* header consumed, payload pending */
	uint8_t				 rx_msg_first;	/* next payload is the message's first */
	uint8_t				 rx_msg_open;	/* inside a data message (stats) */
	uint8_t				 rx_observed;	/* rx_ev is being filled */
	struct ws_rx_rules		 rules;

	size_t				 out_high;	/* lim.out_high */
	struct event			*ev_idle;
	uint64_t			 idle_from;	/* last activity (now_ns) */
	uint32_t			 rx_utf8;	/* validator state of a text message */
	struct ws_counters		 c;		/* out half here, in half next */
	uint64_t			 rx_consumed;	/* input bytes parsed so far */

	struct ws_frame			 rx;		/* current frame header */
	uint64_t			 rx_left;	/* payload bytes still to come */
	size_t				 rx_mask_off;	/* mask offset into the payload */
	uint64_t			 rx_msg_len;	/* bytes of the current message */
	uint64_t			 max_message;	/* lim.max_message */
	uint64_t			 rx_plain_len;	/* inflated bytes of the current message */

	struct ws_limits		 lim;
	struct event_base		*base;
	char				 logid[32];

	/* permessage-deflate (zd above). */
	size_t				 rx_z_ready;	/* unmasked compressed bytes at the front of input */
	struct evbuffer			*tx_z;		/* compressed output of the message being sent */
	unsigned			 tx_opcode;	/* of the message being sent */
	int				 tx_deflate;	/* it is being compressed */
	int				 tx_sent;	/* its first frame is out */
	uint64_t			 tx_plain;	/* its bytes compressed since its last frame */

	/* Keepalive and timers (ev_idle above). */
	struct event			*ev_close;	/* close handshake deadline */
	struct event			*ev_ping;	/* next keepalive ping */
	struct event			*ev_pong;	/* pong deadline */
	int				 closing_told;	/* handler->closing() called */

	/* Frame events (obs above; NULL: nothing below is kept). */
	void				*obs_arg;
	struct arrivals			 rx_arr;	/* when input bytes were read */
	struct ws_frame_event		 rx_ev;		/* the inbound frame in progress */
	uint64_t			 rx_end;	/* input offset after that frame */
	uint64_t			 msg_no_in, msg_no_out;
	uint32_t			 frag_in, frag_out;
	uint8_t				*cap_in, *cap_out;	/* capture buffers */
	size_t				 cap_in_size, cap_out_size;

	/*
	 * What ws_conn_feed() took of a frame that did not arrive whole: a
	 * header (rx_in_frame clear) or a control frame's payload. Data
	 * payload is never gathered: it goes on in the pieces it came in.
	 */
	uint8_t				 rx_hbuf[WS_HDR_MAX];
	uint8_t				 rx_hlen;
	uint8_t				 rx_clen;
	uint8_t				 input_again;	/* ws_conn_input() came during one */
	uint8_t				 rx_cbuf[WS_CONTROL_MAX];
};

#define WS_LINE(f)	(offsetof(struct ws_conn, f) / CACHE_LINE)
#define WS_LINE_END(f)	((offsetof(struct ws_conn, f) + \
	sizeof(((struct ws_conn *)0)->f) - 1) / CACHE_LINE)
_Static_assert(WS_LINE_END(rules) == 0, "ws_conn: line 0 spills");
_Static_assert(WS_LINE(out_high) == 1 && WS_LINE(c.frames_out) == 1 &&
    WS_LINE_END(c.wire_out) == 1, "ws_conn: the out half leaves line 1");
_Static_assert(WS_LINE(c.frames_in) == 2 && WS_LINE_END(rx_consumed) == 2,
    "ws_conn: the in counters leave line 2");
_Static_assert(WS_LINE(rx) == 3 && WS_LINE_END(rx_plain_len) == 3,
    "ws_conn: the frame state leaves line 3");

static void	ws_conn_fail(struct ws_conn *, uint16_t, const char *);

const char *
ws_state_str(enum ws_state s)
{
	switch (s) {
	case WS_OPEN:		return ("open");
	case WS_CLOSE_SENT:	return ("close-sent");
	case WS_CLOSING:	return ("closing");
	case WS_DONE:		return ("done");
	}
	return ("?");
}

static void
ms_to_tv(unsigned ms, struct timeval *tv)
{
	tv->tv_sec = ms / 1000;
	tv->tv_usec = (ms % 1000) * 1000;
}

static void
ws_conn_arm(struct event *ev, unsigned ms)
{
	struct timeval	tv;

	if (ev == NULL || ms == 0)
		return;
	ms_to_tv(ms, &tv);
	evtimer_add(ev, &tv);
}

/* ---- frame events -------------------------------------------------------- */

/*
 * Grows *buf to hold n bytes (doubling, up to max when that is more);
 * *size is its size. Returns *buf.
 */
static uint8_t *
ws_conn_cap_buf(uint8_t **buf, size_t *size, size_t n, size_t max)
{
	size_t	grow;

	if (n > *size) {
		grow = MIN(MAX(n, *size * 2), MAX(n, max));
		*buf = xreallocarray(*buf, 1, grow);
		*size = grow;
	}
	return (*buf);
}

/* Fills the close code and reason of a close frame event from its payload. */
static void
ws_conn_ev_close(struct ws_frame_event *ev, const uint8_t *p, size_t n)
{
	uint16_t	 code;
	const uint8_t	*reason;
	size_t		 rlen;

	if (ev->opcode != WS_OP_CLOSE ||
	    ws_close_parse(p, n, &code, &reason, &rlen) != 0)
		return;
	ev->close_code = code == WS_CLOSE_NO_STATUS ? 0 : code;
	ev->reason = rlen > 0 ? reason : NULL;
	ev->reason_len = rlen;
}

/* Reports an outbound frame just queued; payload p (control) or cap_out. */
static void
ws_conn_ev_out(struct ws_conn *ws, const struct ws_frame *f, const uint8_t *p,
    size_t captured, uint64_t t_src, int zmsg, uint64_t plain)
{
	struct ws_frame_event	ev;

	memset(&ev, 0, sizeof ev);
	ev.t_ns = obs_now();
	ev.delay_ns = t_src != 0 && t_src < ev.t_ns ? ev.t_ns - t_src : 0;
	ev.len = f->len;
	ev.dir = WS_DIR_OUT;
	ev.opcode = f->opcode;
	ev.fin = f->fin;
	ev.rsv = f->rsv;
	ev.masked = 0;
	ev.hdr_len = f->hdr_len;
	if (!WS_OP_IS_CONTROL(f->opcode)) {
		if (f->opcode != WS_OP_CONT) {
			ws->msg_no_out++;
			ws->frag_out = 0;
		} else
			ws->frag_out++;
		ev.msg_no = ws->msg_no_out;
		ev.frag = ws->frag_out;
		ev.zmsg = (uint8_t)zmsg;
		ev.plain_len = plain;
	} else
		ws_conn_ev_close(&ev, p, (size_t)f->len);
	ev.data = p;
	ev.data_len = captured;
	ws->obs->frame(ws->obs_arg, &ev);
}

/* Starts the event of the inbound frame whose header ws->rx now holds. */
static void
ws_conn_ev_in_begin(struct ws_conn *ws)
{
	struct ws_frame_event	*ev = &ws->rx_ev;

	memset(ev, 0, sizeof *ev);
	ev->t_ns = obs_now();
	ev->len = ws->rx.len;
	ev->dir = WS_DIR_IN;
	ev->opcode = ws->rx.opcode;
	ev->fin = ws->rx.fin;
	ev->rsv = ws->rx.rsv;
	ev->masked = ws->rx.masked;
	ev->hdr_len = ws->rx.hdr_len;
	/* Reserved opcodes (rejected) get no message number. */
	if (ws->rx.opcode == WS_OP_TEXT || ws->rx.opcode == WS_OP_BINARY) {
		ws->msg_no_in++;
		ws->frag_in = 0;
	} else if (ws->rx.opcode == WS_OP_CONT)
		ws->frag_in++;
	if (ws->rx.opcode <= WS_OP_BINARY) {
		ev->msg_no = ws->msg_no_in;
		ev->frag = ws->frag_in;
	}
	ws->rx_end = ws->rx_consumed + ws->rx.hdr_len + ws->rx.len;
	ws->rx_observed = 1;
}

/* Reports the inbound frame in progress, finished with status. */
static void
ws_conn_ev_in_end(struct ws_conn *ws, int status)
{
	struct ws_frame_event	*ev = &ws->rx_ev;
	uint64_t		 now, t_read;

	if (!ws->rx_observed)
		return;
	ws->rx_observed = 0;
	if (ws->obs == NULL)
		return;
	now = obs_now();
	t_read = arrivals_time(&ws->rx_arr, ws->rx_end);
	ev->delay_ns = t_read != 0 && t_read < now ? now - t_read : 0;
	ev->status = status;
	if (!WS_OP_IS_CONTROL(ev->opcode)) {
		ev->data = ws->cap_in;
		ev->zmsg = ws->rules.msg_rsv1;
	}
	ws->obs->frame(ws->obs_arg, ev);
}

/* Copies unmasked payload p[0..n) at offset off into the capture. */
static void
ws_conn_ev_in_capture(struct ws_conn *ws, const uint8_t *p, size_t n)
{
	size_t	want, k;

	want = (size_t)MIN((uint64_t)ws->obs->capture, ws->rx_ev.len);
	if (ws->rx_ev.data_len >= want)
		return;
	k = MIN(n, want - ws->rx_ev.data_len);
	/*
	 * As the bytes come: the header's length is the peer's word, and a
	 * capture of "everything" must not allocate it up front.
	 */
	ws_conn_cap_buf(&ws->cap_in, &ws->cap_in_size, ws->rx_ev.data_len + k,
	    want);
	memcpy(ws->cap_in + ws->rx_ev.data_len, p, k);
	ws->rx_ev.data_len += k;
}

/* n bytes of frames reported before went to the socket at once. */
static void
ws_conn_taken(struct ws_conn *ws, size_t n)
{
	if (n > 0 && ws->obs != NULL && ws->obs->taken != NULL)
		ws->obs->taken(ws->obs_arg, n);
}

static int
ws_conn_obs_busy(const struct ws_conn *ws)
{
	return (ws->obs != NULL && ws->obs->busy != NULL &&
	    ws->obs->busy(ws->obs_arg));
}

void
ws_conn_set_observer(struct ws_conn *ws, const struct ws_observer *obs,
    void *arg)
{
	ws->obs = obs;
	ws->obs_arg = arg;
	if (obs == NULL)
		ws->rx_observed = 0;
}

void
ws_conn_observer_ready(struct ws_conn *ws)
{
	if (ws->state >= WS_CLOSING)
		return;
	ws_conn_resume(ws);
	if (ws->state == WS_OPEN)
		ws->h->writable(ws->arg);
}

uint64_t
ws_conn_input_time(const struct ws_conn *ws, size_t off)
{
	if (ws->obs == NULL)
		return (0);
	/*
	 * Inflated bytes have no offset in the input: they came out of the
	 * compressed bytes consumed last.
	 */
	if (ws->rules.msg_rsv1)
		off = 0;
	return (arrivals_time(&ws->rx_arr, ws->rx_consumed + off));
}

/* When the last byte of the inbound frame in progress was read, or 0. */
static uint64_t
ws_conn_rx_time(const struct ws_conn *ws)
{
	if (!ws->rx_observed)
		return (0);
	return (arrivals_time(&ws->rx_arr, ws->rx_end));
}

/* ---- output ---------------------------------------------------------------- */

/*
 * Hands frames (iov[0..cnt): headers and payloads, reported to the
 * observer before) to the transport in one send.
 */
static void
ws_conn_put(struct ws_conn *ws, const struct iovec *iov, int cnt)
{
	ws_conn_taken(ws, ws->ops->send(ws->t, iov, cnt));
	ws->ops->flush(ws->t);
}

/* Sends a control frame (payload <= 125 bytes). */
static void
ws_conn_send_control(struct ws_conn *ws, unsigned opcode, const void *p,
    size_t n, uint64_t t_src)
{
	uint8_t		hdr[WS_HDR_MAX];
	struct iovec	iov[2];
	struct ws_frame	f;

	assert(n <= WS_CONTROL_MAX);
	iov[0].iov_base = hdr;
	iov[0].iov_len = ws_frame_header(hdr, 1, 0, opcode, n, NULL);
	iov[1].iov_base = (void *)(uintptr_t)p;
	iov[1].iov_len = n;
	ws->c.frames_out++;
	/*
	 * Reported before it is handed over: the transport may write it at
	 * once, and whoever counts queued bytes must see them queued before
	 * the output's drain callback says they left.
	 */
	if (ws->obs != NULL) {
		memset(&f, 0, sizeof f);
		f.len = n;
		f.opcode = opcode;
		f.fin = 1;
		f.hdr_len = iov[0].iov_len;
		ws_conn_ev_out(ws, &f, p, MIN(n, ws->obs->capture), t_src, 0,
		    0);
	}
	ws_conn_put(ws, iov, n > 0 ? 2 : 1);
}

static void
ws_conn_stop_timers(struct ws_conn *ws)
{
	if (ws->ev_ping != NULL)
		evtimer_del(ws->ev_ping);
	if (ws->ev_pong != NULL)
		evtimer_del(ws->ev_pong);
	if (ws->ev_idle != NULL)
		evtimer_del(ws->ev_idle);
}

/* No more payload will reach the owner: tell it once. */
static void
ws_conn_tell_closing(struct ws_conn *ws, uint16_t code, int by_peer)
{
	if (ws->closing_told)
		return;
	ws->closing_told = 1;
	ws_conn_stop_timers(ws);
	ws->h->closing(ws->arg, code, by_peer);
}

/* Ends the WebSocket: write what is queued, then close the transport. */
static void
ws_conn_finish(struct ws_conn *ws, int abort)
{
	if (ws->state >= WS_CLOSING)
		return;
	ws->state = WS_CLOSING;
	evtimer_del(ws->ev_close);
	ws_conn_tell_closing(ws, ws->c.close_code_in != 0 ? ws->c.close_code_in :
	    ws->c.close_code_out != 0 ? ws->c.close_code_out : WS_CLOSE_ABNORMAL,
	    ws->c.closed_by_peer);
	ws->ops->set_read(ws->t, 0);
	ws->ops->close(ws->t, abort);
}

void
ws_conn_close(struct ws_conn *ws, uint16_t code, const char *reason, int fail)
{
	uint8_t	payload[WS_CONTROL_MAX];
	size_t	n;

	if (ws->state != WS_OPEN)
		return;
	n = ws_close_build(payload, code, reason);
	ws_conn_send_control(ws, WS_OP_CLOSE, payload, n, 0);
	ws->c.close_code_out = code == WS_CLOSE_NO_STATUS ? 0 : code;
	ws->state = WS_CLOSE_SENT;
	/* Payload may still come until the peer answers: the owner takes it. */
	ws_conn_stop_timers(ws);
	if (fail) {
		/* RFC 6455 7.1.7: a failed connection does not await the peer. */
		ws_conn_finish(ws, 0);
		return;
	}
	ws_conn_arm(ws->ev_close, ws->lim.close_timeout_ms);
}

static void
ws_conn_fail(struct ws_conn *ws, uint16_t code, const char *why)
{
	log_info("%s: closing with %u: %s", ws->logid, code, why);
	if (ws->state == WS_OPEN)
		ws_conn_close(ws, code, why, 1);
	else
		ws_conn_finish(ws, 0);
}

static void
ws_conn_close_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct ws_conn	*ws = arg;

	log_info("%s: peer did not answer our close in %u ms", ws->logid,
	    ws->lim.close_timeout_ms);
	ws_conn_finish(ws, 1);
}

static void
ws_conn_ping_due(evutil_socket_t fd, short what, void *arg)
{
	struct ws_conn	*ws = arg;
	uint64_t	 t = now_ns();

	if (ws->state != WS_OPEN)
		return;
	ws_conn_send_control(ws, WS_OP_PING, &t, sizeof t, 0);
	if (!evtimer_pending(ws->ev_pong, NULL))
		ws_conn_arm(ws->ev_pong, ws->lim.pong_timeout_ms);
	ws_conn_arm(ws->ev_ping, ws->lim.ping_interval_ms);
}

static void
ws_conn_pong_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct ws_conn	*ws = arg;

	ws_conn_fail(ws, WS_CLOSE_INTERNAL, "keepalive pong timeout");
}

/*
 * The idle timer is armed once and moved lazily: activity only notes the
 * time, and the timer, when it fires early, waits out the rest. Re-arming
 * it per frame (a timer heap update each) took a 64-byte echo from 2,361
 * to 3,086 instructions (callgrind, 64 connections); now 2,397.
 */
static void
ws_conn_idle_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct ws_conn	*ws = arg;
	uint64_t	 idle = now_ns() - ws->idle_from;
	uint64_t	 limit = (uint64_t)ws->lim.idle_timeout_ms * 1000000;
	struct timeval	 tv;

	if (ws->state != WS_OPEN)
		return;
	if (idle < limit) {
		limit -= idle;
		tv.tv_sec = (time_t)(limit / 1000000000);
		tv.tv_usec = (suseconds_t)(limit % 1000000000 / 1000 + 1);
		evtimer_add(ws->ev_idle, &tv);
		return;
	}
	log_info("%s: idle for %u ms", ws->logid, ws->lim.idle_timeout_ms);
	ws_conn_close(ws, WS_CLOSE_GOING_AWAY, "idle timeout", 0);
}

static void
ws_conn_activity(struct ws_conn *ws)
{
	if (ws->ev_idle != NULL)
		ws->idle_from = obs_now();
}

struct ws_conn *
ws_conn_new(struct event_base *base, const struct ws_transport_ops *ops,
    void *t, const struct ws_handler *h, void *arg,
    const struct ws_limits *lim, const char *logid)
{
	struct ws_conn	*ws;

	ws = xcalloc_aligned(sizeof *ws);
	ws->base = base;
	ws->ops = ops;
	ws->t = t;
	ws->h = h;
	ws->arg = arg;
	ws->lim = *lim;
	ws->out_high = lim->out_high;
	ws->max_message = lim->max_message;
	snprintf(ws->logid, sizeof ws->logid, "%s", logid);
	ws->state = WS_OPEN;
	ws->rules.require_mask = 1;
	ws->rx_msg_first = 1;
	ws->ev_close = evtimer_new(base, ws_conn_close_timeout, ws);
	if (lim->ping_interval_ms != 0) {
		ws->ev_ping = evtimer_new(base, ws_conn_ping_due, ws);
		ws->ev_pong = evtimer_new(base, ws_conn_pong_timeout, ws);
		ws_conn_arm(ws->ev_ping, lim->ping_interval_ms);
	}
	if (lim->idle_timeout_ms != 0) {
		ws->ev_idle = evtimer_new(base, ws_conn_idle_timeout, ws);
		ws->idle_from = now_ns();
		ws_conn_arm(ws->ev_idle, lim->idle_timeout_ms);
	}
	return (ws);
}

void
ws_conn_free(struct ws_conn *ws)
{
	if (ws == NULL)
		return;
	if (ws->rx_in_frame)
		ws_conn_ev_in_end(ws, WS_FEV_INCOMPLETE);
	free(ws->cap_in);
	free(ws->cap_out);
	ws_deflate_free(ws->zd);
	if (ws->tx_z != NULL)
		evbuffer_free(ws->tx_z);
	event_free(ws->ev_close);
	if (ws->ev_ping != NULL)
		event_free(ws->ev_ping);
	if (ws->ev_pong != NULL)
		event_free(ws->ev_pong);
	if (ws->ev_idle != NULL)
		event_free(ws->ev_idle);
	free(ws);
}

enum ws_state
ws_conn_state(const struct ws_conn *ws)
{
	return (ws->state);
}

int
ws_conn_rx_msg(const struct ws_conn *ws, uint64_t *known, uint64_t *received,
    int *final)
{
	int	in_data = ws->rx_in_frame && !WS_OP_IS_CONTROL(ws->rx.opcode);

	*known = *received = 0;
	*final = 0;
	if (!ws->rx_msg_open)
		return (0);
	*known = ws->rx_msg_len;
	*received = ws->rx_msg_len - (in_data ? ws->rx_left : 0);
	*final = in_data && ws->rx.fin;
	return (1);
}

const struct ws_counters *
ws_conn_counters(const struct ws_conn *ws)
{
	return (&ws->c);
}

size_t
ws_conn_out_room(const struct ws_conn *ws)
{
	size_t	pending;

	if (ws->state != WS_OPEN)
		return (0);
	if (ws->obs != NULL && ws_conn_obs_busy(ws))
		return (0);
	pending = ws->ops->pending(ws->t);
	return (pending >= ws->out_high ? 0 : ws->out_high - pending);
}

void
ws_conn_set_deflate(struct ws_conn *ws, const struct ws_deflate_params *p,
    const struct ws_deflate_opts *opts)
{
	assert(ws->zd == NULL);
	ws->zd = ws_deflate_new(p, opts);
	ws->tx_z = evbuffer_new();
	if (ws->tx_z == NULL)
		abort();	/* out of memory, as xmalloc */
	ws->rules.rsv_allowed = WS_RSV1;
}

size_t
ws_conn_deflate_memory(const struct ws_conn *ws, size_t *peak)
{
	if (ws->zd == NULL) {
		if (peak != NULL)
			*peak = 0;
		return (0);
	}
	return (ws_deflate_memory(ws->zd, peak));
}

/*
 * Compresses the n bytes at p into ws->tx_z; fin ends the message (tx_z
 * then ends with the 4-byte tail). Returns 0, or -1 when zlib fails.
 */
static int
ws_conn_deflate(struct ws_conn *ws, const uint8_t *p, size_t n, int fin)
{
	struct evbuffer_iovec	 vout;
	size_t			 off = 0, used, got;
	int			 r;

	do {
		if (evbuffer_reserve_space(ws->tx_z, WS_DEFLATE_OUT_CHUNK,
		    &vout, 1) != 1)
			return (-1);
		r = ws_deflate_compress(ws->zd, n > 0 ? p + off : NULL,
		    n - off, fin, &used, vout.iov_base, vout.iov_len, &got);
		vout.iov_len = got;
		evbuffer_commit_space(ws->tx_z, &vout, 1);
		if (r == -1)
			return (-1);
		off += used;
	} while (r == 0);
	return (0);
}

/* Frames per transport send: a bulk read goes out in one writev. */
#define WS_SEND_FRAMES	64

/*
 * Plain frames (RSV1 clear): one frame of the n bytes at p (whole false:
 * a fragment of the message being sent; last ends it), or for whole
 * messages up to WS_SEND_FRAMES of them, max_frame bytes at most each
 * (0: one). Returns the bytes sent.
 */
static size_t
ws_conn_send_plain(struct ws_conn *ws, unsigned opcode, int whole, int last,
    const uint8_t *p, size_t n, size_t max_frame, uint64_t t_src)
{
	uint8_t		hdr[WS_SEND_FRAMES][WS_HDR_MAX];
	struct iovec	iov[2 * WS_SEND_FRAMES];
	struct ws_frame	f;
	size_t		off = 0, k;
	int		cnt = 0, frames = 0, fin;

	if (!whole)
		opcode = ws->tx_sent ? WS_OP_CONT : ws->tx_opcode;
	fin = whole || last;
	do {
		k = n - off;
		if (whole && max_frame != 0)
			k = MIN(k, max_frame);
		iov[cnt].iov_base = hdr[frames];
		iov[cnt].iov_len = ws_frame_header(hdr[frames], fin, 0, opcode,
		    k, NULL);
		/* Reported before the hand-over, as ws_conn_send_control(). */
		if (ws->obs != NULL) {
			memset(&f, 0, sizeof f);
			f.len = k;
			f.opcode = opcode;
			f.fin = fin;
			f.hdr_len = iov[cnt].iov_len;
			ws_conn_ev_out(ws, &f, k > 0 ? p + off : NULL,
			    MIN(k, ws->obs->capture), t_src, 0, k);
		}
		cnt++;
		if (k > 0) {
			iov[cnt].iov_base = (void *)(uintptr_t)(p + off);
			iov[cnt++].iov_len = k;
		}
		off += k;
		frames++;
	} while (whole && off < n && frames < WS_SEND_FRAMES);
	ws->c.frames_out += frames;
	ws->c.msgs_out += whole ? frames : last;
	ws->c.payload_out += off;
	ws->c.wire_out += off;
	ws->tx_sent = 1;
	ws_conn_put(ws, iov, cnt);
	return (off);
}

/*
 * A piece of a compressed message: the n bytes at p go through zlib, and
 * what came out goes as one frame (none while zlib holds everything back);
 * whole: the message is all of p, sent plain if it did not shrink.
 */
static void
ws_conn_send_z(struct ws_conn *ws, int whole, int last, const uint8_t *p,
    size_t n, uint64_t t_src)
{
	uint8_t			 hdr[WS_HDR_MAX];
	struct evbuffer_iovec	 v[16];
	struct iovec		 iov[1 + nitems(v)];
	struct ws_frame		 f;
	size_t			 k, c;
	int			 i, cnt;

	if (ws_conn_deflate(ws, p, n, last) == -1) {
		evbuffer_drain(ws->tx_z, evbuffer_get_length(ws->tx_z));
		ws_conn_fail(ws, WS_CLOSE_INTERNAL, "compression failed");
		return;
	}
	k = evbuffer_get_length(ws->tx_z);
	if (last) {
		assert(k >= 4);
		k -= 4;		/* the sync flush tail (RFC 7692 7.2.1) */
	}
	if (whole && k >= n) {
		/* It did not shrink: the original goes instead, RSV1 clear. */
		evbuffer_drain(ws->tx_z, evbuffer_get_length(ws->tx_z));
		ws_deflate_compress_discard(ws->zd);
		(void)ws_conn_send_plain(ws, ws->tx_opcode, 1, 1, p, n, 0,
		    t_src);
		return;
	}
	ws->c.payload_out += n;
	ws->tx_plain += n;
	if (last) {
		ws->c.msgs_out++;
		ws->c.zmsgs_out++;
	}
	/* Nothing to say yet (zlib keeps a block back): no empty fragment. */
	if (k > 0 || last) {
		memset(&f, 0, sizeof f);
		f.len = k;
		f.opcode = ws->tx_sent ? WS_OP_CONT : ws->tx_opcode;
		f.fin = last;
		f.rsv = ws->tx_sent ? 0 : WS_RSV1;
		iov[0].iov_base = hdr;
		iov[0].iov_len = f.hdr_len = ws_frame_header(hdr, f.fin, f.rsv,
		    f.opcode, k, NULL);
		cnt = k > 0 ? evbuffer_peek(ws->tx_z, k, NULL, v, nitems(v)) : 0;
		if (cnt > (int)nitems(v)) {
			/* Rare: a message of many chains; one copy. */
			v[0].iov_base = evbuffer_pullup(ws->tx_z, k);
			v[0].iov_len = k;
			cnt = 1;
		}
		for (i = 0, c = 0; i < cnt; i++) {
			iov[1 + i].iov_base = v[i].iov_base;
			iov[1 + i].iov_len = MIN(v[i].iov_len, k - c);
			c += iov[1 + i].iov_len;
		}
		if (ws->obs != NULL) {
			c = MIN(k, ws->obs->capture);
			if (c > 0)
				evbuffer_copyout(ws->tx_z, ws_conn_cap_buf(
				    &ws->cap_out, &ws->cap_out_size, c, c), c);
			ws_conn_ev_out(ws, &f, ws->cap_out, c, t_src, 1,
			    ws->tx_plain);
		}
		ws->c.frames_out++;
		ws->c.wire_out += k;
		ws->tx_sent = 1;
		ws->tx_plain = 0;
		ws_conn_put(ws, iov, 1 + cnt);
	}
	evbuffer_drain(ws->tx_z, evbuffer_get_length(ws->tx_z));
}

size_t
ws_conn_send(struct ws_conn *ws, unsigned opcode, int first, int last,
    const uint8_t *p, size_t n, size_t max_frame, uint64_t t_src)
{
	int	whole = first && last;

	assert(ws->state == WS_OPEN);
	if (first) {
		ws->tx_opcode = opcode;
		ws->tx_sent = 0;
		ws->tx_plain = 0;
		if (ws->zd != NULL && whole && max_frame != 0)
			n = MIN(n, max_frame);	/* one message a call */
		ws->tx_deflate = ws->zd != NULL &&
		    !(whole && n < ws_deflate_min_size(ws->zd));
	}
	if (ws->tx_deflate)
		ws_conn_send_z(ws, whole, last, p, n, t_src);
	else
		n = ws_conn_send_plain(ws, opcode, whole, last, p, n,
		    max_frame, t_src);
	ws_conn_activity(ws);
	return (n);
}

/*
 * Unmasks the n payload bytes at p in place, for the capture and, for
 * text, the UTF-8 validator. Returns 0, or -1 at invalid UTF-8.
 */
static int
ws_conn_unmask(struct ws_conn *ws, uint8_t *p, size_t n, int text)
{
	if (n == 0)
		return (0);
	ws->rx_mask_off = ws_mask(p, n, ws->rx.mask, ws->rx_mask_off);
	if (ws->rx_observed && ws->obs != NULL)
		ws_conn_ev_in_capture(ws, p, n);
	if (text && ws_utf8_feed(&ws->rx_utf8, p, n) == -1)
		return (-1);
	return (0);
}

/* Handles a complete control frame whose payload (unmasked) is p[0..n). */
static void
ws_conn_control(struct ws_conn *ws, const uint8_t *p, size_t n)
{
	uint16_t	 code, err;
	const uint8_t	*reason;
	size_t		 rlen;
	uint8_t		 reply[WS_CONTROL_MAX];

	switch (ws->rx.opcode) {
	case WS_OP_PING:
		if (ws->state == WS_OPEN)
			ws_conn_send_control(ws, WS_OP_PONG, p, n,
			    ws_conn_rx_time(ws));
		break;
	case WS_OP_PONG:
		/* Unsolicited pongs are allowed and ignored (RFC 6455 5.5.3). */
		if (ws->ev_pong != NULL)
			evtimer_del(ws->ev_pong);
		break;
	case WS_OP_CLOSE:
		if ((err = ws_close_parse(p, n, &code, &reason, &rlen)) != 0) {
			ws_conn_fail(ws, err, err == WS_CLOSE_INVALID_DATA ?
			    "close reason is not UTF-8" : "invalid close payload");
			return;
		}
		ws->c.close_code_in = code;
		if (ws->state == WS_OPEN) {
			/*
			 * Echo the peer's code and reason (RFC 6455 5.5.1),
			 * then close TCP. The reason is valid UTF-8 and fits.
			 */
			ws->c.closed_by_peer = 1;
			rlen = 0;
			if (n > 0) {
				memcpy(reply, p, n);
				rlen = n;
			}
			ws_conn_send_control(ws, WS_OP_CLOSE, reply, rlen,
			    ws_conn_rx_time(ws));
			ws->c.close_code_out = code == WS_CLOSE_NO_STATUS ? 0 : code;
			ws->state = WS_CLOSE_SENT;
		}
		/* The server closes the TCP connection first (RFC 6455 7.1.1). */
		ws_conn_finish(ws, 0);
		break;
	}
}

/*
 * Wire bytes a message may take under max-message. A compressed message may
 * be a little larger than what it inflates to (stored blocks, or fixed
 * Huffman codes over random bytes: at most 9 bits for 8), so it gets 1/8
 * more; its inflated size is held to max-message exactly.
 */
static uint64_t
ws_conn_wire_max(const struct ws_conn *ws)
{
	uint64_t	max = ws->max_message;

	if (!ws->rules.msg_rsv1)
		return (max);
	return (max + max / 8 + 64);
}

/*
 * One step of a compressed message (RSV1 on its first frame): unmasks up to
 * WS_INFLATE_IN_MAX more compressed bytes at p (avail there), inflates no
 * more than the owner has room for, validates text and the inflated size,
 * and hands what came out to the owner. Compressed bytes zlib did not
 * take stay unmasked at the front of the input (rx_z_ready). *took: the
 * bytes of p zlib took. Returns 1 to go on, 0 to wait for input or room,
 * -1 when the connection failed.
 */
static int
ws_conn_inflate(struct ws_conn *ws, uint8_t *p, size_t avail, size_t *took)
{
	uint8_t		 out[WS_INFLATE_OUT_MAX];
	const char	*why = NULL, *fail = NULL;
	size_t		 room, k, len, used = 0, made = 0;
	uint16_t	 code = WS_CLOSE_INVALID_DATA;
	int		 end, r, text;

	*took = 0;
	text = ws->rules.msg_opcode == WS_OP_TEXT;
	if (ws->rx_z_ready == 0 && ws->rx_left == 0 && !ws->rx.fin) {
		ws->rx_in_frame = 0;	/* a fragment fully taken */
		ws_conn_ev_in_end(ws, WS_FEV_OK);
		return (1);
	}
	room = ws->h->room(ws->arg);
	if (room == 0) {
		ws->paused = 1;
		ws->ops->set_read(ws->t, 0);
		return (0);
	}
	if (ws->rx_z_ready == 0 && ws->rx_left > 0) {
		k = (size_t)MIN((uint64_t)avail, ws->rx_left);
		k = MIN(k, WS_INFLATE_IN_MAX);
		if (k == 0)
			return (0);
		(void)ws_conn_unmask(ws, p, k, 0);
		ws->rx_z_ready = k;
		ws->rx_left -= k;
		ws->c.wire_in += k;
	}
	end = ws->rx_left == 0 && ws->rx.fin;
	len = MIN(ws->rx_z_ready, avail);
	r = ws_deflate_inflate(ws->zd, len > 0 ? p : NULL, len,
	    end && len == ws->rx_z_ready, &used, out, MIN(room, sizeof out),
	    &made, &why);
	if (r != -1) {
		*took = used;
		ws->rx_consumed += used;
		ws->rx_z_ready -= used;
		ws->rx_plain_len += made;
	}
	if (r == -1) {
		log_info("%s: inflate: %s", ws->logid, why);
		fail = "compressed payload is not valid DEFLATE data";
	} else if (text && ws_utf8_feed(&ws->rx_utf8, out, made) == -1)
		fail = "text message is not valid UTF-8";
	else if (ws->max_message != 0 &&
	    ws->rx_plain_len > ws->max_message) {
		code = WS_CLOSE_TOO_BIG;
		fail = "message exceeds max-message once inflated";
	} else if (r == 1 && text && ws->rx_utf8 != WS_UTF8_ACCEPT)
		fail = "text message ends inside a UTF-8 sequence";
	else if (used == 0 && made == 0 && r != 1) {
		if (ws->rx_z_ready == 0 && !end)
			return (0);	/* wait for more of the frame */
		if (len < ws->rx_z_ready)
			return (0);	/* the rest of it is in the next piece */
		/* zlib took nothing and gave nothing: never spin on it. */
		code = WS_CLOSE_INTERNAL;
		fail = "inflate made no progress";
	}
	if (fail != NULL) {
		ws_conn_ev_in_end(ws, WS_FEV_REJECTED);
		ws_conn_fail(ws, code, fail);
		return (-1);
	}
	if (made > 0 || r == 1) {
		ws->c.payload_in += made;
		ws->rx_ev.plain_len += made;
		if (r == 1) {
			ws->c.msgs_in++;
			ws->c.zmsgs_in++;
		}
		ws->h->payload(ws->arg, out, made, ws->rules.msg_opcode,
		    ws->rx_msg_first, r == 1);
		ws->rx_msg_first = 0;
		/* out is reused by the next step: the owner takes it now. */
		if (ws->h->input_done != NULL)
			ws->h->input_done(ws->arg);
	}
	if (ws->rx_left == 0 && ws->rx_z_ready == 0 &&
	    (!ws->rx.fin || r == 1)) {
		ws->rx_in_frame = 0;
		ws_conn_ev_in_end(ws, WS_FEV_OK);
	}
	return (1);
}

/*
 * Starts the frame whose header, r bytes, ws->rx now holds: checks it
 * against RFC 6455 and max-message and counts it. Returns 0, or -1 when
 * it failed the connection. The caller then drops the header's bytes.
 */
static int
ws_conn_rx_header(struct ws_conn *ws, int r)
{
	uint16_t	err;

	if (ws->obs != NULL)
		ws_conn_ev_in_begin(ws);
	if ((err = ws_rx_check(&ws->rules, &ws->rx)) != 0) {
		ws_conn_ev_in_end(ws, WS_FEV_REJECTED);
		ws_conn_fail(ws, err, "frame violates RFC 6455 5.2-5.5");
		return (-1);
	}
	ws->rx_consumed += r;
	ws->c.frames_in++;
	log_debug("%s: frame in %s fin=%u rsv=%u len=%llu", ws->logid,
	    ws_opcode_str(ws->rx.opcode), ws->rx.fin, ws->rx.rsv,
	    (unsigned long long)ws->rx.len);
	ws->rx_in_frame = 1;
	ws->rx_left = ws->rx.len;
	ws->rx_mask_off = 0;
	if (WS_OP_IS_CONTROL(ws->rx.opcode))
		return (0);
	if (ws->rx.opcode != WS_OP_CONT) {
		ws->rx_msg_len = 0;
		ws->rx_msg_first = 1;
		ws->rx_utf8 = 0;
		ws->rx_plain_len = 0;
	}
	ws->rx_msg_len += ws->rx.len;
	ws->rx_msg_open = 1;
	if (ws->max_message != 0 &&
	    ws->rx_msg_len > ws_conn_wire_max(ws)) {
		ws_conn_ev_in_end(ws, WS_FEV_REJECTED);
		ws_conn_fail(ws, WS_CLOSE_TOO_BIG,
		    "message exceeds max-message");
		return (-1);
	}
	/* Only data counts against idle-timeout. */
	ws_conn_activity(ws);
	return (0);
}

/*
 * Hands the n unmasked payload bytes at p of the current data frame to
 * the owner. Returns 0, or -1 when the message's text ends inside a UTF-8
 * sequence (failed).
 */
static int
ws_conn_rx_payload(struct ws_conn *ws, const uint8_t *p, size_t n)
{
	int	last;

	ws->rx_left -= n;
	last = ws->rx_left == 0 && ws->rx.fin;
	if (last && ws->rules.msg_opcode == WS_OP_TEXT &&
	    ws->rx_utf8 != WS_UTF8_ACCEPT) {
		ws_conn_ev_in_end(ws, WS_FEV_REJECTED);
		ws_conn_fail(ws, WS_CLOSE_INVALID_DATA,
		    "text message ends inside a UTF-8 sequence");
		return (-1);
	}
	ws->c.payload_in += n;
	ws->c.wire_in += n;
	if (ws->rx_observed)
		ws->rx_ev.plain_len += n;
	if (last)
		ws->c.msgs_in++;
	ws->h->payload(ws->arg, p, n, ws->rules.msg_opcode, ws->rx_msg_first,
	    last);
	ws->rx_consumed += n;
	ws->rx_msg_first = 0;
	if (ws->rx_left == 0) {
		ws->rx_in_frame = 0;
		if (ws->rx.fin)
			ws->rx_msg_open = 0;
		ws_conn_ev_in_end(ws, WS_FEV_OK);
	}
	return (0);
}

/*
 * Takes the next frame header from p[0..n), after the bytes of it an
 * earlier call kept in rx_hbuf. Returns the bytes of p taken (all of them
 * while the header is incomplete: they are kept; rx_in_frame is set once
 * it is whole), or -1 when the connection failed.
 */
static ssize_t
ws_conn_rx_hdr(struct ws_conn *ws, const uint8_t *p, size_t n)
{
	size_t	have = ws->rx_hlen, k;
	int	r;

	if (have == 0 && (r = ws_frame_parse(p, n, &ws->rx)) != 0)
		k = 0;		/* the common case: all of it in p */
	else {
		k = MIN(n, sizeof ws->rx_hbuf - have);
		memcpy(ws->rx_hbuf + have, p, k);
		if ((r = ws_frame_parse(ws->rx_hbuf, have + k, &ws->rx)) == 0) {
			ws->rx_hlen = have + k;
			return (k);
		}
		ws->rx_hlen = 0;
	}
	if (r < 0) {
		ws_conn_fail(ws, WS_CLOSE_PROTOCOL,
		    "64-bit frame length with the top bit set");
		return (-1);
	}
	if (ws_conn_rx_header(ws, r) == -1)
		return (-1);
	return (r - have);
}

/*
 * Takes the payload of the control frame in progress from p[0..n),
 * gathering it in rx_cbuf when it does not come whole, and handles the
 * frame once complete. Returns the bytes taken, or -1 to stop: a ping
 * while our output is full (a peer that sends pings and never reads would
 * have us queue pongs without end) stops reading until it drains.
 */
static ssize_t
ws_conn_rx_control(struct ws_conn *ws, uint8_t *p, size_t n)
{
	size_t	 len = (size_t)ws->rx.len, k;
	uint8_t	*q = p;

	if (ws->rx.opcode == WS_OP_PING &&
	    ws->ops->pending(ws->t) >= ws->out_high) {
		ws->paused_out = 1;
		ws->ops->set_read(ws->t, 0);
		return (-1);
	}
	k = MIN(n, len - ws->rx_clen);
	if (ws->rx_clen > 0 || k < len) {
		if (k > 0)
			memcpy(ws->rx_cbuf + ws->rx_clen, p, k);
		ws->rx_clen += k;
		if (ws->rx_clen < len)
			return (k);
		q = ws->rx_cbuf;
		ws->rx_clen = 0;
	}
	if (len > 0)
		ws_mask(q, len, ws->rx.mask, 0);
	ws->rx_in_frame = 0;
	ws_conn_control(ws, q, len);
	if (ws->rx_observed) {
		ws->rx_ev.data = q;
		ws->rx_ev.data_len = ws->obs != NULL ?
		    MIN(len, ws->obs->capture) : 0;
		ws_conn_ev_close(&ws->rx_ev, q, len);
		ws->rx_consumed += len;
		ws_conn_ev_in_end(ws, WS_FEV_OK);
	} else
		ws->rx_consumed += len;
	return (k);
}

/*
 * Parses the n bytes at p (NULL when n is 0: only what is pending, an
 * inflate step or an empty frame) as far as the owner has room. Headers
 * and control frames are taken whole or kept; data payload moves to the
 * owner in the pieces that arrived (cut-through). Returns the bytes taken.
 */
static size_t
ws_conn_parse(struct ws_conn *ws, uint8_t *p, size_t n)
{
	size_t	off = 0, k, room;
	ssize_t	r;

	while (ws->state == WS_OPEN || ws->state == WS_CLOSE_SENT) {
		if (!ws->rx_in_frame) {
			if (off == n)
				break;
			if (ws->obs != NULL && ws_conn_obs_busy(ws)) {
				/* ws_conn_observer_ready() resumes us. */
				ws->paused = 1;
				ws->ops->set_read(ws->t, 0);
				break;
			}
			if ((r = ws_conn_rx_hdr(ws, p + off, n - off)) == -1)
				break;
			off += (size_t)r;
			if (!ws->rx_in_frame)
				break;		/* the rest of it comes later */
		}

		if (WS_OP_IS_CONTROL(ws->rx.opcode)) {
			if ((r = ws_conn_rx_control(ws, off < n ? p + off :
			    NULL, n - off)) == -1)
				break;
			off += (size_t)r;
			if (ws->rx_in_frame)
				break;		/* the rest of it comes later */
			continue;
		}

		/*
		 * Data payload. After our close it still goes to the owner:
		 * the peer sent it before it saw our close, and a backend
		 * that only half-closed may still want it.
		 */
		if (ws->rules.msg_rsv1) {
			r = ws_conn_inflate(ws, off < n ? p + off : NULL, n - off,
			    &k);
			off += k;
			if (r != 1)
				break;
			continue;
		}
		room = ws->h->room(ws->arg);
		k = (size_t)MIN((uint64_t)(n - off), ws->rx_left);
		k = MIN(k, room);
		if (k == 0 && ws->rx_left > 0) {
			if (room == 0 && off < n) {
				ws->paused = 1;
				ws->ops->set_read(ws->t, 0);
			}
			break;
		}
		if (ws_conn_unmask(ws, p + off, k,
		    ws->rules.msg_opcode == WS_OP_TEXT) == -1) {
			ws_conn_ev_in_end(ws, WS_FEV_REJECTED);
			ws_conn_fail(ws, WS_CLOSE_INVALID_DATA,
			    "text message is not valid UTF-8");
			break;
		}
		if (ws_conn_rx_payload(ws, k > 0 ? p + off : NULL, k) == -1)
			break;
		off += k;
	}
	return (off);
}

/* Input bytes taken and not yet counted in rx_consumed (partial frames). */
static size_t
ws_conn_kept(const struct ws_conn *ws)
{
	return (ws->rx_hlen + ws->rx_clen);
}

size_t
ws_conn_feed(struct ws_conn *ws, uint8_t *p, size_t n)
{
	size_t	took;

	if (ws->in_input)
		return (0);	/* the outer ws_conn_input() goes on after */
	ws->in_input = 1;
	if (ws->obs != NULL)
		arrivals_note(&ws->rx_arr, ws->rx_consumed + ws_conn_kept(ws) +
		    n, ws->rx_consumed + ws_conn_kept(ws), obs_now());
	took = ws_conn_parse(ws, p, n);
	ws->in_input = 0;
	return (took);
}

void
ws_conn_feed_end(struct ws_conn *ws)
{
	if (ws->h->input_done != NULL)
		ws->h->input_done(ws->arg);
}

/* Input pieces parsed per pass of ws_conn_input(), drained after. */
#define WS_INPUT_IOV	16

void
ws_conn_input(struct ws_conn *ws)
{
	struct evbuffer		*in;
	struct evbuffer_iovec	 v[WS_INPUT_IOV];
	size_t			 took, k;
	int			 i, cnt, more, idle = 0;

	if (ws->in_input) {
		ws->input_again = 1;	/* the outer call goes round again */
		return;
	}
	in = ws->ops->input(ws->t);
	ws->in_input = 1;
	if (ws->obs != NULL)
		arrivals_note(&ws->rx_arr, ws->rx_consumed + ws_conn_kept(ws) +
		    evbuffer_get_length(in), ws->rx_consumed + ws_conn_kept(ws),
		    obs_now());
	do {
		ws->input_again = 0;
		cnt = evbuffer_peek(in, -1, NULL, v, WS_INPUT_IOV);
		cnt = MIN(cnt, WS_INPUT_IOV);
		took = 0;
		more = cnt == WS_INPUT_IOV;
		if (cnt <= 0)
			(void)ws_conn_parse(ws, NULL, 0);
		for (i = 0; i < cnt; i++) {
			k = ws_conn_parse(ws, v[i].iov_base, v[i].iov_len);
			took += k;
			if (k < v[i].iov_len) {
				more = 0;
				break;
			}
		}
		/* The owner takes what it was given, then the input lets go. */
		if (ws->h->input_done != NULL)
			ws->h->input_done(ws->arg);
		evbuffer_drain(in, took);
		/* A resume that found nothing to do ends the loop in a while. */
		idle = took > 0 ? 0 : idle + 1;
	} while ((more || ws->input_again) && idle < 4 &&
	    ws->state < WS_CLOSING);
	ws->in_input = 0;
}

void
ws_conn_resume(struct ws_conn *ws)
{
	if (ws->state >= WS_CLOSING)
		return;
	if (ws->paused) {
		ws->paused = 0;
		if (!ws->paused_out)
			ws->ops->set_read(ws->t, 1);
	}
	ws_conn_input(ws);
}

void
ws_conn_output_drained(struct ws_conn *ws)
{
	if (ws->paused_out && ws->state < WS_CLOSING) {
		ws->paused_out = 0;
		if (!ws->paused)
			ws->ops->set_read(ws->t, 1);
		ws_conn_input(ws);
	}
	if (ws->state == WS_OPEN)
		ws->h->writable(ws->arg);
}

void
ws_conn_transport_eof(struct ws_conn *ws, int error)
{
	if (ws->state >= WS_CLOSING)
		return;
	if (ws->state == WS_OPEN)
		log_info("%s: client went away without a close frame%s",
		    ws->logid, error ? " (socket error)" : "");
	ws->c.closed_by_peer = ws->state == WS_OPEN;
	ws_conn_finish(ws, 1);
}

void
ws_conn_transport_closed(struct ws_conn *ws)
{
	if (ws->state == WS_DONE)
		return;
	ws->state = WS_DONE;
	evtimer_del(ws->ev_close);
	if (ws->rx_in_frame)
		ws_conn_ev_in_end(ws, WS_FEV_INCOMPLETE);
	ws_conn_tell_closing(ws, WS_CLOSE_ABNORMAL, 1);
	ws->h->closed(ws->arg);
}
