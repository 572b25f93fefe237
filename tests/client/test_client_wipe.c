/* SPDX-License-Identifier: MIT */
/*
 * What the library frees holds no secret: every free() and msgpack_zone_free() made in the
 * client's thread is searched for the subject token, the records' values (strings and
 * numbers, in both directions) and an exposed access token. Linked with
 * -Wl,--wrap=free,--wrap=msgpack_zone_free over the library's objects; the fake broker in
 * its own thread is not watched.
 */
#include <malloc.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "client/skybroker.h"
#include "fakebroker.h"

#define SUBJECT "SUBJECT.TOKEN-MARKER-0123456789abcdef.SIGNATURE"
#define VALUE "RECORD-VALUE-MARKER-Ada-Lovelace"
#define ACCESS "ACCESS-TOKEN-MARKER-fedcba9876543210"
#define NUMBER 0x1122334455667788ull
#define NUMBER_TEXT "1234605616436508552"
#define INSERTED "INSERTED-VALUE-MARKER-Grace"
#define INSERTED_NUMBER 987654321987ull

static _Thread_local bool armed;
static struct {
	unsigned checked;
	unsigned found;
	char what[128];
} watch;

void __real_free(void *p);
void __wrap_free(void *p);
void __real_msgpack_zone_free(msgpack_zone *z);
void __wrap_msgpack_zone_free(msgpack_zone *z);

/* Records the first marker found in p[0..n). */
static void scan(const void *p, size_t n, const char *where)
{
	static const char *markers[] = {"MARKER"};
	const uint64_t nums[] = {NUMBER, INSERTED_NUMBER};

	watch.checked++;
	for (size_t i = 0; i < sizeof(markers) / sizeof(markers[0]); i++)
		if (memmem(p, n, markers[i], strlen(markers[i])) ||
		    memmem(p, n, NUMBER_TEXT, strlen(NUMBER_TEXT))) {
			if (watch.found++ == 0)
				snprintf(watch.what, sizeof(watch.what), "text in a %s: %.60s", where,
					 (const char *)memmem(p, n, "MARKER", 6) ?: NUMBER_TEXT);
			return;
		}
	for (size_t i = 0; i < 2; i++)
		if (memmem(p, n, &nums[i], sizeof(nums[i]))) {
			if (watch.found++ == 0)
				snprintf(watch.what, sizeof(watch.what), "number %llu in a %s",
					 (unsigned long long)nums[i], where);
			return;
		}
}

void __wrap_free(void *p)
{
	if (armed && p) {
		armed = false; /* snprintf may allocate */
		scan(p, malloc_usable_size(p), "freed block");
		armed = true;
	}
	__real_free(p);
}

/* msgpack-c's chunk: a next pointer, then the data, in one malloc'd block. */
struct chunk {
	struct chunk *next;
};

void __wrap_msgpack_zone_free(msgpack_zone *z)
{
	if (armed && z) {
		armed = false;
		for (struct chunk *c = (struct chunk *)z->chunk_list.head; c; c = c->next)
			scan(c + 1, malloc_usable_size(c) - sizeof(*c), "msgpack zone");
		armed = true;
	}
	__real_msgpack_zone_free(z);
}

/* The fake broker: hello, then one answer per operation, full of markers. */
static void sc_records(struct fake *f, int fd)
{
	struct sb_request req;

	if (!fake_hello(f, fd, 1, 1 << 20))
		return;
	while (fake_read_request(f, fd, &req)) {
		struct sb_reply rep = {.ok = true, .op = req.op, .id = req.id};
		msgpack_zone *z = msgpack_zone_new(4096);
		msgpack_sbuffer sb;
		msgpack_packer pk;
		msgpack_object o;
		size_t off = 0;

		msgpack_sbuffer_init(&sb);
		msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
		msgpack_pack_array(&pk, 1);
		msgpack_pack_map(&pk, 1);
		msgpack_pack_str_with_body(&pk, "fields", 6);
		msgpack_pack_map(&pk, 3);
		msgpack_pack_str_with_body(&pk, "name", 4);
		msgpack_pack_str_with_body(&pk, VALUE, strlen(VALUE));
		msgpack_pack_str_with_body(&pk, "n", 1);
		msgpack_pack_uint64(&pk, NUMBER);
		msgpack_pack_str_with_body(&pk, "skyflow_id", 10);
		msgpack_pack_str_with_body(&pk, "id-1", 4);
		msgpack_unpack(sb.data, sb.size, &off, z, &o);
		if (req.op == SB_OP_EXCHANGE)
			rep.u.exchange = (struct sb_exchange_result){
				.expires_at = 1, .token_type = "Bearer",
				.issued_token_type = "urn:ietf:params:oauth:token-type:jwt",
				.access_token = ACCESS};
		else
			rep.u.records.records = &o;
		sb_request_done(&req);
		fake_send_reply(fd, &rep);
		msgpack_sbuffer_destroy(&sb);
		msgpack_zone_free(z);
	}
}

static void test_nothing_secret_is_freed(void **state)
{
	struct fake f;
	struct skybroker_error e;
	skybroker_result *res;
	skybroker *h;
	char *json;
	const char *ids[] = {"id-1"};
	struct skybroker_get_records_args g = {.table = "persons", .skyflow_ids = ids,
					       .n_skyflow_ids = 1};
	struct skybroker_insert_args ins = {
		.table = "persons",
		.records_json = "[{\"name\":\"" INSERTED "\",\"n\":987654321987}]"};
	int r[4];

	(void)state;
	fake_start(&f, sc_records);
	armed = true;
	r[0] = skybroker_connect(f.path, "wipe-test/1", 5000, &h, &e);
	r[1] = skybroker_get_records(h, SUBJECT, &g, 5000, &res, &e);
	if (r[1] == 0) {
		/* read it as a tree and as JSON, as an MCP server would */
		const skybroker_value *rec = skybroker_value_at(
			skybroker_value_get(skybroker_result_root(res), "records"), 0);
		const skybroker_value *fields = skybroker_value_get(rec, "fields");

		r[1] = strcmp(skybroker_value_string(skybroker_value_get(fields, "name"), NULL),
			      VALUE) != 0 ||
		       skybroker_value_uint(skybroker_value_get(fields, "n")) != NUMBER;
		if (skybroker_result_json(res, SKYBROKER_JSON_PRETTY, &json, NULL) == 0)
			skybroker_json_free(json);
		skybroker_result_free(res);
	}
	r[2] = skybroker_insert_records(h, SUBJECT, &ins, 5000, NULL, &e);
	r[3] = skybroker_exchange(h, SUBJECT, 5000, &res, &e);
	if (r[3] == 0) {
		r[3] = strcmp(skybroker_value_string(skybroker_value_get(skybroker_result_root(res),
									 "access_token"), NULL),
			      ACCESS) != 0;
		skybroker_result_free(res);
	}
	skybroker_free(h);
	armed = false;
	fake_stop(&f);
	for (int i = 0; i < 4; i++)
		assert_int_equal(r[i], 0);
	print_message("  %u blocks and zones freed by the client, searched\n", watch.checked);
	assert_true(watch.checked > 10);
	if (watch.found)
		fail_msg("%u freed blocks held a secret; the first: %s", watch.found, watch.what);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_nothing_secret_is_freed),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
