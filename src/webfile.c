/*
 * webfile.c -- static files under a web root: the open that cannot leave
 * the root, the reply a GET or HEAD gets, and its body added to an output
 * buffer piece by piece (file segments: sendfile on a plain socket).
 */
#include "wsb_autoconf.h"

#include <sys/stat.h>
#include <sys/syscall.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#ifdef HAVE_LINUX_OPENAT2_H
#include <linux/openat2.h>
#endif

#include <event2/buffer.h>

#include "http1.h"
#include "log.h"
#include "util.h"
#include "webfile.h"
#include "webreq.h"

/* Flags for a file to send: never a controlling tty, never a FIFO wait. */
#define WEBFILE_OPEN	(O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK)
/*
 * Names a listing shows at most: it is read on the event loop, and its
 * page is held in memory until sent.
 */
#define WEBFILE_LIST_MAX	10000

/*
 * Opens rel (no "." or ".." segment, no empty one) beneath dirfd without
 * following a symlink anywhere: each directory with O_NOFOLLOW, so a
 * symlink in the path is ELOOP or ENOTDIR. Returns an fd or -1 (errno).
 */
static int
webfile_walk(int dirfd, const char *rel, int flags)
{
	const char	*p = rel, *slash;
	char		 comp[WEBREQ_PATH_MAX];
	int		 fd, next, saved;

	if ((fd = dup(dirfd)) == -1)
		return (-1);
	while ((slash = strchr(p, '/')) != NULL) {
		if ((size_t)(slash - p) >= sizeof comp) {
			close(fd);
			errno = ENAMETOOLONG;
			return (-1);
		}
		memcpy(comp, p, (size_t)(slash - p));
		comp[slash - p] = '\0';
		next = openat(fd, comp, O_PATH | O_DIRECTORY | O_NOFOLLOW |
		    O_CLOEXEC);
		saved = errno;
		close(fd);
		if ((fd = next) == -1) {
			errno = saved;
			return (-1);
		}
		p = slash + 1;
	}
	next = openat(fd, *p != '\0' ? p : ".", flags | O_NOFOLLOW);
	saved = errno;
	close(fd);
	errno = saved;
	return (next);
}

/*
 * Opens rel beneath dirfd: openat2 with RESOLVE_BENEATH, so a symlink may
 * point anywhere inside the root but never out of it (EXDEV), else
 * webfile_walk(). Returns an fd or -1 (errno).
 */
static int
webfile_open_beneath(int dirfd, const char *rel, int flags)
{
#if defined(HAVE_LINUX_OPENAT2_H) && defined(SYS_openat2)
	struct open_how	how;
	long		fd;

	memset(&how, 0, sizeof how);
	how.flags = (uint64_t)flags;
	how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
	fd = syscall(SYS_openat2, dirfd, *rel != '\0' ? rel : ".", &how,
	    sizeof how);
	/* An older kernel (or a filter) without it: the strict walk. */
	if (fd != -1 || errno != ENOSYS)
		return ((int)fd);
#endif
	return (webfile_walk(dirfd, rel, flags));
}

/* s HTML-escaped into out. */
static void
webfile_html(struct evbuffer *out, const char *s)
{
	for (; *s != '\0'; s++) {
		switch (*s) {
		case '&':
			evbuffer_add(out, "&amp;", 5);
			break;
		case '<':
			evbuffer_add(out, "&lt;", 4);
			break;
		case '>':
			evbuffer_add(out, "&gt;", 4);
			break;
		case '"':
			evbuffer_add(out, "&quot;", 6);
			break;
		case '\'':
			evbuffer_add(out, "&#39;", 5);
			break;
		default:
			evbuffer_add(out, s, 1);
			break;
		}
	}
}

/* s[0..n) percent-encoded into out, but for RFC 3986 unreserved bytes. */
static void
webfile_urlenc(struct evbuffer *out, const char *s, size_t n)
{
	unsigned char	c;

	for (; n > 0; s++, n--) {
		c = (unsigned char)*s;
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '-' || c == '.' ||
		    c == '_' || c == '~')
			evbuffer_add(out, s, 1);
		else
			evbuffer_add_printf(out, "%%%02X", c);
	}
}

static int
webfile_namecmp(const void *a, const void *b)
{
	return (strcmp(*(char *const *)a, *(char *const *)b));
}

/*
 * The directory rel beneath rootfd as an HTML page of links, names sorted,
 * a directory's with its '/'; names starting with '.' are left out (they
 * are still served when asked for). Returns 0 with r->body set, or -1.
 */
