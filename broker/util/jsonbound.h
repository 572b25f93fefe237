/* SPDX-License-Identifier: MIT */
#pragma once

#include <stddef.h>

#include <jansson.h>

/*
 * Bounded JSON parsing of hostile text (HTTP bodies, JWT segments, JWKS, credentials.json).
 * jansson has a size-unaware parser and only a compile-time nesting cap (2048), so the text
 * is first scanned for its nesting depth and its number of values (outside strings) and its
 * size checked; only then is
 * it handed to jansson, with duplicate keys rejected (a duplicated "alg" or "iss" must not be
 * read one way by us and another way by someone else) and NUL escapes refused. jansson also
 * rejects invalid UTF-8.
 */

/* Limits of one parse. */
struct jsonbound_limits {
	size_t max_size;  /* bytes of text */
	unsigned max_depth; /* nesting of arrays/objects; the top-level value is depth 1 */
	size_t max_values;  /* values and keys (counted before parsing, an upper bound); 0: no cap */
};

#define JSONBOUND_DEFAULT_DEPTH 16u

/*
 * Parses len bytes of text. On success *ret is a new reference (caller json_decref()s).
 * Returns 0, -EMSGSIZE (too large or too deep), -EBADMSG (not JSON, invalid UTF-8, duplicate
 * key, trailing bytes). If err is non-NULL it receives jansson's message (never the text).
 */
int jsonbound_parse(const void *text, size_t len, const struct jsonbound_limits *lim,
		    json_t **ret, json_error_t *err);

/* Depth of the deepest array/object of the text (strings skipped), or -EBADMSG if unbalanced. */
int jsonbound_depth(const void *text, size_t len);

/* v's text when it is a JSON string of 1 to max bytes without an embedded NUL (usable as a C
 * string), else NULL. Borrowed from v. */
const char *jsonbound_string(const json_t *v, size_t max);
