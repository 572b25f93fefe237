/* SPDX-License-Identifier: MIT */
/*
 * The skybroker CLI against a real skybrokerd and the emulator: every subcommand and its
 * --help, JSON on stdout, errors on stderr with a hint, the exit codes of skybroker(1), and
 * a token on the command line refused before anything is sent.
 */
#include "client/skybroker.h"
#include "exchange_daemon.h"
#include "runcli.h"

#define AUDIENCE "https://mcp.example.com/mcp"

static struct xe_emu E;
static struct sbt_daemon D;
static char token_file[PATH_MAX], *token;

#define RUN(r, ...) cli_run(r, (const char *const[]){__VA_ARGS__, NULL}, NULL, NULL)

static int group_setup(void **state)
{
	char *cfg = xe_config(NULL), conf[16384], extra[256];
	size_t len;

	(void)state;
	signal(SIGPIPE, SIG_IGN);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	if (xe_emu_start(&E, cfg) < 0)
		return -1;
	free(cfg);
	sbt_daemon_init(&D);
	len = xd_broker(conf, sizeof(conf), &D, NULL);
	snprintf(extra, sizeof(extra), "audience = %s\n", AUDIENCE);
	xd_tenant(conf, sizeof(conf), len, &E, "acme", "sts", NULL, extra);
	if (sbt_daemon_start(&D, conf, NULL) < 0)
		return -1;
	token = xd_mint(&E, "U2clitest", "Viewer", 600, "{\"aud\":[\"" AUDIENCE "\"]}");
	snprintf(token_file, sizeof(token_file), "%s/token", D.dir);
	sbt_write_file(token_file, token, 0600);
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	sbt_daemon_stop(&D);
	xe_emu_stop(&E);
	free(token);
	return 0;
}

/* Nothing the CLI printed holds the token. */
static void no_token_in(const struct cli_run *r)
{
	assert_null(strstr(r->out, token));
	assert_null(strstr(r->err, token));
	assert_null(strstr(r->out, "eyJ"));
}

static void test_help_of_every_subcommand(void **state)
{
	static const char *names[] = {"health", "ping", "stats", "exchange", "get-records",
				      "get-record", "insert", "update", "delete", "detokenize",
				      "tokenize", "query", "metrics"};
	struct cli_run r;
	char want[64];

	(void)state;
	RUN(&r, "--help");
	assert_int_equal(r.status, 0);
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		assert_non_null(strstr(r.out, names[i]));
	assert_non_null(strstr(r.out, "5 broker unreachable"));
	for (size_t i = 0; i < 12; i++) {
		RUN(&r, names[i], "--help");
		assert_int_equal(r.status, 0);
		snprintf(want, sizeof(want), "Usage: skybroker %s", names[i]);
		assert_true(strncmp(r.out, want, strlen(want)) == 0);
		assert_non_null(strstr(r.out, "--socket PATH"));
		assert_non_null(strstr(r.out, "--timeout"));
		assert_int_equal(strstr(r.out, "--token-file") != NULL, i >= 3);
	}
	RUN(&r, "--version");
	assert_int_equal(r.status, 0);
	assert_string_equal(r.out, "skybroker 0.1.0 (libskybroker 0.1.0)\n");
	RUN(&r, "help", "query");
	assert_int_equal(r.status, 0);
	assert_non_null(strstr(r.out, "--query-file FILE"));
}

static void test_token_on_argv_refused(void **state)
{
	size_t before = sbt_log_count(&D, "op=");
	char opt[8192];
	struct cli_run r;

	(void)state;
	RUN(&r, "exchange", "--socket", D.socket, token);
	assert_int_equal(r.status, 2);
	assert_non_null(strstr(r.err, "/proc/PID/cmdline"));
	assert_non_null(strstr(r.err, "--token-file"));
	no_token_in(&r);
	RUN(&r, "exchange", "--socket", D.socket, "--token", "whatever");
	assert_int_equal(r.status, 2);
	assert_non_null(strstr(r.err, "--token option"));
	snprintf(opt, sizeof(opt), "--table=%s", token);
	RUN(&r, "get-records", "--socket", D.socket, opt);
	assert_int_equal(r.status, 2);
	RUN(&r, "get-records", "--socket", D.socket, "--table", "aaaaaaaaaaaaaaa.bbbbbbbbbbbbbbbbbbbbbbbb.ccccccccccc");
	assert_int_equal(r.status, 2);
	/* nothing reached the broker */
	assert_int_equal(sbt_log_count(&D, "op="), before);
}

