/*
 * framelog.c -- the frame log's two halves: on the event loop, sessions and
 * frame events become records in a bounded queue (cheap, never waits on
 * disk); in the writer thread, the records become rows in batched
 * transactions. See framelog.h and docs/framelog.md.
 */
#include "wsb_autoconf.h"

#include <sys/queue.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "config.h"
#include "conn_facts.h"
#include "framelog.h"
#include "framelog_db.h"
#include "framelog_queue.h"
#include "log.h"
#include "stats.h"
#include "util.h"
#include "ws_conn.h"
#include "ws_frame.h"

#define FLOG_SIDE_BYTES		(8 * 1024 * 1024)	/* captures + reasons */
#define FLOG_WAIT_MS		100	/* writer wakes at least this often */
#define FLOG_RETRY_MS		1000	/* database retry after an error */
#define FLOG_START_TRIES	10	/* at start, a busy file: tries (each
					   waits the 1 s busy timeout) */
#define FLOG_STATUS_MS		1000	/* log_status refresh, file check */
#define FLOG_PRUNE_MS		10000	/* retention */
#define FLOG_REPORT_MS		10000	/* log line when something was lost */
#define FLOG_PRUNE_MAX		200000	/* frames deleted per prune pass */
#define FLOG_HOL_MAX		65536	/* rows awaiting head-of-line results */
#define FLOG_IDLE_QUEUE_MIN	16384	/* smaller queues: writer never idle */
#define FLOG_RAISE_NS		10000000ULL	/* raise again after 10 ms */
#define FLOG_TICK_MS		250	/* wall clock, starved-writer check */
#define FLOG_HOLD_NS		10000000000ULL	/* stay normal after 5/8 full */

#define ALOAD(p)	__atomic_load_n((p), __ATOMIC_RELAXED)
#define AADD(p, v)	__atomic_add_fetch((p), (v), __ATOMIC_RELAXED)
#define ASTORE(p, v)	__atomic_store_n((p), (v), __ATOMIC_RELAXED)

TAILQ_HEAD(framelog_waiters, framelog_session);

/*
 * One producer: a worker's event loop. Each has its own queue, so the
 * queues stay single-producer; the one writer drains them all.
 */
struct framelog {
	struct flog_writer	*fw;
	struct event_base	*base;
	struct flogq		 q;
	size_t			 high, low;	/* block: pause at, resume at */
	size_t			 bhigh;
	uint64_t		 raised_ns;	/* last framelog_prio_raise() */
	int64_t			 wall_off;	/* wall - monotonic, ns */
	struct event		*ev_tick;	/* wall_off, starved writer */
	uint64_t		 tick_written;	/* writer's rows at the last tick */

	/* Block policy: sessions waiting for the queue to drain. */
	struct framelog_waiters	 waiters;
	int			 blocked;	/* atomic: loop set, loop clears */
	int			 pipe[2];	/* writer -> loop: drained */
	struct event		*ev_pipe;
	int			 notified;	/* atomic: writer wrote the pipe */

	/*
	 * Counters the loop bumps and the writer reads (atomics).
	 * hol_dropped: head-of-line results that found the queue full; they
	 * are not frames (their frame's row only lacks its HOL columns), so
	 * frames_dropped stays the count of frames missing from the log.
	 */
	uint64_t		 frames_dropped, capture_dropped, queue_max;
	uint64_t		 hol_dropped;
};

/* What the producers share, and the writer thread's own state. */
struct flog_writer {
	struct framelog_cfg	 cfg;	/* copy of the config at start */
	struct framelog		*prods;	/* one per worker */
	unsigned		 nprods;
	uint64_t		 next_session;	/* atomic: local session ids */

	/* Shared, under mu. */
	pthread_mutex_t		 mu;
	pthread_cond_t		 cond;
	struct flog_session_rec	*sess_head, **sess_tail;
	int			 stop;
	int			 idle;		/* atomic: writer is waiting */
	pthread_t		 thread;
	int			 thread_started;

	/* Writer priority (framelog_prio_*). */
	pid_t			 tid;		/* the writer thread's id */
	int			 prio_ok;	/* atomic: goes idle, can come back */
	uint64_t		 prio_raised;	/* atomic: times raised */
	int			 prio_warned;	/* atomic: a raise failed */
	uint64_t		 prio_hold;	/* atomic: stay normal until (ns) */
	uint64_t		 hol_written;	/* atomic: HOL results written
						   (not in st.frames_written) */

	/* Writer thread only. */
	struct flogdb		*db;
	struct flogmap		 hol_map;	/* rows expecting FLOG_HOL */
	dev_t			 db_dev;
	ino_t			 db_ino;
	int			 have_base;	/* session id base is known */
	uint64_t		 id_base;	/* DB session id = id_base + local */
	uint64_t		 run_id;
	int			 db_err;	/* 0 or the SQLite code */
	uint64_t		 retry_at;	/* monotonic ms */
	uint64_t		 lost_in_outage;
	int			 err_logged[4];	/* logged once: full busy ro io */
	struct flog_session_rec	*retry_head;	/* sessions to write again */
	struct flogdb_status	 st;
	char			 last_error[256];
	uint64_t		 reported_lost;	/* at the last log line */
	uint64_t		 reported_dropped;
	uint64_t		 reported_hol;
	uint64_t		 events_dropped;	/* recorded in log_events */
	uint64_t		 hol_dropped;		/* summed at the last status */
	uint64_t		 events_hol_dropped;	/* recorded in log_events */
};

struct framelog_session {
	TAILQ_ENTRY(framelog_session)	 wait_entry;
	int				 waiting;
	int				 hol;	/* HOL results follow */
	struct framelog			*fl;
	struct ws_observer		 obs;
	uint64_t			 id;	/* local id */
	struct flog_session_rec		*rec;	/* the snapshot so far */
	uint64_t			 t_start_mono;
	uint64_t			 dropped;
	int				 opened;
	void				(*ready)(void *);
	void				*ready_arg;
};

static uint64_t
mono_ms(void)
{
	return (now_ns() / 1000000);
}

/* ---- event loop side ------------------------------------------------------ */

static char *
dupz(const char *s)
{
	return (s != NULL ? xstrdup(s) : NULL);
}

static char *
dupn(const uint8_t *p, size_t n)
{
	return (p != NULL ? xstrndup((const char *)p, n) : NULL);
}

static struct flog_session_rec *
framelog_rec_dup(const struct flog_session_rec *r)
{
	struct flog_session_rec	*c;

	c = xmalloc(sizeof *c);
	*c = *r;
	c->next = NULL;
	c->conn = dupz(r->conn);
	c->facts = conn_facts_ref(r->facts);
	c->close_reason_in = dupz(r->close_reason_in);
	c->close_reason_out = dupz(r->close_reason_out);
	c->closed_by = dupz(r->closed_by);
	c->error = dupz(r->error);
	return (c);
}

