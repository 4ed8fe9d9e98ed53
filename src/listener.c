/*
 * listener.c -- bound, listening sockets that hand accepted clients to
 * h1conn, with the TLS context of the listen line when it has one.
 */
#include "wsb_autoconf.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/listener.h>

#include <openssl/ssl.h>

#include "cidr.h"
#include "config.h"
#include "h1conn.h"
#include "listener.h"
#include "log.h"
#include "proxyproto.h"
#include "tls.h"
#include "util.h"
#include "worker.h"

static void
listener_accept(struct evconnlistener *evl, evutil_socket_t fd,
    struct sockaddr *sa, int salen, void *arg)
{
	struct listener	*l = arg;

	if (l->pp.versions != 0)
		proxyin_accept(l->w, &l->pp, fd, sa, (socklen_t)salen);
	else
		h1conn_accept(l->w, fd, sa, (socklen_t)salen, l->tls,
		    l->tls_auto, NULL);
}

/* lc's proxy-protocol= and proxy-from=, copied for the listener's life. */
static void
listener_proxy_init(struct listener *l, const struct listen_cfg *lc)
{
	TAILQ_INIT(&l->pp.pending);
	l->pp.tls = &l->tls;
	l->pp.tls_auto = l->tls_auto;
	l->pp.addr = l->addr;
	if ((l->pp.versions = lc->proxy) == 0)
		return;
	l->pp_from = xreallocarray(NULL, MAX(lc->nproxy_from, 1),
	    sizeof *l->pp_from);
	memcpy(l->pp_from, lc->proxy_from, lc->nproxy_from *
	    sizeof *l->pp_from);
	l->pp.from = l->pp_from;
	l->pp.nfrom = lc->nproxy_from;
}

static void
listener_resume(evutil_socket_t fd, short what, void *arg)
{
	struct listener	*l = arg;

	evconnlistener_enable(l->evl);
}

static void
listener_error(struct evconnlistener *evl, void *arg)
{
	struct listener	*l = arg;
	struct timeval	 tv = { 0, 250000 };
	int		 err = EVUTIL_SOCKET_ERROR();

	/*
	 * Out of descriptors (EMFILE, ENFILE, ENOBUFS): the pending client
	 * stays in the backlog and would wake us forever. Pause accepting
	 * for a moment and keep serving the connections we have.
	 */
	log_warn("accept on %s: %s; pausing accepts for 250 ms", l->addr,
	    evutil_socket_error_to_string(err));
	evconnlistener_disable(l->evl);
	evtimer_add(l->ev_resume, &tv);
}

static void
listener_addr_str(const struct sockaddr *sa, char *buf, size_t len)
{
	char	host[INET6_ADDRSTRLEN];

	if (sa->sa_family == AF_UNIX) {
		const struct sockaddr_un *sun = (const struct sockaddr_un *)sa;

		snprintf(buf, len, "unix:%.*s", (int)sizeof sun->sun_path,
		    sun->sun_path);
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;

		inet_ntop(AF_INET6, &s6->sin6_addr, host, sizeof host);
		snprintf(buf, len, "[%s]:%u", host, ntohs(s6->sin6_port));
	} else {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)sa;

		inet_ntop(AF_INET, &s4->sin_addr, host, sizeof host);
		snprintf(buf, len, "%s:%u", host, ntohs(s4->sin_port));
	}
}

/*
 * Binds fd to the unix socket path ai names with mode: a stale socket
 * there (from a run that did not end cleanly) is removed first, as
 * websockify does, but never a file of another type. The socket is made
 * with mode 0600 and then widened to mode, so no moment sees it wider.
 * Returns fd, or -1 with errno set (fd closed).
 */
static int
listener_bind_unix(int fd, const struct addrinfo *ai, unsigned mode)
{
	const struct sockaddr_un	*sun = (const struct sockaddr_un *)
					    (const void *)ai->ai_addr;
	struct stat			 sb;
	mode_t				 old;
	int				 rc, saved;

	if (lstat(sun->sun_path, &sb) == 0 && S_ISSOCK(sb.st_mode))
		(void)unlink(sun->sun_path);
	old = umask(0177);
	rc = bind(fd, ai->ai_addr, ai->ai_addrlen);
	umask(old);
	if (rc == -1 || chmod(sun->sun_path, (mode_t)mode) == -1 ||
	    listen(fd, 1024) == -1) {
		saved = errno;
		close(fd);
		errno = saved;
		return (-1);
	}
	return (fd);
}

