/*
 * h1conn.c -- one client connection over HTTP/1.1 (RFC 6455 4.2): reads the
 * request head under a size limit and a deadline, validates it, connects the
 * backend first and only then answers 101 (so an unreachable service is a
 * clean 502/504), and afterwards is the socket transport of the tunnel,
 * including the lingering close that keeps our close frame from being lost
 * to a TCP reset.
 */
#include "wsb_autoconf.h"

#include <sys/socket.h>

#include <assert.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>

#include <openssl/ssl.h>

#include "config.h"
#include "conn_facts.h"
#include "h1conn.h"
#include "h2conn.h"
#include "handshake.h"
#include "http1.h"
#include "log.h"
#include "metrics.h"
#include "sock.h"
#include "sockread.h"
#include "tls.h"
#include "tlsout.h"
#include "token.h"
#include "tunnel.h"
#include "util.h"
#include "webfile.h"
#include "worker.h"
#include "ws_conn.h"
#include "ws_deflate.h"

#define H1_LINGER_MS	2000	/* how long we read and drop after closing */
/*
 * A file response is added to the output this much at a time, the next
 * piece once the socket took half: memory per download stays bounded
 * whatever the file's size (and a TLS connection reads no more than this
 * of it ahead).
 */
#define H1_FILE_PIECE	(256 * 1024)

/* RFC 9113 3.4: what an h2c client with prior knowledge sends first. */
#define H2_PREFACE	"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
#define H2_PREFACE_LEN	24

enum h1_state {
	H1_PEEK = 0,		/* tls=auto: waiting for the first byte to
				   choose TLS or plain (handshake timer); no
				   bev yet, fd is ours */
	H1_REQUEST,		/* reading the request head (handshake timer;
				   after a file response: keep-alive wait) */
	H1_FILE,		/* a static file response going out (write
				   timeout); input unread until it is all
				   written, then H1_REQUEST again */
	H1_CONNECTING,		/* request valid; backend connect in flight */
	H1_TUNNEL,		/* 101 sent; the tunnel owns us */
	H1_FLUSHING,		/* last bytes queued; shut down once written */
	H1_LINGER,		/* write side shut; dropping input until EOF */
	H1_CLOSED,		/* socket done; freed by our owner */
};

/* What a message in the tunnel touches comes first: one cache line. */
struct h1conn {
	enum h1_state		 state;
	int			 fd;		/* bev's socket */
	struct evbuffer		*out;		/* bev's output */
	size_t			 out_len;	/* plain tunnels: out's length */
	struct tlsout		*tout;		/* tunnel writes over TLS */
	struct sockread		*rd;		/* tunnel reads */
	struct tunnel		*tunnel;
	struct bufferevent	*bev;

	struct evbuffer_cb_entry *out_cb;	/* keeps out_len */
	TAILQ_ENTRY(h1conn)	 entry;
	struct worker		*w;
	struct config		*cfg;
	uint64_t		 id;
	char			 logid[24];
	char			 peer[64];	/* conn.peer as text */
	struct conn_facts	 conn;		/* the addresses, for each tunnel */
	struct event		*timer;		/* handshake or linger deadline */
	struct event		*ev_closed;	/* reports the close from the loop */
	struct event		*ev_peek;	/* H1_PEEK: fd readable */
	SSL_CTX			*peek_tls;	/* H1_PEEK: the context, a reference */
	struct webfile_reply	*file;		/* H1_FILE: the response, owned */
	int			 keepalive;	/* H1_FILE: another request may follow */
	unsigned		 nfiles;	/* file responses sent */
	struct ws_offer		 offer;
	const char		*subprotocol;	/* borrowed from the route */
	char			 extensions[WS_DEFLATE_RESPONSE_MAX]; /* agreed, or "" */
	int			 listed;	/* on w->h1conns */
	int			 tls;		/* over TLS */
	int			 tls_done;	/* TLS handshake finished */
	int			 handed_off;	/* the socket now belongs to h2conn */
};
_Static_assert(offsetof(struct h1conn, bev) < CACHE_LINE,
    "h1conn: the per-message fields leave the first cache line");

static void	h1conn_read(struct bufferevent *, void *);
static void	h1conn_write(struct bufferevent *, void *);
static void	h1conn_event(struct bufferevent *, short, void *);
static void	h1conn_request(struct h1conn *);
static void	h1conn_sock(void *, enum sock_event);
static size_t	h1conn_bytes(void *, unsigned char *, size_t);

