/*
 * bench.h -- what the benchmark's load generator, backends and relay share:
 * the test pattern every byte is checked against, clocks, socket helpers,
 * and reading a process tree's CPU time and memory from /proc.
 *
 * The pattern: a stream starts with an 8-byte header ("WSBB" and a start
 * offset, little endian), then byte i of the body is pat[(start + i) % PAT_P].
 * PAT_P is a multiple of 4 (so a WebSocket mask lines up with it) and not a
 * divisor of any message size, so a lost, doubled or reordered message
 * shifts the stream and is caught. pat[] is PAT_P + PAT_SLACK long with the
 * start repeated at the end: any span of up to PAT_SLACK bytes is contiguous.
 */
#ifndef BENCH_H
#define BENCH_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define PAT_P		(1048576 + 4 * 1021)
#define PAT_SLACK	(1048576 + 16)
#define PAT_MAGIC	0x42425357u	/* "WSBB" little endian */
#define HDR_LEN		8

static uint8_t	*pat;

static void
pat_init(void)
{
	uint64_t	x = 0x9e3779b97f4a7c15ULL;
	size_t		i;

	if ((pat = malloc(PAT_P + PAT_SLACK)) == NULL)
		abort();
	for (i = 0; i < PAT_P; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		pat[i] = (uint8_t)(x >> 24);
	}
	memcpy(pat + PAT_P, pat, PAT_SLACK);
}

static void
put32(uint8_t *p, uint32_t v)
{
	p[0] = v; p[1] = v >> 8; p[2] = v >> 16; p[3] = v >> 24;
}

static uint32_t
get32(const uint8_t *p)
{
	return (p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24);
}

static void
put64(uint8_t *p, uint64_t v)
{
	put32(p, (uint32_t)v);
	put32(p + 4, (uint32_t)(v >> 32));
}

static uint64_t
get64(const uint8_t *p)
{
	return (get32(p) | (uint64_t)get32(p + 4) << 32);
}

static uint64_t
now_ns(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((uint64_t)ts.tv_sec * 1000000000 + ts.tv_nsec);
}

static void __attribute__((noreturn, format(printf, 1, 2)))
die(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

static void
sock_tune(int fd)
{
	int	one = 1;

	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

/* A listening socket on 127.0.0.1:port (0: any); prints the bound port. */
static int
listen_on(int port, const char *what)
{
	struct sockaddr_in	sin;
	socklen_t		len = sizeof sin;
	int			fd, one = 1;

	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1)
		die("socket: %s", strerror(errno));
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	memset(&sin, 0, sizeof sin);
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sin.sin_port = htons(port);
	if (bind(fd, (struct sockaddr *)&sin, sizeof sin) == -1 ||
	    listen(fd, 4096) == -1 ||
	    getsockname(fd, (struct sockaddr *)&sin, &len) == -1)
		die("%s: listen %d: %s", what, port, strerror(errno));
	fprintf(stderr, "%s listening on 127.0.0.1:%d\n", what,
	    ntohs(sin.sin_port));
	return (fd);
}

/*
 * Starts a non-blocking connect to 127.0.0.1:port, from 127.0.0.<src> when
 * src is not 0 (spreads a stream of short connections over many address
 * pairs, so the server's TIME_WAIT sockets do not meet our new SYNs).
 * Returns the fd or -1.
 */
static int
connect_from(int port, int src)
{
	struct sockaddr_in	sin;
	int			fd, one = 1;

	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1)
		return (-1);
	if (src != 0) {
		memset(&sin, 0, sizeof sin);
		sin.sin_family = AF_INET;
		sin.sin_addr.s_addr = htonl(0x7f000000 | (src & 0xff));
		(void)setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one,
		    sizeof one);
		if (bind(fd, (struct sockaddr *)&sin, sizeof sin) == -1) {
			close(fd);
			return (-1);
		}
	}
	memset(&sin, 0, sizeof sin);
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sin.sin_port = htons(port);
	if (connect(fd, (struct sockaddr *)&sin, sizeof sin) == -1 &&
	    errno != EINPROGRESS) {
		close(fd);
		return (-1);
	}
	sock_tune(fd);
	return (fd);
}

