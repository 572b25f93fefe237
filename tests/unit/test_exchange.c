/* SPDX-License-Identifier: MIT */
/* Exchange (sts and ctx) against a loopback token endpoint: bodies, expiry, error mapping. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "tokens/exchange.h"
#include "util/log.h"
#include "util/jsonalloc.h"
#include "testhttp.h"
#include "testjwt.h"

#define PROJECT "P2proj"

static sd_event *event;
static struct upstream *up;
static struct th_server *srv;
static EVP_PKEY *descope_key, *sa_key, *sky_key;
static struct jwks *keys;
static struct identity *idv;
static struct credentials *creds;
static int64_t now;

static struct th_reply script[4];
static char sky_token[4096];
static char last_request[64 * 1024];

static void handler(struct th_server *s, unsigned n, const char *method, const char *path,
		    const char *body, struct th_reply *reply)
{
	snprintf(last_request, sizeof(last_request), "%s", body);
	if (n <= 4 && (script[n - 1].status || script[n - 1].action != TH_RESPOND))
		*reply = script[n - 1];
}

static const char *const claims_names[] = { "roles", "sub" };

static int setup(void **state)
{
	struct identity_config icfg = { .project_id = PROJECT, .context_claims = claims_names,
					.n_context_claims = 2 };
	char *text, *pem, *doc;
	jsonalloc_init(); /* as the daemon does */

	log_set_max_level(LOG_CRIT);
	now = (int64_t)time(NULL);
	assert_int_equal(sd_event_new(&event), 0);
	assert_int_equal(upstream_new(event, &up), 0);
	srv = th_start(event, handler, NULL);
	descope_key = tj_rsa(2048);
	sa_key = tj_rsa(2048);
	sky_key = tj_rsa(2048);
	text = tj_jwks_text(tj_jwk(descope_key, "SK1", NULL, NULL), NULL);
	assert_int_equal(jwks_parse(text, strlen(text), &keys, NULL), 0);
	free(text);
	assert_int_equal(identity_new(&icfg, &idv), 0);
	pem = tj_private_pem(sa_key, 0);
	{
		json_t *j = json_pack("{s:s, s:s, s:s, s:s}", "clientID", "cid", "keyID", "kid1",
				      "tokenURI", "https://manage.example/v1/auth/sa/oauth/token",
				      "privateKey", pem);

		doc = json_dumps(j, 0);
		json_decref(j);
	}
	assert_int_equal(credentials_parse(doc, strlen(doc), &creds, NULL), 0);
	free(doc);
	free(pem);
	return 0;
}

static int teardown(void **state)
{
	credentials_free(creds);
	identity_free(idv);
	jwks_unref(keys);
	EVP_PKEY_free(descope_key);
	EVP_PKEY_free(sa_key);
	EVP_PKEY_free(sky_key);
	upstream_free(up);
	th_stop(srv);
	sd_event_unref(event);
	return 0;
}

/* A subject token expiring in `life` seconds, validated into *claims. */
static char *subject(int64_t life, struct identity_claims **claims)
{
	char p[512], *t;
	struct error_detail err;

	snprintf(p, sizeof(p),
		 "{\"iss\":\"%s\",\"sub\":\"U2viewer\",\"exp\":%lld,\"roles\":[\"Viewer\"],\"email\":\"v@x\"}",
		 PROJECT, (long long)(now + life));
	t = tj_mint(descope_key, "{\"alg\":\"RS256\",\"kid\":\"SK1\",\"typ\":\"JWT\"}", p);
	assert_int_equal(identity_validate(idv, keys, t, strlen(t), now, claims, &err, NULL), 0);
	return t;
}

/* A Skyflow-like token expiring in `life` seconds carrying ctx. */
static const char *make_sky_token(int64_t life)
{
	char p[512], *t;

	snprintf(p, sizeof(p),
		 "{\"iss\":\"sky\",\"exp\":%lld,\"ctx\":{\"roles\":[\"Viewer\"],\"sub\":\"U2viewer\"}}",
		 (long long)(now + life));
	t = tj_mint(sky_key, "{\"alg\":\"RS256\",\"typ\":\"JWT\"}", p);
	snprintf(sky_token, sizeof(sky_token), "%s", t);
	free(t);
	return sky_token;
}

