/* http1.c -- strict HTTP/1.1 request-head parser (RFC 9112), no sockets inside. */
#include "wsb_autoconf.h"

#include <string.h>
#include <sys/types.h>

#include "http1.h"
#include "util.h"

/*
 * Empty lines a client may send before the request line (RFC 9112 2.2 says
 * SHOULD ignore "at least one"). A few tolerate old clients that terminate a
 * POST body with an extra CRLF; more than that is a peer streaming newlines
 * to keep a slot busy.
 */
#define HTTP1_MAX_LEADING_EMPTY	4

/* RFC 9110 5.6.2 tchar. */
static int
http1_is_tchar(unsigned char c)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9'))
		return (1);
	return (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

/* Control characters other than HTAB: never valid anywhere in a head. */
static int
http1_is_ctl(unsigned char c)
{
	return ((c < 0x20 && c != '\t') || c == 0x7f);
}

static int
http1_is_ows(char c)
{
	return (c == ' ' || c == '\t');
}

/*
 * Checks the bytes of one line, buf[0..n), for control characters (bare CR
 * and NUL included). When complete is 0 the line has no end yet, and a CR as
 * its last byte may still be the first half of a CRLF. Every byte-level
 * rejection goes through here, before any line is interpreted, so a head fed
 * in pieces fails with the same status as the whole head would: 400.
 */
static int
http1_check_bytes(const char *buf, size_t n, int complete)
{
	size_t	i;

	for (i = 0; i < n; i++) {
		if (!http1_is_ctl((unsigned char)buf[i]))
			continue;
		if (!complete && buf[i] == '\r' && i == n - 1)
			continue;
		return (-1);
	}
	return (0);
}

/*
 * Parses "METHOD SP request-target SP HTTP/x.y" from a line without its line
 * end. Returns 0, -400 or -505.
 */
static int
http1_parse_request_line(const char *line, size_t n, struct http1_request *req)
{
	size_t	i, start;

	for (i = 0; i < n && http1_is_tchar((unsigned char)line[i]); i++)
		;
	if (i == 0 || i == n || line[i] != ' ')
		return (-400);
	req->method = line;
	req->method_len = i;

	/*
	 * The target is a URI: ASCII without whitespace or controls (RFC 3986).
	 * Bytes from 0x7f up are refused too; clients percent-encode them.
	 */
	start = ++i;
	while (i < n && (unsigned char)line[i] > 0x20 &&
	    (unsigned char)line[i] < 0x7f)
		i++;
	if (i == start || i == n || line[i] != ' ')
		return (-400);
	req->target = line + start;
	req->target_len = i - start;

	/* HTTP-version = "HTTP" "/" DIGIT "." DIGIT, case-sensitive. */
	start = ++i;
	if (n - start != 8 || memcmp(line + start, "HTTP/", 5) != 0 ||
	    line[start + 5] < '0' || line[start + 5] > '9' ||
	    line[start + 6] != '.' ||
	    line[start + 7] < '0' || line[start + 7] > '9')
		return (-400);
	req->version_major = line[start + 5] - '0';
	req->version_minor = line[start + 7] - '0';
	if (req->version_major != 1)
		return (-505);
	return (0);
}

/*
 * Parses "name: value" from a line without its line end into h. Returns 0 or
 * -400.
 */
static int
http1_parse_header(const char *line, size_t n, struct http1_header *h)
{
	size_t	i, end;

	/*
	 * obs-fold (a line starting with whitespace) and whitespace before the
	 * colon are rejected outright: proxies that disagree on them are how
	 * requests get smuggled (RFC 9112 5.1, 5.2).
	 */
	for (i = 0; i < n && http1_is_tchar((unsigned char)line[i]); i++)
		;
	if (i == 0 || i == n || line[i] != ':')
		return (-400);
	h->name = line;
	h->name_len = i;

	i++;
	while (i < n && http1_is_ows(line[i]))
		i++;
	end = n;
	while (end > i && http1_is_ows(line[end - 1]))
		end--;
	h->value = line + i;
	h->value_len = end - i;
	return (0);
}

ssize_t
http1_parse_request(const char *buf, size_t len, size_t max_head,
    struct http1_request *req)
{
	const char	*lf;
	size_t		 scan, p, n, next;
	int		 empty = 0, have_request_line = 0, r;

	memset(req, 0, sizeof *req);

	/*
	 * Never look past max_head: the work per call is bounded by the limit,
	 * not by what the peer has sent, and a head that does not end inside
	 * it is too large whatever follows.
	 */
	scan = MIN(len, max_head);
	for (p = 0; p < scan; p = next) {
		lf = memchr(buf + p, '\n', scan - p);
		if (lf == NULL) {
			if (http1_check_bytes(buf + p, scan - p, 0) != 0)
				return (-400);
			break;
		}
		next = (size_t)(lf - buf) + 1;
		n = (size_t)(lf - buf) - p;
		if (n > 0 && buf[p + n - 1] == '\r')
			n--;
		if (http1_check_bytes(buf + p, n, 1) != 0)
			return (-400);

		if (!have_request_line) {
			if (n == 0) {
				if (++empty > HTTP1_MAX_LEADING_EMPTY)
					return (-400);
				continue;
			}
			if ((r = http1_parse_request_line(buf + p, n, req)) != 0)
				return (r);
			have_request_line = 1;
			continue;
		}
		if (n == 0)
			return ((ssize_t)next);
		if (req->nheaders == HTTP1_MAX_HEADERS)
			return (-431);
		if (http1_parse_header(buf + p, n,
		    &req->headers[req->nheaders]) != 0)
			return (-400);
		req->nheaders++;
	}
	if (len >= max_head)
		return (-431);
	return (0);
}

const struct http1_header *
http1_find(const struct http1_request *req, const char *name)
{
	size_t	i;

	for (i = 0; i < req->nheaders; i++) {
		if (strncaseeq(req->headers[i].name, req->headers[i].name_len,
		    name))
			return (&req->headers[i]);
	}
	return (NULL);
}

size_t
http1_count(const struct http1_request *req, const char *name)
{
	size_t	i, count = 0;

	for (i = 0; i < req->nheaders; i++) {
		if (strncaseeq(req->headers[i].name, req->headers[i].name_len,
		    name))
			count++;
	}
	return (count);
}

/* Returns 1 if the list v[0..n) holds token, compared case-insensitively. */
static int
http1_list_has(const char *v, size_t n, const char *token)
{
	size_t	start, end, i = 0;

	while (i < n) {
		while (i < n && (http1_is_ows(v[i]) || v[i] == ','))
			i++;
		start = i;
		while (i < n && v[i] != ',')
			i++;
		end = i;
		while (end > start && http1_is_ows(v[end - 1]))
			end--;
		if (end > start && strncaseeq(v + start, end - start, token))
			return (1);
	}
	return (0);
}

int
http1_has_token(const struct http1_request *req, const char *name,
    const char *token)
{
	const struct http1_header	*h;
	size_t				 i;

	for (i = 0; i < req->nheaders; i++) {
		h = &req->headers[i];
		if (!strncaseeq(h->name, h->name_len, name))
			continue;
		if (http1_list_has(h->value, h->value_len, token))
			return (1);
	}
	return (0);
}

const char *
http1_reason(int status)
{
	static const struct {
		int		 status;
		const char	*reason;
	} reasons[] = {
		{ 101, "Switching Protocols" },
		{ 200, "OK" },
		{ 204, "No Content" },
		{ 301, "Moved Permanently" },
		{ 302, "Found" },
		{ 304, "Not Modified" },
		{ 400, "Bad Request" },
		{ 401, "Unauthorized" },
		{ 403, "Forbidden" },
		{ 404, "Not Found" },
		{ 405, "Method Not Allowed" },
		{ 408, "Request Timeout" },
		{ 413, "Content Too Large" },
		{ 414, "URI Too Long" },
		{ 426, "Upgrade Required" },
		{ 429, "Too Many Requests" },
		{ 431, "Request Header Fields Too Large" },
		{ 500, "Internal Server Error" },
		{ 501, "Not Implemented" },
		{ 502, "Bad Gateway" },
		{ 503, "Service Unavailable" },
		{ 504, "Gateway Timeout" },
		{ 505, "HTTP Version Not Supported" },
	};
	size_t	i;

	for (i = 0; i < nitems(reasons); i++) {
		if (reasons[i].status == status)
			return (reasons[i].reason);
	}
	return ("Unknown");
}
