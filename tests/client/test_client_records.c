/* SPDX-License-Identifier: MIT */
/*
 * The record operations through libskybroker and through the skybroker CLI, end to end: the
 * emulator over TLS with demo.json's roles, a real skybrokerd. What a Viewer reads (redacted)
 * and an Admin writes (insert with tokens, get, update, detokenize, tokenize, query, delete),
 * and how refusals come back (Skyflow's 403 with its status, the tenant's table allow-list,
 * a deleted record not found), with the exit codes of skybroker(1).
 */
#include "client/skybroker.h"
#include "runcli.h"
#include "vault_test.h"

static struct xe_emu E;
static struct sbt_daemon D;
static char *viewer, *admin, viewer_file[PATH_MAX], admin_file[PATH_MAX];
static skybroker *H;

static const char *const ADA = "bf9a1506-5b6a-4016-ac62-7c534db47460";

static int group_setup(void **state)
{
	char *cfg = vt_demo_config(NULL), conf[16384];
	struct skybroker_error e;
	size_t len;

	(void)state;
	signal(SIGPIPE, SIG_IGN);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	if (xe_emu_start(&E, cfg) < 0)
		return -1;
	free(cfg);
	sbt_daemon_init(&D);
	len = xd_broker(conf, sizeof(conf), &D, NULL);
	xd_tenant(conf, sizeof(conf), len, &E, "acme", "sts", NULL, "allow_tables = persons\n");
	if (sbt_daemon_start(&D, conf, NULL) < 0)
		return -1;
	viewer = xd_mint(&E, "U2viewer", "Viewer", 600, NULL);
	admin = xd_mint(&E, "U2admin", "Admin", 600, NULL);
	snprintf(viewer_file, sizeof(viewer_file), "%s/viewer.token", D.dir);
	snprintf(admin_file, sizeof(admin_file), "%s/admin.token", D.dir);
	sbt_write_file(viewer_file, viewer, 0600);
	sbt_write_file(admin_file, admin, 0600);
	return skybroker_connect(D.socket, "client-records-test/1", 20000, &H, &e);
}

static int group_teardown(void **state)
{
	(void)state;
	skybroker_free(H);
	vt_stop_clean(&D); /* no token, key or record value in the daemon's log */
	xe_emu_stop(&E);
	free(viewer);
	free(admin);
	return 0;
}

/* A field of the i-th record of a result ("records": [{"fields": {...}}]). */
static const char *field(const skybroker_result *res, size_t i, const char *col)
{
	const skybroker_value *rec = skybroker_value_at(
		skybroker_value_get(skybroker_result_root(res), "records"), i);

	return skybroker_value_string(skybroker_value_get(skybroker_value_get(rec, "fields"), col),
				      NULL);
}

static void ok(int r, const struct skybroker_error *e, const char *what)
{
	if (r != 0)
		fail_msg("%s: %s: %s", what, e->code_name, e->message);
}

static void test_viewer_reads_redacted(void **state)
{
	const char *ids[] = {ADA};
	struct skybroker_get_records_args a = {.table = "persons", .skyflow_ids = ids,
					       .n_skyflow_ids = 1, .redaction = "PLAIN_TEXT"};
	struct skybroker_error e;
	skybroker_result *res;
	char *json;

	(void)state;
	ok(skybroker_get_records(H, viewer, &a, 20000, &res, &e), &e, "get_records");
	assert_string_equal(field(res, 0, "name"), "Ada Lovelace");
	assert_string_equal(field(res, 0, "ssn"), "*REDACTED*");
	assert_string_equal(field(res, 0, "date_of_birth"), "XXXX-01-01");
	assert_string_equal(field(res, 0, "skyflow_id"), ADA);
	assert_int_equal(skybroker_result_json(res, 0, &json, NULL), 0);
	assert_non_null(strstr(json, "\"ssn\":\"*REDACTED*\""));
	skybroker_json_free(json);
	skybroker_result_free(res);
}

