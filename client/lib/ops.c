/* SPDX-License-Identifier: MIT */
/* ops: the public call of every v1 operation: arguments checked and mapped onto a request. */
#include <errno.h>
#include <string.h>

#include "client/lib/internal.h"

/* The handle and subject token every tenant operation needs. 0 or a code. */
static int check_subject(skybroker *h, const char *token, const void *args,
			 struct skybroker_error *err)
{
	if (!h || !args)
		return client_error(err, SKYBROKER_E_INVALID_ARGUMENT, "the handle or the "
				    "arguments are NULL");
	if (!token || !*token)
		return client_error(err, SKYBROKER_E_INVALID_ARGUMENT,
				    "the subject token is missing or empty");
	if (strlen(token) > SB_MAX_TOKEN_LEN)
		return client_error(err, SKYBROKER_E_TOO_LARGE,
				    "the subject token is longer than %u bytes", SB_MAX_TOKEN_LEN);
	return 0;
}

/* A (pointer, count) string list as the codec's sb_strv: absent when n is 0. The codec only
 * reads the strings. */
static int strv(const char *const *v, size_t n, const char *name, struct sb_strv *out,
		struct skybroker_error *err)
{
	*out = (struct sb_strv){0};
	if (n == 0)
		return 0;
	if (!v)
		return client_error(err, SKYBROKER_E_INVALID_ARGUMENT, "%s is NULL", name);
	if (n > SB_MAX_IDS)
		return client_error(err, SKYBROKER_E_TOO_LARGE,
				    "%s has more than %u entries: split the call", name, SB_MAX_IDS);
	for (size_t i = 0; i < n; i++)
		if (!v[i])
			return client_error(err, SKYBROKER_E_INVALID_ARGUMENT, "%s[%zu] is NULL",
					    name, i);
	*out = (struct sb_strv){.set = true, .n = (uint32_t)n, .v = (const char **)v};
	return 0;
}

static struct sb_opt_bool tri(enum skybroker_tristate t)
{
	return (struct sb_opt_bool){.set = t != SKYBROKER_UNSET, .v = t == SKYBROKER_TRUE};
}

/* A required string argument. */
static int need(const char *s, const char *name, struct skybroker_error *err)
{
	if (!s || !*s)
		return client_error(err, SKYBROKER_E_INVALID_ARGUMENT, "%s is missing", name);
	return 0;
}

/* An enumerated value (redaction, order_by) of names, or NULL; returned as the codec's own
 * string so that the request points at static data. */
static int enum_arg(const char *s, const char *const *names, const char *name,
		    const char **out, struct skybroker_error *err)
{
	*out = NULL;
	if (!s)
		return 0;
	for (const char *const *n = names; *n; n++)
		if (strcmp(s, *n) == 0) {
			*out = *n;
			return 0;
		}
	return client_error(err, SKYBROKER_E_INVALID_ARGUMENT, "%s '%.32s' is none of %s%s%s%s",
			    name, s, names[0], names[1] ? ", " : "", names[1] ? names[1] : "",
			    names[1] && names[2] ? ", ..." : "");
}

static int simple(skybroker *h, enum sb_op op, int timeout_ms, skybroker_result **res,
		  struct skybroker_error *err)
{
	struct sb_request req = {.op = op};

	if (!h)
		return client_error(err, SKYBROKER_E_INVALID_ARGUMENT, "the handle is NULL");
	return client_call(h, &req, timeout_ms, res, err);
}

int skybroker_ping(skybroker *h, int timeout_ms, struct skybroker_error *err)
{
	return simple(h, SB_OP_PING, timeout_ms, NULL, err);
}

int skybroker_health(skybroker *h, int timeout_ms, skybroker_result **res,
		     struct skybroker_error *err)
{
	return simple(h, SB_OP_HEALTH, timeout_ms, res, err);
}

int skybroker_stats(skybroker *h, int timeout_ms, skybroker_result **res,
		    struct skybroker_error *err)
{
	return simple(h, SB_OP_STATS, timeout_ms, res, err);
}

int skybroker_metrics(skybroker *h, int timeout_ms, skybroker_result **res,
		      struct skybroker_error *err)
{
	return simple(h, SB_OP_METRICS, timeout_ms, res, err);
}

int skybroker_exchange(skybroker *h, const char *subject_token, int timeout_ms,
		       skybroker_result **res, struct skybroker_error *err)
{
	struct sb_request req = {.op = SB_OP_EXCHANGE};
	int r = check_subject(h, subject_token, "", err);

	if (r != 0)
		return r;
	req.u.exchange.subject_token = subject_token;
	return client_call(h, &req, timeout_ms, res, err);
}

