/* test_config.c -- config file grammar, every directive and route key, errors naming their line. */
#include "wsb_autoconf.h"

#include <sys/socket.h>

#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "cidr.h"
#include "config.h"
#include "handshake.h"
#include "log.h"
#include "proxyproto.h"
#include "util.h"

/* Applies line to cfg as line 1 of "t.conf"; fails the test on error. */
static void
ok(struct config *cfg, const char *line)
{
	char	*cause = NULL;

	if (config_parse_line(cfg, line, "t.conf:1", 1, &cause) != 0)
		fail_msg("\"%s\": %s", line, cause);
}

/*
 * Applies line to a fresh config as line 7 of "t.conf" and checks it fails
 * with exactly "t.conf:7: " followed by want.
 */
static void
bad(const char *line, const char *want)
{
	struct config	*cfg;
	char		*cause = NULL, *full;

	cfg = config_new();
	if (config_parse_line(cfg, line, "t.conf:7", 7, &cause) == 0)
		fail_msg("\"%s\" was accepted", line);
	full = xasprintf("t.conf:7: %s", want);
	if (strcmp(cause, full) != 0)
		fail_msg("\"%s\": got \"%s\", want \"%s\"", line, cause, full);
	free(full);
	free(cause);
	config_free(cfg);
}

/* admin ADDR [mode=MODE]: TCP or a unix socket; a later line wins. */
static void
test_admin(void **state)
{
	struct config	*cfg = config_new();

	assert_null(cfg->admin);
	ok(cfg, "admin 127.0.0.1:9101");
	assert_string_equal(cfg->admin, "127.0.0.1:9101");
	assert_string_equal(cfg->admin_host, "127.0.0.1");
	assert_int_equal(cfg->admin_port, 9101);
	assert_null(cfg->admin_unix);
	ok(cfg, "admin *:9102");
	assert_null(cfg->admin_host);
	assert_int_equal(cfg->admin_port, 9102);
	ok(cfg, "admin [::1]:9103");
	assert_string_equal(cfg->admin_host, "::1");
	ok(cfg, "admin unix:/run/wsb/admin.sock mode=0660");
	assert_string_equal(cfg->admin_unix, "/run/wsb/admin.sock");
	assert_null(cfg->admin_host);
	assert_int_equal(cfg->admin_mode, 0660);
	config_free(cfg);

	bad("admin", "admin needs one address");
	bad("admin 127.0.0.1:0x50", "bad port in '127.0.0.1:0x50'");
	bad("admin unix:run/a.sock", "unix socket path must be absolute: "
	    "'unix:run/a.sock'");
	bad("admin 127.0.0.1:9101 mode=0660", "admin: unknown option "
	    "'mode=0660' (only mode=MODE, for a unix socket)");
	bad("admin unix:/a.sock mode=0400", "admin: mode: expected an octal "
	    "mode with 0600 in it, like 0660, not '0400'");
}

/* The last route added. */
static const struct route *
last_route(const struct config *cfg)
{
	assert_true(cfg->nroutes > 0);
	return (&cfg->routes[cfg->nroutes - 1]);
}

static void
test_defaults(void **state)
{
	struct config	*cfg;

	(void)state;
	cfg = config_new();
	assert_int_equal(cfg->refcnt, 1);
	assert_null(cfg->file);
	assert_int_equal(cfg->nlistens, 0);
	assert_int_equal(cfg->nroutes, 0);
	assert_int_equal(cfg->max_connections, 10000);
	assert_int_equal(cfg->max_head, 8192);
	assert_int_equal(cfg->handshake_timeout_ms, 10000);
	assert_int_equal(cfg->close_timeout_ms, 5000);
	assert_int_equal(cfg->shutdown_timeout_ms, 10000);
	assert_int_equal(cfg->buffer_size, 256 * 1024);
	assert_int_equal(cfg->log_level, LOGL_INFO);
	assert_int_equal(cfg->log_syslog, 0);
	assert_int_equal(cfg->defaults.max_frame, 64 * 1024);
	assert_int_equal(cfg->defaults.max_message, 0);
	assert_int_equal(cfg->defaults.connect_timeout_ms, 10000);
	assert_int_equal(cfg->defaults.idle_timeout_ms, 0);
	assert_int_equal(cfg->defaults.ping_interval_ms, 0);
	assert_int_equal(cfg->defaults.pong_timeout_ms, 30000);
	assert_int_equal(cfg->defaults.text, 0);
	assert_int_equal(cfg->defaults.require_subprotocol, 0);
	assert_int_equal(cfg->defaults.nsubprotocols, 0);
	assert_int_equal(cfg->defaults.norigins, 0);
	config_free(cfg);
}

static void
test_ref_free(void **state)
{
	struct config	*cfg;

	(void)state;
	config_free(NULL);
	cfg = config_new();
	ok(cfg, "listen 80");
	ok(cfg, "route-defaults subprotocols=a,b origins=*");
	ok(cfg, "route /x 10.0.0.1:80 origins=https://a.example");
	assert_ptr_equal(config_ref(cfg), cfg);
	assert_int_equal(cfg->refcnt, 2);
	config_free(cfg);
	assert_int_equal(cfg->refcnt, 1);
	assert_string_equal(cfg->routes[0].path, "/x");	/* still alive */
	config_free(cfg);	/* ASan reports any leak or double free */
}

static void
test_listen(void **state)
{
	struct config	*cfg;

	(void)state;
	cfg = config_new();
	ok(cfg, "listen 8080");
	ok(cfg, "listen 127.0.0.1:80");
	ok(cfg, "listen [::1]:443");
	ok(cfg, "listen *:0");
	ok(cfg, "listen localhost:65535");
	ok(cfg, "listen [fe80::1%eth0]:9000");
	ok(cfg, "  listen\t\"0.0.0.0:1\"   # quoted, with a comment");
	assert_int_equal(cfg->nlistens, 7);
	assert_null(cfg->listens[0].host);
	assert_string_equal(cfg->listens[0].port, "8080");
	assert_string_equal(cfg->listens[0].spec, "8080");
	assert_int_equal(cfg->listens[0].line, 1);
	assert_string_equal(cfg->listens[1].host, "127.0.0.1");
	assert_string_equal(cfg->listens[1].port, "80");
	assert_string_equal(cfg->listens[2].host, "::1");
	assert_string_equal(cfg->listens[2].port, "443");
	assert_null(cfg->listens[3].host);
	assert_string_equal(cfg->listens[3].port, "0");
	assert_string_equal(cfg->listens[3].spec, "*:0");
	assert_string_equal(cfg->listens[4].host, "localhost");
	assert_string_equal(cfg->listens[4].port, "65535");
	assert_string_equal(cfg->listens[5].host, "fe80::1%eth0");
	assert_string_equal(cfg->listens[6].host, "0.0.0.0");
	config_free(cfg);

	bad("listen", "listen needs one address");
	bad("listen 80 81", "listen takes one address, then options "
	    "(tls[=auto] cert=FILE [key=FILE]); got '81'");
	bad("listen 80 tls", "tls needs cert=FILE [key=FILE]");
	bad("listen 80 tls key=a", "tls needs cert=FILE [key=FILE]");
	bad("listen 80 cert=a key=b", "cert=, key=, ca=, key-password=, "
	    "ciphers=, min-tls= and verify-client need 'tls'");
	bad("listen 80 min-tls=1.3", "cert=, key=, ca=, key-password=, "
	    "ciphers=, min-tls= and verify-client need 'tls'");
	bad("listen 80 tls cert=a min-tls=1.1", "min-tls: expected 1.2 or 1.3, "
	    "not '1.1'");
	bad("listen 80 tls cert=a ciphers=", "ciphers: empty file name");
	bad("listen 80 tls cert=a cert=b key=c", "cert given twice");
	bad("listen 80 tls cert= key=c", "cert: empty file name");
	bad("listen 80 tls cert=a key=b h2=no", "unknown listen option 'h2=no'");
	bad("listen 65536", "bad port '65536'");
	bad("listen 99999999999999999999999", "bad port '99999999999999999999999'");
	bad("listen -1", "bad port '-1'");
	bad("listen +80", "bad port '+80'");
	bad("listen http", "bad port 'http'");
	bad("listen *", "bad port '*'");
	bad("listen host:", "bad port in 'host:'");
	bad("listen ::1:80", "'::1:80': put an IPv6 address in brackets");
	bad("listen [::1]", "missing port in '[::1]'");
	bad("listen [::1:80", "missing ']' in '[::1:80'");
	bad("listen []:80", "empty address in '[]:80'");
	bad("listen [1.2.3.4]:80", "'[1.2.3.4]:80': brackets are for IPv6 addresses");
	bad("listen [::1]:x", "bad port in '[::1]:x'");
	bad("listen \"a b:80\"", "bad host in 'a b:80'");
	bad("listen \"[::1 ]:80\"", "bad address in '[::1 ]:80'");
}

