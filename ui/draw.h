/* draw.h -- the terminal side of wsbridge-top (ncurses); see draw.c. */
#ifndef DRAW_H
#define DRAW_H

struct scr;

/* Takes the terminal. Returns 0 or -1. */
int	draw_init(int monochrome);
/* Gives the terminal back; idempotent, for every exit path. */
void	draw_end(void);
int	draw_is_active(void);
void	draw_size(int *w, int *h);
void	draw_resize(int w, int h);
void	draw_screen(const struct scr *);
/* The next key (K_* or a character), -1 when none is waiting. */
int	draw_key(void);

#endif
