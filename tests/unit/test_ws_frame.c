/* test_ws_frame.c -- unit tests for the RFC 6455 frame codec (ws_frame.c). */
#include "wsb_autoconf.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "ws_frame.h"
#include "ws_utf8.h"

static const uint8_t	rfc_key[4] = { 0x37, 0xfa, 0x21, 0x3d };

/*
 * Parses p[0..n) whole, then one byte at a time (0 until the header is
 * complete), and checks both agree. Returns the header length.
 */
static int
parse_both(const uint8_t *p, size_t n, struct ws_frame *f)
{
	struct ws_frame	g;
	size_t		k;
	int		r, r1 = 0;

	r = ws_frame_parse(p, n, f);
	for (k = 0; k <= n; k++) {
		memset(&g, 0xa5, sizeof g);
		r1 = ws_frame_parse(p, k, &g);
		if (r1 != 0)
			break;
		/* Nothing is written until the header is complete. */
		assert_int_equal(g.hdr_len, 0xa5);
	}
	assert_int_equal(r1, r);
	if (r > 0) {
		assert_int_equal(k, (size_t)r);
		assert_true(g.len == f->len);
		assert_int_equal(g.opcode, f->opcode);
		assert_int_equal(g.fin, f->fin);
		assert_int_equal(g.rsv, f->rsv);
		assert_int_equal(g.masked, f->masked);
		assert_memory_equal(g.mask, f->mask, 4);
		assert_int_equal(g.hdr_len, f->hdr_len);
	}
	return (r);
}

/* RFC 6455 5.7: a single-frame unmasked text message. */
static void
test_rfc_unmasked_text(void **unused)
{
	static const uint8_t	wire[] = {
		0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f,
	};
	struct ws_frame		f;
	uint8_t			hdr[WS_HDR_MAX];

	(void)unused;
	assert_int_equal(parse_both(wire, sizeof wire, &f), 2);
	assert_int_equal(f.fin, 1);
	assert_int_equal(f.rsv, 0);
	assert_int_equal(f.opcode, WS_OP_TEXT);
	assert_int_equal(f.masked, 0);
	assert_int_equal(f.len, 5);
	assert_int_equal(f.hdr_len, 2);
	assert_memory_equal(wire + 2, "Hello", 5);

	assert_int_equal(ws_frame_header(hdr, 1, 0, WS_OP_TEXT, 5, NULL), 2);
	assert_memory_equal(hdr, wire, 2);
}

/* RFC 6455 5.7: a single-frame masked text message. */
static void
test_rfc_masked_text(void **unused)
{
	static const uint8_t	wire[] = {
		0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d,
		0x7f, 0x9f, 0x4d, 0x51, 0x58,
	};
	struct ws_frame		f;
	uint8_t			buf[sizeof wire], hdr[WS_HDR_MAX];

	(void)unused;
	assert_int_equal(parse_both(wire, sizeof wire, &f), 6);
	assert_int_equal(f.fin, 1);
	assert_int_equal(f.opcode, WS_OP_TEXT);
	assert_int_equal(f.masked, 1);
	assert_int_equal(f.len, 5);
	assert_memory_equal(f.mask, rfc_key, 4);

	memcpy(buf, wire, sizeof wire);
	assert_int_equal(ws_mask(buf + 6, 5, f.mask, 0), 1);
	assert_memory_equal(buf + 6, "Hello", 5);

	/* In pieces, carrying the offset. */
	memcpy(buf, wire, sizeof wire);
	assert_int_equal(ws_mask(buf + 6, 3, f.mask, 0), 3);
	assert_int_equal(ws_mask(buf + 9, 2, f.mask, 3), 1);
	assert_memory_equal(buf + 6, "Hello", 5);

	assert_int_equal(ws_frame_header(hdr, 1, 0, WS_OP_TEXT, 5, rfc_key),
	    6);
	assert_memory_equal(hdr, wire, 6);
}

