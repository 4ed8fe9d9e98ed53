/* test_handshake.c -- RFC 6455 handshake checks, route and Origin policy, subprotocol choice. */
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

#include "config.h"
#include "handshake.h"
#include "http1.h"
#include "util.h"

#define KEY	"dGhlIHNhbXBsZSBub25jZQ=="

/* The head every check test starts from, with extra header lines spliced in. */
#define HEAD(line, extra)						\
	line "\r\n"							\
	extra								\
	"\r\n"

#define GOOD_HEADERS							\
	"Host: example.com\r\n"						\
	"Upgrade: websocket\r\n"					\
	"Connection: Upgrade\r\n"					\
	"Sec-WebSocket-Version: 13\r\n"					\
	"Sec-WebSocket-Key: " KEY "\r\n"

/* Buffer the request heads live in while the test looks at the offer. */
static char			 head_buf[4096];
static struct http1_request	 head_req;

/* Parses s (which must be a valid head) into head_req. */
static const struct http1_request *
head(const char *s)
{
	size_t	len = strlen(s);

	assert_true(len < sizeof head_buf);
	memcpy(head_buf, s, len);
	assert_int_equal(http1_parse_request(head_buf, len, sizeof head_buf,
	    &head_req), len);
	return (&head_req);
}

/* Checks s and returns the status; the offer is cleared afterwards. */
static int
check(const char *s, const char **why)
{
	struct ws_offer	o;
	int		rc;

	rc = handshake_check_http1(head(s), &o, why);
	ws_offer_clear(&o);
	return (rc);
}

static void
expect_status(const char *s, int status, const char *why_part)
{
	const char	*why = NULL;
	int		 rc;

	rc = check(s, &why);
	if (rc != status)
		fail_msg("got %d (%s), want %d for:\n%s", rc,
		    why != NULL ? why : "-", status, s);
	if (why_part != NULL) {
		assert_non_null(why);
		if (strstr(why, why_part) == NULL)
			fail_msg("why \"%s\" lacks \"%s\"", why, why_part);
	}
}

