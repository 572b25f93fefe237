/* SPDX-License-Identifier: MIT */
/* convert: record values from JSON to msgpack (replies) and from msgpack to JSON (requests). */
#include "vault/convert.h"

#include <errno.h>
#include <math.h>
#include <string.h>

#include "proto/limits.h"
#include "util/cleanup.h"

static const char *renamed(const char *key, const struct vault_rename *rename)
{
	for (; rename && rename->from; rename++)
		if (strcmp(key, rename->from) == 0)
			return rename->to;
	return key;
}

static int pack_string(struct sb_packer *p, const char *s, size_t n)
{
	if (n > SB_MAX_STRING)
		return -EMSGSIZE;
	if (memchr(s, '\0', n))
		return -EBADMSG; /* the protocol has no NUL in a string */
	msgpack_pack_str(&p->pk, n);
	msgpack_pack_str_body(&p->pk, s, n);
	return 0;
}

static int pack_object(struct sb_packer *p, json_t *j, unsigned depth,
		       const struct vault_rename *rename)
{
	const char *key;
	json_t *v;
	int r;

	if (json_object_size(j) > SB_MAX_CONTAINER)
		return -EMSGSIZE;
	msgpack_pack_map(&p->pk, json_object_size(j));
	json_object_foreach(j, key, v) {
		const char *k = renamed(key, rename);

		/* a renamed key must not meet the name it was renamed to: a map has each key once */
		if (k != key && json_object_get(j, k))
			return -EBADMSG;
		r = pack_string(p, k, strlen(k));
		if (r < 0)
			return r;
		r = vault_pack_json(p, v, depth + 1, NULL);
		if (r < 0)
			return r;
	}
	return 0;
}

int vault_pack_json(struct sb_packer *p, json_t *j, unsigned depth,
		    const struct vault_rename *rename)
{
	size_t i;
	json_t *v;
	int r;

	/* only containers nest: a scalar inside the deepest allowed array is fine */
	if ((json_is_object(j) || json_is_array(j)) && depth > SB_MAX_DEPTH)
		return -EMSGSIZE;
	switch (json_typeof(j)) {
	case JSON_OBJECT:
		return pack_object(p, j, depth, rename);
	case JSON_ARRAY:
		if (json_array_size(j) > SB_MAX_CONTAINER)
			return -EMSGSIZE;
		msgpack_pack_array(&p->pk, json_array_size(j));
		json_array_foreach(j, i, v) {
			r = vault_pack_json(p, v, depth + 1, NULL);
			if (r < 0)
				return r;
		}
		return 0;
	case JSON_STRING:
		return pack_string(p, json_string_value(j), json_string_length(j));
	case JSON_INTEGER:
		msgpack_pack_int64(&p->pk, (int64_t)json_integer_value(j));
		return 0;
	case JSON_REAL:
		msgpack_pack_double(&p->pk, json_real_value(j));
		return 0;
	case JSON_TRUE:
		msgpack_pack_true(&p->pk);
		return 0;
	case JSON_FALSE:
		msgpack_pack_false(&p->pk);
		return 0;
	default:
		msgpack_pack_nil(&p->pk);
		return 0;
	}
}

static int json_of_map(const msgpack_object_map *m, json_t **ret, const char **why)
{
	_cleanup_(json_decrefp) json_t *obj = json_object();
	int r;

	if (!obj)
		return -ENOMEM;
	for (uint32_t i = 0; i < m->size; i++) {
		const msgpack_object *k = &m->ptr[i].key;
		json_t *v = NULL;
		char key[SB_MAX_NAME_LEN + 1];

		if (k->type != MSGPACK_OBJECT_STR || k->via.str.size > SB_MAX_NAME_LEN)
			return *why = "a column name is not a string of at most 256 bytes", -EBADMSG;
		memcpy(key, k->via.str.ptr, k->via.str.size);
		key[k->via.str.size] = '\0';
		r = vault_json_of_msgpack(&m->ptr[i].val, &v, why);
		if (r < 0)
			return r;
		if (json_object_set_new(obj, key, v) < 0)
			return -ENOMEM;
	}
	*ret = TAKE_PTR(obj);
	return 0;
}

static int json_of_array(const msgpack_object_array *a, json_t **ret, const char **why)
{
	_cleanup_(json_decrefp) json_t *arr = json_array();
	int r;

	if (!arr)
		return -ENOMEM;
	for (uint32_t i = 0; i < a->size; i++) {
		json_t *v = NULL;

		r = vault_json_of_msgpack(&a->ptr[i], &v, why);
		if (r < 0)
			return r;
		if (json_array_append_new(arr, v) < 0)
			return -ENOMEM;
	}
	*ret = TAKE_PTR(arr);
	return 0;
}

int vault_json_of_msgpack(const msgpack_object *o, json_t **ret, const char **why)
{
	json_t *j = NULL;

	*ret = NULL;
	switch (o->type) {
	case MSGPACK_OBJECT_NIL:
		j = json_null();
		break;
	case MSGPACK_OBJECT_BOOLEAN:
		j = json_boolean(o->via.boolean);
		break;
	case MSGPACK_OBJECT_POSITIVE_INTEGER:
		if (o->via.u64 > INT64_MAX)
			return *why = "an integer above 2^63-1", -EBADMSG;
		j = json_integer((json_int_t)o->via.u64);
		break;
	case MSGPACK_OBJECT_NEGATIVE_INTEGER:
		j = json_integer((json_int_t)o->via.i64);
		break;
	case MSGPACK_OBJECT_FLOAT32:
	case MSGPACK_OBJECT_FLOAT64:
		if (!isfinite(o->via.f64))
			return *why = "a float that is not a finite number", -EBADMSG;
		j = json_real(o->via.f64);
		break;
	case MSGPACK_OBJECT_STR:
		j = json_stringn(o->via.str.ptr, o->via.str.size);
		break;
	case MSGPACK_OBJECT_ARRAY:
		return json_of_array(&o->via.array, ret, why);
	case MSGPACK_OBJECT_MAP:
		return json_of_map(&o->via.map, ret, why);
	default:
		return *why = "a type the protocol does not allow", -EBADMSG;
	}
	if (!j)
		return -ENOMEM;
	*ret = j;
	return 0;
}