static void
test_listen_tls(void **state)
{
	struct config	*cfg;
	char		*cause = NULL;

	(void)state;
	cfg = config_new();
	ok(cfg, "listen 127.0.0.1:443 tls cert=/c.pem key=\"/k k.pem\"");
	ok(cfg, "listen 8443 tls key=k cert=c ca=ca.pem");
	assert_int_equal(config_add_listen(cfg, "[::1]:0 tls cert=c key=k", 0,
	    &cause), 0);
	assert_int_equal(cfg->nlistens, 3);
	assert_int_equal(cfg->listens[0].tls, 1);
	assert_string_equal(cfg->listens[0].host, "127.0.0.1");
	assert_string_equal(cfg->listens[0].port, "443");
	assert_string_equal(cfg->listens[0].cert, "/c.pem");
	assert_string_equal(cfg->listens[0].key, "/k k.pem");
	assert_null(cfg->listens[0].ca);
	/* The whole line is the listener's identity across reloads. */
	assert_string_equal(cfg->listens[0].spec,
	    "127.0.0.1:443 tls cert=/c.pem key=/k k.pem");
	assert_string_equal(cfg->listens[1].ca, "ca.pem");
	assert_string_equal(cfg->listens[2].host, "::1");
	assert_int_equal(cfg->listens[2].tls, 1);
	ok(cfg, "listen 80");
	assert_int_equal(cfg->listens[3].tls, 0);
	assert_null(cfg->listens[3].cert);
	/* No key=: a combined PEM, the key read from the cert file. */
	ok(cfg, "listen 8444 tls cert=/both.pem");
	assert_string_equal(cfg->listens[4].key, "/both.pem");
	assert_int_equal(cfg->listens[4].tls13_only, 0);
	assert_null(cfg->listens[4].ciphers);
	ok(cfg, "listen 8445 tls cert=/c.pem min-tls=1.3 ciphers=ECDHE+AESGCM");
	assert_int_equal(cfg->listens[5].tls13_only, 1);
	assert_string_equal(cfg->listens[5].ciphers, "ECDHE+AESGCM");
	assert_int_equal(cfg->listens[5].verify_client, 0);
	/* ca= requires client certificates; verify-client alone too. */
	assert_int_equal(cfg->listens[1].verify_client, 1);
	ok(cfg, "listen 8446 tls cert=/c.pem verify-client");
	assert_int_equal(cfg->listens[6].verify_client, 1);
	assert_null(cfg->listens[6].ca);
	/* tls=auto: TLS or plain HTTP, by the client's first byte. */
	ok(cfg, "listen 8447 tls=auto cert=/both.pem key-password-file=/pw");
	assert_int_equal(cfg->listens[cfg->nlistens - 1].tls, 1);
	assert_int_equal(cfg->listens[cfg->nlistens - 1].tls_auto, 1);
	assert_string_equal(cfg->listens[cfg->nlistens - 1].key_password_file,
	    "/pw");
	assert_int_equal(cfg->listens[4].tls_auto, 0);
	bad("listen 80 tls=auto", "tls needs cert=FILE [key=FILE]");
	bad("listen 80 tls=maybe cert=a", "unknown listen option 'tls=maybe'");
	bad("listen 80 key-password-file=/pw", "cert=, key=, ca=, "
	    "key-password=, ciphers=, min-tls= and verify-client need 'tls'");
	bad("listen 80 tls cert=a key-password=x key-password-file=/pw",
	    "key-password= and key-password-file= both given");
	config_free(cfg);
}

/* websockify's ":PORT": every address, as a bare port. */
/* proxy-protocol= and proxy-from= on a listen line. */
static void
test_listen_proxy(void **state)
{
	struct config		*cfg;
	const struct listen_cfg	*lc;

	(void)state;
	cfg = config_new();
	ok(cfg, "listen 8080");
	ok(cfg, "listen 8081 proxy-protocol=v1");
	ok(cfg, "listen 8082 proxy-protocol=v2 proxy-from=10.0.0.0/8,::1");
	ok(cfg, "listen 8083 tls cert=/c.pem proxy-protocol=any");
	assert_int_equal(cfg->listens[0].proxy, 0);
	assert_null(cfg->listens[0].proxy_from);
	lc = &cfg->listens[1];
	assert_int_equal(lc->proxy, PROXYPROTO_V1);
	/* Loopback unless told. */
	assert_int_equal(lc->nproxy_from, 2);
	assert_int_equal(lc->proxy_from[0].family, AF_INET);
	assert_int_equal(lc->proxy_from[0].bits, 8);
	assert_int_equal(lc->proxy_from[1].family, AF_INET6);
	assert_int_equal(lc->proxy_from[1].bits, 128);
	lc = &cfg->listens[2];
	assert_int_equal(lc->proxy, PROXYPROTO_V2);
	assert_int_equal(lc->nproxy_from, 2);
	assert_int_equal(lc->proxy_from[0].addr[0], 10);
	assert_int_equal(cfg->listens[3].proxy, PROXYPROTO_ANY);
	assert_string_equal(cfg->listens[2].spec,
	    "8082 proxy-protocol=v2 proxy-from=10.0.0.0/8,::1");
	config_free(cfg);

	bad("listen 80 proxy-protocol=v3", "proxy-protocol: expected v1, v2 "
	    "or any, not 'v3'");
	bad("listen 80 proxy-protocol=", "proxy-protocol: expected v1, v2 "
	    "or any, not ''");
	bad("listen 80 proxy-from=127.0.0.1", "proxy-from= needs "
	    "proxy-protocol=");
	bad("listen 80 proxy-protocol=v2 proxy-from=10.0.0.1/8",
	    "proxy-from: '10.0.0.1/8' is not an address or ADDRESS/BITS range "
	    "(host bits zero)");
	bad("listen 80 proxy-protocol=v2 proxy-from=127.0.0.1,lb.example",
	    "proxy-from: 'lb.example' is not an address or ADDRESS/BITS range "
	    "(host bits zero)");
	bad("listen 80 proxy-protocol=v2 proxy-from=", "proxy-from: '' is "
	    "not an address or ADDRESS/BITS range (host bits zero)");
}

/* web DIR [listing=yes|no]: static files (issue 16 item 3). */
static void
test_web(void **state)
{
	struct config	*cfg;

	(void)state;
	cfg = config_new();
	assert_null(cfg->web_root);
	ok(cfg, "web /usr/share/novnc");
	assert_string_equal(cfg->web_root, "/usr/share/novnc");
	assert_int_equal(cfg->web_listing, 0);
	ok(cfg, "web \"/srv/my site\" listing=yes");
	assert_string_equal(cfg->web_root, "/srv/my site");
	assert_int_equal(cfg->web_listing, 1);
	config_free(cfg);
	bad("web", "web needs DIR [listing=yes|no]");
	bad("web relative", "web: the directory must be an absolute path, "
	    "not 'relative'");
	bad("web /x listing=maybe", "web: expected listing=yes or listing=no, "
	    "not 'listing=maybe'");
	bad("web /x /y", "web: expected listing=yes or listing=no, not '/y'");
	bad("web /x listing=yes more", "web needs DIR [listing=yes|no]");
}

