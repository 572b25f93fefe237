/* keys: RSA-2048 signing keys, their JWK form, and RS256 JWT signing and verification.
 * Signing and verification go through libjwt 1.10.2, guarded against its pitfalls: we cap the
 * token length, require exactly three non-empty segments, parse the header ourselves and
 * accept only alg "RS256" (exact case) and typ "JWT" when present, and check jwt_get_alg()
 * again after decoding. libjwt checks no claims; callers check every claim they rely on. */
#pragma once

#include <jansson.h>
#include <openssl/evp.h>

struct emu_key {
	char kid[64];
	EVP_PKEY *pkey;
	char *priv_pem; /* PKCS#8 "BEGIN PRIVATE KEY"; secret, wiped on free */
	char *pub_pem;  /* SubjectPublicKeyInfo "BEGIN PUBLIC KEY" */
	char *n_b64;    /* JWK modulus, base64url */
	char *e_b64;    /* JWK exponent, base64url */
};

/* Generates an RSA-2048 key; kid copied (may be ""). *ret owned by caller (key_free). */
int key_generate(const char *kid, struct emu_key **ret);
/* Loads a private key PEM (PKCS#8 or PKCS#1, RSA only). */
int key_from_pem(const char *pem, const char *kid, struct emu_key **ret);
void key_free(struct emu_key *k);
/* A JWK object {kty, kid, alg, use, n, e}; new reference. */
json_t *key_jwk(const struct emu_key *k);

/* Signs claims (borrowed) with RS256. The header is {"alg":"RS256","typ":"JWT"} plus "kid"
 * when with_kid. *ret malloc'd, caller frees. Returns 0 or -errno. */
int jwt_sign_rs256(const struct emu_key *k, int with_kid, json_t *claims, char **ret);

/* Parses a JWT without verifying it: bounded length, exactly three non-empty segments,
 * header and payload JSON objects. *header and *payload are new references (either may be
 * NULL if not wanted). Returns 0, -EMSGSIZE, -EBADMSG. */
int jwt_peek(const char *token, json_t **header, json_t **payload);

/* Verifies an RS256 JWT against key (borrowed) and returns its claims (new reference).
 * Rejects any alg but exact "RS256", any typ but "JWT". Returns 0, -EBADMSG (malformed),
 * -EKEYREJECTED (bad signature or algorithm). No claim is checked here. */
int jwt_verify_rs256(const char *token, const struct emu_key *k, json_t **claims);
