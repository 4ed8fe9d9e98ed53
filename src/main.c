/* main.c -- wsbridge: flags, config, and the event loop. */
#include "wsb_autoconf.h"

#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#if defined(__GLIBC__)
#include <malloc.h>
#endif
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/thread.h>

#include "config.h"
#include "ctl.h"
#include "log.h"
#include "server.h"
#include "service.h"
#include "sockread.h"
#include "token.h"
#include "upgrade.h"
#include "util.h"

/* What `wsbridge --demo` runs: the quick start's embedded default. */
static const char *const demo_lines[] = {
	"listen 127.0.0.1:8080",
	"route /echo echo subprotocols=chat,binary",
};

static void
usage(FILE *f)
{
	fprintf(f,
"usage: wsbridge [options] [[HOST:]PORT [TARGET]]\n"
"       wsbridge [options] [HOST:]PORT -- WRAP_COMMAND_LINE  (not yet)\n"
"       wsbridge ctl [-s PATH] [--json] hello|stats|list|conn ID|events\n"
"       wsbridge upgrade [options]   (--upgrade -D: replace the running one)\n"
"\n"
"Bridges WebSocket clients (RFC 6455) to TCP or unix-socket backends.\n"
"With PORT and TARGET, listens on PORT and bridges every path to TARGET,\n"
"like websockify: wsbridge 8080 localhost:5900 (:PORT: every address)\n"
"\n"
"TARGET is HOST:PORT, [IPV6]:PORT, tls:HOST:PORT (certificate verified;\n"
"route keys backend-ca=FILE, backend-verify=no), unix:/PATH, or echo.\n"
"\n"
"options:\n"
"  -c, --config FILE       read FILE (see wsbridge.conf(5)); SIGHUP rereads it\n"
"  -l, --listen ADDR       listen on ADDR: PORT, HOST:PORT, [V6]:PORT (repeatable);\n"
"                          'ADDR tls cert=FILE [key=FILE] [ca=FILE]' for wss://\n"
"                          (HTTP/1.1 and HTTP/2 by ALPN; ca= requires client certs);\n"
"                          tls=auto: wss:// and ws:// on the same port\n"
"  -r, --route 'PATH=TARGET [KEY=VALUE ...]'\n"
"                          bridge PATH (or * for any) to TARGET (repeatable);\n"
"                          keys as in a config route line, e.g. mode=text\n"
"  -o, --option 'LINE'     apply any config file line, e.g. -o 'max-connections 100'\n"
"      --demo              run the built-in demo: 127.0.0.1:8080, /echo\n"
"      --check             validate the configuration (and that the log-db\n"
"                          and control files can be made) and exit\n"
"      --print-config      print the configuration the options make, as\n"
"                          config lines that -c FILE reads back, and exit\n"
"      --upgrade           replace the wsbridge running with this config's\n"
"                          control socket: take its listening sockets, serve,\n"
"                          then have it drain (with -D: once this one is\n"
"                          ready, the command exits; see docs/upgrade.md)\n"
"      --log-db FILE       record every session and frame to the SQLite\n"
"                          database FILE, mode 0600 (-o 'log-db-mode 0640')\n"
"      --control PATH      serve stats and events on the unix socket PATH\n"
"                          (mode 0600) for wsbridge-top and wsbridge ctl;\n"
"                          16 clients, 4 MiB unread each (control-max-clients,\n"
"                          control-client-buffer in wsbridge.conf(5))\n"
"      --admin ADDR        serve /healthz, /readyz and Prometheus /metrics over\n"
"                          HTTP on ADDR: HOST:PORT or unix:/PATH (mode 0600)\n"
"      --workers N         N event loops, one thread each, sharing the\n"
"                          listening ports (default 1; auto: one per CPU)\n"
"      --log-level LEVEL   error, warn, info (default) or debug\n"
"  -v, --verbose           same as --log-level debug\n"
"      --syslog            log to syslog instead of stderr\n"
"  -h, --help              show this help\n"
"  -V, --version           show the version\n"
"\n"
"websockify's options (see docs/websockify.md for each one's mapping):\n"
"  --cert FILE [--key FILE] [--key-password PASS] [--ssl-only]\n"
"  [--verify-client [--cafile FILE]]\n"
"                          wss:// and ws:// on [HOST:]PORT, wss:// only with\n"
"                          --ssl-only (key in FILE when no --key)\n"
"  --ssl-target            TARGET speaks TLS (tls:HOST:PORT)\n"
"  --unix-target FILE      the target is the unix socket FILE\n"
"  --unix-listen FILE [--unix-listen-mode MODE]\n"
"                          listen on the unix socket FILE (not [HOST:]PORT)\n"
"  --token-plugin NAME --token-source PATH [--host-token]\n"
"                          the target from the client's ?token= (or Host):\n"
"                          TokenFile, ReadOnlyTokenFile, TokenFileName,\n"
"                          UnixDomainSocketDirectory, JWTTokenApi;\n"
"                          --target-config FILE is TokenFile FILE\n"
"  --heartbeat N           ping every N seconds (ping-interval)\n"
"  --idle-timeout N        exit after N seconds without a connection\n"
"  --timeout N             stop accepting after N seconds, exit when idle\n"
"  --run-once              serve the first connection only, then exit\n"
"  -D, --daemon            detach once listening\n"
"  --log-file FILE         append the log to FILE\n"
"  --ssl-version tlsv1_3, --ssl-ciphers LIST\n"
"                          min-tls=1.3, ciphers=LIST (TLS 1.2's list)\n"
"  --inetd                 the listening socket is stdin (not [HOST:]PORT)\n"
"  --syslog SERVER [--legacy-syslog]\n"
"                          log to a syslog server (HOST:PORT UDP, /PATH)\n"
"  --web DIR [--file-only]  serve the files under DIR to requests that are\n"
"                          no WebSocket upgrade, listing directories unless\n"
"                          --file-only\n"
"  --record FILE           each session to FILE.N in websockify's format\n"
"  --traffic               websockify's per-frame marks on stdout\n"
"  -6, --prefer-ipv6, --libserver: accepted\n"
"  --web-auth, --auth-plugin, --auth-source,\n"
"  --ssl-version tlsv1_1, -- COMMAND:\n"
"                          not supported yet (say so)\n"
"\n"
"Signals: TERM/INT close every WebSocket with 1001 and exit once drained;\n"
"HUP reloads the configuration and TLS certificates (live tunnels keep theirs).\n");
}

