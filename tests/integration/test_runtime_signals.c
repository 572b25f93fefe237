/* SPDX-License-Identifier: MIT */
/*
 * Signals: SIGHUP reloads (a broken config keeps the old one and says why; a good one applies
 * to new connections while old ones keep working), SIGTERM stops accepting, lets in-flight
 * requests finish, answers new ones shutting_down, and exits 0; past shutdown_timeout the
 * remaining requests are cancelled. In-flight requests come from the TEST-ONLY
 * test_ping_delay setting (ping answered after a timer).
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

static const char *names1[] = {"acme"};
static const char *extra1[] = {"allow_uids = 0\n"};

static void test_sighup_broken_config_keeps_old(void **state)
{
	struct sbt_daemon d;
	struct sbt_client *a, *b;
	struct sb_reply rep;
	char conf[8192];

	(void)state;
	sbt_daemon_init(&d);
	sbt_config(&d, conf, sizeof(conf), NULL, 1, names1, extra1);
	assert_int_equal(sbt_daemon_start(&d, conf, NULL), 0);
	a = sbt_connect_hello(d.socket);

	/* a typo: the reload must fail, naming file and line */
	snprintf(conf + strlen(conf), sizeof(conf) - strlen(conf), "allow_uid = 1000\n");
	sbt_write_file(d.conf, conf, 0644);
	sbt_daemon_kill(&d, SIGHUP);
	assert_int_equal(sbt_daemon_wait_notify(&d, "RELOADING=1", SBT_TIMEOUT_MS), 0);
	assert_int_equal(sbt_daemon_wait_notify(&d, "READY=1", SBT_TIMEOUT_MS), 0);
	assert_int_equal(sbt_log_wait(&d, "reload failed: keeping the previous configuration",
				      SBT_TIMEOUT_MS),
			 0);
	assert_true(sbt_log_contains(&d, "skybroker.conf:"));
	assert_true(sbt_log_contains(&d, "unknown key 'allow_uid' in [tenant.acme]"));

	/* the old connection and new ones are served as before */
	assert_int_equal(sbt_ping(a), 0);
	b = sbt_connect(d.socket);
	assert_non_null(b);
	assert_int_equal(sbt_hello(b, &rep), 0);
	assert_string_equal(rep.u.hello.tenant, "acme");
	sb_reply_done(&rep);
	sbt_client_free(a);
	sbt_client_free(b);
	assert_int_equal(sbt_daemon_stop(&d), 0);
}

static void test_sighup_good_config_applies(void **state)
{
	struct sbt_daemon d;
	struct sbt_client *a, *b;
	struct sb_reply rep;
	char conf[8192], sock_b[108], tb[256];
	const char *names2[] = {"acme", "beta"};
	const char *extra2[2];

	(void)state;
	sbt_daemon_init(&d);
	sbt_config(&d, conf, sizeof(conf), NULL, 1, names1, extra1);
	assert_int_equal(sbt_daemon_start(&d, conf, NULL), 0);
	a = sbt_connect_hello(d.socket);

	sbt_path(sock_b, sizeof(sock_b), &d, "beta.sock");
	snprintf(tb, sizeof(tb), "socket = %s\nallow_uids = 0\n", sock_b);
	extra2[0] = "allow_uids = 0\nallow_operations = health\n";
	extra2[1] = tb;
	sbt_config(&d, conf, sizeof(conf), "log_level = debug\n", 2, names2, extra2);
	sbt_write_file(d.conf, conf, 0644);
	sbt_daemon_kill(&d, SIGHUP);
	assert_int_equal(sbt_daemon_wait_notify(&d, "RELOADING=1", SBT_TIMEOUT_MS), 0);
	assert_int_equal(sbt_daemon_wait_notify(&d, "READY=1", SBT_TIMEOUT_MS), 0);
	assert_true(sbt_log_contains(&d, "reloaded: 2 tenant(s)"));

	/* the new tenant's socket exists now */
	b = sbt_connect(sock_b);
	assert_non_null(b);
	assert_int_equal(sbt_hello(b, &rep), 0);
	assert_string_equal(rep.u.hello.tenant, "beta");
	sb_reply_done(&rep);
	sbt_client_free(b);
	/* the open connection keeps its configuration */
	assert_int_equal(sbt_ping(a), 0);
	sbt_client_free(a);
	assert_int_equal(sbt_daemon_stop(&d), 0);
}

