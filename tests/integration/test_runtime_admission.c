/* SPDX-License-Identifier: MIT */
/*
 * Admission by peer credentials: clients run under other uids (fork + setresuid); the socket
 * file lets them all connect (group 1000, mode 0660), so only admission decides. Two tenants
 * on two sockets each admit only their own uids; a tenant may admit by group; the admin
 * socket admits only root and the broker's uid. Refusals are answered `forbidden` and logged.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"

static struct sbt_daemon D;
static char sock_b[108];

struct probe {
	const char *path;
	const char *want_tenant; /* NULL: expect refusal */
};

/* Runs in the child, under the probed uid. 0 = as expected. */
static int probe(void *arg)
{
	const struct probe *p = arg;
	struct sbt_client *c = NULL;
	struct sb_reply rep;
	int r = sbt_connect2(p->path, &c);

	if (r < 0)
		return 10; /* the file system refused: not what we test */
	if (!p->want_tenant) {
		/* refused at accept: one forbidden error with id 0, then EOF */
		r = sbt_recv(c, &rep);
		if (r < 0)
			return 11;
		if (rep.ok || rep.id != 0 || strcmp(sbt_outcome(&rep), "forbidden") != 0)
			return 12;
		sb_reply_done(&rep);
		r = sbt_wait_closed(c) == 0 ? 0 : 13;
		sbt_client_free(c);
		return r;
	}
	r = sbt_hello(c, &rep);
	if (r < 0)
		return 20;
	if (strcmp(rep.u.hello.tenant, p->want_tenant) != 0)
		return 21;
	sb_reply_done(&rep);
	if (sbt_ping(c) < 0)
		return 22;
	if (sbt_call(c, SB_OP_HEALTH, &rep) < 0 || !rep.ok ||
	    strcmp(rep.u.health.tenant, p->want_tenant) != 0)
		return 23;
	sb_reply_done(&rep);
	sbt_client_free(c);
	return 0;
}

static int group_setup(void **state)
{
	char conf[8192], tb[256];
	const char *names[] = {"acme", "beta", "crew"};
	const char *extra[3];

	(void)state;
	if (geteuid() != 0)
		return 0; /* tests skip */
	sbt_daemon_init(&D);
	sbt_path(sock_b, sizeof(sock_b), &D, "beta.sock");
	snprintf(tb, sizeof(tb), "socket = %s\nallow_uids = 1002\n", sock_b);
	extra[0] = "allow_uids = 1000\n";
	extra[1] = tb;
	extra[2] = "allow_gids = 2000\n"; /* shared socket, admitted by group */
	sbt_config(&D, conf, sizeof(conf), "socket_group = 1000\nsocket_mode = 0660\n", 3, names,
		   extra);
	return sbt_daemon_start(&D, conf, NULL) == 0 ? 0 : -1;
}

static int group_teardown(void **state)
{
	(void)state;
	if (geteuid() != 0)
		return 0;
	return sbt_daemon_stop(&D) == 0 ? 0 : -1;
}

static void require_root(void)
{
	if (geteuid() != 0)
		skip();
}

static void test_admitted_served(void **state)
{
	struct probe p = {D.socket, "acme"};

	(void)state;
	require_root();
	assert_int_equal(sbt_run_as(1000, 1000, probe, &p), 0);
	assert_int_equal(sbt_log_wait(&D, "uid=1000 pid=", SBT_TIMEOUT_MS), 0);
	assert_true(sbt_log_contains(&D, "tenant=acme op=ping"));
}

static void test_not_admitted_refused_and_logged(void **state)
{
	struct probe p = {D.socket, NULL};

	(void)state;
	require_root();
	assert_int_equal(sbt_run_as(1001, 1000, probe, &p), 0);
	assert_int_equal(sbt_log_wait(&D, "uid=1001", SBT_TIMEOUT_MS), 0);
	assert_true(sbt_log_contains(&D, "no tenant of this socket admits it"));
}

static void test_two_tenants_two_sockets(void **state)
{
	struct probe a_on_a = {D.socket, "acme"}, b_on_b = {sock_b, "beta"};
	struct probe a_on_b = {sock_b, NULL}, b_on_a = {D.socket, NULL};

	(void)state;
	require_root();
	assert_int_equal(sbt_run_as(1000, 1000, probe, &a_on_a), 0);
	assert_int_equal(sbt_run_as(1002, 1000, probe, &b_on_b), 0);
	assert_int_equal(sbt_run_as(1000, 1000, probe, &a_on_b), 0);
	assert_int_equal(sbt_run_as(1002, 1000, probe, &b_on_a), 0);
	assert_int_equal(sbt_log_wait(&D, "tenant=beta op=health", SBT_TIMEOUT_MS), 0);
}

static void test_admitted_by_group(void **state)
{
	/* crew admits gid 2000. The socket file is root:1000 0660, so each probe also has
	 * group 1000 for the file system; admission sees the groups through SO_PEERGROUPS. */
	struct probe p = {D.socket, "crew"}, refused = {D.socket, NULL};
	const gid_t supp[] = {1000, 2000};
	const gid_t only_1000[] = {1000};

	(void)state;
	require_root();
	/* 2000 as a supplementary group */
	assert_int_equal(sbt_run_as_groups(1003, 1000, supp, 2, probe, &p), 0);
	/* 2000 as the primary group */
	assert_int_equal(sbt_run_as_groups(1004, 2000, only_1000, 1, probe, &p), 0);
	/* neither */
	assert_int_equal(sbt_run_as_groups(1005, 1000, only_1000, 1, probe, &refused), 0);
	assert_int_equal(sbt_log_wait(&D, "uid=1003", SBT_TIMEOUT_MS), 0);
	assert_true(sbt_log_contains(&D, "tenant=crew op=ping"));
}

static void test_admin_socket(void **state)
{
	struct probe p = {D.admin, NULL};
	struct sbt_client *c;

	(void)state;
	require_root();
	/* a tenant uid is refused on the admin socket */
	assert_int_equal(sbt_run_as(1000, 1000, probe, &p), 0);
	assert_int_equal(sbt_log_wait(&D, "refused on the admin socket", SBT_TIMEOUT_MS), 0);
	/* root is admitted */
	c = sbt_connect_hello(D.admin);
	sbt_client_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_admitted_served),
		cmocka_unit_test(test_not_admitted_refused_and_logged),
		cmocka_unit_test(test_two_tenants_two_sockets),
		cmocka_unit_test(test_admitted_by_group),
		cmocka_unit_test(test_admin_socket),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