static void
add_flag_line(struct server *srv, char *line)
{
	srv->flag_lines = xreallocarray(srv->flag_lines, srv->nflag_lines + 1,
	    sizeof *srv->flag_lines);
	srv->flag_lines[srv->nflag_lines++] = line;
}

/* "VALUE" with the quoting config lines understand; caller frees. */
static char *
quoted(const char *value)
{
	char	*q, *p;

	q = p = xmalloc(2 * strlen(value) + 3);
	*p++ = '"';
	for (; *value != '\0'; value++) {
		if (*value == '"' || *value == '\\')
			*p++ = '\\';
		*p++ = *value;
	}
	*p++ = '"';
	*p = '\0';
	return (q);
}

/* "NAME "VALUE"" with the quoting config lines understand. */
static char *
quoted_line(const char *name, const char *value)
{
	char	*q, *line;

	q = quoted(value);
	line = xasprintf("%s %s", name, q);
	free(q);
	return (line);
}

/* ---- websockify's command line ------------------------------------------- */

/*
 * websockify 0.12's options as wsbridge reads them. Each becomes config
 * lines (wsk_lines), so --check, --print-config and SIGHUP see one model.
 */
enum {
	OPT_DEMO = 256, OPT_CHECK, OPT_LOG_DB, OPT_CONTROL, OPT_ADMIN, OPT_WORKERS,
	OPT_LOG_LEVEL, OPT_SYSLOG, OPT_PRINT_CONFIG, OPT_UPGRADE,
	/* websockify's */
	OPT_TRAFFIC, OPT_RECORD, OPT_RUN_ONCE, OPT_TIMEOUT, OPT_IDLE_TIMEOUT,
	OPT_CERT, OPT_KEY, OPT_KEY_PASSWORD, OPT_SSL_ONLY, OPT_SSL_TARGET,
	OPT_VERIFY_CLIENT, OPT_CAFILE, OPT_SSL_VERSION, OPT_SSL_CIPHERS,
	OPT_UNIX_LISTEN, OPT_UNIX_LISTEN_MODE, OPT_UNIX_TARGET, OPT_INETD,
	OPT_WEB, OPT_WEB_AUTH, OPT_WRAP_MODE, OPT_LIBSERVER, OPT_TARGET_CONFIG,
	OPT_TOKEN_PLUGIN, OPT_TOKEN_SOURCE, OPT_HOST_TOKEN, OPT_AUTH_PLUGIN,
	OPT_AUTH_SOURCE, OPT_HEARTBEAT, OPT_LOG_FILE, OPT_LEGACY_SYSLOG,
	OPT_FILE_ONLY,
};

/*
 * The websockify options wsbridge cannot honour yet: refused with what is
 * missing, never silently ignored, as a proxy that quietly skips --web or
 * --auth-plugin would serve something its operator did not ask for.
 */
static const struct {
	int		 opt;
	const char	*name;
	const char	*why;
} wsk_not_yet[] = {
	{ OPT_WEB_AUTH, "--web-auth", "auth plugins, which it applies to "
	    "files (issue 16 item 5)" },
	{ OPT_AUTH_PLUGIN, "--auth-plugin", "auth plugins (issue 16 item 5); "
	    "route keys origins= check Origin" },
	{ OPT_AUTH_SOURCE, "--auth-source", "auth plugins (issue 16 item 5)" },
};

struct wsk {
	int		 any;		/* a websockify-only option was given */
	const char	*cert, *key, *cafile, *unix_target;
	const char	*token_plugin, *token_source, *log_file, *syslog;
	const char	*record;	/* --record FILE */
	int		 traffic;
	const char	*ciphers;	/* --ssl-ciphers */
	const char	*key_password;
	const char	*unix_listen, *unix_listen_mode;
	const char	*web;		/* --web DIR */
	int		 file_only;	/* --file-only: no directory listing */
	int		 inetd;		/* the listening socket is stdin */
	int		 tls13;		/* --ssl-version tlsv1_3 */
	int		 ssl_only, ssl_target, verify_client, host_token;
	int		 daemon, run_once, prefer_ipv6, syslog_bare;
	int		 legacy_syslog;
	long		 timeout, idle_timeout, heartbeat;
	char		**wrap;		/* after "--": the wrapped program */
	int		 nwrap;
};

/* A websockify integer option: seconds, 0 or more. */
static int
wsk_seconds(const char *name, const char *arg, long *out)
{
	char	*end;
	long	 v;

	errno = 0;
	v = strtol(arg, &end, 10);
	if (arg[0] == '\0' || *end != '\0' || errno != 0 || v < 0 ||
	    v > 86400L * 365) {
		fprintf(stderr, "wsbridge: %s: expected seconds, got '%s'\n",
		    name, arg);
		return (-1);
	}
	*out = v;
	return (0);
}

/* path made absolute (websockify does it; a daemon's cwd is /). */
static char *
wsk_abspath(const char *path)
{
	char	cwd[PATH_MAX];

	if (path[0] == '/' || getcwd(cwd, sizeof cwd) == NULL)
		return (xstrdup(path));
	return (xasprintf("%s/%s", cwd, path));
}

/*
 * websockify's HOST:PORT, split at the last ':' with the brackets taken
 * off, as wsbridge writes it: an IPv6 address goes back in brackets.
 */