int skybroker_get_records(skybroker *h, const char *subject_token,
			  const struct skybroker_get_records_args *a, int timeout_ms,
			  skybroker_result **res, struct skybroker_error *err)
{
	struct sb_request req = {.op = SB_OP_GET_RECORDS};
	struct sb_get_records_args *g = &req.u.get_records;
	int r = check_subject(h, subject_token, a, err);

	if (r == 0)
		r = need(a->table, "table", err);
	if (r == 0)
		r = strv(a->skyflow_ids, a->n_skyflow_ids, "skyflow_ids", &g->skyflow_ids, err);
	if (r == 0)
		r = strv(a->fields, a->n_fields, "fields", &g->fields, err);
	if (r == 0)
		r = strv(a->column_values, a->n_column_values, "column_values", &g->column_values,
			 err);
	if (r == 0)
		r = enum_arg(a->redaction, sb_redaction_names, "redaction", &g->redaction, err);
	if (r == 0)
		r = enum_arg(a->order_by, sb_order_names, "order_by", &g->order_by, err);
	if (r != 0)
		return r;
	g->subject_token = subject_token;
	g->table = a->table;
	g->offset = (struct sb_opt_u64){.set = a->has_offset, .v = a->offset};
	g->limit = (struct sb_opt_u64){.set = a->limit > 0, .v = a->limit};
	g->column_name = a->column_name;
	g->tokenization = tri(a->tokenization);
	g->download_url = tri(a->download_url);
	return client_call(h, &req, timeout_ms, res, err);
}

int skybroker_get_record(skybroker *h, const char *subject_token,
			 const struct skybroker_get_record_args *a, int timeout_ms,
			 skybroker_result **res, struct skybroker_error *err)
{
	struct sb_request req = {.op = SB_OP_GET_RECORD};
	struct sb_get_record_args *g = &req.u.get_record;
	int r = check_subject(h, subject_token, a, err);

	if (r == 0)
		r = need(a->table, "table", err);
	if (r == 0)
		r = need(a->skyflow_id, "skyflow_id", err);
	if (r == 0)
		r = strv(a->fields, a->n_fields, "fields", &g->fields, err);
	if (r == 0)
		r = enum_arg(a->redaction, sb_redaction_names, "redaction", &g->redaction, err);
	if (r != 0)
		return r;
	g->subject_token = subject_token;
	g->table = a->table;
	g->skyflow_id = a->skyflow_id;
	g->tokenization = tri(a->tokenization);
	g->download_url = tri(a->download_url);
	return client_call(h, &req, timeout_ms, res, err);
}

/* Parses a JSON argument into *doc. 0 or SKYBROKER_E_INVALID_ARGUMENT / _TOO_LARGE. */
static int json_arg(const char *text, msgpack_object_type want, const char *name,
		    struct json_doc **doc, struct skybroker_error *err)
{
	char why[160];
	int r;

	if (!text)
		return client_error(err, SKYBROKER_E_INVALID_ARGUMENT, "%s is missing", name);
	r = json_parse(text, want, doc, why, sizeof(why));
	if (r == -ENOMEM)
		return client_error(err, SKYBROKER_E_NO_MEMORY, "out of memory");
	if (r < 0)
		return client_error(err, r == -EMSGSIZE ? SKYBROKER_E_TOO_LARGE
							: SKYBROKER_E_INVALID_ARGUMENT,
				    "%s is not usable JSON: %s", name, why);
	return 0;
}

int skybroker_insert_records(skybroker *h, const char *subject_token,
			     const struct skybroker_insert_args *a, int timeout_ms,
			     skybroker_result **res, struct skybroker_error *err)
{
	struct sb_request req = {.op = SB_OP_INSERT_RECORDS};
	struct sb_insert_records_args *g = &req.u.insert_records;
	struct json_doc *doc = NULL;
	int r = check_subject(h, subject_token, a, err);

	if (r == 0)
		r = need(a->table, "table", err);
	if (r == 0)
		r = json_arg(a->records_json, MSGPACK_OBJECT_ARRAY, "records", &doc, err);
	if (r != 0)
		return r;
	g->subject_token = subject_token;
	g->table = a->table;
	g->records = json_doc_root(doc);
	g->tokenization = tri(a->tokenization);
	g->upsert = a->upsert;
	r = client_call(h, &req, timeout_ms, res, err);
	json_doc_free(doc); /* wipes the values */
	return r;
}

