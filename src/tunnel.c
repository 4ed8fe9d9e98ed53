/*
 * tunnel.c -- moves payload bytes between one WebSocket endpoint and one
 * backend. Client message payload goes to the backend as it arrives (never
 * whole messages); backend bytes go out as binary messages, or as text
 * messages cut at UTF-8 code point boundaries. Each side reads only while
 * the other side's output is under the high watermark, so memory per tunnel
 * is bounded whatever the peers do.
 */
#include "wsb_autoconf.h"

#include <sys/socket.h>
#include <sys/uio.h>

#include <assert.h>
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>

#include "arrivals.h"
#include "backend.h"
#include "config.h"
#include "conn_facts.h"
#include "handshake.h"
#include "framelog.h"
#include "record.h"
#include "log.h"
#include "metrics.h"
#include "proxyproto.h"
#include "sock.h"
#include "sockread.h"
#include "stats.h"
#include "tunnel.h"
#include "util.h"
#include "worker.h"
#include "ws_conn.h"
#include "ws_deflate.h"
#include "ws_frame.h"
#include "ws_utf8.h"

struct tunnel {
	/*
	 * What every message touches, both ways, is the first cache line of
	 * an aligned allocation (see struct ws_conn); the assert below keeps
	 * it there. be_obuf stands for be on that path: both are set and
	 * cleared together.
	 */
	struct ws_conn			*ws;
	struct evbuffer			*be_obuf;	/* be's output, NULL: no be */
	size_t				 be_olen;	/* its length, kept by a callback */
	uint64_t			 be_in, be_out;	/* bytes read / written */
	struct framelog_session		*fls;		/* frame log, or NULL */
	uint32_t			 high;		/* cfg->buffer_size (<= 1G) */
	uint32_t			 max_frame;	/* rt->max_frame (<= 16M) */
	int				 be_fd;		/* be's socket; -1: TLS */
	unsigned			 be_flushing:1;	/* writing the rest, then close */
	unsigned			 be_dead:1;	/* socket failed: nothing reaches it */
	unsigned			 be_full:1;	/* room() said 0 in this read */
	unsigned			 watched:1;	/* st is set: count for it */

	const struct route		*rt;
	struct config			*cfg;
	struct bufferevent		*be;		/* backend (NULL: echo, closed) */
	struct stats_conn		*st;		/* live stats, or NULL */
	enum tunnel_state		 state;
	uint16_t			 be_code;	/* close code its end maps to */
	uint8_t				 be_eof;	/* backend finished sending */
	uint8_t				 echo_open;	/* echo: a fragmented reply is open */
	struct worker			*w;
	struct sockread			*be_rd;		/* reads be (plain TCP) */
	struct evbuffer_cb_entry	*be_ocb;	/* keeps be_olen */

	TAILQ_ENTRY(tunnel)		 entry;
	uint64_t			 id;
	char				 logid[24];
	struct conn_facts		*facts;		/* owned; backend part at connect */
	int				 h2;		/* facts->proto is "h2" */
	uint64_t			 t_start_wall;
	int				 deflate_on;	/* permessage-deflate agreed */
	struct ws_deflate_params	 deflate;

	/* Connect phase. */
	struct backend_req		*req;
	tunnel_connect_cb		*connect_cb;
	void				*connect_arg;
	struct event			*ev_connected;	/* echo: report from the loop */

	/* Client side (ws above). */
	const struct ws_transport_ops	*tops;
	void				*tr;
	int				 ws_done;	/* transport closed */

	/* Backend side (be above). */
	struct event			*ev_linger;	/* bounds be_flushing */

	struct event			*ev_free;
	uint64_t			 t_start, t_open;
	char				 be_err[96];

	/* Frame log (fls above). */
	struct arrivals			 be_arr;	/* backend read times */
	int				 status;	/* HTTP status when refused */
	const char			*closed_by;	/* who started the close */
	int				 be_closing;	/* we close for the backend */

	/* Live stats (st above; NULL without a control socket). */
	struct ws_observer		 obs;		/* fans out to stats and log */
	const struct ws_observer	*flobs;		/* the frame log's, or NULL */
	struct rec_session		*rec;		/* --record file, or NULL */
	int				 traffic;	/* --traffic marks */
	struct evbuffer_cb_entry	*cb_client;	/* client output drains */
	struct evbuffer_cb_entry	*cb_backend;	/* backend output drains */
	int				 counted;	/* in the open counts */
};

_Static_assert(offsetof(struct tunnel, be_fd) + sizeof(int) + 1 <= CACHE_LINE,
    "tunnel: the per-message fields leave the first cache line");

/*
 * Client payload for the backend, in order, where the endpoint parsed it
 * (the client read, or an inflated piece): written with one writev when
 * the endpoint is done with those bytes (input_done), so no write event is
 * armed when the socket takes it all and nothing is copied unless the
 * socket leaves some. One list per event loop thread: one endpoint parses
 * at a time, and another tunnel's payload (HTTP/2 streams of one read)
 * writes the list first.
 */
#define TUNNEL_BATCH_IOV	1024	/* IOV_MAX */

static __thread struct {
	struct tunnel	*t;		/* whose payload, or NULL */
	int		 cnt;
	size_t		 len;
	struct iovec	 iov[TUNNEL_BATCH_IOV];
} tunnel_batch;

static void	tunnel_be_pump(struct tunnel *);
static void	tunnel_maybe_free(struct tunnel *);

const char *
tunnel_state_str(enum tunnel_state s)
{
	switch (s) {
	case TUNNEL_CONNECTING:	return ("connecting");
	case TUNNEL_OPEN:	return ("open");
	case TUNNEL_DRAINING:	return ("draining");
	case TUNNEL_CLOSED:	return ("closed");
	}
	return ("?");
}

