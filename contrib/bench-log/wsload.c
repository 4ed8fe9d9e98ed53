/*
 * wsload.c -- a small WebSocket load generator for the frame log benchmark:
 * C connections to ws://HOST:PORT/PATH, each keeping W binary messages of
 * S bytes in flight against an echo route, for D seconds after a warm-up.
 * Prints messages/s and MiB/s of echoed payload. One thread, epoll.
 *
 *   wsload [-c conns] [-w window] [-s size] [-d seconds] HOST PORT PATH
 */
#include <sys/epoll.h>
#include <sys/socket.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct conn {
	int		 fd;
	uint8_t		*out;		/* one message frame, sent repeatedly */
	size_t		 out_len, out_off;	/* progress in the current copy */
	unsigned	 inflight;
	/* Frame parser state. */
	uint8_t		 hdr[14];
	size_t		 hdr_have, hdr_need;
	uint64_t	 skip;		/* payload bytes left in this frame */
	int		 fin;
};

static uint64_t		 msgs, bytes;

static double
now(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((double)ts.tv_sec + (double)ts.tv_nsec / 1e9);
}

static void
die(const char *what)
{
	fprintf(stderr, "wsload: %s: %s\n", what, strerror(errno));
	exit(1);
}

/* Connects and upgrades; blocking, then switches to non-blocking. */
static int
open_ws(const char *host, int port, const char *path)
{
	struct sockaddr_in	sin;
	char			req[512], resp[4096];
	size_t			have = 0;
	ssize_t			n;
	int			fd, one = 1;

	if ((fd = socket(AF_INET, SOCK_STREAM, 0)) == -1)
		die("socket");
	memset(&sin, 0, sizeof sin);
	sin.sin_family = AF_INET;
	sin.sin_port = htons(port);
	inet_pton(AF_INET, host, &sin.sin_addr);
	if (connect(fd, (struct sockaddr *)&sin, sizeof sin) == -1)
		die("connect");
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: %s:%d\r\n"
	    "Upgrade: websocket\r\nConnection: Upgrade\r\n"
	    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
	    "Sec-WebSocket-Version: 13\r\n\r\n", path, host, port);
	if (write(fd, req, strlen(req)) != (ssize_t)strlen(req))
		die("write");
	while (have < sizeof resp - 1) {
		if ((n = read(fd, resp + have, 1)) <= 0)
			die("read handshake");
		have += (size_t)n;
		resp[have] = '\0';
		if (have >= 4 && strcmp(resp + have - 4, "\r\n\r\n") == 0)
			break;
	}
	if (strncmp(resp, "HTTP/1.1 101", 12) != 0) {
		fprintf(stderr, "wsload: no 101: %.60s\n", resp);
		exit(1);
	}
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	return (fd);
}

/* A masked binary frame of size bytes (mask 0: payload as is). */
static uint8_t *
build_frame(size_t size, size_t *len)
{
	uint8_t	*f;
	size_t	 h = 2;

	f = calloc(1, size + 14);
	f[0] = 0x82;
	if (size < 126)
		f[1] = 0x80 | (uint8_t)size;
	else if (size < 65536) {
		f[1] = 0x80 | 126;
		f[2] = (uint8_t)(size >> 8);
		f[3] = (uint8_t)size;
		h = 4;
	} else {
		f[1] = 0x80 | 127;
		for (int i = 0; i < 8; i++)
			f[2 + i] = (uint8_t)((uint64_t)size >> (56 - 8 * i));
		h = 10;
	}
	h += 4;				/* the zero mask */
	memset(f + h, 'm', size);
	*len = h + size;
	return (f);
}

