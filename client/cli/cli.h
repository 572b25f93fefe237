/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * The skybroker CLI (skybroker(1)): one subcommand per operation, JSON on stdout, errors on
 * stderr with what to do, documented exit codes. options.c parses the command line,
 * secret.c reads tokens and value files without ever taking them from argv, commands.c runs
 * one subcommand through libskybroker, main.c ties them together.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "client/skybroker.h"

/* Exit codes (skybroker(1), EXIT STATUS). */
enum {
	EXIT_OK = 0,
	EXIT_OTHER = 1,
	EXIT_USAGE = 2,
	EXIT_DENIED = 3,
	EXIT_UPSTREAM = 4,
	EXIT_UNREACHABLE = 5,
	EXIT_NOT_READY = 6,
};

#define CLI_DEFAULT_TIMEOUT_MS 10000
#define CLI_DEFAULT_ADMIN_SOCKET "/run/skybroker/admin.sock"

struct cli;
struct command {
	const char *name;
	unsigned id;       /* bit of the command in option masks */
	bool needs_token;  /* reads the subject token */
	const char *usage; /* the arguments after the name */
	const char *summary;
	int (*run)(struct cli *c, skybroker *h, skybroker_result **res, struct skybroker_error *e);
};

/* A repeated option's values, borrowed from argv. */
struct strlist {
	const char **v;
	size_t n;
};

struct cli {
	const struct command *cmd;
	const char *socket;
	int timeout_ms;
	bool pretty, help, version;
	const char *token_file;
	char *token; /* read by secret.c; wiped and freed at exit */
	const char *table, *redaction, *order_by, *column_name, *column_group, *upsert;
	const char *query, *query_file, *records_file, *fields_file, *values_file;
	struct strlist ids, fields, column_values, tokens;
	bool has_offset;
	uint64_t offset, limit;
	enum skybroker_tristate tokenization, download_url, continue_on_error;
};

/* ---- options.c ---- */

/* The subcommands, NULL-terminated; one by name, or NULL. */
extern const struct command *const cli_commands[];
const struct command *cli_command(const char *name);
/* Parses argv into c. 0, or EXIT_USAGE after printing why on stderr. */
int cli_parse(struct cli *c, int argc, char **argv);
/* The general help, or the subcommand's, on stdout. */
void cli_help(const struct command *cmd);

/* ---- secret.c ---- */

/* Whether s looks like a JWT or another bearer token (three base64url segments). */
bool cli_looks_like_token(const char *s);
/* Refuses (EXIT_USAGE, reason on stderr) any argv element that looks like a token. */
int cli_refuse_token_args(int argc, char **argv);
/* c->token from --token-file FILE (- for stdin), else $SKYBROKER_SUBJECT_TOKEN. 0 or an
 * exit code with the reason on stderr. */
int cli_read_token(struct cli *c);
/* Reads a whole file (- for stdin) of at most max bytes into *ret (NUL-terminated, caller
 * wipes with cli_wipe_free). 0 or an exit code with the reason on stderr. */
int cli_read_file(const char *path, size_t max, const char *what, char **ret);
/* Wipes a NUL-terminated buffer and frees it. NULL is fine. */
void cli_wipe_free(char *s);

/* ---- commands.c ---- */

/* The exit code for a library code. */
int cli_exit_code(int code);
/* What to do about an error, one sentence, or NULL. */
const char *cli_hint(int code);
