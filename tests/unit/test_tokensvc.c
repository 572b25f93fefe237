/* SPDX-License-Identifier: MIT */
/* tokensvc pieces that need no daemon: JSON -> msgpack conversion of token contexts. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tokens/tokensvc.h"

static void test_json_to_msgpack_types(void **state)
{
	json_t *j = json_loads("{\"roles\":[\"Viewer\",\"Admin\"],\"n\":-5,\"u\":7,\"f\":1.5,"
			       "\"t\":true,\"z\":null,\"o\":{\"k\":\"v\"},\"e\":[]}", 0, NULL);
	msgpack_zone *zone = msgpack_zone_new(1024);
	msgpack_object o;
	unsigned seen = 0;

	assert_non_null(j);
	assert_int_equal(tokensvc_json_to_msgpack(j, zone, &o), 0);
	assert_int_equal(o.type, MSGPACK_OBJECT_MAP);
	assert_int_equal(o.via.map.size, 8);
	for (uint32_t i = 0; i < o.via.map.size; i++) {
		const msgpack_object_kv *kv = &o.via.map.ptr[i];
		char key[8] = "";

		assert_int_equal(kv->key.type, MSGPACK_OBJECT_STR);
		memcpy(key, kv->key.via.str.ptr, kv->key.via.str.size < 7 ? kv->key.via.str.size : 7);
		if (strcmp(key, "roles") == 0) {
			assert_int_equal(kv->val.type, MSGPACK_OBJECT_ARRAY);
			assert_int_equal(kv->val.via.array.size, 2);
			assert_int_equal(kv->val.via.array.ptr[1].via.str.size, 5);
			assert_memory_equal(kv->val.via.array.ptr[1].via.str.ptr, "Admin", 5);
			seen |= 1;
		} else if (strcmp(key, "n") == 0) {
			assert_int_equal(kv->val.type, MSGPACK_OBJECT_NEGATIVE_INTEGER);
			assert_int_equal(kv->val.via.i64, -5);
			seen |= 2;
		} else if (strcmp(key, "u") == 0) {
			assert_int_equal(kv->val.type, MSGPACK_OBJECT_POSITIVE_INTEGER);
			assert_int_equal(kv->val.via.u64, 7);
			seen |= 4;
		} else if (strcmp(key, "f") == 0) {
			assert_int_equal(kv->val.type, MSGPACK_OBJECT_FLOAT64);
			seen |= 8;
		} else if (strcmp(key, "t") == 0) {
			assert_int_equal(kv->val.type, MSGPACK_OBJECT_BOOLEAN);
			assert_true(kv->val.via.boolean);
			seen |= 16;
		} else if (strcmp(key, "z") == 0) {
			assert_int_equal(kv->val.type, MSGPACK_OBJECT_NIL);
			seen |= 32;
		} else if (strcmp(key, "o") == 0) {
			assert_int_equal(kv->val.type, MSGPACK_OBJECT_MAP);
			assert_int_equal(kv->val.via.map.size, 1);
			seen |= 64;
		} else if (strcmp(key, "e") == 0) {
			assert_int_equal(kv->val.type, MSGPACK_OBJECT_ARRAY);
			assert_int_equal(kv->val.via.array.size, 0);
			seen |= 128;
		}
	}
	assert_int_equal(seen, 255);
	msgpack_zone_free(zone);
	json_decref(j);
}

static void test_json_to_msgpack_depth_cap(void **state)
{
	char deep[128];
	msgpack_zone *zone = msgpack_zone_new(1024);
	msgpack_object o;
	json_t *j;

	memset(deep, '[', 20);
	memset(deep + 20, ']', 20);
	deep[40] = '\0';
	j = json_loads(deep, 0, NULL);
	assert_non_null(j);
	assert_int_equal(tokensvc_json_to_msgpack(j, zone, &o), -EMSGSIZE);
	json_decref(j);
	deep[16] = '\0';
	memset(deep, '[', 8);
	memset(deep + 8, ']', 8);
	j = json_loads(deep, 0, NULL);
	assert_int_equal(tokensvc_json_to_msgpack(j, zone, &o), 0);
	json_decref(j);
	msgpack_zone_free(zone);
}

/* The value of key k in map m, or NULL. */
static const msgpack_object *map_get(const msgpack_object *m, const char *k)
{
	for (uint32_t i = 0; i < m->via.map.size; i++) {
		const msgpack_object_kv *kv = &m->via.map.ptr[i];

		if (kv->key.type == MSGPACK_OBJECT_STR && kv->key.via.str.size == strlen(k) &&
		    memcmp(kv->key.via.str.ptr, k, kv->key.via.str.size) == 0)
			return &kv->val;
	}
	return NULL;
}

/* tok->result as a msgpack map (unpacked into u, which the caller destroys). */
static const msgpack_object *result_map(const struct skyflow_token *tok, msgpack_unpacked *u)
{
	msgpack_unpacked_init(u);
	assert_int_equal(msgpack_unpack_next(u, (const char *)tok->result, tok->result_len, NULL),
			 MSGPACK_UNPACK_SUCCESS);
	assert_int_equal(u->data.type, MSGPACK_OBJECT_MAP);
	return &u->data;
}

/* The exchange result kept on a token: the context and types; the token's text only while the
 * tenant exposes tokens, and the kept bytes follow a change of expose_tokens (a reload). */
static void test_result_kept_follows_expose(void **state)
{
	struct skyflow_token *tok = skyflow_token_new("SECRET-TOKEN", "Bearer", "urn:x", 1790000000);
	const msgpack_object *m, *ctx;
	msgpack_unpacked u;
	const uint8_t *first;

	(void)state;
	assert_non_null(tok);
	tok->context_json = strdup("{\"roles\":[\"Viewer\"],\"sub\":\"U1\"}");
	assert_int_equal(tokensvc_result_encode(tok, false), 0);
	m = result_map(tok, &u);
	assert_null(map_get(m, "access_token"));
	assert_int_equal(map_get(m, "expires_at")->via.u64, 1790000000);
	ctx = map_get(m, "context");
	assert_non_null(ctx);
	assert_int_equal(ctx->type, MSGPACK_OBJECT_MAP);
	assert_int_equal(ctx->via.map.size, 2);
	msgpack_unpacked_destroy(&u);

	first = tok->result; /* kept: the same bytes for the next reply */
	assert_int_equal(tokensvc_result_encode(tok, false), 0);
	assert_ptr_equal(tok->result, first);

	assert_int_equal(tokensvc_result_encode(tok, true), 0);
	m = result_map(tok, &u);
	assert_non_null(map_get(m, "access_token"));
	assert_int_equal(map_get(m, "access_token")->via.str.size, strlen("SECRET-TOKEN"));
	msgpack_unpacked_destroy(&u);

	assert_int_equal(tokensvc_result_encode(tok, false), 0);
	m = result_map(tok, &u);
	assert_null(map_get(m, "access_token"));
	msgpack_unpacked_destroy(&u);
	skyflow_token_unref(tok);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_json_to_msgpack_types),
		cmocka_unit_test(test_json_to_msgpack_depth_cap),
		cmocka_unit_test(test_result_kept_follows_expose),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
