/* SPDX-License-Identifier: MIT */
/* Message codec: a round trip of every v1 message (malformed input: test_proto_malformed.c). */
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

/* ---------------------------------------------------------------- helpers */

/* Encodes req into a frame, checks the frame header, decodes it back into out. */
static void request_round_trip(const struct sb_request *req, struct sb_request *out)
{
	struct sb_buf b;
	const uint8_t *p;
	size_t len;
	bool id_known;
	struct sb_proto_error e = {0};

	sb_buf_init(&b, SB_MAX_REQUEST_FRAME_LIMIT);
	assert_int_equal(sb_request_encode(req, &b, SB_MAX_REQUEST_FRAME_DEFAULT), 0);
	assert_int_equal(sb_frame_next(&b, SB_MAX_REQUEST_FRAME_DEFAULT, &p, &len, NULL),
			 SB_FRAME_READY);
	assert_int_equal(len + SB_FRAME_HEADER_SIZE, sb_buf_len(&b));
	if (sb_request_decode(out, p, len, &id_known, &e) != 0)
		fail_msg("decode failed: %s", e.message);
	sb_buf_free(&b); /* the decoded request must not borrow from the frame buffer */
	assert_int_equal(out->id, req->id);
	assert_int_equal(out->op, req->op);
}

static enum sb_op op_for_test;
static enum sb_op op_of_id(uint64_t id, void *userdata)
{
	(void)userdata;
	return id == 77 ? op_for_test : SB_OP_INVALID;
}

static void reply_round_trip(const struct sb_reply *rep, struct sb_reply *out)
{
	struct sb_buf b;
	const uint8_t *p;
	size_t len;
	struct sb_proto_error e = {0};

	sb_buf_init(&b, SB_MAX_REPLY_FRAME_LIMIT);
	assert_int_equal(sb_reply_encode(rep, &b, SB_MAX_REPLY_FRAME_DEFAULT), 0);
	assert_int_equal(sb_frame_next(&b, SB_MAX_REPLY_FRAME_DEFAULT, &p, &len, NULL),
			 SB_FRAME_READY);
	op_for_test = rep->op;
	if (sb_reply_decode(out, p, len, op_of_id, NULL, &e) != 0)
		fail_msg("decode failed: %s", e.message);
	sb_buf_free(&b);
	assert_int_equal(out->id, rep->id);
	assert_int_equal(out->ok, rep->ok);
}

static void assert_strv_equal(const struct sb_strv *a, const struct sb_strv *b)
{
	assert_int_equal(a->set, b->set);
	assert_int_equal(a->n, b->n);
	for (uint32_t i = 0; i < a->n; i++)
		assert_string_equal(a->v[i], b->v[i]);
}

#define STRV(...)                                                                            \
	((struct sb_strv){.set = true,                                                       \
			  .n = sizeof((const char *[]){__VA_ARGS__}) / sizeof(char *),        \
			  .v = (const char *[]){__VA_ARGS__}})

/* A generic value (records, maps) built with msgpack-c in a zone owned by the test. */
static msgpack_zone *zone;
static msgpack_object unpack_value(const msgpack_sbuffer *sb)
{
	msgpack_object o;
	size_t off = 0;

	assert_int_equal(msgpack_unpack(sb->data, sb->size, &off, zone, &o), MSGPACK_UNPACK_SUCCESS);
	return o;
}

static msgpack_sbuffer sbs[8];
static int nsb;

/* [{"name": "Jane", "ssn": "123-45-6789", "age": 41, "ok": true, "score": 1.5, "x": nil}] */
static msgpack_object sample_records(void)
{
	msgpack_sbuffer *sb = &sbs[nsb++];
	msgpack_packer pk;

	msgpack_sbuffer_init(sb);
	msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
	msgpack_pack_array(&pk, 2);
	for (int i = 0; i < 2; i++) {
		msgpack_pack_map(&pk, 6);
		msgpack_pack_str_with_body(&pk, "name", 4);
		msgpack_pack_str_with_body(&pk, "Jane", 4);
		msgpack_pack_str_with_body(&pk, "ssn", 3);
		msgpack_pack_str_with_body(&pk, "123-45-6789", 11);
		msgpack_pack_str_with_body(&pk, "age", 3);
		msgpack_pack_int(&pk, -41);
		msgpack_pack_str_with_body(&pk, "ok", 2);
		msgpack_pack_true(&pk);
		msgpack_pack_str_with_body(&pk, "score", 5);
		msgpack_pack_double(&pk, 1.5);
		msgpack_pack_str_with_body(&pk, "x", 1);
		msgpack_pack_nil(&pk);
	}
	return unpack_value(sb);
}

