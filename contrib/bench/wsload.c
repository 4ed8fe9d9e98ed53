/*
 * wsload.c -- the benchmark's load generator: one epoll loop, non-blocking
 * sockets, many connections, its own WebSocket client (handshake, masking,
 * frame parsing) or plain TCP for the bare relay. Every byte is checked
 * (bench.h): a corrupted or missing byte is "INTEGRITY FAILURE" and exit 1.
 *
 *   wsload -m MODE -p PORT[,PORT...] [-w] [-t] [-2] [-c CONNS] [-s SIZE]
 *          [-d SECS] [-W WARMUP] [-x PROXY_PID] [-b BACKEND_PID] [-P PATH]
 *
 * Modes (the backend each expects):
 *   up    send SIZE-byte messages as fast as the socket takes them (sink)
 *   down  receive and check the stream (source)
 *   echo  one SIZE-byte message in flight per connection; latency (echo)
 *   hs    connect, upgrade, one 64-byte echo, close, again (echo)
 *   idle  open CONNS connections, measure the proxy's memory, then check
 *         each still echoes (echo)
 * -w speaks WebSocket (client frames masked), else raw TCP.
 * -t runs it over TLS (OpenSSL; the server's certificate is not checked).
 * -2 speaks WebSocket over HTTP/2 (RFC 8441 extended CONNECT, one stream
 *    per connection, nghttp2), cleartext with prior knowledge or, with -t,
 *    negotiated by ALPN. Without -2 a TLS client offers ALPN http/1.1.
 * Prints one line "RESULT key=value ..." on stdout.
 */
#define _GNU_SOURCE
#include <sys/uio.h>

#include <nghttp2/nghttp2.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "bench.h"

#define RBUF		(256 * 1024)
#define BATCH		(256 * 1024)	/* payload bytes per writev in mode up */
#define IOVN		520
#define RESP_MAX	2048
#define WS_KEY		"dGhlIHNhbXBsZSBub25jZQ=="	/* RFC 6455 1.3 */
#define WS_ACCEPT	"s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
#define ECHO_MAX	1024
#define TLS_CHUNK	16384	/* bytes per SSL_write: one full record */

enum mode { UP, DOWN, ECHO, HS, IDLE };
enum cstate {
	C_CONNECTING = 0,	/* TCP connect in flight */
	C_TLS,			/* TLS handshake */
	C_HANDSHAKE,		/* upgrade request (h1) or CONNECT (h2) sent */
	C_OPEN,			/* frames flow */
	C_CLOSING,		/* hs: our close frame is queued */
	C_DONE,			/* closed */
};

struct conn {
	int		 fd;
	uint32_t	 id;
	enum cstate	 state;
	unsigned	 events;

	/* transport layers (NULL: none) */
	SSL		*ssl;
	nghttp2_session	*h2;
	int32_t		 sid;		/* h2: our CONNECT stream */
	int		 h2_status;	/* h2: the response's :status */
	int		 in_h2;		/* inside nghttp2_session_mem_recv */
	int		 h2_blocked;	/* h2: the socket took not all */
	int		 h2_end;	/* h2: stream over (hs: done; else lost) */

	/* output */
	struct iovec	*iov;
	int		 niov, iovi;
	uint8_t		*hbuf;		/* frame headers of the batch */
	uint8_t		 sbuf[16 + ECHO_MAX];	/* one small message */
	uint64_t	 up_off;	/* pattern bytes queued (up) */
	int		 up_hdr_sent;

	/* handshake response */
	char		*resp;
	size_t		 resp_len;

	/* incoming frames */
	uint8_t		 fh[14];
	unsigned	 fh_got, fh_need;
	int		 in_payload;
	uint64_t	 f_left;
	uint8_t		 f_op;
	uint8_t		 ctl[128];
	size_t		 ctl_len;

	/* consumers */
	uint8_t		 rec[HDR_LEN];	/* ack record (up) / stream header (down) */
	size_t		 rec_got;
	uint64_t	 acked;		/* up */
	uint32_t	 dl_start;	/* down */
	uint64_t	 dl_bytes;
	uint8_t		 expect[ECHO_MAX];	/* echo */
	size_t		 echo_got;
	uint64_t	 seq, t_sent;
	int		 got_close;	/* hs */
};

static enum mode	 mode;
static int		 use_ws, use_tls, use_h2, nports, ports[16], nconns = 1;
static SSL_CTX		*tls_ctx;
static uint8_t		 tls_buf[TLS_CHUNK];
static size_t		 msg_size = 65536;
static double		 duration = 5, warmup = 1;
static int		 proxy_pid, backend_pid;
static const char	*path = "/";
static uint8_t		 mkey[4] = { 0x37, 0xfa, 0x21, 0x3d };
static uint8_t		*mpat;		/* pat ^ mkey, see up_fill() */
static uint8_t		 rbuf[RBUF];
static int		 ep;
static uint64_t		 t_open, t_w0, t_w1;	/* all open; window start, end */
static int		 in_window, running = 1;
static struct conn	**conns;
static int		 nopen, ndone, nlost, nstarted;
static uint64_t		 cnt_bytes, cnt_msgs;
static uint64_t		*lat;
static size_t		 nlat, lat_cap;
static char		 req[512];
static size_t		 req_len;

