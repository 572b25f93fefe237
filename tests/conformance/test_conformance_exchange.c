/* SPDX-License-Identifier: MIT */
/*
 * Conformance, part 3: what needs an upstream (PROTOCOL.md sections 7.5 and 9), against a
 * skybrokerd whose tenants point at the emulator (tests/emulator) over HTTPS: the exchange
 * result and its types, expires_at and the 30 s early refresh, the exposed access_token, and
 * the error codes of section 9 that only a subject token or Skyflow can cause, each with the
 * retryable flag the table gives, not_found included (through get_record, when offered).
 * internal is a bug or resource exhaustion: no request can cause it on purpose.
 */
#include <signal.h>

#include "conformance.h"
#include "exchange_emu.h"

static struct sbt_daemon D;
static struct xe_emu E;
static struct xe_emu E2; /* an STS whose context claims no token carries: context {} */
static char exposed_sock[108], bare_sock[108];

/* A [tenant.NAME] section pointing at emulator e; socket NULL: the shared one. */
static size_t tenant(char *buf, size_t size, size_t len, const struct xe_emu *e,
		     const char *name, const char *socket, const char *extra)
{
	int k = snprintf(buf + len, size - len,
			 "[tenant.%s]\n%s%s%sallow_uids = 0\ndescope_project_id = %s\n"
			 "jwks_url = %s/%s/.well-known/jwks.json\nexchange = sts\n"
			 "sts_url = %s/v1/auth/sts/token\nservice_account_id = %s\n"
			 "credentials_file = %s\ncontext_claims = roles, sub\nvault_url = %s\n"
			 "vault_id = %s\nca_file = %s\nhttp_timeout = 2s\nconnect_timeout = 2s\n%s\n",
			 name, socket ? "socket = " : "", socket ? socket : "", socket ? "\n" : "",
			 e->project_id, e->url, e->project_id, e->url, e->sa_id, e->credentials,
			 e->url, e->vault_id, e->ca, extra ? extra : "");

	if (k < 0 || (size_t)k >= size - len)
		abort();
	return len + (size_t)k;
}

/* The emulator configuration of E2: its STS carries the claim "department" into the token's
 * ctx, which no token here has, so the Skyflow token's context is {}. */
static char *bare_config(void)
{
	char *text = xe_config(NULL);
	json_t *c = json_loads(text, 0, NULL);

	free(text);
	assert_non_null(c);
	json_object_set_new(json_array_get(json_object_get(c, "sts_configs"), 0), "contextClaims",
			    json_pack("[s]", "department"));
	text = json_dumps(c, JSON_INDENT(1));
	json_decref(c);
	return text;
}

static int exchange_setup(void **state)
{
	static char conf[12288];
	char *emu_conf = xe_config(NULL), *bare_conf = bare_config();
	size_t len;
	int r;

	(void)state;
	r = xe_emu_start(&E, emu_conf);
	if (r == 0)
		r = xe_emu_start(&E2, bare_conf);
	free(emu_conf);
	free(bare_conf);
	if (r < 0)
		return -1;
	sbt_daemon_init(&D);
	sbt_path(exposed_sock, sizeof(exposed_sock), &D, "exposed.sock");
	sbt_path(bare_sock, sizeof(bare_sock), &D, "bare.sock");
	len = (size_t)snprintf(conf, sizeof(conf), "[broker]\nsocket = %s\nadmin_socket = %s\n",
			       D.socket, D.admin);
	len = tenant(conf, sizeof(conf), len, &E, "acme", NULL, NULL);
	len = tenant(conf, sizeof(conf), len, &E, "exposed", exposed_sock, "expose_tokens = yes\n");
	tenant(conf, sizeof(conf), len, &E2, "bare", bare_sock, NULL);
	return sbt_daemon_start(&D, conf, NULL) == 0 ? 0 : -1;
}

static int exchange_teardown(void **state)
{
	int r;

	(void)state;
	r = sbt_daemon_stop(&D);
	xe_emu_stop(&E);
	xe_emu_stop(&E2);
	return r == 0 ? 0 : -1;
}

/* A Descope token of emulator e for sub with role Viewer, expiring in exp_in seconds. */
static char *mint_at(struct xe_emu *e, const char *sub, long exp_in)
{
	json_t *spec = json_pack("{s:s, s:I, s:[s]}", "sub", sub, "exp_in", (json_int_t)exp_in,
				 "roles", "Viewer");
	char *t = xe_mint(e, spec);

	json_decref(spec);
	assert_non_null(t);
	return t;
}

static char *mint(const char *sub, long exp_in)
{
	return mint_at(&E, sub, exp_in);
}

