/* SPDX-License-Identifier: MIT */
/*
 * Conformance, part 1: the stream (PROTOCOL.md sections 2 to 8) against a real skybrokerd,
 * through a real Unix socket, by a client that knows only the document (mp.c, cf.c): hello
 * and its reply, the admin socket, framing and payload errors, the types of section 4,
 * pipelining behind hello, ids in flight, operations not offered, the subject token's cap,
 * refusals at accept, timeouts, connection limits, the tenant's rate limit, reload and
 * shutdown. Each test names the row of section 8 (or the clause) it drives.
 */
#include <signal.h>
#include <sys/socket.h>

#include "conformance.h"

static struct sbt_daemon D;  /* tenants acme (shared socket) and narrow (its own) */
static char narrow_sock[108];

static int main_setup(void **state)
{
	static char conf[8192];
	const char *names[] = {"acme", "narrow"};
	char narrow[256];
	const char *extra[2] = {"allow_uids = 0\n", narrow};

	(void)state;
	sbt_daemon_init(&D);
	sbt_path(narrow_sock, sizeof(narrow_sock), &D, "narrow.sock");
	snprintf(narrow, sizeof(narrow),
		 "socket = %s\nallow_uids = 0\nallow_operations = get_records\n", narrow_sock);
	sbt_config(&D, conf, sizeof(conf),
		   "max_request_frame = 128K\nsocket_group = 1000\nsocket_mode = 0660\n", 2, names,
		   extra);
	return sbt_daemon_start(&D, conf, NULL) == 0 ? 0 : -1;
}

static int main_teardown(void **state)
{
	(void)state;
	return sbt_daemon_stop(&D) == 0 ? 0 : -1;
}

/* The hello reply of section 7.1 on a tenant socket. */
static void test_hello_reply(void **state)
{
	int fd = cf_connect(D.socket);
	struct mpv *rep;
	const struct mpv *res, *ops, *server;

	(void)state;
	assert_true(fd >= 0);
	assert_int_equal(cf_hello(fd, 1, &rep), 0);
	res = cf_check_ok(rep, 1, "hello");
	assert_int_equal(cft_uint(res, "version"), 1);
	assert_true(mpv_is_str(mpv_get(res, "tenant"), "acme"));
	server = mpv_get(res, "server");
	assert_true(server && server->t == MPV_STR && server->len > 11 &&
		    memcmp(server->s, "skybrokerd/", 11) == 0);
	ops = mpv_get(res, "operations");
	assert_true(ops && ops->t == MPV_ARRAY && ops->len >= 3);
	/* hello, ping, health first, then tenant operations in the order of section 7 */
	assert_true(mpv_is_str(&ops->kids[0], "hello"));
	assert_true(mpv_is_str(&ops->kids[1], "ping"));
	assert_true(mpv_is_str(&ops->kids[2], "health"));
	assert_false(cf_array_has(ops, "stats"));
	for (uint32_t i = 3, last = 0; i < ops->len; i++) {
		uint32_t at = CFT_N_USER_OPS;

		for (uint32_t k = 0; k < CFT_N_USER_OPS; k++)
			if (mpv_is_str(&ops->kids[i], cft_user_ops[k]))
				at = k;
		assert_true(at < CFT_N_USER_OPS && (i == 3 || at > last));
		last = at;
	}
	assert_true(cf_array_has(ops, "exchange"));
	assert_int_equal(cft_uint(res, "max_request_frame"), 128 * 1024);
	assert_int_equal(cft_uint(res, "max_reply_frame"), 4 * 1024 * 1024);
	assert_int_equal(cft_uint(res, "max_inflight"), 32); /* the default (section 3) */
	mpv_free(rep);
	close(fd);
}

