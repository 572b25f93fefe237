/* SPDX-License-Identifier: MIT */
/* hash: SHA-256 digests and their short hex fingerprints for logs. */
#include <openssl/sha.h>

#include "util/hash.h"

void hash_sha256(const void *data, size_t len, uint8_t out[static HASH_SHA256_LEN])
{
	SHA256(data, len, out);
}

const char *hash_fingerprint_of_digest(const uint8_t digest[static HASH_SHA256_LEN],
				       char out[static HASH_FINGERPRINT_LEN + 1])
{
	static const char hex[] = "0123456789abcdef";

	for (size_t i = 0; i < HASH_FINGERPRINT_LEN / 2; i++) {
		out[2 * i] = hex[digest[i] >> 4];
		out[2 * i + 1] = hex[digest[i] & 15];
	}
	out[HASH_FINGERPRINT_LEN] = '\0';
	return out;
}

const char *hash_fingerprint(const void *data, size_t len, char out[static HASH_FINGERPRINT_LEN + 1])
{
	uint8_t md[HASH_SHA256_LEN];

	hash_sha256(data, len, md);
	return hash_fingerprint_of_digest(md, out);
}
