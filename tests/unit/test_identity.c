/* SPDX-License-Identifier: MIT */
/* Subject-token validation: every rejection the issue lists, on tokens minted here. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tokens/identity.h"
#include "util/log.h"
#include "util/jsonalloc.h"
#include "testjwt.h"

#define PROJECT "P2abcdefghijklmnopqrstuvwxyz"
#define NOW 1800000000LL

static EVP_PKEY *rsa_key, *ec_key, *other_key;
static struct jwks *keys;
static struct identity *id;

static const char *const context_claims[] = { "roles", "sub" };

static int new_identity(const char *const *aud, size_t n_aud, bool at_jwt)
{
	struct identity_config cfg = {
		.project_id = PROJECT,
		.audiences = aud,
		.n_audiences = n_aud,
		.context_claims = context_claims,
		.n_context_claims = 2,
		.allow_at_jwt = at_jwt,
	};

	identity_free(id);
	id = NULL;
	return identity_new(&cfg, &id);
}

static int setup(void **state)
{
	char *text;

	jsonalloc_init(); /* as the daemon does */
	log_set_max_level(LOG_WARNING);
	rsa_key = tj_rsa(2048);
	ec_key = tj_ec();
	other_key = tj_rsa(2048);
	text = tj_jwks_text(tj_jwk(rsa_key, "SKrsa", "RS256", "sig"),
			    tj_jwk(ec_key, "SKec", "ES256", "sig"), NULL);
	assert_int_equal(jwks_parse(text, strlen(text), &keys, NULL), 0);
	free(text);
	assert_int_equal(new_identity(NULL, 0, false), 0);
	return 0;
}

static int teardown(void **state)
{
	identity_free(id);
	jwks_unref(keys);
	EVP_PKEY_free(rsa_key);
	EVP_PKEY_free(ec_key);
	EVP_PKEY_free(other_key);
	return 0;
}

/* A payload of the default Descope session shape with overrides (NULL: default). */
static char *payload(const char *iss, const char *extra)
{
	char *out = malloc(2048);

	snprintf(out, 2048,
		 "{\"iss\":\"%s\",\"sub\":\"U2user\",\"exp\":%lld,\"iat\":%lld,\"drn\":\"DS\","
		 "\"roles\":[\"Viewer\"]%s%s}",
		 iss ? iss : PROJECT, NOW + 600, NOW - 10, extra ? "," : "", extra ? extra : "");
	return out;
}

/* The kid of the last -ENOKEY that check() saw. */
static char unknown_kid[JWKS_MAX_KID + 1];

static int check(const char *token, int64_t now, struct error_detail *err)
{
	struct identity_claims *c = NULL;
	int r = identity_validate(id, keys, token, strlen(token), now, &c, err, unknown_kid);

	if (r == 0) {
		assert_non_null(c);
		identity_claims_unref(c);
	} else {
		assert_null(c);
		assert_int_equal(err->r, r);
		assert_true(err->message[0] != '\0');
	}
	return r;
}

static int check_signed(EVP_PKEY *k, const char *header, const char *iss, const char *extra,
			struct error_detail *err)
{
	char *p = payload(iss, extra);
	char *t = tj_mint(k, header, p);
	int r = check(t, NOW, err);

	free(p);
	free(t);
	return r;
}

#define RS_HEADER "{\"alg\":\"RS256\",\"kid\":\"SKrsa\",\"typ\":\"JWT\"}"
#define ES_HEADER "{\"alg\":\"ES256\",\"kid\":\"SKec\",\"typ\":\"JWT\"}"

static void test_valid_rs256_and_es256(void **state)
{
	struct error_detail err;
	struct identity_claims *c = NULL;
	char *p = payload(NULL, NULL), *t = tj_mint(rsa_key, RS_HEADER, p);
	char *ctx;

	assert_int_equal(identity_validate(id, keys, t, strlen(t), NOW, &c, &err, NULL), 0);
	assert_string_equal(c->sub, "U2user");
	assert_int_equal(c->exp, NOW + 600);
	assert_string_equal(c->kid, "SKrsa");
	ctx = json_dumps(c->context, JSON_COMPACT | JSON_SORT_KEYS);
	assert_string_equal(ctx, "{\"roles\":[\"Viewer\"],\"sub\":\"U2user\"}");
	free(ctx);
	identity_claims_unref(c);
	free(t);

	t = tj_mint(ec_key, ES_HEADER, p);
	assert_int_equal(check(t, NOW, &err), 0);
	free(t);
	/* No typ at all is fine too. */
	assert_int_equal(check_signed(rsa_key, "{\"alg\":\"RS256\",\"kid\":\"SKrsa\"}", NULL, NULL,
				      &err), 0);
	free(p);
}

