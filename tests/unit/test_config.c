/* SPDX-License-Identifier: MIT */
/* test_config: the config value parsers, loader errors with line numbers, defaults, env. */
/* Unit tests of broker/tenancy/config*.c: value parsers, the INI loader's errors with line
 * numbers, defaults and derived values, and the environment fallback. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "config_load.h"

#include "tenancy/config.h"
#include "proto/limits.h"
#include "proto/message.h"

static void test_parsers(void **state)
{
	uint64_t u;
	bool b;
	mode_t m;

	(void)state;
	assert_int_equal(config_parse_duration("30", &u), 0);
	assert_int_equal(u, 30000000);
	assert_int_equal(config_parse_duration("500ms", &u), 0);
	assert_int_equal(u, 500000);
	assert_int_equal(config_parse_duration("2m", &u), 0);
	assert_int_equal(u, 120000000);
	assert_true(config_parse_duration("", &u) < 0);
	assert_true(config_parse_duration("-1s", &u) < 0);
	assert_true(config_parse_duration("5 s", &u) < 0);
	assert_true(config_parse_duration("5days", &u) < 0);
	assert_true(config_parse_duration("99999999999999999999", &u) < 0);
	assert_true(config_parse_duration("9999999999999999h", &u) < 0);
	assert_int_equal(config_parse_size("64K", &u), 0);
	assert_int_equal(u, 65536);
	assert_int_equal(config_parse_size("4M", &u), 0);
	assert_int_equal(u, 4u << 20);
	assert_true(config_parse_size("4G", &u) < 0);
	assert_int_equal(config_parse_bool("Yes", &b), 0);
	assert_true(b);
	assert_int_equal(config_parse_bool("off", &b), 0);
	assert_false(b);
	assert_true(config_parse_bool("maybe", &b) < 0);
	assert_int_equal(config_parse_mode("0660", &m), 0);
	assert_int_equal(m, 0660);
	assert_int_equal(config_parse_mode("600", &m), 0);
	assert_int_equal(m, 0600);
	assert_true(config_parse_mode("0999", &m) < 0);
	assert_true(config_parse_mode("01777", &m) < 0);
	assert_true(config_parse_mode("", &m) < 0);
	assert_true(config_parse_uint("+5", &u) < 0);
	assert_true(config_parse_uint("5x", &u) < 0);
}

static void test_minimal_and_defaults(void **state)
{
	struct broker_config *c = NULL;
	const struct tenant_config *t;

	(void)state;
	assert_int_equal(load("[tenant.acme]\n" TENANT, &c), 0);
	assert_non_null(c);
	assert_string_equal(c->socket, CONFIG_DEFAULT_SOCKET);
	assert_string_equal(c->admin_socket, CONFIG_DEFAULT_ADMIN_SOCKET);
	assert_int_equal(c->socket_mode, 0660);
	assert_int_equal(c->max_request_frame, SB_MAX_REQUEST_FRAME_DEFAULT);
	assert_int_equal(c->n_tenants, 1);
	t = config_find_tenant(c, "acme");
	assert_non_null(t);
	assert_null(config_find_tenant(c, "nope"));
	assert_string_equal(t->socket_name, "acme");
	assert_string_equal(t->descope_base_url, "https://api.descope.com");
	assert_string_equal(t->jwks_url, "https://api.descope.com/P1/.well-known/jwks.json");
	assert_string_equal(t->vault_url, "https://v.vault.skyflowapis.com"); /* slash trimmed */
	assert_int_equal(t->exchange, CONFIG_EXCHANGE_STS);
	assert_int_equal(t->token_max_len, 16384);
	assert_int_equal(t->max_redaction, CONFIG_REDACTION_PLAIN_TEXT);
	assert_false(t->expose_tokens);
	assert_int_equal(t->n_allow_uids, 1);
	assert_int_equal(t->allow_uids[0], 1000);
	assert_true(t->allow_operations & (1u << SB_OP_GET_RECORDS));
	assert_false(t->allow_operations & (1u << SB_OP_STATS));
	/* references */
	assert_ptr_equal(config_ref(c), c);
	assert_null(config_free(c));
	assert_int_equal(c->n_tenants, 1); /* still alive */
	config_free(c);
}

/* ca_file must name a readable file: one made for the tests, removed at the end. */
static char ca_file[] = "/tmp/test_config.ca.XXXXXX";

static int setup(void **state)
{
	int fd = mkstemp(ca_file);

	(void)state;
	if (fd < 0)
		return -1;
	close(fd);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	return unlink(ca_file);
}

