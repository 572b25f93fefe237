/* SPDX-License-Identifier: MIT */
/* fuzz_client_json: libFuzzer harness for libskybroker's JSON (records and fields in, results
 * out). */
/*
 * The input is JSON text as a caller might pass for records or fields. It is parsed as an
 * array and as an object; whatever parses is rendered (compact and pretty), and the compact
 * rendering must parse again and render to the same text.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "client/lib/internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Renders d's tree into a new NUL-terminated string (caller frees), or NULL. */
static char *render(const struct json_doc *d, bool pretty)
{
	struct sb_buf out;
	char *s = NULL;

	sb_buf_init(&out, 64u << 20);
	if (json_render(json_doc_root(d), pretty, 0, &out) == 0)
		s = strndup((const char *)sb_buf_ptr(&out), sb_buf_len(&out));
	sb_buf_free(&out);
	return s;
}

static void one(const char *text, msgpack_object_type want)
{
	struct json_doc *d = NULL, *again = NULL;
	char why[160], *compact, *pretty, *second;

	if (json_parse(text, want, &d, why, sizeof(why)) < 0)
		return;
	compact = render(d, false);
	pretty = render(d, true);
	if (!compact || !pretty)
		abort(); /* a parsed tree always renders */
	if (json_parse(compact, want, &again, why, sizeof(why)) < 0)
		abort(); /* what we render we parse */
	second = render(again, false);
	if (!second || strcmp(second, compact) != 0)
		abort(); /* and it is stable */
	free(compact);
	free(pretty);
	free(second);
	json_doc_free(again);
	json_doc_free(d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text;

	if (size > SKYBROKER_MAX_JSON_IN + 1)
		return 0;
	text = malloc(size + 1);
	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0'; /* embedded NULs simply end the text, as for a C caller */
	one(text, MSGPACK_OBJECT_ARRAY);
	one(text, MSGPACK_OBJECT_MAP);
	free(text);
	return 0;
}
