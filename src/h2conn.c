/*
 * h2conn.c -- one client connection over HTTP/2 (RFC 9113) carrying
 * WebSockets on extended CONNECT streams (RFC 8441). An nghttp2 server
 * session parses and frames; every stream that asks for a WebSocket gets the
 * same handshake decisions as HTTP/1.1 (handshake.c), connects its backend
 * first (502/504 before any 200), and is then one tunnel behind a stream
 * transport: its input is what DATA frames carried, its output goes out as
 * DATA frames as the client's windows allow.
 *
 * Flow control is tied to the backends: the connection window is given back
 * as soon as bytes arrive (each stream's own window bounds what it may
 * buffer, so no stream can starve the others of the shared one), a stream's
 * window only as its bytes leave its input buffer -- to the backend's output
 * -- so a slow backend stalls its own stream and nothing else.
 *
 * nghttp2 callbacks only record what happened; WebSocket endpoints and
 * tunnels are driven from h2conn_work(), outside nghttp2, on the same loop
 * pass. Objects are freed from their own free events, never in callbacks.
 */
#include "wsb_autoconf.h"

#include <sys/socket.h>

#include <assert.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>

#include <nghttp2/nghttp2.h>
#include <openssl/ssl.h>

#include "config.h"
#include "conn_facts.h"
#include "h2conn.h"
#include "h2req.h"
#include "handshake.h"
#include "http1.h"
#include "log.h"
#include "metrics.h"
#include "sock.h"
#include "sockread.h"
#include "stats.h"
#include "tls.h"
#include "tlsout.h"
#include "token.h"
#include "tunnel.h"
#include "util.h"
#include "webfile.h"
#include "webreq.h"
#include "worker.h"
#include "ws_conn.h"
#include "ws_deflate.h"

#define H2_STREAM_LINGER_MS	2000	/* after our END_STREAM, wait for theirs */
#define H2_CONN_LINGER_MS	2000	/* after GOAWAY is written, read and drop */
#define H2_WORK_PASSES		16	/* passes per event before yielding */
#define H2_FILE_PIECE		(64 * 1024) /* a file response read ahead */

enum h2_state {
	H2_OPEN = 0,		/* serving streams (idle timer while none) */
	H2_DRAINING,		/* SIGTERM or idle: GOAWAY once every stream ended */
	H2_FLUSHING,		/* session over: writing what is queued */
	H2_LINGER,		/* write side shut; dropping input until EOF/deadline */
	H2_CLOSED,		/* socket done; freed once no tunnel holds a stream */
};

enum h2s_state {
	H2S_HEADERS = 0,	/* request headers arriving */
	H2S_CONNECTING,		/* WebSocket accepted; backend connect in flight */
	H2S_OPEN,		/* 200 queued; the tunnel owns the stream transport */
	H2S_RESPONDED,		/* another final response queued (error or page) */
};

/* What a stream is waiting on to send (flow-control records). */
enum h2_fc_wait {
	H2_FC_NONE = 0,
	H2_FC_STREAM,		/* the client's window for this stream is 0 */
	H2_FC_CONN,		/* the client's connection window is 0 */
};

/*
 * What a message on an open stream touches comes first (with a thousand
 * connections every cache line is a miss per message): the first two
 * lines of an aligned allocation. The request head is only needed until
 * the stream opens and goes then (2 KiB a stream).
 */
struct h2stream {
	struct h2conn		*c;
	struct tunnel		*tunnel;	/* connecting or attached */
	struct evbuffer		*in;		/* DATA payload for the endpoint */
	struct evbuffer		*out;		/* frames (or a body) for DATA */
	int32_t			 id;
	enum h2s_state		 state;
	uint8_t			 attached;	/* tunnel_attach() done */
	uint8_t			 out_eof;	/* END_STREAM once out is sent */
	uint8_t			 deferred;	/* data provider waits for output */
	uint8_t			 out_full;	/* the endpoint may wait for room */
	/* Events recorded in callbacks, delivered by h2s_service(). */
	uint8_t			 in_dirty;	/* new input */
	uint8_t			 fed;		/* fed in this read: feed_end due */
	uint8_t			 writable;	/* output fell below the low mark */
	uint8_t			 remote_eof;	/* client sent END_STREAM */
	uint8_t			 local_done;	/* our END_STREAM or RST_STREAM went */
	uint8_t			 closed;	/* nghttp2 closed it (or the socket died) */
	uint8_t			 eof_told;	/* ws_conn_transport_eof() called */
	uint8_t			 closed_told;	/* ws_conn_transport_closed() called */
	uint8_t			 fc_stalled;	/* receive window full */
	enum h2_fc_wait		 fc_wait;
	uint32_t		 close_error;	/* its RST_STREAM code */
	struct h2_stream_fc	 fc;

	uint64_t		 fc_since;
	uint64_t		 fc_stall_since;
	uint64_t		 t_start;
	TAILQ_ENTRY(h2stream)	 entry;
	char			 logid[40];
	struct event		*ev_linger;	/* our END_STREAM sent; theirs due */

	/* Request head: every string is ours (freed with the head). */
	struct h2req		*head;		/* NULL once open */
	struct ws_offer		 offer;
	const char		*subprotocol;	/* borrowed from the route */
	char			 extensions[WS_DEFLATE_RESPONSE_MAX]; /* agreed, or "" */
	struct webfile_reply	*file;		/* a static file's body, owned */
};

/* The same for the connection: what a message touches, first. */
struct h2conn {
	nghttp2_session		*sess;
	struct sockread		*rd;		/* reads the socket (or SSL) */
	struct tlsout		*tout;		/* TLS: writes through SSL */
	struct evbuffer		*wbuf;		/* frames of this work call */
	struct bufferevent	*bev;
	size_t			 high;		/* socket output high watermark */
	enum h2_state		 state;
	uint8_t			 in_work;
	uint8_t			 blocked;	/* nghttp2 stopped at c->high */
	uint8_t			 kicked;
	uint8_t			 cwin_empty;	/* client's connection window is 0 */
	uint8_t			 settings_fixed; /* our first frame was looked at */
	int32_t			 last_sender;	/* stream of the latest DATA */
	struct event		*ev_work;	/* runs h2conn_work() */
	struct h2_conn_fc	 fc;
	int			 fc_waiting;
	uint64_t		 fc_since;

	TAILQ_ENTRY(h2conn)	 entry;
	struct worker		*w;
	struct config		*cfg;
	uint64_t		 id;
	char			 logid[24];
	char			 peer[64];	/* conn.peer as text */
	struct conn_facts	 conn;		/* the addresses, for each stream */
	int			 tls;
	TAILQ_HEAD(, h2stream)	 streams;
	unsigned		 nstreams;
	int			 settings_acked; /* client acknowledged ours */
	uint64_t		 resets_from;	/* early_resets counts since */
	unsigned		 early_resets;	/* streams reset before they
						   opened, since resets_from */
	int			 goaway_sent;
	struct event		*ev_free;
	struct event		*timer;		/* idle or linger deadline */
};
_Static_assert(offsetof(struct h2stream, fc) + sizeof(struct h2_stream_fc) <=
    2 * CACHE_LINE, "h2stream: the per-message fields leave two cache lines");
_Static_assert(offsetof(struct h2conn, fc_since) < 2 * CACHE_LINE,
    "h2conn: the per-message fields leave two cache lines");

static void	h2conn_kick(struct h2conn *);
static int	h2s_takes(struct h2stream *);
static void	h2conn_event(struct bufferevent *, short, void *);
static void	h2conn_work(struct h2conn *);
static void	h2conn_finish(struct h2conn *, const char *);
static void	h2s_respond(struct h2stream *, int, const char *);

/* ---- small helpers ----------------------------------------------------- */

static void
h2_arm(struct event *ev, unsigned ms)
{
	struct timeval	tv;

	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	evtimer_add(ev, &tv);
}

static struct h2stream *
h2conn_stream(struct h2conn *c, int32_t id)
{
	return (nghttp2_session_get_stream_user_data(c->sess, id));
}

