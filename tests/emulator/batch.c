/* batch: POST /v1/vaults/{vault_id}, Skyflow's batch operation (skyflow-api.md §3.2), which
 * skyflow-node's insert uses. Each record runs through the single-record endpoints
 * (vault_route_locked), so policies, redaction and row filters are exactly theirs. Without
 * continueOnError the batch is all-or-nothing: the store is snapshotted first and put back
 * when a record fails, and the call fails with that record's status and error. With it, every
 * record gets {"Body", "Status"} in responses. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "emu.h"
#include "store.h"
#include "util.h"

#define BATCH_MAX_RECORDS   100 /* records per batch (the emulator's bound) */
#define BATCH_MAX_ID_LEN    512 /* an ID or a $responses reference */
#define BATCH_MAX_REF_PARTS 16

static const char *const record_keys[] = {
    "tableName", "method", "fields", "ID",          "redaction", "tokenization",
    "batchID",   "upsert", "tokens", "downloadURL", "quorum",
};

struct batch_msg {
	unsigned status; /* 0: no error yet */
	char text[256];
};

static int bad(struct batch_msg *m, unsigned status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int bad(struct batch_msg *m, unsigned status, const char *fmt, ...)
{
	va_list ap;

	m->status = status;
	va_start(ap, fmt);
	vsnprintf(m->text, sizeof(m->text), fmt, ap);
	va_end(ap);
	/* messages quote request bytes, maybe cut inside a UTF-8 sequence: keep them ASCII */
	for (char *p = m->text; *p; p++)
		if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f)
			*p = '?';
	return -EINVAL;
}

static bool known_key(const char *k)
{
	for (size_t i = 0; i < sizeof(record_keys) / sizeof(record_keys[0]); i++)
		if (!strcmp(k, record_keys[i]))
			return true;
	return false;
}

/* Resolves "$responses.<n>.<key or index>..." against the bodies of earlier records (done,
 * borrowed; a failed record's slot is JSON null). The value found must be a string; it is
 * returned borrowed from done. NULL with m filled otherwise. */
static const char *resolve_ref(const char *ref, json_t *done, struct batch_msg *m)
{
	char buf[BATCH_MAX_ID_LEN + 1], *parts[BATCH_MAX_REF_PARTS], *s, *save = NULL;
	size_t n = 0;
	long idx;
	json_t *cur;

	snprintf(buf, sizeof(buf), "%s", ref);
	for (s = strtok_r(buf, ".", &save); s; s = strtok_r(NULL, ".", &save)) {
		if (n == BATCH_MAX_REF_PARTS) {
			bad(m, 400, "Invalid ID %s: reference too deep", ref);
			return NULL;
		}
		parts[n++] = s;
	}
	if (n < 3 || strcmp(parts[0], "$responses") != 0 ||
	    emu_parse_long(parts[1], 0, BATCH_MAX_RECORDS, &idx) < 0 ||
	    (size_t)idx >= json_array_size(done)) {
		bad(m, 400, "Invalid ID %s: must reference an earlier record's response", ref);
		return NULL;
	}
	cur = json_array_get(done, (size_t)idx);
	for (size_t i = 2; i < n && cur; i++) {
		long k;
		if (json_is_array(cur) && emu_parse_long(parts[i], 0, 1L << 20, &k) == 0)
			cur = json_array_get(cur, (size_t)k);
		else
			cur = json_object_get(cur, parts[i]);
	}
	if (!json_is_string(cur)) {
		bad(m, 400, "Invalid ID %s: the referenced response holds no such value", ref);
		return NULL;
	}
	return json_string_value(cur);
}

/* One record, checked and turned into a single-record request. */
struct batch_op {
	const char *method;
	const char *table;
	const char *id; /* NULL for POST */
	char *body;     /* malloc'd JSON for POST/PUT */
	struct emu_arg args[2];
	size_t nargs;
};

static int check_types(json_t *rec, struct batch_msg *m)
{
	const char *key;
	json_t *v;

	json_object_foreach(rec, key, v) {
		if (!known_key(key))
			return bad(m, 400, "Invalid record: unknown field %.64s", key);
		if (json_is_null(v))
			continue;
		if ((!strcmp(key, "tokenization") || !strcmp(key, "downloadURL") ||
		     !strcmp(key, "quorum")) &&
		    !json_is_boolean(v))
			return bad(m, 400, "Invalid record: %s must be a boolean", key);
		if ((!strcmp(key, "tableName") || !strcmp(key, "method") || !strcmp(key, "ID") ||
		     !strcmp(key, "redaction") || !strcmp(key, "batchID") ||
		     !strcmp(key, "upsert")) &&
		    !json_is_string(v))
			return bad(m, 400, "Invalid record: %s must be a string", key);
		if (!strcmp(key, "fields") && !json_is_object(v))
			return bad(m, 400, "Invalid record: fields must be an object");
	}
	if (json_object_get(rec, "tokens") && !json_is_null(json_object_get(rec, "tokens")))
		return bad(m, 400,
		           "Invalid record: tokens (BYOT) are not supported by the emulator");
	return 0;
}