static char *
wsk_hostport(const char *arg)
{
	const char	*colon = strrchr(arg, ':');

	if (colon == NULL || arg[0] == '[' ||
	    memchr(arg, ':', (size_t)(colon - arg)) == NULL)
		return (xstrdup(arg));
	return (xasprintf("[%.*s]%s", (int)(colon - arg), arg, colon));
}

/* Applies one websockify option. Returns 0, or -1 after saying why. */
static int
wsk_option(struct wsk *k, int ch, const char *arg)
{
	size_t	i;

	for (i = 0; i < nitems(wsk_not_yet); i++) {
		if (wsk_not_yet[i].opt == ch) {
			fprintf(stderr, "wsbridge: %s is not supported yet: "
			    "wsbridge lacks %s\n", wsk_not_yet[i].name,
			    wsk_not_yet[i].why);
			return (-1);
		}
	}
	k->any = 1;
	switch (ch) {
	case OPT_RUN_ONCE:
		k->run_once = 1;
		break;
	case OPT_RECORD:
		k->record = arg;
		break;
	case OPT_TRAFFIC:
		k->traffic = 1;
		break;
	case OPT_TIMEOUT:
		return (wsk_seconds("--timeout", arg, &k->timeout));
	case OPT_IDLE_TIMEOUT:
		return (wsk_seconds("--idle-timeout", arg, &k->idle_timeout));
	case OPT_HEARTBEAT:
		return (wsk_seconds("--heartbeat", arg, &k->heartbeat));
	case OPT_CERT:
		k->cert = arg;
		break;
	case OPT_KEY:
		k->key = arg;
		break;
	case OPT_SSL_ONLY:
		k->ssl_only = 1;
		break;
	case OPT_SSL_TARGET:
		k->ssl_target = 1;
		break;
	case OPT_VERIFY_CLIENT:
		k->verify_client = 1;
		break;
	case OPT_CAFILE:
		k->cafile = arg;
		break;
	case OPT_UNIX_TARGET:
		k->unix_target = arg;
		break;
	case OPT_SSL_VERSION:
		/* wsbridge's listeners take TLS 1.2 and 1.3. */
		if (strcmp(arg, "default") == 0 || strcmp(arg, "tlsv1_2") == 0) {
			k->tls13 = 0;
			break;
		}
		if (strcmp(arg, "tlsv1_3") == 0) {
			k->tls13 = 1;
			break;
		}
		if (strcmp(arg, "tlsv1_1") == 0) {
			fprintf(stderr, "wsbridge: --ssl-version tlsv1_1 is not "
			    "supported: wsbridge's listeners take TLS 1.2 and "
			    "1.3 only (--ssl-version tlsv1_2)\n");
			return (-1);
		}
		fprintf(stderr, "wsbridge: --ssl-version: expected default, "
		    "tlsv1_1, tlsv1_2 or tlsv1_3, got '%s'\n", arg);
		return (-1);
	case OPT_SSL_CIPHERS:
		k->ciphers = arg;
		break;
	case OPT_KEY_PASSWORD:
		k->key_password = arg;
		break;
	case OPT_UNIX_LISTEN:
		k->unix_listen = arg;
		break;
	case OPT_INETD:
		k->inetd = 1;
		break;
	case OPT_UNIX_LISTEN_MODE:
		k->unix_listen_mode = arg;
		break;
	case OPT_WRAP_MODE:
		if (strcmp(arg, "exit") != 0 && strcmp(arg, "ignore") != 0 &&
		    strcmp(arg, "respawn") != 0) {
			fprintf(stderr, "wsbridge: --wrap-mode: expected exit, "
			    "ignore or respawn, got '%s'\n", arg);
			return (-1);
		}
		break;
	case OPT_WEB:
		k->web = arg;
		break;
	case OPT_FILE_ONLY:
		k->file_only = 1;
		break;
	case OPT_LIBSERVER:
		/* One engine: nothing to choose. */
		break;
	case OPT_TARGET_CONFIG:
		/* websockify: the old name of TokenFile's source. */
		k->token_plugin = "TokenFile";
		k->token_source = arg;
		break;
	case OPT_TOKEN_PLUGIN:
		k->token_plugin = arg;
		break;
	case OPT_TOKEN_SOURCE:
		k->token_source = arg;
		break;
	case OPT_HOST_TOKEN:
		k->host_token = 1;
		break;
	case OPT_LOG_FILE:
		k->log_file = arg;
		break;
	case OPT_LEGACY_SYSLOG:
		k->legacy_syslog = 1;
		break;
	case 'D':
		k->daemon = 1;
		break;
	case '6':
		k->prefer_ipv6 = 1;
		break;
	}
	return (0);
}

/*
 * websockify's --syslog takes a SERVER; wsbridge's own --syslog takes
 * none. "--syslog /PATH" (a local socket, the usual /dev/log) is read as
 * websockify's; any other next word stays a word of its own. Rewrites
 * argv[0..argc) in place. Returns the new argc.
 */
static int
wsk_syslog_args(int argc, char **argv, struct wsk *k)
{
	int	i, j;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--syslog") != 0 || i + 1 >= argc ||
		    argv[i + 1][0] != '/')
			continue;
		k->syslog = argv[i + 1];
		for (j = i + 1; j + 1 < argc; j++)
			argv[j] = argv[j + 1];
		argc--;
	}
	return (argc);
}

static const struct {
	const char	*name;
	const char	*why;
} wsk_plugins_not_yet[] = {
	{ "TokenRedis", "Redis token lookup (issue 16 item 4)" },
	{ "JSONTokenApi", "HTTP token APIs (issue 16 item 4)" },
	{ "BaseTokenAPI", "HTTP token APIs (issue 16 item 4)" },
};

