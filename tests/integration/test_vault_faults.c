/* SPDX-License-Identifier: MIT */
/*
 * The vault operations when Skyflow misbehaves or the data is large: 403, 404, 429, 500 and
 * malformed JSON mapped to their codes with the upstream status and request id; a 401 on a
 * cached token followed by one fresh exchange and a successful retry; values of every JSON
 * type converted with their types; a 1 MiB answer served; a result over max_reply_frame
 * refused as too_large; 1,000 concurrent get_records of one new user costing one STS call.
 */
#include "vault_test.h"

static struct xe_emu E;
static struct sbt_daemon D, SMALL;
static char *admin;

#define STS "POST /v1/auth/sts/token"
#define GET_RECORDS "GET /v1/vaults/{vault_id}/{table}"

static int group_setup(void **state)
{
	char *cfg = vt_demo_config(NULL), conf[16384];
	size_t len;

	(void)state;
	curl_global_init(CURL_GLOBAL_DEFAULT);
	if (xe_emu_start(&E, cfg) < 0)
		return -1;
	free(cfg);
	sbt_daemon_init(&D);
	len = xd_broker(conf, sizeof(conf), &D, "max_request_frame = 1M\n");
	len = xd_tenant(conf, sizeof(conf), len, &E, "acme", "sts", NULL, NULL);
	/* 1,000 requests share 64 upstream connections: more than the harness's 2 s each, and
	 * on a loaded machine (a review saw 200-600 of them time out at 9 s) much more */
	xd_long_http_timeout(conf);
	(void)len;
	if (sbt_daemon_start(&D, conf, NULL) < 0)
		return -1;
	sbt_daemon_init(&SMALL);
	len = xd_broker(conf, sizeof(conf), &SMALL, "max_reply_frame = 256K\n");
	len = xd_tenant(conf, sizeof(conf), len, &E, "acme", "sts", NULL, NULL);
	if (sbt_daemon_start(&SMALL, conf, NULL) < 0)
		return -1;
	admin = xd_mint(&E, "U2admin", "Admin", 600, NULL);
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	vt_stop_clean(&D);
	vt_stop_clean(&SMALL);
	xe_emu_stop(&E);
	free(admin);
	return 0;
}

static const char *const ADA = "bf9a1506-5b6a-4016-ac62-7c534db47460";

static void fault(const char *prefix, int status, const char *body, int count)
{
	json_t *spec = json_pack("{s:s, s:i}", "path_prefix", prefix, "count", count);

	if (status)
		json_object_set_new(spec, "status", json_integer(status));
	if (body)
		json_object_set_new(spec, "body", json_string(body));
	xe_fault(&E, spec); /* takes spec */
}

static void get_ada(struct sb_reply *rep)
{
	struct sbt_client *c = xd_client(D.socket);
	struct sb_request req = vt_get_records(admin, "persons");

	req.u.get_records.skyflow_ids = VT_STRV(ADA);
	vt_call(c, &req, rep);
	sbt_client_free(c);
}

static void test_upstream_errors_mapped(void **state)
{
	static const struct {
		int status;
		const char *body;
		int count;
		enum sb_errcode code;
		bool retryable;
	} cases[] = {
		{403, NULL, 1, SB_ERR_UPSTREAM_DENIED, false},
		{400, NULL, 1, SB_ERR_UPSTREAM_DENIED, false},
		{404, NULL, 1, SB_ERR_NOT_FOUND, false},
		{429, NULL, 1, SB_ERR_RATE_LIMITED, true},
		/* a read is retried once on a 5xx: two faults reach the client */
		{500, NULL, 2, SB_ERR_UPSTREAM_UNAVAILABLE, true},
		{200, "{oops", 1, SB_ERR_UPSTREAM_UNAVAILABLE, true},
		{200, "{\"records\": [1, 2]}", 1, SB_ERR_UPSTREAM_UNAVAILABLE, true},
		{200, "[]", 1, SB_ERR_UPSTREAM_UNAVAILABLE, true},
	};
	struct sb_reply rep;

	(void)state;
	get_ada(&rep); /* a token in the cache first: the faults below hit the vault call */
	vt_expect_ok(&rep);
	sb_reply_done(&rep);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		fault("/v1/vaults/", cases[i].status, cases[i].body, cases[i].count);
		get_ada(&rep);
		vt_expect_error(&rep, cases[i].code);
		assert_int_equal(rep.error.retryable, cases[i].retryable);
		assert_true(rep.error.upstream_status.set);
		assert_int_equal(rep.error.upstream_status.v, cases[i].status);
		assert_non_null(rep.error.request_id);
		if (cases[i].status >= 400) /* Skyflow's own words, after ours */
			assert_non_null(strstr(rep.error.message, "Injected fault"));
		sb_reply_done(&rep);
	}
	/* and the next call is fine again */
	get_ada(&rep);
	vt_expect_ok(&rep);
	sb_reply_done(&rep);
}

