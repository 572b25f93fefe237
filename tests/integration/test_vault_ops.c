/* SPDX-License-Identifier: MIT */
/*
 * The vault operations against the emulator over TLS, on demo.json's policies: what each role
 * sees (Viewer: ssn "*REDACTED*", date of birth "XXXX-MM-DD"; Admin: plain; no role: denied;
 * Support: only rows of CA), every operation end to end (insert with tokens, get, update,
 * detokenize, tokenize, query, delete), the tenant's policy applied with no upstream call
 * (table allow-list, argument checks, redaction ceiling with redaction_capped), the audit line,
 * odd ids and table names intact, and no record value in the daemon's log.
 */
#include "vault_test.h"

#define ODD_ID "id/with?odd%#chars \xc3\xa9+x"
#define ODD_TABLE "we/ird?%# table"

static struct xe_emu E;
static struct sbt_daemon D;
static char capped_sock[PATH_MAX], open_sock[PATH_MAX];
static char *viewer, *admin, *support, *nobody;

/* demo.json plus a persons record whose id needs every kind of escaping. */
static void add_odd_record(json_t *root)
{
	json_t *tables = json_object_get(json_object_get(root, "vault"), "tables");
	json_t *recs = json_object_get(json_array_get(tables, 0), "records");

	json_array_append_new(recs, json_pack("{s:s, s:s, s:s, s:s}", "skyflow_id", ODD_ID,
					      "name", "Odd Record", "state", "OR", "ssn",
					      "999-99-9999"));
}

static int group_setup(void **state)
{
	char *cfg = vt_demo_config(add_odd_record), conf[16384];
	size_t len;

	(void)state;
	curl_global_init(CURL_GLOBAL_DEFAULT);
	if (xe_emu_start(&E, cfg) < 0)
		return -1;
	free(cfg);
	sbt_daemon_init(&D);
	snprintf(capped_sock, sizeof(capped_sock), "%s/capped.sock", D.dir);
	snprintf(open_sock, sizeof(open_sock), "%s/open.sock", D.dir);
	len = xd_broker(conf, sizeof(conf), &D, NULL);
	len = xd_tenant(conf, sizeof(conf), len, &E, "acme", "sts", NULL,
			"allow_tables = persons\n");
	len = xd_tenant(conf, sizeof(conf), len, &E, "capped", "sts", capped_sock,
			"allow_tables = persons\nmax_redaction = MASKED\n");
	len = xd_tenant(conf, sizeof(conf), len, &E, "open", "sts", open_sock, NULL);
	(void)len;
	if (sbt_daemon_start(&D, conf, NULL) < 0)
		return -1;
	viewer = xd_mint(&E, "U2viewer", "Viewer", 600, NULL);
	admin = xd_mint(&E, "U2admin", "Admin", 600, NULL);
	support = xd_mint(&E, "U2support", "Support", 600, NULL);
	nobody = xd_mint(&E, "U2nobody", NULL, 600, NULL);
	return 0;
}

static int group_teardown(void **state)
{
	char *values[256];
	size_t n = vt_demo_values(values, 256);

	(void)state;
	xd_stop_clean(&D); /* also: no token, no key in the log */
	/* No record value of the seed data ever reached the log (acceptance of issue 11). */
	for (size_t i = 0; i < n; i++) {
		if (xe_file_contains(D.log, values[i]))
			fprintf(stderr, "record value '%s' found in the daemon's log\n", values[i]);
		assert_false(xe_file_contains(D.log, values[i]));
		free(values[i]);
	}
	xe_emu_stop(&E);
	free(viewer);
	free(admin);
	free(support);
	free(nobody);
	return 0;
}

static const char *const ADA = "bf9a1506-5b6a-4016-ac62-7c534db47460";

