/* SPDX-License-Identifier: MIT */
/*
 * rate_limit / rate_burst: a per-tenant token bucket over the operations that carry a subject
 * token, checked before the token is looked at. One tenant exhausting its budget gets
 * rate_limited (retryable) and leaves every other tenant's budget alone; hello, ping and
 * health are never limited.
 *
 * No upstream here: requests are `exchange` with a garbage subject token, which the broker
 * rejects locally (unauthenticated) once the rate check has let them through.
 */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"

#define BATCH 12

struct counts {
	unsigned limited;
	unsigned other;
};

/* Sends n exchange requests with a garbage token in one write and counts the outcomes. */
static struct counts exchange_batch(struct sbt_client *c, unsigned n)
{
	struct counts k = {0, 0};

	for (unsigned i = 0; i < n; i++) {
		struct sb_request req = {.op = SB_OP_EXCHANGE};
		req.u.exchange.subject_token = "garbage.not.a-jwt";
		assert_true(sbt_queue(c, &req) > 0);
	}
	assert_int_equal(sbt_flush(c), 0);
	for (unsigned i = 0; i < n; i++) {
		struct sb_reply rep;
		assert_int_equal(sbt_recv(c, &rep), 0);
		assert_false(rep.ok);
		if (strcmp(sbt_outcome(&rep), "rate_limited") == 0) {
			assert_true(rep.error.retryable);
			assert_non_null(strstr(rep.error.message, "rate_limit"));
			k.limited++;
		} else {
			/* the token itself is refused: the rate check let it through */
			assert_string_equal(sbt_outcome(&rep), "unauthenticated");
			k.other++;
		}
		sb_reply_done(&rep);
	}
	return k;
}

static void test_budgets_are_per_tenant(void **state)
{
	struct sbt_daemon d;
	struct sbt_client *a, *b;
	struct sb_reply rep;
	struct counts k;
	char conf[8192], sock_b[108], tb[512];
	const char *names[] = {"acme", "beta"};
	const char *extra[2];

	(void)state;
	sbt_daemon_init(&d);
	sbt_path(sock_b, sizeof(sock_b), &d, "beta.sock");
	snprintf(tb, sizeof(tb), "socket = %s\nallow_uids = 0\nrate_limit = 1\nrate_burst = 3\n",
		 sock_b);
	extra[0] = "allow_uids = 0\nrate_limit = 1\nrate_burst = 3\n";
	extra[1] = tb;
	sbt_config(&d, conf, sizeof(conf), NULL, 2, names, extra);
	assert_int_equal(sbt_daemon_start(&d, conf, NULL), 0);

	a = sbt_connect_hello(d.socket);
	b = sbt_connect_hello(sock_b);

	/* acme spends its burst of 3 (plus at most what refills at 1/s meanwhile) */
	k = exchange_batch(a, BATCH);
	assert_true(k.other >= 3);
	assert_true(k.other <= 5);
	assert_int_equal(k.limited + k.other, BATCH);
	assert_true(k.limited >= BATCH - 5);
	assert_true(sbt_log_contains(&d, "outcome=rate_limited"));

	/* beta's budget is its own: its full burst is there */
	k = exchange_batch(b, 3);
	assert_int_equal(k.limited, 0);
	assert_int_equal(k.other, 3);

	/* requests without a subject token are not counted */
	assert_int_equal(sbt_ping(a), 0);
	assert_int_equal(sbt_call(a, SB_OP_HEALTH, &rep), 0);
	assert_true(rep.ok);
	sb_reply_done(&rep);

	sbt_client_free(a);
	sbt_client_free(b);
	assert_int_equal(sbt_daemon_stop(&d), 0);
}

static void test_budget_survives_reload(void **state)
{
	/* a reload (same tenant, same limits) neither refills nor duplicates the budget: a
	 * new connection of the tenant and the old one share what is left */
	struct sbt_daemon d;
	struct sbt_client *a, *a2;
	struct counts k;
	char conf[8192];
	const char *names[] = {"acme"};
	const char *extra[] = {"allow_uids = 0\nrate_limit = 1\nrate_burst = 40\n"};

	(void)state;
	sbt_daemon_init(&d);
	sbt_config(&d, conf, sizeof(conf), NULL, 1, names, extra);
	assert_int_equal(sbt_daemon_start(&d, conf, NULL), 0);
	a = sbt_connect_hello(d.socket);
	k = exchange_batch(a, 40);
	assert_true(k.other >= 38); /* the burst, minus nothing */

	sbt_daemon_kill(&d, SIGHUP);
	assert_int_equal(sbt_daemon_wait_notify(&d, "RELOADING=1", SBT_TIMEOUT_MS), 0);
	assert_int_equal(sbt_log_wait(&d, "reloaded: 1 tenant(s)", SBT_TIMEOUT_MS), 0);

	/* a fresh bucket would let 40 through again; the carried one only what refilled
	 * since (1/s) */
	a2 = sbt_connect_hello(d.socket);
	k = exchange_batch(a2, 20);
	assert_true(k.limited > 0);
	assert_true(k.other < 20);
	k = exchange_batch(a, 20);
	assert_true(k.limited > 0);
	sbt_client_free(a);
	sbt_client_free(a2);
	assert_int_equal(sbt_daemon_stop(&d), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_budgets_are_per_tenant),
		cmocka_unit_test(test_budget_survives_reload),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