static int
tunnel_is_echo(const struct tunnel *t)
{
	return (t->rt->target.kind == TARGET_ECHO);
}

static size_t
tunnel_high(const struct tunnel *t)
{
	return (t->high);
}

/* be_obuf's length (be is not NULL). */
static size_t
tunnel_be_queued(const struct tunnel *t)
{
	sock_check_len(t->be_obuf, t->be_olen);
	return (t->be_olen);
}

/* An address for a log line, in buf (CONN_ADDRSTRLEN bytes); "-": none. */
static const char *
tunnel_addr(const struct sockaddr_storage *ss, char *buf)
{
	if (conn_addr_str(ss, buf, CONN_ADDRSTRLEN) == NULL)
		return ("-");
	return (buf);
}

/* The client's address for a log line. */
static const char *
tunnel_peer(const struct tunnel *t, char *buf)
{
	return (tunnel_addr(&t->facts->peer, buf));
}

static void
tunnel_log_close(struct tunnel *t)
{
	const struct conn_facts		*f = t->facts;
	const struct ws_counters	*c;
	double				 dur;
	char				 zinfo[160] = "", peer[CONN_ADDRSTRLEN];
	char				 local[CONN_ADDRSTRLEN];
	size_t				 zpeak;

	dur = (double)(now_ns() - t->t_start) / 1e9;
	tunnel_peer(t, peer);
	if (t->ws == NULL) {
		log_info("%s: closed before open peer=%s path=%s dur=%.3fs",
		    t->logid, peer, f->path, dur);
		return;
	}
	c = ws_conn_counters(t->ws);
	if (t->deflate_on) {
		/* Compression ratio each way: payload over wire bytes. */
		ws_conn_deflate_memory(t->ws, &zpeak);
		snprintf(zinfo, sizeof zinfo, " deflate wire-in=%llu "
		    "wire-out=%llu ratio-in=%.2f ratio-out=%.2f zlib-peak=%zu",
		    (unsigned long long)c->wire_in,
		    (unsigned long long)c->wire_out,
		    c->wire_in > 0 ? (double)c->payload_in / c->wire_in : 1.0,
		    c->wire_out > 0 ? (double)c->payload_out / c->wire_out : 1.0,
		    zpeak);
	}
	log_info("%s: close peer=%s %s route=%s backend=%s backend-local=%s "
	    "subprotocol=%s in=%llu/%llu out=%llu/%llu bytes/msgs dur=%.3fs "
	    "code=%u/%u first=%s%s%s%s",
	    t->logid, peer, f->path, f->route, f->backend,
	    tunnel_addr(&f->backend_local, local),
	    f->subprotocol != NULL ? f->subprotocol : "-",
	    (unsigned long long)c->payload_in, (unsigned long long)c->msgs_in,
	    (unsigned long long)c->payload_out, (unsigned long long)c->msgs_out,
	    dur, c->close_code_in, c->close_code_out,
	    c->closed_by_peer ? "client" : "server", zinfo,
	    t->be_err[0] != '\0' ? " backend-error=" : "", t->be_err);
}

/* Ends the frame log's session, after the endpoint's last frame events. */
static void
tunnel_log_end(struct tunnel *t, const struct ws_counters *c)
{
	struct framelog_close	fc;

	memset(&fc, 0, sizeof fc);
	fc.c = c;
	fc.status = t->status;
	fc.closed_by = t->closed_by;
	fc.backend_in = t->be_in;
	fc.backend_out = t->be_out;
	fc.error = t->be_err[0] != '\0' ? t->be_err : NULL;
	framelog_session_close(t->fls, &fc);
	t->fls = NULL;
}

/* Stops counting a buffer's drains (before it goes). */
static void
tunnel_stats_unhook(struct tunnel *t)
{
	if (t->cb_backend != NULL && t->be != NULL)
		evbuffer_remove_cb_entry(t->be_obuf, t->cb_backend);
	t->cb_backend = NULL;
	if (t->cb_client != NULL && t->tops != NULL)
		evbuffer_remove_cb_entry(t->tops->output(t->tr), t->cb_client);
	t->cb_client = NULL;
}

/* The open-connection counts of the header, by kind. */
static unsigned *
tunnel_open_count(struct tunnel *t)
{
	struct stats_global	*g = t->w->stats;

	if (t->facts->tls_version != NULL)
		return (t->h2 ? &g->open_h2_wss : &g->open_h1_wss);
	return (t->h2 ? &g->open_h2_ws : &g->open_h1_ws);
}

/* Closes the backend socket (its reader first: it watches the socket). */
static void
tunnel_be_release(struct tunnel *t)
{
	if (t->be == NULL)
		return;
	sockread_free(t->be_rd);
	t->be_rd = NULL;
	/* be may outlive this call a little (libevent's references). */
	evbuffer_remove_cb_entry(t->be_obuf, t->be_ocb);
	t->be_ocb = NULL;
	bufferevent_free(t->be);
	t->be = NULL;
	t->be_obuf = NULL;
	t->be_olen = 0;
}

/* The backend's bytes not yet framed for the client. */
static struct evbuffer *
tunnel_be_input(struct tunnel *t)
{
	if (t->be_rd != NULL)
		return (sockread_input(t->be_rd));
	return (bufferevent_get_input(t->be));
}

/* Stops reading the backend. */
static void
tunnel_be_stop_reading(struct tunnel *t)
{
	if (t->be_rd != NULL)
		sockread_set(t->be_rd, 0);
	bufferevent_disable(t->be, EV_READ);
}

