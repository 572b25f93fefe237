/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "tenancy/tenant.h"

/*
 * Per-tenant request budget ([tenant.NAME] rate_limit, rate_burst): a token bucket that
 * holds up to rate_burst requests and refills at rate_limit requests per second. Dispatch
 * takes one token for every operation that carries a subject token, before the handler (and
 * so before the token is even parsed); hello, ping, health and stats are free.
 *
 * Budgets are never shared between tenants. Across a reload, the new tenant object of the
 * same name takes over the old one's bucket (with the new rate and burst; what is left is
 * kept, capped at the new burst): a reload neither refills a budget nor doubles it for the
 * connections that still use the old generation.
 */

/* Registers the tenant hook (once per process; later calls do nothing). Call before any
 * tenant is created. 0 or -errno. */
int ratelimit_init(void);

/* Takes one request from t's budget at monotonic time now_usec. True when allowed (always
 * for a tenant without rate_limit, or t NULL). */
/* Forgets the registration (at exit, after the tenants are gone). */
void ratelimit_done(void);

bool ratelimit_take(struct tenant *t, uint64_t now_usec);
