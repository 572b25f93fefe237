/* emulator_brokerconf: the skybrokerd configurations written into the state directory name
 * this emulator (URL, project, service account, vault), its CA over HTTPS (ca.pem next to
 * --tls-cert when --tls-ca is not given), insecure_http over plain HTTP, and the uid it runs
 * as. integration_exchange_emuconf runs skybrokerd on them. */
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"

/* The text of DIR/name (malloc'd). */
static char *read_conf(const struct emu_proc *e, const char *name)
{
	char path[PATH_MAX + 64];
	char *text = calloc(1, 8192);
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", e->state_dir, name);
	f = fopen(path, "re");
	assert_non_null(f);
	assert_non_null(text);
	assert_true(fread(text, 1, 8191, f) > 0);
	fclose(f);
	return text;
}

static void expect_line(const char *text, const char *fmt, ...)
{
	char line[PATH_MAX + 256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (!strstr(text, line))
		fail_msg("'%s' not in:\n%s", line, text);
}

/* What both files hold, whatever the exchange mode. */
static void expect_common(const struct emu_proc *e, const char *text, const char *sock)
{
	char dir[PATH_MAX];

	assert_non_null(realpath(e->state_dir, dir));
	expect_line(text, "[tenant.demo]\n");
	expect_line(text, "socket = %s/%s\n", dir, sock);
	expect_line(text, "allow_uids = %u\n", (unsigned)getuid());
	expect_line(text, "descope_project_id = %s\n", e->project_id);
	expect_line(text, "jwks_url = %s/%s/.well-known/jwks.json\n", e->url, e->project_id);
	expect_line(text, "vault_url = %s\n", e->url);
	expect_line(text, "vault_id = %s\n", e->vault_id);
}

static void test_https(void **state)
{
	struct emu_proc e;
	char ca[PATH_MAX], dir[PATH_MAX];
	char *sts, *ctx;

	(void)state;
	assert_int_equal(harness_start(&e), 0);
	assert_non_null(realpath(e.ca, ca));
	assert_non_null(realpath(e.state_dir, dir));
	sts = read_conf(&e, "skybroker.conf");
	ctx = read_conf(&e, "skybroker-ctx.conf");
	expect_common(&e, sts, "skybroker.sock");
	expect_line(sts, "exchange = sts\nsts_url = %s/v1/auth/sts/token\n", e.url);
	expect_line(sts, "service_account_id = %s\n", e.sa_id);
	expect_line(sts, "ca_file = %s\n", ca);
	assert_null(strstr(sts, "insecure_http"));
	expect_common(&e, ctx, "skybroker-ctx.sock");
	expect_line(ctx, "exchange = ctx\ncredentials_file = %s/credentials.json\n", dir);
	expect_line(ctx, "ca_file = %s\n", ca);
	/* uncommenting the line turns expose_tokens on (no inline comment to trip over) */
	expect_line(sts, "\n# expose_tokens = yes\n");
	/* no secret in them: the key stays in credentials.json */
	assert_null(strstr(sts, "PRIVATE KEY"));
	assert_null(strstr(ctx, "PRIVATE KEY"));
	free(sts);
	free(ctx);
	assert_int_equal(harness_stop(&e), 0);
}

static void test_plain_http(void **state)
{
	struct emu_proc e;
	char *sts;

	(void)state;
	assert_int_equal(harness_init(&e), 0);
	e.plain_http = true;
	assert_int_equal(harness_spawn(&e, NULL), 0);
	sts = read_conf(&e, "skybroker.conf");
	expect_common(&e, sts, "skybroker.sock");
	assert_non_null(strstr(e.url, "http://"));
	expect_line(sts, "insecure_http = yes\n");
	assert_null(strstr(sts, "ca_file"));
	free(sts);
	assert_int_equal(harness_stop(&e), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_https),
		cmocka_unit_test(test_plain_http),
	};

	curl_global_init(CURL_GLOBAL_DEFAULT);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