int skybroker_update_record(skybroker *h, const char *subject_token,
			    const struct skybroker_update_args *a, int timeout_ms,
			    skybroker_result **res, struct skybroker_error *err)
{
	struct sb_request req = {.op = SB_OP_UPDATE_RECORD};
	struct sb_update_record_args *g = &req.u.update_record;
	struct json_doc *doc = NULL;
	int r = check_subject(h, subject_token, a, err);

	if (r == 0)
		r = need(a->table, "table", err);
	if (r == 0)
		r = need(a->skyflow_id, "skyflow_id", err);
	if (r == 0)
		r = json_arg(a->fields_json, MSGPACK_OBJECT_MAP, "fields", &doc, err);
	if (r != 0)
		return r;
	g->subject_token = subject_token;
	g->table = a->table;
	g->skyflow_id = a->skyflow_id;
	g->fields = json_doc_root(doc);
	g->tokenization = tri(a->tokenization);
	r = client_call(h, &req, timeout_ms, res, err);
	json_doc_free(doc);
	return r;
}

int skybroker_delete_records(skybroker *h, const char *subject_token,
			     const struct skybroker_delete_args *a, int timeout_ms,
			     skybroker_result **res, struct skybroker_error *err)
{
	struct sb_request req = {.op = SB_OP_DELETE_RECORDS};
	struct sb_delete_records_args *g = &req.u.delete_records;
	int r = check_subject(h, subject_token, a, err);

	if (r == 0)
		r = need(a->table, "table", err);
	if (r == 0 && a->n_skyflow_ids == 0)
		r = client_error(err, SKYBROKER_E_INVALID_ARGUMENT, "skyflow_ids is empty");
	if (r == 0)
		r = strv(a->skyflow_ids, a->n_skyflow_ids, "skyflow_ids", &g->skyflow_ids, err);
	if (r != 0)
		return r;
	g->subject_token = subject_token;
	g->table = a->table;
	return client_call(h, &req, timeout_ms, res, err);
}

int skybroker_detokenize(skybroker *h, const char *subject_token,
			 const struct skybroker_detokenize_args *a, int timeout_ms,
			 skybroker_result **res, struct skybroker_error *err)
{
	struct sb_request req = {.op = SB_OP_DETOKENIZE};
	struct sb_detokenize_args *g = &req.u.detokenize;
	int r = check_subject(h, subject_token, a, err);

	if (r == 0 && a->n_tokens == 0)
		r = client_error(err, SKYBROKER_E_INVALID_ARGUMENT, "tokens is empty");
	if (r == 0)
		r = strv(a->tokens, a->n_tokens, "tokens", &g->tokens, err);
	if (r == 0)
		r = enum_arg(a->redaction, sb_redaction_names, "redaction", &g->redaction, err);
	if (r != 0)
		return r;
	g->subject_token = subject_token;
	g->continue_on_error = tri(a->continue_on_error);
	return client_call(h, &req, timeout_ms, res, err);
}

int skybroker_tokenize(skybroker *h, const char *subject_token,
		       const struct skybroker_tokenize_args *a, int timeout_ms,
		       skybroker_result **res, struct skybroker_error *err)
{
	struct sb_request req = {.op = SB_OP_TOKENIZE};
	struct sb_tokenize_args *g = &req.u.tokenize;
	int r = check_subject(h, subject_token, a, err);

	if (r == 0)
		r = need(a->column_group, "column_group", err);
	if (r == 0 && a->n_values == 0)
		r = client_error(err, SKYBROKER_E_INVALID_ARGUMENT, "values is empty");
	if (r == 0)
		r = strv(a->values, a->n_values, "values", &g->values, err);
	if (r != 0)
		return r;
	g->subject_token = subject_token;
	g->column_group = a->column_group;
	return client_call(h, &req, timeout_ms, res, err);
}

int skybroker_query(skybroker *h, const char *subject_token, const char *query, int timeout_ms,
		    skybroker_result **res, struct skybroker_error *err)
{
	struct sb_request req = {.op = SB_OP_QUERY};
	int r = check_subject(h, subject_token, "", err);

	if (r == 0)
		r = need(query, "query", err);
	if (r == 0 && strlen(query) > SB_MAX_QUERY_LEN)
		r = client_error(err, SKYBROKER_E_TOO_LARGE, "the query is longer than %u bytes",
				 SB_MAX_QUERY_LEN);
	if (r != 0)
		return r;
	req.u.query.subject_token = subject_token;
	req.u.query.query = query;
	return client_call(h, &req, timeout_ms, res, err);
}
