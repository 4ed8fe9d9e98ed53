/* ws_frame.c -- sans-I/O RFC 6455 frame codec: header parse/build, masking, close payloads. */
#include "wsb_autoconf.h"

#include <assert.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "ws_frame.h"
#include "ws_utf8.h"

/* Longest close reason: a control payload less the 2-byte status code. */
#define WS_CLOSE_REASON_MAX	(WS_CONTROL_MAX - 2)

int
ws_frame_parse(const uint8_t *p, size_t n, struct ws_frame *f)
{
	uint64_t	len;
	size_t		hdr, i;
	uint8_t		len7, masked;

	if (n < 2)
		return (0);
	masked = (p[1] & 0x80) != 0;
	len7 = p[1] & 0x7f;

	/*
	 * RFC 6455 5.2 asks for the minimal length encoding but does not ask
	 * the receiver to enforce it, so a longer encoding of a small length
	 * is accepted.
	 */
	if (len7 == 127) {
		/* Fail as soon as the top bit is seen, not a whole header later. */
		if (n >= 3 && (p[2] & 0x80) != 0)
			return (-1);
		hdr = 10;
	} else if (len7 == 126)
		hdr = 4;
	else
		hdr = 2;
	if (masked)
		hdr += 4;
	if (n < hdr)
		return (0);

	if (len7 == 127) {
		len = 0;
		for (i = 2; i < 10; i++)
			len = (len << 8) | p[i];
	} else if (len7 == 126)
		len = ((uint64_t)p[2] << 8) | p[3];
	else
		len = len7;

	f->len = len;
	f->fin = (p[0] & 0x80) != 0;
	f->rsv = (p[0] >> 4) & 0x7;
	f->opcode = p[0] & 0x0f;
	f->masked = masked;
	if (masked)
		memcpy(f->mask, p + hdr - 4, 4);
	else
		memset(f->mask, 0, sizeof f->mask);
	f->hdr_len = (uint8_t)hdr;
	return ((int)hdr);
}

size_t
ws_frame_header(uint8_t out[WS_HDR_MAX], unsigned fin, unsigned rsv,
    unsigned opcode, uint64_t len, const uint8_t *mask)
{
	size_t	i, hdr;
	uint8_t	mbit;

	/* All four are ours, never a peer's: a bad one is a bug here. */
	assert(fin <= 1);
	assert((rsv & ~7U) == 0);
	assert(opcode <= 0xf);
	assert((len >> 63) == 0);

	out[0] = (uint8_t)((fin << 7) | (rsv << 4) | opcode);
	mbit = mask != NULL ? 0x80 : 0;
	if (len <= 125) {
		out[1] = mbit | (uint8_t)len;
		hdr = 2;
	} else if (len <= 0xffff) {
		out[1] = mbit | 126;
		out[2] = (uint8_t)(len >> 8);
		out[3] = (uint8_t)len;
		hdr = 4;
	} else {
		out[1] = mbit | 127;
		for (i = 0; i < 8; i++)
			out[2 + i] = (uint8_t)(len >> (56 - 8 * i));
		hdr = 10;
	}
	if (mask != NULL) {
		memcpy(out + hdr, mask, 4);
		hdr += 4;
	}
	return (hdr);
}

#if defined(__GNUC__)
typedef uint64_t ws_v2u64 __attribute__((vector_size(16)));

/*
 * XORs whole 64-byte blocks of p[0..n) with kw (the key from p on, laid
 * out over 8 bytes; it repeats every 4, so it fits any multiple of 8) in
 * four 16-byte vectors a turn (SSE2 / NEON without asking for them: at 32
 * bytes a turn the loop's own instructions cost as much as the XORs).
 * Returns the bytes done.
 */
static size_t
ws_mask_blocks(uint8_t *p, size_t n, uint64_t kw)
{
	ws_v2u64	kv = { kw, kw }, a, b, c, d;
	size_t		i;

	for (i = 0; n - i >= 64; i += 64) {
		memcpy(&a, p + i, 16);
		memcpy(&b, p + i + 16, 16);
		memcpy(&c, p + i + 32, 16);
		memcpy(&d, p + i + 48, 16);
		a ^= kv;
		b ^= kv;
		c ^= kv;
		d ^= kv;
		memcpy(p + i, &a, 16);
		memcpy(p + i + 16, &b, 16);
		memcpy(p + i + 32, &c, 16);
		memcpy(p + i + 48, &d, 16);
	}
	return (i);
}

#if defined(__x86_64__)
/*
 * The same in two 32-byte vectors, used when the CPU has AVX2: half the
 * instructions per byte on the upload path, where unmasking is most of
 * what wsbridge adds to a relay's work.
 */
