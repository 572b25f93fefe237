/* emulator_vault: the vault Data API and every policy outcome on the guide's persons table. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "harness.h"

#define ADA   "bf9a1506-5b6a-4016-ac62-7c534db47460" /* CA, ssn 100-10-1000, dob 1950-01-01 */
#define BROOK "241d581b-957d-4f06-a86e-8e8f102a4a18" /* NY, ssn 137-17-1413, dob 1952-02-04 */

static struct emu_proc E;
static char *viewer, *admin, *support, *nobody;

static int setup(void **state)
{
	if (harness_start(&E) < 0)
		return -1;
	viewer = sts_token_for(&E, "Viewer", NULL);
	admin = sts_token_for(&E, "Admin", NULL);
	support = sts_token_for(&E, "Support", NULL);
	nobody = sts_token_for(&E, "Guest", NULL);
	return viewer && admin && support && nobody ? 0 : -1;
}

static int teardown(void **state)
{
	free(viewer);
	free(admin);
	free(support);
	free(nobody);
	return harness_stop(&E) == 0 ? 0 : -1;
}

/* GET {vault}/{rest} as token; returns the parsed body, status in *st. */
static json_t *vget(const char *token, const char *rest, long *st)
{
	char path[2048];
	snprintf(path, sizeof(path), "%s/%s", E.vault_path, rest);
	return http_json(&E, "GET", path, token, NULL, st);
}

static json_t *vsend(const char *method, const char *token, const char *rest, json_t *body,
		     long *st)
{
	char path[2048];
	snprintf(path, sizeof(path), "%s/%s", E.vault_path, rest);
	return http_json(&E, method, path, token, body, st);
}

/* fields of the only record returned by GET persons?skyflow_ids=id&<extra>; new reference */
static json_t *one(const char *token, const char *id, const char *extra)
{
	char rest[512];
	long st;
	json_t *j, *f;

	snprintf(rest, sizeof(rest), "persons?skyflow_ids=%s%s%s", id, extra ? "&" : "",
		 extra ? extra : "");
	j = vget(token, rest, &st);
	assert_int_equal(st, 200);
	assert_int_equal(json_array_size(json_object_get(j, "records")), 1);
	f = json_incref(json_object_get(json_array_get(json_object_get(j, "records"), 0), "fields"));
	json_decref(j);
	return f;
}

#define assert_field(f, k, v) assert_string_equal(json_string_value(json_object_get(f, k)), v)

static void viewer_default_redaction(void **state)
{
	/* DEFAULT = each column's default (name and email REDACT, ssn and dob MASK, state
	 * PLAIN_TEXT), capped by the role: ssn only REDACTED for marketing */
	json_t *f = one(viewer, ADA, NULL);
	assert_field(f, "skyflow_id", ADA);
	assert_field(f, "name", "*REDACTED*");
	assert_field(f, "state", "CA");
	assert_field(f, "email_address", "*REDACTED*");
	assert_field(f, "ssn", "*REDACTED*");
	assert_field(f, "date_of_birth", "XXXX-01-01");
	json_decref(f);
}

static void viewer_plain_text_comes_back_masked(void **state)
{
	json_t *f = one(viewer, ADA, "redaction=PLAIN_TEXT");
	assert_field(f, "name", "Ada Lovelace");
	assert_field(f, "date_of_birth", "XXXX-01-01");
	assert_field(f, "email_address", "a******e@example.com");
	assert_field(f, "ssn", "*REDACTED*");
	json_decref(f);
	f = one(viewer, ADA, "redaction=MASKED");
	assert_field(f, "date_of_birth", "XXXX-01-01");
	assert_field(f, "name", "*REDACTED*"); /* name has no mask pattern */
	json_decref(f);
	f = one(viewer, ADA, "redaction=REDACTED");
	assert_field(f, "name", "*REDACTED*");
	assert_field(f, "state", "*REDACTED*");
	assert_field(f, "date_of_birth", "*REDACTED*");
	json_decref(f);
}

