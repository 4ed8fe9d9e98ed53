/*
 * metrics.h -- the numbers the admin endpoint serves in Prometheus text
 * format (docs/metrics.md lists each metric). Each worker has a struct
 * metrics that only its own thread writes: plain integers bumped where
 * things happen (handshakes, TLS, HTTP/2, a tunnel's end). About once a
 * second the worker walks its live tunnels into it and publishes a copy
 * under a lock of its own; a scrape reads the published copies only, so
 * it never waits for a worker loop nor makes one wait for it. Nothing
 * here is counted per frame: bytes, messages and frames come from the
 * endpoints' own counters (ws_counters), head-of-line waits from the live
 * stats (stats.h) when a control socket keeps them.
 */
#ifndef METRICS_H
#define METRICS_H

#include <stdint.h>

struct evbuffer;
struct stats_global;
struct framelog_live;
struct metrics;

#define METRICS_ROUTES_MAX	256	/* route labels; more share "other" */
#define METRICS_CLOSES_MAX	64	/* (by, code) pairs; more: "other" */
#define METRICS_STATUS_MIN	100	/* handshake statuses counted */
#define METRICS_STATUS_MAX	599
#define METRICS_LAG_BUCKETS	11	/* metrics_lag_bounds + 1 */

/* A WebSocket's state, as the connections gauge labels it. */
enum metrics_state {
	METRICS_CONNECTING = 0,	/* backend connect; no 101/200 yet */
	METRICS_OPEN,		/* both directions flowing */
	METRICS_DRAINING,	/* a close began; flushing */
	METRICS_CLOSED,		/* ended; freed on the next loop pass */
	METRICS_NSTATES,
};

/* Who began a WebSocket's close (the closes counter's "by"). */
enum metrics_by {
	METRICS_BY_CLIENT = 0,
	METRICS_BY_BACKEND,
	METRICS_BY_WSBRIDGE,
	METRICS_NBY,
};

/* A tunnel as the walk or its end tells it (strings borrowed). */
struct metrics_tunnel {
	const char		*route;		/* the route's path */
	int			 h2;		/* an HTTP/2 stream */
	int			 tls;		/* wss:// */
	enum metrics_state	 state;
	int			 attached;	/* it answered 101/200: flow set */
	/* What the endpoint moved, by direction (in: from the client). */
	uint64_t		 payload[2], msgs[2], frames[2];
};

/* An HTTP/2 stream's flow-control waits (metrics_h2_waits). */
enum metrics_h2_wait {
	METRICS_H2_SEND_STREAM = 0,	/* DATA queued, its stream window shut */
	METRICS_H2_SEND_CONN,		/* ... the connection window shut */
	METRICS_H2_RECV_FULL,		/* its receive window full: backend slow */
	METRICS_NH2_WAITS,
};

/* The process-wide facts a scrape adds (the caller's thread). */
struct metrics_process {
	uint64_t	start_wall_ns;	/* process start, ns since the epoch */
	uint64_t	cpu_ns;		/* user + system CPU time so far */
	uint64_t	rss_bytes;	/* resident memory, 0: unknown */
	unsigned	workers;
	int		draining;	/* shutdown began, or accept-for ended */
	int		ready;		/* what /readyz says */
};

/* Upper bounds (ns) of the loop-lag buckets but the last. */
extern const uint64_t metrics_lag_bounds[METRICS_LAG_BUCKETS - 1];

/* A worker's metrics; free with metrics_free() (NULL: no-op). */
struct metrics	*metrics_new(unsigned worker_index);
void		 metrics_free(struct metrics *);

/*
 * What happened, in the worker's thread; m may be NULL (no admin
 * endpoint): then they do nothing.
 */
void	metrics_handshake(struct metrics *m, int h2, int status);
void	metrics_tls_handshake(struct metrics *m, int ok);
/* An HTTP/2 connection (+1, -1) or WebSocket stream request (+1, -1). */
void	metrics_h2_conn(struct metrics *m, int delta);
void	metrics_h2_stream(struct metrics *m, int delta);
/*
 * A tunnel is freed: its flow (if attached) moves to its route's totals;
 * closed_by ("client", "backend", "server" or NULL) and the close codes
 * received and sent (0: none) count in the closes.
 */
void	metrics_tunnel_end(struct metrics *m, const struct metrics_tunnel *t,
	    const char *closed_by, uint16_t code_in, uint16_t code_out);
/*
 * A WebSocket stream over HTTP/2 ended: its flow-control waits over its
 * life, by enum metrics_h2_wait (ns).
 */
void	metrics_h2_waits(struct metrics *m,
	    const uint64_t wait_ns[METRICS_NH2_WAITS]);
/* The worker's loop ran a timer lag_ns after it was due. */
void	metrics_lag(struct metrics *m, uint64_t lag_ns);

/*
 * Publishing, in the worker's thread: _walk_begin(), then _walk() for
 * each live tunnel, then _publish() with the worker's client sockets, its
 * live stats (NULL: none) and its frame log's health (NULL: none).
 */
void	metrics_walk_begin(struct metrics *m);
void	metrics_walk(struct metrics *m, const struct metrics_tunnel *t);
void	metrics_publish(struct metrics *m, unsigned client_sockets,
	    const struct stats_global *g, const struct framelog_live *fl);

/*
 * The Prometheus text of the published copies of ms[0..n-1] (any thread),
 * appended to out.
 */
void	metrics_render(struct evbuffer *out, struct metrics *const *ms,
	    unsigned n, const struct metrics_process *p);

#endif
