/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * Shared set-up of the vault integration tests (header-only): the emulator started with
 * tests/emulator/demo.json (optionally amended), users minted per role, request builders and
 * readers of the msgpack results.
 */

#include "exchange_daemon.h"

/* demo.json's text with fn applied to its tree (fn may be NULL). Caller frees. */
static inline char *vt_demo_config(void (*fn)(json_t *root))
{
	const char *src = getenv("SKYBROKER_SOURCE_DIR");
	char path[PATH_MAX];
	json_t *root;
	char *s;

	assert_non_null(src);
	snprintf(path, sizeof(path), "%s/tests/emulator/demo.json", src);
	root = json_load_file(path, 0, NULL);
	assert_non_null(root);
	if (fn)
		fn(root);
	s = json_dumps(root, JSON_INDENT(1));
	json_decref(root);
	return s;
}

/* Every string value of demo.json's seed records (the values that must never be logged). */
static inline size_t vt_demo_values(char **out, size_t max)
{
	const char *src = getenv("SKYBROKER_SOURCE_DIR");
	char path[PATH_MAX];
	json_t *root, *rec, *v;
	size_t i, n = 0;
	const char *k;

	snprintf(path, sizeof(path), "%s/tests/emulator/demo.json", src);
	root = json_load_file(path, 0, NULL);
	assert_non_null(root);
	json_array_foreach(json_object_get(json_array_get(json_object_get(
				   json_object_get(root, "vault"), "tables"), 0), "records"), i, rec)
		json_object_foreach(rec, k, v)
			if (json_is_string(v) && strcmp(k, "skyflow_id") != 0 && n < max)
				out[n++] = strdup(json_string_value(v));
	json_decref(root);
	return n;
}

/* Checks that no value of demo.json's seed records (of 5 bytes or more: "CA" may well be part
 * of a word) is in d's log, then stops d as xd_stop_clean does. */
static inline void vt_stop_clean(struct sbt_daemon *d)
{
	char *values[256];
	size_t n = vt_demo_values(values, 256);

	for (size_t i = 0; i < n; i++) {
		if (strlen(values[i]) >= 5 && xe_file_contains(d->log, values[i])) {
			fprintf(stderr, "record value '%s' found in the daemon's log\n", values[i]);
			sbt_log_dump(d);
			fail();
		}
		free(values[i]);
	}
	xd_stop_clean(d);
}

/* The value of key k in map m, or NULL. */
static inline const msgpack_object *vt_get(const msgpack_object *m, const char *k)
{
	if (!m || m->type != MSGPACK_OBJECT_MAP)
		return NULL;
	for (uint32_t i = 0; i < m->via.map.size; i++) {
		const msgpack_object_kv *kv = &m->via.map.ptr[i];

		if (kv->key.type == MSGPACK_OBJECT_STR && kv->key.via.str.size == strlen(k) &&
		    memcmp(kv->key.via.str.ptr, k, strlen(k)) == 0)
			return &kv->val;
	}
	return NULL;
}

/* Whether o is the string s. */
static inline bool vt_is_str(const msgpack_object *o, const char *s)
{
	return o && o->type == MSGPACK_OBJECT_STR && o->via.str.size == strlen(s) &&
	       memcmp(o->via.str.ptr, s, strlen(s)) == 0;
}

/* A NUL-terminated copy of string o (asserts it is one). */
static inline char *vt_strdup(const msgpack_object *o)
{
	assert_non_null(o);
	assert_int_equal(o->type, MSGPACK_OBJECT_STR);
	return strndup(o->via.str.ptr, o->via.str.size);
}

/* The record of a records array whose fields.skyflow_id is id, or NULL. */
static inline const msgpack_object *vt_record(const msgpack_object *records, const char *id)
{
	if (!records || records->type != MSGPACK_OBJECT_ARRAY)
		return NULL;
	for (uint32_t i = 0; i < records->via.array.size; i++) {
		const msgpack_object *f = vt_get(&records->via.array.ptr[i], "fields");

		if (vt_is_str(vt_get(f, "skyflow_id"), id))
			return &records->via.array.ptr[i];
	}
	return NULL;
}

/* fields.<col> of record rec. */
static inline const msgpack_object *vt_field(const msgpack_object *rec, const char *col)
{
	return vt_get(vt_get(rec, "fields"), col);
}

/* One request round trip on c; the reply goes to rep (release with sb_reply_done). */
static inline void vt_call(struct sbt_client *c, struct sb_request *req, struct sb_reply *rep)
{
	int64_t id = sbt_send(c, req);

	assert_true(id > 0);
	assert_int_equal(sbt_recv(c, rep), 0);
	assert_int_equal(rep->id, (uint64_t)id);
}

/* Asserts rep failed with code; prints the message otherwise. */
static inline void vt_expect_error(const struct sb_reply *rep, enum sb_errcode code)
{
	if (rep->ok || rep->error.code != code)
		fprintf(stderr, "expected %s, got %s: %s\n", sb_errcode_name(code),
			rep->ok ? "ok" : sb_errcode_name(rep->error.code),
			rep->ok ? "" : rep->error.message);
	assert_false(rep->ok);
	assert_int_equal(rep->error.code, code);
}

static inline void vt_expect_ok(const struct sb_reply *rep)
{
	if (!rep->ok)
		fprintf(stderr, "expected ok, got %s: %s\n", sb_errcode_name(rep->error.code),
			rep->error.message);
	assert_true(rep->ok);
}

/* A get_records request for table (other fields left for the caller). */
static inline struct sb_request vt_get_records(const char *token, const char *table)
{
	struct sb_request req = {.op = SB_OP_GET_RECORDS};

	req.u.get_records.subject_token = token;
	req.u.get_records.table = table;
	return req;
}

/* A string vector of n literal strings. */
#define VT_STRV(...)                                                                              \
	((struct sb_strv){.set = true,                                                           \
			  .n = sizeof((const char *[]){__VA_ARGS__}) / sizeof(const char *),     \
			  .v = (const char *[]){__VA_ARGS__}})
