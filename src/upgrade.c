/*
 * upgrade.c -- the new wsbridge's side of a hitless upgrade (upgrade.h).
 * Blocking socket calls with a receive timeout: it runs once, at start,
 * before any event loop.
 */
#include "wsb_autoconf.h"

#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <netinet/in.h>

#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "config.h"
#include "upgrade.h"
#include "util.h"

#define UPGRADE_TIMEOUT_S	10
#define UPGRADE_LINE_MAX	(1024 * 1024)
#define UPGRADE_FDS		253	/* SCM_MAX_FD */

/*
 * Reads one line from fd into a new string (no newline), the descriptors
 * that came with its first bytes into fds (*nfds: room in, count out).
 * Returns NULL with *cause set.
 */
static char *
upgrade_readln(int fd, int *fds, size_t *nfds, char **cause)
{
	struct msghdr	 msg;
	struct cmsghdr	*cm;
	struct iovec	 iov;
	union {
		struct cmsghdr	hdr;
		char		buf[CMSG_SPACE(UPGRADE_FDS * sizeof (int))];
	}		 cbuf;
	char		*line = NULL, c;
	size_t		 len = 0, room = *nfds, k, j;
	ssize_t		 n;
	int		 got;

	*nfds = 0;
	for (;;) {
		memset(&msg, 0, sizeof msg);
		iov.iov_base = &c;
		iov.iov_len = 1;
		msg.msg_iov = &iov;
		msg.msg_iovlen = 1;
		msg.msg_control = cbuf.buf;
		msg.msg_controllen = sizeof cbuf.buf;
		if ((n = recvmsg(fd, &msg, MSG_CMSG_CLOEXEC)) <= 0) {
			*cause = xstrdup(n == 0 ? "the running wsbridge closed "
			    "the connection" : errno == EAGAIN ? "no answer "
			    "from the running wsbridge" : strerror(errno));
			free(line);
			return (NULL);
		}
		for (cm = CMSG_FIRSTHDR(&msg); cm != NULL;
		    cm = CMSG_NXTHDR(&msg, cm)) {
			if (cm->cmsg_level != SOL_SOCKET ||
			    cm->cmsg_type != SCM_RIGHTS)
				continue;
			k = (cm->cmsg_len - CMSG_LEN(0)) / sizeof (int);
			for (j = 0; j < k; j++) {
				memcpy(&got, CMSG_DATA(cm) + j * sizeof (int),
				    sizeof got);
				if (*nfds < room)
					fds[(*nfds)++] = got;
				else
					close(got);
			}
		}
		if (c == '\n')
			break;
		if (len == UPGRADE_LINE_MAX) {
			*cause = xstrdup("answer too long");
			free(line);
			return (NULL);
		}
		line = xreallocarray(line, len + 2, 1);
		line[len++] = c;
		line[len] = '\0';
	}
	return (line != NULL ? line : xstrdup(""));
}

static int
upgrade_send(int fd, const char *line, char **cause)
{
	size_t	len = strlen(line), off = 0;
	ssize_t	n;

	while (off < len) {
		if ((n = send(fd, line + off, len - off, MSG_NOSIGNAL)) == -1) {
			*cause = xasprintf("%s", strerror(errno));
			return (-1);
		}
		off += (size_t)n;
	}
	return (0);
}

/* The answer's error message, or NULL when its type is want. */
static char *
upgrade_check(json_t *o, const char *want)
{
	const char	*type = json_string_value(json_object_get(o, "type"));
	const char	*m;

	if (type != NULL && strcmp(type, want) == 0)
		return (NULL);
	m = json_string_value(json_object_get(o, "message"));
	return (xasprintf("the running wsbridge answered %s%s%s",
	    type != NULL ? type : "something else", m != NULL ? ": " : "",
	    m != NULL ? m : ""));
}

void
upgrade_free(struct upgrade *u)
{
	size_t	i;

	if (u == NULL)
		return;
	for (i = 0; i < u->n; i++) {
		close(u->s[i].fd);
		free(u->s[i].spec);
	}
	free(u->s);
	if (u->ctl_fd != -1)
		close(u->ctl_fd);
	if (u->admin_fd != -1)
		close(u->admin_fd);
	if (u->conn != -1)
		close(u->conn);
	free(u);
}

