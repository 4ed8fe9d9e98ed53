/*
 * service.h -- wsbridge under a service manager (systemd): the listening
 * sockets it passes (socket activation, LISTEN_FDS), what wsbridge tells
 * it (sd_notify: READY=1, RELOADING=1, STOPPING=1, STATUS=, WATCHDOG=1),
 * and becoming an unprivileged user once the listeners are open. Through
 * libsystemd when it was found at build time; without it no socket is
 * taken and nothing is sent (a "listen systemd" line then fails at start).
 */
#ifndef SERVICE_H
#define SERVICE_H

#include <stdint.h>

/*
 * Takes the sockets the service manager passed, once, before any config
 * is built (config_set_activation), and clears LISTEN_* from the
 * environment so no child inherits them. Returns how many, or -1 with
 * *cause set (caller frees) when LISTEN_FDS is malformed.
 */
int	service_take_sockets(char **cause);

/* Whether a service manager listens (NOTIFY_SOCKET is set). */
int	service_notifying(void);

/* Sends one notification (newline-separated "KEY=value" lines). */
void	service_notify(const char *fmt, ...)
	    __attribute__((format(printf, 1, 2)));

/*
 * The watchdog interval the service manager asked for (WatchdogSec=), in
 * microseconds, or 0 when none.
 */
uint64_t service_watchdog_usec(void);

/*
 * Started as root with user and/or group (names or numbers; NULL: not
 * given): become them for good (supplementary groups dropped, real,
 * effective and saved ids all set), before any thread starts. A user
 * alone also takes its primary group. Not root: fine when they are
 * already what the process runs as, else an error. Returns 0, or -1 with
 * *cause set (caller frees).
 */
int	service_drop_privileges(const char *user, const char *group,
	    char **cause);

#endif