static void
h1conn_arm(struct h1conn *c, unsigned ms)
{
	struct timeval	tv;

	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	evtimer_add(c->timer, &tv);
}

static void
h1conn_free(struct h1conn *c)
{
	if (c->listed)
		TAILQ_REMOVE(&c->w->h1conns, c, entry);
	sockread_free(c->rd);
	tlsout_free(c->tout);	/* SSL writes to the socket again */
	if (c->out_cb != NULL)	/* bev may outlive us a little */
		evbuffer_remove_cb_entry(c->out, c->out_cb);
	if (c->bev != NULL)
		bufferevent_free(c->bev);
	else if (c->ev_peek != NULL)
		close(c->fd);	/* still peeking: no bev owns it */
	if (c->ev_peek != NULL)
		event_free(c->ev_peek);
	SSL_CTX_free(c->peek_tls);
	if (c->file != NULL) {
		webfile_reply_clear(c->file);
		free(c->file);
	}
	event_free(c->timer);
	event_free(c->ev_closed);
	ws_offer_clear(&c->offer);
	config_free(c->cfg);
	if (!c->handed_off)
		worker_conn_gone(c->w);	/* else h2conn counts it */
	free(c);
}

/* Socket finished: tell the tunnel, or free ourselves if we never had one. */
static void
h1conn_closed_cb(evutil_socket_t fd, short what, void *arg)
{
	struct h1conn	*c = arg;

	if (c->tunnel != NULL && tunnel_ws(c->tunnel) != NULL) {
		ws_conn_transport_closed(tunnel_ws(c->tunnel));
		return;		/* the tunnel frees us through ops->free */
	}
	if (c->tunnel != NULL)
		tunnel_abort(c->tunnel);
	h1conn_free(c);
}

static size_t	h1t_pending(void *);

static void
h1conn_set_closed(struct h1conn *c)
{
	if (c->state == H1_CLOSED)
		return;
	c->state = H1_CLOSED;
	evtimer_del(c->timer);
	if (c->rd != NULL)
		sockread_set(c->rd, 0);
	if (c->tout != NULL)
		tlsout_stop(c->tout);
	if (c->ev_peek != NULL)
		event_del(c->ev_peek);
	if (c->bev != NULL)
		bufferevent_disable(c->bev, EV_READ | EV_WRITE);
	event_active(c->ev_closed, EV_TIMEOUT, 1);
}

/* Output is written: shut our side, read and drop until EOF or deadline. */
static void
h1conn_linger(struct h1conn *c)
{
	SSL	*ssl;

	c->state = H1_LINGER;
	if (c->tout != NULL)	/* all written: SSL writes close_notify */
		tlsout_detach(c->tout);
	/* close_notify first, so a TLS peer sees a clean end (not truncation). */
	if ((ssl = bufferevent_openssl_get_ssl(c->bev)) != NULL && c->tls_done)
		(void)SSL_shutdown(ssl);
	if (shutdown(bufferevent_getfd(c->bev), SHUT_WR) == -1) {
		h1conn_set_closed(c);
		return;
	}
	bufferevent_setwatermark(c->bev, EV_READ, 0, 0);
	bufferevent_enable(c->bev, EV_READ);
	h1conn_arm(c, H1_LINGER_MS);
}

/* Writes what is queued, then closes gracefully (or at once when abort). */
static void
h1conn_close(struct h1conn *c, int abort)
{
	if (c->state >= H1_FLUSHING)
		return;
	if (abort) {
		h1conn_set_closed(c);
		return;
	}
	c->state = H1_FLUSHING;
	evtimer_del(c->timer);
	if (c->rd != NULL)
		sockread_set(c->rd, 0);	/* the linger reads through bev */
	bufferevent_disable(c->bev, EV_READ);
	if (h1t_pending(c) == 0)
		h1conn_linger(c);
	else {
		if (c->tout != NULL) {
			tlsout_set_low(c->tout, 0);
			tlsout_flush(c->tout);	/* whatever is queued goes */
		} else
			bufferevent_setwatermark(c->bev, EV_WRITE, 0, 0);
		h1conn_arm(c, c->cfg->close_timeout_ms);
	}
}

