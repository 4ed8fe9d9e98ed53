/* log.c -- the one log module: stderr lines with time, level and function, or syslog. */
#include "wsb_autoconf.h"

#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "util.h"

/*
 * Set at start and by a reload in the main thread, read by every worker:
 * relaxed atomics (a worker may log one line at the old level).
 */
static int		log_level = LOGL_INFO;
static int		log_syslog;	/* set before any thread starts */
/* log_syslog_server(): set before any thread starts, then fixed. */
static int		log_remote_fd = -1;
static int		log_remote_legacy;
static int		log_remote_facility;
static char		log_hostname[256];

#define LEVEL()		__atomic_load_n(&log_level, __ATOMIC_RELAXED)

static const char *const log_names[] = { "error", "warn", "info", "debug" };

void
log_init(enum log_level level, int use_syslog)
{
	__atomic_store_n(&log_level, (int)level, __ATOMIC_RELAXED);
	if (use_syslog && !log_syslog)
		openlog("wsbridge", LOG_PID | LOG_NDELAY, LOG_DAEMON);
	log_syslog = use_syslog;
}

int
log_open_file(const char *path, char **cause)
{
	int	fd, saved;

	if ((fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC,
	    0644)) == -1) {
		*cause = xasprintf("log-file %s: %s", path, strerror(errno));
		return (-1);
	}
	if (fd != STDERR_FILENO) {
		if (dup2(fd, STDERR_FILENO) == -1) {
			saved = errno;
			close(fd);
			*cause = xasprintf("log-file %s: %s", path,
			    strerror(saved));
			return (-1);
		}
		close(fd);
	}
	return (0);
}

void
log_set_level(enum log_level level)
{
	__atomic_store_n(&log_level, (int)level, __ATOMIC_RELAXED);
}

int
log_enabled(enum log_level level)
{
	return ((int)level <= LEVEL());
}

int
log_level_parse(const char *s)
{
	size_t	i;

	for (i = 0; i < sizeof log_names / sizeof log_names[0]; i++)
		if (strcmp(s, log_names[i]) == 0)
			return ((int)i);
	return (-1);
}

const char *
log_level_name(int level)
{
	if (level < 0 || (size_t)level >= sizeof log_names / sizeof log_names[0])
		return ("?");
	return (log_names[level]);
}

/* Splits "HOST:PORT" or "[V6]:PORT" into a new host and the port. */
static char *
log_split_server(const char *s, const char **port)
{
	const char	*colon = strrchr(s, ':');
	size_t		 n;

	if (colon == NULL || colon == s || colon[1] == '\0')
		return (NULL);
	*port = colon + 1;
	n = (size_t)(colon - s);
	if (s[0] == '[' && n >= 2 && s[n - 1] == ']')
		return (strndup(s + 1, n - 2));
	return (strndup(s, n));
}

int
log_syslog_server(const char *server, int legacy, int facility,
    char **cause)
{
	struct sockaddr_un	 sun;
	struct addrinfo		 hints, *res = NULL, *ai;
	const char		*port;
	char			*host;
	int			 fd = -1, rc;

	if (server[0] == '/') {
		memset(&sun, 0, sizeof sun);
		sun.sun_family = AF_UNIX;
		if (strlen(server) >= sizeof sun.sun_path) {
			*cause = strdup("syslog-server: path too long");
			return (-1);
		}
		memcpy(sun.sun_path, server, strlen(server));
		if ((fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) == -1 ||
		    connect(fd, (struct sockaddr *)&sun, sizeof sun) == -1)
			goto syserr;
	} else {
		if ((host = log_split_server(server, &port)) == NULL) {
			if (asprintf(cause, "syslog-server %s: expected "
			    "HOST:PORT or /PATH", server) == -1)
				*cause = NULL;
			return (-1);
		}
		memset(&hints, 0, sizeof hints);
		hints.ai_socktype = SOCK_DGRAM;
		rc = getaddrinfo(host, port, &hints, &res);
		free(host);
		if (rc != 0) {
			if (asprintf(cause, "syslog-server %s: %s", server,
			    gai_strerror(rc)) == -1)
				*cause = NULL;
			return (-1);
		}
		for (ai = res; ai != NULL; ai = ai->ai_next) {
			if ((fd = socket(ai->ai_family, ai->ai_socktype |
			    SOCK_CLOEXEC, 0)) == -1)
				continue;
			if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
				break;
			close(fd);
			fd = -1;
		}
		freeaddrinfo(res);
		if (fd == -1)
			goto syserr;
	}
	if (gethostname(log_hostname, sizeof log_hostname) == -1)
		strcpy(log_hostname, "-");
	log_hostname[sizeof log_hostname - 1] = '\0';
	log_remote_fd = fd;
	log_remote_legacy = legacy;
	log_remote_facility = facility;
	return (0);
syserr:
	if (asprintf(cause, "syslog-server %s: %s", server,
	    strerror(errno)) == -1)
		*cause = NULL;
	if (fd != -1)
		close(fd);
	return (-1);
}