static void	conn_start_traffic(struct conn *);
static void	conn_new(uint32_t id);
static void	conn_layers_free(struct conn *);
static int	h2_flush(struct conn *);
static void	ws_rx(struct conn *, const uint8_t *, size_t);
static void	conn_ready(struct conn *);

static void __attribute__((noreturn))
integrity(struct conn *c, const char *what)
{
	printf("RESULT integrity=FAIL conn=%u what=\"%s\"\n", c->id, what);
	fflush(stdout);
	fprintf(stderr, "INTEGRITY FAILURE: conn %u: %s\n", c->id, what);
	exit(1);
}

static void
want(struct conn *c, unsigned events)
{
	struct epoll_event	ev;

	if (events == c->events)
		return;
	ev.events = events;
	ev.data.ptr = c;
	epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
	c->events = events;
}

static void
conn_layers_free(struct conn *c)
{
	if (c->h2 != NULL)
		nghttp2_session_del(c->h2);
	c->h2 = NULL;
	if (c->ssl != NULL)
		SSL_free(c->ssl);
	c->ssl = NULL;
}

/* SSL_get_error() as errno: EAGAIN when it waits for the socket. */
static ssize_t
tls_result(struct conn *c, int r)
{
	switch (SSL_get_error(c->ssl, r)) {
	case SSL_ERROR_WANT_READ:
	case SSL_ERROR_WANT_WRITE:
		errno = EAGAIN;
		return (-1);
	case SSL_ERROR_ZERO_RETURN:
		return (0);
	case SSL_ERROR_SYSCALL:
		if (errno == 0)
			return (0);	/* EOF without close_notify */
		return (-1);
	default:
		errno = EPROTO;
		return (-1);
	}
}

/* read() through TLS when there is TLS. */
static ssize_t
raw_read(struct conn *c, void *buf, size_t n)
{
	int	r;

	if (c->ssl == NULL)
		return (read(c->fd, buf, n));
	ERR_clear_error();
	errno = 0;
	if ((r = SSL_read(c->ssl, buf, n > INT32_MAX ? INT32_MAX : n)) > 0)
		return (r);
	return (tls_result(c, r));
}

/*
 * writev() through TLS when there is TLS: the iovecs are gathered into
 * records of TLS_CHUNK bytes (a frame header alone would otherwise be a
 * record of its own). Returns bytes written, or -1 (errno EAGAIN: none).
 */
static ssize_t
raw_writev(struct conn *c, const struct iovec *iov, int cnt)
{
	size_t	k, len, total = 0;
	int	i, r;

	if (c->ssl == NULL)
		return (writev(c->fd, iov, cnt));
	for (;;) {
		/* Same bytes on a retry: the caller advances only by total. */
		len = 0;
		k = total;
		for (i = 0; i < cnt && len < TLS_CHUNK; i++) {
			if (k >= iov[i].iov_len) {
				k -= iov[i].iov_len;
				continue;
			}
			r = (int)(iov[i].iov_len - k < TLS_CHUNK - len ?
			    iov[i].iov_len - k : TLS_CHUNK - len);
			memcpy(tls_buf + len, (uint8_t *)iov[i].iov_base + k, r);
			len += r;
			k = 0;
		}
		if (len == 0)
			return (total);
		ERR_clear_error();
		errno = 0;
		if ((r = SSL_write(c->ssl, tls_buf, len)) <= 0) {
			if (total > 0)
				return (total);
			if (tls_result(c, r) == 0)
				errno = EPIPE;
			return (-1);
		}
		total += r;
	}
}

static int
tls_is_h2(struct conn *c)
{
	const unsigned char	*p;
	unsigned		 n;

	SSL_get0_alpn_selected(c->ssl, &p, &n);
	return (n == 2 && memcmp(p, "h2", 2) == 0);
}

static void
conn_lost(struct conn *c, const char *why)
{
	if (c->state == C_DONE)
		return;
	if (running) {
		if (nlost < 5)
			fprintf(stderr, "wsload: conn %u lost (%s): %s\n", c->id,
			    why, errno != 0 ? strerror(errno) : "-");
		nlost++;
	}
	c->state = C_DONE;
	conn_layers_free(c);
	close(c->fd);
	c->fd = -1;
}

/* Writes the queued iovecs. Returns -1 on error, 0 when blocked or done. */
static int
conn_flush(struct conn *c)
{
	ssize_t	n;
	int	cnt;

	if (c->h2 != NULL)
		return (h2_flush(c));
	while (c->iovi < c->niov) {
		cnt = c->niov - c->iovi;
		n = raw_writev(c, c->iov + c->iovi, cnt > 1024 ? 1024 : cnt);
		if (n == -1) {
			if (errno == EAGAIN) {
				want(c, EPOLLIN | EPOLLOUT);
				return (0);
			}
			return (-1);
		}
		while (n > 0) {
			if ((size_t)n >= c->iov[c->iovi].iov_len) {
				n -= c->iov[c->iovi].iov_len;
				c->iovi++;
			} else {
				c->iov[c->iovi].iov_base =
				    (uint8_t *)c->iov[c->iovi].iov_base + n;
				c->iov[c->iovi].iov_len -= n;
				n = 0;
			}
		}
	}
	c->niov = c->iovi = 0;
	want(c, EPOLLIN);
	return (0);
}

