/*
 * proxyproto.c -- the PROXY protocol header, versions 1 and 2, read and
 * written by hand: Debian has no maintained library that parses it (the
 * protocol lives inside HAProxy, nginx and the like), and the format is
 * small and fixed enough to check completely here, under unit tests and a
 * fuzz target (tests/fuzz/fuzz_proxyproto.c).
 */
#include "wsb_autoconf.h"

#include <sys/socket.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include <stdio.h>
#include <string.h>

#include "proxyproto.h"
#include "util.h"

/* v2's fixed part: the signature, version and command, family, length. */
static const uint8_t proxyproto_sig[12] = {
	0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a
};
#define PP2_FIXED		16
#define PP2_CMD_LOCAL		0x0
#define PP2_CMD_PROXY		0x1
#define PP2_FAM_UNSPEC		0x00
#define PP2_FAM_TCP4		0x11
#define PP2_FAM_TCP6		0x21
#define PP2_FAM_UNIX		0x31
#define PP2_ADDR_TCP4		12	/* two addresses and two ports */
#define PP2_ADDR_TCP6		36
#define PP2_ADDR_UNIX		216	/* two 108-byte paths */
#define PP2_TYPE_ALPN		0x01
#define PP2_TYPE_AUTHORITY	0x02
#define PP2_TYPE_SSL		0x20
#define PP2_SUBTYPE_SSL_VERSION	0x21
#define PP2_SUBTYPE_SSL_CN	0x22
#define PP2_SUBTYPE_SSL_CIPHER	0x23
#define PP2_CLIENT_SSL		0x01
#define PP2_CLIENT_CERT_CONN	0x02
#define PP2_CLIENT_CERT_SESS	0x04

static const char proxyproto_v1_sig[] = "PROXY ";
#define PP1_SIG_LEN	(sizeof proxyproto_v1_sig - 1)

/* v1's text is printable ASCII and single spaces; CR only before LF. */
static int
proxyproto_v1_char(uint8_t c)
{
	return (c >= 0x20 && c <= 0x7e);
}

/* One v1 address of family af into ss (port set later). Returns 0, or -1. */
static int
proxyproto_v1_addr(int af, const char *s, size_t n,
    struct sockaddr_storage *ss)
{
	char	tmp[INET6_ADDRSTRLEN];

	if (n == 0 || n >= sizeof tmp)
		return (-1);
	memcpy(tmp, s, n);
	tmp[n] = '\0';
	memset(ss, 0, sizeof *ss);
	ss->ss_family = (sa_family_t)af;
	if (af == AF_INET)
		return (inet_pton(AF_INET, tmp, &((struct sockaddr_in *)
		    (void *)ss)->sin_addr) == 1 ? 0 : -1);
	return (inet_pton(AF_INET6, tmp, &((struct sockaddr_in6 *)(void *)ss)->
	    sin6_addr) == 1 ? 0 : -1);
}

static void
proxyproto_set_port(struct sockaddr_storage *ss, uint16_t port_n)
{
	if (ss->ss_family == AF_INET)
		((struct sockaddr_in *)(void *)ss)->sin_port = port_n;
	else
		((struct sockaddr_in6 *)(void *)ss)->sin6_port = port_n;
}

/*
 * "PROXY TCP4 SRC DST SPORT DPORT\r\n", "PROXY TCP6 ...", or "PROXY
 * UNKNOWN[ anything]\r\n".
 */