/* Section 6.1: the admin socket. */
static void test_admin_socket(void **state)
{
	int fd = cf_connect(D.admin);
	struct mpv *rep;
	const struct mpv *res, *ops;
	struct mpw w;

	(void)state;
	assert_true(fd >= 0);
	assert_int_equal(cf_hello(fd, 1, &rep), 0);
	res = cf_check_ok(rep, 1, "admin hello");
	assert_true(mpv_is_str(mpv_get(res, "tenant"), "@admin"));
	ops = mpv_get(res, "operations");
	assert_true(ops && ops->t == MPV_ARRAY && ops->len == 4);
	assert_true(mpv_is_str(&ops->kids[0], "hello"));
	assert_true(mpv_is_str(&ops->kids[1], "ping"));
	assert_true(mpv_is_str(&ops->kids[2], "stats"));
	assert_true(mpv_is_str(&ops->kids[3], "metrics"));
	assert_true(cft_uint(res, "max_inflight") >= 1);
	mpv_free(rep);

	assert_int_equal(cf_call(fd, 2, "ping", &rep), 0);
	cf_check_ok(rep, 2, "admin ping");
	mpv_free(rep);
	assert_int_equal(cf_call(fd, 3, "stats", &rep), 0);
	cft_uint(cf_check_ok(rep, 3, "admin stats"), "uptime_s");
	mpv_free(rep);
	assert_int_equal(cf_call(fd, 4, "health", &rep), 0);
	cf_check_error(rep, 4, "forbidden", "health on the admin socket");
	mpv_free(rep);
	for (size_t i = 0; i < CFT_N_USER_OPS; i++) {
		mpw_init(&w);
		cft_user_request(&w, 10 + i, cft_user_ops[i], "a.b.c");
		cft_send(fd, &w);
		cf_recv_error(fd, 10 + i, "forbidden", cft_user_ops[i]);
	}
	assert_int_equal(cf_call(fd, 30, "no_such_op", &rep), 0);
	cf_check_error(rep, 30, "bad_request", "unknown op on the admin socket");
	mpv_free(rep);
	assert_int_equal(cf_call(fd, 31, "ping", &rep), 0); /* still serving */
	cf_check_ok(rep, 31, "admin ping after refusals");
	mpv_free(rep);
	close(fd);
}

/* Sends raw bytes (a whole frame or just its head) as the first thing, or after hello, and
 * expects one error with id 0 and the close. */
static void expect_fatal(bool after_hello, const void *bytes, size_t n, const char *code,
			 const char *what)
{
	int fd = after_hello ? cf_open(D.socket) : cf_connect(D.socket);

	assert_true(fd >= 0);
	assert_int_equal(cf_send_raw(fd, bytes, n), 0);
	cf_recv_error(fd, 0, code, what);
	cft_closed(fd, what);
}

/* A payload in a frame, as raw bytes into f (caller frees). */
static void frame_of(const void *payload, size_t n, struct mpw *f)
{
	struct mpw p = {(uint8_t *)payload, n, n};

	mpw_frame(&p, f);
}

/* Section 8, rows 1 and 2: a zero length; a length over the cap, before and after hello,
 * answered as soon as the 4 header bytes arrive (nothing of the body is sent). */
static void test_length_prefix(void **state)
{
	static const uint8_t zero[4] = {0, 0, 0, 0};
	static const uint8_t over_hello_cap[4] = {0, 0, 0x10, 0x01};  /* 4097 */
	static const uint8_t over_cap[4] = {0, 0x02, 0x00, 0x01};     /* 128 KiB + 1 */
	struct mpw w, f;
	struct mpv *rep;
	int fd;

	(void)state;
	expect_fatal(false, zero, 4, "bad_request", "length 0 before hello");
	expect_fatal(true, zero, 4, "bad_request", "length 0 after hello");
	expect_fatal(false, over_hello_cap, 4, "too_large", "4097 bytes before hello");
	expect_fatal(true, over_cap, 4, "too_large", "over max_request_frame");

	/* exactly 4096 bytes of hello: within the first frame's cap */
	mpw_init(&w);
	mpw_request(&w, 1, "hello", 3);
	mpw_str(&w, "versions");
	mpw_array(&w, 1);
	mpw_uint(&w, 1);
	mpw_str(&w, "client");
	mpw_str(&w, "conformance/1");
	mpw_str(&w, "padding");
	{
		size_t pad = 4096 - w.n - 3; /* str 16 header: 3 bytes */
		char *s = malloc(pad);

		memset(s, 'p', pad);
		mpw_strn(&w, s, pad);
		free(s);
	}
	assert_int_equal(w.n, 4096);
	fd = cf_connect(D.socket);
	assert_true(fd >= 0);
	mpw_frame(&w, &f);
	mpw_free(&w);
	assert_int_equal(cf_send_raw(fd, f.p, f.n), 0);
	mpw_free(&f);
	assert_int_equal(cf_recv(fd, &rep, CF_TIMEOUT_MS), 0);
	cf_check_ok(rep, 1, "a hello of exactly 4096 bytes");
	mpv_free(rep);
	close(fd);
}

