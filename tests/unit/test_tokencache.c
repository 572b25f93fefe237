/* SPDX-License-Identifier: MIT */
/* Token cache: LRU bound, expiry margin, single flight, negative cache, wiping. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tokens/tokencache.h"

#define NOW 1800000000LL

static void key_of(unsigned i, uint8_t key[32])
{
	memset(key, 0, 32);
	/* Spread like a digest would, but deterministic. */
	for (unsigned b = 0; b < 32; b++)
		key[b] = (uint8_t)((i * 2654435761u) >> ((b % 4) * 8)) ^ (uint8_t)b;
	memcpy(key + 28, &i, sizeof(i));
}

struct result {
	unsigned calls;
	int r;
	struct skyflow_token *tok;
	char message[256];
};

static void on_done(struct tokencache_waiter *w, int r, struct skyflow_token *tok,
		    const struct error_detail *err, void *userdata)
{
	struct result *res = userdata;

	res->calls++;
	res->r = r;
	if (tok) {
		assert_int_equal(r, 0);
		assert_null(err);
		res->tok = skyflow_token_ref(tok);
	} else {
		assert_true(r < 0);
		assert_non_null(err);
		snprintf(res->message, sizeof(res->message), "%s", err->message);
	}
}

/* Runs a miss to completion with a token expiring at exp. */
static void fill(struct tokencache *tc, const uint8_t key[32], int64_t exp, int64_t now)
{
	struct tokencache_waiter *w;
	struct tokencache_flight *f;
	struct skyflow_token *tok;
	struct result res = { 0 };

	assert_int_equal(tokencache_acquire(tc, key, now, on_done, &res, &tok, &w, &f, NULL),
			 TOKENCACHE_LEAD);
	tok = skyflow_token_new("sky-token", "Bearer", NULL, exp);
	tokencache_complete(tc, f, 0, tok, NULL, now);
	skyflow_token_unref(tok);
	assert_int_equal(res.calls, 1);
	skyflow_token_unref(res.tok);
}

static void test_hit_and_expiry_margin(void **state)
{
	struct tokencache *tc;
	struct tokencache_waiter *w;
	struct tokencache_flight *f;
	struct skyflow_token *tok;
	struct result res = { 0 };
	uint8_t k[32];

	assert_int_equal(tokencache_new(NULL, &tc), 0);
	key_of(1, k);
	fill(tc, k, NOW + 100, NOW);
	assert_int_equal(tokencache_acquire(tc, k, NOW + 69, on_done, &res, &tok, &w, &f, NULL),
			 TOKENCACHE_HIT);
	assert_non_null(tok);
	assert_string_equal(tok->access_token, "sky-token");
	assert_int_equal(tok->expires_at, NOW + 100);
	assert_null(w);
	skyflow_token_unref(tok);
	/* At expires_at - 30 the entry is no longer served: a new flight starts. */
	assert_int_equal(tokencache_acquire(tc, k, NOW + 70, on_done, &res, &tok, &w, &f, NULL),
			 TOKENCACHE_LEAD);
	assert_null(tok);
	tokencache_complete(tc, f, -EIO, NULL, NULL, NOW + 70);
	assert_int_equal(res.calls, 1);
	assert_int_equal(res.r, -EIO);
	/* A token whose life is shorter than the margin is handed out but not stored. */
	key_of(2, k);
	fill(tc, k, NOW + 20, NOW);
	assert_int_equal(tokencache_acquire(tc, k, NOW, on_done, &res, &tok, &w, &f, NULL),
			 TOKENCACHE_LEAD);
	tokencache_complete(tc, f, -EIO, NULL, NULL, NOW);
	tokencache_free(tc);
}

