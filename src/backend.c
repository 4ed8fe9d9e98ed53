/*
 * backend.c -- connecting to a route's target. TCP names resolve through
 * evdns (never blocking the loop) and every address is tried in turn, so
 * "localhost:5900" works whether the service listens on ::1 or 127.0.0.1;
 * unix sockets connect directly. A tls: target then does its TLS handshake
 * through an OpenSSL filter over the connected socket, verifying the
 * backend's certificate; a refused one is a 502 whose reason names the
 * verification error. One timer bounds the whole attempt, resolution and
 * TLS included.
 */
#include "wsb_autoconf.h"

#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/dns.h>
#include <event2/event.h>
#include <event2/util.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "backend.h"
#include "config.h"
#include "log.h"
#include "sock.h"
#include "tls_client.h"
#include "util.h"
#include "worker.h"

struct backend_req {
	struct worker			*w;
	const struct target		*tg;		/* borrowed: the tunnel's
							   config outlives us */
	struct bufferevent		*bev;		/* the attempt in flight */
	struct evdns_getaddrinfo_request *dns_req;
	struct evutil_addrinfo		*ais;		/* resolved addresses */
	struct evutil_addrinfo		*next_ai;	/* next one to try */
	struct event			*timer;		/* deadline */
	struct event			*ev_step;	/* next address, or the result */
	backend_cb			*cb;
	void				*arg;
	char				 why[160];
	uint8_t				*pre;		/* written first, or NULL */
	size_t				 prelen;
	int				 in_connect;	/* inside backend_connect() */
	int				 done;		/* result ready: status, why */
	int				 status;
};

static void	backend_try_next(struct backend_req *);

static void
backend_req_free(struct backend_req *req)
{
	if (req->dns_req != NULL)
		evdns_getaddrinfo_cancel(req->dns_req);
	if (req->bev != NULL)
		bufferevent_free(req->bev);
	if (req->ais != NULL)
		evutil_freeaddrinfo(req->ais);
	event_free(req->timer);
	event_free(req->ev_step);
	free(req->pre);
	free(req);
}

/* Hands the result to the caller and frees the request. */
static void
backend_deliver(struct backend_req *req)
{
	struct bufferevent	*bev = NULL;

	if (req->status == 0) {
		bev = req->bev;
		req->bev = NULL;
		bufferevent_setcb(bev, NULL, NULL, NULL, NULL);
		sock_tune(bufferevent_getfd(bev), req->w->cfg->keepalive_ms);
	}
	req->cb(req->arg, bev, req->status, req->status != 0 ? req->why : NULL);
	backend_req_free(req);
}

/* Records the result; it is delivered from the loop (ev_step). */
static void
backend_finish(struct backend_req *req, int status)
{
	req->done = 1;
	req->status = status;
	event_active(req->ev_step, EV_TIMEOUT, 1);
}

static void
backend_step(evutil_socket_t fd, short what, void *arg)
{
	struct backend_req	*req = arg;

	if (req->done)
		backend_deliver(req);
	else
		backend_try_next(req);
}

/* The TLS handshake with the backend finished, or failed. */
static void
backend_tls_event(struct bufferevent *bev, short what, void *arg)
{
	struct backend_req	*req = arg;
	unsigned long		 e, first = 0;

	if (what & BEV_EVENT_CONNECTED) {
		backend_finish(req, 0);
		return;
	}
	while ((e = bufferevent_get_openssl_error(bev)) != 0) {
		if (first == 0)
			first = e;
	}
	if (first == 0 && (what & BEV_EVENT_EOF))
		snprintf(req->why, sizeof req->why, "TLS handshake failed: "
		    "the backend closed the connection");
	else
		tls_client_error(bufferevent_openssl_get_ssl(bev), first,
		    req->why, sizeof req->why);
	/* Another address would present the same certificate: stop here. */
	bufferevent_disable(bev, EV_READ | EV_WRITE);
	backend_finish(req, 502);
}

/*
 * TCP is up on a tls: target: the handshake runs through a filter that now
 * owns the socket's bufferevent (freed with it).
 */
static void
backend_start_tls(struct backend_req *req)
{
	struct bufferevent	*fbev;
	SSL			*ssl;

	if ((ssl = tls_client_ssl_new(req->tg->tls_ctx, req->tg->host)) ==
	    NULL) {
		snprintf(req->why, sizeof req->why, "cannot start TLS");
		ERR_clear_error();
		backend_finish(req, 502);
		return;
	}
	fbev = bufferevent_openssl_filter_new(req->w->base, req->bev, ssl,
	    BUFFEREVENT_SSL_CONNECTING, BEV_OPT_CLOSE_ON_FREE);
	if (fbev == NULL) {
		SSL_free(ssl);
		snprintf(req->why, sizeof req->why, "cannot start TLS");
		backend_finish(req, 502);
		return;
	}
	req->bev = fbev;
	/* A backend that just closes the socket has ended its stream. */
	bufferevent_openssl_set_allow_dirty_shutdown(fbev, 1);
	bufferevent_setcb(fbev, NULL, NULL, backend_tls_event, req);
	bufferevent_enable(fbev, EV_READ | EV_WRITE);
}

/*
 * The PROXY header, first on the new connection: a fresh socket's send
 * buffer takes it whole (it is at most PROXYPROTO_MAX bytes), so it is
 * written at once, ahead of anything the bufferevent or TLS will write.
 * Returns 0, or -1 after finishing req with 502.
 */
