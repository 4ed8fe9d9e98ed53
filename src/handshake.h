/*
 * handshake.h -- the WebSocket opening handshake decisions shared by the
 * HTTP/1.1 Upgrade (RFC 6455 4.2) and HTTP/2 extended CONNECT (RFC 8441)
 * paths: request validation, route choice, Origin policy, subprotocol choice,
 * and the Sec-WebSocket-Accept value.
 */
#ifndef HANDSHAKE_H
#define HANDSHAKE_H

#include <stddef.h>

#include "http1.h"

struct route;	/* the program's (config.h): opaque here */

#define WS_ACCEPT_LEN	28	/* base64 of a 20-byte SHA-1 */

/*
 * What a client asked for, whichever HTTP version carried it. Strings are
 * NUL-terminated copies owned by the offer (free with ws_offer_clear); NULL
 * when the header was absent. Repeated headers are joined with ", ".
 */
struct ws_offer {
	char	*path;		/* request path, query string removed */
	char	*query;		/* query string without '?', or NULL */
	char	*host;		/* Host or :authority */
	char	*origin;
	char	*protocols;	/* Sec-WebSocket-Protocol offer list */
	char	*extensions;	/* Sec-WebSocket-Extensions offer list */
	char	*user_agent;
	char	*key;		/* Sec-WebSocket-Key (HTTP/1.1 only) */
	char	*forwarded_for;	/* X-Forwarded-For, every line joined */
	char	*forwarded;	/* Forwarded (RFC 7239), joined */
	int	 http_version;	/* 11 or 20 */
};

/* Frees the strings of an offer and zeroes it. Safe on a zeroed offer. */
void	ws_offer_clear(struct ws_offer *o);

/*
 * Checks an HTTP/1.1 request head against RFC 6455 4.2.1 and fills *o.
 * Returns 0 when it is a valid WebSocket upgrade request, or the HTTP status
 * to answer with: 405 (method not GET), 400 (HTTP/1.0, no Host, bad or
 * missing Sec-WebSocket-Key, missing version, duplicate singleton headers),
 * 426 (no Upgrade: websocket / Connection: upgrade tokens, or a
 * Sec-WebSocket-Version other than 13; answer with
 * "Sec-WebSocket-Version: 13"). *why gets a static one-line explanation for
 * the log. o->path is filled even on error when the request line was sane,
 * so the caller can log it.
 */
int	handshake_check_http1(const struct http1_request *req,
	    struct ws_offer *o, const char **why);

/*
 * An HTTP/2 request head as the h2 session collected it. Strings are
 * borrowed and NUL-terminated; NULL when the pseudo-header was absent.
 * nghttp2 has already refused what RFC 9113 8.3 calls malformed (pseudo-
 * headers after regular ones, duplicates, uppercase names, connection-
 * specific fields, a CONNECT with :path but no :protocol).
 */
struct h2_request {
	const char		*method;	/* :method */
	const char		*scheme;	/* :scheme */
	const char		*authority;	/* :authority */
	const char		*path;		/* :path */
	const char		*protocol;	/* :protocol (RFC 8441 4) */
	struct http1_request	 fields;	/* regular fields; method, target unused */
};

/*
 * Checks an HTTP/2 request against RFC 8441 4-5 and fills *o. Returns 0 for
 * a WebSocket extended CONNECT, or the status to answer with: 404 (GET or
 * HEAD: wsbridge serves no pages), 405 (any other method, or a CONNECT
 * without :protocol: no proxying here), 501 (a :protocol other than
 * websocket), 400 (bad :scheme or :path, missing or repeated
 * sec-websocket-version, more than one origin), 426 (sec-websocket-version
 * other than 13; HTTP/2 has no Upgrade, so the caller answers 400 with
 * "sec-websocket-version: 13", RFC 6455 4.4). *why gets a static reason.
 */
int	handshake_check_h2(const struct h2_request *req, struct ws_offer *o,
	    const char **why);

/* What handshake_route() applies of a route (borrowed from it). */
struct handshake_policy {
	char *const	*subprotocols;	/* ours, in preference order */
	size_t		 nsubprotocols;
	int		 require_subprotocol; /* 400 when none of ours offered */
	char *const	*origins;	/* allowed Origin values; none: any */
	size_t		 norigins;
	/* A lookup that returns NULL may say why: 0/NULL mean 404, no route. */
	int		 status;
	const char	*why;		/* static */
};

/*
 * The caller's route lookup: returns the route serving the offer (by its
 * path, and its query or Host when the route routes by token) and fills
 * *pol from it, or returns NULL when no route does. arg is the caller's.
 */
typedef const struct route *handshake_find_fn(const void *arg,
		    const struct ws_offer *o, struct handshake_policy *pol);

/*
 * Chooses the route for an offer (find(arg, o, ...)) and applies its
 * policy. Returns 0 and sets *rt (find's) and *subprotocol (borrowed from
 * the route's list, or NULL when none is agreed) on success; otherwise the
 * HTTP status: 404 (no route for the path, or the status find gave), 403
 * (Origin not in the route's allowlist). A client offering subprotocols that the route does not share
 * gets none chosen (the RFC lets the client decide), unless the route
 * requires one: then 400.
 */
int	handshake_route(handshake_find_fn *find, const void *arg,
	    const struct ws_offer *o, const struct route **rt,
	    const char **subprotocol, const char **why);

/*
 * Computes Sec-WebSocket-Accept for key (RFC 6455 4.2.2: base64 of SHA-1 of
 * key + GUID) into out, NUL-terminated. Returns 0, or -1 if OpenSSL fails.
 */
int	handshake_accept_key(const char *key, char out[WS_ACCEPT_LEN + 1]);

/* Returns 1 if key is base64 of exactly 16 bytes (24 chars, "==" pad). */
int	handshake_key_valid(const char *key);

#endif
