/* test_cidr.c -- address ranges: parsing, host bits, IPv4-mapped clients. */
#include "wsb_autoconf.h"

#include <sys/socket.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cidr.h"
#include "util.h"

static void
test_parse(void **state)
{
	static const char *const good[] = {
		"127.0.0.0/8", "10.1.2.3", "0.0.0.0/0", "::1", "::/0",
		"2001:db8::/32", "192.0.2.128/25", "fe80::/10",
	};
	static const char *const bad[] = {
		"", "/8", "127.0.0.1/8", "10.0.0.0/33", "::1/129", "10.0.0.0/",
		"10.0.0.0/8x", "host.example", "10.0.0.0/-1", "2001:db8::1/32",
		"192.0.2.129/25", " 10.0.0.1", "1.2.3.4/08x",
	};
	struct cidr	c;
	size_t		i;

	for (i = 0; i < nitems(good); i++)
		assert_int_equal(cidr_parse(good[i], &c), 0);
	for (i = 0; i < nitems(bad); i++)
		assert_int_equal(cidr_parse(bad[i], &c), -1);
	assert_int_equal(cidr_parse("192.0.2.128/25", &c), 0);
	assert_int_equal(c.family, AF_INET);
	assert_int_equal(c.bits, 25);
}

static void
test_list(void **state)
{
	struct cidr	*v;
	const char	*bad, *s = "127.0.0.0/8,::1,10.0.0.1";
	size_t		 n, badlen;

	assert_int_equal(cidr_parse_list(s, &v, &n, &bad, &badlen), 0);
	assert_int_equal(n, 3);
	free(v);
	s = "127.0.0.0/8,nope,::1";
	assert_int_equal(cidr_parse_list(s, &v, &n, &bad, &badlen), -1);
	assert_int_equal(bad - s, 12);
	assert_int_equal(badlen, 4);
	s = "127.0.0.0/8,";
	assert_int_equal(cidr_parse_list(s, &v, &n, &bad, &badlen), -1);
	assert_int_equal(badlen, 0);
}

static int
match(const char *list, const char *addr)
{
	struct sockaddr_storage	 ss;
	struct sockaddr_in	*s4 = (struct sockaddr_in *)(void *)&ss;
	struct sockaddr_in6	*s6 = (struct sockaddr_in6 *)(void *)&ss;
	struct cidr		*v;
	const char		*bad;
	size_t			 n, badlen;
	int			 rc;

	memset(&ss, 0, sizeof ss);
	if (inet_pton(AF_INET, addr, &s4->sin_addr) == 1)
		ss.ss_family = AF_INET;
	else {
		assert_int_equal(inet_pton(AF_INET6, addr, &s6->sin6_addr), 1);
		ss.ss_family = AF_INET6;
	}
	assert_int_equal(cidr_parse_list(list, &v, &n, &bad, &badlen), 0);
	rc = cidr_match(v, n, (struct sockaddr *)&ss);
	free(v);
	return (rc);
}

static void
test_match(void **state)
{
	assert_true(match("127.0.0.0/8,::1", "127.0.0.1"));
	assert_true(match("127.0.0.0/8,::1", "127.255.0.9"));
	assert_true(match("127.0.0.0/8,::1", "::1"));
	assert_true(match("127.0.0.0/8,::1", "::ffff:127.0.0.2"));
	assert_false(match("127.0.0.0/8,::1", "128.0.0.1"));
	assert_false(match("127.0.0.0/8,::1", "::2"));
	assert_true(match("127.0.0.1", "127.0.0.1"));
	assert_false(match("127.0.0.1", "127.0.0.2"));
	assert_true(match("192.0.2.128/25", "192.0.2.255"));
	assert_false(match("192.0.2.128/25", "192.0.2.127"));
	assert_true(match("2001:db8::/33", "2001:db8:7fff::1"));
	assert_false(match("2001:db8::/33", "2001:db8:8000::1"));
	assert_true(match("0.0.0.0/0", "203.0.113.5"));
	assert_false(match("0.0.0.0/0", "2001:db8::1"));
	assert_true(match("::/0", "2001:db8::1"));
}

static void
test_other_family(void **state)
{
	struct sockaddr_storage	 ss;
	struct cidr		 c;

	memset(&ss, 0, sizeof ss);
	ss.ss_family = AF_UNIX;
	assert_int_equal(cidr_parse("0.0.0.0/0", &c), 0);
	assert_false(cidr_match(&c, 1, (struct sockaddr *)&ss));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_list),
		cmocka_unit_test(test_match),
		cmocka_unit_test(test_other_family),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
