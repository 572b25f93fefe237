/* SPDX-License-Identifier: MIT */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <msgpack.h>
#include <jansson.h>
#include <systemd/sd-event.h>

#include "tokens/identity.h"
#include "upstream/upstream.h"
#include "util/hash.h"
#include "tokens/tokencache.h"

/*
 * The token service: per-tenant identity (Descope JWKS + validation), credentials, token cache
 * and exchange, wired into the daemon through the runtime's seams (tenant hooks, dispatch).
 *
 *  - tokensvc_module_init() registers the tenant hooks and the `exchange` operation; call it
 *    once before tenants are built (modules.h).
 *  - Per tenant (attach): a JWKS source started at once (the tenant is not ready, reason
 *    "jwks", until a set is loaded), credentials loaded and parsed (reason "credentials" if
 *    they fail; required in ctx mode), an identity validator and a token cache.
 *  - tokensvc_acquire() is the one path from a subject token to a Skyflow token, for the
 *    `exchange` operation and for the vault operations: negative cache, validation (an
 *    unknown kid waits for one rate-limited JWKS refetch), token cache, single-flight
 *    exchange. Nothing goes upstream before the token is validated.
 */

struct tenant;
struct tokensvc_acq;

/* Result for a tokensvc_acquire caller: r == 0 with tok and claims (both borrowed for the
 * call; take references to keep them), or r < 0 with err (message, upstream status and
 * request id). The acquisition is freed after the call. */
typedef void (*tokensvc_done_t)(struct tokensvc_acq *a, int r, struct skyflow_token *tok,
				struct identity_claims *claims, const struct error_detail *err,
				void *userdata);

/* Registers the tenant hooks and the `exchange` handler (once; later calls do nothing).
 * Must run before tenants are built. Returns 0 or -errno (logged). */
int tokensvc_module_init(sd_event *event, struct upstream *upstream /* borrowed until done */);
/* Undoes init (at exit, after the daemon freed the tenants). */
void tokensvc_module_done(void);

/*
 * Starts getting a Skyflow token for subject_token (copied, wiped) on behalf of tenant t
 * (borrowed; must outlive the acquisition, which a request's tenant reference ensures).
 * done may be called before this returns (cache hit, rejection). Returns 0 (done will be or
 * was called) or -errno without calling done. *ret (may be NULL) is set only while the
 * acquisition is pending, for tokensvc_acquire_cancel; it is reset to NULL if done already ran.
 */
int tokensvc_acquire(struct tenant *t, const char *subject_token, size_t len,
		     tokensvc_done_t done, void *userdata, struct tokensvc_acq **ret);

/* Drops a pending acquisition: no callback. The shared exchange, if any, goes on. */
void tokensvc_acquire_cancel(struct tokensvc_acq *a);

/* The subject token's fingerprint (as the audit line shows it) of a running acquisition, or of
 * the one a tokensvc_done_t call reports. Returns out. */
const char *tokensvc_acq_fingerprint(const struct tokensvc_acq *a,
				     char out[static HASH_FINGERPRINT_LEN + 1]);

/* Whether the token a tokensvc_done_t call reports came from the cache (false: a fresh
 * exchange, this acquisition's or one it joined). */
bool tokensvc_acq_cache_hit(const struct tokensvc_acq *a);

/* The upstream options of tenant tc's requests: CA, plain HTTP, timeouts (strings borrowed
 * from tc). */
struct tenant_config;
struct upstream_opts tokensvc_http_opts(const struct tenant_config *tc);

/*
 * Drops tok from t's token cache if it is still what subject_token maps to (the vault answered
 * 401 with it): the next tokensvc_acquire for that subject exchanges again. Returns whether
 * it was dropped (false: already replaced, expired or never cached).
 */
bool tokensvc_drop_token(struct tenant *t, const char *subject_token, size_t len,
			 const struct skyflow_token *tok);

/*
 * Converts a JSON value into a msgpack object allocated in zone (strings copied). Depth is
 * capped at 16. Returns 0, -ENOMEM, -EMSGSIZE.
 */
int tokensvc_json_to_msgpack(json_t *j, msgpack_zone *zone, msgpack_object *out);

/*
 * Makes tok->result the `exchange` result map for tok (expires_at, token types, context; the
 * token's text only when expose, trust model 2), encoded at its first reply and kept on the
 * token; rebuilt when expose differs from the kept one (a reload changed expose_tokens).
 * 0 or -ENOMEM.
 */
int tokensvc_result_encode(struct skyflow_token *tok, bool expose);

/* Why a subject token was refused locally (the counters' index). */
enum tokensvc_reject {
	TOKENSVC_REJECT_NEGATIVE_CACHE, /* refused before, remembered */
	TOKENSVC_REJECT_UNKNOWN_KID,
	TOKENSVC_REJECT_EXPIRED,
	TOKENSVC_REJECT_INVALID,        /* any other validation failure */
	TOKENSVC_REJECT_NO_CONTEXT,     /* ctx mode: none of the context claims */
	_TOKENSVC_REJECT_MAX,
};
const char *tokensvc_reject_name(enum tokensvc_reject why);

/* Counters of a tenant's token service, for stats and tests (all zero if none attached). */
struct tokensvc_counters {
	uint64_t jwks_fetches;
	uint64_t exchanges;       /* exchanges started upstream */
	uint64_t rejected;        /* subject tokens refused locally */
	uint64_t rejected_by[_TOKENSVC_REJECT_MAX];
	size_t jwks_keys;         /* keys in the current set (0: none loaded) */
	uint64_t jwks_loaded_usec; /* CLOCK_MONOTONIC when it was loaded; 0: none */
	struct tokencache_counters cache;
};
void tokensvc_get_counters(const struct tenant *t, struct tokensvc_counters *ret);
