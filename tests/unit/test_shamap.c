/* SPDX-License-Identifier: MIT */
/* Unit tests of broker/util/shamap: the bounded SHA-256-keyed map with LRU eviction. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "util/shamap.h"

/* Values are heap ints; the free function records what it freed. */
#define MAX_FREED 64
static unsigned n_freed;
static int freed[MAX_FREED];

static void val_free(void *v)
{
	int *p = v;

	if (n_freed < MAX_FREED)
		freed[n_freed] = *p;
	n_freed++;
	free(p);
}

static int *val(int id)
{
	int *p = malloc(sizeof(*p));

	assert_non_null(p);
	*p = id;
	return p;
}

static int id_of(const void *v)
{
	return v ? *(const int *)v : -1;
}

static void reset_freed(void)
{
	n_freed = 0;
	memset(freed, 0, sizeof(freed));
}

/* A key whose 32 bytes all derive from n (distinct n give distinct keys). */
static void key_of(uint8_t k[SHAMAP_KEY_SIZE], uint32_t n)
{
	for (unsigned i = 0; i < SHAMAP_KEY_SIZE; i++)
		k[i] = (uint8_t)((n >> (8 * (i % 4))) ^ (i * 31u));
}

/* Keys that agree on their first 24 bytes (so on whatever selects a bucket) and differ only
 * in the last ones: a worst-case chain. */
static void key_colliding(uint8_t k[SHAMAP_KEY_SIZE], uint32_t n)
{
	memset(k, 0xAB, SHAMAP_KEY_SIZE);
	memcpy(k + SHAMAP_KEY_SIZE - sizeof(n), &n, sizeof(n));
}

static struct shamap *new_map(size_t max)
{
	struct shamap *m = NULL;

	assert_int_equal(shamap_new(max, val_free, &m), 0);
	assert_non_null(m);
	reset_freed();
	return m;
}

/* foreach collector: ids in iteration order */
struct order {
	int ids[64];
	size_t n;
};

static void collect(const uint8_t *key, void *value, void *ud)
{
	struct order *o = ud;

	(void)key;
	assert_true(o->n < 64);
	o->ids[o->n++] = id_of(value);
}

static void assert_order(const struct shamap *m, const int *want, size_t n)
{
	struct order o = {.n = 0};

	shamap_foreach(m, collect, &o);
	assert_int_equal(o.n, n);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(o.ids[i], want[i]);
	assert_int_equal(shamap_size(m), n);
}

static void test_new_bounds(void **state)
{
	struct shamap *m = NULL;
	size_t too_big = (SIZE_MAX / 4) / sizeof(void *) + 1;

	(void)state;
	assert_int_equal(shamap_new(0, val_free, &m), -EINVAL);
	assert_int_equal(shamap_new(too_big, val_free, &m), -EINVAL);
	assert_int_equal(shamap_new(SIZE_MAX, val_free, &m), -EINVAL);

	/* the largest accepted bound: the bucket array is capped, not sized from it */
	assert_int_equal(shamap_new(too_big - 1, NULL, &m), 0);
	assert_non_null(m);
	assert_int_equal(shamap_size(m), 0);
	assert_null(shamap_free(m));

	assert_null(shamap_free(NULL));
}