static void test_sigterm_finishes_inflight(void **state)
{
	struct sbt_daemon d;
	struct sbt_client *c, *late;
	struct sb_reply rep;
	char conf[8192];
	int64_t health_id, late_id;
	int ok = 0;

	(void)state;
	sbt_start_one(&d, conf, sizeof(conf), "test_ping_delay = 1500ms\nshutdown_timeout = 60s\n");
	assert_true(sbt_log_contains(&d, "TEST-ONLY"));
	c = sbt_connect(d.socket);
	late = sbt_connect(d.socket);
	assert_non_null(c);
	assert_non_null(late);
	assert_int_equal(sbt_hello(c, NULL), 0);
	assert_int_equal(sbt_hello(late, NULL), 0);

	/* five slow pings, then a health: its (immediate) reply proves the pings are in flight */
	for (int i = 0; i < 5; i++) {
		struct sb_request req = {.op = SB_OP_PING};
		assert_true(sbt_queue(c, &req) > 0);
	}
	{
		struct sb_request req = {.op = SB_OP_HEALTH};
		health_id = sbt_queue(c, &req);
		assert_true(health_id > 0);
	}
	assert_int_equal(sbt_flush(c), 0);
	assert_int_equal(sbt_recv(c, &rep), 0);
	assert_int_equal(rep.id, health_id);
	sb_reply_done(&rep);

	sbt_daemon_kill(&d, SIGTERM);
	assert_int_equal(sbt_daemon_wait_notify(&d, "STOPPING=1", SBT_TIMEOUT_MS), 0);

	/* no new connections; new requests on open ones are answered shutting_down */
	assert_int_equal(access(d.socket, F_OK), -1);
	{
		struct sb_request req = {.op = SB_OP_HEALTH};
		late_id = sbt_send(late, &req);
		assert_true(late_id > 0);
	}
	assert_int_equal(sbt_recv(late, &rep), 0);
	assert_int_equal(rep.id, late_id);
	assert_string_equal(sbt_outcome(&rep), "shutting_down");
	sb_reply_done(&rep);

	/* the in-flight pings complete */
	for (int i = 0; i < 5; i++) {
		assert_int_equal(sbt_recv(c, &rep), 0);
		ok += rep.ok && rep.op == SB_OP_PING;
		sb_reply_done(&rep);
	}
	assert_int_equal(ok, 5);
	assert_int_equal(sbt_wait_closed(c), 0);
	assert_int_equal(sbt_daemon_wait_exit(&d, SBT_TIMEOUT_MS), 0);
	assert_true(sbt_log_contains(&d, "all in-flight requests finished"));
	sbt_client_free(c);
	sbt_client_free(late);
	assert_int_equal(sbt_daemon_stop(&d), 0);
}

static void test_sigterm_deadline_cancels(void **state)
{
	struct sbt_daemon d;
	struct sbt_client *c;
	struct sb_reply rep;
	struct sb_request req = {.op = SB_OP_PING};
	char conf[8192];

	(void)state;
	sbt_start_one(&d, conf, sizeof(conf), "test_ping_delay = 600s\nshutdown_timeout = 500ms\n");
	c = sbt_connect_hello(d.socket);
	assert_true(sbt_send(c, &req) > 0);
	assert_int_equal(sbt_call(c, SB_OP_HEALTH, &rep), 0); /* the ping is in flight */
	sb_reply_done(&rep);
	sbt_daemon_kill(&d, SIGTERM);
	assert_int_equal(sbt_recv(c, &rep), 0);
	assert_int_equal(rep.op, SB_OP_PING);
	assert_string_equal(sbt_outcome(&rep), "shutting_down");
	sb_reply_done(&rep);
	assert_int_equal(sbt_daemon_wait_exit(&d, SBT_TIMEOUT_MS), 0);
	assert_true(sbt_log_contains(&d, "shutdown_timeout reached with 1 request(s) in flight"));
	sbt_client_free(c);
	assert_int_equal(sbt_daemon_stop(&d), 0);
}

static void test_disconnect_cancels_inflight(void **state)
{
	/* a client that goes away with a request in flight: the request is cancelled (audited),
	 * nothing spins, and shutdown has nothing left to wait for */
	struct sbt_daemon d;
	struct sbt_client *c, *other;
	struct sb_reply rep;
	struct sb_request req = {.op = SB_OP_PING};
	char conf[8192];

	(void)state;
	sbt_start_one(&d, conf, sizeof(conf), "test_ping_delay = 600s\nshutdown_timeout = 600s\n");
	c = sbt_connect_hello(d.socket);
	assert_true(sbt_send(c, &req) > 0);
	assert_int_equal(sbt_call(c, SB_OP_HEALTH, &rep), 0); /* the ping is in flight */
	sb_reply_done(&rep);
	sbt_client_free(c);
	assert_int_equal(sbt_log_wait(&d, "op=ping id=2 table=- sub=- token=- outcome=shutting_down",
				      SBT_TIMEOUT_MS),
			 0);
	other = sbt_connect_hello(d.socket);
	assert_int_equal(sbt_call(other, SB_OP_HEALTH, &rep), 0);
	assert_true(rep.ok);
	sb_reply_done(&rep);
	sbt_client_free(other);
	/* nothing in flight: SIGTERM exits at once although shutdown_timeout is long */
	sbt_daemon_kill(&d, SIGTERM);
	assert_int_equal(sbt_daemon_wait_exit(&d, SBT_TIMEOUT_MS), 0);
	assert_int_equal(sbt_daemon_stop(&d), 0);
}

