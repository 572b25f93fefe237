/* emulator_controls: call counters, every fault kind, the clock, and the health check. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "harness.h"

static struct emu_proc E;
static char *admin;
static char records_path[256];

static int setup(void **state)
{
	if (harness_start(&E) < 0)
		return -1;
	admin = sts_token_for(&E, "Admin", NULL);
	snprintf(records_path, sizeof(records_path), "%s/persons?limit=1", E.vault_path);
	return admin ? 0 : -1;
}

static int teardown(void **state)
{
	free(admin);
	return harness_stop(&E) == 0 ? 0 : -1;
}

static void add_fault(const char *spec)
{
	struct http_resp r;
	http_req(&E, "POST", "/emulator/faults", NULL, "application/json", spec, &r);
	assert_int_equal(r.status, 200);
	http_resp_free(&r);
}

static long count_of(json_t *stats, const char *endpoint)
{
	return (long)json_integer_value(json_object_get(json_object_get(stats, "endpoints"), endpoint));
}

static void stats_count_and_reset(void **state)
{
	long st;
	json_t *j = http_json(&E, "POST", "/emulator/stats/reset", NULL, NULL, &st);
	assert_int_equal(st, 200);
	json_decref(j);
	for (int i = 0; i < 3; i++) {
		j = http_json(&E, "GET", records_path, admin, NULL, &st);
		json_decref(j);
	}
	char *t = sts_token_for(&E, "Viewer", NULL);
	free(t);
	j = http_json(&E, "GET", "/emulator/stats", NULL, NULL, &st);
	assert_int_equal(st, 200);
	assert_int_equal(count_of(j, "GET /v1/vaults/{vault_id}/{table}"), 3);
	assert_int_equal(count_of(j, "POST /v1/auth/sts/token"), 1);
	assert_int_equal(json_integer_value(json_object_get(j, "total")), 4); /* controls not counted */
	json_decref(j);
	j = http_json(&E, "POST", "/emulator/stats/reset", NULL, NULL, &st);
	json_decref(j);
	j = http_json(&E, "GET", "/emulator/stats", NULL, NULL, &st);
	assert_int_equal(json_integer_value(json_object_get(j, "total")), 0);
	json_decref(j);
}

static void fault_status_default_body(void **state)
{
	long st;
	add_fault("{\"path_prefix\":\"/v1/vaults\",\"status\":503,\"count\":2}");
	for (int i = 0; i < 2; i++) {
		json_t *j = http_json(&E, "GET", records_path, admin, NULL, &st);
		assert_int_equal(st, 503);
		assert_skyflow_error(j, 503);
		json_decref(j);
	}
	json_t *j = http_json(&E, "GET", records_path, admin, NULL, &st);
	assert_int_equal(st, 200); /* count used up */
	json_decref(j);
}

static void fault_raw_and_json_body(void **state)
{
	struct http_resp r;
	add_fault("{\"path_prefix\":\"/v1/auth/sts\",\"status\":200,\"body\":\"{not json\"}");
	http_req(&E, "POST", "/v1/auth/sts/token", NULL, "application/json", "{}", &r);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.body, "{not json");
	assert_int_equal(strlen(r.request_id), 36);
	http_resp_free(&r);
	add_fault("{\"path_prefix\":\"/v1/vaults\",\"status\":429,"
		  "\"body\":{\"error\":{\"message\":\"slow down\"}}}");
	http_req(&E, "GET", records_path, admin, NULL, NULL, &r);
	assert_int_equal(r.status, 429);

	json_t *j = json_loadb(r.body, r.len, 0, NULL);
	assert_string_equal(json_string_value(json_object_get(json_object_get(j, "error"), "message")),
			    "slow down");
	json_decref(j);
	http_resp_free(&r);
}

static void fault_drop(void **state)
{
	struct http_resp r;
	add_fault("{\"path_prefix\":\"/v1/vaults\",\"drop\":true}");
	harness_fresh_connect = true;
	http_req(&E, "GET", records_path, admin, NULL, NULL, &r);
	harness_fresh_connect = false;
	assert_int_equal(r.rc, CURLE_GOT_NOTHING);
	http_resp_free(&r);
	http_req(&E, "GET", records_path, admin, NULL, NULL, &r);
	assert_int_equal(r.rc, CURLE_OK);
	assert_int_equal(r.status, 200);
	http_resp_free(&r);
}

struct delayed_call {
	struct emu_proc *e;
	double seconds;
	long status;
};

static void *delayed_thread(void *arg)
{
	struct delayed_call *c = arg;
	/* a separate handle: the shared one belongs to the main thread */
	CURL *h = curl_easy_init();
	char url[512];
	snprintf(url, sizeof(url), "%s%s", c->e->url, "/v2/keys/slow");
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_CAINFO, c->e->ca);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, fwrite);
	FILE *devnull = fopen("/dev/null", "we");
	curl_easy_setopt(h, CURLOPT_WRITEDATA, devnull);
	curl_easy_perform(h);
	curl_easy_getinfo(h, CURLINFO_TOTAL_TIME, &c->seconds);
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &c->status);
	fclose(devnull);
	curl_easy_cleanup(h);
	return NULL;
}