/* Section 8, row 3: payloads that are not one well-formed msgpack map (after hello: even
 * then they close, since the stream can no longer be trusted). */
static void test_malformed_payloads(void **state)
{
	static const struct {
		const char *what, *code;
		uint8_t bytes[24];
		size_t n;
	} cases[] = {
		{"truncated", "bad_request", {0x82, 0xa2, 'i', 'd'}, 4},
		{"trailing bytes", "bad_request", {0x82, 0xa2, 'i', 'd', 0x05, 0xa2, 'o', 'p', 0xa4,
						   'p', 'i', 'n', 'g', 0xc0}, 14},
		{"bad UTF-8", "bad_request", {0x83, 0xa2, 'i', 'd', 0x05, 0xa2, 'o', 'p', 0xa4, 'p',
					      'i', 'n', 'g', 0xa1, 'x', 0xa2, 0xc3, 0x28}, 18},
		{"overlong UTF-8", "bad_request", {0x83, 0xa2, 'i', 'd', 0x05, 0xa2, 'o', 'p',
						   0xa4, 'p', 'i', 'n', 'g', 0xa1, 'x', 0xa2,
						   0xc0, 0xaf}, 18},
		{"NUL in a string", "bad_request", {0x83, 0xa2, 'i', 'd', 0x05, 0xa2, 'o', 'p',
						    0xa4, 'p', 'i', 'n', 'g', 0xa1, 'x', 0xa2,
						    'a', 0x00}, 18},
		{"bin", "bad_request", {0x83, 0xa2, 'i', 'd', 0x05, 0xa2, 'o', 'p', 0xa4, 'p', 'i',
					'n', 'g', 0xa1, 'x', 0xc4, 0x01, 'a'}, 18},
		{"ext", "bad_request", {0x83, 0xa2, 'i', 'd', 0x05, 0xa2, 'o', 'p', 0xa4, 'p', 'i',
					'n', 'g', 0xa1, 'x', 0xd4, 0x01, 'a'}, 18},
		{"timestamp ext", "bad_request", {0x83, 0xa2, 'i', 'd', 0x05, 0xa2, 'o', 'p', 0xa4,
						  'p', 'i', 'n', 'g', 0xa1, 'x', 0xd6, 0xff, 0,
						  0, 0, 1}, 21},
		{"0xc1", "bad_request", {0x83, 0xa2, 'i', 'd', 0x05, 0xa2, 'o', 'p', 0xa4, 'p', 'i',
					 'n', 'g', 0xa1, 'x', 0xc1}, 16},
		{"a count larger than the bytes left", "bad_request",
		 {0x83, 0xa2, 'i', 'd', 0x05, 0xa2, 'o', 'p', 0xa4, 'p', 'i', 'n', 'g', 0xa1, 'x',
		  0xdc, 0x00, 0x64, 0xc0}, 19},
		{"a count over 4096 entries", "too_large",
		 {0x83, 0xa2, 'i', 'd', 0x05, 0xa2, 'o', 'p', 0xa4, 'p', 'i', 'n', 'g', 0xa1, 'x',
		  0xdd, 0xff, 0xff, 0xff, 0xff}, 20},
		{"not a map", "bad_request", {0x92, 0x05, 0xa4, 'p', 'i', 'n', 'g'}, 7},
		{"a key that is not a str", "bad_request", {0x83, 0xa2, 'i', 'd', 0x05, 0xa2, 'o',
							    'p', 0xa4, 'p', 'i', 'n', 'g', 0x07,
							    0xc0}, 15},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct mpw f;

		frame_of(cases[i].bytes, cases[i].n, &f);
		expect_fatal(true, f.p, f.n, cases[i].code, cases[i].what);
		expect_fatal(false, f.p, f.n, cases[i].code, cases[i].what);
		mpw_free(&f);
	}
	{
		/* 17 nested arrays: the top-level map is depth 1, so this is depth 18 */
		struct mpw w, f;

		mpw_init(&w);
		mpw_request(&w, 5, "ping", 1);
		mpw_str(&w, "x");
		for (int d = 0; d < 17; d++)
			mpw_array(&w, 1);
		mpw_nil(&w);
		mpw_frame(&w, &f);
		expect_fatal(true, f.p, f.n, "too_large", "too deep");
		mpw_free(&w);
		mpw_free(&f);
	}
}

