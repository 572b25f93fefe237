/* SPDX-License-Identifier: MIT */
/* Unit tests of broker/util's small helpers: sanitize, hash, error, the logger and clock. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <systemd/sd-event.h>

#include "util/clock.h"
#include "util/error.h"
#include "util/hash.h"
#include "util/log.h"
#include "util/sanitize.h"

/* ---- sanitize ---------------------------------------------------------------------------- */

static void test_sanitize_every_byte(void **state)
{
	unsigned char all[256];
	char out[257];

	(void)state;
	for (int i = 0; i < 256; i++)
		all[i] = (unsigned char)i;
	assert_ptr_equal(sanitize_bytes_for_log(out, sizeof(out), all, sizeof(all)), out);
	for (int i = 0; i < 256; i++) {
		int printable = i >= 0x20 && i < 0x7f;

		assert_int_equal((unsigned char)out[i], printable ? i : '?');
	}
	assert_int_equal(out[256], '\0');
}

static void test_sanitize_strings(void **state)
{
	char out[64];

	(void)state;
	assert_string_equal(sanitize_for_log(out, sizeof(out), "plain text ~!"), "plain text ~!");
	/* a forged log line, terminal escapes, DEL, UTF-8 */
	assert_string_equal(sanitize_for_log(out, sizeof(out), "x\n<3>forged\r"), "x?<3>forged?");
	assert_string_equal(sanitize_for_log(out, sizeof(out), "\x1b[31mred\x1b[0m"), "?[31mred?[0m");
	assert_string_equal(sanitize_for_log(out, sizeof(out), "a\tb\x7f" "c"), "a?b?c");
	assert_string_equal(sanitize_for_log(out, sizeof(out), "caf\xc3\xa9"), "caf??");
	assert_string_equal(sanitize_for_log(out, sizeof(out), "\x9b" "2J"), "?2J"); /* C1 CSI */
	assert_string_equal(sanitize_for_log(out, sizeof(out), ""), "");
	/* src NULL gives "" */
	memset(out, 'X', sizeof(out));
	assert_ptr_equal(sanitize_for_log(out, sizeof(out), NULL), out);
	assert_string_equal(out, "");
	memset(out, 'X', sizeof(out));
	assert_string_equal(sanitize_bytes_for_log(out, sizeof(out), NULL, 10), "");
	/* a counted buffer goes on past NULs */
	assert_string_equal(sanitize_bytes_for_log(out, sizeof(out), "a\0b\0", 4), "a?b?");
	assert_string_equal(sanitize_bytes_for_log(out, sizeof(out), "abc", 0), "");
	/* a string stops at its NUL */
	assert_string_equal(sanitize_for_log(out, sizeof(out), "ab\0cd"), "ab");
}

static void test_sanitize_truncation(void **state)
{
	char out[16];

	(void)state;
	/* n - 1 bytes and a NUL, nothing written past n */
	memset(out, 'X', sizeof(out));
	assert_string_equal(sanitize_for_log(out, 4, "abcdef"), "abc");
	assert_int_equal(out[4], 'X');
	memset(out, 'X', sizeof(out));
	assert_string_equal(sanitize_for_log(out, 7, "abcdef"), "abcdef"); /* exact fit */
	assert_int_equal(out[7], 'X');
	memset(out, 'X', sizeof(out));
	assert_string_equal(sanitize_for_log(out, 6, "abcdef"), "abcde"); /* one short */
	assert_int_equal(out[6], 'X');
	memset(out, 'X', sizeof(out));
	assert_string_equal(sanitize_bytes_for_log(out, 3, "\n\n\n\n", 4), "??");
	assert_int_equal(out[3], 'X');
	/* n == 1: only the NUL */
	memset(out, 'X', sizeof(out));
	assert_string_equal(sanitize_for_log(out, 1, "abc"), "");
	assert_int_equal(out[1], 'X');
	/* n == 0: nothing written at all */
	memset(out, 'X', sizeof(out));
	assert_ptr_equal(sanitize_for_log(out, 0, "abc"), out);
	assert_int_equal(out[0], 'X');
	assert_ptr_equal(sanitize_bytes_for_log(out, 0, NULL, 0), out);
	assert_int_equal(out[0], 'X');
}

