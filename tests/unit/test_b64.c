/* SPDX-License-Identifier: MIT */
/* Unit tests of broker/util/b64: strict, unpadded, canonical base64url (RFC 4648 §5, RFC 7515). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "util/b64.h"

static const char url_alphabet[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

struct vector {
	const char *bytes;
	size_t len;
	const char *text;
};

/* RFC 4648 §10 (padding dropped) and vectors that exercise the two url characters. */
static const struct vector vectors[] = {
	{"", 0, ""},
	{"f", 1, "Zg"},
	{"fo", 2, "Zm8"},
	{"foo", 3, "Zm9v"},
	{"foob", 4, "Zm9vYg"},
	{"fooba", 5, "Zm9vYmE"},
	{"foobar", 6, "Zm9vYmFy"},
	{"\xfb\xff", 2, "-_8"},
	{"\xff\xff\xff", 3, "____"},
	{"\xfb\xef\xbe", 3, "----"},
	{"\x3e\xff\xbf", 3, "Pv-_"},
	{"\0\0\0", 3, "AAAA"},
	{"\0", 1, "AA"},
	{"\0a\0", 3, "AGEA"},
};

static void test_known_vectors(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++) {
		const struct vector *v = &vectors[i];
		char text[32];
		uint8_t bytes[32];

		memset(text, 'X', sizeof(text));
		assert_int_equal(b64url_encoded_len(v->len), strlen(v->text));
		assert_int_equal(b64url_encode(v->bytes, v->len, text), strlen(v->text));
		assert_string_equal(text, v->text);
		assert_int_equal(text[strlen(v->text) + 1], 'X'); /* NUL and nothing after it */

		assert_int_equal(b64url_decode(v->text, strlen(v->text), bytes, sizeof(bytes)),
				 (int)v->len);
		assert_memory_equal(bytes, v->bytes, v->len);
	}
}

/* A deterministic byte pattern (lint bans rand()). */
static void fill(uint8_t *p, size_t n, uint32_t seed)
{
	uint32_t x = seed * 2654435761u + 1;

	for (size_t i = 0; i < n; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		p[i] = (uint8_t)x;
	}
}

static void test_round_trip_0_to_100(void **state)
{
	(void)state;
	for (size_t n = 0; n <= 100; n++) {
		uint8_t data[100], back[104];
		char text[140];
		size_t tl;
		uint8_t *alloc = NULL;
		size_t alloc_len = 12345;

		fill(data, n, (uint32_t)n);
		if (n > 3)
			data[n / 2] = 0; /* NUL bytes are data like any other */
		tl = b64url_encode(data, n, text);
		assert_int_equal(tl, b64url_encoded_len(n));
		assert_int_equal(strlen(text), tl);
		assert_int_not_equal(tl % 4, 1);
		assert_true(b64url_valid_chars(text, tl));
		assert_true(b64url_decoded_max(tl) >= n);

		/* exact-size output buffer, with a canary after it */
		memset(back, 0xEE, sizeof(back));
		assert_int_equal(b64url_decode(text, tl, back, n), (int)n);
		assert_memory_equal(back, data, n);
		assert_int_equal(back[n], 0xEE);

		/* one byte short: refused, nothing written */
		if (n > 0) {
			memset(back, 0xEE, sizeof(back));
			assert_int_equal(b64url_decode(text, tl, back, n - 1), -EMSGSIZE);
			for (size_t i = 0; i < sizeof(back); i++)
				assert_int_equal(back[i], 0xEE);
		}

		assert_int_equal(b64url_decode_alloc(text, tl, &alloc, &alloc_len), 0);
		assert_non_null(alloc);
		assert_int_equal(alloc_len, n);
		assert_memory_equal(alloc, data, n);
		assert_int_equal(alloc[n], 0); /* the extra NUL */
		free(alloc);
	}
}

static void test_empty(void **state)
{
	uint8_t *alloc = NULL;
	size_t len = 99;
	char text[1] = {'X'};

	(void)state;
	assert_int_equal(b64url_decode("", 0, NULL, 0), 0);
	assert_int_equal(b64url_encode("", 0, text), 0);
	assert_int_equal(text[0], '\0');
	assert_true(b64url_valid_chars("", 0));
	assert_int_equal(b64url_decode_alloc("", 0, &alloc, &len), 0);
	assert_non_null(alloc);
	assert_int_equal(len, 0);
	assert_int_equal(alloc[0], 0);
	free(alloc);
}

