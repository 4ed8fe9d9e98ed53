/* fuzz_ws_utf8.c -- libFuzzer target: the UTF-8 validator agrees with itself however it is fed. */
#include "wsb_autoconf.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "ws_utf8.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* Returns the index of the first invalid byte, fed one at a time, or -1. */
static long
first_bad(const uint8_t *p, size_t n, uint32_t *state)
{
	size_t	i;

	*state = WS_UTF8_ACCEPT;
	for (i = 0; i < n; i++) {
		if (ws_utf8_feed(state, p + i, 1) != 0)
			return ((long)i);
	}
	return (-1);
}

/*
 * Feeds p[0..n) as p[0..a), p[a..b), p[b..n) and checks the feed that fails
 * is the one holding the first invalid byte, and the end state otherwise.
 */
static void
check_split(const uint8_t *p, size_t n, size_t a, size_t b, long bad,
    uint32_t want)
{
	uint32_t	st = WS_UTF8_ACCEPT;
	size_t		cut[3] = { a, b, n }, from = 0;
	int		i, r;

	for (i = 0; i < 3; i++) {
		r = ws_utf8_feed(&st, p + from, cut[i] - from);
		if (bad >= 0 && (size_t)bad >= from && (size_t)bad < cut[i]) {
			if (r != -1)
				abort();
			return;
		}
		if (r != 0)
			abort();
		from = cut[i];
	}
	if (bad >= 0 || st != want)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *p, size_t n)
{
	uint32_t	st, ref;
	size_t		a, b, i, h;
	long		bad;
	int		r;

	/* Byte at a time never takes the word-wide fast path. */
	bad = first_bad(p, n, &ref);

	st = WS_UTF8_ACCEPT;
	r = ws_utf8_feed(&st, p, n);
	if (r != (bad >= 0 ? -1 : 0))
		abort();
	if (r == 0 && st != ref)
		abort();

	/* Split points derived from the input, and every one when short. */
	h = 2166136261U;
	for (i = 0; i < n; i++)
		h = (h ^ p[i]) * 16777619U;
	a = n == 0 ? 0 : h % (n + 1);
	b = a + (n == 0 ? 0 : (h >> 16) % (n - a + 1));
	check_split(p, n, a, b, bad, ref);
	if (n <= 128) {
		for (a = 0; a <= n; a++)
			check_split(p, n, a, a, bad, ref);
	}

	/* The boundary leaves a complete valid prefix of a valid input. */
	h = ws_utf8_boundary(p, n);
	if (h > n || n - h > 3)
		abort();
	if (ws_utf8_boundary(p, h) != h && bad < 0)
		abort();
	if (bad < 0) {
		st = WS_UTF8_ACCEPT;
		if (ws_utf8_feed(&st, p, h) != 0 || st != WS_UTF8_ACCEPT)
			abort();
	}
	return (0);
}
