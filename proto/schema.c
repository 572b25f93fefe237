/* SPDX-License-Identifier: MIT */
/* schema: the operation table and the v1 messages' field tables (wire name, type, limit, offset). */
#include <stddef.h>
#include <string.h>

#include "limits.h"
#include "schema.h"

/* ------------------------------------------------------------------ operations */

#define TENANT_READ (SB_OPF_TENANT | SB_OPF_SUBJECT | SB_OPF_RATE_LIMITED | SB_OPF_IDEMPOTENT)
#define TENANT_WRITE (SB_OPF_TENANT | SB_OPF_SUBJECT | SB_OPF_RATE_LIMITED)

/* The operation table (message.h): one row per operation, its wire name and its policy. */
const struct sb_op_info sb_operations[_SB_OP_MAX] = {
	[SB_OP_HELLO] = {"hello", SB_OPF_HANDSHAKE | SB_OPF_IDEMPOTENT},
	[SB_OP_PING] = {"ping", SB_OPF_TENANT | SB_OPF_ADMIN | SB_OPF_ALWAYS | SB_OPF_IDEMPOTENT},
	[SB_OP_HEALTH] = {"health", SB_OPF_TENANT | SB_OPF_ALWAYS | SB_OPF_IDEMPOTENT},
	[SB_OP_STATS] = {"stats", SB_OPF_ADMIN | SB_OPF_IDEMPOTENT},
	/* the same token gives the same (cached) Skyflow token */
	[SB_OP_EXCHANGE] = {"exchange", TENANT_READ},
	[SB_OP_GET_RECORDS] = {"get_records", TENANT_READ},
	[SB_OP_GET_RECORD] = {"get_record", TENANT_READ},
	/* a resent insert inserts twice; a resent delete answers not_found */
	[SB_OP_INSERT_RECORDS] = {"insert_records", TENANT_WRITE},
	[SB_OP_UPDATE_RECORD] = {"update_record", TENANT_WRITE},
	[SB_OP_DELETE_RECORDS] = {"delete_records", TENANT_WRITE},
	[SB_OP_DETOKENIZE] = {"detokenize", TENANT_READ},
	/* Skyflow returns the existing token of a value already in the vault */
	[SB_OP_TOKENIZE] = {"tokenize", TENANT_READ},
	[SB_OP_QUERY] = {"query", TENANT_READ},
	[SB_OP_METRICS] = {"metrics", SB_OPF_ADMIN | SB_OPF_IDEMPOTENT},
};

const char *const sb_redaction_names[] = {"DEFAULT", "REDACTED", "MASKED", "PLAIN_TEXT", NULL};
const char *const sb_order_names[] = {"ASCENDING", "DESCENDING", "NONE", NULL};

const struct sb_op_info *sb_op_info(enum sb_op op)
{
	if ((unsigned)op >= _SB_OP_MAX)
		return NULL;
	return &sb_operations[op];
}

unsigned sb_op_flags(enum sb_op op)
{
	const struct sb_op_info *info = sb_op_info(op);

	return info ? info->flags : 0;
}

const char *sb_op_name(enum sb_op op)
{
	const struct sb_op_info *info = sb_op_info(op);

	return info ? info->name : NULL;
}

enum sb_op sb_op_from_name(const char *name)
{
	for (int i = 0; i < _SB_OP_MAX; i++)
		if (sb_operations[i].name && strcmp(sb_operations[i].name, name) == 0)
			return (enum sb_op)i;
	return SB_OP_INVALID;
}

bool sb_op_needs_subject(enum sb_op op)
{
	return (sb_op_flags(op) & SB_OPF_SUBJECT) != 0;
}

/* ------------------------------------------------------------ field tables */

#define REQ_OFF(op, m) offsetof(struct sb_request, u.op.m) - offsetof(struct sb_request, u)
#define RES_OFF(op, m) offsetof(struct sb_reply, u.op.m) - offsetof(struct sb_reply, u)