/* A cached token refused with 401 (revoked before its expiry): dropped, exchanged again once,
 * and the request succeeds. */
static void test_401_drops_the_token_and_retries_once(void **state)
{
	struct sb_reply rep;
	long sts;

	(void)state;
	get_ada(&rep);
	vt_expect_ok(&rep);
	sb_reply_done(&rep);
	sts = xe_count(&E, STS);
	fault("/v1/vaults/", 401, NULL, 1);
	get_ada(&rep);
	vt_expect_ok(&rep);
	sb_reply_done(&rep);
	assert_int_equal(xe_count(&E, STS), sts + 1);
	/* the fresh token is cached: no further exchange */
	get_ada(&rep);
	vt_expect_ok(&rep);
	sb_reply_done(&rep);
	assert_int_equal(xe_count(&E, STS), sts + 1);
	/* two 401s in a row: the retry's 401 is the answer */
	fault("/v1/vaults/", 401, NULL, 2);
	get_ada(&rep);
	vt_expect_error(&rep, SB_ERR_UPSTREAM_DENIED);
	assert_int_equal(rep.error.upstream_status.v, 401);
	sb_reply_done(&rep);
	assert_true(sbt_log_contains(&D, "was refused upstream; dropped"));
}

/* Every JSON type comes back as the msgpack type it is. */
static void test_value_types_kept(void **state)
{
	struct sb_reply rep;
	const msgpack_object *f;

	(void)state;
	fault("/v1/vaults/", 200,
	      "{\"records\":[{\"fields\":{\"s\":\"x\\u00e9\",\"i\":-5,\"u\":9007199254740993,"
	      "\"f\":1.5,\"t\":true,\"b\":false,\"n\":null,\"m\":{\"a\":[1,\"b\",{\"c\":[]}]}}}]}",
	      1);
	get_ada(&rep);
	vt_expect_ok(&rep);
	f = vt_get(&rep.u.records.records->via.array.ptr[0], "fields");
	assert_true(vt_is_str(vt_get(f, "s"), "x\xc3\xa9"));
	assert_int_equal(vt_get(f, "i")->type, MSGPACK_OBJECT_NEGATIVE_INTEGER);
	assert_int_equal(vt_get(f, "i")->via.i64, -5);
	assert_int_equal(vt_get(f, "u")->type, MSGPACK_OBJECT_POSITIVE_INTEGER);
	assert_int_equal(vt_get(f, "u")->via.u64, 9007199254740993ull);
	assert_int_equal(vt_get(f, "f")->type, MSGPACK_OBJECT_FLOAT64);
	assert_true(vt_get(f, "f")->via.f64 == 1.5);
	assert_int_equal(vt_get(f, "t")->type, MSGPACK_OBJECT_BOOLEAN);
	assert_true(vt_get(f, "t")->via.boolean);
	assert_false(vt_get(f, "b")->via.boolean);
	assert_int_equal(vt_get(f, "n")->type, MSGPACK_OBJECT_NIL);
	assert_int_equal(vt_get(vt_get(f, "m"), "a")->type, MSGPACK_OBJECT_ARRAY);
	assert_int_equal(vt_get(vt_get(f, "m"), "a")->via.array.size, 3);
	sb_reply_done(&rep);
}

#define BIG_RECORDS 25
#define BIG_VALUE (42u * 1024u)

/* Inserts n records whose name is a BIG_VALUE-byte string; their ids go to ids[]. */
static void insert_big(struct sbt_client *c, char **ids, unsigned n, char *value)
{
	msgpack_object_kv kv[BIG_RECORDS];
	msgpack_object recs[BIG_RECORDS], arr;
	struct sb_request req = {.op = SB_OP_INSERT_RECORDS};
	struct sb_reply rep;

	for (unsigned i = 0; i < n; i++) {
		kv[i].key = (msgpack_object){.type = MSGPACK_OBJECT_STR, .via.str = {4, "name"}};
		kv[i].val = (msgpack_object){.type = MSGPACK_OBJECT_STR,
					     .via.str = {BIG_VALUE, value}};
		recs[i] = (msgpack_object){.type = MSGPACK_OBJECT_MAP, .via.map = {1, &kv[i]}};
	}
	arr = (msgpack_object){.type = MSGPACK_OBJECT_ARRAY, .via.array = {n, recs}};
	req.u.insert_records.subject_token = admin;
	req.u.insert_records.table = "persons";
	req.u.insert_records.records = &arr;
	vt_call(c, &req, &rep);
	vt_expect_ok(&rep);
	for (unsigned i = 0; i < n; i++)
		ids[i] = vt_strdup(vt_get(&rep.u.records.records->via.array.ptr[i], "skyflow_id"));
	sb_reply_done(&rep);
}

