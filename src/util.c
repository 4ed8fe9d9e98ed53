/* util.c -- allocation that cannot fail, small string helpers, clocks. */
#include "wsb_autoconf.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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
