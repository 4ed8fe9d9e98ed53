/*
 * backend.c -- connecting to a route's target. TCP names resolve through
 * evdns (never blocking the loop); unix sockets connect directly. A timer
 * bounds the whole attempt, resolution included.
 */
#include "wsb_autoconf.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <event2/bufferevent.h>
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
