/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdint.h>

#include <jansson.h>

#include "proto/buf.h"
#include "proto/message.h"
#include "vault/policy.h"

/*
 * A Skyflow Data API answer as the operation's result map (PROTOCOL.md section 7), packed
 * into out (bounded by the connection's max_reply_frame):
 *
 *   get_records, insert_records, tokenize, query   {"records": <records>}
 *   detokenize      {"records": <records, valueType renamed value_type>}
 *   get_record      {"record": <the answer>}
 *   update_record   {"skyflow_id": .., "tokens": ..}
 *   delete_records  {"skyflow_ids": <RecordIDResponse>}
 *
 * plus "redaction_capped" when the tenant lowered the redaction asked for. Records keep every
 * member Skyflow sent, with their types. *records gets how many records the result holds.
 * Returns 0; -EMSGSIZE (the result breaks the reply cap or a protocol limit); -EIO with *why
 * set when the answer does not have the shape the operation expects.
 */
int vault_result_pack(enum sb_op op, json_t *answer, const struct vault_plan *plan,
		      struct sb_buf *out, int64_t *records, const char **why);