static msgpack_object sample_map(void)
{
	msgpack_sbuffer *sb = &sbs[nsb++];
	msgpack_packer pk;

	msgpack_sbuffer_init(sb);
	msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, 1);
	msgpack_pack_str_with_body(&pk, "roles", 5);
	msgpack_pack_array(&pk, 1);
	msgpack_pack_str_with_body(&pk, "Viewer", 6);
	return unpack_value(sb);
}

static int setup(void **state)
{
	zone = msgpack_zone_new(4096);
	nsb = 0;
	return 0;
}

static int teardown(void **state)
{
	msgpack_zone_free(zone);
	for (int i = 0; i < nsb; i++)
		msgpack_sbuffer_destroy(&sbs[i]);
	return 0;
}

static const char *TOKEN = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJVMSJ9.c2ln";

/* -------------------------------------------------------- request round trips */

static void test_rt_hello_ping_health_stats(void **state)
{
	uint64_t versions[] = {1, 2, 99};
	struct sb_request req = {.id = 1, .op = SB_OP_HELLO}, out;

	req.u.hello.versions = (struct sb_u64v){true, 3, versions};
	req.u.hello.client = "mcp-server/1.2";
	request_round_trip(&req, &out);
	assert_int_equal(out.u.hello.versions.n, 3);
	assert_int_equal(out.u.hello.versions.v[2], 99);
	assert_string_equal(out.u.hello.client, "mcp-server/1.2");
	sb_request_done(&out);

	for (enum sb_op op = SB_OP_PING; op <= SB_OP_STATS; op++) {
		struct sb_request r = {.id = UINT64_MAX, .op = op};
		request_round_trip(&r, &out);
		sb_request_done(&out);
	}
}

static void test_rt_exchange_query(void **state)
{
	struct sb_request req = {.id = 2, .op = SB_OP_EXCHANGE}, out;

	req.u.exchange.subject_token = TOKEN;
	request_round_trip(&req, &out);
	assert_string_equal(out.u.exchange.subject_token, TOKEN);
	sb_request_done(&out);

	req = (struct sb_request){.id = 3, .op = SB_OP_QUERY};
	req.u.query.subject_token = TOKEN;
	req.u.query.query = "SELECT * FROM persons WHERE state = 'CA' LIMIT 5";
	request_round_trip(&req, &out);
	assert_string_equal(out.u.query.query, req.u.query.query);
	sb_request_done(&out);
}

static void test_rt_get_records(void **state)
{
	struct sb_request req = {.id = 4, .op = SB_OP_GET_RECORDS}, out;
	struct sb_get_records_args *a = &req.u.get_records, *o = &out.u.get_records;

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
	a->download_url = (struct sb_opt_bool){true, false};
	request_round_trip(&req, &out);
	assert_string_equal(o->table, "persons");
	assert_strv_equal(&o->skyflow_ids, &a->skyflow_ids);
	assert_string_equal(o->redaction, "MASKED");
	assert_strv_equal(&o->fields, &a->fields);
	assert_true(o->offset.set);
	assert_int_equal(o->offset.v, 50);
	assert_int_equal(o->limit.v, 25);
	assert_string_equal(o->column_name, "email_address");
	assert_strv_equal(&o->column_values, &a->column_values);
	assert_string_equal(o->order_by, "DESCENDING");
	assert_true(o->tokenization.set && o->tokenization.v);
	assert_true(o->download_url.set && !o->download_url.v);
	sb_request_done(&out);

	/* optional fields absent stay absent */
	req = (struct sb_request){.id = 5, .op = SB_OP_GET_RECORDS};
	a->subject_token = TOKEN;
	a->table = "persons";
	request_round_trip(&req, &out);
	assert_false(o->skyflow_ids.set);
	assert_null(o->redaction);
	assert_false(o->limit.set);
	assert_false(o->tokenization.set);
	sb_request_done(&out);
}

