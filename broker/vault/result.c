/* SPDX-License-Identifier: MIT */
/* result: a Skyflow answer as the operation's result map, streamed into the reply buffer. */
#include "vault/result.h"

#include <errno.h>
#include <string.h>

#include "proto/limits.h"
#include "proto/packer.h"
#include "vault/convert.h"

/* Depth of the result's members in the reply: the reply map is 1, the result map 2. */
#define MEMBER_DEPTH 3u

static const struct vault_rename detokenize_rename[] = {
	{"valueType", "value_type"},
	{NULL, NULL},
};

/* Whether a is an array of objects (what "records" must be everywhere). */
static bool is_record_array(json_t *a)
{
	size_t i;
	json_t *v;

	if (!json_is_array(a))
		return false;
	json_array_foreach(a, i, v)
		if (!json_is_object(v))
			return false;
	return true;
}

static bool is_string_array(json_t *a)
{
	size_t i;
	json_t *v;

	if (!json_is_array(a))
		return false;
	json_array_foreach(a, i, v)
		if (!json_is_string(v))
			return false;
	return true;
}

/* Packs the records array, each record's keys renamed by rename. */
static int pack_records(struct sb_packer *p, json_t *recs, const struct vault_rename *rename)
{
	size_t i;
	json_t *v;
	int r;

	if (json_array_size(recs) > SB_MAX_CONTAINER)
		return -EMSGSIZE;
	msgpack_pack_array(&p->pk, json_array_size(recs));
	json_array_foreach(recs, i, v) {
		r = vault_pack_json(p, v, MEMBER_DEPTH + 1, rename);
		if (r < 0)
			return r;
	}
	return 0;
}

static int shape_error(const char **why, const char *what)
{
	*why = what;
	return -EIO;
}

int vault_result_pack(enum sb_op op, json_t *answer, const struct vault_plan *plan,
		      struct sb_buf *out, int64_t *records, const char **why)
{
	bool capped = plan->redaction_capped && (op == SB_OP_GET_RECORDS ||
						 op == SB_OP_GET_RECORD || op == SB_OP_DETOKENIZE);
	json_t *member = NULL, *tokens = NULL;
	struct sb_packer p;
	int r;

	*records = 0;
	*why = NULL;
	if (!json_is_object(answer))
		return shape_error(why, "the answer is not a JSON object");
	sb_packer_init(&p, out);
	switch (op) {
	case SB_OP_GET_RECORD:
		*records = 1;
		msgpack_pack_map(&p.pk, 1 + capped);
		sb_packer_str(&p, "record");
		r = vault_pack_json(&p, answer, MEMBER_DEPTH, NULL);
		break;
	case SB_OP_UPDATE_RECORD:
		member = json_object_get(answer, "skyflow_id");
		tokens = json_object_get(answer, "tokens");
		if (!json_is_string(member) || (tokens && !json_is_object(tokens)))
			return shape_error(why, "no skyflow_id in the answer");
		*records = 1;
		msgpack_pack_map(&p.pk, 1 + !!tokens);
		sb_packer_str(&p, "skyflow_id");
		r = vault_pack_json(&p, member, MEMBER_DEPTH, NULL);
		if (r >= 0 && tokens) {
			sb_packer_str(&p, "tokens");
			r = vault_pack_json(&p, tokens, MEMBER_DEPTH, NULL);
		}
		break;
	case SB_OP_DELETE_RECORDS:
		member = json_object_get(answer, "RecordIDResponse");
		if (!is_string_array(member))
			return shape_error(why, "no RecordIDResponse list in the answer");
		*records = (int64_t)json_array_size(member);
		msgpack_pack_map(&p.pk, 1);
		sb_packer_str(&p, "skyflow_ids");
		r = vault_pack_json(&p, member, MEMBER_DEPTH, NULL);
		break;
	default:
		member = json_object_get(answer, "records");
		if (!is_record_array(member))
			return shape_error(why, "no records list in the answer");
		*records = (int64_t)json_array_size(member);
		msgpack_pack_map(&p.pk, 1 + capped);
		sb_packer_str(&p, "records");
		r = pack_records(&p, member, op == SB_OP_DETOKENIZE ? detokenize_rename : NULL);
		break;
	}
	if (r >= 0 && capped) {
		sb_packer_str(&p, "redaction_capped");
		sb_packer_str(&p, plan->redaction);
	}
	if (r < 0)
		return r;
	return p.err;
}
