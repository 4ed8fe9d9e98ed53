/*
 * proxyin.c -- reads a PROXY protocol header (proxyproto.c parses it)
 * off an accepted socket before h1conn sees the connection. Bytes are
 * peeked, and only the header's are taken from the socket: what the
 * client sent behind it (an HTTP request, a TLS ClientHello, the h2
 * preface) stays in the kernel for h1conn to read, so after the header
 * the connection runs exactly as one accepted without it. A header split
 * over many segments is taken a piece at a time; every piece read is part
 * of the header (the parser says so), so the socket is never left
 * readable with nothing new to say, and the loop never spins on it.
 */
#include "wsb_autoconf.h"

#include <sys/socket.h>

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "cidr.h"
#include "config.h"
#include "conn_facts.h"
#include "h1conn.h"
#include "log.h"
#include "proxyin.h"
#include "proxyproto.h"
#include "util.h"
#include "worker.h"

struct proxyin {
	TAILQ_ENTRY(proxyin)	 entry;
	struct proxyin_cfg	*pc;
	struct worker		*w;
	int			 fd;
	struct sockaddr_storage	 peer;		/* the balancer */
	socklen_t		 peerlen;
	struct event		*ev;		/* readable, or the deadline */
	uint64_t		 deadline;	/* now_ns() clock */
	size_t			 have;		/* header bytes taken so far */
	uint8_t			 buf[PROXYPROTO_MAX];
};

static void	proxyin_read(evutil_socket_t, short, void *);

static void
proxyin_free(struct proxyin *p, int close_fd)
{
	TAILQ_REMOVE(&p->pc->pending, p, entry);
	event_free(p->ev);
	if (close_fd)
		close(p->fd);
	free(p);
}

/* The one line a refused connection gets; then it is closed. */
static void
proxyin_refuse(struct proxyin *p, const char *why)
{
	char	peer[CONN_ADDRSTRLEN];

	if (conn_addr_str(&p->peer, peer, sizeof peer) == NULL)
		snprintf(peer, sizeof peer, "unix");
	log_info("PROXY header refused: peer=%s on %s: %s", peer,
	    p->pc->addr, why);
	proxyin_free(p, 1);
}

/* Waits for more of the header, until the deadline. */
static void
proxyin_wait(struct proxyin *p)
{
	uint64_t	now = now_ns(), left;
	struct timeval	tv;

	left = p->deadline > now ? p->deadline - now : 0;
	tv.tv_sec = (time_t)(left / 1000000000);
	tv.tv_usec = (suseconds_t)(left % 1000000000 / 1000);
	event_add(p->ev, &tv);
}

/* The header is whole: on to h1conn with the client's address. */
static void
proxyin_done(struct proxyin *p, const struct proxyproto_hdr *h)
{
	struct worker		*w = p->w;
	SSL_CTX			*tls = *p->pc->tls;
	struct sockaddr_storage	 client, via;
	int			 fd = p->fd, tls_auto = p->pc->tls_auto;

	via = p->peer;
	if (h->local)
		client = p->peer;	/* its own connection: a health check */
	else
		client = h->src;
	proxyin_free(p, 0);
	h1conn_accept(w, fd, (struct sockaddr *)&client, sizeof client, tls,
	    tls_auto, h->local ? NULL : &via);
}

static void
proxyin_read(evutil_socket_t fd, short what, void *arg)
{
	struct proxyin		*p = arg;
	struct proxyproto_hdr	 h;
	const char		*why = NULL;
	char			 drop[PROXYPROTO_MAX];
	ssize_t			 n, r;

	if (what & EV_TIMEOUT) {
		proxyin_refuse(p, p->have > 0 ? "header incomplete within "
		    "handshake-timeout" : "no header within handshake-timeout");
		return;
	}
	n = recv(p->fd, p->buf + p->have, sizeof p->buf - p->have, MSG_PEEK);
	if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK ||
	    errno == EINTR)) {
		proxyin_wait(p);
		return;
	}
	if (n <= 0) {
		proxyin_refuse(p, n == 0 ? (p->have > 0 ? "closed in the "
		    "middle of its header" : "closed before its header") :
		    strerror(errno));
		return;
	}
	r = proxyproto_parse(p->buf, p->have + (size_t)n, p->pc->versions, &h,
	    &why);
	if (r < 0) {
		proxyin_refuse(p, why);
		return;
	}
	/* Take the header's bytes only: the rest is the client's. */
	n = r == 0 ? n : r - (ssize_t)p->have;
	if (recv(p->fd, drop, (size_t)n, 0) != n) {
		proxyin_refuse(p, "cannot read its header");
		return;
	}
	p->have += (size_t)n;
	if (r == 0)
		proxyin_wait(p);
	else
		proxyin_done(p, &h);
}

void
proxyin_accept(struct worker *w, struct proxyin_cfg *pc, int fd,
    const struct sockaddr *sa, socklen_t salen)
{
	struct proxyin	*p;

	p = xcalloc(1, sizeof *p);
	p->pc = pc;
	p->w = w;
	p->fd = fd;
	memcpy(&p->peer, sa, MIN((size_t)salen, sizeof p->peer));
	p->peerlen = salen;
	TAILQ_INSERT_TAIL(&pc->pending, p, entry);
	p->ev = event_new(w->base, fd, EV_READ, proxyin_read, p);
	/*
	 * Only a trusted balancer may name another client; anyone else
	 * could pose as any address. A unix socket's clients are whoever
	 * its file mode lets in, as for any other of its uses.
	 */
	if (sa->sa_family != AF_UNIX && !cidr_match(pc->from, pc->nfrom, sa)) {
		proxyin_refuse(p, "source not in proxy-from");
		return;
	}
	p->deadline = now_ns() + (uint64_t)w->cfg->handshake_timeout_ms *
	    1000000;
	proxyin_wait(p);
}

void
proxyin_free_all(struct proxyin_cfg *pc)
{
	struct proxyin	*p;

	while ((p = TAILQ_FIRST(&pc->pending)) != NULL)
		proxyin_free(p, 1);
}
