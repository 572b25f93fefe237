/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

/*
 * Open connections per peer uid, for max_connections_per_uid: a small hash of counters that
 * holds an entry only while its uid has a connection, so it is bounded by the connections.
 */

#define UIDCOUNT_BUCKETS 256

struct uidcount_entry;

struct uidcount {
	struct uidcount_entry *buckets[UIDCOUNT_BUCKETS];
};

/* Counts one more connection of uid unless it already has max; false when full (or out of
 * memory, which refuses the connection too). */
bool uidcount_take(struct uidcount *u, uid_t uid, uint64_t max);
/* One connection of uid closed. */
void uidcount_release(struct uidcount *u, uid_t uid);
/* Frees every entry. */
void uidcount_clear(struct uidcount *u);
