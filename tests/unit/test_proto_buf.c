/* SPDX-License-Identifier: MIT */
/* Bounded buffer and framing. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "proto/buf.h"
#include "proto/frame.h"
#include "proto/limits.h"

static void test_append_consume(void **state)
{
	struct sb_buf b;

	sb_buf_init(&b, 10);
	assert_int_equal(sb_buf_len(&b), 0);
	assert_int_equal(sb_buf_append(&b, "hello", 5), 0);
	assert_int_equal(sb_buf_append(&b, "world", 5), 0);
	assert_int_equal(sb_buf_len(&b), 10);
	assert_int_equal(sb_buf_room(&b), 0);
	assert_memory_equal(sb_buf_ptr(&b), "helloworld", 10);

	/* one byte past max fails and changes nothing */
	assert_int_equal(sb_buf_append(&b, "!", 1), -EMSGSIZE);
	assert_int_equal(sb_buf_len(&b), 10);

	sb_buf_consume(&b, 5);
	assert_memory_equal(sb_buf_ptr(&b), "world", 5);
	assert_int_equal(sb_buf_append(&b, "12345", 5), 0); /* compaction makes room */
	assert_memory_equal(sb_buf_ptr(&b), "world12345", 10);
	sb_buf_truncate(&b, 3);
	assert_memory_equal(sb_buf_ptr(&b), "wor", 3);
	sb_buf_consume(&b, 100); /* clamps */
	assert_int_equal(sb_buf_len(&b), 0);
	sb_buf_free(&b);
	sb_buf_free(&b); /* idempotent */
}

static void test_reserve_overflow(void **state)
{
	struct sb_buf b;
	uint8_t *p;

	sb_buf_init(&b, 100);
	assert_int_equal(sb_buf_reserve(&b, SIZE_MAX, &p), -EMSGSIZE);
	assert_int_equal(sb_buf_reserve(&b, 101, &p), -EMSGSIZE);
	assert_int_equal(sb_buf_reserve(&b, 100, &p), 0);
	memset(p, 'x', 60);
	sb_buf_commit(&b, 60);
	assert_int_equal(sb_buf_reserve(&b, 41, &p), -EMSGSIZE);
	assert_int_equal(sb_buf_reserve(&b, 40, &p), 0);
	assert_true(b.cap <= 100); /* never allocates past max */
	sb_buf_free(&b);
}

static void put_frame(struct sb_buf *b, uint32_t len, const char *body, size_t body_len)
{
	uint8_t h[4];

	sb_be32_put(h, len);
	assert_int_equal(sb_buf_append(b, h, 4), 0);
	assert_int_equal(sb_buf_append(b, body, body_len), 0);
}

static void test_frame_reader(void **state)
{
	struct sb_buf b;
	const uint8_t *p;
	size_t len, need;

	sb_buf_init(&b, 1024);
	/* nothing, then a partial header */
	assert_int_equal(sb_frame_next(&b, 100, &p, &len, &need), SB_FRAME_MORE);
	assert_int_equal(need, 4);
	assert_int_equal(sb_buf_append(&b, "\0\0", 2), 0);
	assert_int_equal(sb_frame_next(&b, 100, &p, &len, &need), SB_FRAME_MORE);
	sb_buf_consume(&b, 2);

	/* a whole frame followed by a partial one */
	put_frame(&b, 3, "abc", 3);
	put_frame(&b, 5, "de", 2);
	assert_int_equal(sb_frame_next(&b, 100, &p, &len, &need), SB_FRAME_READY);
	assert_int_equal(len, 3);
	assert_memory_equal(p, "abc", 3);
	sb_frame_consume(&b, len);
	assert_int_equal(sb_frame_next(&b, 100, &p, &len, &need), SB_FRAME_MORE);
	assert_int_equal(need, 9);
	assert_null(p);
	sb_buf_free(&b);
}

static void test_frame_bad_length(void **state)
{
	struct sb_buf b;
	const uint8_t *p;
	size_t len;

	sb_buf_init(&b, 1024);
	/* a declared length over the cap is refused from the header alone, before any body */
	put_frame(&b, 0xffffffffu, "", 0);
	assert_int_equal(sb_frame_next(&b, SB_MAX_REQUEST_FRAME_DEFAULT, &p, &len, NULL), -EMSGSIZE);
	sb_buf_consume(&b, 4);
	put_frame(&b, 101, "", 0);
	assert_int_equal(sb_frame_next(&b, 100, &p, &len, NULL), -EMSGSIZE);
	sb_buf_consume(&b, 4);
	put_frame(&b, 0, "", 0);
	assert_int_equal(sb_frame_next(&b, 100, &p, &len, NULL), -EBADMSG);
	sb_buf_free(&b);
}

static void test_frame_writer(void **state)
{
	struct sb_buf b;
	size_t mark;
	const uint8_t *p;
	size_t len;

	sb_buf_init(&b, 64);
	assert_int_equal(sb_frame_begin(&b, &mark), 0);
	assert_int_equal(sb_buf_append(&b, "xyz", 3), 0);
	assert_int_equal(sb_frame_end(&b, mark, 100), 0);
	assert_int_equal(sb_frame_next(&b, 100, &p, &len, NULL), SB_FRAME_READY);
	assert_int_equal(len, 3);

	/* an empty or oversized payload leaves nothing behind */
	assert_int_equal(sb_frame_begin(&b, &mark), 0);
	assert_int_equal(sb_frame_end(&b, mark, 100), -EBADMSG);
	assert_int_equal(sb_buf_len(&b), 7);
	assert_int_equal(sb_frame_begin(&b, &mark), 0);
	assert_int_equal(sb_buf_append(&b, "0123456789", 10), 0);
	assert_int_equal(sb_frame_end(&b, mark, 5), -EMSGSIZE);
	assert_int_equal(sb_buf_len(&b), 7);
	sb_buf_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_append_consume),
		cmocka_unit_test(test_reserve_overflow),
		cmocka_unit_test(test_frame_reader),
		cmocka_unit_test(test_frame_bad_length),
		cmocka_unit_test(test_frame_writer),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
