/*
 * fuzz_h2.c -- libFuzzer target for the HTTP/2 request path: the input is
 * what a client sends on the connection (preface included), fed to an
 * nghttp2 server session made by h2req_session_new() -- our SETTINGS, our
 * options -- whose callbacks do what h2conn's do: h2req_header() per field,
 * h2req_decide() per complete head, the h2resp_*() answer or RST_STREAM,
 * and for an accepted WebSocket an echo of its DATA through a deferred data
 * source, windows given back as the "backend" takes the bytes. Nothing
 * touches a socket: our output goes to a memory sink.
 *
 * Each input runs twice: whole through a session with nghttp2's HTTP
 * checks on (as in production), and in small pieces through one with them
 * off, so h2req's own field checks meet every field HPACK can decode.
 */
#include "wsb_autoconf.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <nghttp2/nghttp2.h>

#include "config.h"
#include "h2req.h"
#include "handshake.h"
#include "http1.h"
#include "util.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* Properties, not input checks: a failure here is our bug. */
#define fuzz_assert(x)	do { if (!(x)) abort(); } while (0)

#define FZ_OUT_MAX	(256 * 1024)	/* echo bytes one stream may hold */
#define FZ_SEND_MAX	(8 * 1024 * 1024) /* sink bytes per session */

enum fz_state {
	FZ_HEADERS = 0,		/* head arriving */
	FZ_OPEN,		/* 200 sent; DATA is echoed */
	FZ_RESPONDED,		/* an error answer or RST_STREAM went */
};

struct fz_stream {
	struct fz_stream	*next;
	struct fz_conn		*c;
	int32_t			 id;
	enum fz_state		 state;
	struct h2req		 head;
	struct ws_offer		 offer;
	uint8_t			*out;		/* echo or body bytes to send */
	size_t			 out_len, out_off;
	int			 out_eof;	/* END_STREAM after out */
	int			 deferred;
	int			 closed;	/* nghttp2 closed it: free it */
};

struct fz_conn {
	nghttp2_session		*sess;
	struct fz_stream	*streams;
	unsigned		 nstreams;
	int			 settings_acked;
	size_t			 sent;
};

/* Built once; still reachable at exit, so not a leak. */
static struct config	*fuzz_cfg;

static void
fuzz_init(void)
{
	static const char *const lines[] = {
		"listen 8080",
		"h2-max-streams 4",
		"max-header-size 2048",
		"buffer-size 65536",
		("route /chat echo subprotocols=superchat,chat "
		    "origins=http://example.com,https://app.example"),
		"route /req echo subprotocols=mqtt require-subprotocol=yes",
		"route /echo echo subprotocols=chat",
		"route * echo",
	};
	char	*cause;
	size_t	 i;

	fuzz_cfg = config_new();
	for (i = 0; i < nitems(lines); i++) {
		if (config_parse_line(fuzz_cfg, lines[i], "fuzz", (int)i + 1,
		    &cause) != 0)
			abort();
	}
	if (config_finish(fuzz_cfg, &cause) != 0)
		abort();
}

static void
fz_out_add(struct fz_stream *s, const uint8_t *p, size_t n)
{
	n = MIN(n, FZ_OUT_MAX - (s->out_len - s->out_off));
	if (n == 0)
		return;
	if (s->out_off > 0) {
		memmove(s->out, s->out + s->out_off, s->out_len - s->out_off);
		s->out_len -= s->out_off;
		s->out_off = 0;
	}
	s->out = xreallocarray(s->out, 1, s->out_len + n);
	memcpy(s->out + s->out_len, p, n);
	s->out_len += n;
}

static void
fz_resume(struct fz_stream *s)
{
	if (s->deferred && !s->closed) {
		s->deferred = 0;
		(void)nghttp2_session_resume_data(s->c->sess, s->id);
	}
}

/* Like h2conn's h2s_read(), copying instead of moving chains. */
static ssize_t
fz_read(nghttp2_session *sess, int32_t id, uint8_t *buf, size_t length,
    uint32_t *flags, nghttp2_data_source *src, void *arg)
{
	struct fz_stream	*s = src->ptr;
	size_t			 avail = s->out_len - s->out_off;

	fuzz_assert(s->id == id);
	if (avail == 0) {
		if (s->out_eof) {
			*flags |= NGHTTP2_DATA_FLAG_EOF;
			return (0);
		}
		s->deferred = 1;
		return (NGHTTP2_ERR_DEFERRED);
	}
	if (length >= avail) {
		length = avail;
		if (s->out_eof)
			*flags |= NGHTTP2_DATA_FLAG_EOF;
	}
	memcpy(buf, s->out + s->out_off, length);
	s->out_off += length;
	return ((ssize_t)length);
}