/* A 1 MiB answer is served whole; the same result over a 256 KiB max_reply_frame is
 * too_large, and that connection goes on. */
static void test_large_answers(void **state)
{
	struct sbt_client *c = xd_client(D.socket), *s = xd_client(SMALL.socket);
	char *ids[BIG_RECORDS], *value = malloc(BIG_VALUE + 1);
	struct sb_request req = vt_get_records(admin, "persons");
	struct sb_strv sv = {.set = true, .n = BIG_RECORDS, .v = (const char **)ids};
	struct sb_reply rep;

	(void)state;
	memset(value, 'v', BIG_VALUE);
	value[BIG_VALUE] = '\0';
	/* the emulator takes at most 1 MiB per request body: two inserts */
	insert_big(c, ids, 12, value);
	insert_big(c, ids + 12, BIG_RECORDS - 12, value);
	req.u.get_records.skyflow_ids = sv;
	req.u.get_records.redaction = "PLAIN_TEXT";
	vt_call(c, &req, &rep);
	vt_expect_ok(&rep);
	assert_int_equal(rep.u.records.records->via.array.size, BIG_RECORDS);
	for (unsigned i = 0; i < BIG_RECORDS; i++) {
		const msgpack_object *name = vt_field(vt_record(rep.u.records.records, ids[i]),
						      "name");

		assert_non_null(name);
		assert_int_equal(name->via.str.size, BIG_VALUE);
	}
	sb_reply_done(&rep);
	assert_true(sbt_log_wait(&D, "records=25 upstream_status=200", SBT_TIMEOUT_MS) == 0);

	vt_call(s, &req, &rep);
	vt_expect_error(&rep, SB_ERR_TOO_LARGE);
	assert_non_null(strstr(rep.error.message, "max_reply_frame"));
	sb_reply_done(&rep);
	assert_int_equal(sbt_ping(s), 0);
	for (unsigned i = 0; i < BIG_RECORDS; i++)
		free(ids[i]);
	free(value);
	sbt_client_free(c);
	sbt_client_free(s);
}

#define LOAD_CONNS 40
#define LOAD_PER_CONN 25

/* 1,000 get_records of one user nobody has seen yet, all in flight at once: one exchange. */
static void test_thousand_concurrent_one_exchange(void **state)
{
	char *fresh = xd_mint(&E, "U2fresh", "Viewer", 600, NULL);
	struct sbt_client *c[LOAD_CONNS];
	long sts = xe_count(&E, STS), gets = xe_count(&E, GET_RECORDS);
	unsigned ok = 0;

	(void)state;
	for (int i = 0; i < LOAD_CONNS; i++) {
		c[i] = xd_client(D.socket);
		for (int k = 0; k < LOAD_PER_CONN; k++) {
			struct sb_request req = vt_get_records(fresh, "persons");

			req.u.get_records.skyflow_ids = VT_STRV(ADA);
			assert_true(sbt_queue(c[i], &req) > 0);
		}
	}
	for (int i = 0; i < LOAD_CONNS; i++)
		assert_int_equal(sbt_flush(c[i]), 0);
	for (int i = 0; i < LOAD_CONNS; i++) {
		for (int k = 0; k < LOAD_PER_CONN; k++) {
			struct sb_reply rep;

			assert_int_equal(sbt_recv(c[i], &rep), 0);
			ok += rep.ok;
			if (!rep.ok)
				fprintf(stderr, "load: %s: %s\n", sb_errcode_name(rep.error.code),
					rep.error.message);
			sb_reply_done(&rep);
		}
		sbt_client_free(c[i]);
	}
	assert_int_equal(ok, LOAD_CONNS * LOAD_PER_CONN);
	assert_int_equal(xe_count(&E, STS), sts + 1);
	assert_int_equal(xe_count(&E, GET_RECORDS), gets + LOAD_CONNS * LOAD_PER_CONN);
	free(fresh);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_upstream_errors_mapped),
		cmocka_unit_test(test_401_drops_the_token_and_retries_once),
		cmocka_unit_test(test_value_types_kept),
		cmocka_unit_test(test_large_answers),
		cmocka_unit_test(test_thousand_concurrent_one_exchange),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
