/*
 * framelog_db.c -- the frame log's SQLite side: schema and migrations,
 * prepared statements, retention and status rows (see framelog_db.h and
 * docs/framelog.md for every column). Runs in the writer thread only (and
 * in the main thread at start, before the writer exists).
 */
#include "wsb_autoconf.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "conn_facts.h"
#include "framelog_db.h"
#include "util.h"
#include "ws_frame.h"

/*
 * Migrations: migrations[v] takes a database from user_version v to v + 1.
 * A new database runs them all. Never edit a shipped step; append one.
 */
static const char *const migrations[] = {
	/* 0 -> 1: the first schema. */
	"CREATE TABLE runs ("
	"  id INTEGER PRIMARY KEY,"
	"  t_start INTEGER NOT NULL,"
	"  t_end INTEGER,"
	"  pid INTEGER,"
	"  version TEXT,"
	"  config TEXT);"
	"CREATE TABLE sessions ("
	"  id INTEGER PRIMARY KEY,"
	"  run_id INTEGER,"
	"  conn TEXT,"
	"  t_start INTEGER NOT NULL,"
	"  t_open INTEGER,"
	"  t_end INTEGER,"
	"  client_addr TEXT,"
	"  client_port INTEGER,"
	"  listener TEXT,"
	"  http_version TEXT,"
	"  h2_stream_id INTEGER,"
	"  tls_version TEXT,"
	"  tls_cipher TEXT,"
	"  alpn TEXT,"
	"  sni TEXT,"
	"  path TEXT,"
	"  query TEXT,"
	"  host TEXT,"
	"  origin TEXT,"
	"  user_agent TEXT,"
	"  protocols_offered TEXT,"
	"  protocol TEXT,"
	"  extensions_offered TEXT,"
	"  extensions TEXT,"
	"  route TEXT,"
	"  backend TEXT,"
	"  backend_addr TEXT,"
	"  backend_connect_ns INTEGER,"
	"  status INTEGER,"
	"  close_code_in INTEGER,"
	"  close_reason_in TEXT,"
	"  close_code_out INTEGER,"
	"  close_reason_out TEXT,"
	"  closed_by TEXT,"
	"  frames_in INTEGER, frames_out INTEGER,"
	"  msgs_in INTEGER, msgs_out INTEGER,"
	"  bytes_in INTEGER, bytes_out INTEGER,"
	"  backend_bytes_in INTEGER, backend_bytes_out INTEGER,"
	"  log_dropped INTEGER,"
	"  error TEXT);"
	"CREATE INDEX sessions_t_start ON sessions(t_start);"
	"CREATE TABLE frames ("
	"  id INTEGER PRIMARY KEY,"
	"  session_id INTEGER NOT NULL,"
	"  t INTEGER NOT NULL,"
	"  dir TEXT NOT NULL,"
	"  opcode INTEGER NOT NULL,"
	"  fin INTEGER NOT NULL,"
	"  rsv1 INTEGER NOT NULL,"
	"  rsv2 INTEGER NOT NULL,"
	"  rsv3 INTEGER NOT NULL,"
	"  masked INTEGER NOT NULL,"
	"  hdr_len INTEGER NOT NULL,"
	"  len INTEGER NOT NULL,"
	"  msg_no INTEGER,"
	"  frag INTEGER,"
	"  delay_ns INTEGER,"
	"  close_code INTEGER,"
	"  close_reason TEXT,"
	"  payload BLOB,"
	"  status TEXT);"
	"CREATE INDEX frames_msg ON frames(session_id, dir, msg_no);"
	"CREATE TABLE opcodes (opcode INTEGER PRIMARY KEY, name TEXT);"
	"INSERT INTO opcodes VALUES (0,'continuation'),(1,'text'),"
	"  (2,'binary'),(8,'close'),(9,'ping'),(10,'pong');"
	"CREATE TABLE log_status ("
	"  run_id INTEGER PRIMARY KEY,"
	"  t INTEGER,"
	"  frames_written INTEGER, sessions_written INTEGER,"
	"  frames_dropped INTEGER, capture_dropped INTEGER,"
	"  records_lost INTEGER,"
	"  errors_full INTEGER, errors_busy INTEGER,"
	"  errors_readonly INTEGER, errors_io INTEGER,"
	"  frames_pruned INTEGER, queue_max INTEGER,"
	"  last_error TEXT, last_error_t INTEGER);"
	"CREATE TABLE log_events ("
	"  id INTEGER PRIMARY KEY,"
	"  t INTEGER NOT NULL,"
	"  run_id INTEGER,"
	"  kind TEXT NOT NULL,"
	"  count INTEGER,"
	"  detail TEXT);"
	/* One row per reassembled data message. */
	"CREATE VIEW messages AS"
	"  SELECT session_id, dir, msg_no,"
	"    max(CASE WHEN frag = 0 THEN opcode END) AS opcode,"
	"    max(CASE WHEN frag = 0 THEN"
	"      (CASE opcode WHEN 1 THEN 'text' WHEN 2 THEN 'binary'"
	"       ELSE 'continuation' END) END) AS type,"
	"    count(*) AS frames,"
	"    sum(len) AS size,"
	"    min(t) AS t_first,"
	"    max(t) AS t_last,"
	"    max(t) - min(t) AS duration_ns,"
	"    max(fin) AS complete,"
	"    max(delay_ns) AS max_delay_ns,"
	"    sum(delay_ns) AS sum_delay_ns"
	"  FROM frames WHERE msg_no IS NOT NULL"
	"  GROUP BY session_id, dir, msg_no;"
	/* Frames with readable names and times. */
	"CREATE VIEW frames_named AS"
	"  SELECT f.id, f.session_id, f.dir, coalesce(o.name,"
	"    'reserved-' || f.opcode) AS type,"
	"    strftime('%Y-%m-%d %H:%M:%f', f.t / 1e9, 'unixepoch') AS time,"
	"    f.fin, f.len, f.msg_no, f.frag, f.delay_ns / 1e3 AS delay_us,"
	"    f.close_code, f.close_reason, f.status"
	"  FROM frames f LEFT JOIN opcodes o ON o.opcode = f.opcode;"
	/* Per-session summary, joined with what the frames table holds. */
	"CREATE VIEW session_summary AS"
	"  SELECT s.id, s.conn, s.client_addr, s.origin, s.user_agent, s.path,"
	"    s.route, s.backend, s.protocol, s.http_version,"
	"    strftime('%Y-%m-%d %H:%M:%f', s.t_start / 1e9, 'unixepoch')"
	"      AS started,"
	"    (coalesce(s.t_end, (SELECT max(t) FROM frames"
	"      WHERE session_id = s.id)) - s.t_start) / 1e9 AS duration_s,"
	"    s.backend_connect_ns / 1e6 AS connect_ms,"
	"    s.status, s.close_code_in, s.close_code_out, s.closed_by,"
	"    s.msgs_in, s.msgs_out, s.bytes_in, s.bytes_out,"
	"    (SELECT count(*) FROM frames WHERE session_id = s.id)"
	"      AS frames_logged,"
	"    (SELECT max(size) FROM messages WHERE session_id = s.id)"
	"      AS largest_message,"
	"    s.log_dropped, s.error,"
	"    s.t_end IS NULL AS live"
	"  FROM sessions s;",
	/*
	 * 1 -> 2: head-of-line results (docs/dashboard.md). Control frames
	 * get wait_ns; the last frame of a data message gets the message's
	 * transfer_ns and the delay it imposed on the next (next_delay_ns).
	 */
	"ALTER TABLE frames ADD COLUMN wait_ns INTEGER;"
	"ALTER TABLE frames ADD COLUMN transfer_ns INTEGER;"
	"ALTER TABLE frames ADD COLUMN next_delay_ns INTEGER;"
	"DROP VIEW messages;"
	"CREATE VIEW messages AS"
	"  SELECT session_id, dir, msg_no,"
	"    max(CASE WHEN frag = 0 THEN opcode END) AS opcode,"
	"    max(CASE WHEN frag = 0 THEN"
	"      (CASE opcode WHEN 1 THEN 'text' WHEN 2 THEN 'binary'"
	"       ELSE 'continuation' END) END) AS type,"
	"    count(*) AS frames,"
	"    sum(len) AS size,"
	"    min(t) AS t_first,"
	"    max(t) AS t_last,"
	"    max(t) - min(t) AS duration_ns,"
	"    max(fin) AS complete,"
	"    max(delay_ns) AS max_delay_ns,"
	"    sum(delay_ns) AS sum_delay_ns,"
	"    max(transfer_ns) AS transfer_ns,"
	"    max(next_delay_ns) AS next_delay_ns"
	"  FROM frames WHERE msg_no IS NOT NULL"
	"  GROUP BY session_id, dir, msg_no;",
	/*
	 * 2 -> 3: permessage-deflate (RFC 7692). A frame of a compressed
	 * message gets plain_len, its share of the inflated bytes (NULL
	 * otherwise); sessions get the wire bytes and compressed message
	 * counts; the views show wire and inflated sizes side by side.
	 */
	"ALTER TABLE frames ADD COLUMN plain_len INTEGER;"
	"ALTER TABLE sessions ADD COLUMN wire_in INTEGER;"
	"ALTER TABLE sessions ADD COLUMN wire_out INTEGER;"
	"ALTER TABLE sessions ADD COLUMN zmsgs_in INTEGER;"
	"ALTER TABLE sessions ADD COLUMN zmsgs_out INTEGER;"
	"DROP VIEW messages;"
	"CREATE VIEW messages AS"
	"  SELECT session_id, dir, msg_no,"
	"    max(CASE WHEN frag = 0 THEN opcode END) AS opcode,"
	"    max(CASE WHEN frag = 0 THEN"
	"      (CASE opcode WHEN 1 THEN 'text' WHEN 2 THEN 'binary'"
	"       ELSE 'continuation' END) END) AS type,"
	"    count(*) AS frames,"
	"    sum(len) AS size,"
	"    min(t) AS t_first,"
	"    max(t) AS t_last,"
	"    max(t) - min(t) AS duration_ns,"
	"    max(fin) AS complete,"
	"    max(delay_ns) AS max_delay_ns,"
	"    sum(delay_ns) AS sum_delay_ns,"
	"    max(transfer_ns) AS transfer_ns,"
	"    max(next_delay_ns) AS next_delay_ns,"
	"    max(CASE WHEN frag = 0 THEN rsv1 END) AS compressed,"
	"    sum(len) AS wire_size,"
	"    sum(coalesce(plain_len, len)) AS plain_size"
	"  FROM frames WHERE msg_no IS NOT NULL"
	"  GROUP BY session_id, dir, msg_no;"
	"DROP VIEW frames_named;"
	"CREATE VIEW frames_named AS"
	"  SELECT f.id, f.session_id, f.dir, coalesce(o.name,"
	"    'reserved-' || f.opcode) AS type,"
	"    strftime('%Y-%m-%d %H:%M:%f', f.t / 1e9, 'unixepoch') AS time,"
	"    f.fin, f.len, f.msg_no, f.frag, f.delay_ns / 1e3 AS delay_us,"
	"    f.close_code, f.close_reason, f.status, f.rsv1, f.plain_len"
	"  FROM frames f LEFT JOIN opcodes o ON o.opcode = f.opcode;"
	"DROP VIEW session_summary;"
	"CREATE VIEW session_summary AS"
	"  SELECT s.id, s.conn, s.client_addr, s.origin, s.user_agent, s.path,"
	"    s.route, s.backend, s.protocol, s.http_version,"
	"    strftime('%Y-%m-%d %H:%M:%f', s.t_start / 1e9, 'unixepoch')"
	"      AS started,"
	"    (coalesce(s.t_end, (SELECT max(t) FROM frames"
	"      WHERE session_id = s.id)) - s.t_start) / 1e9 AS duration_s,"
	"    s.backend_connect_ns / 1e6 AS connect_ms,"
	"    s.status, s.close_code_in, s.close_code_out, s.closed_by,"
	"    s.msgs_in, s.msgs_out, s.bytes_in, s.bytes_out,"
	"    (SELECT count(*) FROM frames WHERE session_id = s.id)"
	"      AS frames_logged,"
	"    (SELECT max(size) FROM messages WHERE session_id = s.id)"
	"      AS largest_message,"
	"    s.log_dropped, s.error,"
	"    s.t_end IS NULL AS live,"
	"    s.extensions, s.wire_in, s.wire_out, s.zmsgs_in, s.zmsgs_out,"
	"    round(1.0 * s.bytes_in / nullif(s.wire_in, 0), 2) AS ratio_in,"
	"    round(1.0 * s.bytes_out / nullif(s.wire_out, 0), 2) AS ratio_out"
	"  FROM sessions s;",
	/*
	 * 3 -> 4: no index on frames(session_id, dir, msg_no). With many
	 * connections interleaved, every insert landed at another place of
	 * it: the writer fell from ~1M to ~160k frames/s at 64 sessions and
	 * ~57k at 1000 (contrib/bench-log). An index on t only grows at its
	 * end; a session's frames are found by its time span, and head-of-
	 * line results find their row by id (framelog.c). Per-session
	 * figures in session_summary come from one grouped pass.
	 */
	"DROP INDEX frames_msg;"
	"CREATE INDEX frames_t ON frames(t);"
	"DROP VIEW session_summary;"
	"CREATE VIEW session_summary AS"
	"  WITH fs AS (SELECT session_id, count(*) AS n, max(t) AS t_last"
	"      FROM frames GROUP BY session_id),"
	"    ms AS (SELECT session_id, max(size) AS largest"
	"      FROM messages GROUP BY session_id)"
	"  SELECT s.id, s.conn, s.client_addr, s.origin, s.user_agent, s.path,"
	"    s.route, s.backend, s.protocol, s.http_version,"
	"    strftime('%Y-%m-%d %H:%M:%f', s.t_start / 1e9, 'unixepoch')"
	"      AS started,"
	"    (coalesce(s.t_end, fs.t_last) - s.t_start) / 1e9 AS duration_s,"
	"    s.backend_connect_ns / 1e6 AS connect_ms,"
	"    s.status, s.close_code_in, s.close_code_out, s.closed_by,"
	"    s.msgs_in, s.msgs_out, s.bytes_in, s.bytes_out,"
	"    coalesce(fs.n, 0) AS frames_logged,"
	"    ms.largest AS largest_message,"
	"    s.log_dropped, s.error,"
	"    s.t_end IS NULL AS live,"
	"    s.extensions, s.wire_in, s.wire_out, s.zmsgs_in, s.zmsgs_out,"
	"    round(1.0 * s.bytes_in / nullif(s.wire_in, 0), 2) AS ratio_in,"
	"    round(1.0 * s.bytes_out / nullif(s.wire_out, 0), 2) AS ratio_out"
	"  FROM sessions s"
	"  LEFT JOIN fs ON fs.session_id = s.id"
	"  LEFT JOIN ms ON ms.session_id = s.id;",
	/*
	 * 4 -> 5: the address wsbridge connected to the backend from (the
	 * backend's peer), to match the backend's own logs to a session.
	 */
	"ALTER TABLE sessions ADD COLUMN backend_local TEXT;",
};

