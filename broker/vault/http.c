/* SPDX-License-Identifier: MIT */
/* http: a vault request as a Skyflow Data API call (method, URL, JSON body). */
#include "vault/http.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <jansson.h>

#include "proto/buf.h"
#include "util/cleanup.h"
#include "util/jsonalloc.h"
#include "vault/convert.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(CURLU *, curl_url_cleanup)
DEFINE_TRIVIAL_CLEANUP_FUNC(char *, curl_free)

static void wipe_free(char *s)
{
	if (s) {
		explicit_bzero(s, strlen(s));
		free(s);
	}
}

void vault_http_done(struct vault_http *h)
{
	wipe_free(h->url);
	if (h->body)
		jsonalloc_free(h->body); /* json_dumps' block: wiped whole */
	*h = (struct vault_http){0};
}

/* Appends "/" and the percent-encoded segment to path (size n). -EMSGSIZE when it is full. */
static int path_add(char *path, size_t n, const char *segment)
{
	_cleanup_(curl_freep) char *esc = curl_easy_escape(NULL, segment, 0);
	size_t len = strlen(path);

	if (!esc)
		return -ENOMEM;
	if (snprintf(path + len, n - len, "/%s", esc) >= (int)(n - len))
		return -EMSGSIZE;
	return 0;
}

/* The longest URL built (1000 ids of 256 bytes, each escaped to at most three times that). */
#define URL_MAX (1024u * 1024u)

/*
 * Appends "&name=value" (or "?name=value" first) to the URL in q, value percent-encoded by
 * libcurl. The query is built in our own buffer (an sb_buf: wiped as it grows and when
 * freed), not in a CURLU handle, whose reallocated copies of a column value would be freed
 * unwiped; libcurl's escaped copy is wiped before it is released.
 */
static int query_add(struct sb_buf *q, const char *name, const char *value)
{
	char *esc = curl_easy_escape(NULL, value, 0);
	int r;

	if (!esc)
		return -ENOMEM;
	/* q holds the URL so far, without a query until the first call */
	r = sb_buf_append(q, memchr(sb_buf_ptr(q), '?', sb_buf_len(q)) ? "&" : "?", 1);
	r = r ?: sb_buf_append(q, name, strlen(name));
	r = r ?: sb_buf_append(q, "=", 1);
	r = r ?: sb_buf_append(q, esc, strlen(esc));
	explicit_bzero(esc, strlen(esc));
	curl_free(esc);
	return r;
}

static int query_add_strv(struct sb_buf *q, const char *name, const struct sb_strv *sv)
{
	int r;

	for (uint32_t i = 0; sv->set && i < sv->n; i++) {
		r = query_add(q, name, sv->v[i]);
		if (r < 0)
			return r;
	}
	return 0;
}

static int query_add_bool(struct sb_buf *q, const char *name, const struct sb_opt_bool *b)
{
	return b->set ? query_add(q, name, b->v ? "true" : "false") : 0;
}

static int query_add_u64(struct sb_buf *q, const char *name, const struct sb_opt_u64 *v)
{
	char num[24];

	if (!v->set)
		return 0;
	(void)snprintf(num, sizeof(num), "%" PRIu64, v->v);
	return query_add(q, name, num);
}

static int query_get_records(struct sb_buf *q, const struct sb_get_records_args *a,
			     const struct vault_plan *plan)
{
	int r = 0;

	r = r ?: query_add_strv(q, "skyflow_ids", &a->skyflow_ids);
	r = r ?: plan->redaction ? query_add(q, "redaction", plan->redaction) : 0;
	r = r ?: query_add_bool(q, "tokenization", &a->tokenization);
	r = r ?: query_add_strv(q, "fields", &a->fields);
	r = r ?: query_add_u64(q, "offset", &a->offset);
	r = r ?: query_add_u64(q, "limit", &a->limit);
	r = r ?: a->column_name ? query_add(q, "column_name", a->column_name) : 0;
	r = r ?: query_add_strv(q, "column_values", &a->column_values);
	r = r ?: a->order_by ? query_add(q, "order_by", a->order_by) : 0;
	r = r ?: query_add_bool(q, "downloadURL", &a->download_url);
	return r;
}

static int query_get_record(struct sb_buf *q, const struct sb_get_record_args *a,
			    const struct vault_plan *plan)
{
	int r = 0;

	r = r ?: plan->redaction ? query_add(q, "redaction", plan->redaction) : 0;
	r = r ?: query_add_bool(q, "tokenization", &a->tokenization);
	r = r ?: query_add_strv(q, "fields", &a->fields);
	r = r ?: query_add_bool(q, "downloadURL", &a->download_url);
	return r;
}

