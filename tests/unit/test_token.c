/* test_token.c -- token file lines, the token in a query or Host, redaction, and the file sources as websockify reads them. */
#include "wsb_autoconf.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "token.h"
#include "util.h"

/* Parses line; checks the result, and tok and spec when it is 1. */
static void
line_is(const char *line, int want, const char *wtok, const char *wspec)
{
	char	*tok, *spec;
	int	 rc;

	rc = token_parse_line(line, &tok, &spec);
	if (rc != want)
		fail_msg("\"%s\": got %d, want %d", line, rc, want);
	if (rc == 1) {
		assert_string_equal(tok, wtok);
		assert_string_equal(spec, wspec);
	} else {
		assert_null(tok);
		assert_null(spec);
	}
	free(tok);
	free(spec);
}

static void
test_parse_line(void **state)
{
	(void)state;
	line_is("vm1: 10.0.0.1:5901\n", 1, "vm1", "10.0.0.1:5901");
	line_is("vm1:\t10.0.0.1:5901", 1, "vm1", "10.0.0.1:5901");
	line_is("vm1:   host.example:5900  \r\n", 1, "vm1", "host.example:5900");
	/* Split at the first ':' followed by whitespace, as websockify. */
	line_is("a:b: h:1", 1, "a:b", "h:1");
	line_is("v6: ::1:5900", 1, "v6", "[::1]:5900");
	line_is("v6: [::1]:5900", 1, "v6", "[::1]:5900");
	line_is("s: unix_socket:/run/vnc.sock", 1, "s", "unix:/run/vnc.sock");
	line_is("# a comment: x:1", 0, NULL, NULL);
	line_is("", 0, NULL, NULL);
	line_is("   \n", 0, NULL, NULL);
	line_is("vm1:10.0.0.1:5901", -1, NULL, NULL);
	line_is("vm1: nocolon", -1, NULL, NULL);
}

static void
query_is(const char *query, const char *want)
{
	char	*got;

	got = token_from_query(query);
	if (want == NULL) {
		if (got != NULL)
			fail_msg("\"%s\": got \"%s\", want none",
			    query != NULL ? query : "(null)", got);
		return;
	}
	if (got == NULL)
		fail_msg("\"%s\": got none, want \"%s\"",
		    query != NULL ? query : "(null)", want);
	assert_string_equal(got, want);
	free(got);
}

static void
test_from_query(void **state)
{
	char	*h;

	(void)state;
	query_is(NULL, NULL);
	query_is("", NULL);
	query_is("token=abc", "abc");
	query_is("x=1&token=abc&token=def", "abc");
	query_is("token=&token=def", "def");	/* blank values dropped */
	query_is("token", NULL);
	query_is("tok%65n=a%2Fb+c", "a/b c");
	query_is("token=abc%0A%0A", "abc");
	query_is("token=%zz%4", "%zz%4");	/* bad escapes stay */
	query_is("token=a%00b", "");		/* never matches a token */
	query_is("other=token%3Dx", NULL);
	h = token_from_host("vm1.example:6080");
	assert_string_equal(h, "vm1.example");
	free(h);
	h = token_from_host("vm1.example");
	assert_string_equal(h, "vm1.example");
	free(h);
	assert_null(token_from_host(NULL));
}

static void
test_redact(void **state)
{
	char	buf[32];

	(void)state;
	assert_string_equal(token_redact("abcdefghijkl", buf, sizeof buf),
	    "abc...(12 chars)");
	assert_string_equal(token_redact("abcd", buf, sizeof buf),
	    "a...(4 chars)");
	assert_string_equal(token_redact("ab", buf, sizeof buf),
	    "...(2 chars)");
	assert_string_equal(token_redact("\x01\x7f" "cdefghi", buf,
	    sizeof buf), "??c...(9 chars)");
}

static void
mask_is(const char *query, const char *want)
{
	char	*q;

	q = xstrdup(query);
	token_mask_query(q);
	assert_string_equal(q, want);
	free(q);
}

static void
test_mask_query(void **state)
{
	(void)state;
	mask_is("token=abcdefghijkl", "token=abc*********");
	mask_is("a=1&token=abcd&b=2", "a=1&token=a***&b=2");
	mask_is("tok%65n=secret&token=", "tok%65n=se****&token=");
	mask_is("tokens=abcdef&x=token", "tokens=abcdef&x=token");
	mask_is("", "");
	token_mask_query(NULL);
}