#define NMIGRATIONS	((int)nitems(migrations))
/* PRAGMA user_version this code writes: a new step is a new version. */
#define FLOGDB_VERSION	NMIGRATIONS

/* Frames per multi-row INSERT: fewer statement runs per row. */
#define FLOGDB_ROWS	FLOGDB_BATCH_ROWS

/*
 * The frames table's columns, in the order the INSERTs list them (built
 * from frame_cols): a new column is an entry here and in frame_cols, its
 * line in flogdb_bind_frame() and a migration above.
 */
enum flogdb_fcol {
	FC_SESSION_ID = 0, FC_T, FC_DIR, FC_OPCODE, FC_FIN, FC_RSV1, FC_RSV2,
	FC_RSV3, FC_MASKED, FC_HDR_LEN, FC_LEN, FC_MSG_NO, FC_FRAG, FC_DELAY_NS,
	FC_CLOSE_CODE, FC_CLOSE_REASON, FC_PAYLOAD, FC_STATUS, FC_PLAIN_LEN,
	FLOGDB_FCOLS
};

static const char *const frame_cols[FLOGDB_FCOLS] = {
	[FC_SESSION_ID] = "session_id",
	[FC_T] = "t",
	[FC_DIR] = "dir",
	[FC_OPCODE] = "opcode",
	[FC_FIN] = "fin",
	[FC_RSV1] = "rsv1",
	[FC_RSV2] = "rsv2",
	[FC_RSV3] = "rsv3",
	[FC_MASKED] = "masked",
	[FC_HDR_LEN] = "hdr_len",
	[FC_LEN] = "len",
	[FC_MSG_NO] = "msg_no",
	[FC_FRAG] = "frag",
	[FC_DELAY_NS] = "delay_ns",
	[FC_CLOSE_CODE] = "close_code",
	[FC_CLOSE_REASON] = "close_reason",
	[FC_PAYLOAD] = "payload",
	[FC_STATUS] = "status",
	[FC_PLAIN_LEN] = "plain_len",
};