#define SUBJECT(op) {"subject_token", FT_STR, F_REQUIRED | F_SECRET, SB_MAX_TOKEN_LEN, 0, NULL, REQ_OFF(op, subject_token)}
#define TABLE(op) {"table", FT_STR, F_REQUIRED, SB_MAX_NAME_LEN, 0, NULL, REQ_OFF(op, table)}
#define REDACTION(op) {"redaction", FT_ENUM, 0, 0, 0, sb_redaction_names, REQ_OFF(op, redaction)}
#define OPT_BOOL(op, m) {#m, FT_BOOL, 0, 0, 0, NULL, REQ_OFF(op, m)}
#define NAMES(op, m, fl) {#m, FT_STRV, fl, SB_MAX_IDS, SB_MAX_NAME_LEN, NULL, REQ_OFF(op, m)}

static const struct field hello_req[] = {
	{"versions", FT_U64V, F_REQUIRED, SB_MAX_VERSIONS, 0, NULL, REQ_OFF(hello, versions)},
	{"client", FT_STR, F_REQUIRED, SB_MAX_CLIENT_NAME, 0, NULL, REQ_OFF(hello, client)},
};
static const struct field exchange_req[] = {SUBJECT(exchange)};
static const struct field get_records_req[] = {
	SUBJECT(get_records),
	TABLE(get_records),
	NAMES(get_records, skyflow_ids, 0),
	REDACTION(get_records),
	NAMES(get_records, fields, 0),
	{"offset", FT_U64, 0, 0, 0, NULL, REQ_OFF(get_records, offset)},
	{"limit", FT_U64, 0, SB_MAX_GET_LIMIT, 0, NULL, REQ_OFF(get_records, limit)},
	{"column_name", FT_STR, 0, SB_MAX_NAME_LEN, 0, NULL, REQ_OFF(get_records, column_name)},
	NAMES(get_records, column_values, 0),
	{"order_by", FT_ENUM, 0, 0, 0, sb_order_names, REQ_OFF(get_records, order_by)},
	OPT_BOOL(get_records, tokenization),
	OPT_BOOL(get_records, download_url),
};
static const struct field get_record_req[] = {
	SUBJECT(get_record),
	TABLE(get_record),
	{"skyflow_id", FT_STR, F_REQUIRED, SB_MAX_NAME_LEN, 0, NULL, REQ_OFF(get_record, skyflow_id)},
	REDACTION(get_record),
	NAMES(get_record, fields, 0),
	OPT_BOOL(get_record, tokenization),
	OPT_BOOL(get_record, download_url),
};
static const struct field insert_records_req[] = {
	SUBJECT(insert_records),
	TABLE(insert_records),
	{"records", FT_MAPARRAY, F_REQUIRED, SB_MAX_RECORDS, 0, NULL, REQ_OFF(insert_records, records)},
	OPT_BOOL(insert_records, tokenization),
	{"upsert", FT_STR, 0, SB_MAX_NAME_LEN, 0, NULL, REQ_OFF(insert_records, upsert)},
};
static const struct field update_record_req[] = {
	SUBJECT(update_record),
	TABLE(update_record),
	{"skyflow_id", FT_STR, F_REQUIRED, SB_MAX_NAME_LEN, 0, NULL, REQ_OFF(update_record, skyflow_id)},
	{"fields", FT_MAP, F_REQUIRED, 0, 0, NULL, REQ_OFF(update_record, fields)},
	OPT_BOOL(update_record, tokenization),
};
static const struct field delete_records_req[] = {
	SUBJECT(delete_records),
	TABLE(delete_records),
	NAMES(delete_records, skyflow_ids, F_REQUIRED),
};
static const struct field detokenize_req[] = {
	SUBJECT(detokenize),
	NAMES(detokenize, tokens, F_REQUIRED),
	REDACTION(detokenize),
	OPT_BOOL(detokenize, continue_on_error),
};
static const struct field tokenize_req[] = {
	SUBJECT(tokenize),
	{"column_group", FT_STR, F_REQUIRED, SB_MAX_NAME_LEN, 0, NULL, REQ_OFF(tokenize, column_group)},
	{"values", FT_STRV, F_REQUIRED | F_SECRET, SB_MAX_IDS, SB_MAX_VALUE_LEN, NULL, REQ_OFF(tokenize, values)},
};
static const struct field query_req[] = {
	SUBJECT(query),
	{"query", FT_STR, F_REQUIRED, SB_MAX_QUERY_LEN, 0, NULL, REQ_OFF(query, query)},
};

