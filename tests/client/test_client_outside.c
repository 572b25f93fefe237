/* SPDX-License-Identifier: MIT */
/*
 * A program outside the tree builds with nothing but `pkg-config --cflags --libs skybroker`
 * against an installed prefix (cmake --install of this build) and talks to a running broker;
 * the CLI and the man pages are installed next to it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "harness.h"

static void test_outside_program(void **state)
{
	struct sbt_daemon d;
	char conf[8192], script[PATH_MAX], work[PATH_MAX], out[16384];
	const char *src = getenv("SKYBROKER_SOURCE_DIR"), *bin = getenv("SKYBROKER_BINARY_DIR");
	int r;

	(void)state;
	assert_non_null(src);
	assert_non_null(bin);
	sbt_start_one(&d, conf, sizeof(conf), NULL);
	snprintf(script, sizeof(script), "%s/tests/client/outside/build.sh", src);
	snprintf(work, sizeof(work), "%s/outside", d.dir);
	assert_int_equal(mkdir(work, 0700), 0);
	r = sbt_run((const char *const[]){"/bin/sh", script, bin, work, d.socket, NULL},
		    (const char *const[]){"PATH=/usr/local/bin:/usr/bin:/bin", NULL}, out,
		    sizeof(out));
	print_message("%s", out);
	assert_int_equal(r, 0);
	assert_non_null(strstr(out, "-lskybroker"));
	assert_non_null(strstr(out, "tenant acme: {\"ready\":true"));
	assert_int_equal(sbt_daemon_stop(&d), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_outside_program),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
