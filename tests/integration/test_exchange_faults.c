/* SPDX-License-Identifier: MIT */
/*
 * Upstream failures at the emulator (POST /emulator/faults): 500, a delay past the timeout, a
 * dropped connection, malformed JSON, 429 and 401 each give the right error, with the one
 * retry where it is allowed, and the daemon stays healthy. A wrong CA gives a clear TLS error
 * and keeps the tenant not ready.
 */
#include "exchange_daemon.h"

#define STS_EP "POST /v1/auth/sts/token"

static struct xe_emu E;
static struct sbt_daemon D;
static struct sbt_client *C;
static unsigned serial;

static int group_setup(void **state)
{
	char *cfg = xe_config(NULL), conf[8192];
	size_t len;

	curl_global_init(CURL_GLOBAL_DEFAULT);
	if (xe_emu_start(&E, cfg) < 0)
		return -1;
	free(cfg);
	sbt_daemon_init(&D);
	len = xd_broker(conf, sizeof(conf), &D, NULL);
	len = xd_tenant(conf, sizeof(conf), len, &E, "acme", "sts", NULL, NULL);
	(void)len;
	if (sbt_daemon_start(&D, conf, NULL) < 0)
		return -1;
	C = xd_client(D.socket);
	return 0;
}

static int group_teardown(void **state)
{
	sbt_client_free(C);
	xd_stop_clean(&D);
	xe_emu_stop(&E);
	return 0;
}

struct result {
	bool ok;
	char code[32];
	bool retryable;
	uint64_t upstream_status;
	long calls;
	char message[256];
};

/* Installs fault (JSON text, applied to the STS path) and exchanges a fresh token. */
static void exchange_with_fault(const char *fault, struct result *res)
{
	char sub[32];
	char *t;
	struct sb_reply rep;
	long before;

	xe_reset(&E);
	if (fault) {
		json_t *f = json_loads(fault, 0, NULL);

		assert_non_null(f);
		json_object_set_new(f, "path_prefix", json_string("/v1/auth/sts/token"));
		xe_fault(&E, f);
	}
	snprintf(sub, sizeof(sub), "U2fault%u", ++serial);
	t = xd_mint(&E, sub, "Viewer", 600, NULL);
	before = xe_count(&E, STS_EP);
	xd_exchange(C, t, &rep);
	memset(res, 0, sizeof(*res));
	res->ok = rep.ok;
	snprintf(res->code, sizeof(res->code), "%s", sbt_outcome(&rep));
	if (!rep.ok) {
		res->retryable = rep.error.retryable;
		res->upstream_status = rep.error.upstream_status.set ? rep.error.upstream_status.v : 0;
		snprintf(res->message, sizeof(res->message), "%s",
			 rep.error.message ? rep.error.message : "");
	}
	sb_reply_done(&rep);
	res->calls = xe_count(&E, STS_EP) - before;
	print_message("  %-44s -> %s%s%s (%ld STS call%s)\n", fault ? fault : "(none)", res->code,
		      res->message[0] ? ": " : "", res->message, res->calls,
		      res->calls == 1 ? "" : "s");
	/* The daemon stays healthy whatever upstream did. */
	assert_int_equal(sbt_ping(C), 0);
	assert_int_equal(xd_health(C, NULL, 0), 1);
	free(t);
}

static void test_500(void **state)
{
	struct result r;

	exchange_with_fault("{\"status\":500,\"count\":1}", &r);
	assert_true(r.ok); /* the retry succeeded */
	assert_int_equal(r.calls, 2);
	exchange_with_fault("{\"status\":500,\"count\":2}", &r);
	assert_false(r.ok);
	assert_string_equal(r.code, "upstream_unavailable");
	assert_true(r.retryable);
	assert_int_equal(r.upstream_status, 500);
	assert_int_equal(r.calls, 2); /* exactly one retry */
	exchange_with_fault("{\"status\":503,\"count\":2}", &r);
	assert_string_equal(r.code, "upstream_unavailable");
}

static void test_delay_past_timeout(void **state)
{
	struct result r;

	/* http_timeout is 2 s: a 3 s delay times out, and a timeout is not retried. */
	exchange_with_fault("{\"delay_ms\":3000,\"count\":1}", &r);
	assert_false(r.ok);
	assert_string_equal(r.code, "upstream_unavailable");
	assert_true(r.retryable);
	assert_int_equal(r.calls, 1);
	assert_non_null(strstr(r.message, "imeout") ? strstr(r.message, "imeout")
						     : strstr(r.message, "timed out"));
}

