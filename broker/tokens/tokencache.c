/* SPDX-License-Identifier: MIT */
/* tokencache: Skyflow tokens by subject-token hash, single-flight exchanges, negative cache. */
#include "tokens/tokencache.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/ref.h"
#include "util/shamap.h"
#include "util/list.h"

static void skyflow_token_free(struct skyflow_token *t)
{
	if (t->access_token) {
		explicit_bzero(t->access_token, strlen(t->access_token));
		free(t->access_token);
	}
	free(t->token_type);
	free(t->issued_token_type);
	free(t->context_json);
	if (t->result) {
		explicit_bzero(t->result, t->result_len);
		free(t->result);
	}
	explicit_bzero(t, sizeof(*t));
	free(t);
}

DEFINE_REF_UNREF(struct skyflow_token, skyflow_token, skyflow_token_free)

struct skyflow_token *skyflow_token_new(const char *access_token, const char *token_type,
					const char *issued_token_type, int64_t expires_at)
{
	_cleanup_(skyflow_token_unrefp) struct skyflow_token *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	t->n_ref = 1;
	t->expires_at = expires_at;
	t->access_token = strdup(access_token ? access_token : "");
	t->token_type = strdup(token_type ? token_type : "Bearer");
	if (issued_token_type)
		t->issued_token_type = strdup(issued_token_type);
	if (!t->access_token || !t->token_type || (issued_token_type && !t->issued_token_type))
		return NULL;
	return TAKE_PTR(t);
}

struct tokencache_waiter {
	struct tokencache_flight *flight;
	struct tokencache_waiter *next, *prev;
	tokencache_done_t done;
	void *userdata;
};

struct tokencache_flight {
	struct tokencache *tc;
	uint8_t key[32];
	struct tokencache_waiter *waiters;
	tokencache_abort_t abort_cb;
	void *abort_userdata;
};

/* A positive-map value: a token, or a running flight. */
struct entry {
	struct skyflow_token *token;    /* owned reference, or NULL while in flight */
	struct tokencache_flight *flight;
};

struct negative {
	int64_t until;
	struct error_detail err;
};

struct tokencache {
	struct shamap *entries;
	struct shamap *negative;
	int64_t margin;
	int64_t negative_ttl;
	struct tokencache_counters c;
};

static void waiters_free(struct tokencache_flight *f)
{
	while (f->waiters) {
		struct tokencache_waiter *w = f->waiters;

		f->waiters = w->next;
		free(w);
	}
}

/* shamap free function of the positive map: drops the token, or aborts a running flight. */
static void entry_free(void *v)
{
	struct entry *e = v;

	if (!e)
		return;
	skyflow_token_unref(e->token);
	if (e->flight) {
		/* Only reached from tokencache_free: flights are never evicted. */
		if (e->flight->abort_cb)
			e->flight->abort_cb(e->flight, e->flight->abort_userdata);
		waiters_free(e->flight);
		free(e->flight);
	}
	free(e);
}

static void negative_free(void *v)
{
	free(v);
}

static bool entry_evictable(const void *v)
{
	const struct entry *e = v;

	return e->flight == NULL;
}

int tokencache_new(const struct tokencache_config *cfg, struct tokencache **ret)
{
	static const struct tokencache_config dflt = { 0 };
	_cleanup_(tokencache_freep) struct tokencache *tc = NULL;
	int r;

	if (!cfg)
		cfg = &dflt;
	tc = calloc(1, sizeof(*tc));
	if (!tc)
		return -ENOMEM;
	tc->margin = cfg->margin_sec ? cfg->margin_sec : TOKENCACHE_DEFAULT_MARGIN;
	tc->negative_ttl = cfg->negative_ttl_sec ? cfg->negative_ttl_sec :
		TOKENCACHE_DEFAULT_NEGATIVE_TTL;
	r = shamap_new(cfg->max_entries ? cfg->max_entries : TOKENCACHE_DEFAULT_SIZE, entry_free,
		       &tc->entries);
	if (r < 0)
		return r;
	r = shamap_new(cfg->max_negative ? cfg->max_negative : TOKENCACHE_DEFAULT_NEGATIVE_SIZE,
		       negative_free, &tc->negative);
	if (r < 0)
		return r;
	*ret = TAKE_PTR(tc);
	return 0;
}

