/*
 * test_tlsout.c -- unit tests for wsbridge's own TLS path on a real TLS
 * connection over a socketpair (OpenSSL on both ends, a throwaway P-256
 * certificate): tlsout.c's writes in order under a small socket buffer,
 * with the drain callback and no error, close_notify through the socket
 * BIO after a detach, a write error reported from the loop; and
 * sockread_tls() handing every decrypted byte over in order, records of one
 * byte and of 16 KiB alike, to a bytes callback that takes only part, and
 * the records SSL still holds when reading stopped at a full input reaching
 * the owner once it makes room, with nothing more coming from the socket.
 */
#include "wsb_autoconf.h"

#include <sys/socket.h>
#include <sys/uio.h>

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "sockread.h"
#include "tlsout.h"

/* ---- a TLS pair --------------------------------------------------------- */

struct pair {
	SSL_CTX		*sctx, *cctx;
	SSL		*srv, *cli;
	int		 sfd, cfd;
};

static void
nonblock(int fd)
{
	assert_int_not_equal(fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) |
	    O_NONBLOCK), -1);
}

static SSL_CTX *
server_ctx(void)
{
	SSL_CTX		*ctx = SSL_CTX_new(TLS_server_method());
	EVP_PKEY	*key = EVP_EC_gen("P-256");
	X509		*x = X509_new();

	assert_non_null(ctx);
	assert_non_null(key);
	assert_non_null(x);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
	X509_gmtime_adj(X509_getm_notBefore(x), 0);
	X509_gmtime_adj(X509_getm_notAfter(x), 3600);
	X509_set_pubkey(x, key);
	X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
	    (const unsigned char *)"test", -1, -1, 0);
	X509_set_issuer_name(x, X509_get_subject_name(x));
	assert_true(X509_sign(x, key, EVP_sha256()) > 0);
	assert_int_equal(SSL_CTX_use_certificate(ctx, x), 1);
	assert_int_equal(SSL_CTX_use_PrivateKey(ctx, key), 1);
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION);
	X509_free(x);
	EVP_PKEY_free(key);
	return (ctx);
}

/* A finished handshake; sbuf, when not 0, is the server's SO_SNDBUF. */
static void
pair_open(struct pair *p, int sbuf)
{
	int	fds[2], done_s = 0, done_c = 0, n;

	memset(p, 0, sizeof *p);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
	p->sfd = fds[0];
	p->cfd = fds[1];
	if (sbuf > 0) {
		assert_int_equal(setsockopt(p->sfd, SOL_SOCKET, SO_SNDBUF,
		    &sbuf, sizeof sbuf), 0);
		assert_int_equal(setsockopt(p->cfd, SOL_SOCKET, SO_RCVBUF,
		    &sbuf, sizeof sbuf), 0);
	}
	nonblock(p->sfd);
	nonblock(p->cfd);
	p->sctx = server_ctx();
	p->cctx = SSL_CTX_new(TLS_client_method());
	assert_non_null(p->cctx);
	SSL_CTX_set_verify(p->cctx, SSL_VERIFY_NONE, NULL);
	p->srv = SSL_new(p->sctx);
	p->cli = SSL_new(p->cctx);
	SSL_set_fd(p->srv, p->sfd);
	SSL_set_fd(p->cli, p->cfd);
	SSL_set_accept_state(p->srv);
	SSL_set_connect_state(p->cli);
	for (n = 0; (!done_s || !done_c) && n < 1000; n++) {
		if (!done_c && SSL_do_handshake(p->cli) == 1)
			done_c = 1;
		if (!done_s && SSL_do_handshake(p->srv) == 1)
			done_s = 1;
	}
	assert_true(done_s && done_c);
	/* TLS 1.3 tickets: let the client take them now. */
	while (SSL_read(p->cli, &n, sizeof n) > 0)
		fail_msg("no application data was sent yet");
	ERR_clear_error();
}

static void
pair_close(struct pair *p)
{
	if (p->srv != NULL)
		SSL_free(p->srv);
	SSL_free(p->cli);
	SSL_CTX_free(p->sctx);
	SSL_CTX_free(p->cctx);
	if (p->sfd != -1)
		close(p->sfd);
	close(p->cfd);
}