static void test_all_tenant_keys(void **state)
{
	_cleanup_(config_unrefp) struct broker_config *c = NULL;
	const struct tenant_config *t;
	char text[2048];

	(void)state;
	snprintf(text, sizeof(text),
		 "[broker]\n"
		 "socket = /run/a.sock\nsocket_name = shared\nsocket_mode = 0600\n"
		 "socket_group = 0\nadmin_socket = none\nmax_connections = 10\n"
		 "max_connections_per_uid = 2\nmax_inflight_per_connection = 3\n"
		 "max_request_frame = 16K\nmax_reply_frame = 1M\nhello_timeout = 1s\n"
		 "idle_timeout = 10m\nshutdown_timeout = 0\nlog_level = debug\naudit = no\n"
		 "[tenant.t-1]\n" TENANT
		 "socket = /run/t1.sock\nsocket_name = t1\nallow_gids = 0, 5\n"
		 "descope_base_url = https://auth.example.com\nissuer = https://i\n"
		 "audience = a1, a2\njwks_url = https://auth.example.com/jwks\n"
		 "jwks_refresh = 10m\nexchange = sts\ncontext_claims = roles sub email\n"
		 "allow_tables = persons, cards\nallow_operations = get_records\n"
		 "max_redaction = MASKED\nexpose_tokens = yes\nca_file = %s\n"
		 "insecure_http = no\ncache_size = 5\nrate_limit = 7\n"
		 "token_max_len = 8K\nhttp_timeout = 3s\nconnect_timeout = 1500ms\n",
		 ca_file);
	assert_int_equal(load(text, &c), 0);
	assert_null(c->admin_socket);
	assert_int_equal(c->max_inflight_per_connection, 3);
	assert_int_equal(c->max_request_frame, 16384);
	assert_int_equal(c->shutdown_timeout_usec, 0);
	assert_false(c->audit);
	t = &c->tenants[0];
	assert_string_equal(t->name, "t-1");
	assert_string_equal(t->socket, "/run/t1.sock");
	assert_int_equal(t->n_allow_gids, 2);
	assert_int_equal(t->audience.n, 2);
	assert_string_equal(t->audience.v[1], "a2");
	assert_int_equal(t->context_claims.n, 3);
	assert_int_equal(t->allow_tables.n, 2);
	assert_int_equal(t->allow_operations, (1u << SB_OP_GET_RECORDS) | (1u << SB_OP_PING) |
						     (1u << SB_OP_HEALTH));
	assert_int_equal(t->max_redaction, CONFIG_REDACTION_MASKED);
	assert_true(t->expose_tokens);
	assert_int_equal(t->token_max_len, 8192);
	assert_int_equal(t->connect_timeout_usec, 1500000);
	assert_int_equal(t->jwks_refresh_usec, 600000000ull);
}

static void test_errors_name_lines(void **state)
{
	struct broker_config *c = (struct broker_config *)1;

	(void)state;
	assert_true(load("[broker]\n\nsocket_mod = 0600\n[tenant.a]\n" TENANT, &c) < 0);
	assert_null(c);
	assert_non_null(strstr(errbuf, "t.conf:3: unknown key 'socket_mod' in [broker]"));

	assert_true(load("[tenant.a]\n" TENANT "[tenant.a]\n" TENANT, &c) < 0);
	assert_non_null(strstr(errbuf, "t.conf:8: tenant 'a' is defined twice (first at line 1)"));

	assert_true(load("[tenant.bad name]\n" TENANT, &c) < 0);
	assert_non_null(strstr(errbuf, "t.conf:1: bad tenant name"));

	assert_true(load("[tenant.a]\n" TENANT "max_connections = 5\n", &c) < 0);
	assert_non_null(strstr(errbuf, "t.conf:8: unknown key 'max_connections' in [tenant.a]"));

	assert_true(load("socket = /x\n[tenant.a]\n" TENANT, &c) < 0);
	assert_non_null(strstr(errbuf, "t.conf:1: key 'socket' outside of any section"));

	assert_true(load("[broker]\nmax_request_frame = 2M\n[tenant.a]\n" TENANT, &c) < 0);
	assert_non_null(strstr(errbuf, "t.conf:2: max_request_frame: out of range"));

	assert_true(load("[tenant.a]\n" TENANT "allow_uids = nosuchuser-xyz\n", &c) < 0);
	assert_non_null(strstr(errbuf, "t.conf:8: allow_uids: unknown user 'nosuchuser-xyz'"));

	assert_true(load("[tenant.a]\n" TENANT "exchange = magic\n", &c) < 0);
	assert_non_null(strstr(errbuf, "t.conf:8: exchange: 'magic'"));

	/* an indented continuation of a scalar is an error, not a silent append */
	assert_true(load("[tenant.a]\n" TENANT "issuer = a\n  b\n", &c) < 0);
	assert_non_null(strstr(errbuf, "t.conf:9: key 'issuer' is set twice"));
}

