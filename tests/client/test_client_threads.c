/* SPDX-License-Identifier: MIT */
/*
 * The thread model of libskybroker(3), with 16 threads against a real broker: one handle
 * shared by all of them (their calls pipelined on its connection), and one handle per
 * thread; results made in one thread read and freed in another; a slow call that does not
 * hold up the others. Built a second time with ThreadSanitizer
 * (client_threads_tsan), which fails the test on any data race.
 */
#include <pthread.h>
#include <stdatomic.h>

#include "client/skybroker.h"
#include "exchange_daemon.h"

#define AUDIENCE "https://mcp.example.com/mcp"
#define THREADS 16
#define ROUNDS 40

static struct xe_emu E;
static struct sbt_daemon D;
static char *tokens[4];
static char daemon_conf[16384];

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int group_setup(void **state)
{
	char *cfg = xe_config(NULL), *conf = daemon_conf, extra[256], sub[32];
	size_t len;

	(void)state;
	curl_global_init(CURL_GLOBAL_DEFAULT);
	if (xe_emu_start(&E, cfg) < 0)
		return -1;
	free(cfg);
	sbt_daemon_init(&D);
	len = xd_broker(conf, sizeof(daemon_conf), &D, NULL);
	snprintf(extra, sizeof(extra), "audience = %s\nrate_limit = 0\n", AUDIENCE);
	xd_tenant(conf, sizeof(daemon_conf), len, &E, "acme", "sts", NULL, extra);
	if (sbt_daemon_start(&D, conf, NULL) < 0)
		return -1;
	for (int i = 0; i < 4; i++) {
		snprintf(sub, sizeof(sub), "U2thread%d", i);
		tokens[i] = xd_mint(&E, sub, "Viewer", 600, "{\"aud\":[\"" AUDIENCE "\"]}");
	}
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	sbt_daemon_stop(&D);
	xe_emu_stop(&E);
	for (int i = 0; i < 4; i++)
		free(tokens[i]);
	return 0;
}

struct worker {
	int n;
	skybroker *shared; /* NULL: the worker opens its own handle */
	int failures;
	skybroker_result *handed; /* a result left for the main thread to read and free */
	char first_error[1200];
};

static void failed(struct worker *w, const char *what, const struct skybroker_error *e)
{
	if (w->failures++ == 0)
		snprintf(w->first_error, sizeof(w->first_error), "%s: %s: %.1040s", what, e->code_name,
			 e->message);
}

/* One round: ping, health read as a tree and as JSON, an exchange. */
static void one_round(struct worker *w, skybroker *h, int round)
{
	struct skybroker_error e;
	skybroker_result *res;
	char *json;

	if (skybroker_ping(h, 20000, &e) != 0)
		failed(w, "ping", &e);
	if (skybroker_health(h, 20000, &res, &e) != 0) {
		failed(w, "health", &e);
	} else {
		if (!skybroker_value_bool(skybroker_value_get(skybroker_result_root(res), "ready")) ||
		    skybroker_result_json(res, SKYBROKER_JSON_PRETTY, &json, NULL) != 0)
			failed(w, "health result", &e);
		else
			skybroker_json_free(json);
		skybroker_result_free(res);
	}
	if (skybroker_exchange(h, tokens[(w->n + round) % 4], 20000, &res, &e) != 0) {
		failed(w, "exchange", &e);
		return;
	}
	if (round == ROUNDS - 1 && !w->handed)
		w->handed = res;
	else
		skybroker_result_free(res);
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct skybroker_error e;
	skybroker *h = w->shared;

	if (!h && skybroker_connect(D.socket, "thread-test/1", 20000, &h, &e) != 0) {
		failed(w, "connect", &e);
		return NULL;
	}
	for (int i = 0; i < ROUNDS; i++) {
		one_round(w, h, i);
		if (w->shared && i == ROUNDS / 2)
			skybroker_set_retry(h, 3, 50); /* settings change under the others' feet */
	}
	if (!w->shared)
		skybroker_free(h);
	return NULL;
}

