/*
 * proxyproto.h -- the PROXY protocol (HAProxy's proxy-protocol.txt,
 * versions 1 and 2): a parser for the header a load balancer puts before
 * a client's bytes, and the header we put before ours to a backend. Pure
 * functions over bytes, like the rest of the core.
 */
#ifndef PROXYPROTO_H
#define PROXYPROTO_H

#include <sys/socket.h>
#include <sys/types.h>
#include <stddef.h>
#include <stdint.h>

/* Which versions a listener takes (proxy-protocol=v1|v2|any). */
#define PROXYPROTO_V1		0x1
#define PROXYPROTO_V2		0x2
#define PROXYPROTO_ANY		(PROXYPROTO_V1 | PROXYPROTO_V2)

/* The longest v1 line, CRLF included (the spec's own bound). */
#define PROXYPROTO_V1_MAX	107
/*
 * The longest v2 header we take, fixed part and TLVs included. The
 * length field allows 64 KiB of TLVs per connection that a balancer
 * (or whoever reaches a trusted address) makes us hold; real balancers'
 * TLVs (ALPN, SNI, TLS facts, a cloud's endpoint ids) are a few hundred
 * bytes.
 */
#define PROXYPROTO_V2_MAX	4096
/* Room for any header proxyproto_parse() takes or _build() writes. */
#define PROXYPROTO_MAX		PROXYPROTO_V2_MAX

/* What a complete header said. */
struct proxyproto_hdr {
	int			 version;	/* 1 or 2 */
	/*
	 * No client address to take: a v2 LOCAL command (the balancer's
	 * own health check), v1 UNKNOWN, or v2 AF_UNSPEC or AF_UNIX. The
	 * connection keeps the socket's own addresses.
	 */
	int			 local;
	struct sockaddr_storage	 src;		/* the client (not local) */
	struct sockaddr_storage	 dst;		/* what it connected to */
	unsigned		 ntlvs;		/* v2 TLVs seen (skipped) */
};

/*
 * Parses the header at the start of buf[0..len), accepting the versions
 * in the mask versions (PROXYPROTO_V1, _V2). Returns the header's length
 * (> 0; the client's own bytes follow it) with *h filled; 0 when buf is a
 * valid beginning of a header and more bytes are needed (every byte given
 * belongs to the header then, so a reader may consume all of them); -1
 * when the bytes cannot begin or form an accepted header, with *why a
 * static reason for the log. A split anywhere gives the same answer as
 * the whole.
 */
ssize_t	proxyproto_parse(const uint8_t *buf, size_t len, unsigned versions,
	    struct proxyproto_hdr *h, const char **why);

/* TLS facts of the client's connection, for v2's TLVs. */
struct proxyproto_tls {
	const char	*version;	/* "TLSv1.3" */
	const char	*cipher;	/* NULL: unknown */
	const char	*alpn;		/* agreed protocol, or NULL */
	const char	*sni;		/* server name the client asked, or NULL */
	const char	*cn;		/* client certificate's CN, or NULL */
	int		 cert;		/* the client presented a certificate */
};

/*
 * Writes a version (1 or 2) header saying that the client src connected
 * to dst, into buf (size bytes, PROXYPROTO_MAX is enough). Addresses that
 * are not IPv4 or IPv6 give v1 UNKNOWN and a v2 PROXY with AF_UNSPEC; an
 * IPv4 and an IPv6 address together are written as IPv6 (v4-mapped). For
 * v2 with tls set: PP2_TYPE_ALPN, PP2_TYPE_AUTHORITY (the SNI) and
 * PP2_TYPE_SSL with its version, CN and cipher subtypes, for what is
 * known. Returns the length, or 0 when size is too small.
 */
size_t	proxyproto_build(int version, const struct sockaddr_storage *src,
	    const struct sockaddr_storage *dst,
	    const struct proxyproto_tls *tls, uint8_t *buf, size_t size);

#endif