/* Checks --token-plugin's name; says why not when it cannot serve it. */
static int
wsk_token_plugin(const char *name)
{
	static const char	 prefix[] = "websockify.token_plugins.";
	const char		*base = name;
	enum token_plugin	 p;
	size_t			 i;

	if (token_plugin_parse(name, &p) == 0)
		return (0);
	if (strncmp(base, prefix, sizeof prefix - 1) == 0)
		base += sizeof prefix - 1;
	for (i = 0; i < nitems(wsk_plugins_not_yet); i++) {
		if (strcmp(base, wsk_plugins_not_yet[i].name) == 0) {
			fprintf(stderr, "wsbridge: --token-plugin %s is not "
			    "supported yet: wsbridge lacks %s\n", name,
			    wsk_plugins_not_yet[i].why);
			return (-1);
		}
	}
	fprintf(stderr, "wsbridge: --token-plugin %s: unknown plugin (wsbridge "
	    "loads no Python classes; it has TokenFile, ReadOnlyTokenFile, "
	    "TokenFileName, UnixDomainSocketDirectory and JWTTokenApi)\n", name);
	return (-1);
}

/* "HEAD KEY="VALUE"": one more quoted option on a line; caller frees. */
static char *
wsk_kv(const char *head, const char *key, const char *value)
{
	char	*q, *line;

	q = quoted(value);
	line = xasprintf("%s %s=%s", head, key, q);
	free(q);
	return (line);
}

/* Adds "# text" to the lines, for --print-config's reader. */
static void
wsk_note(struct server *srv, const char *text)
{
	add_flag_line(srv, xasprintf("# %s", text));
}

/* Says text on stderr as a warning and leaves it in the config as a note. */
static void
wsk_warn(struct server *srv, const char *text)
{
	fprintf(stderr, "wsbridge: warning: %s\n", text);
	wsk_note(srv, text);
}

/*
 * The listener for websockify's [HOST:]PORT (or --unix-listen) with its
 * TLS options, as websockify decides: when the certificate (default
 * ./self.pem) exists, wss:// and ws:// on the same port (tls=auto), wss://
 * only with --ssl-only. Returns 0, or -1 after saying why.
 */
static int
wsk_listen(struct server *srv, const struct wsk *k, const char *addr)
{
	struct stat	 sb;
	char		*spec, *cert, *key = NULL, *ca = NULL, *q, *line;
	int		 tls = 0, exists;
	const char	*mode = "tls";

	if (k->inetd)
		spec = xasprintf("fd:%d", STDIN_FILENO);
	else if (k->unix_listen != NULL) {
		q = wsk_abspath(k->unix_listen);
		spec = xasprintf("unix:%s", q);
		free(q);
	} else
		spec = wsk_hostport(addr);
	cert = wsk_abspath(k->cert != NULL ? k->cert : "self.pem");
	exists = stat(cert, &sb) == 0;
	if (k->ssl_only) {
		if (!exists) {
			fprintf(stderr, "wsbridge: SSL only and %s not found\n",
			    cert);
			goto fail;
		}
		tls = 1;
	} else if (exists) {
		/* The client's first byte says which (0x16: TLS). */
		tls = 1;
		mode = "tls=auto";
		if (k->cert == NULL)
			wsk_note(srv, "./self.pem exists: wss:// with it, ws:// "
			    "too (as websockify)");
	} else if (k->cert != NULL) {
		line = xasprintf("%s not found: no TLS (as websockify)", cert);
		wsk_warn(srv, line);
		free(line);
	}
	if (tls && k->verify_client && k->cafile != NULL)
		ca = wsk_abspath(k->cafile);
	if (k->prefer_ipv6)
		wsk_note(srv, "-6: wsbridge binds every address the listen "
		    "host resolves to, IPv6 ones included");
	/* Quoted words keep spaces in file names intact. */
	line = quoted(spec);
	if (k->unix_listen != NULL && k->unix_listen_mode != NULL) {
		q = line;
		line = xasprintf("%s mode=%s", q, k->unix_listen_mode);
		free(q);
	}
	if (tls) {
		q = line;
		line = xasprintf("%s %s", q, mode);
		free(q);
		q = line;
		line = wsk_kv(q, "cert", cert);
		free(q);
	}
	if (tls && k->key != NULL) {
		key = wsk_abspath(k->key);
		q = line;
		line = wsk_kv(q, "key", key);
		free(q);
	}
	if (tls && k->verify_client) {
		q = line;
		line = xasprintf("%s verify-client", q);
		free(q);
	}
	if (ca != NULL) {
		q = line;
		line = wsk_kv(q, "ca", ca);
		free(q);
	}
	if (tls && k->key_password != NULL) {
		q = line;
		line = wsk_kv(q, "key-password", k->key_password);
		free(q);
	}
	if (tls && k->ciphers != NULL) {
		q = line;
		line = wsk_kv(q, "ciphers", k->ciphers);
		free(q);
	}
	if (tls && k->tls13) {
		q = line;
		line = xasprintf("%s min-tls=1.3", q);
		free(q);
	}
	add_flag_line(srv, xasprintf("listen %s", line));
	free(line);
	free(spec);
	free(cert);
	free(key);
	free(ca);
	return (0);
fail:
	free(spec);
	free(cert);
	free(ca);
	return (-1);
}

/*
 * The process-wide lines websockify's options make. They go before the
 * other flags' lines so that route-defaults reach every route.
 */
