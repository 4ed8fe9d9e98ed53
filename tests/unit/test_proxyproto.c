/*
 * test_proxyproto.c -- the PROXY protocol parser on good v1 and v2
 * headers fed whole and a byte at a time, on every class of bad header,
 * and the writer's headers read back by the parser.
 */
#include "wsb_autoconf.h"

#include <sys/socket.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "proxyproto.h"
#include "util.h"

static const char v1_tcp4[] = "PROXY TCP4 192.0.2.7 198.51.100.1 56324 443\r\n";
static const char v1_tcp6[] =
    "PROXY TCP6 2001:db8::7 2001:db8::1 65535 8080\r\n";

/* v2, PROXY, TCP over IPv4: 192.0.2.7:56324 -> 198.51.100.1:443. */
static const uint8_t v2_tcp4[] = {
	0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a,
	0x21, 0x11, 0x00, 0x0c,
	192, 0, 2, 7, 198, 51, 100, 1, 0xdc, 0x04, 0x01, 0xbb,
};

/* The same with two TLVs: ALPN "h2" and a NOOP of 4 bytes. */
static const uint8_t v2_tlvs[] = {
	0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a,
	0x21, 0x11, 0x00, 0x0c + 5 + 7,
	192, 0, 2, 7, 198, 51, 100, 1, 0xdc, 0x04, 0x01, 0xbb,
	0x01, 0x00, 0x02, 'h', '2',
	0x04, 0x00, 0x04, 0, 0, 0, 0,
};

/* LOCAL: the balancer's health check, with an address block to skip. */
static const uint8_t v2_local[] = {
	0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a,
	0x20, 0x00, 0x00, 0x03, 1, 2, 3,
};

static const uint8_t v2_unspec[] = {
	0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a,
	0x21, 0x00, 0x00, 0x00,
};

static ssize_t
parse(const void *buf, size_t len, unsigned versions,
    struct proxyproto_hdr *h, const char **why)
{
	*why = NULL;
	return (proxyproto_parse(buf, len, versions, h, why));
}

/* Every proper prefix needs more; the whole (and more) gives want. */
static void
check_split(const void *buf, size_t len, unsigned versions, ssize_t want)
{
	struct proxyproto_hdr	h;
	const char		*why;
	uint8_t			 more[PROXYPROTO_MAX + 8];
	size_t			 i;

	for (i = 0; i < len; i++)
		assert_int_equal(parse(buf, i, versions, &h, &why), 0);
	assert_int_equal(parse(buf, len, versions, &h, &why), want);
	/* The client's own bytes behind it are not the header's. */
	memcpy(more, buf, len);
	memcpy(more + len, "GET /", 5);
	assert_int_equal(parse(more, len + 5, versions, &h, &why), want);
}

static void
check_addr(const struct sockaddr_storage *ss, int af, const char *host,
    int port)
{
	char	buf[INET6_ADDRSTRLEN];

	assert_int_equal(ss->ss_family, af);
	if (af == AF_INET) {
		const struct sockaddr_in *s4 = (const void *)ss;

		inet_ntop(AF_INET, &s4->sin_addr, buf, sizeof buf);
		assert_int_equal(ntohs(s4->sin_port), port);
	} else {
		const struct sockaddr_in6 *s6 = (const void *)ss;

		inet_ntop(AF_INET6, &s6->sin6_addr, buf, sizeof buf);
		assert_int_equal(ntohs(s6->sin6_port), port);
	}
	assert_string_equal(buf, host);
}

