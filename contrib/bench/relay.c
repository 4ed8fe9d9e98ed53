/*
 * relay.c -- the floor: a bare single-threaded TCP-to-TCP relay. epoll,
 * non-blocking, one 256 KiB buffer per direction (wsbridge's default
 * buffer-size), TCP_NODELAY, writes as soon as it has read.
 *   relay LISTEN_PORT TARGET_PORT
 */
#include "bench.h"

#define BUFSZ	(256 * 1024)

struct end {
	int		 fd;
	unsigned	 events;
	struct end	*peer;
	uint8_t		*buf;		/* bytes read from peer, to write to fd */
	size_t		 off, len;
	int		 eof;		/* peer sent FIN; shut our write side when empty */
	int		 rd_done;	/* we read EOF from fd */
	int		 shut;		/* our write side is shut */
	int		 dead;		/* freed after this epoll batch */
};

static struct end	*dead[512];
static int		 ndead;

static int	ep;

static void
end_want(struct end *e)
{
	struct epoll_event	ev;
	unsigned		want = 0;

	if (!e->rd_done && e->peer->len < BUFSZ)
		want |= EPOLLIN;
	if (e->len > 0)
		want |= EPOLLOUT;
	if (want == e->events)
		return;
	ev.events = want;
	ev.data.ptr = e;
	epoll_ctl(ep, EPOLL_CTL_MOD, e->fd, &ev);
	e->events = want;
}

/* Closes both sockets now; frees the pair after the batch (other events in it may point at it). */
static void
pair_kill(struct end *a)
{
	if (a->dead)
		return;
	a->dead = a->peer->dead = 1;
	close(a->fd);
	close(a->peer->fd);
	dead[ndead++] = a;
}

static void
reap(void)
{
	struct end	*a;

	while (ndead > 0) {
		a = dead[--ndead];
		free(a->peer->buf);
		free(a->peer);
		free(a->buf);
		free(a);
	}
}

/* Writes what e holds. Returns -1 on a socket error. */
static int
end_flush(struct end *e)
{
	ssize_t	n;

	while (e->len > 0) {
		n = write(e->fd, e->buf + e->off, e->len);
		if (n == -1)
			return (errno == EAGAIN ? 0 : -1);
		e->off += n;
		e->len -= n;
	}
	e->off = 0;
	if (e->eof && !e->shut) {
		e->shut = 1;
		if (shutdown(e->fd, SHUT_WR) == -1)
			return (-1);
	}
	return (0);
}

/* Reads from e into its peer's buffer and writes it on at once. */
static int
end_read(struct end *e)
{
	struct end	*p = e->peer;
	ssize_t		 n;

	if (p->off > 0 && p->len > 0)
		memmove(p->buf, p->buf + p->off, p->len);
	p->off = 0;
	n = read(e->fd, p->buf + p->len, BUFSZ - p->len);
	if (n == -1)
		return (errno == EAGAIN ? 0 : -1);
	if (n == 0) {
		e->rd_done = 1;
		p->eof = 1;
	}
	p->len += n;
	return (end_flush(p));
}

int
main(int argc, char **argv)
{
	struct epoll_event	 ev, evs[256];
	struct end		*a, *b, *e;
	int			 lfd, fd, i, n, target;

	if (argc != 3)
		die("usage: relay LISTEN_PORT TARGET_PORT");
	target = atoi(argv[2]);
	signal(SIGPIPE, SIG_IGN);
	lfd = listen_on(atoi(argv[1]), "relay");
	ep = epoll_create1(EPOLL_CLOEXEC);
	ev.events = EPOLLIN;
	ev.data.ptr = NULL;
	epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
	for (;;) {
		n = epoll_wait(ep, evs, 256, -1);
		reap();
		for (i = 0; i < n; i++) {
			if ((e = evs[i].data.ptr) == NULL) {
				while ((fd = accept4(lfd, NULL, NULL,
				    SOCK_NONBLOCK | SOCK_CLOEXEC)) != -1) {
					sock_tune(fd);
					a = calloc(1, sizeof *a);
					b = calloc(1, sizeof *b);
					a->fd = fd;
					if ((b->fd = connect_to(target)) == -1) {
						close(fd);
						free(a);
						free(b);
						continue;
					}
					a->peer = b;
					b->peer = a;
					a->buf = malloc(BUFSZ);
					b->buf = malloc(BUFSZ);
					a->events = b->events = EPOLLIN;
					ev.events = EPOLLIN;
					ev.data.ptr = a;
					epoll_ctl(ep, EPOLL_CTL_ADD, a->fd, &ev);
					ev.data.ptr = b;
					epoll_ctl(ep, EPOLL_CTL_ADD, b->fd, &ev);
				}
				continue;
			}
			if (e->dead)
				continue;
			if (evs[i].events & EPOLLOUT && end_flush(e) == -1)
				goto fail;
			if (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR) &&
			    (e->rd_done || end_read(e) == -1))
				goto fail;
			if ((e->rd_done && e->peer->rd_done && e->len == 0 &&
			    e->peer->len == 0)) {
				pair_kill(e);
				continue;
			}
			end_want(e);
			end_want(e->peer);
			continue;
fail:
			pair_kill(e);
		}
	}
}