static void
test_listen_colon_port(void **state)
{
	struct config	*cfg;

	(void)state;
	cfg = config_new();
	ok(cfg, "listen :6080");
	assert_null(cfg->listens[0].host);
	assert_string_equal(cfg->listens[0].port, "6080");
	config_free(cfg);
	bad("listen :x", "bad port in ':x'");
	cfg = config_new();
	ok(cfg, "listen unix:/run/ws.sock");
	ok(cfg, "listen unix:/run/ws2.sock mode=0660");
	assert_string_equal(cfg->listens[0].unix_path, "/run/ws.sock");
	assert_int_equal(cfg->listens[0].unix_mode, 0600);
	assert_null(cfg->listens[0].port);
	assert_null(cfg->listens[0].host);
	assert_int_equal(cfg->listens[1].unix_mode, 0660);
	config_free(cfg);
	cfg = config_new();
	ok(cfg, "listen fd:3");
	assert_int_equal(cfg->listens[0].inherit_fd, 3);
	assert_null(cfg->listens[0].port);
	ok(cfg, "listen 80");
	assert_int_equal(cfg->listens[1].inherit_fd, -1);
	config_free(cfg);
	bad("listen fd:x", "bad descriptor in 'fd:x'");
	bad("listen fd:5000", "bad descriptor in 'fd:5000'");
	bad("listen unix:run/ws.sock", "unix socket path must be absolute: "
	    "'unix:run/ws.sock'");
	bad("listen unix:/run/ws.sock mode=0400", "mode: expected an octal "
	    "mode with 0600 in it, like 0660, not '0400'");
	bad("listen 80 mode=0600", "unknown listen option 'mode=0600'");
	bad("route / :80", "empty host in ':80'");
}

/* A token route: its keys, its source checked when the line is read. */
static void
test_route_token(void **state)
{
	struct config		*cfg;
	struct handshake_policy	 pol;
	struct ws_offer		 o;
	const struct route	*r, *r2;
	char			 dir[] = "/tmp/wsb-token-XXXXXX", *file, *line;
	char			*cause;
	char			 path[] = "/websockify", qa[] = "token=a";
	char			 qc[] = "x=1&token=c", qb[] = "token=b";
	char			 qz[] = "token=zz", qd[] = "token=d";
	FILE			*f;

	(void)state;
	assert_non_null(mkdtemp(dir));
	file = xasprintf("%s/tokens", dir);
	assert_non_null(f = fopen(file, "w"));
	fprintf(f, "a: 127.0.0.1:5901\nb: unix_socket:/run/b.sock\n"
	    "c: 127.0.0.1:5901\nd: host:notaport\n");
	fclose(f);
	cfg = config_new();
	line = xasprintf("route /websockify token token-source=%s "
	    "origins=http://x", file);
	ok(cfg, line);
	free(line);
	r = last_route(cfg);
	assert_int_equal(r->target.kind, TARGET_TOKEN);

	memset(&o, 0, sizeof o);
	memset(&pol, 0, sizeof pol);
	o.path = path;
	o.query = qa;
	assert_non_null(r = config_route_policy(cfg, &o, &pol));
	assert_int_equal(r->target.kind, TARGET_TCP);
	assert_string_equal(r->target.spec, "127.0.0.1:5901");
	assert_string_equal(r->path, "/websockify");
	/* The token route's policy comes along. */
	assert_int_equal(pol.norigins, 1);
	/* Two tokens for one target share one route. */
	o.query = qc;
	assert_ptr_equal(config_route_policy(cfg, &o, &pol), r);
	o.query = qb;
	assert_non_null(r2 = config_route_policy(cfg, &o, &pol));
	assert_int_equal(r2->target.kind, TARGET_UNIX);
	assert_string_equal(r2->target.path, "/run/b.sock");
	memset(&pol, 0, sizeof pol);
	o.query = qz;
	assert_null(config_route_policy(cfg, &o, &pol));
	assert_string_equal(pol.why, "unknown token");
	memset(&pol, 0, sizeof pol);
	o.query = NULL;
	assert_null(config_route_policy(cfg, &o, &pol));
	assert_string_equal(pol.why, "no token in the query");
	memset(&pol, 0, sizeof pol);
	o.query = qd;
	assert_null(config_route_policy(cfg, &o, &pol));
	assert_int_equal(pol.status, 502);
	config_free(cfg);

	bad("route / token", "a token route needs token-source=PATH (and "
	    "token-plugin=NAME, default TokenFile)");
	bad("route / token token-source=/nonexistent/x", "token source "
	    "/nonexistent/x: No such file or directory");
	bad("route / echo token-source=/x", "token-* options need the target "
	    "'token'");
	bad("route / token token-plugin=TokenRedis token-source=/x",
	    "token-plugin: 'TokenRedis' is not one of TokenFile, "
	    "ReadOnlyTokenFile, TokenFileName, UnixDomainSocketDirectory, "
	    "JWTTokenApi");
	bad("route / token token-from=cookie token-source=/x",
	    "token-from: expected query or host");
	bad("route / token token-color=red", "unknown route option "
	    "'token-color'");
	line = xasprintf("route / token token-plugin=TokenFileName "
	    "token-source=%s", file);
	cfg = config_new();
	assert_int_equal(config_parse_line(cfg, line, NULL, 1, &cause), -1);
	assert_string_equal(strstr(cause, "TokenFileName needs a directory"),
	    "TokenFileName needs a directory");
	free(cause);
	free(line);
	config_free(cfg);
	unlink(file);
	free(file);
	rmdir(dir);
}

/* The process-life directives websockify's options map to. */
static void
test_lifetime(void **state)
{
	struct config	*cfg;

	(void)state;
	cfg = config_new();
	assert_int_equal(cfg->daemon, 0);
	assert_int_equal(cfg->run_once, 0);
	assert_int_equal(cfg->exit_idle_ms, 0);
	assert_int_equal(cfg->accept_for_ms, 0);
	assert_null(cfg->log_file);
	ok(cfg, "daemon yes");
	ok(cfg, "run-once yes");
	ok(cfg, "exit-when-idle 30s");
	ok(cfg, "accept-for 5s");
	ok(cfg, "log-file \"/var/log/ws bridge.log\"");
	assert_int_equal(cfg->daemon, 1);
	assert_int_equal(cfg->run_once, 1);
	assert_int_equal(cfg->exit_idle_ms, 30000);
	assert_int_equal(cfg->accept_for_ms, 5000);
	assert_string_equal(cfg->log_file, "/var/log/ws bridge.log");
	config_free(cfg);
	cfg = config_new();
	ok(cfg, "syslog-server [::1]:514");
	ok(cfg, "syslog-format rfc3164");
	assert_string_equal(cfg->syslog_server, "[::1]:514");
	assert_int_equal(cfg->syslog_legacy, 1);
	ok(cfg, "syslog-server /run/log.sock");
	ok(cfg, "syslog-format rfc5424");
	assert_string_equal(cfg->syslog_server, "/run/log.sock");
	assert_int_equal(cfg->syslog_legacy, 0);
	config_free(cfg);
	bad("syslog-server loghost", "syslog-server: expected HOST:PORT or "
	    "/PATH");
	bad("syslog-format json", "syslog-format: expected rfc5424 or "
	    "rfc3164");
	bad("daemon maybe", "daemon: expected yes or no");
	bad("exit-when-idle soon", "exit-when-idle: bad duration 'soon'");
	bad("log-file \"\"", "log-file: empty path");
}

