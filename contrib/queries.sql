-- queries.sql -- questions the wsbridge frame log answers with plain SQL.
-- Run them all:   sqlite3 -header -column wsbridge.db < contrib/queries.sql
-- or pick one. Times are nanoseconds since the epoch (t, t_start...);
-- datetime(t / 1e9, 'unixepoch') makes them readable. docs/framelog.md
-- explains every column. The test suite runs this file against a real log.

.print '-- 1. The 10 largest messages, with who sent them'
SELECT m.session_id, m.dir, m.msg_no, m.type, m.size, m.frames,
       m.duration_ns / 1e6 AS ms, s.client_addr, s.origin, s.path
FROM messages m JOIN sessions s ON s.id = m.session_id
ORDER BY m.size DESC LIMIT 10;

.print '-- 2. Sessions that sent a message over 1 MiB'
SELECT DISTINCT s.id, s.conn, s.client_addr, s.origin, s.user_agent
FROM messages m JOIN sessions s ON s.id = m.session_id
WHERE m.dir = 'in' AND m.size > 1048576;

.print '-- 3. Frame-size histogram per direction (buckets follow the header length classes)'
SELECT dir,
       CASE WHEN len = 0 THEN 'a: 0'
            WHEN len <= 125 THEN 'b: 1-125'
            WHEN len < 1024 THEN 'c: 126-1023'
            WHEN len < 16384 THEN 'd: 1K-16K'
            WHEN len < 65536 THEN 'e: 16K-64K'
            WHEN len < 1048576 THEN 'f: 64K-1M'
            ELSE 'g: 1M+' END AS size,
       count(*) AS frames, sum(len) AS bytes
FROM frames GROUP BY dir, size ORDER BY dir, size;

.print '-- 4. Sessions per Origin'
SELECT coalesce(origin, '(none)') AS origin, count(*) AS sessions,
       sum(bytes_in) AS bytes_in, sum(bytes_out) AS bytes_out
FROM sessions GROUP BY origin ORDER BY sessions DESC;

.print '-- 5. Close codes, by who closed first'
SELECT closed_by, close_code_in, close_code_out, count(*) AS sessions
FROM sessions WHERE t_end IS NOT NULL
GROUP BY closed_by, close_code_in, close_code_out ORDER BY sessions DESC;

.print '-- 6. Close codes Chromium clients got yesterday (UTC)'
SELECT close_code_out, close_reason_out, count(*) AS sessions
FROM sessions
WHERE user_agent LIKE '%Chrome/%'
  AND date(t_start / 1e9, 'unixepoch') = date('now', '-1 day')
GROUP BY close_code_out, close_reason_out;

.print '-- 7. Slowest backends to connect (and to answer)'
SELECT backend, count(*) AS sessions,
       round(avg(backend_connect_ns) / 1e6, 3) AS avg_connect_ms,
       round(max(backend_connect_ns) / 1e6, 3) AS max_connect_ms,
       sum(status >= 500) AS refused
FROM sessions GROUP BY backend ORDER BY avg_connect_ms DESC;

.print '-- 8. Backend answer time: first reply frame after each client message'
SELECT s.backend, count(*) AS exchanges,
       round(avg(r.t - q.t) / 1e6, 3) AS avg_reply_ms,
       round(max(r.t - q.t) / 1e6, 3) AS max_reply_ms
FROM frames q
JOIN frames r ON r.id = (SELECT x.id FROM frames x
                         WHERE x.t >= q.t AND x.session_id = q.session_id
                           AND x.dir = 'out' AND x.msg_no IS NOT NULL
                         ORDER BY x.t LIMIT 1)  -- walks the index on t
JOIN sessions s ON s.id = q.session_id
WHERE q.dir = 'in' AND q.msg_no IS NOT NULL AND q.fin = 1
GROUP BY s.backend ORDER BY avg_reply_ms DESC;

.print '-- 9. Head-of-line offenders: frames that waited longest inside wsbridge'
SELECT f.session_id, f.dir, f.msg_no, f.frag, f.len,
       f.delay_ns / 1e3 AS delay_us, s.path, s.backend
