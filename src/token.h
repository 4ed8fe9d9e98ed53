/*
 * token.h -- token sources: where a route whose target is "token" finds the
 * backend for a client's token, read the way websockify's token plugins read
 * them (TokenFile, ReadOnlyTokenFile, TokenFileName,
 * UnixDomainSocketDirectory), and the token's place in a request (the
 * "token" query parameter, or the Host header).
 */
#ifndef TOKEN_H
#define TOKEN_H

#include <stddef.h>
#include <time.h>

enum token_plugin {
	TOKEN_FILE = 0,		/* file or directory, re-read when it changed */
	TOKEN_FILE_RO,		/* the same, read once at the first lookup */
	TOKEN_FILENAME,		/* directory of files named by token */
	TOKEN_UDS_DIR,		/* directory of unix sockets named by token */
	TOKEN_JWT,		/* a signed JWT naming the target (token_jwt.c) */
};

/*
 * Parses a plugin name as websockify takes it: "TokenFile", or with the
 * module, "websockify.token_plugins.TokenFile". Returns 0, or -1 when the
 * name is not one wsbridge implements.
 */
int		 token_plugin_parse(const char *name, enum token_plugin *out);
/* The short name of a plugin, for config lines and logs. */
const char	*token_plugin_name(enum token_plugin);

struct token_source;

/*
 * A source of the given plugin over path (a file or a directory). Checks
 * that path exists (and is a directory for TOKEN_FILENAME and
 * TOKEN_UDS_DIR), as a start-up
 * or reload error is better than a 404 for every client. Returns NULL with
 * *cause set (caller frees). The caller owns the result (token_source_free).
 * A source is used by one thread: each worker's config has its own.
 */
struct token_source *token_source_new(enum token_plugin, const char *path,
		    char **cause);
void		 token_source_free(struct token_source *);

/*
 * The target for token as a config target spec ("host:port", "[v6]:port"
 * or "unix:/path"), or NULL when the source has none. The result is
 * borrowed until the next call on src. Reads the files on the calling
 * thread: TokenFile only when a file's identity, size or time changed.
 */
const char	*token_source_lookup(struct token_source *src,
		    const char *token);

/*
 * Why the last token_source_lookup() on src found nothing: the HTTP status
 * (404, or 403 for a JWT whose signature does not verify) and, in *why, a
 * static reason or NULL for a plain "not found".
 */
int		 token_source_status(const struct token_source *src,
		    const char **why);

/*
 * websockify's host, port pair as a config target spec: "unix:PORT" for
 * the host "unix_socket", "[HOST]:PORT" for an IPv6 address. Caller frees.
 */
char		*token_spec(const char *host, size_t hostlen, const char *port);

/* JWTTokenApi (token_jwt.c). */
struct token_jwt_key;
/*
 * Reads a key file: a PEM public key (RSA for RS256, EC P-256 for ES256)
 * or a JWK "oct" secret, base64url (HS256). Returns NULL with *cause set.
 * The caller owns the result (token_jwt_key_free).
 */
struct token_jwt_key *token_jwt_key_load(const char *path, char **cause);
void		 token_jwt_key_free(struct token_jwt_key *);
/*
 * Verifies jwt (JWS compact form: HS256, RS256 or ES256) with k, honours
 * "nbf" and "exp" against now, and returns the claims' "host" and "port"
 * as a target spec (caller frees). Otherwise NULL, with *status 403 for a
 * signature that does not verify (or an algorithm the key is not for),
 * 404 for anything else, and a static reason in *why.
 */
char		*token_jwt_target(const struct token_jwt_key *k,
		    const char *jwt, time_t now, int *status, const char **why);

/*
 * Parses one line of a token file, "TOKEN: HOST:PORT" (or "TOKEN:
 * unix_socket:/PATH"), split at the first ": " as websockify splits it.
 * Returns 1 with *tok and *spec set to new strings (caller frees), 0 for a
 * blank or '#' comment line, -1 for a line with no target.
 */
int		 token_parse_line(const char *line, char **tok, char **spec);

/*
 * The value of the first non-empty "token" parameter in a query string
 * (without '?'), percent- and '+'-decoded, trailing newlines removed, as
 * websockify's parse_qs reading takes it. Returns a new string (caller
 * frees) or NULL when there is none.
 */
char		*token_from_query(const char *query);
/* The Host header up to its first ':' (websockify's --host-token). */
char		*token_from_host(const char *host);

/*
 * Masks, in place, the value of every "token" parameter of a query string
 * past what token_redact() shows, with '*': the facts that the frame log,
 * the control socket and the dashboard keep of a request never hold a
 * whole token. The length stays, so the string keeps its allocation.
 */
void		 token_mask_query(char *query);
/*
 * A request target (len bytes, not NUL-terminated) for a log line: copied
 * into buf (size bytes, cut if longer) with the token of its query, and of
 * a query nested in a parameter (noVNC's path=websockify?token=X), masked
 * as token_mask_query() does. Returns buf.
 */
const char	*token_mask_target(const char *target, size_t len, char *buf,
		    size_t size);

/*
 * What a log line may show of a token: its first characters and its
 * length, never the whole of it. Fills buf and returns it.
 */
const char	*token_redact(const char *token, char *buf, size_t len);

#endif
