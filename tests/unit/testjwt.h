/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * Test helpers for the identity/exchange tests: keys, JWKs and JWTs minted with OpenSSL in the
 * test itself (header-only: every unit test is its own program).
 */

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>

#include "util/b64.h"

static inline char *tj_b64(const void *data, size_t n)
{
	char *s = malloc(b64url_encoded_len(n) + 1);

	if (!s)
		abort();
	b64url_encode(data, n, s);
	return s;
}

static inline EVP_PKEY *tj_rsa(unsigned bits)
{
	EVP_PKEY *k = EVP_RSA_gen(bits);

	if (!k)
		abort();
	return k;
}

static inline EVP_PKEY *tj_ec(void)
{
	EVP_PKEY *k = EVP_EC_gen("P-256");

	if (!k)
		abort();
	return k;
}

/* A JWK object (new reference) for the public half of k. alg/use may be NULL (omitted). */
static inline json_t *tj_jwk(EVP_PKEY *k, const char *kid, const char *alg, const char *use)
{
	json_t *j = json_object();

	json_object_set_new(j, "kid", json_string(kid));
	if (alg)
		json_object_set_new(j, "alg", json_string(alg));
	if (use)
		json_object_set_new(j, "use", json_string(use));
	if (EVP_PKEY_is_a(k, "RSA")) {
		BIGNUM *n = NULL, *e = NULL;
		unsigned char buf[1024];
		char *s;
		int len;

		EVP_PKEY_get_bn_param(k, OSSL_PKEY_PARAM_RSA_N, &n);
		EVP_PKEY_get_bn_param(k, OSSL_PKEY_PARAM_RSA_E, &e);
		json_object_set_new(j, "kty", json_string("RSA"));
		len = BN_bn2bin(n, buf);
		s = tj_b64(buf, (size_t)len);
		json_object_set_new(j, "n", json_string(s));
		free(s);
		len = BN_bn2bin(e, buf);
		s = tj_b64(buf, (size_t)len);
		json_object_set_new(j, "e", json_string(s));
		free(s);
		BN_free(n);
		BN_free(e);
	} else {
		unsigned char pt[65];
		size_t len = 0;
		char *s;

		EVP_PKEY_get_octet_string_param(k, OSSL_PKEY_PARAM_PUB_KEY, pt, sizeof(pt), &len);
		if (len != 65)
			abort();
		json_object_set_new(j, "kty", json_string("EC"));
		json_object_set_new(j, "crv", json_string("P-256"));
		s = tj_b64(pt + 1, 32);
		json_object_set_new(j, "x", json_string(s));
		free(s);
		s = tj_b64(pt + 33, 32);
		json_object_set_new(j, "y", json_string(s));
		free(s);
	}
	return j;
}

/* {"keys":[...]} text from a NULL-terminated list of JWK objects (references stolen). */
static inline char *tj_jwks_text(json_t *first, ...)
{
	json_t *root = json_object(), *arr = json_array();
	va_list ap;
	char *s;

	va_start(ap, first);
	for (json_t *k = first; k; k = va_arg(ap, json_t *))
		json_array_append_new(arr, k);
	va_end(ap);
	json_object_set_new(root, "keys", arr);
	s = json_dumps(root, JSON_COMPACT);
	json_decref(root);
	return s;
}

/* Raw signature of data with k (RS256, or ES256 as raw r||s). Caller frees; *len set. */
static inline unsigned char *tj_sign(EVP_PKEY *k, const char *data, size_t n, size_t *len)
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	unsigned char *sig;
	size_t sl = 0;

	EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, k);
	EVP_DigestSign(md, NULL, &sl, (const unsigned char *)data, n);
	sig = malloc(sl);
	EVP_DigestSign(md, sig, &sl, (const unsigned char *)data, n);
	EVP_MD_CTX_free(md);
	if (EVP_PKEY_is_a(k, "EC")) {
		const unsigned char *p = sig;
		ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &p, (long)sl);
		const BIGNUM *r, *s;
		unsigned char *raw = calloc(1, 64);

		ECDSA_SIG_get0(es, &r, &s);
		BN_bn2binpad(r, raw, 32);
		BN_bn2binpad(s, raw + 32, 32);
		ECDSA_SIG_free(es);
		free(sig);
		*len = 64;
		return raw;
	}
	*len = sl;
	return sig;
}

/* header.payload.signature from raw header and payload texts, signed with k (NULL: the
 * signature is the text "sig"). */
static inline char *tj_mint_raw(EVP_PKEY *k, const char *header, size_t hl, const char *payload,
				size_t pl)
{
	char *h = tj_b64(header, hl), *p = tj_b64(payload, pl), *s, *out;
	size_t n = strlen(h) + 1 + strlen(p);
	unsigned char *sig;
	size_t sl;

	out = malloc(n + 2 + 2048);
	snprintf(out, n + 2, "%s.%s", h, p);
	if (k) {
		sig = tj_sign(k, out, n, &sl);
		s = tj_b64(sig, sl);
		free(sig);
	} else {
		s = strdup("c2ln");
	}
	out[n] = '.';
	memcpy(out + n + 1, s, strlen(s) + 1);
	free(h);
	free(p);
	free(s);
	return out;
}

static inline char *tj_mint(EVP_PKEY *k, const char *header, const char *payload)
{
	return tj_mint_raw(k, header, strlen(header), payload, strlen(payload));
}

/* HS256 "signed" with secret (the algorithm-confusion attack). */
static inline char *tj_mint_hs256(const void *secret, size_t sl, const char *header,
				  const char *payload)
{
	char *h = tj_b64(header, strlen(header)), *p = tj_b64(payload, strlen(payload)), *s, *out;
	size_t n = strlen(h) + 1 + strlen(p);
	unsigned char mac[32];
	unsigned int ml = 0;

	out = malloc(n + 64);
	snprintf(out, n + 2, "%s.%s", h, p);
	HMAC(EVP_sha256(), secret, (int)sl, (const unsigned char *)out, n, mac, &ml);
	s = tj_b64(mac, ml);
	out[n] = '.';
	memcpy(out + n + 1, s, strlen(s) + 1);
	free(h);
	free(p);
	free(s);
	return out;
}

/* The public key as SubjectPublicKeyInfo PEM (what libjwt would be handed). Caller frees. */
static inline char *tj_public_pem(EVP_PKEY *k, size_t *len)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *data, *out;
	long n;

	PEM_write_bio_PUBKEY(b, k);
	n = BIO_get_mem_data(b, &data);
	out = malloc((size_t)n + 1);
	memcpy(out, data, (size_t)n);
	out[n] = 0;
	*len = (size_t)n;
	BIO_free(b);
	return out;
}

/* The private key as PEM: PKCS#8 ("PRIVATE KEY") or PKCS#1 ("RSA PRIVATE KEY"). */
static inline char *tj_private_pem(EVP_PKEY *k, int pkcs1)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *data, *out;
	long n;

	if (pkcs1)
		PEM_write_bio_PrivateKey_traditional(b, k, NULL, NULL, 0, NULL, NULL);
	else
		PEM_write_bio_PrivateKey(b, k, NULL, NULL, 0, NULL, NULL);
	n = BIO_get_mem_data(b, &data);
	out = malloc((size_t)n + 1);
	memcpy(out, data, (size_t)n);
	out[n] = 0;
	BIO_free(b);
	return out;
}
