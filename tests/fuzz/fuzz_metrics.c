/* SPDX-License-Identifier: MIT */
/* fuzz_metrics: libFuzzer harness for the metrics listener's request head and label escaping. */
/*
 * The input is what a client sends to metrics_listen. Checked on every input:
 *  - httphead_check over every prefix agrees with itself: once a prefix is complete (or too
 *    large) the answer never changes as more bytes come, and a complete head is only ever
 *    answered 200 when the input starts with "GET /metrics";
 *  - the input as a label value is written as one line with its quotes balanced: no raw
 *    newline, every '"' and '\\' escaped.
 */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "metrics/httphead.h"
#include "metrics/text.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define HEAD_MAX 2048u

static void check_head(const char *in, size_t size)
{
	enum httphead_result first = HTTPHEAD_INCOMPLETE;
	size_t n = size < HEAD_MAX ? size : HEAD_MAX;

	for (size_t len = 0; len <= n; len++) {
		enum httphead_result r = httphead_check(in, len, HEAD_MAX);

		if (first == HTTPHEAD_INCOMPLETE)
			first = r;
		/* the first complete answer is what the listener acts on; a head that was too
		 * large stays so */
		if (first == HTTPHEAD_TOO_LARGE)
			assert(r == HTTPHEAD_TOO_LARGE);
		if (r == HTTPHEAD_METRICS)
			assert(len >= 16 && memcmp(in, "GET /metrics", 12) == 0);
		assert(httphead_status(r) != NULL);
	}
}

static void check_label(const char *in, size_t size)
{
	char *v = malloc(size + 1);
	struct text t;
	const char *p;
	size_t len;

	if (!v)
		return;
	memcpy(v, in, size);
	v[size] = '\0'; /* a C string: the value up to its first NUL */
	text_init(&t, TEXT_MAX);
	text_sample_u64(&t, "x", (const struct text_label[]){{"l", v}}, 1, 1);
	if (!t.err) {
		p = (const char *)sb_buf_ptr(&t.b);
		len = sb_buf_len(&t.b);
		assert(len > 0 && p[len - 1] == '\n');
		assert(memchr(p, '\n', len) == p + len - 1);
		/* after x{l=" every quote is escaped until the closing one before "} 1\n" */
		for (size_t i = 5; i + 5 < len; i++)
			if (p[i] == '\\')
				i++;
			else
				assert(p[i] != '"');
	}
	text_done(&t);
	free(v);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	check_head((const char *)data, size);
	check_label((const char *)data, size);
	return 0;
}