/* Deterministic bytes: byte i of the stream. */
static uint8_t
pat(size_t i)
{
	return ((uint8_t)(i * 131 + (i >> 9) * 7 + 3));
}

/* Reads what the client can without blocking; checks it against pat(). */
static size_t
client_drain(struct pair *p, size_t *at)
{
	uint8_t	buf[65536];
	size_t	i, got = 0;
	int	n;

	while ((n = SSL_read(p->cli, buf, sizeof buf)) > 0) {
		for (i = 0; i < (size_t)n; i++)
			if (buf[i] != pat(*at + i))
				fail_msg("byte %zu: %#x, want %#x", *at + i,
				    buf[i], pat(*at + i));
		*at += (size_t)n;
		got += (size_t)n;
	}
	return (got);
}

/* ---- tlsout --------------------------------------------------------------- */

struct wstate {
	int	drained;
	int	errors;
	int	err;
};

static void
on_out(void *arg, enum sock_event what)
{
	struct wstate	*w = arg;

	if (what == SOCK_DRAINED)
		w->drained++;
	else {
		w->errors++;
		w->err = errno;
	}
}

/*
 * 4 MiB in pieces of 1 byte to 70 KiB through all three ways in (iovecs,
 * an evbuffer source, the output and a flush), against a 16 KiB socket
 * buffer: the client reads every byte in order, the drain callback runs,
 * nothing fails, and nothing stays queued.
 */
static void
test_order_under_backpressure(void **state)
{
	struct event_base	*base = event_base_new();
	struct evbuffer		*src = evbuffer_new();
	struct wstate		 w = { 0 };
	struct tlsout		*o;
	struct pair		 p;
	struct iovec		 iov[8];
	static uint8_t		 chunk[8][70 * 1024];
	size_t			 total = 4 << 20, sent = 0, at = 0, k, n;
	int			 i, cnt, way = 0, max_pending = 0;

	(void)state;
	pair_open(&p, 16384);
	o = tlsout_new(base, p.srv, p.sfd, 8192, on_out, &w);
	srandom(7);
	while (sent < total) {
		way = (way + 1) % 3;
		if (way == 0) {
			cnt = 1 + (int)(random() % 8);
			for (i = 0; i < cnt; i++) {
				n = 1 + (size_t)random() % (i % 2 ? 9 :
				    sizeof chunk[i]);
				n = n < total - sent ? n : total - sent;
				for (k = 0; k < n; k++)
					chunk[i][k] = pat(sent + k);
				iov[i].iov_base = chunk[i];
				iov[i].iov_len = n;
				sent += n;
			}
			tlsout_send_iov(o, iov, cnt);
		} else {
			n = 1 + (size_t)random() % sizeof chunk[0];
			n = n < total - sent ? n : total - sent;
			for (k = 0; k < n; k++)
				chunk[0][k] = pat(sent + k);
			if (way == 1) {
				evbuffer_add(src, chunk[0], n / 3);
				evbuffer_add(src, chunk[0] + n / 3, n - n / 3);
				tlsout_send(o, NULL, 0, src, n);
				assert_int_equal(evbuffer_get_length(src), 0);
			} else {
				evbuffer_add(tlsout_output(o), chunk[0], n);
				tlsout_flush(o);
			}
			sent += n;
		}
		if ((int)tlsout_pending(o) > max_pending)
			max_pending = (int)tlsout_pending(o);
		/* The client reads now and then: the socket fills between. */
		if (random() % 4 == 0)
			(void)client_drain(&p, &at);
		event_base_loop(base, EVLOOP_NONBLOCK);
	}
	for (k = 0; k < 100000 && (at < total || tlsout_pending(o) > 0); k++) {
		(void)client_drain(&p, &at);
		event_base_loop(base, EVLOOP_NONBLOCK);
	}
	assert_int_equal(at, total);
	assert_int_equal(tlsout_pending(o), 0);
	assert_true(max_pending > 16384);	/* it did queue */
	assert_true(w.drained > 0);
	assert_int_equal(w.errors, 0);

	/* Detached: SSL writes close_notify through the socket again. */
	tlsout_detach(o);
	assert_ptr_equal(SSL_get_wbio(p.srv), SSL_get_rbio(p.srv));
	assert_true(SSL_shutdown(p.srv) >= 0);
	assert_int_equal(client_drain(&p, &at), 0);
	assert_int_equal(SSL_get_error(p.cli, 0), SSL_ERROR_ZERO_RETURN);
	tlsout_free(o);
	evbuffer_free(src);
	event_base_free(base);
	pair_close(&p);
}

