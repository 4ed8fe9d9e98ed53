/* ws_utf8.h -- incremental UTF-8 validation (RFC 3629) for text messages. */
#ifndef WS_UTF8_H
#define WS_UTF8_H

#include <stddef.h>
#include <stdint.h>

#define WS_UTF8_ACCEPT	0	/* at a code point boundary */

/*
 * Feeds p[0..n) to a validator whose state lives in *state (start with
 * WS_UTF8_ACCEPT; carry it across frames of one message). Returns 0 when all
 * input so far is valid or a valid prefix (a code point may be open), -1 at
 * the first byte that makes it invalid: overlong forms, surrogates
 * (U+D800..DFFF), values above U+10FFFF, bad continuation bytes. After -1 the
 * state is meaningless. A message is valid when its last feed returned 0 and
 * *state == WS_UTF8_ACCEPT.
 */
int	ws_utf8_feed(uint32_t *state, const uint8_t *p, size_t n);

/*
 * Given p[0..n) beginning at a code point boundary, returns the length of the
 * longest prefix that ends on a boundary (n minus a trailing partial
 * sequence of 1-3 bytes). Used to split outbound text without cutting a
 * character. Does not validate.
 */
size_t	ws_utf8_boundary(const uint8_t *p, size_t n);

#endif
