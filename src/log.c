/* log.c -- the one log module: stderr lines with time, level and function, or syslog. */
#include "wsb_autoconf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

/*
 * Set at start and by a reload in the main thread, read by every worker:
 * relaxed atomics (a worker may log one line at the old level).
 */
static int		log_level = LOGL_INFO;
static int		log_syslog;	/* set before any thread starts */

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

static void __attribute__((format(printf, 3, 0)))
log_vmsg(enum log_level level, const char *func, const char *fmt, va_list ap)
{
	static const int	 prio[] = { LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG };
	char			 msg[2048], ts[32];
	struct timespec		 now;
	struct tm		 tm;

	vsnprintf(msg, sizeof msg, fmt, ap);
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