static void
test_accept_key_rfc(void **state)
{
	char	out[WS_ACCEPT_LEN + 1];

	(void)state;
	/* RFC 6455 1.3. */
	assert_int_equal(handshake_accept_key(KEY, out), 0);
	assert_string_equal(out, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
	assert_int_equal(strlen(out), WS_ACCEPT_LEN);
	/* The other widely quoted pair. */
	assert_int_equal(handshake_accept_key("x3JJHMbDL1EzLkh9GBhXDw==", out),
	    0);
	assert_string_equal(out, "HSmrc0sMlYUkAGmm5OPpG2HaGWk=");
}

static void
test_key_valid(void **state)
{
	(void)state;
	assert_true(handshake_key_valid(KEY));
	assert_true(handshake_key_valid("x3JJHMbDL1EzLkh9GBhXDw=="));
	assert_true(handshake_key_valid("AAAAAAAAAAAAAAAAAAAAAA=="));
	assert_true(handshake_key_valid("+/+/+/+/+/+/+/+/+/+/+w=="));
	/* 23 and 25 characters. */
	assert_false(handshake_key_valid("dGhlIHNhbXBsZSBub25jZQ="));
	assert_false(handshake_key_valid("dGhlIHNhbXBsZSBub25jZQ==="));
	assert_false(handshake_key_valid("AdGhlIHNhbXBsZSBub25jZQ=="));
	/* Characters outside the alphabet (URL-safe base64 included). */
	assert_false(handshake_key_valid("dGhlIHNhbXBsZSBub25jZ!=="));
	assert_false(handshake_key_valid("dGhlIHNhbXBsZSBub25j-Q=="));
	assert_false(handshake_key_valid("dGhlIHNhbXBsZSBub25j_Q=="));
	assert_false(handshake_key_valid("dGhlIHNhbXBsZSBub25j Q=="));
	assert_false(handshake_key_valid("dGhlIHNhbXBsZSB\xc3\xa9" "b25jQ=="));
	/* Padding anywhere but the end. */
	assert_false(handshake_key_valid("dGhl=HNhbXBsZSBub25jZQ=="));
	/* 24 characters decoding to 17 bytes, 20 decoding to 15, 18 bytes. */
	assert_false(handshake_key_valid("dGhlIHNhbXBsZSBub25jZQA="));
	assert_false(handshake_key_valid("dGhlIHNhbXBsZSBub25j"));
	assert_false(handshake_key_valid("dGhlIHNhbXBsZSBub25jZQAA"));
	assert_false(handshake_key_valid(""));
	assert_false(handshake_key_valid(NULL));
}

static void
test_check_real_clients(void **state)
{
	struct ws_offer	 o;
	const char	*why = "unset";

	(void)state;
	/* Firefox: Connection: keep-alive, Upgrade; one protocol header. */
	assert_int_equal(handshake_check_http1(head(
	    "GET /chat?room=1&x HTTP/1.1\r\n"
	    "Host: example.com:8080\r\n"
	    "User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:121.0) "
	    "Gecko/20100101 Firefox/121.0\r\n"
	    "Accept: */*\r\n"
	    "Sec-WebSocket-Version: 13\r\n"
	    "Origin: http://example.com\r\n"
	    "Sec-WebSocket-Protocol: chat\r\n"
	    "Sec-WebSocket-Extensions: permessage-deflate\r\n"
	    "Sec-WebSocket-Key: x3JJHMbDL1EzLkh9GBhXDw==\r\n"
	    "Connection: keep-alive, Upgrade\r\n"
	    "Sec-Fetch-Mode: websocket\r\n"
	    "Upgrade: websocket\r\n"
	    "\r\n"), &o, &why), 0);
	assert_null(why);
	assert_string_equal(o.path, "/chat");
	assert_string_equal(o.query, "room=1&x");
	assert_string_equal(o.host, "example.com:8080");
	assert_string_equal(o.origin, "http://example.com");
	assert_string_equal(o.protocols, "chat");
	assert_string_equal(o.extensions, "permessage-deflate");
	assert_string_equal(o.key, "x3JJHMbDL1EzLkh9GBhXDw==");
	assert_non_null(strstr(o.user_agent, "Firefox/121.0"));
	assert_int_equal(o.http_version, 11);
	ws_offer_clear(&o);
	assert_null(o.path);
	ws_offer_clear(&o);	/* again, on a zeroed offer */

	/* Node ws: Host last, no Origin, no query. */
	assert_int_equal(handshake_check_http1(head(
	    "GET /chat HTTP/1.1\r\n"
	    "Sec-WebSocket-Version: 13\r\n"
	    "Sec-WebSocket-Key: Ib6bw9cqz4p9Mn2zJ1rkDg==\r\n"
	    "Connection: Upgrade\r\n"
	    "Upgrade: websocket\r\n"
	    "Sec-WebSocket-Extensions: permessage-deflate; "
	    "client_max_window_bits\r\n"
	    "Host: localhost:8080\r\n"
	    "\r\n"), &o, &why), 0);
	assert_string_equal(o.path, "/chat");
	assert_null(o.query);
	assert_null(o.origin);
	assert_null(o.protocols);
	assert_null(o.user_agent);
	assert_string_equal(o.extensions,
	    "permessage-deflate; client_max_window_bits");
	ws_offer_clear(&o);
}

/* Repeated list headers are joined with ", ", in order. */
static void
test_check_joins_lists(void **state)
{
	struct ws_offer	 o;
	const char	*why;

	(void)state;
	assert_int_equal(handshake_check_http1(head(HEAD("GET /?a=b HTTP/1.1",
	    GOOD_HEADERS
	    "Sec-WebSocket-Protocol: chat, superchat\r\n"
	    "Sec-WebSocket-Protocol: v2\r\n"
	    "Sec-WebSocket-Extensions: permessage-deflate\r\n"
	    "Sec-WebSocket-Extensions: x-webkit-deflate-frame\r\n")),
	    &o, &why), 0);
	assert_string_equal(o.path, "/");
	assert_string_equal(o.query, "a=b");
	assert_string_equal(o.protocols, "chat, superchat, v2");
	assert_string_equal(o.extensions,
	    "permessage-deflate, x-webkit-deflate-frame");
	ws_offer_clear(&o);

	assert_int_equal(handshake_check_http1(head(HEAD("GET /x? HTTP/1.1",
	    GOOD_HEADERS
	    "Sec-WebSocket-Protocol:\r\n"
	    "Sec-WebSocket-Protocol: v2\r\n")), &o, &why), 0);
	assert_string_equal(o.path, "/x");
	assert_string_equal(o.query, "");
	assert_string_equal(o.protocols, "v2");
	ws_offer_clear(&o);
}

static void
test_check_method(void **state)
{
	struct ws_offer	 o;
	const char	*why;

	(void)state;
	expect_status(HEAD("POST /chat HTTP/1.1", GOOD_HEADERS), 405, "GET");
	expect_status(HEAD("get /chat HTTP/1.1", GOOD_HEADERS), 405, NULL);
	expect_status(HEAD("GETX /chat HTTP/1.1", GOOD_HEADERS), 405, NULL);
	/* The method is judged first, and the path is kept for the log. */
	assert_int_equal(handshake_check_http1(head(HEAD(
	    "CONNECT /chat?q HTTP/1.0", "")), &o, &why), 405);
	assert_string_equal(o.path, "/chat");
	assert_string_equal(o.query, "q");
	ws_offer_clear(&o);
}

static void
test_check_version_and_target(void **state)
{
	(void)state;
	expect_status(HEAD("GET /chat HTTP/1.0", GOOD_HEADERS), 400, "1.1");
	expect_status(HEAD("GET /chat HTTP/1.0", ""), 400, "1.1");
	/* Origin-form only. */
	expect_status(HEAD("GET http://example.com/chat HTTP/1.1",
	    GOOD_HEADERS), 400, "origin-form");
	expect_status(HEAD("GET * HTTP/1.1", GOOD_HEADERS), 400, "origin-form");
	expect_status(HEAD("GET example.com:80 HTTP/1.1", GOOD_HEADERS), 400,
	    NULL);
	expect_status(HEAD("GET /chat HTTP/1.9", GOOD_HEADERS), 0, NULL);
}

static void
test_check_host(void **state)
{
	(void)state;
	expect_status(HEAD("GET / HTTP/1.1",
	    "Upgrade: websocket\r\n"
	    "Connection: Upgrade\r\n"
	    "Sec-WebSocket-Version: 13\r\n"
	    "Sec-WebSocket-Key: " KEY "\r\n"), 400, "missing Host");
	expect_status(HEAD("GET / HTTP/1.1", GOOD_HEADERS "host: b.example\r\n"),
	    400, "more than one Host");
	/* Host is checked before the upgrade tokens. */
	expect_status(HEAD("GET / HTTP/1.1", ""), 400, "Host");
}

static void
test_check_upgrade_tokens(void **state)
{
	(void)state;
	expect_status(HEAD("GET / HTTP/1.1",
	    "Host: a\r\n"
	    "Connection: Upgrade\r\n"
	    "Sec-WebSocket-Version: 13\r\n"
	    "Sec-WebSocket-Key: " KEY "\r\n"), 426, "Upgrade");
	expect_status(HEAD("GET / HTTP/1.1",
	    "Host: a\r\n"
	    "Upgrade: h2c\r\n"
	    "Connection: Upgrade\r\n"
	    "Sec-WebSocket-Version: 13\r\n"
	    "Sec-WebSocket-Key: " KEY "\r\n"), 426, "Upgrade");
	expect_status(HEAD("GET / HTTP/1.1",
	    "Host: a\r\n"
	    "Upgrade: websocket\r\n"
	    "Sec-WebSocket-Version: 13\r\n"
	    "Sec-WebSocket-Key: " KEY "\r\n"), 426, "Connection");
	expect_status(HEAD("GET / HTTP/1.1",
	    "Host: a\r\n"
	    "Upgrade: websocket\r\n"
	    "Connection: keep-alive\r\n"
	    "Sec-WebSocket-Version: 13\r\n"
	    "Sec-WebSocket-Key: " KEY "\r\n"), 426, "Connection");
	/* Tokens in any case, in lists, across repeated headers. */
	expect_status(HEAD("GET / HTTP/1.1",
	    "Host: a\r\n"
	    "Upgrade: h2c, WebSocket\r\n"
	    "Connection: keep-alive\r\n"
	    "connection: UPGRADE\r\n"
	    "Sec-WebSocket-Version: 13\r\n"
	    "Sec-WebSocket-Key: " KEY "\r\n"), 0, NULL);
}

/* Regression: an upgrade with a body would have its body read as frames. */
static void
test_check_body(void **state)
{
	(void)state;
	expect_status(HEAD("GET / HTTP/1.1", GOOD_HEADERS
	    "Content-Length: 5\r\n"), 400, "body");
	expect_status(HEAD("GET / HTTP/1.1", GOOD_HEADERS
	    "Transfer-Encoding: chunked\r\n"), 400, "body");
	expect_status(HEAD("GET / HTTP/1.1", GOOD_HEADERS
	    "Content-Length: 0\r\n"), 0, NULL);
}

static void
test_check_ws_version(void **state)
{
	(void)state;
	/* Missing: a malformed request (400); unsupported: negotiable (426). */
	expect_status(HEAD("GET / HTTP/1.1",
	    "Host: a\r\n"
	    "Upgrade: websocket\r\n"
	    "Connection: Upgrade\r\n"
	    "Sec-WebSocket-Key: " KEY "\r\n"), 400, "Sec-WebSocket-Version");
	expect_status(HEAD("GET / HTTP/1.1",
	    "Host: a\r\n"
	    "Upgrade: websocket\r\n"
	    "Connection: Upgrade\r\n"
	    "Sec-WebSocket-Version: 8\r\n"
	    "Sec-WebSocket-Key: " KEY "\r\n"), 426, "13");
	expect_status(HEAD("GET / HTTP/1.1",
	    "Host: a\r\n"
	    "Upgrade: websocket\r\n"
	    "Connection: Upgrade\r\n"
	    "Sec-WebSocket-Version: 13, 8\r\n"
	    "Sec-WebSocket-Key: " KEY "\r\n"), 426, NULL);
	expect_status(HEAD("GET / HTTP/1.1",
	    "Host: a\r\n"
	    "Upgrade: websocket\r\n"
	    "Connection: Upgrade\r\n"
	    "Sec-WebSocket-Version: 013\r\n"
	    "Sec-WebSocket-Key: " KEY "\r\n"), 426, NULL);
	expect_status(HEAD("GET / HTTP/1.1",
	    GOOD_HEADERS "Sec-WebSocket-Version: 13\r\n"), 400, "more than one");
}

static void
test_check_key(void **state)
{
	(void)state;
	expect_status(HEAD("GET / HTTP/1.1",
	    "Host: a\r\n"
	    "Upgrade: websocket\r\n"
	    "Connection: Upgrade\r\n"
	    "Sec-WebSocket-Version: 13\r\n"), 400, "missing Sec-WebSocket-Key");
	expect_status(HEAD("GET / HTTP/1.1",
	    GOOD_HEADERS "Sec-WebSocket-Key: " KEY "\r\n"), 400,
	    "more than one Sec-WebSocket-Key");
	expect_status(HEAD("GET / HTTP/1.1",
	    "Host: a\r\n"
	    "Upgrade: websocket\r\n"
	    "Connection: Upgrade\r\n"
	    "Sec-WebSocket-Version: 13\r\n"
	    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQA=\r\n"), 400,
	    "Sec-WebSocket-Key");
	expect_status(HEAD("GET / HTTP/1.1",
	    "Host: a\r\n"
	    "Upgrade: websocket\r\n"
	    "Connection: Upgrade\r\n"
	    "Sec-WebSocket-Version: 13\r\n"
	    "Sec-WebSocket-Key:\r\n"), 400, "Sec-WebSocket-Key");
	expect_status(HEAD("GET / HTTP/1.1",
	    GOOD_HEADERS "Origin: https://a.example\r\n"
	    "Origin: https://b.example\r\n"), 400, "Origin");
	/* A bad key is checked after the version. */
	expect_status(HEAD("GET / HTTP/1.1",
	    "Host: a\r\n"
	    "Upgrade: websocket\r\n"
	    "Connection: Upgrade\r\n"
	    "Sec-WebSocket-Version: 7\r\n"
	    "Sec-WebSocket-Key: bad\r\n"), 426, NULL);
}

/* Builds a config from lines; fails the test on any error. */
static struct config *
cfg_from(const char *const *lines, size_t n)
{
	struct config	*cfg;
	char		*cause = NULL;
	size_t		 i;

	cfg = config_new();
	for (i = 0; i < n; i++) {
		if (config_parse_line(cfg, lines[i], "test", (int)i + 1,
		    &cause) != 0)
			fail_msg("%s", cause);
	}
	if (config_finish(cfg, &cause) != 0)
		fail_msg("%s", cause);
	return (cfg);
}

static int
route(const struct config *cfg, const char *path, const char *origin,
    const char *protocols, const struct route **rt, const char **sub)
{
	struct ws_offer	 o;
	const char	*why;
	int		 rc;

	memset(&o, 0, sizeof o);
	o.path = (char *)(uintptr_t)path;
	o.origin = (char *)(uintptr_t)origin;
	o.protocols = (char *)(uintptr_t)protocols;
	rc = handshake_route(config_route_policy, cfg, &o, rt, sub, &why);
	if (rc != 0)
		assert_non_null(why);
	return (rc);
}

static void
test_route_paths(void **state)
{
	static const char *const lines[] = {
		"listen 8080",
		"route * 127.0.0.1:9000",
		"route /chat echo",
		"route /db unix:/run/db.sock",
	};
	static const char *const no_default[] = {
		"listen 8080",
		"route /chat echo",
	};
	struct config		*cfg;
	const struct route	*rt;
	const char		*sub;

	(void)state;
	cfg = cfg_from(lines, nitems(lines));
	assert_int_equal(route(cfg, "/chat", NULL, NULL, &rt, &sub), 0);
	assert_string_equal(rt->path, "/chat");
	assert_null(sub);
	assert_int_equal(route(cfg, "/db", NULL, NULL, &rt, &sub), 0);
	assert_string_equal(rt->path, "/db");
	assert_int_equal(route(cfg, "/other", NULL, NULL, &rt, &sub), 0);
	assert_string_equal(rt->path, "*");
	/* Exact byte match: no prefix, no case folding. */
	assert_int_equal(route(cfg, "/chat/", NULL, NULL, &rt, &sub), 0);
	assert_string_equal(rt->path, "*");
	config_free(cfg);

	cfg = cfg_from(no_default, nitems(no_default));
	assert_int_equal(route(cfg, "/CHAT", NULL, NULL, &rt, &sub), 404);
	assert_null(rt);
	assert_int_equal(route(cfg, "/", NULL, NULL, &rt, &sub), 404);
	assert_int_equal(route(cfg, NULL, NULL, NULL, &rt, &sub), 404);
	config_free(cfg);
}

static void
test_route_origins(void **state)
{
	static const char *const lines[] = {
		"listen 8080",
		"route /a echo origins=https://a.example,http://b.example:8080",
		"route /any echo origins=*",
		"route /open echo",
	};
	struct config		*cfg;
	const struct route	*rt;
	const char		*sub;

	(void)state;
	cfg = cfg_from(lines, nitems(lines));
	assert_int_equal(route(cfg, "/a", "https://a.example", NULL, &rt,
	    &sub), 0);
	assert_int_equal(route(cfg, "/a", "HTTPS://A.Example", NULL, &rt,
	    &sub), 0);
	assert_int_equal(route(cfg, "/a", "http://b.example:8080", NULL, &rt,
	    &sub), 0);
	assert_int_equal(route(cfg, "/a", "http://b.example", NULL, &rt,
	    &sub), 403);
	assert_null(rt);
	assert_int_equal(route(cfg, "/a", "http://a.example", NULL, &rt,
	    &sub), 403);
	assert_int_equal(route(cfg, "/a", "https://a.example.evil", NULL, &rt,
	    &sub), 403);
	assert_int_equal(route(cfg, "/a", "https://a.example/", NULL, &rt,
	    &sub), 403);
	assert_int_equal(route(cfg, "/a", "null", NULL, &rt, &sub), 403);
	assert_int_equal(route(cfg, "/a", NULL, NULL, &rt, &sub), 403);
	assert_int_equal(route(cfg, "/any", "https://x.example", NULL, &rt,
	    &sub), 0);
	assert_int_equal(route(cfg, "/any", NULL, NULL, &rt, &sub), 0);
	assert_int_equal(route(cfg, "/open", "https://x.example", NULL, &rt,
	    &sub), 0);
	assert_int_equal(route(cfg, "/open", NULL, NULL, &rt, &sub), 0);
	/* 404 before 403. */
	assert_int_equal(route(cfg, "/b", "https://evil.example", NULL, &rt,
	    &sub), 404);
	config_free(cfg);
}

static void
test_route_subprotocols(void **state)
{
	static const char *const lines[] = {
		"listen 8080",
		"route /pref echo subprotocols=v2.chat,v1.chat",
		"route /req echo subprotocols=mqtt require-subprotocol=yes",
		"route /none echo",
		"route /none-req echo require-subprotocol=yes",
	};
	struct config		*cfg;
	const struct route	*rt;
	const char		*sub;

	(void)state;
	cfg = cfg_from(lines, nitems(lines));

	/* Our order wins over the client's. */
	assert_int_equal(route(cfg, "/pref", NULL, "v1.chat, v2.chat", &rt,
	    &sub), 0);
	assert_string_equal(sub, "v2.chat");
	assert_ptr_equal(sub, rt->subprotocols[0]);
	assert_int_equal(route(cfg, "/pref", NULL, "x,v1.chat", &rt, &sub), 0);
	assert_string_equal(sub, "v1.chat");
	assert_int_equal(route(cfg, "/pref", NULL, " \tv1.chat\t ,, ", &rt,
	    &sub), 0);
	assert_string_equal(sub, "v1.chat");

	/* Never a protocol the client did not offer: no case folding, no
	 * prefixes, no substrings. */
	assert_int_equal(route(cfg, "/pref", NULL, "V2.CHAT", &rt, &sub), 0);
	assert_null(sub);
	assert_int_equal(route(cfg, "/pref", NULL, "v2.chatx, v2", &rt, &sub),
	    0);
	assert_null(sub);
	assert_int_equal(route(cfg, "/pref", NULL, "v2.chat v1.chat", &rt,
	    &sub), 0);
	assert_null(sub);
	assert_int_equal(route(cfg, "/pref", NULL, "", &rt, &sub), 0);
	assert_null(sub);
	assert_int_equal(route(cfg, "/pref", NULL, NULL, &rt, &sub), 0);
	assert_null(sub);
	assert_non_null(rt);

	/* Required: none agreed is 400. */
	assert_int_equal(route(cfg, "/req", NULL, "mqttv5, mqtt", &rt, &sub),
	    0);
	assert_string_equal(sub, "mqtt");
	assert_int_equal(route(cfg, "/req", NULL, "mqttv5", &rt, &sub), 400);
	assert_null(rt);
	assert_null(sub);
	assert_int_equal(route(cfg, "/req", NULL, NULL, &rt, &sub), 400);

	/* A route without a list answers none, whatever was offered. */
	assert_int_equal(route(cfg, "/none", NULL, "chat", &rt, &sub), 0);
	assert_null(sub);
	assert_int_equal(route(cfg, "/none-req", NULL, "chat", &rt, &sub),
	    400);
	config_free(cfg);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_accept_key_rfc),
		cmocka_unit_test(test_key_valid),
		cmocka_unit_test(test_check_real_clients),
		cmocka_unit_test(test_check_joins_lists),
		cmocka_unit_test(test_check_method),
		cmocka_unit_test(test_check_version_and_target),
		cmocka_unit_test(test_check_host),
		cmocka_unit_test(test_check_upgrade_tokens),
		cmocka_unit_test(test_check_ws_version),
		cmocka_unit_test(test_check_key),
		cmocka_unit_test(test_check_body),
		cmocka_unit_test(test_route_paths),
		cmocka_unit_test(test_route_origins),
		cmocka_unit_test(test_route_subprotocols),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
