/* SPDX-License-Identifier: MIT */
/* mp: the conformance tests' own MessagePack writer and reader (see mp.h). */
#include <stdlib.h>
#include <string.h>

#include "mp.h"

#define MPV_MAX_DEPTH 32

void mpw_init(struct mpw *w)
{
	memset(w, 0, sizeof(*w));
}

void mpw_free(struct mpw *w)
{
	free(w->p);
	mpw_init(w);
}

void mpw_raw(struct mpw *w, const void *p, size_t n)
{
	if (w->n + n > w->cap) {
		size_t cap = w->cap ? w->cap : 256;

		while (cap < w->n + n)
			cap *= 2;
		w->p = realloc(w->p, cap);
		if (!w->p)
			abort();
		w->cap = cap;
	}
	if (n)
		memcpy(w->p + w->n, p, n);
	w->n += n;
}

static void put_byte(struct mpw *w, uint8_t b)
{
	mpw_raw(w, &b, 1);
}

/* The byte b, then v big-endian in `width` bytes. */
static void put_be(struct mpw *w, uint8_t b, uint64_t v, unsigned width)
{
	uint8_t out[9];

	out[0] = b;
	for (unsigned i = 0; i < width; i++)
		out[1 + i] = (uint8_t)(v >> (8 * (width - 1 - i)));
	mpw_raw(w, out, 1 + width);
}

void mpw_nil(struct mpw *w)
{
	put_byte(w, 0xc0);
}

void mpw_bool(struct mpw *w, bool v)
{
	put_byte(w, v ? 0xc3 : 0xc2);
}

void mpw_uint(struct mpw *w, uint64_t v)
{
	if (v < 0x80)
		put_byte(w, (uint8_t)v);
	else if (v <= 0xff)
		put_be(w, 0xcc, v, 1);
	else if (v <= 0xffff)
		put_be(w, 0xcd, v, 2);
	else if (v <= 0xffffffffu)
		put_be(w, 0xce, v, 4);
	else
		put_be(w, 0xcf, v, 8);
}

void mpw_int_as(struct mpw *w, uint8_t fmt, int64_t v)
{
	unsigned width = fmt == 0xd0 ? 1 : fmt == 0xd1 ? 2 : fmt == 0xd2 ? 4 : 8;

	put_be(w, fmt, (uint64_t)v, width);
}

void mpw_neg(struct mpw *w, int64_t v)
{
	if (v >= -32)
		put_byte(w, (uint8_t)(int8_t)v);
	else if (v >= INT8_MIN)
		mpw_int_as(w, 0xd0, v);
	else if (v >= INT16_MIN)
		mpw_int_as(w, 0xd1, v);
	else if (v >= INT32_MIN)
		mpw_int_as(w, 0xd2, v);
	else
		mpw_int_as(w, 0xd3, v);
}

void mpw_strn(struct mpw *w, const char *s, size_t n)
{
	if (n < 32)
		put_byte(w, (uint8_t)(0xa0 | n));
	else if (n <= 0xff)
		put_be(w, 0xd9, n, 1);
	else if (n <= 0xffff)
		put_be(w, 0xda, n, 2);
	else
		put_be(w, 0xdb, n, 4);
	mpw_raw(w, s, n);
}

void mpw_str(struct mpw *w, const char *s)
{
	mpw_strn(w, s, strlen(s));
}

void mpw_array(struct mpw *w, uint32_t n)
{
	if (n < 16)
		put_byte(w, (uint8_t)(0x90 | n));
	else if (n <= 0xffff)
		put_be(w, 0xdc, n, 2);
	else
		put_be(w, 0xdd, n, 4);
}

void mpw_map(struct mpw *w, uint32_t n)
{
	if (n < 16)
		put_byte(w, (uint8_t)(0x80 | n));
	else if (n <= 0xffff)
		put_be(w, 0xde, n, 2);
	else
		put_be(w, 0xdf, n, 4);
}

void mpw_request(struct mpw *w, uint64_t id, const char *op, uint32_t n_args)
{
	mpw_map(w, 2 + n_args);
	mpw_str(w, "id");
	mpw_uint(w, id);
	mpw_str(w, "op");
	mpw_str(w, op);
}

void mpw_frame(const struct mpw *payload, struct mpw *frame)
{
	uint8_t h[4] = {(uint8_t)(payload->n >> 24), (uint8_t)(payload->n >> 16),
			(uint8_t)(payload->n >> 8), (uint8_t)payload->n};

	mpw_init(frame);
	mpw_raw(frame, h, 4);
	mpw_raw(frame, payload->p, payload->n);
}

/* ---------------------------------------------------------------- reader */

struct rd {
	const uint8_t *p;
	size_t n, off;
	const char *why;
};

static int fail(struct rd *r, const char *why)
{
	if (!r->why)
		r->why = why;
	return -1;
}

static int need(struct rd *r, size_t k)
{
	return r->n - r->off >= k ? 0 : fail(r, "truncated");
}

static uint64_t be(struct rd *r, unsigned width)
{
	uint64_t v = 0;

	for (unsigned i = 0; i < width; i++)
		v = v << 8 | r->p[r->off + i];
	r->off += width;
	return v;
}

static int decode_one(struct rd *r, struct mpv *v, unsigned depth);

/* len children (2 * len for a map), each at least one byte: a count larger than the bytes
 * left is refused before anything is allocated. */