static void
queue(struct conn *c, void *p, size_t n)
{
	c->iov[c->niov].iov_base = p;
	c->iov[c->niov].iov_len = n;
	c->niov++;
}

/* Writes a client frame header for a payload of n bytes into h. */
static size_t
ws_hdr(uint8_t *h, unsigned op, uint64_t n)
{
	size_t	l = 2;

	h[0] = 0x80 | op;
	if (n < 126)
		h[1] = 0x80 | n;
	else if (n < 65536) {
		h[1] = 0x80 | 126;
		h[2] = n >> 8;
		h[3] = n;
		l = 4;
	} else {
		h[1] = 0x80 | 127;
		for (int i = 0; i < 8; i++)
			h[2 + i] = n >> (56 - 8 * i);
		l = 10;
	}
	memcpy(h + l, mkey, 4);
	return (l + 4);
}

/* Queues a small message p[0..n) (masked when WebSocket) in sbuf. */
static void
queue_small(struct conn *c, unsigned op, const uint8_t *p, size_t n)
{
	size_t	hl = 0, i;

	if (use_ws) {
		hl = ws_hdr(c->sbuf, op, n);
		for (i = 0; i < n; i++)
			c->sbuf[hl + i] = p[i] ^ mkey[i & 3];
	} else
		memcpy(c->sbuf, p, n);
	queue(c, c->sbuf, hl + n);
}

/*
 * Mode up: queues about BATCH bytes of SIZE-byte messages. The payload is
 * taken straight from mpat (the pattern pre-masked with our one key): every
 * frame starts at a pattern offset that is a multiple of 4, so mpat's mask
 * phase is the frame's.
 */
static void
up_fill(struct conn *c)
{
	uint8_t	*h = c->hbuf;
	size_t	 k, off, total;

	c->niov = c->iovi = 0;
	if (!c->up_hdr_sent) {
		uint8_t	sh[HDR_LEN];

		put32(sh, PAT_MAGIC);
		put32(sh + 4, (c->id * 4 * 7919) % PAT_P);
		queue_small(c, 2, sh, HDR_LEN);
		c->up_hdr_sent = 1;
	}
	if (!use_ws) {
		off = ((c->id * 4 * 7919) % PAT_P + c->up_off) % PAT_P;
		total = msg_size > BATCH ? msg_size : BATCH;
		queue(c, pat + off, total);
		c->up_off += total;
		return;
	}
	for (k = 0; k == 0 || (k * msg_size < BATCH && c->niov + 2 < IOVN);
	    k++) {
		off = ((c->id * 4 * 7919) % PAT_P + c->up_off) % PAT_P;
		queue(c, h, ws_hdr(h, 2, msg_size));
		h += 14;
		queue(c, mpat + off, msg_size);
		c->up_off += msg_size;
	}
}

/*
 * Mode up: writes batches until the socket is full, or a few of them and
 * then back to the loop (with EPOLLOUT on) so acks are read.
 */
static void
up_pump(struct conn *c)
{
	int	i;

	for (i = 0; i < 4 && c->niov == 0 && c->state == C_OPEN; i++) {
		up_fill(c);
		if (conn_flush(c) == -1)
			conn_lost(c, "write");
	}
	if (c->niov == 0 && c->state == C_OPEN)
		want(c, EPOLLIN | EPOLLOUT);
}

static void
echo_send(struct conn *c)
{
	uint8_t	m[ECHO_MAX];

	memcpy(m, pat + ((c->id * 64 + c->seq * 4) % PAT_P), msg_size);
	put64(m, c->seq);
	put32(m + 8, c->id);
	memcpy(c->expect, m, msg_size);
	c->echo_got = 0;
	c->seq++;
	c->t_sent = now_ns();
	queue_small(c, 2, m, msg_size);
}

static void
lat_add(uint64_t ns)
{
	if (nlat == lat_cap) {
		lat_cap = lat_cap ? lat_cap * 2 : 65536;
		if ((lat = realloc(lat, lat_cap * sizeof *lat)) == NULL)
			die("out of memory");
	}
	lat[nlat++] = ns;
}

/* A whole echo came back. */
static void
echo_done(struct conn *c)
{
	uint64_t	t = now_ns();

	if (in_window && mode == ECHO) {
		lat_add(t - c->t_sent);
		cnt_msgs++;
		cnt_bytes += msg_size;
	}
	switch (mode) {
	case ECHO:
		if (running)
			echo_send(c);
		break;
	case HS:
		if (use_ws) {
			uint8_t	code[2] = { 0x03, 0xe8 };	/* 1000 */

			queue_small(c, 8, code, 2);
			c->state = C_CLOSING;
		} else {
			c->state = C_CLOSING;
			c->got_close = 1;
		}
		break;
	case IDLE:
		ndone++;
		break;
	default:
		break;
	}
}