/* Answers an error status (never 101) and closes after writing it. */
static void
h1conn_reject(struct h1conn *c, int status, const char *why)
{
	struct evbuffer	*out = bufferevent_get_output(c->bev);
	const char	*extra = "";
	char		 body[160];
	int		 n;

	metrics_handshake(c->w->metrics, 0, status);
	log_info("c%llu: %d %s peer=%s path=%s: %s", (unsigned long long)c->id,
	    status, http1_reason(status), c->peer,
	    c->offer.path != NULL ? c->offer.path : "-", why);
	if (status == 426)
		extra = "Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\n";
	else if (status == 405)
		extra = "Allow: GET\r\n";
	n = snprintf(body, sizeof body, "%d %s: %s\n", status,
	    http1_reason(status), why);
	evbuffer_add_printf(out, "HTTP/1.1 %d %s\r\n"
	    "Connection: close\r\n"
	    "Content-Type: text/plain; charset=utf-8\r\n"
	    "Content-Length: %d\r\n"
	    "%s\r\n%s", status, http1_reason(status), n, extra, body);
	bufferevent_enable(c->bev, EV_WRITE);
	h1conn_close(c, 0);
}

/* ---- the WebSocket transport over this socket ---------------------------- */

static struct evbuffer *
h1t_input(void *t)
{
	return (sockread_input(((struct h1conn *)t)->rd));
}

static struct evbuffer *
h1t_output(void *t)
{
	return (((struct h1conn *)t)->out);
}

static size_t
h1t_pending(void *t)
{
	struct h1conn	*c = t;

	if (c->tout != NULL)
		return (tlsout_pending(c->tout));
	if (c->out_cb == NULL)	/* before the tunnel */
		return (evbuffer_get_length(c->out));
	sock_check_len(c->out, c->out_len);
	return (c->out_len);
}

static size_t
h1t_send(void *t, const struct iovec *iov, int cnt)
{
	struct h1conn	*c = t;

	if (c->state != H1_TUNNEL) {	/* closing: nothing goes out now */
		sockread_keep_iov(c->out, iov, cnt, 0, 0);
		return (0);
	}
	if (c->tout != NULL)
		return (tlsout_send_iov(c->tout, iov, cnt));
	/* in H1_TUNNEL bev may write (h1conn_set_closed() ends it) */
	return (sock_send_iov(c->out, c->out_len, c->fd, iov, cnt));
}

static void
h1t_flush(void *t)
{
	/* The bufferevent writes on its own (and touching c costs a miss). */
}

static void
h1t_tls_flush(void *t)
{
	tlsout_flush(((struct h1conn *)t)->tout);
}

static void
h1t_set_read(void *t, int on)
{
	struct h1conn	*c = t;

	if (c->state == H1_TUNNEL)
		sockread_set(c->rd, on);
}

static void
h1t_close(void *t, int abort)
{
	h1conn_close(t, abort);
}

static void
h1t_free(void *t)
{
	h1conn_free(t);
}

static int
h1t_fd(void *t)
{
	return ((int)bufferevent_getfd(((struct h1conn *)t)->bev));
}

static const struct ws_transport_ops h1_transport = {
	.input = h1t_input,
	.output = h1t_output,
	.pending = h1t_pending,
	.send = h1t_send,
	.flush = h1t_flush,
	.set_read = h1t_set_read,
	.close = h1t_close,
	.free = h1t_free,
	.fd = h1t_fd,
};

/* Over TLS our writer seals what the output holds when flushed. */
static const struct ws_transport_ops h1_tls_transport = {
	.input = h1t_input,
	.output = h1t_output,
	.pending = h1t_pending,
	.send = h1t_send,
	.flush = h1t_tls_flush,
	.set_read = h1t_set_read,
	.close = h1t_close,
	.free = h1t_free,
	.fd = h1t_fd,
};

/* ---- handshake ------------------------------------------------------------ */