static void
tunnel_free(struct tunnel *t)
{
	struct ws_counters	c;
	struct metrics_tunnel	mt;

	if (tunnel_batch.t == t) {	/* never between reads; to be sure */
		tunnel_batch.t = NULL;
		tunnel_batch.cnt = 0;
		tunnel_batch.len = 0;
	}
	tunnel_log_close(t);
	if (t->w->metrics != NULL && t->ws != NULL) {
		tunnel_metrics(t, &mt);
		metrics_tunnel_end(t->w->metrics, &mt, t->closed_by,
		    ws_conn_counters(t->ws)->close_code_in,
		    ws_conn_counters(t->ws)->close_code_out);
	}
	if (t->counted) {
		if (t->w->hooks != NULL)
			t->w->hooks->tunnel_close(t->w->hooks->arg, t);
		(*tunnel_open_count(t))--;
	}
	TAILQ_REMOVE(&t->w->tunnels, t, entry);
	backend_cancel(t->req);
	tunnel_stats_unhook(t);
	tunnel_be_release(t);
	if (t->ws != NULL)
		c = *ws_conn_counters(t->ws);
	ws_conn_free(t->ws);
	/* Its last messages are reported to the frame log before the row. */
	stats_conn_free(t->st);
	t->st = NULL;
	if (t->fls != NULL)
		tunnel_log_end(t, t->ws != NULL ? &c : NULL);
	if (t->rec != NULL)
		rec_session_close(t->rec);
	if (t->tops != NULL)
		t->tops->free(t->tr);
	if (t->ev_connected != NULL)
		event_free(t->ev_connected);
	event_free(t->ev_linger);
	event_free(t->ev_free);
	config_free(t->cfg);
	conn_facts_free(t->facts);
	free(t);
}

static void
tunnel_free_cb(evutil_socket_t fd, short what, void *arg)
{
	tunnel_free(arg);
}

void
tunnel_free_all(struct worker *w)
{
	struct tunnel	*t;

	while ((t = TAILQ_FIRST(&w->tunnels)) != NULL)
		tunnel_free(t);
}

/* Frees on the next loop pass: never inside a callback of our own objects. */
static void
tunnel_schedule_free(struct tunnel *t)
{
	if (t->state == TUNNEL_CLOSED)
		return;
	t->state = TUNNEL_CLOSED;
	event_active(t->ev_free, EV_TIMEOUT, 1);
}

static void
tunnel_maybe_free(struct tunnel *t)
{
	if (t->ws_done && t->be == NULL)
		tunnel_schedule_free(t);
}

/* close-timeout without progress ends a backend flush. */
static void
tunnel_arm_linger(struct tunnel *t)
{
	struct timeval	tv;

	tv.tv_sec = t->cfg->close_timeout_ms / 1000;
	tv.tv_usec = (t->cfg->close_timeout_ms % 1000) * 1000;
	evtimer_add(t->ev_linger, &tv);
}

static void
tunnel_be_close(struct tunnel *t)
{
	if (t->be == NULL)
		return;
	if (t->cb_backend != NULL) {
		evbuffer_remove_cb_entry(t->be_obuf, t->cb_backend);
		t->cb_backend = NULL;
	}
	tunnel_be_release(t);
	t->be_flushing = 0;
	evtimer_del(t->ev_linger);
	tunnel_maybe_free(t);
}

/*
 * n client bytes went to the backend's socket at once, never through its
 * output (whose drains live stats count otherwise).
 */
static void
tunnel_be_taken(struct tunnel *t, size_t n)
{
	if (n > 0 && t->watched)
		stats_taken(t->st, t->w->stats, STATS_IN, n, obs_now_fresh());
}

/*
 * Writes the batch when it is t's (the endpoint is done with those bytes):
 * at once when nothing is queued before it, the rest kept on the
 * backend's output (sockread_keep: by reference or copied); for a TLS
 * backend all of it goes to the output, for OpenSSL to write.
 */
static void
tunnel_be_flush(struct tunnel *t)
{
	if (tunnel_batch.t != t)
		return;
	/* be may write unless be_dead (tunnel_be_ended() ends it). */
	if (t->be_obuf != NULL && !t->be_dead)
		tunnel_be_taken(t, sock_send_iov(t->be_obuf,
		    tunnel_be_queued(t), t->be_fd, tunnel_batch.iov,
		    tunnel_batch.cnt));
	tunnel_batch.t = NULL;
	tunnel_batch.cnt = 0;
	tunnel_batch.len = 0;
}

/*
 * The client side is done sending: write what the backend has not yet
 * taken, then close it (bounded by close-timeout).
 */
static void
tunnel_be_finish(struct tunnel *t)
{
	tunnel_be_flush(t);	/* what the client sent before, in order */
	if (t->be == NULL || t->be_flushing)
		return;
	if (tunnel_be_queued(t) == 0) {
		tunnel_be_close(t);
		return;
	}
	t->be_flushing = 1;
	tunnel_be_stop_reading(t);
	tunnel_arm_linger(t);
}

static void
tunnel_linger_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct tunnel	*t = arg;

	log_info("%s: backend did not take the last %zu bytes in time",
	    t->logid, evbuffer_get_length(t->be_obuf));
	tunnel_be_close(t);
}

/* ---- client -> backend ------------------------------------------------ */

