/*
 * admin.c -- the admin endpoint (see admin.h): health, readiness and
 * Prometheus metrics over HTTP, served by libevent's evhttp on the first
 * worker's loop, and each worker's timer that measures its loop's lag and
 * publishes its numbers (metrics.c). A scrape reads what the workers
 * published; it never asks a worker anything, so neither waits for the
 * other.
 */
#include "wsb_autoconf.h"

#include <sys/resource.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/listener.h>

#include "admin.h"
#include "config.h"
#include "conn_facts.h"
#include "framelog.h"
#include "listener.h"
#include "log.h"
#include "metrics.h"
#include "tunnel.h"
#include "util.h"
#include "worker.h"

#define ADMIN_TICK_MS		250	/* loop-lag timer period */
#define ADMIN_PUBLISH_TICKS	4	/* publish every 4 ticks: 1 s */
/*
 * A request must be complete, and an answer taken, within this: a client
 * that trickles (or reads nothing) holds one connection that long at most.
 */
#define ADMIN_TIMEOUT_S		10
#define ADMIN_HEAD_MAX		8192	/* request head: a bigger one is refused */

/* A worker's timer: lag and publishing, on the worker's loop. */
struct admin_w {
	struct admin	*a;
	struct worker	*w;
	struct event	*ev;
	uint64_t	 due;		/* when the timer should run (ns) */
	unsigned	 ticks;
};

struct admin {
	struct worker	*home;		/* the first worker: our loop */
	struct evhttp	*http;
	struct evhttp_bound_socket *bound;	/* its listening socket */
	char		*unix_path;	/* a socket we made, removed at free */
	char		*taken_path;	/* one taken over: ours once adopted */
	char		 addr[CONN_ADDRSTRLEN];	/* bound, for the log */
	uint64_t	 start_wall_ns;
	unsigned	 n;
	struct admin_w	*ws;		/* one per worker */
	struct metrics	**ms;		/* each worker's */
};

/* ---- each worker's timer (its thread) ---------------------------------- */

/* Walks w's tunnels into its metrics and publishes them. */
static void
admin_publish(struct worker *w)
{
	struct framelog_live	 fl;
	struct metrics_tunnel	 mt;
	struct tunnel		*t;

	metrics_walk_begin(w->metrics);
	for (t = tunnel_first(w); t != NULL; t = tunnel_next(t)) {
		tunnel_metrics(t, &mt);
		metrics_walk(w->metrics, &mt);
	}
	if (w->flog != NULL)
		framelog_live(w->flog, &fl);
	metrics_publish(w->metrics, w->nconns, w->stats,
	    w->flog != NULL ? &fl : NULL);
}

static void
admin_arm(struct admin_w *aw)
{
	struct timeval	tv = { 0, ADMIN_TICK_MS * 1000 };

	/* The loop's cached time is when this pass began: use the clock's. */
	event_base_update_cache_time(aw->w->base);
	aw->due = now_ns() + (uint64_t)ADMIN_TICK_MS * 1000000;
	evtimer_add(aw->ev, &tv);
}

static void
admin_tick(evutil_socket_t fd, short what, void *arg)
{
	struct admin_w	*aw = arg;
	uint64_t	 now = now_ns();

	metrics_lag(aw->w->metrics, now > aw->due ? now - aw->due : 0);
	if (++aw->ticks % ADMIN_PUBLISH_TICKS == 0)
		admin_publish(aw->w);
	admin_arm(aw);
}

/* ---- HTTP (the first worker's thread) --------------------------------- */

/*
 * Why the process is not ready, or NULL when it is: draining, the frame
 * log failing, or a token route's source gone (every client of the route
 * would get 404).
 */
