/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "proto/errors.h"
#include "proto/message.h"

/*
 * Process-wide counters for the admin `stats` operation. Single-threaded: plain integers.
 * The token cache (another module) updates struct stats_cache through stats_cache().
 */

enum stats_conn_event {
	STATS_CONN_ACCEPTED,
	STATS_CONN_REFUSED_ADMISSION,
	STATS_CONN_REFUSED_LIMIT,
	STATS_CONN_CLOSED_HELLO_TIMEOUT,
	STATS_CONN_CLOSED_IDLE_TIMEOUT,
	STATS_CONN_CLOSED_PROTOCOL_ERROR,
	STATS_CONN_CLOSED_REVOKED, /* no longer admitted after a reload */
	STATS_CONN_REFUSED_UID_LIMIT, /* max_connections_per_uid (REFUSED_LIMIT: max_connections) */
	STATS_CONN_REFUSED_NO_FDS,    /* out of descriptors */
	_STATS_CONN_EVENT_MAX,
};

struct stats_cache {
	uint64_t hits;
	uint64_t misses;
	uint64_t entries;
	uint64_t evictions;
	uint64_t coalesced;       /* requests that waited on another's upstream exchange */
	uint64_t upstream_exchanges;
};

void stats_init(uint64_t start_usec);
void stats_conn_event(enum stats_conn_event ev);
void stats_conn_current(int delta);
/* A request answered: ok, or failed with code; latency from decode to reply. */
void stats_request(enum sb_op op, bool ok, enum sb_errcode code, uint64_t latency_usec);
struct stats_cache *stats_cache(void);
uint64_t stats_get_conn_event(enum stats_conn_event ev);
/* "accepted", "refused_admission", ... (the stats op's keys). */
const char *stats_conn_event_name(enum stats_conn_event ev);
/* Connections open now (tenant and admin). */
uint64_t stats_get_conn_current(void);
uint64_t stats_get_requests(enum sb_op op, bool ok);

/*
 * Fills the stats result of rep (rep->op must be SB_OP_STATS) with objects allocated in a new
 * zone returned in *zone (caller frees with msgpack_zone_free after encoding). 0 or -ENOMEM.
 */
int stats_build(struct sb_reply *rep, uint64_t now_usec, msgpack_zone **zone);