static void
h1conn_backend_ready(void *arg, int status)
{
	struct h1conn	*c = arg;
	struct evbuffer	*out;
	char		 accept[WS_ACCEPT_LEN + 1];

	if (c->state != H1_CONNECTING)
		return;
	if (status != 0) {
		tunnel_abort(c->tunnel);
		c->tunnel = NULL;
		h1conn_reject(c, status, status == 504 ?
		    "backend connect timed out" : "backend unreachable");
		return;
	}
	if (handshake_accept_key(c->offer.key, accept) == -1) {
		tunnel_abort(c->tunnel);
		c->tunnel = NULL;
		h1conn_reject(c, 500, "cannot compute Sec-WebSocket-Accept");
		return;
	}
	if (c->tls) {
		/*
		 * From the 101 on we write through SSL ourselves (tlsout.c):
		 * bev's output is empty (it wrote nothing since the handshake),
		 * so SSL holds no write half done.
		 */
		c->tout = tlsout_new(c->w->base,
		    bufferevent_openssl_get_ssl(c->bev), c->fd,
		    c->cfg->buffer_size / 2, h1conn_sock, c);
		c->out = tlsout_output(c->tout);
	}
	out = c->out;
	evbuffer_add_printf(out, "HTTP/1.1 101 Switching Protocols\r\n"
	    "Upgrade: websocket\r\n"
	    "Connection: Upgrade\r\n"
	    "Sec-WebSocket-Accept: %s\r\n", accept);
	if (c->subprotocol != NULL)
		evbuffer_add_printf(out, "Sec-WebSocket-Protocol: %s\r\n",
		    c->subprotocol);
	if (c->extensions[0] != '\0')
		evbuffer_add_printf(out, "Sec-WebSocket-Extensions: %s\r\n",
		    c->extensions);
	evbuffer_add(out, "\r\n", 2);

	c->state = H1_TUNNEL;
	if (c->tout == NULL)	/* h1t_pending() reads it per message */
		c->out_cb = sock_track_len(c->out, &c->out_len);
	evtimer_del(c->timer);
	TAILQ_REMOVE(&c->w->h1conns, c, entry);
	c->listed = 0;
	if (c->tls)
		c->rd = sockread_tls(c->w->base, c->bev,
		    c->cfg->buffer_size, c->logid, h1conn_sock, c);
	else
		c->rd = sockread_tunnel(c->w->base, c->bev,
		    c->cfg->buffer_size, 0, h1conn_sock, c);
	if (c->tout != NULL)
		tlsout_flush(c->tout);	/* the 101 */
	tunnel_attach(c->tunnel, c->tout != NULL ? &h1_tls_transport :
	    &h1_transport, c);
	sockread_set_bytes(c->rd, h1conn_bytes, tunnel_ws(c->tunnel));
}

/* ---- static files ------------------------------------------------------- */

/* The file response is all written: the next request, or the end. */
static void
h1conn_file_done(struct h1conn *c)
{
	webfile_reply_clear(c->file);
	free(c->file);
	c->file = NULL;
	bufferevent_set_timeouts(c->bev, NULL, NULL);
	bufferevent_setwatermark(c->bev, EV_WRITE, 0, 0);
	if (!c->keepalive || c->w->stopping) {
		c->state = H1_REQUEST;	/* h1conn_close() from here */
		h1conn_close(c, 0);
		return;
	}
	c->state = H1_REQUEST;
	h1conn_arm(c, c->cfg->handshake_timeout_ms);
	bufferevent_enable(c->bev, EV_READ);
	/* A request sent behind the last one (pipelined) is already here. */
	if (evbuffer_get_length(bufferevent_get_input(c->bev)) > 0)
		h1conn_request(c);
}

/*
 * Keeps the output of a file response fed: up to two pieces queued, the
 * next added as the socket takes them; once the body is all queued, waits
 * for the output to empty (the write callback at low mark 0).
 */
static void
h1conn_file_pump(struct h1conn *c)
{
	struct webfile_reply	*r = c->file;

	while (r->fd != -1 && evbuffer_get_length(c->out) < H1_FILE_PIECE) {
		if (webfile_fill(r, c->out, H1_FILE_PIECE) == -1) {
			log_info("%s: peer=%s /%s: %s", c->logid, c->peer,
			    r->path, strerror(errno));
			h1conn_set_closed(c);
			return;
		}
	}
	if (r->fd != -1) {
		bufferevent_setwatermark(c->bev, EV_WRITE, H1_FILE_PIECE / 2,
		    0);
		return;
	}
	if (evbuffer_get_length(c->out) == 0) {
		h1conn_file_done(c);
		return;
	}
	bufferevent_setwatermark(c->bev, EV_WRITE, 0, 0);
}

/*
 * Answers a request that is no WebSocket upgrade from the web root (the
 * request head, n bytes of the input, goes once answered).
 */