static ssize_t
fz_send(nghttp2_session *sess, const uint8_t *data, size_t len, int flags,
    void *arg)
{
	struct fz_conn	*c = arg;

	/* The memory sink; a client that stops reading, past a bound. */
	if (c->sent >= FZ_SEND_MAX)
		return (NGHTTP2_ERR_WOULDBLOCK);
	c->sent += len;
	return ((ssize_t)len);
}

static int
fz_on_begin_headers(nghttp2_session *sess, const nghttp2_frame *frame,
    void *arg)
{
	struct fz_conn		*c = arg;
	struct fz_stream	*s;

	if (frame->hd.type != NGHTTP2_HEADERS ||
	    frame->headers.cat != NGHTTP2_HCAT_REQUEST)
		return (0);
	if (c->nstreams >= 2 * fuzz_cfg->h2_max_streams) {
		(void)nghttp2_submit_rst_stream(sess, NGHTTP2_FLAG_NONE,
		    frame->hd.stream_id, NGHTTP2_REFUSED_STREAM);
		return (0);
	}
	s = xcalloc(1, sizeof *s);
	s->c = c;
	s->id = frame->hd.stream_id;
	h2req_init(&s->head, fuzz_cfg->max_head);
	s->next = c->streams;
	c->streams = s;
	c->nstreams++;
	nghttp2_session_set_stream_user_data(sess, s->id, s);
	return (0);
}

static int
fz_on_header(nghttp2_session *sess, const nghttp2_frame *frame,
    const uint8_t *name, size_t namelen, const uint8_t *value,
    size_t valuelen, uint8_t flags, void *arg)
{
	struct fz_stream		*s;
	const struct http1_request	*f;
	const struct http1_header	*h;
	enum h2req_error		 e;
	size_t				 before;

	if (frame->hd.type != NGHTTP2_HEADERS ||
	    frame->headers.cat != NGHTTP2_HCAT_REQUEST)
		return (0);
	s = nghttp2_session_get_stream_user_data(sess, frame->hd.stream_id);
	if (s == NULL)
		return (0);
	before = s->head.size;
	e = h2req_header(&s->head, name, namelen, value, valuelen);
	fuzz_assert(e == s->head.error);
	fuzz_assert(s->head.size >= before);
	fuzz_assert(e == H2REQ_OK || s->head.error_why != NULL);
	if (e != H2REQ_OK)
		return (0);
	fuzz_assert(s->head.size <= s->head.max_size);
	/* What was kept is exactly what came, with nothing cut at a NUL. */
	f = &s->head.req.fields;
	fuzz_assert(f->nheaders <= HTTP1_MAX_HEADERS);
	if (namelen > 0 && name[0] != ':') {
		fuzz_assert(f->nheaders > 0);
		h = &f->headers[f->nheaders - 1];
		fuzz_assert(h->name_len == namelen &&
		    strlen(h->name) == namelen);
		fuzz_assert(h->value_len == valuelen &&
		    strlen(h->value) == valuelen);
		fuzz_assert(memcmp(h->value, value, valuelen) == 0);
	}
	return (0);
}

/* The properties of every answer we build. */
static void
fz_check_resp(const struct h2resp *resp)
{
	fuzz_assert(resp->nnv >= 1 && resp->nnv <= H2RESP_MAX_FIELDS);
	fuzz_assert(resp->nv[0].namelen == 7 &&
	    memcmp(resp->nv[0].name, ":status", 7) == 0);
	fuzz_assert(atoi(resp->status_str) == resp->status);
	fuzz_assert(resp->status >= 200 && resp->status <= 599 &&
	    resp->status != 426);
	fuzz_assert(resp->body_len < sizeof resp->body);
	fuzz_assert(resp->has_body || resp->body_len == 0);
}

