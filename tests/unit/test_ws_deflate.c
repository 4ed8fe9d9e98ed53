/*
 * test_ws_deflate.c -- unit tests for permessage-deflate (ws_deflate.c): the
 * RFC 7692 7.2.3 example byte sequences, split feeds, window bits 8, bounded
 * inflation, and the negotiation table.
 */
#include "wsb_autoconf.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <zlib.h>

#include "util.h"
#include "ws_deflate.h"
#include "ws_frame.h"

static struct ws_deflate_opts	opts;

static int
setup(void **unused)
{
	(void)unused;
	ws_deflate_opts_init(&opts);
	opts.enabled = 1;
	opts.window_bits = 15;	/* the tables below assume it */
	opts.mem_level = 8;
	return (0);
}

static struct ws_deflate *
new_z(int snct, int cnct, int sbits, int cbits)
{
	struct ws_deflate_params	p;

	memset(&p, 0, sizeof p);
	p.server_no_context_takeover = snct;
	p.client_no_context_takeover = cnct;
	p.server_max_window_bits = sbits;
	p.client_max_window_bits = cbits;
	return (ws_deflate_new(&p, &opts));
}

/*
 * Inflates one message given as pieces (sizes in cut, 0-terminated; the
 * rest goes last), writing at most step bytes per call. Returns the length
 * written to out, or -1 on an error.
 */
static long
inflate_msg(struct ws_deflate *z, const uint8_t *in, size_t n,
    const size_t *cut, size_t step, uint8_t *out, size_t outsize)
{
	const char	*why;
	size_t		 off = 0, len, used, got, total = 0, k;
	int		 r = 0, fin;

	for (k = 0;; k++) {
		len = cut != NULL && cut[k] != 0 ? MIN(cut[k], n - off) :
		    n - off;
		fin = off + len == n;
		for (;;) {
			assert_true(total < outsize);
			r = ws_deflate_inflate(z, in + off, len, fin, &used,
			    out + total, MIN(step, outsize - total), &got, &why);
			if (r == -1) {
				print_message("inflate: %s\n", why);
				return (-1);
			}
			assert_true(got <= step);
			assert_true(used <= len);
			total += got;
			off += used;
			len -= used;
			if (r == 1 || (len == 0 && !fin))
				break;
		}
		if (r == 1)
			break;
	}
	assert_int_equal(off, n);
	return ((long)total);
}

/* Compresses one message whole; returns its length, tail removed. */
static size_t
compress_msg(struct ws_deflate *z, const uint8_t *in, size_t n, uint8_t *out,
    size_t outsize, size_t step)
{
	size_t	off = 0, total = 0, used, got;
	int	r;

	do {
		r = ws_deflate_compress(z, in + off, n - off, 1, &used,
		    out + total, MIN(step, outsize - total), &got);
		assert_int_not_equal(r, -1);
		off += used;
		total += got;
	} while (r == 0);
	assert_true(total >= 4);
	assert_memory_equal(out + total - 4, "\x00\x00\xff\xff", 4);
	return (total - 4);
}

