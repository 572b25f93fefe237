/* SPDX-License-Identifier: MIT */
/*
 * Replies sent from a completion (a timer, an HTTP transfer), not from the connection's own
 * I/O callback. Writing such a reply can fail (the client shut down its read side: EPIPE),
 * and the connection must then close later, from the event loop, never inside the
 * completion: closing there cancels the request being answered (a double completion) and
 * can drop the last reference of a tenant the completion is still using (after a reload).
 * In-flight requests come from the TEST-ONLY test_ping_delay setting.
 */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"

static const char *names1[] = {"acme"};
static const char *extra1[] = {"allow_uids = 0\n"};

/* The daemon still serves a new client (it did not crash). */
static void assert_still_serving(struct sbt_daemon *d)
{
	struct sbt_client *c = sbt_connect(d->socket);
	struct sb_reply rep;

	assert_non_null(c);
	assert_int_equal(sbt_hello(c, NULL), 0);
	assert_int_equal(sbt_call(c, SB_OP_HEALTH, &rep), 0);
	assert_true(rep.ok);
	sb_reply_done(&rep);
	sbt_client_free(c);
}

static void test_delayed_reply_to_half_closed_reader(void **state)
{
	struct sbt_daemon d;
	struct sbt_client *c;
	struct sb_request req = {.op = SB_OP_PING};
	char conf[8192];

	(void)state;
	sbt_start_one(&d, conf, sizeof(conf), "test_ping_delay = 300ms\nlog_level = debug\n");
	c = sbt_connect_hello(d.socket);
	assert_true(sbt_send(c, &req) > 0);
	/* the reply will not be deliverable: the daemon's write fails with EPIPE */
	assert_int_equal(shutdown(c->fd, SHUT_RD), 0);
	assert_int_equal(sbt_log_wait(&d, "op=ping id=2 ", SBT_TIMEOUT_MS), 0);
	assert_int_equal(sbt_log_wait(&d, "closed: peer gone", SBT_TIMEOUT_MS), 0);
	/* finished exactly once: no cancellation after the reply */
	assert_int_equal(sbt_log_count(&d, "op=ping id=2 "), 1);
	assert_false(sbt_log_contains(&d, "outcome=shutting_down"));
	assert_still_serving(&d);
	sbt_client_free(c);
	assert_int_equal(sbt_daemon_stop(&d), 0);
}

static void test_delayed_reply_to_half_closed_reader_after_reload(void **state)
{
	/* the same with a reload while the request is in flight: the connection then holds the
	 * last reference of the old tenant, released when it closes */
	struct sbt_daemon d;
	struct sbt_client *c;
	struct sb_request req = {.op = SB_OP_PING};
	char conf[8192];

	(void)state;
	sbt_start_one(&d, conf, sizeof(conf), "test_ping_delay = 1s\nlog_level = debug\n");
	c = sbt_connect_hello(d.socket);
	assert_true(sbt_send(c, &req) > 0);
	assert_int_equal(shutdown(c->fd, SHUT_RD), 0);

	sbt_config(&d, conf, sizeof(conf), "test_ping_delay = 1s\nlog_level = info\n", 1, names1,
		   extra1);
	sbt_write_file(d.conf, conf, 0644);
	sbt_daemon_kill(&d, SIGHUP);
	assert_int_equal(sbt_daemon_wait_notify(&d, "RELOADING=1", SBT_TIMEOUT_MS), 0);
	assert_int_equal(sbt_log_wait(&d, "reloaded: 1 tenant(s)", SBT_TIMEOUT_MS), 0);

	assert_int_equal(sbt_log_wait(&d, "op=ping id=2 ", SBT_TIMEOUT_MS), 0);
	assert_int_equal(sbt_log_count(&d, "op=ping id=2 "), 1);
	assert_false(sbt_log_contains(&d, "outcome=shutting_down"));
	assert_still_serving(&d);
	sbt_client_free(c);
	assert_int_equal(sbt_daemon_stop(&d), 0);
}

static void test_delayed_replies_still_delivered(void **state)
{
	/* deferring the write of a completion's reply still delivers it, pipelined too */
	struct sbt_daemon d;
	struct sbt_client *c;
	struct sb_reply rep;
	char conf[8192];
	int64_t ids[4];

	(void)state;
	sbt_start_one(&d, conf, sizeof(conf), "test_ping_delay = 50ms\n");
	c = sbt_connect_hello(d.socket);
	for (size_t i = 0; i < 4; i++) {
		struct sb_request req = {.op = SB_OP_PING};
		ids[i] = sbt_queue(c, &req);
		assert_true(ids[i] > 0);
	}
	assert_int_equal(sbt_flush(c), 0);
	for (size_t i = 0; i < 4; i++) {
		assert_int_equal(sbt_recv(c, &rep), 0);
		assert_true(rep.ok);
		sb_reply_done(&rep);
	}
	sbt_client_free(c);
	assert_int_equal(sbt_daemon_stop(&d), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_delayed_reply_to_half_closed_reader),
		cmocka_unit_test(test_delayed_reply_to_half_closed_reader_after_reload),
		cmocka_unit_test(test_delayed_replies_still_delivered),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
