/* replay.h -- a recorded frame log as wsbridge-top's model (replay.c). */
#ifndef REPLAY_H
#define REPLAY_H

#include <stdint.h>

struct replay;
struct top_model;

/* Opens path read-only. Returns NULL with *cause (static) on failure. */
struct replay	*replay_open(const char *path, char **cause);
void		 replay_close(struct replay *);
/* Loads sessions and totals into m. Returns 0 or -1. */
int		 replay_load(struct replay *, struct top_model *m);
/* Fills m->d for session id. Returns 0 or -1. */
int		 replay_detail(struct replay *, struct top_model *m, uint64_t id);

#endif
