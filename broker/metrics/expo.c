/* SPDX-License-Identifier: MIT */
/* expo: the full Prometheus exposition of skybrokerd, family by family. */
#include <stdio.h>
#include <string.h>

#include "metrics/expo.h"
#include "metrics/series.h"
#include "runtime/stats.h"
#include "tokens/tokensvc.h"
#include "util/clock.h"

#define L(n, v) {n, v}
#define N(a) (sizeof(a) / sizeof((a)[0]))

static const char *op_label(unsigned op)
{
	return op < _SB_OP_MAX ? sb_op_name((enum sb_op)op) : "invalid";
}

static const char *outcome_label(unsigned outcome)
{
	return outcome == METRICS_OUTCOME_OK ? "ok" : sb_errcode_name((enum sb_errcode)outcome);
}

/* Whether mt names a tenant (not the admin socket's series). */
static bool is_tenant(const struct metrics_tenant *mt)
{
	return mt->name[0] != '@';
}

static void requests(struct text *t)
{
	text_family(t, "skybroker_requests_total", "counter",
		    "Requests answered, by tenant, operation and outcome (ok or the error code).");
	for (const struct metrics_tenant *mt = metrics_series_first(); mt; mt = mt->next)
		for (unsigned op = 0; op <= _SB_OP_MAX; op++)
			for (unsigned oc = 0; oc <= METRICS_OUTCOME_OK; oc++) {
				struct text_label l[] = {L("tenant", mt->name), L("op", op_label(op)),
							 L("outcome", outcome_label(oc))};

				if (mt->requests[op][oc])
					text_sample_u64(t, "skybroker_requests_total", l, N(l),
							mt->requests[op][oc]);
			}
	text_family(t, "skybroker_request_duration_seconds", "histogram",
		    "Time from taking a request's frame to its answer, by tenant and operation.");
	for (const struct metrics_tenant *mt = metrics_series_first(); mt; mt = mt->next)
		for (unsigned op = 0; op <= _SB_OP_MAX; op++) {
			const struct metrics_hist *h = &mt->latency[op];
			struct text_label l[] = {L("tenant", mt->name), L("op", op_label(op))};

			if (h->count)
				text_histogram(t, "skybroker_request_duration_seconds", l, N(l),
					       metrics_bucket_usec, h->bucket, METRICS_N_BUCKETS,
					       h->count, h->sum_usec);
		}
	text_family(t, "skybroker_rate_limited_total", "counter",
		    "Requests refused by the tenant's rate limit.");
	for (const struct metrics_tenant *mt = metrics_series_first(); mt; mt = mt->next) {
		struct text_label l[] = {L("tenant", mt->name)};
		uint64_t n = 0;

		for (unsigned op = 0; op <= _SB_OP_MAX; op++)
			n += mt->requests[op][SB_ERR_RATE_LIMITED];
		if (is_tenant(mt))
			text_sample_u64(t, "skybroker_rate_limited_total", l, N(l), n);
	}
}

static void upstream_codes(struct text *t, const struct metrics_tenant *mt, enum metrics_kind k)
{
	const struct metrics_upstream *u = &mt->upstream[k];
	const char *kind = metrics_kind_name(k);
	char code[8];

	for (unsigned i = 0; i < u->n_codes; i++) {
		struct text_label l[] = {L("tenant", mt->name), L("kind", kind), L("status", code)};

		(void)snprintf(code, sizeof(code), "%u", (unsigned)u->code[i]);
		text_sample_u64(t, "skybroker_upstream_requests_total", l, N(l), u->by_code[i]);
	}
	if (u->other_code) {
		struct text_label l[] = {L("tenant", mt->name), L("kind", kind), L("status", "other")};

		text_sample_u64(t, "skybroker_upstream_requests_total", l, N(l), u->other_code);
	}
	for (int f = 0; f < _MF_MAX; f++) {
		struct text_label l[] = {L("tenant", mt->name), L("kind", kind),
					 L("status", metrics_fail_name((enum metrics_fail)f))};

		if (u->failed[f])
			text_sample_u64(t, "skybroker_upstream_requests_total", l, N(l), u->failed[f]);
	}
}