/* Section 8, row 4: a map without a valid id; and the types of section 4 for `id`. */
static void test_request_id(void **state)
{
	static const struct {
		const char *what;
		uint8_t id[10];
		size_t n; /* 0: no id at all */
	} bad[] = {
		{"no id", {0}, 0},
		{"id 0", {0x00}, 1},
		{"id -1 (negative fixint)", {0xff}, 1},
		{"id -128 (int 8)", {0xd0, 0x80}, 2},
		{"id as a str", {0xa1, '1'}, 2},
		{"id nil", {0xc0}, 1},
		{"id as a float", {0xcb, 0x3f, 0xf0, 0, 0, 0, 0, 0, 0}, 9},
	};
	static const struct {
		uint8_t fmt;
		int64_t v;
	} good[] = {{0xd0, 5}, {0xd1, 300}, {0xd2, 70000}, {0xd3, 1099511627776ll},
		    {0xd3, INT64_MAX}};
	int fd;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct mpw w, f;

		mpw_init(&w);
		mpw_map(&w, bad[i].n ? 2 : 1);
		if (bad[i].n) {
			mpw_str(&w, "id");
			mpw_raw(&w, bad[i].id, bad[i].n);
		}
		mpw_str(&w, "op");
		mpw_str(&w, "ping");
		mpw_frame(&w, &f);
		expect_fatal(true, f.p, f.n, "bad_request", bad[i].what);
		expect_fatal(false, f.p, f.n, "bad_request", bad[i].what);
		mpw_free(&w);
		mpw_free(&f);
	}

	/* a uint in a signed format: accepted and echoed, in hello and after */
	fd = cf_connect(D.socket);
	assert_true(fd >= 0);
	{
		struct mpw w;
		struct mpv *rep;

		mpw_init(&w);
		mpw_map(&w, 4);
		mpw_str(&w, "id");
		mpw_int_as(&w, 0xd3, 9);
		mpw_str(&w, "op");
		mpw_str(&w, "hello");
		mpw_str(&w, "versions");
		mpw_array(&w, 1);
		mpw_int_as(&w, 0xd3, 1);
		mpw_str(&w, "client");
		mpw_str(&w, "conformance/1");
		cft_send(fd, &w);
		assert_int_equal(cf_recv(fd, &rep, CF_TIMEOUT_MS), 0);
		cf_check_ok(rep, 9, "hello with signed ints");
		mpv_free(rep);
	}
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		struct mpw w;

		mpw_init(&w);
		mpw_map(&w, 2);
		mpw_str(&w, "id");
		mpw_int_as(&w, good[i].fmt, good[i].v);
		mpw_str(&w, "op");
		mpw_str(&w, "ping");
		cft_send(fd, &w);
		cf_recv_ok(fd, (uint64_t)good[i].v, "ping with an id in a signed format");
	}
	{
		/* the largest id, 2^64 - 1 */
		struct mpw w;

		mpw_init(&w);
		mpw_request(&w, UINT64_MAX, "ping", 0);
		cft_send(fd, &w);
		cf_recv_ok(fd, UINT64_MAX, "ping with id 2^64-1");
	}
	close(fd);
}

/* Section 8, row 5: a first request other than hello: an error with its id, then the close. */
static void test_first_request_not_hello(void **state)
{
	int fd = cf_connect(D.socket);
	struct mpw w;

	(void)state;
	assert_true(fd >= 0);
	mpw_init(&w);
	mpw_request(&w, 7, "ping", 0);
	cft_send(fd, &w);
	cf_recv_error(fd, 7, "bad_request", "ping before hello");
	cft_closed(fd, "ping before hello");

	fd = cf_connect(D.socket);
	assert_true(fd >= 0);
	mpw_init(&w);
	mpw_request(&w, 8, "no_such_op", 0);
	cft_send(fd, &w);
	cf_recv_error(fd, 8, "bad_request", "unknown op before hello");
	cft_closed(fd, "unknown op before hello");
}

