/* emulator_batch: the batch endpoint POST /v1/vaults/{vault_id} — each method, references to
 * earlier responses, all-or-nothing without continueOnError, per-record Body/Status with it,
 * policies and row filters per record as on the single-record endpoints, deterministic
 * tokens, and garbage. Runs on demo.json with email_address made DETERMINISTIC_UUID. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "harness.h"

#define ADA   "bf9a1506-5b6a-4016-ac62-7c534db47460" /* CA, ssn 100-10-1000 */
#define BROOK "241d581b-957d-4f06-a86e-8e8f102a4a18" /* NY */

static struct emu_proc E;
static char *viewer, *admin, *support, *auditor;
static char config_path[1100];

/* demo.json with email_address as a DETERMINISTIC_UUID column, written into E.dir. */
/* The auditor role: DENY, OR and LIKE in row filters (README.md "Policy semantics"). */
static const char *const auditor_policies[] = {
    ("ALLOW READ ON persons.* WITH REDACTION = PLAIN_TEXT WHERE persons.state = 'CA' OR "
     "persons.name LIKE 'B%'"),
    "DENY READ ON persons.ssn WHERE persons.state = 'CA'",
    "ALLOW CREATE, UPDATE ON persons.*",
    "DENY UPDATE ON persons.ssn",
    "DENY CREATE ON persons.* WHERE persons.state NOT LIKE '_A'",
    "ALLOW TOKENIZATION",
    "ALLOW DETOKENIZATION",
    "DENY TOKENIZATION",
};

/* demo.json with email_address as a DETERMINISTIC_UUID column and the auditor role
 * ('Auditor' in request.context.roles), written into E.dir. */
static int write_config(void)
{
	json_t *cfg = json_load_file(DEMO_JSON, 0, NULL), *cols, *c, *pols;
	size_t i;
	int r;

	if (!cfg)
		return -1;
	cols = json_object_get(
	    json_array_get(json_object_get(json_object_get(cfg, "vault"), "tables"), 0), "columns");
	json_array_foreach(cols, i, c) {
		if (!strcmp(json_string_value(json_object_get(c, "name")), "email_address"))
			json_object_set_new(c, "token_policy", json_string("DETERMINISTIC_UUID"));
	}
	pols = json_array();
	for (i = 0; i < sizeof(auditor_policies) / sizeof(auditor_policies[0]); i++)
		json_array_append_new(pols, json_string(auditor_policies[i]));
	json_array_append_new(
	    json_object_get(cfg, "roles"),
	    json_pack("{s:s, s:s, s:o}", "id", "auditor", "name", "auditor", "policies", pols));
	json_array_append_new(json_object_get(cfg, "role_assignments"),
	                      json_pack("{s:s, s:s}", "role", "auditor", "condition",
	                                "'Auditor' in request.context.roles"));
	snprintf(config_path, sizeof(config_path), "%s/batch.json", E.dir);
	r = json_dump_file(cfg, config_path, 0);
	json_decref(cfg);
	return r;
}

static int setup(void **state)
{
	if (harness_init(&E) < 0 || write_config() < 0 || harness_spawn(&E, config_path) < 0)
		return -1;
	viewer = sts_token_for(&E, "Viewer", NULL);
	admin = sts_token_for(&E, "Admin", NULL);
	support = sts_token_for(&E, "Support", NULL);
	auditor = sts_token_for(&E, "Auditor", NULL);
	return viewer && admin && support && auditor ? 0 : -1;
}

static int teardown(void **state)
{
	free(viewer);
	free(admin);
	free(support);
	free(auditor);
	return harness_stop(&E) == 0 ? 0 : -1;
}

/* POSTs a batch body given as JSON text; returns the parsed reply, status in *st. */
static json_t *batch(const char *token, const char *text, long *st)
{
	json_error_t err;
	json_t *body = json_loads(text, 0, &err), *j;

	if (!body)
		fprintf(stderr, "bad test JSON: %s: %s\n", err.text, text);
	assert_non_null(body);
	j = http_json(&E, "POST", E.vault_path, token, body, st);
	json_decref(body);
	return j;
}