/* A peer gone: the write error comes from the loop, never from a send. */
static void
test_write_error(void **state)
{
	struct event_base	*base = event_base_new();
	struct wstate		 w = { 0 };
	struct tlsout		*o;
	struct pair		 p;
	static uint8_t		 buf[256 * 1024];
	struct iovec		 iov = { buf, sizeof buf };
	int			 k;

	(void)state;
	signal(SIGPIPE, SIG_IGN);
	pair_open(&p, 16384);
	o = tlsout_new(base, p.srv, p.sfd, 0, on_out, &w);
	tlsout_send_iov(o, &iov, 1);		/* more than the socket takes */
	assert_true(tlsout_pending(o) > 0);
	close(p.cfd);
	p.cfd = open("/dev/null", O_RDONLY);	/* pair_close closes it */
	tlsout_send_iov(o, &iov, 1);
	assert_int_equal(w.errors, 0);
	for (k = 0; k < 100 && w.errors == 0; k++)
		event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
	assert_int_equal(w.errors, 1);
	assert_true(w.err == EPIPE || w.err == ECONNRESET);
	tlsout_free(o);
	event_base_free(base);
	pair_close(&p);
}

/* ---- sockread_tls ------------------------------------------------------- */

struct rstate {
	struct sockread	*r;
	size_t		 at;		/* bytes taken, in order */
	int		 bytes_calls;
	int		 eof;
	int		 hold;		/* takes nothing (a backend is full) */
};

static void
take(struct rstate *s, const uint8_t *q, size_t n)
{
	size_t	i;

	for (i = 0; i < n; i++)
		if (q[i] != pat(s->at + i))
			fail_msg("read byte %zu: %#x, want %#x", s->at + i,
			    q[i], pat(s->at + i));
	s->at += n;
}

/* Takes about two thirds of a read: the rest goes to the input. */
static size_t
on_bytes(void *arg, unsigned char *q, size_t n)
{
	struct rstate	*s = arg;
	size_t		 k = n - n / 3;

	s->bytes_calls++;
	take(s, q, k);
	return (k);
}

static void
on_read(void *arg, enum sock_event what)
{
	struct rstate	*s = arg;
	struct evbuffer	*in = sockread_input(s->r);
	uint8_t		 buf[4096];
	size_t		 n;

	if (what != SOCK_DATA) {
		s->eof = what == SOCK_EOF ? 1 : -1;
		return;
	}
	if (s->hold)
		return;
	while ((n = evbuffer_remove(in, buf, sizeof buf)) > 0 &&
	    n != (size_t)-1)
		take(s, buf, n);
	sockread_poke(s->r);
}

/*
 * Records of 1 byte to 16 KiB, some written in bursts, then close_notify:
 * every byte reaches the owner in order through the bytes callback and the
 * input, then EOF.
 */