static void test_long_line_and_list_append(void **state)
{
	_cleanup_(config_unrefp) struct broker_config *c = NULL;
	char text[8192];
	size_t off;

	(void)state;
	/* a long list is given over several lines: repeated and continued list keys add up */
	off = (size_t)snprintf(text, sizeof(text), "[tenant.a]\n" TENANT "allow_uids = 1001\n");
	for (int line = 0; line < 20; line++) {
		off += (size_t)snprintf(text + off, sizeof(text) - off, "allow_tables = ");
		for (int i = 0; i < 10; i++)
			off += (size_t)snprintf(text + off, sizeof(text) - off, "%st%d", i ? "," : "",
						line * 10 + i);
		off += (size_t)snprintf(text + off, sizeof(text) - off, "\n");
	}
	snprintf(text + off, sizeof(text) - off, "allow_operations = ping\nallow_operations = query\n"
						 "context_claims = a\n  b c\n");
	assert_int_equal(load(text, &c), 0);
	assert_int_equal(c->tenants[0].allow_tables.n, 200);
	assert_string_equal(c->tenants[0].allow_tables.v[199], "t199");
	assert_int_equal(c->tenants[0].n_allow_uids, 2);
	assert_int_equal(c->tenants[0].allow_uids[1], 1001);
	assert_true(c->tenants[0].allow_operations & (1u << SB_OP_QUERY));
	assert_false(c->tenants[0].allow_operations & (1u << SB_OP_GET_RECORDS));
	assert_int_equal(c->tenants[0].context_claims.n, 3);
	c = config_unref(c);

	/* a line longer than inih takes is an error naming it, not a silent split */
	off = (size_t)snprintf(text, sizeof(text), "[tenant.a]\n" TENANT "allow_tables = ");
	memset(text + off, 'x', 1000);
	snprintf(text + off + 1000, 16, "\nvault_id = 2\n");
	assert_true(load(text, &c) < 0);
	assert_non_null(strstr(errbuf, "t.conf:8: line longer than"));
	/* scalars still may not repeat */
	assert_non_null(strstr(errbuf, "t.conf:9: key 'vault_id' is set twice (first at line 4)"));
}

static void test_env(void **state)
{
	_cleanup_(config_unrefp) struct broker_config *c = NULL;
	FILE *f;

	(void)state;
	setenv("DESCOPE_PROJECT_ID", "P9", 1);
	setenv("SKYFLOW_VAULT_URL_IDENTIFIER", "abc", 1);
	setenv("SKYFLOW_VAULT_ID", "v9", 1);
	setenv("SKYFLOW_SERVICE_ACCOUNT_ID", "sa9", 1);
	setenv("SKYFLOW_STS_URL", "https://sts.example.com", 1);
	setenv("SKYBROKER_ALLOW_UIDS", "0", 1);
	setenv("SKYBROKER_TENANT", "main", 1);
	f = fmemopen(errbuf, sizeof(errbuf), "w");
	assert_int_equal(config_from_env(f, &c), 0);
	fclose(f);
	assert_string_equal(c->tenants[0].name, "main");
	assert_string_equal(c->tenants[0].vault_url, "https://abc.vault.skyflowapis.com");
	assert_string_equal(c->source, "environment");
	c = config_unref(c);

	setenv("SKYFLOW_VAULT_URL_IDENTIFIER", "evil.example.com/x", 1);
	f = fmemopen(errbuf, sizeof(errbuf), "w");
	assert_true(config_from_env(f, &c) < 0);
	fclose(f);
	assert_non_null(strstr(errbuf, "environment: SKYFLOW_VAULT_URL_IDENTIFIER:"));
	unsetenv("SKYFLOW_VAULT_URL_IDENTIFIER");
}

static void test_print_roundtrip(void **state)
{
	_cleanup_(config_unrefp) struct broker_config *c = NULL, *c2 = NULL;
	_cleanup_free_ char *text = NULL;
	size_t len = 0;
	FILE *f;

	char conf[1024];

	(void)state;
	snprintf(conf, sizeof(conf),
		 "[broker]\nsocket_group = 0\n[tenant.a]\n" TENANT
		 "audience = x\nallow_tables = p\nca_file = %s\n",
		 ca_file);
	assert_int_equal(load(conf, &c), 0);
	f = open_memstream(&text, &len);
	config_print(c, f);
	fclose(f);
	/* what --check-config prints parses back to the same settings */
	assert_int_equal(load(text, &c2), 0);
	assert_string_equal(c2->tenants[0].ca_file, ca_file);
	assert_int_equal(c2->tenants[0].allow_operations, c->tenants[0].allow_operations);
	assert_int_equal(c2->hello_timeout_usec, c->hello_timeout_usec);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parsers),
		cmocka_unit_test(test_minimal_and_defaults),
		cmocka_unit_test(test_all_tenant_keys),
		cmocka_unit_test(test_errors_name_lines),
		cmocka_unit_test(test_long_line_and_list_append),
		cmocka_unit_test(test_env),
		cmocka_unit_test(test_print_roundtrip),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