/*
 * One datagram per line to the syslog server: RFC 5424 (version 1, UTC
 * time with milliseconds) or RFC 3164 (local time, no year). A server
 * that is gone loses lines; the proxy never waits for its log.
 */
static void
log_remote(int prio, const char *msg)
{
	char		 line[2300], ts[40];
	struct timespec	 now;
	struct tm	 tm;
	int		 n;

	clock_gettime(CLOCK_REALTIME, &now);
	if (log_remote_legacy) {
		localtime_r(&now.tv_sec, &tm);
		strftime(ts, sizeof ts, "%b %e %H:%M:%S", &tm);
		n = snprintf(line, sizeof line, "<%d>%s %s wsbridge[%ld]: %s",
		    log_remote_facility | prio, ts, log_hostname,
		    (long)getpid(), msg);
	} else {
		gmtime_r(&now.tv_sec, &tm);
		strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%S", &tm);
		n = snprintf(line, sizeof line, "<%d>1 %s.%03ldZ %s wsbridge "
		    "%ld - - %s", log_remote_facility | prio, ts,
		    now.tv_nsec / 1000000, log_hostname, (long)getpid(), msg);
	}
	if (n > 0)
		(void)send(log_remote_fd, line, (size_t)n < sizeof line ?
		    (size_t)n : sizeof line - 1, MSG_DONTWAIT | MSG_NOSIGNAL);
}

static void __attribute__((format(printf, 3, 0)))
log_vmsg(enum log_level level, const char *func, const char *fmt, va_list ap)
{
	static const int	 prio[] = { LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG };
	char			 msg[2048], ts[32];
	struct timespec		 now;
	struct tm		 tm;

	vsnprintf(msg, sizeof msg, fmt, ap);
	if (log_remote_fd != -1) {
		log_remote(prio[level], msg);
		return;
	}
	if (log_syslog) {
		syslog(prio[level], "%s", msg);
		return;
	}
	clock_gettime(CLOCK_REALTIME, &now);
	gmtime_r(&now.tv_sec, &tm);
	strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%S", &tm);
	/* One write per line so lines from a dying process are never torn. */
	if (level == LOGL_DEBUG)
		fprintf(stderr, "%s.%03ldZ %s %s: %s\n", ts, now.tv_nsec / 1000000,
		    log_names[level], func, msg);
	else
		fprintf(stderr, "%s.%03ldZ %s %s\n", ts, now.tv_nsec / 1000000,
		    log_names[level], msg);
}

void
log_msg(enum log_level level, const char *func, const char *fmt, ...)
{
	va_list	ap;

	if ((int)level > LEVEL())
		return;
	va_start(ap, fmt);
	log_vmsg(level, func, fmt, ap);
	va_end(ap);
}

void
fatalx(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	log_vmsg(LOGL_ERROR, "fatal", fmt, ap);
	va_end(ap);
	exit(1);
}
