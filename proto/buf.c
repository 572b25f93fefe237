/* SPDX-License-Identifier: MIT */
/* buf: the bounded byte buffer every frame is read into and written from, wiped as it moves. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"

#define SB_BUF_MIN_ALLOC 256u

void sb_buf_init(struct sb_buf *b, size_t max)
{
	*b = (struct sb_buf){.max = max};
}

void sb_buf_free(struct sb_buf *b)
{
	if (b->data) {
		explicit_bzero(b->data, b->cap);
		free(b->data);
	}
	*b = (struct sb_buf){.max = b->max};
}

/* Moves the unconsumed bytes to offset 0 and wipes the space they vacated. */
static void buf_compact(struct sb_buf *b)
{
	size_t len = sb_buf_len(b);

	if (b->head == 0)
		return;
	memmove(b->data, b->data + b->head, len);
	explicit_bzero(b->data + len, b->tail - len);
	b->head = 0;
	b->tail = len;
}

/* Makes b->cap - b->tail >= n, given that the content plus n fits b->max: compacts in place
 * when that frees enough room, else moves to a fresh, larger allocation (the old one wiped).
 * Returns 0 or -ENOMEM (b unchanged). */
static int buf_make_room(struct sb_buf *b, size_t n)
{
	size_t len = sb_buf_len(b), need, ncap;
	uint8_t *p;

	if (b->cap - b->tail >= n)
		return 0;
	if (b->cap - len >= n && b->head > 0) {
		buf_compact(b);
		return 0;
	}

	need = len + n;
	ncap = b->cap ? b->cap : SB_BUF_MIN_ALLOC;
	while (ncap < need)
		ncap = ncap > SIZE_MAX / 2 ? need : ncap * 2;
	/* Never allocate far past the maximum content plus nothing: cap at max. */
	if (ncap > b->max && need <= b->max)
		ncap = b->max;

	/* Allocate fresh and copy instead of realloc, so old storage can be wiped. */
	p = malloc(ncap);
	if (!p)
		return -ENOMEM;
	if (len)
		memcpy(p, b->data + b->head, len);
	if (b->data) {
		explicit_bzero(b->data, b->cap);
		free(b->data);
	}
	b->data = p;
	b->cap = ncap;
	b->head = 0;
	b->tail = len;
	return 0;
}

int sb_buf_reserve(struct sb_buf *b, size_t n, uint8_t **ret)
{
	size_t len = sb_buf_len(b);
	int r;

	if (n > b->max || len > b->max - n)
		return -EMSGSIZE;
	r = buf_make_room(b, n);
	if (r < 0)
		return r;
	*ret = b->data + b->tail;
	return 0;
}

void sb_buf_commit(struct sb_buf *b, size_t n)
{
	b->tail += n;
}

int sb_buf_append(struct sb_buf *b, const void *p, size_t n)
{
	uint8_t *dst;
	int r;

	if (n == 0)
		return 0;
	r = sb_buf_reserve(b, n, &dst);
	if (r < 0)
		return r;
	memcpy(dst, p, n);
	sb_buf_commit(b, n);
	return 0;
}

void sb_buf_consume(struct sb_buf *b, size_t n)
{
	if (n > sb_buf_len(b))
		n = sb_buf_len(b);
	if (n == 0)
		return;
	explicit_bzero(b->data + b->head, n);
	b->head += n;
	if (b->head == b->tail)
		b->head = b->tail = 0;
}

void sb_buf_truncate(struct sb_buf *b, size_t len)
{
	if (len >= sb_buf_len(b))
		return;
	explicit_bzero(b->data + b->head + len, sb_buf_len(b) - len);
	b->tail = b->head + len;
	if (b->head == b->tail)
		b->head = b->tail = 0;
}

uint8_t *sb_buf_mutable_at(struct sb_buf *b, size_t off)
{
	return b->data + b->head + off;
}
