/*
 * sockread.c -- the tunnels' read path on plain sockets. libevent 2.1's
 * bufferevent_socket asks ioctl(FIONREAD) before every read (3 syscalls a
 * message where a bare relay makes 2), reads at most 4 KiB per readiness
 * event, and its read watermark callback runs on every drain of the input
 * (an event_add each). Here a persistent read event on the socket does one
 * readv per readiness straight into an input buffer of our own
 * (evbuffer_reserve_space/evbuffer_commit_space: no copy), sized by what
 * the last reads brought, and the input's bound is checked by us. The
 * bufferevent keeps its output and its write event.
 */
#include "wsb_autoconf.h"

#include <sys/uio.h>

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>

#include "sockread.h"
#include "util.h"

/*
 * Read sizes are powers of two less SOCKREAD_SLACK, so a chain libevent
 * allocates for one (its header included) fits the power of two instead
 * of taking the next one up. Small messages get 1 KiB chains (malloc's
 * fastest sizes); a read that fills its space doubles the next one (bulk
 * transfers reach 256 KiB in a few reads), one that fills under a quarter
 * halves it. Bytes beyond the guess land in a spill buffer in the same
 * readv and are copied in: a burst is never cut in two reads (a backend's
 * write stays one message), and no ioctl(FIONREAD) is needed to size it.
 */
#define SOCKREAD_SLACK	128
#define SOCKREAD_MIN	1024
#define SOCKREAD_MAX	(256 * 1024)
#define SOCKREAD_SPILL	(64 * 1024)

/*
 * A large read for an owner that takes its input in pieces of at most
 * chain bytes (a backend's bytes framed for the client) is laid in chains
 * of that size, one per evbuffer here, moved to the input whole: a piece
 * is then a chain, and when the client's socket takes only part of a frame
 * the rest moves to its output without a copy (evbuffer_remove_buffer()
 * copies the part of a chain it splits). libevent's reserve gives one new
 * chain at most, hence the helper buffers.
 */
#define SOCKREAD_CHAIN_MIN	(16 * 1024)
#define SOCKREAD_PIECES		8

/*
 * The flat path: while the reads are this small and the input is empty, a
 * read goes into the scratch buffer and the owner frames or unframes it
 * from there (sockread_set_flat). A small message then costs no chain
 * allocated and freed, no reserve, commit, peek or drain, and none of the
 * evbuffer's cache lines: with a thousand connections those misses were
 * most of what the event loop spent on a message beyond the system calls.
 */
#define SOCKREAD_FLAT_MAX	(4 * 1024)

/*
 * Scratch space for the reads of one event loop thread (workers N runs
 * several): these serve every socket of that thread.
 */
static __thread uint8_t		 sockread_spill[SOCKREAD_SPILL];
static __thread struct evbuffer	*sockread_piece[SOCKREAD_PIECES];
static __thread int		 sockread_flat_busy;	/* spill lent out */

struct sockread {
	struct event		*ev;
	struct evbuffer		*in;		/* what was read, not yet taken */
	size_t			 limit;		/* input bound */
	size_t			 chain;		/* largest chain, 0: any */
	size_t			 size;		/* next guess's power of two */
	sockread_cb		*cb;
	sockread_flat_cb	*flat;		/* or NULL */
	void			*flat_arg;
	void			*arg;
	int			 want;		/* the owner wants bytes */
	int			 maybe_in;	/* in may hold bytes: 0 saves a
						   cache miss on it per read */
	int			 full;		/* the input holds limit bytes */
	int			 done;		/* EOF or error seen */
	int			 added;		/* ev is pending */
	int			 in_cb;		/* inside cb */
	int			 dead;		/* freed inside cb */
};

static void
sockread_update(struct sockread *r)
{
	int	on = r->want && !r->full && !r->done;

	if (on == r->added)
		return;
	if (on)
		event_add(r->ev, NULL);
	else
		event_del(r->ev);
	r->added = on;
}

static void
sockread_destroy(struct sockread *r)
{
	event_free(r->ev);
	evbuffer_free(r->in);
	free(r);
}

/* Tells the owner; returns -1 when it freed us meanwhile (now done). */
static int
sockread_tell(struct sockread *r, enum sockread_what what)
{
	r->in_cb = 1;
	r->cb(r->arg, what);
	r->in_cb = 0;
	if (r->dead) {
		sockread_destroy(r);
		return (-1);
	}
	return (0);
}

/*
 * Reserves ask bytes (more than r->chain) as chains of r->chain bytes, one
 * per helper buffer, into iov. Returns how many, 0 when out of memory.
 */