/*
 * "fd:N": a copy of the listening socket the process was given (inetd's
 * "wait" mode, systemd's socket activation), so that stdin going to
 * /dev/null (daemon) or being closed leaves it alone. Returns the copy, or
 * -1 with errno set (ENOTSOCK or EINVAL when it is no listening socket).
 */
static int
listener_inherit(int given)
{
	socklen_t	len = sizeof (int);
	int		fd, yes = 0, saved;

	if (getsockopt(given, SOL_SOCKET, SO_ACCEPTCONN, &yes, &len) == -1)
		return (-1);
	if (!yes) {
		errno = EINVAL;
		return (-1);
	}
	if ((fd = fcntl(given, F_DUPFD_CLOEXEC, 3)) == -1)
		return (-1);
	if (evutil_make_socket_nonblocking(fd) == -1) {
		saved = errno;
		close(fd);
		errno = saved;
		return (-1);
	}
	return (fd);
}

/*
 * Binds one address; shared (SO_REUSEPORT) when more than one worker
 * listens on it. Returns the socket, or -1 with errno set.
 */
static int
listener_bind(const struct addrinfo *ai, int reuseport, unsigned unix_mode)
{
	int	fd, one = 1, saved;

	fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, ai->ai_protocol);
	if (fd == -1)
		return (-1);
	if (ai->ai_family == AF_UNIX)
		return (listener_bind_unix(fd, ai, unix_mode));
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) == -1)
		goto fail;
	if (reuseport && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one,
	    sizeof one) == -1)
		goto fail;
	/* Our [::] socket must not take the IPv4 port its sibling binds. */
	if (ai->ai_family == AF_INET6 &&
	    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one) == -1)
		goto fail;
	if (bind(fd, ai->ai_addr, ai->ai_addrlen) == -1)
		goto fail;
	if (listen(fd, 1024) == -1)
		goto fail;
	return (fd);
fail:
	saved = errno;
	close(fd);
	errno = saved;
	return (-1);
}

void
listener_addrs_get(struct worker *w, struct listener_addrs *out)
{
	struct listener	*l;

	out->n = 0;
	TAILQ_FOREACH(l, &w->listeners, entry)
		out->n++;
	out->a = xcalloc(MAX(out->n, 1), sizeof *out->a);
	out->n = 0;
	TAILQ_FOREACH(l, &w->listeners, entry) {
		out->a[out->n].spec = xstrdup(l->spec);
		out->a[out->n].ss = l->ss;
		out->a[out->n].sslen = l->sslen;
		out->n++;
	}
}

void
listener_addrs_clear(struct listener_addrs *la)
{
	size_t	i;

	for (i = 0; i < la->n; i++)
		free(la->a[i].spec);
	free(la->a);
	la->a = NULL;
	la->n = 0;
}

/* like's addresses for spec as an addrinfo list (caller frees both). */
static struct addrinfo *
listener_like(const struct listener_addrs *like, const char *spec)
{
	struct addrinfo	*ai, *res = NULL, **tail = &res;
	size_t		 i;

	for (i = 0; i < like->n; i++) {
		if (strcmp(like->a[i].spec, spec) != 0)
			continue;
		ai = xcalloc(1, sizeof *ai);
		ai->ai_family = like->a[i].ss.ss_family;
		ai->ai_socktype = SOCK_STREAM;
		ai->ai_addr = (struct sockaddr *)&like->a[i].ss;
		ai->ai_addrlen = like->a[i].sslen;
		*tail = ai;
		tail = &ai->ai_next;
	}
	return (res);
}

static void
listener_like_free(struct addrinfo *ai)
{
	struct addrinfo	*next;

	for (; ai != NULL; ai = next) {
		next = ai->ai_next;
		free(ai);
	}
}

/* own: res came from listener_like() or listener_unix_ai(). */
static void
listener_freeaddrinfo(struct addrinfo *res, int own)
{
	if (own)
		listener_like_free(res);
	else
		freeaddrinfo(res);
}

