/*
 * test_util.c -- allocation that cannot fail: a size that overflows is
 * fatal (a message and abort in a child process), never a short buffer;
 * zero sizes still give a pointer; the string helpers.
 */
#include "wsb_autoconf.h"

#include <sys/resource.h>
#include <sys/wait.h>

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "util.h"

/*
 * abort() in the child: exit with the status a shell gives a SIGABRT, so
 * that a coverage build still writes the child's counts at exit.
 */
static void
on_abort(int sig)
{
	exit(128 + sig);
}

/*
 * Runs fn in a child with its stderr on a pipe. Returns the child's wait
 * status (128 + SIGABRT for an abort()); what it wrote is in out
 * (NUL-terminated).
 */
static int
in_child(void (*fn)(void), char *out, size_t outlen)
{
	struct rlimit	 no_core = { 0, 0 };
	size_t		 got = 0;
	ssize_t		 n;
	pid_t		 pid;
	int		 p[2], st;

	assert_int_equal(pipe(p), 0);
	pid = fork();
	assert_true(pid != -1);
	if (pid == 0) {
		close(p[0]);
		(void)setrlimit(RLIMIT_CORE, &no_core);
		signal(SIGABRT, on_abort);
		if (dup2(p[1], STDERR_FILENO) == -1)
			_exit(99);
		fn();
		_exit(0);
	}
	close(p[1]);
	while (got + 1 < outlen &&
	    (n = read(p[0], out + got, outlen - 1 - got)) > 0)
		got += (size_t)n;
	out[got] = '\0';
	close(p[0]);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	return (st);
}

static void
overflowing_array(void)
{
	/* nmemb * size wraps to 0 in size_t: must not become malloc(0). */
	(void)xreallocarray(NULL, SIZE_MAX / 2 + 1, 2);
}

static void
test_overflow_is_fatal(void **state)
{
	char	out[256], want[64];
	int	st;

	st = in_child(overflowing_array, out, sizeof out);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 128 + SIGABRT);
	snprintf(want, sizeof want, "wsbridge: out of memory (%zu bytes)\n",
	    (size_t)SIZE_MAX);
	assert_string_equal(out, want);
}

static void
test_zero_sizes(void **state)
{
	void	*p;

	p = xmalloc(0);
	assert_non_null(p);
	free(p);
	p = xcalloc(0, 8);
	assert_non_null(p);
	free(p);
	p = xreallocarray(NULL, 0, 8);
	assert_non_null(p);
	p = xreallocarray(p, 4, 8);
	memset(p, 0xa5, 32);
	free(p);
}

static void
test_strings(void **state)
{
	char	*s;

	s = xstrndup("abcdef", 3);
	assert_string_equal(s, "abc");
	free(s);
	s = xasprintf("%s=%d", "n", 42);
	assert_string_equal(s, "n=42");
	free(s);
}

/* Ports as peers write them (PROXY v1, X-Forwarded-For). */
static void
test_parse_port(void **state)
{
	uint16_t	p = 7;

	assert_int_equal(parse_port("0", 1, &p), 0);
	assert_int_equal(p, 0);
	assert_int_equal(parse_port("65535", 5, &p), 0);
	assert_int_equal(p, 65535);
	assert_int_equal(parse_port("00080", 5, &p), 0);
	assert_int_equal(p, 80);
	assert_int_equal(parse_port("443x", 3, &p), 0);	/* n bounds it */
	assert_int_equal(p, 443);
	assert_int_equal(parse_port("65536", 5, &p), -1);
	assert_int_equal(parse_port("000080", 6, &p), -1);
	assert_int_equal(parse_port("", 0, &p), -1);
	assert_int_equal(parse_port("-1", 2, &p), -1);
	assert_int_equal(parse_port("8 0", 3, &p), -1);
	assert_int_equal(p, 443);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_overflow_is_fatal),
		cmocka_unit_test(test_zero_sizes),
		cmocka_unit_test(test_strings),
		cmocka_unit_test(test_parse_port),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