enum {
	ST_FRAME = 0,
	ST_FRAMES,	/* FLOGDB_ROWS frames at once, built at open */
	ST_SESSION,
	ST_RUN_START,
	ST_RUN_END,
	ST_EVENT,
	ST_STATUS,
	ST_BEGIN,
	ST_COMMIT,
	ST_HOL_MSG,
	ST_HOL_CTL,
	ST_COUNT
};

static const char *const statements[ST_COUNT] = {
	/* Built at open: from frame_cols, and from session_cols. */
	[ST_FRAME] = NULL,
	[ST_FRAMES] = NULL,
	[ST_SESSION] = NULL,
	[ST_RUN_START] = "INSERT INTO runs (t_start, pid, version, config) "
	    "VALUES (?,?,?,?)",
	[ST_RUN_END] = "UPDATE runs SET t_end = ? WHERE id = ?",
	[ST_EVENT] = "INSERT INTO log_events (t, run_id, kind, count, detail) "
	    "VALUES (?,?,?,?,?)",
	[ST_STATUS] = "INSERT OR REPLACE INTO log_status (run_id, t, "
	    "frames_written, sessions_written, frames_dropped, "
	    "capture_dropped, records_lost, errors_full, errors_busy, "
	    "errors_readonly, errors_io, frames_pruned, queue_max, last_error, "
	    "last_error_t) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
	[ST_BEGIN] = "BEGIN",
	[ST_COMMIT] = "COMMIT",
	[ST_HOL_MSG] = "UPDATE frames SET transfer_ns = ?1, next_delay_ns = ?2 "
	    "WHERE id = ?3",
	[ST_HOL_CTL] = "UPDATE frames SET wait_ns = ?1 WHERE id = ?2",
};