static int
webfile_list(int rootfd, const char *rel, struct webfile_reply *r)
{
	struct dirent	 *de;
	DIR		 *d;
	char		**names = NULL;
	size_t		  n = 0, i, len;
	int		  fd;

	if ((fd = webfile_open_beneath(rootfd, rel, O_RDONLY | O_DIRECTORY |
	    O_CLOEXEC)) == -1)
		return (-1);
	if ((d = fdopendir(fd)) == NULL) {
		close(fd);
		return (-1);
	}
	while (n < WEBFILE_LIST_MAX && (de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		names = xreallocarray(names, n + 1, sizeof *names);
		names[n++] = xasprintf("%s%s", de->d_name,
		    de->d_type == DT_DIR ? "/" : "");
	}
	closedir(d);
	qsort(names, n, sizeof *names, webfile_namecmp);
	if ((r->body = evbuffer_new()) == NULL)
		fatalx("out of memory");
	evbuffer_add_printf(r->body, "<!DOCTYPE html>\n<html><head>"
	    "<meta charset=\"utf-8\"><title>Index of /");
	webfile_html(r->body, rel);
	evbuffer_add_printf(r->body, "%s</title></head>\n<body><h1>Index of /",
	    rel[0] != '\0' ? "/" : "");
	webfile_html(r->body, rel);
	evbuffer_add_printf(r->body, "%s</h1>\n<ul>\n",
	    rel[0] != '\0' ? "/" : "");
	for (i = 0; i < n; i++) {
		/* A directory's '/' stays a separator, never %2F. */
		len = strlen(names[i]);
		if (names[i][len - 1] == '/')
			len--;
		evbuffer_add_printf(r->body, "<li><a href=\"");
		webfile_urlenc(r->body, names[i], len);
		evbuffer_add_printf(r->body, "%s\">", names[i][len] == '/' ?
		    "/" : "");
		webfile_html(r->body, names[i]);
		evbuffer_add_printf(r->body, "</a></li>\n");
		free(names[i]);
	}
	free(names);
	evbuffer_add_printf(r->body, "</ul></body></html>\n");
	r->size = evbuffer_get_length(r->body);
	r->mime = "text/html; charset=utf-8";
	r->status = 200;
	return (0);
}

static void
webfile_fail(struct webfile_reply *r, int status, const char *why)
{
	r->status = status;
	r->why = why;
}

/* The 301 for a directory named without its '/': the same target with it. */
static void
webfile_redirect(struct webfile_reply *r, const struct webfile_req *rq)
{
	const char	*t = rq->target, *q;
	size_t		 len = rq->target_len, plen;

	/* "//host" would be another site's address (an open redirect). */
	while (len > 1 && t[0] == '/' && t[1] == '/') {
		t++;
		len--;
	}
	q = memchr(t, '?', len);
	plen = q != NULL ? (size_t)(q - t) : len;
	r->location = xasprintf("%.*s/%.*s", (int)plen, t,
	    (int)(len - plen), t + plen);
	r->status = 301;
	r->why = "a directory: its address ends in /";
}

void
webfile_serve(const char *root, int listing, const struct webfile_req *rq,
    struct webfile_reply *r)
{
	struct stat	 sb;
	char		 rel[WEBREQ_PATH_MAX + sizeof "/index.html"];
	const char	*mime;
	int		 rootfd, fd = -1, slash, status;

	memset(r, 0, sizeof *r);
	r->fd = -1;
	r->head = rq->method_len == 4 && memcmp(rq->method, "HEAD", 4) == 0;
	if (!r->head && !(rq->method_len == 3 &&
	    memcmp(rq->method, "GET", 3) == 0)) {
		webfile_fail(r, 405, "only GET and HEAD for files");
		return;
	}
	if ((status = webreq_path(rq->target, rq->target_len, r->path,
	    sizeof r->path, &slash)) != 0) {
		webfile_fail(r, status, status == 403 ? "path not allowed" :
		    status == 414 ? "path too long" : "bad request target");
		return;
	}
	if ((rootfd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC)) == -1) {
		log_warn("web root %s: %s", root, strerror(errno));
		webfile_fail(r, 500, "web root unavailable");
		return;
	}
	snprintf(rel, sizeof rel, "%s", r->path);
	fd = webfile_open_beneath(rootfd, rel, WEBFILE_OPEN);
	if (fd != -1 && fstat(fd, &sb) == 0 && S_ISDIR(sb.st_mode)) {
		close(fd);
		fd = -1;
		if (!slash) {
			close(rootfd);
			webfile_redirect(r, rq);
			return;
		}
		snprintf(rel, sizeof rel, "%s%sindex.html", r->path,
		    r->path[0] != '\0' ? "/" : "");
		fd = webfile_open_beneath(rootfd, rel, WEBFILE_OPEN);
		if (fd == -1 && errno == ENOENT && listing) {
			if (webfile_list(rootfd, r->path, r) == -1)
				webfile_fail(r, 404, "cannot list");
			close(rootfd);
			return;
		}
	} else if (fd != -1 && slash) {
		/* "file.html/": no directory by that name. */
		close(fd);
		fd = -1;
		errno = ENOENT;
	}
	close(rootfd);
	if (fd == -1) {
		if (errno == EXDEV || errno == ELOOP || errno == EACCES ||
		    errno == EPERM)
			webfile_fail(r, 403, errno == EXDEV || errno == ELOOP ?
			    "leads out of the web root" : "not readable");
		else
			webfile_fail(r, 404, "no such file");
		return;
	}
	if (fstat(fd, &sb) == -1 || !S_ISREG(sb.st_mode)) {
		close(fd);
		webfile_fail(r, 404, "not a regular file");
		return;
	}
	mime = webreq_mime(rel);
	r->mime = mime != NULL ? mime : "application/octet-stream";
	r->size = (uint64_t)sb.st_size;
	webreq_etag(r->etag, sizeof r->etag, (uint64_t)sb.st_ino, r->size,
	    (int64_t)sb.st_mtim.tv_sec, sb.st_mtim.tv_nsec);
	webreq_date(sb.st_mtim.tv_sec, r->mtime);
	if (webreq_not_modified(rq->inm, rq->inm_len, rq->ims, rq->ims_len,
	    r->etag, sb.st_mtim.tv_sec)) {
		close(fd);
		r->status = 304;
		return;
	}
	r->status = 200;
	if (r->head || r->size == 0)
		close(fd);
	else
		r->fd = fd;
}