static void admin_plain_and_defaults(void **state)
{
	json_t *f = one(admin, ADA, "redaction=PLAIN_TEXT");
	assert_field(f, "name", "Ada Lovelace");
	assert_field(f, "ssn", "100-10-1000");
	assert_field(f, "date_of_birth", "1950-01-01");
	assert_field(f, "email_address", "ada.lovelace@example.com");
	json_decref(f);
	/* DEFAULT: each column's default redaction */
	f = one(admin, ADA, "redaction=DEFAULT");
	assert_field(f, "ssn", "XXX-XX-1000");
	assert_field(f, "date_of_birth", "XXXX-01-01");
	assert_field(f, "name", "*REDACTED*");
	assert_field(f, "state", "CA");
	json_decref(f);
	f = one(admin, ADA, "redaction=MASKED");
	assert_field(f, "ssn", "XXX-XX-1000");
	assert_field(f, "email_address", "a******e@example.com");
	json_decref(f);
}

static void no_role_is_forbidden(void **state)
{
	long st;
	json_t *j = vget(nobody, "persons", &st);
	assert_int_equal(st, 403);
	assert_skyflow_error(j, 403);
	json_decref(j);
	j = vget(nobody, "persons/" ADA, &st);
	assert_int_equal(st, 403);
	json_decref(j);
	json_t *q = json_pack("{s:s}", "query", "SELECT * FROM persons");
	j = vsend("POST", nobody, "query", q, &st);
	assert_int_equal(st, 403);
	assert_skyflow_error(j, 403);
	json_decref(j);
	json_decref(q);
}

static void support_row_filter_and_left_out_fields(void **state)
{
	long st;
	size_t i;
	json_t *rec, *j = vget(support, "persons?redaction=PLAIN_TEXT", &st);
	assert_int_equal(st, 200);
	assert_true(json_array_size(json_object_get(j, "records")) > 0);
	json_array_foreach(json_object_get(j, "records"), i, rec) {
		json_t *f = json_object_get(rec, "fields");
		assert_field(f, "state", "CA");
		assert_non_null(json_object_get(f, "name"));
		assert_non_null(json_object_get(f, "skyflow_id"));
		assert_null(json_object_get(f, "ssn"));
		assert_null(json_object_get(f, "date_of_birth"));
		assert_null(json_object_get(f, "email_address"));
	}
	json_decref(j);
	/* Brook lives in NY: hidden */
	j = vget(support, "persons/" BROOK, &st);
	assert_int_equal(st, 404);
	assert_skyflow_error(j, 404);
	json_decref(j);
	j = vget(support, "persons?skyflow_ids=" ADA "&skyflow_ids=" BROOK, &st);
	assert_int_equal(st, 200);
	assert_int_equal(json_array_size(json_object_get(j, "records")), 1);
	json_decref(j);
}

static void expect_400(const char *rest, const char *needle)
{
	long st;
	json_t *j = vget(admin, rest, &st);
	assert_int_equal(st, 400);
	const char *msg = assert_skyflow_error(j, 400);
	if (needle)
		assert_non_null(strstr(msg, needle));
	json_decref(j);
}

static void get_records_bad_parameters(void **state)
{
	expect_400("persons?limit=26", "limit");
	expect_400("persons?limit=0", "limit");
	expect_400("persons?limit=abc", "limit");
	expect_400("persons?offset=-1", "offset");
	expect_400("persons?skyflow_ids=" ADA "&column_name=ssn&column_values=1", "skyflow_ids");
	expect_400("persons?column_name=ssn", NULL);
	expect_400("persons?column_values=1", NULL);
	expect_400("persons?column_name=state&column_values=CA", "unique");
	expect_400("persons?column_name=nope&column_values=CA", NULL);
	expect_400("persons?fields=bogus", "bogus");
	expect_400("persons?redaction=BOGUS", NULL);
	expect_400("persons?order_by=SIDEWAYS", NULL);
	expect_400("persons?tokenization=maybe", NULL);
}

