/*
 * webreq.h -- the byte-level rules of serving static files over HTTP: a
 * request target to a path under the web root (no escape), MIME types,
 * validators (ETag, HTTP dates) and the conditional-request check (RFC
 * 9110 13). No sockets, no file system, no config.
 */
#ifndef WEBREQ_H
#define WEBREQ_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define WEBREQ_PATH_MAX		1024	/* decoded path; longer: 414 */
#define WEBREQ_ETAG_MAX		64
#define WEBREQ_DATE_LEN		29	/* "Sun, 06 Nov 1994 08:49:37 GMT" */

/*
 * Turns the request target tgt[0..len) (origin-form: "/path?query") into
 * the path it names under the web root: percent-decoded, without the
 * leading '/' ("" for the root itself) and without a trailing '/', which
 * sets *slash instead. The query is ignored. Returns 0, or the status to
 * answer: 400 for a target that is not origin-form or a malformed %-escape,
 * 403 for anything that could name a file outside the root or another file
 * than it seems to (a "." or ".." segment, encoded '/', '\\' raw or encoded,
 * NUL or another control character), 414 when the decoded path does not fit
 * out (outlen bytes, NUL included).
 */
int	webreq_path(const char *tgt, size_t len, char *out, size_t outlen,
	    int *slash);

/*
 * The Content-Type for a file name, by its extension (case-insensitive),
 * from a built-in table of the types a web page uses; NULL when the
 * extension is not in it.
 */
const char *webreq_mime(const char *name);

/*
 * A strong ETag (quotes included) for a file's identity and version:
 * inode, size and modification time to the nanosecond.
 */
void	webreq_etag(char *buf, size_t len, uint64_t ino, uint64_t size,
	    int64_t mtime_sec, long mtime_nsec);

/* Formats t as an IMF-fixdate (RFC 9110 5.6.7) into buf[WEBREQ_DATE_LEN+1]. */
void	webreq_date(time_t t, char *buf);

/*
 * Parses an HTTP date s[0..len) (IMF-fixdate, RFC 850 or asctime form).
 * Returns 0 with *t set, or -1.
 */
int	webreq_date_parse(const char *s, size_t len, time_t *t);

/*
 * Whether a GET or HEAD with these validators (If-None-Match inm[0..inm_len)
 * and If-Modified-Since ims[0..ims_len), each NULL when absent) may be
 * answered 304 for a file with etag and modification time mtime: the ETag
 * list decides when present (weak comparison, "*" matches), else the date.
 */
int	webreq_not_modified(const char *inm, size_t inm_len, const char *ims,
	    size_t ims_len, const char *etag, time_t mtime);

#endif
