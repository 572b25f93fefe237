/* policy: Skyflow policy sentences, as far as the emulator needs them.
 *
 *   ALLOW <action>[, <action>...] [ON <resource>[, <resource>...]]
 *         [WITH REDACTION = PLAIN_TEXT|MASKED|REDACTED|DEFAULT]
 *         [WHERE <t.c> = '<v>' [AND <t.c> = '<v>']...]
 *   action   := READ | CREATE | UPDATE | DELETE | ALL | TOKENIZATION | DETOKENIZATION
 *   resource := table.column | table.* | vault.table.column | vault.table.*
 *
 * Keywords are case-insensitive. TOKENIZATION/DETOKENIZATION take no resource. A READ without
 * WITH REDACTION means DEFAULT (each column's default). Only ALLOW exists here (no DENY). */
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
#define POLICY_MAX_WHERE 8
#define POLICY_NAME_MAX  64

struct policy_res {
	char table[POLICY_NAME_MAX];
	char column[POLICY_NAME_MAX]; /* "*" = every column */
};

struct policy_where {
	char column[POLICY_NAME_MAX]; /* table qualifier checked at parse time and dropped */
	char *value;
};

struct policy {
	unsigned actions;
	struct policy_res res[POLICY_MAX_RES];
	size_t nres;
	enum redaction redaction;
	struct policy_where where[POLICY_MAX_WHERE];
	size_t nwhere;
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

/* "PLAIN_TEXT", "MASKED", "REDACTED", "DEFAULT" (also Skyflow's column tags "PLAIN_TEXT",
 * "MASK", "REDACT") -> enum; -EINVAL otherwise. */
int redaction_from_string(const char *s, enum redaction *ret);
const char *redaction_to_string(enum redaction r);