static void test_put_get_remove(void **state)
{
	struct shamap *m = new_map(8);
	uint8_t k1[SHAMAP_KEY_SIZE], k2[SHAMAP_KEY_SIZE], k3[SHAMAP_KEY_SIZE];
	int *v;

	(void)state;
	key_of(k1, 1);
	key_of(k2, 2);
	key_of(k3, 3);
	assert_null(shamap_get(m, k1));
	assert_null(shamap_peek(m, k1));
	assert_null(shamap_remove(m, k1, true));
	assert_int_equal(shamap_size(m), 0);

	assert_int_equal(shamap_put(m, k1, val(1), NULL), 0);
	assert_int_equal(shamap_put(m, k2, val(2), NULL), 0);
	assert_int_equal(shamap_size(m), 2);
	assert_int_equal(id_of(shamap_get(m, k1)), 1);
	assert_int_equal(id_of(shamap_peek(m, k2)), 2);
	assert_null(shamap_get(m, k3));

	/* the map copies the key: changing the caller's buffer changes nothing */
	memset(k1, 0, sizeof(k1));
	assert_null(shamap_get(m, k1));
	key_of(k1, 1);
	assert_int_equal(id_of(shamap_get(m, k1)), 1);

	/* remove without freeing hands the value over */
	v = shamap_remove(m, k1, false);
	assert_int_equal(id_of(v), 1);
	assert_int_equal(n_freed, 0);
	assert_int_equal(shamap_size(m), 1);
	assert_null(shamap_get(m, k1));
	free(v);

	/* remove with freeing frees it and returns NULL */
	assert_null(shamap_remove(m, k2, true));
	assert_int_equal(n_freed, 1);
	assert_int_equal(freed[0], 2);
	assert_int_equal(shamap_size(m), 0);
	assert_null(shamap_remove(m, k2, true)); /* twice: nothing more */
	assert_int_equal(n_freed, 1);

	/* the map is usable after being emptied */
	assert_int_equal(shamap_put(m, k3, val(3), NULL), 0);
	assert_int_equal(id_of(shamap_get(m, k3)), 3);
	assert_int_equal(shamap_evictions(m), 0);
	shamap_free(m);
	assert_int_equal(n_freed, 2);
	assert_int_equal(freed[1], 3);
}

static void test_replace(void **state)
{
	struct shamap *m = new_map(2);
	uint8_t a[SHAMAP_KEY_SIZE], b[SHAMAP_KEY_SIZE], c[SHAMAP_KEY_SIZE];
	int *same;

	(void)state;
	key_of(a, 10);
	key_of(b, 11);
	key_of(c, 12);
	assert_int_equal(shamap_put(m, a, val(1), NULL), 0);
	assert_int_equal(shamap_put(m, b, val(2), NULL), 0);

	/* replacing frees the old value, keeps the size, makes a the newest; a full map does
	 * not evict for a replacement */
	assert_int_equal(shamap_put(m, a, val(3), NULL), 0);
	assert_int_equal(n_freed, 1);
	assert_int_equal(freed[0], 1);
	assert_int_equal(shamap_size(m), 2);
	assert_int_equal(shamap_evictions(m), 0);
	assert_int_equal(id_of(shamap_peek(m, a)), 3);
	assert_order(m, (const int[]){2, 3}, 2);

	/* putting the very same pointer again must not free it */
	same = shamap_peek(m, b);
	assert_int_equal(shamap_put(m, b, same, NULL), 0);
	assert_int_equal(n_freed, 1);
	assert_int_equal(id_of(shamap_peek(m, b)), 2);
	assert_order(m, (const int[]){3, 2}, 2);

	/* so a is now the oldest and goes first */
	assert_int_equal(shamap_put(m, c, val(4), NULL), 0);
	assert_int_equal(shamap_evictions(m), 1);
	assert_null(shamap_peek(m, a));
	assert_int_equal(freed[1], 3);
	assert_order(m, (const int[]){2, 4}, 2);
	shamap_free(m);
	assert_int_equal(n_freed, 4);
}