static void
put(const char *dir, const char *name, const char *text)
{
	char	*path;
	FILE	*f;

	path = xasprintf("%s/%s", dir, name);
	assert_non_null(f = fopen(path, "w"));
	fputs(text, f);
	fclose(f);
	free(path);
}

static void
test_sources(void **state)
{
	struct token_source	*src, *ro, *fn;
	enum token_plugin	 p;
	char			 dir[] = "/tmp/wsb-tok-XXXXXX", *file, *cause;

	(void)state;
	assert_int_equal(token_plugin_parse("TokenFile", &p), 0);
	assert_int_equal(p, TOKEN_FILE);
	assert_int_equal(token_plugin_parse(
	    "websockify.token_plugins.ReadOnlyTokenFile", &p), 0);
	assert_int_equal(p, TOKEN_FILE_RO);
	assert_int_equal(token_plugin_parse("TokenRedis", &p), -1);
	assert_string_equal(token_plugin_name(TOKEN_FILENAME), "TokenFileName");

	assert_non_null(mkdtemp(dir));
	put(dir, "one", "a: h1:1\nb: h2:2\na: h3:3\nbad line\n");
	put(dir, "two", "c: unix_socket:/s\n");
	assert_non_null(src = token_source_new(TOKEN_FILE, dir, &cause));
	assert_non_null(ro = token_source_new(TOKEN_FILE_RO, dir, &cause));
	/* The last line of a token wins. */
	assert_string_equal(token_source_lookup(src, "a"), "h3:3");
	assert_string_equal(token_source_lookup(src, "c"), "unix:/s");
	assert_null(token_source_lookup(src, "d"));
	assert_string_equal(token_source_lookup(ro, "b"), "h2:2");
	put(dir, "three", "d: h4:4\n");
	assert_string_equal(token_source_lookup(src, "d"), "h4:4");
	assert_null(token_source_lookup(ro, "d"));
	file = xasprintf("%s/two", dir);
	unlink(file);
	free(file);
	assert_null(token_source_lookup(src, "c"));
	token_source_free(src);
	token_source_free(ro);

	assert_non_null(fn = token_source_new(TOKEN_FILENAME, dir, &cause));
	put(dir, "vm1", "10.1.1.1:5900\n");
	assert_string_equal(token_source_lookup(fn, "vm1"), "10.1.1.1:5900");
	assert_string_equal(token_source_lookup(fn, "../x/vm1"),
	    "10.1.1.1:5900");
	assert_null(token_source_lookup(fn, ".."));
	assert_null(token_source_lookup(fn, "nope"));
	token_source_free(fn);
	file = xasprintf("%s/one", dir);
	assert_null(token_source_new(TOKEN_FILENAME, file, &cause));
	assert_non_null(strstr(cause, "needs a directory"));
	free(cause);
	unlink(file);
	free(file);
	file = xasprintf("%s/three", dir);
	unlink(file);
	free(file);
	file = xasprintf("%s/vm1", dir);
	unlink(file);
	free(file);
	rmdir(dir);
	token_source_free(NULL);
}

/* UnixDomainSocketDirectory: sockets only, never outside the directory. */
static void
test_uds_dir(void **state)
{
	struct token_source	*src;
	struct sockaddr_un	 sun;
	char			 dir[] = "/tmp/wsb-uds-XXXXXX", *path, *want;
	char			*cause;
	int			 fd;

	(void)state;
	assert_non_null(mkdtemp(dir));
	path = xasprintf("%s/vm1", dir);
	memset(&sun, 0, sizeof sun);
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof sun.sun_path, "%s", path);
	assert_true((fd = socket(AF_UNIX, SOCK_STREAM, 0)) != -1);
	assert_int_equal(bind(fd, (struct sockaddr *)&sun, sizeof sun), 0);
	put(dir, "plain", "not a socket\n");
	assert_non_null(src = token_source_new(TOKEN_UDS_DIR, dir, &cause));
	want = xasprintf("unix:%s", path);
	assert_string_equal(token_source_lookup(src, "vm1"), want);
	assert_null(token_source_lookup(src, "plain"));
	assert_null(token_source_lookup(src, "nope"));
	assert_null(token_source_lookup(src, "../vm1"));
	assert_null(token_source_lookup(src, ".."));
	assert_null(token_source_lookup(src, ""));
	token_source_free(src);
	close(fd);
	unlink(path);
	free(path);
	free(want);
	path = xasprintf("%s/plain", dir);
	unlink(path);
	free(path);
	rmdir(dir);
}