static void
tunnel_ws_payload(void *arg, const uint8_t *p, size_t n, unsigned opcode,
    int first, int last)
{
	struct tunnel	*t = arg;

	if (t->watched)
		stats_payload(t->st, t->w->stats, STATS_IN, n, first, last,
		    !tunnel_is_echo(t) && t->be != NULL && !t->be_flushing &&
		    !t->be_dead, obs_now());
	if (tunnel_is_echo(t)) {
		if (ws_conn_state(t->ws) != WS_OPEN)
			return;		/* our close is out: no replies */
		/*
		 * Echo each piece as it arrives, as a fragment of the reply
		 * message, so a large message never sits whole in memory and
		 * control frames can go out between fragments. A frame that
		 * arrives in one read is echoed as one frame, so the client's
		 * fragmentation is kept in the common case.
		 */
		(void)ws_conn_send(t->ws, opcode, !t->echo_open, last, p, n, 0,
		    ws_conn_input_time(t->ws, n));
		t->echo_open = !last;
		return;
	}
	if (t->be_obuf == NULL || t->be_flushing || t->be_dead)
		return;		/* backend gone: nowhere to go */
	if (n == 0)
		return;
	if (tunnel_batch.t != t || tunnel_batch.cnt == TUNNEL_BATCH_IOV) {
		if (tunnel_batch.t != NULL)
			tunnel_be_flush(tunnel_batch.t);
		tunnel_batch.t = t;
	}
	tunnel_batch.iov[tunnel_batch.cnt].iov_base = (void *)(uintptr_t)p;
	tunnel_batch.iov[tunnel_batch.cnt++].iov_len = n;
	tunnel_batch.len += n;
	t->be_out += n;
}

static size_t
tunnel_ws_room(void *arg)
{
	struct tunnel	*t = arg;
	size_t		 pending;

	if (t->be_obuf == NULL) {
		/* Echo: after our close, its payload is dropped. */
		if (tunnel_is_echo(t) && ws_conn_state(t->ws) == WS_OPEN)
			return (ws_conn_out_room(t->ws));
		return (SIZE_MAX);	/* backend gone: nowhere to go */
	}
	if (t->be_flushing || t->be_dead)
		return (SIZE_MAX);
	pending = tunnel_be_queued(t) +
	    (tunnel_batch.t == t ? tunnel_batch.len : 0);
	if (pending >= tunnel_high(t)) {
		t->be_full = 1;
		return (0);
	}
	return (tunnel_high(t) - pending);
}

/*
 * The endpoint is done with the payload it gave: write the batch. If the
 * endpoint stopped for room and the socket took it all, no write event
 * will say the output drained: resume it here.
 */
static void
tunnel_ws_input_done(void *arg)
{
	struct tunnel	*t = arg;

	tunnel_be_flush(t);
	if (t->be_full && (t->be == NULL || evbuffer_get_length(
	    t->be_obuf) == 0)) {
		t->be_full = 0;
		ws_conn_resume(t->ws);
	}
}

static void
tunnel_ws_writable(void *arg)
{
	struct tunnel	*t = arg;

	if (tunnel_is_echo(t))
		ws_conn_resume(t->ws);
	else {
		tunnel_be_pump(t);
		/* It may have made room in a backend input that was full. */
		if (t->be_rd != NULL)
			sockread_poke(t->be_rd);
	}
}

static void
tunnel_ws_closing(void *arg, uint16_t code, int by_peer)
{
	struct tunnel	*t = arg;

	if (t->closed_by == NULL)
		t->closed_by = by_peer ? "client" : t->be_closing ? "backend" :
		    "server";
	if (t->state == TUNNEL_OPEN)
		t->state = TUNNEL_DRAINING;
	/*
	 * Whatever the client sent before its close (or before it answered
	 * ours) still reaches the backend; then the backend is closed.
	 */
	tunnel_be_finish(t);
}

static void
tunnel_ws_closed(void *arg)
{
	struct tunnel	*t = arg;

	t->ws_done = 1;
	tunnel_be_finish(t);
	tunnel_maybe_free(t);
}

/* The frame log can take events again (log-overflow block). */
static void
tunnel_log_ready(void *arg)
{
	struct tunnel	*t = arg;

	if (t->ws != NULL)
		ws_conn_observer_ready(t->ws);
}

static const struct ws_handler tunnel_ws_handler = {
	.payload = tunnel_ws_payload,
	.room = tunnel_ws_room,
	.input_done = tunnel_ws_input_done,
	.writable = tunnel_ws_writable,
	.closing = tunnel_ws_closing,
	.closed = tunnel_ws_closed,
};

/* ---- backend -> client ------------------------------------------------ */

/*
 * For text routes: how many of the n bytes at p form whole UTF-8 code
 * points, validated. Returns that length (0: wait for more bytes), or -1
 * when the bytes are not UTF-8 (at_eof: no more will come).
 */
static ssize_t
tunnel_text_cut(const uint8_t *p, size_t n, int at_eof)
{
	size_t		k = MIN(n, 4), i, need;
	uint32_t	st = WS_UTF8_ACCEPT;

	for (i = n; i > n - k; i--) {
		if ((p[i - 1] & 0xc0) == 0x80)
			continue;		/* continuation byte */
		need = p[i - 1] >= 0xf0 ? 4 : p[i - 1] >= 0xe0 ? 3 :
		    p[i - 1] >= 0xc0 ? 2 : 1;
		if (n - (i - 1) < need)
			n = i - 1;		/* keep the partial character */
		break;
	}
	if (n == 0)
		return (at_eof || k == 4 ? -1 : 0);
	if (ws_utf8_feed(&st, p, n) == -1 || st != WS_UTF8_ACCEPT)
		return (-1);
	return ((ssize_t)n);
}

/*
 * The one way backend bytes go to the client: frames the n bytes at p
 * while the client's output has room -- binary routes as whole messages
 * of up to max-frame bytes (many per write), text routes as messages cut
 * at characters. Returns how many it took; the rest waits in the
 * backend's input. at_eof: the backend sent its last byte (p ends it).
 */