static void test_collisions(void **state)
{
	enum { N = 40 };
	struct shamap *m = new_map(N);
	uint8_t k[SHAMAP_KEY_SIZE];

	(void)state;
	for (int i = 0; i < N; i++) {
		key_colliding(k, (uint32_t)i);
		assert_int_equal(shamap_put(m, k, val(i), NULL), 0);
	}
	assert_int_equal(shamap_size(m), N);
	for (int i = 0; i < N; i++) {
		key_colliding(k, (uint32_t)i);
		assert_int_equal(id_of(shamap_peek(m, k)), i);
	}
	/* a key that shares the chain but is not in it */
	key_colliding(k, N + 7);
	assert_null(shamap_get(m, k));
	/* keys differing only in the last byte, or only in the first */
	memset(k, 0xAB, sizeof(k));
	k[SHAMAP_KEY_SIZE - 1] ^= 1;
	assert_null(shamap_peek(m, k));

	/* remove the first inserted, the last inserted and one in the middle of the chain */
	for (int i = 0; i < N; i++) {
		if (i != 0 && i != N - 1 && i != N / 2)
			continue;
		key_colliding(k, (uint32_t)i);
		assert_null(shamap_remove(m, k, true));
	}
	assert_int_equal(n_freed, 3);
	assert_int_equal(shamap_size(m), N - 3);
	for (int i = 0; i < N; i++) {
		key_colliding(k, (uint32_t)i);
		if (i == 0 || i == N - 1 || i == N / 2)
			assert_null(shamap_peek(m, k));
		else
			assert_int_equal(id_of(shamap_peek(m, k)), i);
	}
	/* and back in */
	key_colliding(k, N / 2);
	assert_int_equal(shamap_put(m, k, val(1000), NULL), 0);
	assert_int_equal(id_of(shamap_get(m, k)), 1000);
	shamap_free(m);
	assert_int_equal(n_freed, N - 2 + 3);
}

static void test_lru_eviction(void **state)
{
	struct shamap *m = new_map(3);
	uint8_t k[6][SHAMAP_KEY_SIZE];

	(void)state;
	for (uint32_t i = 0; i < 6; i++)
		key_of(k[i], 100 + i);
	assert_int_equal(shamap_put(m, k[0], val(0), NULL), 0);
	assert_int_equal(shamap_put(m, k[1], val(1), NULL), 0);
	assert_int_equal(shamap_put(m, k[2], val(2), NULL), 0);
	assert_order(m, (const int[]){0, 1, 2}, 3);

	/* get marks 0 as most recently used: 1 is evicted next */
	assert_int_equal(id_of(shamap_get(m, k[0])), 0);
	assert_order(m, (const int[]){1, 2, 0}, 3);
	assert_int_equal(shamap_put(m, k[3], val(3), NULL), 0);
	assert_int_equal(shamap_evictions(m), 1);
	assert_int_equal(n_freed, 1);
	assert_int_equal(freed[0], 1);
	assert_null(shamap_peek(m, k[1]));
	assert_order(m, (const int[]){2, 0, 3}, 3);

	/* peek does not touch the order: 2 is still the oldest */
	assert_int_equal(id_of(shamap_peek(m, k[2])), 2);
	assert_order(m, (const int[]){2, 0, 3}, 3);
	assert_int_equal(shamap_put(m, k[4], val(4), NULL), 0);
	assert_int_equal(freed[1], 2);
	assert_order(m, (const int[]){0, 3, 4}, 3);

	/* a failed get touches nothing */
	assert_null(shamap_get(m, k[1]));
	assert_order(m, (const int[]){0, 3, 4}, 3);

	/* removals are not evictions; removing the oldest makes room without evicting */
	assert_null(shamap_remove(m, k[0], true));
	assert_int_equal(shamap_put(m, k[5], val(5), NULL), 0);
	assert_int_equal(shamap_evictions(m), 2);
	assert_order(m, (const int[]){3, 4, 5}, 3);
	shamap_free(m);
	assert_int_equal(n_freed, 6);
}

static void test_capacity_one(void **state)
{
	struct shamap *m = new_map(1);
	uint8_t k[SHAMAP_KEY_SIZE];

	(void)state;
	for (int i = 0; i < 10; i++) {
		key_of(k, (uint32_t)i);
		assert_int_equal(shamap_put(m, k, val(i), NULL), 0);
		assert_int_equal(shamap_size(m), 1);
		assert_int_equal(id_of(shamap_get(m, k)), i);
	}
	assert_int_equal(shamap_evictions(m), 9);
	assert_int_equal(n_freed, 9);
	key_of(k, 8);
	assert_null(shamap_peek(m, k));
	shamap_free(m);
	assert_int_equal(n_freed, 10);
}

