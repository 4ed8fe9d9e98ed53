/* main.c -- wsbridge: flags, config, and the event loop. */
#include "wsb_autoconf.h"

#include <getopt.h>
#if defined(__GLIBC__)
#include <malloc.h>
#endif
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <event2/thread.h>

#include "config.h"
#include "ctl.h"
#include "log.h"
#include "server.h"
#include "sockread.h"
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
"usage: wsbridge [options] [[HOST:]PORT TARGET]\n"
"       wsbridge ctl [-s PATH] [--json] hello|stats|list|conn ID|events\n"
"\n"
"Bridges WebSocket clients (RFC 6455) to TCP or unix-socket backends.\n"
"With PORT and TARGET, listens on PORT and bridges every path to TARGET,\n"
"like websockify: wsbridge 8080 localhost:5900\n"
"\n"
"TARGET is HOST:PORT, [IPV6]:PORT, tls:HOST:PORT (certificate verified;\n"
"route keys backend-ca=FILE, backend-verify=no), unix:/PATH, or echo.\n"
"\n"
"options:\n"
"  -c, --config FILE       read FILE (see wsbridge.conf(5)); SIGHUP rereads it\n"
"  -l, --listen ADDR       listen on ADDR: PORT, HOST:PORT, [V6]:PORT (repeatable);\n"
"                          'ADDR tls cert=FILE key=FILE [ca=FILE]' for wss://\n"
"                          (HTTP/1.1 and HTTP/2 by ALPN; ca= requires client certs)\n"
"  -r, --route 'PATH=TARGET [KEY=VALUE ...]'\n"
"                          bridge PATH (or * for any) to TARGET (repeatable);\n"
"                          keys as in a config route line, e.g. mode=text\n"
"  -o, --option 'LINE'     apply any config file line, e.g. -o 'max-connections 100'\n"
"      --demo              run the built-in demo: 127.0.0.1:8080, /echo\n"
"      --check             validate the configuration (and that the log-db\n"
"                          and control files can be made) and exit\n"
"      --log-db FILE       record every session and frame to the SQLite\n"
"                          database FILE, mode 0600 (-o 'log-db-mode 0640')\n"
"      --control PATH      serve stats and events on the unix socket PATH\n"
"                          (mode 0600) for wsbridge-top and wsbridge ctl;\n"
"                          16 clients, 4 MiB unread each (control-max-clients,\n"
"                          control-client-buffer in wsbridge.conf(5))\n"
"      --workers N         N event loops, one thread each, sharing the\n"
"                          listening ports (default 1; auto: one per CPU)\n"
"      --log-level LEVEL   error, warn, info (default) or debug\n"
"  -v, --verbose           same as --log-level debug\n"
"      --syslog            log to syslog instead of stderr\n"
"  -h, --help              show this help\n"
"  -V, --version           show the version\n"
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

/* "NAME "VALUE"" with the quoting config lines understand. */
static char *
quoted_line(const char *name, const char *value)
{
	char	*line, *p;

	line = xmalloc(strlen(name) + 2 * strlen(value) + 4);
	p = line + strlen(name) + 2;
	snprintf(line, p - line + 1, "%s \"", name);
	for (; *value != '\0'; value++) {
		if (*value == '"' || *value == '\\')
			*p++ = '\\';
		*p++ = *value;
	}
	*p++ = '"';
	*p = '\0';
	return (line);
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "config",	required_argument,	NULL, 'c' },
		{ "listen",	required_argument,	NULL, 'l' },
		{ "route",	required_argument,	NULL, 'r' },
		{ "option",	required_argument,	NULL, 'o' },
		{ "demo",	no_argument,		NULL, 'D' },
		{ "check",	no_argument,		NULL, 'C' },
		{ "log-db",	required_argument,	NULL, 'B' },
		{ "control",	required_argument,	NULL, 'K' },
		{ "workers",	required_argument,	NULL, 'W' },
		{ "log-level",	required_argument,	NULL, 'L' },
		{ "verbose",	no_argument,		NULL, 'v' },
		{ "syslog",	no_argument,		NULL, 'S' },
		{ "help",	no_argument,		NULL, 'h' },
		{ "version",	no_argument,		NULL, 'V' },
		{ NULL,		0,			NULL, 0 }
	};
	struct server	 srv;
	char		*cause, *eq, *line;
	int		 ch, check = 0, demo = 0, level = -1, use_syslog = 0, rc;
	size_t		 i, nroutes;

	/* wsbridge ctl ...: the control socket's batch client. */
	if (argc >= 2 && strcmp(argv[1], "ctl") == 0)
		return (ctl_main(argc - 1, argv + 1));
	memset(&srv, 0, sizeof srv);
	while ((ch = getopt_long(argc, argv, "c:l:r:o:vhV", longopts,
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
		case 'D':
			demo = 1;
			break;
		case 'C':
			check = 1;
			break;
		case 'B':
			add_flag_line(&srv, quoted_line("log-db", optarg));
			break;
		case 'K':
			add_flag_line(&srv, quoted_line("control", optarg));
			break;
		case 'W':
			add_flag_line(&srv, quoted_line("workers", optarg));
			break;
		case 'L':
			if ((level = log_level_parse(optarg)) == -1) {
				fprintf(stderr, "wsbridge: unknown log level "
				    "'%s'\n", optarg);
				return (2);
			}
			break;
		case 'v':
			level = LOGL_DEBUG;
			break;
		case 'S':
			use_syslog = 1;
			break;
		case 'h':
			usage(stdout);
			return (0);
		case 'V':
			printf("wsbridge %s\n", PACKAGE_VERSION);
			return (0);
		default:
			usage(stderr);
			return (2);
		}
	}
	argc -= optind;
	argv += optind;
	if (argc == 2) {
		add_flag_line(&srv, xasprintf("listen %s", argv[0]));
		add_flag_line(&srv, xasprintf("route * %s", argv[1]));
	} else if (argc != 0) {
		usage(stderr);
		return (2);
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

	if ((srv.cfg = server_build_config(&srv, &cause)) == NULL) {
		fprintf(stderr, "wsbridge: %s\n", cause);
		free(cause);
		rc = 1;
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
	srv.log_level_flag = level;
	log_init(level != -1 ? (enum log_level)level :
	    (enum log_level)srv.cfg->log_level, use_syslog || srv.cfg->log_syslog);

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
	event_base_dispatch(srv.base);
	log_info("exiting");
	rc = 0;
stop:
	server_stop(&srv);
	sockread_thread_end();	/* its event is on the base */
	event_base_free(srv.base);
out:
	config_free(srv.cfg);
	for (i = 0; i < srv.nflag_lines; i++) {
		line = srv.flag_lines[i];
		free(line);
	}
	free(srv.flag_lines);
	return (rc);
}
