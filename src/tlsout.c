/*
 * tlsout.c -- the write side of a TLS tunnel socket (see tlsout.h).
 *
 * libevent's OpenSSL bufferevent writes each record with its own write(2)
 * through SSL's socket BIO, and only from its write event: every message
 * costs an epoll_ctl to arm that event, a loop pass, the write, and
 * another epoll_ctl to disarm it. Here a message is sealed and written at
 * once when nothing is queued before it: its plaintext is gathered into
 * records of up to 16 KiB (a frame header and its payload make one record,
 * not two), SSL seals them into the thread's ciphertext buffer through our
 * BIO, and one write(2) sends them all. What the socket does not take is
 * copied to the connection's ciphertext queue, and a persistent write
 * event (armed only then) sends it and seals what waits behind it. No
 * library offers this (OpenSSL's buffering BIO flushes per record, and
 * libevent's bufferevent is what we replace), hence the code.
 */
#include "wsb_autoconf.h"

#include <sys/uio.h>

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include "sockread.h"
#include "tlsout.h"
#include "util.h"

#define TLSOUT_RECORD	16384			/* TLS's largest plaintext */
#define TLSOUT_BATCH	(256 * 1024)		/* plaintext sealed per write */
/* A batch's records and their overhead (22-29 bytes each), with room. */
#define TLSOUT_CSTAGE	(TLSOUT_BATCH + 32 * 1024)

struct tlsout {
	SSL			*ssl;
	BIO			*bio;		/* ours, SSL's write BIO */
	int			 fd;
	struct evbuffer		*plain;		/* waiting to be sealed */
	struct evbuffer		*cipher;	/* sealed, not yet written */
	struct event		*ev;		/* EV_WRITE, persistent */
	size_t			 low;
	sock_cb			*cb;
	void			*arg;
	int			 added;		/* ev is pending */
	int			 failed;	/* SSL failed: reported from ev */
	int			 stopped;
};

/*
 * Per thread: the plaintext gathered into the next record, the ciphertext
 * of the batch being sealed, and which tlsout's batch that is (a BIO write
 * outside a batch, such as an alert SSL_read sends, is queued).
 */
struct tlsout_stage {
	size_t		 plen;
	size_t		 clen;
	int		 spilled;	/* the rest of this batch went to cipher */
	struct tlsout	*batch;
	uint8_t		 plain[TLSOUT_RECORD];
	uint8_t		 cipher[TLSOUT_CSTAGE];
};

static __thread struct tlsout_stage	*tlsout_st;
static BIO_METHOD			*tlsout_method;
static pthread_once_t			 tlsout_once = PTHREAD_ONCE_INIT;

static void
tlsout_update(struct tlsout *o)
{
	int	on = !o->stopped && (evbuffer_get_length(o->cipher) > 0 ||
	    evbuffer_get_length(o->plain) > 0);

	if (on == o->added)
		return;
	if (on)
		event_add(o->ev, NULL);
	else
		event_del(o->ev);
	o->added = on;
}

/* ---- our BIO: where SSL's records land ----------------------------------- */

static int
tlsout_bio_write(BIO *b, const char *p, int n)
{
	struct tlsout		*o = BIO_get_data(b);
	struct tlsout_stage	*st = tlsout_st;

	BIO_clear_retry_flags(b);
	if (o == NULL || n < 0)
		return (-1);
	if (st != NULL && st->batch == o && !st->spilled &&
	    (size_t)n <= sizeof st->cipher - st->clen) {
		memcpy(st->cipher + st->clen, p, (size_t)n);
		st->clen += (size_t)n;
		return (n);
	}
	if (st != NULL && st->batch == o)
		st->spilled = 1;	/* the rest follows in order */
	if (evbuffer_add(o->cipher, p, (size_t)n) == -1)
		abort();	/* out of memory, as xmalloc */
	if (st == NULL || st->batch != o)
		tlsout_update(o);	/* outside a batch: the event sends */
	return (n);
}