/* Runs 16 workers; returns calls per second. */
static double run_workers(skybroker *shared)
{
	pthread_t t[THREADS];
	struct worker w[THREADS];
	long t0 = now_ms(), took;

	for (int i = 0; i < THREADS; i++) {
		w[i] = (struct worker){.n = i, .shared = shared};
		assert_int_equal(pthread_create(&t[i], NULL, worker_main, &w[i]), 0);
	}
	for (int i = 0; i < THREADS; i++)
		pthread_join(t[i], NULL);
	took = now_ms() - t0;
	for (int i = 0; i < THREADS; i++) {
		if (w[i].failures)
			fail_msg("thread %d: %d failures, first %s", i, w[i].failures,
				 w[i].first_error);
		/* a result made by another thread, read and freed here */
		assert_string_equal(skybroker_value_string(skybroker_value_get(
			skybroker_result_root(w[i].handed), "token_type"), NULL), "Bearer");
		skybroker_result_free(w[i].handed);
	}
	return THREADS * ROUNDS * 3 * 1000.0 / (double)(took ? took : 1);
}

static void test_one_handle_shared_by_16_threads(void **state)
{
	struct skybroker_error e;
	skybroker *h;
	double rate;

	(void)state;
	assert_int_equal(skybroker_connect(D.socket, "thread-test/1", 20000, &h, &e), 0);
	rate = run_workers(h);
	print_message("  16 threads, one shared handle: %d calls, %.0f calls/s\n",
		      THREADS * ROUNDS * 3, rate);
	skybroker_free(h);
}

static void test_one_handle_per_thread(void **state)
{
	double rate;

	(void)state;
	rate = run_workers(NULL);
	print_message("  16 threads, a handle each: %d calls, %.0f calls/s\n",
		      THREADS * ROUNDS * 3, rate);
}

static int cmp_long(const void *a, const void *b)
{
	long x = *(const long *)a, y = *(const long *)b;

	return (x > y) - (x < y);
}

/* A figure, not a check: ping round trips through the library on one handle. */
static void test_ping_latency_one_thread(void **state)
{
	enum { N = 2000 };
	static long us[N];
	struct skybroker_error e;
	struct timespec a, b;
	skybroker *h;

	(void)state;
	assert_int_equal(skybroker_connect(D.socket, "thread-test/1", 20000, &h, &e), 0);
	for (int i = 0; i < N; i++) {
		clock_gettime(CLOCK_MONOTONIC, &a);
		assert_int_equal(skybroker_ping(h, 20000, &e), 0);
		clock_gettime(CLOCK_MONOTONIC, &b);
		us[i] = (b.tv_sec - a.tv_sec) * 1000000 + (b.tv_nsec - a.tv_nsec) / 1000;
	}
	qsort(us, N, sizeof(us[0]), cmp_long);
	print_message("  ping through libskybroker, one handle: p50 %ld us, p99 %ld us\n",
		      us[N / 2], us[N * 99 / 100]);
	skybroker_free(h);
}

struct slow_ping {
	skybroker *h;
	int r;
	long took_ms;
};

static void *slow_ping_main(void *arg)
{
	struct slow_ping *sp = arg;
	struct skybroker_error e;
	long t0 = now_ms();

	sp->r = skybroker_ping(sp->h, 20000, &e);
	sp->took_ms = now_ms() - t0;
	return NULL;
}

/* Calls on a shared handle are pipelined: a slow call in one thread does not hold up the
 * others (the broker's TEST-ONLY test_ping_delay makes every ping take 1 s). */