static void get_records_parameters(void **state)
{
	long st;
	json_t *j, *a, *b, *rec;
	size_t i;

	/* no ids: at most 25, here all 20 seed records */
	j = vget(admin, "persons", &st);
	assert_int_equal(st, 200);
	assert_int_equal(json_array_size(json_object_get(j, "records")), 20);
	json_decref(j);
	j = vget(admin, "persons?limit=25", &st);
	assert_int_equal(st, 200);
	json_decref(j);
	/* paging: two disjoint pages in ascending skyflow_id order */
	a = vget(admin, "persons?limit=5&offset=0", &st);
	b = vget(admin, "persons?limit=5&offset=5", &st);
	assert_int_equal(json_array_size(json_object_get(a, "records")), 5);
	assert_int_equal(json_array_size(json_object_get(b, "records")), 5);
	const char *last_a = json_string_value(json_object_get(
		json_object_get(json_array_get(json_object_get(a, "records"), 4), "fields"),
		"skyflow_id"));
	const char *first_b = json_string_value(json_object_get(
		json_object_get(json_array_get(json_object_get(b, "records"), 0), "fields"),
		"skyflow_id"));
	assert_true(strcmp(last_a, first_b) < 0);
	json_decref(a);
	json_decref(b);
	j = vget(admin, "persons?offset=100", &st);
	assert_int_equal(st, 200);
	assert_int_equal(json_array_size(json_object_get(j, "records")), 0);
	json_decref(j);
	/* DESCENDING reverses; NONE keeps insertion order (Ada is the first seed) */
	j = vget(admin, "persons?order_by=DESCENDING", &st);
	const char *prev = NULL;
	json_array_foreach(json_object_get(j, "records"), i, rec) {
		const char *id = json_string_value(
			json_object_get(json_object_get(rec, "fields"), "skyflow_id"));
		if (prev)
			assert_true(strcmp(prev, id) > 0);
		prev = id;
	}
	json_decref(j);
	j = vget(admin, "persons?order_by=NONE&limit=1", &st);
	assert_field(json_object_get(json_array_get(json_object_get(j, "records"), 0), "fields"),
		     "skyflow_id", ADA);
	json_decref(j);
	/* repeated skyflow_ids */
	j = vget(admin, "persons?skyflow_ids=" ADA "&skyflow_ids=" BROOK, &st);
	assert_int_equal(json_array_size(json_object_get(j, "records")), 2);
	json_decref(j);
	/* fields */
	json_t *f = one(admin, ADA, "fields=name&fields=ssn&redaction=PLAIN_TEXT");
	assert_int_equal(json_object_size(f), 3);
	assert_field(f, "ssn", "100-10-1000");
	json_decref(f);
	/* column_name + repeated column_values on a unique column */
	j = vget(admin, "persons?column_name=ssn&column_values=100-10-1000&column_values=137-17-1413"
			"&redaction=PLAIN_TEXT",
		 &st);
	assert_int_equal(st, 200);
	assert_int_equal(json_array_size(json_object_get(j, "records")), 2);
	json_decref(j);
	j = vget(admin, "persons?column_name=ssn&column_values=000-00-0000", &st);
	assert_int_equal(st, 404);
	assert_skyflow_error(j, 404);
	json_decref(j);
	/* unknown id, table, vault */
	j = vget(admin, "persons?skyflow_ids=00000000-0000-4000-8000-000000000000", &st);
	assert_int_equal(st, 404);
	json_decref(j);
	j = vget(admin, "nosuchtable", &st);
	assert_int_equal(st, 404);
	assert_skyflow_error(j, 404);
	json_decref(j);
	j = http_json(&E, "GET", "/v1/vaults/nosuchvault/persons", admin, NULL, &st);
	assert_int_equal(st, 404);
	assert_skyflow_error(j, 404);
	json_decref(j);
	/* downloadURL and returnFileMetadata are accepted */
	j = vget(admin, "persons?downloadURL=false&returnFileMetadata=false&limit=1", &st);
	assert_int_equal(st, 200);
	json_decref(j);
}

static void get_by_id(void **state)
{
	long st;
	json_t *j = vget(admin, "persons/" ADA "?redaction=PLAIN_TEXT&fields=ssn", &st);
	assert_int_equal(st, 200);
	json_t *f = json_object_get(j, "fields");
	assert_field(f, "ssn", "100-10-1000");
	assert_null(json_object_get(f, "name"));
	json_decref(j);
	j = vget(viewer, "persons/" ADA, &st);
	assert_int_equal(st, 200);
	assert_field(json_object_get(j, "fields"), "ssn", "*REDACTED*");
	json_decref(j);
	j = vget(admin, "persons/00000000-0000-4000-8000-000000000000", &st);
	assert_int_equal(st, 404);
	assert_skyflow_error(j, 404);
	json_decref(j);
}

