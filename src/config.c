/*
 * config.c -- builds one immutable configuration from a line-based file and
 * command-line flags, and looks routes up in it.
 */
#include "wsb_autoconf.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/ssl.h>

#include "cidr.h"
#include "config.h"
#include "handshake.h"
#include "log.h"
#include "proxyproto.h"
#include "tls_client.h"
#include "token.h"
#include "util.h"

#define CONFIG_MAX_FRAME_MIN	1
#define CONFIG_MAX_FRAME_MAX	(16 * 1024 * 1024)
#define CONFIG_MAX_HEAD_MIN	1024
#define CONFIG_WORKERS_MAX	64	/* event loops; more than cores only costs */
#define CONFIG_MAX_HEAD_MAX	(1024 * 1024)
#define CONFIG_BUFFER_MIN	(4 * 1024)
#define CONFIG_BUFFER_MAX	(1024 * 1024 * 1024)
_Static_assert(CONFIG_BUFFER_MAX <= UINT32_MAX &&
    CONFIG_MAX_FRAME_MAX <= UINT32_MAX,
    "struct tunnel keeps buffer-size and max-frame in 32 bits");
#define CONFIG_H2_STREAMS_MAX	10000
/*
 * Control clients: each holds a queue of unread output. The smallest
 * budget stays above the 256 KiB past which events are dropped, so a
 * lagging subscriber loses events before it is cut.
 */
#define CONFIG_CONTROL_CLIENTS_MAX	1024
#define CONFIG_CONTROL_BUFFER_MIN	(1024 * 1024)
#define CONFIG_CONTROL_BUFFER_MAX	(1024 * 1024 * 1024)
/*
 * Distinct targets one token route makes routes for before a reload: each
 * lives as long as the config (a live tunnel may use it), so a token file
 * rewritten with new targets again and again must not grow memory forever.
 */
#define CONFIG_TOKEN_TARGETS_MAX	10000

/* A token route's source and the routes made for the targets it named. */
struct route_tokens {
	enum token_plugin	 plugin;
	char			*source;	/* as configured (a path) */
	int			 from_host;	/* token-from=host */
	int			 tls;		/* token-tls=yes */
	struct token_source	*src;
	struct route		**routes;	/* one per target spec */
	size_t			 nroutes;
};

/* A line split into words; the words are owned by the struct. */
struct config_words {
	char	**argv;
	size_t	  argc;
};

static void	config_route_clear(struct route *);
static int	config_unix_path(const char *, char **);

/* Sets *cause to a formatted message. Always returns -1. */
static int __attribute__((format(printf, 2, 3)))
config_error(char **cause, const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	*cause = xvasprintf(fmt, ap);
	va_end(ap);
	return (-1);
}

static void
config_route_defaults(struct route *r)
{
	memset(r, 0, sizeof *r);
	r->max_frame = 64 * 1024;
	r->max_message = 0;
	r->connect_timeout_ms = 10 * 1000;
	r->idle_timeout_ms = 0;
	r->ping_interval_ms = 0;
	r->pong_timeout_ms = 30 * 1000;
	/*
	 * permessage-deflate is off unless a route asks: it costs CPU and
	 * ~50 KiB of zlib state per connection, buys nothing for streams
	 * that are already compressed or encrypted (VNC, SSH), and mixing
	 * secrets with attacker-chosen bytes in one compressed stream opens
	 * CRIME/BREACH-style length oracles.
	 */
	ws_deflate_opts_init(&r->deflate);
}

struct config *
config_new(void)
{
	struct config	*cfg;

	cfg = xcalloc(1, sizeof *cfg);
	cfg->refcnt = 1;
	cfg->max_connections = 10000;
	cfg->workers = 1;
	cfg->max_head = 8 * 1024;
	cfg->handshake_timeout_ms = 10 * 1000;
	cfg->close_timeout_ms = 5 * 1000;
	cfg->shutdown_timeout_ms = 10 * 1000;
	cfg->keepalive_ms = 60 * 1000;
	cfg->buffer_size = 256 * 1024;
	cfg->h2_max_streams = 100;
	cfg->h2_idle_timeout_ms = 60 * 1000;
	cfg->log_level = LOGL_INFO;
	cfg->log_syslog = 0;
	config_route_defaults(&cfg->defaults);
	framelog_config_defaults(&cfg->log);
	/*
	 * The control socket names every peer and path: the owner only. Each
	 * client may hold control-client-buffer of unread output (or one
	 * larger answer), so the clients together hold at most 16 x 4 MiB =
	 * 64 MiB while no answer is larger (a list of up to about 4,000
	 * connections).
	 */
	cfg->control_mode = 0600;
	cfg->control_max_clients = 16;
	cfg->control_client_buffer = 4 * 1024 * 1024;
	cfg->admin_mode = 0600;
	return (cfg);
}

struct config *
config_ref(struct config *cfg)
{
	cfg->refcnt++;
	return (cfg);
}

