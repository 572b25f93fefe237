/* SPDX-License-Identifier: MIT */
#pragma once

#include <stddef.h>
#include <stdint.h>

/*
 * SHA-256 in the two forms the broker needs: the full digest, the key of every per-token cache;
 * and a fingerprint, the first HASH_FINGERPRINT_LEN hex digits of the digest, which is what a
 * log line or an audit line shows in place of a secret (as ssh-agent logs key fingerprints).
 */

#define HASH_SHA256_LEN 32
#define HASH_FINGERPRINT_LEN 12

void hash_sha256(const void *data, size_t len, uint8_t out[static HASH_SHA256_LEN]);

/* Frees the digest fetched by the first hash_sha256 (at exit, so that valgrind finds nothing
 * left); a later call fetches it again. */
void hash_done(void);

/* Writes the fingerprint of data (NUL-terminated) into out and returns out. */
const char *hash_fingerprint(const void *data, size_t len, char out[static HASH_FINGERPRINT_LEN + 1]);

/* The fingerprint of an already computed digest. */
const char *hash_fingerprint_of_digest(const uint8_t digest[static HASH_SHA256_LEN],
				       char out[static HASH_FINGERPRINT_LEN + 1]);
