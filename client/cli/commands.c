/* SPDX-License-Identifier: MIT */
/* commands: each subcommand as one libskybroker call, and what its failures mean to a user. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

#define JSON_FILE_MAX (1024u * 1024u) /* the library's own cap on JSON records */
#define VALUES_FILE_MAX (8u * 1024u * 1024u)
#define QUERY_FILE_MAX 8192u

/* Runs a subcommand (declared in options.c's table). */
int cmd_health(struct cli *, skybroker *, skybroker_result **, struct skybroker_error *);
int cmd_ping(struct cli *, skybroker *, skybroker_result **, struct skybroker_error *);
int cmd_stats(struct cli *, skybroker *, skybroker_result **, struct skybroker_error *);
int cmd_metrics(struct cli *, skybroker *, skybroker_result **, struct skybroker_error *);
int cmd_exchange(struct cli *, skybroker *, skybroker_result **, struct skybroker_error *);
int cmd_get_records(struct cli *, skybroker *, skybroker_result **, struct skybroker_error *);
int cmd_get_record(struct cli *, skybroker *, skybroker_result **, struct skybroker_error *);
int cmd_insert(struct cli *, skybroker *, skybroker_result **, struct skybroker_error *);
int cmd_update(struct cli *, skybroker *, skybroker_result **, struct skybroker_error *);
int cmd_delete(struct cli *, skybroker *, skybroker_result **, struct skybroker_error *);
int cmd_detokenize(struct cli *, skybroker *, skybroker_result **, struct skybroker_error *);
int cmd_tokenize(struct cli *, skybroker *, skybroker_result **, struct skybroker_error *);
int cmd_query(struct cli *, skybroker *, skybroker_result **, struct skybroker_error *);

int cli_exit_code(int code)
{
	switch (code) {
	case SKYBROKER_OK:
		return EXIT_OK;
	case SKYBROKER_E_INVALID_ARGUMENT:
	case SKYBROKER_E_BAD_REQUEST:
	case SKYBROKER_E_TOO_LARGE:
		return EXIT_USAGE;
	case SKYBROKER_E_UNAUTHENTICATED:
	case SKYBROKER_E_TOKEN_EXPIRED:
	case SKYBROKER_E_FORBIDDEN:
	case SKYBROKER_E_UPSTREAM_DENIED:
		return EXIT_DENIED;
	case SKYBROKER_E_UPSTREAM_UNAVAILABLE:
	case SKYBROKER_E_NOT_FOUND:
	case SKYBROKER_E_RATE_LIMITED:
		return EXIT_UPSTREAM;
	case SKYBROKER_E_UNREACHABLE:
	case SKYBROKER_E_DISCONNECTED:
	case SKYBROKER_E_TIMEOUT:
	case SKYBROKER_E_SHUTTING_DOWN:
		return EXIT_UNREACHABLE;
	default:
		return EXIT_OTHER;
	}
}

const char *cli_hint(int code)
{
	switch (code) {
	case SKYBROKER_E_UNAUTHENTICATED:
		return "the user's Descope session token was refused: sign in again and pass the "
		       "new session token (not a refresh token)";
	case SKYBROKER_E_TOKEN_EXPIRED:
		return "the user's token has expired or is not valid yet: get a fresh one";
	case SKYBROKER_E_FORBIDDEN:
		return "this tenant does not allow the operation or the request (see the tenant's "
		       "allow_operations and allow_tables in skybroker.conf(5))";
	case SKYBROKER_E_UPSTREAM_DENIED:
		return "Skyflow refused the request for this user: check the user's roles and the "
		       "vault's policies";
	case SKYBROKER_E_NOT_FOUND:
		return "Skyflow has no such record, table or token";
	case SKYBROKER_E_UPSTREAM_UNAVAILABLE:
	case SKYBROKER_E_RATE_LIMITED:
		return "try again later; the broker's log names the upstream request";
	case SKYBROKER_E_UNREACHABLE:
		return "start skybrokerd, or point --socket / $SKYBROKER_SOCKET at its socket";
	case SKYBROKER_E_TIMEOUT:
		return "the broker did not answer in time: raise --timeout or check skybrokerd";
	case SKYBROKER_E_DISCONNECTED:
	case SKYBROKER_E_SHUTTING_DOWN:
		return "the broker went away: check that skybrokerd is running and try again";
	case SKYBROKER_E_BAD_REQUEST:
	case SKYBROKER_E_TOO_LARGE:
	case SKYBROKER_E_INVALID_ARGUMENT:
		return "fix the arguments (skybroker COMMAND --help)";
	case SKYBROKER_E_PROTOCOL:
	case SKYBROKER_E_UNSUPPORTED_VERSION:
		return "the broker and this client do not agree: are their versions compatible?";
	default:
		return NULL;
	}
}

