/*
 * ctl.c -- `wsbridge ctl`: a batch client of the control socket for
 * scripts and quick looks (docs/dashboard.md). One request, one answer,
 * printed as a table or, with --json, as the JSON line itself.
 */
#include "wsb_autoconf.h"

#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "ctl.h"
#include "util.h"

#define CTL_TIMEOUT_MS	10000

struct ctl_conn {
	int	 fd;
	char	*buf;
	size_t	 len, size;
};

static void
ctl_usage(FILE *f)
{
	fprintf(f,
"usage: wsbridge ctl [-s PATH] [--json] COMMAND\n"
"\n"
"Asks a running wsbridge through its control socket (control PATH).\n"
"\n"
"commands:\n"
"  hello             protocol and server version\n"
"  stats             global counters, rates, frame log status\n"
"  list              open connections, one a line\n"
"  conn ID           everything about one connection\n"
"  events [N]        print open/close events (N of them, default: until\n"
"                    interrupted); --frames adds frame events\n"
"  send JSON         send one request line, print the answer\n"
"\n"
"options:\n"
"  -s, --control PATH  the socket (default $WSBRIDGE_CONTROL or ./wsbridge.sock)\n"
"  -j, --json          print the JSON lines as received\n"
"      --frames        with events: frame events too\n"
"  -h, --help          show this help\n");
}

static int
ctl_connect(const char *path)
{
	struct sockaddr_un	sun;
	int			fd;

	memset(&sun, 0, sizeof sun);
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof sun.sun_path) {
		fprintf(stderr, "wsbridge ctl: %s: path too long\n", path);
		return (-1);
	}
	memcpy(sun.sun_path, path, strlen(path));
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1 ||
	    connect(fd, (struct sockaddr *)&sun, sizeof sun) == -1) {
		fprintf(stderr, "wsbridge ctl: %s: %s (is wsbridge running "
		    "with control %s?)\n", path, strerror(errno), path);
		if (fd != -1)
			close(fd);
		return (-1);
	}
	return (fd);
}

/* Reads one line (NUL-terminated, owned by c until the next call). */
static char *
ctl_readline(struct ctl_conn *c, int timeout_ms)
{
	struct pollfd	 pfd;
	char		*nl, *line;
	ssize_t		 n;
	size_t		 k;

	for (;;) {
		if (c->len > 0 && (nl = memchr(c->buf, '\n', c->len)) != NULL) {
			k = (size_t)(nl - c->buf);
			line = xstrndup(c->buf, k);
			memmove(c->buf, nl + 1, c->len - k - 1);
			c->len -= k + 1;
			return (line);
		}
		pfd.fd = c->fd;
		pfd.events = POLLIN;
		if (poll(&pfd, 1, timeout_ms) <= 0) {
			if (timeout_ms >= 0)
				fprintf(stderr, "wsbridge ctl: no answer\n");
			return (NULL);
		}
		if (c->size - c->len < 65536) {
			c->size = c->size * 2 + 65536;
			c->buf = xreallocarray(c->buf, 1, c->size);
		}
		if ((n = read(c->fd, c->buf + c->len, c->size - c->len)) <= 0) {
			if (n < 0)
				fprintf(stderr, "wsbridge ctl: %s\n",
				    strerror(errno));
			return (NULL);
		}
		c->len += (size_t)n;
	}
}

static int
ctl_write(struct ctl_conn *c, json_t *req)
{
	char	*s = json_dumps(req, JSON_COMPACT);
	size_t	 off = 0, len;
	ssize_t	 n;
	int	 rc = 0;

	len = strlen(s);
	s = xreallocarray(s, 1, len + 2);
	s[len++] = '\n';
	while (off < len) {
		if ((n = write(c->fd, s + off, len - off)) == -1) {
			fprintf(stderr, "wsbridge ctl: %s\n", strerror(errno));
			rc = -1;
			break;
		}
		off += (size_t)n;
	}
	free(s);
	return (rc);
}

/* The next line that is not an event or snapshot, parsed. */
static json_t *
ctl_answer(struct ctl_conn *c, char **raw)
{
	json_t		*o;
	json_error_t	 err;
	char		*line;
	const char	*type;

	while ((line = ctl_readline(c, CTL_TIMEOUT_MS)) != NULL) {
		if ((o = json_loads(line, 0, &err)) == NULL) {
			fprintf(stderr, "wsbridge ctl: bad line from wsbridge: "
			    "%s\n", err.text);
			free(line);
			return (NULL);
		}
		type = json_string_value(json_object_get(o, "type"));
		if (type != NULL && (strcmp(type, "event") == 0 ||
		    (strcmp(type, "snapshot") == 0 &&
		    json_object_get(o, "req") == NULL))) {
			json_decref(o);
			free(line);
			continue;
		}
		*raw = line;
		return (o);
	}
	return (NULL);
}

