/* SPDX-License-Identifier: MIT */
/*
 * exchange against the emulator over HTTPS (test CA): sts and ctx modes, the Viewer's roles in
 * the Skyflow token's context, tokens returned only with expose_tokens, every rejection of the
 * issue with its own error and no upstream call, and no token or key in the daemon's output.
 */
#include "exchange_daemon.h"

#define AUDIENCE "https://mcp.example.com/mcp"

static struct xe_emu E;
static struct sbt_daemon D;
static char open_sock[PATH_MAX], ctx_sock[PATH_MAX];

/* Every secret the tests saw, searched for in the daemon's log at the end. */
static char *secrets[64];
static size_t n_secrets;

static void remember(const char *s)
{
	if (n_secrets < 64 && s && strlen(s) >= 16)
		secrets[n_secrets++] = strdup(s);
}

static int group_setup(void **state)
{
	char *cfg = xe_config(NULL), conf[16384], extra[256];
	size_t len;

	curl_global_init(CURL_GLOBAL_DEFAULT);
	if (xe_emu_start(&E, cfg) < 0)
		return -1;
	free(cfg);
	sbt_daemon_init(&D);
	snprintf(open_sock, sizeof(open_sock), "%s/open.sock", D.dir);
	snprintf(ctx_sock, sizeof(ctx_sock), "%s/ctx.sock", D.dir);
	len = xd_broker(conf, sizeof(conf), &D, NULL);
	snprintf(extra, sizeof(extra), "audience = %s\n", AUDIENCE);
	len = xd_tenant(conf, sizeof(conf), len, &E, "acme", "sts", NULL, extra);
	snprintf(extra, sizeof(extra), "audience = %s\nexpose_tokens = yes\n", AUDIENCE);
	len = xd_tenant(conf, sizeof(conf), len, &E, "open", "sts", open_sock, extra);
	snprintf(extra, sizeof(extra), "audience = %s\nexpose_tokens = yes\n", AUDIENCE);
	len = xd_tenant(conf, sizeof(conf), len, &E, "ctxt", "ctx", ctx_sock, extra);
	(void)len;
	if (sbt_daemon_start(&D, conf, NULL) < 0)
		return -1;
	/* The service-account key's body, to make sure it never shows up. */
	{
		FILE *f = fopen(E.credentials, "re");
		json_t *j = f ? json_loadf(f, 0, NULL) : NULL;
		const char *pem = json_string_value(json_object_get(j, "privateKey"));
		char line[80];

		if (f)
			fclose(f);
		if (pem && strchr(pem, '\n')) {
			snprintf(line, sizeof(line), "%.64s", strchr(pem, '\n') + 1);
			remember(line);
		}
		json_decref(j);
	}
	return 0;
}

static int group_teardown(void **state)
{
	sbt_daemon_stop(&D);
	xe_emu_stop(&E);
	for (size_t i = 0; i < n_secrets; i++)
		free(secrets[i]);
	return 0;
}

static char *mint_ok(const char *roles, long exp_in)
{
	char *t = xd_mint(&E, "U2viewer", roles, exp_in, "{\"aud\":[\"" AUDIENCE "\"]}");

	remember(t);
	return t;
}

static void test_sts_exchange_viewer(void **state)
{
	struct sbt_client *c = xd_client(D.socket);
	char *t = mint_ok("Viewer", 600);
	struct sb_reply rep;
	long before = xe_count(&E, "POST /v1/auth/sts/token");
	time_t now = time(NULL);

	xd_exchange(c, t, &rep);
	assert_true(rep.ok);
	assert_string_equal(rep.u.exchange.token_type, "Bearer");
	assert_string_equal(rep.u.exchange.issued_token_type, "urn:ietf:params:oauth:token-type:jwt");
	assert_true(rep.u.exchange.expires_at > (uint64_t)now + 500);
	assert_true(rep.u.exchange.expires_at <= (uint64_t)now + 601);
	/* The Viewer's roles are in the context the Skyflow token carries. */
	assert_true(xd_map_array_has(rep.u.exchange.context, "roles", "Viewer"));
	/* Not exposed by default. */
	assert_null(rep.u.exchange.access_token);
	sb_reply_done(&rep);
	assert_int_equal(xe_count(&E, "POST /v1/auth/sts/token"), before + 1);
	/* The same token again: cached, no second call. */
	xd_exchange(c, t, &rep);
	assert_true(rep.ok);
	sb_reply_done(&rep);
	assert_int_equal(xe_count(&E, "POST /v1/auth/sts/token"), before + 1);
	/* Audit: the first names the upstream request, the cached one does not; both carry the
	 * subject and a token hash, never the token. */
	assert_int_equal(sbt_log_wait(&D, "sub=U2viewer", SBT_TIMEOUT_MS), 0);
	assert_true(sbt_log_count(&D, "op=exchange") >= 2);
	sbt_client_free(c);
	free(t);
}

