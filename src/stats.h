/*
 * stats.h -- live statistics for the control socket and the dashboard:
 * counters and rates over one-second buckets, log2 frame-size histograms,
 * and head-of-line measurements of the byte queues inside wsbridge, per
 * connection (or HTTP/2 stream) and direction. Sans-I/O: callers pass the
 * time (now_ns()) and the byte counts; nothing here reads a socket or a
 * clock, so every number is unit-tested as data. Kept only while a control
 * socket is configured: without one no tunnel has a struct stats_conn.
 * docs/dashboard.md defines each metric.
 */
#ifndef STATS_H
#define STATS_H

#include <stddef.h>
#include <stdint.h>

#define STATS_HIST	34	/* log2 buckets: 0, 1, 2-3, ..., >= 2^32 */
#define STATS_SECS	41	/* one-second buckets: 40 full + the current */
#define STATS_MARKS	16	/* timed pieces per queue; more are merged */
#define STATS_MSGS	8	/* finished messages remembered per direction */
#define STATS_FRAMES	32	/* recent frames (detail view), when asked */
#define STATS_HOL_BUCKETS 10	/* head-of-line waits: stats_hol_bounds + 1 */

enum stats_dir {
	STATS_IN = 0,		/* client -> wsbridge -> backend */
	STATS_OUT,		/* backend (or echo) -> wsbridge -> client */
};

/* What a piece of a queue is. */
enum stats_kind {
	STATS_K_OTHER = 0,	/* not WebSocket framing (the 101 response) */
	STATS_K_DATA,		/* payload (and header) of a data message */
	STATS_K_CONTROL,	/* a control frame: ping, pong, close */
};

/* One piece of a queue: bytes up to end, queued at t. */
struct stats_mark {
	uint64_t	end;		/* queue offset just after the piece */
	uint64_t	t;		/* when it was queued (control: when
					   the frame that caused it was read) */
	uint64_t	tq;		/* when it was queued, always */
	uint32_t	msg_no;		/* data: its message; 0 otherwise */
	uint32_t	blocker;	/* message at the head when queued, 0 */
	uint32_t	payload;	/* data: payload bytes in the piece */
	uint8_t		kind;		/* enum stats_kind */
	uint8_t		opcode;		/* control: the opcode */
	uint8_t		first;		/* holds the message's first byte */
	uint8_t		last;		/* holds the message's last byte */
};

/* A message that finished leaving wsbridge. */
struct stats_msg {
	uint64_t	msg_no;
	uint64_t	size;		/* payload bytes */
	uint64_t	t_first;	/* its first byte was queued */
	uint64_t	t_done;		/* its last byte left wsbridge */
	uint64_t	delay_next;	/* how long the next message waited
					   behind it; 0 if none was queued */
	int		next_known;	/* delay_next is final */
};

/*
 * One direction's byte queue inside wsbridge: client output buffer (out) or
 * backend output buffer (in). Bytes are marked when queued and taken when
 * written to the socket (h1), handed to HTTP/2 framing (h2 stream), or to
 * the backend socket (in).
 */
struct stats_q {
	uint64_t		added;		/* bytes marked so far */
	uint64_t		taken;		/* bytes written so far */
	struct stats_mark	m[STATS_MARKS];
	unsigned		head, n;
	int			merged;		/* marks were merged (full) */

	/* The message whose bytes are at the head (or were last). */
	uint64_t		cur_msg, cur_size, cur_taken;
	uint64_t		cur_first_t;
	int			cur_complete;	/* its last byte is queued */
	uint64_t		msg_open;	/* being queued: message number */
	uint64_t		msg_open_size;

	/* Head-of-line results. */
	uint64_t		max_wait;	/* longest any piece waited */
	uint64_t		max_wait_t;	/* when it finished waiting */
	uint64_t		max_wait_msg;	/* the message ahead of it */
	uint64_t		max_wait_size;	/* that message's size */
	uint64_t		ctl_last, ctl_max, ctl_sum;	/* control waits */
	uint64_t		ctl_count;
	uint8_t			ctl_last_op;
	uint64_t		xfer_max;	/* longest message transfer */
	uint64_t		delay_max;	/* longest delay imposed on a next */
	uint64_t		delay_max_msg;	/* ... by this message */
	struct stats_msg	msgs[STATS_MSGS];	/* last finished */
	unsigned		msgs_head, nmsgs;
	uint64_t		msgs_done;
};