static json_t *response(json_t *j, size_t i)
{
	return json_array_get(json_object_get(j, "responses"), i);
}

#define S(j, ...) json_string_value(json_object_get(j, __VA_ARGS__))

/* Rows whose ssn is the given value, as the admin sees them through query. */
static size_t count_ssn(const char *ssn)
{
	char q[256];
	long st;
	json_t *b, *j;
	size_t n;

	snprintf(q, sizeof(q), "SELECT skyflow_id FROM persons WHERE ssn = '%s'", ssn);
	b = json_pack("{s:s}", "query", q);
	snprintf(q, sizeof(q), "%s/query", E.vault_path);
	j = http_json(&E, "POST", q, admin, b, &st);
	assert_int_equal(st, 200);
	n = json_array_size(json_object_get(j, "records"));
	json_decref(b);
	json_decref(j);
	return n;
}

static void admin_every_method(void **state)
{
	long st;
	json_t *j = batch(
	    admin,
	    "{\"records\":["
	    "{\"method\":\"POST\",\"quorum\":true,\"tableName\":\"persons\",\"tokenization\":true,"
	    " \"fields\":{\"name\":\"Bea Batch\",\"ssn\":\"800-00-0001\","
	    "  \"email_address\":\"bea@example.com\",\"state\":\"OR\"}},"
	    "{\"method\":\"GET\",\"tableName\":\"persons\",\"redaction\":\"PLAIN_TEXT\","
	    " \"ID\":\"$responses.0.records.0.skyflow_id\"},"
	    "{\"method\":\"PUT\",\"tableName\":\"persons\",\"tokenization\":true,"
	    " \"ID\":\"$responses.0.records.0.skyflow_id\",\"fields\":{\"state\":\"WA\"}},"
	    "{\"method\":\"GET\",\"tableName\":\"persons\",\"tokenization\":true,"
	    " \"ID\":\"$responses.1.fields.skyflow_id\"},"
	    "{\"method\":\"DELETE\",\"tableName\":\"persons\",\"batchID\":\"b1\","
	    " \"ID\":\"$responses.2.skyflow_id\"}]}",
	    &st);
	assert_int_equal(st, 200);
	assert_string_equal(S(j, "vaultID"), E.vault_id);
	assert_int_equal(json_array_size(json_object_get(j, "responses")), 5);
	json_t *ins = json_array_get(json_object_get(response(j, 0), "records"), 0);
	const char *id = S(ins, "skyflow_id");
	json_t *toks = json_object_get(ins, "tokens");
	assert_non_null(id);
	assert_non_null(S(toks, "ssn"));
	assert_non_null(S(toks, "email_address"));
	assert_null(json_object_get(toks, "name")); /* not a tokenized column */
	json_t *got = json_object_get(response(j, 1), "fields");
	assert_string_equal(S(got, "skyflow_id"), id);
	assert_string_equal(S(got, "name"), "Bea Batch");
	assert_string_equal(S(got, "ssn"), "800-00-0001");
	assert_string_equal(S(response(j, 2), "skyflow_id"), id);
	assert_int_equal(json_object_size(json_object_get(response(j, 2), "tokens")), 0);
	/* tokenization on GET: tokens in fields, the same ones the insert returned */
	json_t *tf = json_object_get(response(j, 3), "fields");
	assert_string_equal(S(tf, "ssn"), S(toks, "ssn"));
	assert_string_equal(S(tf, "state"), "WA");
	assert_string_equal(S(response(j, 4), "skyflow_id"), id);
	assert_true(json_is_true(json_object_get(response(j, 4), "deleted")));
	json_decref(j);
	assert_int_equal(count_ssn("800-00-0001"), 0);
}