static size_t
tunnel_be_frame(struct tunnel *t, const uint8_t *p, size_t n, int at_eof)
{
	size_t		off = 0, k;
	ssize_t		cut;
	uint64_t	t_src;

	while (off < n && ws_conn_out_room(t->ws) > 0) {
		k = n - off;
		if (t->rt->text) {
			/* A character never splits: at least 4 bytes a frame. */
			k = MIN(k, MAX(t->max_frame, 4));
			if ((cut = tunnel_text_cut(p + off, k, at_eof &&
			    off + k == n)) == -1) {
				snprintf(t->be_err, sizeof t->be_err,
				    "bytes are not UTF-8 on a text route");
				t->be_closing = 1;
				tunnel_be_stop_reading(t);
				ws_conn_close(t->ws, WS_CLOSE_INTERNAL,
				    "backend sent invalid UTF-8", 0);
				return (n);	/* dropped */
			}
			if (cut == 0)
				break;
			k = (size_t)cut;
		}
		t_src = t->fls != NULL || t->watched ? arrivals_time(&t->be_arr,
		    t->be_in + MIN(k, t->max_frame)) : 0;
		k = ws_conn_send(t->ws, t->rt->text ? WS_OP_TEXT : WS_OP_BINARY,
		    1, 1, p + off, k, t->rt->text ? 0 : t->max_frame, t_src);
		off += k;
		t->be_in += k;
		if (t->be == NULL)
			break;		/* a failed send closed it */
	}
	return (off);
}

/*
 * Frames what the backend's input holds (bytes the client had no room
 * for, or a TLS backend's reads), piece by piece.
 */
static void
tunnel_be_pump(struct tunnel *t)
{
	struct evbuffer_iovec	 v[16];
	struct evbuffer		*in;
	size_t			 avail, took, k = 0;
	int			 i, cnt;

	if (t->be == NULL || t->ws == NULL)
		return;
	in = tunnel_be_input(t);
	while ((avail = evbuffer_get_length(in)) > 0 &&
	    ws_conn_out_room(t->ws) > 0) {
		cnt = evbuffer_peek(in, -1, NULL, v, nitems(v));
		cnt = MIN(cnt, (int)nitems(v));
		for (i = 0, took = 0; i < cnt; i++) {
			k = tunnel_be_frame(t, v[i].iov_base, v[i].iov_len,
			    t->be_eof && took + v[i].iov_len == avail);
			if (t->be == NULL)
				return;		/* a failed send closed it, in too */
			took += k;
			if (k < v[i].iov_len)
				break;
		}
		evbuffer_drain(in, took);
		if (i < cnt && t->rt->text && v[i].iov_len - k < 4 &&
		    ws_conn_out_room(t->ws) > 0 && i + 1 < cnt) {
			/* A character split across pieces: join them. */
			(void)evbuffer_pullup(in, MIN(avail - took,
			    v[i].iov_len - k + 4));
			continue;
		}
		if (i < cnt)
			break;		/* no room, or a partial character */
	}
	if (t->be_eof && ws_conn_state(t->ws) == WS_OPEN &&
	    evbuffer_get_length(in) == 0) {
		/* Everything the backend sent is queued: now the close. */
		if (t->state == TUNNEL_OPEN)
			t->state = TUNNEL_DRAINING;
		t->be_closing = 1;
		ws_conn_close(t->ws, t->be_code, t->be_code == WS_CLOSE_NORMAL ?
		    NULL : "backend connection failed", 0);
	}
}

/* New backend bytes are in its input. */
static void
tunnel_be_data(struct tunnel *t)
{
	if (t->fls != NULL || t->watched)
		arrivals_note(&t->be_arr, t->be_in +
		    evbuffer_get_length(tunnel_be_input(t)), t->be_in,
		    obs_now());
	tunnel_be_pump(t);
}

/* The backend's output drained to its low mark. */
static void
tunnel_be_drained(struct tunnel *t)
{
	if (t->be_flushing) {
		if (tunnel_be_queued(t) == 0)
			tunnel_be_close(t);
		else
			tunnel_arm_linger(t);	/* progress: a slow backend is not a dead one */
		return;
	}
	if (t->ws != NULL)
		ws_conn_resume(t->ws);
}

/* The backend closed its side (EOF) or its socket failed (error). */
static void
tunnel_be_ended(struct tunnel *t, int error)
{
	int	err = errno;

	if (error) {
		snprintf(t->be_err, sizeof t->be_err, "%s",
		    evutil_socket_error_to_string(err));
		log_info("%s: backend %s: %s", t->logid, t->rt->target.spec,
		    t->be_err);
		t->be_code = WS_CLOSE_INTERNAL;
		t->be_dead = 1;
		/* Nothing more can be written: what waits for it is lost. */
		tunnel_be_stop_reading(t);
		bufferevent_disable(t->be, EV_WRITE);
		evbuffer_drain(t->be_obuf, evbuffer_get_length(t->be_obuf));
	} else {
		/* EOF: it may still read (half-close); keep writing to it. */
		t->be_code = WS_CLOSE_NORMAL;
		tunnel_be_stop_reading(t);
	}
	t->be_eof = 1;
	if (t->be_flushing && tunnel_be_queued(t) == 0) {
		tunnel_be_close(t);
		return;
	}
	/* What it sent before leaving still goes to the client, then close. */
	tunnel_be_pump(t);
}

/* The backend's socket: its reader (plain TCP). */
static void
tunnel_be_sock(void *arg, enum sock_event ev)
{
	struct tunnel	*t = arg;

	switch (ev) {
	case SOCK_DATA:
		tunnel_be_data(t);
		break;
	case SOCK_DRAINED:
		tunnel_be_drained(t);
		break;
	case SOCK_EOF:
	case SOCK_ERROR:
		tunnel_be_ended(t, ev == SOCK_ERROR);
		break;
	}
}