static int
sockread_pieces(struct sockread *r, size_t ask, struct iovec *iov)
{
	struct evbuffer_iovec	v;
	int			k;

	for (k = 0; k < SOCKREAD_PIECES && ask > 0; k++) {
		if (sockread_piece[k] == NULL &&
		    (sockread_piece[k] = evbuffer_new()) == NULL)
			break;
		if (evbuffer_reserve_space(sockread_piece[k],
		    MIN(ask, r->chain), &v, 1) != 1)
			break;
		iov[k].iov_base = v.iov_base;
		iov[k].iov_len = MIN(MIN(ask, r->chain), v.iov_len);
		ask -= iov[k].iov_len;
	}
	return (k);
}

/* Commits what a read put in the pieces, moves them to the input. */
static size_t
sockread_commit_pieces(struct sockread *r, int cnt, struct iovec *iov,
    size_t left)
{
	struct evbuffer_iovec	v;
	int			k;

	for (k = 0; k < cnt; k++) {
		v.iov_base = iov[k].iov_base;
		v.iov_len = MIN(iov[k].iov_len, left);
		left -= v.iov_len;
		/* Nothing committed: the reservation is dropped. */
		evbuffer_commit_space(sockread_piece[k], &v, v.iov_len > 0);
		evbuffer_add_buffer(r->in, sockread_piece[k]);
	}
	return (left);
}

/* Grows or shrinks the next read's guess after a read of n bytes. */
static void
sockread_resize(struct sockread *r, size_t n, size_t ask)
{
	if (n > ask) {
		while (r->size < SOCKREAD_MAX && r->size - SOCKREAD_SLACK < n)
			r->size *= 2;
	} else if (n < ask / 4 && r->size > SOCKREAD_MIN)
		r->size /= 2;
}

/*
 * A read through the flat path: into the scratch buffer, offered to the
 * owner, the rest (a partial frame, a control frame) copied to the input.
 * Returns -1 when the reader is gone or reading ended.
 */
static int
sockread_flat_read(evutil_socket_t fd, struct sockread *r)
{
	size_t	used;
	ssize_t	n;

	n = read(fd, sockread_spill, MIN(SOCKREAD_SPILL, r->limit));
	if (n <= 0) {
		if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK ||
		    errno == EINTR))
			return (0);
		r->done = 1;
		sockread_update(r);
		(void)sockread_tell(r, n == 0 ? SOCKREAD_EOF : SOCKREAD_ERROR);
		return (-1);
	}
	sockread_resize(r, (size_t)n, r->size - SOCKREAD_SLACK);
	sockread_flat_busy = 1;
	r->in_cb = 1;
	used = r->flat(r->flat_arg, sockread_spill, (size_t)n);
	r->in_cb = 0;
	sockread_flat_busy = 0;
	if (r->dead) {
		sockread_destroy(r);
		return (-1);
	}
	if (used < (size_t)n) {
		if (evbuffer_add(r->in, sockread_spill + used,
		    (size_t)n - used) == -1)
			abort();	/* out of memory, as xmalloc */
		r->maybe_in = 1;
		if (sockread_tell(r, SOCKREAD_DATA) == -1)
			return (-1);
	}
	return (0);
}

static void
sockread_ready(evutil_socket_t fd, short what, void *arg)
{
	struct sockread		*r = arg;
	struct evbuffer_iovec	 v[2];
	struct iovec		 iov[SOCKREAD_PIECES + 1];
	size_t			 len, ask, left;
	ssize_t			 n;
	int			 i, cnt, err, pieces;

	len = r->maybe_in ? evbuffer_get_length(r->in) : 0;
	r->maybe_in = len > 0;
	if (len >= r->limit) {
		r->full = 1;	/* sockread_poke() resumes */
		sockread_update(r);
		return;
	}
	if (r->flat != NULL && len == 0 && r->size <= SOCKREAD_FLAT_MAX &&
	    !sockread_flat_busy) {
		if (sockread_flat_read(fd, r) == 0)
			sockread_poke(r);
		return;
	}
	ask = MIN(r->size - SOCKREAD_SLACK, r->limit - len);
	r->maybe_in = 1;	/* what this read brings */
	pieces = r->chain > 0 && ask > r->chain;
	if (pieces) {
		cnt = sockread_pieces(r, ask, iov);
		ask = MIN(ask, cnt * r->chain);
	} else if ((cnt = evbuffer_reserve_space(r->in, ask, v,
	    nitems(v))) > 0) {
		/* The reserved extents may be larger than asked. */
		for (i = 0, left = ask; i < cnt && left > 0; i++) {
			iov[i].iov_base = v[i].iov_base;
			iov[i].iov_len = MIN(v[i].iov_len, left);
			left -= iov[i].iov_len;
		}
		cnt = i;
	}
	if (cnt <= 0) {
		errno = ENOMEM;
		n = -1;
		goto fail;
	}
	iov[cnt].iov_base = sockread_spill;
	iov[cnt].iov_len = MIN(SOCKREAD_SPILL, r->limit - len - ask);
	n = readv(fd, iov, iov[cnt].iov_len > 0 ? cnt + 1 : cnt);
	err = errno;
	left = n > 0 ? (size_t)n : 0;
	if (pieces)
		left = sockread_commit_pieces(r, cnt, iov, left);
	else {
		for (i = 0; i < cnt && left > 0; i++) {
			v[i].iov_len = MIN(iov[i].iov_len, left);
			left -= v[i].iov_len;
		}
		evbuffer_commit_space(r->in, v, i);
	}
	/* What did not fit the guess. */
	if (left > 0 && evbuffer_add(r->in, sockread_spill, left) == -1)
		abort();	/* out of memory, as xmalloc */
	errno = err;
	if (n <= 0) {
		if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK ||
		    errno == EINTR))
			return;
		goto fail;
	}
	sockread_resize(r, (size_t)n, ask);
	if (sockread_tell(r, SOCKREAD_DATA) == -1)
		return;
	sockread_poke(r);
	return;