/* Payload bytes of data messages (or the raw stream). */
static void
consume(struct conn *c, const uint8_t *p, size_t n)
{
	size_t		k, off;
	uint64_t	v;

	switch (mode) {
	case UP:
		while (n > 0) {
			k = HDR_LEN - c->rec_got;
			k = k < n ? k : n;
			memcpy(c->rec + c->rec_got, p, k);
			c->rec_got += k;
			p += k;
			n -= k;
			if (c->rec_got < HDR_LEN)
				break;
			c->rec_got = 0;
			v = get64(c->rec);
			if (v == ~0ULL)
				integrity(c, "the sink found corrupted bytes");
			if (v < c->acked)
				integrity(c, "ack went backwards");
			if (in_window)
				cnt_bytes += v - c->acked;
			c->acked = v;
		}
		break;
	case DOWN:
		while (n > 0 && c->rec_got < HDR_LEN) {
			c->rec[c->rec_got++] = *p++;
			n--;
			if (c->rec_got == HDR_LEN) {
				c->dl_start = get32(c->rec + 4);
				if (get32(c->rec) != PAT_MAGIC ||
				    c->dl_start >= PAT_P)
					integrity(c, "bad stream header");
			}
		}
		while (n > 0) {
			off = (c->dl_start + c->dl_bytes) % PAT_P;
			k = n < PAT_SLACK ? n : PAT_SLACK;
			if (memcmp(p, pat + off, k) != 0)
				integrity(c, "downloaded bytes differ");
			c->dl_bytes += k;
			if (in_window)
				cnt_bytes += k;
			p += k;
			n -= k;
		}
		break;
	case ECHO:
	case HS:
	case IDLE:
		while (n > 0) {
			k = msg_size - c->echo_got;
			if (c->echo_got == msg_size || (c->state != C_OPEN))
				integrity(c, "unexpected echo bytes");
			k = k < n ? k : n;
			if (memcmp(p, c->expect + c->echo_got, k) != 0)
				integrity(c, "echoed bytes differ");
			c->echo_got += k;
			p += k;
			n -= k;
			if (c->echo_got == msg_size)
				echo_done(c);
		}
		break;
	}
}

/* Parses server frames (unmasked) from p[0..n). */
static void
ws_rx(struct conn *c, const uint8_t *p, size_t n)
{
	size_t		k;
	unsigned	l7, i;

	while (n > 0) {
		if (!c->in_payload) {
			c->fh[c->fh_got++] = *p++;
			n--;
			if (c->fh_got == 2) {
				if (c->fh[1] & 0x80)
					integrity(c, "server frame is masked");
				l7 = c->fh[1] & 0x7f;
				c->fh_need = 2 + (l7 == 126 ? 2 : l7 == 127 ? 8 : 0);
			}
			if (c->fh_got < 2 || c->fh_got < c->fh_need)
				continue;
			l7 = c->fh[1] & 0x7f;
			if (l7 < 126)
				c->f_left = l7;
			else if (l7 == 126)
				c->f_left = c->fh[2] << 8 | c->fh[3];
			else
				for (c->f_left = 0, i = 0; i < 8; i++)
					c->f_left = c->f_left << 8 | c->fh[2 + i];
			c->f_op = c->fh[0] & 0x0f;
			c->fh_got = 0;
			c->ctl_len = 0;
			c->in_payload = 1;
			if (c->f_op >= 8 && c->f_left > 125)
				integrity(c, "control frame too long");
		}
		k = n < c->f_left ? n : c->f_left;
		if (c->f_op < 8)
			consume(c, p, k);
		else {
			memcpy(c->ctl + c->ctl_len, p, k);
			c->ctl_len += k;
		}
		p += k;
		n -= k;
		c->f_left -= k;
		if (c->f_left > 0)
			continue;
		c->in_payload = 0;
		if (c->f_op == 8) {
			if (mode != HS || c->state != C_CLOSING)
				integrity(c, "server sent close");
			c->got_close = 1;
		}
	}
}

static void
conn_ready(struct conn *c)
{
	c->state = C_OPEN;
	nopen++;
	if (mode == HS || t_open != 0)
		conn_start_traffic(c);
}

static void
conn_start_traffic(struct conn *c)
{
	switch (mode) {
	case UP:
		up_pump(c);
		return;
	case ECHO:
	case HS:
		echo_send(c);
		break;
	default:
		return;
	}
	if (conn_flush(c) == -1)
		conn_lost(c, "write");
}

/* Handshake response bytes; the rest after the head goes to ws_rx(). */
static void
hs_rx(struct conn *c, const uint8_t *p, size_t n)
{
	char	*end, *a;
	size_t	 k, head, before = c->resp_len;

	k = RESP_MAX - 1 - c->resp_len;
	k = n < k ? n : k;
	memcpy(c->resp + c->resp_len, p, k);
	c->resp_len += k;
	c->resp[c->resp_len] = '\0';
	if ((end = strstr(c->resp, "\r\n\r\n")) == NULL) {
		if (c->resp_len == RESP_MAX - 1)
			integrity(c, "handshake response too long");
		return;
	}
	head = end + 4 - c->resp;
	*end = '\0';
	if (strncmp(c->resp, "HTTP/1.1 101", 12) != 0)
		integrity(c, "handshake not answered with 101");
	if ((a = strcasestr(c->resp, "\r\nsec-websocket-accept:")) == NULL)
		integrity(c, "no Sec-WebSocket-Accept");
	a += 23;
	while (*a == ' ')
		a++;
	if (strncmp(a, WS_ACCEPT, strlen(WS_ACCEPT)) != 0)
		integrity(c, "wrong Sec-WebSocket-Accept");
	free(c->resp);
	c->resp = NULL;
	conn_ready(c);
	/* Frames right behind the head, in the same read. */
	if (n > head - before)
		ws_rx(c, p + (head - before), n - (head - before));
}

