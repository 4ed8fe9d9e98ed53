/*
 * test_sockread.c -- unit tests for the read path (sockread.c: reads
 * handed to the owner where they land) on a real socketpair: what
 * sockread_keep() keeps by reference and what it copies, and that a
 * buffer outputs still point into is never read into again; and the
 * thread's epoll set of readers (the sockpoll): a reader freed or stopped
 * by another one's callback in the same batch is not run, and a stopped
 * one resumes with what its socket still holds.
 */
#include "wsb_autoconf.h"

#include <sys/socket.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "sockread.h"

struct bytes_seen {
	struct evbuffer	*out;		/* what the callback kept */
	uint8_t		*last;		/* the last read's bytes, in the buffer */
	size_t		 last_n;
	int		 calls;
	int		 ref;		/* keep by reference when possible */
};

static void
on_data(void *arg, enum sock_event what)
{
	(void)arg;
	(void)what;
}

/*
 * Keeps bytes from this stack frame (as large as a piece worth keeping by
 * reference, where frame headers are small), then the read's bytes.
 */
#define STACK_PIECE	6144

static uint8_t
stack_byte(size_t i)
{
	return ((uint8_t)(i * 3 + 0xa1));
}

static size_t
on_bytes(void *arg, unsigned char *p, size_t n)
{
	struct bytes_seen	*f = arg;
	uint8_t		 hdr[STACK_PIECE];
	size_t		 i;

	for (i = 0; i < sizeof hdr; i++)
		hdr[i] = stack_byte(i);
	sockread_keep(f->out, hdr, sizeof hdr, f->ref);
	sockread_keep(f->out, p, n, f->ref);
	f->last = p;
	f->last_n = n;
	f->calls++;
	return (n);
}

/* Writes over the stack where on_bytes()'s header was. */
static void __attribute__((noinline))
scribble(void)
{
	volatile uint8_t	junk[4 * STACK_PIECE];
	size_t			i;

	for (i = 0; i < sizeof junk; i++)
		junk[i] = 0x5a;
	(void)junk[0];
}

static void
read_once(struct event_base *base, int fd, const void *p, size_t n,
    struct bytes_seen *f)
{
	int	calls = f->calls;

	assert_int_equal(write(fd, p, n), (ssize_t)n);
	while (f->calls == calls)
		event_base_loop(base, EVLOOP_ONCE);
	assert_int_equal(f->last_n, n);
}

/* The kept header and data at offset off of the output, stack scribbled. */
static void
check_at(struct bytes_seen *f, size_t off, const uint8_t *data, size_t n)
{
	static uint8_t		o[STACK_PIECE + 8192];
	struct evbuffer_ptr	ptr;
	size_t			i;

	scribble();
	assert_true(n <= sizeof o - STACK_PIECE);
	assert_true(evbuffer_get_length(f->out) >= off + STACK_PIECE + n);
	/* Copied out: a pullup would copy the chains and end references. */
	assert_int_equal(evbuffer_ptr_set(f->out, &ptr, off,
	    EVBUFFER_PTR_SET), 0);
	assert_int_equal(evbuffer_copyout_from(f->out, &ptr, o,
	    STACK_PIECE + n), (ev_ssize_t)(STACK_PIECE + n));
	for (i = 0; i < STACK_PIECE; i++)
		assert_int_equal(o[i], stack_byte(i));
	assert_memory_equal(o + STACK_PIECE, data, n);
}

