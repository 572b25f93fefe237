/* SPDX-License-Identifier: MIT */
/*
 * skybrokerd --check-config: validates, prints the effective configuration (never a secret),
 * and exits non-zero naming file and line: unknown keys, bad socket modes, missing credentials
 * files, group-readable credentials; and the environment fallback (--no-config).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"

static struct sbt_daemon D;
static char creds[108], out[65536];

static const char *const tenant_body =
	"descope_project_id = P2abc\n"
	"vault_url = https://abc123.vault.skyflowapis.com\n"
	"vault_id = v123\n"
	"allow_uids = 1000\n";

static int setup(void **state)
{
	(void)state;
	sbt_daemon_init(&D);
	sbt_path(creds, sizeof(creds), &D, "credentials.json");
	sbt_write_file(creds, "{\"privateKey\": \"SECRET-KEY-MATERIAL\"}\n", 0600);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	sbt_daemon_stop(&D);
	return 0;
}

/* Writes the config text and runs --check-config; returns the exit code, output in out. */
static int check(const char *text, const char *const *env)
{
	const char *argv[] = {sbt_daemon_path(), "--check-config", "--config", D.conf, NULL};
	sbt_write_file(D.conf, text, 0644);
	return sbt_run(argv, env, out, sizeof(out));
}

static void expect_error(const char *text, const char *const *env, const char *where,
			 const char *what)
{
	char loc[256];
	int r = check(text, env);

	if (r != 1 || !strstr(out, what) || (where && !strstr(out, where)))
		print_message("exit %d, output:\n%s\n", r, out);
	assert_int_equal(r, 1);
	assert_non_null(strstr(out, what));
	if (where) {
		snprintf(loc, sizeof(loc), "%s:%s", D.conf, where);
		assert_non_null(strstr(out, loc));
	}
}

static void test_valid_prints_effective_config(void **state)
{
	char text[4096];

	(void)state;
	snprintf(text, sizeof(text),
		 "[broker]\nsocket = %s/x.sock\nadmin_socket = none\n\n"
		 "[tenant.acme]\n%sexchange = ctx\ncredentials_file = %s\n",
		 D.dir, tenant_body, creds);
	assert_int_equal(check(text, NULL), 0);
	assert_non_null(strstr(out, "[tenant.acme]"));
	assert_non_null(strstr(out, "exchange = ctx"));
	assert_non_null(strstr(out, "jwks_url = https://api.descope.com/P2abc/.well-known/jwks.json"));
	assert_non_null(strstr(out, "contents are secret and not shown"));
	assert_null(strstr(out, "SECRET-KEY-MATERIAL"));
	assert_non_null(strstr(out, "context_claims = roles, sub"));
}

static void test_unknown_keys(void **state)
{
	char text[4096];

	(void)state;
	/* line 5: a typo of vault_id in a tenant; line 2: an unknown broker key */
	snprintf(text, sizeof(text),
		 "[broker]\nmax_conections = 10\n\n[tenant.acme]\nvaul_id = v1\n%s"
		 "sts_url = https://sts.example.com\nservice_account_id = sa\n",
		 tenant_body);
	expect_error(text, NULL, "5:", "unknown key 'vaul_id' in [tenant.acme]");
	assert_non_null(strstr(out, ":2: unknown key 'max_conections' in [broker]"));
	/* an unknown section, and a repeated key */
	snprintf(text, sizeof(text),
		 "[brokr]\nsocket = /tmp/x\n[tenant.acme]\n%s"
		 "sts_url = https://sts.example.com\nservice_account_id = sa\nvault_id = v2\n",
		 tenant_body);
	expect_error(text, NULL, "1:", "unknown section [brokr]");
	assert_non_null(strstr(out, ":10: key 'vault_id' is set twice (first at line 6)"));
}

