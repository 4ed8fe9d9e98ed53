/*
 * h2req.c -- one HTTP/2 request head, sans I/O: fields checked and
 * collected as nghttp2 decodes them, the complete head judged with the
 * handshake code HTTP/1.1 uses, response heads built, and the nghttp2
 * server session set up with our SETTINGS.
 */
#include "wsb_autoconf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nghttp2/nghttp2.h>

#include "h2req.h"
#include "handshake.h"
#include "http1.h"
#include "util.h"

#define H2_FRAME_MAX	(64 * 1024)	/* largest frame the client may send */
#define H2_DATA_MAX	(64 * 1024)	/* largest DATA payload we send */

void
h2req_init(struct h2req *r, size_t max_size)
{
	memset(r, 0, sizeof *r);
	r->max_size = max_size;
}

void
h2req_clear(struct h2req *r)
{
	size_t	i;

	for (i = 0; i < r->nstrs; i++)
		free(r->strs[i]);
	free(r->strs);
	memset(r, 0, sizeof *r);
}

/* Keeps a NUL-terminated copy of p[0..n) for the head's lifetime. */
static char *
h2req_keep(struct h2req *r, const uint8_t *p, size_t n)
{
	char	*copy;

	copy = xstrndup((const char *)p, n);
	r->strs = xreallocarray(r->strs, r->nstrs + 1, sizeof *r->strs);
	r->strs[r->nstrs++] = copy;
	return (copy);
}

static enum h2req_error
h2req_fail(struct h2req *r, enum h2req_error e, const char *why)
{
	if (r->error == H2REQ_OK) {
		r->error = e;
		r->error_why = why;
	}
	return (r->error);
}

/* RFC 9110 5.6.2 tchar, lowercase only (RFC 9113 8.2.1). */
static int
h2req_name_ok(const uint8_t *p, size_t n)
{
	size_t	i;

	if (n == 0)
		return (0);
	for (i = 0; i < n; i++) {
		if ((p[i] >= 'a' && p[i] <= 'z') || (p[i] >= '0' &&
		    p[i] <= '9'))
			continue;
		if (p[i] == '\0' || strchr("!#$%&'*+-.^_`|~", p[i]) == NULL)
			return (0);
	}
	return (1);
}

/*
 * RFC 9113 8.2.1: no NUL, CR or LF anywhere (a NUL would also cut our
 * copy short, and CR LF could be replayed into an HTTP/1.1 log or head), no
 * whitespace at either end.
 */
static int
h2req_value_ok(const uint8_t *p, size_t n)
{
	size_t	i;

	for (i = 0; i < n; i++) {
		if (p[i] == '\0' || p[i] == '\r' || p[i] == '\n')
			return (0);
	}
	if (n > 0 && (p[0] == ' ' || p[0] == '\t' || p[n - 1] == ' ' ||
	    p[n - 1] == '\t'))
		return (0);
	return (1);
}

static int
h2req_is(const uint8_t *p, size_t n, const char *s)
{
	return (n == strlen(s) && memcmp(p, s, n) == 0);
}

/* RFC 9113 8.2.2: fields that only mean something hop by hop. */
static int
h2req_connection_specific(const uint8_t *name, size_t namelen,
    const uint8_t *value, size_t valuelen)
{
	if (h2req_is(name, namelen, "connection") ||
	    h2req_is(name, namelen, "proxy-connection") ||
	    h2req_is(name, namelen, "keep-alive") ||
	    h2req_is(name, namelen, "transfer-encoding") ||
	    h2req_is(name, namelen, "upgrade"))
		return (1);
	return (h2req_is(name, namelen, "te") &&
	    !h2req_is(value, valuelen, "trailers"));
}

