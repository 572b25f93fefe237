/* SPDX-License-Identifier: MIT */
#include "util/jsonbound.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

int jsonbound_depth(const void *text, size_t len)
{
	const unsigned char *p = text;
	int depth = 0, max = 0;
	int in_string = 0;

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
		case '[':
		case '{':
			if (depth == INT_MAX)
				return -EBADMSG;
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
	return max;
}

int jsonbound_parse(const void *text, size_t len, const struct jsonbound_limits *lim,
		    json_t **ret, json_error_t *err)
{
	json_error_t local;
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
	depth = jsonbound_depth(text, len);
	if (depth < 0) {
		(void)snprintf(err->text, sizeof(err->text), "unbalanced JSON text");
		return -EBADMSG;
	}
	if ((unsigned)depth > lim->max_depth) {
		(void)snprintf(err->text, sizeof(err->text), "JSON nesting deeper than %u",
			       lim->max_depth);
		return -EMSGSIZE;
	}
	j = json_loadb(text, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, err);
	if (!j)
		return -EBADMSG;
	*ret = j;
	return 0;
}