static void test_bad_socket_modes(void **state)
{
	static const char *const modes[] = {"0666", "999", "rw-rw----", "0060", "01660"};
	char text[4096];

	(void)state;
	for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		snprintf(text, sizeof(text),
			 "[broker]\nsocket_mode = %s\n[tenant.acme]\n%s"
			 "sts_url = https://sts.example.com\nservice_account_id = sa\n",
			 modes[i], tenant_body);
		expect_error(text, NULL, "2:", "socket_mode");
	}
	snprintf(text, sizeof(text),
		 "[broker]\nsocket = relative.sock\n[tenant.acme]\n%s"
		 "sts_url = https://sts.example.com\nservice_account_id = sa\n",
		 tenant_body);
	expect_error(text, NULL, "2:", "is not an absolute path");
}

static void test_missing_credentials(void **state)
{
	char text[4096];

	(void)state;
	snprintf(text, sizeof(text),
		 "[tenant.acme]\n%sexchange = ctx\ncredentials_file = %s/nope.json\n",
		 tenant_body, D.dir);
	expect_error(text, NULL, "7:", "No such file or directory");
	assert_non_null(strstr(out, "nope.json"));
	/* a credential name without $CREDENTIALS_DIRECTORY */
	snprintf(text, sizeof(text), "[tenant.acme]\n%sexchange = ctx\ncredentials_file = sa.json\n",
		 tenant_body);
	expect_error(text, (const char *const[]){"CREDENTIALS_DIRECTORY=", NULL}, "7:",
		     "$CREDENTIALS_DIRECTORY is not set");
	/* ctx without any credentials file */
	snprintf(text, sizeof(text), "[tenant.acme]\n%sexchange = ctx\n", tenant_body);
	expect_error(text, NULL, "6:", "exchange = ctx needs credentials_file");
}

static void test_group_readable_credentials(void **state)
{
	char text[4096], loose[108], credsdir[108], named[160];

	(void)state;
	sbt_path(loose, sizeof(loose), &D, "loose.json");
	sbt_write_file(loose, "{}\n", 0640);
	snprintf(text, sizeof(text), "[tenant.acme]\n%sexchange = ctx\ncredentials_file = %s\n",
		 tenant_body, loose);
	expect_error(text, NULL, "7:", "is accessible by group or others (mode 0640)");
	sbt_write_file(loose, "{}\n", 0604);
	expect_error(text, NULL, "7:", "is accessible by group or others (mode 0604)");

	/* under $CREDENTIALS_DIRECTORY the service manager owns the permissions: accepted */
	sbt_path(credsdir, sizeof(credsdir), &D, "creds");
	assert_int_equal(mkdir(credsdir, 0700), 0);
	snprintf(named, sizeof(named), "%s/sa.json", credsdir);
	sbt_write_file(named, "{}\n", 0640);
	snprintf(text, sizeof(text), "[tenant.acme]\n%sexchange = ctx\ncredentials_file = sa.json\n",
		 tenant_body);
	{
		char env[200];
		const char *envv[] = {env, NULL};
		snprintf(env, sizeof(env), "CREDENTIALS_DIRECTORY=%s", credsdir);
		assert_int_equal(check(text, envv), 0);
		assert_non_null(strstr(out, named));
	}
}

/* Who may change a credentials file (issue 9): its owner, and the directories above it. */
static void test_credentials_owner_and_directory(void **state)
{
	char text[4096], sub[108], file[160];

	(void)state;
	sbt_path(file, sizeof(file), &D, "theirs.json");
	sbt_write_file(file, "{}\n", 0600);
	assert_int_equal(chown(file, 12345, 12345), 0);
	snprintf(text, sizeof(text), "[tenant.acme]\n%sexchange = ctx\ncredentials_file = %s\n",
		 tenant_body, file);
	expect_error(text, NULL, "7:", "is owned by uid 12345, neither root nor the daemon's user");
	sbt_path(sub, sizeof(sub), &D, "open");
	assert_int_equal(mkdir(sub, 0700), 0);
	assert_int_equal(chmod(sub, 01777), 0);
	snprintf(file, sizeof(file), "%s/sa.json", sub);
	sbt_write_file(file, "{}\n", 0600);
	snprintf(text, sizeof(text), "[tenant.acme]\n%sexchange = ctx\ncredentials_file = %s\n",
		 tenant_body, file);
	expect_error(text, NULL, "7:", "open is writable by group or others (mode 1777)");
	assert_int_equal(chmod(sub, 0700), 0);
	assert_int_equal(check(text, NULL), 0);
}

