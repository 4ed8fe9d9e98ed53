/* backend.h -- connecting to a route's target: TCP (async DNS), TLS over TCP, or unix socket. */
#ifndef BACKEND_H
#define BACKEND_H

#include <stddef.h>

struct bufferevent;
struct worker;
struct target;
struct backend_req;

/*
 * Connect result: on success bev is connected and owned by the callee
 * (status 0); otherwise bev is NULL, status is 502 (refused, unreachable,
 * name not found) or 504 (timed out) and why says what happened.
 */
typedef void backend_cb(void *arg, struct bufferevent *bev, int status,
    const char *why);

/*
 * Starts connecting to tg (not TARGET_ECHO) with a deadline. cb is always
 * called exactly once from the event loop, unless backend_cancel() is called
 * first. The request frees itself after calling cb.
 */
struct backend_req *backend_connect(struct worker *w, const struct target *tg,
	    unsigned timeout_ms, backend_cb *cb, void *arg);

/* Cancels a pending request; cb will not be called. */
void	backend_cancel(struct backend_req *req);

/* Socket options every bridged socket gets (TCP_NODELAY where TCP). */
void	backend_tune_socket(int fd);

struct evbuffer;

/*
 * Sends hdr[0..hl) (hl may be 0) then n bytes moved from src through bev.
 * When nothing is queued on bev and either these are src's last bytes and
 * few (a small message) or n is large (16 KiB or more), one writev sends
 * them at once from src's chains: no copy, no write event to arm, no loop
 * pass to wait for. Whatever the socket does not take, and everything on
 * TLS bufferevents, goes to bev's output as before. Errors are left for
 * the bufferevent's own next write to report. Returns how many bytes
 * (header first) went at once: they never were in the output, so whoever
 * counts bytes leaving it (live stats) must be told.
 */
size_t	backend_send(struct bufferevent *bev, const void *hdr, size_t hl,
	    struct evbuffer *src, size_t n);

/*
 * Writes up to n bytes from the front of src to bev's socket with one
 * writev straight from src's chains (no copy, no write event), when bev's
 * output is empty, it may write, and it is not TLS; drains from src what
 * the socket took. Returns that count (0: nothing written, for any reason;
 * errors are left for the bufferevent's own next write to report).
 */
size_t	backend_write_now(struct bufferevent *bev, struct evbuffer *src,
	    size_t n);

/*
 * Writes the bytes iov[0..cnt) point to: at once to fd with one writev
 * when out (the output of fd's bufferevent, which must be able to write)
 * is empty (queued, its length as backend_track_len() keeps it, is 0) and
 * fd is not -1 (-1: TLS, bytes go through SSL); what the socket does not
 * take, or everything, goes to out, in order (sockread_keep: by reference
 * when it is most of a flat read). Callers keep out, its length and fd to
 * spare the bufferevent's and the evbuffer's cache lines on every message.
 * Returns how many bytes went at once (never in out).
 */
struct iovec;
size_t	backend_send_iov(struct evbuffer *out, size_t queued, int fd,
	    const struct iovec *iov, int cnt);

/*
 * Keeps *len equal to out's length from now on (an evbuffer callback:
 * libevent runs them at once on every change, deferred bufferevents or
 * not), so a check on every message reads a field its caller already has
 * in cache rather than the evbuffer's own line. Remove the returned entry
 * before len goes, unless out goes first.
 */
struct evbuffer_cb_entry;
struct evbuffer_cb_entry *backend_track_len(struct evbuffer *out, size_t *len);

/* With WSB_CHECKS (the sanitizer build): dies if a tracked length is off. */
#ifdef WSB_CHECKS
void	backend_check_len(struct evbuffer *out, size_t len);
#else
#define backend_check_len(out, len)	do { } while (0)
#endif

#endif
