/* SPDX-License-Identifier: MIT */
/* stats: process-wide counters and the latency histogram of the admin `stats` op. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "runtime/stats.h"

static const uint64_t bucket_le[] = {100,    250,    500,    1000,    2500,    5000,
				     10000,  25000,  50000,  100000,  250000,  500000,
				     1000000, 2500000, 5000000, 10000000};
#define N_BUCKETS (sizeof(bucket_le) / sizeof(bucket_le[0]) + 1) /* + inf */

static const char *const conn_event_names[] = {
	[STATS_CONN_ACCEPTED] = "accepted",
	[STATS_CONN_REFUSED_ADMISSION] = "refused_admission",
	[STATS_CONN_REFUSED_LIMIT] = "refused_limit",
	[STATS_CONN_CLOSED_HELLO_TIMEOUT] = "closed_hello_timeout",
	[STATS_CONN_CLOSED_IDLE_TIMEOUT] = "closed_idle_timeout",
	[STATS_CONN_CLOSED_PROTOCOL_ERROR] = "closed_protocol_error",
	[STATS_CONN_CLOSED_REVOKED] = "closed_revoked",
	[STATS_CONN_REFUSED_UID_LIMIT] = "refused_uid_limit",
	[STATS_CONN_REFUSED_NO_FDS] = "refused_no_descriptors",
};

const char *stats_conn_event_name(enum stats_conn_event ev)
{
	return ev < _STATS_CONN_EVENT_MAX ? conn_event_names[ev] : "unknown";
}


static struct {
	uint64_t start_usec;
	uint64_t conn_events[_STATS_CONN_EVENT_MAX];
	int64_t conn_current;
	uint64_t ok[_SB_OP_MAX];
	uint64_t err[_SB_OP_MAX][_SB_ERR_MAX];
	uint64_t buckets[N_BUCKETS];
	uint64_t latency_sum;
	uint64_t latency_count;
	struct stats_cache cache;
} st;

uint64_t stats_get_conn_current(void)
{
	return st.conn_current > 0 ? (uint64_t)st.conn_current : 0;
}

void stats_init(uint64_t start_usec)
{
	memset(&st, 0, sizeof(st));
	st.start_usec = start_usec;
}

void stats_conn_event(enum stats_conn_event ev)
{
	if (ev < _STATS_CONN_EVENT_MAX)
		st.conn_events[ev]++;
}

void stats_conn_current(int delta)
{
	st.conn_current += delta;
}

void stats_request(enum sb_op op, bool ok, enum sb_errcode code, uint64_t latency_usec)
{
	size_t b = 0;

	if ((int)op >= 0 && op < _SB_OP_MAX) {
		if (ok)
			st.ok[op]++;
		else if ((int)code >= 0 && code < _SB_ERR_MAX)
			st.err[op][code]++;
	}
	while (b < N_BUCKETS - 1 && latency_usec > bucket_le[b])
		b++;
	st.buckets[b]++;
	st.latency_sum += latency_usec;
	st.latency_count++;
}

struct stats_cache *stats_cache(void)
{
	return &st.cache;
}

uint64_t stats_get_conn_event(enum stats_conn_event ev)
{
	return ev < _STATS_CONN_EVENT_MAX ? st.conn_events[ev] : 0;
}

uint64_t stats_get_requests(enum sb_op op, bool ok)
{
	uint64_t n = 0;

	if ((int)op < 0 || op >= _SB_OP_MAX)
		return 0;
	if (ok)
		return st.ok[op];
	for (int c = 0; c < _SB_ERR_MAX; c++)
		n += st.err[op][c];
	return n;
}

static void pack_str(msgpack_packer *pk, const char *s)
{
	size_t n = strlen(s);
	msgpack_pack_str(pk, n);
	msgpack_pack_str_body(pk, s, n);
}

static void pack_kv(msgpack_packer *pk, const char *k, uint64_t v)
{
	pack_str(pk, k);
	msgpack_pack_uint64(pk, v);
}

