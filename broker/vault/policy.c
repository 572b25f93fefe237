/* SPDX-License-Identifier: MIT */
/* policy: the tenant's allow-lists, redaction ceiling and argument checks of a vault request. */
#include "vault/policy.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "proto/limits.h"
#include "vault/sqlscan.h"

/* ---- the policy ---- */

static bool table_allowed(const struct tenant_config *tc, const char *table)
{
	if (tc->allow_tables.n == 0)
		return true;
	for (size_t i = 0; i < tc->allow_tables.n; i++)
		if (strcmp(tc->allow_tables.v[i], table) == 0)
			return true;
	return false;
}

/* A name that becomes a path segment: "", "." and ".." would change the endpoint called
 * (libcurl and servers remove dot segments; an empty one joins its neighbours). */
static int check_segment(const char *what, const char *name, struct error_detail *err)
{
	if (name[0] && strcmp(name, ".") != 0 && strcmp(name, "..") != 0)
		return 0;
	return error_detail_set(err, -EBADMSG, "%s: \"%s\" is not a name", what, name);
}

static int check_table(const struct tenant_config *tc, const char *table,
		       struct error_detail *err)
{
	int r = check_segment("table", table, err);

	if (r < 0)
		return r;
	if (table_allowed(tc, table))
		return 0;
	return error_detail_set(err, -EACCES, "table '%.64s' is not in tenant '%s''s allow_tables",
				table, tc->name);
}

struct query_check {
	const struct tenant_config *tc;
	struct error_detail *err;
	struct vault_plan *plan;
};

static int query_table_seen(const char *name, void *userdata)
{
	struct query_check *q = userdata;
	int r = check_table(q->tc, name, q->err);

	/* plan->table must outlive this call: the allow-list's own copy, when there is one */
	if (r == 0 && !q->plan->table && q->tc->allow_tables.n > 0)
		for (size_t i = 0; i < q->tc->allow_tables.n; i++)
			if (strcmp(q->tc->allow_tables.v[i], name) == 0)
				q->plan->table = q->tc->allow_tables.v[i];
	return r;
}

static int check_query(const struct tenant_config *tc, const char *sql, struct vault_plan *plan,
		       struct error_detail *err)
{
	struct query_check q = {.tc = tc, .err = err, .plan = plan};
	const char *why;
	int r;

	/* A query has no redaction parameter (Skyflow applies DEFAULT, and its REDACTION()
	 * function asks for more): under a ceiling it cannot be bounded. */
	if (tc->max_redaction != CONFIG_REDACTION_PLAIN_TEXT)
		return error_detail_set(err, -EACCES, "tenant '%s' caps redaction at %s and a "
					"query cannot be capped; use get_records", tc->name,
					sb_redaction_names[tc->max_redaction]);
	if (tc->allow_tables.n == 0)
		return 0; /* Skyflow's own policies decide; nothing to read the text for */
	r = vault_query_tables(sql, query_table_seen, &q, &why);
	if (r == -EBADMSG)
		return error_detail_set(err, -EACCES, "tenant '%s' has allow_tables and this query "
					"holds %s, which the broker cannot check; write a plain "
					"SELECT ... FROM table", tc->name, why);
	return r;
}

/*
 * The redaction to ask Skyflow for under the tenant's ceiling. Without one (PLAIN_TEXT) the
 * request's own, or none. Under one, never DEFAULT or none: DEFAULT is each column's own
 * default, which may be plain text. So a level above the ceiling, DEFAULT and none all become
 * the ceiling, and the reply says so (redaction_capped).
 */
static void cap_redaction(const struct tenant_config *tc, const char *asked,
			  struct vault_plan *plan)
{
	const char *ceiling = sb_redaction_names[tc->max_redaction];

	plan->redaction = asked;
	if (tc->max_redaction == CONFIG_REDACTION_PLAIN_TEXT)
		return;
	if (asked && strcmp(asked, "DEFAULT") != 0) {
		for (unsigned i = 0; sb_redaction_names[i]; i++)
			if (strcmp(sb_redaction_names[i], asked) == 0 &&
			    i <= (unsigned)tc->max_redaction)
				return; /* at or below the ceiling */
	}
	plan->redaction = ceiling;
	plan->redaction_capped = true;
}

