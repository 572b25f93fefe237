/* SPDX-License-Identifier: MIT */
/*
 * A reload (SIGHUP) while a request is upstream, by a client that cannot take the reply
 * (shutdown(SHUT_RD): the reply's send fails and the connection closes inside the completion),
 * so that the completion drops the last reference to the replaced tenant (review finding 2):
 * the completion must not touch the freed tenant. Once with the STS call delayed at the
 * emulator, once with an unknown-kid JWKS refetch delayed. The daemon serves on and exits
 * cleanly (status 0, no sanitizer report under the asan preset). And a reload whose
 * credentials file does not parse, which must keep the old configuration (issue 9, item 4).
 */
#include <sys/socket.h>
#include <unistd.h>

#include "exchange_daemon.h"

static struct xe_emu E;

static int group_setup(void **state)
{
	char *cfg = xe_config(NULL);

	curl_global_init(CURL_GLOBAL_DEFAULT);
	if (xe_emu_start(&E, cfg) < 0)
		return -1;
	free(cfg);
	return 0;
}

static int group_teardown(void **state)
{
	xe_emu_stop(&E);
	return 0;
}

/* Sends token on a client that then refuses its reply, reloads the daemon while the request
 * waits at the emulator (fault on path prefix, delayed 1.5 s), and checks that the daemon
 * survives the completion and exits cleanly. */
static void reload_during(const char *prefix, const char *token, const char *mode)
{
	struct sbt_daemon d;
	struct sbt_client *c, *c2;
	char conf[8192];
	size_t len;

	sbt_daemon_init(&d);
	len = xd_broker(conf, sizeof(conf), &d, NULL);
	len = xd_tenant(conf, sizeof(conf), len, &E, "acme", mode, NULL, NULL);
	(void)len;
	assert_int_equal(sbt_daemon_start(&d, conf, NULL), 0);
	c = xd_client(d.socket);
	xe_reset(&E);
	xe_fault(&E, json_pack("{s:s, s:i, s:i}", "path_prefix", prefix, "delay_ms", 1500, "count",
			       1));
	xd_send(c, token);
	usleep(200 * 1000);
	assert_int_equal(shutdown(c->fd, SHUT_RD), 0); /* the reply will fail to send */
	sbt_daemon_kill(&d, SIGHUP); /* the connection now holds the old tenant alone */
	assert_int_equal(sbt_log_wait(&d, "reloaded", 10000), 0);
	usleep(2500 * 1000); /* the delayed answer arrives and completes the request */
	/* Still serving. */
	c2 = xd_client(d.socket);
	assert_int_equal(sbt_ping(c2), 0);
	sbt_client_free(c2);
	sbt_client_free(c);
	xd_stop_clean(&d);
}

static void test_reload_during_exchange(void **state)
{
	char *t = xd_mint(&E, "U2reload", "Viewer", 600, NULL);

	reload_during("/v1/auth/sts/token", t, "sts");
	free(t);
}

static void test_reload_during_exchange_ctx(void **state)
{
	char *t = xd_mint(&E, "U2reloadctx", "Viewer", 600, NULL);

	reload_during("/v1/auth/sa/oauth/token", t, "ctx");
	free(t);
}

static void test_reload_during_jwks_refetch(void **state)
{
	static const char header[] = "{\"alg\":\"RS256\",\"kid\":\"bogus-kid\",\"typ\":\"JWT\"}";
	char *t0 = xd_mint(&E, "U2reloadkid", "Viewer", 600, NULL);
	char *h = xe_b64url(header, sizeof(header) - 1);
	char t[8192], prefix[128];

	/* The same payload and signature under a header naming a kid nobody has: the daemon
	 * refetches the JWKS, which the emulator delays. */
	snprintf(t, sizeof(t), "%s%s", h, strchr(t0, '.'));
	snprintf(prefix, sizeof(prefix), "/%s/.well-known", E.project_id);
	reload_during(prefix, t, "sts");
	free(h);
	free(t0);
}

/* The whole file at path (malloc'd, NUL-terminated). */
static char *read_text(const char *path)
{
	FILE *f = fopen(path, "re");
	char *text = calloc(1, 65536);
	size_t n;

	assert_non_null(f);
	assert_non_null(text);
	n = fread(text, 1, 65535, f);
	fclose(f);
	assert_true(n > 0 && n < 65535);
	return text;
}

/* Sends SIGHUP and waits for the reload's end: READY=1 with its STATUS= line. */
static void reload_and_wait(struct sbt_daemon *d, const char *ready_status)
{
	sbt_daemon_kill(d, SIGHUP);
	assert_int_equal(sbt_daemon_wait_notify(d, "RELOADING=1", SBT_TIMEOUT_MS), 0);
	assert_int_equal(sbt_daemon_wait_notify(d, ready_status, SBT_TIMEOUT_MS), 0);
}

