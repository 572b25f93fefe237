/* emulator_auth: credentials.json, the service-account token endpoint and the STS exchange,
 * including every bad-input case of the issue, and the lifetime of issued tokens. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "harness.h"
#include "keys.h"

#define SA_GRANT "urn:ietf:params:oauth:grant-type:jwt-bearer"
#define MCP_ISS_FMT "https://api.descope.com/v1/apps/agentic/%s/MS2EmuDemoMcpServer000000001"
#define MCP_AUD "https://mcp.example.test/mcp"

static struct emu_proc E;
static json_t *cred;
static struct emu_key *sa_key;

static int setup(void **state)
{
	char path[PATH_MAX + 32];
	if (harness_start(&E) < 0)
		return -1;
	snprintf(path, sizeof(path), "%s/credentials.json", E.state_dir);
	cred = json_load_file(path, 0, NULL);
	if (!cred)
		return -1;
	return key_from_pem(json_string_value(json_object_get(cred, "privateKey")), "", &sa_key);
}

static int teardown(void **state)
{
	key_free(sa_key);
	json_decref(cred);
	return harness_stop(&E) == 0 ? 0 : -1;
}

static const char *cred_str(const char *k)
{
	return json_string_value(json_object_get(cred, k));
}

/* The SDKs' assertion: iss = sub = clientID, key = keyID, aud = tokenURI, exp = now + 3600. */
static json_t *assertion_claims(void)
{
	return json_pack("{s:s, s:s, s:s, s:s, s:I}", "iss", cred_str("clientID"), "key",
			 cred_str("keyID"), "aud", cred_str("tokenURI"), "sub", cred_str("clientID"),
			 "exp", (json_int_t)time(NULL) + 3600);
}

static json_t *sa_token_req(const struct emu_key *k, json_t *claims /* stolen */,
			    const char *scope, long *st)
{
	char *assertion = NULL;
	json_t *body, *j;

	assert_int_equal(jwt_sign_rs256(k, 0, claims, &assertion), 0);
	json_decref(claims);
	body = json_pack("{s:s, s:s}", "grant_type", SA_GRANT, "assertion", assertion);
	if (scope)
		json_object_set_new(body, "scope", json_string(scope));
	j = http_json(&E, "POST", "/v1/auth/sa/oauth/token", NULL, body, st);
	json_decref(body);
	free(assertion);
	return j;
}

static void credentials_file(void **state)
{
	const char *keys[] = {"clientID", "clientName", "tokenURI", "keyID", "privateKey",
			      "keyValidAfterTime", "keyValidBeforeTime", "keyAlgorithm"};
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		assert_non_null(cred_str(keys[i]));
	char uri[256];
	snprintf(uri, sizeof(uri), "%s/v1/auth/sa/oauth/token", E.url);
	assert_string_equal(cred_str("tokenURI"), uri);
	assert_non_null(strstr(cred_str("privateKey"), "-----BEGIN PRIVATE KEY-----"));
	assert_string_equal(cred_str("keyAlgorithm"), "KEY_ALG_RSA_2048");
	assert_int_equal(strlen(cred_str("keyID")), 32);
	assert_int_equal(strlen(cred_str("keyValidAfterTime")), 24); /* ...T08:14:56.000Z */
}

static void sa_token_ok_with_ctx_roles(void **state)
{
	long st;
	json_t *claims = assertion_claims();
	json_object_set_new(claims, "ctx", json_pack("{s:[s]}", "roles", "Viewer"));
	json_t *j = sa_token_req(sa_key, claims, NULL, &st);
	assert_int_equal(st, 200);
	assert_string_equal(json_string_value(json_object_get(j, "tokenType")), "Bearer");
	const char *tok = json_string_value(json_object_get(j, "accessToken"));
	assert_non_null(tok);
	json_t *p = jwt_payload(tok);
	assert_string_equal(json_string_value(json_array_get(json_object_get(p, "emu_roles"), 0)),
			    "marketing");
	assert_non_null(json_object_get(json_object_get(p, "ctx"), "roles"));
	long exp = (long)json_integer_value(json_object_get(p, "exp"));
	assert_true(exp > time(NULL) + 3500 && exp <= time(NULL) + 3700);
	json_decref(p);
	/* the token works on the vault with the marketing view */
	char path[256];
	snprintf(path, sizeof(path), "%s/persons?limit=1&redaction=PLAIN_TEXT", E.vault_path);
	json_t *v = http_json(&E, "GET", path, tok, NULL, &st);
	assert_int_equal(st, 200);
	json_t *f = json_object_get(json_array_get(json_object_get(v, "records"), 0), "fields");
	assert_string_equal(json_string_value(json_object_get(f, "ssn")), "*REDACTED*");
	json_decref(v);
	json_decref(j);
}

