/*
 * tls.c -- server-side TLS contexts: files read and checked once per
 * (re)load, TLS 1.2 and 1.3 with AEAD ciphers only (RFC 9113 9.2.2 rules
 * out the rest for h2 anyway), ALPN preferring h2, and client certificate
 * verification when a CA file is given.
 */
#include "wsb_autoconf.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>

#include "config.h"
#include "conn_facts.h"
#include "tls.h"
#include "util.h"

/* Server preference: h2 first (RFC 7301 wire format). */
static const unsigned char tls_alpn_protos[] = "\x02h2\x08http/1.1";

/* TLS 1.2 suites: forward secrecy and AEAD only (Mozilla "intermediate"). */
#define TLS_CIPHERS_12	"ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:" \
	"ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:" \
	"ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305"

/* The most recent OpenSSL error as text, clearing the queue. */
static const char *
tls_last_error(char *buf, size_t len)
{
	unsigned long	e, last = 0;

	while ((e = ERR_get_error()) != 0)
		last = e;
	if (last == 0)
		snprintf(buf, len, "unknown error");
	else if (ERR_reason_error_string(last) != NULL)
		snprintf(buf, len, "%s", ERR_reason_error_string(last));
	else
		ERR_error_string_n(last, buf, len);
	return (buf);
}

void
tls_error_str(struct bufferevent *bev, char *buf, size_t len)
{
	SSL		*ssl = NULL;
	unsigned long	 e, best = 0;
	long		 vr;

	if (bev != NULL && (ssl = bufferevent_openssl_get_ssl(bev)) != NULL &&
	    (vr = SSL_get_verify_result(ssl)) != X509_V_OK) {
		/* The most useful fact about a refused client certificate. */
		snprintf(buf, len, "client certificate: %s",
		    X509_verify_cert_error_string(vr));
		ERR_clear_error();
		while (bufferevent_get_openssl_error(bev) != 0)
			;
		return;
	}
	/* The first error that OpenSSL can name. */
	while (bev != NULL && (e = bufferevent_get_openssl_error(bev)) != 0) {
		if (best == 0 && ERR_reason_error_string(e) != NULL)
			best = e;
	}
	if (best == 0) {
		tls_last_error(buf, len);
		return;
	}
	ERR_clear_error();
	snprintf(buf, len, "%s", ERR_reason_error_string(best));
}

/* Checks that path can be opened, so the message says why not. */
static int
tls_readable(const char *what, const char *path, char **cause)
{
	FILE	*f;

	if ((f = fopen(path, "r")) == NULL) {
		*cause = xasprintf("%s %s: %s", what, path, strerror(errno));
		return (-1);
	}
	fclose(f);
	return (0);
}

static int
tls_alpn_select(SSL *ssl, const unsigned char **out, unsigned char *outlen,
    const unsigned char *in, unsigned int inlen, void *arg)
{
	unsigned char	*sel;

	if (SSL_select_next_proto(&sel, outlen, tls_alpn_protos,
	    sizeof tls_alpn_protos - 1, in, inlen) != OPENSSL_NPN_NEGOTIATED)
		return (SSL_TLSEXT_ERR_NOACK);	/* carry on without ALPN */
	*out = sel;
	return (SSL_TLSEXT_ERR_OK);
}

/* The passphrase given when there is none: never a terminal prompt. */
static char	tls_no_password[] = "";

/* Longest key-password-file line: PEM_BUFSIZE is OpenSSL's own bound. */
#define TLS_PASSWORD_MAX	1024

/*
 * Reads key-password-file's first line (without its line end) into buf.
 * Returns 0, or -1 with *cause set naming the file.
 */
static int
tls_read_password(const char *path, char *buf, size_t len, char **cause)
{
	FILE	*f;

	if ((f = fopen(path, "r")) == NULL) {
		*cause = xasprintf("key-password-file %s: %s", path,
		    strerror(errno));
		return (-1);
	}
	if (fgets(buf, (int)len, f) == NULL)
		buf[0] = '\0';	/* empty file: an empty passphrase */
	fclose(f);
	buf[strcspn(buf, "\r\n")] = '\0';
	return (0);
}