static void upsert_updates_the_row(void **state)
{
	long st;
	json_t *j =
	    batch(admin,
	          "{\"records\":[{\"method\":\"POST\",\"tableName\":\"persons\",\"upsert\":\"ssn\","
	          "\"fields\":{\"ssn\":\"100-10-1000\",\"state\":\"NV\"}}]}",
	          &st);
	assert_int_equal(st, 200);
	assert_string_equal(
	    S(json_array_get(json_object_get(response(j, 0), "records"), 0), "skyflow_id"), ADA);
	json_decref(j);
	j = batch(admin,
	          "{\"records\":[{\"method\":\"PUT\",\"tableName\":\"persons\",\"ID\":\"" ADA
	          "\",\"fields\":{\"state\":\"CA\"}}]}",
	          &st);
	assert_int_equal(st, 200);
	json_decref(j);
}

static void viewer_writes_refused(void **state)
{
	const char *bodies[] = {
	    "{\"records\":[{\"method\":\"POST\",\"tableName\":\"persons\","
	    "\"fields\":{\"name\":\"V\",\"ssn\":\"800-00-0002\"}}]}",
	    "{\"records\":[{\"method\":\"PUT\",\"tableName\":\"persons\",\"ID\":\"" ADA
	    "\",\"fields\":{\"state\":\"TX\"}}]}",
	    "{\"records\":[{\"method\":\"DELETE\",\"tableName\":\"persons\",\"ID\":\"" ADA "\"}]}",
	};
	for (size_t i = 0; i < 3; i++) {
		long st;
		json_t *j = batch(viewer, bodies[i], &st);
		assert_int_equal(st, 403);
		assert_skyflow_error(j, 403);
		json_decref(j);
	}
	assert_int_equal(count_ssn("800-00-0002"), 0);
	assert_int_equal(count_ssn("100-10-1000"), 1);
}

/* The same redaction and row filters as GET /persons/{id}. */
static void reads_as_single_record(void **state)
{
	long st;
	json_t *j =
	    batch(viewer,
	          "{\"records\":[{\"method\":\"GET\",\"tableName\":\"persons\",\"ID\":\"" ADA
	          "\",\"redaction\":\"PLAIN_TEXT\"}]}",
	          &st);
	assert_int_equal(st, 200);
	json_t *f = json_object_get(response(j, 0), "fields");
	assert_string_equal(S(f, "name"), "Ada Lovelace");
	assert_string_equal(S(f, "email_address"), "a******e@example.com");
	assert_string_equal(S(f, "ssn"), "*REDACTED*");
	assert_string_equal(S(f, "date_of_birth"), "XXXX-01-01");
	json_decref(j);
	/* support: Ada (CA) with name and state only; Brook (NY) hidden by the row filter */
	j = batch(support,
	          "{\"continueOnError\":true,\"records\":["
	          "{\"method\":\"GET\",\"tableName\":\"persons\",\"ID\":\"" ADA "\"},"
	          "{\"method\":\"GET\",\"tableName\":\"persons\",\"ID\":\"" BROOK "\"}]}",
	          &st);
	assert_int_equal(st, 200);
	f = json_object_get(json_object_get(response(j, 0), "Body"), "fields");
	assert_int_equal(json_integer_value(json_object_get(response(j, 0), "Status")), 200);
	assert_int_equal(json_object_size(f), 3); /* skyflow_id, name, state */
	assert_null(json_object_get(f, "ssn"));
	assert_int_equal(json_integer_value(json_object_get(response(j, 1), "Status")), 404);
	assert_non_null(S(json_object_get(response(j, 1), "Body"), "error"));
	json_decref(j);
}

