/*
 * record.c -- websockify's record files (see record.h): the loops encode
 * entries and queue them; one writer thread owns the files.
 */
#include "wsb_autoconf.h"

#include <sys/queue.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "record.h"
#include "util.h"
#include "ws_conn.h"
#include "ws_frame.h"

/* Queued entry bytes past which entries are dropped (the disk lags). */
#define REC_QUEUE_MAX	(16 * 1024 * 1024)

enum rec_kind { REC_OPEN, REC_DATA, REC_CLOSE };

struct rec_chunk {
	TAILQ_ENTRY(rec_chunk)	 entry;
	struct rec_session	*s;
	enum rec_kind		 kind;
	size_t			 len;
	char			 data[];
};
TAILQ_HEAD(rec_chunks, rec_chunk);

struct rec_session {
	char		*path;
	char		 logid[24];
	uint64_t	 t0_ns;
	/* The loop's. */
	uint64_t	 entries, dropped, dropped_bytes, zskipped;
	uint64_t	 last_ms;	/* the last entry's time */
	/* The writer's. */
	int		 fd;		/* -1: not open (or failed) */
	int		 failed;	/* a write failed: logged once */
};

static pthread_mutex_t	 rec_mtx = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t	 rec_cv = PTHREAD_COND_INITIALIZER;
static struct rec_chunks rec_q = TAILQ_HEAD_INITIALIZER(rec_q);
static size_t		 rec_qbytes;
static int		 rec_running, rec_stop;
static pthread_t	 rec_thread;

size_t
rec_escape(const uint8_t *p, size_t n, char *out)
{
	static const char	 hex[] = "0123456789abcdef";
	char			*o = out;
	size_t			 i;

	for (i = 0; i < n; i++) {
		switch (p[i]) {
		case '\\':
			*o++ = '\\';
			*o++ = '\\';
			break;
		case '\'':
			*o++ = '\\';
			*o++ = '\'';
			break;
		case '\t':
			*o++ = '\\';
			*o++ = 't';
			break;
		case '\n':
			*o++ = '\\';
			*o++ = 'n';
			break;
		case '\r':
			*o++ = '\\';
			*o++ = 'r';
			break;
		default:
			if (p[i] < 0x20 || p[i] >= 0x7f) {
				*o++ = '\\';
				*o++ = 'x';
				*o++ = hex[p[i] >> 4];
				*o++ = hex[p[i] & 0xf];
			} else
				*o++ = (char)p[i];
			break;
		}
	}
	return ((size_t)(o - out));
}

/* Writes n bytes at p to s's file; the first failure is logged. */
static void
rec_write(struct rec_session *s, const char *p, size_t n)
{
	ssize_t	w;

	while (s->fd != -1 && n > 0) {
		if ((w = write(s->fd, p, n)) == -1) {
			if (errno == EINTR)
				continue;
			if (!s->failed)
				log_warn("%s: record %s: %s; the rest of the "
				    "session is not recorded", s->logid,
				    s->path, strerror(errno));
			s->failed = 1;
			close(s->fd);
			s->fd = -1;
			return;
		}
		p += w;
		n -= (size_t)w;
	}
}

static void
rec_apply(struct rec_chunk *c)
{
	static const char	 head[] = "var VNC_frame_data = [\n";
	static const char	 tail[] = "'EOF'];\n";
	struct rec_session	*s = c->s;

	switch (c->kind) {
	case REC_OPEN:
		/* O_NOFOLLOW: a link planted at PATH.N gets nothing. */
		s->fd = open(s->path, O_WRONLY | O_CREAT | O_TRUNC |
		    O_NOFOLLOW | O_CLOEXEC, 0600);
		if (s->fd == -1)
			log_warn("%s: record %s: %s", s->logid, s->path,
			    strerror(errno));
		else
			rec_write(s, head, sizeof head - 1);
		break;
	case REC_DATA:
		rec_write(s, c->data, c->len);
		break;
	case REC_CLOSE:
		rec_write(s, tail, sizeof tail - 1);
		if (s->fd != -1)
			close(s->fd);
		free(s->path);
		free(s);
		break;
	}
}

static void *
rec_main(void *arg)
{
	struct rec_chunks	 batch;
	struct rec_chunk	*c;

	(void)arg;
	pthread_mutex_lock(&rec_mtx);
	for (;;) {
		while (TAILQ_EMPTY(&rec_q) && !rec_stop)
			pthread_cond_wait(&rec_cv, &rec_mtx);
		if (TAILQ_EMPTY(&rec_q))
			break;
		TAILQ_INIT(&batch);
		TAILQ_CONCAT(&batch, &rec_q, entry);
		pthread_mutex_unlock(&rec_mtx);
		while ((c = TAILQ_FIRST(&batch)) != NULL) {
			TAILQ_REMOVE(&batch, c, entry);
			rec_apply(c);
			pthread_mutex_lock(&rec_mtx);
			rec_qbytes -= c->len;
			pthread_mutex_unlock(&rec_mtx);
			free(c);
		}
		pthread_mutex_lock(&rec_mtx);
	}
	pthread_mutex_unlock(&rec_mtx);
	return (NULL);
}

