/*
 * sockread.h -- reads a bufferevent's socket ourselves: one readv per
 * readiness event into an input buffer of our own, sized by the last
 * reads, with no ioctl(FIONREAD) and no read watermark callbacks; or,
 * after a TLS handshake, SSL_read with read-ahead into the same places.
 */
#ifndef SOCKREAD_H
#define SOCKREAD_H

#include <stddef.h>

#include "sock_event.h"

struct bufferevent;
struct evbuffer;
struct event_base;
struct sockread;

/*
 * A reader's cb gets SOCK_DATA, SOCK_EOF or SOCK_ERROR. The owner may free
 * the reader from within cb: the memory goes when cb returns.
 */

/*
 * The owner's bytes callback (see sockread_set_bytes): gets the n bytes of
 * a read at p (writable, valid for the call only) and returns how many of
 * the first ones it took; the rest goes to the input, then cb(DATA) runs.
 * The owner may free the reader from within, as from cb.
 */
typedef size_t sockread_bytes_cb(void *arg, unsigned char *p, size_t n);

/*
 * Sets up bev, connected, for a tunnel that holds at most high bytes each
 * way and enables it: its output drains to high / 2 before its write
 * callback runs. A plain socket gets a sockread (returned), which takes
 * over reading it: bev's own reading is disabled, what bev's input held
 * moves to ours, which never grows past high bytes (at high, reading stops
 * until sockread_poke() finds room). A TLS bufferevent reads by itself, up
 * to a read high watermark (NULL returned). chain, when not 0, is the
 * most the owner takes of the input at a time (a frame's payload): large
 * reads are then laid in chains a little under that size, so that taking
 * the first chain whole never copies (see sockread.c).
 */
struct sockread	*sockread_tunnel(struct event_base *base,
		    struct bufferevent *bev, size_t high, size_t chain,
		    sock_cb *cb, void *arg);
/*
 * For a TLS bufferevent whose handshake is done: a sockread that reads
 * through its SSL (decrypted bytes to the owner or the input), bev
 * disabled both ways (tlsout.c writes). Reading is on. A TLS error is
 * logged with logid (the owner's, kept as long as the reader).
 */
struct sockread	*sockread_tls(struct event_base *base,
		    struct bufferevent *bev, size_t high, const char *logid,
		    sock_cb *cb, void *arg);
/* The input: bytes read and not yet drained by the owner. */
struct evbuffer	*sockread_input(struct sockread *);
/* Stops reading for good and frees, input included; bev's stays off. */
void		 sockread_free(struct sockread *);
/* Read (1) or not (0). After EOF or an error it stays stopped. */
void		 sockread_set(struct sockread *, int on);
/* The input was drained: reading resumes if it had stopped at limit. */
void		 sockread_poke(struct sockread *);
/*
 * Every owner sets this once it made the reader: while the input is
 * empty, a read lands in the thread's read buffer instead of new chains
 * and goes to bytes, which takes what it can straight from there.
 */
void		 sockread_set_bytes(struct sockread *, sockread_bytes_cb *bytes,
		    void *arg);
/*
 * Appends n bytes at p to out: by reference when ref is set, they lie in
 * the read being handed to a bytes callback and they are a few KiB at
 * least (no copy; its buffer is then retired until out lets go), else
 * copied. ref is sockread_keep_worth(total, brief), total being what the
 * caller keeps of that read in pieces that large, brief set when out was
 * empty (its peer only did not take all of one write): references only
 * pay when they are most of a buffer.
 */
void		 sockread_keep(struct evbuffer *out, const void *p, size_t n,
		    int ref);
int		 sockread_keep_worth(size_t total, int brief);
/*
 * sockread_keep() for what iov[0..cnt) points to past its first skip
 * bytes (those a write took), deciding ref on all of it.
 */
struct iovec;
void		 sockread_keep_iov(struct evbuffer *out, const struct iovec *iov,
		    int cnt, size_t skip, int brief);
/* Frees the calling thread's read buffers (a worker thread ends). */
/* Each event loop thread: start before its first reader (a failure to
 * set up is fatal here, not later), end before its base is freed. */
void		 sockread_thread_start(struct event_base *);
void		 sockread_thread_end(void);

#endif
