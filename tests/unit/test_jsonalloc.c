/* SPDX-License-Identifier: MIT */
/*
 * jansson's allocator wipes what it frees (review finding 4): after parsing and printing a JSON
 * text that holds a secret, no block jansson frees still holds the secret. A wrapping free hook
 * looks at each block after the wipe and before its release. A control run with a plain free
 * shows that jansson does leave the secret behind otherwise.
 */
#include <malloc.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "util/jsonalloc.h"
#include "util/jsonbound.h"

#define MARKER "SECRET-MARKER-7f3a9c"

static unsigned freed, dirty;
static bool wipe;

static void scan(void *p)
{
	size_t n = malloc_usable_size(p), m = strlen(MARKER);
	const unsigned char *b = p;

	freed++;
	for (size_t i = 0; i + m <= n; i++)
		if (memcmp(b + i, MARKER, m) == 0) {
			dirty++;
			return;
		}
}

/* jsonalloc_malloc with the whole usable block zeroed, so that scan() reads only defined bytes
 * (valgrind rightly objects to branching on the never-written tail of a block). */
static void *checking_malloc(size_t size)
{
	void *p = jsonalloc_malloc(size);

	if (p)
		memset(p, 0, malloc_usable_size(p));
	return p;
}

/* jsonalloc_free with a look at the block between the wipe and the release. */
static void checking_free(void *p)
{
	if (!p)
		return;
	if (wipe)
		jsonalloc_wipe(p);
	scan(p);
	free(p);
}

/* Parses, reads, prints and frees a document carrying the marker in a key, a long string
 * (so the lexer's buffer grows and frees its old copies) and a short one. */
static void churn(void)
{
	static const struct jsonbound_limits lim = { .max_size = 64u * 1024u, .max_depth = 8 };
	char text[4096], big[2048];
	json_t *j = NULL;
	char *out;

	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	memcpy(big + 700, MARKER, strlen(MARKER));
	snprintf(text, sizeof(text),
		 "{\"privateKey\":\"-----BEGIN PRIVATE KEY-----%s\",\"" MARKER "\":1,"
		 "\"accessToken\":\"" MARKER "\"}",
		 big);
	j = json_loads(text, 0, NULL);
	assert_non_null(j);
	out = json_dumps(j, JSON_COMPACT);
	assert_non_null(out);
	assert_non_null(strstr(out, MARKER));
	/* Callers free json_dumps text with jansson's free (or wipe it themselves and free()). */
	checking_free(out);
	json_decref(j);
	j = NULL;
	assert_true(jsonbound_parse(text, strlen(text), &lim, &j, NULL) >= 0);
	json_decref(j);
	memset(text, 0, sizeof(text));
	memset(big, 0, sizeof(big));
}

static void test_installed(void **state)
{
	json_malloc_t m = NULL;
	json_free_t f = NULL;

	jsonalloc_init();
	json_get_alloc_funcs(&m, &f);
	assert_ptr_equal(m, jsonalloc_malloc);
	assert_ptr_equal(f, jsonalloc_free);
	jsonalloc_init(); /* again: harmless */
	json_get_alloc_funcs(&m, &f);
	assert_ptr_equal(f, jsonalloc_free);
	/* A block from plain malloc (text returned before the hook went in) frees through it. */
	jsonalloc_free(malloc(100));
	jsonalloc_free(NULL);
}

static void test_control_plain_free_leaves_secret(void **state)
{
	json_set_alloc_funcs(checking_malloc, checking_free);
	wipe = false;
	freed = dirty = 0;
	churn();
	assert_true(freed > 0);
	assert_true(dirty > 0); /* what the fix is for */
}

static void test_no_freed_block_holds_secret(void **state)
{
	json_set_alloc_funcs(checking_malloc, checking_free);
	wipe = true;
	freed = dirty = 0;
	churn();
	assert_true(freed > 0);
	assert_int_equal(dirty, 0);
	jsonalloc_init();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_installed),
		cmocka_unit_test(test_control_plain_free_leaves_secret),
		cmocka_unit_test(test_no_freed_block_holds_secret),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
