/* vault: the Skyflow vault Data API under /v1/vaults/{vault_id}/... (skyflow-api.md §3). */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "emu.h"
#include "store.h"
#include "util.h"

#define MAX_BATCH 25 /* records per insert, ids per bulk get, tokens per (de)tokenize */

static int parse_bool(const char *s, bool *ret)
{
	if (!strcmp(s, "true") || !strcmp(s, "1"))
		*ret = true;
	else if (!strcmp(s, "false") || !strcmp(s, "0") || !*s)
		*ret = false;
	else
		return -EINVAL;
	return 0;
}

static int cmp_asc(const void *a, const void *b)
{
	return strcmp(row_id(*(json_t *const *)a), row_id(*(json_t *const *)b));
}

static int cmp_desc(const void *a, const void *b)
{
	return -cmp_asc(a, b);
}

enum order { ORDER_ASC, ORDER_DESC, ORDER_NONE };

/* Sorts, pages and renders candidate rows into {"records":[{"fields":...}]}. */
static json_t *page_rows(struct emu *emu, const struct principal *who, struct table_state *t,
			 json_t **cand, size_t ncand, enum order order, long offset, long limit,
			 enum redaction red, json_t *fields, bool tokenization, size_t *visible)
{
	json_t *records = json_array();
	long skipped = 0;

	if (order == ORDER_ASC)
		qsort(cand, ncand, sizeof(*cand), cmp_asc);
	else if (order == ORDER_DESC)
		qsort(cand, ncand, sizeof(*cand), cmp_desc);
	*visible = 0;
	for (size_t i = 0; i < ncand && (long)json_array_size(records) < limit; i++) {
		json_t *f = render_row(emu, who, t, cand[i], red, fields, tokenization, true);
		if (!f)
			continue;
		(*visible)++;
		if (skipped < offset) {
			skipped++;
			json_decref(f);
			continue;
		}
		json_array_append_new(records, json_pack("{s:o}", "fields", f));
	}
	return json_pack("{s:o}", "records", records);
}

static int check_fields(const struct table_def *def, json_t *fields, struct emu_response *resp)
{
	size_t i;
	json_t *f;

	json_array_foreach(fields, i, f)
		if (strcmp(json_string_value(f), "skyflow_id") != 0 &&
		    !config_column(def, json_string_value(f))) {
			resp_error(resp, 400, "Invalid field %s in fields", json_string_value(f));
			return -EINVAL;
		}
	return 0;
}

