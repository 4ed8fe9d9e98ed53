/*
 * sock.c -- the write side of plain sockets (the read side is sockread.c,
 * TLS's write side tlsout.c): a message goes to the socket at once when
 * nothing is queued before it, straight from where it lies (evbuffer
 * chains or a read buffer), and only what the socket does not take waits
 * in the bufferevent's output. Used alike by client connections (h1conn,
 * h2conn) and backends (tunnel).
 */
#include "wsb_autoconf.h"

#include <sys/socket.h>
#include <sys/uio.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>

#include "log.h"
#include "sock.h"
#include "sockread.h"
#include "util.h"

void
sock_tune(int fd, unsigned keepalive_ms)
{
	int	one = 1, idle, intvl = SOCK_KEEPALIVE_INTVL;
	int	cnt = SOCK_KEEPALIVE_CNT;

	/* Small frames must not wait for Nagle (40 ms per reply otherwise). */
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	if (keepalive_ms == 0)
		return;
	idle = (int)(keepalive_ms / 1000);
	(void)setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one);
#ifdef TCP_KEEPIDLE
	(void)setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof idle);
	(void)setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl,
	    sizeof intvl);
	(void)setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof cnt);
#else
	(void)idle;
	(void)intvl;
	(void)cnt;
#endif
}

#define SOCK_WRITE_IOV	64	/* chains per writev (256 KiB of 4 KiB reads) */

size_t
sock_write_now(struct bufferevent *bev, struct evbuffer *src, size_t n)
{
	struct evbuffer_iovec	 v[SOCK_WRITE_IOV];
	struct iovec		 iov[SOCK_WRITE_IOV];
	ssize_t			 w;
	size_t			 k;
	int			 i, cnt;

	if (n == 0 ||
	    evbuffer_get_length(bufferevent_get_output(bev)) != 0 ||
	    !(bufferevent_get_enabled(bev) & EV_WRITE) ||
	    bufferevent_openssl_get_ssl(bev) != NULL)
		return (0);	/* queued bytes first; TLS writes through SSL */
	cnt = evbuffer_peek(src, n, NULL, v, nitems(v));
	cnt = MIN(cnt, (int)nitems(v));
	/* The last extent may run past n (into the next frame's header). */
	for (i = 0, k = 0; i < cnt && k < n; i++) {
		iov[i].iov_base = v[i].iov_base;
		iov[i].iov_len = MIN(v[i].iov_len, n - k);
		k += iov[i].iov_len;
	}
	if ((w = writev(bufferevent_getfd(bev), iov, i)) <= 0)
		return (0);	/* EAGAIN, or an error its next write sees */
	evbuffer_drain(src, (size_t)w);
	return ((size_t)w);
}

size_t
sock_send_iov(struct evbuffer *out, size_t queued, int fd,
    const struct iovec *iov, int cnt)
{
	ssize_t	w = 0;
	int	tried = 0;

	sock_check_len(out, queued);
	if (fd != -1 && queued == 0) {
		tried = 1;
		/* One piece (most small messages): write(2) skips the iovec. */
		w = cnt == 1 ? write(fd, iov[0].iov_base, iov[0].iov_len) :
		    writev(fd, iov, cnt);
		if (w < 0)
			w = 0;	/* EAGAIN, or an error its next write sees */
	}
	sockread_keep_iov(out, iov, cnt, (size_t)w, tried);
	return ((size_t)w);
}

static void
sock_len_cb(struct evbuffer *out, const struct evbuffer_cb_info *info,
    void *arg)
{
	(void)out;
	*(size_t *)arg = info->orig_size + info->n_added - info->n_deleted;
}

struct evbuffer_cb_entry *
sock_track_len(struct evbuffer *out, size_t *len)
{
	struct evbuffer_cb_entry	*e;

	*len = evbuffer_get_length(out);
	if ((e = evbuffer_add_cb(out, sock_len_cb, len)) == NULL)
		abort();	/* out of memory, as xmalloc */
	return (e);
}

#ifdef WSB_CHECKS
void
sock_check_len(struct evbuffer *out, size_t len)
{
	if (evbuffer_get_length(out) != len) {
		log_error("tracked output length %zu, the output holds %zu",
		    len, evbuffer_get_length(out));
		abort();
	}
}
#endif