static void
test_v1_good(void **state)
{
	struct proxyproto_hdr	h;
	const char		*why;

	check_split(v1_tcp4, strlen(v1_tcp4), PROXYPROTO_V1,
	    (ssize_t)strlen(v1_tcp4));
	assert_int_equal(parse(v1_tcp4, strlen(v1_tcp4), PROXYPROTO_ANY, &h,
	    &why), (ssize_t)strlen(v1_tcp4));
	assert_int_equal(h.version, 1);
	assert_false(h.local);
	check_addr(&h.src, AF_INET, "192.0.2.7", 56324);
	check_addr(&h.dst, AF_INET, "198.51.100.1", 443);

	check_split(v1_tcp6, strlen(v1_tcp6), PROXYPROTO_ANY,
	    (ssize_t)strlen(v1_tcp6));
	assert_int_equal(parse(v1_tcp6, strlen(v1_tcp6), PROXYPROTO_V1, &h,
	    &why), (ssize_t)strlen(v1_tcp6));
	check_addr(&h.src, AF_INET6, "2001:db8::7", 65535);
	check_addr(&h.dst, AF_INET6, "2001:db8::1", 8080);
}

static void
test_v1_unknown(void **state)
{
	static const char	 bare[] = "PROXY UNKNOWN\r\n";
	static const char	 more[] = "PROXY UNKNOWN ff::1 ff::2 1 2\r\n";
	struct proxyproto_hdr	 h;
	const char		*why;

	check_split(bare, strlen(bare), PROXYPROTO_V1, (ssize_t)strlen(bare));
	assert_int_equal(parse(bare, strlen(bare), PROXYPROTO_V1, &h, &why),
	    (ssize_t)strlen(bare));
	assert_true(h.local);
	check_split(more, strlen(more), PROXYPROTO_V1, (ssize_t)strlen(more));
}

/* The longest legal v1 line (UNKNOWN with addresses) is 107 bytes; one more is refused. */
static void
test_v1_longest(void **state)
{
	static const char	 longest[] = "PROXY UNKNOWN "
	    "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff "
	    "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n";
	char			 over[PROXYPROTO_V1_MAX + 1];
	struct proxyproto_hdr	 h;
	const char		*why;

	assert_int_equal(strlen(longest), PROXYPROTO_V1_MAX);
	check_split(longest, strlen(longest), PROXYPROTO_V1,
	    PROXYPROTO_V1_MAX);
	memset(over, 'x', sizeof over);
	memcpy(over, "PROXY UNKNOWN ", 14);
	assert_int_equal(parse(over, PROXYPROTO_V1_MAX - 1, PROXYPROTO_V1, &h,
	    &why), 0);
	assert_int_equal(parse(over, sizeof over, PROXYPROTO_V1, &h, &why),
	    -1);
	assert_non_null(strstr(why, "longer"));
}

static void
test_v1_bad(void **state)
{
	static const char *const bad[] = {
		"PROXY TCP4 192.0.2.7 198.51.100.1 56324\r\n",
		"PROXY TCP4 192.0.2.7 198.51.100.1 56324 443 7\r\n",
		"PROXY TCP4 192.0.2.7  198.51.100.1 56324 443\r\n",
		"PROXY TCP4 192.0.2.7 198.51.100.1 56324 443 \r\n",
		"PROXY TCP4 192.0.2.7 198.51.100.1 56324 65536\r\n",
		"PROXY TCP4 192.0.2.7 198.51.100.1 -1 443\r\n",
		"PROXY TCP4 192.0.2.7 198.51.100.1 123456 443\r\n",
		"PROXY TCP4 2001:db8::7 198.51.100.1 1 443\r\n",
		"PROXY TCP6 192.0.2.7 2001:db8::1 1 443\r\n",
		"PROXY TCP4 192.0.2.300 198.51.100.1 1 443\r\n",
		"PROXY UDP4 192.0.2.7 198.51.100.1 1 443\r\n",
		"PROXY TCP4 192.0.2.7 198.51.100.1 1 443\n",
		"PROXY \r\n",
		"PROXY\r\n",
		"PROXY TCP4 192.0.2.7\t198.51.100.1 1 443\r\n",
		"PROXY TCP4 192.0.2.7 198.51.100.1 1 4\r43\r\n",
		"proxy TCP4 192.0.2.7 198.51.100.1 1 443\r\n",
		"GET / HTTP/1.1\r\n",
		"PROXY UNKNOWNX\r\n",
	};
	struct proxyproto_hdr	 h;
	const char		*why;
	size_t			 i, j, len;
	ssize_t			 r;

	for (i = 0; i < nitems(bad); i++) {
		len = strlen(bad[i]);
		assert_int_equal(parse(bad[i], len, PROXYPROTO_ANY, &h, &why),
		    -1);
		assert_non_null(why);
		/* Its prefixes need more or fail, never succeed. */
		for (j = 0; j < len; j++) {
			r = parse(bad[i], j, PROXYPROTO_ANY, &h, &why);
			assert_true(r == 0 || r == -1);
		}
	}
	/* A NUL in the text. */
	assert_int_equal(parse("PROXY TCP4 \0", 12, PROXYPROTO_V1, &h, &why),
	    -1);
}