/* Made with openssl and Python's hmac (see the commit); fixed, so the
 * checks do not depend on the clock: token_jwt_target() takes now. */
static const char jwt_rsa_pub[] =
	    "-----BEGIN PUBLIC KEY-----\n"
	    "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAm1V8H7D8eWta/tDceAdt\n"
	    "wNaKyoP9pOYWxsMe6O1F58uMcw0N1FyhYi5rqhhdpDyQ5ONT0VrqJgfdq0OZqj15\n"
	    "+W8CKDLa/KliOHqzYq4YMBpwZrRO/ksG3+xQVAgOZqB+kEY70w+svCYAWyRkWLXR\n"
	    "bfsusWrmbf8CeIgPMz1DjRokWg5dDcithItww1W9Co22ye+uTJaCTbGgPZRYXL3J\n"
	    "pLa4w/YlWfuVadYRQ6gvxZ6Oi066LoPeczIZzQZpRYBNppscilgh3IB8f1O4ZYHL\n"
	    "zZ8e1F42cYHRQtjsy0D6K27S4NA2LCUlFNhFxtHHqgFBJ10p/JeFkQv/snDXnD0m\n"
	    "UwIDAQAB\n"
	    "-----END PUBLIC KEY-----\n";
static const char jwt_ec_pub[] =
	    "-----BEGIN PUBLIC KEY-----\n"
	    "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEwqbQzVAflaNlNPPQT1g60LoH1nSE\n"
	    "klt8kQwEXvvnyh+zZO5oJNiiWvb+7Ah9pfZdB1NGuOC9eeSCINrChsrTmQ==\n"
	    "-----END PUBLIC KEY-----\n";
static const char jwt_hs[] =
	    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJob3N0IjoiMTAuMC4wLjU"
	    "iLCJwb3J0Ijo1OTAxLCJleHAiOjIwMDB9.ZcmV0xZPbPEy2OQGvyFofMNlQF"
	    "rFmuUYNx9lxxNSTdY";
static const char jwt_rs[] =
	    "eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.eyJob3N0Ijoidm5jLmV4YW1"
	    "wbGUiLCJwb3J0IjoiNTkwMiIsIm5iZiI6MTAwMH0.lCf7Q30_EESggGDP3h4"
	    "egeR46o8WBgMyVoSo8cr7tepXK1yh5SNNq1Z078-vaWiSdNvShijeJ0a62lU"
	    "dCrMb-9dh99mzkldo7jDl8YvEeyNcvLDAxsrWUoY_lQ7RYGEf7Dq0C8avy9f"
	    "lGrj5Fe6BR7AfY-4DkfpireXqFs5uEo-wZVcxQs7HA7PZ6eWCoSNSPDYZYU2"
	    "boqnXGL9oet1oreiWN4yUGpSHL3KjWtuQm4010IlGYxaOXmvkYmYPCM1A1Kv"
	    "3uLGNMkKscbXcPIceIJ2kiw58rMkH0Q74XdTR0w7lDnP-Ej-vuD2-4yORWcm"
	    "hD5yPxBMrf7v1XHntQJhtZA";
static const char jwt_es[] =
	    "eyJhbGciOiJFUzI1NiIsInR5cCI6IkpXVCJ9.eyJob3N0IjoiOjoxIiwicG9"
	    "ydCI6NTkwM30.nmzQjuNXNgDEmiWjf92Ej18ShwILLsB4eSVBF0k_2opd9-1"
	    "uE05XdP2SkX4Rrn57Purc3nM7Mfv6SJ5Ir4Zrow";
static const char jwt_esu[] =
	    "eyJhbGciOiJFUzI1NiIsInR5cCI6IkpXVCJ9.eyJob3N0IjoidW5peF9zb2N"
	    "rZXQiLCJwb3J0IjoiL3J1bi92bS5zb2NrIn0.6NkMVyZm7YblahM1UxhmPiS"
	    "eXQqhAR_PFHmzxHVpRQ2x7gPzrBuDqfgMJLl5xBOULwwYRkVuBWlA3mlp8Kz"
	    "gAA";
