/* SPDX-License-Identifier: MIT */
/*
 * Every configuration the documentation shows passes skybrokerd --check-config: the sample
 * systemd/skybroker.conf, each .nf/.fi block of the man pages and each fenced block of the
 * Markdown files that holds a [tenant.NAME] section. And every relative link of those Markdown
 * files leads to a file that exists. An example that no longer loads (a key
 * renamed, an operation that does not exist) fails here, naming the file and the block.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"

#define MAX_DOC (1024 * 1024)

static struct sbt_daemon D;
static char out[65536];
static char credentials_env[160];

/* The documents searched, relative to the source tree. */
static const char *const man_pages[] = {"docs/skybroker.conf.5", "docs/skybrokerd.8"};
static const char *const markdown[] = {"README.md",        "docs/design.md",
				       "docs/internals.md", "docs/tokens.md",
				       "proto/PROTOCOL.md", "tests/emulator/README.md"};

static int setup(void **state)
{
	char dir[108], creds[160];

	(void)state;
	sbt_daemon_init(&D);
	/* what LoadCredential= would give: the man page's beta-sa.json */
	sbt_path(dir, sizeof(dir), &D, "credentials");
	assert_int_equal(mkdir(dir, 0700), 0);
	snprintf(creds, sizeof(creds), "%s/beta-sa.json", dir);
	sbt_write_file(creds, "{}\n", 0600);
	snprintf(credentials_env, sizeof(credentials_env), "CREDENTIALS_DIRECTORY=%s", dir);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	sbt_daemon_stop(&D);
	return 0;
}

/* The file's text (malloc'd, NUL-terminated), or NULL when it does not exist. */
static char *slurp(const char *rel)
{
	char path[4096];
	FILE *f;
	char *buf;
	size_t n;

	snprintf(path, sizeof(path), "%s/%s", getenv("SKYBROKER_SOURCE_DIR"), rel);
	f = fopen(path, "re");
	if (!f)
		return NULL;
	buf = calloc(1, MAX_DOC + 1);
	assert_non_null(buf);
	n = fread(buf, 1, MAX_DOC, f);
	fclose(f);
	buf[n] = '\0';
	return buf;
}

/* Runs --check-config on text; fails the test with the output when it does not pass. */
static void expect_valid(const char *what, const char *text)
{
	const char *argv[] = {sbt_daemon_path(), "--check-config", "--config", D.conf, NULL};
	const char *env[] = {credentials_env, NULL};

	sbt_write_file(D.conf, text, 0644);
	if (sbt_run(argv, env, out, sizeof(out)) != 0)
		fail_msg("%s does not pass --check-config:\n%s\n--- output:\n%s", what, text, out);
}

/* Appends the line [p, e) to dst (size), unescaping roff (\- \e \&). */
static void append_roff_line(char *dst, size_t size, const char *p, const char *e)
{
	size_t o = strlen(dst);

	for (; p < e && o + 2 < size; p++) {
		if (*p == '\\' && p + 1 < e) {
			p++;
			if (*p == '-')
				dst[o++] = '-';
			else if (*p == 'e')
				dst[o++] = '\\';
			/* \& and anything else: nothing */
			continue;
		}
		dst[o++] = *p;
	}
	dst[o++] = '\n';
	dst[o] = '\0';
}

/* Checks every .nf ... .fi block of a man page holding a [tenant. section; returns how many. */
static int check_man(const char *rel)
{
	char *doc = slurp(rel), *p, block[16384], what[256];
	int n = 0, nth = 0;

	assert_non_null(doc);
	for (p = strstr(doc, "\n.nf\n"); p; p = strstr(p, "\n.nf\n")) {
		char *end = strstr(p + 5, "\n.fi\n");
		const char *line = p + 5;

		assert_non_null(end);
		nth++;
		block[0] = '\0';
		while (line < end + 1) {
			const char *eol = strchr(line, '\n');

			if (line[0] != '.') /* requests such as .B inside the block are roff's */
				append_roff_line(block, sizeof(block), line, eol);
			line = eol + 1;
		}
		p = end;
		if (!strstr(block, "[tenant."))
			continue;
		snprintf(what, sizeof(what), "%s, example block %d", rel, nth);
		expect_valid(what, block);
		n++;
	}
	free(doc);
	return n;
}