static void
config_strv_free(char **v, size_t n)
{
	size_t	i;

	for (i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

static char **
config_strv_copy(char *const *v, size_t n)
{
	char	**c;
	size_t	  i;

	if (n == 0)
		return (NULL);
	c = xreallocarray(NULL, n, sizeof *c);
	for (i = 0; i < n; i++)
		c[i] = xstrdup(v[i]);
	return (c);
}

static void
config_target_clear(struct target *t)
{
	free(t->host);
	free(t->port);
	free(t->path);
	free(t->spec);
	SSL_CTX_free(t->tls_ctx);
	memset(t, 0, sizeof *t);
}

static void
config_route_tokens_free(struct route_tokens *rt)
{
	size_t	i;

	if (rt == NULL)
		return;
	for (i = 0; i < rt->nroutes; i++) {
		config_route_clear(rt->routes[i]);
		free(rt->routes[i]);
	}
	free(rt->routes);
	token_source_free(rt->src);
	free(rt->source);
	free(rt);
}

static void
config_route_clear(struct route *r)
{
	config_route_tokens_free(r->tokens);
	free(r->path);
	config_target_clear(&r->target);
	config_strv_free(r->subprotocols, r->nsubprotocols);
	config_strv_free(r->origins, r->norigins);
	free(r->backend_ca);
	memset(r, 0, sizeof *r);
}

/* Makes dst a deep copy of the policy in src: no path, no target. */
static void
config_route_copy_policy(struct route *dst, const struct route *src)
{
	*dst = *src;
	dst->path = NULL;
	dst->tokens = NULL;
	memset(&dst->target, 0, sizeof dst->target);
	dst->subprotocols = config_strv_copy(src->subprotocols,
	    src->nsubprotocols);
	dst->origins = config_strv_copy(src->origins, src->norigins);
	dst->backend_ca = src->backend_ca != NULL ?
	    xstrdup(src->backend_ca) : NULL;
}

void
config_free(struct config *cfg)
{
	size_t	i;

	if (cfg == NULL)
		return;
	if (--cfg->refcnt > 0)
		return;
	for (i = 0; i < cfg->nlistens; i++) {
		free(cfg->listens[i].host);
		free(cfg->listens[i].port);
		free(cfg->listens[i].unix_path);
		free(cfg->listens[i].spec);
		free(cfg->listens[i].cert);
		free(cfg->listens[i].key);
		free(cfg->listens[i].ca);
		free(cfg->listens[i].ciphers);
		free(cfg->listens[i].key_password);
		free(cfg->listens[i].proxy_from);
		free(cfg->listens[i].key_password_file);
		free(cfg->listens[i].taken_fds);
	}
	free(cfg->listens);
	free(cfg->trusted_proxies);
	for (i = 0; i < cfg->nroutes; i++)
		config_route_clear(&cfg->routes[i]);
	free(cfg->routes);
	config_route_clear(&cfg->defaults);
	framelog_config_clear(&cfg->log);
	free(cfg->control);
	free(cfg->admin);
	free(cfg->admin_host);
	free(cfg->admin_unix);
	free(cfg->web_root);
	free(cfg->log_file);
	free(cfg->user);
	free(cfg->group);
	free(cfg->syslog_server);
	free(cfg->record);
	free(cfg->file);
	free(cfg);
}

static void
config_words_free(struct config_words *w)
{
	config_strv_free(w->argv, w->argc);
	w->argv = NULL;
	w->argc = 0;
}

/*
 * Splits line into words separated by spaces and tabs. A double-quoted
 * section may hold spaces, '#' and, escaped with a backslash, '"' and '\';
 * it may sit inside a word (key="a b"). A '#' at the start of a word begins a
 * comment to the end of the line, as in sh(1), so values such as a "#"
 * subprotocol token still work unquoted inside a word. Returns 0, or -1 with
 * *cause set.
 */
static int
config_split(const char *line, struct config_words *w, char **cause)
{
	const char	*p = line;
	char		*word;
	size_t		 len;
	int		 quoted;

	memset(w, 0, sizeof *w);
	for (;;) {
		while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
			p++;
		if (*p == '\0' || *p == '#')
			return (0);

		/* A word is never longer than what is left of the line. */
		word = xmalloc(strlen(p) + 1);
		len = 0;
		quoted = 0;
		for (; *p != '\0'; p++) {
			if (quoted) {
				if (*p == '"') {
					quoted = 0;
					continue;
				}
				if (*p == '\\' && (p[1] == '"' || p[1] == '\\'))
					p++;
			} else {
				if (*p == ' ' || *p == '\t' || *p == '\r' ||
				    *p == '\n')
					break;
				if (*p == '"') {
					quoted = 1;
					continue;
				}
			}
			word[len++] = *p;
		}
		word[len] = '\0';
		if (quoted) {
			free(word);
			config_words_free(w);
			return (config_error(cause, "unterminated quote"));
		}
		w->argv = xreallocarray(w->argv, w->argc + 1, sizeof *w->argv);
		w->argv[w->argc++] = word;
	}
}

/* Returns 1 if s holds a control character (it came from inside quotes). */
static int
config_has_ctl(const char *s)
{
	for (; *s != '\0'; s++) {
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return (1);
	}
	return (0);
}

/* Parses "yes" or "no". Returns 0 or -1. */
static int
config_parse_bool(const char *s, int *out)
{
	if (strcmp(s, "yes") == 0)
		*out = 1;
	else if (strcmp(s, "no") == 0)
		*out = 0;
	else
		return (-1);
	return (0);
}

/* Parses a numeric port into *port. Returns 0 or -1. */
static int
config_parse_port(const char *s, unsigned *port)
{
	uint64_t	v;

	if (parse_u64(s, strlen(s), &v) != 0 || v > 65535)
		return (-1);
	*port = (unsigned)v;
	return (0);
}

/*
 * Returns 1 if s[0..n) can be a host name or an address literal (an IPv6 one
 * when v6, possibly with a %zone). Anything else is a typo or stray quoting
 * that getaddrinfo would only report once per client.
 */
static int
config_host_valid(const char *s, size_t n, int v6)
{
	size_t	i;
	char	c;

	if (n == 0)
		return (0);
	for (i = 0; i < n; i++) {
		c = s[i];
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '.' || c == '-' || c == '_')
			continue;
		if (v6 && (c == ':' || c == '%'))
			continue;
		return (0);
	}
	return (1);
}

/*
 * Splits "HOST:PORT", "[V6]:PORT" or, when bare_port (a listen address),
 * "PORT" and "*:PORT" into a copy of the host (NULL for a bare port) and the
 * numeric port. Returns 0, or -1 with
 * *cause set.
 */
static int
config_split_hostport(const char *spec, int bare_port, char **host,
    unsigned *port, char **cause)
{
	const char	*colon, *end;

	*host = NULL;
	if (spec[0] == '[') {
		if ((end = strchr(spec, ']')) == NULL)
			return (config_error(cause, "missing ']' in '%s'", spec));
		if (end == spec + 1)
			return (config_error(cause, "empty address in '%s'",
			    spec));
		if (end[1] != ':')
			return (config_error(cause, "missing port in '%s'",
			    spec));
		if (memchr(spec + 1, ':', (size_t)(end - spec - 1)) == NULL)
			return (config_error(cause,
			    "'%s': brackets are for IPv6 addresses", spec));
		if (!config_host_valid(spec + 1, (size_t)(end - spec - 1), 1))
			return (config_error(cause, "bad address in '%s'",
			    spec));
		colon = end + 1;
		if (config_parse_port(colon + 1, port) != 0)
			return (config_error(cause, "bad port in '%s'", spec));
		*host = xstrndup(spec + 1, (size_t)(end - spec - 1));
		return (0);
	}
	if ((colon = strrchr(spec, ':')) == NULL) {
		if (!bare_port)
			return (config_error(cause, "missing port in '%s'",
			    spec));
		if (config_parse_port(spec, port) != 0)
			return (config_error(cause, "bad port '%s'", spec));
		return (0);
	}
	if (colon == spec) {
		/* ":PORT", as websockify takes it: every address. */
		if (!bare_port)
			return (config_error(cause, "empty host in '%s'",
			    spec));
		if (config_parse_port(colon + 1, port) != 0)
			return (config_error(cause, "bad port in '%s'", spec));
		return (0);
	}
	if (memchr(spec, ':', (size_t)(colon - spec)) != NULL)
		return (config_error(cause,
		    "'%s': put an IPv6 address in brackets", spec));
	if ((!bare_port || colon - spec != 1 || spec[0] != '*') &&
	    !config_host_valid(spec, (size_t)(colon - spec), 0))
		return (config_error(cause, "bad host in '%s'", spec));
	if (config_parse_port(colon + 1, port) != 0)
		return (config_error(cause, "bad port in '%s'", spec));
	*host = xstrndup(spec, (size_t)(colon - spec));
	return (0);
}

/* Sets *dst to a copy of a file option's value; each may be given once. */
static int
config_listen_file(const char *key, const char *value, char **dst,
    char **cause)
{
	if (*dst != NULL)
		return (config_error(cause, "%s given twice", key));
	if (*value == '\0')
		return (config_error(cause, "%s: empty file name", key));
	*dst = xstrdup(value);
	return (0);
}

/* proxy-protocol=v1|v2|any into the mask *out. */
static int
config_listen_proxy(const char *v, unsigned *out, char **cause)
{
	if (strcmp(v, "v1") == 0)
		*out = PROXYPROTO_V1;
	else if (strcmp(v, "v2") == 0)
		*out = PROXYPROTO_V2;
	else if (strcmp(v, "any") == 0)
		*out = PROXYPROTO_ANY;
	else
		return (config_error(cause, "proxy-protocol: expected v1, v2 "
		    "or any, not '%s'", v));
	return (0);
}

/*
 * A list of address ranges (proxy-from=, trusted-proxies) into *v (a new
 * array replacing one given before). Returns 0, or -1 with *cause naming
 * the item.
 */
static int
config_cidrs(const char *key, const char *s, struct cidr **v, size_t *n,
    char **cause)
{
	struct cidr	*nv;
	const char	*bad;
	size_t		 nn, badlen;

	if (cidr_parse_list(s, &nv, &nn, &bad, &badlen) != 0)
		return (config_error(cause, "%s: '%.*s' is not an address or "
		    "ADDRESS/BITS range (host bits zero)", key, (int)badlen,
		    bad));
	free(*v);
	*v = nv;
	*n = nn;
	return (0);
}

/* Sockets from the service manager (config_set_activation). */
static struct {
	int	  first_fd;
	char	**names;
	size_t	  n;
} config_activation;

void
config_set_activation(int first_fd, char **names, size_t n)
{
	config_activation.first_fd = first_fd;
	config_activation.names = names;
	config_activation.n = n;
}

static int config_listen_words(struct config *, char **, size_t, int,
    char **);

/*
 * "listen systemd[:NAME] [options]": one listener per socket the service
 * manager passed (named NAME, when given), each as "fd:N [options]"
 * would be. None passed at all (not started by a .socket unit; --check
 * from ExecStartPre=): one placeholder the start refuses with the reason.
 */
static int
config_listen_systemd(struct config *cfg, char **argv, size_t argc,
    int lineno, char **cause)
{
	const char		*name = argv[0][7] == ':' ? argv[0] + 8 : NULL;
	struct listen_cfg	*lc;
	char			*word = argv[0], *fdword, *spec;
	size_t			 i, found = 0;
	int			 rc = 0;

	if (argv[0][7] != '\0' && (name == NULL || *name == '\0'))
		return (config_error(cause, "bad listen address '%s' "
		    "(systemd or systemd:NAME)", argv[0]));
	for (i = 0; i < config_activation.n || (i == 0 &&
	    config_activation.n == 0); i++) {
		if (config_activation.n > 0 && name != NULL &&
		    (config_activation.names == NULL ||
		    config_activation.names[i] == NULL ||
		    strcmp(config_activation.names[i], name) != 0))
			continue;
		fdword = xasprintf("fd:%d", config_activation.n > 0 ?
		    config_activation.first_fd + (int)i : 3);
		argv[0] = fdword;
		rc = config_listen_words(cfg, argv, argc, lineno, cause);
		argv[0] = word;
		free(fdword);
		if (rc != 0)
			return (rc);
		lc = &cfg->listens[cfg->nlistens - 1];
		lc->systemd = 1;
		if (config_activation.n == 0)
			lc->inherit_fd = -1;
		/* The identity on reload: the name and the descriptor. */
		spec = xasprintf("%s#%d%s", word, lc->inherit_fd,
		    lc->spec + strcspn(lc->spec, " "));
		free(lc->spec);
		lc->spec = spec;
		found++;
	}
	if (found == 0)
		return (config_error(cause, "listen %s: the service manager "
		    "passed no socket named %s (FileDescriptorName= in the "
		    ".socket unit)", word, name));
	return (0);
}

/* Adds a listener from the words "ADDR [tls cert=FILE key=FILE [ca=FILE]]". */
static int
config_listen_words(struct config *cfg, char **argv, size_t argc, int lineno,
    char **cause)
{
	struct listen_cfg	 lc;
	char			*spec, *tmp;
	unsigned		 port = 0;
	size_t			 i;

	if (argc == 0)
		return (config_error(cause, "listen needs one address"));
	memset(&lc, 0, sizeof lc);
	if (config_has_ctl(argv[0]))
		return (config_error(cause, "bad listen address"));
	lc.inherit_fd = -1;
	if (strncmp(argv[0], "systemd", 7) == 0 && (argv[0][7] == '\0' ||
	    argv[0][7] == ':'))
		return (config_listen_systemd(cfg, argv, argc, lineno, cause));
	if (strncmp(argv[0], "unix:", 5) == 0) {
		if (config_unix_path(argv[0], cause) != 0)
			return (-1);
		lc.unix_path = xstrdup(argv[0] + 5);
		lc.unix_mode = 0600;
	} else if (strncmp(argv[0], "fd:", 3) == 0) {
		if (config_parse_port(argv[0] + 3, &port) != 0 || port > 1023)
			return (config_error(cause, "bad descriptor in '%s'",
			    argv[0]));
		lc.inherit_fd = (int)port;
	} else if (config_split_hostport(argv[0], 1, &lc.host, &port,
	    cause) != 0)
		return (-1);
	if (lc.host != NULL && strcmp(lc.host, "*") == 0) {
		/* "*:PORT": every address, as a bare port. */
		free(lc.host);
		lc.host = NULL;
	}
	for (i = 1; i < argc; i++) {
		if (config_has_ctl(argv[i])) {
			config_error(cause, "bad listen option");
			goto fail;
		}
		if (strcmp(argv[i], "tls") == 0)
			lc.tls = 1;
		else if (strcmp(argv[i], "tls=auto") == 0)
			lc.tls = lc.tls_auto = 1;
		else if (strcmp(argv[i], "verify-client") == 0)
			lc.verify_client = 1;
		else if (strncmp(argv[i], "cert=", 5) == 0) {
			if (config_listen_file("cert", argv[i] + 5, &lc.cert,
			    cause) != 0)
				goto fail;
		} else if (strncmp(argv[i], "key=", 4) == 0) {
			if (config_listen_file("key", argv[i] + 4, &lc.key,
			    cause) != 0)
				goto fail;
		} else if (strncmp(argv[i], "ca=", 3) == 0) {
			if (config_listen_file("ca", argv[i] + 3, &lc.ca,
			    cause) != 0)
				goto fail;
		} else if (strncmp(argv[i], "mode=", 5) == 0 &&
		    lc.unix_path != NULL) {
			if (parse_mode(argv[i] + 5, &lc.unix_mode) != 0) {
				config_error(cause, "mode: expected an octal "
				    "mode with 0600 in it, like 0660, not '%s'",
				    argv[i] + 5);
				goto fail;
			}
		} else if (strncmp(argv[i], "key-password=", 13) == 0) {
			if (lc.key_password != NULL) {
				config_error(cause, "key-password given twice");
				goto fail;
			}
			lc.key_password = xstrdup(argv[i] + 13);
		} else if (strncmp(argv[i], "key-password-file=", 18) == 0) {
			if (config_listen_file("key-password-file",
			    argv[i] + 18, &lc.key_password_file, cause) != 0)
				goto fail;
		} else if (strncmp(argv[i], "ciphers=", 8) == 0) {
			/* Checked by OpenSSL when the listener opens. */
			if (config_listen_file("ciphers", argv[i] + 8,
			    &lc.ciphers, cause) != 0)
				goto fail;
		} else if (strncmp(argv[i], "proxy-protocol=", 15) == 0) {
			if (config_listen_proxy(argv[i] + 15, &lc.proxy,
			    cause) != 0)
				goto fail;
		} else if (strncmp(argv[i], "proxy-from=", 11) == 0) {
			if (config_cidrs("proxy-from", argv[i] + 11,
			    &lc.proxy_from, &lc.nproxy_from, cause) != 0)
				goto fail;
		} else if (strcmp(argv[i], "min-tls=1.2") == 0 ||
		    strcmp(argv[i], "min-tls=1.3") == 0) {
			lc.tls13_only = argv[i][10] == '3';
		} else if (strncmp(argv[i], "min-tls=", 8) == 0) {
			config_error(cause, "min-tls: expected 1.2 or 1.3, not "
			    "'%s'", argv[i] + 8);
			goto fail;
		} else if (i == 1 && strchr(argv[i], '=') == NULL) {
			config_error(cause, "listen takes one address, then "
			    "options (tls[=auto] cert=FILE [key=FILE]); "
			    "got '%s'", argv[i]);
			goto fail;
		} else {
			config_error(cause, "unknown listen option '%s'",
			    argv[i]);
			goto fail;
		}
	}
	if (!lc.tls && (lc.cert != NULL || lc.key != NULL || lc.ca != NULL ||
	    lc.ciphers != NULL || lc.tls13_only || lc.verify_client ||
	    lc.key_password != NULL || lc.key_password_file != NULL)) {
		config_error(cause, "cert=, key=, ca=, key-password=, ciphers=, "
		    "min-tls= and verify-client need 'tls'");
		goto fail;
	}
	if (lc.proxy_from != NULL && lc.proxy == 0) {
		config_error(cause, "proxy-from= needs proxy-protocol=");
		goto fail;
	}
	if (lc.proxy != 0 && lc.proxy_from == NULL &&
	    config_cidrs("proxy-from", "127.0.0.0/8,::1", &lc.proxy_from,
	    &lc.nproxy_from, cause) != 0)
		goto fail;
	if (lc.key_password != NULL && lc.key_password_file != NULL) {
		config_error(cause, "key-password= and key-password-file= "
		    "both given");
		goto fail;
	}
	/* ca= alone has always meant: client certificates required. */
	if (lc.ca != NULL)
		lc.verify_client = 1;
	if (lc.tls && lc.cert == NULL) {
		config_error(cause, "tls needs cert=FILE [key=FILE]");
		goto fail;
	}
	/* No key=: the key is in the certificate file (a combined PEM). */
	if (lc.tls && lc.key == NULL)
		lc.key = xstrdup(lc.cert);
	spec = xstrdup(argv[0]);
	for (i = 1; i < argc; i++) {
		tmp = xasprintf("%s %s", spec, argv[i]);
		free(spec);
		spec = tmp;
	}
	if (lc.unix_path == NULL && lc.inherit_fd == -1)
		lc.port = xasprintf("%u", port);
	lc.spec = spec;
	lc.line = lineno;
	cfg->listens = xreallocarray(cfg->listens, cfg->nlistens + 1,
	    sizeof *cfg->listens);
	cfg->listens[cfg->nlistens++] = lc;
	return (0);
fail:
	free(lc.host);
	free(lc.unix_path);
	free(lc.cert);
	free(lc.key);
	free(lc.ca);
	free(lc.ciphers);
	free(lc.key_password);
	free(lc.proxy_from);
	free(lc.key_password_file);
	return (-1);
}

int
config_add_listen(struct config *cfg, const char *spec, int lineno,
    char **cause)
{
	struct config_words	w;
	int			rc;

	if (config_has_ctl(spec))
		return (config_error(cause, "bad listen address"));
	if (config_split(spec, &w, cause) != 0)
		return (-1);
	rc = config_listen_words(cfg, w.argv, w.argc, lineno, cause);
	config_words_free(&w);
	return (rc);
}

/*
 * "admin ADDR [mode=MODE]": HOST:PORT, [V6]:PORT, PORT or *:PORT (every
 * IPv4 address), or unix:/path (mode= for its file mode, 0600 by default).
 * A later line replaces an earlier one.
 */
static int
config_admin_words(struct config *cfg, char **argv, size_t argc,
    char **cause)
{
	char		*host = NULL;
	unsigned	 port = 0, mode = 0600;
	size_t		 i;

	if (argc == 0 || config_has_ctl(argv[0]))
		return (config_error(cause, "admin needs one address"));
	if (strncmp(argv[0], "unix:", 5) == 0) {
		if (config_unix_path(argv[0], cause) != 0)
			return (-1);
	} else if (config_split_hostport(argv[0], 1, &host, &port,
	    cause) != 0)
		return (-1);
	for (i = 1; i < argc; i++) {
		if (strncmp(argv[i], "mode=", 5) != 0 ||
		    strncmp(argv[0], "unix:", 5) != 0) {
			free(host);
			return (config_error(cause, "admin: unknown option '%s' "
			    "(only mode=MODE, for a unix socket)", argv[i]));
		}
		if (parse_mode(argv[i] + 5, &mode) != 0)
			return (config_error(cause, "admin: mode: expected an "
			    "octal mode with 0600 in it, like 0660, not '%s'",
			    argv[i] + 5));
	}
	if (host != NULL && strcmp(host, "*") == 0) {
		free(host);
		host = NULL;
	}
	free(cfg->admin);
	free(cfg->admin_host);
	free(cfg->admin_unix);
	cfg->admin = xstrdup(argv[0]);
	cfg->admin_host = host;
	cfg->admin_port = port;
	cfg->admin_unix = strncmp(argv[0], "unix:", 5) == 0 ?
	    xstrdup(argv[0] + 5) : NULL;
	cfg->admin_mode = mode;
	return (0);
}

/*
 * Checks "unix:/path" (a listen address or a target): absolute, and short
 * enough for sun_path, caught here rather than at bind or at every
 * client's connect. Returns 0, or -1 with *cause set.
 */
static int
config_unix_path(const char *spec, char **cause)
{
	struct sockaddr_un	sun;

	if (spec[5] != '/')
		return (config_error(cause,
		    "unix socket path must be absolute: '%s'", spec));
	if (strlen(spec + 5) >= sizeof sun.sun_path)
		return (config_error(cause,
		    "unix socket path too long: '%s'", spec));
	return (0);
}

/*
 * Fills t from "HOST:PORT", "[V6]:PORT", "tls:HOST:PORT", "unix:/path" or
 * "echo". A TLS target's context is made by config_route_words(), once the
 * route's backend-ca and backend-verify are known.
 */
static int
config_parse_target(const char *spec, struct target *t, char **cause)
{
	unsigned		 port;
	const char		*hp = spec;

	memset(t, 0, sizeof *t);
	if (config_has_ctl(spec))
		return (config_error(cause, "bad target"));
	if (strcmp(spec, "echo") == 0) {
		t->kind = TARGET_ECHO;
	} else if (strcmp(spec, "token") == 0) {
		t->kind = TARGET_TOKEN;
	} else if (strncmp(spec, "unix:", 5) == 0) {
		if (config_unix_path(spec, cause) != 0)
			return (-1);
		t->kind = TARGET_UNIX;
		t->path = xstrdup(spec + 5);
	} else {
		if (strncmp(spec, "tls:", 4) == 0)
			hp = spec + 4;
		if (config_split_hostport(hp, 0, &t->host, &port, cause) != 0)
			return (-1);
		if (port == 0) {
			config_target_clear(t);
			return (config_error(cause, "bad port in '%s'", spec));
		}
		t->kind = TARGET_TCP;
		t->port = xasprintf("%u", port);
		t->tls = hp != spec;
	}
	t->spec = xstrdup(spec);
	return (0);
}

/* Returns 1 if s is an RFC 9110 token. */
static int
config_is_token(const char *s, size_t n)
{
	size_t	i;
	char	c;

	if (n == 0)
		return (0);
	for (i = 0; i < n; i++) {
		c = s[i];
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9'))
			continue;
		if (c == '\0' || strchr("!#$%&'*+-.^_`|~", c) == NULL)
			return (0);
	}
	return (1);
}

/*
 * Checks an allowed-origin entry: "*", "null", or scheme "://" host [":"
 * port] as a browser serialises it (RFC 6454 6.2). A path or trailing slash
 * would never match any request, so it is an error rather than a silent 403.
 */
static int
config_origin_valid(const char *s)
{
	const char	*p, *host;

	if (strcmp(s, "*") == 0 || strcmp(s, "null") == 0)
		return (1);
	if ((p = strstr(s, "://")) == NULL || p == s)
		return (0);
	host = p + 3;
	if (*host == '\0')
		return (0);
	for (p = s; p < host; p++) {
		if ((unsigned char)*p <= 0x20 || *p == 0x7f)
			return (0);
	}
	for (p = host; *p != '\0'; p++) {
		if ((unsigned char)*p <= 0x20 || *p == 0x7f || *p == '/' ||
		    *p == '?' || *p == '#' || *p == ',')
			return (0);
	}
	return (1);
}

/*
 * Splits a comma-separated list, trimming spaces, into a new array. Each item
 * is checked with valid. Returns 0, or -1 with *cause set naming the item.
 */
static int
config_parse_list(const char *key, const char *s, int (*valid)(const char *),
    char ***out, size_t *nout, char **cause)
{
	const char	*p = s, *start, *end;
	char		**v = NULL, *item;
	size_t		  n = 0;

	while (*p != '\0') {
		while (*p == ' ' || *p == '\t')
			p++;
		start = p;
		while (*p != '\0' && *p != ',')
			p++;
		end = p;
		while (end > start && (end[-1] == ' ' || end[-1] == '\t'))
			end--;
		item = xstrndup(start, (size_t)(end - start));
		if (!valid(item)) {
			config_error(cause, "%s: bad value '%s'", key, item);
			free(item);
			config_strv_free(v, n);
			return (-1);
		}
		v = xreallocarray(v, n + 1, sizeof *v);
		v[n++] = item;
		if (*p == ',') {
			p++;
			if (*p == '\0') {
				config_strv_free(v, n);
				return (config_error(cause,
				    "%s: empty item in list", key));
			}
		}
	}
	*out = v;
	*nout = n;
	return (0);
}

static int
config_subprotocol_valid(const char *s)
{
	return (config_is_token(s, strlen(s)));
}

/* Parses a duration for key; must be non-zero when nonzero is set. */
static int
config_route_duration(const char *key, const char *value, int nonzero,
    unsigned *ms, char **cause)
{
	unsigned	v;

	if (parse_duration(value, &v) != 0)
		return (config_error(cause, "%s: bad duration '%s'", key,
		    value));
	if (nonzero && v == 0)
		return (config_error(cause, "%s: must not be 0", key));
	*ms = v;
	return (0);
}

/*
 * deflate-level (0-9), deflate-window-bits (9-15: zlib cannot compress with
 * 8, see ws_deflate.c) and deflate-mem-level (1-9). Returns 0, or -1 with
 * *cause set.
 */
static int
config_route_deflate_int(struct route *r, const char *key, const char *value,
    char **cause)
{
	uint64_t	v;
	int		min, max, *field;

	if (strcmp(key, "deflate-level") == 0) {
		min = 0;
		max = 9;
		field = &r->deflate.level;
	} else if (strcmp(key, "deflate-window-bits") == 0) {
		min = 9;
		max = 15;
		field = &r->deflate.window_bits;
	} else {
		min = 1;
		max = 9;
		field = &r->deflate.mem_level;
	}
	if (parse_u64(value, strlen(value), &v) != 0 ||
	    v < (uint64_t)min || v > (uint64_t)max)
		return (config_error(cause, "%s: expected %d to %d, got '%s'",
		    key, min, max, value));
	*field = (int)v;
	return (0);
}

/*
 * Applies one "key=value" route option to r. Returns 0, or -1 with *cause
 * set naming the key.
 */
static int
config_route_option(struct route *r, const char *kv, char **cause)
{
	const char	*eq, *value;
	char		*key, **v;
	size_t		 n;
	uint64_t	 size;
	int		 rc = -1, yes;

	if ((eq = strchr(kv, '=')) == NULL || eq == kv)
		return (config_error(cause, "expected key=value, got '%s'", kv));
	key = xstrndup(kv, (size_t)(eq - kv));
	value = eq + 1;

	if (strcmp(key, "subprotocols") == 0) {
		if (config_parse_list(key, value, config_subprotocol_valid,
		    &v, &n, cause) != 0)
			goto out;
		config_strv_free(r->subprotocols, r->nsubprotocols);
		r->subprotocols = v;
		r->nsubprotocols = n;
	} else if (strcmp(key, "require-subprotocol") == 0) {
		if (config_parse_bool(value, &r->require_subprotocol) != 0) {
			config_error(cause, "%s: expected yes or no", key);
			goto out;
		}
	} else if (strcmp(key, "origins") == 0) {
		if (config_parse_list(key, value, config_origin_valid, &v, &n,
		    cause) != 0)
			goto out;
		config_strv_free(r->origins, r->norigins);
		r->origins = v;
		r->norigins = n;
	} else if (strcmp(key, "mode") == 0) {
		if (strcmp(value, "binary") == 0)
			r->text = 0;
		else if (strcmp(value, "text") == 0)
			r->text = 1;
		else {
			config_error(cause, "%s: expected binary or text", key);
			goto out;
		}
	} else if (strcmp(key, "max-frame") == 0) {
		if (parse_size(value, &size) != 0 ||
		    size < CONFIG_MAX_FRAME_MIN || size > CONFIG_MAX_FRAME_MAX) {
			config_error(cause, "%s: bad size '%s' (1 to 16M)", key,
			    value);
			goto out;
		}
		r->max_frame = (size_t)size;
	} else if (strcmp(key, "max-message") == 0) {
		if (parse_size(value, &size) != 0) {
			config_error(cause, "%s: bad size '%s'", key, value);
			goto out;
		}
		r->max_message = size;
	} else if (strcmp(key, "deflate") == 0) {
		if (strcmp(value, "on") == 0 || strcmp(value, "yes") == 0)
			r->deflate.enabled = 1;
		else if (strcmp(value, "off") == 0 || strcmp(value, "no") == 0)
			r->deflate.enabled = 0;
		else {
			config_error(cause, "%s: expected on or off", key);
			goto out;
		}
	} else if (strcmp(key, "deflate-level") == 0 ||
	    strcmp(key, "deflate-window-bits") == 0 ||
	    strcmp(key, "deflate-mem-level") == 0) {
		if (config_route_deflate_int(r, key, value, cause) != 0)
			goto out;
	} else if (strcmp(key, "deflate-min-size") == 0) {
		if (parse_size(value, &size) != 0 ||
		    size > CONFIG_MAX_FRAME_MAX) {
			config_error(cause, "%s: bad size '%s' (0 to 16M)", key,
			    value);
			goto out;
		}
		r->deflate.min_size = (size_t)size;
	} else if (strcmp(key, "backend-ca") == 0) {
		if (value[0] == '\0') {
			config_error(cause, "%s: expected a file", key);
			goto out;
		}
		free(r->backend_ca);
		r->backend_ca = xstrdup(value);
	} else if (strcmp(key, "backend-verify") == 0) {
		if (config_parse_bool(value, &yes) != 0) {
			config_error(cause, "%s: expected yes or no", key);
			goto out;
		}
		r->backend_insecure = !yes;
	} else if (strcmp(key, "send-proxy") == 0) {
		if (strcmp(value, "v1") == 0)
			r->send_proxy = 1;
		else if (strcmp(value, "v2") == 0)
			r->send_proxy = 2;
		else if (strcmp(value, "off") == 0 || strcmp(value, "no") == 0)
			r->send_proxy = 0;
		else {
			config_error(cause, "%s: expected v1, v2 or off", key);
			goto out;
		}
	} else if (strcmp(key, "connect-timeout") == 0) {
		if (config_route_duration(key, value, 1, &r->connect_timeout_ms,
		    cause) != 0)
			goto out;
	} else if (strcmp(key, "idle-timeout") == 0) {
		if (config_route_duration(key, value, 0, &r->idle_timeout_ms,
		    cause) != 0)
			goto out;
	} else if (strcmp(key, "ping-interval") == 0) {
		if (config_route_duration(key, value, 0, &r->ping_interval_ms,
		    cause) != 0)
			goto out;
	} else if (strcmp(key, "pong-timeout") == 0) {
		if (config_route_duration(key, value, 1, &r->pong_timeout_ms,
		    cause) != 0)
			goto out;
	} else {
		config_error(cause, "unknown route option '%s'", key);
		goto out;
	}
	rc = 0;
out:
	free(key);
	return (rc);
}

/*
 * Applies a token route's own key (token-plugin=, token-source=,
 * token-from=, token-tls=) to *tk, made on first use. Returns 1 when kv was
 * one of them, 0 when not, -1 with *cause set for a bad value.
 */
static int
config_route_token_option(struct route_tokens **tk, const char *kv,
    char **cause)
{
	const char	*v;
	int		 yes;

	if (strncmp(kv, "token-", 6) != 0)
		return (0);
	if (*tk == NULL)
		*tk = xcalloc(1, sizeof **tk);
	if (strncmp(kv, "token-plugin=", 13) == 0) {
		if (token_plugin_parse(kv + 13, &(*tk)->plugin) != 0)
			return (config_error(cause, "token-plugin: '%s' is not "
			    "one of TokenFile, ReadOnlyTokenFile, "
			    "TokenFileName, UnixDomainSocketDirectory, "
			    "JWTTokenApi", kv + 13));
	} else if (strncmp(kv, "token-source=", 13) == 0) {
		if (kv[13] == '\0')
			return (config_error(cause, "token-source: empty"));
		free((*tk)->source);
		(*tk)->source = xstrdup(kv + 13);
	} else if (strncmp(kv, "token-from=", 11) == 0) {
		v = kv + 11;
		if (strcmp(v, "query") == 0)
			(*tk)->from_host = 0;
		else if (strcmp(v, "host") == 0)
			(*tk)->from_host = 1;
		else
			return (config_error(cause, "token-from: expected query "
			    "or host"));
	} else if (strncmp(kv, "token-tls=", 10) == 0) {
		if (config_parse_bool(kv + 10, &yes) != 0)
			return (config_error(cause, "token-tls: expected yes or "
			    "no"));
		(*tk)->tls = yes;
	} else
		return (config_error(cause, "unknown route option '%.*s'",
		    (int)strcspn(kv, "="), kv));
	return (1);
}

/* Adds a route from the words "PATH TARGET [key=value ...]". */
static int
config_route_words(struct config *cfg, char **argv, size_t argc, int lineno,
    char **cause)
{
	struct route	r;
	size_t		i;
	int		rc, tls;

	if (argc < 2)
		return (config_error(cause, "route needs PATH and TARGET"));
	if (strcmp(argv[0], "*") != 0 && argv[0][0] != '/')
		return (config_error(cause,
		    "route path must start with '/' or be '*': '%s'", argv[0]));
	for (i = 0; argv[0][i] != '\0'; i++) {
		/* The request path never holds these, so the route is dead. */
		if ((unsigned char)argv[0][i] <= 0x20 ||
		    (unsigned char)argv[0][i] >= 0x7f || argv[0][i] == '?' ||
		    argv[0][i] == '#')
			return (config_error(cause, "bad route path '%s'",
			    argv[0]));
	}

	config_route_copy_policy(&r, &cfg->defaults);
	r.line = lineno;
	r.path = xstrdup(argv[0]);
	if (config_parse_target(argv[1], &r.target, cause) != 0)
		goto fail;
	for (i = 2; i < argc; i++) {
		if ((rc = config_route_token_option(&r.tokens, argv[i],
		    cause)) == -1)
			goto fail;
		if (rc == 1)
			continue;
		if (config_route_option(&r, argv[i], cause) != 0)
			goto fail;
	}
	tls = r.target.tls || (r.tokens != NULL && r.tokens->tls);
	for (i = 2; i < argc; i++) {
		/* On a route line they only mean something for tls: targets. */
		if (!tls && (strncmp(argv[i], "backend-ca=", 11) == 0 ||
		    strncmp(argv[i], "backend-verify=", 15) == 0)) {
			config_error(cause, "%.*s: only for tls:HOST:PORT targets",
			    (int)strcspn(argv[i], "="), argv[i]);
			goto fail;
		}
	}
	if (r.target.kind == TARGET_TOKEN) {
		if (r.tokens == NULL || r.tokens->source == NULL) {
			config_error(cause, "a token route needs "
			    "token-source=PATH (and token-plugin=NAME, "
			    "default TokenFile)");
			goto fail;
		}
		if ((r.tokens->src = token_source_new(r.tokens->plugin,
		    r.tokens->source, cause)) == NULL)
			goto fail;
	} else if (r.tokens != NULL) {
		config_error(cause, "token-* options need the target 'token'");
		goto fail;
	}
	if (r.target.tls) {
		if ((r.target.tls_ctx = tls_client_ctx_new(r.backend_ca,
		    !r.backend_insecure, cause)) == NULL)
			goto fail;
	}
	cfg->routes = xreallocarray(cfg->routes, cfg->nroutes + 1,
	    sizeof *cfg->routes);
	cfg->routes[cfg->nroutes++] = r;
	return (0);
fail:
	config_route_clear(&r);
	return (-1);
}

int
config_add_route(struct config *cfg, const char *spec, int lineno,
    char **cause)
{
	struct config_words	w;
	int			rc;

	if (config_split(spec, &w, cause) != 0)
		return (-1);
	rc = config_route_words(cfg, w.argv, w.argc, lineno, cause);
	config_words_free(&w);
	return (rc);
}

/*
 * Applies route-defaults options to a scratch copy first, so a bad option
 * leaves the defaults as they were.
 */
static int
config_route_defaults_words(struct config *cfg, char **argv, size_t argc,
    char **cause)
{
	struct route	r;
	size_t		i;

	if (argc == 0)
		return (config_error(cause, "route-defaults needs key=value"));
	config_route_copy_policy(&r, &cfg->defaults);
	for (i = 0; i < argc; i++) {
		if (config_route_option(&r, argv[i], cause) != 0) {
			config_route_clear(&r);
			return (-1);
		}
	}
	config_route_clear(&cfg->defaults);
	cfg->defaults = r;
	return (0);
}

/* Applies a directive taking one argument: the globals. */
static int
config_global(struct config *cfg, const char *name, const char *arg,
    char **cause)
{
	uint64_t	size;
	unsigned	ms;
	int		level;

	if (strcmp(name, "max-connections") == 0) {
		if (parse_u64(arg, strlen(arg), &size) != 0 ||
		    size == 0 || size > UINT_MAX)
			return (config_error(cause, "%s: bad number '%s'", name,
			    arg));
		cfg->max_connections = (unsigned)size;
	} else if (strcmp(name, "workers") == 0) {
		if (strcmp(arg, "auto") == 0)
			size = 0;
		else if (parse_u64(arg, strlen(arg), &size) != 0 ||
		    size > CONFIG_WORKERS_MAX)
			return (config_error(cause, "%s: expected auto or 0 to "
			    "%u, not '%s'", name, CONFIG_WORKERS_MAX, arg));
		cfg->workers = (unsigned)size;
	} else if (strcmp(name, "max-header-size") == 0) {
		if (parse_size(arg, &size) != 0 ||
		    size < CONFIG_MAX_HEAD_MIN || size > CONFIG_MAX_HEAD_MAX)
			return (config_error(cause,
			    "%s: bad size '%s' (1k to 1M)", name, arg));
		cfg->max_head = (size_t)size;
	} else if (strcmp(name, "buffer-size") == 0) {
		if (parse_size(arg, &size) != 0 ||
		    size < CONFIG_BUFFER_MIN || size > CONFIG_BUFFER_MAX)
			return (config_error(cause,
			    "%s: bad size '%s' (4k to 1G)", name, arg));
		cfg->buffer_size = (size_t)size;
	} else if (strcmp(name, "handshake-timeout") == 0 ||
	    strcmp(name, "close-timeout") == 0 ||
	    strcmp(name, "shutdown-timeout") == 0) {
		if (parse_duration(arg, &ms) != 0)
			return (config_error(cause, "%s: bad duration '%s'",
			    name, arg));
		/* A waiting peer must always meet a timer: 0 is not "off". */
		if (ms == 0 && strcmp(name, "shutdown-timeout") != 0)
			return (config_error(cause, "%s: must not be 0", name));
		if (strcmp(name, "handshake-timeout") == 0)
			cfg->handshake_timeout_ms = ms;
		else if (strcmp(name, "close-timeout") == 0)
			cfg->close_timeout_ms = ms;
		else
			cfg->shutdown_timeout_ms = ms;
	} else if (strcmp(name, "tcp-keepalive") == 0) {
		/* 0 turns it off; whole seconds, as the kernel counts. */
		if (parse_duration(arg, &ms) != 0 ||
		    (ms != 0 && (ms < 1000 || ms > 86400 * 1000)))
			return (config_error(cause, "%s: bad duration '%s' "
			    "(0, or 1s to 1d)", name, arg));
		cfg->keepalive_ms = ms;
	} else if (strcmp(name, "trusted-proxies") == 0) {
		if (strcmp(arg, "none") == 0) {
			free(cfg->trusted_proxies);
			cfg->trusted_proxies = NULL;
			cfg->ntrusted_proxies = 0;
		} else if (config_cidrs(name, arg, &cfg->trusted_proxies,
		    &cfg->ntrusted_proxies, cause) != 0)
			return (-1);
	} else if (strcmp(name, "shutdown-mode") == 0) {
		if (strcmp(arg, "close") == 0)
			cfg->shutdown_wait = 0;
		else if (strcmp(arg, "wait") == 0)
			cfg->shutdown_wait = 1;
		else
			return (config_error(cause, "%s: '%s' is not close or "
			    "wait", name, arg));
	} else if (strcmp(name, "h2-max-streams") == 0) {
		/* Each stream may hold a backend and two buffers. */
		if (parse_u64(arg, strlen(arg), &size) != 0 ||
		    size == 0 || size > CONFIG_H2_STREAMS_MAX)
			return (config_error(cause, "%s: bad number '%s' "
			    "(1 to %u)", name, arg, CONFIG_H2_STREAMS_MAX));
		cfg->h2_max_streams = (unsigned)size;
	} else if (strcmp(name, "h2-idle-timeout") == 0) {
		if (parse_duration(arg, &ms) != 0 || ms == 0)
			return (config_error(cause, "%s: bad duration '%s'",
			    name, arg));
		cfg->h2_idle_timeout_ms = ms;
	} else if (strcmp(name, "log-level") == 0) {
		if ((level = log_level_parse(arg)) == -1)
			return (config_error(cause,
			    "%s: expected error, warn, info or debug", name));
		cfg->log_level = level;
	} else if (strcmp(name, "syslog") == 0) {
		if (config_parse_bool(arg, &cfg->log_syslog) != 0)
			return (config_error(cause, "%s: expected yes or no",
			    name));
	} else if (strcmp(name, "control") == 0) {
		if (arg[0] == '\0')
			return (config_error(cause, "%s: empty path", name));
		free(cfg->control);
		cfg->control = xstrdup(arg);
	} else if (strcmp(name, "control-mode") == 0) {
		if (parse_mode(arg, &cfg->control_mode) != 0)
			return (config_error(cause, "%s: expected an octal mode "
			    "with 0600 in it, like 0660, not '%s'", name, arg));
	} else if (strcmp(name, "control-max-clients") == 0) {
		if (parse_u64(arg, strlen(arg), &size) != 0 || size == 0 ||
		    size > CONFIG_CONTROL_CLIENTS_MAX)
			return (config_error(cause, "%s: bad number '%s' "
			    "(1 to %u)", name, arg, CONFIG_CONTROL_CLIENTS_MAX));
		cfg->control_max_clients = (unsigned)size;
	} else if (strcmp(name, "control-client-buffer") == 0) {
		if (parse_size(arg, &size) != 0 ||
		    size < CONFIG_CONTROL_BUFFER_MIN ||
		    size > CONFIG_CONTROL_BUFFER_MAX)
			return (config_error(cause,
			    "%s: bad size '%s' (1M to 1G)", name, arg));
		cfg->control_client_buffer = (size_t)size;
	} else if (strcmp(name, "syslog-server") == 0) {
		if (arg[0] == '\0' || (arg[0] != '/' && strrchr(arg, ':') ==
		    NULL))
			return (config_error(cause, "%s: expected HOST:PORT or "
			    "/PATH", name));
		free(cfg->syslog_server);
		cfg->syslog_server = xstrdup(arg);
	} else if (strcmp(name, "syslog-format") == 0) {
		if (strcmp(arg, "rfc5424") == 0)
			cfg->syslog_legacy = 0;
		else if (strcmp(arg, "rfc3164") == 0)
			cfg->syslog_legacy = 1;
		else
			return (config_error(cause, "%s: expected rfc5424 or "
			    "rfc3164", name));
	} else if (strcmp(name, "user") == 0 || strcmp(name, "group") == 0) {
		if (arg[0] == '\0' || strlen(arg) > 64)
			return (config_error(cause, "%s: expected a name or "
			    "number", name));
		if (strcmp(name, "user") == 0) {
			free(cfg->user);
			cfg->user = xstrdup(arg);
		} else {
			free(cfg->group);
			cfg->group = xstrdup(arg);
		}
	} else if (strcmp(name, "record") == 0) {
		/* "no" or "" turns it off (a SIGHUP'd file can drop it). */
		free(cfg->record);
		cfg->record = NULL;
		if (arg[0] != '\0' && strcmp(arg, "no") != 0) {
			if (arg[0] != '/')
				return (config_error(cause, "%s: expected an "
				    "absolute path, not '%s'", name, arg));
			cfg->record = xstrdup(arg);
		}
	} else if (strcmp(name, "traffic") == 0) {
		if (config_parse_bool(arg, &cfg->traffic) != 0)
			return (config_error(cause, "%s: expected yes or no",
			    name));
	} else if (strcmp(name, "log-file") == 0) {
		if (arg[0] == '\0')
			return (config_error(cause, "%s: empty path", name));
		free(cfg->log_file);
		cfg->log_file = xstrdup(arg);
	} else if (strcmp(name, "daemon") == 0 ||
	    strcmp(name, "run-once") == 0) {
		if (config_parse_bool(arg, strcmp(name, "daemon") == 0 ?
		    &cfg->daemon : &cfg->run_once) != 0)
			return (config_error(cause, "%s: expected yes or no",
			    name));
	} else if (strcmp(name, "exit-when-idle") == 0 ||
	    strcmp(name, "accept-for") == 0) {
		/* 0 turns them off, as websockify's default 0 does. */
		if (parse_duration(arg, &ms) != 0)
			return (config_error(cause, "%s: bad duration '%s'",
			    name, arg));
		if (strcmp(name, "exit-when-idle") == 0)
			cfg->exit_idle_ms = ms;
		else
			cfg->accept_for_ms = ms;
	} else
		return (config_error(cause, "unknown directive '%s'", name));
	return (0);
}

static const char *const config_globals[] = {
	"max-connections", "max-header-size", "buffer-size",
	"handshake-timeout", "close-timeout", "shutdown-timeout",
	"shutdown-mode", "tcp-keepalive", "trusted-proxies",
	"log-level", "syslog", "h2-max-streams", "h2-idle-timeout",
	"control", "control-mode", "control-max-clients",
	"control-client-buffer", "workers", "log-file", "daemon", "run-once",
	"exit-when-idle", "accept-for", "syslog-server", "syslog-format",
	"user", "group", "record", "traffic",
};

/* "web DIR [listing=yes|no]". */
static int
config_web_words(struct config *cfg, char **argv, size_t argc, char **cause)
{
	int	listing = 0;

	if (argc == 0 || argc > 2)
		return (config_error(cause, "web needs DIR [listing=yes|no]"));
	/* Absolute: a daemon's working directory is "/". */
	if (argv[0][0] != '/' || config_has_ctl(argv[0]))
		return (config_error(cause, "web: the directory must be an "
		    "absolute path, not '%s'", argv[0]));
	if (argc == 2 && (strncmp(argv[1], "listing=", 8) != 0 ||
	    config_parse_bool(argv[1] + 8, &listing) != 0))
		return (config_error(cause, "web: expected listing=yes or "
		    "listing=no, not '%s'", argv[1]));
	free(cfg->web_root);
	cfg->web_root = xstrdup(argv[0]);
	cfg->web_listing = listing;
	return (0);
}

/* Applies the words of one line; errors come back without a location. */
static int
config_words(struct config *cfg, char **argv, size_t argc, int lineno,
    char **cause)
{
	size_t	i;

	if (strcmp(argv[0], "listen") == 0)
		return (config_listen_words(cfg, argv + 1, argc - 1, lineno,
		    cause));
	if (strcmp(argv[0], "route") == 0)
		return (config_route_words(cfg, argv + 1, argc - 1, lineno,
		    cause));
	if (strcmp(argv[0], "admin") == 0)
		return (config_admin_words(cfg, argv + 1, argc - 1, cause));
	if (strcmp(argv[0], "route-defaults") == 0)
		return (config_route_defaults_words(cfg, argv + 1, argc - 1,
		    cause));
	if (strcmp(argv[0], "web") == 0)
		return (config_web_words(cfg, argv + 1, argc - 1, cause));
	switch (framelog_config_words(&cfg->log, argv, argc, cause)) {
	case 1:
		return (0);
	case -1:
		return (-1);
	}
	for (i = 0; i < nitems(config_globals); i++) {
		if (strcmp(argv[0], config_globals[i]) != 0)
			continue;
		if (argc != 2)
			return (config_error(cause, "%s needs one value",
			    argv[0]));
		return (config_global(cfg, argv[0], argv[1], cause));
	}
	return (config_error(cause, "unknown directive '%s'", argv[0]));
}

int
config_parse_line(struct config *cfg, const char *line, const char *where,
    int lineno, char **cause)
{
	struct config_words	 w;
	char			*msg = NULL;
	int			 rc = 0;

	if (config_split(line, &w, &msg) != 0)
		rc = -1;
	else if (w.argc > 0)
		rc = config_words(cfg, w.argv, w.argc, lineno, &msg);
	config_words_free(&w);
	if (rc != 0) {
		if (where != NULL)
			*cause = xasprintf("%s: %s", where, msg);
		else {
			*cause = msg;
			msg = NULL;
		}
	}
	free(msg);
	return (rc);
}

int
config_load_file(struct config *cfg, const char *path, char **cause)
{
	FILE	*f;
	char	*line = NULL, *where;
	size_t	 size = 0;
	ssize_t	 n;
	int	 lineno = 0, rc = -1;

	if ((f = fopen(path, "r")) == NULL) {
		*cause = xasprintf("%s: %s", path, strerror(errno));
		return (-1);
	}
	free(cfg->file);
	cfg->file = xstrdup(path);
	for (;;) {
		errno = 0;
		if ((n = getline(&line, &size, f)) == -1) {
			if (ferror(f)) {
				*cause = xasprintf("%s: %s", path,
				    strerror(errno));
				goto out;
			}
			break;
		}
		if (lineno == INT_MAX) {
			*cause = xasprintf("%s: too many lines", path);
			goto out;
		}
		lineno++;
		if (memchr(line, '\0', (size_t)n) != NULL) {
			*cause = xasprintf("%s:%d: NUL byte in line", path,
			    lineno);
			goto out;
		}
		if (n > 0 && line[n - 1] == '\n')
			line[--n] = '\0';
		if (n > 0 && line[n - 1] == '\r')
			line[--n] = '\0';
		where = xasprintf("%s:%d", path, lineno);
		if (config_parse_line(cfg, line, where, lineno, cause) != 0) {
			free(where);
			goto out;
		}
		free(where);
	}
	rc = 0;
out:
	free(line);
	fclose(f);
	return (rc);
}

/* Names where line came from: "FILE:LINE", "line N" or "the command line". */
static char *
config_where(const struct config *cfg, int line)
{
	if (line == 0)
		return (xstrdup("the command line"));
	if (cfg->file != NULL)
		return (xasprintf("%s:%d", cfg->file, line));
	return (xasprintf("line %d", line));
}

int
config_finish(struct config *cfg, char **cause)
{
	struct stat	 sb;
	const char	*why;
	char		*a, *b;
	size_t		 i, j;

	if (cfg->nlistens == 0) {
		*cause = xasprintf("%s%sno listen address",
		    cfg->file != NULL ? cfg->file : "",
		    cfg->file != NULL ? ": " : "");
		return (-1);
	}
	if (cfg->nroutes == 0) {
		*cause = xasprintf("%s%sno route",
		    cfg->file != NULL ? cfg->file : "",
		    cfg->file != NULL ? ": " : "");
		return (-1);
	}
	/* Named now rather than with a 500 at every request. */
	if (cfg->web_root != NULL) {
		why = NULL;
		if (stat(cfg->web_root, &sb) == -1)
			why = strerror(errno);
		else if (!S_ISDIR(sb.st_mode))
			why = "not a directory";
		if (why != NULL) {
			*cause = xasprintf("%s%sweb %s: %s",
			    cfg->file != NULL ? cfg->file : "",
			    cfg->file != NULL ? ": " : "", cfg->web_root, why);
			return (-1);
		}
	}
	/* Quadratic, but over a handful of lines written by a person. */
	for (i = 0; i < cfg->nroutes; i++) {
		for (j = i + 1; j < cfg->nroutes; j++) {
			if (strcmp(cfg->routes[i].path,
			    cfg->routes[j].path) != 0)
				continue;
			a = config_where(cfg, cfg->routes[j].line);
			b = config_where(cfg, cfg->routes[i].line);
			*cause = xasprintf("%s: duplicate route '%s' "
			    "(first at %s)", a, cfg->routes[j].path, b);
			free(a);
			free(b);
			return (-1);
		}
	}
	return (0);
}

const char *
config_route_token_source(const struct route *rt)
{
	if (rt->target.kind != TARGET_TOKEN || rt->tokens == NULL)
		return (NULL);
	return (rt->tokens->source);
}

const struct route *
config_find_route(const struct config *cfg, const char *path)
{
	const struct route	*any = NULL;
	size_t			 i;

	for (i = 0; i < cfg->nroutes; i++) {
		if (strcmp(cfg->routes[i].path, path) == 0)
			return (&cfg->routes[i]);
		if (any == NULL && strcmp(cfg->routes[i].path, "*") == 0)
			any = &cfg->routes[i];
	}
	return (any);
}

/*
 * The route serving spec for token route tr: the one made earlier for the
 * same target, or a new one with tr's policy. Returns NULL with pol's
 * status and why set when spec is no target or there are too many.
 */
static const struct route *
config_token_route(const struct route *tr, const char *spec,
    struct handshake_policy *pol)
{
	struct route_tokens	*tk = tr->tokens;
	struct route		*r;
	char			*full, *cause = NULL;
	size_t			 i;

	full = tk->tls ? xasprintf("tls:%s", spec) : xstrdup(spec);
	for (i = 0; i < tk->nroutes; i++) {
		if (strcmp(tk->routes[i]->target.spec, full) == 0) {
			free(full);
			return (tk->routes[i]);
		}
	}
	if (tk->nroutes >= CONFIG_TOKEN_TARGETS_MAX) {
		log_warn("route %s: %d token targets made since the last "
		    "reload; send SIGHUP to start afresh", tr->path,
		    CONFIG_TOKEN_TARGETS_MAX);
		pol->status = 503;
		pol->why = "too many token targets";
		free(full);
		return (NULL);
	}
	r = xcalloc(1, sizeof *r);
	config_route_copy_policy(r, tr);
	r->path = xstrdup(tr->path);
	if (config_parse_target(full, &r->target, &cause) != 0 ||
	    r->target.kind == TARGET_ECHO || r->target.kind == TARGET_TOKEN ||
	    (r->target.tls && (r->target.tls_ctx = tls_client_ctx_new(
	    r->backend_ca, !r->backend_insecure, &cause)) == NULL)) {
		log_warn("route %s: token source %s: bad target '%s': %s",
		    tr->path, tk->source, full, cause != NULL ? cause :
		    "not a host:port or unix_socket target");
		free(cause);
		free(full);
		config_route_clear(r);
		free(r);
		pol->status = 502;
		pol->why = "token names a bad target";
		return (NULL);
	}
	free(full);
	tk->routes = xreallocarray(tk->routes, tk->nroutes + 1,
	    sizeof *tk->routes);
	tk->routes[tk->nroutes++] = r;
	return (r);
}

/* A token route's target for the offer's token, as config_route_policy(). */
static const struct route *
config_token_lookup(const struct route *tr, const struct ws_offer *o,
    struct handshake_policy *pol)
{
	struct route_tokens	*tk = tr->tokens;
	const char		*spec, *why;
	char			*token, red[32];

	token = tk->from_host ? token_from_host(o->host) :
	    token_from_query(o->query);
	if (token == NULL) {
		pol->why = tk->from_host ? "no Host to take the token from" :
		    "no token in the query";
		return (NULL);
	}
	if ((spec = token_source_lookup(tk->src, token)) == NULL) {
		pol->status = token_source_status(tk->src, &why);
		log_info("token %s not found in %s %s%s%s",
		    token_redact(token, red, sizeof red),
		    token_plugin_name(tk->plugin), tk->source,
		    why != NULL ? ": " : "", why != NULL ? why : "");
		free(token);
		pol->why = pol->status == 403 ? "token refused" :
		    "unknown token";
		return (NULL);
	}
	free(token);
	return (config_token_route(tr, spec, pol));
}

const struct route *
config_route_policy(const void *arg, const struct ws_offer *o,
    struct handshake_policy *pol)
{
	const struct route	*r;

	if ((r = config_find_route(arg, o->path)) == NULL)
		return (NULL);
	if (r->target.kind == TARGET_TOKEN &&
	    (r = config_token_lookup(r, o, pol)) == NULL)
		return (NULL);
	pol->subprotocols = r->subprotocols;
	pol->nsubprotocols = r->nsubprotocols;
	pol->require_subprotocol = r->require_subprotocol;
	pol->origins = r->origins;
	pol->norigins = r->norigins;
	return (r);
}