struct outcome {
	int done;
	int r;
	struct skyflow_token *tok;
	struct error_detail err;
};

static void on_done(struct exchange_request *x, int r, struct skyflow_token *tok,
		    const struct error_detail *err, void *userdata)
{
	struct outcome *o = userdata;

	o->done++;
	o->r = r;
	if (tok)
		o->tok = skyflow_token_ref(tok);
	if (err)
		o->err = *err;
}

static void run(enum exchange_mode mode, int64_t subject_life, struct outcome *o)
{
	struct exchange_config cfg = {
		.mode = mode,
		.service_account_id = "sa-123",
		.creds = creds,
		.http = { .insecure_http = true, .total_timeout_ms = 1000, .retry_base_ms = 10 },
		.tenant = "t1",
	};
	struct identity_claims *claims = NULL;
	char url[128], *t = subject(subject_life, &claims);

	snprintf(url, sizeof(url), "http://127.0.0.1:%d/v1/auth/%s", srv->port,
		 mode == EXCHANGE_STS ? "sts/token" : "sa/oauth/token");
	if (mode == EXCHANGE_STS)
		cfg.sts_url = url;
	else
		cfg.token_url = url;
	memset(o, 0, sizeof(*o));
	srv->requests = 0;
	assert_int_equal(exchange_start(up, &cfg, t, strlen(t), claims, now, on_done, o, NULL), 0);
	identity_claims_unref(claims); /* the exchange holds its own reference */
	assert_true(th_run_until(event, &o->done, 5000));
	assert_int_equal(o->done, 1);
	/* The subject token went only where it should. */
	if (mode == EXCHANGE_CTX)
		assert_null(strstr(last_request, t));
	free(t);
}

static void reply_json(int i, int status, const char *body)
{
	script[i] = (struct th_reply){ .status = status, .body = body, .request_id = "rid-1" };
}

static void test_sts_request_and_expiry(void **state)
{
	char body[8192];
	struct outcome o;
	json_t *req;

	memset(script, 0, sizeof(script));
	snprintf(body, sizeof(body),
		 "{\"accessToken\":\"%s\",\"issuedTokenType\":\"urn:ietf:params:oauth:token-type:jwt\","
		 "\"tokenType\":\"Bearer\"}",
		 make_sky_token(3600));
	reply_json(0, 200, body);
	run(EXCHANGE_STS, 600, &o);
	assert_int_equal(o.r, 0);
	assert_string_equal(o.tok->access_token, sky_token);
	assert_string_equal(o.tok->token_type, "Bearer");
	assert_string_equal(o.tok->issued_token_type, "urn:ietf:params:oauth:token-type:jwt");
	/* Capped by the subject's exp (600 s), not the token's (3600 s). */
	assert_int_equal(o.tok->expires_at, now + 600);
	assert_string_equal(o.tok->request_id, "rid-1");
	assert_string_equal(o.tok->context_json, "{\"roles\":[\"Viewer\"],\"sub\":\"U2viewer\"}");
	skyflow_token_unref(o.tok);

	req = json_loads(last_request, 0, NULL);
	assert_non_null(req);
	assert_string_equal(json_string_value(json_object_get(req, "grant_type")),
			    "urn:ietf:params:oauth:grant-type:token-exchange");
	assert_string_equal(json_string_value(json_object_get(req, "subject_token_type")),
			    "urn:ietf:params:oauth:token-type:jwt");
	assert_string_equal(json_string_value(json_object_get(req, "service_account_id")), "sa-123");
	assert_non_null(json_string_value(json_object_get(req, "subject_token")));
	json_decref(req);

	/* The token's own exp when it is earlier. */
	snprintf(body, sizeof(body), "{\"accessToken\":\"%s\",\"tokenType\":\"Bearer\"}",
		 make_sky_token(120));
	reply_json(0, 200, body);
	run(EXCHANGE_STS, 600, &o);
	assert_int_equal(o.r, 0);
	assert_int_equal(o.tok->expires_at, now + 120);
	skyflow_token_unref(o.tok);

	/* An opaque token: 300 s fallback. */
	reply_json(0, 200, "{\"accessToken\":\"opaque\",\"tokenType\":\"Bearer\"}");
	run(EXCHANGE_STS, 3600, &o);
	assert_int_equal(o.r, 0);
	assert_int_equal(o.tok->expires_at, now + 300);
	assert_string_equal(o.tok->issued_token_type, EXCHANGE_TOKEN_TYPE_ACCESS);
	skyflow_token_unref(o.tok);
}

