/*
 * control.h -- the control socket: a unix socket (mode 0600) speaking
 * versioned JSON lines (docs/dashboard.md, "Control protocol"). Clients ask
 * for global and per-connection stats once or at a rate, and subscribe to
 * open/close/frame events. Every client's output is bounded: snapshots are
 * skipped and events dropped (both counted and reported) while it lags, and
 * a client that reads nothing for CONTROL_STALL_MS is disconnected, so no
 * client can slow the bridge.
 */
#ifndef CONTROL_H
#define CONTROL_H

#include <stdint.h>

#define CONTROL_PROTOCOL	1	/* "protocol" in hello; bumped on breaks */
#define CONTROL_LINE_MAX	(64 * 1024)	/* longest request line */
#define CONTROL_SNAP_SKIP	(64 * 1024)	/* unread output that skips a snapshot */
#define CONTROL_EVENTS_MAX	(256 * 1024)	/* unread output that drops events */
#define CONTROL_OUT_MAX		(64 * 1024 * 1024) /* unread output: disconnect */
#define CONTROL_STALL_MS	30000	/* output waiting, none read: disconnect */
#define CONTROL_SNAP_MIN_MS	50	/* fastest snapshot rate */

struct worker;
struct worker_hooks;
struct control;

/*
 * Listens on path, on the loop of home (the first worker; every worker of
 * its group must have live stats). A stale socket file left by a dead
 * process is replaced; a live one is an error. Returns NULL with *cause
 * set (caller frees). Free with control_free(), which removes the socket
 * file.
 */
struct control	*control_new(struct worker *home, const char *path,
		    char **cause);
void		 control_free(struct control *);

/*
 * What each worker calls as its tunnels open and close and frames cross
 * (worker.h); valid until control_free().
 */
const struct worker_hooks *control_hooks(struct control *);

#endif
