/* SPDX-License-Identifier: MIT */
/* skybroker: the command line client of skybrokerd (skybroker(1)). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

/* The error on stderr: the command, the code, the broker's sentence, upstream's status and
 * request id, and what to do. */
static void report(const struct cli *c, const struct skybroker_error *e)
{
	const char *hint = cli_hint(e->code);

	fprintf(stderr, "skybroker: %s: %s: %s", c->cmd->name, e->code_name,
		e->message[0] ? e->message : "(no message)");
	if (e->upstream_status)
		fprintf(stderr, " (upstream status %u)", e->upstream_status);
	if (e->request_id[0])
		fprintf(stderr, " (upstream request id %s)", e->request_id);
	fputc('\n', stderr);
	if (hint)
		fprintf(stderr, "skybroker: hint: %s\n", hint);
}

/* One JSON document on stdout, wiped afterwards. */
static int print_result(const struct cli *c, const skybroker_result *res)
{
	char *json = NULL;
	size_t len = 0;
	int r;

	if (!res) {
		fputs("{}\n", stdout);
		return 0;
	}
	r = skybroker_result_json(res, c->pretty ? SKYBROKER_JSON_PRETTY : 0, &json, &len);
	if (r != 0) {
		fprintf(stderr, "skybroker: %s: cannot render the result as JSON (%s)\n",
			c->cmd->name, skybroker_code_name(r));
		return EXIT_OTHER;
	}
	fwrite(json, 1, len, stdout);
	fputc('\n', stdout);
	skybroker_json_free(json);
	return fflush(stdout) == 0 ? EXIT_OK : EXIT_OTHER;
}

/* Whether the subcommand runs on the admin socket. */
static bool is_admin_cmd(const struct cli *c)
{
	return strcmp(c->cmd->name, "stats") == 0 || strcmp(c->cmd->name, "metrics") == 0;
}

/* metrics: the exposition as it is, for promtool and people (not JSON). */
static int print_text(const skybroker_result *res)
{
	size_t len = 0;
	const char *text = skybroker_value_string(
		skybroker_value_get(skybroker_result_root(res), "text"), &len);

	if (!text)
		return EXIT_OTHER;
	fwrite(text, 1, len, stdout);
	return fflush(stdout) == 0 ? EXIT_OK : EXIT_OTHER;
}

/* The socket: --socket, else the admin socket's variable for stats and metrics; the library
 * falls back to $SKYBROKER_SOCKET and the default for the others. */
static const char *socket_of(const struct cli *c)
{
	const char *admin;

	if (c->socket || !is_admin_cmd(c))
		return c->socket;
	admin = getenv("SKYBROKER_ADMIN_SOCKET");
	return admin && *admin ? admin : CLI_DEFAULT_ADMIN_SOCKET;
}

/* Connects, runs the subcommand, prints. Returns the exit code. */
static int run(struct cli *c)
{
	struct skybroker_error e;
	skybroker_result *res = NULL;
	skybroker *h = NULL;
	int r;

	if (c->cmd->needs_token && (r = cli_read_token(c)) != 0)
		return r;
	r = skybroker_connect(socket_of(c), "skybroker-cli/" SKYBROKER_VERSION, c->timeout_ms,
			      &h, &e);
	if (r == 0)
		r = c->cmd->run(c, h, &res, &e);
	skybroker_free(h);
	if (r != 0) {
		report(c, &e);
		return cli_exit_code(r);
	}
	r = strcmp(c->cmd->name, "metrics") == 0 ? print_text(res) : print_result(c, res);
	if (r == EXIT_OK && strcmp(c->cmd->name, "health") == 0 &&
	    !skybroker_value_bool(skybroker_value_get(skybroker_result_root(res), "ready"))) {
		fprintf(stderr, "skybroker: health: the tenant is not ready (the reasons are in "
				"the output)\n");
		r = EXIT_NOT_READY;
	}
	skybroker_result_free(res);
	return r;
}

int main(int argc, char **argv)
{
	struct cli c = {0};
	int r = cli_refuse_token_args(argc, argv);

	if (r == 0)
		r = cli_parse(&c, argc, argv);
	if (r == 0 && c.version)
		printf("skybroker %s (libskybroker %s)\n", SKYBROKER_VERSION, skybroker_version());
	else if (r == 0 && c.help)
		cli_help(c.cmd);
	else if (r == 0)
		r = run(&c);
	cli_wipe_free(c.token);
	free(c.ids.v);
	free(c.fields.v);
	free(c.column_values.v);
	free(c.tokens.v);
	return r;
}
