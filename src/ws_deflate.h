/*
 * ws_deflate.h -- permessage-deflate (RFC 7692): the Sec-WebSocket-Extensions
 * negotiation, shared by every transport, and sans-I/O zlib streams that
 * inflate and compress message payload in bounded pieces.
 */
#ifndef WS_DEFLATE_H
#define WS_DEFLATE_H

#include <stddef.h>
#include <stdint.h>

/*
 * Route defaults (deflate-level, -window-bits, -mem-level, -min-size). A
 * 12-bit window and memory level 5 hold zlib to ~50 KiB per connection
 * against ~300 KiB for zlib's 15 and 8, for 3-4% less compression of
 * JSON (contrib/bench-deflate.py); Python websockets chose the same.
 */
#define WS_DEFLATE_LEVEL	6	/* zlib's own default */
#define WS_DEFLATE_WBITS	12
#define WS_DEFLATE_MEMLEVEL	5
#define WS_DEFLATE_MIN_SIZE	64	/* below this a header costs more than it saves */

/* Longest response value ws_deflate_negotiate() writes, NUL included. */
#define WS_DEFLATE_RESPONSE_MAX	160

/* Per-route settings (from the config; copied per connection). */
struct ws_deflate_opts {
	int	enabled;	/* deflate=on: offers are considered at all */
	int	level;		/* 0 (store) .. 9 */
	int	window_bits;	/* 9..15: our compressor's window, and the one
				   we ask the client for when it lets us */
	int	mem_level;	/* 1..9: zlib's hash and buffer sizes */
	size_t	min_size;	/* messages shorter than this go out plain */
};

/* What one connection agreed on (RFC 7692 7.1). */
struct ws_deflate_params {
	uint8_t	server_no_context_takeover;	/* we reset after each message */
	uint8_t	client_no_context_takeover;	/* the client does */
	uint8_t	server_max_window_bits;	/* 8..15: we never reference further back */
	uint8_t	client_max_window_bits;	/* 8..15: what we inflate with (15 if not agreed) */
};

/* Fills opts with the defaults above, disabled. */
void	ws_deflate_opts_init(struct ws_deflate_opts *opts);

/*
 * Chooses the first acceptable permessage-deflate offer in offer (the
 * Sec-WebSocket-Extensions value, several header lines joined with ", ";
 * NULL when absent) under opts. An offer with an unknown or repeated
 * parameter, or a bad value, is declined and the next one tried; a header
 * that does not parse (RFC 6455 9.1) declines everything. Returns 1 and
 * fills *p and resp (the response header value, naming only what was agreed)
 * when one is accepted; 0 when none is (resp is then ""). resplen must be at
 * least WS_DEFLATE_RESPONSE_MAX.
 */
int	ws_deflate_negotiate(const char *offer, const struct ws_deflate_opts *opts,
	    struct ws_deflate_params *p, char *resp, size_t resplen);

/*
 * The zlib memory one connection can hold at most under p and opts, in
 * bytes: deflate (1 << (wbits + 2)) + (1 << (memLevel + 9)) plus its state,
 * inflate (1 << wbits) plus its state.
 */
size_t	ws_deflate_memory_bound(const struct ws_deflate_params *p,
	    const struct ws_deflate_opts *opts);

struct ws_deflate;

/*
 * Creates the compression state of one connection. zlib streams are set up
 * lazily, on the first compressed message each way, so idle connections hold
 * none. The caller owns the result (ws_deflate_free).
 */
struct ws_deflate	*ws_deflate_new(const struct ws_deflate_params *p,
			    const struct ws_deflate_opts *opts);
void			 ws_deflate_free(struct ws_deflate *);

/*
 * Inflates more of a compressed message: in[0..inlen) is its next payload
 * (unmasked); fin says nothing follows it in this message, so the 0x00 0x00
 * 0xff 0xff tail (RFC 7692 7.2.2) is fed after it. Writes at most outlen
 * bytes to out -- the caller's bound on how much one step may inflate, which
 * is what keeps a decompression bomb from costing memory. Sets *used and
 * *got. Returns 1 when the message is complete (fin, everything consumed,
 * nothing left to write), 0 when it is not (input left over means out was
 * full), -1 when the data is not DEFLATE (*why: a static message; the
 * connection fails with 1007).
 */
int	ws_deflate_inflate(struct ws_deflate *z, const uint8_t *in, size_t inlen,
	    int fin, size_t *used, uint8_t *out, size_t outlen, size_t *got,
	    const char **why);

/* Least output space ws_deflate_compress() accepts. */
#define WS_DEFLATE_OUT_MIN	16

/*
 * Compresses more of an outbound message from in[0..inlen) into
 * out[0..outlen) (outlen at least WS_DEFLATE_OUT_MIN, so that a flush marker
 * always fits and zlib cannot repeat it forever), setting *used and *got. With fin the message ends with a
 * sync flush: the output then ends with 0x00 0x00 0xff 0xff, which the caller
 * removes (RFC 7692 7.2.1). Returns 1 when all of in is consumed (and, with
 * fin, flushed), 0 when out was full (call again with the rest and more
 * room), -1 when zlib fails (out of memory).
 */
int	ws_deflate_compress(struct ws_deflate *z, const uint8_t *in, size_t inlen,
	    int fin, size_t *used, uint8_t *out, size_t outlen, size_t *got);

/*
 * The message just compressed goes out uncompressed after all (it did not
 * shrink): forget it, so that no later message refers back to bytes the
 * client's window never saw.
 */
void	ws_deflate_compress_discard(struct ws_deflate *z);

/* Messages shorter than this are not worth compressing. */
size_t	ws_deflate_min_size(const struct ws_deflate *z);

/* Bytes zlib holds for this connection now, and at most so far. */
size_t	ws_deflate_memory(const struct ws_deflate *z, size_t *peak);

#endif