static void
h1conn_file(struct h1conn *c, const struct http1_request *req, size_t n)
{
	const struct http1_header	*h;
	struct webfile_req		 rq;
	struct webfile_reply		*r;
	struct timeval			 tv;
	char				 target[512];
	int				 lvl;

	memset(&rq, 0, sizeof rq);
	rq.method = req->method;
	rq.method_len = req->method_len;
	rq.target = req->target;
	rq.target_len = req->target_len;
	if ((h = http1_find(req, "If-None-Match")) != NULL) {
		rq.inm = h->value;
		rq.inm_len = h->value_len;
	}
	if ((h = http1_find(req, "If-Modified-Since")) != NULL) {
		rq.ims = h->value;
		rq.ims_len = h->value_len;
	}
	r = xcalloc(1, sizeof *r);
	c->keepalive = req->version_minor >= 1 &&
	    !http1_has_token(req, "Connection", "close");
	/*
	 * A body would be read as the next request (request smuggling
	 * behind a front proxy): none is taken, and the connection ends.
	 */
	if (((h = http1_find(req, "Content-Length")) != NULL &&
	    !(h->value_len == 1 && h->value[0] == '0')) ||
	    http1_find(req, "Transfer-Encoding") != NULL) {
		r->fd = -1;
		r->status = 400;
		r->why = "a request body on a file request";
		c->keepalive = 0;
	} else
		webfile_serve(c->cfg->web_root, c->cfg->web_listing, &rq,
		    r);
	if (r->status >= 400 && r->status != 404 && r->status != 405)
		c->keepalive = 0;
	/* Files are many per page: each at debug, refusals of a path at info. */
	lvl = r->status == 403 || r->status == 400 ? LOGL_INFO : LOGL_DEBUG;
	if (log_enabled(lvl))
		log_msg(lvl, __func__, "%s: %d %s peer=%s %.*s %s%s%s",
		    c->logid, r->status, http1_reason(r->status), c->peer,
		    (int)req->method_len, req->method, token_mask_target(
		    req->target, req->target_len, target, sizeof target),
		    r->why != NULL ? ": " : "", r->why != NULL ? r->why : "");
	evbuffer_drain(bufferevent_get_input(c->bev), n);	/* req goes */
	c->file = r;
	c->nfiles++;
	c->state = H1_FILE;
	evtimer_del(c->timer);
	bufferevent_disable(c->bev, EV_READ);
	webfile_h1_head(r, c->out, c->keepalive);
	/* A client that takes nothing for handshake-timeout is dropped. */
	tv.tv_sec = c->cfg->handshake_timeout_ms / 1000;
	tv.tv_usec = (c->cfg->handshake_timeout_ms % 1000) * 1000;
	bufferevent_set_timeouts(c->bev, NULL, &tv);
	bufferevent_enable(c->bev, EV_WRITE);
	h1conn_file_pump(c);
}

/*
 * The client speaks HTTP/2: give the socket (and what it sent so far) to
 * h2conn and free ourselves on the next loop pass.
 */
static void
h1conn_to_h2(struct h1conn *c)
{
	struct bufferevent	*bev = c->bev;

	bufferevent_setcb(bev, NULL, NULL, NULL, NULL);
	c->bev = NULL;
	c->handed_off = 1;
	c->state = H1_CLOSED;
	evtimer_del(c->timer);
	h2conn_take(c->w, bev, c->cfg, c->id, &c->conn, c->tls);
	event_active(c->ev_closed, EV_TIMEOUT, 1);
}

static void
h1conn_request(struct h1conn *c)
{
	struct evbuffer		*in = bufferevent_get_input(c->bev);
	struct http1_request	 req;
	struct conn_facts	 f;
	struct ws_deflate_params deflate;
	const struct route	*rt;
	const char		*why = "malformed request";
	size_t			 len;
	ssize_t			 n;
	char			*buf, target[512];
	int			 status, agreed;

	len = evbuffer_get_length(in);
	buf = (char *)evbuffer_pullup(in, MIN(len, c->cfg->max_head));
	if (len > 0 && memcmp(buf, H2_PREFACE, MIN(len, H2_PREFACE_LEN)) == 0) {
		/* h2c with prior knowledge (RFC 9113 3.3), or h2 without ALPN. */
		if (len >= H2_PREFACE_LEN)
			h1conn_to_h2(c);
		return;
	}
	n = http1_parse_request(buf, MIN(len, c->cfg->max_head),
	    c->cfg->max_head, &req);
	if (n == 0)
		return;
	if (n < 0) {
		h1conn_reject(c, (int)-n, n == -431 ?
		    "request head too large" : n == -505 ?
		    "HTTP version not supported" : "malformed request");
		return;
	}
	if (log_enabled(LOGL_DEBUG))
		log_debug("%s: %.*s %s from %s", c->logid,
		    (int)req.method_len, req.method, token_mask_target(
		    req.target, req.target_len, target, sizeof target), c->peer);
	/* With a web root, what is no WebSocket upgrade asks for a file. */
	if (c->cfg->web_root != NULL &&
	    !http1_has_token(&req, "Upgrade", "websocket")) {
		h1conn_file(c, &req, (size_t)n);
		return;
	}
	if ((status = handshake_check_http1(&req, &c->offer, &why)) != 0 ||
	    (status = handshake_route(config_route_policy, c->cfg, &c->offer,
	    &rt, &c->subprotocol, &why)) != 0) {
		h1conn_reject(c, status, why);
		return;
	}
	/* Frames sent right behind the request stay in the buffer. */
	evbuffer_drain(in, (size_t)n);
	bufferevent_disable(c->bev, EV_READ);
	/* From here the route's connect-timeout bounds the wait (504). */
	evtimer_del(c->timer);
	c->state = H1_CONNECTING;
	f = c->conn;
	conn_facts_request(&f, &c->offer);
	conn_facts_forwarded(&f, &c->offer, c->cfg->trusted_proxies,
	    c->cfg->ntrusted_proxies);
	f.subprotocol = c->subprotocol;
	f.proto = "h1";
	tls_client_facts(c->bev, &f);
	agreed = ws_deflate_negotiate(c->offer.extensions, &rt->deflate,
	    &deflate, c->extensions, sizeof c->extensions);
	if (agreed)
		f.extensions = c->extensions;
	c->tunnel = tunnel_new(c->w, c->cfg, rt, &f, c->id,
	    h1conn_backend_ready, c);
	if (agreed)
		tunnel_set_deflate(c->tunnel, &deflate);
}