/* RFC 7692 7.2.3.1: "Hello" in one frame, then in two fragments. */
static void
test_rfc_hello(void **unused)
{
	static const uint8_t	frame[] = {
		0xc1, 0x07, 0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00,
	};
	static const uint8_t	frag1[] = { 0x41, 0x03, 0xf2, 0x48, 0xcd };
	static const uint8_t	frag2[] = { 0x80, 0x04, 0xc9, 0xc9, 0x07, 0x00 };
	struct ws_deflate	*z;
	struct ws_frame		 f;
	uint8_t			 out[64];
	size_t			 cut[] = { 3, 0 };

	(void)unused;
	assert_int_equal(ws_frame_parse(frame, sizeof frame, &f), 2);
	assert_int_equal(f.rsv, WS_RSV1);
	assert_int_equal(f.opcode, WS_OP_TEXT);
	assert_int_equal(f.fin, 1);
	assert_int_equal(f.len, 7);

	z = new_z(0, 0, 15, 15);
	assert_int_equal(inflate_msg(z, frame + 2, 7, NULL, 64, out,
	    sizeof out), 5);
	assert_memory_equal(out, "Hello", 5);

	/* Fragmented: RSV1 on the first frame only. */
	assert_int_equal(ws_frame_parse(frag1, sizeof frag1, &f), 2);
	assert_int_equal(f.rsv, WS_RSV1);
	assert_int_equal(f.fin, 0);
	assert_int_equal(ws_frame_parse(frag2, sizeof frag2, &f), 2);
	assert_int_equal(f.rsv, 0);
	assert_int_equal(f.opcode, WS_OP_CONT);
	{
		uint8_t	joined[7];

		memcpy(joined, frag1 + 2, 3);
		memcpy(joined + 3, frag2 + 2, 4);
		assert_int_equal(inflate_msg(z, joined, 7, cut, 64, out,
		    sizeof out), 5);
		assert_memory_equal(out, "Hello", 5);
	}
	ws_deflate_free(z);
}

/* RFC 7692 7.2.3.1 and 7.2.3.2: what our compressor sends for "Hello". */
static void
test_rfc_compress_hello(void **unused)
{
	static const uint8_t	first[] = { 0xf2, 0x48, 0xcd, 0xc9, 0xc9,
		0x07, 0x00 };
	static const uint8_t	second[] = { 0xf2, 0x00, 0x11, 0x00, 0x00 };
	struct ws_deflate	*z;
	uint8_t			 out[64];

	(void)unused;
	z = new_z(0, 0, 15, 15);
	assert_int_equal(compress_msg(z, (const uint8_t *)"Hello", 5, out,
	    sizeof out, sizeof out), sizeof first);
	assert_memory_equal(out, first, sizeof first);
	/* 7.2.3.2: the second message refers back to the first. */
	assert_int_equal(compress_msg(z, (const uint8_t *)"Hello", 5, out,
	    sizeof out, sizeof out), sizeof second);
	assert_memory_equal(out, second, sizeof second);
	ws_deflate_free(z);

	/* server_no_context_takeover: every message stands alone. */
	z = new_z(1, 0, 15, 15);
	assert_int_equal(compress_msg(z, (const uint8_t *)"Hello", 5, out,
	    sizeof out, sizeof out), sizeof first);
	assert_int_equal(compress_msg(z, (const uint8_t *)"Hello", 5, out,
	    sizeof out, sizeof out), sizeof first);
	assert_memory_equal(out, first, sizeof first);
	ws_deflate_free(z);

	/* The smallest output space allowed gives the same bytes. */
	z = new_z(0, 0, 15, 15);
	assert_int_equal(compress_msg(z, (const uint8_t *)"Hello", 5, out,
	    sizeof out, WS_DEFLATE_OUT_MIN), sizeof first);
	assert_memory_equal(out, first, sizeof first);
	ws_deflate_free(z);
}

/* RFC 7692 7.2.3.2: inflating the shared-window pair, and resets. */
static void
test_rfc_shared_window(void **unused)
{
	static const uint8_t	m1[] = { 0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07,
		0x00 };
	static const uint8_t	m2[] = { 0xf2, 0x00, 0x11, 0x00, 0x00 };
	struct ws_deflate	*z;
	uint8_t			 out[64];
	size_t			 mem;

	(void)unused;
	z = new_z(0, 0, 15, 15);
	assert_int_equal(inflate_msg(z, m1, sizeof m1, NULL, 64, out,
	    sizeof out), 5);
	assert_int_equal(inflate_msg(z, m2, sizeof m2, NULL, 64, out,
	    sizeof out), 5);
	assert_memory_equal(out, "Hello", 5);
	assert_true(ws_deflate_memory(z, NULL) > 0);
	ws_deflate_free(z);

	/*
	 * client_no_context_takeover: the inflater is released between
	 * messages, so a back reference into the last one is invalid data.
	 */
	z = new_z(0, 1, 15, 15);
	assert_int_equal(inflate_msg(z, m1, sizeof m1, NULL, 64, out,
	    sizeof out), 5);
	assert_int_equal(ws_deflate_memory(z, &mem), 0);
	assert_true(mem > 0);
	assert_int_equal(inflate_msg(z, m2, sizeof m2, NULL, 64, out,
	    sizeof out), -1);
	ws_deflate_free(z);
}

