/* SPDX-License-Identifier: MIT */
/* Unit tests of broker/util/jsonbound: size and depth caps before jansson, duplicates, NULs. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "util/jsonbound.h"

static const struct jsonbound_limits roomy = {.max_size = 1u << 20, .max_depth = 64};

/* Parses a NUL-terminated text; returns jsonbound_parse's result, the value in *ret. */
static int parse_lim(const char *text, const struct jsonbound_limits *lim, json_t **ret)
{
	json_t *sentinel = json_null();
	int r;

	*ret = sentinel;
	r = jsonbound_parse(text, strlen(text), lim, ret, NULL);
	if (r < 0)
		assert_null(*ret); /* never a stale pointer on failure */
	else
		assert_non_null(*ret);
	return r;
}

static int parse(const char *text)
{
	json_t *j;
	int r = parse_lim(text, &roomy, &j);

	json_decref(j);
	return r;
}

/* "[[[...]]]" of depth d (d >= 0; 0 gives "0"), in a new buffer. */
static char *nested(unsigned d, char open, char close)
{
	char *s = malloc(2 * (size_t)d + 2);

	assert_non_null(s);
	if (d == 0) {
		s[0] = '0';
		s[1] = '\0';
		return s;
	}
	memset(s, open, d);
	memset(s + d, close, d);
	s[2 * d] = '\0';
	return s;
}

static void test_valid_values(void **state)
{
	json_t *j;

	(void)state;
	assert_int_equal(parse_lim("{\"alg\":\"RS256\",\"n\":[1,2.5,true,null]}", &roomy, &j), 0);
	assert_true(json_is_object(j));
	assert_string_equal(json_string_value(json_object_get(j, "alg")), "RS256");
	assert_int_equal(json_array_size(json_object_get(j, "n")), 4);
	json_decref(j);

	/* any value at the top (JSON_DECODE_ANY), and whitespace around it */
	assert_int_equal(parse("1"), 0);
	assert_int_equal(parse("\"x\""), 0);
	assert_int_equal(parse("null"), 0);
	assert_int_equal(parse(" \t\r\n[ ] \n"), 0);
	/* the same key in two different objects is not a duplicate */
	assert_int_equal(parse("{\"a\":{\"b\":1},\"b\":{\"a\":2}}"), 0);
	/* escapes and valid UTF-8 */
	assert_int_equal(parse_lim("\"\\u00e9\\\"\\\\\\/\xc3\xa9\xf0\x9f\x98\x80\"", &roomy, &j), 0);
	assert_string_equal(json_string_value(j), "\xc3\xa9\"\\/\xc3\xa9\xf0\x9f\x98\x80");
	json_decref(j);
}

static void test_not_json(void **state)
{
	static const char *const bad[] = {
		"",          " ",          "{",          "}",          "[1,]",       "{\"a\":}",
		"{\"a\" 1}", "{a:1}",      "'x'",        "tru",        "nul",        "01",
		"1 2",       "{} {}",      "[] x",       "{}]",        "[}",         "{]",
		"\"abc",     "\"\\x\"",    "\"\\u12\"",  "NaN",        "Infinity",   "[1,2",
		"{\"a\":1,}", "/* c */ 1", "1 // c",     "\xef\xbb\xbf{}", /* BOM */
	};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		json_t *j;

		if (parse_lim(bad[i], &roomy, &j) != -EBADMSG)
			fail_msg("accepted or misclassified: '%s'", bad[i]);
	}
}

static void test_duplicate_keys(void **state)
{
	(void)state;
	assert_int_equal(parse("{\"alg\":\"none\",\"alg\":\"RS256\"}"), -EBADMSG);
	assert_int_equal(parse("{\"a\":1,\"b\":2,\"a\":1}"), -EBADMSG); /* same value too */
	assert_int_equal(parse("[{\"x\":{\"iss\":1,\"iss\":2}}]"), -EBADMSG); /* nested */
	/* the same key once escaped and once not is the same key */
	assert_int_equal(parse("{\"iss\":1,\"\\u0069ss\":2}"), -EBADMSG);
	/* case matters: distinct keys */
	assert_int_equal(parse("{\"iss\":1,\"ISS\":2}"), 0);
}