FROM frames f JOIN sessions s ON s.id = f.session_id
ORDER BY f.delay_ns DESC LIMIT 10;

.print '-- 10. Control frames queued behind a large message (pong/close delay)'
SELECT f.session_id, o.name AS type, f.delay_ns / 1e3 AS delay_us,
       (SELECT max(size) FROM messages m WHERE m.session_id = f.session_id
          AND m.dir = 'out' AND m.t_first <= f.t) AS largest_before
FROM frames f JOIN opcodes o ON o.opcode = f.opcode
WHERE f.dir = 'out' AND f.opcode IN (8, 10)
ORDER BY f.delay_ns DESC LIMIT 10;

.print '-- 11. Traffic per minute'
SELECT strftime('%Y-%m-%d %H:%M', t / 1e9, 'unixepoch') AS minute,
       sum(dir = 'in') AS frames_in, sum(dir = 'out') AS frames_out,
       sum(CASE WHEN dir = 'in' THEN len END) AS bytes_in,
       sum(CASE WHEN dir = 'out' THEN len END) AS bytes_out
FROM frames GROUP BY minute ORDER BY minute;

.print '-- 12. Frames per type and direction'
SELECT f.dir, o.name AS type, count(*) AS frames, sum(f.len) AS bytes
FROM frames f LEFT JOIN opcodes o ON o.opcode = f.opcode
GROUP BY f.dir, f.opcode ORDER BY f.dir, frames DESC;

.print '-- 13. Fragmented messages: how many frames they took'
SELECT dir, frames, count(*) AS messages, max(size) AS largest
FROM messages WHERE frames > 1 GROUP BY dir, frames ORDER BY dir, frames;

.print '-- 14. Longest sessions, still open ones marked live'
SELECT id, conn, client_addr, path, round(duration_s, 3) AS duration_s,
       msgs_in, msgs_out, live
FROM session_summary ORDER BY duration_s DESC LIMIT 10;

.print '-- 15. Protocol violations and cut frames'
SELECT f.session_id, s.client_addr, s.user_agent, f.dir, f.opcode, f.len,
       f.status
FROM frames f JOIN sessions s ON s.id = f.session_id
WHERE f.status IS NOT NULL;

.print '-- 16. Is the log complete? Drops and database errors per run'
SELECT r.id AS run, datetime(r.t_start / 1e9, 'unixepoch') AS started,
       l.frames_written, l.frames_dropped, l.records_lost,
       l.errors_full, l.errors_busy, l.errors_readonly, l.errors_io,
       l.last_error
FROM runs r LEFT JOIN log_status l ON l.run_id = r.id ORDER BY r.id;

.print '-- 17. Subprotocols offered versus chosen'
SELECT protocols_offered, protocol, count(*) AS sessions
FROM sessions GROUP BY protocols_offered, protocol;

.print '-- 18. permessage-deflate: compression ratio per route and per session'
SELECT route, count(*) AS sessions, sum(zmsgs_in) AS zmsgs_in,
       sum(zmsgs_out) AS zmsgs_out,
       sum(bytes_in) AS plain_in, sum(wire_in) AS wire_in,
       round(1.0 * sum(bytes_in) / nullif(sum(wire_in), 0), 2) AS ratio_in,
       sum(bytes_out) AS plain_out, sum(wire_out) AS wire_out,
       round(1.0 * sum(bytes_out) / nullif(sum(wire_out), 0), 2) AS ratio_out
FROM sessions WHERE extensions LIKE 'permessage-deflate%'
GROUP BY route ORDER BY sum(bytes_in) + sum(bytes_out) DESC;
SELECT id, conn, route, extensions, bytes_in, wire_in, ratio_in,
       bytes_out, wire_out, ratio_out
FROM session_summary WHERE zmsgs_in + zmsgs_out > 0
ORDER BY bytes_in + bytes_out DESC LIMIT 10;