/*
 * The sessions table as the writer fills it, a line per column: its name
 * (the statement binds :name), what it holds and where, in the record or
 * in the connection's facts. A new column is a line here and a migration
 * above.
 */
enum flogdb_kind {
	K_U64 = 0,	/* uint64_t of the record */
	K_I64,		/* int64_t of the record, NULL when 0 */
	K_INT,		/* int of the record, NULL when 0 */
	K_TEXT,		/* char * of the record */
	K_FTEXT,	/* const char * of the facts */
	K_FADDR,	/* sockaddr_storage of the facts, as conn_addr_str() */
	K_FHOST,	/* its host alone */
	K_FPORT,	/* its port, NULL when it has none */
	K_FI64,		/* int64_t of the facts, NULL when 0 */
	K_FNS,		/* int64_t of the facts, NULL when -1 */
};

struct flogdb_col {
	const char		*name;
	enum flogdb_kind	 kind;
	size_t			 off;
};

#define REC(c, k)	{ #c, k, offsetof(struct flog_session_rec, c) }
#define FACT(c, k, f)	{ c, k, offsetof(struct conn_facts, f) }

static const struct flogdb_col session_cols[] = {
	REC(id, K_U64),
	REC(run_id, K_U64),
	REC(conn, K_TEXT),
	REC(t_start, K_I64),
	REC(t_open, K_I64),
	REC(t_end, K_I64),
	FACT("client_addr", K_FHOST, peer),
	FACT("client_port", K_FPORT, peer),
	FACT("listener", K_FADDR, local),
	FACT("http_version", K_FTEXT, http_version),
	FACT("h2_stream_id", K_FI64, h2_stream_id),
	FACT("tls_version", K_FTEXT, tls_version),
	FACT("tls_cipher", K_FTEXT, tls_cipher),
	FACT("alpn", K_FTEXT, alpn),
	FACT("sni", K_FTEXT, sni),
	FACT("path", K_FTEXT, path),
	FACT("query", K_FTEXT, query),
	FACT("host", K_FTEXT, host),
	FACT("origin", K_FTEXT, origin),
	FACT("user_agent", K_FTEXT, user_agent),
	FACT("protocols_offered", K_FTEXT, protocols),
	FACT("protocol", K_FTEXT, subprotocol),
	FACT("extensions_offered", K_FTEXT, extensions_offered),
	FACT("extensions", K_FTEXT, extensions),
	FACT("route", K_FTEXT, route),
	FACT("backend", K_FTEXT, backend),
	FACT("backend_addr", K_FADDR, backend_peer),
	FACT("backend_connect_ns", K_FNS, backend_connect_ns),
	FACT("backend_local", K_FADDR, backend_local),
	REC(status, K_INT),
	REC(close_code_in, K_INT),
	REC(close_reason_in, K_TEXT),
	REC(close_code_out, K_INT),
	REC(close_reason_out, K_TEXT),
	REC(closed_by, K_TEXT),
	REC(frames_in, K_U64),
	REC(frames_out, K_U64),
	REC(msgs_in, K_U64),
	REC(msgs_out, K_U64),
	REC(bytes_in, K_U64),
	REC(bytes_out, K_U64),
	REC(backend_bytes_in, K_U64),
	REC(backend_bytes_out, K_U64),
	REC(log_dropped, K_U64),
	REC(error, K_TEXT),
	REC(wire_in, K_U64),
	REC(wire_out, K_U64),
	REC(zmsgs_in, K_U64),
	REC(zmsgs_out, K_U64),
};
#define NSESSION_COLS	nitems(session_cols)

/* What a frame INSERT parameter holds (flogdb_bind_frame). */
enum { SL_UNKNOWN = 0, SL_NULL, SL_INT, SL_STATIC };
struct flogdb_slot {
	int64_t		 v;
	const char	*p;
	int		 kind;
};

struct flogdb {
	sqlite3			*db;
	sqlite3_stmt		*st[ST_COUNT];
	struct flogdb_slot	 sl_one[FLOGDB_FCOLS];		/* ST_FRAME */
	struct flogdb_slot	 sl_many[FLOGDB_ROWS * FLOGDB_FCOLS]; /* ST_FRAMES */
	int			 sess_param[NSESSION_COLS];	/* :name's */
};

void
flog_session_rec_free(struct flog_session_rec *r)
{
	if (r == NULL)
		return;
	free(r->conn);
	conn_facts_free(r->facts);
	free(r->close_reason_in);
	free(r->close_reason_out);
	free(r->closed_by);
	free(r->error);
	free(r);
}

const char *
flogdb_errkind(int rc)
{
	switch (rc & 0xff) {
	case SQLITE_FULL:
		return ("full");
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return ("busy");
	case SQLITE_READONLY:
	case SQLITE_PERM:
	case SQLITE_AUTH:
		return ("readonly");
	default:
		return ("io");
	}
}

const char *
flogdb_errmsg(struct flogdb *d)
{
	return (d != NULL && d->db != NULL ? sqlite3_errmsg(d->db) :
	    "no database");
}

/* Runs sql (no rows wanted). Returns 0 or the SQLite code. */
static int
flogdb_exec(struct flogdb *d, const char *sql)
{
	int	rc;

	rc = sqlite3_exec(d->db, sql, NULL, NULL, NULL);
	return (rc == SQLITE_OK ? 0 : rc);
}