/* Checks rec (borrowed) and fills op. done: earlier bodies, for $responses references. */
static int batch_op_parse(json_t *rec, json_t *done, struct batch_op *op, struct batch_msg *m)
{
	const char *method, *id;
	bool is_post, is_put, is_get, is_delete;
	int r;

	if (!json_is_object(rec))
		return bad(m, 400, "Invalid record: expected an object");
	r = check_types(rec, m);
	if (r < 0)
		return r;
	method = json_string_value(json_object_get(rec, "method"));
	op->table = json_string_value(json_object_get(rec, "tableName"));
	id = json_string_value(json_object_get(rec, "ID"));
	if (!method)
		return bad(m, 400, "Invalid record: method is required");
	is_post = !strcmp(method, "POST");
	is_put = !strcmp(method, "PUT");
	is_get = !strcmp(method, "GET");
	is_delete = !strcmp(method, "DELETE");
	if (!is_post && !is_put && !is_get && !is_delete)
		return bad(m, 400, "Invalid record: method %.16s is not POST, PUT, GET or DELETE",
		           method);
	op->method = is_post ? "POST" : is_put ? "PUT" : is_get ? "GET" : "DELETE";
	if (!op->table || !*op->table || strlen(op->table) >= POLICY_NAME_MAX)
		return bad(m, 400, "Invalid record: tableName is required");
	if (is_post && id)
		return bad(m, 400, "Invalid record: ID is not allowed with POST");
	if (!is_post && (!id || !*id))
		return bad(m, 400, "Invalid record: ID is required with %s", op->method);
	if (id && strlen(id) > BATCH_MAX_ID_LEN)
		return bad(m, 400, "Invalid record: ID too long");
	if (id && !strncmp(id, "$responses", 10) && !(id = resolve_ref(id, done, m)))
		return -EINVAL;
	op->id = id;
	if ((is_post || is_put) && !json_is_object(json_object_get(rec, "fields")))
		return bad(m, 400, "Invalid record: fields are required with %s", op->method);
	if ((is_get || is_delete) && json_is_object(json_object_get(rec, "fields")))
		return bad(m, 400, "Invalid record: fields are not allowed with %s", op->method);
	if (!is_get && json_is_string(json_object_get(rec, "redaction")))
		return bad(m, 400, "Invalid record: redaction is only for GET");
	if (!is_post && json_is_string(json_object_get(rec, "upsert")))
		return bad(m, 400, "Invalid record: upsert is only for POST");
	return 0;
}

/* Builds the single-record request's body or query arguments. */
static int batch_op_build(json_t *rec, struct batch_op *op, struct batch_msg *m)
{
	bool tok = json_is_true(json_object_get(rec, "tokenization"));
	json_t *fields = json_object_get(rec, "fields"), *body = NULL;
	const char *upsert = json_string_value(json_object_get(rec, "upsert"));
	const char *red = json_string_value(json_object_get(rec, "redaction"));

	if (!strcmp(op->method, "POST")) {
		body =
		    json_pack("{s:[{s:O}], s:b}", "records", "fields", fields, "tokenization", tok);
		if (body && upsert)
			json_object_set_new(body, "upsert", json_string(upsert));
	} else if (!strcmp(op->method, "PUT")) {
		body = json_pack("{s:{s:O}, s:b}", "record", "fields", fields, "tokenization", tok);
	} else if (!strcmp(op->method, "GET")) {
		op->args[op->nargs++] =
		    (struct emu_arg){(char *)"tokenization", (char *)(tok ? "true" : "false")};
		if (red)
			op->args[op->nargs++] = (struct emu_arg){(char *)"redaction", (char *)red};
		return 0;
	} else {
		return 0;
	}
	op->body = body ? json_dumps(body, JSON_COMPACT) : NULL;
	json_decref(body);
	if (!op->body)
		return bad(m, 500, "out of memory");
	return 0;
}

/* Runs one record. Returns its HTTP status; *ret is its response body (new reference): the
 * single-record endpoint's JSON on success, Skyflow's error object otherwise. */
static unsigned batch_run_one(struct emu *emu, const struct principal *who, json_t *rec,
                              json_t *done, json_t **ret)
{
	struct batch_op op = {0};
	struct batch_msg m = {0};
	struct emu_request req = {0};
	struct emu_response resp = {0};
	char segbuf[256];
	json_t *out;

	*ret = NULL;
	if (batch_op_parse(rec, done, &op, &m) < 0 || batch_op_build(rec, &op, &m) < 0) {
		free(op.body);
		*ret = skyflow_error_json(m.status, m.text);
		return m.status;
	}
	/* the path segments the single-record routes expect: v1 vaults {vault} {table} [{id}] */
	snprintf(segbuf, sizeof(segbuf), "%s", op.table);
	req.method = op.method;
	req.path = "(batch)";
	req.segs[0] = (char *)"v1";
	req.segs[1] = (char *)"vaults";
	req.segs[2] = emu->cfg->vault_id;
	req.segs[3] = segbuf;
	req.segs[4] = (char *)op.id;
	req.nsegs = op.id ? 5 : 4;
	req.args = op.args;
	req.nargs = op.nargs;
	req.body = op.body ? op.body : "";
	req.body_len = op.body ? strlen(op.body) : 0;
	req.content_type = "application/json";
	if (!store_table(emu->store, op.table))
		resp_error(&resp, 404, "Table %s not found", op.table);
	else
		vault_route_locked(emu, &req, &resp, who);
	free(op.body);
	out = resp.body ? json_loads(resp.body, 0, NULL) : NULL;
	free(resp.body);
	if (!out) {
		*ret = skyflow_error_json(500, "out of memory");
		return 500;
	}
	*ret = out;
	return resp.status;
}