static void test_alg_none(void **state)
{
	struct error_detail err;
	char *p = payload(NULL, NULL);
	char *t = tj_mint(NULL, "{\"alg\":\"none\",\"kid\":\"SKrsa\"}", p);
	char *unsigned_token;

	assert_int_equal(check(t, NOW, &err), -EKEYREJECTED);
	assert_non_null(strstr(err.message, "alg"));
	/* The classic form with an empty signature segment. */
	unsigned_token = strdup(t);
	strrchr(unsigned_token, '.')[1] = '\0';
	assert_int_equal(check(unsigned_token, NOW, &err), -EKEYREJECTED);
	assert_non_null(strstr(err.message, "empty segment"));
	free(unsigned_token);
	free(t);
	free(p);
}

static void test_hs256_with_public_key_as_secret(void **state)
{
	struct error_detail err;
	size_t pem_len;
	char *pem = tj_public_pem(rsa_key, &pem_len);
	char *p = payload(NULL, NULL);
	char *t = tj_mint_hs256(pem, pem_len, "{\"alg\":\"HS256\",\"kid\":\"SKrsa\",\"typ\":\"JWT\"}", p);

	assert_int_equal(check(t, NOW, &err), -EKEYREJECTED);
	assert_non_null(strstr(err.message, "alg 'HS256' is not allowed"));
	free(t);
	free(p);
	free(pem);
}

static void test_alg_case_and_mismatch(void **state)
{
	struct error_detail err;

	assert_int_equal(check_signed(rsa_key, "{\"alg\":\"rs256\",\"kid\":\"SKrsa\"}", NULL, NULL,
				      &err), -EKEYREJECTED);
	assert_non_null(strstr(err.message, "not allowed"));
	assert_int_equal(check_signed(rsa_key, "{\"alg\":\"RS512\",\"kid\":\"SKrsa\"}", NULL, NULL,
				      &err), -EKEYREJECTED);
	/* An ES256 header naming the RSA key: the key is bound to RS256 only. */
	assert_int_equal(check_signed(ec_key, "{\"alg\":\"ES256\",\"kid\":\"SKrsa\"}", NULL, NULL,
				      &err), -EKEYREJECTED);
	assert_non_null(strstr(err.message, "does not match key"));
	/* alg missing, or not a string. */
	assert_int_equal(check_signed(rsa_key, "{\"kid\":\"SKrsa\"}", NULL, NULL, &err),
			 -EKEYREJECTED);
	assert_int_equal(check_signed(rsa_key, "{\"alg\":256,\"kid\":\"SKrsa\"}", NULL, NULL, &err),
			 -EKEYREJECTED);
	/* A duplicated alg must not be read two ways. */
	assert_int_equal(check_signed(rsa_key, "{\"alg\":\"RS256\",\"alg\":\"none\",\"kid\":\"SKrsa\"}",
				      NULL, NULL, &err), -EKEYREJECTED);
}

static void test_typ_and_crit(void **state)
{
	struct error_detail err;
	const char *at = "{\"alg\":\"RS256\",\"kid\":\"SKrsa\",\"typ\":\"at+jwt\"}";

	assert_int_equal(check_signed(rsa_key, at, NULL, NULL, &err), -EKEYREJECTED);
	assert_non_null(strstr(err.message, "typ"));
	assert_int_equal(new_identity(NULL, 0, true), 0);
	assert_int_equal(check_signed(rsa_key, at, NULL, NULL, &err), 0);
	assert_int_equal(new_identity(NULL, 0, false), 0);
	assert_int_equal(check_signed(rsa_key, "{\"alg\":\"RS256\",\"kid\":\"SKrsa\",\"typ\":\"JOSE+JSON\"}",
				      NULL, NULL, &err), -EKEYREJECTED);
	assert_int_equal(check_signed(rsa_key,
				      "{\"alg\":\"RS256\",\"kid\":\"SKrsa\",\"crit\":[\"exp\"]}",
				      NULL, NULL, &err), -EKEYREJECTED);
	assert_non_null(strstr(err.message, "crit"));
}