static void upstream(struct text *t, struct upstream *up)
{
	struct upstream_counters c;

	text_family(t, "skybroker_upstream_requests_total", "counter",
		    "HTTP requests to Skyflow and Descope, by tenant, kind (sts, sa_token, jwks, "
		    "vault) and status (the HTTP status, or timeout, refused, too_large, error).");
	for (const struct metrics_tenant *mt = metrics_series_first(); mt; mt = mt->next)
		for (int k = 0; k < _MK_MAX; k++)
			upstream_codes(t, mt, (enum metrics_kind)k);
	text_family(t, "skybroker_upstream_request_duration_seconds", "histogram",
		    "Time of an upstream request including its retry, by tenant and kind.");
	for (const struct metrics_tenant *mt = metrics_series_first(); mt; mt = mt->next)
		for (int k = 0; k < _MK_MAX; k++) {
			const struct metrics_hist *h = &mt->upstream[k].latency;
			struct text_label l[] = {L("tenant", mt->name),
						 L("kind", metrics_kind_name((enum metrics_kind)k))};

			if (h->count)
				text_histogram(t, "skybroker_upstream_request_duration_seconds", l,
					       N(l), metrics_bucket_usec, h->bucket,
					       METRICS_N_BUCKETS, h->count, h->sum_usec);
		}
	if (!up)
		return;
	upstream_get_counters(up, &c);
	text_family(t, "skybroker_upstream_in_flight", "gauge", "Upstream requests running now.");
	text_sample_u64(t, "skybroker_upstream_in_flight", NULL, 0, c.in_flight);
	text_family(t, "skybroker_upstream_retries_total", "counter",
		    "Upstream requests retried once (5xx or a connection error).");
	text_sample_u64(t, "skybroker_upstream_retries_total", NULL, 0, c.retries);
}

/* One counter family over every tenant's token service counters; field picks the value. */
static void token_family(struct text *t, const char *name, const char *help,
			 uint64_t (*field)(const struct tokensvc_counters *c))
{
	text_family(t, name, "counter", help);
	for (const struct metrics_tenant *mt = metrics_series_first(); mt; mt = mt->next) {
		struct text_label l[] = {L("tenant", mt->name)};
		struct tokensvc_counters c;

		if (!is_tenant(mt))
			continue;
		metrics_series_token_counters(mt, &c);
		text_sample_u64(t, name, l, N(l), field(&c));
	}
}

static uint64_t f_hits(const struct tokensvc_counters *c) { return c->cache.hits; }
static uint64_t f_misses(const struct tokensvc_counters *c) { return c->cache.misses; }
static uint64_t f_joins(const struct tokensvc_counters *c) { return c->cache.joins; }
static uint64_t f_evicted(const struct tokensvc_counters *c) { return c->cache.evicted; }
static uint64_t f_expired(const struct tokensvc_counters *c) { return c->cache.expired; }
static uint64_t f_neg(const struct tokensvc_counters *c) { return c->cache.negative_hits; }
static uint64_t f_exchanges(const struct tokensvc_counters *c) { return c->exchanges; }
static uint64_t f_fetches(const struct tokensvc_counters *c) { return c->jwks_fetches; }

