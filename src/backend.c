/*
 * backend.c -- connecting to a route's target. TCP names resolve through
 * evdns (never blocking the loop); unix sockets connect directly. A timer
 * bounds the whole attempt, resolution included.
 */
#include "wsb_autoconf.h"

#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/dns.h>
#include <event2/event.h>
#include <event2/util.h>

#include "backend.h"
#include "config.h"
#include "log.h"
#include "server.h"
#include "util.h"

struct backend_req {
	struct server		*srv;
	struct bufferevent	*bev;
	struct event		*timer;
	backend_cb		*cb;
	void			*arg;
	char			 why[160];
	int			 status;	/* result waiting to be delivered */
	int			 in_connect;	/* inside backend_connect() */
	int			 early;		/* a result arrived inside it */
};

void
backend_tune_socket(int fd)
{
	int	one = 1;

	/* Small frames must not wait for Nagle (40 ms per reply otherwise). */
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

/*
 * libevent 2.1 reads at most 4096 bytes per readiness event
 * (EVBUFFER_MAX_READ), so a bulk transfer paid an epoll round trip, an
 * ioctl and a readv per 4 KiB. An input of at least 4096 bytes means that
 * read was cut short: take the rest now, into one reserved chain.
 */
void
backend_read_more(struct bufferevent *bev, size_t limit)
{
	struct evbuffer		*in = bufferevent_get_input(bev);
	struct evbuffer_iovec	 v[2];
	struct iovec		 iov[2];
	size_t			 len = evbuffer_get_length(in), left;
	ssize_t			 n;
	int			 i, cnt;

	if (len < 4096 || len >= limit ||
	    bufferevent_openssl_get_ssl(bev) != NULL)
		return;		/* drained, full, or bytes must go through TLS */
	/* The bufferevent keeps its input's end frozen between its reads. */
	evbuffer_unfreeze(in, 0);
	if ((cnt = evbuffer_reserve_space(in, limit - len, v, 2)) <= 0)
		goto out;
	for (i = 0; i < cnt; i++) {
		iov[i].iov_base = v[i].iov_base;
		iov[i].iov_len = v[i].iov_len;
	}
	if ((n = readv(bufferevent_getfd(bev), iov, cnt)) <= 0) {
		evbuffer_commit_space(in, v, 0);
		goto out;
	}
	left = (size_t)n;
	for (i = 0; i < cnt && left > 0; i++) {
		v[i].iov_len = MIN(v[i].iov_len, left);
		left -= v[i].iov_len;
	}
	evbuffer_commit_space(in, v, i);
out:
	evbuffer_freeze(in, 0);
}

#define BACKEND_SEND_NOW_MAX	(16 * 1024)

void
backend_send(struct bufferevent *bev, const void *hdr, size_t hl,
    struct evbuffer *src, size_t n)
{
	struct evbuffer		*out = bufferevent_get_output(bev);
	struct evbuffer_iovec	 v[8];
	struct iovec		 iov[1 + nitems(v)];
	ssize_t			 w = 0;
	size_t			 done;
	int			 i, cnt = 0, k = 0;

	/* Bulk data batches better through the output and its write event. */
	if (hl + n <= BACKEND_SEND_NOW_MAX && evbuffer_get_length(out) == 0 &&
	    (n == 0 || evbuffer_get_length(src) == n) &&
	    (bufferevent_get_enabled(bev) & EV_WRITE) &&
	    bufferevent_openssl_get_ssl(bev) == NULL &&
	    (n == 0 || (cnt = evbuffer_peek(src, n, NULL, v, nitems(v))) <=
	    (int)nitems(v))) {
		if (hl > 0) {
			iov[k].iov_base = (void *)(uintptr_t)hdr;
			iov[k++].iov_len = hl;
		}
		for (i = 0; i < cnt; i++) {
			iov[k].iov_base = v[i].iov_base;
			iov[k++].iov_len = v[i].iov_len;
		}
		if (k > 0 && (w = writev(bufferevent_getfd(bev), iov, k)) < 0)
			w = 0;		/* EAGAIN, or an error it will see */
	}
	done = MIN((size_t)w, hl);
	if (hl > done)
		evbuffer_add(out, (const uint8_t *)hdr + done, hl - done);
	done = (size_t)w - done;	/* payload bytes written */
	if (done > 0)
		evbuffer_drain(src, done);
	if (n > done)
		evbuffer_remove_buffer(src, out, n - done);
}

static void
backend_req_free(struct backend_req *req)
{
	if (req->bev != NULL)
		bufferevent_free(req->bev);
	event_free(req->timer);
	free(req);
}

static void
backend_done(struct backend_req *req, int status, const char *why)
{
	struct bufferevent	*bev = NULL;

	if (status == 0) {
		bev = req->bev;
		req->bev = NULL;
		bufferevent_setcb(bev, NULL, NULL, NULL, NULL);
		backend_tune_socket(bufferevent_getfd(bev));
	}
	req->cb(req->arg, bev, status, why);
	backend_req_free(req);
}

static void
backend_event(struct bufferevent *bev, short what, void *arg)
{
	struct backend_req	*req = arg;
	int			 err, dnserr;
	char			 why[160];

	if (what & BEV_EVENT_CONNECTED) {
		if (req->in_connect) {
			/* Numeric names may connect synchronously. */
			req->early = 1;
			req->status = 0;
			return;
		}
		backend_done(req, 0, NULL);
		return;
	}
	err = EVUTIL_SOCKET_ERROR();
	if ((dnserr = bufferevent_socket_get_dns_error(bev)) != 0)
		snprintf(why, sizeof why, "cannot resolve: %s",
		    evutil_gai_strerror(dnserr));
	else
		snprintf(why, sizeof why, "%s", err != 0 ?
		    evutil_socket_error_to_string(err) : "connection failed");
	if (req->in_connect) {
		req->early = 1;
		req->status = 502;
		memcpy(req->why, why, sizeof req->why);
		return;
	}
	backend_done(req, 502, why);
}

static void
backend_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct backend_req	*req = arg;

	if (req->early) {		/* a result from inside backend_connect() */
		backend_done(req, req->status, req->status != 0 ? req->why : NULL);
		return;
	}
	backend_done(req, 504, "connect timed out");
}

