/*
 * sockread.c -- the read path of tunnels and HTTP/2 connections, on plain
 * sockets and, once the handshake is done, through SSL (sockread_tls(),
 * where libevent's OpenSSL bufferevent made two read(2) calls a record).
 * libevent 2.1's bufferevent_socket asks ioctl(FIONREAD) before every read
 * (3 syscalls a message where a bare relay makes 2), reads at most 4 KiB
 * per readiness event, and its read watermark callback runs on every drain
 * of the input (an event_add each). Here the thread's epoll set of readers
 * (the sockpoll, below) says a socket is readable, and one readv per
 * readiness goes straight into an input buffer of our own
 * (evbuffer_reserve_space/evbuffer_commit_space: no copy), sized by
 * what the last reads brought, and the input's bound is checked by us. A
 * plain bufferevent keeps its output and its write event. While the input is
 * empty a read lands in the thread's read buffer and the owner takes it
 * from there (sockread_set_bytes, below): that is how every byte starts
 * its way; the input holds only what an owner did not take, and reads
 * that come while it holds some. TLS reads land there decrypted.
 */
#include "wsb_autoconf.h"

#ifdef HAVE_EPOLL
#include <sys/epoll.h>
#endif
#include <sys/queue.h>
#include <sys/uio.h>

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "log.h"
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
 * Scratch space for the reads of one event loop thread (workers N runs
 * several): these serve every socket of that thread.
 */
static __thread uint8_t		 sockread_spill[SOCKREAD_SPILL];
static __thread struct evbuffer	*sockread_piece[SOCKREAD_PIECES];

/*
 * The owner's bytes callback (sockread_set_bytes): while a reader's input
 * is empty, a read goes into the thread's read buffer and the owner
 * unframes or frames it from there, writing what it can at once. A
 * message then costs no chain allocated and freed, no reserve, commit,
 * peek or drain, none of the evbuffer's cache lines (with a thousand
 * connections those misses were most of what the loop spent on a small
 * message beyond the system calls), and a bulk read of several messages
 * goes out in one writev.
 *
 * What a socket did not take stays where it is when it is most of a
 * buffer: sockread_keep() adds its pieces to an output by reference
 * (evbuffer_add_reference), and the buffer is retired: the next read takes
 * another, and the last reference's cleanup frees or pools the old one.
 * Less is copied, so a few bytes never pin a whole buffer. "Most" is half
 * a buffer for a peer that is behind (its output already held bytes: the
 * pin may last), a quarter for one that only did not take all of a write
 * (it drains soon): so a slow peer's outputs pin at most twice what they
 * hold, plus up to four times the one write during which it fell behind.
 */
#define SOCKREAD_KEEP_MIN	(SOCKREAD_MAX / 2)
#define SOCKREAD_KEEP_BRIEF	(SOCKREAD_MAX / 4)
#define SOCKREAD_KEEP_PIECE	(4 * 1024)	/* smaller: a copy beats a chain */
#define SOCKREAD_POOL		4

/* How much SSL reads ahead in one read(2): several whole records. */
#define SOCKREAD_TLS_AHEAD	(64 * 1024)

struct sockread_buf {
	unsigned	refs;		/* references from evbuffers */
	int		retired;	/* not the thread's buffer any more */
	uint8_t		data[SOCKREAD_MAX];
};

static __thread struct sockread_buf	*sockread_cur;
static __thread struct sockread_buf	*sockread_pool[SOCKREAD_POOL];
static __thread int			 sockread_npool;
static __thread int			 sockread_ending;	/* thread ends */

static void
sockread_buf_release(struct sockread_buf *b)
{
	if (sockread_npool < SOCKREAD_POOL && !sockread_ending)
		sockread_pool[sockread_npool++] = b;
	else
		free(b);
}

/* evbuffer_add_reference()'s cleanup: a kept piece left its output. */
static void
sockread_unref(const void *data, size_t len, void *arg)
{
	struct sockread_buf	*b = arg;

	(void)data;
	(void)len;
	if (--b->refs == 0 && b->retired)
		sockread_buf_release(b);
}

