/* SPDX-License-Identifier: MIT */
/*
 * Path sockets skybrokerd creates: configured mode and group, a stale socket file replaced,
 * a live one never stolen, a non-socket never touched; removed at exit.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"

static const char *names[] = {"acme"};
static const char *extra[] = {"allow_uids = 0\n"};

/* Runs skybrokerd on d's config and returns its exit code (for start-up failures). */
static int run_expect_exit(struct sbt_daemon *d)
{
	const char *argv[] = {sbt_daemon_path(), "--config", d->conf, "--allow-root", NULL};
	assert_int_equal(sbt_daemon_spawn(d, argv, NULL), 0);
	return sbt_daemon_wait_exit(d, SBT_TIMEOUT_MS);
}

static void test_mode_and_group(void **state)
{
	struct sbt_daemon d;
	char conf[8192];
	struct stat st;

	(void)state;
	sbt_daemon_init(&d);
	sbt_config(&d, conf, sizeof(conf), "socket_mode = 0620\nsocket_group = 1234\n", 1, names,
		   extra);
	assert_int_equal(sbt_daemon_start(&d, conf, NULL), 0);
	assert_int_equal(stat(d.socket, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0620);
	if (geteuid() == 0)
		assert_int_equal(st.st_gid, 1234);
	assert_int_equal(stat(d.admin, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0620);

	/* a reload applies a new mode to the existing socket */
	sbt_config(&d, conf, sizeof(conf), "socket_mode = 0600\n", 1, names, extra);
	sbt_write_file(d.conf, conf, 0644);
	sbt_daemon_kill(&d, SIGHUP);
	assert_int_equal(sbt_daemon_wait_notify(&d, "READY=1", SBT_TIMEOUT_MS), 0);
	assert_int_equal(stat(d.socket, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);

	/* removed at exit */
	sbt_daemon_kill(&d, SIGTERM);
	assert_int_equal(sbt_daemon_wait_exit(&d, SBT_TIMEOUT_MS), 0);
	assert_int_equal(access(d.socket, F_OK), -1);
	assert_int_equal(access(d.admin, F_OK), -1);
	assert_int_equal(sbt_daemon_stop(&d), 0);
}

static void test_stale_socket_replaced(void **state)
{
	struct sbt_daemon d;
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	char conf[8192];
	struct sbt_client *c;
	int fd;

	(void)state;
	sbt_daemon_init(&d);
	/* a socket file nobody listens on any more (a crashed broker) */
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	memcpy(sa.sun_path, d.socket, strlen(d.socket) + 1);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	close(fd);
	sbt_config(&d, conf, sizeof(conf), NULL, 1, names, extra);
	assert_int_equal(sbt_daemon_start(&d, conf, NULL), 0);
	assert_true(sbt_log_contains(&d, "replacing a stale socket file"));
	c = sbt_connect_hello(d.socket);
	sbt_client_free(c);
	assert_int_equal(sbt_daemon_stop(&d), 0);
}

static void test_live_socket_not_stolen(void **state)
{
	struct sbt_daemon a, b;
	char conf[8192];
	struct sbt_client *c;

	(void)state;
	sbt_daemon_init(&a);
	sbt_config(&a, conf, sizeof(conf), NULL, 1, names, extra);
	assert_int_equal(sbt_daemon_start(&a, conf, NULL), 0);

	/* a second broker configured with the same socket refuses to start */
	sbt_daemon_init(&b);
	snprintf(b.socket, sizeof(b.socket), "%s", a.socket);
	sbt_config(&b, conf, sizeof(conf), NULL, 1, names, extra);
	sbt_write_file(b.conf, conf, 0644);
	assert_int_equal(run_expect_exit(&b), 1);
	assert_true(sbt_log_contains(&b, "another process is listening on it; not stealing it"));
	sbt_daemon_stop(&b);

	/* and the first one still serves */
	c = sbt_connect_hello(a.socket);
	sbt_client_free(c);
	assert_int_equal(sbt_daemon_stop(&a), 0);
}

static void test_non_socket_untouched(void **state)
{
	struct sbt_daemon d;
	char conf[8192];
	struct stat st;

	(void)state;
	sbt_daemon_init(&d);
	sbt_write_file(d.socket, "precious\n", 0644);
	sbt_config(&d, conf, sizeof(conf), NULL, 1, names, extra);
	sbt_write_file(d.conf, conf, 0644);
	assert_int_equal(run_expect_exit(&d), 1);
	assert_true(sbt_log_contains(&d, "exists and is not a socket; not touching it"));
	assert_int_equal(stat(d.socket, &st), 0);
	assert_true(S_ISREG(st.st_mode));
	sbt_daemon_stop(&d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mode_and_group),
		cmocka_unit_test(test_stale_socket_replaced),
		cmocka_unit_test(test_live_socket_not_stolen),
		cmocka_unit_test(test_non_socket_untouched),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