/* A unix socket path as a one-entry addrinfo list (listener_like_free). */
static struct addrinfo *
listener_unix_ai(const char *path)
{
	struct {
		struct addrinfo		ai;
		struct sockaddr_un	sun;
	}	*u;

	u = xcalloc(1, sizeof *u);
	u->sun.sun_family = AF_UNIX;
	snprintf(u->sun.sun_path, sizeof u->sun.sun_path, "%s", path);
	u->ai.ai_family = AF_UNIX;
	u->ai.ai_socktype = SOCK_STREAM;
	u->ai.ai_addr = (struct sockaddr *)&u->sun;
	u->ai.ai_addrlen = sizeof u->sun;
	return (&u->ai);
}

/*
 * Given sockets as an addrinfo list for listener_open(): AF_UNSPEC
 * entries ("take it"), each with the descriptor in ai_protocol. Freed
 * with listener_like_free().
 */
static struct addrinfo *
listener_taken_ai(const int *fds, size_t n)
{
	struct addrinfo	*res = NULL, **tail = &res;
	size_t		 i;

	for (i = 0; i < n; i++) {
		*tail = listener_unix_ai("");
		(*tail)->ai_family = AF_UNSPEC;
		(*tail)->ai_protocol = fds[i];
		tail = &(*tail)->ai_next;
	}
	return (res);
}

int
listener_open(struct worker *w, const struct listen_cfg *lc,
    const struct listener_addrs *like, char **cause)
{
	struct addrinfo		 hints, *res = NULL, *ai;
	struct sockaddr_storage	 ss;
	socklen_t		 sslen;
	struct listener		*l;
	SSL_CTX			*tls = NULL;
	int			 fd, rc, opened = 0;
	int			 own = like != NULL || lc->unix_path != NULL ||
				    lc->inherit_fd != -1 || lc->ntaken > 0;

	if (lc->systemd && lc->inherit_fd == -1 && lc->ntaken == 0) {
		*cause = xasprintf("listen %s: the service manager passed no "
		    "socket (LISTEN_FDS): start wsbridge through its .socket "
		    "unit, or listen on an address", lc->spec);
		return (-1);
	}
	if (lc->tls) {
		char	*why;

		if ((tls = tls_server_ctx_new(lc, &why)) == NULL) {
			*cause = xasprintf("listen %s: %s", lc->spec, why);
			free(why);
			return (-1);
		}
	}
	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	if (lc->ntaken > 0) {
		/*
		 * Handed over by the wsbridge this one replaces (upgrade):
		 * this worker's share of its sockets for the line, whatever
		 * worker this is (server.c shared them out).
		 */
		res = listener_taken_ai(lc->taken_fds, lc->ntaken);
	} else if (lc->unix_path != NULL || lc->inherit_fd != -1) {
		/*
		 * SO_REUSEPORT does not spread a unix socket, and a given
		 * socket is one: worker 0 only.
		 */
		if (like != NULL) {
			SSL_CTX_free(tls);
			return (0);
		}
		res = listener_unix_ai(lc->unix_path != NULL ? lc->unix_path :
		    "");
		if (lc->inherit_fd != -1) {
			res->ai_family = AF_UNSPEC;	/* listener_bind: take it */
			res->ai_protocol = lc->inherit_fd;
		}
	} else if (like != NULL) {
		/* The first worker could not open it: it said why. */
		if ((res = listener_like(like, lc->spec)) == NULL) {
			SSL_CTX_free(tls);
			return (0);
		}
	} else if ((rc = getaddrinfo(lc->host, lc->port, &hints,
	    &res)) != 0) {
		*cause = xasprintf("listen %s: %s", lc->spec, gai_strerror(rc));
		SSL_CTX_free(tls);
		return (-1);
	}
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		if ((fd = ai->ai_family == AF_UNSPEC ?
		    listener_inherit(ai->ai_protocol) : listener_bind(ai,
		    worker_count(w) > 1, lc->unix_mode)) == -1) {
			/* A wildcard may lack IPv6 on this host; skip that half. */
			if (lc->host == NULL && ai->ai_family == AF_INET6 &&
			    (errno == EAFNOSUPPORT || errno == EADDRNOTAVAIL))
				continue;
			*cause = xasprintf("listen %s: %s", lc->spec,
			    strerror(errno));
			listener_freeaddrinfo(res, own);
			SSL_CTX_free(tls);
			return (-1);
		}
		l = xcalloc(1, sizeof *l);
		l->w = w;
		/* A taken one: the old process's file until it lets go. */
		l->unlink_path = lc->unix_path != NULL && lc->ntaken == 0;
		l->spec = xstrdup(lc->spec);
		sslen = sizeof ss;
		if (getsockname(fd, (struct sockaddr *)&ss, &sslen) == 0) {
			listener_addr_str((struct sockaddr *)&ss, l->addr,
			    sizeof l->addr);
			l->ss = ss;
			l->sslen = sslen;
		}
		l->evl = evconnlistener_new(w->base, listener_accept, l,
		    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, -1, fd);
		if (l->evl == NULL) {
			close(fd);
			*cause = xasprintf("listen %s: cannot watch socket",
			    lc->spec);
			free(l->spec);
			free(l);
			listener_freeaddrinfo(res, own);
			SSL_CTX_free(tls);
			return (-1);
		}
		evconnlistener_set_error_cb(l->evl, listener_error);
		l->ev_resume = evtimer_new(w->base, listener_resume, l);
		if (tls != NULL) {
			SSL_CTX_up_ref(tls);
			l->tls = tls;
			l->tls_auto = lc->tls_auto;
		}
		listener_proxy_init(l, lc);
		TAILQ_INSERT_TAIL(&w->listeners, l, entry);
		/* One line per address: the other workers share it. */
		if (w->index == 0)
			log_info("listening on %s%s%s", l->addr, tls == NULL ?
			    "" : lc->tls_auto ? " (tls or plain by the first "
			    "byte: h2, http/1.1)" : " (tls: h2, http/1.1)",
			    l->pp.versions == 0 ? "" :
			    l->pp.versions == PROXYPROTO_ANY ? " (PROXY v1/v2)" :
			    l->pp.versions == PROXYPROTO_V1 ? " (PROXY v1)" :
			    " (PROXY v2)");
		else
			log_debug("worker %u: listening on %s", w->index,
			    l->addr);
		opened++;
	}
	listener_freeaddrinfo(res, own);
	SSL_CTX_free(tls);	/* each listener holds its own reference */
	if (opened == 0) {
		*cause = xasprintf("listen %s: no usable address", lc->spec);
		return (-1);
	}
	return (0);
}