static const char *error_message(json_t *err)
{
	const char *msg =
	    json_string_value(json_object_get(json_object_get(err, "error"), "message"));
	return msg ? msg : "error";
}

/* Checks the batch body's top level; fills resp and returns a negative errno when bad. */
static int batch_check_body(json_t *body, struct emu_response *resp)
{
	const char *key, *byot;
	json_t *v, *recs = json_object_get(body, "records");

	json_object_foreach(body, key, v) {
		if (strcmp(key, "records") && strcmp(key, "continueOnError") && strcmp(key, "byot")) {
			resp_error(resp, 400, "Invalid request body: unknown field %.64s", key);
			return -EINVAL;
		}
	}
	if (!json_is_array(recs) || json_array_size(recs) == 0 ||
	    json_array_size(recs) > BATCH_MAX_RECORDS) {
		resp_error(resp, 400, "Invalid request body: records must hold 1 to %d records",
		           BATCH_MAX_RECORDS);
		return -EINVAL;
	}
	v = json_object_get(body, "continueOnError");
	if (v && !json_is_boolean(v) && !json_is_null(v)) {
		resp_error(resp, 400, "Invalid request body: continueOnError must be a boolean");
		return -EINVAL;
	}
	v = json_object_get(body, "byot");
	byot = json_string_value(v);
	if (v && !json_is_null(v) && (!byot || strcmp(byot, "DISABLE") != 0)) {
		resp_error(resp, 400,
		           "Invalid request body: byot other than DISABLE is not supported by the "
		           "emulator");
		return -EINVAL;
	}
	return 0;
}

/* continueOnError: every record runs; each gets {"Body", "Status"}. */
static void batch_continue(struct emu *emu, json_t *recs, struct emu_response *resp,
                           const struct principal *who)
{
	json_t *done = json_array(), *out = json_array(), *rec;
	size_t i;

	json_array_foreach(recs, i, rec) {
		json_t *b;
		unsigned st = batch_run_one(emu, who, rec, done, &b);
		json_array_append_new(done, st == 200 ? json_incref(b) : json_null());
		if (st != 200) {
			json_t *e = json_pack("{s:s}", "error", error_message(b));
			json_decref(b);
			b = e;
		}
		json_array_append_new(out, json_pack("{s:o, s:i}", "Body", b, "Status", (int)st));
	}
	json_decref(done);
	resp_json(resp, 200,
	          json_pack("{s:s, s:o}", "vaultID", emu->cfg->vault_id, "responses", out));
}

/* Without continueOnError: all records or none. */
static void batch_atomic(struct emu *emu, json_t *recs, struct emu_response *resp,
                         const struct principal *who)
{
	struct store_snapshot *snap = NULL;
	json_t *done, *rec;
	size_t i;

	/* a copy of the store only when something may write: GET-only batches skip it */
	json_array_foreach(recs, i, rec) {
		const char *m = json_string_value(json_object_get(rec, "method"));
		if (!m || strcmp(m, "GET") != 0)
			break;
	}
	if (i < json_array_size(recs) && store_snapshot(emu->store, &snap) < 0) {
		resp_error(resp, 500, "out of memory");
		return;
	}
	done = json_array();
	json_array_foreach(recs, i, rec) {
		json_t *b;
		unsigned st = batch_run_one(emu, who, rec, done, &b);
		if (st != 200) {
			if (snap)
				store_restore(emu->store, snap);
			json_decref(done);
			resp_json(resp, st, b);
			return;
		}
		json_array_append_new(done, b);
	}
	store_snapshot_free(snap);
	resp_json(resp, 200,
	          json_pack("{s:s, s:o}", "vaultID", emu->cfg->vault_id, "responses", done));
}

void vault_batch(struct emu *emu, const struct emu_request *req, struct emu_response *resp,
                 const struct principal *who)
{
	json_t *body;

	if (strcmp(req->method, "POST") != 0) {
		resp_error(resp, 405, "Method Not Allowed");
		return;
	}
	body = req_json_body(req, resp);
	if (!body)
		return;
	if (batch_check_body(body, resp) == 0) {
		if (json_is_true(json_object_get(body, "continueOnError")))
			batch_continue(emu, json_object_get(body, "records"), resp, who);
		else
			batch_atomic(emu, json_object_get(body, "records"), resp, who);
	}
	json_decref(body);
}