struct tokencache *tokencache_free(struct tokencache *tc)
{
	if (!tc)
		return NULL;
	shamap_free(tc->entries);
	shamap_free(tc->negative);
	free(tc);
	return NULL;
}

/* A new waiter at the head of f's list, or NULL on ENOMEM. */
static struct tokencache_waiter *waiter_add(struct tokencache_flight *f, tokencache_done_t done,
					    void *userdata)
{
	struct tokencache_waiter *w = calloc(1, sizeof(*w));

	if (!w)
		return NULL;
	w->flight = f;
	w->done = done;
	w->userdata = userdata;
	LIST_PREPEND(f->waiters, w);
	return w;
}

int tokencache_rejected(struct tokencache *tc, const uint8_t key[static 32], int64_t now,
			struct error_detail *neg)
{
	struct negative *n = shamap_get(tc->negative, key);

	if (!n)
		return 0;
	if (now >= n->until) {
		shamap_remove(tc->negative, key, true);
		return 0;
	}
	tc->c.negative_hits++;
	if (neg)
		*neg = n->err;
	return n->err.r;
}

/* A new flight for key with the caller's waiter (*ret_waiter) as its first one, its entry put in
 * the map (never evicted while it runs). Returns 0, -ENOMEM, -ENOSPC. */
static int flight_start(struct tokencache *tc, const uint8_t key[static 32],
			tokencache_done_t done, void *userdata,
			struct tokencache_waiter **ret_waiter,
			struct tokencache_flight **ret_flight)
{
	_cleanup_free_ struct entry *e = calloc(1, sizeof(*e));
	_cleanup_free_ struct tokencache_flight *f = calloc(1, sizeof(*f));
	struct tokencache_flight *flight;
	struct tokencache_waiter *w;
	int r;

	if (!e || !f)
		return -ENOMEM;
	f->tc = tc;
	memcpy(f->key, key, 32);
	w = waiter_add(f, done, userdata);
	if (!w) /* f has no waiter yet */
		return -ENOMEM;
	flight = e->flight = TAKE_PTR(f);
	/* The map owns the entry, its flight and the waiter from here, even on failure. */
	r = shamap_put(tc->entries, key, TAKE_PTR(e), entry_evictable);
	if (r < 0)
		return r;
	*ret_waiter = w;
	*ret_flight = flight;
	return 0;
}

int tokencache_acquire(struct tokencache *tc, const uint8_t key[static 32], int64_t now,
		       tokencache_done_t done, void *userdata, struct skyflow_token **ret_token,
		       struct tokencache_waiter **ret_waiter, struct tokencache_flight **ret_flight,
		       struct error_detail *neg)
{
	struct tokencache_flight *f = NULL;
	struct entry *e;
	int r;

	*ret_token = NULL;
	*ret_waiter = NULL;
	if (ret_flight)
		*ret_flight = NULL;

	r = tokencache_rejected(tc, key, now, neg);
	if (r < 0)
		return r;

	e = shamap_get(tc->entries, key);
	if (e && e->token) {
		if (now < e->token->expires_at - tc->margin) {
			tc->c.hits++;
			*ret_token = skyflow_token_ref(e->token);
			return TOKENCACHE_HIT;
		}
		tc->c.expired++;
		shamap_remove(tc->entries, key, true);
		e = NULL;
	}
	if (e && e->flight) {
		struct tokencache_waiter *w = waiter_add(e->flight, done, userdata);

		if (!w)
			return -ENOMEM;
		tc->c.joins++;
		*ret_waiter = w;
		return TOKENCACHE_WAIT;
	}

	tc->c.misses++;
	r = flight_start(tc, key, done, userdata, ret_waiter, &f);
	if (r < 0)
		return r;
	tc->c.flights++;
	if (ret_flight)
		*ret_flight = f;
	return TOKENCACHE_LEAD;
}

void tokencache_flight_set_abort(struct tokencache_flight *f, tokencache_abort_t abort_cb,
				 void *userdata)
{
	f->abort_cb = abort_cb;
	f->abort_userdata = userdata;
}

void tokencache_waiter_cancel(struct tokencache_waiter *w)
{
	struct tokencache_flight *f;

	if (!w)
		return;
	f = w->flight;
	LIST_REMOVE(f->waiters, w);
	free(w);
}