/* RFC 7692 7.2.3.3-7.2.3.5: stored block, BFINAL, two blocks. */
static void
test_rfc_other_blocks(void **unused)
{
	static const uint8_t	stored[] = { 0x00, 0x05, 0x00, 0xfa, 0xff,
		0x48, 0x65, 0x6c, 0x6c, 0x6f, 0x00 };
	static const uint8_t	bfinal[] = { 0xf3, 0x48, 0xcd, 0xc9, 0xc9,
		0x07, 0x00, 0x00 };
	static const uint8_t	two[] = { 0xf2, 0x48, 0x05, 0x00, 0x00, 0x00,
		0xff, 0xff, 0xca, 0xc9, 0xc9, 0x07, 0x00 };
	static const uint8_t	m1[] = { 0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07,
		0x00 };
	static const uint8_t	m2[] = { 0xf2, 0x00, 0x11, 0x00, 0x00 };
	struct ws_deflate	*z;
	uint8_t			 out[64];
	size_t			 i;

	(void)unused;
	z = new_z(0, 0, 15, 15);
	assert_int_equal(inflate_msg(z, stored, sizeof stored, NULL, 64, out,
	    sizeof out), 5);
	assert_memory_equal(out, "Hello", 5);
	assert_int_equal(inflate_msg(z, bfinal, sizeof bfinal, NULL, 64, out,
	    sizeof out), 5);
	assert_memory_equal(out, "Hello", 5);
	assert_int_equal(inflate_msg(z, two, sizeof two, NULL, 64, out,
	    sizeof out), 5);
	assert_memory_equal(out, "Hello", 5);
	ws_deflate_free(z);

	/* After a BFINAL block the window still carries over. */
	z = new_z(0, 0, 15, 15);
	assert_int_equal(inflate_msg(z, bfinal, sizeof bfinal, NULL, 64, out,
	    sizeof out), 5);
	assert_int_equal(inflate_msg(z, m2, sizeof m2, NULL, 64, out,
	    sizeof out), 5);
	assert_memory_equal(out, "Hello", 5);
	ws_deflate_free(z);

	/* Every split point, one output byte per call. */
	for (i = 1; i < sizeof two; i++) {
		size_t	cut[] = { i, 0 };

		z = new_z(0, 0, 15, 15);
		assert_int_equal(inflate_msg(z, two, sizeof two, cut, 1, out,
		    sizeof out), 5);
		assert_memory_equal(out, "Hello", 5);
		assert_int_equal(inflate_msg(z, m1, sizeof m1, cut, 1, out,
		    sizeof out), 5);
		ws_deflate_free(z);
	}
}

/* An empty message compresses to one byte (RFC 7692 7.2.3.6). */
static void
test_empty_message(void **unused)
{
	struct ws_deflate	*z;
	uint8_t			 out[16];
	size_t			 n;

	(void)unused;
	z = new_z(0, 0, 15, 15);
	n = compress_msg(z, NULL, 0, out, sizeof out, sizeof out);
	assert_int_equal(n, 1);
	assert_int_equal(out[0], 0x00);
	assert_int_equal(inflate_msg(z, out, n, NULL, 16, out + 8, 8), 0);
	ws_deflate_free(z);
}

