/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <msgpack.h>

#include "buf.h"
#include "errors.h"

/*
 * The v1 messages of proto/PROTOCOL.md as C structs, and their msgpack codec.
 *
 * Decoding: a frame's payload is checked by sb_mp_check (limits before allocation), unpacked
 * into a zone owned by the decoded message, and mapped onto a struct through a per-operation
 * field table. Strings become NUL-terminated copies in the zone; generic values (records,
 * field maps, context) stay msgpack_objects in the zone. A decoded request then keeps only the
 * fields of its operation's table, copied into one block of exactly their size; the zone (the
 * whole tree, unknown fields included, and the copy of the payload) is wiped and freed at once
 * (sb_request_compact). Everything a decoded message points to is borrowed from it and lives
 * until sb_request_done / sb_reply_done. Unknown fields are ignored; a missing or mistyped
 * required field, a duplicate field, or a value outside its limits is -EBADMSG / -EMSGSIZE
 * with the field named in the sb_proto_error.
 *
 * Encoding: the same tables drive the encoder, so what one side writes the other reads.
 * Encoders append one whole frame (length prefix + map) to a bounded sb_buf, or nothing.
 */

enum sb_op {
	SB_OP_HELLO,
	SB_OP_PING,
	SB_OP_HEALTH,
	SB_OP_STATS,
	SB_OP_EXCHANGE,
	SB_OP_GET_RECORDS,
	SB_OP_GET_RECORD,
	SB_OP_INSERT_RECORDS,
	SB_OP_UPDATE_RECORD,
	SB_OP_DELETE_RECORDS,
	SB_OP_DETOKENIZE,
	SB_OP_TOKENIZE,
	SB_OP_QUERY,
	SB_OP_METRICS,
	_SB_OP_MAX,
	SB_OP_INVALID = -1,
};

/*
 * The operation table (PROTOCOL.md section 7): each operation's wire name and policy, stated
 * in one row of proto/schema.c. Everything that asks "may this op ...?" reads these flags: the
 * configuration (which ops a tenant may be allowed), the broker's dispatch gate (which socket,
 * allow_operations, rate limit), the hello reply, and clients (what is safe to retry). No code
 * depends on the order of enum sb_op. The handler of each op is bound by the broker module
 * that implements it (broker/runtime/dispatch.h).
 */
enum sb_op_flag {
	SB_OPF_HANDSHAKE = 1u << 0,    /* hello: the first request, never dispatched after it */
	SB_OPF_TENANT = 1u << 1,       /* offered on a tenant's socket */
	SB_OPF_ADMIN = 1u << 2,        /* offered on the admin socket */
	SB_OPF_ALWAYS = 1u << 3,       /* on a tenant socket whatever allow_operations says */
	SB_OPF_SUBJECT = 1u << 4,      /* carries a subject_token, validated before upstream */
	SB_OPF_RATE_LIMITED = 1u << 5, /* counts against the tenant's rate_limit */
	SB_OPF_IDEMPOTENT = 1u << 6,   /* the same request may be sent again after a lost reply */
};

struct sb_op_info {
	const char *name; /* the wire name */
	unsigned flags;   /* enum sb_op_flag */
};

/* The row of op, or NULL for an out-of-range value. */
const struct sb_op_info *sb_op_info(enum sb_op op);
/* The flags of op; 0 for an out-of-range value. */
unsigned sb_op_flags(enum sb_op op);
/* "hello", "get_records", ...; NULL for an out-of-range value. */
const char *sb_op_name(enum sb_op op);
/* The op for a wire name, or SB_OP_INVALID. */
enum sb_op sb_op_from_name(const char *name);
/* Whether the op carries a subject_token (its SB_OPF_SUBJECT flag). */
bool sb_op_needs_subject(enum sb_op op);

/* Optional scalars: `set` tells whether the field was present. */
struct sb_opt_u64 {
	bool set;
	uint64_t v;
};

struct sb_opt_bool {
	bool set;
	bool v;
};

/* An array of strings; v[i] are NUL-terminated. set=false when the field was absent. */
struct sb_strv {
	bool set;
	uint32_t n;
	const char **v;
};

struct sb_u64v {
	bool set;
	uint32_t n;
	uint64_t *v;
};

/* Redaction levels and orderings, as Skyflow spells them. */
extern const char *const sb_redaction_names[]; /* DEFAULT REDACTED MASKED PLAIN_TEXT, NULL-ended */
extern const char *const sb_order_names[];     /* ASCENDING DESCENDING NONE, NULL-ended */