static void test_watchdog(void **state)
{
	/* with WatchdogSec= (WATCHDOG_USEC), the event loop sends WATCHDOG=1 */
	struct sbt_daemon d;
	char conf[8192];
	const char *env[] = {"WATCHDOG_USEC=400000", NULL};
	const char *argv[] = {sbt_daemon_path(), "--config", d.conf, "--allow-root", NULL};

	(void)state;
	sbt_daemon_init(&d);
	argv[2] = d.conf;
	sbt_config(&d, conf, sizeof(conf), NULL, 1, names1, extra1);
	sbt_write_file(d.conf, conf, 0644);
	assert_int_equal(sbt_daemon_spawn(&d, argv, env), 0);
	assert_int_equal(sbt_daemon_wait_notify(&d, "READY=1", SBT_TIMEOUT_MS), 0);
	assert_int_equal(sbt_daemon_wait_notify(&d, "WATCHDOG=1", SBT_TIMEOUT_MS), 0);
	assert_int_equal(sbt_daemon_wait_notify(&d, "WATCHDOG=1", SBT_TIMEOUT_MS), 0);
	assert_int_equal(sbt_daemon_stop(&d), 0);
}

static void test_ready_waits_for_tenants(void **state)
{
	/* READY=1 only once every tenant can serve; meanwhile clients are accepted and health
	 * says why not (TEST-ONLY test_ready_delay stands in for a JWKS fetch) */
	struct sbt_daemon d;
	struct sbt_client *c;
	struct sb_reply rep;
	char conf[8192];
	const char *argv[] = {sbt_daemon_path(), "--config", NULL, "--allow-root", NULL};

	(void)state;
	sbt_daemon_init(&d);
	argv[2] = d.conf;
	sbt_config(&d, conf, sizeof(conf), "test_ready_delay = 2s\n", 1, names1, extra1);
	sbt_write_file(d.conf, conf, 0644);
	assert_int_equal(sbt_daemon_spawn(&d, argv, NULL), 0);
	assert_int_equal(sbt_wait_socket(d.socket, SBT_TIMEOUT_MS), 0);
	c = sbt_connect_hello(d.socket);
	assert_int_equal(sbt_call(c, SB_OP_HEALTH, &rep), 0);
	assert_true(rep.ok);
	if (rep.u.health.ready) {
		/* the 2 s passed before we asked (a very slow machine): nothing to check */
		sb_reply_done(&rep);
		sbt_client_free(c);
		assert_int_equal(sbt_daemon_stop(&d), 0);
		skip();
	}
	{
		/* other modules may add their own reasons (JWKS not loaded yet) */
		bool found = false;
		for (uint32_t i = 0; i < rep.u.health.reasons.n; i++)
			found |= strcmp(rep.u.health.reasons.v[i], "TEST-ONLY test_ready_delay") == 0;
		assert_true(found);
	}
	sb_reply_done(&rep);
	/* not ready a moment ago, so READY=1 cannot have been sent before */
	assert_false(sbt_daemon_notified(&d, "READY=1"));
	assert_int_equal(sbt_daemon_wait_notify(&d, "READY=1", SBT_TIMEOUT_MS), 0);
	assert_int_equal(sbt_call(c, SB_OP_HEALTH, &rep), 0);
	assert_true(rep.u.health.ready);
	assert_int_equal(rep.u.health.reasons.n, 0);
	sb_reply_done(&rep);
	sbt_client_free(c);
	assert_true(sbt_log_contains(&d, "tenant=acme: not ready: "));
	assert_true(sbt_log_contains(&d, "tenant=acme: ready"));
	assert_int_equal(sbt_daemon_stop(&d), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sighup_broken_config_keeps_old),
		cmocka_unit_test(test_sighup_good_config_applies),
		cmocka_unit_test(test_sigterm_finishes_inflight),
		cmocka_unit_test(test_sigterm_deadline_cancels),
		cmocka_unit_test(test_disconnect_cancels_inflight),
		cmocka_unit_test(test_watchdog),
		cmocka_unit_test(test_ready_waits_for_tenants),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
