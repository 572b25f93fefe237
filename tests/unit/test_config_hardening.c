/* SPDX-License-Identifier: MIT */
/* test_config_hardening: what the outside review of the configuration found (issue 9). */
/*
 *  - an empty list turned a check off: "audience =" (or "audience = ,") loaded as no audience
 *    at all, so any aud passed; "allow_tables =" as any table. An empty list is now an error,
 *    as it was for allow_uids and allow_gids, in a file and in the environment.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "tenancy/config.h"
#include "util/cleanup.h"

#define TENANT                                                                                    \
	"descope_project_id = P1\n"                                                               \
	"vault_url = https://v.vault.skyflowapis.com/\n"                                          \
	"vault_id = v1\n"                                                                         \
	"sts_url = https://sts.example.com\n"                                                     \
	"service_account_id = sa1\n"                                                              \
	"allow_uids = 1000\n"

static char errbuf[16384];

static int load(const char *text, struct broker_config **ret)
{
	FILE *f = fmemopen(errbuf, sizeof(errbuf), "w");
	int r;

	assert_non_null(f);
	r = config_load_string("t.conf", text, f, ret);
	fclose(f);
	return r;
}

/* Loads text, expecting a failure whose messages hold want. */
static void expect_error(const char *text, const char *want)
{
	struct broker_config *c = (struct broker_config *)1;

	if (load(text, &c) >= 0 || !strstr(errbuf, want))
		print_message("loaded: %s; messages:\n%s", c ? "yes" : "no", errbuf);
	assert_null(c);
	assert_non_null(strstr(errbuf, want));
}

/* config_print(c) into a string the caller frees. */
static char *print(const struct broker_config *c)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	assert_non_null(f);
	config_print(c, f);
	assert_int_equal(fclose(f), 0);
	return text;
}

static void env_clear(void)
{
	static const char *const vars[] = {
		"DESCOPE_PROJECT_ID", "SKYFLOW_VAULT_URL_IDENTIFIER", "SKYFLOW_VAULT_URL",
		"SKYFLOW_VAULT_ID", "SKYFLOW_SERVICE_ACCOUNT_ID", "SKYFLOW_STS_URL",
		"SKYBROKER_ALLOW_UIDS", "SKYBROKER_AUDIENCE", "SKYBROKER_ALLOW_TABLES",
		"SKYBROKER_CONTEXT_CLAIMS", "SKYBROKER_JWKS_URL", "DESCOPE_BASE_URL",
		"SKYBROKER_CA_FILE", "SKYBROKER_CREDENTIALS_FILE", "SKYBROKER_EXCHANGE",
		"SKYBROKER_INSECURE_HTTP",
	};

	for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++)
		unsetenv(vars[i]);
}

/* config_from_env with a valid tenant plus var=value (var NULL: nothing more). */
static int load_env(const char *var, const char *value, struct broker_config **ret)
{
	FILE *f;
	int r;

	env_clear();
	setenv("DESCOPE_PROJECT_ID", "P9", 1);
	setenv("SKYFLOW_VAULT_URL_IDENTIFIER", "abc", 1);
	setenv("SKYFLOW_VAULT_ID", "v9", 1);
	setenv("SKYFLOW_SERVICE_ACCOUNT_ID", "sa9", 1);
	setenv("SKYFLOW_STS_URL", "https://sts.example.com", 1);
	setenv("SKYBROKER_ALLOW_UIDS", "0", 1);
	if (var)
		setenv(var, value, 1);
	f = fmemopen(errbuf, sizeof(errbuf), "w");
	assert_non_null(f);
	r = config_from_env(f, ret);
	fclose(f);
	env_clear();
	return r;
}

static void expect_env_error(const char *var, const char *value, const char *want)
{
	struct broker_config *c = (struct broker_config *)1;

	if (load_env(var, value, &c) >= 0 || !strstr(errbuf, want))
		print_message("%s='%s' loaded: %s; messages:\n%s", var, value, c ? "yes" : "no",
			      errbuf);
	assert_null(c);
	assert_non_null(strstr(errbuf, want));
}

/* ---------------------------------------------------------------- 5. empty lists */

static void test_empty_audience_is_an_error(void **state)
{
	(void)state;
	/* both used to load with no audience, which turns the aud check off */
	expect_error("[tenant.a]\n" TENANT "audience =\n", "t.conf:8: audience: empty list");
	expect_error("[tenant.a]\n" TENANT "audience = ,\n", "t.conf:8: audience: empty list");
	expect_error("[tenant.a]\n" TENANT "audience = , ,\t,\n", "t.conf:8: audience: empty list");
	/* an empty line among given ones is a mistake as well */
	expect_error("[tenant.a]\n" TENANT "audience = a1\naudience = ,\n",
		     "t.conf:9: audience: empty list");
	/* the same from the environment */
	expect_env_error("SKYBROKER_AUDIENCE", "", "environment: SKYBROKER_AUDIENCE: audience: "
						   "empty list");
	expect_env_error("SKYBROKER_AUDIENCE", " , ", "environment: SKYBROKER_AUDIENCE: audience: "
						      "empty list");
}

static void test_other_empty_lists_are_errors(void **state)
{
	(void)state;
	/* "allow_tables =" used to mean any table */
	expect_error("[tenant.a]\n" TENANT "allow_tables =\n", "t.conf:8: allow_tables: empty list");
	expect_error("[tenant.a]\n" TENANT "allow_tables = persons\nallow_tables = ,\n",
		     "t.conf:9: allow_tables: empty list");
	expect_error("[tenant.a]\n" TENANT "exchange = sts\ncontext_claims = ,\n",
		     "t.conf:9: context_claims: empty list");
	expect_env_error("SKYBROKER_ALLOW_TABLES", ",", "SKYBROKER_ALLOW_TABLES: allow_tables: "
							"empty list");
	expect_env_error("SKYBROKER_CONTEXT_CLAIMS", "", "SKYBROKER_CONTEXT_CLAIMS: context_claims: "
							 "empty list");
}

static void test_unset_lists_still_load_and_print_loadably(void **state)
{
	_cleanup_(config_unrefp) struct broker_config *c = NULL, *c2 = NULL, *e = NULL;
	_cleanup_free_ char *text = NULL;

	(void)state;
	/* no audience key: no audience check, as documented; the printed config says so and
	 * loads again (it used to print "audience =", which now would not load) */
	assert_int_equal(load("[tenant.a]\n" TENANT, &c), 0);
	assert_int_equal(c->tenants[0].audience.n, 0);
	assert_int_equal(c->tenants[0].context_claims.n, 0);
	text = print(c);
	assert_null(strstr(text, "\naudience =\n"));
	assert_null(strstr(text, "\ncontext_claims =\n"));
	assert_non_null(strstr(text, "\n# audience: "));
	if (load(text, &c2) < 0)
		print_message("%s\n---\n%s", text, errbuf);
	assert_non_null(c2);
	assert_int_equal(c2->tenants[0].audience.n, 0);
	/* a real list still loads */
	assert_int_equal(load_env("SKYBROKER_AUDIENCE", "a1, a2", &e), 0);
	assert_int_equal(e->tenants[0].audience.n, 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_empty_audience_is_an_error),
		cmocka_unit_test(test_other_empty_lists_are_errors),
		cmocka_unit_test(test_unset_lists_still_load_and_print_loadably),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