#define T(a) {a, sizeof(a) / sizeof(a[0])}
const struct table sb_request_tables[_SB_OP_MAX] = {
	[SB_OP_HELLO] = T(hello_req),
	[SB_OP_PING] = {NULL, 0},
	[SB_OP_HEALTH] = {NULL, 0},
	[SB_OP_STATS] = {NULL, 0},
	[SB_OP_EXCHANGE] = T(exchange_req),
	[SB_OP_GET_RECORDS] = T(get_records_req),
	[SB_OP_GET_RECORD] = T(get_record_req),
	[SB_OP_INSERT_RECORDS] = T(insert_records_req),
	[SB_OP_UPDATE_RECORD] = T(update_record_req),
	[SB_OP_DELETE_RECORDS] = T(delete_records_req),
	[SB_OP_DETOKENIZE] = T(detokenize_req),
	[SB_OP_TOKENIZE] = T(tokenize_req),
	[SB_OP_QUERY] = T(query_req),
	[SB_OP_METRICS] = {NULL, 0},
};

static const struct field hello_res[] = {
	{"version", FT_U64, F_REQUIRED, 0, 0, NULL, RES_OFF(hello, version)},
	{"tenant", FT_STR, F_REQUIRED, SB_MAX_NAME_LEN, 0, NULL, RES_OFF(hello, tenant)},
	{"server", FT_STR, F_REQUIRED, SB_MAX_CLIENT_NAME, 0, NULL, RES_OFF(hello, server)},
	{"operations", FT_STRV, F_REQUIRED, _SB_OP_MAX * 4, SB_MAX_NAME_LEN, NULL, RES_OFF(hello, operations)},
	{"max_request_frame", FT_U64, F_REQUIRED, 0, 0, NULL, RES_OFF(hello, max_request_frame)},
	{"max_reply_frame", FT_U64, F_REQUIRED, 0, 0, NULL, RES_OFF(hello, max_reply_frame)},
	{"max_inflight", FT_U64, F_REQUIRED, SB_MAX_INFLIGHT_LIMIT, 0, NULL, RES_OFF(hello, max_inflight)},
};
static const struct field health_res[] = {
	{"ready", FT_BOOL, F_REQUIRED, 0, 0, NULL, RES_OFF(health, ready)},
	{"tenant", FT_STR, F_REQUIRED, SB_MAX_NAME_LEN, 0, NULL, RES_OFF(health, tenant)},
	{"reasons", FT_STRV, F_REQUIRED, SB_MAX_IDS, SB_MAX_MESSAGE_LEN, NULL, RES_OFF(health, reasons)},
	{"jwks_age_s", FT_U64, 0, 0, 0, NULL, RES_OFF(health, jwks_age_s)},
	{"last_upstream_error", FT_STR, 0, SB_MAX_NAME_LEN, 0, NULL, RES_OFF(health, last_upstream_error)},
	{"last_upstream_error_age_s", FT_U64, 0, 0, 0, NULL, RES_OFF(health, last_upstream_error_age_s)},
};
static const struct field stats_res[] = {
	{"uptime_s", FT_U64, F_REQUIRED, 0, 0, NULL, RES_OFF(stats, uptime_s)},
	{"connections", FT_MAP, F_REQUIRED, 0, 0, NULL, RES_OFF(stats, connections)},
	{"requests", FT_MAP, F_REQUIRED, 0, 0, NULL, RES_OFF(stats, requests)},
	{"latency_us", FT_MAP, F_REQUIRED, 0, 0, NULL, RES_OFF(stats, latency_us)},
	{"cache", FT_MAP, F_REQUIRED, 0, 0, NULL, RES_OFF(stats, cache)},
};
static const struct field metrics_res[] = {
	{"text", FT_STR, F_REQUIRED, SB_MAX_STRING, 0, NULL, RES_OFF(metrics, text)},
};
static const struct field exchange_res[] = {
	{"expires_at", FT_U64, F_REQUIRED, 0, 0, NULL, RES_OFF(exchange, expires_at)},
	{"token_type", FT_STR, F_REQUIRED, SB_MAX_NAME_LEN, 0, NULL, RES_OFF(exchange, token_type)},
	{"issued_token_type", FT_STR, F_REQUIRED, SB_MAX_NAME_LEN, 0, NULL, RES_OFF(exchange, issued_token_type)},
	{"context", FT_MAP, 0, 0, 0, NULL, RES_OFF(exchange, context)},
	{"access_token", FT_STR, F_SECRET, SB_MAX_TOKEN_LEN, 0, NULL, RES_OFF(exchange, access_token)},
};
static const struct field records_res[] = {
	{"records", FT_MAPARRAY, F_REQUIRED, SB_MAX_CONTAINER, 0, NULL, RES_OFF(records, records)},
	{"redaction_capped", FT_ENUM, 0, 0, 0, sb_redaction_names, RES_OFF(records, redaction_capped)},
};
static const struct field get_record_res[] = {
	{"record", FT_MAP, F_REQUIRED, 0, 0, NULL, RES_OFF(get_record, record)},
	{"redaction_capped", FT_ENUM, 0, 0, 0, sb_redaction_names, RES_OFF(get_record, redaction_capped)},
};
static const struct field update_record_res[] = {
	{"skyflow_id", FT_STR, F_REQUIRED, SB_MAX_NAME_LEN, 0, NULL, RES_OFF(update_record, skyflow_id)},
	{"tokens", FT_MAP, 0, 0, 0, NULL, RES_OFF(update_record, tokens)},
};
static const struct field delete_records_res[] = {
	{"skyflow_ids", FT_STRV, F_REQUIRED, SB_MAX_CONTAINER, SB_MAX_NAME_LEN, NULL, RES_OFF(delete_records, skyflow_ids)},
};

