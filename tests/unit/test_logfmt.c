/* SPDX-License-Identifier: MIT */
/* Unit tests of util/logfmt: bare when safe, quoted and escaped otherwise, cut cleanly. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "util/logfmt.h"

static void test_bare(void **state)
{
	char out[64];

	(void)state;
	assert_string_equal(logfmt_value(out, sizeof(out), "U2abc"), "U2abc");
	assert_string_equal(logfmt_value(out, sizeof(out), "-"), "-");
	assert_string_equal(logfmt_value(out, sizeof(out), "a.b:c/d+e_f-g~'(x)"), "a.b:c/d+e_f-g~'(x)");
	assert_ptr_equal(logfmt_value(out, sizeof(out), "ok"), out);
}

static void test_quoted(void **state)
{
	char out[64];

	(void)state;
	/* the finding: a value that reads as a second field */
	assert_string_equal(logfmt_value(out, sizeof(out), "U2x outcome=ok"), "\"U2x outcome=ok\"");
	assert_string_equal(logfmt_value(out, sizeof(out), "a=b"), "\"a=b\"");
	assert_string_equal(logfmt_value(out, sizeof(out), ""), "\"\"");
	assert_string_equal(logfmt_value(out, sizeof(out), NULL), "\"\"");
	assert_string_equal(logfmt_value(out, sizeof(out), "say \"hi\""), "\"say \\\"hi\\\"\"");
	assert_string_equal(logfmt_value(out, sizeof(out), "a\\b"), "\"a\\\\b\"");
	/* a forged line, terminal escapes, DEL, UTF-8 */
	assert_string_equal(logfmt_value(out, sizeof(out), "x\n<3>forged\r\t"),
			    "\"x\\n<3>forged\\r\\t\"");
	assert_string_equal(logfmt_value(out, sizeof(out), "\x1b[31m\x7f"), "\"\\x1b[31m\\x7f\"");
	assert_string_equal(logfmt_value(out, sizeof(out), "caf\xc3\xa9"), "\"caf\\xc3\\xa9\"");
	assert_string_equal(logfmt_bytes(out, sizeof(out), "a\0b", 3), "\"a\\x00b\"");
}

/* Every byte value: the output is one field (no space outside quotes, one closing quote,
 * nothing below 0x20 or above 0x7e), and reading it back gives the input. */
static void test_every_byte_round_trips(void **state)
{
	(void)state;
	for (int c = 0; c < 256; c++) {
		unsigned char in[3] = {'x', (unsigned char)c, 'y'}, back[3];
		char out[LOGFMT_MAX(3)];
		size_t n = 0, len;

		logfmt_bytes(out, sizeof(out), in, sizeof(in));
		len = strlen(out);
		for (size_t i = 0; i < len; i++)
			assert_true(out[i] >= 0x20 && out[i] < 0x7f);
		if (out[0] != '"') {
			assert_int_equal(len, 3);
			assert_memory_equal(out, in, 3);
			continue;
		}
		assert_int_equal(out[len - 1], '"');
		for (size_t i = 1; i + 1 < len; i++) {
			char h[3] = {0};

			assert_true(n < sizeof(back));
			if (out[i] != '\\') {
				assert_true(out[i] != '"');
				back[n++] = (unsigned char)out[i];
				continue;
			}
			switch (out[++i]) {
			case 'n': back[n++] = '\n'; break;
			case 'r': back[n++] = '\r'; break;
			case 't': back[n++] = '\t'; break;
			case '"': back[n++] = '"'; break;
			case '\\': back[n++] = '\\'; break;
			case 'x':
				h[0] = out[i + 1];
				h[1] = out[i + 2];
				back[n++] = (unsigned char)strtoul(h, NULL, 16);
				i += 2;
				break;
			default: fail_msg("unknown escape in %s", out);
			}
		}
		assert_int_equal(n, 3);
		assert_memory_equal(back, in, 3);
	}
}

static void test_worst_case_fits(void **state)
{
	unsigned char in[64];
	char out[LOGFMT_MAX(sizeof(in))];

	(void)state;
	memset(in, 0x01, sizeof(in));
	logfmt_bytes(out, sizeof(out), in, sizeof(in));
	assert_int_equal(strlen(out), sizeof(out) - 1);
	assert_int_equal(out[sizeof(out) - 2], '"');
}

static void test_cut(void **state)
{
	char out[8];

	(void)state;
	/* bare: cut to n - 1 bytes */
	assert_string_equal(logfmt_value(out, sizeof(out), "abcdefghij"), "abcdefg");
	/* quoted: the closing quote stays, and no escape is split */
	assert_string_equal(logfmt_value(out, sizeof(out), "a b c d e"), "\"a b c\"");
	assert_string_equal(logfmt_value(out, sizeof(out), "ab\x01\x02"), "\"ab\"");
	assert_string_equal(logfmt_value(out, sizeof(out), "a\"\"\"\""), "\"a\\\"\\\"\"");
	assert_string_equal(logfmt_value(out, 3, "a b"), "\"\"");
	assert_string_equal(logfmt_value(out, 2, "a b"), "");
	assert_string_equal(logfmt_value(out, 2, "ab"), "a");
	out[0] = 'z';
	logfmt_value(out, 0, "a b");
	assert_int_equal(out[0], 'z');
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bare),
		cmocka_unit_test(test_quoted),
		cmocka_unit_test(test_every_byte_round_trips),
		cmocka_unit_test(test_worst_case_fits),
		cmocka_unit_test(test_cut),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