/* evictable: only even ids may be evicted */
static int n_asked;
static bool even_only(const void *v)
{
	n_asked++;
	return id_of(v) % 2 == 0;
}

static bool never(const void *v)
{
	(void)v;
	n_asked++;
	return false;
}

static void test_evictable(void **state)
{
	struct shamap *m = new_map(3);
	uint8_t k[8][SHAMAP_KEY_SIZE];

	(void)state;
	for (uint32_t i = 0; i < 8; i++)
		key_of(k[i], 200 + i);
	/* oldest 1 (refused), then 2 (evictable), then 3 */
	assert_int_equal(shamap_put(m, k[1], val(1), even_only), 0);
	assert_int_equal(shamap_put(m, k[2], val(2), even_only), 0);
	assert_int_equal(shamap_put(m, k[3], val(3), even_only), 0);
	n_asked = 0;
	assert_int_equal(shamap_put(m, k[5], val(5), even_only), 0);
	assert_int_equal(n_asked, 2); /* asked about 1, then 2 */
	assert_int_equal(freed[0], 2);
	assert_int_equal(shamap_evictions(m), 1);
	assert_order(m, (const int[]){1, 3, 5}, 3);

	/* nothing evictable: -ENOSPC, the new value is freed (ownership taken), nothing else
	 * changes */
	n_asked = 0;
	assert_int_equal(shamap_put(m, k[7], val(7), even_only), -ENOSPC);
	assert_int_equal(n_asked, 3);
	assert_int_equal(n_freed, 2);
	assert_int_equal(freed[1], 7);
	assert_int_equal(shamap_evictions(m), 1);
	assert_null(shamap_peek(m, k[7]));
	assert_order(m, (const int[]){1, 3, 5}, 3);

	/* a replacement needs no room, so it succeeds even when nothing is evictable */
	assert_int_equal(shamap_put(m, k[3], val(33), never), 0);
	assert_int_equal(freed[2], 3);
	assert_order(m, (const int[]){1, 5, 33}, 3);
	assert_int_equal(shamap_put(m, k[6], val(6), never), -ENOSPC);
	assert_int_equal(freed[3], 6);

	/* without evictable the oldest goes whatever it is */
	assert_int_equal(shamap_put(m, k[6], val(6), NULL), 0);
	assert_int_equal(freed[4], 1);
	assert_order(m, (const int[]){5, 33, 6}, 3);

	/* not full: evictable is not consulted at all */
	assert_null(shamap_remove(m, k[5], true));
	n_asked = 0;
	assert_int_equal(shamap_put(m, k[0], val(0), never), 0);
	assert_int_equal(n_asked, 0);
	assert_int_equal(shamap_evictions(m), 2);
	shamap_free(m);
	assert_int_equal(n_freed, 9);
}

static bool sweep_even(void *v, void *ud)
{
	(*(int *)ud)++;
	return id_of(v) % 2 == 0;
}

static bool sweep_all(void *v, void *ud)
{
	(void)v;
	(*(int *)ud)++;
	return true;
}