/* ---- WebSocket over HTTP/2 (RFC 8441), one stream per connection ---- */

/* nghttp2 writes frames straight to the socket (or TLS). */
static ssize_t
h2_send_cb(nghttp2_session *s, const uint8_t *data, size_t len, int flags,
    void *arg)
{
	struct conn	*c = arg;
	struct iovec	 iov = { (void *)(uintptr_t)data, len };
	ssize_t		 n;

	if ((n = raw_writev(c, &iov, 1)) >= 0)
		return (n);
	if (errno == EAGAIN) {
		c->h2_blocked = 1;
		return (NGHTTP2_ERR_WOULDBLOCK);
	}
	return (NGHTTP2_ERR_CALLBACK_FAILURE);
}

/* DATA for our stream: the queued iovecs (WebSocket frames), copied. */
static ssize_t
h2_read_cb(nghttp2_session *s, int32_t sid, uint8_t *buf, size_t len,
    uint32_t *flags, nghttp2_data_source *src, void *arg)
{
	struct conn	*c = arg;
	size_t		 k, done = 0;

	while (done < len && c->iovi < c->niov) {
		k = c->iov[c->iovi].iov_len;
		k = k < len - done ? k : len - done;
		memcpy(buf + done, c->iov[c->iovi].iov_base, k);
		done += k;
		c->iov[c->iovi].iov_base = (uint8_t *)c->iov[c->iovi].iov_base + k;
		if ((c->iov[c->iovi].iov_len -= k) == 0)
			c->iovi++;
	}
	if (c->iovi == c->niov)
		c->niov = c->iovi = 0;
	return (done > 0 ? (ssize_t)done : NGHTTP2_ERR_DEFERRED);
}

static int
h2_header_cb(nghttp2_session *s, const nghttp2_frame *f, const uint8_t *name,
    size_t namelen, const uint8_t *value, size_t valuelen, uint8_t flags,
    void *arg)
{
	struct conn	*c = arg;

	if (f->hd.stream_id == c->sid && namelen == 7 &&
	    memcmp(name, ":status", 7) == 0)
		c->h2_status = atoi((const char *)value);
	return (0);
}

static int
h2_frame_cb(nghttp2_session *s, const nghttp2_frame *f, void *arg)
{
	struct conn		*c = arg;
	nghttp2_data_provider	 dp;
	char			 auth[32];
	nghttp2_nv		 nv[6];
	const char		*names[] = { ":method", ":protocol", ":scheme",
				    ":path", ":authority",
				    "sec-websocket-version" };
	const char		*values[6];
	int			 i;

	/*
	 * RFC 8441 3: :protocol only once the server's SETTINGS allowed it;
	 * nghttp2 acknowledges them ahead of our HEADERS.
	 */
	if (f->hd.type == NGHTTP2_SETTINGS && !(f->hd.flags & NGHTTP2_FLAG_ACK) &&
	    c->sid == 0) {
		if (nghttp2_session_get_remote_settings(s,
		    NGHTTP2_SETTINGS_ENABLE_CONNECT_PROTOCOL) != 1)
			integrity(c, "h2: server does not allow extended CONNECT");
		snprintf(auth, sizeof auth, "127.0.0.1:%d",
		    ports[c->id % nports]);
		values[0] = "CONNECT";
		values[1] = "websocket";
		values[2] = use_tls ? "https" : "http";
		values[3] = path;
		values[4] = auth;
		values[5] = "13";
		for (i = 0; i < 6; i++) {
			nv[i].name = (uint8_t *)(uintptr_t)names[i];
			nv[i].namelen = strlen(names[i]);
			nv[i].value = (uint8_t *)(uintptr_t)values[i];
			nv[i].valuelen = strlen(values[i]);
			nv[i].flags = NGHTTP2_NV_FLAG_NONE;
		}
		dp.source.ptr = NULL;
		dp.read_callback = h2_read_cb;
		if ((c->sid = nghttp2_submit_request(s, NULL, nv, 6, &dp,
		    c)) < 0)
			integrity(c, "h2: cannot submit CONNECT");
		return (0);
	}
	if (f->hd.stream_id != c->sid || c->sid == 0)
		return (0);
	if (f->hd.type == NGHTTP2_HEADERS && c->state == C_HANDSHAKE) {
		if (c->h2_status != 200)
			integrity(c, "h2: CONNECT not answered with 200");
		conn_ready(c);
	}
	if (f->hd.flags & NGHTTP2_FLAG_END_STREAM)
		c->h2_end = 1;
	return (0);
}

static int
h2_data_cb(nghttp2_session *s, uint8_t flags, int32_t sid,
    const uint8_t *data, size_t len, void *arg)
{
	struct conn	*c = arg;

	if (sid == c->sid && c->state >= C_OPEN)
		ws_rx(c, data, len);
	return (0);
}

static int
h2_close_cb(nghttp2_session *s, int32_t sid, uint32_t err, void *arg)
{
	struct conn	*c = arg;

	if (sid == c->sid)
		c->h2_end = 1;
	return (0);
}

static nghttp2_session_callbacks	*h2_cbs;

