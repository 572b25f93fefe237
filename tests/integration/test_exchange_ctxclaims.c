/* SPDX-License-Identifier: MIT */
/*
 * exchange = ctx never mints a token without user context (review finding 1). With
 * context_claims = email, a valid Descope token without an email claim is refused with
 * forbidden, naming the configured claims, and no token call reaches the emulator; a token with
 * the claim gets a Skyflow token whose ctx carries the claim and the validated sub.
 */
#include "exchange_daemon.h"

#define CTX_EP "POST /v1/auth/sa/oauth/token"

static struct xe_emu E;
static struct sbt_daemon D;
static struct sbt_client *C;

static int group_setup(void **state)
{
	char *cfg = xe_config(NULL), conf[8192], *p;
	size_t len;

	curl_global_init(CURL_GLOBAL_DEFAULT);
	if (xe_emu_start(&E, cfg) < 0)
		return -1;
	free(cfg);
	sbt_daemon_init(&D);
	len = xd_broker(conf, sizeof(conf), &D, NULL);
	len = xd_tenant(conf, sizeof(conf), len, &E, "acme", "ctx", NULL, "expose_tokens = yes\n");
	(void)len;
	p = strstr(conf, "context_claims = roles, sub");
	if (!p)
		return -1;
	memcpy(p, "context_claims = email      ", 27); /* same length: the rest stays put */
	if (sbt_daemon_start(&D, conf, NULL) < 0)
		return -1;
	C = xd_client(D.socket);
	return 0;
}

static int group_teardown(void **state)
{
	sbt_client_free(C);
	xd_stop_clean(&D);
	xe_emu_stop(&E);
	return 0;
}

static void test_no_context_claim_refused(void **state)
{
	char *t = xd_mint(&E, "U2noctx", "Viewer", 600, NULL);
	struct sb_reply rep;
	long before = xe_count(&E, CTX_EP);

	for (int i = 0; i < 2; i++) {
		xd_exchange(C, t, &rep);
		assert_false(rep.ok);
		assert_string_equal(sbt_outcome(&rep), "forbidden");
		assert_false(rep.error.retryable);
		assert_non_null(rep.error.message);
		assert_non_null(strstr(rep.error.message, "email"));
		assert_null(rep.u.exchange.access_token);
		sb_reply_done(&rep);
	}
	/* No upstream call at all: nothing was minted. */
	assert_int_equal(xe_count(&E, CTX_EP), before);
	assert_int_equal(sbt_ping(C), 0);
	free(t);
}

static void test_context_claim_present(void **state)
{
	char *t = xd_mint(&E, "U2withmail", "Viewer", 600,
			  "{\"claims\":{\"email\":\"viewer@example.com\"}}");
	struct sb_reply rep;
	json_t *p, *ctx;
	long before = xe_count(&E, CTX_EP);

	xd_exchange(C, t, &rep);
	if (!rep.ok)
		print_message("exchange: %s: %s\n", sbt_outcome(&rep),
			      rep.error.message ? rep.error.message : "");
	assert_true(rep.ok);
	assert_non_null(rep.u.exchange.access_token);
	p = xe_jwt_payload(rep.u.exchange.access_token);
	assert_non_null(p);
	ctx = json_object_get(p, "ctx");
	assert_true(json_is_object(ctx));
	assert_string_equal(json_string_value(json_object_get(ctx, "email")), "viewer@example.com");
	assert_string_equal(json_string_value(json_object_get(ctx, "sub")), "U2withmail");
	json_decref(p);
	sb_reply_done(&rep);
	assert_int_equal(xe_count(&E, CTX_EP), before + 1);
	free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_no_context_claim_refused),
		cmocka_unit_test(test_context_claim_present),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
