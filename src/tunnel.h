/*
 * tunnel.h -- the bridge between one WebSocket endpoint and one backend:
 * message payload to backend bytes and back, watermarks both ways, and the
 * close-code mapping.
 */
#ifndef TUNNEL_H
#define TUNNEL_H

#include <sys/queue.h>
#include <stdint.h>

#include "stats.h"

struct worker;
struct config;
struct route;
struct ws_deflate_params;
struct ws_transport_ops;
struct conn_facts;
struct metrics_tunnel;

enum tunnel_state {
	TUNNEL_CONNECTING = 0,	/* backend connect in flight; no 101/200 sent yet */
	TUNNEL_OPEN,		/* both directions flowing, under watermarks */
	TUNNEL_DRAINING,	/* one side closed; flushing the other, then close */
	TUNNEL_CLOSED,		/* freed on the next loop pass, never in a callback */
};

/*
 * Result of tunnel_connect: status 0 when the backend is ready, else the
 * HTTP status to answer with (502 unreachable, 504 timed out).
 */
typedef void tunnel_connect_cb(void *arg, int status);

/*
 * Creates a tunnel on route rt of cfg (a reference is taken) and starts
 * connecting its backend; cb(arg, status) is called from the event loop,
 * never from inside this call. f: what the transport knows of the
 * connection (conn_facts_request, borrowed; the tunnel adds the route and
 * the backend to its own copy). The caller owns the tunnel until
 * tunnel_attach() or tunnel_abort().
 */
struct tunnel	*tunnel_new(struct worker *w, struct config *cfg,
		    const struct route *rt, const struct conn_facts *f,
		    uint64_t id, tunnel_connect_cb *cb, void *arg);

/*
 * Starts the WebSocket on transport tr (ops) once the handshake response is
 * queued. The tunnel now owns the transport and frees it (ops->free) when
 * both sides are done. Input already buffered in the transport is parsed.
 */
void	tunnel_attach(struct tunnel *t, const struct ws_transport_ops *ops,
	    void *tr);

/*
 * permessage-deflate was agreed in the handshake (p, copied; see
 * ws_deflate_negotiate). Call before tunnel_attach().
 */
void	tunnel_set_deflate(struct tunnel *t, const struct ws_deflate_params *p);

/* Abandons a tunnel before attach (handshake failed or client left). */
void	tunnel_abort(struct tunnel *t);

/* Graceful shutdown: every open tunnel sends close 1001, then drains. */
void	tunnel_shutdown_all(struct worker *w);

/* At exit, after the loop: frees every tunnel left (deadline passed). */
void	tunnel_free_all(struct worker *w);

/*
 * What the control socket shows of a tunnel, borrowed until the tunnel is
 * freed; NULL when unknown. Queue lengths are bytes now.
 */
struct tunnel_info {
	uint64_t		 id;
	const struct conn_facts	*facts;
	const char		*state;		/* tunnel_state_str() */
	const char		*ws_state;	/* ws_state_str(), or NULL */
	const char		*closed_by;
	uint64_t		 t_start, t_open;	/* monotonic ns */
	uint64_t		 t_start_wall;	/* ns since the epoch */
	const struct ws_counters *c;		/* NULL before open */
	struct stats_conn	*st;		/* NULL without a control socket */
	uint64_t		 be_in, be_out;	/* backend bytes */
	size_t			 q_client_out;	/* in the client transport's output */
	size_t			 q_client_in;	/* client bytes not yet parsed */
	size_t			 q_backend_out;	/* waiting for the backend socket */
	size_t			 q_backend_in;	/* backend bytes not yet framed */
	int			 fd;		/* client socket, -1 */
	int			 h2;		/* an HTTP/2 stream: fc is set */
	struct h2_stream_fc	 fc;		/* its flow-control waits, now */
	int			 rx_msg;	/* an inbound message in progress */
	uint64_t		 rx_known, rx_received;
	int			 rx_final;
};

/* Fills ti from t. */
void	tunnel_info(struct tunnel *t, struct tunnel_info *ti);
/* What the admin endpoint's metrics count of t (metrics.h). */
void	tunnel_metrics(const struct tunnel *t, struct metrics_tunnel *mt);
/* Walks w->tunnels (NULL at the end). */
struct tunnel	*tunnel_first(struct worker *w);
struct tunnel	*tunnel_next(struct tunnel *t);
uint64_t	 tunnel_id(const struct tunnel *t);
struct stats_conn *tunnel_stats(struct tunnel *t);

/* Transport hooks for the h1/h2 transports: forward to the endpoint. */
struct ws_conn	*tunnel_ws(struct tunnel *t);

const char	*tunnel_state_str(enum tunnel_state);

#endif