static void
test_invalid_data(void **unused)
{
	static const uint8_t	bad[] = { 0xff, 0xff, 0xff, 0xff };
	struct ws_deflate	*z;
	uint8_t			 out[64];

	(void)unused;
	z = new_z(0, 0, 15, 15);
	assert_int_equal(inflate_msg(z, bad, sizeof bad, NULL, 64, out,
	    sizeof out), -1);
	ws_deflate_free(z);
}

/* Deterministic text-like bytes: compressible, never trivially. */
static void
fill_text(uint8_t *p, size_t n, uint32_t seed)
{
	static const char	*words[] = { "{\"id\":", "\"name\":\"", "alpha",
		"beta", "\",", "\"value\":", "[1,2,3]", "}\n", "gamma", "delta",
		"true", "null" };
	size_t			 i = 0, k, w;

	while (i < n) {
		seed = seed * 1103515245 + 12345;
		w = (seed >> 16) % nitems(words);
		for (k = 0; words[w][k] != '\0' && i < n; k++)
			p[i++] = (uint8_t)words[w][k];
		if (i < n && (seed & 0x100))
			p[i++] = (uint8_t)('0' + (seed >> 24) % 10);
	}
}

/*
 * server_max_window_bits=8: we compress with zlib's 9, whose distances stay
 * within 256 bytes, so a strict 8-bit inflater takes every stream.
 */
static void
test_window_bits_8(void **unused)
{
	struct ws_deflate	*z;
	z_stream		 s;
	size_t			 n = 1 << 20, clen;
	uint8_t			*in, *c, *back;
	int			 r, msg;

	(void)unused;
	in = malloc(n);
	c = malloc(n + 1024);
	back = malloc(n);
	z = new_z(0, 0, 8, 15);
	memset(&s, 0, sizeof s);
	assert_int_equal(inflateInit2(&s, -8), Z_OK);
	for (msg = 0; msg < 3; msg++) {
		fill_text(in, n, (uint32_t)msg + 7);
		clen = compress_msg(z, in, n, c, n + 1024, 65536);
		assert_true(clen < n / 2);
		memcpy(c + clen, "\x00\x00\xff\xff", 4);
		s.next_in = c;
		s.avail_in = (uInt)clen + 4;
		s.next_out = back;
		s.avail_out = (uInt)n;
		r = inflate(&s, Z_SYNC_FLUSH);
		assert_true(r == Z_OK || r == Z_BUF_ERROR);
		assert_int_equal(s.avail_in, 0);
		assert_int_equal(n - s.avail_out, n);
		assert_memory_equal(back, in, n);
	}
	inflateEnd(&s);
	ws_deflate_free(z);
	free(in);
	free(c);
	free(back);
}

/*
 * A bomb: 64 MiB of zeros is ~64 KiB compressed. Inflating it 4 KiB at a
 * time never writes more than asked and zlib's memory stays at its bound.
 */
static void
test_bomb_bounded(void **unused)
{
	struct ws_deflate_params	 p;
	struct ws_deflate		*z;
	z_stream			 s;
	uint8_t				*zeros, *c, out[4096];
	const char			*why;
	size_t				 n = 64 << 20, clen, off = 0, used, got;
	uint64_t			 total = 0;
	size_t				 peak;
	int				 r;

	(void)unused;
	zeros = calloc(1, 1 << 20);
	c = malloc(1 << 20);
	memset(&s, 0, sizeof s);
	assert_int_equal(deflateInit2(&s, 9, Z_DEFLATED, -15, 9,
	    Z_DEFAULT_STRATEGY), Z_OK);
	s.next_out = c;
	s.avail_out = 1 << 20;
	for (off = 0; off < n; off += 1 << 20) {
		s.next_in = zeros;
		s.avail_in = 1 << 20;
		assert_int_equal(deflate(&s, off + (1 << 20) == n ?
		    Z_SYNC_FLUSH : Z_NO_FLUSH), Z_OK);
	}
	clen = (1 << 20) - s.avail_out - 4;
	deflateEnd(&s);
	assert_true(clen < 128 * 1024);

	memset(&p, 0, sizeof p);
	p.server_max_window_bits = 15;
	p.client_max_window_bits = 15;
	z = ws_deflate_new(&p, &opts);
	off = 0;
	do {
		r = ws_deflate_inflate(z, c + off, clen - off, 1, &used, out,
		    sizeof out, &got, &why);
		assert_int_not_equal(r, -1);
		assert_true(got <= sizeof out);
		off += used;
		total += got;
	} while (r == 0);
	assert_true(total == n);
	ws_deflate_memory(z, &peak);
	assert_true(peak <= ws_deflate_memory_bound(&p, &opts));
	ws_deflate_free(z);
	free(zeros);
	free(c);
}