/* Hands a session snapshot to the writer (taken). Never dropped. */
static void
framelog_push_session(struct framelog *fl, struct flog_session_rec *r)
{
	struct flog_writer	*fw = fl->fw;

	pthread_mutex_lock(&fw->mu);
	*fw->sess_tail = r;
	fw->sess_tail = &r->next;
	pthread_mutex_unlock(&fw->mu);
}

static int64_t
framelog_wall(const struct framelog *fl, uint64_t mono)
{
	return ((int64_t)mono + fl->wall_off);
}

/*
 * Writer priority. The writer is background work, and on a loaded machine
 * every slice it runs is taken from an event loop or from the clients and
 * backends beside it; worse, its bursts make the scheduler spread the
 * latency-critical threads badly (with two cores, 64-connection echo lost
 * a quarter of its rate to a writer using 9% of one core, the cores idling
 * 15% of the time). So while its queues are under half full the writer
 * runs as SCHED_IDLE, on CPU time nobody else wants. While a queue is
 * over half full, the producer that sees it raises the writer back to
 * SCHED_OTHER (again every FLOG_RAISE_NS), so it catches up before anything
 * is dropped; it goes idle again once the queues are under a quarter full.
 * A stop raises it for the final flush. The raised writer can take a while
 * to get a core back on a loaded machine, so the half of the queue left
 * must absorb that: with a queue under FLOG_IDLE_QUEUE_MIN records it stays
 * at normal priority, as it does without the right to leave SCHED_IDLE
 * (CAP_SYS_NICE or RLIMIT_NICE).
 */
static int
framelog_prio_set(pid_t tid, int policy)
{
#if defined(__linux__) && defined(SCHED_IDLE)
	struct sched_param	sp = { .sched_priority = 0 };

	return (sched_setscheduler(tid, policy, &sp));
#else
	(void)tid;
	(void)policy;
	return (-1);
#endif
}

/* Whether this thread may leave SCHED_IDLE (the kernel's can_nice()). */
static int
framelog_prio_can_raise(void)
{
	struct rlimit	 rl;
	FILE		*f;
	char		 line[256];
	unsigned long long caps = 0;
	int		 nice;

	errno = 0;
	nice = getpriority(PRIO_PROCESS, 0);
	if (errno == 0 && getrlimit(RLIMIT_NICE, &rl) == 0 &&
	    (rl.rlim_cur == RLIM_INFINITY ||
	    (long long)rl.rlim_cur >= 20 - nice))
		return (1);
	if ((f = fopen("/proc/self/status", "r")) == NULL)
		return (0);
	while (fgets(line, sizeof line, f) != NULL)
		if (sscanf(line, "CapEff: %llx", &caps) == 1)
			break;
	fclose(f);
	return ((caps & (1ULL << 23)) != 0);	/* CAP_SYS_NICE */
}

/* Writer thread: decide once whether it may go idle, and do. */
static void
framelog_prio_init(struct flog_writer *fw)
{
#if defined(__linux__) && defined(SCHED_IDLE)
	fw->tid = (pid_t)syscall(SYS_gettid);
	if (fw->cfg.writer_normal || fw->cfg.queue < FLOG_IDLE_QUEUE_MIN)
		return;
	if (!framelog_prio_can_raise()) {
		log_info("frame log: the writer runs at normal priority "
		    "(leaving SCHED_IDLE needs CAP_SYS_NICE or RLIMIT_NICE)");
		return;
	}
	if (framelog_prio_set(0, SCHED_IDLE) != 0)
		return;
	if (framelog_prio_set(0, SCHED_OTHER) != 0) {
		log_warn("frame log: the writer cannot leave SCHED_IDLE: %s",
		    strerror(errno));
		return;
	}
	__atomic_store_n(&fw->prio_ok, 1, __ATOMIC_RELEASE);
#else
	(void)fw;
#endif
}

/*
 * Writer thread, queues under a quarter full: back to idle priority, unless
 * a queue came near full lately.
 */
static void
framelog_prio_lower(struct flog_writer *fw)
{
	if (fw->prio_ok && now_ns() >= ALOAD(&fw->prio_hold))
		(void)framelog_prio_set(0, SCHED_IDLE);
}

/* Any thread: the writer to normal priority now. */
static void
framelog_prio_normal(struct flog_writer *fw)
{
	if (!__atomic_load_n(&fw->prio_ok, __ATOMIC_ACQUIRE))
		return;
	if (framelog_prio_set(fw->tid, SCHED_OTHER) == 0)
		AADD(&fw->prio_raised, 1);
	else if (__atomic_exchange_n(&fw->prio_warned, 1, __ATOMIC_RELAXED) == 0)
		log_warn("frame log: cannot raise the writer's priority: %s",
		    strerror(errno));
}

/*
 * A producer whose queue holds used records and is over half full, whose
 * tunnels wait, or whose records wait on a writer that wrote nothing for a
 * whole tick: the writer must catch up at normal priority. No flag says
 * whether it is idle (a writer starved between setting one and changing
 * its policy could not fix it): the producer raises it again every
 * FLOG_RAISE_NS while its queue stays over half, and the writer lowers
 * itself only under a quarter.
 */
static void
framelog_prio_raise(struct framelog *fl, size_t used, uint64_t now)
{
	struct flog_writer	*fw = fl->fw;

	/*
	 * A queue past five eighths: the machine is too busy for an idle
	 * writer to catch up in time (a raised writer waits its turn behind
	 * every runnable thread), so it stays at normal priority for
	 * FLOG_HOLD_NS (framelog_prio_lower() checks).
	 */
	if (used >= fl->q.nrecs / 8 * 5)
		ASTORE(&fw->prio_hold, now + FLOG_HOLD_NS);
	if (now - fl->raised_ns < FLOG_RAISE_NS)
		return;
	fl->raised_ns = now;
	framelog_prio_normal(fw);
}

static void
framelog_wake(struct flog_writer *fw)
{
	pthread_mutex_lock(&fw->mu);
	ASTORE(&fw->idle, 0);
	pthread_cond_signal(&fw->cond);
	pthread_mutex_unlock(&fw->mu);
}

/* Keeps a close frame's code and reason on the session. */
static void
framelog_note_close(struct framelog_session *s, const struct ws_frame_event *ev)
{
	struct flog_session_rec	*r = s->rec;

	if (ev->dir == WS_DIR_IN && r->close_reason_in == NULL &&
	    ev->reason != NULL)
		r->close_reason_in = dupn(ev->reason, ev->reason_len);
	if (ev->dir == WS_DIR_OUT && r->close_reason_out == NULL &&
	    ev->reason != NULL)
		r->close_reason_out = dupn(ev->reason, ev->reason_len);
}

