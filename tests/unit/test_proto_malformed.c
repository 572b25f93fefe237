/* SPDX-License-Identifier: MIT */
/* Message codec against hostile input: every class of malformed request names its cause. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <msgpack.h>

#include "proto/frame.h"
#include "proto/limits.h"
#include "proto/message.h"
#include "proto/mpcheck.h"

static const char *TOKEN = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJVMSJ9.c2ln";

/* ----------------------------------------------------------- malformed input */

struct raw {
	msgpack_sbuffer sb;
	msgpack_packer pk;
};

static void raw_init(struct raw *r)
{
	msgpack_sbuffer_init(&r->sb);
	msgpack_packer_init(&r->pk, &r->sb, msgpack_sbuffer_write);
}

static void raw_str(struct raw *r, const char *s)
{
	msgpack_pack_str_with_body(&r->pk, s, strlen(s));
}

/* Starts a request map of n pairs with id 4, op, a subject_token and, when with_table, table
 * "persons"; the caller packs the remaining pairs. */
static void raw_request(struct raw *r, uint32_t n, const char *op, bool with_table)
{
	raw_init(r);
	msgpack_pack_map(&r->pk, n);
	raw_str(r, "id");
	msgpack_pack_uint64(&r->pk, 4);
	raw_str(r, "op");
	raw_str(r, op);
	raw_str(r, "subject_token");
	raw_str(r, TOKEN);
	if (with_table) {
		raw_str(r, "table");
		raw_str(r, "persons");
	}
}

/* Decodes raw bytes; returns the error and copies its message. */
static int decode_raw(const void *p, size_t n, bool *id_known, char *msg, size_t msgsz)
{
	struct sb_request req;
	struct sb_proto_error e = {0};
	bool known;
	int r = sb_request_decode(&req, p, n, &known, &e);

	if (r == 0)
		sb_request_done(&req);
	else
		snprintf(msg, msgsz, "%s", e.message);
	if (id_known)
		*id_known = known;
	return r;
}

#define EXPECT(r_, substr_)                                                                  \
	do {                                                                                 \
		char m_[200] = "";                                                           \
		int got_ = decode_raw(raw.sb.data, raw.sb.size, &id_known, m_, sizeof(m_)); \
		if (got_ != (r_) || !strstr(m_, (substr_)))                                  \
			fail_msg("got %d '%s', want %d '%s'", got_, m_, (r_), (substr_));    \
		msgpack_sbuffer_destroy(&raw.sb);                                            \
	} while (0)

static void test_bad_top_level(void **state)
{
	struct raw raw;
	bool id_known;

	raw_init(&raw);
	msgpack_pack_array(&raw.pk, 2);
	raw_str(&raw, "id");
	raw_str(&raw, "op");
	EXPECT(-EBADMSG, "not a map");

	raw_init(&raw);
	raw_str(&raw, "hello");
	EXPECT(-EBADMSG, "not a map");

	raw_init(&raw);
	msgpack_pack_map(&raw.pk, 1);
	msgpack_pack_int(&raw.pk, 1); /* integer key */
	raw_str(&raw, "x");
	EXPECT(-EBADMSG, "not a string");

	assert_int_equal(decode_raw("", 0, &id_known, (char[64]){0}, 64), -EBADMSG);
}

static void test_truncated_and_trailing(void **state)
{
	struct raw raw;
	bool id_known;
	char m[200];

	raw_init(&raw);
	msgpack_pack_map(&raw.pk, 2);
	raw_str(&raw, "id");
	msgpack_pack_uint64(&raw.pk, 1);
	raw_str(&raw, "op");
	raw_str(&raw, "ping");
	assert_int_equal(decode_raw(raw.sb.data, raw.sb.size, &id_known, m, sizeof(m)), 0);
	/* every proper prefix is truncated */
	for (size_t n = 1; n < raw.sb.size; n++) {
		assert_int_equal(decode_raw(raw.sb.data, n, &id_known, m, sizeof(m)), -EBADMSG);
		assert_non_null(strstr(m, "byte"));
		assert_false(id_known);
	}
	/* one extra byte after the map */
	msgpack_pack_nil(&raw.pk);
	EXPECT(-EBADMSG, "trailing bytes");
}

