/* test_http1.c -- the HTTP/1.1 request-head parser on real clients' heads and every error class. */
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

#include "http1.h"
#include "util.h"

#define MAX_HEAD	8192

/* Handshakes as the clients send them (header order and sets included). */
static const char chromium[] =
    "GET /chat HTTP/1.1\r\n"
    "Host: example.com:8080\r\n"
    "Connection: Upgrade\r\n"
    "Pragma: no-cache\r\n"
    "Cache-Control: no-cache\r\n"
    "User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36\r\n"
    "Upgrade: websocket\r\n"
    "Origin: http://example.com\r\n"
    "Sec-WebSocket-Version: 13\r\n"
    "Accept-Encoding: gzip, deflate, br\r\n"
    "Accept-Language: en-US,en;q=0.9\r\n"
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n"
    "Sec-WebSocket-Protocol: chat, superchat\r\n"
    "\r\n";

static const char firefox[] =
    "GET /chat HTTP/1.1\r\n"
    "Host: example.com:8080\r\n"
    "User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 "
    "Firefox/121.0\r\n"
    "Accept: */*\r\n"
    "Accept-Language: en-US,en;q=0.5\r\n"
    "Accept-Encoding: gzip, deflate, br\r\n"
    "Sec-WebSocket-Version: 13\r\n"
    "Origin: http://example.com\r\n"
    "Sec-WebSocket-Protocol: chat\r\n"
    "Sec-WebSocket-Extensions: permessage-deflate\r\n"
    "Sec-WebSocket-Key: x3JJHMbDL1EzLkh9GBhXDw==\r\n"
    "Connection: keep-alive, Upgrade\r\n"
    "Sec-Fetch-Dest: empty\r\n"
    "Sec-Fetch-Mode: websocket\r\n"
    "Sec-Fetch-Site: same-origin\r\n"
    "Pragma: no-cache\r\n"
    "Cache-Control: no-cache\r\n"
    "Upgrade: websocket\r\n"
    "\r\n";

static const char python_websockets[] =
    "GET /chat HTTP/1.1\r\n"
    "Host: localhost:8080\r\n"
    "Upgrade: websocket\r\n"
    "Connection: Upgrade\r\n"
    "Sec-WebSocket-Key: OqnfEYR0m3ExBCYJr5ODvg==\r\n"
    "Sec-WebSocket-Version: 13\r\n"
    "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n"
    "Sec-WebSocket-Protocol: chat, superchat\r\n"
    "User-Agent: Python/3.11 websockets/12.0\r\n"
    "\r\n";

static const char node_ws[] =
    "GET /chat HTTP/1.1\r\n"
    "Sec-WebSocket-Version: 13\r\n"
    "Sec-WebSocket-Key: Ib6bw9cqz4p9Mn2zJ1rkDg==\r\n"
    "Connection: Upgrade\r\n"
    "Upgrade: websocket\r\n"
    "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n"
    "Sec-WebSocket-Protocol: chat\r\n"
    "Host: localhost:8080\r\n"
    "\r\n";

static ssize_t
parse(const char *s, size_t len, size_t max, struct http1_request *req)
{
	return (http1_parse_request(s, len, max, req));
}

/*
 * Parses s[0..len) whole, then every prefix of it: a prefix must need more
 * bytes (0) or fail exactly as the whole does, never differently. Returns the
 * whole result.
 */
static ssize_t
parse_split(const char *s, size_t len, size_t max, struct http1_request *req)
{
	struct http1_request	 tmp;
	ssize_t			 whole, r;
	size_t			 i;

	whole = parse(s, len, max, req);
	for (i = 0; i < len; i++) {
		r = parse(s, i, max, &tmp);
		if (r != 0 && r != whole)
			fail_msg("prefix %zu of %zu gave %zd, whole %zd", i, len,
			    r, whole);
		if (r != 0)
			break;
	}
	return (whole);
}

/* Asserts the status s parses to, whole and fed byte by byte. */
static void
expect(const char *s, ssize_t status)
{
	struct http1_request	req;
	ssize_t			r;

	r = parse_split(s, strlen(s), MAX_HEAD, &req);
	if (r != status)
		fail_msg("\"%s\": got %zd, want %zd", s, r, status);
}

