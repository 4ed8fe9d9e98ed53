/* ws_frame.h -- sans-I/O RFC 6455 frame codec: header parse/build, masking, close payloads. */
#ifndef WS_FRAME_H
#define WS_FRAME_H

#include <stddef.h>
#include <stdint.h>

#define WS_OP_CONT	0x0
#define WS_OP_TEXT	0x1
#define WS_OP_BINARY	0x2
#define WS_OP_CLOSE	0x8
#define WS_OP_PING	0x9
#define WS_OP_PONG	0xa

#define WS_OP_IS_CONTROL(op)	(((op) & 0x8) != 0)

#define WS_RSV1		0x4	/* bit values in struct ws_frame.rsv */
#define WS_RSV2		0x2
#define WS_RSV3		0x1

#define WS_HDR_MAX	14	/* 2 + 8 (64-bit length) + 4 (mask) */
#define WS_CONTROL_MAX	125	/* RFC 6455 5.5: control payload limit */

/* Close status codes (RFC 6455 7.4.1, IANA registry). */
#define WS_CLOSE_NORMAL		1000
#define WS_CLOSE_GOING_AWAY	1001
#define WS_CLOSE_PROTOCOL	1002
#define WS_CLOSE_UNSUPPORTED	1003
#define WS_CLOSE_NO_STATUS	1005	/* never on the wire */
#define WS_CLOSE_ABNORMAL	1006	/* never on the wire */
#define WS_CLOSE_INVALID_DATA	1007
#define WS_CLOSE_POLICY		1008
#define WS_CLOSE_TOO_BIG	1009
#define WS_CLOSE_EXTENSION	1010
#define WS_CLOSE_INTERNAL	1011
#define WS_CLOSE_RESTART	1012
#define WS_CLOSE_TRY_AGAIN	1013
#define WS_CLOSE_BAD_GATEWAY	1014

/* One parsed frame header. */
struct ws_frame {
	uint64_t	len;		/* payload length */
	uint8_t		opcode;		/* WS_OP_* (may be a reserved value) */
	uint8_t		fin;		/* 0 or 1 */
	uint8_t		rsv;		/* WS_RSV1|WS_RSV2|WS_RSV3 bits */
	uint8_t		masked;		/* 0 or 1 */
	uint8_t		mask[4];	/* valid when masked */
	uint8_t		hdr_len;	/* 2..14 */
};

/*
 * Parses one frame header from p[0..n). Returns the header length (2..14) and
 * fills *f when the whole header is present, 0 when more bytes are needed
 * (call again with more; nothing is kept between calls), or -1 when the
 * header can never be valid (a 64-bit length with its top bit set, RFC 6455
 * 5.2): the connection must then fail with 1002.
 */
int	ws_frame_parse(const uint8_t *p, size_t n, struct ws_frame *f);

/*
 * Writes a frame header for a payload of <len> bytes into out (at most
 * WS_HDR_MAX bytes), using the shortest length encoding. mask is NULL for an
 * unmasked (server) frame. Returns the header length.
 */
size_t	ws_frame_header(uint8_t out[WS_HDR_MAX], unsigned fin, unsigned rsv,
	    unsigned opcode, uint64_t len, const uint8_t *mask);

/*
 * XORs p[0..n) in place with key, where p starts <off> bytes into the
 * payload (so a payload can be unmasked in pieces). Returns the offset for
 * the next piece, (off + n) & 3. Works 64 bytes at a time in vectors
 * (AVX2 where the CPU has it).
 */
size_t	ws_mask(uint8_t *p, size_t n, const uint8_t key[4], size_t off);
/*
 * Tests: 0 makes ws_mask() use only the portable vector code, 1 lets it
 * use AVX2 again where the CPU has it. Returns whether it could before.
 */
int	ws_mask_use_wide(int on);

/*
 * Receive-side protocol state of one endpoint (RFC 6455 5.2-5.5): whether a
 * fragmented data message is open and which extension bits are allowed.
 * Zero-initialise, then set rsv_allowed / require_mask.
 */
struct ws_rx_rules {
	uint8_t		require_mask;	/* server side: client frames must be masked */
	uint8_t		rsv_allowed;	/* RSV bits a negotiated extension allows */
	uint8_t		in_message;	/* a data message awaits continuation frames */
	uint8_t		msg_opcode;	/* WS_OP_TEXT or WS_OP_BINARY of that message */
	uint8_t		msg_rsv1;	/* RSV1 was set on that message's first frame */
};

/*
 * Checks the frame header f against the rules and the message state, and
 * advances the state (a data frame without FIN opens a message, a
 * continuation with FIN ends it). Returns 0 when the frame is acceptable,
 * otherwise the close code to fail the connection with (1002). RSV1, when
 * allowed, is accepted only on the first frame of a data message.
 */
uint16_t ws_rx_check(struct ws_rx_rules *r, const struct ws_frame *f);

/*
 * Validates a close frame payload p[0..n) (RFC 6455 5.5.1, 7.4). Returns 0 on
 * success with *code (WS_CLOSE_NO_STATUS when the payload is empty) and the
 * reason (borrowed from p, not NUL-terminated); otherwise the close code to
 * fail with: 1002 for a 1-byte payload or a code not allowed on the wire,
 * 1007 for a reason that is not UTF-8.
 */
uint16_t ws_close_parse(const uint8_t *p, size_t n, uint16_t *code,
	    const uint8_t **reason, size_t *reason_len);

/* Returns 1 if code may appear in a close frame on the wire, 0 if not. */
int	ws_close_code_valid(unsigned code);

/*
 * Builds a close payload into out (at least WS_CONTROL_MAX bytes): the code,
 * then reason (may be NULL) cut to fit at a UTF-8 code point boundary. code
 * WS_CLOSE_NO_STATUS gives an empty payload. Returns the payload length.
 */
size_t	ws_close_build(uint8_t *out, uint16_t code, const char *reason);

/* Returns a short name for an opcode ("text", "ping", "rsv-0x3"...). */
const char *ws_opcode_str(unsigned opcode);

#endif
