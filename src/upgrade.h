/*
 * upgrade.h -- the new side of a hitless upgrade (--upgrade): take the
 * listening sockets of the running wsbridge through its control socket,
 * share them out over this one's listen lines and workers, and tell the
 * old one to drain once this one accepts. The old side is in control.c;
 * docs/upgrade.md tells the whole story.
 */
#ifndef UPGRADE_H
#define UPGRADE_H

#include <sys/socket.h>

#include <stddef.h>

struct config;

struct upgrade_sock {
	char			*spec;	/* the old listen line */
	unsigned		 worker;	/* the old worker that had it */
	int			 fd;
	struct sockaddr_storage	 ss;	/* where it is bound */
	socklen_t		 sslen;
	int			 used;	/* a listen line of ours took it */
};

struct upgrade {
	int			 conn;	/* to the old control socket */
	long			 pid;	/* the old wsbridge */
	int			 ctl_fd;	/* the old control socket's */
	int			 admin_fd;	/* its admin endpoint's, or -1 */
	struct upgrade_sock	*s;
	size_t			 n;
};

/*
 * Connects to the control socket at path and takes the running
 * wsbridge's sockets (blocking, bounded by a timeout: at start only).
 * Returns NULL with *cause set (caller frees).
 */
struct upgrade	*upgrade_take(const char *path, char **cause);

/*
 * Gives the listen lines of cfg -- worker's config of nworkers -- their
 * share of the sockets: a line takes those of the same listen line, else
 * those bound where it would bind (a line whose options changed). Every
 * worker gets some of each (the old workers' sockets, SO_REUSEPORT
 * siblings, are shared out; a worker beyond them shares one), so no socket
 * is left unaccepted and none of their queued connections is lost.
 */
void	upgrade_assign(struct upgrade *, struct config *cfg, unsigned worker,
	    unsigned nworkers);

/*
 * This wsbridge accepts: the old one may drain. Waits for its answer.
 * Returns 0, or -1 with *cause set.
 */
int	upgrade_done(struct upgrade *, char **cause);

/*
 * Closes our copies of the sockets (listeners hold their own) and the
 * connection; NULL is a no-op. Sockets no listen line took close with
 * the old wsbridge's copies.
 */
void	upgrade_free(struct upgrade *);

#endif
