/* SPDX-License-Identifier: MIT */
/* series: the metrics' own counters and histograms, by tenant name, surviving reloads. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metrics/series.h"
#include "util/clock.h"

const uint64_t metrics_bucket_usec[METRICS_N_BUCKETS] = {
	500, 1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 500000,
	1000000, 2500000, 5000000, 10000000,
};

/* A live tenant generation and the series of its name. */
struct gen {
	struct gen *next;
	const struct tenant *t;
	struct metrics_tenant *mt;
};

static struct metrics_tenant *tenants, *tenants_tail;
static struct metrics_tenant *last; /* the last one looked up: requests come in runs */
static size_t n_tenants;
static struct gen *gens;
static struct metrics_global global;

const char *metrics_kind_name(enum metrics_kind k)
{
	static const char *const names[_MK_MAX] = {"sts", "sa_token", "jwks", "vault", "other"};

	return (unsigned)k < _MK_MAX ? names[k] : "other";
}

const char *metrics_fail_name(enum metrics_fail f)
{
	static const char *const names[_MF_MAX] = {"timeout", "refused", "too_large", "error"};

	return (unsigned)f < _MF_MAX ? names[f] : "error";
}

struct metrics_global *metrics_global(void)
{
	return &global;
}

const struct metrics_tenant *metrics_series_first(void)
{
	return tenants;
}

static struct metrics_tenant *find(const char *name)
{
	for (struct metrics_tenant *mt = tenants; mt; mt = mt->next)
		if (strcmp(mt->name, name) == 0)
			return mt;
	return NULL;
}

struct metrics_tenant *metrics_series_tenant(const char *name)
{
	struct metrics_tenant *mt;

	if (!name || !*name)
		name = "_unknown";
	if (last && strcmp(last->name, name) == 0)
		return last;
	mt = find(name);
	if (mt)
		return last = mt;
	if (n_tenants >= METRICS_MAX_TENANTS) {
		/* a bound on memory whatever reloads bring; the rest share one series */
		name = "_other";
		mt = find(name);
		if (mt)
			return mt;
	}
	mt = calloc(1, sizeof(*mt));
	if (!mt)
		return NULL;
	(void)snprintf(mt->name, sizeof(mt->name), "%s", name);
	if (tenants_tail)
		tenants_tail->next = mt;
	else
		tenants = mt;
	tenants_tail = mt;
	n_tenants++;
	return last = mt;
}

static void hist_add(struct metrics_hist *h, uint64_t usec)
{
	unsigned b = 0;

	while (b < METRICS_N_BUCKETS && usec > metrics_bucket_usec[b])
		b++;
	if (b < METRICS_N_BUCKETS)
		h->bucket[b]++;
	h->count++;
	h->sum_usec += usec;
}

void metrics_series_request(const struct request_outcome *o)
{
	struct metrics_tenant *mt = metrics_series_tenant(o->tenant);
	unsigned op = (unsigned)o->op < _SB_OP_MAX ? (unsigned)o->op : METRICS_OP_INVALID;
	unsigned outcome = o->ok ? METRICS_OUTCOME_OK :
			   (unsigned)o->code < _SB_ERR_MAX ? (unsigned)o->code : SB_ERR_INTERNAL;

	if (!mt)
		return;
	mt->requests[op][outcome]++;
	hist_add(&mt->latency[op], o->latency_usec);
}

static enum metrics_kind kind_of(const char *kind)
{
	for (int k = 0; k < MK_OTHER; k++)
		if (strcmp(kind, metrics_kind_name((enum metrics_kind)k)) == 0)
			return (enum metrics_kind)k;
	return MK_OTHER;
}

static enum metrics_fail fail_of(int r)
{
	switch (r) {
	case -ETIMEDOUT:
		return MF_TIMEOUT;
	case -ECONNREFUSED:
		return MF_REFUSED;
	case -EMSGSIZE:
		return MF_TOO_LARGE;
	default:
		return MF_ERROR;
	}
}

