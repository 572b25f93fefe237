/* SPDX-License-Identifier: MIT */
#pragma once

#include <stddef.h>
#include <stdint.h>

/*
 * A bounded byte buffer: a queue of bytes with a hard maximum, in the manner of OpenSSH's
 * sshbuf and curl's dynbuf. Bytes are appended at the tail and consumed from the head.
 * Every operation that would grow the content past `max` fails with -EMSGSIZE and leaves the
 * buffer unchanged. Memory is allocated lazily and grows geometrically up to `max`.
 *
 * A buffer that may hold secrets (tokens on the wire) is wiped when consumed space is
 * reclaimed and when freed, so freed heap never holds a token.
 */
struct sb_buf {
	uint8_t *data; /* owned; NULL until first growth */
	size_t head;   /* offset of the first unconsumed byte */
	size_t tail;   /* offset one past the last byte */
	size_t cap;    /* allocated size of data */
	size_t max;    /* largest content (tail - head) ever allowed */
};

/* Initialises an empty buffer that will never hold more than max bytes. Allocates nothing. */
void sb_buf_init(struct sb_buf *b, size_t max);

/* Wipes and frees the storage; the buffer is left empty with its max unchanged. */
void sb_buf_free(struct sb_buf *b);

/* Number of unconsumed bytes. */
static inline size_t sb_buf_len(const struct sb_buf *b)
{
	return b->tail - b->head;
}

/* Borrowed pointer to the first unconsumed byte; valid until the next call that modifies b. */
static inline const uint8_t *sb_buf_ptr(const struct sb_buf *b)
{
	return b->data ? b->data + b->head : (const uint8_t *)"";
}

/* How many more bytes may be appended before reaching max. */
static inline size_t sb_buf_room(const struct sb_buf *b)
{
	return b->max - sb_buf_len(b);
}

/*
 * Makes at least n writable bytes available after the tail and returns them in *ret
 * (borrowed until the next call that modifies b). Nothing is appended until sb_buf_commit.
 * Returns 0, -EMSGSIZE when len + n would exceed max, -ENOMEM.
 */
int sb_buf_reserve(struct sb_buf *b, size_t n, uint8_t **ret);

/* Appends n bytes previously written into the area returned by sb_buf_reserve. */
void sb_buf_commit(struct sb_buf *b, size_t n);

/* Appends n bytes. Returns 0, -EMSGSIZE or -ENOMEM; on failure b is unchanged. */
int sb_buf_append(struct sb_buf *b, const void *p, size_t n);

/* Drops n bytes (n <= sb_buf_len) from the head, wiping them. */
void sb_buf_consume(struct sb_buf *b, size_t n);

/* Shortens the content to len bytes (len <= sb_buf_len), wiping what is dropped. */
void sb_buf_truncate(struct sb_buf *b, size_t len);

/* Writable pointer to byte `off` of the content (off < sb_buf_len); for patching headers. */
uint8_t *sb_buf_mutable_at(struct sb_buf *b, size_t off);

/* Big-endian helpers for the frame header. */
static inline uint32_t sb_be32_get(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

static inline void sb_be32_put(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}