static void test_ctx_assertion(void **state)
{
	char body[8192];
	struct outcome o;
	json_t *req, *claims;
	const char *assertion, *d1, *d2;
	uint8_t *p = NULL, *sig = NULL;
	size_t pl, sl;
	EVP_MD_CTX *md;

	memset(script, 0, sizeof(script));
	snprintf(body, sizeof(body), "{\"accessToken\":\"%s\",\"tokenType\":\"Bearer\"}",
		 make_sky_token(3600));
	reply_json(0, 200, body);
	run(EXCHANGE_CTX, 7200, &o);
	assert_int_equal(o.r, 0);
	assert_int_equal(o.tok->expires_at, now + 3600);
	assert_string_equal(o.tok->issued_token_type, EXCHANGE_TOKEN_TYPE_JWT);
	skyflow_token_unref(o.tok);

	req = json_loads(last_request, 0, NULL);
	assert_string_equal(json_string_value(json_object_get(req, "grant_type")),
			    "urn:ietf:params:oauth:grant-type:jwt-bearer");
	assertion = json_string_value(json_object_get(req, "assertion"));
	assert_non_null(assertion);
	d1 = strchr(assertion, '.');
	d2 = strchr(d1 + 1, '.');
	assert_int_equal(b64url_decode_alloc(d1 + 1, (size_t)(d2 - d1 - 1), &p, &pl), 0);
	claims = json_loads((char *)p, 0, NULL);
	assert_string_equal(json_string_value(json_object_get(claims, "iss")), "cid");
	assert_string_equal(json_string_value(json_object_get(claims, "sub")), "cid");
	assert_string_equal(json_string_value(json_object_get(claims, "key")), "kid1");
	assert_string_equal(json_string_value(json_object_get(claims, "aud")),
			    "https://manage.example/v1/auth/sa/oauth/token");
	assert_int_equal(json_integer_value(json_object_get(claims, "exp")), now + 3600);
	assert_string_equal(json_string_value(json_array_get(
		json_object_get(json_object_get(claims, "ctx"), "roles"), 0)), "Viewer");
	assert_string_equal(json_string_value(json_object_get(json_object_get(claims, "ctx"), "sub")),
			    "U2viewer");
	assert_null(json_object_get(json_object_get(claims, "ctx"), "email")); /* not configured */
	/* The signature verifies with the service account's public key. */
	assert_int_equal(b64url_decode_alloc(d2 + 1, strlen(d2 + 1), &sig, &sl), 0);
	md = EVP_MD_CTX_new();
	assert_int_equal(EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, sa_key), 1);
	assert_int_equal(EVP_DigestVerify(md, sig, sl, (const unsigned char *)assertion,
					  (size_t)(d2 - assertion)), 1);
	EVP_MD_CTX_free(md);
	free(sig);
	free(p);
	json_decref(claims);
	json_decref(req);
}

