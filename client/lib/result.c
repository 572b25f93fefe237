/* SPDX-License-Identifier: MIT */
/* result: a successful reply as a tree of typed values, its JSON text, and its wiping. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "client/lib/internal.h"

/* A skybroker_value is a msgpack_object of a result's tree: the public type only hides it. */
static const msgpack_object *obj(const skybroker_value *v)
{
	return (const msgpack_object *)v;
}

static const skybroker_value *val(const msgpack_object *o)
{
	return (const skybroker_value *)o;
}

/* Bytes the strings of o's tree take with a NUL each. The tree was bounded by the frame it
 * came from, so this cannot overflow. */
static size_t strings_size(const msgpack_object *o)
{
	size_t n = 0;

	switch (o->type) {
	case MSGPACK_OBJECT_STR:
		return o->via.str.size + 1;
	case MSGPACK_OBJECT_ARRAY:
		for (uint32_t i = 0; i < o->via.array.size; i++)
			n += strings_size(&o->via.array.ptr[i]);
		return n;
	case MSGPACK_OBJECT_MAP:
		for (uint32_t i = 0; i < o->via.map.size; i++)
			n += strings_size(&o->via.map.ptr[i].key) +
			     strings_size(&o->via.map.ptr[i].val);
		return n;
	default:
		return 0;
	}
}

/* Copies every string of o's tree to *at, NUL-terminated, and points the tree at the copy:
 * msgpack-c's strings point into the frame and have no terminator. */
static void strings_move(msgpack_object *o, char **at)
{
	switch (o->type) {
	case MSGPACK_OBJECT_STR:
		memcpy(*at, o->via.str.ptr, o->via.str.size);
		(*at)[o->via.str.size] = '\0';
		o->via.str.ptr = *at;
		*at += o->via.str.size + 1;
		return;
	case MSGPACK_OBJECT_ARRAY:
		for (uint32_t i = 0; i < o->via.array.size; i++)
			strings_move(&o->via.array.ptr[i], at);
		return;
	case MSGPACK_OBJECT_MAP:
		for (uint32_t i = 0; i < o->via.map.size; i++) {
			strings_move(&o->via.map.ptr[i].key, at);
			strings_move(&o->via.map.ptr[i].val, at);
		}
		return;
	default:
		return;
	}
}

/* Zeroes every node of o's tree, children first: numbers and booleans of records are values
 * too, and the zone that holds them is freed without wiping. */
static void tree_wipe(msgpack_object *o)
{
	if (o->type == MSGPACK_OBJECT_ARRAY)
		for (uint32_t i = 0; i < o->via.array.size; i++)
			tree_wipe(&o->via.array.ptr[i]);
	if (o->type == MSGPACK_OBJECT_MAP)
		for (uint32_t i = 0; i < o->via.map.size; i++) {
			tree_wipe(&o->via.map.ptr[i].key);
			tree_wipe(&o->via.map.ptr[i].val);
		}
	explicit_bzero(o, sizeof(*o));
}

int result_from_reply(struct sb_reply *rep, skybroker_result **ret)
{
	skybroker_result *r = calloc(1, sizeof(*r));
	msgpack_object *root = (msgpack_object *)rep->result_obj; /* the zone is ours */
	char *at;

	if (!r)
		return SKYBROKER_E_NO_MEMORY;
	r->strings_len = root ? strings_size(root) : 0;
	r->strings = malloc(r->strings_len + 1);
	if (!r->strings) {
		free(r);
		return SKYBROKER_E_NO_MEMORY;
	}
	at = r->strings;
	if (root)
		strings_move(root, &at);
	r->rep = *rep;
	*rep = (struct sb_reply){.op = SB_OP_INVALID};
	*ret = r;
	return 0;
}

void result_reply_done(struct sb_reply *rep)
{
	if (rep->result_obj)
		tree_wipe((msgpack_object *)rep->result_obj);
	sb_reply_done(rep);
}

void skybroker_result_free(skybroker_result *r)
{
	if (!r)
		return;
	explicit_bzero(r->strings, r->strings_len);
	free(r->strings);
	result_reply_done(&r->rep);
	free(r);
}

const skybroker_value *skybroker_result_root(const skybroker_result *r)
{
	return r ? val(r->rep.result_obj) : NULL;
}

