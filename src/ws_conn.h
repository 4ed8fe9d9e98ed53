/*
 * ws_conn.h -- one WebSocket endpoint (server role): frame parsing and
 * validation, control frames, the close handshake, keepalive and idle
 * timers, and framing of outbound data. Transport-agnostic: an HTTP/1.1
 * socket or an HTTP/2 stream sits behind struct ws_transport_ops; the owner
 * (a tunnel) gets payload through struct ws_handler.
 */
#ifndef WS_CONN_H
#define WS_CONN_H

#include <stddef.h>
#include <stdint.h>

struct evbuffer;
struct iovec;
struct event_base;
struct h2_stream_fc;
struct ws_conn;
struct ws_deflate_opts;
struct ws_deflate_params;

/* What a transport offers the endpoint. t is the transport's own pointer. */
struct ws_transport_ops {
	/*
	 * Input buffer holding the peer's bytes the endpoint did not take
	 * when they were read (ws_conn_feed()). Borrowed.
	 */
	struct evbuffer	*(*input)(void *t);
	/* Output buffer: what send() could not write at once. Borrowed. */
	struct evbuffer	*(*output)(void *t);
	/* Bytes queued for the peer and not yet handed to the kernel. */
	size_t		 (*pending)(void *t);
	/*
	 * Sends the bytes iov[0..cnt) point to (whole frames, valid for the
	 * call only): written at once when nothing is queued before them,
	 * the rest kept (copied, or referenced where sockread allows) in the
	 * output. Returns how many bytes the socket took at once.
	 */
	size_t		 (*send)(void *t, const struct iovec *iov, int cnt);
	/* Called after send() (h2: resume DATA; TLS: seal what is queued). */
	void		 (*flush)(void *t);
	/* Stop (0) or resume (1) reading from the peer. */
	void		 (*set_read)(void *t, int on);
	/*
	 * Write what is queued, then close; abort: close at once. Either way
	 * the transport later calls ws_conn_transport_closed().
	 */
	void		 (*close)(void *t, int abort);
	/* Releases the transport; called by the owner when freeing. */
	void		 (*free)(void *t);
	/*
	 * For stats (may be NULL): the client socket, for its kernel send
	 * queue (SIOCOUTQ), or -1; an HTTP/2 stream's flow-control waits
	 * up to now.
	 */
	int		 (*fd)(void *t);
	void		 (*flow)(void *t, uint64_t now,
			    struct h2_stream_fc *out);
};

/* What the endpoint tells its owner. arg is the owner's pointer. */
struct ws_handler {
	/*
	 * Payload of a data message: the n bytes at p (n may be 0), already
	 * unmasked and, for text, validated so far. opcode is the message's
	 * (WS_OP_TEXT / WS_OP_BINARY); first and last mark the message's
	 * first and final bytes. n never exceeds room(). p stays valid until
	 * the next input_done() call, which the endpoint makes before that
	 * memory is reused or released: the owner may list pieces and write
	 * them in one go there.
	 */
	void	(*payload)(void *arg, const uint8_t *p, size_t n,
		    unsigned opcode, int first, int last);
	/* Payload bytes the owner can take now; 0 pauses reading. */
	size_t	(*room)(void *arg);
	/*
	 * Optional: the payload() pointers given since the last call are
	 * about to go (the endpoint parsed what it could of one read, or an
	 * inflated piece's buffer is reused): take them now.
	 */
	void	(*input_done)(void *arg);
	/* Output dropped below the low watermark: produce more. */
	void	(*writable)(void *arg);
	/*
	 * No more payload will be delivered: the peer's close arrived, the
	 * connection failed, or the transport ended. code is the peer's close
	 * code, else ours, else 1006; by_peer: the peer closed first. (Our
	 * own close frame alone does not end the payload: the peer may send
	 * data until it answers.)
	 */
	void	(*closing)(void *arg, uint16_t code, int by_peer);
	/* The transport is closed; the owner may free everything. */
	void	(*closed)(void *arg);
};

/*
 * Frame events, for the frame log, live stats and the dashboard. One event
 * per frame in each direction:
 *  - inbound (client to wsbridge): when the frame is finished with, i.e. its
 *    last payload byte was handed to the owner (data), it was answered
 *    (control), it was dropped (data after our close), or the connection
 *    ended inside it (WS_FEV_INCOMPLETE) or it broke the rules
 *    (WS_FEV_REJECTED, reported before the connection fails);
 *  - outbound (wsbridge to client): when it is queued on the transport.
 * Cheap when nobody observes: the endpoint tests one pointer.
 */
enum ws_dir {
	WS_DIR_IN = 0,		/* client -> wsbridge */
	WS_DIR_OUT,		/* wsbridge -> client */
};

