/* SPDX-License-Identifier: MIT */
/* tokensvc_json: JSON values (token contexts) as msgpack objects for the wire; the exchange
 * result of a token, encoded once. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "proto/buf.h"
#include "proto/limits.h"
#include "proto/message.h"
#include "tokens/libcleanup.h"

#include "tokens/tokensvc.h"

static int j2m(json_t *j, msgpack_zone *zone, msgpack_object *o, unsigned depth);

/* A copy of n bytes of s in zone (at least one byte is allocated), or NULL. */
static char *zone_strdup(msgpack_zone *zone, const char *s, size_t n)
{
	char *c = msgpack_zone_malloc(zone, n ? n : 1);

	if (c)
		memcpy(c, s, n);
	return c;
}

/* A JSON object as a msgpack map (keys and values copied into zone). */
static int j2m_object(json_t *j, msgpack_zone *zone, msgpack_object *o, unsigned depth)
{
	size_t n = json_object_size(j), i = 0;
	const char *k;
	json_t *v;

	o->type = MSGPACK_OBJECT_MAP;
	o->via.map.size = (uint32_t)n;
	o->via.map.ptr = n ? msgpack_zone_malloc(zone, n * sizeof(msgpack_object_kv)) : NULL;
	if (n && !o->via.map.ptr)
		return -ENOMEM;
	json_object_foreach(j, k, v) {
		msgpack_object_kv *kv = &o->via.map.ptr[i++];
		size_t kl = strlen(k);
		char *ks = zone_strdup(zone, k, kl);
		int r;

		if (!ks)
			return -ENOMEM;
		kv->key.type = MSGPACK_OBJECT_STR;
		kv->key.via.str.ptr = ks;
		kv->key.via.str.size = (uint32_t)kl;
		r = j2m(v, zone, &kv->val, depth + 1);
		if (r < 0)
			return r;
	}
	return 0;
}

/* A JSON array as a msgpack array. */
static int j2m_array(json_t *j, msgpack_zone *zone, msgpack_object *o, unsigned depth)
{
	size_t n = json_array_size(j);

	o->type = MSGPACK_OBJECT_ARRAY;
	o->via.array.size = (uint32_t)n;
	o->via.array.ptr = n ? msgpack_zone_malloc(zone, n * sizeof(msgpack_object)) : NULL;
	if (n && !o->via.array.ptr)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		int r = j2m(json_array_get(j, i), zone, &o->via.array.ptr[i], depth + 1);

		if (r < 0)
			return r;
	}
	return 0;
}

/* A JSON string as a msgpack str (bytes copied, NULs included). */
static int j2m_string(json_t *j, msgpack_zone *zone, msgpack_object *o)
{
	size_t n = json_string_length(j);
	char *s = zone_strdup(zone, json_string_value(j), n);

	if (!s)
		return -ENOMEM;
	o->type = MSGPACK_OBJECT_STR;
	o->via.str.ptr = s;
	o->via.str.size = (uint32_t)n;
	return 0;
}

/* Numbers, booleans and null, which need no memory. */
static void j2m_scalar(json_t *j, msgpack_object *o)
{
	switch (json_typeof(j)) {
	case JSON_INTEGER: {
		json_int_t v = json_integer_value(j);

		if (v >= 0) {
			o->type = MSGPACK_OBJECT_POSITIVE_INTEGER;
			o->via.u64 = (uint64_t)v;
		} else {
			o->type = MSGPACK_OBJECT_NEGATIVE_INTEGER;
			o->via.i64 = v;
		}
		return;
	}
	case JSON_REAL:
		o->type = MSGPACK_OBJECT_FLOAT64;
		o->via.f64 = json_real_value(j);
		return;
	case JSON_TRUE:
	case JSON_FALSE:
		o->type = MSGPACK_OBJECT_BOOLEAN;
		o->via.boolean = json_is_true(j);
		return;
	default:
		o->type = MSGPACK_OBJECT_NIL;
		return;
	}
}

/* j as a msgpack object in zone, depth levels down (at most 16). */
static int j2m(json_t *j, msgpack_zone *zone, msgpack_object *o, unsigned depth)
{
	if (depth > 16)
		return -EMSGSIZE;
	memset(o, 0, sizeof(*o));
	switch (json_typeof(j)) {
	case JSON_OBJECT:
		return j2m_object(j, zone, o, depth);
	case JSON_ARRAY:
		return j2m_array(j, zone, o, depth);
	case JSON_STRING:
		return j2m_string(j, zone, o);
	default:
		j2m_scalar(j, o);
		return 0;
	}
}

int tokensvc_json_to_msgpack(json_t *j, msgpack_zone *zone, msgpack_object *out)
{
	return j2m(j, zone, out, 1);
}

/* A cached token's reply is then a copy, where it was a json_loads of the context and a
 * msgpack tree on every reply. */
int tokensvc_result_encode(struct skyflow_token *tok, bool expose)
{
	struct sb_reply rep = {.op = SB_OP_EXCHANGE, .ok = true};
	_cleanup_(msgpack_zone_freep) msgpack_zone *zone = NULL;
	struct sb_buf out;
	msgpack_object ctx;
	uint8_t *copy = NULL;
	int r;

	if (tok->result && tok->result_exposed == expose)
		return 0;
	rep.u.exchange.expires_at = tok->expires_at > 0 ? (uint64_t)tok->expires_at : 0;
	rep.u.exchange.token_type = tok->token_type;
	rep.u.exchange.issued_token_type = tok->issued_token_type;
	if (tok->context_json) {
		/* Our own compact text: parsing it cannot fail but on ENOMEM. */
		_cleanup_(json_decrefp) json_t *j = json_loads(tok->context_json,
							      JSON_DECODE_ANY, NULL);

		if (!j)
			return -ENOMEM;
		if (json_is_object(j)) {
			zone = msgpack_zone_new(1024);
			if (!zone || tokensvc_json_to_msgpack(j, zone, &ctx) < 0)
				return -ENOMEM;
			rep.u.exchange.context = &ctx;
		}
	}
	rep.u.exchange.access_token = expose ? tok->access_token : NULL;
	sb_buf_init(&out, SB_MAX_REPLY_FRAME_DEFAULT);
	r = sb_result_encode(&rep, &out);
	if (r >= 0 && !(copy = malloc(sb_buf_len(&out))))
		r = -ENOMEM;
	if (r >= 0) {
		memcpy(copy, sb_buf_ptr(&out), sb_buf_len(&out));
		if (tok->result) {
			explicit_bzero(tok->result, tok->result_len);
			free(tok->result);
		}
		tok->result = copy;
		tok->result_len = sb_buf_len(&out);
		tok->result_exposed = expose;
	}
	sb_buf_free(&out); /* wiped: it may hold the token */
	return r < 0 ? r : 0;
}
