/* test_ws_utf8.c -- unit tests for the incremental UTF-8 validator (ws_utf8.c). */
#include "wsb_autoconf.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "ws_utf8.h"

/* A test string: bytes, length, and the index of its first invalid byte. */
struct utf8_case {
	const char	*name;
	const char	*s;
	size_t		 n;
	long		 bad;		/* -1: valid (maybe truncated) */
	int		 complete;	/* ends on a boundary (when bad == -1) */
};

#define VALID(name, s)		{ name, s, sizeof(s) - 1, -1, 1 }
#define TRUNC(name, s)		{ name, s, sizeof(s) - 1, -1, 0 }
#define BAD(name, s, at)	{ name, s, sizeof(s) - 1, at, 0 }

/* Markus Kuhn's UTF-8 decoder capability and stress test, sections 1-5. */
static const struct utf8_case cases[] = {
	VALID("empty", ""),
	VALID("ascii", "Hello, world"),
	VALID("kosme", "\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5"),
	VALID("U+0000", "\x00"),
	VALID("U+007F", "\x7f"),
	VALID("U+0080", "\xc2\x80"),
	VALID("U+07FF", "\xdf\xbf"),
	VALID("U+0800", "\xe0\xa0\x80"),
	VALID("U+D7FF", "\xed\x9f\xbf"),
	VALID("U+E000", "\xee\x80\x80"),
	VALID("U+FFFD", "\xef\xbf\xbd"),
	VALID("U+FFFE", "\xef\xbf\xbe"),
	VALID("U+FFFF", "\xef\xbf\xbf"),
	VALID("U+10000", "\xf0\x90\x80\x80"),
	VALID("U+1F600", "\xf0\x9f\x98\x80"),
	VALID("U+FFFFF", "\xf3\xbf\xbf\xbf"),
	VALID("U+100000", "\xf4\x80\x80\x80"),
	VALID("U+10FFFF", "\xf4\x8f\xbf\xbf"),
	VALID("mixed", "a\xc3\xa9z\xe2\x82\xac!\xf0\x9f\x98\x80."),

	TRUNC("2/1", "\xc3"),
	TRUNC("3/1", "\xe2"),
	TRUNC("3/2", "\xe2\x82"),
	TRUNC("4/1", "\xf0"),
	TRUNC("4/2", "\xf0\x9f"),
	TRUNC("4/3", "\xf0\x9f\x98"),
	TRUNC("U+10FFFF/3", "\xf4\x8f\xbf"),
	TRUNC("ascii then 3/2", "abc\xe2\x82"),

	/* 2.3 / 3.x: beyond U+10FFFF, dead lead bytes. */
	BAD("U+110000", "\xf4\x90\x80\x80", 1),
	BAD("U+13FFFF", "\xf4\xbf\xbf\xbf", 1),
	BAD("F5", "\xf5\x80\x80\x80", 0),
	BAD("F7", "\xf7\xbf\xbf\xbf", 0),
	BAD("F8 5-byte", "\xf8\x88\x80\x80\x80", 0),
	BAD("FC 6-byte", "\xfc\x84\x80\x80\x80\x80", 0),
	BAD("FE", "\xfe", 0),
	BAD("FF", "\xff", 0),
	BAD("FE FE FF FF", "\xfe\xfe\xff\xff", 0),

	/* 3.1: stray continuation bytes. */
	BAD("80", "\x80", 0),
	BAD("BF", "\xbf", 0),
	BAD("80 BF", "\x80\xbf", 0),
	BAD("a 80", "a\x80", 1),
	BAD("2-byte + 80", "\xc3\xa9\x80", 2),
	BAD("3-byte + BF", "\xe2\x82\xac\xbf", 3),
	BAD("4-byte + 80", "\xf0\x9f\x98\x80\x80", 4),

	/* 3.2 / 3.3: lead bytes without their continuations. */
	BAD("C3 space", "\xc3 ", 1),
	BAD("E2 space", "\xe2 ", 1),
	BAD("E2 82 space", "\xe2\x82 ", 2),
	BAD("F0 9F 98 space", "\xf0\x9f\x98 ", 3),
	BAD("E2 then lead", "\xe2\xe2\x82\xac", 1),
	BAD("C3 C3", "\xc3\xc3", 1),
	BAD("F1 80 C3", "\xf1\x80\xc3", 2),

	/* 4.x: every overlong form, including the "/" and maximal ones. */
	BAD("C0 80 (U+0000)", "\xc0\x80", 0),
	BAD("C0 AF (/)", "\xc0\xaf", 0),
	BAD("C1 BF (U+007F)", "\xc1\xbf", 0),
	BAD("E0 80 80 (U+0000)", "\xe0\x80\x80", 1),
	BAD("E0 80 AF (/)", "\xe0\x80\xaf", 1),
	BAD("E0 9F BF (U+07FF)", "\xe0\x9f\xbf", 1),
	BAD("F0 80 80 80 (U+0000)", "\xf0\x80\x80\x80", 1),
	BAD("F0 80 80 AF (/)", "\xf0\x80\x80\xaf", 1),
	BAD("F0 8F BF BF (U+FFFF)", "\xf0\x8f\xbf\xbf", 1),
	BAD("F8 80 80 80 AF", "\xf8\x80\x80\x80\xaf", 0),
	BAD("FC 80 80 80 80 AF", "\xfc\x80\x80\x80\x80\xaf", 0),

	/* 5.1 / 5.2: single and paired UTF-16 surrogates. */
	BAD("U+D800", "\xed\xa0\x80", 1),
	BAD("U+DB7F", "\xed\xad\xbf", 1),
	BAD("U+DB80", "\xed\xae\x80", 1),
	BAD("U+DBFF", "\xed\xaf\xbf", 1),
	BAD("U+DC00", "\xed\xb0\x80", 1),
	BAD("U+DF80", "\xed\xbe\x80", 1),
	BAD("U+DFFF", "\xed\xbf\xbf", 1),
	BAD("U+D800 U+DC00", "\xed\xa0\x80\xed\xb0\x80", 1),
	BAD("U+DBFF U+DFFF", "\xed\xaf\xbf\xed\xbf\xbf", 1),
	BAD("ok then surrogate", "ab\xc3\xa9\xed\xa0\x80", 5),
};
#define NCASES	(sizeof cases / sizeof cases[0])