/* A session that can still take frames (not flushing, closing or dead). */
static int
h2conn_live(const struct h2conn *c)
{
	return (c->state <= H2_DRAINING);
}

/* ---- flow-control records ---------------------------------------------- */

static void
h2s_fc_set(struct h2stream *s, enum h2_fc_wait w, uint64_t now)
{
	uint64_t	d;

	if (w == s->fc_wait)
		return;
	d = now - s->fc_since;
	if (s->fc_wait == H2_FC_STREAM)
		s->fc.out_stream_wait_ns += d;
	else if (s->fc_wait == H2_FC_CONN)
		s->fc.out_conn_wait_ns += d;
	if (w == H2_FC_STREAM)
		s->fc.out_stream_waits++;
	else if (w == H2_FC_CONN) {
		s->fc.out_conn_waits++;
		s->fc.out_conn_blocker = s->c->fc.last_window_user;
	}
	s->fc_wait = w;
	s->fc_since = now;
}

static void
h2s_fc_stall(struct h2stream *s, int stalled, uint64_t now)
{
	if (stalled == s->fc_stalled)
		return;
	if (stalled)
		s->fc.in_stalls++;
	else
		s->fc.in_stall_ns += now - s->fc_stall_since;
	s->fc_stalled = stalled;
	s->fc_stall_since = now;
}

/*
 * After each pass: which streams have data queued but no window, and
 * which have a full receive window. O(streams), bounded by h2-max-streams.
 */
static void
h2conn_fc_update(struct h2conn *c)
{
	struct h2stream	*s;
	uint64_t	 now = obs_now();
	int32_t		 cwin, swin;
	enum h2_fc_wait	 w;
	int		 any = 0, stalled;

	if (!h2conn_live(c))
		return;
	cwin = nghttp2_session_get_remote_window_size(c->sess);
	if (cwin <= 0 && !c->cwin_empty)
		c->fc.last_window_user = c->last_sender;
	c->cwin_empty = cwin <= 0;
	TAILQ_FOREACH(s, &c->streams, entry) {
		w = H2_FC_NONE;
		stalled = 0;
		if (!s->closed && !s->local_done && s->state >= H2S_OPEN) {
			if (evbuffer_get_length(s->out) > 0) {
				swin = nghttp2_session_get_stream_remote_window_size(
				    c->sess, s->id);
				if (swin <= 0 && swin != NGHTTP2_ERR_INVALID_ARGUMENT)
					w = H2_FC_STREAM;
				else if (cwin <= 0)
					w = H2_FC_CONN;
			}
		}
		/* Our receive window used up: its bytes wait for the backend. */
		if (!s->closed && s->tunnel != NULL &&
		    nghttp2_session_get_stream_local_window_size(c->sess,
		    s->id) == 0)
			stalled = 1;
		h2s_fc_set(s, w, now);
		h2s_fc_stall(s, stalled, now);
		if (w == H2_FC_CONN)
			any = 1;
	}
	if (any && !c->fc_waiting) {
		c->fc.conn_waits++;
		c->fc_since = now;
	} else if (!any && c->fc_waiting)
		c->fc.conn_wait_ns += now - c->fc_since;
	c->fc_waiting = any;
}

void
h2stream_fc(const struct h2stream *s, uint64_t now, struct h2_stream_fc *out)
{
	*out = s->fc;
	if (s->fc_wait == H2_FC_STREAM)
		out->out_stream_wait_ns += now - s->fc_since;
	else if (s->fc_wait == H2_FC_CONN)
		out->out_conn_wait_ns += now - s->fc_since;
	if (s->fc_stalled)
		out->in_stall_ns += now - s->fc_stall_since;
}

/* ---- streams ------------------------------------------------------------ */

/* Stream-level window given back as the endpoint takes input bytes. */
static void
h2s_in_cb(struct evbuffer *buf, const struct evbuffer_cb_info *info,
    void *arg)
{
	struct h2stream	*s = arg;

	if (info->n_deleted == 0 || s->closed || !h2conn_live(s->c))
		return;
	(void)nghttp2_session_consume_stream(s->c->sess, s->id,
	    info->n_deleted);
	h2conn_kick(s->c);
}

static void
h2s_linger_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct h2stream	*s = arg;

	/* Firefox never ends its side while the page lives: we do. */
	if (s->closed || !h2conn_live(s->c))
		return;
	log_info("%s: peer=%s kept its side open %u ms after our END_STREAM: "
	    "RST_STREAM(NO_ERROR)", s->logid, s->c->peer, H2_STREAM_LINGER_MS);
	(void)nghttp2_submit_rst_stream(s->c->sess, NGHTTP2_FLAG_NONE, s->id,
	    NGHTTP2_NO_ERROR);
	h2conn_kick(s->c);
}

static struct h2stream *
h2s_new(struct h2conn *c, int32_t id)
{
	struct h2stream	*s;

	s = xcalloc_aligned(sizeof *s);
	s->c = c;
	s->id = id;
	snprintf(s->logid, sizeof s->logid, "%s/s%d", c->logid, id);
	s->in = evbuffer_new();
	s->out = evbuffer_new();
	if (s->in == NULL || s->out == NULL)
		fatalx("out of memory");
	evbuffer_add_cb(s->in, h2s_in_cb, s);
	s->ev_linger = evtimer_new(c->w->base, h2s_linger_timeout, s);
	s->t_start = now_ns();
	s->head = xcalloc(1, sizeof *s->head);
	h2req_init(s->head, c->cfg->max_head);
	TAILQ_INSERT_TAIL(&c->streams, s, entry);
	c->nstreams++;
	c->fc.streams_total++;
	metrics_h2_stream(c->w->metrics, 1);
	evtimer_del(c->timer);		/* not idle any more */
	return (s);
}

static void
h2s_log_done(struct h2stream *s)
{
	struct h2_stream_fc	fc;
	uint64_t		waits[METRICS_NH2_WAITS];

	h2stream_fc(s, now_ns(), &fc);
	waits[METRICS_H2_SEND_STREAM] = fc.out_stream_wait_ns;
	waits[METRICS_H2_SEND_CONN] = fc.out_conn_wait_ns;
	waits[METRICS_H2_RECV_FULL] = fc.in_stall_ns;
	metrics_h2_waits(s->c->w->metrics, waits);
	log_info("%s: stream done in=%llu out=%llu bytes dur=%.3fs "
	    "send-wait stream=%.3fs conn=%.3fs (window last used by s%d) "
	    "recv-stall=%.3fs%s%s", s->logid,
	    (unsigned long long)fc.data_in, (unsigned long long)fc.data_out,
	    (double)(now_ns() - s->t_start) / 1e9,
	    (double)fc.out_stream_wait_ns / 1e9,
	    (double)fc.out_conn_wait_ns / 1e9, fc.out_conn_blocker,
	    (double)fc.in_stall_ns / 1e9,
	    s->close_error != NGHTTP2_NO_ERROR ? " reset=" : "",
	    s->close_error != NGHTTP2_NO_ERROR ?
	    nghttp2_http2_strerror(s->close_error) : "");
}

static void
h2s_head_free(struct h2stream *s)
{
	if (s->head == NULL)
		return;
	h2req_clear(s->head);
	free(s->head);
	s->head = NULL;
}

static void
h2s_free(struct h2stream *s)
{
	struct h2conn	*c = s->c;

	if (s->state == H2S_OPEN)
		h2s_log_done(s);
	h2s_fc_set(s, H2_FC_NONE, now_ns());
	TAILQ_REMOVE(&c->streams, s, entry);
	c->nstreams--;
	metrics_h2_stream(c->w->metrics, -1);
	if (h2conn_live(c) && c->sess != NULL)
		nghttp2_session_set_stream_user_data(c->sess, s->id, NULL);
	evbuffer_free(s->in);
	evbuffer_free(s->out);
	event_free(s->ev_linger);
	ws_offer_clear(&s->offer);
	h2s_head_free(s);
	if (s->file != NULL) {
		webfile_reply_clear(s->file);
		free(s->file);
	}
	free(s);

	if (c->nstreams == 0) {
		if (c->state == H2_OPEN)
			h2_arm(c->timer, c->cfg->h2_idle_timeout_ms);
		else if (c->state == H2_CLOSED)
			event_active(c->ev_free, EV_TIMEOUT, 1);
		else
			h2conn_kick(c);		/* draining may end now */
	}
}