static void sa_token_scope(void **state)
{
	long st;
	json_t *claims = assertion_claims(), *j, *p;
	json_object_set_new(claims, "ctx", json_pack("{s:[s, s]}", "roles", "Viewer", "Admin"));
	/* Go SDK style: leading space */
	j = sa_token_req(sa_key, json_deep_copy(claims), " role:admin", &st);
	assert_int_equal(st, 200);
	p = jwt_payload(json_string_value(json_object_get(j, "accessToken")));
	assert_int_equal(json_array_size(json_object_get(p, "emu_roles")), 1);
	assert_string_equal(json_string_value(json_array_get(json_object_get(p, "emu_roles"), 0)),
			    "admin");
	json_decref(p);
	json_decref(j);
	/* Node SDK style: trailing space, two roles */
	j = sa_token_req(sa_key, json_deep_copy(claims), "role:admin role:marketing ", &st);
	assert_int_equal(st, 200);
	p = jwt_payload(json_string_value(json_object_get(j, "accessToken")));
	assert_int_equal(json_array_size(json_object_get(p, "emu_roles")), 2);
	json_decref(p);
	json_decref(j);
	j = sa_token_req(sa_key, json_deep_copy(claims), "role:admin  role:admin", &st);
	assert_int_equal(st, 200);
	json_decref(j);
	j = sa_token_req(sa_key, json_deep_copy(claims), "admin", &st);
	assert_int_equal(st, 400);
	assert_string_equal(assert_skyflow_error(j, 400), "Scopes in request token in wrong format");
	json_decref(j);
	j = sa_token_req(sa_key, json_deep_copy(claims), "role:nosuchrole", &st);
	assert_int_equal(st, 403);
	assert_skyflow_error(j, 403);
	json_decref(j);
	/* a role that exists but whose condition is false for this ctx */
	j = sa_token_req(sa_key, json_deep_copy(claims), "role:support", &st);
	assert_int_equal(st, 403);
	json_decref(j);
	json_decref(claims);
}