/* A local usage failure, in the library's shape so main reports it the same way. */
static int usage(struct skybroker_error *e, const char *what)
{
	memset(e, 0, sizeof(*e));
	e->code = SKYBROKER_E_INVALID_ARGUMENT;
	snprintf(e->code_name, sizeof(e->code_name), "usage");
	snprintf(e->message, sizeof(e->message), "%s", what);
	return e->code;
}

int cmd_health(struct cli *c, skybroker *h, skybroker_result **res, struct skybroker_error *e)
{
	return skybroker_health(h, c->timeout_ms, res, e);
}

int cmd_ping(struct cli *c, skybroker *h, skybroker_result **res, struct skybroker_error *e)
{
	return skybroker_ping(h, c->timeout_ms, e);
}

int cmd_metrics(struct cli *c, skybroker *h, skybroker_result **res, struct skybroker_error *e)
{
	return skybroker_metrics(h, c->timeout_ms, res, e);
}

int cmd_stats(struct cli *c, skybroker *h, skybroker_result **res, struct skybroker_error *e)
{
	return skybroker_stats(h, c->timeout_ms, res, e);
}

int cmd_exchange(struct cli *c, skybroker *h, skybroker_result **res, struct skybroker_error *e)
{
	return skybroker_exchange(h, c->token, c->timeout_ms, res, e);
}

int cmd_get_records(struct cli *c, skybroker *h, skybroker_result **res,
		    struct skybroker_error *e)
{
	struct skybroker_get_records_args a = {
		.table = c->table,
		.skyflow_ids = c->ids.v, .n_skyflow_ids = c->ids.n,
		.redaction = c->redaction,
		.fields = c->fields.v, .n_fields = c->fields.n,
		.has_offset = c->has_offset, .offset = c->offset, .limit = c->limit,
		.column_name = c->column_name,
		.column_values = c->column_values.v, .n_column_values = c->column_values.n,
		.order_by = c->order_by,
		.tokenization = c->tokenization, .download_url = c->download_url,
	};

	return skybroker_get_records(h, c->token, &a, c->timeout_ms, res, e);
}

int cmd_get_record(struct cli *c, skybroker *h, skybroker_result **res,
		   struct skybroker_error *e)
{
	struct skybroker_get_record_args a = {
		.table = c->table, .skyflow_id = c->ids.n ? c->ids.v[0] : NULL,
		.redaction = c->redaction, .fields = c->fields.v, .n_fields = c->fields.n,
		.tokenization = c->tokenization, .download_url = c->download_url,
	};

	if (c->ids.n > 1)
		return usage(e, "get-record takes one --id (get-records takes several)");
	return skybroker_get_record(h, c->token, &a, c->timeout_ms, res, e);
}

/* Reads a file argument that must be given, refusing stdin twice. 0 or a code. */
static int file_arg(struct cli *c, const char *path, const char *option, size_t max,
		    char **text, struct skybroker_error *e)
{
	char msg[128];

	if (!path) {
		snprintf(msg, sizeof(msg), "%s needs %s FILE", c->cmd->name, option);
		return usage(e, msg);
	}
	if (strcmp(path, "-") == 0 && c->token_file && strcmp(c->token_file, "-") == 0)
		return usage(e, "stdin cannot carry both the token and the values: use a file for "
				"one of them");
	if (cli_read_file(path, max, option + 2, text) != 0)
		return usage(e, "the file could not be read (see above)");
	return 0;
}