fail:
	r->done = 1;
	sockread_update(r);
	(void)sockread_tell(r, n == 0 ? SOCKREAD_EOF : SOCKREAD_ERROR);
}

static struct sockread *
sockread_new(struct event_base *base, struct bufferevent *bev, size_t limit,
    size_t chain, sockread_cb *cb, void *arg)
{
	struct sockread	*r;

	r = xcalloc(1, sizeof *r);
	/*
	 * An input of our own: no callbacks, no frozen end (bev's input
	 * has both), so adding and draining cost the least libevent does.
	 */
	if ((r->in = evbuffer_new()) == NULL)
		abort();	/* out of memory, as xmalloc */
	r->limit = limit;
	/* Less the slack, so the chain fits the power of two above it. */
	if (chain >= SOCKREAD_CHAIN_MIN && chain - SOCKREAD_SLACK <
	    SOCKREAD_MAX - SOCKREAD_SLACK)
		r->chain = chain - SOCKREAD_SLACK;
	r->size = SOCKREAD_MIN;
	r->cb = cb;
	r->arg = arg;
	r->ev = event_new(base, bufferevent_getfd(bev), EV_READ | EV_PERSIST,
	    sockread_ready, r);
	if (r->ev == NULL)
		abort();	/* out of memory, as xmalloc */
	bufferevent_disable(bev, EV_READ);
	bufferevent_setwatermark(bev, EV_READ, 0, 0);
	/* What bev read already (frames behind the request) comes first. */
	evbuffer_add_buffer(r->in, bufferevent_get_input(bev));
	r->maybe_in = 1;
	return (r);
}

struct sockread *
sockread_tunnel(struct event_base *base, struct bufferevent *bev, size_t high,
    size_t chain, sockread_cb *cb, void *arg)
{
	struct sockread	*r = NULL;

	bufferevent_setwatermark(bev, EV_WRITE, high / 2, 0);
	bufferevent_set_max_single_write(bev, high);
	if (bufferevent_openssl_get_ssl(bev) == NULL) {
		r = sockread_new(base, bev, high, chain, cb, arg);
		sockread_set(r, 1);
		bufferevent_enable(bev, EV_WRITE);
	} else {
		/* Bytes must go through TLS: bev reads, up to high. */
		bufferevent_setwatermark(bev, EV_READ, 0, high);
		bufferevent_set_max_single_read(bev, high);
		bufferevent_enable(bev, EV_READ | EV_WRITE);
	}
	return (r);
}

struct evbuffer *
sockread_input(struct sockread *r)
{
	r->maybe_in = 1;	/* the owner may add to it */
	return (r->in);
}

void
sockread_free(struct sockread *r)
{
	if (r == NULL)
		return;
	/* Before the bufferevent closes the socket. */
	event_del(r->ev);
	r->added = 0;
	r->want = 0;
	if (r->in_cb) {
		r->dead = 1;	/* sockread_tell() frees */
		return;
	}
	sockread_destroy(r);
}

void
sockread_set(struct sockread *r, int on)
{
	r->want = on;
	if (on)
		r->full = r->maybe_in && evbuffer_get_length(r->in) >= r->limit;
	sockread_update(r);
}

void
sockread_set_flat(struct sockread *r, sockread_flat_cb *flat, void *arg)
{
	r->flat = flat;
	r->flat_arg = arg;
}

void
sockread_poke(struct sockread *r)
{
	if (r->dead)
		return;
	r->full = r->maybe_in && evbuffer_get_length(r->in) >= r->limit;
	sockread_update(r);
}

void
sockread_thread_end(void)
{
	int	k;

	for (k = 0; k < SOCKREAD_PIECES; k++) {
		if (sockread_piece[k] != NULL)
			evbuffer_free(sockread_piece[k]);
		sockread_piece[k] = NULL;
	}
}
