/*
 * test_webreq.c -- the static-file rules: request targets that stay under
 * the web root and the ones refused (dot segments raw and encoded, encoded
 * separators, backslashes, NUL), MIME types, ETags, the three HTTP date
 * forms (RFC 9110 5.6.7) and the 304 decision (RFC 9110 13.1.2-13.1.3).
 */
#include "wsb_autoconf.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "webreq.h"

static void
path_ok(const char *tgt, const char *want, int want_slash)
{
	char	out[WEBREQ_PATH_MAX];
	int	slash = -1;

	assert_int_equal(webreq_path(tgt, strlen(tgt), out, sizeof out,
	    &slash), 0);
	assert_string_equal(out, want);
	assert_int_equal(slash, want_slash);
}

static void
path_bad(const char *tgt, int status)
{
	char	out[WEBREQ_PATH_MAX];
	int	slash;

	assert_int_equal(webreq_path(tgt, strlen(tgt), out, sizeof out,
	    &slash), status);
}

static void
test_path(void **state)
{
	char	out[8];
	int	slash;

	(void)state;
	path_ok("/", "", 1);
	path_ok("/vnc.html", "vnc.html", 0);
	path_ok("/vnc.html?path=websockify?token=a", "vnc.html", 0);
	path_ok("/app/ui.js", "app/ui.js", 0);
	path_ok("/app/", "app", 1);
	path_ok("/a%20b.html", "a b.html", 0);
	path_ok("/%41%62", "Ab", 0);
	path_ok("//a//b", "a/b", 0);
	path_ok("/...", "...", 0);
	path_ok("/.well-known/x", ".well-known/x", 0);
	path_ok("/a..b/..c", "a..b/..c", 0);
	path_ok("/%252e%252e", "%2e%2e", 0);
	path_ok("/%3F", "?", 0);

	path_bad("", 400);
	path_bad("vnc.html", 400);
	path_bad("http://host/vnc.html", 400);
	path_bad("/a#b", 400);
	path_bad("/%", 400);
	path_bad("/%4", 400);
	path_bad("/%zz", 400);
	path_bad("/..", 403);
	path_bad("/../x", 403);
	path_bad("/a/../../x", 403);
	path_bad("/.", 403);
	path_bad("/./x", 403);
	path_bad("/a/.", 403);
	path_bad("/%2e%2e/x", 403);
	path_bad("/%2E%2e/x", 403);
	path_bad("/.%2e/x", 403);
	path_bad("/..%2fx", 403);
	path_bad("/a%2fb", 403);
	path_bad("/a%5cb", 403);
	path_bad("/a\\b", 403);
	path_bad("/..\\x", 403);
	path_bad("/a%00b", 403);
	path_bad("/a%0ab", 403);
	path_bad("/a%7fb", 403);
	/* The decoded path must fit. */
	assert_int_equal(webreq_path("/1234567", 8, out, sizeof out, &slash),
	    0);
	assert_int_equal(webreq_path("/12345678", 9, out, sizeof out, &slash),
	    414);
}

static void
test_mime(void **state)
{
	(void)state;
	assert_string_equal(webreq_mime("vnc.html"), "text/html");
	assert_string_equal(webreq_mime("app/ui.js"), "text/javascript");
	assert_string_equal(webreq_mime("a/b.MJS"), "text/javascript");
	assert_string_equal(webreq_mime("x.css"), "text/css");
	assert_string_equal(webreq_mime("x.svg"), "image/svg+xml");
	assert_string_equal(webreq_mime("x.woff2"), "font/woff2");
	assert_string_equal(webreq_mime("x.wasm"), "application/wasm");
	assert_null(webreq_mime("README"));
	assert_null(webreq_mime(".html"));	/* a dotfile, no extension */
	assert_null(webreq_mime("a.html/b"));
	assert_null(webreq_mime("x.exe"));
}

static void
test_dates(void **state)
{
	char	buf[WEBREQ_DATE_LEN + 1];
	time_t	t;

	(void)state;
	webreq_date(784111777, buf);
	assert_string_equal(buf, "Sun, 06 Nov 1994 08:49:37 GMT");
	assert_int_equal(webreq_date_parse(buf, strlen(buf), &t), 0);
	assert_int_equal(t, 784111777);
	assert_int_equal(webreq_date_parse("Sunday, 06-Nov-94 08:49:37 GMT",
	    30, &t), 0);
	assert_int_equal(t, 784111777);
	assert_int_equal(webreq_date_parse("Sun Nov  6 08:49:37 1994", 24,
	    &t), 0);
	assert_int_equal(t, 784111777);
	assert_int_equal(webreq_date_parse("yesterday", 9, &t), -1);
	assert_int_equal(webreq_date_parse("Sun, 06 Nov 1994 08:49:37 GMT x",
	    31, &t), -1);
}

static void
test_not_modified(void **state)
{
	char		 etag[WEBREQ_ETAG_MAX], other[WEBREQ_ETAG_MAX];
	char		 list[3 * WEBREQ_ETAG_MAX];
	const char	*lm = "Sun, 06 Nov 1994 08:49:37 GMT";
	const char	*old = "Sat, 05 Nov 1994 08:49:37 GMT";

	(void)state;
	webreq_etag(etag, sizeof etag, 12, 34, 784111777, 5);
	webreq_etag(other, sizeof other, 12, 35, 784111777, 5);
	assert_string_not_equal(etag, other);
	assert_true(etag[0] == '"' && etag[strlen(etag) - 1] == '"');
	assert_true(webreq_not_modified(etag, strlen(etag), NULL, 0, etag,
	    784111777));
	assert_false(webreq_not_modified(other, strlen(other), NULL, 0, etag,
	    784111777));
	snprintf(list, sizeof list, "%s, W/%s", other, etag);
	assert_true(webreq_not_modified(list, strlen(list), NULL, 0, etag,
	    784111777));
	assert_true(webreq_not_modified("*", 1, NULL, 0, etag, 784111777));
	assert_false(webreq_not_modified("garbage", 7, NULL, 0, etag,
	    784111777));
	/* The date only without If-None-Match. */
	assert_true(webreq_not_modified(NULL, 0, lm, strlen(lm), etag,
	    784111777));
	assert_false(webreq_not_modified(NULL, 0, old, strlen(old), etag,
	    784111777));
	assert_false(webreq_not_modified(other, strlen(other), lm, strlen(lm),
	    etag, 784111777));
	assert_false(webreq_not_modified(NULL, 0, "bad", 3, etag, 784111777));
	assert_false(webreq_not_modified(NULL, 0, NULL, 0, etag, 784111777));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_path),
		cmocka_unit_test(test_mime),
		cmocka_unit_test(test_dates),
		cmocka_unit_test(test_not_modified),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