static void test_wrong_types_name_the_field(void **state)
{
	struct raw raw;
	bool id_known;

	raw_init(&raw); /* no id */
	msgpack_pack_map(&raw.pk, 1);
	raw_str(&raw, "op");
	raw_str(&raw, "ping");
	EXPECT(-EBADMSG, "field 'id' is missing");
	assert_false(id_known);

	raw_init(&raw); /* negative id */
	msgpack_pack_map(&raw.pk, 2);
	raw_str(&raw, "id");
	msgpack_pack_int(&raw.pk, -5);
	raw_str(&raw, "op");
	raw_str(&raw, "ping");
	EXPECT(-EBADMSG, "field 'id' must be a positive integer");

	raw_init(&raw); /* op is a number */
	msgpack_pack_map(&raw.pk, 2);
	raw_str(&raw, "id");
	msgpack_pack_uint64(&raw.pk, 3);
	raw_str(&raw, "op");
	msgpack_pack_int(&raw.pk, 7);
	EXPECT(-EBADMSG, "field 'op' must be a string");
	assert_true(id_known);

	raw_init(&raw); /* unknown op */
	msgpack_pack_map(&raw.pk, 2);
	raw_str(&raw, "id");
	msgpack_pack_uint64(&raw.pk, 3);
	raw_str(&raw, "op");
	raw_str(&raw, "launch_missiles");
	EXPECT(-EOPNOTSUPP, "unknown operation");
	assert_true(id_known);

	raw_request(&raw, 3, "get_records", false); /* get_records without table */
	EXPECT(-EBADMSG, "field 'table' is missing");
	assert_true(id_known);

	raw_request(&raw, 4, "get_records", false); /* table is an array, limit too big, unknown field ignored */
	raw_str(&raw, "table");
	msgpack_pack_array(&raw.pk, 0);
	EXPECT(-EBADMSG, "field 'table' must be a string");

	raw_request(&raw, 6, "get_records", true);
	raw_str(&raw, "from_the_future");
	msgpack_pack_array(&raw.pk, 0);
	raw_str(&raw, "limit");
	msgpack_pack_uint64(&raw.pk, 26);
	EXPECT(-EBADMSG, "field 'limit' must be at most 25");

	raw_request(&raw, 5, "get_record", true); /* bad enum value */
	raw_str(&raw, "redaction");
	raw_str(&raw, "plain_text");
	EXPECT(-EBADMSG, "field 'skyflow_id' is missing");

	raw_request(&raw, 6, "get_record", true);
	raw_str(&raw, "skyflow_id");
	raw_str(&raw, "x");
	raw_str(&raw, "redaction");
	raw_str(&raw, "plain_text"); /* exact case only */
	EXPECT(-EBADMSG, "field 'redaction' has an unknown value");

	raw_request(&raw, 4, "exchange", false); /* duplicate field */
	raw_str(&raw, "subject_token");
	raw_str(&raw, "other");
	EXPECT(-EBADMSG, "field 'subject_token' appears twice");

	raw_request(&raw, 5, "delete_records", true); /* array of strings with a number in it */
	raw_str(&raw, "skyflow_ids");
	msgpack_pack_array(&raw.pk, 2);
	raw_str(&raw, "a");
	msgpack_pack_int(&raw.pk, 1);
	EXPECT(-EBADMSG, "field 'skyflow_ids' must be an array of strings");

	raw_request(&raw, 5, "insert_records", true); /* records that are not maps */
	raw_str(&raw, "records");
	msgpack_pack_array(&raw.pk, 1);
	raw_str(&raw, "not a map");
	EXPECT(-EBADMSG, "field 'records' must be an array of maps");

	raw_init(&raw); /* hello with no versions */
	msgpack_pack_map(&raw.pk, 4);
	raw_str(&raw, "id");
	msgpack_pack_uint64(&raw.pk, 1);
	raw_str(&raw, "op");
	raw_str(&raw, "hello");
	raw_str(&raw, "versions");
	msgpack_pack_array(&raw.pk, 0);
	raw_str(&raw, "client");
	raw_str(&raw, "t/1");
	EXPECT(-EBADMSG, "field 'versions' must be a non-empty array of integers");
}

