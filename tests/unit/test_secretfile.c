/* SPDX-License-Identifier: MIT */
/* test_secretfile: which directories the secret-file rule looks at, over a fake file system. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "util/secretfile.h"

/* The directories stat'ed, in order, as "a|b|c|". */
static char seen[1024];
/* A directory the fake file system makes writable by others (NULL: none). */
static const char *open_dir;
/* What realpath returns for "/l/link" (the only symbolic link). */
static const char *link_target = "/real/dir/file";

static int fake_stat(const char *path, struct stat *ret)
{
	size_t n = strlen(seen);

	snprintf(seen + n, sizeof(seen) - n, "%s|", path);
	*ret = (struct stat){.st_mode = S_IFDIR | 0755};
	if (open_dir && strcmp(path, open_dir) == 0)
		ret->st_mode |= 0777;
	return 0;
}

static int fake_realpath(const char *path, char ret[static PATH_MAX])
{
	snprintf(ret, PATH_MAX, "%s", strcmp(path, "/l/link") == 0 ? link_target : path);
	return 0;
}

static const struct secretfile_ops ops = {fake_stat, fake_realpath, NULL};

static int check(const char *path, mode_t mode, uid_t owner, const char *shared)
{
	struct stat st = {.st_mode = S_IFREG | mode, .st_uid = owner};
	struct error_detail why = {0};
	int r;

	seen[0] = '\0';
	r = secretfile_check(path, &st, 990, shared, &ops, &why);
	assert_true(r >= 0 || why.message[0]); /* a refusal says why */
	return r;
}

static void test_directories_walked(void **state)
{
	(void)state;
	open_dir = NULL;
	assert_int_equal(check("/etc/skybroker/sa.json", 0600, 0, NULL), 0);
	assert_string_equal(seen, "/etc/skybroker|/etc|/|");
	assert_int_equal(check("/sa.json", 0600, 990, NULL), 0);
	assert_string_equal(seen, "/|");
	assert_int_equal(check("//etc//x//sa.json", 0400, 0, ""), 0);
	assert_string_equal(seen, "//etc//x|//etc|/|");
	/* a relative path: its own names, then its real path (here the same, so once) */
	assert_int_equal(check("d/sa.json", 0600, 0, NULL), 0);
	assert_string_equal(seen, "d|");
	/* a link: where it lies, then where it leads */
	assert_int_equal(check("/l/link", 0600, 0, NULL), 0);
	assert_string_equal(seen, "/l|/|/real/dir|/real|/|");
}

static void test_refusals(void **state)
{
	(void)state;
	open_dir = NULL;
	assert_int_equal(check("/etc/sa.json", 0600, 1000, NULL), -EACCES);
	assert_int_equal(check("/etc/sa.json", 0640, 0, NULL), -EACCES);
	assert_int_equal(check("/etc/sa.json", 0602, 0, NULL), -EACCES);
	/* in the shared directory: read for others is fine, write is not */
	assert_int_equal(check("/run/creds/sa.json", 0444, 0, "/run/creds"), 1);
	assert_int_equal(check("/run/creds/sa.json", 0460, 0, "/run/creds"), -EACCES);
	assert_int_equal(check("/run/credsx/sa.json", 0440, 0, "/run/creds"), -EACCES);
	/* a link out of the shared directory does not keep its exception */
	link_target = "/elsewhere/sa.json";
	assert_int_equal(check("/l/link", 0440, 0, "/l"), -EACCES);
	link_target = "/real/dir/file";
	/* an open directory on the real path only */
	open_dir = "/real";
	assert_int_equal(check("/l/link", 0600, 0, NULL), -EACCES);
	open_dir = NULL;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_directories_walked),
		cmocka_unit_test(test_refusals),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
