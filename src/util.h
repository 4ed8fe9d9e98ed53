/* util.h -- allocation that cannot fail, small string helpers, clocks. */
#ifndef UTIL_H
#define UTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

/* Allocators abort on exhaustion: a proxy out of memory cannot serve anyone. */
void	*xmalloc(size_t);
void	*xcalloc(size_t, size_t);
/*
 * Zeroed, starting on a cache line (free() releases it): for the structs
 * every message touches, whose hot fields come first.
 */
#define CACHE_LINE	64
void	*xcalloc_aligned(size_t);
void	*xreallocarray(void *, size_t, size_t);
char	*xstrdup(const char *);
char	*xstrndup(const char *, size_t);
char	*xasprintf(const char *, ...) __attribute__((format(printf, 1, 2)));
char	*xvasprintf(const char *, va_list) __attribute__((format(printf, 1, 0)));

/* Case-insensitive compare of s[0..n) with the NUL-terminated t. */
int	 strncaseeq(const char *s, size_t n, const char *t);
/* The value of hex digit c (either case), or -1. */
int	 hexval(char c);

/*
 * Numbers as a config writes them. A decimal s[0..n) without sign or
 * spaces; "10s", "250ms", "2m", "1h", plain number = seconds; "4096",
 * "64k", "16M", "1G" (powers of 1024). Each returns 0, or -1 (bad syntax,
 * overflow) leaving *out alone.
 */
int	 parse_u64(const char *s, size_t n, uint64_t *out);
/* A TCP port as a peer writes it: 1 to 5 digits, at most 65535. */
int	 parse_port(const char *s, size_t n, uint16_t *out);
int	 parse_duration(const char *s, unsigned *ms);
int	 parse_size(const char *s, uint64_t *out);
/*
 * A file mode in octal ("0600", "640"): at most 0777, the owner's read and
 * write bits set (wsbridge reads and writes its own files). Returns 0, or
 * -1 leaving *out alone.
 */
int	 parse_mode(const char *s, unsigned *out);

/*
 * Whether the directory of path exists and lets us create files in it
 * (what a file we are about to create needs). Returns 0, or -1 with *why
 * set (caller frees), naming the directory: "directory /x: No such file
 * or directory".
 */
int	 path_dir_usable(const char *path, char **why);

/* Monotonic clock in nanoseconds; wall clock in nanoseconds since the epoch. */
uint64_t now_ns(void);
uint64_t wall_ns(void);

/*
 * The clock observations read (live stats, frame events, arrival times).
 * Inside a scope -- sockread opens one around each socket's read callback,
 * where nearly all frames are parsed, relayed and counted -- the first
 * reading is kept and every later one returns it: counting costs one clock
 * read per socket event and write, not one per frame and queue; the work
 * done between two system calls counts as taking no time. Outside a scope
 * (timers, write callbacks) it is now_ns(). Scopes do not nest.
 */
struct obs_clock {
	uint64_t	t;	/* the scope's reading; 0 before the first */
	int		open;
};
extern __thread struct obs_clock obs_clock;

static inline uint64_t
obs_now(void)
{
	uint64_t	t;

	if (obs_clock.t != 0)
		return (obs_clock.t);
	t = now_ns();
	if (obs_clock.open)
		obs_clock.t = t;
	return (t);
}

/*
 * A fresh reading, kept for the rest of the scope: for the moment bytes
 * left on a socket (a system call is where time passes within a scope).
 */
static inline uint64_t
obs_now_fresh(void)
{
	uint64_t	t = now_ns();

	if (obs_clock.open)
		obs_clock.t = t;
	return (t);
}

static inline void
obs_clock_open(void)
{
	obs_clock.open = 1;
	obs_clock.t = 0;
}

static inline void
obs_clock_close(void)
{
	obs_clock.open = 0;
	obs_clock.t = 0;
}

#define nitems(a)	(sizeof (a) / sizeof ((a)[0]))
#ifndef MIN
#define MIN(a, b)	((a) < (b) ? (a) : (b))
#define MAX(a, b)	((a) > (b) ? (a) : (b))
#endif

#endif