static const char *
admin_unready(struct admin *a, char *buf, size_t len)
{
	const struct config	*cfg = a->home->cfg;
	struct framelog_live	 fl;
	const char		*src;
	size_t			 i;

	if (a->home->stopping)
		return ("draining: not accepting new connections");
	for (i = 0; i < cfg->nroutes; i++) {
		src = config_route_token_source(&cfg->routes[i]);
		if (src != NULL && access(src, R_OK) == -1) {
			snprintf(buf, len, "token source %s of route %s: %s",
			    src, cfg->routes[i].path, strerror(errno));
			return (buf);
		}
	}
	if (a->home->flog != NULL) {
		framelog_live(a->home->flog, &fl);
		if (fl.failing) {
			snprintf(buf, len, "frame log failing: %s",
			    framelog_path(a->home->flog));
			return (buf);
		}
	}
	return (NULL);
}

/* Process-wide numbers for the scrape: start, CPU, memory, readiness. */
static void
admin_process(struct admin *a, struct metrics_process *p)
{
	struct rusage	 ru;
	FILE		*f;
	unsigned long	 size, pages;
	char		 buf[256];

	memset(p, 0, sizeof *p);
	p->start_wall_ns = a->start_wall_ns;
	if (getrusage(RUSAGE_SELF, &ru) == 0)
		p->cpu_ns = ((uint64_t)ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) *
		    1000000000ULL + ((uint64_t)ru.ru_utime.tv_usec +
		    ru.ru_stime.tv_usec) * 1000;
	/* Linux: the second number of statm is resident pages. */
	if ((f = fopen("/proc/self/statm", "re")) != NULL) {
		if (fscanf(f, "%lu %lu", &size, &pages) == 2)
			p->rss_bytes = (uint64_t)pages *
			    (uint64_t)sysconf(_SC_PAGESIZE);
		fclose(f);
	}
	p->workers = a->n;
	p->draining = a->home->stopping;
	p->ready = admin_unready(a, buf, sizeof buf) == NULL;
}

static void
admin_reply(struct evhttp_request *req, int code, const char *reason,
    const char *ctype, struct evbuffer *body)
{
	struct evkeyvalq	*h = evhttp_request_get_output_headers(req);

	char			 len[24];

	evhttp_add_header(h, "Content-Type", ctype);
	evhttp_add_header(h, "Cache-Control", "no-store");
	if (evhttp_request_get_command(req) != EVHTTP_REQ_HEAD) {
		evhttp_send_reply(req, code, reason, body);
		return;
	}
	/* HEAD: what GET would say of the body, without it. */
	snprintf(len, sizeof len, "%zu", evbuffer_get_length(body));
	evhttp_add_header(h, "Content-Length", len);
	evhttp_send_reply(req, code, reason, NULL);
}

static void
admin_text(struct evhttp_request *req, int code, const char *reason,
    const char *text)
{
	struct evbuffer	*b;

	if ((b = evbuffer_new()) == NULL)
		fatalx("out of memory");
	evbuffer_add_printf(b, "%s\n", text);
	admin_reply(req, code, reason, "text/plain; charset=utf-8", b);
	evbuffer_free(b);
}

static void
admin_metrics(struct admin *a, struct evhttp_request *req)
{
	struct metrics_process	 p;
	struct evbuffer		*b;

	if ((b = evbuffer_new()) == NULL)
		fatalx("out of memory");
	admin_process(a, &p);
	metrics_render(b, a->ms, a->n, &p);
	admin_reply(req, 200, "OK", "text/plain; version=0.0.4; "
	    "charset=utf-8", b);
	evbuffer_free(b);
}