static const char jwt_none[] =
	    "eyJhbGciOiJub25lIn0.eyJob3N0IjoiaCIsInBvcnQiOjF9.";

/* Writes text to dir/name; returns the path (caller frees). */
static char *
jwt_keyfile(const char *dir, const char *name, const char *text)
{
	put(dir, name, text);
	return (xasprintf("%s/%s", dir, name));
}

/* Checks one lookup: the spec, or NULL with status. */
static void
jwt_is(const struct token_jwt_key *k, const char *jwt, time_t now,
    const char *want, int wstatus)
{
	const char	*why = NULL;
	char		*got;
	int		 status = -1;

	got = token_jwt_target(k, jwt, now, &status, &why);
	if (want != NULL) {
		if (got == NULL)
			fail_msg("%.20s...: refused (%d %s)", jwt, status,
			    why != NULL ? why : "-");
		assert_string_equal(got, want);
	} else {
		if (got != NULL)
			fail_msg("%.20s...: accepted as %s", jwt, got);
		assert_int_equal(status, wstatus);
		assert_non_null(why);
	}
	free(got);
}

static void
test_jwt(void **state)
{
	struct token_jwt_key	*hs, *rs, *es;
	char			 dir[] = "/tmp/wsb-jwt-XXXXXX", *f[5], *cause;
	char			 bad[sizeof jwt_hs];
	size_t			 i;

	(void)state;
	assert_non_null(mkdtemp(dir));
	f[0] = jwt_keyfile(dir, "hs.key", "secret_sauce\n");
	f[1] = jwt_keyfile(dir, "rsa.pub", jwt_rsa_pub);
	f[2] = jwt_keyfile(dir, "ec.pub", jwt_ec_pub);
	f[3] = jwt_keyfile(dir, "bad.key", "not base64url!\n");
	f[4] = jwt_keyfile(dir, "empty.key", "");
	assert_non_null(hs = token_jwt_key_load(f[0], &cause));
	assert_non_null(rs = token_jwt_key_load(f[1], &cause));
	assert_non_null(es = token_jwt_key_load(f[2], &cause));
	assert_null(token_jwt_key_load(f[3], &cause));
	assert_non_null(strstr(cause, "not a PEM public key nor"));
	free(cause);
	assert_null(token_jwt_key_load(f[4], &cause));
	free(cause);

	jwt_is(hs, jwt_hs, 1500, "10.0.0.5:5901", 0);
	jwt_is(hs, jwt_hs, 2500, NULL, 404);		/* exp */
	jwt_is(rs, jwt_rs, 1500, "vnc.example:5902", 0);
	jwt_is(rs, jwt_rs, 500, NULL, 404);		/* nbf */
	jwt_is(es, jwt_es, 0, "[::1]:5903", 0);
	jwt_is(es, jwt_esu, 0, "unix:/run/vm.sock", 0);
	/* A key of another kind, "none", a changed signature: 403. */
	jwt_is(rs, jwt_hs, 1500, NULL, 403);
	jwt_is(hs, jwt_rs, 1500, NULL, 403);
	jwt_is(rs, jwt_es, 0, NULL, 403);
	jwt_is(es, jwt_rs, 1500, NULL, 403);
	jwt_is(hs, jwt_none, 0, NULL, 403);
	memcpy(bad, jwt_hs, sizeof bad);
	bad[sizeof bad - 3] = bad[sizeof bad - 3] == 'A' ? 'B' : 'A';
	jwt_is(hs, bad, 1500, NULL, 403);
	/* Not JWS: 404. */
	jwt_is(hs, "abc", 0, NULL, 404);
	jwt_is(hs, "a.b", 0, NULL, 404);
	jwt_is(hs, "a.b.c.d.e", 0, NULL, 404);
	jwt_is(hs, "!!.!!.!!", 0, NULL, 404);

	token_jwt_key_free(hs);
	token_jwt_key_free(rs);
	token_jwt_key_free(es);
	token_jwt_key_free(NULL);
	for (i = 0; i < nitems(f); i++) {
		unlink(f[i]);
		free(f[i]);
	}
	rmdir(dir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_line),
		cmocka_unit_test(test_from_query),
		cmocka_unit_test(test_redact),
		cmocka_unit_test(test_mask_query),
		cmocka_unit_test(test_uds_dir),
		cmocka_unit_test(test_jwt),
		cmocka_unit_test(test_sources),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