/* get_records of Ada by id as token, with redaction (may be NULL), on path. */
static void get_ada(const char *path, const char *token, const char *redaction,
		    struct sb_reply *rep)
{
	struct sbt_client *c = xd_client(path);
	struct sb_request req = vt_get_records(token, "persons");

	req.u.get_records.skyflow_ids = VT_STRV(ADA);
	req.u.get_records.redaction = redaction;
	vt_call(c, &req, rep);
	sbt_client_free(c);
}

static void test_roles_see_their_redaction(void **state)
{
	struct sb_reply rep;
	const msgpack_object *rec;

	(void)state;
	/* Viewer (marketing): ssn REDACTED, date of birth MASKED, name plain */
	get_ada(D.socket, viewer, NULL, &rep);
	vt_expect_ok(&rep);
	rec = vt_record(rep.u.records.records, ADA);
	assert_non_null(rec);
	assert_true(vt_is_str(vt_field(rec, "ssn"), "*REDACTED*"));
	assert_true(vt_is_str(vt_field(rec, "date_of_birth"), "XXXX-01-01"));
	assert_true(vt_is_str(vt_field(rec, "name"), "*REDACTED*")); /* the column's default */
	assert_null(rep.u.records.redaction_capped);
	sb_reply_done(&rep);

	/* Viewer asking PLAIN_TEXT: Skyflow caps it at the role's level */
	get_ada(D.socket, viewer, "PLAIN_TEXT", &rep);
	vt_expect_ok(&rep);
	rec = vt_record(rep.u.records.records, ADA);
	assert_true(vt_is_str(vt_field(rec, "name"), "Ada Lovelace"));
	assert_true(vt_is_str(vt_field(rec, "ssn"), "*REDACTED*"));
	assert_true(vt_is_str(vt_field(rec, "date_of_birth"), "XXXX-01-01"));
	sb_reply_done(&rep);

	/* Admin, PLAIN_TEXT: everything plain */
	get_ada(D.socket, admin, "PLAIN_TEXT", &rep);
	vt_expect_ok(&rep);
	rec = vt_record(rep.u.records.records, ADA);
	assert_true(vt_is_str(vt_field(rec, "ssn"), "100-10-1000"));
	assert_true(vt_is_str(vt_field(rec, "date_of_birth"), "1950-01-01"));
	assert_true(vt_is_str(vt_field(rec, "email_address"), "ada.lovelace@example.com"));
	sb_reply_done(&rep);

	/* no role: Skyflow refuses, with its status and request id */
	get_ada(D.socket, nobody, NULL, &rep);
	vt_expect_error(&rep, SB_ERR_UPSTREAM_DENIED);
	assert_true(rep.error.upstream_status.set);
	assert_int_equal(rep.error.upstream_status.v, 403);
	assert_non_null(rep.error.request_id);
	assert_int_equal(strlen(rep.error.request_id), 36);
	assert_false(rep.error.retryable);
	sb_reply_done(&rep);
}

static void test_support_row_filter(void **state)
{
	struct sbt_client *c = xd_client(D.socket);
	struct sb_request req = vt_get_records(support, "persons");
	struct sb_reply rep;
	const msgpack_object *recs;

	(void)state;
	req.u.get_records.limit = (struct sb_opt_u64){true, 25};
	vt_call(c, &req, &rep);
	vt_expect_ok(&rep);
	recs = rep.u.records.records;
	assert_true(recs->via.array.size > 0);
	for (uint32_t i = 0; i < recs->via.array.size; i++) {
		const msgpack_object *rec = &recs->via.array.ptr[i];

		assert_true(vt_is_str(vt_field(rec, "state"), "CA"));
		assert_null(vt_field(rec, "ssn")); /* a column the role cannot read is left out */
	}
	sb_reply_done(&rep);
	sbt_client_free(c);
}

