/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * The log lines a test provokes on purpose (a failing attach, a refused URL, an injected
 * allocation failure) are captured and checked instead of going to stderr, where a passing
 * run would show them as `<3>` errors with no word that they were expected.
 *
 *   struct testlog tl;
 *   testlog_begin(&tl);
 *   ... the call that must log an error ...
 *   testlog_end();
 *   assert_true(testlog_has(&tl, "<3>upstream: refusing URL"));
 */

#include <stdbool.h>
#include <string.h>

#include "util/log.h"

struct testlog {
	char text[16384]; /* the lines, each ending in '\n'; later ones dropped when full */
	size_t len;
};

static inline void testlog_line(const char *line, void *userdata)
{
	struct testlog *tl = userdata;
	size_t n = strlen(line);

	if (tl->len + n + 2 > sizeof(tl->text))
		return;
	memcpy(tl->text + tl->len, line, n);
	tl->len += n;
	tl->text[tl->len++] = '\n';
	tl->text[tl->len] = '\0';
}

static inline void testlog_begin(struct testlog *tl)
{
	tl->len = 0;
	tl->text[0] = '\0';
	log_set_capture(testlog_line, tl);
}

static inline void testlog_end(void)
{
	log_set_capture(NULL, NULL);
}

static inline bool testlog_has(const struct testlog *tl, const char *needle)
{
	return strstr(tl->text, needle) != NULL;
}