static bool remember_rejection(int r)
{
	return r == -EKEYREJECTED || r == -EKEYEXPIRED || r == -EPERM;
}

void tokencache_reject(struct tokencache *tc, const uint8_t key[static 32],
		       const struct error_detail *err, int64_t now)
{
	struct negative *n = calloc(1, sizeof(*n));

	if (!n)
		return;
	n->until = now + tc->negative_ttl;
	n->err = *err;
	(void)shamap_put(tc->negative, key, n, NULL);
}

void tokencache_complete(struct tokencache *tc, struct tokencache_flight *f, int r,
			 struct skyflow_token *tok, const struct error_detail *err, int64_t now)
{
	struct error_detail generic = { 0 };
	struct entry *e;

	/* Detach the flight from its entry first: callbacks below may look the key up again. */
	e = shamap_remove(tc->entries, f->key, false);
	if (e) {
		e->flight = NULL;
		entry_free(e);
	}
	if (r == 0 && tok && now < tok->expires_at - tc->margin) {
		e = calloc(1, sizeof(*e));
		if (e) {
			e->token = skyflow_token_ref(tok);
			if (shamap_put(tc->entries, f->key, e, entry_evictable) >= 0)
				tc->c.stored++;
		}
	} else if (r < 0) {
		if (!err) {
			(void)error_detail_set(&generic, r, "exchange failed");
			err = &generic;
		}
		if (remember_rejection(r))
			tokencache_reject(tc, f->key, err, now);
	}

	/* Hold our own reference: a callback may drop the cache entry. */
	if (r == 0)
		skyflow_token_ref(tok);
	while (f->waiters) {
		struct tokencache_waiter *w = f->waiters;

		LIST_REMOVE(f->waiters, w);
		w->done(w, r, r == 0 ? tok : NULL, r == 0 ? NULL : err, w->userdata);
		free(w);
	}
	if (r == 0)
		skyflow_token_unref(tok);
	free(f);
}

struct adopt_ctx {
	struct tokencache *dst;
	int64_t now, margin;
	size_t n;
};

static void adopt_one(const uint8_t *key, void *v, void *userdata)
{
	struct adopt_ctx *ac = userdata;
	const struct entry *e = v;
	struct entry *copy;

	if (!e->token || ac->now >= e->token->expires_at - ac->margin ||
	    shamap_peek(ac->dst->entries, key))
		return;
	copy = calloc(1, sizeof(*copy));
	if (!copy)
		return;
	copy->token = skyflow_token_ref(e->token);
	if (shamap_put(ac->dst->entries, key, copy, entry_evictable) >= 0)
		ac->n++;
}

size_t tokencache_adopt(struct tokencache *dst, const struct tokencache *src, int64_t now)
{
	/* The stricter margin of the two: never serve a token dst would not have stored. */
	struct adopt_ctx ac = { .dst = dst, .now = now,
				.margin = dst->margin > src->margin ? dst->margin : src->margin };

	shamap_foreach(src->entries, adopt_one, &ac);
	return ac.n;
}

static bool token_expired(void *v, void *userdata)
{
	struct entry *e = v;
	const int64_t *bounds = userdata; /* now, margin */

	return e->token && bounds[0] >= e->token->expires_at - bounds[1];
}

static bool negative_expired(void *v, void *userdata)
{
	const struct negative *n = v;
	const int64_t *now = userdata;

	return *now >= n->until;
}

void tokencache_sweep(struct tokencache *tc, int64_t now)
{
	int64_t bounds[2] = { now, tc->margin };
	size_t before = shamap_size(tc->entries);

	shamap_sweep(tc->entries, token_expired, bounds);
	tc->c.expired += before - shamap_size(tc->entries);
	shamap_sweep(tc->negative, negative_expired, &now);
}

void tokencache_get_counters(const struct tokencache *tc, struct tokencache_counters *ret)
{
	*ret = tc->c;
	ret->entries = shamap_size(tc->entries);
	ret->evicted = shamap_evictions(tc->entries);
	ret->negative_entries = shamap_size(tc->negative);
}

bool tokencache_drop(struct tokencache *tc, const uint8_t key[static 32],
		     const struct skyflow_token *tok)
{
	struct entry *e = shamap_peek(tc->entries, key);

	if (!e || e->flight || e->token != tok)
		return false;
	shamap_remove(tc->entries, key, true);
	return true;
}