/* A hello with these versions (count entries written by put) and client; the reply. */
static int hello_with(int fd, uint64_t id, void (*put_versions)(struct mpw *, void *), void *ud,
		      struct mpv **rep)
{
	struct mpw w;

	mpw_init(&w);
	mpw_request(&w, id, "hello", 2);
	mpw_str(&w, "versions");
	put_versions(&w, ud);
	mpw_str(&w, "client");
	mpw_str(&w, "conformance/1");
	cft_send(fd, &w);
	return cf_recv(fd, rep, CF_TIMEOUT_MS);
}

struct versions {
	size_t n;
	int64_t v[20];
};

static void put_versions(struct mpw *w, void *ud)
{
	const struct versions *vs = ud;

	mpw_array(w, (uint32_t)vs->n);
	for (size_t i = 0; i < vs->n; i++)
		if (vs->v[i] < 0)
			mpw_neg(w, vs->v[i]);
		else
			mpw_uint(w, (uint64_t)vs->v[i]);
}

/* Section 7.1 `versions` and section 8, row 6: no common version. */
static void test_hello_versions(void **state)
{
	static const struct {
		const char *what, *code; /* code NULL: accepted, version 1 */
		struct versions vs;
	} cases[] = {
		{"[2]", "unsupported_version", {1, {2}}},
		{"[0]", "unsupported_version", {1, {0}}},
		{"[]", "bad_request", {0, {0}}},
		{"[-1]", "bad_request", {1, {-1}}},
		{"17 entries", "too_large", {17, {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1}}},
		{"[2, 1]", NULL, {2, {2, 1}}},
		{"[0, 1]", NULL, {2, {0, 1}}},
		{"[2^64-1, 1]", NULL, {2, {-2, 1}}}, /* -2 is replaced below */
		{"16 entries", NULL, {16, {9, 8, 7, 6, 5, 4, 3, 2, 1, 1, 1, 1, 1, 1, 1, 1}}},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int fd = cf_connect(D.socket);
		struct mpv *rep;
		struct mpw w;

		assert_true(fd >= 0);
		if (cases[i].vs.v[0] == -2) {
			mpw_init(&w);
			mpw_request(&w, 3, "hello", 2);
			mpw_str(&w, "versions");
			mpw_array(&w, 2);
			mpw_uint(&w, UINT64_MAX);
			mpw_uint(&w, 1);
			mpw_str(&w, "client");
			mpw_str(&w, "conformance/1");
			cft_send(fd, &w);
			assert_int_equal(cf_recv(fd, &rep, CF_TIMEOUT_MS), 0);
		} else {
			struct versions vs = cases[i].vs;

			assert_int_equal(hello_with(fd, 3, put_versions, &vs, &rep), 0);
		}
		if (cases[i].code) {
			cf_check_error(rep, 3, cases[i].code, cases[i].what);
			cft_closed(fd, cases[i].what);
		} else {
			assert_int_equal(cft_uint(cf_check_ok(rep, 3, cases[i].what), "version"), 1);
			close(fd);
		}
		mpv_free(rep);
	}
}

/* Section 7.1 `client`: any str of at most 128 bytes; not required to be name/version. */
static void test_hello_client(void **state)
{
	char c128[129], c129[130];
	static const struct {
		const char *what, *code;
		int kind; /* 1 an int, 2 absent */
	} kinds[] = {{"client 7", "bad_request", 1}, {"no client", "bad_request", 2}};
	const char *ok[] = {"x", "", "no slash at all", c128, "naïve/1.0 ☃"};

	(void)state;
	memset(c128, 'c', 128);
	c128[128] = '\0';
	memset(c129, 'c', 129);
	c129[129] = '\0';
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]) + 1; i++) {
		const char *client = i < sizeof(ok) / sizeof(ok[0]) ? ok[i] : c129;
		int fd = cf_connect(D.socket);
		struct mpv *rep;
		struct mpw w;

		assert_true(fd >= 0);
		mpw_init(&w);
		mpw_request(&w, 4, "hello", 2);
		mpw_str(&w, "versions");
		mpw_array(&w, 1);
		mpw_uint(&w, 1);
		mpw_str(&w, "client");
		mpw_str(&w, client);
		cft_send(fd, &w);
		assert_int_equal(cf_recv(fd, &rep, CF_TIMEOUT_MS), 0);
		if (client == c129) {
			cf_check_error(rep, 4, "too_large", "a client of 129 bytes");
			cft_closed(fd, "a client of 129 bytes");
		} else {
			cf_check_ok(rep, 4, client);
			close(fd);
		}
		mpv_free(rep);
	}
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		int fd = cf_connect(D.socket);
		struct mpw w;

		assert_true(fd >= 0);
		mpw_init(&w);
		mpw_request(&w, 4, "hello", kinds[i].kind == 2 ? 1 : 2);
		mpw_str(&w, "versions");
		mpw_array(&w, 1);
		mpw_uint(&w, 1);
		if (kinds[i].kind == 1) {
			mpw_str(&w, "client");
			mpw_uint(&w, 7);
		}
		cft_send(fd, &w);
		cf_recv_error(fd, 4, kinds[i].code, kinds[i].what);
		cft_closed(fd, kinds[i].what);
	}
}

