/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * A bounded map from 32-byte keys (SHA-256 digests) to owned values, with least-recently-used
 * eviction. The caches of identity (verified tokens), tokencache (Skyflow tokens, flights,
 * rejections) use it. Keys are digests an attacker cannot choose, so a plain hash of the first
 * bytes spreads them evenly.
 *
 * Values are owned by the map once inserted: the free function given at creation is called
 * when an entry is removed, replaced or evicted, and when the map is freed.
 */

#define SHAMAP_KEY_SIZE 32u

typedef void (*shamap_free_t)(void *value);

struct shamap;

/* Creates a map holding at most max_entries (>= 1). Returns 0 or -ENOMEM/-EINVAL. */
int shamap_new(size_t max_entries, shamap_free_t free_value, struct shamap **ret);

/* Frees every value and the map. NULL is fine. Returns NULL. */
struct shamap *shamap_free(struct shamap *m);

/* Value for key (borrowed until the entry is removed), marking it most recently used; or NULL. */
void *shamap_get(struct shamap *m, const uint8_t key[static SHAMAP_KEY_SIZE]);

/* Like shamap_get without touching the LRU order. */
void *shamap_peek(const struct shamap *m, const uint8_t key[static SHAMAP_KEY_SIZE]);

/*
 * Inserts or replaces (the old value is freed) the value of key, as most recently used; evicts
 * the least recently used entry when full. Takes ownership of value even on failure.
 * evictable, when non-NULL, is asked before an entry is evicted; an entry it refuses is kept
 * (e.g. an in-flight exchange), and if nothing can be evicted the insert fails with -ENOSPC.
 * Returns 0, -ENOMEM, -ENOSPC.
 */
int shamap_put(struct shamap *m, const uint8_t key[static SHAMAP_KEY_SIZE], void *value,
	       bool (*evictable)(const void *value));

/* Removes key; frees its value if free_it, else returns it (transferred to the caller). */
void *shamap_remove(struct shamap *m, const uint8_t key[static SHAMAP_KEY_SIZE], bool free_it);

size_t shamap_size(const struct shamap *m);

/* Entries evicted to make room (not removals or replacements) since creation. */
uint64_t shamap_evictions(const struct shamap *m);

/* Calls fn for every entry, oldest first (key and value borrowed; fn must not modify m). */
void shamap_foreach(const struct shamap *m,
		    void (*fn)(const uint8_t *key, void *value, void *userdata), void *userdata);

/*
 * Calls fn for every entry, oldest first; when fn returns true the entry is removed and its
 * value freed. Used to purge expired entries.
 */
void shamap_sweep(struct shamap *m, bool (*fn)(void *value, void *userdata), void *userdata);
