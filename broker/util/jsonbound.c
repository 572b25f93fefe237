/* SPDX-License-Identifier: MIT */
/* jsonbound: JSON parsing of hostile text with size and depth caps checked first. */
#include "util/jsonbound.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

/* One pass over the text outside strings: the deepest nesting (returned, or -EBADMSG when
 * unbalanced) and in *values an upper bound of the values and keys jansson would allocate
 * (containers, commas and colons, plus one). */
static int scan(const void *text, size_t len, size_t *values)
{
	const unsigned char *p = text;
	int depth = 0, max = 0;
	int in_string = 0;
	size_t n = 1;

	for (size_t i = 0; i < len; i++) {
		unsigned char c = p[i];

		if (in_string) {
			if (c == '\\')
				i++; /* skip the escaped character */
			else if (c == '"')
				in_string = 0;
			continue;
		}
		switch (c) {
		case '"':
			in_string = 1;
			break;
		case ',':
		case ':':
			n++;
			break;
		case '[':
		case '{':
			if (depth == INT_MAX)
				return -EBADMSG;
			n++;
			depth++;
			if (depth > max)
				max = depth;
			break;
		case ']':
		case '}':
			if (depth == 0)
				return -EBADMSG;
			depth--;
			break;
		default:
			break;
		}
	}
	if (in_string || depth != 0)
		return -EBADMSG;
	*values = n;
	return max;
}

int jsonbound_depth(const void *text, size_t len)
{
	size_t values;

	return scan(text, len, &values);
}

/* jansson's own messages quote the text near the error ("invalid token near 'abc'"), which
 * may be part of a token or a key: replace them by a fixed one per error code, keeping the
 * position. */
static void redact_error(json_error_t *err)
{
	const char *what;

	switch (json_error_code(err)) {
	case json_error_out_of_memory:
		what = "out of memory";
		break;
	case json_error_invalid_utf8:
		what = "invalid UTF-8";
		break;
	case json_error_premature_end_of_input:
		what = "premature end of input";
		break;
	case json_error_end_of_input_expected:
		what = "trailing bytes after the JSON value";
		break;
	case json_error_null_character:
	case json_error_null_byte_in_key:
		what = "NUL character";
		break;
	case json_error_duplicate_key:
		what = "duplicate object key";
		break;
	case json_error_numeric_overflow:
		what = "number out of range";
		break;
	default:
		what = "invalid JSON";
		break;
	}
	(void)snprintf(err->text, sizeof(err->text), "%s at line %d column %d", what, err->line,
		       err->column);
}

int jsonbound_parse(const void *text, size_t len, const struct jsonbound_limits *lim,
		    json_t **ret, json_error_t *err)
{
	json_error_t local;
	size_t values = 0;
	json_t *j;
	int depth;

	*ret = NULL;
	if (!err)
		err = &local;
	memset(err, 0, sizeof(*err));
	if (len > lim->max_size) {
		(void)snprintf(err->text, sizeof(err->text), "JSON text of %zu bytes exceeds %zu",
			       len, lim->max_size);
		return -EMSGSIZE;
	}
	depth = scan(text, len, &values);
	if (depth < 0) {
		(void)snprintf(err->text, sizeof(err->text), "unbalanced JSON text");
		return -EBADMSG;
	}
	if ((unsigned)depth > lim->max_depth) {
		(void)snprintf(err->text, sizeof(err->text), "JSON nesting deeper than %u",
			       lim->max_depth);
		return -EMSGSIZE;
	}
	/* A small text of many tiny values ("[{},{},...]") costs jansson ~60 bytes each. */
	if (lim->max_values && values > lim->max_values) {
		(void)snprintf(err->text, sizeof(err->text), "JSON text of more than %zu values",
			       lim->max_values);
		return -EMSGSIZE;
	}
	j = json_loadb(text, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, err);
	if (!j) {
		redact_error(err);
		return -EBADMSG;
	}
	*ret = j;
	return 0;
}

const char *jsonbound_string(const json_t *v, size_t max)
{
	const char *s;
	size_t n;

	if (!json_is_string(v))
		return NULL;
	s = json_string_value(v);
	n = json_string_length(v);
	if (n == 0 || n > max || strlen(s) != n)
		return NULL;
	return s;
}
