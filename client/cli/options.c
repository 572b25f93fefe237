/* SPDX-License-Identifier: MIT */
/* options: the subcommands, their options in one table, parsing and --help. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

/* Command bits, for the options table. */
enum {
	C_HEALTH = 1u << 0, C_PING = 1u << 1, C_STATS = 1u << 2, C_EXCHANGE = 1u << 3,
	C_GETS = 1u << 4, C_GET = 1u << 5, C_INSERT = 1u << 6, C_UPDATE = 1u << 7,
	C_DELETE = 1u << 8, C_DETOK = 1u << 9, C_TOK = 1u << 10, C_QUERY = 1u << 11,
	C_METRICS = 1u << 12,
	C_ALL = 0x1fffu,
	C_TOKEN = C_EXCHANGE | C_GETS | C_GET | C_INSERT | C_UPDATE | C_DELETE | C_DETOK | C_TOK |
		  C_QUERY,
};

enum opt_id {
	O_SOCKET = 256, O_TIMEOUT, O_PRETTY, O_HELP, O_TOKEN_FILE, O_TABLE, O_ID, O_FIELD,
	O_REDACTION, O_OFFSET, O_LIMIT, O_COLUMN_NAME, O_COLUMN_VALUE, O_ORDER_BY,
	O_TOKENIZATION, O_DOWNLOAD_URL, O_RECORDS_FILE, O_FIELDS_FILE, O_UPSERT, O_DATA_TOKEN,
	O_CONTINUE, O_COLUMN_GROUP, O_VALUES_FILE, O_QUERY, O_QUERY_FILE, O_VERSION,
};

struct opt {
	const char *name;
	const char *arg; /* the argument's name in --help, NULL for a flag */
	int id;
	unsigned commands;
	const char *help;
};

/* Every option, the subcommands that take it, and its help line. */
static const struct opt opts[] = {
	{"socket", "PATH", O_SOCKET, C_ALL, "the broker's socket path (default $SKYBROKER_SOCKET, "
	 "else " SKYBROKER_DEFAULT_SOCKET "; stats, metrics: $SKYBROKER_ADMIN_SOCKET, else "
	 CLI_DEFAULT_ADMIN_SOCKET ")"},
	{"timeout", "DURATION", O_TIMEOUT, C_ALL, "give up after DURATION (ms, or with s or ms; "
	 "default 10s)"},
	{"pretty", NULL, O_PRETTY, C_ALL, "indent the JSON"},
	{"help", NULL, O_HELP, C_ALL, "show this help"},
	{"version", NULL, O_VERSION, C_ALL, "print the versions of the CLI and the library"},
	{"token-file", "FILE", O_TOKEN_FILE, C_TOKEN, "read the user's Descope session token from "
	 "FILE (- for stdin); default $SKYBROKER_SUBJECT_TOKEN"},
	{"table", "TABLE", O_TABLE, C_GETS | C_GET | C_INSERT | C_UPDATE | C_DELETE, "the table"},
	{"id", "SKYFLOW_ID", O_ID, C_GETS | C_GET | C_UPDATE | C_DELETE,
	 "a record's skyflow_id (repeat for several)"},
	{"field", "COLUMN", O_FIELD, C_GETS | C_GET, "return this column (repeat for several)"},
	{"redaction", "LEVEL", O_REDACTION, C_GETS | C_GET | C_DETOK,
	 "DEFAULT, REDACTED, MASKED or PLAIN_TEXT"},
	{"offset", "N", O_OFFSET, C_GETS, "skip N records"},
	{"limit", "N", O_LIMIT, C_GETS, "at most N records (at most 25)"},
	{"column-name", "COLUMN", O_COLUMN_NAME, C_GETS, "look records up by this unique column"},
	{"column-value", "VALUE", O_COLUMN_VALUE, C_GETS,
	 "a value of --column-name (repeat for several)"},
	{"order-by", "ORDER", O_ORDER_BY, C_GETS, "ASCENDING, DESCENDING or NONE"},
	{"tokenization", NULL, O_TOKENIZATION, C_GETS | C_GET | C_INSERT | C_UPDATE,
	 "return tokens instead of values"},
	{"download-url", NULL, O_DOWNLOAD_URL, C_GETS | C_GET, "return URLs of file columns"},
	{"records-file", "FILE", O_RECORDS_FILE, C_INSERT,
	 "a JSON array of records, objects of column -> value (- for stdin)"},
	{"fields-file", "FILE", O_FIELDS_FILE, C_UPDATE,
	 "a JSON object of column -> value to set (- for stdin)"},
	{"upsert", "COLUMN", O_UPSERT, C_INSERT, "update the record with the same value of this "
	 "unique column instead of failing"},
	{"data-token", "TOKEN", O_DATA_TOKEN, C_DETOK, "a vault token to detokenize (repeat)"},
	{"continue-on-error", NULL, O_CONTINUE, C_DETOK,
	 "answer an error per token instead of failing the call"},
	{"column-group", "GROUP", O_COLUMN_GROUP, C_TOK, "the column group of the values"},
	{"values-file", "FILE", O_VALUES_FILE, C_TOK, "the values to tokenize, one per line "
	 "(- for stdin)"},
	{"query", "SQL", O_QUERY, C_QUERY, "a Skyflow SQL SELECT (visible to every user on the "
	 "command line: prefer --query-file when it names values)"},
	{"query-file", "FILE", O_QUERY_FILE, C_QUERY, "read the query from FILE (- for stdin)"},
};
#define N_OPTS (sizeof(opts) / sizeof(opts[0]))