/* The thread's read buffer, a fresh one if outputs keep pieces of it. */
static inline __attribute__((always_inline)) struct sockread_buf *
sockread_buf_get(void)
{
	struct sockread_buf	*b = sockread_cur;

	if (b != NULL && b->refs == 0)
		return (b);
	if (b != NULL)
		b->retired = 1;		/* its last reference frees it */
	b = sockread_npool > 0 ? sockread_pool[--sockread_npool] :
	    xmalloc(sizeof *b);
	b->refs = 0;
	b->retired = 0;
	return (sockread_cur = b);
}

int
sockread_keep_worth(size_t total, int brief)
{
	return (total >= (brief ? SOCKREAD_KEEP_BRIEF : SOCKREAD_KEEP_MIN));
}

void
sockread_keep_iov(struct evbuffer *out, const struct iovec *iov, int cnt,
    size_t skip, int brief)
{
	size_t	k, big = 0;
	int	i, first, ref;

	/* Past what was written (all of it, most of the time). */
	for (first = 0; first < cnt && skip >= iov[first].iov_len; first++)
		skip -= iov[first].iov_len;
	if (first == cnt)
		return;
	/* Only pieces that would be kept by reference count towards it. */
	for (i = first; i < cnt; i++) {
		k = iov[i].iov_len - (i == first ? skip : 0);
		if (k >= SOCKREAD_KEEP_PIECE)
			big += k;
	}
	ref = sockread_keep_worth(big, brief);
	for (i = first; i < cnt; i++) {
		k = i == first ? skip : 0;
		sockread_keep(out, (const uint8_t *)iov[i].iov_base + k,
		    iov[i].iov_len - k, ref);
	}
}

void
sockread_keep(struct evbuffer *out, const void *p, size_t n, int ref)
{
	struct sockread_buf	*b = sockread_cur;
	uintptr_t		 at;

	if (n == 0)
		return;
	/*
	 * Within the buffer, compared as integers: a frame header on the
	 * caller's stack must never pass for a piece of it (and be kept by
	 * reference after the stack moved on).
	 */
	at = b != NULL ? (uintptr_t)p - (uintptr_t)b->data : UINTPTR_MAX;
	if (ref && n >= SOCKREAD_KEEP_PIECE && at < sizeof b->data &&
	    n <= sizeof b->data - at) {
		if (evbuffer_add_reference(out, p, n, sockread_unref, b) == -1)
			abort();	/* out of memory, as xmalloc */
		b->refs++;
		return;
	}
	if (evbuffer_add(out, p, n) == -1)
		abort();	/* out of memory, as xmalloc */
}

/*
 * The readers' sockets are not libevent events of their own: each thread
 * keeps one epoll set of them (a sockpoll), and that set's descriptor is
 * the one libevent event. When it is readable, one epoll_wait() hands over
 * up to SOCKPOLL_BATCH ready sockets and each reader runs at once. This is
 * the one piece of event dispatch written by hand, because it was measured:
 * with 1,000 connections each echoing 64-byte messages, libevent's path
 * from epoll to a read callback (evmap lookup, activation, the active
 * queue) was a third of the instructions wsbridge spent on a message and
 * two of the struct event's cache lines per read; a bare relay spends
 * none of that. Everything else (bufferevents, write events, timers,
 * signals) stays with libevent, which still owns the loop.
 *
 * The set is level-triggered, like libevent's: a reader that stopped short
 * of what the socket holds is offered it again. A stopped reader leaves
 * the set (EPOLL_CTL_DEL, as libevent does: epoll reports a hang-up even
 * for a socket asking for nothing). Readers freed while a batch runs are
 * freed after it, since a later entry of the batch may name them.
 *
 * Without epoll (configure found none, HAVE_EPOLL), or with
 * WSBRIDGE_POLL=libevent in the environment (the test suite runs some
 * tests so), each reader is a libevent event of its own instead, and the
 * sockpoll only runs the passes due. Same readers, same reads, the
 * dispatch aside.
 */
