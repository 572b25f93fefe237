/* SPDX-License-Identifier: MIT */
/*
 * Descriptors (issue 9, item 11), with the daemon under prlimit(1) and a low RLIMIT_NOFILE:
 * a max_connections that cannot fit (2 descriptors per connection plus the reserve) is refused
 * at start and at reload; when descriptors run out anyway (here: admin-socket connections,
 * which max_connections does not bound), a new peer gets a rate_limited refusal at once
 * instead of hanging in the backlog, the log does not loop, the daemon keeps serving its
 * clients, and it admits new ones once descriptors are free.
 */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"
#include "proto/limits.h"

#define PRLIMIT "/usr/bin/prlimit"
#define MAX_ADMIN 1000

static const char *names[] = {"acme"};
static const char *extra[] = {"allow_uids = 0\n"};

/* Writes conf and starts skybrokerd on it with RLIMIT_NOFILE nofile (soft and hard). */
static void spawn_limited(struct sbt_daemon *d, const char *conf, unsigned nofile)
{
	char lim[64];
	const char *argv[] = {PRLIMIT,	   lim,		   sbt_daemon_path(), "--config",
			      d->conf,	   "--allow-root", NULL};

	snprintf(lim, sizeof(lim), "--nofile=%u:%u", nofile, nofile);
	sbt_write_file(d->conf, conf, 0644);
	assert_int_equal(sbt_daemon_spawn(d, argv, NULL), 0);
}

static void test_too_many_connections_for_the_limit(void **state)
{
	struct sbt_daemon d;
	char conf[8192];

	(void)state;
	if (access(PRLIMIT, X_OK) != 0)
		skip();
	sbt_daemon_init(&d);
	sbt_config(&d, conf, sizeof(conf), NULL, 1, names, extra); /* max_connections = 1024 */
	spawn_limited(&d, conf, 1024);
	assert_int_equal(sbt_daemon_wait_exit(&d, SBT_TIMEOUT_MS), 1);
	if (!sbt_log_contains(&d, "max_connections = 1024 needs"))
		sbt_log_dump(&d);
	assert_true(sbt_log_contains(&d, "max_connections = 1024 needs"));
	assert_true(sbt_log_contains(&d, "but RLIMIT_NOFILE is 1024: lower max_connections to"));
	assert_int_equal(access(d.socket, F_OK), -1);
	sbt_daemon_stop(&d);
}

static void test_reload_too_many_connections_refused(void **state)
{
	struct sbt_daemon d;
	struct sbt_client *c;
	char conf[8192];

	(void)state;
	if (access(PRLIMIT, X_OK) != 0)
		skip();
	sbt_daemon_init(&d);
	sbt_config(&d, conf, sizeof(conf), "max_connections = 100\n", 1, names, extra);
	spawn_limited(&d, conf, 1024);
	assert_int_equal(sbt_daemon_wait_notify(&d, "READY=1", SBT_TIMEOUT_MS), 0);
	sbt_config(&d, conf, sizeof(conf), "max_connections = 1024\n", 1, names, extra);
	sbt_write_file(d.conf, conf, 0644);
	sbt_daemon_kill(&d, SIGHUP);
	assert_int_equal(sbt_daemon_wait_notify(&d, "reload failed", SBT_TIMEOUT_MS), 0);
	assert_true(sbt_log_contains(&d, "max_connections = 1024 needs"));
	c = sbt_connect_hello(d.socket);
	assert_int_equal(sbt_ping(c), 0);
	sbt_client_free(c);
	assert_int_equal(sbt_daemon_stop(&d), 0);
}

/*
 * Connects to path, says hello and reads the first reply: 0 and *ret (still open) when
 * admitted; otherwise -1, the connection closed, and "code: message" of the refusal in why.
 */
static int try_hello(const char *path, struct sbt_client **ret, char *why, size_t size)
{
	uint64_t versions[] = {SB_PROTOCOL_VERSION};
	struct sb_request req = {.op = SB_OP_HELLO};
	struct sbt_client *c = sbt_connect(path);
	struct sb_reply rep;
	int r;

	assert_non_null(c);
	req.u.hello.versions = (struct sb_u64v){.set = true, .n = 1, .v = versions};
	req.u.hello.client = "fdlimit/1";
	(void)sbt_send(c, &req); /* EPIPE when the daemon has refused and closed already */
	r = sbt_recv(c, &rep);
	if (r < 0)
		fail_msg("no reply from %s: %s", path, strerror(-r));
	r = rep.ok ? 0 : -1;
	snprintf(why, size, "%s: %s", sbt_outcome(&rep), rep.ok ? "" : rep.error.message);
	sb_reply_done(&rep);
	if (r == 0)
		*ret = c;
	else
		sbt_client_free(c);
	return r;
}

static void test_out_of_descriptors_refused(void **state)
{
	static struct sbt_client *admins[MAX_ADMIN];
	struct sbt_daemon d;
	struct sbt_client *first, *c;
	char conf[8192], why[256];
	size_t n = 0, lines;

	(void)state;
	if (access(PRLIMIT, X_OK) != 0)
		skip();
	sbt_daemon_init(&d);
	sbt_config(&d, conf, sizeof(conf),
		   "max_connections = 100\nmax_connections_per_uid = 5000\n", 1, names, extra);
	spawn_limited(&d, conf, 512); /* 100 connections fit */
	assert_int_equal(sbt_daemon_wait_notify(&d, "READY=1", SBT_TIMEOUT_MS), 0);
	first = sbt_connect_hello(d.socket);

	/* admin connections use up the descriptors until one is refused, promptly */
	while (try_hello(d.admin, &admins[n], why, sizeof(why)) == 0)
		assert_true(++n < MAX_ADMIN);
	assert_string_equal(why, "rate_limited: out of descriptors");
	print_message("  RLIMIT_NOFILE 512: %zu admin connections, then refused\n", n);
	assert_true(n > 100);
	/* a tenant's client too: refused, not left hanging */
	assert_int_equal(try_hello(d.socket, &c, why, sizeof(why)), -1);
	assert_string_equal(why, "rate_limited: out of descriptors");

	/* the daemon keeps serving, and logs each refusal once, no loop: the count stays put
	 * over more round trips through its event loop */
	assert_int_equal(sbt_ping(first), 0);
	lines = sbt_log_count(&d, "out of descriptors");
	for (int i = 0; i < 50; i++)
		assert_int_equal(sbt_ping(first), 0);
	assert_int_equal(sbt_log_count(&d, "out of descriptors"), lines);
	assert_int_equal(lines, 2);
	assert_int_equal(sbt_log_count(&d, "accept:"), 0);

	/* descriptors free again: a new client is served once the daemon has seen the closes
	 * (until then it is refused: out of descriptors, or max_connections, which the admin
	 * connections count towards) */
	while (n)
		sbt_client_free(admins[--n]);
	for (int tries = 0; try_hello(d.socket, &c, why, sizeof(why)) != 0; tries++) {
		struct timespec ms10 = {0, 10 * 1000 * 1000};

		assert_true(strncmp(why, "rate_limited: ", 14) == 0);
		assert_true(tries < SBT_TIMEOUT_MS / 10);
		nanosleep(&ms10, NULL);
	}
	assert_int_equal(sbt_ping(c), 0);
	assert_int_equal(sbt_ping(first), 0);
	sbt_client_free(c);
	sbt_client_free(first);
	assert_int_equal(sbt_daemon_stop(&d), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_too_many_connections_for_the_limit),
		cmocka_unit_test(test_reload_too_many_connections_refused),
		cmocka_unit_test(test_out_of_descriptors_refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