static ssize_t
proxyproto_parse_v1(const uint8_t *buf, size_t len, struct proxyproto_hdr *h,
    const char **why)
{
	const char	*p, *end, *tok[5];
	/* Zeroed: the loop below always fills toklen[0], gcc -O2 cannot tell. */
	size_t		 toklen[5] = { 0 }, i, lf, ntok = 0;
	uint16_t	 sport, dport;
	int		 af;

	if (memcmp(buf, proxyproto_v1_sig, MIN(len, PP1_SIG_LEN)) != 0) {
		*why = "not a PROXY header";
		return (-1);
	}
	for (lf = 0; lf < MIN(len, PROXYPROTO_V1_MAX); lf++)
		if (buf[lf] == '\n')
			break;
	if (lf == MIN(len, PROXYPROTO_V1_MAX)) {
		if (len >= PROXYPROTO_V1_MAX) {
			*why = "v1 header longer than 107 bytes";
			return (-1);
		}
		for (i = PP1_SIG_LEN; i < len; i++) {
			if (!proxyproto_v1_char(buf[i]) &&
			    !(buf[i] == '\r' && i == len - 1)) {
				*why = "v1 header with a byte that is not text";
				return (-1);
			}
		}
		return (0);
	}
	if (lf < PP1_SIG_LEN + 1 || buf[lf - 1] != '\r') {
		*why = "v1 header not ended by CRLF";
		return (-1);
	}
	for (i = PP1_SIG_LEN; i < lf - 1; i++) {
		if (!proxyproto_v1_char(buf[i])) {
			*why = "v1 header with a byte that is not text";
			return (-1);
		}
	}
	/* Words separated by one space each. */
	p = (const char *)buf + PP1_SIG_LEN;
	end = (const char *)buf + lf - 1;
	while (p <= end) {
		const char *sp = memchr(p, ' ', (size_t)(end - p));

		if (sp == NULL)
			sp = end;
		if (ntok == nitems(tok)) {
			*why = "v1 header with too many fields";
			return (-1);
		}
		tok[ntok] = p;
		toklen[ntok++] = (size_t)(sp - p);
		if (sp == p) {
			*why = "v1 header with an empty field";
			return (-1);
		}
		p = sp + 1;
		if (ntok == 1 && toklen[0] == 7 &&
		    memcmp(tok[0], "UNKNOWN", 7) == 0)
			break;	/* the rest is for the receiver to ignore */
	}
	memset(h, 0, sizeof *h);
	h->version = 1;
	if (toklen[0] == 7 && memcmp(tok[0], "UNKNOWN", 7) == 0) {
		h->local = 1;
		return ((ssize_t)lf + 1);
	}
	if (toklen[0] == 4 && memcmp(tok[0], "TCP4", 4) == 0)
		af = AF_INET;
	else if (toklen[0] == 4 && memcmp(tok[0], "TCP6", 4) == 0)
		af = AF_INET6;
	else {
		*why = "v1 header protocol is not TCP4, TCP6 or UNKNOWN";
		return (-1);
	}
	if (ntok != 5) {
		*why = "v1 header without its four address fields";
		return (-1);
	}
	if (proxyproto_v1_addr(af, tok[1], toklen[1], &h->src) != 0 ||
	    proxyproto_v1_addr(af, tok[2], toklen[2], &h->dst) != 0) {
		*why = "v1 header with a bad address";
		return (-1);
	}
	if (parse_port(tok[3], toklen[3], &sport) != 0 ||
	    parse_port(tok[4], toklen[4], &dport) != 0) {
		*why = "v1 header with a bad port";
		return (-1);
	}
	proxyproto_set_port(&h->src, htons(sport));
	proxyproto_set_port(&h->dst, htons(dport));
	return ((ssize_t)lf + 1);
}

/* The TLVs in p[0..n): each must fit. Returns their count, or -1. */
static int
proxyproto_v2_tlvs(const uint8_t *p, size_t n, unsigned *count)
{
	size_t	vlen;

	*count = 0;
	while (n > 0) {
		if (n < 3)
			return (-1);
		vlen = (size_t)p[1] << 8 | p[2];
		if (vlen > n - 3)
			return (-1);
		p += 3 + vlen;
		n -= 3 + vlen;
		(*count)++;
	}
	return (0);
}