/* The backend's bufferevent: writes, and reads of TLS backends. */
static void
tunnel_be_read(struct bufferevent *bev, void *arg)
{
	tunnel_be_sock(arg, SOCK_DATA);
}

static void
tunnel_be_write(struct bufferevent *bev, void *arg)
{
	tunnel_be_sock(arg, SOCK_DRAINED);
}

static void
tunnel_be_event(struct bufferevent *bev, short what, void *arg)
{
	errno = EVUTIL_SOCKET_ERROR();
	tunnel_be_sock(arg, (what & BEV_EVENT_ERROR) ? SOCK_ERROR : SOCK_EOF);
}

/*
 * A backend read, where sockread read it (its input was empty): framed and
 * written to the client at once; what the client has no room for stays in
 * the input for tunnel_be_pump().
 */
static size_t
tunnel_be_bytes(void *arg, unsigned char *p, size_t n)
{
	struct tunnel	*t = arg;

	if (t->fls != NULL || t->watched)
		arrivals_note(&t->be_arr, t->be_in + n, t->be_in, obs_now());
	if (t->ws == NULL)
		return (0);
	return (tunnel_be_frame(t, p, n, 0));
}

/* ---- life cycle ------------------------------------------------------- */

static void
tunnel_connected(void *arg, struct bufferevent *bev, int status,
    const char *why)
{
	struct tunnel	*t = arg;
	char		 peer[CONN_ADDRSTRLEN];

	t->req = NULL;
	if (status != 0) {
		log_info("%s: backend %s for %s: %s", t->logid,
		    t->rt->target.spec, tunnel_peer(t, peer), why);
		snprintf(t->be_err, sizeof t->be_err, "%s", why);
		t->status = status;
		t->connect_cb(t->connect_arg, status);
		return;
	}
	t->be = bev;
	t->be_obuf = bufferevent_get_output(bev);
	t->be_ocb = sock_track_len(t->be_obuf, &t->be_olen);
	t->be_fd = bufferevent_openssl_get_ssl(bev) != NULL ? -1 :
	    (int)bufferevent_getfd(bev);
	conn_facts_backend(t->facts, (int)bufferevent_getfd(bev),
	    t->rt->target.kind == TARGET_UNIX ? t->rt->target.path : NULL,
	    now_ns() - t->t_start);
	t->connect_cb(t->connect_arg, 0);
}

static void
tunnel_echo_ready(evutil_socket_t fd, short what, void *arg)
{
	struct tunnel	*t = arg;

	t->connect_cb(t->connect_arg, 0);
}

struct tunnel *
tunnel_new(struct worker *w, struct config *cfg, const struct route *rt,
    const struct conn_facts *f, uint64_t id, tunnel_connect_cb *cb,
    void *arg)
{
	struct tunnel		*t;
	struct conn_facts	 rf = *f;

	t = xcalloc_aligned(sizeof *t);
	t->w = w;
	t->cfg = config_ref(cfg);
	t->rt = rt;
	t->high = (uint32_t)cfg->buffer_size;
	t->max_frame = (uint32_t)rt->max_frame;
	t->id = id;
	snprintf(t->logid, sizeof t->logid, "c%llu", (unsigned long long)id);
	rf.route = rt->path;
	rf.backend = rt->target.spec;
	t->facts = conn_facts_new(&rf);
	t->h2 = strcmp(f->proto, "h2") == 0;
	t->t_start_wall = wall_ns();
	t->state = TUNNEL_CONNECTING;
	t->connect_cb = cb;
	t->connect_arg = arg;
	t->t_start = now_ns();
	t->ev_free = event_new(w->base, -1, 0, tunnel_free_cb, t);
	t->ev_linger = evtimer_new(w->base, tunnel_linger_timeout, t);
	TAILQ_INSERT_TAIL(&w->tunnels, t, entry);
	if (w->flog != NULL)
		t->fls = framelog_session_new(w->flog, t->facts, t->logid,
		    cfg->log.capture);

	if (rt->target.kind == TARGET_ECHO) {
		t->ev_connected = event_new(w->base, -1, 0, tunnel_echo_ready, t);
		event_active(t->ev_connected, EV_TIMEOUT, 1);
	} else {
		uint8_t	pre[PROXYPROTO_MAX];
		size_t	prelen = 0;

		if (rt->send_proxy != 0)
			prelen = conn_facts_proxy_header(t->facts,
			    rt->send_proxy, pre, sizeof pre);
		t->req = backend_connect(w, &rt->target,
		    rt->connect_timeout_ms, pre, prelen, tunnel_connected, t);
	}
	return (t);
}

/* ---- live stats ---------------------------------------------------------- */

/*
 * The observer of the endpoint: stats and control first, then websockify's
 * record and traffic marks, then the log.
 */
