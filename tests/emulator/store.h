/* store: the vault's records and tokens in memory, and the access rules that decide what a
 * principal sees. Callers hold store->lock around every use of rows and tokens. */
#pragma once

#include <jansson.h>
#include <pthread.h>

#include "emu.h"

struct table_state {
	const struct table_def *def;
	json_t *rows;    /* array of row objects {"skyflow_id": ..., column: value} in insertion order */
	json_t *by_id;   /* skyflow_id -> row (same objects) */
	json_t *row_tok; /* skyflow_id -> {column: token} */
};

struct emu_store {
	pthread_mutex_t lock;
	const struct emu_config *cfg;
	struct table_state *tables;
	size_t ntables;
	json_t *tokens;  /* token -> {"table", "column", "id"} or {"table", "column", "value"} */
	json_t *det;     /* "table.column\n" + value -> token (tokenize endpoint) */
};

struct table_state *store_table(struct emu_store *s, const char *name);

/* Access rules (policy.h semantics, see README.md "Policy semantics"). */
bool access_table(const struct emu_config *cfg, const struct principal *who, unsigned action,
		  const char *table);
bool access_global(const struct emu_config *cfg, const struct principal *who, unsigned action);
bool access_row(const struct emu_config *cfg, const struct principal *who, unsigned action,
		const char *table, json_t *row);
/* Most lenient READ redaction the principal has for a column of a row (row may be NULL for
 * a value outside any row: then only policies without WHERE count). RED_NONE: no READ. */
enum redaction access_column(const struct emu_config *cfg, const struct principal *who,
			     const struct column_def *col, const char *table, json_t *row);

/* The row's skyflow_id (borrowed). */
const char *row_id(json_t *row);
/* Renders one row for the principal: columns without READ left out, each value at
 * min(requested, allowed) redaction (requested RED_DEFAULT = the column's default), tokens in
 * place of values when tokenization is set. fields (borrowed array of names, may be NULL)
 * restricts the columns; with_id adds skyflow_id. Returns NULL when no READ policy matches the
 * row (hidden), else a new reference. Caller holds the store lock. */
json_t *render_row(struct emu *emu, const struct principal *who, struct table_state *t,
		   json_t *row, enum redaction requested, json_t *fields, bool tokenization,
		   bool with_id);
/* POST /v1/vaults/{vault_id}/query (query.c). Caller holds the store lock. */
void vault_query(struct emu *emu, const struct emu_request *req, struct emu_response *resp,
		 const struct principal *who);

/* Renders value at redaction level (PLAIN, MASKED or REDACTED). New reference. */
json_t *render_value(const struct column_def *col, json_t *value, enum redaction level);