/* Starts the h2 session on a connected (and TLS-established) socket. */
static void
h2_start(struct conn *c)
{
	nghttp2_settings_entry	iv[2] = {
		{ NGHTTP2_SETTINGS_ENABLE_PUSH, 0 },
		{ NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, 1 << 20 },
	};

	if (h2_cbs == NULL) {
		nghttp2_session_callbacks_new(&h2_cbs);
		nghttp2_session_callbacks_set_send_callback(h2_cbs, h2_send_cb);
		nghttp2_session_callbacks_set_on_header_callback(h2_cbs,
		    h2_header_cb);
		nghttp2_session_callbacks_set_on_frame_recv_callback(h2_cbs,
		    h2_frame_cb);
		nghttp2_session_callbacks_set_on_data_chunk_recv_callback(h2_cbs,
		    h2_data_cb);
		nghttp2_session_callbacks_set_on_stream_close_callback(h2_cbs,
		    h2_close_cb);
	}
	if (nghttp2_session_client_new(&c->h2, h2_cbs, c) != 0)
		die("nghttp2_session_client_new failed");
	nghttp2_submit_settings(c->h2, NGHTTP2_FLAG_NONE, iv, 2);
	nghttp2_session_set_local_window_size(c->h2, NGHTTP2_FLAG_NONE, 0,
	    16 << 20);
	c->state = C_HANDSHAKE;
	if (h2_flush(c) == -1)
		conn_lost(c, "write");
}

/* Hands queued frames to nghttp2 and writes what it has. */
static int
h2_flush(struct conn *c)
{
	if (c->in_h2)
		return (0);	/* the caller of mem_recv flushes */
	if (c->sid > 0 && c->niov > c->iovi)
		(void)nghttp2_session_resume_data(c->h2, c->sid);
	c->h2_blocked = 0;
	if (nghttp2_session_send(c->h2) != 0)
		return (-1);
	want(c, c->h2_blocked ? EPOLLIN | EPOLLOUT : EPOLLIN);
	return (0);
}

/* Bytes read from the socket into the h2 session. */
static int
h2_rx(struct conn *c, const uint8_t *p, size_t n)
{
	ssize_t	r;

	c->in_h2 = 1;
	r = nghttp2_session_mem_recv(c->h2, p, n);
	c->in_h2 = 0;
	if (r < 0) {
		fprintf(stderr, "wsload: conn %u: h2: %s\n", c->id,
		    nghttp2_strerror((int)r));
		return (-1);
	}
	return (0);
}

/* ---- connection setup ---- */

/* TCP is up (and TLS when asked): send the upgrade or start h2. */
static void
conn_transport_up(struct conn *c)
{
	if (!use_ws) {
		want(c, EPOLLIN);
		conn_ready(c);
		return;
	}
	if (use_h2) {
		h2_start(c);
		return;
	}
	c->state = C_HANDSHAKE;
	c->resp = malloc(RESP_MAX);
	queue(c, req, req_len);
	if (conn_flush(c) == -1)
		conn_lost(c, "write");
}

static void
conn_tls_step(struct conn *c)
{
	int	r;

	ERR_clear_error();
	if ((r = SSL_do_handshake(c->ssl)) == 1) {
		if (use_h2 && !tls_is_h2(c))
			integrity(c, "TLS: ALPN did not choose h2");
		conn_transport_up(c);
		return;
	}
	switch (SSL_get_error(c->ssl, r)) {
	case SSL_ERROR_WANT_READ:
		want(c, EPOLLIN);
		break;
	case SSL_ERROR_WANT_WRITE:
		want(c, EPOLLOUT);
		break;
	default:
		errno = EPROTO;
		conn_lost(c, "TLS handshake");
		break;
	}
}

static void
conn_finish_cycle(struct conn *c)
{
	uint32_t	id = c->id;

	conn_layers_free(c);
	close(c->fd);
	c->fd = -1;
	c->state = C_DONE;
	if (in_window)
		cnt_msgs++;
	free(c->iov);
	free(c);
	conns[id] = NULL;
	if (running)
		conn_new(id);
}