static void test_rt_get_update_delete(void **state)
{
	msgpack_object fields = sample_map();
	struct sb_request req = {.id = 6, .op = SB_OP_GET_RECORD}, out;

	req.u.get_record.subject_token = TOKEN;
	req.u.get_record.table = "persons";
	req.u.get_record.skyflow_id = "abc";
	req.u.get_record.redaction = "PLAIN_TEXT";
	req.u.get_record.fields = STRV("ssn");
	req.u.get_record.tokenization = (struct sb_opt_bool){true, false};
	request_round_trip(&req, &out);
	assert_string_equal(out.u.get_record.skyflow_id, "abc");
	assert_string_equal(out.u.get_record.redaction, "PLAIN_TEXT");
	assert_strv_equal(&out.u.get_record.fields, &req.u.get_record.fields);
	sb_request_done(&out);

	req = (struct sb_request){.id = 7, .op = SB_OP_UPDATE_RECORD};
	req.u.update_record.subject_token = TOKEN;
	req.u.update_record.table = "persons";
	req.u.update_record.skyflow_id = "abc";
	req.u.update_record.fields = &fields;
	req.u.update_record.tokenization = (struct sb_opt_bool){true, true};
	request_round_trip(&req, &out);
	assert_true(sb_mp_equal(out.u.update_record.fields, &fields));
	sb_request_done(&out);

	req = (struct sb_request){.id = 8, .op = SB_OP_DELETE_RECORDS};
	req.u.delete_records.subject_token = TOKEN;
	req.u.delete_records.table = "persons";
	req.u.delete_records.skyflow_ids = STRV("a", "b", "c");
	request_round_trip(&req, &out);
	assert_strv_equal(&out.u.delete_records.skyflow_ids, &req.u.delete_records.skyflow_ids);
	sb_request_done(&out);
}

static void test_rt_insert_tokenize_detokenize(void **state)
{
	msgpack_object recs = sample_records();
	struct sb_request req = {.id = 9, .op = SB_OP_INSERT_RECORDS}, out;

	req.u.insert_records.subject_token = TOKEN;
	req.u.insert_records.table = "persons";
	req.u.insert_records.records = &recs;
	req.u.insert_records.tokenization = (struct sb_opt_bool){true, true};
	req.u.insert_records.upsert = "email_address";
	request_round_trip(&req, &out);
	assert_true(sb_mp_equal(out.u.insert_records.records, &recs));
	assert_string_equal(out.u.insert_records.upsert, "email_address");
	sb_request_done(&out);

	req = (struct sb_request){.id = 10, .op = SB_OP_TOKENIZE};
	req.u.tokenize.subject_token = TOKEN;
	req.u.tokenize.column_group = "ssn_group";
	req.u.tokenize.values = STRV("123-45-6789", "987-65-4321");
	request_round_trip(&req, &out);
	assert_string_equal(out.u.tokenize.column_group, "ssn_group");
	assert_strv_equal(&out.u.tokenize.values, &req.u.tokenize.values);
	sb_request_done(&out);

	req = (struct sb_request){.id = 11, .op = SB_OP_DETOKENIZE};
	req.u.detokenize.subject_token = TOKEN;
	req.u.detokenize.tokens = STRV("tok-1", "tok-2");
	req.u.detokenize.redaction = "REDACTED";
	req.u.detokenize.continue_on_error = (struct sb_opt_bool){true, true};
	request_round_trip(&req, &out);
	assert_strv_equal(&out.u.detokenize.tokens, &req.u.detokenize.tokens);
	assert_string_equal(out.u.detokenize.redaction, "REDACTED");
	assert_true(out.u.detokenize.continue_on_error.v);
	sb_request_done(&out);
}

/* ---------------------------------------------------------- reply round trips */

