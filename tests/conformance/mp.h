/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * The conformance tests' own MessagePack writer and reader, written from proto/PROTOCOL.md
 * (sections 2 and 4) and the MessagePack spec alone: nothing here comes from proto/ or
 * msgpack-c, so that the tests check the broker against the document, not against the code
 * it shares with its own client library.
 *
 * Writer: appends to a growable buffer; each integer goes out in the format the caller names
 * or in the smallest one. A frame is the 4-byte big-endian length and one payload.
 * Reader: decodes one payload into a tree of struct mpv (nil, bool, uint, int, float, str,
 * array, map; bin, ext and 0xc1 are errors, as section 4 says), bounded in depth, rejecting
 * trailing bytes. Strings point into the tree's own copy of the bytes.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct mpw {
	uint8_t *p;
	size_t n, cap;
};

void mpw_init(struct mpw *w);
void mpw_free(struct mpw *w);
void mpw_raw(struct mpw *w, const void *p, size_t n);
void mpw_nil(struct mpw *w);
void mpw_bool(struct mpw *w, bool v);
/* The smallest format that holds v: positive fixint, uint 8/16/32/64. */
void mpw_uint(struct mpw *w, uint64_t v);
/* A signed format chosen by the caller: 0xd0 int8, 0xd1 int16, 0xd2 int32, 0xd3 int64. */
void mpw_int_as(struct mpw *w, uint8_t fmt, int64_t v);
/* The smallest format for a negative value. */
void mpw_neg(struct mpw *w, int64_t v);
void mpw_strn(struct mpw *w, const char *s, size_t n);
void mpw_str(struct mpw *w, const char *s);
void mpw_array(struct mpw *w, uint32_t n);
void mpw_map(struct mpw *w, uint32_t n);
/* A request map head: a map of 2 + n_args pairs, "id" (smallest format) and "op". */
void mpw_request(struct mpw *w, uint64_t id, const char *op, uint32_t n_args);
/* Prepends nothing: returns a new buffer holding the 4-byte length and w's bytes. */
void mpw_frame(const struct mpw *payload, struct mpw *frame);

enum mpv_type { MPV_NIL, MPV_BOOL, MPV_UINT, MPV_INT, MPV_FLOAT, MPV_STR, MPV_ARRAY, MPV_MAP };

struct mpv {
	enum mpv_type t;
	bool b;
	uint64_t u;  /* MPV_UINT: any value >= 0, whatever format it came in */
	int64_t i;   /* MPV_INT: a negative value */
	double f;
	const char *s; /* MPV_STR: not NUL-terminated (len bytes) */
	uint32_t len;  /* str bytes, array entries, map pairs */
	struct mpv *kids; /* array: len values; map: 2 * len (key, value, key, value ...) */
	uint8_t *bytes;   /* the root only: the copy of the payload every s points into */
};

/* Decodes exactly one object from p[0..n). 0 and *ret (free with mpv_free), or -1 with why
 * (a static string) set. */
int mpv_decode(const uint8_t *p, size_t n, struct mpv **ret, const char **why);
void mpv_free(struct mpv *v);

/* The value of key k in map m, or NULL (also when m is not a map). */
const struct mpv *mpv_get(const struct mpv *m, const char *k);
/* Whether v is a str equal to s. */
bool mpv_is_str(const struct mpv *v, const char *s);
