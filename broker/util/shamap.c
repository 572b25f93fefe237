/* SPDX-License-Identifier: MIT */
/* shamap: a bounded LRU hash map keyed by SHA-256 digests. */
#include "util/shamap.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct shamap_entry {
	uint8_t key[SHAMAP_KEY_SIZE];
	void *value;
	struct shamap_entry *chain;           /* next in bucket */
	struct shamap_entry *older, *newer;   /* LRU list */
};

struct shamap {
	struct shamap_entry **buckets;
	size_t n_buckets; /* power of two */
	size_t n, max;
	uint64_t evictions;
	struct shamap_entry *oldest, *newest;
	shamap_free_t free_value;
};

int shamap_new(size_t max_entries, shamap_free_t free_value, struct shamap **ret)
{
	struct shamap *m;
	size_t nb = 16;

	if (max_entries == 0 || max_entries > (SIZE_MAX / 4) / sizeof(void *))
		return -EINVAL;
	while (nb < max_entries * 2 && nb < ((size_t)1 << 24))
		nb <<= 1;
	m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	m->buckets = calloc(nb, sizeof(*m->buckets));
	if (!m->buckets) {
		free(m);
		return -ENOMEM;
	}
	m->n_buckets = nb;
	m->max = max_entries;
	m->free_value = free_value;
	*ret = m;
	return 0;
}

static size_t bucket_of(const struct shamap *m, const uint8_t *key)
{
	uint64_t h;

	memcpy(&h, key, sizeof(h));
	return (size_t)h & (m->n_buckets - 1);
}

static struct shamap_entry *find(const struct shamap *m, const uint8_t *key)
{
	for (struct shamap_entry *e = m->buckets[bucket_of(m, key)]; e; e = e->chain)
		if (memcmp(e->key, key, SHAMAP_KEY_SIZE) == 0)
			return e;
	return NULL;
}

static void lru_unlink(struct shamap *m, struct shamap_entry *e)
{
	if (e->older)
		e->older->newer = e->newer;
	else
		m->oldest = e->newer;
	if (e->newer)
		e->newer->older = e->older;
	else
		m->newest = e->older;
	e->older = e->newer = NULL;
}

static void lru_push(struct shamap *m, struct shamap_entry *e)
{
	e->older = m->newest;
	e->newer = NULL;
	if (m->newest)
		m->newest->newer = e;
	else
		m->oldest = e;
	m->newest = e;
}

/* Unlinks e from its bucket and the LRU list and frees the entry (not the value). */
static void *entry_drop(struct shamap *m, struct shamap_entry *e)
{
	struct shamap_entry **pp = &m->buckets[bucket_of(m, e->key)];
	void *v = e->value;

	while (*pp != e)
		pp = &(*pp)->chain;
	*pp = e->chain;
	lru_unlink(m, e);
	m->n--;
	free(e);
	return v;
}

struct shamap *shamap_free(struct shamap *m)
{
	if (!m)
		return NULL;
	while (m->oldest) {
		void *v = entry_drop(m, m->oldest);

		if (m->free_value)
			m->free_value(v);
	}
	free(m->buckets);
	free(m);
	return NULL;
}

void *shamap_peek(const struct shamap *m, const uint8_t key[static SHAMAP_KEY_SIZE])
{
	struct shamap_entry *e = find(m, key);

	return e ? e->value : NULL;
}

void *shamap_get(struct shamap *m, const uint8_t key[static SHAMAP_KEY_SIZE])
{
	struct shamap_entry *e = find(m, key);

	if (!e)
		return NULL;
	lru_unlink(m, e);
	lru_push(m, e);
	return e->value;
}

int shamap_put(struct shamap *m, const uint8_t key[static SHAMAP_KEY_SIZE], void *value,
	       bool (*evictable)(const void *value))
{
	struct shamap_entry *e = find(m, key);
	size_t b;

	if (e) {
		if (m->free_value && e->value != value)
			m->free_value(e->value);
		e->value = value;
		lru_unlink(m, e);
		lru_push(m, e);
		return 0;
	}
	if (m->n >= m->max) {
		struct shamap_entry *victim = m->oldest;

		while (victim && evictable && !evictable(victim->value))
			victim = victim->newer;
		if (!victim) {
			if (m->free_value)
				m->free_value(value);
			return -ENOSPC;
		}
		void *v = entry_drop(m, victim);

		m->evictions++;
		if (m->free_value)
			m->free_value(v);
	}
	e = calloc(1, sizeof(*e));
	if (!e) {
		if (m->free_value)
			m->free_value(value);
		return -ENOMEM;
	}
	memcpy(e->key, key, SHAMAP_KEY_SIZE);
	e->value = value;
	b = bucket_of(m, key);
	e->chain = m->buckets[b];
	m->buckets[b] = e;
	lru_push(m, e);
	m->n++;
	return 0;
}

void *shamap_remove(struct shamap *m, const uint8_t key[static SHAMAP_KEY_SIZE], bool free_it)
{
	struct shamap_entry *e = find(m, key);
	void *v;

	if (!e)
		return NULL;
	v = entry_drop(m, e);
	if (free_it && m->free_value) {
		m->free_value(v);
		return NULL;
	}
	return v;
}

size_t shamap_size(const struct shamap *m)
{
	return m->n;
}

uint64_t shamap_evictions(const struct shamap *m)
{
	return m->evictions;
}

void shamap_foreach(const struct shamap *m,
		    void (*fn)(const uint8_t *key, void *value, void *userdata), void *userdata)
{
	for (struct shamap_entry *e = m->oldest; e; e = e->newer)
		fn(e->key, e->value, userdata);
}

void shamap_sweep(struct shamap *m, bool (*fn)(void *value, void *userdata), void *userdata)
{
	struct shamap_entry *e = m->oldest;

	while (e) {
		struct shamap_entry *next = e->newer;

		if (fn(e->value, userdata)) {
			void *v = entry_drop(m, e);

			if (m->free_value)
				m->free_value(v);
		}
		e = next;
	}
}
