/* SPDX-License-Identifier: MIT */
/* policy: the tenant's allow-lists, redaction ceiling and argument checks of a vault request. */
#include "vault/policy.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "proto/limits.h"

/* ---- the SQL scan of vault_query_tables ---- */

enum sql_tok {
	SQL_END,
	SQL_WORD,   /* a bare word: keyword or identifier, maybe qualified (a.b) */
	SQL_QUOTED, /* "identifier" or `identifier`, quotes removed */
	SQL_STRING, /* 'literal' */
	SQL_COMMA,
	SQL_LPAREN,
	SQL_SEMI,
	SQL_OTHER,  /* any other punctuation or operator character */
	SQL_ERROR,
};

struct sql_scan {
	const char *p;
	char text[SB_MAX_NAME_LEN + 1]; /* the last SQL_WORD or SQL_QUOTED */
	const char *why;                /* set with SQL_ERROR */
};

static bool is_word_char(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '_' || c == '.' || c == '$' || c >= 0x80;
}

static enum sql_tok sql_error(struct sql_scan *s, const char *why)
{
	s->why = why;
	return SQL_ERROR;
}

/* Copies n bytes at src into s->text; SQL_ERROR when the name is too long. */
static enum sql_tok sql_name(struct sql_scan *s, const char *src, size_t n, enum sql_tok t)
{
	if (n == 0 || n > SB_MAX_NAME_LEN)
		return sql_error(s, "an identifier is empty or longer than 256 bytes");
	memcpy(s->text, src, n);
	s->text[n] = '\0';
	return t;
}

/* A quoted identifier ("x" or `x`, the quote doubled inside) or a 'literal'. */
static enum sql_tok sql_quoted(struct sql_scan *s, char q)
{
	char buf[SB_MAX_NAME_LEN + 1];
	size_t n = 0;

	s->p++; /* the opening quote */
	for (;; s->p++) {
		if (!*s->p)
			return sql_error(s, "an unterminated quote");
		if (*s->p != q) {
			if (q != '\'' && n < sizeof(buf))
				buf[n++] = *s->p;
			continue;
		}
		if (s->p[1] == q) { /* a doubled quote stands for itself */
			if (q != '\'' && n < sizeof(buf))
				buf[n++] = q;
			s->p++;
			continue;
		}
		s->p++;
		break;
	}
	if (q == '\'')
		return SQL_STRING;
	if (n >= sizeof(buf))
		return sql_error(s, "an identifier is longer than 256 bytes");
	return sql_name(s, buf, n, SQL_QUOTED);
}

static enum sql_tok sql_next(struct sql_scan *s)
{
	const char *start;

	while (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r' || *s->p == '\f' ||
	       *s->p == '\v')
		s->p++;
	if (!*s->p)
		return SQL_END;
	if ((s->p[0] == '-' && s->p[1] == '-') || (s->p[0] == '/' && s->p[1] == '*') ||
	    s->p[0] == '#')
		return sql_error(s, "a comment");
	switch (*s->p) {
	case '\'':
	case '"':
	case '`':
		return sql_quoted(s, *s->p);
	case ',':
		s->p++;
		return SQL_COMMA;
	case '(':
		s->p++;
		return SQL_LPAREN;
	case ';':
		s->p++;
		return SQL_SEMI;
	default:
		break;
	}
	if (!is_word_char((unsigned char)*s->p)) {
		s->p++;
		return SQL_OTHER;
	}
	start = s->p;
	while (is_word_char((unsigned char)*s->p))
		s->p++;
	return sql_name(s, start, (size_t)(s->p - start), SQL_WORD);
}

static bool word_is(const struct sql_scan *s, enum sql_tok t, const char *kw)
{
	return t == SQL_WORD && strcasecmp(s->text, kw) == 0;
}

/* Words that end a table reference instead of naming its alias. */
static bool is_clause_keyword(const struct sql_scan *s, enum sql_tok t)
{
	static const char *const kws[] = {
		"WHERE", "JOIN", "INNER", "LEFT", "RIGHT", "FULL", "OUTER", "CROSS", "NATURAL",
		"ON", "USING", "LIMIT", "OFFSET", "ORDER", "GROUP", "HAVING", "UNION", "EXCEPT",
		"INTERSECT", "FROM", "SELECT", "FETCH", "WINDOW", NULL,
	};

	for (size_t i = 0; kws[i]; i++)
		if (word_is(s, t, kws[i]))
			return true;
	return false;
}