static const char *
ctl_bytes(uint64_t v, char *buf, size_t len)
{
	const char	*units = "BKMGTP";
	double		 d = (double)v;

	while (d >= 1024 && units[1] != '\0') {
		d /= 1024;
		units++;
	}
	if (*units == 'B')
		snprintf(buf, len, "%llu", (unsigned long long)v);
	else
		snprintf(buf, len, "%.1f%c", d, *units);
	return (buf);
}

/* A ratio in thousandths as "5.3x"; "-" for 0 (nothing compressed). */
static const char *
ctl_ratio(uint64_t milli, char *buf, size_t len)
{
	if (milli == 0)
		snprintf(buf, len, "-");
	else
		snprintf(buf, len, "%.1fx", (double)milli / 1000);
	return (buf);
}

static uint64_t
jget(json_t *o, const char *k)
{
	json_t	*v = json_object_get(o, k);

	if (json_is_integer(v))
		return ((uint64_t)json_integer_value(v));
	if (json_is_real(v))
		return ((uint64_t)json_real_value(v));
	return (0);
}

static const char *
jstrv(json_t *o, const char *k)
{
	const char	*s = json_string_value(json_object_get(o, k));

	return (s != NULL ? s : "-");
}

/* Whether o (its text raw) is an error answer; if so, says it. */
static int
ctl_is_error(json_t *o, const char *raw, int json)
{
	if (strcmp(jstrv(o, "type"), "error") != 0)
		return (0);
	if (json)
		printf("%s\n", raw);
	fprintf(stderr, "wsbridge ctl: %s: %s\n", jstrv(o, "code"),
	    jstrv(o, "message"));
	return (1);
}

static void
ctl_print_list(json_t *o)
{
	json_t	*a = json_object_get(o, "conns"), *c;
	size_t	 i;
	char	 b1[16], b2[16], b3[16], b4[16];

	printf("%-6s %-22s %-12s %-5s %8s %8s %8s %9s %6s %8s %9s\n", "ID",
	    "PEER", "ROUTE", "PROTO", "AGE", "IN", "OUT", "MSGS", "CMP",
	    "QUEUED", "STALL");
	json_array_foreach(a, i, c) {
		printf("%-6llu %-22s %-12s %-5s %7.1fs %8s %8s %9llu %6s %8s "
		    "%8.3fs\n", (unsigned long long)jget(c, "id"),
		    jstrv(c, "peer"), jstrv(c, "route"), jstrv(c, "proto"),
		    (double)jget(c, "age_ns") / 1e9,
		    ctl_bytes(jget(c, "bytes_in"), b1, sizeof b1),
		    ctl_bytes(jget(c, "bytes_out"), b2, sizeof b2),
		    (unsigned long long)(jget(c, "msgs_in") +
		    jget(c, "msgs_out")),
		    ctl_ratio(jget(c, "zratio"), b4, sizeof b4),
		    ctl_bytes(jget(c, "q_out") + jget(c, "q_in"), b3,
		    sizeof b3),
		    (double)MAX(jget(c, "stall_out_ns"),
		    jget(c, "stall_in_ns")) / 1e9);
	}
}

static void
ctl_print_stats(json_t *o)
{
	json_t		*g = json_object_get(o, "global"), *r, *w, *open, *log;
	const char	*key;
	char		 b1[16], b2[16];

	open = json_object_get(g, "open");
	printf("uptime          %.1fs\n", (double)jget(g, "uptime_ns") / 1e9);
	printf("open            h1 ws %llu, h1 wss %llu, h2 ws %llu, "
	    "h2 wss %llu\n", (unsigned long long)jget(open, "h1_ws"),
	    (unsigned long long)jget(open, "h1_wss"),
	    (unsigned long long)jget(open, "h2_ws"),
	    (unsigned long long)jget(open, "h2_wss"));
	printf("total conns     %llu\n",
	    (unsigned long long)jget(g, "conns_total"));
	printf("bytes in/out    %s / %s\n",
	    ctl_bytes(jget(g, "bytes_in"), b1, sizeof b1),
	    ctl_bytes(jget(g, "bytes_out"), b2, sizeof b2));
	printf("msgs in/out     %llu / %llu\n",
	    (unsigned long long)jget(g, "msgs_in"),
	    (unsigned long long)jget(g, "msgs_out"));
	r = json_object_get(g, "rates");
	json_object_foreach(r, key, w)
		printf("rate %-4s       %s/s in, %s/s out, %.1f msg/s in, "
		    "%.1f msg/s out\n", key,
		    ctl_bytes(jget(w, "bytes_in"), b1, sizeof b1),
		    ctl_bytes(jget(w, "bytes_out"), b2, sizeof b2),
		    json_real_value(json_object_get(w, "msgs_in")),
		    json_real_value(json_object_get(w, "msgs_out")));
	log = json_object_get(g, "log");
	if (json_is_true(json_object_get(log, "enabled")))
		printf("frame log       %s: queue %llu/%llu, written %llu, "
		    "dropped %llu, lost %llu, errors %llu%s\n",
		    jstrv(log, "path"), (unsigned long long)jget(log, "queue"),
		    (unsigned long long)jget(log, "queue_size"),
		    (unsigned long long)jget(log, "written"),
		    (unsigned long long)jget(log, "dropped"),
		    (unsigned long long)jget(log, "lost"),
		    (unsigned long long)jget(log, "errors"),
		    json_is_true(json_object_get(log, "failing")) ?
		    " FAILING" : "");
	else
		printf("frame log       off\n");
	printf("control         %llu clients, %llu refused (too many), "
	    "%llu cut (output over budget)\n",
	    (unsigned long long)jget(g, "control_clients"),
	    (unsigned long long)jget(g, "control_clients_refused"),
	    (unsigned long long)jget(g, "control_clients_cut"));
}

