/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * Internals of the configuration module, shared by its files and nobody else (the config
 * tests and the fuzz harness excepted):
 *   config.c          the loader: INI reading (inih), sections, keys, load/free
 *   config_values.c   value parsers (config_parse_*), lists, names, ids, the system hooks
 *   config_keys.c     the key tables, one parse function per value type, defaults and the
 *                     validation of a whole config
 *   config_checks.c   what a URL or a file a key names must be (libcurl's URL parser, stat)
 *   config_env.c      the environment fallback (config_from_env)
 *   config_print.c    the effective configuration for --check-config (config_print)
 * Adding a key is one row in a table of config_keys.c (and a line in config_print.c).
 */

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "tenancy/config.h"
#include "util/cleanup.h"

/* ---------------------------------------------------------------- system hooks */

/*
 * How the loader reaches the system: NSS for user and group names, the file system for a
 * credentials file or ca_file and the directories above them (stat, access, realpath only;
 * they are never opened here). Each returns 0 or a negative errno. TEST ONLY to replace: the
 * fuzzer must depend neither on NSS (slow, maybe networked, not deterministic) nor on the
 * files of the machine it runs on.
 */
struct config_sys {
	int (*lookup_user)(const char *name, uid_t *ret);
	int (*lookup_group)(const char *name, gid_t *ret);
	int (*stat)(const char *path, struct stat *ret); /* follows symbolic links */
	int (*access)(const char *path, int mode);
	int (*realpath)(const char *path, char ret[static PATH_MAX]);
	int (*lstat)(const char *path, struct stat *ret); /* NULL: a fake with no links */
};

/* TEST ONLY: replaces the hooks (sys is borrowed while set); NULL restores the real ones. */
void config_set_sys(const struct config_sys *sys);
/* The hooks in use; never NULL. */
const struct config_sys *config_get_sys(void);

/* ---------------------------------------------------------------- values (config_values.c) */

/* Frees the entries of s and empties it (the struct itself is not freed); usable as
 * _cleanup_(config_strv_done) on a local struct config_strv. */
void config_strv_done(struct config_strv *s);
/* Appends a copy of str[0..n) to s: -E2BIG past CONFIG_MAX_LIST entries, -ENOMEM. */
int config_strv_push(struct config_strv *s, const char *str, size_t n);
/* Splits a comma/space/tab separated value and appends its entries to out (-E2BIG, -ENOMEM). */
int config_split_list(const char *value, struct config_strv *out);
/* Whether s is a short token of [A-Za-z0-9_.@:-], 1..SB_MAX_NAME_LEN bytes. */
bool config_is_name_token(const char *s);
/* A number below UINT32_MAX, or a name through the lookup hook; -ERANGE, -ESRCH. */
int config_resolve_uid(const char *s, uid_t *ret);
int config_resolve_gid(const char *s, gid_t *ret);

/* ---------------------------------------------------------------- the parser (config.c) */

/* Where a key was set, for messages: a file line, or an environment variable. */
struct config_keyloc {
	unsigned line;
	const char *var; /* borrowed: a string literal */
};

#define CONFIG_SECTION_KEYS_MAX 64 /* one bit of config_section_state.seen per key */

/* Which keys of one section were set, and where. */
struct config_section_state {
	struct config_keyloc loc[CONFIG_SECTION_KEYS_MAX];
	uint64_t seen;
};

enum config_section_kind {
	CONFIG_SECTION_SKIP = -1, /* a bad section: its keys are swallowed, already reported */
	CONFIG_SECTION_NONE = 0,  /* no section header yet */
	CONFIG_SECTION_BROKER,
	CONFIG_SECTION_TENANT, /* the tenant cur_tenant */
};

/*
 * One run of the loader (a file, a string or the environment). Owns c (handed out by
 * config_parser_finish) and tenants; both are freed by config_parser_done.
 */
struct config_parser {
	const char *file; /* borrowed, for messages; "environment" in env mode */
	FILE *err;        /* borrowed, may be NULL */
	int errors;
	struct broker_config *c;

	/* reader (text borrowed) */
	const char *text;
	size_t pos, len;
	unsigned line;      /* line the reader returned last */
	unsigned long_line; /* first too-long line, 0 if none */
	int max_line;       /* longest line inih accepts */

	enum config_section_kind kind;
	size_t cur_tenant;
	bool broker_seen;
	const char *cur_var; /* env mode: the variable being applied (borrowed literal) */
	bool env;            /* the environment, not a file: messages name variables */

	struct config_section_state broker;
	struct config_section_state *tenants; /* parallel to c->tenants */
};

/* Sets up p for a run named `source`, with a fresh config: 0 or -ENOMEM. */
int config_parser_init(struct config_parser *p, const char *source, FILE *err);
/* Frees what p still owns. For _cleanup_(config_parser_done). */
void config_parser_done(struct config_parser *p);
/* Validates (even after errors, so one run reports every problem), then on success hands
 * the config out in *ret; otherwise returns a negative errno (-EINVAL after reported
 * problems). */
int config_parser_finish(struct config_parser *p, struct broker_config **ret);

/* Reports one problem: "file:line: ", "file: VAR: " or "file: " (at NULL), then the text. */
void config_error_at(struct config_parser *p, const struct config_keyloc *at, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Reports a problem with the value of key k where it is being set ("file:line: key: text");
 * returns r. */
struct config_key;
int config_key_error(struct config_parser *p, const struct config_key *k, int r, const char *fmt,
		     ...) __attribute__((format(printf, 4, 5)));
/* Where the key being applied comes from. */
struct config_keyloc config_here(const struct config_parser *p);

/* Opens a [tenant.NAME] section (checks the name, appends a tenant with its defaults). */
int config_tenant_begin(struct config_parser *p, const char *name, const struct config_keyloc *at);
/* Applies `name = value` to the current section: looks the key up, refuses a repeat (lists
 * add up instead, in a file), parses. Reports its own errors. */
int config_handle_key(struct config_parser *p, const char *name, const char *value);

/* config_load_string over text[0..len), which need not be NUL-terminated; a NUL byte inside
 * is an error naming its line. */
int config_load_buffer(const char *name, const char *text, size_t len, FILE *err,
		       struct broker_config **ret);

/*
 * How a message names key `key` of a section of `kind`: the key itself when p reads a file;
 * in env mode the environment variable that sets it ("SKYFLOW_VAULT_URL_IDENTIFIER (or
 * SKYFLOW_VAULT_URL)" for vault_url), or the key when no variable sets it. Borrowed (a string
 * literal or key). config_env.c.
 */
const char *config_key_name(const struct config_parser *p, enum config_section_kind kind,
			    const char *key);

/* ---------------------------------------------------------------- checks (config_checks.c) */

#define CONFIG_MAX_STRING 4096u /* longest string value */

/*
 * value (at most CONFIG_MAX_STRING bytes) is an http:// or https:// URL that libcurl's URL
 * parser takes as it is (no default scheme), with a host and without userinfo (a user name,
 * a password). Reports through p (config_url_for_message: no password is ever echoed);
 * returns 0, -EINVAL or -ENOMEM.
 */
int config_check_url(struct config_parser *p, const struct config_key *k, const char *value);
/* url for a message, into buf (size bytes): whatever precedes its last '@' after "://" shown
 * as "***" (a password, maybe malformed), sanitised. Returns buf. */
const char *config_url_for_message(const char *url, char *buf, size_t size);
/* path is absolute and names a regular file the daemon can read (through the system hooks);
 * *ret gets its stat. Reports through p; returns 0 or a negative errno. */
int config_check_readable_file(struct config_parser *p, const struct config_key *k,
			       const char *path, struct stat *ret);
/*
 * A credentials_file value: an absolute path, or a name under $CREDENTIALS_DIRECTORY,
 * resolved into path (size bytes). The file must be a readable regular file that passes
 * secretfile_check (util/secretfile.h) for the user we run as; *ret_in_dir: whether it lies
 * (symbolic links resolved) in $CREDENTIALS_DIRECTORY. Reports through p; 0 or a negative
 * errno.
 */
int config_check_credentials(struct config_parser *p, const struct config_key *k,
			     const char *value, char *path, size_t size, bool *ret_in_dir);

/* ---------------------------------------------------------------- keys (config_keys.c) */

/*
 * Parses value into field (and aux, the key's second field, or NULL) for key k; append: the
 * key was already set in this section and is a list, so value adds to it. Reports its own
 * errors through p; returns 0 or a negative errno.
 */
typedef int config_parse_fn(struct config_parser *p, const struct config_key *k, const char *value,
			    void *field, void *aux, bool append);

#define CONFIG_KEY_LIST (1u << 0) /* repeating the key (in a file) adds entries */

/* One row of a key table. */
struct config_key {
	const char *name;
	config_parse_fn *parse;
	unsigned flags;    /* CONFIG_KEY_* */
	size_t offset;     /* of the field in struct broker_config / struct tenant_config */
	size_t aux_offset; /* of a second field the parser sets, 0 if none (offset 0 is n_ref or
			    * name, never an aux): the count of an id list, a "was set" flag,
			    * credentials_in_credentials_dir */
	uint64_t min, max; /* bounds of a number (0, 0: none) */
};

struct config_key_table {
	const struct config_key *keys;
	size_t n;
};

/* config_listen.c: a numeric HOST:PORT (util/inetaddr.h) into a char * field. */
config_parse_fn config_parse_listen;

extern const struct config_key_table config_broker_keys;
extern const struct config_key_table config_tenant_keys;

/* Index of the key `name` in t, or -ENOENT. */
int config_key_index(const struct config_key_table *t, const char *name);

void config_broker_defaults(struct broker_config *c);
void config_tenant_defaults(struct tenant_config *t);

/* Checks what no single key can (required keys, sockets, URLs against insecure_http) and
 * fills the derived defaults. Reports problems through p; returns a negative errno only when
 * it cannot go on (-ENOMEM). */
int config_validate(struct config_parser *p);
