/* SPDX-License-Identifier: MIT */
/*
 * skybrokerd basics: hello, ping, health, stats on the admin socket, pipelining, and the
 * protocol's error handling (oversized frame, garbage, op before hello, bad fields, unknown
 * ops), each while a well-behaved client keeps being served.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"
#include "proto/limits.h"

static struct sbt_daemon D;
static struct sbt_client *good; /* a well-behaved client that stays connected throughout */

static int group_setup(void **state)
{
	char conf[8192];
	const char *names[] = {"acme"};
	const char *extra[] = {"allow_uids = 0\nallow_operations = ping, health, get_records\n"};

	(void)state;
	sbt_daemon_init(&D);
	sbt_config(&D, conf, sizeof(conf), "log_level = debug\n", 1, names, extra);
	if (sbt_daemon_start(&D, conf, NULL) < 0)
		return -1;
	good = sbt_connect(D.socket);
	if (!good || sbt_hello(good, NULL) < 0)
		return -1;
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	sbt_client_free(good);
	return sbt_daemon_stop(&D) == 0 ? 0 : -1;
}

static void assert_good_client_served(void)
{
	assert_int_equal(sbt_ping(good), 0);
}

static void test_root_warning(void **state)
{
	(void)state;
	assert_true(sbt_log_contains(&D, "running as root (--allow-root)"));
	assert_true(sbt_log_contains(&D, "<4>")); /* the warning carries its priority prefix */
}

static void test_hello_ping_health(void **state)
{
	struct sbt_client *c = sbt_connect(D.socket);
	struct sb_reply rep;
	bool has_ping = false, has_stats = false;

	(void)state;
	assert_non_null(c);
	assert_int_equal(sbt_hello(c, &rep), 0);
	assert_int_equal(rep.u.hello.version, 1);
	assert_string_equal(rep.u.hello.tenant, "acme");
	assert_true(strncmp(rep.u.hello.server, "skybrokerd/", 11) == 0);
	assert_int_equal(rep.u.hello.max_request_frame, SB_MAX_REQUEST_FRAME_DEFAULT);
	assert_int_equal(rep.u.hello.max_reply_frame, SB_MAX_REPLY_FRAME_DEFAULT);
	for (uint32_t i = 0; i < rep.u.hello.operations.n; i++) {
		has_ping |= strcmp(rep.u.hello.operations.v[i], "ping") == 0;
		has_stats |= strcmp(rep.u.hello.operations.v[i], "stats") == 0;
	}
	assert_true(has_ping);
	assert_false(has_stats); /* admin socket only */
	sb_reply_done(&rep);

	assert_int_equal(sbt_ping(c), 0);

	assert_int_equal(sbt_call(c, SB_OP_HEALTH, &rep), 0);
	assert_true(rep.ok);
	assert_true(rep.u.health.ready);
	assert_string_equal(rep.u.health.tenant, "acme");
	assert_int_equal(rep.u.health.reasons.n, 0);
	sb_reply_done(&rep);

	/* stats is not for tenant sockets */
	assert_int_equal(sbt_call(c, SB_OP_STATS, &rep), 0);
	assert_false(rep.ok);
	assert_string_equal(sbt_outcome(&rep), "forbidden");
	sb_reply_done(&rep);

	/* allowed by policy but not implemented by this build: an error, connection stays */
	{
		struct sb_request q = {.op = SB_OP_QUERY};
		q.u.query.subject_token = "not.a.token";
		q.u.query.query = "select 1";
		assert_true(sbt_send(c, &q) > 0);
	}
	assert_int_equal(sbt_recv(c, &rep), 0);
	assert_false(rep.ok);
	sb_reply_done(&rep);
	assert_int_equal(sbt_ping(c), 0);
	sbt_client_free(c);

	assert_int_equal(sbt_log_wait(&D, "op=health", SBT_TIMEOUT_MS), 0);
	assert_true(sbt_log_contains(&D, "audit: conn="));
	assert_true(sbt_log_contains(&D, "tenant=acme op=ping"));
}