static void test_error_mapping(void **state)
{
	struct outcome o;

	memset(script, 0, sizeof(script));
	reply_json(0, 401, "{\"error\":{\"grpc_code\":16,\"http_code\":401,\"http_status\":"
			   "\"Unauthorized\",\"message\":\"Invalid subject token\",\"details\":[]}}");
	run(EXCHANGE_STS, 600, &o);
	assert_int_equal(o.r, -EPERM);
	assert_int_equal(o.err.upstream_status, 401);
	assert_string_equal(o.err.request_id, "rid-1");
	assert_non_null(strstr(o.err.message, "Invalid subject token"));
	assert_int_equal(srv->requests, 1);

	reply_json(0, 403, "{\"error\":\"access_denied\",\"error_description\":\"no STS config\"}");
	run(EXCHANGE_STS, 600, &o);
	assert_int_equal(o.r, -EPERM);
	assert_non_null(strstr(o.err.message, "no STS config"));

	reply_json(0, 400, "{\"error\":\"invalid_request\"}");
	run(EXCHANGE_STS, 600, &o);
	assert_int_equal(o.r, -EPERM);
	assert_non_null(strstr(o.err.message, "invalid_request"));

	reply_json(0, 429, "{\"code\":8,\"message\":\"Too Many Requests\"}");
	run(EXCHANGE_STS, 600, &o);
	assert_int_equal(o.r, -EUSERS);
	assert_int_equal(srv->requests, 1); /* 429 is not retried here */

	reply_json(0, 500, "Internal Server Error");
	reply_json(1, 500, "Internal Server Error");
	run(EXCHANGE_CTX, 600, &o);
	assert_int_equal(o.r, -EIO);
	assert_int_equal(srv->requests, 2); /* one retry */
	assert_non_null(strstr(o.err.message, "HTTP 500"));
	memset(script, 0, sizeof(script));

	reply_json(0, 200, "{\"accessToken\":");
	run(EXCHANGE_STS, 600, &o);
	assert_int_equal(o.r, -EIO);
	assert_non_null(strstr(o.err.message, "malformed"));

	reply_json(0, 200, "{\"tokenType\":\"Bearer\"}");
	run(EXCHANGE_STS, 600, &o);
	assert_int_equal(o.r, -EIO);

	script[0] = (struct th_reply){ .action = TH_HANG };
	run(EXCHANGE_STS, 600, &o);
	assert_int_equal(o.r, -ETIMEDOUT);

	script[0] = (struct th_reply){ .action = TH_DROP };
	script[1] = (struct th_reply){ .action = TH_DROP };
	run(EXCHANGE_STS, 600, &o);
	assert_int_equal(o.r, -EIO);
	assert_int_equal(srv->requests, 2);
	memset(script, 0, sizeof(script));
}

static void test_error_message_shapes(void **state)
{
	char out[200];
	char tokeny[400];

#define MSG(text) exchange_error_message(text, strlen(text), out, sizeof(out))
	MSG("{\"error\":{\"message\":\"m1\"}}");
	assert_string_equal(out, "m1");
	MSG("{\"error\":\"e\",\"error_description\":\"d\"}");
	assert_string_equal(out, "d");
	MSG("{\"error\":\"only\"}");
	assert_string_equal(out, "only");
	MSG("{\"code\":13,\"message\":\"rpc\"}");
	assert_string_equal(out, "rpc");
	/* A body that is not JSON (a proxy's page) is never passed on. */
	MSG("plain\ntext\x01");
	assert_string_equal(out, "");
	MSG("<html><body>502 Bad Gateway at 10.0.0.7</body></html>");
	assert_string_equal(out, "");
	MSG("{\"message\":\"ctl\\u0001\\nchars\"}");
	assert_string_equal(out, "ctl  chars");
	MSG("{}");
	assert_string_equal(out, "");
	snprintf(tokeny, sizeof(tokeny),
		 "{\"error\":{\"message\":\"bad token eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJVMiJ9.c2lnbmF0dXJlc2lnbmF0dXJl here\"}}");
	exchange_error_message(tokeny, strlen(tokeny), out, sizeof(out));
	assert_string_equal(out, "bad token [redacted] here");
	{
		/* A token cut by the bound of out is still not passed on in part. */
		char small[40];

		snprintf(tokeny, sizeof(tokeny),
			 "{\"message\":\"denied for eyJhbGciOiJSUzI1NiJ9eyJzdWIiOiJVMiJ9c2lnbmF0dXJl\"}");
		exchange_error_message(tokeny, strlen(tokeny), small, sizeof(small));
		assert_null(strstr(small, "eyJ"));
		assert_string_equal(small, "denied for [redacted]");
		exchange_error_message(tokeny, strlen(tokeny), small, 20);
		assert_string_equal(small, "denied for ");
		exchange_error_message(tokeny, strlen(tokeny), small, 16);
		assert_string_equal(small, "denied for ");
	}
}