/* Returns the integer of a one-row one-column query, or -1. */
static int64_t
flogdb_int(struct flogdb *d, const char *sql)
{
	sqlite3_stmt	*st;
	int64_t		 v = -1;

	if (sqlite3_prepare_v2(d->db, sql, -1, &st, NULL) != SQLITE_OK)
		return (-1);
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_type(st, 0) == SQLITE_NULL ? 0 :
		    sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return (v);
}

/* Brings the schema to FLOGDB_VERSION. Returns 0, or -1 with *cause. */
static int
flogdb_migrate(struct flogdb *d, char **cause)
{
	int64_t	v;
	char	sql[64];
	int	i, rc;

	if ((v = flogdb_int(d, "PRAGMA user_version")) < 0) {
		*cause = xasprintf("cannot read user_version: %s",
		    sqlite3_errmsg(d->db));
		return (-1);
	}
	if (v == FLOGDB_VERSION)
		return (0);
	if (v > FLOGDB_VERSION) {
		*cause = xasprintf("schema version %lld is newer than this "
		    "wsbridge's (%d); use a newer wsbridge or another file",
		    (long long)v, FLOGDB_VERSION);
		return (-1);
	}
	if (v == 0 && flogdb_int(d, "SELECT count(*) FROM sqlite_master") > 0) {
		*cause = xstrdup("file holds tables but no wsbridge schema "
		    "version; not a frame log");
		return (-1);
	}
	if ((rc = flogdb_exec(d, "BEGIN IMMEDIATE")) != 0)
		goto fail;
	for (i = (int)v; i < FLOGDB_VERSION; i++) {
		if ((rc = flogdb_exec(d, migrations[i])) != 0)
			goto fail;
	}
	snprintf(sql, sizeof sql, "PRAGMA user_version = %d", FLOGDB_VERSION);
	if ((rc = flogdb_exec(d, sql)) != 0 ||
	    (rc = flogdb_exec(d, "COMMIT")) != 0)
		goto fail;
	return (0);
fail:
	*cause = xasprintf("schema migration from version %lld failed: %s",
	    (long long)v, sqlite3_errmsg(d->db));
	sqlite3_exec(d->db, "ROLLBACK", NULL, NULL, NULL);
	return (-1);
}

/*
 * The n names at names, stride bytes apart, joined by ", ", each after
 * prefix (and left out when with_name is 0: "?" placeholders). The caller
 * frees the result.
 */
static char *
flogdb_join(const void *names, size_t stride, size_t n, const char *prefix,
    int with_name)
{
	const char	*name;
	char		*out = xstrdup(""), *p;
	size_t		 i;

	for (i = 0; i < n; i++) {
		name = *(const char *const *)(const void *)
		    ((const char *)names + i * stride);
		p = xasprintf("%s%s%s%s", out, i > 0 ? ", " : "", prefix,
		    with_name ? name : "");
		free(out);
		out = p;
	}
	return (out);
}

/* The INSERT of ST_SESSION: every column of session_cols, as :name. */
static char *
flogdb_session_insert(void)
{
	char	*sql, *cols, *vals;

	cols = flogdb_join(session_cols, sizeof session_cols[0], NSESSION_COLS,
	    "", 1);
	vals = flogdb_join(session_cols, sizeof session_cols[0], NSESSION_COLS,
	    ":", 1);
	sql = xasprintf("INSERT OR REPLACE INTO sessions (%s) VALUES (%s)",
	    cols, vals);
	free(cols);
	free(vals);
	return (sql);
}

/*
 * The INSERT of rows frames: frame_cols, a row's parameters bound by
 * position from flogdb_fcol (flogdb_bind_frame).
 */
static char *
flogdb_frame_insert(int rows)
{
	char	*sql, *cols, *vals, *p;
	int	 i;

	cols = flogdb_join(frame_cols, sizeof frame_cols[0], FLOGDB_FCOLS, "",
	    1);
	vals = flogdb_join(frame_cols, sizeof frame_cols[0], FLOGDB_FCOLS, "?",
	    0);
	sql = xasprintf("INSERT INTO frames (%s) VALUES (%s)", cols, vals);
	for (i = 1; i < rows; i++) {
		p = xasprintf("%s, (%s)", sql, vals);
		free(sql);
		sql = p;
	}
	free(cols);
	free(vals);
	return (sql);
}

struct flogdb *
flogdb_open(const char *path, uint64_t max_size, char **cause)
{
	struct flogdb	*d;
	char		 sql[96];
	int64_t		 page;
	int		 i;

	/*
	 * The caller made the file, with its mode: no SQLITE_OPEN_CREATE, and
	 * never through a symbolic link put there since.
	 */
	d = xcalloc(1, sizeof *d);
	if (sqlite3_open_v2(path, &d->db, SQLITE_OPEN_READWRITE |
	    SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_NOFOLLOW, NULL) != SQLITE_OK) {
		*cause = xasprintf("%s: %s", path, d->db != NULL ?
		    sqlite3_errmsg(d->db) : "cannot open");
		goto fail;
	}
	/* Another writer (an operator's sqlite3 shell) may hold the lock. */
	sqlite3_busy_timeout(d->db, 1000);
	if (flogdb_exec(d, "PRAGMA journal_mode = WAL") != 0 ||
	    flogdb_exec(d, "PRAGMA synchronous = NORMAL") != 0) {
		*cause = xasprintf("%s: %s", path, sqlite3_errmsg(d->db));
		goto fail;
	}
	if (flogdb_migrate(d, cause) != 0) {
		char *c = *cause;

		*cause = xasprintf("%s: %s", path, c);
		free(c);
		goto fail;
	}
	if (max_size != 0) {
		page = flogdb_int(d, "PRAGMA page_size");
		if (page <= 0)
			page = 4096;
		snprintf(sql, sizeof sql, "PRAGMA max_page_count = %llu",
		    (unsigned long long)(max_size / (uint64_t)page));
		flogdb_exec(d, sql);
	}
	for (i = 0; i < ST_COUNT; i++) {
		char	*built = NULL;
		int	 rc;

		if (i == ST_FRAME || i == ST_FRAMES)
			built = flogdb_frame_insert(i == ST_FRAME ? 1 :
			    FLOGDB_ROWS);
		else if (i == ST_SESSION)
			built = flogdb_session_insert();
		rc = sqlite3_prepare_v3(d->db, built != NULL ? built :
		    statements[i], -1, SQLITE_PREPARE_PERSISTENT, &d->st[i],
		    NULL);
		free(built);
		if (rc != SQLITE_OK) {
			*cause = xasprintf("%s: %s", path,
			    sqlite3_errmsg(d->db));
			goto fail;
		}
	}
	for (i = 0; i < (int)NSESSION_COLS; i++) {
		snprintf(sql, sizeof sql, ":%s", session_cols[i].name);
		d->sess_param[i] = sqlite3_bind_parameter_index(d->st[ST_SESSION],
		    sql);
		assert(d->sess_param[i] > 0);	/* built from the same table */
	}
	return (d);
fail:
	flogdb_close(d);
	return (NULL);
}