/*
 * Queues c; a data chunk that would pass REC_QUEUE_MAX is refused (-1).
 * Opens and closes always go (they are small and keep the files whole).
 */
static int
rec_push(struct rec_chunk *c)
{
	int	rc = 0;

	pthread_mutex_lock(&rec_mtx);
	if (c->kind == REC_DATA && rec_qbytes + c->len > REC_QUEUE_MAX)
		rc = -1;
	else {
		if (!rec_running) {
			if (pthread_create(&rec_thread, NULL, rec_main,
			    NULL) != 0)
				fatalx("record: cannot start the writer");
			rec_running = 1;
		}
		rec_qbytes += c->len;
		TAILQ_INSERT_TAIL(&rec_q, c, entry);
		pthread_cond_signal(&rec_cv);
	}
	pthread_mutex_unlock(&rec_mtx);
	return (rc);
}

static struct rec_chunk *
rec_chunk_new(struct rec_session *s, enum rec_kind kind, size_t room)
{
	struct rec_chunk	*c;

	c = xmalloc(sizeof *c + room);
	c->s = s;
	c->kind = kind;
	c->len = 0;
	return (c);
}

struct rec_session *
rec_session_new(const char *base, uint64_t n, const char *logid,
    uint64_t t0_ns)
{
	struct rec_session	*s;

	s = xcalloc(1, sizeof *s);
	s->path = xasprintf("%s.%llu", base, (unsigned long long)n);
	snprintf(s->logid, sizeof s->logid, "%s", logid);
	s->t0_ns = t0_ns;
	s->fd = -1;
	log_info("%s: recording to %s", logid, s->path);
	rec_push(rec_chunk_new(s, REC_OPEN, 0));
	return (s);
}

void
rec_frame(struct rec_session *s, const struct ws_frame_event *ev)
{
	struct rec_chunk	*c;
	uint64_t		 now, ms;
	char			 mark;
	int			 w;

	if (ev->opcode != WS_OP_TEXT && ev->opcode != WS_OP_BINARY &&
	    ev->opcode != WS_OP_CONT)
		return;
	if (ev->status != WS_FEV_OK)
		return;
	/* Compressed bytes would play back as garbage. */
	if (ev->zmsg) {
		s->zskipped++;
		return;
	}
	mark = ev->dir == WS_DIR_IN ? '}' : '{';
	/* "'", mark, ms (20), mark, payload (4x), "',\n" */
	c = rec_chunk_new(s, REC_DATA, 26 + 4 * ev->data_len);
	/*
	 * When the entry is made, not ev->t_ns: an inbound frame's is its
	 * header's, and the entries must keep the file's order.
	 */
	now = obs_now();
	ms = (now > s->t0_ns ? now - s->t0_ns : 0) / 1000000;
	if (ms < s->last_ms)
		ms = s->last_ms;
	s->last_ms = ms;
	w = snprintf(c->data, 24, "'%c%llu%c", mark, (unsigned long long)ms,
	    mark);
	c->len = (size_t)w;
	c->len += rec_escape(ev->data, ev->data_len, c->data + c->len);
	memcpy(c->data + c->len, "',\n", 3);
	c->len += 3;
	/* A payload not all captured counts as lost, never half written. */
	if (ev->data_len < ev->len || rec_push(c) != 0) {
		s->dropped++;
		s->dropped_bytes += ev->len;
		free(c);
		return;
	}
	s->entries++;
}

void
rec_session_close(struct rec_session *s)
{
	if (s->dropped > 0)
		log_warn("%s: record %s: %llu frames (%llu bytes) not recorded: "
		    "the disk was slower than the traffic", s->logid, s->path,
		    (unsigned long long)s->dropped,
		    (unsigned long long)s->dropped_bytes);
	if (s->zskipped > 0)
		log_warn("%s: record %s: %llu compressed frames not recorded "
		    "(permessage-deflate; websockify never compresses: set "
		    "deflate=no on the route)", s->logid, s->path,
		    (unsigned long long)s->zskipped);
	rec_push(rec_chunk_new(s, REC_CLOSE, 0));
}

void
rec_traffic(const char *marks)
{
	/* stdio's lock keeps one call's marks together across the loops. */
	fputs(marks, stdout);
	fflush(stdout);
}

int
rec_check(const char *base, char **cause)
{
	char	*dir, *slash;
	int	 rc = 0;

	dir = xstrdup(base);
	if ((slash = strrchr(dir, '/')) != NULL)
		*(slash == dir ? slash + 1 : slash) = '\0';
	if (access(dir, W_OK | X_OK) != 0) {
		*cause = xasprintf("record %s: directory %s: %s", base, dir,
		    strerror(errno));
		rc = -1;
	}
	free(dir);
	return (rc);
}

void
rec_shutdown(void)
{
	pthread_mutex_lock(&rec_mtx);
	if (!rec_running) {
		pthread_mutex_unlock(&rec_mtx);
		return;
	}
	rec_stop = 1;
	pthread_cond_signal(&rec_cv);
	pthread_mutex_unlock(&rec_mtx);
	pthread_join(rec_thread, NULL);
	rec_running = rec_stop = 0;
}