static void test_rt_replies(void **state)
{
	msgpack_object recs = sample_records(), ctx = sample_map();
	struct sb_reply rep, out;

	rep = (struct sb_reply){.id = 77, .ok = true, .op = SB_OP_HELLO};
	rep.u.hello = (struct sb_hello_result){
		.version = 1, .tenant = "acme", .server = "skybrokerd/0.1.0",
		.operations = STRV("hello", "ping", "get_records"),
		.max_request_frame = 65536, .max_reply_frame = 4194304, .max_inflight = 32};
	reply_round_trip(&rep, &out);
	assert_int_equal(out.u.hello.version, 1);
	assert_string_equal(out.u.hello.tenant, "acme");
	assert_string_equal(out.u.hello.server, "skybrokerd/0.1.0");
	assert_strv_equal(&out.u.hello.operations, &rep.u.hello.operations);
	assert_int_equal(out.u.hello.max_reply_frame, 4194304);
	assert_int_equal(out.u.hello.max_inflight, 32);
	sb_reply_done(&out);

	rep = (struct sb_reply){.id = 77, .ok = true, .op = SB_OP_PING};
	reply_round_trip(&rep, &out);
	sb_reply_done(&out);

	rep = (struct sb_reply){.id = 77, .ok = true, .op = SB_OP_HEALTH};
	rep.u.health = (struct sb_health_result){.ready = false, .tenant = "acme",
						 .reasons = STRV("JWKS not loaded yet")};
	reply_round_trip(&rep, &out);
	assert_false(out.u.health.ready);
	assert_strv_equal(&out.u.health.reasons, &rep.u.health.reasons);
	sb_reply_done(&out);

	rep = (struct sb_reply){.id = 77, .ok = true, .op = SB_OP_STATS};
	rep.u.stats = (struct sb_stats_result){.uptime_s = 5, .connections = &ctx,
					       .requests = &ctx, .latency_us = &ctx, .cache = &ctx};
	reply_round_trip(&rep, &out);
	assert_int_equal(out.u.stats.uptime_s, 5);
	assert_true(sb_mp_equal(out.u.stats.cache, &ctx));
	sb_reply_done(&out);

	rep = (struct sb_reply){.id = 77, .ok = true, .op = SB_OP_EXCHANGE};
	rep.u.exchange = (struct sb_exchange_result){
		.expires_at = 1790000000, .token_type = "Bearer",
		.issued_token_type = "urn:ietf:params:oauth:token-type:jwt", .context = &ctx,
		.access_token = TOKEN};
	reply_round_trip(&rep, &out);
	assert_int_equal(out.u.exchange.expires_at, 1790000000);
	assert_string_equal(out.u.exchange.token_type, "Bearer");
	assert_true(sb_mp_equal(out.u.exchange.context, &ctx));
	assert_string_equal(out.u.exchange.access_token, TOKEN);
	sb_reply_done(&out);

	/* a token that is not exposed is simply absent */
	rep.u.exchange.access_token = NULL;
	reply_round_trip(&rep, &out);
	assert_null(out.u.exchange.access_token);
	sb_reply_done(&out);

	/* the result map alone (kept by a server, then sent with ok_raw) is the same frame */
	{
		struct sb_buf whole, result, raw;

		sb_buf_init(&whole, 4096);
		sb_buf_init(&result, 4096);
		sb_buf_init(&raw, 4096);
		assert_int_equal(sb_reply_encode(&rep, &whole, 4096), 0);
		assert_int_equal(sb_result_encode(&rep, &result), 0);
		assert_int_equal(sb_reply_encode_ok_raw(77, sb_buf_ptr(&result), sb_buf_len(&result),
						       &raw, 4096), 0);
		assert_int_equal(sb_buf_len(&raw), sb_buf_len(&whole));
		assert_memory_equal(sb_buf_ptr(&raw), sb_buf_ptr(&whole), sb_buf_len(&whole));
		sb_buf_free(&whole);
		sb_buf_free(&result);
		sb_buf_free(&raw);
		rep.ok = false;
		assert_int_equal(sb_result_encode(&rep, &result), -EINVAL);
		rep.ok = true;
	}

	const enum sb_op record_ops[] = {SB_OP_GET_RECORDS, SB_OP_INSERT_RECORDS, SB_OP_DETOKENIZE,
					 SB_OP_TOKENIZE, SB_OP_QUERY};
	for (size_t i = 0; i < sizeof(record_ops) / sizeof(record_ops[0]); i++) {
		rep = (struct sb_reply){.id = 77, .ok = true, .op = record_ops[i]};
		rep.u.records.records = &recs;
		reply_round_trip(&rep, &out);
		assert_true(sb_mp_equal(out.u.records.records, &recs));
		sb_reply_done(&out);
	}

	rep = (struct sb_reply){.id = 77, .ok = true, .op = SB_OP_GET_RECORD};
	rep.u.get_record.record = &ctx;
	reply_round_trip(&rep, &out);
	assert_true(sb_mp_equal(out.u.get_record.record, &ctx));
	sb_reply_done(&out);

	rep = (struct sb_reply){.id = 77, .ok = true, .op = SB_OP_UPDATE_RECORD};
	rep.u.update_record = (struct sb_update_record_result){.skyflow_id = "abc", .tokens = &ctx};
	reply_round_trip(&rep, &out);
	assert_string_equal(out.u.update_record.skyflow_id, "abc");
	sb_reply_done(&out);

	rep = (struct sb_reply){.id = 77, .ok = true, .op = SB_OP_DELETE_RECORDS};
	rep.u.delete_records.skyflow_ids = STRV("a", "b");
	reply_round_trip(&rep, &out);
	assert_strv_equal(&out.u.delete_records.skyflow_ids, &rep.u.delete_records.skyflow_ids);
	sb_reply_done(&out);
}