static void test_string_limits(void **state)
{
	struct raw raw;
	bool id_known;
	char *big = malloc(SB_MAX_NAME_LEN + 2);

	memset(big, 'a', SB_MAX_NAME_LEN + 1);
	big[SB_MAX_NAME_LEN + 1] = '\0';
	raw_request(&raw, 4, "get_records", false);
	raw_str(&raw, "table");
	raw_str(&raw, big);
	EXPECT(-EMSGSIZE, "field 'table' is longer than 256 bytes");
	free(big);

	/* embedded NUL: "per\0sons" */
	raw_request(&raw, 4, "get_records", false);
	raw_str(&raw, "table");
	msgpack_pack_str_with_body(&raw.pk, "per\0sons", 8);
	EXPECT(-EBADMSG, "contains a NUL byte");

	/* invalid UTF-8 (a lone continuation byte, an overlong '/', a surrogate) */
	const char *bad[] = {"\x80", "\xc0\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80", "abc\xe2\x82"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		raw_init(&raw);
		msgpack_pack_map(&raw.pk, 3);
		raw_str(&raw, "id");
		msgpack_pack_uint64(&raw.pk, 4);
		raw_str(&raw, "op");
		raw_str(&raw, "exchange");
		raw_str(&raw, "subject_token");
		raw_str(&raw, bad[i]);
		EXPECT(-EBADMSG, "not valid UTF-8");
	}
	assert_true(sb_utf8_valid((const uint8_t *)"h\xc3\xa9llo \xf0\x9f\x94\x91", 11));
}

/* sb_utf8_valid takes ASCII eight bytes at a time: a bad byte, a good sequence, a cut one and
 * an overlong one at every offset around those blocks are judged as byte by byte. */
static void test_utf8_blocks(void **state)
{
	static const struct {
		const char *seq;
		size_t n;
		bool ok;
	} cases[] = {
		{"\x80", 1, false},         {"\xff", 1, false},
		{"\xc3\xa9", 2, true},      {"\xf0\x9f\x94\x91", 4, true},
		{"\xc0\xaf", 2, false},     {"\xed\xa0\x80", 3, false}, /* overlong, surrogate */
	};
	uint8_t buf[40];

	(void)state;
	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		for (size_t at = 0; at + cases[c].n <= 24; at++) {
			for (size_t len = at + cases[c].n; len <= 24; len++) {
				memset(buf, 'a', sizeof(buf));
				memcpy(buf + at, cases[c].seq, cases[c].n);
				assert_int_equal(sb_utf8_valid(buf, len), cases[c].ok);
			}
			/* cut short by the end of the string */
			if (cases[c].n > 1) {
				memset(buf, 'a', sizeof(buf));
				memcpy(buf + at, cases[c].seq, cases[c].n);
				assert_false(sb_utf8_valid(buf, at + cases[c].n - 1));
			}
		}
	}
	memset(buf, 'a', sizeof(buf));
	assert_true(sb_utf8_valid(buf, sizeof(buf)));
	assert_true(sb_utf8_valid(buf, 0));
}