static long
tlsout_bio_ctrl(BIO *b, int cmd, long num, void *ptr)
{
	struct tlsout	*o = BIO_get_data(b);

	(void)num;
	switch (cmd) {
	case BIO_CTRL_FLUSH:
		return (1);
	case BIO_C_GET_FD:
		if (o == NULL)
			return (-1);
		if (ptr != NULL)
			*(int *)ptr = o->fd;
		return (o->fd);
	default:
		return (0);
	}
}

static int
tlsout_bio_create(BIO *b)
{
	BIO_set_init(b, 1);
	return (1);
}

static int
tlsout_bio_destroy(BIO *b)
{
	BIO_set_data(b, NULL);
	return (1);
}

static void
tlsout_method_init(void)
{
	BIO_METHOD	*m;

	m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK,
	    "wsbridge tls output");
	if (m == NULL || !BIO_meth_set_write(m, tlsout_bio_write) ||
	    !BIO_meth_set_ctrl(m, tlsout_bio_ctrl) ||
	    !BIO_meth_set_create(m, tlsout_bio_create) ||
	    !BIO_meth_set_destroy(m, tlsout_bio_destroy))
		abort();	/* out of memory, as xmalloc */
	tlsout_method = m;
}

/* ---- sealing ----------------------------------------------------------- */

static struct tlsout_stage *
tlsout_stage(void)
{
	if (tlsout_st == NULL)
		tlsout_st = xcalloc(1, sizeof *tlsout_st);
	return (tlsout_st);
}

/* SSL_write of n bytes; our BIO never blocks, so anything short failed. */
static int
tlsout_seal(struct tlsout *o, const void *p, size_t n)
{
	size_t	done;
	int	k;

	while (n > 0) {
		k = SSL_write(o->ssl, p, (int)MIN(n, (size_t)INT_MAX));
		if (k <= 0) {
			o->failed = 1;
			ERR_clear_error();
			return (-1);
		}
		done = (size_t)k;
		p = (const uint8_t *)p + done;
		n -= done;
	}
	return (0);
}

/*
 * Adds n bytes to the batch's plaintext: gathered into whole records,
 * large pieces sealed where they lie.
 */
static void
tlsout_gather(struct tlsout *o, struct tlsout_stage *st, const uint8_t *p,
    size_t n)
{
	size_t	k;

	while (n > 0 && !o->failed) {
		if (st->plen == 0 && n >= TLSOUT_RECORD) {
			k = n - n % TLSOUT_RECORD;
			(void)tlsout_seal(o, p, k);
		} else {
			k = MIN(n, sizeof st->plain - st->plen);
			memcpy(st->plain + st->plen, p, k);
			st->plen += k;
			if (st->plen == sizeof st->plain) {
				(void)tlsout_seal(o, st->plain, st->plen);
				st->plen = 0;
			}
		}
		p += k;
		n -= k;
	}
}

static struct tlsout_stage *
tlsout_begin(struct tlsout *o)
{
	struct tlsout_stage	*st = tlsout_stage();

	st->plen = 0;
	st->clen = 0;
	st->spilled = 0;
	st->batch = o;
	ERR_clear_error();
	return (st);
}

/*
 * Seals what is gathered and writes the batch's ciphertext: what the
 * socket does not take goes before anything that spilled to the queue.
 */
static void
tlsout_end(struct tlsout *o, struct tlsout_stage *st)
{
	ssize_t	w = 0;

	if (st->plen > 0 && !o->failed)
		(void)tlsout_seal(o, st->plain, st->plen);
	st->batch = NULL;
	if (st->clen > 0 && evbuffer_get_length(o->cipher) == 0) {
		if ((w = write(o->fd, st->cipher, st->clen)) < 0)
			w = 0;	/* EAGAIN, or an error the event sees */
	}
	if ((size_t)w < st->clen &&
	    evbuffer_prepend(o->cipher, st->cipher + w, st->clen - (size_t)w) ==
	    -1)
		abort();	/* out of memory, as xmalloc */
	tlsout_update(o);
	if (o->failed)
		event_active(o->ev, EV_WRITE, 1);	/* reported from the loop */
}