/*
 * Reference: the index of the first byte after which p[0..n) cannot be
 * extended to valid UTF-8, or -1. Decodes code points and checks their
 * value, unlike ws_utf8.c which checks byte ranges; *complete says the input
 * ends on a boundary.
 */
static long
ref_first_bad(const uint8_t *p, size_t n, int *complete)
{
	static const uint32_t	 min_cp[5] = { 0, 0, 0x80, 0x800, 0x10000 };
	size_t			 i = 0, len, k, rest;
	uint32_t		 cp, lo, hi;
	uint8_t			 b;

	*complete = 0;
	while (i < n) {
		b = p[i];
		if (b < 0x80) {
			i++;
			continue;
		}
		if ((b & 0xe0) == 0xc0) {
			len = 2;
			cp = b & 0x1f;
		} else if ((b & 0xf0) == 0xe0) {
			len = 3;
			cp = b & 0x0f;
		} else if ((b & 0xf8) == 0xf0) {
			len = 4;
			cp = b & 0x07;
		} else
			return ((long)i);
		/*
		 * After each byte, the code points still reachable form the
		 * interval [lo, hi]: the missing bits all 0 or all 1. The
		 * byte is bad when no valid code point is left in it.
		 */
		for (k = 1; k <= len; k++) {
			if (k > 1) {
				if (i + k - 1 >= n)
					return (-1);	/* truncated, viable */
				b = p[i + k - 1];
				if ((b & 0xc0) != 0x80)
					return ((long)(i + k - 1));
				cp = (cp << 6) | (b & 0x3f);
			}
			rest = 6 * (len - k);
			lo = cp << rest;
			hi = (cp << rest) | ((1U << rest) - 1);
			if (hi < min_cp[len] || lo > 0x10ffff ||
			    (lo >= 0xd800 && hi <= 0xdfff))
				return ((long)(i + k - 1));
		}
		i += len;
	}
	*complete = 1;
	return (-1);
}

static void
check_case(const char *name, const uint8_t *p, size_t n, long bad,
    int complete)
{
	uint32_t	st;
	size_t		i, k;
	int		r1, r2;

	/* Whole. */
	st = WS_UTF8_ACCEPT;
	if (bad >= 0)
		assert_int_equal(ws_utf8_feed(&st, p, n), -1);
	else {
		assert_int_equal(ws_utf8_feed(&st, p, n), 0);
		assert_int_equal(st == WS_UTF8_ACCEPT, complete);
	}

	/* One byte at a time: -1 exactly on the first invalid byte. */
	st = WS_UTF8_ACCEPT;
	for (i = 0; i < n; i++) {
		if ((long)i == bad) {
			assert_int_equal(ws_utf8_feed(&st, p + i, 1), -1);
			break;
		}
		if (ws_utf8_feed(&st, p + i, 1) != 0)
			fail_msg("%s: failed early at %zu (want %ld)", name, i,
			    bad);
	}
	if (bad < 0)
		assert_int_equal(st == WS_UTF8_ACCEPT, complete);

	/* Two feeds, split at every position: -1 on the feed holding it. */
	for (k = 0; k <= n; k++) {
		st = WS_UTF8_ACCEPT;
		r1 = ws_utf8_feed(&st, p, k);
		if (bad >= 0 && (long)k > bad) {
			assert_int_equal(r1, -1);
			continue;
		}
		assert_int_equal(r1, 0);
		r2 = ws_utf8_feed(&st, p + k, n - k);
		if (bad >= 0)
			assert_int_equal(r2, -1);
		else {
			assert_int_equal(r2, 0);
			assert_int_equal(st == WS_UTF8_ACCEPT, complete);
		}
	}
}