static void
test_add_listen_and_route(void **state)
{
	struct config	*cfg;
	char		*cause = NULL;

	(void)state;
	cfg = config_new();
	assert_int_equal(config_add_listen(cfg, "[::]:8443", 0, &cause), 0);
	assert_string_equal(cfg->listens[0].host, "::");
	assert_int_equal(cfg->listens[0].line, 0);
	assert_int_equal(config_add_route(cfg,
	    "/x echo subprotocols=\"a, b\" # flag", 0, &cause), 0);
	assert_int_equal(last_route(cfg)->nsubprotocols, 2);
	assert_string_equal(last_route(cfg)->subprotocols[1], "b");
	/* Errors from flags carry no location; the caller adds one. */
	assert_int_equal(config_add_listen(cfg, "x", 0, &cause), -1);
	assert_string_equal(cause, "bad port 'x'");
	free(cause);
	assert_int_equal(config_add_route(cfg, "/y", 0, &cause), -1);
	assert_string_equal(cause, "route needs PATH and TARGET");
	free(cause);
	assert_int_equal(config_add_route(cfg, "/y echo \"x", 0, &cause), -1);
	assert_string_equal(cause, "unterminated quote");
	free(cause);
	assert_int_equal(config_finish(cfg, &cause), 0);
	config_free(cfg);
}

