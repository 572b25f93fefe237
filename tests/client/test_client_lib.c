/* SPDX-License-Identifier: MIT */
/*
 * libskybroker against a real skybrokerd and the emulator over TLS: connect and hello, every
 * call, results as a tree and as JSON, errors with their codes, bad arguments refused before
 * anything is sent, the broker down, restarted between two calls, and a timeout.
 */
#include "client/skybroker.h"
#include "exchange_daemon.h"

#define AUDIENCE "https://mcp.example.com/mcp"

static struct xe_emu E;
static struct sbt_daemon D;
static char conf[16384];

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int group_setup(void **state)
{
	char *cfg = xe_config(NULL), extra[256];
	size_t len;

	(void)state;
	curl_global_init(CURL_GLOBAL_DEFAULT);
	if (xe_emu_start(&E, cfg) < 0)
		return -1;
	free(cfg);
	sbt_daemon_init(&D);
	len = xd_broker(conf, sizeof(conf), &D, NULL);
	snprintf(extra, sizeof(extra), "audience = %s\n", AUDIENCE);
	xd_tenant(conf, sizeof(conf), len, &E, "acme", "sts", NULL, extra);
	return sbt_daemon_start(&D, conf, NULL);
}

static int group_teardown(void **state)
{
	(void)state;
	sbt_daemon_stop(&D);
	xe_emu_stop(&E);
	return 0;
}

static skybroker *connect_ok(const char *path)
{
	struct skybroker_error e;
	skybroker *h = NULL;

	if (skybroker_connect(path, "client-lib-test/1", 10000, &h, &e) != 0)
		fail_msg("connect %s: %s: %s", path, e.code_name, e.message);
	return h;
}

static char *mint(const char *roles)
{
	return xd_mint(&E, "U2libtest", roles, 600, "{\"aud\":[\"" AUDIENCE "\"]}");
}

static void test_connect_hello(void **state)
{
	skybroker *h = connect_ok(D.socket);

	(void)state;
	assert_string_equal(skybroker_tenant(h), "acme");
	assert_true(strncmp(skybroker_server(h), "skybrokerd/", 11) == 0);
	assert_true(skybroker_allows(h, "ping"));
	assert_true(skybroker_allows(h, "exchange"));
	assert_false(skybroker_allows(h, "stats"));
	assert_false(skybroker_allows(h, "no_such_op"));
	assert_string_equal(skybroker_version(), "0.1.0");
	skybroker_free(h);
}

static void test_socket_from_environment(void **state)
{
	skybroker *h;

	(void)state;
	setenv("SKYBROKER_SOCKET", D.socket, 1);
	h = connect_ok(NULL);
	assert_int_equal(skybroker_ping(h, 0, NULL), 0);
	skybroker_free(h);
	unsetenv("SKYBROKER_SOCKET");
}

static void test_broker_down(void **state)
{
	struct skybroker_error e;
	skybroker *h = (skybroker *)&e;
	char path[PATH_MAX];
	long t0 = now_ms();

	(void)state;
	snprintf(path, sizeof(path), "%s/nobody.sock", D.dir);
	assert_int_equal(skybroker_connect(path, NULL, 2000, &h, &e), SKYBROKER_E_UNREACHABLE);
	assert_null(h);
	assert_int_equal(e.code, SKYBROKER_E_UNREACHABLE);
	assert_string_equal(e.code_name, "unreachable");
	assert_true(e.retryable);
	assert_non_null(strstr(e.message, "is skybrokerd running"));
	assert_true(now_ms() - t0 < 1000);
	/* a path too long for a Unix socket */
	memset(path, 'x', 200);
	path[200] = '\0';
	assert_int_equal(skybroker_connect(path, NULL, 2000, &h, &e),
			 SKYBROKER_E_INVALID_ARGUMENT);
}

