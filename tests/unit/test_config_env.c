/* SPDX-License-Identifier: MIT */
/*
 * Configuration from the environment alone (config_from_env): every error names the
 * environment variable to set or fix, never a key of a file the reader does not have
 * (skybroker.conf(5), ENVIRONMENT: "errors name the variable").
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tenancy/config_internal.h"

static char errbuf[8192];

/* Every variable config_from_env reads, cleared before each case. */
static const char *const all_vars[] = {
	"SKYBROKER_TENANT", "SKYBROKER_SOCKET", "SKYBROKER_SOCKET_MODE",
	"SKYBROKER_SOCKET_GROUP", "SKYBROKER_ADMIN_SOCKET", "SKYBROKER_MAX_CONNECTIONS",
	"SKYBROKER_MAX_CONNECTIONS_PER_UID", "SKYBROKER_IDLE_TIMEOUT", "SKYBROKER_START_TIMEOUT",
	"SKYBROKER_LOG_LEVEL", "SKYBROKER_AUDIT", "DESCOPE_PROJECT_ID", "DESCOPE_BASE_URL",
	"SKYFLOW_VAULT_ID", "SKYFLOW_SERVICE_ACCOUNT_ID", "SKYFLOW_STS_URL",
	"SKYFLOW_VAULT_URL", "SKYFLOW_VAULT_URL_IDENTIFIER", "SKYBROKER_ALLOW_UIDS",
	"SKYBROKER_ALLOW_GIDS", "SKYBROKER_CREDENTIALS_FILE", "SKYBROKER_EXCHANGE",
	"SKYBROKER_ISSUER", "SKYBROKER_AUDIENCE", "SKYBROKER_JWKS_URL", "SKYBROKER_CONTEXT_CLAIMS",
	"SKYBROKER_ALLOW_TABLES", "SKYBROKER_ALLOW_OPERATIONS", "SKYBROKER_MAX_REDACTION",
	"SKYBROKER_EXPOSE_TOKENS", "SKYBROKER_CA_FILE", "SKYBROKER_INSECURE_HTTP",
	"SKYBROKER_CACHE_SIZE", "SKYBROKER_RATE_LIMIT", "SKYBROKER_RATE_BURST",
};

/* The variables of a valid STS tenant. */
static void set_valid(void)
{
	for (size_t i = 0; i < sizeof(all_vars) / sizeof(all_vars[0]); i++)
		unsetenv(all_vars[i]);
	setenv("DESCOPE_PROJECT_ID", "P2env", 1);
	setenv("SKYFLOW_VAULT_URL_IDENTIFIER", "ebfc9bee4242", 1);
	setenv("SKYFLOW_VAULT_ID", "v9", 1);
	setenv("SKYFLOW_SERVICE_ACCOUNT_ID", "sa9", 1);
	setenv("SKYFLOW_STS_URL", "https://sts.example.com/v1", 1);
	setenv("SKYBROKER_ALLOW_UIDS", "1000", 1);
}

/* Loads from the environment: 0 or the error; messages in errbuf. */
static int load_env(void)
{
	struct broker_config *c = NULL;
	FILE *f = fmemopen(errbuf, sizeof(errbuf), "w");
	int r;

	assert_non_null(f);
	r = config_from_env(f, &c);
	fclose(f);
	config_unref(c);
	return r;
}

/* The environment as it is fails, and the messages hold each of the needles, and no key
 * name of a file (the key names are given as `bad`, NULL-terminated). */
static void expect(const char *const *needles, const char *const *bad)
{
	assert_true(load_env() < 0);
	for (size_t i = 0; needles[i]; i++)
		if (!strstr(errbuf, needles[i]))
			fail_msg("'%s' not in:\n%s", needles[i], errbuf);
	for (size_t i = 0; bad && bad[i]; i++)
		if (strstr(errbuf, bad[i]))
			fail_msg("'%s' (a file's key) in:\n%s", bad[i], errbuf);
}

static void test_valid(void **state)
{
	(void)state;
	set_valid();
	assert_int_equal(load_env(), 0);
	setenv("SKYBROKER_START_TIMEOUT", "2s", 1);
	assert_int_equal(load_env(), 0);
}

