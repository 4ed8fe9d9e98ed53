/* cidr.c -- address ranges and membership, for the trusted-source lists. */
#include "wsb_autoconf.h"

#include <sys/socket.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include <stdlib.h>
#include <string.h>

#include "cidr.h"
#include "util.h"

int
cidr_parse(const char *s, struct cidr *out)
{
	struct cidr	 c;
	const char	*slash;
	char		 host[INET6_ADDRSTRLEN];
	size_t		 hlen, i;
	uint64_t	 bits;
	unsigned	 max;

	memset(&c, 0, sizeof c);
	slash = strchr(s, '/');
	hlen = slash != NULL ? (size_t)(slash - s) : strlen(s);
	if (hlen == 0 || hlen >= sizeof host)
		return (-1);
	memcpy(host, s, hlen);
	host[hlen] = '\0';
	if (inet_pton(AF_INET, host, c.addr) == 1) {
		c.family = AF_INET;
		max = 32;
	} else if (inet_pton(AF_INET6, host, c.addr) == 1) {
		c.family = AF_INET6;
		max = 128;
	} else
		return (-1);
	if (slash == NULL)
		bits = max;
	else if (parse_u64(slash + 1, strlen(slash + 1), &bits) != 0 ||
	    bits > max)
		return (-1);
	c.bits = (unsigned)bits;
	for (i = 0; i < max / 8; i++) {
		if (i * 8 >= bits) {
			if (c.addr[i] != 0)
				return (-1);
		} else if (i * 8 + 8 > bits &&
		    (c.addr[i] & (0xff >> (bits - i * 8))) != 0)
			return (-1);
	}
	*out = c;
	return (0);
}

int
cidr_parse_list(const char *s, struct cidr **out, size_t *n,
    const char **bad, size_t *badlen)
{
	struct cidr	*v = NULL, c;
	const char	*p = s, *end;
	char		*item;
	size_t		 cnt = 0, len;

	for (;;) {
		end = strchr(p, ',');
		len = end != NULL ? (size_t)(end - p) : strlen(p);
		item = xstrndup(p, len);
		if (cidr_parse(item, &c) != 0) {
			free(item);
			free(v);
			*bad = p;
			*badlen = len;
			return (-1);
		}
		free(item);
		v = xreallocarray(v, cnt + 1, sizeof *v);
		v[cnt++] = c;
		if (end == NULL)
			break;
		p = end + 1;
	}
	*out = v;
	*n = cnt;
	return (0);
}

/* Whether the first bits of a and b agree. */
static int
cidr_prefix_eq(const uint8_t *a, const uint8_t *b, unsigned bits)
{
	unsigned	full = bits / 8, rest = bits % 8;
	uint8_t		mask;

	if (memcmp(a, b, full) != 0)
		return (0);
	if (rest == 0)
		return (1);
	mask = (uint8_t)(0xff << (8 - rest));
	return ((a[full] & mask) == (b[full] & mask));
}

int
cidr_match(const struct cidr *v, size_t n, const struct sockaddr *sa)
{
	static const uint8_t	 mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
				    0xff, 0xff };
	const uint8_t		*a;
	int			 family;
	size_t			 i;

	if (sa->sa_family == AF_INET) {
		family = AF_INET;
		a = (const uint8_t *)&((const struct sockaddr_in *)
		    (const void *)sa)->sin_addr;
	} else if (sa->sa_family == AF_INET6) {
		a = ((const struct sockaddr_in6 *)(const void *)sa)->
		    sin6_addr.s6_addr;
		family = AF_INET6;
		/* A dual-stack socket's IPv4 client: ::ffff:a.b.c.d. */
		if (memcmp(a, mapped, sizeof mapped) == 0) {
			family = AF_INET;
			a += 12;
		}
	} else
		return (0);
	for (i = 0; i < n; i++) {
		if (v[i].family == family && cidr_prefix_eq(v[i].addr, a,
		    v[i].bits))
			return (1);
	}
	return (0);
}
