/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tokens/credentials.h"
#include "tokens/identity.h"
#include "tokens/tokencache.h"
#include "upstream/upstream.h"

/*
 * The exchange of a validated subject token for a user-scoped Skyflow token (DESIGN.md
 * "Exchange modes").
 *
 * sts: POST {grant_type token-exchange, subject_token, subject_token_type jwt,
 *      service_account_id} as JSON to sts_url; the answer is camelCase {accessToken,
 *      issuedTokenType, tokenType}.
 * ctx: sign an RS256 service-account assertion (iss = sub = clientID, key = keyID, aud =
 *      tokenURI, exp = now + 3600, ctx = the context claims of the subject token plus its
 *      validated sub, never empty) with the
 *      credentials' key, and POST {grant_type jwt-bearer, assertion} to tokenURI. The
 *      assertion is signed with OpenSSL directly (EVP_DigestSign) rather than libjwt 1.10:
 *      the key then never exists as PEM text in memory, and the ctx object goes in as JSON.
 *
 * Expiry: the returned token's own exp (read from its payload without verification: it is
 * the issuer's token and we only need its lifetime), else now + 300 s (sts) / 3600 s (ctx),
 * always capped by the subject token's exp.
 *
 * Errors: 401/403 and other 4xx -> -EPERM (upstream_denied); 408 and timeouts -> -ETIMEDOUT;
 * 429 -> -EUSERS (rate_limited); 5xx, connection failures, malformed or oversized bodies ->
 * -EIO (upstream_unavailable). The one retry for 5xx and connection errors happens in
 * upstream (token calls are idempotent). The error message comes from Skyflow's error body
 * in any of its shapes, with anything that looks like a token redacted.
 */

enum exchange_mode {
	EXCHANGE_STS,
	EXCHANGE_CTX,
};

#define EXCHANGE_GRANT_TOKEN_EXCHANGE "urn:ietf:params:oauth:grant-type:token-exchange"
#define EXCHANGE_GRANT_JWT_BEARER "urn:ietf:params:oauth:grant-type:jwt-bearer"
#define EXCHANGE_TOKEN_TYPE_JWT "urn:ietf:params:oauth:token-type:jwt"
#define EXCHANGE_TOKEN_TYPE_ACCESS "urn:ietf:params:oauth:token-type:access_token"
#define EXCHANGE_MAX_TOKEN (64u * 1024u)
#define EXCHANGE_ASSERTION_TTL 3600u
#define EXCHANGE_STS_FALLBACK_TTL 300u

struct exchange_config {
	enum exchange_mode mode;
	const char *sts_url;            /* sts */
	const char *service_account_id; /* sts; may be NULL */
	const char *token_url;          /* ctx; NULL: the credentials' tokenURI */
	const struct credentials *creds; /* ctx; borrowed for the duration of each request */
	struct upstream_opts http;
	const char *tenant;             /* for logs */
};

struct exchange_request;

/*
 * Completion: r == 0 with tok (borrowed for the call) or r < 0 with err. Called once, from
 * the event loop, unless cancelled; the request is freed afterwards.
 */
typedef void (*exchange_done_t)(struct exchange_request *x, int r, struct skyflow_token *tok,
				const struct error_detail *err, void *userdata);

/*
 * Starts an exchange for a subject token that identity_validate accepted (claims is
 * referenced until completion; subject_token is copied and wiped). cfg is only read during
 * this call, except cfg->creds which must stay valid until completion or cancel.
 * now is wall-clock seconds. Returns 0 or -EINVAL/-ENOMEM/-EPROTONOSUPPORT, or -EACCES in
 * ctx mode when claims->context is empty (no assertion without user context is ever sent;
 * the validated sub is always added to ctx).
 */
int exchange_start(struct upstream *u, const struct exchange_config *cfg,
		   const char *subject_token, size_t subject_len,
		   struct identity_claims *claims, int64_t now, exchange_done_t done,
		   void *userdata, struct exchange_request **ret);

/* Drops an exchange before completion: no callback. NULL is fine. */
void exchange_cancel(struct exchange_request *x);

/*
 * Builds the ctx-mode assertion (exposed for tests). *ret is a NUL-terminated JWT the caller
 * must wipe and free. Returns 0, -EINVAL, -ENOMEM, -EIO (signing failed).
 */
int exchange_sign_assertion(const struct credentials *creds, const char *audience, json_t *ctx,
			    int64_t now, char **ret);

/* Maps an HTTP status of a token endpoint to a negative errno (0 for 200/201). */
int exchange_errno_from_status(long status);

/* ctx mode: into buf (size bytes, truncated), the message refusing a token that carries none
 * of the n context claims (claims borrowed for the call). */
void exchange_ctx_missing_message(char *buf, size_t size, const char *const *claims, size_t n);

/*
 * Extracts a human message from an upstream error body in any of Skyflow's shapes
 * ({"error":{"message"}}, {"error":"...","error_description"}, {"code","message"},
 * {"message"}, text/plain possibly holding JSON). Long base64url runs are redacted.
 */
void exchange_error_message(const char *body, size_t len, char *out, size_t out_len);

/*
 * Reads exp (and ctx into *ctx, a new reference or NULL) from a JWT's payload without
 * verifying it. Returns 0, -ENOENT (no exp), -EBADMSG.
 */
int exchange_peek_jwt(const char *jwt, size_t len, int64_t *exp, json_t **ctx);