static void test_unknown_kid(void **state)
{
	struct error_detail err;
	struct identity_claims *c = NULL;
	char *p = payload(NULL, NULL);
	char *t = tj_mint(other_key, "{\"alg\":\"RS256\",\"kid\":\"SKnew\"}", p);

	assert_int_equal(check(t, NOW, &err), -ENOKEY);
	assert_string_equal(unknown_kid, "SKnew");
	/* No key set at all yet. */
	assert_int_equal(identity_validate(id, NULL, t, strlen(t), NOW, &c, &err, NULL), -EAGAIN);
	/* No kid. */
	assert_int_equal(check_signed(rsa_key, "{\"alg\":\"RS256\"}", NULL, NULL, &err),
			 -EKEYREJECTED);
	assert_non_null(strstr(err.message, "kid"));
	free(t);
	free(p);
}

static void test_bad_signature(void **state)
{
	struct error_detail err;
	char *p = payload(NULL, NULL);
	char *t = tj_mint(rsa_key, RS_HEADER, p);
	char *last = strrchr(t, '.') + 10;

	/* Signed by another key under the right kid. */
	assert_int_equal(check_signed(other_key, RS_HEADER, NULL, NULL, &err), -EKEYREJECTED);
	assert_non_null(strstr(err.message, "signature"));
	/* One signature character changed. */
	*last = *last == 'A' ? 'B' : 'A';
	assert_int_equal(check(t, NOW, &err), -EKEYREJECTED);
	free(t);
	/* ES256 signature of the wrong length. */
	t = tj_mint(ec_key, ES_HEADER, p);
	strrchr(t, '.')[5] = '\0';
	assert_int_equal(check(t, NOW, &err), -EKEYREJECTED);
	free(t);
	/* Payload changed after signing (sub swapped). */
	t = tj_mint(rsa_key, RS_HEADER, p);
	{
		char *p2 = payload(NULL, "\"admin\":true"), *t2 = tj_mint(rsa_key, RS_HEADER, p2);
		char *d1 = strchr(t, '.'), *d1b = strchr(t2, '.');
		char *d2b = strchr(d1b + 1, '.'), *d2 = strchr(d1 + 1, '.');
		char forged[8192];

		snprintf(forged, sizeof(forged), "%.*s%.*s%s", (int)(d1 - t), t,
			 (int)(d2b - d1b), d1b, d2);
		assert_int_equal(check(forged, NOW, &err), -EKEYREJECTED);
		assert_non_null(strstr(err.message, "signature"));
		free(p2);
		free(t2);
	}
	free(t);
	free(p);
}

static void test_issuer_family(void **state)
{
	static const char *const good[] = {
		PROJECT,
		"https://api.descope.com/" PROJECT,
		"https://api.descope.com/v1/apps/" PROJECT,
		"https://api.descope.com/v1/apps/agentic/" PROJECT "/MS2server",
	};
	static const char *const bad[] = {
		"P2other",
		"P2abcdefghijklmnopqrstuvwxy",   /* prefix of the project */
		PROJECT "z",                      /* the project is a prefix of it */
		"https://api.descope.com/P2abcdefghijklmnopqrstuvwxy",
		"https://api.descope.com/" PROJECT "z",
		"https://api.descope.com.evil/" PROJECT,
		"https://api.descope.com.evil.example/v1/apps/" PROJECT,
		"http://api.descope.com/" PROJECT,
		"https://api.descope.com/" PROJECT "/",
		"https://api.descope.com/v1/apps/" PROJECT "/T2tenant/extra",
		"https://api.descope.com/v1/apps/agentic/" PROJECT,
		"https://api.descope.com/v1/apps/agentic/" PROJECT "/",
		"https://api.descope.com/v1/apps/agentic/" PROJECT "/MS2/x",
		"https://api.descope.com/v1/apps/agentic/P2abcdefghijklmnopqrstuvwxy/MS2",
		"https://api.descope.com/v1/apps/customized/" PROJECT,
		"https://evil.example/" PROJECT,
		"https://api.descope.com//" PROJECT,
		"",
	};
	struct error_detail err;

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		if (check_signed(rsa_key, RS_HEADER, good[i], NULL, &err) != 0)
			fail_msg("good issuer #%zu refused: %s", i, err.message);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (check_signed(rsa_key, RS_HEADER, bad[i], NULL, &err) != -EKEYREJECTED)
			fail_msg("bad issuer #%zu accepted", i);
		assert_non_null(strstr(err.message, "iss"));
	}
}

