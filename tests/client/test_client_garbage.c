/* SPDX-License-Identifier: MIT */
/*
 * libskybroker against a fake broker that misbehaves: every bounded input path gets garbage
 * (oversized lengths, bad msgpack, counts larger than the frame, replies over the announced
 * cap, replies to ids never sent, wrong versions, silence, a broken connection) and must end
 * with a clear error, no crash and no huge allocation; retries happen exactly where the
 * library promises them.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <time.h>

#include <cmocka.h>

#include "client/skybroker.h"
#include "fakebroker.h"

static struct fake F;

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Connects to the fake broker running scenario s; returns the code and fills e. */
static int try_connect(fake_scenario s, skybroker **h, struct skybroker_error *e)
{
	fake_start(&F, s);
	return skybroker_connect(F.path, "garbage-test/1", 2000, h, e);
}

/* Bytes as they are, after reading hello. */
static void send_raw_after_hello(struct fake *f, int fd, const void *p, size_t n)
{
	struct sb_request req;

	if (!fake_read_request(f, fd, &req))
		return;
	sb_request_done(&req);
	fake_write(fd, p, n);
}

static void sc_close_at_once(struct fake *f, int fd)
{
	(void)f;
	(void)fd;
}

static void sc_huge_length(struct fake *f, int fd)
{
	static const uint8_t frame[] = {0xff, 0xff, 0xff, 0xff, 0x80};

	send_raw_after_hello(f, fd, frame, sizeof(frame));
}

static void sc_garbage_payload(struct fake *f, int fd)
{
	static const uint8_t frame[] = {0, 0, 0, 6, 0xc1, 0xde, 0xad, 0xbe, 0xef, 0x00};

	send_raw_after_hello(f, fd, frame, sizeof(frame));
}

/* 200 nested array32 headers each declaring 16M entries: 1000 bytes that would make a naive
 * unpacker reserve gigabytes. */
static void sc_nested_counts(struct fake *f, int fd)
{
	uint8_t frame[4 + 1000];

	memset(frame, 0, sizeof(frame));
	sb_be32_put(frame, 1000);
	for (int i = 0; i < 200; i++) {
		frame[4 + i * 5] = 0xdd;
		sb_be32_put(frame + 5 + i * 5, 16u << 20);
	}
	send_raw_after_hello(f, fd, frame, sizeof(frame));
}

static void sc_error_then_close(struct fake *f, int fd)
{
	struct sb_request req;

	if (!fake_read_request(f, fd, &req))
		return;
	sb_request_done(&req);
	{
		struct sb_buf out;

		sb_buf_init(&out, 4096);
		sb_reply_encode_error(0, SB_ERR_FORBIDDEN, "peer not admitted by any tenant", &out,
				      4096);
		fake_write(fd, sb_buf_ptr(&out), sb_buf_len(&out));
		sb_buf_free(&out);
	}
}

static void sc_version_2(struct fake *f, int fd)
{
	fake_hello(f, fd, 2, 65536);
}

/* hello answered one byte at a time: framing must cope. */
static void sc_trickle(struct fake *f, int fd)
{
	struct sb_request req;
	static const char *ops[] = {"hello", "ping"};
	struct sb_reply rep = {.ok = true, .op = SB_OP_HELLO};
	struct sb_buf out;

	if (!fake_read_request(f, fd, &req))
		return;
	rep.id = req.id;
	sb_request_done(&req);
	rep.u.hello = (struct sb_hello_result){.version = 1, .tenant = "fake", .server = "x/1",
					       .operations = {true, 2, ops},
					       .max_request_frame = 65536, .max_reply_frame = 65536};
	sb_buf_init(&out, 4096);
	sb_reply_encode(&rep, &out, 4096);
	for (size_t i = 0; i < sb_buf_len(&out); i++) {
		fake_write(fd, sb_buf_ptr(&out) + i, 1);
		usleep(200);
	}
	sb_buf_free(&out);
	while (fake_answer_ok(f, fd))
		;
}

