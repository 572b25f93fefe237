/* SPDX-License-Identifier: MIT */
/*
 * A decoded request keeps only the fields of its operation, in one exactly sized block
 * (sb_request_compact, issue 9 item 1): a huge unknown field costs nothing once decoded, every
 * field reads the same, and the subject token left in the decode zone is wiped before the zone
 * is freed. Linked with -Wl,--wrap=msgpack_zone_free to look at the zone as it is freed.
 */
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

static const char *TOKEN = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJVMSJ9.c2ln";

/* ---------------------------------------------------------------- the zone being freed */

void __real_msgpack_zone_free(msgpack_zone *z);
void __wrap_msgpack_zone_free(msgpack_zone *z);

/* While armed: the bytes that must be wiped by the time their zone is freed. */
static struct {
	const char *token;
	size_t token_len;
	const uint8_t *raw;
	size_t raw_len;
	unsigned frees;
	bool token_wiped, raw_wiped;
} watch;

static bool all_zero(const void *p, size_t n)
{
	const uint8_t *b = p;

	for (size_t i = 0; i < n; i++)
		if (b[i])
			return false;
	return true;
}

void __wrap_msgpack_zone_free(msgpack_zone *z)
{
	if (watch.token) {
		watch.frees++;
		watch.token_wiped = all_zero(watch.token, watch.token_len);
		watch.raw_wiped = all_zero(watch.raw, watch.raw_len);
	}
	__real_msgpack_zone_free(z);
}

/* ---------------------------------------------------------------- helpers */

static void pack_str(msgpack_packer *pk, const char *s)
{
	msgpack_pack_str_with_body(pk, s, strlen(s));
}

/* 15 arrays of 4,096 nils: 61 KB on the wire, about 1.5 MB of msgpack objects once decoded. */
static void pack_padding(msgpack_packer *pk)
{
	msgpack_pack_array(pk, 15);
	for (int i = 0; i < 15; i++) {
		msgpack_pack_array(pk, SB_MAX_CONTAINER);
		for (unsigned k = 0; k < SB_MAX_CONTAINER; k++)
			msgpack_pack_nil(pk);
	}
}

/* Encodes req as a frame and adds the unknown field "padding" to its map; returns the
 * payload (caller frees) and its length. */
static uint8_t *encode_padded(const struct sb_request *req, size_t *len)
{
	struct sb_buf b;
	msgpack_sbuffer sb;
	msgpack_packer pk;
	const uint8_t *p;
	uint8_t *out;
	size_t n;

	sb_buf_init(&b, SB_MAX_REQUEST_FRAME_LIMIT);
	assert_int_equal(sb_request_encode(req, &b, SB_MAX_REQUEST_FRAME_LIMIT), 0);
	assert_int_equal(sb_frame_next(&b, SB_MAX_REQUEST_FRAME_LIMIT, &p, &n, NULL),
			 SB_FRAME_READY);
	/* a small map is a fixmap: one more pair is one more in its first byte */
	assert_true(p[0] >= 0x80 && p[0] < 0x8f);
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	pack_str(&pk, "padding");
	pack_padding(&pk);
	out = malloc(n + sb.size);
	assert_non_null(out);
	memcpy(out, p, n);
	out[0]++;
	memcpy(out + n, sb.data, sb.size);
	*len = n + sb.size;
	msgpack_sbuffer_destroy(&sb);
	sb_buf_free(&b);
	return out;
}

static void decode_padded(const struct sb_request *req, struct sb_request *out, size_t *frame)
{
	struct sb_proto_error e = {0};
	bool id_known;
	uint8_t *p = encode_padded(req, frame);

	if (sb_request_decode(out, p, *frame, &id_known, &e) != 0)
		fail_msg("decode failed: %s", e.message);
	free(p);
	assert_int_equal(out->id, req->id);
	assert_int_equal(out->op, req->op);
	assert_null(out->zone);
	assert_null(out->raw);
}

static void assert_strv_equal(const struct sb_strv *a, const struct sb_strv *b)
{
	assert_int_equal(a->set, b->set);
	assert_int_equal(a->n, b->n);
	for (uint32_t i = 0; i < a->n; i++)
		assert_string_equal(a->v[i], b->v[i]);
	if (a->set)
		assert_null(a->v[a->n]);
}