static void test_alphabet(void **state)
{
	(void)state;
	/* every byte value in each position of a 4-character group: exactly the 64 url
	 * characters are accepted */
	for (int c = 0; c < 256; c++) {
		int in = c != 0 && strchr(url_alphabet, c) != NULL;

		for (int pos = 0; pos < 4; pos++) {
			char s[4] = {'A', 'A', 'A', 'A'};
			uint8_t out[3];

			s[pos] = (char)c;
			assert_int_equal(b64url_valid_chars(s, 4), in);
			assert_int_equal(b64url_decode(s, 4, out, sizeof(out)), in ? 3 : -EBADMSG);
		}
	}
	assert_int_equal(strlen(url_alphabet), 64);
	/* each character decodes to its index */
	for (int i = 0; i < 64; i++) {
		char s[4] = {url_alphabet[i], 'A', 'A', 'A'};
		uint8_t out[3];

		assert_int_equal(b64url_decode(s, 4, out, sizeof(out)), 3);
		assert_int_equal(out[0] >> 2, i);
	}
}

static void test_rejects_standard_alphabet_and_padding(void **state)
{
	static const char *const bad[] = {
		"+/8",      /* the standard alphabet's 62 and 63 */
		"Zm9v+A",   "Zm9v/A",
		"Zg==",     /* padding */
		"Zm8=",     "Zg=",    "Zm9vYg==", "=",  "====",
		"Zm 9v",    /* whitespace */
		"Zm9v\n",   "Zm9v\r\nYg", " Zm9v", "Zm9v\t",
		"Zm.9",     "Zm9v~A", "Zm9v%3D", "\xc3\xa9Zm", "Zm\x80v",
	};
	uint8_t out[64], *alloc = NULL;
	size_t len;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		size_t n = strlen(bad[i]);

		assert_false(b64url_valid_chars(bad[i], n));
		assert_int_equal(b64url_decode(bad[i], n, out, sizeof(out)), -EBADMSG);
		assert_int_equal(b64url_decode_alloc(bad[i], n, &alloc, &len), -EBADMSG);
	}
	/* a NUL inside the counted text is a character like any other: invalid */
	assert_false(b64url_valid_chars("Zm\0v", 4));
	assert_int_equal(b64url_decode("Zm\0v", 4, out, sizeof(out)), -EBADMSG);
	assert_int_equal(b64url_decode("Zm9vYmFy\0", 9, out, sizeof(out)), -EBADMSG);
	/* the count is what matters, not a terminating NUL: a prefix decodes */
	assert_int_equal(b64url_decode("Zm9vYmFy!!!", 8, out, sizeof(out)), 6);
	assert_memory_equal(out, "foobar", 6);
}

static void test_length_one_mod_four(void **state)
{
	uint8_t out[64], *alloc = NULL;
	size_t len;

	(void)state;
	/* a single leftover character carries only 6 bits: never a valid text */
	for (size_t n = 1; n < 40; n += 4) {
		char s[41];

		memset(s, 'A', n);
		assert_int_equal(b64url_decode(s, n, out, sizeof(out)), -EBADMSG);
		assert_int_equal(b64url_decode_alloc(s, n, &alloc, &len), -EBADMSG);
	}
}

static void test_non_canonical(void **state)
{
	uint8_t out[8];

	(void)state;
	/* two characters carry 12 bits for one byte: the last 4 must be zero ("QQ" = "A") */
	for (int i = 0; i < 64; i++) {
		char s[2] = {'Q', url_alphabet[i]};

		assert_int_equal(b64url_decode(s, 2, out, sizeof(out)), i % 16 == 0 ? 1 : -EBADMSG);
		if (i % 16 == 0)
			assert_int_equal(out[0], 0x40 | (i >> 4));
	}
	/* three characters carry 18 bits for two bytes: the last 2 must be zero ("QUI" = "AB") */
	for (int i = 0; i < 64; i++) {
		char s[3] = {'Q', 'U', url_alphabet[i]};

		assert_int_equal(b64url_decode(s, 3, out, sizeof(out)), i % 4 == 0 ? 2 : -EBADMSG);
	}
	assert_int_equal(b64url_decode("QUI", 3, out, sizeof(out)), 2);
	assert_memory_equal(out, "AB", 2);
	assert_int_equal(b64url_decode("QUJ", 3, out, sizeof(out)), -EBADMSG);
	assert_int_equal(b64url_decode("QR", 2, out, sizeof(out)), -EBADMSG);
	/* also after full groups: the canonical check is about the tail only */
	assert_int_equal(b64url_decode("Zm9vQQ", 6, out, sizeof(out)), 4);
	assert_int_equal(b64url_decode("Zm9vQR", 6, out, sizeof(out)), -EBADMSG);
	assert_int_equal(b64url_decode("Zm9vYh", 6, out, sizeof(out)), -EBADMSG);
	assert_int_equal(b64url_decode("-_8", 3, out, sizeof(out)), 2);
	assert_int_equal(b64url_decode("-_9", 3, out, sizeof(out)), -EBADMSG);
	assert_int_equal(b64url_decode("-__", 3, out, sizeof(out)), -EBADMSG);
	/* so one byte string has one text: of the 64 texts sharing the first character of a
	 * byte's encoding, exactly 4 decode (one per value of the 2 bits the first character
	 * leaves), and each re-encodes to itself */
	for (int b = 0; b < 256; b++) {
		uint8_t one = (uint8_t)b;
		char text[4], again[4];
		int accepted = 0;

		b64url_encode(&one, 1, text);
		for (int i = 0; i < 64; i++) {
			char alt[2] = {text[0], url_alphabet[i]};
			int r = b64url_decode(alt, 2, out, sizeof(out));

			if (r == -EBADMSG)
				continue;
			assert_int_equal(r, 1);
			accepted++;
			b64url_encode(out, 1, again);
			assert_memory_equal(again, alt, 2);
			if (alt[1] == text[1])
				assert_int_equal(out[0], b);
		}
		assert_int_equal(accepted, 4);
	}
}

