/* SPDX-License-Identifier: MIT */
/* JWKS parsing: usable keys, every kind of garbage, and the one-alg-per-key rule. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "util/log.h"
#include "util/jsonalloc.h"
#include "tokens/jwks.h"
#include "testjwt.h"

static EVP_PKEY *rsa_key, *ec_key, *rsa_small;

static int setup(void **state)
{
	jsonalloc_init(); /* as the daemon does */
	log_set_max_level(LOG_WARNING);
	rsa_key = tj_rsa(2048);
	ec_key = tj_ec();
	rsa_small = tj_rsa(1024);
	return 0;
}

static int teardown(void **state)
{
	EVP_PKEY_free(rsa_key);
	EVP_PKEY_free(ec_key);
	EVP_PKEY_free(rsa_small);
	return 0;
}

static int parse_text(const char *text, struct jwks **ret)
{
	struct error_detail why = {0};
	int r = jwks_parse(text, strlen(text), ret, &why);

	if (r < 0) {
		assert_true(why.message[0] != '\0'); /* every refusal says why */
		assert_int_equal(why.r, r);
	}
	return r;
}

static void test_valid_set(void **state)
{
	char *text = tj_jwks_text(tj_jwk(rsa_key, "SKrsa", "RS256", "sig"),
				  tj_jwk(ec_key, "SKec", NULL, NULL), NULL);
	struct jwks *s = NULL;
	const struct jwk *k;

	assert_int_equal(parse_text(text, &s), 0);
	assert_int_equal(s->n_keys, 2);
	k = jwks_find(s, "SKrsa");
	assert_non_null(k);
	assert_int_equal(k->alg, JWK_ALG_RS256);
	assert_true(EVP_PKEY_is_a(k->pkey, "RSA"));
	k = jwks_find(s, "SKec");
	assert_non_null(k);
	assert_int_equal(k->alg, JWK_ALG_ES256);
	assert_true(EVP_PKEY_is_a(k->pkey, "EC"));
	assert_null(jwks_find(s, "SKnone"));
	assert_null(jwks_find(s, "SKrs")); /* no prefix match */
	jwks_unref(s);
	free(text);
}

static void test_skipped_keys(void **state)
{
	json_t *bad_alg = tj_jwk(rsa_key, "a", "ES256", NULL);   /* RSA key claiming ES256 */
	json_t *enc = tj_jwk(rsa_key, "b", "RS256", "enc");      /* encryption key */
	json_t *hs = tj_jwk(rsa_key, "c", "HS256", NULL);        /* alg confusion bait */
	json_t *small = tj_jwk(rsa_small, "d", "RS256", NULL);   /* 1024 bits */
	json_t *curve = tj_jwk(ec_key, "e", NULL, NULL);
	json_t *badb64 = tj_jwk(rsa_key, "f", NULL, NULL);
	json_t *oct = json_pack("{s:s, s:s, s:s}", "kty", "oct", "kid", "g", "k", "c2VjcmV0");
	json_t *nokid = tj_jwk(rsa_key, "h", NULL, NULL);
	json_t *good = tj_jwk(rsa_key, "good", NULL, "sig");
	struct jwks *s = NULL;
	char *text;

	json_object_set_new(curve, "crv", json_string("P-384"));
	json_object_set_new(badb64, "n", json_string("!!!notbase64"));
	json_object_del(nokid, "kid");
	text = tj_jwks_text(bad_alg, enc, hs, small, curve, badb64, oct, nokid, good, NULL);
	assert_int_equal(parse_text(text, &s), 0);
	assert_int_equal(s->n_keys, 1);
	assert_int_equal(s->n_skipped, 8);
	assert_non_null(jwks_find(s, "good"));
	assert_null(jwks_find(s, "c"));
	jwks_unref(s);
	free(text);
}