static void
test_v2_good(void **state)
{
	struct proxyproto_hdr	h;
	const char		*why;

	check_split(v2_tcp4, sizeof v2_tcp4, PROXYPROTO_V2, sizeof v2_tcp4);
	assert_int_equal(parse(v2_tcp4, sizeof v2_tcp4, PROXYPROTO_ANY, &h,
	    &why), sizeof v2_tcp4);
	assert_int_equal(h.version, 2);
	assert_false(h.local);
	check_addr(&h.src, AF_INET, "192.0.2.7", 56324);
	check_addr(&h.dst, AF_INET, "198.51.100.1", 443);
	assert_int_equal(h.ntlvs, 0);

	check_split(v2_tlvs, sizeof v2_tlvs, PROXYPROTO_V2, sizeof v2_tlvs);
	assert_int_equal(parse(v2_tlvs, sizeof v2_tlvs, PROXYPROTO_V2, &h,
	    &why), sizeof v2_tlvs);
	assert_int_equal(h.ntlvs, 2);
	check_addr(&h.src, AF_INET, "192.0.2.7", 56324);
}

static void
test_v2_local_unspec(void **state)
{
	struct proxyproto_hdr	h;
	const char		*why;

	check_split(v2_local, sizeof v2_local, PROXYPROTO_V2, sizeof v2_local);
	assert_int_equal(parse(v2_local, sizeof v2_local, PROXYPROTO_V2, &h,
	    &why), sizeof v2_local);
	assert_true(h.local);
	check_split(v2_unspec, sizeof v2_unspec, PROXYPROTO_V2,
	    sizeof v2_unspec);
	assert_int_equal(parse(v2_unspec, sizeof v2_unspec, PROXYPROTO_V2, &h,
	    &why), sizeof v2_unspec);
	assert_true(h.local);
}

static void
test_v2_bad(void **state)
{
	struct proxyproto_hdr	h;
	const char		*why;
	uint8_t			 b[sizeof v2_tlvs];

	/* Oversized: the length field says 4081 bytes follow. */
	memcpy(b, v2_tcp4, sizeof v2_tcp4);
	b[14] = 0x0f;
	b[15] = 0xf1;
	assert_int_equal(parse(b, 16, PROXYPROTO_V2, &h, &why), -1);
	assert_non_null(strstr(why, "longer"));
	b[15] = 0xf0;	/* 4096 in all: taken, once it has all arrived */
	assert_int_equal(parse(b, sizeof v2_tcp4, PROXYPROTO_V2, &h, &why), 0);

	/* Version 1 in the version nibble; command 2. */
	memcpy(b, v2_tcp4, sizeof v2_tcp4);
	b[12] = 0x11;
	assert_int_equal(parse(b, 13, PROXYPROTO_V2, &h, &why), -1);
	b[12] = 0x22;
	assert_int_equal(parse(b, 13, PROXYPROTO_V2, &h, &why), -1);

	/* UDP, and an unknown family. */
	memcpy(b, v2_tcp4, sizeof v2_tcp4);
	b[13] = 0x12;
	assert_int_equal(parse(b, 14, PROXYPROTO_V2, &h, &why), -1);
	b[13] = 0x41;
	assert_int_equal(parse(b, 14, PROXYPROTO_V2, &h, &why), -1);

	/* An address block shorter than its family needs. */
	memcpy(b, v2_tcp4, sizeof v2_tcp4);
	b[15] = 11;
	assert_int_equal(parse(b, 16, PROXYPROTO_V2, &h, &why), -1);
	memcpy(b, v2_tcp4, sizeof v2_tcp4);
	b[13] = 0x21;	/* TCP6 needs 36 */
	assert_int_equal(parse(b, sizeof v2_tcp4, PROXYPROTO_V2, &h, &why),
	    -1);

	/* A TLV whose length runs past the header, and half a TLV. */
	memcpy(b, v2_tlvs, sizeof v2_tlvs);
	b[sizeof v2_tlvs - 5] = 5;
	assert_int_equal(parse(b, sizeof v2_tlvs, PROXYPROTO_V2, &h, &why), -1);
	assert_non_null(strstr(why, "TLV"));
	memcpy(b, v2_tlvs, sizeof v2_tlvs);
	b[15] -= 5;	/* ends two bytes into the NOOP TLV */
	assert_int_equal(parse(b, sizeof v2_tlvs - 5, PROXYPROTO_V2, &h, &why),
	    -1);

	/* A broken signature, at its last byte. */
	memcpy(b, v2_tcp4, sizeof v2_tcp4);
	b[11] = 0x0b;
	assert_int_equal(parse(b, 11, PROXYPROTO_V2, &h, &why), 0);
	assert_int_equal(parse(b, 12, PROXYPROTO_V2, &h, &why), -1);
}