static ssize_t
proxyproto_parse_v2(const uint8_t *buf, size_t len, struct proxyproto_hdr *h,
    const char **why)
{
	struct sockaddr_in	*s4, *d4;
	struct sockaddr_in6	*s6, *d6;
	const uint8_t		*a;
	size_t			 total, alen, need;
	unsigned		 cmd, fam;

	if (memcmp(buf, proxyproto_sig, MIN(len, sizeof proxyproto_sig)) !=
	    0) {
		*why = "not a PROXY header";
		return (-1);
	}
	if (len > 12 && (buf[12] >> 4 != 2 || ((buf[12] & 0xf) !=
	    PP2_CMD_LOCAL && (buf[12] & 0xf) != PP2_CMD_PROXY))) {
		*why = "v2 header with an unknown version or command";
		return (-1);
	}
	cmd = len > 12 ? buf[12] & 0xf : 0;
	fam = len > 13 ? buf[13] : 0;
	if (len > 13 && cmd == PP2_CMD_PROXY && fam != PP2_FAM_UNSPEC &&
	    fam != PP2_FAM_TCP4 && fam != PP2_FAM_TCP6 && fam != PP2_FAM_UNIX) {
		*why = "v2 header for a protocol other than a stream";
		return (-1);
	}
	if (len < PP2_FIXED)
		return (0);
	alen = (size_t)buf[14] << 8 | buf[15];
	total = PP2_FIXED + alen;
	if (total > PROXYPROTO_V2_MAX) {
		*why = "v2 header longer than 4096 bytes";
		return (-1);
	}
	if (cmd == PP2_CMD_PROXY) {
		need = fam == PP2_FAM_TCP4 ? PP2_ADDR_TCP4 :
		    fam == PP2_FAM_TCP6 ? PP2_ADDR_TCP6 :
		    fam == PP2_FAM_UNIX ? PP2_ADDR_UNIX : 0;
		if (alen < need) {
			*why = "v2 header too short for its addresses";
			return (-1);
		}
	} else
		need = 0;
	if (len < total)
		return (0);
	memset(h, 0, sizeof *h);
	h->version = 2;
	if (cmd == PP2_CMD_LOCAL) {
		/* The balancer's own connection: whatever follows is skipped. */
		h->local = 1;
		return ((ssize_t)total);
	}
	if (proxyproto_v2_tlvs(buf + PP2_FIXED + need, alen - need,
	    &h->ntlvs) != 0) {
		*why = "v2 header with a malformed TLV";
		return (-1);
	}
	a = buf + PP2_FIXED;
	switch (fam) {
	case PP2_FAM_TCP4:
		s4 = (struct sockaddr_in *)(void *)&h->src;
		d4 = (struct sockaddr_in *)(void *)&h->dst;
		s4->sin_family = d4->sin_family = AF_INET;
		memcpy(&s4->sin_addr, a, 4);
		memcpy(&d4->sin_addr, a + 4, 4);
		memcpy(&s4->sin_port, a + 8, 2);
		memcpy(&d4->sin_port, a + 10, 2);
		break;
	case PP2_FAM_TCP6:
		s6 = (struct sockaddr_in6 *)(void *)&h->src;
		d6 = (struct sockaddr_in6 *)(void *)&h->dst;
		s6->sin6_family = d6->sin6_family = AF_INET6;
		memcpy(&s6->sin6_addr, a, 16);
		memcpy(&d6->sin6_addr, a + 16, 16);
		memcpy(&s6->sin6_port, a + 32, 2);
		memcpy(&d6->sin6_port, a + 34, 2);
		break;
	default:
		/* AF_UNSPEC, or a unix client: nothing a log can show. */
		h->local = 1;
		break;
	}
	return ((ssize_t)total);
}

ssize_t
proxyproto_parse(const uint8_t *buf, size_t len, unsigned versions,
    struct proxyproto_hdr *h, const char **why)
{
	if (len == 0)
		return (0);
	if (buf[0] == 'P') {
		if (!(versions & PROXYPROTO_V1)) {
			*why = "PROXY v1 header where v2 is expected";
			return (-1);
		}
		return (proxyproto_parse_v1(buf, len, h, why));
	}
	if (buf[0] == proxyproto_sig[0]) {
		if (!(versions & PROXYPROTO_V2)) {
			*why = "PROXY v2 header where v1 is expected";
			return (-1);
		}
		return (proxyproto_parse_v2(buf, len, h, why));
	}
	*why = "no PROXY header";
	return (-1);
}

/* ---- writing ------------------------------------------------------------ */