static void get_records(struct emu *emu, const struct emu_request *req, struct emu_response *resp,
			const struct principal *who, struct table_state *t)
{
	enum redaction red = RED_DEFAULT;
	enum order order = ORDER_ASC;
	bool tokenization = false;
	long offset = 0, limit = EMU_MAX_ROWS_PAGE;
	const char *column_name = NULL;
	json_t *ids = json_array(), *fields = json_array(), *values = json_array();
	json_t **cand = NULL;
	size_t ncand = 0, visible;

	for (size_t i = 0; i < req->nargs; i++) {
		const char *k = req->args[i].key, *v = req->args[i].value;
		if (!strcmp(k, "skyflow_ids"))
			json_array_append_new(ids, json_string(v));
		else if (!strcmp(k, "fields"))
			json_array_append_new(fields, json_string(v));
		else if (!strcmp(k, "column_values"))
			json_array_append_new(values, json_string(v));
		else if (!strcmp(k, "column_name"))
			column_name = v;
		else if (!strcmp(k, "redaction")) {
			if (redaction_from_string(v, &red) < 0 || !strcmp(v, "MASK") ||
			    !strcmp(v, "REDACT")) {
				resp_error(resp, 400, "Invalid redaction type %s", v);
				goto out;
			}
		} else if (!strcmp(k, "tokenization")) {
			if (parse_bool(v, &tokenization) < 0) {
				resp_error(resp, 400, "Invalid value for tokenization");
				goto out;
			}
		} else if (!strcmp(k, "offset")) {
			if (emu_parse_long(v, 0, 1000000000L, &offset) < 0) {
				resp_error(resp, 400, "Invalid offset %s", v);
				goto out;
			}
		} else if (!strcmp(k, "limit")) {
			if (emu_parse_long(v, 1, EMU_MAX_ROWS_PAGE, &limit) < 0) {
				resp_error(resp, 400, "Invalid limit %s: limit must be between 1 and %d",
					   v, EMU_MAX_ROWS_PAGE);
				goto out;
			}
		} else if (!strcmp(k, "order_by")) {
			if (!strcmp(v, "ASCENDING"))
				order = ORDER_ASC;
			else if (!strcmp(v, "DESCENDING"))
				order = ORDER_DESC;
			else if (!strcmp(v, "NONE"))
				order = ORDER_NONE;
			else {
				resp_error(resp, 400, "Invalid order_by %s", v);
				goto out;
			}
		}
		/* downloadURL and returnFileMetadata are accepted: no file columns here. */
	}
	/* json_string() returns NULL for invalid UTF-8: such an item was not appended. */
	if (json_array_size(ids) > MAX_BATCH) {
		resp_error(resp, 400, "Too many skyflow_ids: at most %d", MAX_BATCH);
		goto out;
	}
	if (json_array_size(ids) && (column_name || json_array_size(values))) {
		resp_error(resp, 400,
			   "Invalid request. skyflow_ids can't be used with column_name or column_values");
		goto out;
	}
	if (column_name || json_array_size(values)) {
		const struct column_def *col = column_name ? config_column(t->def, column_name) : NULL;
		if (!column_name || !json_array_size(values)) {
			resp_error(resp, 400, "column_name and column_values must be used together");
			goto out;
		}
		if (!col) {
			resp_error(resp, 400, "Invalid column_name %s", column_name);
			goto out;
		}
		if (!col->unique) {
			resp_error(resp, 400, "column_name %s is not a unique column", column_name);
			goto out;
		}
	}
	if (check_fields(t->def, fields, resp) < 0)
		goto out;

	cand = calloc(json_array_size(t->rows) + json_array_size(ids) + 1, sizeof(*cand));
	if (!cand) {
		resp_error(resp, 500, "out of memory");
		goto out;
	}
	if (json_array_size(ids)) {
		size_t i;
		json_t *id;
		json_array_foreach(ids, i, id) {
			json_t *row = json_object_get(t->by_id, json_string_value(id));
			bool dup = false;
			for (size_t k = 0; k < ncand; k++)
				dup |= cand[k] == row;
			if (row && !dup)
				cand[ncand++] = row;
		}
	} else {
		size_t i;
		json_t *row;
		json_array_foreach(t->rows, i, row) {
			if (column_name) {
				char buf[64];
				json_t *v = json_object_get(row, column_name), *want;
				size_t k;
				bool match = false;
				const char *sv = NULL;
				if (json_is_string(v))
					sv = json_string_value(v);
				else if (json_is_integer(v)) {
					snprintf(buf, sizeof(buf), "%" JSON_INTEGER_FORMAT,
						 json_integer_value(v));
					sv = buf;
				}
				json_array_foreach(values, k, want)
					if (sv && !strcmp(sv, json_string_value(want)))
						match = true;
				if (!match)
					continue;
			}
			cand[ncand++] = row;
		}
	}
	json_t *result = page_rows(emu, who, t, cand, ncand, order, offset, limit, red,
				   json_array_size(fields) ? fields : NULL, tokenization, &visible);
	if (visible == 0 && (json_array_size(ids) || column_name)) {
		json_decref(result);
		resp_error(resp, 404, "No Records Found");
		goto out;
	}
	resp_json(resp, 200, result);
out:
	free(cand);
	json_decref(ids);
	json_decref(fields);
	json_decref(values);
}

