/*
 * sock_event.h -- the socket layer's one event vocabulary: what happened
 * on a socket, told to its owner alike by readers (sockread.c), the TLS
 * writer (tlsout.c) and the plain writers (sock.c). Apart from sock.h so
 * that the readers, which the writers use to keep what a socket did not
 * take, need not include the writers.
 */
#ifndef SOCK_EVENT_H
#define SOCK_EVENT_H

/* What happened on a socket. */
enum sock_event {
	SOCK_DATA = 0,		/* new bytes are in the reader's input */
	SOCK_DRAINED,		/* a write left at most the low mark queued */
	SOCK_EOF,		/* the peer closed its side: reading stopped */
	SOCK_ERROR,		/* the socket failed (errno says why): stopped */
};

/*
 * The owner's callback, from the event loop. The owner may free the
 * object that calls it from within.
 */
typedef void sock_cb(void *arg, enum sock_event ev);

#endif
