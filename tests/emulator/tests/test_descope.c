/* emulator_descope: JWKS at both paths, token minting, key rotation, and state reload. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "harness.h"

static struct emu_proc E;

static int setup(void **state)
{
	return harness_start(&E);
}

static int teardown(void **state)
{
	return harness_stop(&E) == 0 ? 0 : -1;
}

static json_t *jwks(const char *style, long *st)
{
	char path[256];
	if (!strcmp(style, "v2"))
		snprintf(path, sizeof(path), "/v2/keys/%s", E.project_id);
	else
		snprintf(path, sizeof(path), "/%s/.well-known/jwks.json", E.project_id);
	return http_json(&E, "GET", path, NULL, NULL, st);
}

static void jwks_both_paths(void **state)
{
	long st1, st2;
	json_t *a = jwks("v2", &st1), *b = jwks("wk", &st2);
	assert_int_equal(st1, 200);
	assert_int_equal(st2, 200);
	assert_true(json_equal(a, b));
	json_t *k = json_array_get(json_object_get(a, "keys"), 0);
	assert_string_equal(json_string_value(json_object_get(k, "kty")), "RSA");
	assert_string_equal(json_string_value(json_object_get(k, "alg")), "RS256");
	assert_string_equal(json_string_value(json_object_get(k, "use")), "sig");
	assert_string_equal(json_string_value(json_object_get(k, "e")), "AQAB");
	const char *kid = json_string_value(json_object_get(k, "kid"));
	assert_int_equal(strlen(kid), 29);
	assert_memory_equal(kid, "SK", 2);
	assert_int_equal(strlen(json_string_value(json_object_get(k, "n"))), 342); /* 2048 bits */
	json_decref(a);
	json_decref(b);
	a = http_json(&E, "GET", "/v2/keys/P2unknownproject", NULL, NULL, &st1);
	assert_int_equal(st1, 404);
	assert_skyflow_error(a, 404);
	json_decref(a);
}

static void mint_token_shape(void **state)
{
	long st;
	json_t *spec = json_pack("{s:s, s:[s], s:[s], s:{s:{s:[s], s:[]}}, s:s, s:{s:s, s:i}}",
				 "sub", "U2xyz", "roles", "Viewer", "permissions", "read",
				 "tenants", "T1", "roles", "PUBLISHER", "permissions", "aud",
				 "https://mcp.example.test/mcp", "claims", "email", "u@example.com",
				 "custom", 7);
	char *t = mint_descope(&E, spec);
	assert_non_null(t);
	json_t *h = jwt_header(t), *p = jwt_payload(t), *keys = jwks("v2", &st);
	assert_string_equal(json_string_value(json_object_get(h, "alg")), "RS256");
	assert_string_equal(json_string_value(json_object_get(h, "typ")), "JWT");
	assert_string_equal(json_string_value(json_object_get(h, "kid")),
			    json_string_value(json_object_get(
				    json_array_get(json_object_get(keys, "keys"), 0), "kid")));
	assert_string_equal(json_string_value(json_object_get(p, "iss")), E.project_id);
	assert_string_equal(json_string_value(json_object_get(p, "sub")), "U2xyz");
	assert_string_equal(json_string_value(json_object_get(p, "drn")), "DS");
	assert_true(json_is_array(json_object_get(p, "amr")));
	assert_true(json_is_string(json_object_get(p, "rexp")));
	long iat = (long)json_integer_value(json_object_get(p, "iat"));
	long exp = (long)json_integer_value(json_object_get(p, "exp"));
	assert_true(labs(iat - (long)time(NULL)) < 5);
	assert_int_equal(exp - iat, 600); /* Descope's default session lifetime here */
	assert_true(json_equal(json_object_get(spec, "roles"), json_object_get(p, "roles")));
	assert_true(json_equal(json_object_get(spec, "tenants"), json_object_get(p, "tenants")));
	assert_string_equal(json_string_value(json_object_get(p, "aud")), "https://mcp.example.test/mcp");
	assert_string_equal(json_string_value(json_object_get(p, "email")), "u@example.com");
	assert_int_equal(json_integer_value(json_object_get(p, "custom")), 7);
	json_decref(h);
	json_decref(p);
	json_decref(keys);
	json_decref(spec);
	free(t);
	/* sub is required; wrong types and malformed JSON are 400 */
	const char *bad[] = {"{}", "{\"sub\":5}", "{\"sub\":\"U\",\"roles\":\"x\"}",
			     "{\"sub\":\"U\",\"exp_in\":\"x\"}", "{\"sub\":\"U\",\"claims\":[]}",
			     "{\"sub\":", "[]"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct http_resp r;
		http_req(&E, "POST", "/emulator/descope/token", NULL, "application/json", bad[i], &r);
		assert_int_equal(r.status, 400);
		json_t *j = json_loadb(r.body, r.len, 0, NULL);
		assert_skyflow_error(j, 400);
		json_decref(j);
		http_resp_free(&r);
	}
}