static void sa_token_bad_assertions(void **state)
{
	long st;
	json_t *j, *c;
	struct emu_key *other;

	/* bad signature: signed by another key */
	assert_int_equal(key_generate("", &other), 0);
	j = sa_token_req(other, assertion_claims(), NULL, &st);
	assert_int_equal(st, 401);
	assert_skyflow_error(j, 401);
	json_decref(j);
	key_free(other);
	/* wrong aud */
	c = assertion_claims();
	json_object_set_new(c, "aud", json_string("https://manage.skyflowapis.com/v1/auth/sa/oauth/token"));
	j = sa_token_req(sa_key, c, NULL, &st);
	assert_int_equal(st, 401);
	assert_non_null(strstr(assert_skyflow_error(j, 401), "aud"));
	json_decref(j);
	/* expired */
	c = assertion_claims();
	json_object_set_new(c, "exp", json_integer(time(NULL) - 60));
	j = sa_token_req(sa_key, c, NULL, &st);
	assert_int_equal(st, 401);
	assert_non_null(strstr(assert_skyflow_error(j, 401), "expired"));
	json_decref(j);
	/* missing exp, wrong iss, sub, key */
	const char *fields[] = {"exp", "iss", "sub", "key"};
	for (size_t i = 0; i < 4; i++) {
		c = assertion_claims();
		if (i == 0)
			json_object_del(c, "exp");
		else
			json_object_set_new(c, fields[i], json_string("0123456789abcdef0123456789abcdef"));
		j = sa_token_req(sa_key, c, NULL, &st);
		assert_int_equal(st, 401);
		assert_skyflow_error(j, 401);
		json_decref(j);
	}
	/* alg confusion: HS256 over the public key is refused */
	const char *forged = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJpc3MiOiJ4In0.c2ln";
	json_t *body = json_pack("{s:s, s:s}", "grant_type", SA_GRANT, "assertion", forged);
	j = http_json(&E, "POST", "/v1/auth/sa/oauth/token", NULL, body, &st);
	assert_int_equal(st, 401);
	json_decref(j);
	json_decref(body);
	/* wrong grant type, missing assertion, malformed JSON */
	body = json_pack("{s:s, s:s}", "grant_type", "client_credentials", "assertion", "x.y.z");
	j = http_json(&E, "POST", "/v1/auth/sa/oauth/token", NULL, body, &st);
	assert_int_equal(st, 400);
	assert_skyflow_error(j, 400);
	json_decref(j);
	json_decref(body);
	body = json_pack("{s:s}", "grant_type", SA_GRANT);
	j = http_json(&E, "POST", "/v1/auth/sa/oauth/token", NULL, body, &st);
	assert_int_equal(st, 400);
	json_decref(j);
	json_decref(body);
	struct http_resp r;
	http_req(&E, "POST", "/v1/auth/sa/oauth/token", NULL, "application/json", "{\"grant_type\":",
		 &r);
	assert_int_equal(r.status, 400);
	j = json_loadb(r.body, r.len, 0, NULL);
	assert_non_null(strstr(assert_skyflow_error(j, 400), "malformed JSON"));
	json_decref(j);
	http_resp_free(&r);
	/* wrong method */
	j = http_json(&E, "GET", "/v1/auth/sa/oauth/token", NULL, NULL, &st);
	assert_int_equal(st, 405);
	json_decref(j);
}

static char *mint(json_t *spec /* stolen */)
{
	char *t = mint_descope(&E, spec);
	json_decref(spec);
	assert_non_null(t);
	return t;
}

static void sts_ok_json_and_form(void **state)
{
	long st;
	char *subject = mint(json_pack("{s:s, s:[s], s:[s]}", "sub", "U2abc", "roles", "Viewer",
				       "permissions", "read"));
	json_t *j = sts_exchange(&E, subject, E.sa_id, &st);
	assert_int_equal(st, 200);
	assert_string_equal(json_string_value(json_object_get(j, "tokenType")), "Bearer");
	assert_string_equal(json_string_value(json_object_get(j, "issuedTokenType")),
			    "urn:ietf:params:oauth:token-type:jwt");
	json_t *p = jwt_payload(json_string_value(json_object_get(j, "accessToken")));
	json_t *ctx = json_object_get(p, "ctx");
	/* context = contextClaims (["roles"]) present in the subject token, nothing else */
	assert_int_equal(json_object_size(ctx), 1);
	assert_string_equal(json_string_value(json_array_get(json_object_get(ctx, "roles"), 0)),
			    "Viewer");
	assert_string_equal(json_string_value(json_object_get(p, "subject")), "U2abc");
	json_decref(p);
	json_decref(j);
	/* the Descope example's form encoding, and no service_account_id */
	char form[8192];
	snprintf(form, sizeof(form),
		 "grant_type=urn%%3Aietf%%3Aparams%%3Aoauth%%3Agrant-type%%3Atoken-exchange"
		 "&subject_token=%s&subject_token_type=urn%%3Aietf%%3Aparams%%3Aoauth%%3Atoken-type%%3Ajwt"
		 "&service_account_id=%s",
		 subject, E.sa_id);
	struct http_resp r;
	http_req(&E, "POST", "/v1/auth/sts/token", NULL, "application/x-www-form-urlencoded", form,
		 &r);
	assert_int_equal(r.status, 200);
	j = json_loadb(r.body, r.len, 0, NULL);
	assert_non_null(json_string_value(json_object_get(j, "accessToken")));
	json_decref(j);
	http_resp_free(&r);
	j = sts_exchange(&E, subject, NULL, &st);
	assert_int_equal(st, 200);
	json_decref(j);
	free(subject);
}

