/*
 * arrivals.h -- when the bytes of a stream were read: a short FIFO of
 * (end offset, time) pairs, one per read, so that the time a byte spent
 * inside wsbridge can be told when it leaves. Sans-I/O; used by the frame
 * events (ws_conn.c for client bytes, tunnel.c for backend bytes).
 */
#ifndef ARRIVALS_H
#define ARRIVALS_H

#include <stdint.h>

#define ARRIVALS_MAX	16	/* reads remembered; older ones are merged */

struct arrivals {
	uint64_t	end[ARRIVALS_MAX];	/* stream offset after the read */
	uint64_t	t[ARRIVALS_MAX];	/* when it was read */
	unsigned	head, n;
};

/*
 * Notes that the stream's bytes up to offset end (exclusive, counted from
 * the stream's first byte) had been read at time t. Reads that brought
 * nothing new are ignored. Entries wholly before offset consumed are
 * forgotten; when the FIFO is full the newest entry absorbs the new bytes
 * (their time is then overestimated, never underestimated).
 */
void	 arrivals_note(struct arrivals *a, uint64_t end, uint64_t consumed,
	    uint64_t t);

/*
 * Returns the time the byte just before offset end (i.e. the last byte of
 * a range ending at end) was read, or 0 when unknown.
 */
uint64_t arrivals_time(const struct arrivals *a, uint64_t end);

#endif