/* The exp claim of a JWT. */
static int64_t jwt_exp(const char *jwt)
{
	json_t *p = xe_jwt_payload(jwt);
	int64_t exp;

	assert_non_null(p);
	exp = (int64_t)json_integer_value(json_object_get(p, "exp"));
	json_decref(p);
	return exp;
}

/* One exchange on fd; the reply (caller frees). */
static struct mpv *exchange(int fd, uint64_t id, const char *token)
{
	struct mpv *rep;

	cft_exchange(fd, id, token);
	assert_int_equal(cf_recv(fd, &rep, CF_TIMEOUT_MS), 0);
	return rep;
}

/* Section 7.5: the result's fields and types. */
static void test_exchange_result(void **state)
{
	int fd = cf_open(D.socket);
	char *t = mint("U2conf1", 3600);
	struct mpv *rep = exchange(fd, 2, t);
	const struct mpv *res = cf_check_ok(rep, 2, "exchange"), *ctx, *roles;
	int64_t now = (int64_t)time(NULL), exp = cft_uint(res, "expires_at");

	(void)state;
	assert_true(exp <= jwt_exp(t));   /* never past the subject token */
	assert_true(exp >= now + 30);
	assert_true(mpv_is_str(mpv_get(res, "token_type"), "Bearer"));
	assert_true(mpv_is_str(mpv_get(res, "issued_token_type"),
			       "urn:ietf:params:oauth:token-type:jwt"));
	ctx = mpv_get(res, "context");
	if (ctx) { /* optional; when present a map, here with the roles Skyflow sees */
		assert_int_equal(ctx->t, MPV_MAP);
		roles = mpv_get(ctx, "roles");
		assert_true(cf_array_has(roles, "Viewer"));
		assert_true(mpv_is_str(mpv_get(ctx, "sub"), "U2conf1"));
	}
	assert_null(mpv_get(res, "access_token")); /* expose_tokens is off */
	mpv_free(rep);
	free(t);
	close(fd);
}

/* Section 7.5: context {} when the token carries no user context (absent reads the same). */
static void test_empty_context(void **state)
{
	int fd = cf_open(bare_sock);
	char *t = mint_at(&E2, "U2conf7", 600);
	struct mpv *rep = exchange(fd, 2, t);
	const struct mpv *ctx = mpv_get(cf_check_ok(rep, 2, "exchange, no context"), "context");

	(void)state;
	/* this broker sends {}; the spec lets a client read an absent context the same */
	assert_true(!ctx || (ctx->t == MPV_MAP && ctx->len == 0));
	mpv_free(rep);
	free(t);
	close(fd);
}

/* Section 7.5: access_token only where the tenant exposes tokens; its exp is expires_at. */
static void test_exposed_token(void **state)
{
	int fd = cf_open(exposed_sock);
	char *t = mint("U2conf2", 3600);
	struct mpv *rep = exchange(fd, 2, t);
	const struct mpv *res = cf_check_ok(rep, 2, "exchange, exposed"), *at;
	char *copy;

	(void)state;
	at = mpv_get(res, "access_token");
	assert_true(at && at->t == MPV_STR && at->len > 0);
	copy = strndup(at->s, at->len);
	assert_int_equal(jwt_exp(copy), (int64_t)cft_uint(res, "expires_at"));
	explicit_bzero(copy, strlen(copy));
	free(copy);
	mpv_free(rep);
	free(t);
	close(fd);
}

/* Section 7.5, early refresh: a cached token is served while more than 30 s are left; a
 * subject token expiring within 30 s caps expires_at and gets a new exchange each time. */
static void test_early_refresh(void **state)
{
	int fd = cf_open(D.socket);
	char *longer = mint("U2conf3", 3600), *brief = mint("U2conf4", 20);
	long before = xe_count(&E, "POST /v1/auth/sts/token");
	struct mpv *a, *b;
	uint64_t e1, e2;

	(void)state;
	a = exchange(fd, 2, longer);
	b = exchange(fd, 3, longer);
	e1 = cft_uint(cf_check_ok(a, 2, "exchange"), "expires_at");
	e2 = cft_uint(cf_check_ok(b, 3, "the same again"), "expires_at");
	assert_int_equal(e1, e2); /* the cached token */
	assert_int_equal(xe_count(&E, "POST /v1/auth/sts/token") - before, 1);
	mpv_free(a);
	mpv_free(b);

	before = xe_count(&E, "POST /v1/auth/sts/token");
	a = exchange(fd, 4, brief);
	b = exchange(fd, 5, brief);
	e1 = cft_uint(cf_check_ok(a, 4, "exchange, 20 s left"), "expires_at");
	assert_int_equal(e1, (uint64_t)jwt_exp(brief)); /* capped by the subject token */
	cf_check_ok(b, 5, "the same again, 20 s left");
	/* within the last 30 s: never served from the cache */
	assert_int_equal(xe_count(&E, "POST /v1/auth/sts/token") - before, 2);
	mpv_free(a);
	mpv_free(b);
	free(longer);
	free(brief);
	close(fd);
}