static void tokens(struct text *t)
{
	token_family(t, "skybroker_token_cache_hits_total", "Skyflow tokens served from the cache.",
		     f_hits);
	token_family(t, "skybroker_token_cache_misses_total",
		     "Skyflow token lookups that found nothing to serve.", f_misses);
	token_family(t, "skybroker_token_cache_coalesced_total",
		     "Requests that waited on another request's exchange (single flight).", f_joins);
	token_family(t, "skybroker_token_cache_evictions_total",
		     "Cached tokens evicted to make room.", f_evicted);
	token_family(t, "skybroker_token_cache_expired_total",
		     "Cached tokens dropped at their expiry.", f_expired);
	token_family(t, "skybroker_negative_cache_hits_total",
		     "Subject tokens refused again from the negative cache.", f_neg);
	token_family(t, "skybroker_exchanges_total", "Token exchanges started upstream.",
		     f_exchanges);
	token_family(t, "skybroker_jwks_fetches_total", "JWKS fetches started.", f_fetches);
	text_family(t, "skybroker_subject_token_rejections_total", "counter",
		    "Subject tokens refused locally, by reason.");
	for (const struct metrics_tenant *mt = metrics_series_first(); mt; mt = mt->next) {
		struct tokensvc_counters c;

		if (!is_tenant(mt))
			continue;
		metrics_series_token_counters(mt, &c);
		for (int i = 0; i < _TOKENSVC_REJECT_MAX; i++) {
			struct text_label l[] = {
				L("tenant", mt->name),
				L("reason", tokensvc_reject_name((enum tokensvc_reject)i))};

			text_sample_u64(t, "skybroker_subject_token_rejections_total", l, N(l),
					c.rejected_by[i]);
		}
	}
}

/* Gauges of the current generation of each tenant. */
static void tenant_gauges(struct text *t, struct daemon *d, uint64_t now)
{
	static const char *const names[][3] = {
		{"skybroker_tenant_ready", "gauge", "1 when the tenant can serve requests, else 0."},
		{"skybroker_token_cache_entries", "gauge", "Skyflow tokens in the cache."},
		{"skybroker_negative_cache_entries", "gauge", "Subject tokens remembered as refused."},
		{"skybroker_jwks_keys", "gauge", "Keys in the tenant's current JWKS (0: none loaded)."},
		{"skybroker_jwks_age_seconds", "gauge", "Time since the current JWKS was loaded."},
	};
	struct tenant *const *v;
	size_t n;

	v = daemon_tenants(d, &n);
	for (size_t f = 0; f < N(names); f++) {
		text_family(t, names[f][0], names[f][1], names[f][2]);
		for (size_t i = 0; i < n; i++) {
			struct text_label l[] = {L("tenant", tenant_name(v[i]))};
			struct tokensvc_counters c;

			tokensvc_get_counters(v[i], &c);
			if (f == 0)
				text_sample_u64(t, names[f][0], l, 1, tenant_is_ready(v[i]));
			else if (f == 1)
				text_sample_u64(t, names[f][0], l, 1, c.cache.entries);
			else if (f == 2)
				text_sample_u64(t, names[f][0], l, 1, c.cache.negative_entries);
			else if (f == 3)
				text_sample_u64(t, names[f][0], l, 1, c.jwks_keys);
			else if (c.jwks_loaded_usec && now >= c.jwks_loaded_usec)
				text_sample_f64(t, names[f][0], l, 1,
						(double)(now - c.jwks_loaded_usec) / 1e6);
		}
	}
}

