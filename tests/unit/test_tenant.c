/* SPDX-License-Identifier: MIT */
/* Unit tests of broker/tenant.c (readiness, hooks, per-module state, references) and
 * broker/admission.c (which tenant admits which peer). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "runtime/admission.h"
#include "tenancy/config.h"
#include "tenancy/tenant.h"
#include "testlog.h"

static const char conf_text[] =
	"[tenant.a]\n"
	"descope_project_id = P1\nvault_url = https://v\nvault_id = v\n"
	"sts_url = https://s\nservice_account_id = sa\n"
	"allow_uids = 1000, 1001\n"
	"[tenant.b]\n"
	"descope_project_id = P1\nvault_url = https://v\nvault_id = v\n"
	"sts_url = https://s\nservice_account_id = sa\n"
	"allow_uids = 1001\nallow_gids = 2000\n";

static struct broker_config *load(void)
{
	struct broker_config *c = NULL;
	assert_int_equal(config_load_string("t.conf", conf_text, stderr, &c), 0);
	return c;
}

static int n_attach, n_detach, n_changes, fail_attach;
static int hook_slot;

static struct tenant *seen_previous;

static int attach(struct tenant *t, sd_event *e, void *ud)
{
	(void)e;
	(void)ud;
	seen_previous = tenant_previous(t);
	if (fail_attach)
		return -EIO;
	n_attach++;
	tenant_ext_set(t, (unsigned)hook_slot, strdup(tenant_name(t)));
	return tenant_set_not_ready(t, "test", "waiting for the test");
}

static void detach(struct tenant *t, void *ud)
{
	(void)ud;
	n_detach++;
	free(tenant_ext_get(t, (unsigned)hook_slot));
}

static void changed(void *ud)
{
	(void)ud;
	n_changes++;
}

static const struct tenant_hooks hooks = {"test", attach, detach, NULL};

static void test_tenant_lifecycle(void **state)
{
	struct broker_config *c = load();
	struct tenant *t = NULL;
	const char *reasons[4];
	struct testlog tl;

	(void)state;
	hook_slot = tenant_hooks_register(&hooks);
	assert_true(hook_slot >= 0);
	tenant_on_readiness_change(changed, NULL);

	assert_int_equal(tenant_new(c, &c->tenants[0], NULL, &t), 0);
	config_free(c); /* the tenant keeps the config alive */
	assert_int_equal(n_attach, 1);
	assert_string_equal(tenant_ext_get(t, (unsigned)hook_slot), "a");
	assert_string_equal(tenant_name(t), "a");
	assert_int_equal(tenant_config(t)->n_allow_uids, 2);

	assert_false(tenant_is_ready(t));
	assert_int_equal(tenant_reasons(t, reasons, 4), 1);
	assert_string_equal(reasons[0], "waiting for the test");
	assert_int_equal(tenant_set_not_ready(t, "other", "also waiting"), 0);
	assert_int_equal(tenant_set_not_ready(t, "test", "still waiting"), 0); /* replaces */
	assert_int_equal(tenant_reasons(t, reasons, 4), 2);
	tenant_set_ready(t, "test");
	assert_false(tenant_is_ready(t));
	tenant_set_ready(t, "other");
	assert_true(tenant_is_ready(t));
	assert_int_equal(tenant_reasons(t, reasons, 4), 0);
	assert_true(n_changes >= 4);

	assert_null(seen_previous);
	{
		/* a reload's successor sees its predecessor during attach, and only then */
		struct tenant *succ = NULL;
		c = load();
		assert_int_equal(tenant_new_successor(c, &c->tenants[0], NULL, t, &succ), 0);
		config_free(c);
		assert_ptr_equal(seen_previous, t);
		assert_null(tenant_previous(succ));
		tenant_unref(succ);
		assert_int_equal(n_detach, 1);
	}

	tenant_ref(t);
	tenant_unref(t);
	assert_int_equal(n_detach, 1);
	tenant_unref(t);
	assert_int_equal(n_detach, 2);

	/* a failing attach fails the creation, and nothing leaks */
	c = load();
	fail_attach = 1;
	testlog_begin(&tl);
	assert_int_equal(tenant_new(c, &c->tenants[1], NULL, &t), -EIO);
	testlog_end();
	assert_true(testlog_has(&tl, "<3>tenant=b: test failed to start: Input/output error"));
	assert_null(t);
	fail_attach = 0;
	config_free(c);
	tenant_on_readiness_change(NULL, NULL);
}

/* ---- waiting for a starting tenant (tenant_wait_ready) ---- */

struct wait_result {
	int calls;
	int r;
};

static void on_wait(void *ud, int r)
{
	struct wait_result *w = ud;

	w->calls++;
	w->r = r;
}

/* Runs the loop until res has been answered (or 5 s pass). */
static void run_until(sd_event *e, const struct wait_result *res)
{
	for (int i = 0; i < 500 && !res->calls; i++)
		assert_true(sd_event_run(e, 10 * 1000) >= 0);
}

static struct tenant *starting_tenant(sd_event *e, const char *timeout)
{
	char text[sizeof(conf_text) + 64];
	struct broker_config *c = NULL;
	struct tenant *t = NULL;

