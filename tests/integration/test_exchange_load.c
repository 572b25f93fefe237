/* SPDX-License-Identifier: MIT */
/*
 * Single flight and the JWKS under load, against the emulator over HTTPS:
 *  - 1,000 concurrent exchange requests with one new subject token cause exactly one STS
 *    call; a second wave causes none; after the cached entry expires, exactly one again;
 *  - after a key rotation at the emulator, a token signed by the new key is accepted after one
 *    JWKS refetch; a flood of unknown-kid tokens then causes no further fetch (at most one
 *    per 30 s).
 */
#include "exchange_daemon.h"

#define JWKS_EP "GET /{project}/.well-known/jwks.json"
#define STS_EP "POST /v1/auth/sts/token"
#define N_CONN 4
#define PER_CONN 250

static struct xe_emu E;
static struct sbt_daemon D;

static int group_setup(void **state)
{
	char *cfg = xe_config(NULL), conf[8192];
	size_t len;

	curl_global_init(CURL_GLOBAL_DEFAULT);
	if (xe_emu_start(&E, cfg) < 0)
		return -1;
	free(cfg);
	sbt_daemon_init(&D);
	len = xd_broker(conf, sizeof(conf), &D, "max_inflight_per_connection = 1024\n");
	len = xd_tenant(conf, sizeof(conf), len, &E, "acme", "sts", NULL, NULL);
	(void)len;
	return sbt_daemon_start(&D, conf, NULL) < 0 ? -1 : 0;
}

static int group_teardown(void **state)
{
	xd_stop_clean(&D);
	xe_emu_stop(&E);
	return 0;
}

/* Sends N_CONN x PER_CONN exchanges of token before reading any reply; all must succeed. */
static void wave(const char *token)
{
	struct sbt_client *c[N_CONN];
	unsigned ok = 0;

	for (int i = 0; i < N_CONN; i++)
		c[i] = xd_client(D.socket);
	for (int k = 0; k < PER_CONN; k++)
		for (int i = 0; i < N_CONN; i++)
			xd_send(c[i], token);
	for (int i = 0; i < N_CONN; i++) {
		for (int k = 0; k < PER_CONN; k++) {
			struct sb_reply rep;

			assert_int_equal(sbt_recv(c[i], &rep), 0);
			if (!rep.ok)
				fail_msg("exchange failed: %s: %s", sbt_outcome(&rep),
					 rep.error.message);
			ok++;
			sb_reply_done(&rep);
		}
		sbt_client_free(c[i]);
	}
	assert_int_equal(ok, N_CONN * PER_CONN);
}