/* Round trips with every window and context mode; memory within bound. */
static void
test_roundtrip_params(void **unused)
{
	struct ws_deflate_params	 p;
	struct ws_deflate		*tx, *rx;
	uint8_t				*in, *c, *back;
	size_t				 n = 300000, clen, peak;
	int				 w, mode, msg;

	(void)unused;
	in = malloc(n);
	c = malloc(n + 4096);
	back = malloc(n + 1);
	for (w = 8; w <= 15; w++) {
		for (mode = 0; mode < 4; mode++) {
			/*
			 * tx plays the peer of rx: what tx does as a server
			 * is what rx expects of its client.
			 */
			memset(&p, 0, sizeof p);
			p.server_no_context_takeover = mode & 1;
			p.client_no_context_takeover = mode & 1;
			p.server_max_window_bits = w;
			p.client_max_window_bits = w;
			opts.mem_level = mode & 2 ? 9 : 1 + w % 9;
			opts.level = mode & 2 ? 1 : 9;
			tx = ws_deflate_new(&p, &opts);
			rx = ws_deflate_new(&p, &opts);
			for (msg = 0; msg < 3; msg++) {
				fill_text(in, n, (uint32_t)(w * 10 + msg));
				clen = compress_msg(tx, in, n, c, n + 4096,
				    777);
				assert_int_equal(inflate_msg(rx, c, clen, NULL,
				    1000, back, n + 1), (long)n);
				assert_memory_equal(back, in, n);
			}
			ws_deflate_memory(tx, &peak);
			assert_true(peak <= ws_deflate_memory_bound(&p, &opts));
			ws_deflate_memory(rx, &peak);
			assert_true(peak <= ws_deflate_memory_bound(&p, &opts));
			ws_deflate_free(tx);
			ws_deflate_free(rx);
		}
	}
	opts.mem_level = 8;
	opts.level = WS_DEFLATE_LEVEL;
	free(in);
	free(c);
	free(back);
}

/* After a discarded message the next one must not refer back to it. */
static void
test_discard(void **unused)
{
	struct ws_deflate	*tx, *rx;
	uint8_t			 c[64], back[64];
	size_t			 n;

	(void)unused;
	tx = new_z(0, 0, 15, 15);
	rx = new_z(0, 0, 15, 15);
	(void)compress_msg(tx, (const uint8_t *)"Hello", 5, c, sizeof c,
	    sizeof c);
	ws_deflate_compress_discard(tx);	/* it went out plain */
	n = compress_msg(tx, (const uint8_t *)"Hello", 5, c, sizeof c,
	    sizeof c);
	assert_int_equal(inflate_msg(rx, c, n, NULL, 64, back, sizeof back), 5);
	assert_memory_equal(back, "Hello", 5);
	ws_deflate_free(tx);
	ws_deflate_free(rx);
}

/* ---- negotiation ----------------------------------------------------------- */

struct nego_case {
	const char	*offer;
	const char	*resp;		/* NULL: declined */
	int		 sbits, cbits;	/* agreed windows when accepted */
};