/*
 * After FROM or JOIN: one table reference, reported to fn, then its optional alias. Returns
 * the token that follows (for the caller to look at), SQL_ERROR, or, through *r, fn's error.
 */
static enum sql_tok sql_table_ref(struct sql_scan *s, int (*fn)(const char *, void *), void *ud,
				  int *r)
{
	enum sql_tok t = sql_next(s);

	if (t == SQL_LPAREN)
		return sql_error(s, "a subquery or parenthesis after FROM or JOIN");
	if ((t != SQL_WORD && t != SQL_QUOTED) || is_clause_keyword(s, t))
		return t == SQL_ERROR ? t : sql_error(s, "no table name after FROM or JOIN");
	*r = fn(s->text, ud);
	if (*r < 0)
		return SQL_END;
	t = sql_next(s);
	if (word_is(s, t, "AS")) {
		t = sql_next(s);
		if (t != SQL_WORD && t != SQL_QUOTED)
			return t == SQL_ERROR ? t : sql_error(s, "no alias after AS");
		return sql_next(s);
	}
	if ((t == SQL_WORD && !is_clause_keyword(s, t)) || t == SQL_QUOTED)
		return sql_next(s); /* an alias */
	return t;
}

int vault_query_tables(const char *sql, int (*fn)(const char *name, void *userdata),
		       void *userdata, const char **why)
{
	struct sql_scan s = {.p = sql};
	enum sql_tok t = sql_next(&s);
	int r = 0;

	*why = NULL;
	while (t != SQL_END && t != SQL_ERROR) {
		if (word_is(&s, t, "FROM")) {
			do {
				t = sql_table_ref(&s, fn, userdata, &r);
				if (r < 0)
					return r;
			} while (t == SQL_COMMA);
			continue;
		}
		if (word_is(&s, t, "JOIN")) {
			t = sql_table_ref(&s, fn, userdata, &r);
			if (r < 0)
				return r;
			continue;
		}
		if (t == SQL_SEMI) {
			t = sql_next(&s);
			if (t != SQL_END)
				return *why = "more than one statement", -EBADMSG;
			break;
		}
		t = sql_next(&s);
	}
	if (t == SQL_ERROR)
		return *why = s.why, -EBADMSG;
	return 0;
}

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

static int check_table(const struct tenant_config *tc, const char *table,
		       struct error_detail *err)
{
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

	if (tc->allow_tables.n == 0)
		return 0; /* Skyflow's own policies decide; nothing to read the text for */
	r = vault_query_tables(sql, query_table_seen, &q, &why);
	if (r == -EBADMSG)
		return error_detail_set(err, -EACCES, "tenant '%s' has allow_tables and this query "
					"holds %s, which the broker cannot check; write a plain "
					"SELECT ... FROM table", tc->name, why);
	return r;
}

/* Lowers the requested redaction to the tenant's ceiling. */
static void cap_redaction(const struct tenant_config *tc, const char *asked,
			  struct vault_plan *plan)
{
	plan->redaction = asked;
	if (!asked)
		return;
	for (unsigned i = 0; sb_redaction_names[i]; i++)
		if (strcmp(sb_redaction_names[i], asked) == 0) {
			if (i > (unsigned)tc->max_redaction) {
				plan->redaction = sb_redaction_names[tc->max_redaction];
				plan->redaction_capped = true;
			}
			return;
		}
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
		return check_table(tc, plan->table, err);
	case SB_OP_INSERT_RECORDS:
		plan->table = req->u.insert_records.table;
		if (req->u.insert_records.records->via.array.size == 0)
			return error_detail_set(err, -EBADMSG, "records: at least one record");
		return check_table(tc, plan->table, err);
	case SB_OP_UPDATE_RECORD:
		plan->table = req->u.update_record.table;
		if (req->u.update_record.fields->via.map.size == 0)
			return error_detail_set(err, -EBADMSG, "fields: at least one column");
		return check_table(tc, plan->table, err);
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