static void
tunnel_obs_frame(void *arg, const struct ws_frame_event *ev)
{
	struct tunnel		*t = arg;
	struct stats_frame	 f;
	struct ws_frame_event	 lev;
	enum stats_dir		 dir = ev->dir == WS_DIR_IN ? STATS_IN : STATS_OUT;

	if (t->st != NULL) {
		stats_frame(t->st, t->w->stats, dir, ev->opcode, ev->fin,
		    ev->len, ev->plain_len, ev->hdr_len,
		    ev->delay_ns != 0 && ev->delay_ns < ev->t_ns ?
		    ev->t_ns - ev->delay_ns : 0, ev->t_ns);
		if (t->st->frames_ring != NULL) {
			f.t = wall_ns();
			f.len = ev->len;
			f.close_code = ev->close_code;
			f.dir = dir;
			f.opcode = ev->opcode;
			f.fin = ev->fin;
			f.rsv = ev->rsv;
			f.masked = ev->masked;
			f.status = ev->status;
			stats_frame_keep(t->st, &f);
		}
		if (t->w->hooks != NULL)
			t->w->hooks->frame(t->w->hooks->arg, t, ev);
	}
	if (t->rec != NULL)
		rec_frame(t->rec, ev);
	if (t->traffic && ev->status == WS_FEV_OK && (ev->opcode ==
	    WS_OP_TEXT || ev->opcode == WS_OP_BINARY || ev->opcode ==
	    WS_OP_CONT))
		rec_traffic(ev->dir == WS_DIR_IN ? "}>" : "{<");
	if (t->flobs != NULL) {
		/* The record may have asked for more bytes than the log. */
		if (ev->data_len > t->flobs->capture) {
			lev = *ev;
			lev.data_len = t->flobs->capture;
			ev = &lev;
		}
		t->flobs->frame(t->fls, ev);
	}
}

/* Frames for the client went to its socket at once. */
static void
tunnel_obs_taken(void *arg, size_t n)
{
	struct tunnel	*t = arg;

	stats_taken(t->st, t->w->stats, STATS_OUT, n, obs_now_fresh());
}

static int
tunnel_obs_busy(void *arg)
{
	struct tunnel	*t = arg;

	return (t->flobs != NULL && t->flobs->busy != NULL &&
	    t->flobs->busy(t->fls));
}

/* Bytes left the client's output buffer (socket or h2 framing). */
static void
tunnel_client_drained(struct evbuffer *buf,
    const struct evbuffer_cb_info *info, void *arg)
{
	struct tunnel	*t = arg;

	if (info->n_deleted > 0 && t->st != NULL)
		stats_taken(t->st, t->w->stats, STATS_OUT, info->n_deleted,
		    obs_now_fresh());
}

/* Bytes left the backend's output buffer for its socket. */
static void
tunnel_backend_drained(struct evbuffer *buf,
    const struct evbuffer_cb_info *info, void *arg)
{
	struct tunnel	*t = arg;

	if (info->n_deleted > 0 && t->st != NULL)
		stats_taken(t->st, t->w->stats, STATS_IN, info->n_deleted,
		    obs_now_fresh());
}

/* A message or control frame finished leaving: into the frame log. */
static void
tunnel_stats_done(void *arg, const struct stats_done *d)
{
	struct tunnel	*t = arg;

	if (t->fls != NULL)
		framelog_session_hol(t->fls, d);
}

/* Starts live stats for an attached tunnel (a control socket exists). */
static void
tunnel_stats_start(struct tunnel *t)
{
	struct evbuffer	*out = t->tops->output(t->tr);

	/* Finished messages go to the frame log only: none, no calls. */
	t->st = stats_conn_new(t->fls != NULL ? tunnel_stats_done : NULL, t);
	t->watched = 1;
	/* The 101 response (h1) may still be queued. */
	stats_q_other(&t->st->q[STATS_OUT], STATS_OUT,
	    evbuffer_get_length(out), now_ns());
	t->cb_client = evbuffer_add_cb(out, tunnel_client_drained, t);
	if (t->be != NULL)
		t->cb_backend = evbuffer_add_cb(t->be_obuf,
		    tunnel_backend_drained, t);
	t->w->stats->conns_total++;
	(*tunnel_open_count(t))++;
	t->counted = 1;
}

void
tunnel_info(struct tunnel *t, struct tunnel_info *ti)
{
	memset(ti, 0, sizeof *ti);
	ti->id = t->id;
	ti->facts = t->facts;
	ti->state = tunnel_state_str(t->state);
	ti->closed_by = t->closed_by;
	ti->t_start = t->t_start;
	ti->t_open = t->t_open;
	ti->t_start_wall = t->t_start_wall;
	ti->st = t->st;
	ti->be_in = t->be_in;
	ti->be_out = t->be_out;
	ti->fd = -1;
	if (t->ws != NULL) {
		ti->c = ws_conn_counters(t->ws);
		ti->ws_state = ws_state_str(ws_conn_state(t->ws));
		ti->rx_msg = ws_conn_rx_msg(t->ws, &ti->rx_known,
		    &ti->rx_received, &ti->rx_final);
	}
	if (t->tops != NULL && !t->ws_done) {
		ti->q_client_out = t->tops->pending(t->tr);
		ti->q_client_in = evbuffer_get_length(t->tops->input(t->tr));
		if (t->tops->fd != NULL)
			ti->fd = t->tops->fd(t->tr);
		if (t->tops->flow != NULL) {
			t->tops->flow(t->tr, now_ns(), &ti->fc);
			ti->h2 = 1;
		}
	}
	if (t->be != NULL) {
		ti->q_backend_out = evbuffer_get_length(t->be_obuf);
		ti->q_backend_in = evbuffer_get_length(tunnel_be_input(t));
	}
}

void
tunnel_metrics(const struct tunnel *t, struct metrics_tunnel *mt)
{
	const struct ws_counters	*c;

	memset(mt, 0, sizeof *mt);
	mt->route = t->facts->route;
	mt->h2 = t->h2;
	mt->tls = t->facts->tls_version != NULL;
	switch (t->state) {
	case TUNNEL_CONNECTING:	mt->state = METRICS_CONNECTING; break;
	case TUNNEL_OPEN:	mt->state = METRICS_OPEN; break;
	case TUNNEL_DRAINING:	mt->state = METRICS_DRAINING; break;
	case TUNNEL_CLOSED:	mt->state = METRICS_CLOSED; break;
	}
	if (t->ws == NULL)
		return;
	c = ws_conn_counters(t->ws);
	mt->attached = 1;
	mt->payload[STATS_IN] = c->payload_in;
	mt->payload[STATS_OUT] = c->payload_out;
	mt->msgs[STATS_IN] = c->msgs_in;
	mt->msgs[STATS_OUT] = c->msgs_out;
	mt->frames[STATS_IN] = c->frames_in;
	mt->frames[STATS_OUT] = c->frames_out;
}