/* Section 6, item 2: requests right behind hello, before its reply, are held to the caps of
 * the reply: an 8 KiB ping (over the 4 KiB of the first frame) is served. */
static void test_pipelined_behind_hello(void **state)
{
	struct mpw all, w, f;
	char *pad = malloc(8192);
	int fd = cf_connect(D.socket);

	(void)state;
	assert_true(fd >= 0);
	memset(pad, 'p', 8192);
	mpw_init(&all);
	mpw_init(&w);
	mpw_request(&w, 1, "hello", 2);
	mpw_str(&w, "versions");
	mpw_array(&w, 1);
	mpw_uint(&w, 1);
	mpw_str(&w, "client");
	mpw_str(&w, "conformance/1");
	mpw_frame(&w, &f);
	mpw_raw(&all, f.p, f.n);
	mpw_free(&w);
	mpw_free(&f);
	mpw_init(&w);
	mpw_request(&w, 2, "ping", 1);
	mpw_str(&w, "padding");
	mpw_strn(&w, pad, 8192);
	assert_true(w.n > 4096);
	mpw_frame(&w, &f);
	mpw_raw(&all, f.p, f.n);
	mpw_free(&w);
	mpw_free(&f);
	mpw_init(&w);
	mpw_request(&w, 3, "ping", 0);
	mpw_frame(&w, &f);
	mpw_raw(&all, f.p, f.n);
	mpw_free(&w);
	mpw_free(&f);
	assert_int_equal(cf_send_raw(fd, all.p, all.n), 0); /* one write */
	mpw_free(&all);
	free(pad);
	cf_recv_ok(fd, 1, "hello");
	cf_recv_ok(fd, 2, "an 8 KiB ping right behind hello");
	cf_recv_ok(fd, 3, "a ping behind it");
	close(fd);
}

/* Section 6 (a second hello) and section 8 (an unknown op, field errors): answered with the
 * request's id, and the connection keeps serving. */
