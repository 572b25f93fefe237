/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "util/cleanup.h"
#include "util/error.h"

/*
 * Per-tenant cache of Skyflow tokens, keyed by the SHA-256 of the subject token, with
 * single-flight exchanges and a short negative cache.
 *
 * - Bounded LRU of tokens. An entry is served until expires_at - margin (default 30 s), where
 *   expires_at is already min(Skyflow exp, subject exp); never past that instant.
 * - Single flight: the first request for a key that misses becomes the leader of a flight
 *   (it must run the exchange and complete the flight); requests for the same key that
 *   arrive meanwhile join as waiters. All of them get the leader's result or its error.
 *   A flight's entry is never evicted while it runs.
 * - Negative cache: a rejected subject token (validation failure, or upstream 401/403) is
 *   remembered for a short time (default 10 s) in a bounded LRU, so a replayed bad token
 *   costs a hash lookup.
 * - Tokens are reference-counted; the access token text is wiped when the last reference goes.
 *
 * Time is wall-clock seconds passed by the caller (JWT exp values are wall-clock).
 */

#define TOKENCACHE_DEFAULT_SIZE 10000u
#define TOKENCACHE_DEFAULT_MARGIN 30u
#define TOKENCACHE_DEFAULT_NEGATIVE_SIZE 1024u
#define TOKENCACHE_DEFAULT_NEGATIVE_TTL 10u
#define TOKENCACHE_MAX_REQUEST_ID 128u

/* A Skyflow token, immutable once built; reference-counted (util/ref.h). */
struct skyflow_token {
	unsigned n_ref;
	char *access_token;      /* owned, wiped on free; a secret */
	char *token_type;        /* "Bearer" */
	char *issued_token_type; /* STS only; may be NULL */
	int64_t expires_at;      /* wall-clock seconds, min(token exp, subject exp) */
	char *context_json;      /* the context the token carries: compact JSON text, or NULL.
				  * Text, not a jansson tree: a cached entry costs ~600 B less */
	char request_id[TOKENCACHE_MAX_REQUEST_ID + 1];
	/* The `exchange` result map for this token, encoded at its first reply and sent as is
	 * to every later one (tokensvc); holds access_token when result_exposed. Wiped and
	 * freed with the token. */
	uint8_t *result;
	size_t result_len;
	bool result_exposed;
};

/* Creates a token with one reference; takes copies of the strings (access_token is wiped
 * when the last reference goes). NULL on ENOMEM. */
struct skyflow_token *skyflow_token_new(const char *access_token, const char *token_type,
					const char *issued_token_type, int64_t expires_at);
struct skyflow_token *skyflow_token_ref(struct skyflow_token *t);
/* Drops a reference; wipes and frees at zero. NULL is fine. Returns NULL. */
struct skyflow_token *skyflow_token_unref(struct skyflow_token *t);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct skyflow_token *, skyflow_token_unref)

/* Errors shared by all waiters of a flight, or remembered by the negative cache, are a
 * struct error_detail (util/error.h): r, message (never a token), upstream status and id. */

struct tokencache_config {
	size_t max_entries;      /* 0: 10000 */
	uint32_t margin_sec;     /* 0: 30 */
	size_t max_negative;     /* 0: 1024 */
	uint32_t negative_ttl_sec; /* 0: 10 */
};

struct tokencache;
struct tokencache_flight;
struct tokencache_waiter;

/*
 * Result delivery to a waiter (and to the leader, which is a waiter too). tok is borrowed for
 * the call (take a reference to keep it) and NULL when r < 0; err is NULL when r == 0.
 * After the call the waiter is freed. The callback may acquire and cancel other waiters.
 */
typedef void (*tokencache_done_t)(struct tokencache_waiter *w, int r, struct skyflow_token *tok,
				  const struct error_detail *err, void *userdata);

/* Called when a running flight is abandoned (tokencache_free): stop the exchange. */
typedef void (*tokencache_abort_t)(struct tokencache_flight *f, void *userdata);

