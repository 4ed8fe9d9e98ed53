/*
 * control.h -- the control socket: a unix socket (control-mode, 0600 by
 * default) speaking versioned JSON lines (docs/dashboard.md, "Control
 * protocol"). Clients ask for global and per-connection stats once or at a
 * rate, and subscribe to open/close/frame events. Clients and their output
 * are bounded: past control-max-clients a client is refused; snapshots are
 * skipped and events dropped (both counted and reported) while one lags; a
 * client whose unread output would pass control-client-buffer, or that
 * reads nothing for CONTROL_STALL_MS, is disconnected (counted, logged); a
 * client that has read everything still gets one answer larger than that.
 * So the clients hold at most control-max-clients x the larger of
 * control-client-buffer and the largest answer (a list: about 1 KiB per
 * connection), and no client can slow the bridge.
 */
#ifndef CONTROL_H
#define CONTROL_H

#include <stdint.h>

#define CONTROL_PROTOCOL	1	/* "protocol" in hello; bumped on breaks */
#define CONTROL_LINE_MAX	(64 * 1024)	/* longest request line */
#define CONTROL_SNAP_SKIP	(64 * 1024)	/* unread output that skips a snapshot */
#define CONTROL_EVENTS_MAX	(256 * 1024)	/* unread output that drops events */
#define CONTROL_STALL_MS	30000	/* output waiting, none read: disconnect */
#define CONTROL_SNAP_MIN_MS	50	/* fastest snapshot rate */

struct worker;
struct worker_hooks;
struct control;

/*
 * Listens on path, on the loop of home (the first worker; every worker of
 * its group must have live stats), created with home's control-mode. A
 * stale socket of ours left by a dead process is replaced; a live one, a
 * symbolic link, another user's socket or any other file is an error.
 * given != -1: the listening socket of path itself, handed over by the
 * wsbridge this one replaces (upgrade): taken as it is. Returns NULL with
 * *cause set (caller frees). Free with control_free(), which removes the
 * socket file unless a new wsbridge took it over ("upgrade-done").
 * control-max-clients and control-client-buffer are read from home's
 * config as clients come and output is queued (a reload changes them).
 *
 * Upgrade protocol (docs/upgrade.md): "upgrade" answers with the control
 * socket's and every worker's listening sockets attached (SCM_RIGHTS);
 * "upgrade-done" from that client makes this wsbridge stop accepting and
 * drain as for SIGTERM.
 */
struct control	*control_new(struct worker *home, const char *path,
		    int given, char **cause);

/*
 * For --check, changing nothing: what control_new() would refuse at path,
 * and whether its directory takes a new socket. Returns 0, or -1 with
 * *cause set.
 */
int		 control_check(const char *path, char **cause);
/*
 * A control socket taken over (given != -1) is left in place at exit
 * until the wsbridge it came from let go of it ("upgrade-done"
 * answered): from then on it is ours to remove.
 */
void		 control_adopted(struct control *);
/*
 * Another listening socket an upgrade hands over besides the listeners
 * (the admin endpoint's), named name; stop(arg) runs on "upgrade-done".
 */
void		 control_handover_add(struct control *, const char *name,
		    int fd, void (*stop)(void *), void *arg);
void		 control_free(struct control *);

/*
 * What each worker calls as its tunnels open and close and frames cross
 * (worker.h); valid until control_free().
 */
const struct worker_hooks *control_hooks(struct control *);

#endif