/* The path after /v1/vaults/{vault_id}: the table and record id, or the action's name. */
static int path_of(const struct sb_request *req, char *path, size_t n)
{
	const char *table = NULL, *id = NULL, *action = NULL;
	int r;

	switch (req->op) {
	case SB_OP_GET_RECORDS:
		table = req->u.get_records.table;
		break;
	case SB_OP_GET_RECORD:
		table = req->u.get_record.table;
		id = req->u.get_record.skyflow_id;
		break;
	case SB_OP_INSERT_RECORDS:
		table = req->u.insert_records.table;
		break;
	case SB_OP_UPDATE_RECORD:
		table = req->u.update_record.table;
		id = req->u.update_record.skyflow_id;
		break;
	case SB_OP_DELETE_RECORDS:
		table = req->u.delete_records.table;
		break;
	case SB_OP_DETOKENIZE:
		action = "detokenize";
		break;
	case SB_OP_TOKENIZE:
		action = "tokenize";
		break;
	case SB_OP_QUERY:
		action = "query";
		break;
	default:
		return -EINVAL;
	}
	if (action) {
		size_t len = strlen(path);

		return snprintf(path + len, n - len, "/%s", action) < (int)(n - len) ? 0 : -EMSGSIZE;
	}
	r = path_add(path, n, table);
	if (r >= 0 && id)
		r = path_add(path, n, id);
	return r;
}

/* The URL: vault_url's scheme, host and path, then /v1/vaults/{vault_id}/..., checked by
 * libcurl's URL API (no value in it), then for the two reads their query. *ret is owned
 * (wiped by vault_http_done). */
static int build_url(const struct tenant_config *tc, const struct sb_request *req,
		     const struct vault_plan *plan, char **ret)
{
	_cleanup_(curl_url_cleanupp) CURLU *u = curl_url();
	_cleanup_(curl_freep) char *base_path = NULL, *base = NULL;
	struct sb_buf url;
	char path[4096];
	int r;

	if (!u)
		return -ENOMEM;
	if (curl_url_set(u, CURLUPART_URL, tc->vault_url, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_PATH, &base_path, 0) != CURLUE_OK)
		return -EINVAL;
	/* vault_url has no trailing slash (config), but "/" is what libcurl reports for none */
	(void)snprintf(path, sizeof(path), "%s", strcmp(base_path, "/") == 0 ? "" : base_path);
	r = path_add(path, sizeof(path), "v1");
	r = r ?: path_add(path, sizeof(path), "vaults");
	r = r ?: path_add(path, sizeof(path), tc->vault_id);
	r = r ?: path_of(req, path, sizeof(path));
	if (r < 0)
		return r;
	if (curl_url_set(u, CURLUPART_PATH, path, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_URL, &base, 0) != CURLUE_OK)
		return -EINVAL;
	sb_buf_init(&url, URL_MAX);
	r = sb_buf_append(&url, base, strlen(base));
	if (r >= 0 && req->op == SB_OP_GET_RECORDS)
		r = query_get_records(&url, &req->u.get_records, plan);
	else if (r >= 0 && req->op == SB_OP_GET_RECORD)
		r = query_get_record(&url, &req->u.get_record, plan);
	r = r ?: sb_buf_append(&url, "", 1);
	if (r >= 0) {
		*ret = strdup((const char *)sb_buf_ptr(&url));
		r = *ret ? 0 : -ENOMEM;
	}
	sb_buf_free(&url); /* wiped */
	return r;
}

/* ---- bodies ---- */

static int json_strv(const struct sb_strv *sv, json_t **ret)
{
	_cleanup_(json_decrefp) json_t *a = json_array();

	if (!a)
		return -ENOMEM;
	for (uint32_t i = 0; i < sv->n; i++)
		if (json_array_append_new(a, json_string(sv->v[i])) < 0)
			return -ENOMEM;
	*ret = TAKE_PTR(a);
	return 0;
}

/* {"fields": <map>} for one record. */
static int json_fields(const msgpack_object *fields, json_t **ret, const char **why)
{
	json_t *f = NULL;
	int r;

	if (fields->type != MSGPACK_OBJECT_MAP)
		return *why = "a record is not a map of column to value", -EBADMSG;
	r = vault_json_of_msgpack(fields, &f, why);
	if (r < 0)
		return r;
	*ret = json_pack("{s:o}", "fields", f);
	return *ret ? 0 : -ENOMEM;
}

static int body_insert(const struct sb_insert_records_args *a, json_t *body, const char **why)
{
	const msgpack_object_array *recs = &a->records->via.array;
	json_t *arr = json_array();
	int r;

	if (!arr || json_object_set_new(body, "records", arr) < 0)
		return -ENOMEM;
	for (uint32_t i = 0; i < recs->size; i++) {
		json_t *rec = NULL;

		r = json_fields(&recs->ptr[i], &rec, why);
		if (r < 0)
			return r;
		if (json_array_append_new(arr, rec) < 0)
			return -ENOMEM;
	}
	if (json_object_set_new(body, "tokenization", json_boolean(a->tokenization.set &&
								   a->tokenization.v)) < 0)
		return -ENOMEM;
	if (a->upsert && json_object_set_new(body, "upsert", json_string(a->upsert)) < 0)
		return -ENOMEM;
	return 0;
}