static void
conn_io(struct conn *c, unsigned events)
{
	ssize_t		n;
	int		err = 0;
	socklen_t	len = sizeof err;

	errno = 0;
	if (c->state == C_CONNECTING) {
		if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1 ||
		    err != 0) {
			errno = err;
			conn_lost(c, "connect");
			return;
		}
		if (!use_tls) {
			conn_transport_up(c);
			return;
		}
		c->state = C_TLS;
		if ((c->ssl = SSL_new(tls_ctx)) == NULL ||
		    SSL_set_fd(c->ssl, c->fd) != 1)
			die("SSL_new failed");
		SSL_set_connect_state(c->ssl);
		conn_tls_step(c);
		return;
	}
	if (c->state == C_TLS) {
		conn_tls_step(c);
		return;
	}
	if (events & EPOLLOUT) {
		if (conn_flush(c) == -1) {
			conn_lost(c, "write");
			return;
		}
		if (mode == UP && c->state == C_OPEN && running)
			up_pump(c);
		if (c->state == C_DONE)
			return;
	}
	if (!(events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
		return;
	for (;;) {
		n = raw_read(c, rbuf, RBUF);
		if (n == -1 && errno == EAGAIN)
			break;
		if (n <= 0) {
			if (mode == HS && c->got_close && n == 0) {
				conn_finish_cycle(c);
				return;
			}
			conn_lost(c, n == 0 ? "EOF" : "read");
			return;
		}
		if (c->h2 != NULL) {
			if (h2_rx(c, rbuf, n) == -1) {
				conn_lost(c, "h2");
				return;
			}
			if (c->h2_end || (mode == HS && c->got_close)) {
				/* hs: the close handshake is done, hang up */
				if (mode == HS && c->got_close) {
					conn_finish_cycle(c);
					return;
				}
				errno = 0;
				conn_lost(c, "h2 stream ended");
				return;
			}
		} else if (c->state == C_HANDSHAKE)
			hs_rx(c, rbuf, n);
		else if (use_ws)
			ws_rx(c, rbuf, n);
		else
			consume(c, rbuf, n);
		if (c->state == C_CLOSING && !use_ws) {
			conn_finish_cycle(c);	/* raw hs: echo done */
			return;
		}
		if ((c->niov > 0 || c->h2 != NULL) && conn_flush(c) == -1) {
			conn_lost(c, "write");
			return;
		}
		if (mode == UP && c->state == C_OPEN && running &&
		    c->niov == 0)
			up_pump(c);
		/* TLS returns a record per read: read until it would block. */
		if (n < RBUF && c->ssl == NULL)
			break;
	}
}

static void
conn_new(uint32_t id)
{
	struct epoll_event	 ev;
	struct conn		*c;

	c = calloc(1, sizeof *c);
	c->id = id;
	c->iov = calloc(mode == UP ? IOVN : 4, sizeof *c->iov);
	if (mode == UP)
		c->hbuf = malloc(14 * IOVN);
	conns[id] = c;
	nstarted++;
	if ((c->fd = connect_from(ports[id % nports],
	    mode == HS ? 2 + nstarted % 250 : 0)) == -1) {
		conn_lost(c, "socket");
		return;
	}
	c->events = EPOLLOUT;
	ev.events = EPOLLOUT;
	ev.data.ptr = c;
	epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev);
}

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t	x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x < y ? -1 : x > y);
}

/* Runs the loop until deadline (ns) or until done() says so. */
static void
loop_until(uint64_t deadline, int (*done)(void))
{
	struct epoll_event	evs[512];
	int			n, i, ms;
	uint64_t		t;

	while ((t = now_ns()) < deadline && (done == NULL || !done())) {
		ms = (int)((deadline - t) / 1000000) + 1;
		n = epoll_wait(ep, evs, 512, ms > 100 ? 100 : ms);
		for (i = 0; i < n; i++)
			conn_io(evs[i].data.ptr, evs[i].events);
	}
}

static int
all_open(void)
{
	return (nopen + nlost >= nconns);
}

static int	wave;

static int
wave_open(void)
{
	return (nopen + nlost >= wave);
}

static int
all_echoed(void)
{
	return (ndone + nlost >= nconns);
}

static void
parse_ports(const char *s)
{
	char	*copy = strdup(s), *tok, *save;

	for (tok = strtok_r(copy, ",", &save); tok != NULL && nports < 16;
	    tok = strtok_r(NULL, ",", &save))
		ports[nports++] = atoi(tok);
	free(copy);
}