#define SOCKPOLL_BATCH	256
#define SOCKPOLL_AHEAD	4

struct sockpoll {
	struct event_base	*base;
	struct event		*ev;		/* epfd readable, or a pass due */
	int			 epfd;		/* -1: an event per reader */
	int			 in_batch;
	struct sockread		*reap;		/* freed after the batch */
	LIST_HEAD(, sockread)	 later;		/* a pass due (SSL holds bytes) */
};

static __thread struct sockpoll	*sockpoll;

/* Whether readers share the thread's epoll set (else libevent's events). */
static int
sockpoll_epoll(void)
{
#ifdef HAVE_EPOLL
	const char	*v = getenv("WSBRIDGE_POLL");

	return (v == NULL || strcmp(v, "libevent") != 0);
#else
	return (0);
#endif
}

/* The first cache line holds what a read touches (1,000 connections:
 * each line is a miss per message). */
struct sockread {
	int			 fd;
	unsigned char		 want;		/* the owner wants bytes */
	unsigned char		 maybe_in;	/* in may hold bytes: 0 saves a
						   cache miss on it per read */
	unsigned char		 full;		/* the input holds limit bytes */
	unsigned char		 done;		/* EOF or error seen */
	unsigned char		 added;		/* in the sockpoll's set */
	unsigned char		 in_cb;		/* inside cb */
	unsigned char		 dead;		/* freed, or freed inside cb */
	unsigned char		 later;		/* on poll->later */
	size_t			 limit;		/* input bound */
	size_t			 size;		/* next guess's power of two */
	sockread_bytes_cb	*bytes;		/* the owner's (set once made) */
	void			*bytes_arg;
	SSL			*ssl;		/* TLS: reads go through it */
	struct sockpoll		*poll;
	struct evbuffer		*in;
	struct event		*ev;		/* without the epoll set */		/* what was read, not yet taken */
	size_t			 chain;		/* largest chain, 0: any */
	sock_cb			*cb;
	void			*arg;
	const char		*logid;		/* TLS: the owner's, for errors */
	LIST_ENTRY(sockread)	 later_link;
	struct sockread		*reap_next;
};

static void	sockread_ready(evutil_socket_t, short, void *);
static void	sockread_release(struct sockread *);

static inline void
sockread_prefetch(const void *r)
{
	__builtin_prefetch(r);
	__builtin_prefetch((const char *)r + CACHE_LINE);
}

/* One pass: the ready sockets, then the readers a pass is due to. */
#ifdef HAVE_EPOLL
static void
sockpoll_batch(struct sockpoll *p)
{
	struct epoll_event	 evs[SOCKPOLL_BATCH];
	struct sockread		*r;
	int			 i, n;

	n = epoll_wait(p->epfd, evs, SOCKPOLL_BATCH, 0);
	/*
	 * With many connections each reader is a miss of hundreds of
	 * cycles: the loads start early and overlap, SOCKPOLL_AHEAD readers
	 * ahead (each reader runs a read and a write system call: time
	 * enough). A rolling window: the CPU drops prefetches beyond the few
	 * misses it can have in flight.
	 */
	for (i = 0; i < n && i < SOCKPOLL_AHEAD; i++)
		sockread_prefetch(evs[i].data.ptr);
	for (i = 0; i < n; i++) {
		if (i + SOCKPOLL_AHEAD < n)
			sockread_prefetch(evs[i + SOCKPOLL_AHEAD].data.ptr);
		r = evs[i].data.ptr;
		/* Else freed or stopped by an earlier one. */
		if (!r->dead && r->added)
			sockread_ready(r->fd, EV_READ, r);
	}
}
#endif

