/* arrivals.c -- when the bytes of a stream were read (see arrivals.h). */
#include "wsb_autoconf.h"

#include "arrivals.h"

void
arrivals_note(struct arrivals *a, uint64_t end, uint64_t consumed, uint64_t t)
{
	unsigned	last;

	/* Forget reads whose bytes have all left. */
	while (a->n > 0 && a->end[a->head] <= consumed) {
		a->head = (a->head + 1) % ARRIVALS_MAX;
		a->n--;
	}
	if (a->n > 0) {
		last = (a->head + a->n - 1) % ARRIVALS_MAX;
		if (end <= a->end[last])
			return;
		if (a->n == ARRIVALS_MAX) {
			a->end[last] = end;
			return;
		}
	} else if (end <= consumed)
		return;
	last = (a->head + a->n) % ARRIVALS_MAX;
	a->end[last] = end;
	a->t[last] = t;
	a->n++;
}

uint64_t
arrivals_time(const struct arrivals *a, uint64_t end)
{
	unsigned	i, k;

	for (i = 0; i < a->n; i++) {
		k = (a->head + i) % ARRIVALS_MAX;
		if (a->end[k] >= end)
			return (a->t[k]);
	}
	return (0);
}