static void
wsk_global_lines(struct server *srv, const struct wsk *k)
{
	char	*path, *line;

	if (k->heartbeat > 0)
		add_flag_line(srv, xasprintf("route-defaults "
		    "ping-interval=%lds", k->heartbeat));
	if (k->idle_timeout > 0)
		add_flag_line(srv, xasprintf("exit-when-idle %lds",
		    k->idle_timeout));
	if (k->timeout > 0)
		add_flag_line(srv, xasprintf("accept-for %lds", k->timeout));
	if (k->run_once)
		add_flag_line(srv, xstrdup("run-once yes"));
	if (k->daemon)
		add_flag_line(srv, xstrdup("daemon yes"));
	if (k->record != NULL) {
		path = wsk_abspath(k->record);
		add_flag_line(srv, quoted_line("record", path));
		free(path);
	}
	if (k->traffic)
		add_flag_line(srv, xstrdup("traffic yes"));
	if (k->log_file != NULL) {
		path = wsk_abspath(k->log_file);
		add_flag_line(srv, quoted_line("log-file", path));
		free(path);
	}
	if (k->web != NULL) {
		/* As websockify: a listing unless --file-only. */
		path = wsk_abspath(k->web);
		line = quoted_line("web", path);
		add_flag_line(srv, k->file_only ? line : xasprintf("%s "
		    "listing=yes", line));
		if (!k->file_only)
			free(line);
		free(path);
	}
	/* /dev/log through syslog(3); another server through our sender. */
	if (k->syslog != NULL && strcmp(k->syslog, "/dev/log") == 0)
		add_flag_line(srv, xstrdup("syslog yes"));
	else if (k->syslog != NULL) {
		path = k->syslog[0] == '/' ? wsk_abspath(k->syslog) :
		    xstrdup(k->syslog);
		add_flag_line(srv, quoted_line("syslog-server", path));
		free(path);
		if (k->legacy_syslog)
			add_flag_line(srv, xstrdup("syslog-format rfc3164"));
	}
}

/* How many positional words websockify's options leave for the command. */
static int
wsk_npos(const struct wsk *k)
{
	int	nlisten, need_target;

	nlisten = k->unix_listen == NULL && !k->inetd;
	need_target = k->unix_target == NULL && k->token_plugin == NULL &&
	    k->wrap == NULL;
	return (nlisten + need_target);
}

/*
 * websockify's positional words: [HOST:]PORT, then HOST:PORT unless the
 * target comes from --unix-target, --token-plugin or a wrapped program.
 * Returns 0, or -1 after saying why.
 */
static int
wsk_lines(struct server *srv, const struct wsk *k, int npos, char **pos)
{
	enum token_plugin	 p;
	char			*target, *src, *q, *line;
	int			 need_target, nlisten;

	need_target = k->unix_target == NULL && k->token_plugin == NULL &&
	    k->wrap == NULL;
	/* --inetd or --unix-listen takes the place of [HOST:]PORT. */
	nlisten = k->unix_listen == NULL && !k->inetd;
	if (k->token_source != NULL && k->token_plugin == NULL) {
		fprintf(stderr, "wsbridge: You must use --token-plugin to use "
		    "--token-source\n");
		return (-1);
	}
	if (k->host_token && k->token_plugin == NULL) {
		fprintf(stderr, "wsbridge: You must use --token-plugin to use "
		    "--host-token\n");
		return (-1);
	}
	if (k->legacy_syslog && k->syslog == NULL && !k->syslog_bare) {
		fprintf(stderr, "wsbridge: You must use --syslog to use "
		    "--legacy-syslog\n");
		return (-1);
	}
	if (k->token_plugin != NULL && wsk_token_plugin(k->token_plugin) != 0)
		return (-1);
	if (npos == 0 && nlisten) {
		if (k->cert != NULL || k->key != NULL || k->ssl_only ||
		    k->unix_target != NULL || k->token_plugin != NULL ||
		    k->ssl_target || k->wrap != NULL) {
			fprintf(stderr, "wsbridge: Too few arguments: "
			    "websockify's options need [HOST:]PORT\n");
			return (-1);
		}
		return (0);
	}
	if (npos < nlisten + need_target) {
		fprintf(stderr, "wsbridge: Too few arguments: give "
		    "[HOST:]PORT TARGET, or --token-plugin, --unix-target\n");
		return (-1);
	}
	if (npos > nlisten + need_target) {
		fprintf(stderr, "wsbridge: Too many arguments%s\n", need_target ?
		    "" : ": --unix-target, --token-plugin and -- COMMAND name "
		    "the target");
		return (-1);
	}
	if (k->wrap != NULL) {
		fprintf(stderr, "wsbridge: running a wrapped program (-- %s ...) "
		    "is not supported yet (issue 16 item 6): start it yourself "
		    "and give its HOST:PORT as the target\n", k->wrap[0]);
		return (-1);
	}
	if (wsk_listen(srv, k, nlisten ? pos[0] : NULL) != 0)
		return (-1);
	pos += nlisten;
	if (k->token_plugin != NULL) {
		token_plugin_parse(k->token_plugin, &p);
		if (k->token_source == NULL) {
			fprintf(stderr, "wsbridge: --token-plugin %s needs "
			    "--token-source\n", k->token_plugin);
			return (-1);
		}
		src = wsk_abspath(k->token_source);
		q = quoted(src);
		line = xasprintf("route * token token-plugin=%s "
		    "token-source=%s%s%s", token_plugin_name(p), q,
		    k->host_token ? " token-from=host" : "",
		    k->ssl_target ? " token-tls=yes" : "");
		free(q);
		free(src);
		add_flag_line(srv, line);
		return (0);
	}
	if (k->unix_target != NULL) {
		if (k->ssl_target) {
			fprintf(stderr, "wsbridge: --ssl-target with "
			    "--unix-target is not supported yet: TLS backends "
			    "are TCP only\n");
			return (-1);
		}
		src = wsk_abspath(k->unix_target);
		target = xasprintf("unix:%s", src);
		free(src);
	} else if (strncmp(pos[0], "unix:", 5) == 0 ||
	    strncmp(pos[0], "tls:", 4) == 0 || strcmp(pos[0], "echo") == 0) {
		/* wsbridge's own TARGET forms. */
		target = xstrdup(pos[0]);
	} else {
		q = wsk_hostport(pos[0]);
		target = xasprintf("%s%s", k->ssl_target ? "tls:" : "", q);
		free(q);
	}
	q = quoted(target);
	add_flag_line(srv, xasprintf("route * %s", q));
	free(q);
	free(target);
	return (0);
}

