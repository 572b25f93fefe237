/* SPDX-License-Identifier: MIT */
#pragma once

#include <stddef.h>

/*
 * The metrics listener's request-head check: pure, no I/O, so it is unit-tested and fuzzed
 * (tests/fuzz/fuzz_metrics.c). It looks at what a client sent so far, in[0..len), len <= max
 * (the head's cap), and says whether the head is complete and what to answer:
 *   - HTTPHEAD_INCOMPLETE: no "\r\n\r\n" yet and len < max: read on;
 *   - HTTPHEAD_TOO_LARGE: no end of head within max bytes (431);
 *   - HTTPHEAD_BAD: the request line is not exactly "METHOD SP TARGET SP HTTP/1.x" of
 *     printable ASCII (400);
 *   - HTTPHEAD_METHOD: not GET (405);
 *   - HTTPHEAD_NOT_FOUND: a target other than /metrics, /metrics?... (404);
 *   - HTTPHEAD_METRICS: GET /metrics (200 with the exposition).
 * Header fields are not interpreted (none changes the answer); a body is never read.
 */
enum httphead_result {
	HTTPHEAD_INCOMPLETE,
	HTTPHEAD_TOO_LARGE,
	HTTPHEAD_BAD,
	HTTPHEAD_METHOD,
	HTTPHEAD_NOT_FOUND,
	HTTPHEAD_METRICS,
};

enum httphead_result httphead_check(const char *in, size_t len, size_t max);

/* The status line's text of a result other than INCOMPLETE ("404 Not Found"). */
const char *httphead_status(enum httphead_result r);