static void check_exposed(const char *sock, const char *roles, const char *want_role,
			  const char *want_mode)
{
	struct sbt_client *c = xd_client(sock);
	char *t = mint_ok(roles, 600);
	struct sb_reply rep;
	json_t *p;

	xd_exchange(c, t, &rep);
	if (!rep.ok)
		fail_msg("exchange failed: %s: %s", sbt_outcome(&rep), rep.error.message);
	assert_non_null(rep.u.exchange.access_token);
	remember(rep.u.exchange.access_token);
	p = xe_jwt_payload(rep.u.exchange.access_token);
	assert_non_null(p);
	assert_string_equal(json_string_value(json_object_get(p, "auth_mode")), want_mode);
	/* Skyflow applied the role condition on the context: the role was granted. */
	{
		json_t *granted = json_object_get(p, "emu_roles"), *v;
		size_t i;
		bool found = false;

		json_array_foreach(granted, i, v)
			found |= strcmp(json_string_value(v), want_role) == 0;
		assert_true(found);
		assert_string_equal(json_string_value(json_array_get(
			json_object_get(json_object_get(p, "ctx"), "roles"), 0)), roles);
	}
	json_decref(p);
	sb_reply_done(&rep);
	sbt_client_free(c);
	free(t);
}

static void test_expose_tokens_sts(void **state)
{
	check_exposed(open_sock, "Viewer", "marketing", "STS");
}

static void test_ctx_mode(void **state)
{
	long before = xe_count(&E, "POST /v1/auth/sa/oauth/token");

	check_exposed(ctx_sock, "Viewer", "marketing", "SA");
	check_exposed(ctx_sock, "Admin", "admin", "SA");
	assert_int_equal(xe_count(&E, "POST /v1/auth/sa/oauth/token"), before + 2);
}

struct rejection {
	const char *what;
	char *token;
	const char *code; /* expected error code */
};