static void
h1conn_read(struct bufferevent *bev, void *arg)
{
	struct h1conn	*c = arg;
	struct evbuffer	*in = bufferevent_get_input(bev);

	switch (c->state) {
	case H1_REQUEST:
		h1conn_request(c);
		break;
	case H1_FILE:
		/*
		 * Reading is off, but an SSL write may read records: a
		 * pipelined request waits in the input for its turn.
		 */
		break;
	default:	/* in the tunnel sockread reads; lingering drops */
		evbuffer_drain(in, evbuffer_get_length(in));
		break;
	}
}

/* The output drained to its low mark (TLS: our writer; plain: bev). */
static void
h1conn_drained(struct h1conn *c)
{
	switch (c->state) {
	case H1_TUNNEL:
		ws_conn_output_drained(tunnel_ws(c->tunnel));
		break;
	case H1_FILE:
		h1conn_file_pump(c);
		break;
	case H1_FLUSHING:
		if (h1t_pending(c) == 0)
			h1conn_linger(c);
		break;
	default:
		break;
	}
}

/* The peer closed the connection (EOF) or the socket failed (error). */
static void
h1conn_ended(struct h1conn *c, int error)
{
	switch (c->state) {
	case H1_TUNNEL:
		ws_conn_transport_eof(tunnel_ws(c->tunnel), error);
		break;
	case H1_REQUEST:
		if (evbuffer_get_length(bufferevent_get_input(c->bev)) > 0)
			log_info("%s: peer=%s left during its request",
			    c->logid, c->peer);
		h1conn_set_closed(c);
		break;
	default:
		h1conn_set_closed(c);
		break;
	}
}

/* The tunnel's socket: its reader, its TLS writer. */
static void
h1conn_sock(void *arg, enum sock_event ev)
{
	struct h1conn	*c = arg;

	switch (ev) {
	case SOCK_DATA:
		ws_conn_input(tunnel_ws(c->tunnel));
		break;
	case SOCK_DRAINED:
		h1conn_drained(c);
		break;
	case SOCK_EOF:
	case SOCK_ERROR:
		h1conn_ended(c, ev == SOCK_ERROR);
		break;
	}
}

static void
h1conn_write(struct bufferevent *bev, void *arg)
{
	h1conn_drained(arg);
}

static void
h1conn_event(struct bufferevent *bev, short what, void *arg)
{
	struct h1conn	*c = arg;
	char		 err[160];

	if (what & BEV_EVENT_CONNECTED) {
		/* TLS handshake done: ALPN decides who serves the client. */
		c->tls_done = 1;
		metrics_tls_handshake(c->w->metrics, 1);
		if (c->state == H1_REQUEST && tls_alpn(bev) == TLS_ALPN_H2)
			h1conn_to_h2(c);
		return;
	}
	if (c->tls && !c->tls_done) {
		metrics_tls_handshake(c->w->metrics, 0);
		tls_error_str(bev, err, sizeof err);
		log_info("%s: peer=%s TLS handshake failed: %s", c->logid,
		    c->peer, (what & BEV_EVENT_EOF) ? "client closed" : err);
		h1conn_set_closed(c);
		return;
	}
	if ((what & BEV_EVENT_TIMEOUT) && c->state == H1_FILE)
		log_info("%s: peer=%s took nothing of /%s for "
		    "handshake-timeout", c->logid, c->peer, c->file->path);
	h1conn_ended(c, (what & BEV_EVENT_ERROR) != 0);
}