static void test_ping_health_as_tree_and_json(void **state)
{
	skybroker *h = connect_ok(D.socket);
	skybroker_result *res;
	struct skybroker_error e;
	const skybroker_value *root;
	char *json;
	size_t len;

	(void)state;
	assert_int_equal(skybroker_ping(h, 2000, &e), 0);
	assert_int_equal(skybroker_health(h, 2000, &res, &e), 0);
	root = skybroker_result_root(res);
	assert_int_equal(skybroker_value_type(root), SKYBROKER_MAP);
	assert_true(skybroker_value_bool(skybroker_value_get(root, "ready")));
	assert_string_equal(skybroker_value_string(skybroker_value_get(root, "tenant"), &len),
			    "acme");
	assert_int_equal(len, 4);
	assert_int_equal(skybroker_value_type(skybroker_value_get(root, "reasons")),
			 SKYBROKER_ARRAY);
	assert_int_equal(skybroker_value_count(skybroker_value_get(root, "reasons")), 0);
	assert_null(skybroker_value_get(root, "nope"));
	assert_string_equal(skybroker_value_key(root, 0), "ready");
	assert_int_equal(skybroker_result_json(res, 0, &json, &len), 0);
	/* then the optional detail (jwks_age_s, ...), whose values move */
	assert_true(strncmp(json, "{\"ready\":true,\"tenant\":\"acme\",\"reasons\":[]", 42) == 0);
	assert_int_equal(len, strlen(json));
	skybroker_json_free(json);
	assert_int_equal(skybroker_result_json(res, SKYBROKER_JSON_PRETTY, &json, NULL), 0);
	assert_true(strncmp(json, "{\n  \"ready\": true,\n  \"tenant\": \"acme\",\n  \"reasons\": []",
			    51) == 0);
	skybroker_json_free(json);
	skybroker_result_free(res);
	/* stats is the admin socket's */
	assert_int_equal(skybroker_stats(h, 2000, &res, &e), SKYBROKER_E_FORBIDDEN);
	assert_null(res);
	assert_false(e.retryable);
	skybroker_free(h);
	h = connect_ok(D.admin);
	assert_int_equal(skybroker_stats(h, 2000, &res, &e), 0);
	root = skybroker_result_root(res);
	assert_int_equal(skybroker_value_type(skybroker_value_get(root, "uptime_s")),
			 SKYBROKER_UINT);
	assert_true(skybroker_value_count(skybroker_value_get(root, "requests")) > 0);
	skybroker_result_free(res);
	/* metrics: the Prometheus text, on the admin socket only */
	assert_int_equal(skybroker_metrics(h, 2000, &res, &e), 0);
	assert_non_null(strstr(skybroker_value_string(skybroker_value_get(
		skybroker_result_root(res), "text"), NULL), "# TYPE skybroker_requests_total counter"));
	skybroker_result_free(res);
	skybroker_free(h);
	h = connect_ok(D.socket);
	assert_int_equal(skybroker_metrics(h, 2000, &res, &e), SKYBROKER_E_FORBIDDEN);
	skybroker_free(h);
}

static void test_exchange(void **state)
{
	skybroker *h = connect_ok(D.socket);
	skybroker_result *res;
	struct skybroker_error e;
	const skybroker_value *root, *roles;
	char *t = mint("Viewer"), *json;
	bool viewer = false;

	(void)state;
	assert_int_equal(skybroker_exchange(h, t, 10000, &res, &e), 0);
	root = skybroker_result_root(res);
	assert_string_equal(skybroker_value_string(skybroker_value_get(root, "token_type"), NULL),
			    "Bearer");
	assert_true(skybroker_value_uint(skybroker_value_get(root, "expires_at")) >
		    (uint64_t)time(NULL));
	assert_true(skybroker_value_int(skybroker_value_get(root, "expires_at")) > 0);
	assert_null(skybroker_value_get(root, "access_token")); /* not exposed */
	roles = skybroker_value_get(skybroker_value_get(root, "context"), "roles");
	for (size_t i = 0; i < skybroker_value_count(roles); i++)
		viewer |= strcmp(skybroker_value_string(skybroker_value_at(roles, i), NULL),
				 "Viewer") == 0;
	assert_true(viewer);
	assert_int_equal(skybroker_result_json(res, 0, &json, NULL), 0);
	assert_non_null(strstr(json, "\"token_type\":\"Bearer\""));
	assert_null(strstr(json, "eyJ"));
	skybroker_json_free(json);
	skybroker_result_free(res);
	/* the result is not needed: NULL is fine */
	assert_int_equal(skybroker_exchange(h, t, 10000, NULL, &e), 0);
	skybroker_free(h);
	free(t);
}

static void test_rejected_token_not_retried(void **state)
{
	skybroker *h = connect_ok(D.socket);
	struct skybroker_error e;
	size_t before = sbt_log_count(&D, "op=exchange");

	(void)state;
	assert_int_equal(skybroker_exchange(h, "abc.def.ghi", 5000, NULL, &e),
			 SKYBROKER_E_UNAUTHENTICATED);
	assert_string_equal(e.code_name, "unauthenticated");
	assert_false(e.retryable);
	assert_true(strlen(e.message) > 0);
	assert_int_equal(sbt_log_wait(&D, "outcome=unauthenticated", SBT_TIMEOUT_MS), 0);
	assert_int_equal(sbt_log_count(&D, "op=exchange"), before + 1);
	/* the handle still serves */
	assert_int_equal(skybroker_ping(h, 2000, &e), 0);
	skybroker_free(h);
}