static void test_redaction_ceiling(void **state)
{
	struct sb_reply rep;
	const msgpack_object *rec;

	(void)state;
	/* the tenant caps at MASKED: an Admin asking PLAIN_TEXT gets masked values, and is told */
	get_ada(capped_sock, admin, "PLAIN_TEXT", &rep);
	vt_expect_ok(&rep);
	rec = vt_record(rep.u.records.records, ADA);
	assert_true(vt_is_str(vt_field(rec, "ssn"), "XXX-XX-1000"));
	assert_true(vt_is_str(vt_field(rec, "date_of_birth"), "XXXX-01-01"));
	assert_non_null(rep.u.records.redaction_capped);
	assert_string_equal(rep.u.records.redaction_capped, "MASKED");
	sb_reply_done(&rep);

	/* at or below the ceiling: untouched, no field */
	get_ada(capped_sock, admin, "MASKED", &rep);
	vt_expect_ok(&rep);
	assert_null(rep.u.records.redaction_capped);
	sb_reply_done(&rep);

	/* DEFAULT, or no redaction, is each column's own default, which may be plain text (state
	 * is): under the ceiling both become the ceiling (found by review: they went through) */
	get_ada(capped_sock, admin, NULL, &rep);
	vt_expect_ok(&rep);
	rec = vt_record(rep.u.records.records, ADA);
	assert_true(vt_is_str(vt_field(rec, "ssn"), "XXX-XX-1000"));
	assert_string_equal(rep.u.records.redaction_capped, "MASKED");
	sb_reply_done(&rep);
	get_ada(capped_sock, admin, "DEFAULT", &rep);
	vt_expect_ok(&rep);
	assert_string_equal(rep.u.records.redaction_capped, "MASKED");
	sb_reply_done(&rep);

	/* a query has no redaction to cap: refused under a ceiling, with no upstream call */
	{
		struct sbt_client *c = xd_client(capped_sock);
		struct sb_request req = {.op = SB_OP_QUERY};
		long before = xe_total(&E);

		req.u.query.subject_token = admin;
		req.u.query.query = "SELECT ssn FROM persons";
		vt_call(c, &req, &rep);
		vt_expect_error(&rep, SB_ERR_FORBIDDEN);
		sb_reply_done(&rep);
		assert_int_equal(xe_total(&E), before);
		sbt_client_free(c);
	}
}

/* Requests the tenant's policy refuses never go upstream. */
static void test_policy_refusals_cost_no_upstream_call(void **state)
{
	struct sbt_client *c = xd_client(D.socket);
	struct sb_request req;
	struct sb_reply rep;
	long before;

	(void)state;
	before = xe_total(&E);

	req = vt_get_records(admin, "cards"); /* not in allow_tables */
	vt_call(c, &req, &rep);
	vt_expect_error(&rep, SB_ERR_FORBIDDEN);
	assert_non_null(strstr(rep.error.message, "allow_tables"));
	sb_reply_done(&rep);

	req = vt_get_records(admin, "persons");
	req.u.get_records.limit = (struct sb_opt_u64){true, 26};
	vt_call(c, &req, &rep);
	vt_expect_error(&rep, SB_ERR_BAD_REQUEST); /* over the protocol's bound of 25 */
	assert_non_null(strstr(rep.error.message, "limit"));
	sb_reply_done(&rep);

	req = vt_get_records(admin, "persons");
	req.u.get_records.column_name = "ssn";
	req.u.get_records.column_values = VT_STRV("100-10-1000");
	req.u.get_records.skyflow_ids = VT_STRV(ADA);
	vt_call(c, &req, &rep);
	vt_expect_error(&rep, SB_ERR_BAD_REQUEST);
	assert_non_null(strstr(rep.error.message, "column_name"));
	sb_reply_done(&rep);

	req = (struct sb_request){.op = SB_OP_QUERY};
	req.u.query.subject_token = admin;
	req.u.query.query = "SELECT * FROM persons p JOIN cards c ON p.ssn = c.ssn";
	vt_call(c, &req, &rep);
	vt_expect_error(&rep, SB_ERR_FORBIDDEN);
	sb_reply_done(&rep);

	req.u.query.query = "SELECT * FROM persons -- hides: FROM cards";
	vt_call(c, &req, &rep);
	vt_expect_error(&rep, SB_ERR_FORBIDDEN);
	sb_reply_done(&rep);

	/* found by review: a comma after an ON condition starts another table */
	req.u.query.query = "SELECT * FROM persons p JOIN persons q ON p.name = q.name, cards";
	vt_call(c, &req, &rep);
	vt_expect_error(&rep, SB_ERR_FORBIDDEN);
	sb_reply_done(&rep);

	/* found by review: ".." as an id would have reached another endpoint */
	req = (struct sb_request){.op = SB_OP_GET_RECORD};
	req.u.get_record.subject_token = admin;
	req.u.get_record.table = "persons";
	req.u.get_record.skyflow_id = "..";
	vt_call(c, &req, &rep);
	vt_expect_error(&rep, SB_ERR_BAD_REQUEST);
	sb_reply_done(&rep);

	req = (struct sb_request){.op = SB_OP_DELETE_RECORDS};
	req.u.delete_records.subject_token = admin;
	req.u.delete_records.table = "persons";
	req.u.delete_records.skyflow_ids = VT_STRV("*");
	vt_call(c, &req, &rep);
	vt_expect_error(&rep, SB_ERR_BAD_REQUEST);
	sb_reply_done(&rep);

	/* nothing reached the emulator: not even an exchange */
	assert_int_equal(xe_total(&E), before);
	sbt_client_free(c);
}