/* The table, and the reference agreeing with the table. */
static void
test_kuhn_cases(void **unused)
{
	const struct utf8_case	*c;
	size_t			 i;
	long			 rb;
	int			 rc;

	(void)unused;
	for (i = 0; i < NCASES; i++) {
		c = &cases[i];
		rb = ref_first_bad((const uint8_t *)c->s, c->n, &rc);
		if (rb != c->bad || (rb < 0 && rc != c->complete))
			fail_msg("reference disagrees on %s", c->name);
		check_case(c->name, (const uint8_t *)c->s, c->n, c->bad,
		    c->complete);
	}
}

/* Every 2-byte lead with every second byte: exactly the RFC 3629 table. */
static void
test_second_byte_table(void **unused)
{
	uint8_t		buf[2];
	uint32_t	st;
	unsigned	a, b;
	int		want, got;

	(void)unused;
	for (a = 0; a < 256; a++) {
		for (b = 0; b < 256; b++) {
			buf[0] = (uint8_t)a;
			buf[1] = (uint8_t)b;
			if (a < 0x80)
				want = b < 0x80 || (b >= 0xc2 && b <= 0xf4);
			else if (a >= 0xc2 && a <= 0xdf)
				want = b >= 0x80 && b <= 0xbf;
			else if (a == 0xe0)
				want = b >= 0xa0 && b <= 0xbf;
			else if (a == 0xed)
				want = b >= 0x80 && b <= 0x9f;
			else if (a >= 0xe1 && a <= 0xef)
				want = b >= 0x80 && b <= 0xbf;
			else if (a == 0xf0)
				want = b >= 0x90 && b <= 0xbf;
			else if (a >= 0xf1 && a <= 0xf3)
				want = b >= 0x80 && b <= 0xbf;
			else if (a == 0xf4)
				want = b >= 0x80 && b <= 0x8f;
			else
				want = 0;
			st = WS_UTF8_ACCEPT;
			got = ws_utf8_feed(&st, buf, 2) == 0;
			if (got != want)
				fail_msg("%02x %02x: got %d want %d", a, b, got,
				    want);
		}
	}
}

/* U+0000..U+10FFFF encoded by hand: valid exactly off the surrogates. */
static void
test_all_code_points(void **unused)
{
	uint8_t		buf[4];
	uint32_t	cp, st;
	size_t		n;
	int		r;

	(void)unused;
	for (cp = 0; cp <= 0x10ffff; cp++) {
		if (cp < 0x80) {
			buf[0] = (uint8_t)cp;
			n = 1;
		} else if (cp < 0x800) {
			buf[0] = (uint8_t)(0xc0 | (cp >> 6));
			buf[1] = (uint8_t)(0x80 | (cp & 0x3f));
			n = 2;
		} else if (cp < 0x10000) {
			buf[0] = (uint8_t)(0xe0 | (cp >> 12));
			buf[1] = (uint8_t)(0x80 | ((cp >> 6) & 0x3f));
			buf[2] = (uint8_t)(0x80 | (cp & 0x3f));
			n = 3;
		} else {
			buf[0] = (uint8_t)(0xf0 | (cp >> 18));
			buf[1] = (uint8_t)(0x80 | ((cp >> 12) & 0x3f));
			buf[2] = (uint8_t)(0x80 | ((cp >> 6) & 0x3f));
			buf[3] = (uint8_t)(0x80 | (cp & 0x3f));
			n = 4;
		}
		st = WS_UTF8_ACCEPT;
		r = ws_utf8_feed(&st, buf, n);
		if (cp >= 0xd800 && cp <= 0xdfff) {
			if (r != -1)
				fail_msg("surrogate U+%04X accepted", cp);
		} else if (r != 0 || st != WS_UTF8_ACCEPT)
			fail_msg("U+%04X rejected", cp);
	}
}

/*
 * The ASCII word fast path: a bad or multibyte character at every position
 * of a long ASCII run, from every start alignment.
 */