static void test_errors_that_keep_serving(void **state)
{
	int fd = cf_open(D.socket);
	char *big = malloc(65538);
	struct mpw w;
	struct mpv *rep;

	(void)state;
	memset(big, 'a', 65537);
	big[65537] = '\0';
	assert_int_equal(cf_hello(fd, 2, &rep), 0);
	cf_check_error(rep, 2, "bad_request", "a second hello");
	mpv_free(rep);
	assert_int_equal(cf_call(fd, 3, "no_such_op", &rep), 0);
	cf_check_error(rep, 3, "bad_request", "an unknown op");
	assert_true(cf_message_has(rep, "unknown operation"));
	mpv_free(rep);

	mpw_init(&w); /* missing */
	mpw_request(&w, 4, "exchange", 0);
	cft_send(fd, &w);
	assert_int_equal(cf_recv(fd, &rep, CF_TIMEOUT_MS), 0);
	cf_check_error(rep, 4, "bad_request", "no subject_token");
	assert_true(cf_message_has(rep, "subject_token"));
	mpv_free(rep);

	mpw_init(&w); /* mistyped */
	mpw_request(&w, 5, "exchange", 1);
	mpw_str(&w, "subject_token");
	mpw_uint(&w, 5);
	cft_send(fd, &w);
	assert_int_equal(cf_recv(fd, &rep, CF_TIMEOUT_MS), 0);
	cf_check_error(rep, 5, "bad_request", "subject_token an int");
	assert_true(cf_message_has(rep, "subject_token"));
	mpv_free(rep);

	mpw_init(&w); /* nil is not a way to omit a field */
	mpw_request(&w, 6, "exchange", 1);
	mpw_str(&w, "subject_token");
	mpw_nil(&w);
	cft_send(fd, &w);
	cf_recv_error(fd, 6, "bad_request", "subject_token nil");

	mpw_init(&w); /* duplicated */
	mpw_request(&w, 7, "exchange", 2);
	mpw_str(&w, "subject_token");
	mpw_str(&w, "a.b.c");
	mpw_str(&w, "subject_token");
	mpw_str(&w, "a.b.c");
	cft_send(fd, &w);
	assert_int_equal(cf_recv(fd, &rep, CF_TIMEOUT_MS), 0);
	cf_check_error(rep, 7, "bad_request", "subject_token twice");
	assert_true(cf_message_has(rep, "twice"));
	mpv_free(rep);

	mpw_init(&w); /* out of bounds: get_records limit 26 (decoded whether offered or not) */
	mpw_request(&w, 8, "get_records", 3);
	mpw_str(&w, "subject_token");
	mpw_str(&w, "a.b.c");
	mpw_str(&w, "table");
	mpw_str(&w, "persons");
	mpw_str(&w, "limit");
	mpw_uint(&w, 26);
	cft_send(fd, &w);
	assert_int_equal(cf_recv(fd, &rep, CF_TIMEOUT_MS), 0);
	cf_check_error(rep, 8, "bad_request", "limit 26");
	assert_true(cf_message_has(rep, "limit"));
	mpv_free(rep);

	mpw_init(&w); /* an enum matched exactly, in upper case */
	mpw_request(&w, 9, "get_records", 3);
	mpw_str(&w, "subject_token");
	mpw_str(&w, "a.b.c");
	mpw_str(&w, "table");
	mpw_str(&w, "persons");
	mpw_str(&w, "redaction");
	mpw_str(&w, "plain_text");
	cft_send(fd, &w);
	cf_recv_error(fd, 9, "bad_request", "redaction in lower case");

	mpw_init(&w); /* a name over 256 bytes */
	mpw_request(&w, 10, "get_records", 2);
	mpw_str(&w, "subject_token");
	mpw_str(&w, "a.b.c");
	mpw_str(&w, "table");
	mpw_strn(&w, big, 257);
	cft_send(fd, &w);
	cf_recv_error(fd, 10, "too_large", "a table name of 257 bytes");

	/* section 7: a subject token over 64 KiB on the wire, in a frame within the cap */
	cft_exchange(fd, 11, big);
	cf_recv_error(fd, 11, "too_large", "a subject token of 65537 bytes");
	/* ... and over the broker's token_max_len (16 KiB), within 64 KiB: too_large too */
	big[20000] = '\0';
	big[100] = '.';
	big[200] = '.';
	cft_exchange(fd, 12, big);
	cf_recv_error(fd, 12, "too_large", "a subject token of 20000 bytes");
	{
		/* the same for an operation that reads the vault, when offered */
		struct mpw gr;

		mpw_init(&gr);
		cft_user_request(&gr, 14, "get_records", big);
		cft_send(fd, &gr);
		assert_int_equal(cf_recv(fd, &rep, CF_TIMEOUT_MS), 0);
		if (mpv_is_str(mpv_get(mpv_get(rep, "error"), "code"), "forbidden"))
			cf_check_error(rep, 14, "forbidden", "get_records not offered");
		else
			cf_check_error(rep, 14, "too_large", "get_records, a 20000-byte token");
		mpv_free(rep);
	}
	/* a token within the cap that is not one gets unauthenticated */
	cft_exchange(fd, 13, "abc.def.ghi");
	cf_recv_error(fd, 13, "unauthenticated", "a garbage subject token");
	free(big);

	assert_int_equal(cf_call(fd, 20, "ping", &rep), 0);
	cf_check_ok(rep, 20, "ping after the errors");
	mpv_free(rep);
	close(fd);
}

/* Section 8: an operation this connection does not offer gets forbidden, whether the tenant
 * does not allow it, the broker does not implement it, or the socket does not offer it. */
