/*
 * tlsout.h -- the write side of a TLS tunnel socket. SSL writes its
 * records into a BIO of ours instead of the socket: a message's records go
 * out in one write(2) from a buffer of the thread, and SSL never sees a
 * blocked socket (no WANT_WRITE, no retry that must repeat the same
 * bytes). Reading stays with SSL's socket BIO (sockread.c reads through
 * it). Plaintext waits in an output evbuffer while the socket is behind
 * and is sealed only when the socket has taken what was sealed before, so
 * at most one write's worth of ciphertext is ever queued.
 */
#ifndef TLSOUT_H
#define TLSOUT_H

#include <stddef.h>

#include <openssl/ssl.h>

#include "sock.h"

struct event_base;
struct evbuffer;
struct iovec;
struct tlsout;

/*
 * A tlsout's cb gets SOCK_DRAINED or SOCK_ERROR (the socket or SSL failed,
 * errno says how), from the event loop only, never from a send. The owner
 * may free the tlsout from within.
 */

/*
 * Takes over writing for ssl, whose handshake is done and which writes
 * to fd through a socket BIO with nothing of its own queued (its
 * bufferevent's output is empty). cb(DRAINED) runs when a write leaves at
 * most low bytes queued.
 */
struct tlsout	*tlsout_new(struct event_base *base, SSL *ssl, int fd,
		    size_t low, sock_cb *cb, void *arg);
/*
 * Stops for good and gives SSL back its socket BIO (for close_notify);
 * the output stays (whoever watches it may still look) until
 * tlsout_free(), which also detaches, and drops what was queued.
 */
void		 tlsout_detach(struct tlsout *);
void		 tlsout_free(struct tlsout *);
/* Plaintext to send: add to it, then tlsout_flush(). */
struct evbuffer	*tlsout_output(struct tlsout *);
/* Sends what the output holds, now or when the socket can take it. */
void		 tlsout_flush(struct tlsout *);
/* Bytes not yet written to the socket: plaintext plus ciphertext. */
size_t		 tlsout_pending(const struct tlsout *);
void		 tlsout_set_low(struct tlsout *, size_t low);
/*
 * Sends hdr and the first n bytes of src (drained), or the bytes iov
 * points to (kept by reference or copied as sockread_keep() decides when
 * the socket does not take them), after what is queued. Returns how many
 * plaintext bytes were sealed at once, never passing through the output
 * (whose drains count the rest as they are sealed).
 */
size_t		 tlsout_send(struct tlsout *, const void *hdr, size_t hl,
		    struct evbuffer *src, size_t n);
size_t		 tlsout_send_iov(struct tlsout *, const struct iovec *iov,
		    int cnt);
/* Frees the calling thread's staging buffers (a worker thread ends). */
void		 tlsout_thread_end(void);
/* Stops writing for good (the connection is closing at once). */
void		 tlsout_stop(struct tlsout *);

#endif