static void test_rt_error_replies(void **state)
{
	struct sb_reply rep, out;

	for (int c = 0; c < _SB_ERR_MAX; c++) {
		rep = (struct sb_reply){.id = 77, .ok = false, .op = SB_OP_GET_RECORDS};
		rep.error = (struct sb_error){.code = c, .message = "something went wrong",
					      .retryable = sb_errcode_retryable(c)};
		if (c == SB_ERR_UPSTREAM_DENIED) {
			rep.error.upstream_status = (struct sb_opt_u64){true, 403};
			rep.error.request_id = "d4410ea0-1d83-473c-a09a-24c6b03096d4";
		}
		reply_round_trip(&rep, &out);
		assert_int_equal(out.error.code, c);
		assert_string_equal(out.error.message, "something went wrong");
		assert_int_equal(out.error.retryable, rep.error.retryable);
		assert_int_equal(out.error.upstream_status.set, rep.error.upstream_status.set);
		if (c == SB_ERR_UPSTREAM_DENIED) {
			assert_int_equal(out.error.upstream_status.v, 403);
			assert_string_equal(out.error.request_id, rep.error.request_id);
		}
		sb_reply_done(&out);
	}

	/* the convenience encoder; id 0 addresses the connection, not a request */
	struct sb_buf b;
	const uint8_t *p;
	size_t len;
	struct sb_proto_error e;

	sb_buf_init(&b, 4096);
	assert_int_equal(sb_reply_encode_error(0, SB_ERR_TOO_LARGE, "frame too large", &b, 4096), 0);
	assert_int_equal(sb_frame_next(&b, 4096, &p, &len, NULL), SB_FRAME_READY);
	assert_int_equal(sb_reply_decode(&out, p, len, op_of_id, NULL, &e), 0);
	assert_int_equal(out.id, 0);
	assert_false(out.ok);
	assert_int_equal(out.error.code, SB_ERR_TOO_LARGE);
	assert_false(out.error.retryable);
	sb_reply_done(&out);
	sb_buf_free(&b);
}

static void test_encode_limits(void **state)
{
	struct sb_request req = {.id = 1, .op = SB_OP_EXCHANGE};
	struct sb_buf b;

	/* required field missing: the encoder refuses instead of writing a bad message */
	sb_buf_init(&b, 4096);
	assert_int_equal(sb_request_encode(&req, &b, 4096), -EINVAL);
	assert_int_equal(sb_buf_len(&b), 0);
	/* id 0 is reserved for connection-level errors */
	req.id = 0;
	req.u.exchange.subject_token = TOKEN;
	assert_int_equal(sb_request_encode(&req, &b, 4096), -EINVAL);
	/* too big for the frame cap, or for the buffer: nothing is left behind */
	req.id = 1;
	assert_int_equal(sb_request_encode(&req, &b, 10), -EMSGSIZE);
	assert_int_equal(sb_buf_len(&b), 0);
	sb_buf_free(&b);
	sb_buf_init(&b, 20);
	assert_int_equal(sb_request_encode(&req, &b, 4096), -EMSGSIZE);
	assert_int_equal(sb_buf_len(&b), 0);
	sb_buf_free(&b);
}