/* RFC 6455 5.7: a fragmented unmasked text message, "Hel" + "lo". */
static void
test_rfc_fragmented(void **unused)
{
	static const uint8_t	w1[] = { 0x01, 0x03, 0x48, 0x65, 0x6c };
	static const uint8_t	w2[] = { 0x80, 0x02, 0x6c, 0x6f };
	struct ws_rx_rules	r;
	struct ws_frame		f;
	uint8_t			hdr[WS_HDR_MAX];

	(void)unused;
	memset(&r, 0, sizeof r);

	assert_int_equal(parse_both(w1, sizeof w1, &f), 2);
	assert_int_equal(f.fin, 0);
	assert_int_equal(f.opcode, WS_OP_TEXT);
	assert_int_equal(f.len, 3);
	assert_int_equal(ws_rx_check(&r, &f), 0);
	assert_int_equal(r.in_message, 1);
	assert_int_equal(r.msg_opcode, WS_OP_TEXT);
	assert_int_equal(ws_frame_header(hdr, 0, 0, WS_OP_TEXT, 3, NULL), 2);
	assert_memory_equal(hdr, w1, 2);

	assert_int_equal(parse_both(w2, sizeof w2, &f), 2);
	assert_int_equal(f.fin, 1);
	assert_int_equal(f.opcode, WS_OP_CONT);
	assert_int_equal(f.len, 2);
	assert_int_equal(ws_rx_check(&r, &f), 0);
	assert_int_equal(r.in_message, 0);
	assert_int_equal(r.msg_opcode, WS_OP_TEXT);
	assert_int_equal(ws_frame_header(hdr, 1, 0, WS_OP_CONT, 2, NULL), 2);
	assert_memory_equal(hdr, w2, 2);
}

/* RFC 6455 5.7: unmasked ping, masked pong, both "Hello". */
static void
test_rfc_ping_pong(void **unused)
{
	static const uint8_t	ping[] = {
		0x89, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f,
	};
	static const uint8_t	pong[] = {
		0x8a, 0x85, 0x37, 0xfa, 0x21, 0x3d,
		0x7f, 0x9f, 0x4d, 0x51, 0x58,
	};
	struct ws_frame		f;
	uint8_t			buf[sizeof pong], hdr[WS_HDR_MAX];

	(void)unused;
	assert_int_equal(parse_both(ping, sizeof ping, &f), 2);
	assert_int_equal(f.opcode, WS_OP_PING);
	assert_int_equal(f.masked, 0);
	assert_int_equal(f.len, 5);
	assert_memory_equal(ping + 2, "Hello", 5);
	assert_int_equal(ws_frame_header(hdr, 1, 0, WS_OP_PING, 5, NULL), 2);
	assert_memory_equal(hdr, ping, 2);

	assert_int_equal(parse_both(pong, sizeof pong, &f), 6);
	assert_int_equal(f.opcode, WS_OP_PONG);
	assert_int_equal(f.masked, 1);
	assert_int_equal(f.len, 5);
	memcpy(buf, pong, sizeof pong);
	ws_mask(buf + 6, 5, f.mask, 0);
	assert_memory_equal(buf + 6, "Hello", 5);
	assert_int_equal(ws_frame_header(hdr, 1, 0, WS_OP_PONG, 5, f.mask), 6);
	assert_memory_equal(hdr, pong, 6);
}

/* RFC 6455 5.7: 256 bytes and 64KiB of binary data, unmasked. */
static void
test_rfc_binary_lengths(void **unused)
{
	static const uint8_t	h256[] = { 0x82, 0x7e, 0x01, 0x00 };
	static const uint8_t	h64k[] = {
		0x82, 0x7f, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00,
	};
	struct ws_frame		f;
	uint8_t			hdr[WS_HDR_MAX];

	(void)unused;
	assert_int_equal(parse_both(h256, sizeof h256, &f), 4);
	assert_int_equal(f.opcode, WS_OP_BINARY);
	assert_int_equal(f.len, 256);
	assert_int_equal(ws_frame_header(hdr, 1, 0, WS_OP_BINARY, 256, NULL),
	    4);
	assert_memory_equal(hdr, h256, 4);

	assert_int_equal(parse_both(h64k, sizeof h64k, &f), 10);
	assert_int_equal(f.opcode, WS_OP_BINARY);
	assert_int_equal(f.len, 65536);
	assert_int_equal(ws_frame_header(hdr, 1, 0, WS_OP_BINARY, 65536, NULL),
	    10);
	assert_memory_equal(hdr, h64k, 10);
}