int stats_build(struct sb_reply *rep, uint64_t now_usec, msgpack_zone **zone)
{
	msgpack_sbuffer sb;
	msgpack_packer pk;
	msgpack_object obj;
	msgpack_zone *z;
	char *copy;
	size_t n_ops = 0;
	int r = 0;

	*zone = NULL;
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);

	msgpack_pack_map(&pk, 4);

	pack_str(&pk, "connections");
	msgpack_pack_map(&pk, 1 + _STATS_CONN_EVENT_MAX);
	pack_kv(&pk, "current", st.conn_current > 0 ? (uint64_t)st.conn_current : 0);
	for (int i = 0; i < _STATS_CONN_EVENT_MAX; i++)
		pack_kv(&pk, conn_event_names[i], st.conn_events[i]);

	/* requests: {op: {ok: n, <error code>: n, ...}} for ops that saw traffic */
	pack_str(&pk, "requests");
	for (int op = 0; op < _SB_OP_MAX; op++)
		if (stats_get_requests((enum sb_op)op, true) || stats_get_requests((enum sb_op)op, false))
			n_ops++;
	msgpack_pack_map(&pk, n_ops);
	for (int op = 0; op < _SB_OP_MAX; op++) {
		size_t n = 1;
		if (!stats_get_requests((enum sb_op)op, true) && !stats_get_requests((enum sb_op)op, false))
			continue;
		for (int c = 0; c < _SB_ERR_MAX; c++)
			n += st.err[op][c] ? 1 : 0;
		pack_str(&pk, sb_op_name((enum sb_op)op));
		msgpack_pack_map(&pk, n);
		pack_kv(&pk, "ok", st.ok[op]);
		for (int c = 0; c < _SB_ERR_MAX; c++)
			if (st.err[op][c])
				pack_kv(&pk, sb_errcode_name((enum sb_errcode)c), st.err[op][c]);
	}

	pack_str(&pk, "latency_us");
	msgpack_pack_map(&pk, N_BUCKETS + 2);
	for (size_t b = 0; b < N_BUCKETS; b++) {
		char key[32];
		if (b < N_BUCKETS - 1)
			snprintf(key, sizeof(key), "le_%llu", (unsigned long long)bucket_le[b]);
		else
			snprintf(key, sizeof(key), "le_inf");
		pack_kv(&pk, key, st.buckets[b]);
	}
	pack_kv(&pk, "count", st.latency_count);
	pack_kv(&pk, "sum", st.latency_sum);

	pack_str(&pk, "cache");
	msgpack_pack_map(&pk, 6);
	pack_kv(&pk, "hits", st.cache.hits);
	pack_kv(&pk, "misses", st.cache.misses);
	pack_kv(&pk, "entries", st.cache.entries);
	pack_kv(&pk, "evictions", st.cache.evictions);
	pack_kv(&pk, "coalesced", st.cache.coalesced);
	pack_kv(&pk, "upstream_exchanges", st.cache.upstream_exchanges);

	z = msgpack_zone_new(MSGPACK_ZONE_CHUNK_SIZE);
	if (!z) {
		msgpack_sbuffer_destroy(&sb);
		return -ENOMEM;
	}
	/* msgpack_unpack points strings into its input: unpack a copy that lives in the zone */
	copy = msgpack_zone_malloc(z, sb.size);
	if (copy)
		memcpy(copy, sb.data, sb.size);
	if (!copy || msgpack_unpack(copy, sb.size, NULL, z, &obj) != MSGPACK_UNPACK_SUCCESS ||
	    obj.type != MSGPACK_OBJECT_MAP || obj.via.map.size != 4) {
		r = -ENOMEM;
		msgpack_zone_free(z);
		z = NULL;
	}
	msgpack_sbuffer_destroy(&sb);
	if (r < 0)
		return r;
	rep->u.stats.uptime_s = now_usec > st.start_usec ? (now_usec - st.start_usec) / 1000000 : 0;
	rep->u.stats.connections = &obj.via.map.ptr[0].val;
	rep->u.stats.requests = &obj.via.map.ptr[1].val;
	rep->u.stats.latency_us = &obj.via.map.ptr[2].val;
	rep->u.stats.cache = &obj.via.map.ptr[3].val;
	*zone = z;
	return 0;
}