/* Runs a subcommand (commands.c). */
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

static const struct command commands[] = {
	{"health", C_HEALTH, false, "", "whether the tenant can serve (exit 6 when not ready)",
	 cmd_health},
	{"ping", C_PING, false, "", "a round trip to the broker", cmd_ping},
	{"stats", C_STATS, false, "", "the broker's counters (admin socket)", cmd_stats},
	{"metrics", C_METRICS, false, "",
	 "the Prometheus text exposition, as metrics_listen serves it (admin socket)", cmd_metrics},
	{"exchange", C_EXCHANGE, true, "", "exchange the user's token at Skyflow (cached)",
	 cmd_exchange},
	{"get-records", C_GETS, true, "--table TABLE [--id ID]...", "read records of a table",
	 cmd_get_records},
	{"get-record", C_GET, true, "--table TABLE --id ID", "read one record by id",
	 cmd_get_record},
	{"insert", C_INSERT, true, "--table TABLE --records-file FILE", "insert records",
	 cmd_insert},
	{"update", C_UPDATE, true, "--table TABLE --id ID --fields-file FILE", "update a record",
	 cmd_update},
	{"delete", C_DELETE, true, "--table TABLE --id ID...", "delete records", cmd_delete},
	{"detokenize", C_DETOK, true, "--data-token TOKEN...", "values of vault tokens",
	 cmd_detokenize},
	{"tokenize", C_TOK, true, "--column-group GROUP --values-file FILE", "tokens of values",
	 cmd_tokenize},
	{"query", C_QUERY, true, "--query SQL | --query-file FILE", "run a SQL SELECT",
	 cmd_query},
};
#define N_COMMANDS (sizeof(commands) / sizeof(commands[0]))

const struct command *const cli_commands[] = {
	&commands[0], &commands[1], &commands[2], &commands[3], &commands[4], &commands[5],
	&commands[6], &commands[7], &commands[8], &commands[9], &commands[10], &commands[11],
	NULL,
};

const struct command *cli_command(const char *name)
{
	for (size_t i = 0; i < N_COMMANDS; i++)
		if (strcmp(commands[i].name, name) == 0)
			return &commands[i];
	return NULL;
}

/* Prints text from column `indent` on, folded at spaces before column `width`. */
static void print_wrapped(const char *text, size_t indent, size_t width)
{
	size_t col = indent;

	while (*text) {
		size_t word = strcspn(text, " ");

		if (col > indent && col + 1 + word > width) {
			printf("\n%*s", (int)indent + 1, "");
			col = indent;
		} else if (col > indent) {
			putchar(' ');
			col++;
		} else {
			putchar(' ');
		}
		printf("%.*s", (int)word, text);
		col += word;
		text += word;
		text += strspn(text, " ");
	}
	putchar('\n');
}

