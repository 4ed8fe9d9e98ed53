/* http1.h -- strict HTTP/1.1 request-head parser (RFC 9112), no sockets inside. */
#ifndef HTTP1_H
#define HTTP1_H

#include <stddef.h>
#include <sys/types.h>

#define HTTP1_MAX_HEADERS	64	/* more header lines than this: 431 */

struct http1_header {
	const char	*name;
	size_t		 name_len;
	const char	*value;		/* leading/trailing whitespace trimmed */
	size_t		 value_len;
};

/* A parsed request head. All pointers borrow the buffer given to the parser. */
struct http1_request {
	const char		*method;
	size_t			 method_len;
	const char		*target;	/* request-target as sent */
	size_t			 target_len;
	int			 version_major;
	int			 version_minor;
	struct http1_header	 headers[HTTP1_MAX_HEADERS];
	size_t			 nheaders;
};

/*
 * Parses a request head from buf[0..len) (not NUL-terminated). Returns the
 * length of the head including its closing empty line when the head is
 * complete and valid; 0 when more bytes are needed (and len < max_head); or a
 * negative HTTP status on error: -431 when the head exceeds max_head bytes or
 * HTTP1_MAX_HEADERS lines, -505 for an HTTP major version other than 1, -400
 * for anything malformed (bad request line, bare CR, obsolete line folding,
 * whitespace before a colon, invalid token or field characters). Lines end in
 * CRLF; a bare LF is accepted as a line end (RFC 9112 2.2). Stateless: call
 * again on the whole buffer when more bytes arrive.
 */
ssize_t	http1_parse_request(const char *buf, size_t len, size_t max_head,
	    struct http1_request *req);

/* Returns the first header named name (case-insensitive), or NULL. */
const struct http1_header *http1_find(const struct http1_request *req,
	    const char *name);

/* Returns how many headers are named name (case-insensitive). */
size_t	http1_count(const struct http1_request *req, const char *name);

/*
 * Returns 1 if any header named name holds token in its comma-separated list
 * (both compared case-insensitively, surrounding whitespace ignored), else 0.
 */
int	http1_has_token(const struct http1_request *req, const char *name,
	    const char *token);

/* Returns the standard reason phrase for an HTTP status ("Bad Request"). */
const char *http1_reason(int status);

#endif
