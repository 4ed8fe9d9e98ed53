/*
 * token_jwt.c -- websockify's JWTTokenApi: the token is a signed JWT (JWS
 * compact form) whose claims name the target ("host", "port"), checked
 * against a key file: a PEM public key (RS256 with RSA, ES256 with P-256)
 * or a JWK "oct" secret, base64url as websockify reads it (HS256).
 * Verified with OpenSSL; "nbf" and "exp" honoured.
 */
#include "wsb_autoconf.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>

#include "token.h"
#include "util.h"

/*
 * A key file and a token are small: a bound keeps a stray file or a
 * client's megabyte query from costing more than a refusal.
 */
#define TOKEN_JWT_KEYFILE_MAX	(64 * 1024)
#define TOKEN_JWT_MAX		(16 * 1024)

struct token_jwt_key {
	EVP_PKEY	*pkey;		/* RSA or EC public key, or NULL */
	unsigned char	*secret;	/* HS256 secret, or NULL */
	size_t		 secretlen;
};

static int
token_b64url_val(char c)
{
	if (c >= 'A' && c <= 'Z')
		return (c - 'A');
	if (c >= 'a' && c <= 'z')
		return (c - 'a' + 26);
	if (c >= '0' && c <= '9')
		return (c - '0' + 52);
	if (c == '-')
		return (62);
	if (c == '_')
		return (63);
	return (-1);
}

/*
 * Decodes base64url without padding (RFC 7515 2) from s[0..n) into a new
 * buffer. Returns it (caller frees) with *outlen, or NULL if s is not
 * base64url.
 */
static unsigned char *
token_b64url_decode(const char *s, size_t n, size_t *outlen)
{
	unsigned char	*out;
	uint32_t	 acc = 0;
	size_t		 i, o = 0;
	int		 v, bits = 0;

	if (n % 4 == 1)
		return (NULL);
	out = xmalloc(n * 3 / 4 + 1);
	for (i = 0; i < n; i++) {
		if ((v = token_b64url_val(s[i])) == -1) {
			free(out);
			return (NULL);
		}
		acc = acc << 6 | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (unsigned char)(acc >> bits);
		}
	}
	*outlen = o;
	return (out);
}

struct token_jwt_key *
token_jwt_key_load(const char *path, char **cause)
{
	struct token_jwt_key	*k;
	FILE			*f;
	BIO			*bio;
	char			*buf;
	size_t			 n;
	int			 id;

	if ((f = fopen(path, "rb")) == NULL) {
		*cause = xasprintf("JWT key %s: %s", path, strerror(errno));
		return (NULL);
	}
	buf = xmalloc(TOKEN_JWT_KEYFILE_MAX + 1);
	n = fread(buf, 1, TOKEN_JWT_KEYFILE_MAX + 1, f);
	fclose(f);
	if (n == 0 || n > TOKEN_JWT_KEYFILE_MAX) {
		*cause = xasprintf("JWT key %s: empty or larger than %d bytes",
		    path, TOKEN_JWT_KEYFILE_MAX);
		free(buf);
		return (NULL);
	}
	k = xcalloc(1, sizeof *k);
	if ((bio = BIO_new_mem_buf(buf, (int)n)) != NULL) {
		k->pkey = PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL);
		BIO_free(bio);
	}
	if (k->pkey != NULL) {
		id = EVP_PKEY_base_id(k->pkey);
		if (id != EVP_PKEY_RSA && id != EVP_PKEY_EC) {
			*cause = xasprintf("JWT key %s: neither an RSA nor an "
			    "EC public key", path);
			goto fail;
		}
	} else {
		/* A JWK "oct" key: the file holds the secret, base64url. */
		while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r' ||
		    buf[n - 1] == ' ' || buf[n - 1] == '\t'))
			n--;
		if ((k->secret = token_b64url_decode(buf, n,
		    &k->secretlen)) == NULL || k->secretlen == 0) {
			*cause = xasprintf("JWT key %s: not a PEM public key nor "
			    "a base64url secret", path);
			goto fail;
		}
	}
	free(buf);
	return (k);
fail:
	free(buf);
	token_jwt_key_free(k);
	return (NULL);
}

void
token_jwt_key_free(struct token_jwt_key *k)
{
	if (k == NULL)
		return;
	EVP_PKEY_free(k->pkey);
	if (k->secret != NULL)
		OPENSSL_cleanse(k->secret, k->secretlen);
	free(k->secret);
	free(k);
}

/* ES256's raw r || s as the DER ECDSA-Sig-Value OpenSSL verifies. */
static unsigned char *
token_es256_der(const unsigned char *sig, size_t siglen, size_t *derlen)
{
	ECDSA_SIG	*es;
	BIGNUM		*r, *s;
	unsigned char	*der = NULL, *p;
	int		 n;

	if (siglen != 64 || (es = ECDSA_SIG_new()) == NULL)
		return (NULL);
	r = BN_bin2bn(sig, 32, NULL);
	s = BN_bin2bn(sig + 32, 32, NULL);
	if (r == NULL || s == NULL || ECDSA_SIG_set0(es, r, s) != 1) {
		BN_free(r);
		BN_free(s);
		ECDSA_SIG_free(es);
		return (NULL);
	}
	if ((n = i2d_ECDSA_SIG(es, NULL)) > 0) {
		der = p = xmalloc((size_t)n);
		i2d_ECDSA_SIG(es, &p);
		*derlen = (size_t)n;
	}
	ECDSA_SIG_free(es);
	return (der);
}