/* The observer's frame(): one record per frame, never waits. */
static void
framelog_frame(void *arg, const struct ws_frame_event *ev)
{
	struct framelog_session	*s = arg;
	struct framelog		*fl = s->fl;
	struct flog_frame	*r;
	uint8_t			*bytes;
	size_t			 data_len, reason_len, used;

	if (ev->opcode == WS_OP_CLOSE)
		framelog_note_close(s, ev);
	data_len = ev->data_len;
	reason_len = MIN(ev->reason_len, WS_CONTROL_MAX);
	r = flogq_reserve(&fl->q, data_len + reason_len, &bytes);
	if (r == NULL && data_len + reason_len > 0 &&
	    (r = flogq_reserve(&fl->q, 0, &bytes)) != NULL) {
		/* No room for the bytes: keep the frame, count the loss. */
		AADD(&fl->capture_dropped, data_len);
		data_len = reason_len = 0;
	}
	if (r == NULL) {
		AADD(&fl->frames_dropped, 1);
		s->dropped++;
		return;
	}
	r->session = s->id;
	r->t = framelog_wall(fl, ev->t_ns);
	r->len = ev->len;
	r->plain_len = ev->plain_len;
	r->zmsg = ev->zmsg;
	r->msg_no = ev->msg_no;
	r->delay_ns = ev->delay_ns;
	r->frag = ev->frag;
	r->data_len = (uint32_t)data_len;
	r->close_code = ev->close_code;
	r->reason_len = (uint8_t)reason_len;
	r->dir = ev->dir;
	r->opcode = ev->opcode;
	r->fin = ev->fin;
	r->rsv = ev->rsv;
	r->masked = ev->masked;
	r->hdr_len = ev->hdr_len;
	r->status = ev->status;
	r->mono = ev->t_ns;
	r->hol = s->hol && (WS_OP_IS_CONTROL(ev->opcode) ||
	    (ev->fin && ev->msg_no != 0));
	if (data_len > 0)
		memcpy(bytes, ev->data, data_len);
	if (reason_len > 0)
		memcpy(bytes + data_len, ev->reason, reason_len);
	flogq_commit(&fl->q);

	used = flogq_used(&fl->q);
	if (used > ALOAD(&fl->queue_max))
		ASTORE(&fl->queue_max, used);
	if (used >= fl->q.nrecs / 2 || flogq_bytes_used(&fl->q) >= fl->bhigh)
		framelog_prio_raise(fl, used, ev->t_ns);
	if (used >= fl->fw->cfg.batch && ALOAD(&fl->fw->idle))
		framelog_wake(fl->fw);
}

void
framelog_session_hol(struct framelog_session *s, const struct stats_done *d)
{
	struct framelog		*fl = s->fl;
	struct flog_frame	*r;
	uint8_t			*bytes;

	if ((r = flogq_reserve(&fl->q, 0, &bytes)) == NULL) {
		AADD(&fl->hol_dropped, 1);
		return;
	}
	/* flogq_reserve zeroed it and set the side-ring positions. */
	r->session = s->id;
	r->status = FLOG_HOL;
	r->dir = d->dir == STATS_IN ? WS_DIR_IN : WS_DIR_OUT;
	if (d->kind == STATS_K_DATA) {
		r->msg_no = d->msg_no;
		r->delay_ns = d->transfer_ns;
		r->extra_ns = d->delay_next_ns;
	} else {
		r->opcode = d->opcode;
		r->t = framelog_wall(fl, d->t_queued);
		r->mono = d->t_queued;
		r->delay_ns = d->wait_ns;
	}
	flogq_commit(&fl->q);
}

void
framelog_session_expect_hol(struct framelog_session *s)
{
	s->hol = 1;
}

/* The observer's busy(): log-overflow block pauses the tunnel. */
static int
framelog_busy(void *arg)
{
	struct framelog_session	*s = arg;
	struct framelog		*fl = s->fl;

	if (!ALOAD(&fl->blocked)) {
		if (flogq_used(&fl->q) < fl->high &&
		    flogq_bytes_used(&fl->q) < fl->bhigh)
			return (0);
		ASTORE(&fl->blocked, 1);
		framelog_prio_raise(fl, flogq_used(&fl->q), now_ns());
		framelog_wake(fl->fw);
	}
	if (!s->waiting && s->ready != NULL) {
		TAILQ_INSERT_TAIL(&fl->waiters, s, wait_entry);
		s->waiting = 1;
	}
	return (1);
}

/* The writer drained the queue below the low mark: wake the tunnels. */
static void
framelog_pipe_cb(evutil_socket_t fd, short what, void *arg)
{
	struct framelog		*fl = arg;
	struct framelog_session	*s;
	char			 buf[64];
	size_t			 n;

	while (read(fd, buf, sizeof buf) > 0)
		;
	ASTORE(&fl->notified, 0);
	if (flogq_used(&fl->q) >= fl->high ||
	    flogq_bytes_used(&fl->q) >= fl->bhigh)
		return;		/* refilled already: wait for the next */
	ASTORE(&fl->blocked, 0);
	/* Those that block again go to the back; each is woken once. */
	for (n = 0, s = TAILQ_FIRST(&fl->waiters); s != NULL;
	    s = TAILQ_NEXT(s, wait_entry))
		n++;
	while (n-- > 0 && (s = TAILQ_FIRST(&fl->waiters)) != NULL) {
		TAILQ_REMOVE(&fl->waiters, s, wait_entry);
		s->waiting = 0;
		s->ready(s->ready_arg);
	}
}

static void
framelog_tick(evutil_socket_t fd, short what, void *arg)
{
	struct framelog	*fl = arg;

	struct flog_writer	*fw = fl->fw;
	uint64_t		 written;
	size_t			 used;

	/* The wall clock may be stepped; frame times follow it. */
	fl->wall_off = (int64_t)wall_ns() - (int64_t)now_ns();
	/*
	 * Rows must not wait for a busy machine to go idle: a writer that
	 * wrote nothing for a whole tick while records wait is raised (it
	 * lowers itself again after the pass).
	 */
	written = ALOAD(&fw->st.frames_written) +
	    ALOAD(&fw->st.sessions_written) + ALOAD(&fw->hol_written);
	used = flogq_used(&fl->q);
	if (written == fl->tick_written && (used > 0 ||
	    __atomic_load_n(&fw->sess_head, __ATOMIC_RELAXED) != NULL))
		framelog_prio_raise(fl, used, now_ns());
	fl->tick_written = written;
}

struct framelog_session *
framelog_session_new(struct framelog *fl, struct conn_facts *f,
    const char *conn, size_t capture)
{
	struct framelog_session	*s;
	struct flog_session_rec	*r;

	s = xcalloc(1, sizeof *s);
	s->fl = fl;
	/* Unique across workers: the writer adds one base to them all. */
	s->id = AADD(&fl->fw->next_session, 1);
	s->obs.capture = capture;
	s->obs.frame = framelog_frame;
	s->obs.busy = fl->fw->cfg.overflow == FRAMELOG_BLOCK ?
	    framelog_busy : NULL;
	s->t_start_mono = now_ns();
	s->rec = r = xcalloc(1, sizeof *r);
	r->id = s->id;
	r->conn = dupz(conn);
	r->t_start = framelog_wall(fl, s->t_start_mono);
	r->facts = conn_facts_ref(f);
	return (s);
}