static void test_thousand_concurrent_one_sts_call(void **state)
{
	char *t = xd_mint(&E, "U2load", "Viewer", 3600, NULL), *short_lived;
	time_t minted;
	long n0 = xe_count(&E, STS_EP), n1, n2, n3, n4;
	json_t *clock;

	wave(t);
	n1 = xe_count(&E, STS_EP);
	if (n1 - n0 != 1)
		sbt_log_dump(&D);
	assert_int_equal(n1 - n0, 1);
	wave(t);
	n2 = xe_count(&E, STS_EP);
	assert_int_equal(n2 - n1, 0);

	/*
	 * Short-lived Skyflow tokens: with the emulator's clock 3,555 s behind, the tokens it
	 * issues (exp = its now + 3,600) live 45 s of real time, while the subject token lives
	 * long. The broker serves a cached token until exp - 30 s, then exchanges again.
	 */
	clock = json_pack("{s:i}", "offset_s", -3555);
	json_decref(xe_http(&E, "POST", "/emulator/clock", clock, NULL));
	json_decref(clock);
	short_lived = xd_mint(&E, "U2short", "Viewer", 7200, NULL);
	minted = time(NULL);
	wave(short_lived);
	n3 = xe_count(&E, STS_EP);
	assert_int_equal(n3 - n2, 1);
	/* Past exp - 30 s the entry is never served: the next wave makes exactly one call. */
	while (time(NULL) < minted + 45 - 30 + 1)
		usleep(200 * 1000);
	wave(short_lived);
	n4 = xe_count(&E, STS_EP);
	clock = json_pack("{s:i}", "offset_s", 0);
	json_decref(xe_http(&E, "POST", "/emulator/clock", clock, NULL));
	json_decref(clock);
	assert_int_equal(n4 - n3, 1);
	print_message("  STS calls: 1,000 concurrent: %ld; second wave: %ld; short-lived: %ld, "
		      "after expiry: %ld\n", n1 - n0, n2 - n1, n3 - n2, n4 - n3);
	/* The admin stats tell the same story. */
	{
		struct sbt_client *admin = sbt_connect(D.admin);
		struct sb_reply rep;
		const msgpack_object *cache;

		assert_non_null(admin);
		assert_int_equal(sbt_hello(admin, NULL), 0);
		assert_int_equal(sbt_call(admin, SB_OP_STATS, &rep), 0);
		assert_true(rep.ok);
		cache = rep.u.stats.cache;
		print_message("  stats cache: hits %llu misses %llu coalesced %llu exchanges %llu "
			      "entries %llu\n",
			      (unsigned long long)xd_map_u64(cache, "hits"),
			      (unsigned long long)xd_map_u64(cache, "misses"),
			      (unsigned long long)xd_map_u64(cache, "coalesced"),
			      (unsigned long long)xd_map_u64(cache, "upstream_exchanges"),
			      (unsigned long long)xd_map_u64(cache, "entries"));
		assert_true(xd_map_u64(cache, "upstream_exchanges") >= 3);
		assert_true(xd_map_u64(cache, "hits") >= 1000);
		assert_true(xd_map_u64(cache, "hits") + xd_map_u64(cache, "coalesced") +
			    xd_map_u64(cache, "misses") >= 4000);
		sb_reply_done(&rep);
		sbt_client_free(admin);
	}
	free(t);
	free(short_lived);
}

static void test_rotation_then_kid_flood(void **state)
{
	struct sbt_client *c = xd_client(D.socket);
	long j0 = xe_count(&E, JWKS_EP), j1, j2;
	char *kid = xe_rotate(&E, false), *t;
	struct sb_reply rep;
	EVP_PKEY *own = EVP_RSA_gen(2048);
	char payload[512];

	assert_non_null(kid);
	/* A token from the new key: one refetch, then accepted. */
	t = xd_mint(&E, "U2rot", "Viewer", 600, NULL);
	xd_exchange(c, t, &rep);
	if (!rep.ok)
		fail_msg("new-key token refused: %s", rep.error.message);
	sb_reply_done(&rep);
	j1 = xe_count(&E, JWKS_EP);
	assert_int_equal(j1 - j0, 1);
	free(t);

	/* A flood of tokens with unknown kids within 30 s: no fetch at all. */
	snprintf(payload, sizeof(payload), "{\"iss\":\"%s\",\"sub\":\"U2\",\"exp\":%ld}",
		 E.project_id, (long)time(NULL) + 600);
	for (int i = 0; i < 200; i++) {
		char header[128];

		snprintf(header, sizeof(header), "{\"alg\":\"RS256\",\"kid\":\"SKflood%05d\"}", i);
		t = xe_forge(own, NULL, 0, header, payload);
		xd_send(c, t);
		free(t);
	}
	for (int i = 0; i < 200; i++) {
		assert_int_equal(sbt_recv(c, &rep), 0);
		assert_false(rep.ok);
		assert_string_equal(sbt_outcome(&rep), "unauthenticated");
		sb_reply_done(&rep);
	}
	j2 = xe_count(&E, JWKS_EP);
	assert_true(j2 - j1 <= 1);
	print_message("  JWKS fetches: rotation %ld, flood of 200 unknown kids %ld\n", j1 - j0,
		      j2 - j1);
	/* The rotated key still works, the old one too (drop_old was false). */
	t = xd_mint(&E, "U2rot2", "Viewer", 600, NULL);
	xd_exchange(c, t, &rep);
	assert_true(rep.ok);
	sb_reply_done(&rep);
	free(t);
	EVP_PKEY_free(own);
	free(kid);
	sbt_client_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_thousand_concurrent_one_sts_call),
		cmocka_unit_test(test_rotation_then_kid_flood),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
