#include "store.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

/* Stringifies a scalar for comparisons and masking; buf is scratch. NULL for non-scalars. */
static const char *scalar_str(json_t *v, char *buf, size_t len)
{
	if (json_is_string(v))
		return json_string_value(v);
	if (json_is_integer(v)) {
		snprintf(buf, len, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
		return buf;
	}
	if (json_is_real(v)) {
		snprintf(buf, len, "%g", json_real_value(v));
		return buf;
	}
	if (json_is_boolean(v))
		return json_is_true(v) ? "true" : "false";
	return NULL;
}

struct row_ctx {
	json_t *row;
	char buf[64];
};

static const char *row_value(void *ctx, const char *col)
{
	struct row_ctx *rc = ctx;
	return scalar_str(json_object_get(rc->row, col), rc->buf, sizeof(rc->buf));
}

/* A policy's WHERE on a row; a value outside any row (row NULL) matches only policies
 * without WHERE. */
static bool where_matches(const struct policy *p, json_t *row)
{
	struct row_ctx rc = {.row = row};

	if (p->where_root < 0)
		return true;
	return row && policy_where_eval(p, row_value, &rc);
}

#define FOREACH_POLICY(cfg, who, pol)                                                      \
	for (size_t _r = 0; _r < (who)->nroles; _r++)                                      \
		for (size_t _p = 0; _p < (cfg)->roles[(who)->roles[_r]].npolicies; _p++)   \
			for (const struct policy *pol = &(cfg)->roles[(who)->roles[_r]].policies[_p]; \
			     pol; pol = NULL)

/* A DENY for action on the whole table ("t.*", or no resource for the global actions) whose
 * WHERE matches row. row NULL: only a DENY without WHERE counts. */
static bool denied_table(const struct emu_config *cfg, const struct principal *who,
			 unsigned action, const char *table, json_t *row)
{
	FOREACH_POLICY(cfg, who, p)
		if (p->deny && (p->actions & action) &&
		    (table ? policy_covers(p, table, "*") : true) &&
		    (row ? where_matches(p, row) : p->where_root < 0))
			return true;
	return false;
}

/* A DENY for action naming column (or t.*) of table whose WHERE matches row. */
static bool denied_column(const struct emu_config *cfg, const struct principal *who,
			  unsigned action, const char *table, const char *column, json_t *row)
{
	FOREACH_POLICY(cfg, who, p)
		if (p->deny && (p->actions & action) && policy_covers(p, table, column) &&
		    where_matches(p, row))
			return true;
	return false;
}

bool access_table(const struct emu_config *cfg, const struct principal *who, unsigned action,
		  const char *table)
{
	if (denied_table(cfg, who, action, table, NULL))
		return false;
	FOREACH_POLICY(cfg, who, p)
		if (!p->deny && (p->actions & action) && policy_covers_table(p, table))
			return true;
	return false;
}

bool access_global(const struct emu_config *cfg, const struct principal *who, unsigned action)
{
	if (denied_table(cfg, who, action, NULL, NULL))
		return false;
	FOREACH_POLICY(cfg, who, p)
		if (!p->deny && (p->actions & action))
			return true;
	return false;
}

bool access_row(const struct emu_config *cfg, const struct principal *who, unsigned action,
		const char *table, json_t *row)
{
	if (denied_table(cfg, who, action, table, row))
		return false;
	FOREACH_POLICY(cfg, who, p)
		if (!p->deny && (p->actions & action) && policy_covers_table(p, table) &&
		    where_matches(p, row))
			return true;
	return false;
}

bool access_fields(const struct emu_config *cfg, const struct principal *who, unsigned action,
		   const char *table, json_t *row, json_t *fields)
{
	const char *key;
	json_t *v;

	json_object_foreach(fields, key, v)
		if (denied_column(cfg, who, action, table, key, row))
			return false;
	return true;
}

enum redaction access_column(const struct emu_config *cfg, const struct principal *who,
			     const struct column_def *col, const char *table, json_t *row)
{
	enum redaction best = RED_NONE;

	if (denied_column(cfg, who, ACT_READ, table, col->name, row))
		return RED_NONE;
	FOREACH_POLICY(cfg, who, p) {
		enum redaction r;
		if (p->deny || !(p->actions & ACT_READ) || !policy_covers(p, table, col->name) ||
		    !where_matches(p, row))
			continue;
		r = p->redaction == RED_DEFAULT ? col->def : p->redaction;
		if (r > best)
			best = r;
	}
	return best;
}

json_t *render_value(const struct column_def *col, json_t *value, enum redaction level)
{
	char buf[64], *masked = NULL;
	const char *s;
	json_t *out;

	if (!value || json_is_null(value))
		return json_null();
	if (level == RED_PLAIN)
		return json_incref(value);
	if (level == RED_MASKED) {
		s = scalar_str(value, buf, sizeof(buf));
		if (!s || column_mask(col, s, &masked) < 0)
			return json_string("*REDACTED*");
		out = json_string(masked);
		free(masked);
		return out ? out : json_string("*REDACTED*");
	}
	return json_string("*REDACTED*");
}

struct table_state *store_table(struct emu_store *s, const char *name)
{
	for (size_t i = 0; i < s->ntables; i++)
		if (!strcmp(s->tables[i].def->name, name))
			return &s->tables[i];
	return NULL;
}

void store_free(struct emu_store *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->ntables; i++) {
		json_decref(s->tables[i].rows);
		json_decref(s->tables[i].by_id);
		json_decref(s->tables[i].row_tok);
	}
	free(s->tables);
	json_decref(s->tokens);
	json_decref(s->det);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

int store_det_token(struct emu_store *s, const struct table_def *def,
		    const struct column_def *col, json_t *value, char out[static 37])
{
	char buf[64];
	const char *sv = scalar_str(value, buf, sizeof(buf)), *tok;
	struct sbuf key;
	int r = 0;

	if (!sv)
		return -EINVAL;
	sbuf_init(&key, EMU_MAX_FIELD_LEN + 2 * POLICY_NAME_MAX + 2);
	if (sbuf_puts(&key, def->name) < 0 || sbuf_puts(&key, ".") < 0 ||
	    sbuf_puts(&key, col->name) < 0 || sbuf_puts(&key, "\n") < 0 || sbuf_puts(&key, sv) < 0) {
		sbuf_free(&key);
		return -EMSGSIZE;
	}
	tok = json_string_value(json_object_get(s->det, key.p));
	if (tok) {
		snprintf(out, 37, "%s", tok);
	} else if ((r = emu_uuid(out)) == 0) {
		if (json_object_set_new(s->tokens, out,
					json_pack("{s:s, s:s, s:O}", "table", def->name, "column",
						  col->name, "value", value)) < 0 ||
		    json_object_set_new(s->det, key.p, json_string(out)) < 0)
			r = -ENOMEM;
	}
	sbuf_free(&key);
	return r;
}

int store_issue_token(struct emu_store *s, struct table_state *t, const struct column_def *col,
		      const char *id, json_t *value, char out[static 37])
{
	int r;

	if (col->deterministic)
		return store_det_token(s, t->def, col, value, out);
	r = emu_uuid(out);
	if (r < 0)
		return r;
	if (json_object_set_new(s->tokens, out,
				json_pack("{s:s, s:s, s:s}", "table", t->def->name, "column",
					  col->name, "id", id)) < 0)
		return -ENOMEM;
	return 0;
}

/* Seeds one table from the config. Each seed record is {column: value} plus an optional
 * skyflow_id; tokenized columns get a token each. */
static int seed_table(struct emu_store *s, struct table_state *t)
{
	size_t i;
	json_t *rec;

	json_array_foreach(t->def->seed, i, rec) {
		const char *key, *id;
		json_t *val, *row, *toks;
		char uuid[37];

		if (!json_is_object(rec))
			return -EINVAL;
		id = json_string_value(json_object_get(rec, "skyflow_id"));
		if (!id) {
			if (emu_uuid(uuid) < 0)
				return -EIO;
			id = uuid;
		}
		if (json_object_get(t->by_id, id))
			return -EEXIST;
		row = json_pack("{s:s}", "skyflow_id", id);
		toks = json_object();
		json_object_foreach(rec, key, val) {
			const struct column_def *col;
			if (!strcmp(key, "skyflow_id"))
				continue;
			col = config_column(t->def, key);
			if (!col) {
				log_err("seed record of table %s has unknown column %s", t->def->name, key);
				json_decref(row);
				json_decref(toks);
				return -EINVAL;
			}
			json_object_set(row, key, val);
			if (col->tokenized) {
				/* as an insert does: a null in a deterministic column has no
				 * token (-EINVAL), every other value gets one */
				char tok[37];
				int r = store_issue_token(s, t, col, id, val, tok);
				if (r < 0 && r != -EINVAL) {
					json_decref(row);
					json_decref(toks);
					return -EIO;
				}
				if (r == 0)
					json_object_set_new(toks, key, json_string(tok));
			}
		}
		json_array_append(t->rows, row);
		json_object_set(t->by_id, id, row);
		json_object_set_new(t->row_tok, id, toks);
		json_decref(row);
	}
	return 0;
}

int store_new(const struct emu_config *cfg, struct emu_store **ret)
{
	struct emu_store *s;
	int r;

	*ret = NULL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	pthread_mutex_init(&s->lock, NULL);
	s->cfg = cfg;
	s->tokens = json_object();
	s->det = json_object();
	s->tables = calloc(cfg->ntables, sizeof(*s->tables));
	if (!s->tables || !s->tokens || !s->det) {
		store_free(s);
		return -ENOMEM;
	}
	for (size_t i = 0; i < cfg->ntables; i++) {
		struct table_state *t = &s->tables[s->ntables++];
		t->def = &cfg->tables[i];
		t->rows = json_array();
		t->by_id = json_object();
		t->row_tok = json_object();
		r = seed_table(s, t);
		if (r < 0) {
			log_err("cannot seed table %s: %s", t->def->name, strerror(-r));
			store_free(s);
			return r;
		}
	}
	*ret = s;
	return 0;
}

const char *row_id(json_t *row)
{
	return json_string_value(json_object_get(row, "skyflow_id"));
}

/* Renders one row for the principal, or returns NULL when the row is hidden (no READ policy
 * on the table matches it). fields (borrowed, may be NULL) restricts the columns. */
json_t *render_row(struct emu *emu, const struct principal *who, struct table_state *t,
		   json_t *row, enum redaction requested, json_t *fields, bool tokenization,
		   bool with_id)
{
	const struct emu_config *cfg = emu->cfg;
	json_t *out, *toks;

	if (!access_row(cfg, who, ACT_READ, t->def->name, row))
		return NULL;
	out = json_object();
	if (with_id)
		json_object_set_new(out, "skyflow_id", json_string(row_id(row)));
	toks = json_object_get(t->row_tok, row_id(row));
	for (size_t i = 0; i < t->def->ncols; i++) {
		const struct column_def *col = &t->def->cols[i];
		enum redaction allowed, want, level;
		json_t *v;

		if (fields) {
			bool wanted = false;
			size_t k;
			json_t *f;
			json_array_foreach(fields, k, f)
				if (!strcmp(json_string_value(f), col->name))
					wanted = true;
			if (!wanted)
				continue;
		}
		allowed = access_column(cfg, who, col, t->def->name, row);
		if (allowed == RED_NONE)
			continue; /* no READ on this column: left out */
		v = json_object_get(row, col->name);
		if (!v)
			continue;
		if (tokenization && col->tokenized && json_object_get(toks, col->name)) {
			json_object_set(out, col->name, json_object_get(toks, col->name));
			continue;
		}
		want = requested == RED_DEFAULT ? col->def : requested;
		level = want < allowed ? want : allowed;
		json_object_set_new(out, col->name, render_value(col, v, level));
	}
	return out;
}

bool store_token_is_row_bound(struct emu_store *s, const char *token)
{
	return json_object_get(json_object_get(s->tokens, token), "id") != NULL;
}

struct store_snapshot {
	size_t ntables;
	json_t **rows;    /* deep copies of each table's rows */
	json_t **row_tok; /* deep copies of each table's row tokens */
	json_t *tokens, *det;
};

void store_snapshot_free(struct store_snapshot *snap)
{
	if (!snap)
		return;
	for (size_t i = 0; i < snap->ntables; i++) {
		json_decref(snap->rows ? snap->rows[i] : NULL);
		json_decref(snap->row_tok ? snap->row_tok[i] : NULL);
	}
	free(snap->rows);
	free(snap->row_tok);
	json_decref(snap->tokens);
	json_decref(snap->det);
	free(snap);
}

int store_snapshot(struct emu_store *s, struct store_snapshot **ret)
{
	struct store_snapshot *snap = calloc(1, sizeof(*snap));

	*ret = NULL;
	if (!snap)
		return -ENOMEM;
	snap->ntables = s->ntables;
	snap->rows = calloc(s->ntables, sizeof(*snap->rows));
	snap->row_tok = calloc(s->ntables, sizeof(*snap->row_tok));
	snap->tokens = json_deep_copy(s->tokens);
	snap->det = json_deep_copy(s->det);
	if (!snap->rows || !snap->row_tok || !snap->tokens || !snap->det) {
		store_snapshot_free(snap);
		return -ENOMEM;
	}
	for (size_t i = 0; i < s->ntables; i++) {
		snap->rows[i] = json_deep_copy(s->tables[i].rows);
		snap->row_tok[i] = json_deep_copy(s->tables[i].row_tok);
		if (!snap->rows[i] || !snap->row_tok[i]) {
			store_snapshot_free(snap);
			return -ENOMEM;
		}
	}
	*ret = snap;
	return 0;
}

void store_restore(struct emu_store *s, struct store_snapshot *snap)
{
	for (size_t i = 0; i < s->ntables; i++) {
		struct table_state *t = &s->tables[i];
		size_t k;
		json_t *row;

		json_decref(t->rows);
		json_decref(t->row_tok);
		t->rows = snap->rows[i];
		t->row_tok = snap->row_tok[i];
		snap->rows[i] = snap->row_tok[i] = NULL;
		/* by_id shares the row objects of rows: rebuild it over the restored copies */
		json_object_clear(t->by_id);
		json_array_foreach(t->rows, k, row)
			json_object_set(t->by_id, row_id(row), row);
	}
	json_decref(s->tokens);
	json_decref(s->det);
	s->tokens = snap->tokens;
	s->det = snap->det;
	snap->tokens = snap->det = NULL;
	store_snapshot_free(snap);
}
