/* SPDX-License-Identifier: MIT */
/*
 * A long pipeline sent in one write, with the output reservation small enough that the
 * broker must stop taking requests part of the way through what it has already read: every
 * request is answered, in order, whether the client then waits for the replies or half-closes
 * its side at once. (Found by fuzz_conn: the frames left in the input buffer were never taken
 * again, because no more bytes came to wake the reader; with a half-close they were dropped.)
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"

/* 1,000 pings (about 20 bytes of reply each) against 2 reply slots of 4 KiB: the broker stops
 * taking requests every ~200 replies until the client reads them. */
#define N_PINGS 1000

static struct sbt_daemon D;

static int group_setup(void **state)
{
	char conf[8192];

	(void)state;
	sbt_start_one(&D, conf, sizeof(conf),
		      "max_inflight_per_connection = 1\nmax_reply_frame = 4096\n");
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	return sbt_daemon_stop(&D) == 0 ? 0 : -1;
}

/* Queues N_PINGS pings and sends them in one write; half-closes when asked. */
static struct sbt_client *send_pipeline(bool half_close)
{
	struct sbt_client *c = sbt_connect_hello(D.socket);

	for (int i = 0; i < N_PINGS; i++) {
		struct sb_request req = {.op = SB_OP_PING};
		assert_true(sbt_queue(c, &req) > 0);
	}
	assert_int_equal(sbt_flush(c), 0);
	if (half_close)
		assert_int_equal(shutdown(c->fd, SHUT_WR), 0);
	return c;
}

/* Every ping answered ok, in the order sent (ids 2..N_PINGS+1: hello was 1). */
static void expect_all_answered(struct sbt_client *c)
{
	for (int i = 0; i < N_PINGS; i++) {
		struct sb_reply rep;

		assert_int_equal(sbt_recv(c, &rep), 0);
		assert_true(rep.ok);
		assert_int_equal(rep.id, (uint64_t)i + 2);
		sb_reply_done(&rep);
	}
}

static void test_pipeline_beyond_the_reservation(void **state)
{
	struct sbt_client *c = send_pipeline(false);

	(void)state;
	expect_all_answered(c);
	assert_int_equal(sbt_ping(c), 0); /* and the connection still serves */
	sbt_client_free(c);
}

static void test_pipeline_then_half_close(void **state)
{
	struct sbt_client *c = send_pipeline(true);

	(void)state;
	expect_all_answered(c);
	assert_int_equal(sbt_wait_closed(c), 0); /* closed once everything is answered */
	sbt_client_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pipeline_beyond_the_reservation),
		cmocka_unit_test(test_pipeline_then_half_close),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