/* Returns 1 when sig signs input under alg with k, else 0. */
static int
token_jwt_verify(const struct token_jwt_key *k, const char *alg,
    const char *input, size_t inlen, const unsigned char *sig, size_t siglen)
{
	EVP_MD_CTX	*ctx;
	unsigned char	 mac[EVP_MAX_MD_SIZE], *der = NULL;
	unsigned int	 maclen = 0;
	size_t		 derlen = 0;
	int		 ok = 0;

	if (strcmp(alg, "HS256") == 0) {
		if (k->secret == NULL || HMAC(EVP_sha256(), k->secret,
		    (int)k->secretlen, (const unsigned char *)input, inlen, mac,
		    &maclen) == NULL)
			return (0);
		return (maclen == siglen &&
		    CRYPTO_memcmp(mac, sig, siglen) == 0);
	}
	if (k->pkey == NULL)
		return (0);
	if (strcmp(alg, "RS256") == 0) {
		if (EVP_PKEY_base_id(k->pkey) != EVP_PKEY_RSA)
			return (0);
	} else if (strcmp(alg, "ES256") == 0) {
		if (EVP_PKEY_base_id(k->pkey) != EVP_PKEY_EC ||
		    (der = token_es256_der(sig, siglen, &derlen)) == NULL)
			return (0);
		sig = der;
		siglen = derlen;
	} else
		return (0);	/* "none", or one we do not take */
	if ((ctx = EVP_MD_CTX_new()) != NULL) {
		ok = EVP_DigestVerifyInit(ctx, NULL, EVP_sha256(), NULL,
		    k->pkey) == 1 && EVP_DigestVerify(ctx, sig, siglen,
		    (const unsigned char *)input, inlen) == 1;
		EVP_MD_CTX_free(ctx);
	}
	free(der);
	return (ok);
}

/* A base64url JSON part of a token as a JSON object, or NULL. */
static json_t *
token_jwt_json(const char *s, size_t n)
{
	unsigned char	*raw;
	size_t		 len;
	json_t		*j;

	if ((raw = token_b64url_decode(s, n, &len)) == NULL)
		return (NULL);
	j = json_loadb((const char *)raw, len, JSON_REJECT_DUPLICATES, NULL);
	free(raw);
	if (j != NULL && !json_is_object(j)) {
		json_decref(j);
		return (NULL);
	}
	return (j);
}

char *
token_jwt_target(const struct token_jwt_key *k, const char *jwt, time_t now,
    int *status, const char **why)
{
	const char	*d1, *d2, *alg, *host;
	json_t		*hdr = NULL, *claims = NULL, *v, *port;
	unsigned char	*sig = NULL;
	size_t		 siglen;
	char		*portstr = NULL, *spec = NULL;

	*status = 404;
	if (strlen(jwt) > TOKEN_JWT_MAX || (d1 = strchr(jwt, '.')) == NULL ||
	    (d2 = strchr(d1 + 1, '.')) == NULL) {
		*why = "not a JWT";
		return (NULL);
	}
	if (strchr(d2 + 1, '.') != NULL) {
		*why = "an encrypted JWT (JWE), not supported yet";
		return (NULL);
	}
	if ((hdr = token_jwt_json(jwt, (size_t)(d1 - jwt))) == NULL ||
	    (alg = json_string_value(json_object_get(hdr, "alg"))) == NULL ||
	    (sig = token_b64url_decode(d2 + 1, strlen(d2 + 1),
	    &siglen)) == NULL) {
		*why = "not a JWT";
		goto out;
	}
	if (!token_jwt_verify(k, alg, jwt, (size_t)(d2 - jwt), sig, siglen)) {
		*status = 403;
		*why = "JWT signature not valid";
		goto out;
	}
	if ((claims = token_jwt_json(d1 + 1, (size_t)(d2 - d1 - 1))) == NULL) {
		*why = "JWT claims not a JSON object";
		goto out;
	}
	if ((v = json_object_get(claims, "nbf")) != NULL &&
	    (!json_is_number(v) || (double)now < json_number_value(v))) {
		*why = "JWT not valid yet (nbf)";
		goto out;
	}
	if ((v = json_object_get(claims, "exp")) != NULL &&
	    (!json_is_number(v) || (double)now > json_number_value(v))) {
		*why = "JWT expired (exp)";
		goto out;
	}
	host = json_string_value(json_object_get(claims, "host"));
	port = json_object_get(claims, "port");
	if (json_is_integer(port))
		portstr = xasprintf("%lld", (long long)json_integer_value(port));
	else if (json_is_string(port))
		portstr = xstrdup(json_string_value(port));
	if (host == NULL || portstr == NULL) {
		*why = "JWT claims without host and port";
		goto out;
	}
	spec = token_spec(host, strlen(host), portstr);
	*status = 0;
	*why = NULL;
out:
	free(portstr);
	free(sig);
	json_decref(hdr);
	json_decref(claims);
	return (spec);
}