void
webfile_reply_clear(struct webfile_reply *r)
{
	if (r->fd != -1)
		close(r->fd);
	r->fd = -1;
	free(r->location);
	r->location = NULL;
	if (r->body != NULL)
		evbuffer_free(r->body);
	r->body = NULL;
}

void
webfile_h1_head(const struct webfile_reply *r, struct evbuffer *out,
    int keepalive)
{
	char	now[WEBREQ_DATE_LEN + 1], body[160];
	int	n = 0;

	webreq_date(time(NULL), now);
	evbuffer_add_printf(out, "HTTP/1.1 %d %s\r\n"
	    "Date: %s\r\n"
	    "Connection: %s\r\n", r->status, http1_reason(r->status), now,
	    keepalive ? "keep-alive" : "close");
	if (r->body != NULL) {
		/* A listing: made now, so no validators. */
		evbuffer_add_printf(out, "Content-Type: %s\r\n"
		    "Content-Length: %llu\r\n"
		    "Cache-Control: no-cache\r\n"
		    "X-Content-Type-Options: nosniff\r\n\r\n", r->mime,
		    (unsigned long long)r->size);
		if (!r->head)
			evbuffer_add_buffer(out, r->body);
		return;
	}
	switch (r->status) {
	case 200:
	case 304:
		/*
		 * no-cache: a browser asks again each time (a cheap 304),
		 * so a page upgraded on disk never runs with stale scripts.
		 */
		evbuffer_add_printf(out, "ETag: %s\r\n"
		    "Last-Modified: %s\r\n"
		    "Cache-Control: no-cache\r\n", r->etag, r->mtime);
		if (r->status == 200)
			evbuffer_add_printf(out, "Content-Type: %s\r\n"
			    "Content-Length: %llu\r\n"
			    "X-Content-Type-Options: nosniff\r\n", r->mime,
			    (unsigned long long)r->size);
		evbuffer_add(out, "\r\n", 2);
		return;
	case 301:
		evbuffer_add_printf(out, "Location: %s\r\n", r->location);
		break;
	case 405:
		evbuffer_add_printf(out, "Allow: GET, HEAD\r\n");
		break;
	}
	n = snprintf(body, sizeof body, "%d %s: %s\n", r->status,
	    http1_reason(r->status), r->why != NULL ? r->why : "-");
	if (n < 0 || (size_t)n >= sizeof body)
		n = 0;
	evbuffer_add_printf(out, "Content-Type: text/plain; charset=utf-8\r\n"
	    "Content-Length: %d\r\n\r\n", n);
	if (!r->head)
		evbuffer_add(out, body, (size_t)n);
}

int
webfile_fill(struct webfile_reply *r, struct evbuffer *out, size_t max)
{
	struct evbuffer_file_segment	*seg;
	uint64_t			 left;
	size_t				 n;
	int				 fd;

	if (r->fd == -1)
		return (0);
	left = r->size - r->off;
	n = (size_t)MIN(left, (uint64_t)max);
	/*
	 * A segment per piece, on its own descriptor: it may outlive this
	 * reply in out, and without mmap a file truncated meanwhile is a
	 * short read, never SIGBUS.
	 */
	if ((fd = fcntl(r->fd, F_DUPFD_CLOEXEC, 0)) == -1)
		return (-1);
	seg = evbuffer_file_segment_new(fd, (ev_off_t)r->off, (ev_off_t)n,
	    EVBUF_FS_CLOSE_ON_FREE | EVBUF_FS_DISABLE_MMAP);
	if (seg == NULL) {
		close(fd);
		return (-1);
	}
	if (evbuffer_add_file_segment(out, seg, 0, (ev_off_t)n) == -1) {
		evbuffer_file_segment_free(seg);
		return (-1);
	}
	evbuffer_file_segment_free(seg);	/* out holds it now */
	r->off += n;
	if (r->off < r->size)
		return (1);
	close(r->fd);
	r->fd = -1;
	return (0);
}
