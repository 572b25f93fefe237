/* SPDX-License-Identifier: MIT */
/*
 * The library's JSON: text in (records, fields) parsed into msgpack with every bound, and a
 * msgpack tree out as JSON text. Round trips, escapes, numbers, and garbage of every kind.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "client/lib/internal.h"

/* Parses text and renders it back compact; returns the rendering (caller frees) or NULL with
 * why filled. */
static char *round_trip(const char *text, msgpack_object_type want, char *why, size_t n)
{
	struct json_doc *d;
	struct sb_buf out;
	char *s;

	if (json_parse(text, want, &d, why, n) < 0)
		return NULL;
	sb_buf_init(&out, 1 << 20);
	assert_int_equal(json_render(json_doc_root(d), false, 0, &out), 0);
	s = strndup((const char *)sb_buf_ptr(&out), sb_buf_len(&out));
	sb_buf_free(&out);
	json_doc_free(d);
	return s;
}

static void same(const char *in, const char *want)
{
	char why[160] = "";
	char *got = round_trip(in, MSGPACK_OBJECT_ARRAY, why, sizeof(why));

	if (!got)
		fail_msg("'%s' refused: %s", in, why);
	assert_string_equal(got, want);
	free(got);
}

static void test_round_trips(void **state)
{
	(void)state;
	same("[]", "[]");
	same(" [ {} , { } ] ", "[{},{}]");
	same("[{\"name\":\"Ada\",\"age\":36,\"ok\":true,\"no\":false,\"x\":null}]",
	     "[{\"name\":\"Ada\",\"age\":36,\"ok\":true,\"no\":false,\"x\":null}]");
	same("[-5, 0, -0, 18446744073709551615, 1.5, -2.5e3, 1E2]",
	     "[-5,0,0,18446744073709551615,1.5,-2500.0,100.0]");
	same("[99999999999999999999]", "[1e+20]");
	same("[\"a\\\"b\\\\c\\/d\\n\\t\\r\\b\\f\"]", "[\"a\\\"b\\\\c/d\\n\\t\\r\\u0008\\u000c\"]");
	same("[\"\\u00e9\\u20ac\\ud83d\\ude00\"]", "[\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\"]");
	same("[\"\xc3\xa9\"]", "[\"\xc3\xa9\"]");
	same("[[[[1]]]]", "[[[[1]]]]");
}

static void refused(const char *in, msgpack_object_type want, int code, const char *why_has)
{
	char why[160] = "";
	struct json_doc *d = NULL;
	int r = json_parse(in, want, &d, why, sizeof(why));

	if (r != code)
		fail_msg("'%.40s': %d, wanted %d (%s)", in, r, code, why);
	assert_null(d);
	if (!strstr(why, why_has))
		fail_msg("'%.40s': '%s' does not say '%s'", in, why, why_has);
}