static void test_lru_bound(void **state)
{
	struct tokencache_config cfg = { .max_entries = 8 };
	struct tokencache_counters c;
	struct tokencache *tc;
	struct tokencache_waiter *w;
	struct tokencache_flight *f;
	struct skyflow_token *tok;
	struct result res = { 0 };
	uint8_t k[32];

	assert_int_equal(tokencache_new(&cfg, &tc), 0);
	for (unsigned i = 0; i < 8; i++) {
		key_of(i, k);
		fill(tc, k, NOW + 3600, NOW);
	}
	/* Touch 0 so that 1 is the least recently used. */
	key_of(0, k);
	assert_int_equal(tokencache_acquire(tc, k, NOW, on_done, &res, &tok, &w, &f, NULL),
			 TOKENCACHE_HIT);
	skyflow_token_unref(tok);
	key_of(100, k);
	fill(tc, k, NOW + 3600, NOW);
	tokencache_get_counters(tc, &c);
	assert_int_equal(c.entries, 8);
	assert_int_equal(c.evicted, 1);
	key_of(0, k);
	assert_int_equal(tokencache_acquire(tc, k, NOW, on_done, &res, &tok, &w, &f, NULL),
			 TOKENCACHE_HIT);
	skyflow_token_unref(tok);
	key_of(1, k);
	assert_int_equal(tokencache_acquire(tc, k, NOW, on_done, &res, &tok, &w, &f, NULL),
			 TOKENCACHE_LEAD);
	tokencache_complete(tc, f, -EIO, NULL, NULL, NOW);
	tokencache_free(tc);
}

static void test_single_flight_1000(void **state)
{
	struct tokencache *tc;
	struct tokencache_flight *leader_flight = NULL;
	struct result *res = calloc(1000, sizeof(*res));
	struct tokencache_counters c;
	struct skyflow_token *tok;
	unsigned leads = 0, waits = 0;
	uint8_t k[32];

	assert_int_equal(tokencache_new(NULL, &tc), 0);
	key_of(7, k);
	for (unsigned i = 0; i < 1000; i++) {
		struct tokencache_waiter *w;
		struct tokencache_flight *f;
		int r = tokencache_acquire(tc, k, NOW, on_done, &res[i], &tok, &w, &f, NULL);

		if (r == TOKENCACHE_LEAD) {
			leads++;
			leader_flight = f;
		} else {
			assert_int_equal(r, TOKENCACHE_WAIT);
			waits++;
		}
	}
	assert_int_equal(leads, 1);
	assert_int_equal(waits, 999);
	for (unsigned i = 0; i < 1000; i++)
		assert_int_equal(res[i].calls, 0);
	tok = skyflow_token_new("shared", "Bearer", NULL, NOW + 3600);
	tokencache_complete(tc, leader_flight, 0, tok, NULL, NOW);
	for (unsigned i = 0; i < 1000; i++) {
		assert_int_equal(res[i].calls, 1);
		assert_ptr_equal(res[i].tok, tok);
		skyflow_token_unref(res[i].tok);
	}
	/* Second wave: all hits. */
	for (unsigned i = 0; i < 1000; i++) {
		struct tokencache_waiter *w;
		struct tokencache_flight *f;
		struct skyflow_token *t2;

		assert_int_equal(tokencache_acquire(tc, k, NOW + 1, on_done, &res[i], &t2, &w, &f,
						    NULL), TOKENCACHE_HIT);
		skyflow_token_unref(t2);
	}
	tokencache_get_counters(tc, &c);
	assert_int_equal(c.flights, 1);
	assert_int_equal(c.joins, 999);
	assert_int_equal(c.hits, 1000);
	skyflow_token_unref(tok);
	tokencache_free(tc);
	free(res);
}