/* ss with a v4-mapped IPv6 address turned into its IPv4 address. */
static void
proxyproto_unmap(const struct sockaddr_storage *in, struct sockaddr_storage *out)
{
	static const uint8_t	 mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
				    0xff, 0xff };
	const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)
				    (const void *)in;
	struct sockaddr_in	*s4 = (struct sockaddr_in *)(void *)out;

	if (in->ss_family == AF_INET6 &&
	    memcmp(s6->sin6_addr.s6_addr, mapped, sizeof mapped) == 0) {
		memset(out, 0, sizeof *out);
		s4->sin_family = AF_INET;
		memcpy(&s4->sin_addr, s6->sin6_addr.s6_addr + 12, 4);
		s4->sin_port = s6->sin6_port;
	} else
		*out = *in;
}

/* ss, IPv4, as its v4-mapped IPv6 address. */
static void
proxyproto_map(struct sockaddr_storage *ss)
{
	struct sockaddr_in	s4;
	struct sockaddr_in6	*s6 = (struct sockaddr_in6 *)(void *)ss;

	if (ss->ss_family != AF_INET)
		return;
	memcpy(&s4, ss, sizeof s4);
	memset(ss, 0, sizeof *ss);
	s6->sin6_family = AF_INET6;
	s6->sin6_addr.s6_addr[10] = s6->sin6_addr.s6_addr[11] = 0xff;
	memcpy(s6->sin6_addr.s6_addr + 12, &s4.sin_addr, 4);
	s6->sin6_port = s4.sin_port;
}

/*
 * Puts the TLV type with value v[0..n) (n at most 255: names, versions)
 * at buf[*off]. Returns 0, or -1 when it does not fit.
 */
static int
proxyproto_tlv(uint8_t *buf, size_t size, size_t *off, uint8_t type,
    const void *v, size_t n)
{
	if (size - *off < 3 + n)
		return (-1);
	buf[*off] = type;
	buf[*off + 1] = (uint8_t)(n >> 8);
	buf[*off + 2] = (uint8_t)n;
	memcpy(buf + *off + 3, v, n);
	*off += 3 + n;
	return (0);
}

/* A string TLV when s is set, cut at 255 bytes. */
static int
proxyproto_tlv_str(uint8_t *buf, size_t size, size_t *off, uint8_t type,
    const char *s)
{
	if (s == NULL)
		return (0);
	return (proxyproto_tlv(buf, size, off, type, s, MIN(strlen(s), 255)));
}

