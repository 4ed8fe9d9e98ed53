/*
 * wsbback.c -- the benchmark's TCP backends, one epoll loop each:
 *   wsbback sink PORT      checks every byte against the pattern (bench.h)
 *                          and acks the count of verified bytes (8 bytes, LE)
 *                          every 64 KiB; ~0 means corruption, then closes
 *   wsbback source PORT S  sends the pattern in S-byte send() calls
 *   wsbback echo PORT      writes back what it reads
 * A corrupted stream is also reported on stderr as "INTEGRITY FAILURE".
 */
#include "bench.h"

enum mode { SINK, SOURCE, ECHO };

struct conn {
	int		 fd;
	unsigned	 events;
	/* sink */
	uint8_t		 hdr[HDR_LEN];
	size_t		 hdr_got;
	uint32_t	 start;
	uint64_t	 verified, acked;
	uint8_t		 out[64];	/* pending acks */
	size_t		 out_len;
	int		 bad;
	/* source */
	uint64_t	 sent;
	/* echo */
	uint8_t		*ebuf;
	size_t		 eoff, elen;
};

static enum mode	 mode;
static size_t		 msg_size = 65536;
static int		 ep;
static uint8_t		 rbuf[256 * 1024];
static uint32_t		 next_start;

static void
conn_close(struct conn *c)
{
	close(c->fd);
	free(c->ebuf);
	free(c);
}

static void
conn_want(struct conn *c, unsigned events)
{
	struct epoll_event	ev;

	if (events == c->events)
		return;
	ev.events = events;
	ev.data.ptr = c;
	if (epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev) == -1)
		die("epoll_ctl: %s", strerror(errno));
	c->events = events;
}

/* Returns -1 when the connection should close. */
static int
sink_flush(struct conn *c)
{
	ssize_t	n;

	while (c->out_len > 0) {
		n = write(c->fd, c->out, c->out_len);
		if (n == -1 && errno == EAGAIN) {
			conn_want(c, EPOLLIN | EPOLLOUT);
			return (0);
		}
		if (n <= 0)
			return (-1);
		memmove(c->out, c->out + n, c->out_len - n);
		c->out_len -= n;
	}
	conn_want(c, EPOLLIN);
	return (c->bad ? -1 : 0);
}

static void
sink_ack(struct conn *c, uint64_t v)
{
	if (c->out_len + 8 > sizeof c->out)
		return;		/* a later, larger count will do */
	put64(c->out + c->out_len, v);
	c->out_len += 8;
	c->acked = c->verified;
}

static int
sink_data(struct conn *c, const uint8_t *p, size_t n)
{
	size_t	k, off;

	while (n > 0 && c->hdr_got < HDR_LEN) {
		c->hdr[c->hdr_got++] = *p++;
		n--;
		if (c->hdr_got == HDR_LEN) {
			c->start = get32(c->hdr + 4);
			if (get32(c->hdr) != PAT_MAGIC || c->start >= PAT_P) {
				fprintf(stderr, "INTEGRITY FAILURE: sink: bad "
				    "stream header\n");
				c->bad = 1;
			}
		}
	}
	while (n > 0 && !c->bad) {
		off = (c->start + c->verified) % PAT_P;
		k = n < PAT_SLACK ? n : PAT_SLACK;
		if (memcmp(p, pat + off, k) != 0) {
			fprintf(stderr, "INTEGRITY FAILURE: sink: byte %llu of "
			    "a stream differs\n",
			    (unsigned long long)c->verified);
			c->bad = 1;
			break;
		}
		c->verified += k;
		p += k;
		n -= k;
	}
	if (c->bad) {
		c->out_len = 0;
		sink_ack(c, ~0ULL);
		(void)sink_flush(c);
		return (-1);
	}
	if (c->verified - c->acked >= 65536)
		sink_ack(c, c->verified);
	return (sink_flush(c));
}

