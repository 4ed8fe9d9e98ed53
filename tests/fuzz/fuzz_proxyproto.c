/*
 * fuzz_proxyproto.c -- libFuzzer target for the PROXY protocol parser:
 * whatever the bytes, it answers need-more, a length within the input, or
 * a refusal with a reason, and a split never changes the answer.
 */
#include "wsb_autoconf.h"

#include <sys/socket.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "proxyproto.h"
#include "util.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* Properties, not input checks: a failure here is a parser bug. */
#define fuzz_assert(x)	do { if (!(x)) abort(); } while (0)

static void
fuzz_one(const uint8_t *buf, size_t len, unsigned versions)
{
	struct proxyproto_hdr	 h, h2;
	struct sockaddr_storage	 peer;
	const char		*why = NULL;
	uint8_t			 out[PROXYPROTO_MAX];
	ssize_t			 r, p;
	size_t			 i, step, n;

	r = proxyproto_parse(buf, len, versions, &h, &why);
	fuzz_assert(r >= -1 && r <= (ssize_t)len && r <= PROXYPROTO_MAX);
	fuzz_assert(r != -1 || why != NULL);
	/* A prefix needs more or fails; once the whole succeeds, never fails. */
	step = len <= 512 ? 1 : len / 256;
	for (i = 0; i < len; i += step) {
		p = proxyproto_parse(buf, i, versions, &h2, &why);
		if (r > 0)
			fuzz_assert(i < (size_t)r ? p == 0 : p == r);
		else if (r == 0)
			fuzz_assert(p == 0);
		else
			fuzz_assert(p == 0 || p == -1);
	}
	if (r <= 0)
		return;
	fuzz_assert(h.version == 1 || h.version == 2);
	fuzz_assert(h.local || ((h.src.ss_family == AF_INET ||
	    h.src.ss_family == AF_INET6) && h.dst.ss_family ==
	    h.src.ss_family));
	/* What we read we can write again, and read back the same. */
	if (h.local)
		return;
	for (i = 1; i <= 2; i++) {
		n = proxyproto_build((int)i, &h.src, &h.dst, NULL, out,
		    sizeof out);
		fuzz_assert(n > 0);
		fuzz_assert(proxyproto_parse(out, n, PROXYPROTO_ANY, &h2,
		    &why) == (ssize_t)n);
		peer = h2.src;
		fuzz_assert(peer.ss_family == AF_INET ||
		    peer.ss_family == AF_INET6);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_one(data, size, PROXYPROTO_ANY);
	fuzz_one(data, size, PROXYPROTO_V1);
	fuzz_one(data, size, PROXYPROTO_V2);
	return (0);
}