static void rotate_keys(void **state)
{
	long st;
	json_t *spec = json_pack("{s:s, s:[s]}", "sub", "U1", "roles", "Viewer");
	char *old = mint_descope(&E, spec);
	json_t *body = json_pack("{s:b}", "drop_old", 0);
	json_t *j = http_json(&E, "POST", "/emulator/descope/rotate", NULL, body, &st);
	assert_int_equal(st, 200);
	char kid[64];
	snprintf(kid, sizeof(kid), "%s", json_string_value(json_object_get(j, "kid")));
	json_decref(j);
	json_t *keys = jwks("wk", &st);
	assert_int_equal(json_array_size(json_object_get(keys, "keys")), 2);
	json_decref(keys);
	/* new tokens use the new kid; the old token still validates */
	char *fresh = mint_descope(&E, spec);
	json_t *h = jwt_header(fresh);
	assert_string_equal(json_string_value(json_object_get(h, "kid")), kid);
	json_decref(h);
	j = sts_exchange(&E, old, E.sa_id, &st);
	assert_int_equal(st, 200);
	json_decref(j);
	/* rotate and drop: the old token is rejected, a new one works */
	json_object_set_new(body, "drop_old", json_true());
	j = http_json(&E, "POST", "/emulator/descope/rotate", NULL, body, &st);
	assert_int_equal(st, 200);
	json_decref(j);
	keys = jwks("v2", &st);
	assert_int_equal(json_array_size(json_object_get(keys, "keys")), 1);
	json_decref(keys);
	j = sts_exchange(&E, old, E.sa_id, &st);
	assert_int_equal(st, 401);
	assert_skyflow_error(j, 401);
	json_decref(j);
	j = sts_exchange(&E, fresh, E.sa_id, &st);
	assert_int_equal(st, 401);
	json_decref(j);
	free(fresh);
	fresh = mint_descope(&E, spec);
	j = sts_exchange(&E, fresh, E.sa_id, &st);
	assert_int_equal(st, 200);
	json_decref(j);
	/* rotate with no body keeps old keys */
	j = http_json(&E, "POST", "/emulator/descope/rotate", NULL, NULL, &st);
	assert_int_equal(st, 200);
	json_decref(j);
	free(fresh);
	free(old);
	json_decref(body);
	json_decref(spec);
}

static void restart_reloads_state(void **state)
{
	long st;
	char path[PATH_MAX + 32];
	json_t *before = jwks("v2", &st);
	snprintf(path, sizeof(path), "%s/credentials.json", E.state_dir);
	json_t *cred1 = json_load_file(path, 0, NULL);
	unsigned old_port = E.port;

	assert_int_equal(harness_kill(&E), 0);
	assert_int_equal(harness_spawn(&E, NULL), 0);
	json_t *after = jwks("v2", &st);
	assert_int_equal(st, 200);
	assert_true(json_equal(before, after));
	json_t *cred2 = json_load_file(path, 0, NULL);
	assert_string_equal(json_string_value(json_object_get(cred1, "keyID")),
			    json_string_value(json_object_get(cred2, "keyID")));
	assert_string_equal(json_string_value(json_object_get(cred1, "privateKey")),
			    json_string_value(json_object_get(cred2, "privateKey")));
	/* the port file names the new port */
	snprintf(path, sizeof(path), "%s/port", E.state_dir);
	FILE *f = fopen(path, "re");
	unsigned port = 0;
	assert_non_null(f);
	assert_int_equal(fscanf(f, "%u", &port), 1);
	fclose(f);
	assert_int_equal(port, E.port);
	(void)old_port;
	json_decref(before);
	json_decref(after);
	json_decref(cred1);
	json_decref(cred2);
}

static void startup_failures(void **state)
{
	struct emu_proc bad;
	char path[1200];

	assert_int_equal(harness_init(&bad), 0);
	snprintf(path, sizeof(path), "%s/missing.json", bad.dir);
	assert_int_equal(harness_spawn(&bad, path), -1);
	snprintf(path, sizeof(path), "%s/bad.json", bad.dir);
	FILE *f = fopen(path, "we");
	assert_non_null(f);
	fputs("{\"descope\":{\"project_id\":\"P\"},\"vault\":{\"id\":\"v\",\"tables\":[{\"name\":"
	      "\"t\",\"columns\":[{\"name\":\"c\"}]}]},\"roles\":[{\"name\":\"r\",\"policies\":"
	      "[\"ALLOW READ ON t.c WITH REDACTION = LOUD\"]}]}",
	      f);
	fclose(f);
	assert_int_equal(harness_spawn(&bad, path), -1);
	harness_cleanup(&bad);
}

static void plain_http(void **state)
{
	struct emu_proc p;
	long st;
	char path[PATH_MAX + 32];

	assert_int_equal(harness_init(&p), 0);
	p.plain_http = true;
	assert_int_equal(harness_spawn(&p, NULL), 0);
	assert_memory_equal(p.url, "http://127.0.0.1:", 17);
	json_t *j = http_json(&p, "GET", "/emulator/health", NULL, NULL, &st);
	assert_int_equal(st, 200);
	json_decref(j);
	snprintf(path, sizeof(path), "%s/credentials.json", p.state_dir);
	json_t *cred = json_load_file(path, 0, NULL);
	assert_memory_equal(json_string_value(json_object_get(cred, "tokenURI")), "http://", 7);
	json_decref(cred);
	assert_int_equal(harness_kill(&p), 0);
	harness_cleanup(&p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(jwks_both_paths),
		cmocka_unit_test(mint_token_shape),
		cmocka_unit_test(rotate_keys),
		cmocka_unit_test(restart_reloads_state),
		cmocka_unit_test(startup_failures),
		cmocka_unit_test(plain_http),
	};
	return cmocka_run_group_tests_name("emulator_descope", tests, setup, teardown);
}