static int check_get_records(const struct tenant_config *tc, const struct sb_get_records_args *a,
			     struct error_detail *err)
{
	if (a->limit.set && a->limit.v == 0)
		return error_detail_set(err, -EBADMSG, "limit: must be 1 to %u", SB_MAX_GET_LIMIT);
	if (a->column_name && a->skyflow_ids.set)
		return error_detail_set(err, -EBADMSG, "column_name cannot be combined with "
					"skyflow_ids; send one of them");
	if (!!a->column_name != a->column_values.set)
		return error_detail_set(err, -EBADMSG, "column_name and column_values go together");
	if ((a->skyflow_ids.set && a->skyflow_ids.n == 0) ||
	    (a->column_values.set && a->column_values.n == 0) || (a->fields.set && a->fields.n == 0))
		return error_detail_set(err, -EBADMSG, "an empty list; leave the field out instead");
	return check_table(tc, a->table, err);
}

static int check_delete(const struct tenant_config *tc, const struct sb_delete_records_args *a,
			struct error_detail *err)
{
	if (a->skyflow_ids.n == 0)
		return error_detail_set(err, -EBADMSG, "skyflow_ids: at least one id");
	for (uint32_t i = 0; i < a->skyflow_ids.n; i++)
		if (strcmp(a->skyflow_ids.v[i], "*") == 0)
			return error_detail_set(err, -EBADMSG, "skyflow_ids: \"*\" (every row) is "
						"not accepted through the broker; list the ids");
	return check_table(tc, a->table, err);
}

static int check_nonempty(uint32_t n, const char *what, struct error_detail *err)
{
	return n > 0 ? 0 : error_detail_set(err, -EBADMSG, "%s: at least one entry", what);
}

int vault_policy_apply(const struct tenant_config *tc, const struct sb_request *req,
		       struct vault_plan *plan, struct error_detail *err)
{
	*plan = (struct vault_plan){0};
	switch (req->op) {
	case SB_OP_GET_RECORDS:
		plan->table = req->u.get_records.table;
		cap_redaction(tc, req->u.get_records.redaction, plan);
		return check_get_records(tc, &req->u.get_records, err);
	case SB_OP_GET_RECORD:
		plan->table = req->u.get_record.table;
		cap_redaction(tc, req->u.get_record.redaction, plan);
		if (req->u.get_record.fields.set && req->u.get_record.fields.n == 0)
			return error_detail_set(err, -EBADMSG, "fields: an empty list; leave it out");
		return check_segment("skyflow_id", req->u.get_record.skyflow_id, err) ?:
		       check_table(tc, plan->table, err);
	case SB_OP_INSERT_RECORDS:
		plan->table = req->u.insert_records.table;
		if (req->u.insert_records.records->via.array.size == 0)
			return error_detail_set(err, -EBADMSG, "records: at least one record");
		return check_table(tc, plan->table, err);
	case SB_OP_UPDATE_RECORD:
		plan->table = req->u.update_record.table;
		if (req->u.update_record.fields->via.map.size == 0)
			return error_detail_set(err, -EBADMSG, "fields: at least one column");
		return check_segment("skyflow_id", req->u.update_record.skyflow_id, err) ?:
		       check_table(tc, plan->table, err);
	case SB_OP_DELETE_RECORDS:
		plan->table = req->u.delete_records.table;
		return check_delete(tc, &req->u.delete_records, err);
	case SB_OP_DETOKENIZE:
		cap_redaction(tc, req->u.detokenize.redaction, plan);
		return check_nonempty(req->u.detokenize.tokens.n, "tokens", err);
	case SB_OP_TOKENIZE:
		return check_nonempty(req->u.tokenize.values.n, "values", err);
	case SB_OP_QUERY:
		return check_query(tc, req->u.query.query, plan, err);
	default:
		return error_detail_set(err, -EINVAL, "not a vault operation");
	}
}
