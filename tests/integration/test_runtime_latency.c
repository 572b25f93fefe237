/* SPDX-License-Identifier: MIT */
/*
 * Latency is measured: requests answered at once (ping, hello, health) have a latency above
 * zero in stats' latency_us.sum and in their audit lines (issue 9, item 10: both read zero,
 * taken from the event loop's cached time, which is the same at both ends of a synchronous
 * request). No timing threshold: only "not zero".
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "harness.h"

#define N_PINGS 32

/* Value of the unsigned integer k of a msgpack map; fails the test when it is absent. */
static uint64_t map_u64(const msgpack_object *map, const char *k)
{
	assert_non_null(map);
	assert_int_equal(map->type, MSGPACK_OBJECT_MAP);
	for (uint32_t i = 0; i < map->via.map.size; i++) {
		const msgpack_object_kv *kv = &map->via.map.ptr[i];

		if (kv->key.type == MSGPACK_OBJECT_STR && kv->key.via.str.size == strlen(k) &&
		    memcmp(kv->key.via.str.ptr, k, strlen(k)) == 0) {
			assert_int_equal(kv->val.type, MSGPACK_OBJECT_POSITIVE_INTEGER);
			return kv->val.via.u64;
		}
	}
	fail_msg("no %s in the map", k);
	return 0;
}

/* How many audit lines of op (" op=ping ") there are, and how many of them say latency_us=0. */
static void audit_latencies(const struct sbt_daemon *d, const char *op, size_t *n, size_t *zero)
{
	FILE *f = fopen(d->log, "re");
	char line[4096];

	assert_non_null(f);
	*n = *zero = 0;
	while (fgets(line, sizeof(line), f)) {
		const char *l;

		if (!strstr(line, "audit: ") || !strstr(line, op))
			continue;
		l = strstr(line, " latency_us=");
		assert_non_null(l);
		(*n)++;
		*zero += strtoull(l + strlen(" latency_us="), NULL, 10) == 0;
	}
	fclose(f);
}

static void test_synchronous_requests_have_a_latency(void **state)
{
	struct sbt_daemon d;
	struct sbt_client *c, *admin;
	struct sb_reply rep;
	char conf[8192];
	size_t n, zero;

	(void)state;
	sbt_start_one(&d, conf, sizeof(conf), NULL);
	c = sbt_connect_hello(d.socket);
	admin = sbt_connect_hello(d.admin);
	/* one at a time: each is read, answered and audited in one callback of the loop */
	for (int i = 0; i < N_PINGS; i++) {
		assert_int_equal(sbt_ping(c), 0);
		assert_int_equal(sbt_ping(admin), 0);
	}
	assert_int_equal(sbt_call(admin, SB_OP_STATS, &rep), 0);
	assert_true(rep.ok);
	/* the two hellos and the pings, all answered at once; stats counts before it answers */
	assert_true(map_u64(rep.u.stats.latency_us, "count") >= 2 * N_PINGS + 2);
	if (map_u64(rep.u.stats.latency_us, "sum") == 0)
		fail_msg("stats: latency_us.sum is 0 after %d synchronous requests", 2 * N_PINGS + 2);
	sb_reply_done(&rep);

	/* the audit lines are written before the replies they describe */
	audit_latencies(&d, " op=ping ", &n, &zero);
	assert_int_equal(n, 2 * N_PINGS);
	print_message("  %zu of %zu ping audit lines say latency_us=0\n", zero, n);
	if (zero == n)
		fail_msg("every one of the %zu ping audit lines says latency_us=0", n);
	sbt_client_free(c);
	sbt_client_free(admin);
	assert_int_equal(sbt_daemon_stop(&d), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_synchronous_requests_have_a_latency),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
