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

/* ---- flogmap: open addressing, linear probing, backward-shift delete ---- */

static size_t
flogmap_slot(const struct flogmap *m, uint64_t session, uint8_t dir,
    uint8_t op, uint64_t key)
{
	uint64_t	h;

	/* Mixing constants of splitmix64: keys are small counters. */
	h = session * 0x9e3779b97f4a7c15ULL ^ key ^
	    ((uint64_t)dir << 56 | (uint64_t)op << 48);
	h ^= h >> 30;
	h *= 0xbf58476d1ce4e5b9ULL;
	h ^= h >> 27;
	h *= 0x94d049bb133111ebULL;
	h ^= h >> 31;
	return ((size_t)h & (m->cap - 1));
}

void
flogmap_init(struct flogmap *m, size_t max)
{
	memset(m, 0, sizeof *m);
	m->max = max < 16 ? 16 : max;
}

void
flogmap_free(struct flogmap *m)
{
	free(m->e);
	m->e = NULL;
	m->cap = m->n = 0;
}

void
flogmap_clear(struct flogmap *m)
{
	if (m->e != NULL)
		memset(m->e, 0, m->cap * sizeof *m->e);
	m->n = 0;
}

static void
flogmap_insert(struct flogmap *m, const struct flogmap_ent *ent)
{
	size_t	i;

	i = flogmap_slot(m, ent->session, ent->dir, ent->op, ent->key);
	while (m->e[i].id != 0)
		i = (i + 1) & (m->cap - 1);
	m->e[i] = *ent;
	m->n++;
}

/* Keeps the newer half of the entries. */
static void
flogmap_forget(struct flogmap *m)
{
	struct flogmap_ent	*old = m->e;
	uint64_t		 keep = m->stamp - m->max / 2;
	size_t			 i, cap = m->cap;

	m->e = xcalloc(cap, sizeof *m->e);
	m->n = 0;
	for (i = 0; i < cap; i++) {
		if (old[i].id == 0)
			continue;
		if (old[i].stamp >= keep)
			flogmap_insert(m, &old[i]);
		else
			m->forgotten++;
	}
	free(old);
}

void
flogmap_put(struct flogmap *m, uint64_t session, uint8_t dir, uint8_t op,
    uint64_t key, uint64_t id)
{
	struct flogmap_ent	ent;

	if (id == 0)
		return;
	if (m->e == NULL) {
		/* At most half full: probes stay short. */
		for (m->cap = 16; m->cap < m->max * 2; m->cap <<= 1)
			;
		m->e = xcalloc(m->cap, sizeof *m->e);
	}
	if (m->n >= m->max)
		flogmap_forget(m);
	ent.session = session;
	ent.key = key;
	ent.id = id;
	ent.stamp = m->stamp++;
	ent.dir = dir;
	ent.op = op;
	flogmap_insert(m, &ent);
}

uint64_t
flogmap_take(struct flogmap *m, uint64_t session, uint8_t dir, uint8_t op,
    uint64_t key)
{
	struct flogmap_ent	*e;
	size_t			 i, j, k, mask = m->cap - 1;
	uint64_t		 id;

	if (m->e == NULL)
		return (0);
	for (i = flogmap_slot(m, session, dir, op, key);; i = (i + 1) & mask) {
		e = &m->e[i];
		if (e->id == 0)
			return (0);
		if (e->session == session && e->key == key && e->dir == dir &&
		    e->op == op)
			break;
	}
	id = e->id;
	/* Backward shift: later entries of the run move into the hole. */
	for (j = i;;) {
		m->e[j].id = 0;
		for (k = (j + 1) & mask;; k = (k + 1) & mask) {
			size_t	home;

			if (m->e[k].id == 0) {
				m->n--;
				return (id);
			}
			home = flogmap_slot(m, m->e[k].session, m->e[k].dir,
			    m->e[k].op, m->e[k].key);
			/* Movable when home is not within (j, k]. */
			if (((k - home) & mask) >= ((k - j) & mask))
				break;
		}
		m->e[j] = m->e[k];
		j = k;
	}
}