static void
check_client(const char *s, size_t nheaders)
{
	struct http1_request		 req;
	const struct http1_header	*h;
	size_t				 len = strlen(s), i;

	/* Whole. */
	assert_int_equal(parse(s, len, MAX_HEAD, &req), len);
	assert_int_equal(req.method_len, 3);
	assert_memory_equal(req.method, "GET", 3);
	assert_int_equal(req.target_len, 5);
	assert_memory_equal(req.target, "/chat", 5);
	assert_int_equal(req.version_major, 1);
	assert_int_equal(req.version_minor, 1);
	assert_int_equal(req.nheaders, nheaders);
	assert_non_null(h = http1_find(&req, "host"));
	assert_true(h->value_len > 0);
	assert_true(http1_has_token(&req, "Upgrade", "websocket"));
	assert_true(http1_has_token(&req, "connection", "UPGRADE"));
	assert_non_null(h = http1_find(&req, "SEC-WEBSOCKET-VERSION"));
	assert_int_equal(h->value_len, 2);
	assert_memory_equal(h->value, "13", 2);

	/* One byte at a time, as a slow client sends it. */
	for (i = 0; i < len; i++)
		assert_int_equal(parse(s, i, MAX_HEAD, &req), 0);
	assert_int_equal(parse(s, len, MAX_HEAD, &req), len);
}

static void
test_chromium(void **state)
{
	(void)state;
	check_client(chromium, 13);
}

static void
test_firefox(void **state)
{
	(void)state;
	check_client(firefox, 17);
}

static void
test_python_websockets(void **state)
{
	(void)state;
	check_client(python_websockets, 8);
}

static void
test_node_ws(void **state)
{
	(void)state;
	check_client(node_ws, 7);
}

/* Bytes after the head (a pipelined frame) are not part of it. */
static void
test_trailing_bytes(void **state)
{
	struct http1_request	 req;
	char			*s;
	size_t			 head = strlen(python_websockets);

	(void)state;
	s = xasprintf("%s\x81\x85garbage\r\n\r\n", python_websockets);
	assert_int_equal(parse(s, strlen(s), MAX_HEAD, &req), head);
	/* A head that fits is fine even when the buffer is over the limit. */
	assert_int_equal(parse(s, strlen(s), head, &req), head);
	free(s);
}

static void
test_header_fields(void **state)
{
	struct http1_request	 req;
	const char		*s =
	    "GET /x?y=1 HTTP/1.1\r\n"
	    "X-Trim: \t a  b \t \r\n"
	    "X-Empty:\r\n"
	    "X-Spaces:    \r\n"
	    "X-Tab:\tone\ttwo\r\n"
	    "X-Obs-Text: caf\xc3\xa9\r\n"
	    "x-trim: second\r\n"
	    "\r\n";

	(void)state;
	assert_int_equal(parse_split(s, strlen(s), MAX_HEAD, &req), strlen(s));
	assert_int_equal(req.target_len, 6);
	assert_memory_equal(req.target, "/x?y=1", 6);
	assert_int_equal(req.nheaders, 6);
	assert_int_equal(req.headers[0].name_len, 6);
	assert_memory_equal(req.headers[0].name, "X-Trim", 6);
	assert_int_equal(req.headers[0].value_len, 4);
	assert_memory_equal(req.headers[0].value, "a  b", 4);
	assert_int_equal(req.headers[1].value_len, 0);
	assert_int_equal(req.headers[2].value_len, 0);
	assert_int_equal(req.headers[3].value_len, 7);
	assert_memory_equal(req.headers[3].value, "one\ttwo", 7);
	assert_int_equal(req.headers[4].value_len, 5);

	/* Names compare case-insensitively; the first wins in http1_find. */
	assert_ptr_equal(http1_find(&req, "X-TRIM"), &req.headers[0]);
	assert_int_equal(http1_count(&req, "x-TRIM"), 2);
	assert_int_equal(http1_count(&req, "X-Tri"), 0);
	assert_int_equal(http1_count(&req, "X-Trim2"), 0);
	assert_null(http1_find(&req, "Host"));
}

