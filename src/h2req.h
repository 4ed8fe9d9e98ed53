/*
 * h2req.h -- one HTTP/2 request head, sans I/O: the fields nghttp2's header
 * callbacks hand us are checked (RFC 9113 8.2-8.3: pseudo-header order,
 * names, values; the SETTINGS_MAX_HEADER_LIST_SIZE we promised), collected
 * into a struct h2_request, and judged once the head is complete, with the
 * same handshake and route code as HTTP/1.1. Also the response heads we
 * answer with, and the nghttp2 server session with our options and SETTINGS,
 * so the fuzzer drives exactly what h2conn drives.
 */
#ifndef H2REQ_H
#define H2REQ_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <nghttp2/nghttp2.h>

#include "handshake.h"

struct route;

/* What h2req_header() made of a field; the first problem sticks. */
enum h2req_error {
	H2REQ_OK = 0,		/* collected (or ignored after a problem) */
	H2REQ_TOO_LARGE,	/* over max_size or HTTP1_MAX_HEADERS: 431 */
	H2REQ_MALFORMED,	/* RFC 9113 8.1.1: RST_STREAM(PROTOCOL_ERROR) */
};

/*
 * A request head being collected. Every string in req is a NUL-terminated
 * copy owned by the h2req (freed by h2req_clear), free of NUL, CR and LF.
 */
struct h2req {
	struct h2_request	 req;
	char			**strs;		/* the copies req points into */
	size_t			 nstrs;
	size_t			 size;		/* RFC 9113 6.5.2 accounting */
	size_t			 max_size;	/* what our SETTINGS promised */
	int			 regular_seen;	/* a regular field came already */
	enum h2req_error	 error;
	const char		*error_why;	/* static, for the log */
};

/* Starts an empty head with a header list limit of max_size bytes. */
void	h2req_init(struct h2req *r, size_t max_size);

/* Frees the copies and zeroes r. Safe on a zeroed or cleared h2req. */
void	h2req_clear(struct h2req *r);

/*
 * Takes one field as nghttp2 received it (name and value borrowed for the
 * call; not NUL-terminated). Returns r->error: H2REQ_OK, or the first
 * problem seen on this head (later fields are then only counted). Checks,
 * whatever nghttp2 was told to check itself: pseudo-headers before regular
 * fields, known and not repeated; lowercase names of token characters; no
 * NUL, CR or LF in values; no connection-specific fields (8.2.2).
 */
enum h2req_error h2req_header(struct h2req *r, const uint8_t *name,
	    size_t namelen, const uint8_t *value, size_t valuelen);

/* Facts about the connection that h2req_decide() weighs. */
#define H2REQ_SETTINGS_ACKED	0x1	/* the client acknowledged our SETTINGS */
#define H2REQ_END_STREAM	0x2	/* the HEADERS frame ended the stream */
#define H2REQ_STOPPING		0x4	/* SIGTERM: no new WebSockets */

/* h2req_decide(): answer RST_STREAM(PROTOCOL_ERROR), not a status. */
#define H2REQ_RESET		(-1)

/*
 * Judges a complete head (END_HEADERS seen) and fills *o (cleared by the
 * caller with ws_offer_clear, whatever the result). Returns 0 for a
 * WebSocket on route *rt (find's, as for handshake_route()) with
 * *subprotocol (borrowed,
 * or NULL); H2REQ_RESET for a malformed request (RFC 9113 8.1.1), or an
 * extended CONNECT sent before the client acknowledged our SETTINGS (RFC
 * 8441 3); or the HTTP status to answer: 431 (header list too large), 503
 * (stopping), any status of handshake_check_h2() or handshake_route(), or
 * 400 for END_STREAM on a WebSocket CONNECT. *why gets a static reason
 * whenever the result is not 0.
 */
int	h2req_decide(struct h2req *r, handshake_find_fn *find,
	    const void *arg, int flags, struct ws_offer *o,
	    const struct route **rt, const char **subprotocol,
	    const char **why);

/*
 * A response head and its body, built here and submitted by the caller.
 * Field names and values are borrowed: static strings, the route's, or the
 * buffers inside the h2resp; valid while the h2resp is.
 */