static void bad_bearer_is_401(void **state)
{
	long st;
	json_t *j = vget(NULL, "persons", &st);
	assert_int_equal(st, 401);
	assert_skyflow_error(j, 401);
	json_decref(j);
	j = vget("not-a-jwt", "persons", &st);
	assert_int_equal(st, 401);
	assert_skyflow_error(j, 401);
	json_decref(j);
	/* a Descope token is not a Skyflow token */
	json_t *spec = json_pack("{s:s, s:[s]}", "sub", "U1", "roles", "Admin");
	char *d = mint_descope(&E, spec);
	json_decref(spec);
	j = vget(d, "persons", &st);
	assert_int_equal(st, 401);
	json_decref(j);
	free(d);
}

static void tokenization_and_detokenize(void **state)
{
	long st;
	json_t *f = one(admin, ADA, "tokenization=true");
	const char *ssn_tok = json_string_value(json_object_get(f, "ssn"));
	assert_non_null(ssn_tok);
	assert_int_equal(strlen(ssn_tok), 36);
	json_t *body = json_pack("{s:[{s:s, s:s}, {s:s}], s:b}", "detokenizationParameters", "token",
				 ssn_tok, "redaction", "PLAIN_TEXT", "token", ssn_tok,
				 "continueOnError", 0);
	json_t *j = vsend("POST", admin, "detokenize", body, &st);
	assert_int_equal(st, 200);
	json_t *r0 = json_array_get(json_object_get(j, "records"), 0);
	json_t *r1 = json_array_get(json_object_get(j, "records"), 1);
	assert_field(r0, "value", "100-10-1000");
	assert_field(r0, "valueType", "STRING");
	assert_field(r0, "token", ssn_tok);
	assert_field(r1, "value", "XXX-XX-1000"); /* DEFAULT: the column's default */
	json_decref(j);
	/* the Viewer role has no DETOKENIZATION */
	j = vsend("POST", viewer, "detokenize", body, &st);
	assert_int_equal(st, 403);
	assert_skyflow_error(j, 403);
	json_decref(j);
	json_decref(body);
	/* an unknown token fails the call, or is a per-record error with continueOnError */
	body = json_pack("{s:[{s:s}, {s:s}], s:b}", "detokenizationParameters", "token", "nope",
			 "token", ssn_tok, "continueOnError", 0);
	j = vsend("POST", admin, "detokenize", body, &st);
	assert_int_equal(st, 404);
	assert_skyflow_error(j, 404);
	json_decref(j);
	json_object_set_new(body, "continueOnError", json_true());
	j = vsend("POST", admin, "detokenize", body, &st);
	assert_int_equal(st, 200);
	r0 = json_array_get(json_object_get(j, "records"), 0);
	r1 = json_array_get(json_object_get(j, "records"), 1);
	assert_non_null(json_string_value(json_object_get(r0, "error")));
	assert_null(json_object_get(r1, "error"));
	json_decref(j);
	json_decref(body);
	json_decref(f);
	/* too many and malformed parameters */
	body = json_pack("{s:[]}", "detokenizationParameters");
	j = vsend("POST", admin, "detokenize", body, &st);
	assert_int_equal(st, 400);
	assert_skyflow_error(j, 400);
	json_decref(j);
	json_decref(body);
}