static void test_slow_call_does_not_block_others(void **state)
{
	struct sbt_daemon slow;
	char conf[8192];
	struct skybroker_error e;
	skybroker_result *res;
	struct slow_ping sp[4];
	pthread_t t[4];
	long t0, took;

	(void)state;
	sbt_start_one(&slow, conf, sizeof(conf), "test_ping_delay = 1s\n");
	assert_int_equal(skybroker_connect(slow.socket, "thread-test/1", 20000, &sp[0].h, &e), 0);
	t0 = now_ms();
	for (int i = 0; i < 4; i++) {
		sp[i].h = sp[0].h;
		assert_int_equal(pthread_create(&t[i], NULL, slow_ping_main, &sp[i]), 0);
	}
	usleep(100 * 1000); /* the four pings are in flight */
	for (int i = 0; i < 20; i++) {
		long c0 = now_ms();

		assert_int_equal(skybroker_health(sp[0].h, 5000, &res, &e), 0);
		skybroker_result_free(res);
		took = now_ms() - c0;
		assert_true(took < 500);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(t[i], NULL);
		assert_int_equal(sp[i].r, 0);
	}
	took = now_ms() - t0;
	print_message("  4 pings of 1 s each in parallel on one handle: %ld ms in all; 20 health "
		      "calls meanwhile, none waited\n", took);
	assert_true(took < 3000); /* in parallel, not 4 s one after the other */
	skybroker_free(sp[0].h);
	assert_int_equal(sbt_daemon_stop(&slow), 0);
}

struct restart_worker {
	skybroker *h;
	atomic_bool *stop;
	int calls, failures;
	char first_error[1200];
};

static void *restart_worker_main(void *arg)
{
	struct restart_worker *w = arg;
	struct skybroker_error e;

	while (!*w->stop) {
		skybroker_result *res;

		w->calls++;
		if (skybroker_health(w->h, 20000, &res, &e) != 0) {
			if (w->failures++ == 0)
				snprintf(w->first_error, sizeof(w->first_error), "%s: %.1040s",
					 e.code_name, e.message);
			continue;
		}
		skybroker_result_free(res);
	}
	return NULL;
}

/* 16 threads keep calling on one handle while the broker is restarted twice: every call
 * succeeds, on whichever connection the handle has by then (idempotent calls reconnect and
 * retry; the retries are raised to outlast a restart). */
static void test_shared_handle_survives_restarts(void **state)
{
	struct restart_worker w[THREADS];
	pthread_t t[THREADS];
	atomic_bool stop = false;
	struct skybroker_error e;
	skybroker *h;
	int calls = 0;

	(void)state;
	assert_int_equal(skybroker_connect(D.socket, "thread-test/1", 20000, &h, &e), 0);
	skybroker_set_retry(h, 40, 50);
	for (int i = 0; i < THREADS; i++) {
		w[i] = (struct restart_worker){.h = h, .stop = &stop};
		assert_int_equal(pthread_create(&t[i], NULL, restart_worker_main, &w[i]), 0);
	}
	for (int k = 0; k < 2; k++) {
		usleep(100 * 1000);
		sbt_daemon_kill(&D, SIGTERM);
		assert_int_equal(sbt_daemon_wait_exit(&D, SBT_TIMEOUT_MS), 0);
		D.exited = false;
		assert_int_equal(sbt_daemon_start(&D, daemon_conf, NULL), 0);
	}
	usleep(100 * 1000);
	stop = true;
	for (int i = 0; i < THREADS; i++) {
		pthread_join(t[i], NULL);
		calls += w[i].calls;
		if (w[i].failures)
			fail_msg("thread %d: %d of %d calls failed, first %s", i, w[i].failures,
				 w[i].calls, w[i].first_error);
	}
	print_message("  16 threads on one handle across 2 broker restarts: %d calls, none "
		      "failed\n", calls);
	skybroker_free(h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ping_latency_one_thread),
		cmocka_unit_test(test_one_handle_shared_by_16_threads),
		cmocka_unit_test(test_one_handle_per_thread),
		cmocka_unit_test(test_slow_call_does_not_block_others),
		cmocka_unit_test(test_shared_handle_survives_restarts),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