static void test_nul_and_control(void **state)
{
	static const char with_nul[] = "{\"a\":\"x\0y\"}";
	static const char nul_after[] = "{}\0";
	static const char nul_key[] = "{\"a\0b\":1}";
	json_t *j = NULL;

	(void)state;
	/* an escaped NUL is refused (it would cut a C string short) */
	assert_int_equal(parse("\"ab\\u0000cd\""), -EBADMSG);
	assert_int_equal(parse("{\"a\\u0000\":1}"), -EBADMSG);
	/* raw NUL bytes, in a string, in a key and after the value */
	assert_int_equal(jsonbound_parse(with_nul, sizeof(with_nul) - 1, &roomy, &j, NULL), -EBADMSG);
	assert_int_equal(jsonbound_parse(nul_key, sizeof(nul_key) - 1, &roomy, &j, NULL), -EBADMSG);
	assert_int_equal(jsonbound_parse(nul_after, sizeof(nul_after) - 1, &roomy, &j, NULL),
			 -EBADMSG);
	/* the length counts, not a NUL: a valid prefix parses */
	assert_int_equal(jsonbound_parse("{}garbage", 2, &roomy, &j, NULL), 0);
	assert_true(json_is_object(j));
	json_decref(j);
	/* raw control characters inside strings */
	assert_int_equal(parse("\"a\nb\""), -EBADMSG);
	assert_int_equal(parse("\"a\x1b[31mb\""), -EBADMSG);
	assert_int_equal(parse("\"a\\nb\""), 0);
}

static void test_invalid_utf8(void **state)
{
	static const char *const bad[] = {
		"\"\xff\"",             /* never valid */
		"\"\xc3\"",             /* truncated sequence */
		"\"\xc0\xaf\"",         /* overlong '/' */
		"\"\xe0\x80\xaf\"",     /* overlong, 3 bytes */
		"\"\xed\xa0\x80\"",     /* UTF-16 surrogate encoded in UTF-8 */
		"\"\xf4\x90\x80\x80\"", /* above U+10FFFF */
		"{\"k\xfe\":1}",        /* in a key */
		"\"\\ud800\"",          /* lone escaped surrogate */
		"\"\\udc00\\ud800\"",   /* reversed pair */
	};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (parse(bad[i]) != -EBADMSG)
			fail_msg("accepted invalid text #%zu", i);
	assert_int_equal(parse("\"\\ud83d\\ude00\""), 0); /* a valid pair */
}

static void test_size_limit(void **state)
{
	const char *text = "{\"k\":\"0123456789\"}"; /* 18 bytes */
	struct jsonbound_limits lim = {.max_size = 18, .max_depth = 4};
	json_error_t err;
	json_t *j = NULL;

	(void)state;
	assert_int_equal(strlen(text), 18);
	assert_int_equal(jsonbound_parse(text, 18, &lim, &j, &err), 0); /* exactly at the cap */
	json_decref(j);
	lim.max_size = 17; /* one over */
	assert_int_equal(jsonbound_parse(text, 18, &lim, &j, &err), -EMSGSIZE);
	assert_null(j);
	assert_non_null(strstr(err.text, "18"));
	assert_non_null(strstr(err.text, "17"));
	/* the size is checked first: garbage over the size is "too large", not "not JSON" */
	assert_int_equal(jsonbound_parse("]]]]]]]]]]]]]]]]]]", 18, &lim, &j, NULL), -EMSGSIZE);
	/* a zero cap refuses everything but the empty text, which is not JSON */
	lim.max_size = 0;
	assert_int_equal(jsonbound_parse("1", 1, &lim, &j, NULL), -EMSGSIZE);
	assert_int_equal(jsonbound_parse("", 0, &lim, &j, NULL), -EBADMSG);
}