static void get_record(struct emu *emu, const struct emu_request *req, struct emu_response *resp,
		       const struct principal *who, struct table_state *t, const char *id)
{
	enum redaction red = RED_DEFAULT;
	bool tokenization = false;
	json_t *fields = json_array(), *row, *f;

	for (size_t i = 0; i < req->nargs; i++) {
		const char *k = req->args[i].key, *v = req->args[i].value;
		if (!strcmp(k, "fields"))
			json_array_append_new(fields, json_string(v));
		else if (!strcmp(k, "redaction")) {
			if (redaction_from_string(v, &red) < 0 || !strcmp(v, "MASK") ||
			    !strcmp(v, "REDACT")) {
				resp_error(resp, 400, "Invalid redaction type %s", v);
				goto out;
			}
		} else if (!strcmp(k, "tokenization") && parse_bool(v, &tokenization) < 0) {
			resp_error(resp, 400, "Invalid value for tokenization");
			goto out;
		}
	}
	if (check_fields(t->def, fields, resp) < 0)
		goto out;
	row = json_object_get(t->by_id, id);
	f = row ? render_row(emu, who, t, row, red, json_array_size(fields) ? fields : NULL,
			     tokenization, true)
		: NULL;
	if (!f) {
		resp_error(resp, 404, "No Records Found");
		goto out;
	}
	resp_json(resp, 200, json_pack("{s:o}", "fields", f));
out:
	json_decref(fields);
}

/* Checks one record's fields for an insert or update. */
static int check_values(const struct table_def *def, json_t *fields, struct emu_response *resp)
{
	const char *key;
	json_t *v;

	if (!json_is_object(fields) || json_object_size(fields) == 0) {
		resp_error(resp, 400, "Invalid request body: fields must be a non-empty object");
		return -EINVAL;
	}
	json_object_foreach(fields, key, v) {
		if (!config_column(def, key)) {
			resp_error(resp, 400, "Invalid field %s: no such column in table %s", key,
				   def->name);
			return -EINVAL;
		}
		if (!(json_is_string(v) || json_is_number(v) || json_is_boolean(v) || json_is_null(v)) ||
		    (json_is_string(v) && json_string_length(v) > EMU_MAX_FIELD_LEN)) {
			resp_error(resp, 400, "Invalid value for field %s", key);
			return -EINVAL;
		}
	}
	return 0;
}

static json_t *find_unique(struct table_state *t, const char *column, json_t *value,
			   json_t *except)
{
	size_t i;
	json_t *row;

	json_array_foreach(t->rows, i, row)
		if (row != except && json_equal(json_object_get(row, column), value))
			return row;
	return NULL;
}

/* Stores new values into row, issuing fresh tokens for tokenized columns that changed.
 * Returns the tokens of the given fields (new reference). */
static json_t *apply_fields(struct emu_store *s, struct table_state *t, json_t *row,
			    json_t *fields)
{
	const char *key, *id = row_id(row);
	json_t *v, *toks = json_object_get(t->row_tok, id), *out = json_object();

	if (!toks) {
		toks = json_object();
		json_object_set_new(t->row_tok, id, toks);
	}
	json_object_foreach(fields, key, v) {
		const struct column_def *col = config_column(t->def, key);
		bool changed = !json_equal(json_object_get(row, key), v);
		json_object_set(row, key, v);
		if (!col->tokenized)
			continue;
		if (changed || !json_object_get(toks, key)) {
			char tok[37];
			const char *old = json_string_value(json_object_get(toks, key));
			if (old && store_token_is_row_bound(s, old))
				json_object_del(s->tokens, old);
			/* a deterministic token is shared by every row holding the value */
			if (store_issue_token(s, t, col, id, v, tok) < 0) {
				json_object_del(toks, key); /* null in a deterministic column */
				continue;
			}
			json_object_set_new(toks, key, json_string(tok));
		}
		json_object_set(out, key, json_object_get(toks, key));
	}
	return out;
}