/* A finished message or control frame, for the frame log (callback). */
struct stats_done {
	enum stats_dir	 dir;
	enum stats_kind	 kind;		/* STATS_K_DATA or STATS_K_CONTROL */
	uint64_t	 msg_no;
	uint8_t		 opcode;	/* control frames */
	uint64_t	 t_queued;	/* control: when it was queued (its frame
					   event's time) */
	uint64_t	 wait_ns;	/* control: queued (or read) -> written */
	uint64_t	 size;		/* data: payload bytes */
	uint64_t	 transfer_ns;	/* data: first byte queued -> last written */
	uint64_t	 delay_next_ns;	/* data: what the next message waited */
};

/* One-second buckets for rates and sparklines. */
struct stats_secs {
	uint64_t	sec;		/* the current bucket's second */
	uint64_t	sec_ns;		/* its first nanosecond (sec * 1e9) */
	uint32_t	bytes[2][STATS_SECS];	/* by enum stats_dir */
	uint32_t	msgs[2][STATS_SECS];
	unsigned	cur;		/* index of the current bucket */
};

/* A recent frame (detail view): what Wireshark shows. */
struct stats_frame {
	uint64_t	t;		/* wall ns */
	uint64_t	len;
	uint16_t	close_code;
	uint8_t		dir, opcode, fin, rsv, masked, status;
};

struct stats_conn {
	uint64_t	 bytes[2], msgs[2], frames[2];
	uint64_t	 largest[2];	/* largest message so far */
	uint64_t	 cur_in_msg;	/* inbound message being received: bytes */
	uint64_t	 cur_out_msg;	/* outbound message being sent: bytes */
	uint32_t	 hist[2][STATS_HIST];
	struct stats_secs secs;
	struct stats_q	 q[2];
	struct stats_frame *frames_ring;	/* NULL until asked for */
	unsigned	 frames_head, nframes;
	void		(*done)(void *, const struct stats_done *);
	void		*done_arg;
};

/* Process-wide numbers. */
struct stats_global {
	uint64_t	 t_start;	/* monotonic, at start */
	uint64_t	 conns_total;
	unsigned	 open_h1_ws, open_h1_wss, open_h2_ws, open_h2_wss;
	uint64_t	 bytes[2], msgs[2], frames[2];
	uint64_t	 peak_bytes[2], peak_msgs[2];	/* best 2 full seconds
							   (a rate: / 2) */
	uint32_t	 hist[2][STATS_HIST];
	struct stats_secs secs;
	uint64_t	 ctl_max;	/* worst control-frame wait, any conn */
	/*
	 * Head-of-line waits as histograms (the admin endpoint's), by
	 * direction: hol_msg, what each message with a predecessor waited
	 * behind it (stats_msg.delay_next, 0 included); hol_ctl, each
	 * control frame's wait to be written. Bucket b counts waits up to
	 * stats_hol_bounds[b] ns, the last one the rest (not cumulative).
	 */
	uint64_t	 hol_msg[2][STATS_HOL_BUCKETS], hol_ctl[2][STATS_HOL_BUCKETS];
	uint64_t	 hol_msg_ns[2], hol_ctl_ns[2];	/* their sums */
};

/* Upper bounds (ns) of the head-of-line buckets but the last. */
extern const uint64_t stats_hol_bounds[STATS_HOL_BUCKETS - 1];

/*
 * Counts v in the histogram h of nb buckets, bucket b holding the values
 * up to bounds[b] (the last one the rest), and adds it to *sum.
 */
void	stats_observe(uint64_t *h, uint64_t *sum, const uint64_t *bounds,
	    unsigned nb, uint64_t v);

/*
 * Flow-control waits of one stream, for stats and the dashboard. Times are
 * nanoseconds, totals over the stream's life, an ongoing wait included up to
 * the snapshot.
 *
 * "Out" is towards the client: the stream had DATA queued but could not send
 * it because the client's window was closed -- its stream window (the client
 * reads that stream slowly) or, with the stream window open, the connection
 * window (other streams used it up; out_conn_blocker names the stream whose
 * DATA took the last of it when this stream's latest such wait began).
 *
 * "In" is from the client: in_stall_ns is time the stream's receive window
 * was used up because its backend had not taken the bytes yet (a slow
 * backend); the client could send nothing more on this stream meanwhile.
 */
struct h2_stream_fc {
	uint64_t	out_stream_wait_ns;	/* queued, stream window closed */
	uint64_t	out_conn_wait_ns;	/* queued, connection window closed */
	uint32_t	out_stream_waits;	/* how many waits of each kind began */
	uint32_t	out_conn_waits;
	int32_t		out_conn_blocker;	/* stream id, 0 when never blocked */
	uint64_t	in_stall_ns;		/* receive window full (backend slow) */
	uint32_t	in_stalls;
	uint64_t	data_in;		/* DATA payload received */
	uint64_t	data_out;		/* DATA payload sent */
};

