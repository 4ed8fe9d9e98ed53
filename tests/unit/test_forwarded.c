/*
 * test_forwarded.c -- the client named by X-Forwarded-For and Forwarded:
 * the rightmost untrusted hop, trusted chains, ports, IPv6, quoting, and
 * hops that are no address.
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

#include "cidr.h"
#include "forwarded.h"
#include "util.h"

/*
 * The client forwarded_client() finds, with trusted 10.0.0.0/8 and
 * 2001:db8:ffff::/48, as "ADDR" or "ADDR port N" ("[V6]" for IPv6);
 * "-" when none.
 */
static const char *
client(const char *fwd, const char *xff)
{
	static char		 out[80];
	struct sockaddr_storage	 ss;
	struct cidr		*v;
	const char		*bad;
	char			 host[INET6_ADDRSTRLEN];
	size_t			 n, badlen;
	int			 port, rc;

	assert_int_equal(cidr_parse_list("10.0.0.0/8,2001:db8:ffff::/48", &v,
	    &n, &bad, &badlen), 0);
	rc = forwarded_client(fwd, xff, v, n, &ss);
	free(v);
	if (!rc)
		return ("-");
	if (ss.ss_family == AF_INET) {
		inet_ntop(AF_INET, &((struct sockaddr_in *)(void *)&ss)->sin_addr,
		    host, sizeof host);
		port = ntohs(((struct sockaddr_in *)(void *)&ss)->sin_port);
		snprintf(out, sizeof out, "%s", host);
	} else {
		inet_ntop(AF_INET6, &((struct sockaddr_in6 *)(void *)&ss)->
		    sin6_addr, host, sizeof host);
		port = ntohs(((struct sockaddr_in6 *)(void *)&ss)->sin6_port);
		snprintf(out, sizeof out, "[%s]", host);
	}
	if (port != 0)
		snprintf(out + strlen(out), sizeof out - strlen(out),
		    " port %d", port);
	return (out);
}

static void
test_xff(void **state)
{
	assert_string_equal(client(NULL, "192.0.2.1"), "192.0.2.1");
	/* The rightmost untrusted hop: what the client wrote is its own. */
	assert_string_equal(client(NULL, "203.0.113.9, 192.0.2.1"),
	    "192.0.2.1");
	assert_string_equal(client(NULL, "203.0.113.9, 192.0.2.1, 10.0.0.5"),
	    "192.0.2.1");
	assert_string_equal(client(NULL, "192.0.2.1,10.1.1.1,10.0.0.5"),
	    "192.0.2.1");
	/* All trusted: the leftmost. */
	assert_string_equal(client(NULL, "10.9.9.9, 10.0.0.5"), "10.9.9.9");
	assert_string_equal(client(NULL, "  2001:db8::7  "), "[2001:db8::7]");
	assert_string_equal(client(NULL, "[2001:db8::7]:4711"),
	    "[2001:db8::7] port 4711");
	assert_string_equal(client(NULL, "192.0.2.1:80"), "192.0.2.1 port 80");
	assert_string_equal(client(NULL, "192.0.2.1, 2001:db8:ffff::1"),
	    "192.0.2.1");
	/* A hop that is no address ends the walk at the hop to its right. */
	assert_string_equal(client(NULL, "192.0.2.1, unknown, 10.0.0.5"),
	    "10.0.0.5");
	assert_string_equal(client(NULL, "unknown"), "-");
	assert_string_equal(client(NULL, ""), "-");
	assert_string_equal(client(NULL, "192.0.2.1,"), "-");
	assert_string_equal(client(NULL, "192.0.2.1:99999"), "-");
	assert_string_equal(client(NULL, "192.0.2.1:"), "-");
	assert_string_equal(client(NULL, "[2001:db8::7"), "-");
	assert_string_equal(client(NULL, "[2001:db8::7]x"), "-");
	assert_string_equal(client(NULL, "[192.0.2.1]"), "192.0.2.1");
	assert_string_equal(client(NULL, NULL), "-");
}

static void
test_forwarded(void **state)
{
	assert_string_equal(client("for=192.0.2.60;proto=http;by=203.0.113.43",
	    NULL), "192.0.2.60");
	assert_string_equal(client("For=\"[2001:db8:cafe::17]:4711\"", NULL),
	    "[2001:db8:cafe::17] port 4711");
	assert_string_equal(client("for=192.0.2.43, for=198.51.100.17", NULL),
	    "198.51.100.17");
	assert_string_equal(client("for=192.0.2.43, for=10.0.0.1;proto=https",
	    NULL), "192.0.2.43");
	assert_string_equal(client("proto=https; for=192.0.2.43", NULL),
	    "192.0.2.43");
	/* Obfuscated and unknown hops are no address. */
	assert_string_equal(client("for=_hidden, for=10.0.0.1", NULL),
	    "10.0.0.1");
	assert_string_equal(client("for=unknown", NULL), "-");
	/* An element without for= is a hop that is no address. */
	assert_string_equal(client("for=192.0.2.1, by=10.0.0.2", NULL), "-");
	/* Quoted strings may hold separators. */
	assert_string_equal(client("for=192.0.2.9;ext=\"a,b;c\"", NULL),
	    "192.0.2.9");
	/* Forwarded wins over X-Forwarded-For. */
	assert_string_equal(client("for=192.0.2.1", "198.51.100.1"),
	    "192.0.2.1");
}

/* A long chain of trusted hops is looked at from its right end only. */
static void
test_long_chain(void **state)
{
	char	buf[4096];
	size_t	i;

	snprintf(buf, sizeof buf, "192.0.2.77");
	for (i = 0; i < 100; i++)
		snprintf(buf + strlen(buf), sizeof buf - strlen(buf),
		    ", 10.0.%zu.1", i);
	assert_string_equal(client(NULL, buf), "10.0.68.1");
	snprintf(buf, sizeof buf, "192.0.2.77");
	for (i = 0; i < 20; i++)
		snprintf(buf + strlen(buf), sizeof buf - strlen(buf),
		    ", 10.0.%zu.1", i);
	assert_string_equal(client(NULL, buf), "192.0.2.77");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_xff),
		cmocka_unit_test(test_forwarded),
		cmocka_unit_test(test_long_chain),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