/* The hello reply and, in the same write, a second frame nobody asked for. */
static void sc_hello_plus_extra(struct fake *f, int fd)
{
	static const char *ops[] = {"hello", "ping"};
	struct sb_reply rep = {.ok = true, .op = SB_OP_HELLO};
	struct sb_request req;
	struct sb_buf out;

	if (!fake_read_request(f, fd, &req))
		return;
	rep.id = req.id;
	sb_request_done(&req);
	rep.u.hello = (struct sb_hello_result){.version = 1, .tenant = "fake", .server = "x/1",
					       .operations = {true, 2, ops},
					       .max_request_frame = 65536, .max_reply_frame = 65536};
	sb_buf_init(&out, 8192);
	sb_reply_encode(&rep, &out, 4096);
	sb_reply_encode_error(0, SB_ERR_INTERNAL, "surprise", &out, 4096);
	fake_write(fd, sb_buf_ptr(&out), sb_buf_len(&out));
	sb_buf_free(&out);
}

static void test_bad_hello_replies(void **state)
{
	struct {
		const char *what;
		fake_scenario s;
		int code;
		const char *in_message;
	} cases[] = {
		{"closed at once", sc_close_at_once, SKYBROKER_E_DISCONNECTED, "closed"},
		{"4 GiB length", sc_huge_length, SKYBROKER_E_PROTOCOL, "65536-byte cap"},
		{"garbage msgpack", sc_garbage_payload, SKYBROKER_E_PROTOCOL, "could not be decoded"},
		{"nested huge counts", sc_nested_counts, SKYBROKER_E_PROTOCOL, "could not be decoded"},
		{"error id 0", sc_error_then_close, SKYBROKER_E_FORBIDDEN, "not admitted"},
		{"version 2", sc_version_2, SKYBROKER_E_PROTOCOL, "version"},
		{"extra frame", sc_hello_plus_extra, SKYBROKER_E_PROTOCOL, "right after hello"},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct skybroker_error e;
		skybroker *h = NULL;
		int r = try_connect(cases[i].s, &h, &e);

		print_message("  %-20s -> %s: %s\n", cases[i].what, e.code_name, e.message);
		assert_int_equal(r, cases[i].code);
		assert_null(h);
		assert_int_equal(e.code, cases[i].code);
		assert_non_null(strstr(e.message, cases[i].in_message));
		fake_stop(&F);
	}
}

static void test_trickled_hello(void **state)
{
	struct skybroker_error e;
	skybroker *h;

	(void)state;
	assert_int_equal(try_connect(sc_trickle, &h, &e), 0);
	assert_string_equal(skybroker_tenant(h), "fake");
	assert_int_equal(skybroker_ping(h, 2000, &e), 0);
	skybroker_free(h);
	fake_stop(&F);
}

/* After a good hello: a ping answered with an id never sent. */
static void sc_wrong_id(struct fake *f, int fd)
{
	struct sb_request req;
	struct sb_reply rep = {.ok = true, .op = SB_OP_PING};

	if (!fake_hello(f, fd, 1, 65536) || !fake_read_request(f, fd, &req))
		return;
	rep.id = req.id + 7;
	sb_request_done(&req);
	fake_send_reply(fd, &rep);
}

/* A reply larger than the max_reply_frame hello announced (1000). */
static void sc_over_cap(struct fake *f, int fd)
{
	uint8_t frame[4 + 5000];
	struct sb_request req;

	if (!fake_hello(f, fd, 1, 1000) || !fake_read_request(f, fd, &req))
		return;
	sb_request_done(&req);
	memset(frame, 0xc0, sizeof(frame));
	sb_be32_put(frame, 5000);
	fake_write(fd, frame, sizeof(frame));
}

/* Never answers after hello (until the client goes away). */
static void sc_silent(struct fake *f, int fd)
{
	struct sb_request req;
	char b;

	if (!fake_hello(f, fd, 1, 65536) || !fake_read_request(f, fd, &req))
		return;
	sb_request_done(&req);
	while (recv(fd, &b, 1, 0) > 0)
		;
}

static void test_bad_replies(void **state)
{
	struct {
		const char *what;
		fake_scenario s;
		int code;
		const char *in_message;
	} cases[] = {
		{"reply to an unknown id", sc_wrong_id, SKYBROKER_E_PROTOCOL, "unknown request id"},
		{"reply over the cap", sc_over_cap, SKYBROKER_E_PROTOCOL, "1000-byte cap"},
		{"silence", sc_silent, SKYBROKER_E_TIMEOUT, "in time"},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct skybroker_error e;
		skybroker *h;
		long t0;

		assert_int_equal(try_connect(cases[i].s, &h, &e), 0);
		t0 = now_ms();
		assert_int_equal(skybroker_ping(h, 300, &e), cases[i].code);
		print_message("  %-24s -> %s: %s (%ld ms)\n", cases[i].what, e.code_name,
			      e.message, now_ms() - t0);
		assert_non_null(strstr(e.message, cases[i].in_message));
		/* a protocol error or a timeout is not retried: one connection, one ping */
		assert_int_equal(F.accepted, 1);
		assert_int_equal(F.frames, 2);
		assert_true(now_ms() - t0 < 3000);
		skybroker_free(h);
		fake_stop(&F);
	}
}

