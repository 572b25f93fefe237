/* SPDX-License-Identifier: MIT */
#pragma once

#include <stddef.h>

#include "util/log.h"

/*
 * Private to util/log.c: rendering one message or record in each format (log.h). Each writes
 * into a caller's buffer and never overflows it; what does not fit is cut at a boundary that
 * keeps the output well-formed (a logfmt value keeps its quotes, a JSON string its escapes
 * and the object its braces).
 */

#define LOGREC_JSON_MAX (16u * 1024u) /* a JSON line with LOG_RECORD_MAX_FIELDS fields */
#define LOGREC_VALUE_MAX 800u          /* bytes of one value, escaped, in text and JSON */

/* "tag: key=value key=value" (no prefix, no newline) into out; returns its length. */
size_t logrec_text(char *out, size_t size, const char *tag, const struct log_field *f, size_t n);

/* One JSON object and a newline: time, level, priority, message (msg), then the fields.
 * Returns its length. size must be at least LOGREC_JSON_MAX. */
size_t logrec_json(char *out, size_t size, int level, const char *msg, const struct log_field *f,
		   size_t n);

/* One journal entry: MESSAGE=msg, PRIORITY, SYSLOG_IDENTIFIER, SKYBROKER_* fields. Returns
 * sd_journal_sendv's result. */
int logrec_journal(int level, const char *msg, const struct log_field *f, size_t n);