static void
run(int ref)
{
	struct event_base	*base = event_base_new();
	struct bufferevent	*bev;
	struct sockread		*r;
	struct bytes_seen		 f;
	struct evbuffer_iovec	 v[2];
	static uint8_t		 a[8192], b[8192];
	uint8_t			*first;
	size_t			 i;
	int			 sv[2], cnt;

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	assert_int_equal(evutil_make_socket_nonblocking(sv[0]), 0);
	for (i = 0; i < sizeof a; i++) {
		a[i] = (uint8_t)(i * 7 + 1);
		b[i] = (uint8_t)(i * 13 + 5);
	}
	memset(&f, 0, sizeof f);
	f.out = evbuffer_new();
	f.ref = ref;
	bev = bufferevent_socket_new(base, sv[0], BEV_OPT_CLOSE_ON_FREE);
	r = sockread_tunnel(base, bev, 1 << 20, 0, on_data, NULL);
	assert_non_null(r);
	sockread_set_bytes(r, on_bytes, &f);

	/* Small enough for one read on a unix socket. */
	read_once(base, sv[1], a, 4096, &f);
	first = f.last;
	check_at(&f, 0, a, 4096);
	/* By reference, the output's second piece is the read itself. */
	cnt = evbuffer_peek(f.out, -1, NULL, v, 2);
	if (ref) {
		assert_int_equal(cnt, 2);
		assert_ptr_equal(v[1].iov_base, first);
	} else {
		for (i = 0; i < (size_t)cnt && i < 2; i++)
			assert_ptr_not_equal(v[i].iov_base, first);
	}
	/* The next read must not land where the first one is kept. */
	read_once(base, sv[1], b, 4096, &f);
	if (ref)
		assert_ptr_not_equal(f.last, first);
	check_at(&f, 0, a, 4096);
	check_at(&f, STACK_PIECE + 4096, b, 4096);
	assert_int_equal(evbuffer_get_length(f.out), 2 * (STACK_PIECE + 4096));
	evbuffer_drain(f.out, evbuffer_get_length(f.out));

	/* Let go of everything: a later read may reuse a buffer. */
	read_once(base, sv[1], a + 5, 1000, &f);
	check_at(&f, 0, a + 5, 1000);
	evbuffer_drain(f.out, evbuffer_get_length(f.out));

	sockread_free(r);
	bufferevent_free(bev);
	close(sv[1]);
	evbuffer_free(f.out);
	sockread_thread_end();
	event_base_free(base);
}

/*
 * Regression: sockread_keep() told a piece of its buffer by pointer
 * arithmetic that wrapped for addresses above the buffer, so a frame
 * header on the caller's stack was kept by reference and went out as
 * whatever the stack held later (corrupted downloads in the benchmark).
 */
static void
test_keep_ref(void **state)
{
	(void)state;
	run(1);
}

static void
test_keep_copy(void **state)
{
	(void)state;
	run(0);
}

/* ---- the sockpoll --------------------------------------------------- */

#define NPAIR	4

struct pair {
	struct event_base	*base;
	struct bufferevent	*bev[NPAIR];
	struct sockread		*r[NPAIR];
	int			 peer[NPAIR];	/* the other ends */
	int			 calls[NPAIR];
	size_t			 got[NPAIR];
	int			 action;	/* what the first callback does */
	int			 first;		/* whose callback ran first */
};

struct slot {
	struct pair	*p;
	int		 i;
};

static struct slot	slots[NPAIR];

enum { ACT_NONE, ACT_FREE_OTHERS, ACT_STOP_OTHERS };

static size_t
on_pair_bytes(void *arg, unsigned char *data, size_t n)
{
	struct slot	*sl = arg;
	struct pair	*p = sl->p;
	int		 k;

	(void)data;
	p->calls[sl->i]++;
	p->got[sl->i] += n;
	if (p->first == -1) {
		p->first = sl->i;
		for (k = 0; k < NPAIR; k++) {
			if (k == sl->i || p->r[k] == NULL)
				continue;
			if (p->action == ACT_FREE_OTHERS) {
				/* As a tunnel does: reader first, then socket. */
				sockread_free(p->r[k]);
				p->r[k] = NULL;
				bufferevent_free(p->bev[k]);
				p->bev[k] = NULL;
			} else if (p->action == ACT_STOP_OTHERS)
				sockread_set(p->r[k], 0);
		}
	}
	return (n);
}

static void
pairs_open(struct pair *p, int action)
{
	int	i, sv[2];

	memset(p, 0, sizeof *p);
	p->base = event_base_new();
	p->action = action;
	p->first = -1;
	sockread_thread_start(p->base);
	for (i = 0; i < NPAIR; i++) {
		assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
		assert_int_equal(evutil_make_socket_nonblocking(sv[0]), 0);
		p->peer[i] = sv[1];
		p->bev[i] = bufferevent_socket_new(p->base, sv[0],
		    BEV_OPT_CLOSE_ON_FREE);
		p->r[i] = sockread_tunnel(p->base, p->bev[i], 1 << 20, 0,
		    on_data, NULL);
		slots[i].p = p;
		slots[i].i = i;
		sockread_set_bytes(p->r[i], on_pair_bytes, &slots[i]);
	}
}

