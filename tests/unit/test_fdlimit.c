/* SPDX-License-Identifier: MIT */
/* test_fdlimit: the descriptors a configuration needs (issue 9, item 11). */
/*
 * 2 per connection, one per possible listener (each tenant's, the shared, the admin),
 * upstream_max_per_host per distinct upstream origin (scheme://host:port of the JWKS, STS and
 * vault URLs: tenants sharing Skyflow and Descope share them), upstream_max_idle, and the fixed
 * reserve.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>

#include "runtime/fdlimit.h"
#include "tenancy/config.h"

#define TENANT(name, vault)                                                                       \
	"[tenant." name "]\n"                                                                     \
	"descope_project_id = P1\n"                                                               \
	"vault_url = https://" vault "/\n"                                                        \
	"vault_id = v1\n"                                                                         \
	"sts_url = https://sts.example.com/v1/sts\n"                                              \
	"service_account_id = sa1\n"                                                              \
	"allow_uids = 1000\n"

static uint64_t needed(const char *text)
{
	struct broker_config *c = NULL;
	uint64_t n;

	assert_int_equal(config_load_string("t.conf", text, stderr, &c), 0);
	n = fdlimit_needed(c);
	config_free(c);
	return n;
}

static void test_needed(void **state)
{
	(void)state;
	/* defaults: 1024 connections; hosts api.descope.com, sts.example.com, a.vault */
	assert_int_equal(needed(TENANT("a", "a.vault.example.com")),
			 2 * 1024 + 3 + 3 * 64 + 16 + FDLIMIT_RESERVE);
	/* a second tenant on another vault adds one host and one listener */
	assert_int_equal(needed("[broker]\nmax_connections = 10\nupstream_max_per_host = 8\n"
				"upstream_max_idle = 4\n" TENANT("a", "a.vault.example.com")
				TENANT("b", "b.vault.example.com")),
			 2 * 10 + 4 + 4 * 8 + 4 + FDLIMIT_RESERVE);
	/* the same vault host on another port is another origin; the same one with another path
	 * is not */
	assert_int_equal(needed("[broker]\nmax_connections = 10\nupstream_max_per_host = 8\n"
				"upstream_max_idle = 4\n" TENANT("a", "v.example.com")
				TENANT("b", "v.example.com:8443") TENANT("c", "v.example.com/x")),
			 2 * 10 + 5 + 4 * 8 + 4 + FDLIMIT_RESERVE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {cmocka_unit_test(test_needed)};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