static void test_garbage_refused(void **state)
{
	char *deep = malloc(64), *wide, *big;

	(void)state;
	refused("", MSGPACK_OBJECT_ARRAY, -EBADMSG, "end of the text");
	refused("[", MSGPACK_OBJECT_ARRAY, -EBADMSG, "end of the text");
	refused("[1,]", MSGPACK_OBJECT_ARRAY, -EBADMSG, "unexpected");
	refused("[1 2]", MSGPACK_OBJECT_ARRAY, -EBADMSG, "expected ','");
	refused("{\"a\" 1}", MSGPACK_OBJECT_MAP, -EBADMSG, "expected ':'");
	refused("{1:2}", MSGPACK_OBJECT_MAP, -EBADMSG, "string key");
	refused("[] []", MSGPACK_OBJECT_ARRAY, -EBADMSG, "trailing");
	/* the text ends where a ',' or a ':' must come (fuzz_client_json found the parser
	 * stepping past the NUL there) */
	refused("[{}", MSGPACK_OBJECT_ARRAY, -EBADMSG, "expected ','");
	refused("{\"a\"", MSGPACK_OBJECT_MAP, -EBADMSG, "expected ':'");
	refused("{}", MSGPACK_OBJECT_ARRAY, -EBADMSG, "must be a JSON array");
	refused("[]", MSGPACK_OBJECT_MAP, -EBADMSG, "must be a JSON object");
	refused("[\"abc]", MSGPACK_OBJECT_ARRAY, -EBADMSG, "unterminated");
	refused("[\"a\\u0000b\"]", MSGPACK_OBJECT_ARRAY, -EBADMSG, "NUL");
	refused("[\"\\ud800\"]", MSGPACK_OBJECT_ARRAY, -EBADMSG, "surrogate");
	refused("[\"\\udc00\"]", MSGPACK_OBJECT_ARRAY, -EBADMSG, "surrogate");
	refused("[\"\\x\"]", MSGPACK_OBJECT_ARRAY, -EBADMSG, "bad escape");
	refused("[\"\\u12g4\"]", MSGPACK_OBJECT_ARRAY, -EBADMSG, "bad \\u");
	refused("[\"a\tb\"]", MSGPACK_OBJECT_ARRAY, -EBADMSG, "control character");
	refused("[\"\xff\xfe\"]", MSGPACK_OBJECT_ARRAY, -EBADMSG, "UTF-8");
	refused("[\"\xc0\xaf\"]", MSGPACK_OBJECT_ARRAY, -EBADMSG, "UTF-8");
	refused("[01]", MSGPACK_OBJECT_ARRAY, -EBADMSG, "expected ','");
	refused("[1.]", MSGPACK_OBJECT_ARRAY, -EBADMSG, "unexpected");
	refused("[1e]", MSGPACK_OBJECT_ARRAY, -EBADMSG, "unexpected");
	refused("[+1]", MSGPACK_OBJECT_ARRAY, -EBADMSG, "unexpected");
	refused("[1e999]", MSGPACK_OBJECT_ARRAY, -EBADMSG, "out of range");
	refused("[NaN]", MSGPACK_OBJECT_ARRAY, -EBADMSG, "unexpected");
	refused("[tru]", MSGPACK_OBJECT_ARRAY, -EBADMSG, "unexpected");
	refused("[1111111111111111111111111111111111111111111111111111111111111111111]",
		MSGPACK_OBJECT_ARRAY, -EMSGSIZE, "number longer");
	/* too deep */
	memset(deep, '[', 63);
	deep[63] = '\0';
	refused(deep, MSGPACK_OBJECT_ARRAY, -EMSGSIZE, "nested deeper");
	free(deep);
	/* too many entries: 4097 zeros */
	wide = malloc(2 + 4097 * 2 + 1);
	wide[0] = '[';
	for (int i = 0; i < 4097; i++) {
		wide[1 + 2 * i] = '0';
		wide[2 + 2 * i] = ',';
	}
	wide[4097 * 2] = ']';
	wide[4097 * 2 + 1] = '\0';
	refused(wide, MSGPACK_OBJECT_ARRAY, -EMSGSIZE, "more than 4096 entries");
	free(wide);
	/* over the 1 MiB text cap */
	big = malloc(SKYBROKER_MAX_JSON_IN + 8);
	memset(big, ' ', SKYBROKER_MAX_JSON_IN + 4);
	big[0] = '[';
	big[SKYBROKER_MAX_JSON_IN + 3] = ']';
	big[SKYBROKER_MAX_JSON_IN + 4] = '\0';
	refused(big, MSGPACK_OBJECT_ARRAY, -EMSGSIZE, "longer than");
	free(big);
}

/* The error message never carries the text's values, only where it broke. */
static void test_message_has_no_value(void **state)
{
	char why[160];
	struct json_doc *d;

	(void)state;
	assert_true(json_parse("[{\"ssn\":\"123-45-6789\" \"x\"}]", MSGPACK_OBJECT_ARRAY, &d, why,
			       sizeof(why)) < 0);
	assert_null(strstr(why, "123-45"));
	assert_non_null(strstr(why, "at byte"));
}

static void test_render_pretty(void **state)
{
	struct json_doc *d;
	struct sb_buf out;
	char why[160];

	(void)state;
	assert_int_equal(json_parse("{\"a\":[1,{\"b\":\"c\"}],\"e\":{},\"f\":[]}", MSGPACK_OBJECT_MAP,
				    &d, why, sizeof(why)), 0);
	sb_buf_init(&out, 4096);
	assert_int_equal(json_render(json_doc_root(d), true, 0, &out), 0);
	assert_int_equal(sb_buf_len(&out), strlen("{\n  \"a\": [\n    1,\n    {\n      \"b\": \"c\"\n"
						  "    }\n  ],\n  \"e\": {},\n  \"f\": []\n}"));
	assert_memory_equal(sb_buf_ptr(&out),
			    "{\n  \"a\": [\n    1,\n    {\n      \"b\": \"c\"\n    }\n  ],\n"
			    "  \"e\": {},\n  \"f\": []\n}", sb_buf_len(&out));
	/* a cap reached while rendering is an error, not a cut document */
	sb_buf_free(&out);
	sb_buf_init(&out, 10);
	assert_int_equal(json_render(json_doc_root(d), true, 0, &out), -EMSGSIZE);
	sb_buf_free(&out);
	json_doc_free(d);
}

static void test_float_specials(void **state)
{
	msgpack_object v = {.type = MSGPACK_OBJECT_FLOAT64};
	struct sb_buf out;

	(void)state;
	sb_buf_init(&out, 64);
	v.via.f64 = 1.0 / 0.0;
	assert_int_equal(json_render(&v, false, 0, &out), 0);
	assert_memory_equal(sb_buf_ptr(&out), "null", 4);
	sb_buf_free(&out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trips),
		cmocka_unit_test(test_garbage_refused),
		cmocka_unit_test(test_message_has_no_value),
		cmocka_unit_test(test_render_pretty),
		cmocka_unit_test(test_float_specials),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