static void test_pipelined_100(void **state)
{
	struct sbt_client *c = sbt_connect(D.socket);
	bool seen[100] = {false};

	(void)state;
	assert_non_null(c);
	assert_int_equal(sbt_hello(c, NULL), 0);
	/* 100 requests in one write; replies may come in any order, matched by id */
	for (int i = 0; i < 100; i++) {
		struct sb_request req = {.op = i % 2 ? SB_OP_PING : SB_OP_HEALTH,
					 .id = 1000 + (uint64_t)i};
		assert_true(sbt_queue(c, &req) > 0);
	}
	assert_int_equal(sbt_flush(c), 0);
	for (int i = 0; i < 100; i++) {
		struct sb_reply rep;
		assert_int_equal(sbt_recv(c, &rep), 0);
		assert_true(rep.ok);
		assert_true(rep.id >= 1000 && rep.id < 1100);
		assert_false(seen[rep.id - 1000]);
		seen[rep.id - 1000] = true;
		assert_int_equal(rep.op, (rep.id - 1000) % 2 ? SB_OP_PING : SB_OP_HEALTH);
		sb_reply_done(&rep);
	}
	sbt_client_free(c);
	assert_good_client_served();
}

static void expect_error_then_close(struct sbt_client *c, uint64_t id, const char *code)
{
	struct sb_reply rep;

	assert_int_equal(sbt_recv(c, &rep), 0);
	assert_false(rep.ok);
	assert_int_equal(rep.id, id);
	assert_string_equal(sbt_outcome(&rep), code);
	sb_reply_done(&rep);
	assert_int_equal(sbt_wait_closed(c), 0);
}

static void test_oversized_frame(void **state)
{
	struct sbt_client *c = sbt_connect(D.socket);
	uint8_t hdr[4];

	(void)state;
	assert_non_null(c);
	/* before hello, the small cap applies */
	sb_be32_put(hdr, SB_MAX_HELLO_FRAME + 1);
	assert_int_equal(sbt_send_raw(c, hdr, 4), 0);
	expect_error_then_close(c, 0, "too_large");
	sbt_client_free(c);

	/* after hello, max_request_frame applies; the body is never sent */
	c = sbt_connect_hello(D.socket);
	sb_be32_put(hdr, 0x7fffffffu);
	assert_int_equal(sbt_send_raw(c, hdr, 4), 0);
	expect_error_then_close(c, 0, "too_large");
	sbt_client_free(c);
	assert_good_client_served();
	assert_true(sbt_log_contains(&D, "frame larger than"));
}

static void test_garbage(void **state)
{
	static const uint8_t garbage[] = {0, 0, 0, 8, 0xc1, 0xc1, 0xff, 0x00, 0x13, 0x37, 0xde, 0xad};
	struct sbt_client *c;

	(void)state;
	/* undecodable before hello */
	c = sbt_connect(D.socket);
	assert_non_null(c);
	assert_int_equal(sbt_send_raw(c, garbage, sizeof(garbage)), 0);
	expect_error_then_close(c, 0, "bad_request");
	sbt_client_free(c);

	/* undecodable after hello: still fatal (the id is unknown) */
	c = sbt_connect_hello(D.socket);
	assert_int_equal(sbt_send_raw(c, garbage, sizeof(garbage)), 0);
	expect_error_then_close(c, 0, "bad_request");
	sbt_client_free(c);

	/* a zero-length frame */
	c = sbt_connect(D.socket);
	assert_non_null(c);
	assert_int_equal(sbt_send_raw(c, "\0\0\0\0", 4), 0);
	expect_error_then_close(c, 0, "bad_request");
	sbt_client_free(c);
	assert_good_client_served();
}

/* Appends a msgpack array32 header of n entries to buf at *o. */
static void put_array32(uint8_t *buf, size_t *o, uint32_t n)
{
	buf[(*o)++] = 0xdd;
	sb_be32_put(buf + *o, n);
	*o += 4;
}

/* A frame {"id":1,"op":"ping","x":<value>} whose value is written by fill; returns its size. */
static size_t frame_with_value(uint8_t *buf, void (*fill)(uint8_t *buf, size_t *o))
{
	static const uint8_t head[] = {0x83, 0xa2, 'i', 'd', 0x01, 0xa2, 'o', 'p', 0xa4, 'p', 'i',
				       'n', 'g', 0xa1, 'x'};
	size_t o = 4;

	memcpy(buf + o, head, sizeof(head));
	o += sizeof(head);
	fill(buf, &o);
	sb_be32_put(buf, (uint32_t)(o - 4));
	return o;
}

static void fill_4097_nils(uint8_t *buf, size_t *o)
{
	put_array32(buf, o, 4097);
	memset(buf + *o, 0xc0, 4097);
	*o += 4097;
}