enum ws_fev_status {
	WS_FEV_OK = 0,		/* a whole frame */
	WS_FEV_INCOMPLETE,	/* the connection ended inside its payload */
	WS_FEV_REJECTED,	/* broke RFC 6455 5.2-5.5 or a limit: we failed it */
};

struct ws_frame_event {
	/*
	 * Monotonic clock (obs_now(), util.h: one reading per socket
	 * event): inbound, when its header was parsed; outbound, when it
	 * was queued.
	 */
	uint64_t	 t_ns;
	/*
	 * Time the frame spent inside wsbridge, in ns. Inbound: from the read
	 * that brought its last byte (header and payload) into wsbridge to the
	 * moment that byte was handed to the owner (the backend's output
	 * buffer), or the control frame was handled. Outbound: from the read
	 * (backend, or client for echo) that brought its last payload byte in
	 * to the moment the frame was queued on the client transport (not the
	 * kernel write). Waiting on backpressure counts; network time does not.
	 */
	uint64_t	 delay_ns;
	uint64_t	 len;		/* payload length from the header */
	uint64_t	 msg_no;	/* data frames: message number in this
					   session and direction, from 1; 0 for
					   control frames */
	uint32_t	 frag;		/* data frames: index in the message, from 0 */
	uint8_t		 dir;		/* enum ws_dir */
	uint8_t		 opcode, fin, rsv, masked, hdr_len;
	uint8_t		 status;	/* enum ws_fev_status */
	uint16_t	 close_code;	/* close frames: code, 0 when none */
	const uint8_t	*reason;	/* close frames: reason (not NUL-terminated) */
	size_t		 reason_len;
	/*
	 * The first data_len payload bytes (unmasked), at most the
	 * observer's capture. Borrowed for the duration of the call.
	 */
	const uint8_t	*data;
	size_t		 data_len;
	/*
	 * Data frames: the message's payload bytes this frame carries as the
	 * application sees them -- len for a plain message; for a compressed
	 * one (zmsg), inbound what its bytes inflated to, outbound the bytes
	 * compressed since the message's previous frame (zlib may hold some
	 * back for a later frame). Summed over a message: its inflated size.
	 * 0 for control frames. data above holds the payload as framed
	 * (compressed).
	 */
	uint64_t	 plain_len;
	uint8_t		 zmsg;		/* data frames: the message is
					   compressed (RSV1 on its first frame) */
};

/* Who watches an endpoint's frames; arg is the observer's pointer. */
struct ws_observer {
	/* Payload bytes wanted per frame: 0 none, SIZE_MAX all. */
	size_t	  capture;
	/* One call per frame and direction (see struct ws_frame_event). */
	void	(*frame)(void *arg, const struct ws_frame_event *ev);
	/*
	 * Non-zero: the observer cannot take more events now. The endpoint
	 * stops parsing input and reports no output room until
	 * ws_conn_observer_ready(). May be NULL.
	 */
	int	(*busy)(void *arg);
	/*
	 * Optional: n bytes of outbound frames, reported by frame() before,
	 * went to the socket at once, never through the transport's output
	 * (whose drains the observer may count instead).
	 */
	void	(*taken)(void *arg, size_t n);
};

enum ws_state {
	WS_OPEN = 0,		/* data flows both ways */
	WS_CLOSE_SENT,		/* our close is queued; awaiting the peer's (close timer) */
	WS_CLOSING,		/* close handshake done or failed: flushing, transport closing */
	WS_DONE,		/* transport closed */
};

struct ws_limits {
	uint64_t	max_message;	/* 0: none */
	size_t		out_high;	/* output high watermark (bytes) */
	unsigned	close_timeout_ms;
	unsigned	idle_timeout_ms;	/* 0: none */
	unsigned	ping_interval_ms;	/* 0: none */
	unsigned	pong_timeout_ms;
};

/*
 * Per-endpoint counters, read by the tunnel's log line and stats. payload_*
 * is message payload as the application sees it (inflated), wire_* the
 * same payload as framed (compressed where RSV1 was set): their ratio is the
 * compression ratio each way.
 */
/* Outbound half first: ws_conn lays the halves in separate cache lines. */
struct ws_counters {
	uint64_t	frames_out, msgs_out, payload_out, wire_out;
	uint64_t	frames_in, msgs_in, payload_in, wire_in;
	uint64_t	zmsgs_in, zmsgs_out;	/* messages with RSV1 */
	uint16_t	close_code_in;	/* peer's close code, 0 if none */
	uint16_t	close_code_out;	/* ours, 0 if none sent */
	int		closed_by_peer;	/* the peer's close came first */
};

/*
 * Creates an endpoint on transport t (ops), reporting to h/arg. The owner
 * frees it with ws_conn_free(), after or instead of closed().
 */
