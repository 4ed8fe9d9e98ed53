/* backend.h -- connecting to a route's target: TCP (async DNS), TLS over TCP, or unix socket. */
#ifndef BACKEND_H
#define BACKEND_H

#include <stddef.h>

struct bufferevent;
struct worker;
struct target;
struct backend_req;

/*
 * Connect result: on success bev is connected and owned by the callee
 * (status 0); otherwise bev is NULL, status is 502 (refused, unreachable,
 * name not found) or 504 (timed out) and why says what happened.
 */
typedef void backend_cb(void *arg, struct bufferevent *bev, int status,
    const char *why);

/*
 * Starts connecting to tg (not TARGET_ECHO) with a deadline. pre[0..prelen)
 * (copied; a PROXY header, or none) is written on the connected socket
 * before anything else, before a TLS handshake too. cb is always called
 * exactly once from the event loop, unless backend_cancel() is called
 * first. The request frees itself after calling cb.
 */
struct backend_req *backend_connect(struct worker *w, const struct target *tg,
	    unsigned timeout_ms, const void *pre, size_t prelen,
	    backend_cb *cb, void *arg);

/* Cancels a pending request; cb will not be called. */
void	backend_cancel(struct backend_req *req);

#endif