static void test_flight_error_shared_and_negative(void **state)
{
	struct tokencache *tc;
	struct tokencache_waiter *w, *w2, *w3;
	struct tokencache_flight *f, *f2;
	struct error_detail err = { .r = -EPERM, .upstream_status = 403 };
	struct error_detail neg;
	struct skyflow_token *tok;
	struct result a = { 0 }, b = { 0 }, cancelled = { 0 };
	uint8_t k[32];

	assert_int_equal(tokencache_new(NULL, &tc), 0);
	key_of(3, k);
	snprintf(err.message, sizeof(err.message), "denied");
	assert_int_equal(tokencache_acquire(tc, k, NOW, on_done, &a, &tok, &w, &f, NULL),
			 TOKENCACHE_LEAD);
	assert_int_equal(tokencache_acquire(tc, k, NOW, on_done, &b, &tok, &w2, &f2, NULL),
			 TOKENCACHE_WAIT);
	assert_int_equal(tokencache_acquire(tc, k, NOW, on_done, &cancelled, &tok, &w3, &f2, NULL),
			 TOKENCACHE_WAIT);
	tokencache_waiter_cancel(w3);
	tokencache_complete(tc, f, -EPERM, NULL, &err, NOW);
	assert_int_equal(a.calls, 1);
	assert_int_equal(b.calls, 1);
	assert_int_equal(cancelled.calls, 0);
	assert_int_equal(a.r, -EPERM);
	assert_string_equal(b.message, "denied");
	/* Remembered for 10 s: no new flight. */
	assert_int_equal(tokencache_acquire(tc, k, NOW + 5, on_done, &a, &tok, &w, &f, &neg), -EPERM);
	assert_int_equal(neg.upstream_status, 403);
	assert_int_equal(tokencache_acquire(tc, k, NOW + 10, on_done, &a, &tok, &w, &f, NULL),
			 TOKENCACHE_LEAD);
	/* Transient errors are not remembered. */
	err.r = -EIO;
	tokencache_complete(tc, f, -EIO, NULL, &err, NOW + 10);
	assert_int_equal(tokencache_acquire(tc, k, NOW + 10, on_done, &a, &tok, &w, &f, NULL),
			 TOKENCACHE_LEAD);
	tokencache_complete(tc, f, -EIO, NULL, NULL, NOW + 10);
	/* Rejections from validation. */
	key_of(4, k);
	err.r = -EKEYEXPIRED;
	assert_int_equal(tokencache_rejected(tc, k, NOW, &neg), 0);
	tokencache_reject(tc, k, &err, NOW);
	assert_int_equal(tokencache_rejected(tc, k, NOW + 9, &neg), -EKEYEXPIRED);
	assert_int_equal(neg.r, -EKEYEXPIRED);
	assert_int_equal(tokencache_acquire(tc, k, NOW, on_done, &a, &tok, &w, &f, NULL),
			 -EKEYEXPIRED);
	tokencache_sweep(tc, NOW + 11);
	assert_int_equal(tokencache_acquire(tc, k, NOW + 11, on_done, &a, &tok, &w, &f, NULL),
			 TOKENCACHE_LEAD);
	tokencache_complete(tc, f, -EIO, NULL, NULL, NOW + 11);
	tokencache_free(tc);
}

static void test_negative_bounded(void **state)
{
	struct tokencache_config cfg = { .max_negative = 16 };
	struct error_detail err = { .r = -EKEYREJECTED };
	struct tokencache_counters c;
	struct tokencache *tc;
	uint8_t k[32];

	assert_int_equal(tokencache_new(&cfg, &tc), 0);
	for (unsigned i = 0; i < 1000; i++) {
		key_of(i, k);
		tokencache_reject(tc, k, &err, NOW);
	}
	tokencache_get_counters(tc, &c);
	assert_int_equal(c.negative_entries, 16);
	tokencache_free(tc);
}

static unsigned aborted;

static void on_abort(struct tokencache_flight *f, void *userdata)
{
	aborted++;
}

static void test_flights_not_evicted_and_abort(void **state)
{
	struct tokencache_config cfg = { .max_entries = 2 };
	struct tokencache *tc;
	struct tokencache_waiter *w;
	struct tokencache_flight *f1, *f2, *f3;
	struct skyflow_token *tok;
	struct result res = { 0 };
	uint8_t k[32];

	assert_int_equal(tokencache_new(&cfg, &tc), 0);
	key_of(1, k);
	assert_int_equal(tokencache_acquire(tc, k, NOW, on_done, &res, &tok, &w, &f1, NULL),
			 TOKENCACHE_LEAD);
	tokencache_flight_set_abort(f1, on_abort, NULL);
	key_of(2, k);
	assert_int_equal(tokencache_acquire(tc, k, NOW, on_done, &res, &tok, &w, &f2, NULL),
			 TOKENCACHE_LEAD);
	tokencache_flight_set_abort(f2, on_abort, NULL);
	key_of(3, k);
	assert_int_equal(tokencache_acquire(tc, k, NOW, on_done, &res, &tok, &w, &f3, NULL),
			 -ENOSPC);
	aborted = 0;
	tokencache_free(tc);
	assert_int_equal(aborted, 2);
	assert_int_equal(res.calls, 0);
}

