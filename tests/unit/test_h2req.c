/*
 * test_h2req.c -- the HTTP/2 request path without sockets: h2req's field
 * checks and collection (RFC 9113 8.2-8.3, 6.5.2), handshake_check_h2()
 * with every status it returns (RFC 8441 4-5), h2req_decide()'s order of
 * judgements, the response heads, and the SETTINGS our session sends.
 */
#include "wsb_autoconf.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include <cmocka.h>
#include <nghttp2/nghttp2.h>

#include "config.h"
#include "h2req.h"
#include "handshake.h"
#include "http1.h"
#include "util.h"

/* python3-h2 + wsproto's extended CONNECT (tests/integration/h2ws.py). */
#define GOOD								\
	":method", "CONNECT", ":protocol", "websocket",			\
	":scheme", "https", ":path", "/echo",				\
	":authority", "127.0.0.1:8443", "sec-websocket-version", "13"

#define MAX_HEAD	8192

/* Collects NULL-terminated name, value pairs into r; returns the result. */
static enum h2req_error
collectv(struct h2req *r, size_t max, const char *const *nv)
{
	enum h2req_error	e = H2REQ_OK;
	size_t			i;

	h2req_init(r, max);
	for (i = 0; nv[i] != NULL; i += 2)
		e = h2req_header(r, (const uint8_t *)nv[i], strlen(nv[i]),
		    (const uint8_t *)nv[i + 1], strlen(nv[i + 1]));
	return (e);
}

#define collect(r, ...)	collectv((r), MAX_HEAD,			\
	(const char *const[]){ __VA_ARGS__, NULL })

/* The status handshake_check_h2() gives the fields; the offer is cleared. */
static int
checkv(const char **why, const char *const *nv)
{
	struct h2req	r;
	struct ws_offer	o;
	int		rc;

	assert_int_equal(collectv(&r, MAX_HEAD, nv), H2REQ_OK);
	rc = handshake_check_h2(&r.req, &o, why);
	assert_int_equal(o.http_version, 20);
	ws_offer_clear(&o);
	h2req_clear(&r);
	return (rc);
}

#define check(why, ...)	checkv((why), (const char *const[]){ __VA_ARGS__, NULL })

/* ---- h2req_header ------------------------------------------------------- */

static void
test_collect_real_clients(void **state)
{
	struct h2req	r;
	struct ws_offer	o;
	const char	*why;

	/* Chromium's extended CONNECT, field order as it sends them. */
	assert_int_equal(collect(&r, ":method", "CONNECT",
	    ":authority", "127.0.0.1:8443", ":scheme", "https",
	    ":path", "/echo?x=1", ":protocol", "websocket",
	    "pragma", "no-cache", "cache-control", "no-cache",
	    "user-agent", "Mozilla/5.0 HeadlessChrome/120",
	    "origin", "https://127.0.0.1:8443",
	    "sec-websocket-version", "13",
	    "accept-encoding", "gzip, deflate, br",
	    "sec-websocket-extensions",
	    "permessage-deflate; client_max_window_bits",
	    "sec-websocket-protocol", "chat"), H2REQ_OK);
	assert_string_equal(r.req.method, "CONNECT");
	assert_string_equal(r.req.protocol, "websocket");
	assert_string_equal(r.req.scheme, "https");
	assert_string_equal(r.req.authority, "127.0.0.1:8443");
	assert_int_equal(r.req.fields.nheaders, 8);
	assert_int_equal(handshake_check_h2(&r.req, &o, &why), 0);
	assert_null(why);
	assert_string_equal(o.path, "/echo");
	assert_string_equal(o.query, "x=1");
	assert_string_equal(o.host, "127.0.0.1:8443");
	assert_string_equal(o.origin, "https://127.0.0.1:8443");
	assert_string_equal(o.protocols, "chat");
	assert_string_equal(o.extensions,
	    "permessage-deflate; client_max_window_bits");
	assert_string_equal(o.user_agent, "Mozilla/5.0 HeadlessChrome/120");
	assert_null(o.key);
	assert_int_equal(o.http_version, 20);
	ws_offer_clear(&o);
	h2req_clear(&r);

	/* Firefox: sec-websocket-protocol sent twice is one list. */
	assert_int_equal(collect(&r, GOOD, "sec-websocket-protocol", "a",
	    "sec-websocket-protocol", "b, c"), H2REQ_OK);
	assert_int_equal(handshake_check_h2(&r.req, &o, &why), 0);
	assert_string_equal(o.protocols, "a, b, c");
	ws_offer_clear(&o);
	h2req_clear(&r);
}