/*
 * Seals and writes queued plaintext while the socket takes everything, a
 * batch at a time.
 */
static void
tlsout_push(struct tlsout *o)
{
	struct tlsout_stage	*st;
	struct evbuffer_iovec	 v[16];
	size_t			 want, got;
	int			 i, cnt;

	while (!o->failed && !o->stopped &&
	    evbuffer_get_length(o->cipher) == 0 &&
	    (want = MIN(evbuffer_get_length(o->plain), TLSOUT_BATCH)) > 0) {
		st = tlsout_begin(o);
		cnt = evbuffer_peek(o->plain, want, NULL, v, nitems(v));
		cnt = MIN(cnt, (int)nitems(v));
		for (i = 0, got = 0; i < cnt && got < want; i++) {
			v[i].iov_len = MIN(v[i].iov_len, want - got);
			tlsout_gather(o, st, v[i].iov_base, v[i].iov_len);
			got += v[i].iov_len;
		}
		if (got == 0) {		/* only empty chains peeked */
			got = MIN(want, TLSOUT_RECORD);
			tlsout_gather(o, st, evbuffer_pullup(o->plain, got), got);
		}
		/* Sealed before it leaves: the drain callbacks see it go. */
		evbuffer_drain(o->plain, got);
		tlsout_end(o, st);
	}
	tlsout_update(o);
}

/* Whether new bytes may be sealed and written now, ahead of the event. */
static int
tlsout_now(struct tlsout *o)
{
	return (!o->stopped && !o->failed &&
	    evbuffer_get_length(o->cipher) == 0 &&
	    evbuffer_get_length(o->plain) == 0);
}

size_t
tlsout_send_iov(struct tlsout *o, const struct iovec *iov, int cnt)
{
	struct tlsout_stage	*st;
	size_t			 n = 0;
	int			 i;

	if (!tlsout_now(o)) {
		sockread_keep_iov(o->plain, iov, cnt, 0, 0);
		tlsout_push(o);
		return (0);
	}
	st = tlsout_begin(o);
	for (i = 0; i < cnt; i++) {
		tlsout_gather(o, st, iov[i].iov_base, iov[i].iov_len);
		n += iov[i].iov_len;
	}
	tlsout_end(o, st);
	return (n);
}

size_t
tlsout_send(struct tlsout *o, const void *hdr, size_t hl, struct evbuffer *src,
    size_t n)
{
	struct tlsout_stage	*st;
	struct evbuffer_iovec	 v[16];
	size_t			 got;
	int			 i, cnt;

	if (!tlsout_now(o) || n > TLSOUT_BATCH) {
		evbuffer_add(o->plain, hdr, hl);
		evbuffer_remove_buffer(src, o->plain, n);
		tlsout_push(o);
		return (0);
	}
	st = tlsout_begin(o);
	tlsout_gather(o, st, hdr, hl);
	cnt = n > 0 ? evbuffer_peek(src, n, NULL, v, nitems(v)) : 0;
	for (i = 0, got = 0; i < MIN(cnt, (int)nitems(v)) && got < n; i++) {
		v[i].iov_len = MIN(v[i].iov_len, n - got);
		tlsout_gather(o, st, v[i].iov_base, v[i].iov_len);
		got += v[i].iov_len;
	}
	if (got < n) {
		/* Rare (a payload in more than 16 chains): no shortcut. */
		struct evbuffer_ptr	pos;
		uint8_t			buf[4096];
		size_t			k;

		evbuffer_ptr_set(src, &pos, got, EVBUFFER_PTR_SET);
		while (got < n) {
			k = MIN(sizeof buf, n - got);
			evbuffer_copyout_from(src, &pos, buf, k);
			evbuffer_ptr_set(src, &pos, k, EVBUFFER_PTR_ADD);
			tlsout_gather(o, st, buf, k);
			got += k;
		}
	}
	evbuffer_drain(src, n);
	tlsout_end(o, st);
	return (hl + n);
}