void
flogdb_close(struct flogdb *d)
{
	int	i;

	if (d == NULL)
		return;
	for (i = 0; i < ST_COUNT; i++)
		sqlite3_finalize(d->st[i]);
	if (d->db != NULL) {
		/* A transaction left open by an error is rolled back. */
		if (!sqlite3_get_autocommit(d->db))
			sqlite3_exec(d->db, "ROLLBACK", NULL, NULL, NULL);
		sqlite3_close(d->db);
	}
	free(d);
}

/* Steps a statement that returns no rows, then resets it. */
static int
flogdb_step(sqlite3_stmt *st)
{
	int	rc;

	rc = sqlite3_step(st);
	sqlite3_reset(st);
	return (rc == SQLITE_DONE ? 0 : rc);
}

int
flogdb_begin(struct flogdb *d)
{
	return (flogdb_step(d->st[ST_BEGIN]));
}

int
flogdb_commit(struct flogdb *d)
{
	return (flogdb_step(d->st[ST_COMMIT]));
}

void
flogdb_rollback(struct flogdb *d)
{
	if (!sqlite3_get_autocommit(d->db))
		sqlite3_exec(d->db, "ROLLBACK", NULL, NULL, NULL);
}

static void
bind_text(sqlite3_stmt *st, int i, const char *s)
{
	if (s == NULL)
		sqlite3_bind_null(st, i);
	else
		sqlite3_bind_text(st, i, s, -1, SQLITE_STATIC);
}

/* Binds v, or NULL when v equals none. */
static void
bind_int(sqlite3_stmt *st, int i, int64_t v, int64_t none)
{
	if (v == none)
		sqlite3_bind_null(st, i);
	else
		sqlite3_bind_int64(st, i, v);
}

static const char *
flogdb_status_str(unsigned status)
{
	switch (status) {
	case 1:
		return ("incomplete");
	case 2:
		return ("rejected");
	default:
		return (NULL);
	}
}

/*
 * A frame's parameters mostly repeat from one INSERT to the next (the same
 * opcode, flags, length, NULLs), and SQLite keeps bindings across
 * sqlite3_reset(). Binding was a fifth of the writer's work, so each
 * parameter slot remembers what it holds and is bound again only when that
 * changes. Transient blobs and texts (captures, close reasons) are always
 * bound and leave their slot unknown.
 */
static void
sl_int(sqlite3_stmt *st, struct flogdb_slot *sl, int o, enum flogdb_fcol c,
    int64_t v)
{
	if (sl[c].kind == SL_INT && sl[c].v == v)
		return;
	sqlite3_bind_int64(st, o + (int)c + 1, v);
	sl[c].kind = SL_INT;
	sl[c].v = v;
}

static void
sl_null(sqlite3_stmt *st, struct flogdb_slot *sl, int o, enum flogdb_fcol c)
{
	if (sl[c].kind == SL_NULL)
		return;
	sqlite3_bind_null(st, o + (int)c + 1);
	sl[c].kind = SL_NULL;
}

/* s: a string constant (or NULL), compared by address. */
static void
sl_static(sqlite3_stmt *st, struct flogdb_slot *sl, int o, enum flogdb_fcol c,
    const char *s)
{
	if (s == NULL) {
		sl_null(st, sl, o, c);
		return;
	}
	if (sl[c].kind == SL_STATIC && sl[c].p == s)
		return;
	sqlite3_bind_text(st, o + (int)c + 1, s, -1, SQLITE_STATIC);
	sl[c].kind = SL_STATIC;
	sl[c].p = s;
}

/*
 * A transient text or blob (n bytes at p; NULL when n is 0), bound every
 * time: its slot is left unknown.
 */
static void
sl_bytes(sqlite3_stmt *st, struct flogdb_slot *sl, int o, enum flogdb_fcol c,
    const void *p, size_t n, int text)
{
	if (n == 0) {
		sl_null(st, sl, o, c);
		return;
	}
	if (text)
		sqlite3_bind_text(st, o + (int)c + 1, p, (int)n, SQLITE_STATIC);
	else
		sqlite3_bind_blob(st, o + (int)c + 1, p, (int)n, SQLITE_STATIC);
	sl[c].kind = SL_UNKNOWN;
}

/*
 * Binds frame f to the parameters after the first o of st (a row of
 * frame_cols), whose slots are sl[0 .. FLOGDB_FCOLS - 1].
 */
