/* SPDX-License-Identifier: MIT */
/* fuzz_proto: libFuzzer harness for everything in proto/ that reads hostile bytes. */
/*
 * The input is a byte stream as a peer would send it. Frames are cut from it with the request
 * cap, each payload is checked, decoded as a request and as a reply, and every request that
 * decodes is re-encoded and decoded again, which must succeed with the same id and op.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/frame.h"
#include "proto/limits.h"
#include "proto/message.h"
#include "proto/mpcheck.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static enum sb_op op_of_id(uint64_t id, void *userdata)
{
	(void)userdata;
	return (enum sb_op)(id % (_SB_OP_MAX + 1)) == _SB_OP_MAX ? SB_OP_INVALID
								    : (enum sb_op)(id % (_SB_OP_MAX + 1));
}

static void check_request(const uint8_t *p, size_t n)
{
	struct sb_request req, again;
	struct sb_proto_error e;
	struct sb_buf out;
	const uint8_t *q;
	size_t qn;
	bool id_known;

	if (sb_request_decode(&req, p, n, &id_known, &e) < 0)
		return;
	sb_buf_init(&out, SB_MAX_REQUEST_FRAME_LIMIT + SB_FRAME_HEADER_SIZE);
	if (sb_request_encode(&req, &out, SB_MAX_REQUEST_FRAME_LIMIT) == 0) {
		if (sb_frame_next(&out, SB_MAX_REQUEST_FRAME_LIMIT, &q, &qn, NULL) != SB_FRAME_READY)
			abort();
		if (sb_request_decode(&again, q, qn, &id_known, &e) < 0)
			abort(); /* what we wrote we must be able to read */
		if (again.id != req.id || again.op != req.op)
			abort();
		sb_request_done(&again);
	}
	sb_buf_free(&out);
	sb_request_done(&req);
}

static void check_reply(const uint8_t *p, size_t n)
{
	struct sb_reply rep, again;
	struct sb_proto_error e;
	struct sb_buf out;
	const uint8_t *q;
	size_t qn;

	if (sb_reply_decode(&rep, p, n, op_of_id, NULL, &e) < 0)
		return;
	sb_buf_init(&out, SB_MAX_REPLY_FRAME_LIMIT);
	if (sb_reply_encode(&rep, &out, SB_MAX_REPLY_FRAME_LIMIT) == 0) {
		if (sb_frame_next(&out, SB_MAX_REPLY_FRAME_LIMIT, &q, &qn, NULL) != SB_FRAME_READY)
			abort();
		if (sb_reply_decode(&again, q, qn, op_of_id, NULL, &e) < 0)
			abort();
		if (again.id != rep.id || again.ok != rep.ok)
			abort();
		sb_reply_done(&again);
	}
	sb_buf_free(&out);
	sb_reply_done(&rep);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sb_buf in;
	struct sb_proto_error e;
	const uint8_t *p;
	size_t n;

	/* the whole input as one message, and as a stream of frames */
	(void)sb_mp_check(data, size, &e);

	sb_buf_init(&in, SB_MAX_REQUEST_FRAME_LIMIT);
	if (sb_buf_append(&in, data, size) < 0)
		return 0;
	for (int frames = 0; frames < 64; frames++) {
		int r = sb_frame_next(&in, SB_MAX_REQUEST_FRAME_DEFAULT, &p, &n, NULL);
		if (r != SB_FRAME_READY)
			break;
		check_request(p, n);
		check_reply(p, n);
		sb_frame_consume(&in, n);
	}
	sb_buf_free(&in);
	return 0;
}