int
ctl_main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "control",	required_argument,	NULL, 's' },
		{ "json",	no_argument,		NULL, 'j' },
		{ "frames",	no_argument,		NULL, 'F' },
		{ "help",	no_argument,		NULL, 'h' },
		{ NULL,		0,			NULL, 0 }
	};
	struct ctl_conn	 c;
	const char	*path, *cmd;
	json_t		*req = NULL, *o = NULL;
	json_error_t	 err;
	char		*raw = NULL, *line, *end;
	int		 ch, json = 0, frames = 0, rc = 1;
	long		 count = -1, seen = 0;

	path = getenv("WSBRIDGE_CONTROL");
	if (path == NULL || *path == '\0')
		path = "wsbridge.sock";
	optind = 1;
	while ((ch = getopt_long(argc, argv, "s:jh", longopts, NULL)) != -1) {
		switch (ch) {
		case 's':
			path = optarg;
			break;
		case 'j':
			json = 1;
			break;
		case 'F':
			frames = 1;
			break;
		case 'h':
			ctl_usage(stdout);
			return (0);
		default:
			ctl_usage(stderr);
			return (2);
		}
	}
	argc -= optind;
	argv += optind;
	if (argc < 1) {
		ctl_usage(stderr);
		return (2);
	}
	cmd = argv[0];
	if (strcmp(cmd, "hello") == 0 || strcmp(cmd, "version") == 0 ||
	    strcmp(cmd, "stats") == 0 || strcmp(cmd, "list") == 0)
		req = json_pack("{ss}", "cmd", strcmp(cmd, "version") == 0 ?
		    "hello" : cmd);
	else if (strcmp(cmd, "conn") == 0 && argc == 2) {
		long long id = strtoll(argv[1], &end, 10);

		if (*end != '\0' || id < 0) {
			fprintf(stderr, "wsbridge ctl: conn: bad id '%s'\n",
			    argv[1]);
			return (2);
		}
		req = json_pack("{sssI}", "cmd", "conn", "conn",
		    (json_int_t)id);
	} else if (strcmp(cmd, "events") == 0 && argc <= 2) {
		if (argc == 2)
			count = strtol(argv[1], NULL, 10);
		req = frames ? json_pack("{ss s[sss] sI}", "cmd", "subscribe",
		    "events", "open", "close", "frame", "snapshot_ms",
		    (json_int_t)0) : json_pack("{ss s[ss] sI}", "cmd",
		    "subscribe", "events", "open", "close", "snapshot_ms",
		    (json_int_t)0);
	} else if (strcmp(cmd, "send") == 0 && argc == 2) {
		if ((req = json_loads(argv[1], 0, &err)) == NULL) {
			fprintf(stderr, "wsbridge ctl: send: not JSON: %s\n",
			    err.text);
			return (2);
		}
	} else {
		ctl_usage(stderr);
		return (2);
	}

	memset(&c, 0, sizeof c);
	if ((c.fd = ctl_connect(path)) == -1)
		goto out;
	/*
	 * The server speaks first: hello, or an error when it refuses us
	 * (too-many-clients).
	 */
	if ((o = ctl_answer(&c, &raw)) == NULL || ctl_is_error(o, raw, json))
		goto out;
	json_decref(o);
	free(raw);
	o = NULL;
	raw = NULL;
	if (ctl_write(&c, req) == -1)
		goto out;
	if ((o = ctl_answer(&c, &raw)) == NULL || ctl_is_error(o, raw, json))
		goto out;
	rc = 0;
	if (strcmp(cmd, "events") == 0) {
		while (count < 0 || seen < count) {
			if ((line = ctl_readline(&c, -1)) == NULL)
				break;
			printf("%s\n", line);
			fflush(stdout);
			free(line);
			seen++;
		}
	} else if (json || strcmp(cmd, "send") == 0)
		printf("%s\n", raw);
	else if (strcmp(cmd, "list") == 0)
		ctl_print_list(o);
	else if (strcmp(cmd, "stats") == 0)
		ctl_print_stats(o);
	else {
		char *pretty = json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER);

		printf("%s\n", pretty);
		free(pretty);
	}
out:
	if (c.fd > 0)
		close(c.fd);
	free(c.buf);
	free(raw);
	json_decref(o);
	json_decref(req);
	return (rc);
}