static int body_update(const struct sb_update_record_args *a, json_t *body, const char **why)
{
	json_t *rec = NULL;
	int r = json_fields(a->fields, &rec, why);

	if (r < 0)
		return r;
	if (json_object_set_new(body, "record", rec) < 0 ||
	    json_object_set_new(body, "tokenization", json_boolean(a->tokenization.set &&
								   a->tokenization.v)) < 0)
		return -ENOMEM;
	return 0;
}

static int body_detokenize(const struct sb_detokenize_args *a, const struct vault_plan *plan,
			   json_t *body)
{
	const char *redaction = plan->redaction ? plan->redaction : "DEFAULT";
	json_t *arr = json_array();

	if (!arr || json_object_set_new(body, "detokenizationParameters", arr) < 0)
		return -ENOMEM;
	for (uint32_t i = 0; i < a->tokens.n; i++)
		if (json_array_append_new(arr, json_pack("{s:s, s:s}", "token", a->tokens.v[i],
							 "redaction", redaction)) < 0)
			return -ENOMEM;
	if (json_object_set_new(body, "continueOnError",
				json_boolean(a->continue_on_error.set && a->continue_on_error.v)) < 0)
		return -ENOMEM;
	return 0;
}

static int body_tokenize(const struct sb_tokenize_args *a, json_t *body)
{
	json_t *arr = json_array();

	if (!arr || json_object_set_new(body, "tokenizationParameters", arr) < 0)
		return -ENOMEM;
	for (uint32_t i = 0; i < a->values.n; i++)
		if (json_array_append_new(arr, json_pack("{s:s, s:s}", "value", a->values.v[i],
							 "columnGroup", a->column_group)) < 0)
			return -ENOMEM;
	return 0;
}

/* The body's members for req into body. */
static int body_fill(const struct sb_request *req, const struct vault_plan *plan, json_t *body,
		     const char **why)
{
	json_t *ids = NULL;
	int r;

	switch (req->op) {
	case SB_OP_INSERT_RECORDS:
		return body_insert(&req->u.insert_records, body, why);
	case SB_OP_UPDATE_RECORD:
		return body_update(&req->u.update_record, body, why);
	case SB_OP_DELETE_RECORDS:
		r = json_strv(&req->u.delete_records.skyflow_ids, &ids);
		if (r < 0)
			return r;
		return json_object_set_new(body, "skyflow_ids", ids) < 0 ? -ENOMEM : 0;
	case SB_OP_DETOKENIZE:
		return body_detokenize(&req->u.detokenize, plan, body);
	case SB_OP_TOKENIZE:
		return body_tokenize(&req->u.tokenize, body);
	case SB_OP_QUERY:
		return json_object_set_new(body, "query", json_string(req->u.query.query)) < 0 ?
			       -ENOMEM : 0;
	default:
		return -EINVAL;
	}
}

static const char *method_of(enum sb_op op)
{
	switch (op) {
	case SB_OP_GET_RECORDS:
	case SB_OP_GET_RECORD:
		return "GET";
	case SB_OP_UPDATE_RECORD:
		return "PUT";
	case SB_OP_DELETE_RECORDS:
		return "DELETE";
	default:
		return "POST";
	}
}

int vault_http_build(const struct tenant_config *tc, const struct sb_request *req,
		     const struct vault_plan *plan, struct vault_http *out,
		     struct error_detail *err)
{
	_cleanup_(vault_http_done) struct vault_http h = {.method = method_of(req->op)};
	const char *why = NULL;
	int r;

	*out = (struct vault_http){0};
	/* Reads are safe to send twice; a write is sent once (sb_op_flags says which is which) */
	h.idempotent = sb_op_flags(req->op) & SB_OPF_IDEMPOTENT;
	r = build_url(tc, req, plan, &h.url);
	if (r == -EMSGSIZE || r == -EINVAL)
		return error_detail_set(err, -EBADMSG, "the vault URL for this request is invalid "
					"or too long");
	if (r < 0)
		return r;
	if (strcmp(h.method, "GET") != 0) {
		_cleanup_(json_decrefp) json_t *body = json_object();

		if (!body)
			return -ENOMEM;
		r = body_fill(req, plan, body, &why);
		if (r == -EBADMSG)
			return error_detail_set(err, r, "records: %s", why);
		if (r < 0)
			return r;
		h.body = json_dumps(body, JSON_COMPACT);
		if (!h.body)
			return -ENOMEM;
		h.body_len = strlen(h.body);
	}
	*out = h;
	h = (struct vault_http){0};
	return 0;
}
