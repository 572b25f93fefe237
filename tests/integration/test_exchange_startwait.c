/* SPDX-License-Identifier: MIT */
/*
 * The first request after an on-demand start: skybrokerd under systemd-socket-activate,
 * started by the first client's connection, with the emulator's JWKS delayed by a fault. The
 * exchange and the vault read sent at once wait for the tenant to finish starting and
 * succeed; with a
 * start_timeout shorter than the delay it fails upstream_unavailable, retryable, and a
 * client that gives up while its request waits costs nothing.
 */
#include <unistd.h>

#include "exchange_daemon.h"

#define ACTIVATE "/usr/bin/systemd-socket-activate"

/* Delays the emulator's JWKS for tenant project by delay_ms, count times (-1: until cleared). */
static void delay_jwks(struct xe_emu *e, long delay_ms, long count)
{
	char prefix[128];

	snprintf(prefix, sizeof(prefix), "/%s/.well-known/jwks.json", e->project_id);
	xe_fault(e, json_pack("{s:s, s:I, s:I}", "path_prefix", prefix, "delay_ms",
			      (json_int_t)delay_ms, "count", (json_int_t)count));
}

/* Writes the config (one tenant, acme, on the emulator; broker_extra in [broker]) and starts
 * skybrokerd under systemd-socket-activate listening on sock (named acme): the daemon starts
 * on the first connection. sock (108 bytes) receives the socket's path. */
static void start_activated(struct sbt_daemon *d, struct xe_emu *e, char *sock,
			    const char *broker_extra)
{
	char conf[8192];
	size_t n;

	sbt_daemon_init(d);
	sbt_path(sock, 108, d, "a.sock");
	n = xd_broker(conf, sizeof(conf), d, broker_extra);
	xd_tenant(conf, sizeof(conf), n, e, "acme", "sts", NULL, NULL);
	sbt_write_file(d->conf, conf, 0644);
	{
		/* the activator passes on only what -E names: the valgrind wrapper
		 * (tests/valgrind/skybrokerd) needs SKYBROKERD_REAL and PATH */
		const char *argv[] = {ACTIVATE, "-l", sock, "--fdname=acme", "-E", "NOTIFY_SOCKET",
				      "-E", "ASAN_OPTIONS", "-E", "UBSAN_OPTIONS", "-E",
				      "SKYBROKERD_REAL", "-E", "PATH", sbt_daemon_path(), "--config",
				      d->conf, "--allow-root", NULL};
		assert_int_equal(sbt_daemon_spawn(d, argv, NULL), 0);
	}
	assert_int_equal(sbt_wait_socket(sock, SBT_TIMEOUT_MS), 0);
}

