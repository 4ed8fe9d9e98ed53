/* conn_facts.c -- one connection's facts: filled once, read by value. */
#include "wsb_autoconf.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cidr.h"
#include "conn_facts.h"
#include "forwarded.h"
#include "handshake.h"
#include "proxyproto.h"
#include "token.h"
#include "util.h"

/* The string facts, which conn_facts_new() copies. */
static const size_t conn_facts_strs[] = {
	offsetof(struct conn_facts, proto),
	offsetof(struct conn_facts, http_version),
	offsetof(struct conn_facts, tls_version),
	offsetof(struct conn_facts, tls_cipher),
	offsetof(struct conn_facts, alpn),
	offsetof(struct conn_facts, sni),
	offsetof(struct conn_facts, tls_client_cn),
	offsetof(struct conn_facts, path),
	offsetof(struct conn_facts, query),
	offsetof(struct conn_facts, host),
	offsetof(struct conn_facts, origin),
	offsetof(struct conn_facts, user_agent),
	offsetof(struct conn_facts, protocols),
	offsetof(struct conn_facts, subprotocol),
	offsetof(struct conn_facts, extensions_offered),
	offsetof(struct conn_facts, extensions),
	offsetof(struct conn_facts, route),
	offsetof(struct conn_facts, backend),
};

static const char **
conn_facts_str(struct conn_facts *f, size_t off)
{
	return ((const char **)(void *)((char *)f + off));
}

void
conn_facts_request(struct conn_facts *f, const struct ws_offer *o)
{
	f->path = o->path;
	f->query = o->query;
	f->host = o->host;
	f->origin = o->origin;
	f->user_agent = o->user_agent;
	f->protocols = o->protocols;
	f->extensions_offered = o->extensions;
	f->http_version = o->http_version == 20 ? "2" : "1.1";
	f->backend_connect_ns = -1;
}

void
conn_facts_forwarded(struct conn_facts *f, const struct ws_offer *o,
    const struct cidr *trusted, size_t n)
{
	struct sockaddr_storage	client;

	if (n == 0 || !cidr_match(trusted, n, (struct sockaddr *)&f->peer))
		return;
	if (!forwarded_client(o->forwarded, o->forwarded_for, trusted, n,
	    &client))
		return;
	f->via = f->peer;
	f->peer = client;
}

struct conn_facts *
conn_facts_new(const struct conn_facts *in)
{
	struct conn_facts	*f;
	const char		*s;
	size_t			 i, len = 0, n;
	char			*p;

	for (i = 0; i < nitems(conn_facts_strs); i++)
		if ((s = *(const char *const *)(const void *)((const char *)in +
		    conn_facts_strs[i])) != NULL)
			len += strlen(s) + 1;
	/* One allocation: the struct, then its strings. */
	f = xmalloc(sizeof *f + len);
	*f = *in;
	f->refs = 1;
	p = (char *)(f + 1);
	for (i = 0; i < nitems(conn_facts_strs); i++) {
		if ((s = *conn_facts_str(f, conn_facts_strs[i])) == NULL)
			continue;
		n = strlen(s) + 1;
		memcpy(p, s, n);
		/* Whatever reads the facts later never sees a whole token. */
		if (conn_facts_strs[i] == offsetof(struct conn_facts, query))
			token_mask_query(p);
		*conn_facts_str(f, conn_facts_strs[i]) = p;
		p += n;
	}
	return (f);
}

struct conn_facts *
conn_facts_ref(struct conn_facts *f)
{
	__atomic_add_fetch(&f->refs, 1, __ATOMIC_RELAXED);
	return (f);
}

void
conn_facts_free(struct conn_facts *f)
{
	if (f != NULL && __atomic_sub_fetch(&f->refs, 1, __ATOMIC_ACQ_REL) == 0)
		free(f);
}

void
conn_facts_backend(struct conn_facts *f, int fd, const char *unix_path,
    uint64_t connect_ns)
{
	struct sockaddr_un	*sun = (struct sockaddr_un *)&f->backend_peer;
	socklen_t		 len = sizeof f->backend_peer;

	f->backend_connect_ns = (int64_t)connect_ns;
	/* An unnamed unix socket sets no more than its family. */
	memset(&f->backend_local, 0, sizeof f->backend_local);
	if (fd != -1 && getsockname(fd, (struct sockaddr *)&f->backend_local,
	    &len) == -1)
		memset(&f->backend_local, 0, sizeof f->backend_local);
	len = sizeof f->backend_peer;
	if (unix_path != NULL) {
		/* The path as configured, not as the server bound it. */
		memset(sun, 0, sizeof *sun);
		sun->sun_family = AF_UNIX;
		snprintf(sun->sun_path, sizeof sun->sun_path, "%s", unix_path);
	} else if (fd == -1 || getpeername(fd,
	    (struct sockaddr *)&f->backend_peer, &len) == -1)
		memset(&f->backend_peer, 0, sizeof f->backend_peer);
}

size_t
conn_facts_proxy_header(const struct conn_facts *f, int version,
    uint8_t *buf, size_t size)
{
	struct proxyproto_tls	tls;

	memset(&tls, 0, sizeof tls);
	tls.version = f->tls_version;
	tls.cipher = f->tls_cipher;
	tls.alpn = f->alpn;
	tls.sni = f->sni;
	tls.cn = f->tls_client_cn;
	tls.cert = f->tls_client_cn != NULL;
	return (proxyproto_build(version, &f->peer, &f->local,
	    f->tls_version != NULL ? &tls : NULL, buf, size));
}

const char *
conn_addr_host(const struct sockaddr_storage *ss, char *buf, size_t len)
{
	const struct sockaddr_un	*sun = (const struct sockaddr_un *)ss;

	switch (ss->ss_family) {
	case AF_INET:
		return (inet_ntop(AF_INET, &((const struct sockaddr_in *)ss)->
		    sin_addr, buf, len));
	case AF_INET6:
		return (inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)ss)->
		    sin6_addr, buf, len));
	case AF_UNIX:
		if (sun->sun_path[0] == '\0')
			snprintf(buf, len, "unix");
		else
			snprintf(buf, len, "unix:%.*s",
			    (int)sizeof sun->sun_path, sun->sun_path);
		return (buf);
	default:
		return (NULL);
	}
}

int
conn_addr_port(const struct sockaddr_storage *ss)
{
	switch (ss->ss_family) {
	case AF_INET:
		return (ntohs(((const struct sockaddr_in *)ss)->sin_port));
	case AF_INET6:
		return (ntohs(((const struct sockaddr_in6 *)ss)->sin6_port));
	default:
		return (-1);
	}
}

const char *
conn_addr_str(const struct sockaddr_storage *ss, char *buf, size_t len)
{
	char	host[INET6_ADDRSTRLEN];

	switch (ss->ss_family) {
	case AF_INET:
	case AF_INET6:
		if (conn_addr_host(ss, host, sizeof host) == NULL)
			return (NULL);
		snprintf(buf, len, ss->ss_family == AF_INET6 ? "[%s]:%d" :
		    "%s:%d", host, conn_addr_port(ss));
		return (buf);
	default:
		return (conn_addr_host(ss, buf, len));
	}
}
