/* SPDX-License-Identifier: MIT */
/* test_config_findings: regression tests for what fuzz_config and the config split found. */
/*
 *  - a NUL byte in a config file silently dropped the rest of the file (so a repeated key,
 *    or a max_redaction after it, went unseen): now an error naming its line;
 *  - a list of more than CONFIG_MAX_LIST ids or operations failed without a word, and
 *    allow_operations then kept its default, every operation: now an error;
 *  - config_print put a whole list on one line, which inih (197 bytes a line) could not load
 *    back: long lists now print over several "key =" lines, which add up;
 *  - config_print wrote "a, ;b" for a list entry ";b" (and "key = ;v"), which inih reads
 *    back as a comment: no blank before a ';' now;
 *  - a URL with a blank ("https://v.example.com /") loaded, and trimming its trailing slash
 *    left a trailing blank: a blank or a control character now makes it "not an http(s)
 *    URL", as RFC 3986 (and libcurl) have it;
 *  - config_print showed a sub-millisecond duration in whole milliseconds: now exact.
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

#include "config_load.h"

#include "tenancy/config.h"
#include "util/cleanup.h"
#include "proto/message.h"

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

static void test_nul_byte_in_file(void **state)
{
	static const char text[] = "[tenant.a]\n" TENANT "max_redaction = MASKED\n"
				   "issuer = x\0y\n"
				   "max_redaction = PLAIN_TEXT\n";
	char path[] = "/tmp/test_config_findings.XXXXXX";
	struct broker_config *c = (struct broker_config *)1;
	FILE *f;
	int fd;

	(void)state;
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, sizeof(text) - 1), (ssize_t)(sizeof(text) - 1));
	close(fd);
	f = fmemopen(errbuf, sizeof(errbuf), "w");
	assert_true(config_load_file(path, f, &c) < 0);
	fclose(f);
	unlink(path);
	assert_null(c);
	assert_non_null(strstr(errbuf, ":9: NUL byte in line"));
	/* and what follows the NUL is read, not dropped */
	assert_non_null(strstr(errbuf, ":10: key 'max_redaction' is set twice (first at line 8)"));
}

/* A config from the environment with SKYBROKER_<var> = n comma-separated copies of item. */
static int env_with_list(const char *var, const char *item, size_t n, struct broker_config **ret)
{
	size_t len = strlen(item), off = 0;
	_cleanup_free_ char *list = malloc(n * (len + 1));
	FILE *f;
	int r;

	assert_non_null(list);
	for (size_t i = 0; i < n; i++) {
		memcpy(list + off, item, len);
		off += len;
		list[off++] = i + 1 < n ? ',' : '\0';
	}
	setenv("DESCOPE_PROJECT_ID", "P9", 1);
	setenv("SKYFLOW_VAULT_URL_IDENTIFIER", "abc", 1);
	setenv("SKYFLOW_VAULT_ID", "v9", 1);
	setenv("SKYFLOW_SERVICE_ACCOUNT_ID", "sa9", 1);
	setenv("SKYFLOW_STS_URL", "https://sts.example.com", 1);
	setenv("SKYBROKER_ALLOW_GIDS", "0", 1);
	setenv(var, list, 1);
	f = fmemopen(errbuf, sizeof(errbuf), "w");
	r = config_from_env(f, ret);
	fclose(f);
	unsetenv(var);
	return r;
}

static void test_list_overflow_is_an_error(void **state)
{
	_cleanup_(config_unrefp) struct broker_config *c = NULL;

	(void)state;
	/* used to load, with every operation allowed */
	assert_true(env_with_list("SKYBROKER_ALLOW_OPERATIONS", "query", CONFIG_MAX_LIST + 1, &c) < 0);
	assert_null(c);
	assert_non_null(strstr(errbuf, "environment: SKYBROKER_ALLOW_OPERATIONS: allow_operations: "
				       "more than 1024 entries"));
	/* used to load, without these uids */
	assert_true(env_with_list("SKYBROKER_ALLOW_UIDS", "7", CONFIG_MAX_LIST + 1, &c) < 0);
	assert_non_null(strstr(errbuf, "environment: SKYBROKER_ALLOW_UIDS: allow_uids: "
				       "more than 1024 entries"));
	/* at the limit: fine */
	assert_int_equal(env_with_list("SKYBROKER_ALLOW_OPERATIONS", "query", CONFIG_MAX_LIST, &c), 0);
	assert_int_equal(c->tenants[0].allow_operations,
			 (1u << SB_OP_QUERY) | (1u << SB_OP_PING) | (1u << SB_OP_HEALTH));
}