static void tokenize(void **state)
{
	long st;
	json_t *body = json_pack("{s:[{s:s, s:s}, {s:s, s:s}, {s:s, s:s, s:s}]}",
				 "tokenizationParameters", "value", "999-88-7777", "columnGroup",
				 "ssn", "value", "999-88-7777", "columnGroup", "ssn", "value",
				 "x@y.example", "table", "persons", "column", "email_address");
	json_t *j = vsend("POST", admin, "tokenize", body, &st);
	assert_int_equal(st, 200);
	json_t *recs = json_object_get(j, "records");
	assert_int_equal(json_array_size(recs), 3);
	const char *t0 = json_string_value(json_object_get(json_array_get(recs, 0), "token"));
	const char *t1 = json_string_value(json_object_get(json_array_get(recs, 1), "token"));
	assert_string_equal(t0, t1); /* deterministic */
	json_t *d = json_pack("{s:[{s:s, s:s}]}", "detokenizationParameters", "token", t0,
			      "redaction", "PLAIN_TEXT");
	json_t *dj = vsend("POST", admin, "detokenize", d, &st);
	assert_int_equal(st, 200);
	assert_field(json_array_get(json_object_get(dj, "records"), 0), "value", "999-88-7777");
	json_decref(dj);
	json_decref(d);
	json_decref(j);
	j = vsend("POST", viewer, "tokenize", body, &st);
	assert_int_equal(st, 403);
	assert_skyflow_error(j, 403);
	json_decref(j);
	json_decref(body);
	body = json_pack("{s:[{s:s, s:s, s:s}]}", "tokenizationParameters", "value", "CA", "table",
			 "persons", "column", "state");
	j = vsend("POST", admin, "tokenize", body, &st);
	assert_int_equal(st, 400); /* state is not tokenized */
	assert_skyflow_error(j, 400);
	json_decref(j);
	json_decref(body);
}

static json_t *run_query(const char *token, const char *sql, long *st)
{
	json_t *body = json_pack("{s:s}", "query", sql);
	json_t *j = vsend("POST", token, "query", body, st);
	json_decref(body);
	return j;
}

static void query(void **state)
{
	long st;
	size_t i;
	json_t *rec, *j = run_query(admin, "SELECT * FROM persons WHERE state = 'CA' LIMIT 3", &st);
	assert_int_equal(st, 200);
	assert_int_equal(json_array_size(json_object_get(j, "records")), 3);
	json_array_foreach(json_object_get(j, "records"), i, rec)
		assert_field(json_object_get(rec, "fields"), "state", "CA");
	json_decref(j);
	j = run_query(admin, "select name, persons.ssn from persons where ssn = '100-10-1000';", &st);
	assert_int_equal(st, 200);
	assert_int_equal(json_array_size(json_object_get(j, "records")), 1);
	json_t *f = json_object_get(json_array_get(json_object_get(j, "records"), 0), "fields");
	assert_field(f, "ssn", "XXX-XX-1000");
	assert_int_equal(json_object_size(f), 2);
	json_decref(j);
	j = run_query(viewer, "SELECT ssn, name FROM persons WHERE ssn = '100-10-1000'", &st);
	f = json_object_get(json_array_get(json_object_get(j, "records"), 0), "fields");
	assert_field(f, "ssn", "*REDACTED*");
	assert_field(f, "name", "*REDACTED*"); /* queries use DEFAULT redaction */
	json_decref(j);
	j = run_query(support, "SELECT * FROM persons", &st);
	assert_int_equal(st, 200);
	json_array_foreach(json_object_get(j, "records"), i, rec) {
		assert_field(json_object_get(rec, "fields"), "state", "CA");
		assert_null(json_object_get(json_object_get(rec, "fields"), "ssn"));
	}
	json_decref(j);
	j = run_query(admin, "SELECT * FROM persons LIMIT 2 OFFSET 19", &st);
	assert_int_equal(json_array_size(json_object_get(j, "records")), 1);
	json_decref(j);
	const char *bad[] = {"SELECT * FROM persons LIMIT 26", "DELETE FROM persons",
			     "SELECT nope FROM persons", "SELECT * FROM nosuch",
			     "SELECT * FROM persons WHERE state > 'A'", "SELECT * FROM persons junk",
			     "SELECT FROM persons", "SELECT * FROM persons WHERE state = 'CA"};
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		j = run_query(admin, bad[i], &st);
		assert_int_equal(st, 400);
		assert_skyflow_error(j, 400);
		json_decref(j);
	}
}

static void malformed_json_bodies(void **state)
{
	const char *paths[] = {"persons", "detokenize", "tokenize", "query", ""};
	char path[512];
	for (size_t i = 0; i < 5; i++) {
		struct http_resp r;
		snprintf(path, sizeof(path), "%s%s%s", E.vault_path, *paths[i] ? "/" : "", paths[i]);
		http_req(&E, "POST", path, admin, "application/json", "{\"records\": [", &r);
		assert_int_equal(r.status, 400);
		json_t *j = json_loadb(r.body, r.len, 0, NULL);
		assert_non_null(strstr(assert_skyflow_error(j, 400), "JSON"));
		json_decref(j);
		http_resp_free(&r);
	}
	/* the batch endpoint without a body */
	long st;
	json_t *j = http_json(&E, "POST", E.vault_path, admin, NULL, &st);
	assert_int_equal(st, 400);
	assert_skyflow_error(j, 400);
	json_decref(j);
}

