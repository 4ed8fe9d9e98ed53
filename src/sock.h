/*
 * sock.h -- the socket layer under client connections and backends alike:
 * one event vocabulary for what happened on a socket (sock_event.h:
 * sockread.c reads, tlsout.c writes through TLS, the writers below write
 * plain sockets), and the writers that send at once and queue only what
 * the socket did not take.
 */
#ifndef SOCK_H
#define SOCK_H

#include <stddef.h>

#include "sock_event.h"

struct bufferevent;
struct evbuffer;
struct evbuffer_cb_entry;
struct iovec;

/*
 * Socket options every bridged socket gets, where it is TCP: TCP_NODELAY,
 * and with keepalive_ms not 0 TCP keepalive (the first probe after that
 * long idle, then SOCK_KEEPALIVE_INTVL apart, SOCK_KEEPALIVE_CNT of them),
 * so a peer that vanished without a FIN or RST is noticed and its tunnel
 * freed.
 */
#define SOCK_KEEPALIVE_INTVL	10	/* seconds between probes */
#define SOCK_KEEPALIVE_CNT	6	/* unanswered probes before reset */
void	sock_tune(int fd, unsigned keepalive_ms);

/*
 * Writes up to n bytes from the front of src to bev's socket with one
 * writev straight from src's chains (no copy, no write event), when bev's
 * output is empty, it may write, and it is not TLS; drains from src what
 * the socket took. Returns that count (0: nothing written, for any reason;
 * errors are left for the bufferevent's own next write to report).
 */
size_t	sock_write_now(struct bufferevent *bev, struct evbuffer *src,
	    size_t n);

/*
 * Writes the bytes iov[0..cnt) point to: at once to fd with one writev
 * when out (the output of fd's bufferevent, which must be able to write)
 * is empty (queued, its length as sock_track_len() keeps it, is 0) and
 * fd is not -1 (-1: TLS, bytes go through SSL); what the socket does not
 * take, or everything, goes to out, in order (sockread_keep: by reference
 * when it is most of a read in sockread's buffer). Callers keep out, its length and fd to
 * spare the bufferevent's and the evbuffer's cache lines on every message.
 * Returns how many bytes went at once (never in out).
 */
size_t	sock_send_iov(struct evbuffer *out, size_t queued, int fd,
	    const struct iovec *iov, int cnt);

/*
 * Keeps *len equal to out's length from now on (an evbuffer callback:
 * libevent runs them at once on every change, deferred bufferevents or
 * not), so a check on every message reads a field its caller already has
 * in cache rather than the evbuffer's own line. Remove the returned entry
 * before len goes, unless out goes first.
 */
struct evbuffer_cb_entry *sock_track_len(struct evbuffer *out, size_t *len);

/* With WSB_CHECKS (the sanitizer build): dies if a tracked length is off. */
#ifdef WSB_CHECKS
void	sock_check_len(struct evbuffer *out, size_t len);
#else
#define sock_check_len(out, len)	do { } while (0)
#endif

#endif
