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

/* The token of value in a DETERMINISTIC_UUID column (or any tokenized column, for the
 * tokenize endpoint): the same token for the same table, column and value every time,
 * created on first use as {"table","column","value"} in s->tokens. Writes it into out.
 * Returns 0, -EINVAL (value not a scalar), -EMSGSIZE or -ENOMEM. Caller holds the lock. */
int store_det_token(struct emu_store *s, const struct table_def *def,
		    const struct column_def *col, json_t *value, char out[static 37]);
/* A token for value in column col of row id: the deterministic one for a
 * DETERMINISTIC_UUID column, else a fresh token bound to the row ({"table","column","id"}),
 * which dies with the row. Writes it into out. Returns 0 or -errno. Caller holds the lock. */
int store_issue_token(struct emu_store *s, struct table_state *t, const struct column_def *col,
		      const char *id, json_t *value, char out[static 37]);
/* True when token (from s->tokens) is bound to one row, false for a deterministic one. */
bool store_token_is_row_bound(struct emu_store *s, const char *token);

/* A copy of everything a write can change (rows, row tokens, the token maps), taken before
 * an all-or-nothing batch; store_restore puts it back, store_snapshot_free drops it. The
 * caller holds the lock across snapshot and restore. */
struct store_snapshot;
int store_snapshot(struct emu_store *s, struct store_snapshot **ret);
void store_restore(struct emu_store *s, struct store_snapshot *snap); /* consumes snap */
void store_snapshot_free(struct store_snapshot *snap);

/* Access rules (policy.h semantics, see README.md "Policy semantics"): an action is allowed
 * when an ALLOW grants it and no DENY that matches forbids it. access_table ignores row
 * filters of ALLOWs (any ALLOW on the table) and counts only DENYs on t.* without WHERE;
 * access_row evaluates both against the row. */
bool access_table(const struct emu_config *cfg, const struct principal *who, unsigned action,
		  const char *table);
bool access_global(const struct emu_config *cfg, const struct principal *who, unsigned action);
bool access_row(const struct emu_config *cfg, const struct principal *who, unsigned action,
		const char *table, json_t *row);
/* False when a DENY for action names one of fields' columns (or t.*) and its WHERE matches
 * row (the new values for a create, the stored row for an update). */
bool access_fields(const struct emu_config *cfg, const struct principal *who, unsigned action,
		   const char *table, json_t *row, json_t *fields);
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
/* Serves one Data API request below /v1/vaults/{vault_id}/ (req->nsegs 4 or 5, the vault
 * already checked) for an authenticated principal: the single-record and table endpoints,
 * detokenize, tokenize, query. Caller holds the store lock. (vault.c) */
void vault_route_locked(struct emu *emu, const struct emu_request *req,
			struct emu_response *resp, const struct principal *who);
/* POST /v1/vaults/{vault_id}: the batch endpoint (batch.c). Caller holds the store lock. */
void vault_batch(struct emu *emu, const struct emu_request *req, struct emu_response *resp,
		 const struct principal *who);
/* POST /v1/vaults/{vault_id}/query (query.c). Caller holds the store lock. */
void vault_query(struct emu *emu, const struct emu_request *req, struct emu_response *resp,
		 const struct principal *who);

/* Renders value at redaction level (PLAIN, MASKED or REDACTED). New reference. */
json_t *render_value(const struct column_def *col, json_t *value, enum redaction level);