/* Rates over the last w seconds (the current partial second included). */
struct stats_rates {
	double	bytes[2], msgs[2];
};

/* Which log2 bucket holds a frame of len bytes. */
unsigned	stats_hist_bucket(uint64_t len);
/* The smallest length counted in bucket b. */
uint64_t	stats_hist_floor(unsigned b);

void	stats_global_init(struct stats_global *, uint64_t now);

/*
 * Creates a connection's stats; done(arg, d) is told of each finished
 * message and control frame (may be NULL). The caller frees with
 * stats_conn_free(); stats_conn_free(NULL) is a no-op.
 */
struct stats_conn *stats_conn_new(void (*done)(void *,
		    const struct stats_done *), void *arg);
void	stats_conn_free(struct stats_conn *);
/* Starts keeping the last STATS_FRAMES frames (idempotent). */
void	stats_conn_keep_frames(struct stats_conn *);

/*
 * Payload bytes of a message moving: n bytes of its payload, first/last
 * mark the message's first and last. Inbound bytes also enter the in
 * queue when queued != 0 (a backend takes them; echo does not queue).
 */
void	stats_payload(struct stats_conn *, struct stats_global *,
	    enum stats_dir, size_t n, int first, int last, int queued,
	    uint64_t now);

/*
 * One frame: counts and histograms; outbound frames (hdr + len bytes, now
 * in the client's output) enter the out queue. plain: the payload bytes an
 * outbound data frame stands for (len, or for a compressed message what it
 * inflates to: ws_frame_event.plain_len); bytes, rates and the largest
 * message count those, as inbound counts inflated payload. For outbound
 * control frames t_src is when the frame that caused it was read (a ping
 * for a pong), or 0.
 */
void	stats_frame(struct stats_conn *, struct stats_global *,
	    enum stats_dir dir, unsigned opcode, int fin, uint64_t len,
	    uint64_t plain, unsigned hdr_len, uint64_t t_src, uint64_t now);
/* Adds a frame to the recent-frames ring, if one is kept. */
void	stats_frame_keep(struct stats_conn *, const struct stats_frame *);

/* Bytes outside WebSocket framing entered a queue (the 101 response). */
void	stats_q_other(struct stats_q *, enum stats_dir, size_t n,
	    uint64_t now);
/*
 * The queue of direction dir gave n bytes to the socket (or h2 framing).
 * Finished pieces are accounted; done() is called for messages and
 * control frames that left.
 */
void	stats_taken(struct stats_conn *, struct stats_global *,
	    enum stats_dir, size_t n, uint64_t now);

/* Bytes still queued and the age of the oldest (0 when empty). */
uint64_t	stats_q_bytes(const struct stats_q *);
uint64_t	stats_q_age(const struct stats_q *, uint64_t now);
/* Age of the oldest control frame still queued, 0 when none. */
uint64_t	stats_q_ctl_age(const struct stats_q *, uint64_t now,
		    uint8_t *opcode);
/* The message at the head of the queue, or 0; its blocker when stalled. */
uint64_t	stats_q_head_msg(const struct stats_q *);

/*
 * The message in flight at the head of the queue (0: none): its payload
 * bytes queued so far (*size), written so far (*sent), and whether its last
 * byte is queued (*complete).
 */
uint64_t	stats_q_inflight(const struct stats_q *, uint64_t *size,
		    uint64_t *sent, int *complete);

/* Moves the one-second buckets up to now (zeroing skipped seconds). */
void	stats_secs_roll(struct stats_secs *, uint64_t now);
/* Rates over the last w seconds (1 <= w < STATS_SECS). */
void	stats_secs_rates(const struct stats_secs *, uint64_t now, unsigned w,
	    struct stats_rates *);
/*
 * The last n (<= STATS_SECS - 1) full seconds' bytes of dir, oldest first,
 * into out.
 */
void	stats_secs_series(const struct stats_secs *, uint64_t now,
	    enum stats_dir dir, int msgs, unsigned n, uint32_t *out);

/* Global peaks: call about once a second (and before reading peaks). */
void	stats_global_tick(struct stats_global *, uint64_t now);

/*
 * Adds src's numbers to dst (workers: the process's totals), both rolled
 * to now. Peaks add up too: the sum of the workers' peaks, which bounds
 * the process's from above.
 */
void	stats_global_add(struct stats_global *dst,
	    const struct stats_global *src, uint64_t now);

#endif