enum h2req_error
h2req_header(struct h2req *r, const uint8_t *name, size_t namelen,
    const uint8_t *value, size_t valuelen)
{
	struct http1_request	*f = &r->req.fields;
	struct http1_header	*h;
	const char		**slot;

	/*
	 * RFC 9113 6.5.2: what SETTINGS_MAX_HEADER_LIST_SIZE promised. Kept
	 * up to date after a problem, so the log can tell how large it was;
	 * saturating, as a peer could send more than SIZE_MAX in a lifetime.
	 */
	if (r->size <= SIZE_MAX - 32 - namelen - valuelen)
		r->size += namelen + valuelen + 32;
	else
		r->size = SIZE_MAX;
	if (r->error != H2REQ_OK)
		return (r->error);
	if (r->size > r->max_size)
		return (h2req_fail(r, H2REQ_TOO_LARGE,
		    "request header list too large"));
	if (!h2req_value_ok(value, valuelen))
		return (h2req_fail(r, H2REQ_MALFORMED,
		    "field value with NUL, CR, LF or edge whitespace"));

	if (namelen > 0 && name[0] == ':') {
		/* 8.3: every pseudo-header before the first regular field. */
		if (r->regular_seen)
			return (h2req_fail(r, H2REQ_MALFORMED,
			    "pseudo-header after a regular field"));
		if (h2req_is(name, namelen, ":method"))
			slot = &r->req.method;
		else if (h2req_is(name, namelen, ":scheme"))
			slot = &r->req.scheme;
		else if (h2req_is(name, namelen, ":path"))
			slot = &r->req.path;
		else if (h2req_is(name, namelen, ":authority"))
			slot = &r->req.authority;
		else if (h2req_is(name, namelen, ":protocol"))
			slot = &r->req.protocol;
		else
			return (h2req_fail(r, H2REQ_MALFORMED,
			    "unknown pseudo-header"));
		if (*slot != NULL)
			return (h2req_fail(r, H2REQ_MALFORMED,
			    "repeated pseudo-header"));
		*slot = h2req_keep(r, value, valuelen);
		return (H2REQ_OK);
	}

	r->regular_seen = 1;
	if (!h2req_name_ok(name, namelen))
		return (h2req_fail(r, H2REQ_MALFORMED,
		    "field name not a lowercase token"));
	if (h2req_connection_specific(name, namelen, value, valuelen))
		return (h2req_fail(r, H2REQ_MALFORMED,
		    "connection-specific field"));
	/* The fields array is shared with HTTP/1.1 and as bounded. */
	if (f->nheaders == HTTP1_MAX_HEADERS)
		return (h2req_fail(r, H2REQ_TOO_LARGE,
		    "more request fields than we keep"));
	h = &f->headers[f->nheaders++];
	h->name = h2req_keep(r, name, namelen);
	h->name_len = namelen;
	h->value = h2req_keep(r, value, valuelen);
	h->value_len = valuelen;
	return (H2REQ_OK);
}

int
h2req_decide(struct h2req *r, handshake_find_fn *find, const void *arg,
    int flags, struct ws_offer *o, const struct route **rt,
    const char **subprotocol, const char **why)
{
	int	status;

	memset(o, 0, sizeof *o);
	*rt = NULL;
	*subprotocol = NULL;
	*why = NULL;
	switch (r->error) {
	case H2REQ_OK:
		break;
	case H2REQ_TOO_LARGE:
		*why = r->error_why;
		return (431);
	case H2REQ_MALFORMED:
		*why = r->error_why;
		return (H2REQ_RESET);
	}
	/*
	 * RFC 8441 3: :protocol only after our SETTINGS said so. A client
	 * acknowledges our SETTINGS once it has read them, so a :protocol
	 * ahead of the ACK was sent blind: malformed (RFC 9113 8.1.1).
	 */
	if (r->req.protocol != NULL && !(flags & H2REQ_SETTINGS_ACKED)) {
		*why = "extended CONNECT before our SETTINGS were acknowledged";
		return (H2REQ_RESET);
	}
	/*
	 * RFC 9113 8.3.1, RFC 8441 4: a CONNECT with :protocol has :scheme,
	 * :path and :authority; nghttp2 resets these before we see them
	 * unless told not to check.
	 */
	if (r->req.method != NULL && strcmp(r->req.method, "CONNECT") == 0 &&
	    r->req.protocol != NULL && (r->req.scheme == NULL ||
	    r->req.path == NULL || r->req.authority == NULL)) {
		*why = "extended CONNECT without :scheme, :path or :authority";
		return (H2REQ_RESET);
	}
	if ((status = handshake_check_h2(&r->req, o, why)) == 0)
		status = handshake_route(find, arg, o, rt, subprotocol, why);
	if (status == 0 && (flags & H2REQ_END_STREAM)) {
		status = 400;
		*why = "END_STREAM on a WebSocket CONNECT";
	}
	if (status == 0 && (flags & H2REQ_STOPPING)) {
		status = 503;
		*why = "server shutting down";
	}
	if (status != 0) {
		*rt = NULL;
		*subprotocol = NULL;
	}
	return (status);
}

void
h2resp_add(struct h2resp *resp, const char *name, const char *value)
{
	nghttp2_nv	*nv;

	if (resp->nnv == nitems(resp->nv))
		abort();	/* our bug: H2RESP_MAX_FIELDS too small */
	nv = &resp->nv[resp->nnv++];
	nv->name = (uint8_t *)(uintptr_t)name;
	nv->namelen = strlen(name);
	nv->value = (uint8_t *)(uintptr_t)value;
	nv->valuelen = strlen(value);
	nv->flags = NGHTTP2_NV_FLAG_NONE;
}

void
h2resp_start(struct h2resp *resp, int status)
{
	memset(resp, 0, sizeof *resp);
	resp->status = status;
	snprintf(resp->status_str, sizeof resp->status_str, "%d", status);
	h2resp_add(resp, ":status", resp->status_str);
}

