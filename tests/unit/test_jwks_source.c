/* SPDX-License-Identifier: MIT */
/* JWKS fetching: readiness, refresh, unknown-kid refetch rate limit, last good set kept. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "util/log.h"
#include "tokens/jwks.h"
#include "testhttp.h"
#include "testjwt.h"

static sd_event *event;
static struct upstream *up;
static struct th_server *srv;
static EVP_PKEY *k1, *k2;
static char *set1, *set12;
static const char *serving; /* NULL: answer 500 */
static unsigned changes;

static void handler(struct th_server *s, unsigned n, const char *method, const char *path,
		    const char *body, struct th_reply *reply)
{
	if (serving) {
		reply->body = serving;
	} else {
		reply->status = 500;
		reply->body = "{}";
	}
}

static void on_change(struct jwks_source *src, bool ready, void *userdata)
{
	changes++;
}

static int setup(void **state)
{
	log_set_max_level(LOG_CRIT);
	assert_int_equal(sd_event_new(&event), 0);
	assert_int_equal(upstream_new(event, &up), 0);
	srv = th_start(event, handler, NULL);
	k1 = tj_rsa(2048);
	k2 = tj_ec();
	set1 = tj_jwks_text(tj_jwk(k1, "K1", NULL, NULL), NULL);
	set12 = tj_jwks_text(tj_jwk(k1, "K1", NULL, NULL), tj_jwk(k2, "K2", NULL, NULL), NULL);
	return 0;
}

static int teardown(void **state)
{
	free(set1);
	free(set12);
	EVP_PKEY_free(k1);
	EVP_PKEY_free(k2);
	upstream_free(up);
	th_stop(srv);
	sd_event_unref(event);
	return 0;
}

static struct jwks_source *source(uint32_t refresh, uint32_t min_refetch)
{
	struct jwks_source_config cfg = {
		.name = "t1",
		.refresh_sec = refresh,
		.min_refetch_sec = min_refetch,
		.retry_sec = 1,
		.http = { .insecure_http = true, .total_timeout_ms = 1000, .retry_base_ms = 10 },
	};
	struct jwks_source *src = NULL;
	char url[128];

	snprintf(url, sizeof(url), "http://127.0.0.1:%d/P2/.well-known/jwks.json", srv->port);
	cfg.url = url;
	assert_int_equal(jwks_source_new(event, up, &cfg, on_change, NULL, &src), 0);
	return src;
}

static void spin(unsigned ms)
{
	int never = 0;

	th_run_until(event, &never, ms);
}

struct waited {
	int done;
	bool found;
};

static void on_wait(struct jwks_wait *w, bool found, void *userdata)
{
	struct waited *o = userdata;

	o->done++;
	o->found = found;
}

static void test_start_and_readiness(void **state)
{
	struct jwks_source *src;
	int ready = 0;

	serving = set1;
	changes = 0;
	src = source(600, 30);
	assert_false(jwks_source_ready(src));
	assert_null(jwks_source_keys(src));
	assert_non_null(strstr(jwks_source_status(src), "not loaded"));
	assert_int_equal(jwks_source_start(src), 0);
	for (int i = 0; i < 300 && !ready; i++) {
		sd_event_run(event, 10000);
		ready = jwks_source_ready(src);
	}
	assert_true(ready);
	assert_int_equal(changes, 1);
	assert_non_null(jwks_find(jwks_source_keys(src), "K1"));
	assert_string_equal(jwks_source_status(src), "ok");
	assert_int_equal(jwks_source_fetches(src), 1);
	jwks_source_free(src);
}

static void test_not_ready_until_loaded(void **state)
{
	struct jwks_source *src;

	serving = NULL; /* endpoint down */
	src = source(600, 30);
	assert_int_equal(jwks_source_start(src), 0);
	spin(300);
	assert_false(jwks_source_ready(src));
	assert_non_null(strstr(jwks_source_status(src), "500"));
	serving = set1; /* comes back: the retry after 1 s loads it */
	for (int i = 0; i < 50 && !jwks_source_ready(src); i++)
		spin(100);
	assert_true(jwks_source_ready(src));
	jwks_source_free(src);
}

static void test_unknown_kid_refetch_rate_limited(void **state)
{
	struct jwks_source *src;
	struct jwks_wait *w = NULL;
	struct waited a = { 0 }, b = { 0 }, c = { 0 };
	uint64_t fetches;

	serving = set1;
	src = source(600, 1);
	assert_int_equal(jwks_source_start(src), 0);
	spin(300);
	assert_true(jwks_source_ready(src));
	fetches = jwks_source_fetches(src);

	/* Rotation: K2 appears. The first unknown kid refetches; a second joins that fetch. */
	serving = set12;
	assert_int_equal(jwks_source_refetch_for_kid(src, "K2", on_wait, &a, &w), 1);
	assert_int_equal(jwks_source_refetch_for_kid(src, "K9", on_wait, &b, &w), 1);
	assert_true(th_run_until(event, &b.done, 3000));
	assert_int_equal(a.done, 1);
	assert_true(a.found);
	assert_false(b.found);
	assert_int_equal(jwks_source_fetches(src), fetches + 1);
	assert_non_null(jwks_find(jwks_source_keys(src), "K2"));

	/* A flood right after: no fetch at all. */
	for (int i = 0; i < 1000; i++)
		assert_int_equal(jwks_source_refetch_for_kid(src, "K9", on_wait, &c, &w), -EAGAIN);
	assert_int_equal(jwks_source_fetches(src), fetches + 1);
	/* After min_refetch (1 s here) one more is allowed. */
	spin(1100);
	assert_int_equal(jwks_source_refetch_for_kid(src, "K9", on_wait, &c, &w), 1);
	jwks_wait_cancel(w);
	spin(300);
	assert_int_equal(c.done, 0);
	assert_int_equal(jwks_source_fetches(src), fetches + 2);
	jwks_source_free(src);
}