static void sts_token_lifetime(void **state)
{
	long st;
	time_t now = time(NULL);
	/* short subject: the issued token ends with it */
	char *subject = mint(json_pack("{s:s, s:[s], s:i}", "sub", "U1", "roles", "Admin",
				       "exp_in", 120));
	json_t *sp = jwt_payload(subject);
	json_t *j = sts_exchange(&E, subject, E.sa_id, &st);
	assert_int_equal(st, 200);
	json_t *p = jwt_payload(json_string_value(json_object_get(j, "accessToken")));
	assert_int_equal(json_integer_value(json_object_get(p, "exp")),
			 json_integer_value(json_object_get(sp, "exp")));
	json_decref(p);
	json_decref(j);
	json_decref(sp);
	free(subject);
	/* long subject: capped at now + 3600 */
	subject = mint(json_pack("{s:s, s:[s], s:i}", "sub", "U1", "roles", "Admin", "exp_in", 86400));
	j = sts_exchange(&E, subject, E.sa_id, &st);
	p = jwt_payload(json_string_value(json_object_get(j, "accessToken")));
	long exp = (long)json_integer_value(json_object_get(p, "exp"));
	assert_true(exp >= now + 3600 && exp <= time(NULL) + 3600);
	json_decref(p);
	json_decref(j);
	free(subject);
}

static void sts_bad_subjects(void **state)
{
	long st;
	json_t *j;
	char *t;

	/* expired */
	t = mint(json_pack("{s:s, s:[s], s:i}", "sub", "U1", "roles", "Viewer", "exp_in", -60));
	j = sts_exchange(&E, t, E.sa_id, &st);
	assert_int_equal(st, 401);
	assert_non_null(strstr(assert_skyflow_error(j, 401), "expired"));
	json_decref(j);
	free(t);
	/* not yet valid */
	t = mint(json_pack("{s:s, s:i}", "sub", "U1", "nbf", 600));
	j = sts_exchange(&E, t, E.sa_id, &st);
	assert_int_equal(st, 401);
	json_decref(j);
	free(t);
	/* refresh token */
	t = mint(json_pack("{s:s, s:s}", "sub", "U1", "drn", "DSR"));
	j = sts_exchange(&E, t, E.sa_id, &st);
	assert_int_equal(st, 401);
	assert_skyflow_error(j, 401);
	json_decref(j);
	free(t);
	/* unknown service account */
	t = mint(json_pack("{s:s}", "sub", "U1"));
	j = sts_exchange(&E, t, "ffffffffffffffffffffffffffffffff", &st);
	assert_int_equal(st, 404);
	assert_skyflow_error(j, 404);
	json_decref(j);
	/* tampered signature */
	char *bad = strdup(t);
	size_t n = strlen(bad);
	bad[n - 5] = bad[n - 5] == 'A' ? 'B' : 'A';
	j = sts_exchange(&E, bad, E.sa_id, &st);
	assert_int_equal(st, 401);
	assert_skyflow_error(j, 401);
	json_decref(j);
	free(bad);
	free(t);
	/* issuer with no STS config */
	t = mint(json_pack("{s:s, s:s}", "sub", "U1", "iss", "https://evil.example/P2x"));
	j = sts_exchange(&E, t, E.sa_id, &st);
	assert_int_equal(st, 400);
	assert_skyflow_error(j, 400);
	json_decref(j);
	free(t);
	/* garbage */
	j = sts_exchange(&E, "garbage", E.sa_id, &st);
	assert_int_equal(st, 401);
	json_decref(j);
	/* wrong grant type / subject token type / malformed JSON */
	json_t *body = json_pack("{s:s, s:s, s:s}", "grant_type", "password", "subject_token", "a.b.c",
				 "subject_token_type", "urn:ietf:params:oauth:token-type:jwt");
	j = http_json(&E, "POST", "/v1/auth/sts/token", NULL, body, &st);
	assert_int_equal(st, 400);
	json_decref(j);
	json_object_set_new(body, "grant_type",
			    json_string("urn:ietf:params:oauth:grant-type:token-exchange"));
	json_object_set_new(body, "subject_token_type",
			    json_string("urn:ietf:params:oauth:token-type:access_token"));
	j = http_json(&E, "POST", "/v1/auth/sts/token", NULL, body, &st);
	assert_int_equal(st, 400);
	assert_skyflow_error(j, 400);
	json_decref(j);
	json_decref(body);
	struct http_resp r;
	http_req(&E, "POST", "/v1/auth/sts/token", NULL, "application/json", "[1,2", &r);
	assert_int_equal(r.status, 400);
	http_resp_free(&r);
	http_req(&E, "POST", "/v1/auth/sts/token", NULL, "application/x-www-form-urlencoded",
		 "grant_type=%zz", &r);
	assert_int_equal(r.status, 400);
	http_resp_free(&r);
}