#define STRV(...)                                                                            \
	((struct sb_strv){.set = true,                                                       \
			  .n = sizeof((const char *[]){__VA_ARGS__}) / sizeof(char *),        \
			  .v = (const char *[]){__VA_ARGS__}})

/* ---------------------------------------------------------------- tests */

static void test_unknown_field_is_dropped(void **state)
{
	struct sb_request req = {.id = 3, .op = SB_OP_EXCHANGE}, out;
	size_t frame;

	req.u.exchange.subject_token = TOKEN;
	decode_padded(&req, &out, &frame);
	assert_true(frame > 60000);
	assert_string_equal(out.u.exchange.subject_token, TOKEN);
	/* the token and its NUL, nothing else */
	assert_int_equal(sb_request_held(&out), strlen(TOKEN) + 1);
	print_message("  exchange frame of %zu bytes holds %zu once decoded\n", frame,
		      sb_request_held(&out));
	sb_request_done(&out);
	assert_int_equal(sb_request_held(&out), 0);
	sb_request_done(&out); /* idempotent */
}

static void test_every_field_reads_the_same(void **state)
{
	uint64_t versions[] = {3, 1};
	struct sb_request req = {.id = 4, .op = SB_OP_GET_RECORDS}, out;
	struct sb_get_records_args *a = &req.u.get_records, *o = &out.u.get_records;
	size_t frame;

	a->subject_token = TOKEN;
	a->table = "persons";
	a->skyflow_ids = STRV("id1", "id2");
	a->redaction = "MASKED";
	a->fields = STRV("name", "ssn");
	a->offset = (struct sb_opt_u64){true, 50};
	a->limit = (struct sb_opt_u64){true, 25};
	a->column_name = "email_address";
	a->column_values = STRV("a@x.com");
	a->order_by = "DESCENDING";
	a->tokenization = (struct sb_opt_bool){true, true};
	decode_padded(&req, &out, &frame);
	assert_string_equal(o->subject_token, TOKEN);
	assert_string_equal(o->table, "persons");
	assert_strv_equal(&o->skyflow_ids, &a->skyflow_ids);
	assert_string_equal(o->redaction, "MASKED");
	assert_strv_equal(&o->fields, &a->fields);
	assert_true(o->offset.set && o->offset.v == 50);
	assert_true(o->limit.set && o->limit.v == 25);
	assert_string_equal(o->column_name, "email_address");
	assert_strv_equal(&o->column_values, &a->column_values);
	assert_string_equal(o->order_by, "DESCENDING");
	assert_true(o->tokenization.set && o->tokenization.v);
	assert_false(o->download_url.set);
	assert_true(sb_request_held(&out) < 512);
	sb_request_done(&out);

	req = (struct sb_request){.id = 1, .op = SB_OP_HELLO};
	req.u.hello.versions = (struct sb_u64v){true, 2, versions};
	req.u.hello.client = "mcp-server/0.3";
	decode_padded(&req, &out, &frame);
	assert_int_equal(out.u.hello.versions.n, 2);
	assert_int_equal(out.u.hello.versions.v[0], 3);
	assert_int_equal(out.u.hello.versions.v[1], 1);
	assert_string_equal(out.u.hello.client, "mcp-server/0.3");
	assert_true(sb_request_held(&out) < 64);
	sb_request_done(&out);

	/* ops without arguments hold nothing */
	req = (struct sb_request){.id = 2, .op = SB_OP_PING};
	decode_padded(&req, &out, &frame);
	assert_int_equal(sb_request_held(&out), 0);
	assert_null(out.block);
	sb_request_done(&out);
}

/* [{"name": "Jane", "age": -41, "ok": true, "score": 1.5, "x": nil, "n": [1, {}]}, {...}] */
static void pack_records(msgpack_packer *pk)
{
	msgpack_pack_array(pk, 2);
	for (int i = 0; i < 2; i++) {
		msgpack_pack_map(pk, 6);
		pack_str(pk, "name");
		pack_str(pk, i ? "John" : "Jane");
		pack_str(pk, "age");
		msgpack_pack_int(pk, -41);
		pack_str(pk, "ok");
		msgpack_pack_true(pk);
		pack_str(pk, "score");
		msgpack_pack_double(pk, 1.5);
		pack_str(pk, "x");
		msgpack_pack_nil(pk);
		pack_str(pk, "n");
		msgpack_pack_array(pk, 2);
		msgpack_pack_uint64(pk, 1);
		msgpack_pack_map(pk, 0);
	}
}