static void test_usage_errors(void **state)
{
	struct cli_run r;

	(void)state;
	RUN(&r, "--socket", D.socket);
	assert_int_equal(r.status, 2);
	assert_non_null(strstr(r.err, "which command"));
	RUN(&r, "frobnicate");
	assert_int_equal(r.status, 2);
	assert_non_null(strstr(r.err, "unknown command"));
	RUN(&r, "ping", "--table", "x");
	assert_int_equal(r.status, 2);
	assert_non_null(strstr(r.err, "ping does not take --table"));
	RUN(&r, "ping", "--timeout", "soon");
	assert_int_equal(r.status, 2);
	assert_non_null(strstr(r.err, "--timeout wants a duration"));
	RUN(&r, "get-records", "--limit", "26");
	assert_int_equal(r.status, 2);
	RUN(&r, "ping", "extra");
	assert_int_equal(r.status, 2);
	RUN(&r, "ping", "--no-such-option");
	assert_int_equal(r.status, 2);
	/* a token is needed and none was given */
	cli_run(&r, (const char *const[]){"exchange", "--socket", D.socket, NULL},
		(const char *const[]){"SKYBROKER_SUBJECT_TOKEN=", NULL}, NULL);
	assert_int_equal(r.status, 2);
	assert_non_null(strstr(r.err, "--token-file"));
	/* inputs over their bounds, or garbage: refused with the reason, nothing sent */
	{
		char path[PATH_MAX], *big = malloc(2u << 20);
		size_t before = sbt_log_count(&D, "op=insert_records");

		memset(big, 'A', (2u << 20) - 1);
		big[(2u << 20) - 1] = '\0';
		snprintf(path, sizeof(path), "%s/big", D.dir);
		sbt_write_file(path, big, 0600);
		RUN(&r, "ping", "--socket", D.socket);
		assert_int_equal(r.status, 0);
		RUN(&r, "exchange", "--socket", D.socket, "--token-file", path);
		assert_int_equal(r.status, 2);
		assert_non_null(strstr(r.err, "longer than 65536 bytes"));
		RUN(&r, "insert", "--socket", D.socket, "--token-file", token_file, "--table",
		    "persons", "--records-file", path);
		assert_int_equal(r.status, 2);
		assert_non_null(strstr(r.err, "longer than 1048576 bytes"));
		sbt_write_file(path, "[{\"name\": \"Ada\"", 0600);
		RUN(&r, "insert", "--socket", D.socket, "--token-file", token_file, "--table",
		    "persons", "--records-file", path);
		assert_int_equal(r.status, 2);
		assert_non_null(strstr(r.err, "records is not usable JSON"));
		assert_null(strstr(r.err, "Ada"));
		sbt_write_file(path, "\xff\xfe\x00garbage", 0600);
		RUN(&r, "update", "--socket", D.socket, "--token-file", token_file, "--table",
		    "persons", "--id", "x", "--fields-file", path);
		assert_int_equal(r.status, 2);
		RUN(&r, "exchange", "--socket", D.socket, "--token-file", D.dir);
		assert_int_equal(r.status, 2);
		assert_non_null(strstr(r.err, "is a directory"));
		assert_int_equal(sbt_log_count(&D, "op=insert_records"), before);
		free(big);
	}
	/* stdin cannot carry the token and the records */
	RUN(&r, "insert", "--socket", D.socket, "--token-file", "-", "--table", "persons",
	    "--records-file", "-");
	assert_int_equal(r.status, 2);
}