/*
 * A read in the tunnel, where sockread read it (its input was empty): the
 * endpoint takes what it can, sockread keeps the rest in the input for
 * ws_conn_input(). arg is the endpoint (one cache miss less than through
 * c and its tunnel).
 */
static size_t
h1conn_bytes(void *arg, unsigned char *p, size_t n)
{
	size_t	took;

	took = ws_conn_feed(arg, p, n);
	ws_conn_feed_end(arg);
	return (took);
}

static void
h1conn_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct h1conn	*c = arg;

	switch (c->state) {
	case H1_PEEK:
		log_info("%s: peer=%s sent nothing within handshake-timeout",
		    c->logid, c->peer);
		h1conn_set_closed(c);
		break;
	case H1_REQUEST:
		/* An idle keep-alive connection just ends (RFC 9112 9.8). */
		if (c->nfiles > 0 &&
		    evbuffer_get_length(bufferevent_get_input(c->bev)) == 0) {
			h1conn_close(c, 0);
			break;
		}
		h1conn_reject(c, 408, "no complete request within "
		    "handshake-timeout");
		break;
	default:	/* flush or linger deadline */
		h1conn_set_closed(c);
		break;
	}
}

/*
 * Both addresses (the client's as a PROXY header gave it, when one came),
 * the client's as text.
 */
static void
h1conn_addrs(struct h1conn *c, int fd, const struct sockaddr *sa,
    socklen_t salen, const struct sockaddr_storage *via)
{
	socklen_t	len = sizeof c->conn.local;

	memcpy(&c->conn.peer, sa, MIN((size_t)salen, sizeof c->conn.peer));
	if (via != NULL)
		c->conn.via = *via;
	if (getsockname(fd, (struct sockaddr *)&c->conn.local, &len) == -1)
		memset(&c->conn.local, 0, sizeof c->conn.local);
	if (conn_addr_str(&c->conn.peer, c->peer, sizeof c->peer) == NULL)
		snprintf(c->peer, sizeof c->peer, "unix");
}

/* Refuses the connection when stopping or over max-connections. */
static void
h1conn_admit(struct h1conn *c)
{
	struct worker	*w = c->w;

	if (w->stopping || worker_nconns(w) > c->cfg->max_connections)
		h1conn_reject(c, 503, w->stopping ? "server shutting down" :
		    "too many connections");
}

/*
 * Puts c's socket behind a bufferevent, through a new SSL from tls when it
 * is not NULL, and starts reading the request. Returns 0, or -1 when no
 * bufferevent could be made (the socket is then closed).
 */
static int
h1conn_start(struct h1conn *c, SSL_CTX *tls)
{
	struct worker	*w = c->w;
	SSL		*ssl = NULL;

	if (tls != NULL) {
		c->tls = 1;
		if ((ssl = SSL_new(tls)) != NULL)
			c->bev = bufferevent_openssl_socket_new(w->base, c->fd,
			    ssl, BUFFEREVENT_SSL_ACCEPTING,
			    BEV_OPT_CLOSE_ON_FREE);
	} else
		c->bev = bufferevent_socket_new(w->base, c->fd,
		    BEV_OPT_CLOSE_ON_FREE);
	if (c->bev == NULL) {
		if (ssl != NULL)
			SSL_free(ssl);
		close(c->fd);
		return (-1);
	}
	c->out = bufferevent_get_output(c->bev);
	/* A peer that closes without close_notify has still closed (EOF). */
	if (c->tls)
		bufferevent_openssl_set_allow_dirty_shutdown(c->bev, 1);
	bufferevent_setcb(c->bev, h1conn_read, h1conn_write, h1conn_event, c);
	/* A head larger than max-header-size is refused, never buffered. */
	bufferevent_setwatermark(c->bev, EV_READ, 0, c->cfg->max_head + 1);
	/*
	 * A plain socket writes once there is something to write (the 101
	 * through sockread_tunnel(), a refusal through h1conn_reject()):
	 * enabled on an empty output, libevent arms the write event anyway,
	 * it fires at once for nothing, and that is two epoll_ctl calls and
	 * a loop pass more per connection. TLS writes its handshake itself.
	 */
	bufferevent_enable(c->bev, c->tls ? EV_READ | EV_WRITE : EV_READ);
	return (0);
}

