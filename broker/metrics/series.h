/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/errors.h"
#include "proto/message.h"
#include "runtime/request.h"
#include "tenancy/tenant.h"
#include "tokens/tokensvc.h"
#include "upstream/upstream.h"

/*
 * The metrics' own series: what the runtime and upstream observers report (requests by
 * tenant, operation and outcome with latency histograms; upstream calls by tenant, kind and
 * status with latency histograms; reloads), kept by tenant *name* so that they survive a
 * reload (tenants are rebuilt on SIGHUP). The token service's counters live in its tenants
 * and restart at zero with each generation; metrics_series_gen_gone() folds a generation's
 * final values into its name's base, so that base + the live generations is monotonic.
 *
 * Bounded: at most METRICS_MAX_TENANTS names (beyond it, one "_other" series takes the
 * rest), each a fixed-size block; status codes per upstream kind at most
 * METRICS_MAX_CODES (beyond it, "other"). Single-threaded, like the daemon.
 */

#define METRICS_MAX_TENANTS 256u
#define METRICS_MAX_CODES 16u
#define METRICS_N_BUCKETS 14u
#define METRICS_ADMIN_TENANT "@admin" /* the admin socket's requests */

/* Upper bounds of the latency buckets, in microseconds (+Inf is the count). */
extern const uint64_t metrics_bucket_usec[METRICS_N_BUCKETS];

struct metrics_hist {
	uint64_t bucket[METRICS_N_BUCKETS]; /* not cumulative: observations in (prev, this] */
	uint64_t count;
	uint64_t sum_usec;
};

enum metrics_kind { MK_STS, MK_SA_TOKEN, MK_JWKS, MK_VAULT, MK_OTHER, _MK_MAX };
const char *metrics_kind_name(enum metrics_kind k);

/* Transport failures, by the errno upstream delivered. */
enum metrics_fail { MF_TIMEOUT, MF_REFUSED, MF_TOO_LARGE, MF_ERROR, _MF_MAX };
const char *metrics_fail_name(enum metrics_fail f);

struct metrics_upstream {
	unsigned n_codes;
	uint16_t code[METRICS_MAX_CODES];
	uint64_t by_code[METRICS_MAX_CODES];
	uint64_t other_code;
	uint64_t failed[_MF_MAX];
	struct metrics_hist latency;
};

/* Index of the "ok" outcome in requests[op][]; the error codes come before it. */
#define METRICS_OUTCOME_OK _SB_ERR_MAX
/* Index of undecodable requests in requests[][]. */
#define METRICS_OP_INVALID _SB_OP_MAX

struct metrics_tenant {
	struct metrics_tenant *next;
	char name[UPSTREAM_MAX_LABEL + 1];
	uint64_t requests[_SB_OP_MAX + 1][_SB_ERR_MAX + 1];
	struct metrics_hist latency[_SB_OP_MAX + 1];
	struct metrics_upstream upstream[_MK_MAX];
	struct tokensvc_counters base; /* counters of generations gone (gauges unused) */
	char last_error[48];           /* "sts:503", "jwks:timeout"; "" when none yet */
	uint64_t last_error_usec;      /* CLOCK_MONOTONIC */
};

/* The series of name, created on first use. NULL only when out of memory. */
struct metrics_tenant *metrics_series_tenant(const char *name);
/* The first of all series, in order of creation (borrowed until metrics_series_reset). */
const struct metrics_tenant *metrics_series_first(void);

/* The observers' work (runtime/request.h, upstream/upstream.h). */
void metrics_series_request(const struct request_outcome *o);
void metrics_series_upstream(const struct upstream_outcome *o);

/* A tenant generation appeared (attach; t borrowed until metrics_series_gen_gone): 0 or
 * -ENOMEM. It went away (detach, before the token service's own detach): its token
 * service counters join its name's base. */
int metrics_series_gen_add(struct tenant *t);
void metrics_series_gen_gone(const struct tenant *t);
/* The counters of mt's tenant over the life of the process: base + every live generation.
 * The gauges (entries, JWKS keys and age) are not summed: read the current tenant. */
void metrics_series_token_counters(const struct metrics_tenant *mt, struct tokensvc_counters *ret);

/* Process-wide: reloads by outcome, and the HTTP listener's refusals. */
struct metrics_global {
	uint64_t reloads_ok, reloads_failed;
	uint64_t http_served, http_refused_busy, http_bad_request, http_timeouts;
};
struct metrics_global *metrics_global(void);

/* Forgets every series (module done, tests). */
void metrics_series_reset(void);