static void test_not_offered(void **state)
{
	struct mpv *hello, *rep;
	const struct mpv *acme_ops, *narrow_ops;
	int acme = cf_connect(D.socket), narrow = cf_connect(narrow_sock);
	uint64_t id = 10;

	(void)state;
	assert_true(acme >= 0 && narrow >= 0);
	assert_int_equal(cf_hello(acme, 1, &hello), 0);
	acme_ops = mpv_get(cf_check_ok(hello, 1, "acme hello"), "operations");
	assert_int_equal(cf_hello(narrow, 1, &rep), 0);
	narrow_ops = mpv_get(cf_check_ok(rep, 1, "narrow hello"), "operations");
	assert_true(mpv_is_str(mpv_get(mpv_get(rep, "result"), "tenant"), "narrow"));
	/* allow_operations = get_records: exchange is not offered; get_records is when the
	 * broker implements it */
	assert_false(cf_array_has(narrow_ops, "exchange"));
	assert_int_equal(cf_array_has(narrow_ops, "get_records"),
			 cf_array_has(acme_ops, "get_records"));
	for (size_t i = 0; i < CFT_N_USER_OPS; i++) {
		const char *op = cft_user_ops[i];
		struct mpw w;

		if (!cf_array_has(narrow_ops, op)) {
			mpw_init(&w);
			cft_user_request(&w, ++id, op, "a.b.c");
			cft_send(narrow, &w);
			cf_recv_error(narrow, id, "forbidden", op);
		}
		if (!cf_array_has(acme_ops, op)) { /* not implemented by this broker */
			mpw_init(&w);
			cft_user_request(&w, ++id, op, "a.b.c");
			cft_send(acme, &w);
			cf_recv_error(acme, id, "forbidden", op);
		}
	}
	mpv_free(rep);
	assert_int_equal(cf_call(acme, ++id, "stats", &rep), 0); /* admin socket only */
	cf_check_error(rep, id, "forbidden", "stats on a tenant socket");
	mpv_free(rep);
	assert_int_equal(cf_call(narrow, ++id, "health", &rep), 0); /* always offered */
	cf_check_ok(rep, id, "health on narrow");
	mpv_free(rep);
	mpv_free(hello);
	close(acme);
	close(narrow);
}

/* Section 8: a peer no tenant of the socket admits gets forbidden, id 0, before it sends
 * anything, and the close. Runs as uid 1000 (the socket's group admits its connect). */
static int probe_refused(void *arg)
{
	struct mpv *rep = NULL;
	const struct mpv *e;
	int fd = cf_connect(arg), r;

	if (fd < 0)
		return 10;
	r = cf_recv(fd, &rep, CF_TIMEOUT_MS);
	if (r < 0)
		return 11;
	e = mpv_get(rep, "error");
	if (!mpv_get(rep, "id") || mpv_get(rep, "id")->t != MPV_UINT || mpv_get(rep, "id")->u != 0 ||
	    !mpv_is_str(mpv_get(e, "code"), "forbidden"))
		return 12;
	mpv_free(rep);
	return cf_expect_closed(fd, CF_TIMEOUT_MS) == 0 ? 0 : 13;
}

static void test_peer_not_admitted(void **state)
{
	(void)state;
	assert_int_equal(sbt_run_as(1000, 1000, probe_refused, D.socket), 0);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hello_reply),
		cmocka_unit_test(test_admin_socket),
		cmocka_unit_test(test_length_prefix),
		cmocka_unit_test(test_malformed_payloads),
		cmocka_unit_test(test_request_id),
		cmocka_unit_test(test_first_request_not_hello),
		cmocka_unit_test(test_hello_versions),
		cmocka_unit_test(test_hello_client),
		cmocka_unit_test(test_pipelined_behind_hello),
		cmocka_unit_test(test_errors_that_keep_serving),
		cmocka_unit_test(test_not_offered),
		cmocka_unit_test(test_peer_not_admitted),
	};

	if (argc > 1)
		cmocka_set_test_filter(argv[1]); /* e.g. test_not_offered */
	if (geteuid() != 0) {
		fprintf(stderr, "conformance tests run as root (other uids, sockets)\n");
		return 77;
	}
	return cmocka_run_group_tests(tests, main_setup, main_teardown);
}
