/*
 * screen.c -- the screen as data: a grid of cells, each a character and a
 * role. Views write into it; draw.c paints it; tests read it back as text.
 */
#include "wsb_autoconf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wchar.h>

#include "top.h"

void
screen_init(struct scr *s, int w, int h)
{
	s->w = w > 0 ? w : 1;
	s->h = h > 0 ? h : 1;
	s->cells = calloc((size_t)s->w * (size_t)s->h, sizeof *s->cells);
	if (s->cells == NULL)
		abort();
	screen_clear(s);
}

void
screen_free(struct scr *s)
{
	free(s->cells);
	s->cells = NULL;
}

void
screen_clear(struct scr *s)
{
	int	i;

	for (i = 0; i < s->w * s->h; i++) {
		s->cells[i].ch = L' ';
		s->cells[i].role = R_NORMAL;
	}
	s->cursor_x = s->cursor_y = -1;
}

/* Decodes one UTF-8 character at *p; bad bytes become '?'. */
static wchar_t
scr_utf8(const char **p)
{
	const unsigned char	*u = (const unsigned char *)*p;
	wchar_t			 c;
	int			 n, i;

	if (u[0] < 0x80) {
		(*p)++;
		return (u[0] < 0x20 || u[0] == 0x7f ? L'?' : u[0]);
	}
	if ((u[0] & 0xe0) == 0xc0) {
		c = u[0] & 0x1f;
		n = 1;
	} else if ((u[0] & 0xf0) == 0xe0) {
		c = u[0] & 0x0f;
		n = 2;
	} else if ((u[0] & 0xf8) == 0xf0) {
		c = u[0] & 0x07;
		n = 3;
	} else {
		(*p)++;
		return (L'?');
	}
	for (i = 1; i <= n; i++) {
		if ((u[i] & 0xc0) != 0x80) {
			*p += i;
			return (L'?');
		}
		c = (c << 6) | (u[i] & 0x3f);
	}
	*p += n + 1;
	return (c);
}

int
scr_put(struct scr *s, int x, int y, enum top_role role, int maxw,
    const char *str)
{
	int	n = 0;
	wchar_t	c;

	if (y < 0 || y >= s->h || str == NULL)
		return (0);
	while (*str != '\0' && (maxw < 0 || n < maxw)) {
		c = scr_utf8(&str);
		if (x + n >= 0 && x + n < s->w) {
			s->cells[y * s->w + x + n].ch = c;
			s->cells[y * s->w + x + n].role = role;
		}
		n++;
	}
	return (n);
}

int
scr_printf(struct scr *s, int x, int y, enum top_role role, int maxw,
    const char *fmt, ...)
{
	char	buf[1024];
	va_list	ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	return (scr_put(s, x, y, role, maxw, buf));
}

void
scr_fill_role(struct scr *s, int x, int y, int n, enum top_role role)
{
	int	i;

	if (y < 0 || y >= s->h)
		return;
	for (i = x; i < x + n && i < s->w; i++)
		if (i >= 0)
			s->cells[y * s->w + i].role = role;
}

const char *
scr_line(const struct scr *s, int y)
{
	static char	buf[4096];
	size_t		off = 0;
	int		x, k;
	char		mb[8];
	mbstate_t	st;

	buf[0] = '\0';
	if (y < 0 || y >= s->h)
		return (buf);
	for (x = 0; x < s->w && off + 8 < sizeof buf; x++) {
		wchar_t c = s->cells[y * s->w + x].ch;

		if (c < 0x80) {
			buf[off++] = (char)c;
			continue;
		}
		/* By hand: tests run in the C locale. */
		memset(&st, 0, sizeof st);
		if (c < 0x800) {
			mb[0] = (char)(0xc0 | (c >> 6));
			mb[1] = (char)(0x80 | (c & 0x3f));
			k = 2;
		} else if (c < 0x10000) {
			mb[0] = (char)(0xe0 | (c >> 12));
			mb[1] = (char)(0x80 | ((c >> 6) & 0x3f));
			mb[2] = (char)(0x80 | (c & 0x3f));
			k = 3;
		} else {
			mb[0] = (char)(0xf0 | (c >> 18));
			mb[1] = (char)(0x80 | ((c >> 12) & 0x3f));
			mb[2] = (char)(0x80 | ((c >> 6) & 0x3f));
			mb[3] = (char)(0x80 | (c & 0x3f));
			k = 4;
		}
		memcpy(buf + off, mb, (size_t)k);
		off += (size_t)k;
	}
	buf[off] = '\0';
	return (buf);
}