static void all_or_nothing(void **state)
{
	long st;
	/* the insert succeeds, the delete of an unknown id fails: nothing stays */
	json_t *j = batch(
	    admin,
	    "{\"records\":["
	    "{\"method\":\"POST\",\"tableName\":\"persons\",\"fields\":{\"ssn\":\"800-00-0003\"}},"
	    "{\"method\":\"PUT\",\"tableName\":\"persons\",\"ID\":\"" ADA "\","
	    " \"fields\":{\"state\":\"ZZ\"}},"
	    "{\"method\":\"DELETE\",\"tableName\":\"persons\",\"ID\":\"no-such-id\"}]}",
	    &st);
	assert_int_equal(st, 404);
	assert_skyflow_error(j, 404);
	json_decref(j);
	assert_int_equal(count_ssn("800-00-0003"), 0);
	j = batch(admin,
	          "{\"records\":[{\"method\":\"GET\",\"tableName\":\"persons\",\"ID\":\"" ADA
	          "\",\"redaction\":\"PLAIN_TEXT\"}]}",
	          &st);
	assert_string_equal(S(json_object_get(response(j, 0), "fields"), "state"), "CA");
	json_decref(j);
	/* a conflict inside one batch: the second insert of the same ssn */
	j = batch(
	    admin,
	    "{\"records\":["
	    "{\"method\":\"POST\",\"tableName\":\"persons\",\"fields\":{\"ssn\":\"800-00-0004\"}},"
	    "{\"method\":\"POST\",\"tableName\":\"persons\",\"fields\":{\"ssn\":\"800-00-0004\"}}]"
	    "}",
	    &st);
	assert_int_equal(st, 409);
	json_decref(j);
	assert_int_equal(count_ssn("800-00-0004"), 0);
}

static void continue_on_error(void **state)
{
	long st;
	json_t *j = batch(
	    admin,
	    "{\"continueOnError\":true,\"records\":["
	    "{\"method\":\"POST\",\"tableName\":\"persons\",\"tokenization\":true,"
	    " \"fields\":{\"ssn\":\"800-00-0005\"}},"
	    "{\"method\":\"POST\",\"tableName\":\"persons\",\"fields\":{\"ssn\":\"100-10-1000\"}},"
	    "{\"method\":\"POST\",\"tableName\":\"nosuch\",\"fields\":{\"a\":\"b\"}},"
	    "{\"method\":\"GET\",\"tableName\":\"persons\",\"ID\":\"$responses.1.records.0.skyflow_"
	    "id\"},"
	    "{\"method\":\"DELETE\",\"tableName\":\"persons\",\"ID\":\"$responses.0.records.0."
	    "skyflow_id\"}"
	    "]}",
	    &st);
	assert_int_equal(st, 200);
	const long want[] = {200, 409, 404, 400, 200};
	for (size_t i = 0; i < 5; i++) {
		json_t *r = response(j, i);
		assert_int_equal(json_integer_value(json_object_get(r, "Status")), want[i]);
		if (want[i] != 200)
			assert_true(
			    json_is_string(json_object_get(json_object_get(r, "Body"), "error")));
	}
	json_t *rec0 =
	    json_array_get(json_object_get(json_object_get(response(j, 0), "Body"), "records"), 0);
	assert_non_null(S(json_object_get(rec0, "tokens"), "ssn"));
	json_decref(j);
	assert_int_equal(count_ssn("800-00-0005"), 0);
}

/* email_address is DETERMINISTIC_UUID: the same value, the same token, on insert, update and
 * tokenize; detokenizable at the caller's ceiling. */