static void
test_collect_size(void **state)
{
	struct h2req	r;
	char		big[200];

	/* RFC 9113 6.5.2: name + value + 32 per field. */
	h2req_init(&r, 100);
	assert_int_equal(h2req_header(&r, (const uint8_t *)":method", 7,
	    (const uint8_t *)"CONNECT", 7), H2REQ_OK);
	assert_int_equal(r.size, 7 + 7 + 32);
	/* 46 + 54 = 100: exactly the limit is fine; one more field is not. */
	assert_int_equal(h2req_header(&r, (const uint8_t *)"x", 1,
	    (const uint8_t *)"012345678901234567890", 21), H2REQ_OK);
	assert_int_equal(r.size, 100);
	assert_int_equal(h2req_header(&r, (const uint8_t *)"y", 1,
	    (const uint8_t *)"", 0), H2REQ_TOO_LARGE);
	assert_string_equal(r.error_why, "request header list too large");
	/* Sticky; later fields are still counted for the log. */
	assert_int_equal(h2req_header(&r, (const uint8_t *)"z", 1,
	    (const uint8_t *)"", 0), H2REQ_TOO_LARGE);
	assert_int_equal(r.size, 100 + 33 + 33);
	assert_int_equal(r.req.fields.nheaders, 1);
	h2req_clear(&r);

	/* One field alone over the limit. */
	memset(big, 'b', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	assert_int_equal(collectv(&r, 128, (const char *const[]){ GOOD,
	    "x-big", big, NULL }), H2REQ_TOO_LARGE);
	h2req_clear(&r);
}

static void
test_collect_count(void **state)
{
	struct h2req	r;
	size_t		i;

	/* The fields array is HTTP/1.1's, as bounded: the 65th is 431. */
	h2req_init(&r, 1 << 20);
	for (i = 0; i < HTTP1_MAX_HEADERS; i++)
		assert_int_equal(h2req_header(&r, (const uint8_t *)"x-a", 3,
		    (const uint8_t *)"v", 1), H2REQ_OK);
	assert_int_equal(h2req_header(&r, (const uint8_t *)"x-a", 3,
	    (const uint8_t *)"v", 1), H2REQ_TOO_LARGE);
	assert_int_equal(r.req.fields.nheaders, HTTP1_MAX_HEADERS);
	h2req_clear(&r);
}

static void
test_collect_pseudo(void **state)
{
	struct h2req	r;

	/* RFC 9113 8.3: pseudo-headers first, known, once each. */
	assert_int_equal(collect(&r, ":method", "CONNECT",
	    "sec-websocket-version", "13", ":path", "/echo"), H2REQ_MALFORMED);
	assert_string_equal(r.error_why, "pseudo-header after a regular field");
	h2req_clear(&r);
	assert_int_equal(collect(&r, ":method", "CONNECT", ":status", "200"),
	    H2REQ_MALFORMED);
	assert_string_equal(r.error_why, "unknown pseudo-header");
	h2req_clear(&r);
	assert_int_equal(collect(&r, ":path", "/a", ":path", "/b"),
	    H2REQ_MALFORMED);
	assert_string_equal(r.error_why, "repeated pseudo-header");
	h2req_clear(&r);
	assert_int_equal(collect(&r, ":protocol", "websocket",
	    ":protocol", "websocket"), H2REQ_MALFORMED);
	h2req_clear(&r);
	/* The first problem sticks: a later one does not replace it. */
	assert_int_equal(collect(&r, ":x", "1", "Upper", "v"),
	    H2REQ_MALFORMED);
	assert_string_equal(r.error_why, "unknown pseudo-header");
	h2req_clear(&r);
}

static void
test_collect_names_values(void **state)
{
	struct h2req	r;
	static const char *const bad_names[] = {
		"Origin", "x y", "x:y", "x\"y", "", "x\xc3\xa9",
	};
	static const char *const hop[] = {
		"connection", "proxy-connection", "keep-alive",
		"transfer-encoding", "upgrade",
	};
	size_t		i;

	for (i = 0; i < nitems(bad_names); i++) {
		assert_int_equal(collect(&r, ":method", "CONNECT",
		    bad_names[i], "v"), H2REQ_MALFORMED);
		h2req_clear(&r);
	}
	/* Every tchar is fine. */
	assert_int_equal(collect(&r, "!#$%&'*+-.^_`|~09az", "v"), H2REQ_OK);
	h2req_clear(&r);
	/* RFC 9113 8.2.2. */
	for (i = 0; i < nitems(hop); i++) {
		assert_int_equal(collect(&r, hop[i], "x"), H2REQ_MALFORMED);
		assert_string_equal(r.error_why, "connection-specific field");
		h2req_clear(&r);
	}
	assert_int_equal(collect(&r, "te", "trailers"), H2REQ_OK);
	h2req_clear(&r);
	assert_int_equal(collect(&r, "te", "gzip"), H2REQ_MALFORMED);
	h2req_clear(&r);

	/* RFC 9113 8.2.1 values: no CR, LF, NUL, or edge whitespace. */
	assert_int_equal(collect(&r, "x", "a\r\nInjected: 1"),
	    H2REQ_MALFORMED);
	h2req_clear(&r);
	assert_int_equal(collect(&r, ":path", "/a\nb"), H2REQ_MALFORMED);
	h2req_clear(&r);
	assert_int_equal(collect(&r, "x", " a"), H2REQ_MALFORMED);
	h2req_clear(&r);
	assert_int_equal(collect(&r, "x", "a\t"), H2REQ_MALFORMED);
	h2req_clear(&r);
	assert_int_equal(collect(&r, "x", "a b\tc"), H2REQ_OK);
	h2req_clear(&r);
	assert_int_equal(collect(&r, "x", ""), H2REQ_OK);
	h2req_clear(&r);

	/* A NUL would cut the copy short: /echo\0/../admin is not /echo. */
	h2req_init(&r, MAX_HEAD);
	assert_int_equal(h2req_header(&r, (const uint8_t *)":path", 5,
	    (const uint8_t *)"/echo\0/x", 8), H2REQ_MALFORMED);
	assert_null(r.req.path);
	h2req_clear(&r);

	/* Non-ASCII bytes in values are the application's business. */
	assert_int_equal(collect(&r, "user-agent", "caf\xc3\xa9"), H2REQ_OK);
	assert_int_equal(r.req.fields.headers[0].value_len, 5);
	h2req_clear(&r);
}

static void
test_clear_twice(void **state)
{
	struct h2req	r;

	memset(&r, 0, sizeof r);
	h2req_clear(&r);
	assert_int_equal(collect(&r, GOOD), H2REQ_OK);
	h2req_clear(&r);
	h2req_clear(&r);
	assert_null(r.strs);
}

/* ---- handshake_check_h2: every status ------------------------------------ */

static void
test_check_h2_ok(void **state)
{
	const char	*why = "x";

	assert_int_equal(check(&why, GOOD), 0);
	assert_null(why);
	/* :protocol is a token, compared case-insensitively. */
	assert_int_equal(check(&why, ":method", "CONNECT",
	    ":protocol", "WebSocket", ":scheme", "http", ":path", "/",
	    ":authority", "h", "sec-websocket-version", "13"), 0);
}

static void
test_check_h2_404(void **state)
{
	const char	*why;

	assert_int_equal(check(&why, ":method", "GET", ":scheme", "https",
	    ":path", "/", ":authority", "h"), 404);
	assert_string_equal(why,
	    "no page here: WebSockets use extended CONNECT");
	assert_int_equal(check(&why, ":method", "HEAD", ":scheme", "https",
	    ":path", "/echo", ":authority", "h"), 404);
}

static void
test_check_h2_405(void **state)
{
	const char	*why;

	assert_int_equal(check(&why, ":method", "POST", ":scheme", "https",
	    ":path", "/echo", ":authority", "h"), 405);
	assert_string_equal(why, "method is not CONNECT");
	/* Methods are case-sensitive. */
	assert_int_equal(check(&why, ":method", "connect",
	    ":protocol", "websocket", ":scheme", "https", ":path", "/echo",
	    ":authority", "h", "sec-websocket-version", "13"), 405);
	/* A plain CONNECT asks for a proxy: not here. */
	assert_int_equal(check(&why, ":method", "CONNECT",
	    ":authority", "example.com:443"), 405);
	assert_string_equal(why, "CONNECT without :protocol (not a proxy)");
}

static void
test_check_h2_501(void **state)
{
	const char	*why;

	assert_int_equal(check(&why, ":method", "CONNECT",
	    ":protocol", "h3-datagram", ":scheme", "https", ":path", "/echo",
	    ":authority", "h", "sec-websocket-version", "13"), 501);
	assert_string_equal(why, ":protocol is not websocket");
}

static void
test_check_h2_400(void **state)
{
	const char	*why;

	assert_int_equal(check(&why, "x", "y"), 400);
	assert_string_equal(why, "no :method");
	assert_int_equal(check(&why, ":method", "CONNECT",
	    ":protocol", "websocket", ":scheme", "ftp", ":path", "/echo",
	    ":authority", "h", "sec-websocket-version", "13"), 400);
	assert_string_equal(why, ":scheme is not https or http");
	assert_int_equal(check(&why, ":method", "CONNECT",
	    ":protocol", "websocket", ":path", "/echo",
	    ":authority", "h", "sec-websocket-version", "13"), 400);
	assert_string_equal(why, ":scheme is not https or http");
	assert_int_equal(check(&why, ":method", "CONNECT",
	    ":protocol", "websocket", ":scheme", "https", ":path", "*",
	    ":authority", "h", "sec-websocket-version", "13"), 400);
	assert_string_equal(why, ":path is not origin-form");
	assert_int_equal(check(&why, ":method", "CONNECT",
	    ":protocol", "websocket", ":scheme", "https",
	    ":authority", "h", "sec-websocket-version", "13"), 400);
	assert_string_equal(why, ":path is not origin-form");
	assert_int_equal(check(&why, ":method", "CONNECT",
	    ":protocol", "websocket", ":scheme", "https", ":path", "/echo",
	    "sec-websocket-version", "13"), 400);
	assert_string_equal(why, "missing :authority");
	assert_int_equal(check(&why, ":method", "CONNECT",
	    ":protocol", "websocket", ":scheme", "https", ":path", "/echo",
	    ":authority", "h"), 400);
	assert_string_equal(why, "missing Sec-WebSocket-Version");
	assert_int_equal(check(&why, GOOD, "sec-websocket-version", "13"),
	    400);
	assert_string_equal(why, "more than one Sec-WebSocket-Version");
	assert_int_equal(check(&why, GOOD, "origin", "https://a.example",
	    "origin", "https://b.example"), 400);
	assert_string_equal(why, "more than one Origin");
}

static void
test_check_h2_426(void **state)
{
	const char	*why;

	assert_int_equal(check(&why, ":method", "CONNECT",
	    ":protocol", "websocket", ":scheme", "https", ":path", "/echo",
	    ":authority", "h", "sec-websocket-version", "8"), 426);
	assert_string_equal(why, "Sec-WebSocket-Version is not 13");
	assert_int_equal(check(&why, ":method", "CONNECT",
	    ":protocol", "websocket", ":scheme", "https", ":path", "/echo",
	    ":authority", "h", "sec-websocket-version", "130"), 426);
}

/* ---- h2req_decide ---------------------------------------------------------- */

static struct config *
test_config(void)
{
	static const char *const lines[] = {
		"listen 8080",
		"route /echo echo subprotocols=chat,superchat",
		"route /only echo origins=https://good.example",
		"route /req echo subprotocols=mqtt require-subprotocol=yes",
	};
	struct config	*cfg;
	char		*cause = NULL;
	size_t		 i;

	cfg = config_new();
	for (i = 0; i < nitems(lines); i++) {
		if (config_parse_line(cfg, lines[i], "t.conf", (int)i + 1,
		    &cause) != 0)
			fail_msg("%s: %s", lines[i], cause);
	}
	if (config_finish(cfg, &cause) != 0)
		fail_msg("%s", cause);
	return (cfg);
}

/* h2req_decide() on the fields with flags; checks the result's shape. */
static int
decidev(const struct config *cfg, int flags, const char **why,
    const char **sub, const char *const *nv)
{
	struct h2req		 r;
	struct ws_offer		 o;
	const struct route	*rt;
	int			 rc;

	(void)collectv(&r, 512, nv);
	rc = h2req_decide(&r, config_route_policy, cfg, flags, &o, &rt, sub,
	    why);
	if (rc == 0) {
		assert_non_null(rt);
		assert_null(*why);
	} else {
		assert_null(rt);
		assert_null(*sub);
		assert_non_null(*why);
	}
	ws_offer_clear(&o);
	h2req_clear(&r);
	return (rc);
}

#define ACK	H2REQ_SETTINGS_ACKED
#define decide(cfg, flags, why, sub, ...) decidev((cfg), (flags), (why),	\
	(sub), (const char *const[]){ __VA_ARGS__, NULL })