static void
pairs_close(struct pair *p)
{
	int	i;

	for (i = 0; i < NPAIR; i++) {
		sockread_free(p->r[i]);
		if (p->bev[i] != NULL)
			bufferevent_free(p->bev[i]);
		close(p->peer[i]);
	}
	sockread_thread_end();
	event_base_free(p->base);
}

/* Every socket readable before the loop runs: one batch has them all. */
static void
pairs_fill(struct pair *p, size_t n)
{
	static const uint8_t	 buf[1000];
	int			 i;

	for (i = 0; i < NPAIR; i++)
		assert_int_equal(write(p->peer[i], buf, n), (ssize_t)n);
}

/* Runs the loop until a first callback ran, then some more passes. */
static void
pairs_run_first(struct pair *p)
{
	int	loops;

	for (loops = 0; loops < 100 && p->first == -1; loops++)
		event_base_loop(p->base, EVLOOP_ONCE);
	assert_int_not_equal(p->first, -1);
	for (loops = 0; loops < 10; loops++)
		event_base_loop(p->base, EVLOOP_NONBLOCK);
}

/*
 * The first reader's callback frees the others (reader, then socket),
 * whose entries are still in the batch: they must not run, and their
 * memory must last until the batch is over (AddressSanitizer says so).
 */
static void
test_poll_free_in_batch(void **state)
{
	struct pair	p;
	int		i, total = 0;

	(void)state;
	pairs_open(&p, ACT_FREE_OTHERS);
	pairs_fill(&p, 100);
	pairs_run_first(&p);
	for (i = 0; i < NPAIR; i++)
		total += p.calls[i];
	assert_int_equal(total, 1);
	assert_int_equal(p.calls[p.first], 1);
	assert_int_equal(p.got[p.first], 100);
	pairs_close(&p);
}

/*
 * The first reader's callback stops the others: they do not run in that
 * batch or later, though their sockets hold bytes; started again they
 * read exactly what was waiting (the set is level-triggered).
 */
static void
test_poll_stop_resume(void **state)
{
	struct pair	p;
	int		i, loops;

	(void)state;
	pairs_open(&p, ACT_STOP_OTHERS);
	pairs_fill(&p, 300);
	pairs_run_first(&p);
	for (i = 0; i < NPAIR; i++)
		assert_int_equal(p.calls[i], i == p.first ? 1 : 0);
	for (i = 0; i < NPAIR; i++)
		if (i != p.first)
			sockread_set(p.r[i], 1);
	for (loops = 0; loops < 100; loops++) {
		event_base_loop(p.base, EVLOOP_NONBLOCK);
		for (i = 0; i < NPAIR && p.got[i] == 300; i++)
			;
		if (i == NPAIR)
			break;
	}
	for (i = 0; i < NPAIR; i++) {
		assert_int_equal(p.got[i], 300);
		assert_int_equal(p.calls[i], 1);
	}
	pairs_close(&p);
}

/* The readers as libevent events of their own (no epoll set). */
static int
poll_libevent(void **state)
{
	(void)state;
	return (setenv("WSBRIDGE_POLL", "libevent", 1));
}

static int
poll_default(void **state)
{
	(void)state;
	return (unsetenv("WSBRIDGE_POLL"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_keep_ref),
		cmocka_unit_test(test_keep_copy),
		cmocka_unit_test(test_poll_free_in_batch),
		cmocka_unit_test(test_poll_stop_resume),
	};
	const struct CMUnitTest fallback[] = {
		cmocka_unit_test(test_keep_ref),
		cmocka_unit_test(test_poll_free_in_batch),
		cmocka_unit_test(test_poll_stop_resume),
	};
	int	rc;

	rc = cmocka_run_group_tests(tests, poll_default, NULL);
	return (rc | cmocka_run_group_tests(fallback, poll_libevent,
	    poll_default));
}