static void test_other_errors(void **state)
{
	char text[4096];

	(void)state;
	/* plain http without insecure_http, a bad redaction, a bad operation, a bad boolean */
	snprintf(text, sizeof(text),
		 "[tenant.acme]\n%ssts_url = http://sts.example.com\nservice_account_id = sa\n"
		 "max_redaction = EVERYTHING\nallow_operations = get_records, stats\n"
		 "expose_tokens = maybe\n",
		 tenant_body);
	expect_error(text, NULL, "6:", "sts_url is plain http");
	assert_non_null(strstr(out, ":8: max_redaction"));
	assert_non_null(strstr(out, ":9: allow_operations: 'stats'"));
	assert_non_null(strstr(out, ":10: expose_tokens"));
	/* no tenant at all */
	expect_error("[broker]\naudit = yes\n", NULL, NULL, "no tenant configured");
	/* a syntax error */
	expect_error("[tenant.acme\nfoo\n", NULL, "1:", "syntax error");
}

/* Values --check-config used to pass (issue 9): a missing ca_file, a URL without a host, a
 * URL with a password, which it printed in full. */
static void test_broken_values(void **state)
{
	const char *argv[] = {sbt_daemon_path(), "--check-config", "--no-config", NULL};
	const char *env[] = {"DESCOPE_PROJECT_ID=P2env", "SKYFLOW_VAULT_URL_IDENTIFIER=ebfc9bee4242",
			     "SKYFLOW_VAULT_ID=v9", "SKYFLOW_SERVICE_ACCOUNT_ID=sa9",
			     "SKYBROKER_ALLOW_UIDS=1000",
			     "SKYFLOW_STS_URL=https://user:s3cretpass@sts.example.com/v1", NULL};
	char text[4096];

	(void)state;
	snprintf(text, sizeof(text),
		 "[tenant.acme]\n%ssts_url = https://sts.example.com\nservice_account_id = sa\n"
		 "ca_file = /nonexistent\njwks_url = https://\n",
		 tenant_body);
	expect_error(text, NULL, "8:", "ca_file: /nonexistent: No such file or directory");
	assert_non_null(strstr(out, ":9: jwks_url: 'https://' is not a valid URL"));
	snprintf(text, sizeof(text),
		 "[tenant.acme]\n%ssts_url = https://user:s3cretpass@sts.example.com/v1\n"
		 "service_account_id = sa\n",
		 tenant_body);
	expect_error(text, NULL, "6:", "sts_url: 'https://***@sts.example.com/v1' has a user name");
	assert_null(strstr(out, "s3cretpass"));
	/* the same from the environment */
	assert_int_equal(sbt_run(argv, env, out, sizeof(out)), 1);
	assert_non_null(strstr(out, "environment: SKYFLOW_STS_URL: sts_url: 'https://***@"));
	assert_null(strstr(out, "s3cretpass"));
}

static void test_environment_fallback(void **state)
{
	const char *argv[] = {sbt_daemon_path(), "--check-config", "--no-config", NULL};
	const char *env[] = {"DESCOPE_PROJECT_ID=P2env",
			     "SKYFLOW_VAULT_URL_IDENTIFIER=ebfc9bee4242",
			     "SKYFLOW_VAULT_ID=v9",
			     "SKYFLOW_SERVICE_ACCOUNT_ID=sa9",
			     "SKYFLOW_STS_URL=https://sts.example.com/v1",
			     "SKYBROKER_ALLOW_UIDS=1000,1001",
			     "SKYBROKER_SOCKET=/run/x/sb.sock",
			     NULL};
	const char *bad_env[] = {"DESCOPE_PROJECT_ID=P2env", "SKYBROKER_SOCKET_MODE=0777", NULL};

	(void)state;
	assert_int_equal(sbt_run(argv, env, out, sizeof(out)), 0);
	assert_non_null(strstr(out, "[tenant.default]"));
	assert_non_null(strstr(out, "vault_url = https://ebfc9bee4242.vault.skyflowapis.com"));
	assert_non_null(strstr(out, "allow_uids = 1000, 1001"));
	assert_non_null(strstr(out, "socket = /run/x/sb.sock"));
	assert_int_equal(sbt_run(argv, bad_env, out, sizeof(out)), 1);
	assert_non_null(strstr(out, "environment: SKYBROKER_SOCKET_MODE: socket_mode"));
	assert_non_null(strstr(out, "SKYFLOW_VAULT_ID is required"));
}