/* Checks every ``` block of a Markdown file holding a [tenant. section; returns how many. */
static int check_markdown(const char *rel)
{
	char *doc = slurp(rel), *p, what[256];
	int n = 0, nth = 0;

	if (!doc)
		return 0;
	for (p = strstr(doc, "```"); p; p = strstr(p, "```")) {
		char *body = strchr(p, '\n'), *end;

		if (!body)
			break;
		end = strstr(body, "\n```");
		if (!end)
			break;
		nth++;
		*end = '\0';
		if (strstr(body, "[tenant.")) {
			snprintf(what, sizeof(what), "%s, code block %d", rel, nth);
			expect_valid(what, body + 1);
			n++;
		}
		p = end + 4;
	}
	free(doc);
	return n;
}

static void test_sample_config(void **state)
{
	char *text;

	(void)state;
	if (!getenv("SKYBROKER_SOURCE_DIR"))
		skip();
	text = slurp("systemd/skybroker.conf");
	assert_non_null(text);
	expect_valid("systemd/skybroker.conf", text);
	/* the one operation that works today is allowed, and every listed one exists */
	assert_non_null(strstr(out, "allow_operations = ping, health, exchange, get_records"));
	free(text);
}

static void test_man_page_examples(void **state)
{
	int n = 0;

	(void)state;
	if (!getenv("SKYBROKER_SOURCE_DIR"))
		skip();
	for (size_t i = 0; i < sizeof(man_pages) / sizeof(man_pages[0]); i++)
		n += check_man(man_pages[i]);
	assert_true(n >= 1); /* skybroker.conf(5) EXAMPLE */
}

static void test_markdown_examples(void **state)
{
	(void)state;
	if (!getenv("SKYBROKER_SOURCE_DIR"))
		skip();
	for (size_t i = 0; i < sizeof(markdown) / sizeof(markdown[0]); i++)
		(void)check_markdown(markdown[i]);
}

/* Every relative link of the Markdown files, "](path)", names a file or folder that exists. */
static void test_markdown_links(void **state)
{
	(void)state;
	if (!getenv("SKYBROKER_SOURCE_DIR"))
		skip();
	for (size_t i = 0; i < sizeof(markdown) / sizeof(markdown[0]); i++) {
		char *doc = slurp(markdown[i]), *p, *slash;
		char dir[1024], path[4096];

		if (!doc)
			continue;
		snprintf(dir, sizeof(dir), "%s", markdown[i]);
		slash = strrchr(dir, '/');
		if (slash)
			slash[1] = '\0';
		else
			dir[0] = '\0';
		for (p = strstr(doc, "]("); p; p = strstr(p + 2, "](")) {
			char *end = strchr(p + 2, ')');
			size_t n = end ? (size_t)(end - (p + 2)) : 0;

			if (!end || n == 0 || n > 1000 || strncmp(p + 2, "http", 4) == 0 ||
			    p[2] == '#' || memchr(p + 2, ' ', n))
				continue;
			snprintf(path, sizeof(path), "%s/%s%.*s", getenv("SKYBROKER_SOURCE_DIR"),
				 dir, (int)n, p + 2);
			if (strchr(path, '#'))
				*strchr(path, '#') = '\0';
			if (access(path, F_OK) != 0)
				fail_msg("%s links to %.*s, which does not exist", markdown[i], (int)n,
					 p + 2);
		}
		free(doc);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sample_config),
		cmocka_unit_test(test_man_page_examples),
		cmocka_unit_test(test_markdown_examples),
		cmocka_unit_test(test_markdown_links),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
