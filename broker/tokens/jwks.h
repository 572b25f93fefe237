/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>
#include <systemd/sd-event.h>

#include "upstream/upstream.h"
#include "util/error.h"
#include "util/cleanup.h"

/*
 * JSON Web Key Sets (RFC 7517) of a Descope project, and their fetching.
 *
 * Parsing: a JWKS text is bounded (size, depth, number of keys), every key is checked, and only
 * signature keys we can use become OpenSSL public keys (EVP_PKEY_fromdata): RSA (n, e; at
 * least 2048 bits) bound to RS256, EC P-256 (crv, x, y; point checked on the curve) bound to
 * ES256. `use` other than "sig" and an `alg` that does not fit the key type skip the key (RFC
 * 8725 §3.1: each key is used with exactly one algorithm). A key without `alg` gets the one
 * algorithm of its type. Unusable keys are skipped and counted; a set with no usable key or
 * with a malformed structure is refused. A duplicate kid refuses the set: lookup by kid must
 * be unambiguous.
 */

#define JWKS_MAX_TEXT (256u * 1024u)
#define JWKS_MAX_KEYS 64u
#define JWKS_MAX_KID 256u

enum jwk_alg {
	JWK_ALG_RS256,
	JWK_ALG_ES256,
};

/* "RS256" / "ES256". */
const char *jwk_alg_name(enum jwk_alg alg);

struct jwk {
	char *kid;         /* owned */
	enum jwk_alg alg;  /* the only algorithm this key verifies */
	EVP_PKEY *pkey;    /* owned public key */
};

/*
 * Whether sig is key's signature of input[0..input_len) under the key's one algorithm (SHA-256;
 * an ES256 signature is the JWS form, raw r||s, RFC 7518 §3.4). Returns 0, -EKEYREJECTED
 * (does not verify, malformed), -ENOMEM. Leaves OpenSSL's error queue empty.
 */
int jwk_verify(const struct jwk *key, const void *input, size_t input_len, const uint8_t *sig,
	       size_t sig_len);

/* An immutable, reference-counted key set (util/ref.h): validations hold a reference while
 * they run. */
struct jwks {
	unsigned n_ref;
	size_t n_keys;
	size_t n_skipped; /* keys in the text that were not usable */
	uint64_t loaded_usec; /* CLOCK_MONOTONIC when a source loaded it (0: not by a source) */
	struct jwk keys[];
};

/*
 * Parses a JWKS. *ret gets a new set with one reference. On failure, err (may be NULL) gets
 * a short reason without key material. Returns 0, -EBADMSG, -EMSGSIZE, -ENOMEM.
 */
int jwks_parse(const void *text, size_t len, struct jwks **ret, struct error_detail *err);

struct jwks *jwks_ref(struct jwks *s);
/* Drops a reference; frees at zero. NULL is fine. Returns NULL. */
struct jwks *jwks_unref(struct jwks *s);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct jwks *, jwks_unref)

/* Key with exactly this kid (borrowed from s), or NULL. */
const struct jwk *jwks_find(const struct jwks *s, const char *kid);

/* ---- per-tenant fetching ---- */

#define JWKS_DEFAULT_REFRESH_SEC 600u
#define JWKS_DEFAULT_MIN_REFETCH_SEC 30u
#define JWKS_DEFAULT_RETRY_SEC 5u

struct jwks_source_config {
	const char *url;           /* copied */
	const char *name;          /* tenant name for logs; copied */
	uint32_t refresh_sec;      /* periodic refresh (0: 600) */
	uint32_t min_refetch_sec;  /* least time between unknown-kid refetches (0: 30) */
	uint32_t retry_sec;        /* retry delay while no set was ever loaded (0: 5) */
	struct upstream_opts http; /* strings copied */
};

struct jwks_source;
struct jwks_wait;

/* Called when keys were (re)loaded or a fetch failed; ready says whether a set is held. */
typedef void (*jwks_source_changed_t)(struct jwks_source *src, bool ready, void *userdata);

/* Called once when the fetch a waiter joined finishes (found: whether the set now holds kid). */
typedef void (*jwks_wait_done_t)(struct jwks_wait *w, bool found, void *userdata);

/*
 * Creates a source (no fetch yet). e and u are borrowed and must outlive it; changed may be
 * NULL. Returns 0, -EINVAL, -ENOMEM.
 */
int jwks_source_new(sd_event *e, struct upstream *u, const struct jwks_source_config *cfg,
		    jwks_source_changed_t changed, void *userdata, struct jwks_source **ret);

/* Cancels fetches, timers and waiters (no callbacks). NULL is fine. Returns NULL. */
struct jwks_source *jwks_source_free(struct jwks_source *src);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct jwks_source *, jwks_source_free)

/*
 * Gives a source a key set before its first fetch (a reference is taken): the set the same URL
 * served to the previous configuration, so that a reload does not make the tenant unready
 * while the new source fetches. The fetch still happens and replaces it.
 */
void jwks_source_seed(struct jwks_source *src, struct jwks *set);

/* The URL fetched (borrowed). */
const char *jwks_source_url(const struct jwks_source *src);

/* Starts the first fetch and the refresh cycle. Returns 0 or -errno. */
int jwks_source_start(struct jwks_source *src);

/* The current set (borrowed; take a jwks_ref to keep it past the next loop turn) or NULL. */
struct jwks *jwks_source_keys(const struct jwks_source *src);

/* Whether a set has been loaded. */
bool jwks_source_ready(const struct jwks_source *src);

/* One line saying why the source is not ready (or "ok"); borrowed until the next change. */
const char *jwks_source_status(const struct jwks_source *src);

/*
 * A token named a kid the set does not hold. Refetches the set unless the last unknown-kid
 * refetch began less than min_refetch_sec ago; a fetch already running is joined instead.
 * Returns 1 when *ret waits for a fetch (done is called later, once); -EAGAIN when rate
 * limited (no fetch, no callback); -ENOMEM. *ret is borrowed until done or jwks_wait_cancel.
 */
int jwks_source_refetch_for_kid(struct jwks_source *src, const char *kid, jwks_wait_done_t done,
				void *userdata, struct jwks_wait **ret);

/* Drops a waiter before its callback. NULL is fine. */
void jwks_wait_cancel(struct jwks_wait *w);

/* Number of HTTP fetches begun (periodic, initial and unknown-kid ones). */
uint64_t jwks_source_fetches(const struct jwks_source *src);