static void test_mapping_table(void **state)
{
	assert_int_equal(exchange_errno_from_status(200), 0);
	assert_int_equal(exchange_errno_from_status(401), -EPERM);
	assert_int_equal(exchange_errno_from_status(403), -EPERM);
	assert_int_equal(exchange_errno_from_status(404), -EPERM);
	assert_int_equal(exchange_errno_from_status(408), -ETIMEDOUT);
	assert_int_equal(exchange_errno_from_status(429), -EUSERS);
	assert_int_equal(exchange_errno_from_status(500), -EIO);
	assert_int_equal(exchange_errno_from_status(503), -EIO);
	assert_int_equal(exchange_errno_from_status(302), -EIO);
}

static void test_cancel(void **state)
{
	struct exchange_config cfg = { .mode = EXCHANGE_STS, .http = { .insecure_http = true } };
	struct identity_claims *claims = NULL;
	struct exchange_request *x = NULL;
	struct outcome o = { 0 };
	char url[128], *t = subject(600, &claims);
	int never = 0;

	script[0] = (struct th_reply){ .action = TH_HANG };
	srv->requests = 0;
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/sts", srv->port);
	cfg.sts_url = url;
	assert_int_equal(exchange_start(up, &cfg, t, strlen(t), claims, now, on_done, &o, &x), 0);
	th_run_until(event, &never, 100);
	exchange_cancel(x);
	th_run_until(event, &never, 200);
	assert_int_equal(o.done, 0);
	identity_claims_unref(claims);
	free(t);
	memset(script, 0, sizeof(script));
	/* https only unless allowed. */
	cfg.http.insecure_http = false;
	t = subject(600, &claims);
	assert_int_equal(exchange_start(up, &cfg, t, strlen(t), claims, now, on_done, &o, &x),
			 -EPROTONOSUPPORT);
	identity_claims_unref(claims);
	free(t);
}

/* ctx mode never sends an assertion without user context: an empty context is refused before
 * any request, and the validated sub is always in ctx (test_ctx_assertion checks it there). */
static void test_ctx_empty_refused(void **state)
{
	struct exchange_config cfg = { .mode = EXCHANGE_CTX, .creds = creds,
				       .http = { .insecure_http = true } };
	struct identity_claims *claims = NULL;
	struct exchange_request *x = NULL;
	struct outcome o = { 0 };
	char url[128], *t = subject(600, &claims);

	snprintf(url, sizeof(url), "http://127.0.0.1:%d/v1/auth/sa/oauth/token", srv->port);
	cfg.token_url = url;
	/* The validated claims of a token with none of the context claims (a copy: identity
	 * shares its verified claims). */
	{
		struct identity_claims *c = calloc(1, sizeof(*c));

		assert_non_null(c);
		*c = *claims;
		c->n_ref = 1;
		c->sub = strdup(claims->sub);
		c->context = json_object();
		identity_claims_unref(claims);
		claims = c;
	}
	srv->requests = 0;
	assert_int_equal(exchange_start(up, &cfg, t, strlen(t), claims, now, on_done, &o, &x),
			 -EACCES);
	assert_null(x);
	assert_int_equal(o.done, 0);
	assert_int_equal(srv->requests, 0);
	identity_claims_unref(claims);
	free(t);
}

/* The ctx-mode refusal names the configured claims, and a small buffer truncates it safely. */
static void test_ctx_missing_message(void **state)
{
	const char *claims[] = { "roles", "sub" };
	char buf[256], tiny[8];

	(void)state;
	exchange_ctx_missing_message(buf, sizeof(buf), claims, 2);
	assert_string_equal(buf, "token has none of the configured context claims (roles, sub); "
				 "exchange = ctx does not mint a token without user context");
	exchange_ctx_missing_message(tiny, sizeof(tiny), claims, 2);
	assert_string_equal(tiny, "token h");
	exchange_ctx_missing_message(buf, sizeof(buf), NULL, 0);
	assert_non_null(strstr(buf, "claims (); exchange = ctx"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sts_request_and_expiry),
		cmocka_unit_test(test_ctx_empty_refused),
		cmocka_unit_test(test_ctx_assertion),
		cmocka_unit_test(test_error_mapping),
		cmocka_unit_test(test_error_message_shapes),
		cmocka_unit_test(test_mapping_table),
		cmocka_unit_test(test_cancel),
		cmocka_unit_test(test_ctx_missing_message),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