struct upgrade *
upgrade_take(const char *path, char **cause)
{
	struct upgrade		*u;
	struct sockaddr_un	 sun;
	struct timeval		 tv = { UPGRADE_TIMEOUT_S, 0 };
	json_t			*o = NULL, *ls, *e, *ex;
	json_error_t		 err;
	const char		*name;
	char			*line, *why = NULL;
	int			 fds[UPGRADE_FDS];
	size_t			 nfds = 0, i, k, nex;

	u = xcalloc(1, sizeof *u);
	u->ctl_fd = -1;
	u->admin_fd = -1;
	memset(&sun, 0, sizeof sun);
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof sun.sun_path) {
		why = xstrdup("path too long");
		goto fail;
	}
	memcpy(sun.sun_path, path, strlen(path));
	if ((u->conn = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1 ||
	    setsockopt(u->conn, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) ==
	    -1 || connect(u->conn, (struct sockaddr *)&sun, sizeof sun) == -1) {
		why = xasprintf("%s (is a wsbridge running with this control "
		    "socket?)", strerror(errno));
		goto fail;
	}
	/* The hello first: the sockets come on an empty line. */
	nfds = 0;
	if ((line = upgrade_readln(u->conn, fds, &nfds, &why)) == NULL)
		goto fail;
	free(line);
	if (upgrade_send(u->conn, "{\"cmd\":\"upgrade\"}\n", &why) == -1)
		goto fail;
	nfds = nitems(fds);
	if ((line = upgrade_readln(u->conn, fds, &nfds, &why)) == NULL)
		goto fail;
	o = json_loads(line, 0, &err);
	free(line);
	if (o == NULL) {
		why = xasprintf("bad answer: %s", err.text);
		goto fail;
	}
	if ((why = upgrade_check(o, "upgrade")) != NULL)
		goto fail;
	ls = json_object_get(o, "listeners");
	ex = json_object_get(o, "extra");
	nex = json_is_array(ex) ? json_array_size(ex) : 0;
	if (!json_is_array(ls) || nfds != json_array_size(ls) + 1 + nex) {
		why = xasprintf("%zu sockets for %zu listeners", nfds,
		    json_is_array(ls) ? json_array_size(ls) : 0);
		goto fail;
	}
	/* After the listeners: other sockets, by name. */
	for (i = 0; i < nex; i++) {
		k = json_array_size(ls) + 1 + i;
		name = json_string_value(json_array_get(ex, i));
		if (name != NULL && strcmp(name, "admin") == 0 &&
		    u->admin_fd == -1)
			u->admin_fd = fds[k];
		else
			close(fds[k]);
	}
	nfds -= nex;
	u->pid = (long)json_integer_value(json_object_get(o, "pid"));
	u->ctl_fd = fds[0];
	u->s = xcalloc(MAX(nfds - 1, 1), sizeof *u->s);
	for (i = 1; i < nfds; i++, u->n++) {
		e = json_array_get(ls, i - 1);
		u->s[u->n].fd = fds[i];
		u->s[u->n].spec = xstrdup(json_string_value(json_object_get(e,
		    "spec")) != NULL ? json_string_value(json_object_get(e,
		    "spec")) : "");
		u->s[u->n].worker = (unsigned)json_integer_value(
		    json_object_get(e, "worker"));
		u->s[u->n].sslen = sizeof u->s[u->n].ss;
		if (getsockname(fds[i], (struct sockaddr *)&u->s[u->n].ss,
		    &u->s[u->n].sslen) == -1)
			u->s[u->n].sslen = 0;
	}
	nfds = 0;
	json_decref(o);
	return (u);
fail:
	for (i = 0; i < nfds; i++)
		close(fds[i]);
	json_decref(o);
	*cause = xasprintf("upgrade from %s: %s", path, why);
	free(why);
	upgrade_free(u);
	return (NULL);
}

/* Whether two bound addresses are the same (family, address, port). */
static int
upgrade_same_addr(const struct sockaddr *a, const struct sockaddr *b)
{
	const struct sockaddr_in	*a4, *b4;
	const struct sockaddr_in6	*a6, *b6;

	if (a->sa_family != b->sa_family)
		return (0);
	if (a->sa_family == AF_INET) {
		a4 = (const struct sockaddr_in *)a;
		b4 = (const struct sockaddr_in *)b;
		return (a4->sin_port == b4->sin_port &&
		    a4->sin_addr.s_addr == b4->sin_addr.s_addr);
	}
	if (a->sa_family == AF_INET6) {
		a6 = (const struct sockaddr_in6 *)a;
		b6 = (const struct sockaddr_in6 *)b;
		return (a6->sin6_port == b6->sin6_port &&
		    memcmp(&a6->sin6_addr, &b6->sin6_addr,
		    sizeof a6->sin6_addr) == 0);
	}
	if (a->sa_family == AF_UNIX)
		return (strcmp(((const struct sockaddr_un *)a)->sun_path,
		    ((const struct sockaddr_un *)b)->sun_path) == 0);
	return (0);
}

/*
 * Whether two listen lines are the same one: as written, but for the
 * descriptor a "systemd:NAME#FD" line got (config.c), which differs in a
 * process the service manager did not start.
 */
static int
upgrade_same_line(const char *a, const char *b)
{
	size_t	la, lb;

	if (strncmp(a, "systemd", 7) != 0 || strncmp(b, "systemd", 7) != 0)
		return (strcmp(a, b) == 0);
	la = strcspn(a, "#");
	lb = strcspn(b, "#");
	if (la != lb || strncmp(a, b, la) != 0 || a[la] != '#' ||
	    b[lb] != '#')
		return (0);
	return (strcmp(a + la + strcspn(a + la, " "),
	    b + lb + strcspn(b + lb, " ")) == 0);
}