static void test_depth_limit(void **state)
{
	struct jsonbound_limits lim = {.max_size = 1u << 16, .max_depth = JSONBOUND_DEFAULT_DEPTH};
	json_error_t err;
	json_t *j = NULL;

	(void)state;
	for (unsigned d = 0; d <= JSONBOUND_DEFAULT_DEPTH + 1; d++) {
		char *arr = nested(d, '[', ']');
		int want = d <= JSONBOUND_DEFAULT_DEPTH ? 0 : -EMSGSIZE;

		assert_int_equal(jsonbound_parse(arr, strlen(arr), &lim, &j, &err), want);
		json_decref(j);
		free(arr);
	}
	/* one over: the message names the limit */
	{
		char *arr = nested(JSONBOUND_DEFAULT_DEPTH + 1, '[', ']');

		assert_int_equal(jsonbound_parse(arr, strlen(arr), &lim, &j, &err), -EMSGSIZE);
		assert_non_null(strstr(err.text, "16"));
		free(arr);
	}
	/* objects count as much as arrays; the top level is depth 1 */
	lim.max_depth = 3;
	assert_int_equal(parse_lim("{\"a\":[{}]}", &lim, &j), 0);
	json_decref(j);
	assert_int_equal(parse_lim("{\"a\":[{\"b\":[]}]}", &lim, &j), -EMSGSIZE);
	/* depth is the deepest point, not the number of containers */
	assert_int_equal(parse_lim("[[[]],[[]],[[]],{\"a\":{},\"b\":[]}]", &lim, &j), 0);
	json_decref(j);
	lim.max_depth = 1;
	assert_int_equal(parse_lim("[1,2,3]", &lim, &j), 0);
	json_decref(j);
	assert_int_equal(parse_lim("[[]]", &lim, &j), -EMSGSIZE);
	lim.max_depth = 0; /* only scalars */
	assert_int_equal(parse_lim("\"x\"", &lim, &j), 0);
	json_decref(j);
	assert_int_equal(parse_lim("[]", &lim, &j), -EMSGSIZE);

	/* far deeper than jansson's own cap: refused by the scan, as too deep */
	{
		char *arr = nested(100000, '[', ']');

		lim.max_depth = JSONBOUND_DEFAULT_DEPTH;
		lim.max_size = 1u << 20;
		assert_int_equal(jsonbound_parse(arr, strlen(arr), &lim, &j, NULL), -EMSGSIZE);
		/* unbalanced deep garbage is refused too */
		assert_int_equal(jsonbound_parse(arr, 100000, &lim, &j, NULL), -EBADMSG);
		free(arr);
	}
}

static void test_brackets_in_strings(void **state)
{
	struct jsonbound_limits lim = {.max_size = 1024, .max_depth = 1};
	json_t *j;

	(void)state;
	/* brackets inside strings (and keys) are not nesting */
	assert_int_equal(parse_lim("[\"[[[[{{{{\",\"]]]]}}}}\"]", &lim, &j), 0);
	json_decref(j);
	assert_int_equal(parse_lim("{\"[[[[\":\"}}}}\"}", &lim, &j), 0);
	json_decref(j);
	/* an escaped quote does not end the string; an escaped backslash does not escape it */
	assert_int_equal(parse_lim("[\"\\\"[[[[\"]", &lim, &j), 0);
	json_decref(j);
	assert_int_equal(parse_lim("[\"\\\\\",\"x\"]", &lim, &j), 0);
	json_decref(j);
	assert_int_equal(parse_lim("[\"\\\\\",[1]]", &lim, &j), -EMSGSIZE);

	assert_int_equal(jsonbound_depth("[\"]\"]", 5), 1);
	assert_int_equal(jsonbound_depth("[\"\\\"]\"]", 7), 1);
	assert_int_equal(jsonbound_depth("[\"\\\\\"]", 6), 1);
	assert_int_equal(jsonbound_depth("[\"\\\\\",[]]", 9), 2);
}

static void test_depth_scan(void **state)
{
	(void)state;
	assert_int_equal(jsonbound_depth("", 0), 0);
	assert_int_equal(jsonbound_depth("123", 3), 0);
	assert_int_equal(jsonbound_depth("{}", 2), 1);
	assert_int_equal(jsonbound_depth("[{}]", 4), 2);
	assert_int_equal(jsonbound_depth("[][][]", 6), 1);
	/* unbalanced, in every way */
	assert_int_equal(jsonbound_depth("[", 1), -EBADMSG);
	assert_int_equal(jsonbound_depth("]", 1), -EBADMSG);
	assert_int_equal(jsonbound_depth("][", 2), -EBADMSG);
	assert_int_equal(jsonbound_depth("[]]", 3), -EBADMSG);
	assert_int_equal(jsonbound_depth("\"", 1), -EBADMSG);    /* string not closed */
	assert_int_equal(jsonbound_depth("\"\\", 2), -EBADMSG);  /* ends in an escape */
	assert_int_equal(jsonbound_depth("[\"\\\"]", 5), -EBADMSG); /* the quote is escaped */
	/* the scan follows the length, not a NUL */
	assert_int_equal(jsonbound_depth("[\0]", 3), 1);
	assert_int_equal(jsonbound_depth("[[]]", 2), -EBADMSG);
	/* unbalanced text is refused by the parse as not JSON */
	{
		struct jsonbound_limits lim = {.max_size = 64, .max_depth = 8};
		json_error_t err;
		json_t *j = NULL;

		assert_int_equal(jsonbound_parse("[[]", 3, &lim, &j, &err), -EBADMSG);
		assert_non_null(strstr(err.text, "unbalanced"));
	}
}