static void insert_records(struct emu *emu, const struct emu_request *req,
			   struct emu_response *resp, const struct principal *who,
			   struct table_state *t)
{
	json_t *body = req_json_body(req, resp), *recs, *rec, *out = NULL;
	const char *upsert;
	bool tokenization;
	size_t i;

	if (!body)
		return;
	recs = json_object_get(body, "records");
	tokenization = json_is_true(json_object_get(body, "tokenization"));
	upsert = json_string_value(json_object_get(body, "upsert"));
	if (!json_is_array(recs) || json_array_size(recs) == 0 ||
	    json_array_size(recs) > MAX_BATCH) {
		resp_error(resp, 400, "Invalid request body: records must hold 1 to %d records",
			   MAX_BATCH);
		goto out;
	}
	/* BYOT is not emulated; with byot DISABLE (the default) Skyflow refuses tokens in a
	 * record, so both are a 400 rather than tokens silently ignored */
	if (json_object_get(body, "byot") && !json_is_null(json_object_get(body, "byot")) &&
	    (!json_is_string(json_object_get(body, "byot")) ||
	     strcmp(json_string_value(json_object_get(body, "byot")), "DISABLE") != 0)) {
		resp_error(resp, 400, "Invalid byot: only DISABLE; BYOT is not supported by the "
				      "emulator");
		goto out;
	}
	json_array_foreach(recs, i, rec) {
		json_t *tk = json_object_get(rec, "tokens");
		if (tk && !json_is_null(tk)) {
			resp_error(resp, 400, "Record %zu: tokens (BYOT) are not supported by the "
					      "emulator",
				   i);
			goto out;
		}
	}
	if (json_object_get(body, "upsert") && !upsert) {
		resp_error(resp, 400, "Invalid upsert: must be a column name");
		goto out;
	}
	if (upsert) {
		const struct column_def *col = config_column(t->def, upsert);
		if (!col || !col->unique) {
			resp_error(resp, 400, "Invalid upsert column %s: must be a unique column",
				   upsert);
			goto out;
		}
	}
	json_array_foreach(recs, i, rec) {
		json_t *fields = json_object_get(rec, "fields");
		if (check_values(t->def, fields, resp) < 0)
			goto out;
		if (upsert && !json_object_get(fields, upsert)) {
			resp_error(resp, 400, "Record %zu lacks the upsert column %s", i, upsert);
			goto out;
		}
		if (!access_row(emu->cfg, who, ACT_CREATE, t->def->name, fields) ||
		    !access_fields(emu->cfg, who, ACT_CREATE, t->def->name, fields, fields)) {
			resp_error(resp, 403,
				   "The requester does not have permission to access this resource.");
			goto out;
		}
		/* unique columns: a duplicate within the request is a conflict too */
		for (size_t c = 0; c < t->def->ncols; c++) {
			const struct column_def *col = &t->def->cols[c];
			json_t *v = json_object_get(fields, col->name);
			for (size_t k = 0; col->unique && v && k < i; k++)
				if (json_equal(v, json_object_get(json_object_get(
							  json_array_get(recs, k), "fields"),
							  col->name))) {
					resp_error(resp, 409,
						   "Duplicate value for unique column %s in the request",
						   col->name);
					goto out;
				}
		}
		/* unique columns: a duplicate is a conflict unless it is the upsert key */
		for (size_t c = 0; c < t->def->ncols; c++) {
			const struct column_def *col = &t->def->cols[c];
			json_t *v = json_object_get(fields, col->name);
			if (!col->unique || !v || (upsert && !strcmp(upsert, col->name)))
				continue;
			json_t *dup = find_unique(t, col->name, v, NULL);
			json_t *self = upsert ? find_unique(t, upsert, json_object_get(fields, upsert),
							    NULL)
					      : NULL;
			if (dup && dup != self) {
				resp_error(resp, 409, "Duplicate value for unique column %s",
					   col->name);
				goto out;
			}
		}
	}
	out = json_array();
	json_array_foreach(recs, i, rec) {
		json_t *fields = json_object_get(rec, "fields"), *row = NULL, *toks;
		if (upsert)
			row = find_unique(t, upsert, json_object_get(fields, upsert), NULL);
		if (!row) {
			char id[37];
			emu_uuid(id);
			row = json_pack("{s:s}", "skyflow_id", id);
			json_array_append_new(t->rows, row);
			json_object_set(t->by_id, id, row);
		}
		toks = apply_fields(emu->store, t, row, fields);
		if (tokenization)
			json_array_append_new(out, json_pack("{s:s, s:o}", "skyflow_id", row_id(row),
							     "tokens", toks));
		else {
			json_decref(toks);
			json_array_append_new(out, json_pack("{s:s}", "skyflow_id", row_id(row)));
		}
	}
	resp_json(resp, 200, json_pack("{s:o}", "records", out));
out:
	json_decref(body);
}