static void test_generic_values_are_deep_copies(void **state)
{
	msgpack_sbuffer sb;
	msgpack_packer pk;
	msgpack_zone *z = msgpack_zone_new(4096);
	msgpack_object recs, fields;
	struct sb_request req = {.id = 9, .op = SB_OP_INSERT_RECORDS}, out;
	size_t off = 0, frame;

	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	pack_records(&pk);
	assert_int_equal(msgpack_unpack(sb.data, sb.size, &off, z, &recs), MSGPACK_UNPACK_SUCCESS);
	req.u.insert_records.subject_token = TOKEN;
	req.u.insert_records.table = "persons";
	req.u.insert_records.records = &recs;
	req.u.insert_records.upsert = "email";
	decode_padded(&req, &out, &frame);
	assert_true(sb_mp_equal(out.u.insert_records.records, &recs));
	assert_string_equal(out.u.insert_records.upsert, "email");
	assert_string_equal(out.u.insert_records.table, "persons");
	assert_true(sb_request_held(&out) < 2048);
	sb_request_done(&out);

	/* update_record's fields: a map */
	fields = recs.via.array.ptr[1];
	req = (struct sb_request){.id = 10, .op = SB_OP_UPDATE_RECORD};
	req.u.update_record.subject_token = TOKEN;
	req.u.update_record.table = "persons";
	req.u.update_record.skyflow_id = "abc";
	req.u.update_record.fields = &fields;
	decode_padded(&req, &out, &frame);
	assert_true(sb_mp_equal(out.u.update_record.fields, &fields));
	assert_string_equal(out.u.update_record.skyflow_id, "abc");
	sb_request_done(&out);

	req = (struct sb_request){.id = 11, .op = SB_OP_TOKENIZE};
	req.u.tokenize.subject_token = TOKEN;
	req.u.tokenize.column_group = "ssn_group";
	req.u.tokenize.values = STRV("123-45-6789", "", "987-65-4321");
	decode_padded(&req, &out, &frame);
	assert_strv_equal(&out.u.tokenize.values, &req.u.tokenize.values);
	sb_request_done(&out);

	msgpack_sbuffer_destroy(&sb);
	msgpack_zone_free(z);
}

/* A request still in its decode zone, as sb_request_decode leaves it before compacting. */
static void test_zone_is_wiped_before_it_is_freed(void **state)
{
	static const uint8_t payload[] = "any payload: wiped before its zone is freed";
	msgpack_zone *z = msgpack_zone_new(256);
	struct sb_request req = {.id = 5, .op = SB_OP_EXCHANGE};
	char *tok = msgpack_zone_malloc(z, strlen(TOKEN) + 1);
	uint8_t *raw = msgpack_zone_malloc(z, sizeof(payload));

	memcpy(tok, TOKEN, strlen(TOKEN) + 1);
	memcpy(raw, payload, sizeof(payload));
	req.zone = z;
	req.raw = raw;
	req.raw_len = sizeof(payload);
	req.u.exchange.subject_token = tok;
	watch.token = tok;
	watch.token_len = strlen(TOKEN);
	watch.raw = raw;
	watch.raw_len = sizeof(payload);

	assert_int_equal(sb_request_compact(&req), 0);
	memset(&watch.token, 0, sizeof(watch.token));
	assert_int_equal(watch.frees, 1);
	assert_true(watch.token_wiped);
	assert_true(watch.raw_wiped);
	assert_null(req.zone);
	assert_string_equal(req.u.exchange.subject_token, TOKEN);
	assert_ptr_not_equal(req.u.exchange.subject_token, tok);
	assert_int_equal(sb_request_held(&req), strlen(TOKEN) + 1);
	/* compact already: nothing to do */
	assert_int_equal(sb_request_compact(&req), 0);
	assert_int_equal(sb_request_held(&req), strlen(TOKEN) + 1);
	sb_request_done(&req);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_unknown_field_is_dropped),
		cmocka_unit_test(test_every_field_reads_the_same),
		cmocka_unit_test(test_generic_values_are_deep_copies),
		cmocka_unit_test(test_zone_is_wiped_before_it_is_freed),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
