/*
 * format.c -- numbers as people read them in a narrow column: bytes,
 * rates, counts, durations, clock times, sparklines. Pure functions.
 */
#include "wsb_autoconf.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "top.h"

const char *
fmt_bytes(char *buf, size_t len, uint64_t v)
{
	static const char	units[] = "KMGTPE";
	double			d = (double)v;
	int			u = -1;

	if (v < 1024) {
		snprintf(buf, len, "%llu", (unsigned long long)v);
		return (buf);
	}
	while (d >= 1024 && u < 5) {
		d /= 1024;
		u++;
	}
	/* 1023.9K would round to "1024.0K": show the next unit instead. */
	if (d >= 999.95 && u < 5) {
		d /= 1024;
		u++;
	}
	snprintf(buf, len, d < 10 ? "%.2f%c" : d < 100 ? "%.1f%c" : "%.0f%c",
	    d, units[u]);
	return (buf);
}

const char *
fmt_rate(char *buf, size_t len, double v)
{
	if (v < 0) {
		snprintf(buf, len, "-");
		return (buf);
	}
	if (v < 1 && v > 0) {
		snprintf(buf, len, "%.1f", v);
		return (buf);
	}
	return (fmt_bytes(buf, len, (uint64_t)(v + 0.5)));
}

const char *
fmt_count(char *buf, size_t len, double v)
{
	if (v < 0)
		v = 0;
	if (v < 10 && v != (double)(uint64_t)v)
		snprintf(buf, len, "%.1f", v);
	else if (v < 1000)
		snprintf(buf, len, "%.0f", v);
	else if (v < 999950)
		snprintf(buf, len, "%.1fk", v / 1e3);
	else if (v < 999950000)
		snprintf(buf, len, "%.1fM", v / 1e6);
	else
		snprintf(buf, len, "%.1fG", v / 1e9);
	return (buf);
}

const char *
fmt_ratio(char *buf, size_t len, uint64_t milli)
{
	double	r = (double)milli / 1000;

	if (milli == 0)
		snprintf(buf, len, "-");
	else if (r < 99.95)
		snprintf(buf, len, "%.1fx", r);
	else
		snprintf(buf, len, "%.0fx", r);
	return (buf);
}

const char *
fmt_dur(char *buf, size_t len, uint64_t ns)
{
	uint64_t	s = ns / 1000000000ULL;

	if (ns == 0)
		snprintf(buf, len, "0");
	else if (ns < 1000)
		snprintf(buf, len, "%lluns", (unsigned long long)ns);
	else if (ns < 1000000)
		snprintf(buf, len, "%lluus", (unsigned long long)(ns / 1000));
	else if (ns < 1000000000ULL)
		snprintf(buf, len, "%llums",
		    (unsigned long long)(ns / 1000000));
	else if (s < 60)
		snprintf(buf, len, "%.2fs", (double)ns / 1e9);
	else if (s < 3600)
		snprintf(buf, len, "%llum%02llus", (unsigned long long)(s / 60),
		    (unsigned long long)(s % 60));
	else if (s < 86400)
		snprintf(buf, len, "%lluh%02llum",
		    (unsigned long long)(s / 3600),
		    (unsigned long long)(s % 3600 / 60));
	else
		snprintf(buf, len, "%llud%02lluh",
		    (unsigned long long)(s / 86400),
		    (unsigned long long)(s % 86400 / 3600));
	return (buf);
}

const char *
fmt_age(char *buf, size_t len, uint64_t ns)
{
	/* Truncated, not rounded: an age never runs ahead of itself. */
	if (ns < 1000000000ULL)
		snprintf(buf, len, "%llums", (unsigned long long)(ns / 1000000));
	else if (ns < 60000000000ULL)
		snprintf(buf, len, "%llus",
		    (unsigned long long)(ns / 1000000000ULL));
	else
		fmt_dur(buf, len, ns);
	return (buf);
}

const char *
fmt_clock(char *buf, size_t len, uint64_t wall_ns)
{
	time_t		t = (time_t)(wall_ns / 1000000000ULL);
	struct tm	tm;

	if (localtime_r(&t, &tm) == NULL) {
		snprintf(buf, len, "?");
		return (buf);
	}
	snprintf(buf, len, "%02d:%02d:%02d.%03u", tm.tm_hour, tm.tm_min,
	    tm.tm_sec, (unsigned)(wall_ns / 1000000 % 1000));
	return (buf);
}

const char *
fmt_spark(char *buf, size_t len, const uint64_t *v, int n)
{
	static const char *const blocks[] = { " ", "▁", "▂", "▃", "▄", "▅",
	    "▆", "▇", "█" };
	uint64_t	max = 0;
	size_t		off = 0;
	int		i, k;

	for (i = 0; i < n; i++)
		if (v[i] > max)
			max = v[i];
	buf[0] = '\0';
	for (i = 0; i < n && off + 4 < len; i++) {
		if (max == 0 || v[i] == 0)
			k = 0;
		else
			k = (int)((v[i] * 8 + max - 1) / max);
		if (k > 8)
			k = 8;
		off += (size_t)snprintf(buf + off, len - off, "%s", blocks[k]);
	}
	return (buf);
}

const char *
fmt_opcode(unsigned op)
{
	static char	buf[16];

	switch (op) {
	case 0:		return ("cont");
	case 1:		return ("text");
	case 2:		return ("binary");
	case 8:		return ("close");
	case 9:		return ("ping");
	case 10:	return ("pong");
	}
	snprintf(buf, sizeof buf, "rsv-%u", op);
	return (buf);
}

uint64_t
hist_floor(unsigned b)
{
	return (b == 0 ? 0 : 1ULL << (b - 1));
}