static void
fz_decide(struct fz_conn *c, struct fz_stream *s, int end_stream)
{
	nghttp2_data_provider	 prd;
	struct h2resp		 resp;
	const struct route	*rt;
	const char		*why, *sub;
	int			 status, flags = 0;

	if (c->settings_acked)
		flags |= H2REQ_SETTINGS_ACKED;
	if (end_stream)
		flags |= H2REQ_END_STREAM;
	status = h2req_decide(&s->head, config_route_policy, fuzz_cfg, flags,
	    &s->offer, &rt, &sub, &why);
	fuzz_assert(status == 0 || status == H2REQ_RESET || status == 400 ||
	    status == 403 || status == 404 || status == 405 ||
	    status == 426 || status == 431 || status == 501);
	fuzz_assert((status == 0) == (why == NULL));
	fuzz_assert((status == 0) == (rt != NULL));
	prd.source.ptr = s;
	prd.read_callback = fz_read;
	if (status == H2REQ_RESET) {
		s->state = FZ_RESPONDED;
		(void)nghttp2_submit_rst_stream(c->sess, NGHTTP2_FLAG_NONE,
		    s->id, NGHTTP2_PROTOCOL_ERROR);
		return;
	}
	if (status != 0) {
		s->state = FZ_RESPONDED;
		h2resp_error(&resp, &s->head.req, status, why);
		fz_check_resp(&resp);
		fuzz_assert(resp.status == (status == 426 ? 400 : status));
		if (!resp.has_body) {
			(void)nghttp2_submit_response(c->sess, s->id, resp.nv,
			    resp.nnv, NULL);
			return;
		}
		fuzz_assert(resp.body_len > 0);
		fz_out_add(s, (const uint8_t *)resp.body, resp.body_len);
		s->out_eof = 1;
		(void)nghttp2_submit_response(c->sess, s->id, resp.nv,
		    resp.nnv, &prd);
		return;
	}
	/* A WebSocket: everything handshake_check_h2() promised holds. */
	fuzz_assert(s->head.req.method != NULL &&
	    strcmp(s->head.req.method, "CONNECT") == 0);
	fuzz_assert(s->head.req.protocol != NULL &&
	    strcasecmp(s->head.req.protocol, "websocket") == 0);
	fuzz_assert(s->offer.path != NULL && s->offer.path[0] == '/');
	fuzz_assert(s->offer.host != NULL);
	fuzz_assert(s->offer.http_version == 20);
	if (sub != NULL)
		fuzz_assert(s->offer.protocols != NULL &&
		    strstr(s->offer.protocols, sub) != NULL);
	h2resp_accept(&resp, sub);
	fz_check_resp(&resp);
	fuzz_assert(resp.status == 200 && !resp.has_body);
	if (nghttp2_submit_response(c->sess, s->id, resp.nv, resp.nnv,
	    &prd) == 0)
		s->state = FZ_OPEN;
	else
		s->state = FZ_RESPONDED;
}

static int
fz_on_frame_recv(nghttp2_session *sess, const nghttp2_frame *frame,
    void *arg)
{
	struct fz_conn		*c = arg;
	struct fz_stream	*s;
	int			 end = (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) != 0;

	if (frame->hd.type == NGHTTP2_SETTINGS &&
	    (frame->hd.flags & NGHTTP2_FLAG_ACK))
		c->settings_acked = 1;
	if (frame->hd.type != NGHTTP2_HEADERS && frame->hd.type != NGHTTP2_DATA)
		return (0);
	s = nghttp2_session_get_stream_user_data(sess, frame->hd.stream_id);
	if (s == NULL || s->closed)
		return (0);
	if (frame->hd.type == NGHTTP2_HEADERS &&
	    frame->headers.cat == NGHTTP2_HCAT_REQUEST &&
	    s->state == FZ_HEADERS)
		fz_decide(c, s, end);
	if (end && s->state == FZ_OPEN) {
		/* The client is done: so is the echo, after its bytes. */
		s->out_eof = 1;
		fz_resume(s);
	}
	return (0);
}

static int
fz_on_data_chunk(nghttp2_session *sess, uint8_t flags, int32_t id,
    const uint8_t *data, size_t len, void *arg)
{
	struct fz_stream	*s;

	/* As h2conn: the connection window at once, the stream's as taken. */
	(void)nghttp2_session_consume_connection(sess, len);
	(void)nghttp2_session_consume_stream(sess, id, len);
	s = nghttp2_session_get_stream_user_data(sess, id);
	if (s == NULL || s->closed || s->state != FZ_OPEN)
		return (0);
	fz_out_add(s, data, len);
	fz_resume(s);
	return (0);
}