static void deterministic_tokens(void **state)
{
	long st;
	char path[256];
	json_t *j =
	    batch(admin,
	          "{\"continueOnError\":true,\"records\":["
	          "{\"method\":\"POST\",\"tableName\":\"persons\",\"tokenization\":true,"
	          " \"fields\":{\"ssn\":\"800-00-0006\",\"email_address\":\"same@example.com\"}},"
	          "{\"method\":\"POST\",\"tableName\":\"persons\",\"tokenization\":true,"
	          " \"fields\":{\"ssn\":\"800-00-0007\",\"email_address\":\"same@example.com\"}},"
	          "{\"method\":\"PUT\",\"tableName\":\"persons\",\"ID\":\"" ADA
	          "\",\"tokenization\":true,"
	          " \"fields\":{\"email_address\":\"same@example.com\"}}]}",
	          &st);
	assert_int_equal(st, 200);
	json_t *t0 = json_object_get(
	    json_array_get(json_object_get(json_object_get(response(j, 0), "Body"), "records"), 0),
	    "tokens");
	json_t *t1 = json_object_get(
	    json_array_get(json_object_get(json_object_get(response(j, 1), "Body"), "records"), 0),
	    "tokens");
	json_t *t2 = json_object_get(json_object_get(response(j, 2), "Body"), "tokens");
	char tok[64];
	snprintf(tok, sizeof(tok), "%s", S(t0, "email_address"));
	assert_string_equal(S(t1, "email_address"), tok);
	assert_string_equal(S(t2, "email_address"), tok);
	assert_string_not_equal(S(t0, "ssn"), S(t1, "ssn")); /* ssn stays per row */
	json_decref(j);

	json_t *b = json_pack("{s:[{s:s, s:s}]}", "tokenizationParameters", "value",
	                      "same@example.com", "columnGroup", "email");
	snprintf(path, sizeof(path), "%s/tokenize", E.vault_path);
	j = http_json(&E, "POST", path, admin, b, &st);
	assert_int_equal(st, 200);
	assert_string_equal(S(json_array_get(json_object_get(j, "records"), 0), "token"), tok);
	json_decref(j);
	json_decref(b);

	b = json_pack("{s:[{s:s, s:s}]}", "detokenizationParameters", "token", tok, "redaction",
	              "PLAIN_TEXT");
	snprintf(path, sizeof(path), "%s/detokenize", E.vault_path);
	j = http_json(&E, "POST", path, admin, b, &st);
	assert_int_equal(st, 200);
	assert_string_equal(S(json_array_get(json_object_get(j, "records"), 0), "value"),
	                    "same@example.com");
	json_decref(j);
	j = http_json(&E, "POST", path, viewer, b, &st); /* marketing has no DETOKENIZATION */
	assert_int_equal(st, 403);
	json_decref(j);
	json_decref(b);
	j = batch(admin,
	          "{\"records\":[{\"method\":\"PUT\",\"tableName\":\"persons\",\"ID\":\"" ADA
	          "\",\"fields\":{\"email_address\":\"ada.lovelace@example.com\"}}]}",
	          &st);
	assert_int_equal(st, 200);
	json_decref(j);
}

#define CARMEN "218e5f43-2dd9-4463-a989-5be6e26fd420" /* TX */

