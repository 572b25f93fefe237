/* SPDX-License-Identifier: MIT */
/*
 * The end of a drain is said once: "all in-flight requests finished; exiting" appears exactly
 * once when SIGTERM finds nothing in flight and when the requests in flight finish after it,
 * and not at all when a second signal cancels them (issue 9, item 13: it was logged up to
 * three times, once per place that checked whether the drain was over). In-flight requests
 * come from the TEST-ONLY test_ping_delay.
 */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "harness.h"

#define FINISHED "all in-flight requests finished; exiting"

/* Sends n pings on c and then a health whose (immediate) reply proves they are in flight. */
static void pings_in_flight(struct sbt_client *c, int n)
{
	struct sb_request health = {.op = SB_OP_HEALTH};
	struct sb_reply rep;
	int64_t id;

	for (int i = 0; i < n; i++) {
		struct sb_request ping = {.op = SB_OP_PING};

		assert_true(sbt_queue(c, &ping) > 0);
	}
	id = sbt_queue(c, &health);
	assert_true(id > 0);
	assert_int_equal(sbt_flush(c), 0);
	assert_int_equal(sbt_recv(c, &rep), 0);
	assert_int_equal(rep.id, id);
	sb_reply_done(&rep);
}

/* Receives n replies on c, all ping and all with outcome want. */
static void expect_pings(struct sbt_client *c, int n, const char *want)
{
	for (int i = 0; i < n; i++) {
		struct sb_reply rep;

		assert_int_equal(sbt_recv(c, &rep), 0);
		assert_int_equal(rep.op, SB_OP_PING);
		assert_string_equal(sbt_outcome(&rep), want);
		sb_reply_done(&rep);
	}
}

/* Waits for the exit and checks how often the drain's end was logged. */
static void expect_exit(struct sbt_daemon *d, size_t n_finished)
{
	assert_int_equal(sbt_daemon_wait_exit(d, SBT_TIMEOUT_MS), 0);
	if (sbt_log_count(d, FINISHED) != n_finished) {
		sbt_log_dump(d);
		fail_msg("'" FINISHED "' logged %zu times, want %zu", sbt_log_count(d, FINISHED),
			 n_finished);
	}
}

static void test_nothing_in_flight(void **state)
{
	struct sbt_daemon d;
	struct sbt_client *idle;
	char conf[8192];

	(void)state;
	sbt_start_one(&d, conf, sizeof(conf), "shutdown_timeout = 600s\n");
	idle = sbt_connect_hello(d.socket);
	assert_int_equal(sbt_ping(idle), 0);
	sbt_daemon_kill(&d, SIGTERM);
	assert_int_equal(sbt_wait_closed(idle), 0);
	expect_exit(&d, 1);
	sbt_client_free(idle);
	assert_int_equal(sbt_daemon_stop(&d), 0);
}

static void test_two_signals_nothing_in_flight(void **state)
{
	/* the second finds the daemon exiting already, or is not dispatched at all */
	struct sbt_daemon d;
	struct sbt_client *idle;
	char conf[8192];

	(void)state;
	sbt_start_one(&d, conf, sizeof(conf), "shutdown_timeout = 600s\n");
	idle = sbt_connect_hello(d.socket);
	sbt_daemon_kill(&d, SIGTERM);
	sbt_daemon_kill(&d, SIGTERM);
	assert_int_equal(sbt_wait_closed(idle), 0);
	expect_exit(&d, 1);
	sbt_client_free(idle);
	assert_int_equal(sbt_daemon_stop(&d), 0);
}

static void test_in_flight_finish(void **state)
{
	struct sbt_daemon d;
	struct sbt_client *a, *b, *idle;
	char conf[8192];

	(void)state;
	sbt_start_one(&d, conf, sizeof(conf),
		      "test_ping_delay = 1s\nshutdown_timeout = 600s\n");
	a = sbt_connect_hello(d.socket);
	b = sbt_connect_hello(d.socket);
	idle = sbt_connect_hello(d.socket);
	pings_in_flight(a, 3);
	pings_in_flight(b, 2);
	sbt_daemon_kill(&d, SIGTERM);
	assert_int_equal(sbt_daemon_wait_notify(&d, "STOPPING=1", SBT_TIMEOUT_MS), 0);
	expect_pings(a, 3, "ok");
	expect_pings(b, 2, "ok");
	assert_int_equal(sbt_wait_closed(a), 0);
	assert_int_equal(sbt_wait_closed(b), 0);
	assert_int_equal(sbt_wait_closed(idle), 0);
	expect_exit(&d, 1);
	sbt_client_free(a);
	sbt_client_free(b);
	sbt_client_free(idle);
	assert_int_equal(sbt_daemon_stop(&d), 0);
}

static void test_in_flight_finish_client_gone(void **state)
{
	/* the client that sent the requests has gone when they finish: nothing to send, the
	 * drain ends when the last one is answered */
	struct sbt_daemon d;
	struct sbt_client *a, *idle;
	char conf[8192];

	(void)state;
	sbt_start_one(&d, conf, sizeof(conf),
		      "test_ping_delay = 1s\nshutdown_timeout = 600s\n");
	a = sbt_connect_hello(d.socket);
	idle = sbt_connect_hello(d.socket);
	pings_in_flight(a, 2);
	sbt_daemon_kill(&d, SIGTERM);
	assert_int_equal(sbt_daemon_wait_notify(&d, "STOPPING=1", SBT_TIMEOUT_MS), 0);
	sbt_client_free(a);
	assert_int_equal(sbt_wait_closed(idle), 0);
	expect_exit(&d, 1);
	sbt_client_free(idle);
	assert_int_equal(sbt_daemon_stop(&d), 0);
}

static void test_second_signal_cancels(void **state)
{
	/* a second SIGTERM skips the wait: the requests are cancelled, not finished */
	struct sbt_daemon d;
	struct sbt_client *a;
	char conf[8192];

	(void)state;
	sbt_start_one(&d, conf, sizeof(conf),
		      "test_ping_delay = 600s\nshutdown_timeout = 600s\n");
	a = sbt_connect_hello(d.socket);
	pings_in_flight(a, 2);
	sbt_daemon_kill(&d, SIGTERM);
	assert_int_equal(sbt_daemon_wait_notify(&d, "STOPPING=1", SBT_TIMEOUT_MS), 0);
	sbt_daemon_kill(&d, SIGTERM);
	expect_pings(a, 2, "shutting_down");
	expect_exit(&d, 0);
	assert_int_equal(sbt_log_count(&d, "SIGTERM again: not waiting any longer"), 1);
	sbt_client_free(a);
	assert_int_equal(sbt_daemon_stop(&d), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_nothing_in_flight),
		cmocka_unit_test(test_two_signals_nothing_in_flight),
		cmocka_unit_test(test_in_flight_finish),
		cmocka_unit_test(test_in_flight_finish_client_gone),
		cmocka_unit_test(test_second_signal_cancels),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