/*
 * Delivers what callbacks recorded to the stream's endpoint, and frees the
 * stream once nghttp2 and the tunnel are both done with it.
 */
static void
h2s_service(struct h2stream *s)
{
	struct ws_conn	*ws = NULL;

	if (s->tunnel != NULL && !s->attached && s->closed) {
		/* The client left while the backend was connecting. */
		tunnel_abort(s->tunnel);
		s->tunnel = NULL;
	}
	if (s->tunnel != NULL && s->attached)
		ws = tunnel_ws(s->tunnel);
	if (ws != NULL && !s->closed_told) {
		if (s->in_dirty) {
			s->in_dirty = 0;
			ws_conn_input(ws);
		}
		if (s->writable) {
			s->writable = 0;
			ws_conn_output_drained(ws);
		}
		/* END_STREAM counts once the bytes before it are taken. */
		if (!s->eof_told && (s->closed || (s->remote_eof &&
		    evbuffer_get_length(s->in) == 0))) {
			s->eof_told = 1;
			ws_conn_transport_eof(ws, s->closed &&
			    s->close_error != NGHTTP2_NO_ERROR);
		}
		if (s->closed || s->local_done) {
			s->closed_told = 1;
			ws_conn_transport_closed(ws);
		}
	}
	if (s->tunnel == NULL && s->closed)
		h2s_free(s);
}

/* ---- the stream transport ---------------------------------------------- */

static struct evbuffer *
h2t_input(void *t)
{
	return (((struct h2stream *)t)->in);
}

static struct evbuffer *
h2t_output(void *t)
{
	return (((struct h2stream *)t)->out);
}

static size_t
h2t_pending(void *t)
{
	return (evbuffer_get_length(((struct h2stream *)t)->out));
}

static void
h2s_resume(struct h2stream *s)
{
	if (s->deferred && !s->closed && !s->local_done &&
	    h2conn_live(s->c)) {
		s->deferred = 0;
		(void)nghttp2_session_resume_data(s->c->sess, s->id);
	}
	h2conn_kick(s->c);
}

static void
h2t_flush(void *t)
{
	struct h2stream	*s = t;

	if (evbuffer_get_length(s->out) >= s->c->cfg->buffer_size / 2)
		s->out_full = 1;
	h2s_resume(s);
}

static void
h2t_set_read(void *t, int on)
{
	/*
	 * Nothing to do: bytes left in the input buffer keep the stream's
	 * window closed, which is what stops the client on this stream.
	 */
}

static void
h2t_close(void *t, int abort)
{
	struct h2stream	*s = t;

	if (s->closed || s->local_done || !h2conn_live(s->c)) {
		s->local_done = 1;
		h2conn_kick(s->c);
		return;
	}
	if (abort) {
		(void)nghttp2_submit_rst_stream(s->c->sess, NGHTTP2_FLAG_NONE,
		    s->id, NGHTTP2_CANCEL);
		s->local_done = 1;
		h2conn_kick(s->c);
		return;
	}
	/* The close frame and whatever precedes it, then END_STREAM. */
	s->out_eof = 1;
	h2s_resume(s);
}

static void
h2t_free(void *t)
{
	struct h2stream	*s = t;

	s->tunnel = NULL;
	s->attached = 0;
	if (!s->closed && !s->local_done && h2conn_live(s->c)) {
		/* Our bug if it happens; the client still gets an end. */
		(void)nghttp2_submit_rst_stream(s->c->sess, NGHTTP2_FLAG_NONE,
		    s->id, NGHTTP2_CANCEL);
		s->local_done = 1;
	}
	if (s->closed)
		h2s_free(s);
	else
		h2conn_kick(s->c);
}

static int
h2t_fd(void *t)
{
	struct h2stream	*s = t;

	return (s->c->bev != NULL ? (int)bufferevent_getfd(s->c->bev) : -1);
}

static void
h2t_flow(void *t, uint64_t now, struct h2_stream_fc *out)
{
	h2stream_fc(t, now, out);
}

/*
 * Frames into the stream's output, by reference when they are most of a
 * large read (sockread_keep), for nghttp2 to frame as DATA (flush).
 */
static size_t
h2t_send(void *t, const struct iovec *iov, int cnt)
{
	sockread_keep_iov(((struct h2stream *)t)->out, iov, cnt, 0, 0);
	return (0);
}

static const struct ws_transport_ops h2_transport = {
	.input = h2t_input,
	.output = h2t_output,
	.pending = h2t_pending,
	.send = h2t_send,
	.flush = h2t_flush,
	.set_read = h2t_set_read,
	.close = h2t_close,
	.free = h2t_free,
	.fd = h2t_fd,
	.flow = h2t_flow,
};

/* ---- responses ---------------------------------------------------------- */

/* DATA source: the stream's output buffer, moved out by h2_send_data(). */
static ssize_t
h2s_read(nghttp2_session *sess, int32_t id, uint8_t *buf, size_t length,
    uint32_t *flags, nghttp2_data_source *src, void *arg)
{
	struct h2stream	*s = src->ptr;
	size_t		 avail = evbuffer_get_length(s->out);

	/* A file's body: the next piece once the last one went. */
	if (avail == 0 && s->file != NULL && s->file->fd != -1) {
		switch (webfile_fill(s->file, s->out, H2_FILE_PIECE)) {
		case -1:
			log_info("%s: /%s: %s", s->logid, s->file->path,
			    strerror(errno));
			return (NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE);
		case 0:
			s->out_eof = 1;
			break;
		}
		avail = evbuffer_get_length(s->out);
	}
	if (avail == 0) {
		if (s->out_eof) {
			*flags |= NGHTTP2_DATA_FLAG_EOF;
			return (0);
		}
		s->deferred = 1;
		return (NGHTTP2_ERR_DEFERRED);
	}
	*flags |= NGHTTP2_DATA_FLAG_NO_COPY;
	if (length >= avail) {
		length = avail;
		if (s->out_eof)
			*flags |= NGHTTP2_DATA_FLAG_EOF;
	}
	return ((ssize_t)length);
}

/*
 * Answers a final status other than 200 (h2resp_error() builds it) and
 * ends our side.
 */
static void
h2s_respond(struct h2stream *s, int status, const char *why)
{
	static const struct h2_request	 none;	/* the head went at open */
	const struct h2_request	*req = s->head != NULL ?
				    &s->head->req : &none;
	nghttp2_data_provider	 prd;
	struct h2resp		 resp;

	h2resp_error(&resp, req, status, why);
	metrics_handshake(s->c->w->metrics, 1, resp.status);
	log_info("%s: %d %s peer=%s method=%s path=%s: %s", s->logid,
	    resp.status, http1_reason(resp.status), s->c->peer,
	    req->method != NULL ? req->method : "-",
	    req->path != NULL ? req->path : "-", why);
	s->state = H2S_RESPONDED;
	if (!h2conn_live(s->c))
		return;
	if (!resp.has_body) {
		(void)nghttp2_submit_response(s->c->sess, s->id, resp.nv,
		    resp.nnv, NULL);
		return;
	}
	evbuffer_add(s->out, resp.body, resp.body_len);
	s->out_eof = 1;
	prd.source.ptr = s;
	prd.read_callback = h2s_read;
	(void)nghttp2_submit_response(s->c->sess, s->id, resp.nv, resp.nnv,
	    &prd);
}

/*
 * A request that is no extended CONNECT, with a web root: a static file
 * (webfile.c), its body read piece by piece as the windows let it go.
 */