/* Skyflow refuses tokens in a record unless byot enables BYOT, which the emulator does not
 * emulate: a 400, never tokens silently ignored. OR in a query: a 400 naming the emulator. */
static void refusals(void **state)
{
	static const struct {
		const char *method, *rest, *body;
	} cases[] = {
		{"POST", "persons", "{\"records\":[{\"fields\":{\"name\":\"B\"},\"tokens\":{\"name\":\"t\"}}]}"},
		{"POST", "persons", "{\"records\":[{\"fields\":{\"name\":\"B\"}}],\"byot\":\"ENABLE\"}"},
		{"PUT", "persons/" ADA, "{\"record\":{\"fields\":{\"name\":\"B\"},\"tokens\":{\"name\":\"t\"}}}"},
		{"PUT", "persons/" ADA, "{\"record\":{\"fields\":{\"name\":\"B\"}},\"byot\":\"ENABLE_STRICT\"}"},
		{"POST", "query", "{\"query\":\"SELECT name FROM persons WHERE state = 'CA' OR state = 'NY'\"}"},
		{"POST", "query", "{\"query\":\"SELECT name FROM persons WHERE name LIKE 'A%'\"}"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		long st;
		json_t *body = json_loads(cases[i].body, 0, NULL);
		assert_non_null(body);
		json_t *j = vsend(cases[i].method, admin, cases[i].rest, body, &st);
		if (st != 400)
			fprintf(stderr, "case %zu -> %ld\n", i, st);
		assert_int_equal(st, 400);
		assert_non_null(strstr(assert_skyflow_error(j, 400), "emulator"));
		json_decref(j);
		json_decref(body);
	}
	/* byot DISABLE is the default and fine */
	long st;
	json_t *body = json_pack("{s:{s:{s:s}}, s:s}", "record", "fields", "state", "CA", "byot",
				 "DISABLE");
	json_t *j = vsend("PUT", admin, "persons/" ADA, body, &st);
	assert_int_equal(st, 200);
	json_decref(j);
	json_decref(body);
}

static void insert_update_delete(void **state)
{
	long st;
	json_t *body = json_pack(
		"{s:[{s:{s:s, s:s, s:s, s:s}}, {s:{s:s, s:s}}], s:b}", "records", "fields", "name",
		"Zed Test", "ssn", "900-00-0001", "email_address", "zed@example.com", "state", "OR",
		"fields", "name", "Yan Test", "ssn", "900-00-0002", "tokenization", 1);
	json_t *j = vsend("POST", admin, "persons", body, &st);
	assert_int_equal(st, 200);
	json_t *r0 = json_array_get(json_object_get(j, "records"), 0);
	char id0[64], id1[64];
	snprintf(id0, sizeof(id0), "%s", json_string_value(json_object_get(r0, "skyflow_id")));
	snprintf(id1, sizeof(id1), "%s",
		 json_string_value(json_object_get(json_array_get(json_object_get(j, "records"), 1),
						   "skyflow_id")));
	assert_int_equal(strlen(id0), 36);
	assert_int_equal(json_object_size(json_object_get(r0, "tokens")), 2); /* ssn, email */
	json_decref(j);
	/* the Viewer cannot create; a duplicate unique value conflicts */
	j = vsend("POST", viewer, "persons", body, &st);
	assert_int_equal(st, 403);
	assert_skyflow_error(j, 403);
	json_decref(j);
	j = vsend("POST", admin, "persons", body, &st);
	assert_int_equal(st, 409);
	assert_skyflow_error(j, 409);
	json_decref(j);
	/* upsert on the unique ssn column updates the existing record */
	json_object_set_new(body, "upsert", json_string("ssn"));
	json_object_set_new(body, "tokenization", json_false());
	j = vsend("POST", admin, "persons", body, &st);
	assert_int_equal(st, 200);
	assert_field(json_array_get(json_object_get(j, "records"), 0), "skyflow_id", id0);
	assert_null(json_object_get(json_array_get(json_object_get(j, "records"), 0), "tokens"));
	json_decref(j);
	json_object_set_new(body, "upsert", json_string("state"));
	j = vsend("POST", admin, "persons", body, &st);
	assert_int_equal(st, 400);
	json_decref(j);
	json_decref(body);
	body = json_pack("{s:[{s:{s:s}}, {s:{s:s}}]}", "records", "fields", "ssn", "900-00-0009",
			 "fields", "ssn", "900-00-0009");
	j = vsend("POST", admin, "persons", body, &st);
	assert_int_equal(st, 409);
	json_decref(j);
	json_decref(body);
	body = json_pack("{s:[{s:{s:s}}]}", "records", "fields", "nope", "x");
	j = vsend("POST", admin, "persons", body, &st);
	assert_int_equal(st, 400);
	assert_skyflow_error(j, 400);
	json_decref(j);
	json_decref(body);

	/* update */
	char rest[256];
	snprintf(rest, sizeof(rest), "persons/%s", id0);
	body = json_pack("{s:{s:{s:s, s:s}}, s:b}", "record", "fields", "name", "Zed Updated", "ssn",
			 "900-00-0003", "tokenization", 1);
	j = vsend("PUT", admin, rest, body, &st);
	assert_int_equal(st, 200);
	assert_field(j, "skyflow_id", id0);
	assert_non_null(json_object_get(json_object_get(j, "tokens"), "ssn"));
	json_decref(j);
	json_t *f = one(admin, id0, "redaction=PLAIN_TEXT");
	assert_field(f, "name", "Zed Updated");
	assert_field(f, "ssn", "900-00-0003");
	json_decref(f);
	j = vsend("PUT", viewer, rest, body, &st);
	assert_int_equal(st, 403);
	json_decref(j);
	j = vsend("PUT", admin, "persons/00000000-0000-4000-8000-000000000000", body, &st);
	assert_int_equal(st, 404);
	assert_skyflow_error(j, 404);
	json_decref(j);
	json_decref(body);

	/* delete one, then bulk */
	j = vsend("DELETE", viewer, rest, NULL, &st);
	assert_int_equal(st, 403);
	json_decref(j);
	j = vsend("DELETE", admin, rest, NULL, &st);
	assert_int_equal(st, 200);
	assert_field(j, "skyflow_id", id0);
	assert_true(json_is_true(json_object_get(j, "deleted")));
	json_decref(j);
	j = vget(admin, rest, &st);
	assert_int_equal(st, 404);
	json_decref(j);
	body = json_pack("{s:[s, s]}", "skyflow_ids", id1, "00000000-0000-4000-8000-000000000000");
	j = vsend("DELETE", admin, "persons", body, &st);
	assert_int_equal(st, 200);
	assert_int_equal(json_array_size(json_object_get(j, "RecordIDResponse")), 1);
	assert_string_equal(json_string_value(json_array_get(json_object_get(j, "RecordIDResponse"), 0)),
			    id1);
	json_decref(j);
	j = vsend("DELETE", admin, "persons", body, &st);
	assert_int_equal(st, 404);
	json_decref(j);
	json_decref(body);
	j = vget(admin, "persons", &st);
	assert_int_equal(json_array_size(json_object_get(j, "records")), 20);
	json_decref(j);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(viewer_default_redaction),
		cmocka_unit_test(viewer_plain_text_comes_back_masked),
		cmocka_unit_test(admin_plain_and_defaults),
		cmocka_unit_test(no_role_is_forbidden),
		cmocka_unit_test(support_row_filter_and_left_out_fields),
		cmocka_unit_test(get_records_bad_parameters),
		cmocka_unit_test(get_records_parameters),
		cmocka_unit_test(get_by_id),
		cmocka_unit_test(bad_bearer_is_401),
		cmocka_unit_test(tokenization_and_detokenize),
		cmocka_unit_test(tokenize),
		cmocka_unit_test(query),
		cmocka_unit_test(malformed_json_bodies),
		cmocka_unit_test(refusals),
		cmocka_unit_test(insert_update_delete),
	};
	return cmocka_run_group_tests_name("emulator_vault", tests, setup, teardown);
}
