/*
 * framelog_db.h -- the frame log's SQLite database: schema and its
 * migrations (PRAGMA user_version), prepared statements for the writer
 * thread, retention pruning and the status rows. Only the writer thread
 * (or a test or benchmark standing in for it) calls these.
 */
#ifndef FRAMELOG_DB_H
#define FRAMELOG_DB_H

#include <stddef.h>
#include <stdint.h>

#include "framelog_queue.h"

struct conn_facts;
struct flogdb;

/*
 * One session row, a full snapshot: the connection's facts (a reference)
 * and what happened since. Strings are owned (free with _free).
 */
struct flog_session_rec {
	struct flog_session_rec	*next;
	uint64_t	 id;
	uint64_t	 run_id;
	char		*conn;
	int64_t		 t_start, t_open, t_end;	/* ns since epoch; 0: NULL */
	struct conn_facts *facts;
	int		 status;			/* 0: NULL */
	int		 close_code_in, close_code_out;	/* 0: NULL */
	char		*close_reason_in, *close_reason_out;
	char		*closed_by;
	uint64_t	 frames_in, frames_out, msgs_in, msgs_out;
	uint64_t	 bytes_in, bytes_out;		/* payload, inflated */
	uint64_t	 wire_in, wire_out;		/* payload as framed */
	uint64_t	 zmsgs_in, zmsgs_out;		/* compressed messages */
	uint64_t	 backend_bytes_in, backend_bytes_out;
	uint64_t	 log_dropped;
	char		*error;
};

void	flog_session_rec_free(struct flog_session_rec *);

/* Counters of the writer, written to log_status. */
struct flogdb_status {
	uint64_t	run_id;
	int64_t		t;
	uint64_t	frames_written, sessions_written;
	uint64_t	frames_dropped, capture_dropped;	/* queue full */
	uint64_t	records_lost;		/* discarded on database errors */
	uint64_t	errors_full, errors_busy, errors_readonly, errors_io;
	uint64_t	frames_pruned;
	uint64_t	queue_max;		/* most records ever queued */
	const char	*last_error;
	int64_t		last_error_t;
};

/*
 * Opens path, an existing file (the caller creates it with its mode; a
 * symbolic link is refused), sets WAL, synchronous=NORMAL and max_size (0:
 * none), creates or migrates the schema and prepares the statements.
 * Returns NULL with *cause set (caller frees) on failure.
 */
struct flogdb	*flogdb_open(const char *path, uint64_t max_size, char **cause);
void		 flogdb_close(struct flogdb *);

/*
 * All calls below return 0, or a SQLite result code (SQLITE_FULL,
 * SQLITE_BUSY, ...) with flogdb_errmsg() telling more.
 */
int	flogdb_begin(struct flogdb *);
int	flogdb_commit(struct flogdb *);
void	flogdb_rollback(struct flogdb *);
/* Inserts frame rows; *last_id gets the id of the last one. */
int	flogdb_frame(struct flogdb *, const struct flog_frame *,
	    const uint8_t *data, uint64_t *last_id);
/* Applies a FLOG_HOL record to the frame row with that id. */
int	flogdb_hol(struct flogdb *, uint64_t id, const struct flog_frame *);
/* Exactly FLOGDB_BATCH_ROWS frames in one statement (cheaper per row). */
#define FLOGDB_BATCH_ROWS	32
int	flogdb_frames(struct flogdb *, const struct flog_frame *const *f,
	    const uint8_t *const *data, uint64_t *last_id);
int	flogdb_session(struct flogdb *, const struct flog_session_rec *);
/* Starts a row in runs; *id gets its id. */
int	flogdb_run_start(struct flogdb *, int64_t t, long pid,
	    const char *version, const char *config, uint64_t *id);
int	flogdb_run_end(struct flogdb *, uint64_t id, int64_t t);
int	flogdb_event(struct flogdb *, int64_t t, uint64_t run_id,
	    const char *kind, uint64_t count, const char *detail);
int	flogdb_status(struct flogdb *, const struct flogdb_status *);
/* Largest sessions.id so far (0 when none). */
int	flogdb_max_session(struct flogdb *, uint64_t *id);

/*
 * Deletes the oldest frames (and sessions ended before what remains) while
 * frames are older than age_s seconds before now, more than rows, or the
 * pages in use exceed size bytes (0: no such limit); at most max_delete
 * frames per call so the writer stays responsive. *deleted gets the count.
 */
int	flogdb_prune(struct flogdb *, int64_t now, uint64_t age_s,
	    uint64_t rows, uint64_t size, uint64_t max_delete,
	    uint64_t *deleted);
/* PRAGMA wal_checkpoint(TRUNCATE), for the exit. */
int	flogdb_checkpoint(struct flogdb *);

const char	*flogdb_errmsg(struct flogdb *);
/* Short name of a failure class: "full", "busy", "readonly", "io". */
const char	*flogdb_errkind(int rc);

#endif
