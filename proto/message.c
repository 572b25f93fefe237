/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "frame.h"
#include "limits.h"
#include "message.h"
#include "mpcheck.h"

/* ------------------------------------------------------------------ names */

static const char *const op_names[_SB_OP_MAX] = {
	[SB_OP_HELLO] = "hello",
	[SB_OP_PING] = "ping",
	[SB_OP_HEALTH] = "health",
	[SB_OP_STATS] = "stats",
	[SB_OP_EXCHANGE] = "exchange",
	[SB_OP_GET_RECORDS] = "get_records",
	[SB_OP_GET_RECORD] = "get_record",
	[SB_OP_INSERT_RECORDS] = "insert_records",
	[SB_OP_UPDATE_RECORD] = "update_record",
	[SB_OP_DELETE_RECORDS] = "delete_records",
	[SB_OP_DETOKENIZE] = "detokenize",
	[SB_OP_TOKENIZE] = "tokenize",
	[SB_OP_QUERY] = "query",
};

const char *const sb_redaction_names[] = {"DEFAULT", "REDACTED", "MASKED", "PLAIN_TEXT", NULL};
const char *const sb_order_names[] = {"ASCENDING", "DESCENDING", "NONE", NULL};

const char *sb_op_name(enum sb_op op)
{
	if ((unsigned)op >= _SB_OP_MAX)
		return NULL;
	return op_names[op];
}

enum sb_op sb_op_from_name(const char *name)
{
	for (int i = 0; i < _SB_OP_MAX; i++)
		if (strcmp(op_names[i], name) == 0)
			return (enum sb_op)i;
	return SB_OP_INVALID;
}

bool sb_op_needs_subject(enum sb_op op)
{
	return op >= SB_OP_EXCHANGE && op < _SB_OP_MAX;
}

/* ------------------------------------------------------------ field tables */

enum ftype {
	FT_STR,      /* const char *; max = byte length */
	FT_ENUM,     /* const char * pointing at one of `names` */
	FT_U64,      /* struct sb_opt_u64 (optional) or uint64_t (required); max = value, 0 none */
	FT_BOOL,     /* struct sb_opt_bool (optional) or bool (required) */
	FT_STRV,     /* struct sb_strv; max = count, item_max = byte length of each */
	FT_U64V,     /* struct sb_u64v; max = count */
	FT_MAP,      /* const msgpack_object * (map) */
	FT_ARRAY,    /* const msgpack_object * (array); max = count */
	FT_MAPARRAY, /* const msgpack_object * (array of maps); max = count */
};

enum {
	F_REQUIRED = 1 << 0,
	F_SECRET = 1 << 1, /* wiped when the message is released */
};

struct field {
	const char *name;
	uint8_t type;
	uint8_t flags;
	uint32_t max;
	uint32_t item_max;
	const char *const *names;
	size_t off; /* within the args/result union */
};

struct table {
	const struct field *f;
	size_t n;
};

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
static const struct table request_tables[_SB_OP_MAX] = {
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
};