static void test_forbidden_types(void **state)
{
	struct raw raw;
	bool id_known;

	raw_init(&raw);
	msgpack_pack_map(&raw.pk, 3);
	raw_str(&raw, "id");
	msgpack_pack_uint64(&raw.pk, 4);
	raw_str(&raw, "op");
	raw_str(&raw, "ping");
	raw_str(&raw, "blob");
	msgpack_pack_bin_with_body(&raw.pk, "xx", 2);
	EXPECT(-EBADMSG, "binary value");

	raw_init(&raw);
	msgpack_pack_map(&raw.pk, 3);
	raw_str(&raw, "id");
	msgpack_pack_uint64(&raw.pk, 4);
	raw_str(&raw, "op");
	raw_str(&raw, "ping");
	raw_str(&raw, "ext");
	msgpack_pack_ext_with_body(&raw.pk, "abcd", 4, 1);
	EXPECT(-EBADMSG, "extension value");

	const uint8_t reserved[] = {0x81, 0xa1, 'x', 0xc1};
	assert_int_equal(decode_raw(reserved, sizeof(reserved), &id_known, (char[200]){0}, 200),
			 -EBADMSG);
}

static void test_deep_nesting(void **state)
{
	uint8_t buf[64];
	size_t n = 0;
	bool id_known;
	char m[200];

	/* {"a": [[[[...]]]]} nested one level past the limit */
	buf[n++] = 0x81;
	buf[n++] = 0xa1;
	buf[n++] = 'a';
	for (unsigned i = 0; i < SB_MAX_DEPTH; i++)
		buf[n++] = 0x91;
	buf[n++] = 0xc0;
	assert_int_equal(decode_raw(buf, n, &id_known, m, sizeof(m)), -EMSGSIZE);
	assert_non_null(strstr(m, "nesting deeper than 16"));

	/* exactly at the limit is structurally fine (then fails for the missing id) */
	n = 0;
	buf[n++] = 0x81;
	buf[n++] = 0xa1;
	buf[n++] = 'a';
	for (unsigned i = 0; i < SB_MAX_DEPTH - 1; i++)
		buf[n++] = 0x91;
	buf[n++] = 0xc0;
	assert_int_equal(decode_raw(buf, n, &id_known, m, sizeof(m)), -EBADMSG);
	assert_non_null(strstr(m, "field 'id' is missing"));
}

static void test_huge_declared_counts(void **state)
{
	/* STYLE.md's attack: 200 nested array32 headers, each declaring 16M elements, in ~1000
	 * bytes. The checker must refuse it without msgpack-c ever reserving memory for it. */
	uint8_t buf[1000];
	size_t n = 0;
	bool id_known;
	char m[200];

	while (n + 5 <= sizeof(buf)) {
		buf[n++] = 0xdd;
		sb_be32_put(buf + n, 16u * 1024u * 1024u);
		n += 4;
	}
	assert_int_equal(decode_raw(buf, n, &id_known, m, sizeof(m)), -EMSGSIZE);
	assert_non_null(strstr(m, "declares 16777216 entries (limit 4096)"));

	/* a count under the container limit but more than the bytes that follow */
	n = 0;
	buf[n++] = 0xdf; /* map32 */
	sb_be32_put(buf + n, 4000);
	n += 4;
	buf[n++] = 0xa1;
	buf[n++] = 'k';
	buf[n++] = 0xc0;
	assert_int_equal(decode_raw(buf, n, &id_known, m, sizeof(m)), -EBADMSG);
	assert_non_null(strstr(m, "declares 4000 entries but only 3 bytes follow"));

	/* a str32 declaring 4 GiB */
	n = 0;
	buf[n++] = 0x81;
	buf[n++] = 0xdb;
	sb_be32_put(buf + n, 0xffffffffu);
	n += 4;
	assert_int_equal(decode_raw(buf, n, &id_known, m, sizeof(m)), -EMSGSIZE);
	assert_non_null(strstr(m, "longer than"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bad_top_level),
		cmocka_unit_test(test_truncated_and_trailing),
		cmocka_unit_test(test_wrong_types_name_the_field),
		cmocka_unit_test(test_string_limits),
		cmocka_unit_test(test_utf8_blocks),
		cmocka_unit_test(test_forbidden_types),
		cmocka_unit_test(test_deep_nesting),
		cmocka_unit_test(test_huge_declared_counts),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