static void test_last_good_kept_and_refresh(void **state)
{
	struct jwks_source *src;
	uint64_t fetches;

	serving = set12;
	src = source(1, 30);
	assert_int_equal(jwks_source_start(src), 0);
	spin(300);
	assert_true(jwks_source_ready(src));
	fetches = jwks_source_fetches(src);
	/* Endpoint fails and later serves garbage: the set stays. */
	serving = NULL;
	spin(1300);
	assert_true(jwks_source_fetches(src) > fetches);
	assert_true(jwks_source_ready(src));
	assert_non_null(jwks_find(jwks_source_keys(src), "K2"));
	serving = "{\"keys\":\"garbage\"}";
	spin(1500);
	assert_non_null(jwks_find(jwks_source_keys(src), "K2"));
	/* Periodic refresh picks up a shrunk set. */
	serving = set1;
	for (int i = 0; i < 50 && jwks_find(jwks_source_keys(src), "K2"); i++)
		spin(100);
	assert_null(jwks_find(jwks_source_keys(src), "K2"));
	assert_non_null(jwks_find(jwks_source_keys(src), "K1"));
	jwks_source_free(src);
}

/* A waiter's callback frees the source (its owner's last reference went): the fetch
 * completion neither touches the freed source nor calls the other waiters or changed. */
struct freeing {
	struct jwks_source *src;
	int done;
};

static void on_wait_free(struct jwks_wait *w, bool found, void *userdata)
{
	struct freeing *f = userdata;

	f->done++;
	f->src = jwks_source_free(f->src);
}

static void test_free_from_waiter_callback(void **state)
{
	struct jwks_source *src;
	struct jwks_wait *w = NULL;
	struct freeing f = { 0 };
	struct waited b = { 0 };
	unsigned before;
	int never = 0;

	serving = set1;
	src = source(600, 0);
	assert_int_equal(jwks_source_start(src), 0);
	spin(300);
	assert_true(jwks_source_ready(src));
	before = changes;
	f.src = src;
	/* b waits first, so it comes after f in the waiter list: freed, never called. */
	assert_int_equal(jwks_source_refetch_for_kid(src, "K7", on_wait, &b, &w), 1);
	assert_int_equal(jwks_source_refetch_for_kid(src, "K8", on_wait_free, &f, &w), 1);
	assert_true(th_run_until(event, &f.done, 3000));
	th_run_until(event, &never, 100);
	assert_int_equal(f.done, 1);
	assert_null(f.src);
	assert_int_equal(b.done, 0);
	assert_int_equal(changes, before);
}

/* An attacker-chosen kid is logged only when it is a plain word. */
static char logged[1024];

static void capture(const char *message, void *userdata)
{
	if (strstr(message, "unknown kid"))
		(void)snprintf(logged, sizeof(logged), "%s", message);
}

static void test_unknown_kid_logged_sanitised(void **state)
{
	static const char *const bad[] = {
		"k\nFAKE tenant=other: JWKS loaded", "k\"quoted", "k id", "k\x1b[31m",
		"kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk",
	};
	struct jwks_source *src;
	struct jwks_wait *w = NULL;
	struct waited a = { 0 };

	serving = set1;
	log_set_capture(capture, NULL);
	log_set_max_level(LOG_DEBUG);
	for (size_t i = 0; i <= sizeof(bad) / sizeof(bad[0]); i++) {
		const char *kid = i < sizeof(bad) / sizeof(bad[0]) ? bad[i] : "P2abc-DEF_1.x";

		/* A new source each time: the unknown-kid refetch is rate-limited per source. */
		src = source(600, 30);
		assert_int_equal(jwks_source_start(src), 0);
		spin(200);
		logged[0] = '\0';
		a.done = 0;
		assert_int_equal(jwks_source_refetch_for_kid(src, kid, on_wait, &a, &w), 1);
		assert_true(th_run_until(event, &a.done, 3000));
		if (kid == bad[0] || i < sizeof(bad) / sizeof(bad[0])) {
			assert_non_null(strstr(logged, "unknown kid '(not shown)'"));
			assert_null(strstr(logged, "FAKE"));
			assert_null(strchr(logged, '\n'));
			assert_null(strchr(logged, '\x1b'));
			assert_null(strstr(logged, "k\""));
		} else {
			assert_non_null(strstr(logged, "unknown kid 'P2abc-DEF_1.x'"));
		}
		jwks_source_free(src);
	}
	log_set_capture(NULL, NULL);
	log_set_max_level(LOG_CRIT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_start_and_readiness),
		cmocka_unit_test(test_not_ready_until_loaded),
		cmocka_unit_test(test_unknown_kid_refetch_rate_limited),
		cmocka_unit_test(test_last_good_kept_and_refresh),
		cmocka_unit_test(test_free_from_waiter_callback),
		cmocka_unit_test(test_unknown_kid_logged_sanitised),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
