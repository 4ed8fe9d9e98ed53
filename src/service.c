/*
 * service.c -- socket activation, notifications and privilege drop (see
 * service.h). The protocol with systemd is libsystemd's (sd-daemon.h);
 * dropping root is the usual setgroups/setresgid/setresuid sequence,
 * checked afterwards.
 */
#include "wsb_autoconf.h"

#include <sys/types.h>

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifdef HAVE_SYSTEMD
#include <systemd/sd-daemon.h>
#endif

#include "config.h"
#include "service.h"
#include "util.h"

int
service_take_sockets(char **cause)
{
#ifdef HAVE_SYSTEMD
	char	**names = NULL;
	int	  n;

	/* 1: LISTEN_PID, LISTEN_FDS, LISTEN_FDNAMES go; the sockets stay. */
	if ((n = sd_listen_fds_with_names(1, &names)) < 0) {
		*cause = xasprintf("LISTEN_FDS: %s", strerror(-n));
		return (-1);
	}
	if (n > 0)
		config_set_activation(SD_LISTEN_FDS_START, names, (size_t)n);
	else
		free(names);
	return (n);
#else
	(void)cause;
	return (0);
#endif
}

int
service_notifying(void)
{
#ifdef HAVE_SYSTEMD
	return (getenv("NOTIFY_SOCKET") != NULL);
#else
	return (0);
#endif
}

void
service_notify(const char *fmt, ...)
{
#ifdef HAVE_SYSTEMD
	va_list	 ap;
	char	*msg;

	if (!service_notifying())
		return;
	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) == -1)
		msg = NULL;
	va_end(ap);
	if (msg == NULL)
		return;
	(void)sd_notify(0, msg);
	free(msg);
#else
	(void)fmt;
#endif
}

uint64_t
service_watchdog_usec(void)
{
#ifdef HAVE_SYSTEMD
	uint64_t	usec = 0;

	if (sd_watchdog_enabled(0, &usec) <= 0)
		return (0);
	return (usec);
#else
	return (0);
#endif
}

/* A name, or a number when no such name exists. Returns 0 or -1. */
static int
service_id(const char *s, int is_user, uid_t *uid, gid_t *gid)
{
	struct passwd	*pw;
	struct group	*gr;
	uint64_t	 v;

	if (is_user) {
		if ((pw = getpwnam(s)) != NULL) {
			*uid = pw->pw_uid;
			*gid = pw->pw_gid;
			return (0);
		}
		if (parse_u64(s, strlen(s), &v) != 0 || v >= (uid_t)-1)
			return (-1);
		*uid = (uid_t)v;
		/* A bare number: its primary group, when it has an entry. */
		*gid = (pw = getpwuid(*uid)) != NULL ? pw->pw_gid : (gid_t)v;
		return (0);
	}
	if ((gr = getgrnam(s)) != NULL) {
		*gid = gr->gr_gid;
		return (0);
	}
	if (parse_u64(s, strlen(s), &v) != 0 || v >= (gid_t)-1)
		return (-1);
	*gid = (gid_t)v;
	return (0);
}

int
service_drop_privileges(const char *user, const char *group, char **cause)
{
	uid_t	uid = geteuid();
	gid_t	gid = getegid(), ugid;

	if (user == NULL && group == NULL)
		return (0);
	if (user != NULL && service_id(user, 1, &uid, &ugid) != 0) {
		*cause = xasprintf("user %s: no such user", user);
		return (-1);
	}
	if (user != NULL)
		gid = ugid;
	if (group != NULL && service_id(group, 0, &uid, &gid) != 0) {
		*cause = xasprintf("group %s: no such group", group);
		return (-1);
	}
	if (geteuid() != 0) {
		if (uid == geteuid() && gid == getegid())
			return (0);
		*cause = xasprintf("user/group: only root can become %s%s%s "
		    "(running as uid %u)", user != NULL ? user : "",
		    user != NULL && group != NULL ? ":" : "",
		    group != NULL ? group : "", (unsigned)geteuid());
		return (-1);
	}
	if (setgroups(1, &gid) == -1 || setresgid(gid, gid, gid) == -1 ||
	    setresuid(uid, uid, uid) == -1) {
		*cause = xasprintf("dropping privileges to uid %u gid %u: %s",
		    (unsigned)uid, (unsigned)gid, strerror(errno));
		return (-1);
	}
	/* For good: root must not come back. */
	if (uid != 0 && (setuid(0) != -1 || seteuid(0) != -1)) {
		*cause = xasprintf("dropping privileges: uid 0 could be "
		    "regained");
		return (-1);
	}
	return (0);
}