/* An exchange for a new subject on a new connection (the current tenant generation) signs a
 * new assertion with the tenant's key: it succeeds and costs one call upstream. */
static void exchange_signed_now(struct sbt_daemon *d, const char *sub)
{
	struct sbt_client *c = xd_client(d->socket);
	char *t = xd_mint(&E, sub, "Viewer", 600, NULL);
	long before = xe_count(&E, "POST /v1/auth/sa/oauth/token");
	struct sb_reply rep;

	assert_int_equal(xd_health(c, NULL, 0), 1);
	xd_exchange(c, t, &rep);
	assert_true(rep.ok);
	sb_reply_done(&rep);
	assert_int_equal(xe_count(&E, "POST /v1/auth/sa/oauth/token"), before + 1);
	free(t);
	sbt_client_free(c);
}

/*
 * Issue 9, item 4: a reload whose credentials file does not parse is refused as a whole. The
 * old configuration and its key stay in force (a new connection still exchanges), the log
 * says why, and READY=1 follows RELOADING=1 with a STATUS= saying the reload failed. Once the
 * file is good again, the next reload applies.
 */
static void test_reload_broken_credentials_kept(void **state)
{
	struct sbt_daemon d;
	struct xe_emu e = E; /* the emulator, with a credentials file of this test's own */
	char conf[8192], *good;
	size_t len;

	sbt_daemon_init(&d);
	sbt_path(e.credentials, sizeof(e.credentials), &d, "sa.json");
	good = read_text(E.credentials);
	sbt_write_file(e.credentials, good, 0600);
	len = xd_broker(conf, sizeof(conf), &d, NULL);
	(void)xd_tenant(conf, sizeof(conf), len, &e, "acme", "ctx", NULL, NULL);
	assert_int_equal(sbt_daemon_start(&d, conf, NULL), 0);
	exchange_signed_now(&d, "U2credsbefore");

	sbt_write_file(e.credentials, "garbage{", 0600);
	reload_and_wait(&d, "READY=1\nSTATUS=reload failed");
	assert_true(sbt_log_contains(&d, "tenant=acme: credentials: not a JSON document"));
	assert_true(sbt_log_contains(&d, "reload failed: keeping the previous configuration"));
	assert_false(sbt_log_contains(&d, "reloaded:"));
	exchange_signed_now(&d, "U2credsafter");

	sbt_write_file(e.credentials, good, 0600);
	reload_and_wait(&d, "READY=1\nSTATUS=serving");
	assert_true(sbt_log_contains(&d, "reloaded: 1 tenant(s)"));
	exchange_signed_now(&d, "U2credsfixed");
	free(good);
	xd_stop_clean(&d);
}

/*
 * A reload that adds a tenant which cannot serve yet (its credentials file does not parse) is
 * applied, and READY=1 still ends it, with a STATUS= saying how many tenants are ready: the
 * reload is done, and health says why the new tenant is not ready. (Review of issue 9: READY=1
 * waited for every tenant to be ready, so `systemctl reload` hung until its timeout.)
 */
static void test_reload_new_tenant_not_ready_ends(void **state)
{
	struct sbt_daemon d;
	struct xe_emu e = E, bad = E;
	char conf[16384], own[PATH_MAX], *good;
	size_t len;

	sbt_daemon_init(&d);
	sbt_path(e.credentials, sizeof(e.credentials), &d, "sa.json");
	sbt_path(bad.credentials, sizeof(bad.credentials), &d, "bad.json");
	sbt_path(own, sizeof(own), &d, "beta.sock");
	good = read_text(E.credentials);
	sbt_write_file(e.credentials, good, 0600);
	sbt_write_file(bad.credentials, "garbage{", 0600);
	len = xd_broker(conf, sizeof(conf), &d, NULL);
	(void)xd_tenant(conf, sizeof(conf), len, &e, "acme", "ctx", NULL, NULL);
	assert_int_equal(sbt_daemon_start(&d, conf, NULL), 0);

	len = xd_broker(conf, sizeof(conf), &d, NULL);
	len = xd_tenant(conf, sizeof(conf), len, &e, "acme", "ctx", NULL, NULL);
	(void)xd_tenant(conf, sizeof(conf), len, &bad, "beta", "ctx", own, NULL);
	sbt_write_file(d.conf, conf, 0644);
	reload_and_wait(&d, "READY=1\nSTATUS=reloaded: 1/2 tenant(s) ready");
	assert_true(sbt_log_contains(&d, "tenant=beta: credentials: not a JSON document"));
	exchange_signed_now(&d, "U2newtenant"); /* acme serves on */
	free(good);
	xd_stop_clean(&d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reload_new_tenant_not_ready_ends),
		cmocka_unit_test(test_reload_during_exchange),
		cmocka_unit_test(test_reload_during_exchange_ctx),
		cmocka_unit_test(test_reload_during_jwks_refetch),
		cmocka_unit_test(test_reload_broken_credentials_kept),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
