/* emulator_concurrency: 500 connections held open at once (each request parked by a delay
 * fault) must all be answered, in about one delay rather than 500 of them; then a keep-alive
 * throughput run. Measurements are printed. EMU_LOAD_CONNECTIONS overrides the 500. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "harness.h"
#include "util.h"

static struct emu_proc E;
static char *admin;

static int setup(void **state)
{
	if (harness_start(&E) < 0)
		return -1;
	admin = sts_token_for(&E, "Admin", NULL);
	return admin ? 0 : -1;
}

static int teardown(void **state)
{
	free(admin);
	return harness_stop(&E) == 0 ? 0 : -1;
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static size_t discard(char *p, size_t s, size_t n, void *ud)
{
	return s * n;
}

/* Runs total requests to url over at most parallel connections; returns how many got 200. */
static long run_multi(const char *url, long total, long parallel, bool fresh, const char *auth,
		      long *max_running)
{
	CURLM *m = curl_multi_init();
	CURL **h = calloc((size_t)parallel, sizeof(*h));
	struct curl_slist *hdrs = NULL;
	char hv[EMU_MAX_TOKEN_LEN + 64];
	long started = 0, ok = 0;
	int running = 0;

	if (auth) {
		snprintf(hv, sizeof(hv), "Authorization: Bearer %s", auth);
		hdrs = curl_slist_append(hdrs, hv);
	}
	curl_multi_setopt(m, CURLMOPT_MAXCONNECTS, parallel + 16);
	*max_running = 0;
	for (long i = 0; i < parallel && started < total; i++, started++) {
		h[i] = curl_easy_init();
		curl_easy_setopt(h[i], CURLOPT_URL, url);
		curl_easy_setopt(h[i], CURLOPT_CAINFO, E.ca);
		curl_easy_setopt(h[i], CURLOPT_NOSIGNAL, 1L);
		curl_easy_setopt(h[i], CURLOPT_TIMEOUT, 60L);
		curl_easy_setopt(h[i], CURLOPT_WRITEFUNCTION, discard);
		curl_easy_setopt(h[i], CURLOPT_HTTPHEADER, hdrs);
		if (fresh) {
			curl_easy_setopt(h[i], CURLOPT_FRESH_CONNECT, 1L);
			curl_easy_setopt(h[i], CURLOPT_FORBID_REUSE, 1L);
		}
		curl_easy_setopt(h[i], CURLOPT_PRIVATE, (void *)h[i]);
		curl_multi_add_handle(m, h[i]);
	}
	do {
		CURLMsg *msg;
		int left;
		curl_multi_perform(m, &running);
		if (running > *max_running)
			*max_running = running;
		while ((msg = curl_multi_info_read(m, &left))) {
			long code = 0;
			if (msg->msg != CURLMSG_DONE)
				continue;
			CURL *e = msg->easy_handle;
			curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &code);
			if (msg->data.result == CURLE_OK && code == 200)
				ok++;
			else
				fprintf(stderr, "request failed: curl %d, status %ld\n",
					(int)msg->data.result, code);
			curl_multi_remove_handle(m, e);
			if (started < total) {
				started++;
				curl_multi_add_handle(m, e); /* reuse the handle (and its connection) */
				running++;
			}
		}
		if (running)
			curl_multi_poll(m, NULL, 0, 100, NULL);
	} while (running);
	for (long i = 0; i < parallel; i++)
		if (h[i])
			curl_easy_cleanup(h[i]);
	free(h);
	curl_slist_free_all(hdrs);
	curl_multi_cleanup(m);
	return ok;
}

static void hold_500_connections(void **state)
{
	const char *env = getenv("EMU_LOAD_CONNECTIONS");
	long n = 500, running;
	char url[256];
	struct http_resp r;

	if (env)
		emu_parse_long(env, 1, 10000, &n);
	/* every JWKS request is parked for 2 s; they can only all finish in ~2 s if the
	 * emulator holds them open concurrently */
	http_req(&E, "POST", "/emulator/faults", NULL, "application/json",
		 "{\"path_prefix\":\"/v2/keys\",\"delay_ms\":2000,\"count\":0}", &r);
	assert_int_equal(r.status, 200);
	http_resp_free(&r);
	http_req(&E, "POST", "/emulator/stats/reset", NULL, NULL, NULL, &r);
	http_resp_free(&r);
	snprintf(url, sizeof(url), "%s/v2/keys/%s", E.url, E.project_id);
	double t0 = now_s();
	long ok = run_multi(url, n, n, true, NULL, &running);
	double dt = now_s() - t0;
	fprintf(stderr, "%ld concurrent connections (max %ld in flight): %ld x 200 in %.2f s "
			"(each delayed 2 s; serial would take %ld s)\n",
		n, running, ok, dt, 2 * n);
	assert_int_equal(ok, n);
	assert_true(running >= n * 9 / 10);
	assert_true(dt < 20.0);
	http_req(&E, "DELETE", "/emulator/faults", NULL, NULL, NULL, &r);
	http_resp_free(&r);
	json_t *j = http_json(&E, "GET", "/emulator/stats", NULL, NULL, NULL);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(j, "endpoints"),
							    "GET /v2/keys/{project}")),
			 n);
	json_decref(j);
}

static void keepalive_throughput(void **state)
{
	char url[512];
	long running, total = 3000, parallel = 32;

	snprintf(url, sizeof(url), "%s%s/persons?limit=5&redaction=PLAIN_TEXT", E.url, E.vault_path);
	double t0 = now_s();
	long ok = run_multi(url, total, parallel, false, admin, &running);
	double dt = now_s() - t0;
	fprintf(stderr, "get_records throughput: %ld requests over %ld keep-alive connections in "
			"%.2f s = %.0f req/s\n",
		total, parallel, dt, (double)total / dt);
	assert_int_equal(ok, total);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(hold_500_connections),
		cmocka_unit_test(keepalive_throughput),
	};
	return cmocka_run_group_tests_name("emulator_concurrency", tests, setup, teardown);
}
