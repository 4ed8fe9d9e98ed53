/* ws_utf8.c -- incremental UTF-8 validation (RFC 3629 section 4) for text messages. */
#include "wsb_autoconf.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "ws_utf8.h"

/*
 * The state is packed into a uint32_t so that it can be carried across
 * frames by the caller:
 *
 *	bits  0..7	continuation bytes still expected (0..3); 0 only in
 *			WS_UTF8_ACCEPT, so a pending state is never 0
 *	bits  8..15	lowest byte allowed as the next continuation byte
 *	bits 16..23	highest byte allowed as the next continuation byte
 *
 * Only the second byte of a sequence has a range narrower than 80..BF
 * (RFC 3629 table: E0 A0..BF, ED 80..9F, F0 90..BF, F4 80..8F); checking it
 * there, rather than decoding the code point and checking at the end, is
 * what makes the validator fail on the first byte that cannot be valid.
 */
#define UTF8_STATE(need, lo, hi) \
	((uint32_t)(need) | ((uint32_t)(lo) << 8) | ((uint32_t)(hi) << 16))
#define UTF8_NEED(s)	((s) & 0xff)
#define UTF8_LO(s)	(((s) >> 8) & 0xff)
#define UTF8_HI(s)	(((s) >> 16) & 0xff)

#define UTF8_ASCII_MASK	0x8080808080808080ULL

/*
 * Returns the state after lead byte b, or UINT32_MAX if b cannot start a
 * sequence: a continuation byte, C0/C1 (always overlong) or F5..FF (above
 * U+10FFFF).
 */
static uint32_t
ws_utf8_lead(uint8_t b)
{
	if (b < 0xc2)
		return (UINT32_MAX);	/* 00..7F are handled by the caller */
	if (b <= 0xdf)
		return (UTF8_STATE(1, 0x80, 0xbf));
	if (b == 0xe0)
		return (UTF8_STATE(2, 0xa0, 0xbf));	/* no overlong 3-byte */
	if (b == 0xed)
		return (UTF8_STATE(2, 0x80, 0x9f));	/* no surrogates */
	if (b <= 0xef)
		return (UTF8_STATE(2, 0x80, 0xbf));
	if (b == 0xf0)
		return (UTF8_STATE(3, 0x90, 0xbf));	/* no overlong 4-byte */
	if (b <= 0xf3)
		return (UTF8_STATE(3, 0x80, 0xbf));
	if (b == 0xf4)
		return (UTF8_STATE(3, 0x80, 0x8f));	/* nothing past U+10FFFF */
	return (UINT32_MAX);
}

int
ws_utf8_feed(uint32_t *state, const uint8_t *p, size_t n)
{
	uint32_t	s = *state;
	uint64_t	w;
	size_t		i = 0;
	uint8_t		b;

	while (i < n) {
		if (s == WS_UTF8_ACCEPT) {
			/* Most text is ASCII: skip it a word at a time. */
			while (n - i >= 8) {
				memcpy(&w, p + i, sizeof w);
				if ((w & UTF8_ASCII_MASK) != 0)
					break;
				i += 8;
			}
			if (i == n)
				break;
			b = p[i++];
			if (b < 0x80)
				continue;
			if ((s = ws_utf8_lead(b)) == UINT32_MAX)
				goto fail;
			continue;
		}
		b = p[i++];
		if (b < UTF8_LO(s) || b > UTF8_HI(s))
			goto fail;
		if (UTF8_NEED(s) == 1)
			s = WS_UTF8_ACCEPT;
		else
			s = UTF8_STATE(UTF8_NEED(s) - 1, 0x80, 0xbf);
	}
	*state = s;
	return (0);

fail:
	*state = UINT32_MAX;
	return (-1);
}

size_t
ws_utf8_boundary(const uint8_t *p, size_t n)
{
	size_t	k, seq;
	uint8_t	b;

	/*
	 * A sequence is at most 4 bytes, so a cut one has its lead byte in
	 * the last 3. Walk back over continuation bytes to the lead; if the
	 * sequence it starts is longer than what follows it, cut before it.
	 */
	for (k = 1; k <= 3 && k <= n; k++) {
		b = p[n - k];
		if ((b & 0xc0) == 0x80)
			continue;	/* continuation byte */
		if (b >= 0xf0 && b <= 0xf7)
			seq = 4;
		else if (b >= 0xe0 && b <= 0xef)
			seq = 3;
		else if (b >= 0xc0 && b <= 0xdf)
			seq = 2;
		else
			seq = 1;	/* ASCII, or not a lead byte at all */
		return (seq > k ? n - k : n);
	}
	return (n);
}
