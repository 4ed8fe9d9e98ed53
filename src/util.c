/*
 * util.c -- allocation that cannot fail, small string helpers, parsers of
 * config values, clocks.
 */
#include "wsb_autoconf.h"

#include <sys/stat.h>

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "util.h"

static void __attribute__((noreturn))
oom(size_t n)
{
	fprintf(stderr, "wsbridge: out of memory (%zu bytes)\n", n);
	abort();
}

void *
xmalloc(size_t n)
{
	void	*p;

	if ((p = malloc(n == 0 ? 1 : n)) == NULL)
		oom(n);
	return (p);
}

void *
xcalloc(size_t nmemb, size_t size)
{
	void	*p;

	if ((p = calloc(nmemb == 0 ? 1 : nmemb, size == 0 ? 1 : size)) == NULL)
		oom(nmemb * size);
	return (p);
}

void *
xcalloc_aligned(size_t size)
{
	void	*p;

	if (posix_memalign(&p, CACHE_LINE, size) != 0)
		oom(size);
	return (memset(p, 0, size));
}

void *
xreallocarray(void *p, size_t nmemb, size_t size)
{
	void	*q;

	if (size != 0 && nmemb > SIZE_MAX / size)
		oom(SIZE_MAX);
	if ((q = realloc(p, nmemb * size == 0 ? 1 : nmemb * size)) == NULL)
		oom(nmemb * size);
	return (q);
}

char *
xstrdup(const char *s)
{
	return (xstrndup(s, strlen(s)));
}

char *
xstrndup(const char *s, size_t n)
{
	char	*p;

	p = xmalloc(n + 1);
	memcpy(p, s, n);
	p[n] = '\0';
	return (p);
}

char *
xvasprintf(const char *fmt, va_list ap)
{
	char	*p;

	if (vasprintf(&p, fmt, ap) == -1)
		oom(0);
	return (p);
}

char *
xasprintf(const char *fmt, ...)
{
	va_list	 ap;
	char	*p;

	va_start(ap, fmt);
	p = xvasprintf(fmt, ap);
	va_end(ap);
	return (p);
}

int
strncaseeq(const char *s, size_t n, const char *t)
{
	size_t	i;

	for (i = 0; i < n; i++) {
		if (t[i] == '\0' ||
		    tolower((unsigned char)s[i]) != tolower((unsigned char)t[i]))
			return (0);
	}
	return (t[n] == '\0');
}

int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return (c - '0');
	if (c >= 'a' && c <= 'f')
		return (c - 'a' + 10);
	if (c >= 'A' && c <= 'F')
		return (c - 'A' + 10);
	return (-1);
}

__thread struct obs_clock obs_clock;

uint64_t
now_ns(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec);
}

uint64_t
wall_ns(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ((uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec);
}

int
parse_u64(const char *s, size_t n, uint64_t *out)
{
	uint64_t	v = 0;
	size_t		i;

	if (n == 0)
		return (-1);
	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return (-1);
		if (v > (UINT64_MAX - (uint64_t)(s[i] - '0')) / 10)
			return (-1);
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	*out = v;
	return (0);
}

int
parse_port(const char *s, size_t n, uint16_t *out)
{
	uint64_t	v;

	if (n == 0 || n > 5 || parse_u64(s, n, &v) != 0 || v > 65535)
		return (-1);
	*out = (uint16_t)v;
	return (0);
}

int
parse_duration(const char *s, unsigned *ms)
{
	uint64_t	v, mult;
	size_t		n;

	for (n = 0; s[n] >= '0' && s[n] <= '9'; n++)
		;
	if (strcmp(s + n, "") == 0 || strcmp(s + n, "s") == 0)
		mult = 1000;
	else if (strcmp(s + n, "ms") == 0)
		mult = 1;
	else if (strcmp(s + n, "m") == 0)
		mult = 60 * 1000;
	else if (strcmp(s + n, "h") == 0)
		mult = 60 * 60 * 1000;
	else
		return (-1);
	if (parse_u64(s, n, &v) != 0)
		return (-1);
	if (v > UINT_MAX / mult)
		return (-1);
	*ms = (unsigned)(v * mult);
	return (0);
}

int
parse_size(const char *s, uint64_t *out)
{
	uint64_t	v, mult;
	size_t		n;

	for (n = 0; s[n] >= '0' && s[n] <= '9'; n++)
		;
	if (strcmp(s + n, "") == 0)
		mult = 1;
	else if (strcmp(s + n, "k") == 0 || strcmp(s + n, "K") == 0)
		mult = 1024;
	else if (strcmp(s + n, "m") == 0 || strcmp(s + n, "M") == 0)
		mult = 1024 * 1024;
	else if (strcmp(s + n, "g") == 0 || strcmp(s + n, "G") == 0)
		mult = 1024 * 1024 * 1024;
	else
		return (-1);
	if (parse_u64(s, n, &v) != 0)
		return (-1);
	if (v > UINT64_MAX / mult)
		return (-1);
	*out = v * mult;
	return (0);
}

int
parse_mode(const char *s, unsigned *out)
{
	unsigned	v = 0;
	size_t		n;

	for (n = 0; s[n] >= '0' && s[n] <= '7'; n++) {
		v = v * 8 + (unsigned)(s[n] - '0');
		if (v > 0777)
			return (-1);
	}
	if (n == 0 || s[n] != '\0' || (v & 0600) != 0600)
		return (-1);
	*out = v;
	return (0);
}

int
path_dir_usable(const char *path, char **why)
{
	struct stat	 sb;
	char		*dir, *slash;
	int		 rc = -1;

	dir = xstrdup(path);
	if ((slash = strrchr(dir, '/')) == NULL) {
		free(dir);
		dir = xstrdup(".");
	} else if (slash == dir)
		slash[1] = '\0';	/* "/x": the root */
	else
		*slash = '\0';
	if (stat(dir, &sb) == -1)
		*why = xasprintf("directory %s: %s", dir, strerror(errno));
	else if (!S_ISDIR(sb.st_mode))
		*why = xasprintf("%s is not a directory", dir);
	else if (access(dir, W_OK | X_OK) == -1)
		*why = xasprintf("cannot create files in %s: %s", dir,
		    strerror(errno));
	else
		rc = 0;
	free(dir);
	return (rc);
}