static void
flogdb_bind_frame(sqlite3_stmt *st, struct flogdb_slot *sl, int o,
    const struct flog_frame *f, const uint8_t *data)
{
	int	control = WS_OP_IS_CONTROL(f->opcode);

	sl_int(st, sl, o, FC_SESSION_ID, (int64_t)f->session);
	sl_int(st, sl, o, FC_T, f->t);
	sl_static(st, sl, o, FC_DIR, f->dir == 0 ? "in" : "out");
	sl_int(st, sl, o, FC_OPCODE, f->opcode);
	sl_int(st, sl, o, FC_FIN, f->fin);
	sl_int(st, sl, o, FC_RSV1, (f->rsv & WS_RSV1) != 0);
	sl_int(st, sl, o, FC_RSV2, (f->rsv & WS_RSV2) != 0);
	sl_int(st, sl, o, FC_RSV3, (f->rsv & WS_RSV3) != 0);
	sl_int(st, sl, o, FC_MASKED, f->masked);
	sl_int(st, sl, o, FC_HDR_LEN, f->hdr_len);
	sl_int(st, sl, o, FC_LEN, (int64_t)f->len);
	if (control || f->msg_no == 0) {
		sl_null(st, sl, o, FC_MSG_NO);
		sl_null(st, sl, o, FC_FRAG);
	} else {
		sl_int(st, sl, o, FC_MSG_NO, (int64_t)f->msg_no);
		sl_int(st, sl, o, FC_FRAG, f->frag);
	}
	sl_int(st, sl, o, FC_DELAY_NS, (int64_t)f->delay_ns);
	if (f->close_code != 0)
		sl_int(st, sl, o, FC_CLOSE_CODE, f->close_code);
	else
		sl_null(st, sl, o, FC_CLOSE_CODE);
	sl_bytes(st, sl, o, FC_CLOSE_REASON, f->reason_len > 0 ?
	    data + f->data_len : NULL, f->reason_len, 1);
	sl_bytes(st, sl, o, FC_PAYLOAD, data, f->data_len, 0);
	sl_static(st, sl, o, FC_STATUS, flogdb_status_str(f->status));
	if (!control && f->zmsg)
		sl_int(st, sl, o, FC_PLAIN_LEN, (int64_t)f->plain_len);
	else
		sl_null(st, sl, o, FC_PLAIN_LEN);
}

int
flogdb_frame(struct flogdb *d, const struct flog_frame *f,
    const uint8_t *data, uint64_t *last_id)
{
	sqlite3_stmt	*st = d->st[ST_FRAME];
	int		 rc;

	flogdb_bind_frame(st, d->sl_one, 0, f, data);
	if ((rc = flogdb_step(st)) == 0)
		*last_id = (uint64_t)sqlite3_last_insert_rowid(d->db);
	return (rc);
}

int
flogdb_frames(struct flogdb *d, const struct flog_frame *const *f,
    const uint8_t *const *data, uint64_t *last_id)
{
	sqlite3_stmt	*st = d->st[ST_FRAMES];
	int		 i, rc;

	for (i = 0; i < FLOGDB_ROWS; i++)
		flogdb_bind_frame(st, &d->sl_many[i * FLOGDB_FCOLS],
		    i * FLOGDB_FCOLS, f[i], data[i]);
	if ((rc = flogdb_step(st)) == 0)
		*last_id = (uint64_t)sqlite3_last_insert_rowid(d->db);
	return (rc);
}

int
flogdb_hol(struct flogdb *d, uint64_t id, const struct flog_frame *f)
{
	sqlite3_stmt	*st;

	if (f->msg_no != 0) {
		st = d->st[ST_HOL_MSG];
		sqlite3_bind_int64(st, 1, (int64_t)f->delay_ns);
		sqlite3_bind_int64(st, 2, (int64_t)f->extra_ns);
		sqlite3_bind_int64(st, 3, (int64_t)id);
	} else {
		st = d->st[ST_HOL_CTL];
		sqlite3_bind_int64(st, 1, (int64_t)f->delay_ns);
		sqlite3_bind_int64(st, 2, (int64_t)id);
	}
	return (flogdb_step(st));
}

/* Binds column c of r to parameter i of st. */
static void
flogdb_bind_col(sqlite3_stmt *st, int i, const struct flogdb_col *c,
    const struct flog_session_rec *r)
{
	const void	*rp = (const char *)r + c->off;
	const void	*fp = (const char *)r->facts + c->off;
	char		 buf[CONN_ADDRSTRLEN];
	const char	*s;
	int		 port;

	switch (c->kind) {
	case K_U64:
		sqlite3_bind_int64(st, i, (int64_t)*(const uint64_t *)rp);
		break;
	case K_I64:
		bind_int(st, i, *(const int64_t *)rp, 0);
		break;
	case K_INT:
		bind_int(st, i, *(const int *)rp, 0);
		break;
	case K_TEXT:
		bind_text(st, i, *(char *const *)rp);
		break;
	case K_FTEXT:
		bind_text(st, i, *(const char *const *)fp);
		break;
	case K_FADDR:
	case K_FHOST:
		s = c->kind == K_FADDR ? conn_addr_str(fp, buf, sizeof buf) :
		    conn_addr_host(fp, buf, sizeof buf);
		if (s == NULL)
			sqlite3_bind_null(st, i);
		else
			sqlite3_bind_text(st, i, s, -1, SQLITE_TRANSIENT);
		break;
	case K_FPORT:
		port = conn_addr_port(fp);
		bind_int(st, i, port, -1);
		break;
	case K_FI64:
		bind_int(st, i, *(const int64_t *)fp, 0);
		break;
	case K_FNS:
		bind_int(st, i, *(const int64_t *)fp, -1);
		break;
	}
}

int
flogdb_session(struct flogdb *d, const struct flog_session_rec *r)
{
	sqlite3_stmt	*st = d->st[ST_SESSION];
	size_t		 i;

	for (i = 0; i < NSESSION_COLS; i++)
		flogdb_bind_col(st, d->sess_param[i], &session_cols[i], r);
	return (flogdb_step(st));
}

int
flogdb_run_start(struct flogdb *d, int64_t t, long pid, const char *version,
    const char *config, uint64_t *id)
{
	sqlite3_stmt	*st = d->st[ST_RUN_START];
	int		 rc;

	sqlite3_bind_int64(st, 1, t);
	sqlite3_bind_int64(st, 2, pid);
	bind_text(st, 3, version);
	bind_text(st, 4, config);
	if ((rc = flogdb_step(st)) == 0)
		*id = (uint64_t)sqlite3_last_insert_rowid(d->db);
	return (rc);
}

