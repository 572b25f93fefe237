/* SPDX-License-Identifier: MIT */
/* test_optable: the operation table reproduces the rules of 928b04c (review of the refactor):
 * which ops a tenant socket and the admin socket offer, which allow_operations may name, the
 * default allow set, and which ops count against rate_limit. metrics (issue 16), added since,
 * is an admin-only operation like stats. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>

#include "proto/message.h"
#include "tenancy/config.h"

#define TENANT                                                                                    \
	"descope_project_id = P1\nvault_url = https://v.example.com/\nvault_id = v1\n"            \
	"sts_url = https://sts.example.com\nservice_account_id = sa1\nallow_uids = 1000\n"

/* 928b04c: config refused hello, stats and unknown names; ping and health were always added. */
static bool old_allowable(int op)
{
	return op != SB_OP_HELLO && op != SB_OP_STATS && op != SB_OP_METRICS;
}

/* The operations that act for a user: exchange ... query. */
static bool user_op(int op)
{
	return op >= SB_OP_EXCHANGE && op <= SB_OP_QUERY;
}

/* 928b04c dispatch.c op_permitted, with the allow mask m (always holding ping and health). */
static bool old_permitted(bool admin, int op, uint32_t m)
{
	if (admin)
		return op == SB_OP_PING || op == SB_OP_STATS || op == SB_OP_METRICS;
	if (op == SB_OP_STATS || op == SB_OP_HELLO || op == SB_OP_METRICS)
		return false;
	return (m & (1u << op)) != 0;
}

/* HEAD dispatch.c op_permitted, from the flags. */
static bool new_permitted(bool admin, int op, uint32_t m)
{
	unsigned f = sb_op_flags((enum sb_op)op);

	if (admin)
		return f & SB_OPF_ADMIN;
	if (!(f & SB_OPF_TENANT))
		return false;
	return (f & SB_OPF_ALWAYS) || (m & (1u << op)) != 0;
}

static int load_ops(const char *ops, struct broker_config **ret)
{
	char text[1024];
	FILE *devnull = fopen("/dev/null", "we");
	int r;

	if (ops)
		snprintf(text, sizeof(text), "[tenant.a]\n" TENANT "allow_operations = %s\n", ops);
	else
		snprintf(text, sizeof(text), "[tenant.a]\n" TENANT);
	r = config_load_string("t.conf", text, devnull, ret);
	fclose(devnull);
	return r;
}

static void test_same_rules(void **state)
{
	struct broker_config *c = NULL;
	uint32_t always = 1u << SB_OP_PING | 1u << SB_OP_HEALTH;

	(void)state;
	assert_int_equal(load_ops(NULL, &c), 0);
	for (int op = 0; op < _SB_OP_MAX; op++)
		assert_int_equal(!!(c->tenants[0].allow_operations & (1u << op)), old_allowable(op));
	c = config_free(c);

	for (int op = 0; op < _SB_OP_MAX; op++) {
		int r = load_ops(sb_op_name((enum sb_op)op), &c);

		assert_int_equal(r >= 0, old_allowable(op));
		if (r >= 0)
			assert_int_equal(c->tenants[0].allow_operations, (1u << op) | always);
		c = config_free(c);
		/* rate limited exactly where 928b04c took a token: ops from exchange on */
		assert_int_equal(!!(sb_op_flags((enum sb_op)op) & SB_OPF_RATE_LIMITED), user_op(op));
		assert_int_equal(sb_op_needs_subject((enum sb_op)op), user_op(op));
	}
	/* every mask a config can produce, on both sockets */
	for (uint32_t m = 0; m < (1u << _SB_OP_MAX); m++) {
		uint32_t mask = m | always;

		if (mask & (1u << SB_OP_HELLO | 1u << SB_OP_STATS | 1u << SB_OP_METRICS))
			continue;
		for (int op = 0; op < _SB_OP_MAX; op++) {
			assert_int_equal(new_permitted(true, op, 0), old_permitted(true, op, 0));
			assert_int_equal(new_permitted(false, op, mask), old_permitted(false, op, mask));
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_same_rules),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