struct backend_req *
backend_connect(struct server *srv, const struct target *tg,
    unsigned timeout_ms, backend_cb *cb, void *arg)
{
	struct backend_req	*req;
	struct sockaddr_un	 sun;
	struct timeval		 tv;
	int			 rc;

	req = xcalloc(1, sizeof *req);
	req->srv = srv;
	req->cb = cb;
	req->arg = arg;
	req->timer = evtimer_new(srv->base, backend_timeout, req);
	req->bev = bufferevent_socket_new(srv->base, -1,
	    BEV_OPT_CLOSE_ON_FREE);
	if (req->bev == NULL)
		goto fail_now;
	bufferevent_setcb(req->bev, NULL, NULL, backend_event, req);

	req->in_connect = 1;
	switch (tg->kind) {
	case TARGET_TCP:
		rc = bufferevent_socket_connect_hostname(req->bev, srv->dns,
		    AF_UNSPEC, tg->host, atoi(tg->port));
		break;
	case TARGET_UNIX:
		memset(&sun, 0, sizeof sun);
		sun.sun_family = AF_UNIX;
		if (strlen(tg->path) >= sizeof sun.sun_path) {
			snprintf(req->why, sizeof req->why, "unix path too long");
			goto fail_later;
		}
		memcpy(sun.sun_path, tg->path, strlen(tg->path));
		rc = bufferevent_socket_connect(req->bev,
		    (struct sockaddr *)&sun, sizeof sun);
		break;
	default:
		abort();	/* echo never reaches here: our bug */
	}
	req->in_connect = 0;
	if (rc == -1) {
		snprintf(req->why, sizeof req->why, "%s",
		    evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
		goto fail_later;
	}
	if (req->early) {
		tv.tv_sec = tv.tv_usec = 0;
		evtimer_add(req->timer, &tv);
		return (req);
	}
	tv.tv_sec = timeout_ms / 1000;
	tv.tv_usec = (timeout_ms % 1000) * 1000;
	evtimer_add(req->timer, &tv);
	return (req);

fail_now:
	snprintf(req->why, sizeof req->why, "cannot create socket");
fail_later:
	/* Deliver from the loop, never from inside this call. */
	req->in_connect = 0;
	req->early = 1;
	req->status = 502;
	tv.tv_sec = tv.tv_usec = 0;
	evtimer_add(req->timer, &tv);
	return (req);
}

void
backend_cancel(struct backend_req *req)
{
	if (req != NULL)
		backend_req_free(req);
}