/* Each length encoding at its edges, built then parsed, masked and not. */
static void
test_length_boundaries(void **unused)
{
	static const struct {
		uint64_t	len;
		size_t		hdr;
	} t[] = {
		{ 0, 2 }, { 1, 2 }, { 125, 2 },
		{ 126, 4 }, { 127, 4 }, { 65535, 4 },
		{ 65536, 10 }, { 0xffffffffULL, 10 }, { 1ULL << 32, 10 },
		{ (1ULL << 63) - 1, 10 },
	};
	struct ws_frame		f;
	uint8_t			buf[WS_HDR_MAX + 3];
	size_t			i, h;
	int			m;

	(void)unused;
	for (i = 0; i < sizeof t / sizeof t[0]; i++) {
		for (m = 0; m <= 1; m++) {
			memset(buf, 0xee, sizeof buf);
			h = ws_frame_header(buf, 1, 0, WS_OP_BINARY, t[i].len,
			    m ? rfc_key : NULL);
			assert_int_equal(h, t[i].hdr + (m ? 4 : 0));
			/* Trailing payload bytes must not matter. */
			assert_int_equal(parse_both(buf, h + 3, &f), (int)h);
			assert_true(f.len == t[i].len);
			assert_int_equal(f.masked, m);
			assert_int_equal(f.hdr_len, h);
			assert_int_equal(f.fin, 1);
			assert_int_equal(f.opcode, WS_OP_BINARY);
			if (m)
				assert_memory_equal(f.mask, rfc_key, 4);
		}
	}
}

/* RFC 6455 5.2 does not ask receivers to enforce the shortest encoding. */
static void
test_non_minimal_length(void **unused)
{
	static const uint8_t	l16[] = { 0x81, 0x7e, 0x00, 0x05 };
	static const uint8_t	l64[] = {
		0x81, 0x7f, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x05,
	};
	static const uint8_t	l64b[] = {
		0x82, 0xff, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00,
		0x37, 0xfa, 0x21, 0x3d,
	};
	struct ws_frame		f;

	(void)unused;
	assert_int_equal(parse_both(l16, sizeof l16, &f), 4);
	assert_int_equal(f.len, 5);
	assert_int_equal(parse_both(l64, sizeof l64, &f), 10);
	assert_int_equal(f.len, 5);
	assert_int_equal(parse_both(l64b, sizeof l64b, &f), 14);
	assert_int_equal(f.len, 256);
	assert_memory_equal(f.mask, rfc_key, 4);
}

/* A 64-bit length with the top bit set can never be valid. */
static void
test_length_top_bit(void **unused)
{
	static const uint8_t	big[] = {
		0x82, 0x7f, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	};
	static const uint8_t	max[] = {
		0x82, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
		0x01, 0x02, 0x03, 0x04,
	};
	struct ws_frame		f;

	(void)unused;
	/* Whole, and as soon as the offending byte is there. */
	assert_int_equal(parse_both(big, sizeof big, &f), -1);
	assert_int_equal(ws_frame_parse(big, 2, &f), 0);
	assert_int_equal(ws_frame_parse(big, 3, &f), -1);
	assert_int_equal(parse_both(max, sizeof max, &f), -1);
	assert_int_equal(ws_frame_parse(max, 3, &f), -1);
}

