/*
 * config.h -- one immutable configuration built from a file and flags. A
 * reload builds a new one; live tunnels hold a reference to the one they
 * started with (config_ref / config_free).
 */
#ifndef CONFIG_H
#define CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "framelog_config.h"
#include "ws_deflate.h"

struct handshake_policy;
struct ws_offer;
struct cidr;

typedef struct ssl_ctx_st SSL_CTX;

enum target_kind {
	TARGET_TCP = 0,		/* [tls:]host:port, resolved asynchronously */
	TARGET_UNIX,		/* unix:/path */
	TARGET_ECHO,		/* built-in echo of every message */
	TARGET_TOKEN,		/* "token": the client's token names the
				   target (struct route_tokens); never
				   reaches a tunnel */
};

struct route_tokens;	/* config.c's: a token route's source and targets */

struct target {
	enum target_kind kind;
	char		*host;		/* TARGET_TCP: name or address, no brackets */
	char		*port;		/* TARGET_TCP: service or number */
	char		*path;		/* TARGET_UNIX */
	char		*spec;		/* as written, for logs */
	int		 tls;		/* "tls:host:port" */
	SSL_CTX		*tls_ctx;	/* tls: verifying client context
					   (tls_client.c), owned */
};

/* One route: a request path bridged to a target, with its policy. */
struct route {
	char		*path;		/* exact path, or "*" for any path */
	struct target	 target;
	char		**subprotocols;	/* server preference order */
	size_t		 nsubprotocols;
	int		 require_subprotocol; /* 400 when none of ours offered */
	char		**origins;	/* allowed Origin values; none: any */
	size_t		 norigins;
	int		 text;		/* backend bytes as text messages */
	size_t		 max_frame;	/* outbound frame payload limit */
	uint64_t	 max_message;	/* inbound message limit, 0: none (1009) */
	unsigned	 connect_timeout_ms;
	unsigned	 idle_timeout_ms;	/* 0: none */
	unsigned	 ping_interval_ms;	/* 0: no keepalive pings */
	unsigned	 pong_timeout_ms;
	struct ws_deflate_opts deflate;	/* permessage-deflate (RFC 7692) */
	char		*backend_ca;	/* tls targets: CA file, NULL: system store */
	int		 backend_insecure; /* tls targets: backend-verify=no */
	int		 send_proxy;	/* send-proxy=: the PROXY header version
					   (1, 2) written to the backend
					   first; 0: none */
	int		 line;		/* config line, 0 from flags */
	/*
	 * TARGET_TOKEN routes: where tokens are looked up, and the routes
	 * made for the targets found (owned; a derived route keeps the
	 * policy of its token route and lives as long as the config).
	 */
	struct route_tokens *tokens;
};

struct listen_cfg {
	char		*host;		/* NULL: every address (IPv4 and IPv6) */
	char		*port;		/* NULL for a unix socket */
	char		*unix_path;	/* "unix:/path": a unix socket, or NULL */
	unsigned	 unix_mode;	/* its file mode (mode=, default 0600) */
	int		 inherit_fd;	/* "fd:N": a listening socket the
					   process was given (inetd), or -1 */
	int		*taken_fds;	/* sockets the wsbridge this one
					   replaces handed over for this
					   line, this worker's share (upgrade;
					   not closed with the config) */
	size_t		 ntaken;
	int		 systemd;	/* "systemd[:NAME]": one the service
					   manager passed (inherit_fd), or
					   none was passed (inherit_fd -1) */
	char		*spec;		/* as written, options included: identity on reload */
	int		 line;
	int		 tls;		/* "tls": TLS with ALPN h2, http/1.1 */
	int		 tls_auto;	/* "tls=auto": TLS when the client's
					   first byte starts a handshake
					   (0x16), plain HTTP otherwise */
	char		*cert;		/* tls: certificate chain file (PEM) */
	char		*key;		/* tls: private key file (PEM) */
	char		*ca;		/* tls: verify client certificates (mTLS), or NULL */
	int		 tls13_only;	/* tls: min-tls=1.3 (default 1.2) */
	int		 verify_client;	/* tls: client certificates required,
					   checked against ca= or, without
					   it, the system's CA store */
	char		*ciphers;	/* tls: TLS 1.2 cipher list, or NULL */
	char		*key_password;	/* tls: the key file's passphrase, or NULL */
	unsigned	 proxy;		/* proxy-protocol=: PROXYPROTO_V1, _V2
					   or both; 0: no PROXY header */
	struct cidr	*proxy_from;	/* proxy-from=: who may send one
					   (loopback unless given) */
	size_t		 nproxy_from;
	char		*key_password_file; /* tls: a file whose first line is
					   it, read with the key, or NULL */
};