const struct ws_observer *
framelog_session_open(struct framelog_session *s, int status,
    void (*ready)(void *), void *arg)
{
	s->opened = 1;
	s->rec->status = status;
	s->rec->t_open = framelog_wall(s->fl, now_ns());
	s->ready = ready;
	s->ready_arg = arg;
	framelog_push_session(s->fl, framelog_rec_dup(s->rec));
	return (&s->obs);
}

void
framelog_session_close(struct framelog_session *s,
    const struct framelog_close *fc)
{
	struct flog_session_rec	*r = s->rec;

	if (s->waiting)
		TAILQ_REMOVE(&s->fl->waiters, s, wait_entry);
	r->t_end = framelog_wall(s->fl, now_ns());
	if (fc->c != NULL) {
		r->close_code_in = fc->c->close_code_in;
		r->close_code_out = fc->c->close_code_out;
		r->frames_in = fc->c->frames_in;
		r->frames_out = fc->c->frames_out;
		r->msgs_in = fc->c->msgs_in;
		r->msgs_out = fc->c->msgs_out;
		r->bytes_in = fc->c->payload_in;
		r->bytes_out = fc->c->payload_out;
		r->wire_in = fc->c->wire_in;
		r->wire_out = fc->c->wire_out;
		r->zmsgs_in = fc->c->zmsgs_in;
		r->zmsgs_out = fc->c->zmsgs_out;
	}
	if (!s->opened)
		r->status = fc->status;
	r->closed_by = dupz(fc->closed_by);
	r->backend_bytes_in = fc->backend_in;
	r->backend_bytes_out = fc->backend_out;
	r->log_dropped = s->dropped;
	r->error = dupz(fc->error);
	framelog_push_session(s->fl, r);
	free(s);
}

void
framelog_live(struct framelog *fl, struct framelog_live *out)
{
	struct flog_writer	*fw;

	memset(out, 0, sizeof *out);
	out->queue_used = flogq_used(&fl->q);
	out->queue_size = fl->q.nrecs;
	out->queue_max = ALOAD(&fl->queue_max);
	out->frames_dropped = ALOAD(&fl->frames_dropped);
	/* The writer thread writes these with relaxed atomics: a snapshot. */
	fw = fl->fw;
	out->frames_written = ALOAD(&fw->st.frames_written);
	out->sessions_written = ALOAD(&fw->st.sessions_written);
	out->records_lost = ALOAD(&fw->st.records_lost);
	out->errors = ALOAD(&fw->st.errors_full) + ALOAD(&fw->st.errors_busy) +
	    ALOAD(&fw->st.errors_readonly) + ALOAD(&fw->st.errors_io);
	out->failing = ALOAD(&fw->db_err) != 0;
}

const char *
framelog_path(const struct framelog *fl)
{
	return (fl->fw->cfg.db);
}

/* ---- the files ------------------------------------------------------------ */

/*
 * Refuses sb as a file of the frame log at path: a symbolic link (it may
 * point anywhere, a file of root's included), anything but a regular file,
 * a file of another user (taking it over would hand them our captures or
 * let them plant one). Returns 0, or -1 with *cause set.
 */
static int
framelog_file_refused(const char *path, const struct stat *sb, char **cause)
{
	if (S_ISLNK(sb->st_mode))
		*cause = xasprintf("%s is a symbolic link; refusing to follow "
		    "it", path);
	else if (!S_ISREG(sb->st_mode))
		*cause = xasprintf("%s is not a regular file", path);
	else if (sb->st_uid != geteuid())
		*cause = xasprintf("%s belongs to uid %lu, not to wsbridge's "
		    "uid %lu; refusing it", path, (unsigned long)sb->st_uid,
		    (unsigned long)geteuid());
	else
		return (0);
	return (-1);
}

/*
 * Makes path a regular file of ours with exactly mode, never through a
 * symbolic link; created when create and absent (when !create, an absent
 * file is fine). Other permissions are set to mode and logged. The caller
 * has looked with framelog_check(); this holds if the path changed since.
 * Returns 0, or -1 with *cause set.
 */
static int
framelog_own_file(const char *path, unsigned mode, int create, char **cause)
{
	struct stat	sb;
	int		fd, flags;

	flags = O_RDWR | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY;
	if ((fd = open(path, flags | (create ? O_CREAT : 0), mode)) == -1) {
		if (errno == ENOENT && !create)
			return (0);	/* SQLite removed it meanwhile */
		if (errno == ELOOP)
			*cause = xasprintf("%s is a symbolic link; refusing to "
			    "follow it", path);
		else
			*cause = xasprintf("%s: %s", path, strerror(errno));
		return (-1);
	}
	/* What we opened is what counts: the path may have changed since. */
	if (fstat(fd, &sb) == -1) {
		*cause = xasprintf("%s: %s", path, strerror(errno));
		goto fail;
	}
	if (framelog_file_refused(path, &sb, cause) != 0)
		goto fail;
	if ((sb.st_mode & 07777) != mode) {
		if (fchmod(fd, mode) == -1) {
			*cause = xasprintf("%s: chmod %04o: %s", path, mode,
			    strerror(errno));
			goto fail;
		}
		log_warn("frame log: %s had mode %04o; set to %04o "
		    "(log-db-mode)", path, (unsigned)(sb.st_mode & 07777),
		    mode);
	}
	close(fd);
	return (0);
fail:
	close(fd);
	return (-1);
}

/* The directory of path must exist: "No such file" would not say which. */
static int
framelog_check_dir(const char *path, char **cause)
{
	char	*why;

	if (path_dir_usable(path, &why) == 0)
		return (0);
	*cause = xasprintf("log-db %s: %s", path, why);
	free(why);
	return (-1);
}

static const char *const framelog_suffixes[] = { "", "-wal", "-shm" };

int
framelog_check(const struct framelog_cfg *c, char **cause)
{
	struct stat	 sb;
	char		*p;
	size_t		 i;
	int		 rc = 0;

	if (c->db == NULL)
		return (0);
	if (framelog_check_dir(c->db, cause) != 0)
		return (-1);
	for (i = 0; rc == 0 && i < nitems(framelog_suffixes); i++) {
		p = xasprintf("%s%s", c->db, framelog_suffixes[i]);
		if (lstat(p, &sb) == 0)
			rc = framelog_file_refused(p, &sb, cause);
		free(p);
	}
	return (rc);
}

