/* SPDX-License-Identifier: MIT */
/* test_config_reload: a reload applies a new config to the sockets wholly or not at all. */
/*
 * A reload applies a new configuration to the listening sockets as a whole or not at all:
 * listeners_apply() either installs the new tenants on every socket, or fails and leaves every
 * socket with the tenants it had (so allow lists are never half old, half new). Checked by
 * failing each calloc() inside listeners_apply() in turn (curl's torture-test idea).
 *
 * This test binds Unix sockets in a temporary directory (no I/O on them).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "tenancy/config.h"
#include "runtime/daemon.h"
#include "runtime/listener.h"
#include "tenancy/tenant.h"
#include "testlog.h"

/* calloc() of the whole process, failing the fail_at-th call (0-based) while armed. malloc
 * stays the real one (or the sanitizer's), so free() matches. */
static bool armed;
static unsigned n_calls, fail_at;
static bool failed;

void *calloc(size_t n, size_t size)
{
	size_t total;
	void *p;

	if (armed && n_calls++ == fail_at) {
		failed = true;
		errno = ENOMEM;
		return NULL;
	}
	if (size && n > SIZE_MAX / size) {
		errno = ENOMEM;
		return NULL;
	}
	total = n * size;
	p = malloc(total > 0 ? total : 1);
	if (p)
		memset(p, 0, total);
	return p;
}

#define TENANT                                                                                    \
	"descope_project_id = P1\n"                                                               \
	"vault_url = https://v.vault.skyflowapis.com/\n"                                          \
	"vault_id = v1\n"                                                                         \
	"sts_url = https://sts.example.com\n"                                                     \
	"service_account_id = sa1\n"                                                              \
	"allow_uids = 1000\n"

static struct broker_config *load(const char *text)
{
	struct broker_config *c = NULL;
	assert_int_equal(config_load_string("t.conf", text, stderr, &c), 0);
	return c;
}

static struct tenant **make_tenants(struct broker_config *c, sd_event *e)
{
	struct tenant **v = calloc(c->n_tenants, sizeof(*v));
	assert_non_null(v);
	for (size_t i = 0; i < c->n_tenants; i++)
		assert_int_equal(tenant_new(c, &c->tenants[i], e, &v[i]), 0);
	return v;
}

static void free_tenants(struct tenant **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		tenant_unref(v[i]);
	free(v);
}

static const struct listener *find(const struct listener *list, const char *path)
{
	for (const struct listener *l = list; l; l = l->next)
		if (l->path && strcmp(l->path, path) == 0)
			return l;
	return NULL;
}

/* Whether socket `path` of list carries exactly tenants v[0..n). */
static bool carries(const struct listener *list, const char *path, struct tenant **v, size_t n)
{
	const struct listener *l = find(list, path);

	if (!l || l->n_tenants != n)
		return false;
	for (size_t i = 0; i < n; i++)
		if (l->tenants[i] != v[i])
			return false;
	return true;
}

static void test_reload_is_all_or_nothing(void **state)
{
	char dir[] = "/tmp/sbt-reload.XXXXXX";
	char shared[128], own[128], admin[128], text[2048];
	sd_event *event = NULL;
	struct conn_set *conns = NULL;
	struct listeners *ls = NULL;
	struct broker_config *c1, *c2;
	struct tenant **t1, **t2;
	struct testlog tl;
	unsigned k;

	(void)state;
	/* Under valgrind (or any allocator interposer) this file's calloc() is replaced and no
	 * failure can be injected: nothing to check then. */
	n_calls = 0;
	fail_at = 0;
	failed = false;
	armed = true;
	void *probe = calloc(1, 1);
	armed = false;
	if (!failed) {
		free(probe);
		skip();
	}
	assert_non_null(mkdtemp(dir));
	snprintf(shared, sizeof(shared), "%s/sb.sock", dir);
	snprintf(own, sizeof(own), "%s/beta.sock", dir);
	snprintf(admin, sizeof(admin), "%s/admin.sock", dir);
	assert_true(sd_event_new(&event) >= 0);
	assert_int_equal(conn_set_new(event, &conns), 0);
	assert_int_equal(listeners_new(event, conns, NULL, &ls), 0);
	listeners_set_accepting(ls, true);

	/* generation 1: acme and beta on the shared socket */
	snprintf(text, sizeof(text),
		 "[broker]\nsocket = %s\nadmin_socket = %s\n[tenant.acme]\n" TENANT
		 "[tenant.beta]\n" TENANT "allow_uids = 1001\n",
		 shared, admin);
	c1 = load(text);
	t1 = make_tenants(c1, event);
	assert_int_equal(listeners_apply(ls, c1, t1, c1->n_tenants), 0);
	assert_true(carries(listeners_first(ls), shared, t1, 2));

	/* generation 2: beta moves to a socket of its own, acme stays (new object) */
	snprintf(text, sizeof(text),
		 "[broker]\nsocket = %s\nadmin_socket = %s\n[tenant.acme]\n" TENANT
		 "[tenant.beta]\n" TENANT "allow_uids = 1001\nsocket = %s\n",
		 shared, admin, own);
	c2 = load(text);
	t2 = make_tenants(c2, event);

	testlog_begin(&tl); /* the injected failures are logged as errors: checked, not printed */
	for (k = 0;; k++) {
		int r;

		n_calls = 0;
		fail_at = k;
		failed = false;
		armed = true;
		r = listeners_apply(ls, c2, t2, c2->n_tenants);
		armed = false;
		if (!failed) {
			assert_int_equal(r, 0);
			break;
		}
		/* an allocation failed: the reload fails, every socket keeps generation 1 */
		if (r == 0)
			fail_msg("calloc #%u failed but listeners_apply() reported success", k);
		assert_true(carries(listeners_first(ls), shared, t1, 2));
		assert_null(find(listeners_first(ls), own));
		assert_non_null(find(listeners_first(ls), admin));
	}
	testlog_end();
	assert_true(k > 0);
	assert_true(testlog_has(&tl, "out of memory"));
	assert_true(carries(listeners_first(ls), shared, t2, 1));
	assert_true(carries(listeners_first(ls), own, t2 + 1, 1));
	assert_non_null(find(listeners_first(ls), admin));

	listeners_free(ls);
	conn_set_free(conns);
	free_tenants(t1, c1->n_tenants);
	free_tenants(t2, c2->n_tenants);
	config_free(c1);
	config_free(c2);
	sd_event_unref(event);
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reload_is_all_or_nothing),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