static void test_dropped_connection(void **state)
{
	struct result r;

	exchange_with_fault("{\"drop\":true,\"count\":1}", &r);
	assert_true(r.ok);
	assert_int_equal(r.calls, 2);
	/*
	 * Every connection dropped. Our one retry makes two attempts; libcurl itself may add one
	 * more when the first attempt rode a kept-alive connection that died before answering
	 * (it cannot tell that from a stale connection), hence 2 or 3 calls.
	 */
	exchange_with_fault("{\"drop\":true,\"count\":-1}", &r);
	assert_false(r.ok);
	assert_string_equal(r.code, "upstream_unavailable");
	assert_true(r.retryable);
	assert_true(r.calls >= 2 && r.calls <= 3);
}

static void test_malformed_json(void **state)
{
	struct result r;

	exchange_with_fault("{\"body\":\"{oops\",\"count\":1}", &r);
	assert_false(r.ok);
	assert_string_equal(r.code, "upstream_unavailable");
	assert_int_equal(r.calls, 1);
	assert_non_null(strstr(r.message, "malformed"));
	exchange_with_fault("{\"body\":{\"tokenType\":\"Bearer\"},\"count\":1}", &r);
	assert_string_equal(r.code, "upstream_unavailable");
}

static void test_429(void **state)
{
	struct result r;

	exchange_with_fault("{\"status\":429,\"count\":1}", &r);
	assert_false(r.ok);
	assert_string_equal(r.code, "rate_limited");
	assert_true(r.retryable);
	assert_int_equal(r.upstream_status, 429);
	assert_int_equal(r.calls, 1);
}

static void test_401_denied_and_remembered(void **state)
{
	struct result r;
	struct sb_reply rep;
	char *t;
	long before;

	exchange_with_fault("{\"status\":401,\"count\":1}", &r);
	assert_false(r.ok);
	assert_string_equal(r.code, "upstream_denied");
	assert_false(r.retryable);
	assert_int_equal(r.upstream_status, 401);
	assert_int_equal(r.calls, 1);
	exchange_with_fault("{\"status\":403,\"count\":1}", &r);
	assert_string_equal(r.code, "upstream_denied");
	/* A refused token is remembered briefly: the same token again costs no call. */
	xe_reset(&E);
	xe_fault(&E, json_pack("{s:s, s:i, s:i}", "path_prefix", "/v1/auth/sts/token", "status",
			       403, "count", 1));
	t = xd_mint(&E, "U2denied", "Viewer", 600, NULL);
	xd_exchange(C, t, &rep);
	assert_string_equal(sbt_outcome(&rep), "upstream_denied");
	sb_reply_done(&rep);
	before = xe_count(&E, STS_EP);
	xd_exchange(C, t, &rep);
	assert_string_equal(sbt_outcome(&rep), "upstream_denied");
	sb_reply_done(&rep);
	assert_int_equal(xe_count(&E, STS_EP), before);
	free(t);
}

static void test_client_gone_during_exchange(void **state)
{
	struct sbt_client *c = xd_client(D.socket);
	char *t = xd_mint(&E, "U2gone", "Viewer", 600, NULL);

	xe_reset(&E);
	xe_fault(&E, json_pack("{s:s, s:i, s:i}", "path_prefix", "/v1/auth/sts/token", "delay_ms",
			       1000, "count", 1));
	xd_send(c, t);
	sbt_client_free(c); /* gone while the exchange is upstream */
	/* The daemon serves others; the exchange completed and filled the cache for later. */
	assert_int_equal(sbt_ping(C), 0);
	usleep(1500 * 1000);
	{
		struct sb_reply rep;
		long before = xe_count(&E, STS_EP);

		xd_exchange(C, t, &rep);
		assert_true(rep.ok);
		sb_reply_done(&rep);
		assert_int_equal(xe_count(&E, STS_EP), before);
	}
	free(t);
}