static void update_record(struct emu *emu, const struct emu_request *req,
			  struct emu_response *resp, const struct principal *who,
			  struct table_state *t, const char *id)
{
	json_t *body = req_json_body(req, resp), *fields, *row, *toks;

	if (!body)
		return;
	fields = json_object_get(json_object_get(body, "record"), "fields");
	if (check_values(t->def, fields, resp) < 0)
		goto out;
	if ((json_object_get(json_object_get(body, "record"), "tokens") &&
	     !json_is_null(json_object_get(json_object_get(body, "record"), "tokens"))) ||
	    (json_object_get(body, "byot") && !json_is_null(json_object_get(body, "byot")) &&
	     (!json_is_string(json_object_get(body, "byot")) ||
	      strcmp(json_string_value(json_object_get(body, "byot")), "DISABLE") != 0))) {
		resp_error(resp, 400, "Invalid request: tokens (BYOT) are not supported by the "
				      "emulator");
		goto out;
	}
	row = json_object_get(t->by_id, id);
	if (!row || !access_row(emu->cfg, who, ACT_READ | ACT_UPDATE, t->def->name, row)) {
		resp_error(resp, 404, "No Records Found");
		goto out;
	}
	if (!access_row(emu->cfg, who, ACT_UPDATE, t->def->name, row) ||
	    !access_fields(emu->cfg, who, ACT_UPDATE, t->def->name, row, fields)) {
		resp_error(resp, 403, "The requester does not have permission to access this resource.");
		goto out;
	}
	for (size_t c = 0; c < t->def->ncols; c++) {
		const struct column_def *col = &t->def->cols[c];
		json_t *v = json_object_get(fields, col->name);
		if (col->unique && v && find_unique(t, col->name, v, row)) {
			resp_error(resp, 409, "Duplicate value for unique column %s", col->name);
			goto out;
		}
	}
	toks = apply_fields(emu->store, t, row, fields);
	if (json_is_true(json_object_get(body, "tokenization")))
		resp_json(resp, 200, json_pack("{s:s, s:o}", "skyflow_id", id, "tokens", toks));
	else {
		json_decref(toks);
		resp_json(resp, 200, json_pack("{s:s}", "skyflow_id", id));
	}
out:
	json_decref(body);
}

static void remove_row(struct emu_store *s, struct table_state *t, json_t *row)
{
	const char *id = row_id(row), *col;
	json_t *toks = json_object_get(t->row_tok, id), *tok;
	size_t i;
	json_t *r;
	char idcopy[64];

	snprintf(idcopy, sizeof(idcopy), "%s", id);
	json_object_foreach(toks, col, tok)
		if (store_token_is_row_bound(s, json_string_value(tok)))
			json_object_del(s->tokens, json_string_value(tok));
	json_object_del(t->row_tok, idcopy);
	json_object_del(t->by_id, idcopy);
	json_array_foreach(t->rows, i, r)
		if (r == row) {
			json_array_remove(t->rows, i);
			break;
		}
}