/* Header bits: FIN, each RSV bit, every opcode survive build and parse. */
static void
test_header_bits(void **unused)
{
	struct ws_frame		f;
	uint8_t			buf[WS_HDR_MAX];
	unsigned		fin, rsv, op;
	size_t			h;

	(void)unused;
	for (fin = 0; fin <= 1; fin++) {
		for (rsv = 0; rsv <= 7; rsv++) {
			for (op = 0; op <= 0xf; op++) {
				h = ws_frame_header(buf, fin, rsv, op, 7, NULL);
				assert_int_equal(h, 2);
				assert_int_equal(buf[0],
				    (fin << 7) | (rsv << 4) | op);
				assert_int_equal(ws_frame_parse(buf, h, &f), 2);
				assert_int_equal(f.fin, fin);
				assert_int_equal(f.rsv, rsv);
				assert_int_equal(f.opcode, op);
			}
		}
	}
	assert_int_equal(ws_frame_header(buf, 1, WS_RSV1, WS_OP_TEXT, 0, NULL),
	    2);
	assert_int_equal(buf[0], 0xc1);
	assert_int_equal(buf[1], 0x00);
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

/*
 * ws_mask against the RFC 6455 5.3 formula, byte by byte: with the AVX2
 * code where the CPU has it (pass 0), and with the portable vectors only
 * (pass 1).
 */
static void
test_mask_reference(void **unused)
{
	uint8_t		orig[320], want[320], buf[320 + 16], key[4];
	uint64_t	seed = 0x2545f4914f6cdd1dULL;
	size_t		n, off, al, i, next;
	int		iter, pass;

	(void)unused;
	for (pass = 0; pass < 2; pass++) {
		ws_mask_use_wide(pass == 0);
		for (iter = 0; iter < 400; iter++) {
			n = iter < 301 ? (size_t)iter : rnd(&seed) % 301;
			for (i = 0; i < 4; i++)
				key[i] = (uint8_t)rnd(&seed);
			for (i = 0; i < n; i++)
				orig[i] = (uint8_t)rnd(&seed);
			for (off = 0; off < 4; off++) {
				for (i = 0; i < n; i++)
					want[i] = orig[i] ^ key[(off + i) % 4];
				for (al = 0; al < 16; al++) {
					memset(buf, 0x5a, sizeof buf);
					memcpy(buf + al, orig, n);
					next = ws_mask(buf + al, n, key, off);
					assert_int_equal(next, (off + n) & 3);
					assert_memory_equal(buf + al, want, n);
					/* No byte outside p[0..n) touched. */
					for (i = 0; i < al; i++)
						assert_int_equal(buf[i], 0x5a);
					for (i = al + n; i < sizeof buf; i++)
						assert_int_equal(buf[i], 0x5a);
				}
			}
		}
	}
	ws_mask_use_wide(1);
}

/* Unmasking in random pieces equals unmasking whole; masking twice undoes. */
static void
test_mask_pieces(void **unused)
{
	uint8_t		orig[300], whole[300], parts[300], key[4];
	uint64_t	seed = 0x853c49e6748fea9bULL;
	size_t		i, n, pos, piece, off;
	int		iter;

	(void)unused;
	for (iter = 0; iter < 500; iter++) {
		n = rnd(&seed) % sizeof orig;
		for (i = 0; i < 4; i++)
			key[i] = (uint8_t)rnd(&seed);
		for (i = 0; i < n; i++)
			orig[i] = (uint8_t)rnd(&seed);
		memcpy(whole, orig, n);
		memcpy(parts, orig, n);
		ws_mask(whole, n, key, 0);
		for (pos = 0, off = 0; pos < n; pos += piece) {
			piece = 1 + rnd(&seed) % 40;
			if (piece > n - pos)
				piece = n - pos;
			off = ws_mask(parts + pos, piece, key, off);
		}
		assert_int_equal(off, n & 3);
		assert_memory_equal(whole, parts, n);
		ws_mask(whole, n, key, 0);
		assert_memory_equal(whole, orig, n);
	}
}

static struct ws_frame
mkframe(unsigned fin, unsigned rsv, unsigned op, uint64_t len, int masked)
{
	struct ws_frame	f;

	memset(&f, 0, sizeof f);
	f.fin = (uint8_t)fin;
	f.rsv = (uint8_t)rsv;
	f.opcode = (uint8_t)op;
	f.len = len;
	f.masked = (uint8_t)masked;
	f.hdr_len = 2;
	return (f);
}

static void
test_rx_mask_required(void **unused)
{
	struct ws_rx_rules	r;
	struct ws_frame		f;

	(void)unused;
	memset(&r, 0, sizeof r);
	r.require_mask = 1;
	f = mkframe(1, 0, WS_OP_TEXT, 5, 0);
	assert_int_equal(ws_rx_check(&r, &f), WS_CLOSE_PROTOCOL);
	f = mkframe(1, 0, WS_OP_PING, 0, 0);
	assert_int_equal(ws_rx_check(&r, &f), WS_CLOSE_PROTOCOL);
	f = mkframe(1, 0, WS_OP_TEXT, 5, 1);
	assert_int_equal(ws_rx_check(&r, &f), 0);

	/* Client side: unmasked frames are fine. */
	memset(&r, 0, sizeof r);
	f = mkframe(1, 0, WS_OP_TEXT, 5, 0);
	assert_int_equal(ws_rx_check(&r, &f), 0);
}

static void
test_rx_rsv_bits(void **unused)
{
	struct ws_rx_rules	r;
	struct ws_frame		f;
	unsigned		rsv;

	(void)unused;
	/* No extension: every RSV bit fails. */
	for (rsv = 1; rsv <= 7; rsv++) {
		memset(&r, 0, sizeof r);
		f = mkframe(1, rsv, WS_OP_BINARY, 5, 0);
		assert_int_equal(ws_rx_check(&r, &f), WS_CLOSE_PROTOCOL);
	}

	/* permessage-deflate: RSV1 allowed, RSV2/RSV3 still not. */
	memset(&r, 0, sizeof r);
	r.rsv_allowed = WS_RSV1;
	f = mkframe(1, WS_RSV1, WS_OP_TEXT, 5, 0);
	assert_int_equal(ws_rx_check(&r, &f), 0);
	assert_int_equal(r.msg_rsv1, 1);
	assert_int_equal(r.in_message, 0);
	f = mkframe(1, WS_RSV2, WS_OP_TEXT, 5, 0);
	assert_int_equal(ws_rx_check(&r, &f), WS_CLOSE_PROTOCOL);
	f = mkframe(1, WS_RSV1 | WS_RSV3, WS_OP_TEXT, 5, 0);
	assert_int_equal(ws_rx_check(&r, &f), WS_CLOSE_PROTOCOL);
	f = mkframe(1, 0, WS_OP_BINARY, 5, 0);
	assert_int_equal(ws_rx_check(&r, &f), 0);
	assert_int_equal(r.msg_rsv1, 0);
	assert_int_equal(r.msg_opcode, WS_OP_BINARY);
}

static void
test_rx_rsv1_placement(void **unused)
{
	struct ws_rx_rules	r;
	struct ws_frame		f;

	(void)unused;
	memset(&r, 0, sizeof r);
	r.rsv_allowed = WS_RSV1;

	/* On the first frame: fine, and remembered. */
	f = mkframe(0, WS_RSV1, WS_OP_TEXT, 5, 0);
	assert_int_equal(ws_rx_check(&r, &f), 0);
	assert_int_equal(r.msg_rsv1, 1);
	f = mkframe(0, 0, WS_OP_CONT, 5, 0);
	assert_int_equal(ws_rx_check(&r, &f), 0);
	/* On a control frame: never. */
	f = mkframe(1, WS_RSV1, WS_OP_PING, 0, 0);
	assert_int_equal(ws_rx_check(&r, &f), WS_CLOSE_PROTOCOL);
	/* On a continuation: never. */
	f = mkframe(1, WS_RSV1, WS_OP_CONT, 5, 0);
	assert_int_equal(ws_rx_check(&r, &f), WS_CLOSE_PROTOCOL);
	f = mkframe(1, 0, WS_OP_CONT, 5, 0);
	assert_int_equal(ws_rx_check(&r, &f), 0);
	assert_int_equal(r.in_message, 0);
	assert_int_equal(r.msg_rsv1, 1);
}

static void
test_rx_reserved_opcodes(void **unused)
{
	struct ws_rx_rules	r;
	struct ws_frame		f;
	unsigned		op;

	(void)unused;
	for (op = 0; op <= 0xf; op++) {
		memset(&r, 0, sizeof r);
		f = mkframe(1, 0, op, 0, 0);
		switch (op) {
		case WS_OP_CONT:	/* fails for another reason */
			break;
		case WS_OP_TEXT:
		case WS_OP_BINARY:
		case WS_OP_CLOSE:
		case WS_OP_PING:
		case WS_OP_PONG:
			assert_int_equal(ws_rx_check(&r, &f), 0);
			break;
		default:
			assert_int_equal(ws_rx_check(&r, &f),
			    WS_CLOSE_PROTOCOL);
			/* Also inside a message, and with state unchanged. */
			r.in_message = 1;
			r.msg_opcode = WS_OP_TEXT;
			assert_int_equal(ws_rx_check(&r, &f),
			    WS_CLOSE_PROTOCOL);
			break;
		}
	}
}

static void
test_rx_control_frames(void **unused)
{
	struct ws_rx_rules	r;
	struct ws_frame		f;
	static const unsigned	ops[] = { WS_OP_CLOSE, WS_OP_PING, WS_OP_PONG };
	size_t			i;

	(void)unused;
	for (i = 0; i < 3; i++) {
		memset(&r, 0, sizeof r);
		f = mkframe(1, 0, ops[i], 125, 0);
		assert_int_equal(ws_rx_check(&r, &f), 0);
		f = mkframe(1, 0, ops[i], 126, 0);
		assert_int_equal(ws_rx_check(&r, &f), WS_CLOSE_PROTOCOL);
		f = mkframe(1, 0, ops[i], 1ULL << 40, 0);
		assert_int_equal(ws_rx_check(&r, &f), WS_CLOSE_PROTOCOL);
		f = mkframe(0, 0, ops[i], 0, 0);
		assert_int_equal(ws_rx_check(&r, &f), WS_CLOSE_PROTOCOL);
		assert_int_equal(r.in_message, 0);

		/* Between fragments: allowed, message state untouched. */
		f = mkframe(0, 0, WS_OP_BINARY, 10, 0);
		assert_int_equal(ws_rx_check(&r, &f), 0);
		f = mkframe(1, 0, ops[i], 3, 0);
		assert_int_equal(ws_rx_check(&r, &f), 0);
		assert_int_equal(r.in_message, 1);
		assert_int_equal(r.msg_opcode, WS_OP_BINARY);
		f = mkframe(1, 0, WS_OP_CONT, 10, 0);
		assert_int_equal(ws_rx_check(&r, &f), 0);
		assert_int_equal(r.in_message, 0);
		/* Outside a message: still no message. */
		f = mkframe(1, 0, ops[i], 3, 0);
		assert_int_equal(ws_rx_check(&r, &f), 0);
		assert_int_equal(r.in_message, 0);
	}
}

static void
test_rx_fragmentation(void **unused)
{
	struct ws_rx_rules	r;
	struct ws_frame		f;

	(void)unused;
	memset(&r, 0, sizeof r);

	/* Continuation with no open message. */
	f = mkframe(0, 0, WS_OP_CONT, 1, 0);
	assert_int_equal(ws_rx_check(&r, &f), WS_CLOSE_PROTOCOL);
	f = mkframe(1, 0, WS_OP_CONT, 1, 0);
	assert_int_equal(ws_rx_check(&r, &f), WS_CLOSE_PROTOCOL);

	/* A message in three frames. */
	f = mkframe(0, 0, WS_OP_BINARY, 1, 0);
	assert_int_equal(ws_rx_check(&r, &f), 0);
	assert_int_equal(r.in_message, 1);
	assert_int_equal(r.msg_opcode, WS_OP_BINARY);
	f = mkframe(0, 0, WS_OP_CONT, 1, 0);
	assert_int_equal(ws_rx_check(&r, &f), 0);
	assert_int_equal(r.in_message, 1);

	/* A new data message while one is open. */
	f = mkframe(1, 0, WS_OP_TEXT, 1, 0);
	assert_int_equal(ws_rx_check(&r, &f), WS_CLOSE_PROTOCOL);
	f = mkframe(0, 0, WS_OP_BINARY, 1, 0);
	assert_int_equal(ws_rx_check(&r, &f), WS_CLOSE_PROTOCOL);
	assert_int_equal(r.in_message, 1);

	f = mkframe(1, 0, WS_OP_CONT, 1, 0);
	assert_int_equal(ws_rx_check(&r, &f), 0);
	assert_int_equal(r.in_message, 0);

	/* Closed: a continuation fails again, a new message is fine. */
	f = mkframe(1, 0, WS_OP_CONT, 1, 0);
	assert_int_equal(ws_rx_check(&r, &f), WS_CLOSE_PROTOCOL);
	f = mkframe(1, 0, WS_OP_TEXT, 1, 0);
	assert_int_equal(ws_rx_check(&r, &f), 0);
	assert_int_equal(r.in_message, 0);
	assert_int_equal(r.msg_opcode, WS_OP_TEXT);
	/* Zero-length fragments are fine. */
	f = mkframe(0, 0, WS_OP_TEXT, 0, 0);
	assert_int_equal(ws_rx_check(&r, &f), 0);
	f = mkframe(1, 0, WS_OP_CONT, 0, 0);
	assert_int_equal(ws_rx_check(&r, &f), 0);
	assert_int_equal(r.in_message, 0);
}

static void
test_close_parse(void **unused)
{
	static const unsigned	 bad[] = {
		0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000, 65535,
	};
	static const unsigned	 good[] = {
		1000, 1001, 1002, 1003, 1007, 1011, 1014, 3000, 4000, 4999,
	};
	const uint8_t		*reason;
	uint8_t			 buf[WS_CONTROL_MAX];
	size_t			 rlen, i;
	uint16_t		 code;
	unsigned		 c;
	int			 ok;

	(void)unused;
	memset(buf, 0, sizeof buf);
	/* Empty: no status. */
	code = 0;
	assert_int_equal(ws_close_parse(buf, 0, &code, &reason, &rlen), 0);
	assert_int_equal(code, WS_CLOSE_NO_STATUS);
	assert_int_equal(rlen, 0);

	/* One byte: half a code. */
	buf[0] = 0x03;
	assert_int_equal(ws_close_parse(buf, 1, &code, &reason, &rlen),
	    WS_CLOSE_PROTOCOL);

	/* Every code, bare. */
	for (c = 0; c <= 0xffff; c++) {
		ok = (c >= 1000 && c <= 1003) || (c >= 1007 && c <= 1014) ||
		    (c >= 3000 && c <= 4999);
		assert_int_equal(ws_close_code_valid(c), ok);
		buf[0] = (uint8_t)(c >> 8);
		buf[1] = (uint8_t)c;
		if (ok) {
			assert_int_equal(ws_close_parse(buf, 2, &code, &reason,
			    &rlen), 0);
			assert_int_equal(code, c);
			assert_int_equal(rlen, 0);
		} else
			assert_int_equal(ws_close_parse(buf, 2, &code, &reason,
			    &rlen), WS_CLOSE_PROTOCOL);
	}
	assert_int_equal(ws_close_code_valid(70000), 0);

	/* Named classes at their edges. */
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++)
		assert_int_equal(ws_close_code_valid(bad[i]), 0);
	for (i = 0; i < sizeof good / sizeof good[0]; i++)
		assert_int_equal(ws_close_code_valid(good[i]), 1);

	/* A UTF-8 reason, borrowed from the payload. */
	memcpy(buf, "\x03\xe8" "bye \xe2\x82\xac", 9);
	assert_int_equal(ws_close_parse(buf, 9, &code, &reason, &rlen), 0);
	assert_int_equal(code, WS_CLOSE_NORMAL);
	assert_ptr_equal(reason, buf + 2);
	assert_int_equal(rlen, 7);

	/* A bad reason: invalid, surrogate, cut short. */
	memcpy(buf, "\x03\xe8" "a\xff", 4);
	assert_int_equal(ws_close_parse(buf, 4, &code, &reason, &rlen),
	    WS_CLOSE_INVALID_DATA);
	memcpy(buf, "\x0f\xa0" "\xed\xa0\x80", 5);
	assert_int_equal(ws_close_parse(buf, 5, &code, &reason, &rlen),
	    WS_CLOSE_INVALID_DATA);
	memcpy(buf, "\x03\xe8" "bye \xe2\x82\xac", 9);
	assert_int_equal(ws_close_parse(buf, 8, &code, &reason, &rlen),
	    WS_CLOSE_INVALID_DATA);
	/* A bad code wins over a bad reason. */
	memcpy(buf, "\x03\xed" "\xff", 3);
	assert_int_equal(ws_close_parse(buf, 3, &code, &reason, &rlen),
	    WS_CLOSE_PROTOCOL);
}