/* Lines may end in a bare LF (RFC 9112 2.2), also mixed with CRLF. */
static void
test_bare_lf(void **state)
{
	struct http1_request	 req;
	const char		*s = "GET / HTTP/1.1\nHost: a\r\nX: b\n\n";

	(void)state;
	assert_int_equal(parse_split(s, strlen(s), MAX_HEAD, &req), strlen(s));
	assert_int_equal(req.nheaders, 2);
	assert_int_equal(req.headers[0].value_len, 1);
	expect("GET / HTTP/1.1\r\nHost: a\n\r\n", 26);
}

static void
test_leading_empty_lines(void **state)
{
	(void)state;
	expect("\r\nGET / HTTP/1.1\r\n\r\n", 20);
	expect("\n\r\n\n\r\nGET / HTTP/1.1\r\n\r\n", 24);
	/* A fifth is a client streaming newlines, not a stray CRLF. */
	expect("\r\n\r\n\r\n\r\n\r\nGET / HTTP/1.1\r\n\r\n", -400);
	expect("\r\n\r\n", 0);
}

static void
test_request_line_errors(void **state)
{
	(void)state;
	expect("GET  / HTTP/1.1\r\n\r\n", -400);	/* two SP */
	expect("GET /  HTTP/1.1\r\n\r\n", -400);
	expect("GET / HTTP/1.1 \r\n\r\n", -400);	/* trailing SP */
	expect(" GET / HTTP/1.1\r\n\r\n", -400);	/* leading SP */
	expect("GET\t/ HTTP/1.1\r\n\r\n", -400);	/* HTAB is not SP */
	expect("GET /\tx HTTP/1.1\r\n\r\n", -400);
	expect("GET /a b HTTP/1.1\r\n\r\n", -400);	/* SP in target */
	expect("GET /\x7f HTTP/1.1\r\n\r\n", -400);	/* DEL in target */
	expect("GET /caf\xc3\xa9 HTTP/1.1\r\n\r\n", -400); /* raw UTF-8 */
	expect("G(T / HTTP/1.1\r\n\r\n", -400);	/* not a token */
	expect("G\"T / HTTP/1.1\r\n\r\n", -400);
	expect("GET HTTP/1.1\r\n\r\n", -400);		/* no target */
	expect("GET /\r\n\r\n", -400);			/* HTTP/0.9 style */
	expect("GET / http/1.1\r\n\r\n", -400);	/* case-sensitive */
	expect("GET / HTTP/1\r\n\r\n", -400);
	expect("GET / HTTP/1.10\r\n\r\n", -400);
	expect("GET / HTTP/11.1\r\n\r\n", -400);
	expect("GET / HTTP/1.x\r\n\r\n", -400);
	expect("GET / HTTP/1,1\r\n\r\n", -400);
	expect("GET / HTTPS/1.1\r\n\r\n", -400);
	expect("GET / HTTP/1.1\r\r\n\r\n", -400);	/* bare CR */
	expect("GET / HT\rTP/1.1\r\n\r\n", -400);
	/* Any method token is fine here; the handshake rejects non-GET. */
	expect("M-SEARCH * HTTP/1.1\r\n\r\n", 23);
	expect("get / HTTP/1.0\r\n\r\n", 18);
}

static void
test_nul_in_request_line(void **state)
{
	struct http1_request	req;
	const char		s[] = "GET /\0 HTTP/1.1\r\n\r\n";

	(void)state;
	assert_int_equal(parse_split(s, sizeof s - 1, MAX_HEAD, &req), -400);
}

static void
test_version_errors(void **state)
{
	(void)state;
	expect("GET / HTTP/2.0\r\n\r\n", -505);
	expect("GET / HTTP/0.9\r\n\r\n", -505);
	expect("GET / HTTP/3.1\r\nHost: a\r\n\r\n", -505);
	expect("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", -505);	/* h2 preface */
	expect("GET / HTTP/1.0\r\n\r\n", 18);
	expect("GET / HTTP/1.9\r\n\r\n", 18);
}