void
h2resp_accept(struct h2resp *resp, const char *subprotocol)
{
	h2resp_start(resp, 200);
	if (subprotocol != NULL)
		h2resp_add(resp, "sec-websocket-protocol", subprotocol);
}

void
h2resp_error(struct h2resp *resp, const struct h2_request *req, int status,
    const char *why)
{
	int	n, version;

	/* Any version trouble: say which version we speak (RFC 6455 4.4). */
	version = status == 426 || (why != NULL &&
	    strcasestr(why, "Sec-WebSocket-Version") != NULL);
	if (status == 426)
		status = 400;
	h2resp_start(resp, status);
	n = snprintf(resp->body, sizeof resp->body, "%d %s: %s\n", status,
	    http1_reason(status), why != NULL ? why : "-");
	if (n < 0)
		n = 0;
	resp->body_len = MIN((size_t)n, sizeof resp->body - 1);
	snprintf(resp->length_str, sizeof resp->length_str, "%zu",
	    resp->body_len);
	h2resp_add(resp, "content-type", "text/plain; charset=utf-8");
	h2resp_add(resp, "content-length", resp->length_str);
	if (status == 405)
		h2resp_add(resp, "allow", "CONNECT");
	if (version)
		h2resp_add(resp, "sec-websocket-version", "13");
	/* RFC 9110 9.3.2: HEAD gets the head GET would, and no content. */
	resp->has_body = req->method == NULL ||
	    strcmp(req->method, "HEAD") != 0;
	if (!resp->has_body)
		resp->body_len = 0;
}

ssize_t
h2req_data_length(nghttp2_session *sess, uint8_t frame_type,
    int32_t stream_id, int32_t conn_window, int32_t stream_window,
    uint32_t remote_max_frame, void *user_data)
{
	return ((ssize_t)MIN(remote_max_frame, (uint32_t)H2_DATA_MAX));
}

int
h2req_settings_fix(uint8_t *p, size_t len)
{
	size_t	flen, off;

	if (len < 9 || p[3] != NGHTTP2_SETTINGS || (p[4] & NGHTTP2_FLAG_ACK))
		return (0);
	flen = (size_t)p[0] << 16 | (size_t)p[1] << 8 | p[2];
	if (flen % 6 != 0 || len < 9 + flen || (p[5] | p[6] | p[7] | p[8]))
		return (0);
	for (off = 9; off < 9 + flen; off += 6) {
		if (((unsigned)p[off] << 8 | p[off + 1]) !=
		    H2REQ_SETTINGS_MAX_STREAMS_ID)
			continue;
		p[off] = 0;
		p[off + 1] = NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS;
		return (1);
	}
	return (0);
}

nghttp2_session *
h2req_session_new(const nghttp2_session_callbacks *cb, void *user_data,
    const struct h2req_limits *lim, int flags)
{
	nghttp2_option		*opt;
	nghttp2_session		*sess = NULL;
	nghttp2_settings_entry	 iv[5];
	uint32_t		 window;
	uint64_t		 cwin;

	if (nghttp2_option_new(&opt) != 0)
		return (NULL);
	/* Windows come back only as bytes reach their backend. */
	nghttp2_option_set_no_auto_window_update(opt, 1);
	if (flags & H2REQ_SESSION_RAW)
		nghttp2_option_set_no_http_messaging(opt, 1);
	if (nghttp2_session_server_new2(&sess, cb, user_data, opt) != 0)
		sess = NULL;
	nghttp2_option_del(opt);
	if (sess == NULL)
		return (NULL);

	/* A stream may hold one buffer-size of client bytes. */
	window = (uint32_t)MIN(lim->window, (size_t)INT32_MAX);
	iv[0].settings_id = H2REQ_SETTINGS_MAX_STREAMS_ID;	/* see h2req.h */
	iv[0].value = lim->max_streams;
	iv[1].settings_id = NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE;
	iv[1].value = window;
	iv[2].settings_id = NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE;
	iv[2].value = (uint32_t)MIN(lim->max_head, (size_t)UINT32_MAX);
	iv[3].settings_id = NGHTTP2_SETTINGS_ENABLE_CONNECT_PROTOCOL;
	iv[3].value = 1;
	iv[4].settings_id = NGHTTP2_SETTINGS_MAX_FRAME_SIZE;
	iv[4].value = H2_FRAME_MAX;
	/* Room for every stream's window at once: never the bottleneck. */
	cwin = MIN((uint64_t)window * lim->max_streams,
	    (uint64_t)INT32_MAX);
	if (nghttp2_submit_settings(sess, NGHTTP2_FLAG_NONE, iv,
	    nitems(iv)) != 0 ||
	    nghttp2_session_set_local_window_size(sess, NGHTTP2_FLAG_NONE, 0,
	    (int32_t)cwin) != 0) {
		nghttp2_session_del(sess);
		return (NULL);
	}
	return (sess);
}