static void
test_close_build(void **unused)
{
	char		 reason[300];
	const uint8_t	*r;
	uint8_t		 out[WS_CONTROL_MAX + 8];
	size_t		 n, rlen, pad;
	uint16_t	 code;

	(void)unused;
	memset(out, 0xee, sizeof out);
	assert_int_equal(ws_close_build(out, WS_CLOSE_NO_STATUS, "ignored"),
	    0);
	assert_int_equal(out[0], 0xee);

	assert_int_equal(ws_close_build(out, WS_CLOSE_GOING_AWAY, NULL), 2);
	assert_memory_equal(out, "\x03\xe9", 2);
	assert_int_equal(ws_close_build(out, 4000, ""), 2);
	assert_memory_equal(out, "\x0f\xa0", 2);

	n = ws_close_build(out, WS_CLOSE_NORMAL, "bye");
	assert_int_equal(n, 5);
	assert_memory_equal(out, "\x03\xe8" "bye", 5);

	/* Exactly 123 bytes fits; 124 is cut to 123. */
	memset(reason, 'x', 123);
	reason[123] = '\0';
	assert_int_equal(ws_close_build(out, WS_CLOSE_NORMAL, reason), 125);
	reason[123] = 'y';
	reason[124] = '\0';
	assert_int_equal(ws_close_build(out, WS_CLOSE_NORMAL, reason), 125);
	assert_int_equal(out[124], 'x');

	/* A euro sign straddling byte 123 at each position: cut before it. */
	for (pad = 118; pad <= 124; pad++) {
		memset(reason, 'x', pad);
		memcpy(reason + pad, "\xe2\x82\xac" "tail", 8);
		n = ws_close_build(out, WS_CLOSE_POLICY, reason);
		assert_true(n <= WS_CONTROL_MAX);
		if (pad + 3 <= 123)
			assert_int_equal(n, 2 + 123);
		else
			assert_int_equal(n, 2 + (pad < 123 ? pad : 123));
		/* What we build, a peer accepts. */
		assert_int_equal(ws_close_parse(out, n, &code, &r, &rlen), 0);
		assert_int_equal(code, WS_CLOSE_POLICY);
		assert_int_equal(rlen, n - 2);
	}

	/* A long 4-byte-character reason. */
	for (n = 0; n + 4 < sizeof reason; n += 4)
		memcpy(reason + n, "\xf0\x9f\x98\x80", 4);
	reason[n] = '\0';
	n = ws_close_build(out, WS_CLOSE_NORMAL, reason);
	assert_int_equal(n, 2 + 120);
	assert_int_equal(ws_close_parse(out, n, &code, &r, &rlen), 0);
}

