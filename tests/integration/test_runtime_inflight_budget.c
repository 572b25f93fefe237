/* SPDX-License-Identifier: MIT */
/*
 * The budgets of bytes held by requests in flight (issue 9, item 1): past
 * max_inflight_bytes_per_connection a connection is no longer read, its frames wait in the
 * socket and are taken as its requests finish, and other connections are served meanwhile;
 * past max_inflight_bytes no connection is read, and those that waited are woken when the
 * budget has room again. In-flight requests come from the TEST-ONLY test_ping_delay setting.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"

#define N_PINGS 20
#define N_HEALTH 5

/* Waits until the log holds needle at least n times. 0 or -1 after SBT_TIMEOUT_MS. */
static int wait_log_count(const struct sbt_daemon *d, const char *needle, size_t n)
{
	for (int waited = 0; waited < SBT_TIMEOUT_MS; waited += 10) {
		if (sbt_log_count(d, needle) >= n)
			return 0;
		usleep(10 * 1000);
	}
	return -1;
}

/* The numbers of the first "not reading with N request(s) in flight: ... hold B bytes" line
 * that names budget (the key). */
static void stall_numbers(const struct sbt_daemon *d, const char *budget, unsigned *n,
			  unsigned long long *bytes)
{
	char line[1024];
	FILE *f = fopen(d->log, "re");

	assert_non_null(f);
	*n = 0;
	*bytes = 0;
	while (fgets(line, sizeof(line), f)) {
		const char *p = strstr(line, "not reading with ");
		const char *hold = p ? strstr(p, " hold ") : NULL;

		if (!p || !hold || !strstr(line, budget))
			continue;
		*n = (unsigned)strtoul(p + strlen("not reading with "), NULL, 10);
		*bytes = strtoull(hold + strlen(" hold "), NULL, 10);
		break;
	}
	fclose(f);
}

/* Queues count requests of op and sends them in one write. */
static void send_batch(struct sbt_client *c, enum sb_op op, int count)
{
	for (int i = 0; i < count; i++) {
		struct sb_request req = {.op = op};
		assert_true(sbt_queue(c, &req) > 0);
	}
	assert_int_equal(sbt_flush(c), 0);
}

static void expect_ok(struct sbt_client *c, int count)
{
	for (int i = 0; i < count; i++) {
		struct sb_reply rep;

		assert_int_equal(sbt_recv(c, &rep), 0);
		if (!rep.ok)
			fail_msg("reply %d: %s: %s", i, sbt_outcome(&rep), rep.error.message);
		sb_reply_done(&rep);
	}
}

static void test_connection_budget(void **state)
{
	struct sbt_daemon d;
	char conf[8192];
	struct sbt_client *c, *other;
	unsigned n;
	unsigned long long bytes;

	(void)state;
	sbt_start_one(&d, conf, sizeof(conf),
		      "test_ping_delay = 100ms\nlog_level = debug\n"
		      "max_inflight_bytes_per_connection = 4K\n");
	c = sbt_connect_hello(d.socket);
	other = sbt_connect_hello(d.socket);
	send_batch(c, SB_OP_PING, N_PINGS);
	assert_int_equal(sbt_log_wait(&d, "max_inflight_bytes_per_connection is 4096",
				      SBT_TIMEOUT_MS), 0);
	stall_numbers(&d, "max_inflight_bytes_per_connection", &n, &bytes);
	print_message("  %d pipelined pings: the connection stopped reading with %u in flight "
		      "holding %llu bytes\n", N_PINGS, n, bytes);
	assert_true(n >= 1 && n < N_PINGS);
	assert_true(bytes >= 4096);
	/* another connection is served meanwhile */
	assert_int_equal(sbt_ping(other), 0);
	/* the frames that waited in the socket are taken as the first requests finish */
	expect_ok(c, N_PINGS);
	assert_int_equal(sbt_ping(c), 0);
	sbt_client_free(c);
	sbt_client_free(other);
	assert_int_equal(sbt_daemon_stop(&d), 0);
}

static void test_global_budget_wakes_waiters(void **state)
{
	struct sbt_daemon d;
	char conf[8192];
	struct sbt_client *a, *b;
	unsigned n;
	unsigned long long bytes;

	(void)state;
	/* a's pings never finish by themselves: only closing a frees the budget */
	sbt_start_one(&d, conf, sizeof(conf),
		      "test_ping_delay = 10m\nlog_level = debug\nmax_inflight_bytes = 4K\n");
	a = sbt_connect_hello(d.socket);
	b = sbt_connect_hello(d.socket);
	send_batch(a, SB_OP_PING, N_PINGS);
	assert_int_equal(wait_log_count(&d, "max_inflight_bytes is 4096", 1), 0);
	stall_numbers(&d, "max_inflight_bytes is", &n, &bytes);
	print_message("  %d pipelined pings on a: stopped with %u in flight holding %llu bytes\n",
		      N_PINGS, n, bytes);
	assert_true(n >= 1 && n < N_PINGS);
	/* b is not read either while a holds the budget */
	send_batch(b, SB_OP_HEALTH, N_HEALTH);
	assert_int_equal(wait_log_count(&d, "max_inflight_bytes is 4096", 2), 0);
	/* a goes away: its pings are cancelled, the budget has room, b is woken and served */
	sbt_client_free(a);
	expect_ok(b, N_HEALTH);
	/* and it is read again from then on */
	send_batch(b, SB_OP_HEALTH, 1);
	expect_ok(b, 1);
	sbt_client_free(b);
	assert_int_equal(sbt_daemon_stop(&d), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_connection_budget),
		cmocka_unit_test(test_global_budget_wakes_waiters),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