static void test_long_lists_print_loadably(void **state)
{
	_cleanup_(config_unrefp) struct broker_config *c = NULL, *c2 = NULL;
	_cleanup_free_ char *text = NULL, *text2 = NULL;
	char conf[8192];
	size_t off;

	(void)state;
	/* two 130-byte audiences (one a line) used to print as one 275-byte line */
	off = (size_t)snprintf(conf, sizeof(conf), "[tenant.a]\n" TENANT "allow_uids = 1001\n");
	for (int i = 0; i < 2; i++) {
		off += (size_t)snprintf(conf + off, sizeof(conf) - off, "audience = ");
		memset(conf + off, 'a' + i, 130);
		off += 130;
		off += (size_t)snprintf(conf + off, sizeof(conf) - off, "\n");
	}
	for (int line = 0; line < 10; line++) { /* 300 uids */
		off += (size_t)snprintf(conf + off, sizeof(conf) - off, "allow_uids =");
		for (int i = 0; i < 30; i++)
			off += (size_t)snprintf(conf + off, sizeof(conf) - off, " %d", 2000 + line * 30 + i);
		off += (size_t)snprintf(conf + off, sizeof(conf) - off, "\n");
	}
	assert_int_equal(load(conf, &c), 0);
	assert_int_equal(c->tenants[0].n_allow_uids, 302);
	text = print(c);
	for (const char *l = text, *nl; (nl = strchr(l, '\n')); l = nl + 1)
		assert_true(nl - l <= 160);
	assert_int_equal(load(text, &c2), 0);
	assert_int_equal(c2->tenants[0].audience.n, 2);
	assert_int_equal(c2->tenants[0].n_allow_uids, 302);
	assert_memory_equal(c2->tenants[0].allow_uids, c->tenants[0].allow_uids, 302 * sizeof(uid_t));
	text2 = print(c2);
	assert_string_equal(strchr(text, '\n'), strchr(text2, '\n')); /* but the source line */
	c = config_unref(c);

	/* a short list still prints on one line, as before */
	assert_int_equal(load("[tenant.a]\n" TENANT "audience = x, y\n", &c), 0);
	free(text);
	text = print(c);
	assert_non_null(strstr(text, "\naudience = x, y\n"));
	assert_non_null(strstr(text, "\nallow_uids = 1000\n"));
}

static void test_semicolon_values_print_loadably(void **state)
{
	_cleanup_(config_unrefp) struct broker_config *c = NULL, *c2 = NULL;
	_cleanup_free_ char *text = NULL;
	const struct tenant_config *t;

	(void)state;
	/* no blank before the ';': values, not comments */
	assert_int_equal(load("[tenant.a]\n" TENANT "allow_tables = t1,;t2\nissuer =;i\n"
			      "audience =;a, b\n",
			      &c),
			 0);
	t = &c->tenants[0];
	assert_int_equal(t->allow_tables.n, 2);
	assert_string_equal(t->allow_tables.v[1], ";t2");
	assert_string_equal(t->issuer, ";i");
	assert_string_equal(t->audience.v[0], ";a");
	text = print(c);
	/* ", ;t2" or "= ;i" would be read back as comments, losing the values */
	assert_non_null(strstr(text, "\nallow_tables = t1,;t2\n"));
	assert_non_null(strstr(text, "\nissuer =;i\n"));
	assert_non_null(strstr(text, "\naudience =;a, b\n"));
	assert_int_equal(load(text, &c2), 0);
	t = &c2->tenants[0];
	assert_int_equal(t->allow_tables.n, 2);
	assert_string_equal(t->allow_tables.v[1], ";t2");
	assert_string_equal(t->issuer, ";i");
	assert_int_equal(t->audience.n, 2);
}

static void test_url_with_blank_is_refused(void **state)
{
	struct broker_config *c = (struct broker_config *)1;

	(void)state;
	/* used to load as "https://v.example.com " (the slash trimmed, the blank kept) */
	assert_true(load("[tenant.a]\n" TENANT "jwks_url = https://v.example.com /\n", &c) < 0);
	assert_null(c);
	assert_non_null(strstr(errbuf, "t.conf:8: jwks_url: 'https://v.example.com /' is not an "
				       "http(s) URL"));
	assert_true(load("[tenant.a]\n" TENANT "descope_base_url = https://a b\n", &c) < 0);
	assert_non_null(strstr(errbuf, "t.conf:8: descope_base_url: 'https://a b' is not an"));
	assert_true(load("[tenant.a]\n" TENANT "jwks_url = https://a\tb\n", &c) < 0);
	assert_non_null(strstr(errbuf, "t.conf:8: jwks_url:"));
}

static void test_control_character_in_a_name_is_refused(void **state)
{
	struct broker_config *c = (struct broker_config *)1;

	(void)state;
	/* found by fuzz_config: "\vt1" loaded, and --check-config printed it where inih strips
	 * the \v as leading blank, so the printed config loaded "t1" */
	assert_true(load("[tenant.a]\n" TENANT "allow_tables = t0, \vt1\n", &c) < 0);
	assert_null(c);
	assert_non_null(strstr(errbuf, "t.conf:8: allow_tables: entry 2 contains a control character"));
	assert_true(load("[tenant.a]\n" TENANT "context_claims = ro\x7fles\n", &c) < 0);
	assert_non_null(strstr(errbuf, "context_claims: entry 1 contains a control character"));
}

static void test_sub_millisecond_durations_print_exactly(void **state)
{
	_cleanup_(config_unrefp) struct broker_config *c = NULL, *c2 = NULL;
	_cleanup_free_ char *text = NULL;

	(void)state;
	assert_int_equal(load("[broker]\nhello_timeout = 1500us\nidle_timeout = 2500ms\n"
			      "[tenant.a]\n" TENANT,
			      &c),
			 0);
	text = print(c);
	assert_non_null(strstr(text, "hello_timeout = 1500us\n")); /* was "1ms" */
	assert_non_null(strstr(text, "idle_timeout = 2500ms\n"));
	assert_non_null(strstr(text, "shutdown_timeout = 30s\n"));
	assert_int_equal(load(text, &c2), 0);
	assert_int_equal(c2->hello_timeout_usec, 1500);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_nul_byte_in_file),
		cmocka_unit_test(test_list_overflow_is_an_error),
		cmocka_unit_test(test_long_lists_print_loadably),
		cmocka_unit_test(test_semicolon_values_print_loadably),
		cmocka_unit_test(test_url_with_blank_is_refused),
		cmocka_unit_test(test_control_character_in_a_name_is_refused),
		cmocka_unit_test(test_sub_millisecond_durations_print_exactly),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
