/*
 * forwarded.c -- X-Forwarded-For and Forwarded for= parsed into the
 * rightmost untrusted hop. Pure functions over the header values.
 */
#include "wsb_autoconf.h"

#include <sys/socket.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include <string.h>

#include "cidr.h"
#include "forwarded.h"
#include "util.h"

/* Hops looked at, from the right: a longer chain is cut at its left. */
#define FORWARDED_MAX_HOPS	32

struct forwarded_hop {
	const char	*s;
	size_t		 n;
};

static int
forwarded_is_space(char c)
{
	return (c == ' ' || c == '\t');
}

/* s[0..n) without surrounding spaces and, when quoted, its quotes. */
static void
forwarded_trim(const char **s, size_t *n)
{
	while (*n > 0 && forwarded_is_space(**s)) {
		(*s)++;
		(*n)--;
	}
	while (*n > 0 && forwarded_is_space((*s)[*n - 1]))
		(*n)--;
	if (*n >= 2 && (*s)[0] == '"' && (*s)[*n - 1] == '"') {
		(*s)++;
		*n -= 2;
	}
}

/*
 * One hop as an address: "192.0.2.1", "192.0.2.1:80", "2001:db8::1",
 * "[2001:db8::1]", "[2001:db8::1]:80". Returns 0, or -1.
 */
static int
forwarded_addr(const char *s, size_t n, struct sockaddr_storage *out)
{
	struct sockaddr_in	*s4 = (struct sockaddr_in *)(void *)out;
	struct sockaddr_in6	*s6 = (struct sockaddr_in6 *)(void *)out;
	char			 host[INET6_ADDRSTRLEN];
	const char		*end, *colon;
	uint16_t		 port = 0;

	memset(out, 0, sizeof *out);
	if (n > 0 && s[0] == '[') {
		if ((end = memchr(s, ']', n)) == NULL)
			return (-1);
		if (end + 1 < s + n && (end[1] != ':' || parse_port(end + 2,
		    (size_t)(s + n - end - 2), &port) != 0))
			return (-1);
		s++;
		n = (size_t)(end - s);
	} else if ((colon = memchr(s, ':', n)) != NULL &&
	    memchr(colon + 1, ':', (size_t)(s + n - colon - 1)) == NULL) {
		/* One colon: IPv4 and a port. */
		if (parse_port(colon + 1, (size_t)(s + n - colon - 1),
		    &port) != 0)
			return (-1);
		n = (size_t)(colon - s);
	}
	if (n == 0 || n >= sizeof host)
		return (-1);
	memcpy(host, s, n);
	host[n] = '\0';
	if (inet_pton(AF_INET, host, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons(port);
		return (0);
	}
	if (inet_pton(AF_INET6, host, &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(port);
		return (0);
	}
	return (-1);
}

/*
 * The for= value of one Forwarded element ("for=192.0.2.1;proto=https"),
 * or an empty hop when it has none. Quoted strings may hold ';' and ','.
 */
static struct forwarded_hop
forwarded_for(const char *s, size_t n)
{
	struct forwarded_hop	 h = { "", 0 };
	const char		*p = s, *end = s + n, *start;
	int			 quoted;

	while (p < end) {
		while (p < end && (forwarded_is_space(*p) || *p == ';'))
			p++;
		start = p;
		for (quoted = 0; p < end && (quoted || *p != ';'); p++) {
			if (*p == '"')
				quoted = !quoted;
			else if (*p == '\\' && quoted && p + 1 < end)
				p++;
		}
		if (p - start > 4 && strncaseeq(start, 4, "for=")) {
			h.s = start + 4;
			h.n = (size_t)(p - start - 4);
			forwarded_trim(&h.s, &h.n);
			return (h);
		}
	}
	return (h);
}

/*
 * Splits v at commas outside quotes into at most FORWARDED_MAX_HOPS hops,
 * keeping the rightmost. Returns their count.
 */
static size_t
forwarded_split(const char *v, int is_fwd, struct forwarded_hop *hops)
{
	const char	*p = v, *start;
	size_t		 n = 0, len;
	int		 quoted;

	for (;;) {
		start = p;
		for (quoted = 0; *p != '\0' && (quoted || *p != ','); p++) {
			if (*p == '"')
				quoted = !quoted;
			else if (*p == '\\' && quoted && p[1] != '\0')
				p++;
		}
		len = (size_t)(p - start);
		if (n == FORWARDED_MAX_HOPS) {
			memmove(hops, hops + 1, (n - 1) * sizeof *hops);
			n--;
		}
		if (is_fwd)
			hops[n] = forwarded_for(start, len);
		else {
			hops[n].s = start;
			hops[n].n = len;
			forwarded_trim(&hops[n].s, &hops[n].n);
		}
		n++;
		if (*p == '\0')
			break;
		p++;
	}
	return (n);
}

int
forwarded_client(const char *fwd, const char *xff,
    const struct cidr *trusted, size_t ntrusted, struct sockaddr_storage *out)
{
	struct forwarded_hop	 hops[FORWARDED_MAX_HOPS];
	struct sockaddr_storage	 a;
	size_t			 n, i;
	int			 found = 0;

	if (fwd == NULL && xff == NULL)
		return (0);
	n = forwarded_split(fwd != NULL ? fwd : xff, fwd != NULL, hops);
	for (i = n; i > 0; i--) {
		if (forwarded_addr(hops[i - 1].s, hops[i - 1].n, &a) != 0)
			break;
		*out = a;
		found = 1;
		if (!cidr_match(trusted, ntrusted, (struct sockaddr *)&a))
			break;
	}
	return (found);
}
