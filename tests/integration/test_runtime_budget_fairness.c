/* SPDX-License-Identifier: MIT */
/*
 * The global budget of bytes in flight goes by turns: while one connection keeps its socket
 * full of requests that hold the budget, another connection that stopped on it is still
 * served. (A review found the queue was not first-come: the busy connection, scheduled by the
 * same completion that woke the waiter, took the room first, and the waiter went back to the
 * end of the queue, for as long as the busy one kept sending.)
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"

#define PIPELINE 30

/* In a child: keeps PIPELINE delayed pings in flight on a, sending one more for each reply,
 * until the parent closes its end of stop; then drains and exits 0. */
static void hog(struct sbt_client *a, int stop)
{
	struct pollfd p = {.fd = stop, .events = POLLIN};
	int outstanding = 0;
	bool stopping = false;

	for (int i = 0; i < PIPELINE; i++) {
		struct sb_request req = {.op = SB_OP_PING};
		if (sbt_queue(a, &req) <= 0)
			_exit(2);
		outstanding++;
	}
	if (sbt_flush(a) != 0)
		_exit(3);
	while (outstanding > 0) {
		struct sb_reply rep;

		if (sbt_recv(a, &rep) != 0)
			_exit(4);
		sb_reply_done(&rep);
		outstanding--;
		if (!stopping && poll(&p, 1, 0) > 0)
			stopping = true; /* EOF on the pipe */
		if (!stopping) {
			struct sb_request req = {.op = SB_OP_PING};
			if (sbt_send(a, &req) <= 0)
				_exit(5);
			outstanding++;
		}
	}
	_exit(0);
}

static void test_waiter_served_while_another_keeps_sending(void **state)
{
	struct sbt_daemon d;
	char conf[8192];
	struct sbt_client *a, *b;
	struct sb_reply rep;
	int stop[2], st;
	pid_t pid;

	(void)state;
	sbt_start_one(&d, conf, sizeof(conf),
		      "test_ping_delay = 20ms\nlog_level = debug\nmax_inflight_bytes = 4K\n");
	a = sbt_connect_hello(d.socket);
	b = sbt_connect_hello(d.socket);
	assert_int_equal(pipe2(stop, O_CLOEXEC), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(stop[1]);
		hog(a, stop[0]);
	}
	close(stop[0]);
	/* a holds the global budget from now on, and never stops until told: b must get its
	 * turn anyway (before the fix this waited for sbt_recv's timeout and failed) */
	assert_int_equal(sbt_log_wait(&d, "max_inflight_bytes is 4096", SBT_TIMEOUT_MS), 0);
	assert_int_equal(sbt_call(b, SB_OP_HEALTH, &rep), 0);
	assert_true(rep.ok);
	sb_reply_done(&rep);
	/* and the busy connection was still busy: b did not just wait for it to stop */
	assert_int_equal(waitpid(pid, &st, WNOHANG), 0);
	close(stop[1]);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	sbt_client_free(a);
	sbt_client_free(b);
	assert_int_equal(sbt_daemon_stop(&d), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_waiter_served_while_another_keeps_sending),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