static void test_output_bounds(void **state)
{
	uint8_t out[16];

	(void)state;
	/* n % 4 == 2 needs 1 byte, n % 4 == 3 needs 2 bytes, a group 3 */
	assert_int_equal(b64url_decode("Zg", 2, out, 0), -EMSGSIZE);
	assert_int_equal(b64url_decode("Zg", 2, out, 1), 1);
	assert_int_equal(b64url_decode("Zm8", 3, out, 1), -EMSGSIZE);
	assert_int_equal(b64url_decode("Zm8", 3, out, 2), 2);
	assert_int_equal(b64url_decode("Zm9v", 4, out, 2), -EMSGSIZE);
	assert_int_equal(b64url_decode("Zm9v", 4, out, 3), 3);
	assert_int_equal(b64url_decode("Zm9vYmE", 7, out, 4), -EMSGSIZE);
	assert_int_equal(b64url_decode("Zm9vYmE", 7, out, 5), 5);

	/* a length whose decoding would not fit the int result is refused before any byte of
	 * the text is read (the text here is only 4 bytes long: ASan would catch a read) */
	assert_int_equal(b64url_decode("AAAA", (size_t)INT32_MAX / 3 * 4 + 8, out, SIZE_MAX),
			 -EMSGSIZE);
	assert_int_equal(b64url_decode("AAAA", SIZE_MAX - 1, out, SIZE_MAX), -EMSGSIZE);

	/* the bounds helpers */
	for (size_t n = 0; n < 1000; n++) {
		size_t e = b64url_encoded_len(n);

		assert_int_equal(e, (n * 8 + 5) / 6); /* ceil(8n / 6) */
		assert_true(b64url_decoded_max(e) >= n);
	}
}

static void test_decode_alloc_large(void **state)
{
	enum { N = 3000 };
	uint8_t *data = malloc(N), *back = NULL;
	char *text = malloc(b64url_encoded_len(N) + 1);
	size_t len = 0;

	(void)state;
	assert_non_null(data);
	assert_non_null(text);
	fill(data, N, 7);
	assert_int_equal(b64url_encode(data, N, text), b64url_encoded_len(N));
	assert_int_equal(b64url_decode_alloc(text, strlen(text), &back, &len), 0);
	assert_int_equal(len, N);
	assert_memory_equal(back, data, N);
	assert_int_equal(back[N], 0);
	free(back);
	/* one bad character at the very end fails the whole decode, and frees */
	text[strlen(text) - 1] = '=';
	back = NULL;
	assert_int_equal(b64url_decode_alloc(text, strlen(text), &back, &len), -EBADMSG);
	assert_null(back);
	free(text);
	free(data);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_known_vectors),
		cmocka_unit_test(test_round_trip_0_to_100),
		cmocka_unit_test(test_empty),
		cmocka_unit_test(test_alphabet),
		cmocka_unit_test(test_rejects_standard_alphabet_and_padding),
		cmocka_unit_test(test_length_one_mod_four),
		cmocka_unit_test(test_non_canonical),
		cmocka_unit_test(test_output_bounds),
		cmocka_unit_test(test_decode_alloc_large),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