static void test_health_ping_stats(void **state)
{
	struct cli_run r;
	char env[PATH_MAX + 32];

	(void)state;
	RUN(&r, "health", "--socket", D.socket);
	assert_int_equal(r.status, 0);
	/* then the optional detail (jwks_age_s, ...), whose values move */
	assert_true(strncmp(r.out, "{\"ready\":true,\"tenant\":\"acme\",\"reasons\":[]", 42) == 0);
	assert_non_null(strstr(r.out, "\"jwks_age_s\":"));
	assert_string_equal(r.err, "");
	RUN(&r, "--pretty", "health", "--socket", D.socket);
	assert_int_equal(r.status, 0);
	assert_non_null(strstr(r.out, "{\n  \"ready\": true,\n"));
	RUN(&r, "ping", "--socket", D.socket, "--timeout", "2s");
	assert_int_equal(r.status, 0);
	assert_string_equal(r.out, "{}\n");
	snprintf(env, sizeof(env), "SKYBROKER_SOCKET=%s", D.socket);
	cli_run(&r, (const char *const[]){"ping", NULL}, (const char *const[]){env, NULL}, NULL);
	assert_int_equal(r.status, 0);
	RUN(&r, "stats", "--socket", D.admin);
	assert_int_equal(r.status, 0);
	assert_non_null(strstr(r.out, "\"uptime_s\":"));
	snprintf(env, sizeof(env), "SKYBROKER_ADMIN_SOCKET=%s", D.admin);
	cli_run(&r, (const char *const[]){"stats", NULL}, (const char *const[]){env, NULL}, NULL);
	assert_int_equal(r.status, 0);
	/* stats on a tenant socket: forbidden, exit 3 */
	RUN(&r, "stats", "--socket", D.socket);
	assert_int_equal(r.status, 3);
	assert_non_null(strstr(r.err, "forbidden"));
	/* metrics: the exposition as text (not JSON), from $SKYBROKER_ADMIN_SOCKET */
	cli_run(&r, (const char *const[]){"metrics", NULL}, (const char *const[]){env, NULL}, NULL);
	assert_int_equal(r.status, 0);
	assert_true(strncmp(r.out, "# HELP skybroker_", 17) == 0);
	assert_non_null(strstr(r.out, "\nskybroker_build_info{"));
	RUN(&r, "metrics", "--socket", D.socket);
	assert_int_equal(r.status, 3);
}

static void test_exchange_token_sources(void **state)
{
	char env[70000];
	struct cli_run r;

	(void)state;
	RUN(&r, "exchange", "--socket", D.socket, "--token-file", token_file);
	assert_int_equal(r.status, 0);
	assert_non_null(strstr(r.out, "\"token_type\":\"Bearer\""));
	no_token_in(&r);
	assert_string_equal(r.err, "");
	/* a token file others can read: used, with a warning */
	chmod(token_file, 0644);
	RUN(&r, "exchange", "--socket", D.socket, "--token-file", token_file);
	chmod(token_file, 0600);
	assert_int_equal(r.status, 0);
	assert_non_null(strstr(r.err, "can be read by other users"));
	snprintf(env, sizeof(env), "SKYBROKER_SUBJECT_TOKEN=%s", token);
	cli_run(&r, (const char *const[]){"exchange", "--socket", D.socket, NULL},
		(const char *const[]){env, NULL}, NULL);
	assert_int_equal(r.status, 0);
	snprintf(env, sizeof(env), "%s\n", token);
	cli_run(&r, (const char *const[]){"exchange", "--socket", D.socket, "--token-file", "-",
					  NULL}, NULL, env);
	assert_int_equal(r.status, 0);
	/* a token the broker refuses: exit 3, the code and a hint */
	cli_run(&r, (const char *const[]){"exchange", "--socket", D.socket, "--token-file", "-",
					  NULL}, NULL, "abc.def.ghi");
	assert_int_equal(r.status, 3);
	assert_non_null(strstr(r.err, "exchange: unauthenticated: "));
	assert_non_null(strstr(r.err, "hint: "));
	assert_string_equal(r.out, "");
}

static void test_broker_down_and_timeout(void **state)
{
	struct sbt_daemon slow;
	char path[PATH_MAX], slow_conf[8192];
	struct cli_run r;

	(void)state;
	snprintf(path, sizeof(path), "%s/nobody.sock", D.dir);
	RUN(&r, "health", "--socket", path);
	assert_int_equal(r.status, 5);
	assert_non_null(strstr(r.err, "is skybrokerd running"));
	assert_string_equal(r.out, "");
	sbt_start_one(&slow, slow_conf, sizeof(slow_conf), "test_ping_delay = 5s\n");
	RUN(&r, "ping", "--socket", slow.socket, "--timeout", "300ms");
	assert_int_equal(r.status, 5);
	assert_non_null(strstr(r.err, "ping: timeout: "));
	assert_int_equal(sbt_daemon_stop(&slow), 0);
}

