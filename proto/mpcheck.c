/* SPDX-License-Identifier: MIT */
/* mpcheck: a bounded structural msgpack validator, run before msgpack-c allocates anything. */
#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "limits.h"
#include "mpcheck.h"

int sb_utf8_valid(const uint8_t *s, size_t n)
{
	size_t i = 0;

	while (i < n) {
		uint8_t c;
		size_t k;
		uint32_t cp, min;
		uint64_t w;

		/* ASCII (tokens, names) eight bytes at a time */
		if (n - i >= 8 && (memcpy(&w, s + i, 8), !(w & 0x8080808080808080ull))) {
			i += 8;
			continue;
		}
		c = s[i];
		if (c < 0x80) {
			i++;
			continue;
		} else if ((c & 0xe0) == 0xc0) {
			k = 1, cp = c & 0x1f, min = 0x80;
		} else if ((c & 0xf0) == 0xe0) {
			k = 2, cp = c & 0x0f, min = 0x800;
		} else if ((c & 0xf8) == 0xf0) {
			k = 3, cp = c & 0x07, min = 0x10000;
		} else {
			return 0;
		}
		if (n - i <= k)
			return 0;
		for (size_t j = 1; j <= k; j++) {
			if ((s[i + j] & 0xc0) != 0x80)
				return 0;
			cp = cp << 6 | (s[i + j] & 0x3f);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return 0;
		i += k + 1;
	}
	return 1;
}

struct level {
	uint32_t left;  /* items still expected at this level (a map counts keys and values) */
	bool is_map;
};

/* Reads a big-endian unsigned integer of w bytes at p. */
static uint64_t be_get(const uint8_t *p, unsigned w)
{
	uint64_t v = 0;

	for (unsigned i = 0; i < w; i++)
		v = v << 8 | p[i];
	return v;
}

/* One item's header as read_header decodes it: its kind and the sizes that follow. */
struct item {
	size_t start;   /* offset of the type byte, for error messages */
	size_t skip;    /* body bytes of a fixed-size scalar */
	size_t str_len; /* body bytes of a string */
	size_t count;   /* declared entries of a container (a map counts pairs) */
	bool is_str, is_container, is_map;
};

/*
 * Classifies a type byte in 0xc0..0xdf: a fixed-size scalar (it->skip), or a string or
 * container whose length follows in *w bytes. Returns 0, or -EBADMSG for bin and ext (not
 * allowed) and the reserved 0xc1.
 */
static int classify_wide(uint8_t t, struct item *it, unsigned *w, struct sb_proto_error *e)
{
	*w = 0;
	switch (t) {
	case 0xc0: case 0xc2: case 0xc3:
		return 0;
	case 0xca: it->skip = 4; return 0;
	case 0xcb: it->skip = 8; return 0;
	case 0xcc: case 0xd0: it->skip = 1; return 0;
	case 0xcd: case 0xd1: it->skip = 2; return 0;
	case 0xce: case 0xd2: it->skip = 4; return 0;
	case 0xcf: case 0xd3: it->skip = 8; return 0;
	case 0xd9: it->is_str = true, *w = 1; return 0;
	case 0xda: it->is_str = true, *w = 2; return 0;
	case 0xdb: it->is_str = true, *w = 4; return 0;
	case 0xdc: it->is_container = true, *w = 2; return 0;
	case 0xdd: it->is_container = true, *w = 4; return 0;
	case 0xde: it->is_container = it->is_map = true, *w = 2; return 0;
	case 0xdf: it->is_container = it->is_map = true, *w = 4; return 0;
	case 0xc4: case 0xc5: case 0xc6:
		return sb_proto_error_set(e, -EBADMSG, "binary value at byte %zu (not allowed)",
					  it->start);
	case 0xc1:
		return sb_proto_error_set(e, -EBADMSG, "reserved byte 0xc1 at byte %zu", it->start);
	default: /* 0xc7-0xc9, 0xd4-0xd8 */
		return sb_proto_error_set(e, -EBADMSG, "extension value at byte %zu (not allowed)",
					  it->start);
	}
}

/*
 * Reads the header of the item at *off (its type byte and any length field) into *it and
 * advances *off past it. Returns 0, -EBADMSG (truncated, forbidden type) or -EMSGSIZE (a
 * string longer than SB_MAX_STRING).
 */
static int read_header(const uint8_t *p, size_t n, size_t *off, struct item *it,
		       struct sb_proto_error *e)
{
	unsigned w;
	uint64_t v;
	uint8_t t;
	int r;

	*it = (struct item){.start = *off};
	if (*off >= n)
		return sb_proto_error_set(e, -EBADMSG, "truncated message at byte %zu", *off);
	t = p[(*off)++];

	if (t <= 0x7f || t >= 0xe0)
		return 0; /* fixint */
	if (t <= 0x8f) {
		it->is_container = it->is_map = true, it->count = t & 0x0f;
		return 0;
	}
	if (t <= 0x9f) {
		it->is_container = true, it->count = t & 0x0f;
		return 0;
	}
	if (t <= 0xbf) {
		it->is_str = true, it->str_len = t & 0x1f;
		return 0;
	}
	r = classify_wide(t, it, &w, e);
	if (r < 0 || w == 0)
		return r;
	if (n - *off < w)
		return sb_proto_error_set(e, -EBADMSG, "truncated message at byte %zu", *off);
	v = be_get(p + *off, w);
	*off += w;
	if (!it->is_str) {
		it->count = (size_t)(v > SIZE_MAX ? SIZE_MAX : v);
		return 0;
	}
	if (v > SB_MAX_STRING)
		return sb_proto_error_set(e, -EMSGSIZE,
					  "string at byte %zu is longer than %u bytes", it->start,
					  SB_MAX_STRING);
	it->str_len = (size_t)v;
	return 0;
}

/*
 * Advances *off past the body of a scalar or string item, checking that a string is all
 * there, has no NUL and is valid UTF-8. Returns 0 or -EBADMSG.
 */
static int skip_body(const uint8_t *p, size_t n, size_t *off, const struct item *it,
		     struct sb_proto_error *e)
{
	if (it->skip) {
		if (n - *off < it->skip)
			return sb_proto_error_set(e, -EBADMSG, "truncated message at byte %zu",
						  *off);
		*off += it->skip;
		return 0;
	}
	if (!it->is_str)
		return 0;
	if (n - *off < it->str_len)
		return sb_proto_error_set(e, -EBADMSG,
					  "string at byte %zu declares %zu bytes but %zu remain",
					  it->start, it->str_len, n - *off);
	if (memchr(p + *off, '\0', it->str_len))
		return sb_proto_error_set(e, -EBADMSG, "string at byte %zu contains a NUL byte",
					  it->start);
	if (!sb_utf8_valid(p + *off, it->str_len))
		return sb_proto_error_set(e, -EBADMSG, "string at byte %zu is not valid UTF-8",
					  it->start);
	*off += it->str_len;
	return 0;
}

/*
 * Checks a container's declared count against SB_MAX_CONTAINER and against the `left` bytes
 * that follow it (every item takes at least one byte: a count the frame cannot hold is a
 * lie). *items is the number of items it holds (a map counts keys and values).
 * Returns 0, -EMSGSIZE or -EBADMSG.
 */
static int check_container(const struct item *it, size_t left, size_t *items,
			   struct sb_proto_error *e)
{
	const char *kind = it->is_map ? "map" : "array";

	if (it->count > SB_MAX_CONTAINER)
		return sb_proto_error_set(e, -EMSGSIZE,
					  "%s at byte %zu declares %zu entries (limit %u)", kind,
					  it->start, it->count, SB_MAX_CONTAINER);
	*items = it->is_map ? it->count * 2 : it->count;
	if (*items > left)
		return sb_proto_error_set(e, -EBADMSG,
					  "%s at byte %zu declares %zu entries but only %zu "
					  "bytes follow",
					  kind, it->start, it->count, left);
	return 0;
}

/* Counts one complete item against the open containers, closing every one it completes.
 * Returns the new depth; 0 once the outermost item is complete. */
static unsigned pop_completed(struct level *stack, unsigned depth)
{
	while (depth > 0 && --stack[depth - 1].left == 0)
		depth--;
	return depth;
}

int sb_mp_check(const uint8_t *p, size_t n, struct sb_proto_error *e)
{
	struct level stack[SB_MAX_DEPTH + 1];
	unsigned depth = 0; /* number of open containers */
	size_t off = 0;

	if (n == 0)
		return sb_proto_error_set(e, -EBADMSG, "empty message");

	do {
		const struct level *top = depth > 0 ? &stack[depth - 1] : NULL;
		bool want_key = top && top->is_map && top->left % 2 == 0;
		size_t items = 0;
		struct item it;
		int r;

		r = read_header(p, n, &off, &it, e);
		if (r < 0)
			return r;
		if (want_key && !it.is_str)
			return sb_proto_error_set(e, -EBADMSG,
						  "map key at byte %zu is not a string", it.start);
		r = skip_body(p, n, &off, &it, e);
		if (r < 0)
			return r;
		if (it.is_container) {
			r = check_container(&it, n - off, &items, e);
			if (r < 0)
				return r;
		}
		if (items > 0) {
			if (depth >= SB_MAX_DEPTH)
				return sb_proto_error_set(e, -EMSGSIZE,
							  "nesting deeper than %u at byte %zu",
							  SB_MAX_DEPTH, it.start);
			stack[depth++] =
				(struct level){.left = (uint32_t)items, .is_map = it.is_map};
			continue;
		}
		depth = pop_completed(stack, depth);
	} while (depth > 0);

	if (off != n)
		return sb_proto_error_set(e, -EBADMSG, "%zu trailing bytes after the message",
					  n - off);
	return 0;
}
