/*
 * framelog_config.c -- parses the frame log's directives (see
 * framelog_config.h and wsbridge.conf(5)).
 */
#include "wsb_autoconf.h"

#include <stdlib.h>
#include <string.h>

#include "framelog_config.h"
#include "util.h"

#define FRAMELOG_BATCH_MAX	(1024 * 1024)
#define FRAMELOG_QUEUE_MIN	1024
#define FRAMELOG_QUEUE_MAX	(16 * 1024 * 1024)
#define FRAMELOG_MAX_SIZE_MIN	(256 * 1024)

void
framelog_config_defaults(struct framelog_cfg *c)
{
	memset(c, 0, sizeof *c);
	/*
	 * Payloads can hold passwords, tokens and personal data: nothing is
	 * captured unless asked for. Close reasons are always kept.
	 */
	c->capture = 0;
	/* ... and any local user could read them from a 0644 file. */
	c->mode = 0600;
	/* Logging must never slow the traffic down unless asked to. */
	c->overflow = FRAMELOG_DROP;
	c->batch = 4096;
	c->queue = 65536;
	/* An unattended log must not fill the disk: 1 GiB by default. */
	c->ret_size = 1024ULL * 1024 * 1024;
}

void
framelog_config_clear(struct framelog_cfg *c)
{
	free(c->db);
	framelog_config_defaults(c);
}

void
framelog_config_copy(struct framelog_cfg *dst, const struct framelog_cfg *src)
{
	*dst = *src;
	dst->db = src->db != NULL ? xstrdup(src->db) : NULL;
}

int
framelog_parse_age(const char *str, uint64_t *s)
{
	uint64_t	v = 0, mult;
	size_t		n;

	for (n = 0; str[n] >= '0' && str[n] <= '9'; n++) {
		if (v > (UINT64_MAX - 9) / 10)
			return (-1);
		v = v * 10 + (uint64_t)(str[n] - '0');
	}
	if (n == 0)
		return (-1);
	if (strcmp(str + n, "") == 0 || strcmp(str + n, "s") == 0)
		mult = 1;
	else if (strcmp(str + n, "m") == 0)
		mult = 60;
	else if (strcmp(str + n, "h") == 0)
		mult = 3600;
	else if (strcmp(str + n, "d") == 0)
		mult = 86400;
	else
		return (-1);
	if (v > UINT64_MAX / mult)
		return (-1);
	*s = v * mult;
	return (0);
}

static int
framelog_config_error(char **cause, const char *name, const char *what,
    const char *value)
{
	*cause = xasprintf("%s: %s '%s'", name, what, value);
	return (-1);
}

/* "age=7d rows=1000000 size=1G" or "none". */
static int
framelog_config_retention(struct framelog_cfg *c, char **argv, size_t argc,
    char **cause)
{
	struct framelog_cfg	 n = *c;
	const char		*v;
	size_t			 i;

	if (argc == 0) {
		*cause = xstrdup("log-retention: expected none or "
		    "age=DURATION rows=N size=SIZE");
		return (-1);
	}
	n.ret_age_s = n.ret_rows = n.ret_size = 0;
	if (argc == 1 && strcmp(argv[0], "none") == 0) {
		*c = n;
		return (1);
	}
	for (i = 0; i < argc; i++) {
		if (strncmp(argv[i], "age=", 4) == 0) {
			v = argv[i] + 4;
			if (framelog_parse_age(v, &n.ret_age_s) != 0 ||
			    n.ret_age_s == 0)
				return (framelog_config_error(cause,
				    "log-retention", "bad age", v));
		} else if (strncmp(argv[i], "rows=", 5) == 0) {
			v = argv[i] + 5;
			if (parse_size(v, &n.ret_rows) != 0 ||
			    n.ret_rows == 0)
				return (framelog_config_error(cause,
				    "log-retention", "bad row count", v));
		} else if (strncmp(argv[i], "size=", 5) == 0) {
			v = argv[i] + 5;
			if (parse_size(v, &n.ret_size) != 0 ||
			    n.ret_size < FRAMELOG_MAX_SIZE_MIN)
				return (framelog_config_error(cause,
				    "log-retention", "bad size (256k or more)",
				    v));
		} else
			return (framelog_config_error(cause, "log-retention",
			    "expected age=, rows= or size=, got", argv[i]));
	}
	*c = n;
	return (1);
}