/* A listener for one version refuses the other at its first byte. */
static void
test_versions(void **state)
{
	struct proxyproto_hdr	h;
	const char		*why;

	assert_int_equal(parse(v2_tcp4, 1, PROXYPROTO_V1, &h, &why), -1);
	assert_non_null(strstr(why, "v2"));
	assert_int_equal(parse(v1_tcp4, 1, PROXYPROTO_V2, &h, &why), -1);
	assert_non_null(strstr(why, "v1"));
	assert_int_equal(parse("\x16\x03\x01", 3, PROXYPROTO_ANY, &h, &why),
	    -1);
	assert_int_equal(parse("", 0, PROXYPROTO_ANY, &h, &why), 0);
}

static void
set4(struct sockaddr_storage *ss, const char *host, int port)
{
	struct sockaddr_in	*s4 = (struct sockaddr_in *)(void *)ss;

	memset(ss, 0, sizeof *ss);
	s4->sin_family = AF_INET;
	assert_int_equal(inet_pton(AF_INET, host, &s4->sin_addr), 1);
	s4->sin_port = htons((uint16_t)port);
}

static void
set6(struct sockaddr_storage *ss, const char *host, int port)
{
	struct sockaddr_in6	*s6 = (struct sockaddr_in6 *)(void *)ss;

	memset(ss, 0, sizeof *ss);
	s6->sin6_family = AF_INET6;
	assert_int_equal(inet_pton(AF_INET6, host, &s6->sin6_addr), 1);
	s6->sin6_port = htons((uint16_t)port);
}

/* Writes a version v header for src and dst and reads it into *h. */
static void
roundtrip(int v, const struct sockaddr_storage *src,
    const struct sockaddr_storage *dst, struct proxyproto_hdr *h)
{
	uint8_t		 buf[PROXYPROTO_MAX];
	const char	*why;
	size_t		 n;

	n = proxyproto_build(v, src, dst, NULL, buf, sizeof buf);
	assert_true(n > 0);
	assert_int_equal(parse(buf, n, PROXYPROTO_ANY, h, &why), (ssize_t)n);
}

