/*
 * main.c -- wsbridge-top: flags, the event loop (keys, the control socket,
 * resize, signals as events), reconnection, and the one place that turns
 * model + choices into a screen and paints it. The terminal is restored on
 * every way out, before any message is printed.
 */
#include "wsb_autoconf.h"

#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <getopt.h>
#include <locale.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "draw.h"
#include "replay.h"
#include "top.h"

struct top {
	struct event_base	*base;
	struct top_model	 m;
	struct top_ui		 ui;
	struct scr		 scr;
	unsigned		 interval_ms;
	const char		*path;		/* control socket */
	struct bufferevent	*bev;		/* NULL while disconnected */
	struct event		*ev_retry, *ev_key, *ev_winch, *ev_tick;
	struct event		*ev_int, *ev_term, *ev_hup;
	struct replay		*rp;
	uint64_t		 detail_for;	/* replay: m.d loaded for it */
	int			 dirty;
};

static void	top_connect(struct top *);

/* Fatal: give the terminal back first, then say why. */
static void __attribute__((noreturn, format(printf, 1, 2)))
top_fatal(const char *fmt, ...)
{
	va_list	ap;

	draw_end();
	fprintf(stderr, "wsbridge-top: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

static void
usage(FILE *f)
{
	fprintf(f,
"usage: wsbridge-top [-s PATH] [-d SECONDS] [--mono]\n"
"       wsbridge-top --db FILE\n"
"\n"
"A live view of a running wsbridge (through its control socket, see\n"
"`control` in wsbridge.conf(5)), or of a recorded frame log (--db).\n"
"\n"
"options:\n"
"  -s, --control PATH  the control socket (default $WSBRIDGE_CONTROL,\n"
"                      else ./wsbridge.sock)\n"
"  -d, --delay SECONDS refresh interval, 0.1 to 60 (default 1)\n"
"      --db FILE       replay a frame log (log-db) instead\n"
"  -m, --mono          no colours (also when NO_COLOR is set)\n"
"  -h, --help          show this help; press ? inside for the keys\n"
"  -V, --version       show the version\n");
}

/* Lays out and paints the whole screen: the one draw of a tick. */
static void
top_draw(struct top *tp)
{
	int	w, h;

	draw_size(&w, &h);
	if (w != tp->scr.w || h != tp->scr.h) {
		screen_free(&tp->scr);
		screen_init(&tp->scr, w, h);
	}
	if (tp->rp != NULL && (tp->ui.view == VIEW_DETAIL ||
	    tp->ui.view == VIEW_HOL)) {
		/* The selection may have moved: load its session. */
		ui_order(&tp->ui, &tp->m);
		(void)ui_selected(&tp->ui, &tp->m);
		if (tp->detail_for != tp->ui.selected) {
			replay_detail(tp->rp, &tp->m, tp->ui.selected);
			tp->detail_for = tp->ui.selected;
		}
	}
	top_layout(&tp->scr, &tp->ui, &tp->m);
	draw_screen(&tp->scr);
	tp->dirty = 0;
}

/* ---- the control socket ------------------------------------------------- */

static void
top_send(struct top *tp, const char *line)
{
	if (tp->bev == NULL)
		return;
	evbuffer_add(bufferevent_get_output(tp->bev), line, strlen(line));
	evbuffer_add(bufferevent_get_output(tp->bev), "\n", 1);
}

/*
 * The detail and head-of-line views want the selected connection's facts.
 * Returns 1 when a "conn" request went out (its answer will draw), 0 when
 * there is none to ask about (it closed): the caller draws.
 */
static int
top_ask_detail(struct top *tp)
{
	char	line[96];

	if (tp->ui.view == VIEW_TABLE || tp->bev == NULL)
		return (0);
	if (tp->ui.view == VIEW_HOL)
		ui_order(&tp->ui, &tp->m);
	if (ui_selected(&tp->ui, &tp->m) == NULL)
		return (0);
	snprintf(line, sizeof line, "{\"cmd\":\"conn\",\"conn\":%llu}",
	    (unsigned long long)tp->ui.selected);
	top_send(tp, line);
	return (1);
}

static void
top_lost(struct top *tp, const char *why)
{
	struct timeval	tv = { 1, 0 };

	if (tp->bev != NULL) {
		bufferevent_free(tp->bev);
		tp->bev = NULL;
	}
	tp->m.connected = 0;
	snprintf(tp->m.status, sizeof tp->m.status, "%s: %s; retrying every "
	    "second", tp->path, why);
	evtimer_add(tp->ev_retry, &tv);
	top_draw(tp);
}

static void
top_read(struct bufferevent *bev, void *arg)
{
	struct top	*tp = arg;
	struct evbuffer	*in = bufferevent_get_input(bev);
	char		*line;
	size_t		 len;
	int		 snap = 0, asked = 0, rc;

	while ((line = evbuffer_readln(in, &len, EVBUFFER_EOL_LF)) != NULL) {
		/* Paused: the screen keeps what it shows. */
		if (!tp->ui.paused) {
			rc = model_apply_json(&tp->m, line, len);
			if (rc > 0)
				tp->dirty = 1;
			if (rc > 0 && strncmp(line, "{\"type\":\"snapshot\"",
			    18) == 0)
				snap = 1;
		}
		free(line);
	}
	if (snap)
		asked = top_ask_detail(tp);
	/*
	 * In the detail views the "conn" answer completes the tick; when
	 * nothing was asked (the connection closed) the snapshot does.
	 */
	if (tp->dirty && !asked)
		top_draw(tp);
}

static void
top_event(struct bufferevent *bev, short what, void *arg)
{
	struct top	*tp = arg;
	char		 subscribe[160];

	if (what & BEV_EVENT_CONNECTED) {
		tp->m.connected = 1;
		tp->m.status[0] = '\0';
		model_clear_conns(&tp->m);
		snprintf(subscribe, sizeof subscribe, "{\"cmd\":\"subscribe\","
		    "\"snapshot_ms\":%u,\"conns\":true}", tp->interval_ms);
		top_send(tp, subscribe);
		return;
	}
	top_lost(tp, what & BEV_EVENT_EOF ? "wsbridge went away" :
	    strerror(errno));
}

static void
top_connect(struct top *tp)
{
	struct sockaddr_un	sun;

	memset(&sun, 0, sizeof sun);
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof sun.sun_path, "%s", tp->path);
	tp->bev = bufferevent_socket_new(tp->base, -1, BEV_OPT_CLOSE_ON_FREE);
	if (tp->bev == NULL)
		top_fatal("cannot create a socket");
	bufferevent_setcb(tp->bev, top_read, NULL, top_event, tp);
	bufferevent_enable(tp->bev, EV_READ | EV_WRITE);
	if (bufferevent_socket_connect(tp->bev, (struct sockaddr *)&sun,
	    sizeof sun) == -1)
		top_lost(tp, strerror(errno));
}

static void
top_retry(evutil_socket_t fd, short what, void *arg)
{
	top_connect(arg);
}

/* ---- keys, resize, signals ------------------------------------------------ */

static void
top_keys(evutil_socket_t fd, short what, void *arg)
{
	struct top	*tp = arg;
	int		 key, view, seen = 0;
	uint64_t	 sel;

	while ((key = draw_key()) != -1) {
		seen = 1;
		if (key == K_RESIZE)
			continue;
		view = tp->ui.view;
		sel = tp->ui.selected;
		if (ui_key(&tp->ui, &tp->m, key)) {
			event_base_loopbreak(tp->base);
			return;
		}
		if ((int)tp->ui.view != view || tp->ui.selected != sel)
			top_ask_detail(tp);
	}
	if (seen)
		top_draw(tp);
}

static void
top_winch(evutil_socket_t fd, short what, void *arg)
{
	struct winsize	ws;

	if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
		draw_resize(ws.ws_col, ws.ws_row);
	top_draw(arg);
}

static void
top_signal(evutil_socket_t fd, short what, void *arg)
{
	event_base_loopbreak(((struct top *)arg)->base);
}

/* Replay and the clock in the title: a slow tick. */
static void
top_tick(evutil_socket_t fd, short what, void *arg)
{
	struct top	*tp = arg;

	if (tp->rp != NULL || !tp->m.connected)
		top_draw(tp);
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "control",	required_argument,	NULL, 's' },
		{ "delay",	required_argument,	NULL, 'd' },
		{ "db",		required_argument,	NULL, 'D' },
		{ "mono",	no_argument,		NULL, 'm' },
		{ "help",	no_argument,		NULL, 'h' },
		{ "version",	no_argument,		NULL, 'V' },
		{ NULL,		0,			NULL, 0 }
	};
	struct top	 tp;
	struct timeval	 tv;
	const char	*db = NULL;
	char		*end, *cause;
	double		 delay = 1.0;
	int		 ch, mono = 0;

	setlocale(LC_ALL, "");
	memset(&tp, 0, sizeof tp);
	tp.path = getenv("WSBRIDGE_CONTROL");
	if (tp.path == NULL || *tp.path == '\0')
		tp.path = "wsbridge.sock";
	while ((ch = getopt_long(argc, argv, "s:d:mhV", longopts,
	    NULL)) != -1) {
		switch (ch) {
		case 's':
			tp.path = optarg;
			break;
		case 'd':
			delay = strtod(optarg, &end);
			if (*end != '\0' || delay < 0.1 || delay > 60) {
				fprintf(stderr, "wsbridge-top: -d: 0.1 to 60 "
				    "seconds\n");
				return (2);
			}
			break;
		case 'D':
			db = optarg;
			break;
		case 'm':
			mono = 1;
			break;
		case 'h':
			usage(stdout);
			return (0);
		case 'V':
			printf("wsbridge-top %s\n", PACKAGE_VERSION);
			return (0);
		default:
			usage(stderr);
			return (2);
		}
	}
	if (optind != argc) {
		usage(stderr);
		return (2);
	}
	tp.interval_ms = (unsigned)(delay * 1000 + 0.5);
	if (db != NULL) {
		if ((tp.rp = replay_open(db, &cause)) == NULL) {
			fprintf(stderr, "wsbridge-top: %s\n", cause);
			return (1);
		}
		model_init(&tp.m, 0, db);
		if (replay_load(tp.rp, &tp.m) == -1) {
			fprintf(stderr, "wsbridge-top: %s: cannot read the "
			    "frame log\n", db);
			return (1);
		}
	} else
		model_init(&tp.m, 1, tp.path);
	ui_init(&tp.ui);
	if (!isatty(STDIN_FILENO) || !isatty(STDOUT_FILENO)) {
		fprintf(stderr, "wsbridge-top: needs a terminal (for scripts: "
		    "wsbridge ctl)\n");
		return (1);
	}
	if ((tp.base = event_base_new()) == NULL)
		top_fatal("cannot create the event loop");
	if (draw_init(mono) == -1)
		top_fatal("cannot set up the terminal");
	atexit(draw_end);
	screen_init(&tp.scr, 1, 1);

	tp.ev_key = event_new(tp.base, STDIN_FILENO, EV_READ | EV_PERSIST,
	    top_keys, &tp);
	event_add(tp.ev_key, NULL);
	tp.ev_winch = evsignal_new(tp.base, SIGWINCH, top_winch, &tp);
	evsignal_add(tp.ev_winch, NULL);
	tp.ev_int = evsignal_new(tp.base, SIGINT, top_signal, &tp);
	tp.ev_term = evsignal_new(tp.base, SIGTERM, top_signal, &tp);
	tp.ev_hup = evsignal_new(tp.base, SIGHUP, top_signal, &tp);
	evsignal_add(tp.ev_int, NULL);
	evsignal_add(tp.ev_term, NULL);
	evsignal_add(tp.ev_hup, NULL);
	signal(SIGPIPE, SIG_IGN);
	tp.ev_retry = evtimer_new(tp.base, top_retry, &tp);
	tp.ev_tick = event_new(tp.base, -1, EV_PERSIST, top_tick, &tp);
	tv.tv_sec = 1;
	tv.tv_usec = 0;
	evtimer_add(tp.ev_tick, &tv);
	if (tp.rp == NULL)
		top_connect(&tp);
	top_draw(&tp);
	event_base_dispatch(tp.base);

	draw_end();
	if (tp.bev != NULL)
		bufferevent_free(tp.bev);
	event_free(tp.ev_key);
	event_free(tp.ev_winch);
	event_free(tp.ev_int);
	event_free(tp.ev_term);
	event_free(tp.ev_hup);
	event_free(tp.ev_retry);
	event_free(tp.ev_tick);
	event_base_free(tp.base);
	replay_close(tp.rp);
	screen_free(&tp.scr);
	ui_free(&tp.ui);
	model_free(&tp.m);
	return (0);
}
