/*
 * forwarded.h -- the client an HTTP reverse proxy names in X-Forwarded-For
 * or Forwarded (RFC 7239) for=, believed only as far as the hops are
 * trusted proxies (trusted-proxies).
 */
#ifndef FORWARDED_H
#define FORWARDED_H

#include <sys/socket.h>
#include <stddef.h>

struct cidr;

/*
 * The client: walking the hops of fwd (a Forwarded value; its for=
 * parameters) or, when fwd is NULL, of xff (X-Forwarded-For) from the
 * right, each trusted hop (in the n ranges of trusted) passes the request
 * on from the hop to its left; the first untrusted hop is the client (the
 * rightmost untrusted one: whatever a client writes to its left is its
 * own claim). When every hop is trusted the leftmost is the client; a hop
 * that is no address ("unknown", an obfuscated name, garbage) ends the
 * walk at the hop to its right. The caller has checked that the peer who
 * sent the header is trusted. Returns 1 with *out set (port 0 when the
 * hop gave none), or 0 when no hop is an address.
 */
int	forwarded_client(const char *fwd, const char *xff,
	    const struct cidr *trusted, size_t n, struct sockaddr_storage *out);

#endif
