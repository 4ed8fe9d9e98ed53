/*
 * framelog_queue.c -- bounded SPSC queue of frame records plus side bytes
 * (see framelog_queue.h). Each index is written by one side only and read by
 * the other with acquire/release ordering, so no lock is taken per record.
 */
#include "wsb_autoconf.h"

#include <stdlib.h>
#include <string.h>

#include "framelog_queue.h"
#include "util.h"

#define LOAD(p)		__atomic_load_n((p), __ATOMIC_ACQUIRE)
#define STORE(p, v)	__atomic_store_n((p), (v), __ATOMIC_RELEASE)

void
flogq_init(struct flogq *q, size_t nrecs, size_t nbytes)
{
	size_t	n = 1;

	memset(q, 0, sizeof *q);
	while (n < nrecs)
		n <<= 1;
	q->nrecs = n;
	q->recs = xcalloc(n, sizeof *q->recs);
	q->nbytes = nbytes;
	q->bytes = nbytes > 0 ? xmalloc(nbytes) : NULL;
}

void
flogq_free(struct flogq *q)
{
	free(q->recs);
	free(q->bytes);
	memset(q, 0, sizeof *q);
}

struct flog_frame *
flogq_reserve(struct flogq *q, size_t n, uint8_t **bytes)
{
	struct flog_frame	*r;
	uint64_t		 pos, skip = 0, btail;

	*bytes = NULL;
	if (q->head - LOAD(&q->tail) >= q->nrecs)
		return (NULL);
	pos = q->bhead;
	if (n > 0) {
		if (n > q->nbytes)
			return (NULL);
		/* Keep each allocation contiguous: skip the ring's end. */
		if (pos % q->nbytes + n > q->nbytes)
			skip = q->nbytes - pos % q->nbytes;
		btail = LOAD(&q->btail);
		if (pos + skip + n - btail > q->nbytes)
			return (NULL);
		pos += skip;
		*bytes = q->bytes + pos % q->nbytes;
	}
	r = &q->recs[q->head & (q->nrecs - 1)];
	memset(r, 0, sizeof *r);
	r->bytes_pos = pos;
	r->bytes_end = pos + n;
	q->bhead = pos + n;
	return (r);
}

void
flogq_commit(struct flogq *q)
{
	STORE(&q->head, q->head + 1);
}

size_t
flogq_used(const struct flogq *q)
{
	return ((size_t)(q->head - LOAD(&q->tail)));
}

size_t
flogq_bytes_used(const struct flogq *q)
{
	return ((size_t)(q->bhead - LOAD(&q->btail)));
}

size_t
flogq_peek(const struct flogq *q, size_t max)
{
	uint64_t	n = LOAD(&q->head) - q->tail;

	return ((size_t)MIN(n, (uint64_t)max));
}

struct flog_frame *
flogq_at(const struct flogq *q, size_t i)
{
	return (&q->recs[(q->tail + i) & (q->nrecs - 1)]);
}

const uint8_t *
flogq_data(const struct flogq *q, const struct flog_frame *rec)
{
	if (rec->bytes_end == rec->bytes_pos)
		return (NULL);
	return (q->bytes + rec->bytes_pos % q->nbytes);
}

void
flogq_release(struct flogq *q, size_t n)
{
	if (n == 0)
		return;
	STORE(&q->btail, flogq_at(q, n - 1)->bytes_end);
	STORE(&q->tail, q->tail + n);
}
