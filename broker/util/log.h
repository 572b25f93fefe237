/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <syslog.h>

/*
 * Logging to stderr, one line per call, with the <N> syslog priority prefix that journald
 * parses (sd-daemon.h's SD_ERR etc.). A line is formatted into a bounded buffer and written
 * with a single write(2), so lines never interleave. Never pass tokens, keys or record values.
 *
 * Functions follow "a function either logs or it does not": log_errno() returns the negative
 * errno it was given, so `return log_errno(LOG_ERR, r, "...")` logs and propagates.
 */

/* Lines above this priority (numerically greater) are dropped. Default LOG_INFO; LOG_SILENT
 * drops every line (fuzzers). */
#define LOG_SILENT (-1)
void log_set_max_level(int level);
int log_get_max_level(void);

/* Parses "emerg".."debug" (also "warn", "error", "crit"...) or a digit 0-7; -EINVAL otherwise. */
int log_level_from_name(const char *name);
const char *log_level_name(int level);

/* Whether a line at this level would be written (to skip costly formatting). */
static inline int log_enabled(int level)
{
	return level <= log_get_max_level();
}

void log_printf(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void log_vprintf(int level, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));

/* Logs fmt followed by ": <strerror(-r)>" and returns r (a negative errno). */
int log_errno(int level, int r, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/*
 * Buffered lines (the audit trail): formatted like log_printf but appended to a bounded
 * buffer that is written with one write(2) by log_flush(). Any unbuffered line flushes the
 * buffer first, so the order of lines is kept. The runtime flushes before it sends replies
 * (so an audit line is out before the reply it describes), when no reply will follow (the
 * client is gone), and at exit: a batch of pipelined requests costs one write, not one each.
 * `force` writes the line whatever the log level.
 */
void log_buffer_printf(int level, bool force, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void log_flush(void);
bool log_pending(void);

/* TEST ONLY: every line (with its "<N>" prefix, without the newline) goes to fn instead of
 * stderr; NULL restores stderr. userdata is borrowed while set. */
typedef void (*log_capture_fn)(const char *line, void *userdata);
void log_set_capture(log_capture_fn fn, void *userdata);

#define log_debug(...) log_printf(LOG_DEBUG, __VA_ARGS__)
#define log_info(...) log_printf(LOG_INFO, __VA_ARGS__)
#define log_notice(...) log_printf(LOG_NOTICE, __VA_ARGS__)
#define log_warning(...) log_printf(LOG_WARNING, __VA_ARGS__)
#define log_error(...) log_printf(LOG_ERR, __VA_ARGS__)