static void
test_decide(void **state)
{
	struct config	*cfg = test_config();
	const char	*why, *sub;
	char		 big[600];

	assert_int_equal(decide(cfg, ACK, &why, &sub, GOOD,
	    "sec-websocket-protocol", "superchat, chat"), 0);
	assert_string_equal(sub, "chat");	/* our order wins */
	assert_int_equal(decide(cfg, ACK, &why, &sub, GOOD), 0);
	assert_null(sub);

	/* RFC 8441 3: :protocol before the client saw our SETTINGS. */
	assert_int_equal(decide(cfg, 0, &why, &sub, GOOD), H2REQ_RESET);
	assert_string_equal(why,
	    "extended CONNECT before our SETTINGS were acknowledged");
	/* Without :protocol there is nothing to have seen: judged as usual. */
	assert_int_equal(decide(cfg, 0, &why, &sub, ":method", "GET",
	    ":scheme", "https", ":path", "/", ":authority", "h"), 404);

	/* Malformed (RFC 9113 8.1.1) and too large come first. */
	assert_int_equal(decide(cfg, ACK, &why, &sub, GOOD, ":path", "/x"),
	    H2REQ_RESET);
	assert_string_equal(why, "pseudo-header after a regular field");
	assert_int_equal(decide(cfg, ACK, &why, &sub, ":path", "/x", GOOD),
	    H2REQ_RESET);
	assert_string_equal(why, "repeated pseudo-header");
	memset(big, 'b', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	assert_int_equal(decide(cfg, ACK, &why, &sub, GOOD, "x-big", big),
	    431);
	assert_int_equal(decide(cfg, 0, &why, &sub, GOOD, "x-big", big),
	    431);
	/* Extended CONNECT missing a pseudo-header: reset, not a status. */
	assert_int_equal(decide(cfg, ACK, &why, &sub, ":method", "CONNECT",
	    ":protocol", "websocket", ":scheme", "https", ":path", "/echo",
	    "sec-websocket-version", "13"), H2REQ_RESET);
	assert_int_equal(decide(cfg, ACK, &why, &sub, ":method", "CONNECT",
	    ":protocol", "websocket", ":authority", "h", ":path", "/echo",
	    "sec-websocket-version", "13"), H2REQ_RESET);

	/* handshake_check_h2() then handshake_route(). */
	assert_int_equal(decide(cfg, ACK, &why, &sub, ":method", "POST",
	    ":scheme", "https", ":path", "/echo", ":authority", "h"), 405);
	assert_int_equal(decide(cfg, ACK, &why, &sub, ":method", "CONNECT",
	    ":protocol", "websocket", ":scheme", "https", ":path", "/nowhere",
	    ":authority", "h", "sec-websocket-version", "13"), 404);
	assert_string_equal(why, "no route for path");
	assert_int_equal(decide(cfg, ACK, &why, &sub, ":method", "CONNECT",
	    ":protocol", "websocket", ":scheme", "https", ":path", "/only",
	    ":authority", "h", "sec-websocket-version", "13",
	    "origin", "https://evil.example"), 403);
	assert_int_equal(decide(cfg, ACK, &why, &sub, ":method", "CONNECT",
	    ":protocol", "websocket", ":scheme", "https", ":path", "/only",
	    ":authority", "h", "sec-websocket-version", "13",
	    "origin", "https://GOOD.example"), 0);
	assert_int_equal(decide(cfg, ACK, &why, &sub, ":method", "CONNECT",
	    ":protocol", "websocket", ":scheme", "https", ":path", "/req",
	    ":authority", "h", "sec-websocket-version", "13",
	    "sec-websocket-protocol", "chat"), 400);
	assert_string_equal(why, "no acceptable subprotocol offered");

	/* Then END_STREAM, then shutting down. */
	assert_int_equal(decide(cfg, ACK | H2REQ_END_STREAM, &why, &sub,
	    GOOD), 400);
	assert_string_equal(why, "END_STREAM on a WebSocket CONNECT");
	assert_int_equal(decide(cfg, ACK | H2REQ_STOPPING, &why, &sub, GOOD),
	    503);
	assert_int_equal(decide(cfg, ACK | H2REQ_STOPPING, &why, &sub,
	    ":method", "GET", ":scheme", "https", ":path", "/",
	    ":authority", "h"), 404);
	config_free(cfg);
}

/* ---- h2resp --------------------------------------------------------------- */

static const char *
field(const struct h2resp *resp, const char *name)
{
	static char	value[256];
	size_t		i;

	for (i = 0; i < resp->nnv; i++) {
		if (resp->nv[i].namelen == strlen(name) &&
		    memcmp(resp->nv[i].name, name, strlen(name)) == 0) {
			snprintf(value, sizeof value, "%.*s",
			    (int)resp->nv[i].valuelen, resp->nv[i].value);
			return (value);
		}
	}
	return (NULL);
}

static void
test_resp(void **state)
{
	struct h2resp		resp;
	struct h2_request	get = { .method = "GET" };
	struct h2_request	head = { .method = "HEAD" };
	char			len[24];

	h2resp_accept(&resp, NULL);
	assert_int_equal(resp.nnv, 1);
	assert_string_equal(field(&resp, ":status"), "200");
	assert_false(resp.has_body);
	h2resp_accept(&resp, "chat");
	assert_string_equal(field(&resp, "sec-websocket-protocol"), "chat");
	/* The deflate work adds its answer the same way. */
	h2resp_add(&resp, "sec-websocket-extensions", "permessage-deflate");
	assert_int_equal(resp.nnv, 3);

	h2resp_error(&resp, &get, 404, "no route for path");
	assert_string_equal(field(&resp, ":status"), "404");
	assert_true(resp.has_body);
	assert_memory_equal(resp.body, "404 Not Found: no route for path\n",
	    resp.body_len);
	snprintf(len, sizeof len, "%zu", resp.body_len);
	assert_string_equal(field(&resp, "content-length"), len);
	assert_string_equal(field(&resp, "content-type"),
	    "text/plain; charset=utf-8");
	assert_null(field(&resp, "allow"));
	assert_null(field(&resp, "sec-websocket-version"));

	h2resp_error(&resp, &get, 405, "method is not CONNECT");
	assert_string_equal(field(&resp, "allow"), "CONNECT");

	/* 426 has no meaning without Upgrade: 400 naming our version. */
	h2resp_error(&resp, &get, 426, "Sec-WebSocket-Version is not 13");
	assert_int_equal(resp.status, 400);
	assert_string_equal(field(&resp, ":status"), "400");
	assert_string_equal(field(&resp, "sec-websocket-version"), "13");
	h2resp_error(&resp, &get, 400, "missing Sec-WebSocket-Version");
	assert_string_equal(field(&resp, "sec-websocket-version"), "13");

	/* HEAD: the same head, content-length included, and no body. */
	h2resp_error(&resp, &head, 404, "no page here");
	assert_false(resp.has_body);
	assert_int_equal(resp.body_len, 0);
	assert_string_equal(field(&resp, "content-length"), "28");

	/* A long reason is cut, never overrun. */
	h2resp_error(&resp, &get, 502, "a reason longer than the body buffer "
	    "......................................................................"
	    "......................................................................"
	    "......................................................................");
	assert_int_equal(resp.body_len, sizeof resp.body - 1);
}

/* ---- the session ------------------------------------------------------------ */

struct sink {
	uint8_t	buf[512];
	size_t	len;
};

static ssize_t
sink_send(nghttp2_session *sess, const uint8_t *data, size_t len, int flags,
    void *arg)
{
	struct sink	*k = arg;

	len = MIN(len, sizeof k->buf - k->len);
	memcpy(k->buf + k->len, data, len);
	k->len += len;
	return ((ssize_t)len);
}

static void
test_session_settings(void **state)
{
	nghttp2_session_callbacks	*cb;
	nghttp2_session			*sess;
	struct config			*cfg = test_config();
	struct h2req_limits		 lim;
	struct sink			 k = { .len = 0 };
	size_t				 off, n;
	uint32_t			 got[9] = { 0 };
	uint16_t			 id;

	assert_int_equal(nghttp2_session_callbacks_new(&cb), 0);
	nghttp2_session_callbacks_set_send_callback(cb, sink_send);
	lim.window = cfg->buffer_size;
	lim.max_streams = cfg->h2_max_streams;
	lim.max_head = cfg->max_head;
	sess = h2req_session_new(cb, &k, &lim, 0);
	nghttp2_session_callbacks_del(cb);
	assert_non_null(sess);
	assert_int_equal(nghttp2_session_send(sess), 0);

	/*
	 * First frame: SETTINGS on stream 0, five entries, the stream limit
	 * under its placeholder id until h2req_settings_fix(), once.
	 */
	assert_true(k.len >= 9);
	assert_int_equal(h2req_settings_fix(k.buf, 8), 0);	/* cut short */
	assert_int_equal(h2req_settings_fix(k.buf, k.len), 1);
	assert_int_equal(h2req_settings_fix(k.buf, k.len), 0);
	n = (size_t)k.buf[0] << 16 | (size_t)k.buf[1] << 8 | k.buf[2];
	assert_int_equal(k.buf[3], NGHTTP2_SETTINGS);
	assert_int_equal(n, 5 * 6);
	for (off = 9; off < 9 + n; off += 6) {
		id = (uint16_t)(k.buf[off] << 8 | k.buf[off + 1]);
		assert_true(id < nitems(got));
		got[id] = (uint32_t)k.buf[off + 2] << 24 |
		    (uint32_t)k.buf[off + 3] << 16 |
		    (uint32_t)k.buf[off + 4] << 8 | k.buf[off + 5];
	}
	assert_int_equal(got[NGHTTP2_SETTINGS_ENABLE_CONNECT_PROTOCOL], 1);
	assert_int_equal(got[NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS],
	    cfg->h2_max_streams);
	assert_int_equal(got[NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE],
	    cfg->buffer_size);
	assert_int_equal(got[NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE],
	    cfg->max_head);
	assert_int_equal(got[NGHTTP2_SETTINGS_MAX_FRAME_SIZE], 65536);
	/* Then the connection window: WINDOW_UPDATE on stream 0. */
	off = 9 + n;
	assert_true(k.len >= off + 13);
	assert_int_equal(k.buf[off + 3], NGHTTP2_WINDOW_UPDATE);
	assert_int_equal(h2req_settings_fix(k.buf + off, 13), 0);
	/* A SETTINGS ACK is never touched. */
	k.buf[4] = NGHTTP2_FLAG_ACK;
	assert_int_equal(h2req_settings_fix(k.buf, k.len), 0);
	nghttp2_session_del(sess);
	config_free(cfg);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_collect_real_clients),
		cmocka_unit_test(test_collect_size),
		cmocka_unit_test(test_collect_count),
		cmocka_unit_test(test_collect_pseudo),
		cmocka_unit_test(test_collect_names_values),
		cmocka_unit_test(test_clear_twice),
		cmocka_unit_test(test_check_h2_ok),
		cmocka_unit_test(test_check_h2_404),
		cmocka_unit_test(test_check_h2_405),
		cmocka_unit_test(test_check_h2_501),
		cmocka_unit_test(test_check_h2_400),
		cmocka_unit_test(test_check_h2_426),
		cmocka_unit_test(test_decide),
		cmocka_unit_test(test_resp),
		cmocka_unit_test(test_session_settings),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