/* shutting_down (retryable) to the first ping, then a good broker on the next connection. */
static void sc_shutting_down_once(struct fake *f, int fd)
{
	struct sb_request req;

	if (!fake_hello(f, fd, 1, 65536))
		return;
	if (f->accepted == 1) {
		struct sb_buf out;

		if (!fake_read_request(f, fd, &req))
			return;
		sb_buf_init(&out, 4096);
		sb_reply_encode_error(req.id, SB_ERR_SHUTTING_DOWN, "stopping", &out, 4096);
		sb_request_done(&req);
		fake_write(fd, sb_buf_ptr(&out), sb_buf_len(&out));
		sb_buf_free(&out);
		return; /* and close, as a broker that stops does */
	}
	while (fake_answer_ok(f, fd))
		;
}

static void test_retryable_error_retried(void **state)
{
	struct skybroker_error e;
	skybroker *h;

	(void)state;
	assert_int_equal(try_connect(sc_shutting_down_once, &h, &e), 0);
	assert_int_equal(skybroker_ping(h, 5000, &e), 0);
	assert_int_equal(F.accepted, 2);
	skybroker_free(h);
	fake_stop(&F);
}

/* Reads the request after hello, then drops the connection without answering. */
static void sc_drop_request(struct fake *f, int fd)
{
	struct sb_request req;

	if (!fake_hello(f, fd, 1, 65536) || !fake_read_request(f, fd, &req))
		return;
	sb_request_done(&req);
}

static void test_write_not_retried_read_retried(void **state)
{
	struct skybroker_insert_args ins = {.table = "persons", .records_json = "[{\"name\":\"Ada\"}]"};
	struct skybroker_error e;
	skybroker *h;

	(void)state;
	assert_int_equal(try_connect(sc_drop_request, &h, &e), 0);
	/* an insert whose reply was lost is not sent again: its outcome is unknown */
	assert_int_equal(skybroker_insert_records(h, "a.b.c", &ins, 2000, NULL, &e),
			 SKYBROKER_E_DISCONNECTED);
	assert_int_equal(F.accepted, 1);
	assert_int_equal(F.frames, 2);
	/* a ping is: three attempts in all, each on a new connection */
	assert_int_equal(skybroker_ping(h, 5000, &e), SKYBROKER_E_DISCONNECTED);
	assert_int_equal(F.accepted, 4);
	skybroker_free(h);
	fake_stop(&F);
}

/* Answers the ping, then sends a frame nobody asked for. */
static void sc_unsolicited(struct fake *f, int fd)
{
	struct sb_buf out;

	if (!fake_hello(f, fd, 1, 65536) || !fake_answer_ok(f, fd))
		return;
	sb_buf_init(&out, 4096);
	sb_reply_encode_error(0, SB_ERR_FORBIDDEN, "no longer admitted", &out, 4096);
	fake_write(fd, sb_buf_ptr(&out), sb_buf_len(&out));
	sb_buf_free(&out);
	while (fake_answer_ok(f, fd))
		;
}

static void test_stale_connection_replaced(void **state)
{
	struct skybroker_error e;
	skybroker *h;

	(void)state;
	assert_int_equal(try_connect(sc_unsolicited, &h, &e), 0);
	assert_int_equal(skybroker_ping(h, 2000, &e), 0);
	usleep(50 * 1000); /* let the unsolicited frame arrive */
	/* even a write may go: nothing was sent on the stale connection */
	assert_int_equal(skybroker_ping(h, 2000, &e), 0);
	assert_int_equal(F.accepted, 2);
	skybroker_free(h);
	fake_stop(&F);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bad_hello_replies),
		cmocka_unit_test(test_trickled_hello),
		cmocka_unit_test(test_bad_replies),
		cmocka_unit_test(test_retryable_error_retried),
		cmocka_unit_test(test_write_not_retried_read_retried),
		cmocka_unit_test(test_stale_connection_replaced),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