static const struct field hello_res[] = {
	{"version", FT_U64, F_REQUIRED, 0, 0, NULL, RES_OFF(hello, version)},
	{"tenant", FT_STR, F_REQUIRED, SB_MAX_NAME_LEN, 0, NULL, RES_OFF(hello, tenant)},
	{"server", FT_STR, F_REQUIRED, SB_MAX_CLIENT_NAME, 0, NULL, RES_OFF(hello, server)},
	{"operations", FT_STRV, F_REQUIRED, _SB_OP_MAX * 4, SB_MAX_NAME_LEN, NULL, RES_OFF(hello, operations)},
	{"max_request_frame", FT_U64, F_REQUIRED, 0, 0, NULL, RES_OFF(hello, max_request_frame)},
	{"max_reply_frame", FT_U64, F_REQUIRED, 0, 0, NULL, RES_OFF(hello, max_reply_frame)},
};
static const struct field health_res[] = {
	{"ready", FT_BOOL, F_REQUIRED, 0, 0, NULL, RES_OFF(health, ready)},
	{"tenant", FT_STR, F_REQUIRED, SB_MAX_NAME_LEN, 0, NULL, RES_OFF(health, tenant)},
	{"reasons", FT_STRV, F_REQUIRED, SB_MAX_IDS, SB_MAX_MESSAGE_LEN, NULL, RES_OFF(health, reasons)},
};
static const struct field stats_res[] = {
	{"uptime_s", FT_U64, F_REQUIRED, 0, 0, NULL, RES_OFF(stats, uptime_s)},
	{"connections", FT_MAP, F_REQUIRED, 0, 0, NULL, RES_OFF(stats, connections)},
	{"requests", FT_MAP, F_REQUIRED, 0, 0, NULL, RES_OFF(stats, requests)},
	{"latency_us", FT_MAP, F_REQUIRED, 0, 0, NULL, RES_OFF(stats, latency_us)},
	{"cache", FT_MAP, F_REQUIRED, 0, 0, NULL, RES_OFF(stats, cache)},
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
};
static const struct field get_record_res[] = {
	{"record", FT_MAP, F_REQUIRED, 0, 0, NULL, RES_OFF(get_record, record)},
};
static const struct field update_record_res[] = {
	{"skyflow_id", FT_STR, F_REQUIRED, SB_MAX_NAME_LEN, 0, NULL, RES_OFF(update_record, skyflow_id)},
	{"tokens", FT_MAP, 0, 0, 0, NULL, RES_OFF(update_record, tokens)},
};
static const struct field delete_records_res[] = {
	{"skyflow_ids", FT_STRV, F_REQUIRED, SB_MAX_CONTAINER, SB_MAX_NAME_LEN, NULL, RES_OFF(delete_records, skyflow_ids)},
};

static const struct table result_tables[_SB_OP_MAX] = {
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
};

static const struct field error_fields[] = {
	{"code", FT_STR, F_REQUIRED, SB_MAX_NAME_LEN, 0, NULL, 0},
	{"message", FT_STR, F_REQUIRED, SB_MAX_MESSAGE_LEN, 0, NULL, offsetof(struct sb_error, message)},
	{"retryable", FT_BOOL, F_REQUIRED, 0, 0, NULL, offsetof(struct sb_error, retryable)},
	{"upstream_status", FT_U64, 0, 999, 0, NULL, offsetof(struct sb_error, upstream_status)},
	{"request_id", FT_STR, 0, SB_MAX_REQUEST_ID, 0, NULL, offsetof(struct sb_error, request_id)},
};

/* ------------------------------------------------------------------ decode */

static bool key_is(const msgpack_object *k, const char *name)
{
	size_t n = strlen(name);

	return k->type == MSGPACK_OBJECT_STR && k->via.str.size == n &&
	       memcmp(k->via.str.ptr, name, n) == 0;
}

/* Finds key in map; -EBADMSG if it appears twice, 0 if absent, 1 with *val if present. */
static int map_find(const msgpack_object *map, const char *name, const msgpack_object **val,
		    struct sb_proto_error *e)
{
	*val = NULL;
	for (uint32_t i = 0; i < map->via.map.size; i++) {
		const msgpack_object_kv *kv = &map->via.map.ptr[i];

		if (!key_is(&kv->key, name))
			continue;
		if (*val)
			return sb_proto_error_set(e, -EBADMSG, "field '%s' appears twice", name);
		*val = &kv->val;
	}
	return *val ? 1 : 0;
}

/* NUL-terminated copy of a checked msgpack string in the zone. */
static const char *zone_strdup(msgpack_zone *z, const msgpack_object *o)
{
	char *s = msgpack_zone_malloc(z, o->via.str.size + 1);

	if (!s)
		return NULL;
	memcpy(s, o->via.str.ptr, o->via.str.size);
	s[o->via.str.size] = '\0';
	return s;
}

static int type_error(struct sb_proto_error *e, const char *name, const char *what)
{
	return sb_proto_error_set(e, -EBADMSG, "field '%s' must be %s", name, what);
}

static int decode_str(const struct field *f, const msgpack_object *v, msgpack_zone *z,
		      const char **out, struct sb_proto_error *e)
{
	if (v->type != MSGPACK_OBJECT_STR)
		return type_error(e, f->name, "a string");
	if (f->max && v->via.str.size > f->max)
		return sb_proto_error_set(e, -EMSGSIZE, "field '%s' is longer than %u bytes",
					  f->name, f->max);
	*out = zone_strdup(z, v);
	return *out ? 0 : -ENOMEM;
}