static void test_config_checks(void **state)
{
	static const char *const bad_claim[] = { "roles", "request.context" };
	static const char *const empty_claim[] = { "" };
	struct identity_config cfg = { .project_id = PROJECT };
	struct identity *x = NULL;

	cfg.context_claims = bad_claim;
	cfg.n_context_claims = 2;
	assert_int_equal(identity_new(&cfg, &x), -EINVAL);
	cfg.context_claims = empty_claim;
	cfg.n_context_claims = 1;
	assert_int_equal(identity_new(&cfg, &x), -EINVAL);
	cfg.n_context_claims = 0;
	cfg.project_id = "P2/evil";
	assert_int_equal(identity_new(&cfg, &x), -EINVAL);
	cfg.project_id = "";
	assert_int_equal(identity_new(&cfg, &x), -EINVAL);
	assert_null(x);
}

static void test_issuer_custom_base_and_exact(void **state)
{
	struct identity_config cfg = { .project_id = PROJECT, .base_url = "https://auth.example.com/" };
	struct error_detail err;
	struct identity *saved = id;

	assert_int_equal(identity_new(&cfg, &id), 0);
	assert_int_equal(check_signed(rsa_key, RS_HEADER, "https://auth.example.com/" PROJECT, NULL,
				      &err), 0);
	assert_int_equal(check_signed(rsa_key, RS_HEADER, "https://api.descope.com/" PROJECT, NULL,
				      &err), -EKEYREJECTED);
	identity_free(id);
	cfg.issuer = "https://issuer.example/" PROJECT;
	assert_int_equal(identity_new(&cfg, &id), 0);
	assert_int_equal(check_signed(rsa_key, RS_HEADER, cfg.issuer, NULL, &err), 0);
	assert_int_equal(check_signed(rsa_key, RS_HEADER, PROJECT, NULL, &err), -EKEYREJECTED);
	identity_free(id);
	id = saved;
}

static void test_audience(void **state)
{
	static const char *const aud[] = { "https://mcp.example.com/mcp", PROJECT };
	struct error_detail err;

	/* Without configured audiences aud is not checked. */
	assert_int_equal(check_signed(rsa_key, RS_HEADER, NULL, "\"aud\":\"anything\"", &err), 0);
	assert_int_equal(new_identity(aud, 2, false), 0);
	assert_int_equal(check_signed(rsa_key, RS_HEADER, NULL,
				      "\"aud\":\"https://mcp.example.com/mcp\"", &err), 0);
	assert_int_equal(check_signed(rsa_key, RS_HEADER, NULL,
				      "\"aud\":[\"x\",\"" PROJECT "\"]", &err), 0);
	assert_int_equal(check_signed(rsa_key, RS_HEADER, NULL,
				      "\"aud\":\"https://mcp.example.com/mcp/\"", &err), -EKEYREJECTED);
	assert_non_null(strstr(err.message, "aud"));
	assert_int_equal(check_signed(rsa_key, RS_HEADER, NULL, "\"aud\":[\"x\",\"y\"]", &err),
			 -EKEYREJECTED);
	assert_int_equal(check_signed(rsa_key, RS_HEADER, NULL, "\"aud\":[]", &err), -EKEYREJECTED);
	assert_int_equal(check_signed(rsa_key, RS_HEADER, NULL, "\"aud\":7", &err), -EKEYREJECTED);
	assert_int_equal(check_signed(rsa_key, RS_HEADER, NULL, NULL, &err), -EKEYREJECTED);
	assert_non_null(strstr(err.message, "no aud"));
	assert_int_equal(new_identity(NULL, 0, false), 0);
}

static int check_times(const char *claims, int64_t now, struct error_detail *err)
{
	char p[1024], *t;
	int r;

	snprintf(p, sizeof(p), "{\"iss\":\"%s\",\"sub\":\"U2\",%s}", PROJECT, claims);
	t = tj_mint(rsa_key, RS_HEADER, p);
	r = check(t, now, err);
	free(t);
	return r;
}