static void
h2s_file(struct h2stream *s)
{
	const struct h2_request		*req = &s->head->req;
	const struct http1_header	*h;
	struct webfile_req		 rq;
	struct webfile_reply		*r;
	nghttp2_data_provider		 prd;
	struct h2resp			 resp;
	char				 now[WEBREQ_DATE_LEN + 1], target[512];

	memset(&rq, 0, sizeof rq);
	rq.method = req->method;
	rq.method_len = strlen(req->method);
	rq.target = req->path;
	rq.target_len = strlen(req->path);
	if ((h = http1_find(&req->fields, "if-none-match")) != NULL) {
		rq.inm = h->value;
		rq.inm_len = h->value_len;
	}
	if ((h = http1_find(&req->fields, "if-modified-since")) != NULL) {
		rq.ims = h->value;
		rq.ims_len = h->value_len;
	}
	r = xcalloc(1, sizeof *r);
	webfile_serve(s->c->cfg->web_root, s->c->cfg->web_listing, &rq, r);
	if (r->status >= 400) {
		h2s_respond(s, r->status, r->why);
		webfile_reply_clear(r);
		free(r);
		return;
	}
	if (log_enabled(LOGL_DEBUG))
		log_debug("%s: %d %s peer=%s %s %s", s->logid, r->status,
		    http1_reason(r->status), s->c->peer, req->method,
		    token_mask_target(req->path, strlen(req->path), target,
		    sizeof target));
	s->state = H2S_RESPONDED;
	h2resp_start(&resp, r->status);
	webreq_date(time(NULL), now);
	h2resp_add(&resp, "date", now);
	if (r->status == 301) {
		h2resp_add(&resp, "location", r->location);
		h2resp_add(&resp, "content-length", "0");
	} else if (r->body != NULL) {
		/* A listing, made now: no validators; its page is the body. */
		h2resp_add(&resp, "cache-control", "no-cache");
		if (!r->head) {
			evbuffer_add_buffer(s->out, r->body);
			s->out_eof = 1;
		}
	} else {
		h2resp_add(&resp, "etag", r->etag);
		h2resp_add(&resp, "last-modified", r->mtime);
		h2resp_add(&resp, "cache-control", "no-cache");
	}
	if (r->status == 200) {
		snprintf(resp.length_str, sizeof resp.length_str, "%llu",
		    (unsigned long long)r->size);
		h2resp_add(&resp, "content-type", r->mime);
		h2resp_add(&resp, "content-length", resp.length_str);
		h2resp_add(&resp, "x-content-type-options", "nosniff");
	}
	if (!h2conn_live(s->c) || (r->fd == -1 &&
	    evbuffer_get_length(s->out) == 0)) {
		if (h2conn_live(s->c))
			(void)nghttp2_submit_response(s->c->sess, s->id,
			    resp.nv, resp.nnv, NULL);
		webfile_reply_clear(r);
		free(r);
		return;
	}
	s->file = r;
	prd.source.ptr = s;
	prd.read_callback = h2s_read;
	(void)nghttp2_submit_response(s->c->sess, s->id, resp.nv, resp.nnv,
	    &prd);
}

static void
h2s_backend_ready(void *arg, int status)
{
	struct h2stream		*s = arg;
	nghttp2_data_provider	 prd;
	struct h2resp		 resp;

	if (s->state != H2S_CONNECTING)
		return;
	if (s->closed || !h2conn_live(s->c)) {
		tunnel_abort(s->tunnel);
		s->tunnel = NULL;
		h2conn_kick(s->c);
		return;
	}
	if (status != 0) {
		tunnel_abort(s->tunnel);
		s->tunnel = NULL;
		/* Whatever the client sent early is dropped (window back). */
		evbuffer_drain(s->in, evbuffer_get_length(s->in));
		h2s_respond(s, status, status == 504 ?
		    "backend connect timed out" : "backend unreachable");
		h2conn_kick(s->c);
		return;
	}
	h2resp_accept(&resp, s->subprotocol);
	if (s->extensions[0] != '\0')
		h2resp_add(&resp, "sec-websocket-extensions", s->extensions);
	prd.source.ptr = s;
	prd.read_callback = h2s_read;
	if (nghttp2_submit_response(s->c->sess, s->id, resp.nv, resp.nnv,
	    &prd) != 0) {
		tunnel_abort(s->tunnel);
		s->tunnel = NULL;
		h2conn_kick(s->c);
		return;
	}
	s->state = H2S_OPEN;
	s->attached = 1;
	h2s_head_free(s);	/* answered: the request's copies can go */
	tunnel_attach(s->tunnel, &h2_transport, s);
	h2conn_kick(s->c);
}

/* The request head is complete (END_HEADERS): decide what it gets. */
static void
h2s_request(struct h2stream *s, int end_stream)
{
	struct h2conn		*c = s->c;
	struct conn_facts	 f;
	struct ws_deflate_params deflate;
	const struct route	*rt;
	const char		*why = NULL;
	char			 target[512];
	int			 status, agreed, flags = 0;

	if (c->settings_acked)
		flags |= H2REQ_SETTINGS_ACKED;
	if (end_stream)
		flags |= H2REQ_END_STREAM;
	if (c->w->stopping)
		flags |= H2REQ_STOPPING;
	/* With a web root, what is no extended CONNECT asks for a file. */
	if (c->cfg->web_root != NULL && s->head->error == H2REQ_OK &&
	    s->head->req.method != NULL && s->head->req.path != NULL &&
	    strcmp(s->head->req.method, "CONNECT") != 0) {
		h2s_file(s);
		return;
	}
	status = h2req_decide(s->head, config_route_policy, c->cfg, flags,
	    &s->offer, &rt, &s->subprotocol, &why);
	if (status == H2REQ_RESET) {
		log_info("%s: peer=%s %s: RST_STREAM(PROTOCOL_ERROR)", s->logid,
		    c->peer, why);
		(void)nghttp2_submit_rst_stream(c->sess, NGHTTP2_FLAG_NONE,
		    s->id, NGHTTP2_PROTOCOL_ERROR);
		s->state = H2S_RESPONDED;
		return;
	}
	if (status != 0) {
		h2s_respond(s, status, why);
		return;
	}
	s->state = H2S_CONNECTING;
	f = c->conn;
	conn_facts_request(&f, &s->offer);
	conn_facts_forwarded(&f, &s->offer, c->cfg->trusted_proxies,
	    c->cfg->ntrusted_proxies);
	f.subprotocol = s->subprotocol;
	f.proto = "h2";
	f.h2_stream_id = s->id;
	tls_client_facts(c->bev, &f);
	/* permessage-deflate is negotiated as over HTTP/1.1 (RFC 8441 5). */
	agreed = ws_deflate_negotiate(s->offer.extensions, &rt->deflate,
	    &deflate, s->extensions, sizeof s->extensions);
	if (agreed)
		f.extensions = s->extensions;
	s->tunnel = tunnel_new(c->w, c->cfg, rt, &f, worker_next_id(c->w),
	    h2s_backend_ready, s);
	if (agreed)
		tunnel_set_deflate(s->tunnel, &deflate);
	if (log_enabled(LOGL_DEBUG))
		log_debug("%s: CONNECT %s is c%llu", s->logid,
		    token_mask_target(s->offer.path, strlen(s->offer.path),
		    target, sizeof target),
		    (unsigned long long)tunnel_id(s->tunnel));
}

/* ---- nghttp2 callbacks -------------------------------------------------- */

/* What the client sent and nghttp2 has not had yet. */
static struct evbuffer *
h2conn_input(struct h2conn *c)
{
	return (sockread_input(c->rd));
}

/* Bytes handed to the socket's writer and not yet written. */
static size_t
h2conn_unwritten(const struct h2conn *c)
{
	if (c->tout != NULL)
		return (tlsout_pending(c->tout));
	return (evbuffer_get_length(bufferevent_get_output(c->bev)));
}

/* Bytes for the socket: written or waiting in its output, or in wbuf. */
static size_t
h2conn_queued(const struct h2conn *c)
{
	return (h2conn_unwritten(c) + evbuffer_get_length(c->wbuf));
}

/*
 * A client that does not read stops nghttp2 here, not in memory. Frames
 * gather in wbuf until h2conn_work() is done.
 */
static int
h2conn_full(struct h2conn *c)
{
	if (h2conn_queued(c) < c->high)
		return (0);
	c->blocked = 1;
	return (1);
}

