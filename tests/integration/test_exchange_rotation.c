/* SPDX-License-Identifier: MIT */
/*
 * Credential rotation without a reload (issue 14): the credentials file lies in a directory
 * laid out as Kubernetes lays out a Secret volume (the file a link to ..data/NAME, ..data a
 * link to a timestamped directory) and is replaced as the kubelet replaces it: a new
 * directory, then a ..data_tmp link renamed over ..data. skybrokerd notices on its own
 * (inotify on its loop), loads the new key, logs the key id change and not the key, and
 * signs the next assertion with it, on a connection opened before the swap. A new file that
 * does not load keeps the key in use; a tenant whose file did not load at start becomes ready
 * once a good one is put in place. No SIGHUP is sent.
 */
#include <sys/stat.h>
#include <unistd.h>

#include "exchange_daemon.h"

static struct xe_emu E;

static int group_setup(void **state)
{
	char *cfg = xe_config(NULL);

	(void)state;
	curl_global_init(CURL_GLOBAL_DEFAULT);
	if (xe_emu_start(&E, cfg) < 0)
		return -1;
	free(cfg);
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	xe_emu_stop(&E);
	return 0;
}

/* The emulator's credentials with another keyID and a new RSA key (one it does not know). */
static char *foreign_credentials(const struct sbt_daemon *d)
{
	char key[PATH_MAX], out[256];
	const char *argv[] = { "/usr/bin/openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt",
			       "rsa_keygen_bits:2048", "-out", key, NULL };
	json_t *j = json_load_file(E.credentials, 0, NULL);
	FILE *f;
	char pem[8192] = "", *text;
	size_t n;

	sbt_path(key, sizeof(key), d, "foreign.pem");
	assert_int_equal(sbt_run(argv, NULL, out, sizeof(out)), 0);
	f = fopen(key, "re");
	assert_non_null(f);
	n = fread(pem, 1, sizeof(pem) - 1, f);
	fclose(f);
	assert_true(n > 100);
	assert_non_null(j);
	json_object_set_new(j, "keyID", json_string("f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0"));
	json_object_set_new(j, "privateKey", json_string(pem));
	text = json_dumps(j, 0);
	json_decref(j);
	unlink(key);
	return text;
}

/* Writes text as secret/..NAME/sa.json (a new "timestamped" directory). */
static void secret_version(const char *secret, const char *name, const char *text)
{
	char dir[256], file[PATH_MAX];

	snprintf(dir, sizeof(dir), "%s/..%s", secret, name);
	assert_int_equal(mkdir(dir, 0700), 0);
	snprintf(file, sizeof(file), "%s/sa.json", dir);
	sbt_write_file(file, text, 0600);
}

/* The kubelet's atomic swap: ..data_tmp -> ..NAME, renamed over ..data. */
static void secret_swap(const char *secret, const char *name)
{
	char tmp[PATH_MAX], data[PATH_MAX], target[64];

	snprintf(tmp, sizeof(tmp), "%s/..data_tmp", secret);
	snprintf(data, sizeof(data), "%s/..data", secret);
	snprintf(target, sizeof(target), "..%s", name);
	assert_int_equal(symlink(target, tmp), 0);
	assert_int_equal(rename(tmp, data), 0);
}

/* One exchange for a new subject on c; returns whether it succeeded. */
static bool exchange_ok(struct sbt_client *c, const char *sub)
{
	char *t = xd_mint(&E, sub, "Viewer", 600, NULL);
	struct sb_reply rep;
	bool ok;

	xd_exchange(c, t, &rep);
	ok = rep.ok;
	sb_reply_done(&rep);
	free(t);
	return ok;
}

static void test_rotation_secret_swap(void **state)
{
	struct sbt_daemon d;
	struct xe_emu e = E;
	struct sbt_client *c;
	char conf[8192], secret[200], link[PATH_MAX], *foreign, *good;
	json_t *gj = json_load_file(E.credentials, 0, NULL);
	size_t len;

	(void)state;
	sbt_daemon_init(&d);
	sbt_path(secret, sizeof(secret), &d, "secret");
	assert_int_equal(mkdir(secret, 0700), 0);
	foreign = foreign_credentials(&d);
	good = json_dumps(gj, 0);
	secret_version(secret, "2026_01", foreign);
	secret_swap(secret, "2026_01");
	snprintf(link, sizeof(link), "%s/sa.json", secret);
	assert_int_equal(symlink("..data/sa.json", link), 0);
	snprintf(e.credentials, sizeof(e.credentials), "%s", link);

	len = xd_broker(conf, sizeof(conf), &d, NULL);
	(void)xd_tenant(conf, sizeof(conf), len, &e, "acme", "ctx", NULL, NULL);
	assert_int_equal(sbt_daemon_start(&d, conf, NULL), 0);
	c = xd_client(d.socket);
	/* the emulator does not know the first key */
	assert_false(exchange_ok(c, "U2rotbefore"));

	secret_version(secret, "2026_02", good);
	secret_swap(secret, "2026_02");
	assert_int_equal(sbt_log_wait(&d, "tenant=acme: credentials rotated: key id "
				      "f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0 -> ", SBT_TIMEOUT_MS), 0);
	assert_true(sbt_log_contains(&d, json_string_value(json_object_get(gj, "keyID"))));
	/* the same connection, the new key */
	assert_true(exchange_ok(c, "U2rotafter"));

	/* a version that does not load: the key in use stays */
	secret_version(secret, "2026_03", "garbage{");
	secret_swap(secret, "2026_03");
	assert_int_equal(sbt_log_wait(&d, "the credentials file changed but does not load",
				      SBT_TIMEOUT_MS), 0);
	assert_true(exchange_ok(c, "U2rotbroken"));
	assert_int_equal(sbt_ping(c), 0);

	assert_false(sbt_log_contains(&d, "PRIVATE KEY"));
	assert_false(sbt_log_contains(&d, "MII"));
	assert_false(sbt_daemon_notified(&d, "RELOADING=1"));
	sbt_client_free(c);
	xd_stop_clean(&d);
	free(foreign);
	free(good);
	json_decref(gj);
}