static void fill_depth_17(uint8_t *buf, size_t *o)
{
	for (int i = 0; i < 16; i++) /* the map is depth 1: 16 arrays more make 17 */
		buf[(*o)++] = 0x91;
	buf[(*o)++] = 0xc0;
}

/* PROTOCOL.md section 8: a payload over a limit of section 3 is answered too_large, not
 * bad_request (issue 9, item 8: dispatch dropped mpcheck's -EMSGSIZE). */
static void test_limits_answer_too_large(void **state)
{
	void (*fills[])(uint8_t *, size_t *) = {fill_4097_nils, fill_depth_17};
	uint8_t buf[8192];

	(void)state;
	for (size_t i = 0; i < sizeof(fills) / sizeof(fills[0]); i++) {
		struct sbt_client *c = sbt_connect_hello(D.socket);
		size_t n = frame_with_value(buf, fills[i]);

		assert_int_equal(sbt_send_raw(c, buf, n), 0);
		expect_error_then_close(c, 0, "too_large");
		sbt_client_free(c);
	}
	assert_good_client_served();
}

static void test_op_before_hello(void **state)
{
	struct sbt_client *c = sbt_connect(D.socket);
	struct sb_request req = {.op = SB_OP_PING, .id = 7};

	(void)state;
	assert_non_null(c);
	assert_true(sbt_send(c, &req) > 0);
	expect_error_then_close(c, 7, "bad_request");
	sbt_client_free(c);
	assert_good_client_served();
	assert_true(sbt_log_contains(&D, "ping before hello"));
}

static void test_unsupported_version(void **state)
{
	struct sbt_client *c = sbt_connect(D.socket);
	uint64_t versions[] = {2, 3};
	struct sb_request req = {.op = SB_OP_HELLO};

	(void)state;
	assert_non_null(c);
	req.u.hello.versions = (struct sb_u64v){.set = true, .n = 2, .v = versions};
	req.u.hello.client = "future/9";
	assert_true(sbt_send(c, &req) > 0);
	expect_error_then_close(c, 1, "unsupported_version");
	sbt_client_free(c);
}

static void test_errors_keep_connection(void **state)
{
	/* after hello: an unknown op and a request with a missing field are answered with
	 * their id, and the connection stays usable */
	struct sbt_client *c = sbt_connect(D.socket);
	/* {id: 5, op: "frobnicate"} */
	static const uint8_t unknown_op[] = {0, 0, 0, 0x10, 0x82, 0xa2, 'i', 'd', 0x05, 0xa2, 'o', 'p',
					    0xaa, 'f', 'r', 'o', 'b', 'n', 'i', 'c', 'a', 't', 'e'};
	/* {id: 6, op: "get_records"} without subject_token/table */
	static const uint8_t missing[] = {0, 0, 0, 0x11, 0x82, 0xa2, 'i', 'd', 0x06, 0xa2, 'o', 'p',
					 0xab, 'g', 'e', 't', '_', 'r', 'e', 'c', 'o', 'r', 'd', 's'};
	struct sb_reply rep;
	uint8_t fixed[sizeof(unknown_op)];

	(void)state;
	assert_non_null(c);
	assert_int_equal(sbt_hello(c, NULL), 0);
	memcpy(fixed, unknown_op, sizeof(fixed));
	sb_be32_put(fixed, sizeof(unknown_op) - 4);
	assert_int_equal(sbt_send_raw(c, fixed, sizeof(fixed)), 0);
	assert_int_equal(sbt_recv(c, &rep), 0);
	assert_false(rep.ok);
	assert_int_equal(rep.id, 5);
	assert_string_equal(sbt_outcome(&rep), "bad_request");
	assert_string_equal(rep.error.message, "unknown operation");
	sb_reply_done(&rep);

	{
		uint8_t m[sizeof(missing)];
		memcpy(m, missing, sizeof(m));
		sb_be32_put(m, sizeof(missing) - 4);
		assert_int_equal(sbt_send_raw(c, m, sizeof(m)), 0);
	}
	assert_int_equal(sbt_recv(c, &rep), 0);
	assert_false(rep.ok);
	assert_int_equal(rep.id, 6);
	assert_string_equal(sbt_outcome(&rep), "bad_request");
	sb_reply_done(&rep);

	/* a second hello is an error, not fatal */
	assert_int_equal(sbt_hello(c, &rep), -EPROTO);
	assert_string_equal(sbt_outcome(&rep), "bad_request");
	sb_reply_done(&rep);

	assert_int_equal(sbt_ping(c), 0);
	sbt_client_free(c);
}