static int
source_pump(struct conn *c)
{
	uint8_t	hdr[HDR_LEN];
	size_t	off;
	ssize_t	n;

	if (c->sent == 0 && c->hdr_got == 0) {
		c->start = next_start;
		next_start = (next_start + 4 * 7919) % PAT_P;
		put32(hdr, PAT_MAGIC);
		put32(hdr + 4, c->start);
		if (write(c->fd, hdr, HDR_LEN) != HDR_LEN)
			return (-1);
		c->hdr_got = HDR_LEN;
	}
	for (;;) {
		off = (c->start + c->sent) % PAT_P;
		n = send(c->fd, pat + off, msg_size, MSG_NOSIGNAL);
		if (n == -1 && errno == EAGAIN) {
			conn_want(c, EPOLLIN | EPOLLOUT);
			return (0);
		}
		if (n <= 0)
			return (-1);
		c->sent += n;
	}
}

static int
echo_io(struct conn *c)
{
	ssize_t	n;

	for (;;) {
		if (c->elen > 0) {
			n = write(c->fd, c->ebuf + c->eoff, c->elen);
			if (n == -1 && errno == EAGAIN) {
				conn_want(c, EPOLLOUT);
				return (0);
			}
			if (n <= 0)
				return (-1);
			c->eoff += n;
			c->elen -= n;
			if (c->elen > 0)
				continue;
			conn_want(c, EPOLLIN);
		}
		n = read(c->fd, c->ebuf, 65536);
		if (n == -1 && errno == EAGAIN)
			return (0);
		if (n <= 0)
			return (-1);
		c->eoff = 0;
		c->elen = n;
	}
}

static int
conn_io(struct conn *c, unsigned events)
{
	ssize_t	n;

	switch (mode) {
	case ECHO:
		return (echo_io(c));
	case SOURCE:
		if (events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
			n = read(c->fd, rbuf, sizeof rbuf);
			if (n == 0 || (n == -1 && errno != EAGAIN))
				return (-1);
		}
		return (source_pump(c));
	case SINK:
		if (events & EPOLLOUT && sink_flush(c) == -1)
			return (-1);
		if (!(events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
			return (0);
		for (;;) {
			n = read(c->fd, rbuf, sizeof rbuf);
			if (n == -1 && errno == EAGAIN)
				return (0);
			if (n <= 0)
				return (-1);
			if (sink_data(c, rbuf, n) == -1)
				return (-1);
			if ((size_t)n < sizeof rbuf)
				return (0);
		}
	}
	return (-1);
}

int
main(int argc, char **argv)
{
	struct epoll_event	 ev, evs[256];
	struct conn		*c;
	int			 lfd, fd, i, n;

	if (argc < 3)
		die("usage: wsbback sink|source|echo PORT [MSG_SIZE]");
	if (strcmp(argv[1], "sink") == 0)
		mode = SINK;
	else if (strcmp(argv[1], "source") == 0)
		mode = SOURCE;
	else if (strcmp(argv[1], "echo") == 0)
		mode = ECHO;
	else
		die("unknown mode %s", argv[1]);
	if (argc > 3 && (msg_size = strtoul(argv[3], NULL, 10)) == 0)
		die("bad message size");
	if (msg_size > PAT_SLACK)
		die("message size above %d", PAT_SLACK);
	pat_init();
	signal(SIGPIPE, SIG_IGN);
	lfd = listen_on(atoi(argv[2]), argv[1]);
	if ((ep = epoll_create1(EPOLL_CLOEXEC)) == -1)
		die("epoll: %s", strerror(errno));
	ev.events = EPOLLIN;
	ev.data.ptr = NULL;
	epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
	for (;;) {
		n = epoll_wait(ep, evs, 256, -1);
		for (i = 0; i < n; i++) {
			if ((c = evs[i].data.ptr) != NULL) {
				if (conn_io(c, evs[i].events) == -1)
					conn_close(c);
				continue;
			}
			while ((fd = accept4(lfd, NULL, NULL,
			    SOCK_NONBLOCK | SOCK_CLOEXEC)) != -1) {
				sock_tune(fd);
				c = calloc(1, sizeof *c);
				c->fd = fd;
				if (mode == ECHO)
					c->ebuf = malloc(65536);
				c->events = mode == SOURCE ?
				    EPOLLIN | EPOLLOUT : EPOLLIN;
				ev.events = c->events;
				ev.data.ptr = c;
				epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
			}
		}
	}
}
