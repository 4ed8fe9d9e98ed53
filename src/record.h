/*
 * record.h -- websockify's --record: each recorded WebSocket session to
 * its own file, PATH.N (N the connection number, the N of the log's cN),
 * in websockify's format, which noVNC's playback loads as a script:
 *
 *	var VNC_frame_data = [
 *	'{MS{PAYLOAD',		backend -> client (wsbridge sent it)
 *	'}MS}PAYLOAD',		client -> backend (wsbridge received it)
 *	'EOF'];
 *
 * MS is milliseconds since the session opened; PAYLOAD is the bytes as
 * Python's latin-1 + unicode_escape encoding writes them (\\, \t, \n, \r,
 * \xhh for the others outside 0x20-0x7e), with ' written \'. One entry per
 * data frame (websockify: per message read or written), made when the
 * frame has passed wsbridge: a client message larger than one read
 * streams to the backend as it arrives, so the backend's answer to its
 * first bytes can be recorded before it (websockify reads whole messages
 * before sending them on). The files are
 * mode 0600 (websockify's follow the umask): they hold everything typed.
 *
 * Files are opened, written and closed by one writer thread, never on an
 * event loop. The loops hand it encoded entries through a bounded queue;
 * an entry that does not fit is dropped and counted, and the session's
 * close line in the log says how many.
 */
#ifndef RECORD_H
#define RECORD_H

#include <stddef.h>
#include <stdint.h>

struct ws_frame_event;
struct rec_session;

/*
 * Starts recording a session to base.N, its clock starting at t0_ns
 * (now_ns()). Never fails here: a file that cannot be created is logged by
 * the writer. logid names the session in the log.
 */
struct rec_session	*rec_session_new(const char *base, uint64_t n,
			    const char *logid, uint64_t t0_ns);
/* One frame event (WS_DIR_IN or WS_DIR_OUT); control frames are skipped. */
void			 rec_frame(struct rec_session *,
			    const struct ws_frame_event *);
/* Writes the trailer, closes the file and frees s (later, in the writer). */
void			 rec_session_close(struct rec_session *);

/*
 * Encodes n bytes at p as a websockify record payload into out (room for
 * 4 * n bytes); returns the length written.
 */
size_t			 rec_escape(const uint8_t *p, size_t n, char *out);

/*
 * websockify's --traffic: marks to stdout, as it prints them ('}' client
 * frame in, '>' handed to the backend, '{' backend data in, '<' frame
 * queued for the client, and its legend when a session opens). Written
 * at once, as websockify does: a stdout that blocks stalls the loop, so
 * it is for watching a terminal, not for production.
 */
#define REC_TRAFFIC_LEGEND "\nTraffic Legend:\n" \
	"    }  - Client receive\n" \
	"    }. - Client receive partial\n" \
	"    {  - Target receive\n" \
	"\n" \
	"    >  - Target send\n" \
	"    >. - Target send partial\n" \
	"    <  - Client send\n" \
	"    <. - Client send partial\n"
void			 rec_traffic(const char *marks);

/*
 * For --check: base's directory exists and takes new files. Returns 0, or
 * -1 with *cause set (caller frees).
 */
int			 rec_check(const char *base, char **cause);

/* Writes what is queued and stops the writer; at exit, after the loops. */
void			 rec_shutdown(void);

#endif