void cli_help(const struct command *cmd)
{
	if (!cmd) {
		printf("Usage: skybroker COMMAND [OPTIONS]\n\n"
		       "Talks to skybrokerd over its Unix socket; prints one JSON document.\n\n"
		       "Commands:\n");
		for (size_t i = 0; i < N_COMMANDS; i++)
			printf("  %-12s %s\n", commands[i].name, commands[i].summary);
		printf("\nskybroker COMMAND --help shows a command's options. The user's token is "
		       "never taken from the\ncommand line: --token-file FILE, --token-file - or "
		       "$SKYBROKER_SUBJECT_TOKEN.\nExit status: 0 ok, 1 other, 2 usage, 3 denied "
		       "or unauthenticated, 4 upstream,\n5 broker unreachable, 6 not ready. See "
		       "skybroker(1).\n");
		return;
	}
	printf("Usage: skybroker %s %s%s[OPTIONS]\n\n%c%s.\n\nOptions:\n", cmd->name,
	       cmd->usage, *cmd->usage ? " " : "", cmd->summary[0] - 'a' + 'A', cmd->summary + 1);
	for (size_t i = 0; i < N_OPTS; i++) {
		char left[64];

		if (!(opts[i].commands & cmd->id))
			continue;
		snprintf(left, sizeof(left), "--%s%s%s", opts[i].name, opts[i].arg ? " " : "",
			 opts[i].arg ? opts[i].arg : "");
		printf("  %-24s", left);
		print_wrapped(opts[i].help, 26, 80);
	}
}

/* A number of at most max, with nothing after it. 0 or -1. */
static int parse_u64(const char *s, uint64_t max, uint64_t *out)
{
	char *end;

	if (!*s || *s == '-')
		return -1;
	errno = 0;
	*out = strtoull(s, &end, 10);
	return errno || *end || *out > max ? -1 : 0;
}

/* "250", "250ms" or "5s" into milliseconds (1 ms to 1 day). 0 or -1. */
static int parse_duration(const char *s, int *ms)
{
	char num[32];
	size_t n = strspn(s, "0123456789");
	uint64_t v, mul = 1;

	if (n == 0 || n >= sizeof(num))
		return -1;
	if (strcmp(s + n, "s") == 0)
		mul = 1000;
	else if (*(s + n) && strcmp(s + n, "ms") != 0)
		return -1;
	memcpy(num, s, n);
	num[n] = '\0';
	if (parse_u64(num, 86400000, &v) < 0 || v * mul > 86400000 || v == 0)
		return -1;
	*ms = (int)(v * mul);
	return 0;
}

/* "skybroker: --OPTION wants WANT, not 'VALUE'" and where to look. EXIT_USAGE. */
static int usage_error(const struct cli *c, const char *option, const char *want,
		       const char *value)
{
	fprintf(stderr, "skybroker: --%s wants %s, not '%.64s'", option, want, value);
	fprintf(stderr, "\nskybroker: hint: see skybroker %s%s--help\n",
		c->cmd ? c->cmd->name : "", c->cmd ? " " : "");
	return EXIT_USAGE;
}

static void push(struct strlist *l, const char *v)
{
	l->v[l->n++] = v;
}

/* Stores one option's value in c. 0 or EXIT_USAGE. */
static int take_option(struct cli *c, int id, const char *arg)
{
	switch (id) {
	case O_SOCKET: c->socket = arg; break;
	case O_TIMEOUT:
		if (parse_duration(arg, &c->timeout_ms) < 0)
			return usage_error(c, "timeout", "a duration such as 500ms or 5s", arg);
		break;
	case O_PRETTY: c->pretty = true; break;
	case O_HELP: c->help = true; break;
	case O_VERSION: c->version = true; break;
	case O_TOKEN_FILE: c->token_file = arg; break;
	case O_TABLE: c->table = arg; break;
	case O_ID: push(&c->ids, arg); break;
	case O_FIELD: push(&c->fields, arg); break;
	case O_REDACTION: c->redaction = arg; break;
	case O_OFFSET:
		if (parse_u64(arg, UINT64_MAX, &c->offset) < 0)
			return usage_error(c, "offset", "a number", arg);
		c->has_offset = true;
		break;
	case O_LIMIT:
		if (parse_u64(arg, 25, &c->limit) < 0 || c->limit == 0)
			return usage_error(c, "limit", "a number from 1 to 25", arg);
		break;
	case O_COLUMN_NAME: c->column_name = arg; break;
	case O_COLUMN_VALUE: push(&c->column_values, arg); break;
	case O_ORDER_BY: c->order_by = arg; break;
	case O_TOKENIZATION: c->tokenization = SKYBROKER_TRUE; break;
	case O_DOWNLOAD_URL: c->download_url = SKYBROKER_TRUE; break;
	case O_RECORDS_FILE: c->records_file = arg; break;
	case O_FIELDS_FILE: c->fields_file = arg; break;
	case O_UPSERT: c->upsert = arg; break;
	case O_DATA_TOKEN: push(&c->tokens, arg); break;
	case O_CONTINUE: c->continue_on_error = SKYBROKER_TRUE; break;
	case O_COLUMN_GROUP: c->column_group = arg; break;
	case O_VALUES_FILE: c->values_file = arg; break;
	case O_QUERY: c->query = arg; break;
	case O_QUERY_FILE: c->query_file = arg; break;
	}
	return 0;
}