/* ---- hash -------------------------------------------------------------------------------- */

static void hex_of(const uint8_t *d, size_t n, char *out)
{
	for (size_t i = 0; i < n; i++)
		(void)snprintf(out + 2 * i, 3, "%02x", d[i]);
}

static void test_hash(void **state)
{
	uint8_t d[HASH_SHA256_LEN];
	char hex[2 * HASH_SHA256_LEN + 1], fp[HASH_FINGERPRINT_LEN + 2];
	static const char two_blocks[] = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";

	(void)state;
	/* FIPS 180-2 vectors */
	hash_sha256("abc", 3, d);
	hex_of(d, sizeof(d), hex);
	assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	hash_sha256("", 0, d);
	hex_of(d, sizeof(d), hex);
	assert_string_equal(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	hash_sha256(two_blocks, strlen(two_blocks), d);
	hex_of(d, sizeof(d), hex);
	assert_string_equal(hex, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");

	/* the fingerprint is the first 12 hex digits, NUL-terminated, nothing written after */
	memset(fp, 'X', sizeof(fp));
	assert_ptr_equal(hash_fingerprint("abc", 3, fp), fp);
	assert_string_equal(fp, "ba7816bf8f01");
	assert_int_equal(strlen(fp), HASH_FINGERPRINT_LEN);
	assert_int_equal(fp[HASH_FINGERPRINT_LEN + 1], 'X');
	assert_string_equal(hash_fingerprint("", 0, fp), "e3b0c44298fc");
	/* the length counts: bytes after a NUL change the fingerprint */
	assert_string_equal(hash_fingerprint("abc\0", 4, fp), "dc1114cd0749");
	assert_string_not_equal(hash_fingerprint("a\0b", 3, fp), hash_fingerprint("a", 1, hex));

	/* of a digest: lower-case hex of its first 6 bytes, high nibble first */
	{
		const uint8_t dig[HASH_SHA256_LEN] = {0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef};
		uint8_t ff[HASH_SHA256_LEN];

		memset(fp, 'X', sizeof(fp));
		assert_ptr_equal(hash_fingerprint_of_digest(dig, fp), fp);
		assert_string_equal(fp, "0123456789ab");
		assert_int_equal(fp[HASH_FINGERPRINT_LEN + 1], 'X');
		memset(ff, 0xff, sizeof(ff));
		assert_string_equal(hash_fingerprint_of_digest(ff, fp), "ffffffffffff");
		hash_sha256("abc", 3, ff);
		assert_string_equal(hash_fingerprint_of_digest(ff, fp), "ba7816bf8f01");
	}
}

/* ---- error ------------------------------------------------------------------------------- */

static void test_error_detail(void **state)
{
	struct error_detail e;
	char long_msg[600], long_id[200];

	(void)state;
	memset(&e, 0x5a, sizeof(e));
	error_detail_clear(&e);
	assert_int_equal(e.r, 0);
	assert_int_equal(e.upstream_status, 0);
	assert_string_equal(e.message, "");
	assert_string_equal(e.request_id, "");
	error_detail_clear(NULL);

	/* returns r, so that `return error_detail_set(...)` propagates */
	assert_int_equal(error_detail_set(&e, -EKEYREJECTED, "token for %s: %d", "acme", 42),
			 -EKEYREJECTED);
	assert_int_equal(e.r, -EKEYREJECTED);
	assert_string_equal(e.message, "token for acme: 42");
	assert_int_equal(error_detail_set(NULL, -EIO, "nobody to tell"), -EIO);

	/* one line: newlines and other control characters cannot split or forge it */
	error_detail_set(&e, -EPROTO, "upstream said: %s", "bad\r\n<3>forged\x1b[0m");
	assert_string_equal(e.message, "upstream said: bad?" "?<3>forged?[0m");

	/* truncated to the buffer, always terminated */
	memset(long_msg, 'm', sizeof(long_msg) - 1);
	long_msg[sizeof(long_msg) - 1] = '\0';
	error_detail_set(&e, -E2BIG, "%s", long_msg);
	assert_int_equal(strlen(e.message), ERROR_DETAIL_MESSAGE_MAX - 1);
	assert_int_equal(e.message[0], 'm');

	/* no format: the generic text of the code */
	assert_int_equal(error_detail_set(&e, -ENOENT, NULL), -ENOENT);
	assert_int_equal(e.r, -ENOENT);
	assert_string_equal(e.message, "");

	/* the upstream part: status, and the request id sanitised and bounded */
	error_detail_set_upstream(&e, 503, "req-1\n<3>x");
	assert_int_equal(e.upstream_status, 503);
	assert_string_equal(e.request_id, "req-1?<3>x");
	memset(long_id, 'i', sizeof(long_id) - 1);
	long_id[sizeof(long_id) - 1] = '\0';
	error_detail_set_upstream(&e, 429, long_id);
	assert_int_equal(strlen(e.request_id), ERROR_DETAIL_REQUEST_ID_MAX);
	error_detail_set_upstream(&e, 500, NULL);
	assert_int_equal(e.upstream_status, 500);
	assert_string_equal(e.request_id, "");
	error_detail_set_upstream(NULL, 500, "x");

	/* a plain value: copies are independent */
	{
		struct error_detail copy;

		error_detail_set(&e, -EACCES, "denied");
		copy = e;
		error_detail_set(&e, -EIO, "other");
		assert_int_equal(copy.r, -EACCES);
		assert_string_equal(copy.message, "denied");
	}
}

/* ---- log --------------------------------------------------------------------------------- */

#define CAP_MAX 256
struct capture {
	char *line[CAP_MAX];
	size_t n;
};

static struct capture cap, cap2;

static void capture_fn(const char *line, void *ud)
{
	struct capture *c = ud;

	if (c->n < CAP_MAX)
		c->line[c->n] = strdup(line);
	c->n++;
}

static void capture_reset(struct capture *c)
{
	for (size_t i = 0; i < c->n && i < CAP_MAX; i++)
		free(c->line[i]);
	memset(c, 0, sizeof(*c));
}

static int log_setup(void **state)
{
	(void)state;
	capture_reset(&cap);
	capture_reset(&cap2);
	log_set_max_level(LOG_INFO);
	log_set_capture(capture_fn, &cap);
	return 0;
}

static int log_teardown(void **state)
{
	(void)state;
	log_set_capture(NULL, NULL); /* flushes what is pending into cap first */
	log_set_max_level(LOG_INFO);
	capture_reset(&cap);
	capture_reset(&cap2);
	return 0;
}

static void test_log_level_names(void **state)
{
	static const char *const names[] = {"emerg", "alert", "crit",   "err",
					    "warning", "notice", "info", "debug"};

	(void)state;
	for (int i = 0; i < 8; i++) {
		char digit[2] = {(char)('0' + i), '\0'};

		assert_int_equal(log_level_from_name(names[i]), i);
		assert_string_equal(log_level_name(i), names[i]);
		assert_int_equal(log_level_from_name(digit), i);
	}
	assert_int_equal(log_level_from_name("DEBUG"), LOG_DEBUG);
	assert_int_equal(log_level_from_name("Warn"), LOG_WARNING);
	assert_int_equal(log_level_from_name("error"), LOG_ERR);
	assert_int_equal(log_level_from_name("critical"), LOG_CRIT);
	for (const char *const *bad = (const char *const[]){"8", "-1", "07", "", " info", "info ",
							    "inf", "debugx", "9", NULL};
	     *bad; bad++)
		assert_int_equal(log_level_from_name(*bad), -EINVAL);
	assert_int_equal(log_level_from_name(NULL), -EINVAL);
	assert_string_equal(log_level_name(-1), "unknown");
	assert_string_equal(log_level_name(8), "unknown");

	/* the maximum level is clamped to LOG_SILENT..LOG_DEBUG */
	log_set_max_level(100);
	assert_int_equal(log_get_max_level(), LOG_DEBUG);
	log_set_max_level(-100);
	assert_int_equal(log_get_max_level(), LOG_SILENT);
	log_set_max_level(LOG_NOTICE);
	assert_int_equal(log_get_max_level(), LOG_NOTICE);
	assert_true(log_enabled(LOG_NOTICE));
	assert_false(log_enabled(LOG_INFO));
}

static void test_log_filter_and_prefix(void **state)
{
	(void)state;
	log_set_max_level(LOG_WARNING);
	log_info("dropped %d", 1);
	log_debug("dropped too");
	log_notice("and this");
	log_warning("kept %s", "w");
	log_error("kept e");
	log_printf(LOG_EMERG, "kept 0");
	assert_int_equal(cap.n, 3);
	assert_string_equal(cap.line[0], "<4>kept w");
	assert_string_equal(cap.line[1], "<3>kept e");
	assert_string_equal(cap.line[2], "<0>kept 0");
	log_set_max_level(LOG_DEBUG);
	log_debug("d");
	assert_int_equal(cap.n, 4);
	assert_string_equal(cap.line[3], "<7>d");
}

static void test_log_one_line(void **state)
{
	(void)state;
	log_info("a\nb\r\nc%s", "\n<3>forged");
	assert_int_equal(cap.n, 1); /* one call, one line */
	assert_string_equal(cap.line[0], "<6>a b  c <3>forged");
	log_buffer_printf(LOG_INFO, false, "x\ny");
	log_flush();
	assert_int_equal(cap.n, 2);
	assert_string_equal(cap.line[1], "<6>x y");
	log_info("%s", "");
	assert_int_equal(cap.n, 3);
	assert_string_equal(cap.line[2], "<6>");
}

static void test_log_long_line(void **state)
{
	static char big[10000];

	(void)state;
	for (size_t i = 0; i < sizeof(big) - 1; i++)
		big[i] = (char)('a' + i % 26);
	big[sizeof(big) - 1] = '\0';
	big[3000] = '\n'; /* past the cut: must not reappear as a second line */
	log_info("%s", big);
	assert_int_equal(cap.n, 1);
	assert_true(strlen(cap.line[0]) > 1024);
	assert_true(strlen(cap.line[0]) < 2048);
	assert_memory_equal(cap.line[0], "<6>", 3);
	assert_memory_equal(cap.line[0] + 3, big, strlen(cap.line[0]) - 3);
	/* buffered, the same */
	log_buffer_printf(LOG_INFO, false, "%s", big);
	log_buffer_printf(LOG_INFO, false, "after");
	log_flush();
	assert_int_equal(cap.n, 3);
	assert_string_equal(cap.line[1], cap.line[0]);
	assert_string_equal(cap.line[2], "<6>after");
}

static void test_log_buffered_order(void **state)
{
	(void)state;
	assert_false(log_pending());
	log_flush(); /* nothing pending: nothing written */
	assert_int_equal(cap.n, 0);

	log_buffer_printf(LOG_INFO, false, "audit %d", 1);
	log_buffer_printf(LOG_NOTICE, false, "audit %d", 2);
	log_buffer_printf(LOG_DEBUG, false, "filtered");    /* above the level: dropped */
	log_buffer_printf(LOG_DEBUG, true, "forced %d", 3); /* forced: kept */
	assert_true(log_pending());
	assert_int_equal(cap.n, 0); /* nothing written yet */

	log_warning("unbuffered");
	assert_false(log_pending());
	assert_int_equal(cap.n, 4);
	assert_string_equal(cap.line[0], "<6>audit 1");
	assert_string_equal(cap.line[1], "<5>audit 2");
	assert_string_equal(cap.line[2], "<7>forced 3");
	assert_string_equal(cap.line[3], "<4>unbuffered");

	/* a line dropped by the level does not flush the buffer */
	log_buffer_printf(LOG_INFO, false, "audit 4");
	log_debug("dropped");
	assert_true(log_pending());
	assert_int_equal(cap.n, 4);
	/* log_errno flushes too */
	assert_int_equal(log_errno(LOG_ERR, -EIO, "read"), -EIO);
	assert_int_equal(cap.n, 6);
	assert_string_equal(cap.line[4], "<6>audit 4");
	assert_string_equal(cap.line[5], "<3>read: Input/output error");
}

static void test_log_buffer_overflow(void **state)
{
	enum { N = 100, LEN = 1500 };
	static char body[LEN + 1];
	size_t before_flush;

	(void)state;
	memset(body, 'b', LEN);
	/* 100 lines of 1.5 kB are more than the buffer holds: it is written when full, and no
	 * line is lost, cut or reordered */
	for (int i = 0; i < N; i++)
		log_buffer_printf(LOG_INFO, false, "%03d %s", i, body);
	before_flush = cap.n;
	assert_true(before_flush > 0);
	assert_true(before_flush < N);
	assert_true(log_pending());
	log_flush();
	assert_int_equal(cap.n, N);
	for (int i = 0; i < N; i++) {
		char head[8];

		(void)snprintf(head, sizeof(head), "<6>%03d ", i);
		assert_memory_equal(cap.line[i], head, 7);
		assert_int_equal(strlen(cap.line[i]), 7 + LEN);
	}
}

static void test_log_errno(void **state)
{
	(void)state;
	assert_int_equal(log_errno(LOG_ERR, -ENOENT, "open %s", "/x"), -ENOENT);
	assert_int_equal(cap.n, 1);
	assert_string_equal(cap.line[0], "<3>open /x: No such file or directory");
	/* a positive errno is logged the same and returned negative */
	assert_int_equal(log_errno(LOG_WARNING, EACCES, "bind"), -EACCES);
	assert_string_equal(cap.line[1], "<4>bind: Permission denied");
	/* below the level: not logged, still returned */
	assert_int_equal(log_errno(LOG_DEBUG, -EPERM, "quiet"), -EPERM);
	assert_int_equal(cap.n, 2);
}

static void test_log_silent(void **state)
{
	(void)state;
	log_set_max_level(LOG_SILENT);
	assert_false(log_enabled(LOG_EMERG));
	log_printf(LOG_EMERG, "dropped");
	log_buffer_printf(LOG_EMERG, false, "dropped");
	assert_false(log_pending());
	assert_int_equal(log_errno(LOG_EMERG, -EIO, "dropped"), -EIO);
	assert_int_equal(cap.n, 0);
	/* force writes whatever the level (the audit trail) */
	log_buffer_printf(LOG_INFO, true, "audit");
	assert_true(log_pending());
	log_flush();
	assert_int_equal(cap.n, 1);
	assert_string_equal(cap.line[0], "<6>audit");
}

static void test_log_capture_switch_flushes(void **state)
{
	(void)state;
	log_buffer_printf(LOG_INFO, false, "for the first");
	log_set_capture(capture_fn, &cap2);
	assert_int_equal(cap.n, 1); /* pending lines went where they were headed */
	assert_string_equal(cap.line[0], "<6>for the first");
	log_info("for the second");
	assert_int_equal(cap.n, 1);
	assert_int_equal(cap2.n, 1);
	assert_string_equal(cap2.line[0], "<6>for the second");
	log_set_capture(capture_fn, &cap);
}

/* Without a capture, lines go to stderr with one write(2) each, and a buffered batch with
 * one write: stderr is made a SOCK_SEQPACKET socket so every write is one packet. */
static ssize_t next_packet(int fd, char *buf, size_t n)
{
	ssize_t r = recv(fd, buf, n - 1, MSG_DONTWAIT);

	buf[r < 0 ? 0 : r] = '\0';
	return r;
}

static void test_log_stderr_writes(void **state)
{
	int sv[2], saved;
	char p[6][4096];
	ssize_t len[6], none;

	(void)state;
	log_set_capture(NULL, NULL);
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
	saved = fcntl(STDERR_FILENO, F_DUPFD_CLOEXEC, 3);
	assert_true(saved >= 0);
	assert_int_equal(dup3(sv[0], STDERR_FILENO, O_CLOEXEC), STDERR_FILENO);

	log_info("one %d", 1);
	log_buffer_printf(LOG_NOTICE, false, "b1");
	log_buffer_printf(LOG_NOTICE, false, "b2\nstill b2");
	log_buffer_printf(LOG_NOTICE, false, "b3");
	log_flush();
	log_buffer_printf(LOG_INFO, false, "c1");
	log_warning("after c1");
	for (int i = 0; i < 5; i++)
		len[i] = next_packet(sv[1], p[i], sizeof(p[i]));
	none = next_packet(sv[1], p[5], sizeof(p[5]));

	/* restore stderr before asserting, so cmocka can report */
	assert_int_equal(dup3(saved, STDERR_FILENO, 0), STDERR_FILENO);
	close(saved);
	close(sv[0]);
	close(sv[1]);
	log_set_capture(capture_fn, &cap);

	assert_int_equal(len[0], 9);
	assert_string_equal(p[0], "<6>one 1\n");
	assert_string_equal(p[1], "<5>b1\n<5>b2 still b2\n<5>b3\n"); /* one write for the batch */
	assert_string_equal(p[2], "<6>c1\n");
	assert_string_equal(p[3], "<4>after c1\n");
	assert_int_equal(len[4], -1); /* nothing more */
	assert_int_equal(none, -1);
}

/* ---- clock ------------------------------------------------------------------------------- */

static int defer_cb(sd_event_source *s, void *ud)
{
	uint64_t *t = ud;
	sd_event *e = sd_event_source_get_event(s);
	struct timespec ms2 = {0, 2 * 1000 * 1000};

	t[0] = clock_now_usec(e);
	t[1] = clock_now_usec(NULL);
	nanosleep(&ms2, NULL);
	t[2] = clock_now_usec(e);    /* the iteration's cached time: unchanged */
	t[3] = clock_now_usec(NULL); /* the real clock: moved on */
	return sd_event_exit(e, 0);
}

static void test_clock(void **state)
{
	struct timespec ts;
	uint64_t a, b, t[4] = {0};
	int64_t wall;
	sd_event *e = NULL;

	(void)state;
	a = clock_now_usec(NULL);
	clock_gettime(CLOCK_MONOTONIC, &ts);
	b = clock_now_usec(NULL);
	assert_true(a <= b);
	/* microseconds of CLOCK_MONOTONIC */
	assert_true((uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u >= a);
	assert_true((uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u <= b);

	wall = clock_wall_sec();
	assert_true(wall >= (int64_t)time(NULL) - 1 && wall <= (int64_t)time(NULL));
	assert_true(wall > 1600000000); /* seconds, not milli- or microseconds */

	assert_int_equal(sd_event_new(&e), 0);
	assert_int_equal(sd_event_add_defer(e, NULL, defer_cb, t), 0);
	assert_int_equal(sd_event_loop(e), 0);
	sd_event_unref(e);
	assert_true(t[0] > 0);
	assert_int_equal(t[2], t[0]);
	assert_true(t[3] >= t[1] + 2000);
	assert_true(t[0] <= t[1]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sanitize_every_byte),
		cmocka_unit_test(test_sanitize_strings),
		cmocka_unit_test(test_sanitize_truncation),
		cmocka_unit_test(test_hash),
		cmocka_unit_test(test_error_detail),
		cmocka_unit_test_setup_teardown(test_log_level_names, log_setup, log_teardown),
		cmocka_unit_test_setup_teardown(test_log_filter_and_prefix, log_setup, log_teardown),
		cmocka_unit_test_setup_teardown(test_log_one_line, log_setup, log_teardown),
		cmocka_unit_test_setup_teardown(test_log_long_line, log_setup, log_teardown),
		cmocka_unit_test_setup_teardown(test_log_buffered_order, log_setup, log_teardown),
		cmocka_unit_test_setup_teardown(test_log_buffer_overflow, log_setup, log_teardown),
		cmocka_unit_test_setup_teardown(test_log_errno, log_setup, log_teardown),
		cmocka_unit_test_setup_teardown(test_log_silent, log_setup, log_teardown),
		cmocka_unit_test_setup_teardown(test_log_capture_switch_flushes, log_setup,
						log_teardown),
		cmocka_unit_test_setup_teardown(test_log_stderr_writes, log_setup, log_teardown),
		cmocka_unit_test(test_clock),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