static void test_decode_does_not_borrow(void **state)
{
	/* the decoded request survives its input buffer being overwritten */
	struct sb_request req = {.id = 12, .op = SB_OP_EXCHANGE}, out;
	struct sb_buf b;
	const uint8_t *p;
	size_t len;
	bool id_known;
	struct sb_proto_error e;

	req.u.exchange.subject_token = TOKEN;
	sb_buf_init(&b, 4096);
	assert_int_equal(sb_request_encode(&req, &b, 4096), 0);
	assert_int_equal(sb_frame_next(&b, 4096, &p, &len, NULL), SB_FRAME_READY);
	assert_int_equal(sb_request_decode(&out, p, len, &id_known, &e), 0);
	memset(sb_buf_mutable_at(&b, 0), 0xee, sb_buf_len(&b));
	assert_string_equal(out.u.exchange.subject_token, TOKEN);
	sb_request_done(&out);
	sb_request_done(&out); /* idempotent */
	sb_buf_free(&b);
}

/* The example bytes printed in proto/PROTOCOL.md section 11 are what the encoder writes. */
static void test_protocol_example(void **state)
{
	static const uint8_t doc[] = {0x00, 0x00, 0x00, 0x2f, 0x84, 0xa2, 0x69, 0x64, 0x01,
				      0xa2, 0x6f, 0x70, 0xa5, 0x68, 0x65, 0x6c, 0x6c, 0x6f};
	uint64_t v = 1;
	struct sb_request req = {.id = 1, .op = SB_OP_HELLO};
	struct sb_buf b;

	req.u.hello.versions = (struct sb_u64v){true, 1, &v};
	req.u.hello.client = "mcp-server/0.3";
	sb_buf_init(&b, 4096);
	assert_int_equal(sb_request_encode(&req, &b, SB_MAX_HELLO_FRAME), 0);
	assert_int_equal(sb_buf_len(&b), 4 + 0x2f);
	assert_memory_equal(sb_buf_ptr(&b), doc, sizeof(doc));
	sb_buf_free(&b);
}

static void test_names(void **state)
{
	for (int i = 0; i < _SB_OP_MAX; i++)
		assert_int_equal(sb_op_from_name(sb_op_name(i)), i);
	assert_int_equal(sb_op_from_name("HELLO"), SB_OP_INVALID);
	assert_null(sb_op_name(_SB_OP_MAX));
	for (int i = 0; i < _SB_ERR_MAX; i++)
		assert_int_equal(sb_errcode_from_name(sb_errcode_name(i)), i);
	assert_int_equal(sb_errcode_from_name("nope"), -EBADMSG);
	assert_int_equal(sb_errcode_from_errno(-EKEYEXPIRED), SB_ERR_TOKEN_EXPIRED);
	assert_int_equal(sb_errcode_from_errno(-EKEYREJECTED), SB_ERR_UNAUTHENTICATED);
	assert_int_equal(sb_errcode_from_errno(-EMSGSIZE), SB_ERR_TOO_LARGE);
	assert_int_equal(sb_errcode_from_errno(-ENOMEM), SB_ERR_INTERNAL);
	assert_true(sb_errcode_retryable(SB_ERR_UPSTREAM_UNAVAILABLE));
	assert_false(sb_errcode_retryable(SB_ERR_UNAUTHENTICATED));
	assert_true(sb_op_needs_subject(SB_OP_QUERY));
	assert_false(sb_op_needs_subject(SB_OP_HEALTH));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_rt_hello_ping_health_stats, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rt_exchange_query, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rt_get_records, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rt_get_update_delete, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rt_insert_tokenize_detokenize, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rt_replies, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rt_error_replies, setup, teardown),
		cmocka_unit_test(test_encode_limits),
		cmocka_unit_test(test_decode_does_not_borrow),
		cmocka_unit_test(test_protocol_example),
		cmocka_unit_test(test_names),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
