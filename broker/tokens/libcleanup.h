/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * Cleanup functions (util/cleanup.h) for what tokens/ holds besides its own objects (jansson has
 * its own json_decrefp): OpenSSL objects, descriptors, and a secret on the heap, which is wiped
 * before it is freed. Candidates for util/ once another layer needs them.
 *
 *   _cleanup_(erase_and_freep) char *assertion = NULL;   NUL-terminated secret, wiped to
 *                                                          its terminator
 *   _cleanup_(wiped_buf_done) struct wiped_buf p = {0};  counted secret, wiped over p.n bytes
 */

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>

#include "util/cleanup.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(EVP_PKEY *, EVP_PKEY_free)
DEFINE_TRIVIAL_CLEANUP_FUNC(EVP_PKEY_CTX *, EVP_PKEY_CTX_free)
DEFINE_TRIVIAL_CLEANUP_FUNC(EVP_MD_CTX *, EVP_MD_CTX_free)
DEFINE_TRIVIAL_CLEANUP_FUNC(BIGNUM *, BN_free)
DEFINE_TRIVIAL_CLEANUP_FUNC(ECDSA_SIG *, ECDSA_SIG_free)
DEFINE_TRIVIAL_CLEANUP_FUNC(OSSL_PARAM *, OSSL_PARAM_free)
DEFINE_TRIVIAL_CLEANUP_FUNC(OSSL_PARAM_BLD *, OSSL_PARAM_BLD_free)
DEFINE_TRIVIAL_CLEANUP_FUNC(BIO *, BIO_free)

/* For memory OpenSSL allocated (i2d_* output, OPENSSL_malloc). */
static inline void openssl_freep(void *p)
{
	OPENSSL_free(*(void **)p);
}

/* For a descriptor; -1 means none. */
static inline void closep(int *fd)
{
	if (*fd >= 0)
		(void)close(*fd);
}

/* For a NUL-terminated secret: wiped up to its terminator, then freed. */
static inline void erase_and_freep(char **p)
{
	if (!*p)
		return;
	explicit_bzero(*p, strlen(*p));
	free(*p);
}

/* A heap buffer of n bytes holding a secret (decoded token payloads, file contents). */
struct wiped_buf {
	uint8_t *p; /* owned */
	size_t n;
};

static inline void wiped_buf_done(struct wiped_buf *b)
{
	if (!b->p)
		return;
	explicit_bzero(b->p, b->n);
	free(b->p);
}