static void sts_audience(void **state)
{
	long st;
	char iss[256];
	snprintf(iss, sizeof(iss), MCP_ISS_FMT, E.project_id);
	/* the MCP-server STS config requires its audience; its context has roles and sub */
	char *t = mint(json_pack("{s:s, s:s, s:[s, s], s:[s]}", "sub", "U9", "iss", iss, "aud",
				 E.project_id, MCP_AUD, "roles", "Viewer"));
	json_t *j = sts_exchange(&E, t, E.sa_id, &st);
	assert_int_equal(st, 200);
	json_t *p = jwt_payload(json_string_value(json_object_get(j, "accessToken")));
	assert_string_equal(json_string_value(json_object_get(json_object_get(p, "ctx"), "sub")), "U9");
	json_decref(p);
	json_decref(j);
	free(t);
	t = mint(json_pack("{s:s, s:s, s:s}", "sub", "U9", "iss", iss, "aud", "https://other.example/mcp"));
	j = sts_exchange(&E, t, E.sa_id, &st);
	assert_int_equal(st, 401);
	assert_non_null(strstr(assert_skyflow_error(j, 401), "audience"));
	json_decref(j);
	free(t);
	t = mint(json_pack("{s:s, s:s}", "sub", "U9", "iss", iss));
	j = sts_exchange(&E, t, E.sa_id, &st);
	assert_int_equal(st, 401);
	json_decref(j);
	free(t);
}

static void bearer_expires_with_clock(void **state)
{
	long st;
	char *tok = sts_token_for(&E, "Admin", NULL);
	char path[256];
	assert_non_null(tok);
	snprintf(path, sizeof(path), "%s/persons?limit=1", E.vault_path);
	json_t *j = http_json(&E, "GET", path, tok, NULL, &st);
	assert_int_equal(st, 200);
	json_decref(j);
	json_t *c = json_pack("{s:i}", "offset_s", 7200);
	j = http_json(&E, "POST", "/emulator/clock", NULL, c, &st);
	assert_int_equal(st, 200);
	json_decref(j);
	j = http_json(&E, "GET", path, tok, NULL, &st);
	assert_int_equal(st, 401);
	assert_non_null(strstr(assert_skyflow_error(j, 401), "expired"));
	json_decref(j);
	json_object_set_new(c, "offset_s", json_integer(0));
	j = http_json(&E, "POST", "/emulator/clock", NULL, c, &st);
	json_decref(j);
	json_decref(c);
	free(tok);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(credentials_file),
		cmocka_unit_test(sa_token_ok_with_ctx_roles),
		cmocka_unit_test(sa_token_scope),
		cmocka_unit_test(sa_token_bad_assertions),
		cmocka_unit_test(sts_ok_json_and_form),
		cmocka_unit_test(sts_token_lifetime),
		cmocka_unit_test(sts_bad_subjects),
		cmocka_unit_test(sts_audience),
		cmocka_unit_test(bearer_expires_with_clock),
	};
	return cmocka_run_group_tests_name("emulator_auth", tests, setup, teardown);
}