/*
 * The database and SQLite's -wal and -shm beside it, before SQLite opens
 * them: the database is created with the configured mode, and SQLite
 * gives a -wal or -shm it creates the database's mode (ignoring the
 * umask); one left from an earlier run keeps its own unless we set it.
 */
static int
framelog_own_files(const struct framelog_cfg *c, char **cause)
{
	char	*p;
	size_t	 i;
	int	 rc = 0;

	/* All three first: nothing is created beside a file we refuse. */
	if (framelog_check(c, cause) != 0)
		return (-1);
	for (i = 0; rc == 0 && i < nitems(framelog_suffixes); i++) {
		p = xasprintf("%s%s", c->db, framelog_suffixes[i]);
		rc = framelog_own_file(p, c->mode, i == 0, cause);
		free(p);
	}
	return (rc);
}

/* ---- writer thread -------------------------------------------------------- */

static int
framelog_errslot(int rc)
{
	const char	*k = flogdb_errkind(rc);

	if (strcmp(k, "full") == 0)
		return (0);
	if (strcmp(k, "busy") == 0)
		return (1);
	if (strcmp(k, "readonly") == 0)
		return (2);
	return (3);
}

/* Counts and, once per kind, logs a database failure. */
static void
framelog_db_error(struct flog_writer *fw, int rc, const char *what)
{
	int		 slot = framelog_errslot(rc);
	uint64_t	*counter[] = { &fw->st.errors_full, &fw->st.errors_busy,
			    &fw->st.errors_readonly, &fw->st.errors_io };

	AADD(counter[slot], 1);
	snprintf(fw->last_error, sizeof fw->last_error, "%s: %s (%s)", what,
	    fw->db != NULL ? flogdb_errmsg(fw->db) : "cannot open",
	    flogdb_errkind(rc));
	fw->st.last_error = fw->last_error;
	fw->st.last_error_t = (int64_t)wall_ns();
	if (!fw->err_logged[slot]) {
		fw->err_logged[slot] = 1;
		log_error("frame log %s: %s; bridging goes on, frames are "
		    "counted as lost until it recovers", fw->cfg.db,
		    fw->last_error);
	}
	if (fw->db_err == 0)
		fw->lost_in_outage = 0;
	ASTORE(&fw->db_err, rc);
	fw->retry_at = mono_ms() + FLOG_RETRY_MS;
	/* Files that went read-only or away are reopened on the retry. */
	if (slot >= 2) {
		flogdb_close(fw->db);
		fw->db = NULL;
	}
}

/*
 * Opens the database if it is not. Returns 0 when it is usable. At start
 * (start_cause not NULL) a failure is the caller's to report, in
 * *start_cause; later it is logged once and retried.
 */
static int
framelog_writer_open(struct flog_writer *fw, char **start_cause)
{
	struct stat	 sb;
	char		*cause = NULL;
	uint64_t	 max;
	int		 rc, same, tries;

	if (fw->db != NULL)
		return (0);
	if (framelog_own_files(&fw->cfg, &cause) != 0 ||
	    (fw->db = flogdb_open(fw->cfg.db, fw->cfg.max_size,
	    &cause)) == NULL) {
		if (start_cause != NULL) {
			*start_cause = cause;
			return (-1);
		}
		if (!fw->err_logged[3]) {
			fw->err_logged[3] = 1;
			log_error("frame log: %s; bridging goes on without it, "
			    "retrying every %u ms", cause, FLOG_RETRY_MS);
		}
		AADD(&fw->st.errors_io, 1);
		snprintf(fw->last_error, sizeof fw->last_error, "%s", cause);
		free(cause);
		ASTORE(&fw->db_err, -1);
		fw->retry_at = mono_ms() + FLOG_RETRY_MS;
		return (-1);
	}
	if (stat(fw->cfg.db, &sb) == -1)
		memset(&sb, 0, sizeof sb);
	same = fw->have_base && sb.st_dev == fw->db_dev &&
	    sb.st_ino == fw->db_ino;
	fw->db_dev = sb.st_dev;
	fw->db_ino = sb.st_ino;
	if (!same) {
		/*
		 * A new file (or the first): new session ids, a new run. At
		 * start another process may be writing the file (the wsbridge
		 * an upgrade replaces, draining): each try waits out its
		 * busy timeout, ten of them before giving up.
		 */
		tries = start_cause != NULL ? FLOG_START_TRIES : 1;
		do {
			if ((rc = flogdb_max_session(fw->db, &max)) == 0)
				rc = flogdb_run_start(fw->db, (int64_t)wall_ns(),
				    (long)getpid(), PACKAGE_VERSION, NULL,
				    &fw->run_id);
		} while (rc != 0 && --tries > 0 &&
		    strcmp(flogdb_errkind(rc), "busy") == 0);
		if (rc != 0) {
			if (start_cause != NULL) {
				*start_cause = xasprintf("%s: starting a run: "
				    "%s", fw->cfg.db, flogdb_errmsg(fw->db));
				flogdb_close(fw->db);
				fw->db = NULL;
				return (-1);
			}
			framelog_db_error(fw, rc, "starting a run");
			flogdb_close(fw->db);
			fw->db = NULL;
			return (-1);
		}
		fw->id_base = max;
		fw->have_base = 1;
		fw->st.run_id = fw->run_id;
		log_info("frame log: writing to %s (run %llu)", fw->cfg.db,
		    (unsigned long long)fw->run_id);
	}
	flogmap_clear(&fw->hol_map);	/* row ids of another file */
	return (0);
}

/* After an error, the database is tried again once the retry time comes. */
static int
framelog_writer_usable(struct flog_writer *fw)
{
	if (fw->db_err != 0 && mono_ms() < fw->retry_at)
		return (0);
	return (framelog_writer_open(fw, NULL) == 0);
}

static void
framelog_recovered(struct flog_writer *fw)
{
	int	i;

	if (fw->db_err == 0)
		return;
	log_warn("frame log %s: writing again; %llu records were lost while "
	    "it failed", fw->cfg.db, (unsigned long long)fw->lost_in_outage);
	flogdb_event(fw->db, (int64_t)wall_ns(), fw->run_id, "recovered",
	    fw->lost_in_outage, fw->last_error);
	ASTORE(&fw->db_err, 0);
	for (i = 0; i < 4; i++)
		fw->err_logged[i] = 0;
}

static void
framelog_free_sessions(struct flog_session_rec *r)
{
	struct flog_session_rec	*next;

	for (; r != NULL; r = next) {
		next = r->next;
		flog_session_rec_free(r);
	}
}

/* Records i..i+k-1 of the queue are all frames (no FLOG_HOL). */
static int
framelog_run_of_frames(struct flogq *q, size_t i, size_t k)
{
	size_t	j;

	for (j = 0; j < k; j++)
		if (flogq_at(q, i + j)->status == FLOG_HOL)
			return (0);
	return (1);
}