__attribute__((target("avx2"))) static size_t
ws_mask_blocks_avx2(uint8_t *p, size_t n, uint64_t kw)
{
	typedef uint64_t v4u64 __attribute__((vector_size(32)));
	v4u64	kv = { kw, kw, kw, kw }, a, b;
	size_t	i;

	for (i = 0; n - i >= 64; i += 64) {
		memcpy(&a, p + i, 32);
		memcpy(&b, p + i + 32, 32);
		a ^= kv;
		b ^= kv;
		memcpy(p + i, &a, 32);
		memcpy(p + i + 32, &b, 32);
	}
	return (i);
}
#endif

#if defined(__x86_64__)
static int	ws_avx2 = -1;	/* -1: not asked yet; any thread sets one value */
#endif

int
ws_mask_use_wide(int on)
{
#if defined(__x86_64__)
	int	was = __atomic_load_n(&ws_avx2, __ATOMIC_RELAXED);

	__atomic_store_n(&ws_avx2, on ? -1 : 0, __ATOMIC_RELAXED);
	return (was != 0);
#else
	(void)on;
	return (0);
#endif
}

/* Whole 64-byte blocks, then 16-byte ones; returns the bytes done. */
static size_t
ws_mask_wide(uint8_t *p, size_t n, uint64_t kw)
{
	ws_v2u64	kv = { kw, kw }, a;
	size_t		i;
#if defined(__x86_64__)
	int		have;

	if ((have = __atomic_load_n(&ws_avx2, __ATOMIC_RELAXED)) == -1) {
		__builtin_cpu_init();
		have = __builtin_cpu_supports("avx2") != 0;
		__atomic_store_n(&ws_avx2, have, __ATOMIC_RELAXED);
	}
	i = have ? ws_mask_blocks_avx2(p, n, kw) : ws_mask_blocks(p, n, kw);
#else
	i = ws_mask_blocks(p, n, kw);
#endif
	for (; n - i >= 16; i += 16) {
		memcpy(&a, p + i, 16);
		a ^= kv;
		memcpy(p + i, &a, 16);
	}
	return (i);
}
#endif

/* Payloads from this size are aligned first (for the vector loops). */
#define WS_MASK_ALIGN_MIN	256

size_t
ws_mask(uint8_t *p, size_t n, const uint8_t key[4], size_t off)
{
	uint64_t	kw, w;
	uint32_t	kh, h;
	uint8_t		k12[12];
	size_t		i = 0, head;

	off &= 3;

	/*
	 * Large payloads: bytes up to the first 8-aligned address, one at a
	 * time, so the loads of the loops below are aligned words. Small
	 * ones (a 64-byte message's payload starts 6 bytes into its frame)
	 * go word by word unaligned: the byte loop would cost more than the
	 * words it lines up.
	 */
	if (n >= WS_MASK_ALIGN_MIN) {
		head = (size_t)(-(uintptr_t)p & 7);
		for (; i < head; i++)
			p[i] ^= key[(off + i) & 3];
	}

	/*
	 * The key laid out in memory order from payload offset off + i, so
	 * the XOR is right whatever the byte order; memcpy keeps the loads
	 * and stores free of alignment and aliasing assumptions and compiles
	 * to plain 64-bit moves.
	 */
	if (n - i >= 4) {
		/* The key three times over: any 8 bytes from offset 0-3. */
		memcpy(k12, key, 4);
		memcpy(k12 + 4, key, 4);
		memcpy(k12 + 8, key, 4);
		memcpy(&kw, k12 + ((off + i) & 3), sizeof kw);
#if defined(__GNUC__)
		if (n - i >= 16)
			i += ws_mask_wide(p + i, n - i, kw);
#endif
		for (; n - i >= 8; i += 8) {
			memcpy(&w, p + i, sizeof w);
			w ^= kw;
			memcpy(p + i, &w, sizeof w);
		}
		/* i moved by whole keys: kw's first half still lines up. */
		if (n - i >= 4) {
			memcpy(&kh, &kw, sizeof kh);
			memcpy(&h, p + i, sizeof h);
			h ^= kh;
			memcpy(p + i, &h, sizeof h);
			i += 4;
		}
	}

	for (; i < n; i++)
		p[i] ^= key[(off + i) & 3];
	return ((off + n) & 3);
}

/*
 * Note: msg_opcode and msg_rsv1 keep describing the last data message after
 * the frame that ends it, so the caller can still finish that message (the
 * final UTF-8 check, inflating) once this has cleared in_message.
 */