static void
test_fast_path(void **unused)
{
	uint8_t		buf[80], *p;
	uint32_t	st;
	size_t		pos, al, n = 64;

	(void)unused;
	for (al = 0; al < 8; al++) {
		p = buf + al;
		for (pos = 0; pos < n; pos++) {
			memset(p, 'x', n);
			p[pos] = 0x80;
			check_case("stray in ascii", p, n, (long)pos, 0);

			memset(p, 'x', n);
			p[pos] = 0xff;
			st = WS_UTF8_ACCEPT;
			assert_int_equal(ws_utf8_feed(&st, p, n), -1);

			if (pos + 3 <= n) {
				memset(p, 'x', n);
				memcpy(p + pos, "\xe2\x82\xac", 3);
				check_case("euro in ascii", p, n, -1, 1);
				memcpy(p + pos, "\xed\xa0\x80", 3);
				check_case("surrogate in ascii", p, n,
				    (long)pos + 1, 0);
			}
			/* A sequence cut by the end of the buffer. */
			memset(p, 'x', n);
			p[n - 1] = 0xf0;
			check_case("open at end", p, n, -1, 0);
		}
	}
}

/* A tiny deterministic PRNG so that failures reproduce. */
static uint32_t
rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return ((uint32_t)(*s >> 16));
}

/* Random strings over the interesting bytes, checked against the reference. */
static void
test_random_against_reference(void **unused)
{
	static const uint8_t	 alphabet[] = {
		0x00, 0x41, 0x7f, 0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf, 0xc0,
		0xc1, 0xc2, 0xdf, 0xe0, 0xe1, 0xec, 0xed, 0xee, 0xef, 0xf0,
		0xf1, 0xf3, 0xf4, 0xf5, 0xff,
	};
	uint8_t			 buf[40];
	uint64_t		 seed = 0x9e3779b97f4a7c15ULL;
	size_t			 i, n;
	long			 bad;
	int			 iter, complete;

	(void)unused;
	for (iter = 0; iter < 20000; iter++) {
		n = rnd(&seed) % sizeof buf;
		for (i = 0; i < n; i++) {
			if (rnd(&seed) % 3 == 0)
				buf[i] = 'a';
			else
				buf[i] = alphabet[rnd(&seed) % sizeof alphabet];
		}
		bad = ref_first_bad(buf, n, &complete);
		check_case("random", buf, n, bad, complete);
	}
}

/* Carrying state across many frames of one message. */
static void
test_state_across_feeds(void **unused)
{
	static const uint8_t	 msg[] = "\xf0\x9f\x98\x80\xe2\x82\xac";
	uint32_t		 st = WS_UTF8_ACCEPT;
	size_t			 i;

	(void)unused;
	for (i = 0; i < sizeof msg - 1; i++) {
		assert_int_equal(ws_utf8_feed(&st, msg + i, 1), 0);
		if (i == 3 || i == 6)
			assert_int_equal(st, WS_UTF8_ACCEPT);
		else
			assert_int_not_equal(st, WS_UTF8_ACCEPT);
	}
	/* An empty feed changes nothing. */
	assert_int_equal(ws_utf8_feed(&st, msg, 0), 0);
	assert_int_equal(st, WS_UTF8_ACCEPT);
	st = WS_UTF8_ACCEPT;
	assert_int_equal(ws_utf8_feed(&st, msg, 2), 0);
	assert_int_equal(ws_utf8_feed(&st, NULL, 0), 0);
	assert_int_equal(ws_utf8_feed(&st, msg + 2, 2), 0);
	assert_int_equal(st, WS_UTF8_ACCEPT);
}

static void
test_boundary(void **unused)
{
	static const uint8_t	 s[] =
	    "ab\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80z";
	/* For each prefix length, the boundary at or before it. */
	static const size_t	 want[] = {
		0, 1, 2, 2, 4, 4, 4, 7, 7, 7, 7, 11, 12,
	};
	size_t			 n;

	(void)unused;
	for (n = 0; n <= sizeof s - 1; n++) {
		if (ws_utf8_boundary(s, n) != want[n])
			fail_msg("prefix %zu: got %zu want %zu", n,
			    ws_utf8_boundary(s, n), want[n]);
	}
	assert_int_equal(ws_utf8_boundary(NULL, 0), 0);
	assert_int_equal(ws_utf8_boundary((const uint8_t *)"\xc3", 1), 0);
	assert_int_equal(ws_utf8_boundary((const uint8_t *)"\xf0\x9f", 2), 0);
	assert_int_equal(ws_utf8_boundary((const uint8_t *)"\xf0\x9f\x98", 3),
	    0);
	assert_int_equal(
	    ws_utf8_boundary((const uint8_t *)"\xf0\x9f\x98\x80", 4), 4);
	assert_int_equal(ws_utf8_boundary((const uint8_t *)"abc", 3), 3);
	assert_int_equal(ws_utf8_boundary((const uint8_t *)"abcd\xe2", 5), 4);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_kuhn_cases),
		cmocka_unit_test(test_second_byte_table),
		cmocka_unit_test(test_all_code_points),
		cmocka_unit_test(test_fast_path),
		cmocka_unit_test(test_random_against_reference),
		cmocka_unit_test(test_state_across_feeds),
		cmocka_unit_test(test_boundary),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