	snprintf(text, sizeof(text), "[broker]\nstart_timeout = %s\n%s", timeout, conf_text);
	assert_int_equal(config_load_string("t.conf", text, stderr, &c), 0);
	assert_int_equal(tenant_new(c, &c->tenants[0], e, &t), 0);
	config_free(c);
	return t;
}

static void test_wait_ready(void **state)
{
	sd_event *e = NULL;
	struct tenant *t;
	struct tenant_waiter *w = NULL, *w2 = NULL;
	struct wait_result res = {0}, res2 = {0};

	(void)state;
	tenant_hooks_reset(); /* the other tests registered theirs */
	hook_slot = tenant_hooks_register(&hooks);
	assert_int_equal(sd_event_new(&e), 0);

	/* not ready since creation (the hook said so): requests wait, and the ready tenant
	 * answers them from the loop, not from inside tenant_set_ready */
	t = starting_tenant(e, "10s");
	assert_true(tenant_starting(t));
	assert_int_equal(tenant_wait_ready(t, on_wait, &res, &w), 1);
	assert_non_null(w);
	assert_int_equal(tenant_wait_ready(t, on_wait, &res2, &w2), 1);
	tenant_wait_cancel(w2); /* a cancelled waiter is never answered */
	tenant_set_ready(t, "test");
	assert_int_equal(res.calls, 0);
	run_until(e, &res);
	assert_int_equal(res.calls, 1);
	assert_int_equal(res.r, 0);
	assert_int_equal(res2.calls, 0);
	/* ready once: nobody waits any more, even when it is not ready again */
	assert_false(tenant_starting(t));
	assert_int_equal(tenant_set_not_ready(t, "test", "again"), 0);
	assert_false(tenant_starting(t));
	assert_int_equal(tenant_wait_ready(t, on_wait, &res2, &w2), 0);
	assert_null(w2);
	tenant_unref(t);

	/* the start window closes first: -ETIMEDOUT, and later requests do not wait */
	memset(&res, 0, sizeof(res));
	t = starting_tenant(e, "200ms");
	assert_int_equal(tenant_wait_ready(t, on_wait, &res, &w), 1);
	run_until(e, &res);
	assert_int_equal(res.calls, 1);
	assert_int_equal(res.r, -ETIMEDOUT);
	assert_false(tenant_starting(t));
	assert_int_equal(tenant_wait_ready(t, on_wait, &res2, &w2), 0);
	tenant_unref(t);

	/* a broken reason (only a reload clears it): nothing to wait for */
	t = starting_tenant(e, "10s");
	assert_int_equal(tenant_set_broken(t, "creds", "credentials do not load"), 0);
	assert_false(tenant_starting(t));
	assert_int_equal(tenant_wait_ready(t, on_wait, &res2, &w2), 0);
	tenant_unref(t);

	/* start_timeout = 0: never waits */
	t = starting_tenant(e, "0");
	assert_false(tenant_starting(t));
	tenant_unref(t);

	/* no event loop (unit tests, tools): never waits */
	{
		struct broker_config *c = load();

		assert_int_equal(tenant_new(c, &c->tenants[0], NULL, &t), 0);
		config_free(c);
		assert_false(tenant_starting(t));
		tenant_unref(t);
	}
	sd_event_unref(e);
	tenant_hooks_reset();
}

static void test_admission(void **state)
{
	struct broker_config *c = load();
	struct tenant *ta = NULL, *tb = NULL;
	gid_t supp[] = {5, 2000};
	struct peer p = {.uid = 1000, .gid = 100, .pidfd = -1};

	(void)state;
	fail_attach = 0;
	assert_int_equal(tenant_new(c, &c->tenants[0], NULL, &ta), 0);
	assert_int_equal(tenant_new(c, &c->tenants[1], NULL, &tb), 0);
	{
		struct tenant *const both[] = {ta, tb};
		struct tenant *const b_first[] = {tb, ta};

		assert_true(admission_tenant_admits(&c->tenants[0], &p));
		assert_false(admission_tenant_admits(&c->tenants[1], &p));
		assert_ptr_equal(admission_pick(both, 2, &p), ta);

		p.uid = 1001; /* both admit: the first of the socket wins */
		assert_ptr_equal(admission_pick(both, 2, &p), ta);
		assert_ptr_equal(admission_pick(b_first, 2, &p), tb);

		p.uid = 4242; /* by primary gid */
		p.gid = 2000;
		assert_ptr_equal(admission_pick(both, 2, &p), tb);
		p.gid = 100; /* by supplementary gid */
		p.groups = supp;
		p.n_groups = 2;
		assert_ptr_equal(admission_pick(both, 2, &p), tb);
		p.n_groups = 1; /* not in 2000 */
		assert_null(admission_pick(both, 2, &p));
		assert_null(admission_pick(both, 0, &p));
	}
	p.groups = NULL;
	p.n_groups = 0;
	p.uid = 0;
	assert_true(admission_admin_admits(&p));
	p.uid = geteuid() == 0 ? 1000 : 0;
	assert_int_equal(admission_admin_admits(&p), p.uid == geteuid() || p.uid == 0);
	assert_true(peer_alive(&p)); /* no pidfd: unknown counts as alive */
	tenant_unref(ta);
	tenant_unref(tb);
	config_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tenant_lifecycle),
		cmocka_unit_test(test_admission),
		cmocka_unit_test(test_wait_ready),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
