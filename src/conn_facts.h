/*
 * conn_facts.h -- what is known of one WebSocket connection when it opens:
 * both ends' addresses, the request and the handshake's answer, TLS and
 * HTTP, the route and the backend connection. Filled once (the transport,
 * then the tunnel at connect) and read from there by the log lines, the
 * frame log's sessions table, the control socket and, through it, the
 * dashboard. A new fact is a field here, where it is filled, and a line in
 * each reader's table (framelog_db.c, control.c, ui/view_detail.c).
 */
#ifndef CONN_FACTS_H
#define CONN_FACTS_H

#include <sys/socket.h>
#include <stddef.h>
#include <stdint.h>

struct ws_offer;

struct conn_facts {
	/* The client's connection (h1conn, h2conn). */
	struct sockaddr_storage	 peer;		/* the client (as a PROXY header
						   names it, when one came) */
	struct sockaddr_storage	 local;		/* the listener it reached */
	struct sockaddr_storage	 via;		/* the proxy that named peer (a
						   PROXY header's sender, or a
						   trusted proxy's
						   X-Forwarded-For); AF_UNSPEC:
						   none */
	const char		*proto;		/* "h1", "h2" */
	const char		*http_version;	/* "1.1", "2" */
	int64_t			 h2_stream_id;	/* 0: HTTP/1.1 */
	const char		*tls_version;	/* "TLSv1.3"; NULL: plain */
	const char		*tls_cipher, *alpn, *sni;
	const char		*tls_client_cn;	/* the client certificate's CN */

	/* The request and the handshake's answer. */
	const char		*path;		/* without the query */
	const char		*query;		/* without '?' */
	const char		*host;		/* Host or :authority */
	const char		*origin, *user_agent;
	const char		*protocols;	/* Sec-WebSocket-Protocol offered */
	const char		*subprotocol;	/* agreed */
	const char		*extensions_offered;
	const char		*extensions;	/* agreed */

	/* The route (as configured) and its backend (conn_facts_backend). */
	const char		*route;		/* its path */
	const char		*backend;	/* its target, "host:port" */
	struct sockaddr_storage	 backend_peer;	/* AF_UNSPEC: none */
	struct sockaddr_storage	 backend_local;	/* our end: the backend's peer */
	int64_t			 backend_connect_ns;	/* -1: none */

	int			 refs;		/* conn_facts_new's copies */
};

/*
 * Fills what the client's request says (path, query, host, origin, user
 * agent, offers) and the HTTP version into f, borrowing from o; the rest
 * of f (the addresses the transport knows) stays.
 */
void	conn_facts_request(struct conn_facts *f, const struct ws_offer *o);

/*
 * The request came from a proxy in trusted (n ranges): when f->peer is
 * one, the client its Forwarded or X-Forwarded-For header names
 * (forwarded_client()) becomes f->peer and the proxy f->via. Otherwise f
 * stays: anyone else's header is ignored.
 */
struct cidr;
void	conn_facts_forwarded(struct conn_facts *f, const struct ws_offer *o,
	    const struct cidr *trusted, size_t n);

/*
 * A copy of f whose strings live with it (f's are borrowed). Returns it
 * with one reference; conn_facts_free() drops one.
 */
struct conn_facts *conn_facts_new(const struct conn_facts *f);

/* Another reference to f, for a reader that may outlive its maker. */
struct conn_facts *conn_facts_ref(struct conn_facts *f);

/* Drops a reference; the last frees f. conn_facts_free(NULL) is a no-op. */
void	conn_facts_free(struct conn_facts *f);

/*
 * The backend is connected on fd (connect_ns after the start): its address
 * (unix_path for a unix socket, as configured) and ours, which the backend
 * sees as its peer (an unnamed unix socket for a unix backend). Only before
 * f is handed to another thread (the frame log's session open): readers
 * never see it change.
 */
void	conn_facts_backend(struct conn_facts *f, int fd, const char *unix_path,
	    uint64_t connect_ns);

/*
 * The PROXY header (version 1 or 2) that tells a backend who the client
 * is: peer and local, and for version 2 on a TLS connection the ALPN,
 * SNI and TLS TLVs. Writes it into buf (size bytes; PROXYPROTO_MAX is
 * enough) and returns its length, 0 when it does not fit.
 */
size_t	conn_facts_proxy_header(const struct conn_facts *f, int version,
	    uint8_t *buf, size_t size);

/* Room for any address conn_addr_str() writes. */
#define CONN_ADDRSTRLEN	128

/*
 * ss as text: "192.0.2.1:80", "[2001:db8::1]:80", "unix:/path", "unix" for
 * an unnamed unix socket. Returns buf, or NULL when ss is AF_UNSPEC.
 */
const char	*conn_addr_str(const struct sockaddr_storage *ss, char *buf,
		    size_t len);
/* The host part alone, IPv6 without brackets; NULL when AF_UNSPEC. */
const char	*conn_addr_host(const struct sockaddr_storage *ss, char *buf,
		    size_t len);
/* The port, or -1 when ss has none (unix, AF_UNSPEC). */
int		 conn_addr_port(const struct sockaddr_storage *ss);

#endif
