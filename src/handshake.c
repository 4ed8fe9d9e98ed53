/*
 * handshake.c -- the WebSocket opening handshake decisions (RFC 6455 4.2,
 * RFC 8441): request checks, route and Origin policy, subprotocol choice,
 * Sec-WebSocket-Accept.
 */
#include "wsb_autoconf.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>

#include "handshake.h"
#include "http1.h"
#include "util.h"

/* RFC 6455 1.3: appended to the key before hashing. */
#define WS_GUID		"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
#define WS_KEY_LEN	24	/* base64 of 16 bytes */

void
ws_offer_clear(struct ws_offer *o)
{
	free(o->path);
	free(o->query);
	free(o->host);
	free(o->origin);
	free(o->protocols);
	free(o->extensions);
	free(o->user_agent);
	free(o->key);
	free(o->forwarded_for);
	free(o->forwarded);
	memset(o, 0, sizeof *o);
}

/*
 * Returns a copy of every value of the header name joined with ", " (a list
 * header sent as several lines means the same as one line, RFC 9110 5.3), or
 * NULL if there is none. The caller frees the result.
 */
static char *
handshake_join(const struct http1_request *req, const char *name)
{
	const struct http1_header	*h;
	char				*s = NULL;
	size_t				 i, len = 0;

	for (i = 0; i < req->nheaders; i++) {
		h = &req->headers[i];
		if (!strncaseeq(h->name, h->name_len, name))
			continue;
		if (s == NULL) {
			s = xstrndup(h->value, h->value_len);
			len = h->value_len;
			continue;
		}
		if (h->value_len == 0)
			continue;
		if (len == 0) {
			free(s);
			s = xstrndup(h->value, h->value_len);
			len = h->value_len;
			continue;
		}
		/* Bounded by the head size limit, so no overflow. */
		s = xreallocarray(s, 1, len + 2 + h->value_len + 1);
		memcpy(s + len, ", ", 2);
		memcpy(s + len + 2, h->value, h->value_len);
		len += 2 + h->value_len;
		s[len] = '\0';
	}
	return (s);
}

static int	handshake_has_body(const struct http1_request *);

/*
 * Sec-WebSocket-Version, the same rule over HTTP/1.1 and HTTP/2. A missing
 * version is a malformed handshake (RFC 6455 4.2.1 makes the header
 * mandatory), so 400; a version we do not speak is the negotiable case of
 * 4.4 and gets 426 with the one we do. Returns 0 or the status.
 */
static int
handshake_check_version(const struct http1_request *f, const char **why)
{
	const struct http1_header	*h;

	switch (http1_count(f, "Sec-WebSocket-Version")) {
	case 0:
		*why = "missing Sec-WebSocket-Version";
		return (400);
	case 1:
		break;
	default:
		*why = "more than one Sec-WebSocket-Version";
		return (400);
	}
	h = http1_find(f, "Sec-WebSocket-Version");
	if (h->value_len != 2 || memcmp(h->value, "13", 2) != 0) {
		*why = "Sec-WebSocket-Version is not 13";
		return (426);
	}
	return (0);
}

/* Returns a copy of the first value of header name, or NULL. */
static char *
handshake_first(const struct http1_request *req, const char *name)
{
	const struct http1_header	*h;

	if ((h = http1_find(req, name)) == NULL)
		return (NULL);
	return (xstrndup(h->value, h->value_len));
}