static int decode_kids(struct rd *r, struct mpv *v, uint64_t len, bool map, unsigned depth)
{
	uint64_t n = map ? 2 * len : len;

	if (depth >= MPV_MAX_DEPTH)
		return fail(r, "too deep");
	if (n > r->n - r->off)
		return fail(r, "count larger than the bytes left");
	v->t = map ? MPV_MAP : MPV_ARRAY;
	v->len = (uint32_t)len;
	v->kids = calloc(n ? n : 1, sizeof(*v->kids));
	if (!v->kids)
		return fail(r, "out of memory");
	for (uint64_t i = 0; i < n; i++)
		if (decode_one(r, &v->kids[i], depth + 1) < 0)
			return -1;
	return 0;
}

static int decode_str(struct rd *r, struct mpv *v, uint64_t len)
{
	if (need(r, len) < 0)
		return -1;
	v->t = MPV_STR;
	v->s = (const char *)r->p + r->off;
	v->len = (uint32_t)len;
	r->off += len;
	return 0;
}

/* A format byte with a width-sized argument after it. */
static int decode_sized(struct rd *r, struct mpv *v, uint8_t b, unsigned depth)
{
	static const struct {
		uint8_t b, width;
	} widths[] = {{0xca, 4}, {0xcb, 8}, {0xcc, 1}, {0xcd, 2}, {0xce, 4}, {0xcf, 8},
		      {0xd0, 1}, {0xd1, 2}, {0xd2, 4}, {0xd3, 8}, {0xd9, 1}, {0xda, 2},
		      {0xdb, 4}, {0xdc, 2}, {0xdd, 4}, {0xde, 2}, {0xdf, 4}};
	unsigned width = 0;
	uint64_t x;

	for (size_t i = 0; i < sizeof(widths) / sizeof(widths[0]); i++)
		if (widths[i].b == b)
			width = widths[i].width;
	if (width == 0)
		return fail(r, "bin, ext or 0xc1");
	if (need(r, width) < 0)
		return -1;
	x = be(r, width);
	if (b == 0xca || b == 0xcb) {
		v->t = MPV_FLOAT;
		if (b == 0xca) {
			uint32_t u32 = (uint32_t)x;
			float f;

			memcpy(&f, &u32, 4);
			v->f = f;
		} else {
			memcpy(&v->f, &x, 8);
		}
		return 0;
	}
	if (b >= 0xcc && b <= 0xcf) {
		v->t = MPV_UINT;
		v->u = x;
		return 0;
	}
	if (b >= 0xd0 && b <= 0xd3) {
		int64_t s = width == 1 ? (int8_t)x : width == 2 ? (int16_t)x :
			    width == 4 ? (int32_t)x : (int64_t)x;

		if (s >= 0) {
			v->t = MPV_UINT;
			v->u = (uint64_t)s;
		} else {
			v->t = MPV_INT;
			v->i = s;
		}
		return 0;
	}
	if (b >= 0xd9 && b <= 0xdb)
		return decode_str(r, v, x);
	return decode_kids(r, v, x, b >= 0xde, depth);
}

static int decode_one(struct rd *r, struct mpv *v, unsigned depth)
{
	uint8_t b;

	if (need(r, 1) < 0)
		return -1;
	b = r->p[r->off++];
	if (b <= 0x7f) {
		v->t = MPV_UINT;
		v->u = b;
	} else if (b >= 0xe0) {
		v->t = MPV_INT;
		v->i = (int8_t)b;
	} else if ((b & 0xf0) == 0x80) {
		return decode_kids(r, v, b & 0x0f, true, depth);
	} else if ((b & 0xf0) == 0x90) {
		return decode_kids(r, v, b & 0x0f, false, depth);
	} else if ((b & 0xe0) == 0xa0) {
		return decode_str(r, v, b & 0x1f);
	} else if (b == 0xc0) {
		v->t = MPV_NIL;
	} else if (b == 0xc2 || b == 0xc3) {
		v->t = MPV_BOOL;
		v->b = b == 0xc3;
	} else {
		return decode_sized(r, v, b, depth);
	}
	return 0;
}

static void mpv_free_kids(struct mpv *v)
{
	if (v->t != MPV_ARRAY && v->t != MPV_MAP)
		return;
	if (v->kids)
		for (uint64_t i = 0; i < (v->t == MPV_MAP ? 2ull : 1ull) * v->len; i++)
			mpv_free_kids(&v->kids[i]);
	free(v->kids);
}

void mpv_free(struct mpv *v)
{
	if (!v)
		return;
	mpv_free_kids(v);
	free(v->bytes);
	free(v);
}

int mpv_decode(const uint8_t *p, size_t n, struct mpv **ret, const char **why)
{
	uint8_t *copy = malloc(n ? n : 1);
	struct mpv *root = calloc(1, sizeof(*root));
	struct rd r = {copy, n, 0, NULL};

	*ret = NULL;
	if (!copy || !root)
		abort();
	memcpy(copy, p, n);
	if (decode_one(&r, root, 1) < 0 || (r.off != n && !r.why && fail(&r, "trailing bytes"))) {
		*why = r.why;
		mpv_free_kids(root);
		free(root);
		free(copy);
		return -1;
	}
	root->bytes = copy;
	*ret = root;
	return 0;
}

bool mpv_is_str(const struct mpv *v, const char *s)
{
	return v && v->t == MPV_STR && v->len == strlen(s) && memcmp(v->s, s, v->len) == 0;
}

const struct mpv *mpv_get(const struct mpv *m, const char *k)
{
	if (!m || m->t != MPV_MAP)
		return NULL;
	for (uint32_t i = 0; i < m->len; i++)
		if (mpv_is_str(&m->kids[2 * i], k))
			return &m->kids[2 * i + 1];
	return NULL;
}