/* insert, get, update, detokenize, tokenize, query, delete as Admin through the library. */
static void test_admin_write_cycle(void **state)
{
	struct skybroker_insert_args ins = {
		.table = "persons", .tokenization = SKYBROKER_TRUE,
		.records_json = "[{\"name\":\"Zed Zebra\",\"ssn\":\"555-55-5555\",\"state\":\"NV\"}]"};
	struct skybroker_error e;
	skybroker_result *res;
	const skybroker_value *rec;
	char id[128], ssn_token[256];

	(void)state;
	ok(skybroker_insert_records(H, admin, &ins, 20000, &res, &e), &e, "insert");
	rec = skybroker_value_at(skybroker_value_get(skybroker_result_root(res), "records"), 0);
	snprintf(id, sizeof(id), "%s",
		 skybroker_value_string(skybroker_value_get(rec, "skyflow_id"), NULL));
	snprintf(ssn_token, sizeof(ssn_token), "%s", skybroker_value_string(
		 skybroker_value_get(skybroker_value_get(rec, "tokens"), "ssn"), NULL));
	assert_true(strlen(id) > 0 && strlen(ssn_token) > 0);
	skybroker_result_free(res);
	{
		struct skybroker_get_record_args g = {.table = "persons", .skyflow_id = id,
						      .redaction = "PLAIN_TEXT"};
		struct skybroker_update_args up = {.table = "persons", .skyflow_id = id,
						   .fields_json = "{\"name\":\"Zed Zulu\"}"};

		ok(skybroker_update_record(H, admin, &up, 20000, &res, &e), &e, "update");
		assert_string_equal(skybroker_value_string(skybroker_value_get(
			skybroker_result_root(res), "skyflow_id"), NULL), id);
		skybroker_result_free(res);
		ok(skybroker_get_record(H, admin, &g, 20000, &res, &e), &e, "get_record");
		rec = skybroker_value_get(skybroker_value_get(skybroker_result_root(res), "record"),
					  "fields");
		assert_string_equal(skybroker_value_string(skybroker_value_get(rec, "name"), NULL),
				    "Zed Zulu");
		assert_string_equal(skybroker_value_string(skybroker_value_get(rec, "ssn"), NULL),
				    "555-55-5555");
		skybroker_result_free(res);
	}
	{
		const char *toks[] = {ssn_token};
		const char *values[] = {"555-55-5555"};
		struct skybroker_detokenize_args d = {.tokens = toks, .n_tokens = 1,
						      .redaction = "PLAIN_TEXT"};
		struct skybroker_tokenize_args t = {.column_group = "ssn", .values = values,
						    .n_values = 1};
		const skybroker_value *r0;

		ok(skybroker_detokenize(H, admin, &d, 20000, &res, &e), &e, "detokenize");
		r0 = skybroker_value_at(skybroker_value_get(skybroker_result_root(res), "records"), 0);
		assert_string_equal(skybroker_value_string(skybroker_value_get(r0, "value"), NULL),
				    "555-55-5555");
		skybroker_result_free(res);
		ok(skybroker_tokenize(H, admin, &t, 20000, &res, &e), &e, "tokenize");
		r0 = skybroker_value_at(skybroker_value_get(skybroker_result_root(res), "records"), 0);
		assert_non_null(skybroker_value_string(skybroker_value_get(r0, "token"), NULL));
		skybroker_result_free(res);
	}
	ok(skybroker_query(H, admin, "SELECT name, state FROM persons WHERE state = 'NV'", 20000,
			   &res, &e), &e, "query");
	/* a query reads with DEFAULT redaction: the name column's default is REDACTED */
	assert_int_equal(skybroker_value_count(skybroker_value_get(skybroker_result_root(res),
								   "records")), 1);
	assert_string_equal(field(res, 0, "name"), "*REDACTED*");
	assert_string_equal(field(res, 0, "state"), "NV");
	skybroker_result_free(res);
	{
		const char *ids[] = {id};
		struct skybroker_delete_args del = {.table = "persons", .skyflow_ids = ids,
						    .n_skyflow_ids = 1};
		struct skybroker_get_record_args g = {.table = "persons", .skyflow_id = id};

		ok(skybroker_delete_records(H, admin, &del, 20000, &res, &e), &e, "delete");
		assert_string_equal(skybroker_value_string(skybroker_value_at(skybroker_value_get(
			skybroker_result_root(res), "skyflow_ids"), 0), NULL), id);
		skybroker_result_free(res);
		assert_int_equal(skybroker_get_record(H, admin, &g, 20000, &res, &e),
				 SKYBROKER_E_NOT_FOUND);
		assert_null(res);
	}
}

