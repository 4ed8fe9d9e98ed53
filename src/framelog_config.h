/*
 * framelog_config.h -- the frame log's configuration directives (log-db,
 * log-db-mode, log-capture, log-overflow, log-retention, log-batch,
 * log-queue, log-max-size, log-writer-priority), parsed into struct
 * framelog_cfg inside struct config.
 */
#ifndef FRAMELOG_CONFIG_H
#define FRAMELOG_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#define FRAMELOG_CAPTURE_MAX	(1024 * 1024)	/* "all": bytes kept per frame */

enum framelog_overflow {
	FRAMELOG_DROP = 0,	/* queue full: drop the record, count it */
	FRAMELOG_BLOCK,		/* queue full: stop reading the tunnels */
};

struct framelog_cfg {
	char		*db;		/* NULL: no frame log */
	unsigned	 mode;		/* of db, -wal and -shm (log-db-mode) */
	size_t		 capture;	/* payload bytes per frame; 0 off */
	int		 overflow;	/* enum framelog_overflow */
	unsigned	 batch;		/* records per transaction */
	unsigned	 queue;		/* records the queue holds */
	uint64_t	 ret_age_s;	/* 0: no age limit */
	uint64_t	 ret_rows;	/* 0: no row limit (frames) */
	uint64_t	 ret_size;	/* 0: no size limit (bytes in use) */
	uint64_t	 max_size;	/* hard cap (PRAGMA max_page_count); 0 none */
	int		 writer_normal;	/* 1: writer never at idle priority */
};

/* Sets the defaults (logging off). */
void	framelog_config_defaults(struct framelog_cfg *c);
/* Frees what c holds and resets it to the defaults. */
void	framelog_config_clear(struct framelog_cfg *c);
/* Deep copy of src into dst (dst is overwritten). */
void	framelog_config_copy(struct framelog_cfg *dst,
	    const struct framelog_cfg *src);

/*
 * Applies a "log-*" directive (argv[0] is its name). Returns 1 when applied,
 * 0 when argv[0] is not one of ours (so "log-level" stays with config.c),
 * -1 with *cause set (caller frees) when the value is bad.
 */
int	framelog_config_words(struct framelog_cfg *c, char **argv, size_t argc,
	    char **cause);

/* "7d", "12h", "30m", "45s" or seconds into *s. Returns 0 or -1. */
int	framelog_parse_age(const char *str, uint64_t *s);

#endif