/*
 * daemon yes (websockify's -D): forks before any event loop or thread
 * exists. The parent waits for the child to say it listens, so a port in
 * use still fails the command that started it: it exits 0 once the child
 * is ready, 1 when the child ended first (it said why on stderr or in the
 * log). Returns, in the child, the pipe end for daemon_ready().
 */
static int
daemon_begin(void)
{
	int	p[2];
	char	c;

	if (pipe(p) == -1)
		fatalx("daemon: pipe: %s", strerror(errno));
	switch (fork()) {
	case -1:
		fatalx("daemon: fork: %s", strerror(errno));
	case 0:
		close(p[0]);
		if (setsid() == -1)
			fatalx("daemon: setsid: %s", strerror(errno));
		return (p[1]);
	}
	close(p[1]);
	/* _exit: the parent's copy of the config is the child's to free. */
	_exit(read(p[0], &c, 1) == 1 ? 0 : 1);
}

/* The daemon listens: detach from the terminal and let the parent go. */
static void
daemon_ready(int fd, int keep_stderr)
{
	int	null;

	if (chdir("/") == -1)
		log_warn("daemon: chdir /: %s", strerror(errno));
	if ((null = open("/dev/null", O_RDWR)) != -1) {
		dup2(null, STDIN_FILENO);
		dup2(null, STDOUT_FILENO);
		if (!keep_stderr)
			dup2(null, STDERR_FILENO);
		if (null > STDERR_FILENO)
			close(null);
	}
	if (write(fd, "k", 1) != 1)
		log_warn("daemon: cannot tell the parent: %s", strerror(errno));
	close(fd);
}

/*
 * Prints the configuration the file and flags make, as config lines that
 * -c reads back: the file's lines as they are, then the flags' lines.
 */