static void
test_read_records(void **state)
{
	struct event_base	*base = event_base_new();
	struct bufferevent	*bev;
	struct rstate		 s = { 0 };
	struct pair		 p;
	static uint8_t		 buf[40000];
	size_t			 total = 3 << 20, sent = 0, n, k;
	int			 w, loops;

	(void)state;
	pair_open(&p, 0);
	bev = bufferevent_openssl_socket_new(base, p.sfd, p.srv,
	    BUFFEREVENT_SSL_OPEN, BEV_OPT_CLOSE_ON_FREE);
	assert_non_null(bev);
	p.srv = NULL;		/* bev frees it */
	p.sfd = -1;
	s.r = sockread_tls(base, bev, 256 * 1024, "t1", on_read, &s);
	sockread_set_bytes(s.r, on_bytes, &s);
	srandom(11);
	while (sent < total) {
		n = random() % 5 == 0 ? 1 : 1 + (size_t)random() % sizeof buf;
		n = n < total - sent ? n : total - sent;
		for (k = 0; k < n; k++)
			buf[k] = pat(sent + k);
		for (k = 0; k < n; k += (size_t)w) {
			w = SSL_write(p.cli, buf + k, (int)(n - k));
			if (w <= 0) {
				assert_int_equal(SSL_get_error(p.cli, w),
				    SSL_ERROR_WANT_WRITE);
				event_base_loop(base, EVLOOP_NONBLOCK);
				w = 0;
			}
		}
		sent += n;
		if (random() % 3 == 0)
			event_base_loop(base, EVLOOP_NONBLOCK);
	}
	assert_int_equal(SSL_shutdown(p.cli), 0);	/* close_notify sent */
	for (loops = 0; loops < 100000 && !s.eof; loops++)
		event_base_loop(base, EVLOOP_NONBLOCK);
	assert_int_equal(s.at, total);
	assert_int_equal(s.eof, 1);
	assert_true(s.bytes_calls > 0);
	sockread_free(s.r);
	bufferevent_free(bev);
	sockread_thread_end();	/* its poller is on this base */
	event_base_free(base);
	pair_close(&p);
}

/* Takes everything: a read may then fill the whole read buffer. */
static size_t
on_bytes_all(void *arg, unsigned char *q, size_t n)
{
	struct rstate	*s = arg;

	s->bytes_calls++;
	if (s->hold)
		return (0);	/* all of it to the input */
	take(s, q, n);
	return (n);
}

/*
 * Bursts of 16 KiB records and nothing after them (no close_notify, no
 * more bytes to wake the socket): records SSL already holds when a read
 * stops, at a full read buffer or a full input, must still arrive.
 */
static void
test_read_no_stall(void **state)
{
	struct event_base	*base = event_base_new();
	struct bufferevent	*bev;
	struct rstate		 s = { 0 };
	struct pair		 p;
	static uint8_t		 buf[16384];
	size_t			 total = 0, k;
	int			 round, w, loops;

	(void)state;
	pair_open(&p, 0);
	bev = bufferevent_openssl_socket_new(base, p.sfd, p.srv,
	    BUFFEREVENT_SSL_OPEN, BEV_OPT_CLOSE_ON_FREE);
	assert_non_null(bev);
	p.srv = NULL;
	p.sfd = -1;
	/* A 100 KiB input bound: SSL holds more than one read takes. */
	s.r = sockread_tls(base, bev, 100 * 1024, "t2", on_read, &s);
	for (round = 0; round < 6; round++) {
		if (round == 2)		/* then through the read buffer */
			sockread_set_bytes(s.r, on_bytes_all, &s);
		/* Rounds 4 and 5: the owner takes nothing until it is all sent
		   (the input fills to its bound and reading stops). */
		s.hold = round >= 4;
		for (k = 0; k < (s.hold ? 7 : 40); k++) {
			size_t	i;

			for (i = 0; i < sizeof buf; i++)
				buf[i] = pat(total + i);
			while ((w = SSL_write(p.cli, buf, sizeof buf)) <= 0) {
				assert_int_equal(SSL_get_error(p.cli, w),
				    SSL_ERROR_WANT_WRITE);
				event_base_loop(base, EVLOOP_NONBLOCK);
			}
			total += sizeof buf;
		}
		for (loops = 0; loops < 1000 && s.hold; loops++)
			event_base_loop(base, EVLOOP_NONBLOCK);
		if (s.hold) {	/* room again: the owner drains and pokes */
			s.hold = 0;
			on_read(&s, SOCK_DATA);
		}
		for (loops = 0; loops < 1000 && s.at < total; loops++)
			event_base_loop(base, EVLOOP_NONBLOCK);
		assert_int_equal(s.at, total);
	}
	sockread_free(s.r);
	bufferevent_free(bev);
	sockread_thread_end();	/* its poller is on this base */
	event_base_free(base);
	pair_close(&p);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_order_under_backpressure),
		cmocka_unit_test(test_write_error),
		cmocka_unit_test(test_read_records),
		cmocka_unit_test(test_read_no_stall),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