static void
test_header_errors(void **state)
{
	(void)state;
	expect("GET / HTTP/1.1\r\nHost : a\r\n\r\n", -400);
	expect("GET / HTTP/1.1\r\nHost\t: a\r\n\r\n", -400);
	expect("GET / HTTP/1.1\r\nHost: a\r\n folded\r\n\r\n", -400);
	expect("GET / HTTP/1.1\r\nHost: a\r\n\tfolded\r\n\r\n", -400);
	expect("GET / HTTP/1.1\r\n Host: a\r\n\r\n", -400);
	expect("GET / HTTP/1.1\r\n: a\r\n\r\n", -400);	/* empty name */
	expect("GET / HTTP/1.1\r\nHo(st: a\r\n\r\n", -400);
	expect("GET / HTTP/1.1\r\nHo st: a\r\n\r\n", -400);
	expect("GET / HTTP/1.1\r\nHost a\r\n\r\n", -400);	/* no colon */
	expect("GET / HTTP/1.1\r\nHost\r\n\r\n", -400);
	expect("GET / HTTP/1.1\r\nX: a\x01z\r\n\r\n", -400);
	expect("GET / HTTP/1.1\r\nX: a\x7fz\r\n\r\n", -400);
	expect("GET / HTTP/1.1\r\nX: a\x1b[0m\r\n\r\n", -400);
	expect("GET / HTTP/1.1\r\nX: a\rb\r\n\r\n", -400);	/* bare CR */
	expect("GET / HTTP/1.1\r\nX: a\r\r\n\r\n", -400);
	expect("GET / HTTP/1.1\r\nX: a\r\n\r\r\n", -400);
	expect("GET / HTTP/1.1\r\nX\x80: a\r\n\r\n", -400);
}

static void
test_header_nul(void **state)
{
	struct http1_request	req;
	const char		s[] = "GET / HTTP/1.1\r\nX: a\0b\r\n\r\n";

	(void)state;
	assert_int_equal(parse_split(s, sizeof s - 1, MAX_HEAD, &req), -400);
}

/* Non-HTTP bytes are refused at once, without waiting for a line end. */
static void
test_early_rejection(void **state)
{
	struct http1_request	req;
	const char		tls[] = "\x16\x03\x01\x02\x00\x01\x00\x01\xfc";

	(void)state;
	assert_int_equal(parse(tls, sizeof tls - 1, MAX_HEAD, &req), -400);
	assert_int_equal(parse("GET / HT\rX", 10, MAX_HEAD, &req), -400);
	/* A CR at the end may be half a CRLF. */
	assert_int_equal(parse("GET / HTTP/1.1\r", 15, MAX_HEAD, &req), 0);
	assert_int_equal(parse("GET / HTTP/1.1\r\nX: y\r", 21, MAX_HEAD,
	    &req), 0);
}

static void
test_head_too_large(void **state)
{
	struct http1_request	 req;
	char			*s;
	size_t			 len;

	(void)state;
	s = xasprintf("GET / HTTP/1.1\r\nX-Pad: %0200d\r\n\r\n", 0);
	len = strlen(s);

	/* Exactly at the limit is fine; one byte over is 431. */
	assert_int_equal(parse(s, len, len, &req), len);
	assert_int_equal(parse(s, len, len - 1, &req), -431);
	/* Incomplete and already at the limit: it can only grow. */
	assert_int_equal(parse(s, len - 2, len - 2, &req), -431);
	assert_int_equal(parse(s, len - 2, len - 1, &req), 0);
	assert_int_equal(parse(s, 100, 50, &req), -431);
	assert_int_equal(parse(s, 0, 0, &req), -431);
	/* An error inside the limit still wins over the size. */
	assert_int_equal(parse("GET  / HTTP/1.1\r\nX: y", 21, 21, &req), -400);
	free(s);
}