static void fault_delay_does_not_block(void **state)
{
	struct delayed_call c = {&E, 0, 0};
	pthread_t th;
	struct http_resp r;

	/* a delay alone passes through to the real handler afterwards (404: unknown project) */
	add_fault("{\"path_prefix\":\"/v2/keys/slow\",\"delay_ms\":1500}");
	pthread_create(&th, NULL, delayed_thread, &c);
	struct timespec ts = {0, 200 * 1000000L};
	nanosleep(&ts, NULL);
	for (int i = 0; i < 5; i++) {
		http_req(&E, "GET", records_path, admin, NULL, NULL, &r);
		assert_int_equal(r.status, 200);
		assert_true(r.seconds < 1.0); /* not stuck behind the delayed request */
		http_resp_free(&r);
	}
	pthread_join(th, NULL);
	assert_true(c.seconds >= 1.4);
	assert_int_equal(c.status, 404);
	/* delay combined with a status */
	add_fault("{\"path_prefix\":\"/v1/vaults\",\"delay_ms\":300,\"status\":500}");
	http_req(&E, "GET", records_path, admin, NULL, NULL, &r);
	assert_int_equal(r.status, 500);
	assert_true(r.seconds >= 0.29);
	http_resp_free(&r);
}

static void fault_list_clear_and_validation(void **state)
{
	long st;
	add_fault("{\"path_prefix\":\"/v1/vaults\",\"status\":500,\"count\":0}"); /* unlimited */
	json_t *j = http_json(&E, "GET", "/emulator/faults", NULL, NULL, &st);
	assert_int_equal(json_array_size(json_object_get(j, "faults")), 1);
	json_decref(j);
	for (int i = 0; i < 3; i++) {
		j = http_json(&E, "GET", records_path, admin, NULL, &st);
		assert_int_equal(st, 500);
		json_decref(j);
	}
	j = http_json(&E, "DELETE", "/emulator/faults", NULL, NULL, &st);
	assert_int_equal(st, 200);
	json_decref(j);
	j = http_json(&E, "GET", records_path, admin, NULL, &st);
	assert_int_equal(st, 200);
	json_decref(j);
	const char *bad[] = {"{}", "{\"status\":99}", "{\"status\":\"x\"}", "{\"delay_ms\":-1}",
			     "{\"drop\":1}", "{\"path_prefix\":5,\"status\":500}", "nope"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct http_resp r;
		http_req(&E, "POST", "/emulator/faults", NULL, "application/json", bad[i], &r);
		assert_int_equal(r.status, 400);
		http_resp_free(&r);
	}
	/* controls are never faulted */
	add_fault("{\"path_prefix\":\"/\",\"status\":500,\"count\":0}");
	j = http_json(&E, "GET", "/emulator/health", NULL, NULL, &st);
	assert_int_equal(st, 200);
	json_decref(j);
	j = http_json(&E, "DELETE", "/emulator/faults", NULL, NULL, &st);
	json_decref(j);
}

static void clock_offset(void **state)
{
	long st;
	json_t *c = json_pack("{s:i}", "offset_s", 1000);
	json_t *j = http_json(&E, "POST", "/emulator/clock", NULL, c, &st);
	assert_int_equal(st, 200);
	assert_int_equal(json_integer_value(json_object_get(j, "offset_s")), 1000);
	long now = (long)json_integer_value(json_object_get(j, "now"));
	assert_true(labs(now - (long)time(NULL) - 1000) < 5);
	json_decref(j);
	/* minted tokens use the shifted clock */
	json_t *spec = json_pack("{s:s}", "sub", "U1");
	char *t = mint_descope(&E, spec);
	json_t *p = jwt_payload(t);
	assert_true(labs((long)json_integer_value(json_object_get(p, "iat")) - (long)time(NULL) - 1000) < 5);
	json_decref(p);
	free(t);
	json_decref(spec);
	json_object_set_new(c, "offset_s", json_integer(0));
	j = http_json(&E, "POST", "/emulator/clock", NULL, c, &st);
	json_decref(j);
	j = http_json(&E, "GET", "/emulator/clock", NULL, NULL, &st);
	assert_int_equal(json_integer_value(json_object_get(j, "offset_s")), 0);
	json_decref(j);
	json_object_set_new(c, "offset_s", json_string("x"));
	j = http_json(&E, "POST", "/emulator/clock", NULL, c, &st);
	assert_int_equal(st, 400);
	json_decref(j);
	json_decref(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(stats_count_and_reset),
		cmocka_unit_test(fault_status_default_body),
		cmocka_unit_test(fault_raw_and_json_body),
		cmocka_unit_test(fault_drop),
		cmocka_unit_test(fault_delay_does_not_block),
		cmocka_unit_test(fault_list_clear_and_validation),
		cmocka_unit_test(clock_offset),
	};
	return cmocka_run_group_tests_name("emulator_controls", tests, setup, teardown);
}
