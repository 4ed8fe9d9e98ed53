/*
 * h2conn.h -- one client connection over HTTP/2 (RFC 9113): an nghttp2
 * server session whose extended CONNECT streams (RFC 8441) are WebSockets,
 * each bridged by its own tunnel through a stream transport.
 */
#ifndef H2CONN_H
#define H2CONN_H

#include <stdint.h>

struct bufferevent;
struct config;
struct worker;
struct h2conn;
struct h2stream;
struct h2_stream_fc;

/* The same from the connection's side: time any stream waited on the
 * client's connection window, and who used it last. */
struct h2_conn_fc {
	uint64_t	conn_wait_ns;		/* some stream had data, window 0 */
	uint32_t	conn_waits;
	int32_t		last_window_user;	/* stream whose DATA emptied it last */
	uint64_t	data_in, data_out;	/* DATA payload, all streams */
	uint32_t	streams_total;		/* streams opened by the client */
	uint32_t	streams_refused;	/* over the limits */
};

/*
 * Takes over a client connection speaking HTTP/2: ALPN chose h2, or its
 * first bytes (still in bev's input) are the connection preface. bev is
 * moved to us (its callbacks are replaced); a reference on cfg is taken.
 * The connection is already counted in w->nconns; we uncount it when
 * freed. conn: the connection's addresses (peer, local), copied.
 */
struct conn_facts;
void	h2conn_take(struct worker *w, struct bufferevent *bev,
	    struct config *cfg, uint64_t id, const struct conn_facts *conn,
	    int tls);

/*
 * SIGTERM: open WebSockets are closed by tunnel_shutdown_all() (1001),
 * streams still connecting their backend and new ones get 503; once its
 * streams have ended each connection sends GOAWAY(NO_ERROR) and closes.
 */
void	h2conn_shutdown_all(struct worker *w);

/* At exit, after tunnel_free_all(): frees every connection left. */
void	h2conn_free_all(struct worker *w);

/* A snapshot of a stream's flow-control record at time now (now_ns()). */
void	h2stream_fc(const struct h2stream *s, uint64_t now,
	    struct h2_stream_fc *out);

#endif
