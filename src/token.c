/*
 * token.c -- token sources read as websockify's token plugins read them:
 * TokenFile (re-read when changed), ReadOnlyTokenFile (read once),
 * TokenFileName (one file per token) and UnixDomainSocketDirectory (one
 * socket per token), and the token's place in a request.
 */
#include "wsb_autoconf.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "token.h"
#include "util.h"

/*
 * A token file's line, a TokenFileName file and a token itself are
 * written by the operator or sent by a client: each is bounded so that a
 * stray binary file or a huge query costs a log line, not memory.
 */
#define TOKEN_FILE_MAX		(64 * 1024 * 1024)
#define TOKEN_NAMEFILE_MAX	4096
#define TOKEN_DIR_MAX		100000	/* files in a token directory */

struct token_entry {
	char	*tok;
	char	*spec;
	size_t	 seq;		/* order read: the last of a token wins */
};

struct token_source {
	enum token_plugin	 plugin;
	char			*path;
	int			 loaded;
	uint64_t		 sig;	/* of the files last read */
	struct token_entry	*v;	/* sorted by tok, one per token */
	size_t			 n;
	char			*result;	/* TOKEN_FILENAME's last answer */
	struct token_jwt_key	*jwt;		/* TOKEN_JWT's key */
	int			 status;	/* of the last lookup that failed */
	const char		*why;
};

static const struct {
	const char		*name;
	enum token_plugin	 plugin;
} token_plugins[] = {
	{ "TokenFile",		TOKEN_FILE },
	{ "ReadOnlyTokenFile",	TOKEN_FILE_RO },
	{ "TokenFileName",	TOKEN_FILENAME },
	{ "UnixDomainSocketDirectory", TOKEN_UDS_DIR },
	{ "JWTTokenApi",	TOKEN_JWT },
};

int
token_plugin_parse(const char *name, enum token_plugin *out)
{
	static const char	 prefix[] = "websockify.token_plugins.";
	size_t			 i;

	if (strncmp(name, prefix, sizeof prefix - 1) == 0)
		name += sizeof prefix - 1;
	for (i = 0; i < nitems(token_plugins); i++) {
		if (strcmp(name, token_plugins[i].name) == 0) {
			*out = token_plugins[i].plugin;
			return (0);
		}
	}
	return (-1);
}

const char *
token_plugin_name(enum token_plugin p)
{
	size_t	i;

	for (i = 0; i < nitems(token_plugins); i++)
		if (token_plugins[i].plugin == p)
			return (token_plugins[i].name);
	return ("?");
}

struct token_source *
token_source_new(enum token_plugin plugin, const char *path, char **cause)
{
	struct token_source	*src;
	struct stat		 sb;

	if (stat(path, &sb) == -1) {
		*cause = xasprintf("token source %s: %s", path,
		    strerror(errno));
		return (NULL);
	}
	if ((plugin == TOKEN_FILENAME || plugin == TOKEN_UDS_DIR) &&
	    !S_ISDIR(sb.st_mode)) {
		*cause = xasprintf("token source %s: %s needs a directory",
		    path, token_plugin_name(plugin));
		return (NULL);
	}
	src = xcalloc(1, sizeof *src);
	src->plugin = plugin;
	src->path = xstrdup(path);
	/* websockify reads the key at each lookup; here at start and reload. */
	if (plugin == TOKEN_JWT &&
	    (src->jwt = token_jwt_key_load(path, cause)) == NULL) {
		token_source_free(src);
		return (NULL);
	}
	return (src);
}

static void
token_entries_free(struct token_entry *v, size_t n)
{
	size_t	i;

	for (i = 0; i < n; i++) {
		free(v[i].tok);
		free(v[i].spec);
	}
	free(v);
}

void
token_source_free(struct token_source *src)
{
	if (src == NULL)
		return;
	token_entries_free(src->v, src->n);
	token_jwt_key_free(src->jwt);
	free(src->result);
	free(src->path);
	free(src);
}

char *
token_spec(const char *host, size_t hostlen, const char *port)
{
	if (hostlen == 11 && memcmp(host, "unix_socket", 11) == 0)
		return (xasprintf("unix:%s", port));
	if (hostlen > 0 && host[0] != '[' && memchr(host, ':', hostlen) != NULL)
		return (xasprintf("[%.*s]:%s", (int)hostlen, host, port));
	return (xasprintf("%.*s:%s", (int)hostlen, host, port));
}

/* Skips spaces from both ends of s[0..*n); returns the new start. */
static const char *
token_trim(const char *s, size_t *n)
{
	while (*n > 0 && (*s == ' ' || *s == '\t' || *s == '\r' ||
	    *s == '\n' || *s == '\f' || *s == '\v')) {
		s++;
		(*n)--;
	}
	while (*n > 0 && (s[*n - 1] == ' ' || s[*n - 1] == '\t' ||
	    s[*n - 1] == '\r' || s[*n - 1] == '\n' || s[*n - 1] == '\f' ||
	    s[*n - 1] == '\v'))
		(*n)--;
	return (s);
}