/* cfg may be NULL (defaults). Returns 0 or -ENOMEM. */
int tokencache_new(const struct tokencache_config *cfg, struct tokencache **ret);

/* Aborts running flights (their abort hooks run, waiters get no callback) and frees. */
struct tokencache *tokencache_free(struct tokencache *tc);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct tokencache *, tokencache_free)

enum tokencache_outcome {
	TOKENCACHE_HIT = 0,   /* *ret_token is a new reference; no callback will come */
	TOKENCACHE_WAIT = 1,  /* joined a running flight; done will be called */
	TOKENCACHE_LEAD = 2,  /* a new flight: start the exchange, then tokencache_complete */
};

/*
 * Looks key up at time now. On TOKENCACHE_WAIT and TOKENCACHE_LEAD, *ret_waiter is the
 * caller's waiter (borrowed until done or tokencache_waiter_cancel); on TOKENCACHE_LEAD,
 * *ret_flight is the new flight (borrowed until tokencache_complete).
 * A remembered rejection returns its negative errno and copies it to *neg (may be NULL).
 * Returns an outcome >= 0, the rejection, or -ENOMEM / -ENOSPC (every entry is a flight).
 */
int tokencache_acquire(struct tokencache *tc, const uint8_t key[static 32], int64_t now,
		       tokencache_done_t done, void *userdata, struct skyflow_token **ret_token,
		       struct tokencache_waiter **ret_waiter, struct tokencache_flight **ret_flight,
		       struct error_detail *neg);

/* Sets the abort hook of a flight (the leader's exchange). userdata is borrowed. */
void tokencache_flight_set_abort(struct tokencache_flight *f, tokencache_abort_t abort_cb,
				 void *userdata);

/*
 * Completes a flight: on r == 0 tok (a reference is taken; caller keeps its own) is cached
 * until expires_at - margin and given to every waiter; on r < 0 every waiter gets err, and
 * -EKEYREJECTED / -EKEYEXPIRED / -EPERM results are remembered in the negative cache.
 * The flight is freed.
 */
void tokencache_complete(struct tokencache *tc, struct tokencache_flight *f, int r,
			 struct skyflow_token *tok, const struct error_detail *err, int64_t now);

/* Removes a waiter before its callback (its connection went away). The flight goes on. */
void tokencache_waiter_cancel(struct tokencache_waiter *w);

/*
 * Whether key is a remembered rejection at time now: returns its negative errno (copied to
 * *neg when non-NULL) or 0. Lets a caller skip validating a token it just refused.
 */
int tokencache_rejected(struct tokencache *tc, const uint8_t key[static 32], int64_t now,
			struct error_detail *neg);

/* Remembers a rejected subject token (validation failed before any flight). */
void tokencache_reject(struct tokencache *tc, const uint8_t key[static 32],
		       const struct error_detail *err, int64_t now);

/*
 * Copies the tokens src holds and may still serve at now into dst (references taken; flights
 * and rejections are not copied), oldest first so that dst keeps the recency order. For a
 * reload whose exchange settings did not change. Returns how many were copied.
 */
size_t tokencache_adopt(struct tokencache *dst, const struct tokencache *src, int64_t now);

/*
 * Forgets the token cached under key if it is still tok (upstream refused it although it had
 * not expired, e.g. revoked): the next acquire exchanges again. A newer token, or a flight
 * already running for key, is left alone. Returns whether an entry was dropped.
 */
bool tokencache_drop(struct tokencache *tc, const uint8_t key[static 32],
		     const struct skyflow_token *tok);

/* Drops expired tokens and rejections. */
void tokencache_sweep(struct tokencache *tc, int64_t now);

struct tokencache_counters {
	uint64_t hits, misses, joins, flights, negative_hits, stored, expired, evicted;
	size_t entries, negative_entries;
};
void tokencache_get_counters(const struct tokencache *tc, struct tokencache_counters *ret);