static void test_ec_point_off_curve(void **state)
{
	json_t *k = tj_jwk(ec_key, "off", NULL, NULL);
	struct jwks *s = NULL;
	const char *y = json_string_value(json_object_get(k, "y"));
	char *text, *y2 = strdup(y);

	/* Change one character of y: the point leaves the curve. */
	y2[5] = y2[5] == 'A' ? 'B' : 'A';
	json_object_set_new(k, "y", json_string(y2));
	free(y2);
	text = tj_jwks_text(k, NULL);
	assert_int_equal(parse_text(text, &s), -EBADMSG);
	assert_null(s);
	free(text);
}

static void test_garbage(void **state)
{
	static const char *const bad[] = {
		"",
		"not json",
		"[]",
		"{}",
		"{\"keys\":{}}",
		"{\"keys\":\"x\"}",
		"{\"keys\":[]}",
		"{\"keys\":[1,2,3]}",
		"{\"keys\":[{\"kty\":\"RSA\",\"kid\":\"x\",\"n\":\"AQAB\",\"e\":\"AQAB\"}]}",
		"{\"keys\":[{\"kty\":\"RSA\",\"kid\":\"x\"}]}",
		"{\"keys\":[{\"kty\":\"EC\",\"kid\":\"x\",\"crv\":\"P-256\",\"x\":\"AA\",\"y\":\"AA\"}]}",
		"{\"keys\":[]} trailing",
		"{\"keys\":[],\"keys\":[]}",
		"{\"keys\":[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]}",
		"{\"keys\":[\"\xff\xfe\"]}",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct jwks *s = (struct jwks *)1;
		int r = parse_text(bad[i], &s);

		if (r == 0)
			fail_msg("garbage #%zu accepted", i);
		assert_true(r == -EBADMSG || r == -EMSGSIZE);
		assert_null(s);
	}
}

static void test_duplicate_kid(void **state)
{
	char *text = tj_jwks_text(tj_jwk(rsa_key, "same", NULL, NULL),
				  tj_jwk(ec_key, "same", NULL, NULL), NULL);
	struct jwks *s = NULL;

	assert_int_equal(parse_text(text, &s), -EBADMSG);
	free(text);
}

static void test_limits(void **state)
{
	json_t *root = json_object(), *arr = json_array();
	struct jwks *s = NULL;
	char *text, *big;

	for (unsigned i = 0; i < JWKS_MAX_KEYS + 1; i++) {
		char kid[16];

		snprintf(kid, sizeof(kid), "k%u", i);
		json_array_append_new(arr, json_pack("{s:s, s:s}", "kty", "oct", "kid", kid));
	}
	json_object_set_new(root, "keys", arr);
	text = json_dumps(root, JSON_COMPACT);
	assert_int_equal(parse_text(text, &s), -EMSGSIZE);
	free(text);
	json_decref(root);

	big = malloc(JWKS_MAX_TEXT + 100);
	memset(big, ' ', JWKS_MAX_TEXT + 99);
	memcpy(big, "{\"keys\":[]}", 11);
	big[JWKS_MAX_TEXT + 99] = 0;
	assert_int_equal(jwks_parse(big, strlen(big), &s, NULL), -EMSGSIZE);
	free(big);
}

static void test_refcount(void **state)
{
	char *text = tj_jwks_text(tj_jwk(ec_key, "k", NULL, NULL), NULL);
	struct jwks *s = NULL;

	assert_int_equal(parse_text(text, &s), 0);
	assert_ptr_equal(jwks_ref(s), s);
	assert_int_equal(s->n_ref, 2);
	assert_null(jwks_unref(s));
	assert_int_equal(s->n_ref, 1);
	jwks_unref(s);
	assert_null(jwks_unref(NULL));
	free(text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid_set),
		cmocka_unit_test(test_skipped_keys),
		cmocka_unit_test(test_ec_point_off_curve),
		cmocka_unit_test(test_garbage),
		cmocka_unit_test(test_duplicate_kid),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_refcount),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
