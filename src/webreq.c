/*
 * webreq.c -- the byte-level rules of serving static files: request
 * target to a path that cannot leave the web root, MIME types by
 * extension, ETag and HTTP-date validators, the 304 decision.
 */
#include "wsb_autoconf.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "util.h"
#include "webreq.h"

int
webreq_path(const char *tgt, size_t len, char *out, size_t outlen, int *slash)
{
	size_t	i, n = 0, seg = 0;
	int	hi, lo;
	char	c;

	*slash = 0;
	if (len == 0 || tgt[0] != '/' || outlen == 0)
		return (400);
	for (i = 1; i < len && tgt[i] != '?'; i++) {
		c = tgt[i];
		if (c == '#')
			return (400);
		if (c == '\\')
			return (403);	/* a separator somewhere else */
		if (c == '%') {
			if (i + 2 >= len)
				return (400);
			if ((hi = hexval(tgt[i + 1])) == -1 ||
			    (lo = hexval(tgt[i + 2])) == -1)
				return (400);
			c = (char)(hi << 4 | lo);
			i += 2;
			/*
			 * An encoded separator or NUL names something the
			 * decoded path would not: never a file.
			 */
			if (c == '/' || c == '\\' || c == '\0')
				return (403);
		}
		if ((unsigned char)c < 0x20 || c == 0x7f)
			return (403);
		if (c == '/') {
			/* The segment just ended: "." and ".." never pass. */
			if ((n - seg == 1 && out[seg] == '.') ||
			    (n - seg == 2 && out[seg] == '.' &&
			    out[seg + 1] == '.'))
				return (403);
			if (n == seg)	/* "//": an empty segment, skipped */
				continue;
		}
		if (n + 1 >= outlen)
			return (414);
		out[n++] = c;
		if (c == '/')
			seg = n;
	}
	/* The last segment. */
	if ((n - seg == 1 && out[seg] == '.') ||
	    (n - seg == 2 && out[seg] == '.' && out[seg + 1] == '.'))
		return (403);
	if (n > 0 && n == seg) {
		n--;		/* "a/b/": a directory */
		*slash = 1;
	} else if (n == 0)
		*slash = 1;	/* "/": the root */
	out[n] = '\0';
	return (0);
}

/*
 * What a web page loads. A module script needs a JavaScript type (browsers
 * refuse others), so .js and .mjs must be right; the rest follow the IANA
 * registrations the browsers use.
 */
static const struct {
	const char	*ext;
	const char	*type;
} webreq_types[] = {
	{ "html", "text/html" },
	{ "htm", "text/html" },
	{ "css", "text/css" },
	{ "js", "text/javascript" },
	{ "mjs", "text/javascript" },
	{ "json", "application/json" },
	{ "map", "application/json" },
	{ "webmanifest", "application/manifest+json" },
	{ "txt", "text/plain" },
	{ "xml", "application/xml" },
	{ "svg", "image/svg+xml" },
	{ "png", "image/png" },
	{ "jpg", "image/jpeg" },
	{ "jpeg", "image/jpeg" },
	{ "gif", "image/gif" },
	{ "ico", "image/vnd.microsoft.icon" },
	{ "webp", "image/webp" },
	{ "avif", "image/avif" },
	{ "bmp", "image/bmp" },
	{ "woff", "font/woff" },
	{ "woff2", "font/woff2" },
	{ "ttf", "font/ttf" },
	{ "otf", "font/otf" },
	{ "wasm", "application/wasm" },
	{ "mp3", "audio/mpeg" },
	{ "oga", "audio/ogg" },
	{ "ogg", "audio/ogg" },
	{ "wav", "audio/wav" },
	{ "mp4", "video/mp4" },
	{ "webm", "video/webm" },
	{ "pdf", "application/pdf" },
	{ "zip", "application/zip" },
};

const char *
webreq_mime(const char *name)
{
	const char	*dot, *base;
	size_t		 i;

	base = strrchr(name, '/');
	base = base != NULL ? base + 1 : name;
	if ((dot = strrchr(base, '.')) == NULL || dot == base)
		return (NULL);
	for (i = 0; i < nitems(webreq_types); i++) {
		if (strcasecmp(dot + 1, webreq_types[i].ext) == 0)
			return (webreq_types[i].type);
	}
	return (NULL);
}

void
webreq_etag(char *buf, size_t len, uint64_t ino, uint64_t size,
    int64_t mtime_sec, long mtime_nsec)
{
	snprintf(buf, len, "\"%llx-%llx-%llx.%lx\"", (unsigned long long)ino,
	    (unsigned long long)size, (unsigned long long)mtime_sec,
	    (unsigned long)mtime_nsec);
}

void
webreq_date(time_t t, char *buf)
{
	struct tm	tm;

	if (gmtime_r(&t, &tm) == NULL ||
	    strftime(buf, WEBREQ_DATE_LEN + 1, "%a, %d %b %Y %H:%M:%S GMT",
	    &tm) == 0)
		snprintf(buf, WEBREQ_DATE_LEN + 1, "%s",
		    "Thu, 01 Jan 1970 00:00:00 GMT");
}

int
webreq_date_parse(const char *s, size_t len, time_t *t)
{
	static const char *const forms[] = {
		"%a, %d %b %Y %H:%M:%S GMT",	/* IMF-fixdate */
		"%A, %d-%b-%y %H:%M:%S GMT",	/* RFC 850 */
		"%a %b %e %H:%M:%S %Y",		/* asctime */
	};
	struct tm	 tm;
	char		 buf[64];
	const char	*end;
	size_t		 i;

	if (len >= sizeof buf)
		return (-1);
	memcpy(buf, s, len);
	buf[len] = '\0';
	for (i = 0; i < nitems(forms); i++) {
		memset(&tm, 0, sizeof tm);
		if ((end = strptime(buf, forms[i], &tm)) == NULL ||
		    *end != '\0')
			continue;
		if ((*t = timegm(&tm)) == (time_t)-1)
			return (-1);
		return (0);
	}
	return (-1);
}

/* Whether the If-None-Match list holds etag (weak comparison) or "*". */
static int
webreq_etag_listed(const char *p, size_t len, const char *etag)
{
	const char	*end = p + len, *q, *tag;
	size_t		 elen;

	/* Compare the opaque tags: etag is always strong ("..."). */
	tag = etag;
	elen = strlen(etag);
	while (p < end) {
		while (p < end && (*p == ' ' || *p == '\t' || *p == ','))
			p++;
		if (p == end)
			break;
		if (*p == '*')
			return (1);
		if (end - p >= 2 && p[0] == 'W' && p[1] == '/')
			p += 2;
		if (p == end || *p != '"')
			return (0);	/* malformed: no match */
		if ((q = memchr(p + 1, '"', (size_t)(end - p - 1))) == NULL)
			return (0);
		if ((size_t)(q + 1 - p) == elen && memcmp(p, tag, elen) == 0)
			return (1);
		p = q + 1;
	}
	return (0);
}

int
webreq_not_modified(const char *inm, size_t inm_len, const char *ims,
    size_t ims_len, const char *etag, time_t mtime)
{
	time_t	since;

	/* RFC 9110 13.1.3: If-Modified-Since only without If-None-Match. */
	if (inm != NULL)
		return (webreq_etag_listed(inm, inm_len, etag));
	if (ims != NULL && webreq_date_parse(ims, ims_len, &since) == 0)
		return (mtime <= since);
	return (0);
}
