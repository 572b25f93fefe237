/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "limits.h"
#include "mpcheck.h"

int sb_utf8_valid(const uint8_t *s, size_t n)
{
	size_t i = 0;

	while (i < n) {
		uint8_t c = s[i];
		size_t k;
		uint32_t cp, min;

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

int sb_mp_check(const uint8_t *p, size_t n, struct sb_proto_error *e)
{
	struct level stack[SB_MAX_DEPTH + 1];
	unsigned depth = 0; /* number of open containers */
	size_t off = 0;
	bool done = false;

	if (n == 0)
		return sb_proto_error_set(e, -EBADMSG, "empty message");

	while (!done) {
		size_t start = off, skip = 0, strlen_ = 0, count = 0;
		bool is_str = false, is_container = false, is_map = false, want_key = false;
		uint8_t t;

		if (depth > 0) {
			struct level *l = &stack[depth - 1];
			want_key = l->is_map && (l->left % 2 == 0);
		}
		if (off >= n)
			return sb_proto_error_set(e, -EBADMSG, "truncated message at byte %zu", off);
		t = p[off++];

		if (t <= 0x7f || t >= 0xe0) {
			/* fixint */
		} else if (t <= 0x8f) {
			is_container = is_map = true, count = t & 0x0f;
		} else if (t <= 0x9f) {
			is_container = true, count = t & 0x0f;
		} else if (t <= 0xbf) {
			is_str = true, strlen_ = t & 0x1f;
		} else {
			unsigned w = 0;

			switch (t) {
			case 0xc0: case 0xc2: case 0xc3:
				break;
			case 0xca: skip = 4; break;
			case 0xcb: skip = 8; break;
			case 0xcc: case 0xd0: skip = 1; break;
			case 0xcd: case 0xd1: skip = 2; break;
			case 0xce: case 0xd2: skip = 4; break;
			case 0xcf: case 0xd3: skip = 8; break;
			case 0xd9: is_str = true, w = 1; break;
			case 0xda: is_str = true, w = 2; break;
			case 0xdb: is_str = true, w = 4; break;
			case 0xdc: is_container = true, w = 2; break;
			case 0xdd: is_container = true, w = 4; break;
			case 0xde: is_container = is_map = true, w = 2; break;
			case 0xdf: is_container = is_map = true, w = 4; break;
			case 0xc4: case 0xc5: case 0xc6:
				return sb_proto_error_set(e, -EBADMSG,
							  "binary value at byte %zu (not allowed)", start);
			case 0xc1:
				return sb_proto_error_set(e, -EBADMSG,
							  "reserved byte 0xc1 at byte %zu", start);
			default: /* 0xc7-0xc9, 0xd4-0xd8 */
				return sb_proto_error_set(e, -EBADMSG,
							  "extension value at byte %zu (not allowed)",
							  start);
			}
			if (w) {
				uint64_t v;

				if (n - off < w)
					return sb_proto_error_set(e, -EBADMSG,
								  "truncated message at byte %zu", off);
				v = be_get(p + off, w);
				off += w;
				if (is_str) {
					if (v > SB_MAX_STRING)
						return sb_proto_error_set(
							e, -EMSGSIZE,
							"string at byte %zu is longer than %u bytes",
							start, SB_MAX_STRING);
					strlen_ = (size_t)v;
				} else {
					count = (size_t)(v > SIZE_MAX ? SIZE_MAX : v);
				}
			}
		}

		if (want_key && !is_str)
			return sb_proto_error_set(e, -EBADMSG, "map key at byte %zu is not a string",
						  start);

		if (skip) {
			if (n - off < skip)
				return sb_proto_error_set(e, -EBADMSG, "truncated message at byte %zu",
							  off);
			off += skip;
		} else if (is_str) {
			if (n - off < strlen_)
				return sb_proto_error_set(
					e, -EBADMSG, "string at byte %zu declares %zu bytes but %zu remain",
					start, strlen_, n - off);
			if (memchr(p + off, '\0', strlen_))
				return sb_proto_error_set(e, -EBADMSG,
							  "string at byte %zu contains a NUL byte", start);
			if (!sb_utf8_valid(p + off, strlen_))
				return sb_proto_error_set(e, -EBADMSG,
							  "string at byte %zu is not valid UTF-8", start);
			off += strlen_;
		}

		if (is_container) {
			size_t items;

			if (count > SB_MAX_CONTAINER)
				return sb_proto_error_set(e, -EMSGSIZE,
							  "%s at byte %zu declares %zu entries (limit %u)",
							  is_map ? "map" : "array", start, count,
							  SB_MAX_CONTAINER);
			items = is_map ? count * 2 : count;
			/* every item takes at least one byte: a count the frame cannot hold is a lie */
			if (items > n - off)
				return sb_proto_error_set(
					e, -EBADMSG,
					"%s at byte %zu declares %zu entries but only %zu bytes follow",
					is_map ? "map" : "array", start, count, n - off);
			if (items > 0) {
				if (depth >= SB_MAX_DEPTH)
					return sb_proto_error_set(e, -EMSGSIZE,
								  "nesting deeper than %u at byte %zu",
								  SB_MAX_DEPTH, start);
				stack[depth++] = (struct level){.left = (uint32_t)items,
								.is_map = is_map};
				continue;
			}
		}

		/* one complete item: pop every level it completes */
		for (;;) {
			if (depth == 0) {
				done = true;
				break;
			}
			if (--stack[depth - 1].left > 0)
				break;
			depth--;
		}
	}

	if (off != n)
		return sb_proto_error_set(e, -EBADMSG, "%zu trailing bytes after the message",
					  n - off);
	return 0;
}