/*
 * "HOST:PORT" (split at the last ':') or "unix_socket:PATH" as a target
 * spec, or NULL when there is no ':' to split at.
 */
static char *
token_target(const char *s, size_t n)
{
	const char	*colon;
	char		*port, *spec;

	s = token_trim(s, &n);
	if (n > 12 && memcmp(s, "unix_socket:", 12) == 0) {
		port = xstrndup(s + 12, n - 12);
		spec = token_spec(s, 11, port);
		free(port);
		return (spec);
	}
	for (colon = s + n; colon > s && colon[-1] != ':'; colon--)
		;
	if (colon == s)
		return (NULL);
	colon--;
	port = xstrndup(colon + 1, (size_t)(s + n - colon - 1));
	spec = token_spec(s, (size_t)(colon - s), port);
	free(port);
	return (spec);
}

int
token_parse_line(const char *line, char **tok, char **spec)
{
	const char	*sep;
	size_t		 n = strlen(line);

	*tok = *spec = NULL;
	if (line[0] == '#')
		return (0);
	if (token_trim(line, &n), n == 0)
		return (0);
	/* websockify splits at ':' followed by whitespace. */
	for (sep = line; (sep = strchr(sep, ':')) != NULL; sep++) {
		if (sep[1] == ' ' || sep[1] == '\t')
			break;
	}
	if (sep == NULL)
		return (-1);
	if ((*spec = token_target(sep + 2, strlen(sep + 2))) == NULL)
		return (-1);
	*tok = xstrndup(line, (size_t)(sep - line));
	return (1);
}

/* FNV-1a over the bytes of one more part of a signature. */
static uint64_t
token_hash(uint64_t h, const void *p, size_t n)
{
	const unsigned char	*b = p;

	while (n-- > 0) {
		h ^= *b++;
		h *= 0x100000001b3ULL;
	}
	return (h);
}

static uint64_t
token_hash_stat(uint64_t h, const struct stat *sb)
{
	h = token_hash(h, &sb->st_dev, sizeof sb->st_dev);
	h = token_hash(h, &sb->st_ino, sizeof sb->st_ino);
	h = token_hash(h, &sb->st_size, sizeof sb->st_size);
	h = token_hash(h, &sb->st_mtim, sizeof sb->st_mtim);
	return (token_hash(h, &sb->st_ctim, sizeof sb->st_ctim));
}

static int
token_name_cmp(const void *a, const void *b)
{
	return (strcmp(*(char *const *)a, *(char *const *)b));
}

/*
 * The files a TokenFile source reads (the file itself, or the regular
 * files of the directory in name order) and their signature. Returns the
 * number of names in *names (caller frees each and the array), or -1 with
 * errno set when the source cannot be read.
 */
static ssize_t
token_files(const char *path, char ***names, uint64_t *sig)
{
	DIR		*d;
	struct dirent	*de;
	struct stat	 sb;
	char		**v = NULL, *full;
	size_t		 n = 0, i;
	uint64_t	 h = 0xcbf29ce484222325ULL;

	if (stat(path, &sb) == -1)
		return (-1);
	h = token_hash_stat(h, &sb);
	if (!S_ISDIR(sb.st_mode)) {
		v = xcalloc(1, sizeof *v);
		v[0] = xstrdup(path);
		*names = v;
		*sig = h;
		return (1);
	}
	if ((d = opendir(path)) == NULL)
		return (-1);
	while ((de = readdir(d)) != NULL && n < TOKEN_DIR_MAX) {
		if (de->d_name[0] == '.' && (de->d_name[1] == '\0' ||
		    (de->d_name[1] == '.' && de->d_name[2] == '\0')))
			continue;
		full = xasprintf("%s/%s", path, de->d_name);
		if (stat(full, &sb) == -1 || !S_ISREG(sb.st_mode)) {
			free(full);
			continue;
		}
		v = xreallocarray(v, n + 1, sizeof *v);
		v[n++] = full;
	}
	closedir(d);
	qsort(v, n, sizeof *v, token_name_cmp);
	/* Names and times in order, so an edit, an addition or a removal shows. */
	for (i = 0; i < n; i++) {
		h = token_hash(h, v[i], strlen(v[i]) + 1);
		if (stat(v[i], &sb) == 0)
			h = token_hash_stat(h, &sb);
	}
	*names = v;
	*sig = h;
	return ((ssize_t)n);
}

