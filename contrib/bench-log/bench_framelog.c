/*
 * bench_framelog.c -- how many frames per second the frame log sustains
 * into SQLite: the real queue and writer thread (framelog.c), fed by this
 * thread as fast as it will go, with log-overflow block semantics (the
 * producer waits while the queue is busy, so every frame is written).
 *
 *   bench_framelog [-n FRAMES] [-s SESSIONS] [-c CAPTURE] [-b BATCH]
 *       [-q QUEUE] FILE
 *
 * Prints frames, seconds and frames/s, counting from the first push to the
 * last row committed (framelog_free flushes and joins the writer), and the
 * process's CPU time per frame (both threads). -s spreads the frames over
 * that many sessions, round robin, as many echoing connections do.
 */
#include "wsb_autoconf.h"

#include <sys/resource.h>
#include <sys/socket.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "config.h"
#include "conn_facts.h"
#include "framelog.h"
#include "log.h"
#include "util.h"
#include "ws_conn.h"
#include "ws_frame.h"

int
main(int argc, char **argv)
{
	struct event_base		*base;
	struct config			*cfg;
	struct framelog			*fl;
	struct framelog_session		**ss, *s;
	const struct ws_observer	**obs, *o;
	struct rusage			 ru;
	double				 cpu;
	struct conn_facts		 cl, *facts;
	struct ws_frame_event		 ev;
	struct framelog_close		 fc;
	char				*cause;
	uint8_t				 payload[4096];
	uint64_t			 n = 1000000, i, t0, t1, waits = 0;
	size_t				 capture = 0, nsess = 1, k;
	unsigned			 batch = 4096, queue = 65536;
	int				 ch;

	while ((ch = getopt(argc, argv, "n:s:c:b:q:")) != -1) {
		switch (ch) {
		case 'n':
			n = strtoull(optarg, NULL, 10);
			break;
		case 's':
			nsess = strtoul(optarg, NULL, 10);
			if (nsess == 0)
				nsess = 1;
			break;
		case 'c':
			capture = strtoul(optarg, NULL, 10);
			break;
		case 'b':
			batch = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 'q':
			queue = (unsigned)strtoul(optarg, NULL, 10);
			break;
		default:
			fprintf(stderr, "usage: bench_framelog [-n frames] "
			    "[-s sessions] [-c capture] [-b batch] [-q queue] FILE\n");
			return (2);
		}
	}
	if (optind + 1 != argc) {
		fprintf(stderr, "bench_framelog: need a database FILE\n");
		return (2);
	}
	log_init(LOGL_WARN, 0);
	unlink(argv[optind]);
	base = event_base_new();
	cfg = config_new();
	cfg->log.db = xstrdup(argv[optind]);
	cfg->log.capture = capture;
	cfg->log.batch = batch;
	cfg->log.queue = queue;
	cfg->log.overflow = FRAMELOG_BLOCK;
	cfg->log.ret_size = 0;
	if ((fl = framelog_new(&base, 1, cfg, &cause)) == NULL)
		fatalx("%s", cause);

	memset(&cl, 0, sizeof cl);
	cl.peer.ss_family = AF_INET;
	((struct sockaddr_in *)&cl.peer)->sin_addr.s_addr = htonl(0x7f000001);
	((struct sockaddr_in *)&cl.peer)->sin_port = htons(40000);
	cl.path = "/bench";
	cl.http_version = "1.1";
	cl.route = "/bench";
	cl.backend = "echo";
	cl.backend_connect_ns = -1;
	facts = conn_facts_new(&cl);
	ss = xcalloc(nsess, sizeof *ss);
	obs = xcalloc(nsess, sizeof *obs);
	for (k = 0; k < nsess; k++) {
		ss[k] = framelog_session_new(fl, facts, "c1", capture);
		obs[k] = framelog_session_open(ss[k], 101, NULL, NULL);
	}
	memset(payload, 'x', sizeof payload);
	memset(&ev, 0, sizeof ev);
	ev.fin = 1;
	ev.hdr_len = 6;
	ev.data = payload;

	t0 = now_ns();
	for (i = 0; i < n; i++) {
		/* A 64-byte echo: one frame in, one out. */
		k = (i / 2) % nsess;
		s = ss[k];
		o = obs[k];
		ev.t_ns = now_ns();
		ev.dir = i & 1 ? WS_DIR_OUT : WS_DIR_IN;
		ev.masked = ev.dir == WS_DIR_IN;
		ev.opcode = WS_OP_BINARY;
		ev.len = 64;
		ev.msg_no = i / 2 / nsess + 1;
		ev.delay_ns = 1000;
		ev.data_len = MIN(capture, 64);
		while (o->busy != NULL && o->busy(s)) {
			/* The loop would stop reading; we wait. */
			waits++;
			usleep(100);
			event_base_loop(base, EVLOOP_NONBLOCK);
		}
		o->frame(s, &ev);
	}
	memset(&fc, 0, sizeof fc);
	fc.closed_by = "client";
	for (k = 0; k < nsess; k++)
		framelog_session_close(ss[k], &fc);
	framelog_free(fl);
	conn_facts_free(facts);
	t1 = now_ns();
	getrusage(RUSAGE_SELF, &ru);
	cpu = (double)ru.ru_utime.tv_sec + (double)ru.ru_stime.tv_sec +
	    ((double)ru.ru_utime.tv_usec + (double)ru.ru_stime.tv_usec) / 1e6;
	printf("%llu frames in %.3f s: %.0f frames/s into SQLite, "
	    "%.2f us CPU per frame (sessions %zu, capture %zu, batch %u, "
	    "queue %u, producer waits %llu)\n",
	    (unsigned long long)n, (double)(t1 - t0) / 1e9,
	    (double)n / ((double)(t1 - t0) / 1e9), cpu * 1e6 / (double)n,
	    nsess, capture, batch, queue, (unsigned long long)waits);
	free(ss);
	free(obs);
	config_free(cfg);
	event_base_free(base);
	return (0);
}