static void count_code(struct metrics_upstream *u, long status)
{
	for (unsigned i = 0; i < u->n_codes; i++)
		if (u->code[i] == status) {
			u->by_code[i]++;
			return;
		}
	if (status < 100 || status > 999 || u->n_codes >= METRICS_MAX_CODES) {
		u->other_code++;
		return;
	}
	u->code[u->n_codes] = (uint16_t)status;
	u->by_code[u->n_codes++] = 1;
}

void metrics_series_upstream(const struct upstream_outcome *o)
{
	struct metrics_tenant *mt = metrics_series_tenant(o->tenant);
	enum metrics_kind k = kind_of(o->kind);
	struct metrics_upstream *u;

	if (!mt)
		return;
	u = &mt->upstream[k];
	hist_add(&u->latency, o->elapsed_usec);
	if (o->r < 0) {
		enum metrics_fail f = fail_of(o->r);

		u->failed[f]++;
		(void)snprintf(mt->last_error, sizeof(mt->last_error), "%s:%s", metrics_kind_name(k),
			       metrics_fail_name(f));
		mt->last_error_usec = clock_now_usec(NULL);
		return;
	}
	count_code(u, o->status);
	if (o->status >= 400) {
		(void)snprintf(mt->last_error, sizeof(mt->last_error), "%s:%ld", metrics_kind_name(k),
			       o->status);
		mt->last_error_usec = clock_now_usec(NULL);
	}
}

int metrics_series_gen_add(struct tenant *t)
{
	struct metrics_tenant *mt = metrics_series_tenant(tenant_name(t));
	struct gen *g;

	if (!mt)
		return -ENOMEM;
	g = calloc(1, sizeof(*g));
	if (!g)
		return -ENOMEM;
	*g = (struct gen){.next = gens, .t = t, .mt = mt};
	gens = g;
	return 0;
}

/* dst += the counters of src (not its gauges). */
static void add_counters(struct tokensvc_counters *dst, const struct tokensvc_counters *src)
{
	dst->jwks_fetches += src->jwks_fetches;
	dst->exchanges += src->exchanges;
	dst->rejected += src->rejected;
	for (int i = 0; i < _TOKENSVC_REJECT_MAX; i++)
		dst->rejected_by[i] += src->rejected_by[i];
	dst->cache.hits += src->cache.hits;
	dst->cache.misses += src->cache.misses;
	dst->cache.joins += src->cache.joins;
	dst->cache.flights += src->cache.flights;
	dst->cache.negative_hits += src->cache.negative_hits;
	dst->cache.stored += src->cache.stored;
	dst->cache.expired += src->cache.expired;
	dst->cache.evicted += src->cache.evicted;
}

void metrics_series_gen_gone(const struct tenant *t)
{
	for (struct gen **p = &gens; *p; p = &(*p)->next) {
		struct gen *g = *p;
		struct tokensvc_counters c;

		if (g->t != t)
			continue;
		tokensvc_get_counters(t, &c);
		add_counters(&g->mt->base, &c);
		*p = g->next;
		free(g);
		return;
	}
}

void metrics_series_token_counters(const struct metrics_tenant *mt, struct tokensvc_counters *ret)
{
	*ret = (struct tokensvc_counters){0};
	add_counters(ret, &mt->base);
	for (const struct gen *g = gens; g; g = g->next)
		if (g->mt == mt) {
			struct tokensvc_counters c;

			tokensvc_get_counters(g->t, &c);
			add_counters(ret, &c);
		}
}

void metrics_series_reset(void)
{
	while (gens) {
		struct gen *g = gens;

		gens = g->next;
		free(g);
	}
	while (tenants) {
		struct metrics_tenant *mt = tenants;

		tenants = mt->next;
		free(mt);
	}
	tenants_tail = NULL;
	last = NULL;
	n_tenants = 0;
	global = (struct metrics_global){0};
}