static void test_times(void **state)
{
	struct error_detail err;
	char c[256];

	snprintf(c, sizeof(c), "\"exp\":%lld", NOW - 10);
	assert_int_equal(check_times(c, NOW, &err), -EKEYEXPIRED);
	assert_non_null(strstr(err.message, "expired"));
	snprintf(c, sizeof(c), "\"exp\":%lld", NOW - 3); /* within the 5 s leeway */
	assert_int_equal(check_times(c, NOW, &err), 0);
	snprintf(c, sizeof(c), "\"exp\":%lld", NOW - 5); /* exactly at exp + leeway: expired */
	assert_int_equal(check_times(c, NOW, &err), -EKEYEXPIRED);
	snprintf(c, sizeof(c), "\"exp\":%lld.5", NOW + 100); /* a real number is a NumericDate */
	assert_int_equal(check_times(c, NOW, &err), 0);
	assert_int_equal(check_times("\"iat\":1", NOW, &err), -EKEYREJECTED); /* no exp */
	assert_non_null(strstr(err.message, "no exp"));
	assert_int_equal(check_times("\"exp\":\"1900000000\"", NOW, &err), -EKEYREJECTED);
	snprintf(c, sizeof(c), "\"exp\":%lld,\"nbf\":%lld", NOW + 600, NOW + 60);
	assert_int_equal(check_times(c, NOW, &err), -EKEYEXPIRED);
	assert_non_null(strstr(err.message, "not valid yet"));
	snprintf(c, sizeof(c), "\"exp\":%lld,\"nbf\":%lld", NOW + 600, NOW + 4);
	assert_int_equal(check_times(c, NOW, &err), 0);
	snprintf(c, sizeof(c), "\"exp\":%lld,\"iat\":%lld", NOW + 600, NOW + 60);
	assert_int_equal(check_times(c, NOW, &err), -EKEYEXPIRED);
	assert_non_null(strstr(err.message, "future"));
	snprintf(c, sizeof(c), "\"exp\":%lld,\"nbf\":\"soon\"", NOW + 600);
	assert_int_equal(check_times(c, NOW, &err), -EKEYREJECTED);
	/* extreme dates are refused, not overflowed (UBSan would abort the daemon otherwise) */
	assert_int_equal(check_times("\"exp\":9223372036854775807", NOW, &err), -EKEYREJECTED);
	assert_non_null(strstr(err.message, "exp is not a number"));
	snprintf(c, sizeof(c), "\"exp\":%lld,\"nbf\":-9223372036854775807", NOW + 600);
	assert_int_equal(check_times(c, NOW, &err), -EKEYREJECTED);
	snprintf(c, sizeof(c), "\"exp\":%lld,\"iat\":9223372036854775807", NOW + 600);
	assert_int_equal(check_times(c, NOW, &err), -EKEYREJECTED);
}

static void test_refresh_token_and_sub(void **state)
{
	struct error_detail err;
	char p[512], *t;

	snprintf(p, sizeof(p), "{\"iss\":\"%s\",\"sub\":\"U2\",\"exp\":%lld,\"drn\":\"DSR\"}",
		 PROJECT, NOW + 600);
	t = tj_mint(rsa_key, RS_HEADER, p);
	assert_int_equal(check(t, NOW, &err), -EKEYREJECTED);
	assert_non_null(strstr(err.message, "refresh"));
	free(t);
	snprintf(p, sizeof(p), "{\"iss\":\"%s\",\"exp\":%lld}", PROJECT, NOW + 600);
	t = tj_mint(rsa_key, RS_HEADER, p);
	assert_int_equal(check(t, NOW, &err), -EKEYREJECTED);
	assert_non_null(strstr(err.message, "sub"));
	free(t);
}