static ssize_t
h2_send(nghttp2_session *sess, const uint8_t *data, size_t len, int flags,
    void *arg)
{
	struct h2conn	*c = arg;

	uint8_t		 first[128];

	if (h2conn_full(c))
		return (NGHTTP2_ERR_WOULDBLOCK);
	if (!c->settings_fixed) {
		/*
		 * Our first frame, the SETTINGS: the stream limit's real id
		 * (h2req.h). Looked at once, whatever it holds, so no later
		 * frame pays for the look.
		 */
		c->settings_fixed = 1;
		if (len <= sizeof first) {
			memcpy(first, data, len);
			if (h2req_settings_fix(first, len))
				data = first;
		}
	}
	if (evbuffer_add(c->wbuf, data, len) == -1)
		return (NGHTTP2_ERR_CALLBACK_FAILURE);
	return ((ssize_t)len);
}

/* DATA without copying: the frame header, then chains moved from s->out. */
static int
h2_send_data(nghttp2_session *sess, nghttp2_frame *frame,
    const uint8_t *framehd, size_t length, nghttp2_data_source *src,
    void *arg)
{
	struct h2conn	*c = arg;
	struct h2stream	*s = src->ptr;

	if (h2conn_full(c))
		return (NGHTTP2_ERR_WOULDBLOCK);
	assert(frame->data.padlen == 0);	/* we never pad */
	evbuffer_add(c->wbuf, framehd, 9);
	if (length > 0)
		evbuffer_remove_buffer(s->out, c->wbuf, length);
	s->fc.data_out += length;
	c->fc.data_out += length;
	if (length > 0)
		c->last_sender = s->id;
	if (s->out_full &&
	    evbuffer_get_length(s->out) < c->cfg->buffer_size / 2) {
		s->out_full = 0;
		s->writable = 1;
		c->kicked = 1;
	}
	return (0);
}

/* Streams open or half-closed, as RFC 9113 counts them against the limit. */
static unsigned
h2conn_open_streams(const struct h2conn *c)
{
	const struct h2stream	*s;
	unsigned		 n = 0;

	TAILQ_FOREACH(s, &c->streams, entry)
		if (!s->closed)
			n++;
	return (n);
}

static int
h2_on_begin_headers(nghttp2_session *sess, const nghttp2_frame *frame,
    void *arg)
{
	struct h2conn	*c = arg;
	struct h2stream	*s;

	if (frame->hd.type != NGHTTP2_HEADERS ||
	    frame->headers.cat != NGHTTP2_HCAT_REQUEST)
		return (0);
	/*
	 * SETTINGS_MAX_CONCURRENT_STREAMS, a stream error (RFC 9113 5.1.2:
	 * the other streams go on; h2req.h says why nghttp2 does not do it).
	 * Tunnels still draining after their stream closed count against
	 * twice the limit, so a client opening and resetting streams cannot
	 * pile up backends.
	 */
	if (h2conn_open_streams(c) >= c->cfg->h2_max_streams ||
	    c->nstreams >= 2 * c->cfg->h2_max_streams || !h2conn_live(c)) {
		c->fc.streams_refused++;
		(void)nghttp2_submit_rst_stream(sess, NGHTTP2_FLAG_NONE,
		    frame->hd.stream_id, NGHTTP2_REFUSED_STREAM);
		return (0);
	}
	s = h2s_new(c, frame->hd.stream_id);
	nghttp2_session_set_stream_user_data(sess, s->id, s);
	return (0);
}

static int
h2_on_header(nghttp2_session *sess, const nghttp2_frame *frame,
    const uint8_t *name, size_t namelen, const uint8_t *value,
    size_t valuelen, uint8_t flags, void *arg)
{
	struct h2conn		*c = arg;
	struct h2stream		*s;

	if (frame->hd.type != NGHTTP2_HEADERS ||
	    frame->headers.cat != NGHTTP2_HCAT_REQUEST)
		return (0);		/* trailers: ignored */
	if ((s = h2conn_stream(c, frame->hd.stream_id)) == NULL)
		return (0);
	/* Problems are judged once the head is complete (h2s_request). */
	if (s->head != NULL)
		(void)h2req_header(s->head, name, namelen, value, valuelen);
	return (0);
}

/*
 * The client reset a stream before its WebSocket opened: the backend
 * connect its CONNECT started was for nothing. Done in a loop (HTTP/2
 * rapid reset, CVE-2023-44487) that makes wsbridge connect to backends as
 * fast as the client sends frames, and nghttp2's own flood checks come
 * late (1,099 backend connects in one probe). So: past h2-max-streams
 * such resets within H2_RESET_WINDOW_NS, GOAWAY(ENHANCE_YOUR_CALM). A
 * connection then costs at most 2 x h2-max-streams + 1 backend connects
 * in any such window (the resets allowed, and as many streams open at
 * once), whatever it sends.
 */
#define H2_RESET_WINDOW_NS	(10 * 1000000000ULL)

static void
h2conn_early_reset(struct h2conn *c)
{
	uint64_t	now = obs_now();

	if (now - c->resets_from > H2_RESET_WINDOW_NS) {
		c->resets_from = now;
		c->early_resets = 0;
	}
	if (++c->early_resets <= c->cfg->h2_max_streams)
		return;
	if (c->early_resets == c->cfg->h2_max_streams + 1) {
		log_info("%s: peer=%s reset %u streams before they opened "
		    "within 10 s: GOAWAY(ENHANCE_YOUR_CALM)", c->logid, c->peer,
		    c->early_resets);
		(void)nghttp2_session_terminate_session(c->sess,
		    NGHTTP2_ENHANCE_YOUR_CALM);
	}
}

static int
h2_on_frame_recv(nghttp2_session *sess, const nghttp2_frame *frame,
    void *arg)
{
	struct h2conn	*c = arg;
	struct h2stream	*s;
	int		 end = (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) != 0;

	switch (frame->hd.type) {
	case NGHTTP2_SETTINGS:
		if (frame->hd.flags & NGHTTP2_FLAG_ACK)
			c->settings_acked = 1;
		return (0);
	case NGHTTP2_RST_STREAM:
		/* Before nghttp2 closes the stream: it is still ours. */
		if ((s = h2conn_stream(c, frame->hd.stream_id)) != NULL &&
		    s->state <= H2S_CONNECTING)
			h2conn_early_reset(c);
		return (0);
	case NGHTTP2_HEADERS:
	case NGHTTP2_DATA:
		break;
	default:
		return (0);
	}
	if ((s = h2conn_stream(c, frame->hd.stream_id)) == NULL)
		return (0);
	if (frame->hd.type == NGHTTP2_HEADERS &&
	    frame->headers.cat == NGHTTP2_HCAT_REQUEST &&
	    s->state == H2S_HEADERS)
		h2s_request(s, end);
	if (end) {
		s->remote_eof = 1;
		c->kicked = 1;
	}
	return (0);
}

/*
 * DATA payload: while nghttp2 parses a piece of the client's bytes (a
 * read where sockread made it, or a piece of the input), a stream's
 * payload is noted here, not copied, and once nghttp2_session_mem_recv()
 * returns (never from inside nghttp2) h2conn_deliver() feeds it to the
 * endpoint where it lies, as an HTTP/1.1 tunnel's reads are. Per thread:
 * one piece at a time. When the list is full nghttp2 pauses, the list is
 * delivered and parsing goes on.
 */
#define H2_READ_CHUNKS	64

struct h2_chunk {
	int32_t		 id;
	uint8_t		*p;
	size_t		 len;
};

static __thread struct {
	struct h2conn		*c;	/* whose bytes nghttp2 parses */
	uintptr_t		 lo, hi;	/* the piece's bytes */
	int			 cnt;
	struct h2_chunk		 ck[H2_READ_CHUNKS];
} h2_read;