static void test_bad_arguments(void **state)
{
	skybroker *h = connect_ok(D.socket);
	struct skybroker_error e;
	char *long_token = malloc(70000);
	const char *ids[1001];
	struct skybroker_get_records_args g = {.table = "persons"};
	struct skybroker_insert_args ins = {.table = "persons", .records_json = "[{\"a\":1},"};
	struct skybroker_update_args up = {.table = "persons", .skyflow_id = "x",
					   .fields_json = "[1]"};
	struct skybroker_delete_args del = {.table = "persons"};
	struct skybroker_tokenize_args tok = {.column_group = "g"};
	struct skybroker_detokenize_args det = {0};
	size_t reqs = sbt_log_count(&D, "op=");

	(void)state;
	memset(long_token, 'a', 69999);
	long_token[69999] = '\0';
	for (size_t i = 0; i < 1001; i++)
		ids[i] = "id";
	assert_int_equal(skybroker_ping(NULL, 0, &e), SKYBROKER_E_INVALID_ARGUMENT);
	assert_int_equal(skybroker_exchange(h, NULL, 0, NULL, &e), SKYBROKER_E_INVALID_ARGUMENT);
	assert_non_null(strstr(e.message, "subject token"));
	assert_int_equal(skybroker_exchange(h, "", 0, NULL, &e), SKYBROKER_E_INVALID_ARGUMENT);
	assert_int_equal(skybroker_exchange(h, long_token, 0, NULL, &e), SKYBROKER_E_TOO_LARGE);
	assert_int_equal(skybroker_get_records(h, "t.t.t", NULL, 0, NULL, &e),
			 SKYBROKER_E_INVALID_ARGUMENT);
	g.table = NULL;
	assert_int_equal(skybroker_get_records(h, "t.t.t", &g, 0, NULL, &e),
			 SKYBROKER_E_INVALID_ARGUMENT);
	assert_non_null(strstr(e.message, "table"));
	g.table = "persons";
	g.redaction = "plain";
	assert_int_equal(skybroker_get_records(h, "t.t.t", &g, 0, NULL, &e),
			 SKYBROKER_E_INVALID_ARGUMENT);
	assert_non_null(strstr(e.message, "redaction"));
	g.redaction = NULL;
	g.skyflow_ids = ids;
	g.n_skyflow_ids = 1001;
	assert_int_equal(skybroker_get_records(h, "t.t.t", &g, 0, NULL, &e),
			 SKYBROKER_E_TOO_LARGE);
	assert_int_equal(skybroker_insert_records(h, "t.t.t", &ins, 0, NULL, &e),
			 SKYBROKER_E_INVALID_ARGUMENT);
	assert_non_null(strstr(e.message, "at byte"));
	assert_int_equal(skybroker_update_record(h, "t.t.t", &up, 0, NULL, &e),
			 SKYBROKER_E_INVALID_ARGUMENT);
	assert_non_null(strstr(e.message, "JSON object"));
	assert_int_equal(skybroker_delete_records(h, "t.t.t", &del, 0, NULL, &e),
			 SKYBROKER_E_INVALID_ARGUMENT);
	assert_int_equal(skybroker_tokenize(h, "t.t.t", &tok, 0, NULL, &e),
			 SKYBROKER_E_INVALID_ARGUMENT);
	assert_int_equal(skybroker_detokenize(h, "t.t.t", &det, 0, NULL, &e),
			 SKYBROKER_E_INVALID_ARGUMENT);
	assert_int_equal(skybroker_query(h, "t.t.t", NULL, 0, NULL, &e),
			 SKYBROKER_E_INVALID_ARGUMENT);
	/* none of them reached the broker, and the handle still works */
	assert_int_equal(sbt_log_count(&D, "op="), reqs);
	assert_int_equal(skybroker_ping(h, 2000, &e), 0);
	free(long_token);
	skybroker_free(h);
}

/* Every record call reaches the broker and comes back as a broker's answer (ok, or one of
 * the broker's error codes: not a local one). The vault operations' own tests check what
 * the records say. */