static int
connect_to(int port)
{
	return (connect_from(port, 0));
}

/* ---- /proc: CPU time and memory of a process and its descendants ---- */

#define TREE_MAX	32768

/* Fills pids[] with pid and its descendants. Returns how many. */
static int
proc_tree(int root, int *pids, int max)
{
	static int	 ppid_of[4194304];	/* pid -> ppid (pid_max) */
	static int	 all[TREE_MAX];
	DIR		*d;
	struct dirent	*de;
	char		 path[64], buf[512], *p;
	int		 n = 0, nall = 0, i, j, pid, ppid, changed;
	FILE		*f;

	if ((d = opendir("/proc")) == NULL)
		return (0);
	while ((de = readdir(d)) != NULL && nall < TREE_MAX) {
		if (!isdigit((unsigned char)de->d_name[0]))
			continue;
		pid = atoi(de->d_name);
		if (pid <= 0 || pid >= (int)(sizeof ppid_of / sizeof ppid_of[0]))
			continue;
		snprintf(path, sizeof path, "/proc/%d/stat", pid);
		if ((f = fopen(path, "r")) == NULL)
			continue;
		if (fgets(buf, sizeof buf, f) != NULL &&
		    (p = strrchr(buf, ')')) != NULL &&
		    sscanf(p + 2, "%*c %d", &ppid) == 1) {
			ppid_of[pid] = ppid;
			all[nall++] = pid;
		}
		fclose(f);
	}
	closedir(d);
	pids[n++] = root;
	do {
		changed = 0;
		for (i = 0; i < nall; i++) {
			for (j = 0; j < n; j++)
				if (pids[j] == all[i])
					break;
			if (j < n)
				continue;
			for (j = 0; j < n; j++)
				if (ppid_of[all[i]] == pids[j])
					break;
			if (j < n && n < max) {
				pids[n++] = all[i];
				changed = 1;
			}
		}
	} while (changed);
	return (n);
}

/* CPU seconds (user + system, reaped children included) of a process tree. */
static double
tree_cpu(int root)
{
	static int	 pids[TREE_MAX];
	char		 path[64], buf[1024], *p;
	unsigned long	 ut, st;
	long		 cut, cst;
	double		 ticks = 0;
	int		 n, i;
	FILE		*f;

	if (root <= 0)
		return (0);
	n = proc_tree(root, pids, TREE_MAX);
	for (i = 0; i < n; i++) {
		snprintf(path, sizeof path, "/proc/%d/stat", pids[i]);
		if ((f = fopen(path, "r")) == NULL)
			continue;
		if (fgets(buf, sizeof buf, f) != NULL &&
		    (p = strrchr(buf, ')')) != NULL &&
		    sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u "
		    "%lu %lu %ld %ld", &ut, &st, &cut, &cst) == 4)
			ticks += ut + st + cut + cst;
		fclose(f);
	}
	return (ticks / sysconf(_SC_CLK_TCK));
}

/* Proportional set size (bytes) of a process tree, from smaps_rollup. */
static double
tree_pss(int root)
{
	static int	 pids[TREE_MAX];
	char		 path[64], line[256];
	double		 kb = 0;
	long		 v;
	int		 n, i;
	FILE		*f;

	if (root <= 0)
		return (0);
	n = proc_tree(root, pids, TREE_MAX);
	for (i = 0; i < n; i++) {
		snprintf(path, sizeof path, "/proc/%d/smaps_rollup", pids[i]);
		if ((f = fopen(path, "r")) == NULL)
			continue;
		while (fgets(line, sizeof line, f) != NULL)
			if (sscanf(line, "Pss: %ld kB", &v) == 1) {
				kb += v;
				break;
			}
		fclose(f);
	}
	return (kb * 1024);
}

static double
self_cpu(void)
{
	struct rusage	ru;

	getrusage(RUSAGE_SELF, &ru);
	return (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec +
	    (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6);
}

#endif
