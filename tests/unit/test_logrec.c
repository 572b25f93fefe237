/* SPDX-License-Identifier: MIT */
/*
 * logrec_text, the audit line's renderer, against the snprintf form it had before it was
 * made cheaper (issue 15): the same bytes and length for random records, raw and escaped
 * values of 0 to 1,500 bytes, any number of fields, buffers from 16 bytes to a whole line, so
 * every cut (a value cut to its room, the line cut at the buffer's end) is where it was.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "util/logfmt.h"
#include "util/logrec.h"

#define LINE_MAX_TEST 2048 /* log.c's LINE_MAX_TEST: what log_record gives logrec_text, and more */

/* The reference: logrec_text as it was written with snprintf. */
static size_t reference(char *out, size_t size, const char *tag, const struct log_field *f,
			size_t n)
{
	size_t len;
	int k;

	k = snprintf(out, size, "%s:", tag);
	len = k < 0 ? 0 : (size_t)k >= size ? size - 1 : (size_t)k;
	for (size_t i = 0; i < n; i++) {
		size_t reserve = 48 * (n - i - 1) + strlen(f[i].key) + 3;
		size_t room = size > len + reserve ? size - len - reserve : 0;
		char v[LOGREC_VALUE_MAX];

		if (room > sizeof(v))
			room = sizeof(v);
		if (room < 4)
			room = 4;
		if (f[i].raw)
			(void)snprintf(v, room, "%s", f[i].value ? f[i].value : "-");
		else
			logfmt_value(v, room, f[i].value ? f[i].value : "-");
		k = snprintf(out + len, size - len, " %s=%s", f[i].key, v);
		len = k < 0 ? len : len + (size_t)k >= size ? size - 1 : len + (size_t)k;
	}
	return len;
}

static uint32_t rng = 12345;

static uint32_t next(void)
{
	rng = rng * 1103515245u + 12345u;
	return rng >> 8;
}

static void test_same_as_snprintf_form(void **state)
{
	static const char *const keys[] = {"conn", "uid", "tenant", "sub", "upstream_request_id"};
	char values[16][1501], a[LINE_MAX_TEST], b[LINE_MAX_TEST];
	struct log_field f[16];

	(void)state;
	for (int round = 0; round < 20000; round++) {
		size_t n = next() % 16, size = 16 + next() % (LINE_MAX_TEST - 16), la, lb;

		for (size_t i = 0; i < n; i++) {
			size_t len = next() % 8 == 0 ? next() % 1500 : next() % 40;

			for (size_t j = 0; j < len; j++)
				values[i][j] = (char)(next() % 4 ? 'a' + next() % 26 : 1 + next() % 255);
			values[i][len] = '\0';
			f[i] = (struct log_field){keys[next() % 5], next() % 10 ? values[i] : NULL,
						  next() % 2 == 0, NULL};
		}
		memset(a, 'x', sizeof(a));
		memset(b, 'x', sizeof(b));
		la = logrec_text(a, size, "audit", f, n);
		lb = reference(b, size, "audit", f, n);
		assert_int_equal(la, lb);
		assert_memory_equal(a, b, la + 1);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_same_as_snprintf_form),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