static void test_sweep(void **state)
{
	struct shamap *m = new_map(6);
	uint8_t k[SHAMAP_KEY_SIZE];
	int calls = 0;

	(void)state;
	/* 0..5 in order: the oldest (0) and the newest... */
	for (int i = 0; i < 6; i++) {
		key_colliding(k, (uint32_t)i); /* one chain: sweeping unlinks inside it */
		assert_int_equal(shamap_put(m, k, val(i), NULL), 0);
	}
	shamap_sweep(m, sweep_even, &calls);
	assert_int_equal(calls, 6);
	assert_int_equal(n_freed, 3);
	assert_int_equal(freed[0], 0);
	assert_int_equal(freed[1], 2);
	assert_int_equal(freed[2], 4);
	assert_int_equal(shamap_evictions(m), 0); /* a sweep is not eviction */
	assert_order(m, (const int[]){1, 3, 5}, 3);
	for (int i = 0; i < 6; i++) {
		key_colliding(k, (uint32_t)i);
		assert_int_equal(id_of(shamap_peek(m, k)), i % 2 ? i : -1);
	}

	/* the LRU ends are intact after sweeping the newest and the oldest */
	key_colliding(k, 1);
	(void)shamap_get(m, k); /* 3 5 1 */
	key_colliding(k, 10);
	assert_int_equal(shamap_put(m, k, val(10), NULL), 0); /* 3 5 1 10 */
	assert_order(m, (const int[]){3, 5, 1, 10}, 4);
	shamap_sweep(m, sweep_even, &calls); /* removes the newest, 10 */
	key_colliding(k, 12);
	assert_int_equal(shamap_put(m, k, val(12), NULL), 0);
	assert_order(m, (const int[]){3, 5, 1, 12}, 4);

	calls = 0;
	shamap_sweep(m, sweep_all, &calls);
	assert_int_equal(calls, 4);
	assert_int_equal(shamap_size(m), 0);
	assert_order(m, NULL, 0);
	/* empty map: fn never called */
	calls = 0;
	shamap_sweep(m, sweep_all, &calls);
	assert_int_equal(calls, 0);
	key_colliding(k, 3);
	assert_int_equal(shamap_put(m, k, val(3), NULL), 0);
	assert_order(m, (const int[]){3}, 1);
	shamap_free(m);
	assert_int_equal(n_freed, 3 + 1 + 4 + 1);
}

static void count_keys(const uint8_t *key, void *value, void *ud)
{
	uint8_t want[SHAMAP_KEY_SIZE];

	key_of(want, (uint32_t)id_of(value));
	assert_memory_equal(key, want, SHAMAP_KEY_SIZE); /* the key handed out is the entry's */
	(*(size_t *)ud)++;
}

static void test_many_entries(void **state)
{
	enum { N = 5000 };
	struct shamap *m = new_map(N);
	uint8_t k[SHAMAP_KEY_SIZE];
	size_t seen = 0;

	(void)state;
	for (int i = 0; i < N; i++) {
		key_of(k, (uint32_t)i);
		assert_int_equal(shamap_put(m, k, val(i), NULL), 0);
	}
	assert_int_equal(shamap_size(m), N);
	assert_int_equal(shamap_evictions(m), 0);
	for (int i = N - 1; i >= 0; i--) {
		key_of(k, (uint32_t)i);
		assert_int_equal(id_of(shamap_peek(m, k)), i);
	}
	shamap_foreach(m, count_keys, &seen);
	assert_int_equal(seen, N);

	/* one more evicts exactly the oldest (0; peek did not refresh anything) */
	key_of(k, N);
	assert_int_equal(shamap_put(m, k, val(N), NULL), 0);
	assert_int_equal(shamap_evictions(m), 1);
	assert_int_equal(n_freed, 1);
	assert_int_equal(freed[0], 0);
	assert_int_equal(shamap_size(m), N);
	shamap_free(m);
	assert_int_equal(n_freed, N + 1);
}

static void test_no_free_function(void **state)
{
	struct shamap *m = NULL;
	int a = 1, b = 2, c = 3; /* not heap values: the map must never free them */
	uint8_t ka[SHAMAP_KEY_SIZE], kb[SHAMAP_KEY_SIZE], kc[SHAMAP_KEY_SIZE];

	(void)state;
	key_of(ka, 1);
	key_of(kb, 2);
	key_of(kc, 3);
	assert_int_equal(shamap_new(2, NULL, &m), 0);
	assert_int_equal(shamap_put(m, ka, &a, NULL), 0);
	assert_int_equal(shamap_put(m, ka, &b, NULL), 0); /* replace */
	assert_int_equal(shamap_put(m, kb, &c, NULL), 0);
	assert_int_equal(shamap_put(m, kc, &a, NULL), 0); /* evicts ka */
	assert_int_equal(shamap_put(m, ka, &a, never), -ENOSPC);
	assert_ptr_equal(shamap_remove(m, kb, false), &c);
	/* nothing to free with: the value comes back even when asked to free it */
	assert_ptr_equal(shamap_remove(m, kc, true), &a);
	assert_int_equal(shamap_size(m), 0);
	assert_int_equal(shamap_put(m, kc, &c, NULL), 0);
	shamap_free(m);
}

