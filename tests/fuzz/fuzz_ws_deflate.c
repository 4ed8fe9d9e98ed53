/*
 * fuzz_ws_deflate.c -- libFuzzer target: the permessage-deflate negotiation
 * parser, and inflation of peer bytes fed in arbitrary pieces with
 * arbitrarily small output room.
 *
 * Input: an offer string up to the first '\n', then compressed payload. The
 * offer is negotiated; when accepted, the response read back as an offer must
 * give the same parameters. The payload is inflated as one or two messages,
 * in big steps and in small pieces: both must agree byte for byte and on
 * failure, and never write more than the room they were given.
 */
#include "wsb_autoconf.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ws_deflate.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define OUT_MAX	(256 * 1024)	/* inflate no further: bombs stop here */

struct run {
	uint8_t	*out;
	size_t	 len;
	int	 failed;
};

/*
 * Inflates p[0..n) as messages ending at cut and n, in pieces of at most
 * piece bytes and steps of at most step output bytes.
 */
static void
run_inflate(const struct ws_deflate_params *p,
    const struct ws_deflate_opts *o, const uint8_t *in, size_t n, size_t cut,
    size_t piece, size_t step, struct run *r)
{
	struct ws_deflate	*z;
	const char		*why;
	size_t			 off = 0, end, len, used, got, room;
	int			 rc, msg;

	z = ws_deflate_new(p, o);
	r->out = malloc(OUT_MAX);
	r->len = 0;
	r->failed = 0;
	for (msg = 0; msg < 2; msg++) {
		end = msg == 0 ? cut : n;
		for (;;) {
			len = end - off < piece ? end - off : piece;
			room = OUT_MAX - r->len < step ? OUT_MAX - r->len : step;
			if (room == 0)
				goto out;
			rc = ws_deflate_inflate(z, in + off, len, off + len == end,
			    &used, r->out + r->len, room, &got, &why);
			if (rc == -1) {
				if (why == NULL)
					abort();
				r->failed = 1;
				goto out;
			}
			if (used > len || got > room)
				abort();
			off += used;
			r->len += got;
			if (rc == 1)
				break;
		}
		if (off != end)
			abort();
	}
out:
	ws_deflate_free(z);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ws_deflate_opts		 o;
	struct ws_deflate_params	 p, q;
	struct run			 a, b;
	char				*offer, resp[WS_DEFLATE_RESPONSE_MAX];
	char				 again[WS_DEFLATE_RESPONSE_MAX];
	const uint8_t			*nl, *in;
	size_t				 olen, n, cut, i;
	uint32_t			 h = 2166136261U;

	nl = memchr(data, '\n', size);
	olen = nl != NULL ? (size_t)(nl - data) : size;
	offer = malloc(olen + 1);
	memcpy(offer, data, olen);
	offer[olen] = '\0';

	ws_deflate_opts_init(&o);
	o.enabled = 1;
	for (i = 0; i < size; i++)
		h = (h ^ data[i]) * 16777619U;
	o.window_bits = 9 + (int)(h % 7);
	if (ws_deflate_negotiate(offer, &o, &p, resp, sizeof resp) == 1) {
		if (strlen(resp) >= sizeof resp || strncmp(resp,
		    "permessage-deflate", 18) != 0)
			abort();
		if (p.server_max_window_bits < 8 ||
		    p.server_max_window_bits > 15 ||
		    p.client_max_window_bits < 8 ||
		    p.client_max_window_bits > 15)
			abort();
		/* The answer, read as an offer, agrees the same. */
		if (ws_deflate_negotiate(resp, &o, &q, again, sizeof again) != 1)
			abort();
		if (memcmp(&p, &q, sizeof p) != 0 || strcmp(resp, again) != 0)
			abort();
	} else {
		if (resp[0] != '\0')
			abort();
		memset(&p, 0, sizeof p);
		p.server_max_window_bits = 15;
		p.client_max_window_bits = 8 + (h >> 8) % 8;
		p.client_no_context_takeover = (h >> 12) & 1;
	}
	free(offer);

	in = nl != NULL ? nl + 1 : data + size;
	n = (size_t)(data + size - in);
	cut = n == 0 ? 0 : (h >> 4) % (n + 1);

	/* The agreed window, small pieces: only the bounds are checked. */
	run_inflate(&p, &o, in, n, cut, 1 + (h >> 16) % 7, 1 + (h >> 20) % 61,
	    &a);
	free(a.out);

	/*
	 * zlib lets a distance reach into the output of the current call, so
	 * a peer overstepping a window below 15 may fail or not depending on
	 * the room given. With 15 (the format's limit) it may not: big and
	 * small steps must then agree exactly.
	 */
	p.client_max_window_bits = 15;
	run_inflate(&p, &o, in, n, cut, SIZE_MAX, OUT_MAX, &a);
	run_inflate(&p, &o, in, n, cut, 1 + (h >> 16) % 7, 1 + (h >> 20) % 61,
	    &b);
	if (a.failed != b.failed)
		abort();
	n = a.len < b.len ? a.len : b.len;
	if (memcmp(a.out, b.out, n) != 0)
		abort();
	if (!a.failed && a.len != b.len && a.len < OUT_MAX && b.len < OUT_MAX)
		abort();
	free(a.out);
	free(b.out);
	return (0);
}