static void
sockpoll_ready(evutil_socket_t fd, short what, void *arg)
{
	struct sockpoll		*p = arg;
	struct sockread		*r, *due;

	(void)fd;
	(void)what;
	p->in_batch = 1;
#ifdef HAVE_EPOLL
	if (p->epfd != -1)
		sockpoll_batch(p);
#endif
	/*
	 * Those due now, moved to a list headed by due (the first entry's
	 * back link points at it, so removals keep it right); one that
	 * becomes due meanwhile goes on p->later for the next pass.
	 */
	if ((due = LIST_FIRST(&p->later)) != NULL) {
		LIST_INIT(&p->later);
		due->later_link.le_prev = &due;
		while ((r = due) != NULL) {
			LIST_REMOVE(r, later_link);
			r->later = 0;
			if (!r->dead && r->added)
				sockread_ready(r->fd, EV_READ, r);
		}
	}
	p->in_batch = 0;
	while ((r = p->reap) != NULL) {
		p->reap = r->reap_next;
		sockread_release(r);
	}
}

static struct sockpoll *
sockpoll_get(struct event_base *base)
{
	struct sockpoll	*p = sockpoll;

	if (p != NULL) {
		/* sockread_thread_end() comes before the base is freed. */
		if (p->base != base)
			fatalx("sockread: a second event base in one thread");
		return (p);
	}
	p = xcalloc(1, sizeof *p);
	p->base = base;
	LIST_INIT(&p->later);
	p->epfd = -1;
#ifdef HAVE_EPOLL
	/* sockread_thread_start() makes this happen at start-up. */
	if (sockpoll_epoll() &&
	    (p->epfd = epoll_create1(EPOLL_CLOEXEC)) == -1)
		fatalx("epoll_create1: %s", strerror(errno));
#endif
	if (p->epfd != -1) {
		p->ev = event_new(base, p->epfd, EV_READ | EV_PERSIST,
		    sockpoll_ready, p);
		if (p->ev == NULL || event_add(p->ev, NULL) == -1)
			abort();	/* out of memory, as xmalloc */
	} else if ((p->ev = event_new(base, -1, 0, sockpoll_ready, p)) ==
	    NULL)
		abort();	/* out of memory, as xmalloc */
	return (sockpoll = p);
}

/* Puts r in (on) or out of the thread's poller. */
static void
sockread_watch(struct sockread *r, int on)
{
#ifdef HAVE_EPOLL
	struct epoll_event	ev;

	if (r->poll->epfd != -1) {
		ev.events = EPOLLIN;
		ev.data.ptr = r;
		/* A socket already closed has nothing to read: no word. */
		if (epoll_ctl(r->poll->epfd, on ? EPOLL_CTL_ADD :
		    EPOLL_CTL_DEL, r->fd, &ev) == -1 && errno != EBADF &&
		    errno != ENOENT)
			log_error("epoll_ctl %s fd %d: %s", on ? "add" : "del",
			    r->fd, strerror(errno));
		return;
	}
#endif
	if (on)
		event_add(r->ev, NULL);
	else
		event_del(r->ev);
}

static void
sockread_update(struct sockread *r)
{
	int	on = r->want && !r->full && !r->done;

	if (on != r->added) {
		sockread_watch(r, on);
		r->added = on;
	}
	/*
	 * SSL may hold records a read stopped short of (a full input): the
	 * socket will not say so, so a pass is due.
	 */
	if (on && r->ssl != NULL && !r->later && SSL_has_pending(r->ssl)) {
		LIST_INSERT_HEAD(&r->poll->later, r, later_link);
		r->later = 1;
		event_active(r->poll->ev, EV_READ, 1);
	}
}

static void
sockread_release(struct sockread *r)
{
	if (r->ev != NULL)
		event_free(r->ev);
	evbuffer_free(r->in);
	free(r);
}

/* Frees r now, or after the batch running (it may name r further on). */
static void
sockread_destroy(struct sockread *r)
{
	if (r->later) {
		LIST_REMOVE(r, later_link);
		r->later = 0;
	}
	if (r->poll->in_batch) {
		r->reap_next = r->poll->reap;
		r->poll->reap = r;
		return;
	}
	sockread_release(r);
}