static int
h2_on_data_chunk(nghttp2_session *sess, uint8_t flags, int32_t id,
    const uint8_t *data, size_t len, void *arg)
{
	struct h2conn	*c = arg;
	struct h2stream	*s;

	/*
	 * The connection window comes back at once: each stream's window
	 * bounds what it can hold, so one stalled stream never blocks the
	 * rest of the connection.
	 */
	(void)nghttp2_session_consume_connection(sess, len);
	c->fc.data_in += len;
	s = h2conn_stream(c, id);
	if (s == NULL || s->tunnel == NULL || s->closed_told) {
		/* Nobody will read it: the stream window comes back too. */
		(void)nghttp2_session_consume_stream(sess, id, len);
		return (0);
	}
	s->fc.data_in += len;
	/*
	 * Noted, to be fed where it lies, unless earlier bytes of the stream
	 * wait in its input (then it queues behind them: in order).
	 */
	if (h2_read.c == c && (uintptr_t)data >= h2_read.lo &&
	    (uintptr_t)data + len <= h2_read.hi &&
	    evbuffer_get_length(s->in) == 0 && h2s_takes(s)) {
		h2_read.ck[h2_read.cnt].id = id;
		h2_read.ck[h2_read.cnt].p = (uint8_t *)(uintptr_t)data;
		h2_read.ck[h2_read.cnt].len = len;
		if (++h2_read.cnt == H2_READ_CHUNKS)
			return (NGHTTP2_ERR_PAUSE);	/* delivered, then on */
		return (0);
	}
	evbuffer_add(s->in, data, len);
	s->in_dirty = 1;
	c->kicked = 1;
	return (0);
}

static int
h2_on_frame_send(nghttp2_session *sess, const nghttp2_frame *frame,
    void *arg)
{
	struct h2conn	*c = arg;
	struct h2stream	*s;

	if (frame->hd.type == NGHTTP2_GOAWAY) {
		log_info("%s: GOAWAY sent (last stream %d, %s)", c->logid,
		    frame->goaway.last_stream_id,
		    nghttp2_http2_strerror(frame->goaway.error_code));
		return (0);
	}
	if (frame->hd.stream_id == 0 ||
	    (s = h2conn_stream(c, frame->hd.stream_id)) == NULL)
		return (0);
	if (frame->hd.type == NGHTTP2_RST_STREAM ||
	    ((frame->hd.type == NGHTTP2_DATA ||
	    frame->hd.type == NGHTTP2_HEADERS) &&
	    (frame->hd.flags & NGHTTP2_FLAG_END_STREAM))) {
		s->local_done = 1;
		c->kicked = 1;
		if (s->closed || s->remote_eof ||
		    frame->hd.type == NGHTTP2_RST_STREAM)
			return (0);
		if (s->state == H2S_RESPONDED)
			/*
			 * RFC 9113 8.1: the answer is complete; ask the client
			 * to stop sending its request, without error.
			 */
			(void)nghttp2_submit_rst_stream(sess, NGHTTP2_FLAG_NONE,
			    s->id, NGHTTP2_NO_ERROR);
		else
			h2_arm(s->ev_linger, H2_STREAM_LINGER_MS);
	}
	return (0);
}

static int
h2_on_stream_close(nghttp2_session *sess, int32_t id, uint32_t error_code,
    void *arg)
{
	struct h2conn	*c = arg;
	struct h2stream	*s;

	if ((s = h2conn_stream(c, id)) == NULL)
		return (0);
	s->closed = 1;
	s->close_error = error_code;
	evtimer_del(s->ev_linger);
	nghttp2_session_set_stream_user_data(sess, id, NULL);
	c->kicked = 1;
	return (0);
}

static int
h2_on_invalid_frame(nghttp2_session *sess, const nghttp2_frame *frame,
    int lib_error, void *arg)
{
	struct h2conn	*c = arg;

	log_info("%s: stream %d: invalid %s frame from peer=%s: %s",
	    c->logid, frame->hd.stream_id,
	    frame->hd.type == NGHTTP2_HEADERS ? "HEADERS" :
	    frame->hd.type == NGHTTP2_DATA ? "DATA" : "control", c->peer,
	    nghttp2_strerror(lib_error));
	return (0);
}

static int
h2_on_error(nghttp2_session *sess, int lib_error, const char *msg,
    size_t len, void *arg)
{
	struct h2conn	*c = arg;

	log_debug("%s: nghttp2: %.*s", c->logid, (int)len, msg);
	return (0);
}

/* ---- the connection ----------------------------------------------------- */

static void
h2conn_kick(struct h2conn *c)
{
	c->kicked = 1;
	if (!c->in_work)
		event_active(c->ev_work, EV_TIMEOUT, 1);
}

/*
 * Hands the frames of this work call to the socket: written at once when
 * nothing waits before them (no write event to arm and disarm around every
 * WINDOW_UPDATE or reply), else queued on the bufferevent, chains moved.
 */
static void
h2conn_flush(struct h2conn *c)
{
	size_t	n = evbuffer_get_length(c->wbuf);

	if (n == 0 || !h2conn_live(c))
		return;
	if (c->tout != NULL) {
		/* Sealed into full records and written at once if it can. */
		tlsout_send(c->tout, NULL, 0, c->wbuf, n);
		if (tlsout_pending(c->tout) == 0 && c->blocked)
			c->kicked = 1;	/* nothing will say it drained */
	} else if (sock_write_now(c->bev, c->wbuf, n) == n) {
		if (c->blocked)		/* nothing will say it drained */
			c->kicked = 1;
	} else
		evbuffer_add_buffer(bufferevent_get_output(c->bev), c->wbuf);
	c->blocked = 0;
}

/* nghttp2 refused the client's bytes: GOAWAY with the code it names. */
static void
h2conn_recv_failed(struct h2conn *c, ssize_t rv)
{
	log_info("%s: peer=%s: %s", c->logid, c->peer,
	    nghttp2_strerror((int)rv));
	(void)nghttp2_session_terminate_session(c->sess,
	    rv == NGHTTP2_ERR_FLOODED ? NGHTTP2_ENHANCE_YOUR_CALM :
	    NGHTTP2_PROTOCOL_ERROR);
}

/* Whether a stream's endpoint takes DATA now (h2_on_data_chunk). */
static int
h2s_takes(struct h2stream *s)
{
	return (s->tunnel != NULL && s->attached && !s->closed_told);
}

/*
 * Feeds the noted chunks to their endpoints where they lie; what one does
 * not take (no room, a busy observer) goes to its stream's input, copied,
 * for ws_conn_input(). The stream's window comes back for what was taken
 * (the input's callback does it for the rest). Then each endpoint fed
 * is told its pieces go (ws_conn_feed_end: one writev per backend).
 */
static void
h2conn_deliver(struct h2conn *c)
{
	struct h2_chunk	*k;
	struct h2stream	*s;
	size_t		 used;
	int		 i;

	for (i = 0; i < h2_read.cnt; i++) {
		k = &h2_read.ck[i];
		s = h2conn_stream(c, k->id);
		if (s == NULL || !h2conn_live(c) || !h2s_takes(s)) {
			(void)nghttp2_session_consume_stream(c->sess, k->id,
			    k->len);
			k->id = 0;
			continue;
		}
		used = 0;
		if (evbuffer_get_length(s->in) == 0)
			used = ws_conn_feed(tunnel_ws(s->tunnel), k->p, k->len);
		if (used > 0)
			(void)nghttp2_session_consume_stream(c->sess, k->id,
			    used);
		if (used < k->len) {
			evbuffer_add(s->in, k->p + used, k->len - used);
			s->in_dirty = 1;
			c->kicked = 1;
		}
		s->fed = 1;
	}
	for (i = 0; i < h2_read.cnt; i++) {
		k = &h2_read.ck[i];
		if (k->id == 0 || (s = h2conn_stream(c, k->id)) == NULL ||
		    !s->fed)
			continue;
		s->fed = 0;
		if (h2s_takes(s))
			ws_conn_feed_end(tunnel_ws(s->tunnel));
	}
	h2_read.cnt = 0;
}

/*
 * nghttp2 parses the n bytes at p (a read, or a piece of the input), DATA
 * going to the endpoints where it lies. Returns 0, or -1 when nghttp2
 * refused them (the connection is failing: GOAWAY).
 */