static void test_admin_stats(void **state)
{
	struct sbt_client *c = sbt_connect(D.admin);
	struct sb_reply rep;

	(void)state;
	assert_non_null(c);
	assert_int_equal(sbt_hello(c, &rep), 0);
	assert_string_equal(rep.u.hello.tenant, "@admin");
	sb_reply_done(&rep);
	assert_int_equal(sbt_call(c, SB_OP_STATS, &rep), 0);
	assert_true(rep.ok);
	assert_non_null(rep.u.stats.connections);
	assert_int_equal(rep.u.stats.connections->type, MSGPACK_OBJECT_MAP);
	assert_int_equal(rep.u.stats.requests->type, MSGPACK_OBJECT_MAP);
	assert_true(rep.u.stats.requests->via.map.size >= 2); /* hello, ping at least */
	assert_int_equal(rep.u.stats.latency_us->type, MSGPACK_OBJECT_MAP);
	assert_int_equal(rep.u.stats.cache->type, MSGPACK_OBJECT_MAP);
	sb_reply_done(&rep);
	/* health is a tenant operation */
	assert_int_equal(sbt_call(c, SB_OP_HEALTH, &rep), 0);
	assert_false(rep.ok);
	sb_reply_done(&rep);
	sbt_client_free(c);
}

static uint64_t xorshift(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static void test_random_input(void **state)
{
	/* 300 clients send deterministic pseudo-random bytes: raw noise, well-framed noise, or
	 * noise after a valid hello. Each is answered and/or closed; nobody else notices. */
	uint64_t seed = 0x5eed5eed12345678ull;

	(void)state;
	for (int i = 0; i < 300; i++) {
		struct sbt_client *c = sbt_connect(D.socket);
		uint8_t buf[3000];
		size_t n = 1 + xorshift(&seed) % 2000, off = 0;
		int kind = i % 3;

		assert_non_null(c);
		if (kind == 2)
			assert_int_equal(sbt_hello(c, NULL), 0);
		if (kind >= 1) {
			/* a frame header that fits, then a msgpack-ish body */
			size_t body = n < 5 ? 5 : n;
			sb_be32_put(buf, (uint32_t)(body - 4));
			buf[4] = (uint8_t)(0x80 | (xorshift(&seed) % 16)); /* fixmap */
			off = 5;
			n = body;
		}
		for (; off < n; off++)
			buf[off] = (uint8_t)xorshift(&seed);
		assert_int_equal(sbt_send_raw(c, buf, n), 0);
		shutdown(c->fd, SHUT_WR);
		assert_int_equal(sbt_wait_closed(c), 0);
		sbt_client_free(c);
		if (i % 50 == 0)
			assert_good_client_served();
	}
	assert_good_client_served();
}

static void test_help_version(void **state)
{
	char out[8192];
	const char *help[] = {sbt_daemon_path(), "--help", NULL};
	const char *version[] = {sbt_daemon_path(), "--version", NULL};
	const char *bad[] = {sbt_daemon_path(), "--frobnicate", NULL};

	(void)state;
	assert_int_equal(sbt_run(help, NULL, out, sizeof(out)), 0);
	assert_non_null(strstr(out, "--check-config"));
	assert_int_equal(sbt_run(version, NULL, out, sizeof(out)), 0);
	assert_non_null(strstr(out, "skybrokerd "));
	assert_int_equal(sbt_run(bad, NULL, out, sizeof(out)), 2);
}

static void test_refuses_root_without_flag(void **state)
{
	char out[8192];
	const char *argv[] = {sbt_daemon_path(), "--config", D.conf, NULL};

	(void)state;
	if (geteuid() != 0)
		skip();
	assert_int_equal(sbt_run(argv, NULL, out, sizeof(out)), 1);
	assert_non_null(strstr(out, "refusing to run as root"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_root_warning),
		cmocka_unit_test(test_hello_ping_health),
		cmocka_unit_test(test_pipelined_100),
		cmocka_unit_test(test_oversized_frame),
		cmocka_unit_test(test_garbage),
		cmocka_unit_test(test_limits_answer_too_large),
		cmocka_unit_test(test_op_before_hello),
		cmocka_unit_test(test_unsupported_version),
		cmocka_unit_test(test_errors_keep_connection),
		cmocka_unit_test(test_admin_stats),
		cmocka_unit_test(test_random_input),
		cmocka_unit_test(test_help_version),
		cmocka_unit_test(test_refuses_root_without_flag),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