static void
admin_request(struct evhttp_request *req, void *arg)
{
	static const char *const paths[] = { "/healthz", "/readyz",
		"/metrics" };
	struct admin		*a = arg;
	const char		*uri = evhttp_request_get_uri(req), *why;
	enum evhttp_cmd_type	 cmd = evhttp_request_get_command(req);
	char			 buf[256];
	size_t			 i, len;

	len = strcspn(uri, "?");
	for (i = 0; i < nitems(paths); i++)
		if (strlen(paths[i]) == len && strncmp(uri, paths[i], len) == 0)
			break;
	if (i == nitems(paths)) {
		admin_text(req, 404, "Not Found",
		    "not found: try /healthz, /readyz or /metrics");
		return;
	}
	if (cmd != EVHTTP_REQ_GET && cmd != EVHTTP_REQ_HEAD) {
		evhttp_add_header(evhttp_request_get_output_headers(req),
		    "Allow", "GET, HEAD");
		admin_text(req, 405, "Method Not Allowed",
		    "method not allowed: GET or HEAD");
		return;
	}
	switch (i) {
	case 0:
		admin_text(req, 200, "OK", "ok");
		break;
	case 1:
		if ((why = admin_unready(a, buf, sizeof buf)) != NULL)
			admin_text(req, 503, "Service Unavailable", why);
		else
			admin_text(req, 200, "OK", "ready");
		break;
	default:
		admin_metrics(a, req);
		break;
	}
}

/* ---- life cycle ---------------------------------------------------------- */

int
admin_check(const struct config *cfg, char **cause)
{
	struct stat	 sb;
	char		*why;

	if (cfg->admin_unix == NULL)
		return (0);
	if (lstat(cfg->admin_unix, &sb) == 0 && !S_ISSOCK(sb.st_mode)) {
		*cause = xasprintf("admin %s: exists and is not a socket",
		    cfg->admin_unix);
		return (-1);
	}
	if (path_dir_usable(cfg->admin_unix, &why) != 0) {
		*cause = xasprintf("admin %s: %s", cfg->admin_unix, why);
		free(why);
		return (-1);
	}
	return (0);
}

/* Binds cfg's admin address to a->http. Returns 0, or -1 with *cause. */
static int
admin_bind(struct admin *a, const struct config *cfg, char **cause)
{
	struct evconnlistener		*evl;
	struct evhttp_bound_socket	*bs;
	struct sockaddr_storage		 ss;
	socklen_t			 sslen = sizeof ss;
	char				*why;
	int				 fd;

	snprintf(a->addr, sizeof a->addr, "%s", cfg->admin);
	if (cfg->admin_unix == NULL) {
		errno = 0;
		bs = evhttp_bind_socket_with_handle(a->http, cfg->admin_host !=
		    NULL ? cfg->admin_host : "0.0.0.0",
		    (uint16_t)cfg->admin_port);
		a->bound = bs;
		if (bs == NULL) {
			*cause = xasprintf("admin %s: %s", cfg->admin,
			    errno != 0 ? strerror(errno) : "cannot listen");
			return (-1);
		}
		/* The port the kernel chose for port 0, for the log. */
		memset(&ss, 0, sizeof ss);
		if (getsockname(evhttp_bound_socket_get_fd(bs),
		    (struct sockaddr *)&ss, &sslen) == 0)
			(void)conn_addr_str(&ss, a->addr, sizeof a->addr);
		return (0);
	}
	if (admin_check(cfg, &why) != 0) {
		*cause = why;
		return (-1);
	}
	if ((fd = listener_unix_socket(cfg->admin_unix,
	    cfg->admin_mode)) == -1) {
		*cause = xasprintf("admin %s: %s", cfg->admin,
		    strerror(errno));
		return (-1);
	}
	a->unix_path = xstrdup(cfg->admin_unix);
	evl = evconnlistener_new(a->home->base, NULL, NULL,
	    LEV_OPT_CLOSE_ON_FREE, 0, fd);
	if (evl == NULL || (a->bound = evhttp_bind_listener(a->http,
	    evl)) == NULL) {
		if (evl != NULL)
			evconnlistener_free(evl);
		else
			close(fd);
		*cause = xasprintf("admin %s: cannot listen", cfg->admin);
		return (-1);
	}
	return (0);
}