static void
test_negotiate_table(void **unused)
{
	static const struct nego_case	cases[] = {
		/* Browsers, websockets, ws. */
		{ "permessage-deflate; client_max_window_bits",
		  "permessage-deflate; client_max_window_bits=15", 15, 15 },
		{ "permessage-deflate", "permessage-deflate", 15, 15 },
		{ "permessage-deflate;client_max_window_bits",
		  "permessage-deflate; client_max_window_bits=15", 15, 15 },
		{ "permessage-deflate; server_no_context_takeover; "
		  "client_no_context_takeover",
		  "permessage-deflate; server_no_context_takeover; "
		  "client_no_context_takeover", 15, 15 },
		{ "permessage-deflate; server_max_window_bits=10",
		  "permessage-deflate; server_max_window_bits=10", 10, 15 },
		{ "permessage-deflate; server_max_window_bits=8",
		  "permessage-deflate; server_max_window_bits=8", 8, 15 },
		{ "permessage-deflate; client_max_window_bits=9",
		  "permessage-deflate; client_max_window_bits=9", 15, 9 },
		{ "permessage-deflate; server_max_window_bits=\"12\"; "
		  "client_max_window_bits=\"1\\1\"",
		  "permessage-deflate; server_max_window_bits=12; "
		  "client_max_window_bits=11", 12, 11 },
		/* Several offers: the first acceptable wins. */
		{ "permessage-deflate; foo, permessage-deflate; "
		  "server_no_context_takeover",
		  "permessage-deflate; server_no_context_takeover", 15, 15 },
		{ "x-webkit-deflate-frame, permessage-deflate",
		  "permessage-deflate", 15, 15 },
		{ "permessage-deflate; server_max_window_bits=7, "
		  "permessage-deflate; client_max_window_bits=10",
		  "permessage-deflate; client_max_window_bits=10", 15, 10 },
		{ ", ,permessage-deflate ,", "permessage-deflate", 15, 15 },
		/* Declined: duplicates, unknown, bad values, missing values. */
		{ "permessage-deflate; server_no_context_takeover; "
		  "server_no_context_takeover", NULL, 0, 0 },
		{ "permessage-deflate; client_max_window_bits; "
		  "client_max_window_bits=10", NULL, 0, 0 },
		{ "permessage-deflate; server_max_window_bits=10; "
		  "server_max_window_bits=10", NULL, 0, 0 },
		{ "permessage-deflate; unknown_param", NULL, 0, 0 },
		{ "permessage-deflate; server_max_window_bits", NULL, 0, 0 },
		{ "permessage-deflate; server_max_window_bits=16", NULL, 0, 0 },
		{ "permessage-deflate; server_max_window_bits=7", NULL, 0, 0 },
		{ "permessage-deflate; server_max_window_bits=010", NULL, 0, 0 },
		{ "permessage-deflate; client_max_window_bits=0x9", NULL, 0, 0 },
		{ "permessage-deflate; server_no_context_takeover=1", NULL, 0, 0 },
		{ "permessage-deflate; client_no_context_takeover=\"\"", NULL,
		  0, 0 },
		{ "Permessage-Deflate", NULL, 0, 0 },
		{ "x-webkit-deflate-frame", NULL, 0, 0 },
		{ "", NULL, 0, 0 },
		/* Does not parse: nothing is agreed. */
		{ "permessage-deflate; server_max_window_bits=\"10", NULL, 0, 0 },
		{ "permessage-deflate; ; x", NULL, 0, 0 },
		{ "permessage-deflate, foo bar", NULL, 0, 0 },
		{ "permessage-deflate; a=b=c", NULL, 0, 0 },
		{ "permessage-deflate; server_max_window_bits=1 0", NULL, 0, 0 },
	};
	struct ws_deflate_params	p;
	char				resp[WS_DEFLATE_RESPONSE_MAX];
	size_t				i;
	int				r;

	(void)unused;
	for (i = 0; i < nitems(cases); i++) {
		memset(&p, 0xa5, sizeof p);
		r = ws_deflate_negotiate(cases[i].offer, &opts, &p, resp,
		    sizeof resp);
		if (cases[i].resp == NULL) {
			if (r != 0)
				fail_msg("case %zu '%s': accepted as '%s'", i,
				    cases[i].offer, resp);
			assert_string_equal(resp, "");
			continue;
		}
		if (r != 1)
			fail_msg("case %zu '%s': declined", i, cases[i].offer);
		assert_string_equal(resp, cases[i].resp);
		assert_int_equal(p.server_max_window_bits, cases[i].sbits);
		assert_int_equal(p.client_max_window_bits, cases[i].cbits);
	}
}

