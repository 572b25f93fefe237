/* SPDX-License-Identifier: MIT */
/*
 * The configurations skyflow-emulator writes into its state directory (skybroker.conf for
 * exchange = sts, skybroker-ctx.conf for exchange = ctx) pass --check-config and, used as they
 * are, serve an exchange: what the README's first-token walk-through relies on.
 */
#include <unistd.h>

#include "exchange_daemon.h"

/* The text of the emulator's written config `name` (malloc'd). */
static char *emu_conf(struct xe_emu *e, const char *name)
{
	char path[PATH_MAX];
	FILE *f;
	char *text = calloc(1, 16384);

	snprintf(path, sizeof(path), "%s/%s", e->state_dir, name);
	f = fopen(path, "re");
	assert_non_null(f);
	assert_non_null(text);
	assert_true(fread(text, 1, 16383, f) > 0);
	fclose(f);
	return text;
}

/* Checks config `name` as written, runs the daemon on it and exchanges one token on the
 * socket it names (sock_name, in the state directory). */
static void serve_one(struct xe_emu *e, const char *name, const char *sock_name)
{
	struct sbt_daemon d;
	struct sbt_client *c;
	struct sb_reply rep;
	char path[PATH_MAX], sock[PATH_MAX], out[8192];
	char *text = emu_conf(e, name), *tok;
	const char *argv[] = {sbt_daemon_path(), "--check-config", "--config", path, NULL};

	snprintf(path, sizeof(path), "%s/%s", e->state_dir, name);
	snprintf(sock, sizeof(sock), "%s/%s", e->state_dir, sock_name);
	if (sbt_run(argv, NULL, out, sizeof(out)) != 0)
		fail_msg("%s does not pass --check-config:\n%s", name, out);
	assert_non_null(strstr(text, e->url));
	assert_non_null(strstr(text, e->vault_id));
	assert_non_null(strstr(text, e->project_id));

	sbt_daemon_init(&d);
	assert_int_equal(sbt_daemon_start(&d, text, NULL), 0);
	tok = xd_mint(e, "U1", "Viewer", 600, NULL);
	c = xd_client(sock);
	xd_exchange(c, tok, &rep);
	if (!rep.ok)
		fail_msg("%s: exchange: %s: %s", name, sbt_outcome(&rep), rep.error.message);
	assert_true(rep.u.exchange.expires_at > 0);
	assert_null(rep.u.exchange.access_token); /* expose_tokens stays off */
	sb_reply_done(&rep);
	sbt_client_free(c);
	free(tok);
	free(text);
	assert_int_equal(sbt_daemon_stop(&d), 0);
}

static void test_written_configs_serve(void **state)
{
	struct xe_emu e;
	char *cfg = xe_config(NULL);
	long before;

	(void)state;
	assert_int_equal(xe_emu_start(&e, cfg), 0);
	free(cfg);
	before = xe_count(&e, "POST /v1/auth/sts/token");
	serve_one(&e, "skybroker.conf", "skybroker.sock");
	assert_int_equal(xe_count(&e, "POST /v1/auth/sts/token"), before + 1);
	before = xe_count(&e, "POST /v1/auth/sa/oauth/token");
	serve_one(&e, "skybroker-ctx.conf", "skybroker-ctx.sock");
	assert_int_equal(xe_count(&e, "POST /v1/auth/sa/oauth/token"), before + 1);
	xe_emu_stop(&e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_written_configs_serve),
	};

	curl_global_init(CURL_GLOBAL_DEFAULT);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