static int
h2conn_parse(struct h2conn *c, uint8_t *p, size_t n)
{
	size_t	off = 0;
	ssize_t	rv;

	while (off < n && h2conn_live(c)) {
		h2_read.c = c;
		h2_read.lo = (uintptr_t)(p + off);
		h2_read.hi = (uintptr_t)(p + n);
		h2_read.cnt = 0;
		rv = nghttp2_session_mem_recv(c->sess, p + off, n - off);
		h2_read.c = NULL;
		if (rv < 0) {
			h2_read.cnt = 0;
			h2conn_recv_failed(c, rv);
			return (-1);
		}
		h2conn_deliver(c);
		off += (size_t)rv;
	}
	return (0);
}

/* Feeds what waits in the connection's input to nghttp2, piece by piece. */
static void
h2conn_recv(struct h2conn *c)
{
	struct evbuffer		*in = h2conn_input(c);
	struct evbuffer_iovec	 v;

	while (h2conn_live(c) && evbuffer_peek(in, -1, NULL, &v, 1) > 0 &&
	    v.iov_len > 0) {
		if (h2conn_parse(c, v.iov_base, v.iov_len) == -1)
			break;
		evbuffer_drain(in, v.iov_len);
	}
	if (!h2conn_live(c) || evbuffer_get_length(in) > 0)
		evbuffer_drain(in, evbuffer_get_length(in));
	sockread_poke(c->rd);	/* reading resumes if it was full */
}

/* Marks every stream closed; their tunnels finish on the next passes. */
static void
h2conn_close_streams(struct h2conn *c)
{
	struct h2stream	*s;

	TAILQ_FOREACH(s, &c->streams, entry) {
		if (!s->closed) {
			s->closed = 1;
			s->close_error = NGHTTP2_CANCEL;
			evtimer_del(s->ev_linger);
		}
	}
	h2conn_kick(c);
}

static void
h2conn_set_closed(struct h2conn *c)
{
	if (c->state == H2_CLOSED)
		return;
	c->state = H2_CLOSED;
	evtimer_del(c->timer);
	if (c->rd != NULL)
		sockread_set(c->rd, 0);
	if (c->tout != NULL)
		tlsout_stop(c->tout);
	bufferevent_disable(c->bev, EV_READ | EV_WRITE);
	h2conn_close_streams(c);
	if (c->nstreams == 0)
		event_active(c->ev_free, EV_TIMEOUT, 1);
}

/* GOAWAY and all else is written: shut our side, drop input for a while. */
static void
h2conn_linger(struct h2conn *c)
{
	SSL	*ssl;

	c->state = H2_LINGER;
	/* All written: SSL writes close_notify, bev drops input. */
	if (c->rd != NULL)
		sockread_set(c->rd, 0);
	if (c->tout != NULL)
		tlsout_detach(c->tout);
	if ((ssl = bufferevent_openssl_get_ssl(c->bev)) != NULL)
		(void)SSL_shutdown(ssl);
	if (shutdown(bufferevent_getfd(c->bev), SHUT_WR) == -1) {
		h2conn_set_closed(c);
		return;
	}
	bufferevent_enable(c->bev, EV_READ);
	h2_arm(c->timer, H2_CONN_LINGER_MS);
}

/* The session is over: write what is queued, then close. */
static void
h2conn_finish(struct h2conn *c, const char *why)
{
	if (c->state >= H2_FLUSHING)
		return;
	log_debug("%s: closing: %s", c->logid, why);
	c->state = H2_FLUSHING;
	evtimer_del(c->timer);
	h2conn_close_streams(c);
	if (c->tout != NULL)
		tlsout_send(c->tout, NULL, 0, c->wbuf,
		    evbuffer_get_length(c->wbuf));
	else
		evbuffer_add_buffer(bufferevent_get_output(c->bev), c->wbuf);
	if (h2conn_unwritten(c) == 0)
		h2conn_linger(c);
	else {
		if (c->tout != NULL)
			tlsout_set_low(c->tout, 0);
		else
			bufferevent_setwatermark(c->bev, EV_WRITE, 0, 0);
		h2_arm(c->timer, c->cfg->close_timeout_ms);
	}
}

/* Every stream is closed (bounded: each ends within its linger). */
static int
h2conn_drained(struct h2conn *c)
{
	struct h2stream	*s;

	TAILQ_FOREACH(s, &c->streams, entry) {
		if (!s->closed)
			return (0);
	}
	return (1);
}

static void
h2conn_pass(struct h2conn *c)
{
	struct h2stream	*s, *next;
	int		 rv;

	if (h2conn_live(c))
		h2conn_recv(c);
	for (s = TAILQ_FIRST(&c->streams); s != NULL; s = next) {
		next = TAILQ_NEXT(s, entry);
		h2s_service(s);
	}
	if (!h2conn_live(c))
		return;
	if ((rv = nghttp2_session_send(c->sess)) != 0) {
		log_info("%s: peer=%s: %s", c->logid, c->peer,
		    nghttp2_strerror(rv));
		h2conn_finish(c, "send failed");
		return;
	}
	h2conn_fc_update(c);
	if (c->state == H2_DRAINING && !c->goaway_sent && h2conn_drained(c)) {
		/*
		 * GOAWAY only after the last stream ended: some clients
		 * (python-h2) drop every frame that follows a GOAWAY, the
		 * END_STREAM of a closing WebSocket included.
		 */
		c->goaway_sent = 1;
		(void)nghttp2_submit_goaway(c->sess, NGHTTP2_FLAG_NONE,
		    nghttp2_session_get_last_proc_stream_id(c->sess),
		    NGHTTP2_NO_ERROR, NULL, 0);
		if ((rv = nghttp2_session_send(c->sess)) != 0) {
			h2conn_finish(c, "send failed");
			return;
		}
	}
	if (!nghttp2_session_want_read(c->sess) &&
	    !nghttp2_session_want_write(c->sess))
		h2conn_finish(c, "session done");
}

static void
h2conn_work(struct h2conn *c)
{
	int	n = 0;

	if (c->in_work)
		return;
	c->in_work = 1;
	do {
		c->kicked = 0;
		h2conn_pass(c);
		if (!c->kicked)
			h2conn_flush(c);	/* kicks if nghttp2 can go on */
	} while (c->kicked && ++n < H2_WORK_PASSES);
	h2conn_flush(c);
	c->in_work = 0;
	if (c->kicked)		/* let other connections run first */
		event_active(c->ev_work, EV_TIMEOUT, 1);
}

static void
h2conn_work_cb(evutil_socket_t fd, short what, void *arg)
{
	h2conn_work(arg);
}

static void
h2conn_read(struct bufferevent *bev, void *arg)
{
	struct evbuffer	*in = bufferevent_get_input(bev);

	/* Only lingering reads through bev (sockread reads before). */
	evbuffer_drain(in, evbuffer_get_length(in));
}

/* The output drained to its low mark (TLS: our writer; plain: bev). */
static void
h2conn_out_drained(struct h2conn *c)
{
	if (c->state == H2_FLUSHING) {
		if (h2conn_unwritten(c) == 0)
			h2conn_linger(c);
		return;
	}
	if (h2conn_live(c))
		h2conn_work(c);
}

/* The client closed the connection (EOF) or the socket failed (error). */
static void
h2conn_ended(struct h2conn *c, int error)
{
	if (c->state < H2_LINGER)
		log_info("%s: peer=%s %s with %u streams", c->logid, c->peer,
		    error ? "connection error" : "client closed the connection",
		    c->nstreams);
	h2conn_set_closed(c);
}

/* The connection's socket: its reader, its TLS writer. */
static void
h2conn_sock(void *arg, enum sock_event ev)
{
	struct h2conn	*c = arg;
	struct evbuffer	*in;

	switch (ev) {
	case SOCK_DATA:
		if (h2conn_live(c))
			h2conn_work(c);
		else {
			in = sockread_input(c->rd);
			evbuffer_drain(in, evbuffer_get_length(in));
		}
		break;
	case SOCK_DRAINED:
		h2conn_out_drained(c);
		break;
	case SOCK_EOF:
	case SOCK_ERROR:
		h2conn_ended(c, ev == SOCK_ERROR);
		break;
	}
}