static void test_error_never_holds_the_text(void **state)
{
	/* Texts that fail at or inside a distinctive token, as a bad JWT payload or a
	 * credentials file with a broken private key would. */
	static const char *const bad[] = {
		"{\"privateKey\":\"SECRETSECRET",          /* premature end inside a string */
		"{\"privateKey\":SECRETSECRET}",           /* invalid token */
		"{\"privateKey\":\"SECRETSECRET\\q\"}",    /* invalid escape */
		"{\"a\":1} SECRETSECRET",                  /* trailing bytes */
		"{\"SECRETSECRET\":1,\"SECRETSECRET\":2}", /* duplicate key */
	};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		json_error_t err;
		json_t *j = NULL;

		memset(&err, 'Z', sizeof(err));
		assert_int_equal(jsonbound_parse(bad[i], strlen(bad[i]), &roomy, &j, &err), -EBADMSG);
		assert_null(j);
		/* the message is a NUL-terminated string within its buffer */
		assert_non_null(memchr(err.text, '\0', sizeof(err.text)));
		assert_true(strlen(err.text) > 0);
		/* jansson's own messages quote the text near the error ("invalid token near
		 * 'SECRETSECRET'"); jsonbound replaces them, so a caller that logs err.text never
		 * logs part of a token or key */
		assert_null(strstr(err.text, "SECRETSECRET"));
	}
	/* NULL err is fine on every path */
	{
		struct jsonbound_limits small = {.max_size = 4, .max_depth = 1};
		json_t *j = NULL;

		assert_int_equal(jsonbound_parse("[[]]", 4, &small, &j, NULL), -EMSGSIZE);
		assert_int_equal(jsonbound_parse("[[]", 3, &small, &j, NULL), -EBADMSG);
		assert_int_equal(jsonbound_parse("[}", 2, &small, &j, NULL), -EBADMSG);
		assert_int_equal(jsonbound_parse("12345", 5, &small, &j, NULL), -EMSGSIZE);
	}
}

static void test_big_but_allowed(void **state)
{
	/* many members, long strings: only size and depth are capped */
	enum { N = 5000 };
	size_t cap = N * 16 + 16, len = 0;
	char *text = malloc(cap);
	struct jsonbound_limits lim = {.max_size = 0, .max_depth = 2};
	json_t *j = NULL;

	(void)state;
	assert_non_null(text);
	text[len++] = '{';
	for (int i = 0; i < N; i++)
		len += (size_t)snprintf(text + len, cap - len, "%s\"k%d\":[%d]", i ? "," : "", i, i);
	text[len++] = '}';
	lim.max_size = len;
	assert_int_equal(jsonbound_parse(text, len, &lim, &j, NULL), 0);
	assert_int_equal(json_object_size(j), N);
	assert_int_equal(json_integer_value(json_array_get(json_object_get(j, "k4999"), 0)), 4999);
	json_decref(j);
	lim.max_size = len - 1;
	assert_int_equal(jsonbound_parse(text, len, &lim, &j, NULL), -EMSGSIZE);
	free(text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid_values),
		cmocka_unit_test(test_not_json),
		cmocka_unit_test(test_duplicate_keys),
		cmocka_unit_test(test_nul_and_control),
		cmocka_unit_test(test_invalid_utf8),
		cmocka_unit_test(test_size_limit),
		cmocka_unit_test(test_depth_limit),
		cmocka_unit_test(test_brackets_in_strings),
		cmocka_unit_test(test_depth_scan),
		cmocka_unit_test(test_error_never_holds_the_text),
		cmocka_unit_test(test_big_but_allowed),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