static int
token_entry_cmp(const void *a, const void *b)
{
	const struct token_entry	*x = a, *y = b;
	int				 c;

	if ((c = strcmp(x->tok, y->tok)) != 0)
		return (c);
	return (x->seq < y->seq ? -1 : x->seq > y->seq);
}

/* Adds the lines of one file to *v. Bad lines are logged, not fatal. */
static void
token_read_file(const char *file, struct token_entry **v, size_t *n,
    size_t *seq)
{
	FILE		*f;
	struct stat	 sb;
	char		*line = NULL, *tok, *spec;
	size_t		 size = 0;
	ssize_t		 len;
	int		 lineno = 0;

	if ((f = fopen(file, "r")) == NULL) {
		log_warn("token file %s: %s", file, strerror(errno));
		return;
	}
	if (fstat(fileno(f), &sb) == 0 && sb.st_size > TOKEN_FILE_MAX) {
		log_warn("token file %s: larger than %d bytes, ignored", file,
		    TOKEN_FILE_MAX);
		fclose(f);
		return;
	}
	while ((len = getline(&line, &size, f)) != -1) {
		lineno++;
		if (memchr(line, '\0', (size_t)len) != NULL) {
			log_warn("%s:%d: NUL byte in line", file, lineno);
			continue;
		}
		switch (token_parse_line(line, &tok, &spec)) {
		case 1:
			*v = xreallocarray(*v, *n + 1, sizeof **v);
			(*v)[*n].tok = tok;
			(*v)[*n].spec = spec;
			(*v)[*n].seq = (*seq)++;
			(*n)++;
			break;
		case -1:
			log_warn("%s:%d: syntax error: expected "
			    "'TOKEN: HOST:PORT'", file, lineno);
			break;
		}
	}
	free(line);
	fclose(f);
}

/* (Re)reads a TokenFile source when its files changed. */
static void
token_load(struct token_source *src)
{
	struct token_entry	*v = NULL;
	char			**names;
	size_t			 n = 0, seq = 0, i, j;
	ssize_t			 nfiles;
	uint64_t		 sig;

	if (src->loaded && src->plugin == TOKEN_FILE_RO)
		return;
	if ((nfiles = token_files(src->path, &names, &sig)) == -1) {
		/* Keep serving what was read: a rename-into-place races. */
		log_warn("token source %s: %s", src->path, strerror(errno));
		return;
	}
	if (src->loaded && sig == src->sig)
		goto out;
	for (i = 0; i < (size_t)nfiles; i++)
		token_read_file(names[i], &v, &n, &seq);
	qsort(v, n, sizeof *v, token_entry_cmp);
	/* Keep the last of each token, as a later dict assignment wins. */
	for (i = j = 0; i < n; i++) {
		if (i + 1 < n && strcmp(v[i].tok, v[i + 1].tok) == 0) {
			free(v[i].tok);
			free(v[i].spec);
			continue;
		}
		v[j++] = v[i];
	}
	token_entries_free(src->v, src->n);
	src->v = v;
	src->n = j;
	if (src->loaded)
		log_info("token source %s re-read: %zu tokens", src->path, j);
	src->loaded = 1;
	src->sig = sig;
out:
	for (i = 0; i < (size_t)nfiles; i++)
		free(names[i]);
	free(names);
}

/* TokenFileName: the file named by the token's last path component. */
static const char *
token_lookup_name(struct token_source *src, const char *token)
{
	const char	*base;
	char		*file, buf[TOKEN_NAMEFILE_MAX];
	ssize_t		 n;
	int		 fd;

	base = strrchr(token, '/') != NULL ? strrchr(token, '/') + 1 : token;
	if (*base == '\0' || strcmp(base, ".") == 0 || strcmp(base, "..") == 0)
		return (NULL);
	file = xasprintf("%s/%s", src->path, base);
	fd = open(file, O_RDONLY | O_NONBLOCK | O_NOCTTY);
	free(file);
	if (fd == -1)
		return (NULL);
	n = read(fd, buf, sizeof buf);
	close(fd);
	if (n <= 0)
		return (NULL);
	free(src->result);
	src->result = token_target(buf, (size_t)n);
	return (src->result);
}

/*
 * UnixDomainSocketDirectory: the socket named by the token in the
 * directory. A token with a '/' or a dot name could leave the directory
 * (websockify's prefix check lets "../x" through): none is looked up.
 */
static const char *
token_lookup_socket(struct token_source *src, const char *token)
{
	struct sockaddr_un	 sun;
	struct stat		 sb;
	char			*path;

	if (*token == '\0' || strchr(token, '/') != NULL ||
	    strcmp(token, ".") == 0 || strcmp(token, "..") == 0)
		return (NULL);
	path = xasprintf("%s/%s", src->path, token);
	if (strlen(path) >= sizeof sun.sun_path || stat(path, &sb) == -1 ||
	    !S_ISSOCK(sb.st_mode)) {
		free(path);
		return (NULL);
	}
	free(src->result);
	src->result = xasprintf("unix:%s", path);
	free(path);
	return (src->result);
}