static int
backend_send_pre(struct backend_req *req, struct bufferevent *bev)
{
	ssize_t	n;

	n = send((int)bufferevent_getfd(bev), req->pre, req->prelen,
	    MSG_NOSIGNAL);
	if (n == (ssize_t)req->prelen)
		return (0);
	snprintf(req->why, sizeof req->why, "cannot send the PROXY header: %s",
	    n == -1 ? strerror(errno) : "short write");
	bufferevent_disable(bev, EV_READ | EV_WRITE);
	backend_finish(req, 502);
	return (-1);
}

static void
backend_event(struct bufferevent *bev, short what, void *arg)
{
	struct backend_req	*req = arg;
	int			 err = EVUTIL_SOCKET_ERROR();

	if (what & BEV_EVENT_CONNECTED) {
		if (req->prelen > 0 && backend_send_pre(req, bev) != 0)
			return;
		if (req->tg->tls)
			backend_start_tls(req);
		else
			backend_finish(req, 0);
		return;
	}
	snprintf(req->why, sizeof req->why, "%s", err != 0 ?
	    evutil_socket_error_to_string(err) : "connection failed");
	/* Not freed here, inside its own callback: backend_try_next does. */
	bufferevent_disable(bev, EV_READ | EV_WRITE);
	event_active(req->ev_step, EV_TIMEOUT, 1);
}

static void
backend_try_next(struct backend_req *req)
{
	struct evutil_addrinfo	*ai;

	if (req->bev != NULL) {
		bufferevent_free(req->bev);
		req->bev = NULL;
	}
	while ((ai = req->next_ai) != NULL) {
		req->next_ai = ai->ai_next;
		req->bev = bufferevent_socket_new(req->w->base, -1,
		    BEV_OPT_CLOSE_ON_FREE);
		if (req->bev == NULL)
			break;
		bufferevent_setcb(req->bev, NULL, NULL, backend_event, req);
		if (bufferevent_socket_connect(req->bev, ai->ai_addr,
		    (int)ai->ai_addrlen) == 0)
			return;
		snprintf(req->why, sizeof req->why, "%s",
		    evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
		bufferevent_free(req->bev);
		req->bev = NULL;
	}
	if (req->why[0] == '\0')
		snprintf(req->why, sizeof req->why, "no address to connect to");
	backend_finish(req, 502);
}

static void
backend_resolved(int result, struct evutil_addrinfo *res, void *arg)
{
	struct backend_req	*req = arg;

	req->dns_req = NULL;
	if (result == EVUTIL_EAI_CANCEL)
		return;
	if (result != 0) {
		snprintf(req->why, sizeof req->why, "cannot resolve: %s",
		    evutil_gai_strerror(result));
		backend_finish(req, 502);
		return;
	}
	req->ais = req->next_ai = res;
	backend_try_next(req);
}

static void
backend_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct backend_req	*req = arg;

	snprintf(req->why, sizeof req->why, "connect timed out");
	req->status = 504;
	backend_deliver(req);
}

struct backend_req *
backend_connect(struct worker *w, const struct target *tg,
    unsigned timeout_ms, const void *pre, size_t prelen, backend_cb *cb,
    void *arg)
{
	struct backend_req		*req;
	struct evutil_addrinfo		 hints;
	struct evdns_getaddrinfo_request *dr;
	struct sockaddr_un		 sun;
	struct timeval			 tv;

	req = xcalloc(1, sizeof *req);
	req->w = w;
	req->tg = tg;
	req->cb = cb;
	req->arg = arg;
	if (prelen > 0) {
		req->pre = xmalloc(prelen);
		memcpy(req->pre, pre, prelen);
		req->prelen = prelen;
	}
	req->timer = evtimer_new(w->base, backend_timeout, req);
	req->ev_step = event_new(w->base, -1, 0, backend_step, req);
	tv.tv_sec = timeout_ms / 1000;
	tv.tv_usec = (timeout_ms % 1000) * 1000;
	evtimer_add(req->timer, &tv);

	switch (tg->kind) {
	case TARGET_TCP:
		memset(&hints, 0, sizeof hints);
		hints.ai_family = AF_UNSPEC;
		hints.ai_socktype = SOCK_STREAM;
		hints.ai_protocol = IPPROTO_TCP;
		/*
		 * No AI_ADDRCONFIG: it judges IPv6 by a route to the
		 * Internet, and would hide ::1 on a machine without one.
		 */
		/* May answer at once (numeric hosts): backend_finish defers. */
		dr = evdns_getaddrinfo(w->dns, tg->host, tg->port, &hints,
		    backend_resolved, req);
		if (!req->done && req->ais == NULL)
			req->dns_req = dr;
		break;
	case TARGET_UNIX:
		memset(&sun, 0, sizeof sun);
		sun.sun_family = AF_UNIX;
		if (strlen(tg->path) >= sizeof sun.sun_path) {
			snprintf(req->why, sizeof req->why, "unix path too long");
			backend_finish(req, 502);
			break;
		}
		memcpy(sun.sun_path, tg->path, strlen(tg->path));
		req->bev = bufferevent_socket_new(w->base, -1,
		    BEV_OPT_CLOSE_ON_FREE);
		if (req->bev == NULL) {
			snprintf(req->why, sizeof req->why, "cannot create socket");
			backend_finish(req, 502);
			break;
		}
		bufferevent_setcb(req->bev, NULL, NULL, backend_event, req);
		if (bufferevent_socket_connect(req->bev, (struct sockaddr *)&sun,
		    sizeof sun) == -1) {
			snprintf(req->why, sizeof req->why, "%s",
			    evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
			backend_finish(req, 502);
		}
		break;
	default:
		abort();	/* echo never reaches here: our bug */
	}
	return (req);
}

void
backend_cancel(struct backend_req *req)
{
	if (req != NULL)
		backend_req_free(req);
}