/* The socket an upgrade handed over (admin_new's given). */
static int
admin_take(struct admin *a, const struct config *cfg, int given,
    char **cause)
{
	int	fd;

	snprintf(a->addr, sizeof a->addr, "%s", cfg->admin);
	if ((fd = fcntl(given, F_DUPFD_CLOEXEC, 3)) == -1 ||
	    evutil_make_socket_nonblocking(fd) == -1 ||
	    (a->bound = evhttp_accept_socket_with_handle(a->http, fd)) ==
	    NULL) {
		*cause = xasprintf("admin %s: the socket handed over: %s",
		    cfg->admin, strerror(errno));
		if (fd != -1)
			close(fd);
		return (-1);
	}
	if (cfg->admin_unix != NULL)
		a->taken_path = xstrdup(cfg->admin_unix);
	return (0);
}

int
admin_fd(const struct admin *a)
{
	return (a->bound != NULL ? (int)evhttp_bound_socket_get_fd(a->bound) :
	    -1);
}

void
admin_stop(void *arg)
{
	struct admin	*a = arg;

	if (a->bound != NULL)
		evhttp_del_accept_socket(a->http, a->bound);
	a->bound = NULL;
	free(a->unix_path);
	a->unix_path = NULL;
}

void
admin_adopted(struct admin *a)
{
	if (a == NULL || a->taken_path == NULL)
		return;
	a->unix_path = a->taken_path;
	a->taken_path = NULL;
}

struct admin *
admin_new(struct worker *home, int given, char **cause)
{
	const struct config	*cfg = home->cfg;
	struct admin		*a;
	struct admin_w		*aw;
	unsigned		 i;

	a = xcalloc(1, sizeof *a);
	a->home = home;
	a->start_wall_ns = wall_ns();
	a->n = worker_count(home);
	a->ws = xcalloc(a->n, sizeof *a->ws);
	a->ms = xcalloc(a->n, sizeof *a->ms);
	if ((a->http = evhttp_new(home->base)) == NULL)
		fatalx("out of memory");
	/* Every method reaches admin_request, which answers 405 itself. */
	evhttp_set_allowed_methods(a->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST |
	    EVHTTP_REQ_HEAD | EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE |
	    EVHTTP_REQ_OPTIONS | EVHTTP_REQ_TRACE | EVHTTP_REQ_CONNECT |
	    EVHTTP_REQ_PATCH);
	evhttp_set_timeout(a->http, ADMIN_TIMEOUT_S);
	evhttp_set_max_headers_size(a->http, ADMIN_HEAD_MAX);
	evhttp_set_max_body_size(a->http, ADMIN_HEAD_MAX);
	evhttp_set_gencb(a->http, admin_request, a);
	if ((given != -1 ? admin_take(a, cfg, given, cause) :
	    admin_bind(a, cfg, cause)) != 0) {
		admin_free(a);
		return (NULL);
	}
	for (i = 0; i < a->n; i++) {
		aw = &a->ws[i];
		aw->a = a;
		aw->w = worker_at(home, i);
		a->ms[i] = aw->w->metrics = metrics_new(i);
		/* Their threads start later: this publish is theirs. */
		admin_publish(aw->w);
		aw->ev = evtimer_new(aw->w->base, admin_tick, aw);
		admin_arm(aw);
	}
	log_info("admin endpoint on %s: /healthz /readyz /metrics", a->addr);
	return (a);
}

void
admin_free(struct admin *a)
{
	unsigned	i;

	if (a == NULL)
		return;
	if (a->http != NULL)
		evhttp_free(a->http);
	for (i = 0; i < a->n; i++) {
		if (a->ws[i].ev != NULL)
			event_free(a->ws[i].ev);
		if (a->ws[i].w != NULL)
			a->ws[i].w->metrics = NULL;
		metrics_free(a->ms[i]);
	}
	if (a->unix_path != NULL)
		(void)unlink(a->unix_path);
	free(a->unix_path);
	free(a->taken_path);
	free(a->ws);
	free(a->ms);
	free(a);
}