/* Feeds received bytes to the frame parser; counts messages. */
static void
parse(struct conn *c, const uint8_t *p, size_t n)
{
	size_t	k, i;

	while (n > 0) {
		if (c->skip > 0) {
			k = c->skip < n ? (size_t)c->skip : n;
			c->skip -= k;
			bytes += k;
			p += k;
			n -= k;
			if (c->skip == 0 && c->fin) {
				msgs++;
				c->inflight--;
			}
			continue;
		}
		c->hdr[c->hdr_have++] = *p++;
		n--;
		if (c->hdr_have == 2) {
			k = c->hdr[1] & 0x7f;
			c->hdr_need = k == 126 ? 4 : k == 127 ? 10 : 2;
		}
		if (c->hdr_have < 2 || c->hdr_have < c->hdr_need)
			continue;
		k = c->hdr[1] & 0x7f;
		if (k == 126)
			c->skip = (uint64_t)c->hdr[2] << 8 | c->hdr[3];
		else if (k == 127)
			for (c->skip = 0, i = 2; i < 10; i++)
				c->skip = c->skip << 8 | c->hdr[i];
		else
			c->skip = k;
		c->fin = (c->hdr[0] & 0x80) != 0 && (c->hdr[0] & 0x0f) <= 2;
		c->hdr_have = 0;
		if (c->skip == 0 && c->fin) {
			msgs++;
			c->inflight--;
		}
	}
}

int
main(int argc, char **argv)
{
	struct epoll_event	 ev, evs[64];
	struct conn		*conns;
	uint8_t			 buf[256 * 1024];
	unsigned		 nconns = 4, window = 64, i;
	size_t			 size = 64, flen;
	double			 secs = 5, warm = 1, t0, tstart = 0;
	uint64_t		 m0 = 0, b0 = 0;
	uint8_t			*frame;
	ssize_t			 n;
	int			 ch, ep, k, measuring = 0;

	while ((ch = getopt(argc, argv, "c:w:s:d:")) != -1) {
		switch (ch) {
		case 'c': nconns = (unsigned)atoi(optarg); break;
		case 'w': window = (unsigned)atoi(optarg); break;
		case 's': size = (size_t)atol(optarg); break;
		case 'd': secs = atof(optarg); break;
		default:
			fprintf(stderr, "usage: wsload [-c conns] [-w window] "
			    "[-s size] [-d seconds] HOST PORT PATH\n");
			return (2);
		}
	}
	if (optind + 3 != argc) {
		fprintf(stderr, "wsload: need HOST PORT PATH\n");
		return (2);
	}
	frame = build_frame(size, &flen);
	conns = calloc(nconns, sizeof *conns);
	if ((ep = epoll_create1(0)) == -1)
		die("epoll_create1");
	for (i = 0; i < nconns; i++) {
		conns[i].fd = open_ws(argv[optind], atoi(argv[optind + 1]),
		    argv[optind + 2]);
		conns[i].out = frame;
		conns[i].out_len = flen;
		ev.events = EPOLLIN | EPOLLOUT;
		ev.data.ptr = &conns[i];
		epoll_ctl(ep, EPOLL_CTL_ADD, conns[i].fd, &ev);
	}
	t0 = now();
	for (;;) {
		double	t = now();

		if (!measuring && t - t0 >= warm) {
			measuring = 1;
			tstart = t;
			m0 = msgs;
			b0 = bytes;
		}
		if (measuring && t - tstart >= secs)
			break;
		k = epoll_wait(ep, evs, 64, 100);
		for (int j = 0; j < k; j++) {
			struct conn	*c = evs[j].data.ptr;

			if (evs[j].events & EPOLLIN) {
				while ((n = read(c->fd, buf, sizeof buf)) > 0)
					parse(c, buf, (size_t)n);
				if (n == 0) {
					fprintf(stderr, "wsload: server closed\n");
					return (1);
				}
			}
			/* Keep the window full: whole frames, resumably. */
			while (c->inflight < window || c->out_off > 0) {
				n = write(c->fd, c->out + c->out_off,
				    c->out_len - c->out_off);
				if (n <= 0)
					break;
				c->out_off += (size_t)n;
				if (c->out_off == c->out_len) {
					c->out_off = 0;
					c->inflight++;
				}
			}
		}
	}
	t0 = now() - tstart;
	printf("%u conns, window %u, %zu-byte messages: %.0f msgs/s, "
	    "%.1f MiB/s echoed\n", nconns, window, size,
	    (double)(msgs - m0) / t0, (double)(bytes - b0) / t0 / 1048576.0);
	return (0);
}