static int
print_config(const struct server *srv)
{
	FILE	*f;
	char	*line = NULL;
	size_t	 size = 0, i;

	printf("# wsbridge --print-config: the configuration these flags "
	    "make;\n# wsbridge --check -c FILE reads it back "
	    "(wsbridge.conf(5)).\n");
	if (srv->config_file != NULL) {
		if ((f = fopen(srv->config_file, "r")) == NULL) {
			fprintf(stderr, "wsbridge: %s: %s\n", srv->config_file,
			    strerror(errno));
			return (1);
		}
		printf("# from %s\n", srv->config_file);
		while (getline(&line, &size, f) != -1)
			fputs(line, stdout);
		free(line);
		fclose(f);
		printf("# from the command line\n");
	}
	for (i = 0; i < srv->nflag_lines; i++)
		printf("%s\n", srv->flag_lines[i]);
	return (fflush(stdout) == 0 ? 0 : 1);
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "config",	required_argument,	NULL, 'c' },
		{ "listen",	required_argument,	NULL, 'l' },
		{ "route",	required_argument,	NULL, 'r' },
		{ "option",	required_argument,	NULL, 'o' },
		{ "demo",	no_argument,		NULL, OPT_DEMO },
		{ "check",	no_argument,		NULL, OPT_CHECK },
		{ "print-config", no_argument,		NULL, OPT_PRINT_CONFIG },
		{ "upgrade",	no_argument,		NULL, OPT_UPGRADE },
		{ "log-db",	required_argument,	NULL, OPT_LOG_DB },
		{ "control",	required_argument,	NULL, OPT_CONTROL },
		{ "admin",	required_argument,	NULL, OPT_ADMIN },
		{ "workers",	required_argument,	NULL, OPT_WORKERS },
		{ "log-level",	required_argument,	NULL, OPT_LOG_LEVEL },
		{ "verbose",	no_argument,		NULL, 'v' },
		{ "syslog",	optional_argument,	NULL, OPT_SYSLOG },
		{ "help",	no_argument,		NULL, 'h' },
		{ "version",	no_argument,		NULL, 'V' },
		/* websockify 0.12's */
		{ "traffic",	no_argument,		NULL, OPT_TRAFFIC },
		{ "record",	required_argument,	NULL, OPT_RECORD },
		{ "daemon",	no_argument,		NULL, 'D' },
		{ "run-once",	no_argument,		NULL, OPT_RUN_ONCE },
		{ "timeout",	required_argument,	NULL, OPT_TIMEOUT },
		{ "idle-timeout", required_argument,	NULL, OPT_IDLE_TIMEOUT },
		{ "cert",	required_argument,	NULL, OPT_CERT },
		{ "key",	required_argument,	NULL, OPT_KEY },
		{ "key-password", required_argument,	NULL, OPT_KEY_PASSWORD },
		{ "ssl-only",	no_argument,		NULL, OPT_SSL_ONLY },
		{ "ssl-target",	no_argument,		NULL, OPT_SSL_TARGET },
		{ "verify-client", no_argument,		NULL, OPT_VERIFY_CLIENT },
		{ "cafile",	required_argument,	NULL, OPT_CAFILE },
		{ "ssl-version", required_argument,	NULL, OPT_SSL_VERSION },
		{ "ssl-ciphers", required_argument,	NULL, OPT_SSL_CIPHERS },
		{ "unix-listen", required_argument,	NULL, OPT_UNIX_LISTEN },
		{ "unix-listen-mode", required_argument, NULL, OPT_UNIX_LISTEN_MODE },
		{ "unix-target", required_argument,	NULL, OPT_UNIX_TARGET },
		{ "inetd",	no_argument,		NULL, OPT_INETD },
		{ "web",	required_argument,	NULL, OPT_WEB },
		{ "web-auth",	no_argument,		NULL, OPT_WEB_AUTH },
		{ "wrap-mode",	required_argument,	NULL, OPT_WRAP_MODE },
		{ "prefer-ipv6", no_argument,		NULL, '6' },
		{ "libserver",	no_argument,		NULL, OPT_LIBSERVER },
		{ "target-config", required_argument,	NULL, OPT_TARGET_CONFIG },
		{ "token-plugin", required_argument,	NULL, OPT_TOKEN_PLUGIN },
		{ "token-source", required_argument,	NULL, OPT_TOKEN_SOURCE },
		{ "host-token",	no_argument,		NULL, OPT_HOST_TOKEN },
		{ "auth-plugin", required_argument,	NULL, OPT_AUTH_PLUGIN },
		{ "auth-source", required_argument,	NULL, OPT_AUTH_SOURCE },
		{ "heartbeat",	required_argument,	NULL, OPT_HEARTBEAT },
		{ "log-file",	required_argument,	NULL, OPT_LOG_FILE },
		{ "legacy-syslog", no_argument,		NULL, OPT_LEGACY_SYSLOG },
		{ "file-only",	no_argument,		NULL, OPT_FILE_ONLY },
		{ NULL,		0,			NULL, 0 }
	};
	struct server	 srv;
	struct wsk	 k;
	char		*cause, *eq, *line, **native = NULL;
	int		 ch, check = 0, demo = 0, level = -1, use_syslog = 0, rc;
	int		 upgrade = 0;
	int		 print = 0, i_argc, ready_fd = -1;
	int		 keep_stderr = 0;
	size_t		 i, nnative = 0, nroutes;

	/* wsbridge ctl ...: the control socket's batch client. */
	if (argc >= 2 && strcmp(argv[1], "ctl") == 0)
		return (ctl_main(argc - 1, argv + 1));
	/*
	 * wsbridge upgrade [options]: --upgrade, detached; it exits 0 once
	 * the new process serves (ExecReload=, scripts).
	 */
	if (argc >= 2 && strcmp(argv[1], "upgrade") == 0) {
		argv[1] = argv[0];
		argv++;
		argc--;
		upgrade = 2;
	}
	memset(&srv, 0, sizeof srv);
	memset(&k, 0, sizeof k);
	/* "-- COMMAND ...": websockify's wrapped program, never options. */
	for (i_argc = 1; i_argc < argc; i_argc++) {
		if (strcmp(argv[i_argc], "--") == 0) {
			k.wrap = argv + i_argc + 1;
			k.nwrap = argc - i_argc - 1;
			if (k.nwrap == 0) {
				fprintf(stderr, "wsbridge: nothing after --: "
				    "give the program to wrap\n");
				return (2);
			}
			argc = i_argc;
			break;
		}
	}
	argc = wsk_syslog_args(argc, argv, &k);
	while ((ch = getopt_long(argc, argv, "c:l:r:o:vhVD6", longopts,
	    NULL)) != -1) {
		switch (ch) {
		case 'c':
			srv.config_file = optarg;
			break;
		case 'l':
			add_flag_line(&srv, xasprintf("listen %s", optarg));
			break;
		case 'r':
			/* PATH=TARGET rest -> "route PATH TARGET rest" */
			if ((eq = strchr(optarg, '=')) == NULL) {
				fprintf(stderr, "wsbridge: --route %s: expected "
				    "PATH=TARGET\n", optarg);
				return (2);
			}
			add_flag_line(&srv, xasprintf("route %.*s %s",
			    (int)(eq - optarg), optarg, eq + 1));
			break;
		case 'o':
			add_flag_line(&srv, xstrdup(optarg));
			break;
		case OPT_DEMO:
			demo = 1;
			break;
		case OPT_CHECK:
			check = 1;
			break;
		case OPT_UPGRADE:
			upgrade = 1;
			break;
		case OPT_PRINT_CONFIG:
			print = 1;
			break;
		case OPT_LOG_DB:
			add_flag_line(&srv, quoted_line("log-db", optarg));
			break;
		case OPT_CONTROL:
			add_flag_line(&srv, quoted_line("control", optarg));
			break;
		case OPT_ADMIN:
			add_flag_line(&srv, quoted_line("admin", optarg));
			break;
		case OPT_WORKERS:
			add_flag_line(&srv, quoted_line("workers", optarg));
			break;
		case OPT_LOG_LEVEL:
			if ((level = log_level_parse(optarg)) == -1) {
				fprintf(stderr, "wsbridge: unknown log level "
				    "'%s'\n", optarg);
				return (2);
			}
			break;
		case 'v':
			level = LOGL_DEBUG;
			break;
		case OPT_SYSLOG:
			/* --syslog=SERVER is websockify's; bare is ours. */
			if (optarg != NULL)
				k.syslog = optarg;
			else if (k.syslog == NULL) {
				/* (not the one wsk_syslog_args() took) */
				use_syslog = 1;
				k.syslog_bare = 1;
				add_flag_line(&srv, xstrdup("syslog yes"));
			}
			break;
		case 'h':
			usage(stdout);
			return (0);
		case 'V':
			printf("wsbridge %s\n", PACKAGE_VERSION);
			return (0);
		case '?':
			/* getopt named the option; the usage would bury it. */
			fprintf(stderr, "Try 'wsbridge --help'.\n");
			return (2);
		default:
			if (wsk_option(&k, ch, optarg) != 0)
				return (2);
			break;
		}
	}
	/*
	 * websockify's "--syslog HOST:PORT": one positional word more than
	 * its other options leave room for, with a ':' in it.
	 */
	if (k.syslog_bare && argc - optind == wsk_npos(&k) + 1 &&
	    strchr(argv[optind], ':') != NULL) {
		k.syslog = argv[optind++];
		k.syslog_bare = 0;
		use_syslog = 0;
		for (i = 0; i < srv.nflag_lines; i++) {
			if (strcmp(srv.flag_lines[i], "syslog yes") == 0) {
				free(srv.flag_lines[i]);
				srv.flag_lines[i] = xstrdup("# --syslog "
				    "HOST:PORT: syslog-server below");
			}
		}
	}
	if (k.syslog != NULL && strcmp(k.syslog, "/dev/log") == 0)
		use_syslog = 1;
	/* websockify's lines first (route-defaults), then the others. */
	native = srv.flag_lines;
	nnative = srv.nflag_lines;
	srv.flag_lines = NULL;
	srv.nflag_lines = 0;
	wsk_global_lines(&srv, &k);
	if (level != -1)
		add_flag_line(&srv, xasprintf("log-level %s",
		    log_level_name(level)));
	for (i = 0; i < nnative; i++)
		add_flag_line(&srv, native[i]);
	free(native);
	if (wsk_lines(&srv, &k, argc - optind, argv + optind) != 0) {
		rc = 2;
		goto out;
	}
	if (demo)
		for (i = 0; i < nitems(demo_lines); i++)
			add_flag_line(&srv, xstrdup(demo_lines[i]));
	if (srv.config_file == NULL && srv.nflag_lines == 0) {
		fprintf(stderr, "wsbridge: nothing to do: give [HOST:]PORT TARGET, "
		    "--listen and --route, -c FILE, or --demo\n\n");
		usage(stderr);
		return (2);
	}

	/* Before any config: "listen systemd" lines take these. */
	if (service_take_sockets(&cause) == -1) {
		fprintf(stderr, "wsbridge: %s\n", cause);
		free(cause);
		rc = 1;
		goto out;
	}
	if ((srv.cfg = server_build_config(&srv, &cause)) == NULL) {
		fprintf(stderr, "wsbridge: %s\n", cause);
		free(cause);
		rc = 1;
		goto out;
	}
	if (print) {
		rc = print_config(&srv);
		goto out;
	}
	if (check) {
		if (server_check(srv.cfg, &cause) != 0) {
			fprintf(stderr, "wsbridge: %s\n", cause);
			free(cause);
			rc = 1;
			goto out;
		}
		printf("configuration OK: %zu listeners, %zu routes\n",
		    srv.cfg->nlistens, srv.cfg->nroutes);
		rc = 0;
		goto out;
	}
	if (upgrade) {
		if (upgrade == 2)
			srv.cfg->daemon = 1;
		if (srv.cfg->control == NULL) {
			fprintf(stderr, "wsbridge: --upgrade needs the control "
			    "socket of the running wsbridge (control PATH)\n");
			rc = 1;
			goto out;
		}
		if ((srv.upgrade = upgrade_take(srv.cfg->control,
		    &cause)) == NULL) {
			fprintf(stderr, "wsbridge: %s\n", cause);
			free(cause);
			rc = 1;
			goto out;
		}
	}
	if (srv.cfg->log_file != NULL && log_open_file(srv.cfg->log_file,
	    &cause) == -1) {
		fprintf(stderr, "wsbridge: %s\n", cause);
		free(cause);
		rc = 1;
		goto out;
	}
	if (srv.cfg->daemon) {
		ready_fd = daemon_begin();
		keep_stderr = srv.cfg->log_file != NULL;
	}
	srv.log_level_flag = level;
	log_init(level != -1 ? (enum log_level)level :
	    (enum log_level)srv.cfg->log_level, use_syslog || srv.cfg->log_syslog);
	/* websockify's facility: daemon when detached, else user. */
	if (srv.cfg->syslog_server != NULL && log_syslog_server(
	    srv.cfg->syslog_server, srv.cfg->syslog_legacy, srv.cfg->daemon ?
	    LOG_DAEMON : LOG_USER, &cause) == -1) {
		fprintf(stderr, "wsbridge: %s\n", cause != NULL ? cause :
		    "syslog-server: out of memory");
		free(cause);
		rc = 1;
		goto out;
	}