static void test_first_request_waits(void **state)
{
	struct xe_emu e;
	struct sbt_daemon d;
	struct sbt_client *c;
	struct sb_reply rep;
	char sock[108], *tok;
	char *cfg = xe_config(NULL);

	(void)state;
	if (access(ACTIVATE, X_OK) != 0)
		skip();
	assert_int_equal(xe_emu_start(&e, cfg), 0);
	free(cfg);
	tok = xd_mint(&e, "U1", "Viewer", 600, NULL);
	/* The JWKS is held back until both requests are seen waiting, however slowly the daemon
	 * starts (valgrind, a loaded machine): each fetch is delayed past the tenant's 2 s
	 * http_timeout. start_timeout leaves room for the JWKS source's retry (5 s) after the
	 * fault is cleared. */
	delay_jwks(&e, 60000, -1);
	start_activated(&d, &e, sock, "start_timeout = 60s\n");

	/* connecting starts the daemon; hello, exchange and a vault read go at once, before
	 * READY=1, and both wait for the tenant */
	c = sbt_connect(sock);
	assert_non_null(c);
	assert_int_equal(sbt_hello(c, NULL), 0);
	{
		struct sb_request req = {.op = SB_OP_GET_RECORDS};

		req.u.get_records.subject_token = tok;
		req.u.get_records.table = "persons";
		assert_true(sbt_send(c, &req) > 0);
	}
	xd_send(c, tok);
	for (int i = 0; i < SBT_TIMEOUT_MS / 10 &&
			sbt_log_count(&d, "waits for the tenant to finish starting") < 2; i++)
		usleep(10 * 1000);
	assert_int_equal(sbt_log_count(&d, "waits for the tenant to finish starting"), 2);
	json_decref(xe_http(&e, "DELETE", "/emulator/faults", NULL, NULL)); /* the JWKS may come */
	for (int i = 0; i < 2; i++) {
		assert_int_equal(sbt_recv(c, &rep), 0);
		if (!rep.ok)
			fail_msg("first requests: %s: %s", sbt_outcome(&rep), rep.error.message);
		if (rep.op == SB_OP_EXCHANGE)
			assert_true(rep.u.exchange.expires_at > 0);
		else
			assert_int_equal(rep.u.records.records->via.array.size, 1);
		sb_reply_done(&rep);
	}
	assert_int_equal(sbt_daemon_wait_notify(&d, "READY=1", SBT_TIMEOUT_MS), 0);
	assert_int_equal(xe_count(&e, "POST /v1/auth/sts/token"), 1);
	sbt_client_free(c);
	free(tok);
	assert_int_equal(sbt_daemon_stop(&d), 0);
	xe_emu_stop(&e);
}

static void test_start_timeout(void **state)
{
	struct xe_emu e;
	struct sbt_daemon d;
	struct sbt_client *c, *quitter;
	struct sb_reply rep;
	char sock[108], *tok;
	char *cfg = xe_config(NULL);

	(void)state;
	if (access(ACTIVATE, X_OK) != 0)
		skip();
	assert_int_equal(xe_emu_start(&e, cfg), 0);
	free(cfg);
	tok = xd_mint(&e, "U1", "Viewer", 600, NULL);
	/* the JWKS never comes: every fetch is delayed past the tenant's 2 s http_timeout */
	delay_jwks(&e, 60000, -1);
	/* long enough for a daemon under valgrind on a loaded machine to be serving well
	 * inside it (it has taken 6 s to accept its first connection) */
	start_activated(&d, &e, sock, "start_timeout = 15s\n");

	/* a client that gives up while its request waits */
	quitter = sbt_connect(sock);
	assert_non_null(quitter);
	assert_int_equal(sbt_hello(quitter, NULL), 0);
	xd_send(quitter, tok);
	c = sbt_connect(sock);
	assert_non_null(c);
	assert_int_equal(sbt_hello(c, NULL), 0);
	assert_int_equal(sbt_log_wait(&d, "waits for the tenant to finish starting",
				      SBT_TIMEOUT_MS), 0);
	sbt_client_free(quitter);

	xd_exchange(c, tok, &rep);
	assert_false(rep.ok);
	assert_string_equal(sbt_outcome(&rep), "upstream_unavailable");
	assert_true(rep.error.retryable);
	assert_non_null(strstr(rep.error.message, "tenant acme is still not ready"));
	sb_reply_done(&rep);
	/* past the start window a request no longer waits: answered at once, as retryable */
	xd_exchange(c, tok, &rep);
	assert_string_equal(sbt_outcome(&rep), "upstream_unavailable");
	assert_true(rep.error.retryable);
	sb_reply_done(&rep);
	assert_int_equal(xe_count(&e, "POST /v1/auth/sts/token"), 0);
	assert_true(sbt_log_contains(&d, "still not ready when start_timeout passed"));
	assert_false(xe_file_contains(d.log, tok));
	sbt_client_free(c);
	free(tok);
	assert_int_equal(sbt_daemon_stop(&d), 0);
	xe_emu_stop(&e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_first_request_waits),
		cmocka_unit_test(test_start_timeout),
	};

	curl_global_init(CURL_GLOBAL_DEFAULT);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