static void test_sample_config_is_valid(void **state)
{
	char path[4096];
	const char *src = getenv("SKYBROKER_SOURCE_DIR");
	const char *argv[] = {sbt_daemon_path(), "--check-config", "--config", path, NULL};

	(void)state;
	if (!src)
		skip();
	snprintf(path, sizeof(path), "%s/systemd/skybroker.conf", src);
	assert_int_equal(sbt_run(argv, NULL, out, sizeof(out)), 0);
	assert_non_null(strstr(out, "[tenant.acme]"));
	assert_non_null(strstr(out, "max_redaction = MASKED"));
}

static void test_environment_daemon(void **state)
{
	/* no config file: one tenant from the environment, served */
	struct sbt_daemon d;
	char sock[160], jwks[128];
	const char *argv[] = {sbt_daemon_path(), "--no-config", "--allow-root", "--log-level=debug",
			      NULL};
	const char *env[] = {"DESCOPE_PROJECT_ID=P2env",
			     "SKYFLOW_VAULT_URL_IDENTIFIER=ebfc9bee4242",
			     "SKYFLOW_VAULT_ID=v9",
			     "SKYFLOW_SERVICE_ACCOUNT_ID=sa9",
			     "SKYFLOW_STS_URL=https://sts.example.com/v1",
			     "SKYBROKER_ALLOW_UIDS=0",
			     "SKYBROKER_ADMIN_SOCKET=none",
			     "SKYBROKER_INSECURE_HTTP=yes",
			     "SKYBROKER_TENANT=envtenant",
			     sock,
			     jwks,
			     NULL};
	struct sbt_client *c;
	struct sb_reply rep;

	(void)state;
	sbt_daemon_init(&d);
	snprintf(sock, sizeof(sock), "SKYBROKER_SOCKET=%s", d.socket);
	snprintf(jwks, sizeof(jwks), "SKYBROKER_JWKS_URL=http://127.0.0.1:%d/jwks.json",
		 sbt_jwks_port());
	assert_int_equal(sbt_daemon_spawn(&d, argv, env), 0);
	assert_int_equal(sbt_daemon_wait_notify(&d, "READY=1", SBT_TIMEOUT_MS), 0);
	c = sbt_connect(d.socket);
	assert_non_null(c);
	assert_int_equal(sbt_hello(c, &rep), 0);
	assert_string_equal(rep.u.hello.tenant, "envtenant");
	sb_reply_done(&rep);
	sbt_client_free(c);
	assert_true(sbt_log_contains(&d, "config from the environment"));
	assert_true(sbt_log_contains(&d, "<7>")); /* --log-level=debug */
	assert_int_equal(sbt_daemon_stop(&d), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid_prints_effective_config),
		cmocka_unit_test(test_unknown_keys),
		cmocka_unit_test(test_bad_socket_modes),
		cmocka_unit_test(test_missing_credentials),
		cmocka_unit_test(test_group_readable_credentials),
		cmocka_unit_test(test_credentials_owner_and_directory),
		cmocka_unit_test(test_other_errors),
		cmocka_unit_test(test_broken_values),
		cmocka_unit_test(test_environment_fallback),
		cmocka_unit_test(test_sample_config_is_valid),
		cmocka_unit_test(test_environment_daemon),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