#define H2RESP_MAX_FIELDS	8
struct h2resp {
	int		 status;	/* as sent: 426 becomes 400 */
	nghttp2_nv	 nv[H2RESP_MAX_FIELDS];
	size_t		 nnv;
	char		 status_str[8];
	char		 length_str[24];
	char		 body[200];
	size_t		 body_len;	/* 0 with no body (200, or HEAD) */
	int		 has_body;	/* a DATA part follows the head */
};

/* Clears resp and starts it with :status. */
void	h2resp_start(struct h2resp *resp, int status);

/* Appends a field (lowercase name). Aborts when full: our bug. */
void	h2resp_add(struct h2resp *resp, const char *name, const char *value);

/*
 * The 200 that opens a WebSocket (RFC 8441 5), with sec-websocket-protocol
 * when subprotocol is not NULL. Callers add fields with h2resp_add()
 * (sec-websocket-extensions) before submitting.
 */
void	h2resp_accept(struct h2resp *resp, const char *subprotocol);

/*
 * A final status other than 200 for req, from h2req_decide() or a backend
 * failure: a one-line text body saying status and why (none for HEAD, which
 * still gets its content-length), allow: CONNECT with 405, and
 * sec-websocket-version: 13 when the version was the trouble (426, sent as
 * 400: HTTP/2 has no Upgrade; RFC 6455 4.4).
 */
void	h2resp_error(struct h2resp *resp, const struct h2_request *req,
	    int status, const char *why);

/*
 * nghttp2's data_source_read_length_callback for our sessions: DATA
 * payloads up to the client's SETTINGS_MAX_FRAME_SIZE (which nghttp2 does
 * not apply to this answer by itself) and 64 KiB, instead of nghttp2's
 * 16 KiB, so bulk transfers take fewer frames; nghttp2 then clamps the
 * answer to the flow-control windows.
 */
ssize_t	h2req_data_length(nghttp2_session *sess, uint8_t frame_type,
	    int32_t stream_id, int32_t conn_window, int32_t stream_window,
	    uint32_t remote_max_frame, void *user_data);

/*
 * Our SETTINGS carry SETTINGS_MAX_CONCURRENT_STREAMS under an id nghttp2
 * does not know, so that nghttp2 never enforces it: once a client has
 * acknowledged a limit nghttp2 knows, nghttp2 answers a HEADERS over it
 * with GOAWAY, a connection error, where RFC 9113 5.1.2 asks for a stream
 * error. The program refuses such a stream itself (REFUSED_STREAM) and
 * h2req_settings_fix() gives the entry its real id on the way out: the
 * client sees the limit, nghttp2 ignores an unknown setting as RFC 9113
 * 6.5.2 says every endpoint must. No nghttp2 option does this.
 */
#define H2REQ_SETTINGS_MAX_STREAMS_ID	0xf3c5

/*
 * In the len bytes at p -- the start of our first SETTINGS frame, as
 * nghttp2 hands it to the send callback -- gives the placeholder entry the
 * id SETTINGS_MAX_CONCURRENT_STREAMS. Returns 1 when it did, 0 when p is
 * not a complete non-ACK SETTINGS frame holding the placeholder.
 */
int	h2req_settings_fix(uint8_t *p, size_t len);

/* h2req_session_new() flags. */
#define H2REQ_SESSION_RAW	0x1	/* fuzzing: nghttp2 skips its HTTP
					   checks, h2req sees every field */

/* What our SETTINGS announce (the program's config says). */
struct h2req_limits {
	size_t		window;		/* a stream's receive window: bytes
					   one stream may hold (buffer-size) */
	unsigned	max_streams;	/* concurrent streams */
	size_t		max_head;	/* header list size */
};

/*
 * Creates an nghttp2 server session with our options (no automatic window
 * updates: windows come back as bytes reach a backend) and queues our
 * SETTINGS (ENABLE_CONNECT_PROTOCOL = 1, limits from lim) and connection
 * window. cb and lim are borrowed for the call, user_data handed to every
 * callback. Returns the session (free with nghttp2_session_del) or NULL
 * when nghttp2 runs out of memory.
 */
nghttp2_session	*h2req_session_new(const nghttp2_session_callbacks *cb,
	    void *user_data, const struct h2req_limits *lim, int flags);

#endif