struct config {
	int		 refcnt;
	char		*file;		/* the file it came from, or NULL */
	struct listen_cfg *listens;
	size_t		 nlistens;
	struct route	*routes;
	size_t		 nroutes;
	unsigned	 max_connections;	/* past it: 503 (process-wide) */
	unsigned	 workers;	/* event loops (threads); 0: one per CPU */
	size_t		 max_head;		/* request head limit: 431 */
	unsigned	 handshake_timeout_ms;
	unsigned	 close_timeout_ms;
	unsigned	 shutdown_timeout_ms;
	unsigned	 keepalive_ms;	/* tcp-keepalive: idle before the first
					   probe on every client and backend
					   socket; 0: off */
	int		 shutdown_wait;	/* shutdown-mode wait: tunnels run on
					   until they end or shutdown-timeout */
	size_t		 buffer_size;	/* per direction high watermark */
	unsigned	 h2_max_streams;	/* SETTINGS_MAX_CONCURRENT_STREAMS */
	unsigned	 h2_idle_timeout_ms;	/* h2 connection without streams */
	int		 log_level;	/* enum log_level */
	int		 log_syslog;
	char		*syslog_server;	/* websockify's --syslog SERVER, or NULL */
	int		 syslog_legacy;	/* syslog-format rfc3164 */
	struct route	 defaults;	/* route option defaults ("route-defaults") */
	struct cidr	*trusted_proxies;	/* whose X-Forwarded-For and
						   Forwarded are believed; none:
						   nobody's */
	size_t		 ntrusted_proxies;
	struct framelog_cfg log;	/* the frame log (log-db, log-capture...) */
	char		*control;	/* control socket path, or NULL */
	char		*web_root;	/* "web DIR": static files for requests
					   that are no WebSocket upgrade
					   (absolute), or NULL: 426 */
	int		 web_listing;	/* web ... listing=yes: a directory
					   without index.html is listed */
	unsigned	 control_mode;	/* its file mode (control-mode) */
	unsigned	 control_max_clients;	/* past it: refused */
	size_t		 control_client_buffer;	/* unread output: cut */
	/*
	 * The admin endpoint (health and metrics over HTTP): "admin ADDR".
	 * Fixed at start, as the control socket is.
	 */
	char		*admin;		/* ADDR as written, or NULL: none */
	char		*admin_host;	/* NULL: every IPv4 address */
	unsigned	 admin_port;
	char		*admin_unix;	/* "unix:/path": the path, or NULL */
	unsigned	 admin_mode;	/* its file mode (mode=, default 0600) */
	/* Process life, as websockify's options set it; fixed at start. */
	int		 daemon;	/* detach once listening */
	char		*log_file;	/* log appended here, or NULL */
	unsigned	 exit_idle_ms;	/* exit after this long with no
					   connection (--idle-timeout); 0: never */
	unsigned	 accept_for_ms;	/* stop accepting this long after
					   start (--timeout); 0: always accept */
	int		 run_once;	/* stop accepting after the first
					   connection, exit when it ends */
	char		*record;	/* websockify record files PATH.N, or NULL */
	int		 traffic;	/* websockify's --traffic marks on stdout */
	char		*user;		/* started as root: become this user */
	char		*group;		/* ... and group, once listening */
};

/*
 * The listening sockets the service manager passed (socket activation:
 * descriptors first_fd .. first_fd + n - 1, names[i] from
 * FileDescriptorName=, or NULL), which "listen systemd[:NAME]" lines take.
 * Set once at start, before any config is built; names are kept.
 */
void		 config_set_activation(int first_fd, char **names, size_t n);

/* Returns a config holding defaults only; the caller owns it (config_free). */
struct config	*config_new(void);

/* Drops a reference; frees on the last. config_free(NULL) is a no-op. */
void		 config_free(struct config *);
/* Takes a reference. */
struct config	*config_ref(struct config *);

/*
 * Reads a config file into cfg. Returns 0, or -1 with *cause set (caller
 * frees) as "FILE:LINE: message" for the first bad line.
 */
int	config_load_file(struct config *cfg, const char *path, char **cause);

/*
 * Applies one config line (already stripped of its newline). where names it
 * in errors ("FILE:LINE" or "--flag"). Returns 0, or -1 with *cause set.
 */
int	config_parse_line(struct config *cfg, const char *line, const char *where,
	    int lineno, char **cause);

/*
 * "ADDR [tls cert=FILE key=FILE [ca=FILE]]" as in a listen line; ADDR is
 * [host:]port, [v6]:port or "*:port". The files are only named here; tls.c
 * reads them when the listener opens. Returns 0, or -1 with *cause set
 * (caller frees) without a location prefix: the caller names the flag or
 * line. Same for config_add_route.
 */
int	config_add_listen(struct config *cfg, const char *spec, int lineno,
	    char **cause);
/* "PATH TARGET [key=value ...]" as in a route line. */
int	config_add_route(struct config *cfg, const char *spec, int lineno,
	    char **cause);

/*
 * Checks the whole config once built (at least one listener and one route,
 * no duplicate route paths). Returns 0, or -1 with *cause set.
 */
int	config_finish(struct config *cfg, char **cause);

/* A token route's token-source path as configured, or NULL for another. */
const char	*config_route_token_source(const struct route *rt);

/*
 * Returns the route for path (exact match first, then "*"), or NULL. A
 * token route comes back as itself: config_route_policy() resolves tokens.
 */
const struct route *config_find_route(const struct config *cfg,
	    const char *path);
/*
 * handshake_route()'s lookup (handshake_find_fn) over the config arg:
 * config_find_route() for the offer's path with the route's admission
 * policy in *pol. A token route resolves the offer's token (query or Host)
 * through its source to a route for that target, or returns NULL with
 * pol->status and pol->why set (404: no or unknown token; 403: a JWT whose
 * signature does not verify; 502: the source names a bad target; 503: too
 * many targets). The arg config is const to
 * the caller but a token route's cache in it grows: one thread per config.
 */
const struct route *config_route_policy(const void *arg,
	    const struct ws_offer *o, struct handshake_policy *pol);

#endif
