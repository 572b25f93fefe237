/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * Cleanup functions (util/cleanup.h) for the OpenSSL objects and msgpack zones tokens/ holds
 * (jansson has its own json_decrefp; descriptors and secrets on the heap are util/cleanup.h's).
 */

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>
#include <msgpack.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>

#include "util/cleanup.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(msgpack_zone *, msgpack_zone_free)
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