int
flogdb_run_end(struct flogdb *d, uint64_t id, int64_t t)
{
	sqlite3_stmt	*st = d->st[ST_RUN_END];

	sqlite3_bind_int64(st, 1, t);
	sqlite3_bind_int64(st, 2, (int64_t)id);
	return (flogdb_step(st));
}

int
flogdb_event(struct flogdb *d, int64_t t, uint64_t run_id, const char *kind,
    uint64_t count, const char *detail)
{
	sqlite3_stmt	*st = d->st[ST_EVENT];

	sqlite3_bind_int64(st, 1, t);
	sqlite3_bind_int64(st, 2, (int64_t)run_id);
	bind_text(st, 3, kind);
	sqlite3_bind_int64(st, 4, (int64_t)count);
	bind_text(st, 5, detail);
	return (flogdb_step(st));
}

int
flogdb_status(struct flogdb *d, const struct flogdb_status *s)
{
	sqlite3_stmt	*st = d->st[ST_STATUS];
	int		 i = 1;

	sqlite3_bind_int64(st, i++, (int64_t)s->run_id);
	sqlite3_bind_int64(st, i++, s->t);
	sqlite3_bind_int64(st, i++, (int64_t)s->frames_written);
	sqlite3_bind_int64(st, i++, (int64_t)s->sessions_written);
	sqlite3_bind_int64(st, i++, (int64_t)s->frames_dropped);
	sqlite3_bind_int64(st, i++, (int64_t)s->capture_dropped);
	sqlite3_bind_int64(st, i++, (int64_t)s->records_lost);
	sqlite3_bind_int64(st, i++, (int64_t)s->errors_full);
	sqlite3_bind_int64(st, i++, (int64_t)s->errors_busy);
	sqlite3_bind_int64(st, i++, (int64_t)s->errors_readonly);
	sqlite3_bind_int64(st, i++, (int64_t)s->errors_io);
	sqlite3_bind_int64(st, i++, (int64_t)s->frames_pruned);
	sqlite3_bind_int64(st, i++, (int64_t)s->queue_max);
	bind_text(st, i++, s->last_error);
	bind_int(st, i++, s->last_error_t, 0);
	return (flogdb_step(st));
}

int
flogdb_max_session(struct flogdb *d, uint64_t *id)
{
	int64_t	v;

	if ((v = flogdb_int(d, "SELECT max(id) FROM sessions")) < 0)
		return (sqlite3_errcode(d->db) != SQLITE_OK ?
		    sqlite3_errcode(d->db) : SQLITE_ERROR);
	*id = (uint64_t)v;
	return (0);
}

/* Deletes up to n of the oldest frames. Returns 0 or a code; *got. */
static int
flogdb_delete_oldest(struct flogdb *d, uint64_t n, int64_t before,
    uint64_t *got)
{
	char	sql[192];
	int	rc;

	if (before != 0)
		snprintf(sql, sizeof sql, "DELETE FROM frames WHERE id IN "
		    "(SELECT id FROM frames ORDER BY id LIMIT %llu) AND t < %lld",
		    (unsigned long long)n, (long long)before);
	else
		snprintf(sql, sizeof sql, "DELETE FROM frames WHERE id IN "
		    "(SELECT id FROM frames ORDER BY id LIMIT %llu)",
		    (unsigned long long)n);
	if ((rc = flogdb_exec(d, sql)) != 0)
		return (rc);
	*got = (uint64_t)sqlite3_changes(d->db);
	return (0);
}

int
flogdb_prune(struct flogdb *d, int64_t now, uint64_t age_s, uint64_t rows,
    uint64_t size, uint64_t max_delete, uint64_t *deleted)
{
	const uint64_t	 chunk = 5000;
	int64_t		 cutoff = 0, oldest, pages, freep, page, maxid, minid;
	uint64_t	 got, n;
	char		 sql[160];
	int		 rc, again;

	*deleted = 0;
	if (age_s != 0)
		cutoff = now - (int64_t)(age_s * 1000000000ULL);
	while (*deleted < max_delete) {
		again = 0;
		n = chunk;
		oldest = flogdb_int(d, "SELECT t FROM frames ORDER BY id LIMIT 1");
		if (cutoff != 0 && oldest > 0 && oldest < cutoff) {
			if ((rc = flogdb_delete_oldest(d, n, cutoff, &got)) != 0)
				return (rc);
			*deleted += got;
			again = got > 0;
		}
		if (!again && rows != 0) {
			maxid = flogdb_int(d, "SELECT max(id) FROM frames");
			minid = flogdb_int(d, "SELECT min(id) FROM frames");
			if (maxid > 0 && (uint64_t)(maxid - minid + 1) > rows) {
				n = MIN(chunk, (uint64_t)(maxid - minid + 1) -
				    rows);
				if ((rc = flogdb_delete_oldest(d, n, 0,
				    &got)) != 0)
					return (rc);
				*deleted += got;
				again = got > 0;
			}
		}
		if (!again && size != 0) {
			page = flogdb_int(d, "PRAGMA page_size");
			pages = flogdb_int(d, "PRAGMA page_count");
			freep = flogdb_int(d, "PRAGMA freelist_count");
			if (page > 0 && pages > 0 && freep >= 0 &&
			    (uint64_t)((pages - freep) * page) > size) {
				if ((rc = flogdb_delete_oldest(d, chunk, 0,
				    &got)) != 0)
					return (rc);
				*deleted += got;
				again = got > 0;
			}
		}
		if (!again)
			break;
	}
	if (*deleted > 0 || cutoff != 0) {
		/* Sessions that ended before every frame left. */
		snprintf(sql, sizeof sql, "DELETE FROM sessions WHERE t_end IS "
		    "NOT NULL AND (t_end < %lld OR t_end < (SELECT t FROM frames "
		    "ORDER BY id LIMIT 1))", (long long)cutoff);
		if ((rc = flogdb_exec(d, sql)) != 0)
			return (rc);
	}
	return (0);
}

int
flogdb_checkpoint(struct flogdb *d)
{
	return (flogdb_exec(d, "PRAGMA wal_checkpoint(TRUNCATE)"));
}