static void test_record_calls_reach_the_broker(void **state)
{
	skybroker *h = connect_ok(D.socket);
	struct skybroker_error e;
	char *t = mint("Viewer");
	const char *ids[] = {"f8d2c0de"}, *values[] = {"Ada"}, *toks[] = {"tok-1"};
	struct skybroker_get_records_args gs = {.table = "persons", .limit = 5,
						.redaction = "REDACTED"};
	struct skybroker_get_record_args g1 = {.table = "persons", .skyflow_id = "f8d2c0de"};
	struct skybroker_insert_args ins = {.table = "persons",
					    .records_json = "[{\"name\":\"Grace\"}]"};
	struct skybroker_update_args up = {.table = "persons", .skyflow_id = "f8d2c0de",
					   .fields_json = "{\"name\":\"Grace H\"}"};
	struct skybroker_delete_args del = {.table = "persons", .skyflow_ids = ids,
					    .n_skyflow_ids = 1};
	struct skybroker_detokenize_args det = {.tokens = toks, .n_tokens = 1};
	struct skybroker_tokenize_args tok = {.column_group = "names", .values = values,
					      .n_values = 1};
	int r[8];

	(void)state;
	r[0] = skybroker_get_records(h, t, &gs, 10000, NULL, &e);
	r[1] = skybroker_get_record(h, t, &g1, 10000, NULL, &e);
	r[2] = skybroker_insert_records(h, t, &ins, 10000, NULL, &e);
	r[3] = skybroker_update_record(h, t, &up, 10000, NULL, &e);
	r[4] = skybroker_delete_records(h, t, &del, 10000, NULL, &e);
	r[5] = skybroker_detokenize(h, t, &det, 10000, NULL, &e);
	r[6] = skybroker_tokenize(h, t, &tok, 10000, NULL, &e);
	r[7] = skybroker_query(h, t, "SELECT * FROM persons LIMIT 1", 10000, NULL, &e);
	for (int i = 0; i < 8; i++) {
		print_message("  record call %d -> %s\n", i, skybroker_code_name(r[i]));
		assert_true(r[i] >= SKYBROKER_OK && r[i] <= SKYBROKER_E_INTERNAL);
	}
	assert_int_equal(skybroker_ping(h, 2000, &e), 0);
	skybroker_free(h);
	free(t);
}

static void restart_daemon(void)
{
	sbt_daemon_kill(&D, SIGTERM);
	assert_int_equal(sbt_daemon_wait_exit(&D, SBT_TIMEOUT_MS), 0);
	D.exited = false;
	assert_int_equal(sbt_daemon_start(&D, conf, NULL), 0);
}

static void test_restart_between_calls(void **state)
{
	skybroker *h = connect_ok(D.socket);
	struct skybroker_error e;
	char *t = mint("Viewer");
	skybroker_result *res;

	(void)state;
	assert_int_equal(skybroker_exchange(h, t, 10000, NULL, &e), 0);
	restart_daemon();
	/* the next idempotent call reconnects and succeeds */
	assert_int_equal(skybroker_exchange(h, t, 10000, &res, &e), 0);
	assert_string_equal(skybroker_value_string(
		skybroker_value_get(skybroker_result_root(res), "token_type"), NULL), "Bearer");
	skybroker_result_free(res);
	restart_daemon();
	assert_int_equal(skybroker_health(h, 10000, &res, &e), 0);
	skybroker_result_free(res);
	/* down: the call fails after its retries, quickly, with what to do */
	sbt_daemon_kill(&D, SIGTERM);
	assert_int_equal(sbt_daemon_wait_exit(&D, SBT_TIMEOUT_MS), 0);
	D.exited = false;
	assert_int_equal(skybroker_ping(h, 5000, &e), SKYBROKER_E_UNREACHABLE);
	assert_non_null(strstr(e.message, "skybrokerd"));
	assert_int_equal(sbt_daemon_start(&D, conf, NULL), 0);
	assert_int_equal(skybroker_ping(h, 5000, &e), 0);
	skybroker_free(h);
	free(t);
}

static void test_timeout(void **state)
{
	struct sbt_daemon slow;
	char slow_conf[8192];
	struct skybroker_error e;
	skybroker_result *res;
	skybroker *h;
	long t0, took;

	(void)state;
	sbt_start_one(&slow, slow_conf, sizeof(slow_conf), "test_ping_delay = 5s\n");
	h = connect_ok(slow.socket);
	t0 = now_ms();
	assert_int_equal(skybroker_ping(h, 300, &e), SKYBROKER_E_TIMEOUT);
	took = now_ms() - t0;
	print_message("  ping with a 300 ms timeout against a 5 s ping: %s after %ld ms\n",
		      e.code_name, took);
	assert_true(took >= 290 && took < 2000);
	assert_true(e.retryable);
	/* the late reply must not be taken for the next call's: a new connection answers */
	assert_int_equal(skybroker_health(h, 5000, &res, &e), 0);
	assert_true(skybroker_value_bool(skybroker_value_get(skybroker_result_root(res), "ready")));
	skybroker_result_free(res);
	skybroker_free(h);
	assert_int_equal(sbt_daemon_stop(&slow), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_connect_hello),
		cmocka_unit_test(test_socket_from_environment),
		cmocka_unit_test(test_broker_down),
		cmocka_unit_test(test_ping_health_as_tree_and_json),
		cmocka_unit_test(test_exchange),
		cmocka_unit_test(test_rejected_token_not_retried),
		cmocka_unit_test(test_bad_arguments),
		cmocka_unit_test(test_record_calls_reach_the_broker),
		cmocka_unit_test(test_restart_between_calls),
		cmocka_unit_test(test_timeout),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