int
framelog_config_words(struct framelog_cfg *c, char **argv, size_t argc,
    char **cause)
{
	const char	*name = argv[0], *v;
	uint64_t	 u;

	if (strcmp(name, "log-retention") == 0)
		return (framelog_config_retention(c, argv + 1, argc - 1,
		    cause));
	if (strcmp(name, "log-db") != 0 && strcmp(name, "log-db-mode") != 0 &&
	    strcmp(name, "log-capture") != 0 &&
	    strcmp(name, "log-overflow") != 0 && strcmp(name, "log-batch") != 0 &&
	    strcmp(name, "log-queue") != 0 && strcmp(name, "log-max-size") != 0 &&
	    strcmp(name, "log-writer-priority") != 0)
		return (0);
	if (argc != 2) {
		*cause = xasprintf("%s needs one value", name);
		return (-1);
	}
	v = argv[1];
	if (strcmp(name, "log-db") == 0) {
		free(c->db);
		c->db = NULL;
		if (strcmp(v, "off") != 0 && strcmp(v, "none") != 0) {
			if (v[0] == '\0')
				return (framelog_config_error(cause, name,
				    "bad file name", v));
			c->db = xstrdup(v);
		}
	} else if (strcmp(name, "log-db-mode") == 0) {
		if (parse_mode(v, &c->mode) != 0)
			return (framelog_config_error(cause, name,
			    "expected an octal mode with 0600 in it, like 0640, "
			    "got", v));
	} else if (strcmp(name, "log-capture") == 0) {
		if (strcmp(v, "off") == 0)
			c->capture = 0;
		else if (strcmp(v, "all") == 0)
			c->capture = FRAMELOG_CAPTURE_MAX;
		else if (parse_size(v, &u) != 0 ||
		    u > FRAMELOG_CAPTURE_MAX)
			return (framelog_config_error(cause, name,
			    "expected off, all or a size up to 1M, got", v));
		else
			c->capture = (size_t)u;
	} else if (strcmp(name, "log-overflow") == 0) {
		if (strcmp(v, "drop") == 0)
			c->overflow = FRAMELOG_DROP;
		else if (strcmp(v, "block") == 0)
			c->overflow = FRAMELOG_BLOCK;
		else
			return (framelog_config_error(cause, name,
			    "expected drop or block, got", v));
	} else if (strcmp(name, "log-writer-priority") == 0) {
		if (strcmp(v, "idle") == 0)
			c->writer_normal = 0;
		else if (strcmp(v, "normal") == 0)
			c->writer_normal = 1;
		else
			return (framelog_config_error(cause, name,
			    "expected idle or normal, got", v));
	} else if (strcmp(name, "log-batch") == 0) {
		if (parse_size(v, &u) != 0 || u == 0 ||
		    u > FRAMELOG_BATCH_MAX)
			return (framelog_config_error(cause, name,
			    "bad number (1 to 1M)", v));
		c->batch = (unsigned)u;
	} else if (strcmp(name, "log-queue") == 0) {
		if (parse_size(v, &u) != 0 || u < FRAMELOG_QUEUE_MIN ||
		    u > FRAMELOG_QUEUE_MAX)
			return (framelog_config_error(cause, name,
			    "bad number (1k to 16M)", v));
		c->queue = (unsigned)u;
	} else {
		if (parse_size(v, &u) != 0 ||
		    (u != 0 && u < FRAMELOG_MAX_SIZE_MIN))
			return (framelog_config_error(cause, name,
			    "bad size (0 or 256k or more)", v));
		c->max_size = u;
	}
	return (1);
}
