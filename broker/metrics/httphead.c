/* SPDX-License-Identifier: MIT */
/* httphead: what a metrics listener client's request head asks for (pure, fuzzed). */
#include <stdbool.h>
#include <string.h>

#include "metrics/httphead.h"

/* Whether [p, p + n) is a non-empty run of printable ASCII without a space. */
static bool token(const char *p, size_t n)
{
	if (n == 0)
		return false;
	for (size_t i = 0; i < n; i++)
		if (p[i] <= ' ' || p[i] >= 0x7f)
			return false;
	return true;
}

static bool equals(const char *p, size_t n, const char *s)
{
	return n == strlen(s) && memcmp(p, s, n) == 0;
}

enum httphead_result httphead_check(const char *in, size_t len, size_t max)
{
	const char *end = memmem(in, len, "\r\n\r\n", 4);
	const char *eol, *sp1, *sp2, *target;
	size_t n, tn;

	if (!end)
		return len >= max ? HTTPHEAD_TOO_LARGE : HTTPHEAD_INCOMPLETE;
	eol = memmem(in, (size_t)(end - in) + 2, "\r\n", 2); /* the request line's end */
	n = (size_t)(eol - in);
	sp1 = memchr(in, ' ', n);
	if (!sp1)
		return HTTPHEAD_BAD;
	sp2 = memchr(sp1 + 1, ' ', n - (size_t)(sp1 + 1 - in));
	if (!sp2)
		return HTTPHEAD_BAD;
	target = sp1 + 1;
	tn = (size_t)(sp2 - target);
	if (!token(in, (size_t)(sp1 - in)) || !token(target, tn) ||
	    (!equals(sp2 + 1, (size_t)(eol - sp2 - 1), "HTTP/1.1") &&
	     !equals(sp2 + 1, (size_t)(eol - sp2 - 1), "HTTP/1.0")))
		return HTTPHEAD_BAD;
	if (!equals(in, (size_t)(sp1 - in), "GET"))
		return HTTPHEAD_METHOD;
	if (tn < 8 || memcmp(target, "/metrics", 8) != 0 || (tn > 8 && target[8] != '?'))
		return HTTPHEAD_NOT_FOUND;
	return HTTPHEAD_METRICS;
}

const char *httphead_status(enum httphead_result r)
{
	switch (r) {
	case HTTPHEAD_TOO_LARGE:
		return "431 Request Header Fields Too Large";
	case HTTPHEAD_METHOD:
		return "405 Method Not Allowed";
	case HTTPHEAD_NOT_FOUND:
		return "404 Not Found";
	case HTTPHEAD_METRICS:
		return "200 OK";
	case HTTPHEAD_INCOMPLETE:
	case HTTPHEAD_BAD:
	default:
		return "400 Bad Request";
	}
}