static void connections(struct text *t, struct daemon *d)
{
	static const struct {
		enum stats_conn_event ev;
		const char *family, *label;
	} ev[] = {
		{STATS_CONN_REFUSED_ADMISSION, "skybroker_connections_refused_total", "not_admitted"},
		{STATS_CONN_REFUSED_LIMIT, "skybroker_connections_refused_total", "max_connections"},
		{STATS_CONN_REFUSED_UID_LIMIT, "skybroker_connections_refused_total",
		 "max_connections_per_uid"},
		{STATS_CONN_REFUSED_NO_FDS, "skybroker_connections_refused_total", "no_descriptors"},
		{STATS_CONN_CLOSED_HELLO_TIMEOUT, "skybroker_connections_closed_total", "hello_timeout"},
		{STATS_CONN_CLOSED_IDLE_TIMEOUT, "skybroker_connections_closed_total", "idle_timeout"},
		{STATS_CONN_CLOSED_PROTOCOL_ERROR, "skybroker_connections_closed_total",
		 "protocol_error"},
		{STATS_CONN_CLOSED_REVOKED, "skybroker_connections_closed_total", "revoked"},
	};
	struct daemon_gauges g = {0};

	if (d)
		daemon_get_gauges(d, &g);
	text_family(t, "skybroker_connections_open", "gauge", "Client connections open now.");
	text_sample_u64(t, "skybroker_connections_open", NULL, 0, stats_get_conn_current());
	text_family(t, "skybroker_connections_accepted_total", "counter",
		    "Client connections accepted and admitted.");
	text_sample_u64(t, "skybroker_connections_accepted_total", NULL, 0,
			stats_get_conn_event(STATS_CONN_ACCEPTED));
	for (size_t i = 0; i < N(ev); i++) {
		struct text_label l[] = {L("reason", ev[i].label)};

		if (i == 0)
			text_family(t, ev[i].family, "counter",
				    "Client connections refused at accept, by reason.");
		if (ev[i].ev == STATS_CONN_CLOSED_HELLO_TIMEOUT)
			text_family(t, ev[i].family, "counter",
				    "Client connections closed by the broker, by reason.");
		text_sample_u64(t, ev[i].family, l, 1, stats_get_conn_event(ev[i].ev));
	}
	text_family(t, "skybroker_requests_in_flight", "gauge", "Requests being answered now.");
	text_sample_u64(t, "skybroker_requests_in_flight", NULL, 0, g.inflight);
	text_family(t, "skybroker_inflight_bytes", "gauge",
		    "Bytes held by requests in flight (against max_inflight_bytes).");
	text_sample_u64(t, "skybroker_inflight_bytes", NULL, 0, g.inflight_bytes);
	text_family(t, "skybroker_inflight_bytes_max", "gauge", "The configured max_inflight_bytes.");
	text_sample_u64(t, "skybroker_inflight_bytes_max", NULL, 0, g.inflight_bytes_max);
}

static void process(struct text *t, const struct expo_sources *src, uint64_t now)
{
	const struct metrics_global *g = metrics_global();
	struct text_label ok[] = {L("outcome", "ok")}, failed[] = {L("outcome", "failed")};
	struct text_label ver[] = {L("version", SKYBROKER_VERSION), L("protocol", "1")};

	text_family(t, "skybroker_build_info", "gauge", "Always 1; the labels say the build.");
	text_sample_u64(t, "skybroker_build_info", ver, N(ver), 1);
	text_family(t, "skybroker_uptime_seconds", "gauge", "Time since skybrokerd started.");
	text_sample_f64(t, "skybroker_uptime_seconds", NULL, 0,
			now > src->start_usec ? (double)(now - src->start_usec) / 1e6 : 0);
	text_family(t, "skybroker_reloads_total", "counter",
		    "Configuration reloads (SIGHUP), by outcome.");
	text_sample_u64(t, "skybroker_reloads_total", ok, 1, g->reloads_ok);
	text_sample_u64(t, "skybroker_reloads_total", failed, 1, g->reloads_failed);
	text_family(t, "skybroker_metrics_http_requests_total", "counter",
		    "Requests to the metrics listener, by outcome.");
	{
		struct text_label l[][1] = {{L("outcome", "served")}, {L("outcome", "busy")},
					    {L("outcome", "bad_request")}, {L("outcome", "timeout")}};
		uint64_t v[] = {g->http_served, g->http_refused_busy, g->http_bad_request,
				g->http_timeouts};

		for (size_t i = 0; i < N(v); i++)
			text_sample_u64(t, "skybroker_metrics_http_requests_total", l[i], 1, v[i]);
	}
}

void expo_build(const struct expo_sources *src, struct text *t)
{
	uint64_t now = clock_now_usec(NULL);

	process(t, src, now);
	requests(t);
	upstream(t, src->upstream);
	tokens(t);
	if (src->daemon)
		tenant_gauges(t, src->daemon, now);
	connections(t, src->daemon);
}
