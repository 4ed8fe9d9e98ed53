/* fuzz_ws_frame.c -- libFuzzer target: a byte stream read as frames, as a server and as a client would. */
#include "wsb_autoconf.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ws_frame.h"
#include "ws_utf8.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* The parsed header, rebuilt minimally, parses back the same. */
static void
check_rebuild(const struct ws_frame *f)
{
	struct ws_frame	g;
	uint8_t		hdr[WS_HDR_MAX];
	size_t		h;

	h = ws_frame_header(hdr, f->fin, f->rsv, f->opcode, f->len,
	    f->masked ? f->mask : NULL);
	if (h > f->hdr_len || ws_frame_parse(hdr, h, &g) != (int)h)
		abort();
	if (g.len != f->len || g.fin != f->fin || g.rsv != f->rsv ||
	    g.opcode != f->opcode || g.masked != f->masked ||
	    (f->masked && memcmp(g.mask, f->mask, 4) != 0))
		abort();
}

/* Unmasks p[0..n) in two pieces split at <cut>, checked byte by byte. */
static void
check_mask(uint8_t *p, size_t n, const uint8_t key[4], size_t cut)
{
	uint8_t	*orig;
	size_t	 i, off;

	if ((orig = malloc(n == 0 ? 1 : n)) == NULL)
		abort();
	memcpy(orig, p, n);
	off = ws_mask(p, cut, key, 0);
	if (off != (cut & 3))
		abort();
	if (ws_mask(p + cut, n - cut, key, off) != (n & 3))
		abort();
	for (i = 0; i < n; i++) {
		if (p[i] != (orig[i] ^ key[i & 3]))
			abort();
	}
	free(orig);
}

/* A close payload that parses builds back to one that parses the same. */
static void
check_close(const uint8_t *p, size_t n)
{
	const uint8_t	*reason;
	uint8_t		 out[WS_CONTROL_MAX];
	char		 text[WS_CONTROL_MAX + 1];
	size_t		 rlen, rlen2, m;
	uint16_t	 code, code2, r;
	uint32_t	 st = WS_UTF8_ACCEPT;

	r = ws_close_parse(p, n, &code, &reason, &rlen);
	if (r != 0) {
		if (r != WS_CLOSE_PROTOCOL && r != WS_CLOSE_INVALID_DATA)
			abort();
		return;
	}
	if (n == 0) {
		if (code != WS_CLOSE_NO_STATUS || rlen != 0)
			abort();
		return;
	}
	if (!ws_close_code_valid(code) || reason != p + 2 || rlen != n - 2)
		abort();
	if (ws_utf8_feed(&st, reason, rlen) != 0 || st != WS_UTF8_ACCEPT)
		abort();
	if (rlen > WS_CONTROL_MAX - 2 || memchr(reason, '\0', rlen) != NULL)
		return;
	memcpy(text, reason, rlen);
	text[rlen] = '\0';
	m = ws_close_build(out, code, text);
	if (m != n || memcmp(out, p, n) != 0)
		abort();
	if (ws_close_parse(out, m, &code2, &reason, &rlen2) != 0 ||
	    code2 != code || rlen2 != rlen)
		abort();
}

/*
 * Reads p[0..n) as a stream of frames: parse a header, check it against the
 * rules, unmask and inspect what there is of its payload, repeat.
 */
static void
run_stream(uint8_t *p, size_t n, struct ws_rx_rules *rules)
{
	struct ws_frame	 f;
	uint32_t	 utf8 = WS_UTF8_ACCEPT;
	size_t		 pos = 0, avail, k;
	uint16_t	 err;
	int		 r;

	while (pos < n) {
		r = ws_frame_parse(p + pos, n - pos, &f);
		if (r == 0 || r == -1)
			break;
		if (r < 2 || r > WS_HDR_MAX || r != f.hdr_len)
			abort();
		/* Every shorter prefix asks for more. */
		for (k = 0; k < (size_t)r; k++) {
			struct ws_frame	g;

			if (ws_frame_parse(p + pos, k, &g) != 0)
				abort();
		}
		if (ws_opcode_str(f.opcode) == NULL)
			abort();
		check_rebuild(&f);
		pos += r;

		avail = n - pos;
		if (f.len < avail)
			avail = (size_t)f.len;
		if (f.masked)
			check_mask(p + pos, avail, f.mask, avail / 3);

		err = ws_rx_check(rules, &f);
		if (err != 0 && err != WS_CLOSE_PROTOCOL)
			abort();
		if (err == 0) {
			if (WS_OP_IS_CONTROL(f.opcode) &&
			    (f.len > WS_CONTROL_MAX || !f.fin))
				abort();
			if (f.opcode == WS_OP_CLOSE && avail == f.len)
				check_close(p + pos, avail);
			if (!WS_OP_IS_CONTROL(f.opcode) &&
			    rules->msg_opcode == WS_OP_TEXT) {
				if (f.opcode != WS_OP_CONT)
					utf8 = WS_UTF8_ACCEPT;
				if (ws_utf8_feed(&utf8, p + pos, avail) != 0)
					utf8 = WS_UTF8_ACCEPT;
			}
		}
		pos += avail;
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t n)
{
	struct ws_rx_rules	 rules;
	uint8_t			*p;

	if ((p = malloc(n == 0 ? 1 : n)) == NULL)
		abort();

	/* As a client reads a server: unmasked frames, no extensions. */
	memcpy(p, data, n);
	memset(&rules, 0, sizeof rules);
	run_stream(p, n, &rules);

	/* As a server reads a client with permessage-deflate. */
	memcpy(p, data, n);
	memset(&rules, 0, sizeof rules);
	rules.require_mask = 1;
	rules.rsv_allowed = WS_RSV1;
	run_stream(p, n, &rules);

	free(p);
	return (0);
}