/* Tells the owner; returns -1 when it freed us meanwhile (now done). */
static int
sockread_tell(struct sockread *r, enum sock_event what)
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
 * Hands n bytes read into b to the owner's bytes callback, keeping what it did
 * not take in the input. Returns -1 when the reader is gone.
 */
static inline __attribute__((always_inline)) int
sockread_give(struct sockread *r, struct sockread_buf *b, size_t n)
{
	size_t	used;

	r->in_cb = 1;
	used = r->bytes(r->bytes_arg, b->data, n);
	r->in_cb = 0;
	if (r->dead) {
		sockread_destroy(r);
		return (-1);
	}
	if (used < n) {
		sockread_keep(r->in, b->data + used, n - used,
		    sockread_keep_worth(n - used, 0));
		r->maybe_in = 1;
		if (sockread_tell(r, SOCK_DATA) == -1)
			return (-1);
	}
	return (0);
}

/*
 * A read while the input is empty: into the read buffer, offered to the
 * owner, the rest (a partial header, a control frame, what there was no
 * room for) kept in the input. Returns -1 when the reader is gone or
 * reading ended.
 */
static int
sockread_read_bytes(evutil_socket_t fd, struct sockread *r)
{
	struct sockread_buf	*b = sockread_buf_get();
	ssize_t			 n;

	n = read(fd, b->data, MIN(sizeof b->data, r->limit));
	if (n <= 0) {
		if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK ||
		    errno == EINTR))
			return (0);
		r->done = 1;
		sockread_update(r);
		(void)sockread_tell(r, n == 0 ? SOCK_EOF : SOCK_ERROR);
		return (-1);
	}
	sockread_resize(r, (size_t)n, r->size - SOCKREAD_SLACK);
	return (sockread_give(r, b, (size_t)n));
}

/*
 * A read over TLS: SSL decrypts into the read buffer, record after record
 * while its read-ahead holds more (one read(2) brings several), then the
 * bytes go to the owner as a plain read's do, or to the input.
 * SSL's own read buffer holds what is not a whole record yet.
 */
static void
sockread_tls_read(struct sockread *r, size_t len)
{
	struct sockread_buf	*b = sockread_buf_get();
	size_t			 n = 0, cap;
	enum sock_event	 end = SOCK_DATA;
	unsigned long		 e;
	int			 k;

	cap = MIN(sizeof b->data, r->limit - len);
	ERR_clear_error();
	while (n < cap) {
		errno = 0;
		k = SSL_read(r->ssl, b->data + n, (int)MIN(cap - n, INT_MAX));
		if (k > 0) {
			n += (size_t)k;
			if (!SSL_has_pending(r->ssl))
				break;
			continue;
		}
		switch (SSL_get_error(r->ssl, k)) {
		case SSL_ERROR_WANT_READ:
		case SSL_ERROR_WANT_WRITE:	/* our write BIO never blocks */
			break;
		case SSL_ERROR_ZERO_RETURN:	/* close_notify, or a bare EOF */
			end = SOCK_EOF;
			break;
		case SSL_ERROR_SYSCALL:
			end = errno == 0 ? SOCK_EOF : SOCK_ERROR;
			break;
		default:
			e = ERR_peek_last_error();
			log_info("%s: TLS error: %s", r->logid,
			    ERR_reason_error_string(e) != NULL ?
			    ERR_reason_error_string(e) : "unknown error");
			ERR_clear_error();
			errno = EPROTO;
			end = SOCK_ERROR;
			break;
		}
		break;
	}
	if (n > 0) {
		if (r->bytes != NULL && len == 0) {
			if (sockread_give(r, b, n) == -1)
				return;
		} else {
			if (evbuffer_add(r->in, b->data, n) == -1)
				abort();	/* out of memory, as xmalloc */
			r->maybe_in = 1;
			if (sockread_tell(r, SOCK_DATA) == -1)
				return;
		}
	}
	if (end != SOCK_DATA) {
		r->done = 1;
		sockread_update(r);
		(void)sockread_tell(r, end);
		return;
	}
	sockread_poke(r);
}

