/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdint.h>

#include "metrics/text.h"
#include "runtime/daemon.h"
#include "upstream/upstream.h"

/*
 * The exposition: every metric skybrokerd has, in Prometheus's text format (docs/metrics.md
 * lists them). What it reads, all at scrape time and without blocking: the series of
 * metrics/series.h, the runtime's counters (runtime/stats.h), the daemon's gauges and
 * current tenants (readiness, token cache and JWKS gauges), the token service's counters and
 * the upstream handle's. Labels carry tenant names, operation, outcome, kind and status
 * codes, reasons: never a token, a subject, a table or any value from a request.
 */

struct expo_sources {
	struct daemon *daemon;     /* NULL: no daemon gauges (before start) */
	struct upstream *upstream; /* NULL: no upstream counters */
	uint64_t start_usec;       /* CLOCK_MONOTONIC of the start, for uptime */
};

/* Writes the whole exposition into t (text.h: check t->err once at the end). */
void expo_build(const struct expo_sources *src, struct text *t);