/* Whether socket s is bound where lc would bind (not for port 0). */
static int
upgrade_binds_like(const struct upgrade_sock *s, const struct listen_cfg *lc)
{
	struct addrinfo		 hints, *res, *ai;
	struct sockaddr_un	 sun;
	int			 same = 0;

	if (s->sslen == 0)
		return (0);
	if (lc->unix_path != NULL) {
		memset(&sun, 0, sizeof sun);
		sun.sun_family = AF_UNIX;
		snprintf(sun.sun_path, sizeof sun.sun_path, "%s",
		    lc->unix_path);
		return (upgrade_same_addr((const struct sockaddr *)&s->ss,
		    (struct sockaddr *)&sun));
	}
	if (lc->port == NULL || strcmp(lc->port, "0") == 0)
		return (0);
	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	if (getaddrinfo(lc->host, lc->port, &hints, &res) != 0)
		return (0);
	for (ai = res; ai != NULL && !same; ai = ai->ai_next)
		same = upgrade_same_addr((const struct sockaddr *)&s->ss,
		    ai->ai_addr);
	freeaddrinfo(res);
	return (same);
}

void
upgrade_assign(struct upgrade *u, struct config *cfg, unsigned worker,
    unsigned nworkers)
{
	struct listen_cfg	*lc;
	struct upgrade_sock	*a, *b;
	size_t			 i, k, g, j, m, n, ng, *idx, *ord;
	char			*grouped;
	int			 by_spec, take;

	idx = xcalloc(MAX(u->n, 1), sizeof *idx);
	ord = xcalloc(MAX(u->n, 1), sizeof *ord);
	grouped = xcalloc(MAX(u->n, 1), 1);
	for (i = 0; i < cfg->nlistens; i++) {
		lc = &cfg->listens[i];
		if (lc->inherit_fd != -1)
			continue;	/* a socket of its own */
		/* Its sockets: the same line's, else bound where it binds. */
		for (by_spec = 1, n = 0; by_spec >= 0 && n == 0; by_spec--) {
			for (k = 0; k < u->n; k++) {
				if (by_spec ? upgrade_same_line(u->s[k].spec,
				    lc->spec) : upgrade_binds_like(&u->s[k],
				    lc))
					idx[n++] = k;
			}
		}
		if (n == 0)
			continue;
		free(lc->taken_fds);
		lc->taken_fds = xcalloc(n, sizeof *lc->taken_fds);
		lc->ntaken = 0;
		memset(grouped, 0, n);
		/*
		 * Per bound address (a wildcard line has an IPv4 and an IPv6
		 * socket, each worker one of each), its ng sockets shared out
		 * over nworkers; a unix socket goes to the first worker, as
		 * always.
		 */
		for (g = 0, m = 0; g < n; g++) {
			if (grouped[g])
				continue;
			a = &u->s[idx[g]];
			for (j = g; j < n; j++) {
				b = &u->s[idx[j]];
				if (!grouped[j] && (j == g || upgrade_same_addr(
				    (struct sockaddr *)&a->ss,
				    (struct sockaddr *)&b->ss))) {
					grouped[j] = 1;
					ord[m++] = idx[j];
				}
			}
		}
		memcpy(idx, ord, n * sizeof *idx);
		for (g = 0; g < n; g = k) {
			a = &u->s[idx[g]];
			for (k = g + 1; k < n && upgrade_same_addr(
			    (struct sockaddr *)&a->ss,
			    (struct sockaddr *)&u->s[idx[k]].ss); k++)
				;
			ng = k - g;
			for (j = g; j < k; j++) {
				if (lc->unix_path != NULL)
					take = worker == 0;
				else if (ng >= nworkers)
					take = (j - g) % nworkers == worker;
				else
					take = j - g == worker % ng;
				if (take) {
					lc->taken_fds[lc->ntaken++] =
					    u->s[idx[j]].fd;
					u->s[idx[j]].used = 1;
				}
			}
		}
		if (lc->ntaken == 0) {
			free(lc->taken_fds);
			lc->taken_fds = NULL;
		}
	}
	free(grouped);
	free(ord);
	free(idx);
}

int
upgrade_done(struct upgrade *u, char **cause)
{
	json_t		*o;
	json_error_t	 err;
	char		*line, *why = NULL;
	size_t		 nfds = 0;

	if (upgrade_send(u->conn, "{\"cmd\":\"upgrade-done\"}\n", &why) ==
	    -1 || (line = upgrade_readln(u->conn, NULL, &nfds, &why)) ==
	    NULL) {
		*cause = xasprintf("telling pid %ld to drain: %s", u->pid, why);
		free(why);
		return (-1);
	}
	o = json_loads(line, 0, &err);
	free(line);
	if (o == NULL || (why = upgrade_check(o, "upgrade-done")) != NULL) {
		*cause = xasprintf("telling pid %ld to drain: %s", u->pid,
		    o == NULL ? err.text : why);
		free(why);
		json_decref(o);
		return (-1);
	}
	json_decref(o);
	close(u->conn);
	u->conn = -1;
	return (0);
}