static void
h2conn_write(struct bufferevent *bev, void *arg)
{
	h2conn_out_drained(arg);
}

/*
 * A read, where sockread made it (its input was empty): nghttp2 parses it
 * there, stream payload goes to the endpoints in place, then the usual
 * work pass. Takes it all.
 */
static size_t
h2conn_bytes(void *arg, unsigned char *p, size_t n)
{
	struct h2conn	*c = arg;

	if (!h2conn_live(c))
		return (n);	/* dropped, as h2conn_sock() does */
	if (c->in_work)
		return (0);	/* not from the loop: h2conn_recv() takes it */
	(void)h2conn_parse(c, p, n);
	h2conn_work(c);
	return (n);
}

static void
h2conn_event(struct bufferevent *bev, short what, void *arg)
{
	if (what & BEV_EVENT_CONNECTED)
		return;
	h2conn_ended(arg, (what & BEV_EVENT_ERROR) != 0);
}

static void
h2conn_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct h2conn	*c = arg;

	switch (c->state) {
	case H2_OPEN:
		if (c->nstreams > 0)
			break;
		log_info("%s: idle for %u ms: GOAWAY", c->logid,
		    c->cfg->h2_idle_timeout_ms);
		c->state = H2_DRAINING;
		h2conn_kick(c);
		break;
	default:	/* flush or linger deadline */
		h2conn_set_closed(c);
		break;
	}
}

static void
h2conn_free(struct h2conn *c)
{
	struct h2stream	*s;

	while ((s = TAILQ_FIRST(&c->streams)) != NULL) {
		if (s->tunnel != NULL && !s->attached)
			tunnel_abort(s->tunnel);
		s->tunnel = NULL;
		s->closed = 1;
		h2s_free(s);
	}
	TAILQ_REMOVE(&c->w->h2conns, c, entry);
	metrics_h2_conn(c->w->metrics, -1);
	nghttp2_session_del(c->sess);
	sockread_free(c->rd);
	tlsout_free(c->tout);	/* SSL writes to the socket again */
	bufferevent_free(c->bev);
	evbuffer_free(c->wbuf);
	event_free(c->ev_work);
	event_free(c->ev_free);
	event_free(c->timer);
	config_free(c->cfg);
	worker_conn_gone(c->w);
	free(c);
}

static void
h2conn_free_cb(evutil_socket_t fd, short what, void *arg)
{
	struct h2conn	*c = arg;

	if (c->nstreams == 0)
		h2conn_free(c);
}

static nghttp2_session *
h2conn_session_new(struct h2conn *c)
{
	nghttp2_session_callbacks	*cb;
	nghttp2_session			*sess;
	struct h2req_limits		 lim;

	if (nghttp2_session_callbacks_new(&cb) != 0)
		return (NULL);
	nghttp2_session_callbacks_set_send_callback(cb, h2_send);
	nghttp2_session_callbacks_set_send_data_callback(cb, h2_send_data);
	nghttp2_session_callbacks_set_data_source_read_length_callback(cb,
	    h2req_data_length);
	nghttp2_session_callbacks_set_on_begin_headers_callback(cb,
	    h2_on_begin_headers);
	nghttp2_session_callbacks_set_on_header_callback(cb, h2_on_header);
	nghttp2_session_callbacks_set_on_frame_recv_callback(cb,
	    h2_on_frame_recv);
	nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb,
	    h2_on_data_chunk);
	nghttp2_session_callbacks_set_on_frame_send_callback(cb,
	    h2_on_frame_send);
	nghttp2_session_callbacks_set_on_stream_close_callback(cb,
	    h2_on_stream_close);
	nghttp2_session_callbacks_set_on_invalid_frame_recv_callback(cb,
	    h2_on_invalid_frame);
	nghttp2_session_callbacks_set_error_callback2(cb, h2_on_error);
	lim.window = c->cfg->buffer_size;
	lim.max_streams = c->cfg->h2_max_streams;
	lim.max_head = c->cfg->max_head;
	sess = h2req_session_new(cb, c, &lim, 0);
	nghttp2_session_callbacks_del(cb);
	return (sess);
}

void
h2conn_take(struct worker *w, struct bufferevent *bev, struct config *cfg,
    uint64_t id, const struct conn_facts *conn, int tls)
{
	struct h2conn	*c;

	c = xcalloc_aligned(sizeof *c);
	c->w = w;
	c->cfg = config_ref(cfg);
	c->bev = bev;
	if ((c->wbuf = evbuffer_new()) == NULL)
		fatalx("out of memory");
	c->id = id;
	c->tls = tls;
	snprintf(c->logid, sizeof c->logid, "c%llu", (unsigned long long)id);
	c->conn = *conn;
	if (conn_addr_str(&c->conn.peer, c->peer, sizeof c->peer) == NULL)
		snprintf(c->peer, sizeof c->peer, "unix");
	c->high = cfg->buffer_size;
	TAILQ_INIT(&c->streams);
	c->ev_work = event_new(w->base, -1, 0, h2conn_work_cb, c);
	c->ev_free = event_new(w->base, -1, 0, h2conn_free_cb, c);
	c->timer = evtimer_new(w->base, h2conn_timeout, c);
	TAILQ_INSERT_TAIL(&w->h2conns, c, entry);
	metrics_h2_conn(w->metrics, 1);
	log_info("%s: peer=%s HTTP/2%s", c->logid, c->peer,
	    tls ? " over TLS" : " (h2c, prior knowledge)");

	bufferevent_setcb(bev, h2conn_read, h2conn_write, h2conn_event, c);
	bufferevent_setwatermark(bev, EV_READ, 0, 0);
	bufferevent_setwatermark(bev, EV_WRITE, c->high / 2, 0);
	bufferevent_set_max_single_read(bev, c->high);
	bufferevent_set_max_single_write(bev, c->high);
	if ((c->sess = h2conn_session_new(c)) == NULL) {
		log_error("%s: cannot create an HTTP/2 session", c->logid);
		c->state = H2_CLOSED;
		bufferevent_disable(bev, EV_READ | EV_WRITE);
		event_active(c->ev_free, EV_TIMEOUT, 1);
		return;
	}
	if (tls) {
		/*
		 * We read and write through SSL ourselves (sockread.c,
		 * tlsout.c): nothing was written since the handshake, so SSL
		 * holds no write half done.
		 */
		c->rd = sockread_tls(w->base, bev, c->high, c->logid,
		    h2conn_sock, c);
		c->tout = tlsout_new(w->base, bufferevent_openssl_get_ssl(bev),
		    (int)bufferevent_getfd(bev), c->high / 2, h2conn_sock, c);
	} else	/* one sized readv per readiness, no FIONREAD */
		c->rd = sockread_tunnel(w->base, bev, c->high, 0,
		    h2conn_sock, c);
	sockread_set_bytes(c->rd, h2conn_bytes, c);
	/* Until the first stream: the handshake deadline, then idle. */
	h2_arm(c->timer, MIN(cfg->handshake_timeout_ms,
	    cfg->h2_idle_timeout_ms));
	h2conn_kick(c);		/* the preface may already be here */
}

void
h2conn_shutdown_all(struct worker *w)
{
	struct h2conn	*c;
	struct h2stream	*s;

	TAILQ_FOREACH(c, &w->h2conns, entry) {
		if (c->state != H2_OPEN)
			continue;
		/* New streams get 503 meanwhile (w->stopping). */
		c->state = H2_DRAINING;
		TAILQ_FOREACH(s, &c->streams, entry) {
			if (s->state != H2S_CONNECTING)
				continue;
			tunnel_abort(s->tunnel);
			s->tunnel = NULL;
			h2s_respond(s, 503, "server shutting down");
		}
		h2conn_kick(c);
	}
}

void
h2conn_free_all(struct worker *w)
{
	struct h2conn	*c;

	while ((c = TAILQ_FIRST(&w->h2conns)) != NULL)
		h2conn_free(c);
}