/* Section 9: the codes a subject token causes, before anything goes upstream. */
static void test_token_errors(void **state)
{
	int fd = cf_open(D.socket);
	char *expired = mint("U2conf5", -60), *altered = mint("U2conf6", 600);
	long total = xe_total(&E);
	char *last = strrchr(altered, '.') + 5;
	struct mpv *rep;

	(void)state;
	*last = *last == 'A' ? 'B' : 'A';
	rep = exchange(fd, 2, expired);
	cf_check_error(rep, 2, "token_expired", "an expired token");
	mpv_free(rep);
	rep = exchange(fd, 3, altered);
	cf_check_error(rep, 3, "unauthenticated", "an altered signature");
	mpv_free(rep);
	assert_int_equal(xe_total(&E), total); /* nothing went upstream */
	free(expired);
	free(altered);
	close(fd);
}

/* Section 9: the codes Skyflow causes, with upstream_status where it answered. */
static void test_upstream_errors(void **state)
{
	static const struct {
		int status;
		const char *code;
	} cases[] = {{403, "upstream_denied"}, {400, "upstream_denied"},
		     {503, "upstream_unavailable"}, {429, "rate_limited"}};
	int fd = cf_open(D.socket);

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char sub[32], *t;
		struct mpv *rep;
		const struct mpv *us, *rid;

		snprintf(sub, sizeof(sub), "U2confup%zu", i);
		t = mint(sub, 600);
		xe_fault(&E, json_pack("{s:s, s:i, s:i}", "path_prefix", "/v1/auth/sts/token",
				       "status", cases[i].status, "count", 10));
		rep = exchange(fd, 10 + i, t);
		xe_reset(&E);
		cf_check_error(rep, 10 + i, cases[i].code, cases[i].code);
		us = mpv_get(mpv_get(rep, "error"), "upstream_status");
		assert_true(us && us->t == MPV_UINT && us->u == (uint64_t)cases[i].status);
		rid = mpv_get(mpv_get(rep, "error"), "request_id");
		assert_true(!rid || (rid->t == MPV_STR && rid->len <= 128));
		mpv_free(rep);
		free(t);
	}
	close(fd);
}

/* Section 9: not_found, from Skyflow's 404 for a record that does not exist (when this
 * broker offers get_record). */
static void test_not_found(void **state)
{
	int fd = cf_connect(D.socket);
	char *t = mint("U2conf8", 600);
	struct mpv *hello, *rep;
	const struct mpv *us;
	struct mpw w;

	(void)state;
	assert_true(fd >= 0);
	assert_int_equal(cf_hello(fd, 1, &hello), 0);
	if (!cf_array_has(mpv_get(cf_check_ok(hello, 1, "hello"), "operations"), "get_record")) {
		mpv_free(hello);
		free(t);
		close(fd);
		skip();
	}
	mpv_free(hello);
	mpw_init(&w);
	mpw_request(&w, 2, "get_record", 3);
	mpw_str(&w, "subject_token");
	mpw_str(&w, t);
	mpw_str(&w, "table");
	mpw_str(&w, "persons");
	mpw_str(&w, "skyflow_id");
	mpw_str(&w, "00000000-0000-4000-8000-000000000000");
	cft_send(fd, &w);
	assert_int_equal(cf_recv(fd, &rep, CF_TIMEOUT_MS), 0);
	cf_check_error(rep, 2, "not_found", "a record that does not exist");
	us = mpv_get(mpv_get(rep, "error"), "upstream_status");
	assert_true(us && us->t == MPV_UINT && us->u == 404);
	mpv_free(rep);
	free(t);
	close(fd);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_exchange_result),
		cmocka_unit_test(test_empty_context),
		cmocka_unit_test(test_exposed_token),
		cmocka_unit_test(test_early_refresh),
		cmocka_unit_test(test_token_errors),
		cmocka_unit_test(test_upstream_errors),
		cmocka_unit_test(test_not_found),
	};

	if (argc > 1)
		cmocka_set_test_filter(argv[1]);
	if (geteuid() != 0) {
		fprintf(stderr, "conformance tests run as root (other uids, sockets)\n");
		return 77;
	}
	if (!getenv("SKYFLOW_EMULATOR")) {
		fprintf(stderr, "no skyflow-emulator in this build\n");
		return 77;
	}
	return cmocka_run_group_tests(tests, exchange_setup, exchange_teardown);
}