/* DENY wins over ALLOW; OR and LIKE in row filters; the same on the single-record routes. */
static void deny_or_like(void **state)
{
	long st;
	json_t *j = batch(auditor,
	                  "{\"continueOnError\":true,\"records\":["
	                  "{\"method\":\"GET\",\"tableName\":\"persons\",\"ID\":\"" ADA "\","
	                  " \"redaction\":\"PLAIN_TEXT\"},"
	                  "{\"method\":\"GET\",\"tableName\":\"persons\",\"ID\":\"" BROOK "\","
	                  " \"redaction\":\"PLAIN_TEXT\"},"
	                  "{\"method\":\"GET\",\"tableName\":\"persons\",\"ID\":\"" CARMEN "\"},"
	                  "{\"method\":\"PUT\",\"tableName\":\"persons\",\"ID\":\"" BROOK "\","
	                  " \"fields\":{\"ssn\":\"111-11-1111\"}},"
	                  "{\"method\":\"PUT\",\"tableName\":\"persons\",\"ID\":\"" BROOK "\","
	                  " \"fields\":{\"date_of_birth\":\"1952-02-05\"}},"
	                  "{\"method\":\"POST\",\"tableName\":\"persons\","
	                  " \"fields\":{\"ssn\":\"800-00-0010\",\"state\":\"NY\"}},"
	                  "{\"method\":\"POST\",\"tableName\":\"persons\","
	                  " \"fields\":{\"ssn\":\"800-00-0011\",\"state\":\"WA\"}}]}",
	                  &st);
	assert_int_equal(st, 200);
	const long want[] = {200, 200, 404, 403, 200, 403, 200};
	for (size_t i = 0; i < 7; i++) {
		if (json_integer_value(json_object_get(response(j, i), "Status")) != want[i])
			fprintf(stderr, "record %zu: %s\n", i,
			        json_dumps(response(j, i), JSON_COMPACT));
		assert_int_equal(json_integer_value(json_object_get(response(j, i), "Status")),
		                 want[i]);
	}
	/* Ada (CA): the DENY on ssn where CA leaves the column out; Brook (name LIKE 'B%') has it
	 */
	json_t *ada = json_object_get(json_object_get(response(j, 0), "Body"), "fields");
	json_t *brook = json_object_get(json_object_get(response(j, 1), "Body"), "fields");
	assert_string_equal(S(ada, "name"), "Ada Lovelace");
	assert_null(json_object_get(ada, "ssn"));
	assert_string_equal(S(brook, "ssn"), "137-17-1413");
	json_decref(j);

	/* the same on the table endpoint: only CA rows and names starting with B */
	char path[256];
	snprintf(path, sizeof(path), "%s/persons?redaction=PLAIN_TEXT", E.vault_path);
	j = http_json(&E, "GET", path, auditor, NULL, &st);
	assert_int_equal(st, 200);
	size_t i;
	json_t *r;
	assert_true(json_array_size(json_object_get(j, "records")) >= 2);
	json_array_foreach(json_object_get(j, "records"), i, r) {
		json_t *f = json_object_get(r, "fields");
		const char *where = S(f, "state"), *name = S(f, "name");
		assert_true((where && !strcmp(where, "CA")) || (name && name[0] == 'B'));
		assert_true(!where || strcmp(where, "CA") != 0 || !json_object_get(f, "ssn"));
	}
	json_decref(j);
	/* DENY TOKENIZATION beats ALLOW TOKENIZATION */
	json_t *b = json_pack("{s:[{s:s, s:s}]}", "tokenizationParameters", "value", "1",
	                      "columnGroup", "ssn");
	snprintf(path, sizeof(path), "%s/tokenize", E.vault_path);
	j = http_json(&E, "POST", path, auditor, b, &st);
	assert_int_equal(st, 403);
	json_decref(j);
	json_decref(b);
	/* detokenize at the auditor's ceiling: Brook's ssn token is bound to Brook's row (READ
	 * PLAIN_TEXT by name LIKE 'B%'); Ada's to a CA row whose ssn is denied; a deterministic
	 * email token stands for a value, not a row, so only READs without WHERE count: none */
	j = batch(admin,
	          "{\"records\":["
	          "{\"method\":\"GET\",\"tableName\":\"persons\",\"ID\":\"" BROOK "\","
	          " \"tokenization\":true},"
	          "{\"method\":\"GET\",\"tableName\":\"persons\",\"ID\":\"" ADA "\","
	          " \"tokenization\":true}]}",
	          &st);
	assert_int_equal(st, 200);
	b = json_pack("{s:[{s:O, s:s}, {s:O, s:s}, {s:O, s:s}]}", "detokenizationParameters",
	              "token", json_object_get(json_object_get(response(j, 0), "fields"), "ssn"),
	              "redaction", "PLAIN_TEXT", "token",
	              json_object_get(json_object_get(response(j, 1), "fields"), "ssn"),
	              "redaction", "PLAIN_TEXT", "token",
	              json_object_get(json_object_get(response(j, 0), "fields"), "email_address"),
	              "redaction", "PLAIN_TEXT");
	json_decref(j);
	snprintf(path, sizeof(path), "%s/detokenize", E.vault_path);
	j = http_json(&E, "POST", path, auditor, b, &st);
	assert_int_equal(st, 200);
	assert_string_equal(S(json_array_get(json_object_get(j, "records"), 0), "value"),
	                    "137-17-1413");
	assert_string_equal(S(json_array_get(json_object_get(j, "records"), 1), "value"),
	                    "*REDACTED*");
	assert_string_equal(S(json_array_get(json_object_get(j, "records"), 2), "value"),
	                    "*REDACTED*");
	json_decref(j);
	j = http_json(&E, "POST", path, admin, b, &st);
	assert_int_equal(st, 200);
	assert_string_equal(S(json_array_get(json_object_get(j, "records"), 2), "value"),
	                    "brook.okafor@example.com");
	json_decref(j);
	json_decref(b);
	/* undo the writes that went through */
	j = batch(admin,
	          "{\"records\":[{\"method\":\"PUT\",\"tableName\":\"persons\",\"ID\":\"" BROOK
	          "\",\"fields\":{\"date_of_birth\":\"1952-02-04\"}}]}",
	          &st);
	assert_int_equal(st, 200);
	json_decref(j);
}

