/* SPDX-License-Identifier: MIT */
/* compact: a decoded request's fields moved out of its decode zone into one exactly sized block. */
#include <assert.h>
#include <errno.h>
#include <stdalign.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "message.h"
#include "schema.h"

/*
 * The block is filled in two passes over the op's field table with the same code: the first
 * with no base only counts (every arena_take returns NULL and nothing is written), the second
 * copies into a block of exactly the size counted.
 */
struct arena {
	char *base; /* NULL while measuring */
	size_t used;
};

/* n bytes aligned to align; NULL while measuring. */
static void *arena_take(struct arena *a, size_t n, size_t align)
{
	size_t off = (a->used + align - 1) & ~(align - 1);

	a->used = off + n;
	return a->base ? a->base + off : NULL;
}

static const char *copy_bytes(struct arena *a, const char *p, size_t n)
{
	char *d = arena_take(a, n, 1);

	if (d && n)
		memcpy(d, p, n);
	return d;
}

static const char *copy_str(struct arena *a, const char *s)
{
	return copy_bytes(a, s, strlen(s) + 1);
}

/* Deep copy of src into *dst (dst NULL while measuring). The recursion is as deep as the
 * value, which sb_mp_check bounded (SB_MAX_DEPTH). */
static void copy_object(struct arena *a, msgpack_object *dst, const msgpack_object *src)
{
	msgpack_object o = *src;

	switch (src->type) {
	case MSGPACK_OBJECT_STR:
		o.via.str.ptr = copy_bytes(a, src->via.str.ptr, src->via.str.size);
		break;
	case MSGPACK_OBJECT_BIN:
		o.via.bin.ptr = copy_bytes(a, src->via.bin.ptr, src->via.bin.size);
		break;
	case MSGPACK_OBJECT_EXT:
		o.via.ext.ptr = copy_bytes(a, src->via.ext.ptr, src->via.ext.size);
		break;
	case MSGPACK_OBJECT_ARRAY: {
		msgpack_object *v =
		    arena_take(a, sizeof(*v) * src->via.array.size, alignof(msgpack_object));

		for (uint32_t i = 0; i < src->via.array.size; i++)
			copy_object(a, v ? &v[i] : NULL, &src->via.array.ptr[i]);
		o.via.array.ptr = v;
		break;
	}
	case MSGPACK_OBJECT_MAP: {
		msgpack_object_kv *kv =
		    arena_take(a, sizeof(*kv) * src->via.map.size, alignof(msgpack_object_kv));

		for (uint32_t i = 0; i < src->via.map.size; i++) {
			copy_object(a, kv ? &kv[i].key : NULL, &src->via.map.ptr[i].key);
			copy_object(a, kv ? &kv[i].val : NULL, &src->via.map.ptr[i].val);
		}
		o.via.map.ptr = kv;
		break;
	}
	default: /* scalars: nothing outside the object */
		break;
	}
	if (dst)
		*dst = o;
}

static void copy_strv(struct arena *a, const struct sb_strv *src, struct sb_strv *dst)
{
	const char **v;

	if (!src->set)
		return;
	v = arena_take(a, sizeof(*v) * (src->n + 1), alignof(const char *));
	for (uint32_t i = 0; i < src->n; i++) {
		const char *s = copy_str(a, src->v[i]);

		if (v)
			v[i] = s;
	}
	if (v)
		v[src->n] = NULL;
	if (dst)
		dst->v = v;
}

static void copy_u64v(struct arena *a, const struct sb_u64v *src, struct sb_u64v *dst)
{
	uint64_t *v;

	if (!src->set)
		return;
	v = arena_take(a, sizeof(*v) * src->n, alignof(uint64_t));
	if (v)
		memcpy(v, src->v, sizeof(*v) * src->n);
	if (dst)
		dst->v = v;
}

/* What field f of the args at src points to, copied; dst (the args of the copy, whose scalars
 * and enum names are already there) gets the new pointer. dst is NULL while measuring. */
static void copy_field(struct arena *a, const struct field *f, const char *src, char *dst)
{
	const void *s = src + f->off;
	void *d = dst ? dst + f->off : NULL;

	switch (f->type) {
	case FT_STR: {
		const char *str = *(const char *const *)s;
		const char *c = str ? copy_str(a, str) : NULL;

		if (d)
			*(const char **)d = c;
		break;
	}
	case FT_STRV:
		copy_strv(a, s, d);
		break;
	case FT_U64V:
		copy_u64v(a, s, d);
		break;
	case FT_MAP:
	case FT_ARRAY:
	case FT_MAPARRAY: {
		const msgpack_object *o = *(const msgpack_object *const *)s;
		msgpack_object *c;

		if (!o)
			break;
		c = arena_take(a, sizeof(*c), alignof(msgpack_object));
		copy_object(a, c, o);
		if (d)
			*(const msgpack_object **)d = c;
		break;
	}
	case FT_ENUM: /* points at the table's own names */
	case FT_U64:
	case FT_BOOL:
		break;
	}
}

/* Measures (dst NULL) or copies the fields of t from the args at src. Returns the bytes. */
static size_t copy_table(const struct table *t, const char *src, char *block, char *dst)
{
	struct arena a = {.base = block};

	for (size_t i = 0; i < t->n; i++)
		copy_field(&a, &t->f[i], src, dst);
	return a.used;
}

int sb_request_compact(struct sb_request *req)
{
	const struct table *t;
	_cleanup_free_ char *block = NULL;
	struct sb_request out;
	size_t n;

	if (!req->zone || (unsigned)req->op >= _SB_OP_MAX)
		return 0; /* compact already, or built by hand */
	t = &sb_request_tables[req->op];
	n = copy_table(t, (const char *)&req->u, NULL, NULL);
	if (n > 0) {
		block = malloc(n);
		if (!block)
			return -ENOMEM;
	}
	out = (struct sb_request){.id = req->id, .op = req->op, .u = req->u};
	if (n > 0) {
		size_t copied = copy_table(t, (const char *)&req->u, block, (char *)&out.u);

		assert(copied == n);
		(void)copied;
	}
	out.block_len = n;
	out.block = TAKE_PTR(block);
	sb_request_done(req); /* wipes the secrets and the payload, frees the zone */
	*req = out;
	return 0;
}

size_t sb_request_held(const struct sb_request *req)
{
	return req->block_len;
}