SSL_CTX *
tls_server_ctx_new(const struct listen_cfg *lc, char **cause)
{
	SSL_CTX			*ctx;
	STACK_OF(X509_NAME)	*names;
	char			 err[256], pw[TLS_PASSWORD_MAX];
	int			 rc;

	ERR_clear_error();
	if (tls_readable("cert", lc->cert, cause) == -1 ||
	    tls_readable("key", lc->key, cause) == -1 ||
	    (lc->ca != NULL && tls_readable("ca", lc->ca, cause) == -1))
		return (NULL);
	if ((ctx = SSL_CTX_new(TLS_server_method())) == NULL) {
		*cause = xasprintf("cannot create TLS context: %s",
		    tls_last_error(err, sizeof err));
		return (NULL);
	}
	if (SSL_CTX_set_min_proto_version(ctx, lc->tls13_only ?
	    TLS1_3_VERSION : TLS1_2_VERSION) != 1 ||
	    SSL_CTX_set_cipher_list(ctx, TLS_CIPHERS_12) != 1) {
		*cause = xasprintf("cannot configure TLS: %s",
		    tls_last_error(err, sizeof err));
		goto fail;
	}
	/* ciphers= replaces the TLS 1.2 list; TLS 1.3 keeps its suites. */
	if (lc->ciphers != NULL &&
	    SSL_CTX_set_cipher_list(ctx, lc->ciphers) != 1) {
		*cause = xasprintf("ciphers %s: %s", lc->ciphers,
		    tls_last_error(err, sizeof err));
		goto fail;
	}
	SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION |
	    SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
	/* Both buffers go back to the pool while a connection is idle. */
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);

	if (SSL_CTX_use_certificate_chain_file(ctx, lc->cert) != 1) {
		*cause = xasprintf("cert %s: %s", lc->cert,
		    tls_last_error(err, sizeof err));
		goto fail;
	}
	/*
	 * An encrypted key: OpenSSL's default callback reads the passphrase
	 * from the userdata. Without key-password it would prompt on the
	 * terminal, which a proxy must never do: an empty one fails instead.
	 * key-password-file is read at each (re)load and the passphrase
	 * wiped once the key is in: it stays off the command line and out
	 * of the config's memory.
	 */
	if (lc->key_password_file != NULL) {
		if (tls_read_password(lc->key_password_file, pw, sizeof pw,
		    cause) == -1)
			goto fail;
		SSL_CTX_set_default_passwd_cb_userdata(ctx, pw);
	} else
		SSL_CTX_set_default_passwd_cb_userdata(ctx,
		    lc->key_password != NULL ? lc->key_password :
		    tls_no_password);
	rc = SSL_CTX_use_PrivateKey_file(ctx, lc->key, SSL_FILETYPE_PEM);
	SSL_CTX_set_default_passwd_cb_userdata(ctx, tls_no_password);
	explicit_bzero(pw, sizeof pw);
	if (rc != 1) {
		if (ERR_GET_REASON(ERR_peek_last_error()) ==
		    X509_R_KEY_VALUES_MISMATCH) {
			ERR_clear_error();
			*cause = xasprintf("key %s does not match cert %s",
			    lc->key, lc->cert);
		} else
			*cause = xasprintf("key %s: %s", lc->key,
			    tls_last_error(err, sizeof err));
		goto fail;
	}
	if (SSL_CTX_check_private_key(ctx) != 1) {
		ERR_clear_error();
		*cause = xasprintf("key %s does not match cert %s", lc->key,
		    lc->cert);
		goto fail;
	}
	if (lc->verify_client && lc->ca == NULL) {
		/* websockify's --verify-client without --cafile. */
		if (SSL_CTX_set_default_verify_paths(ctx) != 1) {
			*cause = xasprintf("the system's CA store: %s",
			    tls_last_error(err, sizeof err));
			goto fail;
		}
	} else if (lc->ca != NULL) {
		if (SSL_CTX_load_verify_locations(ctx, lc->ca, NULL) != 1) {
			*cause = xasprintf("ca %s: %s", lc->ca,
			    tls_last_error(err, sizeof err));
			goto fail;
		}
		if ((names = SSL_load_client_CA_file(lc->ca)) == NULL) {
			*cause = xasprintf("ca %s: no CA certificate in it",
			    lc->ca);
			goto fail;
		}
		SSL_CTX_set_client_CA_list(ctx, names);
	}
	if (lc->verify_client) {
		SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER |
		    SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
		/* Resumed sessions must carry the verified identity along. */
		SSL_CTX_set_session_id_context(ctx,
		    (const unsigned char *)"wsbridge", 8);
	}
	SSL_CTX_set_alpn_select_cb(ctx, tls_alpn_select, NULL);
	return (ctx);
fail:
	SSL_CTX_free(ctx);
	return (NULL);
}

/*
 * The client certificate's common name when it is plain text (UTF8String,
 * PrintableString or IA5String without a NUL), or NULL. Borrowed from the
 * certificate, which ssl holds as long as the connection. Only a listener
 * with client verification asks for a certificate, so one that is here
 * was verified.
 */
static const char *
tls_client_cn(SSL *ssl)
{
	X509			*x;
	X509_NAME		*name;
	const ASN1_STRING	*d;
	int			 i, type;

	if ((x = SSL_get0_peer_certificate(ssl)) == NULL ||
	    (name = X509_get_subject_name(x)) == NULL ||
	    (i = X509_NAME_get_index_by_NID(name, NID_commonName, -1)) < 0)
		return (NULL);
	d = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, i));
	type = ASN1_STRING_type(d);
	if (type != V_ASN1_UTF8STRING && type != V_ASN1_PRINTABLESTRING &&
	    type != V_ASN1_IA5STRING)
		return (NULL);
	/* OpenSSL keeps a NUL after every string's bytes. */
	if (strlen((const char *)ASN1_STRING_get0_data(d)) !=
	    (size_t)ASN1_STRING_length(d))
		return (NULL);
	return ((const char *)ASN1_STRING_get0_data(d));
}

void
tls_client_facts(struct bufferevent *bev, struct conn_facts *f)
{
	SSL	*ssl;

	if (bev == NULL || (ssl = bufferevent_openssl_get_ssl(bev)) == NULL)
		return;
	f->tls_version = SSL_get_version(ssl);
	f->tls_cipher = SSL_CIPHER_get_name(SSL_get_current_cipher(ssl));
	switch (tls_alpn(bev)) {
	case TLS_ALPN_H2:
		f->alpn = "h2";
		break;
	case TLS_ALPN_HTTP1:
		f->alpn = "http/1.1";
		break;
	default:
		break;
	}
	f->sni = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
	f->tls_client_cn = tls_client_cn(ssl);
}

enum tls_alpn
tls_alpn(struct bufferevent *bev)
{
	SSL			*ssl;
	const unsigned char	*p;
	unsigned int		 n;

	if ((ssl = bufferevent_openssl_get_ssl(bev)) == NULL)
		return (TLS_ALPN_NONE);
	SSL_get0_alpn_selected(ssl, &p, &n);
	if (n == 2 && memcmp(p, "h2", 2) == 0)
		return (TLS_ALPN_H2);
	if (n == 8 && memcmp(p, "http/1.1", 8) == 0)
		return (TLS_ALPN_HTTP1);
	return (TLS_ALPN_NONE);
}