static void delete_record(struct emu *emu, struct emu_response *resp,
			  const struct principal *who, struct table_state *t, const char *id)
{
	json_t *row = json_object_get(t->by_id, id);
	char idcopy[64];

	if (!row || !access_row(emu->cfg, who, ACT_DELETE, t->def->name, row)) {
		resp_error(resp, 404, "No Records Found");
		return;
	}
	snprintf(idcopy, sizeof(idcopy), "%s", id);
	remove_row(emu->store, t, row);
	resp_json(resp, 200, json_pack("{s:s, s:b}", "skyflow_id", idcopy, "deleted", 1));
}

static void bulk_delete(struct emu *emu, const struct emu_request *req, struct emu_response *resp,
			const struct principal *who, struct table_state *t)
{
	json_t *body = req_json_body(req, resp), *ids, *id, *out;
	bool all = false;
	size_t i;

	if (!body)
		return;
	ids = json_object_get(body, "skyflow_ids");
	if (!json_is_array(ids) || json_array_size(ids) == 0) {
		resp_error(resp, 400, "Invalid request body: skyflow_ids must be a non-empty array");
		goto out;
	}
	json_array_foreach(ids, i, id) {
		if (!json_is_string(id)) {
			resp_error(resp, 400, "Invalid request body: skyflow_ids holds strings");
			goto out;
		}
		all |= !strcmp(json_string_value(id), "*");
	}
	out = json_array();
	if (all) {
		for (i = json_array_size(t->rows); i-- > 0;) {
			json_t *row = json_array_get(t->rows, i);
			if (access_row(emu->cfg, who, ACT_DELETE, t->def->name, row)) {
				json_array_insert_new(out, 0, json_string(row_id(row)));
				remove_row(emu->store, t, row);
			}
		}
	} else {
		json_array_foreach(ids, i, id) {
			json_t *row = json_object_get(t->by_id, json_string_value(id));
			if (row && access_row(emu->cfg, who, ACT_DELETE, t->def->name, row)) {
				json_array_append_new(out, json_string(json_string_value(id)));
				remove_row(emu->store, t, row);
			}
		}
		if (json_array_size(out) == 0) {
			json_decref(out);
			resp_error(resp, 404, "No Records Found");
			goto out;
		}
	}
	resp_json(resp, 200, json_pack("{s:o}", "RecordIDResponse", out));
out:
	json_decref(body);
}

static void detokenize(struct emu *emu, const struct emu_request *req, struct emu_response *resp,
		       const struct principal *who)
{
	json_t *body = req_json_body(req, resp), *params, *p, *out;
	bool cont;
	size_t i;

	if (!body)
		return;
	params = json_object_get(body, "detokenizationParameters");
	cont = json_is_true(json_object_get(body, "continueOnError"));
	if (!json_is_array(params) || json_array_size(params) == 0 ||
	    json_array_size(params) > MAX_BATCH) {
		resp_error(resp, 400,
			   "Invalid request body: detokenizationParameters must hold 1 to %d items",
			   MAX_BATCH);
		goto out;
	}
	json_array_foreach(params, i, p) {
		const char *red = json_string_value(json_object_get(p, "redaction"));
		enum redaction r;
		if (!json_is_string(json_object_get(p, "token")) ||
		    (red && redaction_from_string(red, &r) < 0)) {
			resp_error(resp, 400, "Invalid detokenizationParameters item %zu", i);
			goto out;
		}
	}
	if (!access_global(emu->cfg, who, ACT_DETOKENIZATION)) {
		resp_error(resp, 403, "The requester does not have permission to access this resource.");
		goto out;
	}
	out = json_array();
	json_array_foreach(params, i, p) {
		const char *token = json_string_value(json_object_get(p, "token"));
		const char *red = json_string_value(json_object_get(p, "redaction"));
		json_t *ref = json_object_get(emu->store->tokens, token), *row = NULL, *value = NULL;
		struct table_state *t = ref ? store_table(emu->store,
							  json_string_value(json_object_get(ref, "table")))
					    : NULL;
		const struct column_def *col =
			t ? config_column(t->def, json_string_value(json_object_get(ref, "column")))
			  : NULL;
		enum redaction want = RED_DEFAULT, allowed, level;

		if (col && json_object_get(ref, "id")) {
			row = json_object_get(t->by_id, json_string_value(json_object_get(ref, "id")));
			if (row && access_row(emu->cfg, who, ACT_READ, t->def->name, row))
				value = json_object_get(row, col->name);
			else
				col = NULL; /* a row hidden by a row filter is not found */
		} else if (col) {
			value = json_object_get(ref, "value");
		}
		if (!col) {
			if (!cont) {
				json_decref(out);
				resp_error(resp, 404, "Token not found");
				goto out;
			}
			json_array_append_new(out, json_pack("{s:s, s:s, s:s, s:s}", "token", token,
							     "valueType", "NONE", "value", "", "error",
							     "Token not found"));
			continue;
		}
		if (red)
			redaction_from_string(red, &want);
		if (want == RED_DEFAULT)
			want = col->def;
		allowed = access_column(emu->cfg, who, col, t->def->name, row);
		if (allowed == RED_NONE)
			allowed = RED_REDACTED;
		level = want < allowed ? want : allowed;
		json_t *rendered = render_value(col, value, level);
		json_t *rec = json_pack("{s:s, s:s, s:o}", "token", token, "valueType",
					col->value_type, "value", rendered);
		json_array_append_new(out, rec);
	}
	resp_json(resp, 200, json_pack("{s:o}", "records", out));
out:
	json_decref(body);
}

