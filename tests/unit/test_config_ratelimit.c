/* SPDX-License-Identifier: MIT */
/* test_config_ratelimit: the rate_limit and rate_burst keys, and the per-tenant bucket. */
/*
 * rate_limit / rate_burst: the config keys (bounds, environment, --check-config round trip)
 * and the per-tenant token bucket of broker/ratelimit.c, driven with explicit times:
 * burst, refill, independence of tenants, carry-over across a reload.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "config_load.h"

#include "tenancy/config.h"
#include "tenancy/ratelimit.h"
#include "tenancy/tenant.h"

#define SEC 1000000ull

static void test_keys(void **state)
{
	_cleanup_(config_unrefp) struct broker_config *c = NULL, *c2 = NULL;
	_cleanup_free_ char *text = NULL;
	size_t len = 0;
	FILE *f;

	(void)state;
	assert_int_equal(load("[tenant.a]\n" TENANT, &c), 0);
	assert_int_equal(c->tenants[0].rate_limit, 0);
	assert_int_equal(c->tenants[0].rate_burst, 0);
	c = config_unref(c);

	assert_int_equal(load("[tenant.a]\n" TENANT "rate_limit = 100\nrate_burst = 250\n", &c), 0);
	assert_int_equal(c->tenants[0].rate_limit, 100);
	assert_int_equal(c->tenants[0].rate_burst, 250);
	f = open_memstream(&text, &len);
	config_print(c, f);
	fclose(f);
	assert_non_null(strstr(text, "rate_burst = 250\n"));
	assert_int_equal(load(text, &c2), 0);
	assert_int_equal(c2->tenants[0].rate_burst, 250);
	c = config_unref(c);

	assert_true(load("[tenant.a]\n" TENANT "rate_burst = 0\n", &c) < 0);
	assert_non_null(strstr(errbuf, "rate_burst"));
	assert_true(load("[tenant.a]\n" TENANT "rate_burst = 1000000001\n", &c) < 0);
	assert_true(load("[tenant.a]\n" TENANT "rate_burst = -1\n", &c) < 0);
	/* a burst without a rate would be silently ignored: refused instead */
	assert_true(load("[tenant.a]\n" TENANT "rate_burst = 10\n", &c) < 0);
	assert_non_null(strstr(errbuf, "rate_burst needs rate_limit"));
}

/* For _cleanup_: drops the reference *t holds (tenant.h has no such helper yet). */
static void put_tenant(struct tenant **t)
{
	tenant_unref(*t);
}

static struct tenant *tenant_of(struct broker_config *c, size_t i, struct tenant *previous)
{
	struct tenant *t = NULL;
	assert_int_equal(tenant_new_successor(c, &c->tenants[i], NULL, previous, &t), 0);
	return t;
}

static unsigned take_n(struct tenant *t, unsigned n, uint64_t now)
{
	unsigned ok = 0;
	for (unsigned i = 0; i < n; i++)
		ok += ratelimit_take(t, now);
	return ok;
}

static void test_bucket(void **state)
{
	_cleanup_(config_unrefp) struct broker_config *c = NULL, *c2 = NULL;
	_cleanup_(put_tenant) struct tenant *a = NULL, *b = NULL, *u = NULL, *a2 = NULL;
	uint64_t t0 = 1000 * SEC;

	(void)state;
	assert_int_equal(ratelimit_init(), 0);
	assert_int_equal(ratelimit_init(), 0); /* once */
	assert_int_equal(load("[tenant.a]\n" TENANT "rate_limit = 2\nrate_burst = 5\n"
			      "[tenant.b]\n" TENANT "allow_uids = 1001\nrate_limit = 2\n"
			      "[tenant.u]\n" TENANT "allow_uids = 1002\n",
			      &c),
			 0);
	a = tenant_of(c, 0, NULL);
	b = tenant_of(c, 1, NULL);
	u = tenant_of(c, 2, NULL);

	/* a: burst 5, then 2 per second */
	assert_int_equal(take_n(a, 10, t0), 5);
	assert_int_equal(take_n(a, 10, t0 + SEC / 2), 1);
	assert_int_equal(take_n(a, 10, t0 + SEC), 1);
	assert_int_equal(take_n(a, 10, t0 + 3 * SEC), 4);
	assert_int_equal(take_n(a, 10, t0 + 3600 * SEC), 5); /* capped at the burst */
	/* b is untouched by a (its burst defaults to rate_limit) */
	assert_int_equal(take_n(b, 10, t0 + 3600 * SEC), 2);
	/* no rate_limit: unlimited; no tenant (admin): unlimited */
	assert_int_equal(take_n(u, 1000, t0), 1000);
	assert_true(ratelimit_take(NULL, t0));

	/* a reload: the new a takes over what is left (nothing), with its new burst; the old
	 * generation shares it */
	assert_int_equal(load("[tenant.a]\n" TENANT "rate_limit = 2\nrate_burst = 3\n", &c2), 0);
	a2 = tenant_of(c2, 0, a);
	assert_int_equal(take_n(a2, 10, t0 + 3600 * SEC), 0);
	assert_int_equal(take_n(a, 10, t0 + 3600 * SEC), 0);
	assert_int_equal(take_n(a2, 10, t0 + 3700 * SEC), 3); /* the new burst */
	a = tenant_unref(a); /* the old generation goes; the budget stays with a2 */
	assert_int_equal(take_n(a2, 10, t0 + 3701 * SEC), 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_keys),
		cmocka_unit_test(test_bucket),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
