/* log.h -- the one log module: levels, function names, connection ids. */
#ifndef LOG_H
#define LOG_H

enum log_level {
	LOGL_ERROR = 0,
	LOGL_WARN,
	LOGL_INFO,
	LOGL_DEBUG,
};

/* Sets the threshold and the sink (stderr, or syslog when use_syslog). */
void	log_init(enum log_level level, int use_syslog);
/*
 * Sends the log to a syslog server instead, as websockify's --syslog
 * SERVER: a UDP "HOST:PORT" ("[V6]:PORT"), or the path of a unix datagram
 * socket; RFC 5424 lines, or RFC 3164 when legacy. facility is syslog(3)'s
 * (LOG_USER, LOG_DAEMON). Resolves and connects now, before any thread
 * starts. Returns 0, or -1 with *cause set (caller frees).
 */
int	log_syslog_server(const char *server, int legacy, int facility,
	    char **cause);
/*
 * log-file: stderr, and so the log, appended to path (created 0644), now
 * and again after the file was moved away (SIGUSR1, logrotate). Returns
 * 0, or -1 with *cause set (caller frees); stderr is unchanged then.
 */
int	log_open_file(const char *path, char **cause);
void	log_set_level(enum log_level level);
int	log_enabled(enum log_level level);
/* Parses "error", "warn", "info", "debug"; returns -1 if unknown. */
int	log_level_parse(const char *s);
/* The name log_level_parse() takes for level. */
const char *log_level_name(int level);

void	log_msg(enum log_level, const char *func, const char *fmt, ...)
	    __attribute__((format(printf, 3, 4)));

#define log_error(...)	log_msg(LOGL_ERROR, __func__, __VA_ARGS__)
#define log_warn(...)	log_msg(LOGL_WARN, __func__, __VA_ARGS__)
#define log_info(...)	log_msg(LOGL_INFO, __func__, __VA_ARGS__)
#define log_debug(...)	do { if (log_enabled(LOGL_DEBUG)) \
	log_msg(LOGL_DEBUG, __func__, __VA_ARGS__); } while (0)

/* Exits with status 1 after logging; for start-up errors only. */
void	fatalx(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

#endif