int cmd_insert(struct cli *c, skybroker *h, skybroker_result **res, struct skybroker_error *e)
{
	struct skybroker_insert_args a = {.table = c->table, .tokenization = c->tokenization,
					  .upsert = c->upsert};
	char *text = NULL;
	int r = file_arg(c, c->records_file, "--records-file", JSON_FILE_MAX, &text, e);

	if (r != 0)
		return r;
	a.records_json = text;
	r = skybroker_insert_records(h, c->token, &a, c->timeout_ms, res, e);
	cli_wipe_free(text);
	return r;
}

int cmd_update(struct cli *c, skybroker *h, skybroker_result **res, struct skybroker_error *e)
{
	struct skybroker_update_args a = {.table = c->table,
					  .skyflow_id = c->ids.n ? c->ids.v[0] : NULL,
					  .tokenization = c->tokenization};
	char *text = NULL;
	int r;

	if (c->ids.n > 1)
		return usage(e, "update takes one --id");
	r = file_arg(c, c->fields_file, "--fields-file", JSON_FILE_MAX, &text, e);
	if (r != 0)
		return r;
	a.fields_json = text;
	r = skybroker_update_record(h, c->token, &a, c->timeout_ms, res, e);
	cli_wipe_free(text);
	return r;
}

int cmd_delete(struct cli *c, skybroker *h, skybroker_result **res, struct skybroker_error *e)
{
	struct skybroker_delete_args a = {.table = c->table, .skyflow_ids = c->ids.v,
					  .n_skyflow_ids = c->ids.n};

	return skybroker_delete_records(h, c->token, &a, c->timeout_ms, res, e);
}

int cmd_detokenize(struct cli *c, skybroker *h, skybroker_result **res,
		   struct skybroker_error *e)
{
	struct skybroker_detokenize_args a = {.tokens = c->tokens.v, .n_tokens = c->tokens.n,
					      .redaction = c->redaction,
					      .continue_on_error = c->continue_on_error};

	return skybroker_detokenize(h, c->token, &a, c->timeout_ms, res, e);
}

/* Splits text into lines in place (a final newline ends the last line, "\r\n" counts as one).
 * Returns the count; *lines (caller frees, not the strings) points into text. */
static size_t split_lines(char *text, const char ***lines)
{
	size_t n = 0, cap = 1;

	for (const char *p = text; *p; p++)
		cap += *p == '\n';
	*lines = calloc(cap, sizeof(char *));
	if (!*lines)
		return 0;
	for (char *p = text; *p;) {
		char *nl = strchr(p, '\n');

		if (nl)
			*nl = '\0';
		if (*p && p[strlen(p) - 1] == '\r')
			p[strlen(p) - 1] = '\0';
		(*lines)[n++] = p;
		if (!nl)
			break;
		p = nl + 1;
	}
	return n;
}

int cmd_tokenize(struct cli *c, skybroker *h, skybroker_result **res, struct skybroker_error *e)
{
	struct skybroker_tokenize_args a = {.column_group = c->column_group};
	const char **lines = NULL;
	char *text = NULL;
	size_t len;
	int r = file_arg(c, c->values_file, "--values-file", VALUES_FILE_MAX, &text, e);

	if (r != 0)
		return r;
	len = strlen(text);
	a.n_values = split_lines(text, &lines);
	a.values = lines;
	r = lines ? skybroker_tokenize(h, c->token, &a, c->timeout_ms, res, e)
		  : usage(e, "out of memory");
	free(lines);
	explicit_bzero(text, len); /* all of it: split_lines cut it with NULs */
	free(text);
	return r;
}

int cmd_query(struct cli *c, skybroker *h, skybroker_result **res, struct skybroker_error *e)
{
	char *text = NULL;
	int r;

	if (!!c->query == !!c->query_file)
		return usage(e, "query needs exactly one of --query SQL and --query-file FILE");
	if (c->query)
		return skybroker_query(h, c->token, c->query, c->timeout_ms, res, e);
	r = file_arg(c, c->query_file, "--query-file", QUERY_FILE_MAX, &text, e);
	if (r != 0)
		return r;
	r = skybroker_query(h, c->token, text, c->timeout_ms, res, e);
	cli_wipe_free(text);
	return r;
}