int
main(int argc, char **argv)
{
	double		 cpu0 = 0, cpu1, pc0 = 0, pc1, bc0 = 0, bc1, secs;
	double		 mem0 = 0, mem1 = 0;
	const char	*names[] = { "up", "down", "echo", "hs", "idle" };
	int		 ch, i;
	size_t		 j;

	while ((ch = getopt(argc, argv, "m:p:wt2c:s:d:W:x:b:P:")) != -1) {
		switch (ch) {
		case 'm':
			for (i = 0; i < 5; i++)
				if (strcmp(optarg, names[i]) == 0)
					mode = i;
			if (strcmp(optarg, names[mode]) != 0)
				die("unknown mode %s", optarg);
			break;
		case 'p': parse_ports(optarg); break;
		case 'w': use_ws = 1; break;
		case 't': use_tls = 1; break;
		case '2': use_h2 = 1; break;
		case 'c': nconns = atoi(optarg); break;
		case 's': msg_size = strtoul(optarg, NULL, 10); break;
		case 'd': duration = atof(optarg); break;
		case 'W': warmup = atof(optarg); break;
		case 'x': proxy_pid = atoi(optarg); break;
		case 'b': backend_pid = atoi(optarg); break;
		case 'P': path = optarg; break;
		default:
			die("usage: see the comment at the top of wsload.c");
		}
	}
	if (nports == 0 || nconns < 1)
		die("wsload: need -p PORT and -c >= 1");
	if (mode == HS || mode == IDLE)
		msg_size = 64;
	if (msg_size % 4 != 0 || msg_size > PAT_SLACK - 16 ||
	    ((mode == ECHO) && (msg_size < 16 || msg_size > ECHO_MAX)))
		die("wsload: bad message size %zu", msg_size);
	if (use_h2 && !use_ws)
		die("wsload: -2 needs -w");
	signal(SIGPIPE, SIG_IGN);
	if (use_tls) {
		static const unsigned char	alpn_h2[] = "\x02h2";
		static const unsigned char	alpn_h1[] = "\x08http/1.1";

		if ((tls_ctx = SSL_CTX_new(TLS_client_method())) == NULL)
			die("SSL_CTX_new failed");
		SSL_CTX_set_verify(tls_ctx, SSL_VERIFY_NONE, NULL);
		SSL_CTX_set_mode(tls_ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
		    SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
		if (use_h2)
			SSL_CTX_set_alpn_protos(tls_ctx, alpn_h2, 3);
		else if (use_ws)
			SSL_CTX_set_alpn_protos(tls_ctx, alpn_h1, 9);
	}
	pat_init();
	if ((mpat = malloc(PAT_P + PAT_SLACK)) == NULL)
		die("out of memory");
	for (j = 0; j < PAT_P + PAT_SLACK; j++)
		mpat[j] = pat[j] ^ mkey[j & 3];
	req_len = snprintf(req, sizeof req, "GET %s HTTP/1.1\r\n"
	    "Host: 127.0.0.1:%d\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
	    "Sec-WebSocket-Key: " WS_KEY "\r\nSec-WebSocket-Version: 13\r\n\r\n",
	    path, ports[0]);
	ep = epoll_create1(EPOLL_CLOEXEC);
	conns = calloc(nconns, sizeof *conns);

	if (mode == IDLE)
		mem0 = tree_pss(proxy_pid);
	if (mode != HS) {
		/*
		 * Open in waves so no listen backlog overflows (a forking
		 * peer takes a while per connection).
		 */
		for (i = 0; i < nconns; i++) {
			conn_new(i);
			if (i % 100 == 99 || i == nconns - 1) {
				wave = i + 1;
				loop_until(now_ns() + 30000000000ULL, wave_open);
			}
		}
	}
	if (mode != HS) {
		loop_until(now_ns() + 60000000000ULL, all_open);
		if (!all_open())
			die("wsload: only %d of %d connections opened in 60 s",
			    nopen, nconns);
	}
	if (nlost > 0) {
		/* The peer would not take them: no result, but no bad byte. */
		printf("RESULT mode=%s open_failed=%d integrity=DNF what=\"%d "
		    "of %d connections failed to open\"\n", names[mode], nlost,
		    nlost, nconns);
		return (2);
	}
	t_open = now_ns();

	if (mode == IDLE) {
		loop_until(now_ns() + 1000000000ULL, NULL);	/* settle */
		mem1 = tree_pss(proxy_pid);
		in_window = 1;
		for (i = 0; i < nconns; i++) {
			echo_send(conns[i]);
			if (conn_flush(conns[i]) == -1)
				conn_lost(conns[i], "write");
		}
		loop_until(now_ns() + 60000000000ULL, all_echoed);
		if (ndone != nconns)
			integrity(conns[0], "idle connections did not all echo");
		printf("RESULT mode=idle conns=%d mem_before=%.0f mem_after=%.0f "
		    "mem_per_conn=%.1f lost=%d integrity=ok\n", nconns, mem0,
		    mem1, (mem1 - mem0) / nconns, nlost);
		return (0);
	}

	if (mode == HS)
		for (i = 0; i < nconns; i++)
			conn_new(i);
	else
		for (i = 0; i < nconns; i++)
			if (conns[i]->state == C_OPEN)
				conn_start_traffic(conns[i]);
	loop_until(t_open + (uint64_t)(warmup * 1e9), NULL);
	in_window = 1;
	t_w0 = now_ns();
	cpu0 = self_cpu();
	pc0 = tree_cpu(proxy_pid);
	bc0 = tree_cpu(backend_pid);
	loop_until(t_w0 + (uint64_t)(duration * 1e9), NULL);
	t_w1 = now_ns();
	cpu1 = self_cpu();
	pc1 = tree_cpu(proxy_pid);
	bc1 = tree_cpu(backend_pid);
	in_window = 0;
	running = 0;
	secs = (t_w1 - t_w0) / 1e9;
	if (mode == UP || mode == DOWN)
		cnt_msgs = cnt_bytes / msg_size;
	qsort(lat, nlat, sizeof *lat, cmp_u64);
	printf("RESULT mode=%s ws=%d tls=%d h2=%d conns=%d size=%zu secs=%.3f "
	    "bytes=%llu "
	    "msgs=%llu mib_s=%.2f msg_s=%.1f p50_us=%.1f p99_us=%.1f "
	    "proxy_cpu=%.3f backend_cpu=%.3f gen_cpu=%.3f lost=%d "
	    "integrity=%s\n", names[mode], use_ws, use_tls, use_h2, nconns,
	    msg_size, secs,
	    (unsigned long long)cnt_bytes, (unsigned long long)cnt_msgs,
	    cnt_bytes / secs / 1048576, cnt_msgs / secs,
	    nlat ? lat[nlat / 2] / 1e3 : 0, nlat ? lat[nlat * 99 / 100] / 1e3 : 0,
	    pc1 - pc0, bc1 - bc0, cpu1 - cpu0, nlost,
	    nlost == 0 && (cnt_msgs > 0) ? "ok" : "FAIL");
	fflush(stdout);
	if (nlost > 0 || cnt_msgs == 0) {
		fprintf(stderr, "INTEGRITY FAILURE: %d connections lost, %llu "
		    "messages\n", nlost, (unsigned long long)cnt_msgs);
		return (1);
	}
	return (0);
}