static void
test_build_roundtrip(void **state)
{
	struct sockaddr_storage	 src, dst;
	struct proxyproto_hdr	 h;
	uint8_t			 buf[PROXYPROTO_MAX];
	int			 v;

	for (v = 1; v <= 2; v++) {
		set4(&src, "127.0.0.2", 40000);
		set4(&dst, "127.0.0.1", 8080);
		roundtrip(v, &src, &dst, &h);
		assert_int_equal(h.version, v);
		check_addr(&h.src, AF_INET, "127.0.0.2", 40000);
		check_addr(&h.dst, AF_INET, "127.0.0.1", 8080);

		set6(&src, "2001:db8::5", 1);
		set6(&dst, "::1", 443);
		roundtrip(v, &src, &dst, &h);
		check_addr(&h.src, AF_INET6, "2001:db8::5", 1);
		check_addr(&h.dst, AF_INET6, "::1", 443);

		/* A v4-mapped client is written as IPv4. */
		set6(&src, "::ffff:192.0.2.9", 7);
		set6(&dst, "::ffff:192.0.2.1", 8);
		roundtrip(v, &src, &dst, &h);
		check_addr(&h.src, AF_INET, "192.0.2.9", 7);

		/* Mixed families: both as IPv6. */
		set4(&src, "192.0.2.9", 7);
		set6(&dst, "2001:db8::1", 8);
		roundtrip(v, &src, &dst, &h);
		check_addr(&h.src, AF_INET6, "::ffff:192.0.2.9", 7);

		/* A unix client: no address to say. */
		memset(&src, 0, sizeof src);
		src.ss_family = AF_UNIX;
		roundtrip(v, &src, &dst, &h);
		assert_true(h.local);
	}
	set4(&src, "127.0.0.2", 40000);
	set4(&dst, "127.0.0.1", 8080);
	assert_int_equal(proxyproto_build(1, &src, &dst, NULL, buf, 10), 0);
	assert_int_equal(proxyproto_build(2, &src, &dst, NULL, buf, 20), 0);
}

/* v2 with TLS: ALPN, AUTHORITY and SSL (its subtypes inside it). */
static void
test_build_tls(void **state)
{
	struct sockaddr_storage	 src, dst;
	struct proxyproto_tls	 tls = { "TLSv1.3", "TLS_AES_128_GCM_SHA256",
				    "h2", "example.org", "client one", 1 };
	struct proxyproto_hdr	 h;
	uint8_t			 buf[PROXYPROTO_MAX], *p;
	const char		*why;
	size_t			 n, sublen;

	set4(&src, "192.0.2.9", 7);
	set4(&dst, "192.0.2.1", 8);
	n = proxyproto_build(2, &src, &dst, &tls, buf, sizeof buf);
	assert_int_equal(parse(buf, n, PROXYPROTO_V2, &h, &why), (ssize_t)n);
	assert_int_equal(h.ntlvs, 3);
	p = buf + 16 + 12;
	assert_int_equal(p[0], 0x01);
	assert_int_equal(p[2], 2);
	assert_memory_equal(p + 3, "h2", 2);
	p += 3 + 2;
	assert_int_equal(p[0], 0x02);
	assert_memory_equal(p + 3, "example.org", 11);
	p += 3 + 11;
	assert_int_equal(p[0], 0x20);
	sublen = (size_t)p[1] << 8 | p[2];
	assert_int_equal(p + 3 + sublen, buf + n);
	assert_int_equal(p[3], 0x07);	/* SSL, cert on the connection and session */
	assert_int_equal(p[7], 0);	/* verified */
	p += 3 + 5;
	assert_int_equal(p[0], 0x21);
	assert_memory_equal(p + 3, "TLSv1.3", 7);
	p += 3 + 7;
	assert_int_equal(p[0], 0x22);
	assert_memory_equal(p + 3, "client one", 10);
	p += 3 + 10;
	assert_int_equal(p[0], 0x23);
	/* Too small for the TLVs. */
	assert_int_equal(proxyproto_build(2, &src, &dst, &tls, buf, 40), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_v1_good),
		cmocka_unit_test(test_v1_unknown),
		cmocka_unit_test(test_v1_longest),
		cmocka_unit_test(test_v1_bad),
		cmocka_unit_test(test_v2_good),
		cmocka_unit_test(test_v2_local_unspec),
		cmocka_unit_test(test_v2_bad),
		cmocka_unit_test(test_versions),
		cmocka_unit_test(test_build_roundtrip),
		cmocka_unit_test(test_build_tls),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
