/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdarg.h>
#include <stddef.h>
#include <syslog.h>

/*
 * Logging for the identity/exchange/upstream modules (issue 5). These modules are built as
 * libraries that do not depend on the daemon runtime, so they log through this small shim:
 * by default a line "<N>message\n" on stderr (sd-daemon priority prefix, parsed by journald);
 * the daemon may install its own sink with idlog_set_sink() so that the lines join its log.
 *
 * Rule for callers: never pass a token, key or secret as an argument. Log a SHA-256 prefix
 * (idlog_fingerprint) or a kid instead.
 */

typedef void (*idlog_sink_t)(int priority, const char *message, void *userdata);

/* Installs a sink (NULL restores stderr). The userdata is borrowed for as long as it is set. */
void idlog_set_sink(idlog_sink_t sink, void *userdata);

/* Lines with a priority numerically above max_priority are dropped (default LOG_INFO). */
void idlog_set_max_priority(int max_priority);

void idlog(int priority, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void idlogv(int priority, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));

/*
 * Writes the first 12 hex digits of SHA-256(data) into out (which must hold 13 bytes) and
 * returns out: a fingerprint safe to log in place of a secret.
 */
const char *idlog_fingerprint(const void *data, size_t len, char out[static 13]);
