/*
 * framelog.h -- the frame log: every WebSocket session and every frame in
 * both directions recorded to SQLite by a writer thread, off the event
 * loop. The loop pushes small fixed records into a bounded queue
 * (framelog_queue.h); the writer owns the database (framelog_db.h). When
 * the queue is full, log-overflow decides: drop (counted, recorded) or
 * block (the tunnels stop reading until the writer catches up). Database
 * errors never stop the bridging: they are counted, logged once per kind,
 * recorded in log_status and log_events, and the writer recovers.
 */
#ifndef FRAMELOG_H
#define FRAMELOG_H

#include <stdint.h>

struct config;
struct event_base;
struct conn_facts;
struct ws_counters;
struct ws_observer;
struct stats_done;
struct framelog;
struct framelog_session;

/*
 * Starts the frame log of cfg->log (cfg->log.db must be set): opens the
 * database (created with log-db-mode, as are SQLite's -wal and -shm; an
 * existing file's mode is set to it; a symbolic link or another user's
 * file is refused), then one queue per event loop in bases (one per
 * worker) and the one writer thread. Returns the producer of bases[0],
 * which the caller frees with framelog_free(), or NULL with *cause set
 * (caller frees) when the database cannot be used. Later errors (the disk
 * fills, the file is removed) are logged and retried, never fatal.
 */
struct framelog	*framelog_new(struct event_base *const *bases,
		    unsigned nbases, const struct config *cfg, char **cause);

/*
 * For --check, changing nothing: the directory of c->db exists and takes
 * new files, and the database, -wal and -shm, where they exist, are
 * regular files of ours (not symbolic links). Returns 0 (also without a
 * frame log), or -1 with *cause set.
 */
struct framelog_cfg;
int		 framelog_check(const struct framelog_cfg *c, char **cause);

/*
 * The producer of bases[i]: what the loop of that base uses. Every call
 * below taking a struct framelog is made on the loop of its base.
 */
struct framelog	*framelog_producer(struct framelog *, unsigned i);

/*
 * Writes everything queued, closes the database and stops the writer.
 * Call after every session is closed and every loop has stopped.
 * framelog_free(NULL) is a no-op.
 */
void		 framelog_free(struct framelog *);

/*
 * The frame log's health, for the control socket: the queue numbers are
 * this producer's, the rest the writer's (on the producer's loop).
 */
struct framelog_live {
	uint64_t	queue_used, queue_size, queue_max;
	uint64_t	frames_written, sessions_written;
	uint64_t	frames_dropped, records_lost, errors;
	int		failing;	/* the database is failing now */
};
void		 framelog_live(struct framelog *, struct framelog_live *);

/* The database file, for messages. */
const char	*framelog_path(const struct framelog *);

/*
 * Begins a session for a tunnel being connected: f is referenced (the
 * sessions row's facts; its backend ones filled before _open or _close),
 * conn is the id of the text log ("c17"), capture the payload bytes to
 * keep per frame (cfg->log.capture of the tunnel's config). Nothing is
 * written until framelog_session_open() or _close(). The caller releases
 * it with framelog_session_close().
 */
struct framelog_session *framelog_session_new(struct framelog *,
		    struct conn_facts *f, const char *conn, size_t capture);

/*
 * The WebSocket is open (status: the HTTP status answered, 101 or 200):
 * writes the session row. Returns the observer to give the endpoint with
 * ws_conn_set_observer(ws, obs, session); valid until _close(). ready(arg)
 * is called when the log, having been busy (log-overflow block), takes
 * frames again.
 */
const struct ws_observer *framelog_session_open(struct framelog_session *,
	    int status, void (*ready)(void *), void *arg);

/*
 * Head-of-line results of a message or control frame already logged
 * (stats.h): queued like a frame (dropped and counted when the queue is
 * full), applied to its row by the writer.
 */
void	framelog_session_hol(struct framelog_session *,
	    const struct stats_done *);
/*
 * Head-of-line results will come for this session's frames (live stats
 * watch it): the writer remembers their rows. Call before the first frame.
 */
void	framelog_session_expect_hol(struct framelog_session *);

/* What is known when a session ends. */
struct framelog_close {
	const struct ws_counters *c;	/* NULL: never opened */
	int		 status;	/* HTTP status if it never opened */
	const char	*closed_by;	/* "client", "server", "backend", NULL */
	uint64_t	 backend_in, backend_out;	/* backend bytes */
	const char	*error;		/* or NULL */
};

/*
 * Writes the final session row and frees the session. Stop observing the
 * endpoint first (ws_conn_free or ws_conn_set_observer(NULL)), so that its
 * last frame events come before the row.
 */
void	framelog_session_close(struct framelog_session *,
	    const struct framelog_close *);

#endif