/* ---- request arguments (one struct per operation; pointers borrowed from the message) ---- */

struct sb_hello_args {
	struct sb_u64v versions; /* required, 1..SB_MAX_VERSIONS entries */
	const char *client;      /* required, "name/version" */
};

struct sb_exchange_args {
	const char *subject_token; /* required */
};

struct sb_get_records_args {
	const char *subject_token;
	const char *table;
	struct sb_strv skyflow_ids;
	const char *redaction; /* one of sb_redaction_names, or NULL */
	struct sb_strv fields;
	struct sb_opt_u64 offset;
	struct sb_opt_u64 limit;
	const char *column_name;
	struct sb_strv column_values;
	const char *order_by; /* one of sb_order_names, or NULL */
	struct sb_opt_bool tokenization;
	struct sb_opt_bool download_url;
};

struct sb_get_record_args {
	const char *subject_token;
	const char *table;
	const char *skyflow_id;
	const char *redaction;
	struct sb_strv fields;
	struct sb_opt_bool tokenization;
	struct sb_opt_bool download_url;
};

struct sb_insert_records_args {
	const char *subject_token;
	const char *table;
	const msgpack_object *records; /* array of maps column -> value */
	struct sb_opt_bool tokenization;
	const char *upsert;
};

struct sb_update_record_args {
	const char *subject_token;
	const char *table;
	const char *skyflow_id;
	const msgpack_object *fields; /* map column -> value */
	struct sb_opt_bool tokenization;
};

struct sb_delete_records_args {
	const char *subject_token;
	const char *table;
	struct sb_strv skyflow_ids;
};

struct sb_detokenize_args {
	const char *subject_token;
	struct sb_strv tokens;
	const char *redaction;
	struct sb_opt_bool continue_on_error;
};

struct sb_tokenize_args {
	const char *subject_token;
	const char *column_group;
	struct sb_strv values;
};

struct sb_query_args {
	const char *subject_token;
	const char *query;
};

struct sb_request {
	uint64_t id;
	enum sb_op op;
	union {
		struct sb_hello_args hello;
		struct sb_exchange_args exchange;
		struct sb_get_records_args get_records;
		struct sb_get_record_args get_record;
		struct sb_insert_records_args insert_records;
		struct sb_update_record_args update_record;
		struct sb_delete_records_args delete_records;
		struct sb_detokenize_args detokenize;
		struct sb_tokenize_args tokenize;
		struct sb_query_args query;
	} u;
	/* private: while decoding, the zone every pointer above borrows from and the copy of the
	 * payload in it that is wiped on release; once decoded, the one block they borrow from
	 * instead (wiped on release) */
	msgpack_zone *zone;
	uint8_t *raw;
	size_t raw_len;
	void *block;
	size_t block_len;
};

/* ---- results ---- */

struct sb_hello_result {
	uint64_t version;
	const char *tenant;
	const char *server;
	struct sb_strv operations;
	uint64_t max_request_frame;
	uint64_t max_reply_frame;
	uint64_t max_inflight; /* requests the broker takes in flight on the connection */
};

struct sb_health_result {
	bool ready;
	const char *tenant;
	struct sb_strv reasons; /* why not ready; empty when ready */
	/* optional detail (absent when the broker has no metrics module or nothing to say) */
	struct sb_opt_u64 jwks_age_s;            /* since the tenant's JWKS was loaded */
	const char *last_upstream_error;         /* "sts:503", "jwks:timeout", or NULL */
	struct sb_opt_u64 last_upstream_error_age_s;
};

struct sb_stats_result {
	uint64_t uptime_s;
	const msgpack_object *connections; /* maps of counters */
	const msgpack_object *requests;
	const msgpack_object *latency_us;
	const msgpack_object *cache;
};

struct sb_metrics_result {
	const char *text; /* the Prometheus text exposition (format 0.0.4) */
};

struct sb_exchange_result {
	uint64_t expires_at; /* Unix seconds */
	const char *token_type;
	const char *issued_token_type;
	const msgpack_object *context; /* map, may be NULL */
	const char *access_token;      /* only where the tenant exposes tokens, else NULL */
};

/* get_records, insert_records, detokenize, tokenize and query all answer {records: [...]} */
struct sb_records_result {
	const msgpack_object *records; /* array */
	const char *redaction_capped;  /* get_records, detokenize: the level asked of Skyflow when
					* the tenant's max_redaction lowered the request; else NULL */
};

struct sb_get_record_result {
	const msgpack_object *record; /* map */
	const char *redaction_capped; /* as in sb_records_result */
};

