/* SPDX-License-Identifier: MIT */
/* mkseeds_proto: writes the seed corpus of fuzz_proto into the directory given. */
/*
 * One valid frame of every request and reply shape, a pipelined stream, and the malformed
 * classes the unit tests use. Run by hand when the protocol changes:
 * build/default/tests/fuzz/mkseeds_proto tests/fuzz/corpus/proto
 */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "proto/frame.h"
#include "proto/limits.h"
#include "proto/message.h"

static const char *dir;

static void emit(const char *name, const void *p, size_t n)
{
	char path[1024];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0 || write(fd, p, n) != (ssize_t)n) {
		perror(path);
		_exit(1);
	}
	close(fd);
}

static void emit_buf(const char *name, struct sb_buf *b)
{
	emit(name, sb_buf_ptr(b), sb_buf_len(b));
	sb_buf_free(b);
}

/* Fills the arguments of a valid request of op into req; false for the ops whose arguments
 * need generic values (seeded by hand in main). */
static bool fill_request(int op, struct sb_request *req)
{
	static const char *ids[] = {"id1", "id2"};
	static uint64_t versions[] = {1, 2};
	const char *tok = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJVMSJ9.c2ln";
	struct sb_strv strv = {true, 2, ids};

	switch (op) {
	case SB_OP_HELLO:
		req->u.hello.versions = (struct sb_u64v){true, 2, versions};
		req->u.hello.client = "seed/1";
		break;
	case SB_OP_EXCHANGE:
		req->u.exchange.subject_token = tok;
		break;
	case SB_OP_GET_RECORDS:
		req->u.get_records = (struct sb_get_records_args){
			.subject_token = tok, .table = "persons", .skyflow_ids = strv,
			.redaction = "MASKED", .fields = strv,
			.limit = {true, 10}, .offset = {true, 1}, .order_by = "NONE",
			.tokenization = {true, false}};
		break;
	case SB_OP_GET_RECORD:
		req->u.get_record = (struct sb_get_record_args){
			.subject_token = tok, .table = "persons", .skyflow_id = "id1"};
		break;
	case SB_OP_DELETE_RECORDS:
		req->u.delete_records = (struct sb_delete_records_args){
			.subject_token = tok, .table = "persons", .skyflow_ids = strv};
		break;
	case SB_OP_DETOKENIZE:
		req->u.detokenize = (struct sb_detokenize_args){
			.subject_token = tok, .tokens = strv, .redaction = "DEFAULT"};
		break;
	case SB_OP_TOKENIZE:
		req->u.tokenize = (struct sb_tokenize_args){
			.subject_token = tok, .column_group = "g", .values = strv};
		break;
	case SB_OP_QUERY:
		req->u.query = (struct sb_query_args){.subject_token = tok,
						     .query = "SELECT * FROM persons"};
		break;
	case SB_OP_INSERT_RECORDS:
	case SB_OP_UPDATE_RECORD:
		return false;
	default:
		break;
	}
	return true;
}

int main(int argc, char **argv)
{
	struct sb_buf b, all;
	char name[64];

	if (argc != 2)
		return 2;
	dir = argv[1];
	sb_buf_init(&all, 1 << 20);

	for (int op = 0; op < _SB_OP_MAX; op++) {
		struct sb_request req = {.id = (uint64_t)op + 1, .op = op};

		if (!fill_request(op, &req))
			continue;
		sb_buf_init(&b, 1 << 16);
		if (sb_request_encode(&req, &b, 1 << 16) < 0 ||
		    sb_request_encode(&req, &all, 1 << 16) < 0)
			return 1;
		snprintf(name, sizeof(name), "req-%s", sb_op_name(op));
		emit_buf(name, &b);
	}
	emit_buf("stream-pipelined", &all);

	sb_buf_init(&b, 1 << 16);
	sb_reply_encode_error(3, SB_ERR_UPSTREAM_UNAVAILABLE, "upstream timed out", &b, 1 << 16);
	emit_buf("reply-error", &b);

	/* {id:9, op:"insert_records", subject_token:"t", table:"p", records:[{"a":1,"b":[nil,1.5,true]}]} */
	static const uint8_t insert[] = {
		0x00, 0x00, 0x00, 0x00, 0x85, 0xa2, 'i', 'd', 0x09, 0xa2, 'o', 'p', 0xae, 'i', 'n',
		's', 'e', 'r', 't', '_', 'r', 'e', 'c', 'o', 'r', 'd', 's', 0xad, 's', 'u', 'b', 'j',
		'e', 'c', 't', '_', 't', 'o', 'k', 'e', 'n', 0xa1, 't', 0xa5, 't', 'a', 'b', 'l', 'e',
		0xa1, 'p', 0xa7, 'r', 'e', 'c', 'o', 'r', 'd', 's', 0x91, 0x82, 0xa1, 'a', 0x01, 0xa1,
		'b', 0x93, 0xc0, 0xcb, 0x3f, 0xf8, 0, 0, 0, 0, 0, 0, 0xc3};
	uint8_t framed[sizeof(insert)];
	memcpy(framed, insert, sizeof(insert));
	sb_be32_put(framed, sizeof(insert) - 4);
	emit("req-insert_records", framed, sizeof(framed));

	static const uint8_t deep[] = {0, 0, 0, 20, 0x81, 0xa1, 'a', 0x91, 0x91, 0x91, 0x91, 0x91,
				       0x91, 0x91, 0x91, 0x91, 0x91, 0x91, 0x91, 0x91, 0x91, 0x91,
				       0x91, 0xc0};
	emit("bad-deep", deep, sizeof(deep));
	static const uint8_t huge[] = {0, 0, 0, 10, 0xdd, 0x01, 0, 0, 0, 0xdd, 0x01, 0, 0, 0};
	emit("bad-huge-count", huge, sizeof(huge));
	static const uint8_t oversized[] = {0xff, 0xff, 0xff, 0xff, 0x80};
	emit("bad-oversized", oversized, sizeof(oversized));
	static const uint8_t nul[] = {0, 0, 0, 7, 0x81, 0xa1, 'a', 0xa3, 'x', 0, 'y'};
	emit("bad-nul", nul, sizeof(nul));
	static const uint8_t trailing[] = {0, 0, 0, 3, 0x80, 0xc0, 0xc0};
	emit("bad-trailing", trailing, sizeof(trailing));
	static const uint8_t notmap[] = {0, 0, 0, 2, 0x91, 0x01};
	emit("bad-not-map", notmap, sizeof(notmap));
	sb_buf_free(&all);
	return 0;
}