/* ---- the event ----------------------------------------------------------- */

/* Stops for good and tells the owner why (err: errno to report). */
static void
tlsout_fail(struct tlsout *o, int err)
{
	o->stopped = 1;
	tlsout_update(o);
	errno = err;
	o->cb(o->arg, SOCK_ERROR);
}

static void
tlsout_ready(evutil_socket_t fd, short what, void *arg)
{
	struct tlsout	*o = arg;
	int		 n;

	(void)fd;
	(void)what;
	if (o->stopped)
		return;
	if (o->failed) {
		tlsout_fail(o, EPROTO);
		return;
	}
	if (evbuffer_get_length(o->cipher) > 0) {
		n = evbuffer_write(o->cipher, o->fd);
		if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK &&
		    errno != EINTR) {
			tlsout_fail(o, errno);
			return;
		}
		if (n <= 0)
			return;
	}
	tlsout_push(o);
	if (o->failed)
		tlsout_fail(o, EPROTO);
	else if (tlsout_pending(o) <= o->low)
		o->cb(o->arg, SOCK_DRAINED);
}

/* ---- the rest ------------------------------------------------------------ */

struct tlsout *
tlsout_new(struct event_base *base, SSL *ssl, int fd, size_t low,
    sock_cb *cb, void *arg)
{
	struct tlsout	*o;

	pthread_once(&tlsout_once, tlsout_method_init);
	o = xcalloc(1, sizeof *o);
	o->ssl = ssl;
	o->fd = fd;
	o->low = low;
	o->cb = cb;
	o->arg = arg;
	if ((o->plain = evbuffer_new()) == NULL ||
	    (o->cipher = evbuffer_new()) == NULL ||
	    (o->ev = event_new(base, fd, EV_WRITE | EV_PERSIST, tlsout_ready,
	    o)) == NULL || (o->bio = BIO_new(tlsout_method)) == NULL)
		abort();	/* out of memory, as xmalloc */
	BIO_set_data(o->bio, o);
	/* SSL keeps its socket BIO for reading and owns ours from here. */
	SSL_set0_wbio(ssl, o->bio);
	return (o);
}

void
tlsout_thread_end(void)
{
	free(tlsout_st);
	tlsout_st = NULL;
}

/* SSL writes to the socket again; our BIO goes with SSL's reference. */
static void
tlsout_unbio(struct tlsout *o)
{
	BIO	*rbio = SSL_get_rbio(o->ssl);

	if (o->bio == NULL)
		return;
	BIO_set_data(o->bio, NULL);	/* from here its writes fail */
	if (rbio != NULL && BIO_up_ref(rbio))
		SSL_set0_wbio(o->ssl, rbio);	/* frees ours */
	o->bio = NULL;
}

void
tlsout_detach(struct tlsout *o)
{
	tlsout_stop(o);
	tlsout_unbio(o);
}

void
tlsout_free(struct tlsout *o)
{
	if (o == NULL)
		return;
	/* libevent asks the write BIO for the socket to close it. */
	tlsout_unbio(o);
	event_free(o->ev);
	evbuffer_free(o->plain);
	evbuffer_free(o->cipher);
	free(o);
}

struct evbuffer *
tlsout_output(struct tlsout *o)
{
	return (o->plain);
}

void
tlsout_flush(struct tlsout *o)
{
	if (evbuffer_get_length(o->cipher) == 0 &&
	    evbuffer_get_length(o->plain) > 0)
		tlsout_push(o);
	else
		tlsout_update(o);
}

size_t
tlsout_pending(const struct tlsout *o)
{
	return (evbuffer_get_length(o->plain) + evbuffer_get_length(o->cipher));
}

void
tlsout_set_low(struct tlsout *o, size_t low)
{
	o->low = low;
}

void
tlsout_stop(struct tlsout *o)
{
	o->stopped = 1;
	tlsout_update(o);
}