/* A queued frame as a row: its database session id. */
static void
framelog_row(struct flog_writer *fw, struct flog_frame *f)
{
	f->session += fw->id_base;
}

/*
 * Rows that head-of-line results will update are remembered by their key.
 * SQLite gives a rowid table's new rows the largest id + 1, so the rows of
 * one INSERT are numbered up to last_id (binding ids ourselves made every
 * insert seek first: 10 % more instructions per row).
 */
static void
framelog_remember(struct flog_writer *fw, const struct flog_frame *const *f,
    size_t n, uint64_t last_id)
{
	size_t	k;
	int	ctl;

	for (k = 0; k < n; k++) {
		if (!f[k]->hol)
			continue;
		ctl = WS_OP_IS_CONTROL(f[k]->opcode);
		flogmap_put(&fw->hol_map, f[k]->session - fw->id_base,
		    f[k]->dir, ctl ? f[k]->opcode : 0,
		    ctl ? f[k]->mono : f[k]->msg_no, last_id - (n - 1) + k);
	}
}

/* Head-of-line results onto the row they belong to, if it is known. */
static int
framelog_write_hol(struct flog_writer *fw, const struct flog_frame *f)
{
	uint64_t	id;
	int		ctl = f->msg_no == 0;

	id = flogmap_take(&fw->hol_map, f->session, f->dir,
	    ctl ? f->opcode : 0, ctl ? f->mono : f->msg_no);
	if (id == 0)
		return (0);	/* its row was forgotten, or never written */
	return (flogdb_hol(fw->db, id, f));
}

/*
 * Writes sessions (all of them) and records 0..n-1 of queue q in one
 * transaction; *nhol says how many of those were head-of-line results
 * (updates of rows already written, not frames). Returns 0 or the SQLite
 * code (the transaction is rolled back).
 */
static int
framelog_write(struct flog_writer *fw, struct flogq *q,
    struct flog_session_rec *sess, size_t n, size_t *nhol)
{
	struct flog_session_rec	*r;
	struct flog_frame	*f, tmp, many[FLOGDB_BATCH_ROWS];
	const struct flog_frame	*fp[FLOGDB_BATCH_ROWS];
	const uint8_t		*data[FLOGDB_BATCH_ROWS];
	const struct flog_frame	*one[1];
	uint64_t		 local, last_id;
	size_t			 i, k;
	int			 rc;

	*nhol = 0;
	if ((rc = flogdb_begin(fw->db)) != 0)
		return (rc);
	for (r = sess; r != NULL; r = r->next) {
		local = r->id;
		r->id = fw->id_base + local;
		r->run_id = fw->run_id;
		rc = flogdb_session(fw->db, r);
		r->id = local;
		if (rc != 0)
			goto fail;
	}
	for (i = 0; i < n; ) {
		f = flogq_at(q, i);
		if (f->status == FLOG_HOL) {
			if ((rc = framelog_write_hol(fw, f)) != 0)
				goto fail;
			(*nhol)++;
			i++;
			continue;
		}
		if (n - i >= FLOGDB_BATCH_ROWS &&
		    framelog_run_of_frames(q, i, FLOGDB_BATCH_ROWS)) {
			for (k = 0; k < FLOGDB_BATCH_ROWS; k++, i++) {
				f = flogq_at(q, i);
				many[k] = *f;
				framelog_row(fw, &many[k]);
				fp[k] = &many[k];
				data[k] = flogq_data(q, f);
			}
			if ((rc = flogdb_frames(fw->db, fp, data,
			    &last_id)) != 0)
				goto fail;
			framelog_remember(fw, fp, FLOGDB_BATCH_ROWS, last_id);
			continue;
		}
		f = flogq_at(q, i++);
		tmp = *f;
		framelog_row(fw, &tmp);
		if ((rc = flogdb_frame(fw->db, &tmp, flogq_data(q,
		    f), &last_id)) != 0)
			goto fail;
		one[0] = &tmp;
		framelog_remember(fw, one, 1, last_id);
	}
	if ((rc = flogdb_commit(fw->db)) != 0)
		goto fail;
	return (0);
fail:
	flogdb_rollback(fw->db);
	/* Those ids will be given again: forget the rows remembered. */
	flogmap_clear(&fw->hol_map);
	return (rc);
}

/* Tells a loop its queue drained when its tunnels wait for it. */
static void
framelog_notify(struct framelog *p)
{
	char	c = 0;

	if (!ALOAD(&p->blocked) || ALOAD(&p->notified))
		return;
	/* What the writer sees: the producer's own count is its own. */
	if (flogq_peek(&p->q, p->low + 1) > p->low)
		return;
	ASTORE(&p->notified, 1);
	if (write(p->pipe[1], &c, 1) == -1 && errno != EAGAIN)
		log_warn("frame log: cannot wake the event loop: %s",
		    strerror(errno));
}

/*
 * Writes queued work of one producer: all sessions, frames in transactions
 * of batch.
 */
static void
framelog_drain_one(struct flog_writer *fw, struct framelog *p,
    struct flog_session_rec *sess, int stop)
{
	size_t	n, nhol;
	int	rc, first;

	for (first = 1;; first = 0) {
		n = flogq_peek(&p->q, fw->cfg.batch);
		if (n == 0 && sess == NULL)
			return;
		/*
		 * A transaction costs a WAL append of every page it dirtied,
		 * whatever its size: after the first, go on only with a full
		 * batch (or to empty the queue for a blocked tunnel or a
		 * stop) and let the rest gather while the writer waits.
		 */
		if (!first && sess == NULL && n < fw->cfg.batch &&
		    !ALOAD(&p->blocked) && !stop)
			return;
		if (framelog_writer_usable(fw)) {
			if ((rc = framelog_write(fw, &p->q, sess, n,
			    &nhol)) == 0) {
				framelog_recovered(fw);
				struct flog_session_rec	*r;

				/* Frames are rows; HOL results update them. */
				AADD(&fw->st.frames_written, n - nhol);
				AADD(&fw->hol_written, nhol);
				for (r = sess; r != NULL; r = r->next)
					AADD(&fw->st.sessions_written, 1);
			} else
				framelog_db_error(fw, rc, "writing frames");
		}
		if (sess != NULL) {
			/* Unwritten sessions wait for the next success. */
			struct flog_session_rec **tail = &fw->retry_head;

			while (*tail != NULL)
				tail = &(*tail)->next;
			if (fw->db_err != 0) {
				*tail = sess;
				sess = NULL;
			} else {
				framelog_free_sessions(sess);
				sess = NULL;
			}
		}
		if (fw->db_err != 0) {
			AADD(&fw->st.records_lost, n);
			fw->lost_in_outage += n;
		}
		flogq_release(&p->q, n);
		framelog_notify(p);
		if (fw->db_err == 0 && fw->retry_head != NULL) {
			sess = fw->retry_head;
			fw->retry_head = NULL;
		}
	}
}