/* As h2conn: a complete answer to an unfinished request ends the stream. */
static int
fz_on_frame_send(nghttp2_session *sess, const nghttp2_frame *frame,
    void *arg)
{
	struct fz_stream	*s;

	if ((frame->hd.type != NGHTTP2_DATA &&
	    frame->hd.type != NGHTTP2_HEADERS) ||
	    !(frame->hd.flags & NGHTTP2_FLAG_END_STREAM))
		return (0);
	s = nghttp2_session_get_stream_user_data(sess, frame->hd.stream_id);
	if (s != NULL && !s->closed && s->state == FZ_RESPONDED)
		(void)nghttp2_submit_rst_stream(sess, NGHTTP2_FLAG_NONE, s->id,
		    NGHTTP2_NO_ERROR);
	return (0);
}

static int
fz_on_stream_close(nghttp2_session *sess, int32_t id, uint32_t error_code,
    void *arg)
{
	struct fz_stream	*s;

	/* Freed after the call into nghttp2 returns, never in here. */
	if ((s = nghttp2_session_get_stream_user_data(sess, id)) != NULL) {
		s->closed = 1;
		nghttp2_session_set_stream_user_data(sess, id, NULL);
	}
	return (0);
}

static void
fz_stream_free(struct fz_stream *s)
{
	h2req_clear(&s->head);
	ws_offer_clear(&s->offer);
	free(s->out);
	free(s);
}

/* Frees closed streams (all of them when all is set). */
static void
fz_reap(struct fz_conn *c, int all)
{
	struct fz_stream	**sp = &c->streams, *s;

	while ((s = *sp) != NULL) {
		if (s->closed || all) {
			*sp = s->next;
			c->nstreams--;
			fz_stream_free(s);
		} else
			sp = &s->next;
	}
}

/* Sends what is queued; returns -1 when the session is over. */
static int
fz_flush(struct fz_conn *c)
{
	if (nghttp2_session_send(c->sess) != 0)
		return (-1);
	fz_reap(c, 0);
	return (0);
}

static void
fz_run(const uint8_t *data, size_t size, int flags, size_t piece)
{
	nghttp2_session_callbacks	*cb;
	struct fz_conn			 c;
	struct h2req_limits		 lim;
	size_t				 off = 0, n, i = 0;
	ssize_t				 rv;

	memset(&c, 0, sizeof c);
	if (nghttp2_session_callbacks_new(&cb) != 0)
		abort();
	nghttp2_session_callbacks_set_send_callback(cb, fz_send);
	nghttp2_session_callbacks_set_data_source_read_length_callback(cb,
	    h2req_data_length);
	nghttp2_session_callbacks_set_on_begin_headers_callback(cb,
	    fz_on_begin_headers);
	nghttp2_session_callbacks_set_on_header_callback(cb, fz_on_header);
	nghttp2_session_callbacks_set_on_frame_recv_callback(cb,
	    fz_on_frame_recv);
	nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb,
	    fz_on_data_chunk);
	nghttp2_session_callbacks_set_on_frame_send_callback(cb,
	    fz_on_frame_send);
	nghttp2_session_callbacks_set_on_stream_close_callback(cb,
	    fz_on_stream_close);
	lim.window = fuzz_cfg->buffer_size;
	lim.max_streams = fuzz_cfg->h2_max_streams;
	lim.max_head = fuzz_cfg->max_head;
	c.sess = h2req_session_new(cb, &c, &lim, flags);
	nghttp2_session_callbacks_del(cb);
	fuzz_assert(c.sess != NULL);

	if (fz_flush(&c) == -1)
		goto out;
	while (off < size) {
		/* Pieces of 1..piece bytes, varying, so frames split anywhere. */
		n = piece == 0 ? size - off : 1 + (i++ * 7) % piece;
		n = MIN(n, size - off);
		rv = nghttp2_session_mem_recv(c.sess, data + off, n);
		if (rv < 0) {
			/* As h2conn_recv(): GOAWAY, then the session ends. */
			(void)nghttp2_session_terminate_session(c.sess,
			    rv == NGHTTP2_ERR_FLOODED ?
			    NGHTTP2_ENHANCE_YOUR_CALM : NGHTTP2_PROTOCOL_ERROR);
			(void)fz_flush(&c);
			break;
		}
		fuzz_assert((size_t)rv == n);	/* mem_recv takes it all */
		off += n;
		if (fz_flush(&c) == -1)
			break;
		if (!nghttp2_session_want_read(c.sess) &&
		    !nghttp2_session_want_write(c.sess))
			break;
	}
out:
	nghttp2_session_del(c.sess);
	fz_reap(&c, 1);
	fuzz_assert(c.nstreams == 0);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (fuzz_cfg == NULL)
		fuzz_init();
	fz_run(data, size, 0, 0);
	fz_run(data, size, H2REQ_SESSION_RAW, 13);
	return (0);
}
