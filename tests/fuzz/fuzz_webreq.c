/*
 * fuzz_webreq.c -- libFuzzer target for the static-file request rules: a
 * target that webreq_path() accepts names a path that cannot leave the web
 * root, and the date and ETag-list parsers take any bytes.
 */
#include "wsb_autoconf.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "webreq.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* Properties, not input checks: a failure here is a parser bug. */
#define fuzz_assert(x)	do { if (!(x)) abort(); } while (0)

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	const char	*tgt = (const char *)data;
	char		 out[WEBREQ_PATH_MAX], seg[WEBREQ_PATH_MAX];
	const char	*p, *slash;
	time_t		 t;
	size_t		 n;
	int		 dir;

	if (webreq_path(tgt, len, out, sizeof out, &dir) == 0) {
		n = strlen(out);
		fuzz_assert(n < sizeof out);
		fuzz_assert(n == 0 || (out[0] != '/' && out[n - 1] != '/'));
		fuzz_assert(strchr(out, '\\') == NULL);
		for (p = out; *p != '\0'; p++)
			fuzz_assert((unsigned char)*p >= 0x20 && *p != 0x7f);
		/* No segment is empty, "." or "..". */
		for (p = out; n > 0; p = slash + 1) {
			slash = strchr(p, '/');
			n = slash != NULL ? (size_t)(slash - p) : strlen(p);
			memcpy(seg, p, n);
			seg[n] = '\0';
			fuzz_assert(n > 0 || out[0] == '\0');
			fuzz_assert(strcmp(seg, ".") != 0 &&
			    strcmp(seg, "..") != 0);
			if (slash == NULL)
				break;
		}
	}
	(void)webreq_date_parse(tgt, len, &t);
	(void)webreq_not_modified(tgt, len, NULL, 0, "\"1-2-3.4\"", 0);
	(void)webreq_mime(len > 0 && memchr(tgt, '\0', len) != NULL ? tgt :
	    "x.html");
	return (0);
}
