/* SPDX-License-Identifier: MIT */
/*
 * Socket activation: skybrokerd under systemd-socket-activate with three named sockets
 * (FileDescriptorName= acme, beta, admin) maps each to its tenant or to the admin socket,
 * keeps them across a reload, and never unlinks them (they belong to the service manager).
 */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"

#define ACTIVATE "/usr/bin/systemd-socket-activate"

static void wait_for_path(const char *path)
{
	struct timespec ms10 = {0, 10 * 1000 * 1000};
	for (int i = 0; i < SBT_TIMEOUT_MS / 10; i++) {
		struct stat st;
		if (stat(path, &st) == 0 && S_ISSOCK(st.st_mode))
			return;
		nanosleep(&ms10, NULL);
	}
	fail_msg("%s never appeared", path);
}

static void expect_tenant(const char *path, const char *tenant)
{
	struct sbt_client *c = sbt_connect(path);
	struct sb_reply rep;

	assert_non_null(c);
	assert_int_equal(sbt_hello(c, &rep), 0);
	assert_string_equal(rep.u.hello.tenant, tenant);
	sb_reply_done(&rep);
	assert_int_equal(sbt_ping(c), 0);
	sbt_client_free(c);
}

static void test_two_named_sockets(void **state)
{
	struct sbt_daemon d;
	char conf[8192], a[108], b[108], adm[108], fdnames[64];
	const char *names[] = {"acme", "beta"};
	const char *extra[] = {"allow_uids = 0\n", "allow_uids = 0\n"};
	struct sbt_client *first;
	struct sb_reply rep;

	(void)state;
	if (access(ACTIVATE, X_OK) != 0)
		skip();
	sbt_daemon_init(&d);
	sbt_path(a, sizeof(a), &d, "a.sock");
	sbt_path(b, sizeof(b), &d, "b.sock");
	sbt_path(adm, sizeof(adm), &d, "adm.sock");
	/* the config's own paths (d.socket, d.admin) must not be created: activated sockets
	 * named like the tenants and "admin" take their place */
	sbt_config(&d, conf, sizeof(conf), NULL, 2, names, extra);
	sbt_write_file(d.conf, conf, 0644);
	snprintf(fdnames, sizeof(fdnames), "--fdname=acme:beta:admin");
	{
		const char *argv[] = {ACTIVATE, "-l", a, "-l", b, "-l", adm, fdnames,
				      "-E", "NOTIFY_SOCKET", "-E", "ASAN_OPTIONS", "-E",
				      "UBSAN_OPTIONS", sbt_daemon_path(), "--config", d.conf,
				      "--allow-root", NULL};
		assert_int_equal(sbt_daemon_spawn(&d, argv, NULL), 0);
	}
	/* systemd-socket-activate starts the daemon on the first connection attempt */
	wait_for_path(a);
	first = sbt_connect(a);
	assert_non_null(first);
	assert_int_equal(sbt_daemon_wait_notify(&d, "READY=1", SBT_TIMEOUT_MS), 0);
	assert_int_equal(sbt_hello(first, &rep), 0);
	assert_string_equal(rep.u.hello.tenant, "acme");
	sb_reply_done(&rep);
	assert_true(sbt_log_contains(&d, "received 3 listening sockets"));
	assert_int_equal(access(d.socket, F_OK), -1);
	assert_int_equal(access(d.admin, F_OK), -1);

	expect_tenant(a, "acme");
	expect_tenant(b, "beta");
	expect_tenant(adm, "@admin");

	/* a reload keeps the activated sockets */
	sbt_daemon_kill(&d, SIGHUP);
	assert_int_equal(sbt_daemon_wait_notify(&d, "READY=1", SBT_TIMEOUT_MS), 0);
	expect_tenant(a, "acme");
	expect_tenant(b, "beta");
	assert_int_equal(sbt_ping(first), 0);
	sbt_client_free(first);

	sbt_daemon_kill(&d, SIGTERM);
	assert_int_equal(sbt_daemon_wait_exit(&d, SBT_TIMEOUT_MS), 0);
	/* never unlinked: they belong to the service manager */
	assert_int_equal(access(a, F_OK), 0);
	assert_int_equal(access(b, F_OK), 0);
	assert_int_equal(sbt_daemon_stop(&d), 0);
}

static void test_unknown_name_falls_back(void **state)
{
	/* an activated socket named like nothing is reported; tenants fall back to paths */
	struct sbt_daemon d;
	char conf[8192], x[108];
	const char *names[] = {"acme"};
	const char *extra[] = {"allow_uids = 0\n"};
	struct sbt_client *first;

	(void)state;
	if (access(ACTIVATE, X_OK) != 0)
		skip();
	sbt_daemon_init(&d);
	sbt_path(x, sizeof(x), &d, "x.sock");
	sbt_config(&d, conf, sizeof(conf), NULL, 1, names, extra);
	sbt_write_file(d.conf, conf, 0644);
	{
		const char *argv[] = {ACTIVATE, "-l", x, "--fdname=mystery", "-E", "NOTIFY_SOCKET",
				      "-E", "ASAN_OPTIONS", "-E", "UBSAN_OPTIONS", sbt_daemon_path(),
				      "--config", d.conf, "--allow-root", NULL};
		assert_int_equal(sbt_daemon_spawn(&d, argv, NULL), 0);
	}
	wait_for_path(x);
	first = sbt_connect(x); /* starts the daemon; nobody serves this socket */
	assert_non_null(first);
	assert_int_equal(sbt_daemon_wait_notify(&d, "READY=1", SBT_TIMEOUT_MS), 0);
	assert_true(sbt_log_contains(&d, "activated socket 'mystery' matches no tenant"));
	expect_tenant(d.socket, "acme");
	sbt_client_free(first);
	assert_int_equal(sbt_daemon_stop(&d), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_two_named_sockets),
		cmocka_unit_test(test_unknown_name_falls_back),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
