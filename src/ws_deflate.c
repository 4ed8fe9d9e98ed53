/*
 * ws_deflate.c -- permessage-deflate (RFC 7692 7): negotiation of the
 * Sec-WebSocket-Extensions offer, and zlib raw-DEFLATE streams that inflate
 * and compress message payload a bounded piece at a time. No sockets and no
 * event loop: bytes in, bytes out.
 *
 * Window bits 8. zlib refuses a raw deflate window of 8 (since 1.2.9 it
 * cannot produce a valid one), so when a client asks for
 * server_max_window_bits=8 we compress with a 512-byte window and still
 * answer 8: zlib never emits a distance beyond window - MIN_LOOKAHEAD (262),
 * here 250, so every stream it produces decodes with a 256-byte window --
 * RFC 7692 7.1.2.1 only bounds what the client must keep. A unit test holds
 * zlib to that. We never ask a client for 8 (deflate-window-bits is 9..15),
 * as most client zlibs could not honour it; a client that offers
 * client_max_window_bits=8 itself gets 8 and we inflate with 256 bytes.
 */
#include "wsb_autoconf.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "util.h"
#include "ws_deflate.h"

#define WS_DEFLATE_NAME		"permessage-deflate"
#define WS_ZHDR			16	/* allocation header, keeps malloc alignment */
#define WS_ZSTATE_MAX		(8 * 1024)	/* sizeof a zlib state, rounded up */

/* Appended to every message before inflating (RFC 7692 7.2.2). */
static const uint8_t	ws_deflate_tail[4] = { 0x00, 0x00, 0xff, 0xff };

struct ws_deflate {
	struct ws_deflate_params p;
	struct ws_deflate_opts	 o;

	z_stream		 inf;
	int			 inf_init;	/* inflateInit2 done */
	int			 inf_tail;	/* tail bytes fed to this message */
	int			 inf_pending;	/* last call filled out: more may come */

	z_stream		 def;
	int			 def_init;
	int			 def_wbits;	/* what zlib is given: 9..15 */

	size_t			 mem;		/* bytes zlib holds */
	size_t			 mem_peak;
};

/* ---- negotiation ---------------------------------------------------------- */

/* One permessage-deflate offer as parsed (RFC 7692 7.1). */
struct ws_deflate_offer {
	int	ok;		/* nothing seen so far declines it */
	int	snct, cnct;	/* {server,client}_no_context_takeover */
	int	smwb;		/* server_max_window_bits value, 0: absent */
	int	cmwb;		/* client_max_window_bits: -1 absent, 0 no value */
};

void
ws_deflate_opts_init(struct ws_deflate_opts *o)
{
	memset(o, 0, sizeof *o);
	o->enabled = 0;
	o->level = WS_DEFLATE_LEVEL;
	o->window_bits = WS_DEFLATE_WBITS;
	o->mem_level = WS_DEFLATE_MEMLEVEL;
	o->min_size = WS_DEFLATE_MIN_SIZE;
}

