/*
 * cidr.h -- address ranges ("127.0.0.0/8", "::1", "2001:db8::/32") and
 * whether a socket address falls in one: the trusted sources of PROXY
 * headers (proxy-from=) and of X-Forwarded-For (trusted-proxies).
 */
#ifndef CIDR_H
#define CIDR_H

#include <sys/socket.h>
#include <stddef.h>
#include <stdint.h>

struct cidr {
	int		family;		/* AF_INET or AF_INET6 */
	uint8_t		addr[16];	/* network order, host bits zero */
	unsigned	bits;		/* prefix length */
};

/*
 * Parses "ADDR" (a single host) or "ADDR/BITS" into *out. Host bits set
 * in ADDR are an error (a typo like 10.0.0.1/8 would trust more than the
 * writer meant). Returns 0, or -1 leaving *out alone.
 */
int	cidr_parse(const char *s, struct cidr *out);

/*
 * A comma-separated list of ranges into a new array (*out, caller frees;
 * *n entries). Returns 0, or -1 with *bad pointing into s at the first
 * item that is not a range (its length in *badlen).
 */
int	cidr_parse_list(const char *s, struct cidr **out, size_t *n,
	    const char **bad, size_t *badlen);

/*
 * Whether sa (AF_INET or AF_INET6; an IPv4-mapped IPv6 address counts as
 * its IPv4 address) is in any of the n ranges. Other families: 0.
 */
int	cidr_match(const struct cidr *v, size_t n, const struct sockaddr *sa);

#endif