/*
 * Every producer in turn. A session's frames are all in one queue (its
 * worker's), so the order within a session is the queue's.
 */
static void
framelog_drain(struct flog_writer *fw, struct flog_session_rec *sess,
    int stop)
{
	unsigned	i;

	for (i = 0; i < fw->nprods; i++) {
		framelog_drain_one(fw, &fw->prods[i], sess, stop);
		sess = NULL;
	}
}

/* Every queue under a quarter full: the writer may go idle again. */
static int
framelog_nearly_empty(struct flog_writer *fw)
{
	struct framelog	*p;
	unsigned	 i;
	size_t		 quarter;

	for (i = 0; i < fw->nprods; i++) {
		p = &fw->prods[i];
		quarter = p->q.nrecs / 4;
		if (flogq_peek(&p->q, quarter + 1) > quarter ||
		    ALOAD(&p->blocked))
			return (0);
	}
	return (1);
}

/*
 * Work for the writer: a full batch in some queue, or anything at all in
 * a queue whose tunnels wait for it (n: 1) or at a stop.
 */
static int
framelog_pending(struct flog_writer *fw, size_t n)
{
	struct framelog	*p;
	unsigned	 i;

	for (i = 0; i < fw->nprods; i++) {
		p = &fw->prods[i];
		if (flogq_peek(&p->q, n) >= n || (ALOAD(&p->blocked) &&
		    flogq_peek(&p->q, 1) > 0))
			return (1);
	}
	return (0);
}

/* Prunes by retention; on a full database also when no limit is set. */
static void
framelog_prune(struct flog_writer *fw)
{
	uint64_t	deleted;
	int		rc;

	if (fw->db == NULL || (fw->cfg.ret_age_s == 0 &&
	    fw->cfg.ret_rows == 0 && fw->cfg.ret_size == 0))
		return;
	rc = flogdb_prune(fw->db, (int64_t)wall_ns(), fw->cfg.ret_age_s,
	    fw->cfg.ret_rows, fw->cfg.ret_size, FLOG_PRUNE_MAX, &deleted);
	if (rc != 0) {
		framelog_db_error(fw, rc, "pruning");
		return;
	}
	if (deleted > 0) {
		fw->st.frames_pruned += deleted;
		log_debug("frame log: pruned %llu frames",
		    (unsigned long long)deleted);
	}
}

/* Records drops since the last call as a log_events row and a log line. */
static void
framelog_status(struct flog_writer *fw, int final)
{
	uint64_t	dropped, cap, hol;
	char		detail[96];
	unsigned	i;

	dropped = cap = hol = 0;
	for (i = 0; i < fw->nprods; i++) {
		dropped += ALOAD(&fw->prods[i].frames_dropped);
		cap += ALOAD(&fw->prods[i].capture_dropped);
		hol += ALOAD(&fw->prods[i].hol_dropped);
		fw->st.queue_max = MAX(fw->st.queue_max,
		    ALOAD(&fw->prods[i].queue_max));
	}
	fw->st.frames_dropped = dropped;
	fw->st.capture_dropped = cap;
	fw->hol_dropped = hol;
	fw->st.t = (int64_t)wall_ns();
	if (fw->db == NULL || fw->db_err != 0)
		return;
	if (dropped > fw->events_dropped) {
		snprintf(detail, sizeof detail, "queue full (%s policy)",
		    fw->cfg.overflow == FRAMELOG_BLOCK ? "block" : "drop");
		if (flogdb_event(fw->db, fw->st.t, fw->run_id, "dropped",
		    dropped - fw->events_dropped, detail) == 0)
			fw->events_dropped = dropped;
	}
	if (hol > fw->events_hol_dropped && flogdb_event(fw->db, fw->st.t,
	    fw->run_id, "hol_dropped", hol - fw->events_hol_dropped,
	    "queue full: head-of-line results not recorded") == 0)
		fw->events_hol_dropped = hol;
	if (final)
		flogdb_run_end(fw->db, fw->run_id, fw->st.t);
	flogdb_status(fw->db, &fw->st);
}

/* A periodic line when something was lost, so it is never silent. */
static void
framelog_report(struct flog_writer *fw)
{
	uint64_t	dropped = fw->st.frames_dropped;

	if (dropped == fw->reported_dropped &&
	    fw->st.records_lost == fw->reported_lost &&
	    fw->hol_dropped == fw->reported_hol)
		return;
	log_warn("frame log %s: %llu frames dropped (queue full), %llu "
	    "head-of-line results dropped (queue full) and %llu records lost "
	    "to database errors so far (last error: %s)",
	    fw->cfg.db, (unsigned long long)dropped,
	    (unsigned long long)fw->hol_dropped,
	    (unsigned long long)fw->st.records_lost,
	    fw->last_error[0] != '\0' ? fw->last_error : "none");
	fw->reported_dropped = dropped;
	fw->reported_lost = fw->st.records_lost;
	fw->reported_hol = fw->hol_dropped;
}

/* The file was removed or replaced under us: start a new one. */
static void
framelog_check_file(struct flog_writer *fw)
{
	struct stat	sb;

	if (fw->db == NULL)
		return;
	if (stat(fw->cfg.db, &sb) == 0 && sb.st_dev == fw->db_dev &&
	    sb.st_ino == fw->db_ino)
		return;
	log_warn("frame log %s was removed or replaced; starting a new file",
	    fw->cfg.db);
	flogdb_close(fw->db);
	fw->db = NULL;
	fw->have_base = 0;
	if (framelog_writer_open(fw, NULL) == 0)
		flogdb_event(fw->db, (int64_t)wall_ns(), fw->run_id,
		    "replaced", 0, "the previous file was removed or replaced");
}