static void test_refusals_carry_their_detail(void **state)
{
	struct skybroker_insert_args ins = {.table = "persons",
					    .records_json = "[{\"name\":\"Nope\"}]"};
	struct skybroker_get_records_args other = {.table = "cards", .limit = 1};
	struct skybroker_error e;
	skybroker_result *res;

	(void)state;
	/* a Viewer may not write: Skyflow's 403 */
	assert_int_equal(skybroker_insert_records(H, viewer, &ins, 20000, &res, &e),
			 SKYBROKER_E_UPSTREAM_DENIED);
	print_message("  viewer insert -> %s: %s (upstream status %u, request id '%s')\n",
		      e.code_name, e.message, e.upstream_status, e.request_id);
	assert_int_equal(e.upstream_status, 403);
	assert_false(e.retryable);
	/* a table outside the tenant's allow_tables: refused by the broker itself */
	assert_int_equal(skybroker_get_records(H, admin, &other, 20000, &res, &e),
			 SKYBROKER_E_FORBIDDEN);
	assert_int_equal(e.upstream_status, 0);
}

#define CLI(r, stdin_text, ...)                                                                  \
	cli_run(r, (const char *const[]){__VA_ARGS__, NULL}, NULL, stdin_text)

/* The same cycle through the CLI: JSON on stdout, read back with jansson. */
static void test_cli_cycle(void **state)
{
	struct cli_run r;
	json_t *j;
	char id[128], path[PATH_MAX];

	(void)state;
	CLI(&r, NULL, "get-records", "--socket", D.socket, "--token-file", viewer_file, "--table",
	    "persons", "--id", ADA, "--redaction", "PLAIN_TEXT");
	assert_int_equal(r.status, 0);
	assert_non_null(strstr(r.out, "\"ssn\":\"*REDACTED*\""));
	/* records from stdin, the token from a file */
	CLI(&r, "[{\"name\":\"Cli Person\",\"state\":\"WY\"}]", "insert", "--socket", D.socket,
	    "--token-file", admin_file, "--table", "persons", "--records-file", "-");
	assert_int_equal(r.status, 0);
	j = json_loads(r.out, 0, NULL);
	assert_non_null(j);
	snprintf(id, sizeof(id), "%s", json_string_value(json_object_get(
		 json_array_get(json_object_get(j, "records"), 0), "skyflow_id")));
	json_decref(j);
	snprintf(path, sizeof(path), "%s/fields.json", D.dir);
	sbt_write_file(path, "{\"state\":\"WA\"}", 0600);
	CLI(&r, NULL, "update", "--socket", D.socket, "--token-file", admin_file, "--table",
	    "persons", "--id", id, "--fields-file", path);
	assert_int_equal(r.status, 0);
	CLI(&r, NULL, "get-record", "--pretty", "--socket", D.socket, "--token-file", admin_file,
	    "--table", "persons", "--id", id, "--redaction", "PLAIN_TEXT");
	assert_int_equal(r.status, 0);
	assert_non_null(strstr(r.out, "\"state\": \"WA\""));
	CLI(&r, "SELECT name, state FROM persons WHERE state = 'WA'", "query", "--socket",
	    D.socket, "--token-file", admin_file, "--query-file", "-");
	assert_int_equal(r.status, 0);
	assert_non_null(strstr(r.out, "\"state\":\"WA\""));
	CLI(&r, NULL, "delete", "--socket", D.socket, "--token-file", admin_file, "--table",
	    "persons", "--id", id);
	assert_int_equal(r.status, 0);
	/* not found: exit 4 */
	CLI(&r, NULL, "get-record", "--socket", D.socket, "--token-file", admin_file, "--table",
	    "persons", "--id", id);
	assert_int_equal(r.status, 4);
	assert_non_null(strstr(r.err, "get-record: not_found: "));
	/* denied by Skyflow: exit 3, with the upstream status */
	CLI(&r, "[{\"name\":\"Nope\"}]", "insert", "--socket", D.socket, "--token-file",
	    viewer_file, "--table", "persons", "--records-file", "-");
	assert_int_equal(r.status, 3);
	assert_non_null(strstr(r.err, "upstream_denied"));
	assert_non_null(strstr(r.err, "(upstream status 403)"));
	/* tokenize values from a file, one per line */
	snprintf(path, sizeof(path), "%s/values.txt", D.dir);
	sbt_write_file(path, "555-55-5555\n100-10-1000\n", 0600);
	CLI(&r, NULL, "tokenize", "--socket", D.socket, "--token-file", admin_file,
	    "--column-group", "ssn", "--values-file", path);
	assert_int_equal(r.status, 0);
	j = json_loads(r.out, 0, NULL);
	assert_int_equal(json_array_size(json_object_get(j, "records")), 2);
	json_decref(j);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_viewer_reads_redacted),
		cmocka_unit_test(test_admin_write_cycle),
		cmocka_unit_test(test_refusals_carry_their_detail),
		cmocka_unit_test(test_cli_cycle),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