static int decode_field(const struct field *f, const msgpack_object *v, msgpack_zone *z,
			char *base, struct sb_proto_error *e)
{
	void *dst = base + f->off;
	bool required = f->flags & F_REQUIRED;
	int r;

	switch (f->type) {
	case FT_STR:
		return decode_str(f, v, z, (const char **)dst, e);

	case FT_ENUM:
		if (v->type != MSGPACK_OBJECT_STR)
			return type_error(e, f->name, "a string");
		for (const char *const *n = f->names; *n; n++)
			if (key_is(v, *n)) {
				*(const char **)dst = *n;
				return 0;
			}
		return sb_proto_error_set(e, -EBADMSG, "field '%s' has an unknown value", f->name);

	case FT_U64:
		if (v->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
			return type_error(e, f->name, "a non-negative integer");
		if (f->max && v->via.u64 > f->max)
			return sb_proto_error_set(e, -EBADMSG, "field '%s' must be at most %u",
						  f->name, f->max);
		if (required)
			*(uint64_t *)dst = v->via.u64;
		else
			*(struct sb_opt_u64 *)dst = (struct sb_opt_u64){true, v->via.u64};
		return 0;

	case FT_BOOL:
		if (v->type != MSGPACK_OBJECT_BOOLEAN)
			return type_error(e, f->name, "a boolean");
		if (required)
			*(bool *)dst = v->via.boolean;
		else
			*(struct sb_opt_bool *)dst = (struct sb_opt_bool){true, v->via.boolean};
		return 0;

	case FT_STRV: {
		struct sb_strv *sv = dst;
		const msgpack_object_array *a = &v->via.array;

		if (v->type != MSGPACK_OBJECT_ARRAY)
			return type_error(e, f->name, "an array of strings");
		if (a->size > f->max)
			return sb_proto_error_set(e, -EMSGSIZE, "field '%s' has more than %u entries",
						  f->name, f->max);
		sv->v = msgpack_zone_malloc(z, sizeof(char *) * (a->size + 1));
		if (!sv->v)
			return -ENOMEM;
		for (uint32_t i = 0; i < a->size; i++) {
			const msgpack_object *it = &a->ptr[i];

			if (it->type != MSGPACK_OBJECT_STR)
				return type_error(e, f->name, "an array of strings");
			if (it->via.str.size > f->item_max)
				return sb_proto_error_set(e, -EMSGSIZE,
							  "an entry of field '%s' is longer than %u bytes",
							  f->name, f->item_max);
			sv->v[i] = zone_strdup(z, it);
			if (!sv->v[i])
				return -ENOMEM;
			sv->n = i + 1; /* so a failure later still wipes the copies made so far */
		}
		sv->v[a->size] = NULL;
		sv->n = a->size;
		sv->set = true;
		return 0;
	}

	case FT_U64V: {
		struct sb_u64v *uv = dst;
		const msgpack_object_array *a = &v->via.array;

		if (v->type != MSGPACK_OBJECT_ARRAY || a->size == 0)
			return type_error(e, f->name, "a non-empty array of integers");
		if (a->size > f->max)
			return sb_proto_error_set(e, -EMSGSIZE, "field '%s' has more than %u entries",
						  f->name, f->max);
		uv->v = msgpack_zone_malloc(z, sizeof(uint64_t) * a->size);
		if (!uv->v)
			return -ENOMEM;
		for (uint32_t i = 0; i < a->size; i++) {
			if (a->ptr[i].type != MSGPACK_OBJECT_POSITIVE_INTEGER)
				return type_error(e, f->name, "a non-empty array of integers");
			uv->v[i] = a->ptr[i].via.u64;
		}
		uv->n = a->size;
		uv->set = true;
		return 0;
	}

	case FT_MAP:
		if (v->type != MSGPACK_OBJECT_MAP)
			return type_error(e, f->name, "a map");
		*(const msgpack_object **)dst = v;
		return 0;

	case FT_ARRAY:
	case FT_MAPARRAY:
		if (v->type != MSGPACK_OBJECT_ARRAY)
			return type_error(e, f->name,
					  f->type == FT_ARRAY ? "an array" : "an array of maps");
		if (f->max && v->via.array.size > f->max)
			return sb_proto_error_set(e, -EMSGSIZE, "field '%s' has more than %u entries",
						  f->name, f->max);
		if (f->type == FT_MAPARRAY)
			for (uint32_t i = 0; i < v->via.array.size; i++)
				if (v->via.array.ptr[i].type != MSGPACK_OBJECT_MAP)
					return type_error(e, f->name, "an array of maps");
		*(const msgpack_object **)dst = v;
		return 0;
	}
	r = sb_proto_error_set(e, -EINVAL, "field '%s' has no decoder", f->name);
	return r;
}

/* Decodes every field of table t found in map into base; checks required ones are there. */
static int decode_table(const struct table *t, const msgpack_object *map, msgpack_zone *z,
			char *base, struct sb_proto_error *e)
{
	for (size_t i = 0; i < t->n; i++) {
		const struct field *f = &t->f[i];
		const msgpack_object *v;
		int r;

		r = map_find(map, f->name, &v, e);
		if (r < 0)
			return r;
		if (r == 0) {
			if (f->flags & F_REQUIRED)
				return sb_proto_error_set(e, -EBADMSG, "field '%s' is missing",
							  f->name);
			continue;
		}
		r = decode_field(f, v, z, base, e);
		if (r < 0)
			return r;
	}
	return 0;
}

/* Wipes every secret string of table t held in base. */
static void wipe_table(const struct table *t, char *base)
{
	for (size_t i = 0; i < t->n; i++) {
		const struct field *f = &t->f[i];

		if (!(f->flags & F_SECRET))
			continue;
		if (f->type == FT_STR) {
			char *s = *(char **)(base + f->off);
			if (s)
				explicit_bzero(s, strlen(s));
		} else if (f->type == FT_STRV) {
			struct sb_strv *sv = (struct sb_strv *)(base + f->off);
			for (uint32_t j = 0; j < sv->n; j++)
				explicit_bzero((char *)sv->v[j], strlen(sv->v[j]));
		}
	}
}

/*
 * Checks the payload, copies it into a new zone (msgpack-c's strings point into the bytes they
 * were unpacked from, and the caller's frame buffer moves on) and unpacks it there. *zret and
 * *raw are set as soon as they exist, so the caller's release path frees them on any failure.
 */
static int unpack_checked(const uint8_t *p, size_t n, msgpack_zone **zret, uint8_t **raw,
			  msgpack_object *root, struct sb_proto_error *e)
{
	size_t off = 0;
	int r;

	r = sb_mp_check(p, n, e);
	if (r < 0)
		return r;

	*zret = msgpack_zone_new(n + 1024);
	if (!*zret)
		return sb_proto_error_set(e, -ENOMEM, "out of memory");
	*raw = msgpack_zone_malloc(*zret, n);
	if (!*raw)
		return sb_proto_error_set(e, -ENOMEM, "out of memory");
	memcpy(*raw, p, n);

	if (msgpack_unpack((const char *)*raw, n, &off, *zret, root) != MSGPACK_UNPACK_SUCCESS ||
	    off != n)
		return sb_proto_error_set(e, -EBADMSG, "malformed message");
	if (root->type != MSGPACK_OBJECT_MAP)
		return sb_proto_error_set(e, -EBADMSG, "message is not a map");
	return 0;
}

/* Wipes the payload copy and frees the zone. */
static void zone_release(msgpack_zone **zp, uint8_t **raw, size_t *raw_len)
{
	if (*raw)
		explicit_bzero(*raw, *raw_len);
	*raw = NULL;
	*raw_len = 0;
	if (*zp)
		msgpack_zone_free(*zp);
	*zp = NULL;
}

int sb_request_decode(struct sb_request *req, const uint8_t *p, size_t n, bool *id_known,
		      struct sb_proto_error *e)
{
	msgpack_object root;
	const msgpack_object *v;
	int r;

	*req = (struct sb_request){.op = SB_OP_INVALID};
	*id_known = false;

	r = unpack_checked(p, n, &req->zone, &req->raw, &root, e);
	req->raw_len = n;
	if (r < 0)
		goto fail;

	r = map_find(&root, "id", &v, e);
	if (r < 0)
		goto fail;
	if (r == 0) {
		r = sb_proto_error_set(e, -EBADMSG, "field 'id' is missing");
		goto fail;
	}
	if (v->type != MSGPACK_OBJECT_POSITIVE_INTEGER || v->via.u64 == 0) {
		r = type_error(e, "id", "a positive integer");
		goto fail;
	}
	req->id = v->via.u64;
	*id_known = true;

	r = map_find(&root, "op", &v, e);
	if (r < 0)
		goto fail;
	if (r == 0) {
		r = sb_proto_error_set(e, -EBADMSG, "field 'op' is missing");
		goto fail;
	}
	if (v->type != MSGPACK_OBJECT_STR) {
		r = type_error(e, "op", "a string");
		goto fail;
	}
	for (int i = 0; i < _SB_OP_MAX; i++)
		if (key_is(v, op_names[i]))
			req->op = (enum sb_op)i;
	if (req->op == SB_OP_INVALID) {
		r = sb_proto_error_set(e, -EOPNOTSUPP, "unknown operation");
		goto fail;
	}

	r = decode_table(&request_tables[req->op], &root, req->zone, (char *)&req->u, e);
	if (r < 0)
		goto fail;
	return 0;

fail:
	sb_request_done(req);
	return r;
}

void sb_request_done(struct sb_request *req)
{
	if (req->zone && (unsigned)req->op < _SB_OP_MAX)
		wipe_table(&request_tables[req->op], (char *)&req->u);
	zone_release(&req->zone, &req->raw, &req->raw_len);
	memset(&req->u, 0, sizeof(req->u));
}

int sb_reply_decode(struct sb_reply *rep, const uint8_t *p, size_t n,
		    enum sb_op (*op_of_id)(uint64_t id, void *userdata), void *userdata,
		    struct sb_proto_error *e)
{
	msgpack_object root;
	const msgpack_object *v;
	int r;

	*rep = (struct sb_reply){.op = SB_OP_INVALID};

	r = unpack_checked(p, n, &rep->zone, &rep->raw, &root, e);
	rep->raw_len = n;
	if (r < 0)
		goto fail;

	r = map_find(&root, "id", &v, e);
	if (r < 0)
		goto fail;
	if (r == 0 || v->type != MSGPACK_OBJECT_POSITIVE_INTEGER) {
		r = type_error(e, "id", "a non-negative integer");
		goto fail;
	}
	rep->id = v->via.u64;

	r = map_find(&root, "ok", &v, e);
	if (r < 0)
		goto fail;
	if (r == 0 || v->type != MSGPACK_OBJECT_BOOLEAN) {
		r = type_error(e, "ok", "a boolean");
		goto fail;
	}
	rep->ok = v->via.boolean;

	if (!rep->ok) {
		const char *code = NULL;

		r = map_find(&root, "error", &v, e);
		if (r < 0)
			goto fail;
		if (r == 0 || v->type != MSGPACK_OBJECT_MAP) {
			r = type_error(e, "error", "a map");
			goto fail;
		}
		/* code is decoded into a local; the rest straight into rep->error */
		struct field codef = error_fields[0];
		const struct table et = {error_fields + 1, sizeof(error_fields) / sizeof(error_fields[0]) - 1};
		const msgpack_object *cv;

		r = map_find(v, "code", &cv, e);
		if (r < 0)
			goto fail;
		if (r == 0) {
			r = sb_proto_error_set(e, -EBADMSG, "field 'code' is missing");
			goto fail;
		}
		r = decode_str(&codef, cv, rep->zone, &code, e);
		if (r < 0)
			goto fail;
		r = sb_errcode_from_name(code);
		/* a code this client does not know yet is reported as internal */
		rep->error.code = r < 0 ? SB_ERR_INTERNAL : (enum sb_errcode)r;
		r = decode_table(&et, v, rep->zone, (char *)&rep->error, e);
		if (r < 0)
			goto fail;
		if (rep->id != 0 && op_of_id)
			rep->op = op_of_id(rep->id, userdata);
		return 0;
	}

	if (!op_of_id || (rep->op = op_of_id(rep->id, userdata)) == SB_OP_INVALID) {
		r = sb_proto_error_set(e, -EBADMSG, "reply for an unknown request id");
		goto fail;
	}
	r = map_find(&root, "result", &v, e);
	if (r < 0)
		goto fail;
	if (r == 0 || v->type != MSGPACK_OBJECT_MAP) {
		r = type_error(e, "result", "a map");
		goto fail;
	}
	rep->result_obj = v;
	r = decode_table(&result_tables[rep->op], v, rep->zone, (char *)&rep->u, e);
	if (r < 0)
		goto fail;
	return 0;

fail:
	sb_reply_done(rep);
	return r;
}

void sb_reply_done(struct sb_reply *rep)
{
	if (rep->zone && rep->ok && (unsigned)rep->op < _SB_OP_MAX)
		wipe_table(&result_tables[rep->op], (char *)&rep->u);
	zone_release(&rep->zone, &rep->raw, &rep->raw_len);
	memset(&rep->u, 0, sizeof(rep->u));
	rep->result_obj = NULL;
}

/* ------------------------------------------------------------------ encode */

struct packer {
	msgpack_packer pk;
	struct sb_buf *out;
	int err;
};

static int pk_write(void *data, const char *buf, size_t len)
{
	struct packer *p = data;
	int r;

	if (p->err)
		return -1;
	r = sb_buf_append(p->out, buf, len);
	if (r < 0) {
		p->err = r;
		return -1;
	}
	return 0;
}

static void pk_str(struct packer *p, const char *s)
{
	size_t n = strlen(s);

	msgpack_pack_str(&p->pk, n);
	msgpack_pack_str_body(&p->pk, s, n);
}

/* Whether field f holds a value in base (absent optional fields are not written). */
static bool field_present(const struct field *f, const char *base)
{
	const void *src = base + f->off;
	bool required = f->flags & F_REQUIRED;

	switch (f->type) {
	case FT_STR:
	case FT_ENUM:
		return *(const char *const *)src != NULL;
	case FT_U64:
		return required || ((const struct sb_opt_u64 *)src)->set;
	case FT_BOOL:
		return required || ((const struct sb_opt_bool *)src)->set;
	case FT_STRV:
		return required || ((const struct sb_strv *)src)->set;
	case FT_U64V:
		return required || ((const struct sb_u64v *)src)->set;
	default:
		return *(const msgpack_object *const *)src != NULL;
	}
}

static int count_present(const struct table *t, const char *base, uint32_t *n)
{
	*n = 0;
	for (size_t i = 0; i < t->n; i++) {
		if (field_present(&t->f[i], base))
			(*n)++;
		else if (t->f[i].flags & F_REQUIRED)
			return -EINVAL; /* the caller forgot a required field */
	}
	return 0;
}

static void encode_field(struct packer *p, const struct field *f, const char *base)
{
	const void *src = base + f->off;
	bool required = f->flags & F_REQUIRED;

	pk_str(p, f->name);
	switch (f->type) {
	case FT_STR:
	case FT_ENUM:
		pk_str(p, *(const char *const *)src);
		break;
	case FT_U64:
		msgpack_pack_uint64(&p->pk, required ? *(const uint64_t *)src
						     : ((const struct sb_opt_u64 *)src)->v);
		break;
	case FT_BOOL:
		if (required ? *(const bool *)src : ((const struct sb_opt_bool *)src)->v)
			msgpack_pack_true(&p->pk);
		else
			msgpack_pack_false(&p->pk);
		break;
	case FT_STRV: {
		const struct sb_strv *sv = src;
		msgpack_pack_array(&p->pk, sv->n);
		for (uint32_t i = 0; i < sv->n; i++)
			pk_str(p, sv->v[i]);
		break;
	}
	case FT_U64V: {
		const struct sb_u64v *uv = src;
		msgpack_pack_array(&p->pk, uv->n);
		for (uint32_t i = 0; i < uv->n; i++)
			msgpack_pack_uint64(&p->pk, uv->v[i]);
		break;
	}
	default:
		msgpack_pack_object(&p->pk, **(const msgpack_object *const *)src);
		break;
	}
}

static void encode_table_body(struct packer *p, const struct table *t, const char *base)
{
	for (size_t i = 0; i < t->n; i++)
		if (field_present(&t->f[i], base))
			encode_field(p, &t->f[i], base);
}

/* Runs the frame protocol around an encoder body; all or nothing. */
static int finish_frame(struct packer *p, size_t mark, size_t max_payload)
{
	if (p->err) {
		sb_frame_abort(p->out, mark);
		return p->err;
	}
	return sb_frame_end(p->out, mark, max_payload);
}

static int packer_begin(struct packer *p, struct sb_buf *out, size_t *mark)
{
	*p = (struct packer){.out = out};
	msgpack_packer_init(&p->pk, p, pk_write);
	return sb_frame_begin(out, mark);
}

int sb_request_encode(const struct sb_request *req, struct sb_buf *out, size_t max_payload)
{
	const struct table *t;
	struct packer p;
	size_t mark;
	uint32_t n;
	int r;

	if ((unsigned)req->op >= _SB_OP_MAX || req->id == 0)
		return -EINVAL;
	t = &request_tables[req->op];
	r = count_present(t, (const char *)&req->u, &n);
	if (r < 0)
		return r;
	r = packer_begin(&p, out, &mark);
	if (r < 0)
		return r;
	msgpack_pack_map(&p.pk, n + 2);
	pk_str(&p, "id");
	msgpack_pack_uint64(&p.pk, req->id);
	pk_str(&p, "op");
	pk_str(&p, op_names[req->op]);
	encode_table_body(&p, t, (const char *)&req->u);
	return finish_frame(&p, mark, max_payload);
}

int sb_reply_encode(const struct sb_reply *rep, struct sb_buf *out, size_t max_payload)
{
	struct packer p;
	size_t mark;
	uint32_t n = 0;
	int r;

	if (rep->ok) {
		if ((unsigned)rep->op >= _SB_OP_MAX)
			return -EINVAL;
		r = count_present(&result_tables[rep->op], (const char *)&rep->u, &n);
		if (r < 0)
			return r;
	} else if (!rep->error.message) {
		return -EINVAL;
	}

	r = packer_begin(&p, out, &mark);
	if (r < 0)
		return r;
	msgpack_pack_map(&p.pk, 3);
	pk_str(&p, "id");
	msgpack_pack_uint64(&p.pk, rep->id);
	pk_str(&p, "ok");
	if (rep->ok) {
		msgpack_pack_true(&p.pk);
		pk_str(&p, "result");
		msgpack_pack_map(&p.pk, n);
		encode_table_body(&p, &result_tables[rep->op], (const char *)&rep->u);
	} else {
		const struct sb_error *er = &rep->error;
		const struct table et = {error_fields + 1,
					 sizeof(error_fields) / sizeof(error_fields[0]) - 1};

		msgpack_pack_false(&p.pk);
		pk_str(&p, "error");
		msgpack_pack_map(&p.pk, 3 + er->upstream_status.set + !!er->request_id);
		pk_str(&p, "code");
		pk_str(&p, sb_errcode_name(er->code));
		encode_table_body(&p, &et, (const char *)er);
	}
	return finish_frame(&p, mark, max_payload);
}

int sb_reply_encode_error(uint64_t id, enum sb_errcode code, const char *message,
			  struct sb_buf *out, size_t max_payload)
{
	char msg[SB_MAX_MESSAGE_LEN + 1];
	size_t n = strnlen(message, SB_MAX_MESSAGE_LEN);
	struct sb_reply rep = {
		.id = id,
		.ok = false,
		.error = {.code = code, .message = msg, .retryable = sb_errcode_retryable(code)},
	};

	memcpy(msg, message, n);
	msg[n] = '\0';
	return sb_reply_encode(&rep, out, max_payload);
}

bool sb_mp_equal(const msgpack_object *a, const msgpack_object *b)
{
	if (!a || !b)
		return a == b;
	return msgpack_object_equal(*a, *b);
}