static void test_rejections_no_upstream(void **state)
{
	struct sbt_client *c = xd_client(D.socket);
	struct rejection rj[16];
	size_t n = 0, pem_len;
	char kid[128], header[512], payload[1024], *good, *pem, *msgs[16];
	EVP_PKEY *own = EVP_RSA_gen(2048);
	long now = (long)time(NULL);
	long sts_before, vault_before, total_before;

	pem = xe_jwks_pem(&E, kid, sizeof(kid), &pem_len);
	snprintf(payload, sizeof(payload),
		 "{\"iss\":\"%s\",\"sub\":\"U2x\",\"aud\":\"%s\",\"exp\":%ld,\"iat\":%ld,"
		 "\"roles\":[\"Viewer\"]}",
		 E.project_id, AUDIENCE, now + 600, now);

	snprintf(header, sizeof(header), "{\"alg\":\"none\",\"kid\":\"%s\"}", kid);
	rj[n++] = (struct rejection){ "alg none", xe_forge(own, NULL, 0, header, payload),
				      "unauthenticated" };
	snprintf(header, sizeof(header), "{\"alg\":\"HS256\",\"kid\":\"%s\",\"typ\":\"JWT\"}", kid);
	rj[n++] = (struct rejection){ "HS256 with the public key as secret",
				      xe_forge(NULL, pem, pem_len, header, payload),
				      "unauthenticated" };
	snprintf(header, sizeof(header), "{\"alg\":\"RS256\",\"kid\":\"SKnotAKnownKey00000000000000\"}");
	rj[n++] = (struct rejection){ "unknown kid", xe_forge(own, NULL, 0, header, payload),
				      "unauthenticated" };
	snprintf(header, sizeof(header), "{\"alg\":\"RS256\",\"kid\":\"%s\",\"typ\":\"JWT\"}", kid);
	rj[n++] = (struct rejection){ "bad signature", xe_forge(own, NULL, 0, header, payload),
				      "unauthenticated" };
	rj[n++] = (struct rejection){ "wrong iss",
				      xd_mint(&E, "U2x", "Viewer", 600,
					      "{\"aud\":\"" AUDIENCE "\",\"iss\":\"P2SomeOtherProject000000000\"}"),
				      "unauthenticated" };
	{
		char spec[256];

		snprintf(spec, sizeof(spec), "{\"aud\":\"%s\",\"iss\":\"%.*s\"}", AUDIENCE,
			 (int)strlen(E.project_id) - 1, E.project_id);
		rj[n++] = (struct rejection){ "project id prefix",
					      xd_mint(&E, "U2x", "Viewer", 600, spec),
					      "unauthenticated" };
	}
	rj[n++] = (struct rejection){ "wrong aud",
				      xd_mint(&E, "U2x", "Viewer", 600,
					      "{\"aud\":\"https://other.example.com/mcp\"}"),
				      "unauthenticated" };
	rj[n++] = (struct rejection){ "expired",
				      xd_mint(&E, "U2x", "Viewer", -60, "{\"aud\":\"" AUDIENCE "\"}"),
				      "token_expired" };
	rj[n++] = (struct rejection){ "nbf in the future",
				      xd_mint(&E, "U2x", "Viewer", 600,
					      "{\"aud\":\"" AUDIENCE "\",\"nbf\":600}"),
				      "token_expired" };
	rj[n++] = (struct rejection){ "refresh token",
				      xd_mint(&E, "U2x", "Viewer", 600,
					      "{\"aud\":\"" AUDIENCE "\",\"drn\":\"DSR\"}"),
				      "unauthenticated" };
	rj[n++] = (struct rejection){ "three segments of garbage", strdup("abc.def.ghi"),
				      "unauthenticated" };
	{
		/* 100 KiB: over the tenant's 16 KiB cap, and over the wire's 64 KiB field limit. */
		char *big = malloc(100 * 1024 + 1);

		memset(big, 'A', 100 * 1024);
		big[1000] = '.';
		big[2000] = '.';
		big[100 * 1024] = '\0';
		rj[n++] = (struct rejection){ "100 KiB token", big, NULL };
	}
	snprintf(header, sizeof(header), "{\"alg\":\"RS256\",\"kid\":\"%s\",\"x\":\"\xff\xfe\"}", kid);
	rj[n++] = (struct rejection){ "invalid UTF-8", xe_forge(own, NULL, 0, header, payload),
				      "unauthenticated" };
	good = mint_ok("Viewer", 600);
	{
		/* A valid token with one signature character changed. */
		char *bad = strdup(good), *last = strrchr(bad, '.') + 5;

		*last = *last == 'A' ? 'B' : 'A';
		rj[n++] = (struct rejection){ "altered signature", bad, "unauthenticated" };
	}

	sts_before = xe_count(&E, "POST /v1/auth/sts/token");
	vault_before = xe_count(&E, "POST /v1/auth/sa/oauth/token");
	total_before = xe_total(&E);
	for (size_t i = 0; i < n; i++) {
		struct sb_reply rep;
		struct sb_request req = { .op = SB_OP_EXCHANGE };
		int r;

		req.u.exchange.subject_token = rj[i].token;
		if (sbt_send(c, &req) < 0 || (r = sbt_recv(c, &rep)) < 0) {
			/* Only the oversized token may cost the connection (a frame over the cap). */
			assert_null(rj[i].code);
			sbt_client_free(c);
			c = xd_client(D.socket);
			msgs[i] = strdup("(connection closed)");
			continue;
		}
		if (rep.ok)
			fail_msg("%s: accepted", rj[i].what);
		if (rj[i].code)
			assert_string_equal(sbt_outcome(&rep), rj[i].code);
		else
			assert_true(strcmp(sbt_outcome(&rep), "too_large") == 0 ||
				    strcmp(sbt_outcome(&rep), "unauthenticated") == 0 ||
				    strcmp(sbt_outcome(&rep), "bad_request") == 0);
		assert_false(rep.error.retryable);
		msgs[i] = strdup(rep.error.message ? rep.error.message : "");
		print_message("  %-36s -> %s: %s\n", rj[i].what, sbt_outcome(&rep), msgs[i]);
		sb_reply_done(&rep);
		if (!rj[i].code) {
			/* A frame over the cap ends the connection after its error reply. */
			sbt_client_free(c);
			c = xd_client(D.socket);
		}
	}
	/* Each rejection has its own message (the two signature failures share one). */
	for (size_t i = 0; i < n; i++)
		for (size_t j = i + 1; j < n; j++)
			if (strcmp(msgs[i], msgs[j]) == 0 &&
			    !(strstr(rj[i].what, "signature") && strstr(rj[j].what, "signature")))
				fail_msg("'%s' and '%s' share the message '%s'", rj[i].what,
					 rj[j].what, msgs[i]);
	/* No upstream call at Skyflow; at most the one JWKS refetch for the unknown kid. */
	assert_int_equal(xe_count(&E, "POST /v1/auth/sts/token"), sts_before);
	assert_int_equal(xe_count(&E, "POST /v1/auth/sa/oauth/token"), vault_before);
	assert_true(xe_total(&E) - total_before <= 1);
	print_message("  upstream calls during %zu rejections: %ld (JWKS refetches only)\n", n,
		      xe_total(&E) - total_before);
	/* The daemon still serves a good token. */
	{
		struct sb_reply rep;

		xd_exchange(c, good, &rep);
		assert_true(rep.ok);
		sb_reply_done(&rep);
	}
	for (size_t i = 0; i < n; i++) {
		free(rj[i].token);
		free(msgs[i]);
	}
	free(good);
	free(pem);
	EVP_PKEY_free(own);
	sbt_client_free(c);
}

