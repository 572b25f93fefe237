/* SPDX-License-Identifier: MIT */
/* hash: SHA-256 digests and their short hex fingerprints for logs. */
#include <openssl/evp.h>
#include <openssl/sha.h>

#include "util/hash.h"

/* Fetched once: SHA256() looks the algorithm up in the provider store on every call, a third
 * of the cost of hashing a 650-byte token. The context is reused (its block buffer is
 * cleansed by the final step, so no token bytes stay in it). The daemon is single-threaded. */
static EVP_MD *sha256_md;
static EVP_MD_CTX *sha256_ctx;

void hash_sha256(const void *data, size_t len, uint8_t out[static HASH_SHA256_LEN])
{
	if (!sha256_md)
		sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL);
	if (!sha256_ctx)
		sha256_ctx = EVP_MD_CTX_new();
	if (sha256_md && sha256_ctx && EVP_DigestInit_ex2(sha256_ctx, sha256_md, NULL) == 1 &&
	    EVP_DigestUpdate(sha256_ctx, data, len) == 1 &&
	    EVP_DigestFinal_ex(sha256_ctx, out, NULL) == 1)
		return;
	SHA256(data, len, out); /* out of memory: the slow way cannot fail */
}

void hash_done(void)
{
	EVP_MD_CTX_free(sha256_ctx);
	sha256_ctx = NULL;
	EVP_MD_free(sha256_md);
	sha256_md = NULL;
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