static void test_wrong_ca(void **state)
{
	struct sbt_daemon d2;
	char conf[8192], otherca[PATH_MAX], dir[1024], reason[512];
	char *argv[] = { (char *)"/bin/sh", NULL, dir, NULL };
	char mkca[PATH_MAX];
	const char *args[6];
	struct xe_emu wrong = E;
	struct sbt_client *c;
	struct sb_reply rep;
	char *t;
	size_t len;

	sbt_daemon_init(&d2);
	snprintf(dir, sizeof(dir), "%s/otherca", d2.dir);
	snprintf(mkca, sizeof(mkca), "%s/tests/tls/mkca.sh", getenv("SKYBROKER_SOURCE_DIR"));
	argv[1] = mkca;
	assert_int_equal(xe_run(argv), 0);
	snprintf(otherca, sizeof(otherca), "%s/ca.pem", dir);
	snprintf(wrong.ca, sizeof(wrong.ca), "%s", otherca);
	len = xd_broker(conf, sizeof(conf), &d2, NULL);
	len = xd_tenant(conf, sizeof(conf), len, &wrong, "acme", "sts", NULL, NULL);
	(void)len;
	sbt_write_file(d2.conf, conf, 0644);
	args[0] = sbt_daemon_path();
	args[1] = "--config";
	args[2] = d2.conf;
	args[3] = "--allow-root";
	args[4] = NULL;
	assert_int_equal(sbt_daemon_spawn(&d2, args, NULL), 0);
	assert_int_equal(sbt_log_wait(&d2, "TLS failure", SBT_TIMEOUT_MS), 0);
	assert_true(sbt_log_contains(&d2, "check ca_file"));
	c = xd_client(d2.socket);
	assert_int_equal(xd_health(c, reason, sizeof(reason)), 0);
	print_message("  wrong CA: health reason: %s\n", reason);
	assert_non_null(strstr(reason, "TLS"));
	t = xd_mint(&E, "U2ca", "Viewer", 600, NULL);
	xd_exchange(c, t, &rep);
	assert_string_equal(sbt_outcome(&rep), "upstream_unavailable");
	sb_reply_done(&rep);
	free(t);
	sbt_client_free(c);
	xd_stop_clean(&d2);
}

/* Credentials that do not parse keep a ctx tenant not ready, with the reason in health. */
static void test_bad_credentials_not_ready(void **state)
{
	struct sbt_daemon d2;
	struct xe_emu bad = E;
	char conf[8192], reason[512];
	const char *args[5];
	struct sbt_client *c;
	size_t len;

	sbt_daemon_init(&d2);
	snprintf(bad.credentials, sizeof(bad.credentials), "%s/bad-credentials.json", d2.dir);
	sbt_write_file(bad.credentials,
		       "{\"clientID\":\"c\",\"keyID\":\"k\",\"tokenURI\":\"https://x/t\","
		       "\"privateKey\":\"-----BEGIN PRIVATE KEY-----\\nnot a key\\n-----END PRIVATE KEY-----\\n\"}",
		       0600);
	len = xd_broker(conf, sizeof(conf), &d2, NULL);
	len = xd_tenant(conf, sizeof(conf), len, &bad, "acme", "ctx", NULL, NULL);
	(void)len;
	sbt_write_file(d2.conf, conf, 0644);
	args[0] = sbt_daemon_path();
	args[1] = "--config";
	args[2] = d2.conf;
	args[3] = "--allow-root";
	args[4] = NULL;
	assert_int_equal(sbt_daemon_spawn(&d2, args, NULL), 0);
	assert_int_equal(sbt_log_wait(&d2, "JWKS loaded", SBT_TIMEOUT_MS), 0);
	c = xd_client(d2.socket);
	assert_int_equal(xd_health(c, reason, sizeof(reason)), 0);
	print_message("  bad credentials: health reason: %s\n", reason);
	assert_non_null(strstr(reason, "credentials"));
	sbt_client_free(c);
	xd_stop_clean(&d2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_500),
		cmocka_unit_test(test_delay_past_timeout),
		cmocka_unit_test(test_dropped_connection),
		cmocka_unit_test(test_malformed_json),
		cmocka_unit_test(test_429),
		cmocka_unit_test(test_401_denied_and_remembered),
		cmocka_unit_test(test_client_gone_during_exchange),
		cmocka_unit_test(test_wrong_ca),
		cmocka_unit_test(test_bad_credentials_not_ready),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
