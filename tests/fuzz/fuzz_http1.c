/*
 * fuzz_http1.c -- libFuzzer target for the HTTP/1.1 request-head parser and
 * the handshake checks that read its result.
 */
#include "wsb_autoconf.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "config.h"
#include "handshake.h"
#include "http1.h"
#include "util.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* Properties, not input checks: a failure here is a parser bug. */
#define fuzz_assert(x)	do { if (!(x)) abort(); } while (0)

/* Built once; still reachable at exit, so not a leak. */
static struct config	*fuzz_cfg;

static void
fuzz_init(void)
{
	static const char *const lines[] = {
		"listen 8080",
		("route /chat echo subprotocols=superchat,chat "
		    "origins=http://example.com,https://app.example"),
		"route /req echo subprotocols=mqtt require-subprotocol=yes",
		"route * echo",
	};
	char	*cause;
	size_t	 i;

	fuzz_cfg = config_new();
	for (i = 0; i < nitems(lines); i++) {
		if (config_parse_line(fuzz_cfg, lines[i], "fuzz", (int)i + 1,
		    &cause) != 0)
			abort();
	}
	if (config_finish(fuzz_cfg, &cause) != 0)
		abort();
}

/*
 * Whatever the split, a prefix of the input either needs more bytes or fails
 * exactly as the whole input does: a client dribbling bytes gets the answer
 * a fast one gets.
 */
static void
fuzz_prefixes(const char *buf, size_t len, size_t max_head, ssize_t whole)
{
	struct http1_request	req;
	ssize_t			r;
	size_t			i, step;

	step = len <= 512 ? 1 : len / 256;
	for (i = 0; i < len; i += step) {
		r = http1_parse_request(buf, i, max_head, &req);
		fuzz_assert(r == 0 || r == whole);
	}
	if (whole > 0) {
		fuzz_assert(http1_parse_request(buf, (size_t)whole, max_head,
		    &req) == whole);
		fuzz_assert(http1_parse_request(buf, (size_t)whole - 1,
		    max_head, &req) == 0);
	}
}

static void
fuzz_one(const char *buf, size_t len, size_t max_head)
{
	struct http1_request	 req;
	struct ws_offer		 o;
	const struct route	*rt;
	const char		*why, *sub;
	char			 accept[WS_ACCEPT_LEN + 1];
	ssize_t			 r;
	size_t			 i;
	int			 rc;

	r = http1_parse_request(buf, len, max_head, &req);
	fuzz_assert(r == 0 || r == -400 || r == -431 || r == -505 || r > 0);
	fuzz_assert(r <= 0 || ((size_t)r <= len && (size_t)r <= max_head));
	fuzz_prefixes(buf, len, max_head, r);
	if (r <= 0)
		return;

	fuzz_assert(req.nheaders <= HTTP1_MAX_HEADERS);
	for (i = 0; i < req.nheaders; i++) {
		fuzz_assert(req.headers[i].name >= buf);
		fuzz_assert(req.headers[i].value + req.headers[i].value_len <=
		    buf + r);
	}
	(void)http1_find(&req, "Host");
	(void)http1_count(&req, "Sec-WebSocket-Key");
	(void)http1_has_token(&req, "Connection", "upgrade");

	rc = handshake_check_http1(&req, &o, &why);
	fuzz_assert(rc == 0 || rc == 400 || rc == 405 || rc == 426);
	fuzz_assert(rc == 0 || why != NULL);
	if (rc == 0) {
		fuzz_assert(o.path != NULL && o.key != NULL && o.host != NULL);
		fuzz_assert(handshake_key_valid(o.key));
		fuzz_assert(handshake_accept_key(o.key, accept) == 0);
		fuzz_assert(strlen(accept) == WS_ACCEPT_LEN);
		rc = handshake_route(config_route_policy, fuzz_cfg, &o,
		    &rt, &sub, &why);
		fuzz_assert(rc == 0 || rc == 400 || rc == 403 || rc == 404);
		fuzz_assert((rc == 0) == (rt != NULL));
		/* Never a subprotocol the client did not offer. */
		if (sub != NULL)
			fuzz_assert(o.protocols != NULL &&
			    strstr(o.protocols, sub) != NULL);
	}
	ws_offer_clear(&o);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char	*buf = (const char *)data;

	if (fuzz_cfg == NULL)
		fuzz_init();
	fuzz_one(buf, size, 8192);
	/* A small limit reaches the 431 paths with short inputs. */
	fuzz_one(buf, size, 64 + size % 64);
	return (0);
}