static void test_token_wiped(void **state)
{
	struct skyflow_token *t = skyflow_token_new("secret-value", "Bearer", "urn:x", NOW);

	assert_non_null(t);
	assert_ptr_equal(skyflow_token_ref(t), t);
	assert_null(skyflow_token_unref(t));
	assert_string_equal(t->access_token, "secret-value");
	assert_null(skyflow_token_unref(t));
	assert_null(skyflow_token_unref(NULL));
}

static void test_callback_reentrancy(void **state)
{
	/* A waiter's callback acquiring the same key again sees the stored token. */
	struct tokencache *tc;
	struct tokencache_waiter *w;
	struct tokencache_flight *f;
	struct skyflow_token *tok;
	struct result res = { 0 };
	uint8_t k[32];

	assert_int_equal(tokencache_new(NULL, &tc), 0);
	key_of(9, k);
	assert_int_equal(tokencache_acquire(tc, k, NOW, on_done, &res, &tok, &w, &f, NULL),
			 TOKENCACHE_LEAD);
	tok = skyflow_token_new("t", "Bearer", NULL, NOW + 3600);
	tokencache_complete(tc, f, 0, tok, NULL, NOW);
	skyflow_token_unref(tok);
	assert_int_equal(tokencache_acquire(tc, k, NOW, on_done, &res, &tok, &w, &f, NULL),
			 TOKENCACHE_HIT);
	skyflow_token_unref(tok);
	skyflow_token_unref(res.tok);
	tokencache_free(tc);
}

static void test_adopt(void **state)
{
	struct tokencache *a, *b;
	struct tokencache_waiter *w;
	struct tokencache_flight *f;
	struct tokencache_counters c;
	struct skyflow_token *tok;
	struct result res = { 0 };
	uint8_t k[32];

	assert_int_equal(tokencache_new(NULL, &a), 0);
	assert_int_equal(tokencache_new(NULL, &b), 0);
	key_of(1, k);
	fill(a, k, NOW + 3600, NOW);
	key_of(2, k);
	fill(a, k, NOW + 40, NOW); /* only 10 s left to serve at NOW */
	key_of(3, k);
	assert_int_equal(tokencache_acquire(a, k, NOW, on_done, &res, &tok, &w, &f, NULL),
			 TOKENCACHE_LEAD); /* a flight: not copied */
	assert_int_equal(tokencache_adopt(b, a, NOW + 15), 1);
	key_of(1, k);
	assert_int_equal(tokencache_acquire(b, k, NOW + 15, on_done, &res, &tok, &w, &f, NULL),
			 TOKENCACHE_HIT);
	skyflow_token_unref(tok);
	tokencache_get_counters(b, &c);
	assert_int_equal(c.entries, 1);
	/* The source is untouched and both hold the same token. */
	assert_int_equal(tokencache_acquire(a, k, NOW + 15, on_done, &res, &tok, &w, &f, NULL),
			 TOKENCACHE_HIT);
	skyflow_token_unref(tok);
	tokencache_free(a); /* aborts the flight of key 3 (no abort hook set) */
	tokencache_free(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hit_and_expiry_margin),
		cmocka_unit_test(test_lru_bound),
		cmocka_unit_test(test_single_flight_1000),
		cmocka_unit_test(test_flight_error_shared_and_negative),
		cmocka_unit_test(test_negative_bounded),
		cmocka_unit_test(test_flights_not_evicted_and_abort),
		cmocka_unit_test(test_token_wiped),
		cmocka_unit_test(test_callback_reentrancy),
		cmocka_unit_test(test_adopt),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
