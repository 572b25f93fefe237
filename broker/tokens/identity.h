/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "tokens/jwks.h"
#include "util/cleanup.h"
#include "util/error.h"
#include "util/hash.h"

/*
 * Subject-token (Descope JWT) validation, done entirely by the broker: libjwt 1.10 takes the
 * algorithm from the token header, checks no claims and sizes stack buffers by the token
 * length (reference/descope-and-mcp.md §4), so it never sees a subject token. The signature is
 * verified with OpenSSL (EVP_DigestVerify) using the JWK's key, which is bound to exactly one
 * algorithm.
 *
 * Checks, in order, each failure with its own message:
 *  1. length cap (default 16 KiB), no NUL, exactly three non-empty base64url segments;
 *  2. header: bounded JSON object; alg exactly "RS256" or "ES256" (case-sensitive; "none",
 *     "HS256", "rs256" are refused before anything else); typ, if present, "JWT" (any case;
 *     "at+jwt" only when allow_at_jwt is set: Descope session tokens carry "JWT", and RFC 9068
 *     access tokens would say "at+jwt"); no "crit";
 *  3. kid present and in the key set (else -ENOKEY: the caller may refetch the set once and
 *     retry), and the key's algorithm equals alg;
 *  4. signature (ES256: raw r||s converted to DER);
 *  5. payload: bounded JSON object (jansson rejects invalid UTF-8 and we reject duplicates);
 *  6. iss in the configured project's issuer family, exact: P, <base>/P, <base>/v1/apps/P,
 *     <base>/v1/apps/agentic/P/<id> (one [A-Za-z0-9_-] segment); nothing else, no prefixes;
 *  7. aud, when audiences are configured: a string or array sharing one value with them;
 *  8. exp required, the token is expired at exp + leeway; nbf and iat, when present, must not
 *     be later than now + leeway; leeway 5 s;
 *  9. drn is not "DSR" (a Descope refresh token);
 * 10. sub a non-empty string.
 * Errors: -EMSGSIZE (too_large: longer than max_token_len), -EKEYREJECTED (unauthenticated),
 * -EKEYEXPIRED (token_expired, also "not yet valid"),
 * -ENOKEY (unknown kid, caller decides), -EAGAIN (no key set loaded yet), -ENOMEM.
 *
 * A verified token is remembered by its SHA-256 until it expires (bounded LRU), so repeated
 * requests skip the signature check; a remembered token whose kid left the key set is
 * checked again.
 */

#define IDENTITY_DEFAULT_MAX_TOKEN 16384u
#define IDENTITY_DEFAULT_LEEWAY 5u
#define IDENTITY_DEFAULT_CACHE 4096u
#define IDENTITY_DEFAULT_BASE_URL "https://api.descope.com"
#define IDENTITY_MAX_SUB 256u
#define IDENTITY_MAX_CLAIMS 16u

struct identity_config {
	const char *project_id;         /* required */
	const char *base_url;           /* NULL: https://api.descope.com; trailing '/' ignored */
	const char *issuer;             /* non-NULL: accept exactly this iss instead of the family */
	const char *const *audiences;   /* accepted aud values; none configured: aud not checked */
	size_t n_audiences;
	const char *const *context_claims; /* claims copied into the result's context */
	size_t n_context_claims;
	size_t max_token_len;           /* 0: 16 KiB */
	uint32_t leeway_sec;            /* 0: 5 */
	size_t cache_size;              /* 0: 4096 */
	bool allow_at_jwt;              /* accept typ "at+jwt" too */
};

/* What a validated token says; reference-counted (util/ref.h), immutable. */
struct identity_claims {
	unsigned n_ref;
	uint8_t hash[HASH_SHA256_LEN]; /* SHA-256 of the token text */
	char *sub;
	int64_t exp;
	char kid[JWKS_MAX_KID + 1];
	enum jwk_alg alg;
	json_t *context;   /* object of the configured context claims present in the token */
};

struct identity_claims *identity_claims_ref(struct identity_claims *c);
/* Drops a reference; frees at zero. NULL is fine. Returns NULL. */
struct identity_claims *identity_claims_unref(struct identity_claims *c);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct identity_claims *, identity_claims_unref)

struct identity;

/* Copies the configuration. Returns 0, -EINVAL (no project id, or a context claim name that is
 * not [A-Za-z0-9_]+, which Skyflow requires of ctx keys), -ENOMEM. */
int identity_new(const struct identity_config *cfg, struct identity **ret);
struct identity *identity_free(struct identity *id);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct identity *, identity_free)

/*
 * Validates len bytes of token against keys (borrowed; NULL when none loaded) at wall-clock
 * time now (seconds). On success *ret is a new reference. err (may be NULL) receives the
 * reason of a failure: r and a short sentence without any token content but the kid (no
 * upstream part). unknown_kid (may be NULL; JWKS_MAX_KID + 1 bytes) receives the token's kid
 * on -ENOKEY, for jwks_source_refetch_for_kid(), and "" otherwise.
 * Returns 0 or a negative errno listed above.
 */
int identity_validate(struct identity *id, const struct jwks *keys, const char *token,
		      size_t len, int64_t now, struct identity_claims **ret,
		      struct error_detail *err, char *unknown_kid);

/* identity_validate with the token's hash (identity_token_hash of token, len) already
 * computed by the caller, which keys its own caches with it: the token is hashed once. */
int identity_validate_hashed(struct identity *id, const struct jwks *keys, const char *token,
			     size_t len, const uint8_t hash[static HASH_SHA256_LEN], int64_t now,
			     struct identity_claims **ret, struct error_detail *err,
			     char *unknown_kid);

/* SHA-256 of a token, the key of every per-token cache. */
void identity_token_hash(const char *token, size_t len, uint8_t out[static HASH_SHA256_LEN]);

/* Verified-token cache size, and hits since creation (for stats and tests). */
size_t identity_cache_size(const struct identity *id);
uint64_t identity_cache_hits(const struct identity *id);