/* Each of the eight operations end to end, as Admin on the tenant without allow_tables. */
static void test_every_operation(void **state)
{
	struct sbt_client *c = xd_client(open_sock);
	struct sb_request req;
	struct sb_reply rep;
	msgpack_object rec_fields[2], rec;
	msgpack_object_kv kvs[3];
	char *id, *ssn_token;

	(void)state;
	/* insert_records with tokens */
	kvs[0] = (msgpack_object_kv){
		.key = {.type = MSGPACK_OBJECT_STR, .via.str = {4, "name"}},
		.val = {.type = MSGPACK_OBJECT_STR, .via.str = {9, "Zed Zebra"}}};
	kvs[1] = (msgpack_object_kv){
		.key = {.type = MSGPACK_OBJECT_STR, .via.str = {3, "ssn"}},
		.val = {.type = MSGPACK_OBJECT_STR, .via.str = {11, "555-55-5555"}}};
	kvs[2] = (msgpack_object_kv){
		.key = {.type = MSGPACK_OBJECT_STR, .via.str = {5, "state"}},
		.val = {.type = MSGPACK_OBJECT_STR, .via.str = {2, "NV"}}};
	rec_fields[0] = (msgpack_object){.type = MSGPACK_OBJECT_MAP, .via.map = {3, kvs}};
	rec = (msgpack_object){.type = MSGPACK_OBJECT_ARRAY, .via.array = {1, rec_fields}};
	req = (struct sb_request){.op = SB_OP_INSERT_RECORDS};
	req.u.insert_records.subject_token = admin;
	req.u.insert_records.table = "persons";
	req.u.insert_records.records = &rec;
	req.u.insert_records.tokenization = (struct sb_opt_bool){true, true};
	vt_call(c, &req, &rep);
	vt_expect_ok(&rep);
	assert_int_equal(rep.u.records.records->via.array.size, 1);
	id = vt_strdup(vt_get(&rep.u.records.records->via.array.ptr[0], "skyflow_id"));
	ssn_token = vt_strdup(vt_get(vt_get(&rep.u.records.records->via.array.ptr[0], "tokens"),
				     "ssn"));
	sb_reply_done(&rep);

	/* get_record */
	req = (struct sb_request){.op = SB_OP_GET_RECORD};
	req.u.get_record.subject_token = admin;
	req.u.get_record.table = "persons";
	req.u.get_record.skyflow_id = id;
	req.u.get_record.redaction = "PLAIN_TEXT";
	vt_call(c, &req, &rep);
	vt_expect_ok(&rep);
	assert_true(vt_is_str(vt_get(vt_get(rep.u.get_record.record, "fields"), "ssn"),
			      "555-55-5555"));
	sb_reply_done(&rep);

	/* update_record */
	kvs[0].val.via.str = (msgpack_object_str){8, "Zed Zulu"};
	rec_fields[1] = (msgpack_object){.type = MSGPACK_OBJECT_MAP, .via.map = {1, kvs}};
	req = (struct sb_request){.op = SB_OP_UPDATE_RECORD};
	req.u.update_record.subject_token = admin;
	req.u.update_record.table = "persons";
	req.u.update_record.skyflow_id = id;
	req.u.update_record.fields = &rec_fields[1];
	vt_call(c, &req, &rep);
	vt_expect_ok(&rep);
	assert_string_equal(rep.u.update_record.skyflow_id, id);
	sb_reply_done(&rep);

	/* detokenize the ssn token: value and value_type (renamed from valueType) */
	req = (struct sb_request){.op = SB_OP_DETOKENIZE};
	req.u.detokenize.subject_token = admin;
	req.u.detokenize.tokens = VT_STRV(ssn_token, "no-such-token");
	req.u.detokenize.redaction = "PLAIN_TEXT";
	req.u.detokenize.continue_on_error = (struct sb_opt_bool){true, true};
	vt_call(c, &req, &rep);
	vt_expect_ok(&rep);
	assert_int_equal(rep.u.records.records->via.array.size, 2);
	assert_true(vt_is_str(vt_get(&rep.u.records.records->via.array.ptr[0], "value"),
			      "555-55-5555"));
	assert_true(vt_is_str(vt_get(&rep.u.records.records->via.array.ptr[0], "value_type"),
			      "STRING"));
	assert_non_null(vt_get(&rep.u.records.records->via.array.ptr[1], "error"));
	sb_reply_done(&rep);

	/* tokenize: one token per value, in order; the same value gives the same token
	 * (a deterministic column group) */
	req = (struct sb_request){.op = SB_OP_TOKENIZE};
	req.u.tokenize.subject_token = admin;
	req.u.tokenize.column_group = "ssn";
	req.u.tokenize.values = VT_STRV("555-55-5555", "100-10-1000", "555-55-5555");
	vt_call(c, &req, &rep);
	vt_expect_ok(&rep);
	assert_int_equal(rep.u.records.records->via.array.size, 3);
	{
		const msgpack_object *t0 = vt_get(&rep.u.records.records->via.array.ptr[0], "token");
		const msgpack_object *t1 = vt_get(&rep.u.records.records->via.array.ptr[1], "token");
		const msgpack_object *t2 = vt_get(&rep.u.records.records->via.array.ptr[2], "token");

		assert_non_null(t0);
		assert_true(sb_mp_equal(t0, t2));
		assert_false(sb_mp_equal(t0, t1));
	}
	sb_reply_done(&rep);

	/* query */
	req = (struct sb_request){.op = SB_OP_QUERY};
	req.u.query.subject_token = admin;
	req.u.query.query = "SELECT name, state FROM persons WHERE state = 'NV'";
	vt_call(c, &req, &rep);
	vt_expect_ok(&rep);
	assert_int_equal(rep.u.records.records->via.array.size, 1);
	/* a query reads with DEFAULT redaction: the name column's default is REDACTED */
	assert_true(vt_is_str(vt_field(&rep.u.records.records->via.array.ptr[0], "name"),
			      "*REDACTED*"));
	assert_true(vt_is_str(vt_field(&rep.u.records.records->via.array.ptr[0], "state"), "NV"));
	sb_reply_done(&rep);

	/* delete_records, then the record is gone */
	req = (struct sb_request){.op = SB_OP_DELETE_RECORDS};
	req.u.delete_records.subject_token = admin;
	req.u.delete_records.table = "persons";
	req.u.delete_records.skyflow_ids = VT_STRV(id);
	vt_call(c, &req, &rep);
	vt_expect_ok(&rep);
	assert_int_equal(rep.u.delete_records.skyflow_ids.n, 1);
	assert_string_equal(rep.u.delete_records.skyflow_ids.v[0], id);
	sb_reply_done(&rep);

	req = (struct sb_request){.op = SB_OP_GET_RECORD};
	req.u.get_record.subject_token = admin;
	req.u.get_record.table = "persons";
	req.u.get_record.skyflow_id = id;
	vt_call(c, &req, &rep);
	vt_expect_error(&rep, SB_ERR_NOT_FOUND);
	assert_int_equal(rep.error.upstream_status.v, 404);
	sb_reply_done(&rep);

	/* the audit line of the delete: table, count, status, request id; never a value */
	assert_true(sbt_log_wait(&D, "op=delete_records", SBT_TIMEOUT_MS) == 0);
	assert_true(sbt_log_contains(&D, "op=delete_records id="));
	assert_true(sbt_log_contains(&D, "table=persons sub=U2admin"));
	assert_true(sbt_log_contains(&D, "outcome=ok records=1 upstream_status=200"));
	assert_true(sbt_log_contains(&D, "outcome=not_found records=- upstream_status=404 "
					 "upstream_request_id="));
	assert_false(sbt_log_contains(&D, "555-55-5555"));
	assert_false(sbt_log_contains(&D, "Zed Z"));
	free(id);
	free(ssn_token);
	sbt_client_free(c);
}