struct sb_update_record_result {
	const char *skyflow_id;
	const msgpack_object *tokens; /* map, may be NULL */
};

struct sb_delete_records_result {
	struct sb_strv skyflow_ids;
};

struct sb_error {
	enum sb_errcode code;
	const char *message;
	bool retryable;
	struct sb_opt_u64 upstream_status;
	const char *request_id; /* upstream X-Request-ID, or NULL */
};

struct sb_reply {
	uint64_t id;
	bool ok;
	enum sb_op op; /* not on the wire: the op of the request this answers */
	union {
		struct sb_hello_result hello;
		struct sb_health_result health;
		struct sb_stats_result stats;
		struct sb_metrics_result metrics;
		struct sb_exchange_result exchange;
		struct sb_records_result records;
		struct sb_get_record_result get_record;
		struct sb_update_record_result update_record;
		struct sb_delete_records_result delete_records;
	} u;
	struct sb_error error; /* when !ok */
	/* private */
	msgpack_zone *zone;
	uint8_t *raw;
	size_t raw_len;
	const msgpack_object *result_obj;
};

/*
 * Decodes one request payload (a frame's body, without the length prefix).
 * On success returns 0 and fills req, which must be released with sb_request_done.
 * On failure returns a negative errno, fills e, and releases everything; *id_known is set to
 * whether req->id could still be read, so the caller can address its error reply.
 * -EOPNOTSUPP: unknown op (req->op is SB_OP_INVALID).
 */
int sb_request_decode(struct sb_request *req, const uint8_t *p, size_t n, bool *id_known,
		      struct sb_proto_error *e);

/* Wipes the secrets (subject_token) and frees the zone or the block. Safe on a zeroed or done
 * request. */
void sb_request_done(struct sb_request *req);

/*
 * Moves what req's operation uses (the fields of its table) out of its decode zone into one
 * malloc'd block of exactly their size, then wipes and frees the zone: the unknown fields, the
 * rest of the msgpack tree and the copy of the payload. Every field reads the same afterwards.
 * sb_request_decode does it before it returns; a request already compact, or built by hand,
 * is left alone. 0, or -ENOMEM with req unchanged.
 */
int sb_request_compact(struct sb_request *req);

/* The bytes a decoded request holds beyond its struct (its block). */
size_t sb_request_held(const struct sb_request *req);

/* Appends one frame holding req; all or nothing. -EMSGSIZE if larger than max_payload. */
int sb_request_encode(const struct sb_request *req, struct sb_buf *out, size_t max_payload);

/*
 * Decodes a reply payload. `op_of_id` tells which op the request with that id was (the client
 * keeps that map); it returns SB_OP_INVALID for an id it never sent (-EBADMSG).
 * Must be released with sb_reply_done.
 */
int sb_reply_decode(struct sb_reply *rep, const uint8_t *p, size_t n,
		    enum sb_op (*op_of_id)(uint64_t id, void *userdata), void *userdata,
		    struct sb_proto_error *e);

void sb_reply_done(struct sb_reply *rep);

/* Appends the result map of an ok reply rep (rep->op's result fields), without envelope or
 * frame: bytes for sb_reply_encode_ok_raw, e.g. kept by a server that sends the same result
 * often. -EINVAL for an error reply or a required field missing; on -EMSGSIZE (out's max)
 * out may hold part of the map. */
int sb_result_encode(const struct sb_reply *rep, struct sb_buf *out);

/* Appends one frame holding rep (ok result of rep->op, or rep->error); all or nothing. */
int sb_reply_encode(const struct sb_reply *rep, struct sb_buf *out, size_t max_payload);

/*
 * For servers that stream a result: appends one frame {id, ok: true, result: <result>} where
 * result is n bytes of one msgpack map the caller has already encoded (and checked against
 * this document's limits: only the first byte is looked at here). All or nothing; -EINVAL if
 * result does not start with a map, -EMSGSIZE if the frame would exceed max_payload.
 */
int sb_reply_encode_ok_raw(uint64_t id, const uint8_t *result, size_t n, struct sb_buf *out,
			   size_t max_payload);

/*
 * Convenience for servers: an error reply with code and message (message copied, truncated
 * to SB_MAX_MESSAGE_LEN). retryable follows sb_errcode_retryable.
 */
int sb_reply_encode_error(uint64_t id, enum sb_errcode code, const char *message,
			  struct sb_buf *out, size_t max_payload);

/* Structural equality of two msgpack objects (for tests and for callers comparing values). */
bool sb_mp_equal(const msgpack_object *a, const msgpack_object *b);