struct ws_conn	*ws_conn_new(struct event_base *base,
		    const struct ws_transport_ops *ops, void *t,
		    const struct ws_handler *h, void *arg,
		    const struct ws_limits *lim, const char *logid);
void		 ws_conn_free(struct ws_conn *);

/*
 * Sets (or with NULL clears) the frame observer; obs is borrowed and must
 * outlive the endpoint or the next call. An inbound frame in progress is
 * reported when it ends only if it began while observed.
 */
void	ws_conn_set_observer(struct ws_conn *, const struct ws_observer *obs,
	    void *arg);
/* The observer was busy and can take events again: resume both ways. */
void	ws_conn_observer_ready(struct ws_conn *);

/*
 * The one way client bytes come in. ws_conn_feed() parses n bytes the
 * transport just read at p (writable: payload is unmasked in place) and
 * returns how many of the first it took; it buffers partial frame headers
 * and control frames itself, so it stops short only when the owner has no
 * room, an observer is busy, pongs cannot be queued or the connection
 * failed. The transport keeps the rest in its input buffer, in order, and
 * calls ws_conn_input() when that buffer has bytes (or after resume).
 * Payload pointers into p stay valid until ws_conn_feed_end(), which the
 * transport calls once the read's bytes (for HTTP/2, all of a read's DATA
 * chunks for this stream) were fed.
 */
size_t	ws_conn_feed(struct ws_conn *, uint8_t *p, size_t n);
void	ws_conn_feed_end(struct ws_conn *);
/* The transport's input buffer holds bytes: feeds them, drains what went. */
void	ws_conn_input(struct ws_conn *);
/* The owner has room again after room() returned 0. */
void	ws_conn_resume(struct ws_conn *);
/* The transport's output fell below its low watermark. */
void	ws_conn_output_drained(struct ws_conn *);
/* The peer closed the transport (eof) or it failed (error). */
void	ws_conn_transport_eof(struct ws_conn *, int error);
/* The transport finished closing. */
void	ws_conn_transport_closed(struct ws_conn *);

/* Output bytes that may be queued before the high watermark. */
size_t	ws_conn_out_room(const struct ws_conn *);

/*
 * Monotonic time at which the byte at offset off of the transport input
 * (counted from the first byte not yet parsed) was read, as far as the
 * endpoint knows; for the echo route. 0 when not observed.
 */
uint64_t ws_conn_input_time(const struct ws_conn *, size_t off);

/*
 * The one way data goes out. Sends the n bytes at p (valid for the call
 * only) as data of opcode (WS_OP_TEXT or WS_OP_BINARY): first opens the
 * message, last ends it, and the call sends one frame of n bytes -- or,
 * when first and last are both set and max_frame is not 0, up to 64 whole
 * messages of at most max_frame bytes each, in one transport write (the
 * caller sends the rest with further calls). With permessage-deflate
 * agreed a message is compressed (RSV1 on its first frame), except one sent
 * whole that is below the route's minimum size or does not shrink; then
 * one message goes per call. t_src is the monotonic time the last payload
 * byte was read into wsbridge (0: now), for the frame event's delay.
 * Returns how many of the n bytes went (n unless whole messages were cut).
 * Only in WS_OPEN.
 */
size_t	ws_conn_send(struct ws_conn *, unsigned opcode, int first, int last,
	    const uint8_t *p, size_t n, size_t max_frame, uint64_t t_src);

/*
 * Turns on permessage-deflate as agreed in the handshake (p) with the
 * route's settings (opts, copied): RSV1 becomes legal on the first frame of
 * a data message, such messages are inflated as they arrive, and
 * ws_conn_send() compresses. Call before the first input is parsed.
 */
void	ws_conn_set_deflate(struct ws_conn *, const struct ws_deflate_params *p,
	    const struct ws_deflate_opts *opts);

/* zlib bytes this endpoint holds now (*peak: at most so far); 0 if none. */
size_t	ws_conn_deflate_memory(const struct ws_conn *, size_t *peak);

/*
 * Starts the close handshake with code and reason (NULL: none). In
 * WS_OPEN sends a close frame and waits for the peer's; otherwise does
 * nothing. abort_after: do not wait for the peer (failing the connection).
 */
void	ws_conn_close(struct ws_conn *, uint16_t code, const char *reason,
	    int fail);

/*
 * The inbound data message being received, for stats: returns 0 between
 * messages, else 1 with *known the payload length its frame headers have
 * announced so far (its size when *final), *received the bytes handed on.
 */
int	ws_conn_rx_msg(const struct ws_conn *, uint64_t *known,
	    uint64_t *received, int *final);

enum ws_state		 ws_conn_state(const struct ws_conn *);
const char		*ws_state_str(enum ws_state);
const struct ws_counters *ws_conn_counters(const struct ws_conn *);

#endif
