/* config: the emulator's JSON configuration (format in README.md): the Descope project, the
 * service account, one vault with its tables and seed records, roles with policies, role
 * assignments with CEL conditions, and STS configurations. Immutable after loading. */
#pragma once

#include <jansson.h>
#include <regex.h>
#include <stdbool.h>

#include "cel.h"
#include "policy.h"

struct column_def {
	char *name;
	char *value_type;          /* detokenize valueType, e.g. "STRING" */
	enum redaction def;        /* default_redaction: PLAIN_TEXT, MASKED or REDACTED */
	bool unique;               /* may be used for upsert and column_name lookups */
	bool tokenized;            /* tokens are issued for this column */
	bool deterministic;        /* token_policy DETERMINISTIC_UUID: one token per value */
	bool has_mask;
	regex_t find;              /* POSIX ERE */
	char *replace;             /* $N / ${N} back-references */
	char *column_group;        /* name accepted by tokenize's columnGroup */
};

struct table_def {
	char *name;
	struct column_def *cols;
	size_t ncols;
	json_t *seed; /* array of records: objects column -> value, optional skyflow_id */
};

struct role_def {
	char *id;
	char *name;
	struct policy *policies;
	size_t npolicies;
};

struct assignment {
	size_t role;        /* index into roles */
	char *sa_id;        /* member service account */
	struct cel_expr *cond;
	char *cond_text;
};

struct sts_config {
	char *name;
	char *issuer;
	char *audience;     /* NULL: not checked */
	json_t *context_claims; /* array of strings */
	json_t *sa_ids;         /* array of strings; empty: any registered service account */
};

struct emu_config {
	char *project_id;
	char *descope_issuer;
	char *sa_id;
	char *sa_name;
	char *vault_id;
	struct table_def *tables;
	size_t ntables;
	struct role_def *roles;
	size_t nroles;
	struct assignment *assignments;
	size_t nassignments;
	struct sts_config *sts;
	size_t nsts;
};

/* Loads and validates a config file. *ret owned by caller (config_free). On error returns
 * -errno and logs the reason once. */
int config_load(const char *path, struct emu_config **ret);
/* Same from a JSON value (borrowed), for unit tests. err receives a message. */
int config_from_json(json_t *root, struct emu_config **ret, char *err, size_t err_len);
void config_free(struct emu_config *c);

const struct table_def *config_table(const struct emu_config *c, const char *name);
const struct column_def *config_column(const struct table_def *t, const char *name);
/* Index of the role with this id (or name), or -1. */
int config_role_index(const struct emu_config *c, const char *id);

/* Applies a column's mask (find/replace on every non-overlapping match, like a regex
 * ReplaceAll; no match leaves the value unchanged) to value. A column without a mask pattern
 * gives "*REDACTED*" (documented in README.md). *ret malloc'd, caller frees. */
int column_mask(const struct column_def *col, const char *value, char **ret);
