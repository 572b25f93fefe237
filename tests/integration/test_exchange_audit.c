/* SPDX-License-Identifier: MIT */
/*
 * The audit line is logfmt: a subject whose sub reads "U2x outcome=ok" (or holds a quote, a
 * backslash, a newline) is one quoted value, so the line keeps exactly one of each key and
 * stays one line (issue 9, item 9: such a sub wrote a second outcome= field).
 */
#include "exchange_daemon.h"

static struct xe_emu E;
static struct sbt_daemon D;

static int group_setup(void **state)
{
	char *cfg = xe_config(NULL), conf[16384];
	size_t len;

	(void)state;
	curl_global_init(CURL_GLOBAL_DEFAULT);
	if (xe_emu_start(&E, cfg) < 0)
		return -1;
	free(cfg);
	sbt_daemon_init(&D);
	len = xd_broker(conf, sizeof(conf), &D, NULL);
	len = xd_tenant(conf, sizeof(conf), len, &E, "acme", "sts", NULL, NULL);
	(void)len;
	return sbt_daemon_start(&D, conf, NULL) < 0 ? -1 : 0;
}

static int group_teardown(void **state)
{
	(void)state;
	sbt_daemon_stop(&D);
	xe_emu_stop(&E);
	return 0;
}

/* The daemon's log, NUL-terminated (caller frees). */
static char *read_log(void)
{
	FILE *f = fopen(D.log, "re");
	char *data;
	long n;

	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	data = calloc(1, (size_t)n + 1);
	assert_non_null(data);
	assert_int_equal(fread(data, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	return data;
}

/* How many fields of a logfmt line are named key (a quoted value is skipped whole, escapes
 * and all, as a logfmt reader does). */
static size_t count_key(const char *p, const char *key)
{
	size_t k = 0, kl = strlen(key);

	while (*p) {
		const char *start;

		while (*p == ' ')
			p++;
		start = p;
		while (*p && *p != '=' && *p != ' ')
			p++;
		if ((size_t)(p - start) == kl && memcmp(start, key, kl) == 0)
			k++;
		if (*p != '=')
			continue;
		if (*++p == '"') {
			for (p++; *p && *p != '"'; p++)
				if (*p == '\\' && p[1])
					p++;
			if (*p)
				p++;
		} else {
			while (*p && *p != ' ')
				p++;
		}
	}
	return k;
}

/*
 * Exchanges a token minted for sub and checks the audit lines: each has exactly one of each
 * key, and one of them holds want (the sub as logged). Every log line starts with a "<N>" priority, so a sub
 * that broke the line would leave one that does not.
 */
static void check_sub(const char *sub, const char *want)
{
	static const char *const keys[] = {"conn",  "uid",   "pid",     "tenant",
					   "op",    "id",    "table",   "sub",
					   "token", "outcome", "upstream_request_id", "latency_us"};
	struct sbt_client *c = xd_client(D.socket);
	char *t = xd_mint(&E, sub, "Viewer", 600, NULL), *log, *line, *save = NULL;
	struct sb_reply rep;
	size_t found = 0, before;

	log = read_log();
	before = strlen(log); /* only this test's lines are looked at */
	free(log);
	xd_exchange(c, t, &rep);
	if (!rep.ok)
		fail_msg("exchange failed: %s: %s", sbt_outcome(&rep), rep.error.message);
	sb_reply_done(&rep);
	sbt_client_free(c);
	free(t);
	/* the audit line is written before the reply it describes */
	log = read_log();
	for (line = strtok_r(log + before, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (line[0] != '<')
			fail_msg("a log line does not start with a priority: '%s'", line);
		if (!strstr(line, "audit: "))
			continue;
		for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
			if (count_key(strstr(line, "audit: ") + 7, keys[i]) != 1)
				fail_msg("%s= appears %zu times in '%s'", keys[i],
					 count_key(strstr(line, "audit: ") + 7, keys[i]), line);
		if (!strstr(line, want))
			continue;
		found++;
		assert_non_null(strstr(line, " op=exchange "));
		assert_non_null(strstr(line, " outcome=ok "));
	}
	free(log);
	if (found != 1)
		sbt_log_dump(&D);
	assert_int_equal(found, 1);
}

static void test_sub_with_a_field(void **state)
{
	(void)state;
	check_sub("U2x outcome=ok", " sub=\"U2x outcome=ok\" ");
}

static void test_sub_with_quote_backslash_newline(void **state)
{
	(void)state;
	check_sub("U2\"q\\b\nz=1 outcome=forged", " sub=\"U2\\\"q\\\\b\\nz=1 outcome=forged\" ");
}

static void test_sub_plain_stays_bare(void **state)
{
	(void)state;
	check_sub("U2plainSubject", " sub=U2plainSubject ");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sub_with_a_field),
		cmocka_unit_test(test_sub_with_quote_backslash_newline),
		cmocka_unit_test(test_sub_plain_stays_bare),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