/* The route's window bounds both sides; off declines everything. */
static void
test_negotiate_opts(void **unused)
{
	struct ws_deflate_params	p;
	char				resp[WS_DEFLATE_RESPONSE_MAX];

	(void)unused;
	opts.window_bits = 10;
	assert_int_equal(ws_deflate_negotiate("permessage-deflate", &opts, &p,
	    resp, sizeof resp), 1);
	assert_string_equal(resp, "permessage-deflate");
	assert_int_equal(p.server_max_window_bits, 10);
	assert_int_equal(p.client_max_window_bits, 15);
	assert_int_equal(ws_deflate_negotiate("permessage-deflate; "
	    "client_max_window_bits; server_max_window_bits=12", &opts, &p,
	    resp, sizeof resp), 1);
	assert_string_equal(resp, "permessage-deflate; "
	    "server_max_window_bits=10; client_max_window_bits=10");
	assert_int_equal(p.server_max_window_bits, 10);
	assert_int_equal(p.client_max_window_bits, 10);
	assert_int_equal(ws_deflate_negotiate("permessage-deflate; "
	    "server_max_window_bits=9", &opts, &p, resp, sizeof resp), 1);
	assert_string_equal(resp,
	    "permessage-deflate; server_max_window_bits=9");
	opts.window_bits = 15;

	assert_int_equal(ws_deflate_negotiate(NULL, &opts, &p, resp,
	    sizeof resp), 0);
	opts.enabled = 0;
	assert_int_equal(ws_deflate_negotiate("permessage-deflate", &opts, &p,
	    resp, sizeof resp), 0);
	assert_string_equal(resp, "");
	opts.enabled = 1;

	/* The longest response fits. */
	assert_int_equal(ws_deflate_negotiate("permessage-deflate; "
	    "server_no_context_takeover; client_no_context_takeover; "
	    "server_max_window_bits=15; client_max_window_bits=15", &opts, &p,
	    resp, sizeof resp), 1);
	assert_string_equal(resp, "permessage-deflate; "
	    "server_no_context_takeover; client_no_context_takeover; "
	    "server_max_window_bits=15; client_max_window_bits=15");
}

int
main(void)
{
	const struct CMUnitTest	tests[] = {
		cmocka_unit_test_setup(test_rfc_hello, setup),
		cmocka_unit_test_setup(test_rfc_compress_hello, setup),
		cmocka_unit_test_setup(test_rfc_shared_window, setup),
		cmocka_unit_test_setup(test_rfc_other_blocks, setup),
		cmocka_unit_test_setup(test_empty_message, setup),
		cmocka_unit_test_setup(test_invalid_data, setup),
		cmocka_unit_test_setup(test_window_bits_8, setup),
		cmocka_unit_test_setup(test_bomb_bounded, setup),
		cmocka_unit_test_setup(test_roundtrip_params, setup),
		cmocka_unit_test_setup(test_discard, setup),
		cmocka_unit_test_setup(test_negotiate_table, setup),
		cmocka_unit_test_setup(test_negotiate_opts, setup),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