static size_t
proxyproto_build_v2(const struct sockaddr_storage *src,
    const struct sockaddr_storage *dst, const struct proxyproto_tls *tls,
    uint8_t *buf, size_t size)
{
	const struct sockaddr_in	*s4, *d4;
	const struct sockaddr_in6	*s6, *d6;
	size_t				 off = PP2_FIXED, ssl_at, body;

	if (size < PP2_FIXED + PP2_ADDR_TCP6)
		return (0);
	memcpy(buf, proxyproto_sig, sizeof proxyproto_sig);
	buf[12] = 0x20 | PP2_CMD_PROXY;
	if (src->ss_family == AF_INET) {
		s4 = (const struct sockaddr_in *)(const void *)src;
		d4 = (const struct sockaddr_in *)(const void *)dst;
		buf[13] = PP2_FAM_TCP4;
		memcpy(buf + off, &s4->sin_addr, 4);
		memcpy(buf + off + 4, &d4->sin_addr, 4);
		memcpy(buf + off + 8, &s4->sin_port, 2);
		memcpy(buf + off + 10, &d4->sin_port, 2);
		off += PP2_ADDR_TCP4;
	} else if (src->ss_family == AF_INET6) {
		s6 = (const struct sockaddr_in6 *)(const void *)src;
		d6 = (const struct sockaddr_in6 *)(const void *)dst;
		buf[13] = PP2_FAM_TCP6;
		memcpy(buf + off, &s6->sin6_addr, 16);
		memcpy(buf + off + 16, &d6->sin6_addr, 16);
		memcpy(buf + off + 32, &s6->sin6_port, 2);
		memcpy(buf + off + 34, &d6->sin6_port, 2);
		off += PP2_ADDR_TCP6;
	} else
		buf[13] = PP2_FAM_UNSPEC;
	if (tls != NULL) {
		uint8_t	ssl[5];

		if (proxyproto_tlv_str(buf, size, &off, PP2_TYPE_ALPN,
		    tls->alpn) != 0 || proxyproto_tlv_str(buf, size, &off,
		    PP2_TYPE_AUTHORITY, tls->sni) != 0)
			return (0);
		/* client flags, then verify: 0 for a verified certificate. */
		ssl[0] = PP2_CLIENT_SSL | (tls->cert ? PP2_CLIENT_CERT_CONN |
		    PP2_CLIENT_CERT_SESS : 0);
		ssl[1] = ssl[2] = ssl[3] = 0;
		ssl[4] = tls->cert ? 0 : 1;
		ssl_at = off;
		if (proxyproto_tlv(buf, size, &off, PP2_TYPE_SSL, ssl,
		    sizeof ssl) != 0 ||
		    proxyproto_tlv_str(buf, size, &off, PP2_SUBTYPE_SSL_VERSION,
		    tls->version) != 0 ||
		    proxyproto_tlv_str(buf, size, &off, PP2_SUBTYPE_SSL_CN,
		    tls->cn) != 0 ||
		    proxyproto_tlv_str(buf, size, &off, PP2_SUBTYPE_SSL_CIPHER,
		    tls->cipher) != 0)
			return (0);
		/* The SSL TLV holds its subtypes. */
		body = off - ssl_at - 3;
		buf[ssl_at + 1] = (uint8_t)(body >> 8);
		buf[ssl_at + 2] = (uint8_t)body;
	}
	buf[14] = (uint8_t)((off - PP2_FIXED) >> 8);
	buf[15] = (uint8_t)(off - PP2_FIXED);
	return (off);
}

/* ss's address into host (INET6_ADDRSTRLEN bytes); returns its port. */
static int
proxyproto_text(const struct sockaddr_storage *ss, char *host)
{
	const struct sockaddr_in	*s4 = (const void *)ss;
	const struct sockaddr_in6	*s6 = (const void *)ss;

	if (ss->ss_family == AF_INET) {
		inet_ntop(AF_INET, &s4->sin_addr, host, INET6_ADDRSTRLEN);
		return (ntohs(s4->sin_port));
	}
	inet_ntop(AF_INET6, &s6->sin6_addr, host, INET6_ADDRSTRLEN);
	return (ntohs(s6->sin6_port));
}

size_t
proxyproto_build(int version, const struct sockaddr_storage *src_in,
    const struct sockaddr_storage *dst_in, const struct proxyproto_tls *tls,
    uint8_t *buf, size_t size)
{
	struct sockaddr_storage	 src, dst;
	char			 sh[INET6_ADDRSTRLEN], dh[INET6_ADDRSTRLEN];
	int			 n, af, sport, dport;

	proxyproto_unmap(src_in, &src);
	proxyproto_unmap(dst_in, &dst);
	af = src.ss_family;
	if ((af != AF_INET && af != AF_INET6) || (dst.ss_family != AF_INET &&
	    dst.ss_family != AF_INET6))
		memset(&src, 0, sizeof src);	/* unknown */
	else if (af != dst.ss_family) {
		proxyproto_map(&src);
		proxyproto_map(&dst);
	}
	if (version == 2)
		return (proxyproto_build_v2(&src, &dst, tls, buf, size));
	if (src.ss_family == AF_UNSPEC)
		n = snprintf((char *)buf, size, "PROXY UNKNOWN\r\n");
	else {
		sport = proxyproto_text(&src, sh);
		dport = proxyproto_text(&dst, dh);
		n = snprintf((char *)buf, size, "PROXY %s %s %s %d %d\r\n",
		    src.ss_family == AF_INET ? "TCP4" : "TCP6", sh, dh, sport,
		    dport);
	}
	if (n < 0 || (size_t)n >= size)
		return (0);
	return ((size_t)n);
}