static void *
framelog_writer(void *arg)
{
	struct flog_writer		*fw = arg;
	struct flog_session_rec	*sess;
	struct timespec		 ts;
	uint64_t		 now, next_status = 0, next_prune, next_report;
	int			 stop;

	/* The database was opened at start, before the priority goes down. */
	framelog_prio_init(fw);
	framelog_writer_open(fw, NULL);
	next_prune = mono_ms();
	next_report = mono_ms() + FLOG_REPORT_MS;
	for (;;) {
		pthread_mutex_lock(&fw->mu);
		while (!fw->stop && fw->sess_head == NULL &&
		    !framelog_pending(fw, fw->cfg.batch)) {
			ASTORE(&fw->idle, 1);
			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_nsec += FLOG_WAIT_MS * 1000000L;
			if (ts.tv_nsec >= 1000000000L) {
				ts.tv_sec++;
				ts.tv_nsec -= 1000000000L;
			}
			if (pthread_cond_timedwait(&fw->cond, &fw->mu,
			    &ts) != 0)
				break;
		}
		ASTORE(&fw->idle, 0);
		sess = fw->sess_head;
		fw->sess_head = NULL;
		fw->sess_tail = &fw->sess_head;
		stop = fw->stop;
		pthread_mutex_unlock(&fw->mu);

		if (stop)
			framelog_prio_normal(fw);
		framelog_drain(fw, sess, stop);
		if (!stop && framelog_nearly_empty(fw))
			framelog_prio_lower(fw);
		now = mono_ms();
		/* A full database: retention may make room before the retry. */
		if (now >= next_prune || (fw->db_err != 0 &&
		    strcmp(flogdb_errkind(fw->db_err), "full") == 0)) {
			framelog_prune(fw);
			next_prune = now + FLOG_PRUNE_MS;
		}
		if (now >= next_status || stop) {
			framelog_check_file(fw);
			framelog_status(fw, stop);
			next_status = now + FLOG_STATUS_MS;
		}
		if (now >= next_report || stop) {
			framelog_report(fw);
			next_report = now + FLOG_REPORT_MS;
		}
		if (stop) {
			pthread_mutex_lock(&fw->mu);
			sess = fw->sess_head;
			pthread_mutex_unlock(&fw->mu);
			if (sess == NULL && !framelog_pending(fw, 1))
				break;
		}
	}
	if (fw->retry_head != NULL) {
		log_warn("frame log: %s: final session rows could not be "
		    "written", fw->cfg.db);
		framelog_free_sessions(fw->retry_head);
		fw->retry_head = NULL;
	}
	if (fw->db != NULL) {
		flogdb_checkpoint(fw->db);
		flogdb_close(fw->db);
		fw->db = NULL;
	}
	log_info("frame log %s: %llu frames and %llu session rows written, "
	    "%llu dropped (queue full), %llu lost to database errors",
	    fw->cfg.db, (unsigned long long)fw->st.frames_written,
	    (unsigned long long)fw->st.sessions_written,
	    (unsigned long long)fw->st.frames_dropped,
	    (unsigned long long)fw->st.records_lost);
	if (fw->prio_ok)
		log_info("frame log: the writer was raised to normal priority "
		    "%llu times", (unsigned long long)ALOAD(&fw->prio_raised));
	return (NULL);
}

/* ---- life cycle ----------------------------------------------------------- */

static void
framelog_producer_init(struct framelog *fl, struct flog_writer *fw,
    struct event_base *base)
{
	struct timeval	tv = { 0, FLOG_TICK_MS * 1000 };
	int		i;

	fl->fw = fw;
	fl->base = base;
	flogq_init(&fl->q, fw->cfg.queue, FLOG_SIDE_BYTES);
	/*
	 * Block: pause at 3/4 full. The last quarter absorbs what is in
	 * flight: each tunnel finishes the frame it is in (one event) and
	 * may answer a ping or send a close before it stops.
	 */
	fl->high = fl->q.nrecs - fl->q.nrecs / 4;
	fl->low = fl->q.nrecs / 4;
	fl->bhigh = FLOG_SIDE_BYTES / 2;
	fl->wall_off = (int64_t)wall_ns() - (int64_t)now_ns();
	TAILQ_INIT(&fl->waiters);
	if (pipe(fl->pipe) == -1)
		fatalx("frame log: pipe: %s", strerror(errno));
	for (i = 0; i < 2; i++) {
		fcntl(fl->pipe[i], F_SETFL, fcntl(fl->pipe[i], F_GETFL) |
		    O_NONBLOCK);
		fcntl(fl->pipe[i], F_SETFD, FD_CLOEXEC);
	}
	fl->ev_pipe = event_new(base, fl->pipe[0], EV_READ | EV_PERSIST,
	    framelog_pipe_cb, fl);
	event_add(fl->ev_pipe, NULL);
	fl->ev_tick = event_new(base, -1, EV_PERSIST, framelog_tick, fl);
	evtimer_add(fl->ev_tick, &tv);
}

static void
framelog_producer_clear(struct framelog *fl)
{
	event_free(fl->ev_pipe);
	event_free(fl->ev_tick);
	close(fl->pipe[0]);
	close(fl->pipe[1]);
	flogq_free(&fl->q);
}

struct framelog *
framelog_new(struct event_base *const *bases, unsigned nbases,
    const struct config *cfg, char **cause)
{
	struct flog_writer	*fw;
	unsigned		 i;

	fw = xcalloc(1, sizeof *fw);
	framelog_config_copy(&fw->cfg, &cfg->log);
	flogmap_init(&fw->hol_map, FLOG_HOL_MAX);
	/*
	 * Here, not in the writer: a file we cannot use stops the start with
	 * a clear error, and the schema exists before the writer goes to idle
	 * priority, where a busy machine could leave it waiting.
	 */
	if (framelog_writer_open(fw, cause) != 0) {
		flogmap_free(&fw->hol_map);
		framelog_config_clear(&fw->cfg);
		free(fw);
		return (NULL);
	}
	pthread_mutex_init(&fw->mu, NULL);
	pthread_cond_init(&fw->cond, NULL);
	fw->sess_tail = &fw->sess_head;
	fw->nprods = nbases;
	fw->prods = xcalloc(nbases, sizeof *fw->prods);
	for (i = 0; i < nbases; i++)
		framelog_producer_init(&fw->prods[i], fw, bases[i]);
	if (pthread_create(&fw->thread, NULL, framelog_writer, fw) != 0)
		fatalx("frame log: cannot start the writer thread");
	fw->thread_started = 1;
	log_info("frame log: %s, capture %s, overflow %s", fw->cfg.db,
	    fw->cfg.capture == 0 ? "off" : fw->cfg.capture ==
	    FRAMELOG_CAPTURE_MAX ? "all" : "first bytes",
	    fw->cfg.overflow == FRAMELOG_BLOCK ? "block" : "drop");
	return (&fw->prods[0]);
}

struct framelog *
framelog_producer(struct framelog *fl, unsigned i)
{
	return (&fl->fw->prods[i]);
}

void
framelog_free(struct framelog *fl)
{
	struct flog_writer	*fw;
	unsigned		 i;

	if (fl == NULL)
		return;
	fw = fl->fw;
	if (fw->thread_started) {
		framelog_prio_normal(fw);
		pthread_mutex_lock(&fw->mu);
		fw->stop = 1;
		pthread_cond_signal(&fw->cond);
		pthread_mutex_unlock(&fw->mu);
		pthread_join(fw->thread, NULL);
	}
	framelog_free_sessions(fw->sess_head);
	for (i = 0; i < fw->nprods; i++)
		framelog_producer_clear(&fw->prods[i]);
	free(fw->prods);
	flogmap_free(&fw->hol_map);
	pthread_mutex_destroy(&fw->mu);
	pthread_cond_destroy(&fw->cond);
	framelog_config_clear(&fw->cfg);
	free(fw);
}