static void
test_opcode_str(void **unused)
{
	(void)unused;
	assert_string_equal(ws_opcode_str(WS_OP_CONT), "cont");
	assert_string_equal(ws_opcode_str(WS_OP_TEXT), "text");
	assert_string_equal(ws_opcode_str(WS_OP_BINARY), "binary");
	assert_string_equal(ws_opcode_str(WS_OP_CLOSE), "close");
	assert_string_equal(ws_opcode_str(WS_OP_PING), "ping");
	assert_string_equal(ws_opcode_str(WS_OP_PONG), "pong");
	assert_string_equal(ws_opcode_str(0x3), "rsv-0x3");
	assert_string_equal(ws_opcode_str(0xb), "rsv-0xb");
	assert_string_equal(ws_opcode_str(0xf), "rsv-0xf");
	assert_non_null(ws_opcode_str(16));
	assert_non_null(ws_opcode_str(~0U));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rfc_unmasked_text),
		cmocka_unit_test(test_rfc_masked_text),
		cmocka_unit_test(test_rfc_fragmented),
		cmocka_unit_test(test_rfc_ping_pong),
		cmocka_unit_test(test_rfc_binary_lengths),
		cmocka_unit_test(test_length_boundaries),
		cmocka_unit_test(test_non_minimal_length),
		cmocka_unit_test(test_length_top_bit),
		cmocka_unit_test(test_header_bits),
		cmocka_unit_test(test_mask_reference),
		cmocka_unit_test(test_mask_pieces),
		cmocka_unit_test(test_rx_mask_required),
		cmocka_unit_test(test_rx_rsv_bits),
		cmocka_unit_test(test_rx_rsv1_placement),
		cmocka_unit_test(test_rx_reserved_opcodes),
		cmocka_unit_test(test_rx_control_frames),
		cmocka_unit_test(test_rx_fragmentation),
		cmocka_unit_test(test_close_parse),
		cmocka_unit_test(test_close_build),
		cmocka_unit_test(test_opcode_str),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