int
listener_tls_prepare(const struct listener *l, const struct listen_cfg *lc,
    SSL_CTX **tls, char **cause)
{
	char	*why;

	*tls = NULL;
	if (l->tls == NULL || !lc->tls)
		return (0);
	if ((*tls = tls_server_ctx_new(lc, &why)) == NULL) {
		*cause = xasprintf("listen %s: %s", lc->spec, why);
		free(why);
		return (-1);
	}
	return (0);
}

void
listener_tls_swap(struct listener *l, SSL_CTX *tls,
    const struct listen_cfg *lc)
{
	if (tls == NULL)
		return;
	/* Live connections hold their own reference to the old context. */
	SSL_CTX_free(l->tls);
	l->tls = tls;
	if (l->w->index == 0)
		log_info("%s: certificate reloaded from %s", l->addr, lc->cert);
}

void
listener_free(struct listener *l)
{
	const struct sockaddr_un	*sun;

	if (l == NULL)
		return;
	TAILQ_REMOVE(&l->w->listeners, l, entry);
	evconnlistener_free(l->evl);
	proxyin_free_all(&l->pp);
	free(l->pp_from);
	if (l->unlink_path && l->ss.ss_family == AF_UNIX) {
		/* Ours: nobody else may connect to it now. */
		sun = (const struct sockaddr_un *)(const void *)&l->ss;
		(void)unlink(sun->sun_path);
	}
	event_free(l->ev_resume);
	SSL_CTX_free(l->tls);
	free(l->spec);
	free(l);
}

int
listener_unix_socket(const char *path, unsigned mode)
{
	struct addrinfo	*ai = listener_unix_ai(path);
	int		 fd, saved;

	fd = listener_bind(ai, 0, mode);
	saved = errno;
	listener_like_free(ai);
	errno = saved;
	return (fd);
}