static const struct column_def *column_by_group(struct emu_store *s, const char *group,
						struct table_state **tret)
{
	for (size_t i = 0; i < s->ntables; i++)
		for (size_t c = 0; c < s->tables[i].def->ncols; c++) {
			const struct column_def *col = &s->tables[i].def->cols[c];
			char qual[2 * POLICY_NAME_MAX + 2];
			snprintf(qual, sizeof(qual), "%s.%s", s->tables[i].def->name, col->name);
			if ((col->column_group && !strcmp(col->column_group, group)) ||
			    !strcmp(qual, group)) {
				*tret = &s->tables[i];
				return col;
			}
		}
	return NULL;
}

static void tokenize(struct emu *emu, const struct emu_request *req, struct emu_response *resp,
		     const struct principal *who)
{
	json_t *body = req_json_body(req, resp), *params, *p, *out;
	size_t i;

	if (!body)
		return;
	params = json_object_get(body, "tokenizationParameters");
	if (!json_is_array(params) || json_array_size(params) == 0 ||
	    json_array_size(params) > MAX_BATCH) {
		resp_error(resp, 400,
			   "Invalid request body: tokenizationParameters must hold 1 to %d items",
			   MAX_BATCH);
		goto out;
	}
	if (!access_global(emu->cfg, who, ACT_TOKENIZATION)) {
		resp_error(resp, 403, "The requester does not have permission to access this resource.");
		goto out;
	}
	json_array_foreach(params, i, p) {
		const char *group = json_string_value(json_object_get(p, "columnGroup"));
		const char *tname = json_string_value(json_object_get(p, "table"));
		const char *cname = json_string_value(json_object_get(p, "column"));
		json_t *value = json_object_get(p, "value");
		struct table_state *t = NULL;
		const struct column_def *col = NULL;

		if (group)
			col = column_by_group(emu->store, group, &t);
		else if (tname && cname && (t = store_table(emu->store, tname)))
			col = config_column(t->def, cname);
		if (!col || !col->tokenized) {
			resp_error(resp, 400, "Invalid tokenizationParameters item %zu: "
					      "no tokenized column for it", i);
			goto out;
		}
		if (!json_is_string(value) || json_string_length(value) > EMU_MAX_FIELD_LEN) {
			resp_error(resp, 400, "Invalid tokenizationParameters item %zu: value", i);
			goto out;
		}
	}
	out = json_array();
	json_array_foreach(params, i, p) {
		const char *group = json_string_value(json_object_get(p, "columnGroup"));
		struct table_state *t = NULL;
		const struct column_def *col;
		json_t *value = json_object_get(p, "value");
		char tok[37];

		if (group)
			col = column_by_group(emu->store, group, &t);
		else {
			t = store_table(emu->store, json_string_value(json_object_get(p, "table")));
			col = config_column(t->def, json_string_value(json_object_get(p, "column")));
		}
		if (store_det_token(emu->store, t->def, col, value, tok) < 0) {
			json_decref(out);
			resp_error(resp, 500, "out of memory");
			goto out;
		}
		json_array_append_new(out, json_pack("{s:s}", "token", tok));
	}
	resp_json(resp, 200, json_pack("{s:o}", "records", out));
out:
	json_decref(body);
}