static void
test_too_many_headers(void **state)
{
	struct http1_request	 req;
	char			*s, *t;
	size_t			 i;

	(void)state;
	s = xstrdup("GET / HTTP/1.1\r\n");
	for (i = 0; i < HTTP1_MAX_HEADERS; i++) {
		t = xasprintf("%sX-%zu: %zu\r\n", s, i, i);
		free(s);
		s = t;
	}
	t = xasprintf("%s\r\n", s);
	assert_int_equal(parse_split(t, strlen(t), MAX_HEAD, &req), strlen(t));
	assert_int_equal(req.nheaders, HTTP1_MAX_HEADERS);
	free(t);

	t = xasprintf("%sX-last: y\r\n\r\n", s);
	assert_int_equal(parse_split(t, strlen(t), MAX_HEAD, &req), -431);
	free(t);
	free(s);
}

static void
test_tokens(void **state)
{
	struct http1_request	 req;
	const char		*s =
	    "GET / HTTP/1.1\r\n"
	    "Connection: keep-alive, Upgrade\r\n"
	    "Upgrade: h2c\r\n"
	    "upgrade: ,, WebSocket\t, \r\n"
	    "X-List: upgraded, notupgrade, up grade\r\n"
	    "X-One: token\r\n"
	    "X-Empty:\r\n"
	    "\r\n";

	(void)state;
	assert_int_equal(parse(s, strlen(s), MAX_HEAD, &req), strlen(s));
	assert_true(http1_has_token(&req, "connection", "upgrade"));
	assert_true(http1_has_token(&req, "Connection", "KEEP-ALIVE"));
	assert_false(http1_has_token(&req, "Connection", "close"));
	/* Across every instance of the header. */
	assert_true(http1_has_token(&req, "Upgrade", "h2c"));
	assert_true(http1_has_token(&req, "Upgrade", "websocket"));
	/* Whole elements only, never substrings. */
	assert_false(http1_has_token(&req, "X-List", "upgrade"));
	assert_false(http1_has_token(&req, "X-List", "up"));
	assert_true(http1_has_token(&req, "X-List", "up grade"));
	assert_true(http1_has_token(&req, "X-One", "token"));
	assert_false(http1_has_token(&req, "X-One", "toke"));
	assert_false(http1_has_token(&req, "X-Empty", ""));
	assert_false(http1_has_token(&req, "Missing", "token"));
}

static void
test_reason(void **state)
{
	(void)state;
	assert_string_equal(http1_reason(101), "Switching Protocols");
	assert_string_equal(http1_reason(200), "OK");
	assert_string_equal(http1_reason(400), "Bad Request");
	assert_string_equal(http1_reason(403), "Forbidden");
	assert_string_equal(http1_reason(404), "Not Found");
	assert_string_equal(http1_reason(405), "Method Not Allowed");
	assert_string_equal(http1_reason(408), "Request Timeout");
	assert_string_equal(http1_reason(426), "Upgrade Required");
	assert_string_equal(http1_reason(431),
	    "Request Header Fields Too Large");
	assert_string_equal(http1_reason(500), "Internal Server Error");
	assert_string_equal(http1_reason(502), "Bad Gateway");
	assert_string_equal(http1_reason(503), "Service Unavailable");
	assert_string_equal(http1_reason(504), "Gateway Timeout");
	assert_string_equal(http1_reason(505), "HTTP Version Not Supported");
	assert_string_equal(http1_reason(299), "Unknown");
	assert_string_equal(http1_reason(-1), "Unknown");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_chromium),
		cmocka_unit_test(test_firefox),
		cmocka_unit_test(test_python_websockets),
		cmocka_unit_test(test_node_ws),
		cmocka_unit_test(test_trailing_bytes),
		cmocka_unit_test(test_header_fields),
		cmocka_unit_test(test_bare_lf),
		cmocka_unit_test(test_leading_empty_lines),
		cmocka_unit_test(test_request_line_errors),
		cmocka_unit_test(test_nul_in_request_line),
		cmocka_unit_test(test_version_errors),
		cmocka_unit_test(test_header_errors),
		cmocka_unit_test(test_header_nul),
		cmocka_unit_test(test_early_rejection),
		cmocka_unit_test(test_head_too_large),
		cmocka_unit_test(test_too_many_headers),
		cmocka_unit_test(test_tokens),
		cmocka_unit_test(test_reason),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