static void test_shape(void **state)
{
	struct error_detail err;
	char *p = payload(NULL, NULL), *t = tj_mint(rsa_key, RS_HEADER, p), *s;
	char *big;
	size_t n;

	assert_int_equal(check("abc.def.ghi", NOW, &err), -EKEYREJECTED); /* 3 segments of garbage */
	assert_int_equal(check("a!c.def.ghi", NOW, &err), -EKEYREJECTED);
	assert_non_null(strstr(err.message, "alphabet"));
	assert_int_equal(check("", NOW, &err), -EKEYREJECTED);
	assert_int_equal(check("abc.def", NOW, &err), -EKEYREJECTED);            /* two */
	assert_non_null(strstr(err.message, "three segments"));
	assert_int_equal(check("abc.def.ghi.jkl", NOW, &err), -EKEYREJECTED);    /* four */
	assert_non_null(strstr(err.message, "three segments"));
	assert_int_equal(check("..", NOW, &err), -EKEYREJECTED);
	assert_int_equal(check("abc..ghi", NOW, &err), -EKEYREJECTED);
	/* A valid token with a fourth segment, or padding, or whitespace. */
	n = strlen(t);
	s = malloc(n + 8);
	snprintf(s, n + 8, "%s.AAAA", t);
	assert_int_equal(check(s, NOW, &err), -EKEYREJECTED);
	snprintf(s, n + 8, "%s==", t);
	assert_int_equal(check(s, NOW, &err), -EKEYREJECTED);
	snprintf(s, n + 8, "%s ", t);
	assert_int_equal(check(s, NOW, &err), -EKEYREJECTED);
	free(s);
	/* Embedded NUL. */
	{
		struct identity_claims *c = NULL;
		char *z = strdup(t);

		z[3] = '\0';
		assert_int_equal(identity_validate(id, keys, z, n, NOW, &c, &err, NULL),
				 -EKEYREJECTED);
		free(z);
	}
	/* Oversized: one byte over the cap, and 100 KiB. */
	big = malloc(100 * 1024 + 1);
	memset(big, 'A', 100 * 1024);
	big[100] = '.';
	big[200] = '.';
	big[IDENTITY_DEFAULT_MAX_TOKEN + 1] = '\0';
	assert_int_equal(check(big, NOW, &err), -EMSGSIZE);
	assert_non_null(strstr(err.message, "more than"));
	big[IDENTITY_DEFAULT_MAX_TOKEN + 1] = 'A';
	big[100 * 1024] = '\0';
	assert_int_equal(check(big, NOW, &err), -EMSGSIZE);
	assert_non_null(strstr(err.message, "more than"));
	free(big);
	/* Non-canonical base64url in the header (trailing bits set). */
	assert_int_equal(check("eyJ.e30.c2ln", NOW, &err), -EKEYREJECTED);
	free(t);
	free(p);
}

static void test_invalid_utf8_and_json(void **state)
{
	struct error_detail err;
	char p[512], *t;

	/* Properly signed, but the payload is not UTF-8. */
	snprintf(p, sizeof(p), "{\"iss\":\"%s\",\"sub\":\"U2\xff\xfe\",\"exp\":%lld}", PROJECT,
		 NOW + 600);
	t = tj_mint(rsa_key, RS_HEADER, p);
	assert_int_equal(check(t, NOW, &err), -EKEYREJECTED);
	assert_non_null(strstr(err.message, "UTF-8"));
	free(t);
	/* Overlong encodings and surrogates are not UTF-8 either. */
	snprintf(p, sizeof(p), "{\"iss\":\"%s\",\"sub\":\"U2\xc0\xaf\",\"exp\":%lld}", PROJECT,
		 NOW + 600);
	t = tj_mint(rsa_key, RS_HEADER, p);
	assert_int_equal(check(t, NOW, &err), -EKEYREJECTED);
	assert_string_equal(err.message, "token payload is not valid UTF-8");
	free(t);
	snprintf(p, sizeof(p), "{\"iss\":\"%s\",\"sub\":\"U2\xed\xa0\x80\",\"exp\":%lld}", PROJECT,
		 NOW + 600);
	t = tj_mint(rsa_key, RS_HEADER, p);
	assert_int_equal(check(t, NOW, &err), -EKEYREJECTED);
	free(t);
	/* Valid multi-byte UTF-8 is fine. */
	snprintf(p, sizeof(p), "{\"iss\":\"%s\",\"sub\":\"U2\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\",\"exp\":%lld}",
		 PROJECT, NOW + 600);
	t = tj_mint(rsa_key, RS_HEADER, p);
	assert_int_equal(check(t, NOW, &err), 0);
	free(t);
	/* Invalid UTF-8 in the header. */
	t = tj_mint(rsa_key, "{\"alg\":\"RS256\",\"kid\":\"SKrsa\",\"x\":\"\xc3\x28\"}", p);
	assert_int_equal(check(t, NOW, &err), -EKEYREJECTED);
	assert_string_equal(err.message, "token header is not valid UTF-8");
	free(t);
	/* Duplicate claim. */
	snprintf(p, sizeof(p), "{\"iss\":\"%s\",\"iss\":\"%s\",\"sub\":\"U2\",\"exp\":%lld}",
		 "P2evil", PROJECT, NOW + 600);
	t = tj_mint(rsa_key, RS_HEADER, p);
	assert_int_equal(check(t, NOW, &err), -EKEYREJECTED);
	free(t);
	/* Payload that is not an object, and a payload nested too deep. */
	t = tj_mint(rsa_key, RS_HEADER, "[1,2,3]");
	assert_int_equal(check(t, NOW, &err), -EKEYREJECTED);
	free(t);
	snprintf(p, sizeof(p), "{\"iss\":\"%s\",\"sub\":\"U2\",\"exp\":%lld,\"x\":[[[[[[[[[[1]]]]]]]]]]}",
		 PROJECT, NOW + 600);
	t = tj_mint(rsa_key, RS_HEADER, p);
	assert_int_equal(check(t, NOW, &err), -EKEYREJECTED);
	free(t);
	/* Header nested (a jwk object inside is depth 2 and fine; deeper is not). */
	t = tj_mint(rsa_key, "{\"alg\":\"RS256\",\"kid\":\"SKrsa\",\"x\":{\"y\":{}}}", p);
	assert_int_equal(check(t, NOW, &err), -EKEYREJECTED);
	free(t);
}