const struct table sb_result_tables[_SB_OP_MAX] = {
	[SB_OP_HELLO] = T(hello_res),
	[SB_OP_PING] = {NULL, 0},
	[SB_OP_HEALTH] = T(health_res),
	[SB_OP_STATS] = T(stats_res),
	[SB_OP_EXCHANGE] = T(exchange_res),
	[SB_OP_GET_RECORDS] = T(records_res),
	[SB_OP_GET_RECORD] = T(get_record_res),
	[SB_OP_INSERT_RECORDS] = T(records_res),
	[SB_OP_UPDATE_RECORD] = T(update_record_res),
	[SB_OP_DELETE_RECORDS] = T(delete_records_res),
	[SB_OP_DETOKENIZE] = T(records_res),
	[SB_OP_TOKENIZE] = T(records_res),
	[SB_OP_QUERY] = T(records_res),
	[SB_OP_METRICS] = T(metrics_res),
};

const struct field sb_error_code_field = {"code", FT_STR, F_REQUIRED, SB_MAX_NAME_LEN, 0, NULL,
					  0};
static const struct field error_fields[] = {
	{"message", FT_STR, F_REQUIRED, SB_MAX_MESSAGE_LEN, 0, NULL, offsetof(struct sb_error, message)},
	{"retryable", FT_BOOL, F_REQUIRED, 0, 0, NULL, offsetof(struct sb_error, retryable)},
	{"upstream_status", FT_U64, 0, 999, 0, NULL, offsetof(struct sb_error, upstream_status)},
	{"request_id", FT_STR, 0, SB_MAX_REQUEST_ID, 0, NULL, offsetof(struct sb_error, request_id)},
};
const struct table sb_error_table = T(error_fields);