static void
test_route_targets(void **state)
{
	struct config		*cfg;
	const struct route	*r;

	(void)state;
	cfg = config_new();
	ok(cfg, "route /tcp backend.internal:9000");
	r = last_route(cfg);
	assert_string_equal(r->path, "/tcp");
	assert_int_equal(r->target.kind, TARGET_TCP);
	assert_string_equal(r->target.host, "backend.internal");
	assert_string_equal(r->target.port, "9000");
	assert_string_equal(r->target.spec, "backend.internal:9000");
	assert_null(r->target.path);
	assert_int_equal(r->line, 1);

	ok(cfg, "route /v6 [2001:db8::1]:22");
	r = last_route(cfg);
	assert_int_equal(r->target.kind, TARGET_TCP);
	assert_string_equal(r->target.host, "2001:db8::1");
	assert_string_equal(r->target.port, "22");

	ok(cfg, "route /unix unix:/run/app.sock");
	r = last_route(cfg);
	assert_int_equal(r->target.kind, TARGET_UNIX);
	assert_string_equal(r->target.path, "/run/app.sock");
	assert_string_equal(r->target.spec, "unix:/run/app.sock");
	assert_null(r->target.host);

	ok(cfg, "route * echo");
	r = last_route(cfg);
	assert_string_equal(r->path, "*");
	assert_int_equal(r->target.kind, TARGET_ECHO);
	assert_string_equal(r->target.spec, "echo");
	config_free(cfg);

	bad("route", "route needs PATH and TARGET");
	bad("route /x", "route needs PATH and TARGET");
	bad("route chat echo", "route path must start with '/' or be '*': 'chat'");
	bad("route ** echo", "route path must start with '/' or be '*': '**'");
	bad("route /a?b echo", "bad route path '/a?b'");
	bad("route /a#b echo", "bad route path '/a#b'");
	bad("route \"/a b\" echo", "bad route path '/a b'");
	bad("route /x host", "missing port in 'host'");
	bad("route /x host:0", "bad port in 'host:0'");
	bad("route /x host:65536", "bad port in 'host:65536'");
	bad("route /x 80", "missing port in '80'");
	bad("route /x *:80", "bad host in '*:80'");
	bad("route /x unix:run.sock", "unix socket path must be absolute: 'unix:run.sock'");
	bad("route /x unix:", "unix socket path must be absolute: 'unix:'");
	bad("route /x unix:/" "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
	    "unix socket path too long: 'unix:/"
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa'");
	bad("route /x \"echo\x01\"", "bad target");
}

/* tls:HOST:PORT targets and their backend-ca / backend-verify keys. */
static void
test_route_tls(void **state)
{
	struct config		*cfg;
	const struct route	*r;
	char			 ca[] = "/tmp/test_config_ca.XXXXXX";
	FILE			*f;
	int			 fd;

	(void)state;
	cfg = config_new();
	ok(cfg, "route /t tls:backend.internal:443");
	r = last_route(cfg);
	assert_int_equal(r->target.kind, TARGET_TCP);
	assert_true(r->target.tls);
	assert_non_null(r->target.tls_ctx);	/* system store, verifying */
	assert_string_equal(r->target.host, "backend.internal");
	assert_string_equal(r->target.port, "443");
	assert_string_equal(r->target.spec, "tls:backend.internal:443");
	assert_null(r->backend_ca);
	assert_false(r->backend_insecure);

	ok(cfg, "route /v6 tls:[::1]:8443 backend-verify=no");
	r = last_route(cfg);
	assert_string_equal(r->target.host, "::1");
	assert_true(r->backend_insecure);
	assert_non_null(r->target.tls_ctx);

	ok(cfg, "route /plain 127.0.0.1:80");
	r = last_route(cfg);
	assert_false(r->target.tls);
	assert_null(r->target.tls_ctx);
	config_free(cfg);

	/* A CA file that holds no certificate is refused when loaded. */
	assert_int_not_equal(fd = mkstemp(ca), -1);
	assert_non_null(f = fdopen(fd, "w"));
	fputs("not a certificate\n", f);
	fclose(f);
	cfg = config_new();
	{
		char	*cause = NULL, *line;

		line = xasprintf("route /t tls:h:1 backend-ca=%s", ca);
		assert_int_equal(config_parse_line(cfg, line, "t.conf", 3,
		    &cause), -1);
		assert_non_null(strstr(cause, "backend-ca "));
		assert_non_null(strstr(cause, ca));
		free(cause);
		free(line);
	}
	config_free(cfg);
	unlink(ca);

	bad("route /t tls:h:1 backend-ca=/nonexistent/ca.pem",
	    "backend-ca /nonexistent/ca.pem: No such file or directory");
	bad("route /t tls:h:1 backend-ca=", "backend-ca: expected a file");
	bad("route /t tls:h:1 backend-verify=maybe",
	    "backend-verify: expected yes or no");
	bad("route /t h:1 backend-verify=no",
	    "backend-verify: only for tls:HOST:PORT targets");
	bad("route /t echo backend-ca=/etc/hosts",
	    "backend-ca: only for tls:HOST:PORT targets");
	bad("route /t tls:h", "missing port in 'h'");
	bad("route /t tls:unix:/x", "bad port in 'unix:/x'");
}

static void
test_route_keys(void **state)
{
	struct config		*cfg;
	const struct route	*r;

	(void)state;
	cfg = config_new();
	ok(cfg, "route /all 127.0.0.1:1 subprotocols=v2.chat,v1.chat "
	    "require-subprotocol=yes "
	    "origins=https://a.example,http://b.example:8080 mode=text "
	    "max-frame=16k max-message=1M connect-timeout=250ms "
	    "idle-timeout=2m ping-interval=30s pong-timeout=1h");
	r = last_route(cfg);
	assert_int_equal(r->nsubprotocols, 2);
	assert_string_equal(r->subprotocols[0], "v2.chat");
	assert_string_equal(r->subprotocols[1], "v1.chat");
	assert_int_equal(r->require_subprotocol, 1);
	assert_int_equal(r->norigins, 2);
	assert_string_equal(r->origins[0], "https://a.example");
	assert_string_equal(r->origins[1], "http://b.example:8080");
	assert_int_equal(r->text, 1);
	assert_int_equal(r->max_frame, 16384);
	assert_int_equal(r->max_message, 1048576);
	assert_int_equal(r->connect_timeout_ms, 250);
	assert_int_equal(r->idle_timeout_ms, 120000);
	assert_int_equal(r->ping_interval_ms, 30000);
	assert_int_equal(r->pong_timeout_ms, 3600000);

	ok(cfg, "route /b echo mode=binary require-subprotocol=no "
	    "max-frame=1 max-message=0 idle-timeout=0 ping-interval=0 "
	    "origins=* subprotocols=\" a , b\"");
	r = last_route(cfg);
	assert_int_equal(r->text, 0);
	assert_int_equal(r->require_subprotocol, 0);
	assert_int_equal(r->max_frame, 1);
	assert_int_equal(r->max_message, 0);
	assert_int_equal(r->norigins, 1);
	assert_string_equal(r->origins[0], "*");
	assert_int_equal(r->nsubprotocols, 2);
	assert_string_equal(r->subprotocols[0], "a");

	/* Limits, a later key overriding an earlier one, an emptied list. */
	ok(cfg, "route /c echo max-frame=16M max-message=16G "
	    "subprotocols=x subprotocols= origins=null");
	r = last_route(cfg);
	assert_int_equal(r->max_frame, 16 * 1024 * 1024);
	assert_true(r->max_message == 16ull * 1024 * 1024 * 1024);
	assert_int_equal(r->nsubprotocols, 0);
	assert_null(r->subprotocols);
	assert_string_equal(r->origins[0], "null");

	/* An empty list clears what route-defaults set. */
	ok(cfg, "route-defaults origins=https://a.example subprotocols=a");
	ok(cfg, "route /d echo origins= subprotocols=\"\"");
	r = last_route(cfg);
	assert_int_equal(r->norigins, 0);
	assert_int_equal(r->nsubprotocols, 0);
	assert_int_equal(r->send_proxy, 0);

	/* send-proxy=, from route-defaults too, and off again. */
	ok(cfg, "route /p1 127.0.0.1:1 send-proxy=v1");
	assert_int_equal(last_route(cfg)->send_proxy, 1);
	ok(cfg, "route-defaults send-proxy=v2");
	ok(cfg, "route /p2 tls:127.0.0.1:1");
	assert_int_equal(last_route(cfg)->send_proxy, 2);
	ok(cfg, "route /p0 unix:/run/x.sock send-proxy=off");
	assert_int_equal(last_route(cfg)->send_proxy, 0);
	config_free(cfg);

	bad("route /x echo send-proxy=v3", "send-proxy: expected v1, v2 or off");
	bad("route /x echo send-proxy=", "send-proxy: expected v1, v2 or off");
	bad("route /x echo bogus=1", "unknown route option 'bogus'");
	bad("route /x echo Mode=text", "unknown route option 'Mode'");
	bad("route /x echo mode", "expected key=value, got 'mode'");
	bad("route /x echo =text", "expected key=value, got '=text'");
	bad("route /x echo mode=utf8", "mode: expected binary or text");
	bad("route /x echo require-subprotocol=true",
	    "require-subprotocol: expected yes or no");
	bad("route /x echo subprotocols=a,,b", "subprotocols: bad value ''");
	bad("route /x echo subprotocols=a,", "subprotocols: empty item in list");
	bad("route /x echo subprotocols=,a", "subprotocols: bad value ''");
	bad("route /x echo subprotocols=\"a b\"", "subprotocols: bad value 'a b'");
	bad("route /x echo subprotocols=a/b", "subprotocols: bad value 'a/b'");
	bad("route /x echo origins=https://a.example/",
	    "origins: bad value 'https://a.example/'");
	bad("route /x echo origins=a.example", "origins: bad value 'a.example'");
	bad("route /x echo origins=https://", "origins: bad value 'https://'");
	bad("route /x echo max-frame=0", "max-frame: bad size '0' (1 to 16M)");
	bad("route /x echo max-frame=16777217",
	    "max-frame: bad size '16777217' (1 to 16M)");
	bad("route /x echo max-frame=1T", "max-frame: bad size '1T' (1 to 16M)");
	bad("route /x echo max-message=-1", "max-message: bad size '-1'");
	bad("route /x echo connect-timeout=0",
	    "connect-timeout: must not be 0");
	bad("route /x echo connect-timeout=1d",
	    "connect-timeout: bad duration '1d'");
	bad("route /x echo idle-timeout=x", "idle-timeout: bad duration 'x'");
	bad("route /x echo ping-interval=5sec",
	    "ping-interval: bad duration '5sec'");
	bad("route /x echo pong-timeout=0", "pong-timeout: must not be 0");
}

/* permessage-deflate keys: off by default, ranges, route-defaults. */
static void
test_route_deflate(void **state)
{
	struct config		*cfg;
	const struct route	*r;

	(void)state;
	cfg = config_new();
	ok(cfg, "route /plain echo");
	r = last_route(cfg);
	assert_int_equal(r->deflate.enabled, 0);
	assert_int_equal(r->deflate.level, WS_DEFLATE_LEVEL);
	assert_int_equal(r->deflate.window_bits, WS_DEFLATE_WBITS);
	assert_int_equal(r->deflate.mem_level, WS_DEFLATE_MEMLEVEL);
	assert_int_equal(r->deflate.min_size, WS_DEFLATE_MIN_SIZE);

	ok(cfg, "route /z echo deflate=on deflate-level=1 "
	    "deflate-window-bits=9 deflate-mem-level=9 deflate-min-size=1k");
	r = last_route(cfg);
	assert_int_equal(r->deflate.enabled, 1);
	assert_int_equal(r->deflate.level, 1);
	assert_int_equal(r->deflate.window_bits, 9);
	assert_int_equal(r->deflate.mem_level, 9);
	assert_int_equal(r->deflate.min_size, 1024);

	ok(cfg, "route-defaults deflate=yes deflate-level=0 "
	    "deflate-window-bits=15 deflate-mem-level=1 deflate-min-size=0");
	ok(cfg, "route /d echo");
	r = last_route(cfg);
	assert_int_equal(r->deflate.enabled, 1);
	assert_int_equal(r->deflate.level, 0);
	assert_int_equal(r->deflate.mem_level, 1);
	assert_int_equal(r->deflate.min_size, 0);
	ok(cfg, "route /o echo deflate=off");
	assert_int_equal(last_route(cfg)->deflate.enabled, 0);
	config_free(cfg);

	bad("route /x echo deflate=1", "deflate: expected on or off");
	bad("route /x echo deflate-level=10",
	    "deflate-level: expected 0 to 9, got '10'");
	bad("route /x echo deflate-window-bits=8",
	    "deflate-window-bits: expected 9 to 15, got '8'");
	bad("route /x echo deflate-window-bits=16",
	    "deflate-window-bits: expected 9 to 15, got '16'");
	bad("route /x echo deflate-mem-level=0",
	    "deflate-mem-level: expected 1 to 9, got '0'");
	bad("route /x echo deflate-mem-level=x",
	    "deflate-mem-level: expected 1 to 9, got 'x'");
	bad("route /x echo deflate-min-size=17M",
	    "deflate-min-size: bad size '17M' (0 to 16M)");
}

static void
test_globals(void **state)
{
	struct config	*cfg;

	(void)state;
	cfg = config_new();
	ok(cfg, "max-connections 5");
	ok(cfg, "max-header-size 1k");
	ok(cfg, "handshake-timeout 250ms");
	ok(cfg, "close-timeout 1m");
	ok(cfg, "shutdown-timeout 0");
	ok(cfg, "buffer-size 4k");
	ok(cfg, "log-level debug");
	ok(cfg, "syslog yes");
	assert_int_equal(cfg->keepalive_ms, 60000);	/* the default */
	ok(cfg, "tcp-keepalive 0");
	assert_int_equal(cfg->keepalive_ms, 0);
	ok(cfg, "tcp-keepalive 2m");
	assert_int_equal(cfg->keepalive_ms, 120000);
	ok(cfg, "shutdown-mode wait");
	assert_int_equal(cfg->shutdown_wait, 1);
	ok(cfg, "shutdown-mode close");
	assert_int_equal(cfg->shutdown_wait, 0);
	assert_int_equal(cfg->ntrusted_proxies, 0);	/* nobody by default */
	ok(cfg, "trusted-proxies 10.0.0.0/8,192.0.2.1,::1");
	assert_int_equal(cfg->ntrusted_proxies, 3);
	assert_int_equal(cfg->trusted_proxies[1].bits, 32);
	ok(cfg, "trusted-proxies 127.0.0.1");
	assert_int_equal(cfg->ntrusted_proxies, 1);
	ok(cfg, "trusted-proxies none");
	assert_int_equal(cfg->ntrusted_proxies, 0);
	assert_null(cfg->trusted_proxies);
	ok(cfg, "trusted-proxies 127.0.0.0/8");
	assert_int_equal(cfg->max_connections, 5);
	assert_int_equal(cfg->max_head, 1024);
	assert_int_equal(cfg->handshake_timeout_ms, 250);
	assert_int_equal(cfg->close_timeout_ms, 60000);
	assert_int_equal(cfg->shutdown_timeout_ms, 0);
	assert_int_equal(cfg->buffer_size, 4096);
	assert_int_equal(cfg->log_level, LOGL_DEBUG);
	assert_int_equal(cfg->log_syslog, 1);
	ok(cfg, "max-header-size 1M");
	ok(cfg, "log-level error");
	ok(cfg, "syslog no");
	ok(cfg, "max-connections 4294967295");
	assert_int_equal(cfg->max_head, 1048576);
	assert_int_equal(cfg->log_level, LOGL_ERROR);
	assert_int_equal(cfg->log_syslog, 0);
	assert_int_equal(cfg->max_connections, UINT_MAX);
	ok(cfg, "log-level warn");
	assert_int_equal(cfg->log_level, LOGL_WARN);
	ok(cfg, "log-level info");
	assert_int_equal(cfg->log_level, LOGL_INFO);
	assert_int_equal(cfg->h2_max_streams, 100);
	assert_int_equal(cfg->h2_idle_timeout_ms, 60000);
	ok(cfg, "h2-max-streams 8");
	ok(cfg, "h2-idle-timeout 5s");
	assert_int_equal(cfg->h2_max_streams, 8);
	assert_int_equal(cfg->h2_idle_timeout_ms, 5000);
	assert_int_equal(cfg->control_mode, 0600);
	assert_int_equal(cfg->control_max_clients, 16);
	assert_int_equal(cfg->control_client_buffer, 4 * 1024 * 1024);
	ok(cfg, "control-mode 660");
	ok(cfg, "control-max-clients 1");
	ok(cfg, "control-client-buffer 1M");
	assert_int_equal(cfg->control_mode, 0660);
	assert_int_equal(cfg->control_max_clients, 1);
	assert_int_equal(cfg->control_client_buffer, 1024 * 1024);
	ok(cfg, "control-mode 0777");
	ok(cfg, "control-max-clients 1024");
	ok(cfg, "control-client-buffer 1G");
	assert_int_equal(cfg->control_mode, 0777);
	assert_int_equal(cfg->control_max_clients, 1024);
	assert_int_equal(cfg->control_client_buffer, 1024 * 1024 * 1024);
	config_free(cfg);

	/* The owner must keep read and write: wsbridge's own files. */
	bad("control-mode 0400", "control-mode: expected an octal mode with "
	    "0600 in it, like 0660, not '0400'");
	bad("control-mode 0o600", "control-mode: expected an octal mode "
	    "with 0600 in it, like 0660, not '0o600'");
	bad("control-mode 1600", "control-mode: expected an octal mode "
	    "with 0600 in it, like 0660, not '1600'");
	bad("control-mode 0680", "control-mode: expected an octal mode "
	    "with 0600 in it, like 0660, not '0680'");
	bad("control-max-clients 0",
	    "control-max-clients: bad number '0' (1 to 1024)");
	bad("control-max-clients 1025",
	    "control-max-clients: bad number '1025' (1 to 1024)");
	bad("control-client-buffer 1023k",
	    "control-client-buffer: bad size '1023k' (1M to 1G)");
	bad("control-client-buffer 2G",
	    "control-client-buffer: bad size '2G' (1M to 1G)");

	bad("h2-max-streams 0", "h2-max-streams: bad number '0' (1 to 10000)");
	bad("h2-max-streams 10001",
	    "h2-max-streams: bad number '10001' (1 to 10000)");
	bad("h2-idle-timeout 0", "h2-idle-timeout: bad duration '0'");

	bad("max-connections 0", "max-connections: bad number '0'");
	bad("max-connections 4294967296",
	    "max-connections: bad number '4294967296'");
	bad("max-connections 1k", "max-connections: bad number '1k'");
	bad("max-connections", "max-connections needs one value");
	bad("max-connections 1 2", "max-connections needs one value");
	bad("max-header-size 1023",
	    "max-header-size: bad size '1023' (1k to 1M)");
	bad("max-header-size 1025k",
	    "max-header-size: bad size '1025k' (1k to 1M)");
	bad("handshake-timeout 0", "handshake-timeout: must not be 0");
	bad("close-timeout 0ms", "close-timeout: must not be 0");
	bad("tcp-keepalive 500ms",
	    "tcp-keepalive: bad duration '500ms' (0, or 1s to 1d)");
	bad("trusted-proxies 10.0.0.1/8", "trusted-proxies: '10.0.0.1/8' is "
	    "not an address or ADDRESS/BITS range (host bits zero)");
	bad("trusted-proxies 10.0.0.0/8,,::1", "trusted-proxies: '' is not an "
	    "address or ADDRESS/BITS range (host bits zero)");
	bad("trusted-proxies", "trusted-proxies needs one value");
	bad("shutdown-mode later",
	    "shutdown-mode: 'later' is not close or wait");
	bad("shutdown-timeout forever",
	    "shutdown-timeout: bad duration 'forever'");
	bad("buffer-size 4095", "buffer-size: bad size '4095' (4k to 1G)");
	bad("buffer-size 2G", "buffer-size: bad size '2G' (4k to 1G)");
	bad("log-level loud", "log-level: expected error, warn, info or debug");
	bad("log-level INFO", "log-level: expected error, warn, info or debug");
	bad("syslog 1", "syslog: expected yes or no");
	bad("lisen 80", "unknown directive 'lisen'");
	bad("Listen 80", "unknown directive 'Listen'");
	bad("route-defaults", "route-defaults needs key=value");
	bad("route-defaults mode=text bogus=1", "unknown route option 'bogus'");
}

static void
test_lexing(void **state)
{
	struct config	*cfg;
	char		*cause = NULL;

	(void)state;
	cfg = config_new();
	ok(cfg, "");
	ok(cfg, "   \t ");
	ok(cfg, "# a comment");
	ok(cfg, "   # an indented comment \"with a quote");
	assert_int_equal(cfg->nlistens + cfg->nroutes, 0);
	/* Quotes join a word; '#' inside a word or quotes is no comment. */
	ok(cfg, "route /q echo subprotocols=\"a,b\"c#d # comment \"");
	assert_int_equal(last_route(cfg)->nsubprotocols, 2);
	assert_string_equal(last_route(cfg)->subprotocols[1], "bc#d");
	ok(cfg, "route /e echo origins=\"https://a.example, null\"");
	assert_int_equal(last_route(cfg)->norigins, 2);
	assert_string_equal(last_route(cfg)->origins[1], "null");
	config_free(cfg);

	bad("route /a#b\"#\" echo #comment", "bad route path '/a#b#'");
	bad("route /e echo subprotocols=\"x\\\"y\"",
	    "subprotocols: bad value 'x\"y'");
	bad("route \"/with space\\\\\" echo # a '\\' kept",
	    "bad route path '/with space\\'");
	bad("listen \"80", "unterminated quote");
	bad("route /x echo origins=\"https://a.example", "unterminated quote");

	cfg = config_new();
	ok(cfg, "route\t/p\t\"127.0.0.1:80\"\tsubprotocols=\"a, b\"\t#x");
	assert_string_equal(last_route(cfg)->target.host, "127.0.0.1");
	assert_string_equal(last_route(cfg)->subprotocols[1], "b");
	/* Without a where, the message has no prefix. */
	assert_int_equal(config_parse_line(cfg, "nope", NULL, 3, &cause), -1);
	assert_string_equal(cause, "unknown directive 'nope'");
	free(cause);
	config_free(cfg);
}

static void
test_duration(void **state)
{
	static const struct {
		const char	*s;
		int		 rc;
		unsigned	 ms;
	} cases[] = {
		{ "0", 0, 0 },
		{ "10", 0, 10000 },
		{ "10s", 0, 10000 },
		{ "250ms", 0, 250 },
		{ "2m", 0, 120000 },
		{ "1h", 0, 3600000 },
		{ "007s", 0, 7000 },
		{ "4294967295ms", 0, 4294967295u },
		{ "4294967s", 0, 4294967000u },
		{ "71582m", 0, 4294920000u },
		{ "1193h", 0, 4294800000u },
		{ "4294967296ms", -1, 0 },
		{ "4294968s", -1, 0 },
		{ "4294968", -1, 0 },
		{ "71583m", -1, 0 },
		{ "1194h", -1, 0 },
		{ "99999999999999999999999s", -1, 0 },
		{ "", -1, 0 },
		{ "s", -1, 0 },
		{ "ms", -1, 0 },
		{ "-1s", -1, 0 },
		{ "+1s", -1, 0 },
		{ " 1s", -1, 0 },
		{ "1s ", -1, 0 },
		{ "1 s", -1, 0 },
		{ "1.5s", -1, 0 },
		{ "1S", -1, 0 },
		{ "1d", -1, 0 },
		{ "1sm", -1, 0 },
		{ "1ms5", -1, 0 },
		{ "0x10", -1, 0 },
	};
	unsigned	ms;
	size_t		i;

	(void)state;
	for (i = 0; i < nitems(cases); i++) {
		ms = 12345;
		if (parse_duration(cases[i].s, &ms) != cases[i].rc)
			fail_msg("duration \"%s\": wrong result", cases[i].s);
		if (cases[i].rc == 0 && ms != cases[i].ms)
			fail_msg("duration \"%s\": got %u, want %u", cases[i].s,
			    ms, cases[i].ms);
		if (cases[i].rc != 0 && ms != 12345)
			fail_msg("duration \"%s\": output changed", cases[i].s);
	}
}

static void
test_size(void **state)
{
	static const struct {
		const char	*s;
		int		 rc;
		uint64_t	 v;
	} cases[] = {
		{ "0", 0, 0 },
		{ "4096", 0, 4096 },
		{ "64k", 0, 65536 },
		{ "64K", 0, 65536 },
		{ "16M", 0, 16777216 },
		{ "16m", 0, 16777216 },
		{ "1G", 0, 1073741824 },
		{ "1g", 0, 1073741824 },
		{ "18446744073709551615", 0, UINT64_MAX },
		{ "17179869183G", 0, 17179869183ull << 30 },
		{ "18446744073709551616", -1, 0 },
		{ "17179869184G", -1, 0 },
		{ "18014398509481984k", -1, 0 },
		{ "", -1, 0 },
		{ "k", -1, 0 },
		{ "-1", -1, 0 },
		{ "+1", -1, 0 },
		{ " 1", -1, 0 },
		{ "1 k", -1, 0 },
		{ "1.5k", -1, 0 },
		{ "1kb", -1, 0 },
		{ "1KiB", -1, 0 },
		{ "1T", -1, 0 },
		{ "0x10", -1, 0 },
	};
	uint64_t	v;
	size_t		i;

	(void)state;
	for (i = 0; i < nitems(cases); i++) {
		v = 12345;
		if (parse_size(cases[i].s, &v) != cases[i].rc)
			fail_msg("size \"%s\": wrong result", cases[i].s);
		if (cases[i].rc == 0 && v != cases[i].v)
			fail_msg("size \"%s\": wrong value", cases[i].s);
		if (cases[i].rc != 0 && v != 12345)
			fail_msg("size \"%s\": output changed", cases[i].s);
	}
}

static void
test_route_defaults(void **state)
{
	struct config		*cfg;
	const struct route	*r;
	char			*cause = NULL;

	(void)state;
	cfg = config_new();
	ok(cfg, "route /before echo");
	ok(cfg, "route-defaults subprotocols=a,b origins=https://a.example "
	    "mode=text ping-interval=20s max-frame=1k");
	ok(cfg, "route /after echo");
	ok(cfg, "route /own echo subprotocols=c mode=binary max-frame=2k");
	ok(cfg, "route-defaults origins=* idle-timeout=1m");
	ok(cfg, "route /later echo");

	/* Routes defined before the line keep the built-in defaults. */
	r = &cfg->routes[0];
	assert_int_equal(r->nsubprotocols, 0);
	assert_int_equal(r->norigins, 0);
	assert_int_equal(r->text, 0);
	assert_int_equal(r->ping_interval_ms, 0);
	assert_int_equal(r->max_frame, 65536);

	r = &cfg->routes[1];
	assert_int_equal(r->nsubprotocols, 2);
	assert_string_equal(r->subprotocols[1], "b");
	/* A deep copy: the defaults' array is not shared. */
	assert_ptr_not_equal(r->subprotocols, cfg->defaults.subprotocols);
	assert_ptr_not_equal(r->subprotocols[0],
	    cfg->defaults.subprotocols[0]);
	assert_string_equal(r->origins[0], "https://a.example");
	assert_int_equal(r->text, 1);
	assert_int_equal(r->ping_interval_ms, 20000);
	assert_int_equal(r->max_frame, 1024);
	assert_int_equal(r->pong_timeout_ms, 30000);

	r = &cfg->routes[2];
	assert_int_equal(r->nsubprotocols, 1);
	assert_string_equal(r->subprotocols[0], "c");
	assert_int_equal(r->text, 0);
	assert_int_equal(r->max_frame, 2048);
	assert_string_equal(r->origins[0], "https://a.example");

	/* route-defaults lines accumulate. */
	r = &cfg->routes[3];
	assert_int_equal(r->nsubprotocols, 2);
	assert_string_equal(r->origins[0], "*");
	assert_int_equal(r->idle_timeout_ms, 60000);
	assert_int_equal(r->text, 1);

	/* A bad route-defaults line changes nothing. */
	assert_int_equal(config_parse_line(cfg,
	    "route-defaults mode=binary max-frame=0", "t", 9, &cause), -1);
	assert_string_equal(cause, "t: max-frame: bad size '0' (1 to 16M)");
	free(cause);
	assert_int_equal(cfg->defaults.text, 1);
	/* Nor does a bad route line. */
	assert_int_equal(config_parse_line(cfg,
	    "route /bad echo origins=* subprotocols=x mode=x", "t", 10,
	    &cause), -1);
	free(cause);
	assert_int_equal(cfg->nroutes, 4);
	config_free(cfg);
}

static void
test_finish(void **state)
{
	struct config	*cfg;
	char		*cause = NULL;

	(void)state;
	cfg = config_new();
	assert_int_equal(config_finish(cfg, &cause), -1);
	assert_string_equal(cause, "no listen address");
	free(cause);
	ok(cfg, "listen 80");
	assert_int_equal(config_finish(cfg, &cause), -1);
	assert_string_equal(cause, "no route");
	free(cause);
	ok(cfg, "route / echo");
	assert_int_equal(config_finish(cfg, &cause), 0);
	config_free(cfg);

	/* Duplicates name both places. */
	cfg = config_new();
	assert_int_equal(config_parse_line(cfg, "listen 80", "f", 1, &cause), 0);
	assert_int_equal(config_parse_line(cfg, "route /a echo", "f", 2,
	    &cause), 0);
	assert_int_equal(config_parse_line(cfg, "route /b echo", "f", 3,
	    &cause), 0);
	assert_int_equal(config_parse_line(cfg, "route /a 10.0.0.1:22", "f", 12,
	    &cause), 0);
	assert_int_equal(config_finish(cfg, &cause), -1);
	assert_string_equal(cause, "line 12: duplicate route '/a' "
	    "(first at line 2)");
	free(cause);
	cfg->file = xstrdup("wsbridge.conf");
	assert_int_equal(config_finish(cfg, &cause), -1);
	assert_string_equal(cause, "wsbridge.conf:12: duplicate route '/a' "
	    "(first at wsbridge.conf:2)");
	free(cause);
	config_free(cfg);

	cfg = config_new();
	assert_int_equal(config_add_listen(cfg, "80", 0, &cause), 0);
	assert_int_equal(config_add_route(cfg, "* echo", 0, &cause), 0);
	assert_int_equal(config_add_route(cfg, "* echo", 0, &cause), 0);
	assert_int_equal(config_finish(cfg, &cause), -1);
	assert_string_equal(cause, "the command line: duplicate route '*' "
	    "(first at the command line)");
	free(cause);
	config_free(cfg);
}

static void
test_find_route(void **state)
{
	struct config	*cfg;

	(void)state;
	cfg = config_new();
	ok(cfg, "route /a echo");
	assert_null(config_find_route(cfg, "/b"));
	ok(cfg, "route * echo");
	ok(cfg, "route /b echo");
	/* Exact first, even when "*" comes earlier in the file. */
	assert_ptr_equal(config_find_route(cfg, "/a"), &cfg->routes[0]);
	assert_ptr_equal(config_find_route(cfg, "/b"), &cfg->routes[2]);
	assert_ptr_equal(config_find_route(cfg, "/c"), &cfg->routes[1]);
	assert_ptr_equal(config_find_route(cfg, "/A"), &cfg->routes[1]);
	assert_ptr_equal(config_find_route(cfg, ""), &cfg->routes[1]);
	config_free(cfg);
}

/* Writes text to a new temporary file and returns its name (caller frees). */
static char *
write_file(const char *text)
{
	char	*path;
	FILE	*f;
	int	 fd;

	path = xstrdup("/tmp/test_config.XXXXXX");
	assert_int_not_equal(fd = mkstemp(path), -1);
	assert_non_null(f = fdopen(fd, "w"));
	assert_int_equal(fwrite(text, 1, strlen(text), f), strlen(text));
	assert_int_equal(fclose(f), 0);
	return (path);
}

static void
test_load_file(void **state)
{
	struct config	*cfg;
	char		*path, *cause = NULL, *want;

	(void)state;
	path = write_file(
	    "# wsbridge.conf\n"
	    "listen 8080\r\n"
	    "\n"
	    "route-defaults ping-interval=30s\n"
	    "route /chat 127.0.0.1:9000 subprotocols=chat\n"
	    "route * echo");	/* no final newline */
	cfg = config_new();
	assert_int_equal(config_load_file(cfg, path, &cause), 0);
	assert_string_equal(cfg->file, path);
	assert_int_equal(cfg->nlistens, 1);
	assert_int_equal(cfg->listens[0].line, 2);
	assert_int_equal(cfg->nroutes, 2);
	assert_int_equal(cfg->routes[0].line, 5);
	assert_int_equal(cfg->routes[0].ping_interval_ms, 30000);
	assert_int_equal(cfg->routes[1].line, 6);
	assert_int_equal(config_finish(cfg, &cause), 0);
	config_free(cfg);
	unlink(path);
	free(path);

	path = write_file("listen 80\n\n# x\n\n\n\n\n\n\n\n\nlisen 81\n");
	cfg = config_new();
	assert_int_equal(config_load_file(cfg, path, &cause), -1);
	want = xasprintf("%s:12: unknown directive 'lisen'", path);
	assert_string_equal(cause, want);
	free(want);
	free(cause);
	config_free(cfg);
	unlink(path);
	free(path);

	path = write_file("listen 80\nroute /a echo\nroute /a echo\n");
	cfg = config_new();
	assert_int_equal(config_load_file(cfg, path, &cause), 0);
	assert_int_equal(config_finish(cfg, &cause), -1);
	want = xasprintf("%s:3: duplicate route '/a' (first at %s:2)", path,
	    path);
	assert_string_equal(cause, want);
	free(want);
	free(cause);
	config_free(cfg);
	unlink(path);
	free(path);

	/* A NUL byte cannot hide the rest of a line. */
	path = write_file("listen 80\n");
	{
		FILE	*f = fopen(path, "a");

		assert_non_null(f);
		assert_int_equal(fwrite("route /a\0 echo\n", 1, 15, f), 15);
		fclose(f);
	}
	cfg = config_new();
	assert_int_equal(config_load_file(cfg, path, &cause), -1);
	want = xasprintf("%s:2: NUL byte in line", path);
	assert_string_equal(cause, want);
	free(want);
	free(cause);
	config_free(cfg);
	unlink(path);
	free(path);

	cfg = config_new();
	assert_int_equal(config_load_file(cfg, "/nonexistent/wsbridge.conf",
	    &cause), -1);
	assert_string_equal(cause,
	    "/nonexistent/wsbridge.conf: No such file or directory");
	free(cause);
	assert_int_equal(config_load_file(cfg, "/", &cause), -1);
	assert_string_equal(cause, "/: Is a directory");
	free(cause);
	config_free(cfg);
}

/* listen systemd[:NAME] takes the sockets the service manager passed. */
static void
test_listen_systemd(void **state)
{
	static char	 ws[] = "ws", wss[] = "wss";
	char		*names[] = { ws, wss };
	struct config	*cfg;

	config_set_activation(3, NULL, 0);
	cfg = config_new();
	ok(cfg, "listen systemd");
	assert_int_equal(cfg->nlistens, 1);
	assert_int_equal(cfg->listens[0].systemd, 1);
	assert_int_equal(cfg->listens[0].inherit_fd, -1);	/* none passed */
	config_free(cfg);
	bad("listen systemd:", "bad listen address 'systemd:' (systemd or "
	    "systemd:NAME)");

	config_set_activation(3, names, 2);
	cfg = config_new();
	ok(cfg, "listen systemd");
	assert_int_equal(cfg->nlistens, 2);
	assert_int_equal(cfg->listens[0].inherit_fd, 3);
	assert_int_equal(cfg->listens[1].inherit_fd, 4);
	assert_string_not_equal(cfg->listens[0].spec, cfg->listens[1].spec);
	ok(cfg, "listen systemd:wss");
	assert_int_equal(cfg->nlistens, 3);
	assert_int_equal(cfg->listens[2].inherit_fd, 4);
	assert_string_equal(cfg->listens[2].spec, "systemd:wss#4");
	config_free(cfg);
	bad("listen systemd:other", "listen systemd:other: the service "
	    "manager passed no socket named other (FileDescriptorName= in the "
	    ".socket unit)");
	config_set_activation(3, NULL, 0);

	cfg = config_new();
	ok(cfg, "user nobody");
	ok(cfg, "group 65534");
	assert_string_equal(cfg->user, "nobody");
	assert_string_equal(cfg->group, "65534");
	config_free(cfg);
	bad("user \"\"", "user: expected a name or number");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_ref_free),
		cmocka_unit_test(test_listen),
		cmocka_unit_test(test_listen_tls),
		cmocka_unit_test(test_listen_colon_port),
		cmocka_unit_test(test_web),
		cmocka_unit_test(test_listen_proxy),
		cmocka_unit_test(test_route_token),
		cmocka_unit_test(test_lifetime),
		cmocka_unit_test(test_add_listen_and_route),
		cmocka_unit_test(test_route_targets),
		cmocka_unit_test(test_route_keys),
		cmocka_unit_test(test_route_deflate),
		cmocka_unit_test(test_globals),
		cmocka_unit_test(test_lexing),
		cmocka_unit_test(test_duration),
		cmocka_unit_test(test_size),
		cmocka_unit_test(test_route_defaults),
		cmocka_unit_test(test_route_tls),
		cmocka_unit_test(test_finish),
		cmocka_unit_test(test_find_route),
		cmocka_unit_test(test_load_file),
		cmocka_unit_test(test_listen_systemd),
		cmocka_unit_test(test_admin),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