static void test_health_not_ready(void **state)
{
	struct sbt_daemon d;
	char conf[8192];
	const char *names[] = {"acme"}, *extra[] = {"allow_uids = 0\n"};
	const char *argv[] = {sbt_daemon_path(), "--config", NULL, "--allow-root", NULL};
	struct cli_run r;

	(void)state;
	sbt_daemon_init(&d);
	argv[2] = d.conf;
	sbt_config(&d, conf, sizeof(conf), "test_ready_delay = 300s\n", 1, names, extra);
	sbt_write_file(d.conf, conf, 0644);
	assert_int_equal(sbt_daemon_spawn(&d, argv, NULL), 0);
	assert_int_equal(sbt_wait_socket(d.socket, SBT_TIMEOUT_MS), 0);
	RUN(&r, "health", "--socket", d.socket);
	assert_int_equal(r.status, 6);
	assert_non_null(strstr(r.out, "\"ready\":false"));
	assert_non_null(strstr(r.out, "TEST-ONLY test_ready_delay"));
	assert_non_null(strstr(r.err, "not ready"));
	assert_int_equal(sbt_daemon_stop(&d), 0);
}

/* Each record subcommand reaches the broker and comes back with the broker's answer (the
 * vault operations' own tests check the records). */
static void test_record_subcommands(void **state)
{
	char records[PATH_MAX], fields[PATH_MAX], values[PATH_MAX], query[PATH_MAX];
	const char *s = D.socket, *tf = token_file;
	struct cli_run r[8];
	size_t before = sbt_log_count(&D, "op=") - sbt_log_count(&D, "op=hello");

	(void)state;
	snprintf(records, sizeof(records), "%s/records.json", D.dir);
	sbt_write_file(records, "[{\"name\":\"Grace\"}]\n", 0600);
	snprintf(fields, sizeof(fields), "%s/fields.json", D.dir);
	sbt_write_file(fields, "{\"name\":\"Grace H\"}", 0600);
	snprintf(values, sizeof(values), "%s/values.txt", D.dir);
	sbt_write_file(values, "Ada\nGrace\n", 0600);
	snprintf(query, sizeof(query), "%s/query.sql", D.dir);
	sbt_write_file(query, "SELECT * FROM persons LIMIT 1", 0600);
	RUN(&r[0], "get-records", "--socket", s, "--token-file", tf, "--table", "persons",
	    "--limit", "5", "--redaction", "REDACTED", "--field", "name");
	RUN(&r[1], "get-record", "--socket", s, "--token-file", tf, "--table", "persons", "--id",
	    "f8d2");
	RUN(&r[2], "insert", "--socket", s, "--token-file", tf, "--table", "persons",
	    "--records-file", records);
	RUN(&r[3], "update", "--socket", s, "--token-file", tf, "--table", "persons", "--id",
	    "f8d2", "--fields-file", fields);
	RUN(&r[4], "delete", "--socket", s, "--token-file", tf, "--table", "persons", "--id", "f8d2");
	RUN(&r[5], "detokenize", "--socket", s, "--token-file", tf, "--data-token", "tok-1");
	RUN(&r[6], "tokenize", "--socket", s, "--token-file", tf, "--column-group", "names",
	    "--values-file", values);
	RUN(&r[7], "query", "--socket", s, "--token-file", tf, "--query-file", query);
	for (int i = 0; i < 8; i++) {
		print_message("  record subcommand %d -> exit %d %s", i, r[i].status,
			      r[i].status ? r[i].err : r[i].out);
		assert_true(r[i].status == 0 || r[i].status == 2 || r[i].status == 3 ||
			    r[i].status == 4);
		no_token_in(&r[i]);
	}
	assert_int_equal(sbt_log_count(&D, "op=") - sbt_log_count(&D, "op=hello"), before + 8);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_help_of_every_subcommand),
		cmocka_unit_test(test_token_on_argv_refused),
		cmocka_unit_test(test_usage_errors),
		cmocka_unit_test(test_health_ping_stats),
		cmocka_unit_test(test_exchange_token_sources),
		cmocka_unit_test(test_broker_down_and_timeout),
		cmocka_unit_test(test_health_not_ready),
		cmocka_unit_test(test_record_subcommands),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