static void
sockread_read(struct sockread *r, evutil_socket_t fd)
{
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
	if (r->ssl != NULL) {
		sockread_tls_read(r, len);
		return;
	}
	if (r->bytes != NULL && len == 0) {
		if (sockread_read_bytes(fd, r) == 0)
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
	if (sockread_tell(r, SOCK_DATA) == -1)
		return;
	sockread_poke(r);
	return;
fail:
	r->done = 1;
	sockread_update(r);
	(void)sockread_tell(r, n == 0 ? SOCK_EOF : SOCK_ERROR);
}

/* A socket is readable: one observation-clock scope (util.h) around it. */
static void
sockread_ready(evutil_socket_t fd, short what, void *arg)
{
	obs_clock_open();
	sockread_read(arg, fd);
	obs_clock_close();
}

static struct sockread *
sockread_new(struct event_base *base, struct bufferevent *bev, size_t limit,
    size_t chain, sock_cb *cb, void *arg)
{
	struct sockread	*r;

	r = xcalloc_aligned(sizeof *r);
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
	r->fd = bufferevent_getfd(bev);
	r->poll = sockpoll_get(base);
	if (r->poll->epfd == -1 && (r->ev = event_new(base, r->fd,
	    EV_READ | EV_PERSIST, sockread_ready, r)) == NULL)
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
    size_t chain, sock_cb *cb, void *arg)
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

struct sockread *
sockread_tls(struct event_base *base, struct bufferevent *bev, size_t high,
    const char *logid, sock_cb *cb, void *arg)
{
	struct sockread	*r;
	SSL		*ssl = bufferevent_openssl_get_ssl(bev);

	r = sockread_new(base, bev, high, 0, cb, arg);
	r->ssl = ssl;
	r->logid = logid;
	/*
	 * One read(2) for all the records the socket holds, up to
	 * SOCKREAD_TLS_AHEAD bytes: SSL's read buffer is that large while it
	 * holds bytes and released when it runs dry (and so is its write
	 * buffer), so an idle connection keeps neither.
	 */
	SSL_set_read_ahead(ssl, 1);
	SSL_set_default_read_buffer_len(ssl, SOCKREAD_TLS_AHEAD);
	SSL_set_mode(ssl, SSL_MODE_RELEASE_BUFFERS);
	(void)SSL_free_buffers(ssl);	/* fails if they hold bytes: kept */
	/* A peer that closes without close_notify has still closed. */
	SSL_set_options(ssl, SSL_OP_IGNORE_UNEXPECTED_EOF);
	bufferevent_disable(bev, EV_WRITE);
	sockread_set(r, 1);	/* a pass at once if SSL holds bytes */
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
	r->want = 0;
	sockread_update(r);
	r->dead = 1;
	if (!r->in_cb)
		sockread_destroy(r);	/* else sockread_tell() does */
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
sockread_set_bytes(struct sockread *r, sockread_bytes_cb *bytes, void *arg)
{
	r->bytes = bytes;
	r->bytes_arg = arg;
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
sockread_thread_start(struct event_base *base)
{
	(void)sockpoll_get(base);
}

void
sockread_thread_end(void)
{
	int	k;

	if (sockpoll != NULL) {
		event_free(sockpoll->ev);
		if (sockpoll->epfd != -1)
			close(sockpoll->epfd);
		free(sockpoll);
		sockpoll = NULL;
	}

	for (k = 0; k < SOCKREAD_PIECES; k++) {
		if (sockread_piece[k] != NULL)
			evbuffer_free(sockread_piece[k]);
		sockread_piece[k] = NULL;
	}
	/* Buffers outputs still keep are freed with their last reference. */
	sockread_ending = 1;
	while (sockread_npool > 0)
		free(sockread_pool[--sockread_npool]);
	if (sockread_cur != NULL && sockread_cur->refs == 0)
		free(sockread_cur);
	else if (sockread_cur != NULL)
		sockread_cur->retired = 1;
	sockread_cur = NULL;
}
