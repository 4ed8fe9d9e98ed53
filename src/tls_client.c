/*
 * tls_client.c -- TLS towards backends: one verifying context per TLS
 * target, built when the configuration is loaded (so a bad CA file is a
 * start-up or reload error, not a failure of every client), and an SSL per
 * connection with SNI and the expected name set.
 */
#include "wsb_autoconf.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "tls_client.h"
#include "util.h"

/* The most recent OpenSSL error that has a name, clearing the queue. */
static const char *
tls_client_last(char *buf, size_t len)
{
	unsigned long	e, last = 0;

	while ((e = ERR_get_error()) != 0)
		last = e;
	if (last != 0 && ERR_reason_error_string(last) != NULL)
		snprintf(buf, len, "%s", ERR_reason_error_string(last));
	else if (last != 0)
		ERR_error_string_n(last, buf, len);
	else
		snprintf(buf, len, "unknown error");
	return (buf);
}

SSL_CTX *
tls_client_ctx_new(const char *ca, int verify, char **cause)
{
	SSL_CTX	*ctx;
	FILE	*f;
	char	 err[256];

	ERR_clear_error();
	if (ca != NULL) {
		/* fopen first: "No such file" beats OpenSSL's "system lib". */
		if ((f = fopen(ca, "r")) == NULL) {
			*cause = xasprintf("backend-ca %s: %s", ca,
			    strerror(errno));
			return (NULL);
		}
		fclose(f);
	}
	if ((ctx = SSL_CTX_new(TLS_client_method())) == NULL) {
		*cause = xasprintf("cannot create TLS context: %s",
		    tls_client_last(err, sizeof err));
		return (NULL);
	}
	if (SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1) {
		*cause = xasprintf("cannot configure TLS: %s",
		    tls_client_last(err, sizeof err));
		goto fail;
	}
	SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION |
	    SSL_OP_NO_RENEGOTIATION);
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
	if (ca != NULL) {
		if (SSL_CTX_load_verify_locations(ctx, ca, NULL) != 1) {
			*cause = xasprintf("backend-ca %s: %s", ca,
			    tls_client_last(err, sizeof err));
			goto fail;
		}
	} else if (SSL_CTX_set_default_verify_paths(ctx) != 1) {
		*cause = xasprintf("cannot load the system CA store: %s",
		    tls_client_last(err, sizeof err));
		goto fail;
	}
	SSL_CTX_set_verify(ctx, verify ? SSL_VERIFY_PEER : SSL_VERIFY_NONE,
	    NULL);
	return (ctx);
fail:
	SSL_CTX_free(ctx);
	return (NULL);
}

/* Returns 1 if host is an IPv4 or IPv6 literal. */
static int
tls_client_is_ip(const char *host)
{
	struct in6_addr	a6;
	struct in_addr	a4;

	return (inet_pton(AF_INET, host, &a4) == 1 ||
	    inet_pton(AF_INET6, host, &a6) == 1);
}

SSL *
tls_client_ssl_new(SSL_CTX *ctx, const char *host)
{
	SSL	*ssl;

	if ((ssl = SSL_new(ctx)) == NULL)
		return (NULL);
	/* SSL_set_tlsext_host_name() without its cast that drops const. */
	if (!tls_client_is_ip(host) && SSL_ctrl(ssl,
	    SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name,
	    (void *)(uintptr_t)host) != 1)
		goto fail;
	/* OpenSSL 3 checks an IP literal against IP subjectAltNames. */
	if (SSL_get_verify_mode(ssl) != SSL_VERIFY_NONE &&
	    SSL_set1_host(ssl, host) != 1)
		goto fail;
	return (ssl);
fail:
	SSL_free(ssl);
	return (NULL);
}

const char *
tls_client_error(SSL *ssl, unsigned long err, char *buf, size_t len)
{
	char	tmp[256];
	long	vr;

	if (ssl != NULL && SSL_get_verify_mode(ssl) != SSL_VERIFY_NONE &&
	    (vr = SSL_get_verify_result(ssl)) != X509_V_OK) {
		snprintf(buf, len, "certificate verify failed: %s",
		    X509_verify_cert_error_string(vr));
		ERR_clear_error();
		return (buf);
	}
	if (err != 0 && ERR_reason_error_string(err) != NULL) {
		snprintf(buf, len, "TLS handshake failed: %s",
		    ERR_reason_error_string(err));
		ERR_clear_error();
		return (buf);
	}
	snprintf(buf, len, "TLS handshake failed: %s",
	    tls_client_last(tmp, sizeof tmp));
	return (buf);
}
