/* SPDX-License-Identifier: MIT */
/* message: request and reply payloads decoded into the structs of message.h, and released. */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "limits.h"
#include "message.h"
#include "mpcheck.h"
#include "schema.h"

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

/* Like map_find, but a missing field is an error naming it. 0 or -EBADMSG. */
static int map_require(const msgpack_object *map, const char *name, const msgpack_object **val,
		       struct sb_proto_error *e)
{
	int r = map_find(map, name, val, e);

	if (r < 0)
		return r;
	if (r == 0)
		return sb_proto_error_set(e, -EBADMSG, "field '%s' is missing", name);
	return 0;
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

/* One of f->names; *out points at the table's own string, not into the zone. */
static int decode_enum(const struct field *f, const msgpack_object *v, const char **out,
		       struct sb_proto_error *e)
{
	if (v->type != MSGPACK_OBJECT_STR)
		return type_error(e, f->name, "a string");
	for (const char *const *n = f->names; *n; n++)
		if (key_is(v, *n)) {
			*out = *n;
			return 0;
		}
	return sb_proto_error_set(e, -EBADMSG, "field '%s' has an unknown value", f->name);
}

/* Into a uint64_t when f is required, else into a struct sb_opt_u64. */
static int decode_u64(const struct field *f, const msgpack_object *v, void *dst,
		      struct sb_proto_error *e)
{
	if (v->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
		return type_error(e, f->name, "a non-negative integer");
	if (f->max && v->via.u64 > f->max)
		return sb_proto_error_set(e, -EBADMSG, "field '%s' must be at most %u", f->name,
					  f->max);
	if (f->flags & F_REQUIRED)
		*(uint64_t *)dst = v->via.u64;
	else
		*(struct sb_opt_u64 *)dst = (struct sb_opt_u64){true, v->via.u64};
	return 0;
}

/* Into a bool when f is required, else into a struct sb_opt_bool. */
static int decode_bool(const struct field *f, const msgpack_object *v, void *dst,
		       struct sb_proto_error *e)
{
	if (v->type != MSGPACK_OBJECT_BOOLEAN)
		return type_error(e, f->name, "a boolean");
	if (f->flags & F_REQUIRED)
		*(bool *)dst = v->via.boolean;
	else
		*(struct sb_opt_bool *)dst = (struct sb_opt_bool){true, v->via.boolean};
	return 0;
}

/* Copies an array of strings into the zone. On failure sv->n counts the copies already made,
 * so that the release path still wipes a secret field's. */
static int decode_strv(const struct field *f, const msgpack_object *v, msgpack_zone *z,
		       struct sb_strv *sv, struct sb_proto_error *e)
{
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

/* A non-empty array of non-negative integers, copied into the zone. */
static int decode_u64v(const struct field *f, const msgpack_object *v, msgpack_zone *z,
		       struct sb_u64v *uv, struct sb_proto_error *e)
{
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

/* FT_MAP, FT_ARRAY, FT_MAPARRAY: the value stays a msgpack_object in the zone, borrowed. */
static int decode_object(const struct field *f, const msgpack_object *v,
			 const msgpack_object **out, struct sb_proto_error *e)
{
	if (f->type == FT_MAP) {
		if (v->type != MSGPACK_OBJECT_MAP)
			return type_error(e, f->name, "a map");
		*out = v;
		return 0;
	}
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
	*out = v;
	return 0;
}

/* Decodes value v of field f into base + f->off (strings copied into z). Returns 0,
 * -EBADMSG / -EMSGSIZE with e naming the field, or -ENOMEM. */
static int decode_field(const struct field *f, const msgpack_object *v, msgpack_zone *z,
			char *base, struct sb_proto_error *e)
{
	void *dst = base + f->off;

	switch (f->type) {
	case FT_STR:
		return decode_str(f, v, z, (const char **)dst, e);
	case FT_ENUM:
		return decode_enum(f, v, (const char **)dst, e);
	case FT_U64:
		return decode_u64(f, v, dst, e);
	case FT_BOOL:
		return decode_bool(f, v, dst, e);
	case FT_STRV:
		return decode_strv(f, v, z, dst, e);
	case FT_U64V:
		return decode_u64v(f, v, z, dst, e);
	case FT_MAP:
	case FT_ARRAY:
	case FT_MAPARRAY:
		return decode_object(f, v, (const msgpack_object **)dst, e);
	}
	return sb_proto_error_set(e, -EINVAL, "field '%s' has no decoder", f->name);
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

DEFINE_TRIVIAL_CLEANUP_FUNC(struct sb_request *, sb_request_done)
DEFINE_TRIVIAL_CLEANUP_FUNC(struct sb_reply *, sb_reply_done)

/* Finds the field `name` of map, which must be there and of the given type (else -EBADMSG
 * "must be <what>"). */
static int find_typed(const msgpack_object *map, const char *name, msgpack_object_type type,
		      const char *what, const msgpack_object **v, struct sb_proto_error *e)
{
	int r = map_find(map, name, v, e);

	if (r < 0)
		return r;
	if (r == 0 || (*v)->type != type)
		return type_error(e, name, what);
	return 0;
}

/* A request's "id": required, a positive integer. */
static int decode_request_id(const msgpack_object *root, uint64_t *id, struct sb_proto_error *e)
{
	const msgpack_object *v;
	int r;

	r = map_require(root, "id", &v, e);
	if (r < 0)
		return r;
	if (v->type != MSGPACK_OBJECT_POSITIVE_INTEGER || v->via.u64 == 0)
		return type_error(e, "id", "a positive integer");
	*id = v->via.u64;
	return 0;
}

/* A request's "op": required, a string naming an operation (-EOPNOTSUPP when it names none;
 * *op is then SB_OP_INVALID). */
static int decode_request_op(const msgpack_object *root, enum sb_op *op,
			     struct sb_proto_error *e)
{
	const msgpack_object *v;
	int r;

	r = map_require(root, "op", &v, e);
	if (r < 0)
		return r;
	if (v->type != MSGPACK_OBJECT_STR)
		return type_error(e, "op", "a string");
	for (int i = 0; i < _SB_OP_MAX; i++)
		if (key_is(v, sb_operations[i].name))
			*op = (enum sb_op)i;
	if (*op == SB_OP_INVALID)
		return sb_proto_error_set(e, -EOPNOTSUPP, "unknown operation");
	return 0;
}

int sb_request_decode(struct sb_request *req, const uint8_t *p, size_t n, bool *id_known,
		      struct sb_proto_error *e)
{
	/* released on every failure; the success path takes it back */
	_cleanup_(sb_request_donep) struct sb_request *undo = req;
	msgpack_object root;
	int r;

	*req = (struct sb_request){.op = SB_OP_INVALID};
	*id_known = false;

	r = unpack_checked(p, n, &req->zone, &req->raw, &root, e);
	req->raw_len = n;
	if (r < 0)
		return r;
	r = decode_request_id(&root, &req->id, e);
	if (r < 0)
		return r;
	*id_known = true;
	r = decode_request_op(&root, &req->op, e);
	if (r < 0)
		return r;
	r = decode_table(&sb_request_tables[req->op], &root, req->zone, (char *)&req->u, e);
	if (r < 0)
		return r;
	/* the tree can be 24 times the payload (a nil: 1 byte there, a msgpack_object here)
	 * and holds the unknown fields: keep only what the op uses */
	r = sb_request_compact(req);
	if (r < 0)
		return sb_proto_error_set(e, r, "out of memory");
	(void)TAKE_PTR(undo);
	return 0;
}

void sb_request_done(struct sb_request *req)
{
	if (req->zone && (unsigned)req->op < _SB_OP_MAX)
		wipe_table(&sb_request_tables[req->op], (char *)&req->u);
	zone_release(&req->zone, &req->raw, &req->raw_len);
	if (req->block) {
		explicit_bzero(req->block, req->block_len);
		free(req->block);
	}
	req->block = NULL;
	req->block_len = 0;
	memset(&req->u, 0, sizeof(req->u));
}

/* The "error" map of a failed reply into rep->error. A code this side does not know yet is
 * reported as SB_ERR_INTERNAL. */
static int decode_error(struct sb_reply *rep, const msgpack_object *root,
			struct sb_proto_error *e)
{
	const msgpack_object *v, *cv;
	const char *code = NULL;
	int r;

	r = find_typed(root, "error", MSGPACK_OBJECT_MAP, "a map", &v, e);
	if (r < 0)
		return r;
	/* code is decoded into a local; the rest straight into rep->error */
	r = map_require(v, "code", &cv, e);
	if (r < 0)
		return r;
	r = decode_str(&sb_error_code_field, cv, rep->zone, &code, e);
	if (r < 0)
		return r;
	r = sb_errcode_from_name(code);
	rep->error.code = r < 0 ? SB_ERR_INTERNAL : (enum sb_errcode)r;
	return decode_table(&sb_error_table, v, rep->zone, (char *)&rep->error, e);
}

/* The "result" map of a successful reply into rep->u, by the op of the request it answers. */
static int decode_result(struct sb_reply *rep, const msgpack_object *root,
			 enum sb_op (*op_of_id)(uint64_t id, void *userdata), void *userdata,
			 struct sb_proto_error *e)
{
	const msgpack_object *v;
	int r;

	if (!op_of_id || (rep->op = op_of_id(rep->id, userdata)) == SB_OP_INVALID)
		return sb_proto_error_set(e, -EBADMSG, "reply for an unknown request id");
	r = find_typed(root, "result", MSGPACK_OBJECT_MAP, "a map", &v, e);
	if (r < 0)
		return r;
	rep->result_obj = v;
	return decode_table(&sb_result_tables[rep->op], v, rep->zone, (char *)&rep->u, e);
}

int sb_reply_decode(struct sb_reply *rep, const uint8_t *p, size_t n,
		    enum sb_op (*op_of_id)(uint64_t id, void *userdata), void *userdata,
		    struct sb_proto_error *e)
{
	/* released on every failure; the success path takes it back */
	_cleanup_(sb_reply_donep) struct sb_reply *undo = rep;
	msgpack_object root;
	const msgpack_object *v;
	int r;

	*rep = (struct sb_reply){.op = SB_OP_INVALID};

	r = unpack_checked(p, n, &rep->zone, &rep->raw, &root, e);
	rep->raw_len = n;
	if (r < 0)
		return r;
	r = find_typed(&root, "id", MSGPACK_OBJECT_POSITIVE_INTEGER, "a non-negative integer", &v,
		       e);
	if (r < 0)
		return r;
	rep->id = v->via.u64;
	r = find_typed(&root, "ok", MSGPACK_OBJECT_BOOLEAN, "a boolean", &v, e);
	if (r < 0)
		return r;
	rep->ok = v->via.boolean;

	if (rep->ok) {
		r = decode_result(rep, &root, op_of_id, userdata, e);
		if (r < 0)
			return r;
	} else {
		r = decode_error(rep, &root, e);
		if (r < 0)
			return r;
		if (rep->id != 0 && op_of_id)
			rep->op = op_of_id(rep->id, userdata);
	}
	(void)TAKE_PTR(undo);
	return 0;
}

void sb_reply_done(struct sb_reply *rep)
{
	if (rep->zone && rep->ok && (unsigned)rep->op < _SB_OP_MAX)
		wipe_table(&sb_result_tables[rep->op], (char *)&rep->u);
	zone_release(&rep->zone, &rep->raw, &rep->raw_len);
	memset(&rep->u, 0, sizeof(rep->u));
	rep->result_obj = NULL;
}

bool sb_mp_equal(const msgpack_object *a, const msgpack_object *b)
{
	if (!a || !b)
		return a == b;
	return msgpack_object_equal(*a, *b);
}