static void garbage(void **state)
{
	static const struct {
		const char *body;
		long status;
	} cases[] = {
	    {"{}", 400},
	    {"{\"records\":{}}", 400},
	    {"{\"records\":[]}", 400},
	    {"{\"records\":[1]}", 400},
	    {"{\"records\":[{}]}", 400},
	    {"{\"records\":[{\"method\":\"PATCH\",\"tableName\":\"persons\"}]}", 400},
	    {"{\"records\":[{\"method\":\"NONE\",\"tableName\":\"persons\"}]}", 400},
	    {"{\"records\":[{\"method\":\"POST\"}]}", 400},
	    {"{\"records\":[{\"method\":\"POST\",\"tableName\":\"persons\"}]}", 400},
	    {"{\"records\":[{\"method\":\"POST\",\"tableName\":\"persons\",\"fields\":[]}]}", 400},
	    {"{\"records\":[{\"method\":\"POST\",\"tableName\":\"persons\",\"fields\":{\"x\":1}}]}",
	     400},
	    {"{\"records\":[{\"method\":\"POST\",\"tableName\":\"persons\",\"ID\":\"a\","
	     "\"fields\":{\"name\":\"n\"}}]}",
	     400},
	    {"{\"records\":[{\"method\":\"GET\",\"tableName\":\"persons\"}]}", 400},
	    {"{\"records\":[{\"method\":\"GET\",\"tableName\":\"persons\",\"ID\":\"" ADA "\","
	     "\"redaction\":\"LOUD\"}]}",
	     400},
	    {"{\"records\":[{\"method\":\"GET\",\"tableName\":\"persons\",\"ID\":\"" ADA "\","
	     "\"fields\":{\"name\":\"n\"}}]}",
	     400},
	    {"{\"records\":[{\"method\":\"DELETE\",\"tableName\":\"persons\",\"ID\":\"" ADA "\","
	     "\"redaction\":\"PLAIN_TEXT\"}]}",
	     400},
	    {"{\"records\":[{\"method\":\"PUT\",\"tableName\":\"persons\",\"ID\":\"" ADA "\","
	     "\"fields\":{\"name\":\"n\"},\"upsert\":\"ssn\"}]}",
	     400},
	    {"{\"records\":[{\"method\":\"GET\",\"tableName\":\"persons\",\"ID\":7}]}", 400},
	    {"{\"records\":[{\"method\":\"GET\",\"tableName\":\"persons\","
	     "\"ID\":\"$responses.0.records.0.skyflow_id\"}]}",
	     400},
	    {"{\"records\":[{\"method\":\"GET\",\"tableName\":\"persons\","
	     "\"ID\":\"$responses.a.b.c.d.e.f.g.h.i.j.k.l.m.n.o.p.q.r\"}]}",
	     400},
	    {"{\"records\":[{\"method\":\"GET\",\"tableName\":\"persons\",\"ID\":\"$responses\"}]}",
	     400},
	    {"{\"records\":[{\"method\":\"POST\",\"tableName\":\"persons\","
	     "\"fields\":{\"name\":\"n\"},\"tokens\":{\"ssn\":\"t\"}}]}",
	     400},
	    {"{\"records\":[{\"method\":\"POST\",\"tableName\":\"persons\","
	     "\"fields\":{\"name\":\"n\"},\"tokenization\":\"yes\"}]}",
	     400},
	    {"{\"records\":[{\"method\":\"POST\",\"tableName\":\"persons\","
	     "\"fields\":{\"name\":\"n\"},\"homogeneous\":true}]}",
	     400},
	    {"{\"byot\":\"ENABLE\",\"records\":[{\"method\":\"GET\",\"tableName\":\"persons\","
	     "\"ID\":\"" ADA "\"}]}",
	     400},
	    {"{\"continueOnError\":\"yes\",\"records\":[{\"method\":\"GET\",\"tableName\":"
	     "\"persons\","
	     "\"ID\":\"" ADA "\"}]}",
	     400},
	    {"{\"records\":[{\"method\":\"POST\",\"tableName\":\"query\","
	     "\"fields\":{\"query\":\"SELECT * FROM persons\"}}]}",
	     404},
	    {"{\"records\":[{\"method\":\"POST\",\"tableName\":\"detokenize\",\"fields\":{\"a\":1}}"
	     "]}",
	     404},
	    {"{\"records\":[{\"method\":\"GET\",\"tableName\":\"persons\",\"ID\":\"$responses.0."
	     "\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9"
	     "\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9"
	     "\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9"
	     "\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9"
	     "\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9"
	     "\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9"
	     "\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9"
	     "\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9"
	     "\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9"
	     "\"}]}",
	     400},
	    {"{\"records\":[{\"method\":\"GET\",\"tableName\":\"persons\",\"ID\":\"x\","
	     "\"\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9"
	     "\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9"
	     "\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9"
	     "\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9"
	     "\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9"
	     "\":1}]}",
	     400},
	    {"{\"records\":[{\"method\":\"GET\",\"tableName\":\"persons\",\"ID\":\"../../x\"}]}",
	     404},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		long st;
		json_t *j = batch(admin, cases[i].body, &st);
		if (st != cases[i].status)
			fprintf(stderr, "case %zu: %s -> %ld\n", i, cases[i].body, st);
		assert_int_equal(st, cases[i].status);
		assert_skyflow_error(j, st);
		json_decref(j);
	}
	/* 101 records; and GET on the batch path */
	json_t *recs = json_array(), *b;
	for (int i = 0; i < 101; i++)
		json_array_append_new(recs, json_pack("{s:s, s:s, s:s}", "method", "GET",
		                                      "tableName", "persons", "ID", ADA));
	b = json_pack("{s:o}", "records", recs);
	long st;
	json_t *j = http_json(&E, "POST", E.vault_path, admin, b, &st);
	assert_int_equal(st, 400);
	json_decref(j);
	json_array_remove(recs, 0);
	j = http_json(&E, "POST", E.vault_path, admin, b, &st);
	assert_int_equal(st, 200);
	assert_int_equal(json_array_size(json_object_get(j, "responses")), 100);
	json_decref(j);
	json_decref(b);
	j = http_json(&E, "GET", E.vault_path, admin, NULL, &st);
	assert_int_equal(st, 405);
	json_decref(j);
	j = http_json(&E, "POST", E.vault_path, NULL, NULL, &st);
	assert_int_equal(st, 401);
	json_decref(j);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(admin_every_method),
	    cmocka_unit_test(upsert_updates_the_row),
	    cmocka_unit_test(viewer_writes_refused),
	    cmocka_unit_test(reads_as_single_record),
	    cmocka_unit_test(all_or_nothing),
	    cmocka_unit_test(continue_on_error),
	    cmocka_unit_test(deterministic_tokens),
	    cmocka_unit_test(deny_or_like),
	    cmocka_unit_test(garbage),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
