/*
 * draw.c -- paints a struct scr with ncurses, once per tick: roles become
 * colour pairs (or bold/dim/reverse with NO_COLOR or a monochrome
 * terminal), runs of one role go out in one call, and ncurses sends only
 * the cells that changed, so nothing flickers. draw_end() restores the
 * terminal and is safe to call twice (every exit path calls it).
 */
#include "wsb_autoconf.h"

#include <stdlib.h>
#include <string.h>

#define NCURSES_WIDECHAR 1
#include <curses.h>

#include "draw.h"
#include "top.h"

static int	draw_active;
static int	draw_color;
static attr_t	draw_attr[R_NROLES];
static short	draw_pair[R_NROLES];

/* Colour by role: foreground, background (-1: the terminal's). */
static const struct {
	short	fg, bg;
	attr_t	attr;		/* added in colour */
	attr_t	mono;		/* used alone without colour */
} draw_roles[R_NROLES] = {
	[R_NORMAL]	= { -1, -1, 0, 0 },
	[R_TITLE]	= { COLOR_BLACK, COLOR_CYAN, 0, A_REVERSE },
	[R_LABEL]	= { COLOR_CYAN, -1, 0, 0 },
	[R_VALUE]	= { -1, -1, A_BOLD, A_BOLD },
	[R_DIM]		= { -1, -1, A_DIM, A_DIM },
	[R_COLHDR]	= { COLOR_BLACK, COLOR_GREEN, 0, A_UNDERLINE | A_BOLD },
	[R_SORTCOL]	= { COLOR_BLACK, COLOR_YELLOW, 0, A_REVERSE | A_BOLD },
	[R_SELECTED]	= { COLOR_BLACK, COLOR_CYAN, 0, A_REVERSE },
	[R_GOOD]	= { COLOR_GREEN, -1, 0, 0 },
	[R_WARN]	= { COLOR_YELLOW, -1, A_BOLD, A_BOLD },
	[R_BAD]		= { COLOR_RED, -1, A_BOLD, A_BOLD | A_STANDOUT },
	[R_IN]		= { COLOR_BLUE, -1, A_BOLD, 0 },
	[R_OUT]		= { COLOR_MAGENTA, -1, A_BOLD, 0 },
	[R_CONTROL]	= { COLOR_YELLOW, -1, 0, A_BOLD },
	[R_KEY]		= { COLOR_BLACK, COLOR_CYAN, 0, A_REVERSE },
	[R_HINT]	= { -1, -1, 0, 0 },
	[R_BAR]		= { COLOR_GREEN, -1, 0, 0 },
	[R_DELAY]	= { COLOR_RED, -1, 0, A_BOLD },
	[R_PROMPT]	= { COLOR_YELLOW, -1, A_BOLD, A_BOLD },
};

int
draw_init(int monochrome)
{
	int	i;

	if (initscr() == NULL)
		return (-1);
	draw_active = 1;
	cbreak();
	noecho();
	nonl();
	keypad(stdscr, TRUE);
	nodelay(stdscr, TRUE);
	set_escdelay(25);
	curs_set(0);
	/* NO_COLOR (no-color.org): any value turns colour off. */
	draw_color = !monochrome && has_colors() && getenv("NO_COLOR") == NULL;
	if (draw_color && start_color() == ERR)
		draw_color = 0;
	if (draw_color)
		use_default_colors();
	for (i = 0; i < R_NROLES; i++) {
		if (draw_color && COLOR_PAIRS > R_NROLES) {
			init_pair((short)(i + 1), draw_roles[i].fg,
			    draw_roles[i].bg);
			draw_pair[i] = (short)(i + 1);
			draw_attr[i] = draw_roles[i].attr;
		} else {
			draw_pair[i] = 0;
			draw_attr[i] = draw_roles[i].mono;
		}
	}
	return (0);
}

void
draw_end(void)
{
	if (!draw_active)
		return;
	draw_active = 0;
	curs_set(1);
	endwin();
}

int
draw_is_active(void)
{
	return (draw_active);
}

void
draw_size(int *w, int *h)
{
	getmaxyx(stdscr, *h, *w);
}

void
draw_resize(int w, int h)
{
	resizeterm(h, w);
}

void
draw_screen(const struct scr *s)
{
	wchar_t	 run[1024];
	int	 x, y, n, role, w, h;

	getmaxyx(stdscr, h, w);
	for (y = 0; y < s->h && y < h; y++) {
		for (x = 0; x < s->w && x < w; ) {
			role = s->cells[y * s->w + x].role;
			n = 0;
			while (x + n < s->w && x + n < w && n < 1023 &&
			    s->cells[y * s->w + x + n].role == role) {
				run[n] = s->cells[y * s->w + x + n].ch;
				n++;
			}
			run[n] = L'\0';
			/* The last cell of the screen would scroll it. */
			if (y == h - 1 && x + n == w)
				n--;
			attr_set(draw_attr[role], draw_pair[role], NULL);
			if (n > 0)
				mvaddnwstr(y, x, run, n);
			x += n > 0 ? n : 1;
		}
	}
	attr_set(A_NORMAL, 0, NULL);
	if (s->cursor_x >= 0) {
		curs_set(1);
		move(s->cursor_y, s->cursor_x);
	} else
		curs_set(0);
	wnoutrefresh(stdscr);
	doupdate();
}

/* ncurses keys as ours; -1 when there is none. */
int
draw_key(void)
{
	int	c = getch();

	switch (c) {
	case ERR:		return (-1);
	case KEY_UP:		return (K_UP);
	case KEY_DOWN:		return (K_DOWN);
	case KEY_LEFT:		return (K_LEFT);
	case KEY_RIGHT:		return (K_RIGHT);
	case KEY_PPAGE:		return (K_PGUP);
	case KEY_NPAGE:		return (K_PGDN);
	case KEY_HOME:		return (K_HOME);
	case KEY_END:		return (K_END);
	case KEY_ENTER:
	case '\r':
	case '\n':		return (K_ENTER);
	case 27:		return (K_ESC);
	case KEY_BACKSPACE:
	case 127:
	case 8:			return (K_BACKSPACE);
	case KEY_RESIZE:	return (K_RESIZE);
	}
	return (c);
}