const char *
token_source_lookup(struct token_source *src, const char *token)
{
	size_t	lo = 0, hi, mid;
	int	c;

	src->status = 404;
	src->why = NULL;
	if (src->plugin == TOKEN_FILENAME)
		return (token_lookup_name(src, token));
	if (src->plugin == TOKEN_UDS_DIR)
		return (token_lookup_socket(src, token));
	if (src->plugin == TOKEN_JWT) {
		free(src->result);
		src->result = token_jwt_target(src->jwt, token, time(NULL),
		    &src->status, &src->why);
		return (src->result);
	}
	token_load(src);
	hi = src->n;
	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if ((c = strcmp(token, src->v[mid].tok)) == 0)
			return (src->v[mid].spec);
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return (NULL);
}

int
token_source_status(const struct token_source *src, const char **why)
{
	*why = src->why;
	return (src->status);
}

/*
 * Decodes s[0..n) as application/x-www-form-urlencoded into a new string.
 * A bad escape stays as written. *nul is set when %00 appeared.
 */
static char *
token_decode(const char *s, size_t n, int *nul)
{
	char	*out, *p;
	size_t	 i;
	int	 hi, lo;

	*nul = 0;
	out = p = xmalloc(n + 1);
	for (i = 0; i < n; i++) {
		if (s[i] == '+')
			*p++ = ' ';
		else if (s[i] == '%' && i + 2 < n &&
		    (hi = hexval(s[i + 1])) != -1 &&
		    (lo = hexval(s[i + 2])) != -1) {
			*p = (char)(hi << 4 | lo);
			if (*p == '\0')
				*nul = 1;
			p++;
			i += 2;
		} else
			*p++ = s[i];
	}
	*p = '\0';
	return (out);
}

char *
token_from_query(const char *query)
{
	const char	*p, *end, *eq;
	char		*name, *value;
	size_t		 len;
	int		 nul, nul2;

	if (query == NULL)
		return (NULL);
	for (p = query; *p != '\0'; p = *end == '\0' ? end : end + 1) {
		end = p + strcspn(p, "&");
		if ((eq = memchr(p, '=', (size_t)(end - p))) == NULL ||
		    eq + 1 == end)
			continue;	/* parse_qs drops these */
		name = token_decode(p, (size_t)(eq - p), &nul);
		if (nul || strcmp(name, "token") != 0) {
			free(name);
			continue;
		}
		free(name);
		value = token_decode(eq + 1, (size_t)(end - eq - 1), &nul2);
		if (nul2)
			value[0] = '\0';	/* no source holds such a token */
		len = strlen(value);
		while (len > 0 && value[len - 1] == '\n')
			value[--len] = '\0';
		return (value);
	}
	return (NULL);
}

char *
token_from_host(const char *host)
{
	if (host == NULL)
		return (NULL);
	return (xstrndup(host, strcspn(host, ":")));
}

/* How much of an n-byte token may be shown: a third, at most 3 bytes. */
static size_t
token_shown(size_t n)
{
	return (n / 3 < 3 ? n / 3 : 3);
}

void
token_mask_query(char *query)
{
	char	*p, *end, *eq, *name;
	size_t	 i, n;
	int	 nul;

	if (query == NULL)
		return;
	for (p = query; *p != '\0'; p = *end == '\0' ? end : end + 1) {
		end = p + strcspn(p, "&");
		if ((eq = memchr(p, '=', (size_t)(end - p))) == NULL)
			continue;
		name = token_decode(p, (size_t)(eq - p), &nul);
		if (strcmp(name, "token") == 0) {
			n = (size_t)(end - eq - 1);
			for (i = token_shown(n); i < n; i++)
				eq[1 + i] = '*';
		}
		free(name);
	}
}

const char *
token_mask_target(const char *target, size_t len, char *buf, size_t size)
{
	char	*q;
	size_t	 n = len < size ? len : size - 1;

	memcpy(buf, target, n);
	buf[n] = '\0';
	for (q = strchr(buf, '?'); q != NULL; q = strchr(q + 1, '?'))
		token_mask_query(q + 1);
	return (buf);
}

const char *
token_redact(const char *token, char *buf, size_t len)
{
	size_t	n = strlen(token), show, i;
	char	head[4];

	show = token_shown(n);
	for (i = 0; i < show; i++)
		head[i] = token[i] > 0x20 && token[i] < 0x7f ? token[i] : '?';
	head[show] = '\0';
	snprintf(buf, len, "%s...(%zu chars)", head, n);
	return (buf);
}
