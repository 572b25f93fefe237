/* policy: Skyflow policy sentences, as far as the emulator needs them.
 *
 *   ALLOW|DENY <action>[, <action>...] [ON <resource>[, <resource>...]]
 *         [WITH REDACTION = PLAIN_TEXT|MASKED|REDACTED|DEFAULT]     (ALLOW only)
 *         [WHERE <filter>]
 *   action   := READ | CREATE | UPDATE | DELETE | ALL | TOKENIZATION | DETOKENIZATION
 *   resource := table.column | table.* | vault.table.column | vault.table.*
 *   filter   := term [OR term]...          term := factor [AND factor]...
 *   factor   := ( filter ) | <t.c> = | != | <> | LIKE | NOT LIKE '<v>'
 *
 * Keywords are case-insensitive; AND binds tighter than OR. LIKE takes % and _ and a
 * backslash escape, case-sensitive (ILIKE, <, >, IN, IS NULL... are refused with a message
 * saying the emulator does not evaluate them). TOKENIZATION/DETOKENIZATION take no
 * resource. A READ without WITH REDACTION means DEFAULT (each column's default). A DENY
 * wins over every ALLOW it matches (README.md "Policy semantics"). */
#pragma once

#include <stdbool.h>
#include <stddef.h>

enum redaction {
	RED_NONE = 0, /* no access */
	RED_REDACTED = 1,
	RED_MASKED = 2,
	RED_PLAIN = 3,
	RED_DEFAULT = 4 /* "the column's default"; resolved before comparing */
};

enum action {
	ACT_READ = 1 << 0,
	ACT_CREATE = 1 << 1,
	ACT_UPDATE = 1 << 2,
	ACT_DELETE = 1 << 3,
	ACT_TOKENIZATION = 1 << 4,
	ACT_DETOKENIZATION = 1 << 5,
};

#define POLICY_MAX_RES   32
#define POLICY_MAX_WHERE 32 /* nodes of a WHERE filter (predicates, AND, OR) */
#define POLICY_MAX_PARENS 8 /* nesting of ( ) in a WHERE filter */
#define POLICY_NAME_MAX  64

struct policy_res {
	char table[POLICY_NAME_MAX];
	char column[POLICY_NAME_MAX]; /* "*" = every column */
};

enum where_kind { W_EQ, W_NE, W_LIKE, W_NOT_LIKE, W_AND, W_OR };

/* One node of a WHERE filter: a predicate (column, value) or AND/OR of two nodes. */
struct policy_where {
	enum where_kind kind;
	char column[POLICY_NAME_MAX]; /* table qualifier checked at parse time and dropped */
	char *value;
	int left, right;              /* W_AND, W_OR: indices into where[] */
};

struct policy {
	bool deny;
	unsigned actions;
	struct policy_res res[POLICY_MAX_RES];
	size_t nres;
	enum redaction redaction;
	struct policy_where where[POLICY_MAX_WHERE];
	size_t nwhere;
	int where_root; /* index of the filter's top node; -1: no WHERE */
	char *text;
};

/* Parses one policy sentence into *p (cleared first). Returns 0 or -EBADMSG with a message
 * in err. On success p owns allocations: release with policy_clear(). */
int policy_parse(const char *src, struct policy *p, char *err, size_t err_len);
void policy_clear(struct policy *p);
/* True when the policy names (table, column) — column "*" in the policy matches any. */
bool policy_covers(const struct policy *p, const char *table, const char *column);
/* True when the policy names the table at all. */
bool policy_covers_table(const struct policy *p, const char *table);

/* SQL LIKE: % any run, _ one character, backslash escapes the next; case-sensitive. */
bool policy_like(const char *s, const char *pattern);
/* Evaluates the filter of p on a row through get (returns the row's value of a column as a
 * string, NULL when absent or null: then every comparison is false, as in SQL). True when p
 * has no WHERE. */
bool policy_where_eval(const struct policy *p, const char *(*get)(void *ctx, const char *col),
		       void *ctx);

/* "PLAIN_TEXT", "MASKED", "REDACTED", "DEFAULT" (also Skyflow's column tags "PLAIN_TEXT",
 * "MASK", "REDACT") -> enum; -EINVAL otherwise. */
int redaction_from_string(const char *s, enum redaction *ret);
const char *redaction_to_string(enum redaction r);