/*
 * Against a reference model: random put/get/peek/remove over a small key space (half of the
 * keys in one colliding chain), checking contents, size, LRU order and evictions each step.
 */
#define MODEL_CAP 16
#define MODEL_KEYS 48

static uint64_t rng_state = 0x9E3779B97F4A7C15u;
static uint32_t rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return (uint32_t)(rng_state >> 16);
}

static void model_key(uint8_t k[SHAMAP_KEY_SIZE], int i)
{
	if (i % 2)
		key_colliding(k, (uint32_t)i);
	else
		key_of(k, (uint32_t)i);
}

struct model {
	int key[MODEL_CAP]; /* oldest first */
	int value[MODEL_CAP];
	size_t n;
	uint64_t evictions;
};

static int model_find(const struct model *mo, int key)
{
	for (size_t i = 0; i < mo->n; i++)
		if (mo->key[i] == key)
			return (int)i;
	return -1;
}

static void model_drop(struct model *mo, int at)
{
	memmove(&mo->key[at], &mo->key[at + 1], (mo->n - (size_t)at - 1) * sizeof(int));
	memmove(&mo->value[at], &mo->value[at + 1], (mo->n - (size_t)at - 1) * sizeof(int));
	mo->n--;
}

static void model_push(struct model *mo, int key, int value)
{
	mo->key[mo->n] = key;
	mo->value[mo->n] = value;
	mo->n++;
}

static void test_against_model(void **state)
{
	struct shamap *m = new_map(MODEL_CAP);
	struct model mo = {.n = 0};
	uint8_t k[SHAMAP_KEY_SIZE];
	int next_value = 0;

	(void)state;
	for (int step = 0; step < 20000; step++) {
		int key = (int)(rng() % MODEL_KEYS), at = model_find(&mo, key);
		uint32_t op = rng() % 10;

		model_key(k, key);
		if (op < 4) { /* put */
			int v = next_value++;

			assert_int_equal(shamap_put(m, k, val(v), NULL), 0);
			if (at >= 0) {
				model_drop(&mo, at);
			} else if (mo.n == MODEL_CAP) {
				model_drop(&mo, 0);
				mo.evictions++;
			}
			model_push(&mo, key, v);
		} else if (op < 7) { /* get */
			void *v = shamap_get(m, k);

			if (at < 0) {
				assert_null(v);
			} else {
				int value = mo.value[at];

				assert_int_equal(id_of(v), value);
				model_drop(&mo, at);
				model_push(&mo, key, value);
			}
		} else if (op < 8) { /* peek */
			assert_int_equal(id_of(shamap_peek(m, k)), at < 0 ? -1 : mo.value[at]);
		} else { /* remove */
			int *v = shamap_remove(m, k, false);

			assert_int_equal(id_of(v), at < 0 ? -1 : mo.value[at]);
			free(v);
			if (at >= 0)
				model_drop(&mo, at);
		}
		assert_int_equal(shamap_size(m), mo.n);
		assert_int_equal(shamap_evictions(m), mo.evictions);
		if (step % 64 == 0)
			assert_order(m, mo.value, mo.n);
	}
	assert_true(mo.evictions > 0);
	assert_order(m, mo.value, mo.n);
	shamap_free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_new_bounds),
		cmocka_unit_test(test_put_get_remove),
		cmocka_unit_test(test_replace),
		cmocka_unit_test(test_collisions),
		cmocka_unit_test(test_lru_eviction),
		cmocka_unit_test(test_capacity_one),
		cmocka_unit_test(test_evictable),
		cmocka_unit_test(test_sweep),
		cmocka_unit_test(test_many_entries),
		cmocka_unit_test(test_no_free_function),
		cmocka_unit_test(test_against_model),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