int skybroker_result_json(const skybroker_result *r, unsigned flags, char **json, size_t *len)
{
	static const msgpack_object empty = {.type = MSGPACK_OBJECT_MAP};
	const msgpack_object *root;
	struct sb_buf out;
	int e;

	if (!r || !json)
		return SKYBROKER_E_INVALID_ARGUMENT;
	*json = NULL;
	root = r->rep.result_obj ? r->rep.result_obj : &empty;
	/* JSON can be much longer than msgpack (escapes, indentation): bound it generously */
	sb_buf_init(&out, r->rep.raw_len * 48 + 4096);
	e = json_render(root, flags & SKYBROKER_JSON_PRETTY, 0, &out);
	if (e == 0)
		e = sb_buf_append(&out, "", 1);
	if (e < 0) {
		sb_buf_free(&out);
		return e == -ENOMEM ? SKYBROKER_E_NO_MEMORY : SKYBROKER_E_TOO_LARGE;
	}
	if (len)
		*len = sb_buf_len(&out) - 1;
	*json = (char *)out.data; /* head is 0: nothing was consumed */
	return 0;
}

void skybroker_json_free(char *json)
{
	if (!json)
		return;
	explicit_bzero(json, strlen(json));
	free(json);
}

enum skybroker_type skybroker_value_type(const skybroker_value *v)
{
	if (!v)
		return SKYBROKER_NIL;
	switch (obj(v)->type) {
	case MSGPACK_OBJECT_BOOLEAN:
		return SKYBROKER_BOOL;
	case MSGPACK_OBJECT_POSITIVE_INTEGER:
		return SKYBROKER_UINT;
	case MSGPACK_OBJECT_NEGATIVE_INTEGER:
		return SKYBROKER_INT;
	case MSGPACK_OBJECT_FLOAT32:
	case MSGPACK_OBJECT_FLOAT64:
		return SKYBROKER_FLOAT;
	case MSGPACK_OBJECT_STR:
		return SKYBROKER_STRING;
	case MSGPACK_OBJECT_ARRAY:
		return SKYBROKER_ARRAY;
	case MSGPACK_OBJECT_MAP:
		return SKYBROKER_MAP;
	default:
		return SKYBROKER_NIL;
	}
}

bool skybroker_value_bool(const skybroker_value *v)
{
	return skybroker_value_type(v) == SKYBROKER_BOOL && obj(v)->via.boolean;
}

int64_t skybroker_value_int(const skybroker_value *v)
{
	switch (skybroker_value_type(v)) {
	case SKYBROKER_INT:
		return obj(v)->via.i64;
	case SKYBROKER_UINT:
		return obj(v)->via.u64 <= INT64_MAX ? (int64_t)obj(v)->via.u64 : 0;
	default:
		return 0;
	}
}

uint64_t skybroker_value_uint(const skybroker_value *v)
{
	return skybroker_value_type(v) == SKYBROKER_UINT ? obj(v)->via.u64 : 0;
}

double skybroker_value_double(const skybroker_value *v)
{
	switch (skybroker_value_type(v)) {
	case SKYBROKER_FLOAT:
		return obj(v)->via.f64;
	case SKYBROKER_INT:
		return (double)obj(v)->via.i64;
	case SKYBROKER_UINT:
		return (double)obj(v)->via.u64;
	default:
		return 0;
	}
}

const char *skybroker_value_string(const skybroker_value *v, size_t *len)
{
	if (skybroker_value_type(v) != SKYBROKER_STRING) {
		if (len)
			*len = 0;
		return NULL;
	}
	if (len)
		*len = obj(v)->via.str.size;
	return obj(v)->via.str.ptr;
}

size_t skybroker_value_count(const skybroker_value *v)
{
	switch (skybroker_value_type(v)) {
	case SKYBROKER_ARRAY:
		return obj(v)->via.array.size;
	case SKYBROKER_MAP:
		return obj(v)->via.map.size;
	default:
		return 0;
	}
}

const skybroker_value *skybroker_value_at(const skybroker_value *v, size_t i)
{
	if (i >= skybroker_value_count(v))
		return NULL;
	if (obj(v)->type == MSGPACK_OBJECT_ARRAY)
		return val(&obj(v)->via.array.ptr[i]);
	return val(&obj(v)->via.map.ptr[i].val);
}

const char *skybroker_value_key(const skybroker_value *v, size_t i)
{
	if (skybroker_value_type(v) != SKYBROKER_MAP || i >= obj(v)->via.map.size)
		return NULL;
	return skybroker_value_string(val(&obj(v)->via.map.ptr[i].key), NULL);
}

const skybroker_value *skybroker_value_get(const skybroker_value *v, const char *key)
{
	size_t n = key ? strlen(key) : 0;

	if (!key || skybroker_value_type(v) != SKYBROKER_MAP)
		return NULL;
	for (uint32_t i = 0; i < obj(v)->via.map.size; i++) {
		const msgpack_object *k = &obj(v)->via.map.ptr[i].key;

		if (k->via.str.size == n && memcmp(k->via.str.ptr, key, n) == 0)
			return val(&obj(v)->via.map.ptr[i].val);
	}
	return NULL;
}