#if defined(__GLIBC__)
	/*
	 * Bulk reads come and go in chains of up to buffer-size. By default
	 * glibc returns each freed one to the kernel (mmap or heap trim) and
	 * its pages fault in again on the next read: twice the CPU per GiB.
	 * Keep freed memory for reuse instead.
	 */
	mallopt(M_MMAP_THRESHOLD, 4 * 1024 * 1024);
	mallopt(M_TRIM_THRESHOLD, 64 * 1024 * 1024);
#endif
	/* Only workers share bases across threads: one pays no locks. */
	if (server_nworkers(srv.cfg) > 1 && evthread_use_pthreads() == -1)
		fatalx("cannot set up libevent for threads");
	if ((srv.base = event_base_new()) == NULL)
		fatalx("cannot create the event loop");
	sockread_thread_start(srv.base);
	nroutes = srv.cfg->nroutes;
	if (server_start(&srv) == -1) {
		rc = 1;
		goto stop;
	}
	log_info("wsbridge %s ready: %zu routes", PACKAGE_VERSION, nroutes);
	if (srv.upgrade != NULL) {
		/* We accept: the old one stops and drains. */
		if (upgrade_done(srv.upgrade, &cause) == -1) {
			log_error("upgrade: %s; both serve until it is stopped",
			    cause);
			free(cause);
		} else {
			log_info("upgrade: took over from pid %ld, which "
			    "drains now", srv.upgrade->pid);
			server_upgrade_adopted(&srv);
		}
		upgrade_free(srv.upgrade);
		srv.upgrade = NULL;
		/* Under systemd (NotifyAccess=all): we are the service now. */
		service_notify("MAINPID=%ld\nREADY=1", (long)getpid());
	}
	if (ready_fd != -1)
		daemon_ready(ready_fd, keep_stderr);
	event_base_dispatch(srv.base);
	log_info("exiting");
	rc = 0;
stop:
	server_stop(&srv);
	sockread_thread_end();	/* its event is on the base */
	event_base_free(srv.base);
out:
	upgrade_free(srv.upgrade);
	config_free(srv.cfg);
	for (i = 0; i < srv.nflag_lines; i++) {
		line = srv.flag_lines[i];
		free(line);
	}
	free(srv.flag_lines);
	return (rc);
}