/* RFC 9110 5.6.2 tchar. */
static int
ws_deflate_tchar(char c)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9'))
		return (1);
	return (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

static const char *
ws_deflate_ows(const char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	return (s);
}

static size_t
ws_deflate_token(const char *s)
{
	size_t	n = 0;

	while (ws_deflate_tchar(s[n]))
		n++;
	return (n);
}

/*
 * Reads a parameter value at *s, a token or a quoted-string (RFC 6455 9.1:
 * once unescaped it must be a token too), into val (NUL-terminated; a value
 * too long for it is cut and *vlen still counts it all). Returns 0 and
 * advances *s, or -1 when it does not parse.
 */
static int
ws_deflate_value(const char **s, char *val, size_t valsize, size_t *vlen)
{
	const char	*p = *s;
	size_t		 n = 0;
	char		 c;

	if (*p != '"') {
		while (ws_deflate_tchar(*p)) {
			if (n + 1 < valsize)
				val[n] = *p;
			n++;
			p++;
		}
		if (n == 0)
			return (-1);
	} else {
		for (p++; *p != '"'; p++) {
			c = *p;
			if (c == '\\') {
				c = *++p;
				if (c == '\0')
					return (-1);
			} else if (c == '\0')
				return (-1);
			if (!ws_deflate_tchar(c))
				return (-1);
			if (n + 1 < valsize)
				val[n] = c;
			n++;
		}
		p++;
		if (n == 0)
			return (-1);
	}
	val[MIN(n, valsize - 1)] = '\0';
	*vlen = n;
	*s = p;
	return (0);
}

/* Window bits as RFC 7692 7.1.2 writes them: 8..15, no leading zero. */
static int
ws_deflate_bits(const char *v, size_t len)
{
	if (len == 1 && (v[0] == '8' || v[0] == '9'))
		return (v[0] - '0');
	if (len == 2 && v[0] == '1' && v[1] >= '0' && v[1] <= '5')
		return (10 + v[1] - '0');
	return (-1);
}

/* Applies one parameter to an offer; anything unexpected declines it. */
static void
ws_deflate_param(struct ws_deflate_offer *o, const char *name, size_t nlen,
    int hasval, const char *val, size_t vlen)
{
	int	bits;

#define IS(lit) (nlen == sizeof (lit) - 1 && memcmp(name, lit, nlen) == 0)
	if (IS("server_no_context_takeover")) {
		if (hasval || o->snct)
			o->ok = 0;
		o->snct = 1;
	} else if (IS("client_no_context_takeover")) {
		if (hasval || o->cnct)
			o->ok = 0;
		o->cnct = 1;
	} else if (IS("server_max_window_bits")) {
		/* A value is required here (RFC 7692 7.1.2.1). */
		bits = hasval ? ws_deflate_bits(val, vlen) : -1;
		if (bits == -1 || o->smwb != 0)
			o->ok = 0;
		o->smwb = bits;
	} else if (IS("client_max_window_bits")) {
		/* Optional in an offer: "I can limit my window" (7.1.2.2). */
		bits = hasval ? ws_deflate_bits(val, vlen) : 0;
		if (bits == -1 || o->cmwb != -1)
			o->ok = 0;
		o->cmwb = bits;
	} else
		o->ok = 0;	/* unknown: RFC 7692 7.1 says decline */
#undef IS
}

/*
 * Accepts offer o under opts: fills p and the response. The response names
 * what the client asked about and nothing else, so it never carries a
 * parameter the client would have to reject.
 */
static void
ws_deflate_accept(const struct ws_deflate_offer *o,
    const struct ws_deflate_opts *opts, struct ws_deflate_params *p,
    char *resp, size_t resplen)
{
	int	w = opts->window_bits, n;

	memset(p, 0, sizeof *p);
	p->server_no_context_takeover = o->snct;
	p->client_no_context_takeover = o->cnct;
	/* Ours: never wider than the client allows (7.1.2.1). */
	p->server_max_window_bits = (uint8_t)(o->smwb != 0 ? MIN(w, o->smwb) : w);
	/* Theirs: bounded by what it offered and what we want to keep. */
	if (o->cmwb == -1)
		p->client_max_window_bits = 15;
	else
		p->client_max_window_bits = (uint8_t)MIN(w,
		    o->cmwb == 0 ? 15 : o->cmwb);

	n = snprintf(resp, resplen, "%s%s%s", WS_DEFLATE_NAME,
	    o->snct ? "; server_no_context_takeover" : "",
	    o->cnct ? "; client_no_context_takeover" : "");
	if (o->smwb != 0)
		n += snprintf(resp + n, resplen - (size_t)n,
		    "; server_max_window_bits=%u", p->server_max_window_bits);
	/* A response always gives client_max_window_bits a value (7.1.2.2). */
	if (o->cmwb != -1)
		snprintf(resp + n, resplen - (size_t)n,
		    "; client_max_window_bits=%u", p->client_max_window_bits);
}

int
ws_deflate_negotiate(const char *offer, const struct ws_deflate_opts *opts,
    struct ws_deflate_params *p, char *resp, size_t resplen)
{
	struct ws_deflate_offer	 o, chosen;
	const char		*s = offer, *name;
	char			 val[8];
	size_t			 n, nlen, vlen;
	int			 found = 0, hasval;

	if (resplen < WS_DEFLATE_RESPONSE_MAX)
		abort();	/* our bug: the caller's buffer */
	resp[0] = '\0';
	if (!opts->enabled || offer == NULL)
		return (0);

	/* extension-list = 1#( extension-token *( ";" extension-param ) ) */
	for (;;) {
		s = ws_deflate_ows(s);
		if (*s == ',') {	/* empty list elements (RFC 9110 5.6.1) */
			s++;
			continue;
		}
		if (*s == '\0')
			break;
		if ((n = ws_deflate_token(s)) == 0)
			return (0);
		memset(&o, 0, sizeof o);
		o.cmwb = -1;
		o.ok = n == strlen(WS_DEFLATE_NAME) &&
		    memcmp(s, WS_DEFLATE_NAME, n) == 0;
		s += n;
		for (;;) {
			s = ws_deflate_ows(s);
			if (*s != ';')
				break;
			s = ws_deflate_ows(s + 1);
			if ((nlen = ws_deflate_token(s)) == 0)
				return (0);
			name = s;
			s = ws_deflate_ows(s + nlen);
			hasval = 0;
			vlen = 0;
			val[0] = '\0';
			if (*s == '=') {
				s = ws_deflate_ows(s + 1);
				if (ws_deflate_value(&s, val, sizeof val,
				    &vlen) == -1)
					return (0);
				hasval = 1;
			}
			if (o.ok)
				ws_deflate_param(&o, name, nlen, hasval, val,
				    vlen);
		}
		if (*s != ',' && *s != '\0')
			return (0);
		/* The client lists offers in its order of preference. */
		if (o.ok && !found) {
			chosen = o;
			found = 1;
		}
	}
	/* Only a header that parses whole is answered. */
	if (!found)
		return (0);
	ws_deflate_accept(&chosen, opts, p, resp, resplen);
	return (1);
}

size_t
ws_deflate_memory_bound(const struct ws_deflate_params *p,
    const struct ws_deflate_opts *opts)
{
	size_t	dw = (size_t)MAX(9, p->server_max_window_bits);

	/* zlib 1.2.13: window, prev, head and pending_buf; window and state. */
	return (((size_t)1 << (dw + 2)) +
	    ((size_t)1 << (opts->mem_level + 9)) + WS_ZSTATE_MAX +
	    ((size_t)1 << p->client_max_window_bits) + WS_ZSTATE_MAX);
}

/* ---- streams ------------------------------------------------------------- */

/* zlib allocator that counts what the connection holds. */
static voidpf
ws_deflate_zalloc(voidpf opaque, uInt items, uInt size)
{
	struct ws_deflate	*z = opaque;
	uint8_t			*m;
	size_t			 n;

	if (size != 0 && items > (SIZE_MAX - WS_ZHDR) / size)
		return (Z_NULL);
	n = (size_t)items * size;
	if ((m = malloc(n + WS_ZHDR)) == NULL)
		return (Z_NULL);
	memcpy(m, &n, sizeof n);
	z->mem += n;
	if (z->mem > z->mem_peak)
		z->mem_peak = z->mem;
	return (m + WS_ZHDR);
}

static void
ws_deflate_zfree(voidpf opaque, voidpf ptr)
{
	struct ws_deflate	*z = opaque;
	uint8_t			*m;
	size_t			 n;

	if (ptr == Z_NULL)
		return;
	m = (uint8_t *)ptr - WS_ZHDR;
	memcpy(&n, m, sizeof n);
	z->mem -= n;
	free(m);
}

struct ws_deflate *
ws_deflate_new(const struct ws_deflate_params *p,
    const struct ws_deflate_opts *opts)
{
	struct ws_deflate	*z;

	z = xcalloc(1, sizeof *z);
	z->p = *p;
	z->o = *opts;
	z->def_wbits = MAX(9, p->server_max_window_bits);
	return (z);
}

void
ws_deflate_free(struct ws_deflate *z)
{
	if (z == NULL)
		return;
	if (z->inf_init)
		inflateEnd(&z->inf);
	if (z->def_init)
		deflateEnd(&z->def);
	free(z);
}

size_t
ws_deflate_min_size(const struct ws_deflate *z)
{
	return (z->o.min_size);
}

size_t
ws_deflate_memory(const struct ws_deflate *z, size_t *peak)
{
	if (peak != NULL)
		*peak = z->mem_peak;
	return (z->mem);
}

static int
ws_deflate_inflate_init(struct ws_deflate *z)
{
	memset(&z->inf, 0, sizeof z->inf);
	z->inf.zalloc = ws_deflate_zalloc;
	z->inf.zfree = ws_deflate_zfree;
	z->inf.opaque = z;
	if (inflateInit2(&z->inf, -(int)z->p.client_max_window_bits) != Z_OK)
		return (-1);
	z->inf_init = 1;
	z->inf_pending = 0;
	return (0);
}

/*
 * The peer ended its DEFLATE stream with a BFINAL block (RFC 7692 7.2.3.4
 * allows it): what follows is a new stream. Unless the client gave up
 * context takeover, it may still refer back to the old window, so carry it
 * over.
 */
static int
ws_deflate_inflate_restart(struct ws_deflate *z)
{
	uint8_t	*dict = NULL;
	uInt	 len = 0;
	int	 rc = -1;

	if (!z->p.client_no_context_takeover) {
		dict = xmalloc((size_t)1 << z->p.client_max_window_bits);
		if (inflateGetDictionary(&z->inf, dict, &len) != Z_OK)
			goto out;
	}
	if (inflateReset(&z->inf) != Z_OK)
		goto out;
	if (len > 0 && inflateSetDictionary(&z->inf, dict, len) != Z_OK)
		goto out;
	rc = 0;
out:
	free(dict);
	return (rc);
}

int
ws_deflate_inflate(struct ws_deflate *z, const uint8_t *in, size_t inlen,
    int fin, size_t *used, uint8_t *out, size_t outlen, size_t *got,
    const char **why)
{
	z_stream	*s = &z->inf;
	size_t		 before;
	int		 r, tail, have;

	*used = 0;
	*got = 0;
	*why = NULL;
	if (!z->inf_init && ws_deflate_inflate_init(z) == -1) {
		*why = "cannot allocate an inflate stream";
		return (-1);
	}
	s->next_out = out;
	s->avail_out = (uInt)MIN(outlen, UINT_MAX);
	while (s->avail_out > 0) {
		tail = 0;
		if (*used < inlen) {
			s->next_in = (Bytef *)(uintptr_t)(in + *used);
			s->avail_in = (uInt)MIN(inlen - *used, UINT_MAX);
		} else if (fin && z->inf_tail < 4) {
			s->next_in = (Bytef *)(uintptr_t)(ws_deflate_tail +
			    z->inf_tail);
			s->avail_in = (uInt)(4 - z->inf_tail);
			tail = 1;
		} else {
			s->next_in = Z_NULL;
			s->avail_in = 0;
		}
		have = s->avail_in > 0;
		if (!have && !z->inf_pending)
			break;		/* everything given went through */
		before = s->avail_in;
		r = inflate(s, Z_SYNC_FLUSH);
		z->inf_pending = s->avail_out == 0;
		if (tail)
			z->inf_tail += (int)(before - s->avail_in);
		else
			*used += before - s->avail_in;
		switch (r) {
		case Z_OK:
		case Z_BUF_ERROR:	/* no progress possible: not an error */
			break;
		case Z_STREAM_END:
			if (ws_deflate_inflate_restart(z) == -1) {
				*why = "cannot restart after a final block";
				return (-1);
			}
			break;
		case Z_MEM_ERROR:
			*why = "out of memory inflating";
			return (-1);
		default:	/* Z_DATA_ERROR, Z_NEED_DICT */
			*why = s->msg != NULL ? s->msg : "invalid DEFLATE data";
			return (-1);
		}
		if (!have || (s->avail_in > 0 && r != Z_STREAM_END))
			break;		/* out is full, or it was a drain call */
	}
	*got = outlen - s->avail_out;
	if (!fin || *used < inlen || z->inf_tail < 4 || z->inf_pending)
		return (0);

	/* End of message. */
	z->inf_tail = 0;
	if (z->p.client_no_context_takeover) {
		/* Nothing carries over: hold no memory between messages. */
		inflateEnd(s);
		z->inf_init = 0;
	}
	return (1);
}

static int
ws_deflate_deflate_init(struct ws_deflate *z)
{
	memset(&z->def, 0, sizeof z->def);
	z->def.zalloc = ws_deflate_zalloc;
	z->def.zfree = ws_deflate_zfree;
	z->def.opaque = z;
	if (deflateInit2(&z->def, z->o.level, Z_DEFLATED, -z->def_wbits,
	    z->o.mem_level, Z_DEFAULT_STRATEGY) != Z_OK)
		return (-1);
	z->def_init = 1;
	return (0);
}

int
ws_deflate_compress(struct ws_deflate *z, const uint8_t *in, size_t inlen,
    int fin, size_t *used, uint8_t *out, size_t outlen, size_t *got)
{
	z_stream	*s = &z->def;
	size_t		 inmax = MIN(inlen, UINT_MAX), outmax = MIN(outlen, UINT_MAX);
	int		 r;

	if (outlen < WS_DEFLATE_OUT_MIN)
		abort();	/* our bug: see ws_deflate.h */
	*used = 0;
	*got = 0;
	if (!z->def_init && ws_deflate_deflate_init(z) == -1)
		return (-1);
	s->next_in = (Bytef *)(uintptr_t)in;
	s->avail_in = (uInt)inmax;
	s->next_out = out;
	s->avail_out = (uInt)outmax;
	r = deflate(s, fin && inmax == inlen ? Z_SYNC_FLUSH : Z_NO_FLUSH);
	*used = inmax - s->avail_in;
	*got = outmax - s->avail_out;
	if (r != Z_OK && r != Z_BUF_ERROR)
		return (-1);
	if (*used < inlen)
		return (0);
	/* A sync flush that filled out may not be complete: call again. */
	if (fin && s->avail_out == 0)
		return (0);
	if (fin && z->p.server_no_context_takeover)
		deflateReset(s);
	return (1);
}

void
ws_deflate_compress_discard(struct ws_deflate *z)
{
	if (z->def_init)
		deflateReset(&z->def);
}