uint16_t
ws_rx_check(struct ws_rx_rules *r, const struct ws_frame *f)
{
	/* 5.1: a server must fail on an unmasked client frame. */
	if (r->require_mask && !f->masked)
		return (WS_CLOSE_PROTOCOL);
	/* 5.2: RSV bits only with an extension that defines them. */
	if ((f->rsv & ~r->rsv_allowed) != 0)
		return (WS_CLOSE_PROTOCOL);

	switch (f->opcode) {
	case WS_OP_CLOSE:
	case WS_OP_PING:
	case WS_OP_PONG:
		/*
		 * 5.5: never fragmented, at most 125 bytes; RFC 7692 6:
		 * RSV1 (compression) only on data messages. Control frames
		 * may arrive in the middle of a message and leave it open.
		 */
		if (!f->fin || f->len > WS_CONTROL_MAX)
			return (WS_CLOSE_PROTOCOL);
		if (f->rsv & WS_RSV1)
			return (WS_CLOSE_PROTOCOL);
		return (0);
	case WS_OP_CONT:
		/* 5.4: a continuation needs an open message. */
		if (!r->in_message)
			return (WS_CLOSE_PROTOCOL);
		/* RFC 7692 6.1: RSV1 is set on the first frame only. */
		if (f->rsv & WS_RSV1)
			return (WS_CLOSE_PROTOCOL);
		if (f->fin)
			r->in_message = 0;
		return (0);
	case WS_OP_TEXT:
	case WS_OP_BINARY:
		/* 5.4: messages do not interleave. */
		if (r->in_message)
			return (WS_CLOSE_PROTOCOL);
		r->msg_opcode = f->opcode;
		r->msg_rsv1 = (f->rsv & WS_RSV1) != 0;
		r->in_message = !f->fin;
		return (0);
	default:
		/* 5.2: reserved opcodes 3-7 and 0xB-0xF. */
		return (WS_CLOSE_PROTOCOL);
	}
}

uint16_t
ws_close_parse(const uint8_t *p, size_t n, uint16_t *code,
    const uint8_t **reason, size_t *reason_len)
{
	uint32_t	state = WS_UTF8_ACCEPT;
	uint16_t	c;

	if (n == 0) {
		*code = WS_CLOSE_NO_STATUS;
		*reason = NULL;
		*reason_len = 0;
		return (0);
	}
	/* 5.5.1: a body starts with a 2-byte code. */
	if (n == 1)
		return (WS_CLOSE_PROTOCOL);
	c = (uint16_t)((p[0] << 8) | p[1]);
	if (!ws_close_code_valid(c))
		return (WS_CLOSE_PROTOCOL);
	/* 5.5.1: the reason is UTF-8; 8.1: invalid text fails with 1007. */
	if (ws_utf8_feed(&state, p + 2, n - 2) != 0 || state != WS_UTF8_ACCEPT)
		return (WS_CLOSE_INVALID_DATA);
	*code = c;
	*reason = p + 2;
	*reason_len = n - 2;
	return (0);
}

int
ws_close_code_valid(unsigned code)
{
	/*
	 * 7.4.1 and the IANA registry: 1004 is reserved, 1005 and 1006 are
	 * never sent, 1015 is TLS-internal; 0-999 and 1016-2999 are unused
	 * or reserved for future protocol use; 3000-4999 are for libraries,
	 * frameworks and applications.
	 */
	if (code >= 1000 && code <= 1003)
		return (1);
	if (code >= 1007 && code <= 1014)
		return (1);
	if (code >= 3000 && code <= 4999)
		return (1);
	return (0);
}

size_t
ws_close_build(uint8_t *out, uint16_t code, const char *reason)
{
	size_t	len;

	if (code == WS_CLOSE_NO_STATUS)
		return (0);
	out[0] = (uint8_t)(code >> 8);
	out[1] = (uint8_t)code;
	if (reason == NULL)
		return (2);
	len = strlen(reason);
	if (len > WS_CLOSE_REASON_MAX) {
		/* Cut whole characters: a peer fails on a split one (1007). */
		len = ws_utf8_boundary((const uint8_t *)reason,
		    WS_CLOSE_REASON_MAX);
	}
	memcpy(out + 2, reason, len);
	return (2 + len);
}

const char *
ws_opcode_str(unsigned opcode)
{
	static const char *const names[16] = {
		"cont", "text", "binary", "rsv-0x3",
		"rsv-0x4", "rsv-0x5", "rsv-0x6", "rsv-0x7",
		"close", "ping", "pong", "rsv-0xb",
		"rsv-0xc", "rsv-0xd", "rsv-0xe", "rsv-0xf",
	};

	if (opcode >= 16)
		return ("invalid");
	return (names[opcode]);
}
