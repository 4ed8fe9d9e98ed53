/*
 * admin.h -- the admin endpoint ("admin ADDR"): a small HTTP server of its
 * own (libevent's evhttp) on the first worker's loop, for load balancers
 * and monitoring: GET /healthz (200 while the process serves), GET /readyz
 * (503 while draining, while the frame log is failing or a token route's
 * source cannot be read, else 200) and
 * GET /metrics (Prometheus text format; metrics.h, docs/metrics.md). HEAD
 * works on each; other paths are 404, other methods 405.
 */
#ifndef ADMIN_H
#define ADMIN_H

struct worker;
struct config;
struct admin;

/*
 * Listens on home's cfg->admin (home: the first worker, in its thread,
 * before the other workers' threads start) and gives every worker of the
 * group a struct metrics and a timer on its own loop that measures the
 * loop's lag and publishes the worker's numbers about once a second.
 * Returns NULL with *cause set (caller frees). Free with admin_free()
 * after every loop ended and every connection was freed; it removes a
 * unix socket it made.
 */
/*
 * given != -1: the admin listening socket of the wsbridge this one
 * replaces (--upgrade), taken as it is; its unix socket file, if any, is
 * ours to remove only after admin_adopted().
 */
struct admin	*admin_new(struct worker *home, int given, char **cause);
void		 admin_free(struct admin *);
/* The listening socket, for an upgrade to hand over. */
int		 admin_fd(const struct admin *);
/* An upgrade took it over: stop accepting; its file is not ours now. */
void		 admin_stop(void *admin);
/* The wsbridge we took it from let go (upgrade-done answered). */
void		 admin_adopted(struct admin *);

/*
 * For --check, changing nothing: what admin_new() would refuse of cfg's
 * unix socket path (a file of another type there, a directory that takes
 * no socket). Returns 0, or -1 with *cause set.
 */
int		 admin_check(const struct config *cfg, char **cause);

#endif
