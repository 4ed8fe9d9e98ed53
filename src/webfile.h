/*
 * webfile.h -- static files under a web root (the web directive,
 * websockify's --web): a GET or HEAD becomes a reply (a status, its
 * headers, an open file) that the HTTP front ends send from the event
 * loop, the body in bounded pieces as the socket takes them.
 */
#ifndef WEBFILE_H
#define WEBFILE_H

#include <stddef.h>
#include <stdint.h>

#include "webreq.h"

struct evbuffer;

/* What the decision needs from a request; every string borrowed. */
struct webfile_req {
	const char	*method;
	size_t		 method_len;
	const char	*target;	/* "/path?query" as sent */
	size_t		 target_len;
	const char	*inm;		/* If-None-Match, or NULL */
	size_t		 inm_len;
	const char	*ims;		/* If-Modified-Since, or NULL */
	size_t		 ims_len;
};

struct webfile_reply {
	int		 status;	/* 200, 304, 301 or an error */
	const char	*why;		/* an error's reason, for log and body */
	int		 head;		/* HEAD: no body whatever the status */
	const char	*mime;
	char		 etag[WEBREQ_ETAG_MAX];
	char		 mtime[WEBREQ_DATE_LEN + 1];
	uint64_t	 size;		/* a 200's Content-Length */
	char		*location;	/* a 301's, owned */
	struct evbuffer	*body;		/* a listing's page, owned, or NULL */
	int		 fd;		/* a 200 GET: the file, owned; else -1 */
	uint64_t	 off;		/* next byte of it to send */
	char		 path[WEBREQ_PATH_MAX];	/* what was asked, decoded */
};

/*
 * Answers rq from the files under root (an absolute directory): a file is
 * opened beneath root only (openat2 RESOLVE_BENEATH where the kernel has
 * it, else component by component without following any symlink), a
 * directory gets its index.html, else a listing (r->body) when listing
 * is set, else 404; a directory named without its trailing '/' a 301 to
 * it. Fills r (clear it with webfile_reply_clear()); never blocks but on
 * the file system.
 */
void	webfile_serve(const char *root, int listing,
	    const struct webfile_req *rq, struct webfile_reply *r);

/* Closes r's file and frees what it holds; safe on a cleared reply. */
void	webfile_reply_clear(struct webfile_reply *r);

/*
 * Appends r's HTTP/1.1 status line and headers to out, and an error's
 * short text body or a listing unless HEAD; keepalive says which
 * Connection to send.
 */
void	webfile_h1_head(const struct webfile_reply *r, struct evbuffer *out,
	    int keepalive);

/*
 * Appends up to max more bytes of r's file to out, as a file segment
 * (sendfile when out drains to a plain socket, else read in one piece of
 * at most max bytes). Returns 1 while more is due, 0 when the body is all
 * in out (the file is then closed), -1 when it cannot be read.
 */
int	webfile_fill(struct webfile_reply *r, struct evbuffer *out,
	    size_t max);

#endif