static bool is_method(const struct emu_request *req, const char *m)
{
	return !strcmp(req->method, m);
}

void vault_route_locked(struct emu *emu, const struct emu_request *req,
			struct emu_response *resp, const struct principal *who)
{
	struct table_state *t;

	if (req->nsegs == 4 && is_method(req, "POST") && !strcmp(req->segs[3], "detokenize"))
		detokenize(emu, req, resp, who);
	else if (req->nsegs == 4 && is_method(req, "POST") && !strcmp(req->segs[3], "tokenize"))
		tokenize(emu, req, resp, who);
	else if (req->nsegs == 4 && is_method(req, "POST") && !strcmp(req->segs[3], "query"))
		vault_query(emu, req, resp, who);
	else if (!(t = store_table(emu->store, req->segs[3])))
		resp_error(resp, 404, "Table %s not found", req->segs[3]);
	else if (req->nsegs == 4) {
		unsigned need = is_method(req, "GET")	 ? ACT_READ
				: is_method(req, "POST")   ? ACT_CREATE
				: is_method(req, "DELETE") ? ACT_DELETE
							   : 0;
		if (!need)
			resp_error(resp, 405, "Method Not Allowed");
		else if (!access_table(emu->cfg, who, need, t->def->name))
			resp_error(resp, 403,
				   "The requester does not have permission to access this resource.");
		else if (need == ACT_READ)
			get_records(emu, req, resp, who, t);
		else if (need == ACT_CREATE)
			insert_records(emu, req, resp, who, t);
		else
			bulk_delete(emu, req, resp, who, t);
	} else {
		unsigned need = is_method(req, "GET")	 ? ACT_READ
				: is_method(req, "PUT")	   ? ACT_UPDATE
				: is_method(req, "DELETE") ? ACT_DELETE
							   : 0;
		const char *id = req->segs[4];
		if (!need)
			resp_error(resp, 405, "Method Not Allowed");
		else if (!access_table(emu->cfg, who, need, t->def->name))
			resp_error(resp, 403,
				   "The requester does not have permission to access this resource.");
		else if (need == ACT_READ)
			get_record(emu, req, resp, who, t, id);
		else if (need == ACT_UPDATE)
			update_record(emu, req, resp, who, t, id);
		else
			delete_record(emu, resp, who, t, id);
	}
}

/* Routes /v1/vaults/{vault_id}/... ; req->segs[0..1] are "v1", "vaults". */
void handle_vault(struct emu *emu, const struct emu_request *req, struct emu_response *resp)
{
	struct principal who;
	const char *vault = req->nsegs > 2 ? req->segs[2] : NULL;

	if (!vault || req->nsegs > 5) {
		resp_error(resp, 404, "Not Found");
		return;
	}
	if (strcmp(vault, emu->cfg->vault_id) != 0) {
		resp_error(resp, 404, "Vault %s not found", vault);
		return;
	}
	if (auth_bearer(emu, req, resp, &who) < 0)
		return;
	pthread_mutex_lock(&emu->store->lock);
	if (req->nsegs == 3)
		vault_batch(emu, req, resp, &who);
	else
		vault_route_locked(emu, req, resp, &who);
	pthread_mutex_unlock(&emu->store->lock);
}
