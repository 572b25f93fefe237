/* SPDX-License-Identifier: MIT */
/* ratelimit: a token bucket per tenant, carried over a reload. */
#include <errno.h>
#include <stdlib.h>

#include "util/log.h"
#include "util/ref.h"
#include "tenancy/ratelimit.h"

/* One request is RL_UNIT micro-tokens: a bucket refilling at rate requests per second gains
 * exactly `rate` micro-tokens per microsecond, so refills are integer arithmetic. */
#define RL_UNIT 1000000ull

/* What is left of a tenant's budget, shared by the generations of that tenant (a reload). */
struct rate_bucket {
	unsigned n_ref;
	uint64_t level;     /* micro-tokens available */
	uint64_t last_usec; /* time of the last refill; 0 = never used (full) */
};

/* A tenant object's view: its bucket and its own configuration's limits (so a reload that
 * fails after building the new tenants changes nothing for the old ones). */
struct rate_limit {
	struct rate_bucket *b;
	uint64_t rate; /* requests per second, > 0 */
	uint64_t cap;  /* burst * RL_UNIT */
};

static void rate_bucket_free(struct rate_bucket *b)
{
	free(b);
}

DEFINE_PRIVATE_REF_UNREF(struct rate_bucket, rate_bucket, rate_bucket_free)

static int rl_slot = -1;

static int rl_attach(struct tenant *t, sd_event *event, void *ud)
{
	const struct tenant_config *tc = tenant_config(t);
	struct tenant *prev = tenant_previous(t);
	struct rate_limit *pl = prev ? tenant_ext_get(prev, (unsigned)rl_slot) : NULL;
	uint64_t burst = tc->rate_burst ? tc->rate_burst : tc->rate_limit;
	struct rate_limit *l;

	(void)event;
	(void)ud;
	if (tc->rate_limit == 0)
		return 0; /* unlimited: no bucket */
	l = calloc(1, sizeof(*l));
	if (!l) {
		log_error("tenant=%s: out of memory for its rate limit", tc->name);
		return -ENOMEM;
	}
	l->rate = tc->rate_limit;
	l->cap = burst * RL_UNIT;
	if (pl) {
		/* the same tenant: what is left of its budget carries over */
		l->b = rate_bucket_ref(pl->b);
	} else {
		l->b = calloc(1, sizeof(*l->b));
		if (!l->b) {
			free(l);
			log_error("tenant=%s: out of memory for its rate limit", tc->name);
			return -ENOMEM;
		}
		l->b->n_ref = 1;
		l->b->level = l->cap;
	}
	tenant_ext_set(t, (unsigned)rl_slot, l);
	return 0;
}

static void rl_detach(struct tenant *t, void *ud)
{
	struct rate_limit *l = tenant_ext_get(t, (unsigned)rl_slot);

	(void)ud;
	if (!l)
		return;
	rate_bucket_unref(l->b);
	free(l);
	tenant_ext_set(t, (unsigned)rl_slot, NULL);
}

static const struct tenant_hooks rl_hooks = {"ratelimit", rl_attach, rl_detach, NULL};

int ratelimit_init(void)
{
	int r;

	if (rl_slot >= 0)
		return 0;
	r = tenant_hooks_register(&rl_hooks);
	if (r < 0)
		return r;
	rl_slot = r;
	return 0;
}

void ratelimit_done(void)
{
	tenant_hooks_unregister(rl_slot);
	rl_slot = -1;
}

bool ratelimit_take(struct tenant *t, uint64_t now_usec)
{
	struct rate_limit *l;
	struct rate_bucket *b;

	if (!t || rl_slot < 0)
		return true;
	l = tenant_ext_get(t, (unsigned)rl_slot);
	if (!l)
		return true;
	b = l->b;
	if (b->level > l->cap)
		b->level = l->cap; /* a reload lowered the burst */
	if (b->last_usec && now_usec > b->last_usec) {
		uint64_t elapsed = now_usec - b->last_usec;
		/* capped at what fills the bucket, elapsed * rate cannot overflow
		 * (cap <= 1e9 * 1e6, rate <= 1e7) */
		if (elapsed > (l->cap - b->level) / l->rate)
			b->level = l->cap;
		else
			b->level += elapsed * l->rate;
	}
	if (!b->last_usec || now_usec > b->last_usec)
		b->last_usec = now_usec;
	if (b->level < RL_UNIT)
		return false;
	b->level -= RL_UNIT;
	return true;
}