/* The systemd layout (skybroker.conf(5), CREDENTIAL ROTATION): a new file renamed over the
 * old one in the credentials directory. */
static void test_rotation_rename_in_place(void **state)
{
	struct sbt_daemon d;
	struct xe_emu e = E;
	struct sbt_client *c;
	char conf[8192], dir[200], tmp[PATH_MAX], *foreign, *good;
	json_t *gj = json_load_file(E.credentials, 0, NULL);
	size_t len;

	(void)state;
	sbt_daemon_init(&d);
	sbt_path(dir, sizeof(dir), &d, "credentials");
	assert_int_equal(mkdir(dir, 0750), 0);
	foreign = foreign_credentials(&d);
	good = json_dumps(gj, 0);
	snprintf(e.credentials, sizeof(e.credentials), "%s/skyflow-sa.json", dir);
	snprintf(tmp, sizeof(tmp), "%s/skyflow-sa.json.new", dir);
	sbt_write_file(e.credentials, foreign, 0400);
	len = xd_broker(conf, sizeof(conf), &d, NULL);
	(void)xd_tenant(conf, sizeof(conf), len, &e, "acme", "ctx", NULL, NULL);
	assert_int_equal(sbt_daemon_start(&d, conf, NULL), 0);
	c = xd_client(d.socket);
	assert_false(exchange_ok(c, "U2renbefore"));

	sbt_write_file(tmp, good, 0400);
	assert_int_equal(rename(tmp, e.credentials), 0);
	assert_int_equal(sbt_log_wait(&d, "tenant=acme: credentials rotated", SBT_TIMEOUT_MS), 0);
	assert_true(exchange_ok(c, "U2renafter"));
	sbt_client_free(c);
	xd_stop_clean(&d);
	free(foreign);
	free(good);
	json_decref(gj);
}

/* A tenant whose credentials did not load at start (not ready, a reason only a reload used
 * to clear) becomes ready when a good file is put in place, without a reload. */
static void test_rotation_repairs_broken(void **state)
{
	struct sbt_daemon d;
	struct xe_emu e = E;
	struct sbt_client *c;
	char conf[8192], dir[200], tmp[PATH_MAX], reason[512], *good;
	json_t *gj = json_load_file(E.credentials, 0, NULL);
	const char *args[5];
	size_t len;

	(void)state;
	sbt_daemon_init(&d);
	sbt_path(dir, sizeof(dir), &d, "credentials");
	assert_int_equal(mkdir(dir, 0750), 0);
	good = json_dumps(gj, 0);
	snprintf(e.credentials, sizeof(e.credentials), "%s/skyflow-sa.json", dir);
	snprintf(tmp, sizeof(tmp), "%s/skyflow-sa.json.new", dir);
	sbt_write_file(e.credentials, "garbage{", 0400);
	len = xd_broker(conf, sizeof(conf), &d, NULL);
	(void)xd_tenant(conf, sizeof(conf), len, &e, "acme", "ctx", NULL, NULL);
	sbt_write_file(d.conf, conf, 0644);
	args[0] = sbt_daemon_path();
	args[1] = "--config";
	args[2] = d.conf;
	args[3] = "--allow-root";
	args[4] = NULL;
	assert_int_equal(sbt_daemon_spawn(&d, args, NULL), 0);
	assert_int_equal(sbt_log_wait(&d, "JWKS loaded", SBT_TIMEOUT_MS), 0);
	c = xd_client(d.socket);
	assert_int_equal(xd_health(c, reason, sizeof(reason)), 0);
	assert_non_null(strstr(reason, "credentials"));

	sbt_write_file(tmp, good, 0400);
	assert_int_equal(rename(tmp, e.credentials), 0);
	assert_int_equal(sbt_log_wait(&d, "tenant=acme: credentials rotated: key id (none) -> ",
				      SBT_TIMEOUT_MS), 0);
	assert_int_equal(sbt_daemon_wait_notify(&d, "READY=1", SBT_TIMEOUT_MS), 0);
	assert_int_equal(xd_health(c, NULL, 0), 1);
	assert_true(exchange_ok(c, "U2repaired"));
	sbt_client_free(c);
	xd_stop_clean(&d);
	free(good);
	json_decref(gj);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rotation_secret_swap),
		cmocka_unit_test(test_rotation_rename_in_place),
		cmocka_unit_test(test_rotation_repairs_broken),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