/* Ids and table names that need escaping reach the emulator as they are. */
static void test_odd_names_intact(void **state)
{
	struct sbt_client *c = xd_client(open_sock);
	struct sb_request req = {.op = SB_OP_GET_RECORD};
	struct sb_reply rep;

	(void)state;
	req.u.get_record.subject_token = admin;
	req.u.get_record.table = "persons";
	req.u.get_record.skyflow_id = ODD_ID;
	req.u.get_record.redaction = "PLAIN_TEXT";
	vt_call(c, &req, &rep);
	vt_expect_ok(&rep);
	assert_true(vt_is_str(vt_get(vt_get(rep.u.get_record.record, "fields"), "skyflow_id"),
			      ODD_ID));
	assert_true(vt_is_str(vt_get(vt_get(rep.u.get_record.record, "fields"), "name"),
			      "Odd Record"));
	sb_reply_done(&rep);

	/* the same id in a query value of get_records (column_values go in the query string) */
	req = vt_get_records(admin, "persons");
	req.u.get_records.skyflow_ids = VT_STRV(ODD_ID, ADA);
	vt_call(c, &req, &rep);
	vt_expect_ok(&rep);
	assert_int_equal(rep.u.records.records->via.array.size, 2);
	assert_non_null(vt_record(rep.u.records.records, ODD_ID));
	sb_reply_done(&rep);

	/* a table name with '/', '?', '%', '#' and a space is one path segment: Skyflow names it
	 * back in its 404 */
	req = vt_get_records(admin, ODD_TABLE);
	vt_call(c, &req, &rep);
	vt_expect_error(&rep, SB_ERR_NOT_FOUND);
	assert_non_null(strstr(rep.error.message, "Table " ODD_TABLE " not found"));
	sb_reply_done(&rep);
	sbt_client_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roles_see_their_redaction),
		cmocka_unit_test(test_support_row_filter),
		cmocka_unit_test(test_redaction_ceiling),
		cmocka_unit_test(test_policy_refusals_cost_no_upstream_call),
		cmocka_unit_test(test_every_operation),
		cmocka_unit_test(test_odd_names_intact),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