static void test_nothing_set(void **state)
{
	(void)state;
	set_valid();
	for (size_t i = 0; i < sizeof(all_vars) / sizeof(all_vars[0]); i++)
		unsetenv(all_vars[i]);
	expect((const char *[]){"set SKYBROKER_ALLOW_UIDS and/or SKYBROKER_ALLOW_GIDS",
				"DESCOPE_PROJECT_ID is required",
				"SKYFLOW_VAULT_URL_IDENTIFIER (or SKYFLOW_VAULT_URL) is required",
				"SKYFLOW_VAULT_ID is required",
				"SKYBROKER_EXCHANGE=sts needs SKYFLOW_STS_URL",
				"SKYBROKER_EXCHANGE=sts needs SKYFLOW_SERVICE_ACCOUNT_ID", NULL},
	       (const char *[]){"allow_uids", "descope_project_id", "vault_url is",
				"vault_id is", "needs sts_url", "needs service_account_id", NULL});
}

static void test_ctx_without_credentials(void **state)
{
	(void)state;
	set_valid();
	setenv("SKYBROKER_EXCHANGE", "ctx", 1);
	expect((const char *[]){"environment: SKYBROKER_EXCHANGE:",
				"SKYBROKER_EXCHANGE=ctx needs SKYBROKER_CREDENTIALS_FILE", NULL},
	       (const char *[]){"exchange = ctx", "needs credentials_file", NULL});
}

static void test_dependent_values(void **state)
{
	(void)state;
	set_valid();
	setenv("SKYBROKER_RATE_BURST", "10", 1);
	expect((const char *[]){"environment: SKYBROKER_RATE_BURST:",
				"SKYBROKER_RATE_BURST needs SKYBROKER_RATE_LIMIT", NULL},
	       (const char *[]){"rate_burst needs rate_limit", NULL});

	set_valid();
	setenv("SKYBROKER_JWKS_URL", "http://127.0.0.1:1/jwks.json", 1);
	expect((const char *[]){"environment: SKYBROKER_JWKS_URL:",
				"SKYBROKER_JWKS_URL is plain http",
				"unless SKYBROKER_INSECURE_HTTP=yes", NULL},
	       (const char *[]){"insecure_http = yes", "jwks_url is", NULL});
	setenv("SKYBROKER_INSECURE_HTTP", "yes", 1);
	assert_int_equal(load_env(), 0);

	set_valid();
	setenv("SKYFLOW_VAULT_URL", "http://vault.example.com", 1);
	expect((const char *[]){"environment: SKYFLOW_VAULT_URL:",
				"SKYFLOW_VAULT_URL_IDENTIFIER (or SKYFLOW_VAULT_URL) is plain http",
				NULL},
	       NULL);
}

static void test_sockets(void **state)
{
	(void)state;
	set_valid();
	setenv("SKYBROKER_SOCKET", "none", 1);
	setenv("SKYBROKER_ADMIN_SOCKET", "/run/x/admin.sock", 1);
	expect((const char *[]){"has no socket and [broker] SKYBROKER_SOCKET is none", NULL},
	       (const char *[]){"socket is disabled", NULL});

	set_valid();
	setenv("SKYBROKER_SOCKET", "/run/x/sb.sock", 1);
	setenv("SKYBROKER_ADMIN_SOCKET", "/run/x/sb.sock", 1);
	expect((const char *[]){"environment: SKYBROKER_ADMIN_SOCKET:",
				"SKYBROKER_ADMIN_SOCKET is the same path as SKYBROKER_SOCKET", NULL},
	       (const char *[]){"admin_socket is", NULL});
}

static void test_bad_values_name_the_variable(void **state)
{
	static const char *const cases[][2] = {
		{"SKYBROKER_START_TIMEOUT", "forever"}, {"SKYBROKER_IDLE_TIMEOUT", "-1"},
		{"SKYBROKER_SOCKET_MODE", "0777"},     {"SKYBROKER_ALLOW_UIDS", "nobody-here-x"},
		{"SKYBROKER_EXCHANGE", "magic"},        {"SKYBROKER_ALLOW_OPERATIONS", "fly"},
		{"SKYBROKER_MAX_REDACTION", "SOME"},    {"SKYBROKER_CACHE_SIZE", "0"},
		{"SKYFLOW_VAULT_URL_IDENTIFIER", "a.b"},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char needle[128];

		set_valid();
		setenv(cases[i][0], cases[i][1], 1);
		snprintf(needle, sizeof(needle), "environment: %s:", cases[i][0]);
		expect((const char *[]){needle, NULL}, NULL);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid),
		cmocka_unit_test(test_nothing_set),
		cmocka_unit_test(test_ctx_without_credentials),
		cmocka_unit_test(test_dependent_values),
		cmocka_unit_test(test_sockets),
		cmocka_unit_test(test_bad_values_name_the_variable),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