/*
 * tls=auto: the first byte is there (or the peer left). A TLS record
 * starts with 0x16 (handshake); websockify also takes 0x80, an SSLv2
 * hello, to TLS, where OpenSSL refuses it. Anything else is plain HTTP
 * (or the HTTP/2 preface). Peeked, not read: the chosen side reads it.
 */
static void
h1conn_peek_cb(evutil_socket_t fd, short what, void *arg)
{
	struct h1conn	*c = arg;
	unsigned char	 b;
	ssize_t		 n;
	SSL_CTX		*tls;

	if ((n = recv(c->fd, &b, 1, MSG_PEEK)) == -1 &&
	    (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
		event_add(c->ev_peek, NULL);
		return;
	}
	if (n <= 0) {
		if (n == -1)
			log_info("%s: peer=%s: %s", c->logid, c->peer,
			    strerror(errno));
		h1conn_set_closed(c);
		return;
	}
	event_free(c->ev_peek);
	c->ev_peek = NULL;
	tls = c->peek_tls;
	c->peek_tls = NULL;
	c->state = H1_REQUEST;
	if (h1conn_start(c, b == 0x16 || b == 0x80 ? tls : NULL) == -1) {
		SSL_CTX_free(tls);
		c->fd = -1;
		h1conn_set_closed(c);
		return;
	}
	SSL_CTX_free(tls);	/* the SSL holds its own reference */
	if (log_enabled(LOGL_DEBUG))
		log_debug("%s: peer=%s speaks %s", c->logid, c->peer,
		    c->tls ? "TLS" : "plain HTTP");
	h1conn_admit(c);
}

void
h1conn_accept(struct worker *w, int fd, const struct sockaddr *sa,
    socklen_t salen, SSL_CTX *tls, int tls_auto,
    const struct sockaddr_storage *via)
{
	struct h1conn	*c;

	c = xcalloc_aligned(sizeof *c);
	c->w = w;
	c->cfg = config_ref(w->cfg);
	c->id = worker_next_id(w);
	c->fd = fd;
	snprintf(c->logid, sizeof c->logid, "c%llu", (unsigned long long)c->id);
	h1conn_addrs(c, fd, sa, salen, via);
	if (tls != NULL && tls_auto) {
		c->state = H1_PEEK;
		c->ev_peek = event_new(w->base, fd, EV_READ, h1conn_peek_cb, c);
		if (c->ev_peek == NULL) {
			close(fd);
			config_free(c->cfg);
			free(c);
			return;
		}
		SSL_CTX_up_ref(tls);
		c->peek_tls = tls;
	} else {
		c->state = H1_REQUEST;
		if (h1conn_start(c, tls) == -1) {
			config_free(c->cfg);
			free(c);
			return;
		}
	}
	worker_conn_new(w);
	sock_tune(fd, c->cfg->keepalive_ms);
	c->timer = evtimer_new(w->base, h1conn_timeout, c);
	c->ev_closed = event_new(w->base, -1, 0, h1conn_closed_cb, c);
	TAILQ_INSERT_TAIL(&w->h1conns, c, entry);
	c->listed = 1;
	/* One deadline for the first byte and the request after it. */
	h1conn_arm(c, c->cfg->handshake_timeout_ms);
	if (c->state == H1_PEEK)
		event_add(c->ev_peek, NULL);
	else
		h1conn_admit(c);
}

void
h1conn_free_all(struct worker *w)
{
	struct h1conn	*c;

	while ((c = TAILQ_FIRST(&w->h1conns)) != NULL)
		h1conn_free(c);
}

void
h1conn_shutdown_all(struct worker *w)
{
	struct h1conn	*c, *next;

	for (c = TAILQ_FIRST(&w->h1conns); c != NULL; c = next) {
		next = TAILQ_NEXT(c, entry);
		if (c->state == H1_PEEK) {
			/* TLS or not is unknown: no answer can be read. */
			h1conn_set_closed(c);
			continue;
		}
		if (c->state == H1_FILE) {
			c->keepalive = 0;	/* the body ends, then we do */
			continue;
		}
		if (c->state == H1_REQUEST && c->nfiles > 0 &&
		    evbuffer_get_length(bufferevent_get_input(c->bev)) == 0) {
			h1conn_close(c, 0);	/* idle keep-alive */
			continue;
		}
		if (c->state == H1_CONNECTING) {
			tunnel_abort(c->tunnel);
			c->tunnel = NULL;
		}
		if (c->state <= H1_CONNECTING)
			h1conn_reject(c, 503, "server shutting down");
	}
}