int
handshake_check_http1(const struct http1_request *req, struct ws_offer *o,
    const char **why)
{
	const char			*q;
	int				 status;

	memset(o, 0, sizeof *o);
	o->http_version = 11;

	/*
	 * Copy what the caller may want to log before judging anything. Only
	 * origin-form targets are ours (RFC 9112 3.2.1): a WebSocket URI
	 * never sends absolute-form to its server.
	 */
	if (req->target_len > 0 && req->target[0] == '/') {
		q = memchr(req->target, '?', req->target_len);
		if (q == NULL)
			o->path = xstrndup(req->target, req->target_len);
		else {
			o->path = xstrndup(req->target,
			    (size_t)(q - req->target));
			o->query = xstrndup(q + 1,
			    req->target_len - (size_t)(q - req->target) - 1);
		}
	}
	o->host = handshake_first(req, "Host");
	o->origin = handshake_first(req, "Origin");
	o->protocols = handshake_join(req, "Sec-WebSocket-Protocol");
	o->extensions = handshake_join(req, "Sec-WebSocket-Extensions");
	o->user_agent = handshake_first(req, "User-Agent");
	o->key = handshake_first(req, "Sec-WebSocket-Key");
	o->forwarded_for = handshake_join(req, "X-Forwarded-For");
	o->forwarded = handshake_join(req, "Forwarded");

	/* Methods are case-sensitive (RFC 9110 9.1): "get" is not GET. */
	if (req->method_len != 3 || memcmp(req->method, "GET", 3) != 0) {
		*why = "method is not GET";
		return (405);
	}
	if (req->version_major != 1 || req->version_minor < 1) {
		*why = "HTTP version below 1.1";
		return (400);
	}
	if (o->path == NULL) {
		*why = "request target is not origin-form";
		return (400);
	}
	if (http1_count(req, "Host") != 1) {
		*why = o->host == NULL ? "missing Host" : "more than one Host";
		return (400);
	}
	if (!http1_has_token(req, "Upgrade", "websocket")) {
		*why = "no Upgrade: websocket";
		return (426);
	}
	if (!http1_has_token(req, "Connection", "upgrade")) {
		*why = "no Connection: upgrade";
		return (426);
	}

	if ((status = handshake_check_version(req, why)) != 0)
		return (status);

	switch (http1_count(req, "Sec-WebSocket-Key")) {
	case 0:
		*why = "missing Sec-WebSocket-Key";
		return (400);
	case 1:
		break;
	default:
		*why = "more than one Sec-WebSocket-Key";
		return (400);
	}
	if (!handshake_key_valid(o->key)) {
		*why = "Sec-WebSocket-Key is not base64 of 16 bytes";
		return (400);
	}

	/*
	 * Two Origin lines would leave the allowlist check judging only one of
	 * them; a browser never sends that (RFC 6454 7.3).
	 */
	if (http1_count(req, "Origin") > 1) {
		*why = "more than one Origin";
		return (400);
	}

	/*
	 * An upgrade request has no body: body bytes would be read as
	 * frames, and a front proxy that sees the body differently could be
	 * fooled into smuggling frames (RFC 9112 6.3, RFC 6455 4.1).
	 */
	if (http1_count(req, "Transfer-Encoding") > 0 ||
	    handshake_has_body(req)) {
		*why = "request with a body";
		return (400);
	}
	*why = NULL;
	return (0);
}

/* Returns 1 if a Content-Length header announces anything but 0. */
static int
handshake_has_body(const struct http1_request *req)
{
	size_t	i, j;

	for (i = 0; i < req->nheaders; i++) {
		const struct http1_header *h = &req->headers[i];

		if (!strncaseeq(h->name, h->name_len, "Content-Length"))
			continue;
		if (h->value_len == 0)
			return (1);
		for (j = 0; j < h->value_len; j++)
			if (h->value[j] != '0')
				return (1);
	}
	return (0);
}

int
handshake_check_h2(const struct h2_request *req, struct ws_offer *o,
    const char **why)
{
	const struct http1_request	*f = &req->fields;
	const char			*q;
	int				 status;

	memset(o, 0, sizeof *o);
	o->http_version = 20;
	if (req->path != NULL && req->path[0] == '/') {
		if ((q = strchr(req->path, '?')) == NULL)
			o->path = xstrdup(req->path);
		else {
			o->path = xstrndup(req->path, (size_t)(q - req->path));
			o->query = xstrdup(q + 1);
		}
	}
	if (req->authority != NULL)
		o->host = xstrdup(req->authority);
	o->origin = handshake_first(f, "Origin");
	o->protocols = handshake_join(f, "Sec-WebSocket-Protocol");
	o->extensions = handshake_join(f, "Sec-WebSocket-Extensions");
	o->user_agent = handshake_first(f, "User-Agent");
	o->forwarded_for = handshake_join(f, "X-Forwarded-For");
	o->forwarded = handshake_join(f, "Forwarded");

	if (req->method == NULL) {
		*why = "no :method";
		return (400);
	}
	if (strcmp(req->method, "GET") == 0 ||
	    strcmp(req->method, "HEAD") == 0) {
		*why = "no page here: WebSockets use extended CONNECT";
		return (404);
	}
	if (strcmp(req->method, "CONNECT") != 0) {
		*why = "method is not CONNECT";
		return (405);
	}
	if (req->protocol == NULL) {
		*why = "CONNECT without :protocol (not a proxy)";
		return (405);
	}
	if (strcasecmp(req->protocol, "websocket") != 0) {
		*why = ":protocol is not websocket";
		return (501);
	}
	/* RFC 8441 4: :scheme and :path are present for extended CONNECT. */
	if (req->scheme == NULL || (strcmp(req->scheme, "https") != 0 &&
	    strcmp(req->scheme, "http") != 0)) {
		*why = ":scheme is not https or http";
		return (400);
	}
	if (o->path == NULL) {
		*why = ":path is not origin-form";
		return (400);
	}
	if (o->host == NULL) {
		*why = "missing :authority";
		return (400);
	}
	if ((status = handshake_check_version(f, why)) != 0)
		return (status);
	if (http1_count(f, "Origin") > 1) {
		*why = "more than one Origin";
		return (400);
	}
	*why = NULL;
	return (0);
}

