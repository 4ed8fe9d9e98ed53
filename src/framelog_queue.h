/*
 * framelog_queue.h -- the bounded queue between the event loop (one
 * producer) and the frame log's writer thread (one consumer): a ring of
 * small fixed frame records and a side ring of bytes for payload captures
 * and close reasons. Lock-free single-producer/single-consumer; no I/O, no
 * clocks, so it is unit-tested on its own.
 */
#ifndef FRAMELOG_QUEUE_H
#define FRAMELOG_QUEUE_H

#include <stddef.h>
#include <stdint.h>

/* One frame as the writer stores it. Times are ns since the epoch. */
struct flog_frame {
	uint64_t	session;	/* sessions.id */
	int64_t		t;		/* header parsed (in) / queued (out) */
	uint64_t	len;		/* payload length */
	uint64_t	plain_len;	/* zmsg: the bytes it inflates to */
	uint64_t	msg_no;		/* 0: control frame */
	uint64_t	delay_ns;	/* FLOG_HOL: transfer_ns or wait_ns */
	uint64_t	extra_ns;	/* FLOG_HOL: next_delay_ns */
	uint64_t	mono;		/* monotonic ns: frame event time; for
					   FLOG_HOL of a control frame, the time
					   it was queued (the same clock value) */
	uint64_t	bytes_pos;	/* side ring position of capture+reason */
	uint64_t	bytes_end;	/* side ring head after this record */
	uint32_t	frag;
	uint32_t	data_len;	/* captured payload bytes at bytes_pos */
	uint16_t	close_code;	/* 0: none */
	uint8_t		reason_len;	/* close reason right after the capture */
	uint8_t		dir;		/* enum ws_dir */
	uint8_t		opcode, fin, rsv, masked, hdr_len, status;
	uint8_t		zmsg;		/* of a compressed message */
	uint8_t		hol;		/* FLOG_HOL results will follow */
};

/*
 * A record with this status is no frame but head-of-line results for one
 * already queued (framelog_session_hol): msg_no != 0, a data message's
 * transfer and next-delay times; msg_no 0, a control frame's wait, the
 * frame found by session, dir, opcode and t.
 */
#define FLOG_HOL	0x10

struct flogq {
	struct flog_frame	*recs;
	size_t			 nrecs;		/* power of two */
	uint8_t			*bytes;
	size_t			 nbytes;
	uint64_t		 head;		/* producer: records pushed */
	uint64_t		 tail;		/* consumer: records released */
	uint64_t		 bhead;		/* producer: side bytes allocated */
	uint64_t		 btail;		/* consumer: side bytes released */
};

/*
 * Sets up q for nrecs records (rounded up to a power of two) and nbytes of
 * side bytes. The caller frees with flogq_free().
 */
void	flogq_init(struct flogq *q, size_t nrecs, size_t nbytes);
void	flogq_free(struct flogq *q);

/*
 * Producer: reserves the next record and n side bytes (*bytes points at
 * them; NULL when n is 0). Returns the record to fill, or NULL when the
 * record ring is full, and likewise when the side ring cannot hold n bytes
 * (then *bytes is NULL and the caller may retry with n = 0). Allocations
 * are contiguous, so up to half the side ring is sure to fit once it has
 * drained. Nothing is visible to the consumer until flogq_commit().
 */
struct flog_frame *flogq_reserve(struct flogq *q, size_t n, uint8_t **bytes);
void	flogq_commit(struct flogq *q);

/* Records and side bytes in use, as the producer sees them. */
size_t	flogq_used(const struct flogq *q);
size_t	flogq_bytes_used(const struct flogq *q);

/*
 * Consumer: the number of committed records not yet released (at most
 * max); flogq_at(q, i) is the i-th of them and flogq_data(q, rec) its side
 * bytes. They stay valid until flogq_release(q, n) hands the first n back.
 */
size_t			 flogq_peek(const struct flogq *q, size_t max);
struct flog_frame	*flogq_at(const struct flogq *q, size_t i);
const uint8_t		*flogq_data(const struct flogq *q,
			    const struct flog_frame *rec);
void			 flogq_release(struct flogq *q, size_t n);

/*
 * The writer's memory of rows that still expect head-of-line results: a
 * FLOG_HOL record finds its frame's row id here instead of searching the
 * table (an index that could find it costs more per frame than all the
 * rest of the insert). Keys: a data message's last frame by (session, dir,
 * msg_no), a control frame by (session, dir, opcode, mono). Bounded: when
 * it fills, the older half is forgotten (those results are not applied).
 */
struct flogmap_ent {
	uint64_t	session;
	uint64_t	key;		/* msg_no, or a control frame's mono */
	uint64_t	id;		/* frames.id; 0: free slot */
	uint64_t	stamp;		/* insertion order */
	uint8_t		dir;
	uint8_t		op;		/* 0 data, else the control opcode */
};

struct flogmap {
	struct flogmap_ent	*e;
	size_t			 cap;	/* power of two; 0 until first put */
	size_t			 n;
	size_t			 max;	/* forget the older half beyond */
	uint64_t		 stamp;
	uint64_t		 forgotten;
};

void	 flogmap_init(struct flogmap *m, size_t max);
void	 flogmap_free(struct flogmap *m);
void	 flogmap_clear(struct flogmap *m);
void	 flogmap_put(struct flogmap *m, uint64_t session, uint8_t dir,
	    uint8_t op, uint64_t key, uint64_t id);
/* The id stored under the key, removed; 0 when there is none. */
uint64_t flogmap_take(struct flogmap *m, uint64_t session, uint8_t dir,
	    uint8_t op, uint64_t key);

#endif