static void test_verified_cache(void **state)
{
	struct error_detail err;
	char *p = payload(NULL, NULL), *t = tj_mint(rsa_key, RS_HEADER, p);
	uint64_t hits = identity_cache_hits(id);
	struct identity_claims *c = NULL;
	struct jwks *without;
	char *text;

	assert_int_equal(check(t, NOW, &err), 0);
	assert_int_equal(identity_cache_hits(id), hits);
	assert_int_equal(check(t, NOW + 1, &err), 0);
	assert_int_equal(identity_cache_hits(id), hits + 1);
	/* Remembered tokens still expire. */
	assert_int_equal(check(t, NOW + 600 + 5, &err), -EKEYEXPIRED);
	assert_int_equal(check(t, NOW + 1, &err), 0); /* verified afresh */
	/* A key withdrawn from the set withdraws its remembered tokens. */
	text = tj_jwks_text(tj_jwk(ec_key, "SKec", NULL, NULL), NULL);
	assert_int_equal(jwks_parse(text, strlen(text), &without, NULL), 0);
	assert_int_equal(identity_validate(id, without, t, strlen(t), NOW, &c, &err, NULL),
			 -ENOKEY);
	jwks_unref(without);
	free(text);
	free(t);
	free(p);
}

static void test_cache_bounded(void **state)
{
	struct identity_config cfg = { .project_id = PROJECT, .cache_size = 4 };
	struct identity *saved = id;
	struct error_detail err;

	assert_int_equal(identity_new(&cfg, &id), 0);
	for (int i = 0; i < 20; i++) {
		char extra[32];

		snprintf(extra, sizeof(extra), "\"n\":%d", i);
		assert_int_equal(check_signed(rsa_key, RS_HEADER, NULL, extra, &err), 0);
		assert_true(identity_cache_size(id) <= 4);
	}
	assert_int_equal(identity_cache_size(id), 4);
	identity_free(id);
	id = saved;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid_rs256_and_es256),
		cmocka_unit_test(test_alg_none),
		cmocka_unit_test(test_hs256_with_public_key_as_secret),
		cmocka_unit_test(test_alg_case_and_mismatch),
		cmocka_unit_test(test_typ_and_crit),
		cmocka_unit_test(test_unknown_kid),
		cmocka_unit_test(test_bad_signature),
		cmocka_unit_test(test_issuer_family),
		cmocka_unit_test(test_issuer_custom_base_and_exact),
		cmocka_unit_test(test_config_checks),
		cmocka_unit_test(test_audience),
		cmocka_unit_test(test_times),
		cmocka_unit_test(test_refresh_token_and_sub),
		cmocka_unit_test(test_shape),
		cmocka_unit_test(test_invalid_utf8_and_json),
		cmocka_unit_test(test_verified_cache),
		cmocka_unit_test(test_cache_bounded),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