struct tunnel *
tunnel_first(struct worker *w)
{
	return (TAILQ_FIRST(&w->tunnels));
}

struct tunnel *
tunnel_next(struct tunnel *t)
{
	return (TAILQ_NEXT(t, entry));
}

uint64_t
tunnel_id(const struct tunnel *t)
{
	return (t->id);
}

struct stats_conn *
tunnel_stats(struct tunnel *t)
{
	return (t->st);
}

void
tunnel_attach(struct tunnel *t, const struct ws_transport_ops *ops, void *tr)
{
	struct ws_limits	lim;
	size_t			high = tunnel_high(t);
	char			peer[CONN_ADDRSTRLEN], local[CONN_ADDRSTRLEN];
	char			via[CONN_ADDRSTRLEN];

	assert(t->state == TUNNEL_CONNECTING);
	t->state = TUNNEL_OPEN;
	t->t_open = now_ns();
	t->tops = ops;
	t->tr = tr;
	memset(&lim, 0, sizeof lim);
	lim.max_message = t->rt->max_message;
	lim.out_high = high;
	lim.close_timeout_ms = t->cfg->close_timeout_ms;
	lim.idle_timeout_ms = t->rt->idle_timeout_ms;
	lim.ping_interval_ms = t->rt->ping_interval_ms;
	lim.pong_timeout_ms = t->rt->pong_timeout_ms;
	t->ws = ws_conn_new(t->w->base, ops, tr, &tunnel_ws_handler, t, &lim,
	    t->logid);
	if (t->deflate_on)
		ws_conn_set_deflate(t->ws, &t->deflate, &t->rt->deflate);
	if (t->fls != NULL)
		t->flobs = framelog_session_open(t->fls,
		    t->h2 ? 200 : 101, tunnel_log_ready, t);
	if (t->w->stats != NULL)
		tunnel_stats_start(t);
	if (t->st != NULL && t->fls != NULL)
		framelog_session_expect_hol(t->fls);
	if (t->cfg->record != NULL)
		t->rec = rec_session_new(t->cfg->record, t->id, t->logid,
		    t->t_open);
	if ((t->traffic = t->cfg->traffic))
		rec_traffic(REC_TRAFFIC_LEGEND);
	if (t->st != NULL || t->rec != NULL || t->traffic) {
		/*
		 * More than the log watches: one observer that tells each.
		 * Payload bytes only where someone keeps them.
		 */
		t->obs.capture = t->flobs != NULL ? t->flobs->capture : 0;
		if (t->rec != NULL)
			t->obs.capture = SIZE_MAX;
		t->obs.frame = tunnel_obs_frame;
		t->obs.taken = t->st != NULL ? tunnel_obs_taken : NULL;
		t->obs.busy = t->flobs != NULL && t->flobs->busy != NULL ?
		    tunnel_obs_busy : NULL;
		ws_conn_set_observer(t->ws, &t->obs, t);
	} else if (t->flobs != NULL)
		ws_conn_set_observer(t->ws, t->flobs, t->fls);
	log_info("%s: open peer=%s proto=%s %s route=%s backend=%s "
	    "backend-local=%s subprotocol=%s%s%s", t->logid,
	    tunnel_peer(t, peer), t->facts->proto, t->facts->path,
	    t->facts->route, t->facts->backend,
	    tunnel_addr(&t->facts->backend_local, local),
	    t->facts->subprotocol != NULL ? t->facts->subprotocol : "-",
	    t->facts->via.ss_family != AF_UNSPEC ? " via=" : "",
	    t->facts->via.ss_family != AF_UNSPEC ? tunnel_addr(&t->facts->via,
	    via) : "");

	if (t->be != NULL) {
		bufferevent_setcb(t->be, tunnel_be_read, tunnel_be_write,
		    tunnel_be_event, t);
		/* Stop reading the backend while its bytes wait for the client. */
		t->be_rd = sockread_tunnel(t->w->base, t->be, high,
		    t->rt->max_frame, tunnel_be_sock, t);
		if (t->be_rd != NULL)
			sockread_set_bytes(t->be_rd, tunnel_be_bytes, t);
	}
	if (t->counted && t->w->hooks != NULL)
		t->w->hooks->tunnel_open(t->w->hooks->arg, t);
	metrics_handshake(t->w->metrics, t->h2, t->h2 ? 200 : 101);
	ws_conn_input(t->ws);
}

void
tunnel_abort(struct tunnel *t)
{
	if (t->req != NULL) {
		backend_cancel(t->req);
		t->req = NULL;
	}
	if (t->ev_connected != NULL)
		event_del(t->ev_connected);
	t->ws_done = 1;
	tunnel_be_release(t);
	tunnel_schedule_free(t);
}

void
tunnel_shutdown_all(struct worker *w)
{
	struct tunnel	*t;

	TAILQ_FOREACH(t, &w->tunnels, entry)
		if (t->ws != NULL)
			ws_conn_close(t->ws, WS_CLOSE_GOING_AWAY,
			    "server shutting down", 0);
}

void
tunnel_set_deflate(struct tunnel *t, const struct ws_deflate_params *p)
{
	assert(t->state == TUNNEL_CONNECTING);
	t->deflate_on = 1;
	t->deflate = *p;
}

struct ws_conn *
tunnel_ws(struct tunnel *t)
{
	return (t->ws);
}