/*
 * Returns 1 if the comma-separated offer holds proto exactly. Subprotocol
 * names are compared byte for byte: a browser fails the connection when the
 * answer is not one of the strings it offered.
 */
static int
handshake_offered(const char *offer, const char *proto)
{
	const char	*p = offer, *start, *end;

	while (*p != '\0') {
		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		start = p;
		while (*p != '\0' && *p != ',')
			p++;
		end = p;
		while (end > start && (end[-1] == ' ' || end[-1] == '\t'))
			end--;
		if (end > start && (size_t)(end - start) == strlen(proto) &&
		    memcmp(start, proto, (size_t)(end - start)) == 0)
			return (1);
	}
	return (0);
}

int
handshake_route(handshake_find_fn *find, const void *arg,
    const struct ws_offer *o, const struct route **rt,
    const char **subprotocol, const char **why)
{
	const struct route	*found;
	struct handshake_policy	 pol, *r = &pol;
	size_t			 i;
	int			 allowed;

	*rt = NULL;
	*subprotocol = NULL;
	*why = NULL;

	memset(&pol, 0, sizeof pol);
	if (o->path == NULL || (found = find(arg, o, &pol)) == NULL) {
		*why = pol.why != NULL ? pol.why : "no route for path";
		return (pol.status != 0 ? pol.status : 404);
	}

	/*
	 * Origins are compared as RFC 6454 serialises them, ASCII
	 * case-insensitively. "*" admits any request, one without Origin
	 * included (non-browser clients send none); with a real allowlist a
	 * request without Origin is refused, as that is what a page on
	 * another site could otherwise not be told apart from.
	 */
	if (r->norigins > 0) {
		allowed = 0;
		for (i = 0; i < r->norigins && !allowed; i++) {
			if (strcmp(r->origins[i], "*") == 0)
				allowed = 1;
			else if (o->origin != NULL &&
			    strcasecmp(r->origins[i], o->origin) == 0)
				allowed = 1;
		}
		if (!allowed) {
			*why = o->origin == NULL ? "missing Origin" :
			    "Origin not allowed";
			return (403);
		}
	}

	/* Our preference order wins; the answer is always one they offered. */
	if (o->protocols != NULL) {
		for (i = 0; i < r->nsubprotocols; i++) {
			if (handshake_offered(o->protocols,
			    r->subprotocols[i])) {
				*subprotocol = r->subprotocols[i];
				break;
			}
		}
	}
	if (*subprotocol == NULL && r->require_subprotocol) {
		*why = "no acceptable subprotocol offered";
		return (400);
	}
	*rt = found;
	return (0);
}

int
handshake_accept_key(const char *key, char out[WS_ACCEPT_LEN + 1])
{
	unsigned char	 md[EVP_MAX_MD_SIZE];
	unsigned int	 mdlen;
	char		*buf;
	int		 rc = -1;

	buf = xasprintf("%s%s", key, WS_GUID);
	if (EVP_Digest(buf, strlen(buf), md, &mdlen, EVP_sha1(), NULL) != 1)
		goto out;
	if (mdlen != 20)
		goto out;
	if (EVP_EncodeBlock((unsigned char *)out, md, (int)mdlen) !=
	    WS_ACCEPT_LEN)
		goto out;
	rc = 0;
out:
	free(buf);
	return (rc);
}

int
handshake_key_valid(const char *key)
{
	unsigned char	out[WS_KEY_LEN];	/* decodes to 18 with padding */
	size_t		i;
	int		n;

	if (key == NULL || strlen(key) != WS_KEY_LEN)
		return (0);
	for (i = 0; i < WS_KEY_LEN - 2; i++) {
		if (strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
		    "0123456789+/", key[i]) == NULL)
			return (0);
	}
	if (key[WS_KEY_LEN - 2] != '=' || key[WS_KEY_LEN - 1] != '=')
		return (0);

	/*
	 * EVP_DecodeBlock counts the two padding bytes as data: 24 characters
	 * come out as 18 bytes of which the last two are padding, 16 real.
	 * Non-zero bits under the padding are tolerated (RFC 4648 3.5 lets
	 * decoders accept them); the key is only hashed, never decoded.
	 */
	n = EVP_DecodeBlock(out, (const unsigned char *)key, WS_KEY_LEN);
	return (n == 18);
}