/* SIGHUP: the new tenants start with the last good key set, so they never stop being ready,
 * and tokens keep exchanging; the credentials are read again. */
static void test_reload_stays_ready(void **state)
{
	size_t not_ready = sbt_log_count(&D, "tenant=acme: not ready");
	size_t reloaded = sbt_log_count(&D, "reloaded:");
	struct sbt_client *c;
	struct sb_reply rep;
	char *t, *before_reload = mint_ok("Viewer", 600);
	long sts;

	c = xd_client(D.socket);
	xd_exchange(c, before_reload, &rep);
	assert_true(rep.ok);
	sb_reply_done(&rep);
	sbt_client_free(c);
	sbt_daemon_kill(&D, SIGHUP);
	for (int i = 0; i < 600 && sbt_log_count(&D, "reloaded:") == reloaded; i++)
		usleep(10 * 1000);
	assert_true(sbt_log_count(&D, "reloaded:") > reloaded);
	c = xd_client(D.socket);
	assert_int_equal(xd_health(c, NULL, 0), 1);
	t = mint_ok("Viewer", 600);
	xd_exchange(c, t, &rep);
	assert_true(rep.ok);
	sb_reply_done(&rep);
	assert_int_equal(sbt_log_count(&D, "tenant=acme: not ready"), not_ready);
	/* The token exchanged before the reload is still cached: no STS call. */
	sts = xe_count(&E, "POST /v1/auth/sts/token");
	xd_exchange(c, before_reload, &rep);
	assert_true(rep.ok);
	sb_reply_done(&rep);
	assert_int_equal(xe_count(&E, "POST /v1/auth/sts/token"), sts);
	assert_true(sbt_log_contains(&D, "carried over the reload"));
	free(t);
	free(before_reload);
	sbt_client_free(c);
}

/* Last but one: a clean shutdown (no leak of tokens, keys or flights under ASan). */
static void test_clean_exit(void **state)
{
	xd_stop_clean(&D);
}

static void test_health_ready(void **state)
{
	struct sbt_client *c = xd_client(ctx_sock);
	char reason[256];

	assert_int_equal(xd_health(c, reason, sizeof(reason)), 1);
	sbt_client_free(c);
}

/* Last: nothing secret in the daemon's output. */
static void test_no_secrets_in_log(void **state)
{
	assert_true(n_secrets >= 4);
	for (size_t i = 0; i < n_secrets; i++)
		if (sbt_log_contains(&D, secrets[i]))
			fail_msg("secret #%zu (%.12s...) found in the daemon's log", i, secrets[i]);
	/* Token-shaped text of any kind. */
	assert_false(sbt_log_contains(&D, "eyJhbGciOi"));
	assert_false(sbt_log_contains(&D, "BEGIN PRIVATE KEY"));
	assert_true(sbt_log_contains(&D, "op=exchange"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_health_ready),
		cmocka_unit_test(test_sts_exchange_viewer),
		cmocka_unit_test(test_expose_tokens_sts),
		cmocka_unit_test(test_ctx_mode),
		cmocka_unit_test(test_rejections_no_upstream),
		cmocka_unit_test(test_reload_stays_ready),
		cmocka_unit_test(test_no_secrets_in_log),
		cmocka_unit_test(test_clean_exit),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
