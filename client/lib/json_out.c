/* SPDX-License-Identifier: MIT */
/* json_out: a decoded msgpack tree as JSON text (RFC 8259), compact or indented. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "client/lib/internal.h"

/* Appends the NUL-terminated s. */
static int put(struct sb_buf *out, const char *s)
{
	return sb_buf_append(out, s, strlen(s));
}

/* A JSON string of p[0..n): quotes, backslash and control characters escaped. The bytes are
 * valid UTF-8 already (sb_mp_check), so everything else is copied as it is. */
static int put_string(struct sb_buf *out, const char *p, size_t n)
{
	size_t run = 0;
	int r = put(out, "\"");

	for (size_t i = 0; r == 0 && i < n; i++) {
		unsigned char c = (unsigned char)p[i];
		char esc[8];

		if (c >= 0x20 && c != '"' && c != '\\')
			continue;
		r = sb_buf_append(out, p + run, i - run);
		run = i + 1;
		if (r < 0)
			break;
		switch (c) {
		case '"': r = put(out, "\\\""); break;
		case '\\': r = put(out, "\\\\"); break;
		case '\n': r = put(out, "\\n"); break;
		case '\r': r = put(out, "\\r"); break;
		case '\t': r = put(out, "\\t"); break;
		default:
			snprintf(esc, sizeof(esc), "\\u%04x", c);
			r = put(out, esc);
		}
	}
	if (r == 0)
		r = sb_buf_append(out, p + run, n - run);
	return r == 0 ? put(out, "\"") : r;
}

/* A float; JSON has no NaN or infinities, which become null. A whole number keeps ".0" so
 * that a reader still sees a float. */
static int put_float(struct sb_buf *out, double d)
{
	char num[40];

	if (!isfinite(d))
		return put(out, "null");
	snprintf(num, sizeof(num), "%.17g", d);
	if (strspn(num, "-0123456789") == strlen(num))
		return put(out, num) ?: put(out, ".0");
	return put(out, num);
}

/* A newline and two spaces per level, when pretty. */
static int put_indent(struct sb_buf *out, bool pretty, unsigned depth)
{
	int r;

	if (!pretty)
		return 0;
	r = put(out, "\n");
	for (unsigned i = 0; r == 0 && i < depth; i++)
		r = put(out, "  ");
	return r;
}

static int put_array(const msgpack_object *v, bool pretty, unsigned depth, struct sb_buf *out)
{
	int r = put(out, "[");

	for (uint32_t i = 0; r == 0 && i < v->via.array.size; i++) {
		if (i > 0)
			r = put(out, ",");
		if (r == 0)
			r = put_indent(out, pretty, depth + 1);
		if (r == 0)
			r = json_render(&v->via.array.ptr[i], pretty, depth + 1, out);
	}
	if (r == 0 && v->via.array.size > 0)
		r = put_indent(out, pretty, depth);
	return r == 0 ? put(out, "]") : r;
}

static int put_map(const msgpack_object *v, bool pretty, unsigned depth, struct sb_buf *out)
{
	int r = put(out, "{");

	for (uint32_t i = 0; r == 0 && i < v->via.map.size; i++) {
		const msgpack_object_kv *kv = &v->via.map.ptr[i];

		if (i > 0)
			r = put(out, ",");
		if (r == 0)
			r = put_indent(out, pretty, depth + 1);
		if (r == 0) /* keys are strings (sb_mp_check) */
			r = put_string(out, kv->key.via.str.ptr, kv->key.via.str.size);
		if (r == 0)
			r = put(out, pretty ? ": " : ":");
		if (r == 0)
			r = json_render(&kv->val, pretty, depth + 1, out);
	}
	if (r == 0 && v->via.map.size > 0)
		r = put_indent(out, pretty, depth);
	return r == 0 ? put(out, "}") : r;
}

int json_render(const msgpack_object *v, bool pretty, unsigned depth, struct sb_buf *out)
{
	char num[32];

	if (depth > SB_MAX_DEPTH) /* never for a checked frame; a guard for the recursion */
		return -EMSGSIZE;
	switch (v->type) {
	case MSGPACK_OBJECT_NIL:
		return put(out, "null");
	case MSGPACK_OBJECT_BOOLEAN:
		return put(out, v->via.boolean ? "true" : "false");
	case MSGPACK_OBJECT_POSITIVE_INTEGER:
		snprintf(num, sizeof(num), "%" PRIu64, v->via.u64);
		return put(out, num);
	case MSGPACK_OBJECT_NEGATIVE_INTEGER:
		snprintf(num, sizeof(num), "%" PRId64, v->via.i64);
		return put(out, num);
	case MSGPACK_OBJECT_FLOAT32:
	case MSGPACK_OBJECT_FLOAT64:
		return put_float(out, v->via.f64);
	case MSGPACK_OBJECT_STR:
		return put_string(out, v->via.str.ptr, v->via.str.size);
	case MSGPACK_OBJECT_ARRAY:
		return put_array(v, pretty, depth, out);
	case MSGPACK_OBJECT_MAP:
		return put_map(v, pretty, depth, out);
	default: /* bin and ext never pass sb_mp_check */
		return -EBADMSG;
	}
}