static int alloc_lists(struct cli *c, int argc)
{
	struct strlist *lists[] = {&c->ids, &c->fields, &c->column_values, &c->tokens};

	for (size_t i = 0; i < 4; i++) {
		lists[i]->v = calloc((size_t)argc + 1, sizeof(char *));
		if (!lists[i]->v)
			return EXIT_OTHER;
	}
	return 0;
}

/* The subcommand (argv[optind] after getopt moved the options before it). */
static int take_command(struct cli *c, int argc, char **argv)
{
	if (optind >= argc) {
		if (c->help || c->version)
			return 0;
		fprintf(stderr, "skybroker: which command? (skybroker --help lists them)\n");
		return EXIT_USAGE;
	}
	if (strcmp(argv[optind], "help") == 0) {
		c->help = true;
		optind++;
		if (optind >= argc)
			return 0;
	}
	c->cmd = cli_command(argv[optind]);
	if (!c->cmd) {
		fprintf(stderr, "skybroker: unknown command '%.64s' (skybroker --help lists them)\n",
			argv[optind]);
		return EXIT_USAGE;
	}
	return 0;
}

/* Parses options from optind until the first argument that is not one (the "+" mode of
 * getopt); marks each one seen in *given. 0 or EXIT_USAGE. */
static int parse_options(struct cli *c, int argc, char **argv, const struct option *lo,
			 uint64_t *given)
{
	int ch, r;

	while ((ch = getopt_long(argc, argv, "+h", lo, NULL)) != -1) {
		if (ch == '?' || ch == ':') {
			fprintf(stderr, "skybroker: unknown option or missing value: %.64s "
					"(skybroker %s%s--help)\n", argv[optind - 1],
				c->cmd ? c->cmd->name : "", c->cmd ? " " : "");
			return EXIT_USAGE;
		}
		if (ch == 'h')
			ch = O_HELP;
		for (size_t i = 0; i < N_OPTS; i++)
			if (opts[i].id == ch)
				*given |= 1ull << i;
		r = take_option(c, ch, optarg);
		if (r != 0)
			return r;
	}
	return 0;
}

int cli_parse(struct cli *c, int argc, char **argv)
{
	struct option lo[N_OPTS + 1];
	uint64_t given = 0;
	int r;

	memset(lo, 0, sizeof(lo));
	for (size_t i = 0; i < N_OPTS; i++)
		lo[i] = (struct option){opts[i].name, opts[i].arg ? required_argument : no_argument,
					NULL, opts[i].id};
	c->timeout_ms = CLI_DEFAULT_TIMEOUT_MS;
	r = alloc_lists(c, argc);
	if (r != 0)
		return r;
	opterr = 0;
	r = parse_options(c, argc, argv, lo, &given); /* options before the command */
	if (r == 0)
		r = take_command(c, argc, argv);
	if (r != 0 || !c->cmd)
		return r;
	optind++;
	r = parse_options(c, argc, argv, lo, &given); /* and after it */
	if (r != 0)
		return r;
	if (optind < argc) {
		fprintf(stderr, "skybroker: %s takes no argument '%.64s' (values go in options; "
				"skybroker %s --help)\n", c->cmd->name, argv[optind], c->cmd->name);
		return EXIT_USAGE;
	}
	for (size_t i = 0; i < N_OPTS; i++)
		if ((given & (1ull << i)) && !(opts[i].commands & c->cmd->id)) {
			fprintf(stderr, "skybroker: %s does not take --%s (skybroker %s --help)\n",
				c->cmd->name, opts[i].name, c->cmd->name);
			return EXIT_USAGE;
		}
	return 0;
}
